#!/bin/bash
# make demo-2host's script: two guests, RDMA between their carved devices,
# both transfers verified on the host.
. "$(dirname "$0")/../common"
skip_if_rxe_on_virtio_broken
out=$("$TOP/scripts/demo-2host.sh" 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/# /'
check_eq "demo-2host exits 0" 0 "$rc"
check_match "host a's RDMA WRITE from DRAM read back and compared" \
	'ok - r:0:0:0:8388608:11: 8388608 bytes read and compared' "$out"
check_match "host b: 8 MiB from host a verified on the host" \
	'host b: 8388608 bytes in [^ ]*/b/card0.bar: verified' "$out"
check_match "host a: 4 MiB from host b's device verified on the host" \
	'host a: 4194304 bytes in [^ ]*/a/card0.bar: verified' "$out"
check_match "the tenant owns its node" 'crw------- 1 tenant root' "$out"

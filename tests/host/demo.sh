#!/bin/bash
# make demo's main script: two tenants carved with p2pctl, RDMA into one,
# NVMe DMA into the other, both verified in the host backing file.
. "$(dirname "$0")/../common"
out=$("$TOP/scripts/demo.sh" 2>&1) && rc=0 || rc=$?
check_eq "demo exits 0" 0 "$rc"
check_match "demo shows the region's attributes" '"size": 268435456' "$out"
check_match "tenant 1 owns its node" 'crw------- 1 tenant1 root' "$out"
check_match "tenant 2 owns its node" 'crw-rw---- 1 tenant2 tenant2' "$out"
check_match "RDMA write into tenant 1 verified on the host" 'p2pdax0\.0 \(owner tenant1\): RDMA-write of 8388608 bytes at device offset 0x40007b: verified' "$out"
check_match "NVMe read into tenant 2 verified on the host" 'p2pdax0\.1 \(owner tenant2\): NVMe-read of 16777216 bytes at device offset 0x100000: verified' "$out"
check_match "p2pctl list -M -u in human units" '"available_size": "160.00 MiB"' "$out"
# the host check is real: corrupt one byte of tenant 1's range and recheck
f=$TOP/build/vm/demo/card0.bar
printf '\xff' | dd of="$f" bs=1 seek=$((0x40007b + 4096)) conv=notrunc status=none
check "a corrupted byte is caught by the host-side check" sh -c "! '$TOP/build/tests/p2pmap' fcheck '$f' $((0x40007b)) 8388608 101 $((0x40007b)) >/dev/null"

#!/bin/bash
# The guest half of `make demo` (runs inside run-vm).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../tests/common
. "$TOP/tests/common"
trap - EXIT
P=$TOP/tools/p2pctl/p2pctl
read -r addr file size <"$IOPMEM_CARDS"
M=$MiB

# two tenants (only in this guest: the root is a tmpfs overlay)
echo "tenant1:x:1001:1001::/nonexistent:/usr/sbin/nologin" >>/etc/passwd
echo "tenant2:x:1002:1002::/nonexistent:/usr/sbin/nologin" >>/etc/passwd
echo "tenant1:x:1001:" >>/etc/group
echo "tenant2:x:1002:" >>/etc/group

echo "== card $addr: $((size >> 20)) MiB BAR, backed by $file on the host"
insmod "$KO_DAX"
insmod "$KO_IOPMEM"
echo "\$ p2pctl bind $addr"
"$P" bind "$addr"
echo "\$ p2pctl create-device -r 0 -s 64M --owner tenant1 --mode 0600"
t1=$("$P" create-device -r 0 -s 64M --owner tenant1 --mode 0600 | python3 -c 'import json,sys; print(json.load(sys.stdin)["chardev"])')
echo "\$ p2pctl create-device -r 0 -s 32M -a 4K --owner tenant2 --group tenant2 --mode 0660"
t2=$("$P" create-device -r 0 -s 32M -a 4K --owner tenant2 --group tenant2 --mode 0660 | python3 -c 'import json,sys; print(json.load(sys.stdin)["chardev"])')
ls -l "/dev/$t1" "/dev/$t2" | sed 's/^/   /'

# pieces DEV OFF LEN: "BAR_OFFSET DEVICE_OFFSET BYTES" per extent piece
pieces() {
	local d=$1 off=$2 len=$3 base r pg s e lo hi
	base=$(($(region_attr "$addr" resource)))
	while read -r r pg; do
		s=$((${r%-*})) e=$((${r#*-}))
		lo=$((pg * 4096)) hi=$((lo + e - s + 1))
		[ "$hi" -le "$off" ] || [ "$lo" -ge $((off + len)) ] && continue
		[ "$lo" -lt "$off" ] && lo=$off
		[ "$hi" -gt $((off + len)) ] && hi=$((off + len))
		echo "$((s - base + lo - pg * 4096)) $lo $((hi - lo))"
	done < <(dattr "$d" extents) >"$IOPMEM_RESULTS/$d.pieces"
}

echo
echo "== tenant 1: RDMA WRITE over soft-RoCE (rxe0) from DRAM into /dev/$t1"
rxe_setup >/dev/null
# a tenant registering memory needs RLIMIT_MEMLOCK as large as its MRs
ulimit -l unlimited
setpriv --reuid=1001 --regid=1001 --clear-groups \
	"$BIN/p2prdma" -s $((8 * M)) -o $((4 * M + 123)) -S 101 write "/dev/$t1" | sed 's/^/   /'
pieces "$t1" $((4 * M + 123)) $((8 * M))
echo "tenant1 $t1 tenant1 RDMA-write 101 $((4 * M + 123)) $((8 * M))" >"$IOPMEM_RESULTS/manifest"

echo "== tenant 2: NVMe O_DIRECT read from /dev/nvme0n1 into /dev/$t2"
modprobe nvme
for _ in $(seq 50); do [ -b /dev/nvme0n1 ] && break; sleep 0.1; done
# the drive's bytes, written with O_DIRECT (not through its page cache: on
# the 7.3 debug kernel a mapped fill of /dev/nvme0n1 reached the disk only
# for its first 64 KiB, sync and drop_caches notwithstanding)
blk_fill /dev/nvme0n1 $((1 * M)) $((16 * M)) 202
echo 3 >/proc/sys/vm/drop_caches
chmod 0666 /dev/nvme0n1
setpriv --reuid=1002 --regid=1002 --clear-groups \
	"$BIN/p2pmap" dio read "/dev/$t2" $((1 * M)) $((16 * M)) /dev/nvme0n1 $((1 * M))
echo "   read ok: $((16 * M)) bytes at 0x100000"
pieces "$t2" $((1 * M)) $((16 * M))
echo "tenant2 $t2 tenant2 NVMe-read 202 $((1 * M)) $((16 * M))" >>"$IOPMEM_RESULTS/manifest"

echo
echo "\$ p2pctl list -M -u"
"$P" list -M -u

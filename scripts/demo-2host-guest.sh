#!/bin/bash
# The guest half of `make demo-2host`: runs in both guests of run-2host.
# Each host binds its card and carves a 16 MiB device for a tenant; host a
# RDMA-WRITEs from its DRAM into host b's device and READs it back; then
# host b RDMA-WRITEs from its device (the DMA source) into host a's.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../tests/common
. "$TOP/tests/common"
trap - EXIT
P=$TOP/tools/p2pctl/p2pctl
read -r addr _ size <"$IOPMEM_CARDS"
M=$MiB
export HOST_VERIFY=$IOPMEM_RESULTS/verify
: >"$HOST_VERIFY"
echo "tenant:x:1001:1001::/nonexistent:/usr/sbin/nologin" >>/etc/passwd
echo "tenant:x:1001:" >>/etc/group
tenant() { setpriv --reuid=1001 --regid=1001 --clear-groups "$@"; }
ulimit -l unlimited

echo "== host $IOPMEM_ROLE ($IOPMEM_MY_IP): rxe0 over the link to $IOPMEM_PEER_IP"
net_setup
insmod "$KO_DAX"
insmod "$KO_IOPMEM"
"$P" bind "$addr" >/dev/null
echo "\$ p2pctl create-device -r 0 -s 16M --owner tenant --mode 0600"
dev=$("$P" create-device -r 0 -s 16M --owner tenant --mode 0600 | jq -r .chardev)
ls -l "/dev/$dev" | sed 's/^/   /'
echo "   card $addr ($((size >> 20)) MiB BAR)"

if [ "$IOPMEM_ROLE" = b ]; then
	echo "== serving /dev/$dev to host a (its tenant's rkey only)"
	tenant "$BIN/p2pnet" serve 7001 "/dev/$dev" | sed 's/^/   /'
	check_range "$addr" "$dev" 11 0 $((8 * M)) >/dev/null
	echo "   host a's 8 MiB are in this card's host file"
	echo "== RDMA WRITE from /dev/$dev (the source) into host a's device"
	tenant "$BIN/p2pmap" fill "/dev/$dev" $((8 * M)) $((4 * M)) 13
	tenant "$BIN/p2pnet" connect "/dev/$dev" "$IOPMEM_PEER_IP:7002" W:0:0:$((8 * M)):$((4 * M)) |
		sed 's/^/   /'
else
	tenant "$BIN/p2pnet" serve 7002 "/dev/$dev" >/run/iopmem/serve.log &
	srv=$!
	echo "== RDMA WRITE 8 MiB from DRAM into host b's device, READ it back"
	tenant "$BIN/p2pnet" connect anon:$((16 * M)) "$IOPMEM_PEER_IP:7001" \
		w:0:0:0:$((8 * M)):11 r:0:0:0:$((8 * M)):11 | sed 's/^/   /'
	wait "$srv"
	check_range "$addr" "$dev" 13 $((8 * M)) $((4 * M)) >/dev/null
	echo "== host b's 4 MiB from its device are in this card's host file"
fi

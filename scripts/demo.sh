#!/bin/bash
# make demo: boot the QEMU testbed with one 256 MiB card and a NVMe drive,
# bind the card and carve two tenant devices with p2pctl, RDMA-write into
# tenant 1 and NVMe-DMA into tenant 2, then verify both on the host, in the
# card's backing file, outside the guest.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
out=$TOP/build/vm/demo
rc=0
"$TOP/scripts/qemu/run-vm" --outdir "$out" --bar 256M --nvme 64M -- \
	"$TOP/scripts/demo-guest.sh" || rc=$?
if [ "$rc" != 0 ]; then
	echo "demo: the guest failed (exit $rc); console log: $out/console.log" >&2
	exit "$rc"
fi

echo
echo "== verification on the host, in $out/card0.bar"
status=0
while read -r name dev owner what seed off len; do
	ok=yes compared=0
	while read -r foff doff n; do
		"$TOP/build/tests/p2pmap" fcheck "$out/card0.bar" "$foff" "$n" "$seed" "$doff" >/dev/null || ok=NO
		compared=$((compared + n))
		printf '   %-8s %-10s BAR offset %#010x: %8d bytes of device offset %#x\n' \
			"$name" "$dev" "$foff" "$n" "$doff"
	done <"$out/results/$dev.pieces"
	# every byte of the transfer must have been compared, not just some
	if [ "$compared" != "$len" ]; then
		echo "   $name $dev: compared $compared bytes of the $len transferred" >&2
		ok=NO
	fi
	printf '   %-8s %s (owner %s): %s of %d bytes at device offset %#x: %s\n' \
		"$name" "$dev" "$owner" "$what" "$len" "$off" \
		"$([ $ok = yes ] && echo verified || echo MISMATCH)"
	[ $ok = yes ] || status=1
done <"$out/results/manifest"
exit $status

#!/bin/bash
# RDMA between two hosts into carved devices (scripts/qemu/run-2host; the
# guest half is tests/2host/peer.sh): each guest's checks, then every byte
# check the guests made of their card files repeated here, on the host.
. "$(dirname "$0")/../common"
skip_if_rxe_on_virtio_broken
out=$TOP/build/vm/two-host
rm -rf "$out"
rc=0
"$TOP/scripts/qemu/run-2host" -q --outdir "$out" --bar 256M -- \
	"$TOP/tests/tap-run" "$TOP/tests/2host/peer.sh" || rc=$?
for g in a b; do
	echo "# host $g:"
	sed 's/^/#   /' "$out/$g/output.log" 2>/dev/null || echo "#   (no output: $out/$g/console.log)"
done
check_eq "both guests pass (run-2host exit status)" 0 "$rc"
for g in a b; do
	n=$(grep -cE '^    ok [0-9]+' "$out/$g/output.log" 2>/dev/null || true)
	f=$(grep -cE '^    not ok [0-9]+' "$out/$g/output.log" 2>/dev/null || true)
	check_eq "host $g: no check failed" 0 "$f"
	check "host $g: its checks ran ($n passed)" test "$n" -ge 5
done

# the guests' byte checks again, from the host: FILE OFF LEN SEED DEVOFF
for g in a b; do
	total=0 bad=0
	check "host $g's guest recorded its byte checks (results/verify)" test -s "$out/$g/results/verify"
	[ -s "$out/$g/results/verify" ] || continue
	while read -r file off len seed devoff; do
		"$TOP/build/tests/p2pmap" fcheck "$file" "$off" "$len" "$seed" "$devoff" >/dev/null ||
			{ bad=$((bad + 1)); continue; }
		total=$((total + len))
	done <"$out/$g/results/verify"
	check_eq "host $g's card file, read on the host: no range differs" 0 "$bad"
	diag "host $g: $total bytes compared on the host"
	[ "$g" = a ] && want=$((8 << 20)) || want=$(((16 + 16 + 16 + 8) << 20))
	check_eq "host $g: every range its guest checked, compared ($want bytes)" "$want" "$total"
done
# the host check is real: one flipped byte in b's card file is caught
file=/nonexistent off=0 len=2 seed=0 devoff=0
[ ! -s "$out/b/results/verify" ] || read -r file off len seed devoff <"$out/b/results/verify"
printf '\xa5' | dd of="$file" bs=1 seek=$((off + len / 2)) conv=notrunc status=none
check "a corrupted byte in host b's card file is caught" \
	sh -c "! '$TOP/build/tests/p2pmap' fcheck '$file' $off $len $seed $devoff >/dev/null"

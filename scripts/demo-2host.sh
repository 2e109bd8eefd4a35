#!/bin/bash
# make demo-2host: two QEMU guests on one link (scripts/qemu/run-2host), a
# card in each, RDMA between their carved devices over soft-RoCE; every
# transferred byte then checked on the host, in the cards' backing files.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
out=$TOP/build/vm/demo-2host
rc=0
"$TOP/scripts/qemu/run-2host" -q --outdir "$out" --bar 256M -- \
	"$TOP/scripts/demo-2host-guest.sh" || rc=$?
for g in b a; do
	echo
	cat "$out/$g/output.log" 2>/dev/null || true
done
if [ "$rc" != 0 ]; then
	echo "demo-2host: a guest failed (exit $rc); consoles: $out/a/console.log $out/b/console.log" >&2
	exit "$rc"
fi

echo
echo "== verification on the host"
status=0
for g in b a; do
	total=0 ok=verified
	while read -r file off len seed devoff; do
		"$TOP/build/tests/p2pmap" fcheck "$file" "$off" "$len" "$seed" "$devoff" >/dev/null || ok=MISMATCH
		total=$((total + len))
	done <"$out/$g/results/verify"
	[ "$total" -gt 0 ] || ok=MISMATCH
	want=$((8 << 20))
	[ "$g" = a ] && want=$((4 << 20))
	[ "$total" = "$want" ] || ok=MISMATCH
	printf '   host %s: %d bytes in %s: %s\n' "$g" "$total" "$out/$g/card0.bar" "$ok"
	[ "$ok" = verified ] || status=1
done
exit $status

#!/bin/bash
# make bench QUICK=1 runs in one guest and prints every row (P1-P11), for
# p2pdax and the upstream device-dax anchor where it has an equivalent.  No
# figure is judged.
. "$(dirname "$0")/../common"
cd "$TOP"
# figures from a lockdep/KASAN kernel measure the debugging, not iopmem;
# the paths the bench runs are in the guest tests, which do run there
[ -n "${IOPMEM_BENCH_OUTPUT:-}" ] ||
case $(scripts/kver.sh kver 2>/dev/null) in
*-iopmem-debug) skip_all --here "no bench on the debug kernel (figures would measure KASAN and lockdep)" ;;
esac
# (IOPMEM_BENCH_OUTPUT=FILE: judge FILE, a saved run, instead of running
# the bench: tests/host/harness.sh plants faults in one)
if [ -n "${IOPMEM_BENCH_OUTPUT:-}" ]; then
	out=$(<"$IOPMEM_BENCH_OUTPUT") saved=$IOPMEM_BENCH_OUTPUT
else
	rc=0
	out=$(QUICK=1 bench/run 2>/dev/null) || rc=$?
	check_eq "make bench QUICK=1 exits 0" 0 "$rc"
	saved=bench/results/latest.txt
fi
check "results saved to $saved" test -s "$saved"
kv=$(sed -n 's/^kernel \([^ ,]*\),.*/\1/p' <<<"$out")
check_match "the results name their kernel ($kv)" '^[0-9]+\.[0-9]+' "$kv"
for id in P1 P2 P3 P4 P5 P6 P7; do
	n=$(echo "$out" | grep -cE "^csv,$id,\"[^\"]+\",[0-9.]+,[0-9.]+,[0-9.]+," || true)
	check "row $id printed with numbers for both columns ($n rows)" test "$n" -ge 1
done
check_eq "P3: every bandwidth is above zero (perftest ran)" 0 \
	"$(echo "$out" | awk -F, '/^csv,P3,/ && ($4 + 0 <= 0 || $5 + 0 <= 0)' | wc -l)"
for id in P9 P10; do
	n=$(echo "$out" | grep -cE "^csv,$id,\"[^\"]+\",-?[0-9.]+,n/a," || true)
	check "row $id printed with a p2pdax number ($n rows)" test "$n" -ge 1
done
# (at 1G both columns are about 0: a difference of free memory, which the
# kernel's own allocations meanwhile can make slightly negative, -.03)
check_eq "P8 at min_align 4K, 2M and 1G, both columns" 3 \
	"$(echo "$out" | grep -cE '^csv,P8,"[^"]+min_align (4K|2M|1G)[^"]*",-?[0-9.]+,-?[0-9.]+,' || true)"
check_eq "P9 at min_align 4K, 2M and 1G" 3 "$(echo "$out" | grep -c '^csv,P9,' || true)"
check_eq "P4 for a 4K-capable and a 2M-minimum region" 2 "$(echo "$out" | grep -c '^csv,P4,' || true)"
# 6.15+ adds one P1 row: what 2 MiB alignment costs on a 4K region there
extra=$(echo "$out" | grep -c '^csv,P1,"[^"]*min_align 4K region (6.15+: 4 KiB entries)"' || true)
want=0
maps_refcounted "${kv:-0.0}" && want=1
check_eq "P1 rows for a 4K region at 2M: $want on $kv" "$want" "$extra"
if [ "$extra" = 1 ]; then
	check_eq "...which takes 4 KiB entries (262144 faults per GiB)" 262144 \
		"$(echo "$out" | awk -F, '/^csv,P1,"[^"]*min_align 4K region/ { print $4 }')"
fi
# P11: edu sits beside the cards under one switch, so every kernel maps
# its dma-buf (by upstream's P2PDMA rules on 7.2/7.3): both columns
check_eq "P11: dma-buf and pinned mapping setup, both measured" 1 \
	"$(echo "$out" | grep -cE '^csv,P11,"[^"]+",[0-9.]+,[0-9.]+,[0-9.]+,' || true)"
check_eq "$((23 + want)) CSV rows" $((23 + want)) "$(echo "$out" | grep -c '^csv,P')"
# (a row that is missing reads as "" in both columns: it must be there)
p1=$(echo "$out" | awk -F, '/^csv,P1,"faults to touch 1024 MiB at align 2M"/ { print $4 " " $5 }')
if maps_huge "${kv:-0.0}"; then
	check_match "P1 at 2M counts the same faults for both systems ($p1)" '^([1-9][0-9]*) \1$' "$p1"
else
	check_match "P1 at 2M before 6.5: 4 KiB entries for p2pdax, 2 MiB ones for device-dax ($p1)" \
		'^262144 512$' "$p1"
fi

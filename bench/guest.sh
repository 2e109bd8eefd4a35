#!/bin/bash
# The guest half of `make bench` (runs inside run-vm, see bench/run).
# Every figure is measured for p2pdax and, in the same boot, for upstream
# device-dax on legacy pmem (memmap=SIZE!OFFSET, ndctl devdax), and printed
# as a ratio.  QUICK=1 shrinks sizes and repetitions.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../tests/common
. "$TOP/tests/common"
trap - EXIT ERR
set +e
PB=$BIN/p2pbench
Q=${QUICK:-0}
REPS=5
[ "$Q" = 1 ] && REPS=3
M=$MiB G=$GiB
OUT=$IOPMEM_RESULTS/bench.txt
: >"$OUT"

rows=()
# row ID MEASURE P2PDAX DEVDAX [SPREAD]: one table line (ratio computed)
row() {
	local ratio=n/a
	if [[ $3 =~ ^[0-9.]+$ ]] && [[ $4 =~ ^[0-9.]+$ ]] && [ "$(echo "$4 > 0" | bc)" = 1 ]; then
		ratio=$(echo "scale=3; $3 / $4" | bc | sed 's/^\./0./')
	fi
	rows+=("$1|$2|$3|$4|$ratio|${5:-}")
	echo "bench: $1 $2: p2pdax=$3 device-dax=$4 ratio=$ratio ${5:-}" >&2
}
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p"; }
spread() { echo "$1" | awk '{ for (i = 1; i <= NF; i++) { split($i, a, "="); v[a[1]] = a[2] } print v["'"$2"'_min"] "-" v["'"$2"'_max"] }'; }

# ---- setup: a 2 GiB card, and device-dax namespaces at 1G, 2M and 4K ----------
a=$(card 0)
p2p_load
p2p_bind "$a" || { echo "bench: cannot bind the card" >&2; exit 1; }
R=$(region_dir "$a")
modprobe -a nd_e820 nd_pmem dax_pmem device_dax
sleep 1
declare -A DAX=() DAXMEM=()
# Free memory in KiB, page cache dropped first: the zones' free pages plus
# the pages the per-CPU lists hold (MemFree leaves those out, and they hide
# allocations of a few hundred pages)
mem_free() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	awk '$1 == "nr_free_pages" || $1 == "count:" { n += $2 } END { print n * 4 }' /proc/zoneinfo
}
# the raw pmem namespaces have struct pages of their own: gone first
ndctl disable-namespace all >/dev/null 2>&1
i=0
for al in 1G 2M 4K; do
	# P8's device-dax column: DRAM per GiB of a namespace whose struct pages
	# are in DRAM (-M mem), compound at 2M and 1G (vmemmap_shift)
	f0=$(mem_free)
	if ns=$(ndctl create-namespace -f -e namespace$i.0 -m devdax -a $al -M mem 2>/dev/null); then
		f1=$(mem_free)
		sz=$(echo "$ns" | jq -r '.size // empty')
		echo "bench: device-dax namespace$i.0 at $al: $sz bytes, MemFree $f0 -> $f1 KiB" >&2
		[ -n "$sz" ] && DAXMEM[$al]=$(echo "scale=2; ($f0 - $f1) / 1024 / ($sz / 1073741824)" | bc | sed 's/^\./0./')
	else
		echo "bench: device-dax namespace$i.0 at $al failed" >&2
	fi
	i=$((i + 1))
done
while read -r dev al; do DAX[$al]=/dev/$dev; done < <(daxctl list |
	python3 -c 'import json,sys; [print(d["chardev"], d["align"]) for d in json.load(sys.stdin)]')
dax() { echo "${DAX[$1]:-none}"; }

# new_dev ALIGN SIZE: carve a device, print its name
# (builtins only: P2 carves 130 devices, and an exec costs about 0.2 s under TCG)
new_dev() {
	local d
	read -r d <"$R/seed"
	echo "$1" >"/sys/class/p2pdax/$d/align" && echo "$2" >"/sys/class/p2pdax/$d/size" && echo "$d"
}
del_dev() { echo 0 >"/sys/class/p2pdax/$1/size"; echo "$1" >"$R/delete"; }

# ---- P1: faults to touch 1 GiB --------------------------------------------------------
# From 6.15 a 2 MiB entry maps only a 2 MiB compound page (design.rst): the
# 2M and 1G rows are measured on the card bound with min_align=2M there, and
# one more row says what the default (4K) region costs at 2M.
p1() {
	local b=$1 n=$2 len=$G what=${3:-} d f1 f2
	[ "$Q" = 1 ] && [ "$n" = 4K ] && len=$((256 * M))
	d=$(new_dev "$b" "$len")
	f1=$("$PB" faults "/dev/$d" "$len" | kv faults)
	del_dev "$d"
	f2=$("$PB" faults "$(dax $b)" "$len" | kv faults)
	row P1 "faults to touch $((len / M)) MiB at align $n$what" "$f1" "$f2"
}
p1 4096 4K
if maps_refcounted; then
	p1 2097152 2M " on a min_align 4K region (6.15+: 4 KiB entries)"
	p2p_unbind "$a"
	echo 2M >/sys/module/iopmem/parameters/min_align
	p2p_bind "$a" || { echo "bench: cannot bind the card at min_align 2M" >&2; exit 1; }
fi
p1 2097152 2M
p1 1073741824 1G
if maps_refcounted; then
	p2p_unbind "$a"
	echo 4K >/sys/module/iopmem/parameters/min_align
	p2p_bind "$a" || { echo "bench: cannot bind the card again" >&2; exit 1; }
fi

# ---- P2: time per fault, 1 extent vs 64 extents (align 4K) -----------------------------
len=$((256 * M)) piece=$((4 * M))
[ "$Q" = 1 ] && len=$((64 * M)) piece=$M
one=$(new_dev 4096 "$len")
fill=()
for ((k = 0; k < 128; k++)); do fill+=("$(new_dev 4096 "$piece")"); done
for ((k = 0; k < 128; k += 2)); do del_dev "${fill[$k]}"; done
many=$(new_dev 4096 "$len")
ne=$(nr_extents "$many")
# one untimed pass first: memory is zeroed in its first fault (P6), and P2
# is about the lookup
"$PB" faults "/dev/$one" "$len" >/dev/null
"$PB" faults "/dev/$many" "$len" >/dev/null
t1=() t64=() td=()
# seven interleaved passes even in quick mode: a pass is short, and TCG's
# timing is noisy (a 64 MiB pass takes about a second)
for ((k = 0; k < 7; k++)); do
	t1+=("$("$PB" faults "/dev/$one" "$len" | kv ns_per_fault)")
	t64+=("$("$PB" faults "/dev/$many" "$len" | kv ns_per_fault)")
	td+=("$("$PB" faults "$(dax 4096)" "$len" | kv ns_per_fault)")
done
med() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
rng() { printf '%s\n' "$@" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'; }
row P2 "ns per fault, 1 extent (device-dax: 1 mapping)" "$(med "${t1[@]}")" "$(med "${td[@]}")" "spread $(rng "${t1[@]}") / $(rng "${td[@]}")"
row P2 "ns per fault, $ne extents vs 1 extent (p2pdax only)" "$(med "${t64[@]}")" "$(med "${t1[@]}")" "spread $(rng "${t64[@]}")"
del_dev "$one"
del_dev "$many"
for ((k = 1; k < 128; k += 2)); do del_dev "${fill[$k]}"; done

# ---- P3: perftest bandwidth through rxe -------------------------------------------------
rxe_setup >/dev/null 2>&1
iters=200
[ "$Q" = 1 ] && iters=20
# perf TOOL [MMAP_DEV]: MB/s of one perftest run.  Only a run that failed
# setting up its connection (tests/common's perftest_retryable), or one that
# moved its data but measured nothing (perf_unmeasured), is tried again, up
# to three times; any other failure is the figure "failed" (and fails
# tests/host/bench.sh's P3 check), its output shown
perf() {
	local k v log
	for k in 1 2 3; do
		v=$(perf_once "$@")
		[[ $v =~ ^[0-9.]+$ ]] && [ "$(echo "$v > 0" | bc)" = 1 ] && { echo "$v"; return; }
		echo "bench: $1 ${2:-DRAM} try $k gave no figure:" >&2
		log=$(<"$IOPMEM_RESULTS/perf.log")
		sed 's/^/bench:   /' <<<"$log" >&2
		perftest_retryable "$log" || perf_unmeasured "$log" || break
	done
	echo failed
}
# perf_unmeasured OUTPUT: every iteration ran, no registration, data or
# completion failure, and the bandwidth came out 0.00: perftest's clock
# failed (its cycles-per-microsecond estimate, "r^2 < 0.9" under a loaded
# TCG guest; seen in CI), not the buffer
perf_unmeasured() {
	! grep -qE -- "$PERFTEST_DATA_FAIL" <<<"$1" &&
		grep -qE '^ *[0-9]+ +[0-9]+ +0\.00 +0\.00' <<<"$1"
}
perf_once() {	# perf_once TOOL [MMAP_DEV]; both sides' output in perf.log
	local srv mm=() out
	[ -n "${2:-}" ] && mm=(--mmap="$2")
	timeout 600 "$1" -d rxe0 -x 1 -F -s $M -n $iters "${mm[@]}" >"$IOPMEM_RESULTS/perf-srv.log" 2>&1 &
	srv=$!
	for _ in 1 2 3 4 5 6 7 8 9 10; do	# until the server listens
		sleep 1
		out=$(timeout 300 "$1" -d rxe0 -x 1 -F -s $M -n $iters 192.0.2.1 2>&1)
		[[ $out == *"Couldn't connect to"* ]] || break
	done
	wait "$srv"
	{ echo "client:"; echo "$out"; echo "server:"; cat "$IOPMEM_RESULTS/perf-srv.log"; } \
		>"$IOPMEM_RESULTS/perf.log"
	echo "$out" | awk '$1 == 1048576 { print $4 }'
}
medf() { if [[ " $* " == *" failed "* ]]; then echo failed; else med "$@"; fi; }
d=$(new_dev 2097152 $((2 * M)))
for t in ib_write_bw ib_read_bw; do
	c=() x=() r=()
	for ((k = 0; k < (Q == 1 ? 1 : 3); k++)); do
		c+=("$(perf $t "/dev/$d")")
		x+=("$(perf $t "$(dax 2097152)")")
		r+=("$(perf $t)")
	done
	# (one failed run makes the figure "failed", not a median of the rest)
	row P3 "$t MB/s into carved vs device-dax" "$(medf "${c[@]}")" "$(medf "${x[@]}")" "spread $(rng "${c[@]}") / $(rng "${x[@]}")"
	row P3 "$t MB/s into carved vs DRAM" "$(medf "${c[@]}")" "$(medf "${r[@]}")" "DRAM spread $(rng "${r[@]}")"
done
del_dev "$d"

# ---- P4: ibv_reg_mr of 1 GiB ------------------------------------------------------------
d=$(new_dev 2097152 "$G")
"$PB" faults "/dev/$d" "$G" >/dev/null	# zeroed first (P6): P4 is the registration
o1=$("$PB" regmr "/dev/$d" "$G" "$REPS")
o2=$("$PB" regmr "$(dax 2097152)" "$G" "$REPS")
p4_4k=$(echo "$o1" | kv us_median)
row P4 "ibv_reg_mr of 1 GiB, us" "$(echo "$o1" | kv us_median)" "$(echo "$o2" | kv us_median)" "spread $(spread "$o1" us) / $(spread "$o2" us)"

# ---- P7: memcpy into the mapping; P6: scrub vs memset ----------------------------------------
len=$((256 * M))
[ "$Q" = 1 ] && len=$((64 * M))
o1=$("$PB" memcpy "/dev/$d" "$len" "$REPS")
o2=$("$PB" memcpy "$(dax 2097152)" "$len" "$REPS")
row P7 "memcpy MB/s into the mapping ($((len / M)) MiB)" "$(echo "$o1" | kv MBps_median)" "$(echo "$o2" | kv MBps_median)" "spread $(spread "$o1" MBps) / $(spread "$o2" MBps)"
o2=$("$PB" memset "/dev/$d" "$len" "$REPS")
del_dev "$d"
d=$(new_dev 2097152 0 2>/dev/null || cat "$R/seed")
o1=$("$PB" grow "$(dsys "$d")/size" "/dev/$d" "$len" "$REPS")
row P6 "scrub (grow + first touch of $((len / M)) MiB) vs user memset, MB/s" "$(echo "$o1" | kv MBps_median)" "$(echo "$o2" | kv MBps_median)" "spread $(spread "$o1" MBps) / $(spread "$o2" MBps)"

# ---- P5: provisioning cost ---------------------------------------------------------------------
declare -A pc=() pd=()
for n in 100 1000; do
	o=$("$PB" provision "$R" "$n")
	pc[$n]=$(echo "$o" | kv us_per_create)
	pd[$n]=$(echo "$o" | kv us_per_delete)
done
row P5 "us per create, N=1000 vs N=100 (p2pdax only)" "${pc[1000]}" "${pc[100]}"
row P5 "us per delete, N=1000 vs N=100 (p2pdax only)" "${pd[1000]}" "${pd[100]}"

# ---- P8-P10, P4 again: large cards, compound devmaps, the index --------------------------------
# card 1 is 1 GiB and card 2 64 GiB (bench/run).  P8: DRAM a bind and a
# whole-card device cost per GiB of card, by min_align; P9: bind time of the
# 64 GiB card / the 1 GiB card; P10: DRAM a 64 GiB 4K-aligned device takes
# beyond its zero-size self (the extents are the index).
big=$(card 2) small=$(card 1)
P=/sys/module/iopmem/parameters
if [ -z "$big" ] || [ -z "$small" ]; then
	# on real hardware: list a small and a large card after the first one
	echo "bench: P8-P10 need cards 1 and 2 in \$IOPMEM_CARDS (a small and a large one)" >&2
	for n in 4K 2M 1G; do
		row P8 "DRAM MiB per GiB of card, min_align $n (no large card)" n/a "${DAXMEM[$n]:-n/a}"
	done
else
	# bind_cost N: bind card N, then give one device all of it; prints
	# "KIB_PER_GIB BIND_SECONDS"
	bind_cost() {
		local f0 f1 t0 t1 d c size gib
		c=$(card "$1")
		size=$(card_size "$1")
		gib=$((size >> 30))
		f0=$(mem_free)
		t0=$EPOCHREALTIME
		p2p_bind "$c" || { echo "bench: cannot bind $c at min_align $(<$P/min_align)" >&2; echo "n/a n/a"; return; }
		t1=$EPOCHREALTIME
		d=$(<"$(region_dir "$c")/seed")
		echo "$(<$P/min_align)" >"$(dsys "$d")/align"
		set_size "$d" "$size"
		f1=$(mem_free)
		echo "bench: card $c ($gib GiB) at min_align $(<$P/min_align): MemFree $f0 -> $f1 KiB, bind $(echo "$t1 - $t0" | bc) s" >&2
		echo "$(((f0 - f1) / gib)) $(echo "$t1 - $t0" | bc)"
		set_size "$d" 0
		p2p_unbind "$c"
	}
	for al in 4096:4K 2097152:2M 1073741824:1G; do
		b=${al%%:*} n=${al#*:}
		echo "$b" >$P/min_align
		# $(...), not < <(...): read would return at bind_cost's first
		# line, while its shrink and unbind still ran beside the next bind
		o=$(bind_cost 2)
		read -r kpg tb <<<"$o"
		o=$(bind_cost 1)
		read -r _ ts <<<"$o"
		mpg=n/a
		[[ $kpg =~ ^-?[0-9]+$ ]] && mpg=$(echo "scale=2; $kpg / 1024" | bc | sed 's/^\./0./; s/^-\./-0./')
		row P8 "DRAM MiB per GiB of card, min_align $n (64 GiB card)" "$mpg" "${DAXMEM[$n]:-n/a}"
		r=n/a
		[[ $tb =~ ^[0-9.]+$ ]] && [[ $ts =~ ^[0-9.]+$ ]] && [ "$(echo "$ts > 0" | bc)" = 1 ] &&
			r=$(echo "scale=1; $tb / $ts" | bc)
		row P9 "bind time 64 GiB / 1 GiB card, min_align $n" "$r" n/a "64 GiB: ${tb} s, 1 GiB: ${ts} s"
	done
	echo 4096 >$P/min_align

	# P10: a 64 GiB device at 4 KiB alignment, five grows and shrinks
	p2p_bind "$big"
	d=$(<"$(region_dir "$big")/seed")
	echo 4096 >"$(dsys "$d")/align"
	idx=()
	for ((k = 0; k < 5; k++)); do
		f0=$(mem_free)
		set_size "$d" $((64 * G))
		f1=$(mem_free)
		idx+=("$(((f0 - f1) * 1024))")
		set_size "$d" 0
	done
	row P10 "index bytes of a 64 GiB device at align 4K (MemFree delta)" "$(med "${idx[@]}")" n/a "spread $(rng "${idx[@]}") (page granularity; the extent array is 1 KiB, in the device object)"
	p2p_unbind "$big"

fi

# P4 again: ibv_reg_mr of 1 GiB in a 2 MiB-minimum region (compound pages)
p2p_unbind "$a"
echo 2M >$P/min_align
p2p_bind "$a"
echo 4096 >$P/min_align
d=$(new_dev 2097152 "$G")
"$PB" faults "/dev/$d" "$G" >/dev/null	# zeroed first (P6): P4 is the registration
o1=$("$PB" regmr "/dev/$d" "$G" "$REPS")
o2=$("$PB" regmr "$(dax 2097152)" "$G" "$REPS")
row P4 "ibv_reg_mr of 1 GiB, min_align 2M region, us" "$(echo "$o1" | kv us_median)" "$(echo "$o2" | kv us_median)" "spread $(spread "$o1" us) / $(spread "$o2" us); 4K-capable region: $p4_4k us"
del_dev "$d"

# P11: a peer's access to 64 MiB of a device, as a dma-buf (export, attach,
# map) vs as a pinned mapping (mmap, pin_user_pages FOLL_LONGTERM,
# dma_map_sgtable: what ibv_reg_mr does); the peer is QEMU's edu
# (tests/kmod/p2pedu), on a root port of its own.  The second column is the
# pinned mapping of the same device, not device-dax (which has no dma-bufs).
insmod "$KMOD/tests/kmod/p2pedu.ko" 2>/dev/null
d=$(new_dev 2097152 $((64 * M)))
"$PB" faults "/dev/$d" $((64 * M)) >/dev/null	# zeroed first (P6)
o=$("$BIN/p2pdmabuf" bench "/dev/$d" $((64 * M)) "$REPS")
b=$(echo "$o" | kv buf_us_median)
why="spread $(spread "$o" buf_us) / $(spread "$o" pin_us); edu KB/s: $(echo "$o" | kv buf_KBps) / $(echo "$o" | kv pin_KBps) (its engine waits 100 ms per transfer)"
if [ -z "$b" ]; then
	b=n/a
	why="dma-buf: $(echo "$o" | kv buf), mapping $(region_attr "$a" dmabuf_mapping) (upstream's P2PDMA rules: edu and the card share no switch); $why"
fi
row P11 "edu access to 64 MiB: dma-buf / pinned mmap, us" "$b" "$(echo "$o" | kv pin_us_median)" "$why"
del_dev "$d"
rmmod p2pedu

# ---- output ----------------------------------------------------------------------------------------
{
	# (which kernel: the figures, and which rows there are, depend on it)
	echo "kernel $(uname -r), QUICK=$Q"
	printf '%-3s %-52s %12s %12s %8s  %s\n' id measure p2pdax device-dax ratio spread
	for r in "${rows[@]}"; do
		IFS='|' read -r i m x y z s <<<"$r"
		printf '%-3s %-52s %12s %12s %8s  %s\n' "$i" "$m" "$x" "$y" "$z" "$s"
	done
	echo
	echo "csv,id,measure,p2pdax,device_dax,ratio,spread"
	for r in "${rows[@]}"; do
		IFS='|' read -r i m x y z s <<<"$r"
		echo "csv,$i,\"$m\",$x,$y,$z,\"$s\""
	done
} >"$OUT"
cat "$OUT"
p2p_unbind "$a"

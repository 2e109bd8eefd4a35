#!/bin/bash
# vm: --bar 2G --mem 2G
# A 2 GiB card above 4 GiB: the region supports 1 GiB alignment, touching a
# 1 GiB device takes one fault per device-aligned block (262144 at 4K, 512
# at 2M, and 512 at 1G too: dax-core never maps 1 GiB entries, see
# Documentation/design.rst "Isolation"), and a write-back request really maps write-back there.
# From 6.15 a 2 MiB entry maps only a 2 MiB compound page: the default (4K)
# region maps 4 KiB entries only, and a min_align=2M region 2 MiB entries.
# Before 6.5 (Debian 12's 6.1) every region maps 4 KiB entries only
# (design.rst, "Isolation": MADV_COLD would clear a 2 MiB one as bad).
. "$(dirname "$0")/../common"
guest_only

a=$(card 0)
R=$(region_dir "$a")
p2p_load
check "bind a 2 GiB card" p2p_bind "$a"
check_eq "region size" $((2 * GiB)) "$(region_attr "$a" size)"
check_eq "region supports 1 GiB alignment" $GiB "$(region_attr "$a" align)"

# faults N ALIGN: create a 1 GiB device at ALIGN, touch every page, print
# the minor faults the touch took, then give the device back
faults() {
	local d
	d=$(<"$R/seed")
	echo "$1" >"$(dsys "$d")/align"
	set_size "$d" "$GiB"
	"$BIN/p2pmap" touch "/dev/$d" "$GiB"
	set_size "$d" 0
	echo "$d" >"$R/delete"
}
n=$(faults 4096)
if [ "$n" -ge 262144 ] && [ "$n" -le 262150 ]; then
	pass "1 GiB at align 4K: 262144 faults ($n)"
else
	fail "1 GiB at align 4K: 262144 faults" "got $n"
fi
if maps_refcounted || ! maps_huge; then
	check_eq "4K region, 6.15+ or before 6.5: 1 GiB at align 2M takes 4 KiB entries (262144 faults)" \
		262144 "$(faults $((2 * MiB)))"
	p2p_unbind "$a"
	echo 2M >/sys/module/iopmem/parameters/min_align
	check "bind it again with min_align=2M" p2p_bind "$a"
fi
if maps_huge; then
	check_eq "1 GiB at align 2M: 512 faults" 512 "$(faults $((2 * MiB)))"
	check_eq "1 GiB at align 1G: 512 faults (2 MiB entries, never a 1 GiB one)" 512 "$(faults "$GiB")"
else
	check_eq "before 6.5, min_align=2M: 1 GiB at align 2M still takes 4 KiB entries" 262144 "$(faults $((2 * MiB)))"
	check_eq "...and at align 1G" 262144 "$(faults "$GiB")"
fi
check_region "fault counting" "$a"

# a 1 GiB-aligned device (mapped with 2 MiB entries, never a PUD:
# design.rst): its bytes land in its one 1 GiB-aligned extent
d=$(<"$R/seed")
echo "$GiB" >"$(dsys "$d")/align"
set_size "$d" "$GiB"
check "fill a 1G-aligned device" "$BIN/p2pmap" fill "/dev/$d" 0 $((64 * MiB)) 7 "$GiB"
check_eq "one extent of 1 GiB, 1 GiB aligned" "1 $GiB 0" \
	"$(nr_extents "$d") $(($(extents "$d"; r=${EXT[0]%% *}; echo "${r#*-} - ${r%-*} + 1"))) $(($(extent_off "$a" "$d" 0) % GiB))"
check "its bytes are in the host file" "$BIN/p2pmap" fcheck "$(card_file 0)" "$(extent_off "$a" "$d" 0)" $((64 * MiB)) 7 0
check_store "align of a sized device: EBUSY" EBUSY "$(dsys "$d")/align" $((2 * MiB))
check_store "size not a multiple of 1 GiB: EINVAL" EINVAL "$(dsys "$d")/size" $((GiB + 2 * MiB))
p2p_unbind "$a"
echo 4K >/sys/module/iopmem/parameters/min_align

# cache=wb above 4 GiB is honoured: the MTRRs allow write-back there
start=$(lspci -v -s "$a" | awk '/Memory at/ && /64-bit, prefetchable/ { print $3 }')
diag "BAR 2 at 0x$start"
echo wb >/sys/module/iopmem/parameters/cache
check "bind with cache=wb" p2p_bind "$a"
check_eq "cache_mode is wb" wb "$(region_attr "$a" cache_mode)"
s16=$(printf '%016x' "$(region_attr "$a" resource)")
check_eq "PAT says write-back" write-back "$(grep "mem 0x$s16-" /sys/kernel/debug/x86/pat_memtype_list | awk '{ print $NF }' | sort -u)"
p2p_unbind "$a"
echo wc >/sys/module/iopmem/parameters/cache
p2p_unload

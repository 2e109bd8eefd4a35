#!/bin/bash
# vm: --bar 256M
# Every dax-core store validates its input: a precise errno, and nothing
# changes (sizes, extents, available space, seed).
. "$(dirname "$0")/../common"
guest_only

M=$MiB
p2p_setup
d0=p2pdax$id.0
set_size "$d0" $((64 * M))
d1=$(<"$R/seed")

# (with 66 devices: twice per check, so no subshell per attribute)
snapshot() {
	local d x D
	echo "avail=$(<"$R/available_size") seed=$(<"$R/seed")"
	for d in $(region_devs "$a"); do
		D=/sys/class/p2pdax/$d
		x=$(<"$D/extents")
		echo "$d size=$(<"$D/size") align=$(<"$D/align") ${x//$'\n'/ }"
	done
}

# bad WHAT ERRNO FILE VALUE: the store fails with ERRNO and changes nothing
bad() {
	local before after
	before=$(snapshot)
	check_store "$1: $2" "$2" "$3" "$4"
	after=$(snapshot)
	check_eq "$1: state unchanged" "$before" "$after"
}

S=$(dsys "$d0")/size
bad "size not a number" EINVAL "$S" abc
bad "size empty" EINVAL "$S" $'\n'
bad "size negative" EINVAL "$S" -2097152
bad "size overflowing u64" ERANGE "$S" 99999999999999999999999
bad "size with junk after it" EINVAL "$S" 4194304x
bad "size with a unit" EINVAL "$S" 64M
bad "size not a multiple of align (4 KiB)" EINVAL "$S" $((64 * M + 4096))
bad "size not a multiple of align (1 MiB)" EINVAL "$S" $((65 * M))
bad "size beyond available" ENOSPC "$S" $((512 * M))
bad "size = u64 max" EINVAL "$S" 18446744073709551615
check_store "hex size accepted" OK "$S" 0x4000000
check_eq "hex size means the same" $((64 * M)) "$(dsize "$d0")"

A=$(dsys "$d1")/align
bad "align 0" EINVAL "$A" 0
bad "align 8 KiB" EINVAL "$A" 8192
bad "align 3" EINVAL "$A" 3
bad "align not a number" EINVAL "$A" 2M
bad "align 1 GiB on a 256 MiB region" EINVAL "$A" 1073741824
bad "align while sized" EBUSY "$(dsys "$d0")/align" 4096
check_store "align 4 KiB on the seed" OK "$A" 4096
check_eq "align took effect" 4096 "$(dattr "$d1" align)"
check_store "align back to 2 MiB" OK "$A" 2097152

bad "create 0" EINVAL "$R/create" 0
bad "create 2" EINVAL "$R/create" 2
bad "create junk" EINVAL "$R/create" yes
bad "delete unknown name" ENXIO "$R/delete" p2pdax$id.99
bad "delete a name of another region" ENXIO "$R/delete" p2pdax$((id + 1)).0
bad "delete empty" ENXIO "$R/delete" $'\n'
bad "delete a sized device" EBUSY "$R/delete" "$d0"
bad "delete the seed" EBUSY "$R/delete" "$d1"
for f in size align available_size id resource seed cache_mode; do
	check_store "region $f is read-only" EACCES "$R/$f" 1
done
for f in resource extents region numa_node; do
	check_store "device $f is read-only" EACCES "$(dsys "$d0")/$f" 1
done
check "create cannot be read" sh -c "! cat $R/create 2>/dev/null"
check "delete cannot be read" sh -c "! cat $R/delete 2>/dev/null"

# mmap validation
D=/dev/$d0
check_match "MAP_SHARED of the device works" '^OK ' "$("$BIN/p2pmap" mmap "$D" 0 $((2 * M)) || true)"
check_eq "MAP_PRIVATE: EINVAL" EINVAL "$("$BIN/p2pmap" mmap "$D" 0 $((2 * M)) private || true)"
check_eq "length not a multiple of align: EINVAL" EINVAL "$("$BIN/p2pmap" mmap "$D" 0 4096 || true)"
check_eq "offset not aligned: EINVAL" EINVAL "$("$BIN/p2pmap" mmap "$D" 4096 $((2 * M)) || true)"
check_eq "beyond the device: EINVAL" EINVAL "$("$BIN/p2pmap" mmap "$D" $((64 * M)) $((2 * M)) || true)"
check_eq "straddling the end: EINVAL" EINVAL "$("$BIN/p2pmap" mmap "$D" $((62 * M)) $((4 * M)) || true)"
check_match "read-only MAP_SHARED works" '^OK ' "$("$BIN/p2pmap" mmap "$D" 0 $((2 * M)) ro || true)"
addr=$("$BIN/p2pmap" mmap "$D" 0 $((4 * M)) hint | awk '{ print $2 }')
check_eq "a misaligned hint still gets a 2 MiB-aligned address" 0 $((addr % (2 * M)))
"$BIN/p2pmap" fill "$D" 0 $((64 * M)) 9
check "a mapping mremap()ed off alignment still maps the right bytes" "$BIN/p2pmap" moved "$D" $((8 * M)) 9
check_eq "mapping a zero-size device: EINVAL" EINVAL "$("$BIN/p2pmap" mmap "/dev/$d1" 0 $((2 * M)) || true)"

# a store through a file opened before the device was deleted
set_size "$d1" $((2 * M))
d2=$(<"$R/seed")
set_size "$d1" 0
exec 5>"$(dsys "$d1")/size"
check_store "delete the shrunk device" OK "$R/delete" "$d1"
err=$( { echo 4096 >&5; } 2>&1 || true)
exec 5>&-
check_match "store to a deleted device fails (ENODEV)" 'No such device' "$err"
check "deleted device left no node" test ! -e "/dev/$d1"
check_eq "seed unaffected" "$d2" "$(<"$R/seed")"
check_region "bad input" "$a"

# a device spans at most 64 extents: growth that needs a 65th is ENOSPC
K64=65536
fill=()
for ((k = 0; k < 130; k++)); do
	s=$(<"$R/seed")
	echo 4096 >"$(dsys "$s")/align"
	set_size "$s" $K64
	fill+=("$s")
done
for ((k = 0; k < 130; k += 2)); do
	set_size "${fill[$k]}" 0
	echo "${fill[$k]}" >"$R/delete"
done
big=$(<"$R/seed")
echo 4096 >"$(dsys "$big")/align"
set_size "$big" $((64 * K64))
check_eq "64 holes make 64 extents" 64 "$(nr_extents "$big")"
check_eq "the extents file lists all 64" 64 "$(dattr "$big" extents | wc -l)"
bad "growth needing a 65th extent" ENOSPC "$(dsys "$big")/size" $((65 * K64))
check_region "64 extents" "$a"

# module parameters validate too (see iopmem-bind.sh); unbind and unload
p2p_unbind "$a"
p2p_unload

#!/bin/bash
# vm: --bar 256M
# dax-core acceptance: seed planting, first-fit growth (region start, gaps,
# in-place), multi-extent devices, a full region, bytes through mmap checked
# in the host backing file, revocation on shrink, scrubbing.  The region
# invariant is checked after every step.
. "$(dirname "$0")/../common"
guest_only

a=$(card 0)
R=$(region_dir "$a")
M=$MiB

# Whatever the BAR holds at boot must never reach a tenant: fill it first.
setpci -s "$a" COMMAND=0x02:0x02
"$BIN/p2pmap" fill "$(pci_sys "$a")/resource2" 0 $((256 * M)) 99
check "BAR holds junk before binding" "$BIN/p2pmap" check "$(pci_sys "$a")/resource2" 0 $((256 * M)) 99

p2p_load
check "bind" p2p_bind "$a"
id=$(region_attr "$a" id)
d0=p2pdax$id.0 d1=p2pdax$id.1 d2=p2pdax$id.2 d3=p2pdax$id.3

# ---- seed -------------------------------------------------------------------
check_eq "exactly one device at bind" "$d0" "$(region_devs "$a" | tr '\n' ' ' | sed 's/ $//')"
check_eq "it is the seed" "$d0" "$(<"$R/seed")"
check_eq "the seed has size 0" 0 "$(dsize "$d0")"
check_eq "the seed has no extents" 0 "$(nr_extents "$d0")"
check_eq "node /dev/$d0 is root:root 0600" "root:root 600" "$(stat -c '%U:%G %a' "/dev/$d0")"
check_eq "device align defaults to 2 MiB" 2097152 "$(dattr "$d0" align)"
check_eq "device knows its region" "$id" "$(dattr "$d0" region)"
check_eq "resource is root-only" 400 "$(stat -c %a "$(dsys "$d0")/resource")"
check_eq "extents is root-only" 400 "$(stat -c %a "$(dsys "$d0")/extents")"
check_match "numa_node is a node number" '^-?[0-9]+$' "$(dattr "$d0" numa_node)"
check_region "bind" "$a"

set_size "$d0" $((32 * M))
check_eq "sizing the seed plants a new seed" "$d1" "$(<"$R/seed")"
check_eq "sized seed got its size" $((32 * M)) "$(dsize "$d0")"
check_eq "first device starts at the region start" "$(region_attr "$a" resource)" "$(dattr "$d0" resource)"
check "BAR junk was scrubbed: the new device reads zero" "$BIN/p2pmap" zero "/dev/$d0" 0 $((32 * M))
check_region "seed sized" "$a"
check_store "create with a seed present is a no-op" OK "$R/create" 1
check_eq "still the same seed" "$d1" "$(<"$R/seed")"

# ---- in-place growth ----------------------------------------------------------
set_size "$d0" $((48 * M))
check_eq "adjacent free space: grown in place (1 extent)" 1 "$(nr_extents "$d0")"
check_eq "in place: one extent of 48 MiB at the start" 0 "$(extent_off "$a" "$d0" 0)"
check_region "in-place growth" "$a"

set_size "$d1" $((16 * M))
set_size "$d2" $((16 * M))
check_eq "d1 follows d0" $((48 * M)) "$(extent_off "$a" "$d1" 0)"
check_eq "d2 follows d1" $((64 * M)) "$(extent_off "$a" "$d2" 0)"
check_region "three devices" "$a"

# ---- a hole at the start; growth goes there, not in place --------------------
check_store "delete a sized device: EBUSY" EBUSY "$R/delete" "$d0"
set_size "$d0" 0
check_eq "shrunk to 0: no extents" 0 "$(nr_extents "$d0")"
check_store "delete the zero-size device" OK "$R/delete" "$d0"
check "deleted device is gone from sysfs" test ! -e "$(dsys "$d0")"
check "deleted device node is gone" test ! -e "/dev/$d0"
check_region "hole at the region start" "$a"

set_size "$d2" $((32 * M))
check_eq "growth takes the region start first (2 extents)" 2 "$(nr_extents "$d2")"
check_eq "d2 extent 0 unchanged" $((64 * M)) "$(extent_off "$a" "$d2" 0)"
check_eq "d2 extent 1 at the region start" 0 "$(extent_off "$a" "$d2" 1)"
check_match "d2 extent 1 starts at page offset 4096" ' 4096$' "$(dattr "$d2" extents | sed -n 2p)"
check_region "discontiguous growth" "$a"

# ---- two devices growing alternately to 4 extents each -----------------------
for _ in 1 2 3; do
	set_size "$d1" $(($(dsize "$d1") + 2 * M))
	[ "$(nr_extents "$d2")" -ge 4 ] || set_size "$d2" $(($(dsize "$d2") + 2 * M))
done
check_eq "d1 has 4 extents" 4 "$(nr_extents "$d1")"
check_eq "d2 has 4 extents" 4 "$(nr_extents "$d2")"
check_region "alternating growth" "$a"

# ---- bytes through mmap, checked on the host side of the BAR -----------------
for d in "$d1" "$d2"; do
	s=${d#*.}
	check "fill $d through mmap" "$BIN/p2pmap" fill "/dev/$d" 0 "$(dsize "$d")" "$s"
	check "$d reads back its pattern" "$BIN/p2pmap" check "/dev/$d" 0 "$(dsize "$d")" "$s"
	check "$d's bytes are in the host file at its extents" check_bytes "$a" "$d" "$s"
done

# ---- revocation: shrinking zaps mappings, a child gets SIGBUS ------------------
out=$("$BIN/p2pmap" revoke "/dev/$d2" "$(dsys "$d2")/size" $((16 * M)))
check_eq "child touching the revoked range gets SIGBUS" "child: signal BUS" "$out"
check_eq "shrink trimmed from the highest page offset" "$((64 * M))" "$(extent_off "$a" "$d2" 0)"
check_eq "d2 back to one extent" 1 "$(nr_extents "$d2")"
check "d2's remaining bytes intact" "$BIN/p2pmap" check "/dev/$d2" 0 $((16 * M)) 2
check_region "revoking shrink" "$a"
set_size "$d1" $((8 * M))
check_eq "d1 trimmed inside its first extent" 1 "$(nr_extents "$d1")"
check "d1's first 8 MiB still map to the same bytes" "$BIN/p2pmap" check "/dev/$d1" 0 $((8 * M)) 1
check "...and are still in the host file" check_bytes "$a" "$d1" 1
check_region "partial trim" "$a"

# ---- scrub: a new device over d2's old range reads zero ------------------------
s=$(<"$R/seed")
set_size "$s" $((32 * M))
check "new device over freed, dirty ranges reads zero" "$BIN/p2pmap" zero "/dev/$s" 0 $((32 * M))
check_region "scrubbed growth" "$a"

# ---- full region ----------------------------------------------------------------
s=$(<"$R/seed")
avail=$(region_attr "$a" available_size)
check_store "more than available: ENOSPC" ENOSPC "$(dsys "$s")/size" $((avail + 2 * M))
check_eq "refused growth changed nothing" 0 "$(dsize "$s")"
check_store "all that is available" OK "$(dsys "$s")/size" "$avail"
check_eq "region is full" 0 "$(region_attr "$a" available_size)"
check_eq "no seed when the region is full" "" "$(<"$R/seed")"
check_store "create on a full region: ENOSPC" ENOSPC "$R/create" 1
check_store "growing anything on a full region: ENOSPC" ENOSPC "$(dsys "$d1")/size" $(($(dsize "$d1") + 2 * M))
check_region "full region" "$a"
set_size "$s" $((avail - 4 * M))
check_store "create after space returns" OK "$R/create" 1
check_match "a new seed appears" '^p2pdax[0-9]+\.[0-9]+$' "$(<"$R/seed")"
check_region "space returned" "$a"

# ---- teardown with a mapping held --------------------------------------------------
coproc HOLD { "$BIN/p2pmap" hold "/dev/$d1" "$(dsize "$d1")"; }
# its pipes on fds of our own: bash closes a coprocess's fds and unsets its
# array when it reaps it, which can come before its last line is read
hold_pid=$HOLD_PID
exec {hold_out}<&"${HOLD[0]}" {hold_in}>&"${HOLD[1]}"
exec {HOLD[0]}<&- {HOLD[1]}>&-
read -r line <&"$hold_out"
check_eq "holder mapped d1" mapped "$line"
check "unbind with a device mapped" p2p_unbind "$a"
exec {hold_in}>&-
read -r line <&"$hold_out"
exec {hold_out}<&-
check_eq "access after unbind gets SIGBUS" SIGBUS "$line"
wait "$hold_pid" 2>/dev/null || true
check "devices are gone after unbind" test ! -e "$(dsys "$d1")"
p2p_unload

#!/bin/bash
# vm: --bar 256M
# A block that moves from one device to another is found by rmap walks only
# through the device that has it now.  Device A maps a block, gives it back
# (shrink), device B takes it and maps it, and A maps new memory at the
# block's old offset.  A poison of the block (MADV_HWPOISON, as a machine
# check on the card would be: memory-failure walks the folio's mapping and
# index) must signal B's holders and no holder of A (vm.memory_failure_early_kill
# = 1, so that every holder is signalled at once, not at its next access);
# the poisoned page is never mapped again, and A's bytes stay as they were.
# A folio that still named A would get A's holder killed (memory-failure
# signals whoever maps something at the folio's old offset).
#
# From 6.15 mappings are refcounted and in the rmap (design.rst, "Fault
# path"); devmap entries (6.1 to 6.14) are in no rmap at all, so there no
# walk can reach any device and this test cannot exist.
. "$(dirname "$0")/../common"
guest_only
maps_refcounted || skip_all "devmap entries (before 6.15) are in no rmap: no rmap walk reaches a device (design.rst)"

p2p_setup
A=$(<"$R/seed")
echo 4096 >"$(dsys "$A")/align"
set_size "$A" $((8 * MiB))
check "A fills 8 MiB (every page faulted: its folios name A)" "$BIN/p2pmap" fill "/dev/$A" 0 $((8 * MiB)) 11
a0=$(extent_off "$a" "$A" 0)
set_size "$A" $((4 * MiB))
B=$(<"$R/seed")
echo 4096 >"$(dsys "$B")/align"
set_size "$B" $((4 * MiB))
check_eq "B took the block A gave back" $((a0 + 4 * MiB)) "$(extent_off "$a" "$B" 0)"
set_size "$A" $((8 * MiB))
check "A grew back over new memory at the block's old offsets" \
	test "$(extent_off "$a" "$A" 1)" != $((a0 + 4 * MiB))

mkfifo /tmp/rmap-a.in /tmp/rmap-b.in
"$BIN/p2pmap" hold "/dev/$A" $((8 * MiB)) </tmp/rmap-a.in >/tmp/rmap-a.out 2>&1 &
pa=$!
"$BIN/p2pmap" hold "/dev/$B" $((4 * MiB)) </tmp/rmap-b.in >/tmp/rmap-b.out 2>&1 &
pb=$!
exec 7>/tmp/rmap-a.in 8>/tmp/rmap-b.in
for _ in $(seq 100); do
	grep -q mapped /tmp/rmap-a.out && grep -q mapped /tmp/rmap-b.out && break
	sleep 0.1
done
check "A's and B's holders mapped and wrote every page" \
	sh -c 'grep -q mapped /tmp/rmap-a.out && grep -q mapped /tmp/rmap-b.out'

m=$(dmesg_mark)
early=$(</proc/sys/vm/memory_failure_early_kill)
echo 1 >/proc/sys/vm/memory_failure_early_kill
out=$("$BIN/p2pmap" poison "/dev/$B" 0 2>&1) || true
echo "$early" >/proc/sys/vm/memory_failure_early_kill
echo "$out" | sed 's/^/# /'
check_match "MADV_HWPOISON of B's first page" "madvise OK" "$out"
check_match "memory-failure signalled the poisoning process (BUS_MCEERR_AR = 4)" "SIGBUS code 4" "$out"
check "memory-failure recovered the page as a dax page" \
	dmesg_has "$m" "recovery action for dax page: Recovered"
for _ in $(seq 50); do
	kill -0 "$pb" 2>/dev/null || break
	sleep 0.1
done
# both still block on their stdin: only memory-failure can have killed one
check "B's other holder was killed at once (the walk found B)" sh -c "! kill -0 $pb 2>/dev/null"
check "A's holder was not signalled (the walk never reached A)" kill -0 "$pa"
exec 7>&- 8>&-
rc=0
wait "$pb" || rc=$?
check_eq "...by SIGBUS" 135 "$rc"
rc=0
wait "$pa" || rc=$?
check_eq "A's holder ran on" 0 "$rc"
check_eq "...and wrote its whole mapping again" OK "$(tail -n 1 /tmp/rmap-a.out)"
# (the holder wrote the first word of every page: the rest is checked, in
# the card's host file)
check "A's first page (never moved) holds its bytes (host file)" \
	"$BIN/p2pmap" fcheck "$(card_file 0)" $((a0 + 8)) 4088 11 8
check "...and its last page below 4 MiB" \
	"$BIN/p2pmap" fcheck "$(card_file 0)" $((a0 + 4 * MiB - 4088)) 4088 11 $((4 * MiB - 4088))

rc=0
"$BIN/p2pmap" zero "/dev/$B" 0 4096 >/dev/null 2>&1 || rc=$?
check_eq "the poisoned page is never mapped again (SIGBUS)" 135 "$rc"
check "B's next page still maps and holds what is written" \
	sh -c "'$BIN/p2pmap' fill '/dev/$B' 4096 4096 12 && '$BIN/p2pmap' check '/dev/$B' 4096 4096 12"
rm -f /tmp/rmap-a.in /tmp/rmap-b.in /tmp/rmap-a.out /tmp/rmap-b.out
# the poison lives in the struct pages, which the unbind frees
p2p_unbind "$a"
p2p_unload

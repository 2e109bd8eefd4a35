#!/bin/bash
# vm: --bar 256M
# A memory failure on the card (MADV_HWPOISON here, as a machine check would
# be) reaches only the device that holds the page now, also when the block
# moved there from another device.  Device A maps a block, gives it back
# (shrink), device B takes it and maps it, and A maps new memory at the
# block's old offsets.  Poisoning B's page must revoke it from B's holders
# (SIGBUS at their next access) and touch no holder of A; the page is never
# mapped again, by B or by the device the block goes to next, and A's bytes
# stay as they were.  dax-core finds the holder from its extents, under its
# locks (iopmem's dev_pagemap_ops.memory_failure: design.rst, "Poisoned
# pages"), never from the folio: a folio that still named A would have A's
# holder signalled (the generic handler signals whoever maps something at
# the folio's old offset).
. "$(dirname "$0")/../common"
guest_only

p2p_setup
A=$(<"$R/seed")
echo 4096 >"$(dsys "$A")/align"
set_size "$A" $((8 * MiB))
check "A fills 8 MiB (every page faulted)" "$BIN/p2pmap" fill "/dev/$A" 0 $((8 * MiB)) 11
a0=$(extent_off "$a" "$A" 0)
set_size "$A" $((4 * MiB))
B=$(<"$R/seed")
echo 4096 >"$(dsys "$B")/align"
set_size "$B" $((4 * MiB))
check_eq "B took the block A gave back" $((a0 + 4 * MiB)) "$(extent_off "$a" "$B" 0)"
set_size "$A" $((8 * MiB))
check "A grew back over new memory at the block's old offsets" \
	test "$(extent_off "$a" "$A" 1)" != $((a0 + 4 * MiB))

mkfifo /tmp/poison-a.in /tmp/poison-b.in
"$BIN/p2pmap" hold "/dev/$A" $((8 * MiB)) </tmp/poison-a.in >/tmp/poison-a.out 2>&1 &
pa=$!
"$BIN/p2pmap" hold "/dev/$B" $((4 * MiB)) </tmp/poison-b.in >/tmp/poison-b.out 2>&1 &
pb=$!
exec 7>/tmp/poison-a.in 8>/tmp/poison-b.in
for _ in $(seq 100); do
	grep -q mapped /tmp/poison-a.out && grep -q mapped /tmp/poison-b.out && break
	sleep 0.1
done
check "A's and B's holders mapped and wrote every page" \
	sh -c 'grep -q mapped /tmp/poison-a.out && grep -q mapped /tmp/poison-b.out'

m=$(dmesg_mark)
out=$("$BIN/p2pmap" poison "/dev/$B" 0 2>&1) || true
echo "$out" | sed 's/^/# /'
check_match "MADV_HWPOISON of B's first page" "madvise OK" "$out"
check_match "the page is gone from the poisoner's mapping: SIGBUS BUS_MCEERR_AR (4)" "SIGBUS code 4" "$out"
check "dax-core took the failure for its device" dmesg_has "$m" "memory failure: 1 pages at pfn"
check "memory-failure recovered the page as a dax page" \
	dmesg_has "$m" "recovery action for dax page: Recovered"
check "A's holder was not signalled" kill -0 "$pa"
exec 7>&- 8>&-
wait "$pb"
check_eq "B's other holder gets SIGBUS at the poisoned page" SIGBUS "$(tail -n 1 /tmp/poison-b.out)"
rc=0
wait "$pa" || rc=$?
check_eq "A's holder ran on" 0 "$rc"
check_eq "...and wrote its whole mapping again (no page revoked)" OK "$(tail -n 1 /tmp/poison-a.out)"
# (the holder wrote the first word of every page: the rest is checked, in
# the card's host file)
check "A's first page (never moved) holds its bytes (host file)" \
	"$BIN/p2pmap" fcheck "$(card_file 0)" $((a0 + 8)) 4088 11 8
check "...and its last page below 4 MiB" \
	"$BIN/p2pmap" fcheck "$(card_file 0)" $((a0 + 4 * MiB - 4088)) 4088 11 $((4 * MiB - 4088))

rc=0
"$BIN/p2pmap" zero "/dev/$B" 0 4096 >/dev/null 2>&1 || rc=$?
check_eq "B never maps the poisoned page again (SIGBUS)" 135 "$rc"
check "B's next page still maps and holds what is written" \
	sh -c "'$BIN/p2pmap' fill '/dev/$B' 4096 4096 12 && '$BIN/p2pmap' check '/dev/$B' 4096 4096 12"

# the block goes on to A: the poison goes with it
set_size "$B" 0
echo "$B" >"$R/delete"
set_size "$A" $((12 * MiB))
check_eq "A's growth took the poisoned block" $((a0 + 4 * MiB)) "$(extent_off "$a" "$A" 2)"
rc=0
"$BIN/p2pmap" zero "/dev/$A" $((8 * MiB)) 4096 >/dev/null 2>&1 || rc=$?
check_eq "A never maps the poisoned page either (SIGBUS)" 135 "$rc"
check "A's next page there maps, zeroed" "$BIN/p2pmap" zero "/dev/$A" $((8 * MiB + 4096)) 4096
check_region "after the poison" "$a"
rm -f /tmp/poison-a.in /tmp/poison-b.in /tmp/poison-a.out /tmp/poison-b.out
# the poison lives in the struct pages, which the unbind frees
p2p_unbind "$a"
p2p_unload

#!/bin/bash
# vm: --bar 256M
# Revocation racing with use: 4 tenants (4 KiB and 2 MiB aligned) each have
# a resizer thread that grows, shrinks, deletes and re-carves its device
# while a toucher thread reads and writes every page it can map, for 60 s,
# and between passes changes its mapping (MADV_DONTNEED, mprotect, mremap,
# fork of a child that reads every page too).
# Every word a tenant reads (the first and the last of each page) must be
# zero or its own: its tenant id, its device's number (never reused, so
# bytes a tenant left in an earlier device do not pass as its own) and the
# offset.  A fifth tenant that keeps its device throughout finds its bytes
# intact in the host file.
. "$(dirname "$0")/../common"
guest_only
p2p_setup
keeper=$(<"$R/seed")
set_size "$keeper" $((16 * MiB))
check "the keeper fills its device" "$BIN/p2pmap" fill "/dev/$keeper" 0 $((16 * MiB)) 77
out=$("$BIN/p2pchurn" "$R" 60 4 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/# /'
check_eq "p2pchurn ran to the end" 0 "$rc"
check_match "no tenant ever read another tenant's bytes (or stale ones)" $'(^|\n)violations: 0($|\n)' "$out"
pages=$(echo "$out" | awk '/pages touched/ { s += $5 } END { print s + 0 }')
sigbus=$(echo "$out" | awk '/pages touched/ { s += $8 } END { print s + 0 }')
check "the tenants touched pages ($pages)" test "$pages" -gt 10000
check "revocation raced with use: tenants got SIGBUS ($sigbus)" test "$sigbus" -gt 0
for kind in madvise mprotect mremap forks; do
	n=$(echo "$out" | awk -v k="$kind" '/pages touched/ { for (i = 2; i <= NF; i++) if ($i == k || $i == k ",") s += $(i - 1) } END { print s + 0 }')
	check "the tenants' mappings changed under the churn: $n $kind" test "$n" -gt 0
done
# the check itself can fail: with a planted fault (each toucher writes
# its previous device's words into its next device, as memory that was not
# scrubbed would hold them) p2pchurn must report violations
out=$(P2PCHURN_PLANT=1 "$BIN/p2pchurn" "$R" 10 4 2>&1) && rc=0 || rc=$?
v=$(sed -n 's/^violations: //p' <<<"$out")
check "a planted word of a tenant's earlier device is caught (violations: ${v:-none}, exit $rc)" \
	test "${v:-0}" -gt 0 -a "$rc" = 1
check "the keeper's bytes survived the churn (in the host file)" check_bytes "$a" "$keeper" 77
check "...and through its mapping" "$BIN/p2pmap" check "/dev/$keeper" 0 $((16 * MiB)) 77
check_region "after the churn" "$a"
set_size "$keeper" 0
check_eq "all the churned memory came back" "$(region_attr "$a" size)" "$(region_attr "$a" available_size)"
p2p_unbind "$a"
p2p_unload

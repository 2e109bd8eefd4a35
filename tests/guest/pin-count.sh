#!/bin/bash
# vm: --bar 256M
# A page is free only at its idle reference count.  dax-core once called a
# page pinned only when its count was above 1, and 2^21 FOLL_PINs of one
# 4 KiB page (1024 each) wrap the count negative: shrink, delete and
# unbind then went ahead under live pins (issue 24).  tests/kmod/p2pref
# moves one page's count while it is loaded, as such a wrap (or a plain
# pin) would; each count must block the shrink, the device's destruction
# and the card's teardown, and unloading p2pref must let them go on.
. "$(dirname "$0")/../common"
guest_only
P=$TOP/tools/p2pctl/p2pctl
p2p_setup
d=$(<"$R/seed")
set_size "$d" $((4 * MiB))
extents "$d"
pfn=$((${EXT[0]%%-*} >> 12))
last=$((((${EXT[0]%%-*} + 4 * MiB) >> 12) - 1))

# ref ADD PFN: load p2pref; its line in the kernel log must say the count
ref() {
	local mark
	mark=$(dmesg_mark)
	insmod "$KO_P2PREF" pfn="$2" add="$1"
	dmesg_has "$mark" "$(printf 'p2pref: pfn %#x: reference count' "$2")"
}

for add in -2147483648 1 -1; do
	case $add in
	-2147483648) what="wrapped past INT_MAX" ;;
	1) what="one reference above idle (a pin)" ;;
	-1) what="0, below idle" ;;
	esac
	# the last page for 0: nothing maps it, so no fault takes a reference
	# of a zero-count page; the first page for the others
	p=$pfn; [ "$add" != -1 ] || p=$last
	check "count $what: p2pref moved it" ref "$add" "$p"
	check_store "count $what: shrink 4M -> 0 is EBUSY" EBUSY "$(dsys "$d")/size" 0
	check_eq "...the size is unchanged" $((4 * MiB)) "$(dsize "$d")"
	check_match "...destroy-device fails, naming the pin" "has pinned pages" \
		"$("$P" destroy-device "$d" 2>&1 >/dev/null || true)"
	check "...the device is still there" test -e "/dev/$d"
	check "count $what: p2pref unloads" rmmod p2pref
done
check_store "the count idle again: shrink 4M -> 2M" OK "$(dsys "$d")/size" $((2 * MiB))
set_size "$d" $((4 * MiB))

# teardown waits for the wrapped count, and goes on once it is idle again
check "count wrapped past INT_MAX for the teardown" ref -2147483648 "$pfn"
mark=$(dmesg_mark)
echo "$a" >"$(pci_sys "$a")/driver/unbind" &
up=$!
for _ in $(seq 100); do dmesg_has "$mark" "teardown waits for" && break; sleep 0.1; done
check "unbind waits: 'teardown waits for 1 pinned pages'" \
	dmesg_has "$mark" "teardown waits for 1 pinned pages (first at pfn $(printf '%#x' "$pfn")"
sleep 1
check "...a second later the unbind still waits" kill -0 "$up"
check "...with the BAR still claimed" grep -q ' : iopmem$' /proc/iomem
check "p2pref unloads (the count is idle again)" rmmod p2pref
check "the unbind completes" wait "$up"
check "...the card is unbound, its BAR released" \
	sh -c "test ! -e '$(pci_sys "$a")/driver' && ! grep -q ' : iopmem\$' /proc/iomem"
echo >"$(pci_sys "$a")/driver_override"

# ---- p2pctl unbind: retire, wait with a timeout, name who mapped ----------------------
# (issue 24: one tenant's pin held the kernel's unbind for ever, with the
# device lock; p2pctl unbind now waits outside the kernel and gives up)
check "bind the card again" p2p_bind "$a"
d=$(<"$R/seed")
set_size "$d" $((4 * MiB))
extents "$d"
pfn=$((${EXT[0]%%-*} >> 12))
check "a tenant maps and fills the device, then exits" "$BIN/p2pmap" fill "/dev/$d" 0 $((4 * MiB)) 5
for bad in -1 86401 1x "" " 2"; do
	rc=0; out=$("$P" unbind --timeout "$bad" "$a" 2>&1) || rc=$?
	check_eq "unbind --timeout '$bad': usage error (exit 2)" "2 p2pctl unbind: --timeout takes whole seconds, 0 to 86400, not '$bad'" \
		"$rc $(head -1 <<<"$out")"
done
check_eq "...and nothing changed: bound, not retired, the device alive" "iopmem 0 $((4 * MiB))" \
	"$(basename "$(readlink "$(pci_sys "$a")/driver")") $(region_attr "$a" retired) $(dsize "$d")"
check_store "retire 2: EINVAL" EINVAL "$R/retire" 2
check_eq "...not retired" 0 "$(region_attr "$a" retired)"
check "a page pinned (p2pref +1)" ref 1 "$pfn"
check_eq "pinned reads 1" 1 "$(region_attr "$a" pinned)"
t0=$SECONDS
rc=0; out=$("$P" unbind --timeout 2 "$a" 2>&1) || rc=$?
check_eq "unbind --timeout 2 with a page pinned: fails (exit 1)" 1 "$rc"
check "...after about 2 s ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -ge 2 -a $((SECONDS - t0)) -le 10
check_match "...saying what is pinned, that the card stays bound, its region retired" \
	"p2pctl unbind: $a: 1 pages still pinned after 2 s; the card stays bound and region $id is retired" "$out"
check_match "...naming who mapped the device (p2pmap, exited)" "Mapped by p2pmap\[[0-9]+\] \(exited\): unbind again" "$out"
check_eq "the card is still bound, its region retired, pinned 1" "iopmem 1 1" \
	"$(basename "$(readlink "$(pci_sys "$a")/driver")") $(region_attr "$a" retired) $(region_attr "$a" pinned)"
check_store "the retired region's device is dead: size ENXIO" ENXIO "$(dsys "$d")/size" 0
check_store "...create: ENXIO" ENXIO "$R/create" 1
check_store "retire again: ENXIO" ENXIO "$R/retire" 1
check "p2pctl's lock is free (another change could take it)" flock -n -x /run/p2pctl.lock true
check "the pin goes (p2pref unloads)" rmmod p2pref
check "p2pctl unbind now unbinds" "$P" unbind --timeout 2 "$a"
check_eq "...the card is unbound, driver_override cleared" "none " \
	"$(basename "$(readlink "$(pci_sys "$a")/driver" || echo none)") $(sed 's/(null)//' "$(pci_sys "$a")/driver_override")"
p2p_unload

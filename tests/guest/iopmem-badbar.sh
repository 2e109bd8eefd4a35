#!/bin/bash
# vm: --bar 256M --device pci-testdev --device qxl
# Unusable BARs fail probe with one clear dmesg line and leave nothing
# behind: no region, no claimed BAR, device disabled, module unloadable.
# A card whose only large BARs are not prefetchable (QEMU's qxl display:
# registers and video memory, like a real card's register BAR) is not
# bound by default: tenants would map and zero them (issue 24); bar= may
# still name one.
. "$(dirname "$0")/../common"
guest_only

iv=$(card 0)
td=$(lspci -D -n -d 1b36:0005 | awk '{ print $1 }')
[ -n "$td" ] || { fail "the pci-testdev of the vm line exists"; exit 1; }
P=/sys/module/iopmem/parameters
p2p_load

# try_bad ADDR BAR MESSAGE
try_bad() {
	local addr=$1 barno=$2 msg=$3 mark lines
	echo "$barno" >$P/bar
	mark=$(dmesg_mark)
	p2p_bind "$addr" && fail "BAR $barno of $addr must not bind" && return
	lines=$(dmesg_since "$mark" | grep -c "iopmem $addr" || true)
	check_eq "BAR $barno of $addr: one dmesg line" 1 "$lines"
	check "BAR $barno of $addr: '$msg'" dmesg_has "$mark" "iopmem $addr: $msg"
	check "BAR $barno of $addr: no dax_region" test ! -e "$(pci_sys "$addr")/dax_region"
	check "BAR $barno of $addr: not bound" test ! -e "$(pci_sys "$addr")/driver"
	check_eq "BAR $barno of $addr: device left disabled" 0 "$(cat "$(pci_sys "$addr")/enable")"
	check_eq "BAR $barno of $addr: nothing claimed in /proc/iomem" 0 "$(grep -c ' : iopmem$' /proc/iomem || true)"
	p2p_unbind "$addr"
}

try_bad "$iv" 5 "BAR 5 is not implemented by the device"
try_bad "$iv" 0 "BAR 0 is smaller than 2 MiB"
try_bad "$td" 1 "BAR 1 is an I/O port BAR, not memory"
try_bad "$td" -1 "no prefetchable memory BAR of at least 2 MiB"
qx=$(lspci -D -n -d 1b36:0100 | awk '{ print $1 }')
[ -n "$qx" ] || { fail "the qxl card of the vm line exists"; exit 1; }
# (the guest's qxl driver may have taken it)
[ ! -e "$(pci_sys "$qx")/driver" ] || echo "$qx" >"$(pci_sys "$qx")/driver/unbind"
check_match "the qxl card's BARs 0 and 1 are 32-bit memory, not prefetchable" \
	"^0x[0-9a-f]+ 0x[0-9a-f]+ 0x0*40200
0x[0-9a-f]+ 0x[0-9a-f]+ 0x0*40200$" "$(head -2 "$(pci_sys "$qx")/resource")"
try_bad "$qx" -1 "no prefetchable memory BAR of at least 2 MiB (name a non-prefetchable one with bar= only if it is plain memory)"
echo 0 >$P/bar
check "bar=0 names the qxl card's non-prefetchable BAR 0: it binds" p2p_bind "$qx"
check_eq "...as BAR 0" "$((16#$(head -1 "$(pci_sys "$qx")/resource" | cut -c3-18)))" \
	"$(($(region_attr "$qx" resource)))"
p2p_unbind "$qx"

echo -1 >$P/bar
check "the good card still binds afterwards" p2p_bind "$iv"
p2p_unbind "$iv"
check "rmmod iopmem after failed probes" rmmod iopmem
check "rmmod dax_core after failed probes" rmmod dax_core

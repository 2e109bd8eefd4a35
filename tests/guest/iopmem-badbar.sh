#!/bin/bash
# vm: --bar 256M --device pci-testdev
# Unusable BARs fail probe with one clear dmesg line and leave nothing
# behind: no region, no claimed BAR, device disabled, module unloadable.
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
try_bad "$td" -1 "no memory BAR of at least 2 MiB"

echo -1 >$P/bar
check "the good card still binds afterwards" p2p_bind "$iv"
p2p_unbind "$iv"
check "rmmod iopmem after failed probes" rmmod iopmem
check "rmmod dax_core after failed probes" rmmod dax_core

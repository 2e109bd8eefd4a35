#!/bin/bash
# vm: --bar 2G --mem 2G
# The EXAMPLES of p2pctl(8), run as written on this guest's 2 GiB card at
# 0000:01:00.0: every command, every line it prints, compared with the page
# (tests/lib/man-examples.py).  On a difference the commands' real output
# is printed, to refresh the page with.  (p2pdax(4)'s example runs in the
# package test, tests/pkg/guest.sh, where udev makes its label links.)
. "$(dirname "$0")/../common"
guest_only
a=$(card 0)
check_eq "the examples' card is this guest's card 0" 0000:01:00.0 "$a"
# fresh numbers: region 0, devices from p2pdax0.0
p2p_unload
p2p_load
mkdir -p /etc/p2pctl
rm -f /etc/p2pctl/layout.json
page=$TOP/Documentation/man/p2pctl.8
# the BAR's address is the firmware's: the page shows the one QEMU 7.2 gave
# it (Debian 12), QEMU 10 (Debian 13) puts it elsewhere; addresses are
# compared as offsets from it (ivshmem-plain's memory is BAR 2: the third
# line of resource)
read -r bar_start bar_end _ < <(sed -n 3p "$(pci_sys "$a")/resource")
check_eq "card 0's BAR 2 is its 2 GiB" $((2 << 30)) $((bar_end - bar_start + 1))
export MAN_EXAMPLES_BAR="0x100000000 $bar_start $((2 << 30))"
rc=0
out=$(PATH=$TOP/tools/p2pctl:$PATH python3 "$TOP/tests/lib/man-examples.py" "$page") || rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
check_eq "every example printed what the page shows" 0 "$rc"
check_match "...comparing more than 100 lines" "^# [0-9]+ commands, [0-9]{3,} output lines compared" \
	"$(grep -E '^# [0-9]+ commands' <<<"$out")"
check_match "...and the extents' two addresses, as offsets in the BAR" "^# 2 addresses in the card's BAR" \
	"$(grep -E "addresses in the card's BAR" <<<"$out")"
if [ "$rc" != 0 ]; then
	# start again and print what the commands print, for the page
	[ ! -e "$(pci_sys "$a")/driver" ] || p2p_unbind "$a"
	p2p_unload
	p2p_load
	rm -f /etc/p2pctl/layout.json
	diag "what the examples print here:"
	PATH=$TOP/tools/p2pctl:$PATH python3 "$TOP/tests/lib/man-examples.py" "$page" --print | sed 's/^/#| /'
fi
[ ! -e "$(pci_sys "$a")/driver" ] || p2p_unbind "$a"
rm -f /etc/p2pctl/layout.json
p2p_unload

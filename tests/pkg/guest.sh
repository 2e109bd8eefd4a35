#!/bin/bash
# In the guest of tests/host/package.sh: only what iopmem-dkms and p2pctl
# installed on the (shared) host root is used, never the source tree's build.
. "$(dirname "$0")/../common"
guest_only
P=/usr/sbin/p2pctl
a=$(card 0)
kver=$(uname -r)

check "modprobe iopmem (pulls in dax_core)" modprobe iopmem
check_eq "modprobe iopmem loads /lib/modules/$kver/updates/dkms/iopmem.ko" \
	"/lib/modules/$kver/updates/dkms/iopmem.ko" "$(modinfo -n iopmem)"
check "dax_core is loaded" mod_loaded dax_core
check_match "p2pctl bind" '"id": 0' "$("$P" bind "$a")"

# udevd, as on a real system, with the package's rule
mkdir -p /run/udev
/lib/systemd/systemd-udevd --daemon
udevadm settle -t 30
mkdir -p /etc/p2pctl
check_match "create a tenant device for uid 1001, labelled" '"owner": "1001"' \
	"$("$P" create-device -r 0 -s 16M --label tenant1 --owner 1001 --group 1001 --mode 0640)"
udevadm settle -t 30
check "udev links it as /dev/p2pdax/by-label/tenant1" test -c /dev/p2pdax/by-label/tenant1
check_eq "its node is 1001:1001 640 once udev is done" "1001:1001 640" "$(stat -c '%u:%g %a' /dev/p2pdax0.0)"
check "save the layout where the rule reads it" "$P" save /etc/p2pctl/layout.json
# the tenant's device comes back (after a rebind, by hand, with another
# number): the kernel creates the node root:root 0600; when it gets its
# label, the packaged rule restores the saved owner and mode
"$P" unbind "$a"
udevadm settle -t 30
check "node and link gone with the card" test ! -e /dev/p2pdax0.0 -a ! -e /dev/p2pdax/by-label/tenant1
"$P" bind "$a" >/dev/null
d=$("$P" create-device -r 0 -s 16M --label tenant1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["chardev"])')
udevadm settle -t 30
check "the new device has a new number ($d)" test "$d" != p2pdax0.0
check_eq "udev gave the new node 1001:1001 640" "1001:1001 640" "$(stat -c '%u:%g %a' "/dev/$d")"
check_eq "...and the label link leads to it" "/dev/$d" "$(readlink -f /dev/p2pdax/by-label/tenant1)"
"$P" unbind "$a"
udevadm control --exit
check "rmmod iopmem dax_core" rmmod iopmem dax_core

#!/bin/bash
# vm: --bar 16G --mem 2G --nvme 101G
# The administrator's examples, run as the documents write them: README.md's
# "On real hardware" and Documentation/deployment.rst (tests/lib/doc-examples.py
# reads them out of the documents, so an edited example is the one that
# runs).  Only the documents' PCI addresses are replaced by this guest's:
# 0000:03:00.0 is the card (16 GiB, for the 16G device), 0000:04:00.0 the
# NVMe drive (101 GiB, sparse, for the transfer at 100G).  sudo is a shim
# that runs the command (the guest runs as root).  The modules are installed
# as "From source" installs them, so that `modprobe iopmem` finds them.
# Every example is run here or named with why it cannot be: an example this
# test does not know fails it.
. "$(dirname "$0")/../common"
guest_only
a=$(card 0)
# (no udev loads drivers in the guest; the nvme driver probes in the
# background)
modprobe nvme
for _ in $(seq 100); do [ -b /dev/nvme0n1 ] && break; sleep 0.1; done
[ -b /dev/nvme0n1 ] || { fail "the NVMe namespace of the vm line exists (/dev/nvme0n1)"; exit 1; }
nv=$(basename "$(readlink -f /sys/class/nvme/nvme0/device)")
check "...on the NVMe drive $nv" test -e "$(pci_sys "$nv")/nvme"
p2p_unload

# sudo, and p2pctl as built; alice, the README's tenant
bin=$(mktemp -d)
printf '#!/bin/sh\nexec "$@"\n' >"$bin/sudo"
chmod +x "$bin/sudo"
export PATH=$bin:$TOP/tools/p2pctl:$PATH
id alice >/dev/null 2>&1 || useradd --no-create-home --user-group alice
check "the README's tenant alice exists" id alice
# "From source": the modules where modprobe finds them.  (A module tree of
# their own, with the kernel's list of built-ins, mounted over the
# kernel's for the test: depmod over the whole tree reads every module
# through 9p, 85 s under TCG.  The drivers the test needs, nvme, are loaded
# before.)
kver=$(uname -r)
mods=/run/iopmem/modtree
mkdir -p "$mods/lib/modules/$kver/updates/iopmem"
cp "/lib/modules/$kver"/modules.builtin* "/lib/modules/$kver/modules.order" "$mods/lib/modules/$kver/"
cp "$KO_DAX" "$KO_IOPMEM" "$mods/lib/modules/$kver/updates/iopmem/"
depmod -b "$mods" "$kver"
mount --bind "$mods/lib/modules/$kver" "/lib/modules/$kver"
check_eq "modprobe finds the built iopmem" "/lib/modules/$kver/updates/iopmem/iopmem.ko" \
	"$(modinfo -n iopmem)"

# the documents' addresses, this guest's
subst() { sed -e "s/0000:03:00\.0/$a/g" -e "s/0000:04:00\.0/$nv/g"; }
# run CMD: as a shell would, its output in $OUT, its status in $RC
run() {
	RC=0
	OUT=$(bash -c "$1" 2>&1) || RC=$?
	printf '%s\n' "$OUT" | sed 's/^/#   | /'
}
mkdir -p /etc/p2pctl
rm -f /etc/p2pctl/layout.json

# ---- README.md, "On real hardware" ---------------------------------------------
mapfile -t ex < <(python3 "$TOP/tests/lib/doc-examples.py" "$TOP/README.md" "On real hardware" | subst)
check_eq "README's 'On real hardware' has its 5 examples" 5 "${#ex[@]}"
for cmd in "${ex[@]}"; do
	diag "\$ $cmd"
	run "$cmd"
	case $cmd in
	"sudo modprobe iopmem")
		check_eq "$cmd: exit 0" 0 "$RC"
		check "...dax_core and iopmem are loaded" sh -c 'test -d /sys/module/iopmem -a -d /sys/module/dax_core'
		;;
	"sudo p2pctl bind $a")
		check_eq "$cmd: exit 0" 0 "$RC"
		check_eq "...prints the region as JSON" "$a $((16 << 30))" \
			"$(jq -r '"\(.pci) \(.size)"' <<<"$OUT" 2>/dev/null || true)"
		;;
	"sudo p2pctl create-device -r $a -s 16G -a 2M --label alice-buf --owner alice")
		check_eq "$cmd: exit 0" 0 "$RC"
		dev=$(jq -r '.chardev' <<<"$OUT" 2>/dev/null || true)
		check_eq "...a 16 GiB device with 2 MiB align, labelled alice-buf" "$((16 << 30)) 2097152 alice-buf" \
			"$(jq -r '"\(.size) \(.align) \(.label)"' <<<"$OUT" 2>/dev/null || true)"
		check_eq "...its node is alice's" "alice 600" "$(stat -c '%U %a' "/dev/$dev" 2>&1 || true)"
		;;
	"sudo p2pctl save /etc/p2pctl/layout.json")
		check_eq "$cmd: exit 0" 0 "$RC"
		check_eq "...the layout names alice-buf, owned by alice" "alice-buf alice" \
			"$(jq -r '.regions[0].devices[] | select(.label == "alice-buf") | "\(.label) \(.owner)"' \
				/etc/p2pctl/layout.json 2>/dev/null || true)"
		;;
	"sudo p2pctl check --peer $nv -r $a")
		check_eq "$cmd: exit 0" 0 "$RC"
		check_match "...a verdict, as the README shows" \
			'^(direct|via-root-complex|no) (switch|root-complex|host-bridges)' \
			"$(jq -r '"\(.verdict) \(.route)"' <<<"$OUT" 2>/dev/null || true)"
		;;
	*)
		fail "an example this test does not know: $cmd"
		;;
	esac
done
# (and the prose's: unbind, which also clears driver_override)
cmd="sudo p2pctl unbind $a"
diag "\$ $cmd"
run "$cmd"
drv=$(readlink "$(pci_sys "$a")/driver") && drv=$(basename "$drv") || drv=none
check_eq "$cmd: exit 0, the card unbound, driver_override cleared" "0 none ''" \
	"$RC $drv '$(sed 's/(null)//' "$(pci_sys "$a")/driver_override")'"

# ---- Documentation/deployment.rst ------------------------------------------------
mapfile -t ex < <(python3 "$TOP/tests/lib/doc-examples.py" "$TOP/Documentation/deployment.rst" | subst)
check_eq "deployment.rst has its 4 commands and 1 file" "4 1" \
	"$(printf '%s\n' "${ex[@]}" | grep -cv '^FILE \|^| ') $(printf '%s\n' "${ex[@]}" | grep -c '^FILE ')"
rule=
i=0
while [ "$i" -lt "${#ex[@]}" ]; do
	cmd=${ex[i]}
	i=$((i + 1))
	case $cmd in
	"sudo p2pctl check --peer $nv --transfer /dev/nvme0n1:100G")
		check "the card is bound for it" p2p_bind "$a"
		diag "\$ $cmd"
		run "$cmd"
		check_eq "$cmd: exit 0" 0 "$RC"
		check_eq "...2 MiB each way at 100 GiB of the drive, compared, the drive restored" \
			"/dev/nvme0n1 $((100 << 30)) 2097152 ok ok true" \
			"$(jq -r '.transfer | [.block_device, .offset, .bytes, .card_to_peer, .peer_to_card, .restored] | map(tostring) | join(" ")' <<<"$OUT" 2>/dev/null || true)"
		p2p_unbind "$a"
		;;
	"sudo apt install ./iopmem-dkms_*.deb ./p2pctl_*.deb")
		diag "not run here: tests/host/package.sh installs both packages (apt-get install) on the host and boots a guest with them"
		;;
	"sudo mokutil --import /var/lib/dkms/mok.pub" | "sudo reboot")
		diag "not run here: '$cmd': the testbed boots without UEFI Secure Boot (SeaBIOS), so there is no MOK to enroll"
		;;
	"FILE /etc/udev/rules.d/70-iopmem-cards.rules")
		rule=/etc/udev/rules.d/70-iopmem-cards.rules
		: >"$rule"
		while [ "$i" -lt "${#ex[@]}" ] && [[ ${ex[i]} == '| '* ]]; do
			printf '%s\n' "${ex[i]#| }" >>"$rule"
			i=$((i + 1))
		done
		diag "$rule:"
		sed 's/^/#   | /' "$rule"
		;;
	*)
		fail "an example this test does not know: $cmd"
		;;
	esac
done
# the rule at work, as at boot: the card appears (removed, then found by a
# rescan) before iopmem is loaded; udev keeps every other driver off it,
# and iopmem takes it when it loads
check "the rule is the document's" test -s "$rule"
modprobe -r iopmem
mkdir -p /run/udev
/lib/systemd/systemd-udevd --daemon
udevadm settle -t 30 || true
echo 1 >"$(pci_sys "$a")/remove"
check "the card is gone" test ! -e "$(pci_sys "$a")"
echo 1 >/sys/bus/pci/rescan
udevadm settle -t 30 || true
check_eq "found again, udev set its driver_override to iopmem" iopmem "$(cat "$(pci_sys "$a")/driver_override" 2>&1)"
echo "$a" >/sys/bus/pci/drivers_probe 2>/dev/null || true
check "...so no other driver binds it (drivers_probe)" test ! -e "$(pci_sys "$a")/driver"
check "modprobe iopmem" modprobe iopmem
drv=$(readlink "$(pci_sys "$a")/driver") && drv=$(basename "$drv") || drv=none
check_eq "...binds it, with its region" "iopmem yes" \
	"$drv $([ -e "$(pci_sys "$a")/dax_region" ] && echo yes || echo no)"
udevadm control --exit || true
rm -f "$rule"
p2p_unbind "$a"

p2p_unload
umount "/lib/modules/$kver"
rm -rf "$mods" "$bin" /etc/p2pctl/layout.json

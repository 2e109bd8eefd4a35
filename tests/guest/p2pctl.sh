#!/bin/bash
# vm: --bar 256M --bar 256M
# p2pctl: every command, its errors (message on stderr, non-zero exit, no
# change), and a save -> unbind -> bind -> apply round trip.
. "$(dirname "$0")/../common"
guest_only

P=$TOP/tools/p2pctl/p2pctl
a=$(card 0) b=$(card 1)
M=$MiB

# run_err WHAT MESSAGE CMD...: CMD fails (exit != 0) saying MESSAGE on stderr
run_err() {
	local what=$1 msg=$2 out rc=0
	shift 2
	out=$("$@" 2>&1 >/dev/null) || rc=$?
	if [ "$rc" != 0 ] && [[ $out == *"$msg"* ]]; then
		pass "$what"
	else
		fail "$what" "exit $rc, stderr: $out"
	fi
}
# jq_ FILTER: jq -r (a C program: python3 takes about a second to start in
# a TCG guest, jq a tenth of that)
jq_() { jq -r "$1"; }

insmod "$KO_DAX"
run_err "bind without the driver loaded" "iopmem driver is not loaded" "$P" bind "$a"
insmod "$KO_IOPMEM"
check_eq "list with no regions is an empty array" "[]" "$("$P" list | tr -d ' \n')"
run_err "bind: not a PCI address" "is not a PCI address" "$P" bind nonsense
run_err "bind: no such device" "no PCI device 0000:7f:00.0" "$P" bind 0000:7f:00.0
rng=$(lspci -D -n -d 1af4:1005 | awk '{ print $1 }')
run_err "bind: a card bound to another driver" "is bound to virtio-pci" "$P" bind "$rng"
run_err "bind --bar 9" "--bar takes 0-5" "$P" bind "$a" --bar 9
run_err "bind --bar 5: probe fails, dmesg line relayed" "BAR 5 is not implemented by the device" "$P" bind "$a" --bar 5
check "failed bind left the card unbound" test ! -e "$(pci_sys "$a")/driver"
check_eq "failed bind restored the bar parameter" -1 "$(</sys/module/iopmem/parameters/bar)"
for v in 8K 4096x 0 3M -2M ""; do
	run_err "bind --min-align '$v'" "--min-align takes 4K, 2M or 1G, not '$v'" "$P" bind "$a" --min-align "$v"
done
check "refused --min-align left the card unbound" test ! -e "$(pci_sys "$a")/driver"
check_eq "...and the min_align parameter as it was" 4096 "$(</sys/module/iopmem/parameters/min_align)"
run_err "unbind: a card not bound" "is not bound to iopmem" "$P" unbind "$a"
run_err "create-device on a card not bound" "$a is not bound to iopmem (p2pctl bind $a)" "$P" create-device -r "$a" -s 2M
run_err "list -r a card not bound" "is not bound to iopmem" "$P" list -r "$a"

out=$("$P" bind "$a")
check_eq "bind prints the region" "$a 0" "$(echo "$out" | jq_ '.pci, .id' | tr '\n' ' ' | sed 's/ $//')"
out=$("$P" bind "$b" --bar 2)
check_eq "bind --bar 2 prints region 1 with bar 2" "1 2" "$(echo "$out" | jq_ '.id, .bar' | tr '\n' ' ' | sed 's/ $//')"
check_eq "bind twice is harmless" 0 "$("$P" bind "$a" | jq_ '.id')"

# ---- list ----------------------------------------------------------------------------
out=$("$P" list)
check_eq "list: two regions" 2 "$(echo "$out" | jq_ 'length')"
check_eq "list: region fields" "$a 0 268435456 268435456 2097152 4096 wc" \
	"$(echo "$out" | jq_ '.[0] | [.pci, .id, .size, .available_size, .align, .min_align, .cache_mode] | map(tostring) | join(" ")')"
check_eq "list -r PCI" 1 "$("$P" list -r "$b" | jq_ '.[0].id')"
check_eq "list -r ID" "$b" "$("$P" list -r 1 | jq_ '.[0].pci')"
check_eq "list -u: human units" "256.00 MiB" "$("$P" list -u -r 0 | jq_ '.[0].size')"
check_eq "list -D: no sized devices yet" 0 "$("$P" list -D -r 0 | jq_ '.[0].devices | length')"
check_eq "list -i: the idle seed" p2pdax0.0 "$("$P" list -i -r 0 | jq_ '.[0].devices[0].chardev')"
run_err "list -r unknown region" "region 7 not found" "$P" list -r 7
run_err "list -r junk" "neither a region id nor a PCI address" "$P" list -r x7
run_err "list -d unknown device" "device p2pdax0.9 not found" "$P" list -d p2pdax0.9
run_err "list -d junk (no device, no label)" "no device has the label \"dax0.0\"" "$P" list -d dax0.0
run_err "list -d a malformed name or label" "'a/b' is not a device (p2pdaxR.N, /dev/p2pdaxR.N, R.N, a label or /dev/p2pdax/by-label/LABEL)" \
	"$P" list -d a/b
run_err "list -d /dev/ without p2pdax" "is not a device" "$P" list -d /dev/0.0
check_eq "list -r all is every region" "$("$P" list)" "$("$P" list -r all)"
run_err "list: unknown option" "bad option" "$P" list --bogus

# ---- create-device ---------------------------------------------------------------------
out=$("$P" create-device -r 0 -s 32M --label t0 --owner 1001 --group 1001 --mode 0640)
check_eq "create-device prints the device" "p2pdax0.0 t0 33554432 1001 1001 0640" \
	"$(echo "$out" | jq_ '[.chardev, .label, .size, .owner, .group, .mode] | map(tostring) | join(" ")')"
check_eq "the label is in sysfs" t0 "$(</sys/class/p2pdax/p2pdax0.0/label)"
check_eq "the node has that owner and mode" "1001:1001 640" "$(stat -c '%u:%g %a' /dev/p2pdax0.0)"
"$P" create-device -r "$a" -s 16M --label t1 >/dev/null
"$P" create-device -r 0 -s 32M --label t2 >/dev/null
check_eq "three devices" "p2pdax0.0 p2pdax0.1 p2pdax0.2" "$("$P" list -D -r 0 | jq_ '[.[0].devices[].chardev] | join(" ")')"
before=$("$P" list -M -i)
run_err "create: no region" "-r REGION and -s SIZE are required" "$P" create-device -s 2M
run_err "create: bad size" "bad size '12Q': unknown suffix" "$P" create-device -r 0 -s 12Q
run_err "create: negative size" "bad size '-2M': sizes cannot be negative" "$P" create-device -r 0 -s -2M
run_err "create: -r all refused" "create-device carves one region" "$P" create-device -r all -s 2M
run_err "create: overflowing size" "too large" "$P" create-device -r 0 -s 99999999999999999999
run_err "create: size 0" "must not be 0" "$P" create-device -r 0 -s 0
run_err "create: too large" "not enough free space" "$P" create-device -r 0 -s 1G -a 4K
run_err "create: misaligned size" "is not a multiple" "$P" create-device -r 0 -s 3M
run_err "create: bad align" "bad align '8K'" "$P" create-device -r 0 -s 2M -a 8K
run_err "create: align larger than the region allows" "larger than region 0 allows" "$P" create-device -r 0 -s 1G -a 1G
run_err "create: unknown region" "region 5 not found" "$P" create-device -r 5 -s 2M
run_err "create: unknown user" "no such user 'nosuchuser'" "$P" create-device -r 0 -s 2M --owner nosuchuser
run_err "create: uid -1 (chown's 'unchanged')" "no such user '4294967295'" "$P" create-device -r 0 -s 2M --owner 4294967295
run_err "create: bad mode" "bad mode '0999'" "$P" create-device -r 0 -s 2M --mode 0999
run_err "create: a label another device has" 'label "t0" is already taken by p2pdax0.0' \
	"$P" create-device -r 0 -s 2M --label t0
run_err "create: a bad label" "bad label 'a b': only letters" "$P" create-device -r 0 -s 2M --label 'a b'
run_err "create: a label starting with '-'" "bad label '-x': must start" "$P" create-device -r 0 -s 2M --label=-x
run_err "create: a label of 64 characters" "longer than 63" "$P" create-device -r 0 -s 2M --label "$(printf 'a%.0s' $(seq 64))"
run_err "create with a label, too large: the label is taken back" "not enough free space" \
	"$P" create-device -r 0 -s 1G -a 4K --label big
run_err "create as a non-root user" "permission denied" setpriv --reuid=1001 --regid=1001 --clear-groups "$P" create-device -r 0 -s 2M
check_eq "failed creates changed nothing" "$before" "$("$P" list -M -i)"

# ---- resize / set-owner / destroy ------------------------------------------------------------
check_eq "resize-device grows" 37748736 "$("$P" resize-device p2pdax0.2 -s 36M | jq_ '.size')"
check_eq "resize-device shrinks" 33554432 "$("$P" resize-device p2pdax0.2 -s 32M | jq_ '.size')"
run_err "resize: unknown device" "device p2pdax0.9 not found" "$P" resize-device p2pdax0.9 -s 2M
run_err "resize: not a device name, nor a label" "no device has the label \"foo\"" "$P" resize-device foo -s 2M
check_eq "resize-device /dev/p2pdaxR.N" 35651584 "$("$P" resize-device /dev/p2pdax0.2 -s 34M | jq_ '.size')"
check_eq "resize-device R.N" 33554432 "$("$P" resize-device 0.2 -s 32M | jq_ '.size')"
check_eq "list -d R.N" p2pdax0.2 "$("$P" list -d 0.2 | jq_ '.[0].chardev')"
check_eq "list -d /dev/p2pdaxR.N" p2pdax0.2 "$("$P" list -d /dev/p2pdax0.2 | jq_ '.[0].chardev')"
check_eq "sizes are decimal: 010M is 10 MiB" 10485760 "$("$P" resize-device 0.2 -s 010M | jq_ '.size')"
"$P" resize-device 0.2 -s 32M >/dev/null
run_err "resize: hexadecimal refused, saying why" "bad size '0x200000': hexadecimal is not accepted" \
	"$P" resize-device 0.2 -s 0x200000
run_err "resize: leading zeros in a device name refused (then it is a label nobody has)" \
	"no device has the label \"0.02\"" "$P" resize-device 0.02 -s 2M
run_err "resize: no size" "-s SIZE are required" "$P" resize-device p2pdax0.2
run_err "resize: beyond the region" "not enough free space" "$P" resize-device p2pdax0.2 -s 512M
check_eq "set-owner changes the mode" 0600 "$("$P" set-owner p2pdax0.2 --mode 600 | jq_ '.mode')"
check_eq "set-owner gives root's node an owner" 1002 "$("$P" set-owner p2pdax0.2 --owner 1002 | jq_ '.owner')"
# a tenant's node is that tenant's for the device's life (like its label)
run_err "set-owner to another tenant: refused" "p2pdax0.2 belongs to 1002 for its life" \
	"$P" set-owner p2pdax0.2 --owner 1003
run_err "...back to root too (a later hand-over)" "p2pdax0.2 belongs to 1002 for its life" \
	"$P" set-owner p2pdax0.2 --owner 0 --mode 600
check_eq "set-owner gives root's group a group" "1002 1002" "$("$P" set-owner p2pdax0.2 --group 1002 | jq_ '.owner + " " + .group')"
run_err "...and then keeps it" "p2pdax0.2 belongs to group 1002 for its life" "$P" set-owner p2pdax0.2 --group 1003
seed=$(region_attr "$a" seed)
run_err "set-owner of the seed (the next device, whoever's): refused" "$seed is region 0's seed, which becomes the next device" \
	"$P" set-owner "$seed" --owner 1004
check_eq "...it stays root's" "0:0" "$(stat -c '%u:%g' "/dev/$seed")"
check_eq "set-owner with the owner it has: fine" 1002 "$("$P" set-owner p2pdax0.2 --owner 1002 | jq_ '.owner')"
check_eq "...the refusals changed nothing" "1002:1002 600" "$(stat -c '%u:%g %a' /dev/p2pdax0.2)"
run_err "set-owner with nothing to set" "nothing to set" "$P" set-owner p2pdax0.2
run_err "set-owner: unknown group" "no such group" "$P" set-owner p2pdax0.2 --group nosuchgroup
check_eq "set-owner /dev/p2pdaxR.N" 0640 "$("$P" set-owner /dev/p2pdax0.2 --mode 640 | jq_ '.mode')"
"$P" set-owner 0.2 --mode 600 >/dev/null
# a device by its label, or by udev's link to it (udevd does not run here:
# the path is read as the label it names)
check_eq "list -d LABEL" p2pdax0.0 "$("$P" list -d t0 | jq_ '.[0].chardev')"
check_eq "set-owner by label" "p2pdax0.0 0600" "$("$P" set-owner t0 --mode 600 | jq_ '.chardev + " " + .mode')"
check_eq "set-owner /dev/p2pdax/by-label/LABEL" "p2pdax0.0 0640" \
	"$("$P" set-owner /dev/p2pdax/by-label/t0 --mode 640 | jq_ '.chardev + " " + .mode')"
run_err "a label nobody has" 'no device has the label "nobody"' "$P" resize-device /dev/p2pdax/by-label/nobody -s 2M
seed=$(region_attr "$a" seed)
run_err "destroy the seed" "is region 0's seed" "$P" destroy-device "$seed"
run_err "destroy: unknown device" "device p2pdax0.9 not found" "$P" destroy-device p2pdax0.9
check "destroy-device p2pdax0.1" "$P" destroy-device p2pdax0.1
check "destroyed device is gone" test ! -e /sys/class/p2pdax/p2pdax0.1
"$P" resize-device p2pdax0.2 -s 40M >/dev/null
"$P" create-device -r 0 -s 8M -a 4K --mode 0660 --label t3 >/dev/null
check_eq "the next seed does not take the deleted device's number" p2pdax0.4 "$(region_attr "$a" seed)"
"$P" create-device -r 1 -s all --owner 1002 --label t4 >/dev/null
# ---- set-label -------------------------------------------------------------------------
# a label is given once, to a device that holds no memory and is not open,
# and stays for the device's life: a device never changes hands
run_err "set-label: a labelled device keeps its label" \
	"p2pdax0.2 has the label \"t2\" for its life" "$P" set-label 0.2 t2b
run_err "set-label \"\" too" "p2pdax0.2 has the label \"t2\" for its life" "$P" set-label 0.2 ''
check_eq "set-label: the label it has (changes nothing)" t2 "$("$P" set-label 0.2 t2 | jq_ '.label')"
run_err "set-label: a label another device has" 'label "t0" is already taken by p2pdax0.0' "$P" set-label 0.2 t0
run_err "set-label: a bad label" "bad label 'x/y'" "$P" set-label 0.2 x/y
run_err "set-label: no label argument" "DEVICE and LABEL expected" "$P" set-label 0.2
check_eq "refused set-labels changed nothing" t2 "$(</sys/class/p2pdax/p2pdax0.2/label)"
t6=$("$P" create-device -r 0 -s 2M --owner 1001 | jq_ .chardev)
"$P" resize-device "$t6" -s 0 >/dev/null
run_err "set-label: a device given to a tenant (set-owner) is refused" \
	"$t6 was given to 1001:0 (set-owner): a label would hand it to the label's tenant" "$P" set-label "$t6" t6b
"$P" destroy-device "$t6" >/dev/null
t5=$("$P" create-device -r 0 -s 2M --mode 0660 | jq_ .chardev)
run_err "set-label: an unlabelled device that holds memory is refused" \
	"$t5 holds 2097152 bytes: a label would hand them to a tenant" "$P" set-label "$t5" t5b
"$P" resize-device "$t5" -s 0 >/dev/null
exec {od}<>"/dev/$t5"
run_err "set-label: an open device is refused" "$t5 is open (a process holds or maps it)" "$P" set-label "$t5" t5c
exec {od}>&-
check_eq "...the label, owner and mode are as they were" " 0 660" \
	"$(</sys/class/p2pdax/"$t5"/label) $(stat -c '%u %a' "/dev/$t5")"
check_eq "set-label of an unlabelled device of size 0" t5b "$("$P" set-label "$t5" t5b | jq_ '.label')"
check_eq "...whose node went to root, 0600 first (no layout names t5b)" "0 0 600" "$(stat -c '%u %g %a' "/dev/$t5")"
run_err "...and then keeps it" "$t5 has the label \"t5b\" for its life" "$P" set-label "$t5" ''
"$P" destroy-device "$t5" >/dev/null
check_eq "-s all takes the whole region" 0 "$("$P" list -r 1 | jq_ '.[0].available_size')"
check_eq "completion: regions by id and PCI address, and all" \
	"$(printf '%s\n' 0 1 "$a" "$b" all | sort | tr '\n' ' ')" \
	"$(complete_line 'p2pctl list -r ' | tr '\n' ' ')"
check_eq "completion: devices" "$(ls /sys/class/p2pdax | grep '^p2pdax0\.' | sort | tr '\n' ' ')" \
	"$(complete_line 'p2pctl resize-device p2pdax0' | tr '\n' ' ')"
check_eq "completion: bind offers PCI addresses" "$a" "$(complete_line "p2pctl bind ${a%.*}")"
check_eq "completion: devices by label too" "t0 t2 t3 t4" "$(complete_line 'p2pctl resize-device t' | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "completion: version and help are commands" "help version" \
	"$(complete_line 'p2pctl ' | grep -xE 'help|version' | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "unbind's options complete" "--help --timeout" "$(complete_line 'p2pctl unbind --' | sort | tr '\n' ' ' | sed 's/ $//')"
check_match "help names version and help" "'p2pctl version' \(--version\).*'p2pctl help' \(--help\)" "$("$P" help | tr '\n' ' ')"
check_match "create-device -u prints human units" '"size": "2.00 MiB"' \
	"$("$P" create-device -r 0 -s 2M -u --label human1 | tee /run/iopmem/human.json)"
check_match "resize-device -u too" '"size": "4.00 MiB"' "$("$P" resize-device human1 -s 4M -u)"
check_match "...and both say so in their usage" "\[-u\].*\[-u\]" \
	"$("$P" create-device --help; "$P" resize-device --help)"
"$P" destroy-device human1 >/dev/null
check_eq "p2pctl version is the package's" "$(awk -F'[()]' 'NR == 1 { print $2; exit }' "$TOP/debian/changelog")" "$("$P" version)"
check_eq "a fragmented device for the round trip" 2 "$("$P" list -M -d p2pdax0.2 | jq_ '.[0].extents | length')"

# ---- save / unbind / bind / apply ---------------------------------------------------------
# devices by label, and the layout as p2pctl shows it minus device numbers
devname() { "$P" list -D | jq_ "[.[].devices[] | select(.label == \"$1\") | .chardev][0]"; }
shape() {
	"$P" list -M | python3 -c 'import json, sys
d = json.load(sys.stdin)
for r in d:
    for x in r.get("devices", []):
        x.pop("chardev")
print(json.dumps(d, sort_keys=True))'
}
L=/run/iopmem/layout.json
check "save FILE" "$P" save "$L"
check_eq "save: two regions in the file" 2 "$(jq_ '.regions | length' <"$L")"
check_eq "save: the file is 0600" 600 "$(stat -c %a "$L")"
check_eq "save: labels in the file (t1 was destroyed)" "t0 t2 t3 t4" \
	"$(jq_ '[.regions[].devices[].label] | sort | join(" ")' <"$L")"
before=$(shape)
old_names=$("$P" list -D | jq_ '[.[].devices[].chardev] | join(" ")')
check "unbind card 0" "$P" unbind "$a"
check "unbind card 1" "$P" unbind "$b"
check "the regions are gone" test ! -e "$(pci_sys "$a")/dax_region" -a ! -e "$(pci_sys "$b")/dax_region"
# all or nothing: the second region cannot be applied (its size is not the
# layout's), so the first is put back as it was: no device, card unbound
jq '.regions[1].size = 1073741824' "$L" >/run/iopmem/half.json
run_err "apply of a layout whose second region fails: refused" \
	"region is 268435456 bytes, the layout wants 1073741824" "$P" apply /run/iopmem/half.json
bound=0
for c in "$a" "$b"; do [ ! -e "$(pci_sys "$c")/driver" ] || bound=$((bound + 1)); done
check_eq "...and the first region is put back: both cards unbound, no device" "0 0" \
	"$bound $(find /sys/class/p2pdax -mindepth 1 -maxdepth 1 | wc -l)"
"$P" bind "$a" >/dev/null
run_err "...and with card 0 bound beforehand, that card stays bound (it was not apply's)" \
	"the layout wants 1073741824" "$P" apply /run/iopmem/half.json
check_eq "...with only its seed" "iopmem $(region_attr "$a" seed)" \
	"$(basename "$(readlink "$(pci_sys "$a")/driver")") $(find /sys/class/p2pdax -mindepth 1 -maxdepth 1 -printf '%f\n')"
check "apply (binds card 1 itself)" "$P" apply "$L"
check_eq "after apply: same labels, sizes, extents, owners" "$before" "$(shape)"
new_names=$("$P" list -D | jq_ '[.[].devices[].chardev] | join(" ")')
reused=$(comm -12 <(tr ' ' '\n' <<<"$old_names" | sort) <(tr ' ' '\n' <<<"$new_names" | sort))
check_eq "no device name was reused" "" "$reused"
check "apply again" "$P" apply "$L"
check_eq "apply is idempotent" "$before" "$(shape)"
t0=$(devname t0)
check_eq "owner restored (by label)" "1001:1001 640" "$(stat -c '%u:%g %a' "/dev/$t0")"
chmod 0666 "/dev/$t0"
check "apply --owners-only" "$P" apply --owners-only "$L"
check_eq "--owners-only restores the mode" 640 "$(stat -c '%a' "/dev/$t0")"
chmod 0666 "/dev/$t0"
check "apply --owners-only --device (another device)" "$P" apply --owners-only --device "$(devname t2)" "$L"
check_eq "--device touches only that device" 666 "$(stat -c '%a' "/dev/$t0")"
"$P" apply --owners-only "$L"
run_err "apply --device without --owners-only" "--device goes with --owners-only" "$P" apply --device "$t0" "$L"
run_err "apply --owners-only --device a/b" "'a/b' is not a device" "$P" apply --owners-only --device a/b "$L"
run_err "apply --owners-only --device with a label nobody has" 'no device has the label "junk"' \
	"$P" apply --owners-only --device junk "$L"
chmod 0666 "/dev/$t0"
check "apply --owners-only --device by label (t0)" "$P" apply --owners-only --device t0 "$L"
check_eq "...restores that device's mode" 640 "$(stat -c '%a' "/dev/$t0")"
# all or nothing: an owner this host does not know is refused before any
# device is made
"$P" save /run/iopmem/before-ghost.json
jq_ '(.regions[].devices[] | select(.label == "t0") | .owner) = "ghost-user-x"' <"$L" >/run/iopmem/ghost.json
run_err "apply with an owner this host does not know: refused" 'the owner of "t0" is not known here; nothing applied' \
	"$P" apply /run/iopmem/ghost.json
check_eq "...changing nothing" "$(cat /run/iopmem/before-ghost.json)" "$("$P" save)"
# a layout that gives t0's device (1001's) to another tenant: refused, both ways
jq_ '(.regions[].devices[] | select(.label == "t0") | .owner) = "1009"' <"$L" >/run/iopmem/other.json
run_err "apply of a layout giving a tenant's device to another: refused" "belongs to 1001 for its life" \
	"$P" apply /run/iopmem/other.json
run_err "...apply --owners-only too" "belongs to 1001 for its life" "$P" apply --owners-only /run/iopmem/other.json
check_eq "...changing nothing" "$(cat /run/iopmem/before-ghost.json)" "$("$P" save)"

echo '{"version": 1, "regions": [' >/run/iopmem/bad.json
run_err "apply a malformed file" "not valid JSON" "$P" apply /run/iopmem/bad.json
echo '{"version": 1, "regions": [{"pci": "0000:7f:00.0", "devices": []}]}' >/run/iopmem/bad.json
run_err "apply: a card that does not exist" "no PCI device 0000:7f:00.0" "$P" apply /run/iopmem/bad.json
run_err "apply: missing file" "cannot open" "$P" apply /run/iopmem/none.json
python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
del d["regions"][0]["devices"][1]["label"]
json.dump(d, open(sys.argv[2], "w"))' "$L" /run/iopmem/nolabel.json
run_err "apply: a device without a label is refused" "has no label; apply matches devices by label" \
	"$P" apply /run/iopmem/nolabel.json
"$P" destroy-device "$(devname t3)"
before=$("$P" list -M -i)
run_err "apply over a region that differs" "destroy" "$P" apply "$L"
check_eq "refused apply changed nothing" "$before" "$("$P" list -M -i)"
check_eq "save to stdout is valid JSON" 1 "$("$P" save | jq_ '.version')"
run_err "save: bad argument" "at most one FILE" "$P" save a b
ln -sf /run/iopmem/victim "$L.tmp"
check "save does not follow a planted <file>.tmp link" "$P" save "$L"
check "...the link's target was not written" test ! -e /run/iopmem/victim
ln -sf /run/iopmem/victim2 /run/iopmem/link.json
check "save over a symlink replaces the link" "$P" save /run/iopmem/link.json
check "...and not its target" test ! -e /run/iopmem/victim2 -a ! -L /run/iopmem/link.json
(umask 0; "$P" save /run/iopmem/umask.json)
check_eq "save ignores a permissive umask (0600)" 600 "$(stat -c %a /run/iopmem/umask.json)"
run_err "save into a missing directory" "cannot create a file next to /nonexistent/l.json" "$P" save /nonexistent/l.json

# ---- the udev rule and the systemd unit, installed into this guest's tmpfs root ----------
mkdir -p /etc/p2pctl
"$P" save /etc/p2pctl/layout.json
check "make install-tools" make -s -C "$TOP" install-tools DESTDIR=/ PREFIX=/usr/local
# (the rule's other command, p2pctl cdi for every device, is cdi.sh's)
udev_run() { udev_runs "$1" "$2" | grep -v ' cdi ' || true; }
t0=$(devname t0)
check_eq "udev runs p2pctl for a labelled p2pdax node, naming it" \
	"/usr/local/sbin/p2pctl apply --owners-only --device $t0 /etc/p2pctl/layout.json" "$(udev_run "$t0" add)"
check_eq "...and when a label changes" \
	"/usr/local/sbin/p2pctl apply --owners-only --device $t0 /etc/p2pctl/layout.json" "$(udev_run "$t0" change)"
check_match "udev links it as /dev/p2pdax/by-label/t0" "DEVLINKS=.*/dev/p2pdax/by-label/t0" \
	"$(udevadm test --action=add "/sys/class/p2pdax/$t0" 2>&1)"
check_eq "udev runs no apply for a device without a label" "" "$(udev_run "$(region_attr "$a" seed)" add)"
chmod 0666 "/dev/$t0"
check "the udev command works" $(udev_run "$t0" add)
check_eq "...and restores the node's mode" 640 "$(stat -c '%a' "/dev/$t0")"
# a stale layout: its names now belong to other tenants' devices, its labels
# to nobody; the rule must change nobody's device
"$P" create-device -r 0 -s 2M --label newtenant --owner 1003 --mode 0600 >/dev/null
nt=$(devname newtenant)
python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
names = [sys.argv[3]] + sys.argv[4:]
for r in d["regions"]:
    for i, x in enumerate(r["devices"]):
        x["name"] = names[i % len(names)] if i < len(names) else "p2pdax9.%d" % i
        x["label"] = "gone-" + x["label"]
        x["owner"] = "1001"
        x["mode"] = "0666"
json.dump(d, open(sys.argv[2], "w"))' /etc/p2pctl/layout.json /run/iopmem/stale.json "$nt" \
	$(ls /sys/class/p2pdax | grep -vx "$nt")
before=$(stat -c '%u:%g %a' /dev/p2pdax*)
check "the udev command with a stale layout" "$P" apply --owners-only --device "$nt" /run/iopmem/stale.json
check "apply --owners-only with a stale layout" "$P" apply --owners-only /run/iopmem/stale.json
check_eq "a stale layout changed nobody's device" "$before" "$(stat -c '%u:%g %a' /dev/p2pdax*)"
check "systemd accepts the unit (systemd-analyze verify)" \
	systemd-analyze verify /etc/systemd/system/p2pctl-apply.service
check_eq "...which writes the CDI specs once the layout is back" \
	"ExecStartPost=-/usr/local/sbin/p2pctl cdi --quiet|ExecStartPost=-/bin/sh -c 'test ! -e /etc/cdi/iopmem.io-p2pdax.json || exec /usr/local/sbin/p2pctl cdi --static --quiet'" \
	"$(grep '^ExecStartPost=' /etc/systemd/system/p2pctl-apply.service | paste -sd'|')"
check_match "...and first empties a static one (it names the last boot's device numbers)" \
	"^ExecStartPre=/bin/sh -c 'test ! -e /etc/cdi/iopmem.io-p2pdax.json \|\| exec /usr/local/sbin/p2pctl cdi --static --quiet'$" \
	"$(grep '^ExecStartPre=/bin/sh' /etc/systemd/system/p2pctl-apply.service)"
check_match "...which runs before the container runtimes start containers again" \
	"^Before=.*docker\.service.*containerd\.service.*podman\.service.*podman-restart\.service.*kubelet\.service" \
	"$(grep '^Before=' /etc/systemd/system/p2pctl-apply.service)"

# ---- two administrators at once: 2 x 50 concurrent creates never share a device -------------
"$P" unbind "$b"
"$P" bind "$b" >/dev/null
rb=$("$P" list -r "$b" | jq_ '.[0].id')
for who in A B; do
	(for i in $(seq 50); do
		if out=$("$P" create-device -r "$rb" -s 1M -a 4K --label "c$who$i" 2>/run/iopmem/err.$who); then
			echo "$out" | jq_ '.chardev + " " + .label'
		else
			echo "FAILED c$who$i: $(</run/iopmem/err.$who)"
		fi
	done >"/run/iopmem/creates.$who") &
done
wait
check_eq "100 creates, none failed" "100 0" \
	"$(cat /run/iopmem/creates.A /run/iopmem/creates.B | wc -l) $(cat /run/iopmem/creates.A /run/iopmem/creates.B | grep -c FAILED || true)"
check_eq "100 different devices" 100 "$(cat /run/iopmem/creates.A /run/iopmem/creates.B | awk '{ print $1 }' | sort -u | wc -l)"
bad=
while read -r dev label; do
	[ "$(<"/sys/class/p2pdax/$dev/label")" = "$label" ] && [ "$(<"/sys/class/p2pdax/$dev/size")" = 1048576 ] ||
		bad="$bad $dev"
done < <(cat /run/iopmem/creates.A /run/iopmem/creates.B)
check_eq "each device is exactly what its creator asked for (label, size)" "" "$bad"
"$P" unbind "$a"
"$P" unbind "$b"

# ---- bind --min-align, and min_align in a layout ---------------------------------------------
out=$("$P" bind "$b" --min-align 2M)
check_eq "bind --min-align 2M: the region's min_align" 2097152 "$(echo "$out" | jq_ '.min_align')"
check_eq "...iopmem's parameter is as it was" 4096 "$(</sys/module/iopmem/parameters/min_align)"
run_err "...bind --min-align 4K on it now: refused" "$b is bound with min_align 2097152, not 4096; unbind it first" \
	"$P" bind "$b" --min-align 4K
run_err "...a 4K-aligned device is refused on it" "'s min_align (2097152)" \
	"$P" create-device -r "$b" -s 2M -a 4K
check "...a 2M-aligned one is not" "$P" create-device -r "$b" -s 2M -a 2M --label m2
"$P" save /run/iopmem/align.json
check_eq "save records min_align" 2097152 "$(jq_ '.regions[0].min_align' </run/iopmem/align.json)"
"$P" destroy-device "$(devname m2)" >/dev/null
"$P" unbind "$b"
"$P" bind "$b" >/dev/null
run_err "apply over a region bound with another min_align: refused" \
	"$b is bound with min_align 4096, not 2097152; unbind it first" "$P" apply /run/iopmem/align.json
check_eq "...changing nothing" "4096 0" \
	"$("$P" list -r "$b" | jq_ '.[0].min_align') $("$P" list -r "$b" -D | jq_ '[.[0].devices[] | select(.size > 0)] | length')"
"$P" unbind "$b"
check "apply binds the card with the layout's min_align" "$P" apply /run/iopmem/align.json
check_eq "...2M, with its device" "2097152 m2" \
	"$("$P" list -r "$b" | jq_ '.[0].min_align') $(</sys/class/p2pdax/"$(devname m2)"/label)"
check_eq "...and the parameter as it was" 4096 "$(</sys/module/iopmem/parameters/min_align)"
"$P" unbind "$b"

# ---- bind --cache (last: it takes region numbers) ------------------------------------------
[ ! -e "$(pci_sys "$a")/driver" ] || "$P" unbind "$a"
for v in WC x "" wc,uc; do
	run_err "bind --cache '$v'" "--cache takes wc, uc or wb, not '$v'" "$P" bind "$a" --cache "$v"
done
check_eq "bind --cache uc binds uncached" uc "$("$P" bind "$a" --cache uc | jq_ '.cache_mode')"
check_eq "...and restores the cache parameter" wc "$(</sys/module/iopmem/parameters/cache)"
run_err "bind --cache wb of a card bound uc: refused" "$a is bound with cache mode uc, not wb; unbind it first" \
	"$P" bind "$a" --cache wb
run_err "bind --bar 0 of a card bound on BAR 2: refused" "$a is bound with BAR 2, not 0; unbind it first" \
	"$P" bind "$a" --bar 0
check_eq "...which changed nothing" "uc" "$("$P" list -r "$a" | jq_ '.[0].cache_mode')"
# apply compares the layout's cache mode and BAR with a bound card's
"$P" save /run/iopmem/cache.json
check_eq "save records the cache mode and the BAR" "uc 2" \
	"$(jq_ '.regions[0] | "\(.cache_mode) \(.bar)"' </run/iopmem/cache.json)"
jq_ '(.regions[0].cache_mode) = "wb"' </run/iopmem/cache.json >/run/iopmem/cache-wb.json
run_err "apply a layout with another cache mode over the bound card: refused" \
	"$a is bound with cache mode uc, not wb; unbind it first" "$P" apply /run/iopmem/cache-wb.json
jq_ '(.regions[0].bar) = 0' </run/iopmem/cache.json >/run/iopmem/bar0.json
run_err "...and one with another BAR" "$a is bound with BAR 2, not 0; unbind it first" \
	"$P" apply /run/iopmem/bar0.json
check_eq "...both changing nothing" "$(cat /run/iopmem/cache.json)" "$("$P" save)"
"$P" unbind "$a"
check "apply binds the card with the layout's cache mode" "$P" apply /run/iopmem/cache.json
check_eq "...uc" uc "$("$P" list -r "$a" | jq_ '.[0].cache_mode')"
"$P" unbind "$a"
p2p_unload

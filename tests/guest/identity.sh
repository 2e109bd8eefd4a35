#!/bin/bash
# vm: --bar 256M --bar 256M
# Identity: a deleted device's name and device number (major:minor) are
# never handed out again while the module is loaded, not even after the card
# is unbound and bound again, so an old udev rule, layout or container grant
# cannot reach the next tenant; and labels (the stable names) are validated,
# unique across cards, carried in the uevent, and freed with their device.
. "$(dirname "$0")/../common"
guest_only
p2p_setup
b=$(card 1)
Rb=$(region_dir "$b")
check "bind card 1" p2p_bind "$b"

names=() devts=()
for i in $(seq 20); do
	d=$(<"$R/seed")
	set_size "$d" $((2 * MiB))
	names+=("$d")
	devts+=("$(stat -c '%t:%T' "/dev/$d")")
	set_size "$d" 0
	echo "$d" >"$R/delete"
done
old=${devts[0]}
check_eq "20 devices created and deleted: 20 different names" 20 "$(printf '%s\n' "${names[@]}" | sort -u | wc -l)"
check_eq "...and 20 different device numbers" 20 "$(printf '%s\n' "${devts[@]}" | sort -u | wc -l)"
# a node made by hand from a deleted device's number opens nothing
mknod /run/iopmem/stale c $((0x${old%:*})) $((0x${old#*:}))
check_match "the deleted device's major:minor opens no device" "No such device|No such device or address" \
	"$(exec 2>&1; : <>/run/iopmem/stale)"
rm -f /run/iopmem/stale
last=$(<"$R/seed")
p2p_unbind "$a"
check "rebind card 0" p2p_bind "$a"
check_eq "the same region id after rebind" "$id" "$(region_attr "$a" id)"
seed=$(<"$R/seed")
check "device numbers go on after a rebind ($last, then $seed)" \
	test "${seed##*.}" -gt "${last##*.}"
check "...and no earlier name comes back" sh -c "! printf '%s\n' ${names[*]} | grep -qx '$seed'"

# ---- labels: given once, for the device's life --------------------------------------
# A label says whose a device is, and what is granted by label (a
# container's device-cgroup rule for its number, a node udev gave an owner)
# outlives every open file: a device never changes hands.  Its label is
# given while it holds no memory and is not open, and stays until it is
# deleted; a new tenant gets a new device (issue 24 let a relabel hand over
# an empty, closed device: a container of the old tenant could still open
# it).
d=$(<"$R/seed")
set_size "$d" $((4 * MiB))
L=$(dsys "$d")/label
check_eq "a new device has no label" "" "$(<"$L")"
check_store "a label for a device that holds memory: EBUSY (a label hands it to a tenant)" EBUSY "$L" "tenant-A.1_x"
check_eq "...and it has none" "" "$(<"$L")"
set_size "$d" 0
check_store "label with a space: EINVAL" EINVAL "$L" "a b"
check_store "label with a slash: EINVAL" EINVAL "$L" "a/b"
check_store "label starting with '.': EINVAL" EINVAL "$L" ".hidden"
check_store "label with a Latin-1 letter: EINVAL (udev would mangle it)" EINVAL "$L" $'t\xe9'
check_store "label starting with '-': EINVAL" EINVAL "$L" "-x"
check_store "label of 64 characters: EINVAL" EINVAL "$L" "$(printf 'a%.0s' $(seq 64))"
check_eq "refused labels gave it none" "" "$(<"$L")"
exec {od}<>"/dev/$d"
check_store "size 0, but open: EBUSY" EBUSY "$L" "tenant-A.1_x"
exec {od}>&-
check_store "size 0 and closed: label: letters, digits, '.', '_', '-'" OK "$L" "tenant-A.1_x"
check_eq "the label reads back" "tenant-A.1_x" "$(<"$L")"
check_match "the uevent carries it" "P2PDAX_LABEL=tenant-A.1_x" "$(cat "$(dsys "$d")/uevent")"
check_store "the same label again: OK (changes nothing)" OK "$L" "tenant-A.1_x"
check_store "another label: EPERM (a label is for the device's life)" EPERM "$L" "tenant-B"
check_store "...nor can it be removed: EPERM" EPERM "$L" $'\n'
e=$(<"$Rb/seed")
check_store "the same label on another card's seed: EEXIST" EEXIST "$(dsys "$e")/label" "tenant-A.1_x"
check_eq "...which keeps no label and stays the seed" " $e" "$(cat "$(dsys "$e")/label") $(<"$Rb/seed")"
check_store "a label of 63 characters, on that seed: OK" OK "$(dsys "$e")/label" "$(printf 'b%.0s' $(seq 63))"
check "...which is a device of its own now: its region planted a new seed" test "$(<"$Rb/seed")" != "$e"
check "...and, empty, it can be deleted with its label" sh -c "echo '$e' >'$Rb/delete'"
set_size "$d" $((4 * MiB))
f=/run/iopmem/relabel
rm -f "$f.in" "$f.out"
mkfifo "$f.in"
"$BIN/p2pmap" hold "/dev/$d" $((4 * MiB)) <"$f.in" >"$f.out" 2>&1 &
hp=$!
exec {hin}>"$f.in"
for _ in $(seq 300); do grep -q mapped "$f.out" && break; sleep 0.1; done
check_eq "a tenant maps the device (its file is closed; the mapping keeps it open)" mapped "$(head -1 "$f.out")"
check_store "relabel while mapped: EPERM" EPERM "$L" "tenant-B"
set_size "$d" 0
exec {hin}>&-
wait "$hp" || true
check_eq "the tenant's next write got SIGBUS (the shrink revoked it)" "SIGBUS" "$(tail -1 "$f.out")"
check_store "size 0, unmapped and closed: still EPERM (a container's rule for its number may remain)" EPERM "$L" "tenant-B"
check_eq "refused relabels changed nothing" "tenant-A.1_x" "$(<"$L")"
echo "$d" >"$R/delete"
e=$(<"$Rb/seed")
check_store "a deleted device's label is free again (for a new device: a new number)" OK "$(dsys "$e")/label" "tenant-A.1_x"
check_eq "label is root-writable, world-readable (0644)" 644 "$(stat -c %a "$(dsys "$e")/label")"
echo "$e" >"$Rb/delete"

# ---- a reload of dax_core (a DKMS upgrade) reuses no number either ------------
# (issue 24: minors restarted at 0 under the same dynamic major)
d=$(<"$R/seed")
set_size "$d" $((2 * MiB))
old=$(stat -c '%t:%T' "/dev/$d")
old_major=$((0x${old%:*}))
set_size "$d" 0
echo "$d" >"$R/delete"
p2p_unbind "$b"
p2p_unbind "$a"
p2p_unload
check_match "unloaded: /proc/devices keeps major $old_major, as p2pdax-retired" \
	"(^|"$'\n'")$old_major p2pdax-retired("$'\n'"|$)" "$(</proc/devices)"
p2p_load
check "bind card 0 again after the reload" p2p_bind "$a"
d=$(<"$R/seed")
set_size "$d" $((2 * MiB))
new=$(stat -c '%t:%T' "/dev/$d")
check "the reloaded dax_core has another major ($old -> $new)" test "$((0x${new%:*}))" != "$old_major"
rm -f /run/iopmem/stale
mknod /run/iopmem/stale c "$old_major" $((0x${old#*:}))
check_match "a node from before the reload opens nothing" "No such device|No such device or address" \
	"$(exec 2>&1; : <>/run/iopmem/stale)"
rm -f /run/iopmem/stale
set_size "$d" 0
p2p_unbind "$a"
p2p_unload

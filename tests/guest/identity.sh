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

# ---- labels --------------------------------------------------------------------------
d=$(<"$R/seed")
set_size "$d" $((4 * MiB))
L=$(dsys "$d")/label
check_eq "a new device has no label" "" "$(<"$L")"
check_store "a label for a device that holds memory: EBUSY (a label hands a device over)" EBUSY "$L" "tenant-A.1_x"
check_eq "...and it has none" "" "$(<"$L")"
set_size "$d" 0
check_store "label: letters, digits, '.', '_', '-'" OK "$L" "tenant-A.1_x"
check_eq "the label reads back" "tenant-A.1_x" "$(<"$L")"
check_match "the uevent carries it" "P2PDAX_LABEL=tenant-A.1_x" "$(cat "$(dsys "$d")/uevent")"
check_store "label with a space: EINVAL" EINVAL "$L" "a b"
check_store "label with a slash: EINVAL" EINVAL "$L" "a/b"
check_store "label starting with '.': EINVAL" EINVAL "$L" ".hidden"
check_store "label with a Latin-1 letter: EINVAL (udev would mangle it)" EINVAL "$L" $'t\xe9'
check_store "label starting with '-': EINVAL" EINVAL "$L" "-x"
check_store "label of 64 characters: EINVAL" EINVAL "$L" "$(printf 'a%.0s' $(seq 64))"
check_store "label of 63 characters: OK" OK "$L" "$(printf 'b%.0s' $(seq 63))"
check_store "label back" OK "$L" "tenant-A.1_x"
check_eq "refused labels changed nothing" "tenant-A.1_x" "$(<"$L")"
e=$(<"$Rb/seed")
check_store "the same label on another card's device: EEXIST" EEXIST "$(dsys "$e")/label" "tenant-A.1_x"
check_eq "...which keeps no label" "" "$(cat "$(dsys "$e")/label")"
check_store "the same label on the same device again: OK" OK "$L" "tenant-A.1_x"
check_store "an empty line removes the label" OK "$L" $'\n'
check_eq "no label now" "" "$(<"$L")"
check "no P2PDAX_LABEL in the uevent" sh -c "! grep -q P2PDAX_LABEL '$(dsys "$d")/uevent'"
check_store "label again" OK "$L" "tenant-A.1_x"

# ---- a new label hands a device over: only while it holds no memory and
# no file of it is open (issue 24: a relabel of a mapped device gave its
# bytes to the new label's owner while the old holder kept them)
set_size "$d" $((4 * MiB))
check_store "relabel while it holds memory: EBUSY" EBUSY "$L" "tenant-B"
check_store "removing its label while it holds memory: EBUSY" EBUSY "$L" $'\n'
check_store "the label it has: OK (changes nothing)" OK "$L" "tenant-A.1_x"
f=/run/iopmem/relabel
rm -f "$f.in" "$f.out"
mkfifo "$f.in"
"$BIN/p2pmap" hold "/dev/$d" $((4 * MiB)) <"$f.in" >"$f.out" 2>&1 &
hp=$!
exec {hin}>"$f.in"
for _ in $(seq 300); do grep -q mapped "$f.out" && break; sleep 0.1; done
check_eq "a tenant maps the device (its file is closed; the mapping keeps it open)" mapped "$(head -1 "$f.out")"
check_store "relabel while mapped: EBUSY" EBUSY "$L" "tenant-B"
set_size "$d" 0
check_store "size 0, but the old tenant still maps it: EBUSY" EBUSY "$L" "tenant-B"
check_store "...nor can its label be removed" EBUSY "$L" $'\n'
exec {hin}>&-
wait "$hp" || true
check_eq "the old tenant's next write got SIGBUS (the shrink revoked it)" "SIGBUS" "$(tail -1 "$f.out")"
exec {od}<>"/dev/$d"
check_store "size 0, unmapped, but open: EBUSY" EBUSY "$L" "tenant-B"
exec {od}>&-
check_eq "refused relabels changed nothing" "tenant-A.1_x" "$(<"$L")"
check_store "size 0 and closed: the new label is accepted" OK "$L" "tenant-B"
check_match "...and the uevent carries it" "P2PDAX_LABEL=tenant-B" "$(cat "$(dsys "$d")/uevent")"
check_store "label back" OK "$L" "tenant-A.1_x"
echo "$d" >"$R/delete"
check_store "a deleted device's label is free again" OK "$(dsys "$e")/label" "tenant-A.1_x"
check_store "the label of a zero-size seed" OK "$(dsys "$(<"$R/seed")")/label" "seedling"
check_eq "label is root-writable, world-readable (0644)" 644 "$(stat -c %a "$(dsys "$e")/label")"

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

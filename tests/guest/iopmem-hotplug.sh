#!/bin/bash
# vm: --bar 256M --bar 256M
# Hot-unplug: QMP device_del of card 0 while a tenant has it mapped (the
# tenant gets SIGBUS on its next access) and RDMA-pinned (the removal waits,
# names the holder and completes once the MR is released), then device_add
# and bind again; 20 times.  Card 1's tenant keeps its
# mapping throughout and its bytes, read from the host's backing file, never
# change.
. "$(dirname "$0")/../common"
guest_only

CYCLES=20
M=$((1 << 20))
a=$(card 0) b=$(card 1)
check "the guest's QMP monitor answers" qmp_open
check "soft-RoCE is up" rxe_setup
p2p_load

# card 1: a tenant that stays mapped through every cycle of card 0
check "bind card 1" p2p_bind "$b"
Rb=$(region_dir "$b")
keep=$(cat "$Rb/seed")
set_size "$keep" $((32 * M))
check "card 1's tenant fills its device" "$BIN/p2pmap" fill "/dev/$keep" 0 $((32 * M)) 61
# hold NAME DEV LEN: a tenant (p2pmap hold) in the background; its stdin is
# fd NAME_in (close it: the tenant writes once more), its stdout fd NAME_out
hold() {
	local f=/run/iopmem/hold.$1
	rm -f "$f.in" "$f.out"
	mkfifo "$f.in" "$f.out"
	"$BIN/p2pmap" hold "$2" "$3" <"$f.in" >"$f.out" &
	printf -v "$1_pid" %s $!
	exec {fd_in}>"$f.in" {fd_out}<"$f.out"
	printf -v "$1_in" %s "$fd_in"
	printf -v "$1_out" %s "$fd_out"
}
hold keep "/dev/$keep" $((4 * M))
read -r line <&"$keep_out"
check_eq "card 1's tenant is mapped" mapped "$line"
"$BIN/p2pmap" fill "/dev/$keep" 0 $((32 * M)) 61	# hold wrote its own bytes

card_present() { [ -e "$(pci_sys "$a")/vendor" ]; }
wait_for() {	# wait_for SECS CMD...: poll CMD every 0.2 s
	local end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
}
card_gone() { ! card_present; }

# QEMU 7.2 aborts (qemu_ram_set_idstr assertion) when a card is added back
# on the memory backend of the deleted one: replace the backend first (same
# host file, so same bytes)
readd() {
	card_present && return 0
	qmp_ok '{"execute": "object-del", "arguments": {"id": "bar0"}}' &&
		qmp_ok "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": \"memory-backend-file\", \"id\": \"bar0\", \"mem-path\": \"$(card_file 0)\", \"size\": $(card_size 0), \"share\": true}}" &&
		qmp_ok '{"execute": "device_add", "arguments": {"driver": "ivshmem-plain", "id": "card0", "memdev": "bar0", "bus": "rp0"}}' &&
		wait_for 60 card_present
}
# put card 0 back for the tests after this one, whatever happened
trap 'rc=$?; readd >/dev/null 2>&1 || true; (exit $rc); t_done' EXIT

ok_cycles=0
for ((c = 1; c <= CYCLES; c++)); do
	good=1
	if ! p2p_bind "$a"; then
		fail "cycle $c: bind card 0"
		break
	fi
	d=$(region_attr "$a" seed)
	set_size "$d" $((16 * M))

	hold tenant "/dev/$d" $((8 * M))
	read -r line <&"$tenant_out"
	[ "$line" = mapped ] || { fail "cycle $c: tenant maps card 0" "$line"; good=0; }
	pin_start "/dev/$d" $((16 * M)) ||
		{ fail "cycle $c: ibv_reg_mr pins card 0's device"; break; }
	mark=$(dmesg_mark)

	qmp_ok '{"execute": "device_del", "arguments": {"id": "card0"}}' ||
		{ fail "cycle $c: device_del card0"; break; }
	# the removal has started (the mapping is revoked) but waits for the pin
	if ! wait_for 30 dmesg_has "$mark" "mapped by p2ppin[$PIN_PID]"; then
		fail "cycle $c: removal waits and names p2ppin[$PIN_PID]" "$(dmesg_since "$mark")"
		good=0
	fi
	card_present || { fail "cycle $c: card 0 stays while pinned"; good=0; }
	dmesg_has "$mark" "teardown waits for 4096 pinned pages" ||
		{ fail "cycle $c: dmesg counts the pinned pages"; good=0; }

	pin_stop
	[ "$(tail -n1 /run/iopmem/pin.out)" = released ] ||
		{ fail "cycle $c: the pin holder deregisters during removal" "$(cat /run/iopmem/pin.out)"; good=0; }
	qmp_wait_event DEVICE_DELETED 60 || { fail "cycle $c: QEMU reports card0 deleted"; break; }
	wait_for 30 card_gone || { fail "cycle $c: card 0 left the guest"; break; }

	# the tenant's next access: SIGBUS
	exec {tenant_in}>&-
	read -r line <&"$tenant_out" || line=
	exec {tenant_out}<&-
	wait "$tenant_pid" 2>/dev/null || true
	[ "$line" = SIGBUS ] || { fail "cycle $c: the tenant's next access gets SIGBUS" "got '$line'"; good=0; }

	readd || { fail "cycle $c: device_add card0 brings card 0 back"; break; }
	[ "$good" = 1 ] && ok_cycles=$((ok_cycles + 1))
done
check_eq "$CYCLES cycles of mapped+pinned removal, SIGBUS, re-add" "$CYCLES" "$ok_cycles"
check "card 0 binds after the last cycle" p2p_bind "$a"

# card 1 was never touched
check "card 1's tenant still maps its device" "$BIN/p2pmap" check "/dev/$keep" 0 $((32 * M)) 61
check "card 1's bytes in the host file are the pattern" check_bytes "$b" "$keep" 61
exec {keep_in}>&-
read -r line <&"$keep_out"
check_eq "card 1's tenant writes to the end" OK "$line"

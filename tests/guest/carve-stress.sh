#!/bin/bash
# vm: --bar 256M
# Stores and faults against each other: for a few seconds, processes fault
# devices in (and die of SIGBUS when a shrink revokes their range) while
# others resize the devices, read their attributes and create and delete
# devices.  Afterwards the region is consistent, fresh memory reads zero and
# the kernel log is clean.
. "$(dirname "$0")/../common"
guest_only

M=$MiB
p2p_setup
S=$(<"$R/seed"); set_size "$S" $((64 * M))
U=$(<"$R/seed"); echo 4096 >"$(dsys "$U")/align"; set_size "$U" $((32 * M))
end=$((SECONDS + 8))

toucher() {	# DEV LEN
	local n=0
	while [ $SECONDS -lt $end ]; do
		"$BIN/p2pmap" touch "/dev/$1" "$2" >/dev/null 2>&1
		n=$((n + 1))
	done
	echo "$n"
}
resizer() {	# DEV SMALL BIG
	local n=0 busy=0
	while [ $SECONDS -lt $end ]; do
		echo "$2" >"$(dsys "$1")/size" 2>/dev/null || busy=$((busy + 1))
		echo "$3" >"$(dsys "$1")/size" 2>/dev/null || busy=$((busy + 1))
		n=$((n + 2))
	done
	echo "$n $busy"
}
churner() {
	local n=0 d
	while [ $SECONDS -lt $end ]; do
		d=$(<"$R/seed")
		[ -n "$d" ] || continue
		echo $((2 * M)) >"$(dsys "$d")/size" 2>/dev/null || continue
		cat "$(dsys "$d")/extents" "$R/available_size" >/dev/null
		echo 0 >"$(dsys "$d")/size"
		echo "$d" >"$R/delete"
		n=$((n + 1))
	done
	echo "$n"
}
reader() {
	local n=0
	while [ $SECONDS -lt $end ]; do
		cat "$(dsys "$S")/extents" "$(dsys "$U")/size" "$R/available_size" >/dev/null 2>&1
		n=$((n + 1))
	done
	echo "$n"
}

toucher "$S" $((32 * M)) >/run/iopmem/t1 &
toucher "$U" $((16 * M)) >/run/iopmem/t2 &
resizer "$S" $((32 * M)) $((64 * M)) >/run/iopmem/r1 &
resizer "$U" $((16 * M)) $((32 * M)) >/run/iopmem/r2 &
churner >/run/iopmem/c &
reader >/run/iopmem/rd &
wait
diag "touch runs: $(</run/iopmem/t1) + $(</run/iopmem/t2); resizes (refused): $(</run/iopmem/r1) / $(</run/iopmem/r2); create+delete: $(</run/iopmem/c); reads: $(</run/iopmem/rd)"
check "faulting ran" test "$(</run/iopmem/t1)" -gt 0
check "resizing ran" test "$(cut -d' ' -f1 /run/iopmem/r1)" -gt 0
check "create/delete ran" test "$(</run/iopmem/c)" -gt 0
check_region "the storm" "$a"
check_store "devices still resize" OK "$(dsys "$S")/size" $((32 * M))
touch_quiet() { "$BIN/p2pmap" touch "$@" >/dev/null; }
check "and still map" touch_quiet "/dev/$S" $((32 * M))
n=$(<"$R/seed")
set_size "$n" $((64 * M))
check "memory freed in the storm reads zero in a new device" "$BIN/p2pmap" zero "/dev/$n" 0 $((64 * M))
p2p_unbind "$a"
p2p_unload

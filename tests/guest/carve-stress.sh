#!/bin/bash
# vm: --bar 256M
# Stores and faults against each other: for a few seconds, processes map
# all of a device and fault it in, over and over (a SIGBUS when a shrink
# revokes the range under them: they map again), while others shrink the
# devices below what is being touched and grow them back, read their
# attributes and create and delete devices.  Revocations must really race
# the touchers: each counts the SIGBUS it got on a page its mapping had
# already faulted in (only a zap of a live entry raises that one), the
# resizers count successful shrinks, all above zero.  Afterwards the region is consistent, fresh
# memory reads zero and the kernel log is clean.
. "$(dirname "$0")/../common"
guest_only

M=$MiB
p2p_setup
S=$(<"$R/seed"); set_size "$S" $((64 * M))
U=$(<"$R/seed"); echo 4096 >"$(dsys "$U")/align"; set_size "$U" $((16 * M))
STOP=/run/iopmem/stress.stop
rm -f "$STOP" /run/iopmem/whole.*

toucher() {	# DEV LEN: "whole N refused N revoked N mapfail N" (p2pmap storm)
	"$BIN/p2pmap" storm "/dev/$1" "$2" 600 "/run/iopmem/whole.$1"
}
# whole DEV: how many times DEV's toucher has faulted all of it in
whole() { local n=0; [ ! -e "/run/iopmem/whole.$1" ] || n=$(<"/run/iopmem/whole.$1"); echo "${n:-0}"; }
# Five rounds, each after the toucher has faulted the whole device in
# again (however long that takes: seconds on the debug kernel), so that
# shrinks revoke live entries.  (Three were once too few: two debug guests
# at once, one toucher took no SIGBUS on a page it had faulted in.)
resizer() {	# DEV SMALL BIG: "SHRINKS GROWS REFUSED" (writes that succeeded)
	local shrunk=0 grown=0 refused=0 k w t
	for k in 1 2 3 4 5; do
		w=$(whole "$1")
		for ((t = 0; t < 600; t++)); do
			[ "$(whole "$1")" -gt "$w" ] && break
			sleep 0.1
		done
		if echo "$2" >"$(dsys "$1")/size" 2>/dev/null; then
			shrunk=$((shrunk + 1))
		else
			refused=$((refused + 1))
		fi
		if echo "$3" >"$(dsys "$1")/size" 2>/dev/null; then
			grown=$((grown + 1))
		else
			refused=$((refused + 1))
		fi
	done
	echo "$shrunk $grown $refused"
}
churner() {
	local n=0 d
	while [ ! -e "$STOP" ]; do
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
	while [ ! -e "$STOP" ]; do
		cat "$(dsys "$S")/extents" "$(dsys "$U")/size" "$R/available_size" >/dev/null 2>&1
		n=$((n + 1))
	done
	echo "$n"
}

# the touchers map the devices whole: every shrink revokes what they touch
toucher "$S" $((64 * M)) >/run/iopmem/t1 &
toucher "$U" $((16 * M)) >/run/iopmem/t2 &
churner >/run/iopmem/c &
reader >/run/iopmem/rd &
resizer "$S" $((32 * M)) $((64 * M)) >/run/iopmem/r1 &
r1=$!
resizer "$U" $((8 * M)) $((16 * M)) >/run/iopmem/r2 &
r2=$!
wait "$r1" "$r2"
touch "$STOP" /run/iopmem/whole.$S.stop /run/iopmem/whole.$U.stop
wait
diag "touchers: $(</run/iopmem/t1) / $(</run/iopmem/t2); shrinks grows refused: $(</run/iopmem/r1) / $(</run/iopmem/r2); create+delete: $(</run/iopmem/c); reads: $(</run/iopmem/rd)"
read -r _ p1 _ _ _ b1 _ _ </run/iopmem/t1
read -r _ p2 _ _ _ b2 _ _ </run/iopmem/t2
read -r s1 g1 _ </run/iopmem/r1
read -r s2 g2 _ </run/iopmem/r2
check "both touchers faulted their whole device in ($p1 + $p2 times)" test "$p1" -gt 0 -a "$p2" -gt 0
check "shrinks revoked live entries under both touchers: SIGBUS on pages already faulted in ($b1 + $b2)" \
	test "$b1" -gt 0 -a "$b2" -gt 0
check "the shrinks under them succeeded ($s1 + $s2) and so did the regrowths ($g1 + $g2)" \
	test "$s1" -gt 0 -a "$s2" -gt 0 -a "$g1" -gt 0 -a "$g2" -gt 0
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

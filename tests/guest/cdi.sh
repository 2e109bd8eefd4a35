#!/bin/bash
# vm: --bar 256M --bar 256M
# p2pctl cdi: the CDI spec of the labelled devices, as the devices come, grow,
# change hands and go; --check, --static, --output; what it refuses (a spec
# not its own, a link, bad arguments) and leaves unchanged; the uevent a
# resize sends and the udev rule's commands.  (With udevd and a container
# runtime: tests/pkg/guest.sh.)
. "$(dirname "$0")/../common"
guest_only

P=$TOP/tools/p2pctl/p2pctl
a=$(card 0)
SPEC=/var/run/cdi/iopmem.io-p2pdax.json
STATIC=/etc/cdi/iopmem.io-p2pdax.json
jq_() { jq -r "$1"; }
devname() { "$P" list -D | jq_ "[.[].devices[] | select(.label == \"$1\") | .chardev][0]"; }
# entry LABEL FIELD: a field of LABEL's entry in $SPEC (node.X or env.X)
entry() {
	jq -r --arg l "$1" --arg f "$2" '.devices[] | select(.name == $l) | .containerEdits |
		if ($f | startswith("node.")) then .deviceNodes[0][$f[5:]]
		else (.env[] | select(startswith($f[4:] + "=")) | sub("^[^=]*="; "")) end' "${3:-$SPEC}"
}
cleanup() {
	rm -f "$SPEC" "$STATIC"
	p2p_unbind "$a" 2>/dev/null
	p2p_unload 2>/dev/null
}
trap 'rc=$?; cleanup; (exit $rc); t_done' EXIT
rm -f "$SPEC" "$STATIC"

p2p_load
"$P" bind "$a" >/dev/null
r=$("$P" list -r "$a" | jq_ '.[0].id')
"$P" create-device -r "$r" -s 16M --label tenant1 --owner 1001 --group 1002 --mode 0640 >/dev/null
"$P" create-device -r "$r" -s 32M -a 4K --label tenant2 >/dev/null
"$P" create-device -r "$r" -s 8M >/dev/null
t1=$(devname tenant1) t2=$(devname tenant2)

# ---- the spec ---------------------------------------------------------------------------
out=$("$P" cdi) && rc=0 || rc=$?
check_eq "p2pctl cdi: exit 0, prints the spec's path and its devices" "0 $SPEC tenant1,tenant2 true" \
	"$rc $(jq_ '[.spec, (.devices | join(",")), .written] | map(tostring) | join(" ")' <<<"$out")"
check_eq "the spec is a regular file, root's, mode 0644" "root 644 regular file" "$(stat -c '%U %a %F' "$SPEC")"
check_eq "kind iopmem.io/p2pdax, cdiVersion 0.5.0" "iopmem.io/p2pdax 0.5.0" "$(jq_ '.kind + " " + .cdiVersion' <"$SPEC")"
check_eq "two devices, by label: the unlabelled one is not named" "tenant1 tenant2" \
	"$(jq_ '[.devices[].name] | join(" ")' <"$SPEC")"
IFS=: read -r maj min <"/sys/class/p2pdax/$t1/dev"
check_eq "tenant1: its node, a char device with the node's numbers" "/dev/$t1 c $maj $min rw" \
	"$(entry tenant1 node.path) $(entry tenant1 node.type) $(entry tenant1 node.major) $(entry tenant1 node.minor) $(entry tenant1 node.permissions)"
check_eq "...no owner, group or mode (the runtime's: the container's user)" "null null null" \
	"$(entry tenant1 node.uid) $(entry tenant1 node.gid) $(entry tenant1 node.fileMode)"
"$P" set-owner tenant1 --mode 0600 >/dev/null
check "...so the spec does not go stale when the node's mode changes (--check: current)" "$P" cdi -C -q
check_eq "...env: node, label, size, align" "/dev/$t1 tenant1 16777216 2097152" \
	"$(entry tenant1 env.P2PDAX_DEVICE) $(entry tenant1 env.P2PDAX_LABEL) $(entry tenant1 env.P2PDAX_SIZE) $(entry tenant1 env.P2PDAX_ALIGN)"
check_eq "tenant2: 32 MiB at align 4096, its own minor" "33554432 4096 $(cut -d: -f2 "/sys/class/p2pdax/$t2/dev")" \
	"$(entry tenant2 env.P2PDAX_SIZE) $(entry tenant2 env.P2PDAX_ALIGN) $(entry tenant2 node.minor)"
was=$(stat -c '%i %y' "$SPEC")
check_eq "p2pctl cdi --check: current (exit 0)" "0 true" \
	"$("$P" cdi --check >/run/iopmem/c.out && echo 0 || echo $?) $(jq_ .current </run/iopmem/c.out)"
check_eq "--check wrote nothing (same inode, same mtime)" "$was" "$(stat -c '%i %y' "$SPEC")"
check_eq "-q: nothing on stdout" "" "$("$P" cdi -q)"
# its own lock: an unbind waiting for pins holds p2pctl's; the spec must not wait
flock /run/p2pctl.lock sleep 30 &
holder=$!
sleep 1
check "p2pctl cdi does not wait for p2pctl's lock (held by another command)" timeout 10 "$P" cdi -q
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null || true

# ---- as devices change -------------------------------------------------------------------------
"$P" resize-device "$t1" -s 64M >/dev/null
run_rc "after a resize, --check: out of date, naming it" 1 "\"tenant1\" is out of date" "$P" cdi -C
before=$(stat -c %i "$SPEC")
"$P" cdi -q
check_eq "p2pctl cdi: the new size" 67108864 "$(entry tenant1 env.P2PDAX_SIZE)"
check "...in a new file renamed over the old (not rewritten in place)" test "$(stat -c %i "$SPEC")" != "$before"
check_eq "...no temporary file left beside it" "iopmem.io-p2pdax.json" "$(ls -A /var/run/cdi)"
old_minor=$(cut -d: -f2 "/sys/class/p2pdax/$t2/dev")
"$P" destroy-device "$t2" >/dev/null
run_rc "a device deleted: --check names what the spec still grants" 1 "\"tenant2\" is no labelled device" "$P" cdi -C
"$P" cdi -q
check_eq "p2pctl cdi: only tenant1 left" "tenant1" "$(jq_ '[.devices[].name] | join(" ")' <"$SPEC")"
check_eq "...and no entry has tenant2's old minor $old_minor" "" \
	"$(jq_ ".devices[].containerEdits.deviceNodes[] | select(.minor == $old_minor) | .path" <"$SPEC")"

# a label that cannot name a CDI device: left out, said, exit 1; the rest written
"$P" create-device -r "$r" -s 2M --label tail- >/dev/null
run_rc "label 'tail-': left out, saying why (exit 1)" 1 \
	"label \"tail-\" cannot name a CDI device (a CDI device name starts and ends with a letter or a digit): left out of the spec" \
	"$P" cdi
check_eq "...the spec names the others" "tenant1" "$(jq_ '[.devices[].name] | join(" ")' <"$SPEC")"
"$P" destroy-device "$(devname tail-)" >/dev/null

# ---- where it writes -------------------------------------------------------------------------
check_eq "--static: $STATIC" "$STATIC tenant1" "$("$P" cdi --static | jq_ '.spec + " " + (.devices | join(","))')"
check_eq "...0644" 644 "$(stat -c %a "$STATIC")"
check "--output FILE" "$P" cdi --output /run/iopmem/mine.json -q
check "...the same spec as the generated one" cmp -s /run/iopmem/mine.json "$SPEC"
run_rc "--static with --output: refused (exit 2)" 2 "--static and --output name two places: give one" \
	"$P" cdi --static -f /run/iopmem/x.json
for f in /run/iopmem/spec.yaml /run/iopmem/ ""; do
	run_rc "--output '$f': refused (exit 2)" 2 "--output" "$P" cdi -f "$f"
done
check "...and none of them wrote a file" test ! -e /run/iopmem/spec.yaml -a ! -e /run/iopmem/x.json
run_rc "an argument: refused" 2 "unexpected argument 'now'" "$P" cdi now
run_rc "an unknown option: refused" 2 "bad option" "$P" cdi --frob
run_rc "--output in a missing directory" 1 "cannot create a file next to /run/iopmem/nodir/s.json" \
	"$P" cdi -f /run/iopmem/nodir/s.json

# ---- files that are not its own -------------------------------------------------------------
echo '{"cdiVersion": "0.5.0", "kind": "nvidia.com/gpu", "devices": []}' >/run/iopmem/gpu.json
sum=$(md5sum </run/iopmem/gpu.json)
run_rc "a spec of another kind: refused" 1 "/run/iopmem/gpu.json is not a spec of p2pctl's (its \"kind\" is not \"iopmem.io/p2pdax\"): not touched" \
	"$P" cdi -f /run/iopmem/gpu.json
check_eq "...and left as it was" "$sum" "$(md5sum </run/iopmem/gpu.json)"
echo 'kind: vendor.com/x' >/run/iopmem/yaml.json
run_rc "a file that is not JSON: refused" 1 "/run/iopmem/yaml.json is not JSON" "$P" cdi -f /run/iopmem/yaml.json
check_eq "...and left as it was" "kind: vendor.com/x" "$(cat /run/iopmem/yaml.json)"
echo keep >/run/iopmem/target
ln -sf /run/iopmem/target /run/iopmem/link.json
run_rc "a link at the spec's place: refused" 1 "/run/iopmem/link.json is not a regular file" "$P" cdi -f /run/iopmem/link.json
check_eq "...its target untouched" keep "$(cat /run/iopmem/target)"
check_eq "...the --check of a file not its own fails too" 1 \
	"$("$P" cdi -C -f /run/iopmem/gpu.json >/dev/null 2>&1 && echo 0 || echo $?)"

# ---- nothing labelled: no spec ------------------------------------------------------------------
"$P" destroy-device "$t1" >/dev/null
check_eq "nothing labelled: p2pctl cdi removes the spec" "false no" \
	"$("$P" cdi | jq_ .written) $([ -e "$SPEC" ] && echo yes || echo no)"
check "...and --check says that is current" "$P" cdi -C -q
"$P" cdi --static -q
check_eq "...the static one stays, naming no device (the rule and the boot unit keep updating it)" "iopmem.io/p2pdax 0" \
	"$(jq_ '.kind + " " + (.devices | length | tostring)' <"$STATIC")"
check "...and --check --static says that is current" "$P" cdi -C -S -q
rm -f "$STATIC"

# ---- the kernel's events and the udev rule ------------------------------------------------------
"$P" create-device -r "$r" -s 4M --label ev >/dev/null
ev=$(devname ev)
udevadm monitor --kernel --property --subsystem-match=p2pdax >/run/iopmem/uevents 2>&1 &
mon=$!
sleep 1
"$P" resize-device "$ev" -s 8M >/dev/null
echo bogus >"/sys/class/p2pdax/$ev/size" 2>/dev/null || true
sleep 1
kill "$mon"
wait "$mon" 2>/dev/null
check_eq "a resize sends one change uevent, P2PDAX_CHANGE=size with the label (a refused one none)" \
	"1 1 1" "$(grep -c '^ACTION=change' /run/iopmem/uevents) $(grep -c '^P2PDAX_CHANGE=size' /run/iopmem/uevents) $(grep -c '^P2PDAX_LABEL=ev' /run/iopmem/uevents)"
check "make install-tools" make -s -C "$TOP" install-tools DESTDIR=/ PREFIX=/usr/local
udev_run() { udev_runs "$1" "$2"; }
check_eq "udev: p2pctl cdi on a device's add, change and remove" \
	"/usr/local/sbin/p2pctl cdi --quiet|/usr/local/sbin/p2pctl cdi --quiet|/usr/local/sbin/p2pctl cdi --quiet" \
	"$(for act in add change remove; do udev_run "$ev" "$act" | grep cdi || true; done | paste -sd'|')"
seed=$(region_attr "$a" seed)
check_eq "...and for a device without a label" "/usr/local/sbin/p2pctl cdi --quiet" "$(udev_run "$seed" add)"
"$P" cdi --static -q
check_eq "...and the static spec too, once there is one" \
	"/usr/local/sbin/p2pctl cdi --quiet /usr/local/sbin/p2pctl cdi --static --quiet" \
	"$(udev_run "$ev" remove | paste -sd' ')"
"$P" destroy-device "$ev" >/dev/null
check "the udev commands work" /usr/local/sbin/p2pctl cdi --quiet
check "...both" /usr/local/sbin/p2pctl cdi --static --quiet
check_eq "...leaving no generated spec and an empty static one (nothing is labelled)" "no 0" \
	"$([ -e "$SPEC" ] && echo yes || echo no) $(jq_ '.devices | length' <"$STATIC")"
# a boot: the static spec still names the last boot's device numbers; the
# unit's first step (before the runtimes, before the layout) empties it
echo '{"cdiVersion": "0.5.0", "kind": "iopmem.io/p2pdax", "devices": [{"name": "old", "containerEdits": {"deviceNodes": [{"path": "/dev/p2pdax0.7", "type": "c", "major": 250, "minor": 7}]}}]}' >"$STATIC"
pre=$(sed -n "s/^ExecStartPre=\/bin\/sh -c '\(.*\)'$/\1/p" /etc/systemd/system/p2pctl-apply.service)
check "the unit's step for the static spec runs" sh -c "$pre"
check_eq "...and the last boot's entry is gone" 0 "$(jq_ '.devices | length' <"$STATIC")"
rm -f /etc/udev/rules.d/80-p2pdax.rules /etc/systemd/system/p2pctl-apply.service

#!/bin/bash
# vm: --bar 256M --bar 256M
# Tenants in containers, the standard way (issue 25): podman and crun from
# Debian, given p2pdax devices by CDI name from the spec p2pctl cdi writes.
# A container given tenant1 maps it and writes a pattern (checked in the
# card's host file) and does RDMA into it (soft-RoCE); one given tenant2,
# or nothing, cannot open tenant1's device even after making its node (the
# device cgroup); after tenant1 is deleted the runtime refuses its name.
# No registry: the container's root is this guest's own root (--rootfs),
# podman's storage on tmpfs.
. "$(dirname "$0")/../common"
guest_only
command -v podman >/dev/null && command -v crun >/dev/null ||
	skip_all "podman and crun are not installed (scripts/install-deps.sh base installs them)"
rxe_setup >/dev/null 2>&1 || { fail "rdma_rxe is available (modprobe rdma_rxe, rdma link add)"; exit 1; }

P=$TOP/tools/p2pctl/p2pctl
a=$(card 0)
M=$MiB
jq_() { jq -r "$1"; }
devname() { "$P" list -D | jq_ "[.[].devices[] | select(.label == \"$1\") | .chardev][0]"; }

# podman, rootful, everything it keeps on tmpfs; crun and cgroup v2 (the
# device cgroup is crun's eBPF program), no network, no image
C=/run/iopmem/containers
mkdir -p "$C"
if ! mountpoint -q /sys/fs/cgroup; then
	mount -t cgroup2 cgroup2 /sys/fs/cgroup
fi
cat >"$C/containers.conf" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "crun"
[containers]
netns = "none"
EOF
export CONTAINERS_CONF=$C/containers.conf
pod() {
	podman --root "$C/storage" --runroot "$C/run" --storage-driver vfs --tmpdir "$C/tmp" "$@"
}
# the container's root: this guest's root, bound elsewhere (pivot_root
# cannot make the current root mount the new one), without its submounts
mkdir -p "$C/rootfs"
mountpoint -q "$C/rootfs" || mount --bind / "$C/rootfs"
# ctr OPTIONS... -- CMD...: run CMD in a new container (--network none
# unless OPTIONS say otherwise); its output and exit status
ctr() {
	local opts=() net=(--network none)
	while [ "$1" != -- ]; do
		[ "$1" != --network ] || net=()
		opts+=("$1")
		shift
	done
	shift
	# (--rootfs takes no value: the first argument after the options is
	# the root directory)
	pod run --rm "${net[@]}" "${opts[@]}" --rootfs "$C/rootfs" "$@" 2>&1
}
cleanup() {
	pod rm -af >/dev/null 2>&1
	umount "$C/rootfs" 2>/dev/null
	rm -f /var/run/cdi/iopmem.io-p2pdax.json
	p2p_unbind "$a" 2>/dev/null
	p2p_unload 2>/dev/null
}
trap 'rc=$?; cleanup; (exit $rc); t_done' EXIT
diag "$(podman --version), $(crun --version | head -n 1), cgroup $(stat -fc %T /sys/fs/cgroup)"

p2p_load
"$P" bind "$a" >/dev/null
r=$("$P" list -r "$a" | jq_ '.[0].id')
"$P" create-device -r "$r" -s 16M --label tenant1 >/dev/null
"$P" create-device -r "$r" -s 16M --label tenant2 >/dev/null
t1=$(devname tenant1) t2=$(devname tenant2)
IFS=: read -r maj1 min1 <"/sys/class/p2pdax/$t1/dev"
check "p2pctl cdi writes the spec" "$P" cdi -q

# ---- tenant1's container -----------------------------------------------------------------------
out=$(ctr --device iopmem.io/p2pdax=tenant1 -- sh -c 'ls /dev | grep p2pdax; echo "$P2PDAX_DEVICE $P2PDAX_SIZE"')
check_eq "--device iopmem.io/p2pdax=tenant1: only its node in the container, and its env" \
	"$t1
/dev/$t1 16777216" "$out"
out=$(ctr --device iopmem.io/p2pdax=tenant1 -- "$BIN/p2pmap" fill "/dev/$t1" 0 $((16 * M)) 91) && rc=0 || rc=$?
check_eq "the container maps its device and writes 16 MiB of a pattern" "0" "$rc${out:+ $out}"
check "...the bytes are in the card (host file)" check_bytes "$a" "$t1" 91
out=$(ctr --user 1001:1001 --device iopmem.io/p2pdax=tenant1 -- sh -c \
	"stat -c '%u %a' /dev/$t1 && '$BIN/p2pmap' check /dev/$t1 0 $((16 * M)) 91") && rc=0 || rc=$?
check_match "a container running as uid 1001 gets the node as its own and reads the pattern back" "^1001 [0-7]+ 0$" \
	"$(tr '\n' ' ' <<<"$out")$rc"
# (udev would load ib_uverbs for rxe0; devtmpfs then makes its node)
modprobe ib_uverbs
uverbs=()
for u in /dev/infiniband/uverbs*; do [ -c "$u" ] && uverbs+=(--device "$u"); done
check_eq "soft-RoCE's verbs node for the container" "--device /dev/infiniband/uverbs0" "${uverbs[*]}"
# (ibv_reg_mr pins the 4 MiB: the container needs RLIMIT_MEMLOCK for it)
out=$(ctr --device iopmem.io/p2pdax=tenant1 "${uverbs[@]}" --ulimit memlock=-1:-1 --network host -- \
	"$BIN/p2prdma" -s $((4 * M)) -o $((1 * M)) -S 92 write "/dev/$t1") && rc=0 || rc=$?
check_eq "RDMA from inside the container into its device (soft-RoCE, loopback)" 0 "$rc"
diag "p2prdma in the container: $out"
check "...the bytes are in the card where RDMA put them (host file)" check_range "$a" "$t1" 92 $((1 * M)) $((4 * M))

# ---- the others cannot reach it -----------------------------------------------------------------
# (mknod in the container's own /dev is allowed, opening what it makes is what the
# device cgroup decides; the container's own device is the control)
# (an open is all it takes: read(2) of a p2pdax node is EINVAL anyway)
probe="mknod /dev/probe c $maj1 $min1 && (exec 3</dev/probe) && echo LEAK"
out=$(ctr --device iopmem.io/p2pdax=tenant2 -- sh -c "(exec 3</dev/$t2) && echo own-ok; $probe") || true
check_match "a container given tenant2 opens its own device, not tenant1's (device cgroup: not permitted)" \
	"^own-ok.*Operation not permitted" "$(tr '\n' ' ' <<<"$out")"
check_no_match() { if [[ $2 == *"$3"* ]]; then fail "$1" "$2"; else pass "$1"; fi; }
check_no_match "...not even opens it" "$out" LEAK
out=$(ctr -- sh -c 'ls /dev | grep -c p2pdax; '"$probe") || true
check_match "a container given nothing has no p2pdax node, and cannot open tenant1's" \
	"^0 .*Operation not permitted" "$(tr '\n' ' ' <<<"$out")"
check_no_match "...not even opens it" "$out" LEAK

# ---- deleted: the name no longer resolves ---------------------------------------------------------
"$P" destroy-device "$t1" >/dev/null
"$P" cdi -q
check_eq "tenant1 deleted: the spec names only tenant2" tenant2 \
	"$(jq_ '[.devices[].name] | join(" ")' </var/run/cdi/iopmem.io-p2pdax.json)"
out=$(ctr --device iopmem.io/p2pdax=tenant1 -- true) && rc=0 || rc=$?
check_match "podman run --device iopmem.io/p2pdax=tenant1 fails: unresolvable CDI device" \
	"unresolvable CDI devices iopmem.io/p2pdax=tenant1" "$rc $out"
check "...with a non-zero exit" test "$rc" != 0
check_eq "...and no container is left" "" "$(pod ps -aq)"

# ---- README.md's "Containers", as written ------------------------------------------------
# (IMAGE ... is the README's placeholder: here this guest's root and a
# command that shows what the container got; sudo runs the command, the
# guest being root, and podman is a shim that adds this test's storage on
# tmpfs, as above.  udevd does not run here: p2pctl cdi runs after the
# create, as the udev rule does on a server (cdi.sh checks the rule).)
bin=$(mktemp -d)
printf '#!/bin/sh\nexec "$@"\n' >"$bin/sudo"
printf '#!/bin/sh\nexec %s --root %s --runroot %s --storage-driver vfs --tmpdir %s "$@"\n' \
	"$(command -v podman)" "$C/storage" "$C/run" "$C/tmp" >"$bin/podman"
chmod +x "$bin/sudo" "$bin/podman"
# (no & in $image: bash 5.2's ${x//p/r} puts the match where r has one)
mapfile -t ex < <(python3 "$TOP/tests/lib/doc-examples.py" "$TOP/README.md" Containers)
check_eq "README's 'Containers' has its 4 commands" 4 "${#ex[@]}"
image="--rootfs $C/rootfs sh -c 'echo \"node \$P2PDAX_DEVICE \$P2PDAX_LABEL\"; if test -c \"\$P2PDAX_DEVICE\"; then echo char; fi; ls /dev/infiniband 2>/dev/null; true'"
for cmd in "${ex[@]}"; do
	run=${cmd//IMAGE .../$image}
	diag "\$ $run"
	rc=0
	out=$(PATH=$bin:$TOP/tools/p2pctl:$PATH bash -c "$run" 2>&1) || rc=$?
	printf '%s\n' "$out" | sed 's/^/#   | /'
	case $cmd in
	"sudo p2pctl create-device -r 0 -s 16M --label tenant1")
		check_eq "$cmd: exit 0, the device" "0 tenant1 16777216" \
			"$rc $(jq -r '"\(.label) \(.size)"' <<<"$out" 2>/dev/null || true)"
		"$P" cdi -q
		;;
	"sudo podman run --device iopmem.io/p2pdax=tenant1 IMAGE ...")
		check_eq "$cmd: exit 0, the node (a char device) and the env, no verbs node" \
			"0 node /dev/$(devname tenant1) tenant1 char" "$rc $(tr '\n' ' ' <<<"$out" | sed 's/ $//')"
		;;
	"sudo podman run --device iopmem.io/p2pdax=tenant1 --device /dev/infiniband/uverbs0 --ulimit memlock=-1:-1 IMAGE ...")
		check_eq "$cmd: exit 0, the node and the verbs node" \
			"0 node /dev/$(devname tenant1) tenant1 char uverbs0" "$rc $(tr '\n' ' ' <<<"$out" | sed 's/ $//')"
		;;
	"sudo p2pctl cdi --check")
		check_eq "$cmd: exit 0 (the spec is current)" 0 "$rc"
		;;
	*)
		fail "an example this test does not know: $cmd"
		;;
	esac
done
"$P" destroy-device tenant1 >/dev/null
rm -rf "$bin"

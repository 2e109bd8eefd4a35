# Helpers of the p2pctl check tests (tests/guest/topology-*.sh and
# nvme-iommu.sh), sourced after tests/common.
P2PCTL=$TOP/tools/p2pctl/p2pctl

# the PCI address of the NVMe controller (class 0x010802)
nvme_pci() {
	local d
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/class")" = 0x010802 ] && { echo "${d##*/}"; return 0; }
	done
	return 1
}

# topo_run ARGS...: p2pctl check ARGS; sets TOPO (stdout), TOPO_ERR, TOPO_RC
topo_run() {
	local e
	e=$(mktemp)
	TOPO_RC=0
	TOPO=$("$P2PCTL" check "$@" 2>"$e") || TOPO_RC=$?
	TOPO_ERR=$(cat "$e")
	rm -f "$e"
}

# tj FILTER: jq -r FILTER on the last check's JSON ("" when it has none)
tj() { echo "$TOPO" | jq -r "$1" 2>/dev/null; }

# topo_bad_input PEER: what every topology test also checks: bad input gets
# a precise message and exit status, and changes nothing (check only reads)
topo_bad_input() {
	local before
	before=$("$P2PCTL" list -D)
	topo_run
	check_eq "check without --peer: usage error (exit 2)" "2 p2pctl check: --peer PCI_ADDR is required" \
		"$TOPO_RC $(echo "$TOPO_ERR" | head -n 1)"
	topo_run --peer 0000:00:1z.0
	check_eq "a malformed peer address is refused" "1 p2pctl check: '0000:00:1z.0' is not a PCI address (like 0000:01:00.0)" \
		"$TOPO_RC $TOPO_ERR"
	topo_run --peer 0000:7f:1f.7
	check_eq "a peer that does not exist is refused" "1 p2pctl check: no PCI device 0000:7f:1f.7" "$TOPO_RC $TOPO_ERR"
	topo_run --peer "$a"
	check_eq "the card as its own peer is refused" "1 p2pctl check: $a is region $id's own card: give the peer's address" \
		"$TOPO_RC $TOPO_ERR"
	topo_run --peer "$1" -r 7
	check_eq "a region that does not exist is refused" "1 p2pctl check: no region 7" "$TOPO_RC $TOPO_ERR"
	topo_run --peer "$1" -r x.y
	check_eq "a malformed region is refused" "1 p2pctl check: 'x.y' is not a region id or PCI address" "$TOPO_RC $TOPO_ERR"
	topo_run --peer "$1" extra
	check_eq "an extra argument is a usage error" "2 p2pctl check: unexpected argument 'extra'" \
		"$TOPO_RC $(echo "$TOPO_ERR" | head -n 1)"
	TOPO_RC=0
	TOPO_ERR=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$P2PCTL" check --peer "$1" 2>&1 >/dev/null) || TOPO_RC=$?
	check_eq "not as root: refused (config space needs root)" \
		"1 p2pctl check: reading the PCI config space of the bridges (ACS) needs root" "$TOPO_RC $TOPO_ERR"
	check_eq "nothing changed (p2pctl list -D)" "$before" "$("$P2PCTL" list -D)"
}

# the BAR's addresses as the check reports them, against the region's
topo_check_bar() {
	check_eq "BAR 2's CPU address is the region's start" \
		"$(printf '0x%x' "$(region_attr "$a" resource)")" "$(tj .cpu_address)"
	check_eq "bus address = CPU physical address (no host bridge offset)" "$(tj .cpu_address)" "$(tj .bus_address)"
}

# qemu_path QDEV_ID: the device's path from the host bridge as QEMU itself
# has it (QMP query-pci over the guest's iopmem.qmp port): "BDF BDF ...",
# the same form as p2pctl check's card_path/peer_path
qemu_path() {
	qmp_open >/dev/null || return 1
	qmp '{"execute": "query-pci"}' | jq -r --arg id "$1" '
		def hex2: [(. / 16 | floor), (. % 16)] | map("0123456789abcdef"[.:. + 1]) | join("");
		def bdf: "0000:" + (.bus | hex2) + ":" + (.slot | hex2) + "." + (.function | tostring);
		def path($p): .devices[] | ($p + [bdf]) as $q |
			if .qdev_id == $id then $q else ((.pci_bridge // empty) | path($q)) end;
		[.return[0] | path([])][0] // [] | join(" ")'
}

# topo_paths_are_qemus CARD_QDEV PEER_QDEV: p2pctl's two paths are QEMU's
topo_paths_are_qemus() {
	check_eq "the card's path is QEMU's own (QMP query-pci, outside the guest)" \
		"$(qemu_path "$1")" "$(tj '.card_path | map(.pci) | join(" ")')"
	check_eq "the peer's path is QEMU's own (QMP query-pci)" \
		"$(qemu_path "$2")" "$(tj '.peer_path | map(.pci) | join(" ")')"
}

# topo_start: bind card 0, run p2pctl check against the NVMe controller
# (nv), show its JSON, and check that it ran and saw QEMU's topology
topo_start() {
	nv=$(nvme_pci) || { fail "the NVMe controller of the vm line exists"; exit 1; }
	p2p_setup
	check "card bound" test -d "$R"
	topo_run --peer "$nv"
	echo "$TOPO" | sed 's/^/# /'
	check_eq "check exits 0" 0 "$TOPO_RC"
	topo_paths_are_qemus card0 nvme0
}

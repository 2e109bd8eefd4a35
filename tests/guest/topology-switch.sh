#!/bin/bash
# vm: --bar 256M --nvme 64M --switch
# p2pctl check with the card and the NVMe drive behind one PCIe switch
# (x3130-upstream, one xio3130-downstream port each), no IOMMU: the switch
# forwards between them, a direct route.  QEMU's xio3130 downstream ports
# have no ACS capability, so nothing can redirect.
. "$(dirname "$0")/../common"
guest_only
. "$TOP/tests/lib/topology.sh"
topo_start
check_eq "verdict: direct" direct "$(tj .verdict)"
check_eq "route: switch" switch "$(tj .route)"
check_eq "the card's path: root port, switch upstream port, downstream port, card" \
	"root-port upstream-port downstream-port $a" \
	"$(tj '[.card_path[0].type, .card_path[1].type, .card_path[2].type, .card_path[3].pci] | join(" ")')"
check_eq "the common upstream is the switch's upstream port" "$(tj '.card_path[1].pci')" "$(tj .common_upstream)"
check_eq "the peer's path leaves the switch by another downstream port" \
	"downstream-port $nv true" \
	"$(tj '[.peer_path[2].type, .peer_path[3].pci, (.peer_path[2].pci != .card_path[2].pci)] | map(tostring) | join(" ")')"
check_eq "the downstream ports have no ACS capability" "none none" \
	"$(tj '[.card_path[2].acs, .peer_path[2].acs] | join(" ")')"
check_eq "no ACS redirect, no egress control" "false false" "$(tj '[.acs_redirect, .acs_egress_control] | map(tostring) | join(" ")')"
check_eq "no IOMMU" false "$(tj .iommu.active)"
topo_check_bar
check_eq "-r with the region's PCI address gives the same verdict" direct \
	"$("$P2PCTL" check --peer "$nv" -r "$a" | jq -r .verdict)"
up=$(tj '.card_path[1].pci')
topo_run --peer "$up"
check_eq "the switch port above the card is not a peer" \
	"1 p2pctl check: $up is a bridge above $a or below it, not a peer" "$TOPO_RC $TOPO_ERR"
topo_bad_input "$nv"
p2p_unbind "$a"
p2p_unload

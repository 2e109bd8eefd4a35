#!/bin/bash
# vm: --bar 256M --nvme 64M
# p2pctl check with the card and the NVMe drive on separate root ports, no
# IOMMU (the machine nvme.sh boots): the transfer goes through the root
# complex.  QEMU's root ports have ACS; with no IOMMU Linux leaves it off.
. "$(dirname "$0")/../common"
guest_only
. "$TOP/tests/lib/topology.sh"
topo_start
check_eq "verdict: via the root complex" via-root-complex "$(tj .verdict)"
check_eq "route: root complex" root-complex "$(tj .route)"
# (present and null: jq reads a missing key as null too)
check_eq "nothing upstream is shared (common_upstream is there, null)" "true null" \
	"$(tj '[has("common_upstream"), .common_upstream] | map(tostring) | join(" ")')"
check_eq "each is alone on a root port" "root-port $a root-port $nv" \
	"$(tj '[.card_path[0].type, .card_path[1].pci, .peer_path[0].type, .peer_path[1].pci] | join(" ")')"
check_eq "the root ports have ACS, redirects off (no IOMMU asked for it)" "false false false false" \
	"$(tj '[.card_path[0].acs.request_redirect, .card_path[0].acs.completion_redirect, .peer_path[0].acs.request_redirect, .peer_path[0].acs.completion_redirect] | map(tostring) | join(" ")')"
check_eq "no IOMMU" false "$(tj .iommu.active)"
check_match "the reasons say the root complex must forward peer traffic" \
	"only if the CPU's root complex forwards peer-to-peer" "$(tj '.reasons[]')"
topo_check_bar
topo_bad_input "$nv"
p2p_unbind "$a"
p2p_unload

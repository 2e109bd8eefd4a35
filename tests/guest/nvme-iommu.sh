#!/bin/bash
# vm: --bar 256M --nvme 64M --iommu --append iommu.strict=1 --device edu,dma_mask=18446744073709551615
# The NVMe O_DIRECT peer-DMA test (tests/lib/nvme-dma.sh: both directions,
# bytes in the host files) with QEMU's intel-iommu translating the drive's
# DMA (intel_iommu=on), and p2pctl check's view of it.  The guest boots
# with iommu.strict=1, as design.rst asks of servers (a lazy domain's
# IOTLB outlives an unpin; tests/unit/test_topology checks that p2pctl
# check names a lazy one).
. "$(dirname "$0")/../common"
guest_only
. "$TOP/tests/lib/topology.sh"
check "an IOMMU is registered (/sys/class/iommu/dmar*)" compgen -G '/sys/class/iommu/dmar*'
topo_start
check_match "the drive's DMA is translated (IOMMU group of type DMA)" '^DMA' \
	"$(cat "/sys/bus/pci/devices/$nv/iommu_group/type")"
check_eq "verdict: via the root complex" via-root-complex "$(tj .verdict)"
check_eq "IOMMU active, card and drive in their own groups" "true true" \
	"$(tj '[.iommu.active, (.iommu.card_group != .iommu.peer_group)] | map(tostring) | join(" ")')"
check_match "the drive's domain translates" '^DMA' "$(tj .iommu.peer_domain)"
check_eq "iommu.strict=1: the drive's domain is strict (DMA, not DMA-FQ)" DMA \
	"$(cat "/sys/bus/pci/devices/$nv/iommu_group/type")"
check_eq "...and check says so (iommu.strict: true)" true "$(tj .iommu.strict)"
check_eq "...advising nothing about it" 0 "$(tj '[.reasons[] | select(contains("iommu.strict"))] | length')"
check_eq "Linux turned ACS redirects on at the root ports (for the IOMMU)" "true true" \
	"$(tj '[.card_path[0].acs.request_redirect, .peer_path[0].acs.request_redirect] | map(tostring) | join(" ")')"
check_match "the reasons name the IOMMU" "an IOMMU translates the peer's DMA" "$(tj '.reasons[]')"
p2p_unbind "$a"
p2p_unload
. "$TOP/tests/lib/nvme-dma.sh"

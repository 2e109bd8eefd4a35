#!/bin/bash
# vm: --bar 256M --nvme 64M --iommu --append iommu.strict=1 --device edu,dma_mask=18446744073709551615
# tests/guest/dmabuf.sh's DMA both ways, with QEMU's intel-iommu
# translating edu's DMA: the importer's table holds IOVAs that the IOMMU
# maps to the card's BAR (dma_map_resource), and a revocation unmaps them.
. "$(dirname "$0")/../common"
guest_only
. "$TOP/tests/lib/dmabuf.sh"
check "an IOMMU is registered (/sys/class/iommu/dmar*)" compgen -G '/sys/class/iommu/dmar*'
p2p_setup
edu_setup
edu=$(grep -lx 0x11e8 /sys/bus/pci/devices/*/device)
edu=${edu%/device}
check_match "edu's DMA is translated (IOMMU group of type DMA)" '^DMA' "$(cat "$edu/iommu_group/type")"

read -r t n <<<"$(split_device $((2 * MiB)) $((4 * MiB)) $((2 * MiB)) $((8 * MiB)))"
"$BIN/p2pmap" fill "/dev/$n" 0 $((2 * MiB)) 9
dma_both_ways "$a" "$t" 121
check "...through the IOMMU: edu's DMA address is an IOVA ($DMA_ADDR), not the BAR's ($DMA_PHYS)" \
	test "$DMA_ADDR" != "$DMA_PHYS"
check "the neighbor's bytes are untouched (all $((2 * MiB)), host file)" check_bytes "$a" "$n" 9

bg_start "/dev/$t" 0 $((8 * MiB)) dynamic "w:0:2048:131" wait "w:0:2048:132" status release
check "shrink $t 8M -> 4M under an importer: done" set_size "$t" $((4 * MiB))
bg_go
check_match "...the importer was revoked (its IOVAs unmapped)" "w 0 2048: ok.*w 0 2048: ENODEV.*invalidations 1 mapped 0.*release ok" "$BG_OUT"
check_eq "...nothing is pinned" 0 "$(region_attr "$a" pinned)"
set_size "$t" 0
set_size "$n" 0
p2p_unbind "$a"
p2p_unload
rmmod p2pedu

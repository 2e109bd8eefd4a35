#!/bin/bash
# vm: --bar 256M --nvme 64M --iommu --append iommu.strict=1 --device edu,dma_mask=18446744073709551615
# tests/guest/dmabuf.sh's DMA both ways, with QEMU's intel-iommu
# translating edu's DMA: the importer's table holds IOVAs that the IOMMU
# maps to the card's BAR (dma_map_resource), and a revocation unmaps them.
# Where the kernel maps dma-bufs by upstream's P2PDMA rules (7.2, 7.3),
# those rules refuse this topology, and the test checks the refusal.
. "$(dirname "$0")/../common"
guest_only
. "$TOP/tests/lib/dmabuf.sh"
check "an IOMMU is registered (/sys/class/iommu/dmar*)" compgen -G '/sys/class/iommu/dmar*'
p2p_setup
edu_setup
check_match "edu's DMA is translated (IOMMU group of type DMA)" '^DMA' "$(cat "/sys/bus/pci/devices/$EDU/iommu_group/type")"
read -r t n <<<"$(split_device $((2 * MiB)) $((4 * MiB)) $((2 * MiB)) $((8 * MiB)))"
"$BIN/p2pmap" fill "/dev/$n" 0 $((2 * MiB)) 9
if [ "$(expected_mapping)" = p2pdma ]; then
	# upstream's rules: edu on the root complex and the card on a root
	# port share no switch, and neither q35's host bridge (8086:29c0) nor
	# TCG's CPU is on the kernel's list of ones that route peer-to-peer
	# (pci_p2pdma_map_type(): NOT_SUPPORTED), so the map is refused
	check_eq "this kernel maps dma-bufs through the P2PDMA provider" p2pdma "$(region_attr "$a" dmabuf_mapping)"
	"$BIN/p2pmap" fill "/dev/$t" 0 $((2 * MiB)) 120
	mark=$(dmesg_mark)
	out=$("$DB" run "/dev/$t" 0 $((8 * MiB)) dynamic "w:0:2048:121" status release)
	check_eq "edu through the root complex: upstream's P2PDMA rules refuse the mapping (EINVAL), nothing mapped" \
		"import ok|w 0 2048: EINVAL|status invalidations 0 mapped 0 nents 0 dma 0|release ok" "$(paste -sd'|' <<<"$out")"
	check "...the kernel log says why, naming edu" dmesg_has "$mark" "dma-buf: $EDU cannot reach the card peer-to-peer by upstream's P2PDMA rules"
	check "...no byte of the device changed (host file: the tenant's 2048 bytes there)" \
		check_range "$a" "$t" 120 0 2048
	check_eq "...nothing is pinned" 0 "$(region_attr "$a" pinned)"
	check "the neighbor's bytes are untouched (all $((2 * MiB)), host file)" check_bytes "$a" "$n" 9
	set_size "$t" 0
	set_size "$n" 0
	p2p_unbind "$a"
	p2p_unload
	rmmod p2pedu
	exit 0
fi
check_eq "this kernel maps dma-bufs with the DMA API" dma-api "$(region_attr "$a" dmabuf_mapping)"

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

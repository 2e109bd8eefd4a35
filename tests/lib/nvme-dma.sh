# Peer DMA by QEMU's NVMe device with O_DIRECT, both directions, every byte
# checked in the card's host file or the drive's host image.  Sourced by
# tests/guest/nvme.sh (no IOMMU) and nvme-iommu.sh (intel-iommu on), after
# tests/common.

modprobe nvme
for _ in $(seq 50); do [ -b /dev/nvme0n1 ] && break; sleep 0.1; done
[ -b /dev/nvme0n1 ] || { fail "the NVMe namespace of the vm line exists (/dev/nvme0n1)"; exit 1; }
NV=/dev/nvme0n1
IMG=$IOPMEM_OUTDIR/nvme.img

M=$MiB
p2p_setup
# a tenant device of two extents: T = [16M, 32M) + [0, 16M)
read -r T _ < <(split_device $((16 * M)) $((16 * M)) $((8 * M)) $((32 * M)))
check_eq "tenant device spans two extents" 2 "$(nr_extents "$T")"

# ---- NVMe -> carved device ----------------------------------------------------------
# the drive's bytes [8M, 24M) carry the pattern of the same offsets
blk_fill "$NV" $((8 * M)) $((16 * M)) 31
echo 3 >/proc/sys/vm/drop_caches
check "O_DIRECT read from NVMe into the carved mapping" \
	"$BIN/p2pmap" dio read "/dev/$T" $((8 * M)) $((16 * M)) "$NV" $((8 * M))
check "the DMA'd bytes are in the BAR's host file, across both extents" \
	check_range "$a" "$T" 31 $((8 * M)) $((16 * M))
check "device bytes outside the DMA range still read zero" "$BIN/p2pmap" zero "/dev/$T" 0 $((4 * M))
blk_fill "$NV" $((30 * M)) 4096 31
echo 3 >/proc/sys/vm/drop_caches
check "O_DIRECT read of 7 sectors into the middle of a page" \
	"$BIN/p2pmap" dio read "/dev/$T" $((30 * M + 512)) 3584 "$NV" $((30 * M + 512))
check "those sectors are in the host file" check_range "$a" "$T" 31 $((30 * M + 512)) 3584

# ---- carved device -> NVMe --------------------------------------------------------------
"$BIN/p2pmap" fill "/dev/$T" $((12 * M)) $((12 * M)) 41
check "O_DIRECT write from the carved mapping to NVMe" \
	"$BIN/p2pmap" dio write "/dev/$T" $((12 * M)) $((12 * M)) "$NV" $((12 * M))
check "the bytes are in the host disk image" \
	"$BIN/p2pmap" fcheck "$IMG" $((12 * M)) $((12 * M)) 41 $((12 * M))
check "the image outside the written range is untouched" \
	"$BIN/p2pmap" fcheck "$IMG" $((8 * M)) $((4 * M)) 31 $((8 * M))

# ---- a drive reading a fresh device gets zeros, not the last tenant's bytes ---------
# Memory is zeroed when a device first maps it (a fault; get_user_pages() for
# O_DIRECT faults too), not when it grows: here the drive is the first to
# reach the new device, through get_user_pages() alone.
U=$(<"$R/seed")
set_size "$U" $((4 * M))
"$BIN/p2pmap" fill "/dev/$U" 0 $((4 * M)) 53
check "the old tenant's bytes are in the card" check_range "$a" "$U" 53 0 $((4 * M))
set_size "$U" 0
check_store "the old tenant's device is deleted" OK "$R/delete" "$U"
V=$(<"$R/seed")
set_size "$V" $((4 * M))
check "the new device has the old one's memory, not yet zeroed (zeroing waits for a fault)" \
	check_range "$a" "$V" 53 0 $((4 * M))
blk_fill "$NV" $((40 * M)) $((4 * M)) 31
check "O_DIRECT write to NVMe from the new device, never touched by the CPU" \
	"$BIN/p2pmap" dio write "/dev/$V" 0 $((4 * M)) "$NV" $((40 * M))
check_eq "the drive got zeros, not the old tenant's bytes (host disk image)" \
	"$((4 * M)) bytes zero" "$("$BIN/p2pmap" fzero "$IMG" $((40 * M)) $((4 * M)))"
check_eq "and the card holds zeros there now (host file)" \
	"$((4 * M)) bytes zero" "$("$BIN/p2pmap" fzero "$(card_file_of "$a")" \
		$(($(dattr "$V" resource) - $(region_attr "$a" resource))) $((4 * M)))"
check_region "peer DMA" "$a"
p2p_unbind "$a"
p2p_unload

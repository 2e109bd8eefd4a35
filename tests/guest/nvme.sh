#!/bin/bash
# vm: --bar 256M --nvme 64M
# Peer DMA by QEMU's NVMe device with O_DIRECT: a read from the drive lands
# in a carved mapping (checked in the card's host backing file) and a write
# from a carved mapping lands on the drive (checked in the host disk image).
. "$(dirname "$0")/../common"
guest_only
. "$TOP/tests/lib/nvme-dma.sh"

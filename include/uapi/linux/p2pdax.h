/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * p2pdax: the ioctl interface of a tenant's device node, /dev/p2pdaxR.N.
 *
 * A tenant maps its device (mmap, see p2pdax(4)) or hands a range of it to
 * another device's driver as a dma-buf: a file descriptor that an importer
 * (an RDMA NIC's ibv_reg_dmabuf_mr(), a GPU or accelerator driver, a test
 * driver) attaches to and maps for its own DMA.  Every importer reaches the
 * device's bytes only while the range is the device's: a shrink, delete,
 * unbind or hot-unplug revokes the dma-buf first (Documentation/design.rst,
 * "dma-bufs").
 */
#ifndef _UAPI_LINUX_P2PDAX_H
#define _UAPI_LINUX_P2PDAX_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* 0xBC: unassigned in Documentation/userspace-api/ioctl/ioctl-number.rst */
#define P2PDAX_IOC_MAGIC	0xBC

/**
 * struct p2pdax_export_dmabuf - P2PDAX_IOC_EXPORT_DMABUF's argument
 * @offset: in: the range's first byte, as a device offset (the offset an
 *	mmap of the node would use); a multiple of the page size
 * @length: in: the range's bytes; a multiple of the page size, not 0; the
 *	range must lie inside the device's size
 * @flags: in: P2PDAX_EXPORT_CLOEXEC or 0 (any other bit: EINVAL)
 * @fd: out: the dma-buf's file descriptor
 *
 * The dma-buf's size is @length; byte 0 of it is device byte @offset.  A
 * range over several extents of a multi-extent device gives the importer a
 * scatter table with one entry per physically contiguous piece.  Bytes the
 * device has not mapped before are zeroed first, as for a first fault.
 *
 * The node must be open for writing (EBADF otherwise).  Errors: EINVAL (a
 * range that is misaligned, empty, past the device's end or wraps; unknown
 * flags), ENXIO (the device was deleted or torn down), EIO (the range
 * holds a page the machine reported failed), EMFILE/ENFILE, ENOMEM, EINTR
 * (killed while the range was being zeroed).
 *
 * Importers: only peer-to-peer capable ones attach (others, static
 * importers included: EOPNOTSUPP).  When the range stops being the
 * device's, the dma-buf is revoked: importers are told (move_notify, from
 * Linux 7.1 invalidate_mappings), their next map fails with ENODEV, and
 * their fences are waited for.  An importer that no invalidation makes let
 * go counts as a pin: before 7.1 one that pinned the buffer itself
 * (dma_buf_pin(): RDMA's pinned MRs, whose callback only warns), from 7.1
 * one without the callback that holds a pin or a mapping.  A shrink of its
 * range fails with EBUSY and an unbind waits for it; so do unsignalled
 * fences.  The dma-buf cannot be mmapped or vmapped: the device node is the
 * CPU's way in.
 */
struct p2pdax_export_dmabuf {
	__u64 offset;
	__u64 length;
	__u32 flags;
	__s32 fd;
};

#define P2PDAX_EXPORT_CLOEXEC	(1U << 0)

#define P2PDAX_IOC_EXPORT_DMABUF \
	_IOWR(P2PDAX_IOC_MAGIC, 1, struct p2pdax_export_dmabuf)

#endif /* _UAPI_LINUX_P2PDAX_H */

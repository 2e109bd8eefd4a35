/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * p2pedu: the tests' dma-buf importer (tests/kmod/p2pedu.c), a driver for
 * QEMU's "edu" device, whose DMA engine copies between its 4 KiB buffer and
 * bus addresses.  /dev/p2pedu takes one dma-buf, or one pinned range of user
 * memory (P2PEDU_PIN_USER, for the bench's comparison), at a time.
 */
#ifndef _P2PEDU_H
#define _P2PEDU_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* how P2PEDU_IMPORT attaches */
#define P2PEDU_DYNAMIC	0	/* peer2peer, maps on demand, unmaps when told */
#define P2PEDU_PINNED	1	/* peer2peer, dma_buf_pin() and one mapping */
#define P2PEDU_NO_P2P	2	/* a dynamic importer that cannot do peer2peer */

struct p2pedu_import {
	__s32 fd;	/* in: the dma-buf */
	__u32 mode;	/* in: P2PEDU_* */
};

/* the most one transfer moves: edu's buffer, less QEMU 7.2's off-by-one */
#define P2PEDU_MAX	4032

struct p2pedu_xfer {
	__u64 offset;	/* in: dma-buf offset */
	__u64 len;	/* in: bytes, 1 to P2PEDU_MAX, inside one table entry */
	__u64 buf;	/* in: user buffer of len bytes */
	__u32 to_buf;	/* in: 1: dma-buf -> edu -> RAM -> buf; 0: the reverse */
	__u32 pad;
};

struct p2pedu_status {
	__u32 invalidations;	/* out: revocation callbacks since the import */
	__u32 mapped;		/* out: 1 while the importer holds a mapping */
	__u32 nents;		/* out: entries of the last mapping's table */
	__u32 pad;
	__u64 dma_addr;		/* out: the last mapping's first DMA address */
};

/* a pinned mapping of the user's memory instead (what ibv_reg_mr does) */
struct p2pedu_user {
	__u64 addr;	/* in: page-aligned user address (a p2pdax mapping) */
	__u64 len;	/* in: bytes, page-aligned */
};

#define P2PEDU_IMPORT	_IOW('E', 1, struct p2pedu_import)
#define P2PEDU_XFER	_IOW('E', 2, struct p2pedu_xfer)
#define P2PEDU_STATUS	_IOR('E', 3, struct p2pedu_status)
#define P2PEDU_RELEASE	_IO('E', 4)
/* map the imported dma-buf now (a dynamic import maps on demand) */
#define P2PEDU_MAP	_IO('E', 5)
/* pin user memory long-term and map it for edu; P2PEDU_RELEASE undoes it */
#define P2PEDU_PIN_USER	_IOW('E', 6, struct p2pedu_user)
/*
 * arg 1: add an unsignalled write fence to the imported dma-buf (as an
 * importer whose DMA runs on after it unmapped); arg 0: signal it
 */
#define P2PEDU_FENCE	_IO('E', 7)

#endif /* _P2PEDU_H */

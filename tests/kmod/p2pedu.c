// SPDX-License-Identifier: GPL-2.0
/*
 * p2pedu: a test module, never shipped.  A driver for QEMU's "edu" device
 * (1234:11e8, docs/specs/edu.txt) that imports a dma-buf as a real DMA
 * engine would: /dev/p2pedu attaches one dma-buf (P2PEDU_IMPORT: dynamic,
 * pinned, or without peer-to-peer), and each P2PEDU_XFER moves bytes
 * between the dma-buf and a user buffer through edu's DMA engine and a RAM
 * bounce buffer: dma-buf -> edu -> RAM, or RAM -> edu -> dma-buf.  Both legs
 * are edu's DMA (pci_dma_read/write in QEMU), through the vIOMMU when the
 * guest has one.  A dynamic import maps on demand and unmaps when the
 * exporter revokes (its callback, under the reservation lock); after a
 * revocation the next transfer's map fails and P2PEDU_XFER returns that
 * error.  P2PEDU_PIN_USER instead pins user memory long-term (a mapping
 * of a p2pdax device, as ibv_reg_mr pins it) and maps its pages for edu:
 * the other way for a peer to reach a device, which bench P11 compares.
 * See tests/guest/dmabuf.sh.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/dma-buf.h>
#include <linux/dma-fence.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/io.h>
#include <linux/io-64-nonatomic-lo-hi.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "../../drivers/dax-core/compat.h"
#include "p2pedu.h"

MODULE_INFO(import_ns, "DMA_BUF");

#define EDU_ID		0x00
#define EDU_DMA_SRC	0x80
#define EDU_DMA_DST	0x88
#define EDU_DMA_CNT	0x90
#define EDU_DMA_CMD	0x98
#define EDU_CMD_START	0x1
#define EDU_CMD_TO_RAM	0x2	/* edu -> bus address; else bus address -> edu */
#define EDU_BUF		0x40000	/* edu's 4 KiB buffer, in edu's own addresses */

/**
 * struct p2pedu - the one edu device
 * @pdev: its PCI function
 * @regs: BAR 0
 * @bounce: a RAM buffer of P2PEDU_MAX bytes, coherent, and @bounce_dma
 * @lock: serialises ioctls (imports, transfers, releases); never taken
 *	under a dma-buf's reservation lock
 * @dmabuf: the imported dma-buf, or NULL
 * @attach: its attachment
 * @mode: how it was attached (P2PEDU_*)
 * @sgt: the attachment's mapping, or NULL (the reservation lock)
 * @invalidations: revocation callbacks (the reservation lock)
 * @nents, @dma_addr: the last mapping's (the reservation lock)
 * @upages: the pinned user pages (P2PEDU_PIN_USER), or NULL; @unr of them
 * @usgt: their table, mapped for edu, which @sgt then points to
 * @fence: the unsignalled fence P2PEDU_FENCE added, or NULL; @fence_lock
 *	is its lock
 */
struct p2pedu {
	struct pci_dev *pdev;
	void __iomem *regs;
	void *bounce;
	dma_addr_t bounce_dma;
	struct mutex lock;	/* protects: imports, transfers, releases */
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *attach;
	u32 mode;
	struct sg_table *sgt;
	u32 invalidations;
	u32 nents;
	u64 dma_addr;
	struct page **upages;
	unsigned long unr;
	struct sg_table usgt;
	struct dma_fence *fence;
	spinlock_t fence_lock;	/* protects: the fence's state (dma-fence's lock) */
};

static struct p2pedu *edu;

/* one DMA of @len bytes; polls edu's command register (100 ms of its timer) */
static int p2pedu_dma(struct p2pedu *e, u64 src, u64 dst, u64 len, u64 cmd)
{
	unsigned long deadline = jiffies + 10 * HZ;

	writeq(src, e->regs + EDU_DMA_SRC);
	writeq(dst, e->regs + EDU_DMA_DST);
	writeq(len, e->regs + EDU_DMA_CNT);
	writeq(cmd | EDU_CMD_START, e->regs + EDU_DMA_CMD);
	while (readq(e->regs + EDU_DMA_CMD) & EDU_CMD_START) {
		if (time_after(jiffies, deadline))
			return -ETIMEDOUT;
		usleep_range(1000, 2000);
	}
	return 0;
}

/* the exporter revokes: stop using the mapping and give it back */
static void p2pedu_invalidate(struct dma_buf_attachment *attach)
{
	struct p2pedu *e = attach->importer_priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	e->invalidations++;
	if (e->sgt) {
		/* transfers run under the same lock: none is in flight */
		dma_buf_unmap_attachment(attach, e->sgt, DMA_BIDIRECTIONAL);
		e->sgt = NULL;
	}
}

/* a pinned importer is told too (before 7.1), and, like RDMA's, goes on */
static void __maybe_unused p2pedu_pinned_notify(struct dma_buf_attachment *attach)
{
	struct p2pedu *e = attach->importer_priv;

	e->invalidations++;
}

static const struct dma_buf_attach_ops p2pedu_dynamic_ops = {
	.allow_peer2peer = true,
	.P2PDAX_DMA_BUF_NOTIFY = p2pedu_invalidate,
};

static const struct dma_buf_attach_ops p2pedu_pinned_ops = {
	.allow_peer2peer = true,
	.P2PDAX_DMA_BUF_NOTIFY = P2PDAX_DMA_BUF_NOTIFY_REQUIRED ?
		p2pedu_pinned_notify : NULL,
};

static const struct dma_buf_attach_ops p2pedu_no_p2p_ops = {
	.allow_peer2peer = false,
	.P2PDAX_DMA_BUF_NOTIFY = p2pedu_invalidate,
};

/* with the reservation lock held: the mapping, made if need be */
static int p2pedu_map(struct p2pedu *e)
{
	struct sg_table *sgt;

	dma_resv_assert_held(e->dmabuf->resv);
	if (e->sgt)
		return 0;
	sgt = dma_buf_map_attachment(e->attach, DMA_BIDIRECTIONAL);
	if (IS_ERR(sgt))
		return PTR_ERR(sgt);
	e->sgt = sgt;
	e->nents = sgt->nents;
	e->dma_addr = sg_dma_address(sgt->sgl);
	return 0;
}

static const char *p2pedu_fence_name(struct dma_fence *fence)
{
	return "p2pedu";
}

static const struct dma_fence_ops p2pedu_fence_ops = {
	.get_driver_name = p2pedu_fence_name,
	.get_timeline_name = p2pedu_fence_name,
};

static void p2pedu_fence_signal(struct p2pedu *e)
{
	if (!e->fence)
		return;
	dma_fence_signal(e->fence);
	dma_fence_put(e->fence);
	e->fence = NULL;
}

static int p2pedu_fence_add(struct p2pedu *e)
{
	struct dma_fence *f;
	int rc;

	lockdep_assert_held(&e->lock);
	if (!e->dmabuf)
		return -ENOENT;
	if (e->fence)
		return -EBUSY;
	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	dma_fence_init(f, &p2pedu_fence_ops, &e->fence_lock,
		       dma_fence_context_alloc(1), 1);
	dma_resv_lock(e->dmabuf->resv, NULL);
	rc = dma_resv_reserve_fences(e->dmabuf->resv, 1);
	if (!rc)
		dma_resv_add_fence(e->dmabuf->resv, f, DMA_RESV_USAGE_WRITE);
	dma_resv_unlock(e->dmabuf->resv);
	if (rc) {
		dma_fence_put(f);
		return rc;
	}
	e->fence = f;
	return 0;
}

static void p2pedu_release(struct p2pedu *e)
{
	lockdep_assert_held(&e->lock);
	p2pedu_fence_signal(e);
	if (e->upages) {
		dma_unmap_sgtable(&e->pdev->dev, &e->usgt, DMA_BIDIRECTIONAL, 0);
		sg_free_table(&e->usgt);
		unpin_user_pages(e->upages, e->unr);
		kvfree(e->upages);
		e->upages = NULL;
		e->sgt = NULL;
		return;
	}
	if (!e->dmabuf)
		return;
	dma_resv_lock(e->dmabuf->resv, NULL);
	if (e->sgt)
		dma_buf_unmap_attachment(e->attach, e->sgt, DMA_BIDIRECTIONAL);
	e->sgt = NULL;
	if (e->mode == P2PEDU_PINNED)
		dma_buf_unpin(e->attach);
	dma_resv_unlock(e->dmabuf->resv);
	dma_buf_detach(e->dmabuf, e->attach);
	dma_buf_put(e->dmabuf);
	e->dmabuf = NULL;
	e->attach = NULL;
}

static int p2pedu_import(struct p2pedu *e, struct p2pedu_import *arg)
{
	const struct dma_buf_attach_ops *ops;
	struct dma_buf_attachment *attach;
	struct dma_buf *dmabuf;
	int rc = 0;

	lockdep_assert_held(&e->lock);
	if (e->dmabuf || e->upages)
		return -EBUSY;
	switch (arg->mode) {
	case P2PEDU_DYNAMIC:
		ops = &p2pedu_dynamic_ops;
		break;
	case P2PEDU_PINNED:
		ops = &p2pedu_pinned_ops;
		break;
	case P2PEDU_NO_P2P:
		ops = &p2pedu_no_p2p_ops;
		break;
	default:
		return -EINVAL;
	}
	dmabuf = dma_buf_get(arg->fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	attach = dma_buf_dynamic_attach(dmabuf, &e->pdev->dev, ops, e);
	if (IS_ERR(attach)) {
		dma_buf_put(dmabuf);
		return PTR_ERR(attach);
	}
	e->dmabuf = dmabuf;
	e->attach = attach;
	e->mode = arg->mode;
	e->invalidations = 0;
	e->nents = 0;
	e->dma_addr = 0;
	if (arg->mode == P2PEDU_PINNED) {
		dma_resv_lock(dmabuf->resv, NULL);
		rc = dma_buf_pin(attach);
		if (!rc) {
			rc = p2pedu_map(e);
			if (rc)
				dma_buf_unpin(attach);
		}
		dma_resv_unlock(dmabuf->resv);
		if (rc) {
			e->mode = P2PEDU_DYNAMIC;
			p2pedu_release(e);
		}
	}
	return rc;
}

static int p2pedu_pin_user(struct p2pedu *e, struct p2pedu_user *u)
{
	unsigned long n = u->len >> PAGE_SHIFT;
	struct page **pages;
	long got;
	int rc;

	lockdep_assert_held(&e->lock);
	if (e->dmabuf || e->upages)
		return -EBUSY;
	if (!n || !PAGE_ALIGNED(u->addr) || !PAGE_ALIGNED(u->len))
		return -EINVAL;
	pages = kvmalloc_array(n, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	got = pin_user_pages_fast(u->addr, n, FOLL_WRITE | FOLL_LONGTERM, pages);
	if (got != n) {
		if (got > 0)
			unpin_user_pages(pages, got);
		kvfree(pages);
		return got < 0 ? got : -EFAULT;
	}
	rc = sg_alloc_table_from_pages(&e->usgt, pages, n, 0, u->len, GFP_KERNEL);
	if (rc)
		goto err_unpin;
	rc = dma_map_sgtable(&e->pdev->dev, &e->usgt, DMA_BIDIRECTIONAL, 0);
	if (rc)
		goto err_free_table;
	e->upages = pages;
	e->unr = n;
	e->sgt = &e->usgt;
	e->nents = e->usgt.nents;
	e->dma_addr = sg_dma_address(e->usgt.sgl);
	return 0;

err_free_table:
	sg_free_table(&e->usgt);
err_unpin:
	unpin_user_pages(pages, n);
	kvfree(pages);
	return rc;
}

/* the DMA address of dma-buf bytes [@off, @off + @len), inside one entry */
static int p2pedu_bus_addr(struct sg_table *sgt, u64 off, u64 len, u64 *bus)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_dma_sg(sgt, sg, i) {
		if (off < sg_dma_len(sg)) {
			if (len > sg_dma_len(sg) - off)
				return -EINVAL;
			*bus = sg_dma_address(sg) + off;
			return 0;
		}
		off -= sg_dma_len(sg);
	}
	return -EINVAL;
}

static int p2pedu_xfer(struct p2pedu *e, struct p2pedu_xfer *x)
{
	void __user *ubuf = u64_to_user_ptr(x->buf);
	u64 bus, size;
	int rc = 0;

	lockdep_assert_held(&e->lock);
	if (e->upages)
		size = (u64)e->unr << PAGE_SHIFT;
	else if (e->dmabuf)
		size = e->dmabuf->size;
	else
		return -ENOENT;
	if (!x->len || x->len > P2PEDU_MAX || x->offset >= size ||
	    x->len > size - x->offset)
		return -EINVAL;
	if (!x->to_buf && copy_from_user(e->bounce, ubuf, x->len))
		return -EFAULT;

	/* the mapping cannot be revoked while the DMA runs: same lock */
	if (e->dmabuf) {
		dma_resv_lock(e->dmabuf->resv, NULL);
		rc = p2pedu_map(e);
	}
	if (!rc)
		rc = p2pedu_bus_addr(e->sgt, x->offset, x->len, &bus);
	if (!rc && x->to_buf) {
		rc = p2pedu_dma(e, bus, EDU_BUF, x->len, 0);
		if (!rc)
			rc = p2pedu_dma(e, EDU_BUF, e->bounce_dma, x->len,
					EDU_CMD_TO_RAM);
	} else if (!rc) {
		rc = p2pedu_dma(e, e->bounce_dma, EDU_BUF, x->len, 0);
		if (!rc)
			rc = p2pedu_dma(e, EDU_BUF, bus, x->len, EDU_CMD_TO_RAM);
	}
	if (e->dmabuf)
		dma_resv_unlock(e->dmabuf->resv);
	if (!rc && x->to_buf && copy_to_user(ubuf, e->bounce, x->len))
		rc = -EFAULT;
	return rc;
}

static long p2pedu_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	struct p2pedu_status st = {};
	struct p2pedu_import imp;
	struct p2pedu_xfer x;
	long rc = 0;

	mutex_lock(&edu->lock);
	switch (cmd) {
	case P2PEDU_IMPORT:
		if (copy_from_user(&imp, uarg, sizeof(imp)))
			rc = -EFAULT;
		else
			rc = p2pedu_import(edu, &imp);
		break;
	case P2PEDU_XFER:
		if (copy_from_user(&x, uarg, sizeof(x)))
			rc = -EFAULT;
		else
			rc = p2pedu_xfer(edu, &x);
		break;
	case P2PEDU_STATUS:
		if (edu->dmabuf) {
			dma_resv_lock(edu->dmabuf->resv, NULL);
			st.invalidations = edu->invalidations;
			st.mapped = !!edu->sgt;
			st.nents = edu->nents;
			st.dma_addr = edu->dma_addr;
			dma_resv_unlock(edu->dmabuf->resv);
		}
		if (copy_to_user(uarg, &st, sizeof(st)))
			rc = -EFAULT;
		break;
	case P2PEDU_RELEASE:
		p2pedu_release(edu);
		break;
	case P2PEDU_MAP:
		if (!edu->dmabuf) {
			rc = -ENOENT;
			break;
		}
		dma_resv_lock(edu->dmabuf->resv, NULL);
		rc = p2pedu_map(edu);
		dma_resv_unlock(edu->dmabuf->resv);
		break;
	case P2PEDU_FENCE:
		if (arg)
			rc = p2pedu_fence_add(edu);
		else
			p2pedu_fence_signal(edu);
		break;
	case P2PEDU_PIN_USER: {
		struct p2pedu_user u;

		if (copy_from_user(&u, uarg, sizeof(u)))
			rc = -EFAULT;
		else
			rc = p2pedu_pin_user(edu, &u);
		break;
	}
	default:
		rc = -ENOTTY;
	}
	mutex_unlock(&edu->lock);
	return rc;
}

static int p2pedu_close(struct inode *inode, struct file *filp)
{
	mutex_lock(&edu->lock);
	p2pedu_release(edu);
	mutex_unlock(&edu->lock);
	return 0;
}

static const struct file_operations p2pedu_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = p2pedu_ioctl,
	.release = p2pedu_close,
};

static struct miscdevice p2pedu_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "p2pedu",
	.fops = &p2pedu_fops,
};

static int p2pedu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct p2pedu *e;
	int rc;

	if (edu)
		return -EBUSY;
	e = devm_kzalloc(&pdev->dev, sizeof(*e), GFP_KERNEL);
	if (!e)
		return -ENOMEM;
	e->pdev = pdev;
	mutex_init(&e->lock);
	spin_lock_init(&e->fence_lock);
	rc = pcim_enable_device(pdev);
	if (rc)
		return rc;
	pci_set_master(pdev);
	e->regs = pcim_iomap(pdev, 0, 0);
	if (!e->regs)
		return -ENOMEM;
	/* edu ANDs every address with its dma_mask property: the guest sets it to 64 bits */
	rc = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (rc)
		return rc;
	e->bounce = dmam_alloc_coherent(&pdev->dev, P2PEDU_MAX, &e->bounce_dma,
					GFP_KERNEL);
	if (!e->bounce)
		return -ENOMEM;
	edu = e;
	rc = misc_register(&p2pedu_misc);
	if (rc) {
		edu = NULL;
		return rc;
	}
	dev_info(&pdev->dev, "edu %#x: dma-buf importer /dev/p2pedu\n",
		 readl(e->regs + EDU_ID));
	return 0;
}

static void p2pedu_remove(struct pci_dev *pdev)
{
	misc_deregister(&p2pedu_misc);
	edu = NULL;
}

static const struct pci_device_id p2pedu_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },
	{ }
};
MODULE_DEVICE_TABLE(pci, p2pedu_ids);

static struct pci_driver p2pedu_driver = {
	.name = "p2pedu",
	.id_table = p2pedu_ids,
	.probe = p2pedu_probe,
	.remove = p2pedu_remove,
};
module_pci_driver(p2pedu_driver);

MODULE_DESCRIPTION("iopmem tests: QEMU edu as a dma-buf importer");
MODULE_LICENSE("GPL");

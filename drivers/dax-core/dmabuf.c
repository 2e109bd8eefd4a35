// SPDX-License-Identifier: GPL-2.0
/*
 * dax-core dma-bufs: a range of a device exported as a dma-buf
 * (P2PDAX_IOC_EXPORT_DMABUF), for importers that DMA into the card
 * peer-to-peer, and revoked with the device's own mappings.  See
 * Documentation/design.rst, "dma-bufs".
 *
 * An export keeps the physical pieces of its range as they were when it was
 * made: whatever changes them (a shrink, a delete, a teardown, a memory
 * failure) revokes the export first, in __p2pdax_revoke(), with the
 * device's fault_sem held for write, which also keeps new exports out.
 * Mapping and unmapping run under the dma-buf's reservation lock and take
 * no dax-core lock: an importer may unmap from inside the invalidation
 * callback that a revocation calls under that lock.
 */
#include <linux/delay.h>
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "dax-core.h"
#include "uapi/linux/p2pdax.h"

/* the dma-buf core's symbols are in namespace DMA_BUF (the same string on 6.1 and 7.x) */
MODULE_INFO(import_ns, "DMA_BUF");

/* A revocation waits this long for importers to unmap (it holds fault_sem). */
#define P2PDAX_DMABUF_UNMAP_WAIT_MS	1000
/* Largest scatterlist entry: sg lengths are unsigned int. */
#define P2PDAX_DMABUF_SEG_MAX		SZ_1G

/**
 * struct p2pdax_dmabuf - one exported range of a device
 * @dmabuf: the dma-buf
 * @ddev: the device; a reference is held until the dma-buf's release
 * @node: entry in ddev->dmabufs (ddev->dmabuf_lock)
 * @offset: the range's first device byte
 * @length: the range's bytes (the dma-buf's size)
 * @revoked: set once, under the dma-buf's reservation lock, by the
 *	revocation of any part of the range; then attach, pin and map fail
 * @nr_ranges: entries of @ranges
 * @ranges: the physically contiguous pieces of the range, in order
 */
struct p2pdax_dmabuf {
	struct dma_buf *dmabuf;
	struct p2pdax_dev *ddev;
	struct list_head node;
	u64 offset;
	u64 length;
	bool revoked;
	int nr_ranges;
	struct p2pdax_phys ranges[P2PDAX_MAX_EXTENTS];
};

/**
 * struct p2pdax_dmabuf_attach - what dax-core counts of one attachment
 * @pins: pin() calls not undone by unpin() (the reservation lock)
 * @maps: live mappings (the reservation lock)
 */
struct p2pdax_dmabuf_attach {
	unsigned int pins;
	unsigned int maps;
};

/*
 * An importer that no invalidation makes let go, holding a pin or a mapping.
 * Before 7.1 every importer has the callback, pinned ones too (RDMA's only
 * warns, and its DMA goes on): there it is one that took a pin itself
 * (dma_buf_pin()), beyond the one the core takes around each mapping.  From
 * 7.1 it is one without the callback (dma_buf_attach_revocable()) that
 * holds a pin or a mapping; a pinned importer with the callback (irdma's
 * revocable MRs) is revoked like a dynamic one.
 */
static bool p2pdax_dmabuf_attach_pinned(struct dma_buf_attachment *attach)
{
	struct p2pdax_dmabuf_attach *a = attach->priv;
	unsigned int core_pins = P2PDAX_DMA_BUF_MAP_PINS ? a->maps : 0;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (P2PDAX_DMA_BUF_NOTIFY_REQUIRED)
		return a->pins > core_pins;
	return !p2pdax_dma_buf_revocable(attach) && (a->pins || a->maps);
}

/*
 * Every live mapping holds a reference on the folios it maps, as GUP does:
 * the pin check of a shrink and the wait of a teardown (alloc.c) see an
 * importer that has not let go of a range, like an RDMA registration.
 */
static void p2pdax_dmabuf_refs(struct p2pdax_dmabuf *x, bool get)
{
	int i;

	for (i = 0; i < x->nr_ranges; i++) {
		unsigned long pfn = PHYS_PFN(x->ranges[i].paddr);
		unsigned long end = PHYS_PFN(x->ranges[i].paddr + x->ranges[i].len);

		while (pfn < end) {
			struct folio *folio = page_folio(pfn_to_page(pfn));

			if (get)
				folio_get(folio);
			else
				folio_put(folio);
			pfn = folio_pfn(folio) + folio_nr_pages(folio);
			if (!(pfn & 0xfff))
				cond_resched();
		}
	}
}

static int p2pdax_dmabuf_attach(struct dma_buf *dmabuf,
				struct dma_buf_attachment *attach)
{
	struct p2pdax_dmabuf *x = dmabuf->priv;
	struct p2pdax_dmabuf_attach *a;
	bool revoked;

	/* the bytes are a PCI BAR's: only a peer-to-peer importer reaches them */
	if (!attach->peer2peer)
		return -EOPNOTSUPP;
	dma_resv_lock(dmabuf->resv, NULL);
	revoked = x->revoked;
	dma_resv_unlock(dmabuf->resv);
	if (revoked)
		return -ENODEV;
	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	attach->priv = a;
	return 0;
}

static void p2pdax_dmabuf_detach(struct dma_buf *dmabuf,
				 struct dma_buf_attachment *attach)
{
	struct p2pdax_dmabuf_attach *a = attach->priv;

	/* an importer that detaches mapped leaks its pages' references */
	WARN_ON_ONCE(a->maps || a->pins);
	kfree(attach->priv);
	attach->priv = NULL;
}

static int p2pdax_dmabuf_pin(struct dma_buf_attachment *attach)
{
	struct p2pdax_dmabuf *x = attach->dmabuf->priv;
	struct p2pdax_dmabuf_attach *a = attach->priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (x->revoked)
		return -ENODEV;
	a->pins++;
	return 0;
}

static void p2pdax_dmabuf_unpin(struct dma_buf_attachment *attach)
{
	struct p2pdax_dmabuf_attach *a = attach->priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (!WARN_ON_ONCE(!a->pins))
		a->pins--;
}

static void p2pdax_dmabuf_unmap_sgt(struct device *dev, struct sg_table *sgt,
				    unsigned int nents,
				    enum dma_data_direction dir)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_dma_sg(sgt, sg, i) {
		if (i >= nents)
			break;
		dma_unmap_resource(dev, sg_dma_address(sg), sg_dma_len(sg), dir,
				   DMA_ATTR_SKIP_CPU_SYNC);
	}
}

/*
 * The importer's table.  Through the BAR's P2PDMA provider where the kernel
 * has one (upstream's rules decide the addresses, or refuse); else each
 * piece mapped for the importer's device as a resource (a PCI BAR, not RAM:
 * never bounced through swiotlb; an IOMMU maps it as MMIO), in entries of
 * at most 1 GiB.  The entries have no pages: an importer uses their DMA
 * addresses only.
 */
static struct sg_table *p2pdax_dmabuf_map(struct dma_buf_attachment *attach,
					  enum dma_data_direction dir)
{
	struct p2pdax_dmabuf *x = attach->dmabuf->priv;
	struct p2pdax_dmabuf_attach *a = attach->priv;
	struct scatterlist *sg;
	struct sg_table *sgt;
	unsigned int nents = 0, done = 0;
	int i, rc;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (x->revoked)
		return ERR_PTR(-ENODEV);
	if (x->ddev->region->provider) {
		sgt = p2pdax_provider_map(attach, x->ddev->region->provider,
					  x->ranges, x->nr_ranges, x->length, dir);
		if (IS_ERR(sgt)) {
			dev_info_ratelimited(&x->ddev->dev, "dma-buf: %s cannot reach the card peer-to-peer by upstream's P2PDMA rules (no switch above both, and the host bridge is not on the kernel's list): %pe\n",
					     dev_name(attach->dev), sgt);
			return sgt;
		}
		goto mapped;
	}
	for (i = 0; i < x->nr_ranges; i++)
		nents += DIV_ROUND_UP_ULL(x->ranges[i].len, P2PDAX_DMABUF_SEG_MAX);
	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	rc = sg_alloc_table(sgt, nents, GFP_KERNEL);
	if (rc)
		goto err_free_sgt;

	sg = sgt->sgl;
	for (i = 0; i < x->nr_ranges; i++) {
		u64 off;

		for (off = 0; off < x->ranges[i].len; off += P2PDAX_DMABUF_SEG_MAX) {
			u64 len = min_t(u64, x->ranges[i].len - off,
					P2PDAX_DMABUF_SEG_MAX);
			dma_addr_t addr;

			addr = dma_map_resource(attach->dev,
						x->ranges[i].paddr + off, len, dir,
						DMA_ATTR_SKIP_CPU_SYNC);
			if (dma_mapping_error(attach->dev, addr)) {
				rc = -EIO;
				goto err_unmap;
			}
			sg_set_page(sg, NULL, len, 0);
			sg_dma_address(sg) = addr;
			sg_dma_len(sg) = len;
			sg = sg_next(sg);
			done++;
		}
	}
mapped:
	p2pdax_dmabuf_refs(x, true);
	a->maps++;
	return sgt;

err_unmap:
	p2pdax_dmabuf_unmap_sgt(attach->dev, sgt, done, dir);
	sg_free_table(sgt);
err_free_sgt:
	kfree(sgt);
	return ERR_PTR(rc);
}

static void p2pdax_dmabuf_unmap(struct dma_buf_attachment *attach,
				struct sg_table *sgt,
				enum dma_data_direction dir)
{
	struct p2pdax_dmabuf *x = attach->dmabuf->priv;
	struct p2pdax_dmabuf_attach *a = attach->priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (x->ddev->region->provider) {
		p2pdax_provider_unmap(attach, sgt, dir);
	} else {
		p2pdax_dmabuf_unmap_sgt(attach->dev, sgt, sgt->nents, dir);
		sg_free_table(sgt);
		kfree(sgt);
	}
	p2pdax_dmabuf_refs(x, false);
	if (!WARN_ON_ONCE(!a->maps))
		a->maps--;
}

static void p2pdax_dmabuf_release(struct dma_buf *dmabuf)
{
	struct p2pdax_dmabuf *x = dmabuf->priv;
	struct p2pdax_dev *ddev = x->ddev;

	mutex_lock(&ddev->dmabuf_lock);
	list_del(&x->node);
	mutex_unlock(&ddev->dmabuf_lock);
	kfree(x);
	put_device(&ddev->dev);
}

/*
 * No mmap, vmap or CPU access: the device node is the CPU's way to the
 * bytes (and its mappings are revoked with the device's).
 */
static const struct dma_buf_ops p2pdax_dmabuf_ops = {
	.attach = p2pdax_dmabuf_attach,
	.detach = p2pdax_dmabuf_detach,
	.pin = p2pdax_dmabuf_pin,
	.unpin = p2pdax_dmabuf_unpin,
	.map_dma_buf = p2pdax_dmabuf_map,
	.unmap_dma_buf = p2pdax_dmabuf_unmap,
	.release = p2pdax_dmabuf_release,
};

static bool p2pdax_dmabuf_overlaps(struct p2pdax_dmabuf *x, u64 start, u64 len)
{
	return x->offset + x->length > start && (!len || x->offset < start + len);
}

/**
 * __p2pdax_dmabufs_pinned() - a pinned importer of device bytes
 * @ddev: the device; its fault_sem is held for write
 * @start: first device byte
 * @len: bytes (0: to the end)
 * @who: set to the importing device's name, if there is one
 * @size: room in @who
 *
 * Return: whether an export overlapping the range has a pinned attachment
 * (one that no invalidation ends): the range cannot be given back.
 */
bool __p2pdax_dmabufs_pinned(struct p2pdax_dev *ddev, u64 start, u64 len,
			     char *who, size_t size)
{
	struct dma_buf_attachment *attach;
	struct p2pdax_dmabuf *x;
	bool pinned = false;

	lockdep_assert_held_write(&ddev->fault_sem);
	mutex_lock(&ddev->dmabuf_lock);
	list_for_each_entry(x, &ddev->dmabufs, node) {
		if (!p2pdax_dmabuf_overlaps(x, start, len))
			continue;
		dma_resv_lock(x->dmabuf->resv, NULL);
		list_for_each_entry(attach, &x->dmabuf->attachments, node) {
			if (p2pdax_dmabuf_attach_pinned(attach)) {
				strscpy(who, dev_name(attach->dev), size);
				pinned = true;
				break;
			}
		}
		dma_resv_unlock(x->dmabuf->resv);
		if (pinned)
			break;
	}
	mutex_unlock(&ddev->dmabuf_lock);
	return pinned;
}

/* Mappings of revoked exports that importers still hold; names one in @who. */
static unsigned int __p2pdax_dmabufs_mapped(struct p2pdax_dev *ddev, u64 start,
					    u64 len, char *who, size_t size)
{
	struct dma_buf_attachment *attach;
	struct p2pdax_dmabuf *x;
	unsigned int n = 0;

	lockdep_assert_held(&ddev->dmabuf_lock);
	list_for_each_entry(x, &ddev->dmabufs, node) {
		if (!p2pdax_dmabuf_overlaps(x, start, len))
			continue;
		dma_resv_lock(x->dmabuf->resv, NULL);
		list_for_each_entry(attach, &x->dmabuf->attachments, node) {
			struct p2pdax_dmabuf_attach *a = attach->priv;

			if (a->maps && !n)
				strscpy(who, dev_name(attach->dev), size);
			n += a->maps;
		}
		dma_resv_unlock(x->dmabuf->resv);
	}
	return n;
}

/**
 * __p2pdax_dmabufs_revoke() - revoke every export of device bytes
 * @ddev: the device; its fault_sem is held for write
 * @start: first device byte
 * @len: bytes (0: to the end)
 *
 * Every export overlapping the range is marked revoked (its next attach,
 * pin or map fails with -ENODEV) and its importers are told to unmap
 * (move_notify or invalidate_mappings).  Then waits, for at most a second
 * each and only while not killed, for their fences to signal and for them
 * to unmap.  Whoever still holds a mapping keeps references on the pages,
 * so a shrink's pin check fails and a teardown waits (alloc.c): said here,
 * with the importer's name.
 *
 * Return: whether a mapping remains or fences have not signalled (the
 * range is still busy: a shrink fails, a teardown waits).
 */
bool __p2pdax_dmabufs_revoke(struct p2pdax_dev *ddev, u64 start, u64 len)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(P2PDAX_DMABUF_UNMAP_WAIT_MS);
	struct p2pdax_dmabuf *x;
	unsigned int mapped, fenced = 0;
	char who[64] = "";
	bool any = false;

	lockdep_assert_held_write(&ddev->fault_sem);
	mutex_lock(&ddev->dmabuf_lock);
	list_for_each_entry(x, &ddev->dmabufs, node) {
		if (!p2pdax_dmabuf_overlaps(x, start, len))
			continue;
		any = true;
		dma_resv_lock(x->dmabuf->resv, NULL);
		if (!x->revoked) {
			x->revoked = true;
			p2pdax_dma_buf_invalidate(x->dmabuf);
		}
		dma_resv_unlock(x->dmabuf->resv);
		/*
		 * An importer may unmap at once and DMA on until its fences
		 * signal: that DMA ends first, or the bytes stay busy
		 */
		if (dma_resv_wait_timeout(x->dmabuf->resv, DMA_RESV_USAGE_BOOKKEEP,
					  false,
					  msecs_to_jiffies(P2PDAX_DMABUF_UNMAP_WAIT_MS)) <= 0)
			fenced++;
	}
	if (!any) {
		mutex_unlock(&ddev->dmabuf_lock);
		return false;
	}
	for (;;) {
		mapped = __p2pdax_dmabufs_mapped(ddev, start, len, who, sizeof(who));
		if (!mapped || time_after(jiffies, deadline) ||
		    fatal_signal_pending(current))
			break;
		usleep_range(5000, 10000);
	}
	mutex_unlock(&ddev->dmabuf_lock);
	if (mapped)
		dev_info(&ddev->dev, "dma-buf revoked, but %u mappings remain (importer %s): its pages stay pinned until it unmaps\n",
			 mapped, who);
	if (fenced)
		dev_info(&ddev->dev, "dma-buf revoked, but the fences of %u of its dma-bufs have not signalled: an importer's DMA may still run\n",
			 fenced);
	return mapped || fenced;
}

/**
 * p2pdax_dmabufs_fenced() - whether an importer's DMA may still run
 * @ddev: the device
 *
 * Return: whether one of the device's dma-bufs has fences that have not
 * signalled (a teardown waits for them, as for pinned pages).
 */
bool p2pdax_dmabufs_fenced(struct p2pdax_dev *ddev)
{
	struct p2pdax_dmabuf *x;
	bool fenced = false;

	mutex_lock(&ddev->dmabuf_lock);
	list_for_each_entry(x, &ddev->dmabufs, node)
		if (!dma_resv_test_signaled(x->dmabuf->resv, DMA_RESV_USAGE_BOOKKEEP))
			fenced = true;
	mutex_unlock(&ddev->dmabuf_lock);
	return fenced;
}

/*
 * What an export does to each piece of its range: no poisoned page is
 * handed to an importer (EIO; the fault path never maps one either), and
 * bytes the device never mapped are zeroed, as for a first fault, in steps
 * of at most 2 MiB (a fault's most) so that a kill stops a long export.
 */
static int p2pdax_dmabuf_prepare(struct p2pdax_dev *ddev, phys_addr_t phys,
				 u64 len)
{
	u64 off, step;
	int rc;

	lockdep_assert_held_read(&ddev->fault_sem);
	for (off = 0; off < len; off += step) {
		step = min_t(u64, len - off, SZ_2M - ((phys + off) & (SZ_2M - 1)));
		if (fatal_signal_pending(current))
			return -EINTR;
		if (p2pdax_poisoned(PHYS_PFN(phys + off), step >> PAGE_SHIFT))
			return -EIO;
		rc = p2pdax_zero_for_map(ddev, phys + off, step);
		if (rc)
			return rc;
	}
	return 0;
}

/**
 * p2pdax_dmabuf_export() - P2PDAX_IOC_EXPORT_DMABUF
 * @filp: the device's open file
 * @uarg: the user's struct p2pdax_export_dmabuf
 *
 * Return: 0 (the new fd in the user's struct), or a negative errno, with
 * nothing made (see include/uapi/linux/p2pdax.h).
 */
long p2pdax_dmabuf_export(struct file *filp,
			  struct p2pdax_export_dmabuf __user *uarg)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	struct p2pdax_dev *ddev = filp->private_data;
	struct p2pdax_export_dmabuf arg;
	struct dma_buf *dmabuf;
	struct p2pdax_dmabuf *x;
	u64 end;
	int i, fd, rc = 0;

	if (!(filp->f_mode & FMODE_WRITE))
		return -EBADF;
	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags & ~P2PDAX_EXPORT_CLOEXEC)
		return -EINVAL;
	if (!arg.length || !PAGE_ALIGNED(arg.offset) ||
	    !PAGE_ALIGNED(arg.length) || arg.offset + arg.length < arg.offset)
		return -EINVAL;
	end = arg.offset + arg.length;

	x = kzalloc(sizeof(*x), GFP_KERNEL);
	if (!x)
		return -ENOMEM;
	x->ddev = ddev;
	x->offset = arg.offset;
	x->length = arg.length;

	down_read(&ddev->fault_sem);
	if (ddev->dead) {
		rc = -ENXIO;
		goto err_unlock;
	}
	if (end > ddev->size) {
		rc = -EINVAL;
		goto err_unlock;
	}
	for (i = 0; i < ddev->nr_extents; i++) {
		struct p2pdax_extent *ext = &ddev->extents[i];
		u64 lo = (u64)ext->pgoff << PAGE_SHIFT;
		u64 hi = lo + resource_size(ext->res);
		u64 from = max(lo, arg.offset), to = min(hi, end);

		if (from >= to)
			continue;
		x->ranges[x->nr_ranges].paddr = ext->res->start + (from - lo);
		x->ranges[x->nr_ranges].len = to - from;
		rc = p2pdax_dmabuf_prepare(ddev, x->ranges[x->nr_ranges].paddr,
					   to - from);
		if (rc)
			goto err_unlock;
		x->nr_ranges++;
	}

	exp_info.ops = &p2pdax_dmabuf_ops;
	exp_info.size = arg.length;
	exp_info.flags = O_RDWR;
	exp_info.priv = x;
	exp_info.exp_name = "p2pdax";
	dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(dmabuf)) {
		rc = PTR_ERR(dmabuf);
		goto err_unlock;
	}
	x->dmabuf = dmabuf;
	get_device(&ddev->dev);
	mutex_lock(&ddev->dmabuf_lock);
	list_add_tail(&x->node, &ddev->dmabufs);
	mutex_unlock(&ddev->dmabuf_lock);
	up_read(&ddev->fault_sem);
	p2pdax_holder_note(ddev);

	fd = get_unused_fd_flags(arg.flags & P2PDAX_EXPORT_CLOEXEC ? O_CLOEXEC : 0);
	if (fd < 0) {
		dma_buf_put(dmabuf);
		return fd;
	}
	arg.fd = fd;
	if (copy_to_user(uarg, &arg, sizeof(arg))) {
		put_unused_fd(fd);
		dma_buf_put(dmabuf);
		return -EFAULT;
	}
	fd_install(fd, dmabuf->file);
	return 0;

err_unlock:
	up_read(&ddev->fault_sem);
	kfree(x);
	return rc;
}

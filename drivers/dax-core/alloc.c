// SPDX-License-Identifier: GPL-2.0
/*
 * dax-core's allocator: a region's memory and how its devices hold it.
 *
 * A device is a list of physical extents (children of the region's
 * resource) laid end to end in page-offset order; the extents are also the
 * index that turns a page offset into a physical address.  Growing takes
 * free space first-fit in address order; shrinking trims from the highest
 * page offset.  Memory is zeroed before a device can map it, mappings of a
 * removed range are zapped first, and a range with outstanding page
 * references (pins) is never given up.  The region's state lives as long as
 * any device object refers to it.  See Documentation/design.rst.
 */
#include <linux/bitmap.h>
#include <linux/delay.h>
#include <linux/mm.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include "dax-core.h"

/* ---- the region ----------------------------------------------------------- */

/**
 * __p2pdax_region_available() - bytes of a region no device holds
 * @region: the region, locked
 *
 * Return: the free bytes, whatever their alignment.
 */
resource_size_t __p2pdax_region_available(struct p2pdax_region *region)
{
	resource_size_t used = 0;
	struct resource *res;

	lockdep_assert_held(&region->lock);
	for (res = region->res.child; res; res = res->sibling)
		used += resource_size(res);
	return p2pdax_region_size(region) - used;
}

static void p2pdax_region_release(struct kref *kref)
{
	struct p2pdax_region *region =
		container_of(kref, struct p2pdax_region, kref);

	WARN_ON_ONCE(!xa_empty(&region->devnums));
	xa_destroy(&region->devnums);
	kvfree(region->dirty);
	kfree(region);
}

/* A device object holds its region's state (see struct p2pdax_region). */
void p2pdax_region_get(struct p2pdax_region *region)
{
	kref_get(&region->kref);
}

void p2pdax_region_put(struct p2pdax_region *region)
{
	kref_put(&region->kref, p2pdax_region_release);
}

/* ---- extents and the index ------------------------------------------------ */

static struct p2pdax_extent *__p2pdax_last_extent(struct p2pdax_dev *ddev)
{
	return ddev->nr_extents ? &ddev->extents[ddev->nr_extents - 1] : NULL;
}

/**
 * __p2pdax_pgoff_to_phys() - where a device page is
 * @ddev: the device; the caller holds its fault_sem
 * @pgoff: the device page offset
 *
 * The extents are laid end to end in page-offset order, so a binary search
 * over them (at most 64: six steps) finds the one holding @pgoff.  This is
 * the device's whole index: its memory depends on the number of extents,
 * not on the device's size.
 *
 * Return: the physical address, or PHYS_ADDR_MAX past the device's end.
 */
phys_addr_t __p2pdax_pgoff_to_phys(struct p2pdax_dev *ddev, pgoff_t pgoff)
{
	int lo = 0, hi = ddev->nr_extents;
	struct p2pdax_extent *ext;

	lockdep_assert_held(&ddev->fault_sem);
	if (!hi || pgoff < ddev->extents[0].pgoff)
		return PHYS_ADDR_MAX;
	/* the last extent whose first page is <= @pgoff */
	while (hi - lo > 1) {
		int mid = lo + (hi - lo) / 2;

		if (ddev->extents[mid].pgoff <= pgoff)
			lo = mid;
		else
			hi = mid;
	}
	ext = &ddev->extents[lo];
	if (pgoff - ext->pgoff >= resource_size(ext->res) >> PAGE_SHIFT)
		return PHYS_ADDR_MAX;
	return ext->res->start + ((phys_addr_t)(pgoff - ext->pgoff) << PAGE_SHIFT);
}

/*
 * Make the CPU's stores to [@start, @start + @len) of @region visible to
 * peers, which read the BAR without snooping CPU caches: write back the
 * cache lines (WB), drain the write-combining buffers and read back so that
 * posted writes reach the card (WC), or just order (UC).
 */
void p2pdax_publish(struct p2pdax_region *region, phys_addr_t start, u64 len)
{
	u8 *p = region->kaddr + (start - region->res.start);

	if (!len)
		return;
	switch (region->cache) {
	case P2PDAX_CACHE_WB:
		while (len) {
			u64 n = min_t(u64, len, SZ_2M);

			clflush_cache_range(p, n);
			p += n;
			len -= n;
			cond_resched();
		}
		break;
	case P2PDAX_CACHE_WC:
		/* sfence: the WC buffers drain before the read-back */
		wmb();
		(void)READ_ONCE(p[len - 1]);
		break;
	default:
		/* UC: stores are not buffered; order them before what follows */
		mb();
		break;
	}
}

/*
 * Zeroing.  A region remembers which of its memory may hold bytes that the
 * device about to map it must not see: everything at first (whatever the
 * card held before it was bound), and every range a device gives back.
 * region->dirty has one bit per 1 << region->dirty_shift bytes.  Memory is
 * zeroed when a device first maps it, in the fault (p2pdax_zero_for_map()),
 * not when the device grows: every way to reach a device's bytes (a CPU
 * access, get_user_pages() for RDMA or O_DIRECT) goes through a fault, so
 * nothing reads a dirty block before it is zeroed, and memory nobody touches
 * is never written (a grow of 32 GiB is instant, and a sparse card stays
 * sparse).
 */

/* Mark [@start, @start + @len) of @region dirty: it held a device's bytes. */
static void p2pdax_mark_dirty(struct p2pdax_region *region,
			      resource_size_t start, resource_size_t len)
{
	unsigned int shift = region->dirty_shift;
	unsigned long first = (start - region->res.start) >> shift;
	unsigned long end = DIV_ROUND_UP(start + len - region->res.start,
					 1UL << shift);

	/* Blocks never straddle devices; should one, it is dirty all the same. */
	WARN_ON_ONCE(!IS_ALIGNED(start | len, 1UL << shift));
	spin_lock(&region->dirty_lock);
	bitmap_set(region->dirty, first, end - first);
	spin_unlock(&region->dirty_lock);
}

/*
 * Zero [@start, @start + @len) through the kernel mapping, 64-bit stores at
 * a time (memset64): x86's memset() is "rep stosb" on CPUs with ERMS, and on
 * a UC mapping fast strings are off, so every byte would be a bus
 * transaction of its own.  Then publish the zeroes to peers.
 */
static void p2pdax_zero(struct p2pdax_region *region, resource_size_t start,
			resource_size_t len)
{
	void *p = region->kaddr + (start - region->res.start);
	resource_size_t pos = start;

	/* blocks are whole pages; should one not be, still zero every byte */
	WARN_ON_ONCE(!IS_ALIGNED(start | len, PAGE_SIZE));
	while (len) {
		resource_size_t n = min_t(resource_size_t, len, SZ_2M);

		memset64(p, 0, n / sizeof(u64));
		if (n % sizeof(u64))
			memset(p + round_down(n, sizeof(u64)), 0, n % sizeof(u64));
		p2pdax_publish(region, pos, n);
		p += n;
		pos += n;
		len -= n;
		cond_resched();
	}
	/*
	 * Read back, whatever the memory type: a read of the card completes
	 * only after the posted writes before it, so the zeroes are in the
	 * card before a peer can be handed the address.
	 */
	(void)READ_ONCE(*(u8 *)(p - 1));
}

/*
 * A page memory-failure marked poisoned (a machine check on the card, or
 * MADV_HWPOISON: region.c, p2pdax_region_memory_failure()) is never mapped
 * again, and never zeroed: reading it would consume the poison.  The mark
 * lives as long as the struct page, i.e. until the card is unbound.  Nor
 * is it exported in a dma-buf (dmabuf.c).
 */
bool p2pdax_poisoned(unsigned long pfn, unsigned long nr)
{
	unsigned long i;

	for (i = 0; i < nr; i++) {
		struct page *page = pfn_to_page(pfn + i);

		/* the generic handler marks a compound page's head */
		if (PageHWPoison(page) || PageHWPoison(compound_head(page)))
			return true;
	}
	return false;
}

/**
 * p2pdax_zero_for_map() - zero what a fault is about to map, if it must be
 * @ddev: the device; the caller holds its fault_sem for read
 * @phys: start of the range the fault maps, in one of @ddev's extents
 * @len: its length (4 KiB or 2 MiB)
 *
 * Only dirty blocks are zeroed, and each once: ddev->zero_lock makes a
 * concurrent fault on the same block wait for the zeroes instead of mapping
 * the block early or zeroing it again over bytes the tenant already wrote.
 * Bits are cleared only after the zeroes are published, so a fault that
 * finds its blocks clean without the lock can map them at once.  A block's
 * bits are set again only when its device gives it back, with fault_sem held
 * for write: never while a fault of the device runs.  Blocks are at most
 * 2 MiB (region->dirty_shift), so a fault zeroes at most 2 MiB.
 *
 * Return: 0, or -EINTR if the task was killed while waiting for another
 * fault's zeroing.
 */
int p2pdax_zero_for_map(struct p2pdax_dev *ddev, phys_addr_t phys, u64 len)
{
	struct p2pdax_region *region = ddev->region;
	unsigned int shift = region->dirty_shift;
	unsigned long first, end, b, e;
	resource_size_t base = region->res.start;

	lockdep_assert_held_read(&ddev->fault_sem);
	first = (phys - base) >> shift;
	end = (phys + len - base + (1UL << shift) - 1) >> shift;
	/*
	 * Clean blocks were zeroed, published and read back before their bits
	 * were cleared (under dirty_lock); the mapping this fault makes is
	 * ordered after the load of the bits.
	 */
	if (data_race(find_next_bit(region->dirty, end, first)) >= end) {
		smp_acquire__after_ctrl_dep();
		return 0;
	}
	if (mutex_lock_killable(&ddev->zero_lock))
		return -EINTR;
	for (b = first; b < end; b = e) {
		spin_lock(&region->dirty_lock);
		b = find_next_bit(region->dirty, end, b);
		e = b < end ? find_next_zero_bit(region->dirty, end, b) : end;
		spin_unlock(&region->dirty_lock);
		if (b >= end)
			break;
		p2pdax_zero(region, base + ((resource_size_t)b << shift),
			    (resource_size_t)(e - b) << shift);
		spin_lock(&region->dirty_lock);
		bitmap_clear(region->dirty, b, e - b);
		spin_unlock(&region->dirty_lock);
	}
	mutex_unlock(&ddev->zero_lock);
	return 0;
}

/*
 * A block leaves its device: on kernels whose mappings are refcounted, its
 * folios stop naming the device (fault.c, p2pdax_folio_set_owner()), so no
 * rmap walk reaches the device through them.  Nothing maps the block any
 * more (revoked, and the pin check saw no reference).
 */
static void p2pdax_folios_disown(resource_size_t start, resource_size_t len)
{
	unsigned long pfn = PHYS_PFN(start), end = PHYS_PFN(start + len);

	if (!P2PDAX_REFCOUNTED_MAPS)
		return;
	while (pfn < end) {
		struct folio *folio = page_folio(pfn_to_page(pfn));

		folio->mapping = NULL;
		folio->index = 0;
		pfn = folio_pfn(folio) + folio_nr_pages(folio);
		if (!(pfn & 0xfff))
			cond_resched();
	}
}

/*
 * Give back everything past @new_size, from the highest page offset down.
 * Mappings must already be zapped and the range unpinned.
 */
static void __p2pdax_dev_trim(struct p2pdax_dev *ddev, u64 new_size)
{
	struct p2pdax_region *region = ddev->region;
	pgoff_t keep = new_size >> PAGE_SHIFT;
	struct p2pdax_extent *ext;

	lockdep_assert_held(&region->lock);
	lockdep_assert_held_write(&ddev->fault_sem);

	while ((ext = __p2pdax_last_extent(ddev))) {
		resource_size_t len = resource_size(ext->res);
		pgoff_t end = ext->pgoff + (len >> PAGE_SHIFT);

		if (end <= keep)
			break;
		if (ext->pgoff >= keep) {
			p2pdax_folios_disown(ext->res->start, len);
			p2pdax_mark_dirty(region, ext->res->start, len);
			__release_region(&region->res, ext->res->start, len);
			ext->res = NULL;
			ddev->nr_extents--;
			continue;
		}
		len = (resource_size_t)(keep - ext->pgoff) << PAGE_SHIFT;
		p2pdax_folios_disown(ext->res->start + len,
				     resource_size(ext->res) - len);
		p2pdax_mark_dirty(region, ext->res->start + len,
				  resource_size(ext->res) - len);
		adjust_resource(ext->res, ext->res->start, len);
		break;
	}
	ddev->size = new_size;
}

/*
 * Revoke user mappings of device bytes [@start, @start + @len) (@len 0: to
 * the end).  With devmap entries (6.1 to 6.14), then flush every TLB: an
 * entry the core mm cleared without a flush of its own (a path that walked a
 * huge entry it did not understand, or a concurrent zap that has not flushed
 * yet) must not outlive the revocation either.  With refcounted mappings
 * the zap's own flush comes before the references go, and the pin check
 * that follows every revocation waits for them (compat.h).  Exported
 * dma-bufs overlapping the range are revoked too (dmabuf.c).
 *
 * Return: whether an importer's DMA may still reach the range (its fences
 * have not signalled, or it keeps a mapping: a shrink fails).
 */
bool __p2pdax_revoke(struct p2pdax_dev *ddev, u64 start, u64 len)
{
	lockdep_assert_held_write(&ddev->fault_sem);
	unmap_mapping_range(ddev->inode->i_mapping, start, len, 1);
	p2pdax_flush_tlb_all();
	return __p2pdax_dmabufs_revoke(ddev, start, len);
}

/**
 * p2pdax_dev_revoke_phys() - revoke a device's mappings of physical bytes
 * @ddev: the device; its region is locked
 * @start: physical address
 * @len: bytes
 *
 * Whatever part of [@start, @start + @len) the device holds is unmapped
 * from every process; the device keeps the memory (memory-failure).
 */
void p2pdax_dev_revoke_phys(struct p2pdax_dev *ddev, phys_addr_t start,
			    u64 len)
{
	int i;

	lockdep_assert_held(&ddev->region->lock);
	down_write(&ddev->fault_sem);
	for (i = 0; i < ddev->nr_extents; i++) {
		struct p2pdax_extent *ext = &ddev->extents[i];
		phys_addr_t lo = max_t(phys_addr_t, start, ext->res->start);
		phys_addr_t hi = min_t(phys_addr_t, start + len - 1, ext->res->end);

		if (lo > hi)
			continue;
		__p2pdax_revoke(ddev, ((u64)ext->pgoff << PAGE_SHIFT) +
				(lo - ext->res->start), hi - lo + 1);
	}
	up_write(&ddev->fault_sem);
}

/*
 * Free space usable at @align: walk the gaps between the region's
 * allocations in address order and call @fn on each aligned piece until it
 * returns non-zero.
 */
static int __p2pdax_for_each_gap(struct p2pdax_region *region,
				 unsigned long align,
				 int (*fn)(resource_size_t start,
					   resource_size_t len, void *arg),
				 void *arg)
{
	resource_size_t pos = region->res.start;
	struct resource *child = region->res.child;
	int rc;

	lockdep_assert_held(&region->lock);
	for (;;) {
		resource_size_t end = child ? child->start : region->res.end + 1;
		resource_size_t start = ALIGN(pos, align);

		if (end > start && end - start >= align) {
			rc = fn(start, ALIGN_DOWN(end - start, align), arg);
			if (rc)
				return rc;
		}
		if (!child)
			return 0;
		pos = child->end + 1;
		child = child->sibling;
	}
}

/*
 * How a device grows: under region->lock, a dry run finds the space, then
 * the pieces are claimed (requested as children of the region's resource)
 * and appended to the device's extents with fault_sem held for write.
 */
struct p2pdax_grow_plan {
	struct p2pdax_dev *ddev;
	u64 want;		/* bytes still to place */
	resource_size_t end;	/* end of the space placed so far, or 0 */
	int new_extents;	/* extents the plan adds */
	bool claim;		/* false: only count; true: claim */
	int nr_claims;
	struct resource *claims[P2PDAX_MAX_EXTENTS + 1];
};

static int p2pdax_grow_gap(resource_size_t start, resource_size_t len,
			   void *arg)
{
	struct p2pdax_grow_plan *plan = arg;
	struct p2pdax_dev *ddev = plan->ddev;
	resource_size_t take = min_t(u64, len, plan->want);
	struct resource *res;

	if (!plan->end || plan->end != start)
		plan->new_extents++;
	plan->end = start + take;
	if (plan->claim) {
		/*
		 * The dry run found this space under the same lock: only the
		 * resource's allocation can fail.
		 */
		res = __request_region(&ddev->region->res, start, take,
				       dev_name(&ddev->dev), 0);
		if (!res)
			return -ENOMEM;
		plan->claims[plan->nr_claims++] = res;
	}
	plan->want -= take;
	return plan->want == 0;
}

/* Give back the claims the device has not taken in (the non-NULL ones). */
static void __p2pdax_release_claims(struct p2pdax_region *region,
				    struct p2pdax_grow_plan *plan)
{
	int i;

	lockdep_assert_held(&region->lock);
	for (i = 0; i < plan->nr_claims; i++) {
		struct resource *res = plan->claims[i];

		if (res)
			__release_region(&region->res, res->start,
					 resource_size(res));
		plan->claims[i] = NULL;
	}
}

/*
 * Append a claimed piece to the device; fault_sem held for write.
 * *@claim becomes NULL once the device has taken it in (or it was given back).
 */
static int __p2pdax_dev_append(struct p2pdax_dev *ddev, struct resource **claim)
{
	struct p2pdax_region *region = ddev->region;
	struct p2pdax_extent *last = __p2pdax_last_extent(ddev);
	struct resource *res = *claim;
	resource_size_t start = res->start, len = resource_size(res);
	pgoff_t pgoff = ddev->size >> PAGE_SHIFT;
	int rc;

	lockdep_assert_held(&region->lock);
	lockdep_assert_held_write(&ddev->fault_sem);
	if (last && last->res->end + 1 == start) {
		/* In place: the last extent grows over the claim. */
		__release_region(&region->res, start, len);
		*claim = NULL;
		rc = adjust_resource(last->res, last->res->start,
				     resource_size(last->res) + len);
		if (WARN_ON_ONCE(rc))
			return rc;
	} else {
		if (WARN_ON_ONCE(ddev->nr_extents == P2PDAX_MAX_EXTENTS))
			return -ENOSPC;
		ddev->extents[ddev->nr_extents++] = (struct p2pdax_extent) {
			.res = res,
			.pgoff = pgoff,
		};
		*claim = NULL;
	}
	ddev->size += len;
	return 0;
}

/*
 * Grow @ddev to @new_size, under region->lock.  Nothing is zeroed here: the
 * new memory is zeroed as the device first maps it (p2pdax_zero_for_map()).
 */
static int __p2pdax_dev_grow(struct p2pdax_dev *ddev, u64 new_size)
{
	struct p2pdax_region *region = ddev->region;
	struct p2pdax_extent *last = __p2pdax_last_extent(ddev);
	resource_size_t end = last ? last->res->end + 1 : 0;
	struct p2pdax_grow_plan *plan;
	u64 old_size = ddev->size;
	int i, rc = 0;

	lockdep_assert_held(&ddev->resize_lock);
	lockdep_assert_held(&region->lock);
	plan = kzalloc(sizeof(*plan), GFP_KERNEL);
	if (!plan)
		return -ENOMEM;
	*plan = (struct p2pdax_grow_plan) {
		.ddev = ddev,
		.want = new_size - old_size,
		.end = end,
	};
	/* First a dry run, so that a refusal changes nothing. */
	__p2pdax_for_each_gap(region, ddev->align, p2pdax_grow_gap, plan);
	if (plan->want ||
	    ddev->nr_extents + plan->new_extents > P2PDAX_MAX_EXTENTS) {
		rc = -ENOSPC;
		goto out_free;
	}
	plan->want = new_size - old_size;
	plan->end = end;
	plan->claim = true;
	rc = __p2pdax_for_each_gap(region, ddev->align, p2pdax_grow_gap, plan);
	if (rc < 0 || plan->want) {
		__p2pdax_release_claims(region, plan);
		rc = rc < 0 ? rc : -ENOSPC;
		goto out_free;
	}
	rc = 0;

	down_write(&ddev->fault_sem);
	for (i = 0; i < plan->nr_claims && !rc; i++)
		rc = __p2pdax_dev_append(ddev, &plan->claims[i]);
	if (rc) {
		__p2pdax_release_claims(region, plan);
		__p2pdax_dev_trim(ddev, old_size);
	}
	up_write(&ddev->fault_sem);
out_free:
	kfree(plan);
	return rc;
}

/*
 * Pages of [@start, @start + @len) whose reference count is not the idle
 * one.  With compound pages (a provider's min_align) the count is the
 * head's, for every page of the compound page: a pin of any tail is taken
 * on the head.
 */
static unsigned long p2pdax_count_pinned(phys_addr_t start, u64 len,
					 unsigned long *first_pfn)
{
	unsigned long pfn = PHYS_PFN(start), end = PHYS_PFN(start + len), n = 0;

	while (pfn < end) {
		struct folio *folio = page_folio(pfn_to_page(pfn));
		unsigned long next = min(folio_pfn(folio) + folio_nr_pages(folio),
					 end);

		/*
		 * ZONE_DEVICE pages of MEMORY_DEVICE_GENERIC keep a reference
		 * count of 1 while idle.  Devmap entries take none; refcounted
		 * mappings (6.15 on) take one each, and a revocation has just
		 * zapped them (their references are dropped once their TLB
		 * entries are flushed).  So anything above 1 is GUP (a pin, or
		 * I/O in flight), or an entry not yet flushed.  Anything else
		 * but 1 is busy too: a FOLL_PIN adds 1024 to a small page and
		 * GUP refuses only a count already <= 0, so 2^21 pins of one
		 * page wrap it negative (and 0 is no idle page of ours).
		 * Only the idle count frees a page.
		 */
		if (folio_ref_count(folio) != 1) {
			if (!n && first_pfn)
				*first_pfn = pfn;
			n += next - pfn;
		}
		if ((pfn ^ next) & ~0xfffUL)
			cond_resched();
		pfn = next;
	}
	return n;
}

/* Pinned pages among device bytes [@from, size). */
static unsigned long __p2pdax_dev_pinned(struct p2pdax_dev *ddev, u64 from)
{
	unsigned long n = 0;
	int i;

	for (i = 0; i < ddev->nr_extents; i++) {
		struct p2pdax_extent *ext = &ddev->extents[i];
		u64 ext_off = (u64)ext->pgoff << PAGE_SHIFT;
		u64 len = resource_size(ext->res), skip = 0;

		if (ext_off + len <= from)
			continue;
		if (ext_off < from)
			skip = from - ext_off;
		n += p2pdax_count_pinned(ext->res->start + skip, len - skip,
					 NULL);
	}
	return n;
}

static int __p2pdax_dev_shrink(struct p2pdax_dev *ddev, u64 new_size)
{
	unsigned long pinned, deadline;
	char who[64];

	lockdep_assert_held(&ddev->region->lock);
	down_write(&ddev->fault_sem);
	/*
	 * A pinned dma-buf importer of the range is a pin that no revocation
	 * ends: refuse before anything is revoked.
	 */
	if (__p2pdax_dmabufs_pinned(ddev, new_size, ddev->size - new_size,
				    who, sizeof(who))) {
		up_write(&ddev->fault_sem);
		dev_info(&ddev->dev, "cannot shrink to %llu: a dma-buf of the range is pinned by %s\n",
			 new_size, who);
		return -EBUSY;
	}
	/* Revoke first: with fault_sem held for write nothing can refault. */
	if (__p2pdax_revoke(ddev, new_size, ddev->size - new_size) &&
	    p2pdax_dmabufs_fenced(ddev)) {
		up_write(&ddev->fault_sem);
		dev_info(&ddev->dev, "cannot shrink to %llu: a dma-buf importer's DMA may still run (its fences have not signalled)\n",
			 new_size);
		return -EBUSY;
	}
	pinned = __p2pdax_dev_pinned(ddev, new_size);
	/*
	 * With refcounted mappings, an unmap the tenant runs at this moment
	 * (munmap, MADV_DONTNEED, exit) may have cleared entries the zap did
	 * not see and hold their references until its TLB flush, microseconds
	 * later.  Look again for up to 50 ms (whatever the device's size:
	 * each look walks its struct pages) before calling them pins.
	 */
	deadline = jiffies + msecs_to_jiffies(50);
	while (pinned && P2PDAX_REFCOUNTED_MAPS && time_before(jiffies, deadline)) {
		usleep_range(500, 1000);
		pinned = __p2pdax_dev_pinned(ddev, new_size);
	}
	if (pinned) {
		char *who = kmalloc(P2PDAX_HOLDERS_LEN, GFP_KERNEL);

		up_write(&ddev->fault_sem);
		if (who)
			p2pdax_holders_str(ddev, who, P2PDAX_HOLDERS_LEN);
		dev_info(&ddev->dev, "cannot shrink to %llu: %lu pages pinned (mapped by %s)\n",
			 new_size, pinned, who ?: "?");
		kfree(who);
		return -EBUSY;
	}
	__p2pdax_dev_trim(ddev, new_size);
	up_write(&ddev->fault_sem);
	return 0;
}

/**
 * __p2pdax_dev_resize() - grow or shrink a device
 * @ddev: the device; its resize_lock and its region's lock are held
 * @size: the new size in bytes, a multiple of the device's align
 *
 * Growth takes free memory, which is zeroed (and the zeroes made visible
 * to peers) when the device first maps it; shrinking revokes mappings of the
 * removed range (and flushes TLBs), refuses if pages there are pinned, and
 * marks what it gives back for zeroing.
 *
 * Return: 0; -EINVAL (misaligned), -ENOSPC (no room, or too many extents),
 * -EBUSY (pinned), -ENXIO (deleted), -ENOMEM.
 */
int __p2pdax_dev_resize(struct p2pdax_dev *ddev, u64 size)
{
	lockdep_assert_held(&ddev->resize_lock);
	lockdep_assert_held(&ddev->region->lock);
	if (ddev->dead)
		return -ENXIO;
	if (!IS_ALIGNED(size, ddev->align))
		return -EINVAL;
	if (size == ddev->size)
		return 0;
	if (size < ddev->size)
		return __p2pdax_dev_shrink(ddev, size);
	return __p2pdax_dev_grow(ddev, size);
}

/**
 * __p2pdax_dev_release_extents() - give back a dead device's memory
 * @ddev: the device; its region is locked
 */
void __p2pdax_dev_release_extents(struct p2pdax_dev *ddev)
{
	lockdep_assert_held(&ddev->region->lock);
	down_write(&ddev->fault_sem);
	__p2pdax_dev_trim(ddev, 0);
	up_write(&ddev->fault_sem);
}

/**
 * p2pdax_region_pinned() - pages of a region whose reference count is busy
 * @region: the region
 * @first_pfn: set to the first such page, if any; may be NULL
 *
 * Return: how many pages of the region are pinned (or otherwise not idle).
 */
unsigned long p2pdax_region_pinned(struct p2pdax_region *region,
				   unsigned long *first_pfn)
{
	return p2pdax_count_pinned(region->res.start, p2pdax_region_size(region),
				   first_pfn);
}

/**
 * p2pdax_wait_unpinned() - wait until no page of a dead region is pinned
 * @region: the region, dead and with every device killed; not locked
 *
 * Mappings are gone, but a long-term pin (an RDMA memory registration, say)
 * keeps DMA going to the pages until its holder lets go; the memory cannot be
 * torn down before that, so the wait cannot be cut short either (the
 * provider's removal cannot fail).  Says every 10 seconds what it waits for,
 * naming the processes that mapped the device holding the first pinned
 * page.  p2pctl unbind waits (with a timeout) before it unbinds, after
 * retiring the region, so that this wait finds no pin.
 */
void p2pdax_wait_unpinned(struct p2pdax_region *region)
{
	unsigned long pinned, first = 0, waited = 0;
	struct p2pdax_dev *ddev;
	char *who;

	who = kmalloc(P2PDAX_HOLDERS_LEN, GFP_KERNEL);
	for (;;) {
		bool fenced = false;

		pinned = p2pdax_region_pinned(region, &first);
		mutex_lock(&region->lock);
		list_for_each_entry(ddev, &region->devs, list)
			fenced |= p2pdax_dmabufs_fenced(ddev);
		mutex_unlock(&region->lock);
		if (!pinned && !fenced)
			break;
		if (!pinned) {
			if (waited % 10000 == 0)
				dev_warn(region->parent, "teardown waits for the fences of dma-bufs (an importer's DMA may still run)\n");
			msleep(100);
			waited += 100;
			continue;
		}
		if (waited % 10000 == 0) {
			if (who)
				strscpy(who, "a device no longer there", P2PDAX_HOLDERS_LEN);
			mutex_lock(&region->lock);
			list_for_each_entry(ddev, &region->devs, list) {
				int i;

				for (i = 0; i < ddev->nr_extents; i++) {
					struct resource *r = ddev->extents[i].res;

					if (who && PFN_PHYS(first) >= r->start &&
					    PFN_PHYS(first) <= r->end)
						p2pdax_holders_str(ddev, who,
								   P2PDAX_HOLDERS_LEN);
				}
			}
			mutex_unlock(&region->lock);
			dev_warn(region->parent,
				 "teardown waits for %lu pinned pages (first at pfn %#lx, mapped by %s)\n",
				 pinned, first, who ?: "?");
		}
		msleep(100);
		waited += 100;
	}
	kfree(who);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * p2pdax devices: the per-tenant character devices a region is carved into.
 *
 * A device is a list of physical extents (children of the region's
 * resource) laid end to end in page-offset order.  Growing takes free space
 * first-fit in address order; shrinking trims from the highest page offset.
 * Memory is zeroed before a device can map it, mappings of a removed range
 * are zapped first, and a range with outstanding page references (pins) is
 * never given up.  See Documentation/design.rst.
 */
#include <linux/ctype.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/pagemap.h>
#include <linux/module.h>
#include <linux/pfn_t.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include "compat.h"
#include "dax-core.h"

/* ---- extents ------------------------------------------------------------ */

static struct p2pdax_extent *__p2pdax_last_extent(struct p2pdax_dev *ddev)
{
	return ddev->nr_extents ? &ddev->extents[ddev->nr_extents - 1] : NULL;
}

/* Physical address of device page @pgoff; the caller holds fault_sem. */
static phys_addr_t __p2pdax_pgoff_to_phys(struct p2pdax_dev *ddev,
					  pgoff_t pgoff)
{
	struct p2pdax_extent *ext;
	void *entry;

	entry = xa_load(&ddev->xa, pgoff);
	if (!entry)
		return PHYS_ADDR_MAX;
	ext = &ddev->extents[xa_to_value(entry)];
	/* never trust an entry that points outside its extent */
	if (pgoff < ext->pgoff ||
	    pgoff - ext->pgoff >= resource_size(ext->res) >> PAGE_SHIFT)
		return PHYS_ADDR_MAX;
	return ext->res->start + ((phys_addr_t)(pgoff - ext->pgoff) << PAGE_SHIFT);
}

/*
 * Point device pages [@pgoff, @pgoff + @bytes) at extent @i (or at nothing
 * for @i < 0).  One multi-order entry per align-sized block: a lookup is a
 * tree walk whatever the number of extents, and since sizes only change by
 * whole blocks, a trim never has to split an entry.  Erasing never
 * allocates, so it cannot fail.
 */
static int __p2pdax_index(struct p2pdax_dev *ddev, pgoff_t pgoff, u64 bytes,
			  int i)
{
	unsigned int order = ilog2(ddev->align >> PAGE_SHIFT);
	XA_STATE_ORDER(xas, &ddev->xa, pgoff, order);
	void *entry = i < 0 ? NULL : xa_mk_value(i);
	pgoff_t n = bytes >> PAGE_SHIFT, done;

	lockdep_assert_held_write(&ddev->fault_sem);
	for (done = 0; done < n; done += 1UL << order) {
		xas_set_order(&xas, pgoff + done, order);
		do {
			xas_lock(&xas);
			xas_store(&xas, entry);
			xas_unlock(&xas);
		} while (xas_nomem(&xas, GFP_KERNEL));
		if (xas_error(&xas))
			return xas_error(&xas);
		if (!(done & 0xffff))
			cond_resched();
	}
	return 0;
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
			__p2pdax_index(ddev, ext->pgoff, len, -1);
			__release_region(&region->res, ext->res->start, len);
			ext->res = NULL;
			ddev->nr_extents--;
			continue;
		}
		__p2pdax_index(ddev, keep, (u64)(end - keep) << PAGE_SHIFT, -1);
		adjust_resource(ext->res, ext->res->start,
				(resource_size_t)(keep - ext->pgoff) << PAGE_SHIFT);
		break;
	}
	ddev->size = new_size;
}

/*
 * Make the CPU's stores to [@start, @start + @len) of @region visible to
 * peers, which read the BAR without snooping CPU caches: write back the
 * cache lines (WB), drain the write-combining buffers and read back so that
 * posted writes reach the card (WC), or just order (UC).
 */
static void p2pdax_publish(struct p2pdax_region *region, phys_addr_t start,
			   u64 len)
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
 * Zero [@start, @start + @len) of @ddev's region through the kernel mapping
 * and publish the zeroes.  Gives up (-ENXIO, -EINTR) when the device or the
 * region dies or the task is killed, so that nothing waits long for it.
 *
 * The stores are 64-bit (memset64): x86's memset() is "rep stosb" on CPUs
 * with ERMS, and on a UC mapping fast strings are off, so every byte would
 * be a bus transaction of its own.  Ranges are multiples of 4 KiB.
 */
static int p2pdax_scrub(struct p2pdax_dev *ddev, resource_size_t start,
			resource_size_t len)
{
	struct p2pdax_region *region = ddev->region;
	void *p = region->kaddr + (start - region->res.start);
	resource_size_t pos = start;

	while (len) {
		resource_size_t n = min_t(resource_size_t, len, SZ_2M);

		if (READ_ONCE(ddev->dead) || READ_ONCE(region->dead))
			return -ENXIO;
		if (fatal_signal_pending(current))
			return -EINTR;
		memset64(p, 0, n / sizeof(u64));
		p2pdax_publish(region, pos, n);
		p += n;
		pos += n;
		len -= n;
		cond_resched();
	}
	return 0;
}

/*
 * Revoke user mappings of device bytes [@start, @start + @len) (@len 0: to
 * the end), then flush every TLB: an entry the core mm cleared without a
 * flush of its own (a path that walked a huge entry it did not understand,
 * or a concurrent zap that has not flushed yet) must not outlive the
 * revocation either.
 */
static void __p2pdax_revoke(struct p2pdax_dev *ddev, u64 start, u64 len)
{
	lockdep_assert_held_write(&ddev->fault_sem);
	unmap_mapping_range(ddev->inode->i_mapping, start, len, 1);
	p2pdax_flush_tlb_all();
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
 * the pieces are claimed (requested as children of the region's resource, so
 * nobody else can take them); the lock is dropped while they are zeroed,
 * then retaken to publish them as the device's extents.
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
 * Append a claimed, zeroed piece to the device; fault_sem held for write.
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
		rc = __p2pdax_index(ddev, pgoff, len, ddev->nr_extents - 1);
		if (rc) {
			adjust_resource(last->res, last->res->start,
					resource_size(last->res) - len);
			return rc;
		}
	} else {
		if (WARN_ON_ONCE(ddev->nr_extents == P2PDAX_MAX_EXTENTS))
			return -ENOSPC;
		rc = __p2pdax_index(ddev, pgoff, len, ddev->nr_extents);
		if (rc)
			return rc;
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
 * Grow @ddev to @new_size.  Called with region->lock held, and returns with
 * it held, but drops it while the new memory is zeroed (resize_lock keeps
 * other size changes of the device out meanwhile).
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

	WRITE_ONCE(region->scrubbing, region->scrubbing + 1);
	ddev->growing = true;
	mutex_unlock(&region->lock);
	for (i = 0; i < plan->nr_claims && !rc; i++)
		rc = p2pdax_scrub(ddev, plan->claims[i]->start,
				  resource_size(plan->claims[i]));
	mutex_lock(&region->lock);
	ddev->growing = false;
	WRITE_ONCE(region->scrubbing, region->scrubbing - 1);
	if (!region->scrubbing)
		wake_up_all(&region->scrub_wq);

	/* Torn down or killed meanwhile: the claims go back. */
	if (!rc && (region->dead || ddev->dead))
		rc = -ENXIO;
	if (rc) {
		__p2pdax_release_claims(region, plan);
		goto out_free;
	}
	down_write(&ddev->fault_sem);
	for (i = 0; i < plan->nr_claims && !rc; i++)
		rc = __p2pdax_dev_append(ddev, &plan->claims[i]);
	if (rc) {
		__p2pdax_release_claims(region, plan);
		__p2pdax_dev_trim(ddev, old_size);
		/* entries a failed __p2pdax_index() left past the size */
		__p2pdax_index(ddev, old_size >> PAGE_SHIFT, new_size - old_size, -1);
	}
	up_write(&ddev->fault_sem);
out_free:
	kfree(plan);
	return rc;
}

/* Pages of [@start, @start + @len) with references beyond the base one. */
static unsigned long p2pdax_count_pinned(phys_addr_t start, u64 len,
					 unsigned long *first_pfn)
{
	unsigned long pfn, end = PHYS_PFN(start + len), n = 0;

	for (pfn = PHYS_PFN(start); pfn < end; pfn++) {
		/*
		 * ZONE_DEVICE pages of MEMORY_DEVICE_GENERIC keep a reference
		 * count of 1 while idle; user mappings of devmap entries take
		 * none, so anything above 1 is GUP (a pin, or I/O in flight).
		 */
		if (page_ref_count(pfn_to_page(pfn)) > 1) {
			if (!n && first_pfn)
				*first_pfn = pfn;
			n++;
		}
		if (!(pfn & 0xfff))
			cond_resched();
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
	unsigned long pinned;

	lockdep_assert_held(&ddev->region->lock);
	down_write(&ddev->fault_sem);
	/* Revoke first: with fault_sem held for write nothing can refault. */
	__p2pdax_revoke(ddev, new_size, ddev->size - new_size);
	pinned = __p2pdax_dev_pinned(ddev, new_size);
	if (pinned) {
		up_write(&ddev->fault_sem);
		spin_lock(&ddev->holder_lock);
		dev_info(&ddev->dev, "cannot shrink to %llu: %lu pages pinned (mapped by %s)\n",
			 new_size, pinned, ddev->holder);
		spin_unlock(&ddev->holder_lock);
		return -EBUSY;
	}
	__p2pdax_dev_trim(ddev, new_size);
	up_write(&ddev->fault_sem);
	return 0;
}

/* Called with resize_lock and region->lock held; see __p2pdax_dev_grow(). */
static int __p2pdax_dev_resize(struct p2pdax_dev *ddev, u64 size)
{
	struct p2pdax_region *region = ddev->region;
	struct p2pdax_dev *seed;
	int rc;

	lockdep_assert_held(&ddev->resize_lock);
	lockdep_assert_held(&region->lock);
	if (ddev->dead)
		return -ENXIO;
	if (!IS_ALIGNED(size, ddev->align))
		return -EINVAL;
	if (size == ddev->size)
		return 0;
	if (size < ddev->size)
		return __p2pdax_dev_shrink(ddev, size);

	rc = __p2pdax_dev_grow(ddev, size);
	if (rc)
		return rc;
	/* A sized seed is a device in its own right: plant the next seed. */
	if (region->seed == ddev) {
		region->seed = NULL;
		if (__p2pdax_region_available(region)) {
			seed = __p2pdax_dev_create(region);
			if (IS_ERR(seed))
				dev_err(region->parent, "cannot plant a new seed: %pe\n",
					seed);
			else
				region->seed = seed;
		}
	}
	return 0;
}

/**
 * p2pdax_dev_resize() - grow or shrink a device
 * @ddev: the device
 * @size: the new size in bytes, a multiple of the device's align
 *
 * Growth zeroes the new memory, makes the zeroes visible to peers, and only
 * then lets the device map it; shrinking revokes mappings of the removed
 * range (and flushes TLBs) and refuses if pages there are pinned.
 *
 * Return: 0; -EINVAL (misaligned), -ENOSPC (no room, or too many extents),
 * -EBUSY (pinned), -ENXIO (deleted), -ENOMEM.
 */
int p2pdax_dev_resize(struct p2pdax_dev *ddev, u64 size)
{
	int rc;

	mutex_lock(&ddev->resize_lock);
	mutex_lock(&ddev->region->lock);
	rc = __p2pdax_dev_resize(ddev, size);
	mutex_unlock(&ddev->region->lock);
	mutex_unlock(&ddev->resize_lock);
	return rc;
}

/* ---- sysfs ---------------------------------------------------------------- */

static ssize_t size_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct p2pdax_dev *ddev = to_p2pdax_dev(dev);
	u64 size;

	mutex_lock(&ddev->region->lock);
	size = ddev->size;
	mutex_unlock(&ddev->region->lock);
	return sysfs_emit(buf, "%llu\n", size);
}

static ssize_t size_store(struct device *dev, struct device_attribute *attr,
			  const char *buf, size_t len)
{
	struct p2pdax_dev *ddev = to_p2pdax_dev(dev);
	u64 size;
	int rc;

	rc = kstrtou64(buf, 0, &size);
	if (rc)
		return rc;
	rc = p2pdax_dev_resize(ddev, size);
	return rc ? rc : len;
}
static DEVICE_ATTR_RW(size);

static ssize_t align_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(to_p2pdax_dev(dev)->align));
}

static ssize_t align_store(struct device *dev, struct device_attribute *attr,
			   const char *buf, size_t len)
{
	struct p2pdax_dev *ddev = to_p2pdax_dev(dev);
	struct p2pdax_region *region = ddev->region;
	unsigned long align;
	int rc;

	rc = kstrtoul(buf, 0, &align);
	if (rc)
		return rc;
	if (align != PAGE_SIZE && align != SZ_2M && align != SZ_1G)
		return -EINVAL;
	if (align > region->align)
		return -EINVAL;

	mutex_lock(&ddev->resize_lock);
	mutex_lock(&region->lock);
	down_write(&ddev->fault_sem);
	if (ddev->dead)
		rc = -ENXIO;
	else if (ddev->size)
		rc = -EBUSY;
	else if (WARN_ON_ONCE(!xa_empty(&ddev->xa)))
		rc = -EBUSY;
	else
		WRITE_ONCE(ddev->align, align);
	up_write(&ddev->fault_sem);
	mutex_unlock(&region->lock);
	mutex_unlock(&ddev->resize_lock);
	return rc ? rc : len;
}
static DEVICE_ATTR_RW(align);

/* Physical addresses are for root only (0400). */
static ssize_t resource_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct p2pdax_dev *ddev = to_p2pdax_dev(dev);
	resource_size_t start = 0;

	mutex_lock(&ddev->region->lock);
	if (ddev->nr_extents)
		start = ddev->extents[0].res->start;
	mutex_unlock(&ddev->region->lock);
	return sysfs_emit(buf, "%#llx\n", (unsigned long long)start);
}
static DEVICE_ATTR_ADMIN_RO(resource);

/* One line per extent: "START-END PAGE_OFFSET", END inclusive. */
static ssize_t extents_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct p2pdax_dev *ddev = to_p2pdax_dev(dev);
	ssize_t n = 0;
	int i;

	mutex_lock(&ddev->region->lock);
	for (i = 0; i < ddev->nr_extents; i++) {
		struct p2pdax_extent *ext = &ddev->extents[i];

		n += sysfs_emit_at(buf, n, "%#llx-%#llx %lu\n",
				   (unsigned long long)ext->res->start,
				   (unsigned long long)ext->res->end,
				   ext->pgoff);
	}
	mutex_unlock(&ddev->region->lock);
	return n;
}
static DEVICE_ATTR_ADMIN_RO(extents);

/*
 * Labels: the stable name of a tenant's device, for udev
 * (/dev/p2pdax/by-label/LABEL) and p2pctl's layouts, since device numbers
 * are never reused.  p2pdax_label_lock protects every device's @label and
 * @label_node and the list of labelled devices; it nests inside
 * region->lock and takes nothing else.
 */
static DEFINE_MUTEX(p2pdax_label_lock);
static LIST_HEAD(p2pdax_labelled);

/* ASCII only: the kernel's isalnum() also takes Latin-1 letters. */
static bool p2pdax_label_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* 1-63 characters of [A-Za-z0-9._-], starting with a letter or digit. */
static bool p2pdax_label_valid(const char *label)
{
	const char *p;

	if (!p2pdax_label_alnum(label[0]))
		return false;
	for (p = label; *p; p++)
		if (!p2pdax_label_alnum(*p) && *p != '.' && *p != '_' && *p != '-')
			return false;
	return p - label <= P2PDAX_LABEL_MAX;
}

/*
 * Drop @ddev's label when it dies, so that the label can be given again,
 * and tell udev, so that /dev/p2pdax/by-label/ no longer leads to it.
 */
static void p2pdax_label_clear(struct p2pdax_dev *ddev)
{
	bool had;

	mutex_lock(&p2pdax_label_lock);
	had = ddev->label[0];
	list_del_init(&ddev->label_node);
	ddev->label[0] = 0;
	mutex_unlock(&p2pdax_label_lock);
	if (had)
		kobject_uevent(&ddev->dev.kobj, KOBJ_CHANGE);
}

static ssize_t label_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct p2pdax_dev *ddev = to_p2pdax_dev(dev);
	ssize_t n;

	mutex_lock(&p2pdax_label_lock);
	n = sysfs_emit(buf, "%s\n", ddev->label);
	mutex_unlock(&p2pdax_label_lock);
	return n;
}

/* A label, or an empty line to remove it.  EINVAL: malformed; EEXIST: taken. */
static ssize_t label_store(struct device *dev, struct device_attribute *attr,
			   const char *buf, size_t len)
{
	struct p2pdax_dev *ddev = to_p2pdax_dev(dev);
	char label[P2PDAX_LABEL_MAX + 2];
	struct p2pdax_dev *other;
	bool changed = false;
	size_t n = len;
	int rc = 0;

	if (n && buf[n - 1] == '\n')
		n--;
	if (n > P2PDAX_LABEL_MAX || memchr(buf, 0, n))
		return -EINVAL;
	memcpy(label, buf, n);
	label[n] = 0;
	if (n && !p2pdax_label_valid(label))
		return -EINVAL;

	mutex_lock(&ddev->region->lock);
	mutex_lock(&p2pdax_label_lock);
	if (ddev->dead) {
		rc = -ENXIO;
		goto out;
	}
	list_for_each_entry(other, &p2pdax_labelled, label_node) {
		if (other != ddev && !strcmp(other->label, label)) {
			rc = -EEXIST;
			goto out;
		}
	}
	changed = strcmp(ddev->label, label);
	strscpy(ddev->label, label, sizeof(ddev->label));
	list_del_init(&ddev->label_node);
	if (n)
		list_add_tail(&ddev->label_node, &p2pdax_labelled);
out:
	mutex_unlock(&p2pdax_label_lock);
	mutex_unlock(&ddev->region->lock);
	if (rc)
		return rc;
	/* udev (re)makes /dev/p2pdax/by-label/ from P2PDAX_LABEL */
	if (changed)
		kobject_uevent(&dev->kobj, KOBJ_CHANGE);
	return len;
}
static DEVICE_ATTR_RW(label);

/**
 * p2pdax_dev_uevent() - the p2pdax class's uevent variables
 * @dev: a p2pdax device
 * @env: the uevent
 *
 * Adds P2PDAX_REGION, and P2PDAX_LABEL when the device has a label.
 *
 * Return: 0 or -ENOMEM.
 */
int p2pdax_dev_uevent(P2PDAX_CLASS_DEV *dev, struct kobj_uevent_env *env)
{
	struct p2pdax_dev *ddev = container_of(dev, struct p2pdax_dev, dev);
	int rc;

	rc = add_uevent_var(env, "P2PDAX_REGION=%d", ddev->region->id);
	mutex_lock(&p2pdax_label_lock);
	if (!rc && ddev->label[0])
		rc = add_uevent_var(env, "P2PDAX_LABEL=%s", ddev->label);
	mutex_unlock(&p2pdax_label_lock);
	return rc;
}

static ssize_t region_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	return sysfs_emit(buf, "%d\n", to_p2pdax_dev(dev)->region->id);
}
static DEVICE_ATTR_RO(region);

static ssize_t numa_node_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	return sysfs_emit(buf, "%d\n", to_p2pdax_dev(dev)->region->nid);
}
static DEVICE_ATTR_RO(numa_node);

static umode_t p2pdax_dev_visible(struct kobject *kobj, struct attribute *a,
				  int n)
{
	if (a == &dev_attr_numa_node.attr && !IS_ENABLED(CONFIG_NUMA))
		return 0;
	return a->mode;
}

static struct attribute *p2pdax_dev_attrs[] = {
	&dev_attr_size.attr,
	&dev_attr_align.attr,
	&dev_attr_resource.attr,
	&dev_attr_extents.attr,
	&dev_attr_region.attr,
	&dev_attr_numa_node.attr,
	&dev_attr_label.attr,
	NULL,
};

static const struct attribute_group p2pdax_dev_group = {
	.attrs = p2pdax_dev_attrs,
	.is_visible = p2pdax_dev_visible,
};

static const struct attribute_group *p2pdax_dev_groups[] = {
	&p2pdax_dev_group,
	NULL,
};

/* ---- mmap and faults ------------------------------------------------------ */

static vm_fault_t p2pdax_huge_fault(struct vm_fault *vmf, P2PDAX_FAULT_ARG)
{
	unsigned long fault_size = 1UL << p2pdax_fault_shift(p2pdax_fault_arg);
	struct vm_area_struct *vma = vmf->vma;
	struct p2pdax_dev *ddev = vma->vm_file->private_data;
	bool write = vmf->flags & FAULT_FLAG_WRITE;
	unsigned long addr;
	phys_addr_t phys;
	vm_fault_t ret;
	pgoff_t pgoff;
	pfn_t pfn;

	down_read(&ddev->fault_sem);
	if (ddev->dead) {
		ret = VM_FAULT_SIGBUS;
		goto out;
	}
	/*
	 * Map at the device's alignment (4K, 2M or 1G entries).  A smaller
	 * fault happens when the mm cannot take a huge entry there (a page
	 * table already hangs at that slot): extents are aligned, so mapping
	 * a piece of the aligned block is still correct.
	 */
	if (fault_size > ddev->align) {
		ret = VM_FAULT_FALLBACK;
		goto out;
	}
	/*
	 * Never a 1 GiB entry, whatever the align: x86's pud_bad() is true
	 * for a huge PUD, and mremap()'s page-table walk (get_old_pud(), 6.1
	 * and 6.12 alike) and 6.1's mprotect() (change_pud_range()) clear
	 * such an entry as "bad" without a TLB flush, leaving a translation
	 * that outlives revocation.  1 GiB-aligned devices are mapped with
	 * 2 MiB entries, which every path handles and flushes.  See
	 * Documentation/design.rst, "Isolation".
	 */
	if (fault_size > PMD_SIZE) {
		ret = VM_FAULT_FALLBACK;
		goto out;
	}
	/*
	 * A huge entry must cover an aligned block of device pages inside the
	 * vma; mremap() can move a mapping off alignment, and then the piece
	 * is mapped with smaller entries.
	 */
	addr = ALIGN_DOWN(vmf->address, fault_size);
	pgoff = linear_page_index(vma, addr);
	if (addr < vma->vm_start || addr + fault_size > vma->vm_end ||
	    !IS_ALIGNED(pgoff, fault_size >> PAGE_SHIFT)) {
		ret = fault_size > PAGE_SIZE ? VM_FAULT_FALLBACK : VM_FAULT_SIGBUS;
		goto out;
	}
	if (((u64)pgoff << PAGE_SHIFT) + fault_size > ddev->size) {
		ret = VM_FAULT_SIGBUS;
		goto out;
	}
	/* Extents are aligned to fault_size, so the entry is contiguous. */
	phys = __p2pdax_pgoff_to_phys(ddev, pgoff);
	if (phys == PHYS_ADDR_MAX) {
		ret = VM_FAULT_SIGBUS;
		goto out;
	}
	pfn = phys_to_pfn_t(phys, PFN_DEV | PFN_MAP);
	if (fault_size == PMD_SIZE)
		ret = vmf_insert_pfn_pmd(vmf, pfn, write);
	else
		ret = vmf_insert_mixed(vma, vmf->address, pfn);
out:
	up_read(&ddev->fault_sem);
	return ret;
}

static vm_fault_t p2pdax_fault(struct vm_fault *vmf)
{
	return p2pdax_huge_fault(vmf, P2PDAX_FAULT_PTE);
}

static int p2pdax_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	struct p2pdax_dev *ddev = vma->vm_file->private_data;

	return IS_ALIGNED(addr, READ_ONCE(ddev->align)) ? 0 : -EINVAL;
}

static unsigned long p2pdax_pagesize(struct vm_area_struct *vma)
{
	struct p2pdax_dev *ddev = vma->vm_file->private_data;

	return READ_ONCE(ddev->align);
}

static const struct vm_operations_struct p2pdax_vm_ops = {
	.fault = p2pdax_fault,
	.huge_fault = p2pdax_huge_fault,
	.may_split = p2pdax_may_split,
	.pagesize = p2pdax_pagesize,
};

static pgprot_t p2pdax_pgprot(enum p2pdax_cache_mode mode, pgprot_t prot)
{
	switch (mode) {
	case P2PDAX_CACHE_WC:
		return pgprot_writecombine(prot);
	case P2PDAX_CACHE_UC:
	case P2PDAX_CACHE_UC_MINUS:
		return pgprot_noncached(prot);
	default:
		return prot;
	}
}

static int p2pdax_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct p2pdax_dev *ddev = filp->private_data;
	u64 off = (u64)vma->vm_pgoff << PAGE_SHIFT;
	u64 len = vma->vm_end - vma->vm_start;
	int rc = 0;

	/*
	 * Private (copy-on-write) mappings of device memory make no sense.
	 * VM_MAYSHARE, not VM_SHARED: a read-only MAP_SHARED has only that.
	 */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;

	down_read(&ddev->fault_sem);
	if (ddev->dead)
		rc = -ENXIO;
	else if (!IS_ALIGNED(vma->vm_start | vma->vm_end | off, ddev->align))
		rc = -EINVAL;
	else if (off >= ddev->size || len > ddev->size - off)
		rc = -EINVAL;
	up_read(&ddev->fault_sem);
	if (rc)
		return rc;

	spin_lock(&ddev->holder_lock);
	snprintf(ddev->holder, sizeof(ddev->holder), "%s[%d]", current->comm,
		 task_pid_nr(current));
	spin_unlock(&ddev->holder_lock);
	vma->vm_ops = &p2pdax_vm_ops;
	vma->vm_page_prot = p2pdax_pgprot(ddev->region->cache,
					  vma->vm_page_prot);
	p2pdax_vm_flags_set(vma, VM_HUGEPAGE);
	return 0;
}

/* Place mappings so that the device's alignment can be honoured. */
static unsigned long p2pdax_get_unmapped_area(struct file *filp,
					      unsigned long addr,
					      unsigned long len,
					      unsigned long pgoff,
					      unsigned long flags)
{
	struct p2pdax_dev *ddev = filp->private_data;
	unsigned long align = READ_ONCE(ddev->align);
	unsigned long off = pgoff << PAGE_SHIFT, padded, base;

	if ((flags & MAP_FIXED) || align <= PAGE_SIZE || len < align ||
	    !IS_ALIGNED(off, align) || len + align < len)
		return p2pdax_mm_get_unmapped_area(filp, addr, len, pgoff,
						   flags);
	padded = p2pdax_mm_get_unmapped_area(filp, 0, len + align, pgoff,
					     flags);
	if (IS_ERR_VALUE(padded))
		return padded;
	base = ALIGN(padded, align);
	return base;
}

/*
 * msync(MS_SYNC) and fsync(): make the CPU's stores to the device's bytes
 * [@start, @end] visible to peers (see p2pdax_publish()).  This is how an
 * application hands a buffer it wrote through its mapping to a NIC or a
 * drive that reads the card.
 */
static int p2pdax_fsync(struct file *filp, loff_t start, loff_t end,
			int datasync)
{
	struct p2pdax_dev *ddev = filp->private_data;
	u64 first = start, last = end;
	int i, rc = 0;

	if (start < 0 || end < start)
		return -EINVAL;
	down_read(&ddev->fault_sem);
	if (ddev->dead) {
		rc = -ENXIO;
		goto out;
	}
	for (i = 0; i < ddev->nr_extents; i++) {
		struct p2pdax_extent *ext = &ddev->extents[i];
		u64 lo = (u64)ext->pgoff << PAGE_SHIFT;
		u64 hi = lo + resource_size(ext->res) - 1;

		if (hi < first || lo > last)
			continue;
		lo = max(lo, first);
		hi = min(hi, last);
		p2pdax_publish(ddev->region,
			       ext->res->start + (lo - ((u64)ext->pgoff << PAGE_SHIFT)),
			       hi - lo + 1);
	}
out:
	up_read(&ddev->fault_sem);
	return rc;
}

static int p2pdax_open(struct inode *inode, struct file *filp)
{
	struct p2pdax_dev *ddev = container_of(inode->i_cdev, struct p2pdax_dev,
					       cdev);

	if (READ_ONCE(ddev->dead))
		return -ENXIO;
	get_device(&ddev->dev);
	filp->private_data = ddev;
	/* Every mapping, whichever node it came through, lands in one place. */
	filp->f_mapping = ddev->inode->i_mapping;
	filp->f_wb_err = filemap_sample_wb_err(filp->f_mapping);
	return 0;
}

static int p2pdax_release(struct inode *inode, struct file *filp)
{
	struct p2pdax_dev *ddev = filp->private_data;

	put_device(&ddev->dev);
	return 0;
}

static const struct file_operations p2pdax_fops = {
	.owner = THIS_MODULE,
	.open = p2pdax_open,
	.release = p2pdax_release,
	.mmap = p2pdax_mmap,
	.get_unmapped_area = p2pdax_get_unmapped_area,
	.fsync = p2pdax_fsync,
	.llseek = noop_llseek,
};

/* ---- lifetime ------------------------------------------------------------- */

static void p2pdax_dev_release(struct device *dev)
{
	struct p2pdax_dev *ddev = to_p2pdax_dev(dev);
	struct p2pdax_region *region = ddev->region;

	/* Extents were given back by delete (size 0) or by teardown. */
	WARN_ON_ONCE(ddev->nr_extents);
	WARN_ON_ONCE(!list_empty(&ddev->label_node));
	xa_destroy(&ddev->xa);
	if (ddev->inode)
		iput(ddev->inode);
	p2pdax_minor_put(MINOR(dev->devt));
	xa_erase(&region->devnums, ddev->n);
	kfree(ddev);
	p2pdax_region_put(region);
	p2pdax_dev_released();
}

/**
 * __p2pdax_dev_create() - add a zero-size device to a region
 * @region: the region, locked
 *
 * Return: the device, registered and on region->devs, or an ERR_PTR().
 */
struct p2pdax_dev *__p2pdax_dev_create(struct p2pdax_region *region)
{
	struct p2pdax_dev *ddev;
	struct inode *inode;
	int n, minor, rc;

	lockdep_assert_held(&region->lock);
	if (region->dead)
		return ERR_PTR(-ENXIO);

	ddev = kzalloc(sizeof(*ddev), GFP_KERNEL);
	if (!ddev)
		return ERR_PTR(-ENOMEM);
	n = p2pdax_id_alloc(&region->devnums, &region->next_n, INT_MAX,
			    "device");
	if (n < 0) {
		kfree(ddev);
		return ERR_PTR(n);
	}
	minor = p2pdax_minor_get();
	if (minor < 0) {
		rc = minor;
		goto err_free_n;
	}
	inode = p2pdax_alloc_inode();
	if (IS_ERR(inode)) {
		rc = PTR_ERR(inode);
		goto err_free_minor;
	}

	ddev->n = n;
	ddev->inode = inode;
	ddev->region = region;
	ddev->align = min_t(unsigned long, region->align, SZ_2M);
	mutex_init(&ddev->resize_lock);
	init_rwsem(&ddev->fault_sem);
	xa_init(&ddev->xa);
	INIT_LIST_HEAD(&ddev->list);
	INIT_LIST_HEAD(&ddev->label_node);
	spin_lock_init(&ddev->holder_lock);
	strscpy(ddev->holder, "nobody", sizeof(ddev->holder));
	p2pdax_region_get(region);

	/* From here on, put_device() undoes everything above. */
	p2pdax_dev_unreleased();
	device_initialize(&ddev->dev);
	ddev->dev.class = p2pdax_class;
	ddev->dev.parent = region->parent;
	ddev->dev.devt = MKDEV(MAJOR(p2pdax_devt), minor);
	ddev->dev.groups = p2pdax_dev_groups;
	ddev->dev.release = p2pdax_dev_release;
	rc = dev_set_name(&ddev->dev, "p2pdax%d.%d", region->id, n);
	if (rc)
		goto err_put_device;

	cdev_init(&ddev->cdev, &p2pdax_fops);
	ddev->cdev.owner = THIS_MODULE;
	rc = cdev_device_add(&ddev->cdev, &ddev->dev);
	if (rc)
		goto err_put_device;

	list_add_tail(&ddev->list, &region->devs);
	return ddev;

err_put_device:
	put_device(&ddev->dev);
	return ERR_PTR(rc);
err_free_minor:
	p2pdax_minor_put(minor);
err_free_n:
	xa_erase(&region->devnums, n);
	kfree(ddev);
	return ERR_PTR(rc);
}

/**
 * __p2pdax_dev_delete() - take a zero-size, non-seed device off its region
 * @ddev: the device; its region is locked
 *
 * The caller unregisters it with p2pdax_dev_unregister() after unlocking.
 *
 * Return: 0, or -EBUSY if the device has size, is being grown or is the seed.
 */
int __p2pdax_dev_delete(struct p2pdax_dev *ddev)
{
	lockdep_assert_held(&ddev->region->lock);
	if (ddev->size || ddev->growing || ddev->region->seed == ddev)
		return -EBUSY;
	__p2pdax_dev_kill(ddev);
	list_del_init(&ddev->list);
	return 0;
}

/**
 * __p2pdax_dev_kill() - make a device dead: stores fail, faults SIGBUS
 * @ddev: the device; its region is locked
 *
 * Every user mapping of the device is zapped.  Its extents stay allocated
 * until __p2pdax_dev_trim(ddev, 0), once nothing pins them.
 */
void __p2pdax_dev_kill(struct p2pdax_dev *ddev)
{
	lockdep_assert_held(&ddev->region->lock);
	down_write(&ddev->fault_sem);
	WRITE_ONCE(ddev->dead, true);
	__p2pdax_revoke(ddev, 0, 0);
	up_write(&ddev->fault_sem);
	p2pdax_label_clear(ddev);
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
 * p2pdax_dev_unregister() - remove a device's node and sysfs directory
 * @ddev: a device already taken off its region
 *
 * Must not be called with the region locked: removing the sysfs directory
 * waits for stores in progress, and they take the region lock.  Open files
 * keep the object (but not its memory) alive until they are closed.
 */
void p2pdax_dev_unregister(struct p2pdax_dev *ddev)
{
	cdev_device_del(&ddev->cdev, &ddev->dev);
	put_device(&ddev->dev);
}

/**
 * p2pdax_wait_unpinned() - wait until no page of a dead region is pinned
 * @region: the region, dead and with every device killed; not locked
 *
 * Mappings are gone, but a long-term pin (an RDMA memory registration, say)
 * keeps DMA going to the pages until its holder lets go; the memory cannot be
 * torn down before that.  Says every 10 seconds what it waits for.
 */
void p2pdax_wait_unpinned(struct p2pdax_region *region)
{
	unsigned long pinned, first = 0, waited = 0;
	char who[sizeof_field(struct p2pdax_dev, holder)];
	struct p2pdax_dev *ddev;

	for (;;) {
		pinned = p2pdax_count_pinned(region->res.start,
					     p2pdax_region_size(region), &first);
		if (!pinned)
			return;
		if (waited % 10000 == 0) {
			strscpy(who, "an unknown holder", sizeof(who));
			mutex_lock(&region->lock);
			list_for_each_entry(ddev, &region->devs, list) {
				int i;

				for (i = 0; i < ddev->nr_extents; i++) {
					struct resource *r = ddev->extents[i].res;

					if (PFN_PHYS(first) < r->start ||
					    PFN_PHYS(first) > r->end)
						continue;
					spin_lock(&ddev->holder_lock);
					strscpy(who, ddev->holder, sizeof(who));
					spin_unlock(&ddev->holder_lock);
				}
			}
			mutex_unlock(&region->lock);
			dev_warn(region->parent,
				 "teardown waits for %lu pinned pages (first at pfn %#lx, mapped by %s)\n",
				 pinned, first, who);
		}
		msleep(100);
		waited += 100;
	}
}

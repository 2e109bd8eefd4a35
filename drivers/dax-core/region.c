// SPDX-License-Identifier: GPL-2.0
/*
 * dax-core regions: one per provider range (a card's BAR).  The region's
 * attributes live in a "dax_region" group on the provider's device, as with
 * upstream device-dax.
 */
#include <linux/bitmap.h>
#include <linux/idr.h>
#include <linux/module.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "dax-core.h"

static DEFINE_IDA(p2pdax_region_ida);
/*
 * Region id -> the next device number of the last region that had the id,
 * so that a card unbound and bound again does not reuse device names.  Its
 * own lock protects it.
 */
static DEFINE_XARRAY(p2pdax_region_next_n);

static const char * const p2pdax_cache_names[] = {
	[P2PDAX_CACHE_WC] = "wc",
	[P2PDAX_CACHE_UC] = "uc",
	[P2PDAX_CACHE_WB] = "wb",
	[P2PDAX_CACHE_UC_MINUS] = "uc-",
};

/**
 * p2pdax_cache_mode_name() - the name of a memory type
 * @mode: the memory type
 *
 * Return: "wc", "uc", "wb" or "uc-" ("unknown" for anything else).
 */
const char *p2pdax_cache_mode_name(enum p2pdax_cache_mode mode)
{
	if (mode < ARRAY_SIZE(p2pdax_cache_names))
		return p2pdax_cache_names[mode];
	return "unknown";
}
EXPORT_SYMBOL_GPL(p2pdax_cache_mode_name);

/**
 * p2pdax_region_id() - the id of a region
 * @region: the region
 *
 * Return: the region's id, as in device names p2pdax<id>.<n>.
 */
int p2pdax_region_id(const struct p2pdax_region *region)
{
	return region->id;
}
EXPORT_SYMBOL_GPL(p2pdax_region_id);

/* At module exit, when no region is left. */
void p2pdax_regions_exit(void)
{
	xa_destroy(&p2pdax_region_next_n);
}

/*
 * Give the id of a region whose devices are all unregistered (their names
 * and nodes are gone; open files may still hold the objects) to the next
 * region, with the device number to go on from: the card bound again gets
 * its id back whoever still holds a file of the old devices.
 */
static void p2pdax_region_free_id(struct p2pdax_region *region)
{
	/* Nothing to do if this fails: numbering restarts at 0 for the id. */
	xa_store(&p2pdax_region_next_n, region->id,
		 xa_mk_value(region->next_n), GFP_KERNEL);
	ida_free(&p2pdax_region_ida, region->id);
}

/* ---- the dax_region attribute group on the provider's device ---- */

static ssize_t id_show(struct device *dev, struct device_attribute *attr,
		       char *buf)
{
	struct p2pdax_region *region = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%d\n", region->id);
}
static DEVICE_ATTR_RO(id);

static ssize_t region_size_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	struct p2pdax_region *region = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%llu\n",
			  (unsigned long long)p2pdax_region_size(region));
}

static struct device_attribute dev_attr_region_size =
	__ATTR(size, 0444, region_size_show, NULL);

static ssize_t region_align_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	struct p2pdax_region *region = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%lu\n", region->align);
}

static struct device_attribute dev_attr_region_align =
	__ATTR(align, 0444, region_align_show, NULL);

static ssize_t min_align_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	struct p2pdax_region *region = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%lu\n", region->min_align);
}
static DEVICE_ATTR_RO(min_align);

static ssize_t available_size_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	struct p2pdax_region *region = dev_get_drvdata(dev);
	resource_size_t avail;

	mutex_lock(&region->lock);
	avail = __p2pdax_region_available(region);
	mutex_unlock(&region->lock);
	return sysfs_emit(buf, "%llu\n", (unsigned long long)avail);
}
static DEVICE_ATTR_RO(available_size);

static ssize_t cache_mode_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct p2pdax_region *region = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%s\n", p2pdax_cache_mode_name(region->cache));
}
static DEVICE_ATTR_RO(cache_mode);

/* Physical addresses are for root only. */
static ssize_t region_resource_show(struct device *dev,
				    struct device_attribute *attr, char *buf)
{
	struct p2pdax_region *region = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%#llx\n",
			  (unsigned long long)region->res.start);
}

static struct device_attribute dev_attr_region_resource =
	__ATTR(resource, 0400, region_resource_show, NULL);

static ssize_t seed_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct p2pdax_region *region = dev_get_drvdata(dev);
	ssize_t n;

	mutex_lock(&region->lock);
	n = sysfs_emit(buf, "%s\n",
		       region->seed ? dev_name(&region->seed->dev) : "");
	mutex_unlock(&region->lock);
	return n;
}
static DEVICE_ATTR_RO(seed);

/* The value of a store that takes only "1": 0, or -EINVAL (or kstrtoint's). */
static int p2pdax_store_one(const char *buf)
{
	int val, rc = kstrtoint(buf, 0, &val);

	return rc ? rc : val == 1 ? 0 : -EINVAL;
}

/*
 * Kill the region: no more changes, no seed, every device dead (mappings
 * revoked: SIGBUS; files: ENXIO).  Pins may remain; nothing waits here.
 */
static void __p2pdax_region_kill(struct p2pdax_region *region)
{
	struct p2pdax_dev *ddev;

	lockdep_assert_held(&region->lock);
	region->dead = true;
	region->seed = NULL;
	list_for_each_entry(ddev, &region->devs, list)
		__p2pdax_dev_kill(ddev);
}

/* Writing 1 plants a new seed if there is none (and there is space). */
static ssize_t create_store(struct device *dev, struct device_attribute *attr,
			    const char *buf, size_t len)
{
	struct p2pdax_region *region = dev_get_drvdata(dev);
	struct p2pdax_dev *seed;
	int rc = p2pdax_store_one(buf);

	if (rc)
		return rc;
	mutex_lock(&region->lock);
	if (region->dead) {
		rc = -ENXIO;
	} else if (!region->seed) {
		if (!__p2pdax_region_available(region)) {
			rc = -ENOSPC;
		} else {
			seed = __p2pdax_dev_create(region);
			if (IS_ERR(seed))
				rc = PTR_ERR(seed);
			else
				region->seed = seed;
		}
	}
	mutex_unlock(&region->lock);
	return rc ? rc : len;
}
static DEVICE_ATTR_WO(create);

/* Writing a device name removes that zero-size, non-seed device. */
static ssize_t delete_store(struct device *dev, struct device_attribute *attr,
			    const char *buf, size_t len)
{
	struct p2pdax_region *region = dev_get_drvdata(dev);
	struct p2pdax_dev *ddev, *victim = NULL;
	int rc = -ENXIO;

	mutex_lock(&region->lock);
	list_for_each_entry(ddev, &region->devs, list) {
		if (sysfs_streq(buf, dev_name(&ddev->dev))) {
			victim = ddev;
			break;
		}
	}
	if (victim)
		rc = __p2pdax_dev_delete(victim);
	mutex_unlock(&region->lock);
	if (rc)
		return rc;
	/* Outside the lock: it waits for stores to the device's attributes. */
	p2pdax_dev_unregister(victim);
	return len;
}
static DEVICE_ATTR_WO(delete);

/*
 * Writing 1 retires the region, the first half of an unbind that can wait
 * for pins without blocking the driver core: every device is killed (its
 * mappings revoked: SIGBUS; its files: ENXIO) and nothing can be created or
 * resized any more, but nothing waits.  Once "pinned" reads 0 the unbind
 * finds nothing to wait for (p2pctl unbind --timeout).  Only an unbind and
 * a new bind undo it.  ENXIO: already retired.
 */
static ssize_t retire_store(struct device *dev, struct device_attribute *attr,
			    const char *buf, size_t len)
{
	struct p2pdax_region *region = dev_get_drvdata(dev);
	int rc = p2pdax_store_one(buf);

	if (rc)
		return rc;
	mutex_lock(&region->lock);
	if (region->dead)
		rc = -ENXIO;
	else
		__p2pdax_region_kill(region);
	mutex_unlock(&region->lock);
	if (rc)
		return rc;
	dev_info(region->parent, "region %d retired: its devices are dead, pinned pages: %lu\n",
		 region->id, p2pdax_region_pinned(region, NULL));
	return len;
}
static DEVICE_ATTR_WO(retire);

static ssize_t retired_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct p2pdax_region *region = dev_get_drvdata(dev);
	bool dead;

	mutex_lock(&region->lock);
	dead = region->dead;
	mutex_unlock(&region->lock);
	return sysfs_emit(buf, "%d\n", dead);
}
static DEVICE_ATTR_RO(retired);

/*
 * how the region's dma-bufs are mapped for their importers: "p2pdma"
 * (through the BAR's P2PDMA provider, by upstream's rules) or "dma-api"
 * (dma_map_resource()); see design.rst, dma-bufs
 */
static ssize_t dmabuf_mapping_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	struct p2pdax_region *region = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%s\n", region->provider ? "p2pdma" : "dma-api");
}
static DEVICE_ATTR_RO(dmabuf_mapping);

/* pages of the region that are pinned (any reference count but the idle one) */
static ssize_t pinned_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	struct p2pdax_region *region = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%lu\n", p2pdax_region_pinned(region, NULL));
}
static DEVICE_ATTR_ADMIN_RO(pinned);

static struct attribute *p2pdax_region_attrs[] = {
	&dev_attr_retire.attr,
	&dev_attr_retired.attr,
	&dev_attr_pinned.attr,
	&dev_attr_dmabuf_mapping.attr,
	&dev_attr_id.attr,
	&dev_attr_region_size.attr,
	&dev_attr_region_align.attr,
	&dev_attr_min_align.attr,
	&dev_attr_available_size.attr,
	&dev_attr_cache_mode.attr,
	&dev_attr_region_resource.attr,
	&dev_attr_seed.attr,
	&dev_attr_create.attr,
	&dev_attr_delete.attr,
	NULL,
};

static const struct attribute_group p2pdax_region_group = {
	.name = "dax_region",
	.attrs = p2pdax_region_attrs,
};

static const struct attribute_group *p2pdax_region_groups[] = {
	&p2pdax_region_group,
	NULL,
};

/* The largest device alignment that @range's start and size both allow. */
static unsigned long p2pdax_range_align(const struct range *range)
{
	static const unsigned long aligns[] = { SZ_1G, SZ_2M, PAGE_SIZE };
	u64 size = range_len(range);
	int i;

	for (i = 0; i < ARRAY_SIZE(aligns); i++)
		if (IS_ALIGNED(range->start, aligns[i]) && size >= aligns[i])
			return aligns[i];
	return PAGE_SIZE;
}

/*
 * Teardown, when the provider unbinds: before its ZONE_DEVICE memory goes
 * away, revoke every mapping, wait for pins to drop, give the extents back
 * and remove the devices.  Open files keep their (dead) device objects until
 * they are closed: any access through them gets SIGBUS or ENXIO.
 */
static void p2pdax_region_unregister(void *data)
{
	struct p2pdax_region *region = data;
	struct p2pdax_dev *ddev, *next;
	LIST_HEAD(doomed);

	/* Drains seed/create/delete stores, which take region->lock. */
	sysfs_remove_groups(&region->parent->kobj, p2pdax_region_groups);

	mutex_lock(&region->lock);
	__p2pdax_region_kill(region);
	mutex_unlock(&region->lock);

	p2pdax_wait_unpinned(region);

	mutex_lock(&region->lock);
	list_for_each_entry(ddev, &region->devs, list)
		__p2pdax_dev_release_extents(ddev);
	list_splice_init(&region->devs, &doomed);
	mutex_unlock(&region->lock);

	list_for_each_entry_safe(ddev, next, &doomed, list) {
		list_del_init(&ddev->list);
		p2pdax_dev_unregister(ddev);
	}
	dev_set_drvdata(region->parent, NULL);
	p2pdax_region_free_id(region);
	p2pdax_region_put(region);
}

/**
 * devm_p2pdax_region_create() - make a provider range a p2pdax region
 * @parent: the provider's device; dax-core takes over its drvdata
 * @info: the range, its kernel mapping, memory type and node
 *
 * The region lives until @parent is unbound; its attributes appear in
 * @parent's "dax_region" directory.  @info->range must be aligned to 2 MiB
 * and to @info->min_align, and already mapped into ZONE_DEVICE by the
 * provider.
 *
 * Return: the region, or an ERR_PTR() on failure.
 */
struct p2pdax_region *devm_p2pdax_region_create(struct device *parent,
						const struct p2pdax_region_info *info)
{
	struct p2pdax_region *region;
	unsigned long nbits, min_align;
	struct p2pdax_dev *seed;
	int rc;

	min_align = info->min_align ?: PAGE_SIZE;
	if (min_align != PAGE_SIZE && min_align != SZ_2M && min_align != SZ_1G)
		return ERR_PTR(-EINVAL);
	if (!IS_ALIGNED(info->range.start, max_t(unsigned long, min_align, SZ_2M)) ||
	    !IS_ALIGNED(range_len(&info->range), max_t(unsigned long, min_align, SZ_2M)))
		return ERR_PTR(-EINVAL);
	if (dev_get_drvdata(parent))
		return ERR_PTR(-EBUSY);

	region = kzalloc(sizeof(*region), GFP_KERNEL);
	if (!region)
		return ERR_PTR(-ENOMEM);
	/* Whatever the card holds now is nobody's to read: all of it dirty. */
	region->dirty_shift = min_t(unsigned int, ilog2(min_align), PMD_SHIFT);
	nbits = range_len(&info->range) >> region->dirty_shift;
	/* the bitmap helpers count bits in an int (8 TiB at 4 KiB) */
	if (nbits > INT_MAX) {
		rc = -E2BIG;
		goto err_free_region;
	}
	region->dirty = kvmalloc_array(BITS_TO_LONGS(nbits),
				       sizeof(unsigned long), GFP_KERNEL);
	if (!region->dirty) {
		rc = -ENOMEM;
		goto err_free_region;
	}
	bitmap_fill(region->dirty, nbits);
	spin_lock_init(&region->dirty_lock);
	rc = ida_alloc(&p2pdax_region_ida, GFP_KERNEL);
	if (rc < 0)
		goto err_free_dirty;
	region->id = rc;
	kref_init(&region->kref);
	mutex_init(&region->lock);
	INIT_LIST_HEAD(&region->devs);
	xa_init_flags(&region->devnums, XA_FLAGS_ALLOC);
	region->next_n = xa_to_value(xa_load(&p2pdax_region_next_n, region->id) ?:
				     xa_mk_value(0));
	region->parent = parent;
	region->res = (struct resource) {
		.name = dev_name(parent),
		.start = info->range.start,
		.end = info->range.end,
		.flags = IORESOURCE_MEM,
	};
	region->kaddr = info->kaddr;
	region->align = p2pdax_range_align(&info->range);
	region->min_align = min_align;
	region->provider = P2PDAX_DMA_BUF_PROVIDER ? info->provider : NULL;
	region->cache = info->cache;
	region->nid = info->nid;

	dev_set_drvdata(parent, region);
	rc = sysfs_create_groups(&parent->kobj, p2pdax_region_groups);
	if (rc)
		goto err_clear_drvdata;
	/* From here on, p2pdax_region_unregister() undoes everything. */
	rc = devm_add_action_or_reset(parent, p2pdax_region_unregister, region);
	if (rc)
		return ERR_PTR(rc);

	/* The region starts with exactly one device: the zero-size seed. */
	mutex_lock(&region->lock);
	seed = __p2pdax_dev_create(region);
	if (!IS_ERR(seed))
		region->seed = seed;
	mutex_unlock(&region->lock);
	if (IS_ERR(seed))
		return ERR_CAST(seed);
	return region;

err_clear_drvdata:
	dev_set_drvdata(parent, NULL);
	ida_free(&p2pdax_region_ida, region->id);
err_free_dirty:
	kvfree(region->dirty);
err_free_region:
	kfree(region);
	return ERR_PTR(rc);
}
EXPORT_SYMBOL_GPL(devm_p2pdax_region_create);

/**
 * p2pdax_region_memory_failure() - pages of a region are poisoned
 * @region: the region
 * @pfn: the first poisoned page
 * @nr_pages: how many
 *
 * For the provider's dev_pagemap_ops.memory_failure, which memory-failure
 * calls before its generic handler (a machine check on the card, or
 * MADV_HWPOISON).  Every page is marked poisoned, so that it is never mapped
 * or zeroed again (fault.c), and the device that holds it now, found from the
 * extents under the region lock (never from the folio, which a concurrent
 * shrink may be changing), has its mappings of it revoked: a holder gets
 * SIGBUS (BUS_MCEERR_AR) at its next access.  A block no device holds is
 * only marked; the mark goes with the block to whichever device takes it.
 *
 * Return: 0, or -ENXIO if the pages are not the region's.
 */
int p2pdax_region_memory_failure(struct p2pdax_region *region,
				 unsigned long pfn, unsigned long nr_pages)
{
	phys_addr_t start = PFN_PHYS(pfn), end = PFN_PHYS(pfn + nr_pages);
	struct p2pdax_dev *ddev;
	unsigned long i;

	if (!nr_pages || start < region->res.start || end - 1 > region->res.end)
		return -ENXIO;
	mutex_lock(&region->lock);
	for (i = 0; i < nr_pages; i++)
		SetPageHWPoison(pfn_to_page(pfn + i));
	list_for_each_entry(ddev, &region->devs, list)
		p2pdax_dev_revoke_phys(ddev, start, end - start);
	mutex_unlock(&region->lock);
	dev_warn(region->parent, "memory failure: %lu pages at pfn %#lx poisoned, never mapped again\n",
		 nr_pages, pfn);
	return 0;
}
EXPORT_SYMBOL_GPL(p2pdax_region_memory_failure);


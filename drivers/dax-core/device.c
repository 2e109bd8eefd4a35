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

static struct p2pdax_extent *__p2pdax_last_extent(struct p2pdax_dev *pdev)
{
	return pdev->nr_extents ? &pdev->extents[pdev->nr_extents - 1] : NULL;
}

/* Physical address of device page @pgoff; the caller holds fault_sem. */
static phys_addr_t __p2pdax_pgoff_to_phys(struct p2pdax_dev *pdev,
					  pgoff_t pgoff)
{
	struct p2pdax_extent *ext;
	void *entry;

	entry = xa_load(&pdev->xa, pgoff);
	if (!entry)
		return PHYS_ADDR_MAX;
	ext = &pdev->extents[xa_to_value(entry)];
	return ext->res->start + ((phys_addr_t)(pgoff - ext->pgoff) << PAGE_SHIFT);
}

/*
 * Point device pages [@pgoff, @pgoff + @bytes) at extent @i (or at nothing
 * for @i < 0).  One multi-order entry per align-sized block: a lookup is a
 * tree walk whatever the number of extents, and since sizes only change by
 * whole blocks, a trim never has to split an entry.  Erasing never
 * allocates, so it cannot fail.
 */
static int __p2pdax_index(struct p2pdax_dev *pdev, pgoff_t pgoff, u64 bytes,
			  int i)
{
	unsigned int order = ilog2(pdev->align >> PAGE_SHIFT);
	XA_STATE_ORDER(xas, &pdev->xa, pgoff, order);
	void *entry = i < 0 ? NULL : xa_mk_value(i);
	pgoff_t n = bytes >> PAGE_SHIFT, done;

	lockdep_assert_held_write(&pdev->fault_sem);
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
static void __p2pdax_dev_trim(struct p2pdax_dev *pdev, u64 new_size)
{
	struct p2pdax_region *region = pdev->region;
	pgoff_t keep = new_size >> PAGE_SHIFT;
	struct p2pdax_extent *ext;

	lockdep_assert_held(&region->lock);
	lockdep_assert_held_write(&pdev->fault_sem);

	while ((ext = __p2pdax_last_extent(pdev))) {
		resource_size_t len = resource_size(ext->res);
		pgoff_t end = ext->pgoff + (len >> PAGE_SHIFT);

		if (end <= keep)
			break;
		if (ext->pgoff >= keep) {
			__p2pdax_index(pdev, ext->pgoff, len, -1);
			__release_region(&region->res, ext->res->start, len);
			ext->res = NULL;
			pdev->nr_extents--;
			continue;
		}
		__p2pdax_index(pdev, keep, (u64)(end - keep) << PAGE_SHIFT, -1);
		adjust_resource(ext->res, ext->res->start,
				(resource_size_t)(keep - ext->pgoff) << PAGE_SHIFT);
		break;
	}
	pdev->size = new_size;
}

/* Zero [@start, @start + @len) through the region's kernel mapping. */
static void p2pdax_scrub(struct p2pdax_region *region, resource_size_t start,
			 resource_size_t len)
{
	void *p = region->kaddr + (start - region->res.start);

	while (len) {
		resource_size_t n = min_t(resource_size_t, len, SZ_2M);

		memset(p, 0, n);
		p += n;
		len -= n;
		cond_resched();
	}
	/* Drain write-combining buffers before the memory is handed out. */
	wmb();
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

struct p2pdax_grow_plan {
	struct p2pdax_dev *pdev;
	u64 want;		/* bytes still to place */
	resource_size_t end;	/* end of the device's last extent, or 0 */
	int new_extents;	/* extents the plan adds */
	bool apply;		/* false: only count; true: allocate */
	int rc;
};

static int p2pdax_grow_gap(resource_size_t start, resource_size_t len,
			   void *arg)
{
	struct p2pdax_grow_plan *plan = arg;
	struct p2pdax_dev *pdev = plan->pdev;
	struct p2pdax_region *region = pdev->region;
	struct p2pdax_extent *last = __p2pdax_last_extent(pdev);
	resource_size_t take = min_t(u64, len, plan->want);
	pgoff_t pgoff = pdev->size >> PAGE_SHIFT;
	bool in_place = plan->end && plan->end == start;
	struct resource *res;
	int rc;

	plan->end = start + take;
	if (!plan->apply) {
		if (!in_place)
			plan->new_extents++;
		plan->want -= take;
		return plan->want == 0;
	}
	if (!in_place && pdev->nr_extents == P2PDAX_MAX_EXTENTS) {
		rc = -ENOSPC;
		goto fail;
	}

	p2pdax_scrub(region, start, take);
	if (in_place) {
		rc = adjust_resource(last->res, last->res->start,
				     resource_size(last->res) + take);
		if (rc)
			goto fail;
		rc = __p2pdax_index(pdev, pgoff, take, pdev->nr_extents - 1);
		if (rc) {
			adjust_resource(last->res, last->res->start,
					resource_size(last->res) - take);
			goto fail;
		}
	} else {
		res = __request_region(&region->res, start, take,
				       dev_name(&pdev->dev), 0);
		if (!res) {
			rc = -EBUSY;
			goto fail;
		}
		pdev->extents[pdev->nr_extents] = (struct p2pdax_extent) {
			.res = res,
			.pgoff = pgoff,
		};
		rc = __p2pdax_index(pdev, pgoff, take, pdev->nr_extents);
		if (rc) {
			__release_region(&region->res, start, take);
			goto fail;
		}
		pdev->nr_extents++;
	}
	pdev->size += take;
	plan->want -= take;
	return plan->want == 0;

fail:
	plan->rc = rc;
	return 1;
}

static int __p2pdax_dev_grow(struct p2pdax_dev *pdev, u64 new_size)
{
	struct p2pdax_region *region = pdev->region;
	struct p2pdax_extent *last = __p2pdax_last_extent(pdev);
	resource_size_t end = last ? last->res->end + 1 : 0;
	struct p2pdax_grow_plan plan = {
		.pdev = pdev,
		.want = new_size - pdev->size,
		.end = end,
	};
	u64 old_size = pdev->size;

	/* First a dry run, so that a refusal changes nothing. */
	__p2pdax_for_each_gap(region, pdev->align, p2pdax_grow_gap, &plan);
	if (plan.want)
		return -ENOSPC;
	if (pdev->nr_extents + plan.new_extents > P2PDAX_MAX_EXTENTS)
		return -ENOSPC;

	plan.want = new_size - pdev->size;
	plan.end = end;
	plan.apply = true;
	down_write(&pdev->fault_sem);
	__p2pdax_for_each_gap(region, pdev->align, p2pdax_grow_gap, &plan);
	if (plan.rc)
		__p2pdax_dev_trim(pdev, old_size);
	up_write(&pdev->fault_sem);
	return plan.rc;
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
static unsigned long __p2pdax_dev_pinned(struct p2pdax_dev *pdev, u64 from)
{
	unsigned long n = 0;
	int i;

	for (i = 0; i < pdev->nr_extents; i++) {
		struct p2pdax_extent *ext = &pdev->extents[i];
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

static int __p2pdax_dev_shrink(struct p2pdax_dev *pdev, u64 new_size)
{
	unsigned long pinned;

	down_write(&pdev->fault_sem);
	/* Revoke first: with fault_sem held for write nothing can refault. */
	unmap_mapping_range(pdev->inode->i_mapping, new_size,
			    pdev->size - new_size, 1);
	pinned = __p2pdax_dev_pinned(pdev, new_size);
	if (pinned) {
		up_write(&pdev->fault_sem);
		spin_lock(&pdev->holder_lock);
		dev_info(&pdev->dev, "cannot shrink to %llu: %lu pages pinned (mapped by %s)\n",
			 new_size, pinned, pdev->holder);
		spin_unlock(&pdev->holder_lock);
		return -EBUSY;
	}
	__p2pdax_dev_trim(pdev, new_size);
	up_write(&pdev->fault_sem);
	return 0;
}

static int __p2pdax_dev_resize(struct p2pdax_dev *pdev, u64 size)
{
	struct p2pdax_region *region = pdev->region;
	struct p2pdax_dev *seed;
	int rc;

	lockdep_assert_held(&region->lock);
	if (pdev->dead)
		return -ENXIO;
	if (!IS_ALIGNED(size, pdev->align))
		return -EINVAL;
	if (size == pdev->size)
		return 0;
	if (size < pdev->size)
		return __p2pdax_dev_shrink(pdev, size);

	rc = __p2pdax_dev_grow(pdev, size);
	if (rc)
		return rc;
	/* A sized seed is a device in its own right: plant the next seed. */
	if (region->seed == pdev) {
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

/* ---- sysfs ---------------------------------------------------------------- */

static ssize_t size_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct p2pdax_dev *pdev = to_p2pdax_dev(dev);
	u64 size;

	mutex_lock(&pdev->region->lock);
	size = pdev->size;
	mutex_unlock(&pdev->region->lock);
	return sysfs_emit(buf, "%llu\n", size);
}

static ssize_t size_store(struct device *dev, struct device_attribute *attr,
			  const char *buf, size_t len)
{
	struct p2pdax_dev *pdev = to_p2pdax_dev(dev);
	u64 size;
	int rc;

	rc = kstrtou64(buf, 0, &size);
	if (rc)
		return rc;
	mutex_lock(&pdev->region->lock);
	rc = __p2pdax_dev_resize(pdev, size);
	mutex_unlock(&pdev->region->lock);
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
	struct p2pdax_dev *pdev = to_p2pdax_dev(dev);
	struct p2pdax_region *region = pdev->region;
	unsigned long align;
	int rc;

	rc = kstrtoul(buf, 0, &align);
	if (rc)
		return rc;
	if (align != PAGE_SIZE && align != SZ_2M && align != SZ_1G)
		return -EINVAL;
	if (align > region->align)
		return -EINVAL;

	mutex_lock(&region->lock);
	down_write(&pdev->fault_sem);
	if (pdev->dead)
		rc = -ENXIO;
	else if (pdev->size)
		rc = -EBUSY;
	else
		WRITE_ONCE(pdev->align, align);
	up_write(&pdev->fault_sem);
	mutex_unlock(&region->lock);
	return rc ? rc : len;
}
static DEVICE_ATTR_RW(align);

/* Physical addresses are for root only (0400). */
static ssize_t resource_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct p2pdax_dev *pdev = to_p2pdax_dev(dev);
	resource_size_t start = 0;

	mutex_lock(&pdev->region->lock);
	if (pdev->nr_extents)
		start = pdev->extents[0].res->start;
	mutex_unlock(&pdev->region->lock);
	return sysfs_emit(buf, "%#llx\n", (unsigned long long)start);
}
static DEVICE_ATTR_ADMIN_RO(resource);

/* One line per extent: "START-END PAGE_OFFSET", END inclusive. */
static ssize_t extents_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct p2pdax_dev *pdev = to_p2pdax_dev(dev);
	ssize_t n = 0;
	int i;

	mutex_lock(&pdev->region->lock);
	for (i = 0; i < pdev->nr_extents; i++) {
		struct p2pdax_extent *ext = &pdev->extents[i];

		n += sysfs_emit_at(buf, n, "%#llx-%#llx %lu\n",
				   (unsigned long long)ext->res->start,
				   (unsigned long long)ext->res->end,
				   ext->pgoff);
	}
	mutex_unlock(&pdev->region->lock);
	return n;
}
static DEVICE_ATTR_ADMIN_RO(extents);

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
	struct p2pdax_dev *pdev = vma->vm_file->private_data;
	bool write = vmf->flags & FAULT_FLAG_WRITE;
	unsigned long addr;
	phys_addr_t phys;
	vm_fault_t ret;
	pgoff_t pgoff;
	pfn_t pfn;

	down_read(&pdev->fault_sem);
	if (pdev->dead) {
		ret = VM_FAULT_SIGBUS;
		goto out;
	}
	/*
	 * Map at the device's alignment (4K, 2M or 1G entries).  A smaller
	 * fault happens when the mm cannot take a huge entry there (a page
	 * table already hangs at that slot): extents are aligned, so mapping
	 * a piece of the aligned block is still correct.
	 */
	if (fault_size > pdev->align) {
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
	if (((u64)pgoff << PAGE_SHIFT) + fault_size > pdev->size) {
		ret = VM_FAULT_SIGBUS;
		goto out;
	}
	/* Extents are aligned to fault_size, so the entry is contiguous. */
	phys = __p2pdax_pgoff_to_phys(pdev, pgoff);
	if (phys == PHYS_ADDR_MAX) {
		ret = VM_FAULT_SIGBUS;
		goto out;
	}
	pfn = phys_to_pfn_t(phys, PFN_DEV | PFN_MAP);
	if (fault_size == PUD_SIZE)
		ret = vmf_insert_pfn_pud(vmf, pfn, write);
	else if (fault_size == PMD_SIZE)
		ret = vmf_insert_pfn_pmd(vmf, pfn, write);
	else
		ret = vmf_insert_mixed(vma, vmf->address, pfn);
out:
	up_read(&pdev->fault_sem);
	return ret;
}

static vm_fault_t p2pdax_fault(struct vm_fault *vmf)
{
	return p2pdax_huge_fault(vmf, P2PDAX_FAULT_PTE);
}

static int p2pdax_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	struct p2pdax_dev *pdev = vma->vm_file->private_data;

	return IS_ALIGNED(addr, READ_ONCE(pdev->align)) ? 0 : -EINVAL;
}

static unsigned long p2pdax_pagesize(struct vm_area_struct *vma)
{
	struct p2pdax_dev *pdev = vma->vm_file->private_data;

	return READ_ONCE(pdev->align);
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
	struct p2pdax_dev *pdev = filp->private_data;
	u64 off = (u64)vma->vm_pgoff << PAGE_SHIFT;
	u64 len = vma->vm_end - vma->vm_start;
	int rc = 0;

	/*
	 * Private (copy-on-write) mappings of device memory make no sense.
	 * VM_MAYSHARE, not VM_SHARED: a read-only MAP_SHARED has only that.
	 */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;

	down_read(&pdev->fault_sem);
	if (pdev->dead)
		rc = -ENXIO;
	else if (!IS_ALIGNED(vma->vm_start | vma->vm_end | off, pdev->align))
		rc = -EINVAL;
	else if (off >= pdev->size || len > pdev->size - off)
		rc = -EINVAL;
	up_read(&pdev->fault_sem);
	if (rc)
		return rc;

	spin_lock(&pdev->holder_lock);
	snprintf(pdev->holder, sizeof(pdev->holder), "%s[%d]", current->comm,
		 task_pid_nr(current));
	spin_unlock(&pdev->holder_lock);
	vma->vm_ops = &p2pdax_vm_ops;
	vma->vm_page_prot = p2pdax_pgprot(pdev->region->cache,
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
	struct p2pdax_dev *pdev = filp->private_data;
	unsigned long align = READ_ONCE(pdev->align);
	unsigned long off = pgoff << PAGE_SHIFT, padded, base;

	if ((flags & MAP_FIXED) || align <= PAGE_SIZE || len < align ||
	    !IS_ALIGNED(off, align) || len + align < len)
		return current->mm->get_unmapped_area(filp, addr, len, pgoff,
						      flags);
	padded = current->mm->get_unmapped_area(filp, 0, len + align, pgoff,
						flags);
	if (IS_ERR_VALUE(padded))
		return padded;
	base = ALIGN(padded, align);
	return base;
}

static int p2pdax_open(struct inode *inode, struct file *filp)
{
	struct p2pdax_dev *pdev = container_of(inode->i_cdev, struct p2pdax_dev,
					       cdev);

	if (READ_ONCE(pdev->dead))
		return -ENXIO;
	get_device(&pdev->dev);
	filp->private_data = pdev;
	/* Every mapping, whichever node it came through, lands in one place. */
	filp->f_mapping = pdev->inode->i_mapping;
	filp->f_wb_err = filemap_sample_wb_err(filp->f_mapping);
	return 0;
}

static int p2pdax_release(struct inode *inode, struct file *filp)
{
	struct p2pdax_dev *pdev = filp->private_data;

	put_device(&pdev->dev);
	return 0;
}

static const struct file_operations p2pdax_fops = {
	.owner = THIS_MODULE,
	.open = p2pdax_open,
	.release = p2pdax_release,
	.mmap = p2pdax_mmap,
	.get_unmapped_area = p2pdax_get_unmapped_area,
	.llseek = noop_llseek,
};

/* ---- lifetime ------------------------------------------------------------- */

static void p2pdax_dev_release(struct device *dev)
{
	struct p2pdax_dev *pdev = to_p2pdax_dev(dev);
	struct p2pdax_region *region = pdev->region;

	/* Extents were given back by delete (size 0) or by teardown. */
	WARN_ON_ONCE(pdev->nr_extents);
	xa_destroy(&pdev->xa);
	if (pdev->inode)
		iput(pdev->inode);
	p2pdax_minor_put(MINOR(dev->devt));
	ida_free(&region->ida, pdev->n);
	kfree(pdev);
	p2pdax_region_put(region);
}

/**
 * __p2pdax_dev_create() - add a zero-size device to a region
 * @region: the region, locked
 *
 * Return: the device, registered and on region->devs, or an ERR_PTR().
 */
struct p2pdax_dev *__p2pdax_dev_create(struct p2pdax_region *region)
{
	struct p2pdax_dev *pdev;
	struct inode *inode;
	int n, minor, rc;

	lockdep_assert_held(&region->lock);
	if (region->dead)
		return ERR_PTR(-ENXIO);

	pdev = kzalloc(sizeof(*pdev), GFP_KERNEL);
	if (!pdev)
		return ERR_PTR(-ENOMEM);
	n = ida_alloc(&region->ida, GFP_KERNEL);
	if (n < 0) {
		kfree(pdev);
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

	pdev->n = n;
	pdev->inode = inode;
	pdev->region = region;
	pdev->align = min_t(unsigned long, region->align, SZ_2M);
	init_rwsem(&pdev->fault_sem);
	xa_init(&pdev->xa);
	INIT_LIST_HEAD(&pdev->list);
	spin_lock_init(&pdev->holder_lock);
	strscpy(pdev->holder, "nobody", sizeof(pdev->holder));
	p2pdax_region_get(region);

	/* From here on, put_device() undoes everything above. */
	device_initialize(&pdev->dev);
	pdev->dev.class = p2pdax_class;
	pdev->dev.parent = region->parent;
	pdev->dev.devt = MKDEV(MAJOR(p2pdax_devt), minor);
	pdev->dev.groups = p2pdax_dev_groups;
	pdev->dev.release = p2pdax_dev_release;
	rc = dev_set_name(&pdev->dev, "p2pdax%d.%d", region->id, n);
	if (rc)
		goto err_put_device;

	cdev_init(&pdev->cdev, &p2pdax_fops);
	pdev->cdev.owner = THIS_MODULE;
	rc = cdev_device_add(&pdev->cdev, &pdev->dev);
	if (rc)
		goto err_put_device;

	list_add_tail(&pdev->list, &region->devs);
	return pdev;

err_put_device:
	put_device(&pdev->dev);
	return ERR_PTR(rc);
err_free_minor:
	p2pdax_minor_put(minor);
err_free_n:
	ida_free(&region->ida, n);
	kfree(pdev);
	return ERR_PTR(rc);
}

/**
 * __p2pdax_dev_delete() - take a zero-size, non-seed device off its region
 * @pdev: the device; its region is locked
 *
 * The caller unregisters it with p2pdax_dev_unregister() after unlocking.
 *
 * Return: 0, or -EBUSY if the device has size or is the seed.
 */
int __p2pdax_dev_delete(struct p2pdax_dev *pdev)
{
	lockdep_assert_held(&pdev->region->lock);
	if (pdev->size || pdev->region->seed == pdev)
		return -EBUSY;
	__p2pdax_dev_kill(pdev);
	list_del_init(&pdev->list);
	return 0;
}

/**
 * __p2pdax_dev_kill() - make a device dead: stores fail, faults SIGBUS
 * @pdev: the device; its region is locked
 *
 * Every user mapping of the device is zapped.  Its extents stay allocated
 * until __p2pdax_dev_trim(pdev, 0), once nothing pins them.
 */
void __p2pdax_dev_kill(struct p2pdax_dev *pdev)
{
	lockdep_assert_held(&pdev->region->lock);
	down_write(&pdev->fault_sem);
	WRITE_ONCE(pdev->dead, true);
	unmap_mapping_range(pdev->inode->i_mapping, 0, 0, 1);
	up_write(&pdev->fault_sem);
}

/**
 * __p2pdax_dev_release_extents() - give back a dead device's memory
 * @pdev: the device; its region is locked
 */
void __p2pdax_dev_release_extents(struct p2pdax_dev *pdev)
{
	lockdep_assert_held(&pdev->region->lock);
	down_write(&pdev->fault_sem);
	__p2pdax_dev_trim(pdev, 0);
	up_write(&pdev->fault_sem);
}

/**
 * p2pdax_dev_unregister() - remove a device's node and sysfs directory
 * @pdev: a device already taken off its region
 *
 * Must not be called with the region locked: removing the sysfs directory
 * waits for stores in progress, and they take the region lock.  Open files
 * keep the object (but not its memory) alive until they are closed.
 */
void p2pdax_dev_unregister(struct p2pdax_dev *pdev)
{
	cdev_device_del(&pdev->cdev, &pdev->dev);
	put_device(&pdev->dev);
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
	struct p2pdax_dev *pdev;

	for (;;) {
		pinned = p2pdax_count_pinned(region->res.start,
					     p2pdax_region_size(region), &first);
		if (!pinned)
			return;
		if (waited % 10000 == 0) {
			strscpy(who, "an unknown holder", sizeof(who));
			mutex_lock(&region->lock);
			list_for_each_entry(pdev, &region->devs, list) {
				int i;

				for (i = 0; i < pdev->nr_extents; i++) {
					struct resource *r = pdev->extents[i].res;

					if (PFN_PHYS(first) < r->start ||
					    PFN_PHYS(first) > r->end)
						continue;
					spin_lock(&pdev->holder_lock);
					strscpy(who, pdev->holder, sizeof(who));
					spin_unlock(&pdev->holder_lock);
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

// SPDX-License-Identifier: GPL-2.0
/*
 * p2pdax devices' file operations: open, mmap and the page-fault handlers
 * that map a device's extents into a tenant's address space, msync/fsync.
 * Every mapping of a device lives in the address space of the device's
 * private inode, so that a revocation (alloc.c) zaps them all; faults hold
 * the device's fault_sem for read, so they never see a half-made change.
 */
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/sched.h>

#include "compat.h"
#include "dax-core.h"
#include "uapi/linux/p2pdax.h"

/*
 * On kernels whose mappings are refcounted (compat.h), a mapped folio is in
 * the rmap like a page-cache folio: its mapping and index say which device
 * and offset it is, so that rmap walks (memory-failure, page_idle) find the
 * device's mappings of it.  A folio belongs to one device at a time (extents
 * are aligned to the folio size, min_align), and a device that gives a block
 * back clears them (alloc.c, __p2pdax_dev_trim()): a walk never reaches a
 * device the block has left.  Set at every fault, under fault_sem, so that
 * a block that moved is claimed by its new device before it is mapped.
 */
static void p2pdax_folio_set_owner(struct p2pdax_dev *ddev, unsigned long pfn,
				   pgoff_t pgoff)
{
	struct folio *folio = page_folio(pfn_to_page(pfn));

	lockdep_assert_held_read(&ddev->fault_sem);
	folio->mapping = ddev->inode->i_mapping;
	folio->index = pgoff - (pfn - folio_pfn(folio));
}

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
	/* nor a 2 MiB one where MADV_COLD would clear it as bad (compat.h) */
	if (!P2PDAX_HUGE_ENTRIES && fault_size > PAGE_SIZE) {
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
	if (p2pdax_poisoned(PHYS_PFN(phys), fault_size >> PAGE_SHIFT)) {
		ret = fault_size > PAGE_SIZE ? VM_FAULT_FALLBACK : VM_FAULT_HWPOISON;
		goto out;
	}
	/* Nothing is mapped before it is zeroed (see alloc.c). */
	if (p2pdax_zero_for_map(ddev, phys, fault_size)) {
		ret = VM_FAULT_SIGBUS;	/* killed meanwhile: never seen */
		goto out;
	}
	if (P2PDAX_REFCOUNTED_MAPS)
		p2pdax_folio_set_owner(ddev, PHYS_PFN(phys), pgoff);
	if (fault_size == PMD_SIZE)
		ret = p2pdax_insert_pmd(vmf, PHYS_PFN(phys), write);
	else
		ret = p2pdax_insert_pte(vmf, PHYS_PFN(phys + (vmf->address - addr)),
					write);
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

	p2pdax_holder_note(ddev);
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

static long p2pdax_ioctl(struct file *filp, unsigned int cmd,
			 unsigned long arg)
{
	switch (cmd) {
	case P2PDAX_IOC_EXPORT_DMABUF:
		return p2pdax_dmabuf_export(filp, (void __user *)arg);
	default:
		return -ENOTTY;
	}
}

static int p2pdax_open(struct inode *inode, struct file *filp)
{
	struct p2pdax_dev *ddev = container_of(inode->i_cdev, struct p2pdax_dev,
					       cdev);

	if (READ_ONCE(ddev->dead))
		return -ENXIO;
	get_device(&ddev->dev);
	atomic_inc(&ddev->opens);
	filp->private_data = ddev;
	/* Every mapping, whichever node it came through, lands in one place. */
	filp->f_mapping = ddev->inode->i_mapping;
	filp->f_wb_err = filemap_sample_wb_err(filp->f_mapping);
	return 0;
}

static int p2pdax_release(struct inode *inode, struct file *filp)
{
	struct p2pdax_dev *ddev = filp->private_data;

	atomic_dec(&ddev->opens);
	put_device(&ddev->dev);
	return 0;
}

const struct file_operations p2pdax_fops = {
	.owner = THIS_MODULE,
	.open = p2pdax_open,
	.release = p2pdax_release,
	.mmap = p2pdax_mmap,
	.get_unmapped_area = p2pdax_get_unmapped_area,
	.fsync = p2pdax_fsync,
	.unlocked_ioctl = p2pdax_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};


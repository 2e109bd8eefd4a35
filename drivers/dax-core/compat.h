/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel API drift, in one place.  dax-core is written against Debian's 6.1;
 * these wrappers name what changed in later kernels, so that the code's
 * side of a port is here (and in iopmem's compat.h).  Which kernels are
 * supported is scripts/kernels, the one list (tests/host/kernels.sh checks
 * the line below against it).
 */
#ifndef _DAX_CORE_COMPAT_H
#define _DAX_CORE_COMPAT_H

#include <linux/device.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/version.h>

/*
 * Tested on Debian's 6.1, 6.12, 7.2 and 7.3.  Two mapping models, chosen by
 * what the kernel exports (Kbuild's probes, never the version number):
 *
 * P2PDAX_REFCOUNTED_MAPS (6.15 on: vmf_insert_folio_pmd() is exported):
 *	every user mapping of a ZONE_DEVICE page holds a folio reference and
 *	an rmap entry, like a page-cache page; 2 MiB entries map 2 MiB folios.
 * otherwise (6.1 to 6.14): devmap entries (pfn_t, PFN_DEV | PFN_MAP) that
 *	take no reference; the core mm knows them only as "devmap".
 *
 * See Documentation/design.rst, "Kernels" and "Isolation".
 */
#if KERNEL_VERSION(6, 1, 0) > LINUX_VERSION_CODE
#error "dax-core needs Linux 6.1 or later"
#endif
#if defined(P2PDAX_HAVE_FOLIO_PMD) && defined(P2PDAX_HAVE_PAGE_MKWRITE)
#define P2PDAX_REFCOUNTED_MAPS 1
#elif defined(P2PDAX_HAVE_FOLIO_PMD) || defined(P2PDAX_HAVE_PAGE_MKWRITE)
/* both arrived in 6.15; a kernel with one of them is not one dax-core knows */
#error "vmf_insert_folio_pmd without vmf_insert_page_mkwrite, or the reverse"
#else
#define P2PDAX_REFCOUNTED_MAPS 0
#endif
/*
 * 6.15 made ZONE_DEVICE mappings refcounted, certainly: probes that say
 * otherwise read a Module.symvers that is missing or not this kernel's.
 */
#if !P2PDAX_REFCOUNTED_MAPS && KERNEL_VERSION(6, 15, 0) <= LINUX_VERSION_CODE
#error "no vmf_insert_folio_pmd in Module.symvers of a 6.15+ kernel: is it missing?"
#endif

/*
 * P2PDAX_HUGE_ENTRIES: whether dax-core maps 2 MiB entries at all.  Before
 * 6.5 (no __pte_offset_map(): a compile probe decides), the page-table
 * scans of MADV_COLD and MADV_PAGEOUT (madvise_cold_or_pageout_pte_range())
 * test a PMD with pmd_trans_unstable(), which on x86 is false for a devmap
 * PMD (pmd_trans_huge() excludes _PAGE_DEVMAP) and then clears it as "bad"
 * (pmd_clear_bad(): a "bad pmd" line, and no TLB flush).  Any tenant could
 * do that to its own mapping, and no driver-side flag stops the scan short
 * of VM_PFNMAP, which GUP refuses: such kernels map 4 KiB entries only.  See
 * Documentation/design.rst, "Isolation".  6.5 on, the scans skip devmap
 * PMDs; 6.15 on, 2 MiB entries are folio PMDs, which they handle.
 */
#if defined(P2PDAX_HAVE_PTE_OFFSET_MAP)
#define P2PDAX_HUGE_ENTRIES 1
#else
#define P2PDAX_HUGE_ENTRIES 0
#endif
#if !P2PDAX_HUGE_ENTRIES && KERNEL_VERSION(6, 5, 0) <= LINUX_VERSION_CODE
#error "no __pte_offset_map() in a 6.5+ kernel's headers: the probe misread them"
#endif

/* 6.2 made class->devnode() and ->dev_uevent() take a const struct device. */
#if KERNEL_VERSION(6, 2, 0) <= LINUX_VERSION_CODE
#define P2PDAX_CLASS_DEV const struct device
#else
#define P2PDAX_CLASS_DEV struct device
#endif

/* 6.3 made vma->vm_flags read-only behind vm_flags_set(). */
static inline void p2pdax_vm_flags_set(struct vm_area_struct *vma,
				       unsigned long flags)
{
#if KERNEL_VERSION(6, 3, 0) <= LINUX_VERSION_CODE
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

/* 6.4 dropped class_create()'s owner argument. */
#if KERNEL_VERSION(6, 4, 0) <= LINUX_VERSION_CODE
#define p2pdax_class_create(name) class_create(name)
#else
#define p2pdax_class_create(name) class_create(THIS_MODULE, name)
#endif

/* 6.6 replaced enum page_entry_size with an order. */
#if KERNEL_VERSION(6, 6, 0) <= LINUX_VERSION_CODE
#define P2PDAX_FAULT_ARG unsigned int p2pdax_fault_arg
#define P2PDAX_FAULT_PTE 0
#define p2pdax_fault_shift(order) ((order) + PAGE_SHIFT)
#else
#define P2PDAX_FAULT_ARG enum page_entry_size p2pdax_fault_arg
#define P2PDAX_FAULT_PTE PE_SIZE_PTE
static inline unsigned int p2pdax_fault_shift(enum page_entry_size pe_size)
{
	switch (pe_size) {
	case PE_SIZE_PMD:
		return PMD_SHIFT;
	case PE_SIZE_PUD:
		return PUD_SHIFT;
	default:
		return PAGE_SHIFT;
	}
}
#endif

/*
 * 6.10 replaced mm->get_unmapped_area with mm_get_unmapped_area(); a later
 * release dropped its mm argument (a compile probe decides).
 */
static inline unsigned long
p2pdax_mm_get_unmapped_area(struct file *filp, unsigned long addr,
			    unsigned long len, unsigned long pgoff,
			    unsigned long flags)
{
#if defined(P2PDAX_MM_GET_UNMAPPED_AREA_FILE)
	return mm_get_unmapped_area(filp, addr, len, pgoff, flags);
#elif KERNEL_VERSION(6, 10, 0) <= LINUX_VERSION_CODE
	return mm_get_unmapped_area(current->mm, filp, addr, len, pgoff, flags);
#else
	return current->mm->get_unmapped_area(filp, addr, len, pgoff, flags);
#endif
}

/*
 * dma-bufs (dmabuf.c).  7.1 renamed the importer's move_notify callback to
 * invalidate_mappings (and dma_buf_move_notify() to
 * dma_buf_invalidate_mappings()), made it optional and added
 * dma_buf_attach_revocable(); which of the two a kernel has, its
 * Module.symvers decides (P2PDAX_HAVE_DMA_BUF_INVALIDATE), not the
 * version.  Before that, the dma-buf core pins a dynamic exporter's buffer
 * around every mapping of a dynamic importer unless CONFIG_DMABUF_MOVE_NOTIFY
 * (off in Debian's 6.x), so a pin that is not a mapping's is an explicit
 * dma_buf_pin(); from 7.1 the core pins on map only for static importers,
 * which dax-core refuses (they cannot do peer-to-peer).
 */
#include <linux/dma-buf.h>
#if defined(P2PDAX_HAVE_DMA_BUF_INVALIDATE)
#define P2PDAX_DMA_BUF_NOTIFY invalidate_mappings
#define P2PDAX_DMA_BUF_MAP_PINS 0
static inline void p2pdax_dma_buf_invalidate(struct dma_buf *dmabuf)
{
	dma_buf_invalidate_mappings(dmabuf);
}

/* the callback is optional from 7.1: a pinned importer has none (RDMA's) */
#define P2PDAX_DMA_BUF_NOTIFY_REQUIRED 0

/* an importer that honours an invalidation: a pin of its is revocable */
static inline bool p2pdax_dma_buf_revocable(struct dma_buf_attachment *attach)
{
	return dma_buf_attach_revocable(attach);
}
#else
#define P2PDAX_DMA_BUF_NOTIFY move_notify
#define P2PDAX_DMA_BUF_MAP_PINS (!IS_ENABLED(CONFIG_DMABUF_MOVE_NOTIFY))
/* before 7.1 every dynamic importer needs one; RDMA's pinned one only warns */
#define P2PDAX_DMA_BUF_NOTIFY_REQUIRED 1
static inline void p2pdax_dma_buf_invalidate(struct dma_buf *dmabuf)
{
	dma_buf_move_notify(dmabuf);
}

/*
 * Before 7.1 every dynamic importer has the callback, pinned ones too (RDMA's
 * only warns, and its DMA goes on): no pinned attachment is revocable.
 */
static inline bool p2pdax_dma_buf_revocable(struct dma_buf_attachment *attach)
{
	return false;
}
#endif

/*
 * The P2PDMA provider API (7.2 and 7.3; its first release is not certain:
 * Module.symvers decides): a PCI BAR's struct p2pdma_provider and
 * dma_buf_phys_vec_to_sgt(), which maps physical ranges of the BAR for an
 * importer as upstream's P2PDMA rules say (a bus address behind a common
 * switch, an IOVA or the physical address through an allowed host bridge,
 * nothing otherwise: -EINVAL).  Without it (6.x, or PCI_P2PDMA=n as in the
 * debug kernel) dax-core maps the ranges with dma_map_resource().
 */
struct p2pdma_provider;
/* a physical range, as dma_buf_phys_vec_to_sgt() takes them */
struct p2pdax_phys {
	phys_addr_t paddr;
	size_t len;
};

#if defined(P2PDAX_HAVE_DMA_BUF_PHYS_VEC) && defined(P2PDAX_HAVE_P2PDMA_PROVIDER)
#include <linux/dma-buf-mapping.h>
#include <linux/pci-p2pdma.h>
#include <linux/slab.h>
#define P2PDAX_DMA_BUF_PROVIDER 1
static inline struct sg_table *
p2pdax_provider_map(struct dma_buf_attachment *attach,
		    struct p2pdma_provider *provider,
		    const struct p2pdax_phys *ranges, int nr, size_t size,
		    enum dma_data_direction dir)
{
	struct phys_vec *vec = kmalloc_array(nr, sizeof(*vec), GFP_KERNEL);
	struct sg_table *sgt;
	int i;

	if (!vec)
		return ERR_PTR(-ENOMEM);
	for (i = 0; i < nr; i++) {
		vec[i].paddr = ranges[i].paddr;
		vec[i].len = ranges[i].len;
	}
	sgt = dma_buf_phys_vec_to_sgt(attach, provider, vec, nr, size, dir);
	kfree(vec);
	return sgt;
}

static inline void p2pdax_provider_unmap(struct dma_buf_attachment *attach,
					 struct sg_table *sgt,
					 enum dma_data_direction dir)
{
	dma_buf_free_sgt(attach, sgt, dir);
}
#else
#define P2PDAX_DMA_BUF_PROVIDER 0
static inline struct sg_table *
p2pdax_provider_map(struct dma_buf_attachment *attach,
		    struct p2pdma_provider *provider,
		    const struct p2pdax_phys *ranges, int nr, size_t size,
		    enum dma_data_direction dir)
{
	return ERR_PTR(-EOPNOTSUPP);
}

static inline void p2pdax_provider_unmap(struct dma_buf_attachment *attach,
					 struct sg_table *sgt,
					 enum dma_data_direction dir)
{
}
#endif

/*
 * What the kernel does not export, built from what it does.  dax-core
 * supports x86-64 only (its memory types and cache maintenance are x86's).
 */
#ifndef CONFIG_X86_64
#error "dax-core supports x86-64 only"
#endif
/*
 * Huge (PMD/PUD) faults need both: without THP vmf_insert_pfn_pmd() does not
 * exist, and without FS_DAX IS_DAX() is constant false, so every fault would
 * silently be a 4 KiB fault.  Debian's kernels have both.
 */
#if !IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE) || !IS_ENABLED(CONFIG_FS_DAX)
#error "dax-core needs CONFIG_TRANSPARENT_HUGEPAGE and CONFIG_FS_DAX (design.rst, Kernels)"
#endif
#include <linux/pagemap.h>
#include <linux/smp.h>
#include <asm/cacheflush.h>
#include <asm/tlbflush.h>
#if !P2PDAX_REFCOUNTED_MAPS
#include <linux/pfn_t.h>
#endif

#if P2PDAX_REFCOUNTED_MAPS
/*
 * The folio a 2 MiB entry maps must be one 2 MiB folio (the provider's
 * compound pages: min_align); anything else is mapped with 4 KiB entries.
 */
static inline vm_fault_t p2pdax_insert_pmd(struct vm_fault *vmf,
					   unsigned long pfn, bool write)
{
	struct folio *folio = page_folio(pfn_to_page(pfn));

	if (folio_order(folio) != PMD_ORDER || folio_pfn(folio) != pfn)
		return VM_FAULT_FALLBACK;
	return vmf_insert_folio_pmd(vmf, folio, write);
}

static inline vm_fault_t p2pdax_insert_pte(struct vm_fault *vmf,
					   unsigned long pfn, bool write)
{
	return vmf_insert_page_mkwrite(vmf, pfn_to_page(pfn), write);
}

/*
 * Every mapping holds a reference on its folio, and the core mm drops that
 * reference only after the TLB entries of the zapped range are flushed (the
 * mmu_gather's rule, the one that keeps any freed page from being reused
 * under a stale translation).  A revocation therefore needs no TLB flush
 * of its own: the pin check that follows it (reference count back to 1)
 * proves that no entry, present or cached, is left.
 */
static inline void p2pdax_flush_tlb_all(void)
{
}
#else /* !P2PDAX_REFCOUNTED_MAPS */
static inline vm_fault_t p2pdax_insert_pmd(struct vm_fault *vmf,
					   unsigned long pfn, bool write)
{
	return vmf_insert_pfn_pmd(vmf, __pfn_to_pfn_t(pfn, PFN_DEV | PFN_MAP),
				  write);
}

static inline vm_fault_t p2pdax_insert_pte(struct vm_fault *vmf,
					   unsigned long pfn, bool write)
{
	return vmf_insert_mixed(vmf->vma, vmf->address,
				__pfn_to_pfn_t(pfn, PFN_DEV | PFN_MAP));
}

#ifndef P2PDAX_HAVE_FLUSH_TLB_ALL
/* devmap entries need a global TLB flush at revocation (design.rst, Isolation) */
#error "this kernel maps devmap entries and does not export __flush_tlb_all"
#endif
static inline void p2pdax_flush_tlb_cpu(void *unused)
{
	__flush_tlb_all();
}

/*
 * flush_tlb_all(): every CPU drops every TLB entry, of every mm.  Devmap
 * entries hold no reference, so nothing else proves that an entry the core
 * mm cleared without a flush (see design.rst) is gone from every TLB.
 */
static inline void p2pdax_flush_tlb_all(void)
{
	on_each_cpu(p2pdax_flush_tlb_cpu, NULL, 1);
}
#endif /* P2PDAX_REFCOUNTED_MAPS */

#endif /* _DAX_CORE_COMPAT_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel API drift, in one place.  dax-core is written against Debian's 6.1;
 * these wrappers name what changed in later kernels so a port touches only
 * this file.
 */
#ifndef _DAX_CORE_COMPAT_H
#define _DAX_CORE_COMPAT_H

#include <linux/device.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/version.h>

/*
 * Tested on Debian's 6.1 and 6.12.  From 6.15 on, ZONE_DEVICE pages are
 * mapped with references and devmap entries go away (6.17 removes pfn_t):
 * the pin detection (an idle page has refcount 1, mappings take none) and
 * the fault path would be wrong there, not just fail to build.  See
 * Documentation/design.rst, "Kernels".
 */
#if KERNEL_VERSION(6, 1, 0) > LINUX_VERSION_CODE
#error "dax-core needs Linux 6.1 or later"
#elif KERNEL_VERSION(6, 15, 0) <= LINUX_VERSION_CODE
#error "ZONE_DEVICE refcount and devmap rules change in 6.15: not ported (design.rst, Kernels)"
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

/* 6.10 replaced mm->get_unmapped_area with mm_get_unmapped_area(). */
static inline unsigned long
p2pdax_mm_get_unmapped_area(struct file *filp, unsigned long addr,
			    unsigned long len, unsigned long pgoff,
			    unsigned long flags)
{
#if KERNEL_VERSION(6, 10, 0) <= LINUX_VERSION_CODE
	return mm_get_unmapped_area(current->mm, filp, addr, len, pgoff, flags);
#else
	return current->mm->get_unmapped_area(filp, addr, len, pgoff, flags);
#endif
}

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
#include <linux/smp.h>
#include <asm/cacheflush.h>
#include <asm/tlbflush.h>

static inline void p2pdax_flush_tlb_cpu(void *unused)
{
	__flush_tlb_all();
}

/* flush_tlb_all(): every CPU drops every TLB entry, of every mm. */
static inline void p2pdax_flush_tlb_all(void)
{
	on_each_cpu(p2pdax_flush_tlb_cpu, NULL, 1);
}

#endif /* _DAX_CORE_COMPAT_H */

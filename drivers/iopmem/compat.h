/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel API drift of the provider, decided by Kbuild's probes (see the
 * top-level Kbuild) like dax-core's compat.h.
 */
#ifndef _IOPMEM_COMPAT_H
#define _IOPMEM_COMPAT_H

#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/sizes.h>

/*
 * 6.15 on (vmf_insert_folio_pmd() exported): a 2 MiB entry maps one 2 MiB
 * folio, so only a region of 2 MiB compound pages (min_align 2M or 1G) is
 * mapped with 2 MiB entries; a 4K region is mapped with 4 KiB entries
 * only.  Compound pages are never larger than 2 MiB there (a 1G min_align
 * still aligns devices to 1 GiB; dax-core maps them with 2 MiB entries).
 * Before 6.15, devmap entries need no compound pages, which are min_align
 * large.  See Documentation/design.rst, "Kernels".
 */
#ifdef P2PDAX_HAVE_FOLIO_PMD
#define IOPMEM_4K_MAPS_PTE_ONLY	1
static inline unsigned int iopmem_vmemmap_shift(unsigned long min_align)
{
	return min_t(unsigned int, ilog2(min_align), PMD_SHIFT) - PAGE_SHIFT;
}
#else
#define IOPMEM_4K_MAPS_PTE_ONLY	0
static inline unsigned int iopmem_vmemmap_shift(unsigned long min_align)
{
	return ilog2(min_align) - PAGE_SHIFT;
}
#endif

/*
 * Before 6.5 (no __pte_offset_map(): Kbuild's probe) dax-core maps 4 KiB
 * entries only, whatever min_align (dax-core's compat.h, P2PDAX_HUGE_ENTRIES).
 */
#ifdef P2PDAX_HAVE_PTE_OFFSET_MAP
#define IOPMEM_PTE_ONLY	0
#else
#define IOPMEM_PTE_ONLY	1
#endif

/*
 * The BAR's P2PDMA provider, for dax-core's dma-bufs (see dax-core's
 * compat.h): where the kernel has the API, recorded for the card's life
 * (pcim_p2pdma_init() is devm-managed); NULL elsewhere.
 */
#if defined(P2PDAX_HAVE_DMA_BUF_PHYS_VEC) && defined(P2PDAX_HAVE_P2PDMA_PROVIDER)
#include <linux/pci-p2pdma.h>
static inline struct p2pdma_provider *iopmem_p2p_provider(struct pci_dev *pdev,
							  int bar)
{
	int rc = pcim_p2pdma_init(pdev);

	return rc ? ERR_PTR(rc) : pcim_p2pdma_provider(pdev, bar);
}
#else
static inline struct p2pdma_provider *iopmem_p2p_provider(struct pci_dev *pdev,
							  int bar)
{
	return NULL;
}
#endif

#endif /* _IOPMEM_COMPAT_H */

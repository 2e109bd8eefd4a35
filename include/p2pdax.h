/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dax-core: the interface between a memory provider (iopmem) and the p2pdax
 * sub-division core.  A provider hands dax-core a physical range that is
 * already mapped into ZONE_DEVICE (devm_memremap_pages); dax-core turns it
 * into a region that administrators carve into per-tenant devices.
 */
#ifndef _P2PDAX_H
#define _P2PDAX_H

#include <linux/range.h>

struct device;
struct p2pdax_region;
struct p2pdma_provider;

/**
 * enum p2pdax_cache_mode - memory type of the region's kernel and user maps
 * @P2PDAX_CACHE_WC: write-combining (the default for PCI memory)
 * @P2PDAX_CACHE_UC: uncached
 * @P2PDAX_CACHE_WB: write-back
 * @P2PDAX_CACHE_UC_MINUS: uncached, overridable by MTRRs (what x86 gives a
 *	write-back request where the MTRRs do not allow write-back)
 */
enum p2pdax_cache_mode {
	P2PDAX_CACHE_WC,
	P2PDAX_CACHE_UC,
	P2PDAX_CACHE_WB,
	P2PDAX_CACHE_UC_MINUS,
};

/**
 * struct p2pdax_region_info - what a provider tells dax-core about a region
 * @range: physical address range; 2 MiB aligned and already in ZONE_DEVICE
 * @kaddr: kernel virtual address of @range.start (the ZONE_DEVICE map)
 * @cache: the memory type @range's mappings actually get
 * @nid: NUMA node of the memory, or NUMA_NO_NODE
 * @min_align: the smallest device alignment the region allows: PAGE_SIZE
 *	(or 0), 2 MiB or 1 GiB.  @range must be aligned to it.  A provider
 *	that maps its pages as compound pages (dev_pagemap.vmemmap_shift)
 *	sets it to at least their size, so that no device shares one.  From
 *	Linux 6.15, dax-core maps 2 MiB entries only from 2 MiB compound
 *	pages; smaller pages are mapped with 4 KiB entries.
 */
struct p2pdax_region_info {
	struct range range;
	void *kaddr;
	enum p2pdax_cache_mode cache;
	int nid;
	unsigned long min_align;
	struct p2pdma_provider *provider;
};

struct p2pdax_region *devm_p2pdax_region_create(struct device *parent,
						const struct p2pdax_region_info *info);
int p2pdax_region_id(const struct p2pdax_region *region);
int p2pdax_region_memory_failure(struct p2pdax_region *region,
				 unsigned long pfn, unsigned long nr_pages);
const char *p2pdax_cache_mode_name(enum p2pdax_cache_mode mode);

#endif /* _P2PDAX_H */

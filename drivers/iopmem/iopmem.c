// SPDX-License-Identifier: GPL-2.0
/*
 * iopmem: turn a PCIe card's memory BAR into ZONE_DEVICE memory that other
 * devices can DMA into, and hand it to dax-core as a region to be carved
 * into per-tenant character devices.
 *
 * The driver has no ID table: an administrator binds a card through
 * driver_override (or new_id).  Every resource is devm-managed, so remove()
 * is empty and a failed probe leaves nothing behind.
 */
#include <linux/io.h>
#include <linux/memremap.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/sizes.h>
#include <linux/string.h>

#include "p2pdax.h"
#include "compat.h"
#include "iopmem-bar.h"

/*
 * Module parameters.  All are writable at run time and take effect at the
 * next probe, so an administrator (or p2pctl) can pick a BAR, a memory type
 * or a minimum alignment per card before binding it.  Stores are validated;
 * a bad value is refused with -EINVAL and leaves the old one in place.
 */
static int iopmem_bar_param = -1;
static enum p2pdax_cache_mode iopmem_cache = P2PDAX_CACHE_WC;
static unsigned long iopmem_min_align = PAGE_SIZE;

static int iopmem_bar_set(const char *val, const struct kernel_param *kp)
{
	int v, rc;

	rc = kstrtoint(val, 0, &v);
	if (rc)
		return rc;
	if (v < -1 || v >= IOPMEM_NUM_BARS)
		return -EINVAL;
	WRITE_ONCE(iopmem_bar_param, v);
	return 0;
}

static int iopmem_bar_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(iopmem_bar_param));
}

static const struct kernel_param_ops iopmem_bar_ops = {
	.set = iopmem_bar_set,
	.get = iopmem_bar_get,
};
module_param_cb(bar, &iopmem_bar_ops, NULL, 0644);
MODULE_PARM_DESC(bar, "BAR to use, 0-5, or -1 (default) for the largest prefetchable memory BAR of at least 2 MiB, 64-bit first");

static int iopmem_cache_set(const char *val, const struct kernel_param *kp)
{
	enum p2pdax_cache_mode m;

	for (m = P2PDAX_CACHE_WC; m <= P2PDAX_CACHE_WB; m++) {
		if (sysfs_streq(val, p2pdax_cache_mode_name(m))) {
			WRITE_ONCE(iopmem_cache, m);
			return 0;
		}
	}
	return -EINVAL;
}

static int iopmem_cache_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n",
			  p2pdax_cache_mode_name(READ_ONCE(iopmem_cache)));
}

static const struct kernel_param_ops iopmem_cache_ops = {
	.set = iopmem_cache_set,
	.get = iopmem_cache_get,
};
module_param_cb(cache, &iopmem_cache_ops, NULL, 0644);
MODULE_PARM_DESC(cache, "memory type of kernel and user mappings: wc (default), uc or wb");

/* 4096, 2097152 or 1073741824, also as 4K, 2M or 1G. */
static int iopmem_min_align_set(const char *val, const struct kernel_param *kp)
{
	char buf[24], *end;
	unsigned long long v;

	if (strscpy(buf, val, sizeof(buf)) < 0)
		return -EINVAL;
	strim(buf);
	if (!buf[0])
		return -EINVAL;
	v = memparse(buf, &end);
	if (*end)
		return -EINVAL;
	if (v != PAGE_SIZE && v != SZ_2M && v != SZ_1G)
		return -EINVAL;
	WRITE_ONCE(iopmem_min_align, v);
	return 0;
}

static int iopmem_min_align_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(iopmem_min_align));
}

static const struct kernel_param_ops iopmem_min_align_ops = {
	.set = iopmem_min_align_set,
	.get = iopmem_min_align_get,
};
module_param_cb(min_align, &iopmem_min_align_ops, NULL, 0644);
MODULE_PARM_DESC(min_align, "smallest device alignment of the next bound card: 4K (default), 2M or 1G; above 4K the BAR's struct pages are compound pages of that size (at most 2 MiB from Linux 6.15), which the kernel's vmemmap optimisation shares; from 6.15 only 2M and 1G regions are mapped with 2 MiB entries");

static void iopmem_describe_bars(struct pci_dev *pdev, struct iopmem_bar *bars)
{
	int i;

	for (i = 0; i < IOPMEM_NUM_BARS; i++) {
		unsigned long flags = pci_resource_flags(pdev, i);

		bars[i] = (struct iopmem_bar) {
			.start = pci_resource_start(pdev, i),
			.len = pci_resource_len(pdev, i),
			.is_io = flags & IORESOURCE_IO,
			.is_64 = flags & IORESOURCE_MEM_64,
			.prefetch = flags & IORESOURCE_PREFETCH,
		};
		/* An unassigned BAR cannot be used either. */
		if (flags & IORESOURCE_UNSET)
			bars[i].len = 0;
	}
}

/*
 * Fix the memory type of the BAR before devm_memremap_pages() runs.  On x86
 * the first PAT reservation of a range decides its type, and the reservation
 * memremap_pages() makes adopts a compatible existing one; so a devm-managed
 * WC (or UC) ioremap of the whole BAR, kept for the life of the binding,
 * makes the linear map and every user map of the region WC (or UC).  WB needs
 * no reservation of its own.
 */
static int iopmem_set_memtype(struct device *dev, resource_size_t start,
			      resource_size_t len, enum p2pdax_cache_mode mode)
{
	void __iomem *addr;

	switch (mode) {
	case P2PDAX_CACHE_WC:
		addr = devm_ioremap_wc(dev, start, len);
		break;
	case P2PDAX_CACHE_UC:
		addr = devm_ioremap_uc(dev, start, len);
		break;
	default:
		return 0;
	}
	return addr ? 0 : -ENOMEM;
}

/*
 * The memory type the BAR really got, read back from its kernel linear map:
 * x86 PAT downgrades a write-back request to UC- where the MTRRs do not say
 * write-back (QEMU's firmware marks the 32-bit PCI hole uncached, say).
 */
static enum p2pdax_cache_mode iopmem_effective_memtype(void *kaddr,
						       enum p2pdax_cache_mode want)
{
#ifdef CONFIG_X86
	static const struct {
		enum page_cache_mode pcm;
		enum p2pdax_cache_mode mode;
	} types[] = {
		{ _PAGE_CACHE_MODE_WB, P2PDAX_CACHE_WB },
		{ _PAGE_CACHE_MODE_WC, P2PDAX_CACHE_WC },
		{ _PAGE_CACHE_MODE_UC, P2PDAX_CACHE_UC },
		{ _PAGE_CACHE_MODE_UC_MINUS, P2PDAX_CACHE_UC_MINUS },
	};
	unsigned long flags;
	unsigned int level;
	pte_t *pte;
	int i;

	pte = lookup_address((unsigned long)kaddr, &level);
	if (!pte || !pte_present(*pte))
		return want;
	flags = pgprot_val(pte_pgprot(*pte));
	if (level != PG_LEVEL_4K)
		flags = pgprot_val(pgprot_large_2_4k(__pgprot(flags)));
	flags &= _PAGE_CACHE_MASK;
	for (i = 0; i < ARRAY_SIZE(types); i++)
		if (flags == cachemode2protval(types[i].pcm))
			return types[i].mode;
#endif
	return want;
}

/**
 * struct iopmem_pagemap - a bound card's ZONE_DEVICE map
 * @pgmap: what devm_memremap_pages() maps
 * @lock: protects @region against a memory failure in progress
 * @region: the card's dax-core region while it exists, else NULL
 */
struct iopmem_pagemap {
	struct dev_pagemap pgmap;
	struct mutex lock;	/* protects: region */
	struct p2pdax_region *region;
};

/*
 * memory-failure (a machine check on the card, or MADV_HWPOISON) calls this
 * before its generic handler, which would walk the folio's rmap while
 * dax-core may be moving the block to another device: dax-core finds the
 * holder under its own locks instead.  Before the region exists and after it
 * is gone nothing maps the card: the pages are only marked.
 */
static int iopmem_memory_failure(struct dev_pagemap *pgmap, unsigned long pfn,
				 unsigned long nr_pages, int mf_flags)
{
	struct iopmem_pagemap *ipm = container_of(pgmap, struct iopmem_pagemap,
						  pgmap);
	unsigned long i;
	int rc = 0;

	mutex_lock(&ipm->lock);
	if (ipm->region)
		rc = p2pdax_region_memory_failure(ipm->region, pfn, nr_pages);
	else
		for (i = 0; i < nr_pages; i++)
			SetPageHWPoison(pfn_to_page(pfn + i));
	mutex_unlock(&ipm->lock);
	return rc;
}

static const struct dev_pagemap_ops iopmem_pagemap_ops = {
	.memory_failure = iopmem_memory_failure,
};

/* Runs before the region's own teardown (devm order): waits for a failure. */
static void iopmem_forget_region(void *data)
{
	struct iopmem_pagemap *ipm = data;

	mutex_lock(&ipm->lock);
	ipm->region = NULL;
	mutex_unlock(&ipm->lock);
}

static int iopmem_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct iopmem_bar bars[IOPMEM_NUM_BARS];
	struct p2pdax_region_info info = { };
	struct device *dev = &pdev->dev;
	struct p2pdax_region *region;
	enum iopmem_bar_verdict verdict;
	struct iopmem_pagemap *ipm;
	struct dev_pagemap *pgmap;
	enum p2pdax_cache_mode mode = READ_ONCE(iopmem_cache);
	int idx = READ_ONCE(iopmem_bar_param);
	unsigned long min_align = READ_ONCE(iopmem_min_align);
	resource_size_t start, len;
	void *kaddr;
	int rc;

	iopmem_describe_bars(pdev, bars);
	if (idx < 0)
		idx = iopmem_bar_pick(bars);
	if (idx < 0) {
		dev_err(dev, "no prefetchable memory BAR of at least 2 MiB (name a non-prefetchable one with bar= only if it is plain memory)\n");
		return -ENODEV;
	}
	verdict = iopmem_bar_check(bars, idx);
	if (verdict != IOPMEM_BAR_OK) {
		dev_err(dev, "BAR %d %s\n", idx, iopmem_bar_verdict_str(verdict));
		return verdict == IOPMEM_BAR_NO_INDEX ? -EINVAL : -ENODEV;
	}
	start = pci_resource_start(pdev, idx);
	len = pci_resource_len(pdev, idx);
	if (!IS_ALIGNED(start, min_align) || !IS_ALIGNED(len, min_align)) {
		dev_err(dev, "BAR %d (%pa, %llu MiB) is not aligned to min_align=%lu\n",
			idx, &start, (unsigned long long)len >> 20, min_align);
		return -EINVAL;
	}

	rc = pcim_enable_device(pdev);
	if (rc) {
		dev_err(dev, "cannot enable the device: %d\n", rc);
		return rc;
	}
	if (!devm_request_mem_region(dev, start, len, "iopmem")) {
		dev_err(dev, "BAR %d is already claimed\n", idx);
		return -EBUSY;
	}
	rc = iopmem_set_memtype(dev, start, len, mode);
	if (rc) {
		dev_err(dev, "cannot reserve BAR %d as %s: %d\n", idx,
			p2pdax_cache_mode_name(mode), rc);
		return rc;
	}

	ipm = devm_kzalloc(dev, sizeof(*ipm), GFP_KERNEL);
	if (!ipm)
		return -ENOMEM;
	mutex_init(&ipm->lock);
	pgmap = &ipm->pgmap;
	pgmap->type = MEMORY_DEVICE_GENERIC;
	pgmap->ops = &iopmem_pagemap_ops;
	pgmap->range = (struct range) {
		.start = start,
		.end = start + len - 1,
	};
	pgmap->nr_range = 1;
	/*
	 * Compound pages of min_align (at most 2 MiB from 6.15: compat.h):
	 * their tails' struct pages are all alike, so the vmemmap optimisation
	 * maps most of them to one shared page.  Pins then count on the
	 * compound head; no device shares one (devices align to min_align).
	 */
	pgmap->vmemmap_shift = iopmem_vmemmap_shift(min_align);
	kaddr = devm_memremap_pages(dev, pgmap);
	if (IS_ERR(kaddr)) {
		dev_err(dev, "cannot map BAR %d into ZONE_DEVICE: %pe\n", idx,
			kaddr);
		return PTR_ERR(kaddr);
	}

	info.range = pgmap->range;
	info.kaddr = kaddr;
	info.cache = iopmem_effective_memtype(kaddr, mode);
	if (info.cache != mode)
		dev_notice(dev, "BAR %d: %s requested, the platform maps it %s\n",
			   idx, p2pdax_cache_mode_name(mode),
			   p2pdax_cache_mode_name(info.cache));
	info.nid = dev_to_node(dev);
	info.min_align = min_align;
	info.provider = iopmem_p2p_provider(pdev, idx);
	if (IS_ERR(info.provider)) {
		dev_err(dev, "cannot set up BAR %d as a P2PDMA provider: %pe\n",
			idx, info.provider);
		return PTR_ERR(info.provider);
	}
	region = devm_p2pdax_region_create(dev, &info);
	if (IS_ERR(region)) {
		dev_err(dev, "cannot create a p2pdax region: %pe\n", region);
		return PTR_ERR(region);
	}
	mutex_lock(&ipm->lock);
	ipm->region = region;
	mutex_unlock(&ipm->lock);
	rc = devm_add_action_or_reset(dev, iopmem_forget_region, ipm);
	if (rc)
		return rc;

	dev_info(dev, "BAR %d (%llu MiB, %s, min_align %lu) is p2pdax region %d\n",
		 idx, (unsigned long long)len >> 20,
		 p2pdax_cache_mode_name(info.cache), min_align,
		 p2pdax_region_id(region));
	if (IOPMEM_PTE_ONLY)
		dev_notice(dev, "region %d is mapped with 4 KiB entries only (this kernel's MADV_COLD would clear a 2 MiB device entry as bad: see design.rst)\n",
			   p2pdax_region_id(region));
	else if (IOPMEM_4K_MAPS_PTE_ONLY && min_align == PAGE_SIZE)
		dev_notice(dev, "region %d is mapped with 4 KiB entries only (this kernel maps 2 MiB entries from 2 MiB compound pages: bind with min_align=2M for them)\n",
			   p2pdax_region_id(region));
	return 0;
}

static void iopmem_remove(struct pci_dev *pdev)
{
	/* Everything is devm-managed; see devm_p2pdax_region_create(). */
}

static struct pci_driver iopmem_driver = {
	.name = "iopmem",
	.id_table = NULL,	/* bind via driver_override or new_id */
	.probe = iopmem_probe,
	.remove = iopmem_remove,
};

static int __init iopmem_init(void)
{
	return pci_register_driver(&iopmem_driver);
}
module_init(iopmem_init);

static void __exit iopmem_exit(void)
{
	pci_unregister_driver(&iopmem_driver);
}
module_exit(iopmem_exit);

MODULE_DESCRIPTION("PCIe BAR memory as ZONE_DEVICE for peer DMA, carved by p2pdax");
MODULE_LICENSE("GPL");
MODULE_SOFTDEP("pre: dax_core");

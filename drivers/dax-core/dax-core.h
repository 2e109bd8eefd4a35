/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dax-core private definitions.  See Documentation/design.rst for the
 * objects, their lifetimes and the lock order.
 */
#ifndef _DAX_CORE_H
#define _DAX_CORE_H

#include <linux/device.h>
#include <linux/ioport.h>
#include <linux/kref.h>
#include <linux/mutex.h>

#include "p2pdax.h"

/**
 * struct p2pdax_region - one provider range, carved into p2pdax devices
 * @id: region id, unique while the region (or any device of it) lives
 * @kref: held by the provider's binding and by every device of the region
 * @parent: the provider's device (the PCI function); its drvdata is us
 * @res: the physical range; allocated extents are its children
 * @kaddr: kernel mapping of @res.start
 * @align: largest device alignment the region supports
 * @cache: memory type of the region's mappings
 * @nid: NUMA node of the memory
 * @lock: protects @res's children and everything below
 */
struct p2pdax_region {
	int id;
	struct kref kref;
	struct device *parent;
	struct resource res;
	void *kaddr;
	unsigned long align;
	enum p2pdax_cache_mode cache;
	int nid;
	struct mutex lock;	/* extents (children of @res), devices, seed */
};

static inline resource_size_t p2pdax_region_size(const struct p2pdax_region *r)
{
	return resource_size(&r->res);
}

resource_size_t p2pdax_region_available(struct p2pdax_region *region);

#endif /* _DAX_CORE_H */

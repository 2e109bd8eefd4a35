/* SPDX-License-Identifier: GPL-2.0 */
/* p2pctl: what the kernel shows of iopmem regions and p2pdax devices. */
#ifndef P2PCTL_SYSFS_H
#define P2PCTL_SYSFS_H

#include <stdint.h>
#include <sys/types.h>

#include "util.h"

struct p2p_extent {
	uint64_t start, end;	/* physical, end inclusive */
	uint64_t pgoff;
};

struct p2p_region {
	char pci[PCI_ADDR_SIZE];
	int id;
	uint64_t size, avail, align, min_align, start;
	char cache[8];
	char seed[32];
	int bar;		/* the BAR the region is, or -1 */
};

struct p2p_device {
	char name[32];
	char label[P2PCTL_LABEL_MAX + 1];	/* "" if none */
	int region, n;
	uint64_t size, align;
	uid_t uid;
	gid_t gid;
	mode_t mode;
	int nr_extents;
	struct p2p_extent extents[P2PCTL_MAX_EXTENTS];
};

#define SYS_PCI		"/sys/bus/pci/devices"
#define SYS_IOPMEM	"/sys/bus/pci/drivers/iopmem"
#define IOPMEM_PARAM_MIN_ALIGN	"/sys/module/iopmem/parameters/min_align"
#define SYS_P2PDAX	"/sys/class/p2pdax"

int sysfs_read(const char *path, char *buf, size_t len);
int sysfs_read_u64(const char *path, uint64_t *v);
int sysfs_write(const char *path, const char *val);
int sysfs_writef(const char *path, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* all regions, sorted by id; returns the count or -errno */
int regions_scan(struct p2p_region *out, int max);
/* a region by id ("0") or PCI address; 0, -ENOENT or -EINVAL */
int region_find(const char *spec, struct p2p_region *r);
int region_load(const char *pci, struct p2p_region *r);
/*
 * Devices of region @id (all regions for -1), sorted by number; the count,
 * or -errno if one could not be read (a device deleted meanwhile is left out).
 */
int devices_scan(int id, struct p2p_device *out, int max);
int device_load(const char *name, struct p2p_device *d);
/* the device (of any region) whose label is @label: 0, -ENOENT or -errno */
int device_by_label(const char *label, struct p2p_device *d);

#endif

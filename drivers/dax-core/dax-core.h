/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dax-core private definitions.  Documentation/design.rst describes the
 * objects, their lifetimes and the lock order; in short:
 *
 *   ddev->resize_lock (mutex)  ->  region->lock (mutex)  ->
 *	ddev->fault_sem (rwsem)  ->  i_mmap_rwsem / page-table locks
 *   mmap_lock  ->  ddev->fault_sem  ->  ddev->zero_lock  ->
 *	region->dirty_lock (spinlock)
 *   ddev->fault_sem  ->  ddev->dmabuf_lock (mutex)  ->  dmabuf->resv
 *
 * ddev->resize_lock serialises changes of one device's size and align.
 * region->lock serialises every change of a region and of its devices
 * (sysfs stores, create/delete, teardown).
 * ddev->fault_sem is taken for read by mmap, fsync and the fault handler and
 * for write by whatever changes what a device maps (its extents, size,
 * liveness), so faults never see a half-made change.  A fault that must
 * zero what it maps takes ddev->zero_lock (inside fault_sem) and, around
 * each bitmap change, region->dirty_lock (a spinlock, innermost).
 * p2pdax_label_lock (device.c), innermost, protects device labels.
 * ddev->dmabuf_lock protects the list of the device's dma-bufs; each
 * dma-buf's reservation lock (dmabuf->resv) protects its revoked flag and
 * its attachments' counts.  The dma-buf core calls map, unmap, pin and
 * unpin with that lock held (an importer may unmap from inside the
 * invalidation a revocation sends under it): they take no dax-core lock.
 *
 * Files: alloc.c is the allocator (a region's memory, devices' extents,
 * which are also the index, zeroing, pins); fault.c the file operations
 * and faults; dmabuf.c dma-buf exports and their revocation; device.c
 * device objects and their sysfs; region.c region objects and theirs;
 * core.c the module (class, chrdev, minors, inodes).  Calls go region.c ->
 * device.c -> fault.c/alloc.c -> dmabuf.c, never back, but for the
 * helpers fault.c and dmabuf.c share: alloc.c's zeroing and device.c's
 * holders.  Nothing takes
 * region->lock while holding fault_sem or mmap_lock, nor resize_lock while
 * holding region->lock.
 */
#ifndef _DAX_CORE_H
#define _DAX_CORE_H

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/ioport.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/xarray.h>

#include "compat.h"
#include "p2pdax.h"

/* A device spans at most this many extents ("extents" fits one page). */
#define P2PDAX_MAX_EXTENTS	64
/* Longest device label, without the terminating NUL. */
#define P2PDAX_LABEL_MAX	63

/**
 * struct p2pdax_region - one provider range, carved into p2pdax devices
 * @id: region id, unique while the region (or any device of it) lives
 * @kref: held by the provider's binding and by every device of the region
 * @parent: the provider's device (the PCI function); its drvdata is us
 * @res: the physical range; allocated extents are its children
 * @kaddr: kernel mapping of @res.start
 * @align: largest device alignment the region supports
 * @min_align: smallest device alignment the region allows (the provider's
 *	compound page size; PAGE_SIZE for none)
 * @cache: memory type of the region's mappings
 * @nid: NUMA node of the memory
 * @provider: the BAR's P2PDMA provider, through which dma-bufs are mapped
 *	for importers, or NULL (dma_map_resource(); compat.h)
 * @lock: see below
 * @dead: the provider is going away; no more changes
 * @devs: live devices, in creation order
 * @seed: the zero-size device that sizing turns into a new device, or NULL
 * @dirty_lock: see below
 * @dirty: one bit per 1 << @dirty_shift bytes of @res: set while the block
 *	may hold bytes its next device must not see (from before the region,
 *	or from a device that gave it back); cleared once zeroed, when a
 *	device first maps it (alloc.c, p2pdax_zero_for_map())
 * @dirty_shift: log2 of @dirty's granularity: the region's min_align, but
 *	at most 2 MiB (the largest fault), so that a fault zeroes at most that
 * @devnums: device numbers in use (the N in p2pdax<id>.N), allocated
 *	cyclically from @next_n so that a name is not reused
 * @next_n: the next device number; kept across unbind and rebind of a region
 *	with the same id (p2pdax_region_next_n), so names are never reused while
 *	the module is loaded (until the numbers wrap)
 */
struct p2pdax_region {
	int id;
	struct kref kref;
	struct device *parent;
	struct resource res;
	void *kaddr;
	unsigned long align;
	unsigned long min_align;
	enum p2pdax_cache_mode cache;
	int nid;
	struct p2pdma_provider *provider;
	/*
	 * protects: @res's children, @dead, @devs, @seed, devices'
	 * extents
	 */
	struct mutex lock;
	bool dead;
	struct list_head devs;
	struct p2pdax_dev *seed;
	spinlock_t dirty_lock;	/* protects: changes of @dirty's bits */
	unsigned long *dirty;
	unsigned int dirty_shift;
	struct xarray devnums;
	u32 next_n;
};

/**
 * struct p2pdax_extent - a physically contiguous piece of a device
 * @res: the allocation, a child of the region's resource
 * @pgoff: the device page offset @res starts at
 */
struct p2pdax_extent {
	struct resource *res;
	pgoff_t pgoff;
};

/* How many of the processes that mapped a device it remembers. */
#define P2PDAX_HOLDERS		4
/* Room for P2PDAX_HOLDERS "comm[pid]" names, ", " between them. */
#define P2PDAX_HOLDERS_LEN	(P2PDAX_HOLDERS * (TASK_COMM_LEN + 16))

/**
 * struct p2pdax_holder - a process that mapped a device
 * @tgid: its process id (0: an unused entry)
 * @comm: its name when it mapped the device
 */
struct p2pdax_holder {
	pid_t tgid;
	char comm[TASK_COMM_LEN];
};

/**
 * struct p2pdax_dev - one carved device, /dev/p2pdax<region>.<n>
 * @dev: the device; the object is freed in its release
 * @cdev: the character device
 * @region: the region (a reference is held)
 * @list: entry in region->devs
 * @n: the device number within the region
 * @inode: private inode whose address space holds every mapping of the
 *	device, whichever device node it was opened through, so a range can be
 *	zapped
 * @resize_lock: serialises size and align changes of this device (see the
 *	lock order at the top of this file)
 * @fault_sem: see the lock order at the top of this file; held for write
 *	to change @dead, @size, @align and @extents
 * @dead: deleted or torn down: stores fail, faults get SIGBUS
 * @zero_lock: serialises the zeroing of blocks the device maps for the first
 *	time, so that a block is mapped only once zeroed, and zeroed once
 * @size: bytes; a multiple of @align
 * @align: mapping granularity (PAGE_SIZE, 2 MiB or 1 GiB)
 * @nr_extents: entries used in @extents, in page-offset order
 * @extents: the physical extents, laid end to end in page-offset order:
 *	also the device's index (a binary search, __p2pdax_pgoff_to_phys())
 * @label: the tenant's name for the device, unique among live devices
 *	("" for none); protected by p2pdax_label_lock (device.c)
 * @label_node: entry in the list of labelled devices (p2pdax_label_lock)
 * @holder_lock: protects @holders and @next_holder
 * @holders: the last P2PDAX_HOLDERS processes that mapped the device (one
 *	entry each), named when a pin blocks a shrink or a teardown, and in
 *	the device's "holders" attribute
 * @next_holder: the entry of @holders the next new process takes
 * @opens: open files of the device (a mapping keeps its file open); a
 *	label changes only while this is 0 and @size is 0 (device.c)
 * @dmabuf_lock: protects @dmabufs (see the lock order at the top of this
 *	file)
 * @dmabufs: the device's exported dma-bufs (dmabuf.c), revoked or not;
 *	each holds a reference on the device
 */
struct p2pdax_dev {
	struct device dev;
	struct cdev cdev;
	struct p2pdax_region *region;
	struct list_head list;
	int n;
	struct inode *inode;
	struct mutex resize_lock;	/* protects: size/align changes */
	struct rw_semaphore fault_sem;
	bool dead;
	struct mutex zero_lock;	/* protects: zeroing of the device's blocks */
	u64 size;
	unsigned long align;
	int nr_extents;
	struct p2pdax_extent extents[P2PDAX_MAX_EXTENTS];
	char label[P2PDAX_LABEL_MAX + 1];
	struct list_head label_node;
	spinlock_t holder_lock;	/* protects holders, next_holder */
	struct p2pdax_holder holders[P2PDAX_HOLDERS];
	unsigned int next_holder;
	atomic_t opens;
	struct mutex dmabuf_lock;	/* protects: dmabufs */
	struct list_head dmabufs;
};

static inline struct p2pdax_dev *to_p2pdax_dev(struct device *dev)
{
	return container_of(dev, struct p2pdax_dev, dev);
}

static inline resource_size_t p2pdax_region_size(const struct p2pdax_region *r)
{
	return resource_size(&r->res);
}

/* alloc.c */
resource_size_t __p2pdax_region_available(struct p2pdax_region *region);
void p2pdax_region_get(struct p2pdax_region *region);
void p2pdax_region_put(struct p2pdax_region *region);
phys_addr_t __p2pdax_pgoff_to_phys(struct p2pdax_dev *ddev, pgoff_t pgoff);
void p2pdax_publish(struct p2pdax_region *region, phys_addr_t start, u64 len);
bool __p2pdax_revoke(struct p2pdax_dev *ddev, u64 start, u64 len);
void p2pdax_dev_revoke_phys(struct p2pdax_dev *ddev, phys_addr_t start,
			    u64 len);
int p2pdax_zero_for_map(struct p2pdax_dev *ddev, phys_addr_t phys, u64 len);
bool p2pdax_poisoned(unsigned long pfn, unsigned long nr);
int __p2pdax_dev_resize(struct p2pdax_dev *ddev, u64 size);
void __p2pdax_dev_release_extents(struct p2pdax_dev *ddev);
void p2pdax_wait_unpinned(struct p2pdax_region *region);
unsigned long p2pdax_region_pinned(struct p2pdax_region *region,
				   unsigned long *first_pfn);

/* dmabuf.c */
struct p2pdax_export_dmabuf;
long p2pdax_dmabuf_export(struct file *filp,
			  struct p2pdax_export_dmabuf __user *uarg);
bool __p2pdax_dmabufs_pinned(struct p2pdax_dev *ddev, u64 start, u64 len,
			     char *who, size_t size);
bool __p2pdax_dmabufs_revoke(struct p2pdax_dev *ddev, u64 start, u64 len);
bool p2pdax_dmabufs_fenced(struct p2pdax_dev *ddev);

/* fault.c */
extern const struct file_operations p2pdax_fops;

/* device.c */
void __p2pdax_region_replant(struct p2pdax_region *region);
int p2pdax_dev_resize(struct p2pdax_dev *ddev, u64 size);
struct p2pdax_dev *__p2pdax_dev_create(struct p2pdax_region *region);
int __p2pdax_dev_delete(struct p2pdax_dev *ddev);
void __p2pdax_dev_kill(struct p2pdax_dev *ddev);
void p2pdax_dev_unregister(struct p2pdax_dev *ddev);
void p2pdax_holder_note(struct p2pdax_dev *ddev);
void p2pdax_holders_str(struct p2pdax_dev *ddev, char *buf, size_t len);
int p2pdax_dev_uevent(P2PDAX_CLASS_DEV *dev, struct kobj_uevent_env *env);

/* region.c */
void p2pdax_regions_exit(void);

/* core.c */
extern struct class *p2pdax_class;
extern dev_t p2pdax_devt;
struct inode *p2pdax_alloc_inode(void);
int p2pdax_id_alloc(struct xarray *xa, u32 *next, u32 max, const char *what);
int p2pdax_minor_get(void);
void p2pdax_minor_put(int minor);
void p2pdax_dev_unreleased(void);
void p2pdax_dev_released(void);

#endif /* _DAX_CORE_H */

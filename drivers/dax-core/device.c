// SPDX-License-Identifier: GPL-2.0
/*
 * p2pdax device objects: the per-tenant character devices a region is
 * carved into, their sysfs attributes (size, align, extents, label, ...)
 * and their lifetime.  Their memory is the allocator's (alloc.c), their
 * file operations are fault.c's.
 */
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include "compat.h"
#include "dax-core.h"

/* ---- sysfs ---------------------------------------------------------------- */

/*
 * The seed stopped being one (it got a size or a label): it is a device in
 * its own right, and a new seed is planted if there is free space.
 */
void __p2pdax_region_replant(struct p2pdax_region *region)
{
	struct p2pdax_dev *seed;

	lockdep_assert_held(&region->lock);
	region->seed = NULL;
	if (!__p2pdax_region_available(region))
		return;
	seed = __p2pdax_dev_create(region);
	if (IS_ERR(seed))
		dev_err(region->parent, "cannot plant a new seed: %pe\n", seed);
	else
		region->seed = seed;
}

/**
 * p2pdax_dev_resize() - grow or shrink a device, as a store to "size" does
 * @ddev: the device
 * @size: the new size in bytes, a multiple of the device's align
 *
 * See __p2pdax_dev_resize().  A seed that gets a size becomes a device in
 * its own right, and a new seed is planted if there is free space.
 *
 * Return: as __p2pdax_dev_resize().
 */
int p2pdax_dev_resize(struct p2pdax_dev *ddev, u64 size)
{
	struct p2pdax_region *region = ddev->region;
	int rc;

	mutex_lock(&ddev->resize_lock);
	mutex_lock(&region->lock);
	rc = __p2pdax_dev_resize(ddev, size);
	if (!rc && region->seed == ddev && ddev->size)
		__p2pdax_region_replant(region);
	mutex_unlock(&region->lock);
	mutex_unlock(&ddev->resize_lock);
	return rc;
}

static ssize_t size_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct p2pdax_dev *ddev = to_p2pdax_dev(dev);
	u64 size;

	mutex_lock(&ddev->region->lock);
	size = ddev->size;
	mutex_unlock(&ddev->region->lock);
	return sysfs_emit(buf, "%llu\n", size);
}

/* the variable a size change's uevent adds (the label's adds none) */
static char *p2pdax_size_env[] = { "P2PDAX_CHANGE=size", NULL };

static ssize_t size_store(struct device *dev, struct device_attribute *attr,
			  const char *buf, size_t len)
{
	struct p2pdax_dev *ddev = to_p2pdax_dev(dev);
	u64 size;
	int rc;

	rc = kstrtou64(buf, 0, &size);
	if (rc)
		return rc;
	rc = p2pdax_dev_resize(ddev, size);
	if (rc)
		return rc;
	/* for udev: p2pctl's CDI spec names the size */
	kobject_uevent_env(&dev->kobj, KOBJ_CHANGE, p2pdax_size_env);
	return len;
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
	struct p2pdax_dev *ddev = to_p2pdax_dev(dev);
	struct p2pdax_region *region = ddev->region;
	unsigned long align;
	int rc;

	rc = kstrtoul(buf, 0, &align);
	if (rc)
		return rc;
	if (align != PAGE_SIZE && align != SZ_2M && align != SZ_1G)
		return -EINVAL;
	if (align > region->align || align < region->min_align)
		return -EINVAL;

	mutex_lock(&ddev->resize_lock);
	mutex_lock(&region->lock);
	down_write(&ddev->fault_sem);
	if (ddev->dead)
		rc = -ENXIO;
	else if (ddev->size)
		rc = -EBUSY;
	else if (WARN_ON_ONCE(ddev->nr_extents))
		rc = -EBUSY;
	else
		WRITE_ONCE(ddev->align, align);
	up_write(&ddev->fault_sem);
	mutex_unlock(&region->lock);
	mutex_unlock(&ddev->resize_lock);
	return rc ? rc : len;
}
static DEVICE_ATTR_RW(align);

/* Physical addresses are for root only (0400). */
static ssize_t resource_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct p2pdax_dev *ddev = to_p2pdax_dev(dev);
	resource_size_t start = 0;

	mutex_lock(&ddev->region->lock);
	if (ddev->nr_extents)
		start = ddev->extents[0].res->start;
	mutex_unlock(&ddev->region->lock);
	return sysfs_emit(buf, "%#llx\n", (unsigned long long)start);
}
static DEVICE_ATTR_ADMIN_RO(resource);

/* One line per extent: "START-END PAGE_OFFSET", END inclusive. */
static ssize_t extents_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct p2pdax_dev *ddev = to_p2pdax_dev(dev);
	ssize_t n = 0;
	int i;

	mutex_lock(&ddev->region->lock);
	for (i = 0; i < ddev->nr_extents; i++) {
		struct p2pdax_extent *ext = &ddev->extents[i];

		n += sysfs_emit_at(buf, n, "%#llx-%#llx %lu\n",
				   (unsigned long long)ext->res->start,
				   (unsigned long long)ext->res->end,
				   ext->pgoff);
	}
	mutex_unlock(&ddev->region->lock);
	return n;
}
static DEVICE_ATTR_ADMIN_RO(extents);

/*
 * Labels: the stable name of a tenant's device, for udev
 * (/dev/p2pdax/by-label/LABEL) and p2pctl's layouts, since device numbers
 * are never reused.  p2pdax_label_lock protects every device's @label and
 * @label_node and the list of labelled devices; it nests inside
 * region->lock and takes nothing else.
 */
static DEFINE_MUTEX(p2pdax_label_lock);
static LIST_HEAD(p2pdax_labelled);

/* ASCII only: the kernel's isalnum() also takes Latin-1 letters. */
static bool p2pdax_label_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* 1-63 characters of [A-Za-z0-9._-], starting with a letter or digit. */
static bool p2pdax_label_valid(const char *label)
{
	const char *p;

	if (!p2pdax_label_alnum(label[0]))
		return false;
	for (p = label; *p; p++)
		if (!p2pdax_label_alnum(*p) && *p != '.' && *p != '_' && *p != '-')
			return false;
	return p - label <= P2PDAX_LABEL_MAX;
}

/*
 * Drop @ddev's label when it dies, so that the label can be given again,
 * and tell udev, so that /dev/p2pdax/by-label/ no longer leads to it.
 */
static void p2pdax_label_clear(struct p2pdax_dev *ddev)
{
	bool had;

	mutex_lock(&p2pdax_label_lock);
	had = ddev->label[0];
	list_del_init(&ddev->label_node);
	ddev->label[0] = 0;
	mutex_unlock(&p2pdax_label_lock);
	if (had)
		kobject_uevent(&ddev->dev.kobj, KOBJ_CHANGE);
}

static ssize_t label_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct p2pdax_dev *ddev = to_p2pdax_dev(dev);
	ssize_t n;

	mutex_lock(&p2pdax_label_lock);
	n = sysfs_emit(buf, "%s\n", ddev->label);
	mutex_unlock(&p2pdax_label_lock);
	return n;
}

/*
 * A label, for a device that has none.  EINVAL: malformed; EEXIST: taken;
 * EBUSY: the device holds memory or is open; EPERM: it has another label.
 *
 * A label says which tenant a device belongs to: udev gives its node to the
 * owner the saved layout has for the label, and container runtimes give a
 * container the node (and a device-cgroup rule for its number) by label.
 * Those grants outlive every open file (a container's rule lasts as long
 * as the container), so a device never changes hands: its label is given
 * once, while it holds no memory (size 0) and no file of it is open, and
 * stays until the device is deleted; a new tenant gets a new device, with a
 * number never used before.  Setting the label it already has changes
 * nothing.  A seed that gets a label stops being the seed (a new one is
 * planted), so that a label given to a seed that never grows can be
 * deleted with its device.
 */
static ssize_t label_store(struct device *dev, struct device_attribute *attr,
			   const char *buf, size_t len)
{
	struct p2pdax_dev *ddev = to_p2pdax_dev(dev);
	char label[P2PDAX_LABEL_MAX + 2];
	struct p2pdax_dev *other;
	bool changed = false;
	size_t n = len;
	int rc = 0;

	if (n && buf[n - 1] == '\n')
		n--;
	if (n > P2PDAX_LABEL_MAX || memchr(buf, 0, n))
		return -EINVAL;
	memcpy(label, buf, n);
	label[n] = 0;
	if (n && !p2pdax_label_valid(label))
		return -EINVAL;

	mutex_lock(&ddev->region->lock);
	mutex_lock(&p2pdax_label_lock);
	if (ddev->dead) {
		rc = -ENXIO;
		goto out;
	}
	list_for_each_entry(other, &p2pdax_labelled, label_node) {
		if (other != ddev && !strcmp(other->label, label)) {
			rc = -EEXIST;
			goto out;
		}
	}
	changed = strcmp(ddev->label, label);
	if (changed && ddev->label[0]) {
		rc = -EPERM;
		goto out;
	}
	if (changed && (ddev->size || atomic_read(&ddev->opens))) {
		rc = -EBUSY;
		goto out;
	}
	strscpy(ddev->label, label, sizeof(ddev->label));
	list_del_init(&ddev->label_node);
	if (n)
		list_add_tail(&ddev->label_node, &p2pdax_labelled);
out:
	mutex_unlock(&p2pdax_label_lock);
	if (!rc && changed && ddev->region->seed == ddev)
		__p2pdax_region_replant(ddev->region);
	mutex_unlock(&ddev->region->lock);
	if (rc)
		return rc;
	/* udev (re)makes /dev/p2pdax/by-label/ from P2PDAX_LABEL */
	if (changed)
		kobject_uevent(&dev->kobj, KOBJ_CHANGE);
	return len;
}
static DEVICE_ATTR_RW(label);

/**
 * p2pdax_dev_uevent() - the p2pdax class's uevent variables
 * @dev: a p2pdax device
 * @env: the uevent
 *
 * Adds P2PDAX_REGION, and P2PDAX_LABEL when the device has a label.
 *
 * Return: 0 or -ENOMEM.
 */
int p2pdax_dev_uevent(P2PDAX_CLASS_DEV *dev, struct kobj_uevent_env *env)
{
	struct p2pdax_dev *ddev = container_of(dev, struct p2pdax_dev, dev);
	int rc;

	rc = add_uevent_var(env, "P2PDAX_REGION=%d", ddev->region->id);
	mutex_lock(&p2pdax_label_lock);
	if (!rc && ddev->label[0])
		rc = add_uevent_var(env, "P2PDAX_LABEL=%s", ddev->label);
	mutex_unlock(&p2pdax_label_lock);
	return rc;
}

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

/**
 * p2pdax_holder_note() - remember that the current process maps @ddev
 * @ddev: the device being mapped
 *
 * A process already remembered keeps its entry; a new one takes the oldest.
 */
void p2pdax_holder_note(struct p2pdax_dev *ddev)
{
	pid_t tgid = task_tgid_nr(current);
	struct p2pdax_holder *h;
	int i;

	spin_lock(&ddev->holder_lock);
	for (i = 0; i < P2PDAX_HOLDERS; i++)
		if (ddev->holders[i].tgid == tgid)
			break;
	if (i == P2PDAX_HOLDERS) {
		i = ddev->next_holder;
		ddev->next_holder = (i + 1) % P2PDAX_HOLDERS;
	}
	h = &ddev->holders[i];
	h->tgid = tgid;
	get_task_comm(h->comm, current);
	spin_unlock(&ddev->holder_lock);
}

/**
 * p2pdax_holders_str() - "comm[pid], ..." of the processes that mapped @ddev
 * @ddev: the device
 * @buf: where to write, P2PDAX_HOLDERS_LEN bytes will do
 * @len: its size
 *
 * "nobody" if no process mapped the device.  They may have exited since;
 * a pin outlives its process only in a kernel object (a pipe, an RDMA
 * memory region shared with another process).
 */
void p2pdax_holders_str(struct p2pdax_dev *ddev, char *buf, size_t len)
{
	size_t n = 0;
	int i;

	buf[0] = 0;
	spin_lock(&ddev->holder_lock);
	for (i = 0; i < P2PDAX_HOLDERS && n < len; i++) {
		struct p2pdax_holder *h = &ddev->holders[i];

		if (h->tgid)
			n += scnprintf(buf + n, len - n, "%s%s[%d]", n ? ", " : "",
				       h->comm, h->tgid);
	}
	spin_unlock(&ddev->holder_lock);
	if (!n)
		strscpy(buf, "nobody", len);
}

/* "PID COMM" per process that mapped the device (root only) */
static ssize_t holders_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct p2pdax_dev *ddev = to_p2pdax_dev(dev);
	struct p2pdax_holder h[P2PDAX_HOLDERS];
	ssize_t n = 0;
	int i;

	spin_lock(&ddev->holder_lock);
	memcpy(h, ddev->holders, sizeof(h));
	spin_unlock(&ddev->holder_lock);
	for (i = 0; i < P2PDAX_HOLDERS; i++)
		if (h[i].tgid)
			n += sysfs_emit_at(buf, n, "%d %s\n", h[i].tgid, h[i].comm);
	return n;
}
static DEVICE_ATTR_ADMIN_RO(holders);

static struct attribute *p2pdax_dev_attrs[] = {
	&dev_attr_holders.attr,
	&dev_attr_size.attr,
	&dev_attr_align.attr,
	&dev_attr_resource.attr,
	&dev_attr_extents.attr,
	&dev_attr_region.attr,
	&dev_attr_numa_node.attr,
	&dev_attr_label.attr,
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

static void p2pdax_dev_release(struct device *dev)
{
	struct p2pdax_dev *ddev = to_p2pdax_dev(dev);
	struct p2pdax_region *region = ddev->region;

	/* Extents were given back by delete (size 0) or by teardown. */
	WARN_ON_ONCE(ddev->nr_extents);
	WARN_ON_ONCE(!list_empty(&ddev->label_node));
	/* every dma-buf holds a reference */
	WARN_ON_ONCE(!list_empty(&ddev->dmabufs));
	if (ddev->inode)
		iput(ddev->inode);
	p2pdax_minor_put(MINOR(dev->devt));
	xa_erase(&region->devnums, ddev->n);
	kfree(ddev);
	p2pdax_region_put(region);
	p2pdax_dev_released();
}

/**
 * __p2pdax_dev_create() - add a zero-size device to a region
 * @region: the region, locked
 *
 * Return: the device, registered and on region->devs, or an ERR_PTR().
 */
struct p2pdax_dev *__p2pdax_dev_create(struct p2pdax_region *region)
{
	struct p2pdax_dev *ddev;
	struct inode *inode;
	int n, minor, rc;

	lockdep_assert_held(&region->lock);
	if (region->dead)
		return ERR_PTR(-ENXIO);

	ddev = kzalloc(sizeof(*ddev), GFP_KERNEL);
	if (!ddev)
		return ERR_PTR(-ENOMEM);
	n = p2pdax_id_alloc(&region->devnums, &region->next_n, INT_MAX,
			    "device");
	if (n < 0) {
		kfree(ddev);
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

	ddev->n = n;
	ddev->inode = inode;
	ddev->region = region;
	ddev->align = max(min_t(unsigned long, region->align, SZ_2M),
			  region->min_align);
	mutex_init(&ddev->resize_lock);
	init_rwsem(&ddev->fault_sem);
	mutex_init(&ddev->zero_lock);
	INIT_LIST_HEAD(&ddev->list);
	INIT_LIST_HEAD(&ddev->label_node);
	spin_lock_init(&ddev->holder_lock);
	mutex_init(&ddev->dmabuf_lock);
	INIT_LIST_HEAD(&ddev->dmabufs);
	p2pdax_region_get(region);

	/* From here on, put_device() undoes everything above. */
	p2pdax_dev_unreleased();
	device_initialize(&ddev->dev);
	ddev->dev.class = p2pdax_class;
	ddev->dev.parent = region->parent;
	ddev->dev.devt = MKDEV(MAJOR(p2pdax_devt), minor);
	ddev->dev.groups = p2pdax_dev_groups;
	ddev->dev.release = p2pdax_dev_release;
	rc = dev_set_name(&ddev->dev, "p2pdax%d.%d", region->id, n);
	if (rc)
		goto err_put_device;

	cdev_init(&ddev->cdev, &p2pdax_fops);
	ddev->cdev.owner = THIS_MODULE;
	rc = cdev_device_add(&ddev->cdev, &ddev->dev);
	if (rc)
		goto err_put_device;

	list_add_tail(&ddev->list, &region->devs);
	return ddev;

err_put_device:
	put_device(&ddev->dev);
	return ERR_PTR(rc);
err_free_minor:
	p2pdax_minor_put(minor);
err_free_n:
	xa_erase(&region->devnums, n);
	kfree(ddev);
	return ERR_PTR(rc);
}

/**
 * __p2pdax_dev_delete() - take a zero-size, non-seed device off its region
 * @ddev: the device; its region is locked
 *
 * The caller unregisters it with p2pdax_dev_unregister() after unlocking.
 *
 * Return: 0, or -EBUSY if the device has size or is the seed.
 */
int __p2pdax_dev_delete(struct p2pdax_dev *ddev)
{
	lockdep_assert_held(&ddev->region->lock);
	if (ddev->size || ddev->region->seed == ddev)
		return -EBUSY;
	__p2pdax_dev_kill(ddev);
	list_del_init(&ddev->list);
	return 0;
}

/**
 * __p2pdax_dev_kill() - make a device dead: stores fail, faults SIGBUS
 * @ddev: the device; its region is locked
 *
 * Every user mapping of the device is zapped.  Its extents stay allocated
 * until __p2pdax_dev_trim(ddev, 0), once nothing pins them.
 */
void __p2pdax_dev_kill(struct p2pdax_dev *ddev)
{
	lockdep_assert_held(&ddev->region->lock);
	down_write(&ddev->fault_sem);
	WRITE_ONCE(ddev->dead, true);
	__p2pdax_revoke(ddev, 0, 0);
	up_write(&ddev->fault_sem);
	p2pdax_label_clear(ddev);
}

/**
 * p2pdax_dev_unregister() - remove a device's node and sysfs directory
 * @ddev: a device already taken off its region
 *
 * Must not be called with the region locked: removing the sysfs directory
 * waits for stores in progress, and they take the region lock.  Open files
 * keep the object (but not its memory) alive until they are closed.
 */
void p2pdax_dev_unregister(struct p2pdax_dev *ddev)
{
	cdev_device_del(&ddev->cdev, &ddev->dev);
	put_device(&ddev->dev);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * dax-core module glue: the p2pdax class, the character device numbers and
 * a pseudo filesystem that gives each device a private inode (an address
 * space to track, and zap, every user mapping of the device).
 */
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/idr.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>
#include <linux/wait.h>

#include "compat.h"
#include "dax-core.h"

#define P2PDAX_MAGIC	0x70327064	/* "p2pd" */
#define P2PDAX_MINORS	BIT(MINORBITS)

struct class *p2pdax_class;
dev_t p2pdax_devt;
static struct vfsmount *p2pdax_mnt;

/*
 * Minor numbers are handed out cyclically: a container runtime or a cgroup
 * rule that granted a deleted device's major:minor must not open the next
 * tenant's device.  A number comes back only after all 2^20 have been used
 * since the module was loaded (the wrap is logged).  The xarray's own lock
 * protects it and p2pdax_minor_next.
 */
static DEFINE_XARRAY_ALLOC(p2pdax_minors);
static u32 p2pdax_minor_next;

/**
 * p2pdax_id_alloc() - a number from @xa, never one handed out before
 * @xa: an allocating xarray (XA_FLAGS_ALLOC)
 * @next: the cursor of @xa's cyclic allocation
 * @max: the largest number
 * @what: for the message when the numbers wrap
 *
 * Return: the number, or a negative errno.
 */
int p2pdax_id_alloc(struct xarray *xa, u32 *next, u32 max, const char *what)
{
	u32 id;
	int rc;

	rc = xa_alloc_cyclic(xa, &id, xa_mk_value(0), XA_LIMIT(0, max), next,
			     GFP_KERNEL);
	if (rc < 0)
		return rc;
	if (rc == 1)
		pr_notice("p2pdax: %s numbers wrapped; freed numbers are reused from now on\n",
			  what);
	return id;
}

/*
 * Device objects not yet released.  A device's release runs when its last
 * reference goes, which can be after it was unregistered (a get_device()
 * holder; DEBUG_KOBJECT_RELEASE delays every release by seconds on purpose),
 * and it uses the pseudo filesystem, the minor numbers and this module's
 * code.  Module exit waits for the count to reach zero before tearing those
 * down.
 */
static atomic_t p2pdax_unreleased = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(p2pdax_released_wq);

/* a device object now exists that p2pdax_dev_released() will account for */
void p2pdax_dev_unreleased(void)
{
	atomic_inc(&p2pdax_unreleased);
}

/*
 * The last thing a device release does.  After the wake-up only the release
 * function's own return is left to run in this module's code: a window of a
 * few instructions against module unload that a module cannot close from
 * inside itself.
 */
void p2pdax_dev_released(void)
{
	if (atomic_dec_and_test(&p2pdax_unreleased))
		wake_up(&p2pdax_released_wq);
}

int p2pdax_minor_get(void)
{
	return p2pdax_id_alloc(&p2pdax_minors, &p2pdax_minor_next,
			       P2PDAX_MINORS - 1, "minor");
}

void p2pdax_minor_put(int minor)
{
	xa_erase(&p2pdax_minors, minor);
}

/*
 * A reload must not hand out a number from before it: the minors restart,
 * and the next dynamic major would be this one again, so a stale node or a
 * container's cgroup rule by major:minor would open a new tenant's device.
 * At unload the major stays registered, as "p2pdax-retired", without a
 * cdev behind it: opening one of its numbers gets ENXIO, and the next load
 * (of dax_core or of any other driver) gets another major.  That costs one
 * dynamic major per reload until reboot (the kernel has 148; a load that
 * finds none left fails with EBUSY) and a few bytes the kernel owns; the
 * name is copied, nothing points into this module.  A driver that took the
 * major between the unregister and this one keeps it (the window is a few
 * instructions): the load after it gets another one all the same.
 */
static void p2pdax_retire_major(void)
{
	if (register_chrdev_region(MKDEV(MAJOR(p2pdax_devt), 0), P2PDAX_MINORS,
				   "p2pdax-retired"))
		pr_warn("p2pdax: major %d could not be kept retired: a later driver may reuse it\n",
			MAJOR(p2pdax_devt));
}

/*
 * S_DAX makes the mm treat mappings of this inode as device-dax ones: huge
 * faults without THP's sysfs policy, and "special" huge entries that are
 * zapped without touching struct pages.  The file's own inode is a char
 * device, so long-term pins (RDMA) are still allowed.
 */
struct inode *p2pdax_alloc_inode(void)
{
	struct inode *inode = alloc_anon_inode(p2pdax_mnt->mnt_sb);

	if (!IS_ERR(inode))
		inode->i_flags |= S_DAX;
	return inode;
}

static int p2pdax_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, P2PDAX_MAGIC) ? 0 : -ENOMEM;
}

static struct file_system_type p2pdax_fs_type = {
	.name = "p2pdax",
	.init_fs_context = p2pdax_fs_init_fs_context,
	.kill_sb = kill_anon_super,
};

/* New device nodes are root:root 0600 until an administrator hands them out. */
static char *p2pdax_devnode(P2PDAX_CLASS_DEV *dev, umode_t *mode)
{
	if (mode)
		*mode = 0600;
	return NULL;
}

static int __init p2pdax_init(void)
{
	int rc;

	p2pdax_mnt = kern_mount(&p2pdax_fs_type);
	if (IS_ERR(p2pdax_mnt))
		return PTR_ERR(p2pdax_mnt);

	rc = alloc_chrdev_region(&p2pdax_devt, 0, P2PDAX_MINORS, "p2pdax");
	if (rc) {
		pr_err("p2pdax: no dynamic character major left (%d): every earlier load of dax_core keeps its own retired until reboot\n",
		       rc);
		goto err_unmount;
	}

	p2pdax_class = p2pdax_class_create("p2pdax");
	if (IS_ERR(p2pdax_class)) {
		rc = PTR_ERR(p2pdax_class);
		goto err_unregister_chrdev;
	}
	p2pdax_class->devnode = p2pdax_devnode;
	p2pdax_class->dev_uevent = p2pdax_dev_uevent;
	return 0;

err_unregister_chrdev:
	unregister_chrdev_region(p2pdax_devt, P2PDAX_MINORS);
err_unmount:
	kern_unmount(p2pdax_mnt);
	return rc;
}
module_init(p2pdax_init);

static void __exit p2pdax_exit(void)
{
	/*
	 * No region is left (iopmem is gone), but releases may be pending; a
	 * leaked reference would hold rmmod here, so say so.
	 */
	while (!wait_event_timeout(p2pdax_released_wq,
				   !atomic_read(&p2pdax_unreleased), 10 * HZ))
		pr_warn("p2pdax: unload waits for %d device releases\n",
			atomic_read(&p2pdax_unreleased));
	class_destroy(p2pdax_class);
	unregister_chrdev_region(p2pdax_devt, P2PDAX_MINORS);
	p2pdax_retire_major();
	kern_unmount(p2pdax_mnt);
	xa_destroy(&p2pdax_minors);
	p2pdax_regions_exit();
}
module_exit(p2pdax_exit);

MODULE_DESCRIPTION("p2pdax: carve peer-DMA memory regions into per-tenant devices");
MODULE_LICENSE("GPL");

// SPDX-License-Identifier: GPL-2.0
/*
 * p2pref: a test module, never shipped.  While it is loaded, the reference
 * count of the page at pfn= (its folio's head) is moved by add=; unloading
 * moves it back, if the page still exists.  With add=-2147483648 the count
 * is what 2^21 FOLL_PINs of a 4 KiB page leave after wrapping past
 * INT_MAX: tests/guest/pin-count.sh shows that dax-core treats any count
 * other than the idle one as busy.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/module.h>

static unsigned long pfn;
module_param(pfn, ulong, 0444);
MODULE_PARM_DESC(pfn, "a ZONE_DEVICE page frame number");

static int add;
module_param(add, int, 0444);
MODULE_PARM_DESC(add, "what to add to its reference count (not 0)");

static int __init p2pref_init(void)
{
	struct page *head;

	if (!add || !pfn_valid(pfn))
		return -EINVAL;
	head = compound_head(pfn_to_page(pfn));
	if (!is_zone_device_page(head))
		return -EINVAL;
	page_ref_add(head, add);
	pr_info("pfn %#lx: reference count %d\n", pfn, page_ref_count(head));
	return 0;
}

static void __exit p2pref_exit(void)
{
	struct page *head;

	if (!pfn_valid(pfn))
		return;
	head = compound_head(pfn_to_page(pfn));
	page_ref_sub(head, add);
	pr_info("pfn %#lx: reference count %d again\n", pfn, page_ref_count(head));
}

module_init(p2pref_init);
module_exit(p2pref_exit);
MODULE_DESCRIPTION("iopmem test: move a page's reference count");
MODULE_LICENSE("GPL");

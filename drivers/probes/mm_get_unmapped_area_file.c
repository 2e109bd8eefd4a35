// SPDX-License-Identifier: GPL-2.0
/*
 * Kbuild probe (compiled with -fsyntax-only, never linked): does
 * mm_get_unmapped_area() take the file first, with no mm argument?
 */
#include <linux/sched/mm.h>

unsigned long p2pdax_probe(struct file *filp);
unsigned long p2pdax_probe(struct file *filp)
{
	return mm_get_unmapped_area(filp, 0, 4096, 0, 0);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Kbuild probe (compiled with -fsyntax-only, never linked): does the core
 * mm map a PTE table through __pte_offset_map(), which (6.5 on) skips a
 * huge or devmap PMD instead of clearing it as "bad" (the page-table scans
 * of MADV_COLD and MADV_PAGEOUT, among others, go through it)?
 */
#include <linux/mm.h>
#include <linux/pgtable.h>

pte_t *p2pdax_probe(pmd_t *pmd, unsigned long addr, pmd_t *pmdval);
pte_t *p2pdax_probe(pmd_t *pmd, unsigned long addr, pmd_t *pmdval)
{
	return __pte_offset_map(pmd, addr, pmdval);
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * BAR selection and validation for iopmem.  Pure functions with no kernel
 * dependencies beyond fixed-width types, so the host-side unit tests
 * (tests/unit) compile this very header.
 */
#ifndef _IOPMEM_BAR_H
#define _IOPMEM_BAR_H

/* The smallest and the required alignment: one memory-hotplug subsection. */
#define IOPMEM_BAR_MIN		(2ULL << 20)

#define IOPMEM_NUM_BARS		6

/**
 * struct iopmem_bar - what iopmem needs to know of one BAR
 * @len: length in bytes; 0 when the BAR is not implemented
 * @start: bus/physical start address
 * @is_io: an I/O port BAR
 * @is_64: a 64-bit memory BAR
 * @prefetch: a prefetchable memory BAR
 */
struct iopmem_bar {
	unsigned long long start;
	unsigned long long len;
	bool is_io;
	bool is_64;
	bool prefetch;
};

enum iopmem_bar_verdict {
	IOPMEM_BAR_OK,
	IOPMEM_BAR_NO_INDEX,	/* index outside 0..5 */
	IOPMEM_BAR_MISSING,	/* the device does not implement that BAR */
	IOPMEM_BAR_IO,		/* an I/O port BAR */
	IOPMEM_BAR_TOO_SMALL,	/* smaller than IOPMEM_BAR_MIN */
	IOPMEM_BAR_MISALIGNED,	/* start or length not IOPMEM_BAR_MIN aligned */
};

static inline enum iopmem_bar_verdict
iopmem_bar_check(const struct iopmem_bar *bars, int idx)
{
	const struct iopmem_bar *b;

	if (idx < 0 || idx >= IOPMEM_NUM_BARS)
		return IOPMEM_BAR_NO_INDEX;
	b = &bars[idx];
	if (!b->len)
		return IOPMEM_BAR_MISSING;
	if (b->is_io)
		return IOPMEM_BAR_IO;
	if (b->len < IOPMEM_BAR_MIN)
		return IOPMEM_BAR_TOO_SMALL;
	if ((b->start | b->len) & (IOPMEM_BAR_MIN - 1))
		return IOPMEM_BAR_MISALIGNED;
	return IOPMEM_BAR_OK;
}

static inline const char *iopmem_bar_verdict_str(enum iopmem_bar_verdict v)
{
	switch (v) {
	case IOPMEM_BAR_OK:
		return "usable";
	case IOPMEM_BAR_NO_INDEX:
		return "is not a BAR index (0-5)";
	case IOPMEM_BAR_MISSING:
		return "is not implemented by the device";
	case IOPMEM_BAR_IO:
		return "is an I/O port BAR, not memory";
	case IOPMEM_BAR_TOO_SMALL:
		return "is smaller than 2 MiB";
	case IOPMEM_BAR_MISALIGNED:
		return "is not 2 MiB aligned";
	}
	return "is unusable";
}

/*
 * Default choice: the largest usable prefetchable memory BAR, 64-bit ones
 * first.  A non-prefetchable BAR is most likely registers, which tenants
 * would map and zero: it is used only when the administrator names it
 * (bar=).  Returns the index, or -1 when no prefetchable BAR is usable.
 */
static inline int iopmem_bar_pick(const struct iopmem_bar *bars)
{
	int i, best = -1;

	for (i = 0; i < IOPMEM_NUM_BARS; i++) {
		const struct iopmem_bar *b = &bars[i], *c;

		if (iopmem_bar_check(bars, i) != IOPMEM_BAR_OK || !b->prefetch)
			continue;
		if (best < 0) {
			best = i;
			continue;
		}
		c = &bars[best];
		if (b->is_64 != c->is_64 ? b->is_64 : b->len > c->len)
			best = i;
	}
	return best;
}

#endif /* _IOPMEM_BAR_H */

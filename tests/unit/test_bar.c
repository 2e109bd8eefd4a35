// SPDX-License-Identifier: GPL-2.0
/* Host-side unit tests of iopmem's BAR choice and validation (TAP). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../../drivers/iopmem/iopmem-bar.h"

static int n, failed;

static void ok(bool cond, const char *what)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++n, what);
	if (!cond)
		failed++;
}

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

int main(void)
{
	struct iopmem_bar b[IOPMEM_NUM_BARS];

	memset(b, 0, sizeof(b));
	/* ivshmem-plain: BAR0 256 B registers, BAR2 64-bit prefetchable */
	b[0] = (struct iopmem_bar){ .start = 0xfe800000, .len = 256 };
	b[2] = (struct iopmem_bar){ .start = 0xe0000000, .len = 256 * MiB,
				    .is_64 = true, .prefetch = true };
	ok(iopmem_bar_pick(b) == 2, "default picks the 64-bit prefetchable BAR");
	ok(iopmem_bar_check(b, 2) == IOPMEM_BAR_OK, "BAR 2 is usable");
	ok(iopmem_bar_check(b, 0) == IOPMEM_BAR_TOO_SMALL, "256 B BAR is too small");
	ok(iopmem_bar_check(b, 5) == IOPMEM_BAR_MISSING, "unimplemented BAR");
	ok(iopmem_bar_check(b, 6) == IOPMEM_BAR_NO_INDEX, "index 6 is no BAR");
	ok(iopmem_bar_check(b, -1) == IOPMEM_BAR_NO_INDEX, "index -1 is no BAR");

	/* a larger 32-bit BAR loses to a smaller 64-bit prefetchable one */
	b[1] = (struct iopmem_bar){ .start = 0x80000000, .len = 1 * GiB, .prefetch = true };
	ok(iopmem_bar_pick(b) == 2, "64-bit prefetchable preferred over larger 32-bit prefetchable");
	b[4] = (struct iopmem_bar){ .start = 0x400000000ULL, .len = 2 * GiB,
				    .is_64 = true, .prefetch = true };
	ok(iopmem_bar_pick(b) == 4, "largest 64-bit prefetchable BAR wins");

	/* I/O BAR */
	b[3] = (struct iopmem_bar){ .start = 0xc000, .len = 4 * MiB, .is_io = true };
	ok(iopmem_bar_check(b, 3) == IOPMEM_BAR_IO, "I/O BAR is refused");

	/* misaligned start or length */
	b[4].start = 0x400100000ULL;
	ok(iopmem_bar_check(b, 4) == IOPMEM_BAR_MISALIGNED, "start not 2 MiB aligned");
	ok(iopmem_bar_pick(b) == 2, "misaligned BAR is never picked");
	b[4].start = 0x400000000ULL;
	b[4].len = 3 * MiB;
	ok(iopmem_bar_check(b, 4) == IOPMEM_BAR_MISALIGNED, "length not 2 MiB aligned");
	b[4].len = 2 * MiB;
	ok(iopmem_bar_check(b, 4) == IOPMEM_BAR_OK, "exactly 2 MiB is usable");

	/*
	 * A non-prefetchable memory BAR (registers, most likely) is never
	 * picked, however large; bar= may still name it (iopmem_bar_check).
	 */
	memset(b, 0, sizeof(b));
	b[0] = (struct iopmem_bar){ .start = 0xc0000000, .len = 512 * MiB };
	ok(iopmem_bar_pick(b) == -1, "a non-prefetchable BAR alone: none picked");
	ok(iopmem_bar_check(b, 0) == IOPMEM_BAR_OK, "...but bar=0 may name it");
	b[2] = (struct iopmem_bar){ .start = 0xe0000000, .len = 4 * MiB, .prefetch = true };
	ok(iopmem_bar_pick(b) == 2, "a smaller 32-bit prefetchable BAR wins over non-prefetchable");
	b[4] = (struct iopmem_bar){ .start = 0x400000000ULL, .len = 8 * GiB, .is_64 = true };
	ok(iopmem_bar_pick(b) == 2, "...and over a larger 64-bit non-prefetchable one");

	/* nothing usable */
	memset(b, 0, sizeof(b));
	b[0] = (struct iopmem_bar){ .start = 0xfebfa000, .len = 4096 };
	b[1] = (struct iopmem_bar){ .start = 0xc000, .len = 256, .is_io = true };
	ok(iopmem_bar_pick(b) == -1, "no usable BAR gives -1");

	ok(strcmp(iopmem_bar_verdict_str(IOPMEM_BAR_IO), "is an I/O port BAR, not memory") == 0,
	   "verdict message");
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}

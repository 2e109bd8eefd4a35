// SPDX-License-Identifier: GPL-2.0
/*
 * p2pdax-tenant: what a tenant's program does with a p2pdax device
 * (p2pdax(4)): find its size, align and cache mode, map all of it, write
 * it, publish the writes to peers with msync(MS_SYNC), read them back, and
 * with --hold keep the mapping until standard input ends, then touch it
 * again: a device the administrator shrank or removed meanwhile answers
 * with SIGBUS.
 *
 *   cc -O2 -Wall -o p2pdax-tenant p2pdax-tenant.c
 *   p2pdax-tenant DEVICE [--hold]
 *
 * Exit status: 0 done, 1 an error, 2 bad usage, 3 the memory was revoked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static sigjmp_buf revoked;
static volatile uintptr_t bad_addr;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	bad_addr = (uintptr_t)si->si_addr;
	siglongjmp(revoked, 1);
}

/* one line of /sys/dev/char/MAJ:MIN/NAME (the device's sysfs directory) */
static int attr(const struct stat *st, const char *name, char *buf, size_t len)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/%s",
		 major(st->st_rdev), minor(st->st_rdev), name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	ok = fgets(buf, len, f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* the word at byte offset @off of the device: it says where it is */
static uint64_t word(uint64_t off)
{
	return 0x7032706400000000ULL ^ off;
}

int main(int argc, char **argv)
{
	char size_s[32], align_s[32], cache[16], c;
	volatile uint64_t *p;
	struct sigaction sa;
	uint64_t size, off;
	struct stat st;
	int fd;

	if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--hold"))) {
		fprintf(stderr, "usage: p2pdax-tenant DEVICE [--hold]\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	/* fstat's st_size is 0 for a character device: sysfs has the size */
	if (!S_ISCHR(st.st_mode) || attr(&st, "size", size_s, sizeof(size_s)) ||
	    attr(&st, "align", align_s, sizeof(align_s)) ||
	    attr(&st, "device/dax_region/cache_mode", cache, sizeof(cache))) {
		fprintf(stderr, "%s: not a p2pdax device\n", argv[1]);
		return 1;
	}
	size = strtoull(size_s, NULL, 0);
	printf("%s: %s bytes, align %s, cache %s\n", argv[1], size_s, align_s, cache);
	if (!size) {
		fprintf(stderr, "%s: no memory yet (size 0)\n", argv[1]);
		return 1;
	}
	if (read(fd, &c, 1) < 0)
		printf("read(): %s (a p2pdax device is only mmap()ed)\n", strerror(errno));

	/* MAP_SHARED, offset and length multiples of align: all of it here */
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "mmap: %s\n", strerror(errno));
		return 1;
	}
	close(fd);	/* the mapping keeps the device open */

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
	if (sigsetjmp(revoked, 1)) {
		printf("SIGBUS at offset %lu: the device's memory was taken back (shrink, delete or unbind)\n",
		       (unsigned long)(bad_addr - (uintptr_t)p));
		return 3;
	}

	/* the first touch of each block zeroes it in the kernel (once) */
	for (off = 0; off < size; off += 8)
		p[off / 8] = word(off);
	/* a NIC or drive reads the card, not the CPU's caches: publish */
	if (msync((void *)p, size, MS_SYNC)) {
		fprintf(stderr, "msync: %s\n", strerror(errno));
		return 1;
	}
	printf("wrote %lu bytes, msync(MS_SYNC) done: a peer may read them\n",
	       (unsigned long)size);
	for (off = 0; off < size; off += 8)
		if (p[off / 8] != word(off)) {
			fprintf(stderr, "offset %lu: read back %#lx\n",
				(unsigned long)off, (unsigned long)p[off / 8]);
			return 1;
		}
	printf("read back %lu bytes\n", (unsigned long)size);

	if (argc == 3) {
		printf("holding the mapping until standard input ends\n");
		fflush(stdout);
		while (read(0, &c, 1) > 0)
			;
		for (off = 0; off < size; off += 4096)
			p[off / 8] = word(off);
		printf("the mapping still works\n");
	}
	return 0;
}

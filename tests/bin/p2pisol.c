// SPDX-License-Identifier: GPL-2.0
/*
 * p2pisol: does a revocation leave any way into the revoked bytes, after
 * the mapping was changed by mprotect, mremap, madvise or fork?
 *
 *   p2pisol DEV SIZEFILE OP NEWSIZE
 *
 * Maps all of DEV (MAP_SHARED), writes every 4 KiB page (so the page tables
 * hold entries of the device's size), then changes the populated mapping:
 *
 *   none      nothing
 *   mprotect  read-only, then read-write again, and write every page again
 *   mremap    move it to another address (same alignment), write again
 *   madvise   MADV_DONTNEED, then write every page again (refault)
 *   madvise:ADVICE
 *             madvise(ADVICE) (cold, pageout, free, willneed, remove,
 *             populate_read, populate_write, hugepage, nohugepage, collapse,
 *             dontneed), then write every page again; the first line says
 *             what madvise returned ("advice cold: OK" or its errno name):
 *             a refused advice is as good as a harmless one
 *   fork      a child inherits the mapping, writes every page, and is the
 *             one that probes below (the parent revokes)
 *
 * Then the device is shrunk to NEWSIZE through SIZEFILE (0: everything is
 * revoked) and the process that holds the changed mapping probes, in place,
 * with a SIGBUS handler, one byte in every block of the whole mapping (a
 * block: 4 KiB in a mapping of up to 64 MiB, else 2 MiB, the largest entry
 * a device is mapped with, probed at a different 4 KiB page in each): below
 * NEWSIZE each must still read what it wrote, from NEWSIZE on each must
 * raise SIGBUS, and so must the mapping's last byte.  A zap that misses an
 * interior entry of the revoked range fails.  Output, one line each:
 * "op OK", "below: OK N/N" (N blocks read back; when NEWSIZE > 0),
 * "revoked: SIGBUS M/M" (M blocks), "end: SIGBUS"; a count that differs
 * (SIGBUS below NEWSIZE, a byte read or written above it) is a failure.
 * Exit 0 when the program ran (the caller checks the lines), 1 on a setup
 * failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static sigjmp_buf probe_env;

/* the madvise() advice named NAME, or -1 (numbers: the kernel's uapi) */
static int advice_num(const char *name)
{
	static const struct { const char *name; int advice; } advices[] = {
		{ "willneed", 3 }, { "dontneed", 4 }, { "free", 8 },
		{ "remove", 9 }, { "hugepage", 14 }, { "nohugepage", 15 },
		{ "cold", 20 }, { "pageout", 21 }, { "populate_read", 22 },
		{ "populate_write", 23 }, { "collapse", 25 },
	};
	size_t i;

	for (i = 0; i < sizeof(advices) / sizeof(advices[0]); i++)
		if (!strcmp(name, advices[i].name))
			return advices[i].advice;
	return -1;
}

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(probe_env, 1);
}

/* read (write < 0) or write one byte; "OK", "SIGBUS" or "WRONG" */
static const char *probe(volatile unsigned char *p, int write, unsigned char want)
{
	unsigned char got;

	if (sigsetjmp(probe_env, 1))
		return "SIGBUS";
	if (write >= 0) {
		*p = (unsigned char)write;
		return "OK";
	}
	got = *p;
	return got == want ? "OK" : "WRONG";
}

static uint64_t read_u64(const char *path)
{
	char buf[64] = "";
	FILE *f = fopen(path, "r");

	if (!f || !fgets(buf, sizeof(buf), f)) {
		perror(path);
		exit(1);
	}
	fclose(f);
	return strtoull(buf, NULL, 0);
}

static void write_pages(volatile unsigned char *p, uint64_t len, unsigned char v)
{
	uint64_t off;

	for (off = 0; off < len; off += 4096)
		p[off] = (unsigned char)(v ^ (off >> 12));
}

/* an address aligned to @align with @len bytes free after it */
static void *aligned_hole(uint64_t len, uint64_t align)
{
	char *r = mmap(NULL, len + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t a;

	if (r == MAP_FAILED)
		return NULL;
	a = ((uintptr_t)r + align - 1) & ~(uintptr_t)(align - 1);
	munmap(r, len + align);
	return (void *)a;
}

/* the block size probes use: see the head of this file */
static uint64_t probe_step(uint64_t size)
{
	return size <= (64ULL << 20) ? 4096 : 2ULL << 20;
}

/* the offset probed in block @i of @step bytes: a different page in each */
static uint64_t probe_off(uint64_t i, uint64_t step)
{
	return i * step + (i * 7919 % (step / 4096)) * 4096;
}

static void probes(volatile unsigned char *p, uint64_t size, uint64_t newsize)
{
	uint64_t step = probe_step(size), i, n, ok = 0;

	n = newsize / step;
	for (i = 0; i < n; i++) {
		uint64_t off = probe_off(i, step);

		ok += !strcmp(probe(p + off, -1, (unsigned char)(0x5a ^ (off >> 12))), "OK");
	}
	if (newsize)
		printf("below: OK %" PRIu64 "/%" PRIu64 "\n", ok, n);
	ok = 0;
	for (i = n; i < size / step; i++)
		ok += !strcmp(probe(p + probe_off(i, step), 0x77, 0), "SIGBUS");
	printf("revoked: SIGBUS %" PRIu64 "/%" PRIu64 "\n", ok, size / step - n);
	printf("end: %s\n", probe(p + size - 1, 0x77, 0));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int fd, sfd, go[2], done[2], status;
	volatile unsigned char *p;
	uint64_t size, newsize, align;
	char path[256], c, buf[32];
	struct sigaction sa;
	const char *op;
	pid_t child = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: p2pisol DEV SIZEFILE none|mprotect|mremap|madvise|madvise:ADVICE|fork NEWSIZE\n");
		return 2;
	}
	op = argv[3];
	newsize = strtoull(argv[4], NULL, 0);
	size = read_u64(argv[2]);
	snprintf(path, sizeof(path), "%.*s/align", (int)(strrchr(argv[2], '/') - argv[2]), argv[2]);
	align = read_u64(path);
	fd = open(argv[1], O_RDWR);
	sfd = open(argv[2], O_WRONLY);
	if (fd < 0 || sfd < 0 || !size || newsize >= size) {
		fprintf(stderr, "p2pisol: cannot open %s / %s, or bad sizes\n", argv[1], argv[2]);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGBUS, &sa, NULL);

	p = mmap(aligned_hole(size, align), size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	if (p == MAP_FAILED) {
		perror("p2pisol: mmap");
		return 1;
	}
	write_pages(p, size, 0x5a);

	if (!strcmp(op, "mprotect")) {
		if (mprotect((void *)p, size, PROT_READ) ||
		    mprotect((void *)p, size, PROT_READ | PROT_WRITE))
			goto op_failed;
	} else if (!strcmp(op, "mremap")) {
		void *to = aligned_hole(size, align);

		p = mremap((void *)p, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, to);
		if (p == MAP_FAILED)
			goto op_failed;
	} else if (!strcmp(op, "madvise")) {
		if (madvise((void *)p, size, MADV_DONTNEED))
			goto op_failed;
	} else if (!strncmp(op, "madvise:", 8)) {
		int advice = advice_num(op + 8);

		if (advice < 0) {
			fprintf(stderr, "p2pisol: unknown advice '%s'\n", op + 8);
			return 2;
		}
		printf("advice %s: %s\n", op + 8,
		       madvise((void *)p, size, advice) ? strerrorname_np(errno) : "OK");
	} else if (strcmp(op, "fork") && strcmp(op, "none")) {
		fprintf(stderr, "p2pisol: unknown OP '%s'\n", op);
		return 2;
	}
	write_pages(p, size, 0x5a);

	if (pipe(go) || pipe(done))
		return 1;
	if (!strcmp(op, "fork")) {
		child = fork();
		if (child < 0)
			return 1;
		if (child == 0) {
			write_pages(p, size, 0x5a);
			if (write(done[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
				_exit(4);
			probes(p, size, newsize);
			_exit(0);
		}
		if (read(done[0], &c, 1) != 1)
			return 1;
	}
	printf("op OK\n");
	fflush(stdout);

	snprintf(buf, sizeof(buf), "%" PRIu64, newsize);
	if (pwrite(sfd, buf, strlen(buf), 0) < 0) {
		printf("shrink: %s\n", strerrorname_np(errno));
		if (child)
			kill(child, SIGKILL);
		return 1;
	}
	if (child) {
		if (write(go[1], "g", 1) != 1)
			return 1;
		waitpid(child, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			printf("child: died (status %#x)\n", status);
	} else {
		probes(p, size, newsize);
	}
	return 0;

op_failed:
	printf("op %s: %s\n", op, strerrorname_np(errno));
	return 1;
}

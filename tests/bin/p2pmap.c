// SPDX-License-Identifier: GPL-2.0
/*
 * p2pmap: exercise a p2pdax device (or any file) through mmap for the tests.
 *
 *   p2pmap fill  DEV OFF LEN SEED [MAPLEN]
 *                                     write the pattern through a mapping
 *                                     (of MAPLEN bytes, default LEN)
 *   p2pmap check DEV OFF LEN SEED     verify it through a mapping
 *   p2pmap zero  DEV OFF LEN          verify that the range reads zero
 *   p2pmap fcheck FILE FOFF LEN SEED DOFF
 *                                     verify with pread(2) that FILE bytes
 *                                     [FOFF, FOFF+LEN) hold the pattern of
 *                                     device offsets [DOFF, DOFF+LEN)
 *   p2pmap ends  DEV SEED              map all of DEV (a p2pdax node) and write
 *                                     the pattern into the first and the last
 *                                     4 KiB page of every extent (from sysfs);
 *                                     print "N pages written"
 *   p2pmap fzero FILE FOFF LEN        verify with pread(2) that FILE bytes
 *                                     [FOFF, FOFF+LEN) are zero
 *   p2pmap touch DEV LEN              write one byte per 4 KiB page of a
 *                                     LEN mapping; print the minor faults
 *   p2pmap storm DEV LEN SECS [STATE] for SECS seconds: map LEN bytes,
 *                                     fault each 4 KiB page in, write them
 *                                     all again for up to 2 s, unmap; a SIGBUS
 *                                     or a failed mmap (the device is
 *                                     smaller now) starts again; print
 *                                     "whole N refused N revoked N
 *                                     mapfail N" (mappings faulted in
 *                                     whole; SIGBUS on a first fault / on
 *                                     a page already faulted in); with
 *                                     STATE, each whole mapping writes its
 *                                     count there, and STATE.stop ends it
 *   p2pmap mmap  DEV OFF LEN [private|ro|hint]
 *                                     try a mapping; print OK or the errno
 *   p2pmap revoke DEV SIZEFILE NEWSIZE
 *                                     map all of DEV and touch it, fork a
 *                                     child, shrink DEV to NEWSIZE through
 *                                     SIZEFILE, then have the child read the
 *                                     last page below NEWSIZE and write the
 *                                     first page above; print what the child
 *                                     got ("child: signal BUS" is expected)
 *   p2pmap dio read|write DEV OFF LEN BLK BOFF
 *                                     O_DIRECT I/O between the block device
 *                                     BLK at BOFF and DEV's mapping at OFF
 *                                     (read: BLK -> DEV; write: DEV -> BLK)
 *   p2pmap moved DEV LEN SEED         map LEN bytes untouched, mremap() them
 *                                     4 KiB off the device's alignment, then
 *                                     verify the pattern through the move
 *   p2pmap sync  DEV OFF LEN SEED     fill, msync(MS_SYNC) the mapping and
 *                                     fsync() DEV; print "msync OK"/"fsync OK"
 *                                     or the errno names
 *   p2pmap hold DEV LEN               map and write LEN bytes, print "mapped",
 *                                     wait for end of file on stdin, write
 *                                     again and print "OK" or "SIGBUS"
 *   p2pmap poison DEV OFF             map the 4 KiB page at OFF, write it,
 *                                     madvise(MADV_HWPOISON) it (root) and
 *                                     write it again: print "madvise OK" or
 *                                     the errno name, then "touched again" or
 *                                     "SIGBUS code N"
 *
 * The pattern is a function of the device offset of each 8-byte word, so a
 * range can be checked wherever it landed physically.  Exit 0 on success,
 * 1 on a mismatch or failure (with a message), 2 on bad usage.
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pattern.h"



static void *map(const char *path, uint64_t off, uint64_t len, int prot)
{
	int fd = open(path, prot & PROT_WRITE ? O_RDWR : O_RDONLY);
	void *p;

	if (fd < 0) {
		fprintf(stderr, "p2pmap: open %s: %s\n", path, strerror(errno));
		exit(1);
	}
	p = mmap(NULL, len, prot, MAP_SHARED, fd, off);
	if (p == MAP_FAILED) {
		fprintf(stderr, "p2pmap: mmap %s +%#" PRIx64 " len %#" PRIx64 ": %s\n",
			path, off, len, strerror(errno));
		exit(1);
	}
	close(fd);
	return p;
}

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static int cmd_fill(char **a, int argc)
{
	uint64_t off = num(a[1]), len = num(a[2]), seed = num(a[3]), i;
	uint64_t maplen = argc > 4 ? num(a[4]) : len;
	volatile uint64_t *p = map(a[0], off, maplen, PROT_READ | PROT_WRITE);

	for (i = 0; i < len / 8; i++)
		p[i] = pattern(seed, off + i * 8);
	return 0;
}

/* fill, then msync(MS_SYNC) the range and fsync() the file: what the
 * application does to hand a buffer to a peer */
static int cmd_sync(char **a)
{
	uint64_t off = num(a[1]), len = num(a[2]), seed = num(a[3]), i;
	volatile uint64_t *p = map(a[0], off, len, PROT_READ | PROT_WRITE);
	int fd = open(a[0], O_RDWR);

	for (i = 0; i < len / 8; i++)
		p[i] = pattern(seed, off + i * 8);
	if (msync((void *)p, len, MS_SYNC))
		printf("msync %s\n", strerrorname_np(errno));
	else
		printf("msync OK\n");
	if (fd < 0 || fsync(fd))
		printf("fsync %s\n", strerrorname_np(errno));
	else
		printf("fsync OK\n");
	return 0;
}

static int cmd_check(char **a, int zero)
{
	uint64_t off = num(a[1]), len = num(a[2]), seed = zero ? 0 : num(a[3]), i;
	volatile uint64_t *p = map(a[0], off, len, PROT_READ);

	for (i = 0; i < len / 8; i++) {
		uint64_t want = zero ? 0 : pattern(seed, off + i * 8);

		if (p[i] != want) {
			printf("mismatch at device offset %#" PRIx64 ": %#" PRIx64
			       " != %#" PRIx64 "\n", off + i * 8, p[i], want);
			return 1;
		}
	}
	return 0;
}

/* fcheck (@zero 0) and fzero (@zero 1): compare a file's bytes with pread(2) */
static int cmd_fcheck(char **a, int zero)
{
	uint64_t foff = num(a[1]), len = num(a[2]), seed = zero ? 0 : num(a[3]);
	uint64_t doff = zero ? 0 : num(a[4]), done = 0, i;
	static uint8_t buf[1 << 19];
	int fd = open(a[0], O_RDONLY);

	if (fd < 0) {
		fprintf(stderr, "p2pmap: open %s: %s\n", a[0], strerror(errno));
		return 1;
	}
	while (done < len) {
		size_t want = len - done < sizeof(buf) ? len - done : sizeof(buf);
		ssize_t n = pread(fd, buf, want, foff + done);

		if (n <= 0) {
			fprintf(stderr, "p2pmap: short read of %s at %#" PRIx64 "\n",
				a[0], foff + done);
			return 1;
		}
		/* byte by byte: ranges need not be word aligned */
		for (i = 0; i < (uint64_t)n; i++) {
			uint64_t d = doff + done + i;
			uint8_t want_b = zero ? 0 : pattern(seed, d & ~7ULL) >> (8 * (d & 7));

			if (buf[i] != want_b) {
				printf("mismatch in %s at file offset %#" PRIx64
				       " (device offset %#" PRIx64 ")\n",
				       a[0], foff + done + i, d);
				return 1;
			}
		}
		done += n;
	}
	if (zero)
		printf("%" PRIu64 " bytes zero\n", done);
	return 0;
}

static int cmd_ends(char **a)
{
	const char *name = strrchr(a[0], '/') ? strrchr(a[0], '/') + 1 : a[0];
	uint64_t seed = num(a[1]), size = 0, s, e, pg, offs[2], i;
	char path[256], line[128];
	volatile uint64_t *p;
	int k, n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/p2pdax/%s/size", name);
	f = fopen(path, "r");
	if (!f || !fgets(line, sizeof(line), f) || !(size = strtoull(line, NULL, 0))) {
		fprintf(stderr, "p2pmap ends: no size for %s\n", name);
		return 1;
	}
	fclose(f);
	p = map(a[0], 0, size, PROT_READ | PROT_WRITE);
	snprintf(path, sizeof(path), "/sys/class/p2pdax/%s/extents", name);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "p2pmap ends: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %" SCNu64, &s, &e, &pg) != 3)
			continue;
		offs[0] = pg * 4096;
		offs[1] = pg * 4096 + (e - s + 1) - 4096;
		for (k = 0; k < 2; k++) {
			for (i = 0; i < 4096 / 8; i++)
				p[(offs[k] + i * 8) / 8] = pattern(seed, offs[k] + i * 8);
			n++;
		}
	}
	fclose(f);
	printf("%d pages written\n", n);
	return 0;
}

static int cmd_touch(char **a)
{
	uint64_t len = num(a[1]), i;
	volatile char *p = map(a[0], 0, len, PROT_READ | PROT_WRITE);
	long before = minflt();

	for (i = 0; i < len; i += 4096)
		p[i] = 1;
	printf("%ld\n", minflt() - before);
	return 0;
}

static sigjmp_buf storm_env;

static void storm_sigbus(int sig)
{
	(void)sig;
	siglongjmp(storm_env, 1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Each mapping is faulted in once (one write per 4 KiB page), then written
 * again and again for up to 2 s: a SIGBUS in that second phase hit a page
 * the mapping had already faulted in, so only a revocation (a zap of a
 * live entry) can have raised it; a SIGBUS in the first is a fault refused
 * past the device's size.
 */
/* STATE (storm's 4th argument): "N" after each whole mapping; STATE.stop ends it */
static const char *storm_state;
static char storm_stop[4096];

static int storm_stopped(void)
{
	return storm_state && !access(storm_stop, F_OK);
}

static void storm_whole(uint64_t n)
{
	FILE *f;

	if (!storm_state)
		return;
	f = fopen(storm_state, "w");
	if (f) {
		fprintf(f, "%" PRIu64 "\n", n);
		fclose(f);
	}
}

static int cmd_storm(char **a, int argc)
{
	uint64_t len = num(a[1]), secs = num(a[2]), i;
	/* volatile: they live across siglongjmp() */
	volatile uint64_t whole = 0, refused = 0, revoked = 0, mapfail = 0;
	volatile char *volatile p = NULL;
	volatile int phase = 0;
	double end = now() + (double)secs, until;
	struct sigaction sa;
	int fd = open(a[0], O_RDWR);

	if (fd < 0) {
		fprintf(stderr, "p2pmap: open %s: %s\n", a[0], strerror(errno));
		return 1;
	}
	if (argc > 3) {
		storm_state = a[3];
		snprintf(storm_stop, sizeof(storm_stop), "%s.stop", a[3]);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = storm_sigbus;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGBUS, &sa, NULL);
	if (sigsetjmp(storm_env, 1)) {
		if (phase)
			revoked++;
		else
			refused++;
		munmap((void *)p, len);
	}
	while (now() < end && !storm_stopped()) {
		phase = 0;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			mapfail++;
			usleep(1000);
			continue;
		}
		for (i = 0; i < len; i += 4096)
			p[i] = 1;
		phase = 1;
		whole++;
		storm_whole(whole);
		until = now() + 2;
		do {
			for (i = 0; i < len; i += 4096)
				p[i] = 2;
		} while (now() < until && !storm_stopped());
		munmap((void *)p, len);
	}
	printf("whole %" PRIu64 " refused %" PRIu64 " revoked %" PRIu64 " mapfail %" PRIu64 "\n",
	       (uint64_t)whole, (uint64_t)refused, (uint64_t)revoked, (uint64_t)mapfail);
	return 0;
}

static int cmd_mmap(char **a, int argc)
{
	uint64_t off = num(a[1]), len = num(a[2]);
	const char *how = argc > 3 ? a[3] : "";
	int flags = MAP_SHARED, prot = PROT_READ | PROT_WRITE, fd;
	void *hint = NULL, *p;

	if (!strcmp(how, "private"))
		flags = MAP_PRIVATE;
	else if (!strcmp(how, "ro"))
		prot = PROT_READ;
	else if (!strcmp(how, "hint"))
		hint = (void *)0x7f0000001000UL;	/* deliberately misaligned */
	fd = open(a[0], prot & PROT_WRITE ? O_RDWR : O_RDONLY);
	if (fd < 0) {
		printf("%s\n", strerrorname_np(errno));
		return 1;
	}
	p = mmap(hint, len, prot, flags, fd, off);
	if (p == MAP_FAILED) {
		printf("%s\n", strerrorname_np(errno));
		return 1;
	}
	/* The address must honour the device's alignment (hint or not). */
	printf("OK %p\n", p);
	return 0;
}

static int cmd_revoke(char **a)
{
	int fd = open(a[0], O_RDWR), sfd, status, go[2];
	char keep;
	uint64_t newsize = num(a[2]);
	volatile char *p;
	struct stat st;
	char buf[64];
	uint64_t size;
	ssize_t n;
	pid_t pid;

	sfd = open(a[1], O_RDWR);
	if (fd < 0 || sfd < 0 || fstat(fd, &st)) {
		perror("p2pmap revoke: open");
		return 1;
	}
	n = pread(sfd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 1;
	buf[n] = 0;
	size = strtoull(buf, NULL, 0);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("p2pmap revoke: mmap");
		return 1;
	}
	/* fault both pages in, by reading: the data must stay untouched */
	keep = p[newsize - 4096];
	(void)p[newsize];
	if (pipe(go))
		return 1;
	pid = fork();
	if (pid == 0) {
		char c;

		close(go[1]);
		/* wait until the parent has shrunk the device */
		if (read(go[0], &c, 1) != 1)
			_exit(4);
		c = p[newsize - 4096];
		if (c != keep)
			_exit(3);
		p[newsize] = 1;	/* must raise SIGBUS */
		_exit(0);
	}
	snprintf(buf, sizeof(buf), "%" PRIu64, newsize);
	if (pwrite(sfd, buf, strlen(buf), 0) < 0) {
		printf("shrink failed: %s\n", strerrorname_np(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return 1;
	}
	if (write(go[1], "g", 1) != 1)
		return 1;
	waitpid(pid, &status, 0);
	if (WIFSIGNALED(status))
		printf("child: signal %s\n", sigabbrev_np(WTERMSIG(status)));
	else
		printf("child: exit %d\n", WEXITSTATUS(status));
	return 0;
}

static int cmd_dio(char **a)
{
	uint64_t off = num(a[2]), len = num(a[3]), boff = num(a[5]);
	uint64_t done = 0, size = 0;
	int rd = !strcmp(a[0], "read"), fd;
	char path[256], buf[64];
	FILE *f;
	char *p;

	if (!rd && strcmp(a[0], "write")) {
		fprintf(stderr, "p2pmap dio: read or write\n");
		return 2;
	}
	/* map the whole device: any sub-range then has a valid address */
	snprintf(path, sizeof(path), "/sys/class/p2pdax/%s/size",
		 strrchr(a[1], '/') ? strrchr(a[1], '/') + 1 : a[1]);
	f = fopen(path, "r");
	if (f && fgets(buf, sizeof(buf), f))
		size = strtoull(buf, NULL, 0);
	if (f)
		fclose(f);
	if (!size)
		size = off + len;
	p = map(a[1], 0, size, PROT_READ | PROT_WRITE);
	p += off;
	fd = open(a[4], (rd ? O_RDONLY : O_WRONLY) | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "p2pmap: open %s: %s\n", a[4], strerror(errno));
		return 1;
	}
	while (done < len) {
		ssize_t n = rd ? pread(fd, p + done, len - done, boff + done)
			       : pwrite(fd, p + done, len - done, boff + done);

		if (n <= 0) {
			fprintf(stderr, "p2pmap: O_DIRECT %s: %s\n", a[0],
				n ? strerror(errno) : "short transfer");
			return 1;
		}
		done += n;
	}
	if (!rd && fsync(fd)) {
		fprintf(stderr, "p2pmap: fsync: %s\n", strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}

static int cmd_moved(char **a)
{
	uint64_t len = num(a[1]), seed = num(a[2]), i;
	char *p = map(a[0], 0, len, PROT_READ | PROT_WRITE), *spot;
	volatile uint64_t *q;

	/* reserve room, then move the mapping one page into it */
	spot = mmap(NULL, len + (4UL << 20), PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (spot == MAP_FAILED)
		return 1;
	spot = (char *)(((uintptr_t)spot + (2UL << 20) - 1) & ~((2UL << 20) - 1)) + 4096;
	q = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, spot);
	if (q == MAP_FAILED) {
		printf("%s\n", strerrorname_np(errno));
		return 1;
	}
	for (i = 0; i < len / 8; i++) {
		if (q[i] != pattern(seed, i * 8)) {
			printf("mismatch at device offset %#" PRIx64 " after mremap\n", i * 8);
			return 1;
		}
	}
	return 0;
}

static sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(bus_jmp, 1);
}

static int cmd_hold(char **a)
{
	uint64_t len = num(a[1]), i;
	volatile char *p = map(a[0], 0, len, PROT_READ | PROT_WRITE);
	char buf[64];

	for (i = 0; i < len; i += 4096)
		p[i] = 1;
	printf("mapped\n");
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	signal(SIGBUS, on_sigbus);
	if (sigsetjmp(bus_jmp, 1)) {
		printf("SIGBUS\n");
		return 0;
	}
	for (i = 0; i < len; i += 4096)
		p[i] = 2;
	printf("OK\n");
	return 0;
}

static volatile int bus_code = -1;

static void on_sigbus_info(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	bus_code = si->si_code;
	siglongjmp(bus_jmp, 1);
}

static int cmd_poison(char **a)
{
	uint64_t off = num(a[1]);
	volatile char *p = map(a[0], off, 4096, PROT_READ | PROT_WRITE);
	struct sigaction sa;
	volatile int rc = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus_info;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
	if (!sigsetjmp(bus_jmp, 1)) {
		p[0] = 1;
		rc = madvise((void *)p, 4096, 100 /* MADV_HWPOISON */);
		printf("madvise %s\n", rc ? strerror(errno) : "OK");
		fflush(stdout);
		p[0] = 2;	/* the page must be gone */
		printf("touched again\n");
	}
	if (bus_code >= 0)
		printf("SIGBUS code %d\n", bus_code);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	char **a = argv + 2;
	int n = argc - 2;

	if (!strcmp(cmd, "fill") && (n == 4 || n == 5))
		return cmd_fill(a, n);
	if (!strcmp(cmd, "sync") && n == 4)
		return cmd_sync(a);
	if (!strcmp(cmd, "check") && n == 4)
		return cmd_check(a, 0);
	if (!strcmp(cmd, "zero") && n == 3)
		return cmd_check(a, 1);
	if (!strcmp(cmd, "fcheck") && n == 5)
		return cmd_fcheck(a, 0);
	if (!strcmp(cmd, "ends") && n == 2)
		return cmd_ends(a);
	if (!strcmp(cmd, "fzero") && n == 3)
		return cmd_fcheck(a, 1);
	if (!strcmp(cmd, "touch") && n == 2)
		return cmd_touch(a);
	if (!strcmp(cmd, "storm") && (n == 3 || n == 4))
		return cmd_storm(a, n);
	if (!strcmp(cmd, "mmap") && (n == 3 || n == 4))
		return cmd_mmap(a, n);
	if (!strcmp(cmd, "dio") && n == 6)
		return cmd_dio(a);
	if (!strcmp(cmd, "moved") && n == 3)
		return cmd_moved(a);
	if (!strcmp(cmd, "hold") && n == 2)
		return cmd_hold(a);
	if (!strcmp(cmd, "poison") && n == 2)
		return cmd_poison(a);
	if (!strcmp(cmd, "revoke") && n == 3)
		return cmd_revoke(a);
	fprintf(stderr, "usage: see the comment at the top of tests/bin/p2pmap.c\n");
	return 2;
}

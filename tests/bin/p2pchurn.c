// SPDX-License-Identifier: GPL-2.0
/*
 * p2pchurn: tenants touch memory that is being revoked and re-granted.
 *
 *   p2pchurn REGION_DIR SECONDS TENANTS
 *
 * REGION_DIR is a card's .../dax_region.  For each of TENANTS tenants
 * (1..8), a device is carved from the region's seed, and two threads run
 * for SECONDS:
 *
 *   - the resizer grows and shrinks the device by random amounts (at 4 KiB
 *     or 2 MiB alignment, so extents interleave with the other tenants'),
 *     and now and then shrinks it to 0, deletes it and carves a new one;
 *   - the toucher maps whatever the device is now and, page by page, reads
 *     the first and the last word and writes its own: every word it reads
 *     must be zero or its own (tenant id, device number, device offset),
 *     never another tenant's nor one this tenant wrote into an earlier
 *     device (device numbers are never reused).  A SIGBUS
 *     (its range was revoked under it) makes it map again.  After each
 *     pass it changes its mapping as a tenant may, racing the revocations:
 *     MADV_DONTNEED on a piece, mprotect read-only and back, mremap to a new
 *     address, or fork a child that checks every page the same way (and
 *     dies of SIGBUS when its range is revoked under it).
 *
 * So the revocation paths (shrink, delete) race with faults and accesses,
 * and every byte a tenant can see is checked.  Prints one line per tenant
 * and "violations: N"; exits 1 if N > 0 or nothing was touched.  The
 * devices it made are deleted at the end.
 *
 * P2PCHURN_PLANT=1 plants the fault the device number is there to catch:
 * on its first pass over a new device, a toucher first writes the words
 * of its previous device into it, as memory that was not scrubbed would
 * hold them; the run must then report violations.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TENANTS	8
#define STEP_4K		4096ULL
#define STEP_2M		(2ULL << 20)

struct tenant {
	int id;
	uint64_t align;
	char name[32];			/* p2pdaxR.N, under the seed lock */
	_Atomic int generation;		/* bumped when the device changes */
	pthread_mutex_t name_lock;	/* protects name */
	_Atomic uint64_t pages, sigbus, violations, resizes, recreates;
	_Atomic uint64_t mangles[4];		/* madvise, mprotect, mremap, fork */
};

static const char *region_dir;
static struct tenant tenants[MAX_TENANTS];
static int nr_tenants;
static _Atomic int stop;
/* taking the seed and sizing it is one step: no two tenants share a device */
static pthread_mutex_t seed_lock = PTHREAD_MUTEX_INITIALIZER;

static __thread sigjmp_buf touch_env;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(touch_env, 1);
}

static int sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int sysfs_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int dev_write(const char *name, const char *attr, uint64_t v)
{
	char p[256], val[32];

	snprintf(p, sizeof(p), "/sys/class/p2pdax/%s/%s", name, attr);
	snprintf(val, sizeof(val), "%" PRIu64, v);
	return sysfs_write(p, val);
}

static uint64_t dev_size(const char *name)
{
	char p[256], buf[32];

	snprintf(p, sizeof(p), "/sys/class/p2pdax/%s/size", name);
	return sysfs_read(p, buf, sizeof(buf)) ? 0 : strtoull(buf, NULL, 0);
}

/* carve a device for @t from the seed: 0 or -errno */
static int carve(struct tenant *t, uint64_t size)
{
	char p[256], seed[32];
	int rc;

	pthread_mutex_lock(&seed_lock);
	snprintf(p, sizeof(p), "%s/seed", region_dir);
	rc = sysfs_read(p, seed, sizeof(seed));
	if (!rc && !seed[0]) {
		snprintf(p, sizeof(p), "%s/create", region_dir);
		rc = sysfs_write(p, "1");
		if (!rc) {
			snprintf(p, sizeof(p), "%s/seed", region_dir);
			rc = sysfs_read(p, seed, sizeof(seed));
		}
	}
	if (!rc && !seed[0])
		rc = -ENOSPC;
	if (!rc)
		rc = dev_write(seed, "align", t->align);
	if (!rc)
		rc = dev_write(seed, "size", size);
	if (!rc) {
		pthread_mutex_lock(&t->name_lock);
		snprintf(t->name, sizeof(t->name), "%s", seed);
		pthread_mutex_unlock(&t->name_lock);
		atomic_fetch_add(&t->generation, 1);
	}
	pthread_mutex_unlock(&seed_lock);
	return rc;
}

/*
 * Shrink @t's device to 0 and delete it; 0 or -errno.  With @patience (the
 * end of the run), an EBUSY shrink is tried again for up to 5 s: a process
 * that is still exiting (a forked child killed by SIGBUS, a debug kernel's
 * slow exit) holds references to pages it already unmapped until its TLB
 * flush, which dax-core waits for only 50 ms (design.rst, "Pins").
 */
static int destroy(struct tenant *t, int patience)
{
	char p[256], name[32];
	int rc, tries = patience ? 100 : 1;

	pthread_mutex_lock(&t->name_lock);
	snprintf(name, sizeof(name), "%s", t->name);
	t->name[0] = 0;
	pthread_mutex_unlock(&t->name_lock);
	atomic_fetch_add(&t->generation, 1);
	if (!name[0])
		return 0;
	while ((rc = dev_write(name, "size", 0)) == -EBUSY && --tries)
		usleep(50000);
	if (rc)
		return rc;
	snprintf(p, sizeof(p), "%s/delete", region_dir);
	return sysfs_write(p, name);
}

/* the word tenant @tenant writes at @devoff of its device p2pdaxR.@devno */
static uint64_t word_of(int tenant, uint64_t devno, uint64_t devoff)
{
	return ((uint64_t)(0xa0 | tenant) << 56) | (devno & 0xffffff) << 32 |
	       (devoff & 0xffffffff);
}

/* N of p2pdaxR.N */
static uint64_t devno_of(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot ? strtoull(dot + 1, NULL, 10) : 0;
}

/* the words checked and written in each page: its first and its last */
#define LAST_WORD	(4096 - 8)

static void *resizer(void *arg)
{
	struct tenant *t = arg;
	unsigned int seedp = 0x1234567u * (t->id + 1);
	char name[32];

	while (!atomic_load(&stop)) {
		int r = rand_r(&seedp) % 16;
		uint64_t size;

		pthread_mutex_lock(&t->name_lock);
		snprintf(name, sizeof(name), "%s", t->name);
		pthread_mutex_unlock(&t->name_lock);
		if (!name[0] || r == 0) {
			destroy(t, 0);
			if (!carve(t, t->align * (1 + rand_r(&seedp) % 8)))
				atomic_fetch_add(&t->recreates, 1);
			continue;
		}
		size = t->align * (1 + rand_r(&seedp) % (t->align == STEP_2M ? 16 : 2048));
		if (!dev_write(name, "size", size))
			atomic_fetch_add(&t->resizes, 1);
		usleep(rand_r(&seedp) % 5000);
	}
	return NULL;
}

/*
 * A child of the toucher: the first and last words of every page must be
 * zero or the tenant's own.  Exit 0 (clean), 1 (a violation); SIGBUS kills
 * it.
 */
static void check_child(struct tenant *t, uint64_t devno, volatile uint64_t *p,
			uint64_t size)
{
	uint64_t off, w;

	signal(SIGBUS, SIG_DFL);
	for (off = 0; off < size; off += 4096) {
		for (w = off; w <= off + LAST_WORD; w += LAST_WORD) {
			uint64_t got = p[w / 8];

			if (got && got != word_of(t->id, devno, w))
				_exit(1);
		}
	}
	_exit(0);
}

/*
 * Change the mapping the way a tenant may, while the resizer revokes
 * under it; return where the mapping is now (mremap moves it).
 */
static volatile uint64_t *mangle(struct tenant *t, uint64_t devno,
				 volatile uint64_t *p, uint64_t size,
				 unsigned int *seedp)
{
	uint64_t off = (rand_r(seedp) % (size / t->align)) * t->align;
	int status;
	void *q;
	pid_t pid;

	switch (rand_r(seedp) % 4) {
	case 0:
		madvise((void *)p + off, t->align, MADV_DONTNEED);
		atomic_fetch_add(&t->mangles[0], 1);
		break;
	case 1:
		mprotect((void *)p, size, PROT_READ);
		mprotect((void *)p, size, PROT_READ | PROT_WRITE);
		atomic_fetch_add(&t->mangles[1], 1);
		break;
	case 2:
		q = mremap((void *)p, size, size, MREMAP_MAYMOVE);
		if (q != MAP_FAILED) {
			p = q;
			atomic_fetch_add(&t->mangles[2], 1);
		}
		break;
	default:
		pid = fork();
		if (pid == 0)
			check_child(t, devno, p, size);
		if (pid < 0 || waitpid(pid, &status, 0) != pid)
			break;
		atomic_fetch_add(&t->mangles[3], 1);
		if (WIFEXITED(status) && WEXITSTATUS(status)) {
			if (atomic_fetch_add(&t->violations, 1) < 5)
				fprintf(stderr, "tenant %d: a forked child read another's word\n",
					t->id);
		}
		break;
	}
	return p;
}

static void *toucher(void *arg)
{
	struct tenant *t = arg;
	/* volatile: they live across siglongjmp() */
	volatile uint64_t *volatile p = NULL;
	volatile uint64_t size = 0;
	volatile int fd = -1;
	char path[64], name[32];
	unsigned int seedp = 0x7654321u * (t->id + 1);
	struct sigaction sa;
	uint64_t off, w;
	volatile uint64_t devno = 0;	/* of the device mapped; lives across siglongjmp() */
	volatile uint64_t planted = 0;	/* P2PCHURN_PLANT: the device planted into */
	int plant = getenv("P2PCHURN_PLANT") && atoi(getenv("P2PCHURN_PLANT"));

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGBUS, &sa, NULL);

	while (!atomic_load(&stop)) {
		if (p)
			munmap((void *)p, size);
		if (fd >= 0)
			close(fd);
		p = NULL;
		fd = -1;
		pthread_mutex_lock(&t->name_lock);
		snprintf(name, sizeof(name), "%s", t->name);
		pthread_mutex_unlock(&t->name_lock);
		size = name[0] ? dev_size(name) : 0;
		snprintf(path, sizeof(path), "/dev/%s", name);
		if (!size || (fd = open(path, O_RDWR)) < 0) {
			usleep(1000);
			continue;
		}
		{
			void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

			if (m == MAP_FAILED)
				continue;
			p = m;
		}
		if (sigsetjmp(touch_env, 1)) {
			atomic_fetch_add(&t->sigbus, 1);
			continue;
		}
		if (plant && devno && devno != devno_of(name) && planted != devno_of(name)) {
			planted = devno_of(name);
			for (off = 0; off < size; off += 4096)
				for (w = off; w <= off + LAST_WORD; w += LAST_WORD)
					p[w / 8] = word_of(t->id, devno, w);
		}
		devno = devno_of(name);
		for (off = 0; off < size && !atomic_load(&stop); off += 4096) {
			for (w = off; w <= off + LAST_WORD; w += LAST_WORD) {
				uint64_t got = p[w / 8];

				if (got && got != word_of(t->id, devno, w) &&
				    atomic_fetch_add(&t->violations, 1) < 5)
					fprintf(stderr, "tenant %d: %s offset %#" PRIx64 " holds %#" PRIx64 "\n",
						t->id, name, w, got);
				p[w / 8] = word_of(t->id, devno, w);
			}
			atomic_fetch_add(&t->pages, 1);
		}
		if (!atomic_load(&stop))
			p = mangle(t, devno, p, size, &seedp);
	}
	if (p)
		munmap((void *)p, size);
	if (fd >= 0)
		close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t threads[2 * MAX_TENANTS];
	uint64_t violations = 0, pages = 0;
	int seconds, i, rc, left = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: p2pchurn REGION_DIR SECONDS TENANTS\n");
		return 2;
	}
	region_dir = argv[1];
	seconds = atoi(argv[2]);
	nr_tenants = atoi(argv[3]);
	if (seconds < 1 || nr_tenants < 1 || nr_tenants > MAX_TENANTS) {
		fprintf(stderr, "p2pchurn: 1-8 tenants, at least 1 second\n");
		return 2;
	}
	for (i = 0; i < nr_tenants; i++) {
		struct tenant *t = &tenants[i];

		t->id = i;
		t->align = i % 2 ? STEP_2M : STEP_4K;
		pthread_mutex_init(&t->name_lock, NULL);
		if (carve(t, t->align * 4)) {
			fprintf(stderr, "p2pchurn: cannot carve a device for tenant %d\n", i);
			return 1;
		}
	}
	for (i = 0; i < nr_tenants; i++) {
		pthread_create(&threads[2 * i], NULL, resizer, &tenants[i]);
		pthread_create(&threads[2 * i + 1], NULL, toucher, &tenants[i]);
	}
	sleep(seconds);
	atomic_store(&stop, 1);
	for (i = 0; i < 2 * nr_tenants; i++)
		pthread_join(threads[i], NULL);
	for (i = 0; i < nr_tenants; i++) {
		struct tenant *t = &tenants[i];

		printf("tenant %d (align %" PRIu64 "): %" PRIu64 " pages touched, %" PRIu64
		       " SIGBUS, %" PRIu64 " resizes, %" PRIu64 " re-carves, %" PRIu64
		       " madvise, %" PRIu64 " mprotect, %" PRIu64 " mremap, %" PRIu64
		       " forks, %" PRIu64 " violations\n",
		       t->id, t->align, atomic_load(&t->pages), atomic_load(&t->sigbus),
		       atomic_load(&t->resizes), atomic_load(&t->recreates),
		       atomic_load(&t->mangles[0]), atomic_load(&t->mangles[1]),
		       atomic_load(&t->mangles[2]), atomic_load(&t->mangles[3]),
		       atomic_load(&t->violations));
		violations += atomic_load(&t->violations);
		pages += atomic_load(&t->pages);
		rc = destroy(t, 1);
		if (rc) {
			printf("tenant %d: its device stays: %s\n", t->id, strerror(-rc));
			left++;
		}
	}
	printf("violations: %" PRIu64 "\n", violations);
	return violations || !pages || left ? 1 : 0;
}

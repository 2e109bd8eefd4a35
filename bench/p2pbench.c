// SPDX-License-Identifier: GPL-2.0
/*
 * p2pbench: the measurements behind `make bench`, for a p2pdax device or an
 * upstream device-dax device alike.  Each prints one line of key=value.
 *
 *   p2pbench faults DEV LEN          touch LEN bytes (one write per 4 KiB):
 *                                    minor faults and ns per fault
 *   p2pbench regmr DEV LEN REPS      ibv_reg_mr + ibv_dereg_mr of LEN bytes:
 *                                    median/min/max microseconds of reg
 *   p2pbench memcpy DEV LEN REPS     memcpy from DRAM into the mapping:
 *                                    median/min/max MB/s
 *   p2pbench memset DEV LEN REPS     memset of the mapping: median/min/max MB/s
 *   p2pbench provision REGION_DIR N  create N 4 KiB devices through sysfs and
 *                                    delete them: us per create and per delete
 *   p2pbench grow SIZE_FILE DEV LEN REPS
 *                                    size a device 0 -> LEN, map it and touch
 *                                    every 4 KiB (the kernel zeroes LEN as it
 *                                    is first mapped), unmap, size 0:
 *                                    median/min/max MB/s
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <infiniband/verbs.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int die(const char *what)
{
	fprintf(stderr, "p2pbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t num(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	if (*end || end == s) {
		fprintf(stderr, "p2pbench: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static void *map(const char *path, uint64_t len)
{
	int fd = open(path, O_RDWR);
	void *p;

	if (fd < 0)
		die(path);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	close(fd);
	return p;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* print "median=.. min=.. max=.." of @v[0..n) */
static void stats(const char *unit, double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	printf("%s_median=%.2f %s_min=%.2f %s_max=%.2f reps=%d\n",
	       unit, v[n / 2], unit, v[0], unit, v[n - 1], n);
}

static int cmd_faults(char **a)
{
	uint64_t len = num(a[1]), i;
	volatile char *p = map(a[0], len);
	struct rusage r0, r1;
	double t;
	long n;

	/* warm up the clock and rusage paths so only the touch faults count */
	t = now();
	getrusage(RUSAGE_SELF, &r0);
	getrusage(RUSAGE_SELF, &r1);
	getrusage(RUSAGE_SELF, &r0);
	t = now();
	for (i = 0; i < len; i += 4096)
		p[i] = 1;
	t = now() - t;
	getrusage(RUSAGE_SELF, &r1);
	n = r1.ru_minflt - r0.ru_minflt;
	printf("faults=%ld ns_per_fault=%.0f total_ms=%.1f\n", n,
	       n ? t * 1e9 / n : 0, t * 1e3);
	return 0;
}

static int cmd_regmr(char **a)
{
	uint64_t len = num(a[1]);
	int reps = (int)num(a[2]), i, n;
	char *p = map(a[0], len);
	struct ibv_device **list = ibv_get_device_list(&n);
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	double v[64];

	if (!list || n < 1) {
		fprintf(stderr, "p2pbench: no RDMA device\n");
		return 1;
	}
	ctx = ibv_open_device(list[0]);
	pd = ctx ? ibv_alloc_pd(ctx) : NULL;
	if (!pd)
		die("ibv_alloc_pd");
	if (reps > 64)
		reps = 64;
	for (i = 0; i < reps; i++) {
		struct ibv_mr *mr;
		double t = now();

		mr = ibv_reg_mr(pd, p, len, IBV_ACCESS_LOCAL_WRITE |
				IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ);
		v[i] = (now() - t) * 1e6;
		if (!mr)
			die("ibv_reg_mr");
		ibv_dereg_mr(mr);
	}
	stats("us", v, reps);
	return 0;
}

static int cmd_mem(char **a, int copy)
{
	uint64_t len = num(a[1]);
	int reps = (int)num(a[2]), i;
	char *p = map(a[0], len), *src = NULL;
	double v[64];

	if (copy) {
		src = malloc(len);
		if (!src)
			die("malloc");
		memset(src, 0x5a, len);
	}
	if (reps > 64)
		reps = 64;
	memset(p, 0, len);	/* fault everything in first */
	for (i = 0; i < reps; i++) {
		double t = now();

		if (copy)
			memcpy(p, src, len);
		else
			memset(p, i, len);
		v[i] = len / (now() - t) / 1e6;
	}
	stats("MBps", v, reps);
	return 0;
}

static int wr(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int rd(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return 0;
}

static int cmd_provision(char **a)
{
	int n = (int)num(a[1]), i;
	char (*names)[32] = calloc(n, 32), path[512], seed[32];
	double tc, td;

	if (!names)
		die("calloc");
	tc = now();
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/seed", a[0]);
		if (rd(path, seed, sizeof(seed)) || !seed[0]) {
			fprintf(stderr, "p2pbench: no seed after %d devices\n", i);
			return 1;
		}
		snprintf(names[i], 32, "%s", seed);
		snprintf(path, sizeof(path), "/sys/class/p2pdax/%s/align", seed);
		if (wr(path, "4096"))
			die(path);
		snprintf(path, sizeof(path), "/sys/class/p2pdax/%s/size", seed);
		if (wr(path, "4096"))
			die(path);
	}
	tc = now() - tc;
	td = now();
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/sys/class/p2pdax/%s/size", names[i]);
		if (wr(path, "0"))
			die(path);
		snprintf(path, sizeof(path), "%s/delete", a[0]);
		if (wr(path, names[i]))
			die(path);
	}
	td = now() - td;
	printf("n=%d us_per_create=%.1f us_per_delete=%.1f\n", n, tc * 1e6 / n,
	       td * 1e6 / n);
	return 0;
}

static int cmd_grow(char **a)
{
	uint64_t len = num(a[2]), off;
	int reps = (int)num(a[3]), i;
	char val[32];
	double v[64];

	if (reps > 64)
		reps = 64;
	snprintf(val, sizeof(val), "%" PRIu64, len);
	for (i = 0; i < reps; i++) {
		volatile char *p;
		double t = now();

		if (wr(a[0], val))
			die("grow");
		/* the kernel zeroes each block as it is first mapped */
		p = map(a[1], len);
		for (off = 0; off < len; off += 4096)
			p[off] = 1;
		v[i] = len / (now() - t) / 1e6;
		munmap((void *)p, len);
		if (wr(a[0], "0"))
			die("shrink");
	}
	stats("MBps", v, reps);
	return 0;
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "";
	char **a = argv + 2;
	int n = argc - 2;

	if (!strcmp(c, "faults") && n == 2)
		return cmd_faults(a);
	if (!strcmp(c, "regmr") && n == 3)
		return cmd_regmr(a);
	if (!strcmp(c, "memcpy") && n == 3)
		return cmd_mem(a, 1);
	if (!strcmp(c, "memset") && n == 3)
		return cmd_mem(a, 0);
	if (!strcmp(c, "provision") && n == 2)
		return cmd_provision(a);
	if (!strcmp(c, "grow") && n == 4)
		return cmd_grow(a);
	fprintf(stderr, "usage: see the comment at the top of bench/p2pbench.c\n");
	return 2;
}

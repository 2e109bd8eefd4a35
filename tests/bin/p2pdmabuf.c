// SPDX-License-Identifier: GPL-2.0
/*
 * p2pdmabuf: a tenant's dma-buf of a p2pdax device, moved by a real DMA
 * engine (QEMU's edu, through tests/kmod/p2pedu.ko's /dev/p2pedu).
 *
 *   p2pdmabuf export DEV OFF LEN [FLAGS] [ro]
 *         try P2PDAX_IOC_EXPORT_DMABUF on DEV (opened read-only with "ro");
 *         print "OK SIZE" (the dma-buf's size, from lseek) or the errno name
 *   p2pdmabuf run DEV OFF LEN MODE STEP...
 *         export [OFF, OFF+LEN) of DEV, import it into /dev/p2pedu as MODE
 *         (dynamic, pinned or nop2p; print the import's errno name if it
 *         fails) and run the steps, printing one line each:
 *           w:AT:N:SEED  edu DMAs p2pmap's pattern for SEED (of device
 *                        offsets OFF+AT...) into dma-buf bytes [AT, AT+N):
 *                        "w AT N: ok" or "w AT N: ERRNO"
 *           r:AT:N:SEED  edu DMAs dma-buf bytes [AT, AT+N) out and compares
 *                        them with the pattern (SEED 0: zeroes): "r AT N:
 *                        compared N bytes" or the first difference / errno
 *           status       "status invalidations N mapped N nents N dma
 *                        ADDR" (ADDR: the last mapping's first DMA address)
 *           wait         print "ready", wait for a line on stdin
 *           fence        add an unsignalled fence to the dma-buf (p2pedu's)
 *           signal       signal it
 *           closedev     close DEV (the dma-buf keeps what it needs)
 *           release      give the dma-buf back (detach, close the fd)
 *         Transfers go in pieces of 2048 bytes (never across a page, so
 *         never across two of the table's entries).
 *
 *   p2pdmabuf ibv DEV OFF LEN
 *         export [OFF, OFF+LEN) of DEV and register it with
 *         ibv_reg_dmabuf_mr() on the first RDMA device: print "OK" or the
 *         errno name (soft-RoCE cannot import dma-bufs: EOPNOTSUPP)
 *
 *   p2pdmabuf bench DEV LEN REPS
 *         bench P11: REPS times each, the time to give edu DMA access to
 *         LEN bytes of DEV (already faulted in) as a dma-buf (export,
 *         attach, map) and as a pinned mapping (mmap, pin_user_pages
 *         FOLL_LONGTERM, dma_map_sgtable: what ibv_reg_mr does), then edu's
 *         rate into each (4 pieces of 2048 bytes, in the first repetition);
 *         prints "buf_us_median=.. buf_us_min=.. buf_us_max=.. pin_us_...
 *         buf_KBps=.. pin_KBps=.." (buf=ERRNO when the dma-buf is refused)
 *
 * Exit 0 when every step ran (a step's failure is in its line), 1 on a
 * setup failure, 2 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "pattern.h"

#include <infiniband/verbs.h>

#include "../../include/uapi/linux/p2pdax.h"
#include "../kmod/p2pedu.h"

#define PIECE 2048


static uint8_t pattern_byte(uint64_t seed, uint64_t d)
{
	return seed ? pattern(seed, d & ~7ULL) >> (8 * (d & 7)) : 0;
}


static const char *ename(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "E?";
}

static int export(int fd, uint64_t off, uint64_t len, uint32_t flags)
{
	struct p2pdax_export_dmabuf arg = {
		.offset = off, .length = len, .flags = flags, .fd = -1,
	};

	if (ioctl(fd, P2PDAX_IOC_EXPORT_DMABUF, &arg))
		return -errno;
	return arg.fd;
}

static int cmd_export(int argc, char **argv)
{
	int ro = argc > 6 && !strcmp(argv[6], "ro");
	int fd = open(argv[2], ro ? O_RDONLY : O_RDWR), bfd;
	off_t size;

	if (fd < 0) {
		fprintf(stderr, "p2pdmabuf: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	bfd = export(fd, num(argv[3]), num(argv[4]),
		     argc > 5 ? num(argv[5]) : 0);
	if (bfd < 0) {
		printf("%s\n", ename(-bfd));
		return 0;
	}
	size = lseek(bfd, 0, SEEK_END);
	printf("OK %lld\n", (long long)size);
	return 0;
}

static int xfer(int edu, uint64_t at, uint64_t n, int to_buf, uint8_t *buf)
{
	uint64_t done;

	for (done = 0; done < n; ) {
		uint64_t len = PIECE - ((at + done) % PIECE);
		struct p2pedu_xfer x;

		if (len > n - done)
			len = n - done;
		x = (struct p2pedu_xfer){ .offset = at + done, .len = len,
			.buf = (uintptr_t)(buf + done), .to_buf = to_buf };
		if (ioctl(edu, P2PEDU_XFER, &x))
			return -errno;
		done += len;
	}
	return 0;
}

static int step(int edu, int *dev, int *bfd, uint64_t off, const char *s)
{
	unsigned long long at, n, seed;
	uint8_t *buf;
	uint64_t i;
	char op;
	int rc;

	if (!strcmp(s, "status")) {
		struct p2pedu_status st = {0};

		if (ioctl(edu, P2PEDU_STATUS, &st)) {
			printf("status %s\n", ename(errno));
			return 0;
		}
		printf("status invalidations %u mapped %u nents %u dma %#llx\n",
		       st.invalidations, st.mapped, st.nents,
		       (unsigned long long)st.dma_addr);
		return 0;
	}
	if (!strcmp(s, "wait")) {
		char line[16];

		printf("ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
		return 0;
	}
	if (!strcmp(s, "fence") || !strcmp(s, "signal")) {
		rc = ioctl(edu, P2PEDU_FENCE, s[0] == 'f') ? errno : 0;
		printf("%s %s\n", s, rc ? ename(rc) : "ok");
		return 0;
	}
	if (!strcmp(s, "closedev")) {
		close(*dev);
		*dev = -1;
		printf("closedev ok\n");
		return 0;
	}
	if (!strcmp(s, "release")) {
		rc = ioctl(edu, P2PEDU_RELEASE) ? errno : 0;
		if (*bfd >= 0)
			close(*bfd);
		*bfd = -1;
		printf("release %s\n", rc ? ename(rc) : "ok");
		return 0;
	}
	if (sscanf(s, "%c:%llu:%llu:%llu", &op, &at, &n, &seed) != 4 ||
	    (op != 'w' && op != 'r') || !n) {
		fprintf(stderr, "p2pdmabuf: bad step '%s'\n", s);
		return 2;
	}
	buf = malloc(n);
	if (!buf)
		return 1;
	if (op == 'w') {
		for (i = 0; i < n; i++)
			buf[i] = pattern_byte(seed, off + at + i);
		rc = xfer(edu, at, n, 0, buf);
		printf("w %llu %llu: %s\n", at, n, rc ? ename(-rc) : "ok");
	} else {
		memset(buf, 0xa5, n);
		rc = xfer(edu, at, n, 1, buf);
		if (rc) {
			printf("r %llu %llu: %s\n", at, n, ename(-rc));
		} else {
			for (i = 0; i < n; i++)
				if (buf[i] != pattern_byte(seed, off + at + i))
					break;
			if (i < n)
				printf("r %llu %llu: byte %llu is %#x, not %#x\n",
				       at, n, at + (unsigned long long)i, buf[i],
				       pattern_byte(seed, off + at + i));
			else
				printf("r %llu %llu: compared %llu bytes\n", at, n, n);
		}
	}
	fflush(stdout);
	free(buf);
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	uint64_t off = num(argv[3]), len = num(argv[4]);
	struct p2pedu_import imp = { .fd = -1 };
	int dev, edu, bfd, i, rc;

	if (!strcmp(argv[5], "dynamic"))
		imp.mode = P2PEDU_DYNAMIC;
	else if (!strcmp(argv[5], "pinned"))
		imp.mode = P2PEDU_PINNED;
	else if (!strcmp(argv[5], "nop2p"))
		imp.mode = P2PEDU_NO_P2P;
	else
		return 2;
	dev = open(argv[2], O_RDWR);
	edu = open("/dev/p2pedu", O_RDWR);
	if (dev < 0 || edu < 0) {
		fprintf(stderr, "p2pdmabuf: %s: %s\n",
			dev < 0 ? argv[2] : "/dev/p2pedu", strerror(errno));
		return 1;
	}
	bfd = export(dev, off, len, P2PDAX_EXPORT_CLOEXEC);
	if (bfd < 0) {
		fprintf(stderr, "p2pdmabuf: export: %s\n", ename(-bfd));
		return 1;
	}
	imp.fd = bfd;
	if (ioctl(edu, P2PEDU_IMPORT, &imp)) {
		printf("import %s\n", ename(errno));
		return 0;
	}
	printf("import ok\n");
	fflush(stdout);
	for (i = 6; i < argc; i++) {
		rc = step(edu, &dev, &bfd, off, argv[i]);
		if (rc)
			return rc;
	}
	return 0;
}

static int cmd_ibv(char **argv)
{
	uint64_t len = num(argv[4]);
	struct ibv_device **list;
	struct ibv_context *ctx;
	struct ibv_mr *mr;
	struct ibv_pd *pd;
	int dev, bfd, n;

	dev = open(argv[2], O_RDWR);
	if (dev < 0) {
		fprintf(stderr, "p2pdmabuf: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	bfd = export(dev, num(argv[3]), len, P2PDAX_EXPORT_CLOEXEC);
	if (bfd < 0) {
		fprintf(stderr, "p2pdmabuf: export: %s\n", ename(-bfd));
		return 1;
	}
	list = ibv_get_device_list(&n);
	if (!list || n < 1) {
		fprintf(stderr, "p2pdmabuf: no RDMA device\n");
		return 1;
	}
	ctx = ibv_open_device(list[0]);
	pd = ctx ? ibv_alloc_pd(ctx) : NULL;
	if (!pd) {
		fprintf(stderr, "p2pdmabuf: %s: cannot open it or allocate a PD\n",
			ibv_get_device_name(list[0]));
		return 1;
	}
	mr = ibv_reg_dmabuf_mr(pd, 0, len, 0, bfd, IBV_ACCESS_LOCAL_WRITE |
			       IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ);
	if (mr) {
		printf("OK\n");
		ibv_dereg_mr(mr);
	} else {
		printf("%s\n", ename(errno));
	}
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	ibv_free_device_list(list);
	return 0;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* edu's rate into what it holds now: 4 pieces of 2048 bytes, KB/s */
static double rate(int edu)
{
	static uint8_t buf[2048];
	double t0 = now_us();
	int i;

	for (i = 0; i < 4; i++)
		if (xfer(edu, i * 4096, sizeof(buf), 0, buf))
			return -1;
	return 4 * sizeof(buf) / 1024.0 / ((now_us() - t0) / 1e6);
}

static void report(const char *what, double *us, int reps)
{
	qsort(us, reps, sizeof(*us), cmp_double);
	printf("%s_us_median=%.0f %s_us_min=%.0f %s_us_max=%.0f ", what,
	       us[reps / 2], what, us[0], what, us[reps - 1]);
}

static int cmd_bench(char **argv)
{
	uint64_t len = num(argv[3]), reps = num(argv[4]), r;
	double buf_us[64], pin_us[64], buf_rate = -1, pin_rate = -1;
	int dev, edu, bfd, err = 0;

	if (!reps || reps > 64)
		return 2;
	dev = open(argv[2], O_RDWR);
	edu = open("/dev/p2pedu", O_RDWR);
	if (dev < 0 || edu < 0) {
		fprintf(stderr, "p2pdmabuf: cannot open %s or /dev/p2pedu\n", argv[2]);
		return 1;
	}
	for (r = 0; r < reps; r++) {
		struct p2pedu_import imp = { .mode = P2PEDU_DYNAMIC };
		struct p2pedu_user u = { .len = len };
		double t0 = now_us();
		void *p;

		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, dev, 0);
		u.addr = (uintptr_t)p;
		if (p == MAP_FAILED || ioctl(edu, P2PEDU_PIN_USER, &u)) {
			fprintf(stderr, "p2pdmabuf: mmap and pin: %s\n", strerror(errno));
			return 1;
		}
		pin_us[r] = now_us() - t0;
		if (!r)
			pin_rate = rate(edu);
		ioctl(edu, P2PEDU_RELEASE);
		munmap(p, len);

		if (err)
			continue;
		t0 = now_us();
		bfd = export(dev, 0, len, P2PDAX_EXPORT_CLOEXEC);
		imp.fd = bfd;
		if (bfd < 0) {
			err = -bfd;
			continue;
		}
		if (ioctl(edu, P2PEDU_IMPORT, &imp) || ioctl(edu, P2PEDU_MAP)) {
			err = errno;
			ioctl(edu, P2PEDU_RELEASE);
			close(bfd);
			continue;
		}
		buf_us[r] = now_us() - t0;
		if (!r)
			buf_rate = rate(edu);
		ioctl(edu, P2PEDU_RELEASE);
		close(bfd);
	}
	if (err)
		printf("buf=%s ", ename(err));
	else
		report("buf", buf_us, reps);
	report("pin", pin_us, reps);
	printf("buf_KBps=%.2f pin_KBps=%.2f\n", buf_rate, pin_rate);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "export") && argc >= 5 && argc <= 7)
		return cmd_export(argc, argv);
	if (!strcmp(cmd, "run") && argc >= 6)
		return cmd_run(argc, argv);
	if (!strcmp(cmd, "ibv") && argc == 5)
		return cmd_ibv(argv);
	if (!strcmp(cmd, "bench") && argc == 5)
		return cmd_bench(argv);
	fprintf(stderr, "usage: p2pdmabuf export DEV OFF LEN [FLAGS] [ro]\n"
		"       p2pdmabuf run DEV OFF LEN dynamic|pinned|nop2p STEP...\n"
		"       p2pdmabuf ibv DEV OFF LEN\n"
		"       p2pdmabuf bench DEV LEN REPS\n");
	return 2;
}

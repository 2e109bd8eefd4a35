// SPDX-License-Identifier: GPL-2.0
/*
 * p2prdma: RDMA into and out of a carved p2pdax device over an RC queue
 * pair in loopback (two QPs of one process on one port; soft-RoCE in the
 * tests).
 *
 *   p2prdma [-d IBDEV] [-s SIZE] [-o OFFSET] [-S SEED] MODE DEVICE
 *
 * The whole DEVICE is mapped and registered with ibv_reg_mr.  MODE:
 *   write    RDMA WRITE the pattern of device offsets [OFFSET, OFFSET+SIZE)
 *            from a DRAM MR into the device, then RDMA READ it back into
 *            DRAM and compare
 *   reverse  store the pattern into the device with the CPU, then RDMA
 *            WRITE it from the device (the source) into a DRAM MR and
 *            RDMA READ it from the device into another; compare both
 *   pastend  RDMA WRITE SIZE bytes at OFFSET, which reaches past the end
 *            of the device's MR: must complete with a remote access error
 *
 * The pattern is p2pmap's (tests/bin/p2pmap.c), a function of the device
 * offset of each 8-byte word, so a shell test can find it in the card's
 * host backing file.  Prints one result line; exit 0 on success.
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
#include <unistd.h>

#include "verbs.h"

#define fill pattern_fill

static int die(const char *what)
{
	verbs_die(what);
	return 1;
}

struct ctx {
	struct verbs_port port;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp[2];
};

static void setup(struct ctx *c, const char *name)
{
	int i;

	verbs_open(&c->port, name);
	c->pd = ibv_alloc_pd(c->port.ctx);
	c->cq = ibv_create_cq(c->port.ctx, 16, NULL, NULL, 0);
	if (!c->pd || !c->cq)
		die("PD/CQ");
	for (i = 0; i < 2; i++)
		c->qp[i] = verbs_qp(c->pd, c->cq);
	/* loopback: each QP is the other's peer, at the port's own GID */
	verbs_connect(c->qp[0], &c->port, c->qp[1]->qp_num, c->port.gid.raw, 0, 0);
	verbs_connect(c->qp[1], &c->port, c->qp[0]->qp_num, c->port.gid.raw, 0, 0);
}

/* one RDMA op from qp[0]; returns the completion status */
static enum ibv_wc_status rdma(struct ctx *c, enum ibv_wr_opcode op,
			       struct ibv_mr *lmr, void *laddr, uint32_t len,
			       struct ibv_mr *rmr, uint64_t raddr)
{
	return verbs_rdma(c->qp[0], c->cq, op, lmr->lkey, laddr, len, raddr, rmr->rkey);
}

/* move @len bytes in chunks the QP takes (messages up to 1 GiB) */
static enum ibv_wc_status rdma_all(struct ctx *c, enum ibv_wr_opcode op,
				   struct ibv_mr *lmr, uint8_t *laddr, uint64_t len,
				   struct ibv_mr *rmr, uint64_t raddr)
{
	const uint64_t chunk = 8ULL << 20;
	enum ibv_wc_status st = IBV_WC_SUCCESS;
	uint64_t done;

	for (done = 0; done < len && st == IBV_WC_SUCCESS; done += chunk) {
		uint64_t n = len - done < chunk ? len - done : chunk;

		st = rdma(c, op, lmr, laddr + done, (uint32_t)n, rmr, raddr + done);
	}
	return st;
}

static uint64_t num(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	if (*end || end == s) {
		fprintf(stderr, "p2prdma: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static uint64_t dev_size(const char *dev)
{
	char path[256], buf[64];
	const char *base = strrchr(dev, '/') ? strrchr(dev, '/') + 1 : dev;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/p2pdax/%s/size", base);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f))
		die(path);
	fclose(f);
	return strtoull(buf, NULL, 0);
}

int main(int argc, char **argv)
{
	uint64_t size = 4096, off = 0, seed = 1, dsize;
	const char *ibdev = NULL, *mode, *dev;
	struct ibv_mr *dmr, *src_mr, *dst_mr;
	uint8_t *map, *src, *dst;
	enum ibv_wc_status st;
	struct ctx c = { 0 };
	int opt, fd;

	while ((opt = getopt(argc, argv, "d:s:o:S:")) != -1) {
		switch (opt) {
		case 'd': ibdev = optarg; break;
		case 's': size = num(optarg); break;
		case 'o': off = num(optarg); break;
		case 'S': seed = num(optarg); break;
		default:
			fprintf(stderr, "usage: p2prdma [-d IBDEV] [-s SIZE] [-o OFFSET] [-S SEED] write|reverse|pastend DEVICE\n");
			return 2;
		}
	}
	if (optind + 2 != argc) {
		fprintf(stderr, "usage: p2prdma [-d IBDEV] [-s SIZE] [-o OFFSET] [-S SEED] write|reverse|pastend DEVICE\n");
		return 2;
	}
	mode = argv[optind];
	dev = argv[optind + 1];
	dsize = dev_size(dev);
	if (strcmp(mode, "pastend") && off + size > dsize) {
		fprintf(stderr, "p2prdma: range beyond the device\n");
		return 2;
	}

	fd = open(dev, O_RDWR);
	if (fd < 0)
		die(dev);
	map = mmap(NULL, dsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		die("mmap");
	src = aligned_alloc(4096, (size + 4095) & ~4095ULL);
	dst = aligned_alloc(4096, (size + 4095) & ~4095ULL);
	if (!src || !dst)
		die("malloc");
	setup(&c, ibdev);
	dmr = ibv_reg_mr(c.pd, map, dsize, IBV_ACCESS_LOCAL_WRITE |
			 IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ);
	if (!dmr)
		die("ibv_reg_mr on the device");
	src_mr = ibv_reg_mr(c.pd, src, size, IBV_ACCESS_LOCAL_WRITE |
			    IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ);
	dst_mr = ibv_reg_mr(c.pd, dst, size, IBV_ACCESS_LOCAL_WRITE |
			    IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ);
	if (!src_mr || !dst_mr)
		die("ibv_reg_mr on DRAM");

	if (!strcmp(mode, "write")) {
		fill(src, seed, off, size);
		st = rdma_all(&c, IBV_WR_RDMA_WRITE, src_mr, src, size, dmr,
			      (uintptr_t)map + off);
		if (st != IBV_WC_SUCCESS)
			goto bad_status;
		memset(dst, 0, size);
		st = rdma_all(&c, IBV_WR_RDMA_READ, dst_mr, dst, size, dmr,
			      (uintptr_t)map + off);
		if (st != IBV_WC_SUCCESS)
			goto bad_status;
		if (memcmp(src, dst, size) || memcmp(src, map + off, size)) {
			printf("mismatch after RDMA write/read\n");
			return 1;
		}
		printf("write ok: %" PRIu64 " bytes at %#" PRIx64 "\n", size, off);
	} else if (!strcmp(mode, "reverse")) {
		fill(map + off, seed, off, size);
		memset(dst, 0, size);
		/* the device as the local source of an RDMA WRITE into DRAM */
		st = rdma_all(&c, IBV_WR_RDMA_WRITE, dmr, map + off, size, dst_mr,
			      (uintptr_t)dst);
		if (st != IBV_WC_SUCCESS)
			goto bad_status;
		fill(src, seed, off, size);
		if (memcmp(src, dst, size)) {
			printf("mismatch: device -> DRAM write\n");
			return 1;
		}
		/* and as the remote source of an RDMA READ */
		memset(dst, 0, size);
		st = rdma_all(&c, IBV_WR_RDMA_READ, dst_mr, dst, size, dmr,
			      (uintptr_t)map + off);
		if (st != IBV_WC_SUCCESS)
			goto bad_status;
		if (memcmp(src, dst, size)) {
			printf("mismatch: device -> DRAM read\n");
			return 1;
		}
		printf("reverse ok: %" PRIu64 " bytes at %#" PRIx64 "\n", size, off);
	} else if (!strcmp(mode, "pastend")) {
		memset(src, 0xee, size);
		st = rdma(&c, IBV_WR_RDMA_WRITE, src_mr, src, (uint32_t)size, dmr,
			  (uintptr_t)map + off);
		printf("pastend: %s\n", ibv_wc_status_str(st));
		return st == IBV_WC_REM_ACCESS_ERR ? 0 : 1;
	} else {
		fprintf(stderr, "p2prdma: unknown mode %s\n", mode);
		return 2;
	}
	return 0;

bad_status:
	printf("completion error: %s\n", ibv_wc_status_str(st));
	return 1;
}

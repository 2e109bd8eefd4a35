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

static uint64_t pattern(uint64_t seed, uint64_t devoff)
{
	return (seed * 0x100000001b3ULL) ^ (devoff * 0x9e3779b97f4a7c15ULL);
}

/* bytes of the pattern for device range [off, off+len), any alignment */
static void fill(uint8_t *buf, uint64_t seed, uint64_t off, uint64_t len)
{
	uint64_t i;

	for (i = 0; i < len; i++) {
		uint64_t b = off + i, w = pattern(seed, b & ~7ULL);

		buf[i] = (uint8_t)(w >> (8 * (b & 7)));
	}
}

static int die(const char *what)
{
	fprintf(stderr, "p2prdma: %s: %s\n", what, strerror(errno));
	exit(1);
}

struct ctx {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp[2];
	union ibv_gid gid;
	int gid_index;
};

static void qp_connect(struct ctx *c, struct ibv_qp *qp, uint32_t dest)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT,
		.port_num = 1,
		.qp_access_flags = IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_LOCAL_WRITE,
	};

	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
			  IBV_QP_PORT | IBV_QP_ACCESS_FLAGS))
		die("QP to INIT");
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = IBV_MTU_1024;
	a.dest_qp_num = dest;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 12;
	a.ah_attr.is_global = 1;
	a.ah_attr.grh.dgid = c->gid;
	a.ah_attr.grh.sgid_index = c->gid_index;
	a.ah_attr.grh.hop_limit = 1;
	a.ah_attr.port_num = 1;
	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
			  IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
			  IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER))
		die("QP to RTR");
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.max_rd_atomic = 1;
	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
			  IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC))
		die("QP to RTS");
}

static void setup(struct ctx *c, const char *name)
{
	struct ibv_device **list;
	struct ibv_port_attr port;
	int n, i;

	list = ibv_get_device_list(&n);
	if (!list)
		die("ibv_get_device_list");
	for (i = 0; i < n; i++)
		if (!name || !strcmp(ibv_get_device_name(list[i]), name))
			break;
	if (i == n) {
		fprintf(stderr, "p2prdma: no RDMA device %s\n", name ? name : "");
		exit(1);
	}
	c->ctx = ibv_open_device(list[i]);
	if (!c->ctx)
		die("ibv_open_device");
	ibv_free_device_list(list);
	if (ibv_query_port(c->ctx, 1, &port))
		die("ibv_query_port");
	/* the IPv4-mapped GID (RoCE v2 over the veth's address) */
	c->gid_index = -1;
	for (i = 0; i < port.gid_tbl_len; i++) {
		union ibv_gid g;

		if (ibv_query_gid(c->ctx, 1, i, &g))
			continue;
		if (g.raw[10] == 0xff && g.raw[11] == 0xff) {
			c->gid = g;
			c->gid_index = i;
			break;
		}
	}
	if (c->gid_index < 0) {
		fprintf(stderr, "p2prdma: no IPv4 GID on port 1\n");
		exit(1);
	}
	c->pd = ibv_alloc_pd(c->ctx);
	c->cq = ibv_create_cq(c->ctx, 16, NULL, NULL, 0);
	if (!c->pd || !c->cq)
		die("PD/CQ");
	for (i = 0; i < 2; i++) {
		struct ibv_qp_init_attr qa = {
			.send_cq = c->cq,
			.recv_cq = c->cq,
			.qp_type = IBV_QPT_RC,
			.cap = { .max_send_wr = 4, .max_recv_wr = 4,
				 .max_send_sge = 1, .max_recv_sge = 1 },
		};

		c->qp[i] = ibv_create_qp(c->pd, &qa);
		if (!c->qp[i])
			die("ibv_create_qp");
	}
	qp_connect(c, c->qp[0], c->qp[1]->qp_num);
	qp_connect(c, c->qp[1], c->qp[0]->qp_num);
}

/* one RDMA op from qp[0]; returns the completion status */
static enum ibv_wc_status rdma(struct ctx *c, enum ibv_wr_opcode op,
			       struct ibv_mr *lmr, void *laddr, uint32_t len,
			       struct ibv_mr *rmr, uint64_t raddr)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)laddr, .length = len, .lkey = lmr->lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = 1, .sg_list = &sge, .num_sge = 1, .opcode = op,
		.send_flags = IBV_SEND_SIGNALED,
		.wr.rdma = { .remote_addr = raddr, .rkey = rmr->rkey },
	}, *bad;
	struct ibv_wc wc;
	int n;

	if (ibv_post_send(c->qp[0], &wr, &bad))
		die("ibv_post_send");
	do {
		n = ibv_poll_cq(c->cq, 1, &wc);
	} while (n == 0);
	if (n < 0)
		die("ibv_poll_cq");
	return wc.status;
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

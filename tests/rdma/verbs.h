/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the RDMA test programs (p2prdma, p2pnet) share: p2pmap's pattern,
 * opening a RoCE port at its IPv4 GID, moving an RC QP to RTS, and one
 * signalled RDMA operation.  Errors end the program (exit 2).
 */
#ifndef IOPMEM_TESTS_VERBS_H
#define IOPMEM_TESTS_VERBS_H

#include <errno.h>
#include <infiniband/verbs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern char *program_invocation_short_name;

static inline void verbs_die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
		errno ? strerror(errno) : "failed");
	exit(2);
}

/* p2pmap's pattern (tests/bin/p2pmap.c): a function of the device offset */
static inline uint64_t pattern(uint64_t seed, uint64_t devoff)
{
	return (seed * 0x100000001b3ULL) ^ (devoff * 0x9e3779b97f4a7c15ULL);
}

static inline uint8_t pattern_byte(uint64_t seed, uint64_t b)
{
	return (uint8_t)(pattern(seed, b & ~7ULL) >> (8 * (b & 7)));
}

/* bytes of the pattern for device range [off, off+len), any alignment */
static inline void pattern_fill(uint8_t *buf, uint64_t seed, uint64_t off, uint64_t len)
{
	uint64_t i;

	for (i = 0; i < len; i++)
		buf[i] = pattern_byte(seed, off + i);
}

struct verbs_port {
	struct ibv_context *ctx;
	union ibv_gid gid;
	int gid_index;
};

/*
 * Whether GID @index of @dev's port 1 is a RoCE v2 one (UDP/IP): the IPv4-
 * mapped GIDs of a RoCE v1 entry (mlx5 lists both) do not route.  Where
 * the kernel does not say (no gid_attrs), take it.
 */
static inline int verbs_gid_is_v2(const char *dev, int index)
{
	char path[256], type[32] = "";
	FILE *f;

	snprintf(path, sizeof(path),
		 "/sys/class/infiniband/%s/ports/1/gid_attrs/types/%d", dev, index);
	f = fopen(path, "r");
	if (!f)
		return 1;
	if (!fgets(type, sizeof(type), f))
		type[0] = 0;
	fclose(f);
	return !strncmp(type, "RoCE v2", 7);
}

/* open RDMA device @name (the first one if NULL), port 1, its RoCE v2 IPv4 GID */
static inline void verbs_open(struct verbs_port *p, const char *name)
{
	struct ibv_device **list;
	struct ibv_port_attr port;
	int n, i;

	list = ibv_get_device_list(&n);
	if (!list)
		verbs_die("ibv_get_device_list");
	for (i = 0; i < n; i++)
		if (!name || !strcmp(ibv_get_device_name(list[i]), name))
			break;
	if (i == n) {
		errno = ENODEV;
		verbs_die(name ? name : "no RDMA device");
	}
	p->ctx = ibv_open_device(list[i]);
	if (!p->ctx)
		verbs_die("ibv_open_device");
	ibv_free_device_list(list);
	if (ibv_query_port(p->ctx, 1, &port))
		verbs_die("ibv_query_port");
	/* the IPv4-mapped GID: RoCE v2 over the interface's address */
	p->gid_index = -1;
	for (i = 0; i < port.gid_tbl_len; i++) {
		union ibv_gid g;

		if (ibv_query_gid(p->ctx, 1, i, &g))
			continue;
		if (g.raw[10] == 0xff && g.raw[11] == 0xff &&
		    verbs_gid_is_v2(ibv_get_device_name(p->ctx->device), i)) {
			p->gid = g;
			p->gid_index = i;
			return;
		}
	}
	errno = ENOENT;
	verbs_die("no IPv4 GID on port 1");
}

/* an RC QP on @pd/@cq, in INIT, open to remote reads and writes */
static inline struct ibv_qp *verbs_qp(struct ibv_pd *pd, struct ibv_cq *cq)
{
	struct ibv_qp_init_attr qa = {
		.send_cq = cq,
		.recv_cq = cq,
		.qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = 4, .max_recv_wr = 4,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT,
		.port_num = 1,
		.qp_access_flags = IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_LOCAL_WRITE,
	};
	struct ibv_qp *qp = ibv_create_qp(pd, &qa);

	if (!qp)
		verbs_die("ibv_create_qp");
	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
			  IBV_QP_PORT | IBV_QP_ACCESS_FLAGS))
		verbs_die("QP to INIT");
	return qp;
}

/* INIT -> RTR -> RTS, connected to QP @dest_qpn at GID @dgid */
static inline void verbs_connect(struct ibv_qp *qp, const struct verbs_port *p,
				 uint32_t dest_qpn, const uint8_t dgid[16],
				 uint32_t rq_psn, uint32_t sq_psn)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTR,
		.path_mtu = IBV_MTU_1024,
		.dest_qp_num = dest_qpn,
		.rq_psn = rq_psn,
		.max_dest_rd_atomic = 1,
		.min_rnr_timer = 12,
		.ah_attr = {
			.is_global = 1,
			.grh = { .sgid_index = (uint8_t)p->gid_index, .hop_limit = 64 },
			.port_num = 1,
		},
	};

	memcpy(a.ah_attr.grh.dgid.raw, dgid, 16);
	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
			  IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
			  IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER))
		verbs_die("QP to RTR");
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	/* 4.096 us * 2^18 = 1 s per try: a TCG guest can stall that long */
	a.timeout = 18;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.sq_psn = sq_psn;
	a.max_rd_atomic = 1;
	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
			  IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC))
		verbs_die("QP to RTS");
}

/* one signalled RDMA @op from @qp, waited for on @cq: its completion status */
static inline enum ibv_wc_status verbs_rdma(struct ibv_qp *qp, struct ibv_cq *cq,
					    enum ibv_wr_opcode op, uint32_t lkey,
					    void *laddr, uint32_t len,
					    uint64_t raddr, uint32_t rkey)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)laddr, .length = len, .lkey = lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = 1, .sg_list = &sge, .num_sge = 1, .opcode = op,
		.send_flags = IBV_SEND_SIGNALED,
		.wr.rdma = { .remote_addr = raddr, .rkey = rkey },
	}, *bad;
	const struct timespec nap = { .tv_nsec = 200000 };
	struct timespec t0, t;
	struct ibv_wc wc;
	unsigned int spins = 0;
	int n;

	if (ibv_post_send(qp, &wr, &bad))
		verbs_die("ibv_post_send");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/*
	 * A completion, good or bad, must come: fail rather than hang.  Poll
	 * a while, then nap between polls: under TCG a spinning vCPU takes a
	 * host core from the guest (or the other guest) whose rxe must do the
	 * work that completes this one.
	 */
	while (!(n = ibv_poll_cq(cq, 1, &wc))) {
		if (++spins < 1000)
			continue;
		nanosleep(&nap, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 120) {
			errno = ETIMEDOUT;
			verbs_die("no completion of an RDMA operation in 120 s");
		}
	}
	if (n < 0)
		verbs_die("ibv_poll_cq");
	return wc.status;
}

#endif

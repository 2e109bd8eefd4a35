// SPDX-License-Identifier: GPL-2.0
/*
 * p2pnet: RDMA between two hosts into and out of carved p2pdax devices, over
 * RC queue pairs whose peers meet on a TCP connection (soft-RoCE over the
 * guests' network in the tests; any RoCE v2 port on real hosts).
 *
 *   p2pnet [-d IBDEV] serve PORT BUF
 *       expose BUF to one peer: register it (remote read and write), accept
 *       one TCP connection on PORT, send the peer its QP, address, rkey and
 *       length, and wait until the peer hangs up.
 *   p2pnet [-d IBDEV] connect BUF PEER[,PEER...] OP...
 *       connect one QP to each PEER (HOST:PORT, retried for up to 120 s
 *       while the peer is not yet listening), then run the OPs in order from
 *       the local BUF.  OP is KIND:Q:K:OFF:LEN[:SEED]: over the QP of peer Q,
 *       at offset OFF of the buffer peer K exposed, with peer K's rkey:
 *         w  fill local [OFF, OFF+LEN) with the pattern of SEED, RDMA WRITE it
 *         W  RDMA WRITE local [OFF, OFF+LEN) as it is (BUF's own bytes)
 *         r  RDMA READ into local [OFF, OFF+LEN), compare with SEED's pattern
 *       A "!" after KIND (w!, W!, r!) expects the op to fail with a remote
 *       access error (IBV_WC_REM_ACCESS_ERR) and the QP to be unusable after.
 *
 * BUF is a p2pdax device (the whole device mapped shared) or anon:SIZE (DRAM).
 * The pattern is p2pmap's (tests/bin/p2pmap.c) for the same offsets, so a
 * shell test finds the bytes in a card's host backing file with p2pmap
 * fcheck.  Prints one line per op ("ok"/"not ok"); exit 0 if all went as
 * expected.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <infiniband/verbs.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define MAX_PEERS 8

#include "verbs.h"

static void die(const char *what)
{
	verbs_die(what);
}

static void usage(void)
{
	fprintf(stderr, "usage: p2pnet [-d IBDEV] serve PORT BUF\n"
		"       p2pnet [-d IBDEV] connect BUF HOST:PORT[,HOST:PORT...] OP...\n");
	exit(2);
}

/* what each side tells the other, in network byte order on the wire */
struct wire {
	uint32_t qpn;
	uint32_t psn;
	uint8_t gid[16];
	uint64_t addr;
	uint64_t len;
	uint32_t rkey;
	uint32_t pad;
};

struct rdma {
	struct verbs_port port;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_mr *mr;
	uint8_t *buf;
	uint64_t len;
};

struct peer {
	int sock;
	struct ibv_qp *qp;
	struct wire remote;
};

static uint64_t num(const char *s)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		usage();
	switch (*end) {
	case 'K': v <<= 10; end++; break;
	case 'M': v <<= 20; end++; break;
	case 'G': v <<= 30; end++; break;
	}
	if (*end)
		usage();
	return v;
}

static void map_buf(struct rdma *r, const char *spec)
{
	struct stat st;
	int fd;

	if (!strncmp(spec, "anon:", 5)) {
		r->len = num(spec + 5);
		r->buf = mmap(NULL, r->len, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	} else {
		fd = open(spec, O_RDWR);
		if (fd < 0 || fstat(fd, &st))
			die(spec);
		/* a p2pdax node's size is in sysfs; st_size is 0 */
		r->len = 0;
		{
			char path[128], line[64];
			FILE *f;

			snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/size",
				 major(st.st_rdev), minor(st.st_rdev));
			f = fopen(path, "r");
			if (!f || !fgets(line, sizeof(line), f))
				die(path);
			fclose(f);
			r->len = strtoull(line, NULL, 0);
		}
		r->buf = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
	}
	if (!r->len || r->buf == MAP_FAILED)
		die("mmap");
}

static void rdma_open(struct rdma *r, const char *name)
{
	verbs_open(&r->port, name);
	r->pd = ibv_alloc_pd(r->port.ctx);
	r->cq = ibv_create_cq(r->port.ctx, 16, NULL, NULL, 0);
	if (!r->pd || !r->cq)
		die("PD/CQ");
	r->mr = ibv_reg_mr(r->pd, r->buf, r->len, IBV_ACCESS_LOCAL_WRITE |
			   IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE);
	if (!r->mr)
		die("ibv_reg_mr");
}

static void xfer(int sock, void *buf, size_t len, int out)
{
	uint8_t *b = buf;

	while (len) {
		ssize_t n = out ? write(sock, b, len) : read(sock, b, len);

		if (n <= 0) {
			if (!n)
				errno = ECONNRESET;
			die(out ? "send" : "receive");
		}
		b += n;
		len -= n;
	}
}

/* swap QP, address and key with the peer on @p->sock; connect the QP */
static void handshake(struct rdma *r, struct peer *p)
{
	struct wire me = { 0 }, w;
	uint32_t psn = ((uint32_t)getpid() * 7919u + (uint32_t)p->sock) & 0xffffff;

	p->qp = verbs_qp(r->pd, r->cq);
	me.qpn = htonl(p->qp->qp_num);
	me.psn = htonl(psn);
	memcpy(me.gid, r->port.gid.raw, 16);
	me.addr = htobe64((uintptr_t)r->buf);
	me.len = htobe64(r->len);
	me.rkey = htonl(r->mr->rkey);
	xfer(p->sock, &me, sizeof(me), 1);
	xfer(p->sock, &w, sizeof(w), 0);
	p->remote.qpn = ntohl(w.qpn);
	p->remote.psn = ntohl(w.psn);
	memcpy(p->remote.gid, w.gid, 16);
	p->remote.addr = be64toh(w.addr);
	p->remote.len = be64toh(w.len);
	p->remote.rkey = ntohl(w.rkey);
	verbs_connect(p->qp, &r->port, p->remote.qpn, p->remote.gid, p->remote.psn, psn);
	/* both QPs are ready to receive before either side posts */
	xfer(p->sock, "R", 1, 1);
	xfer(p->sock, &w, 1, 0);
}

static int cmd_serve(struct rdma *r, const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct peer p;
	uint64_t pnum = num(port);
	char c;
	int one = 1, ls;

	if (!pnum || pnum > 65535)
		usage();
	sa.sin_port = htons((uint16_t)pnum);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 1))
		die("listen");
	printf("# serving %" PRIu64 " bytes at 0x%" PRIxPTR " rkey 0x%x on port %s\n",
	       r->len, (uintptr_t)r->buf, r->mr->rkey, port);
	fflush(stdout);
	p.sock = accept(ls, NULL, NULL);
	if (p.sock < 0)
		die("accept");
	close(ls);
	handshake(r, &p);
	/* one-sided: nothing to do but wait for the peer to hang up */
	while (read(p.sock, &c, 1) > 0)
		;
	printf("ok - the peer is done\n");
	return 0;
}

static int dial(const char *hostport)
{
	char host[128], *colon;
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai;
	int i, s;

	snprintf(host, sizeof(host), "%s", hostport);
	colon = strrchr(host, ':');
	if (!colon)
		usage();
	*colon = 0;
	for (i = 0; i < 1200; i++) {
		if (!getaddrinfo(host, colon + 1, &hints, &ai)) {
			s = socket(AF_INET, SOCK_STREAM, 0);
			if (s >= 0 && !connect(s, ai->ai_addr, ai->ai_addrlen)) {
				freeaddrinfo(ai);
				return s;
			}
			if (s >= 0)
				close(s);
			freeaddrinfo(ai);
		}
		usleep(100000);
	}
	die(hostport);
	return -1;
}

/* one OP; returns 0 if it went as expected */
static int run_op(struct rdma *r, struct peer *peers, int npeers, const char *spec)
{
	const uint64_t chunk = 8ULL << 20;
	char kind, bang, buf[128], *f[7] = { NULL }, *save = NULL, *t;
	enum ibv_wc_status st = IBV_WC_SUCCESS;
	uint64_t off, len, seed = 0, done, i, bad = 0;
	struct peer *q, *k;
	int nf = 0;

	snprintf(buf, sizeof(buf), "%s", spec);
	for (t = strtok_r(buf, ":", &save); t && nf < 7; t = strtok_r(NULL, ":", &save))
		f[nf++] = t;
	if (nf < 5 || nf > 6 || t || !strchr("wWr", f[0][0]) || (f[0][1] && strcmp(f[0] + 1, "!")))
		usage();
	kind = f[0][0];
	bang = f[0][1] == '!';
	if (num(f[1]) >= (uint64_t)npeers || num(f[2]) >= (uint64_t)npeers)
		usage();
	q = &peers[num(f[1])];
	k = &peers[num(f[2])];
	off = num(f[3]);
	len = num(f[4]);
	if (kind != 'W')
		seed = f[5] ? num(f[5]) : (usage(), 0);
	else if (f[5])
		usage();
	if (off > r->len || len > r->len - off || !len) {
		fprintf(stderr, "p2pnet: %s: outside the local buffer (%" PRIu64 " bytes)\n",
			spec, r->len);
		return 1;
	}
	if (kind == 'w')
		for (i = 0; i < len; i++)
			r->buf[off + i] = pattern_byte(seed, off + i);
	else if (kind == 'r')
		memset(r->buf + off, 0, len);
	for (done = 0; done < len && st == IBV_WC_SUCCESS; done += chunk) {
		uint64_t n = len - done < chunk ? len - done : chunk;

		st = verbs_rdma(q->qp, r->cq, kind == 'r' ? IBV_WR_RDMA_READ : IBV_WR_RDMA_WRITE,
				r->mr->lkey, r->buf + off + done, (uint32_t)n,
				k->remote.addr + off + done, k->remote.rkey);
	}
	if (bang) {
		int ok = st == IBV_WC_REM_ACCESS_ERR;

		printf("%s - %s: %s (remote access error expected)\n", ok ? "ok" : "not ok",
		       spec, ibv_wc_status_str(st));
		return !ok;
	}
	if (st != IBV_WC_SUCCESS) {
		printf("not ok - %s: %s\n", spec, ibv_wc_status_str(st));
		return 1;
	}
	if (kind == 'r')
		for (i = 0; i < len; i++)
			if (r->buf[off + i] != pattern_byte(seed, off + i) && !bad++)
				printf("# first difference at offset %" PRIu64 ": 0x%02x, want 0x%02x\n",
				       off + i, r->buf[off + i], pattern_byte(seed, off + i));
	printf("%s - %s: %" PRIu64 " bytes%s%s\n", bad ? "not ok" : "ok", spec, len,
	       kind == 'r' ? " read and compared" : " written",
	       bad ? ", some differ" : "");
	return bad != 0;
}

static int cmd_connect(struct rdma *r, char *list, char **ops, int nops)
{
	struct peer peers[MAX_PEERS];
	char *save = NULL, *hp;
	int n = 0, i, rc = 0;

	for (hp = strtok_r(list, ",", &save); hp; hp = strtok_r(NULL, ",", &save)) {
		if (n == MAX_PEERS)
			usage();
		peers[n].sock = dial(hp);
		handshake(r, &peers[n]);
		printf("# connected to %s: %" PRIu64 " bytes, rkey 0x%x\n", hp,
		       peers[n].remote.len, peers[n].remote.rkey);
		n++;
	}
	for (i = 0; i < nops; i++)
		rc |= run_op(r, peers, n, ops[i]);
	for (i = 0; i < n; i++)
		close(peers[i].sock);
	return rc;
}

int main(int argc, char **argv)
{
	const char *ibdev = NULL;
	struct rdma r = { 0 };
	int opt;

	while ((opt = getopt(argc, argv, "+d:")) != -1) {
		if (opt != 'd')
			usage();
		ibdev = optarg;
	}
	argv += optind;
	argc -= optind;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[0], "serve")) {
		map_buf(&r, argv[2]);
		rdma_open(&r, ibdev);
		return cmd_serve(&r, argv[1]);
	}
	if (argc >= 4 && !strcmp(argv[0], "connect")) {
		map_buf(&r, argv[1]);
		rdma_open(&r, ibdev);
		return cmd_connect(&r, argv[2], argv + 3, argc - 3);
	}
	usage();
	return 2;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * p2ppin DEV LEN [OFF]: map LEN bytes of DEV at OFF, register them as an
 * RDMA memory region on the first verbs device (a long-term pin of every
 * page), print "pinned" and hold the registration until standard input
 * reaches end of file; then deregister and exit.  Errors go to stderr with
 * exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <infiniband/verbs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct ibv_device **list;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_mr *mr;
	size_t len;
	off_t off;
	char buf[64];
	void *p;
	int fd, n;

	if (argc < 3) {
		fprintf(stderr, "usage: p2ppin DEV LEN [OFF]\n");
		return 2;
	}
	len = strtoull(argv[2], NULL, 0);
	off = argc > 3 ? strtoll(argv[3], NULL, 0) : 0;
	fd = open(argv[1], O_RDWR);
	if (fd < 0) {
		fprintf(stderr, "p2ppin: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
	if (p == MAP_FAILED) {
		fprintf(stderr, "p2ppin: mmap: %s\n", strerror(errno));
		return 1;
	}
	list = ibv_get_device_list(&n);
	if (!list || n < 1) {
		fprintf(stderr, "p2ppin: no RDMA device\n");
		return 1;
	}
	ctx = ibv_open_device(list[0]);
	pd = ctx ? ibv_alloc_pd(ctx) : NULL;
	if (!pd) {
		fprintf(stderr, "p2ppin: cannot open %s\n", ibv_get_device_name(list[0]));
		return 1;
	}
	mr = ibv_reg_mr(pd, p, len, IBV_ACCESS_LOCAL_WRITE |
			IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ);
	if (!mr) {
		fprintf(stderr, "p2ppin: ibv_reg_mr: %s\n", strerror(errno));
		return 1;
	}
	printf("pinned\n");
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	if (ibv_dereg_mr(mr)) {
		fprintf(stderr, "p2ppin: ibv_dereg_mr failed\n");
		return 1;
	}
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	ibv_free_device_list(list);
	munmap(p, len);
	printf("released\n");
	return 0;
}

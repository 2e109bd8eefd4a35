// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side unit tests of p2pctl check's topology rules (tools/p2pctl/
 * topology.c) on fake sysfs trees: the verdicts a QEMU guest cannot show
 * (ACS redirect and egress control on a switch port, two host bridges, a
 * bus address offset, identity IOMMU domains) as well as the ones it can.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "topology.h"

static int n, failed;
static char root[PATH_MAX];

static void ok(int cond, const char *what)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++n, what);
	if (!cond)
		failed++;
}

static void sh(const char *fmt, ...)
{
	char cmd[2 * PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd)) {
		fprintf(stderr, "test_topology: '%s' failed\n", cmd);
		exit(1);
	}
}

/*
 * A PCI function at DIR (below root/devices): PCIe port TYPE, ACS control
 * ACS (-1: no ACS capability), readable config bytes CFGLEN (64 = not
 * root), BAR 2 at CPU address CPU and bus address BUS (0: none).
 */
static void dev(const char *dir, int type, int acs, int cfglen, uint64_t cpu, uint64_t bus)
{
	uint8_t c[4096] = { 0 };
	char p[PATH_MAX * 2];
	const char *pci = strrchr(dir, '/') + 1;
	FILE *f;
	int i;

	sh("mkdir -p %s/devices/%s", root, dir);
	sh("ln -sfn ../../../devices/%s %s/bus/pci/devices/%s", dir, root, pci);
	c[0] = 0x86; c[1] = 0x80;
	c[0x06] = 0x10;				/* capability list */
	c[0x34] = 0x40;
	c[0x40] = 0x10;				/* PCI Express */
	c[0x42] = (uint8_t)(type << 4) | 2;
	if (acs >= 0) {
		c[0x100] = 0x0d; c[0x102] = 0x01;	/* ACS, version 1, last */
		c[0x104] = 0x7f;
		c[0x106] = (uint8_t)acs;
	}
	if (bus) {
		c[0x18] = (uint8_t)(bus | 0xc);		/* 64-bit prefetchable */
		for (i = 1; i < 8; i++)
			c[0x18 + i] = (uint8_t)(bus >> (8 * i));
	}
	snprintf(p, sizeof(p), "%s/devices/%s/config", root, dir);
	f = fopen(p, "w");
	fwrite(c, 1, (size_t)cfglen, f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/devices/%s/resource", root, dir);
	f = fopen(p, "w");
	for (i = 0; i < 7; i++)
		if (i == 2 && cpu)
			fprintf(f, "0x%016llx 0x%016llx 0x000000000014220c\n",
				(unsigned long long)cpu, (unsigned long long)cpu + 0xfffffff);
		else
			fprintf(f, "0x0000000000000000 0x0000000000000000 0x0000000000000000\n");
	fclose(f);
}

static void group(const char *dir, int g, const char *type)
{
	sh("mkdir -p %s/kernel/iommu_groups/%d %s/class/iommu/dmar0", root, g, root);
	sh("echo %s > %s/kernel/iommu_groups/%d/type", type, root, g);
	sh("ln -sfn %s/kernel/iommu_groups/%d %s/devices/%s/iommu_group", root, g, root, dir);
}

static void fresh(void)
{
	sh("rm -rf %s && mkdir -p %s/bus/pci/devices %s/devices", root, root, root);
}

#define RP	"pci0000:00/0000:00:08.0"
#define UP	RP "/0000:01:00.0"
#define DN0	UP "/0000:02:00.0"
#define DN1	UP "/0000:02:01.0"
#define CARD	DN0 "/0000:03:00.0"
#define PEER	DN1 "/0000:04:00.0"

/* card and peer below one switch; ACS control of the two downstream ports */
static void switch_tree(int acs0, int acs1)
{
	fresh();
	dev(RP, TOPO_ROOT_PORT, 0, 4096, 0, 0);
	dev(UP, TOPO_UPSTREAM, -1, 4096, 0, 0);
	dev(DN0, TOPO_DOWNSTREAM, acs0, 4096, 0, 0);
	dev(DN1, TOPO_DOWNSTREAM, acs1, 4096, 0, 0);
	dev(CARD, TOPO_ENDPOINT, -1, 4096, 0x8000000000ULL, 0x8000000000ULL);
	dev(PEER, TOPO_ENDPOINT, -1, 4096, 0, 0);
}

static int check(struct topo_report *r)
{
	return topo_check(root, "0000:03:00.0", 2, "0000:04:00.0", r);
}

static int has_reason(const struct topo_report *r, const char *s)
{
	int i;

	for (i = 0; i < r->nr_reasons; i++)
		if (strstr(r->reasons[i], s))
			return 1;
	return 0;
}

int main(void)
{
	struct topo_report r;
	struct topo_path p;

	snprintf(root, sizeof(root), "/tmp/test_topology.%d", getpid());

	switch_tree(-1, -1);
	ok(!topo_path(root, "0000:03:00.0", &p) && p.n == 4 &&
	   !strcmp(p.host_bridge, "pci0000:00") && p.nodes[1].type == TOPO_UPSTREAM &&
	   !strcmp(p.nodes[3].pci, "0000:03:00.0"), "path: host bridge, 4 nodes, their types");
	ok(!check(&r) && r.verdict == TOPO_DIRECT && !strcmp(r.route, "switch") &&
	   r.common == 2 && !r.redirect && !r.iommu.active, "one switch, no ACS: direct");
	ok(r.bus_known && r.cpu_addr == 0x8000000000ULL && r.bus_addr == r.cpu_addr,
	   "BAR 2: bus address read from config space = CPU address");
	ok(has_reason(&r, "a switch can forward"), "the reason names the switch");

	switch_tree(0, 0);
	ok(!check(&r) && r.verdict == TOPO_DIRECT, "ACS present, all off: direct");
	switch_tree(TOPO_ACS_RR | 0x1, 0);
	ok(!check(&r) && r.verdict == TOPO_VIA_ROOT && r.redirect &&
	   has_reason(&r, "0000:02:00.0 (downstream-port) has ACS P2P Request Redirect on"),
	   "Request Redirect on the card's port: via the root complex, the port named");
	switch_tree(0, TOPO_ACS_CR);
	ok(!check(&r) && r.verdict == TOPO_VIA_ROOT && r.redirect,
	   "Completion Redirect on the peer's port: via the root complex");
	switch_tree(TOPO_ACS_EC, 0);
	ok(!check(&r) && r.verdict == TOPO_NO && r.egress, "Egress Control on: no");

	/* the bridges' config space read as non-root (64 bytes) */
	fresh();
	dev(RP, TOPO_ROOT_PORT, 0, 4096, 0, 0);
	dev(UP, TOPO_UPSTREAM, -1, 4096, 0, 0);
	dev(DN0, TOPO_DOWNSTREAM, TOPO_ACS_RR, 64, 0, 0);
	dev(DN1, TOPO_DOWNSTREAM, 0, 4096, 0, 0);
	dev(CARD, TOPO_ENDPOINT, -1, 4096, 0x8000000000ULL, 0x8000000000ULL);
	dev(PEER, TOPO_ENDPOINT, -1, 4096, 0, 0);
	ok(!check(&r) && r.acs_unknown && has_reason(&r, "is not readable"),
	   "an unreadable bridge: its ACS is called unknown");

	/* separate root ports */
	fresh();
	dev("pci0000:00/0000:00:04.0", TOPO_ROOT_PORT, 0, 4096, 0, 0);
	dev("pci0000:00/0000:00:05.0", TOPO_ROOT_PORT, 0, 4096, 0, 0);
	dev("pci0000:00/0000:00:04.0/0000:03:00.0", TOPO_ENDPOINT, -1, 4096, 0xe0000000, 0xe0000000);
	dev("pci0000:00/0000:00:05.0/0000:04:00.0", TOPO_ENDPOINT, -1, 4096, 0, 0);
	ok(!check(&r) && r.verdict == TOPO_VIA_ROOT && !strcmp(r.route, "root-complex") &&
	   !r.common, "separate root ports: via the root complex");

	/* an IOMMU translating: always through the root complex */
	switch_tree(-1, -1);
	group(CARD, 7, "DMA-FQ");
	group(PEER, 7, "DMA-FQ");
	ok(!check(&r) && r.verdict == TOPO_VIA_ROOT && r.iommu.active &&
	   r.iommu.card_group == 7 && !strcmp(r.iommu.peer_domain, "DMA-FQ") &&
	   has_reason(&r, "share IOMMU group 7"),
	   "IOMMU translating, one group below an ACS-less switch: via the root complex, group shared");
	switch_tree(-1, -1);
	group(CARD, 3, "identity");
	group(PEER, 4, "identity");
	ok(!check(&r) && r.verdict == TOPO_DIRECT && r.iommu.active &&
	   has_reason(&r, "untranslated (identity)"), "IOMMU in passthrough: direct");

	/* a host bridge that offsets bus addresses */
	fresh();
	dev(RP, TOPO_ROOT_PORT, 0, 4096, 0, 0);
	dev(UP, TOPO_UPSTREAM, -1, 4096, 0, 0);
	dev(DN0, TOPO_DOWNSTREAM, -1, 4096, 0, 0);
	dev(DN1, TOPO_DOWNSTREAM, -1, 4096, 0, 0);
	dev(CARD, TOPO_ENDPOINT, -1, 4096, 0x4000000000ULL, 0x80000000ULL);
	dev(PEER, TOPO_ENDPOINT, -1, 4096, 0, 0);
	ok(!check(&r) && r.verdict == TOPO_NO && r.bus_addr == 0x80000000ULL &&
	   has_reason(&r, "is not its CPU physical address"),
	   "bus address != CPU address, no IOMMU: no");
	group(CARD, 1, "DMA");
	group(PEER, 2, "DMA");
	ok(!check(&r) && r.verdict == TOPO_VIA_ROOT, "the same with an IOMMU translating: via the root complex");

	/* two host bridges */
	fresh();
	dev("pci0000:00/0000:00:04.0", TOPO_ROOT_PORT, 0, 4096, 0, 0);
	dev("pci0000:80/0000:80:04.0", TOPO_ROOT_PORT, 0, 4096, 0, 0);
	dev("pci0000:00/0000:00:04.0/0000:03:00.0", TOPO_ENDPOINT, -1, 4096, 0xe0000000, 0xe0000000);
	dev("pci0000:80/0000:80:04.0/0000:04:00.0", TOPO_ENDPOINT, -1, 4096, 0, 0);
	ok(!check(&r) && r.verdict == TOPO_NO && !strcmp(r.route, "host-bridges") &&
	   has_reason(&r, "pci0000:80"), "different host bridges: no");

	/* not peers */
	switch_tree(-1, -1);
	ok(topo_check(root, "0000:03:00.0", 2, "0000:02:00.0", &r) == -ELOOP,
	   "a bridge above the card is not a peer (-ELOOP)");
	ok(topo_check(root, "0000:03:00.0", 2, "0000:03:00.0", &r) == -EINVAL,
	   "the card itself is not a peer (-EINVAL)");
	ok(topo_check(root, "0000:03:00.0", 2, "0000:09:00.0", &r) == -ENOENT,
	   "a device that does not exist (-ENOENT)");

	sh("rm -rf %s", root);
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side unit tests of p2pctl check's topology rules (tools/p2pctl/
 * topology.c) on fake sysfs trees: the verdicts a QEMU guest cannot show
 * (ACS redirect and egress control on a switch port, two host bridges, a
 * bus address offset, identity IOMMU domains, functions of one device, a
 * short DMA mask) as well as the ones it can.
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

static void die(const char *what)
{
	perror(what);
	exit(1);
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
 * A PCI function at DIR (below root/devices): PCIe port TYPE (TOPO_PCI:
 * conventional PCI), ACS control ACS (-1: no ACS capability), readable
 * config bytes CFGLEN (64 = not root, 256 = no ECAM), BAR 2 at CPU address
 * CPU and bus address BUS (0: none).
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
	if (type != TOPO_PCI) {			/* else conventional PCI */
		c[0x06] = 0x10;			/* capability list */
		c[0x34] = 0x40;
		c[0x40] = 0x10;			/* PCI Express */
		c[0x42] = (uint8_t)(type << 4) | 2;
	}
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
	if (!f || fwrite(c, 1, (size_t)cfglen, f) != (size_t)cfglen || fclose(f))
		die(p);
	snprintf(p, sizeof(p), "%s/devices/%s/resource", root, dir);
	f = fopen(p, "w");
	if (!f)
		die(p);
	for (i = 0; i < 7; i++)
		if (i == 2 && cpu)
			fprintf(f, "0x%016llx 0x%016llx 0x000000000014220c\n",
				(unsigned long long)cpu, (unsigned long long)cpu + 0xfffffff);
		else
			fprintf(f, "0x0000000000000000 0x0000000000000000 0x0000000000000000\n");
	if (fclose(f))
		die(p);
}

/* a sysfs attribute of the device at DIR */
static void attr(const char *dir, const char *name, const char *val)
{
	sh("echo %s > %s/devices/%s/%s", val, root, dir, name);
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

	snprintf(root, sizeof(root), "%s/test_topology.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(root))
		die(root);

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
	ok(!check(&r) && r.verdict == TOPO_VIA_ROOT && r.egress && !r.redirect &&
	   has_reason(&r, "Egress Control on"),
	   "Egress Control on: via the root complex, like pci-p2pdma");
	switch_tree(-1, -1);
	dev(CARD, TOPO_ENDPOINT, TOPO_ACS_RR, 4096, 0x8000000000ULL, 0x8000000000ULL);
	ok(!check(&r) && r.verdict == TOPO_VIA_ROOT && r.redirect &&
	   has_reason(&r, "0000:03:00.0 (endpoint) has ACS P2P Request Redirect"),
	   "ACS on the card itself (a multifunction endpoint) counts too");

	/* the bridges' config space read as non-root (64 bytes) */
	fresh();
	dev(RP, TOPO_ROOT_PORT, 0, 4096, 0, 0);
	dev(UP, TOPO_UPSTREAM, -1, 4096, 0, 0);
	dev(DN0, TOPO_DOWNSTREAM, TOPO_ACS_RR, 64, 0, 0);
	dev(DN1, TOPO_DOWNSTREAM, 0, 4096, 0, 0);
	dev(CARD, TOPO_ENDPOINT, -1, 4096, 0x8000000000ULL, 0x8000000000ULL);
	dev(PEER, TOPO_ENDPOINT, -1, 4096, 0, 0);
	ok(!check(&r) && r.acs_unknown && r.verdict == TOPO_VIA_ROOT &&
	   has_reason(&r, "0000:02:00.0 (unknown) is not available") &&
	   has_reason(&r, "cannot be confirmed"),
	   "an unreadable bridge: its ACS is called unknown, direct is not claimed");
	dev(DN0, TOPO_DOWNSTREAM, TOPO_ACS_RR, 256, 0, 0);
	ok(!check(&r) && r.acs_unknown && r.verdict == TOPO_VIA_ROOT,
	   "a PCIe bridge with 256 bytes of config space (no ECAM): ACS unknown");
	dev(DN0, TOPO_PCI, -1, 256, 0, 0);
	ok(!check(&r) && !r.acs_unknown && r.verdict == TOPO_DIRECT,
	   "a conventional PCI node (256 bytes): no ACS, known");

	/* separate root ports */
	fresh();
	dev("pci0000:00/0000:00:04.0", TOPO_ROOT_PORT, 0, 4096, 0, 0);
	dev("pci0000:00/0000:00:05.0", TOPO_ROOT_PORT, 0, 4096, 0, 0);
	dev("pci0000:00/0000:00:04.0/0000:03:00.0", TOPO_ENDPOINT, -1, 4096, 0xe0000000, 0xe0000000);
	dev("pci0000:00/0000:00:05.0/0000:04:00.0", TOPO_ENDPOINT, -1, 4096, 0, 0);
	ok(!check(&r) && r.verdict == TOPO_VIA_ROOT && !strcmp(r.route, "root-complex") &&
	   !r.common, "separate root ports: via the root complex");
	/* the root complex on pci-p2pdma's list, or not */
	attr("pci0000:00/0000:00:04.0", "vendor", "0x8086");
	attr("pci0000:00/0000:00:04.0", "device", "0x1234");
	ok(!check(&r) && !strcmp(r.allow.dev, "0000:00:04.0") && !r.allow.known &&
	   has_reason(&r, "does not know to forward peer-to-peer (0000:00:04.0 is 8086:1234"),
	   "an unlisted host bridge (the root bus's first device): not known to forward, said so");
	dev("pci0000:00/0000:00:00.0", TOPO_PCI, -1, 256, 0, 0);
	attr("pci0000:00/0000:00:00.0", "vendor", "0x8086");
	attr("pci0000:00/0000:00:00.0", "device", "0x2020");
	ok(!check(&r) && !strcmp(r.allow.dev, "0000:00:00.0") && r.allow.known &&
	   has_reason(&r, "knows to forward peer-to-peer: Intel Skylake-SP (8086:2020, 0000:00:00.0)"),
	   "Skylake-SP's host bridge (8086:2020): known to forward");
	attr("pci0000:00/0000:00:00.0", "device", "0x2f00");
	ok(!check(&r) && r.allow.known && r.allow.same_bridge_only,
	   "8086:2f00 below one host bridge: known (same host bridge only)");
	attr("pci0000:00/0000:00:00.0", "device", "0x29c0");
	ok(!check(&r) && !r.allow.known && !r.allow.name, "QEMU's q35 host bridge (8086:29c0): not listed");
	sh("printf 'vendor_id\t: AuthenticAMD\ncpu family\t: 25\n' > %s/cpuinfo", root);
	ok(!check(&r) && r.allow.amd_zen && r.allow.known && has_reason(&r, "every AMD Zen"),
	   "an AMD family 0x19 CPU (Zen 3): known to forward, whatever the host bridge");
	sh("printf 'vendor_id\t: AuthenticAMD\ncpu family\t: 21\n' > %s/cpuinfo", root);
	ok(!check(&r) && !r.allow.amd_zen && !r.allow.known, "an AMD family 0x15 CPU (before Zen): not");

	/* a VMD domain (5 hex digits) and its host bridge "pci10000:00" */
	fresh();
	dev("pci10000:00/10000:00:02.0", TOPO_ROOT_PORT, 0, 4096, 0, 0);
	dev("pci10000:00/10000:00:02.0/10000:01:00.0", TOPO_ENDPOINT, -1, 4096, 0xe0000000, 0xe0000000);
	dev("pci10000:00/10000:00:02.0/10000:01:00.1", TOPO_ENDPOINT, -1, 4096, 0, 0);
	ok(!topo_path(root, "10000:01:00.0", &p) && p.n == 2 &&
	   !strcmp(p.host_bridge, "pci10000:00") && !strcmp(p.nodes[1].pci, "10000:01:00.0"),
	   "a 5-digit (VMD) domain: path from host bridge pci10000:00, 2 nodes");
	ok(!topo_check(root, "10000:01:00.0", 2, "10000:01:00.1", &r) && r.verdict == TOPO_DIRECT &&
	   !strcmp(r.route, "device"), "...and its verdict (functions of one device)");
	dev("pci10000:00/10000:00:02.0/10000:01:01.0", TOPO_ENDPOINT, -1, 4096, 0, 0);
	ok(!topo_check(root, "10000:01:00.0", 2, "10000:01:01.0", &r) &&
	   !strcmp(r.route, "root-complex"), "...another device on that bus is not one device");

	/* two functions of one device below a root port */
	fresh();
	dev("pci0000:00/0000:00:04.0", TOPO_ROOT_PORT, 0, 4096, 0, 0);
	dev("pci0000:00/0000:00:04.0/0000:03:00.0", TOPO_ENDPOINT, -1, 4096, 0xe0000000, 0xe0000000);
	dev("pci0000:00/0000:00:04.0/0000:03:00.1", TOPO_ENDPOINT, -1, 4096, 0, 0);
	ok(!topo_check(root, "0000:03:00.0", 2, "0000:03:00.1", &r) && r.verdict == TOPO_DIRECT &&
	   !strcmp(r.route, "device") && has_reason(&r, "functions of one device"),
	   "two functions of one device below a root port: direct, inside the device");

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
	switch_tree(-1, -1);
	group(CARD, 3, "DMA");
	group(PEER, 4, "identity");
	ok(!check(&r) && r.verdict == TOPO_DIRECT && has_reason(&r, "untranslated (identity)"),
	   "only the peer's domain counts: card DMA, peer identity: direct");
	switch_tree(-1, -1);
	group(CARD, 3, "identity");
	group(PEER, 4, "DMA-FQ");
	ok(!check(&r) && r.verdict == TOPO_VIA_ROOT && has_reason(&r, "peer group 4, DMA-FQ"),
	   "card identity, peer DMA-FQ: translated, via the root complex");
	ok(r.iommu.strict == 0 && has_reason(&r, "boot with iommu.strict=1"),
	   "peer DMA-FQ: lazy invalidation, iommu.strict=1 advised");
	switch_tree(-1, -1);
	group(CARD, 3, "identity");
	group(PEER, 4, "DMA");
	ok(!check(&r) && r.verdict == TOPO_VIA_ROOT && r.iommu.strict == 1 &&
	   !has_reason(&r, "iommu.strict"), "peer DMA: strict, nothing advised");
	switch_tree(-1, -1);
	group(CARD, 3, "DMA-FQ");
	group(PEER, 4, "identity");
	ok(!check(&r) && r.iommu.strict == -1 && !has_reason(&r, "iommu.strict"),
	   "peer identity: no translation, strictness does not apply");
	switch_tree(-1, -1);
	group(CARD, 3, "DMA");
	ok(!check(&r) && r.verdict == TOPO_DIRECT && r.iommu.peer_group == -1 &&
	   has_reason(&r, "the peer is in no IOMMU group"),
	   "an IOMMU, but the peer in no group: not translated");

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
	group(PEER, 2, "identity");
	ok(!check(&r) && r.verdict == TOPO_NO && has_reason(&r, "would write to bus address"),
	   "the same with the peer's domain identity: no");

	/* the peer's DMA mask does not reach the BAR (swiotlb would bounce) */
	switch_tree(-1, -1);
	attr(PEER, "dma_mask_bits", "32");
	ok(!check(&r) && r.verdict == TOPO_DIRECT && has_reason(&r, "no driver is bound"),
	   "32-bit DMA mask, no driver bound: a warning only");
	sh("mkdir %s/devices/%s/driver", root, PEER);
	ok(!check(&r) && r.verdict == TOPO_NO && has_reason(&r, "DMA mask (32 bits)"),
	   "32-bit DMA mask set by the peer's driver, BAR above 4 GiB: no (swiotlb)");
	attr(PEER, "dma_mask_bits", "64");
	ok(!check(&r) && r.verdict == TOPO_DIRECT, "64-bit DMA mask: direct");
	ok(topo_check(root, "0000:03:00.0", -1, "0000:04:00.0", &r) == 0 && !r.bus_known &&
	   has_reason(&r, "bus address was not checked"), "no BAR: says the address was not checked");

	/* two host bridges */
	fresh();
	dev("pci0000:00/0000:00:04.0", TOPO_ROOT_PORT, 0, 4096, 0, 0);
	dev("pci0000:80/0000:80:04.0", TOPO_ROOT_PORT, 0, 4096, 0, 0);
	dev("pci0000:00/0000:00:04.0/0000:03:00.0", TOPO_ENDPOINT, -1, 4096, 0xe0000000, 0xe0000000);
	dev("pci0000:80/0000:80:04.0/0000:04:00.0", TOPO_ENDPOINT, -1, 4096, 0, 0);
	ok(!check(&r) && r.verdict == TOPO_VIA_ROOT && !strcmp(r.route, "host-bridges") &&
	   has_reason(&r, "pci0000:80") && !has_reason(&r, "NUMA"),
	   "different host bridges: via the root complex (platform-dependent)");
	attr("pci0000:00/0000:00:04.0/0000:03:00.0", "numa_node", "0");
	attr("pci0000:80/0000:80:04.0/0000:04:00.0", "numa_node", "1");
	ok(!check(&r) && r.verdict == TOPO_VIA_ROOT &&
	   has_reason(&r, "NUMA node 0, the peer on node 1"), "... on different NUMA nodes: said");

	/* a path deeper than TOPO_MAX_DEPTH */
	fresh();
	{
		char d[PATH_MAX] = "pci0000:00";
		int i;

		for (i = 0; i < TOPO_MAX_DEPTH + 1; i++) {
			snprintf(d + strlen(d), sizeof(d) - strlen(d), "/0000:%02x:00.0", i + 1);
			dev(d, i < TOPO_MAX_DEPTH ? TOPO_DOWNSTREAM : TOPO_ENDPOINT, -1, 4096, 0, 0);
		}
		ok(topo_path(root, "0000:11:00.0", &p) == -E2BIG, "a path deeper than 16: -E2BIG");
	}

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

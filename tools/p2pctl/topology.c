// SPDX-License-Identifier: GPL-2.0
/*
 * p2pctl check: the PCI topology between a card and a peer, read from sysfs
 * and config space, and what it means for peer-to-peer DMA.
 *
 * The rules are the ones upstream's pci_p2pdma_distance() applies inside
 * the kernel, told to an administrator with the reasons:
 *  - below one switch (or between functions of one device), with no ACS
 *    redirect or egress control on the way, the transfer never reaches the
 *    root complex: direct;
 *  - otherwise (separate root ports or host bridges, an ACS redirect, an
 *    IOMMU translating the peer's DMA) it goes through the root complex,
 *    which must forward peer-to-peer traffic: that depends on the CPU, not
 *    on Linux (upstream allows every AMD Zen and a list of Intel host
 *    bridges, some of them across host bridges).
 * And one rule of iopmem's own: its pages are ordinary (GENERIC) memory,
 * so a peer whose DMA is not translated by an IOMMU is handed the BAR's
 * CPU physical address, which must equal the address on the bus: if not,
 * it cannot work.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "topology.h"

#define PCI_CFG_SIZE	4096
#define CAP_ID_EXP	0x10
#define EXT_CAP_ID_ACS	0x000d

const char *topo_type_name(int type)
{
	switch (type) {
	case TOPO_UNKNOWN: return "unknown";
	case TOPO_PCI: return "pci";
	case TOPO_ENDPOINT: return "endpoint";
	case TOPO_LEGACY_ENDPOINT: return "legacy-endpoint";
	case TOPO_ROOT_PORT: return "root-port";
	case TOPO_UPSTREAM: return "upstream-port";
	case TOPO_DOWNSTREAM: return "downstream-port";
	case TOPO_PCIE_TO_PCI: return "pcie-to-pci-bridge";
	case TOPO_PCI_TO_PCIE: return "pci-to-pcie-bridge";
	case TOPO_RC_ENDPOINT: return "rc-endpoint";
	case TOPO_RC_EVENT: return "rc-event-collector";
	}
	return "other";
}

/* "DDDD:BB:DD.F", the domain 4 to 8 hex digits */
static bool is_pci_name(const char *s)
{
	unsigned int d, b, dev, fn;
	size_t n = strlen(s);
	char end;

	return n >= 12 && n < PCI_ADDR_SIZE &&
	       sscanf(s, "%8x:%2x:%2x.%1x%c", &d, &b, &dev, &fn, &end) == 4 &&
	       strspn(s, "0123456789abcdef") == n - 8 &&
	       s[n - 8] == ':' && s[n - 5] == ':' && s[n - 2] == '.';
}

/* "DDDD:BB:DD.F": the same device (domain, bus, device), any function */
static bool same_device(const char *a, const char *b)
{
	const char *fa = strrchr(a, '.'), *fb = strrchr(b, '.');

	return fa && fb && fa - a == fb - b && !strncmp(a, b, (size_t)(fa - a));
}

static uint16_t rd16(const uint8_t *c, int off)
{
	return (uint16_t)(c[off] | c[off + 1] << 8);
}

static uint32_t rd32(const uint8_t *c, int off)
{
	return (uint32_t)rd16(c, off) | (uint32_t)rd16(c, off + 2) << 16;
}

/* the device's config space; the number of bytes read (64 for non-root) */
static int read_config(const char *sys, const char *pci, uint8_t *c)
{
	char p[PATH_MAX];
	ssize_t n;
	int fd;

	memset(c, 0, PCI_CFG_SIZE);
	snprintf(p, sizeof(p), "%s/bus/pci/devices/%s/config", sys, pci);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = pread(fd, c, PCI_CFG_SIZE, 0);
	close(fd);
	return n < 0 ? -errno : (int)n;
}

static void node_load(const char *sys, struct topo_node *nd)
{
	uint8_t c[PCI_CFG_SIZE];
	int n = read_config(sys, nd->pci, c), ptr, guard;

	nd->type = TOPO_UNKNOWN;
	if (n < 256)
		return;
	nd->type = TOPO_PCI;
	if (rd16(c, 0x06) & 0x10) {			/* capability list */
		for (ptr = c[0x34] & ~3, guard = 0; ptr >= 0x40 && guard < 48;
		     ptr = c[ptr + 1] & ~3, guard++) {
			if (c[ptr] == CAP_ID_EXP) {
				nd->type = (rd16(c, ptr + 2) >> 4) & 0xf;
				break;
			}
		}
	}
	/* conventional PCI has no extended config space, so no ACS */
	if (nd->type == TOPO_PCI) {
		nd->acs_known = true;
		return;
	}
	/* PCI Express: 256 bytes as root means no ECAM (pci=nommconf) */
	if (n < PCI_CFG_SIZE)
		return;
	nd->acs_known = true;
	for (ptr = 0x100, guard = 0; ptr >= 0x100 && ptr < PCI_CFG_SIZE - 8 && guard < 256;
	     guard++) {
		uint32_t h = rd32(c, ptr);

		if (!h || h == 0xffffffff)
			break;
		if ((h & 0xffff) == EXT_CAP_ID_ACS) {
			nd->has_acs = true;
			nd->acs_cap = rd16(c, ptr + 4);
			nd->acs_ctrl = rd16(c, ptr + 6);
			break;
		}
		ptr = (int)(h >> 20) & ~3;
	}
}

int topo_path(const char *sys, const char *pci, struct topo_path *p)
{
	char link[PATH_MAX], real[PATH_MAX], *s, *save = NULL;
	bool below_bridge = false;

	memset(p, 0, sizeof(*p));
	snprintf(link, sizeof(link), "%s/bus/pci/devices/%s", sys, pci);
	if (!realpath(link, real))
		return -errno;
	for (s = strtok_r(real, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
		/* the host bridge: "pciDDDD:BB", the domain 4 to 8 digits */
		if (!strncmp(s, "pci", 3) && strlen(s) >= 10 && strlen(s) <= 14 &&
		    s[strlen(s) - 3] == ':') {
			snprintf(p->host_bridge, sizeof(p->host_bridge), "%s", s);
			p->n = 0;
			below_bridge = true;
			continue;
		}
		if (!below_bridge || !is_pci_name(s))
			continue;
		if (p->n == TOPO_MAX_DEPTH)
			return -E2BIG;
		snprintf(p->nodes[p->n].pci, sizeof(p->nodes[0].pci), "%s", s);
		node_load(sys, &p->nodes[p->n]);
		p->n++;
	}
	if (!p->n || strcmp(p->nodes[p->n - 1].pci, pci))
		return -ENOENT;
	return 0;
}

static void reason(struct topo_report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void reason(struct topo_report *r, const char *fmt, ...)
{
	va_list ap;

	if (r->nr_reasons == (int)(sizeof(r->reasons) / sizeof(r->reasons[0])))
		return;
	va_start(ap, fmt);
	vsnprintf(r->reasons[r->nr_reasons++], sizeof(r->reasons[0]), fmt, ap);
	va_end(ap);
}

/*
 * ACS on nodes [from, p->n) of @p: like upstream, every bridge below the
 * shared part of the paths, the device itself and (once, from the card's
 * path) the deepest shared bridge.  Redirect and egress control alike send
 * peer traffic to the root complex or stop it.
 */
static void check_acs(struct topo_report *r, const struct topo_path *p, int from)
{
	int i;

	for (i = from; i < p->n; i++) {
		const struct topo_node *nd = &p->nodes[i];

		if (!nd->acs_known) {
			r->acs_unknown = true;
			reason(r, "the extended config space of %s (%s) is not available (no ECAM, or not read as root): its ACS settings are unknown",
			       nd->pci, topo_type_name(nd->type));
			continue;
		}
		if (!nd->has_acs)
			continue;
		if (nd->acs_ctrl & (TOPO_ACS_RR | TOPO_ACS_CR)) {
			r->redirect = true;
			reason(r, "%s (%s) has ACS P2P %s Redirect on: peer traffic through it is sent up to the root complex",
			       nd->pci, topo_type_name(nd->type),
			       nd->acs_ctrl & TOPO_ACS_RR ? "Request" : "Completion");
		}
		if (nd->acs_ctrl & TOPO_ACS_EC) {
			r->egress = true;
			reason(r, "%s (%s) has ACS P2P Egress Control on: it blocks peer traffic toward the ports set in its egress control vector, or sends it to the root complex (pci-p2pdma treats it like a redirect)",
			       nd->pci, topo_type_name(nd->type));
		}
	}
}

static int iommu_group(const char *sys, const char *pci, char *domain, size_t len)
{
	char p[PATH_MAX + 16], real[PATH_MAX], *base;
	int fd;
	ssize_t n;

	snprintf(domain, len, "none");
	snprintf(p, sizeof(p), "%s/bus/pci/devices/%s/iommu_group", sys, pci);
	if (!realpath(p, real))
		return -1;
	base = strrchr(real, '/');
	snprintf(p, sizeof(p), "%s/type", real);
	fd = open(p, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, domain, len - 1);
		close(fd);
		if (n > 0) {
			domain[n] = 0;
			domain[strcspn(domain, "\n")] = 0;
		}
	}
	return base ? atoi(base + 1) : -1;
}

static bool iommu_active(const char *sys)
{
	char p[PATH_MAX];
	struct dirent *e;
	bool any = false;
	DIR *d;

	snprintf(p, sizeof(p), "%s/class/iommu", sys);
	d = opendir(p);
	if (!d)
		return false;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			any = true;
	closedir(d);
	return any;
}

/* the BAR's CPU physical address (resource) and bus address (config) */
static void bar_addresses(const char *sys, const char *pci, struct topo_report *r)
{
	uint8_t c[PCI_CFG_SIZE];
	char p[PATH_MAX], line[128];
	unsigned long long start = 0, end = 0, flags = 0;
	uint32_t lo;
	FILE *f;
	int i;

	snprintf(p, sizeof(p), "%s/bus/pci/devices/%s/resource", sys, pci);
	f = fopen(p, "r");
	if (!f)
		return;
	for (i = 0; i <= r->bar && fgets(line, sizeof(line), f); i++)
		if (i == r->bar && sscanf(line, "%llx %llx %llx", &start, &end, &flags) != 3)
			start = 0;
	fclose(f);
	if (!start || read_config(sys, pci, c) < 64)
		return;
	r->cpu_addr = start;
	r->bar_end = end;
	lo = rd32(c, 0x10 + 4 * r->bar);
	r->bus_addr = lo & ~0xfULL;
	if ((lo & 0x6) == 0x4 && r->bar < 5)	/* 64-bit memory BAR */
		r->bus_addr |= (uint64_t)rd32(c, 0x14 + 4 * r->bar) << 32;
	r->bus_known = true;
}

/* a small integer sysfs attribute of a PCI device; -1 if absent */
static long dev_attr(const char *sys, const char *pci, const char *attr)
{
	char p[PATH_MAX], buf[32];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/bus/pci/devices/%s/%s", sys, pci, attr);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtol(buf, NULL, 0);
}

/* pci-p2pdma's list of host bridges that forward peer-to-peer (7.3) */
static const struct {
	unsigned int vendor, device;
	bool same_bridge_only;
	const char *name;
} p2p_host_bridges[] = {
	{ 0x8086, 0x3c00, true, "Intel Xeon E5/Core i7" },
	{ 0x8086, 0x3c01, true, "Intel Xeon E5/Core i7" },
	{ 0x8086, 0x2f00, true, "Intel Xeon E7 v3/E5 v3/Core i7" },
	{ 0x8086, 0x2f01, true, "Intel Xeon E7 v3/E5 v3/Core i7" },
	{ 0x8086, 0x2030, false, "Intel Skylake-SP" },
	{ 0x8086, 0x2031, false, "Intel Skylake-SP" },
	{ 0x8086, 0x2032, false, "Intel Skylake-SP" },
	{ 0x8086, 0x2033, false, "Intel Skylake-SP" },
	{ 0x8086, 0x2020, false, "Intel Skylake-SP" },
	{ 0x8086, 0x09a2, false, "Intel Ice Lake-SP" },
};

/* an AMD CPU of family 0x17 (Zen) or later, from @cpuinfo */
static bool cpu_amd_zen(const char *cpuinfo)
{
	char line[256];
	bool amd = false;
	long family = -1;
	FILE *f = fopen(cpuinfo, "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f) && family < 0) {
		if (!strncmp(line, "vendor_id", 9))
			amd = strstr(line, "AuthenticAMD") != NULL;
		else if (!strncmp(line, "cpu family", 10) && strchr(line, ':'))
			family = strtol(strchr(line, ':') + 1, NULL, 10);
	}
	fclose(f);
	return amd && family >= 0x17;
}

/* is the card's root complex one pci-p2pdma lets peer traffic through? */
static void allowlist(const char *sys, struct topo_report *r)
{
	struct topo_allow *a = &r->allow;
	char p[PATH_MAX], cpuinfo[PATH_MAX];
	bool between = strcmp(r->card.host_bridge, r->peer.host_bridge) != 0;
	struct dirent *e;
	size_t i;
	DIR *d;

	snprintf(p, sizeof(p), "%s/devices/%s", sys, r->card.host_bridge);
	d = opendir(p);
	while (d && (e = readdir(d)))
		if (is_pci_name(e->d_name) && (!a->dev[0] || strcmp(e->d_name, a->dev) < 0))
			snprintf(a->dev, sizeof(a->dev), "%.15s", e->d_name);
	if (d)
		closedir(d);
	if (a->dev[0]) {
		long v = dev_attr(sys, a->dev, "vendor"), dv = dev_attr(sys, a->dev, "device");

		/* (0000:0000 if sysfs does not say: on no list) */
		a->vendor = v < 0 ? 0 : (unsigned int)v;
		a->device = dv < 0 ? 0 : (unsigned int)dv;
	}
	for (i = 0; a->dev[0] && i < sizeof(p2p_host_bridges) / sizeof(p2p_host_bridges[0]); i++)
		if (p2p_host_bridges[i].vendor == a->vendor &&
		    p2p_host_bridges[i].device == a->device) {
			a->name = p2p_host_bridges[i].name;
			a->same_bridge_only = p2p_host_bridges[i].same_bridge_only;
		}
	/* a test's fake sysfs carries its own cpuinfo */
	if (!strcmp(sys, "/sys"))
		snprintf(cpuinfo, sizeof(cpuinfo), "/proc/cpuinfo");
	else
		snprintf(cpuinfo, sizeof(cpuinfo), "%s/cpuinfo", sys);
	a->amd_zen = cpu_amd_zen(cpuinfo);
	a->known = a->amd_zen || (a->name && !(between && a->same_bridge_only));
}

static bool dev_has_driver(const char *sys, const char *pci)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/bus/pci/devices/%s/driver", sys, pci);
	return access(p, F_OK) == 0;
}

/* where the paths meet: r->route, and the reasons */
static void route(const char *sys, struct topo_report *r)
{
	const struct topo_node *up = r->common ? &r->card.nodes[r->common - 1] : NULL;
	long card_node, peer_node;

	if (strcmp(r->card.host_bridge, r->peer.host_bridge)) {
		r->route = "host-bridges";
		reason(r, "the card is below host bridge %s, the peer below %s: the transfer crosses from one root complex to another, which only some platforms forward",
		       r->card.host_bridge, r->peer.host_bridge);
		card_node = dev_attr(sys, r->card.nodes[r->card.n - 1].pci, "numa_node");
		peer_node = dev_attr(sys, r->peer.nodes[r->peer.n - 1].pci, "numa_node");
		if (card_node >= 0 && peer_node >= 0 && card_node != peer_node)
			reason(r, "the card is on NUMA node %ld, the peer on node %ld: the transfer also crosses the link between the sockets",
			       card_node, peer_node);
	} else if (up && up->type != TOPO_ROOT_PORT) {
		r->route = "switch";
		reason(r, "both are below %s (%s): a switch can forward between them",
		       up->pci, topo_type_name(up->type));
	} else if (up && r->card.n == r->common + 1 && r->peer.n == r->common + 1 &&
		   same_device(r->card.nodes[r->common].pci, r->peer.nodes[r->common].pci)) {
		r->route = "device";
		reason(r, "the card and the peer are functions of one device below root port %s: the device routes between them",
		       up->pci);
	} else {
		r->route = "root-complex";
		if (up)
			reason(r, "both are below root port %s and nothing below it is shared: the transfer goes through the root complex",
			       up->pci);
		else
			reason(r, "the card and the peer are on different root ports (or on the root bus) of %s: the transfer goes through the root complex",
			       r->card.host_bridge);
	}
}

/*
 * Which address the peer is handed for iopmem's pages, and whether it
 * reaches the BAR.  Only the peer's IOMMU domain matters: the card is the
 * target, its own DMA is not involved.
 */
static void iommu_and_addresses(const char *sys, struct topo_report *r)
{
	const char *peer = r->peer.nodes[r->peer.n - 1].pci;
	bool translating = r->iommu.active && r->iommu.peer_group >= 0 &&
			   strcmp(r->iommu.peer_domain, "identity");
	long bits;

	r->iommu.strict = -1;
	if (translating) {
		r->verdict = TOPO_VIA_ROOT;
		reason(r, "an IOMMU translates the peer's DMA (peer group %d, %s): iopmem's pages are mapped like RAM, to an IOVA that only the IOMMU in the root complex turns into the BAR's address",
		       r->iommu.peer_group, r->iommu.peer_domain);
		r->iommu.strict = !strcmp(r->iommu.peer_domain, "DMA");
		if (!r->iommu.strict)
			reason(r, "the peer's IOMMU domain (%s) invalidates lazily: after an unpin the peer's IOTLB can still reach a page for some milliseconds, when it may already be another tenant's; boot with iommu.strict=1",
			       r->iommu.peer_domain);
	} else if (r->iommu.active && r->iommu.peer_group >= 0) {
		reason(r, "the IOMMU passes the peer's DMA through untranslated (identity): the peer gets the BAR's CPU physical address as its DMA address");
	} else if (r->iommu.active) {
		reason(r, "an IOMMU is active but the peer is in no IOMMU group: its DMA is not translated, it gets the BAR's CPU physical address as its DMA address");
	} else {
		reason(r, "no IOMMU is active: the peer gets the BAR's CPU physical address as its DMA address");
	}
	if (r->iommu.card_group >= 0 && r->iommu.card_group == r->iommu.peer_group)
		reason(r, "the card and the peer share IOMMU group %d: nothing isolates them from each other (no ACS between them)",
		       r->iommu.card_group);

	if (!r->bus_known) {
		reason(r, "the card's BAR is not known: its bus address was not checked");
	} else if (r->cpu_addr != r->bus_addr) {
		reason(r, "BAR %d's bus address 0x%" PRIx64 " is not its CPU physical address 0x%" PRIx64 ": iopmem's pages give peers the CPU address",
		       r->bar, r->bus_addr, r->cpu_addr);
		if (!translating) {
			r->verdict = TOPO_NO;
			reason(r, "with the peer's DMA untranslated, it would write to bus address 0x%" PRIx64 ", not to the card",
			       r->cpu_addr);
		}
	} else {
		reason(r, "BAR %d's bus address is its CPU physical address (0x%" PRIx64 ")",
		       r->bar, r->cpu_addr);
	}
	bits = dev_attr(sys, peer, "dma_mask_bits");
	if (!translating && r->bus_known && bits > 0 && bits < 64 &&
	    r->bar_end >> bits) {
		reason(r, "the peer's DMA mask (%ld bits) does not reach the BAR's end 0x%" PRIx64 ": the DMA API would bounce through swiotlb, a CPU copy, not peer DMA%s",
		       bits, r->bar_end,
		       dev_has_driver(sys, peer) ? "" : " (no driver is bound to the peer: its driver may set a wider mask)");
		if (dev_has_driver(sys, peer))
			r->verdict = TOPO_NO;
	}
}

int topo_check(const char *sys, const char *card, int bar, const char *peer,
	       struct topo_report *r)
{
	int rc, i;

	memset(r, 0, sizeof(*r));
	r->bar = bar;
	if (!strcmp(card, peer))
		return -EINVAL;
	rc = topo_path(sys, card, &r->card);
	if (!rc)
		rc = topo_path(sys, peer, &r->peer);
	if (rc)
		return rc;
	for (i = 0; i < r->card.n && i < r->peer.n &&
	     !strcmp(r->card.nodes[i].pci, r->peer.nodes[i].pci); i++)
		;
	r->common = i;
	/* one is a bridge above the other: not a peer */
	if (r->common == r->card.n || r->common == r->peer.n)
		return -ELOOP;

	r->iommu.active = iommu_active(sys);
	r->iommu.card_group = iommu_group(sys, card, r->iommu.card_domain,
					  sizeof(r->iommu.card_domain));
	r->iommu.peer_group = iommu_group(sys, peer, r->iommu.peer_domain,
					  sizeof(r->iommu.peer_domain));
	if (bar >= 0)
		bar_addresses(sys, card, r);

	route(sys, r);
	check_acs(r, &r->card, r->common ? r->common - 1 : 0);
	check_acs(r, &r->peer, r->common);
	iommu_and_addresses(sys, r);

	if (r->verdict == TOPO_DIRECT && (strcmp(r->route, "switch") &&
					  strcmp(r->route, "device")))
		r->verdict = TOPO_VIA_ROOT;
	if (r->verdict == TOPO_DIRECT && (r->redirect || r->egress))
		r->verdict = TOPO_VIA_ROOT;
	if (r->verdict == TOPO_DIRECT && r->acs_unknown) {
		r->verdict = TOPO_VIA_ROOT;
		reason(r, "with a bridge's ACS unknown, a direct route cannot be confirmed");
	}
	allowlist(sys, r);
	if (r->verdict == TOPO_VIA_ROOT) {
		if (r->allow.amd_zen)
			reason(r, "through the root complex, which forwards peer-to-peer on this CPU: Linux's pci-p2pdma lets every AMD Zen through");
		else if (r->allow.known)
			reason(r, "through the root complex, which Linux's pci-p2pdma knows to forward peer-to-peer: %s (%04x:%04x, %s)",
			       r->allow.name, r->allow.vendor, r->allow.device, r->allow.dev);
		else if (r->allow.name)
			reason(r, "through the root complex: Linux's pci-p2pdma lets %s (%04x:%04x) forward peer-to-peer below one host bridge only, and this route crosses two",
			       r->allow.name, r->allow.vendor, r->allow.device);
		else
			reason(r, "through the root complex, which Linux's pci-p2pdma does not know to forward peer-to-peer (%s%s%04x:%04x; it knows AMD Zen and a few Intel Xeon host bridges): check the platform's documentation, and prove it with p2pctl check --transfer",
			       r->allow.dev[0] ? r->allow.dev : "no host bridge device",
			       r->allow.dev[0] ? " is " : "", r->allow.vendor, r->allow.device);
	}
	return 0;
}

static struct json_object *node_json(const struct topo_node *nd)
{
	struct json_object *o = json_object_new_object(), *acs;

	json_object_object_add(o, "pci", json_object_new_string(nd->pci));
	json_object_object_add(o, "type", json_object_new_string(topo_type_name(nd->type)));
	if (!nd->acs_known) {
		json_object_object_add(o, "acs", NULL);
	} else if (!nd->has_acs) {
		json_object_object_add(o, "acs", json_object_new_string("none"));
	} else {
		acs = json_object_new_object();
		json_object_object_add(acs, "request_redirect",
				       json_object_new_boolean(nd->acs_ctrl & TOPO_ACS_RR));
		json_object_object_add(acs, "completion_redirect",
				       json_object_new_boolean(nd->acs_ctrl & TOPO_ACS_CR));
		json_object_object_add(acs, "egress_control",
				       json_object_new_boolean(nd->acs_ctrl & TOPO_ACS_EC));
		json_object_object_add(o, "acs", acs);
	}
	return o;
}

static struct json_object *path_json(const struct topo_path *p)
{
	struct json_object *a = json_object_new_array();
	int i;

	for (i = 0; i < p->n; i++)
		json_object_array_add(a, node_json(&p->nodes[i]));
	return a;
}

static struct json_object *group_json(int g)
{
	return g < 0 ? NULL : json_object_new_int(g);
}

struct json_object *topo_json(const struct topo_report *r)
{
	static const char *const verdicts[] = {
		[TOPO_DIRECT] = "direct",
		[TOPO_VIA_ROOT] = "via-root-complex",
		[TOPO_NO] = "no",
	};
	struct json_object *o = json_object_new_object(), *io, *rs;
	char buf[32];
	int i;

	json_object_object_add(o, "card", json_object_new_string(r->card.nodes[r->card.n - 1].pci));
	json_object_object_add(o, "peer", json_object_new_string(r->peer.nodes[r->peer.n - 1].pci));
	json_object_object_add(o, "verdict", json_object_new_string(verdicts[r->verdict]));
	json_object_object_add(o, "route", json_object_new_string(r->route));
	json_object_object_add(o, "host_bridge", json_object_new_string(r->card.host_bridge));
	json_object_object_add(o, "common_upstream", r->common ?
			       json_object_new_string(r->card.nodes[r->common - 1].pci) : NULL);
	json_object_object_add(o, "acs_redirect", json_object_new_boolean(r->redirect));
	json_object_object_add(o, "acs_egress_control", json_object_new_boolean(r->egress));
	io = json_object_new_object();
	json_object_object_add(io, "active", json_object_new_boolean(r->iommu.active));
	json_object_object_add(io, "card_group", group_json(r->iommu.card_group));
	json_object_object_add(io, "card_domain", json_object_new_string(r->iommu.card_domain));
	json_object_object_add(io, "peer_group", group_json(r->iommu.peer_group));
	json_object_object_add(io, "peer_domain", json_object_new_string(r->iommu.peer_domain));
	json_object_object_add(io, "strict", r->iommu.strict < 0 ? NULL :
			       json_object_new_boolean(r->iommu.strict));
	json_object_object_add(o, "iommu", io);
	io = json_object_new_object();
	json_object_object_add(io, "device", r->allow.dev[0] ? json_object_new_string(r->allow.dev) : NULL);
	if (r->allow.dev[0]) {
		char id[16];

		snprintf(id, sizeof(id), "%04x:%04x", r->allow.vendor, r->allow.device);
		json_object_object_add(io, "id", json_object_new_string(id));
	}
	json_object_object_add(io, "listed_as", r->allow.name ? json_object_new_string(r->allow.name) : NULL);
	json_object_object_add(io, "amd_zen", json_object_new_boolean(r->allow.amd_zen));
	json_object_object_add(io, "known_to_forward", json_object_new_boolean(r->allow.known));
	json_object_object_add(o, "root_complex", io);
	if (r->bar >= 0)
		json_object_object_add(o, "bar", json_object_new_int(r->bar));
	if (r->bus_known) {
		snprintf(buf, sizeof(buf), "0x%" PRIx64, r->cpu_addr);
		json_object_object_add(o, "cpu_address", json_object_new_string(buf));
		snprintf(buf, sizeof(buf), "0x%" PRIx64, r->bus_addr);
		json_object_object_add(o, "bus_address", json_object_new_string(buf));
	}
	json_object_object_add(o, "card_path", path_json(&r->card));
	json_object_object_add(o, "peer_path", path_json(&r->peer));
	rs = json_object_new_array();
	for (i = 0; i < r->nr_reasons; i++)
		json_object_array_add(rs, json_object_new_string(r->reasons[i]));
	json_object_object_add(o, "reasons", rs);
	return o;
}

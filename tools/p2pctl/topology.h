/* SPDX-License-Identifier: GPL-2.0 */
/*
 * p2pctl check: can a card and a peer device do peer-to-peer DMA, and by
 * which route?  Read from sysfs and PCI config space only; every function
 * takes the sysfs root ("/sys"; a fake tree in the unit tests).
 */
#ifndef P2PCTL_TOPOLOGY_H
#define P2PCTL_TOPOLOGY_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

#define TOPO_MAX_DEPTH	16

/* PCI Express Capabilities register, Device/Port Type */
enum topo_type {
	TOPO_UNKNOWN = -1,	/* config space not readable */
	TOPO_PCI = -2,		/* no PCI Express capability */
	TOPO_ENDPOINT = 0x0,
	TOPO_LEGACY_ENDPOINT = 0x1,
	TOPO_ROOT_PORT = 0x4,
	TOPO_UPSTREAM = 0x5,
	TOPO_DOWNSTREAM = 0x6,
	TOPO_PCIE_TO_PCI = 0x7,
	TOPO_PCI_TO_PCIE = 0x8,
	TOPO_RC_ENDPOINT = 0x9,
	TOPO_RC_EVENT = 0xa,
};

/* ACS Control register bits (PCIe r6.0, 7.7.8.3) */
#define TOPO_ACS_RR	0x0004	/* P2P Request Redirect */
#define TOPO_ACS_CR	0x0008	/* P2P Completion Redirect */
#define TOPO_ACS_EC	0x0020	/* P2P Egress Control */

struct topo_node {
	char pci[PCI_ADDR_SIZE];
	int type;			/* enum topo_type */
	bool acs_known;		/* ACS read, or no extended config space (conventional PCI) */
	bool has_acs;
	uint16_t acs_cap, acs_ctrl;
};

struct topo_path {
	char host_bridge[32];		/* "pci0000:00" */
	int n;				/* nodes[n - 1] is the device */
	struct topo_node nodes[TOPO_MAX_DEPTH];
};

enum topo_verdict {
	TOPO_DIRECT,		/* a switch forwards it; no root complex */
	TOPO_VIA_ROOT,		/* through the root complex: it must forward P2P */
	TOPO_NO,		/* cannot work */
};

struct topo_iommu {
	bool active;			/* an IOMMU is registered in sysfs */
	int card_group, peer_group;	/* -1: none */
	char card_domain[16], peer_domain[16];	/* "DMA", "identity", ... */
	int strict;	/* the peer's translation: 1 strict ("DMA"), 0 lazy ("DMA-FQ"), -1 none */
};

/*
 * Whether Linux's pci-p2pdma (drivers/pci/p2pdma.c, as of 7.3) knows the
 * card's root complex to forward peer-to-peer transactions: its host
 * bridge (the first device of the root bus) on the list, or an AMD Zen CPU.
 */
struct topo_allow {
	char dev[16];			/* the root bus's first device, "" if none */
	unsigned int vendor, device;
	const char *name;		/* the list's name for it, NULL if not listed */
	bool same_bridge_only;		/* listed, but not between host bridges */
	bool amd_zen;			/* an AMD CPU of family 0x17 or later */
	bool known;			/* the kernel would let the route through */
};

struct topo_report {
	struct topo_path card, peer;
	int common;			/* nodes the two paths share */
	const char *route;		/* "switch", "device", "root-complex", "host-bridges" */
	bool redirect;			/* an ACS redirect on the way */
	bool egress;			/* ACS egress control on the way */
	bool acs_unknown;		/* a bridge's config space was not readable */
	struct topo_iommu iommu;
	struct topo_allow allow;
	int bar;			/* the card's BAR, -1 if not known */
	uint64_t cpu_addr, bus_addr;	/* the BAR's CPU physical and bus address */
	uint64_t bar_end;		/* the BAR's last CPU physical address */
	bool bus_known;
	enum topo_verdict verdict;
	int nr_reasons;
	char reasons[32][256];
};

const char *topo_type_name(int type);
/* the device's path from its host bridge: 0 or -errno */
int topo_path(const char *sys, const char *pci, struct topo_path *p);
/* the whole analysis of @card (its BAR @bar, -1 if unknown) and @peer */
int topo_check(const char *sys, const char *card, int bar, const char *peer,
	       struct topo_report *r);
struct json_object *topo_json(const struct topo_report *r);

#endif

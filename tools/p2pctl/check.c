// SPDX-License-Identifier: GPL-2.0
/*
 * p2pctl check: can the card and a peer do peer DMA, by which route (JSON),
 * and with --transfer, do they (transfer.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "p2pctl.h"
#include "topology.h"

/* ---- check ------------------------------------------------------------------------------- */

const char check_usage[] = "p2pctl check --peer PCI_ADDR [-r REGION] [--transfer BLOCKDEV:OFFSET]";

/*
 * Whether the card of REGION and the PCI device PEER can do peer-to-peer
 * DMA, by which route and why (topology.c); one JSON object.  The verdict
 * is in the output ("direct", "via-root-complex", "no"), not in the exit
 * status, which is 0 whenever the check could be made.
 */
int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		OPT_REGION, { "peer", required_argument, NULL, 'p' },
		{ "transfer", required_argument, NULL, 'T' }, OPT_HELP, OPT_END,
	};
	struct p2p_region regions[P2PCTL_MAX_REGIONS], r;
	const char *region = NULL, *peer_arg = NULL, *transfer = NULL;
	struct topo_report *rep;
	struct json_object *o;
	char peer[PCI_ADDR_SIZE], p[PATH_MAX];
	int c, rc, n;

	while ((c = getopt_long(argc, argv, "r:p:T:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': region = optarg; break;
		case 'p': peer_arg = optarg; break;
		case 'T': transfer = optarg; break;
		case 'h': printf("usage: %s\n", check_usage); return 0;
		default: return usage_error(check_usage, "bad option");
		}
	}
	if (optind != argc)
		return usage_error(check_usage, "unexpected argument '%s'", argv[optind]);
	if (!peer_arg)
		return usage_error(check_usage, "--peer PCI_ADDR is required");
	if (parse_pci_addr(peer_arg, peer))
		return fail("'%s' is not a PCI address (like 0000:01:00.0)", peer_arg);
	snprintf(p, sizeof(p), SYS_PCI "/%s", peer);
	if (access(p, F_OK))
		return fail("no PCI device %s", peer);
	if (region) {
		rc = region_find(region, &r);
		if (rc == -EINVAL)
			return fail("'%s' is not a region id or PCI address", region);
		if (rc)
			return fail("no region %s", region);
	} else {
		n = regions_scan(regions, P2PCTL_MAX_REGIONS);
		if (n < 0)
			return fail("cannot read the regions: %s", why(n));
		if (!n)
			return fail("no card is bound to iopmem (p2pctl bind PCI_ADDR)");
		if (n > 1)
			return fail("there are %d regions: name the card's with -r REGION", n);
		r = regions[0];
	}
	if (!strcmp(r.pci, peer))
		return fail("%s is region %d's own card: give the peer's address", peer, r.id);
	if (geteuid())
		return fail("reading the PCI config space of the bridges (ACS) needs root");
	rep = calloc(1, sizeof(*rep));
	if (!rep)
		return fail("out of memory");
	rc = topo_check("/sys", r.pci, r.bar, peer, rep);
	if (rc == -ELOOP) {
		free(rep);
		return fail("%s is a bridge above %s or below it, not a peer", peer, r.pci);
	}
	if (rc == -E2BIG) {
		free(rep);
		return fail("the PCI path of %s or %s is deeper than %d bridges", r.pci, peer,
			    TOPO_MAX_DEPTH);
	}
	if (rc) {
		free(rep);
		return fail("cannot read the PCI topology of %s and %s: %s", r.pci, peer, why(rc));
	}
	o = topo_json(rep);
	json_object_object_add(o, "region", json_object_new_int(r.id));
	free(rep);
	rc = 0;
	/* a real transfer carves a scratch device: under the lock */
	if (transfer && (take_lock(LOCK_EX) || check_transfer(&r, peer, transfer, o)))
		rc = 1;
	if (!transfer || json_object_object_get_ex(o, "transfer", NULL))
		display_json(o);
	json_object_put(o);
	return rc;
}

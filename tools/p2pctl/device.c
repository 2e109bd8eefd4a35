// SPDX-License-Identifier: GPL-2.0
/*
 * p2pctl create-device, resize-device, destroy-device, set-owner, set-label:
 * the commands that change one device, each under the p2pctl lock (main()).
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

/* ---- devices ------------------------------------------------------------------------- */

/* the region's seed, planting one if needed */
int region_seed(struct p2p_region *r, char *seed, size_t len)
{
	char p[PATH_MAX];
	int rc;

	if (!r->seed[0]) {
		snprintf(p, sizeof(p), SYS_PCI "/%s/dax_region/create", r->pci);
		rc = sysfs_write(p, "1");
		if (rc == -ENOSPC)
			return fail("region %d is full", r->id);
		if (rc)
			return fail("cannot create a device in region %d: %s", r->id, why(rc));
		rc = region_load(r->pci, r);
		if (rc || !r->seed[0])
			return fail("region %d has no seed", r->id);
	}
	snprintf(seed, len, "%s", r->seed);
	return 0;
}

const char create_usage[] =
	"p2pctl create-device -r REGION -s SIZE|all [-a ALIGN] [-l LABEL] [--owner USER] [--group GROUP] [--mode MODE] [-u]";

/*
 * Size the region's seed into a new device.  Under the p2pctl lock (main()),
 * with every step undone if a later one fails: label (checked first, so a
 * taken label changes nothing), align, size, owner.
 */
int cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
		OPT_REGION, OPT_SIZE, OPT_ALIGN, OPT_LABEL, OPT_OWNER, OPT_GROUP,
		OPT_MODE, OPT_HUMAN, OPT_HELP, OPT_END,
	};
	const char *rspec = NULL, *sspec = NULL, *aspec = NULL, *label = NULL;
	struct owner_opts own = { 0 };
	char seed[32], p[PATH_MAX];
	uint64_t size, align = 0, old_align;
	struct p2p_region r;
	struct p2p_device d, other;
	int c, rc;

	while ((c = getopt_long(argc, argv, "r:s:a:l:o:g:m:uh", opts, NULL)) != -1) {
		switch (c) {
		case 'r': rspec = optarg; break;
		case 's': sspec = optarg; break;
		case 'a': aspec = optarg; break;
		case 'l': label = optarg; break;
		case 'u': human = true; break;
		case 'o': case 'g': case 'm':
			if (parse_owner_opt(c, optarg, &own))
				return 1;
			break;
		case 'h': printf("usage: %s\n", create_usage); return 0;
		default: return usage_error(create_usage, "bad option");
		}
	}
	if (optind < argc)
		return usage_error(create_usage, "unexpected argument '%s'", argv[optind]);
	if (!rspec || !sspec)
		return usage_error(create_usage, "-r REGION and -s SIZE are required");
	if (!strcmp(rspec, "all"))
		return fail("create-device carves one region: name it (-r ID or -r PCI_ADDR), not 'all'");
	if (size_arg(sspec, true, &size))
		return 1;
	if (size == 0)
		return fail("size must not be 0");
	if (aspec && parse_align(aspec, &align))
		return fail("bad align '%s' (4K, 2M or 1G)", aspec);
	if (label && label_arg(label))
		return 1;
	rc = region_find(rspec, &r);
	if (rc)
		return region_fail(rspec, rc);
	if (align > r.align)
		return fail("align %" PRIu64 " is larger than region %d allows (%" PRIu64 ")", align, r.id, r.align);
	if (align && align < r.min_align)
		return fail("align %" PRIu64 " is below region %d's min_align (%" PRIu64 ")",
			    align, r.id, r.min_align);
	/*
	 * More than is free cannot fit, whatever the align: refused before the
	 * seed is touched (a labelled seed that cannot grow is deleted, and
	 * the region plants a seed with a new number)
	 */
	if (size != SIZE_ALL && size > r.avail)
		return fail("not enough free space in region %d for %" PRIu64 " bytes (available_size %" PRIu64 ")",
			    r.id, size, r.avail);
	if (label) {
		rc = device_by_label(label, &other);
		if (!rc)
			return fail("label \"%s\" is already taken by %s", label, other.name);
		if (rc != -ENOENT)
			return fail("cannot scan devices: %s", why(rc));
	}
	if (region_seed(&r, seed, sizeof(seed)))
		return 1;
	rc = device_load(seed, &d);
	if (rc)
		return fail("cannot read %s: %s", seed, why(rc));
	/* the seed is idle: nobody (no other p2pctl, thanks to the lock) sized it */
	if (d.size)
		return fail("%s, the seed of region %d, is no longer empty; try again", seed, r.id);
	old_align = d.align;
	/* labelled, the seed is a device of its own (the kernel plants another) */
	if (label && write_label(seed, label))
		return 1;
	if (align && align != d.align) {
		snprintf(p, sizeof(p), SYS_P2PDAX "/%s/align", seed);
		rc = sysfs_writef(p, "%" PRIu64, align);
		if (rc) {
			rc = fail("cannot set the align of %s: %s", seed, why(rc));
			goto undo_seed;
		}
		d.align = align;
	}
	if (size == SIZE_ALL) {
		size = r.avail / d.align * d.align;
		if (!size) {
			rc = fail("region %d has no free space at align %" PRIu64, r.id, d.align);
			goto undo_seed;
		}
	}
	if (write_size(&d, size)) {
		rc = 1;
		goto undo_seed;
	}
	if (apply_owner(seed, &own)) {
		rc = 1;
		goto undo_size;
	}
	return print_device(seed);

undo_size:
	/* it was sized: now a non-seed device, which goes */
	d.size = size;
	destroy(&d);
	return rc;
undo_seed:
	if (label) {
		/* a label is for a device's life: the empty device goes with it */
		d.size = 0;
		destroy(&d);
	} else if (d.align != old_align) {
		snprintf(p, sizeof(p), SYS_P2PDAX "/%s/align", seed);
		sysfs_writef(p, "%" PRIu64, old_align);
	}
	return rc;
}

const char label_usage[] = "p2pctl set-label DEVICE LABEL|\"\"";

int cmd_set_label(int argc, char **argv)
{
	struct p2p_device d, other;
	const char *label;
	int rc;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: %s\n", label_usage);
		return 0;
	}
	if (argc != 3)
		return usage_error(label_usage, "DEVICE and LABEL expected");
	label = argv[2];
	if (label[0] && label_arg(label))
		return 1;
	if (load_device_arg(argv[1], &d))
		return 1;
	if (label[0]) {
		rc = device_by_label(label, &other);
		if (!rc && strcmp(other.name, d.name))
			return fail("label \"%s\" is already taken by %s", label, other.name);
		if (rc && rc != -ENOENT)
			return fail("cannot scan devices: %s", why(rc));
	}
	if (!strcmp(d.label, label))
		return print_device(d.name);
	/*
	 * A label says whose a device is, and grants made by label (a
	 * container's device-cgroup rule, a node given by udev) outlive every
	 * open file: a labelled device never changes hands, a new tenant gets
	 * a new device.
	 */
	if (d.label[0])
		return fail("%s has the label \"%s\" for its life: grants made by label (a container's device rule) outlive every open file, so a device never changes hands; destroy it and create a new device (a new number) with --label",
			    d.name, d.label);
	/*
	 * The first label: the kernel takes it only while the device holds no
	 * memory and is not open; until udev gives the node to the label's
	 * owner, nobody but root may open it.
	 */
	if (d.size)
		return fail("%s holds %" PRIu64 " bytes: a label would hand them to a tenant (create a new device with --label)",
			    d.name, d.size);
	/* its node is a tenant's already (set-owner): the label's owner is the next */
	if (d.uid || d.gid)
		return fail("%s was given to %u:%u (set-owner): a label would hand it to the label's tenant, and what was granted to that one outlives every file; create a new device with --label",
			    d.name, (unsigned int)d.uid, (unsigned int)d.gid);
	if (set_node_owner(d.name, &root_only))
		return 1;
	if (write_label(d.name, label)) {
		struct owner_opts was = {
			.set_uid = true, .set_gid = true, .set_mode = true,
			.uid = d.uid, .gid = d.gid, .mode = d.mode,
		};

		set_node_owner(d.name, &was);
		return 1;
	}
	return print_device(d.name);
}

const char resize_usage[] = "p2pctl resize-device DEVICE -s SIZE|all [-u]";

int cmd_resize(int argc, char **argv)
{
	static const struct option opts[] = { OPT_SIZE, OPT_HUMAN, OPT_HELP, OPT_END };
	const char *sspec = NULL;
	struct p2p_device d;
	struct p2p_region r;
	char rid[16];
	uint64_t size;
	int c;

	while ((c = getopt_long(argc, argv, "s:uh", opts, NULL)) != -1) {
		switch (c) {
		case 's': sspec = optarg; break;
		case 'u': human = true; break;
		case 'h': printf("usage: %s\n", resize_usage); return 0;
		default: return usage_error(resize_usage, "bad option");
		}
	}
	if (optind + 1 != argc || !sspec)
		return usage_error(resize_usage, "DEVICE and -s SIZE are required");
	if (size_arg(sspec, true, &size))
		return 1;
	if (load_device_arg(argv[optind], &d))
		return 1;
	if (size == SIZE_ALL) {
		snprintf(rid, sizeof(rid), "%d", d.region);
		if (region_find(rid, &r))
			return fail("region %d not found", d.region);
		size = d.size + r.avail / d.align * d.align;
	}
	if (write_size(&d, size))
		return 1;
	return print_device(d.name);
}

/* shrink to 0, then delete */
int destroy(const struct p2p_device *d)
{
	char rid[16], p[PATH_MAX];
	struct p2p_region r;
	int rc;

	snprintf(rid, sizeof(rid), "%d", d->region);
	if (region_find(rid, &r))
		return fail("region %d not found", d->region);
	if (!strcmp(r.seed, d->name))
		return fail("%s is region %d's seed and cannot be destroyed", d->name, r.id);
	if (d->size && write_size(d, 0))
		return 1;
	snprintf(p, sizeof(p), SYS_PCI "/%s/dax_region/delete", r.pci);
	rc = sysfs_write(p, d->name);
	if (rc)
		return fail("cannot delete %s: %s", d->name, why(rc));
	return 0;
}

const char destroy_usage[] = "p2pctl destroy-device DEVICE";

int cmd_destroy(int argc, char **argv)
{
	struct p2p_device d;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: %s\n", destroy_usage);
		return 0;
	}
	if (argc != 2)
		return usage_error(destroy_usage, "one device expected");
	if (load_device_arg(argv[1], &d))
		return 1;
	return destroy(&d);
}

const char owner_usage[] =
	"p2pctl set-owner DEVICE [--owner USER] [--group GROUP] [--mode MODE]";

int cmd_set_owner(int argc, char **argv)
{
	static const struct option opts[] = {
		OPT_OWNER, OPT_GROUP, OPT_MODE, OPT_HELP, OPT_END,
	};
	struct owner_opts own = { 0 };
	struct p2p_device d;
	struct p2p_region r;
	char rid[16];
	int c;

	while ((c = getopt_long(argc, argv, "o:g:m:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': case 'g': case 'm':
			if (parse_owner_opt(c, optarg, &own))
				return 1;
			break;
		case 'h': printf("usage: %s\n", owner_usage); return 0;
		default: return usage_error(owner_usage, "bad option");
		}
	}
	if (optind + 1 != argc)
		return usage_error(owner_usage, "one device expected");
	if (!own.set_uid && !own.set_gid && !own.set_mode)
		return usage_error(owner_usage, "nothing to set: give --owner, --group or --mode");
	if (load_device_arg(argv[optind], &d))
		return 1;
	/*
	 * The seed becomes the next device: an owner given to it would be
	 * the next tenant's, whoever that is, for the device's life
	 */
	snprintf(rid, sizeof(rid), "%d", d.region);
	if (!region_find(rid, &r) && !strcmp(r.seed, d.name) && (own.set_uid || own.set_gid))
		return fail("%s is region %d's seed, which becomes the next device: give that device its owner (create-device --owner)",
			    d.name, r.id);
	if (owner_change_ok(&d, &own) || apply_owner(d.name, &own))
		return 1;
	return print_device(d.name);
}

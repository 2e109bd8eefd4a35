// SPDX-License-Identifier: GPL-2.0
/*
 * p2pctl save / apply: the kernel's carving is ephemeral by design; these
 * commands write it down and recreate it after a reboot or a rebind, with
 * the same device names and, where the space is free, the same extents.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "p2pctl.h"

static struct p2p_region regions[P2PCTL_MAX_REGIONS];
static struct p2p_device devs[P2PCTL_MAX_DEVICES];

const char save_usage[] = "p2pctl save [FILE]";

static struct json_object *save_region(const struct p2p_region *r)
{
	struct json_object *o = json_object_new_object(), *jd = json_object_new_array();
	char buf[32], mode[8];
	int n, i, k;

	json_object_object_add(o, "pci", json_object_new_string(r->pci));
	if (r->bar >= 0)
		json_object_object_add(o, "bar", json_object_new_int(r->bar));
	json_object_object_add(o, "cache_mode", json_object_new_string(r->cache));
	json_object_object_add(o, "size", json_object_new_uint64(r->size));
	n = devices_scan(r->id, devs, P2PCTL_MAX_DEVICES);
	for (i = 0; i < n; i++) {
		const struct p2p_device *d = &devs[i];
		struct json_object *x, *jx = json_object_new_array();

		if (!d->size)
			continue;
		x = json_object_new_object();
		json_object_object_add(x, "name", json_object_new_string(d->name));
		json_object_object_add(x, "size", json_object_new_uint64(d->size));
		json_object_object_add(x, "align", json_object_new_uint64(d->align));
		json_object_object_add(x, "owner", json_object_new_string(user_name(d->uid, buf, sizeof(buf))));
		json_object_object_add(x, "group", json_object_new_string(group_name(d->gid, buf, sizeof(buf))));
		snprintf(mode, sizeof(mode), "%04o", (unsigned int)d->mode);
		json_object_object_add(x, "mode", json_object_new_string(mode));
		for (k = 0; k < d->nr_extents; k++) {
			struct json_object *e = json_object_new_object();

			json_object_object_add(e, "offset", json_object_new_uint64(d->extents[k].start - r->start));
			json_object_object_add(e, "length", json_object_new_uint64(d->extents[k].end - d->extents[k].start + 1));
			json_object_object_add(e, "page_offset", json_object_new_uint64(d->extents[k].pgoff));
			json_object_array_add(jx, e);
		}
		json_object_object_add(x, "extents", jx);
		json_object_array_add(jd, x);
	}
	json_object_object_add(o, "devices", jd);
	return o;
}

int cmd_save(int argc, char **argv)
{
	struct json_object *root, *jr;
	const char *path = NULL, *s;
	char tmp[PATH_MAX];
	FILE *f;
	int n, i;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-' && strcmp(argv[1], "-"))) {
		if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
			printf("usage: %s\n", save_usage);
			return 0;
		}
		return usage_error(save_usage, "at most one FILE");
	}
	if (argc == 2 && strcmp(argv[1], "-"))
		path = argv[1];
	if (geteuid() != 0)
		return fail("permission denied (p2pctl must run as root to read extents)");
	n = regions_scan(regions, P2PCTL_MAX_REGIONS);
	if (n < 0)
		return fail("cannot scan regions: %s", why(n));
	root = json_object_new_object();
	json_object_object_add(root, "version", json_object_new_int(1));
	jr = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(jr, save_region(&regions[i]));
	json_object_object_add(root, "regions", jr);
	s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
					   JSON_C_TO_STRING_SPACED |
					   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!path) {
		printf("%s\n", s);
		json_object_put(root);
		return 0;
	}
	/* write to a temporary file and rename: never a half-written layout */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f) {
		json_object_put(root);
		return fail("cannot write %s: %s", tmp, strerror(errno));
	}
	if (fprintf(f, "%s\n", s) < 0 || fclose(f) || rename(tmp, path)) {
		unlink(tmp);
		json_object_put(root);
		return fail("cannot write %s: %s", path, strerror(errno));
	}
	json_object_put(root);
	return 0;
}

/* ---- apply ------------------------------------------------------------------- */

const char apply_usage[] = "p2pctl apply [--owners-only] FILE";

static int owner_of(const struct layout_device *ld, struct owner_opts *o)
{
	memset(o, 0, sizeof(*o));
	if (ld->owner[0] && parse_owner_opt('o', ld->owner, o))
		return 1;
	if (ld->group[0] && parse_owner_opt('g', ld->group, o))
		return 1;
	o->mode = ld->mode;
	o->set_mode = true;
	return 0;
}

static struct p2p_device *find_dev(int nd, int n)
{
	int i;

	for (i = 0; i < nd; i++)
		if (devs[i].n == n)
			return &devs[i];
	return NULL;
}

static const struct layout_device *find_ldev(const struct layout_region *lr, int n)
{
	int i;

	for (i = 0; i < lr->nr_devices; i++)
		if (lr->devices[i].n == n)
			return &lr->devices[i];
	return NULL;
}

/* bytes of [0, @off) (region offsets) that no device holds */
static uint64_t free_below(const struct p2p_region *r, int nd, uint64_t off)
{
	uint64_t used = 0;
	int i, k;

	for (i = 0; i < nd; i++) {
		for (k = 0; k < devs[i].nr_extents; k++) {
			uint64_t s = devs[i].extents[k].start - r->start;
			uint64_t e = devs[i].extents[k].end - r->start + 1;

			if (s < off)
				used += (e < off ? e : off) - s;
		}
	}
	return off - used;
}

static bool range_free(const struct p2p_region *r, int nd, uint64_t off, uint64_t len)
{
	int i, k;

	for (i = 0; i < nd; i++) {
		for (k = 0; k < devs[i].nr_extents; k++) {
			uint64_t s = devs[i].extents[k].start - r->start;
			uint64_t e = devs[i].extents[k].end - r->start + 1;

			if (s < off + len && off < e)
				return false;
		}
	}
	return true;
}

static int set_align(const char *name, uint64_t align)
{
	char p[PATH_MAX];
	int rc;

	snprintf(p, sizeof(p), SYS_P2PDAX "/%s/align", name);
	rc = sysfs_writef(p, "%" PRIu64, align);
	return rc ? fail("cannot set the align of %s: %s", name, why(rc)) : 0;
}

static int resize(const char *name, uint64_t size)
{
	struct p2p_device d;
	int rc = device_load(name, &d);

	if (rc)
		return fail("cannot read %s: %s", name, why(rc));
	return write_size(&d, size);
}

/*
 * Step 1: make every device name of the layout exist (zero-size), and leave
 * a seed that is not one of them, to serve as the filler in step 2.
 */
static int make_names(struct p2p_region *r, const struct layout_region *lr)
{
	int guard, nd, i, rid, n;

	for (guard = 0; guard < 2 * P2PCTL_MAX_DEVICES; guard++) {
		bool missing = false;
		char seed[32];

		nd = devices_scan(r->id, devs, P2PCTL_MAX_DEVICES);
		for (i = 0; i < lr->nr_devices; i++)
			missing |= !find_dev(nd, lr->devices[i].n);
		if (region_load(r->pci, r))
			return fail("region of %s vanished", r->pci);
		if (!missing && r->seed[0] && !parse_dev_name(r->seed, &rid, &n) &&
		    !find_ldev(lr, n))
			return 0;
		if (!r->seed[0]) {
			char p[PATH_MAX];

			snprintf(p, sizeof(p), SYS_PCI "/%s/dax_region/create", r->pci);
			if (sysfs_write(p, "1"))
				return fail("region %d has no room to create devices", r->id);
			continue;
		}
		/* sizing the seed plants the next one; then give the page back */
		snprintf(seed, sizeof(seed), "%s", r->seed);
		if (set_align(seed, 4096) || resize(seed, 4096) || resize(seed, 0))
			return 1;
	}
	return fail("could not recreate the device names of %s", r->pci);
}

/* Step 2: size every device, extent by extent, where the layout had it. */
static int place(struct p2p_region *r, const struct layout_region *lr, int *moved)
{
	char filler[32];
	int i, k, nd;

	if (region_load(r->pci, r) || !r->seed[0])
		return fail("region %d has no seed to use as a filler", r->id);
	/*
	 * The filler takes every free byte below an extent's place, so that
	 * the kernel's first fit puts the extent exactly there.
	 */
	snprintf(filler, sizeof(filler), "%s", r->seed);
	if (set_align(filler, 4096))
		return 1;
	for (i = 0; i < lr->nr_devices; i++) {
		const struct layout_device *ld = &lr->devices[i];
		uint64_t size = 0;

		if (set_align(ld->name, ld->align))
			return 1;
		if (!ld->nr_extents && resize(ld->name, ld->size))
			return 1;
		for (k = 0; k < ld->nr_extents; k++) {
			const struct layout_extent *e = &ld->extents[k];
			uint64_t below;

			nd = devices_scan(r->id, devs, P2PCTL_MAX_DEVICES);
			if (range_free(r, nd, e->offset, e->length)) {
				below = free_below(r, nd, e->offset);
				if (below && resize(filler, below))
					return 1;
			} else {
				(*moved)++;
			}
			size += e->length;
			if (resize(ld->name, size))
				return 1;
			if (resize(filler, 0))
				return 1;
		}
	}
	/* the filler, if it stopped being the seed, goes like the other spares */
	return 0;
}

/* Step 3: delete the zero-size devices the layout does not name. */
static int drop_spares(struct p2p_region *r, const struct layout_region *lr)
{
	int nd, i;

	if (region_load(r->pci, r))
		return fail("region of %s vanished", r->pci);
	nd = devices_scan(r->id, devs, P2PCTL_MAX_DEVICES);
	for (i = 0; i < nd; i++) {
		if (devs[i].size || !strcmp(devs[i].name, r->seed) ||
		    find_ldev(lr, devs[i].n))
			continue;
		if (destroy(&devs[i]))
			return 1;
	}
	return 0;
}

static int apply_owners(const struct layout_region *lr)
{
	struct owner_opts o;
	char node[64];
	int i;

	for (i = 0; i < lr->nr_devices; i++) {
		snprintf(node, sizeof(node), "/dev/%s", lr->devices[i].name);
		if (access(node, F_OK))
			continue;
		if (owner_of(&lr->devices[i], &o) || apply_owner(lr->devices[i].name, &o))
			return 1;
	}
	return 0;
}

static int apply_region(const struct layout_region *lr, bool owners_only)
{
	struct p2p_region r;
	int nd, i, moved = 0, sized = 0, same = 0;
	char drv[64];

	pci_driver(lr->pci, drv, sizeof(drv));
	if (owners_only) {
		if (strcmp(drv, "iopmem"))
			return 0;
		return apply_owners(lr);
	}
	if (do_bind(lr->pci, lr->bar, lr->cache, true))
		return 1;
	if (region_load(lr->pci, &r))
		return fail("cannot read the region of %s", lr->pci);
	if (r.size != lr->size && lr->size)
		return fail("%s: region is %" PRIu64 " bytes, the layout wants %" PRIu64,
			    lr->pci, r.size, lr->size);
	for (i = 0; i < lr->nr_devices; i++) {
		if (lr->devices[i].n >= P2PCTL_MAX_DEVICES)
			return fail("%s: device number too large", lr->devices[i].name);
		/* names follow the region's id */
		snprintf(((struct layout_device *)&lr->devices[i])->name,
			 sizeof(lr->devices[i].name), "p2pdax%d.%d", r.id, lr->devices[i].n);
	}

	/* already there? (apply is idempotent) */
	nd = devices_scan(r.id, devs, P2PCTL_MAX_DEVICES);
	for (i = 0; i < nd; i++) {
		const struct layout_device *ld = find_ldev(lr, devs[i].n);

		if (!devs[i].size)
			continue;
		sized++;
		if (!ld)
			return fail("%s: %s is not in the layout; destroy it first", lr->pci, devs[i].name);
		if (ld->size != devs[i].size || ld->align != devs[i].align)
			return fail("%s: %s differs from the layout (size %" PRIu64 " align %" PRIu64
				    ", want %" PRIu64 " align %" PRIu64 "); destroy it first",
				    lr->pci, devs[i].name, devs[i].size, devs[i].align,
				    ld->size, ld->align);
		same++;
	}
	if (sized && same != lr->nr_devices)
		return fail("%s: the region holds part of the layout; destroy its devices first", lr->pci);
	if (!sized) {
		if (make_names(&r, lr) || place(&r, lr, &moved) || drop_spares(&r, lr))
			return 1;
		if (moved)
			fprintf(stderr, "p2pctl apply: %s: %d extents could not go back to their place\n",
				lr->pci, moved);
	}
	return apply_owners(lr);
}

int cmd_apply(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "owners-only", no_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool owners_only = false;
	struct layout l;
	char err[256];
	int c, i, rc = 0;

	while ((c = getopt_long(argc, argv, "Oh", opts, NULL)) != -1) {
		switch (c) {
		case 'O': owners_only = true; break;
		case 'h': printf("usage: %s\n", apply_usage); return 0;
		default: return usage_error(apply_usage, "bad option");
		}
	}
	if (optind + 1 != argc)
		return usage_error(apply_usage, "one FILE expected");
	if (layout_load(argv[optind], &l, err, sizeof(err)))
		return fail("%s", err);
	for (i = 0; i < l.nr_regions; i++)
		rc |= apply_region(&l.regions[i], owners_only);
	layout_free(&l);
	return rc;
}

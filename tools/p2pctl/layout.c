// SPDX-License-Identifier: GPL-2.0
/*
 * p2pctl save / apply: the kernel's carving is ephemeral by design; these
 * commands write it down and recreate it after a reboot or a rebind, where
 * the space is free with the same extents.  Devices are matched by label,
 * never by number: the kernel never reuses a device number while it runs,
 * and a number alone could name another tenant's device.
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
#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>

#include "p2pctl.h"

static struct p2p_region regions[P2PCTL_MAX_REGIONS];
static struct p2p_device devs[P2PCTL_MAX_DEVICES];

const char save_usage[] = "p2pctl save [FILE]";

static struct json_object *save_region(const struct p2p_region *r, int *rc)
{
	struct json_object *o = json_object_new_object(), *jd = json_object_new_array();
	char buf[32], mode[8];
	int n, i, k;

	json_object_object_add(o, "pci", json_object_new_string(r->pci));
	if (r->bar >= 0)
		json_object_object_add(o, "bar", json_object_new_int(r->bar));
	json_object_object_add(o, "cache_mode", json_object_new_string(r->cache));
	json_object_object_add(o, "min_align", json_object_new_uint64(r->min_align));
	json_object_object_add(o, "size", json_object_new_uint64(r->size));
	json_object_object_add(o, "devices", jd);
	n = devices_scan(r->id, devs, P2PCTL_MAX_DEVICES);
	if (n < 0) {
		*rc = fail("cannot scan the devices of region %d: %s", r->id, why(n));
		return o;
	}
	for (i = 0; i < n; i++) {
		const struct p2p_device *d = &devs[i];
		struct json_object *x, *jx;

		if (!d->size)
			continue;
		if (!d->label[0])
			fprintf(stderr, "p2pctl save: %s has no label: apply will refuse it (labels are given while a device holds no memory: create-device --label)\n",
				d->name);
		x = json_object_new_object();
		jx = json_object_new_array();
		json_object_object_add(x, "name", json_object_new_string(d->name));
		if (d->label[0])
			json_object_object_add(x, "label", json_object_new_string(d->label));
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
	return o;
}

int cmd_save(int argc, char **argv)
{
	struct json_object *root, *jr;
	const char *path = NULL;
	char *text;
	int n, i, rc = 0;

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
	json_object_object_add(root, "regions", jr);
	for (i = 0; i < n && !rc; i++)
		json_object_array_add(jr, save_region(&regions[i], &rc));
	if (rc) {
		json_object_put(root);
		return rc;
	}
	if (asprintf(&text, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
					JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)) < 0) {
		json_object_put(root);
		return fail("out of memory");
	}
	json_object_put(root);
	if (path)
		rc = write_atomic(path, text, 0600);
	else
		fputs(text, stdout);
	free(text);
	return rc;
}

/* ---- apply ------------------------------------------------------------------- */

const char apply_usage[] = "p2pctl apply [--owners-only [--device DEVICE]] FILE";

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

static const struct layout_device *find_label(const struct layout_region *lr, const char *label)
{
	int i;

	for (i = 0; i < lr->nr_devices; i++)
		if (label[0] && !strcmp(lr->devices[i].label, label))
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

/* the region's current (zero-size) seed, planting one if needed */
static int take_seed(struct p2p_region *r, char *name, size_t len)
{
	if (region_load(r->pci, r))
		return fail("region of %s vanished", r->pci);
	return region_seed(r, name, len);
}

/*
 * Undo what place() made: delete the devices it made (labelled ones are not
 * seeds any more); a filler that is still the seed keeps being it.
 */
static void unplace(char made[][32], int nr_made)
{
	struct p2p_device d;

	while (nr_made--) {
		struct p2p_region r;
		char rid[16];

		if (device_load(made[nr_made], &d))
			continue;
		snprintf(rid, sizeof(rid), "%d", d.region);
		if (!region_find(rid, &r) && !strcmp(r.seed, d.name))
			unlabel_seed(d.name);
		else
			destroy(&d);
	}
}

/*
 * Size every layout device, extent by extent, where the layout had it.  The
 * kernel places growth first-fit, so a filler device takes every free byte
 * below an extent's place first; each new device is the region's seed,
 * labelled before it is sized (the kernel then plants another seed).  On
 * failure, what was made is undone.
 */
static int place(struct p2p_region *r, const struct layout_region *lr, int *moved)
{
	static char made[P2PCTL_MAX_DEVICES + 1][32];
	char filler[32] = "", target[32];
	int i, k, nd, nr_made = 0;

	for (i = 0; i < lr->nr_devices; i++) {
		const struct layout_device *ld = &lr->devices[i];
		uint64_t size = 0;

		target[0] = 0;
		for (k = 0; k == 0 || k < ld->nr_extents; k++) {
			const struct layout_extent *e = ld->nr_extents ? &ld->extents[k] : NULL;
			uint64_t below = 0;

			nd = devices_scan(r->id, devs, P2PCTL_MAX_DEVICES);
			if (nd < 0) {
				fail("cannot scan the devices of region %d: %s", r->id, why(nd));
				goto undo;
			}
			if (e && range_free(r, nd, e->offset, e->length))
				below = free_below(r, nd, e->offset);
			else if (e)
				(*moved)++;
			if (below) {
				if (!filler[0]) {
					if (take_seed(r, filler, sizeof(filler)) || set_align(filler, r->min_align ?: 4096))
						goto undo;
					snprintf(made[nr_made++], 32, "%s", filler);
				}
				if (resize(filler, below))
					goto undo;
			}
			if (!target[0]) {
				if (take_seed(r, target, sizeof(target)))
					goto undo;
				/*
				 * Labelled, the seed is a device of its own,
				 * for life: undone by deleting it
				 */
				if (write_label(target, ld->label))
					goto undo;
				snprintf(made[nr_made++], 32, "%s", target);
				if (set_align(target, ld->align))
					goto undo;
			}
			size += e ? e->length : ld->size;
			if (resize(target, size))
				goto undo;
			if (below && resize(filler, 0))
				goto undo;
		}
	}
	if (filler[0]) {
		struct p2p_device d;

		if (device_load(filler, &d) || destroy(&d))
			return fail("could not delete the filler device %s", filler);
	}
	return 0;

undo:
	unplace(made, nr_made);
	return 1;
}

/* owners and modes of the region's devices that carry a layout label */
static int apply_owners(const struct layout_region *lr, const char *only)
{
	struct owner_opts o;
	struct p2p_device d;
	int i, rc;

	for (i = 0; i < lr->nr_devices; i++) {
		const struct layout_device *ld = &lr->devices[i];

		if (!ld->label[0])
			continue;
		rc = device_by_label(ld->label, &d);
		if (rc == -ENOENT)
			continue;
		if (rc)
			return fail("cannot scan devices: %s", why(rc));
		if (only && strcmp(only, d.name))
			continue;
		if (owner_of(ld, &o) || owner_change_ok(&d, &o) || apply_owner(d.name, &o))
			return 1;
	}
	return 0;
}

/* what apply_region() changed, so that a later failure can undo it */
struct applied {
	bool bound;	/* apply bound the card */
	bool placed;	/* apply made the region's devices */
};

static int apply_region(const struct layout_region *lr, struct applied *done)
{
	struct p2p_region r;
	int nd, i, moved = 0, sized = 0, same = 0;
	struct p2p_device d;
	char drv[64];

	pci_driver(lr->pci, drv, sizeof(drv));
	if (do_bind(lr->pci, lr->bar, lr->cache, lr->min_align, true))
		return 1;
	done->bound = strcmp(drv, "iopmem");
	if (region_load(lr->pci, &r))
		return fail("cannot read the region of %s", lr->pci);
	if (r.size != lr->size && lr->size)
		return fail("%s: region is %" PRIu64 " bytes, the layout wants %" PRIu64,
			    lr->pci, r.size, lr->size);

	/* already there? (apply is idempotent) */
	nd = devices_scan(r.id, devs, P2PCTL_MAX_DEVICES);
	if (nd < 0)
		return fail("cannot scan the devices of region %d: %s", r.id, why(nd));
	for (i = 0; i < nd; i++) {
		const struct layout_device *ld = find_label(lr, devs[i].label);

		if (!devs[i].size)
			continue;
		sized++;
		if (!ld)
			return fail("%s: %s%s%s%s is not in the layout; destroy it first", lr->pci,
				    devs[i].name, devs[i].label[0] ? " (label " : "",
				    devs[i].label, devs[i].label[0] ? ")" : "");
		if (ld->size != devs[i].size || ld->align != devs[i].align)
			return fail("%s: %s (label %s) differs from the layout (size %" PRIu64 " align %" PRIu64
				    ", want %" PRIu64 " align %" PRIu64 "); destroy it first",
				    lr->pci, devs[i].name, ld->label, devs[i].size, devs[i].align,
				    ld->size, ld->align);
		same++;
	}
	if (sized && same != lr->nr_devices)
		return fail("%s: the region holds part of the layout; destroy its devices first", lr->pci);
	if (!sized) {
		/* a layout label on a device of another card is ambiguous */
		for (i = 0; i < lr->nr_devices; i++)
			if (!device_by_label(lr->devices[i].label, &d))
				return fail("label \"%s\" is already on %s (region %d); destroy it or remove its label first",
					    lr->devices[i].label, d.name, d.region);
		if (place(&r, lr, &moved))
			return 1;
		done->placed = true;
		if (moved)
			fprintf(stderr, "p2pctl apply: %s: %d extents could not go back to their place\n",
				lr->pci, moved);
	}
	return 0;
}

/* undo apply_region(): destroy the devices it made, unbind what it bound */
static void unapply_region(const struct layout_region *lr, const struct applied *done)
{
	struct p2p_device d;
	int i;

	for (i = 0; done->placed && i < lr->nr_devices; i++)
		if (!device_by_label(lr->devices[i].label, &d))
			destroy(&d);
	if (done->bound)
		unbind_card(lr->pci, 0);
}

int cmd_apply(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "owners-only", no_argument, NULL, 'O' },
		{ "device", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct applied *done = NULL;
	const char *dspec = NULL;
	bool owners_only = false;
	char only[32];
	struct layout l;
	struct p2p_device d;
	char err[256];
	int c, i, j, rc = 0;

	while ((c = getopt_long(argc, argv, "Od:h", opts, NULL)) != -1) {
		switch (c) {
		case 'O': owners_only = true; break;
		case 'd': dspec = optarg; break;
		case 'h': printf("usage: %s\n", apply_usage); return 0;
		default: return usage_error(apply_usage, "bad option");
		}
	}
	if (optind + 1 != argc)
		return usage_error(apply_usage, "one FILE expected");
	if (dspec && !owners_only)
		return usage_error(apply_usage, "--device goes with --owners-only");
	if (dspec && device_arg(dspec, only, sizeof(only)))
		return 1;
	if (layout_load(argv[optind], &l, err, sizeof(err)))
		return fail("%s", err);
	if (!owners_only) {
		/*
		 * refuse before changing anything: a device without a label,
		 * an owner or group this host does not know (the last step,
		 * owners, must not fail after the devices are made)
		 */
		for (i = 0; i < l.nr_regions; i++)
			for (j = 0; j < l.regions[i].nr_devices; j++) {
				const struct layout_device *ld = &l.regions[i].devices[j];
				struct owner_opts o;

				if (!ld->label[0]) {
					rc = fail("%s: %s has no label; apply matches devices by label, never by number (create devices with --label, then save)",
						  argv[optind], ld->name);
					goto out;
				}
				if (owner_of(ld, &o)) {
					rc = fail("%s: the owner of \"%s\" is not known here; nothing applied",
						  argv[optind], ld->label);
					goto out;
				}
				/* a device of the label that is there: its tenant stays */
				if (!device_by_label(ld->label, &d) && owner_change_ok(&d, &o)) {
					rc = 1;
					goto out;
				}
			}
	}
	if (owners_only) {
		for (i = 0; i < l.nr_regions; i++) {
			char drv[64];

			pci_driver(l.regions[i].pci, drv, sizeof(drv));
			if (!strcmp(drv, "iopmem"))
				rc |= apply_owners(&l.regions[i], dspec ? only : NULL);
		}
		goto out;
	}
	/*
	 * All or nothing: every region's card and devices first; if one
	 * fails, the regions before it are put back as they were (devices
	 * apply made destroyed, cards it bound unbound).  Then the owners.
	 */
	done = calloc(l.nr_regions > 0 ? (size_t)l.nr_regions : 1, sizeof(*done));
	if (!done) {
		rc = fail("out of memory");
		goto out;
	}
	for (i = 0; i < l.nr_regions; i++) {
		if (apply_region(&l.regions[i], &done[i])) {
			unapply_region(&l.regions[i], &done[i]);
			while (i--)
				unapply_region(&l.regions[i], &done[i]);
			if (l.nr_regions > 1)
				fprintf(stderr, "p2pctl apply: nothing applied: the regions before it were put back\n");
			rc = 1;
			goto out;
		}
	}
	for (i = 0; i < l.nr_regions; i++)
		rc |= apply_owners(&l.regions[i], NULL);
out:
	free(done);
	layout_free(&l);
	return rc;
}

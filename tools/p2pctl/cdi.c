// SPDX-License-Identifier: GPL-2.0
/*
 * p2pctl cdi: a Container Device Interface spec naming every labelled device,
 * so that container runtimes take "--device iopmem.io/p2pdax=LABEL".  The
 * udev rule runs it on every add, change (label, size) and removal of a
 * device, so that the spec never grants a device number that is gone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "cdi-spec.h"
#include "p2pctl.h"

const char cdi_usage[] = "p2pctl cdi [-S | -f FILE] [-C] [-q]";

/*
 * Runs of cdi are serialised by a lock of their own, not p2pctl's: udev
 * runs it for every device event, and an unbind holds p2pctl's lock while
 * it waits (--timeout) for pins; the spec must not wait with it.  Each run
 * reads the devices after taking the lock, so the last run writes what is
 * there last.
 */
#define CDI_LOCK_FILE "/run/p2pctl-cdi.lock"

static int cdi_lock(void)
{
	int fd = open(CDI_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return fail("cannot open the lock %s: %s", CDI_LOCK_FILE, why(-errno));
	if (flock(fd, LOCK_EX))
		return fail("cannot lock %s: %s", CDI_LOCK_FILE, why(-errno));
	return 0;	/* held until p2pctl exits */
}

/* the device's major:minor, from sysfs (the node may not be made yet) */
static int dev_numbers(const char *name, unsigned int *major, unsigned int *minor)
{
	char p[PATH_MAX], buf[32];
	int rc;

	snprintf(p, sizeof(p), SYS_P2PDAX "/%s/dev", name);
	rc = sysfs_read(p, buf, sizeof(buf));
	if (rc)
		return rc;
	if (sscanf(buf, "%u:%u", major, minor) != 2)
		return -EINVAL;
	return 0;
}

/*
 * The spec for the labelled devices now (NULL if none is), in *spec; the
 * count of those left out (their label is no CDI name, each said on
 * stderr), or -1 with a message.
 */
static int build(struct json_object **spec, struct json_object **names)
{
	static struct p2p_device devs[P2PCTL_MAX_DEVICES];
	static struct cdi_dev cdevs[P2PCTL_MAX_DEVICES];
	const char *problem;
	int n, i, k = 0, left_out = 0, rc;

	n = devices_scan(-1, devs, P2PCTL_MAX_DEVICES);
	if (n < 0) {
		fail("cannot scan devices: %s", why(n));
		return -1;
	}
	*names = json_object_new_array();
	for (i = 0; i < n; i++) {
		struct cdi_dev *c = &cdevs[k];

		if (!devs[i].label[0])
			continue;
		if (cdi_name_check(devs[i].label, &problem)) {
			fail("%s: label \"%s\" cannot name a CDI device (%s): left out of the spec",
			     devs[i].name, devs[i].label, problem);
			left_out++;
			continue;
		}
		rc = dev_numbers(devs[i].name, &c->major, &c->minor);
		if (rc == -ENOENT)	/* deleted meanwhile: its removal runs us again */
			continue;
		if (rc) {
			fail("cannot read %s's device number: %s", devs[i].name, why(rc));
			json_object_put(*names);
			*names = NULL;
			return -1;
		}
		c->label = devs[i].label;
		c->name = devs[i].name;
		c->size = devs[i].size;
		c->align = devs[i].align;
		k++;
	}
	*spec = k ? cdi_spec(cdevs, k) : NULL;
	/* in the spec's order (by label) */
	for (i = 0; i < k; i++)
		json_object_array_add(*names, json_object_new_string(cdevs[i].label));
	return left_out;
}

/*
 * The spec file at @path now: 0 with *old (NULL if there is none), or 1
 * with a message if the file is not one p2pctl may replace.
 */
static int read_old(const char *path, struct json_object **old)
{
	const char *problem;
	struct stat st;

	*old = NULL;
	if (lstat(path, &st)) {
		/* none (or no such directory: writing says so) */
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return fail("cannot read %s: %s", path, why(-errno));
	}
	if (!S_ISREG(st.st_mode))
		return fail("%s is not a regular file (a link or a directory?): not touched", path);
	*old = json_object_from_file(path);
	if (!*old)
		return fail("%s is not JSON, so not a spec of p2pctl's: not touched (remove it or use --output)",
			    path);
	if (cdi_spec_ours(*old, &problem)) {
		json_object_put(*old);
		*old = NULL;
		return fail("%s is not a spec of p2pctl's (%s): not touched", path, problem);
	}
	return 0;
}

int cmd_cdi(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "static", no_argument, NULL, 'S' }, { "output", required_argument, NULL, 'f' },
		{ "check", no_argument, NULL, 'C' }, { "quiet", no_argument, NULL, 'q' },
		OPT_HELP, OPT_END,
	};
	const char *path = CDI_DIR_DYNAMIC "/" CDI_SPEC_FILE, *dir = CDI_DIR_DYNAMIC;
	struct json_object *spec = NULL, *old = NULL, *names = NULL, *out;
	bool check = false, quiet = false, stat_dir = false, output = false;
	char msg[512];
	int c, left_out, rc = 0;

	while ((c = getopt_long(argc, argv, "Sf:Cqh", opts, NULL)) != -1) {
		switch (c) {
		case 'S': stat_dir = true; break;
		case 'f': path = optarg; output = true; break;
		case 'C': check = true; break;
		case 'q': quiet = true; break;
		case 'h': printf("usage: %s\n", cdi_usage); return 0;
		default: return usage_error(cdi_usage, "bad option");
		}
	}
	if (optind < argc)
		return usage_error(cdi_usage, "unexpected argument '%s'", argv[optind]);
	if (stat_dir && output)
		return usage_error(cdi_usage, "--static and --output name two places: give one");
	if (output) {
		size_t len = strlen(path);

		if (!len || path[len - 1] == '/')
			return usage_error(cdi_usage, "--output takes a file, not '%s'", path);
		if (len < 6 || (strcmp(path + len - 5, ".json")))
			return usage_error(cdi_usage,
					   "--output '%s': a spec file's name ends in .json (runtimes read no other)",
					   path);
		dir = NULL;
	}
	if (stat_dir) {
		path = CDI_DIR_STATIC "/" CDI_SPEC_FILE;
		dir = CDI_DIR_STATIC;
	}

	if (cdi_lock())
		return 1;
	left_out = build(&spec, &names);
	if (left_out < 0)
		return 1;
	/*
	 * The static spec stays, naming no device, when nothing is labelled:
	 * the udev rule and the boot unit update it only while it exists.
	 */
	if (!spec && stat_dir)
		spec = cdi_spec(NULL, 0);
	if (read_old(path, &old)) {
		rc = 1;
		goto out;
	}

	if (check) {
		if (cdi_spec_diff(old, spec, msg, sizeof(msg))) {
			rc = fail("%s is out of date: %s (p2pctl cdi%s rewrites it)", path, msg,
				  stat_dir ? " --static" : output ? " --output FILE" : "");
			goto out;
		}
	} else if (!spec) {
		/* nothing labelled: no spec, rather than one with no device */
		if (old && unlink(path) && errno != ENOENT) {
			rc = fail("cannot remove %s: %s", path, why(-errno));
			goto out;
		}
	} else {
		if (dir && mkdir(dir, 0755) && errno != EEXIST) {
			rc = fail("cannot make %s: %s", dir, why(-errno));
			goto out;
		}
		if (write_atomic(path, json_object_to_json_string_ext(spec,
				JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
				JSON_C_TO_STRING_NOSLASHESCAPE), 0644)) {
			/* the old spec may name devices that are gone */
			if (old && !unlink(path))
				fail("removed the old %s rather than leave it out of date", path);
			rc = 1;
			goto out;
		}
	}
	if (!quiet) {
		out = json_object_new_object();
		jadd(out, "spec", json_object_new_string(path));
		jadd(out, "kind", json_object_new_string(CDI_KIND));
		jadd(out, "devices", json_object_get(names));
		if (check)
			jadd(out, "current", json_object_new_boolean(true));
		else
			jadd(out, "written", json_object_new_boolean(spec != NULL));
		display_json(out);
		json_object_put(out);
	}
	rc = left_out ? 1 : 0;
out:
	json_object_put(spec);
	json_object_put(old);
	json_object_put(names);
	return rc;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * p2pctl list: regions and devices as JSON.
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

/* ---- list ------------------------------------------------------------------------ */

const char list_usage[] =
	"p2pctl list [-r REGION|all] [-d DEVICE] [-D] [-M] [-i] [-u]";

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		OPT_REGION, { "device", required_argument, NULL, 'd' },
		{ "devices", no_argument, NULL, 'D' },
		{ "mappings", no_argument, NULL, 'M' },
		{ "idle", no_argument, NULL, 'i' }, OPT_HUMAN, OPT_HELP, OPT_END,
	};
	static struct p2p_region regions[P2PCTL_MAX_REGIONS];
	static struct p2p_device devs[P2PCTL_MAX_DEVICES];
	const char *rspec = NULL, *dspec = NULL;
	bool show_devs = false, maps = false, idle = false;
	struct json_object *out;
	char dname[32];
	int c, nr, nd, i, j, found = 0;

	while ((c = getopt_long(argc, argv, "r:d:DMiuh", opts, NULL)) != -1) {
		switch (c) {
		case 'r': rspec = optarg; break;
		case 'd': dspec = optarg; break;
		case 'D': show_devs = true; break;
		case 'M': maps = show_devs = true; break;
		case 'i': idle = show_devs = true; break;
		case 'u': human = true; break;
		case 'h': printf("usage: %s\n", list_usage); return 0;
		default: return usage_error(list_usage, "bad option");
		}
	}
	if (optind < argc)
		return usage_error(list_usage, "unexpected argument '%s'", argv[optind]);
	if (dspec) {
		if (device_arg(dspec, dname, sizeof(dname)))
			return 1;
		dspec = dname;
	}
	if (rspec && !strcmp(rspec, "all"))
		rspec = NULL;

	if (rspec) {
		int rc = region_find(rspec, &regions[0]);

		if (rc)
			return region_fail(rspec, rc);
		nr = 1;
	} else {
		nr = regions_scan(regions, P2PCTL_MAX_REGIONS);
		if (nr < 0)
			return fail("cannot scan regions: %s", why(nr));
	}

	out = json_object_new_array();
	for (i = 0; i < nr; i++) {
		struct json_object *jr, *jd = NULL;

		nd = devices_scan(regions[i].id, devs, P2PCTL_MAX_DEVICES);
		for (j = 0; j < nd; j++) {
			if (dspec && strcmp(devs[j].name, dspec))
				continue;
			if (!dspec && !idle && !devs[j].size)
				continue;
			found++;
			if (dspec) {
				json_object_array_add(out, device_json(&devs[j], maps));
				continue;
			}
			if (!jd)
				jd = json_object_new_array();
			json_object_array_add(jd, device_json(&devs[j], maps));
		}
		if (dspec)
			continue;
		jr = region_json(&regions[i], idle);
		if (show_devs)
			jadd(jr, "devices", jd ? jd : json_object_new_array());
		else
			json_object_put(jd);
		json_object_array_add(out, jr);
	}
	if (dspec && !found) {
		json_object_put(out);
		return fail("device %s not found", dspec);
	}
	display_json(out);
	json_object_put(out);
	return 0;
}

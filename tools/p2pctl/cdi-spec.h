/* SPDX-License-Identifier: GPL-2.0 */
/*
 * p2pctl: Container Device Interface specs for labelled p2pdax devices
 * (no sysfs access: unit-tested on the host).  One spec, kind
 * iopmem.io/p2pdax, one CDI device per labelled p2pdax device, named by its
 * label: "podman run --device iopmem.io/p2pdax=LABEL".
 */
#ifndef P2PCTL_CDI_SPEC_H
#define P2PCTL_CDI_SPEC_H

#include <json-c/json.h>
#include <stdint.h>
#include <sys/types.h>

#define CDI_KIND	"iopmem.io/p2pdax"
/*
 * The oldest version with every field used here, and the newest that
 * Debian 12's podman 4.3 (container-device-interface 0.5) reads; later
 * runtimes read it too.
 */
#define CDI_VERSION	"0.5.0"
/* vendor-class.json, as CDI's own tools name their specs */
#define CDI_SPEC_FILE	"iopmem.io-p2pdax.json"
#define CDI_DIR_DYNAMIC	"/var/run/cdi"
#define CDI_DIR_STATIC	"/etc/cdi"

struct cdi_dev {
	const char *label;	/* the CDI device name */
	const char *name;	/* p2pdaxR.N: the node is /dev/NAME */
	unsigned int major, minor;
	uint64_t size, align;
};

/*
 * 0 if @label can name a CDI device (a letter or digit first and last;
 * letters, digits, '_', '-', '.', ':' between), else -EINVAL with *why.
 * Every p2pdax label but those ending in '.', '_' or '-' can.
 */
int cdi_name_check(const char *label, const char **why);

/*
 * The spec for @devs (sorted by label here; each must pass
 * cdi_name_check() and the labels be distinct).  The caller puts it.
 */
struct json_object *cdi_spec(struct cdi_dev *devs, int n);

/*
 * Is @spec (a parsed spec file) one that p2pctl wrote: 0, or -EINVAL with
 * *why.  p2pctl rewrites or removes only its own specs.
 */
int cdi_spec_ours(struct json_object *spec, const char **why);

/*
 * Compare the spec on disk (@old, NULL if there is none) with @want (NULL
 * if no device is labelled): 0 if the same, else 1 with what differs
 * (the first few devices) in @msg.
 */
int cdi_spec_diff(struct json_object *old, struct json_object *want, char *msg, size_t len);

#endif

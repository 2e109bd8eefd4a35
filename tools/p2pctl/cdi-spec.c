// SPDX-License-Identifier: GPL-2.0
/*
 * p2pctl: building and comparing the CDI spec of the labelled devices.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdi-spec.h"

int cdi_name_check(const char *label, const char **why)
{
	size_t len = label ? strlen(label) : 0, i;

	if (!len) {
		*why = "empty";
		return -EINVAL;
	}
	if (!isalnum((unsigned char)label[0]) || !isalnum((unsigned char)label[len - 1])) {
		*why = "a CDI device name starts and ends with a letter or a digit";
		return -EINVAL;
	}
	for (i = 1; i + 1 < len; i++) {
		if (!isalnum((unsigned char)label[i]) && !strchr("_-.:", label[i])) {
			*why = "a CDI device name has only letters, digits, '_', '-', '.' and ':'";
			return -EINVAL;
		}
	}
	return 0;
}

static int cmp_label(const void *a, const void *b)
{
	const struct cdi_dev *x = a, *y = b;

	return strcmp(x->label, y->label);
}

static void add(struct json_object *o, const char *k, struct json_object *v)
{
	json_object_object_add(o, k, v);
}

static struct json_object *env(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static struct json_object *env(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return json_object_new_string(buf);
}

static struct json_object *cdi_device(const struct cdi_dev *d)
{
	struct json_object *dev = json_object_new_object(), *edits = json_object_new_object();
	struct json_object *nodes = json_object_new_array(), *node = json_object_new_object();
	struct json_object *vars = json_object_new_array();
	char path[64];

	snprintf(path, sizeof(path), "/dev/%s", d->name);
	add(node, "path", json_object_new_string(path));
	add(node, "type", json_object_new_string("c"));
	add(node, "major", json_object_new_int64(d->major));
	add(node, "minor", json_object_new_int64(d->minor));
	/*
	 * Read and write for the device cgroup; never mknod.  No owner or
	 * mode: the runtime gives the node to the container's user, and the
	 * spec does not go stale when the host node's owner changes (the
	 * container's own user namespace decides who in it opens the node;
	 * the device cgroup, which devices).
	 */
	add(node, "permissions", json_object_new_string("rw"));
	json_object_array_add(nodes, node);

	json_object_array_add(vars, env("P2PDAX_DEVICE=%s", path));
	json_object_array_add(vars, env("P2PDAX_LABEL=%s", d->label));
	json_object_array_add(vars, env("P2PDAX_SIZE=%" PRIu64, d->size));
	json_object_array_add(vars, env("P2PDAX_ALIGN=%" PRIu64, d->align));

	add(edits, "env", vars);
	add(edits, "deviceNodes", nodes);
	add(dev, "name", json_object_new_string(d->label));
	add(dev, "containerEdits", edits);
	return dev;
}

struct json_object *cdi_spec(struct cdi_dev *devs, int n)
{
	struct json_object *spec = json_object_new_object(), *a = json_object_new_array();
	int i;

	qsort(devs, n, sizeof(*devs), cmp_label);
	for (i = 0; i < n; i++)
		json_object_array_add(a, cdi_device(&devs[i]));
	add(spec, "cdiVersion", json_object_new_string(CDI_VERSION));
	add(spec, "kind", json_object_new_string(CDI_KIND));
	add(spec, "devices", a);
	return spec;
}

int cdi_spec_ours(struct json_object *spec, const char **why)
{
	struct json_object *kind;

	if (!json_object_is_type(spec, json_type_object)) {
		*why = "not a JSON object";
		return -EINVAL;
	}
	if (!json_object_object_get_ex(spec, "kind", &kind) ||
	    !json_object_is_type(kind, json_type_string) ||
	    strcmp(json_object_get_string(kind), CDI_KIND)) {
		*why = "its \"kind\" is not \"" CDI_KIND "\"";
		return -EINVAL;
	}
	return 0;
}

/* the device named @name in @spec's "devices", or NULL */
static struct json_object *find_dev(struct json_object *spec, const char *name)
{
	struct json_object *a, *d, *nm;
	size_t i;

	if (!spec || !json_object_object_get_ex(spec, "devices", &a) ||
	    !json_object_is_type(a, json_type_array))
		return NULL;
	for (i = 0; i < json_object_array_length(a); i++) {
		d = json_object_array_get_idx(a, i);
		if (json_object_object_get_ex(d, "name", &nm) &&
		    json_object_is_type(nm, json_type_string) &&
		    !strcmp(json_object_get_string(nm), name))
			return d;
	}
	return NULL;
}

static size_t nr_devs(struct json_object *spec)
{
	struct json_object *a;

	if (!spec || !json_object_object_get_ex(spec, "devices", &a) ||
	    !json_object_is_type(a, json_type_array))
		return 0;
	return json_object_array_length(a);
}

static const char *dev_name(struct json_object *spec, size_t i)
{
	struct json_object *a, *nm;

	json_object_object_get_ex(spec, "devices", &a);
	if (!json_object_object_get_ex(json_object_array_get_idx(a, i), "name", &nm) ||
	    !json_object_is_type(nm, json_type_string))
		return "(a device without a name)";
	return json_object_get_string(nm);
}

static void say(char *msg, size_t len, int *said, const char *fmt, const char *name)
{
	size_t used = strlen(msg);

	if (*said == 4) {
		snprintf(msg + used, len - used, "; ...");
		(*said)++;
	}
	if (*said > 4)
		return;
	snprintf(msg + used, len - used, fmt, used ? "; " : "", name);
	(*said)++;
}

int cdi_spec_diff(struct json_object *old, struct json_object *want, char *msg, size_t len)
{
	struct json_object *o, *w;
	int said = 0;
	size_t i;

	msg[0] = 0;
	if (!old && !want)
		return 0;
	if (old && !want) {
		snprintf(msg, len, "no device is labelled, but the spec is there");
		return 1;
	}
	if (!old) {
		snprintf(msg, len, "there is no spec, but devices are labelled");
		return 1;
	}
	for (i = 0; i < nr_devs(want); i++) {
		w = find_dev(want, dev_name(want, i));
		o = find_dev(old, dev_name(want, i));
		if (!o)
			say(msg, len, &said, "%s\"%s\" is missing", dev_name(want, i));
		else if (!json_object_equal(o, w))
			say(msg, len, &said, "%s\"%s\" is out of date", dev_name(want, i));
	}
	for (i = 0; i < nr_devs(old); i++)
		if (!find_dev(want, dev_name(old, i)))
			say(msg, len, &said, "%s\"%s\" is no labelled device", dev_name(old, i));
	if (said)
		return 1;
	if (!json_object_equal(old, want)) {
		snprintf(msg, len, "its header (cdiVersion, kind) or order differs");
		return 1;
	}
	return 0;
}

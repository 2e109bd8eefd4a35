// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side unit tests of p2pctl's CDI specs (TAP): what cdi_spec() builds
 * is checked against the CDI schema (spec 0.5: schema.json and defs.json of
 * container-device-interface, the version Debian 12's podman reads) and
 * the name rules its Go library applies, written out here on their own:
 * the required fields, their types, the kind's and the device names'
 * characters, the device node's type and permissions, env as KEY=VALUE.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdi-spec.h"

static int n, failed;

static void ok(int cond, const char *what)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++n, what);
	if (!cond)
		failed++;
}

static struct json_object *get(struct json_object *o, const char *k, json_type t)
{
	struct json_object *v;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, t))
		return NULL;
	return v;
}

/* only the keys in @allowed (space separated, each followed by a space) */
static bool keys_in(struct json_object *o, const char *allowed)
{
	char k[64];

	json_object_object_foreach(o, key, val) {
		(void)val;
		snprintf(k, sizeof(k), "%s ", key);
		if (!strstr(allowed, k)) {
			printf("#   unexpected key \"%s\"\n", key);
			return false;
		}
	}
	return true;
}

/* vendor: letters, digits, '-', '_', '.', a letter first, an alnum last;
 * class: letters, digits, '-', '_', a letter first, an alnum last */
static bool kind_valid(const char *kind)
{
	const char *slash = strchr(kind, '/'), *p;

	if (!slash || slash == kind || !slash[1] || strchr(slash + 1, '/'))
		return false;
	if (!isalpha((unsigned char)kind[0]) || !isalnum((unsigned char)slash[-1]))
		return false;
	for (p = kind; p < slash; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.", *p))
			return false;
	if (!isalpha((unsigned char)slash[1]) || !isalnum((unsigned char)kind[strlen(kind) - 1]))
		return false;
	for (p = slash + 1; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_", *p))
			return false;
	return true;
}

static bool name_valid(const char *s)
{
	size_t len = strlen(s), i;

	if (!len || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[len - 1]))
		return false;
	for (i = 1; i + 1 < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_-.:", s[i]))
			return false;
	return true;
}

static bool int_in(struct json_object *o, const char *k, long long lo, long long hi, bool need)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v))
		return !need;
	if (!json_object_is_type(v, json_type_int))
		return false;
	return json_object_get_int64(v) >= lo && json_object_get_int64(v) <= hi;
}

/* the schema and the library's rules; a message for the first violation */
static const char *schema_problem(struct json_object *spec)
{
	static const char * const versions[] = { "0.3.0", "0.4.0", "0.5.0" };
	struct json_object *v, *devs, *d, *e, *a, *x;
	size_t i, j, k;
	bool known = false;

	if (!json_object_is_type(spec, json_type_object))
		return "not an object";
	if (!keys_in(spec, "cdiVersion kind devices containerEdits "))
		return "a top-level key the schema does not have";
	v = get(spec, "cdiVersion", json_type_string);
	if (!v)
		return "cdiVersion (required string) missing";
	for (i = 0; i < 3; i++)
		known |= !strcmp(json_object_get_string(v), versions[i]);
	if (!known)
		return "cdiVersion is not one podman 4.3 reads (0.3.0-0.5.0)";
	v = get(spec, "kind", json_type_string);
	if (!v || !kind_valid(json_object_get_string(v)))
		return "kind (required, vendor/class) missing or malformed";
	devs = get(spec, "devices", json_type_array);
	if (!devs)
		return "devices (required array) missing";
	for (i = 0; i < json_object_array_length(devs); i++) {
		d = json_object_array_get_idx(devs, i);
		if (!keys_in(d, "name containerEdits "))
			return "a device key the schema does not have";
		v = get(d, "name", json_type_string);
		if (!v || !name_valid(json_object_get_string(v)))
			return "a device's name (required) missing or not a CDI name";
		for (j = 0; j < i; j++)
			if (!strcmp(json_object_get_string(get(json_object_array_get_idx(devs, j), "name",
							       json_type_string)),
				    json_object_get_string(v)))
				return "two devices of one name";
		e = get(d, "containerEdits", json_type_object);
		if (!e)
			return "a device's containerEdits (required object) missing";
		if (!keys_in(e, "env deviceNodes hooks mounts "))
			return "a containerEdits key the schema does not have";
		if ((a = get(e, "env", json_type_array))) {
			for (j = 0; j < json_object_array_length(a); j++) {
				const char *s = json_object_get_string(json_object_array_get_idx(a, j));

				if (!json_object_is_type(json_object_array_get_idx(a, j), json_type_string) ||
				    !strchr(s, '=') || s[0] == '=')
					return "an env entry that is not KEY=VALUE";
			}
		}
		a = get(e, "deviceNodes", json_type_array);
		if (!a || !json_object_array_length(a))
			return "a device without a device node";
		for (j = 0; j < json_object_array_length(a); j++) {
			x = json_object_array_get_idx(a, j);
			if (!keys_in(x, "path hostPath type major minor fileMode permissions uid gid "))
				return "a device node key the schema does not have";
			v = get(x, "path", json_type_string);
			if (!v || json_object_get_string(v)[0] != '/')
				return "a device node's path (required) missing or not absolute";
			v = get(x, "type", json_type_string);
			if (v && !strchr("bcup", json_object_get_string(v)[0]))
				return "a device node's type is not b, c, u or p";
			if ((v = get(x, "permissions", json_type_string)))
				for (k = 0; json_object_get_string(v)[k]; k++)
					if (!strchr("rwm", json_object_get_string(v)[k]))
						return "permissions other than r, w, m";
			if (!int_in(x, "major", 0, 0xfff, false) || !int_in(x, "minor", 0, 0xfffff, false))
				return "major/minor not int64 device numbers";
			if (!int_in(x, "uid", 0, 4294967295LL, false) ||
			    !int_in(x, "gid", 0, 4294967295LL, false))
				return "uid/gid not uint32";
			if (!int_in(x, "fileMode", 0, 07777, false))
				return "fileMode not permission bits";
		}
	}
	return NULL;
}

static const char *env_of(struct json_object *dev, const char *key)
{
	struct json_object *a = get(get(dev, "containerEdits", json_type_object), "env",
				    json_type_array);
	size_t i, len = strlen(key);

	for (i = 0; a && i < json_object_array_length(a); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(a, i));

		if (!strncmp(s, key, len) && s[len] == '=')
			return s + len + 1;
	}
	return "";
}

int main(void)
{
	struct cdi_dev devs[] = {
		{ "tenant2", "p2pdax0.3", 247, 3, 64 << 20, 2 << 20 },
		{ "tenant1", "p2pdax0.1", 247, 1, 32 << 20, 4096 },
		{ "a.b:c_d-e", "p2pdax1.7", 247, 70000, 1ULL << 30, 1 << 30 },
	};
	struct json_object *spec, *again, *d, *node, *other;
	const char *problem, *why;
	char msg[512];

	spec = cdi_spec(devs, 3);
	problem = schema_problem(spec);
	ok(!problem, "a spec of three devices has every field the CDI schema requires, with valid values");
	if (problem)
		printf("#   %s\n", problem);
	ok(!strcmp(json_object_get_string(get(spec, "kind", json_type_string)), "iopmem.io/p2pdax"),
	   "kind iopmem.io/p2pdax");
	ok(json_object_array_length(get(spec, "devices", json_type_array)) == 3, "three devices");
	d = json_object_array_get_idx(get(spec, "devices", json_type_array), 0);
	ok(!strcmp(json_object_get_string(get(d, "name", json_type_string)), "a.b:c_d-e"),
	   "devices sorted by label (the spec does not change with the scan's order)");
	d = json_object_array_get_idx(get(spec, "devices", json_type_array), 1);
	node = json_object_array_get_idx(get(get(d, "containerEdits", json_type_object),
					     "deviceNodes", json_type_array), 0);
	ok(!strcmp(json_object_get_string(get(d, "name", json_type_string)), "tenant1") &&
	   !strcmp(json_object_get_string(get(node, "path", json_type_string)), "/dev/p2pdax0.1") &&
	   !strcmp(json_object_get_string(get(node, "type", json_type_string)), "c") &&
	   json_object_get_int(get(node, "major", json_type_int)) == 247 &&
	   json_object_get_int(get(node, "minor", json_type_int)) == 1,
	   "tenant1: the node /dev/p2pdax0.1, char device 247:1");
	ok(!strcmp(json_object_get_string(get(node, "permissions", json_type_string)), "rw") &&
	   !json_object_object_get_ex(node, "uid", NULL) && !json_object_object_get_ex(node, "gid", NULL) &&
	   !json_object_object_get_ex(node, "fileMode", NULL),
	   "...cgroup access rw (no mknod); no owner or mode (the runtime's: the container's user)");
	ok(!strcmp(env_of(d, "P2PDAX_DEVICE"), "/dev/p2pdax0.1") &&
	   !strcmp(env_of(d, "P2PDAX_LABEL"), "tenant1") &&
	   !strcmp(env_of(d, "P2PDAX_SIZE"), "33554432") && !strcmp(env_of(d, "P2PDAX_ALIGN"), "4096"),
	   "...env: P2PDAX_DEVICE, _LABEL, _SIZE, _ALIGN");
	d = json_object_array_get_idx(get(spec, "devices", json_type_array), 0);
	node = json_object_array_get_idx(get(get(d, "containerEdits", json_type_object),
					     "deviceNodes", json_type_array), 0);
	ok(json_object_get_int(get(node, "minor", json_type_int)) == 70000 &&
	   !strcmp(env_of(d, "P2PDAX_SIZE"), "1073741824"),
	   "a minor past 255 and a 1 GiB size are kept whole");

	again = json_tokener_parse(json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PRETTY));
	ok(again && json_object_equal(again, spec), "the spec reads back as written");
	ok(cdi_spec_diff(again, spec, msg, sizeof(msg)) == 0, "--check: a spec read back is current");

	/* a label that is no CDI name; what the schema check sees in a broken spec */
	ok(cdi_name_check("tenant-", &why) == -EINVAL && strstr(why, "ends with"),
	   "label 'tenant-' is no CDI name (ends with '-')");
	ok(cdi_name_check("t.", &why) == -EINVAL && cdi_name_check("t_", &why) == -EINVAL,
	   "...nor 't.' or 't_'");
	ok(!cdi_name_check("a", &why) && !cdi_name_check("A.b-c_d:e9", &why) &&
	   !cdi_name_check("0tenant", &why), "'a', 'A.b-c_d:e9', '0tenant' are");
	ok(cdi_name_check("", &why) == -EINVAL, "'' is not");
	d = json_object_array_get_idx(get(again, "devices", json_type_array), 2);
	json_object_object_add(d, "name", json_object_new_string("bad-"));
	ok(schema_problem(again) != NULL, "the schema check finds a bad device name (it can fail)");
	json_object_put(again);
	again = json_tokener_parse(json_object_to_json_string(spec));
	json_object_object_del(again, "cdiVersion");
	ok(schema_problem(again) != NULL, "...and a missing cdiVersion");
	json_object_put(again);

	/* ours or not */
	ok(!cdi_spec_ours(spec, &why), "p2pctl's own spec is ours");
	other = json_tokener_parse("{\"cdiVersion\": \"0.5.0\", \"kind\": \"nvidia.com/gpu\", \"devices\": []}");
	ok(cdi_spec_ours(other, &why) == -EINVAL && strstr(why, "kind"),
	   "a spec of kind nvidia.com/gpu is not ours (never rewritten)");
	json_object_put(other);
	other = json_tokener_parse("[1, 2]");
	ok(cdi_spec_ours(other, &why) == -EINVAL, "a JSON array is not ours");
	json_object_put(other);

	/* --check's differences */
	again = json_tokener_parse(json_object_to_json_string(spec));
	/* cdi_spec() sorted devs: tenant2 is the last */
	ok(!strcmp(devs[2].label, "tenant2"), "cdi_spec() sorts the devices it is given");
	devs[2].size = 128 << 20;
	other = cdi_spec(devs, 3);
	ok(cdi_spec_diff(again, other, msg, sizeof(msg)) == 1 && strstr(msg, "\"tenant2\" is out of date"),
	   "--check: a resized device is out of date");
	json_object_put(other);
	other = cdi_spec(devs, 2);
	ok(cdi_spec_diff(again, other, msg, sizeof(msg)) == 1 &&
	   !strcmp(msg, "\"tenant2\" is no labelled device"),
	   "--check: a spec naming a device that is gone is out of date");
	ok(cdi_spec_diff(other, again, msg, sizeof(msg)) == 1 && strstr(msg, "is missing"),
	   "--check: a labelled device missing from the spec");
	ok(cdi_spec_diff(NULL, NULL, msg, sizeof(msg)) == 0, "--check: no spec, no label: current");
	ok(cdi_spec_diff(again, NULL, msg, sizeof(msg)) == 1, "--check: a spec but no label: out of date");
	json_object_put(other);
	json_object_put(again);
	json_object_put(spec);

	printf("1..%d\n", n);
	return failed ? 1 : 0;
}

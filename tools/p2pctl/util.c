// SPDX-License-Identifier: GPL-2.0
/* p2pctl helpers that do not touch the system: parsing, formatting, layouts. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int parse_size_why(const char *s, bool allow_all, uint64_t *out, const char **why)
{
	const char *dummy, *p;
	unsigned int shift = 0;
	uint64_t v = 0;

	if (!why)
		why = &dummy;
	*why = NULL;
	if (!s || !*s) {
		*why = "empty";
		return -EINVAL;
	}
	if (allow_all && !strcmp(s, "all")) {
		*out = SIZE_ALL;
		return 0;
	}
	if (*s == '-') {
		*why = "sizes cannot be negative";
		return -EINVAL;
	}
	if (!isdigit((unsigned char)*s)) {
		*why = allow_all ? "not a decimal number (or \"all\")" : "not a decimal number";
		return -EINVAL;
	}
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		*why = "hexadecimal is not accepted: sizes are decimal";
		return -EINVAL;
	}
	/* decimal only: "010M" is 10 MiB, never octal */
	for (p = s; isdigit((unsigned char)*p); p++) {
		unsigned int digit = (unsigned int)(*p - '0');

		if (v > (UINT64_MAX - digit) / 10) {
			*why = "too large (beyond 64 bits)";
			return -ERANGE;
		}
		v = v * 10 + digit;
	}
	switch (*p) {
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	case 't': case 'T':
		shift = 40;
		break;
	case '\0':
		break;
	default:
		*why = "unknown suffix (use K, M, G or T, powers of 1024)";
		return -EINVAL;
	}
	if (shift) {
		p++;
		if (!strcmp(p, "iB") || !strcmp(p, "B"))
			p += strlen(p);
	}
	if (*p) {
		*why = "unknown suffix (use K, M, G or T, powers of 1024)";
		return -EINVAL;
	}
	if (shift && v > (UINT64_MAX >> shift)) {
		*why = "too large (beyond 64 bits)";
		return -ERANGE;
	}
	*out = v << shift;
	return 0;
}

int parse_size(const char *s, bool allow_all, uint64_t *out)
{
	return parse_size_why(s, allow_all, out, NULL);
}

int parse_align(const char *s, uint64_t *out)
{
	uint64_t v;
	int rc = parse_size(s, false, &v);

	if (rc)
		return rc;
	if (v != 4096 && v != (2ULL << 20) && v != (1ULL << 30))
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_mode(const char *s, mode_t *out)
{
	unsigned long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || *end || v > 07777)
		return -EINVAL;
	*out = (mode_t)v;
	return 0;
}

int parse_pci_addr(const char *s, char out[PCI_ADDR_SIZE])
{
	unsigned int dom = 0, bus, dev, fn;
	char tail;

	if (!s)
		return -EINVAL;
	if (sscanf(s, "%8x:%2x:%2x.%1x%c", &dom, &bus, &dev, &fn, &tail) == 4) {
		/* full form */
	} else if (sscanf(s, "%2x:%2x.%1x%c", &bus, &dev, &fn, &tail) == 3) {
		dom = 0;
	} else {
		return -EINVAL;
	}
	if (dev > 0x1f || fn > 7 || strchr(s, ' ') || strchr(s, '-'))
		return -EINVAL;
	snprintf(out, PCI_ADDR_SIZE, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
	return 0;
}

/*
 * A decimal number of at most 9 digits at *s, without leading zeros (names
 * are spelt one way), advancing *s; -1 if there is none.
 */
static int small_decimal(const char **s)
{
	int v = 0, digits = 0;

	if (**s == '0' && isdigit((unsigned char)(*s)[1]))
		return -1;
	while (isdigit((unsigned char)**s) && digits < 10) {
		v = v * 10 + (**s - '0');
		(*s)++;
		digits++;
	}
	return digits && digits < 10 ? v : -1;
}

int parse_dev_name(const char *s, int *region, int *n)
{
	int r, d;

	if (!s || strncmp(s, "p2pdax", 6))
		return -EINVAL;
	s += 6;
	r = small_decimal(&s);
	if (r < 0 || *s++ != '.')
		return -EINVAL;
	d = small_decimal(&s);
	if (d < 0 || *s)
		return -EINVAL;
	*region = r;
	*n = d;
	return 0;
}

int parse_dev_arg(const char *s, char *name, size_t len)
{
	char buf[64];
	int r, n;

	if (!s || strlen(s) >= sizeof(buf) - 6)
		return -EINVAL;
	if (!strncmp(s, "/dev/", 5))
		snprintf(buf, sizeof(buf), "%s", s + 5);	/* only p2pdaxR.N */
	else if (isdigit((unsigned char)*s))
		snprintf(buf, sizeof(buf), "p2pdax%s", s);	/* R.N */
	else
		snprintf(buf, sizeof(buf), "%s", s);
	if (parse_dev_name(buf, &r, &n))
		return -EINVAL;
	if ((size_t)snprintf(name, len, "p2pdax%d.%d", r, n) >= len)
		return -EINVAL;
	return 0;
}

int check_label(const char *s, const char **why)
{
	const char *p;

	if (!s || !*s) {
		*why = "empty";
		return -EINVAL;
	}
	if (strlen(s) > P2PCTL_LABEL_MAX) {
		*why = "longer than 63 characters";
		return -EINVAL;
	}
	if (!isalnum((unsigned char)*s)) {
		*why = "must start with a letter or a digit";
		return -EINVAL;
	}
	for (p = s; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr("._-", *p)) {
			*why = "only letters, digits, '.', '_' and '-' are allowed";
			return -EINVAL;
		}
	}
	return 0;
}

const char *fmt_human(uint64_t bytes, char *buf, size_t len)
{
	static const char * const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", bytes);
	else
		snprintf(buf, len, "%.2f %s", v, units[u]);
	return buf;
}

void display_json(struct json_object *obj)
{
	printf("%s\n", json_object_to_json_string_ext(obj,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* ---- layouts ------------------------------------------------------------ */

static int lerr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static struct json_object *get(struct json_object *o, const char *key,
			       enum json_type type)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

/* a non-negative integer, or a size string like "2M" */
static int get_u64(struct json_object *o, const char *key, uint64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return -ENOENT;
	if (json_object_is_type(v, json_type_int)) {
		errno = 0;
		if (json_object_get_int64(v) < 0)
			return -EINVAL;
		*out = json_object_get_uint64(v);
		return errno ? -ERANGE : 0;
	}
	if (json_object_is_type(v, json_type_string))
		return parse_size(json_object_get_string(v), false, out);
	return -EINVAL;
}

static int layout_device(struct json_object *jd, struct layout_device *d,
			 const char *where, char *err, size_t errlen)
{
	struct json_object *v, *jx;
	int region, n, i;
	uint64_t covered = 0;

	memset(d, 0, sizeof(*d));
	d->mode = 0600;
	v = get(jd, "name", json_type_string);
	if (!v || parse_dev_name(json_object_get_string(v), &region, &n))
		return lerr(err, errlen, "%s: \"name\" must be a device name like p2pdax0.1", where);
	snprintf(d->name, sizeof(d->name), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(jd, "label", &v)) {
		const char *why;

		if (!json_object_is_type(v, json_type_string) ||
		    check_label(json_object_get_string(v), &why))
			return lerr(err, errlen, "%s: bad \"label\" (%s)", d->name,
				    json_object_is_type(v, json_type_string) ? why : "not a string");
		snprintf(d->label, sizeof(d->label), "%s", json_object_get_string(v));
	}
	if (get_u64(jd, "size", &d->size))
		return lerr(err, errlen, "%s: \"size\" missing or not a size", d->name);
	if (get_u64(jd, "align", &d->align) ||
	    (d->align != 4096 && d->align != 2ULL << 20 && d->align != 1ULL << 30))
		return lerr(err, errlen, "%s: \"align\" must be 4096, 2097152 or 1073741824", d->name);
	if (d->size % d->align)
		return lerr(err, errlen, "%s: size %" PRIu64 " is not a multiple of align %" PRIu64,
			    d->name, d->size, d->align);
	if ((v = get(jd, "owner", json_type_string)))
		snprintf(d->owner, sizeof(d->owner), "%s", json_object_get_string(v));
	if ((v = get(jd, "group", json_type_string)))
		snprintf(d->group, sizeof(d->group), "%s", json_object_get_string(v));
	if ((v = get(jd, "mode", json_type_string)) &&
	    parse_mode(json_object_get_string(v), &d->mode))
		return lerr(err, errlen, "%s: \"mode\" must be octal like \"0600\"", d->name);
	jx = get(jd, "extents", json_type_array);
	if (!jx)
		return 0;	/* no placement wanted */
	d->nr_extents = json_object_array_length(jx);
	if (d->nr_extents > P2PCTL_MAX_EXTENTS)
		return lerr(err, errlen, "%s: more than %d extents", d->name, P2PCTL_MAX_EXTENTS);
	for (i = 0; i < d->nr_extents; i++) {
		struct json_object *je = json_object_array_get_idx(jx, i);
		struct layout_extent *e = &d->extents[i];

		if (!json_object_is_type(je, json_type_object) ||
		    get_u64(je, "offset", &e->offset) ||
		    get_u64(je, "length", &e->length) ||
		    get_u64(je, "page_offset", &e->page_offset))
			return lerr(err, errlen, "%s: extent %d needs offset, length and page_offset", d->name, i);
		if (e->offset % d->align || e->length % d->align || !e->length)
			return lerr(err, errlen, "%s: extent %d is not aligned to %" PRIu64, d->name, i, d->align);
		if (e->page_offset * 4096 != covered)
			return lerr(err, errlen, "%s: extent %d starts at page %" PRIu64 ", expected %" PRIu64,
				    d->name, i, e->page_offset, covered / 4096);
		covered += e->length;
	}
	if (covered != d->size)
		return lerr(err, errlen, "%s: extents cover %" PRIu64 " bytes, size is %" PRIu64,
			    d->name, covered, d->size);
	return 0;
}

int layout_from_json(struct json_object *root, struct layout *l, char *err,
		     size_t errlen)
{
	struct json_object *jr, *v;
	int i, j, k, rc;

	memset(l, 0, sizeof(*l));
	if (!root || !json_object_is_type(root, json_type_object))
		return lerr(err, errlen, "the layout must be a JSON object");
	v = get(root, "version", json_type_int);
	if (!v || json_object_get_int(v) != 1)
		return lerr(err, errlen, "unsupported layout version (want \"version\": 1)");
	jr = get(root, "regions", json_type_array);
	if (!jr)
		return lerr(err, errlen, "\"regions\" must be an array");
	l->nr_regions = json_object_array_length(jr);
	if (l->nr_regions > P2PCTL_MAX_REGIONS)
		return lerr(err, errlen, "too many regions");
	for (i = 0; i < l->nr_regions; i++) {
		struct json_object *o = json_object_array_get_idx(jr, i), *jd;
		struct layout_region *r = &l->regions[i];
		char where[64];

		snprintf(where, sizeof(where), "region %d", i);
		if (!json_object_is_type(o, json_type_object))
			return lerr(err, errlen, "%s is not an object", where);
		v = get(o, "pci", json_type_string);
		if (!v || parse_pci_addr(json_object_get_string(v), r->pci))
			return lerr(err, errlen, "%s: \"pci\" must be a PCI address like 0000:01:00.0", where);
		r->bar = -1;
		if ((v = get(o, "bar", json_type_int))) {
			r->bar = json_object_get_int(v);
			if (r->bar < 0 || r->bar > 5)
				return lerr(err, errlen, "%s: \"bar\" must be 0-5", r->pci);
		}
		r->min_align = 0;
		rc = get_u64(o, "min_align", &r->min_align);
		if ((rc && rc != -ENOENT) || (!rc && r->min_align != 4096 &&
					     r->min_align != 2 << 20 && r->min_align != 1 << 30))
			return lerr(err, errlen, "%s: \"min_align\" must be 4096, 2097152 or 1073741824 (4K, 2M or 1G)",
				    r->pci);
		/* the region's size, if given, must be the bound card's */
		r->size = 0;
		rc = get_u64(o, "size", &r->size);
		if ((rc && rc != -ENOENT) || (!rc && !r->size))
			return lerr(err, errlen, "%s: \"size\" must be a number of bytes above 0", r->pci);
		if ((v = get(o, "cache_mode", json_type_string))) {
			const char *c = json_object_get_string(v);

			if (strcmp(c, "wc") && strcmp(c, "uc") && strcmp(c, "wb") && strcmp(c, "uc-"))
				return lerr(err, errlen, "%s: \"cache_mode\" must be wc, uc or wb", r->pci);
			/* uc- is what a wb request became: ask for wb again */
			snprintf(r->cache, sizeof(r->cache), "%s", strcmp(c, "uc-") ? c : "wb");
		}
		for (k = 0; k < i; k++)
			if (!strcmp(l->regions[k].pci, r->pci))
				return lerr(err, errlen, "%s appears twice", r->pci);
		jd = get(o, "devices", json_type_array);
		if (!jd)
			return lerr(err, errlen, "%s: \"devices\" must be an array", r->pci);
		r->nr_devices = json_object_array_length(jd);
		if (r->nr_devices > P2PCTL_MAX_DEVICES)
			return lerr(err, errlen, "%s: too many devices", r->pci);
		r->devices = calloc(r->nr_devices ? r->nr_devices : 1, sizeof(*r->devices));
		if (!r->devices)
			return lerr(err, errlen, "out of memory");
		for (j = 0; j < r->nr_devices; j++) {
			struct json_object *o2 = json_object_array_get_idx(jd, j);

			snprintf(where, sizeof(where), "%s device %d", r->pci, j);
			if (!json_object_is_type(o2, json_type_object))
				return lerr(err, errlen, "%s is not an object", where);
			rc = layout_device(o2, &r->devices[j], where, err, errlen);
			if (rc)
				return rc;
			if (r->devices[j].align < r->min_align)
				return lerr(err, errlen, "%s: align %" PRIu64 " is below the region's min_align %" PRIu64,
					    where, r->devices[j].align, r->min_align);
			for (k = 0; k < j; k++)
				if (!strcmp(r->devices[k].name, r->devices[j].name))
					return lerr(err, errlen, "%s: device %s appears twice",
						    r->pci, r->devices[j].name);
			if (r->devices[j].label[0] &&
			    layout_find_label(l, r->devices[j].label, &r->devices[j]))
				return lerr(err, errlen, "label \"%s\" appears twice (labels name one device)",
					    r->devices[j].label);
		}
	}
	return 0;
}

const struct layout_device *layout_find_label(const struct layout *l, const char *label,
					     const struct layout_device *skip)
{
	int i, j;

	for (i = 0; i < l->nr_regions; i++) {
		const struct layout_region *r = &l->regions[i];

		for (j = 0; j < r->nr_devices && r->devices; j++)
			if (&r->devices[j] != skip && r->devices[j].label[0] &&
			    !strcmp(r->devices[j].label, label))
				return &r->devices[j];
	}
	return NULL;
}

int layout_load(const char *path, struct layout *l, char *err, size_t errlen)
{
	struct json_object *root;
	enum json_tokener_error jerr;
	struct json_tokener *tok;
	char *buf = NULL;
	size_t cap = 0, len = 0;
	FILE *f;
	int rc;

	f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f)
		return lerr(err, errlen, "cannot open %s: %s", path, strerror(errno));
	for (;;) {
		if (len + 4096 > cap) {
			char *nb = realloc(buf, cap = cap * 2 + 4096);

			if (!nb) {
				free(buf);
				return lerr(err, errlen, "out of memory");
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);

		if (!n)
			break;
		len += n;
	}
	if (f != stdin)
		fclose(f);
	buf[len] = 0;
	tok = json_tokener_new();
	root = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	if (!root || jerr != json_tokener_success ||
	    json_tokener_get_parse_end(tok) < len) {
		size_t at = json_tokener_get_parse_end(tok);

		/* trailing white space is fine */
		while (root && at < len && isspace((unsigned char)buf[at]))
			at++;
		if (!root || jerr != json_tokener_success || at < len) {
			json_tokener_free(tok);
			json_object_put(root);
			free(buf);
			return lerr(err, errlen, "%s is not valid JSON (%s, at byte %zu)", path,
				    jerr != json_tokener_success ? json_tokener_error_desc(jerr) : "trailing data",
				    at);
		}
	}
	json_tokener_free(tok);
	free(buf);
	rc = layout_from_json(root, l, err, errlen);
	json_object_put(root);
	if (rc)
		layout_free(l);
	return rc;
}

void layout_free(struct layout *l)
{
	int i;

	for (i = 0; i < l->nr_regions; i++) {
		free(l->regions[i].devices);
		l->regions[i].devices = NULL;
	}
	l->nr_regions = 0;
}

/* SPDX-License-Identifier: GPL-2.0 */
/* p2pctl: helpers with no sysfs access (unit-tested on the host). */
#ifndef P2PCTL_UTIL_H
#define P2PCTL_UTIL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define P2PCTL_MAX_EXTENTS	64
#define P2PCTL_MAX_DEVICES	1024
#define P2PCTL_MAX_REGIONS	64

/* parse_size() results besides a size */
#define SIZE_ALL	UINT64_MAX

/*
 * "4096", "4K", "2M", "1G", "1T": decimal digits ("010M" is 10 MiB) with an
 * optional binary suffix ("KiB"/"KB"/"k" accepted), or "all" when
 * @allow_all.  Returns 0 and sets *out, or -EINVAL (malformed, negative,
 * empty, hexadecimal) or -ERANGE (beyond 64 bits); *why (if not NULL) then
 * says what is wrong, for messages.
 */
int parse_size_why(const char *s, bool allow_all, uint64_t *out, const char **why);
int parse_size(const char *s, bool allow_all, uint64_t *out);
/* "4096", "4K", "2M", "1G" -> a valid device alignment, else -EINVAL */
int parse_align(const char *s, uint64_t *out);
/* octal mode "0640"/"640" (permission bits only), else -EINVAL */
int parse_mode(const char *s, mode_t *out);
/*
 * A PCI address as sysfs spells it: "0000:01:00.0", the domain as many hex
 * digits as it has (at least 4; VMD's start at 10000); up to 8 digits.
 */
#define PCI_ADDR_SIZE 18
/* "0000:01:00.0" (domain optional on input); writes the canonical form */
int parse_pci_addr(const char *s, char out[PCI_ADDR_SIZE]);
/* "p2pdaxR.N" */
int parse_dev_name(const char *s, int *region, int *n);
/*
 * A device as the user may name it: "p2pdaxR.N", "/dev/p2pdaxR.N" or "R.N".
 * Writes the canonical "p2pdaxR.N" to @name; -EINVAL if it is none of these.
 */
int parse_dev_arg(const char *s, char *name, size_t len);

/* Device labels: 1-63 of [A-Za-z0-9._-], starting with a letter or digit. */
#define P2PCTL_LABEL_MAX	63
/* 0 if @s is a valid label, else -EINVAL with *why saying what is wrong */
int check_label(const char *s, const char **why);

/* "256.00 MiB" */
const char *fmt_human(uint64_t bytes, char *buf, size_t len);

/* the layout that save writes and apply reads */
struct layout_extent {
	uint64_t offset;	/* bytes from the region start */
	uint64_t length;
	uint64_t page_offset;	/* device page the extent starts at */
};

struct layout_device {
	char name[32];		/* as saved; devices are matched by label */
	char label[P2PCTL_LABEL_MAX + 1];	/* "" if the layout has none */
	uint64_t size;
	uint64_t align;
	char owner[64];
	char group[64];
	mode_t mode;
	int nr_extents;
	struct layout_extent extents[P2PCTL_MAX_EXTENTS];
};

struct layout_region {
	char pci[PCI_ADDR_SIZE];
	int bar;		/* -1: iopmem's default */
	uint64_t min_align;	/* 0: iopmem's parameter */
	char cache[8];		/* "" keeps iopmem's parameter */
	uint64_t size;
	int nr_devices;
	struct layout_device *devices;
};

struct layout {
	int nr_regions;
	struct layout_region regions[P2PCTL_MAX_REGIONS];
};

/*
 * Parse and validate a layout document.  On error returns -EINVAL and puts
 * a message naming what is wrong in @err.
 */
int layout_from_json(struct json_object *root, struct layout *l, char *err,
		     size_t errlen);
/* the layout's device with @label, other than @skip, or NULL */
const struct layout_device *layout_find_label(const struct layout *l, const char *label,
					     const struct layout_device *skip);
int layout_load(const char *path, struct layout *l, char *err, size_t errlen);
void layout_free(struct layout *l);

/* the one place JSON is printed */
void display_json(struct json_object *obj);

#endif

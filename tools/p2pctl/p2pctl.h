/* SPDX-License-Identifier: GPL-2.0 */
/* p2pctl: helpers shared between the commands. */
#ifndef P2PCTL_H
#define P2PCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* from debian/changelog, through the Makefile */
#ifndef P2PCTL_VERSION
#error "P2PCTL_VERSION is not defined: build p2pctl with the top-level Makefile"
#endif

#include "sysfs.h"
#include "util.h"

extern const char *cmd_name;
extern bool human;

/* print "p2pctl CMD: message" on stderr; return 1 (or 2 for usage) */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int usage_error(const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *why(int rc);

struct json_object *region_json(const struct p2p_region *r, bool seed);
struct json_object *device_json(const struct p2p_device *d, bool extents);
const char *user_name(uid_t uid, char *buf, size_t len);
const char *group_name(gid_t gid, char *buf, size_t len);

struct owner_opts {
	bool set_uid, set_gid, set_mode;
	uid_t uid;
	gid_t gid;
	mode_t mode;
};

int parse_owner_opt(int c, const char *arg, struct owner_opts *o);
int apply_owner(const char *name, const struct owner_opts *o);
int pci_driver(const char *pci, char *drv, size_t len);
int do_bind(const char *pci, int bar, const char *cache, uint64_t min_align, bool quiet);
int write_size(const struct p2p_device *d, uint64_t size);
int destroy(const struct p2p_device *d);
int write_label(const char *name, const char *label);
void unlabel_seed(const char *seed);
int region_seed(struct p2p_region *r, char *seed, size_t len);

extern const char save_usage[], apply_usage[], unbind_usage[];
int cmd_unbind(int argc, char **argv);
int unbind_card(const char *pci);
struct json_object;
int check_transfer(const struct p2p_region *r, const char *peer, const char *spec,
		   struct json_object *out);
int cmd_save(int argc, char **argv);
int cmd_apply(int argc, char **argv);

#endif

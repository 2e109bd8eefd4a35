/* SPDX-License-Identifier: GPL-2.0 */
/* p2pctl: helpers shared between the commands. */
#ifndef P2PCTL_H
#define P2PCTL_H

#include <getopt.h>
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
int set_node_owner(const char *name, const struct owner_opts *o);
int owner_change_ok(const struct p2p_device *d, const struct owner_opts *o);
int pci_driver(const char *pci, char *drv, size_t len);
int do_bind(const char *pci, int bar, const char *cache, uint64_t min_align, bool quiet);
int write_size(const struct p2p_device *d, uint64_t size);
int destroy(const struct p2p_device *d);
int write_label(const char *name, const char *label);
void unlabel_seed(const char *seed);
int region_seed(struct p2p_region *r, char *seed, size_t len);
int write_atomic(const char *path, const char *text, mode_t mode);

/* options shared by the commands (getopt_long) */
#define OPT_REGION	{ "region", required_argument, NULL, 'r' }
#define OPT_SIZE	{ "size", required_argument, NULL, 's' }
#define OPT_ALIGN	{ "align", required_argument, NULL, 'a' }
#define OPT_OWNER	{ "owner", required_argument, NULL, 'o' }
#define OPT_GROUP	{ "group", required_argument, NULL, 'g' }
#define OPT_MODE	{ "mode", required_argument, NULL, 'm' }
#define OPT_HUMAN	{ "human", no_argument, NULL, 'u' }
#define OPT_LABEL	{ "label", required_argument, NULL, 'l' }
#define OPT_HELP	{ "help", no_argument, NULL, 'h' }
#define OPT_END		{ NULL, 0, NULL, 0 }

/* the commands (p2pctl.c's table): card.c, device.c, list.c, check.c, layout.c, cdi.c */
extern const char list_usage[], bind_usage[], unbind_usage[], create_usage[], resize_usage[],
	destroy_usage[], owner_usage[], label_usage[], check_usage[], save_usage[], apply_usage[],
	cdi_usage[];
int cmd_list(int argc, char **argv);
int cmd_bind(int argc, char **argv);
int cmd_unbind(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_resize(int argc, char **argv);
int cmd_destroy(int argc, char **argv);
int cmd_set_owner(int argc, char **argv);
int cmd_set_label(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_save(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_cdi(int argc, char **argv);

/* helpers of the commands (p2pctl.c) */
void jadd(struct json_object *o, const char *k, struct json_object *v);
int print_device(const char *name);
int device_arg(const char *arg, char *name, size_t len);
int load_device_arg(const char *arg, struct p2p_device *d);
int size_arg(const char *spec, bool allow_all, uint64_t *size);
int label_arg(const char *label);
int region_fail(const char *spec, int rc);
int take_lock(int how);
extern const struct owner_opts root_only;
int unbind_card(const char *pci, long timeout);
struct json_object;
int check_transfer(const struct p2p_region *r, const char *peer, const char *spec,
		   struct json_object *out);
int cmd_save(int argc, char **argv);
int cmd_apply(int argc, char **argv);

#endif

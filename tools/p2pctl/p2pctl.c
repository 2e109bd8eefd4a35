// SPDX-License-Identifier: GPL-2.0
/*
 * p2pctl: the administrator's tool for iopmem cards and p2pdax devices.
 * Here: the command table, the lock, the helpers the commands share, and
 * JSON output through one helper.  The commands, one family per file:
 * list.c, card.c (bind, unbind), device.c (create, resize, destroy, owner,
 * label), check.c (+ transfer.c), layout.c (save, apply), cdi.c (+
 * cdi-spec.c); the shared option macros are in p2pctl.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "p2pctl.h"
#include "topology.h"

const char *cmd_name = "p2pctl";
bool human;

int fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "p2pctl %s: ", cmd_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "p2pctl %s: ", cmd_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s\n", usage);
	return 2;
}

/* What a failed sysfs access means, for messages. */
const char *why(int rc)
{
	switch (-rc) {
	case EACCES:
	case EPERM:
		return "permission denied (p2pctl must run as root)";
	default:
		return strerror(-rc);
	}
}

/* ---- JSON ------------------------------------------------------------------ */

static struct json_object *jsize(uint64_t v)
{
	char buf[32];

	if (human)
		return json_object_new_string(fmt_human(v, buf, sizeof(buf)));
	return json_object_new_uint64(v);
}

static struct json_object *jhex(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%#" PRIx64, v);
	return json_object_new_string(buf);
}

void jadd(struct json_object *o, const char *k, struct json_object *v)
{
	json_object_object_add(o, k, v);
}

const char *user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		return pw->pw_name;
	snprintf(buf, len, "%u", uid);
	return buf;
}

const char *group_name(gid_t gid, char *buf, size_t len)
{
	struct group *gr = getgrgid(gid);

	if (gr)
		return gr->gr_name;
	snprintf(buf, len, "%u", gid);
	return buf;
}

struct json_object *region_json(const struct p2p_region *r, bool seed)
{
	struct json_object *o = json_object_new_object();

	jadd(o, "pci", json_object_new_string(r->pci));
	jadd(o, "id", json_object_new_int(r->id));
	jadd(o, "size", jsize(r->size));
	jadd(o, "available_size", jsize(r->avail));
	jadd(o, "align", jsize(r->align));
	jadd(o, "min_align", jsize(r->min_align));
	jadd(o, "cache_mode", json_object_new_string(r->cache));
	if (r->bar >= 0)
		jadd(o, "bar", json_object_new_int(r->bar));
	if (seed && r->seed[0])
		jadd(o, "seed", json_object_new_string(r->seed));
	return o;
}

struct json_object *device_json(const struct p2p_device *d, bool extents)
{
	struct json_object *o = json_object_new_object(), *a;
	char buf[32], mode[8];
	int i;

	jadd(o, "chardev", json_object_new_string(d->name));
	if (d->label[0])
		jadd(o, "label", json_object_new_string(d->label));
	jadd(o, "size", jsize(d->size));
	jadd(o, "align", jsize(d->align));
	jadd(o, "owner", json_object_new_string(user_name(d->uid, buf, sizeof(buf))));
	jadd(o, "group", json_object_new_string(group_name(d->gid, buf, sizeof(buf))));
	snprintf(mode, sizeof(mode), "%04o", (unsigned int)d->mode);
	jadd(o, "mode", json_object_new_string(mode));
	if (!extents)
		return o;
	a = json_object_new_array();
	for (i = 0; i < d->nr_extents; i++) {
		struct json_object *e = json_object_new_object();

		jadd(e, "start", jhex(d->extents[i].start));
		jadd(e, "end", jhex(d->extents[i].end));
		jadd(e, "page_offset", json_object_new_uint64(d->extents[i].pgoff));
		json_object_array_add(a, e);
	}
	jadd(o, "extents", a);
	return o;
}

int print_device(const char *name)
{
	struct p2p_device d;
	int rc = device_load(name, &d);

	if (rc)
		return fail("cannot read %s: %s", name, why(rc));
	struct json_object *o = device_json(&d, false);

	display_json(o);
	json_object_put(o);
	return 0;
}

/* ---- shared option parsing ---------------------------------------------------- */


/* a user or group name, or a plain number; -1 if neither */
static long name_or_id(const char *arg, bool group)
{
	struct passwd *pw;
	struct group *gr;
	unsigned long v;
	char *end;

	if (group && (gr = getgrnam(arg)))
		return gr->gr_gid;
	if (!group && (pw = getpwnam(arg)))
		return pw->pw_uid;
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (!*arg || *end || errno || v > UINT32_MAX - 1)
		return -1;
	return (long)v;
}

int parse_owner_opt(int c, const char *arg, struct owner_opts *o)
{
	long id;

	switch (c) {
	case 'o':
		id = name_or_id(arg, false);
		if (id < 0)
			return fail("no such user '%s'", arg);
		o->uid = (uid_t)id;
		o->set_uid = true;
		return 0;
	case 'g':
		id = name_or_id(arg, true);
		if (id < 0)
			return fail("no such group '%s'", arg);
		o->gid = (gid_t)id;
		o->set_gid = true;
		return 0;
	case 'm':
		if (parse_mode(arg, &o->mode))
			return fail("bad mode '%s' (octal, like 0600)", arg);
		o->set_mode = true;
		return 0;
	}
	return 1;
}

/*
 * Let udev finish the events of the changes just made (a label, a size)
 * before setting owner and mode: udevd applies its own idea of a node's
 * permissions when it handles an event, and one handled after our chmod
 * would undo it.  Only when udevd runs, and not in a program udev runs; at
 * most 5 seconds.
 */
static void udev_settle(void)
{
	char *argv[] = { "udevadm", "settle", "--timeout=5", NULL };
	int status;
	pid_t pid;

	/* not from udev's own RUN (apply --owners-only): it would wait for itself */
	if (access("/run/udev/control", F_OK) || getenv("DEVPATH"))
		return;
	if (posix_spawnp(&pid, "udevadm", NULL, NULL, argv, environ))
		return;
	waitpid(pid, &status, 0);
}

static void drop_lock(void);

/*
 * chown/chmod a device node, under the lock (a step before the sizes and
 * labels are done, or the undoing of one)
 */
int set_node_owner(const char *name, const struct owner_opts *o)
{
	char node[64];

	snprintf(node, sizeof(node), "/dev/%s", name);
	if ((o->set_uid || o->set_gid) &&
	    chown(node, o->set_uid ? o->uid : (uid_t)-1,
		  o->set_gid ? o->gid : (gid_t)-1))
		return fail("cannot chown %s: %s", node, why(-errno));
	if (o->set_mode && chmod(node, o->mode))
		return fail("cannot chmod %s: %s", node, why(-errno));
	return 0;
}

/*
 * A node's owner and group, once a tenant's (not root), are the device's
 * for its life, like its label: a grant made for that tenant (a container's
 * device rule for the device's number, an ACL, the owner itself) outlives
 * every open file and every byte the device held, so giving the node to
 * someone else, or back to root for a later hand-over, would hand them the
 * next tenant's memory.  The mode may change.  0, or 1 with a message.
 */
int owner_change_ok(const struct p2p_device *d, const struct owner_opts *o)
{
	char a[64], b[64];

	if (o->set_uid && d->uid && o->uid != d->uid)
		return fail("%s belongs to %s for its life: a grant made for that tenant (a container's rule for its number) outlives every file, so a device never changes hands; destroy it and create a new device for the new tenant",
			    d->name, user_name(d->uid, a, sizeof(a)));
	if (o->set_gid && d->gid && o->gid != d->gid)
		return fail("%s belongs to group %s for its life: a grant made for that group outlives every file, so a device never changes hands; destroy it and create a new device (--group %s)",
			    d->name, group_name(d->gid, a, sizeof(a)), group_name(o->gid, b, sizeof(b)));
	return 0;
}

/*
 * A command's last step: the owner, group and mode of a node.  The sizes
 * and labels are done, so the lock goes first (udev's rule, which takes it,
 * may be running for this very device), then udev's queue settles (what it
 * does for the device comes before this).
 */
int apply_owner(const char *name, const struct owner_opts *o)
{
	if (o->set_uid || o->set_gid || o->set_mode) {
		drop_lock();
		udev_settle();
	}
	return set_node_owner(name, o);
}

/*
 * A device argument: a name in any spelling parse_dev_arg() takes, else a
 * label (LABEL or /dev/p2pdax/by-label/LABEL: a label that looks like a
 * device name must be given as the link).  0, or 1 with a message.
 */
int device_arg(const char *arg, char *name, size_t len)
{
	static const char link[] = "/dev/p2pdax/by-label/";
	const char *label = arg, *problem;
	struct p2p_device d;
	int rc;

	if (!arg)
		return fail("no device given");
	if (!strncmp(arg, link, sizeof(link) - 1))
		label = arg + sizeof(link) - 1;
	else if (!parse_dev_arg(arg, name, len))
		return 0;
	if (check_label(label, &problem))
		return fail("'%s' is not a device (p2pdaxR.N, /dev/p2pdaxR.N, R.N, a label or /dev/p2pdax/by-label/LABEL)",
			    arg);
	rc = device_by_label(label, &d);
	if (rc == -ENOENT)
		return fail("no device has the label \"%s\"", label);
	if (rc)
		return fail("cannot scan devices: %s", why(rc));
	snprintf(name, len, "%s", d.name);
	return 0;
}

int load_device_arg(const char *arg, struct p2p_device *d)
{
	char name[32];
	int rc;

	if (device_arg(arg, name, sizeof(name)))
		return 1;
	rc = device_load(name, d);
	if (rc == -ENOENT)
		return fail("device %s not found", name);
	if (rc)
		return fail("cannot read %s: %s", name, why(rc));
	return 0;
}

/* a SIZE argument, or a message saying what is wrong with it */
int size_arg(const char *spec, bool allow_all, uint64_t *size)
{
	const char *problem;

	if (parse_size_why(spec, allow_all, size, &problem))
		return fail("bad size '%s': %s", spec, problem);
	return 0;
}

/* a size store, with the errno explained */
int write_size(const struct p2p_device *d, uint64_t size)
{
	char p[PATH_MAX];
	int rc;

	snprintf(p, sizeof(p), SYS_P2PDAX "/%s/size", d->name);
	rc = sysfs_writef(p, "%" PRIu64, size);
	switch (-rc) {
	case 0:
		return 0;
	case ENOSPC:
		return fail("not enough free space for %s at align %" PRIu64 " (see available_size)",
			    d->name, d->align);
	case EBUSY:
		return fail("%s has pinned pages in the range to give up (an RDMA registration or I/O in flight; see dmesg)",
			    d->name);
	case EINVAL:
		return fail("size %" PRIu64 " is not a multiple of %s's align %" PRIu64,
			    size, d->name, d->align);
	case ENXIO:
	case ENODEV:
		return fail("%s was deleted", d->name);
	default:
		return fail("cannot size %s: %s", d->name, why(rc));
	}
}

/* set (or with "" clear) a device's label, the errno explained */
int write_label(const char *name, const char *label)
{
	char p[PATH_MAX];
	int rc;

	snprintf(p, sizeof(p), SYS_P2PDAX "/%s/label", name);
	rc = sysfs_write(p, label[0] ? label : "\n");
	switch (-rc) {
	case 0:
		return 0;
	case EEXIST:
		return fail("label \"%s\" is already taken by another device", label);
	case EBUSY:
		return fail("%s is open (a process holds or maps it): it cannot get a label until every holder has closed it",
			    name);
	case EPERM:
		return fail("%s already has another label, for its life (a device never changes hands)",
			    name);
	case EINVAL:
		return fail("the kernel refused label \"%s\"", label);
	case ENOENT:
		return fail("%s has no label attribute (is dax_core up to date?)", name);
	case ENXIO:
	case ENODEV:
		return fail("%s was deleted", name);
	default:
		return fail("cannot label %s: %s", name, why(rc));
	}
}

/* a node nobody but root may open */
const struct owner_opts root_only = {
	.set_uid = true, .set_gid = true, .set_mode = true,
	.uid = 0, .gid = 0, .mode = 0600,
};

/*
 * Take a label back from a seed that did not become a device.  The udev
 * rule may have given the labelled seed a tenant's owner already: the node
 * goes back to root:root 0600.
 */
void unlabel_seed(const char *seed)
{
	write_label(seed, "");
	set_node_owner(seed, &root_only);
}

/* a LABEL argument, or a message saying what is wrong with it */
int label_arg(const char *label)
{
	const char *problem;

	if (check_label(label, &problem))
		return fail("bad label '%s': %s", label, problem);
	return 0;
}

/* why region_find() failed, for the user */
int region_fail(const char *spec, int rc)
{
	char pci[PCI_ADDR_SIZE], p[PATH_MAX];

	if (rc == -EINVAL)
		return fail("'%s' is neither a region id nor a PCI address", spec);
	if (!parse_pci_addr(spec, pci)) {
		snprintf(p, sizeof(p), SYS_PCI "/%s", pci);
		if (access(p, F_OK))
			return fail("no PCI device %s", pci);
		return fail("%s is not bound to iopmem (p2pctl bind %s)", pci, pci);
	}
	return fail("region %s not found", spec);
}

/*
 * Replace @path with @text, atomically and durably: a new file made with
 * O_EXCL next to it (mkostemp: never through a planted link), @mode,
 * written and fsynced, renamed over @path, then the directory fsynced.
 */
int write_atomic(const char *path, const char *text, mode_t mode)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	size_t len = strlen(text), off = 0;
	int fd, dfd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return fail("%s: path too long", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return fail("cannot create a file next to %s: %s", path, strerror(errno));
	if (fchmod(fd, mode))
		rc = -errno;
	while (!rc && off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno != EINTR)
			rc = -errno;
		else if (n > 0)
			off += n;
	}
	if (!rc && fsync(fd))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return fail("cannot write %s: %s", path, strerror(-rc));
	}
	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* ---- main --------------------------------------------------------------------------------- */

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *help;
	int lock;	/* LOCK_EX for changes, LOCK_SH for save, 0 for list */
};

static const struct command commands[] = {
	{ "list", cmd_list, list_usage, "show regions and devices as JSON (-D devices, -M extents, -i idle, -u human units)", 0 },
	{ "bind", cmd_bind, bind_usage, "bind a PCI card to iopmem", LOCK_EX },
	{ "unbind", cmd_unbind, unbind_usage, "retire a card's devices, wait up to --timeout (30 s) for pinned pages, unbind", LOCK_EX },
	{ "create-device", cmd_create, create_usage, "carve a new device (prints it as JSON)", LOCK_EX },
	{ "resize-device", cmd_resize, resize_usage, "grow or shrink a device", LOCK_EX },
	{ "destroy-device", cmd_destroy, destroy_usage, "shrink a device to 0 and delete it", LOCK_EX },
	{ "set-owner", cmd_set_owner, owner_usage, "set a device node's owner, group and mode", LOCK_EX },
	{ "set-label", cmd_set_label, label_usage, "name a device for its life, for layouts, CDI and /dev/p2pdax/by-label/", LOCK_EX },
	{ "save", cmd_save, save_usage, "write the whole layout as JSON (stdout by default)", LOCK_SH },
	{ "apply", cmd_apply, apply_usage, "recreate a saved layout (idempotent; all or nothing)", LOCK_EX },
	{ "check", cmd_check, check_usage, "can the card and a peer device do peer DMA, by which route (JSON)", 0 },
	{ "cdi", cmd_cdi, cdi_usage, "write (or -C check) the CDI spec of the labelled devices, for container runtimes", 0 },
};

/*
 * Every change runs under one lock, so that two p2pctl never size the same
 * seed or undo each other's work; it is held until p2pctl exits.
 */
#define P2PCTL_LOCK_FILE "/run/p2pctl.lock"

static int lock_fd = -1;

int take_lock(int how)
{
	int fd = open(P2PCTL_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return fail("cannot open the lock %s: %s", P2PCTL_LOCK_FILE, why(-errno));
	lock_fd = fd;
	if (!flock(fd, how | LOCK_NB))
		return 0;
	if (errno == EWOULDBLOCK) {
		fprintf(stderr, "p2pctl %s: waiting for another p2pctl (%s)\n",
			cmd_name, P2PCTL_LOCK_FILE);
		if (!flock(fd, how))
			return 0;
	}
	return fail("cannot lock %s: %s", P2PCTL_LOCK_FILE, why(-errno));
}

/*
 * Let go of the lock before waiting for udev: the events of our changes
 * run "p2pctl apply --owners-only" (the udev rule), which takes the lock;
 * held, every such event would wait for us while we wait (5 s) for them.
 */
static void drop_lock(void)
{
	if (lock_fd >= 0)
		close(lock_fd);
	lock_fd = -1;
}

static void help(FILE *f)
{
	size_t i;

	fprintf(f, "usage: p2pctl COMMAND [OPTIONS]\n\n"
		"Administer iopmem cards and their p2pdax devices.\n\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s\n      %s\n", commands[i].usage, commands[i].help);
	fprintf(f, "\nSIZE: decimal bytes, or with K, M, G, T (binary).  REGION: region id or PCI\n"
		"address (list also takes 'all').  DEVICE: p2pdaxR.N, /dev/p2pdaxR.N, R.N,\n"
		"a label or /dev/p2pdax/by-label/LABEL.\n"
		"'p2pctl COMMAND --help' shows one command; 'p2pctl version' (--version) the\n"
		"version, 'p2pctl help' (--help) this; see p2pctl(8), and p2pdax(4) for tenants.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		help(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		if (argc != 2) {
			fprintf(stderr, "p2pctl: --version takes no arguments\n");
			return 2;
		}
		printf("%s\n", P2PCTL_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		help(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(argv[1], commands[i].name)) {
			bool just_help = argc == 3 && (!strcmp(argv[2], "-h") ||
						       !strcmp(argv[2], "--help"));

			cmd_name = commands[i].name;
			if (commands[i].lock && !just_help && take_lock(commands[i].lock))
				return 1;
			return commands[i].fn(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "p2pctl: unknown command '%s'\n\n", argv[1]);
	help(stderr);
	return 2;
}

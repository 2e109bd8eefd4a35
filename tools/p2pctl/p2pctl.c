// SPDX-License-Identifier: GPL-2.0
/*
 * p2pctl: the administrator's tool for iopmem cards and p2pdax devices.
 * A command table, shared option macros, JSON output through one helper.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
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

static void jadd(struct json_object *o, const char *k, struct json_object *v)
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

static int print_device(const char *name)
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

int apply_owner(const char *name, const struct owner_opts *o)
{
	char node[64];

	if (o->set_uid || o->set_gid || o->set_mode) {
		/* the sizes and labels are done: only owners are left */
		drop_lock();
		udev_settle();
	}
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
 * A device argument: a name in any spelling parse_dev_arg() takes, else a
 * label (LABEL or /dev/p2pdax/by-label/LABEL: a label that looks like a
 * device name must be given as the link).  0, or 1 with a message.
 */
static int device_arg(const char *arg, char *name, size_t len)
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

static int load_device_arg(const char *arg, struct p2p_device *d)
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
static int size_arg(const char *spec, bool allow_all, uint64_t *size)
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
		return fail("%s is open (a process holds or maps it): its label cannot change until every holder has closed it",
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
static const struct owner_opts root_only = {
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
	apply_owner(seed, &root_only);
}

/* a LABEL argument, or a message saying what is wrong with it */
static int label_arg(const char *label)
{
	const char *problem;

	if (check_label(label, &problem))
		return fail("bad label '%s': %s", label, problem);
	return 0;
}

/* why region_find() failed, for the user */
static int region_fail(const char *spec, int rc)
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

/* ---- list ------------------------------------------------------------------------ */

static const char list_usage[] =
	"p2pctl list [-r REGION|all] [-d DEVICE] [-D] [-M] [-i] [-u]";

static int cmd_list(int argc, char **argv)
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

/* ---- bind / unbind ------------------------------------------------------------------ */

int pci_driver(const char *pci, char *drv, size_t len)
{
	char p[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(p, sizeof(p), SYS_PCI "/%s/driver", pci);
	n = readlink(p, target, sizeof(target) - 1);
	if (n < 0) {
		drv[0] = 0;
		return 0;
	}
	target[n] = 0;
	snprintf(drv, len, "%s", strrchr(target, '/') + 1);
	return 0;
}

/* the kernel's last message about @pci since @fd was opened, if any */
static void kmsg_about(int fd, const char *pci, char *out, size_t len)
{
	char rec[1024], pat[64];
	ssize_t n;

	out[0] = 0;
	if (fd < 0)
		return;
	snprintf(pat, sizeof(pat), "iopmem %s: ", pci);
	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		char *msg, *nl;

		if (n <= 0)
			continue;
		rec[n] = 0;
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		nl = strchr(++msg, '\n');
		if (nl)
			*nl = 0;
		if (strstr(msg, pat))
			snprintf(out, len, "%s", strstr(msg, pat) + strlen(pat));
	}
}

static int print_region(const char *pci)
{
	struct p2p_region r;
	int rc = region_load(pci, &r);

	if (rc)
		return fail("cannot read the region of %s: %s", pci, why(rc));
	struct json_object *o = region_json(&r, true);

	display_json(o);
	json_object_put(o);
	return 0;
}

int do_bind(const char *pci, int bar, const char *cache, uint64_t min_align, bool quiet)
{
	char p[PATH_MAX], drv[64], old_bar[16] = "", old_cache[8] = "", old_align[24] = "";
	char msg[512];
	int rc, kfd;

	snprintf(p, sizeof(p), SYS_PCI "/%s", pci);
	if (access(p, F_OK))
		return fail("no PCI device %s", pci);
	if (access(SYS_IOPMEM, F_OK))
		return fail("the iopmem driver is not loaded (modprobe iopmem)");
	pci_driver(pci, drv, sizeof(drv));
	if (!strcmp(drv, "iopmem")) {
		struct p2p_region r;

		/* what was asked for must be what is bound: nothing changes */
		rc = region_load(pci, &r);
		if (rc)
			return fail("cannot read the region of %s: %s", pci, why(rc));
		if (min_align && r.min_align != min_align)
			return fail("%s is bound with min_align %" PRIu64 ", not %" PRIu64 "; unbind it first",
				    pci, r.min_align, min_align);
		/* (a wb request the memory type map made uc- is a wb binding) */
		if (cache && cache[0] && strcmp(r.cache, cache) &&
		    (strcmp(cache, "wb") || strcmp(r.cache, "uc-")))
			return fail("%s is bound with cache mode %s, not %s; unbind it first",
				    pci, r.cache, cache);
		if (bar >= 0 && r.bar != bar)
			return fail("%s is bound with BAR %d, not %d; unbind it first", pci, r.bar, bar);
		return quiet ? 0 : print_region(pci);
	}
	if (drv[0])
		return fail("%s is bound to %s; unbind it first", pci, drv);

	if (bar >= 0) {
		sysfs_read("/sys/module/iopmem/parameters/bar", old_bar, sizeof(old_bar));
		rc = sysfs_writef("/sys/module/iopmem/parameters/bar", "%d", bar);
		if (rc)
			return fail("cannot select BAR %d: %s", bar, why(rc));
	}
	if (min_align) {
		if (sysfs_read(IOPMEM_PARAM_MIN_ALIGN, old_align, sizeof(old_align)))
			old_align[0] = 0;
		if (old_align[0] && strtoull(old_align, NULL, 10) == min_align) {
			old_align[0] = 0;	/* already so: nothing to write or restore */
		} else {
			rc = sysfs_writef(IOPMEM_PARAM_MIN_ALIGN, "%" PRIu64, min_align);
			if (rc) {
				rc = fail("cannot select min_align %" PRIu64 ": %s", min_align, why(rc));
				goto restore;
			}
		}
	}
	if (cache && cache[0]) {
		sysfs_read("/sys/module/iopmem/parameters/cache", old_cache, sizeof(old_cache));
		rc = sysfs_write("/sys/module/iopmem/parameters/cache", cache);
		if (rc) {
			rc = fail("cannot select cache mode %s: %s", cache, why(rc));
			goto restore;
		}
	}
	snprintf(p, sizeof(p), SYS_PCI "/%s/driver_override", pci);
	rc = sysfs_write(p, "iopmem");
	if (rc) {
		rc = fail("cannot set driver_override of %s: %s", pci, why(rc));
		goto restore;
	}
	kfd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kfd >= 0)
		lseek(kfd, 0, SEEK_END);
	rc = sysfs_write(SYS_IOPMEM "/bind", pci);
	if (rc) {
		kmsg_about(kfd, pci, msg, sizeof(msg));
		sysfs_write(p, "\n");
		rc = fail("binding %s failed: %s%s%s", pci, why(rc),
			  msg[0] ? ": " : "", msg);
	}
	if (kfd >= 0)
		close(kfd);
restore:
	if (old_bar[0])
		sysfs_write("/sys/module/iopmem/parameters/bar", old_bar);
	if (old_cache[0])
		sysfs_write("/sys/module/iopmem/parameters/cache", old_cache);
	if (old_align[0])
		sysfs_write(IOPMEM_PARAM_MIN_ALIGN, old_align);
	if (rc)
		return rc;
	return quiet ? 0 : print_region(pci);
}

static const char bind_usage[] = "p2pctl bind PCI_ADDR [--bar N] [--min-align 4K|2M|1G] [--cache wc|uc|wb]";

static int cmd_bind(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bar", required_argument, NULL, 'b' },
		{ "min-align", required_argument, NULL, 'A' },
		{ "cache", required_argument, NULL, 'c' }, OPT_HELP, OPT_END,
	};
	char pci[PCI_ADDR_SIZE], *end;
	const char *cache = NULL;
	uint64_t min_align = 0;
	int c, bar = -1;

	while ((c = getopt_long(argc, argv, "b:A:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (strcmp(optarg, "wc") && strcmp(optarg, "uc") && strcmp(optarg, "wb"))
				return usage_error(bind_usage, "--cache takes wc, uc or wb, not '%s'",
						   optarg);
			cache = optarg;
			break;
		case 'b':
			bar = (int)strtol(optarg, &end, 10);
			if (!*optarg || *end || bar < 0 || bar > 5)
				return usage_error(bind_usage, "--bar takes 0-5, not '%s'", optarg);
			break;
		case 'A':
			if (parse_align(optarg, &min_align))
				return usage_error(bind_usage, "--min-align takes 4K, 2M or 1G, not '%s'",
						   optarg);
			break;
		case 'h': printf("usage: %s\n", bind_usage); return 0;
		default: return usage_error(bind_usage, "bad option");
		}
	}
	if (optind + 1 != argc)
		return usage_error(bind_usage, "one PCI address expected");
	if (parse_pci_addr(argv[optind], pci))
		return fail("'%s' is not a PCI address (like 0000:01:00.0)", argv[optind]);
	return do_bind(pci, bar, cache, min_align, false);
}

/* ---- devices ------------------------------------------------------------------------- */

/* the region's seed, planting one if needed */
int region_seed(struct p2p_region *r, char *seed, size_t len)
{
	char p[PATH_MAX];
	int rc;

	if (!r->seed[0]) {
		snprintf(p, sizeof(p), SYS_PCI "/%s/dax_region/create", r->pci);
		rc = sysfs_write(p, "1");
		if (rc == -ENOSPC)
			return fail("region %d is full", r->id);
		if (rc)
			return fail("cannot create a device in region %d: %s", r->id, why(rc));
		rc = region_load(r->pci, r);
		if (rc || !r->seed[0])
			return fail("region %d has no seed", r->id);
	}
	snprintf(seed, len, "%s", r->seed);
	return 0;
}

static const char create_usage[] =
	"p2pctl create-device -r REGION -s SIZE|all [-a ALIGN] [-l LABEL] [--owner USER] [--group GROUP] [--mode MODE] [-u]";

/*
 * Size the region's seed into a new device.  Under the p2pctl lock (main()),
 * with every step undone if a later one fails: label (checked first, so a
 * taken label changes nothing), align, size, owner.
 */
static int cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
		OPT_REGION, OPT_SIZE, OPT_ALIGN, OPT_LABEL, OPT_OWNER, OPT_GROUP,
		OPT_MODE, OPT_HUMAN, OPT_HELP, OPT_END,
	};
	const char *rspec = NULL, *sspec = NULL, *aspec = NULL, *label = NULL;
	struct owner_opts own = { 0 };
	char seed[32], p[PATH_MAX];
	uint64_t size, align = 0, old_align;
	struct p2p_region r;
	struct p2p_device d, other;
	int c, rc;

	while ((c = getopt_long(argc, argv, "r:s:a:l:o:g:m:uh", opts, NULL)) != -1) {
		switch (c) {
		case 'r': rspec = optarg; break;
		case 's': sspec = optarg; break;
		case 'a': aspec = optarg; break;
		case 'l': label = optarg; break;
		case 'u': human = true; break;
		case 'o': case 'g': case 'm':
			if (parse_owner_opt(c, optarg, &own))
				return 1;
			break;
		case 'h': printf("usage: %s\n", create_usage); return 0;
		default: return usage_error(create_usage, "bad option");
		}
	}
	if (optind < argc)
		return usage_error(create_usage, "unexpected argument '%s'", argv[optind]);
	if (!rspec || !sspec)
		return usage_error(create_usage, "-r REGION and -s SIZE are required");
	if (!strcmp(rspec, "all"))
		return fail("create-device carves one region: name it (-r ID or -r PCI_ADDR), not 'all'");
	if (size_arg(sspec, true, &size))
		return 1;
	if (size == 0)
		return fail("size must not be 0");
	if (aspec && parse_align(aspec, &align))
		return fail("bad align '%s' (4K, 2M or 1G)", aspec);
	if (label && label_arg(label))
		return 1;
	rc = region_find(rspec, &r);
	if (rc)
		return region_fail(rspec, rc);
	if (align > r.align)
		return fail("align %" PRIu64 " is larger than region %d allows (%" PRIu64 ")", align, r.id, r.align);
	if (align && align < r.min_align)
		return fail("align %" PRIu64 " is below region %d's min_align (%" PRIu64 ")",
			    align, r.id, r.min_align);
	if (label) {
		rc = device_by_label(label, &other);
		if (!rc)
			return fail("label \"%s\" is already taken by %s", label, other.name);
		if (rc != -ENOENT)
			return fail("cannot scan devices: %s", why(rc));
	}
	if (region_seed(&r, seed, sizeof(seed)))
		return 1;
	rc = device_load(seed, &d);
	if (rc)
		return fail("cannot read %s: %s", seed, why(rc));
	/* the seed is idle: nobody (no other p2pctl, thanks to the lock) sized it */
	if (d.size)
		return fail("%s, the seed of region %d, is no longer empty; try again", seed, r.id);
	old_align = d.align;
	if (label && write_label(seed, label))
		return 1;
	if (align && align != d.align) {
		snprintf(p, sizeof(p), SYS_P2PDAX "/%s/align", seed);
		rc = sysfs_writef(p, "%" PRIu64, align);
		if (rc) {
			rc = fail("cannot set the align of %s: %s", seed, why(rc));
			goto undo_label;
		}
		d.align = align;
	}
	if (size == SIZE_ALL) {
		size = r.avail / d.align * d.align;
		if (!size) {
			rc = fail("region %d has no free space at align %" PRIu64, r.id, d.align);
			goto undo_align;
		}
	}
	if (write_size(&d, size)) {
		rc = 1;
		goto undo_align;
	}
	if (apply_owner(seed, &own)) {
		rc = 1;
		goto undo_size;
	}
	return print_device(seed);

undo_size:
	/* it was sized: now an empty non-seed device, which goes */
	d.size = size;
	destroy(&d);
	return rc;
undo_align:
	if (d.align != old_align) {
		snprintf(p, sizeof(p), SYS_P2PDAX "/%s/align", seed);
		sysfs_writef(p, "%" PRIu64, old_align);
	}
undo_label:
	if (label)
		unlabel_seed(seed);
	return rc;
}

static const char label_usage[] = "p2pctl set-label DEVICE LABEL|\"\"";

static int cmd_set_label(int argc, char **argv)
{
	struct p2p_device d, other;
	const char *label;
	int rc;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: %s\n", label_usage);
		return 0;
	}
	if (argc != 3)
		return usage_error(label_usage, "DEVICE and LABEL expected (\"\" removes the label)");
	label = argv[2];
	if (label[0] && label_arg(label))
		return 1;
	if (load_device_arg(argv[1], &d))
		return 1;
	if (label[0]) {
		rc = device_by_label(label, &other);
		if (!rc && strcmp(other.name, d.name))
			return fail("label \"%s\" is already taken by %s", label, other.name);
		if (rc && rc != -ENOENT)
			return fail("cannot scan devices: %s", why(rc));
	}
	if (!strcmp(d.label, label))
		return print_device(d.name);
	/*
	 * A label says whose a device is: a new one hands it over.  The
	 * kernel allows that only while the device holds no memory and is
	 * not open; until udev gives the node to the new label's owner,
	 * nobody but root may open it (an old owner's descriptor would reach
	 * the next tenant's memory).
	 */
	if (d.size)
		return fail("%s holds %" PRIu64 " bytes: a new label would hand them to another tenant (shrink it to 0 first, or create a new device with --label)",
			    d.name, d.size);
	if (apply_owner(d.name, &root_only))
		return 1;
	if (write_label(d.name, label)) {
		struct owner_opts was = {
			.set_uid = true, .set_gid = true, .set_mode = true,
			.uid = d.uid, .gid = d.gid, .mode = d.mode,
		};

		apply_owner(d.name, &was);
		return 1;
	}
	return print_device(d.name);
}

static const char resize_usage[] = "p2pctl resize-device DEVICE -s SIZE|all [-u]";

static int cmd_resize(int argc, char **argv)
{
	static const struct option opts[] = { OPT_SIZE, OPT_HUMAN, OPT_HELP, OPT_END };
	const char *sspec = NULL;
	struct p2p_device d;
	struct p2p_region r;
	char rid[16];
	uint64_t size;
	int c;

	while ((c = getopt_long(argc, argv, "s:uh", opts, NULL)) != -1) {
		switch (c) {
		case 's': sspec = optarg; break;
		case 'u': human = true; break;
		case 'h': printf("usage: %s\n", resize_usage); return 0;
		default: return usage_error(resize_usage, "bad option");
		}
	}
	if (optind + 1 != argc || !sspec)
		return usage_error(resize_usage, "DEVICE and -s SIZE are required");
	if (size_arg(sspec, true, &size))
		return 1;
	if (load_device_arg(argv[optind], &d))
		return 1;
	if (size == SIZE_ALL) {
		snprintf(rid, sizeof(rid), "%d", d.region);
		if (region_find(rid, &r))
			return fail("region %d not found", d.region);
		size = d.size + r.avail / d.align * d.align;
	}
	if (write_size(&d, size))
		return 1;
	return print_device(d.name);
}

/* shrink to 0, then delete */
int destroy(const struct p2p_device *d)
{
	char rid[16], p[PATH_MAX];
	struct p2p_region r;
	int rc;

	snprintf(rid, sizeof(rid), "%d", d->region);
	if (region_find(rid, &r))
		return fail("region %d not found", d->region);
	if (!strcmp(r.seed, d->name))
		return fail("%s is region %d's seed and cannot be destroyed", d->name, r.id);
	if (d->size && write_size(d, 0))
		return 1;
	snprintf(p, sizeof(p), SYS_PCI "/%s/dax_region/delete", r.pci);
	rc = sysfs_write(p, d->name);
	if (rc)
		return fail("cannot delete %s: %s", d->name, why(rc));
	return 0;
}

static const char destroy_usage[] = "p2pctl destroy-device DEVICE";

static int cmd_destroy(int argc, char **argv)
{
	struct p2p_device d;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: %s\n", destroy_usage);
		return 0;
	}
	if (argc != 2)
		return usage_error(destroy_usage, "one device expected");
	if (load_device_arg(argv[1], &d))
		return 1;
	return destroy(&d);
}

static const char owner_usage[] =
	"p2pctl set-owner DEVICE [--owner USER] [--group GROUP] [--mode MODE]";

static int cmd_set_owner(int argc, char **argv)
{
	static const struct option opts[] = {
		OPT_OWNER, OPT_GROUP, OPT_MODE, OPT_HELP, OPT_END,
	};
	struct owner_opts own = { 0 };
	struct p2p_device d;
	int c;

	while ((c = getopt_long(argc, argv, "o:g:m:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': case 'g': case 'm':
			if (parse_owner_opt(c, optarg, &own))
				return 1;
			break;
		case 'h': printf("usage: %s\n", owner_usage); return 0;
		default: return usage_error(owner_usage, "bad option");
		}
	}
	if (optind + 1 != argc)
		return usage_error(owner_usage, "one device expected");
	if (!own.set_uid && !own.set_gid && !own.set_mode)
		return usage_error(owner_usage, "nothing to set: give --owner, --group or --mode");
	if (load_device_arg(argv[optind], &d))
		return 1;
	if (apply_owner(d.name, &own))
		return 1;
	return print_device(d.name);
}

/* ---- check ------------------------------------------------------------------------------- */

static const char check_usage[] = "p2pctl check --peer PCI_ADDR [-r REGION] [--transfer BLOCKDEV:OFFSET]";

static int take_lock(int how);

/*
 * Whether the card of REGION and the PCI device PEER can do peer-to-peer
 * DMA, by which route and why (topology.c); one JSON object.  The verdict
 * is in the output ("direct", "via-root-complex", "no"), not in the exit
 * status, which is 0 whenever the check could be made.
 */
static int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		OPT_REGION, { "peer", required_argument, NULL, 'p' },
		{ "transfer", required_argument, NULL, 'T' }, OPT_HELP, OPT_END,
	};
	struct p2p_region regions[P2PCTL_MAX_REGIONS], r;
	const char *region = NULL, *peer_arg = NULL, *transfer = NULL;
	struct topo_report *rep;
	struct json_object *o;
	char peer[PCI_ADDR_SIZE], p[PATH_MAX];
	int c, rc, n;

	while ((c = getopt_long(argc, argv, "r:p:T:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': region = optarg; break;
		case 'p': peer_arg = optarg; break;
		case 'T': transfer = optarg; break;
		case 'h': printf("usage: %s\n", check_usage); return 0;
		default: return usage_error(check_usage, "bad option");
		}
	}
	if (optind != argc)
		return usage_error(check_usage, "unexpected argument '%s'", argv[optind]);
	if (!peer_arg)
		return usage_error(check_usage, "--peer PCI_ADDR is required");
	if (parse_pci_addr(peer_arg, peer))
		return fail("'%s' is not a PCI address (like 0000:01:00.0)", peer_arg);
	snprintf(p, sizeof(p), SYS_PCI "/%s", peer);
	if (access(p, F_OK))
		return fail("no PCI device %s", peer);
	if (region) {
		rc = region_find(region, &r);
		if (rc == -EINVAL)
			return fail("'%s' is not a region id or PCI address", region);
		if (rc)
			return fail("no region %s", region);
	} else {
		n = regions_scan(regions, P2PCTL_MAX_REGIONS);
		if (n < 0)
			return fail("cannot read the regions: %s", why(n));
		if (!n)
			return fail("no card is bound to iopmem (p2pctl bind PCI_ADDR)");
		if (n > 1)
			return fail("there are %d regions: name the card's with -r REGION", n);
		r = regions[0];
	}
	if (!strcmp(r.pci, peer))
		return fail("%s is region %d's own card: give the peer's address", peer, r.id);
	if (geteuid())
		return fail("reading the PCI config space of the bridges (ACS) needs root");
	rep = calloc(1, sizeof(*rep));
	if (!rep)
		return fail("out of memory");
	rc = topo_check("/sys", r.pci, r.bar, peer, rep);
	if (rc == -ELOOP) {
		free(rep);
		return fail("%s is a bridge above %s or below it, not a peer", peer, r.pci);
	}
	if (rc == -E2BIG) {
		free(rep);
		return fail("the PCI path of %s or %s is deeper than %d bridges", r.pci, peer,
			    TOPO_MAX_DEPTH);
	}
	if (rc) {
		free(rep);
		return fail("cannot read the PCI topology of %s and %s: %s", r.pci, peer, why(rc));
	}
	o = topo_json(rep);
	json_object_object_add(o, "region", json_object_new_int(r.id));
	free(rep);
	rc = 0;
	/* a real transfer carves a scratch device: under the lock */
	if (transfer && (take_lock(LOCK_EX) || check_transfer(&r, peer, transfer, o)))
		rc = 1;
	if (!transfer || json_object_object_get_ex(o, "transfer", NULL))
		display_json(o);
	json_object_put(o);
	return rc;
}

/* ---- save / apply ----------------------------------------------------------------------- */

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
	{ "set-label", cmd_set_label, label_usage, "name a device for layouts and /dev/p2pdax/by-label/ (\"\" removes)", LOCK_EX },
	{ "save", cmd_save, save_usage, "write the whole layout as JSON (stdout by default)", LOCK_SH },
	{ "apply", cmd_apply, apply_usage, "recreate a saved layout (idempotent)", LOCK_EX },
	{ "check", cmd_check, check_usage, "can the card and a peer device do peer DMA, by which route (JSON)", 0 },
};

/*
 * Every change runs under one lock, so that two p2pctl never size the same
 * seed or undo each other's work; it is held until p2pctl exits.
 */
#define P2PCTL_LOCK_FILE "/run/p2pctl.lock"

static int lock_fd = -1;

static int take_lock(int how)
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

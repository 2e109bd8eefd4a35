// SPDX-License-Identifier: GPL-2.0
/*
 * p2pctl bind and unbind: give a card to iopmem, take it back.
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
#include <dirent.h>
#include <time.h>
#include <json-c/json.h>

#include "p2pctl.h"

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

const char bind_usage[] = "p2pctl bind PCI_ADDR [--bar N] [--min-align 4K|2M|1G] [--cache wc|uc|wb]";

int cmd_bind(int argc, char **argv)
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

/* ---- unbind ---------------------------------------------------------------------------- */

/*
 * Unbind: take a card from iopmem without waiting for ever.
 *
 * A tenant's pin (an RDMA registration, I/O in flight) keeps DMA going to
 * the card's pages, and the kernel's unbind waits for it uninterruptibly,
 * holding the device lock.  So unbind first retires the region (every
 * device dies: mappings revoked, files ENXIO; nothing waits), then waits
 * here, with a timeout and without the kernel's locks, until no page is
 * pinned, and only then unbinds, which then has nothing to wait for.  On
 * timeout the card stays bound with its devices dead, the processes that
 * mapped them are named, and the p2pctl lock is released when p2pctl exits.
 */

const char unbind_usage[] = "p2pctl unbind PCI_ADDR [-t|--timeout SECS]";

/* whether process @pid has an RDMA device (/dev/infiniband/uverbs*) open */
static bool has_uverbs(int pid)
{
	char dir[64], p[PATH_MAX], target[PATH_MAX];
	struct dirent *e;
	bool found = false;
	DIR *d;
	ssize_t n;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		n = readlink(p, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = 0;
		found = !strncmp(target, "/dev/infiniband/uverbs", 22);
	}
	closedir(d);
	return found;
}

/*
 * The processes that mapped the devices of region @id (each device's
 * "holders": the last few), one string: "comm[pid] (an RDMA device open),
 * comm[pid] (exited)", or "nobody p2pctl knows of".
 */
static void holders(int id, char *out, size_t len)
{
	static struct p2p_device devs[P2PCTL_MAX_DEVICES];
	char p[PATH_MAX], buf[1024], comm[64], *line, *save;
	size_t n = 0;
	int nr, i, pid;

	out[0] = 0;
	nr = devices_scan(id, devs, P2PCTL_MAX_DEVICES);
	for (i = 0; i < nr; i++) {
		snprintf(p, sizeof(p), SYS_P2PDAX "/%.31s/holders", devs[i].name);
		if (sysfs_read(p, buf, sizeof(buf)))
			continue;
		for (line = strtok_r(buf, "\n", &save); line && n < len;
		     line = strtok_r(NULL, "\n", &save)) {
			if (sscanf(line, "%d %63[^\n]", &pid, comm) != 2)
				continue;
			snprintf(p, sizeof(p), "/proc/%d", pid);
			n += snprintf(out + n, len - n, "%s%s[%d]%s", n ? ", " : "", comm, pid,
				      access(p, F_OK) ? " (exited)" :
				      has_uverbs(pid) ? " (an RDMA device open)" : "");
		}
	}
	if (!n)
		snprintf(out, len, "nobody p2pctl knows of");
}

static int read_pinned(const char *pci, uint64_t *pinned)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), SYS_PCI "/%s/dax_region/pinned", pci);
	return sysfs_read_u64(p, pinned);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Retire the region of @pci and wait up to @timeout seconds for its pins:
 * 0 when none is left, else 1 with the holders named.
 */
static int retire_and_wait(const char *pci, long timeout)
{
	char p[PATH_MAX], who[2048];
	struct p2p_region r;
	uint64_t pinned;
	double start = now(), told = start;
	int rc;

	if (region_load(pci, &r))
		return fail("cannot read the region of %s", pci);
	snprintf(p, sizeof(p), SYS_PCI "/%s/dax_region/retire", pci);
	rc = sysfs_write(p, "1");
	if (rc && rc != -ENXIO)		/* ENXIO: retired already */
		return fail("cannot retire region %d: %s", r.id, why(rc));
	for (;;) {
		rc = read_pinned(pci, &pinned);
		if (rc)
			return fail("cannot read region %d's pinned pages: %s", r.id, why(rc));
		if (!pinned)
			return 0;
		if (now() - start >= timeout)
			break;
		if (now() - told >= 5) {
			holders(r.id, who, sizeof(who));
			fprintf(stderr, "p2pctl unbind: %s: waiting for %llu pinned pages (mapped by %s)\n",
				pci, (unsigned long long)pinned, who);
			told = now();
		}
		usleep(100000);
	}
	holders(r.id, who, sizeof(who));
	return fail("%s: %llu pages still pinned after %ld s; the card stays bound and region %d is retired (its devices are dead: their users get SIGBUS or ENXIO). Mapped by %s: unbind again once they let go",
		    pci, (unsigned long long)pinned, timeout, r.id, who);
}

/*
 * Retire the card's region, wait up to @timeout seconds for its pins, then
 * unbind it and clear its driver_override: 0, or 1 with a message (apply
 * undoes with 0: the devices it made hold no pins).
 */
int unbind_card(const char *pci, long timeout)
{
	char p[PATH_MAX];
	int rc;

	snprintf(p, sizeof(p), SYS_PCI "/%s/dax_region/retire", pci);
	if (!access(p, F_OK) && retire_and_wait(pci, timeout))
		return 1;
	rc = sysfs_write(SYS_IOPMEM "/unbind", pci);
	if (rc)
		return fail("cannot unbind %s: %s", pci, why(rc));
	snprintf(p, sizeof(p), SYS_PCI "/%s/driver_override", pci);
	sysfs_write(p, "\n");
	return 0;
}

int cmd_unbind(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char pci[PCI_ADDR_SIZE], drv[64], p[PATH_MAX], *end;
	long timeout = 30;
	int c;

	while ((c = getopt_long(argc, argv, "t:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			errno = 0;
			timeout = strtol(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' || errno || *end ||
			    timeout > 86400)
				return usage_error(unbind_usage,
						   "--timeout takes whole seconds, 0 to 86400, not '%s'",
						   optarg);
			break;
		case 'h':
			printf("usage: %s\n", unbind_usage);
			return 0;
		default:
			return usage_error(unbind_usage, "bad option");
		}
	}
	if (optind + 1 != argc)
		return usage_error(unbind_usage, "one PCI address expected");
	if (parse_pci_addr(argv[optind], pci))
		return fail("'%s' is not a PCI address (like 0000:01:00.0)", argv[optind]);
	snprintf(p, sizeof(p), SYS_PCI "/%s", pci);
	if (access(p, F_OK))
		return fail("no PCI device %s", pci);
	pci_driver(pci, drv, sizeof(drv));
	if (strcmp(drv, "iopmem"))
		return fail("%s is not bound to iopmem", pci);
	return unbind_card(pci, timeout);
}

// SPDX-License-Identifier: GPL-2.0
/* p2pctl: reading and writing the iopmem / p2pdax sysfs ABI. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysfs.h"

int sysfs_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	buf[n] = 0;
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = 0;
	return 0;
}

int sysfs_read_u64(const char *path, uint64_t *v)
{
	char buf[64], *end;
	int rc = sysfs_read(path, buf, sizeof(buf));

	if (rc)
		return rc;
	errno = 0;
	*v = strtoull(buf, &end, 0);
	return errno || *end ? -EINVAL : 0;
}

int sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	return rc;
}

int sysfs_writef(const char *path, const char *fmt, ...)
{
	char buf[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return sysfs_write(path, buf);
}

/* which BAR of the PCI device starts at @start */
static int region_bar(const char *pci, uint64_t start)
{
	char path[PATH_MAX], line[256];
	unsigned long long s, e, f;
	int i = 0, bar = -1;
	FILE *fp;

	snprintf(path, sizeof(path), SYS_PCI "/%s/resource", pci);
	fp = fopen(path, "re");
	if (!fp)
		return -1;
	while (i < 6 && fgets(line, sizeof(line), fp)) {
		if (sscanf(line, "%llx %llx %llx", &s, &e, &f) == 3 && s == start && e > s)
			bar = i;
		i++;
	}
	fclose(fp);
	return bar;
}

int region_load(const char *pci, struct p2p_region *r)
{
	char d[PATH_MAX], p[PATH_MAX + 32], buf[64], addr[PCI_ADDR_SIZE];
	uint64_t id;
	int rc;

	snprintf(addr, sizeof(addr), "%s", pci);	/* pci may be r->pci */
	memset(r, 0, sizeof(*r));
	snprintf(r->pci, sizeof(r->pci), "%s", addr);
	pci = addr;
	snprintf(d, sizeof(d), SYS_PCI "/%s/dax_region", pci);
	snprintf(p, sizeof(p), "%s/id", d);
	rc = sysfs_read_u64(p, &id);
	if (rc)
		return rc;
	r->id = (int)id;
	snprintf(p, sizeof(p), "%s/size", d);
	rc = rc ?: sysfs_read_u64(p, &r->size);
	snprintf(p, sizeof(p), "%s/available_size", d);
	rc = rc ?: sysfs_read_u64(p, &r->avail);
	snprintf(p, sizeof(p), "%s/align", d);
	rc = rc ?: sysfs_read_u64(p, &r->align);
	snprintf(p, sizeof(p), "%s/min_align", d);
	/* absent before min_align existed: every region was 4 KiB-capable */
	if (!rc && sysfs_read_u64(p, &r->min_align))
		r->min_align = 4096;
	snprintf(p, sizeof(p), "%s/cache_mode", d);
	rc = rc ?: sysfs_read(p, r->cache, sizeof(r->cache));
	snprintf(p, sizeof(p), "%s/seed", d);
	rc = rc ?: sysfs_read(p, r->seed, sizeof(r->seed));
	if (rc)
		return rc;
	/* root only; others simply do not learn the address */
	snprintf(p, sizeof(p), "%s/resource", d);
	if (!sysfs_read(p, buf, sizeof(buf))) {
		r->start = strtoull(buf, NULL, 0);
		r->bar = region_bar(pci, r->start);
	} else {
		r->bar = -1;
	}
	return 0;
}

static int cmp_region(const void *a, const void *b)
{
	return ((const struct p2p_region *)a)->id - ((const struct p2p_region *)b)->id;
}

int regions_scan(struct p2p_region *out, int max)
{
	DIR *dir = opendir(SYS_PCI);
	struct dirent *de;
	char p[PATH_MAX];
	int n = 0;

	if (!dir)
		return -errno;
	while ((de = readdir(dir)) && n < max) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), SYS_PCI "/%s/dax_region", de->d_name);
		if (access(p, F_OK))
			continue;
		if (!region_load(de->d_name, &out[n]))
			n++;
	}
	closedir(dir);
	qsort(out, n, sizeof(*out), cmp_region);
	return n;
}

int region_find(const char *spec, struct p2p_region *r)
{
	static struct p2p_region all[P2PCTL_MAX_REGIONS];
	char pci[PCI_ADDR_SIZE], *end;
	long id;
	int n, i;

	if (!spec || !*spec)
		return -EINVAL;
	if (!parse_pci_addr(spec, pci)) {
		char p[PATH_MAX];

		snprintf(p, sizeof(p), SYS_PCI "/%s/dax_region", pci);
		if (access(p, F_OK))
			return -ENOENT;
		return region_load(pci, r);
	}
	id = strtol(spec, &end, 10);
	if (*end || id < 0)
		return -EINVAL;
	n = regions_scan(all, P2PCTL_MAX_REGIONS);
	for (i = 0; i < n; i++) {
		if (all[i].id == id) {
			*r = all[i];
			return 0;
		}
	}
	return -ENOENT;
}

int device_load(const char *name, struct p2p_device *d)
{
	char base[PATH_MAX], p[PATH_MAX + 32], buf[4096], *line, *save;
	uint64_t v;
	struct stat st;
	int rc;

	memset(d, 0, sizeof(*d));
	if (parse_dev_name(name, &d->region, &d->n))
		return -EINVAL;
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(base, sizeof(base), SYS_P2PDAX "/%s", name);
	snprintf(p, sizeof(p), "%s/size", base);
	rc = sysfs_read_u64(p, &d->size);
	if (rc)
		return rc == -ENOENT ? -ENOENT : rc;
	snprintf(p, sizeof(p), "%s/align", base);
	rc = sysfs_read_u64(p, &d->align);
	if (rc)
		return rc;
	snprintf(p, sizeof(p), "%s/region", base);
	if (!sysfs_read_u64(p, &v))
		d->region = (int)v;
	snprintf(p, sizeof(p), "%s/label", base);
	rc = sysfs_read(p, d->label, sizeof(d->label));
	if (rc && rc != -ENOENT)
		return rc;
	snprintf(p, sizeof(p), "/dev/%s", name);
	if (!stat(p, &st)) {
		d->uid = st.st_uid;
		d->gid = st.st_gid;
		d->mode = st.st_mode & 07777;
	}
	/* root only: others see no extents */
	snprintf(p, sizeof(p), "%s/extents", base);
	if (sysfs_read(p, buf, sizeof(buf)))
		return 0;
	for (line = strtok_r(buf, "\n", &save); line && d->nr_extents < P2PCTL_MAX_EXTENTS;
	     line = strtok_r(NULL, "\n", &save)) {
		struct p2p_extent *e = &d->extents[d->nr_extents];
		unsigned long long s, en, pg;

		if (sscanf(line, "%llx-%llx %llu", &s, &en, &pg) != 3)
			continue;
		e->start = s;
		e->end = en;
		e->pgoff = pg;
		d->nr_extents++;
	}
	return 0;
}

static int cmp_device(const void *a, const void *b)
{
	const struct p2p_device *x = a, *y = b;

	return x->region != y->region ? x->region - y->region : x->n - y->n;
}

int devices_scan(int id, struct p2p_device *out, int max)
{
	DIR *dir = opendir(SYS_P2PDAX);
	struct dirent *de;
	int n = 0, r, k, rc = 0;

	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dir)) && n < max) {
		if (parse_dev_name(de->d_name, &r, &k))
			continue;
		if (id >= 0 && r != id)
			continue;
		rc = device_load(de->d_name, &out[n]);
		if (!rc)
			n++;
		else if (rc != -ENOENT)
			break;
	}
	closedir(dir);
	if (rc && rc != -ENOENT)
		return rc;
	qsort(out, n, sizeof(*out), cmp_device);
	return n;
}

int device_by_label(const char *label, struct p2p_device *d)
{
	static struct p2p_device all[P2PCTL_MAX_DEVICES];
	int n = devices_scan(-1, all, P2PCTL_MAX_DEVICES), i;

	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		if (all[i].label[0] && !strcmp(all[i].label, label)) {
			*d = all[i];
			return 0;
		}
	}
	return -ENOENT;
}

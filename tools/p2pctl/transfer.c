// SPDX-License-Identifier: GPL-2.0
/*
 * p2pctl check --transfer BLOCKDEV:OFFSET: one real transfer each way
 * between the card and a drive, on the administrator's own server.
 *
 * A scratch device of 4 MiB is carved from the card.  Its first half gets
 * a pattern; the drive reads it from the card (an O_DIRECT write to the
 * drive from the mapping) and the pattern is read back from the drive into
 * RAM and compared.  Then the drive writes it into the card (an O_DIRECT
 * read into the second half) and the CPU compares the card's bytes.  What
 * the drive held at OFFSET is saved first and written back last; the
 * scratch device is destroyed.  Only what the card and the drive did is
 * compared: a platform that drops peer traffic shows as a mismatch or an
 * I/O error, whatever the topology says.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <json-c/json.h>

#include "p2pctl.h"

#define XFER_LEN	(2ULL << 20)	/* bytes each way */

/* the pattern's word at byte @off: where it is, and that it is ours */
static uint64_t xfer_word(uint64_t off)
{
	return 0x7032707866657200ULL ^ (off * 0x9e3779b97f4a7c15ULL);
}

/*
 * Parse BLOCKDEV:OFFSET and check it: a block device of @peer (its sysfs
 * path goes through the peer's), OFFSET a multiple of 4096 with XFER_LEN
 * bytes of the device from there.  0, or 1 with a message.
 */
static int xfer_target(const char *spec, const char *peer, char *dev, size_t len,
		       uint64_t *offset)
{
	char p[PATH_MAX], real[PATH_MAX], needle[32];
	const char *colon = strrchr(spec, ':'), *problem;
	uint64_t sectors;
	struct stat st;

	if (!colon || colon == spec || (size_t)(colon - spec) >= len)
		return fail("--transfer takes BLOCKDEV:OFFSET (like /dev/nvme0n1:1G), not '%s'", spec);
	snprintf(dev, len, "%.*s", (int)(colon - spec), spec);
	if (parse_size_why(colon + 1, false, offset, &problem))
		return fail("--transfer: bad offset '%s': %s", colon + 1, problem);
	if (*offset % 4096)
		return fail("--transfer: the offset %" PRIu64 " is not a multiple of 4096", *offset);
	if (stat(dev, &st) || !S_ISBLK(st.st_mode))
		return fail("--transfer: %s is not a block device", dev);
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u", major(st.st_rdev), minor(st.st_rdev));
	snprintf(needle, sizeof(needle), "/%s/", peer);
	if (!realpath(p, real) || !strstr(real, needle))
		return fail("--transfer: %s is not a drive of the peer %s", dev, peer);
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/size", major(st.st_rdev), minor(st.st_rdev));
	if (sysfs_read_u64(p, &sectors))
		return fail("--transfer: cannot read the size of %s", dev);
	if (*offset > sectors * 512 || sectors * 512 - *offset < XFER_LEN)
		return fail("--transfer: %s has no %llu bytes at offset %" PRIu64 " (it has %" PRIu64 ")",
			    dev, XFER_LEN, *offset, sectors * 512);
	return 0;
}

/* an O_DIRECT transfer of XFER_LEN bytes: 0 or -errno (-EIO: short) */
static int xfer_io(int fd, void *buf, uint64_t offset, bool write)
{
	ssize_t n = write ? pwrite(fd, buf, XFER_LEN, (off_t)offset) :
			    pread(fd, buf, XFER_LEN, (off_t)offset);

	if (n < 0)
		return -errno;
	return n == (ssize_t)XFER_LEN ? 0 : -EIO;
}

/* @msg: "ok", or where the pattern first differs in @buf */
static void xfer_compare(const volatile uint64_t *buf, char *msg, size_t len)
{
	uint64_t i;

	for (i = 0; i < XFER_LEN / 8; i++)
		if (buf[i] != xfer_word(i * 8)) {
			snprintf(msg, len, "mismatch at byte %" PRIu64, i * 8);
			return;
		}
	snprintf(msg, len, "ok");
}

/**
 * check_transfer() - the transfers of p2pctl check --transfer
 * @r: the card's region
 * @peer: the drive's PCI address
 * @spec: "BLOCKDEV:OFFSET"
 * @out: the JSON object to add "transfer" to
 *
 * Return: 0 when both directions moved the pattern, else 1 (with a message
 * when the transfer could not be made at all).
 */
int check_transfer(const struct p2p_region *r, const char *peer, const char *spec,
		   struct json_object *out)
{
	char dev[PATH_MAX], seed[32], p[PATH_MAX], to_peer[64], to_card[64];
	struct json_object *t;
	struct p2p_region reg = *r;
	struct p2p_device d;
	void *save = NULL, *ram = NULL;
	volatile uint64_t *map = MAP_FAILED;
	uint64_t offset, align = r->min_align > XFER_LEN ? r->min_align : XFER_LEN, i;
	int fd = -1, bfd = -1, rc = 1, err;
	bool restored = false;

	if (xfer_target(spec, peer, dev, sizeof(dev), &offset))
		return 1;
	if (r->min_align > XFER_LEN)
		return fail("--transfer: region %d's min_align %" PRIu64 " is above %llu bytes",
			    r->id, r->min_align, XFER_LEN);
	/* a scratch device: two halves of XFER_LEN */
	if (region_seed(&reg, seed, sizeof(seed)))
		return 1;
	snprintf(p, sizeof(p), SYS_P2PDAX "/%s/align", seed);
	err = sysfs_writef(p, "%" PRIu64, align);
	if (err)
		return fail("--transfer: cannot set the align of %s: %s", seed, why(err));
	if (device_load(seed, &d) || write_size(&d, 2 * XFER_LEN))
		return 1;
	if (device_load(seed, &d)) {
		fail("--transfer: %s vanished", seed);
		goto out_destroy;
	}
	snprintf(p, sizeof(p), "/dev/%s", seed);
	fd = open(p, O_RDWR | O_CLOEXEC);
	bfd = open(dev, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0 || bfd < 0) {
		fail("--transfer: cannot open %s: %s", fd < 0 ? p : dev, why(-errno));
		goto out_close;
	}
	map = mmap(NULL, 2 * XFER_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED || posix_memalign(&save, 4096, XFER_LEN) ||
	    posix_memalign(&ram, 4096, XFER_LEN)) {
		fail("--transfer: cannot map %s or allocate buffers: %s", seed, why(-errno));
		goto out_close;
	}
	/* what the drive holds there, for after */
	err = xfer_io(bfd, save, offset, false);
	if (err) {
		fail("--transfer: cannot read %s at %" PRIu64 ": %s (nothing written)", dev, offset, why(err));
		goto out_close;
	}
	for (i = 0; i < XFER_LEN / 8; i++)
		map[i] = xfer_word(i * 8);
	msync((void *)map, XFER_LEN, MS_SYNC);	/* published to the drive */

	/* card -> drive: the drive reads the card; checked from RAM */
	err = xfer_io(bfd, (void *)map, offset, true);
	if (!err)
		err = xfer_io(bfd, ram, offset, false);
	if (err)
		snprintf(to_peer, sizeof(to_peer), "error: %s", why(err));
	else
		xfer_compare(ram, to_peer, sizeof(to_peer));
	/* drive -> card: the drive writes the card; checked by the CPU */
	err = xfer_io(bfd, (void *)(map + XFER_LEN / 8), offset, false);
	if (err)
		snprintf(to_card, sizeof(to_card), "error: %s", why(err));
	else
		xfer_compare(map + XFER_LEN / 8, to_card, sizeof(to_card));

	err = xfer_io(bfd, save, offset, true);
	if (!err && fsync(bfd))
		err = -errno;
	restored = !err;
	if (err)
		fail("--transfer: could not write %s back at %" PRIu64 ": %s", dev, offset, why(err));

	t = json_object_new_object();
	json_object_object_add(t, "block_device", json_object_new_string(dev));
	json_object_object_add(t, "offset", json_object_new_int64((int64_t)offset));
	json_object_object_add(t, "bytes", json_object_new_int64((int64_t)XFER_LEN));
	json_object_object_add(t, "card_to_peer", json_object_new_string(to_peer));
	json_object_object_add(t, "peer_to_card", json_object_new_string(to_card));
	json_object_object_add(t, "restored", json_object_new_boolean(restored));
	json_object_object_add(out, "transfer", t);
	rc = !restored || strcmp(to_peer, "ok") || strcmp(to_card, "ok");
	/* the JSON says it all; standard error says it failed (man page) */
	if (restored && rc)
		fail("--transfer: the bytes differ: card to %s %s, %s to card %s (the drive is restored)",
		     dev, to_peer, dev, to_card);

out_close:
	if (map != MAP_FAILED)
		munmap((void *)map, 2 * XFER_LEN);
	free(save);
	free(ram);
	if (fd >= 0)
		close(fd);
	if (bfd >= 0)
		close(bfd);
out_destroy:
	if (!device_load(seed, &d) && destroy(&d))
		rc = 1;
	return rc;
}

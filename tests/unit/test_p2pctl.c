// SPDX-License-Identifier: GPL-2.0
/* Host-side unit tests of p2pctl's parsing and layout files (TAP). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static int n, failed;

static void ok(int cond, const char *what)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++n, what);
	if (!cond)
		failed++;
}

static int size_is(const char *s, int rc, uint64_t want)
{
	uint64_t v = 12345;
	int got = parse_size(s, true, &v);

	return got == rc && (rc || v == want);
}

/* parse a layout from a string; returns rc and leaves the message in err */
static char err[256];
static int layout_str(const char *text, struct layout *l)
{
	char path[] = "/tmp/p2pctl-test-XXXXXX";
	int fd = mkstemp(path), rc;

	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		return -999;
	close(fd);
	rc = layout_load(path, l, err, sizeof(err));
	unlink(path);
	return rc;
}

static void bad_layout(const char *text, const char *msg_part, const char *what)
{
	struct layout l;
	int rc = layout_str(text, &l);

	ok(rc == -EINVAL && strstr(err, msg_part), what);
	if (rc == -EINVAL && !strstr(err, msg_part))
		printf("#   message was: %s\n", err);
	if (!rc)
		layout_free(&l);
}

#define DEV(extra) "{\"version\":1,\"regions\":[{\"pci\":\"0000:01:00.0\",\"devices\":[" extra "]}]}"

int main(void)
{
	struct layout l;
	uint64_t v;
	mode_t m;
	char pci[PCI_ADDR_SIZE], buf[32];
	int r, d;

	ok(size_is("4096", 0, 4096), "plain bytes");
	ok(size_is("0x1000", -EINVAL, 0), "hexadecimal refused (sizes are decimal)");
	ok(size_is("010M", 0, 10ULL << 20) && size_is("0010", 0, 10), "leading zeros are decimal, not octal");
	ok(size_is(" 4096", -EINVAL, 0) && size_is("+4096", -EINVAL, 0), "leading space or sign refused");
	ok(size_is("18446744073709551615", 0, UINT64_MAX) &&
	   size_is("18446744073709551616", -ERANGE, 0), "64-bit limit exact");
	{
		const char *why = NULL;

		ok(parse_size_why("-2M", true, &v, &why) == -EINVAL && why && strstr(why, "negative"),
		   "negative: says why");
		ok(parse_size_why("0x10", true, &v, &why) == -EINVAL && why && strstr(why, "decimal"),
		   "hex: says why");
		ok(parse_size_why("4Q", true, &v, &why) == -EINVAL && why && strstr(why, "suffix"),
		   "bad suffix: says why");
		ok(parse_size_why("", true, &v, &why) == -EINVAL && why && strstr(why, "empty"),
		   "empty: says why");
		ok(parse_size_why("99999999999999999999", true, &v, &why) == -ERANGE && why &&
		   strstr(why, "too large"), "overflow: says why");
	}
	ok(size_is("4K", 0, 4096) && size_is("4k", 0, 4096), "K suffix");
	ok(size_is("2M", 0, 2ULL << 20) && size_is("2MiB", 0, 2ULL << 20), "M and MiB");
	ok(size_is("1G", 0, 1ULL << 30) && size_is("1GB", 0, 1ULL << 30), "G and GB");
	ok(size_is("3T", 0, 3ULL << 40), "T suffix");
	ok(size_is("all", 0, SIZE_ALL), "all");
	ok(parse_size("all", false, &v) == -EINVAL, "all refused where not allowed");
	ok(size_is("", -EINVAL, 0), "empty refused");
	ok(size_is("-4096", -EINVAL, 0), "negative refused");
	ok(size_is("4X", -EINVAL, 0) && size_is("4KX", -EINVAL, 0) && size_is("4 K", -EINVAL, 0),
	   "junk suffix refused");
	ok(size_is("K", -EINVAL, 0), "suffix without number refused");
	ok(size_is("99999999999999999999", -ERANGE, 0), "overflow refused (ERANGE)");
	ok(size_is("17179869184G", -ERANGE, 0), "suffix overflow refused (ERANGE)");
	ok(parse_align("2M", &v) == 0 && v == 2ULL << 20, "align 2M");
	ok(parse_align("4096", &v) == 0 && parse_align("1G", &v) == 0, "align 4K and 1G");
	ok(parse_align("8K", &v) == -EINVAL && parse_align("0", &v) == -EINVAL, "bad aligns");
	ok(parse_mode("0640", &m) == 0 && m == 0640, "mode 0640");
	ok(parse_mode("640", &m) == 0 && m == 0640, "mode 640");
	ok(parse_mode("0980", &m) && parse_mode("", &m) && parse_mode("-1", &m) &&
	   parse_mode("17777", &m), "bad modes");
	ok(!parse_pci_addr("0000:01:00.0", pci) && !strcmp(pci, "0000:01:00.0"), "full PCI address");
	ok(!parse_pci_addr("01:00.0", pci) && !strcmp(pci, "0000:01:00.0"), "short PCI address");
	ok(!parse_pci_addr("10000:e1:00.0", pci) && !strcmp(pci, "10000:e1:00.0"),
	   "a 5-digit (VMD) domain");
	ok(!parse_pci_addr("ffffffff:00:1f.7", pci) && !strcmp(pci, "ffffffff:00:1f.7"),
	   "an 8-digit domain");
	ok(parse_pci_addr("100000000:00:00.0", pci) == -EINVAL, "a 9-digit domain: EINVAL");
	ok(parse_pci_addr("01:00", pci) && parse_pci_addr("0000:01:20.0", pci) &&
	   parse_pci_addr("0000:01:00.8", pci) && parse_pci_addr("0000:01:00.0x", pci),
	   "bad PCI addresses");
	ok(!parse_dev_name("p2pdax3.14", &r, &d) && r == 3 && d == 14, "device name");
	ok(parse_dev_name("p2pdax3", &r, &d) && parse_dev_name("dax0.1", &r, &d) &&
	   parse_dev_name("p2pdax0.1x", &r, &d) && parse_dev_name("p2pdax-1.0", &r, &d),
	   "bad device names");
	ok(parse_dev_name("p2pdax0.01", &r, &d) && parse_dev_name("p2pdax00.1", &r, &d) &&
	   parse_dev_name("p2pdax0. 1", &r, &d) && parse_dev_name("p2pdax0.+1", &r, &d) &&
	   parse_dev_name("p2pdax0.1234567890", &r, &d),
	   "device names are spelt one way (no zeros, signs, spaces, overflow)");
	ok(!parse_dev_arg("p2pdax1.2", buf, sizeof(buf)) && !strcmp(buf, "p2pdax1.2"), "device arg p2pdaxR.N");
	ok(!parse_dev_arg("/dev/p2pdax1.2", buf, sizeof(buf)) && !strcmp(buf, "p2pdax1.2"),
	   "device arg /dev/p2pdaxR.N");
	ok(!parse_dev_arg("1.2", buf, sizeof(buf)) && !strcmp(buf, "p2pdax1.2"), "device arg R.N");
	ok(parse_dev_arg("/dev/1.2", buf, sizeof(buf)) && parse_dev_arg("/dev/dax0.0", buf, sizeof(buf)) &&
	   parse_dev_arg("/sys/class/p2pdax/p2pdax0.0", buf, sizeof(buf)) &&
	   parse_dev_arg("1", buf, sizeof(buf)) && parse_dev_arg("", buf, sizeof(buf)) &&
	   parse_dev_arg("1.2.3", buf, sizeof(buf)) && parse_dev_arg("p2pdax1.2/", buf, sizeof(buf)),
	   "bad device args");
	ok(!strcmp(fmt_human(256ULL << 20, buf, sizeof(buf)), "256.00 MiB"), "human MiB");
	ok(!strcmp(fmt_human(512, buf, sizeof(buf)), "512 B"), "human bytes");

	{
		const char *why = NULL;

		ok(!check_label("tenant-1.a_b", &why) && !check_label("0", &why), "good labels");
		ok(check_label("", &why) == -EINVAL && strstr(why, "empty"), "empty label refused");
		ok(check_label("-x", &why) == -EINVAL && strstr(why, "start"), "label starting with '-' refused");
		ok(check_label(".x", &why) == -EINVAL && check_label("a/b", &why) == -EINVAL &&
		   check_label("a b", &why) == -EINVAL && check_label("a\nb", &why) == -EINVAL,
		   "labels with '.', '/', spaces or newlines in the wrong place refused");
		ok(!check_label("a123456789012345678901234567890123456789012345678901234567890ab", &why) &&
		   check_label("a123456789012345678901234567890123456789012345678901234567890abc", &why) == -EINVAL &&
		   strstr(why, "63"), "63 characters at most");
	}

	/* layouts */
	ok(layout_str(DEV("{\"name\":\"p2pdax0.1\",\"size\":4194304,\"align\":2097152,"
			  "\"owner\":\"root\",\"mode\":\"0640\",\"extents\":["
			  "{\"offset\":0,\"length\":2097152,\"page_offset\":0},"
			  "{\"offset\":8388608,\"length\":2097152,\"page_offset\":512}]}"), &l) == 0 &&
	   l.nr_regions == 1 && l.regions[0].nr_devices == 1 &&
	   l.regions[0].devices[0].nr_extents == 2 && l.regions[0].devices[0].mode == 0640 &&
	   l.regions[0].devices[0].extents[1].offset == 8388608 && l.regions[0].bar == -1,
	   "a good layout parses");
	layout_free(&l);
	ok(layout_str(DEV("{\"name\":\"p2pdax0.2\",\"size\":\"4M\",\"align\":4096}"), &l) == 0 &&
	   l.regions[0].devices[0].size == 4ULL << 20, "sizes may be strings, extents optional");
	layout_free(&l);
	ok(layout_str(DEV("{\"name\":\"p2pdax0.2\",\"label\":\"t1\",\"size\":4096,\"align\":4096}"), &l) == 0 &&
	   !strcmp(l.regions[0].devices[0].label, "t1"), "labels are read");
	layout_free(&l);
	bad_layout(DEV("{\"name\":\"p2pdax0.2\",\"label\":\"a b\",\"size\":4096,\"align\":4096}"),
		   "bad \"label\"", "bad label in a layout");
	bad_layout(DEV("{\"name\":\"p2pdax0.2\",\"label\":7,\"size\":4096,\"align\":4096}"),
		   "not a string", "label that is not a string");
	bad_layout("{\"version\":1,\"regions\":[{\"pci\":\"01:00.0\",\"devices\":["
		   "{\"name\":\"p2pdax0.1\",\"label\":\"t\",\"size\":4096,\"align\":4096}]},"
		   "{\"pci\":\"02:00.0\",\"devices\":["
		   "{\"name\":\"p2pdax1.1\",\"label\":\"t\",\"size\":4096,\"align\":4096}]}]}",
		   "appears twice", "one label on two devices (two regions)");
	bad_layout("not json", "not valid JSON", "malformed JSON");
	bad_layout("{\"version\":1,\"regions\":[]} trailing", "not valid JSON", "trailing garbage");
	bad_layout("[1,2]", "JSON object", "not an object");
	bad_layout("{\"version\":2,\"regions\":[]}", "version", "wrong version");
	bad_layout("{\"version\":1}", "\"regions\"", "no regions");
	bad_layout("{\"version\":1,\"regions\":[{\"pci\":\"zz\",\"devices\":[]}]}", "PCI address", "bad pci");
	bad_layout("{\"version\":1,\"regions\":[{\"pci\":\"01:00.0\",\"bar\":9,\"devices\":[]}]}", "bar", "bad bar");
	ok(layout_str("{\"version\":1,\"regions\":[{\"pci\":\"01:00.0\",\"size\":\"2G\",\"devices\":[]}]}", &l) == 0 &&
	   l.regions[0].size == 2ULL << 30, "a region's size is read (apply compares it)");
	layout_free(&l);
	bad_layout("{\"version\":1,\"regions\":[{\"pci\":\"01:00.0\",\"size\":0,\"devices\":[]}]}",
		   "\"size\" must be a number of bytes above 0", "a region size of 0");
	bad_layout("{\"version\":1,\"regions\":[{\"pci\":\"01:00.0\",\"min_align\":8192,\"devices\":[]}]}",
		   "\"min_align\" must be 4096, 2097152 or 1073741824", "bad min_align");
	bad_layout("{\"version\":1,\"regions\":[{\"pci\":\"01:00.0\",\"min_align\":\"2M\",\"devices\":["
		   "{\"name\":\"p2pdax0.1\",\"label\":\"t\",\"size\":4096,\"align\":4096}]}]}",
		   "align 4096 is below the region's min_align 2097152", "a device align below min_align");
	ok(layout_str("{\"version\":1,\"regions\":[{\"pci\":\"01:00.0\",\"min_align\":2097152,\"devices\":[]}]}", &l) == 0 &&
	   l.regions[0].min_align == 2ULL << 20, "min_align is read");
	layout_free(&l);
	ok(layout_str("{\"version\":1,\"regions\":[{\"pci\":\"01:00.0\",\"devices\":[]}]}", &l) == 0 &&
	   l.regions[0].min_align == 0, "no min_align: iopmem's parameter (0)");
	layout_free(&l);
	bad_layout("{\"version\":1,\"regions\":[{\"pci\":\"01:00.0\",\"devices\":[]},{\"pci\":\"0000:01:00.0\",\"devices\":[]}]}",
		   "twice", "region twice");
	bad_layout(DEV("{\"name\":\"dax0.1\",\"size\":0,\"align\":4096}"), "device name", "bad device name");
	bad_layout(DEV("{\"name\":\"p2pdax0.1\",\"size\":-1,\"align\":4096}"), "size", "negative size");
	bad_layout(DEV("{\"name\":\"p2pdax0.1\",\"size\":4096,\"align\":8192}"), "align", "bad align");
	bad_layout(DEV("{\"name\":\"p2pdax0.1\",\"size\":4096,\"align\":2097152}"), "multiple", "size not aligned");
	bad_layout(DEV("{\"name\":\"p2pdax0.1\",\"size\":4096,\"align\":4096,\"mode\":\"rw\"}"), "mode", "bad mode");
	bad_layout(DEV("{\"name\":\"p2pdax0.1\",\"size\":8192,\"align\":4096,\"extents\":["
		       "{\"offset\":0,\"length\":4096,\"page_offset\":0}]}"), "cover", "extents do not cover size");
	bad_layout(DEV("{\"name\":\"p2pdax0.1\",\"size\":8192,\"align\":4096,\"extents\":["
		       "{\"offset\":0,\"length\":4096,\"page_offset\":0},"
		       "{\"offset\":8192,\"length\":4096,\"page_offset\":5}]}"), "expected", "page offsets with a gap");
	bad_layout(DEV("{\"name\":\"p2pdax0.1\",\"size\":4096,\"align\":4096},"
		       "{\"name\":\"p2pdax0.1\",\"size\":4096,\"align\":4096}"), "twice", "device twice");
	ok(layout_load("/nonexistent/layout.json", &l, err, sizeof(err)) == -EINVAL &&
	   strstr(err, "cannot open"), "missing file");
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}

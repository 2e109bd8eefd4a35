# SPDX-License-Identifier: GPL-2.0
#
# iopmem top-level Makefile.  The kernel modules are built out of tree
# through Kbuild; everything else (tools, tests, the QEMU testbed) is driven
# from here.  See README.md.

KDIR ?= $(shell scripts/kver.sh kdir)
KVER ?= $(shell KDIR=$(KDIR) scripts/kver.sh kver)
export KDIR KVER

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

TOP := $(CURDIR)
CHECKPATCH_DIR ?= /usr/local/share/iopmem/checkpatch
KSRC := $(shell find drivers include -name '*.[ch]' ! -name '*.mod.c' ! -name compat.h | sort)
# Kernel API drift is probed by version in these headers only (an out-of-tree
# module cannot be "the version it is merged to"), so there alone
# LINUX_VERSION_CODE is allowed.
KSRC_COMPAT := $(shell find drivers include -name compat.h | sort)

.PHONY: all modules tools clean check check-host check-guest demo bench lint \
	checkpatch sparse install modules_install deps help tests-bin install-tools

all: modules tools

help:
	@echo "make            build the kernel modules and tools (KDIR=$(KDIR))"
	@echo "make demo       install deps, build, boot the QEMU testbed and show a card"
	@echo "make check      install deps, build, run host and in-guest tests"
	@echo "make lint       checkpatch.pl --no-tree + sparse over the kernel code"
	@echo "make modules_install   install the modules into /lib/modules/KVER/extra"

deps:
	scripts/install-deps.sh

modules:
	$(MAKE) -C $(KDIR) M=$(TOP) modules

modules_install install: modules
	$(MAKE) -C $(KDIR) M=$(TOP) modules_install

P2PCTL_SRC := tools/p2pctl/p2pctl.c tools/p2pctl/layout.c tools/p2pctl/sysfs.c tools/p2pctl/util.c
P2PCTL_CFLAGS := -O2 -g -Wall -Wextra -Werror $(shell pkg-config --cflags json-c 2>/dev/null)
P2PCTL_LIBS := $(shell pkg-config --libs json-c 2>/dev/null || echo -ljson-c)

tools: tools/p2pctl/p2pctl

tools/p2pctl/p2pctl: $(P2PCTL_SRC) $(wildcard tools/p2pctl/*.h)
	$(CC) $(P2PCTL_CFLAGS) -o $@ $(P2PCTL_SRC) $(P2PCTL_LIBS)

PREFIX ?= /usr/local
install-tools: tools
	install -D -m 0755 tools/p2pctl/p2pctl $(DESTDIR)$(PREFIX)/sbin/p2pctl
	install -D -m 0644 tools/p2pctl/80-p2pdax.rules $(DESTDIR)/etc/udev/rules.d/80-p2pdax.rules
	install -D -m 0644 tools/p2pctl/p2pctl-apply.service $(DESTDIR)/etc/systemd/system/p2pctl-apply.service
	install -D -m 0644 Documentation/man/p2pctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/p2pctl.8

clean:
	$(MAKE) -C $(KDIR) M=$(TOP) clean
	rm -rf build

checkpatch:
	@test -x $(CHECKPATCH_DIR)/checkpatch.pl || \
		{ echo "checkpatch.pl missing: run scripts/install-deps.sh"; exit 1; }
	$(CHECKPATCH_DIR)/checkpatch.pl --no-tree --strict --terse --show-types \
		--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG -f $(KSRC)
	$(CHECKPATCH_DIR)/checkpatch.pl --no-tree --strict --terse --show-types \
		--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG,LINUX_VERSION_CODE \
		-f $(KSRC_COMPAT)

# sparse (C=2: check every file).  Kbuild prints sparse's findings as
# warnings; any output from the checker fails the target.
sparse:
	@mkdir -p build
	$(MAKE) -C $(KDIR) M=$(TOP) clean >/dev/null
	$(MAKE) -C $(KDIR) M=$(TOP) C=2 modules 2>&1 | tee build/sparse.log
	@! grep -E '(warning|error):' build/sparse.log

lint: checkpatch sparse

TEST_CFLAGS := -O2 -g -Wall -Wextra -Werror
UNIT_TESTS := $(patsubst tests/unit/%.c,build/tests/unit/%,$(wildcard tests/unit/*.c))

build/tests/%: tests/bin/%.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $<

build/tests/p2ppin: tests/bin/p2ppin.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< -libverbs

build/tests/unit/%: tests/unit/%.c $(wildcard drivers/iopmem/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $<

build/tests/unit/test_p2pctl: tests/unit/test_p2pctl.c tools/p2pctl/util.c tools/p2pctl/util.h
	@mkdir -p $(dir $@)
	$(CC) $(P2PCTL_CFLAGS) -Itools/p2pctl -o $@ $< tools/p2pctl/util.c $(P2PCTL_LIBS)

build/tests/p2prdma: tests/rdma/p2prdma.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< -libverbs

build/tests/p2pbench: bench/p2pbench.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< -libverbs

TEST_BINS := build/tests/p2prdma build/tests/p2pbench $(patsubst tests/bin/%.c,build/tests/%,$(wildcard tests/bin/*.c))

tests-bin: $(TEST_BINS) $(UNIT_TESTS)

check:
	scripts/install-deps.sh
	$(MAKE) all tests-bin
	tests/run-tests

bench:
	scripts/install-deps.sh
	$(MAKE) all tests-bin
	QUICK=$(QUICK) bench/run

demo:
	scripts/install-deps.sh
	$(MAKE) all
	scripts/demo.sh

# SPDX-License-Identifier: GPL-2.0
#
# iopmem top-level Makefile.  The kernel modules are built out of tree
# through Kbuild; everything else (tools, tests, the QEMU testbed) is driven
# from here.  See README.md.

# Which kernel to build for is decided by scripts/kver.sh when a recipe runs
# (after scripts/install-deps.sh), never when this file is read: KVER=RELEASE
# or KDIR=DIR choose one, the default is the testbed's kernel (Debian 12's
# linux-image-amd64).  Command-line variables reach kver.sh through the
# environment.
KVER_SH := $(CURDIR)/scripts/kver.sh
# Modules build out of a copy of their sources in build/kmod/RELEASE, one
# directory per kernel, so that switching kernels never mixes objects; a
# guest loads the modules of its own `uname -r` from there.
KDIR_SH = kdir=$$($(KVER_SH) kdir) && kver=$$($(KVER_SH) kver) && \
	kmod=$(CURDIR)/build/kmod/$$kver &&
KMOD_SRC := Kbuild $(shell find drivers include tests/kmod \( -name Kbuild -o -name '*.[ch]' \) ! -name '*.mod.c' | sort)
KMOD_COPY = mkdir -p "$$kmod" && cp -u --parents $(KMOD_SRC) "$$kmod"/ &&

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

TOP := $(CURDIR)
CHECKPATCH_DIR ?= /usr/local/share/iopmem/checkpatch-6.12
KSRC := $(shell find drivers include -name '*.[ch]' ! -name '*.mod.c' ! -name compat.h | sort)
# Kernel API drift is probed by version in these headers only (an out-of-tree
# module cannot be "the version it is merged to"), so there alone
# LINUX_VERSION_CODE is allowed.
KSRC_COMPAT := $(shell find drivers include -name compat.h | sort)

.PHONY: all modules tools clean check check-guest ci-debug ci-debug-1 ci-debug-2 demo bench lint \
	checkpatch sparse install modules_install deps help tests-bin install-tools \
	deb FORCE check-kernels check-smoke debug-kernel demo-2host

all: modules tools

help:
	@echo "make            build the kernel modules and tools (KVER=RELEASE to choose the kernel)"
	@echo "make demo       install deps, build, boot the QEMU testbed and show a card"
	@echo "make demo-2host two guests on one link: RDMA between their carved devices"
	@echo "make check      install deps, build, run host and in-guest tests"
	@echo "make check-guest KERNEL=6.1|6.12|7.2|7.3|debug [TESTS=\"carve rdma\"]   the tests that boot that kernel (guest suite, demo, bench)"
	@echo "make check-smoke KERNEL=VER   the demo, carve, isolation, rdma, nvme and hot-unplug on that kernel"
	@echo "make check-kernels   make check on the default kernel, the guest suite on the other series and the debug kernel"
	@echo "make debug-kernel    build the lockdep/KASAN/DEBUG_VM/PAGE_TABLE_CHECK kernel from 7.3 (DEBUG_SOURCE=6.1: from 6.1; cached)"
	@echo "make lint       checkpatch.pl --no-tree + sparse over the kernel code"
	@echo "make modules_install   install the modules into /lib/modules/KVER/extra"

deps:
	scripts/install-deps.sh

modules:
	@$(KVER_SH) note
	$(KDIR_SH) kmake=$$($(KVER_SH) kmake) && $(KMOD_COPY) \
		if [ "$$kmake" = make ]; then $(MAKE) -C "$$kdir" M="$$kmod" modules; \
		else $$kmake -C "$$kdir" M="$$kmod" modules; fi
	@$(KDIR_SH) echo "modules: $$kmod/drivers/dax-core/dax_core.ko $$kmod/drivers/iopmem/iopmem.ko"

# Into /lib/modules/KVER/extra (INSTALL_MOD_PATH, INSTALL_MOD_DIR honoured),
# the drivers only: not the tests' module (tests/kmod, a page pinner).
# Unsigned (CONFIG_MODULE_SIG_ALL=: kbuild would sign with the kernel's own
# key, which Debian does not ship; on Secure Boot, install the DKMS package,
# which signs with its MOK).  depmod here: Debian's headers have no
# System.map, so kbuild skips it and modprobe would not find the modules.
# (INSTALL_MOD_DIR given: kbuild's default for external modules is extra
# on 6.1 and updates on 6.12; the modules may be compressed, .ko.xz)
IOPMEM_MOD_DIR = $(or $(INSTALL_MOD_DIR),extra)
modules_install install: modules
	$(KDIR_SH) $(MAKE) -C "$$kdir" M="$$kmod" CONFIG_MODULE_SIG_ALL= \
		INSTALL_MOD_DIR="$(IOPMEM_MOD_DIR)" modules_install && \
		rm -rf "$(INSTALL_MOD_PATH)/lib/modules/$$kver/$(IOPMEM_MOD_DIR)/tests" && \
		if [ -z "$(INSTALL_MOD_PATH)" ]; then depmod -a "$$kver"; fi

# The one version of the project: debian/changelog's first entry.
VERSION := $(shell awk -F'[()]' 'NR == 1 { print $$2; exit }' debian/changelog)

P2PCTL_SRC := tools/p2pctl/p2pctl.c tools/p2pctl/card.c tools/p2pctl/cdi.c tools/p2pctl/cdi-spec.c \
	tools/p2pctl/check.c tools/p2pctl/device.c \
	tools/p2pctl/layout.c tools/p2pctl/list.c tools/p2pctl/sysfs.c tools/p2pctl/topology.c \
	tools/p2pctl/transfer.c tools/p2pctl/util.c
P2PCTL_CFLAGS := -O2 -g -Wall -Wextra -Werror -DP2PCTL_VERSION='"$(VERSION)"' \
	$(shell pkg-config --cflags json-c 2>/dev/null)
P2PCTL_LIBS := $(shell pkg-config --libs json-c 2>/dev/null || echo -ljson-c)

tools: tools/p2pctl/p2pctl

tools/p2pctl/p2pctl: $(P2PCTL_SRC) $(wildcard tools/p2pctl/*.h) debian/changelog
	$(CC) $(P2PCTL_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(P2PCTL_SRC) $(P2PCTL_LIBS)

# make install-tools: PREFIX=/usr/local by default (the packages use /usr).
# The udev rule and the unit are generated so that they run the p2pctl this
# installs; UDEVRULESDIR and SYSTEMDUNITDIR default to the administrator's
# directories (the package uses /lib/udev/rules.d and /lib/systemd/system).
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
UDEVRULESDIR ?= /etc/udev/rules.d
SYSTEMDUNITDIR ?= /etc/systemd/system
GEN := build/tools

$(GEN)/%: tools/p2pctl/%.in FORCE
	@mkdir -p $(GEN)
	@[[ "$(SBINDIR)" == /* ]] || { echo "SBINDIR/PREFIX must be an absolute path, not '$(SBINDIR)'" >&2; exit 2; }
	sed 's|@SBINDIR@|$(SBINDIR)|g' $< >$@.tmp && mv $@.tmp $@

install-tools: tools $(GEN)/80-p2pdax.rules $(GEN)/p2pctl-apply.service
	install -D -m 0755 tools/p2pctl/p2pctl $(DESTDIR)$(SBINDIR)/p2pctl
	install -D -m 0644 $(GEN)/80-p2pdax.rules $(DESTDIR)$(UDEVRULESDIR)/80-p2pdax.rules
	install -D -m 0644 $(GEN)/p2pctl-apply.service $(DESTDIR)$(SYSTEMDUNITDIR)/p2pctl-apply.service
	install -D -m 0644 Documentation/man/p2pctl.8 $(DESTDIR)$(MANDIR)/man8/p2pctl.8
	install -D -m 0644 Documentation/man/p2pdax.4 $(DESTDIR)$(MANDIR)/man4/p2pdax.4
	install -D -m 0644 Documentation/examples/p2pdax-tenant.c \
		$(DESTDIR)$(PREFIX)/share/doc/p2pctl/examples/p2pdax-tenant.c
	install -D -m 0644 tools/p2pctl/p2pctl.bash-completion $(DESTDIR)$(BASHCOMPDIR)/p2pctl
	@[ -n "$(DESTDIR)" ] && [ "$(DESTDIR)" != / ] || { \
		echo "install-tools: installed $(SBINDIR)/p2pctl; the udev rule is active after"; \
		echo "  'udevadm control --reload'; restore the layout at boot with"; \
		echo "  'systemctl daemon-reload && systemctl enable p2pctl-apply.service'"; }

FORCE:

# make deb: iopmem-dkms_VERSION_all.deb and p2pctl_VERSION_ARCH.deb in
# build/deb/, built by dpkg-buildpackage from a copy of the files git knows
# (so no build products of this tree leak in), then checked with lintian.
DEB_OUT := build/deb
deb:
	scripts/install-deps.sh deb
	rm -rf $(DEB_OUT) && mkdir -p $(DEB_OUT)/src/iopmem-$(VERSION)
	git ls-files -z --cached --others --exclude-standard | \
		while IFS= read -r -d '' f; do [ -e "$$f" ] && printf '%s\0' "$$f"; done | \
		xargs -0 cp --parents -t $(DEB_OUT)/src/iopmem-$(VERSION)
	cd $(DEB_OUT)/src/iopmem-$(VERSION) && \
		DEB_BUILD_OPTIONS=noautodbgsym dpkg-buildpackage -b -us -uc >../../build.log 2>&1 || \
		{ tail -n 30 ../../build.log; echo "make deb: dpkg-buildpackage failed (log: $(DEB_OUT)/build.log)" >&2; exit 1; }
	mv $(DEB_OUT)/src/*.deb $(DEB_OUT)/
	rm -rf $(DEB_OUT)/src
	lintian --fail-on error --tag-display-limit 0 $(DEB_OUT)/*.deb | tee $(DEB_OUT)/lintian.log
	@ls $(DEB_OUT)/*.deb

clean:
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
	$(KDIR_SH) $(KMOD_COPY) $(MAKE) -C "$$kdir" M="$$kmod" clean >/dev/null
	$(KDIR_SH) $(KMOD_COPY) $(MAKE) -C "$$kdir" M="$$kmod" C=2 modules 2>&1 | tee build/sparse.log
	@! grep -E '(warning|error):' build/sparse.log

lint: checkpatch sparse

TEST_CFLAGS := -O2 -g -Wall -Wextra -Werror
UNIT_TESTS := $(patsubst tests/unit/%.c,build/tests/unit/%,$(wildcard tests/unit/*.c))

build/tests/%: tests/bin/%.c tests/bin/pattern.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $<

build/tests/p2ppin: tests/bin/p2ppin.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< -libverbs

build/tests/p2pdmabuf: tests/bin/p2pdmabuf.c tests/bin/pattern.h include/uapi/linux/p2pdax.h tests/kmod/p2pedu.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< -libverbs

build/tests/unit/%: tests/unit/%.c $(wildcard drivers/iopmem/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $<

build/tests/unit/test_topology: tests/unit/test_topology.c tools/p2pctl/topology.c tools/p2pctl/topology.h
	@mkdir -p $(dir $@)
	$(CC) $(P2PCTL_CFLAGS) -Itools/p2pctl -o $@ $< tools/p2pctl/topology.c $(P2PCTL_LIBS)

build/tests/unit/test_p2pctl: tests/unit/test_p2pctl.c tools/p2pctl/util.c tools/p2pctl/util.h
	@mkdir -p $(dir $@)
	$(CC) $(P2PCTL_CFLAGS) -Itools/p2pctl -o $@ $< tools/p2pctl/util.c $(P2PCTL_LIBS)

build/tests/unit/test_cdi: tests/unit/test_cdi.c tools/p2pctl/cdi-spec.c tools/p2pctl/cdi-spec.h
	@mkdir -p $(dir $@)
	$(CC) $(P2PCTL_CFLAGS) -Itools/p2pctl -o $@ $< tools/p2pctl/cdi-spec.c $(P2PCTL_LIBS)

build/tests/p2pchurn: tests/bin/p2pchurn.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -pthread -o $@ $<

build/tests/p2prdma: tests/rdma/p2prdma.c tests/rdma/verbs.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< -libverbs

build/tests/p2pnet: tests/rdma/p2pnet.c tests/rdma/verbs.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< -libverbs

build/tests/p2pbench: bench/p2pbench.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< -libverbs

# the tenant guide's example program (p2pdax(4)), built as a tenant would
build/tests/p2pdax-tenant: Documentation/examples/p2pdax-tenant.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $<

TEST_BINS := build/tests/p2prdma build/tests/p2pnet build/tests/p2pbench build/tests/p2pdax-tenant \
	$(patsubst tests/bin/%.c,build/tests/%,$(wildcard tests/bin/*.c))

tests-bin: $(TEST_BINS) $(UNIT_TESTS)

# what a kernel needs before anything builds for it or boots it: KERNEL=6.12
# installs Debian's 6.12 kernel, KERNEL=debug builds the lockdep/KASAN kernel
# (about 15 minutes the first time, cached in /var/cache/iopmem afterwards),
# KERNEL=7.2|7.3 downloads and extracts Debian's kernel and its headers'
# build chroot (about a minute the first time; cached, and refreshed when
# the archive has a newer release: scripts/debian-kernel.sh)
KERNEL_DEPS = $(if $(filter 6.12,$(KERNEL)),6.12)$(if $(filter debug-6.1,$(KERNEL)),debug)$(if $(filter 7.2 7.3 debug,$(KERNEL)),fresh)
KERNEL_PREP = scripts/install-deps.sh tests $(KERNEL_DEPS) && \
	$(if $(filter debug,$(KERNEL)),scripts/debug-kernel.sh build,true) && \
	$(if $(filter debug-6.1,$(KERNEL)),IOPMEM_DEBUG_SOURCE=6.1 scripts/debug-kernel.sh build,true) && \
	$(if $(filter 7.2 7.3,$(KERNEL)),scripts/debian-kernel.sh fetch $(KERNEL) >/dev/null,true)

# DEBUG_SOURCE=6.1: the same checks on Debian 12's 6.1 source (KERNEL=debug-6.1)
DEBUG_SOURCE ?= 7.3
debug-kernel:
	scripts/install-deps.sh $(if $(filter 6.1,$(DEBUG_SOURCE)),debug,fresh)
	IOPMEM_DEBUG_SOURCE=$(DEBUG_SOURCE) scripts/debug-kernel.sh build

# (fresh: debootstrap, for the 7.x kernels' build chroot, which the DKMS
# package's 7.3 test needs)
check:
	scripts/install-deps.sh tests deb fresh
	$(KERNEL_PREP)
	$(MAKE) all tests-bin
	tests/run-tests

# make check-guest KERNEL=VER [TESTS="carve rdma ..."]: every test that
# boots a guest of that kernel: the in-guest suite plus the host tests that
# boot their own (the demos, the bench with QUICK=1, the two-host RDMA
# test); or only the named in-guest tests.  The other host-side tests (lint,
# packaging, run-vm's contract, p2pctl's flags) do not depend on the kernel
# and run in make check.
KERNEL_HOST_TESTS := tests/host/demo.sh tests/host/bench.sh tests/host/two-host.sh \
	tests/host/demo-2host.sh
GUEST_TESTS = $(if $(TESTS),$(addprefix tests/guest/,$(addsuffix .sh,$(TESTS))),$(KERNEL_HOST_TESTS) $(sort $(wildcard tests/guest/*.sh)))
check-guest:
	@for t in $(GUEST_TESTS); do [ -f "$$t" ] || { echo "check-guest: no test $$t" >&2; exit 2; }; done
	$(KERNEL_PREP)
	$(MAKE) all tests-bin
	tests/run-tests $(GUEST_TESTS)

# What CI (.ci/run) runs on the debug kernel: carving, bad input, tenants
# and pins, racing resizes (carve-stress: shrinks under faulting touchers),
# revocation racing tenants' mapping changes (carve-churn), revoked ranges
# probed block by block after mprotect/mremap/madvise/fork (isolation), RDMA
# into carved devices, a memory failure (poison: the provider's
# memory_failure op and its locks), binding and unloading with devices open
# and mapped, hot-unplug of a mapped and pinned card.
# Guests of the debug kernel run about three to five times slower than
# Debian's; check-kernels runs every guest test on it.
# The hot-unplug test runs 5 of its 20 cycles there (each takes 20-30 s).
# CI runs it in two halves side by side (make ci-debug-1 in stream B,
# ci-debug-2 in A), balanced by the tests' times there (rdma about 300 s,
# carve-input 200, carve-tenants 160, carve 140, the 5 hot-unplug cycles
# 140-300, iopmem-bind 90, dmabuf 50, carve-stress 50; a boot about 60);
# make ci-debug runs both, one after the other.
CI_DEBUG_TESTS_1 := carve-input rdma poison carve-churn pin-count isolation
CI_DEBUG_TESTS_2 := carve carve-tenants carve-stress iopmem-bind iopmem-hotplug dmabuf
CI_DEBUG_TESTS := $(CI_DEBUG_TESTS_1) $(CI_DEBUG_TESTS_2)
CI_DEBUG_HOTPLUG_CYCLES := 5
# (isolation's 1 GiB scenarios run on its min_align=2M binding only there:
# tests/guest/isolation.sh, IOPMEM_ISOLATION_QUICK)
ci-debug:
	$(MAKE) check-guest KERNEL=debug TESTS="$(CI_DEBUG_TESTS)" IOPMEM_HOTPLUG_CYCLES=$(CI_DEBUG_HOTPLUG_CYCLES) IOPMEM_ISOLATION_QUICK=1
ci-debug-1 ci-debug-2:
	$(MAKE) check-guest KERNEL=debug TESTS="$(CI_DEBUG_TESTS_$(@:ci-debug-%=%))" IOPMEM_HOTPLUG_CYCLES=$(CI_DEBUG_HOTPLUG_CYCLES) IOPMEM_ISOLATION_QUICK=1

# make check-smoke KERNEL=VER: the tests a kernel that is not the main
# one runs in CI: the demo, carving, isolation, RDMA into a carved device,
# NVMe DMA to and from one, hot-unplug of a mapped and pinned card, a
# dma-buf DMAed by edu.
SMOKE_TESTS := carve isolation rdma nvme iopmem-hotplug dmabuf
# (isolation quick, as on the debug kernel: on 6.15+ its 1 GiB scenarios,
# and its madvise scenarios at 2M, run on the min_align=2M binding only;
# the whole suite on 7.3 runs them on both bindings)
check-smoke:
	$(KERNEL_PREP)
	$(MAKE) all tests-bin
	IOPMEM_ISOLATION_QUICK=1 tests/run-tests tests/host/demo.sh $(addprefix tests/guest/,$(addsuffix .sh,$(SMOKE_TESTS)))

# The whole suite on the host's default kernel (Debian 12: 6.1, Debian 13:
# 6.12), then the guest suite on every other series and on the debug kernel
# (DEBUG_TESTS="..." names a subset for the debug kernel: CI's).  On
# Debian 13 there is no 6.1 to check, and it says so: CI checks 6.1 on
# Debian 12.  Every run's last line is "N passed, N failed, N skipped"; any
# failure fails the target, after all of them have run.
check-kernels:
	rc=0; \
	$(MAKE) check || rc=1; \
	dflt=$$(scripts/kver.sh kver); \
	for k in 6.1 6.12 7.2 7.3; do \
		case $$dflt in $$k.*) continue ;; esac; \
		if [ "$$k" = 6.1 ] && ! KERNEL=6.1 scripts/kver.sh kver >/dev/null 2>&1; then \
			echo "# check-kernels: no 6.1 on this host (Debian 12's kernel; its default is $$dflt)"; \
			continue; \
		fi; \
		$(MAKE) check-guest KERNEL=$$k || rc=1; \
	done; \
	$(MAKE) check-guest KERNEL=debug TESTS="$(DEBUG_TESTS)" IOPMEM_ISOLATION_QUICK=1 || rc=1; \
	exit $$rc

bench:
	scripts/install-deps.sh
	$(MAKE) all tests-bin
	QUICK=$(QUICK) bench/run

# what scripts/demo.sh and scripts/demo-guest.sh run
DEMO_BINS := build/tests/p2prdma build/tests/p2pmap

demo:
	scripts/install-deps.sh
	$(MAKE) all $(DEMO_BINS)
	scripts/demo.sh

# two guests, RDMA between carved devices (scripts/demo-2host.sh)
demo-2host:
	scripts/install-deps.sh
	$(MAKE) all build/tests/p2pnet build/tests/p2pmap
	scripts/demo-2host.sh

#!/bin/sh
# Install the Debian packages iopmem needs, on Debian 12 (bookworm) or
# Debian 13 (trixie).  Idempotent: packages already present are skipped, and
# apt-get update runs at most once per invocation (and only when something
# is missing).
#
#   install-deps.sh [GROUP...]
#     base   build, testbed, demo (the default)
#     tests  base, and what only the test suite needs (on Debian 13, QEMU's
#            qxl display, a module of its own with OpenGL's libraries)
#     deb    packaging: make deb, lintian, the package test
#     fresh  scripts/fresh-machine.sh and the 7.x kernels' build chroot
#            (debootstrap)
#     6.12   KERNEL=6.12: on Debian 12, its linux-6.12 (bookworm-security):
#            the newest linux-image/headers-6.12.*+deb12-amd64; on Debian
#            13, nothing (its own kernel is a 6.12, the default)
#     debug  what scripts/debug-kernel.sh needs to build the lockdep/KASAN
#            kernel's 6.1 variant (KERNEL=debug-6.1; Debian 12 only):
#            linux-source-6.1 and the kernel's build dependencies; no
#            kernel is installed
#
# Installing never changes which kernel the testbed boots: that is the one
# linux-image-amd64 points at (scripts/kver.sh): Debian 12's 6.1 or Debian
# 13's 6.12.  checkpatch.pl comes from linux-source-6.12 on both releases
# (bookworm-security has it), so that `make lint` judges the same way.
set -eu

# the host's Debian release: the package names differ between them
RELEASE=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
case $RELEASE in
bookworm | trixie) ;;
*)
	echo "install-deps: this host is '${RELEASE:-unknown}' (/etc/os-release); iopmem's scripts know Debian 12 (bookworm) and Debian 13 (trixie)" >&2
	exit 1
	;;
esac

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi

BASE="
build-essential make gcc bc flex bison kmod cpio gzip xz-utils
sparse
linux-image-amd64 linux-headers-amd64 linux-source-6.12
qemu-system-x86 qemu-utils busybox-static
pciutils iproute2 util-linux procps
rdma-core ibverbs-providers ibverbs-utils libibverbs-dev perftest
ndctl daxctl
libjson-c-dev pkg-config
python3 perl udev systemd jq
podman crun
"
# Debian 13's QEMU builds the qxl display (iopmem-badbar's card with large
# non-prefetchable BARs) as a module of its own package, which pulls in
# OpenGL's libraries (not for make demo); Debian 12's QEMU has it built in
TESTS_trixie="qemu-system-modules-spice"
DEB="
dpkg-dev debhelper dh-dkms dkms lintian bash-completion fakeroot
"
# udev.pc and systemd.pc (debian/rules reads where rules and units go):
# Debian 13 moved them to systemd-dev; Debian 12 has them in udev and systemd
DEB_trixie="systemd-dev"
FRESH="
debootstrap
"
DEBUGK="
build-essential bc flex bison libelf-dev libssl-dev
cpio xz-utils kmod
"

updated=
apt_update() {
	[ -n "$updated" ] && return 0
	$SUDO apt-get update -q
	updated=1
}

# The newest Debian 12 6.12 kernel (image + headers) the archive has.  On a
# machine that boots through GRUB, installing a newer kernel image would
# change what it boots: refused unless IOPMEM_BOOT_OK=1 says so.
kernel_612() {
	# Debian 13's own kernel is a 6.12 (BASE installs it)
	[ "$RELEASE" = bookworm ] || return 0
	if ls /usr/src/linux-headers-6.12.*+deb12-amd64/Makefile >/dev/null 2>&1; then
		return 0
	fi
	if [ -e /boot/grub/grub.cfg ] && [ "${IOPMEM_BOOT_OK:-}" != 1 ]; then
		echo "install-deps: this machine boots with GRUB and installing linux-image-6.12 would make it the default; set IOPMEM_BOOT_OK=1 to install it anyway" >&2
		exit 1
	fi
	apt_update >/dev/null
	# The archive lists headers (and an -unsigned image) for a release
	# before its signed image is built: take the newest release whose
	# headers and signed image can both be installed, else the newest
	# with headers and the unsigned image (same /boot/vmlinuz-VER).
	versions=$(apt-cache search --names-only '^linux-headers-6\.12\.[0-9]+\+deb12-amd64$' |
		awk '{ print $1 }' | sed 's/^linux-headers-//' | sort -rV)
	image=
	for suffix in "" -unsigned; do
		for v in $versions; do
			if has_candidate "linux-headers-$v" &&
				has_candidate "linux-image-$v$suffix"; then
				image=linux-image-$v$suffix
				break 2
			fi
		done
	done
	if [ -z "$image" ]; then
		echo "install-deps: no installable linux-image + linux-headers 6.12.*+deb12-amd64 pair in the package lists" >&2
		exit 1
	fi
	echo "install-deps: Debian 12's 6.12 kernel: $image"
	PKGS="$PKGS $image linux-headers-$v"
}

# true when apt can install package $1 (a real package with a candidate,
# not only a name that another package refers to)
has_candidate() {
	apt-cache policy "$1" 2>/dev/null |
		awk '/Candidate:/ { found = $2 != "(none)" } END { exit !found }'
}

PKGS=
need_checkpatch=
[ $# -gt 0 ] || set -- base
for group in "$@"; do
	case $group in
	base | 6.1) PKGS="$PKGS $BASE" need_checkpatch=1 ;;
	tests)
		PKGS="$PKGS $BASE" need_checkpatch=1
		[ "$RELEASE" != trixie ] || PKGS="$PKGS $TESTS_trixie"
		;;
	deb)
		PKGS="$PKGS $BASE $DEB" need_checkpatch=1
		[ "$RELEASE" != trixie ] || PKGS="$PKGS $DEB_trixie"
		;;
	fresh) PKGS="$PKGS $FRESH" ;;
	6.12) kernel_612 ;;
	debug)
		if [ "$RELEASE" != bookworm ]; then
			echo "install-deps: group debug is the 6.1 debug kernel's (KERNEL=debug-6.1), from Debian 12's linux-source-6.1, which Debian 13 does not have; KERNEL=debug (from 7.3) needs only the group fresh" >&2
			exit 1
		fi
		PKGS="$PKGS $BASE $DEBUGK linux-source-6.1" need_checkpatch=1
		;;
	*)
		echo "install-deps: unknown group '$group' (base, tests, deb, fresh, 6.1, 6.12 or debug)" >&2
		exit 2
		;;
	esac
done

# checkpatch.pl and its data files, from Debian's linux-source-6.12 tarball
# (never copied into this repository).  The directory names the series: a
# machine that had 6.1's gets 6.12's beside it.
CHECKPATCH_DIR=/usr/local/share/iopmem/checkpatch-6.12
install_checkpatch() {
	[ -x "$CHECKPATCH_DIR/checkpatch.pl" ] && return 0
	tarball=$(ls /usr/src/linux-source-6.12.tar.* 2>/dev/null | head -n 1)
	[ -n "$tarball" ] || { echo "install-deps: linux-source-6.12 tarball missing" >&2; return 1; }
	echo "install-deps: extracting checkpatch.pl from $tarball"
	tmp=$(mktemp -d)
	tar -xf "$tarball" -C "$tmp" --wildcards --no-wildcards-match-slash \
		'linux-source-6.12/scripts/checkpatch.pl' \
		'linux-source-6.12/scripts/spelling.txt' \
		'linux-source-6.12/scripts/const_structs.checkpatch'
	$SUDO mkdir -p "$CHECKPATCH_DIR"
	$SUDO cp "$tmp"/linux-source-6.12/scripts/* "$CHECKPATCH_DIR/"
	rm -rf "$tmp"
}

missing=
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt_update
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -q --no-install-recommends $missing
else
	echo "install-deps: all packages present"
fi
# (from linux-source-6.12, which the groups with BASE install)
[ -z "$need_checkpatch" ] || install_checkpatch

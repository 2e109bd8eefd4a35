#!/bin/sh
# The one place that decides which kernel iopmem builds for and boots.
#
#   kver.sh kver       the kernel release (`uname -r` form) to build for
#   kver.sh kdir       its build directory (the kernel headers)
#   kver.sh note       say on stderr which kernel was chosen, and which other
#                      kernels with headers are installed (never a silent pick)
#   kver.sh installed  every installed kernel that has headers and an image
#                      (not the debug kernel: it lives in the build cache)
#   kver.sh supported  those of them that iopmem supports (scripts/kernels)
#   kver.sh series     the supported series, as an ERE for a release
#   kver.sh image      the chosen kernel's image (what run-vm boots)
#   kver.sh modroot    a root whose lib/modules/RELEASE has the chosen
#                      kernel's modules (/ for Debian's kernels)
#   kver.sh kmake      the make that builds modules for the chosen kernel:
#                      make, or scripts/debian-kernel.sh make RELEASE for
#                      the 7.x kernels (their kbuild runs in a chroot)
#
# The choice, in this order:
#   KVER=RELEASE  that kernel (e.g. KVER=6.1.0-56-amd64, or KVER=$(uname -r)
#                 on real hardware); its headers must be installed
#   KERNEL=VER    the same, or a short alias: 6.1 (Debian 12's kernel, its
#                 default; Debian 13 has none), 6.12 (the newest installed
#                 6.12.*-amd64: Debian 13's own kernel, or on Debian 12 its
#                 linux-6.12, which scripts/install-deps.sh 6.12 installs),
#                 debug (Debian's linux-source-7.3 built with lockdep, KASAN,
#                 DEBUG_VM and PAGE_TABLE_CHECK by scripts/debug-kernel.sh:
#                 make debug-kernel), debug-6.1 (the same from Debian 12's
#                 linux-source-6.1: make debug-kernel DEBUG_SOURCE=6.1),
#                 7.2, 7.3 (Debian's trixie-backports kernels, downloaded,
#                 extracted and cached by scripts/debian-kernel.sh fetch;
#                 never installed on the host)
#   KDIR=DIR      a kernel build directory; KVER is read from it
#   default       the testbed's kernel: the one the host's linux-image-amd64
#                 package depends on (Debian 12: the 6.1 series, Debian 13:
#                 6.12).  Installing another kernel (e.g. 6.12 on Debian 12)
#                 never changes it.
#
# This script runs at recipe time, after scripts/install-deps.sh, never when
# a Makefile is read.
set -eu
DEBUG_SH=$(dirname "$0")/debug-kernel.sh
DEBIAN_SH=$(dirname "$0")/debian-kernel.sh

die() {
	echo "kver.sh: $*" >&2
	exit 1
}

# the debug kernel's release, if it is built (it never is by accident)
debug_kver() {
	"$DEBUG_SH" kver 2>/dev/null || true
	IOPMEM_DEBUG_SOURCE=6.1 "$DEBUG_SH" kver 2>/dev/null || true
}

# debug-kernel.sh for the source a debug release was built from
debug_sh() {
	case $1 in
	6.1.*) IOPMEM_DEBUG_SOURCE=6.1 "$DEBUG_SH" "$2" ;;
	*) IOPMEM_DEBUG_SOURCE=7.3 "$DEBUG_SH" "$2" ;;
	esac
}

is_debug() {
	case $1 in
	*-iopmem-debug) return 0 ;;
	esac
	return 1
}

# a 7.x kernel of scripts/debian-kernel.sh's cache
is_cached() {
	case $1 in
	7.*+deb13-amd64) "$DEBIAN_SH" list 2>/dev/null | grep -qxF "$1" ;;
	*) return 1 ;;
	esac
}

headers_dir() {
	if is_debug "$1"; then
		! debug_kver | grep -qxF "$1" || debug_sh "$1" kdir
	elif is_cached "$1"; then
		"$DEBIAN_SH" kdir "$1"
	elif [ -d "/usr/src/linux-headers-$1" ]; then
		echo "/usr/src/linux-headers-$1"
	elif [ -d "/lib/modules/$1/build" ]; then
		echo "/lib/modules/$1/build"
	fi
}

installed() {
	for d in /usr/src/linux-headers-*; do
		[ -f "$d/Makefile" ] || continue
		v=${d#/usr/src/linux-headers-}
		[ -f "/boot/vmlinuz-$v" ] || continue
		[ -d "$d/include/generated" ] || continue	# not a -common dir
		echo "$v"
	done | sort -V
}

# the supported series (scripts/kernels), as an ERE that matches a release
series_ere() {
	printf '^(%s)\\.\n' "$(sed -e '/^#/d' -e '/^$/d' -e 's/[[:space:]].*//' -e 's/\./\\./g' \
		"$(dirname "$0")/kernels" | paste -sd'|')"
}

supported() {
	installed | grep -E "$(series_ere)" || true
}

cached() {
	"$DEBIAN_SH" list 2>/dev/null || true
}

# The release the host's linux-image-amd64 metapackage points at.
testbed_kver() {
	dep=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null) || dep=
	v=$(printf '%s\n' "$dep" | tr ',' '\n' | sed -n 's/^ *linux-image-\([^ ]*\).*/\1/p' | head -n 1)
	[ -n "$v" ] || die "linux-image-amd64 is not installed: run scripts/install-deps.sh (or choose a kernel with KVER=RELEASE)"
	echo "$v"
}

release_of() {
	uts="$1/include/generated/utsrelease.h"
	[ -f "$uts" ] || die "$1 is not a kernel build directory (no include/generated/utsrelease.h)"
	sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$uts"
}

# the newest installed kernel of series $1 ("6.12") with headers and image
newest_of() {
	v=$(installed | grep -E "^$(echo "$1" | sed 's/\./\\./g')\.[0-9]+.*-amd64$" | tail -n 1)
	[ -n "$v" ] || die "no $1 kernel with headers is installed (scripts/install-deps.sh $1)"
	echo "$v"
}

# KERNEL=6.1: the testbed's default on Debian 12; elsewhere an installed
# 6.1, if any (Debian 13's archive has none)
kernel_61() {
	v=$(testbed_kver)
	case $v in
	6.1.*) echo "$v"; return ;;
	esac
	v=$(installed | grep -E '^6\.1\.[0-9]+.*-amd64$' | tail -n 1) || true
	[ -n "$v" ] || die "KERNEL=6.1 is Debian 12's kernel, and this host has none with headers (its default is $(testbed_kver); Debian 13's archive has no 6.1): use KERNEL=6.12, 7.2, 7.3 or debug, or check 6.1 on a Debian 12 host"
	echo "$v"
}

choose_kver() {
	if [ -n "${KVER:-}" ]; then
		echo "$KVER"
	elif [ -n "${KERNEL:-}" ]; then
		case $KERNEL in
		6.1) kernel_61 ;;
		6.12) newest_of 6.12 ;;
		debug) IOPMEM_DEBUG_SOURCE=7.3 "$DEBUG_SH" kver || exit 1 ;;
		debug-6.1) IOPMEM_DEBUG_SOURCE=6.1 "$DEBUG_SH" kver || exit 1 ;;
		7.2 | 7.3) "$DEBIAN_SH" kver "$KERNEL" || exit 1 ;;
		[0-9]*.*-*) echo "$KERNEL" ;;
		*) echo "kver.sh: KERNEL=$KERNEL: use 6.1, 6.12, 7.2, 7.3, debug, debug-6.1 or a full release like 6.12.117+deb12-amd64" >&2; exit 2 ;;
		esac
	elif [ -n "${KDIR:-}" ]; then
		release_of "$KDIR"
	else
		testbed_kver
	fi
}

choose_kdir() {
	if [ -n "${KDIR:-}" ]; then
		[ -d "$KDIR" ] || die "KDIR=$KDIR does not exist"
		echo "$KDIR"
		return
	fi
	v=$(choose_kver)
	d=$(headers_dir "$v")
	if [ -z "$d" ]; then
		others=$(installed | tr '\n' ' ')
		die "no headers for kernel $v (install linux-headers-$v; kernels with headers here: ${others:-none})"
	fi
	echo "$d"
}

case "${1:-}" in
kver)
	v=$(choose_kver)
	case $v in
	*[!A-Za-z0-9._+~-]*|'') die "KVER='$v' is not a kernel release" ;;
	esac
	echo "$v"
	;;
kdir)
	choose_kdir
	;;
note)
	v=$(choose_kver)
	choose_kdir >/dev/null
	how="the testbed's default; choose another with KERNEL=6.12|7.2|7.3|debug or KVER=RELEASE"
	[ -z "${KERNEL:-}" ] || how="KERNEL=$KERNEL"
	[ -z "${KVER:-}" ] || how="KVER"
	[ -z "${KDIR:-}" ] || [ -n "${KVER:-}" ] || how="KDIR"
	others=$( (installed; cached; debug_kver) | grep -vxF "$v" | tr '\n' ' ' || true)
	echo "kver.sh: building for kernel $v ($how)${others:+; also available: $others}" >&2
	;;
installed)
	installed
	;;
image | modroot)
	v=$(choose_kver)
	if is_debug "$v"; then
		debug_kver | grep -qxF "$v" || die "no debug kernel $v is built (make debug-kernel)"
		debug_sh "$v" "$1"
	elif is_cached "$v"; then
		"$DEBIAN_SH" "$1" "$v"
	elif [ "$1" = image ]; then
		echo "/boot/vmlinuz-$v"
	else
		echo /
	fi
	;;
series)
	series_ere
	;;
supported)
	supported
	;;
kmake)
	v=$(choose_kver)
	if is_cached "$v"; then
		echo "$DEBIAN_SH make $v"
	elif is_debug "$v" && [ "${v%%.*}" -ge 7 ]; then
		# the 7.3 debug kernel was built in the chroot: its tools need it
		echo "$DEBIAN_SH make-in"
	else
		echo make
	fi
	;;
*)
	echo "usage: kver.sh kver|kdir|note|installed|supported|series|image|modroot|kmake" >&2
	exit 2
	;;
esac

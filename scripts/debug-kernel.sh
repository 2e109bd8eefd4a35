#!/bin/bash
# The lockdep/KASAN/DEBUG_VM kernel the suite runs on as KERNEL=debug.
#
#   debug-kernel.sh build    build it (or do nothing: it is cached)
#   debug-kernel.sh kver     its release, e.g. 6.1.192-iopmem-debug
#   debug-kernel.sh kdir     its build tree (what out-of-tree modules build against)
#   debug-kernel.sh image    its bzImage
#   debug-kernel.sh modroot  a root holding lib/modules/RELEASE/modules.builtin
#                            (run-vm copies it into the guest: modprobe of a
#                            built-in driver then succeeds)
#   debug-kernel.sh dir      the cache directory of the current source + config
#
# Source (IOPMEM_DEBUG_SOURCE): 7.3 (the default) is Debian's
# linux-source-7.3 from trixie-backports, installed and built in the trixie
# chroot of scripts/debian-kernel.sh (its gcc-14; the chroot gets the build
# dependencies); 6.1 is Debian 12's linux-source-6.1 (scripts/install-deps.sh
# debug installs it and the build dependencies), built with the host's
# gcc-12.  Config: x86_64_defconfig + kvm_guest.config +
# scripts/debug-kernel/trim.config + scripts/debug-kernel/debug.config (+
# debug-SOURCE.config when it exists: 7.3 adds PAGE_TABLE_CHECK); every line
# of debug.config must survive olddefconfig.  Everything is built in.
# scripts/debug-kernel/patches-SOURCE/*.patch are applied to the source
# first: fixes for bugs of other drivers that the debug options report (each
# patch says which report and why), so that every report left is one to
# look at.
#
# The result is cached outside the repository in
# ${IOPMEM_CACHE:-/var/cache/iopmem}/debug-kernel/KEY, KEY = the source
# package's version + a hash of the config fragments, the patches and RECIPE, so a change
# to either builds a new kernel and an unchanged one never rebuilds.  RECIPE
# must be bumped by hand when build() changes what it produces.
# A build costs about 27 minutes of CPU (1635 s user + system measured, 1769
# objects): about 14.5 minutes on 2 idle cores (867 s measured), more beside
# guests; about 1750 s (estimated from its 1897 objects) before
# trim.config's second part.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FRAG=$HERE/debug-kernel
CACHE=${IOPMEM_CACHE:-/var/cache/iopmem}/debug-kernel
SOURCE=${IOPMEM_DEBUG_SOURCE:-7.3}
DEBIAN_SH=$HERE/debian-kernel.sh
case $SOURCE in
6.1)
	ROOT=
	;;
7.3)
	# the build runs in scripts/debian-kernel.sh's trixie chroot, and its
	# cache lives there (the same path inside and out, less the prefix)
	ROOT=$("$DEBIAN_SH" chroot-dir)
	CACHE=$ROOT/var/cache/iopmem/debug-kernel
	;;
*)
	echo "debug-kernel.sh: IOPMEM_DEBUG_SOURCE=$SOURCE: 7.3 or 6.1" >&2
	exit 2
	;;
esac
TARBALL=$ROOT/usr/src/linux-source-$SOURCE.tar.xz
# bump when build() changes what it produces
RECIPE=2

die() {
	echo "debug-kernel.sh: $*" >&2
	exit 1
}

# the config fragments and patches of this source
fragments() {
	echo "$FRAG/trim.config"
	echo "$FRAG/debug.config"
	[ ! -e "$FRAG/debug-$SOURCE.config" ] || echo "$FRAG/debug-$SOURCE.config"
}
patches() {
	local p
	for p in "$FRAG/patches-$SOURCE"/*.patch; do
		[ ! -e "$p" ] || echo "$p"
	done
}

key() {
	local v h
	if [ -n "$ROOT" ]; then
		v=$("$DEBIAN_SH" run dpkg-query -W -f='${Version}' "linux-source-$SOURCE" 2>/dev/null) ||
			die "linux-source-$SOURCE is not in the build chroot: run 'make debug-kernel' (it installs it and builds)"
	else
		if ! v=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null); then
			[ "$(. /etc/os-release && echo "$VERSION_CODENAME")" = bookworm ] ||
				die "linux-source-6.1 is Debian 12's, and this host is not Debian 12: the 6.1 debug kernel builds on a Debian 12 host (KERNEL=debug, from 7.3, builds here)"
			die "linux-source-6.1 is not installed (scripts/install-deps.sh debug)"
		fi
	fi
	[ -r "$TARBALL" ] || die "$TARBALL is missing"
	# shellcheck disable=SC2046
	h=$( (echo "recipe $RECIPE"; cat $(fragments) $(patches)) | sha256sum | cut -c1-12)
	echo "$v-$h"
}

dir() {
	local k
	k=$(key) || exit 1
	echo "$CACHE/$k"
}

built() {
	local d
	d=$(dir) || exit 1
	[ -f "$d/release" ] && [ -f "$d/bzImage" ] || die "the debug kernel is not built for this source and config ($d): run 'make debug-kernel' (about 15 minutes)"
	echo "$d"
}

# every line of debug.config, as .config must have it
verify_config() {
	local cfg=$1 line bad=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=* | "# CONFIG_"*" is not set") ;;
		*) continue ;;
		esac
		if ! grep -qxF -- "$line" "$cfg"; then
			local name=${line#\# }
			name=${name%%[= ]*}
			echo "debug-kernel.sh: config wants '$line', olddefconfig gave '$(grep -E "^(# )?$name[= ]" "$cfg" || echo "$name unset")'" >&2
			bad=1
		fi
	done < <(cat "$FRAG/debug.config" "$FRAG/debug-$SOURCE.config" 2>/dev/null)
	return $bad
}

# make, and any command, where this source builds: on the host (6.1), or in
# the trixie chroot, where its cache is (7.3)
kmake() {
	krun make "$@"
}
krun() {
	if [ -n "$ROOT" ]; then
		# the chroot has the cache, not the directory this runs from
		case $PWD in
		"$ROOT"/*) "$DEBIAN_SH" run-at "$PWD" "$@" ;;
		*) "$DEBIAN_SH" run-at / "$@" ;;
		esac
	else
		"$@"
	fi
}

# 7.3: the chroot, its build dependencies and linux-source-7.3
prepare_source() {
	[ -n "$ROOT" ] || return 0
	"$DEBIAN_SH" chroot-install "linux-source-$SOURCE" make gcc-14 gcc bc flex bison \
		libelf-dev libssl-dev cpio xz-utils kmod python3 rsync ||
		die "cannot install linux-source-$SOURCE and the build dependencies in the chroot"
}

build() {
	local d tmp src jobs t0 rel
	prepare_source
	d=$(dir) || exit 1
	if [ -f "$d/release" ]; then
		echo "debug-kernel.sh: cached: $(cat "$d/release") in $d"
		return 0
	fi
	if [ -z "$ROOT" ]; then
		command -v flex >/dev/null && command -v bison >/dev/null && command -v bc >/dev/null &&
			[ -e /usr/include/libelf.h ] && [ -e /usr/include/openssl/ssl.h ] ||
			die "kernel build dependencies missing (scripts/install-deps.sh debug)"
	fi
	if [ ! -w "$CACHE" ] && [ ! -w "$(dirname "$CACHE")" ] && [ "$(id -u)" != 0 ]; then
		# /var/cache/iopmem is root's: make our directory there as install-deps does its work
		sudo install -d -o "$(id -u)" "$CACHE" ||
			die "cannot create $CACHE (run as root, or set IOPMEM_CACHE to a writable directory)"
	fi
	mkdir -p "$CACHE" && [ -w "$CACHE" ] ||
		die "$CACHE is not writable (run as root, or set IOPMEM_CACHE to a writable directory)"
	exec 9>"$CACHE/.lock"
	flock 9
	if [ -f "$d/release" ]; then	# built while we waited
		echo "debug-kernel.sh: cached: $(cat "$d/release") in $d"
		return 0
	fi
	t0=$(date +%s)
	tmp=$d.partial
	rm -rf "$tmp"
	mkdir -p "$tmp"
	echo "debug-kernel.sh: building $(key) in $tmp (about 15 minutes on 2 idle cores; log: $tmp/build.log)"
	tar -xf "$TARBALL" -C "$tmp"
	src=$tmp/linux-source-$SOURCE
	mv "$src" "$tmp/build"
	src=$tmp/build
	jobs=$(nproc)
	for p in $(patches); do
		patch -d "$src" -p1 --forward --quiet <"$p" >>"$tmp/build.log" 2>&1 ||
			die "$(basename "$p") does not apply (log: $tmp/build.log)"
	done
	# shellcheck disable=SC2046
	cp $(fragments) "$tmp/"
	{
		kmake -C "$src" x86_64_defconfig
		(cd "$src" && krun scripts/kconfig/merge_config.sh -m .config \
			kernel/configs/kvm_guest.config $(fragments | sed "s|^$FRAG|$tmp|"))
		kmake -C "$src" olddefconfig
	} >"$tmp/build.log" 2>&1 || { tail -n 20 "$tmp/build.log" >&2; die "configuring failed"; }
	verify_config "$src/.config" || die "the config lost options (see above)"
	if ! kmake -C "$src" -j"$jobs" bzImage modules >>"$tmp/build.log" 2>&1; then
		grep -E 'error|Error' "$tmp/build.log" | tail -n 20 >&2
		die "the build failed (log: $tmp/build.log)"
	fi
	kmake -C "$src" INSTALL_MOD_PATH="$tmp/modroot" modules_install >>"$tmp/build.log" 2>&1 ||
		die "modules_install failed (log: $tmp/build.log)"
	# links to the build tree, which moves below: the guest needs none of them
	rm -f "$tmp"/modroot/lib/modules/*/build "$tmp"/modroot/lib/modules/*/source
	rel=$(kmake -s -C "$src" kernelrelease)
	cp "$src/arch/x86/boot/bzImage" "$tmp/bzImage"
	cp "$src/.config" "$tmp/config"
	# keep what out-of-tree modules need (headers, scripts, Module.symvers),
	# drop the objects
	kmake -C "$src" clean >>"$tmp/build.log" 2>&1
	echo "$rel" >"$tmp/release"
	# (a directory left at $d without a kernel in it would take $tmp in)
	rm -rf "$d"
	mv "$tmp" "$d"
	echo "debug-kernel.sh: built $rel in $(($(date +%s) - t0)) s: $d"
}

case "${1:-}" in
build) build ;;
kver) d=$(built) && cat "$d/release" ;;
kdir) d=$(built) && echo "$d/build" ;;
image) d=$(built) && echo "$d/bzImage" ;;
modroot) d=$(built) && echo "$d/modroot" ;;
dir) dir ;;
source) echo "$SOURCE" ;;
*)
	echo "usage: debug-kernel.sh build|kver|kdir|image|modroot|dir|source" >&2
	exit 2
	;;
esac

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
# Source: Debian's linux-source-6.1 (scripts/install-deps.sh debug installs it
# and the build dependencies).  Config: x86_64_defconfig + kvm_guest.config +
# scripts/debug-kernel/trim.config + scripts/debug-kernel/debug.config; every
# line of debug.config must survive olddefconfig.  Everything is built in.
# scripts/debug-kernel/patches/*.patch are applied to the source first: fixes
# for bugs of other drivers that the debug options report (each patch says
# which report and why), so that every report left is one to look at.
#
# The result is cached outside the repository in
# ${IOPMEM_CACHE:-/var/cache/iopmem}/debug-kernel/KEY, KEY = the source
# package's version + a hash of the config fragments, the patches and RECIPE, so a change
# to either builds a new kernel and an unchanged one never rebuilds.  RECIPE
# must be bumped by hand when build() changes what it produces; the
# compiler is Debian 12's gcc-12 throughout.
# A build costs about 27 minutes of CPU (1635 s user + system measured, 1769
# objects): about 14.5 minutes on 2 idle cores (867 s measured), more beside
# guests; about 1750 s (estimated from its 1897 objects) before
# trim.config's second part.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FRAG=$HERE/debug-kernel
CACHE=${IOPMEM_CACHE:-/var/cache/iopmem}/debug-kernel
TARBALL=/usr/src/linux-source-6.1.tar.xz
# bump when build() changes what it produces
RECIPE=1

die() {
	echo "debug-kernel.sh: $*" >&2
	exit 1
}

key() {
	local v h
	v=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null) ||
		die "linux-source-6.1 is not installed (scripts/install-deps.sh debug)"
	[ -r "$TARBALL" ] || die "$TARBALL is missing (scripts/install-deps.sh debug)"
	h=$( (echo "recipe $RECIPE"; cat "$FRAG/debug.config" "$FRAG/trim.config" "$FRAG"/patches/*.patch) |
		sha256sum | cut -c1-12)
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
	done <"$FRAG/debug.config"
	return $bad
}

build() {
	local d tmp src jobs t0 rel
	d=$(dir) || exit 1
	if [ -f "$d/release" ]; then
		echo "debug-kernel.sh: cached: $(cat "$d/release") in $d"
		return 0
	fi
	command -v flex >/dev/null && command -v bison >/dev/null && command -v bc >/dev/null &&
		[ -e /usr/include/libelf.h ] && [ -e /usr/include/openssl/ssl.h ] ||
		die "kernel build dependencies missing (scripts/install-deps.sh debug)"
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
	src=$tmp/linux-source-6.1
	mv "$src" "$tmp/build"
	src=$tmp/build
	jobs=$(nproc)
	for p in "$FRAG"/patches/*.patch; do
		patch -d "$src" -p1 --forward --quiet <"$p" >>"$tmp/build.log" 2>&1 ||
			die "$(basename "$p") does not apply (log: $tmp/build.log)"
	done
	{
		make -C "$src" x86_64_defconfig
		(cd "$src" && scripts/kconfig/merge_config.sh -m .config \
			kernel/configs/kvm_guest.config "$FRAG/trim.config" "$FRAG/debug.config")
		make -C "$src" olddefconfig
	} >"$tmp/build.log" 2>&1 || { tail -n 20 "$tmp/build.log" >&2; die "configuring failed"; }
	verify_config "$src/.config" || die "the config lost options (see above)"
	if ! make -C "$src" -j"$jobs" bzImage modules >>"$tmp/build.log" 2>&1; then
		grep -E 'error|Error' "$tmp/build.log" | tail -n 20 >&2
		die "the build failed (log: $tmp/build.log)"
	fi
	make -C "$src" INSTALL_MOD_PATH="$tmp/modroot" modules_install >>"$tmp/build.log" 2>&1 ||
		die "modules_install failed (log: $tmp/build.log)"
	# links to the build tree, which moves below: the guest needs none of them
	rm -f "$tmp"/modroot/lib/modules/*/build "$tmp"/modroot/lib/modules/*/source
	rel=$(make -s -C "$src" kernelrelease)
	cp "$src/arch/x86/boot/bzImage" "$tmp/bzImage"
	cp "$src/.config" "$tmp/config"
	# keep what out-of-tree modules need (headers, scripts, Module.symvers),
	# drop the objects
	make -C "$src" clean >>"$tmp/build.log" 2>&1
	echo "$rel" >"$tmp/release"
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
*)
	echo "usage: debug-kernel.sh build|kver|kdir|image|modroot|dir" >&2
	exit 2
	;;
esac

#!/bin/sh
# Print the kernel build directory (KDIR) or version (KVER) iopmem targets.
#
#   kver.sh kdir   the running kernel's build dir if it exists, otherwise the
#                  newest /usr/src/linux-headers-*-amd64 whose kernel image
#                  /boot/vmlinuz-<ver> is installed (the QEMU guest kernel)
#   kver.sh kver   the version matching $KDIR (or the default KDIR)
#
# This is the one place that decides which kernel the project builds for.
set -eu

default_kdir() {
	run="/lib/modules/$(uname -r)/build"
	if [ -d "$run" ]; then
		echo "$run"
		return 0
	fi
	best=
	for d in /usr/src/linux-headers-*-amd64; do
		[ -d "$d" ] || continue
		v=${d#/usr/src/linux-headers-}
		[ -f "/boot/vmlinuz-$v" ] || continue
		best="$best$v
"
	done
	v=$(printf '%s' "$best" | sort -V | tail -n 1)
	if [ -z "$v" ]; then
		echo "kver.sh: no kernel build dir found; install linux-headers-amd64 and linux-image-amd64 (scripts/install-deps.sh) or set KDIR" >&2
		return 1
	fi
	echo "/usr/src/linux-headers-$v"
}

kdir=${KDIR:-}
[ -n "$kdir" ] || kdir=$(default_kdir)

case "${1:-kdir}" in
kdir)
	echo "$kdir"
	;;
kver)
	# utsrelease.h holds the exact `uname -r` of the kernel the tree is for.
	uts="$kdir/include/generated/utsrelease.h"
	if [ -f "$uts" ]; then
		sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$uts"
	else
		basename "$(readlink -f "$kdir")" | sed 's/^linux-headers-//'
	fi
	;;
*)
	echo "usage: kver.sh kdir|kver" >&2
	exit 2
	;;
esac

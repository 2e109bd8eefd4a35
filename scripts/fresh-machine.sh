#!/bin/bash
# fresh-machine.sh: run a command the way a new user would, in a bare
# Debian 12 or 13 (a debootstrap chroot holding nothing but git,
# ca-certificates and sudo), in a fresh clone of this repository's committed
# HEAD.  It is how CI proves that the README's commands work at the first
# try: the machine CI runs on already has every package installed, the
# chroot has none of them.
#
#   scripts/fresh-machine.sh [--release bookworm|trixie] [--keep] [-- COMMAND [ARG...]]
#
# --release: Debian 12 (bookworm, the default) or Debian 13 (trixie); the
# chroot's apt sources are that release's main, -updates and -security
# suites on this machine's mirror.  COMMAND defaults to "make demo".  Needs
# root (debootstrap, chroot, mount).
# The bare system is made once per release and cached as a tarball in
# $IOPMEM_CACHE (default /var/cache/iopmem); every run unpacks a new copy
# under /var/tmp and removes it afterwards (--keep leaves it, for a look).
# Documented in Documentation/testbed.rst.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)

usage() {
	sed -n '2,/^$/s/^# \{0,1\}//p' "$0" | sed '/^set /d'
}
die() { echo "fresh-machine: $*" >&2; exit 2; }

keep=0
release=bookworm
while [ $# -gt 0 ]; do
	case $1 in
	--keep) keep=1; shift ;;
	--release)
		[ $# -ge 2 ] || die "--release needs bookworm or trixie"
		release=$2
		shift 2
		;;
	--release=*) release=${1#--release=}; shift ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	*) die "unknown option '$1' (usage: fresh-machine.sh [--release bookworm|trixie] [--keep] [-- COMMAND...])" ;;
	esac
done
case $release in
bookworm) name="Debian 12" ;;
trixie) name="Debian 13" ;;
*) die "--release $release: bookworm (Debian 12) or trixie (Debian 13)" ;;
esac
[ $# -gt 0 ] || set -- make demo
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot and mounts)"
git -C "$TOP" rev-parse --verify -q HEAD >/dev/null || die "$TOP has no committed HEAD to clone"
[ -z "$(git -C "$TOP" status --porcelain --untracked-files=no)" ] ||
	echo "fresh-machine: note: uncommitted changes are not part of the clone" >&2

cache_dir=${IOPMEM_CACHE:-/var/cache/iopmem}
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '/^deb / { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list{,.d/debian.sources}"
cache=$cache_dir/$release-minbase-$(printf '%s' "$mirror" | md5sum | cut -c1-8).tar

root=$(mktemp -d /var/tmp/iopmem-fresh.XXXXXX)
cleanup() {
	local m
	for m in dev/pts dev sys proc; do
		umount -l "$root/$m" 2>/dev/null || true
	done
	if [ "$keep" = 1 ]; then
		echo "fresh-machine: left the system in $root"
	else
		rm -rf --one-file-system "$root"
	fi
}
trap cleanup EXIT

t0=$(date +%s)
if [ ! -s "$cache" ]; then
	command -v debootstrap >/dev/null || "$TOP/scripts/install-deps.sh" fresh
	mkdir -p "$cache_dir"
	echo "fresh-machine: making a bare $name from $mirror (cached in $cache)"
	debootstrap --variant=minbase --include=git,ca-certificates,sudo "$release" "$root" "$mirror" \
		>"$cache_dir/debootstrap-$release.log" 2>&1 ||
		die "debootstrap failed (log: $cache_dir/debootstrap-$release.log)"
	tar -C "$root" -cf "$cache.tmp" . && mv "$cache.tmp" "$cache"
else
	tar -C "$root" -xf "$cache"
fi

# the release's own suites on this machine's mirror, as Debian's installer
# writes them (the security suite keeps the kernel image and its headers in
# step), and this machine's resolver
security=$(awk '/^URIs:/ && /security/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$security" ] || security=$(awk '/^deb / && /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$security" ] || security=${mirror%/debian}/debian-security
mkdir -p "$root/etc/apt/sources.list.d"
: >"$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $release $release-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $release-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
cp /etc/resolv.conf "$root/etc/" 2>/dev/null || true
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"

git clone -q "$TOP" "$root/work/iopmem"
echo "fresh-machine: in a bare $name, clone of $(git -C "$TOP" rev-parse --short HEAD): $*"
rc=0
chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin TERM=dumb LANG=C.UTF-8 \
	bash -c 'cd /work/iopmem &&
		if ! command -v make >/dev/null; then
			echo "fresh-machine: apt-get install make (as the README says)"
			apt-get update -q >/dev/null && apt-get install -y -q make >/dev/null
		fi && "$@"' bash "$@" || rc=$?
echo "fresh-machine: '$*' exited $rc after $(($(date +%s) - t0)) s"
exit "$rc"

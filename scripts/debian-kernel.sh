#!/bin/bash
# Debian's kernels newer than the host can build for: 7.2 and 7.3, from
# trixie-backports (Debian 13's backports of the 7.x series).
#
#   debian-kernel.sh fetch SERIES   download and cache the newest SERIES
#                                   (7.2, 7.3) kernel of the archive; print
#                                   its release
#   debian-kernel.sh kver SERIES    the newest cached release of SERIES
#   debian-kernel.sh kdir RELEASE   its headers (inside the build chroot)
#   debian-kernel.sh image RELEASE  its kernel image (what run-vm boots)
#   debian-kernel.sh modroot RELEASE  a root holding lib/modules/RELEASE
#   debian-kernel.sh make RELEASE ARGS...  run make ARGS in the build chroot
#                                   (the M= directory is copied in and back)
#   debian-kernel.sh list           every cached release
#   debian-kernel.sh chroot-dir     the build chroot's directory
#   debian-kernel.sh chroot-install PKG...   make the chroot, install PKGs in it
#   debian-kernel.sh run CMD...     run CMD in the chroot
#   debian-kernel.sh run-at CWD CMD...   run CMD in the chroot in CWD (host
#                                   paths into the chroot become its own)
#   debian-kernel.sh make-in -C KDIR M=DIR ARGS...   make in the chroot for a
#                                   kernel tree in it (the 7.3 debug kernel)
#
# Nothing is installed on the host, and its apt sources are never changed:
# a private apt configuration (sources, lists and downloads under the cache)
# downloads linux-base, linux-binary and linux-modules of the release, and
# dpkg-deb extracts them.  The modules are built where Debian's kbuild for
# that kernel runs: its tools need glibc >= 2.38 and its headers name
# Debian 13's gcc-14, so a debootstrap chroot of trixie holds the headers
# (installed there with apt, the chroot's own business) and runs make.
#
# Cache: ${IOPMEM_CACHE:-/var/cache/iopmem}/debian-kernel/
#   apt/              the private apt state
#   chroot/           the trixie build chroot (one for every release)
#   RELEASE/root/     the extracted kernel: usr/lib/modules/RELEASE/vmlinuz,
#                     its modules, config
# Refresh: fetch asks the archive every time (apt-get update on the private
# lists, a few seconds) and takes its newest release of the series; an
# unchanged archive downloads nothing.  With no network, fetch falls back to
# the newest cached release and says so.  Old releases stay until removed
# by hand (rm -r the RELEASE directory; the chroot's headers with apt-get
# purge inside it).
set -euo pipefail

CACHE=${IOPMEM_CACHE:-/var/cache/iopmem}/debian-kernel
APTDIR=$CACHE/apt
CHROOT=$CACHE/chroot
SUITE=trixie
MIRROR=${IOPMEM_MIRROR:-}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

die() {
	echo "debian-kernel.sh: $*" >&2
	exit 1
}

USAGE="usage: debian-kernel.sh fetch|kver SERIES, kdir|image|modroot RELEASE, make RELEASE ARGS..., list, chroot-dir, chroot-install PKG..., run CMD..., run-at CWD CMD..., make-in ARGS..."

# bad_usage MESSAGE: a wrong argument, said before anything is touched (exit 2)
bad_usage() {
	echo "debian-kernel.sh: $*" >&2
	echo "$USAGE" >&2
	exit 2
}

# check_series SERIES / check_release RELEASE: a wrong one is refused at
# once (series_re dies only in the subshell that calls it)
check_series() {
	case ${1:-} in
	7.2 | 7.3) ;;
	*) bad_usage "series '${1:-}': 7.2 or 7.3" ;;
	esac
}
check_release() {
	[[ ${1:-} =~ ^7\.[23]\.[0-9]+\+deb13-amd64$ ]] ||
		bad_usage "release '${1:-}': a 7.2 or 7.3 release of Debian 13, like 7.3.4+deb13-amd64 (debian-kernel.sh list)"
}

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

mirror() {
	if [ -z "$MIRROR" ]; then
		MIRROR=$(sed -n 's/^URIs: *\([^ ]*debian\/\?\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
		[ -n "$MIRROR" ] || MIRROR=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' /etc/apt/sources.list 2>/dev/null)
		[ -n "$MIRROR" ] || MIRROR=http://deb.debian.org/debian
	fi
	echo "$MIRROR"
}

# the series' pattern: 7.3 -> 7.3.N+deb13-amd64
series_re() {
	case $1 in
	7.2 | 7.3) echo "^${1//./\\.}\\.[0-9]+\\+deb13-amd64\$" ;;
	*) die "series '$1': 7.2 or 7.3" ;;
	esac
}

apt_private() {
	local m
	m=$(mirror)
	$SUDO mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/debs"
	echo "deb [signed-by=$KEYRING] $m $SUITE-backports main" | $SUDO tee "$APTDIR/sources.list" >/dev/null
	echo "deb [signed-by=$KEYRING] $m $SUITE main" | $SUDO tee -a "$APTDIR/sources.list" >/dev/null
}

APT_OPTS=()
apt_opts() {
	APT_OPTS=(-o "Dir::Etc::sourcelist=$APTDIR/sources.list" -o Dir::Etc::sourceparts=-
		-o "Dir::State::Lists=$APTDIR/lists" -o "Dir::Cache=$APTDIR/cache"
		-o "Dir::State::status=$APTDIR/status" -o APT::Architecture=amd64
		-o Debug::NoLocking=1 -o APT::Sandbox::User=root -q)
	[ -e "$APTDIR/status" ] || $SUDO touch "$APTDIR/status"
}

# newest release of series $1 that the archive has (headers, base, binary
# and modules all listed), or nothing
archive_newest() {
	local re v
	re=$(series_re "$1")
	apt-cache "${APT_OPTS[@]}" pkgnames linux-headers- 2>/dev/null |
		sed -n 's/^linux-headers-//p' | grep -E "$re" | sort -rV |
		while read -r v; do
			if apt-cache "${APT_OPTS[@]}" show "linux-binary-$v" "linux-modules-$v" \
				"linux-base-$v" >/dev/null 2>&1; then
				echo "$v"
				break
			fi
		done
}

cached() {
	local d
	for d in "$CACHE"/*/root/usr/lib/modules/*/vmlinuz; do
		[ -e "$d" ] || continue
		d=${d%/vmlinuz}
		echo "${d##*/}"
	done | sort -V
}

cached_newest() {
	local re
	re=$(series_re "$1")
	cached | grep -E "$re" | tail -n 1 || true
}

# the build chroot: trixie + the release's headers (apt in the chroot)
chroot_ready() {
	[ -x "$CHROOT/usr/bin/make" ] && [ -e "$CHROOT/.iopmem-ready" ]
}

make_chroot() {
	local m
	chroot_ready && return 0
	command -v debootstrap >/dev/null || die "debootstrap is missing (scripts/install-deps.sh fresh)"
	m=$(mirror)
	echo "debian-kernel.sh: creating the $SUITE build chroot in $CHROOT" >&2
	$SUDO rm -rf "$CHROOT"
	$SUDO mkdir -p "$CHROOT"
	$SUDO debootstrap --variant=minbase --include=make,binutils,ca-certificates "$SUITE" "$CHROOT" "$m" \
		>"$CACHE/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$CACHE/debootstrap.log" >&2; die "debootstrap $SUITE failed (log: $CACHE/debootstrap.log)"; }
	printf 'deb %s %s main\ndeb %s %s-backports main\n' "$m" "$SUITE" "$m" "$SUITE" |
		$SUDO tee "$CHROOT/etc/apt/sources.list" >/dev/null
	$SUDO touch "$CHROOT/.iopmem-ready"
}

in_chroot() {
	$SUDO chroot "$CHROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive "$@"
}

chroot_headers() {
	local v=$1
	[ -f "$CHROOT/usr/src/linux-headers-$v/Module.symvers" ] && return 0
	echo "debian-kernel.sh: installing linux-headers-$v in the build chroot" >&2
	in_chroot apt-get -q update >/dev/null
	in_chroot apt-get -q install -y --no-install-recommends "linux-headers-$v" >"$CACHE/apt-$v.log" 2>&1 ||
		{ tail -n 20 "$CACHE/apt-$v.log" >&2; die "cannot install linux-headers-$v in the chroot"; }
}

extract() {
	local v=$1 root=$CACHE/$1/root p f
	[ -e "$root/usr/lib/modules/$v/vmlinuz" ] && return 0
	echo "debian-kernel.sh: downloading and extracting Linux $v" >&2
	$SUDO rm -rf "$CACHE/$v"
	$SUDO mkdir -p "$root"
	for p in base binary modules; do
		(cd "$APTDIR/debs" && $SUDO apt-get "${APT_OPTS[@]}" download "linux-$p-$v" >/dev/null) ||
			die "cannot download linux-$p-$v"
		f=$(ls "$APTDIR/debs/linux-$p-${v}_"*.deb | tail -n 1)
		$SUDO dpkg-deb -x "$f" "$root"
		$SUDO rm -f "$f"
	done
	# the guest looks for /lib/modules/RELEASE (merged /usr: lib -> usr/lib)
	[ -e "$root/lib" ] || $SUDO ln -s usr/lib "$root/lib"
	$SUDO depmod -b "$root" "$v"
	[ -e "$root/usr/lib/modules/$v/vmlinuz" ] || die "linux-binary-$v has no usr/lib/modules/$v/vmlinuz"
}

fetch() {
	local series=$1 v
	series_re "$series" >/dev/null
	$SUDO mkdir -p "$CACHE"
	apt_private
	apt_opts
	if ! $SUDO apt-get "${APT_OPTS[@]}" update >"$CACHE/update.log" 2>&1; then
		v=$(cached_newest "$series")
		[ -n "$v" ] || { tail -n 5 "$CACHE/update.log" >&2; die "the archive cannot be reached and no $series kernel is cached"; }
		echo "debian-kernel.sh: the archive cannot be reached: using the cached $v" >&2
		echo "$v"
		return
	fi
	v=$(archive_newest "$series")
	[ -n "$v" ] || die "the archive ($SUITE-backports) has no complete $series kernel"
	extract "$v"
	make_chroot
	chroot_headers "$v"
	echo "$v"
}

need_release() {
	check_release "${1:-}"
	[ -e "$CACHE/$1/root/usr/lib/modules/$1/vmlinuz" ] ||
		die "Linux $1 is not cached (scripts/debian-kernel.sh fetch ${1%.*+*})"
}

# No bind mounts (a chroot inside a chroot cannot make its mounts private,
# and a bind mount left behind by a killed build would put the host's files
# under the cache): paths of the host that lie in the chroot are
# translated, and a module directory is copied in, built, and copied back.
# Only /proc is mounted in the chroot while a command runs there (objtool
# reads it): each command mounts its own instance and unmounts the top one,
# so commands that overlap leave none behind.

# the chroot's name for a host path (every occurrence of the chroot's prefix)
inner() {
	echo "${1//"$CHROOT"/}"
}

# run-at CWD CMD...: CMD in the chroot, in CWD; host paths into the chroot,
# in CWD and in every argument, become the chroot's own
run_at() {
	local cwd a rc= args=()
	cwd=$(inner "$1")
	shift
	for a in "$@"; do
		args+=("$(inner "$a")")
	done
	$SUDO mount -t proc proc "$CHROOT/proc" || die "cannot mount /proc in the build chroot"
	in_chroot sh -c 'cd "$0" && exec "$@"' "$cwd" "${args[@]}" || rc=$?
	$SUDO umount "$CHROOT/proc" 2>/dev/null || $SUDO umount -l "$CHROOT/proc" || true
	return "${rc:-0}"
}

# kbuild -C KDIR M=DIR ARGS...: make in the chroot for a kernel tree in it;
# DIR (a host directory) is copied to the same path in the chroot and back
kbuild() {
	local k= m= a prev= rc=0
	for a in "$@"; do
		[ "$prev" != -C ] || k=$a
		case $a in M=*) m=${a#M=} ;; esac
		prev=$a
	done
	[ -n "$k" ] && [ -d "$k" ] || die "make needs -C KDIR of an existing directory"
	case $k in
	"$CHROOT"/*) ;;
	/usr/src/*) [ -d "$CHROOT$k" ] || die "make: $k is not in the build chroot" ;;
	*) die "make: $k is not in the build chroot ($CHROOT)" ;;
	esac
	[ -n "$m" ] && [ -d "$m" ] || die "make needs M=DIR of an existing directory"
	case $m in "$CHROOT"/*) die "make: M=$m must be outside the chroot" ;; esac
	$SUDO mkdir -p "$CHROOT$m"
	$SUDO cp -a "$m/." "$CHROOT$m/"
	run_at / make "$@" || rc=$?
	$SUDO cp -a "$CHROOT$m/." "$m/"
	return "$rc"
}

# make for RELEASE (its headers are in the chroot)
chroot_make() {
	local v=$1 a args=()
	shift
	need_release "$v"
	[ -d "$CHROOT/usr/src/linux-headers-$v" ] || die "no headers for $v in the build chroot (debian-kernel.sh fetch)"
	kbuild "$@"
}

chroot_install() {
	local p missing=
	$SUDO mkdir -p "$CACHE"
	make_chroot
	for p in "$@"; do
		in_chroot dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing="$missing $p"
	done
	[ -n "$missing" ] || return 0
	echo "debian-kernel.sh: installing in the build chroot:$missing" >&2
	in_chroot apt-get -q update >/dev/null
	# shellcheck disable=SC2086
	in_chroot apt-get -q install -y --no-install-recommends $missing >"$CACHE/apt-install.log" 2>&1 ||
		{ tail -n 20 "$CACHE/apt-install.log" >&2; die "cannot install$missing in the chroot"; }
}

# one at a time changes the cache (the chroot's apt and dpkg, the downloads):
# CI fetches kernels while the debug kernel's source is installed
lock() {
	$SUDO mkdir -p "$CACHE"
	exec 8>>"$CACHE/.lock"
	flock 8
}

# (every argument is checked before the lock is taken or the cache touched)
case "${1:-}" in
fetch) check_series "${2:-}"; lock; fetch "$2" ;;
kver)
	check_series "${2:-}"
	v=$(cached_newest "$2")
	[ -n "$v" ] || die "no $2 kernel is cached (scripts/debian-kernel.sh fetch $2)"
	echo "$v"
	;;
kdir) need_release "${2:-}"; echo "$CHROOT/usr/src/linux-headers-$2" ;;
image) need_release "${2:-}"; echo "$CACHE/$2/root/usr/lib/modules/$2/vmlinuz" ;;
modroot) need_release "${2:-}"; echo "$CACHE/$2/root" ;;
make)
	check_release "${2:-}"
	[ $# -ge 3 ] || bad_usage "make $2: no make arguments (-C KDIR M=DIR ...)"
	shift
	chroot_make "$@"
	;;
make-in)
	[ $# -ge 2 ] || bad_usage "make-in: no make arguments (-C KDIR M=DIR ...)"
	shift; chroot_ready || die "no build chroot (debian-kernel.sh fetch)"; kbuild "$@"
	;;
list) cached ;;
chroot-dir) echo "$CHROOT" ;;
chroot-install)
	[ $# -ge 2 ] || bad_usage "chroot-install: no package named"
	shift; lock; chroot_install "$@"
	;;
run)
	[ $# -ge 2 ] || bad_usage "run: no command"
	shift; chroot_ready || die "no build chroot (debian-kernel.sh fetch)"; in_chroot "$@"
	;;
run-at)
	[ $# -ge 3 ] || bad_usage "run-at: needs a directory and a command"
	shift; chroot_ready || die "no build chroot (debian-kernel.sh fetch)"; run_at "$@"
	;;
*)
	[ -z "${1:-}" ] || echo "debian-kernel.sh: unknown command '$1'" >&2
	echo "$USAGE" >&2
	exit 2
	;;
esac

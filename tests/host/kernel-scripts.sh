#!/bin/bash
# The kernel scripts refuse bad input at once, with a precise message and
# exit 2, and change nothing: scripts/debian-kernel.sh (7.x from Debian's
# archive), scripts/kver.sh, scripts/debug-kernel.sh.
. "$(dirname "$0")/../common"
DK=$TOP/scripts/debian-kernel.sh
CACHE=${IOPMEM_CACHE:-/var/cache/iopmem}/debian-kernel
# what "nothing changed" means: no entry of the cache's top level created or
# removed, and its private apt configuration as it was (not times: in CI
# the other stream builds modules in the cache's chroot meanwhile)
# (on a machine that never fetched a 7.x kernel there is no cache: nothing)
snapshot() {
	{ find "$CACHE" -maxdepth 1 -printf '%p\n' 2>/dev/null || true; } | sort
	{ find "$CACHE/apt" -maxdepth 1 -type f -printf '%p %s %T@\n' 2>/dev/null || true; } | sort
}
before=$(snapshot)

# refused ARGS EXPECTED-MESSAGE-REGEX
refused() {
	local msg rc=0 want=$1
	shift
	msg=$("$@" 2>&1 >/dev/null) || rc=$?
	check_eq "'${*#"$TOP/"}': exit 2" 2 "$rc"
	check_match "...saying '$want'" "$want" "$msg"
}
refused "series '9.9': 7.2 or 7.3" "$DK" fetch 9.9
refused "series '': 7.2 or 7.3" "$DK" fetch
refused "series '7.9': 7.2 or 7.3" "$DK" kver 7.9
refused "series '6.12': 7.2 or 7.3" "$DK" kver 6.12
refused "release 'x': a 7.2 or 7.3 release" "$DK" kdir x
refused "release '7.3': a 7.2 or 7.3 release" "$DK" image 7.3
refused "release '../../etc': a 7.2 or 7.3 release" "$DK" modroot ../../etc
refused "release '': a 7.2 or 7.3 release" "$DK" make
refused "make 7.3.4\+deb13-amd64: no make arguments" "$DK" make 7.3.4+deb13-amd64
refused "make-in: no make arguments" "$DK" make-in
refused "run: no command" "$DK" run
refused "run-at: needs a directory and a command" "$DK" run-at /
refused "chroot-install: no package named" "$DK" chroot-install
refused "unknown command 'bogus'" "$DK" bogus
refused "^usage: debian-kernel.sh" "$DK"
refused "KERNEL=7.9: use 6.1, 6.12, 7.2, 7.3, debug" env KERNEL=7.9 "$TOP/scripts/kver.sh" kver
refused "^usage: kver.sh" "$TOP/scripts/kver.sh" bogus
refused "IOPMEM_DEBUG_SOURCE=9.9: 7.3 or 6.1" env IOPMEM_DEBUG_SOURCE=9.9 "$TOP/scripts/debug-kernel.sh" kver
refused "^usage: debug-kernel.sh" "$TOP/scripts/debug-kernel.sh" bogus
check_eq "the kernel cache is as it was (its entries, its apt configuration)" "$before" "$(snapshot)"

#!/bin/bash
# The Debian packages, used the way an operator would: make deb, lintian,
# install both packages on the host (DKMS builds the modules for every
# supported kernel), boot a guest that uses only what the packages installed
# (modprobe, /usr/sbin/p2pctl, the udev rule), then purge them and show the
# modules are gone.  The guest shares the host's root, so it sees exactly the
# files the packages put there.
. "$(dirname "$0")/../common"
[ "$(id -u)" = 0 ] || skip_all "installs packages on this machine: needs root"

D=$TOP/build/deb
ver=$(awk -F'[()]' 'NR == 1 { print $2; exit }' "$TOP/debian/changelog")
kver=$("$TOP/scripts/kver.sh" kver)

purge() {
	DEBIAN_FRONTEND=noninteractive apt-get purge -y -q p2pctl iopmem-dkms >/dev/null 2>&1 || true
}
# (the status the test ends with, kept across purge for t_done: an abort
# outside a check must still fail the test)
trap 'rc=$?; purge; (exit "$rc"); t_done' EXIT
purge	# a previous run that died half-way

check "make deb" make -s -C "$TOP" deb
check "iopmem-dkms_${ver}_all.deb built" test -s "$D/iopmem-dkms_${ver}_all.deb"
check "p2pctl_${ver}_amd64.deb built" test -s "$D/p2pctl_${ver}_amd64.deb"
check_eq "lintian: no errors or warnings" "" "$(grep -E '^[EW]: ' "$D/lintian.log" || true)"
check_match "the dkms package ships the sources" "usr/src/iopmem-$ver/drivers/dax-core/device.c" \
	"$(dpkg -c "$D/iopmem-dkms_${ver}_all.deb")"
conf=$(dpkg --fsys-tarfile "$D/iopmem-dkms_${ver}_all.deb" | tar -xO "./usr/src/iopmem-$ver/dkms.conf")
check_match "dkms.conf has the package version" "PACKAGE_VERSION=\"$ver\"" "$conf"
check_eq "...the kernel series of scripts/kernels" "BUILD_EXCLUSIVE_KERNEL=\"$("$TOP/scripts/kver.sh" series)\"" \
	"$(grep '^BUILD_EXCLUSIVE_KERNEL=' <<<"$conf")"
check_match "...and x86-64 only" '^BUILD_EXCLUSIVE_ARCH="x86_64"$' "$(grep '^BUILD_EXCLUSIVE_ARCH=' <<<"$conf")"
series=$(sed -e '/^#/d' -e '/^$/d' -e 's/[[:space:]].*//' "$TOP/scripts/kernels" | paste -sd, |
	sed -e 's/,\([^,]*\)$/ and \1/' -e 's/,/, /g')
check "the package says which series ($series)" grep -qF "kernel series $series)" \
	<(dpkg-deb -f "$D/iopmem-dkms_${ver}_all.deb" Description)
check_eq "no build products in the source tree shipped" "" \
	"$(dpkg -c "$D/iopmem-dkms_${ver}_all.deb" | grep -E '\.(o|ko|mod|cmd)$|mod\.c$' || true)"

out=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$D/iopmem-dkms_${ver}_all.deb" \
	"$D/p2pctl_${ver}_amd64.deb" 2>&1) && rc=0 || rc=$?
check_eq "apt-get install of both packages" 0 "$rc"
[ "$rc" = 0 ] || echo "$out" | tail -n 20 | sed 's/^/#   /'
status=$(dkms status iopmem 2>&1)
echo "$status" | sed 's/^/# dkms status: /'
n=0
for k in $("$TOP/scripts/kver.sh" supported); do
	n=$((n + 1))
	check "dkms built and installed iopmem for $k" grep -qF "iopmem/$ver, $k, x86_64: installed" <<<"$status"
done
check "at least the testbed's kernel ($kver) is supported" test "$n" -ge 1
# (Debian 13's dkms compresses what it installs as the kernel's modules
# are: iopmem.ko.xz)
check_eq "modprobe finds iopmem in updates/dkms" "/lib/modules/$kver/updates/dkms/iopmem.ko" \
	"$(modinfo -k "$kver" -n iopmem | sed -E 's/\.(xz|zst)$//')"
check_eq "...and dax_core" "/lib/modules/$kver/updates/dkms/dax_core.ko" \
	"$(modinfo -k "$kver" -n dax_core | sed -E 's/\.(xz|zst)$//')"
check_eq "the tool is /usr/sbin/p2pctl" "$ver" "$(/usr/sbin/p2pctl --version)"
# where the package put the rule and the unit: udev's and systemd's own
# directories as their pkg-config files say (Debian 12: /lib/..., Debian 13:
# /usr/lib/..., lintian's aliased-location)
rules=$(dpkg -L p2pctl | grep '/udev/rules.d/80-p2pdax.rules$' || true)
unit=$(dpkg -L p2pctl | grep '/systemd/system/p2pctl-apply.service$' || true)
case $(. /etc/os-release && echo "$VERSION_CODENAME") in
bookworm) check_eq "the rule and the unit are in Debian 12's /lib" \
	"/lib/udev/rules.d/80-p2pdax.rules /lib/systemd/system/p2pctl-apply.service" "$rules $unit" ;;
*) check_eq "the rule and the unit are in /usr/lib (Debian 13's merged /usr)" \
	"/usr/lib/udev/rules.d/80-p2pdax.rules /usr/lib/systemd/system/p2pctl-apply.service" "$rules $unit" ;;
esac
check_match "the udev rule runs /usr/sbin/p2pctl" 'RUN\+="/usr/sbin/p2pctl apply --owners-only' \
	"$(cat "${rules:-/nonexistent}")"
check_match "the unit runs /usr/sbin/p2pctl" "ExecStart=/bin/sh -c 'test ! -e /etc/p2pctl/layout.json [|][|] exec /usr/sbin/p2pctl apply /etc/p2pctl/layout.json'" \
	"$(cat "${unit:-/nonexistent}")"
check_match "...and p2pctl cdi after it" "ExecStartPost=-/usr/sbin/p2pctl cdi --quiet" \
	"$(cat "${unit:-/nonexistent}")"
check "the unit is enabled by the package (multi-user.target.wants)" \
	test -L /etc/systemd/system/multi-user.target.wants/p2pctl-apply.service
check_eq "the man page is installed" /usr/share/man/man8/p2pctl.8.gz "$(man -w p2pctl 2>/dev/null || true)"
check "bash completion is installed" test -s /usr/share/bash-completion/completions/p2pctl
check_eq "the tenant guide p2pdax(4) is installed" /usr/share/man/man4/p2pdax.4.gz "$(man -w 4 p2pdax 2>/dev/null || true)"
check "...with its example program" test -s /usr/share/doc/p2pctl/examples/p2pdax-tenant.c

# the guest uses only what the packages installed
out=$("$TOP/scripts/qemu/run-vm" --outdir "$TOP/build/vm/package" --bar 64M -- \
	bash "$TOP/tests/pkg/guest.sh" 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/    /'
check_eq "guest with the packaged modules and tool exits 0" 0 "$rc"
# (fixed strings: a release like 6.12.118+deb13-amd64 is no regex)
check "guest: modprobe loaded the dkms-built module" \
	grep -qF "ok 2 - modprobe iopmem loads /lib/modules/$kver/updates/dkms/iopmem.ko" <<<"$out"
check "guest: the udev rule applied the saved owner and mode" \
	grep -qE "^ok [0-9]+ - udev gave the new node 1001:1001 640" <<<"$out"
check "guest: the packaged rule made /dev/p2pdax/by-label/" \
	grep -qE "^ok [0-9]+ - udev links it as /dev/p2pdax/by-label/tenant1" <<<"$out"
check "guest: the tenant guide's example ran as its man page shows" \
	grep -qE "^ok [0-9]+ - --hold: revoked as the man page shows" <<<"$out"
check_eq "guest: no failed checks" "" "$(echo "$out" | grep '^not ok' || true)"

purge
check "purge: packages gone" sh -c '! dpkg -s p2pctl iopmem-dkms >/dev/null 2>&1'
check_eq "purge: module files gone" "" "$(ls /lib/modules/"$kver"/updates/dkms/iopmem.ko* \
	/lib/modules/"$kver"/updates/dkms/dax_core.ko* 2>/dev/null || true)"
check "purge: modprobe no longer finds iopmem" sh -c "! modprobe -S '$kver' -n iopmem 2>/dev/null"
check_eq "purge: dkms knows no iopmem" "" "$(dkms status iopmem 2>/dev/null)"
check "purge: tool, rule, unit gone" test ! -e /usr/sbin/p2pctl -a ! -e "${rules:-/nonexistent}" \
	-a ! -e "${unit:-/nonexistent}" -a -n "$rules" -a -n "$unit" -a \
	! -L /etc/systemd/system/multi-user.target.wants/p2pctl-apply.service

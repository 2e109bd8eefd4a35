#!/bin/bash
# The DKMS package on Debian 13's 7.3 kernel: the iopmem-dkms package is
# installed with apt where that kernel's kbuild runs (scripts/debian-kernel.sh's
# trixie chroot, with Debian 13's dkms and linux-headers-7.3), DKMS builds
# the modules there as it would on a Debian 13 host, and a 7.3 guest loads
# exactly those files and carves a device with them.  Then the package is
# purged from the chroot and the modules are gone.
. "$(dirname "$0")/../common"
[ "$(id -u)" = 0 ] || skip_all "installs packages in the build chroot: needs root"

DK=$TOP/scripts/debian-kernel.sh
D=$TOP/build/deb
ver=$(awk -F'[()]' 'NR == 1 { print $2; exit }' "$TOP/debian/changelog")
check "Debian's 7.3 is cached (scripts/debian-kernel.sh fetch 7.3)" "$DK" fetch 7.3
kver=$("$DK" kver 7.3)
C=$("$DK" chroot-dir)

purge() {
	"$DK" run apt-get purge -y -q iopmem-dkms >/dev/null 2>&1 || true
}
trap 'rc=$?; purge; (exit "$rc"); t_done' EXIT
purge	# a previous run that died half-way

check "make deb" make -s -C "$TOP" deb
check "dkms in the build chroot" "$DK" chroot-install dkms
cp "$D/iopmem-dkms_${ver}_all.deb" "$C/tmp/"
out=$("$DK" run-at / apt-get install -y -q "/tmp/iopmem-dkms_${ver}_all.deb" 2>&1) && rc=0 || rc=$?
rm -f "$C/tmp/iopmem-dkms_${ver}_all.deb"
check_eq "apt-get install iopmem-dkms on Debian 13 (the chroot)" 0 "$rc"
[ "$rc" = 0 ] || echo "$out" | tail -n 30 | sed 's/^/#   /'
status=$("$DK" run dkms status iopmem 2>&1)
echo "$status" | sed 's/^/# dkms status: /'
check "dkms built and installed iopmem for $kver" grep -qF "iopmem/$ver, $kver, x86_64: installed" <<<"$status"
mods=$C/usr/lib/modules/$kver/updates/dkms
ko_dax=$(ls "$mods"/dax_core.ko* 2>/dev/null | head -n 1)
ko_iop=$(ls "$mods"/iopmem.ko* 2>/dev/null | head -n 1)
check "the dkms modules are in updates/dkms ($(basename "${ko_dax:-none}") $(basename "${ko_iop:-none}"))" \
	test -n "$ko_dax" -a -n "$ko_iop"
check_eq "built for $kver (vermagic)" "$kver" "$(modinfo -F vermagic "$ko_iop" 2>/dev/null | awk '{ print $1 }')"

# a 7.3 guest loads those files (insmod of the dkms paths: carve.sh then
# finds the modules loaded and loads no others), then the carve test runs
out=$("$TOP/scripts/qemu/run-vm" --kernel 7.3 --outdir "$TOP/build/vm/package-7.3" --bar 256M -- \
	bash -c "insmod '$ko_dax' && insmod '$ko_iop' &&
		echo \"dkms modules loaded: \$(grep -cE '^(dax_core|iopmem) ' /proc/modules)\" &&
		'$TOP/tests/tap-run' '$TOP/tests/guest/carve.sh'" 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/    /'
check_eq "7.3 guest with the dkms-built modules exits 0" 0 "$rc"
check_match "the guest loaded the dkms-built dax_core and iopmem" "dkms modules loaded: 2" "$out"
check "the carve test passed on them" grep -qE '^ok 1 - carve' <<<"$out"
check_eq "no failed checks in the guest" "" "$(echo "$out" | grep -E '^ *not ok' || true)"

purge
check "purge: the package is gone from the chroot" sh -c "! '$DK' run dpkg -s iopmem-dkms >/dev/null 2>&1"
check "purge: the module files are gone" test ! -e "$ko_dax" -a ! -e "$ko_iop"

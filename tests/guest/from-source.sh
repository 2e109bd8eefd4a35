#!/bin/bash
# vm: --bar 256M
# README.md's "From source", run as written (tests/lib/doc-examples.py reads
# the commands out of it) in a copy of the tree: make, modules_install
# (modprobe then finds the modules in /lib/modules/KVER/extra; not the
# tests' module), install-tools, udev's reload, the unit enabled.  sudo is
# a shim that runs the command (the guest runs as root).  Only where the
# host has the guest kernel's headers, as a server does (Debian's 6.1 and
# 6.12): the 7.x kernels' headers live in a Debian 13 chroot
# (scripts/debian-kernel.sh), the debug kernel's in its build tree.
. "$(dirname "$0")/../common"
guest_only
kver=$(uname -r)
if [ ! -e "/usr/src/linux-headers-$kver/Makefile" ] && [ ! -e "/lib/modules/$kver/build/Makefile" ]; then
	skip_all --here "the host has no headers for $kver installed (a 7.x kernel's are in scripts/debian-kernel.sh's Debian 13 chroot, the debug kernel's in its build tree): the README's make KVER=\$(uname -r) is for a server's own kernel"
fi
p2p_unload
bin=$(mktemp -d)
printf '#!/bin/sh\nexec "$@"\n' >"$bin/sudo"
chmod +x "$bin/sudo"
export PATH=$bin:$PATH
mods=/run/iopmem/modtree
# the guest's two vCPUs for the build (the command stays as written)
export MAKEFLAGS=-j2
# a module tree of the kernel's built-ins only, mounted over the kernel's for
# the test: depmod (which modules_install runs) over the whole tree reads
# every module through 9p, 85 s under TCG
rm -rf "$mods"
mkdir -p "$mods/lib/modules/$kver"
cp "/lib/modules/$kver"/modules.builtin* "/lib/modules/$kver/modules.order" "$mods/lib/modules/$kver/"
depmod -b "$mods" "$kver"
mount --bind "$mods/lib/modules/$kver" "/lib/modules/$kver"
src=/tmp/iopmem-src
rm -rf "$src"
mkdir -p "$src"
git -C "$TOP" ls-files -z | (cd "$TOP" && xargs -0 cp --parents -t "$src")
mapfile -t ex < <(python3 "$TOP/tests/lib/doc-examples.py" "$TOP/README.md" "From source")
check_eq "README's 'From source' has its 5 commands" 5 "${#ex[@]}"
for cmd in "${ex[@]}"; do
	case $cmd in
	"sudo systemctl daemon-reload && sudo systemctl enable p2pctl-apply.service")
		# no systemd runs here (PID 1 is run-vm's guest-run): daemon-reload
		# has no daemon to ask; enable alone works offline
		diag "not run as written: '$cmd': systemctl daemon-reload needs a running systemd, which a run-vm guest has not; its enable runs alone"
		cmd="sudo systemctl enable p2pctl-apply.service"
		;;
	esac
	# udevd runs on a server; here it starts for the command that talks to it
	[ "$cmd" != "sudo udevadm control --reload" ] || { /lib/systemd/systemd-udevd --daemon; udevadm settle -t 30 || true; }
	diag "\$ $cmd"
	RC=0
	OUT=$(cd "$src" && bash -c "$cmd" 2>&1) || RC=$?
	printf '%s\n' "$OUT" | tail -n 5 | sed 's/^/#   | /'
	case $cmd in
	"make KVER=\$(uname -r)")
		check_eq "$cmd: exit 0" 0 "$RC"
		check "...built both modules and p2pctl" test -s "$src/build/kmod/$kver/drivers/iopmem/iopmem.ko" \
			-a -s "$src/build/kmod/$kver/drivers/dax-core/dax_core.ko" -a -x "$src/tools/p2pctl/p2pctl"
		;;
	"sudo make KVER=\$(uname -r) modules_install")
		check_eq "$cmd: exit 0" 0 "$RC"
		check_eq "...modprobe finds them in /lib/modules/KVER/extra" \
			"/lib/modules/$kver/extra/drivers/iopmem/iopmem.ko /lib/modules/$kver/extra/drivers/dax-core/dax_core.ko" \
			"$(modinfo -n iopmem 2>&1 | sed -E 's/\.(xz|zst|gz)$//') $(modinfo -n dax_core 2>&1 | sed -E 's/\.(xz|zst|gz)$//')"
		;;
	"sudo make install-tools")
		check_eq "$cmd: exit 0" 0 "$RC"
		check_eq "...p2pctl in /usr/local/sbin, the rule and the unit in /etc" "$(sed -n '1s/.*(\(.*\)).*/\1/p' "$TOP/debian/changelog") yes yes" \
			"$(/usr/local/sbin/p2pctl --version) $([ -s /etc/udev/rules.d/80-p2pdax.rules ] && echo yes) $([ -s /etc/systemd/system/p2pctl-apply.service ] && echo yes)"
		;;
	"sudo udevadm control --reload")
		check_eq "$cmd (udevd running): exit 0" 0 "$RC"
		check_match "...udev runs the installed p2pctl for a p2pdax node" "/usr/local/sbin/p2pctl" \
			"$(cat /etc/udev/rules.d/80-p2pdax.rules)"
		;;
	"sudo systemctl enable p2pctl-apply.service")
		check_eq "$cmd: exit 0" 0 "$RC"
		check "...the unit is wanted by multi-user.target" \
			test -L /etc/systemd/system/multi-user.target.wants/p2pctl-apply.service
		;;
	*)
		fail "an example this test does not know: $cmd"
		;;
	esac
done
check "modprobe iopmem: the installed modules load" modprobe iopmem
# (compressed as the kernel's own modules are, on 6.12: .ko.xz)
check_eq "...from extra" "/lib/modules/$kver/extra/drivers/iopmem/iopmem.ko" \
	"$(modinfo -n iopmem | sed -E 's/\.(xz|zst|gz)$//')"
check_eq "...and nothing of the tests' (tests/kmod) was installed" "" \
	"$(find "/lib/modules/$kver/extra" -path '*tests*' -o -name 'p2pref*')"
udevadm control --exit || true
modprobe -r iopmem dax_core
systemctl disable p2pctl-apply.service >/dev/null 2>&1 || true
rm -f /usr/local/sbin/p2pctl /etc/udev/rules.d/80-p2pdax.rules /etc/systemd/system/p2pctl-apply.service
umount "/lib/modules/$kver"
rm -rf "$mods" "$bin" "$src"

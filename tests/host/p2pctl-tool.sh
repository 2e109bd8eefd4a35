#!/bin/bash
# p2pctl as a packaged tool, on the host (no kernel needed): --version, the
# man page documents every command and option, bash completion completes
# them, and the build's own inputs (KVER, PREFIX, install-deps groups,
# fresh-machine options) refuse bad values with a clear message.
. "$(dirname "$0")/../common"
P=$TOP/tools/p2pctl/p2pctl
MAN=$TOP/Documentation/man/p2pctl.8
COMP=$TOP/tools/p2pctl/p2pctl.bash-completion
ver=$(awk -F'[()]' 'NR == 1 { print $2; exit }' "$TOP/debian/changelog")

# run_err WHAT RC MESSAGE CMD...: run_rc (tests/common)
run_err() { run_rc "$@"; }

check_eq "--version prints debian/changelog's version" "$ver" "$("$P" --version)"
check_eq "version command" "$ver" "$("$P" version)"
run_err "--version with an argument" 2 "takes no arguments" "$P" --version extra
run_err "unknown command" 2 "unknown command 'frob'" "$P" frob

# ---- the man page -----------------------------------------------------------------
man_text=$(MANWIDTH=200 man -l "$MAN" 2>/dev/null | col -b)
for sec in SYNOPSIS DESCRIPTION COMMANDS OPTIONS "LAYOUT FILE" "EXIT STATUS" EXAMPLES FILES; do
	check "man page has $sec" grep -qx "$sec" <<<"$man_text"
done
check_eq "man page renders without groff warnings" "" \
	"$(MANWIDTH=80 man --warnings -l "$MAN" 2>&1 >/dev/null)"
cmds=$(sed -n 's/^\t{ "\([a-z-]*\)", cmd_.*/\1/p' "$TOP/tools/p2pctl/p2pctl.c")
check "the command table was read" test "$(wc -w <<<"$cmds")" -ge 9
longs=$(grep -ohE '\{ "[a-z-]+", (no|required)_argument, NULL, .[a-zA-Z].' "$TOP"/tools/p2pctl/*.[ch] |
	sed -E 's/\{ "([a-z-]+)", .*, NULL, .(.)./\1 \2/' | sort -u)
check "the long options were read" test "$(wc -l <<<"$longs")" -ge 14
missing=
for c in $cmds; do
	grep -qE "^ *p2pctl $c( |$)" <<<"$man_text" || missing="$missing $c"
done
check_eq "every command in the man page's SYNOPSIS" "" "$missing"
missing=
while read -r long short; do
	grep -qE -- "-$short, --$long" <<<"$man_text" || missing="$missing -$short/--$long"
done <<<"$longs"
check_eq "every option (short and long) in the man page's OPTIONS" "" "$missing"

# the tenants' page shows the commands of p2pdax(4)'s EXAMPLES (which the
# package test runs and compares, tests/pkg/guest.sh), no other
page=$(python3 "$TOP/tests/lib/doc-examples.py" "$TOP/Documentation/tenants.rst")
check_eq "Documentation/tenants.rst: its 2 commands" 2 "$(wc -l <<<"$page")"
man4=$(grep '^\$ ' "$TOP/Documentation/man/p2pdax.4")
check_eq "...are p2pdax(4)'s, which tests/pkg/guest.sh runs" "" \
	"$(grep -vxF -f <(printf '%s\n' "$man4") <<<"$page" || true)"

# ---- bash completion ----------------------------------------------------------------
check_eq "completion: commands (and help, version)" "$(printf '%s\n' $cmds help version | sort)" \
	"$(complete_line 'p2pctl ' | grep -v '^--' | sort)"
check_eq "completion: a prefix" create-device "$(complete_line 'p2pctl cr')"
missing=
for c in $cmds; do
	offered=$(complete_line "p2pctl $c --")
	for long in $(awk '{ print $1 }' <<<"$longs"); do
		# an option belongs to a command if the man page's SYNOPSIS line for it names its short form
		short=$(awk -v l="$long" '$1 == l { print $2 }' <<<"$longs")
		syn=$(grep -E "^ *p2pctl $c( |$)" <<<"$man_text" | head -n 1)
		if grep -qE -- "\[?-$short( |\]|$)" <<<"$syn" && ! grep -qx -- "--$long" <<<"$offered"; then
			missing="$missing $c:--$long"
		fi
	done
done
check_eq "completion offers each command's options" "" "$missing"
check_eq "completion: list -r offers all" all "$(complete_line 'p2pctl list -r a')"
check_eq "completion: -a offers the aligns" "1G 2M 4K" "$(complete_line 'p2pctl create-device -a ' | tr '\n' ' ' | sed 's/ $//')"

# ---- the build's own inputs ------------------------------------------------------------
run_err "KVER without headers" 1 "no headers for kernel 9.9.9-bogus" env KVER=9.9.9-bogus "$TOP/scripts/kver.sh" kdir
run_err "KVER that is not a release" 1 "is not a kernel release" env KVER='6.1 x' "$TOP/scripts/kver.sh" kver
run_err "make modules KVER=bogus" 2 "no headers for kernel 9.9.9-bogus" make -s -C "$TOP" modules KVER=9.9.9-bogus
run_err "KDIR that does not exist" 1 "KDIR=/nonexistent does not exist" env KDIR=/nonexistent "$TOP/scripts/kver.sh" kdir
run_err "kver.sh: unknown command" 2 "usage: kver.sh" "$TOP/scripts/kver.sh" frob
note=$(KVER= KDIR= KERNEL= "$TOP/scripts/kver.sh" note 2>&1)
check_match "the default kernel is the testbed's, and said so" "building for kernel .* \(the testbed's default; choose another with KERNEL=6.12[|]7.2[|]7.3[|]debug or KVER=RELEASE\)" "$note"
run_err "KERNEL=6.13 (not supported)" 2 "KERNEL=6.13: use 6.1, 6.12, 7.2, 7.3, debug, debug-6.1 or a full release" env KERNEL=6.13 "$TOP/scripts/kver.sh" kver
nocache=$(mktemp -d)
release=$(. /etc/os-release && echo "$VERSION_CODENAME")
# (the 6.1 debug kernel's source: Debian 12's, installed by install-deps.sh
# debug only)
if src61=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null) && [ -n "$src61" ]; then
	run_err "KERNEL=debug-6.1 when it is not built" 1 "the debug kernel is not built for this source and config ($nocache/debug-kernel/" \
		env IOPMEM_CACHE="$nocache" KERNEL=debug-6.1 "$TOP/scripts/kver.sh" kver
	check_match "the debug kernel's cache key is the source version + a config hash" \
		"^$nocache/debug-kernel/$src61-[0-9a-f]{12}\$" \
		"$(IOPMEM_CACHE="$nocache" IOPMEM_DEBUG_SOURCE=6.1 "$TOP/scripts/debug-kernel.sh" dir)"
elif [ "$release" = bookworm ]; then
	run_err "KERNEL=debug-6.1 without linux-source-6.1: refused, saying how to get it" 1 \
		"linux-source-6.1 is not installed (scripts/install-deps.sh debug)" \
		env IOPMEM_CACHE="$nocache" KERNEL=debug-6.1 "$TOP/scripts/kver.sh" kver
else
	run_err "KERNEL=debug-6.1 on Debian 13: refused, it is Debian 12's source" 1 \
		"linux-source-6.1 is Debian 12's, and this host is not Debian 12" \
		env IOPMEM_CACHE="$nocache" KERNEL=debug-6.1 "$TOP/scripts/kver.sh" kver
	run_err "install-deps.sh debug on Debian 13: refused" 1 "Debian 13 does not have" \
		"$TOP/scripts/install-deps.sh" debug
fi
run_err "KERNEL=debug (7.3) without its build chroot" 1 "linux-source-7.3 is not in the build chroot" \
	env IOPMEM_CACHE="$nocache" KERNEL=debug "$TOP/scripts/kver.sh" kver
run_err "run-vm --kernel debug when it is not built" 2 "run 'make debug-kernel'" \
	env IOPMEM_CACHE="$nocache" "$TOP/scripts/qemu/run-vm" --kernel debug -- true
run_err "make check-guest TESTS=bogus: refused before anything runs" 2 "check-guest: no test tests/guest/bogus.sh" \
	make -s -C "$TOP" check-guest TESTS=bogus
run_err "debug-kernel.sh: unknown command" 2 "usage: debug-kernel.sh build|kver|kdir|image|modroot|dir|source" "$TOP/scripts/debug-kernel.sh" frob
rmdir "$nocache"
dflt=$(dpkg-query -W -f='${Depends}' linux-image-amd64 | sed -n 's/^linux-image-\([^ ,]*\).*/\1/p')
check_eq "the default is the release linux-image-amd64 depends on" "$dflt" "$(KVER= KDIR= KERNEL= "$TOP/scripts/kver.sh" kver)"
case $release in
bookworm)
	check_eq "KERNEL=6.1 is Debian 12's default" "$dflt" "$(KERNEL=6.1 "$TOP/scripts/kver.sh" kver)"
	check_match "...a 6.1" '^6\.1\.' "$dflt"
	;;
trixie)
	check_match "Debian 13's default is its 6.12" '^6\.12\.[0-9]+\+deb13-amd64$' "$dflt"
	check_eq "KERNEL=6.12 is that one" "$dflt" "$(KERNEL=6.12 "$TOP/scripts/kver.sh" kver)"
	if ! "$TOP/scripts/kver.sh" installed | grep -q '^6\.1\.'; then
		run_err "KERNEL=6.1 on Debian 13: refused, naming the kernels it has" 1 \
			"KERNEL=6.1 is Debian 12's kernel, and this host has none with headers (its default is $dflt" \
			env KERNEL=6.1 "$TOP/scripts/kver.sh" kver
	fi
	;;
*)
	fail "the host is Debian 12 or 13 (/etc/os-release says '$release')"
	;;
esac
run_err "install-deps: unknown group" 2 "unknown group 'bogus' (base, tests, deb, fresh, 6.1, 6.12 or debug)" "$TOP/scripts/install-deps.sh" bogus
run_err "fresh-machine: unknown option" 2 "unknown option '--bogus'" "$TOP/scripts/fresh-machine.sh" --bogus
run_err "fresh-machine: --release of another distribution" 2 "--release sid: bookworm (Debian 12) or trixie (Debian 13)" \
	"$TOP/scripts/fresh-machine.sh" --release sid
run_err "fresh-machine: --release with nothing after it" 2 "--release needs bookworm or trixie" \
	"$TOP/scripts/fresh-machine.sh" --release
tmp=$(mktemp -d)
run_err "install-tools: relative PREFIX" 2 "must be an absolute path, not 'usr/sbin'" \
	make -s -C "$TOP" install-tools DESTDIR="$tmp" PREFIX=usr
check_eq "...installed nothing" "" "$(find "$tmp" -mindepth 1)"
make -s -C "$TOP" install-tools DESTDIR="$tmp" PREFIX=/opt/p2p >/dev/null
check_match "install-tools: the rule runs the installed binary" 'RUN\+="/opt/p2p/sbin/p2pctl apply' \
	"$(cat "$tmp/etc/udev/rules.d/80-p2pdax.rules")"
check_match "install-tools: so does the unit" "ExecStart=/bin/sh -c 'test ! -e /etc/p2pctl/layout.json [|][|] exec /opt/p2p/sbin/p2pctl apply /etc/p2pctl/layout.json'" \
	"$(cat "$tmp/etc/systemd/system/p2pctl-apply.service")"
check "install-tools: binary, man page, completion" test -x "$tmp/opt/p2p/sbin/p2pctl" -a \
	-f "$tmp/opt/p2p/share/man/man8/p2pctl.8" -a -f "$tmp/opt/p2p/share/bash-completion/completions/p2pctl"
rm -rf "$tmp"

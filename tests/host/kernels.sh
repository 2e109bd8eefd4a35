#!/bin/bash
# One list of supported kernels: scripts/kernels.  kver.sh and the package
# build read it; what cannot read it (the documents, compat.h, kver.sh's
# aliases, the Makefile's help) must name exactly its series.  Each check
# also runs against a list with one series more, and must fail there.
. "$(dirname "$0")/../common"
LIST=$TOP/scripts/kernels

series_of() { sed -e '/^#/d' -e '/^$/d' -e 's/[[:space:]].*//' "$1"; }

# names FILE-LIST: the "X.Y" series each place names, one per line, sorted
names() {
	local list=$1 text
	case $2 in
	readme)	# "where the value is `6.1`, `6.12`, ..., `debug`"
		text=$(tr '\n' ' ' <"$TOP/README.md" | grep -oE 'where the value is (`[^`]+`, )+' | head -1) ;;
	design)	# "Tested on ... (``make check-guest ..."
		text=$(tr '\n' ' ' <"$TOP/Documentation/design.rst" | sed -n 's/.*\(Tested on .*\)(``make check-guest.*/\1/p' | head -1) ;;
	compat)	text=$(grep -oE 'Tested on [^.]*(\.[0-9]+[^.]*)*\.' "$TOP/drivers/dax-core/compat.h" | head -1) ;;
	kver)	text=$(KERNEL=0.0 "$TOP/scripts/kver.sh" kver 2>&1 || true) ;;
	make)	text=$(make -s -C "$TOP" help | grep -oE 'KERNEL=[0-9.|a-z]+' | head -1) ;;
	esac
	grep -oE '\b[0-9]+\.[0-9]+\b' <<<"$text" | grep -vx '0.0' | sort -uV
}

want=$(series_of "$LIST" | sort -uV)
check "scripts/kernels names series ($(echo $want))" test "$(wc -w <<<"$want")" -ge 2
wider=$(mktemp)
trap 'rm -f "$wider"' EXIT
{ cat "$LIST"; printf '9.9\tplanted\n'; } >"$wider"
for place in readme design compat kver make; do
	got=$(names "$LIST" "$place")
	check_eq "$place names exactly the list's series" "$(echo $want)" "$(echo $got)"
	check "...and a list with 9.9 more differs from it (the check can fail)" \
		test "$(echo $(series_of "$wider" | sort -uV))" != "$(echo $got)"
done
check_eq "kver.sh series is the list as an ERE" \
	"^($(series_of "$LIST" | sed 's/\./\\./g' | paste -sd'|'))\\." "$("$TOP/scripts/kver.sh" series)"
check_match "dkms.conf takes the list at package build (#KERNELS#)" '^BUILD_EXCLUSIVE_KERNEL="#KERNELS#"$' \
	"$(grep '^BUILD_EXCLUSIVE_KERNEL=' "$TOP/dkms.conf")"
check_match "...and builds for x86-64 only" '^BUILD_EXCLUSIVE_ARCH="x86_64"$' \
	"$(grep '^BUILD_EXCLUSIVE_ARCH=' "$TOP/dkms.conf")"
check_match "debian/control's description takes it too" 'kernel series \$\{iopmem:Kernels\}' \
	"$(cat "$TOP/debian/control")"

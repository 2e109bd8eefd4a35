#!/bin/sh
# Install every Debian package that iopmem's build, testbed, tests and demo
# need. Idempotent: packages already present are skipped, and apt-get update
# runs at most once per invocation (and only when something is missing).
set -eu

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi

PKGS="
build-essential make gcc bc flex bison kmod cpio gzip xz-utils
sparse
linux-image-amd64 linux-headers-amd64 linux-source-6.1
qemu-system-x86 qemu-utils busybox-static
pciutils iproute2 util-linux procps
rdma-core ibverbs-providers ibverbs-utils libibverbs-dev perftest
ndctl daxctl
libjson-c-dev pkg-config
python3
"

missing=
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing

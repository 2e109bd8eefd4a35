#!/bin/bash
# make demo: boot the QEMU testbed with one 256 MiB card, bind it to iopmem
# and show what dax-core made of it.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
out=$TOP/build/vm/demo
exec "$TOP/scripts/qemu/run-vm" --outdir "$out" --bar 256M -- "$TOP/scripts/demo-guest.sh"

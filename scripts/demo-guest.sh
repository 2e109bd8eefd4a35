#!/bin/bash
# The guest half of `make demo` (runs inside run-vm).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
read -r addr file size <"$IOPMEM_CARDS"

echo "== card $addr: $((size >> 20)) MiB BAR, backed by $file on the host"
insmod "$TOP/drivers/dax-core/dax_core.ko"
insmod "$TOP/drivers/iopmem/iopmem.ko"
echo iopmem >"/sys/bus/pci/devices/$addr/driver_override"
echo "$addr" >/sys/bus/pci/drivers_probe
dmesg | grep "iopmem $addr" | sed 's/^\[[^]]*\] /   dmesg: /'

echo "== /sys/bus/pci/devices/$addr/dax_region"
for f in /sys/bus/pci/devices/"$addr"/dax_region/*; do
	printf '   %-16s %s\n' "${f##*/}" "$(cat "$f")"
done
start=$(printf '%016x' "$(cat "/sys/bus/pci/devices/$addr/dax_region/resource")")
echo "== x86 PAT memory type of the BAR"
grep "mem 0x$start-" /sys/kernel/debug/x86/pat_memtype_list | sed 's/^/   /'

#!/bin/bash
# vm: --bar 256M --nvme 64M
# p2pctl check with the card and the NVMe drive on separate root ports, no
# IOMMU (the machine nvme.sh boots): the transfer goes through the root
# complex.  QEMU's root ports have ACS; with no IOMMU Linux leaves it off.
. "$(dirname "$0")/../common"
guest_only
. "$TOP/tests/lib/topology.sh"
topo_start
check_eq "verdict: via the root complex" via-root-complex "$(tj .verdict)"
check_eq "route: root complex" root-complex "$(tj .route)"
# (present and null: jq reads a missing key as null too)
check_eq "nothing upstream is shared (common_upstream is there, null)" "true null" \
	"$(tj '[has("common_upstream"), .common_upstream] | map(tostring) | join(" ")')"
check_eq "each is alone on a root port" "root-port $a root-port $nv" \
	"$(tj '[.card_path[0].type, .card_path[1].pci, .peer_path[0].type, .peer_path[1].pci] | join(" ")')"
check_eq "the root ports have ACS, redirects off (no IOMMU asked for it)" "false false false false" \
	"$(tj '[.card_path[0].acs.request_redirect, .card_path[0].acs.completion_redirect, .peer_path[0].acs.request_redirect, .peer_path[0].acs.completion_redirect] | map(tostring) | join(" ")')"
check_eq "no IOMMU" false "$(tj .iommu.active)"
# QEMU's q35 host bridge (8086:29c0) is on no list: unless the CPU is an
# AMD Zen (TCG's is not one Linux would trust), the route is unproven
check_eq "root complex: q35's host bridge 0000:00:00.0, 8086:29c0, on no list" "0000:00:00.0 8086:29c0 null" \
	"$(tj '[.root_complex.device, .root_complex.id, (.root_complex.listed_as | tostring)] | join(" ")')"
check_eq "...so known to forward only for an AMD Zen CPU ($(grep -m1 vendor_id /proc/cpuinfo | cut -d: -f2))" \
	"$(tj '.root_complex.amd_zen')" "$(tj '.root_complex.known_to_forward')"
check_match "the reasons say the root complex must forward peer traffic, and how to prove it" \
	"does not know to forward peer-to-peer.*prove it with p2pctl check --transfer|every AMD Zen" "$(tj '.reasons[]')"
topo_check_bar
topo_bad_input "$nv"

# ---- check --transfer: one real transfer each way with the drive ---------------------------
IMG=$IOPMEM_OUTDIR/nvme.img
off=$((8 * MiB))
modprobe nvme
for _ in $(seq 100); do [ -b /dev/nvme0n1 ] && break; sleep 0.1; done
[ -b /dev/nvme0n1 ] || { fail "the NVMe namespace of the vm line exists (/dev/nvme0n1)"; exit 1; }
# what the drive holds there (written through the drive, seen in the host's image)
head -c $((2 * MiB)) < <(yes 'the drive held this before') >/run/iopmem/held.img
dd if=/run/iopmem/held.img of=/dev/nvme0n1 bs=1M seek=8 oflag=direct status=none
dd if="$IMG" bs=1M skip=8 count=2 status=none of=/run/iopmem/before.img
check "the drive holds it (host image)" cmp /run/iopmem/held.img /run/iopmem/before.img
before=$("$P2PCTL" list -D)
for bad in /dev/nvme0n1 /dev/nvme0n1: /dev/nvme0n1:x /dev/nvme0n1:100 /dev/nvme0n1:64M /dev/null:0 "/dev/$(ls /sys/class/p2pdax | head -1):0"; do
	topo_run --peer "$nv" --transfer "$bad"
	check_match "--transfer '$bad' refused, saying why" \
		"^1 p2pctl check: (--transfer takes BLOCKDEV:OFFSET|--transfer: bad offset|--transfer: the offset 100 is not a multiple of 4096|--transfer: /dev/nvme0n1 has no 2097152 bytes at offset 67108864|--transfer: .* is not a block device)" \
		"$TOPO_RC $TOPO_ERR"
done
check_eq "...changing nothing" "$before" "$("$P2PCTL" list -D)"
topo_run --peer "$nv" --transfer "/dev/nvme0n1:$off"
check_eq "--transfer: exit 0" "0 " "$TOPO_RC $TOPO_ERR"
check_eq "...2 MiB moved card -> drive and drive -> card, compared, the drive restored" \
	"/dev/nvme0n1 $off 2097152 ok ok true" \
	"$(tj '.transfer | [.block_device, .offset, .bytes, .card_to_peer, .peer_to_card, .restored] | map(tostring) | join(" ")')"
check "...the drive's bytes there are what they were (host image, $(stat -c %s /run/iopmem/before.img) bytes)" \
	cmp -n $((2 * MiB)) /run/iopmem/before.img <(dd if="$IMG" bs=1M skip=8 count=2 status=none)
check_eq "...and its scratch device is gone" "$before" "$("$P2PCTL" list -D)"
p2p_unbind "$a"
p2p_unload

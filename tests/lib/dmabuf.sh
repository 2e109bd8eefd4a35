# shellcheck shell=bash
# The dma-buf tests' shared part (tests/guest/dmabuf*.sh): QEMU's edu
# device, driven by tests/kmod/p2pedu.ko, DMAs into and out of a tenant's
# dma-buf; the bytes are checked in the card's host file.

KO_P2PEDU=$KMOD/tests/kmod/p2pedu.ko
DB=$BIN/p2pdmabuf
DBW=$(mktemp -d /run/dmabuf.XXXXXX)

edu_setup() {
	grep -qx 0x11e8 /sys/bus/pci/devices/*/device || t_abort "no edu device (run-vm --device edu,...)"
	mod_loaded p2pedu || insmod "$KO_P2PEDU"
	[ -c /dev/p2pedu ] || t_abort "p2pedu loaded, but no /dev/p2pedu"
	EDU=$(grep -lx 0x11e8 /sys/bus/pci/devices/*/device)
	EDU=${EDU%/device}
	EDU=${EDU##*/}
}

# expected_mapping: how this kernel should map a region's dma-bufs (its
# dax_region/dmabuf_mapping): "p2pdma" where it has the P2PDMA provider API
# (both functions in the kernel's symbols), "dma-api" elsewhere
expected_mapping() {
	if grep -qw pcim_p2pdma_provider /proc/kallsyms &&
		grep -qw dma_buf_phys_vec_to_sgt /proc/kallsyms; then
		echo p2pdma
	else
		echo dma-api
	fi
}

# bg_start ARGS...: p2pdmabuf run ARGS in the background, its output in
# $DBW/bg.out, stdin a fifo on fd 7; returns once it says ready (or ends)
bg_start() {
	rm -f "$DBW/bg.in" "$DBW/bg.out"
	mkfifo "$DBW/bg.in"
	"$DB" run "$@" <"$DBW/bg.in" >"$DBW/bg.out" 2>&1 &
	BG=$!
	exec 7>"$DBW/bg.in"
	local i
	for i in $(seq 600); do
		grep -qx ready "$DBW/bg.out" 2>/dev/null && return 0
		kill -0 "$BG" 2>/dev/null || return 0
		sleep 0.1
	done
}

# bg_go: let it run its remaining steps and end; sets BG_OUT to its whole
# output, one line (not in a subshell: it waits for its own child)
bg_go() {
	echo go >&7 2>/dev/null || true
	exec 7>&-
	wait "$BG" || true
	BG_OUT=$(paste -sd' ' "$DBW/bg.out")
}

# dma_both_ways ADDR DEV SEED: edu DMAs the pattern into dma-bufs of DEV (a
# device of 3 extents from split_device) at its first and last bytes and
# across its extents' boundaries, the bytes are checked in the card's host
# file, and edu reads back what the tenant wrote through its mapping
dma_both_ways() {
	local a=$1 d=$2 seed=$3 size out b0 n
	size=$(dsize "$d")
	extents "$d"
	b0=$(((${EXT[1]#* }) * 4096))
	out=$("$DB" run "/dev/$d" 0 "$size" dynamic "w:0:4096:$seed" \
		"w:$((b0 - 2048)):4096:$seed" "w:$((size - 4096)):4096:$seed" status)
	check_eq "edu DMAs into a dma-buf of all of $d: its first page, across an extent boundary, its last page" \
		"import ok|w 0 4096: ok|w $((b0 - 2048)) 4096: ok|w $((size - 4096)) 4096: ok" \
		"$(grep -v '^status' <<<"$out" | paste -sd'|')"
	check_match "...one table entry per extent (3)" "status invalidations 0 mapped 1 nents 3" "$out"
	# the first entry's DMA address: the BAR's physical address without an
	# IOMMU, an IOVA with one
	DMA_ADDR=$(sed -n 's/^status .* dma //p' <<<"$out")
	DMA_PHYS=$(printf '%#x' "$((${EXT[0]%%-*}))")
	check "...the bytes are in the card's host file: device bytes [0, 4096)" check_range "$a" "$d" "$seed" 0 4096
	check "...[$((b0 - 2048)), +4096), in two extents" check_range "$a" "$d" "$seed" $((b0 - 2048)) 4096
	check "...and the last page" check_range "$a" "$d" "$seed" $((size - 4096)) 4096

	# a dma-buf of part of the device: its byte 0 is device byte OFF
	out=$("$DB" run "/dev/$d" $((b0 - 8192)) 16384 dynamic "w:0:16384:$((seed + 1))" status)
	check_match "a dma-buf of 16 KiB across an extent boundary: 2 entries" "w 0 16384: ok.*nents 2" "$(paste -sd' ' <<<"$out")"
	check "...its 16384 bytes are device bytes [$((b0 - 8192)), +16384) in the host file" \
		check_range "$a" "$d" $((seed + 1)) $((b0 - 8192)) 16384

	# the other way: what the tenant wrote through its mapping, read by edu
	"$BIN/p2pmap" fill "/dev/$d" $((2 * MiB)) $((2 * MiB)) $((seed + 2))
	out=$("$DB" run "/dev/$d" $((2 * MiB)) $((2 * MiB)) dynamic "r:0:4096:$((seed + 2))" \
		"r:$((2 * MiB - 4096)):4096:$((seed + 2))")
	check_eq "edu DMAs out of a dma-buf what the tenant wrote through its mapping (2 x 4096 bytes compared)" \
		"import ok|r 0 4096: compared 4096 bytes|r $((2 * MiB - 4096)) 4096: compared 4096 bytes" \
		"$(paste -sd'|' <<<"$out")"
}

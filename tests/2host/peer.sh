#!/bin/bash
# The guest half of tests/host/two-host.sh (scripts/qemu/run-2host: two
# guests, a and b, on one link, rxe0 in each).  Host b carves its card for
# two tenants, T1 and T2, each served to host a by its own process (its own
# PD, QP and rkey).  Host a:
#   - RDMA WRITEs 16 MiB from its DRAM into T1 and READs it back;
#   - READs T2's bytes over T2's own connection (b's carved device as the
#     source of the DMA);
#   - tries T2 through T1's connection with T2's rkey, and past the end of
#     T2 with T2's own: both must end in a remote access error;
#   - runs ib_write_bw --mmap against a server whose buffer is T1.
# Then b RDMA WRITEs from T1 (its carved device as the local source) into a
# device host a carved on its own card.  Every byte check reads the card's
# backing file on the host (through the shared host root) and is listed in
# results/verify for the host to repeat.
. "$(dirname "$0")/../common"
guest_only
export HOST_VERIFY=$IOPMEM_RESULTS/verify
: >"$HOST_VERIFY"
M=$MiB
peer=$IOPMEM_PEER_IP

if net_setup; then
	pass "link to the other host with rxe0 ($IOPMEM_MY_IP <-> $peer)"
else
	fail "link to the other host with rxe0 ($IOPMEM_MY_IP <-> $peer)"
	exit 1
fi
p2p_setup
check "card bound" test -d "$R"

# perftest over the link: the server's buffer is DEV at OFF (b), or the client (a).
# Only a failure to set up perftest's connection (tests/common's
# perftest_retryable: with the two cores overloaded, the other side may not
# be listening yet, or a socket exchange may be lost) is tried again, up to
# three times on each side, said in the output; a registration or data
# failure fails at once.  A server whose setup failed listens again; a
# client whose setup failed connects again.
perf_server() {
	local k out rc
	for k in 1 2 3; do
		rc=0
		timeout 300 ib_write_bw -d rxe0 -x 1 -F -s $((1 * M)) -n 50 --mmap="$1" --mmap-offset="$2" \
			>/run/iopmem/perf.log 2>&1 || rc=$?
		[ "$rc" = 0 ] && return 0
		out=$(</run/iopmem/perf.log)
		echo "# ib_write_bw server: try $k failed (exit $rc):"
		tail -n 4 <<<"$out" | sed 's/^/#   /'
		perftest_retryable "$out" || { echo "# ...not while setting up its connection: not tried again"; return 1; }
	done
	return 1
}
perf_client() {
	local out rc k bw
	for k in 1 2 3; do
		for _ in $(seq 60); do
			rc=0
			out=$(timeout 300 ib_write_bw -d rxe0 -x 1 -F -s $((1 * M)) -n 50 "$peer" 2>&1) || rc=$?
			[ "$rc" != 0 ] && [[ $out == *"Couldn't connect to"* ]] || break
			sleep 1
		done
		bw=$(echo "$out" | awk '$1 == 1048576 { print $4 }')
		[ -n "$bw" ] && [ "$rc" = 0 ] && { echo "$bw"; return 0; }
		echo "# ib_write_bw client: try $k gave no figure (exit $rc):" >&2
		echo "$out" | tail -n 4 | sed 's/^/#   /' >&2
		perftest_retryable "$out" || { echo "# ...not while setting up its connection: not tried again" >&2; return 1; }
	done
	return 1
}

if [ "$IOPMEM_ROLE" = b ]; then
	# T1: [0, 16M) host a's write, [16M, 24M) the source of b's own write,
	# [24M, 26M) perftest's buffer; what the host re-checks at the end is
	# then still there
	T1=$(<"$R/seed"); set_size "$T1" $((32 * M))
	T2=$(<"$R/seed"); set_size "$T2" $((16 * M))
	check_eq "two tenant devices of one extent each" "1 1" "$(nr_extents "$T1") $(nr_extents "$T2")"
	"$BIN/p2pmap" fill "/dev/$T2" 0 $((16 * M)) 7
	check "T2's own bytes are in the card (host file)" check_range "$a" "$T2" 7 0 $((16 * M))

	timeout 300 "$BIN/p2pnet" serve 7001 "/dev/$T1" >/run/iopmem/s1.log 2>&1 &
	s1=$!
	timeout 300 "$BIN/p2pnet" serve 7002 "/dev/$T2" >/run/iopmem/s2.log 2>&1 &
	s2=$!
	check "T1's server: the peer connected and hung up" wait "$s1"
	check "T2's server: the peer connected and hung up" wait "$s2"
	sed 's/^/# /' /run/iopmem/s1.log /run/iopmem/s2.log
	check "host a's RDMA WRITE is in T1 (host file, 16 MiB)" check_range "$a" "$T1" 11 0 $((16 * M))
	# (rxe's MR bounds refuse the peer's RDMA beyond T1's MR; what this
	# checks of iopmem is T2's bytes in the card)
	check "T2's bytes in the card unchanged after the peer's RDMA beyond T1's MR (host file)" \
		check_range "$a" "$T2" 7 0 $((16 * M))

	check "ib_write_bw --mmap=/dev/$T1 server: exits 0" perf_server "/dev/$T1" $((24 * M))
	sed 's/^/# /' /run/iopmem/perf.log | tail -n 4

	# b's carved device as the local source of b's own RDMA WRITE
	"$BIN/p2pmap" fill "/dev/$T1" $((16 * M)) $((8 * M)) 13
	check "T1 holds the reverse pattern (host file)" check_range "$a" "$T1" 13 $((16 * M)) $((8 * M))
	out=$("$BIN/p2pnet" connect "/dev/$T1" "$peer:7003" W:0:0:$((16 * M)):$((8 * M)) 2>&1) && rc=0 || rc=$?
	echo "$out" | sed 's/^/# /'
	check_eq "RDMA WRITE from T1 into host a's carved device" 0 "$rc"
	check_region "two hosts" "$a"
else
	D=$(<"$R/seed"); set_size "$D" $((32 * M))
	# (it waits for all of a's sequence: three 16 MiB ops, perftest, then b)
	timeout 900 "$BIN/p2pnet" serve 7003 "/dev/$D" >/run/iopmem/s3.log 2>&1 &
	s3=$!

	out=$("$BIN/p2pnet" connect anon:$((32 * M)) "$peer:7001,$peer:7002" \
		w:0:0:0:$((16 * M)):11 r:0:0:0:$((16 * M)):11 r:1:1:0:$((16 * M)):7 \
		w!:0:1:0:4096:99 w!:1:1:$((16 * M)):4096:99 2>&1) && rc=0 || rc=$?
	echo "$out" | sed 's/^/# /'
	check_eq "p2pnet: every op as expected" 0 "$rc"
	check_match "RDMA WRITE from DRAM into b's T1: 16 MiB" "ok - w:0:0:0:$((16 * M)):11: $((16 * M)) bytes written" "$out"
	check_match "RDMA READ back from T1, compared: 16 MiB" "ok - r:0:0:0:$((16 * M)):11: $((16 * M)) bytes read and compared" "$out"
	check_match "RDMA READ of T2 (its carved device the source), compared: 16 MiB" \
		"ok - r:1:1:0:$((16 * M)):7: $((16 * M)) bytes read and compared" "$out"
	check_match "T2 through T1's connection with T2's rkey: remote access error" \
		"ok - w!:0:1:0:4096:99: remote access error" "$out"
	check_match "past the end of T2 with T2's own rkey: remote access error" \
		"ok - w!:1:1:$((16 * M)):4096:99: remote access error" "$out"

	bw=$(perf_client) || true
	check_match "ib_write_bw --mmap into b's T1: bandwidth reported ($bw MB/s)" '^[0-9]+\.[0-9]+$' "$bw"

	check "host b's RDMA WRITE from its device: the peer connected and hung up" wait "$s3"
	sed 's/^/# /' /run/iopmem/s3.log
	check "host b's bytes are in this host's carved device (host file, 8 MiB)" \
		check_range "$a" "$D" 13 $((16 * M)) $((8 * M))
	check "and nothing around them: the rest of the device reads zero" \
		sh -c "'$BIN/p2pmap' zero /dev/$D 0 $((16 * M)) && '$BIN/p2pmap' zero /dev/$D $((24 * M)) $((8 * M))"
	check_region "two hosts" "$a"
fi
p2p_unbind "$a"
p2p_unload

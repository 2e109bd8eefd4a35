#!/bin/bash
# vm: --bar 2G --mem 2G
# msync(MS_SYNC) and fsync() on a carved mapping succeed and do what each
# memory type needs for a peer to see the CPU's stores: write back the cache
# lines (wb: clflush_cache_range(), counted with the function tracer), or
# drain the write-combining buffers (wc) / nothing (uc), no cache flush.  New
# memory is zeroed the same way when a tenant first maps it.  The 2 GiB card is
# above 4 GiB, where the MTRRs let a wb request really be write-back.
. "$(dirname "$0")/../common"
guest_only

a=$(card 0)
R=$(region_dir "$a")
T=/sys/kernel/tracing
mountpoint -q "$T" || mount -t tracefs nodev "$T"
echo clflush_cache_range >"$T/set_ftrace_filter"
echo function >"$T/current_tracer"
flushes() { grep -c 'clflush_cache_range' "$T/trace" || true; }
p2p_load
for mode in wb wc uc; do
	echo "$mode" >/sys/module/iopmem/parameters/cache
	check "bind with cache=$mode" p2p_bind "$a"
	check_eq "region is $mode" "$mode" "$(region_attr "$a" cache_mode)"
	d=$(<"$R/seed")
	echo >"$T/trace"
	set_size "$d" $((8 * MiB))
	check_eq "$mode: growing zeroes nothing yet (no cache flush)" 0 "$(flushes)"
	check "$mode: new memory reads zero through a first mapping" "$BIN/p2pmap" zero "/dev/$d" 0 $((8 * MiB))
	n=$(flushes)
	if [ "$mode" = wb ]; then
		check "$mode: zeroing at the first fault writes the cache lines back ($n flushes)" test "$n" -gt 0
	else
		check_eq "$mode: zeroing at the first fault needs no cache flush" 0 "$n"
	fi
	echo >"$T/trace"
	out=$("$BIN/p2pmap" sync "/dev/$d" $((2 * MiB)) $((4 * MiB)) 31)
	check_eq "$mode: msync(MS_SYNC) and fsync() return 0" "msync OK
fsync OK" "$out"
	n=$(flushes)
	if [ "$mode" = wb ]; then
		check "$mode: msync wrote the range's cache lines back ($n flushes)" test "$n" -gt 0
	else
		check_eq "$mode: msync needs no cache flush" 0 "$n"
	fi
	check "$mode: the bytes are in the card (host file)" check_range "$a" "$d" 31 $((2 * MiB)) $((4 * MiB))
	set_size "$d" 0
	p2p_unbind "$a"
done
echo nop >"$T/current_tracer"
echo >"$T/set_ftrace_filter"
echo wc >/sys/module/iopmem/parameters/cache
p2p_unload

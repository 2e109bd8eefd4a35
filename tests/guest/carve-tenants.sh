#!/bin/bash
# vm: --bar 256M
# Tenant protection: per-device owner and mode; long-term pins (an RDMA MR
# on soft-RoCE) block shrink and delete with EBUSY until released; unbind
# waits for pins and names the holder; module unload with open devices.
. "$(dirname "$0")/../common"
guest_only

M=$MiB
p2p_setup
t1=p2pdax$id.0
set_size "$t1" $((32 * M))
t2=$(<"$R/seed")
set_size "$t2" $((32 * M))

# ---- owner and mode ----------------------------------------------------------------
as() { local uid=$1; shift; setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"; }
chown 1001:1001 "/dev/$t1"
chown 1002:1002 "/dev/$t2"
check "uid 1001 maps and fills its device" as 1001 "$BIN/p2pmap" fill "/dev/$t1" 0 $((32 * M)) 11
check "uid 1001 reads its bytes back" as 1001 "$BIN/p2pmap" check "/dev/$t1" 0 $((32 * M)) 11
check_eq "uid 1002 cannot open tenant 1's device" EACCES "$(as 1002 "$BIN/p2pmap" mmap "/dev/$t1" 0 $((2 * M)) || true)"
check_eq "uid 1001 cannot open tenant 2's device" EACCES "$(as 1001 "$BIN/p2pmap" mmap "/dev/$t2" 0 $((2 * M)) || true)"
check_eq "a tenant cannot resize (sysfs is root's)" EACCES "$(as 1001 "$WR" "$(dsys "$t1")/size" 0 || true)"
check "a tenant cannot read physical extents" sh -c "! setpriv --reuid=1001 --regid=1001 --clear-groups cat $(dsys "$t1")/extents 2>/dev/null"
chmod 0660 "/dev/$t2"
check_match "group mode grants uid 1002 read-write" '^OK ' "$(as 1002 "$BIN/p2pmap" mmap "/dev/$t2" 0 $((2 * M)) || true)"
check_bytes_t1() { check_bytes "$a" "$t1" 11; }
check "tenant 1's bytes are in the host file" check_bytes_t1

# ---- pins: an RDMA memory registration ---------------------------------------------
if ! rxe_setup >/dev/null 2>&1; then
	# install-deps.sh installs everything rdma_rxe needs: missing is a failure
	fail "pins: rdma_rxe is available (modprobe rdma_rxe, rdma link add)"
	p2p_unbind "$a"
	p2p_unload
	exit 0
fi
check "ibv_reg_mr pins tenant 1's mapping" pin_start "/dev/$t1" $((32 * M))
before=$(dattr "$t1" extents)
mark=$(dmesg_mark)
check_store "shrink under a pin: EBUSY" EBUSY "$(dsys "$t1")/size" $((16 * M))
check_eq "refused shrink changed nothing (size)" $((32 * M)) "$(dsize "$t1")"
check_eq "refused shrink changed nothing (extents)" "$before" "$(dattr "$t1" extents)"
# (every process that mapped the device is named: the fills, then the pin)
check "dmesg names the pin holder" dmesg_match "$mark" \
	"$t1: cannot shrink to 16777216: 4096 pages pinned \(mapped by (p2pmap\[[0-9]+\], )+p2ppin\[$PIN_PID\]\)"
check_store "shrink to 0 under a pin: EBUSY" EBUSY "$(dsys "$t1")/size" 0
check_store "delete under a pin: EBUSY" EBUSY "$R/delete" "$t1"
check "data intact under the pin" "$BIN/p2pmap" check "/dev/$t1" 0 $((32 * M)) 11
check_region "refused shrink" "$a"
pin_stop
check_eq "pin released" released "$(tail -n1 /run/iopmem/pin.out)"
check_store "shrink after the pin is released" OK "$(dsys "$t1")/size" $((16 * M))
check_region "shrink after release" "$a"

# an MR over only part of a device blocks only that part
pin_start "/dev/$t2" $((2 * M))
check_store "shrink outside the pinned range works" OK "$(dsys "$t2")/size" $((16 * M))
check_store "shrink into the pinned range: EBUSY" EBUSY "$(dsys "$t2")/size" 0
pin_stop

# ---- teardown waits for pins and names the holder -----------------------------------
pin_start "/dev/$t2" $((16 * M))
mark=$(dmesg_mark)
# (7>&-: the background unbind must not hold the pin's stdin open)
p2p_unbind "$a" 7>&- &
unbind_pid=$!
sleep 3
check "unbind is still waiting for the pin" kill -0 "$unbind_pid"
check "dmesg says who holds the pin" dmesg_has "$mark" "teardown waits for 4096 pinned pages"
check "dmesg names p2ppin[$PIN_PID]" dmesg_match "$mark" "mapped by ([^ ]+\[[0-9]+\], )*p2ppin\[$PIN_PID\]\)"
pin_stop
check_eq "the pin holder deregisters cleanly during teardown" released "$(tail -n1 /run/iopmem/pin.out)"
check "unbind completes once the pin is gone" wait "$unbind_pid"
check "region gone" test ! -e "$R"

# ---- rmmod with a device open ---------------------------------------------------------
p2p_bind "$a"
d=$(region_attr "$a" seed)	# numbers go on after a rebind: the seed, not .0
set_size "$d" $((4 * M))
coproc HOLD { "$BIN/p2pmap" hold "/dev/$d" $((4 * M)); }
# its pipes on fds of our own: bash closes a coprocess's fds and unsets its
# array when it reaps it, which can come before its last line is read
hold_pid=$HOLD_PID
exec {hold_out}<&"${HOLD[0]}" {hold_in}>&"${HOLD[1]}"
exec {HOLD[0]}<&- {HOLD[1]}>&-
read -r line <&"$hold_out"
check_eq "device mapped" mapped "$line"
check "rmmod iopmem with a device mapped" rmmod iopmem
check "rmmod dax_core refused while a device is open" sh -c '! rmmod dax_core 2>/dev/null'
exec {hold_in}>&-
read -r line <&"$hold_out"
exec {hold_out}<&-
check_eq "the mapping gets SIGBUS after the driver is gone" SIGBUS "$line"
wait "$hold_pid" 2>/dev/null || true
check "rmmod dax_core once closed" rmmod dax_core

#!/bin/bash
# run-vm's contract: exit statuses, outdir contents, shared results, cards.
. "$(dirname "$0")/../common"

RUNVM=$TOP/scripts/qemu/run-vm
out=$TOP/build/vm/run-vm-selftest
rm -rf "$out"

# (boots are the cost of this test, about 25 s each in CI: one boot checks
# several things where they do not hide each other)

# QMP listens in the outdir while the guest runs; the exit status comes back
"$RUNVM" -q --outdir "$out" -- sh -c 'sleep 10; exit 42' &
vm=$!
for _ in $(seq 100); do [ -S "$out/qmp.sock" ] && break; sleep 0.1; done
st=$(python3 - "$out/qmp.sock" <<'PY' 2>&1 || true
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
json.loads(f.readline())                      # greeting
for cmd in ("qmp_capabilities", "query-status"):
    f.write(json.dumps({"execute": cmd}) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            break
print(r["return"]["status"])
PY
)
check_eq "QMP answers on OUTDIR/qmp.sock while the guest runs" running "$st"
rc=0; wait "$vm" || rc=$?
check_eq "exit status 42 comes back" 42 "$rc"
check "console log saved" grep -q 'Linux version' "$out/console.log"

rc=0; msg=$("$RUNVM" -q --outdir "$out" -- sh -c 'echo c >/proc/sysrq-trigger; sleep 60' 2>&1) || rc=$?
check_eq "guest panic exits 255" 255 "$rc"
check "panic is in the console log" grep -q 'Kernel panic' "$out/console.log"
# the report on stderr, from its first line to the end of the panic
check_match "run-vm prints the panic that killed the guest" "run-vm:   .*Kernel panic - not syncing: sysrq triggered crash" "$msg"
check_match "...its Call Trace" "run-vm:   .*Call Trace" "$msg"
check_match "...down to its end" "run-vm:   .*(end Kernel panic|Kernel Offset:)" "$msg"
# a panic once COMMAND runs is not booted again; neither is a command that
# fails (above)
check_eq "a panic while COMMAND runs: no second boot" 0 "$(grep -c 'booting again' <<<"$msg" || true)"

# a kernel that panics before COMMAND starts (here: no init) is booted
# once more, saying so; then run-vm fails
rc=0; msg=$("$RUNVM" -q --outdir "$out" --append "rdinit=/nonexistent init=/nonexistent" -- true 2>&1) || rc=$?
check_eq "a guest whose kernel panics while booting exits 255" 255 "$rc"
check_eq "...after booting twice: one 'booting again' line" 1 "$(grep -c 'panicked while booting, before COMMAND started.*booting again, once' <<<"$msg")"
check "...the first boot's console kept" grep -q 'Kernel panic' "$out/console.boot1.log"
check "...and the second's" grep -q 'Kernel panic' "$out/console.log"

# QEMU dying of a signal before COMMAND starts (planted: SIGABRT once the
# kernel prints) is booted again, once, saying so; the command then runs
# (qemu_abrt: SIGABRT to this outdir's QEMU, not to the timeout around it)
qemu_abrt() {
	local p n=0
	for p in $(pgrep -f "file:$out/console.log" || true); do
		if [[ "$(ps -o comm= -p "$p" || true)" == qemu-system* ]] && kill -ABRT "$p"; then
			n=$((n + 1))
		fi
	done
	[ "$n" = 1 ]
}
rm -f "$out/console.log" "$out/status"
"$RUNVM" -q --outdir "$out" -- true >"$out.msg" 2>&1 &
vm=$!
for _ in $(seq 300); do grep -q 'Linux version' "$out/console.log" 2>/dev/null && break; sleep 0.1; done
killed=no
if ! grep -qx started "$out/status" 2>/dev/null && qemu_abrt; then
	killed=yes
fi
rc=0; wait "$vm" || rc=$?
msg=$(<"$out.msg")
check_eq "QEMU aborted while the guest booted (planted): booted again, and COMMAND's status comes back" "yes 0" "$killed $rc"
check_eq "...one 'booting again' line naming the signal" 1 "$(grep -c 'QEMU crashed (ABRT) while the guest booted, before COMMAND started.*booting again, once' <<<"$msg" || true)"
check_eq "...the first boot's signal kept apart (qemu.boot1.crash), none for the second" "ABRT no" "$(cat "$out/qemu.boot1.crash" 2>/dev/null || true) $([ -e "$out/qemu.crash" ] && echo yes || echo no)"

# once COMMAND runs, a QEMU crash is not booted again: qemu.crash says
# which signal, for tests/run-tests
rm -f "$out/console.log" "$out/status"
"$RUNVM" -q --outdir "$out" -- sleep 60 >"$out.msg" 2>&1 &
vm=$!
for _ in $(seq 600); do grep -qx started "$out/status" 2>/dev/null && break; sleep 0.1; done
qemu_abrt || true
rc=0; wait "$vm" || rc=$?
msg=$(<"$out.msg")
check_eq "QEMU aborted while COMMAND ran: exit 255, no second boot, qemu.crash ABRT" "255 0 ABRT" "$rc $(grep -c 'booting again' <<<"$msg" || true) $(cat "$out/qemu.crash" 2>/dev/null || true)"
rm -f "$out.msg"

rc=0; msg=$("$RUNVM" -q --timeout 20 --outdir "$out" -- sh -c 'echo "INFO: task p2ppin:4242 blocked for more than 120 seconds." >/dev/kmsg; sleep 600' 2>&1) || rc=$?
check_eq "guest timeout exits 255" 255 "$rc"
check_match "...and prints the console's reports (a hung task here)" "run-vm: the console's reports.*run-vm:   .*INFO: task p2ppin:4242 blocked for more than 120 seconds" "$(tr '\n' ' ' <<<"$msg")"
check_match "...and where the console ended" "run-vm: the console ends:" "$msg"
# where the vCPUs were (a wedged guest may print nothing); Debian's
# System.map has no symbols, so no name is checked
check_match "...and says where its vCPUs were" "run-vm:   vCPU 0: RIP ffffffff[0-9a-f]{8} " "$msg"
check_match "...both of them" "run-vm:   vCPU 1: RIP [0-9a-f]{16} " "$msg"
check "...all registers in OUTDIR/cpus.txt" grep -q 'RIP=' "$out/cpus.txt"

# a guest that stops running (its heartbeat stopped here, by hand): stopped
# after --stall seconds of silence, not at the timeout; "STALL" for run-tests
rc=0; t0=$SECONDS
msg=$("$RUNVM" -q --timeout 300 --stall 20 --outdir "$out" -- sh -c 'sleep 1; kill -STOP "$(cat /run/iopmem-heartbeat.pid)"; sleep 600' 2>&1) || rc=$?
check_eq "a guest whose heartbeat stops exits 255" 255 "$rc"
check "...well before its timeout (took $((SECONDS - t0)) s of 300)" test $((SECONDS - t0)) -lt 150
check_match "...saying it stalled, and where its vCPUs were" "run-vm: the guest stalled: no heartbeat for [0-9]+ s.*run-vm:   vCPU 0: RIP " "$(tr '\n' ' ' <<<"$msg")"
check_eq "...qemu.crash says STALL" STALL "$(cat "$out/qemu.crash" 2>/dev/null || true)"
msg=$("$RUNVM" -q --stall soon --outdir "$out" -- true 2>&1) && rc=0 || rc=$?
check_eq "--stall soon: refused (exit 2)" "2 run-vm: --stall needs seconds (0: never)" "$rc $msg"
rc=0; msg=$("$RUNVM" -q --port-device 2>&1) || rc=$?
check_eq "--port-device without SPEC: refused (exit 2)" "2 run-vm: --port-device needs SPEC" "$rc $msg"
rc=0; msg=$("$RUNVM" -q --timeout 90 --stall 15 --outdir "$out" -- sh -c 'sleep 25; echo beat' 2>&1) || rc=$?
check_eq "a guest that only waits (25 s, --stall 15) keeps its heartbeat: not stalled" "0 0" "$rc $(grep -c 'stalled' <<<"$msg" || true)"
check "...its heartbeat is on the status port" grep -qx hb "$out/status"

# A kernel warning on the console fails an otherwise successful command.
# The kernel WARNs once when a task takes the old sysctl path; simpler and
# deterministic: print a line that looks like one into the kernel log.
rc=0; "$RUNVM" -q --outdir "$out" -- sh -c 'echo "WARNING: CPU: 0 PID: 1 at test" >/dev/kmsg' 2>/dev/null || rc=$?
check_eq "warning on the console exits 254" 254 "$rc"
msg=$("$RUNVM" -q --outdir "$out" --kernel 9.9 -- true 2>&1) && rc=0 || rc=$?
check_eq "--kernel 9.9: refused before booting (exit 2)" 2 "$rc"
check_match "...saying which kernels it takes" "KERNEL=9.9: use 6.1, 6.12, 7.2, 7.3, debug, debug-6.1 or a full release" "$msg"
msg=$("$RUNVM" -q --outdir "$out" --kernel 6.1.0-0-nosuch -- true 2>&1) && rc=0 || rc=$?
check_match "--kernel with a release that is not installed: refused" "guest kernel /boot/vmlinuz-6.1.0-0-nosuch not found" "$msg"
rc=0; "$RUNVM" -q --outdir "$out" -- sh -c 'echo "mm/pgtable-generic.c:53: bad pud 00000000c0ffee00(80000001c00008e7)" >/dev/kmsg' 2>/dev/null || rc=$?
check_eq "a 'bad pud' line on the console exits 254" 254 "$rc"
rc=0; "$RUNVM" -q --outdir "$out" -- sh -c 'echo "mm/pgtable-generic.c:41: bad pmd 0000000012345678(8000000123400867)" >/dev/kmsg' 2>/dev/null || rc=$?
check_eq "a 'bad pmd' line on the console exits 254" 254 "$rc"

rc=0; "$RUNVM" -q --outdir "$out" --bar 4M --bar 2M -- \
	sh -c 'cat "$IOPMEM_CARDS" >"$IOPMEM_RESULTS/cards"; printf abc >"$IOPMEM_RESULTS/x"
		cat /proc/sys/kernel/randomize_va_space >"$IOPMEM_RESULTS/aslr"' || rc=$?
check_eq "two-card guest exits 0 (run-vm -- COMMAND: its status)" 0 "$rc"
check_eq "guests map processes at fixed addresses (norandmaps: TCG keeps their translated code)" \
	0 "$(cat "$out/results/aslr")"
check_eq "results come back to the host" abc "$(cat "$out/results/x")"
check_eq "two cards listed" 2 "$(wc -l <"$out/results/cards")"
check_match "card 0: PCI address, host file, size" \
	"^0000:[0-9a-f]{2}:00\.0 $out/card0\.bar 4194304$" "$(head -n1 "$out/results/cards")"
check_eq "card 1 backing file is 2 MiB" 2097152 "$(stat -c %s "$out/card1.bar")"

rc=0; "$RUNVM" -q --outdir "$out" --bar 3M -- true 2>/dev/null || rc=$?
check_eq "non-power-of-two card is refused" 2 "$rc"
rc=0; "$RUNVM" -q --outdir "$out" --bogus -- true 2>/dev/null || rc=$?
check_eq "unknown option is refused" 2 "$rc"
for v in 7000 listen:80 connect:70000 udp:7000 listen: "listen:7000 "; do
	rc=0; msg=$("$RUNVM" -q --outdir "$out" --net-peer "$v" -- true 2>&1) || rc=$?
	check_eq "--net-peer '$v' refused (exit 2, what it wants)" \
		"2 run-vm: --net-peer needs listen:PORT or connect:PORT, PORT a TCP port in 1024-65535" "$rc $msg"
done

# the hot-unplug test's cycle count is validated before it needs a guest
for v in 0 1000 x -3 "" " 5" 5x; do
	# (outside CI's IOPMEM_CI=1, under which a guest test on the host fails)
	o=$(env -u IOPMEM_CI IOPMEM_HOTPLUG_CYCLES="$v" bash "$TOP/tests/guest/iopmem-hotplug.sh" 2>&1) && r=0 || r=$?
	if [ -z "$v" ]; then
		# empty means the default (20): on the host the test skips
		check_eq "IOPMEM_HOTPLUG_CYCLES='' is the default (skips on the host, exit 77)" "77" "$r"
		check_match "...saying it needs the guest" 'SKIP needs the run-vm guest' "$o"
		continue
	fi
	check_eq "IOPMEM_HOTPLUG_CYCLES='$v' refused (exit 1)" 1 "$r"
	check_match "...saying what it wants" "IOPMEM_HOTPLUG_CYCLES is a number of cycles from 1 to 999" "$o"
done

# run-2host: when a fails, b (waiting for ever) is stopped with its QEMU, and
# the status is a's; b's QEMU is found by its outdir on the command line
o2=$(mktemp -d)
rc=0
"$TOP/scripts/qemu/run-2host" -q --outdir "$o2" -- \
	sh -c '[ "$IOPMEM_ROLE" = a ] && exit 3; sleep 500' >/dev/null 2>&1 || rc=$?
check_eq "run-2host: a exits 3, b is stopped: exit 3" 3 "$rc"
sleep 2
check_eq "run-2host: no QEMU of b's is left running" "" "$(pgrep -f -- "$o2/b/" || true)"
check_eq "run-2host: no QEMU of a's is left running" "" "$(pgrep -f -- "$o2/a/" || true)"
check "run-2host: b's console was recorded" grep -q 'Linux version' "$o2/b/console.log"
rm -rf "$o2"

# QEMU dying of a signal: run-vm says so and leaves qemu.crash
o3=$(mktemp -d)
"$RUNVM" -q --outdir "$o3" -- sleep 300 >/dev/null 2>"$o3.err" &
vm=$!
# (once COMMAND runs: a crash before that boots the guest again, above)
for _ in $(seq 300); do grep -qx started "$o3/status" 2>/dev/null && break; sleep 0.2; done
pkill -SEGV -f -- "qemu-system.*$o3/" || true
rc=0; wait "$vm" || rc=$?
check_eq "QEMU killed by SIGSEGV: run-vm exits 255" 255 "$rc"
check_match "...saying that QEMU crashed" "run-vm: QEMU crashed \(SEGV\)" "$(<"$o3.err")"
check_eq "...and qemu.crash names the signal" SEGV "$(cat "$o3/qemu.crash" 2>/dev/null)"
rm -rf "$o3" "$o3.err"

# run-tests and a crashed QEMU (a run-vm stand-in crashes N times with
# signal SIG, after printing OUTPUT and CONSOLE lines, then reports 3 passed
# checks): only a SIGSEGV with nothing wrong before it runs the group
# again, once; anything else fails the group at once, showing the evidence
o4=$(mktemp -d)
mkdir -p "$o4/guest"
printf '#!/bin/bash\n# vm: --bar 4M\ntrue\n' >"$o4/guest/stub.sh"
cat >"$o4/run-vm" <<'STUB'
#!/bin/bash
while [ $# -gt 0 ]; do case $1 in --outdir) out=$2; shift 2 ;; --) break ;; *) shift ;; esac; done
rm -f "$out/qemu.crash"
mkdir -p "$out/results"
n=$(cat "$out/stub.n" 2>/dev/null || echo 0)
echo $((n + 1)) >"$out/stub.n"
read -r crashes sig <"$out/stub.crash"
printf '    # Subtest: stub\n%s\n' "$(cat "$out/stub.output")" >"$out/output.log"
printf 'Linux version x\n%s\n' "$(cat "$out/stub.console")" >"$out/console.log"
if [ "$n" -lt "$crashes" ]; then echo "$sig" >"$out/qemu.crash"; exit 255; fi
echo "3 0 0" >"$out/results/counts"
STUB
chmod +x "$o4/run-vm"
g1=$TOP/build/vm/group1
# stub_run CRASHES SIG OUTPUT CONSOLE: sets o (run-tests' output), rc and
# runs (how many times the group ran)
stub_run() {
	rm -rf "$g1"; mkdir -p "$g1"
	echo "$1 $2" >"$g1/stub.crash"
	echo "$3" >"$g1/stub.output"
	echo "$4" >"$g1/stub.console"
	rc=0; o=$(env -u T -u T_EXCLUDE IOPMEM_RUNVM="$o4/run-vm" "$TOP/tests/run-tests" "$o4/guest/stub.sh" 2>&1) || rc=$?
	runs=$(<"$g1/stub.n")
}
stub_run 1 SEGV "    ok 1 - a" "clean"
check_eq "run-tests: QEMU crashed (SEGV) once, nothing wrong before: the group ran twice, its checks count, exit 0" \
	"2 0 3 passed, 0 failed, 0 skipped" "$runs $rc $(tail -n 1 <<<"$o")"
check_match "...saying so, and which test ran" "guest group 1: QEMU crashed \(SEGV\) while stub ran, with no failed check and a clean console before it: the known emulator crash; the group runs again, once" "$o"
check "...the first run's console kept" grep -q '^clean$' "$g1/console.crash.log"
check "...and its output" grep -q 'ok 1 - a' "$g1/output.crash.log"
stub_run 2 SEGV "    ok 1 - a" "clean"
check_eq "run-tests: QEMU crashed twice: two runs, the group fails" "2 1" "$runs $rc"
check_match "...as not ok" "not ok - guest group 1" "$o"
stub_run 1 SEGV "    not ok 2 - bytes match" "clean"
check_eq "run-tests: a failed check before the crash: one run, the group fails" "1 1" "$runs $rc"
check_match "...saying why, with the check" "QEMU crashed \(SEGV\) while stub ran; not run again: the run had failed before it.*#   output: not ok 2 - bytes match" "$(tr '\n' ' ' <<<"$o")"
stub_run 1 SEGV "    ok 1 - a" "[   9.1] BUG: KASAN: use-after-free in x"
check_eq "run-tests: a kernel report on the console before the crash: one run, the group fails" "1 1" "$runs $rc"
check_match "...showing the report" "#   console: .*BUG: KASAN: use-after-free" "$o"
stub_run 1 STALL "    ok 1 - a" "clean"
check_eq "run-tests: the guest stalled once, nothing wrong before: the group ran twice, exit 0" \
	"2 0 3 passed, 0 failed, 0 skipped" "$runs $rc $(tail -n 1 <<<"$o")"
check_match "...saying so" "guest group 1: the guest stalled \(no heartbeat: its timers or vCPUs stopped\) while stub ran, with no failed check and a clean console before it: the known emulator stall; the group runs again, once" "$o"
stub_run 1 STALL "    ok 1 - a" "[   9.1] INFO: task p2ppin:77 blocked for more than 120 seconds."
check_eq "run-tests: a stall after a hung-task report: one run, the group fails" "1 1" "$runs $rc"
check_match "...saying why" "the guest stalled while stub ran; not run again: the run had failed before it" "$o"
stub_run 1 ABRT "    ok 1 - a" "clean"
check_eq "run-tests: QEMU aborted (an assertion the guest may have provoked): one run, the group fails" "1 1" "$runs $rc"
check_match "...saying why" "QEMU crashed \(ABRT\) while stub ran; not run again: not the known emulator crash" "$o"
rm -rf "$o4" "$g1"

#!/bin/bash
# The test harness fails when it should: tests/common's helpers and
# tests/run-tests, each given a planted fault (a stand-in test, a fake
# kernel log, a missing region).  run-vm's own contract, and run-tests'
# handling of a crashed QEMU, are in run-vm.sh.
. "$(dirname "$0")/../common"

w=$(mktemp -d)
trap 'rc=$?; rm -rf "$w"; (exit "$rc"); t_done' EXIT
# (the runs below must not see the caller's selection: T=harness, CI's
# T_EXCLUDE, KERNEL=debug)
unset T T_EXCLUDE

# sub BODY...: run a test made of BODY (after sourcing tests/common) as its
# own script; sets out (its output) and rc (its exit status)
sub() {
	{
		echo ". '$TOP/tests/common'"
		printf '%s\n' "$@"
	} >"$w/t.sh"
	rc=0
	out=$(env -u IOPMEM_CI bash "$w/t.sh" 2>&1) || rc=$?
}
subci() {
	sub "$@"
	rc=0
	out=$(IOPMEM_CI=1 bash "$w/t.sh" 2>&1) || rc=$?
}

sub 'check "something"'
check_eq "check with no command: the test fails" 1 "$rc"
check_match "...with a not ok naming the bug" "not ok 1 - something.*no command to run" "$(tr '\n' ' ' <<<"$out")"

sub 'msg=$(region_check 0000:ff:1f.7) && echo "consistent" || echo "inconsistent: $msg"'
check_match "region_check of a region that is gone: inconsistent" "^inconsistent: cannot read region" "$out"
sub 'check_region "a step" 0000:ff:1f.7'
check_eq "...and check_region fails the test" 1 "$rc"

sub 'skip_all "needs a thing"'
check_eq "skip_all outside CI: exit 77" 77 "$rc"
subci 'skip_all "needs a thing"'
check_eq "skip_all under CI (IOPMEM_CI=1): the test fails" 1 "$rc"
check_match "...saying what could not run" "not ok 1 - CI runs every test, and this one cannot run: needs a thing" "$out"
subci 'skip_all --here "cannot exist here"'
check_eq "skip_all --here under CI: still a skip (exit 77)" 77 "$rc"

# package.sh's and package-7.3.sh's EXIT traps (they purge, then t_done):
# an abort outside a check fails the test
for p in package package-7.3; do
	tr=$(grep -E "^trap '.*t_done' EXIT" "$TOP/tests/host/$p.sh")
	sub 'purge() { true; }' "$tr" 'check "one" true' 'false' 'check "two" true'
	check_eq "$p.sh's trap: an abort outside a check exits 1" 1 "$rc"
	check_eq "...after the check before it" 1 "$(grep -c '^ok ' <<<"$out")"
done

# the kernel log check, with a fake dmesg: a report after the mark fails the
# test; a log whose mark is gone (the ring buffer wrapped) fails it too
fake_dmesg='dmesg() { cat "'"$w"'/log"; }'
printf '[    1.000001] one\n[    2.000002] two\n' >"$w/log"
sub "$fake_dmesg" 'm=$(dmesg_mark); echo "mark=$m"' \
	"printf '[    3.000003] WARNING: CPU: 0 PID: 1 at x\n' >>'$w/log'" \
	'dmesg_bad_since "$m" && echo bad || echo clean' \
	'dmesg_has "$m" "CPU: 0" && echo has' 'dmesg_has "$m" "two" || echo "not after"'
check_match "dmesg_mark is the last line's timestamp, seen once" "mark=1\|\[    2.000002\]" "$out"
check_match "...a WARNING after it is found" "dmesg: \[    3.000003\] WARNING.*bad" "$(tr '\n' ' ' <<<"$out")"
check_match "...dmesg_has sees lines after the mark, not before" "has not after" "$(tr '\n' ' ' <<<"$out")"
sub "$fake_dmesg" 'm=$(dmesg_mark)' \
	"printf '[    5.5] five\n[    6.6] six\n' >'$w/log'" \
	'dmesg_bad_since "$m" && echo bad || echo clean' 'dmesg_has "$m" six || echo "cannot tell"'
check_match "a log that lost the mark (wrapped) counts as bad" "lost the mark.*bad" "$(tr '\n' ' ' <<<"$out")"
check_match "...and dmesg_has fails" "cannot tell" "$out"
# two lines of one microsecond: the mark counts them, so a line before the
# mark is never read as one after it
printf '[    3.000003] before\n[    3.000003] at the mark\n' >"$w/log"
sub "$fake_dmesg" 'm=$(dmesg_mark); echo "mark=$m"' \
	"printf '[    3.000003] after\n' >>'$w/log'" 'echo "since: $(dmesg_since "$m" | tr "\n" " ")"'
check_match "two lines share the mark's timestamp: the mark says 2" "mark=2\|\[    3.000003\]" "$out"
check_eq "...and only the line after the mark follows it" "since: [    3.000003] after " "$(grep '^since:' <<<"$out")"
# a guest test's own end-of-test check (T_DMESG_MARK, set by guest_only)
printf '[    1.000001] one\n' >"$w/log"
sub "$fake_dmesg" 'T_DMESG_MARK=$(dmesg_mark)' 'check "a check" true' \
	"printf '[    2.0] BUG: Bad page map in process x\n' >>'$w/log'"
check_eq "a test that leaves a kernel report fails" 1 "$rc"
check_match "...on 'kernel log is clean'" "not ok 2 - kernel log is clean" "$out"

# run-tests: a test named on its command line that does not exist fails
# the run; a run of no test fails
rc=0; o=$("$TOP/tests/run-tests" "$TOP/tests/host/no-such-test.sh" 2>&1) || rc=$?
check_eq "run-tests with a test that does not exist: exit 1" 1 "$rc"
check_match "...naming it" "not ok - no test .*no-such-test.sh" "$o"
printf '#!/bin/bash\necho "ok 1 - fine"\n' >"$w/fine.sh"
rc=0; o=$(T_EXCLUDE="fine" "$TOP/tests/run-tests" "$w/fine.sh" 2>&1) || rc=$?
check_eq "run-tests that runs no test (all excluded): exit 1" 1 "$rc"
check_match "...saying so" "not ok - no test ran" "$o"
rc=0; o=$("$TOP/tests/run-tests" "$w/fine.sh" 2>&1) || rc=$?
check_eq "run-tests with one passing test: exit 0, 1 passed" "0 1 passed, 0 failed, 0 skipped" "$rc $(tail -n 1 <<<"$o")"

# bench.sh judges a saved run (IOPMEM_BENCH_OUTPUT): a real 7.3 one passes;
# with a row taken out, or the kernel line changed, it fails
F=$TOP/tests/fixtures/bench-7.3.txt
bench_judge() {
	rc=0
	out=$(env -u KERNEL -u KVER IOPMEM_BENCH_OUTPUT="$1" bash "$TOP/tests/host/bench.sh" 2>&1) || rc=$?
}
bench_judge "$F"
check_eq "bench.sh on a saved 7.3 run: passes" "0 0" "$rc $(grep -c '^not ok' <<<"$out" || true)"
grep -v '^csv,P1,"faults to touch 1024 MiB at align 2M",' "$F" >"$w/b1"
bench_judge "$w/b1"
check_match "...without the P1 row at 2M: fails on it" "not ok [0-9]+ - P1 at 2M counts the same faults" "$out"
grep -v 'min_align 4K region (6.15+' "$F" >"$w/b2"
bench_judge "$w/b2"
check_match "...without 7.3's extra P1 row: fails" "not ok [0-9]+ - P1 rows for a 4K region at 2M: 1 on 7.3" "$out"
sed 's/^kernel 7.3.4+deb13-amd64,/kernel 6.1.0-57-amd64,/' "$F" >"$w/b3"
bench_judge "$w/b3"
check_match "...the same rows said to come from 6.1 (no such row there): fails" \
	"not ok [0-9]+ - P1 rows for a 4K region at 2M: 0 on 6.1" "$out"
grep -v '^csv,P11,' "$F" >"$w/b5"
bench_judge "$w/b5"
check_match "...without the P11 row (dma-buf vs pinned mapping): fails on it" "not ok [0-9]+ - P11: dma-buf and pinned mapping setup" "$out"
grep -v '^kernel ' "$F" >"$w/b4"
bench_judge "$w/b4"
check_match "...without its kernel line: fails" "not ok [0-9]+ - the results name their kernel" "$out"

# perftest: only a connection-setup failure is tried again (peer.sh, bench)
check "perftest: 'Couldn't connect to' is a setup failure (retried)" \
	perftest_retryable " Couldn't connect to 192.0.2.1:18515"
check "...so is a lost socket exchange" perftest_retryable " Failed to exchange data between server and clients"
for o in " Couldn't allocate MR" "failed to create mr" " Completion with error at client" \
	"Unable to mmap '/dev/p2pdax0.1': No such device" $' Failed to exchange data between server and clients\n Completion with error at server'; do
	if perftest_retryable "$o"; then r=retried; else r=fails; fi
	check_eq "perftest: '${o//$'\n'/ + }' fails at once" fails "$r"
done

# tap-run's time limit: a test that hangs is reported (its processes and
# where they wait), killed with the children it started, and failed; the
# next test still runs; a bad limit is refused
printf '#!/bin/bash\necho "ok 1 - before the hang"\nsleep 1000 &\nsleep 1000\n' >"$w/hang.sh"
printf '#!/bin/bash\necho "ok 1 - runs after the hang"\n' >"$w/after.sh"
rc=0
t0=$SECONDS
out=$(TAP_TIME_LIMIT=3 TAP_COUNTS="$w/tap.counts" "$TOP/tests/tap-run" "$w/hang.sh" "$w/after.sh" 2>&1) || rc=$?
check_eq "tap-run: a test that hangs past TAP_TIME_LIMIT fails the run" 1 "$rc"
check "...within the limit and a margin (took $((SECONDS - t0)) s for a 3 s limit)" test $((SECONDS - t0)) -lt 30
check_match "...its processes are named, with where they wait" "# HANG: hang still running after 3 s.*#   *[0-9]+ +[0-9]+ +[A-Z].* sleep 1000" "$(tr '\n' ' ' <<<"$out")"
check_match "...it is failed as killed" "not ok 1 - hang # killed: it hung" "$out"
check_match "...the next test still ran" $'\nok 2 - after(\n|$)' "$out"
check_eq "...the counts: 2 passed, 1 failed" "2 1 0" "$(cat "$w/tap.counts")"
check_eq "...no process of the hung test is left" "" "$(pgrep -f "^sleep 1000$" || true)"
out=$(TAP_TIME_LIMIT=soon "$TOP/tests/tap-run" "$w/after.sh" 2>&1) && rc=0 || rc=$?
check_eq "tap-run: TAP_TIME_LIMIT=soon is refused (exit 2)" 2 "$rc"
check_match "...saying what it takes" "TAP_TIME_LIMIT is a number of seconds, got 'soon'" "$out"

# testbed.rst's example, as written: a guest test with each check's seconds
ex=$(python3 "$TOP/tests/lib/doc-examples.py" "$TOP/Documentation/testbed.rst")
check_eq "testbed.rst has its one example" 1 "$(wc -l <<<"$ex")"
out=$(cd "$TOP" && bash -c "$ex" 2>&1) && rc=0 || rc=$?
check_eq "'$ex': exit 0" 0 "$rc"
check_match "...each check followed by its seconds (T_TIMES=1)" $'ok [0-9]+ - [^\n]*\n *#   \\+[0-9]+\\.[0-9]{3} s' "$out"
# (the guest's console ends its lines with \r\n)
check_match "...and the test passed" $'\n *ok 1 - carve\r?(\n|$)' "$out"

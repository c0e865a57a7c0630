#!/bin/bash
# TAP producer for prove: boots build/esp-test in QEMU with BOOT_SMP CPUs (default 4), passes the
# kernel's KTAP through, and adds three checks: every CPU started ("smp: N of N CPUs started"), no
# benchmark (a bench_ KTEST) ran unless the command line asked for one with ktest=bench_..., and
# QEMU ended through isa-debug-exit with the pass code (33). A hang is a timeout failure, a panic
# the fail code (35); either way the serial log is shown.
set -u
cd "$(dirname "$0")/.."
esp=${ESP:-build/esp-test}
log=$(mktemp /tmp/boot-test.XXXXXX.log)
start=$(date +%s)
smp=${BOOT_SMP:-4}
tools/qemu.sh --esp "$esp" --serial "$log" --timeout "${BOOT_TIMEOUT:-120}" -smp "$smp" ${QEMUFLAGS:-}
rc=$?
secs=$(( $(date +%s) - start ))
tr -d '\r' < "$log" > "$log.txt"
# The kernel's KTAP: from "KTAP version 1" on, minus the summary line (ours are the last three tests).
# Skipped tests stay "ok N name # SKIP reason" lines, which prove counts (make test shows them).
awk '/^KTAP version 1$/ { on = 1; next } on && /^1\.\.[0-9]+$/ { n = substr($0, 4) + 3; print "1.." n; next }
     on && /^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$/ { next } on { print }' "$log.txt" > "$log.tap"
if ! grep -q '^1\.\.' "$log.tap"; then
	echo "1..1"
	echo "not ok 1 - kernel produced no KTAP plan (QEMU exit $rc after ${secs}s)"
	sed 's/^/# /' "$log.txt" | tail -n 60
	rm -f "$log" "$log.txt" "$log.tap"
	exit 1
fi
cat "$log.tap"
n=$(grep -c -E '^(not )?ok ' "$log.tap")
cpus=$(grep -oE '^smp: [0-9]+ of [0-9]+ CPUs started' "$log.txt" | head -n1)
if [ "$cpus" = "smp: $smp of $smp CPUs started" ]; then
	echo "ok $((n + 1)) - all $smp CPUs of QEMU's -smp $smp started"
else
	echo "not ok $((n + 1)) - QEMU ran $smp CPUs; the kernel says: ${cpus:-no smp line}"
	grep '^smp:' "$log.txt" | sed 's/^/# /'
fi
n=$((n + 1))
benches=$(grep -cE '^(not )?ok [0-9]+ bench_' "$log.tap")
if grep -q 'ktest=bench_' "$esp/cmdline.txt" 2>/dev/null || [ "$benches" = 0 ]; then
	echo "ok $((n + 1)) - no benchmark ran unasked ($benches bench_ tests; the command line decides)"
else
	echo "not ok $((n + 1)) - $benches benchmark(s) ran in a boot whose command line asked for none"
	grep -E '^(not )?ok [0-9]+ bench_' "$log.tap" | sed 's/^/# /'
fi
n=$((n + 1))
if [ "$rc" = 33 ]; then
	echo "ok $((n + 1)) - QEMU exited with the pass code after ${secs}s"
else
	why="exit status $rc"; [ "$rc" = 124 ] && why="timeout"
	echo "not ok $((n + 1)) - QEMU did not end with the pass code ($why after ${secs}s)"
	sed 's/^/# /' "$log.txt" | tail -n 60
fi
rm -f "$log" "$log.txt" "$log.tap"

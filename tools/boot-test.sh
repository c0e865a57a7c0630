#!/bin/bash
# TAP producer for prove: boots build/esp-test in QEMU with BOOT_SMP CPUs (default 4), passes the
# kernel's KTAP through, and adds four checks: the results are whole (each number of the plan once,
# in order, and the kernel's "N passed, N failed, N skipped" line counts the same lines), every CPU
# started ("smp: N of N CPUs started"), no benchmark (a bench_ KTEST) ran unless the command line
# asked for one with ktest=bench_..., and QEMU ended through isa-debug-exit with the pass code (33).
# A hang is a timeout failure, a panic the fail code (35); either way the serial log is shown.
# prove counts a "# SKIP" line with no reason, and any "# TODO" line (even "not ok"), as passed: the
# kernel prints neither, so such a result line is passed on as "not ok" naming what was wrong.
# tools/adapter-test.sh runs this script against a fake QEMU (a crash, a hang, a cut or garbled log).
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
# The kernel's KTAP: from "KTAP version 1" on, minus the summary line (ours are the last four tests).
# Skipped tests stay "ok N name # SKIP reason" lines, which prove counts (make test shows them); a
# TODO directive, or a SKIP without its reason, becomes "not ok" (the directive's "#" dropped).
awk '/^KTAP version 1$/ { on = 1; next } on && /^1\.\.[0-9]+$/ { n = substr($0, 4) + 4; print "1.." n; next }
     on && /^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$/ { next }
     on && /^(not )?ok / {
	# prove reads a directive after the first "#" only: SKIP or TODO, any case, then no word character.
	why = ""; at = index($0, "#"); dir = substr($0, at + 1); sub(/^[ \t]*/, "", dir)
	if (at && dir ~ /^[Tt][Oo][Dd][Oo]/ && substr(dir, 5) !~ /^[A-Za-z0-9_]/)
		why = "a TODO directive, which prove counts as passed"
	else if (at && dir ~ /^[Ss][Kk][Ii][Pp]/ && substr(dir, 5) ~ /^[ \t]*$/)
		why = "skipped without a reason"
	if (why != "") {
		head = substr($0, 1, at - 1)
		sub(/^(not )?ok /, "", head)
		print "not ok " head "(" why ")"
		next
	}
     }
     on { print }' "$log.txt" > "$log.tap"
if ! grep -q '^1\.\.' "$log.tap"; then
	echo "1..1"
	echo "not ok 1 - kernel produced no KTAP plan (QEMU exit $rc after ${secs}s)"
	sed 's/^/# /' "$log.txt" | tail -n 60
	rm -f "$log" "$log.txt" "$log.tap"
	exit 1
fi
cat "$log.tap"
n=$(grep -c -E '^(not )?ok ' "$log.tap")
# Whole results: after the one plan, result k is numbered k, k = 1 to the plan's count, and the
# kernel's summary line (once) counts as many passed, failed and skipped lines. A log cut short, a
# line lost, garbled or printed twice fails here by name (prove's plan count fails it as well).
whole=$(awk '/^KTAP version 1$/ { on = 1; next } !on { next }
	/^1\.\.[0-9]+$/ { plans++; plan = substr($0, 4) + 0; next }
	/^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$/ { sums++; sp = $1; sf = $3; ss = ($5 == "" ? 0 : $5); next }
	/^(not )?ok / {
		k++; num = ($1 == "not") ? $3 : $2
		if (num != k "" && !bad) { bad = "result " k " is numbered " num; }
		if ($1 == "not") f++; else if ($0 ~ /#[ \t]*[Ss][Kk][Ii][Pp]/) s++; else p++
	}
	END {
		if (plans != 1) { print plans + 0 " plans"; exit }
		if (k != plan) { print "plan " plan ", " k " results"; exit }
		if (bad) { print bad; exit }
		if (sums != 1) { print sums + 0 " summary lines"; exit }
		if (sp != p + 0 || sf != f + 0 || ss != s + 0)
			print "the summary says " sp " passed, " sf " failed, " ss " skipped; the lines " p + 0 ", " f + 0 ", " s + 0
	}' "$log.txt")
if [ -z "$whole" ]; then
	echo "ok $((n + 1)) - the KTAP results are whole: the plan's numbers once each, in order, as the summary counts"
else
	echo "not ok $((n + 1)) - the KTAP results are not whole: $whole"
fi
n=$((n + 1))
# The bring-up's own line, before the KTAP: tests print lines of the same shape for machines they make up.
cpus=$(awk '/^KTAP version 1$/ { exit } { print }' "$log.txt" | grep -oE '^smp: [0-9]+ of [0-9]+ CPUs started' | head -n1)
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

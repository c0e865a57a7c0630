#!/bin/bash
# TAP: builds the libFuzzer harnesses (make fuzz-build), replays each one's regression inputs
# (tests/fuzz/regressions/<harness>-*) and runs it for a few seconds on its committed corpus; ok
# when nothing crashes, leaks, times out or disagrees with the harness's model.
# FUZZ_SMOKE_SECONDS sets the time per harness (default 4); an input running longer than
# FUZZ_SMOKE_INPUT_TIMEOUT seconds (default 60; every input takes well under one) is a failure,
# not libFuzzer's default 20 minutes of waiting.
set -u
cd "$(dirname "$0")/.."
secs=${FUZZ_SMOKE_SECONDS:-4}
per_input=${FUZZ_SMOKE_INPUT_TIMEOUT:-60}
if ! make -s fuzz-build >/tmp/fuzz-smoke-build.$$ 2>&1; then
	echo "1..1"
	echo "not ok 1 - fuzz harnesses build"
	sed 's/^/# /' /tmp/fuzz-smoke-build.$$ | tail -20
	rm -f /tmp/fuzz-smoke-build.$$
	exit 1
fi
rm -f /tmp/fuzz-smoke-build.$$
n=0; failed=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for f in build/fuzz/fuzz_*; do
	[ -x "$f" ] && [ -f "$f" ] || continue
	h=$(basename "$f")
	mkdir -p "$work/$h"
	regs=(tests/fuzz/regressions/"$h"-*)
	if [ -e "${regs[0]}" ]; then
		n=$((n + 1))
		if "$f" -timeout="$per_input" "${regs[@]}" >"$work/$h-reg.log" 2>&1; then
			echo "ok $n - $h: ${#regs[@]} regression inputs pass"
		else
			failed=$((failed + 1))
			echo "not ok $n - $h: a regression input fails"
			tail -30 "$work/$h-reg.log" | sed 's/^/# /'
		fi
	fi
	n=$((n + 1))
	if "$f" -max_total_time="$secs" -timeout="$per_input" -print_final_stats=1 -artifact_prefix="$work/$h-" \
		"$work/$h" "tests/fuzz/corpus/$h" >"$work/$h.log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$h.log")
		echo "ok $n - $h: ${secs} s, $execs executions, no finding"
	else
		failed=$((failed + 1))
		echo "not ok $n - $h: ${secs} s run failed"
		tail -30 "$work/$h.log" | sed 's/^/# /'
	fi
done
echo "1..$n"
[ "$n" -gt 0 ] && [ "$failed" -eq 0 ]

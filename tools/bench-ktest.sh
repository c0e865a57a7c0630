#!/bin/bash
# Runs one boot benchmark (a KTEST named bench_..., which runs only when ktest= names it): boots the
# test kernel (build/esp-test) once with `onexit=qemu ktest=NAME` and the QEMU arguments given, prints
# the log's lines matching TABLE (an extended regex) and the suite's summary.
#   tools/bench-ktest.sh NAME TABLE NEED [QEMU arguments...]
# Fails unless QEMU ended with the suite passed (exit 33), NAME passed (a skip is no result), a
# line matched NEED (the table's first row) and the summary kept NAME's result lines for the screen
# ("summary: result NAME: ...", what a PC without a serial port shows); it then shows the command
# line's messages, failures, skips and the log's end.
set -eu
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { echo "usage: tools/bench-ktest.sh NAME TABLE NEED [QEMU arguments...]" >&2; exit 2; }
name=$1 table=$2 need=$3
shift 3
src=build/esp-test
esp=$(mktemp -d "/tmp/$name.XXXXXX")
trap 'rm -rf "$esp" "$esp.log"' EXIT
cp -r "$src"/EFI "$src"/kernel.elf "$esp"/
echo "onexit=qemu ktest=$name" > "$esp/cmdline.txt"
set +e
tools/qemu.sh --esp "$esp" --serial "$esp.log" --timeout 300 "$@"
rc=$?
set -e
log=$(tr -d '\r' < "$esp.log")
grep -E "$table" <<< "$log" || true
res=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<< "$log" | tail -1)
echo "${res:-no summary} (exit $rc)"
grep -E "^summary: result $name: " <<< "$log" || true
if [ "$rc" != 33 ] || ! grep -qE "^ok [0-9]+ $name\$" <<< "$log" || ! grep -qE "$need" <<< "$log" ||
   ! grep -qE "^summary: result $name: " <<< "$log"; then
	echo "$name: the boot did not pass, the benchmark skipped, or it printed no table or no result line" \
	     "for the summary screen; the command line's messages, failures, skips and the log's end:" >&2
	grep -E "^(cmdline:|not ok |    # |ok [0-9]+ .* # SKIP)" <<< "$log" >&2 || true
	tail -n 5 <<< "$log" >&2
	exit 1
fi

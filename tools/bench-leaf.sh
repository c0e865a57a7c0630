#!/bin/bash
# Benchmark (not a test): map + unmap of a 2 MiB, 2 MiB-aligned run of frames as one 2 MiB leaf
# against the same 512 frames as 512 4 KiB PTEs, without and with a read of every page, in the
# kernel on its own page tables with real invalidations (tests/boot/test_large.c: bench_large_leaf,
# which runs only when ktest= names it). Boots once with ktest=bench_large_leaf and prints the table
# the kernel writes, the ratios taken in the same boot. One CPU unless BENCH_SMP says otherwise (with
# more, each unmap is also a shootdown round); BENCH_QEMUFLAGS adds QEMU arguments (-cpu max).
# Under QEMU TCG these are TCG numbers: compare them with each other, never with hardware (README
# "2 MiB leaves against 512 PTEs"). Fails, showing the command line's messages, the failures and the
# log's end, when the boot did not pass or printed no table.
set -eu
cd "$(dirname "$0")/.."
src=build/esp-test
esp=$(mktemp -d /tmp/bench-leaf.XXXXXX)
trap 'rm -rf "$esp" "$esp.log"' EXIT
cp -r "$src"/EFI "$src"/kernel.elf "$esp"/
echo 'onexit=qemu ktest=bench_large_leaf' > "$esp/cmdline.txt"
set +e
# shellcheck disable=SC2086
tools/qemu.sh --esp "$esp" --serial "$esp.log" --timeout 300 -smp "${BENCH_SMP:-1}" ${BENCH_QEMUFLAGS:-}
rc=$?
set -e
log=$(tr -d '\r' < "$esp.log")
grep -E '^# (bench_large_leaf|\|)' <<< "$log" || true
res=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<< "$log" | tail -1)
echo "${res:-no summary} (exit $rc)"
if [ "$rc" != 33 ] || ! grep -qE '^ok [0-9]+ bench_large_leaf$' <<< "$log" || ! grep -qE '^# \| 2 MiB leaf \|' <<< "$log"; then
	echo "bench-leaf: the boot did not pass or printed no table; its command-line messages, failures and end:" >&2
	grep -E '^(cmdline:|not ok |    # )' <<< "$log" >&2 || true
	tail -n 5 <<< "$log" >&2
	exit 1
fi

#!/bin/bash
# Benchmark (not a test): the cost of one unmap's TLB shootdown in QEMU with 1, 2 and 4 CPUs online
# (tests/boot/test_shootdown.c: bench_tlb_shootdown, which runs only when ktest= names it). Boots a
# 4-CPU machine with ktest=bench_tlb_shootdown and prints the table the kernel writes, ratios to one
# CPU in the same boot. TCG numbers: comparable only with each other, never with hardware.
set -eu
cd "$(dirname "$0")/.."
src=build/esp-test
esp=$(mktemp -d /tmp/bench-shootdown.XXXXXX)
trap 'rm -rf "$esp" "$esp.log"' EXIT
cp -r "$src"/EFI "$src"/kernel.elf "$esp"/
echo 'onexit=qemu ktest=bench_tlb_shootdown' > "$esp/cmdline.txt"
set +e
tools/qemu.sh --esp "$esp" --serial "$esp.log" --timeout 300 -smp "${BENCH_SMP:-4}"
rc=$?
set -e
tr -d '\r' < "$esp.log" | grep -E '^# (bench_tlb_shootdown|cpus| *[0-9])' || true
res=$(tr -d '\r' < "$esp.log" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
echo "${res:-no summary} (exit $rc)"
[ "$rc" = 33 ]

#!/bin/bash
# Benchmark (not a test): the cost of one unmap's TLB shootdown in QEMU with 1, 2 and 4 CPUs online
# (tests/boot/test_shootdown.c: bench_tlb_shootdown, which runs only when ktest= names it). Boots a
# 4-CPU machine with ktest=bench_tlb_shootdown (tools/bench-ktest.sh) and prints the table the kernel
# writes, ratios to one CPU in the same boot. TCG numbers: comparable only with each other, never
# with hardware.
set -eu
exec "$(dirname "$0")"/bench-ktest.sh bench_tlb_shootdown '^# (bench_tlb_shootdown|cpus| *[0-9])' '^# cpus ' \
	-smp "${BENCH_SMP:-4}"

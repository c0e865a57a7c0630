#!/bin/bash
# Benchmark (not a test): map + unmap of a 2 MiB, 2 MiB-aligned run of frames as one 2 MiB leaf
# against the same 512 frames as 512 4 KiB PTEs, without and with a read of every page, in the
# kernel on its own page tables with real invalidations (tests/boot/test_large.c: bench_large_leaf,
# which runs only when ktest= names it). Boots once (tools/bench-ktest.sh) and prints the table the
# kernel writes, the ratios taken in the same boot. One CPU unless BENCH_SMP says otherwise (with
# more, each unmap is also a shootdown round); BENCH_QEMUFLAGS adds QEMU arguments (-cpu max).
# Under QEMU TCG these are TCG numbers: compare them with each other, never with hardware (README
# "2 MiB leaves against 512 PTEs"). Fails, showing why, when the boot did not pass, the benchmark
# skipped (no 2 MiB-aligned run of frames free) or no table came.
set -eu
# shellcheck disable=SC2086
exec "$(dirname "$0")"/bench-ktest.sh bench_large_leaf '^# (bench_large_leaf|\|)' '^# \| 2 MiB leaf \|' \
	-smp "${BENCH_SMP:-1}" ${BENCH_QEMUFLAGS:-}

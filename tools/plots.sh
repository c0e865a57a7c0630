#!/bin/bash
# make plots: runs the benchmarks in their plotting modes and draws PNGs with gnuplot into docs/:
#   plot-occupancy.png  ns/op and failure % against target occupancy 50..95 %, this allocator beside
#                       the pow2 and tail baselines and the bare loop (bench_buddy sweep)
#   plot-map.png        map and unmap ns per page against pages, beside the raw PTE-store loop
#                       (bench_map sweep)
#   plot-boot.png       boot time and QEMU resident size against RAM (tools/bench-boot.sh)
# The numbers also stay as tables in build/plots/*.txt. Environment: PLOT_STEPS, PLOT_SEEDS (the
# occupancy sweep, 2000000 x 3), PLOT_RAM (RAM sizes booted, "512M 1G 2G 4G 8G 16G").
set -eu
cd "$(dirname "$0")/.."
tools/plot-deps.sh
out=build/plots
mkdir -p "$out" docs
echo "== occupancy sweep (build/plots/occupancy.txt)"
build/bench/bench_buddy sweep "${PLOT_STEPS:-2000000}" "${PLOT_SEEDS:-3}" | tee "$out/occupancy.txt"
echo "== map/unmap by size (build/plots/map.txt)"
build/bench/bench_map sweep | tee "$out/map.txt"
echo "== boot against RAM (build/plots/boot.txt)"
BENCH_RAM="${PLOT_RAM:-512M 1G 2G 4G 8G 16G}" tools/bench-boot.sh | tee "$out/boot.txt"
gnuplot -e "dir='$out'" tools/plots.gp
ls -l docs/plot-*.png

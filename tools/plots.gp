# Plots for make plots (tools/plots.sh); dir = the folder of the benchmark tables.
set terminal pngcairo size 1000,420 font "DejaVu Sans,10"
set grid
set key top left

# ---- occupancy: bench_buddy sweep columns: target, then (ns, fail%, occ%) for buddy, pow2, tail, loop
set output "docs/plot-occupancy.png"
set multiplot layout 1,2 title "System PTE allocator, 1 GiB region, uniform 1..512 pages (bench\\_buddy sweep)"
set xlabel "target occupancy (%)"
set ylabel "ns per operation (median of seeds)"
set xrange [48:97]
set yrange [0:*]
plot dir."/occupancy.txt" using 1:2 with linespoints lw 2 title "this allocator", \
     "" using 1:5 with linespoints title "pow2 baseline", \
     "" using 1:8 with linespoints title "tail baseline", \
     "" using 1:11 with linespoints dt 2 title "loop alone"
set ylabel "allocations refused (%)"
set yrange [0:*]
plot dir."/occupancy.txt" using 1:3 with linespoints lw 2 title "this allocator", \
     "" using 1:6 with linespoints title "pow2 baseline", \
     "" using 1:9 with linespoints title "tail baseline"
unset multiplot

# ---- map/unmap: bench_map sweep columns: pages, map, unmap, raw, ratio
set output "docs/plot-map.png"
set terminal pngcairo size 700,420 font "DejaVu Sans,10"
set title "Map and unmap of a reservation, hosted (bench\\_map sweep)"
set logscale xy
set xrange [0.8:640]
set yrange [*:*]
set xlabel "pages per call"
set ylabel "ns per page (median of 7 timed batches)"
set key top right
plot dir."/map.txt" using 1:2 with linespoints lw 2 title "MmMapLockedPagesWithReservedMapping", \
     "" using 1:3 with linespoints lw 2 title "MmUnmapReservedMapping", \
     "" using 1:4 with linespoints dt 2 title "raw PTE stores, same slots"
unset logscale

# ---- boot: bench-boot.sh columns: RAM, MiB, seconds, kernel seconds, RSS MiB
set output "docs/plot-boot.png"
set title "One boot of the whole suite in QEMU (TCG) against guest RAM (tools/bench-boot.sh)"
set logscale x 2
set xrange [*:*]
set xlabel "guest RAM (MiB)"
set ylabel "wall seconds"
set y2label "QEMU peak resident size (MiB)"
set yrange [0:*]
set y2range [0:*]
set ytics nomirror
set y2tics
set key top left
plot dir."/boot.txt" using 2:3 every ::1 with linespoints lw 2 axes x1y1 title "boot time (s)", \
     "" using 2:4 every ::1 with linespoints lw 2 axes x1y1 title "of it the kernel (s)", \
     "" using 2:5 every ::1 with linespoints lw 2 axes x1y2 title "QEMU RSS (MiB)"

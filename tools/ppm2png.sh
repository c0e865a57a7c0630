#!/bin/sh
# Converts a binary PPM (P6, maxval 255) to a PNG of the same size, pixel for pixel, with gnuplot.
#   tools/ppm2png.sh IN.ppm OUT.png
set -eu
in=$1 out=$2
set -- $(head -c 64 "$in" | tr -s ' \n' '  ' | cut -d' ' -f1-4)
[ "$1" = P6 ] && [ "$4" = 255 ] || { echo "ppm2png.sh: $in is not a P6 PPM with maxval 255" >&2; exit 1; }
w=$2 h=$3
hdr=$(( $(wc -c < "$in") - w * h * 3 ))
gnuplot <<GP
set terminal png size $w,$h
set output "$out"
set margins 0,0,0,0
unset border; unset tics; unset key
set xrange [-0.5:$w-0.5]; set yrange [-0.5:$h-0.5]
plot "$in" binary skip=$hdr array=(${w},${h}) flipy format='%uchar%uchar%uchar' with rgbimage
GP

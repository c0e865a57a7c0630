#!/bin/sh
# Data misses of the last cache level per reserve/free call at 2^18 and 2^22 pages in the steady
# state: why the region's cost grows with its size (issue 13 §3; README "Reserve/free against the
# region's size"). Builds bench_region with a 4 GiB fake physical limit (valgrind cannot reserve
# the usual 65 GiB) and runs one workload's churn (its ops mode) under cachegrind, the last level
# the size of one core's L2 (LL=bytes, default 2 MiB), for N and for 2N steps: the difference
# divided by the difference in calls is the misses of a call once the region has filled, without
# the set-up and the first fill (page tables and metadata made, the machine's RAM zeroed).
#   tools/region-misses.sh [workload 0..3] [N]      (make bench-misses)
set -eu
W=${1:-2}
N=${2:-300000}
LL=${LL:-2097152}
if ! command -v valgrind >/dev/null 2>&1; then
	echo "region-misses: valgrind is not installed; run: apt-get install -y valgrind" >&2
	exit 2
fi
B=build/bench-vg
mkdir -p "$B"
gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -DFAKE_PHYS_LIMIT='(4ULL << 30)' \
	-Iinclude -Iarch/x86_64/include -Imm -Itests/host -Itests/common \
	tests/bench/bench_region.c mm/*.c tests/host/host_support.c tests/host/fake_arch.c \
	tests/host/host_machine.c -o "$B/bench_region"

# run STEPS SHIFT: cachegrind of the churn; leaves $B/cg.STEPS.SHIFT (per function: "misses name")
# and prints its calls.
run() {
	out=$B/cg.$1.$2
	valgrind --tool=cachegrind --cache-sim=yes --LL="$LL,16,64" --cachegrind-out-file="$out" \
		"$B/bench_region" ops "$W" cache "$1" "$2" >"$out.txt" 2>"$out.log"
	cg_annotate --show=DLmr,DLmw "$out" | awk '
		/PROGRAM TOTALS/ { gsub(/\([^)]*\)/, ""); gsub(",", ""); print $1 + $2, "TOTAL"; next }
		/file:function/ { on = 1; next }
		on && /^-+$/ { next }
		on && NF == 0 { exit }
		on { gsub(/\([^)]*\)/, ""); gsub(",", ""); n = split($3, p, "/"); print $1 + $2, p[n] }' >"$out.f"
	sed -n 's/.*: \([0-9]*\) calls.*/\1/p' "$out.txt"
}
echo "# workload $W; last level $LL bytes; its data misses per reserve or free call, calls $N..$((2 * N))"
for z in 18 22; do
	c1=$(run "$N" $z)
	c2=$(run $((2 * N)) $z)
	awk -v z=$z -v c=$((c2 - c1)) '
		FNR == NR { a[$2] = $1; next }
		{ d = ($1 - a[$2]) / c; if ($2 == "TOTAL") t = d; else if (d >= 0.02) f[$2] = d }
		END { printf "2^%s pages: %.2f misses per call\n", z, t; for (k in f) printf "    %5.2f  %s\n", f[k], k }' \
		"$B/cg.$N.$z.f" "$B/cg.$((2 * N)).$z.f" | { read -r head; echo "$head"; sort -rn; }
done

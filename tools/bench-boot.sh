#!/bin/bash
# Benchmark (not a test): one boot of the self-test suite per RAM size (BENCH_RAM, default "2G 16G"),
# printing wall time and QEMU's peak resident size (what the guest touched). Boot cost must not grow
# with RAM. make plots runs it over more sizes and plots the table.
set -eu
cd "$(dirname "$0")/.."
printf "%-6s %8s %10s %14s %s\n" RAM MiB seconds "QEMU RSS MiB" result
for m in ${BENCH_RAM:-2G 16G}; do
	log=$(mktemp /tmp/bench-boot.XXXXXX)
	t0=$(date +%s.%N)
	set +e
	/usr/bin/time -f "%M" -o "$log.rss" tools/qemu.sh --esp build/esp-test --serial "$log" --timeout 120 -m "$m"
	rc=$?
	set -e
	t1=$(date +%s.%N)
	res=$(tr -d '\r' < "$log" | grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' | tail -1)
	mib=$(numfmt --from=iec "$m" | awk '{ printf "%d", $1 / 1048576 }')
	printf "%-6s %8d %10.1f %14d %s (exit %d)\n" "$m" "$mib" "$(echo "$t1 - $t0" | bc)" $(( $(tail -1 "$log.rss") / 1024 )) "${res:-no summary}" "$rc"
	rm -f "$log" "$log.rss"
done

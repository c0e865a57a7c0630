#!/bin/bash
# Benchmark (not a test): one boot of the self-test suite with 2 GiB and with 16 GiB of RAM, printing
# wall time and QEMU's peak resident size (what the guest touched). Boot cost must not grow with RAM.
set -eu
cd "$(dirname "$0")/.."
printf "%-6s %10s %14s %s\n" RAM seconds "QEMU RSS MiB" result
for m in 2G 16G; do
	log=$(mktemp /tmp/bench-boot.XXXXXX)
	t0=$(date +%s.%N)
	set +e
	/usr/bin/time -f "%M" -o "$log.rss" tools/qemu.sh --esp build/esp-test --serial "$log" --timeout 120 -m "$m"
	rc=$?
	set -e
	t1=$(date +%s.%N)
	res=$(tr -d '\r' < "$log" | grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' | tail -1)
	printf "%-6s %10.1f %14d %s (exit %d)\n" "$m" "$(echo "$t1 - $t0" | bc)" $(( $(tail -1 "$log.rss") / 1024 )) "${res:-no summary}" "$rc"
	rm -f "$log" "$log.rss"
done

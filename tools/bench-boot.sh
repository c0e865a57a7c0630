#!/bin/bash
# Benchmark (not a test): one boot of the self-test suite per RAM size (BENCH_RAM, default "2G 16G"),
# printing wall time, the kernel's own part of it (from reset, the firmware's time is most of a boot
# under TCG; the kernel prints its own on the summary line) and QEMU's peak resident size (what the
# guest touched). Boot cost must not grow with RAM. make plots runs it over more sizes and plots the table.
# Then one boot per system PTE region size (BENCH_SYSPTE, default "1G 512G") on a 512 MiB machine
# (BENCH_SYSPTE_RAM): the region's page tables exist only for ranges ever reserved, so boot cost
# must not grow with the region either; each row's ratio is against the first size's row.
set -eu
cd "$(dirname "$0")/.."

# Boots ESP $1 with -m $2; sets secs, ksecs (the kernel's seconds, or 0 when it printed none), rss
# (MiB), res (the suite's summary) and rc.
boot() {
	local log t0 t1
	log=$(mktemp /tmp/bench-boot.XXXXXX)
	t0=$(date +%s.%N)
	set +e
	/usr/bin/time -f "%M" -o "$log.rss" tools/qemu.sh --esp "$1" --serial "$log" --timeout 120 -m "$2"
	rc=$?
	set -e
	t1=$(date +%s.%N)
	secs=$(echo "$t1 - $t0" | bc)
	rss=$(( $(tail -1 "$log.rss") / 1024 ))
	res=$(tr -d '\r' < "$log" | grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' | tail -1)
	res=${res:-no summary}
	ksecs=$(tr -d '\r' < "$log" | sed -n 's/^summary: boot .* s since reset, kernel \([0-9.]*\) s$/\1/p' | tail -1)
	ksecs=${ksecs:-0}
	rm -f "$log" "$log.rss"
}

printf "%-6s %8s %10s %8s %14s %s\n" RAM MiB seconds kernel "QEMU RSS MiB" result
for m in ${BENCH_RAM:-2G 16G}; do
	boot build/esp-test "$m"
	mib=$(numfmt --from=iec "$m" | awk '{ printf "%d", $1 / 1048576 }')
	printf "%-6s %8d %10.1f %8.2f %14d %s (exit %d)\n" "$m" "$mib" "$secs" "$ksecs" "$rss" "$res" "$rc"
done

ram=${BENCH_SYSPTE_RAM:-512M}
echo
printf "%-14s %6s %10s %9s %14s %9s %s\n" syspte RAM seconds "x first" "QEMU RSS MiB" "x first" result
esp=$(mktemp -d /tmp/bench-boot-esp.XXXXXX)
trap 'rm -rf "$esp"' EXIT
cp -r build/esp-test/EFI build/esp-test/kernel.elf "$esp"/
secs0="" rss0=""
for s in ${BENCH_SYSPTE:-1G 512G}; do
	echo "onexit=qemu syspte=$s ${CMDLINE:-}" > "$esp/cmdline.txt"
	boot "$esp" "$ram"
	[ -n "$secs0" ] || { secs0=$secs; rss0=$rss; }
	printf "%-14s %6s %10.1f %9.2f %14d %9.2f %s (exit %d)\n" "syspte=$s" "$ram" "$secs" \
		"$(echo "$secs / $secs0" | bc -l)" "$rss" "$(echo "$rss / $rss0" | bc -l)" "$res" "$rc"
done

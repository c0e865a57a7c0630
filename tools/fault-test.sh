#!/bin/bash
# TAP: boots the kernel once per deliberate failure (crashtest=) and checks that the report says
# what happened and that QEMU ends with the expected code (35 fail, 33 pass). Never hangs: each
# boot runs under a timeout. Usage: tools/fault-test.sh [case...] (default: every case); with
# FAULT_TEST_LOGS=DIR each case's serial log is kept as DIR/<case>.log.
#
# Each failing case's report (from its STOP or KERNEL PANIC header to its closing line) must also
# be whole and fit the console: one header, the closing line the kernel prints before QEMU exits,
# and no line wider than KPRINTF_SCREEN_COLS (include/kprintf.h).
set -u
cd "$(dirname "$0")/.."
src=build/esp-test
[ -f "$src/kernel.elf" ] && [ -f "$src/EFI/BOOT/BOOTX64.EFI" ] || {
	echo "Bail out! no test image in $src: run make $src/kernel.elf (make test does)"; exit 2; }
cols=$(sed -n 's/^#define KPRINTF_SCREEN_COLS \([0-9][0-9]*\).*/\1/p' include/kprintf.h)
[ -n "$cols" ] || { echo "fault-test: no KPRINTF_SCREEN_COLS in include/kprintf.h" >&2; exit 2; }
header='^\*\*\* (KERNEL PANIC at |STOP: 0x)'
closing='*** End of the fatal report; exiting QEMU.'
# name | exit code | QEMU arguments | strings the log must hold ("!..." strings it must not)
cases=(
	"panic|35||KERNEL PANIC at kernel/crashtest.c|crash test requested|Backtrace:|crashtest_run"
	# Before the allocator, the kernel's page tables and the console: the report is whole all the same.
	"early|35||KERNEL PANIC at kernel/crashtest.c|crashtest=early|Backtrace:|crashtest_run_early|!System halted"
	# After the kernel's page tables and the loader's memory reclaimed, before the console: the same.
	"reclaim|35||KERNEL PANIC at kernel/crashtest.c|crashtest=reclaim|Backtrace:|crashtest_run_reclaim|!System halted"
	# The ACPI premap left out: mm_init finds the direct map unsealed and ends the boot before the
	# region exists, naming the premap (the seal is what keeps a device page out of the direct map).
	"unsealed|35||KERNEL PANIC at kernel/mminit.c|sysinfo_dmap_seal()->sealed' failed: the direct map must be|sealed (sysinfo_acpi_premap) before mm_init|mm_init+|!syspte: region"
	"pf|35||KMODE_EXCEPTION_NOT_HANDLED|#PF page fault|read of address 0x000000000dead000|CR2 000000000dead000|crashtest_read_unmapped"
	"reserved|35||PAGE_FAULT_IN_NONPAGED_AREA|of reservation base 0xffffc0|3 pages, tag 'Crsh'|crashtest_touch_reserved"
	"stack|35||#DF double fault|RSP|Backtrace:"
	"bugcheck|35||STOP: 0x000000DA SYSTEM_PTE_MISUSE|0x0000000000000102|not the start of a live reservation"
	"nmi|33||NMI received|unexpected interrupt vector 64|survived an NMI|passed, 0 failed"
	# CPU 1 fails, then CPU 0 while CPU 1's report waits for the console CPU 0 holds: the report
	# is CPU 1's, whole, and names CPU 0's failure in one line; CPU 0 prints nothing of its own.
	"panic2|35|-smp 2|crash test: the first fatal error, on CPU 1|*** CPU 0: fatal error while CPU 1 reports one; stopped|Backtrace:|!a second fatal error|!nested fatal error"
	# CPU 1 fails, then CPU 0 ends the machine as a passed suite would, during CPU 1's report: CPU 0
	# stops, named nowhere (it had no error), and the report is CPU 1's, whole.
	"finish2|35|-smp 2|crash test: a fatal error on CPU 1 while the boot CPU ends the machine|Backtrace:|!CPU 0: fatal error|!fatal errors while|!nested fatal error|!System halted"
	# The framebuffer unmapped, then a line printed: a page fault inside the console's screen write.
	# The report cannot use the screen and must come out whole on serial, not end as a nested error.
	"screen|35||framebuffer unmapped at|the framebuffer no longer takes writes: this report is on serial only|KMODE_EXCEPTION_NOT_HANDLED|#PF page fault|write of address|at fbcon_|Backtrace:|!nested fatal error|!needs a framebuffer console"
)
if [ $# -gt 0 ]; then
	picked=()
	for want in "$@"; do
		for c in "${cases[@]}"; do [ "${c%%|*}" = "$want" ] && picked+=("$c"); done
	done
	[ ${#picked[@]} = $# ] || { echo "fault-test: unknown case among: $*" >&2; exit 2; }
	cases=("${picked[@]}")
fi

# Prints what is wrong with the fatal report in log (nothing when it is whole and fits cols).
report_problems() {
	local log=$1 heads first last
	heads=$(grep -cE "$header" "$log")
	[ "$heads" = 1 ] || { echo -n " [$heads report headers, want 1]"; return; }
	first=$(grep -nE "$header" "$log" | cut -d: -f1)
	last=$(grep -nxF -- "$closing" "$log" | cut -d: -f1 | head -n 1)
	[ -n "$last" ] && [ "$last" -gt "$first" ] || { echo -n " [no closing line after the header]"; return; }
	sed -n "${first},${last}p" "$log" | awk -v cols="$cols" -v from="$first" '
		length($0) > cols { printf " [line %d is %d columns: %s]", from + NR - 1, length($0), $0 }'
}

echo "1..${#cases[@]}"
n=0
for c in "${cases[@]}"; do
	n=$((n + 1))
	IFS='|' read -r -a f <<< "$c"
	name=${f[0]} want=${f[1]}
	read -r -a qemu_args <<< "${f[2]}"
	esp=$(mktemp -d /tmp/fault-esp.XXXXXX)
	cp -r "$src"/EFI "$src"/kernel.elf "$esp"/
	echo "onexit=qemu crashtest=$name" > "$esp/cmdline.txt"
	log=$esp.log
	tools/qemu.sh --esp "$esp" --serial "$log" --timeout 90 "${qemu_args[@]}"
	rc=$?
	tr -d '\r' < "$log" > "$log.txt"
	problems=""
	# A case that asks QEMU for its CPUs fails when they did not all come up: a SKIP would pass
	# it exactly when the bring-up it stands on is broken.
	grep -q "crashtest: $name needs two CPUs online" "$log.txt" && problems=" [only one CPU came up (QEMU ${f[2]})]"
	for s in "${f[@]:3}"; do
		if [ "${s:0:1}" = "!" ]; then
			grep -qF -- "${s:1}" "$log.txt" && problems="$problems [present: ${s:1}]"
		else
			grep -qF -- "$s" "$log.txt" || problems="$problems [missing: $s]"
		fi
	done
	[ "$want" = 35 ] && problems="$problems$(report_problems "$log.txt")"
	if [ "$rc" = "$want" ] && [ -z "$problems" ]; then
		echo "ok $n - crashtest=$name: exit $rc and a report naming the failure"
	else
		echo "not ok $n - crashtest=$name: exit $rc (want $want),$problems"
		sed 's/^/# /' "$log.txt" | tail -n 40
	fi
	[ -n "${FAULT_TEST_LOGS:-}" ] && mkdir -p "$FAULT_TEST_LOGS" && cp "$log.txt" "$FAULT_TEST_LOGS/$name.log"
	rm -rf "$esp" "$log" "$log.txt"
done

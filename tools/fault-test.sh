#!/bin/bash
# TAP: boots the kernel once per deliberate failure (crashtest=) and checks that the report says
# what happened and that QEMU ends with the expected code (35 fail, 33 pass). Never hangs: each
# boot runs under a timeout.
set -u
cd "$(dirname "$0")/.."
src=build/esp-test
cases=(
	"panic|35|KERNEL PANIC at kernel/crashtest.c|crash test requested|Backtrace:|crashtest_run"
	"pf|35|KMODE_EXCEPTION_NOT_HANDLED|#PF page fault|read of address 0x000000000dead000|CR2 000000000dead000|crashtest_read_unmapped"
	"reserved|35|PAGE_FAULT_IN_NONPAGED_AREA|of reservation base 0xffffc0|3 pages, tag 'Crsh'|crashtest_touch_reserved"
	"stack|35|#DF double fault|RSP|Backtrace:"
	"bugcheck|35|STOP: 0x000000DA SYSTEM_PTE_MISUSE|0x0000000000000102|not the start of a live reservation"
	"nmi|33|NMI received|unexpected interrupt vector 64|survived an NMI|passed, 0 failed"
)
echo "1..${#cases[@]}"
n=0
for c in "${cases[@]}"; do
	n=$((n + 1))
	IFS='|' read -r -a f <<< "$c"
	name=${f[0]} want=${f[1]}
	esp=$(mktemp -d /tmp/fault-esp.XXXXXX)
	cp -r "$src"/EFI "$src"/kernel.elf "$esp"/
	echo "onexit=qemu crashtest=$name" > "$esp/cmdline.txt"
	log=$esp.log
	tools/qemu.sh --esp "$esp" --serial "$log" --timeout 90
	rc=$?
	tr -d '\r' < "$log" > "$log.txt"
	missing=""
	for s in "${f[@]:2}"; do grep -qF -- "$s" "$log.txt" || missing="$missing [$s]"; done
	if [ "$rc" = "$want" ] && [ -z "$missing" ]; then
		echo "ok $n - crashtest=$name: exit $rc and a report naming the failure"
	else
		echo "not ok $n - crashtest=$name: exit $rc (want $want), missing:$missing"
		sed 's/^/# /' "$log.txt" | tail -n 40
	fi
	rm -rf "$esp" "$log" "$log.txt"
done

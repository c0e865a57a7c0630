#!/bin/bash
# TAP: a ragged memory map at boot. Boots, once, the test loader build/tail/BOOTX64.EFI (the
# loader's sources built with LOADER_TEST_MAP_TAIL=8, mk/loader.mk), which hands over the firmware's
# final map 8 bytes longer than its whole descriptors, as some firmware reports it, with the
# build's kernel.elf and its whole suite (onexit=qemu, RAGGED_SMP CPUs, default 2). Checks: the
# kernel names the cut on serial (bytes, descriptors, stride, the 8 bytes more), its
# mmap_cut_report_shown_on_screen test saw the same line reach the screen in full, and the suite
# passed (QEMU's exit 33). RAGGED_TIMEOUT bounds the boot (default 240 s).
set -u
cd "$(dirname "$0")/.."
source tools/loader-boot-lib.sh
efi=build/tail/BOOTX64.EFI kernel=build/kernel.elf tail_bytes=8
tmp=$(mktemp -d /tmp/ragged-map-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "1..4"
if ! make -s "$efi" "$kernel" > "$tmp/build" 2>&1; then
	echo "not ok 1 - build the test loader ($efi) and the kernel"
	tail -n 20 "$tmp/build" | sed 's/^/# /'
	exit 1
fi
echo "ok 1 - the test loader ($efi) and the kernel are built"
loader_boot_esp "$tmp/esp" "$efi" "$kernel"
start=$SECONDS
loader_boot_run "$tmp/esp" "${RAGGED_TIMEOUT:-240}" "$tmp/log" -smp "${RAGGED_SMP:-2}"
rc=$?
# The kernel's line: "memory map: N bytes from the firmware are W descriptors of S bytes and 8 bytes more: ..."
read -r bytes whole stride more < <(sed -n 's/^memory map: \([0-9]*\) bytes from the firmware are \([0-9]*\) descriptors of \([0-9]*\) bytes and \([0-9]*\) bytes more: .*/\1 \2 \3 \4/p' "$tmp/log" | head -n 1)
if [ -n "${bytes:-}" ] && [ "$more" = "$tail_bytes" ] && [ "$whole" -gt 0 ] && [ $((whole * stride + more)) = "$bytes" ] &&
	grep -q "^memory map: $whole descriptors of $stride bytes$" "$tmp/log"; then
	echo "ok 2 - the kernel names the cut on serial: $bytes bytes are $whole descriptors of $stride bytes and $more bytes more, and reads the $whole"
else
	echo "not ok 2 - no line naming the cut of $tail_bytes bytes (or its counts disagree: ${bytes:-none} ${whole:-} ${stride:-} ${more:-})"
	grep -E '^(memory map|phys|rmkernel)' "$tmp/log" | head -n 10 | sed 's/^/# /'
fi
# The suite's test: "# mmapcut: N bytes, W descriptors, 8 bytes more; R bytes of report, R on the screen"
read -r report screen < <(sed -n 's/^# mmapcut: .* bytes more; \([0-9]*\) bytes of report, \([0-9]*\) on the screen$/\1 \2/p' "$tmp/log" | head -n 1)
if [ -n "${report:-}" ] && [ "$report" -gt 0 ] && [ "$report" = "$screen" ] &&
	grep -qE '^ok [0-9]+ mmap_cut_report_shown_on_screen$' "$tmp/log"; then
	echo "ok 3 - the cut's line reached the screen in full ($screen bytes; mmap_cut_report_shown_on_screen passed)"
else
	echo "not ok 3 - the cut's line on the screen: ${screen:-none} of ${report:-no} bytes"
	grep -E 'mmapcut|mmap_cut_report' "$tmp/log" | head -n 5 | sed 's/^/# /'
fi
if [ "$rc" = 33 ] && grep -q '^SELF-TEST PASSED' "$tmp/log"; then
	echo "ok 4 - the suite passed on the ragged map ($((SECONDS - start)) s, QEMU exit $rc)"
else
	echo "not ok 4 - the suite on the ragged map: QEMU exit $rc after $((SECONDS - start)) s"
	grep -E '^not ok|PANIC|panic|SELF-TEST' "$tmp/log" | head -n 20 | sed 's/^/# /'
	tail -n 20 "$tmp/log" | sed 's/^/# /'
fi

#!/bin/bash
# TAP: the loader on firmware that behaves as PCs do and OVMF does not. Boots, once, the test loader
# build/hostile/BOOTX64.EFI (the loader's sources built with LOADER_TEST_HOSTILE_FW, mk/loader.mk),
# which wraps OVMF's services: GetMemoryMap leaves DescriptorSize unwritten when it returns
# EFI_BUFFER_TOO_SMALL (UEFI does not promise it there), and the boot volume's files fail a Read of
# more than 1 MiB and leave a destination reaching above 4 GiB unwritten while reporting success
# (boot/loader.c, hostile_*). With the build's kernel.elf and its whole suite (onexit=qemu, 6 GiB,
# one CPU). Checks: the test loader carries the wrappers and the real one does not; the loader's
# report on the firmware console (serial) shows the sizing call answered without DescriptorSize and
# no Read refused or dropped (OVMF places the file buffers below 4 GiB, so the last wrapper is held
# by tests/host/test_loader_fileio.c), and its line naming the kernel, never "boot aborted"; the
# suite passed (QEMU's exit 33). HOSTILE_TIMEOUT bounds the boot (default 120 s; one that passes
# takes about 6 s, a refusal runs into it in the firmware's shell).
set -u
cd "$(dirname "$0")/.."
source tools/loader-boot-lib.sh
efi=build/hostile/BOOTX64.EFI kernel=build/kernel.elf real=build/BOOTX64.EFI
tmp=$(mktemp -d /tmp/hostile-fw-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "1..4"
if ! make -s "$efi" "$kernel" "$real" > "$tmp/build" 2>&1; then
	echo "not ok 1 - build the test loader ($efi), the loader and the kernel"
	tail -n 20 "$tmp/build" | sed 's/^/# /'
	exit 1
fi
echo "ok 1 - the test loader ($efi), the loader and the kernel are built"
# "hostile firmware" in UTF-16, as the loader's CHAR16 strings hold it (each . a NUL byte)
pat="h.o.s.t.i.l.e. .f.i.r.m.w.a.r.e"
if LC_ALL=C grep -qa "$pat" "$efi" && ! LC_ALL=C grep -qa "$pat" "$real"; then
	echo "ok 2 - the test loader wraps the firmware's services; the real loader ($real) does not"
else
	echo "not ok 2 - the hostile-firmware wrappers: want them in $efi only"
fi
loader_boot_esp "$tmp/esp" "$efi" "$kernel"
loader_boot_run "$tmp/esp" "${HOSTILE_TIMEOUT:-120}" "$tmp/log" -smp 1 -m 6G
rc=$?
# "loader: test loader: hostile firmware: U sizing calls without DescriptorSize, R Reads" and on the
# next line "        over 1 MiB refused, D Reads above 4 GiB dropped, highest Read byte H."
read -r unsaid refused < <(sed -n 's/^loader: test loader: hostile firmware: \([0-9]*\) sizing calls without DescriptorSize, \([0-9]*\) Reads$/\1 \2/p' "$tmp/log" | head -n 1)
read -r dropped highest < <(sed -n 's/^ *over 1 MiB refused, \([0-9]*\) Reads above 4 GiB dropped, highest Read byte \([0-9A-Fa-f]*\)\.$/\1 \2/p' "$tmp/log" | head -n 1)
if [ -n "${unsaid:-}" ] && [ "$unsaid" -gt 0 ] && [ "${refused:-x}" = 0 ] && [ "${dropped:-x}" = 0 ] &&
	grep -q '^loader: kernel .* map_top ' "$tmp/log" && ! grep -q '^loader: boot aborted' "$tmp/log"; then
	echo "ok 3 - the loader read the map without DescriptorSize from $unsaid sizing call(s), kernel.elf in Reads of 1 MiB at most (highest byte 0x$highest), and went on to the kernel"
else
	echo "not ok 3 - the loader's report: ${unsaid:-no} sizing calls without DescriptorSize, ${refused:-?} Reads over 1 MiB refused, ${dropped:-?} dropped above 4 GiB; or it stopped before the kernel"
	grep -a '^loader: \|^        ' "$tmp/log" | head -n 12 | sed 's/^/# /'
fi
if [ "$rc" = 33 ] && grep -q 'SELF-TEST PASSED' "$tmp/log"; then
	echo "ok 4 - the suite passed on the hostile firmware (exit 33)"
else
	echo "not ok 4 - the suite did not pass (QEMU exit $rc)"
	tail -n 15 "$tmp/log" | sed 's/^/# /'
fi

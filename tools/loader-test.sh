#!/bin/bash
# TAP: the loader refuses a bad boot volume with a message a person can act on and returns to the
# firmware (never a hang, never a jump into garbage). Boots an ESP per case and reads the firmware
# console on serial. Malformed kernels come from build/kernel.elf through build/tools/elf-mutate
# (the case catalogue tests/host/elf_cases.h, which also checks each verdict with the loader's own
# elf_check before the boot). A case passes when the serial log shows the expected message, the
# loader's "boot aborted", then the firmware's own report that the boot option returned with the
# expected status (BdsDxe: failed to start ...), and no kernel output. A kernel of another build
# (its boot-information note of another version) is one case: the loader must say so on the
# firmware console before ExitBootServices. The first line boots nothing: the build's own
# kernel.elf must pass elf_check. QEMU runs with -icount (virtual time that does not wait for the
# wall clock), so the loader's 5-second pause passes at once; QEMU is stopped as soon as the
# firmware's line reporting the return has reached its status (or after a timeout).
set -u
cd "$(dirname "$0")/.."
kernel=build/kernel.elf efi=build/BOOTX64.EFI mutate=build/tools/elf-mutate
version=$(awk '$1 == "#define" && $2 == "BOOTINFO_VERSION" { print $3 }' include/bootinfo.h)
# name|how the ESP's kernel.elf is made|firmware status|expected text... ("accepted": no boot, the
# build's own kernel.elf must pass the loader's checks, its boot-information note included)
cases=(
	"this build's kernel.elf passes the loader's checks|accepted|-"
	"missing kernel|none|Not Found|kernel.elf not found on the boot volume|Copy the kernel to the root"
	"garbage file|garbage|Load Error|no ELF magic (not an ELF file)"
	"i386 machine|machine|Load Error|machine is not EM_X86_64 (62) [e_machine = 0x3]"
	"truncated file|truncated|Load Error|file bytes lie outside the file (truncated file?) (program header 3)"
	"overlapping segments|overlap|Load Error|two PT_LOAD segments overlap in memory (program headers 0 and 1)"
	"entry point in .bss|entry_bss|Load Error|the entry point lies in the zero-filled part of its segment (past p_filesz, like .bss) (program header 2)|set the entry point to code, not to .bss"
	"entry point in a segment without file bytes|entry_no_file|Load Error|the entry point lies in a segment with no file bytes (p_filesz is 0) (program header 0)"
	"e_phentsize not 56|phentsize_large|Load Error|e_phentsize is not 56, the size of an ELF64 program header [e_phentsize = 0x40]"
	"writable and executable segment|wx_data|Load Error|a PT_LOAD segment is both writable and executable (program header 2) [p_flags = 0x7]|put code and writable data in separate segments"
	"position-independent executable|type_dyn|Load Error|type is not ET_EXEC (a relocatable object, or a position-independent executable?) [e_type = 0x3]|link a static, non-PIE executable"
	"segment below the kernel window|below_window|Load Error|a PT_LOAD segment lies outside the kernel window 0xffffffff80000000..0xfffffffffffff000 (program header 1)"
	"1.5 GiB of .bss on 512 MiB|ok_huge_bss|Out of Resources|KiB for the kernel image: Out of Resources.|Give the machine more memory"
	"kernel of another build (boot information version $((version + 1)))|note_version_newer|Load Error|\\kernel.elf does not fit this loader (\\EFI\\BOOT\\BOOTX64.EFI).|The kernel takes boot information version $((version + 1)), this loader version $version:|they come from different builds.|What to do: copy BOOTX64.EFI and kernel.elf from the same build."
)
if ! make -s "$mutate" "$kernel" "$efi" >/tmp/loader-test-build.$$ 2>&1; then
	echo "1..1"
	echo "not ok 1 - build the loader, the kernel and elf-mutate"
	sed 's/^/# /' /tmp/loader-test-build.$$ | tail -20
	rm -f /tmp/loader-test-build.$$
	exit 1
fi
rm -f /tmp/loader-test-build.$$
# run_case N CASE: boots case number N and prints its TAP line (and the log when it fails).
run_case() {
	local n=$1 c=$2 f name how status started esp log pid problem missing want s abort_line fw_line
	IFS='|' read -r -a f <<< "$c"
	name=${f[0]} how=${f[1]} status=${f[2]} started=$SECONDS
	if [ "$how" = accepted ]; then
		if problem=$("$mutate" --check "$kernel" 2>&1); then
			echo "ok $n - $name ($problem)"
		else
			echo "not ok $n - $name: $problem"
		fi
		return
	fi
	esp=$(mktemp -d /tmp/loader-esp.XXXXXX)
	log=$esp.log
	mkdir -p "$esp/EFI/BOOT"
	cp "$efi" "$esp/EFI/BOOT/BOOTX64.EFI"
	echo "onexit=qemu" > "$esp/cmdline.txt"
	problem=""
	case $how in
	none) ;;
	garbage) yes "this is not a kernel" | head -c 8192 > "$esp/kernel.elf" ;;
	*) "$mutate" "$kernel" "$how" "$esp/kernel.elf" > "$log.mutate" 2>&1 || problem="elf-mutate $how failed: $(cat "$log.mutate")" ;;
	esac
	: > "$log"
	if [ -z "$problem" ]; then
		# Own session, so the whole QEMU process group can be stopped by its leader's id.
		setsid tools/qemu.sh --esp "$esp" --serial "$log" --timeout 60 -icount shift=7,sleep=off 2>"$log.err" &
		pid=$!
		# Up to 60 s: stop once the firmware's line reporting the return has reached the expected
		# status (the status ends the line), or has another line after it (another status: the checks
		# below fail the case), without running the firmware on past it.
		for _ in $(seq 1 600); do
			grep -qaE "BdsDxe: failed to start Boot[0-9A-F]{4} .*: $status" "$log" 2>/dev/null && break
			awk '/BdsDxe: failed to start Boot/ { f = 1; next } f { n = 1; exit } END { exit !n }' "$log" 2>/dev/null && break
			kill -0 $pid 2>/dev/null || break
			sleep 0.1
		done
		kill -TERM -- -$pid 2>/dev/null
		wait $pid 2>/dev/null
	fi
	tr -d '\r' < "$log" | sed 's/\x1b\[[0-9;=]*[A-Za-z]//g' > "$log.txt"
	missing=$problem
	want=("${f[@]:3}" "boot aborted ($status)" "Returning to the firmware")
	[ "$status" = "Load Error" ] && want+=("What to do: ")
	# A kernel of another build is no ELF to rebuild: the loader says to copy both files of one build.
	case $how in
	note_missing | note_version* | note_size) ;;
	*) [ "$status" = "Load Error" ] && want+=("Rebuild the kernel") ;;
	esac
	for s in "${want[@]}"; do
		grep -qF -- "$s" "$log.txt" || missing="$missing [$s]"
	done
	# The firmware's own line, after the loader gave up: the loader really returned, with its status.
	abort_line=$(grep -n "boot aborted" "$log.txt" | head -1 | cut -d: -f1)
	fw_line=$(grep -nE "BdsDxe: failed to start Boot[0-9A-F]{4} .*: $status\$" "$log.txt" | head -1 | cut -d: -f1)
	if [ -z "$fw_line" ] || [ -z "$abort_line" ] || [ "$fw_line" -le "$abort_line" ]; then
		missing="$missing [firmware: failed to start ...: $status, after the loader's message]"
	fi
	grep -q "rmkernel: booting" "$log.txt" && missing="$missing [the kernel must not have started]"
	if [ -z "$missing" ]; then
		echo "ok $n - $name: the loader explains and returns to the firmware ($((SECONDS - started)) s)"
	else
		echo "not ok $n - $name: missing$missing"
		sed 's/^/# /' "$log.txt" | grep -v "^# $" | tail -n 30
	fi
	rm -rf "$esp" "$log" "$log.txt" "$log.mutate" "$log.err"
}

# The cases run LOADER_TEST_JOBS at a time (default 2: each boot is one QEMU thread, mostly the
# firmware's own start), their lines printed in order once all are done.
# shellcheck source=tools/tap-cases.sh
. tools/tap-cases.sh
tap_run_cases "${LOADER_TEST_JOBS:-2}" run_case "${cases[@]}"

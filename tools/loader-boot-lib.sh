# Sourced (from the repository's top) by the scripts that boot a test loader once per case with the
# build's kernel: tools/hostile-fw-test.sh, tools/ragged-map-test.sh, tools/badgeom-map-test.sh.
# The ESP they boot is the one a person's stick holds (\EFI\BOOT\BOOTX64.EFI, \kernel.elf,
# \cmdline.txt) with the kernel told to leave QEMU through isa-debug-exit (onexit=qemu).

# Makes directory $1 an ESP holding loader $2 and kernel $3, its cmdline.txt "onexit=qemu".
loader_boot_esp() {
	local esp=$1 efi=$2 kernel=$3
	mkdir -p "$esp/EFI/BOOT" || return 1
	cp "$efi" "$esp/EFI/BOOT/BOOTX64.EFI" && cp "$kernel" "$esp/kernel.elf" &&
		echo "onexit=qemu" > "$esp/cmdline.txt"
}

# Boots ESP $1 in QEMU for at most $2 seconds with QEMU options $4...; the serial output, carriage
# returns dropped, lands in $3 (the raw output in $3.raw). Returns QEMU's exit status (33: the
# kernel's suite passed).
loader_boot_run() {
	local esp=$1 timeout=$2 log=$3 rc
	shift 3
	tools/qemu.sh --esp "$esp" --serial "$log.raw" --timeout "$timeout" "$@"
	rc=$?
	tr -d '\r' < "$log.raw" > "$log"
	return "$rc"
}

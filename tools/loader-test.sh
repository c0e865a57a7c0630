#!/bin/bash
# TAP: the loader refuses a bad boot volume with a message a person can act on and returns to the
# firmware (never a hang, never a jump into garbage). Boots an ESP per case and reads the firmware
# console on serial; QEMU is stopped as soon as the loader has returned (or after a timeout).
set -u
cd "$(dirname "$0")/.."
kernel=build/kernel.elf efi=build/BOOTX64.EFI
cases=(
	"missing|kernel.elf not found on the boot volume|Copy the kernel to the root"
	"garbage|no ELF magic (not an ELF file)|Rebuild the kernel"
	"i386|machine is not EM_X86_64|Rebuild the kernel"
	"truncated|file bytes lie outside the file|Rebuild the kernel"
)
echo "1..${#cases[@]}"
n=0
for c in "${cases[@]}"; do
	n=$((n + 1))
	IFS='|' read -r -a f <<< "$c"
	esp=$(mktemp -d /tmp/loader-esp.XXXXXX)
	mkdir -p "$esp/EFI/BOOT"
	cp "$efi" "$esp/EFI/BOOT/BOOTX64.EFI"
	echo "onexit=qemu" > "$esp/cmdline.txt"
	case ${f[0]} in
	missing) ;;
	garbage) yes "this is not a kernel" | head -c 8192 > "$esp/kernel.elf" ;;
	i386) cp "$kernel" "$esp/kernel.elf"; printf '\003\000' | dd of="$esp/kernel.elf" bs=1 seek=18 conv=notrunc status=none ;;
	truncated) head -c 3000 "$kernel" > "$esp/kernel.elf" ;;
	esac
	log=$esp.log
	: > "$log"
	tools/qemu.sh --esp "$esp" --serial "$log" --timeout 60 &
	pid=$!
	for _ in $(seq 1 120); do   # up to 60 s: stop once the loader has given up
		grep -q "boot aborted" "$log" 2>/dev/null && { sleep 1; break; }
		kill -0 $pid 2>/dev/null || break
		sleep 0.5
	done
	pkill -f "fat:rw:$esp" 2>/dev/null
	wait $pid 2>/dev/null
	tr -d '\r' < "$log" | sed 's/\x1b\[[0-9;=]*[A-Za-z]//g' > "$log.txt"
	missing=""
	for s in "${f[@]:1}" "boot aborted" "Returning to the firmware"; do grep -qF -- "$s" "$log.txt" || missing="$missing [$s]"; done
	grep -q "rmkernel: booting" "$log.txt" && missing="$missing [the kernel must not have started]"
	if [ -z "$missing" ]; then
		echo "ok $n - ${f[0]} kernel: the loader explains and returns to the firmware"
	else
		echo "not ok $n - ${f[0]} kernel: missing$missing"
		sed 's/^/# /' "$log.txt" | tail -n 30
	fi
	rm -rf "$esp" "$log" "$log.txt"
done

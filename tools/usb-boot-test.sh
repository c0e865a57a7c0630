#!/bin/bash
# TAP for prove: the real-PC path without a real PC. Checks that tools/flash.sh refuses every
# dangerous target (no device, missing path, regular file, character device, the disk holding /, a
# partition, a fixed disk) without writing; that tools/image.sh builds a sound GPT + FAT32 image;
# and boots that image as a USB stick on xHCI (tools/matrix.sh --only usb-stick-xhci), checking
# exit 33, the boot device and the KTAP summary. One boot, about 6 s.
set -u
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/usb-boot-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0

# Prints one TAP line: ok NAME when status $1 is 0, else not ok plus the diagnostics in $tmp/diag.
tap() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; sed 's/^/# /' "$tmp/diag" 2>/dev/null; fi
	: > "$tmp/diag"
}

# Prints one skipped TAP line.
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }

# Runs flash.sh on $1 with "yes" typed in; passes when it exits non-zero having printed $2.
refusal() {
	local dev=$1 want=$2 what=$3 rc
	if [ -n "$dev" ]; then echo yes | tools/flash.sh "$dev" "$tmp/none.img"; else echo yes | tools/flash.sh; fi \
		> "$tmp/out" 2>&1
	rc=$?
	{ echo "flash.sh exit $rc, want non-zero and a message containing: $want"; cat "$tmp/out"; } > "$tmp/diag"
	[ "$rc" != 0 ] && grep -qF -- "$want" "$tmp/out" && ! grep -q 'About to ERASE' "$tmp/out"
	tap $? "flash.sh refuses $what: $(grep -m1 -o 'refusing: .*' "$tmp/out" | cut -c11-90)"
}

# Prints the whole disk (e.g. vda) holding /, if it can be found.
root_disk() {
	local mm
	mm=$(findmnt -n -o MAJ:MIN --target / 2>/dev/null | head -n1 | tr -d ' ')
	[ -n "$mm" ] && [ -e "/sys/dev/block/$mm" ] || return 0
	lsblk -nsro NAME,TYPE "/dev/$(basename "$(readlink -f "/sys/dev/block/$mm")")" 2>/dev/null \
		| awk '$2 == "disk" { print $1; exit }'
}

echo "1..12"
refusal "" "no device given" "a missing DEV"
refusal /dev/no-such-disk-for-flash-test "does not exist" "a path that does not exist"
printf 'precious' > "$tmp/file"
refusal "$tmp/file" "is not a block device (regular file)" "a regular file"
echo "file content: $(cat "$tmp/file")" > "$tmp/diag"
[ "$(cat "$tmp/file")" = precious ]; tap $? "the regular file was left untouched"
refusal /dev/null "is not a block device (character special file)" "/dev/null"
root=$(root_disk)
if [ -n "$root" ]; then refusal "/dev/$root" "holds the running system" "the root filesystem's disk (/dev/$root)"
else skip "cannot tell which disk holds / here (findmnt/lsblk)"; fi
part=$(lsblk -nrpo NAME,TYPE 2>/dev/null | awk '$2 == "part" { print $1; exit }')
if [ -n "$part" ]; then refusal "$part" "is a partition" "a partition ($part)"
else skip "no partition on this machine to try"; fi
fixed=
for d in /sys/block/*; do
	b=$(basename "$d")
	[ "$(cat "$d/removable" 2>/dev/null)" = 0 ] && [ "$b" != "$root" ] && [ -b "/dev/$b" ] && { fixed=$b; break; }
done
if [ -n "$fixed" ]; then refusal "/dev/$fixed" "is not removable" "a fixed disk (/dev/$fixed)"
else skip "no non-removable disk besides the root disk to try"; fi

# The image: GPT verified by sgdisk, an EF00 partition ending before the backup GPT, FAT32, the files.
tools/image.sh "$tmp/disk.img" "onexit=halt" > "$tmp/diag" 2>&1
ok=$?
if [ $ok = 0 ]; then
	{
		sgdisk -p "$tmp/disk.img"
		minfo -i "$tmp/disk.img@@1M" :: | grep -E 'disk type|big size|hidden'
		mdir -i "$tmp/disk.img@@1M" -/ -b ::
		echo "cmdline.txt: $(mtype -i "$tmp/disk.img@@1M" ::/cmdline.txt)"
	} >> "$tmp/diag" 2>&1
	sgdisk -v "$tmp/disk.img" | grep -q 'No problems found' \
		&& grep -qE '^ +1 +2048 +[0-9]+ .*EF00 +EFI System Partition' "$tmp/diag" \
		&& grep -q 'disk type="FAT32' "$tmp/diag" \
		&& grep -qi '::/EFI/BOOT/BOOTX64.EFI$' "$tmp/diag" && grep -qi '::/kernel.elf$' "$tmp/diag" \
		&& grep -q '^cmdline.txt: onexit=halt$' "$tmp/diag"
	ok=$?
fi
tap $ok "image.sh: GPT with one FAT32 ESP holding BOOTX64.EFI, kernel.elf, cmdline.txt (onexit=halt)"

# The USB-stick boot (the image rebuilt with onexit=qemu by matrix.sh).
start=$(date +%s)
tools/matrix.sh --only usb-stick-xhci --logs "$tmp/logs" > "$tmp/table" 2>&1
secs=$(( $(date +%s) - start ))
rc=$(cat "$tmp/logs/usb-stick-xhci.rc" 2>/dev/null || echo none)
tr -d '\r' < "$tmp/logs/usb-stick-xhci.log" > "$tmp/serial" 2>/dev/null
{ cat "$tmp/table"; echo "serial log tail:"; tail -n 40 "$tmp/serial"; } > "$tmp/diag"
[ "$rc" = 33 ]; tap $? "USB stick on xHCI: QEMU exited with the pass code (exit $rc after ${secs}s)"
{ grep 'BdsDxe' "$tmp/serial"; } > "$tmp/diag"
grep -qE 'BdsDxe: starting .*/USB\(' "$tmp/serial"; tap $? "the firmware booted from the USB device"
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$tmp/serial" | tail -n1)
{ cat "$tmp/table"; echo "serial log tail:"; tail -n 40 "$tmp/serial"; } > "$tmp/diag"
[[ $summary =~ \ passed,\ 0\ failed(,|$) ]] && grep -q '^SELF-TEST PASSED' "$tmp/serial"
tap $? "the suite booted from the stick: ${summary:-no KTAP summary}"

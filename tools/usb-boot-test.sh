#!/bin/bash
# TAP for prove: the real-PC path without a real PC. Checks that tools/flash.sh refuses every
# dangerous target (no device, missing path, regular file, character device, the disk holding /, a
# partition, a fixed disk) without writing; that tools/image.sh refuses every option given without
# its value or with a bad one (exit 2, a message naming the option, no image), takes --size with
# a unit, and builds a sound GPT + FAT32 image;
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

# Runs image.sh with the arguments after the image path; passes when it exits 2 with a message
# starting "image.sh: $1" and containing $2, and leaves no image.
image_refusal() {
	local want_start=$1 want=$2 rc
	shift 2
	rm -f "$tmp/bad.img"
	tools/image.sh "$tmp/bad.img" "$@" > "$tmp/out" 2>&1
	rc=$?
	{ echo "image.sh $* exit $rc, want 2 and a message starting \"image.sh: $want_start\" containing: $want"
	  cat "$tmp/out"; } > "$tmp/diag"
	[ "$rc" = 2 ] && grep -q "^image.sh: $want_start" "$tmp/out" && grep -qF -- "$want" "$tmp/out" && ! [ -e "$tmp/bad.img" ]
	tap $? "image.sh $*: exit 2, $(head -c 90 "$tmp/out" | head -n1)"
}

# Every option that takes a value, without one: last, before another option, and as --opt=.
image_missing=()
for opt in --efi --kernel --size; do
	image_missing+=("$opt" "$opt --size 64M" "$opt=" "$opt --efi build/BOOTX64.EFI")
done
# Bad values: sizes that are no size or out of range, files that are no readable file.
image_bad=(
	"--size|not a size|abc" "--size|not a size|64MB" "--size|not a size|0x40" "--size|not a size|-64"
	"--size|not a size|64 M" "--size|not a size|1.5G" "--size|smaller than 40M|39" "--size|smaller than 40M|0"
	"--size|larger than 2048G|2049G" "--size|larger than 2048G|2097153" "--size|larger than 2048G|99999999999999999999G"
	"--efi|no such readable file|$tmp/none.efi" "--efi|no such readable file|$tmp"
	"--kernel|no such readable file|$tmp/none.elf" "--kernel|no such readable file|/dev/null"
)
echo "1..$((12 + ${#image_missing[@]} + ${#image_bad[@]} + 2))"
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

for a in "${image_missing[@]}"; do
	# shellcheck disable=SC2086
	image_refusal "${a%%[ =]*} needs a value" "e.g. ${a%%[ =]*} " $a
done
for c in "${image_bad[@]}"; do
	IFS='|' read -r opt want val <<< "$c"
	image_refusal "$opt $val" "$want" "$opt" "$val"
done
image_refusal "unknown option --sise" "usage:" --sise 64M
tools/image.sh "$tmp/sized.img" "onexit=halt" --size=41m > "$tmp/diag" 2>&1 \
	&& [ "$(stat -c %s "$tmp/sized.img")" = $((41 << 20)) ] && sgdisk -v "$tmp/sized.img" | grep -q 'No problems found'
tap $? "image.sh --size=41m: a 41 MiB image with a sound GPT"
rm -f "$tmp/sized.img"

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

#!/bin/bash
# Builds a bootable raw disk image without root: a GPT with one EFI System Partition (FAT32)
# holding \EFI\BOOT\BOOTX64.EFI, \kernel.elf and \cmdline.txt. Write it to a USB stick with
# tools/flash.sh (make flash DEV=/dev/sdX) or any raw-image writer.
#   tools/image.sh OUT.img [CMDLINE] [--efi FILE] [--kernel FILE] [--size MIB]
# Defaults: CMDLINE "onexit=halt" (a real PC), build/BOOTX64.EFI, build/kernel.elf, 64 MiB.
set -eu

# Prints a message and stops.
die() { echo "image.sh: $*" >&2; exit 1; }

out= cmdline=onexit=halt efi=build/BOOTX64.EFI kernel=build/kernel.elf size_mib=64 have_cmdline=0
while [ $# -gt 0 ]; do
	case $1 in
	--efi) efi=$2; shift 2;;
	--kernel) kernel=$2; shift 2;;
	--size) size_mib=$2; shift 2;;
	-*) die "unknown option $1";;
	*) if [ -z "$out" ]; then out=$1; elif [ $have_cmdline = 0 ]; then cmdline=$1 have_cmdline=1;
	   else die "too many arguments ($1)"; fi; shift;;
	esac
done
[ -n "$out" ] || die "usage: tools/image.sh OUT.img [CMDLINE] [--efi FILE] [--kernel FILE] [--size MIB]"
for f in "$efi" "$kernel"; do [ -r "$f" ] || die "$f missing: run make build/kernel.elf build/BOOTX64.EFI"; done
for t in sgdisk mformat mmd mcopy; do
	command -v "$t" >/dev/null || die "$t not found: run tools/install-deps.sh (packages gdisk, mtools)"
done
# FAT32 wants at least 65525 clusters: with 512-byte clusters that is ~33 MiB of partition.
[ "$size_mib" -ge 40 ] || die "--size must be at least 40 (MiB) for a FAT32 partition"

# Layout in 512-byte sectors: protective MBR + primary GPT in the first MiB, the ESP from 1 MiB up
# to 1 MiB before the end, the backup GPT (last 33 sectors) inside that last MiB.
total=$((size_mib * 2048))
first=2048
last=$((total - 2049))
part_sectors=$((last - first + 1))

tmp=$out.tmp
rm -f "$tmp"
truncate -s "${size_mib}M" "$tmp"
sgdisk --clear -n "1:$first:$last" -t 1:ef00 -c "1:EFI System Partition" "$tmp" >/dev/null \
	|| die "sgdisk could not partition $tmp"
# mtools: the partition is the byte range starting at 1 MiB; -T bounds the FAT to the partition.
img="$tmp@@1M"
mformat -i "$img" -F -T "$part_sectors" -h 64 -s 32 -H "$first" -v RMKERNEL :: || die "mformat failed"
mmd -i "$img" ::/EFI ::/EFI/BOOT
mcopy -i "$img" "$efi" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$img" "$kernel" ::/kernel.elf
printf '%s\n' "$cmdline" > "$tmp.cmdline"
mcopy -i "$img" "$tmp.cmdline" ::/cmdline.txt
rm -f "$tmp.cmdline"
sgdisk -v "$tmp" | grep -q 'No problems found' || { sgdisk -v "$tmp" >&2; die "GPT check failed"; }
mv "$tmp" "$out"
echo "image.sh: $out ($size_mib MiB, GPT + FAT32 ESP of $((part_sectors / 2048)) MiB, cmdline \"$cmdline\")"

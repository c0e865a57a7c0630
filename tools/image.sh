#!/bin/bash
# Builds a bootable raw disk image without root: a GPT with one EFI System Partition (FAT32)
# holding \EFI\BOOT\BOOTX64.EFI, \kernel.elf and \cmdline.txt. Write it to a USB stick with
# tools/flash.sh (make flash DEV=/dev/sdX) or any raw-image writer.
#   tools/image.sh OUT.img [CMDLINE] [--efi FILE] [--kernel FILE] [--size SIZE]
# Defaults: CMDLINE "onexit=halt" (a real PC), build/BOOTX64.EFI, build/kernel.elf, 64 MiB.
# SIZE is MiB, or a number with M or G (64, 64M, 1G), from 40M to 2048G (FAT32's 2^32 sectors).
# Exit status: 0 done, 2 a usage error (an option without its value or with a bad one, an unknown
# option, a missing OUT), 1 anything else.
set -eu

usage="usage: tools/image.sh OUT.img [CMDLINE] [--efi FILE] [--kernel FILE] [--size SIZE] (SIZE e.g. 64M or 1G)"
size_min_mib=40
size_max_mib=$((2048 * 1024))

# Prints a message and stops with status 1.
die() { echo "image.sh: $*" >&2; exit 1; }
# Prints a usage error and stops with status 2.
usage_error() { echo "image.sh: $*" >&2; exit 2; }

# An example value per option, for the message naming an option given without one.
declare -A example=([--efi]=build/BOOTX64.EFI [--kernel]=build/kernel.elf [--size]=64M)

# Sets size_mib from SIZE ($1): digits with an optional M or G (either case) in range; any other
# value is a usage error.
parse_size() {
	local v=$1 mib
	[[ $v =~ ^0*([0-9]+)([MmGg]?)$ ]] || usage_error "--size $v: not a size (MiB, or a number with M or G, e.g. --size 64M)"
	# Over 10 digits is out of range whatever the unit; refused first, the arithmetic stays in 64 bits.
	[ ${#BASH_REMATCH[1]} -le 10 ] || usage_error "--size $v: larger than 2048G"
	mib=$((10#${BASH_REMATCH[1]}))
	case ${BASH_REMATCH[2]} in [Gg]) mib=$((mib * 1024));; esac
	[ "$mib" -ge "$size_min_mib" ] || usage_error "--size $v: smaller than ${size_min_mib}M, the least a FAT32 partition needs"
	[ "$mib" -le "$size_max_mib" ] || usage_error "--size $v: larger than 2048G"
	size_mib=$mib
}

# Sets opt and val for an option that takes a value: "--opt=VALUE" in $1, or "--opt" then "$2";
# sets shift_by to the arguments used. A missing or empty value (or the next option in its place)
# is a usage error.
take_value() {
	opt=${1%%=*} shift_by=1
	if [[ $1 == *=* ]]; then val=${1#*=}
	elif [ $# -ge 2 ] && [[ $2 != --* ]]; then val=$2 shift_by=2
	else val=
	fi
	[ -n "$val" ] || usage_error "$opt needs a value, e.g. $opt ${example[$opt]}"
}

# Checks that FILE ($2), given with option $1, is a readable regular file.
check_file_arg() {
	if ! [ -f "$2" ] || ! [ -r "$2" ]; then usage_error "$1 $2: no such readable file"; fi
}

out= cmdline=onexit=halt efi=build/BOOTX64.EFI kernel=build/kernel.elf size_mib=64 have_cmdline=0
while [ $# -gt 0 ]; do
	case $1 in
	-h|--help) echo "$usage"; exit 0;;
	--efi|--efi=*) take_value "$@"; check_file_arg "$opt" "$val"; efi=$val; shift "$shift_by";;
	--kernel|--kernel=*) take_value "$@"; check_file_arg "$opt" "$val"; kernel=$val; shift "$shift_by";;
	--size|--size=*) take_value "$@"; parse_size "$val"; shift "$shift_by";;
	-*) usage_error "unknown option $1 ($usage)";;
	*) if [ -z "$out" ]; then out=$1; elif [ $have_cmdline = 0 ]; then cmdline=$1 have_cmdline=1;
	   else usage_error "too many arguments ($1); $usage"; fi; shift;;
	esac
done
[ -n "$out" ] || usage_error "$usage"
[ -d "$(dirname -- "$out")" ] || usage_error "$out: directory $(dirname -- "$out") does not exist"
# An existing OUT that is not a regular file (a device node such as /dev/sdb: that is flash.sh's
# job) would be replaced by the image file, the node gone; refused, nothing written.
if [ -e "$out" ] && ! [ -f "$out" ]; then
	usage_error "$out exists and is not a regular file ($(stat -L -c %F -- "$out")); image.sh writes an image file. To write a USB stick: tools/image.sh build/disk.img, then make flash DEV=$out"
fi
for f in "$efi" "$kernel"; do [ -r "$f" ] || die "$f missing: run make build/kernel.elf build/BOOTX64.EFI"; done
for t in sgdisk mformat mmd mcopy; do
	command -v "$t" >/dev/null || die "$t not found: run tools/install-deps.sh (packages gdisk, mtools)"
done
# (size_min_mib: FAT32 wants at least 65525 clusters; with 512-byte clusters that is ~33 MiB of partition.)

# Layout in 512-byte sectors: protective MBR + primary GPT in the first MiB, the ESP from 1 MiB up
# to 1 MiB before the end, the backup GPT (last 33 sectors) inside that last MiB.
total=$((size_mib * 2048))
first=2048
last=$((total - 2049))
part_sectors=$((last - first + 1))

tmp=$out.tmp
rm -f "$tmp"
trap 'rm -f "$tmp" "$tmp.cmdline"' EXIT   # a failed step leaves no half-made image beside OUT
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

#!/bin/bash
# Writes the boot image to a USB stick: tools/flash.sh DEV [IMG] (make flash DEV=/dev/sdX).
# Refuses, before touching anything: no DEV, a missing tool (lsblk, findmnt, ...), a path that is
# not a block device, a partition, the disk holding the running system, a non-removable disk, a
# disk with any partition mounted or in use; then shows the device and asks you to type its name,
# and once it is typed refuses a disk that has changed (pulled, another given its name) or been
# mounted meanwhile.
# IMG defaults to build/disk.img of the tree this script is in.
set -eu

# Prints a refusal and stops with status 2 (nothing was written).
refuse() { echo "flash.sh: refusing: $*" >&2; exit 2; }

# Prints the block devices a person could mean (whole disks, with removable flag and transport).
candidates() { lsblk -d -o NAME,SIZE,RM,TRAN,MODEL 2>/dev/null | sed 's/^/    /' >&2 || true; }

# Prints what tells disk $1 (sdb) from another given its name later: its place under /sys/devices
# (the USB port and SCSI host, new at each plug), its sequence number (diskseq, new each time a
# disk appears; Linux 5.15 on) and its size. Nothing once the disk is gone.
disk_id() { readlink -e "/sys/class/block/$1"; cat "/sys/block/$1/diskseq" "/sys/block/$1/size" 2>/dev/null || true; }

# Prints the whole-disk names (sda, nvme0n1) under the filesystem mounted at $1, if any.
disks_under_mount() {
	local majmin src dev
	majmin=$(findmnt -n -o MAJ:MIN --target "$1" 2>/dev/null | head -n1 | tr -d ' ') || true
	src=$(findmnt -n -o SOURCE --target "$1" 2>/dev/null | head -n1 | sed 's/\[.*//') || true
	dev=
	if [ -n "$majmin" ] && [ -e "/sys/dev/block/$majmin" ]; then
		dev=/dev/$(basename "$(readlink -f "/sys/dev/block/$majmin")")
	elif [ -b "$src" ]; then
		dev=$src
	fi
	[ -n "$dev" ] || return 0
	lsblk -nsro NAME,TYPE "$dev" 2>/dev/null | awk '$2 == "disk" { print $1 }'
}

# Prints "NAME MOUNTPOINT" for DEV and each of its partitions that is mounted or used as swap. A
# mount is matched by device number or by source (after mountinfo's "-" field): FUSE (ntfs-3g,
# exfat-fuse) and btrfs mounts show an anonymous 0:NN device number, not the partition's, and
# their source is the path as given, which may be a link to it (/dev/disk/by-label/...), resolved.
mounted_parts() {
	local part majmin rp mm mp src
	for part in $(lsblk -nrpo NAME "$1"); do
		majmin=$(lsblk -ndro MAJ:MIN "$part" | tr -d ' ')
		rp=$(readlink -f "$part")
		awk '{
			src = ""
			for (i = 7; i < NF; i++) if ($i == "-") { src = $(i + 2); break }
			print $3, $5, src
		}' /proc/self/mountinfo | while read -r mm mp src; do
			if [ "$mm" = "$majmin" ] || [ "$src" = "$part" ] || [ "$src" = "$rp" ] ||
			   { [ "${src#/}" != "$src" ] && [ "$(readlink -f "$src")" = "$rp" ]; }; then
				echo "$part $mp"
			fi
		done
		awk -v p="$(readlink -f "$part")" 'NR > 1 && $1 == p { print p, "[swap]" }' /proc/swaps
		if [ -n "$(ls -A "/sys/class/block/$(basename "$part")/holders" 2>/dev/null)" ]; then
			echo "$part used-by-$(ls "/sys/class/block/$(basename "$part")/holders" | tr '\n' ' ')"
		fi
	done | sort -u
}

# Prints, for each line "NAME USE" of mounted_parts, the command that frees it: umount of the
# mount point (mountinfo's octal escapes such as \040 decoded, then quoted for the shell), swapoff
# of a swap partition, or what holds a partition (device mapper, RAID). The names come from
# mounted_parts, so a file system on the whole stick and partitions named sdb1, nvme0n1p1 or
# mmcblk0p1 are all named right (the message once guessed DEV followed by 1).
release_commands() {
	local part use mp
	while read -r part use; do
		case $use in
		"[swap]") echo "sudo swapoff $part";;
		used-by-*) echo "# $part is held by ${use#used-by-} (LVM, RAID or dm-crypt): stop that first";;
		*) mp=$(printf '%b' "$use"); printf 'sudo umount %q    # %s\n' "$mp" "$part";;
		esac
	done
}

dev=${1:-}
img=${2:-$(dirname "$0")/../build/disk.img}   # the tree's image, from whatever directory this runs in
if [ -z "$dev" ]; then
	echo "flash.sh: refusing: no device given. Plug in the stick, find it below, then run" >&2
	echo "    make flash DEV=/dev/sdX" >&2
	candidates
	exit 2
fi
# Without these the checks below would find no mount and no system disk and let everything through.
for t in lsblk findmnt awk readlink stat dd blockdev; do
	command -v "$t" >/dev/null || refuse "$t not found; it is needed to check the device safely (Debian: util-linux, coreutils, gawk or mawk)"
done
if [ ! -e "$dev" ]; then
	case $dev in
	*/*) refuse "$dev does not exist (is the stick plugged in? lsblk lists the disks)";;
	*) refuse "$dev is a name, not a path; give the device's path: make flash DEV=/dev/$dev";;
	esac
fi
[ -b "$dev" ] || refuse "$dev is not a block device ($(stat -L -c %F "$dev")); give a whole disk such as /dev/sdb"
real=$(readlink -f "$dev")
name=$(basename "$real")
sys=/sys/class/block/$name
[ -d "$sys" ] || refuse "$dev: no $sys; cannot check what it is"
id_checked=$(disk_id "$name")   # compared again once the name is typed
if [ -e "$sys/partition" ]; then
	parent=$(basename "$(dirname "$(readlink -f "$sys")")")
	refuse "$dev is a partition; give the whole disk (/dev/$parent)"
fi
for m in / /boot /boot/efi /usr /var; do
	for d in $(disks_under_mount "$m"); do
		[ "$d" = "$name" ] && refuse "$dev holds the running system ($m is on it)"
	done
done
while read -r swap _; do
	[ "$swap" = Filename ] && continue
	for d in $(lsblk -nsro NAME,TYPE "$swap" 2>/dev/null | awk '$2 == "disk" { print $1 }'); do
		[ "$d" = "$name" ] && refuse "$dev holds the running system (swap $swap is on it)"
	done
done < /proc/swaps
removable=$(cat "/sys/block/$name/removable" 2>/dev/null || echo "?")
if [ "$removable" != 1 ]; then
	sticks=$(lsblk -d -o NAME,SIZE,RM,TRAN,MODEL | awk 'NR == 1 || $3 == 1')
	[ "$(echo "$sticks" | wc -l)" -gt 1 ] || sticks="none (is the stick plugged in?)"
	refuse "$dev is not removable (/sys/block/$name/removable is $removable); this tool only writes USB sticks and card readers. Removable disks:
$(echo "$sticks" | sed 's/^/    /')"
fi
busy=$(mounted_parts "$real")
[ -z "$busy" ] || refuse "$dev is in use; free it first, then run this again:
$(echo "$busy" | release_commands | sed 's/^/    /')"
[ -e "$img" ] || refuse "image $img missing: run make image"
[ -f "$img" ] || refuse "image $img is not a regular file ($(stat -L -c %F "$img")); give the file make image built"
[ -r "$img" ] || refuse "cannot read image $img as $(id -un)"
img_bytes=$(stat -L -c %s "$img")
dev_bytes=$(( $(cat "/sys/block/$name/size") * 512 ))
[ "$img_bytes" -le "$dev_bytes" ] || refuse "$dev holds $dev_bytes bytes, the image needs $img_bytes"
[ -w "$real" ] || refuse "cannot write $dev as $(id -un): run sudo make flash DEV=$dev"

echo "About to ERASE this device and write $img ($((img_bytes >> 20)) MiB) to it:"
lsblk -o NAME,SIZE,RM,TRAN,VENDOR,MODEL,LABEL "$real" | sed 's/^/    /'
printf 'Type the device name (%s) to continue, anything else to stop: ' "$name"
read -r answer || answer=
[ "$answer" = "$name" ] || { echo "flash.sh: not confirmed (you typed '$answer', not $name); nothing written" >&2; exit 1; }
# The answer may take minutes: meanwhile a desktop may mount a stick plugged in just before this
# ran, or the stick may be pulled and another disk take its name. Both are checked again here.
[ -n "$id_checked" ] && [ "$(disk_id "$name")" = "$id_checked" ] ||
	refuse "$dev changed while waiting for your answer (unplugged, or another disk now has its name); nothing written. Run this again"
[ -z "$(mounted_parts "$real")" ] ||
	refuse "$dev was mounted while waiting for your answer (a desktop mounts a stick it has just found); nothing written. Run this again: it names what to unmount"
dd if="$img" of="$real" bs=4M conv=fsync,nocreat oflag=direct status=progress   # gone: no file in /dev
sync
blockdev --rereadpt "$real" 2>/dev/null || true
echo "flash.sh: done. Remove the stick, boot the PC from it (Secure Boot off), see README."

#!/bin/bash
# TAP for prove: the USB-stick tools' refusals of what a person may hand them, without root and
# without any block device. Parts of tools/flash.sh run on their own (as tools/flash-mount-test.sh
# does), with /sys/block and /proc/self/mountinfo replaced by files under a temporary directory and
# a fake lsblk; tools/image.sh runs whole, on files under that directory. No device is opened, dd
# never runs. Each check guards a defect a review found (round 3) and the fix:
#  1-3  flash.sh's image checks (lines from the first '[ ... "$img" ]' to the size check) against a
#       fake /sys/block/sdz/size of 1 MiB: an image of 8 MiB is refused; the same image through a
#       symlink is refused too (stat without -L measured the link, a few bytes, so a stick smaller
#       than the image was written until dd ran out of room); a non-regular image (/dev/zero, which
#       stat sizes 0) is refused (dd would have filled the whole stick).
#  4    flash.sh's mounted_parts sees the stick's partition mounted through FUSE (anonymous 0:NN
#       device) when the mount's source is a symlink to it (ntfs-3g /dev/disk/by-label/STICK
#       records the path as given; the source was compared as a string, not resolved).
#  5    image.sh refuses an OUT naming an existing file that is not a regular file (a FIFO here,
#       standing for /dev/sdb, which a person may give image.sh instead of flash.sh) and leaves it
#       as it was (image.sh built OUT.tmp beside it, then mv replaced the node and reported success).
# Round 10 (a newcomer's mistakes):
#  6    flash.sh given a device's name without /dev/ (DEV=sdb) says to give /dev/sdb (it said "sdb
#       does not exist ... is the stick plugged in?", sending the person to look for the stick).
#  7-8  flash.sh's refusal of a stick in use names the commands that free it from what is mounted:
#       a file system on the whole stick (no partition table) by its mount point, spaces and all,
#       and a swap partition by swapoff (it said "e.g. sudo umount /dev/sdz1" whatever was mounted,
#       a partition that does not exist on such a stick, and no name fits nvme0n1p1 or mmcblk0p1).
#  9    flash.sh run as tools/flash.sh DEV from another directory defaults to this tree's
#       build/disk.img (it looked for build/disk.img under the current directory and said
#       "image build/disk.img missing: run make image" after make image had built it).
# Round 11 (the wait at the prompt), flash.sh from the typed name to dd (dd replaced by a function
# that records it ran) for the fake stick sdz under a fake /sys, the change made while "typing":
#  10   nothing changes and sdz is typed: dd runs (so 11-14 cannot pass by never reaching it).
#  11   another name is typed: nothing written.
#  12-14 the stick is mounted meanwhile (a desktop mounting a stick plugged in just before), pulled,
#       or pulled and another disk given its name (new place under /sys/devices, new diskseq):
#       refused, nothing written (the checks ran once, before the prompt, and dd wrote whatever
#       then had the name, mounted or not).
#  15   image.sh whose mformat fails leaves neither OUT nor its OUT.tmp (die left the partitioned
#       64 MiB OUT.tmp, and a failed mcopy OUT.tmp.cmdline too).
#  16   sudo make flash with an image to build (SUDO_USER set, a build directory of its own, empty)
#       refuses and builds nothing (it built the loader, the kernel and the image as root, and the
#       next make as oneself failed on build/'s root-owned files).
#  17   flash.sh with the stick gone before its checks ended (so no identity taken) and sdz typed
#       writes nothing (an identity missing before and after compared equal).
#  18   flash.sh's dd, the device gone when it opens it, fails and makes no file (as root it made a
#       regular file of that name in /dev, wrote the image to RAM and said "done").
set -u
cd "$(dirname "$0")/.."
tmp=$(mktemp -d "/tmp/flash r3 test.XXXXXX")   # a path with spaces, as a person's may have
tmp2=$(mktemp -d /tmp/flash-r3-test.XXXXXX)   # fake /proc files and /dev/disk links (mountinfo has no spaces)
trap 'rm -rf "$tmp" "$tmp2"' EXIT
# tap STATUS DESCRIPTION [FILE]: one TAP line, FILE shown on failure.
# shellcheck source=tools/tap-line.sh
. tools/tap-line.sh

# The image checks of flash.sh, reading the fake /sys/block.
mkdir -p "$tmp/sys/block/sdz"
echo 2048 > "$tmp/sys/block/sdz/size"   # 1 MiB
sed -n '/^refuse()/p; /^\[ .*"\$img" \]/,/^\[ "\$img_bytes" -le/p' tools/flash.sh |
	sed -e "s|/sys/block/|$tmp/sys/block/|g" > "$tmp/imgcheck.sh"
grep -q 'img_bytes' "$tmp/imgcheck.sh" || { echo "Bail out! flash.sh's image checks not found"; exit 1; }
# Runs the image checks for image $1 and the fake 1 MiB stick sdz; 0 when they refused (exit 2).
img_refused() {
	(dev=/dev/sdz name=sdz img=$1; set -eu; source "$tmp/imgcheck.sh") > "$tmp/out" 2>&1
	[ $? = 2 ] && grep -q 'refusing' "$tmp/out"
}
truncate -s 8M "$tmp/big image.img"
ln -s "big image.img" "$tmp/latest.img"
img_refused "$tmp/big image.img"; tap $? "flash.sh refuses an 8 MiB image for a 1 MiB stick" "$tmp/out"
img_refused "$tmp/latest.img"; tap $? "flash.sh refuses the same image through a symlink (stat without -L sizes the link)" "$tmp/out"
img_refused /dev/zero; tap $? "flash.sh refuses an image that is not a regular file (/dev/zero: stat sizes it 0, dd fills the stick)" "$tmp/out"

# mounted_parts with a fake lsblk and mountinfo (as tools/flash-mount-test.sh).
source tools/flash-test-lib.sh
flash_test_fake_stick "$tmp2"
mkdir -p "$tmp2/by-label"
ln -s /dev/sdz1 "$tmp2/by-label/STICK"
printf '22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n41 22 0:52 / /media/u/STICK rw,nosuid,nodev shared:91 - fuseblk %s rw,user_id=0,allow_other\n' \
	"$tmp2/by-label/STICK" > "$tmp2/mountinfo"
mounted_parts /dev/sdz | grep -q '^/dev/sdz1 '
tap $? "flash.sh sees a stick mounted through FUSE by a symlink to its partition (by-label) as in use" "$tmp2/mountinfo"

# image.sh with OUT an existing FIFO (a node that is not a regular file, as /dev/sdb is).
mkfifo "$tmp/stick"
printf 'MZ' > "$tmp/BOOTX64.EFI"
printf '\177ELF' > "$tmp/kernel.elf"
timeout 60 tools/image.sh "$tmp/stick" --efi "$tmp/BOOTX64.EFI" --kernel "$tmp/kernel.elf" > "$tmp/out" 2>&1
rc=$?
[ "$rc" != 0 ] && [ -p "$tmp/stick" ] && [ ! -e "$tmp/stick.tmp" ]
tap $? "image.sh refuses an OUT that exists and is not a regular file, and leaves it (exit $rc, $(stat -c %F "$tmp/stick"))" "$tmp/out"
# A device's name without /dev/, as lsblk prints it: /dev/null's, so the name exists under /dev.
tools/flash.sh null "$tmp/none.img" < /dev/null > "$tmp/out" 2>&1
rc=$?
[ "$rc" = 2 ] && grep -qF 'DEV=/dev/null' "$tmp/out"
tap $? "flash.sh given a name without /dev/ (null) says to give /dev/null (exit $rc)" "$tmp/out"

# The in-use refusal (from 'busy=' to its message's list) for the fake stick, with mountinfo and
# swaps as given; prints what it said.
busy_refusal() {
	(real=/dev/sdz dev=/dev/sdz
	 source <(sed -n '/^refuse()/p; /^release_commands()/,/^}/p; /^busy=/,/^\$(echo "\$busy"/p' tools/flash.sh)
	 echo "no refusal") 2>&1
}
printf '22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n47 22 8:240 / /media/u/MY\\040STICK rw,nosuid shared:95 - vfat /dev/sdz rw\n' \
	> "$tmp2/mountinfo"
busy_refusal > "$tmp/out"
grep -qF 'sudo umount /media/u/MY\ STICK' "$tmp/out" && ! grep -q '/dev/sdz1' "$tmp/out"
tap $? "flash.sh's in-use refusal of a stick formatted whole says umount of its mount point, not of /dev/sdz1" "$tmp/out"
printf '22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n' > "$tmp2/mountinfo"
printf 'Filename\tType\tSize\tUsed\tPriority\n/dev/sdz1 partition\t1048572\t0\t-2\n' > "$tmp2/swaps"
busy_refusal > "$tmp/out"
grep -qF 'sudo swapoff /dev/sdz1' "$tmp/out" && ! grep -q 'umount' "$tmp/out"
tap $? "flash.sh's in-use refusal of a stick with a swap partition says swapoff, not umount" "$tmp/out"
(cd "$tmp" && bash -c "$(sed -n '/^img=/p' "$OLDPWD/tools/flash.sh")"$'\n''readlink -m "$img"' "$OLDPWD/tools/flash.sh" /dev/sdz) > "$tmp/out" 2>&1
[ "$(cat "$tmp/out")" = "$PWD/build/disk.img" ]
tap $? "flash.sh run from another directory takes this tree's build/disk.img ($(cat "$tmp/out"))" "$tmp/out"

# The stick sdz as sysfs shows it: /sys/class/block/sdz and /sys/block/sdz link to its place under
# /sys/devices (host6), holding diskseq and size. plug_stick HOST SEQ puts it there.
plug_stick() {
	rm -f "$tmp2/sys/class/block/sdz" "$tmp2/sys/block/sdz"
	mkdir -p "$tmp2/sys/devices/usb1/$1/block/sdz" "$tmp2/sys/class/block" "$tmp2/sys/block"
	echo "$2" > "$tmp2/sys/devices/usb1/$1/block/sdz/diskseq"
	echo 2048 > "$tmp2/sys/devices/usb1/$1/block/sdz/size"
	ln -s "../../devices/usb1/$1/block/sdz" "$tmp2/sys/class/block/sdz"
	ln -s "../devices/usb1/$1/block/sdz" "$tmp2/sys/block/sdz"
}
# Runs flash.sh's lines from the typed name to dd for sdz, unmounted, with $1 typed; the shell
# command $2 runs while it is typed; $3 "gone": sdz is not there from the start. 0 when dd ran; the
# output in $tmp/out.
confirm_run() {
	local typed=$1 change=$2
	plug_stick host6 5
	[ "${3:-}" != gone ] || rm "$tmp2/sys/class/block/sdz" "$tmp2/sys/block/sdz"
	: > "$tmp2/swaps"
	printf '22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n' > "$tmp2/mountinfo"
	rm -f "$tmp2/dd-ran"
	(real=/dev/sdz dev=/dev/sdz name=sdz img=/dev/null img_bytes=0
	 fake_dd() { echo ran > "$tmp2/dd-ran"; }
	 read() { unset -f read; eval "$change"; answer=$typed; }
	 set -eu
	 source <(sed -n '/^refuse()/p; /^disk_id()/p; /^id_checked=/p; /^echo "About to ERASE/,/^dd /p' tools/flash.sh |
		sed -e "s|/sys/|$tmp2/sys/|g" -e 's/^dd /fake_dd /')) > "$tmp/out" 2>&1
	rc=$?
	echo >> "$tmp/out"   # the prompt ends no line
	[ -e "$tmp2/dd-ran" ]
}
confirm_run sdz ''; tap $? "flash.sh with nothing changed at the prompt and sdz typed reaches dd (exit $rc)" "$tmp/out"
! confirm_run sdy '' && [ "$rc" = 1 ]
tap $? "flash.sh with another name typed writes nothing (exit $rc)" "$tmp/out"
mounted='printf "40 22 8:241 / /media/u/STICK rw,nosuid shared:90 - vfat /dev/sdz1 rw\n" >> "$tmp2/mountinfo"'
! confirm_run sdz "$mounted" && [ "$rc" = 2 ] && grep -q 'refusing: /dev/sdz was mounted while waiting' "$tmp/out"
tap $? "flash.sh refuses a stick mounted while it waited at the prompt (exit $rc)" "$tmp/out"
! confirm_run sdz 'rm "$tmp2/sys/class/block/sdz" "$tmp2/sys/block/sdz"' && [ "$rc" = 2 ] &&
	grep -q 'refusing: /dev/sdz changed while waiting' "$tmp/out"
tap $? "flash.sh refuses a stick pulled while it waited at the prompt (exit $rc)" "$tmp/out"
! confirm_run sdz 'plug_stick host7 6' && [ "$rc" = 2 ] && grep -q 'refusing: /dev/sdz changed while waiting' "$tmp/out"
tap $? "flash.sh refuses when another disk took the stick's name while it waited at the prompt (exit $rc)" "$tmp/out"
# image.sh with an mformat that fails (first on PATH), on the stand-in loader and kernel of check 5.
mkdir -p "$tmp/bin-fail"
printf '#!/bin/sh\necho "fake mformat: failing" >&2\nexit 1\n' > "$tmp/bin-fail/mformat"
chmod +x "$tmp/bin-fail/mformat"
PATH="$tmp/bin-fail:$PATH" timeout 60 tools/image.sh "$tmp/failed.img" --efi "$tmp/BOOTX64.EFI" --kernel "$tmp/kernel.elf" \
	> "$tmp/out" 2>&1
rc=$?
ls "$tmp" | grep failed >> "$tmp/out"
[ "$rc" != 0 ] && ! ls "$tmp" | grep -q failed
tap $? "image.sh whose mformat fails leaves no failed.img and no failed.img.tmp (exit $rc)" "$tmp/out"
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL SUDO_USER=nobody timeout 300 make -s flash DEV=/dev/null B="$tmp2/b" \
	< /dev/null > "$tmp/out" 2>&1
rc=$?
[ "$rc" != 0 ] && grep -q 'build it without sudo first (make image)' "$tmp/out" && ! [ -e "$tmp2/b/kernel.elf" ]
tap $? "sudo make flash with no image built refuses and builds nothing (exit $rc)" "$tmp/out"
! confirm_run sdz '' gone && [ "$rc" = 2 ] && grep -q 'refusing: /dev/sdz changed while waiting' "$tmp/out"
tap $? "flash.sh with the stick gone before its checks ended writes nothing (exit $rc)" "$tmp/out"
# flash.sh's dd line on a device path that no longer exists (under $tmp2), a 1 MiB image.
truncate -s 1M "$tmp2/small.img"
(real=$tmp2/sdz-gone img=$tmp2/small.img; set -eu; source <(sed -n '/^dd /p' tools/flash.sh)) > "$tmp/out" 2>&1
rc=$?
[ "$rc" != 0 ] && ! [ -e "$tmp2/sdz-gone" ] && grep -q '^dd ' <(sed -n '/^dd /p' tools/flash.sh)
tap $? "flash.sh's dd to a device that is gone fails and makes no file in its place (exit $rc)" "$tmp/out"
echo "1..$n"
exit $((failed > 0))

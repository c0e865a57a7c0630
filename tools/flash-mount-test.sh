#!/bin/bash
# TAP for prove: tools/flash.sh's check for a stick in use (mounted_parts), run on its own with a
# fake lsblk and a fake mountinfo, for each kind of mount a desktop makes of a stick. FUSE
# filesystems (ntfs-3g for NTFS sticks, exfat-fuse) and btrfs show an anonymous device number
# (0:NN) in mountinfo, not the partition's, so the partition must also be matched by its source.
# Then flash.sh itself without lsblk or findmnt on PATH: its checks would find no mount and no
# system disk, so it must refuse before them. No device is touched; no root needed.
set -u
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/flash-mount-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
source tools/flash-test-lib.sh
# The function under test, reading the fake files instead of /proc's, and the stick /dev/sdz (8:240)
# with one partition /dev/sdz1 (8:241).
flash_test_fake_stick "$tmp"

n=0
# One TAP line: $1 the mountinfo line of the stick's partition, $2 what it is.
check_mounted() {
	printf '22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n%s\n' "$1" > "$tmp/mountinfo"
	n=$((n + 1))
	if mounted_parts /dev/sdz | grep -q '^/dev/sdz1 '; then
		echo "ok $n - a stick mounted as $2 is seen as in use"
	else
		echo "not ok $n - a stick mounted as $2 is seen as in use"
		sed 's/^/#   mountinfo: /' "$tmp/mountinfo"
	fi
}

echo "1..7"
check_mounted '40 22 8:241 / /media/u/STICK rw,nosuid,nodev shared:90 - vfat /dev/sdz1 rw,uid=1000' "vfat"
check_mounted '41 22 0:52 / /media/u/STICK rw,nosuid,nodev shared:91 - fuseblk /dev/sdz1 rw,user_id=0,allow_other' \
	"NTFS through ntfs-3g (fuseblk)"
check_mounted '42 22 0:53 / /media/u/STICK rw,relatime shared:92 - btrfs /dev/sdz1 rw,space_cache=v2,subvol=/' "btrfs"
check_mounted '43 22 0:54 / /mnt/x rw,relatime shared:93 - fuse.exfat /dev/sdz1 rw,user_id=0' "exFAT through FUSE"
printf '22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n' > "$tmp/mountinfo"
n=$((n + 1))
if [ -z "$(mounted_parts /dev/sdz)" ]; then echo "ok $n - an unmounted stick is not in use"; else
	echo "not ok $n - an unmounted stick is not in use"; mounted_parts /dev/sdz | sed 's/^/#   /'; fi

# flash.sh with every tool it uses but one on PATH (symlinks to the real ones) must refuse at once.
for missing in lsblk findmnt; do
	mkdir -p "$tmp/bin-$missing"
	for t in lsblk findmnt awk sed sort tr head basename dirname readlink stat cat ls id dd sync blockdev; do
		[ "$t" = "$missing" ] || ln -sf "$(type -P "$t")" "$tmp/bin-$missing/$t"
	done
	PATH=$tmp/bin-$missing tools/flash.sh /dev/null "$tmp/none.img" < /dev/null > "$tmp/out" 2>&1
	rc=$?
	n=$((n + 1))
	if [ "$rc" = 2 ] && grep -q "refusing: $missing not found" "$tmp/out"; then
		echo "ok $n - without $missing flash.sh refuses before checking anything"
	else
		echo "not ok $n - without $missing flash.sh refuses before checking anything (exit $rc)"
		sed 's/^/#   /' "$tmp/out"
	fi
done

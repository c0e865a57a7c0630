# Sourced by tools/flash-mount-test.sh and tools/flash-input-test.sh (from the repository's top):
# tools/flash.sh's stick checks run on their own, with no block device and no root.

# Defines flash.sh's mounted_parts reading $1/mountinfo and $1/swaps (made empty here) instead of
# /proc's, and a fake lsblk knowing one stick: /dev/sdz (8:240) with one partition /dev/sdz1 (8:241).
flash_test_fake_stick() {
	local dir=$1
	: > "$dir/swaps"
	source <(sed -n '/^mounted_parts()/,/^}/p' tools/flash.sh |
		sed -e "s|/proc/self/mountinfo|$dir/mountinfo|" -e "s|/proc/swaps|$dir/swaps|")
	lsblk() {
		case "$*" in
		"-nrpo NAME /dev/sdz") printf '/dev/sdz\n/dev/sdz1\n';;
		"-ndro MAJ:MIN /dev/sdz") echo 8:240;;
		"-ndro MAJ:MIN /dev/sdz1") echo 8:241;;
		*) echo "fake lsblk: unexpected $*" >&2; return 1;;
		esac
	}
}

#!/bin/bash
# TAP: the repository on a fresh Debian release, as someone who clones it there meets it
# (`make test-debian`). Builds a minimal Debian of DEBIAN_SUITE (default trixie, Debian 13; bookworm
# is Debian 12, the release CI runs on) with debootstrap, copies HEAD's committed files into it
# (git archive) and, inside it (chroot), runs what the README tells a person to run:
# tools/install-deps.sh as root (then once more: it must find nothing missing), the plain build
# (`make`: no compiler warning, as every build) and `make test` (prove's Result: PASS).
# Needs root (debootstrap, chroot, mounts) and a Debian mirror (DEBIAN_MIRROR, default
# http://deb.debian.org/debian); installs debootstrap with apt-get when it is missing. Takes about
# 15 minutes on two cores (about 1 to build the release, 1 to install the packages, 9-12 for the
# tests). DEBIAN_ROOT names the directory to build the release in and keeps it (default: a
# temporary one, removed at the end); a DEBIAN_ROOT already holding the release is used as it is.
set -u
cd "$(dirname "$0")/.."
suite=${DEBIAN_SUITE:-trixie} mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
echo "1..4"
if [ "$(id -u)" -ne 0 ]; then
	echo "Bail out! needs root for debootstrap and chroot: run sudo make test-debian"
	exit 1
fi
if [ -n "${DEBIAN_ROOT:-}" ]; then
	root=$DEBIAN_ROOT keep=1
	mkdir -p "$root"
else
	root=$(mktemp -d /tmp/debian-release.XXXXXX) keep=0
fi
log=$(mktemp /tmp/debian-release-log.XXXXXX)
mounted=()
# Unmounts what was mounted inside the release (innermost first) and removes what this run made.
cleanup() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null; done
	[ "$keep" = 1 ] || rm -rf --one-file-system "$root"
	rm -f "$log"
}
trap cleanup EXIT
# Prints the last lines of the log as TAP comments.
log_tail() { tail -n "${1:-20}" "$log" | sed 's/^/# /'; }

if [ -x "$root/usr/bin/apt-get" ] && [ -f "$root/etc/debian_version" ]; then
	echo "ok 1 - Debian $suite is in $root already (Debian $(cat "$root/etc/debian_version"))"
else
	command -v debootstrap > /dev/null ||
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap > "$log" 2>&1 || { echo "Bail out! debootstrap could not be installed"; log_tail; exit 1; }; }
	if debootstrap --variant=minbase "$suite" "$root" "$mirror" > "$log" 2>&1; then
		echo "ok 1 - a minimal Debian $suite (Debian $(cat "$root/etc/debian_version")) from $mirror"
	else
		echo "not ok 1 - debootstrap $suite from $mirror"
		log_tail
		exit 1
	fi
fi
for m in proc dev; do
	if [ "$m" = proc ]; then mount -t proc proc "$root/proc"; else mount --bind /dev "$root/dev"; fi && mounted+=("$root/$m")
done
cp /etc/resolv.conf "$root/etc/resolv.conf"
rm -rf "$root/root/repo"
mkdir -p "$root/root/repo"
git archive HEAD | tar -x -C "$root/root/repo"
# Runs $1 inside the release, in the copy of the repository, its output in the log.
inside() { chroot "$root" /bin/bash -c "cd /root/repo && $1" > "$log" 2>&1; }

if inside 'apt-get update -qq && tools/install-deps.sh' && inside 'tools/install-deps.sh' && [ ! -s "$log" ]; then
	echo "ok 2 - tools/install-deps.sh installs every package on Debian $suite, and a second run finds none missing"
else
	echo "not ok 2 - tools/install-deps.sh on Debian $suite"
	log_tail
	exit 1
fi
versions=$(chroot "$root" /bin/sh -c 'dpkg-query -W -f="\${Package} \${Version}, " gcc clang gnu-efi qemu-system-x86 ovmf nasm' 2>/dev/null)
echo "# Debian $suite: ${versions%, }"
if inside 'make -j2' && ! grep -q 'warning:' "$log"; then
	echo "ok 3 - make builds the loader and the kernel on Debian $suite with no warning"
else
	echo "not ok 3 - make on Debian $suite: $(grep -c 'warning:' "$log") warnings, or it failed"
	grep -E 'warning:|error:' "$log" | head -n 20 | sed 's/^/# /'
fi
start=$SECONDS
inside 'make test'
rc=$?
summary=$(grep -E '^Files=[0-9]+, Tests=[0-9]+' "$log" | tail -n 1)
if [ "$rc" = 0 ] && grep -q '^Result: PASS' "$log"; then
	echo "ok 4 - make test passes on Debian $suite in $((SECONDS - start)) s (${summary%%,  *})"
else
	echo "not ok 4 - make test on Debian $suite: exit $rc after $((SECONDS - start)) s"
	grep -E '^(tools|build)/.* (Failed|Wstat|Parse errors)|^not ok|Error [0-9]' "$log" | head -n 30 | sed 's/^/# /'
	log_tail 30
	# prove shows which files failed, not how: run the first three again, in the chroot, and show
	# their failing lines with what follows them.
	for f in $(sed -n 's/^\(\(tools\|build\)\/[^ ]*\) *(Wstat.*/\1/p' "$log" | sort -u | head -n 3); do
		echo "# --- $f run again on Debian $suite:"
		chroot "$root" /bin/bash -c "cd /root/repo && $f" 2>&1 | grep -A 15 '^not ok' | head -n 40 | sed 's/^/#   /'
	done
fi

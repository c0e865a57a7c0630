#!/bin/sh
# Installs the Debian packages the build and tests need; idempotent.
# As root it runs apt-get itself; otherwise it prints the exact command (sudo's, or su's where
# there is no sudo) and fails.
set -eu
PKGS="gnu-efi nasm qemu-system-x86 ovmf mtools gdisk binutils gcc make perl console-setup-linux clang libclang-rt-dev bc time"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "missing packages:$missing" >&2
	if command -v sudo >/dev/null; then
		echo "run: sudo apt-get update && sudo apt-get install -y$missing" >&2
	else   # a Debian installed with a root password has no sudo; su without - lacks /usr/sbin for dpkg
		echo "run (root's password): su - -c 'apt-get update && apt-get install -y$missing'" >&2
	fi
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing

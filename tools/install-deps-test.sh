#!/bin/bash
# TAP for prove: tools/install-deps.sh as someone who is not root, with a fake id (uid 1000) and a
# fake dpkg-query on a PATH of their own, so nothing is installed and no package database is read:
# the command it prints must be one the person can run. With every package missing it names them
# and prints sudo's command where sudo is installed, su's (su -, which sets root's PATH with the
# /usr/sbin that dpkg needs) where it is not, as on a Debian installed with a root password (it
# printed "sudo apt-get ..." there: "sudo: command not found"); with none missing it exits 0, silent.
set -u
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/install-deps-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# tap STATUS DESCRIPTION [FILE]: one TAP line, FILE shown on failure.
# shellcheck source=tools/tap-line.sh
. tools/tap-line.sh
mkdir -p "$tmp/bin"
for t in sh grep; do ln -s "$(type -P "$t")" "$tmp/bin/$t"; done
printf '#!/bin/sh\necho 1000\n' > "$tmp/bin/id"
# The fake dpkg-query: every package installed when FAKE_INSTALLED=1, none otherwise.
printf '#!/bin/sh\n[ "$FAKE_INSTALLED" = 1 ] && printf "install ok installed"\n' > "$tmp/bin/dpkg-query"
chmod +x "$tmp/bin/id" "$tmp/bin/dpkg-query"
# Runs install-deps.sh on the fake PATH; FAKE_INSTALLED as $1. Sets rc.
run() { PATH=$tmp/bin FAKE_INSTALLED=$1 "$(type -P sh)" tools/install-deps.sh > "$tmp/out" 2>&1; rc=$?; }

run 0
[ "$rc" = 1 ] && grep -q "^run (root's password): su - -c 'apt-get update && apt-get install -y gnu-efi .* time'$" "$tmp/out" \
	&& ! grep -q sudo "$tmp/out"
tap $? "without sudo it prints su's command for every package (exit $rc)" "$tmp/out"
printf '#!/bin/sh\nexit 1\n' > "$tmp/bin/sudo"
chmod +x "$tmp/bin/sudo"
run 0
[ "$rc" = 1 ] && grep -q '^run: sudo apt-get update && sudo apt-get install -y gnu-efi .* time$' "$tmp/out"
tap $? "with sudo it prints sudo's command for every package (exit $rc)" "$tmp/out"
run 1
[ "$rc" = 0 ] && ! [ -s "$tmp/out" ]
tap $? "with every package installed it exits 0 and prints nothing (exit $rc)" "$tmp/out"
echo "1..$n"
exit $((failed > 0))

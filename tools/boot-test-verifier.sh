#!/bin/bash
# TAP: the whole boot suite once more in verifier mode (checks after every operation, free-page
# patterns, guard pages) on a 64 MiB system PTE region; see tools/boot-test.sh.
set -eu
cd "$(dirname "$0")/.."
esp=$(mktemp -d /tmp/verifier-esp.XXXXXX)
trap 'rm -rf "$esp"' EXIT
cp -r build/esp-test/EFI build/esp-test/kernel.elf "$esp"/
echo "onexit=qemu verifier=1 syspte=64M exhaust=full" > "$esp/cmdline.txt"
ESP=$esp BOOT_SMP=1 tools/boot-test.sh   # one CPU: the single-CPU paths stay tested too

#!/bin/bash
# TAP: tools/loader-efi.sh, the step that makes \EFI\BOOT\BOOTX64.EFI from the linked loader, against
# the layouts GNU-EFI's linker script gives it on each Debian release. On the build's loader.so (this
# machine's layout) and on copies of it laid out as others are: a .rodata section of its own, as
# GNU-EFI 3.0.18 (Debian 13) makes it (its bytes must reach the image, or the loader prints garbage
# and goes nowhere), and an allocated section no release makes (refused by name, no image left).
set -u
cd "$(dirname "$0")/.."
so=build/loader.so
tmp=$(mktemp -d /tmp/loader-efi-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "1..4"
if ! make -s "$so" build/BOOTX64.EFI > "$tmp/build" 2>&1; then
	echo "not ok 1 - build the loader ($so)"
	tail -n 20 "$tmp/build" | sed 's/^/# /'
	exit 1
fi
# FILE's section names, one line.
sections() { LC_ALL=C objdump -h "$1" | awk '/^ *[0-9]+ / { printf "%s ", $2 }'; }
# Copies the loader with section $2 (allocated, loaded, read-only data) added at address $3, 4 KiB of
# random bytes kept in $tmp/$2.bin, into $1.
with_section() {
	head -c 4096 /dev/urandom > "$tmp/$2.bin"
	objcopy --add-section "$2=$tmp/$2.bin" --set-section-flags "$2=alloc,load,readonly,data" \
		--change-section-address "$2=$3" "$so" "$1" 2> "$tmp/objcopy.err"
}

if tools/loader-efi.sh "$so" "$tmp/plain.efi" 2> "$tmp/err" && cmp -s "$tmp/plain.efi" build/BOOTX64.EFI &&
	[[ " $(sections "$tmp/plain.efi")" == *" .text "* ]] && [[ " $(sections "$tmp/plain.efi")" == *" .reloc "* ]]; then
	echo "ok 1 - the build's loader: the image is the build's BOOTX64.EFI (sections: $(sections "$tmp/plain.efi"))"
else
	echo "not ok 1 - the build's loader's image (sections: $(sections "$tmp/plain.efi" 2>/dev/null))"
	sed 's/^/# /' "$tmp/err"
fi
# GNU-EFI 3.0.18's loader.so has its .rodata already: its own bytes must reach the image. An
# older layout gets one added, 4 KiB of random bytes, that must.
if [[ " $(sections "$so")" == *" .rodata "* ]]; then
	cp "$so" "$tmp/ro.so"
	objcopy -O binary -j .rodata "$so" "$tmp/.rodata.bin" 2> "$tmp/objcopy.err"
	what="the build's own .rodata"
else
	with_section "$tmp/ro.so" .rodata 0x40000
	what="an added .rodata"
fi
if [ -s "$tmp/.rodata.bin" ] && tools/loader-efi.sh "$tmp/ro.so" "$tmp/ro.efi" 2> "$tmp/err" &&
	objcopy -O binary -j .rodata "$tmp/ro.efi" "$tmp/ro.out" 2>> "$tmp/err" && cmp -s "$tmp/ro.out" "$tmp/.rodata.bin"; then
	echo "ok 2 - a loader with a .rodata section of its own (GNU-EFI 3.0.18's layout; $what): its $(stat -c %s "$tmp/.rodata.bin") bytes are in the image"
else
	echo "not ok 2 - a loader with a .rodata section of its own ($what): the image lacks its bytes (sections: $(sections "$tmp/ro.efi" 2>/dev/null))"
	sed 's/^/# /' "$tmp/err" "$tmp/objcopy.err"
fi
with_section "$tmp/odd.so" .data.odd 0x48000
if ! tools/loader-efi.sh "$tmp/odd.so" "$tmp/odd.efi" 2> "$tmp/err" && [ ! -e "$tmp/odd.efi" ] &&
	grep -q 'allocated sections the UEFI image would leave out: \.data\.odd$' "$tmp/err"; then
	echo "ok 3 - a loader with an allocated section the image would leave out (.data.odd): refused by name, no image left"
else
	echo "not ok 3 - a loader with a section left out (.data.odd): not refused, or an image left behind"
	sed 's/^/# /' "$tmp/err"
fi
if tools/loader-efi.sh "$so" 2> "$tmp/err"; [ $? = 2 ] && grep -q '^usage:' "$tmp/err"; then
	echo "ok 4 - without an image to make: usage, exit 2"
else
	echo "not ok 4 - without an image to make: want usage and exit 2"
fi

#!/bin/bash
# Usage: loader-efi.sh SO EFI
# Makes the UEFI application EFI (PE32+, subsystem 10) from the loader's linked shared object SO,
# copying the sections GNU-EFI's own rules copy, and fails (leaving no EFI) when SO has an
# allocated section the image would leave out. GNU-EFI's linker script differs between releases:
# 3.0.15 (Debian 12) merges .rodata into .data, 3.0.18 (Debian 13) gives it a section of its own;
# a section left out is never loaded, so the loader would read its strings and tables from whatever
# the firmware's pool held there, print garbage and go nowhere. Sections nothing reads at run time
# (symbol hash tables, symbol names, unwind tables, notes) are not copied.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 SO EFI" >&2
	exit 2
fi
so=$1 efi=$2
objcopy=${OBJCOPY:-objcopy} objdump=${OBJDUMP:-objdump}
copied=(.text .sdata .data .rodata .dynamic .dynsym .rel .rela '.rel.*' '.rela.*' .reloc)
unneeded='^\.(hash|gnu\.hash|dynstr|eh_frame|eh_frame_hdr|gcc_except_table|comment|note\..*)$'

# The names of FILE's sections whose flags include ALLOC (objdump -h: the name on an entry's
# first line, its flags on the second).
alloc_sections() {
	LC_ALL=C "$objdump" -h "$1" | awk '/^ *[0-9]+ / { name = $2; next } name != "" && /ALLOC/ { print name } { name = "" }'
}
# The names of all of FILE's sections.
all_sections() {
	LC_ALL=C "$objdump" -h "$1" | awk '/^ *[0-9]+ / { print $2 }'
}

args=()
for s in "${copied[@]}"; do args+=(-j "$s"); done
rm -f "$efi"
"$objcopy" "${args[@]}" --target efi-app-x86_64 --subsystem=10 "$so" "$efi"

in_efi=$(all_sections "$efi")
missing=()
while read -r s; do
	[ -n "$s" ] || continue
	[[ $s =~ $unneeded ]] && continue
	grep -qxF -- "$s" <<<"$in_efi" || missing+=("$s")
done < <(alloc_sections "$so")
if [ ${#missing[@]} -gt 0 ]; then
	rm -f "$efi"
	echo "$0: $so has allocated sections the UEFI image would leave out: ${missing[*]}" >&2
	echo "The loader would run without them. Copy them in $0 (its list of copied sections) or keep" >&2
	echo "them out of the link; GNU-EFI's linker script ($so's layout) decides which sections exist." >&2
	exit 1
fi

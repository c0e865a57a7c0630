#!/bin/bash
# Usage: check-loader-relocs.sh FILE
# Fails if the loader's shared object FILE carries any relocation other than R_X86_64_RELATIVE
# (or R_X86_64_NONE): GNU-EFI's crt0 applies only RELATIVE ones and silently skips the rest.
# Prints nothing on success.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 FILE" >&2
	exit 2
fi
file=$1

if ! out=$(LC_ALL=C readelf -rW "$file" 2>&1); then
	echo "$0: readelf -r $file failed:" >&2
	echo "$out" >&2
	exit 1
fi

# Relocation entries are the lines whose type column starts with R_; any other type is fatal.
bad=$(awk '$3 ~ /^R_/ && $3 != "R_X86_64_RELATIVE" && $3 != "R_X86_64_NONE"' <<<"$out")
if [ -n "$bad" ]; then
	echo "$0: $file has relocations that GNU-EFI's crt0 does not apply:" >&2
	echo "$bad" >&2
	echo "Avoid them (e.g. no references to undefined or preemptible symbols; build with -fpic" >&2
	echo "and link with -Bsymbolic) so that only R_X86_64_RELATIVE remains." >&2
	exit 1
fi
# A readelf warning/error (e.g. not an ELF file) must not pass silently.
if grep -qiE '^readelf: (error|warning)' <<<"$out"; then
	echo "$0: readelf complained about $file:" >&2
	echo "$out" >&2
	exit 1
fi

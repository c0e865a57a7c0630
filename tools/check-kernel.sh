#!/bin/sh
# Build-time checks of the kernel ELF: W^X program headers, one PT_NOTE holding the boot-information
# note the loader reads (include/bootinfo.h), the symbol-table link did not move any other symbol
# (compares against the first-pass link), and the region's free kept its prefetches
# (include/prefetch.h: a prefetch the compiler does not inline is deleted silently).
set -eu
elf=$1; first=$2
fail() { echo "check-kernel: $*" >&2; exit 1; }
readelf -lW "$elf" | awk '$1 == "LOAD" { f = $(NF-1); if (f ~ /W/ && f ~ /E/) bad = 1 } END { exit bad }' ||
	fail "a PT_LOAD segment of $elf is both writable and executable"
readelf -lW "$elf" | awk '$1 == "NOTE" { n++ } END { exit n != 1 }' &&
	readelf -nW "$elf" | grep -q '^ *rmkernel ' ||
	fail "$elf has no PT_NOTE with the rmkernel boot-information note the loader checks (linker.ld)"
nm -n --defined-only "$first" | grep -v -e ' ksyms_' -e ' __kernel_end$' > "$elf.syms0"
nm -n --defined-only "$elf" | grep -v -e ' ksyms_' -e ' __kernel_end$' > "$elf.syms1"
cmp -s "$elf.syms0" "$elf.syms1" || fail "symbols moved between the two links of $elf"
rm -f "$elf.syms0" "$elf.syms1"
n=$(objdump -d --no-show-raw-insn "$elf" |
	awk '/^[0-9a-f]+ <syspte_release/ { on = 1; next } on && /^$/ { on = 0 } on && /\tprefetch/ { n++ } END { print n + 0 }')
[ "$n" -ge 3 ] || fail "syspte_release in $elf has $n prefetch instructions, not 3 (mm/syspte.c; include/prefetch.h)"

#!/bin/bash
# The layering is enforced: in a scratch copy of the tree, each case adds one include from a layer
# above (or an arch-private header, or a relative path around the include paths, or a name of the
# x86 page-table encoding in mm/) to one file, and expects the compile of that file with the
# Makefile's own flags to fail on exactly that header where the include paths forbid it, and
# tools/check-layers.sh to fail in every case. The
# untouched copy compiles and passes the check. Prints TAP.
set -uo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r Makefile mk linker.ld include arch boot mm kernel tests tools "$tmp"/

# Each case: file | line to add | object the Makefile builds from it | compile must fail (1/0)
cases=(
	'arch/x86_64/cpu.c|#include "panic.h"|build/k/arch/x86_64/cpu.o|1'
	'arch/x86_64/cpu.c|#include "phys.h"|build/k/arch/x86_64/cpu.o|1'
	'arch/x86_64/trap.c|#include "kernel.h"|build/k/arch/x86_64/trap.o|1'
	'arch/x86_64/smp.c|#include "pt.h"|build/k/arch/x86_64/smp.o|1'
	'arch/x86_64/apic.c|#include "ksyms.h"|build/k/arch/x86_64/apic.o|1'
	'mm/bitset.c|#include "trap.h"|build/k/mm/bitset.o|1'
	'mm/bitset.c|#include "vm.h"|build/k/mm/bitset.o|1'
	'include/kprintf.h|#include "phys.h"|build/k/arch/x86_64/cpu.o|1'
	'boot/alloc.c|#include "phys.h"|build/b/boot/alloc.o|1'
	'boot/alloc.c|#include "trap.h"|build/b/boot/alloc.o|1'
	'tests/common/exhaust.c|#include "vm.h"|build/k/tests/common/exhaust.o|1'
	'kernel/panic.c|#include "x86.h"|build/k/kernel/panic.o|0'
	'mm/bitset.c|#include "../kernel/panic.h"|build/k/mm/bitset.o|0'
	'arch/x86_64/include/arch_pte_impl.h|#include "x86.h"|build/k/mm/pt.o|1'
	'arch/x86_64/include/arch_pte_impl.h|#include "syspte.h"|build/k/arch/x86_64/arch_mm.o|1'
	'mm/pt.c|#include "arch_pte_impl.h"|build/k/mm/pt.o|0'
	'kernel/vm.c|#include "arch_pte_impl.h"|build/k/kernel/vm.o|0'
	'mm/syspte.c|#define LAYERS_TEST_BIT X86_PTE_SW_MAP_START|build/k/mm/syspte.o|0'
)
echo "1..$((${#cases[@]} + 1))"

n=1
if (cd "$tmp" && tools/check-layers.sh) >/dev/null 2>&1 &&
	make -s -C "$tmp" build/k/arch/x86_64/cpu.o build/k/mm/bitset.o build/k/mm/pt.o build/b/boot/alloc.o >/dev/null 2>&1; then
	echo "ok $n - the tree as it is compiles and passes check-layers"
else
	echo "not ok $n - the tree as it is fails check-layers or a compile"
fi
rm -rf "$tmp/build"

for c in "${cases[@]}"; do
	n=$((n + 1))
	IFS='|' read -r file line obj must_fail <<<"$c"
	hdr=$(sed -E 's/.*"(.*)".*/\1/' <<<"$line")
	cp "$tmp/$file" "$tmp/$file.orig"
	printf '%s\n' "$line" | cat - "$tmp/$file.orig" > "$tmp/$file"
	out=$(make -s -C "$tmp" "$obj" 2>&1)
	compiled=$?
	(cd "$tmp" && tools/check-layers.sh) >/dev/null 2>&1
	checked=$?
	mv "$tmp/$file.orig" "$tmp/$file"
	rm -rf "$tmp/build"
	why=""
	if [ "$must_fail" = 1 ]; then
		if [ $compiled -eq 0 ]; then
			why="the compile succeeded"
		elif ! grep -q "$(basename "$hdr"): No such file" <<<"$out"; then
			why="the compile failed, but not on $hdr: $(head -3 <<<"$out")"
		fi
	fi
	[ $checked -ne 0 ] || why="${why:+$why; }check-layers passed"
	if [ -z "$why" ]; then
		echo "ok $n - $file with $line: $([ "$must_fail" = 1 ] && echo "compile error and ")check-layers error"
	else
		echo "not ok $n - $file with $line: $why"
	fi
done

#!/bin/bash
# The layering by name (the second line behind the Makefile's per-directory include paths): every
# header a layer's file includes must live in its own directory or in a layer below it, and an
# arch-private header is included by arch/ alone; mm/ names none of the page-table format's x86
# identifiers. Test and tool directories see what they test and are not checked. Usage: tools/check-layers.sh [tree] (default: this repository). Prints each
# violation with its file and line; exits 1 if there is one.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

# What each layer may include from, its own directory first; the same sets as INC_* in Makefile.
# arch/x86_64/include holds the architecture's inline page-table format, which include/arch_pte.h
# includes (INC_ARCH_PTE), and its inline CPU index, which include/arch_mm.h includes: the include
# path is open to the layers that see those headers, and PRIVATE below lets no one but include/
# and arch/ name them.
declare -A SEES=(
	[include]="include arch/x86_64/include"
	[arch/x86_64/include]="arch/x86_64/include include"
	[arch/x86_64]="arch/x86_64 arch/x86_64/include include"
	[mm]="mm include arch/x86_64/include"
	[boot]="boot include"
	[kernel]="kernel mm arch/x86_64 arch/x86_64/include include"
	[tests/common]="tests/common mm include arch/x86_64/include"
)
# Headers only their own layer may include: x86.h is the instruction wrappers and register bits;
# the kernel reaches the CPU through cpu.h, trap.h, tsc.h, serial.h, shutdown.h (arch/x86_64).
declare -A PRIVATE=(
	[arch/x86_64/x86.h]="arch/x86_64"
	[arch/x86_64/include/arch_pte_impl.h]="include arch/x86_64"
	[arch/x86_64/include/arch_cpu_impl.h]="include arch/x86_64"
)
# Every directory that holds project headers, where an include that resolves nowhere it may look
# is searched for, to name the layer it came from.
ALL_DIRS="include arch/x86_64/include arch/x86_64 mm boot kernel tests/common tests/host tests/boot tests/fuzz tests/bench tools"

bad=0
violation() {
	echo "check-layers: $1" >&2
	bad=1
}

# Normalises a relative path (no symlinks involved): a/b/../c -> a/c.
normpath() {
	local IFS=/ out=() p
	for p in $1; do
		case $p in
		'' | .) ;;
		..) [ ${#out[@]} -gt 0 ] && unset 'out[${#out[@]}-1]' ;;
		*) out+=("$p") ;;
		esac
	done
	echo "${out[*]}"
}

# Checks one include of file f (layer dir d): name as written, line number n.
check_include() {
	local f=$1 d=$2 name=$3 n=$4 found="" dir
	if [[ $name == */* ]]; then
		found=$(normpath "${f%/*}/$name")
		[ -f "$found" ] || return 0        # not a project file (a system header with a path)
	else
		for dir in "${f%/*}" ${SEES[$d]}; do
			if [ -f "$dir/$name" ]; then
				found=$dir/$name
				break
			fi
		done
		if [ -z "$found" ]; then
			for dir in $ALL_DIRS; do
				if [ -f "$dir/$name" ]; then
					violation "$f:$n includes \"$name\" from $dir/, which layer $d/ may not see (it sees ${SEES[$d]})"
					return
				fi
			done
			return 0                           # a system header
		fi
	fi
	local hdir=${found%/*}
	if [[ " ${SEES[$d]} " != *" $hdir "* ]]; then
		violation "$f:$n includes \"$name\" ($found), outside what layer $d/ may see (${SEES[$d]})"
		return
	fi
	if [ -n "${PRIVATE[$found]:-}" ] && [[ " ${PRIVATE[$found]} " != *" $d "* ]]; then
		violation "$f:$n includes \"$name\": $found is private to ${PRIVATE[$found]}/"
	fi
}

# grep hands over the include lines alone ("file:line:text"; the paths hold no colon): reading every
# line of the tree in bash took seconds, and tools/layers-test.sh runs this check once per case.
for d in "${!SEES[@]}"; do
	files=("$d"/*.[ch])
	[ -f "${files[0]}" ] || continue
	while IFS= read -r hit; do
		f=${hit%%:*} rest=${hit#*:}
		n=${rest%%:*} line=${rest#*:}
		[[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*[\"\<]([^\"\>]+)[\"\>] ]] &&
			check_include "$f" "$d" "${BASH_REMATCH[1]}" "$n"
	done < <(grep -nHE '^[[:space:]]*#[[:space:]]*include' "${files[@]}" || true)
done
# The inline format is visible to mm/ (it must be, to be inline), so its names are kept out by
# name: mm/ uses the functions of include/arch_pte.h, never the x86 encoding behind them.
while IFS= read -r hit; do
	violation "${hit%%:*}:$(cut -d: -f2 <<<"$hit") names the x86 page-table encoding (use include/arch_pte.h's functions)"
done < <(grep -nE '\b(X86_PTE_|X86_PAT_|x86_pte_)' mm/*.[ch] || true)

[ $bad -eq 0 ] || { echo "check-layers: a layer includes from above it (see the layering in Makefile, README \"Source layout\")" >&2; exit 1; }

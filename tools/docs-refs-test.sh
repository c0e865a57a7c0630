#!/bin/bash
# TAP: the documentation's references hold (tools/docs-refs-check.pl): every path, make target,
# identifier, command-line option, bug-check code, link, anchor and image that README.md and
# docs/*.md name exists, the README's layout table follows include/vmlayout.h, every option of kernel/cmdline.c is in the README's table and every code
# of mm/bugcheck_codes.h in the contract's, and every source, test and tool file is named in the
# README's Source layout table (every mm/ file in design.md's module table too), one test per kind.
# Then the self-test: in a scratch copy of the tree, each case plants one fault (a stale path, a
# missing target, a dangling anchor, an unnamed new file, ...) and expects the checker to report
# exactly that fault; an untouched copy must report what the tree does.
# "--self-test" runs only the self-test, "--check" only the checks of the tree.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
mode=${1:-all}
checker=tools/docs-refs-check.pl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0

# Appends line $2 to file $1 of a self-test copy by replacing the file (its hard link is broken).
docs_append() {
	{ cat "$1"; printf '%s\n' "$2"; } > "$1.new" && mv "$1.new" "$1"
}

# Reports test "$2" as passed when $1 is 0; the rest of stdin becomes its diagnostics otherwise.
docs_tap() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		failed=$((failed + 1))
		echo "not ok $n - $2"
		sed 's/^/# /'
	fi
}

# The checker's kinds of problem, each one test when the tree is checked.
kinds=(
	'path|every path and file name the docs give exists'
	'target|every make target the docs give is a rule of the Makefile or mk/'
	'ident|every identifier the docs give in backquotes is a name in the code'
	'option|every command-line option the docs give is one kernel/cmdline.c parses, and each is in the README'
	'link|every document and image the docs link to exists'
	'anchor|every #anchor the docs link to is a heading of its document'
	'bugcheck|every bug-check code the docs give is one of mm/bugcheck_codes.h, and contract.md section 8 gives each with its name and subcodes'
	'layout|every area of include/vmlayout.h is in the README'"'"'s Virtual memory layout table, each row at an address the header defines'
	'unnamed|every file of tools/, tests/, mm/, kernel/, arch/, boot/, include/ and mk/ is named in the README Source layout table, every mm/ file in design.md'"'"'s module table'
)

# Self-test cases: what the case plants | a line the checker must print (ERE) | commands run in
# the copy's root to plant it. The copy's files are hard links to one pristine copy, so a case
# changes a file only by replacing it (sed -i, docs_append, mv, a new file), never in place.
cases=(
	'a stale path in the README|^path: README\.md:[0-9]+: `mm/syspte_gone\.c` does not exist|sed -i "0,/^## Source layout/s//&\n\nSee mm\/syspte_gone.c./" README.md'
	'a stale path in design.md|^path: docs/design\.md:[0-9]+: `tests/host/test_gone\.c` does not exist|docs_append docs/design.md "Tested by \`tests/host/test_gone.c\`."'
	'a file renamed under its old name|^path: README\.md:[0-9]+: `fuzz_renamed_away\.c`: no file of that name|docs_append README.md "The harness \`fuzz_renamed_away.c\`."'
	'a glob matching nothing|^path: docs/contract\.md:[0-9]+: `mm/nosuch\*\.c` matches no file|docs_append docs/contract.md "All of \`mm/nosuch*.c\`."'
	'a missing make target in a code span|^target: README\.md:[0-9]+: `make no-such-target`: no such target|docs_append README.md "Run \`make no-such-target\`."'
	'a missing target after a variable|^target: docs/benchmarks\.md:[0-9]+: `make gone-bench`: no such target|docs_append docs/benchmarks.md "Run \`make BENCH_RAM=4G gone-bench\`."'
	'a missing target in an indented command|^target: README\.md:[0-9]+: `make rerun`: no such target|sed -i "s/^    make run  /    make rerun/" README.md'
	'a target removed from mk/|^target: README\.md:[0-9]+: `make bench-leaf`: no such target|sed -i "s/^bench-leaf:/bench-leaf-gone:/; s/\(\.PHONY:.*\) bench-leaf\b/\1/" mk/bench.mk mk/qemu.mk'
	'a dangling anchor in the same document|^anchor: README\.md:[0-9]+: link to #no-such-section: README\.md has no heading #no-such-section|docs_append README.md "See [below](#no-such-section)."'
	'an anchor into another document|^anchor: docs/design\.md:[0-9]+: link to contract\.md#9-bookkeeping: docs/contract\.md has no heading #9-bookkeeping|docs_append docs/design.md "See [the contract](contract.md#9-bookkeeping)."'
	'a heading renamed under its links|^anchor: README\.md:[0-9]+: link to #cpus: README\.md has no heading #cpus|sed -i "s/^## CPUs$/## Processors/" README.md'
	'a dangling anchor in a link a line break cuts|^anchor: README\.md:[0-9]+: link to #no-such-wrapped: README\.md has no heading #no-such-wrapped|docs_append README.md "See [the wrapped" && docs_append README.md "link](#no-such-wrapped)."'
	'a missing target in a code span a line break cuts|^target: docs/design\.md:[0-9]+: `make no-such-wrapped`: no such target|docs_append docs/design.md "Run \`make" && docs_append docs/design.md "no-such-wrapped\` first."'
	'a link to a missing document|^link: README\.md:[0-9]+: link to docs/gone\.md: docs/gone\.md does not exist|docs_append README.md "See [gone](docs/gone.md)."'
	'a link from docs/ written from the root|^link: docs/benchmarks\.md:[0-9]+: link to docs/contract\.md: docs/docs/contract\.md does not exist|docs_append docs/benchmarks.md "See [the contract](docs/contract.md)."'
	'a missing image|^link: docs/benchmarks\.md:[0-9]+: link to plot-gone\.png: docs/plot-gone\.png does not exist|docs_append docs/benchmarks.md "![plot](plot-gone.png)"'
	'an unknown function|^ident: docs/design\.md:[0-9]+: `syspte_reserve_gone` is named nowhere in the code|docs_append docs/design.md "Then \`syspte_reserve_gone()\` runs."'
	'an unknown WDK routine|^ident: docs/contract\.md:[0-9]+: `MmMapGoneSpace` is named nowhere in the code|docs_append docs/contract.md "| \`MmMapGoneSpace(Va)\` | nothing |"'
	'an unknown constant|^ident: README\.md:[0-9]+: `IOAPIC_GONE_VA` is named nowhere in the code|docs_append README.md "At \`IOAPIC_GONE_VA\`."'
	'a function renamed in the code|^ident: README\.md:[0-9]+: `phys_check_full` is named nowhere in the code|sed -i "s/\bphys_check_full\b/phys_check_whole/g" mm/phys.c mm/phys.h tests/host/*.c tests/boot/*.c kernel/*.c'
	'an unknown command-line option|^option: README\.md:[0-9]+: `noapic=1`: kernel/cmdline\.c has no option noapic|docs_append README.md "Boot with \`noapic=1\`."'
	'an option value the parser does not take|^option: README\.md:[0-9]+: `onexit=poweroff`: onexit takes no value poweroff|docs_append README.md "Boot with \`onexit=poweroff\`."'
	'a new option missing from the table|^option: README\.md:0: option quiet= \(kernel/cmdline\.c\) is not in the option table|sed -i "s/^\t\[CMDLINE_MAXCPUS\] = .*/&\n\t[CMDLINE_QUIET] = { \"quiet\", CMDLINE_T_BOOL, 4, cmdline_bool_names },/" kernel/cmdline.c'
	'a bug check the code never raises|^bugcheck: README\.md:[0-9]+: bug check 0x7F is no code or subcode of mm/bugcheck_codes\.h|docs_append README.md "It is bug check 0x7F."'
	'a bug-check name changed in the table|^bugcheck: docs/contract\.md:[0-9]+: code 0xC2 is BAD_POOL_CALLER in mm/bugcheck_codes\.h, not BAD_POOL_CALLERS|sed -i "s/^| 0xC2 | BAD_POOL_CALLER |/| 0xC2 | BAD_POOL_CALLERS |/" docs/contract.md'
	'a subcode not among its code'"'"'s|^bugcheck: docs/contract\.md:[0-9]+: subcode 0x99 is not one of BAD_POOL_CALLER'"'"'s|sed -i "s/the subcode 0x07, 0x0A, 0x42, 0x46/&, 0x99/" docs/contract.md'
	'a new code missing from the contract|^bugcheck: docs/contract\.md:0: code 0x0A IRQL_NOT_LESS_OR_EQUAL \(mm/bugcheck_codes\.h\) is not given in section 8|sed -i "s/^\tX(BUGCHECK_SPIN_LOCK_NOT_OWNED, 0x10, \"SPIN_LOCK_NOT_OWNED\") \\\\$/&\n\tX(BUGCHECK_IRQL_NOT_LESS_OR_EQUAL, 0x0A, \"IRQL_NOT_LESS_OR_EQUAL\") \\\\/" mm/bugcheck_codes.h'
	'a layout row dropped|^layout: README\.md:0: HPET_VA \(include/vmlayout\.h\) is not in the Virtual memory layout table|sed -i "/^| \`0x.*HPET_VA/d" README.md'
	'an area moved in the header|^layout: README\.md:[0-9]+: an area starts at 0xffffe00040001000, which include/vmlayout\.h does not define|sed -i "s/^\(#define HPET_VA *\)0xffffe00040001000ULL/\10xffffe00040003000ULL/" include/vmlayout.h'
	'an unnamed new mm/ file|^unnamed: README\.md:0: mm/syspte_new\.c is not named in the Source layout row of `mm/`|echo "int x;" > mm/syspte_new.c'
	'an unnamed new tool|^unnamed: README\.md:0: tools/new-check\.sh is not named in the Source layout row of `tools/`|echo "#!/bin/sh" > tools/new-check.sh'
	'an unnamed new host test|^unnamed: README\.md:0: tests/host/test_new_thing\.c is not named in the Source layout row of `tests/host/`|echo "int main(void) { return 0; }" > tests/host/test_new_thing.c'
	'an unnamed new arch header|^unnamed: README\.md:0: arch/x86_64/include/arch_new_impl\.h is not named in the Source layout row of `arch/x86_64/`|echo "" > arch/x86_64/include/arch_new_impl.h'
	'a new mm/ source missing from the design module table|^unnamed: docs/design\.md:0: mm/syspte_newer\.c is not named in the Modules table|echo "int y;" > mm/syspte_newer.c'
	'a row dropped from the design module table|^unnamed: docs/design\.md:0: mm/verifier\.c is not named in the Modules table|sed -i "/^| \`mm\/verifier.c\`/d" docs/design.md'
	'a file in a directory without a row|^unnamed: README\.md:0: tests/newdir/x\.c: no row of the Source layout table holds its directory|mkdir -p tests/newdir && echo "" > tests/newdir/x.c'
	'a harness renamed: its new name unnamed|^unnamed: README\.md:0: tests/fuzz/fuzz_regionx\.c is not named in the Source layout row of `tests/fuzz/`|mv tests/fuzz/fuzz_phys.c tests/fuzz/fuzz_regionx.c'
)

if [ "$mode" != --self-test ]; then
	perl "$checker" . >"$tmp/tree.out"
	for k in "${kinds[@]}"; do
		IFS='|' read -r kind what <<<"$k"
		grep "^$kind: " "$tmp/tree.out" >"$tmp/kind.out"
		[ -s "$tmp/kind.out" ]; found=$?
		docs_tap $((1 - found)) "docs: $what" <"$tmp/kind.out"
	done
	# A kind the checker printed that no test above covers is a failure too.
	grep -v -E "^($(IFS='|'; for k in "${kinds[@]}"; do printf '%s|' "${k%%|*}"; done)x): " "$tmp/tree.out" >"$tmp/other.out"
	[ -s "$tmp/other.out" ]; found=$?
	docs_tap $((1 - found)) "docs: the checker reports no other kind of problem" <"$tmp/other.out"
fi

if [ "$mode" != --check ]; then
	mkdir "$tmp/orig"
	cp -r README.md docs Makefile mk linker.ld include arch boot mm kernel tests tools "$tmp/orig/"
	[ -d .ci ] && cp -r .ci "$tmp/orig/"
	perl "$checker" "$tmp/orig" >"$tmp/base.out"
	diff <(perl "$checker" . | sort) <(sort "$tmp/base.out") >"$tmp/diff.out"
	docs_tap $? "self-test: a copy of the tree reports what the tree does" <"$tmp/diff.out"
	for c in "${cases[@]}"; do
		IFS='|' read -r what expect plant <<<"$c"
		rm -rf "$tmp/w"
		cp -al "$tmp/orig" "$tmp/w"
		(cd "$tmp/w" && eval "$plant") >"$tmp/plant.out" 2>&1
		perl "$checker" "$tmp/w" >"$tmp/case.out"
		rc=$?
		{
			if [ $rc -eq 0 ]; then
				echo "the checker passed the tree"
			elif ! grep -q -E "$expect" "$tmp/case.out"; then
				echo "no line matches: $expect"
				echo "it printed:"
				diff "$tmp/base.out" "$tmp/case.out" | grep '^>' | head -20
				cat "$tmp/plant.out"
			fi
		} >"$tmp/why.out"
		[ -s "$tmp/why.out" ]; found=$?
		docs_tap $((1 - found)) "self-test: $what is caught" <"$tmp/why.out"
	done
	perl "$checker" "$tmp/orig" | diff "$tmp/base.out" - >"$tmp/diff.out"
	docs_tap $? "self-test: no case changed the pristine copy its copies link to" <"$tmp/diff.out"
fi

echo "1..$n"
[ $failed -eq 0 ]

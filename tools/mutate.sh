#!/bin/bash
# Mutation testing of mm/ against the host tests (make mutate; not part of make test): proves the
# tests can fail where the code is wrong. For each source file given, every site of a small set of
# operators is listed (a comparison turned (< to <=, == to !=, ...), && and || swapped, a bitwise &
# or | swapped, a + 1 or - 1 turned, a returned true or false inverted, a call statement deleted);
# a deterministic sample of them (MUTATE_MAX per file, spread evenly over the file from an offset
# MUTATE_SEED picks; MUTATE_MAX=all for every site) is applied one at a time to a copy of the file,
# which is compiled and linked into the host tests in a scratch directory (the tree and build/ are
# never written). A mutant is killed when a test fails, crashes or runs past its time limit; the
# tests run fastest first and stop at the first failure. A mutant that survives every test is a
# failure (not ok) unless tests/mutants-equivalent.txt lists it with the reason it cannot change
# behaviour; a mutant that does not compile is reported and not counted.
#
# Lines that cannot be behaviour are skipped: comments, preprocessor lines, lines with a string
# literal (messages), assertions to their semicolon (KASSERT, spin_assert_held: debug checks,
# not behaviour; _Static_assert, STATIC_ASSERT: compile-time), and prefetches (hints by contract);
# no deletion removes a call of a checker (*verify*, *_check, *_dump). The tests built with extra
# sources (test_acpi, test_smp_plan, test_elf, test_cmdline, test_fbcon, test_summary_layout,
# test_textwrap, and the kernel's screen, summary and report tests: test_sysinfo_facts,
# test_summary_screens, test_panic_reports, test_input_edges, test_cmdline_usb_files,
# test_fbcon_hostile_geometry, test_ktest_runner) test no mm/ code of their own and are not run (nor could they link here: their extra source is
# not among the objects); nor is any test mk/host.mk builds with a recipe of its own (its own flags).
#
# The sources outside mm/ that host tests compile (the intake: boot/elf_check.c, kernel/cmdline.c,
# arch/x86_64/acpi.c, arch/x86_64/smp_plan.c, boot/memmap.c, ...; make mutate-intake) are mutated
# the same way, but each is built and run only into the host tests that compile it: those whose rule
# in mk/host.mk names the file as a prerequisite (linked or #included). A header is taken the same
# way (include/cpumask.h, named for test_cpumask; make mutate-cpumask): only the tests whose rules
# name it run, so a survivor is what those tests miss, whatever other tests would catch. They are built by make
# itself, in a copy of the tree in the scratch directory (mk/host.mk's recipes and flags; a mutant
# with -w added, as above), and a test binary is built again for every mutant. A test source that
# #includes the file while mk/host.mk does not list it for that test, or a rule of mk/host.mk for a
# test that has no source, is a failure (the list would be stale). A mutant that the first test's
# build refuses does not compile; one a later test's build refuses is killed. A test that fails
# unmutated with failing checks of its own (a finding kept as a failing test until the code is
# fixed; not a crash) is still run: its verdicts, each check's ok or not ok, are the baseline, and it
# kills a mutant when its verdicts differ from them (a check more or less failing, a crash cutting
# them short) or it overruns.
#
# usage: tools/mutate.sh FILE...   (from the top of the tree; HCC, HCFLAGS and HOST_SUPPORT from
#   make, or the defaults below; HCFLAGS and HOST_SUPPORT serve mm/ files only). Prints TAP, then
#   "N killed, N survived, ..." and "N passed, N failed"; exit status 1 when a mutant survived
#   unlisted or the unmutated tests fail.
#
# tests/mutants-equivalent.txt: one mutant a line, FILE OP OCCURRENCE CODE REASON separated by tabs
# (lines starting with # are comments), where CODE is the
# line's text with its leading and trailing blanks removed, OP the operator's name below and
# OCCURRENCE its index (from 0) among that operator's sites on the line; keyed by the code, not the
# line number, so edits elsewhere in the file keep the entry. Where the file has that code on more
# than one line (a bare "return false;"), OCCURRENCE@FUNCTION names the lines inside FUNCTION and
# OCCURRENCE@FUNCTION#K the K-th of them (from 0). A listed mutant that kills is
# reported, so stale entries show; an entry that names no site of its file (the line changed) is a
# failure.
set -u
cd "$(dirname "$0")/.."
HCC=${HCC:-gcc}
HCFLAGS=${HCFLAGS:--std=gnu11 -O1 -g -Wall -Wextra -Werror -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -pthread -Iinclude -Iarch/x86_64/include -Imm -Itests/host -Itests/common}
HOST_SUPPORT=${HOST_SUPPORT:-tests/host/host_support.c tests/host/fake_arch.c tests/host/host_machine.c}
MAX=${MUTATE_MAX:-40}
SEED=${MUTATE_SEED:-0}
EQUIV=tests/mutants-equivalent.txt
SKIP_TESTS="test_acpi test_smp_plan test_elf test_cmdline test_fbcon test_summary_layout test_textwrap test_sysinfo_facts test_summary_screens test_panic_reports test_input_edges test_cmdline_usb_files test_fbcon_hostile_geometry test_ktest_runner test_loader_memmap test_arch_cpuid test_acpi_map test_vm_dmap"
if [ $# -eq 0 ]; then
	echo "usage: tools/mutate.sh FILE... (mm/ sources, or sources host tests compile)" >&2
	exit 2
fi

# host_rules: one line per rule of mk/host.mk for a host test, "TEST RECIPE PREREQUISITE...", RECIPE
# 1 when the rule has a recipe of its own (continuation lines joined; a test may have several rules).
host_rules() {
	perl -e '
		my $text = do { local $/; <STDIN> };
		$text =~ s/\\\n/ /g;
		my @l = split /\n/, $text;
		for my $i (0 .. $#l) {
			next unless $l[$i] =~ m{^\$\(B\)/host/(test_\w+)\s*:(?!=)\s*(.*)$};
			my ($test, $prereqs) = ($1, $2);
			my $recipe = ($i < $#l && $l[$i + 1] =~ /^\t/) ? 1 : 0;
			print "$test $recipe $prereqs\n";
		}' <mk/host.mk
}
mapfile -t rules < <(host_rules)
for r in "${rules[@]}"; do
	read -r name _ <<<"$r"
	[ -f "tests/host/$name.c" ] || { echo "mutate: mk/host.mk has a rule for $name, which has no tests/host/$name.c" >&2; exit 2; }
	case "$r" in "$name 1 "*) SKIP_TESTS="$SKIP_TESTS $name";; esac
done
for name in $SKIP_TESTS; do
	[ -f "tests/host/$name.c" ] || { echo "mutate: SKIP_TESTS names $name, which has no tests/host/$name.c" >&2; exit 2; }
done

# tests_of FILE: the host tests whose rules in mk/host.mk name FILE, one a line, in name order.
tests_of() {
	printf '%s\n' "${rules[@]}" | awk -v f="$1" '{ for (i = 3; i <= NF; i++) if ($i == f) print $1 }' | sort -u
}
case "$MAX" in all|[1-9]|[1-9][0-9]|[1-9][0-9][0-9]|[1-9][0-9][0-9][0-9]) ;; *)
	echo "mutate: MUTATE_MAX must be 1..9999 or all, not '$MAX'" >&2; exit 2;; esac
case "$SEED" in [0-9]|[0-9][0-9]|[0-9][0-9][0-9]) ;; *)
	echo "mutate: MUTATE_SEED must be 0..999, not '$SEED'" >&2; exit 2;; esac
declare -A intake_tests=()  # FILE outside mm/ -> the host tests that compile it
any_mm=0
for f in "$@"; do
	case "$f" in mm/*.c) [ -f "$f" ] || { echo "mutate: no file $f" >&2; exit 2; }; any_mm=1;;
	*.c|*.h) [ -f "$f" ] || { echo "mutate: no file $f" >&2; exit 2; }
		t=$(tests_of "$f")
		[ -n "$t" ] || { echo "mutate: $f is neither an mm/ source nor a prerequisite of a host test in mk/host.mk" >&2; exit 2; }
		# a test that #includes the file itself must be listed with it
		for src in $(grep -lE "^#[[:space:]]*include[[:space:]]*\"([.][.]/)*$f\"" tests/host/test_*.c); do
			name=$(basename "$src" .c)
			grep -qx "$name" <<<"$t" || { echo "mutate: $src #includes $f, but mk/host.mk does not list it for $name" >&2; exit 2; }
		done
		intake_tests[$f]=$(echo $t);;
	*) echo "mutate: $f is not a C source" >&2; exit 2;; esac
done

work=$(mktemp -d /tmp/mutate.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/obj" "$work/t" "$work/m"

# sites FILE: one line per mutation site, "LINE OP OCC COL LEN REPLACEMENT" (COL from 0), in file
# order. The operators and the lines they may touch are here alone; apply() below uses the same
# column and length.
sites() {
	perl -ne '
		BEGIN { $inc = 0; $inassert = 0; }
		my $l = $_; chomp $l;
		my $code = $l;
		# comments blanked to spaces, so columns stay those of the line
		if ($inc) { if ($code =~ s{^.*?\*/}{" " x length($&)}e) { $inc = 0; } else { next; } }
		$code =~ s{/\*.*?\*/}{" " x length($&)}ge;
		if ($code =~ s{/\*.*$}{" " x length($&)}e) { $inc = 1; }
		$code =~ s{//.*$}{" " x length($&)}e;
		# an assertion statement, to its closing semicolon, whatever its lines
		if ($inassert) { $inassert = 0 if $code =~ /;\s*$/; next; }
		if ($code =~ /\bKASSERT\b|\bspin_assert_held\b|_Static_assert|\bSTATIC_ASSERT\b|\bBUILD_BUG/) {
			$inassert = 1 unless $code =~ /;\s*$/;
			next;
		}
		next if $code =~ /^\s*#/ || $code =~ /"/;
		next if $code =~ /^\s*$/ || $code =~ /prefetch/;
		my @ops = (
			["le", qr/(?<![<])<=/, "<"],
			["ge", qr/(?<![>])>=/, ">"],
			["lt", qr/(?<![<\-])<(?![<=])/, "<="],
			["gt", qr/(?<![>\-])>(?![>=])/, ">="],
			["eq", qr/==/, "!="],
			["ne", qr/!=/, "=="],
			["and", qr/&&/, "||"],
			["or", qr/\|\|/, "&&"],
			["band", qr/(?<=\s)&(?=\s)/, "|"],
			["bor", qr/(?<=\s)\|(?=\s)/, "&"],
			["plus1", qr/\+ 1\b/, "- 1"],
			["minus1", qr/(?<=\s)- 1\b/, "+ 1"],
			["true", qr/\breturn true\b/, "return false"],
			["false", qr/\breturn false\b/, "return true"],
		);
		for my $o (@ops) {
			my ($name, $re, $rep) = @$o;
			my $occ = 0;
			while ($code =~ /$re/g) {
				my $len = $+[0] - $-[0];
				print "$. $name $occ $-[0] $len $rep\n";
				$occ++;
			}
		}
		# a call statement alone on its line (not a return, not an assignment, not a declaration)
		if ($code =~ /^(\s*)([a-z_][a-z0-9_]*)\s*\(.*\);\s*$/ && $2 !~ /^(return|if|while|for|switch|sizeof)$|verify|_check$|_dump$/ && $code !~ /=/) {
			my $start = length($1);
			my $len = length($code =~ s/\s+$//r) - $start;
			print "$. del 0 $start $len (void)0;\n";
		}
	' "$1"
}

# functions FILE: "LINE NAME#K" for every line inside a function definition (from the line at column
# 0 that starts it: a name and its parameter list, no semicolon; attributes before the name are
# passed over), K the line's index (from 0) among the function's lines of the same code.
functions() {
	perl -ne '
		my $l = $_; $l =~ s/__attribute__\s*\(\(.*?\)\)\s*//g;
		if ($l =~ /^[A-Za-z_][^;=#]*?\b([A-Za-z_][A-Za-z0-9_]*)\s*\(/ && $l !~ /;\s*$/) { $f = $1; %k = (); }
		elsif ($l =~ /^[^\s{}]/) { $f = ""; }
		next if $f eq "";
		(my $c = $l) =~ s/^\s+|\s+$//g;
		print "$. $f#", $k{$c}++, "\n";
	' "$1"
}

# apply FILE LINE COL LEN REPLACEMENT OUT: FILE with LEN characters at COL of LINE replaced.
apply() {
	perl -e '
		my ($file, $line, $col, $len, $rep, $out) = @ARGV;
		open(my $in, "<", $file) or die; my @l = <$in>; close $in;
		substr($l[$line - 1], $col, $len) = $rep;
		open(my $o, ">", $out) or die; print $o @l; close $o;
	' "$@"
}

# The libraries' objects (mm/ and the fake machine), unmutated, and every test's object, once (when
# an mm/ file is given).
declare -A limit
objs=()
tests=()
order=()
[ $any_mm = 1 ] && for src in mm/*.c $HOST_SUPPORT; do
	o="$work/obj/$(echo "$src" | tr / _).o"
	if ! $HCC $HCFLAGS -c "$src" -o "$o" 2>"$work/err"; then
		echo "not ok 1 - $src does not compile unmutated"; sed 's/^/# /' "$work/err" | head -20; exit 1
	fi
	objs+=("$o")
done
[ $any_mm = 1 ] && for src in tests/host/test_*.c; do
	name=$(basename "$src" .c)
	case " $SKIP_TESTS " in *" $name "*) continue;; esac
	if ! $HCC $HCFLAGS -c "$src" -o "$work/t/$name.o" 2>"$work/err"; then
		echo "not ok 1 - $src does not compile"; sed 's/^/# /' "$work/err" | head -20; exit 1
	fi
	tests+=("$name")
done

# link NAME OBJ...: the test program NAME from its object and the given library objects.
link() {
	local name=$1; shift
	$HCC $HCFLAGS "$work/t/$name.o" "$@" -o "$work/m/$name" 2>"$work/err"
}

# The unmutated run: every test must pass; its time orders the mutants' runs (fastest first) and
# sets each test's limit (ten times its time, at least 20 s).
for name in "${tests[@]}"; do
	link "$name" "${objs[@]}" || { echo "not ok 1 - $name does not link"; exit 1; }
	t0=$(date +%s%N)
	if ! timeout 600 "$work/m/$name" >"$work/out" 2>&1; then
		echo "not ok 1 - $name fails unmutated"; tail -5 "$work/out" | sed 's/^/# /'; exit 1
	fi
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	l=$(( ms * 10 / 1000 + 1 )); [ $l -lt 20 ] && l=20
	limit[$name]=$l
	order+=("$ms $name")
done
[ ${#order[@]} -gt 0 ] && mapfile -t order < <(printf '%s\n' "${order[@]}" | sort -n | cut -d' ' -f2)

# The intake files' tests: a copy of the tree (its sources, not build/ nor .git) where make builds
# them; each file's tests built and run unmutated, in the order of their times (limits as above).
tree="$work/tree"
declare -A intake_order  # FILE -> its tests, fastest first
declare -A ms_of  # TEST -> its unmutated time in ms
# verdicts OUT: the TAP verdicts of a test's output, "ok N" or "not ok N" a line.
verdicts() {
	sed -nE 's/^((not )?ok [0-9]+).*/\1/p' "$1"
}
# intake_make TEST [HCC]: make's build of TEST in the copy, from nothing (the binary removed first).
intake_make() {
	rm -f "$tree/build/host/$1"
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$tree" HCC="${2:-$HCC}" "build/host/$1" >"$work/err" 2>&1
}
if [ ${#intake_tests[@]} -gt 0 ]; then
	mkdir -p "$tree"
	tar --exclude=./build --exclude=./.git -cf - . | tar -C "$tree" -xf -
	for f in "${!intake_tests[@]}"; do
		o=()
		for name in ${intake_tests[$f]}; do
			if [ -z "${limit[$name]:-}" ]; then
				intake_make "$name" || { echo "not ok 1 - $name does not build unmutated"; tail -20 "$work/err" | sed 's/^/# /'; exit 1; }
				t0=$(date +%s%N)
				(cd "$tree" && timeout 600 "build/host/$name" >"$work/out" 2>&1)
				rc=$?
				if [ $rc -ne 0 ] || grep -q '^not ok' "$work/out"; then
					# a finding kept as a failing test: its verdicts are the baseline
					if [ $rc -eq 124 ] || [ $rc -gt 1 ] || ! grep -q '^not ok' "$work/out"; then
						echo "not ok 1 - $name fails unmutated"; tail -5 "$work/out" | sed 's/^/# /'; exit 1
					fi
					verdicts "$work/out" >"$work/base.$name"
					echo "# $name fails unmutated ($(grep '^not ok' "$work/base.$name" | tr '\n' ',' | sed 's/,$//')): it kills a mutant only by another verdict"
				fi
				ms=$(( ($(date +%s%N) - t0) / 1000000 ))
				l=$(( ms * 10 / 1000 + 1 )); [ $l -lt 20 ] && l=20
				limit[$name]=$l
				ms_of[$name]=$ms
			fi
			o+=("${ms_of[$name]} $name")
		done
		intake_order[$f]=$(printf '%s\n' "${o[@]}" | sort -n | cut -d' ' -f2 | tr '\n' ' ')
	done
fi

# occ_names ENTRY SITE_OCC FUNCTION: whether a list entry's occurrence (OCC, OCC@NAME or OCC@NAME#K)
# names the site of occurrence SITE_OCC on a line of FUNCTION ("NAME#K", as functions() gives it).
occ_names() {
	case "$1" in "$2" | "$2@$3" | "$2@${3%%#*}") return 0;; esac
	return 1
}

# equivalent FILE OP OCC CODE FUNCTION: the reason the list gives for this mutant, or nothing.
equivalent() {
	[ -f "$EQUIV" ] || return 0
	local eocc reason
	while IFS=$'\t' read -r eocc reason; do
		occ_names "$eocc" "$3" "$5" && { printf '%s\n' "$reason"; return; }
	done < <(awk -F'\t' -v f="$1" -v op="$2" -v code="$4" '$1 == f && $2 == op && $4 == code { print $3 "\t" $5 }' "$EQUIV")
}

declare -A fn_of  # "FILE:LINE" -> the function the line is in

n=0; killed=0; survived=0; equiv=0; stillborn=0; stale=0; stale_entries=0
plan=()
for f in "$@"; do
	mapfile -t all < <(sites "$f")
	while read -r ln name; do fn_of["$f:$ln"]=$name; done < <(functions "$f")
	total=${#all[@]}
	if [ "$MAX" = all ] || [ "$total" -le "$MAX" ]; then
		pick=("${all[@]}")
	else
		pick=()
		for ((k = 0; k < MAX; k++)); do
			pick+=("${all[$(( (k * total / MAX + SEED) % total ))]}")
		done
	fi
	if [ -n "${intake_tests[$f]:-}" ]; then
		echo "# $f: ${#pick[@]} of $total sites (tests: ${intake_tests[$f]})"
	else
		echo "# $f: ${#pick[@]} of $total sites"
	fi
	# every entry of the list for this file names a site the file still has
	if [ -f "$EQUIV" ]; then
		while IFS=$'\t' read -r ef eop eocc ecode _; do
			[ "$ef" = "$f" ] || continue
			found=0
			while read -r ln; do
				while read -r socc; do
					occ_names "$eocc" "$socc" "${fn_of["$f:$ln"]:-}" && found=1
				done < <(printf '%s\n' "${all[@]}" | awk -v l="$ln" -v o="$eop" '$1 == l && $2 == o { print $3 }')
			done < <(awk -v c="$ecode" '{ t = $0; sub(/^[ \t]+/, "", t); sub(/[ \t]+$/, "", t); if (t == c) print NR }' "$f")
			if [ $found = 0 ]; then
				stale_entries=$((stale_entries + 1))
				echo "# $EQUIV: no site $eop#$eocc of '$ecode' in $f: remove or correct the entry"
			fi
		done < <(grep -v '^#' "$EQUIV")
	fi
	for s in "${pick[@]}"; do plan+=("$f $s"); done
done
echo "1..${#plan[@]}"
for p in "${plan[@]}"; do
	read -r f line op occ col len rep <<<"$p"
	n=$((n + 1))
	code=$(sed -n "${line}p" "$f" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
	what="$f:$line $op#$occ: $code"
	by=""
	if [ -n "${intake_tests[$f]:-}" ]; then
		# built by make in the copy, the mutant in the file's place; the first build that fails is a
		# mutant that does not compile
		apply "$f" "$line" "$col" "$len" "$rep" "$tree/$f"
		first=1; nocompile=0
		for name in ${intake_order[$f]}; do
			if ! intake_make "$name" "$HCC -w"; then
				[ $first = 1 ] && nocompile=1 || by="$name (does not build)"
				break
			fi
			first=0
			(cd "$tree" && timeout "${limit[$name]}" "build/host/$name" >"$work/out" 2>&1; exit $?) 2>/dev/null
			rc=$?
			if [ -f "$work/base.$name" ] && [ $rc -ne 124 ]; then
				verdicts "$work/out" | cmp -s - "$work/base.$name" || { by="$name (another verdict than unmutated)"; break; }
			elif [ $rc -ne 0 ] || grep -q '^not ok' "$work/out"; then
				[ $rc -eq 124 ] && by="$name (past its ${limit[$name]} s limit)" || by="$name"
				break
			fi
		done
		cp -p "$f" "$tree/$f"
		if [ $nocompile = 1 ]; then
			stillborn=$((stillborn + 1))
			echo "ok $n - does not compile (not counted): $what"
			continue
		fi
	else
		mut="$work/src/$f"
		mkdir -p "$(dirname "$mut")"
		apply "$f" "$line" "$col" "$len" "$rep" "$mut"
		mo="$work/mut.o"
		# compiled as if it were the file itself (its includes found from the file's directory, its
		# name in messages the file's), its warnings off: a mutant is judged by the tests, not by what
		# the compiler says of its style
		if ! $HCC $HCFLAGS -w -Wno-error -I"$(dirname "$f")" -fmacro-prefix-map="$work/src/"= -c "$mut" -o "$mo" 2>"$work/err"; then
			stillborn=$((stillborn + 1))
			echo "ok $n - does not compile (not counted): $what"
			continue
		fi
		mobjs=()
		me="$work/obj/$(echo "$f" | tr / _).o"
		for o in "${objs[@]}"; do [ "$o" = "$me" ] && mobjs+=("$mo") || mobjs+=("$o"); done
		for name in "${order[@]}"; do
			link "$name" "${mobjs[@]}" || { by="$name (does not link)"; break; }
			# in a subshell whose stderr is closed: the shell's own line about a crashed program is noise
			(timeout "${limit[$name]}" "$work/m/$name" >"$work/out" 2>&1; exit $?) 2>/dev/null
			rc=$?
			if [ $rc -ne 0 ] || grep -q '^not ok' "$work/out"; then
				[ $rc -eq 124 ] && by="$name (past its ${limit[$name]} s limit)" || by="$name"
				break
			fi
		done
	fi
	reason=$(equivalent "$f" "$op" "$occ" "$code" "${fn_of["$f:$line"]:-}")
	if [ -n "$by" ]; then
		killed=$((killed + 1))
		if [ -n "$reason" ]; then
			stale=$((stale + 1))
			echo "ok $n - killed by $by: $what # listed as equivalent in $EQUIV: remove the entry"
		else
			echo "ok $n - killed by $by: $what"
		fi
	elif [ -n "$reason" ]; then
		equiv=$((equiv + 1))
		echo "ok $n - equivalent ($reason): $what"
	else
		survived=$((survived + 1))
		echo "not ok $n - survived every test: $what (-> $rep)"
	fi
done
echo "# $killed killed, $survived survived, $equiv equivalent (listed), $stillborn did not compile, $stale listed but killed, $stale_entries entries naming no site"
echo "$((n - survived)) passed, $((survived + stale_entries)) failed"
[ "$survived" -eq 0 ] && [ "$stale_entries" -eq 0 ]

#!/bin/bash
# TAP: the kernel command line as people write \cmdline.txt, booted for real (loader + kernel).
# Each case writes a cmdline.txt byte for byte, boots it and checks QEMU's exit code and the
# lines the serial log must (and must not) hold: a message naming every word that had no effect,
# the summary's line naming them all again (the screen's "Command line ignored:" row; an overridden
# word is no mistake and not named there), the options in effect, a ktest= prefix naming no test failing the suite, maxcpus= starting only
# that many of QEMU's CPUs. The cases run only the cmdline_ (or smp_) tests, a few seconds each; the
# whole suite at other sizes is tools/syspte-sizes.sh.
set -u
cd "$(dirname "$0")/.."
src=build/esp-test

# Windows Notepad: UTF-8 byte-order mark, CRLF, a tab, a comment, a NUL byte, and every class of
# word the issue found ignored without a word.
notepad() {
	printf '\xef\xbb\xbfonexit=qemu\r\nktest=cmdline_\tmmapdump=0 ptdump=0\r\n# a comment: verifier=1\r\n'
	printf 'syspte=0x4000000 syspte=-64M syspte= syspte=99999999999G syspte=1T syspte=64MB syspte=1.5G\r\n'
	printf 'onexti=halt verifier=yes\0 exhaust=full exhaust=budget sysp\xc3\xa9te=4M\r\n'
}
# Notepad's "Unicode": UTF-16LE with a byte-order mark.
utf16() { printf 'onexit=qemu\r\nktest=cmdline_ syspte=64M\r\n' | iconv -f ASCII -t UTF-16LE | { printf '\xff\xfe'; cat; }; }
# Longer than the loader's 511 bytes: the rest is reported, and the word cut in two ignored.
# (27 + 2 + 473 + 1 bytes before syspte=640M: the loader keeps "syspte=6" of it.)
long() {
	printf 'onexit=qemu ktest=cmdline_\n# '
	printf '%473s' '' | tr ' ' x
	printf '\nsyspte=640M\n'
}
# As long, but a word ends at the last byte passed and a newline follows it: the loader says the cut
# fell between words (BOOTINFO_CMDLINE_CUT_AT_SEP), so the word takes effect whole.
# (27 + 2 + 472 + 1 bytes, then "syspte=6M" is bytes 502..510 and byte 511 the newline.)
longwhole() {
	printf 'onexit=qemu ktest=cmdline_\n# '
	printf '%472s' '' | tr ' ' x
	printf '\nsyspte=6M\nsyspte=640M\n'
}
nomatch() { printf 'onexit=qemu ktest=no_such_test\n'; }
# A benchmark's name misspelt (make bench-leaf boots ktest=bench_large_leaf): reported, and the boot
# fails instead of running nothing or the suite without the benchmark.
benchtypo() { printf 'onexit=qemu ktest=bench_leaf\n'; }
# maxcpus= on a 4-CPU machine: a refused value, then 2 (the smp_ tests only).
maxcpus() { printf 'onexit=qemu ktest=smp_ maxcpus=0 maxcpus=2\n'; }
# More overridden words than the 32 diagnostics kept: every word took effect, so the summary names
# none as ignored (the dropped diagnostics are overrides, not ignored words).
overrides() { printf 'onexit=qemu ktest=cmdline_'; for _ in $(seq 40); do printf ' ptdump=0'; done; printf '\n'; }

# name | writer | expected exit | strings the log must hold (separated by ;) | strings it must not hold
#   [| QEMU arguments]
cases=(
	"notepad|notepad|33|rmkernel: booting; cmdline \"onexit=qemu ktest=cmdline_ mmapdump=0 ptdump=0 # a comment: verifier=1 syspte=0x4000000;\
cmdline: \"syspte=0x4000000\" ignored: not a decimal size (hex and signs are not accepted); using syspte=1G;\
cmdline: \"syspte=-64M\" ignored: not a decimal size;cmdline: \"syspte=\" ignored: empty value; using syspte=1G;\
cmdline: \"syspte=99999999999G\" ignored: larger than 512G; using syspte=1G;\
cmdline: \"syspte=1T\" ignored: unknown suffix (K, M or G); using syspte=1G;cmdline: \"syspte=64MB\" ignored: unknown suffix;\
cmdline: \"syspte=1.5G\" ignored: a fraction (sizes are whole numbers with an optional K, M or G: 1536M, not 1.5G); using syspte=1G;\
cmdline: \"onexti=halt\" ignored: no such option (did you mean onexit?);\
cmdline: \"verifier=yes\" ignored: not 0, 1, off or on; using verifier=0;\
cmdline: \"exhaust=full\" overridden by a later exhaust=; using exhaust=budget;\
cmdline: \"sysp\\xc3\\xa9te=4M\" ignored: a byte that is not printable ASCII;\
cmdline: in effect: onexit=qemu syspte=1G ktest=cmdline_ mmapdump=0 ptdump=0 verifier=0 exhaust=budget crashtest=none;\
summary: command line ignored: \"syspte=0x4000000\" \"syspte=-64M\" \"syspte=\" \"syspte=99999999999G\" \"syspte=1T\" \
\"syspte=64MB\" \"syspte=1.5G\" \"onexti=halt\" \"verifier=yes\" \"sysp\\xc3\\xa9te=4M\" (the cmdline: lines say why);\
syspte: region 0xffffc00000000000, 1024 MiB;SELF-TEST PASSED|page tables at 0x;attr ;verifier: on;\"exhaust=full\" \"sysp"
	"utf16|utf16|33|cmdline: in effect: onexit=qemu syspte=64M ktest=cmdline_;syspte: region 0xffffc00000000000, 64 MiB;SELF-TEST PASSED|ignored"
	"long|long|33|cmdline: \"syspte=6\" ignored: cut at the end of the input (possibly a fragment); using syspte=1G;\
cmdline: the command line is longer than the 511 bytes read; the rest is ignored;\
summary: command line ignored: \"syspte=6\" (the rest after 511 bytes) (the cmdline: lines say why);\
SELF-TEST PASSED|syspte: region 0xffffc00000000000, 6 MiB"
	"long-cut-between-words|longwhole|33|cmdline: the command line is longer than the 511 bytes read; the rest is ignored;\
cmdline: in effect: onexit=qemu syspte=6M ktest=cmdline_;syspte: region 0xffffc00000000000, 6 MiB;SELF-TEST PASSED|\
cut at the end of the input;syspte=640M;640 MiB"
	"ktest-names-nothing|nomatch|35|cmdline: ktest=no_such_test names no test; the suite will fail;\
not ok 1 ktest_filter_names_a_test;0 passed, 1 failed;SELF-TEST FAILED|SELF-TEST PASSED;summary: command line"
	"ktest-bench-misspelt|benchtypo|35|cmdline: ktest=bench_leaf names no test; the suite will fail;\
not ok 1 ktest_filter_names_a_test;0 passed, 1 failed;SELF-TEST FAILED|SELF-TEST PASSED;bench_large_leaf:"
	"maxcpus|maxcpus|33|cmdline: \"maxcpus=0\" ignored: not a whole number from 1 to 255; using maxcpus=2;\
cmdline: in effect: onexit=qemu syspte=1G ktest=smp_ mmapdump=0 ptdump=0 verifier=0 exhaust=budget crashtest=none maxcpus=2;\
smp: APIC id 2 not started: beyond maxcpus=2;smp: APIC id 3 not started: beyond maxcpus=2;smp: 2 of 4 CPUs started;\
summary: command line ignored: \"maxcpus=0\" (the cmdline: lines say why);\
, 0 failed, 0 skipped;SELF-TEST PASSED|smp: 4 of 4|-smp 4"
	"overrides|overrides|33|cmdline: \"ptdump=0\" overridden by a later ptdump=; using ptdump=0;\
cmdline: 7 more problems not shown;SELF-TEST PASSED|summary: command line ignored;ignored:"
)
# run_case N CASE: boots case number N and prints its TAP line (and the log when it fails).
run_case() {
	local n=$1 c=$2 name writer want musts mustnots qargs esp log rc missing present s m
	IFS='|' read -r name writer want musts mustnots qargs <<< "$c"
	esp=$(mktemp -d /tmp/cmdline-esp.XXXXXX)
	cp -r "$src"/EFI "$src"/kernel.elf "$esp"/
	"$writer" > "$esp/cmdline.txt"
	log=$esp.log
	# shellcheck disable=SC2086
	tools/qemu.sh --esp "$esp" --serial "$log" --timeout 90 ${qargs:-}
	rc=$?
	tr -d '\r' < "$log" > "$log.txt"
	missing="" present=""
	IFS=';' read -r -a m <<< "$musts"
	for s in "${m[@]}"; do grep -qF -- "$s" "$log.txt" || missing="$missing [$s]"; done
	IFS=';' read -r -a m <<< "$mustnots"
	for s in "${m[@]}"; do grep -qF -- "$s" "$log.txt" && present="$present [$s]"; done
	if [ "$rc" = "$want" ] && [ -z "$missing$present" ]; then
		echo "ok $n - $name cmdline.txt: exit $rc, every word's effect or a message naming it"
	else
		echo "not ok $n - $name cmdline.txt: exit $rc (want $want), missing:$missing; unwanted:$present"
		sed 's/^/# /' "$log.txt" | grep -v '^# \(  order\|buddy\|  [a-z ]* [0-9]* KiB\)' | tail -n 40
	fi
	rm -rf "$esp" "$log" "$log.txt"
}

# The cases run CMDLINE_TEST_JOBS at a time (default 2: most boots are one QEMU thread), their lines
# printed in order once all are done.
# shellcheck source=tools/tap-cases.sh
. tools/tap-cases.sh
tap_run_cases "${CMDLINE_TEST_JOBS:-2}" run_case "${cases[@]}"

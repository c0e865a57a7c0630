#!/bin/bash
# TAP: the boot adapter (tools/boot-test.sh, through tools/qemu.sh) judged by prove against a fake
# QEMU on PATH that writes a given serial log and ends as asked: each way a boot can go wrong must
# make prove fail, and the whole, passing boot pass (so the fakes are the real thing's shape). The
# ways: QEMU crashes, is killed, hangs (the timeout must end it), exits with a code the KTAP
# contradicts; the KTAP is cut short, has a line garbled or twice, a SKIP without its reason, a
# TODO (prove counts both as passed), a summary counting other lines; no KTAP; no "smp: N of N CPUs
# started" of the boot's own (a test's line about a made-up machine is no proof); OVMF missing.
# Also tools/matrix.sh on the same fake: a whole boot passes, the CPU line only a test's fails, and
# --only naming no configuration must not end "all 0 configurations passed".
# And tools/qemu.sh --interactive (make run, make debug), which execs QEMU: QEMU gets the copy of
# OVMF's variables and exits with its own status, and no copy is left behind (the EXIT trap that
# removes it in batch mode never runs after exec; each make run left 528 KiB in /tmp).
set -u
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/adapter-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/esp"
echo "onexit=qemu" > "$tmp/esp/cmdline.txt"
# The fake: copies $FAKE_LOG to the -serial file:PATH argument, then ends as FAKE_END says: exit
# (status FAKE_RC), kill (SIGKILL, as the OOM killer would) or hang (until the timeout ends it).
cat > "$tmp/bin/qemu-system-x86_64" <<'EOF'
#!/bin/bash
for a; do case $a in file:*) cp "$FAKE_LOG" "${a#file:}";; esac; done
case $FAKE_END in
kill) kill -KILL $$;;
hang) exec sleep 60;;
esac
exit "$FAKE_RC"
EOF
chmod +x "$tmp/bin/qemu-system-x86_64"

# A whole boot of three tests, one skipped with its reason, on serial (CRLF as the kernel writes it).
good() {
	printf '%s\r\n' 'rmkernel: booting' 'smp: 2 of 2 CPUs started' 'KTAP version 1' '1..3' 'ok 1 phys_a' \
		'ok 2 pt_b # SKIP CPU without NX' 'ok 3 zz_c' '# 2 passed, 0 failed, 1 skipped' \
		'2 passed, 0 failed, 1 skipped' 'SELF-TEST PASSED'
}
failed() { good | sed -e 's/^ok 3 zz_c/not ok 3 zz_c/' -e 's/2 passed, 0 failed/1 passed, 1 failed/'; }
crashed() { good | head -n 5; }
cut() { good | head -n 6; }
garbled() { good | sed 's/^ok 2 pt_b/k 2 pt_b/'; }
twice() { good | sed '/^ok 1 phys_a/p'; }
skip_bare() { good | sed 's/ # SKIP CPU without NX/ # SKIP/'; }
skip_bare_lower() { good | sed 's/ # SKIP CPU without NX/ #skip  /'; }
todo() { failed | sed 's/^not ok 3 zz_c/& # TODO later/'; }
miscounted() { good | sed 's/2 passed, 0 failed, 1 skipped/3 passed, 0 failed, 0 skipped/'; }
renumbered() { good | sed 's/^ok 3 zz_c/ok 4 zz_c/'; }
no_ktap() { good | head -n 2; }
no_smp() { good | sed '/^smp:/d'; }
# The bring-up's line missing, a test's line about a made-up machine of the same shape in the KTAP.
smp_in_test() { no_smp | sed 's/^ok 1 phys_a/smp: 2 of 2 CPUs started in 1 ms (xAPIC, maxcpus=1)\r\n&/'; }

# name | log writer | how QEMU ends (exit, kill, hang) | its exit status | prove's verdict (pass/fail)
#   [| OVMF_DIR]
cases=(
	"a whole passing boot|good|exit|33|pass"
	"the pass code with a failed test|failed|exit|33|fail"
	"the fail code with every test ok|good|exit|35|fail"
	"QEMU crashes mid-suite|crashed|exit|1|fail"
	"QEMU killed (SIGKILL) after a whole log|good|kill|0|fail"
	"the guest hangs after a whole log|good|hang|0|fail"
	"QEMU ends without an exit code (triple fault, -no-reboot)|good|exit|0|fail"
	"KTAP cut short, pass code|cut|exit|33|fail"
	"a result line garbled|garbled|exit|33|fail"
	"a result line twice|twice|exit|33|fail"
	"a result numbered out of order|renumbered|exit|33|fail"
	"a SKIP without a reason|skip_bare|exit|33|fail"
	"a #skip without a reason, lower case|skip_bare_lower|exit|33|fail"
	"a failed test marked TODO|todo|exit|33|fail"
	"a summary counting other lines|miscounted|exit|33|fail"
	"no KTAP at all, pass code|no_ktap|exit|33|fail"
	"no smp line|no_smp|exit|33|fail"
	"no smp line of the boot's own, one a test printed|smp_in_test|exit|33|fail"
	"OVMF files missing|good|exit|33|fail|$tmp/no-ovmf"
)
echo "1..$((${#cases[@]} + 4))"
n=0
for c in "${cases[@]}"; do
	n=$((n + 1))
	IFS='|' read -r name writer end code want ovmf <<< "$c"
	"$writer" > "$tmp/log"
	start=$SECONDS
	PATH="$tmp/bin:$PATH" FAKE_LOG=$tmp/log FAKE_END=$end FAKE_RC=$code ESP=$tmp/esp BOOT_SMP=2 BOOT_TIMEOUT=5 \
		OVMF_DIR=${ovmf:-/usr/share/OVMF} prove -v --exec '' tools/boot-test.sh > "$tmp/out" 2>&1
	rc=$?
	got=pass; [ "$rc" = 0 ] || got=fail
	secs=$((SECONDS - start))
	if [ "$got" = "$want" ] && [ "$secs" -le 20 ]; then
		echo "ok $n - $name: prove says $want (${secs}s)"
	else
		echo "not ok $n - $name: prove says $got, want $want (${secs}s, at most 20)"
		sed 's/^/# /' "$tmp/out" | tail -n 30
	fi
done
# The matrix (one configuration, smp-2, in a scratch tree of its own with stand-in build files):
# a whole boot passes, and one whose CPU count is only in a line a test printed fails.
mkdir -p "$tmp/tree/tools" "$tmp/tree/include" "$tmp/tree/build"
cp tools/matrix.sh "$tmp/tree/tools/"
cp include/cpumask.h "$tmp/tree/include/"
: > "$tmp/tree/build/BOOTX64.EFI"
: > "$tmp/tree/build/kernel.elf"
noskip() { good | sed -e 's/ # SKIP CPU without NX//' -e 's/2 passed, 0 failed, 1 skipped/3 passed, 0 failed, 0 skipped/'; }
noskip_smp_in_test() { smp_in_test | sed -e 's/ # SKIP CPU without NX//' -e 's/2 passed, 0 failed, 1 skipped/3 passed, 0 failed, 0 skipped/'; }
for c in "a whole boot|noskip|0" "the CPU count only in a test's line|noskip_smp_in_test|1"; do
	IFS='|' read -r name writer want <<< "$c"
	n=$((n + 1))
	"$writer" > "$tmp/log"
	PATH="$tmp/bin:$PATH" FAKE_LOG=$tmp/log FAKE_END=exit FAKE_RC=33 "$tmp/tree/tools/matrix.sh" --only smp-2 \
		> "$tmp/out" 2>&1
	rc=$?
	if [ "$rc" = "$want" ]; then
		echo "ok $n - matrix.sh, $name: exit $rc"
	else
		echo "not ok $n - matrix.sh, $name: exit $rc, want $want"
		sed 's/^/# /' "$tmp/out" | tail -n 20
	fi
done
# The matrix: a selection of no configuration is refused, not "all 0 configurations passed".
n=$((n + 1))
tools/matrix.sh --only , > "$tmp/out" 2>&1
rc=$?
if [ "$rc" != 0 ] && grep -q 'names no configuration' "$tmp/out"; then
	echo "ok $n - matrix.sh --only , (no name): refused with exit $rc"
else
	echo "not ok $n - matrix.sh --only , (no name): exit $rc, want non-zero naming the empty selection"
	sed 's/^/# /' "$tmp/out" | tail -n 5
fi
# qemu.sh --interactive with a fake QEMU that records whether its variables file (pflash unit 1)
# holds OVMF_VARS_4M.fd's bytes and the file's real name (" (deleted)" once removed), then exits 33.
n=$((n + 1))
mkdir -p "$tmp/bin-run" "$tmp/ovmf"
echo code > "$tmp/ovmf/OVMF_CODE_4M.fd"
echo vars > "$tmp/ovmf/OVMF_VARS_4M.fd"
cat > "$tmp/bin-run/qemu-system-x86_64" <<'EOF'
#!/bin/bash
for a; do case $a in *unit=1,file=*)
	p=${a##*file=}
	if cmp -s "$p" "$OVMF_DIR/OVMF_VARS_4M.fd"; then echo same; else echo differs; fi
	readlink -f "$p";;
esac; done > "$FAKE_REC"
exit 33
EOF
chmod +x "$tmp/bin-run/qemu-system-x86_64"
PATH="$tmp/bin-run:$PATH" OVMF_DIR=$tmp/ovmf FAKE_REC=$tmp/rec tools/qemu.sh --esp "$tmp/esp" --interactive \
	< /dev/null > "$tmp/out" 2>&1
rc=$?
vars=$(sed -n 2p "$tmp/rec")
vars=${vars% (deleted)}
if [ "$rc" = 33 ] && [ "$(head -n 1 "$tmp/rec")" = same ] && [ -n "$vars" ] && ! [ -e "$vars" ]; then
	echo "ok $n - qemu.sh --interactive: QEMU's exit status, OVMF's variables given, no copy left ($vars)"
else
	echo "not ok $n - qemu.sh --interactive: exit $rc (want 33), variables $(head -n 1 "$tmp/rec"), copy $vars left"
	sed 's/^/# /' "$tmp/out" "$tmp/rec"
	case $vars in /tmp/ovmf-vars.*) rm -f "$vars";; esac
fi

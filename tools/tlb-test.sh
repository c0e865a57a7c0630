#!/bin/bash
# TAP: QEMU's own view of a 2 MiB mapping. Boots the suite's large_tlb_probe test alone
# (ktest=large_tlb_probe, one CPU), which maps a 2 MiB leaf and, in the next span, one 4 KiB page,
# says their addresses on serial and holds them; meanwhile the monitor stops the machine and reads
# `info tlb` (the translations of the current CR3, one line per leaf, flag P for a large page).
# Checks: one line for the leaf's 2 MiB with P and the run's frame, no line inside the leaf's
# 2 MiB, one line without P for the 4 KiB page with its frame; and the boot passes.
set -u
cd "$(dirname "$0")/.."
limit=${TLB_TIMEOUT:-60}
tmp=$(mktemp -d /tmp/tlb-test.XXXXXX)
qpid=

# Sends one command to the QEMU monitor on socket $1 and prints its reply.
monitor() {
	perl -MIO::Socket::UNIX -e '
		my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "cannot connect to $ARGV[0]: $!\n";
		my $buf = ""; my $r;
		sub upto { while ($buf !~ /\(qemu\) $/) { sysread($s, $r, 65536) or last; $buf .= $r; } }
		upto(); $buf = "";
		print $s "$ARGV[1]\n"; upto(); print $buf;' "$1" "$2"
}
cleanup() {
	[ -z "$qpid" ] || { monitor "$sock" quit >/dev/null 2>&1; wait "$qpid" 2>/dev/null; }
	rm -rf "$tmp"
}
trap cleanup EXIT
sock=$tmp/monitor.sock log=$tmp/serial.log
mkdir -p "$tmp/esp"
cp -r build/esp-test/EFI build/esp-test/kernel.elf "$tmp/esp"/
echo "onexit=qemu ktest=large_tlb_probe" > "$tmp/esp/cmdline.txt"
echo "1..4"
tools/qemu.sh --esp "$tmp/esp" --serial "$log" --timeout "$limit" -smp 1 -monitor unix:"$sock",server,nowait &
qpid=$!
waited=0
until [ -r "$log" ] && grep -q '^# tlbprobe: holding' "$log"; do
	if ! kill -0 "$qpid" 2>/dev/null || [ "$waited" -ge "$((limit * 10))" ]; then
		echo "not ok 1 - the probe never held its mappings; serial log:"
		tr -d '\r' < "$log" 2>/dev/null | tail -n 30 | sed 's/^/# /'
		exit 1
	fi
	sleep 0.1
	waited=$((waited + 1))
done
monitor "$sock" stop > /dev/null
monitor "$sock" "info tlb" | tr -d '\r' > "$tmp/tlb"
monitor "$sock" cont > /dev/null
read -r leaf_va leaf_pa page_va page_pa < <(tr -d '\r' < "$log" |
	sed -n 's/^# tlbprobe: leaf va 0x\([0-9a-f]*\) pa 0x\([0-9a-f]*\); page va 0x\([0-9a-f]*\) pa 0x\([0-9a-f]*\)$/\1 \2 \3 \4/p')
# The line of virtual address $1 (hex, no 0x) in info tlb: "VA: PA FLAGS", VA and PA 16 digits.
line() { grep -i "^$(printf '%016x' "0x$1"): " "$tmp/tlb"; }
lines=$(wc -l < "$tmp/tlb")
l=$(line "$leaf_va")
if [[ $l =~ ^[0-9a-f]+:\ ([0-9a-f]+)\ ..P ]] && [ $((0x${BASH_REMATCH[1]})) = $((0x$leaf_pa)) ]; then
	echo "ok 1 - info tlb: the leaf at 0x$leaf_va is one 2M entry (P) for frame 0x$leaf_pa ($lines lines)"
else
	echo "not ok 1 - info tlb: no 2M entry for 0x$leaf_va -> 0x$leaf_pa; its line: '${l:-none}'"
	grep -i "^$(printf '%013x' $((0x$leaf_va >> 12)) | cut -c1-8)" "$tmp/tlb" | head -n 5 | sed 's/^/# /'
fi
inside=0
for off in 0x1000 0x5000 0x100000 0x1ff000; do
	[ -z "$(line "$(printf '%x' $((0x$leaf_va + off)))")" ] || inside=$((inside + 1))
done
if [ "$inside" = 0 ]; then
	echo "ok 2 - info tlb: no entry of its own inside the leaf's 2 MiB"
else
	echo "not ok 2 - info tlb: $inside 4 KiB entries inside the leaf's 2 MiB"
fi
p=$(line "$page_va")
if [[ $p =~ ^[0-9a-f]+:\ ([0-9a-f]+)\ ..-.*W$ ]] && [ $((0x${BASH_REMATCH[1]})) = $((0x$page_pa)) ]; then
	echo "ok 3 - info tlb: the page at 0x$page_va is a 4 KiB entry (no P) for frame 0x$page_pa"
else
	echo "not ok 3 - info tlb: no 4 KiB entry for 0x$page_va -> 0x$page_pa; its line: '${p:-none}'"
fi
wait "$qpid"
rc=$?
qpid=
if [ "$rc" = 33 ] && grep -q '^# tlbprobe: released' "$log"; then
	echo "ok 4 - the probe's boot passed (QEMU exit $rc)"
else
	echo "not ok 4 - the probe's boot: QEMU exit $rc"
	tr -d '\r' < "$log" | tail -n 20 | sed 's/^/# /'
fi

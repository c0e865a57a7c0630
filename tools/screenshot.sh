#!/bin/bash
# Boots the suite with onexit=halt, waits for the serial log to say the suite ended and the machine
# halted, then saves the framebuffer through the QEMU monitor (screendump): PNG, or PPM when OUT
# ends in .ppm (what tools/screen-test.sh reads).
#   tools/screenshot.sh [OUT.png|OUT.ppm]   (default docs/screenshot.png; make screenshot)
# Environment: CMDLINE (extra kernel words), QEMUFLAGS (extra QEMU arguments), SHOT_TIMEOUT (s, 120),
# SHOT_SERIAL (a file to receive the serial log), SHOT_LOADER (the loader to boot, default
# build/BOOTX64.EFI), SHOT_MAPTEST (written to the ESP as \maptest.txt, for build/geom/'s test loader).
set -eu
cd "$(dirname "$0")/.."
out=${1:-docs/screenshot.png}
limit=${SHOT_TIMEOUT:-120}

# Prints a message and stops.
die() { echo "screenshot.sh: $*" >&2; exit 1; }

# Sends one command to the QEMU monitor on socket $1 and prints its reply.
monitor() {
	perl -MIO::Socket::UNIX -e '
		my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "cannot connect to $ARGV[0]: $!\n";
		my $buf = ""; my $r;
		sub upto { while ($buf !~ /\(qemu\) $/) { sysread($s, $r, 4096) or last; $buf .= $r; } }
		upto(); $buf = "";
		print $s "$ARGV[1]\n"; upto(); print $buf;' "$1" "$2"
}

loader=${SHOT_LOADER:-build/BOOTX64.EFI}
for f in "$loader" build/kernel.elf; do [ -r "$f" ] || die "$f missing: run make build/kernel.elf build/BOOTX64.EFI"; done
tmp=$(mktemp -d /tmp/screenshot.XXXXXX)
qpid=
# Ends QEMU if it still runs (monitor quit, else a signal to qemu.sh's timeout) and removes $tmp.
cleanup() {
	if [ -n "$qpid" ]; then
		monitor "$sock" quit >/dev/null 2>&1 || pkill -P "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
sock=$tmp/monitor.sock log=$tmp/serial.log
mkdir -p "$tmp/esp/EFI/BOOT"
cp "$loader" "$tmp/esp/EFI/BOOT/BOOTX64.EFI"
[ -z "${SHOT_MAPTEST:-}" ] || echo "$SHOT_MAPTEST" > "$tmp/esp/maptest.txt"
cp build/kernel.elf "$tmp/esp/kernel.elf"
echo "onexit=halt ${CMDLINE:-}" > "$tmp/esp/cmdline.txt"
# shellcheck disable=SC2086
tools/qemu.sh --esp "$tmp/esp" --serial "$log" --timeout $((limit + 30)) \
	-monitor unix:"$sock",server,nowait ${QEMUFLAGS:-} &
qpid=$!

# Wait for the end of the suite and the halt message (the screen is complete by then).
waited=0
until [ -r "$log" ] && grep -q 'System halted' "$log"; do
	kill -0 "$qpid" 2>/dev/null || die "QEMU ended before the kernel halted; serial log:
$(tr -d '\r' < "$log" 2>/dev/null | tail -n 30)"
	[ "$waited" -lt "$((limit * 5))" ] || die "no \"System halted\" on serial within ${limit}s; serial log:
$(tr -d '\r' < "$log" | tail -n 30)"
	sleep 0.2
	waited=$((waited + 1))
done
verdict=$(tr -d '\r' < "$log" | grep -E '^SELF-TEST (PASSED|FAILED)' | tail -n1 || true)
sleep 0.5
fmt=png; case $out in *.ppm) fmt=ppm;; esac
monitor "$sock" "screendump $tmp/shot.$fmt -f $fmt" > "$tmp/reply"
[ -s "$tmp/shot.$fmt" ] || die "screendump wrote nothing; monitor said: $(cat "$tmp/reply")"
[ -z "${SHOT_SERIAL:-}" ] || tr -d '\r' < "$log" > "$SHOT_SERIAL"
monitor "$sock" quit > /dev/null || true
wait "$qpid" 2>/dev/null || true
qpid=
mkdir -p "$(dirname "$out")"
cp "$tmp/shot.$fmt" "$out"
echo "screenshot.sh: $out ($(stat -c %s "$out") bytes; ${verdict:-no SELF-TEST verdict on serial})"

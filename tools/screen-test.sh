#!/bin/bash
# TAP: the final screen, read back from QEMU's framebuffer (monitor screendump, PPM parsed here with
# perl, no image library). Two boots: a passing suite at OVMF's default 1280x800, and a deliberately
# failing one (crashtest=leak) at 640x480 (EDID mode of the std VGA). Each screen must show the
# banner in the verdict's colour across the top, the big word in white inside it, both memory
# pictures (free cells present, magenta "walkers disagree" only in the two legends), and text in the
# bottom rows;
# the serial log must carry the same verdict, the failing test's name, agreeing walkers and a boot
# time no longer than the run itself. A third boot panics before the kernel's own page tables and
# console exist (crashtest=early), a fourth after those page tables, before the console
# (crashtest=reclaim): each report must be on the screen all the same, white on the panic's blue,
# drawn through the loader's mapping of the framebuffer, then through the kernel's.
set -u
cd "$(dirname "$0")/.."
hdr=kernel/summary.h
pass_rgb=$(sed -n 's/^#define SUMMARY_PASS_RGB 0x\([0-9A-Fa-f]*\)u.*/\1/p' "$hdr")
fail_rgb=$(sed -n 's/^#define SUMMARY_FAIL_RGB 0x\([0-9A-Fa-f]*\)u.*/\1/p' "$hdr")
free_rgb=$(sed -n 's/^#define MEMVIEW_FREE_RGB *0x\([0-9A-Fa-f]*\)u.*/\1/p' kernel/memview.c)
bad_rgb=$(sed -n 's/^#define MEMVIEW_DISAGREE_RGB 0x\([0-9A-Fa-f]*\)u.*/\1/p' kernel/memview.h)
panic_fg=$(sed -n 's/^#define PANIC_FG_RGB 0x\([0-9A-Fa-f]*\)u.*/\1/p' kernel/panic.h)
panic_bg=$(sed -n 's/^#define PANIC_BG_RGB 0x\([0-9A-Fa-f]*\)u.*/\1/p' kernel/panic.h)
cases=(
	"PASSED|$pass_rgb|$fail_rgb|1280|800||"
	"FAILED|$fail_rgb|$pass_rgb|640|480|crashtest=leak|-vga none -device VGA,xres=640,yres=480"
)
echo "1..$(( ${#cases[@]} * 2 + 2 ))"
n=0
for c in "${cases[@]}"; do
	IFS='|' read -r verdict want other w h cmd qflags <<< "$c"
	tmp=$(mktemp -d /tmp/screen-test.XXXXXX)
	t0=$(date +%s)
	CMDLINE="$cmd" QEMUFLAGS="$qflags" SHOT_SERIAL="$tmp/serial.log" SHOT_TIMEOUT=${SCREEN_TIMEOUT:-150} \
		tools/screenshot.sh "$tmp/shot.ppm" > "$tmp/shot.out" 2>&1
	wall=$(( $(date +%s) - t0 + 1 ))
	# The picture: prints "ok" or what is wrong.
	why=$(perl -e '
		my ($file, $want, $other, $w, $h, $free, $bad) = @ARGV;
		open(my $f, "<:raw", $file) or do { print "no screendump ($file)"; exit };
		local $/; my $d = <$f>;
		$d =~ s/^P6\s+(\d+)\s+(\d+)\s+(\d+)\s//s or do { print "not a binary PPM"; exit };
		my ($W, $H, $max) = ($1, $2, $3);
		$max == 255 or do { print "maxval $max"; exit };
		($W == $w && $H == $h) or do { print "screen ${W}x$H, want ${w}x$h"; exit };
		sub px { my ($x, $y) = @_; return sprintf("%02X%02X%02X", unpack("C3", substr($d, ($y * $W + $x) * 3, 3))); }
		($want, $other, $free, $bad) = map { uc } ($want, $other, $free, $bad);
		my $bh = 0; $bh++ while $bh < $H && px(2, $bh) eq $want;
		$bh >= 40 && $bh <= $H / 4 or do { print "banner colour $want runs ${bh} px down the left edge (pixel 2,0 is ", px(2, 0), ")"; exit };
		px($W - 3, 2) eq $want && px($W - 3, $bh - 1) eq $want or do { print "banner does not span the width"; exit };
		my ($white, $freen, $badn, $othern, $ink) = (0, 0, 0, 0, 0);
		for my $y (0 .. $bh - 1) { for my $x (0 .. int($W / 3)) { $white++ if px($x, $y) eq "FFFFFF"; } }
		for my $y ($bh .. $H - 1) { for my $x (0 .. $W - 1) { my $p = px($x, $y); $freen++ if $p eq $free; $badn++ if $p eq $bad; $othern++ if $p eq $other; } }
		for my $y ($H - 48 .. $H - 1) { for my $x (0 .. $W / 2) { $ink++ if px($x, $y) ne "000000"; } }
		$white > 300 or do { print "only $white white pixels in the banner: no verdict word"; exit };
		$freen > 500 or do { print "only $freen free-colour pixels: memory pictures missing"; exit };
		# Magenta appears only in the two legends (an 8x8 swatch each with the 8x16 font): any more is a cell.
		$badn == 128 or do { print "$badn magenta pixels, not the two legend swatches (128): the walkers disagree on screen"; exit };
		$othern == 0 or do { print "$othern pixels of the other verdict colour below the banner"; exit };
		$ink > 50 or do { print "no text in the bottom rows"; exit };
		print "ok banner ${bh} px, $white white, $freen free-colour pixels";
	' "$tmp/shot.ppm" "$want" "$other" "$w" "$h" "$free_rgb" "$bad_rgb")
	n=$((n + 1))
	if [ "${why#ok}" != "$why" ]; then
		echo "ok $n - $verdict screen at ${w}x$h: ${why#ok }"
	else
		echo "not ok $n - $verdict screen at ${w}x$h: $why"
		sed 's/^/# /' "$tmp/shot.out"
	fi
	# The serial side of the same boot.
	log=$tmp/serial.log
	missing=""
	for s in "summary: $verdict:" "SELF-TEST $verdict" "summary: region picture:" "summary: RAM picture:"; do
		grep -qF -- "$s" "$log" 2>/dev/null || missing="$missing [$s]"
	done
	[ "$(grep -c 'picture: .* walkers agree' "$log" 2>/dev/null)" = 2 ] || missing="$missing [walkers agree x2]"
	if [ "$verdict" = FAILED ]; then
		grep -q '^summary: failed zz_no_reservation_leaked: ' "$log" || missing="$missing [failed zz_no_reservation_leaked]"
	fi
	boot=$(sed -n 's/^summary: boot \([0-9]*\)\.\([0-9]*\) s since reset.*/\1/p' "$log" 2>/dev/null | head -n1)
	n=$((n + 1))
	if [ -z "$missing" ] && [ -n "$boot" ] && [ "$boot" -le "$wall" ]; then
		echo "ok $n - $verdict boot: serial summary agrees; boot time ${boot} s within the run's ${wall} s"
	else
		echo "not ok $n - $verdict boot: missing:$missing; boot time '${boot}' s, run ${wall} s"
		sed 's/^/# /' "$log" 2>/dev/null | tail -n 40
	fi
	rm -rf "$tmp"
done

# The early panics' screens: each report, white on blue from the top row, the rest of the screen
# blue: crashtest=early before the kernel's page tables (the loader's mapping of the framebuffer),
# crashtest=reclaim after them, before the console (the kernel's mapping).
for early in "early|before the kernel's page tables" "reclaim|after the kernel's page tables, before the console"; do
	IFS='|' read -r crash when <<< "$early"
	tmp=$(mktemp -d /tmp/screen-test.XXXXXX)
	CMDLINE="crashtest=$crash" SHOT_SERIAL="$tmp/serial.log" SHOT_TIMEOUT=${SCREEN_TIMEOUT:-150} \
		tools/screenshot.sh "$tmp/shot.ppm" > "$tmp/shot.out" 2>&1
	why=$(tools/panic-screen-check.pl "$tmp/shot.ppm" "$panic_fg" "$panic_bg")
	n=$((n + 1))
	if [ "${why#ok}" != "$why" ] && grep -qF 'KERNEL PANIC at kernel/crashtest.c' "$tmp/serial.log" 2>/dev/null; then
		echo "ok $n - early panic screen (crashtest=$crash, $when): ${why#ok }"
	else
		echo "not ok $n - early panic screen (crashtest=$crash): $why"
		sed 's/^/# /' "$tmp/shot.out" "$tmp/serial.log" 2>/dev/null | tail -n 40
	fi
	rm -rf "$tmp"
done

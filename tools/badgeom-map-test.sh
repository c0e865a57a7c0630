#!/bin/bash
# TAP: memory maps whose geometry the kernel cannot read, at boot. The real loader never hands one
# over (boot/memmap.c refuses it before ExitBootServices), but a PC's firmware bug or another
# loader can: the kernel must end with a whole report naming why, as onexit= says (QEMU exit 35),
# never hang, fault or read past the map. Boots the test loader build/geom/BOOTX64.EFI (the
# loader's sources built with LOADER_TEST_MAP_GEOMETRY, mk/loader.mk), which rewrites the hand-over
# map's size and stride as \maptest.txt says, with the build's kernel.elf, one boot per case:
#   - fixed cases, one per way efi_mmap_geometry refuses a map (a stride below the descriptor's
#     40 bytes, 0 among them; a stride not a multiple of 8; more descriptors than the kernel's copy
#     holds, up to a size of 2^64 - 1), a map of no whole descriptor, which leaves the kernel no
#     memory (size 0; a size below one stride; a stride of 2^64 - 8), and a map 8 bytes short of
#     its last descriptor (its whole ones read, the suite passes);
#   - BADGEOM_CASES (default 6) generated (size, stride) pairs from the printed seed BADGEOM_SEED,
#     each either refused or of no whole descriptor, over the whole 64-bit range of both.
# Each case's outcome is predicted here, from include/efi_mmap.h's rules and texts and
# include/bootinfo.h's limits, never from the kernel's output: the refusal's reason and numbers,
# or the refusal of a map of no whole descriptor. A failing case's report
# must be whole (one header, the closing line the kernel prints before QEMU exits). One more boot
# (a stride of 0, onexit=halt) must show its report on the screen, white on the panic's blue,
# drawn through the loader's mapping of the framebuffer. The test loader must carry \maptest.txt's
# reader and the real loader must not.
set -u
cd "$(dirname "$0")/.."
source tools/loader-boot-lib.sh
. tools/tap-cases.sh
geom=build/geom/BOOTX64.EFI kernel=build/kernel.elf real=build/BOOTX64.EFI
closing='*** End of the fatal report; exiting QEMU.'
seed=${BADGEOM_SEED:-$(date +%s)}
tmp=$(mktemp -d /tmp/badgeom-map-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
build_ok=1
make -s "$geom" "$kernel" "$real" > "$tmp/build" 2>&1 || build_ok=0

# Prints, for SIZE STRIDE (decimal, below 2^64), what the kernel must do, as one line:
# "refuse|<reason text>|<descriptors the kernel takes>" or "empty|<tail bytes>" (a readable
# stride but no whole descriptor: refused by kernel_take_mmap, no memory to run in). "read|..." (whole descriptors at a
# stride that is not the firmware's) is never asked for. The rules are efi_mmap_geometry's.
predict() {
	perl -MMath::BigInt -e '
		my ($size, $stride, $hdr, $bi) = @ARGV;
		open(my $h, "<", $hdr) or die "$hdr: $!"; local $/; my $t = <$h>; close $h;
		my %text; $text{$1} = $2 while $t =~ /case EFI_MMAP_GEOMETRY_(\w+):\s*return "([^"]*)";/g;
		open(my $b, "<", $bi) or die "$bi: $!"; my $u = <$b>; close $b;
		my ($maxb) = $u =~ /#define BOOTINFO_MMAP_MAX_BYTES\s+\((\d+) \* 1024\)/ or die "no BOOTINFO_MMAP_MAX_BYTES";
		my ($maxd) = $u =~ /#define BOOTINFO_MMAP_MAX_DESCS\s+(\d+)/ or die "no BOOTINFO_MMAP_MAX_DESCS";
		$maxb *= 1024;
		my ($s, $d) = (Math::BigInt->new($size), Math::BigInt->new($stride));
		if ($d < 40) { print "refuse|$text{DESC_TOO_SMALL}|0\n"; exit }
		if ($d % 8) { my $m = Math::BigInt->new($maxb) / $d; $m = $maxd if $m > $maxd; print "refuse|$text{DESC_UNALIGNED}|$m\n"; exit }
		my $m = Math::BigInt->new($maxb) / $d; $m = Math::BigInt->new($maxd) if $m > $maxd;
		my ($whole, $tail) = ($s / $d, $s % $d);
		if ($whole > $m) { print "refuse|$text{TOO_LARGE}|$m\n"; exit }
		if ($whole == 0) { print "empty|$tail\n"; exit }
		print "read|$whole\n";
	' "$1" "$2" include/efi_mmap.h include/bootinfo.h
}

# Prints n generated "size=S stride=D" words from seed, each predicted refused or empty: strides
# below 40, unaligned, or aligned up to 2^64 - 8; sizes 0, below the stride, or anywhere to 2^64 - 1.
generate() {
	perl -MMath::BigInt -e '
		my ($seed, $n) = @ARGV;
		my $mask = Math::BigInt->new(2)**64 - 1;
		my $x = (Math::BigInt->new($seed) + Math::BigInt->from_hex("9E3779B97F4A7C15")) & $mask; $x = 1 if $x == 0;
		sub rnd { $x ^= ($x << 13) & $mask; $x ^= $x >> 7; $x ^= ($x << 17) & $mask; $x &= $mask; return $x->copy }
		my $two64 = Math::BigInt->new(2)**64;
		for (1 .. $n) {
			my $k = rnd() % 3; my $d;
			if ($k == 0) { $d = rnd() % 40 }
			elsif ($k == 1) { $d = rnd() % ($two64 >> (rnd() % 60)); $d += 1 if $d % 8 == 0 }
			else { $d = rnd() % ($two64 >> (rnd() % 57)); $d -= $d % 8; $d += 40 if $d < 40 }
			my $j = rnd() % 3; my $s;
			if ($j == 0) { $s = Math::BigInt->new(0) }
			elsif ($j == 1 && $d > 0) { $s = rnd() % $d }
			else { $s = rnd() % ($two64 >> (rnd() % 64)) }
			# an aligned stride of 40 bytes or more with whole descriptors and room for them would
			# read the firmwares map at another stride: make it more descriptors than the kernel takes
			if ($d >= 40 && $d % 8 == 0 && $s / $d > 0 && $s / $d <= 2048) { $s = $two64 - 1 - rnd() % $d }
			print "size=$s stride=$d\n";
		}
	' "$seed" "$1"
}

# Joins a log's fatal report into one line: the text of every "*** " line from the header on,
# wrapped continuation lines ("***   ...") rejoined with one space.
report_text() {
	awk '/^\*\*\* (KERNEL PANIC at |STOP: 0x)/ { on = 1 } on && /^\*\*\* / { sub(/^\*\*\* +/, ""); printf "%s ", $0 }' "$1"
}

# Case N: boots the test loader with \maptest.txt = WORDS and checks the outcome predicted for them.
run_case() {
	local n=$1 words=$2 esp log rc size stride p kind why="" text
	esp=$(mktemp -d "$tmp/esp.XXXXXX")
	loader_boot_esp "$esp" "$geom" "$kernel"
	echo "$words" > "$esp/maptest.txt"
	log=$esp.log
	loader_boot_run "$esp" "${BADGEOM_TIMEOUT:-120}" "$log" -smp 1 -m 256M
	rc=$?
	grep -qF "test loader: the hand-over map's geometry rewritten as \\maptest.txt says: $words" "$log" ||
		why="$why [the test loader did not take \\maptest.txt]"
	if [ "$words" = "size=-8" ]; then
		# 8 bytes short: the last descriptor is cut, 40 bytes of it left (the firmware's stride is 48
		# under OVMF, but any stride of at least 40: the line gives it), the rest read, the suite passes.
		sed -n 's/^memory map: \([0-9]*\) bytes from the firmware are \([0-9]*\) descriptors of \([0-9]*\) bytes and \([0-9]*\) bytes more: .*/\1 \2 \3 \4/p' "$log" > "$esp.cut"
		read -r size whole stride tail < "$esp.cut"
		if [ -z "${size:-}" ] || [ "$tail" != $((stride - 8)) ] || [ $((whole * stride + tail)) != "$size" ]; then
			why="$why [no line naming a cut of $((${stride:-48} - 8)) bytes: '${size:-} ${whole:-} ${stride:-} ${tail:-}']"
		fi
		[ "$rc" = 33 ] && grep -q '^SELF-TEST PASSED' "$log" || why="$why [the suite did not pass: exit $rc]"
		kind="the last descriptor cut, the rest read"
	else
		size=$(sed -n 's/.*size=\([0-9]*\).*/\1/p' <<< "$words")
		stride=$(sed -n 's/.*stride=\([0-9]*\).*/\1/p' <<< "$words")
		p=$(predict "$size" "$stride")
		IFS='|' read -r kind a b <<< "$p"
		text=$(report_text "$log")
		case $kind in
		refuse)
			want="memory map of $size bytes, descriptors $stride bytes apart: $a (the kernel takes up to $b descriptors, 65536 bytes)"
			[[ "$text" == *"$want"* ]] || why="$why [report lacks: $want]"
			;;
		empty)
			want="memory map of $size bytes, descriptors $stride bytes apart: not one whole descriptor, so the kernel has no memory to run in (a firmware problem)"
			[[ "$text" == *"$want"* ]] || why="$why [report lacks: $want]"
			! grep -q "^phys: " "$log" || why="$why [the physical allocator was built from an empty map]"
			;;
		*)
			why="$why [the generator asked for a case it cannot predict: $p]"
			;;
		esac
		[ "$rc" = 35 ] || why="$why [QEMU exit $rc, want 35]"
		[ "$(grep -cE '^\*\*\* (KERNEL PANIC at |STOP: 0x)' "$log")" = 1 ] || why="$why [not one report header]"
		grep -qxF -- "$closing" "$log" || why="$why [no closing line]"
		case $kind in
		refuse) kind="refused, ${a%%:*}";;
		empty) kind="refused, not one whole descriptor ($a bytes)";;
		esac
	fi
	if [ -z "$why" ]; then
		echo "ok $n - map with $words: $kind"
	else
		echo "not ok $n - map with $words:$why"
		grep -E '^(loader|memory map|phys|\*\*\*|rmkernel)' "$log" | head -n 20 | sed 's/^/# /'
		tail -n 5 "$log" | sed 's/^/# /'
	fi
	rm -rf "$esp" "$log" "$log.raw" "$esp.cut"
}

# The screen of one refused map: the report white on blue, through the loader's mapping.
run_screen() {
	local n=$1 words=$2 panic_fg panic_bg why
	panic_fg=$(sed -n 's/^#define PANIC_FG_RGB 0x\([0-9A-Fa-f]*\)u.*/\1/p' kernel/panic.h)
	panic_bg=$(sed -n 's/^#define PANIC_BG_RGB 0x\([0-9A-Fa-f]*\)u.*/\1/p' kernel/panic.h)
	SHOT_LOADER=$geom SHOT_MAPTEST=$words SHOT_SERIAL="$tmp/shot.log" SHOT_TIMEOUT=${BADGEOM_TIMEOUT:-120} \
		tools/screenshot.sh "$tmp/shot.ppm" > "$tmp/shot.out" 2>&1
	why=$(tools/panic-screen-check.pl "$tmp/shot.ppm" "$panic_fg" "$panic_bg")
	if [ "${why#ok}" != "$why" ] && grep -q 'descriptors 0 bytes apart' "$tmp/shot.log" 2>/dev/null; then
		echo "ok $n - the report of a map with $words on the screen (onexit=halt): ${why#ok }"
	else
		echo "not ok $n - the report of a map with $words on the screen: $why"
		sed 's/^/# /' "$tmp/shot.out" 2>/dev/null | tail -n 20
	fi
}

# Case N: "loaders" (what each loader carries), "screen:WORDS" or the words of a boot.
run() {
	local n=$1 c=$2
	if [ "$build_ok" = 0 ]; then
		echo "not ok $n - $c: the build of $geom, $kernel and $real failed"
		[ "$n" = 1 ] && tail -n 20 "$tmp/build" | sed 's/^/# /'
		return
	fi
	case $c in
	loaders)
		# maptest.txt's name in UTF-16, as the loader's CHAR16 path holds it (each . a NUL byte)
		local pat="m.a.p.t.e.s.t...t.x.t"
		if LC_ALL=C grep -qa "$pat" "$geom" && ! LC_ALL=C grep -qa "$pat" "$real"; then
			echo "ok $n - the test loader reads \\maptest.txt; the real loader ($real) has no such reader"
		else
			echo "not ok $n - \\maptest.txt's reader: want it in $geom only"
		fi;;
	screen:*) run_screen "$n" "${c#screen:}";;
	*) run_case "$n" "$c";;
	esac
}

# Every case but the last fixed one sets both size and stride, so its outcome does not depend on the
# firmware's map; a stride of 48 (OVMF's) where only the size matters. The last keeps the firmware's.
cases=(loaders "size=6048 stride=0" "size=6048 stride=39" "size=6048 stride=44" "size=18446744073709551615 stride=48"
	"size=0 stride=48" "size=40 stride=48" "size=6048 stride=18446744073709551608" "size=-8")
mapfile -t gen < <(generate "${BADGEOM_CASES:-6}")
cases+=("${gen[@]}" "screen:size=6048 stride=0")
echo "# seed $seed (BADGEOM_SEED=$seed repeats these cases)"
tap_run_cases "${BADGEOM_JOBS:-1}" run "${cases[@]}"

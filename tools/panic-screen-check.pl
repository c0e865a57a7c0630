#!/usr/bin/perl
# Reads a QEMU screendump (binary PPM) of a fatal report and prints "ok WxH: ..." when it shows one:
# at least 90 % of the pixels the panic's background colour, and text in its foreground colour,
# some of it in the top three rows (48 pixels). Otherwise prints what is wrong. Usage:
#   tools/panic-screen-check.pl SHOT.ppm FG_RGB BG_RGB   (colours as 6 hex digits, kernel/panic.h)
# Used by tools/screen-test.sh and tools/badgeom-map-test.sh.
use strict;
use warnings;
my ($file, $fg, $bg) = @ARGV;
($fg, $bg) = map { uc } ($fg, $bg);
open(my $f, "<:raw", $file) or do { print "no screendump ($file)\n"; exit };
local $/;
my $d = <$f>;
$d =~ s/^P6\s+(\d+)\s+(\d+)\s+(\d+)\s//s or do { print "not a binary PPM\n"; exit };
my ($W, $H) = ($1, $2);
my ($fgn, $bgn, $top) = (0, 0, 0);
for (my $i = 0; $i < $W * $H; $i++) {
	my $p = sprintf("%02X%02X%02X", unpack("C3", substr($d, $i * 3, 3)));
	$bgn++ if $p eq $bg;
	if ($p eq $fg) { $fgn++; $top++ if $i < $W * 48; }
}
$bgn > $W * $H * 0.9 or do { print "only $bgn of ", $W * $H, " pixels are the panic blue $bg\n"; exit };
$fgn > 2000 && $top > 50 or do { print "$fgn text pixels ($top in the top three rows): no report on the screen\n"; exit };
print "ok ${W}x$H: $bgn blue pixels, $fgn white\n";

#!/usr/bin/perl
# The documentation's references, checked against the tree ROOT (argument 1, default "."): every
# path, make target, identifier of the code, kernel command-line option, bug-check code, link,
# anchor and image that README.md and docs/*.md name must exist; every option kernel/cmdline.c
# parses must be in the README's option table, every code of mm/bugcheck_codes.h in contract.md's
# section 8, every area of include/vmlayout.h in the README's layout table; every source, test and
# tool file must be named in the README's "Source layout" table, in the row of its directory, and
# every mm/ file in design.md's module table. Prints one line per problem, "KIND: FILE:LINE: what"
# (line 0: the document as a whole), and nothing when all hold; exits 1 when it printed any.
# tools/docs-refs-test.sh runs it on the tree and, as its self-test, on copies with planted faults.
use strict;
use warnings;

my $root = shift // '.';
chdir $root or die "docs-refs-check: cannot enter $root\n";
my @docs = ('README.md', sort glob 'docs/*.md');
my @problems;

# Records a problem of KIND at DOC:LINE.
sub docs_problem { my ($kind, $doc, $line, $what) = @_; push @problems, "$kind: $doc:$line: $what"; }

# Returns the text of file PATH, or undef when it cannot be read.
sub docs_slurp { my ($p) = @_; open(my $f, '<', $p) or return undef; local $/; my $t = <$f>; close $f; return $t; }

# Lists every file under the directories given, relative to the root, skipping build output.
sub docs_files_under {
	my @out;
	my @todo = @_;
	while (@todo) {
		my $d = shift @todo;
		opendir(my $dh, $d) or next;
		for my $e (sort readdir $dh) {
			next if $e eq '.' || $e eq '..';
			my $p = "$d/$e";
			if (-d $p) { push @todo, $p; } elsif (-f $p) { push @out, $p; }
		}
		closedir $dh;
	}
	return @out;
}

# The identifiers of the code: every word of every source, header, script and make file, and every
# file name with and without its extension. An identifier the docs name must be one of them.
my %known_word;
my @code_dirs = grep { -d } qw(include arch boot mm kernel tests tools mk .ci);
my @code_files = (docs_files_under(@code_dirs), grep { -f } qw(Makefile linker.ld));
for my $p (@code_files) {
	my ($base) = $p =~ m{([^/]+)$};
	$known_word{$base} = 1;
	(my $stem = $base) =~ s/\.[^.]*$//;
	$known_word{$stem} = 1;
	next if $p =~ m{^tests/fuzz/(corpus|regressions)/} || $p =~ m{^tools/docs-refs-(check\.pl|test\.sh)$};
	my $t = docs_slurp($p) // next;
	@known_word{ $t =~ /\b[A-Za-z_][A-Za-z0-9_]*\b/g } = ();
}
my %known_base;
for my $p (@code_files, docs_files_under('docs'), grep { -f } qw(README.md)) {
	my ($base) = $p =~ m{([^/]+)$};
	$known_base{$base} = 1;
}

# The make targets: every plain word left of a rule's colon in the Makefile and mk/*.mk.
my %known_target;
for my $mf (grep { -f } ('Makefile', sort glob 'mk/*.mk')) {
	my $t = docs_slurp($mf) // next;
	for my $l (split /\n/, $t) {
		next if $l =~ /^\s/ || $l =~ /^#/;
		next unless $l =~ /^([^:=#]+?)\s*::?(?!=)/;
		my $lhs = $1;
		$known_target{$_} = 1 for grep { /^[A-Za-z0-9_.-]+$/ } split /\s+/, $lhs;
	}
	while ($t =~ /^\.PHONY\s*:(.*)$/mg) { $known_target{$_} = 1 for grep { length } split /\s+/, $1; }
}

# The command-line options: kernel/cmdline.c's table of keys and the value names of each.
my (%opt_type, %opt_values);
{
	my $c = docs_slurp('kernel/cmdline.c') // '';
	my %arrays;
	while ($c =~ /static const char \*const (\w+)\[\]\s*=\s*\{([^}]*)\}/g) {
		my ($name, $body) = ($1, $2);
		$arrays{$name} = [ $body =~ /"([^"]*)"/g ];
	}
	while ($c =~ /\[CMDLINE_\w+\]\s*=\s*\{\s*"([a-z0-9_]+)"\s*,\s*CMDLINE_T_(\w+)\s*,\s*[^,]*,\s*(\w+)\s*\}/g) {
		my ($key, $type, $arr) = ($1, $2, $3);
		$opt_type{$key} = $type;
		$opt_values{$key} = $arrays{$arr} if $arrays{$arr};
	}
}

# Names of other projects' files, programs and functions that the docs cite (Linux, FreeBSD, xv6,
# the WRK, QEMU), and placeholders: not this tree's, so not checked against it.
my %outside = map { $_ => 1 } qw(subr_vmem.c kalloc.c sysptes.c arch/x86/kernel/verify_cpu.S
	tlb_flush_page_locked MI_PAGE_FRAME_INDEX_MUST_BE_CACHED cmdline.txt key thread);
my $wdk_re = qr/^(?:Mm|Io|Ex|Ke)[A-Z][A-Za-z0-9]+$/;

# Every "#anchor" each doc defines, GitHub's way: a heading lowercased, backquotes and punctuation
# other than '-' and '_' dropped, spaces turned to '-', repeats numbered -1, -2, ...
my %anchors;
my %doc_lines;
for my $doc (@docs) {
	my $t = docs_slurp($doc) // next;
	my @lines = split /\n/, $t, -1;
	$doc_lines{$doc} = \@lines;
	my (%seen, $fence);
	for my $l (@lines) {
		if ($l =~ /^\s*```/) { $fence = !$fence; next; }
		next if $fence;
		next unless $l =~ /^#{1,6}\s+(.*?)\s*#*\s*$/;
		my $slug = lc $1;
		$slug =~ s/[^\w\- ]//g;
		$slug =~ s/ /-/g;
		my $a = $slug;
		$a = "$slug-" . $seen{$slug} if exists $seen{$slug};
		$seen{$slug}++;
		$anchors{$doc}{$a} = 1;
	}
}

# Path-like references start at one of the tree's top directories.
my $topdir_re = qr/(?:\.ci|mm|kernel|arch|boot|include|tests|tools|docs|mk)\//;

# Checks that a path (root-relative; '*' globs allowed; "X.c/.h" for both) names something. Only
# paths ending in a file name with an extension, a glob or a '/' are references: "mm/machine" in
# prose is not.
sub docs_check_path {
	my ($doc, $ln, $p) = @_;
	$p =~ s/[.,:;)]+$//;
	return if $outside{$p};
	return unless $p =~ m{/$} || $p =~ m{[*?]} || $p =~ m{/[^/]*[^./][^/]*\.[A-Za-z0-9]+(/\.h)?$};
	my @want = ($p);
	if ($p =~ m{^(.*)\.c/\.h$}) { @want = ("$1.c", "$1.h"); }
	for my $w (@want) {
		if ($w =~ /[*?]/) {
			my @m = grep { -e } glob $w;
			docs_problem('path', $doc, $ln, "`$w` matches no file") unless @m;
		} else {
			docs_problem('path', $doc, $ln, "`$w` does not exist") unless -e $w;
		}
	}
}

# Checks the make command in one code span or code line: its targets must be rules. Variable
# settings, options and file targets under build/ are not targets to check.
sub docs_check_make {
	my ($doc, $ln, $cmd) = @_;
	my @words;
	push @words, $1 while $cmd =~ /\G\s*((?:[^\s'"]|'[^']*'|"[^"]*")+)/gc;
	shift @words;    # "make"
	for my $w (@words) {
		last if $w =~ /^#/ || $w eq '|' || $w eq '&&' || $w eq ';' || $w eq '/';
		next if $w =~ /=/ || $w =~ /^-/ || $w =~ m{/};
		next unless $w =~ /^[a-z][a-z0-9_.-]*$/;
		docs_problem('target', $doc, $ln, "`make $w`: no such target") unless $known_target{$w};
	}
}

# Checks one identifier of the docs: a name with an '_' or a WDK routine's name must be a word of
# the code; a fragment "_tail" (after a name it shortens) must end one; an MDL flag may be named
# without its MDL_ prefix.
sub docs_check_ident {
	my ($doc, $ln, $id) = @_;
	return if $outside{$id};
	return if exists $known_word{$id};
	if ($id =~ /^_\w+$/) {
		docs_problem('ident', $doc, $ln, "`$id` ends no name in the code")
			unless grep { length $_ > length $id && substr($_, -length $id) eq $id } keys %known_word;
		return;
	}
	return unless ($id =~ /_/ && $id !~ /_$/) || $id =~ $wdk_re;
	return if exists $known_word{$id} || exists $known_word{"MDL_$id"};
	docs_problem('ident', $doc, $ln, "`$id` is named nowhere in the code");
}

# Checks one backquoted span of DOC at line LN.
sub docs_check_span {
	my ($doc, $ln, $s) = @_;
	$s =~ s/^\s+|\s+$//g;
	if ($s =~ /^make(\s|$)/) { docs_check_make($doc, $ln, $s); return; }
	if ($s =~ /^([a-z][a-z0-9_]*)=(\S*)$/) {
		my ($key, $val) = ($1, $2);
		return if $outside{$key};
		if (!exists $opt_type{$key}) {
			docs_problem('option', $doc, $ln, "`$s`: kernel/cmdline.c has no option $key");
		} elsif ($opt_values{$key} && $val =~ /^[a-z0-9]+$/ && !grep { $_ eq $val } @{ $opt_values{$key} }) {
			docs_problem('option', $doc, $ln, "`$s`: $key takes no value $val");
		}
		return;
	}
	(my $id = $s) =~ s/\(.*\)$//;
	if ($id =~ /^[A-Za-z_][A-Za-z0-9_]*$/) { docs_check_ident($doc, $ln, $id); return; }
	# A file named without its directory: some file of the tree has that name.
	if ($s =~ /^([A-Za-z0-9_-]+\.(?:c|h|sh|S|asm|mk|md|gp|txt|ld|png|pl))$/ && !$known_base{$1} && !$outside{$1}) {
		docs_problem('path', $doc, $ln, "`$s`: no file of that name");
	}
}

# The references of each doc, paragraph by paragraph (consecutive lines outside code blocks), so a
# code span or a link that a line break cuts is read whole; each is reported at the line it starts on.
for my $doc (@docs) {
	my $lines = $doc_lines{$doc} or next;
	my ($docdir) = $doc =~ m{^(.*/)?};
	$docdir //= '';
	my ($fence, $para, $first) = (0, '', 0);
	for my $i (0 .. $#$lines + 1) {
		my $l = $i <= $#$lines ? $lines->[$i] : '';
		my $code = 0;
		if ($l =~ /^\s*```/) { $fence = !$fence; $code = 1; }
		elsif ($fence) { $code = 1; }
		elsif ($l =~ /^    \s*(make\b.*)$/) { docs_check_make($doc, $i + 1, $1); $code = 1; }
		elsif ($l =~ /^    /) { $code = 1; }    # indented code: examples, not references
		if (!$code && $l =~ /\S/) {
			$first = $i + 1 unless length $para;
			$para .= "$l\n";
			next;
		}
		docs_check_para($doc, $docdir, $first, $para) if length $para;
		$para = '';
	}
}

# Checks one paragraph of DOC whose first line is FIRST: its paths, code spans, links and images.
sub docs_check_para {
	my ($doc, $docdir, $first, $para) = @_;
	my $line_at = sub { my ($pos) = @_; return $first + (substr($para, 0, $pos) =~ tr/\n//); };
	# Paths anywhere (in prose, code spans and tables).
	while ($para =~ m{(?<![\w./\-\$])($topdir_re[\w.*/\-]*)}g) {
		my ($p, $at) = ($1, $-[1]);
		next if $p eq 'docs/';
		docs_check_path($doc, $line_at->($at), $p);
	}
	# Code spans, a line break inside one read as a space.
	while ($para =~ /`([^`]+)`/g) {
		(my $span = $1) =~ s/\n/ /g;
		docs_check_span($doc, $line_at->($-[0]), $span);
	}
	# Links and images, outside code spans (blanked to keep the offsets).
	(my $plain = $para) =~ s/(`[^`]*`)/' ' x length $1/ge;
	while ($plain =~ /!?\[[^\]]*\]\(([^)\s]+)\)/g) {
		my ($target, $ln) = ($1, $line_at->($-[0]));
		next if $target =~ m{^[a-z]+://} || $target =~ /^mailto:/;
		my ($file, $anchor) = $target =~ /^([^#]*)(?:#(.*))?$/;
		my $tdoc = $doc;
		if (length $file) {
			my $p = $docdir . $file;
			1 while $p =~ s{(^|/)[^/]+/\.\./}{$1};
			$p =~ s{^\./}{};
			if (!-e $p) { docs_problem('link', $doc, $ln, "link to $target: $p does not exist"); next; }
			$tdoc = $p;
		}
		if (defined $anchor && length $anchor) {
			if (!$anchors{$tdoc}) {
				docs_problem('anchor', $doc, $ln, "link to $target: $tdoc has no headings to link to");
			} elsif (!$anchors{$tdoc}{$anchor}) {
				docs_problem('anchor', $doc, $ln, "link to $target: $tdoc has no heading #$anchor");
			}
		}
	}
}

# Every option the parser takes is in the README's option table.
{
	my $readme = join "\n", @{ $doc_lines{'README.md'} // [] };
	for my $key (sort keys %opt_type) {
		docs_problem('option', 'README.md', 0, "option $key= (kernel/cmdline.c) is not in the option table")
			unless $readme =~ /^\| `\Q$key\E=` \|/m;
	}
}

# Completeness: each file of the checked directories is named in the README's "Source layout" row of
# the deepest directory holding it, by its path, its path from that directory, its name, its name
# without the extension, "NAME.c/.h", or a subdirectory ("corpus/") that holds it.
{
	my %row;    # directory ("mm/") -> { name => 1 }
	my $ln = 0;
	my $in = 0;
	for my $l (@{ $doc_lines{'README.md'} // [] }) {
		$ln++;
		if ($l =~ /^## /) { $in = ($l =~ /^## Source layout/); next; }
		next unless $in && $l =~ /^\| `([^`]+)` \|(.*)$/;
		my ($dir, $rest) = ($1, $2);
		my %names;
		while ($rest =~ /`([^`]+)`/g) {
			for my $w (split /[\s,;()]+/, $1) {
				next unless length $w;
				$names{$w} = 1;
				$names{"$1.c"} = $names{"$1.h"} = 1 if $w =~ m{^(.*)\.c/\.h$};
			}
		}
		$row{$dir} = \%names;
	}
	my @checked = grep { -d } qw(tools tests mm kernel arch boot include mk);
	for my $p (docs_files_under(@checked)) {
		my ($dir) = sort { length $b <=> length $a } grep { index($p, $_) == 0 } keys %row;
		if (!defined $dir) { docs_problem('unnamed', 'README.md', 0, "$p: no row of the Source layout table holds its directory"); next; }
		my $names = $row{$dir};
		my $rel = substr($p, length $dir);
		my ($base) = $p =~ m{([^/]+)$};
		(my $stem = $base) =~ s/\.[^.]*$//;
		my $ok = $dir eq $p || $names->{$p} || $names->{$rel} || $names->{$base} || $names->{$stem};
		if (!$ok && $rel =~ m{/}) {
			my @parts = split m{/}, $rel;
			pop @parts;
			my $sub = '';
			for my $part (@parts) { $sub .= "$part/"; $ok ||= $names->{$sub}; }
		}
		docs_problem('unnamed', 'README.md', 0, "$p is not named in the Source layout row of `$dir`") unless $ok;
	}
}

# Completeness of docs/design.md's module table: every mm/ source is named in its "Modules" section
# (as "mm/NAME.c" or "NAME.c"), and every mm/ header whose source is not, by its own name.
{
	my (%named, $in);
	for my $l (@{ $doc_lines{'docs/design.md'} // [] }) {
		if ($l =~ /^## /) { $in = ($l =~ /^## Modules/); next; }
		next unless $in;
		while ($l =~ /`([^`]+)`/g) {
			my $w = $1;
			$named{$w} = 1;
			$named{$1} = 1 if $w =~ m{^mm/(.*)$};
		}
	}
	if (-f 'docs/design.md') {
		for my $p (sort glob 'mm/*.[ch]') {
			my ($base) = $p =~ m{^mm/(.*)$};
			(my $c = $base) =~ s/\.h$/.c/;
			next if $named{$base} || ($base =~ /\.h$/ && -f "mm/$c" && $named{$c});
			docs_problem('unnamed', 'docs/design.md', 0, "$p is not named in the Modules table");
		}
	}
}

# The README's virtual memory layout against include/vmlayout.h: each area's start macro (a name
# ending in _BASE or _VA) is named in the table, and each row starts at an address the header defines.
{
	my $h = docs_slurp('include/vmlayout.h') // '';
	my %vm_value;
	$vm_value{$1} = lc $2 while $h =~ /^#define\s+(\w+)\s+(0x[0-9A-Fa-f]+)ULL/mg;
	# Addresses compared as digits without leading zeros; the user half starts at 0.
	my $norm = sub { (my $v = lc shift) =~ s/^0x0*//; return $v; };
	my %is_value = map { $norm->($_) => 1 } values %vm_value, '0x0';
	my ($in, $sect) = (0, '');
	my $lines = $doc_lines{'README.md'} // [];
	for my $i (0 .. $#$lines) {
		my $l = $lines->[$i];
		if ($l =~ /^## /) { $in = ($l =~ /^## Virtual memory layout/); next; }
		next unless $in;
		$sect .= "$l\n";
		next unless $l =~ /^\| `(0x[0-9A-Fa-f]+)` \|/;
		docs_problem('layout', 'README.md', $i + 1, "an area starts at $1, which include/vmlayout.h does not define")
			unless $is_value{ $norm->($1) };
	}
	if (length $sect) {
		for my $name (sort grep { /_(BASE|VA)$/ } keys %vm_value) {
			docs_problem('layout', 'README.md', 0, "$name (include/vmlayout.h) is not in the Virtual memory layout table")
				unless $sect =~ /`\Q$name\E`/;
		}
	}
}

# Bug-check codes: mm/bugcheck_codes.h's lists of codes (with their names) and subcodes. Every
# "bug check 0xNN" of the docs is a code or a subcode there; contract.md's section 8 gives each code
# with its name, and each subcode its table lists is one of that code's.
{
	my $h = docs_slurp('mm/bugcheck_codes.h') // '';
	my (%code_name, %sub_of, %is_sub, %code_sym);
	while ($h =~ /X\((BUGCHECK_\w+),\s*(0x[0-9A-Fa-f]+),\s*"(\w+)"\)/g) { $code_name{hex $2} = $3; $code_sym{$1} = hex $2; }
	while ($h =~ /X\((BUGCHECK_\w+),\s*\w+,\s*(0x[0-9A-Fa-f]+)\)/g) {
		next unless exists $code_sym{$1};
		$sub_of{ $code_sym{$1} }{ hex $2 } = 1;
		$is_sub{ hex $2 } = 1;
	}
	for my $doc (@docs) {
		my $lines = $doc_lines{$doc} or next;
		for my $i (0 .. $#$lines) {
			my $l = $lines->[$i];
			while ($l =~ /\bbug[- ]check (?:code )?`?(0x[0-9A-Fa-f]+)\b/gi) {
				my $v = hex $1;
				docs_problem('bugcheck', $doc, $i + 1, "bug check $1 is no code or subcode of mm/bugcheck_codes.h")
					unless exists $code_name{$v} || $is_sub{$v};
			}
		}
	}
	my ($in, %seen) = (0);
	my $lines = $doc_lines{'docs/contract.md'} // [];
	for my $i (0 .. $#$lines) {
		my $l = $lines->[$i];
		if ($l =~ /^## /) { $in = ($l =~ /^## 8\. Bug checks/); next; }
		next unless $in;
		next unless $l =~ /^\| (0x[0-9A-Fa-f]+) \| (\w+) \|(.*)$/;
		my ($code, $name, $rest) = (hex $1, $2, $3);
		if (!exists $code_name{$code}) {
			docs_problem('bugcheck', 'docs/contract.md', $i + 1, "code $1 is not in mm/bugcheck_codes.h");
			next;
		}
		docs_problem('bugcheck', 'docs/contract.md', $i + 1, "code $1 is $code_name{$code} in mm/bugcheck_codes.h, not $name")
			unless $code_name{$code} eq $name;
		$seen{$code} = 1;
		my ($p1) = $rest =~ /\|\s*([^|]*)\|\s*$/;
		next unless defined $p1 && $p1 =~ /^the subcode ((?:0x[0-9A-Fa-f]+(?:, | \.\. )?)+)/;
		for my $s ($1 =~ /(0x[0-9A-Fa-f]+)/g) {
			docs_problem('bugcheck', 'docs/contract.md', $i + 1, "subcode $s is not one of ${name}'s in mm/bugcheck_codes.h")
				unless $sub_of{$code}{ hex $s };
		}
	}
	# A code given in the text, "0x0000001E KMODE_EXCEPTION_NOT_HANDLED", counts too.
	my $sect = join "\n", @$lines;
	$sect = $1 if $sect =~ /^(## 8\. Bug checks.*?)(?=^## |\z)/ms;
	while ($sect =~ /\b(0x[0-9A-Fa-f]+)`?\s+`?([A-Z][A-Z0-9_]{4,})\b/g) { $seen{ hex $1 } = 1 if ($code_name{ hex $1 } // '') eq $2; }
	if (@$lines) {
		for my $code (sort { $a <=> $b } keys %code_name) {
			docs_problem('bugcheck', 'docs/contract.md', 0, sprintf("code 0x%02X %s (mm/bugcheck_codes.h) is not given in section 8", $code, $code_name{$code}))
				unless $seen{$code};
		}
	}
}

print "$_\n" for @problems;
exit(@problems ? 1 : 0);

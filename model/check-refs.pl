#!/usr/bin/perl
# SPDX-License-Identifier: MIT
# The model's citations of the C code must resolve, so that a rename or a
# removal in src/ fails the model check instead of leaving it pointing at
# code that is gone.
#
# usage: perl check-refs.pl MODEL_DIR SRC_DIR
#
# Cited are, in the comments of MODEL_DIR/shpool.pml and anywhere in
# MODEL_DIR/README:
#   name(...)      a C function (a lower-case identifier right before "("):
#                  must be defined in SRC_DIR/*.c or *.h (a definition, not
#                  a prototype, a call or a comment);
#   "a.b"          a crash point: SHPOOL_CRASH_POINT("a.b") must be in
#                  SRC_DIR/*.c outside comments;
#   src/FILE       must exist;
# and no citation may be a line number (file.c:123): functions move.
# Prints each citation that does not resolve; exit 1 if any, 2 on usage.
use strict;
use warnings;

@ARGV == 2 or die "usage: $0 MODEL_DIR SRC_DIR\n";
my ($model, $src) = @ARGV;

sub slurp {
	my ($f) = @_;
	open(my $fh, '<', $f) or die "$0: $f: $!\n";
	local $/;
	my $t = <$fh>;
	close $fh;
	return $t;
}

# The code: every source file, comments removed.
my @files = (glob("$src/*.c"), glob("$src/*.h"));
@files or die "$0: no C sources in $src\n";
my $code = '';
for my $f (@files) {
	my $t = slurp($f);
	$t =~ s{/\*.*?\*/}{ }gs;
	$t =~ s{//[^\n]*}{}g;
	$code .= "$t\n";
}
my %crash = map { $_ => 1 } ($code =~ /\bSHPOOL_CRASH_POINT\s*\(\s*"([^"]+)"\s*\)/g);

# A definition: at the start of a line, type words (which may hold
# attributes' parentheses) then the name and its parameter list, then the
# body's brace, with no ";" between (which would make it a prototype).
sub defined_in_src {
	my ($name) = @_;
	return $code =~ /^[A-Za-z_][\w \t*()\n]*?\b\Q$name\E\s*\([^;{}]*\)\s*\{/m;
}

# What the model says: the comments of shpool.pml (the code blanked out,
# keeping line breaks, so that a position still tells its line) and all of
# README.
my $pml = slurp("$model/shpool.pml");
$pml =~ s{(/\*.*?\*/)|[^\n]}{defined $1 ? $1 : ' '}gse;
my @texts = (["$model/shpool.pml", $pml], ["$model/README", slurp("$model/README")]);

my (%funcs, %points, %srcfiles, @bad);
for my $e (@texts) {
	my ($file, $t) = @$e;
	my $at = sub { "$file:" . (1 + (substr($t, 0, $_[0]) =~ tr/\n//)) };
	$funcs{$1} //= $at->($-[1]) while $t =~ /(?<![\w.-])([a-z_][a-z0-9_]*)\(/g;
	$points{$1} //= $at->($-[1]) while $t =~ /"([a-z_]+(?:\.[a-z_]+)+)"/g;
	$srcfiles{$1} //= $at->($-[1]) while $t =~ m{\bsrc/([\w.-]+\.[ch])\b}g;
	push @bad, $at->($-[1]) . ": line number cited: $1 (cite the function instead)"
		while $t =~ /\b([\w-]+\.(?:c|h|pml):\d+)/g;
}
for my $f (sort keys %funcs) {
	push @bad, "$funcs{$f}: $f() is not a function defined in $src"
		unless defined_in_src($f);
}
for my $c (sort keys %points) {
	push @bad, "$points{$c}: crash point \"$c\" is not a SHPOOL_CRASH_POINT in $src"
		unless $crash{$c};
}
for my $f (sort keys %srcfiles) {
	push @bad, "$srcfiles{$f}: src/$f does not exist" unless -e "$src/$f";
}
if (@bad) {
	print "check-refs: $_\n" for @bad;
	exit 1;
}
printf "check-refs: %d functions and %d crash points cited by the model exist in src/\n",
	scalar(keys %funcs), scalar(keys %points);
exit 0;

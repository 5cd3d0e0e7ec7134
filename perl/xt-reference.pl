#!/usr/bin/env perl
# Runs Data::Pool::Shared's own test suites (t/ and xt/) against IPC::Shpool,
# the way a migrating user would: a scratch copy of the reference's tests,
# every Data::Pool::Shared renamed to IPC::Shpool, run against a built
# IPC::Shpool (its blib); and, beside it, the same suites against the
# reference module itself, built from source in another scratch copy. It
# fetches nothing: give it a checkout of the reference
# (https://github.com/vividsnow/perl5-data-pool-shared, or a CPAN tarball
# unpacked). Nothing of the reference's is copied into this tree.
#
#   perl perl/xt-reference.pl [options] REFERENCE_CHECKOUT
#
#   --build DIR   the built binding (a directory with blib/): default this
#                 script's directory if it has a blib/ (a built copy of
#                 perl/, a CPAN distribution), else the libshpool tree's
#                 perl-build/ next to this script's perl/
#   --eval        wrap the over-long Str sets (t/01-basic.t, t/04-edge-cases.t)
#                 in eval instead of turning on the opt-in truncate => 1
#   --ours-only, --reference-only   run one side only
#   --author      set AUTHOR_TESTING=1 (xt/ files gated on it run too)
#   --timeout S   seconds a file may run (default 300)
#   --only REGEX  only the files whose name (t/x.t, xt/y.t) matches
#   --keep        keep the scratch directory (its path is printed)
#   -v            each file's TAP on stderr
#
# Prints, per file and side: pass, FAIL (and the failing assertion numbers
# and names), skip (and why) or DIED (the exit status, and how many
# assertions ran of the plan); then the totals. Exit status 0 unless the
# script itself could not run (the results are the output, not the status).
use 5.010;
use strict;
use warnings;
use Cwd qw(abs_path getcwd);
use File::Basename qw(dirname basename);
use File::Copy qw(copy);
use File::Find qw(find);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use Getopt::Long qw(GetOptions);
use TAP::Parser;

my %o = (timeout => 300);
GetOptions(\%o, 'build=s', 'eval', 'ours-only', 'reference-only', 'author',
	   'timeout=i', 'only=s', 'keep', 'v')
	or die "usage: $0 [--build DIR] [--eval] [--ours-only|--reference-only] "
	     . "[--author] [--timeout S] [--only REGEX] [--keep] [-v] REFERENCE_CHECKOUT\n";
my $ref = shift or die "$0: give the path of a Data::Pool::Shared checkout\n";
-f "$ref/lib/Data/Pool/Shared.pm" && -d "$ref/t"
	or die "$0: $ref is not a Data::Pool::Shared checkout (no lib/Data/Pool/Shared.pm, t/)\n";
$ref = abs_path($ref);

my $here  = dirname(abs_path(__FILE__));
# the built binding: --build, else this directory once built (a copy of
# perl/, a CPAN distribution), else the libshpool tree's perl-build/
my $build = abs_path($o{build} // (-d "$here/blib/arch" ? $here : "$here/../perl-build"));
unless ($o{'reference-only'}) {
	-d "$build/blib/arch"
		or die "$0: no built binding in $build (make in the libshpool tree, "
		     . "or perl Makefile.PL && make in a copy of perl/, then --build DIR)\n";
}
# In the libshpool tree the library is in .libs/ beside perl-build/.
my $libs = abs_path("$build/../.libs");
$ENV{LD_LIBRARY_PATH} = join ':', grep { defined && length } $libs, $ENV{LD_LIBRARY_PATH}
	if $libs && -e "$libs/libshpool.so";
$ENV{AUTHOR_TESTING} = 1 if $o{author};

my $scratch = tempdir('shpool-ref-XXXXXX', TMPDIR => 1, CLEANUP => !$o{keep});
say "scratch: $scratch" if $o{keep};

sub copy_tree {
	my ($from, $to) = @_;
	find({ no_chdir => 1, wanted => sub {
		my $rel = substr($File::Find::name, length $from);
		if (-d $_) { make_path("$to$rel") }
		else { copy($_, "$to$rel") or die "copy $_: $!" }
	} }, $from);
}

sub slurp { open my $f, '<', $_[0] or die "$_[0]: $!"; local $/; <$f> }
sub spew  { open my $f, '>', $_[0] or die "$_[0]: $!"; print $f $_[1]; close $f or die }

# The user's side of the migration: the tests, with the classes renamed.
sub prepare_ours {
	my $dir = "$scratch/ours";
	for my $d (grep { -d "$ref/$_" } qw(t xt eg)) {
		copy_tree("$ref/$d", "$dir/$d");
	}
	my @files;
	find({ no_chdir => 1, wanted => sub { push @files, $_ if -f $_ && /\.(t|pl|pm)\z/ } }, $dir);
	for my $f (@files) {
		my $s = slurp($f);
		$s =~ s/Data::Pool::Shared/IPC::Shpool/g;
		$s =~ s{Data/Pool/Shared\.pm}{IPC/Shpool.pm}g;
		if ($f =~ m{/t/0[14]-[\w-]+\.t\z}) {
			if ($o{eval}) {
				# the over-long sets alone, each in an eval
				$s =~ s/^(\s*)(\$str->set\(\$s(?:i)?, \$long\);)/$1eval { $2 };/mg;
			} else {
				# the opt-in that keeps the reference's truncation
				$s =~ s/(IPC::Shpool::Str->new(?:_memfd)?\([^()]*)\)/$1, { truncate => 1 })/g;
			}
		}
		spew($f, $s);
	}
	# a blib/ where the reference's tests look for one (-Mblib, eg_runs.t,
	# valgrind.t): the built binding's
	symlink("$build/blib", "$dir/blib") or die "symlink $dir/blib: $!";
	return ($dir, ["-I$build/blib/lib", "-I$build/blib/arch"]);
}

# The reference itself, built in its own scratch copy.
sub prepare_reference {
	my $dir = "$scratch/reference";
	copy_tree($ref, $dir);
	my $log = "$scratch/reference-build.log";
	system("cd '$dir' && { [ -d blib/arch ] || { $^X Makefile.PL && make; }; } >'$log' 2>&1") == 0
		or die "$0: building the reference failed (see $log)\n";
	return ($dir, ["-I$dir/blib/lib", "-I$dir/blib/arch"]);
}

sub run_file {
	my ($dir, $inc, $file) = @_;
	my $src = slurp("$dir/$file");
	my @switches = $src =~ /\A#!.*perl.*\s-([A-Za-z]*T[A-Za-z]*)/ ? ("-$1") : ();
	my $cwd = getcwd();
	chdir $dir or die "chdir $dir: $!";
	# perls the test starts itself (valgrind.t, asan.t, malloc_fail.t) load
	# the same side's module
	local $ENV{PERL5LIB} = join ':', map { s/^-I//r } @$inc;
	my $tap = '';
	my $parser = TAP::Parser->new({
		exec  => ['timeout', '-k', '10', $o{timeout}, $^X, @switches, @$inc, $file],
		merge => 0,
	});
	my (@failed, $skip);
	while (my $r = $parser->next) {
		$tap .= $r->as_string . "\n";
		if ($r->is_test && !$r->is_ok) {
			push @failed, sprintf('#%d %s', $r->number, $r->description // '');
		}
	}
	chdir $cwd;
	print STDERR "---- $file\n$tap" if $o{v};
	my $planned = $parser->tests_planned // '?';
	my $run = $parser->tests_run;
	if ($parser->skip_all) {
		return ['skip', $parser->skip_all];
	}
	my $exit = $parser->exit;
	my $wait = $parser->wait;
	if ($wait & 127 || $exit == 124 || $exit == 137 || !$parser->is_good_plan) {
		my $why = $wait & 127 ? 'signal ' . ($wait & 127)
			: $exit == 124 || $exit == 137 ? "timed out after $o{timeout}s"
			: "exit $exit";
		return ['DIED', "$why, $run of $planned assertions ran"
			. (@failed ? '; failed: ' . join(', ', @failed) : '')];
	}
	return @failed ? ['FAIL', scalar(@failed) . " of $run failed: " . join('; ', @failed)]
		       : $exit ? ['DIED', "exit $exit after $run assertions, all ok"]
		       : ['pass', "$run assertions"];
}

my @sides;
push @sides, ['ours', prepare_ours()] unless $o{'reference-only'};
push @sides, ['reference', prepare_reference()] unless $o{'ours-only'};

my @files = map { my $d = $_; map { "$d/" . basename($_) } sort glob("$ref/$d/*.t") } qw(t xt);
@files = grep { /$o{only}/ } @files if defined $o{only};
my %total;
for my $file (@files) {
	for my $side (@sides) {
		my ($name, $dir, $inc) = @$side;
		my ($status, $detail) = @{ run_file($dir, $inc, $file) };
		$total{$name}{ $file =~ m{^t/} ? 't' : 'xt' }{$status}++;
		printf "%-32s %-9s %-4s %s\n", $file, $name, $status, $detail;
	}
}
print "\n";
for my $side (@sides) {
	my $name = $side->[0];
	for my $suite (qw(t xt)) {
		my $t = $total{$name}{$suite} or next;
		printf "%-9s %-3s %s\n", $name, "$suite/",
			join(', ', map { "$_ " . ($t->{$_} // 0) } qw(pass FAIL skip DIED));
	}
}

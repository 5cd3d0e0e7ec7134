#!/usr/bin/perl
# Cost of IPC::Shpool calls from Perl, each as a ratio to an empty XS method
# call measured in the same run (`make bench-perl`; options: -n ITERATIONS
# per round, -r ROUNDS; BENCH_PERL_FLAGS="-n 200000 -r 50").
#
#   empty     $pool->_empty($idx)        an XS method that does nothing
#   pair      $pool->free($pool->alloc(0))   an alloc+free pair (raw pool)
#   i64_add   $counters->add($idx, 1)
#   c_pair    the same alloc+free pairs made from C in this process: the
#             library's share of `pair' (not a Perl call; loop not subtracted)
#   shape     $pool->_empty($pool->_empty_iv(0))   a pair's Perl side alone:
#             two empty XS method calls, the inner one returning 0 in its
#             TARG as alloc does, which Perl copies when it is passed on
#   pair_my   my $i = $pool->alloc(0); $pool->free($i)   the usual spelling
#
# Below the table, `pair' is split in three: shape (what Perl costs),
# c_pair (what the library costs) and the rest, the binding's own work
# (argument checks, self, results); the binding's line is pair - shape -
# c_pair, so it carries the noise of all three.
#
# Each case runs ITERATIONS times in a plain for loop; the loop alone is
# timed too and subtracted from every case, so the ratios compare the calls
# themselves. The cases are interleaved, ROUNDS rounds of each, and each
# case reports its fastest round: on a shared machine a round that was
# preempted is slower, never faster, so the minimum is the cost of the
# calls and the median is printed beside it to show the noise.
# Targets: pair <= 3x, i64_add <= 1.5x (ratio of the minima).
use strict;
use warnings;
use Getopt::Std;
use Time::HiRes qw(time);
use IPC::Shpool;

my %o = (n => 100_000, r => 41);
getopts('n:r:', \%o) or die "usage: $0 [-n ITERATIONS] [-r REPETITIONS]\n";
my ($n, $reps) = @o{qw(n r)};

my $pool = IPC::Shpool->new(undef, 1024, 64);
my $counters = IPC::Shpool::I64->new(undef, 64);
my $c = $counters->alloc_set(0);
my $held = $pool->alloc;

my %case = (
	loop    => sub { for (1 .. $n) { } },
	empty   => sub { for (1 .. $n) { $pool->_empty($held) } },
	pair    => sub { for (1 .. $n) { $pool->free($pool->alloc(0)) } },
	shape   => sub { for (1 .. $n) { $pool->_empty($pool->_empty_iv(0)) } },
	pair_my => sub { for (1 .. $n) { my $i = $pool->alloc(0); $pool->free($i) } },
	i64_add => sub { for (1 .. $n) { $counters->add($c, 1) } },
	c_pair  => sub { $pool->_bench_pairs($n) },
);
my @order = qw(loop empty pair i64_add c_pair shape pair_my);
my %t = map { $_ => [] } @order;
$case{$_}->() for @order;   # warm up
for (1 .. $reps) {
	for my $k (@order) {
		my $t0 = time;
		$case{$k}->();
		push @{ $t{$k} }, (time - $t0) / $n * 1e9;
	}
}
sub median { my @s = sort { $a <=> $b } @_; $s[$#s / 2] }
sub min { my @s = sort { $a <=> $b } @_; $s[0] }
my %ns = map { $_ => min(@{ $t{$_} }) } @order;
my %med = map { $_ => median(@{ $t{$_} }) } @order;
$counters->get($c) == ($reps + 1) * $n or die "i64_add lost updates";

printf "# perl %vd, libshpool %s, %d iterations, fastest of %d rounds\n",
	$^V, IPC::Shpool::library_version(), $n, $reps;
printf "# loop overhead %.2f ns per iteration, subtracted below\n", $ns{loop};
printf "%-8s %9s %7s %7s %11s %12s\n", 'case', 'ns/op', 'ratio', 'target', 'median_ns', 'median_ratio';
my $empty = $ns{empty} - $ns{loop};
my $mempty = $med{empty} - $med{loop};
my %target = (pair => '3.0', i64_add => '1.5');
my (%net, %mnet);
for my $k (qw(empty pair i64_add c_pair shape pair_my)) {
	my $loop = $k eq 'c_pair' ? 0 : 1;
	$net{$k} = $ns{$k} - $loop * $ns{loop};
	$mnet{$k} = $med{$k} - $loop * $med{loop};
	printf "%-8s %9.2f %7.3f %7s %11.2f %12.3f\n", $k, $net{$k}, $net{$k} / $empty,
		$target{$k} // '', $mnet{$k}, $mnet{$k} / $mempty;
}
my $binding = $net{pair} - $net{shape} - $net{c_pair};
printf "# pair %.2f ns = shape (Perl's two calls and copy) %.2f (%.3fx)\n"
	. "#   + c_pair (the library) %.2f (%.3fx) + the binding %.2f (%.3fx)\n",
	$net{pair}, $net{shape}, $net{shape} / $empty, $net{c_pair}, $net{c_pair} / $empty,
	$binding, $binding / $empty;

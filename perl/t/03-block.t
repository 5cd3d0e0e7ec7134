# Blocking allocation: timeouts are kept, and a free wakes a sleeper in
# another process.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);
use lib 't/lib';
use ShpoolTest;
use IPC::Shpool;

my $p = IPC::Shpool->new(undef, 2, 8);
my @held = ($p->alloc, $p->alloc);

# a timeout is waited for at least its length, and not for ever
my $t0 = time;
is($p->alloc(0.2), undef, 'alloc(0.2) on a full pool: undef');
my $dt = time - $t0;
cmp_ok($dt, '>=', 0.19, "waited at least the timeout ($dt s)");
cmp_ok($dt, '<', 5, 'and returned');
$t0 = time;
is($p->alloc_n(1, 0.1), undef, 'alloc_n(1, 0.1): undef');
cmp_ok(time - $t0, '>=', 0.09, 'alloc_n waited');
$t0 = time;
is($p->alloc_set("x", 0.1), undef, 'alloc_set with timeout: undef');
cmp_ok(time - $t0, '>=', 0.09, 'alloc_set waited');
$t0 = time;
is($p->alloc(0.0001), undef, 'a sub-millisecond timeout');
cmp_ok(time - $t0, '>=', 0.0001, '... is rounded up, not to 0');
cmp_ok($p->stats->{timeouts}, '>=', 4, 'stats counts the timeouts');

# a child blocks (no timeout); the parent frees once the child is waiting
for my $form (['alloc', []], ['alloc', [-1]], ['alloc', [30]], ['alloc_n', [1]],
	      ['alloc_guard', [30]], ['alloc_guard', [undef]], ['alloc_set', ['x', undef]]) {
	my ($method, $args) = @$form;
	my $label = "$method(" . join(',', map { $_ // 'undef' } @$args) . ")";
	my $pid = child {
		my @r = $p->$method(@$args);
		my $got = ref $r[0] ? $r[0][0] : $r[0];
		defined $got && $p->is_allocated($got) or die "$label returned nothing";
		1;
	};
	ok(wait_until { $p->stats->{waiters} == 1 }, "$label: the child is blocked");
	ok($p->free($held[0]), 'parent frees');
	is(reap($pid), 0, "$label: the child was woken with a slot");
	# start the next form from two held slots again
	$p->reset;
	@held = ($p->alloc, $p->alloc);
}

# several sleepers, one free_n wakes them all
my @pids = map { child { defined $p->alloc(30) } } 1 .. 3;
ok(wait_until { $p->stats->{waiters} == 3 }, 'three children blocked');
$p->reset;   # frees both; a third slot comes back below
ok(wait_until { $p->stats->{waiters} <= 1 }, 'two were woken');
my $left = $p->stats->{waiters};
$p->free_n($p->allocated_slots) if $left;
is(reap($_), 0, "sleeper $_ got a slot") for @pids;
is($p->stats->{waiters}, 0, 'no waiters left');
cmp_ok($p->stats->{waits}, '>=', 3, 'stats counts the waits');

done_testing;

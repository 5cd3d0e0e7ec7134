# Every method of the raw class, in one process.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use ShpoolTest;
use IPC::Shpool;

my $p = IPC::Shpool->new(undef, 8, 24);
isa_ok($p, 'IPC::Shpool');
is($p->capacity, 8, 'capacity');
is($p->elem_size, 24, 'elem_size');
is($p->kind, IPC::Shpool::KIND_RAW(), 'kind');
is($p->used, 0, 'used');
is($p->available, 8, 'available');
is($p->path, undef, 'anonymous pool has no path');
is($p->memfd, -1, 'not memfd-backed');
is($p->fileno, -1, 'no eventfd yet');
cmp_ok($p->stride, '>=', 24, 'stride');

my $i = $p->alloc;
ok(defined $i && $i >= 0 && $i < 8, 'alloc');
ok($p->is_allocated($i), 'is_allocated');
is($p->owner($i), $$, 'owner is this process');
is($p->get($i), "\0" x 24, 'a new slot is zeroed');
ok($p->set($i, "hello"), 'set');
is($p->get($i), "hello" . "\0" x 19, 'get returns elem_size bytes');
ok($p->set($i, "HE"), 'a shorter set');
is($p->get($i), "HE" . "\0" x 22, 'a shorter set is the whole new content (zero-padded)');
ok($p->set($i, "x" x 24), 'a full-size set');
ok($p->free($i), 'free');
ok(!$p->free($i), 'double free is false');
ok(!$p->is_allocated($i), 'not allocated after free');
is($p->owner($i), 0, 'owner 0 when free');

my $j = $p->try_alloc;
ok(defined $j, 'try_alloc');
is($p->get($j), "\0" x 24, 'zeroed again after reuse');
$p->free($j);

# alloc with timeouts on a full pool
my $all = $p->alloc_n(8);
is(scalar @$all, 8, 'alloc_n all');
is_deeply([sort { $a <=> $b } @$all], [0 .. 7], 'alloc_n distinct indices');
is($p->alloc(0), undef, 'alloc(0) on a full pool: undef');
is($p->try_alloc, undef, 'try_alloc on a full pool: undef');
is($p->alloc(0.05), undef, 'alloc(timeout) on a full pool: undef');
is($p->alloc_n(1, 0), undef, 'alloc_n on a full pool: undef');
is($p->alloc_set("x", 0), undef, 'alloc_set on a full pool: undef');
is($p->try_alloc_set("x"), undef, 'try_alloc_set on a full pool: undef');
is_deeply([$p->alloc_set("x", 0)], [], '... the empty list in list context');
is_deeply([$p->try_alloc_set("x")], [], '... for try_alloc_set too');
is_deeply([$p->try_alloc_guard], [], 'try_alloc_guard on a full pool: ()');
is_deeply([$p->alloc_guard(0.01)], [], 'alloc_guard timeout: ()');
is_deeply($p->allocated_slots, [0 .. 7], 'allocated_slots');
is($p->free_n([@$all[0 .. 3], $all->[0]]), 4, 'free_n counts what it freed');
is($p->used, 4, 'used after free_n');
is($p->free_n([]), 0, 'free_n of nothing');
is_deeply($p->alloc_n(0), [], 'alloc_n(0)');
is($p->alloc_n(5, 0), undef, 'alloc_n is all or nothing');
is($p->used, 4, '... nothing allocated');

my @seen;
$p->each_allocated(sub { push @seen, shift });
is_deeply(\@seen, [sort { $a <=> $b } @$all[4 .. 7]], 'each_allocated');
eval { $p->each_allocated(sub { die "stop\n" }) };
is($@, "stop\n", 'each_allocated passes an exception on');

my $s = $p->stats;
is_deeply([sort keys %$s],
	  [sort qw(capacity elem_size used available waiters mmap_size page_size allocs frees waits
		   timeouts recoveries reset_frees)],
	  'stats keys');
is($s->{used}, 4, 'stats used');
is($s->{available}, 4, 'stats available');
is($s->{page_size}, $p->page_size, 'stats page_size');
cmp_ok($s->{timeouts}, '>=', 1, 'stats timeouts');
cmp_ok($s->{mmap_size}, '>', 8 * 24, 'stats mmap_size');

ok($p->reset, 'reset');
is($p->used, 0, 'reset frees everything');
is($p->check, 0, 'check: consistent');
is($p->recover_stale, 0, 'recover_stale: nothing dead');

# alloc_set / try_alloc_set
my $k = $p->alloc_set("abc");
is(substr($p->get($k), 0, 3), "abc", 'alloc_set');
my $k2 = $p->try_alloc_set("def");
is(substr($p->get($k2), 0, 3), "def", 'try_alloc_set');
my $k3 = $p->alloc_set("ghi", 1.5);
ok(defined $k3, 'alloc_set with timeout');

# pointers
my $base = $p->data_ptr;
ok($base, 'data_ptr');
is($p->ptr($k), $base + $k * $p->stride, 'ptr = data_ptr + idx * stride');

# slot_sv: zero-copy, read-only, follows the slot, keeps the pool alive
my $ref = \$p->slot_sv($k);
is(length $$ref, 24, 'slot_sv length');
is(substr($$ref, 0, 3), "abc", 'slot_sv reads the slot');
$p->set($k, "XYZ");
is(substr($$ref, 0, 3), "XYZ", 'slot_sv sees a later set');
eval { $$ref = "no" };
like($@, qr/read-only/, 'slot_sv is read-only');

# guards
{
	my ($g, $guard) = $p->alloc_guard;
	ok(defined $g, 'alloc_guard');
	isa_ok($guard, 'IPC::Shpool::Guard');
	is($guard->idx, $g, 'guard idx');
	ok($p->is_allocated($g), 'guarded slot allocated');
	my $used = $p->used;
	undef $guard;
	ok(!$p->is_allocated($g), 'guard frees at destruction');
	is($p->used, $used - 1, 'used after guard');
}
{
	my ($g, $guard) = $p->try_alloc_guard;
	ok(defined $g, 'try_alloc_guard');
	ok($guard->release, 'release');
	ok(!$p->is_allocated($g), 'released');
	ok(!$guard->release, 'second release is false');
	is($guard->idx, undef, 'empty guard idx');
}
my $kept;
{
	my ($g, $guard) = $p->alloc_guard(1);
	$kept = $guard->disarm;
	is($kept, $g, 'disarm returns the index');
	is($guard->disarm, undef, 'second disarm');
}
ok($p->is_allocated($kept), 'a disarmed guard keeps the slot');
ok($p->free($kept), '... ours to free');

# the pool outlives its object while a guard or a slot_sv holds it
{
	my $q = IPC::Shpool->new(undef, 2, 8);
	my ($g, $guard) = $q->alloc_guard;
	my $i2 = $q->alloc_set("keep");
	my $view = \$q->slot_sv($i2);
	undef $q;
	is(substr($$view, 0, 4), "keep", 'slot_sv keeps the pool mapped');
	undef $guard;   # frees through the pool that is still mapped
	pass('guard destroyed after its pool object');
}

# timeouts: rounding and forms
{
	no warnings 'uninitialized';
	ok(defined $p->alloc_n(1, undef)->[0], 'undef timeout (room: returns at once)');
}
$p->reset;
ok(defined $p->alloc(-1), 'negative timeout waits (room: returns at once)');
ok(defined $p->alloc("0.5"), 'a numeric string timeout');
ok(defined $p->alloc(1e300), 'a huge timeout');

done_testing;

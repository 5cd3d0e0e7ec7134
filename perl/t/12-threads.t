# Perl threads: pools and guards are not cloned into a new thread (no
# double close, no double free); a thread opens its own pool.
use strict;
use warnings;
use Config;
use Test::More;
BEGIN {
	plan skip_all => 'perl built without ithreads' unless $Config{useithreads};
}
use threads;
use IPC::Shpool;

my $p = IPC::Shpool->new(undef, 2, 8);
my ($i, $g) = $p->alloc_guard;
my $view = \$p->slot_sv($i);

my $t = threads->create({ context => 'list' }, sub {
	my $r = eval { $p->used; 1 } ? 'called' : $@;
	my $q = IPC::Shpool::I64->new(undef, 1);   # the thread's own pool
	my $j = $q->alloc_set(5);
	return ($r, $q->incr($j));
});
my ($r, $n) = $t->join;
like($r, qr/unblessed reference/, 'a pool is not cloned into a thread: a method call croaks');
is($n, 6, 'a thread uses a pool of its own');
ok($p->is_allocated($i), "the thread's exit freed nothing of the parent's");
is($p->used, 1, 'used');
ok(defined $p->try_alloc, 'the parent\'s pool still works');
undef $g;
ok(!$p->is_allocated($i), 'the guard frees once, in the parent');
done_testing;

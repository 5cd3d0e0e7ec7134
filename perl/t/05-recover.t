# Stale recovery: slots of a process killed with SIGKILL come back; a live
# process's slots never do.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use ShpoolTest;
use IPC::Shpool;

for my $class (qw(IPC::Shpool IPC::Shpool::I64 IPC::Shpool::Str)) {
	my $p = $class->new(undef, 16, $class =~ /I64/ ? () : (32));
	my $mine = $p->alloc;

	# a holder that allocates 5 slots (one by alloc_n, one guarded) and waits
	pipe(my $r, my $w) or die "pipe: $!";
	my $pid = child {
		close $r;
		my @h = ($p->alloc, $p->alloc, @{ $p->alloc_n(2) });
		my ($gi, $g) = $p->alloc_guard;
		syswrite $w, join(' ', @h, $gi) . "\n";
		sleep 1 while 1;
	};
	close $w;
	my @theirs = split ' ', scalar <$r>;
	is(scalar @theirs, 5, "$class: holder has 5 slots");
	is($p->used, 6, 'used counts them');
	is($p->recover_stale, 0, 'nothing recovered while the holder lives');
	is($p->owner($_), $pid, "slot $_ owned by the holder") for @theirs;

	kill 'KILL', $pid;
	is(reap($pid), 128 + 9, 'holder killed by SIGKILL');
	is($p->recover_stale, 5, 'recover_stale frees the dead holder\'s 5 slots');
	ok(!$p->is_allocated($_), "slot $_ free again") for @theirs;
	ok($p->is_allocated($mine), 'our own slot is kept');
	is($p->used, 1, 'used');
	is($p->stats->{recoveries}, 5, 'stats recoveries');
	is($p->check, 0, 'pool consistent');
	is($p->recover_stale, 0, 'a second pass finds nothing');
}

# a waiter killed while blocked is taken out of the waiters count
my $p = IPC::Shpool->new(undef, 1, 8);
my $held = $p->alloc;
my $pid = child { $p->alloc };
ok(wait_until { $p->stats->{waiters} == 1 }, 'a child blocks');
kill 'KILL', $pid;
is(reap($pid), 128 + 9, 'blocked child killed');
$p->recover_stale;
is($p->stats->{waiters}, 0, 'recover_stale uncounts the dead waiter');
ok($p->free($held), 'free');
ok(defined $p->alloc(0), 'the slot is allocatable');

done_testing;

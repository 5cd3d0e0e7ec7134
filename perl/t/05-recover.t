# Stale recovery: slots of a process killed with SIGKILL come back; a live
# process's slots never do.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use ShpoolTest;
use IPC::Shpool;
use POSIX ();

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
	my $st = $p->stats;
	is($st->{recoveries}, 5, 'stats recoveries');
	# frees counts every slot freed, recovered ones included (as
	# Data::Pool::Shared documents frees), so allocs - frees = used
	is($st->{frees}, 5, 'stats frees includes the 5 recovered');
	is($st->{allocs} - $st->{frees}, $st->{used}, 'allocs - frees = used');
	is($p->check, 0, 'pool consistent');
	is($p->recover_stale, 0, 'a second pass finds nothing');
}

# reset: its frees are counted too, apart in reset_frees
{
	my $q = IPC::Shpool::I64->new(undef, 8);
	my $i = $q->alloc;
	$q->free($i);
	$q->alloc for 1 .. 3;
	$q->reset;
	my $st = $q->stats;
	is_deeply([@$st{qw(allocs frees reset_frees recoveries used)}], [4, 4, 3, 0, 0],
		  'stats after a free and a reset of 3: frees 4, reset_frees 3');
}

# a zombie (exited, not reaped yet) can never free its slots: recovered
{
	my $q = IPC::Shpool::I64->new(undef, 4);
	pipe(my $r, my $w) or die "pipe: $!";
	my $zpid = fork // die "fork: $!";
	if (!$zpid) { close $r; $q->alloc; POSIX::_exit(0) }
	close $w;
	sysread($r, my $eof, 1);   # EOF: the child is exiting
	my $state = sub {
		open(my $fh, '<', "/proc/$zpid/stat") or return '';
		(scalar <$fh>) =~ /\)\s+(\S)/ ? $1 : '';   # after "(comm)"
	};
	ok(wait_until { $state->() eq 'Z' }, 'the child is a zombie (exited, not reaped)');
	is($q->used, 1, '... its slot is allocated');
	is($q->recover_stale, 1, 'recover_stale frees a zombie\'s slot');
	is(reap($zpid), 0, '... the child was a zombie until now');
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

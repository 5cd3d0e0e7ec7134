# eventfd: an IO::Select loop woken by frees in another process.
use strict;
use warnings;
use Test::More;
use IO::Handle;
use IO::Select;
use lib 't/lib';
use ShpoolTest;
use IPC::Shpool;

my $p = IPC::Shpool->new(undef, 2, 8, { notify_on_free => 1 });
is($p->fileno, -1, 'no eventfd at first');
# without an eventfd there is nothing to signal or read (as in
# Data::Pool::Shared): false and undef, no croak
ok(!$p->notify, 'notify without an eventfd: false');
is($p->eventfd_consume, undef, 'eventfd_consume without an eventfd: undef');
is($p->fileno, -1, '... neither made one');

my $fd = $p->eventfd;
cmp_ok($fd, '>', 2, 'eventfd');
is($p->eventfd, $fd, 'eventfd is idempotent');
is($p->fileno, $fd, 'fileno');
is($p->eventfd_consume, undef, 'nothing pending: undef');

my $fh = IO::Handle->new_from_fd($fd, 'r') or die "fdopen: $!";
my $sel = IO::Select->new($fh);
sub readable { my @r = $sel->can_read(shift); scalar @r }
is(readable(0), 0, 'not readable');
ok($p->notify, 'notify');
ok($p->notify, 'notify again');
is(readable(5), 1, 'readable after notify');
is($p->eventfd_consume, 2, 'consume returns the count');
is(readable(0), 0, 'drained');

# fill the pool; a child holds and frees later; the loop waits on the fd
my @held = ($p->alloc, $p->alloc);
my $pid = child {
	# the child's handle inherited the eventfd: its frees signal it
	$p->free($held[0]) && $p->free($held[1]);
};
is(readable(10), 1, 'a free in the child wakes the select');
is(reap($pid), 0, 'child freed two slots');
my $got = $p->eventfd_consume;
ok($got >= 1 && $got <= 2, "consume after frees ($got)");
my @new;
while (defined(my $i = $p->try_alloc)) { push @new, $i }
is(scalar @new, 2, 'try_alloc until undef gets the room');
is($p->free_n(\@new), 2, 'free_n');
is($p->eventfd_consume, 2, 'free_n signals its count');

# eventfd_set: adopt another handle's eventfd; the number is kept
my $other = IPC::Shpool->new(undef, 1, 8);
my $ofd = $other->eventfd;
my $now = $p->eventfd_set($ofd);
is($now, $fd, 'eventfd_set keeps the handle\'s descriptor number');
is($p->fileno, $fd, 'fileno unchanged');
ok($other->notify, 'notify through the other handle');
is($p->eventfd_consume, 1, 'seen through the adopted eventfd');
is($other->fileno, $ofd, 'the other handle keeps its own descriptor');

# a fresh handle adopts a descriptor it gets as a filehandle
my $third = IPC::Shpool->new(undef, 1, 8);
open(my $efh, '<&', $ofd) or die "dup: $!";
my $tfd = $third->eventfd_set($efh);
cmp_ok($tfd, '>', 2, 'eventfd_set with a filehandle');
close $efh;
$other->notify;
is($third->eventfd_consume, 1, 'the duplicate works after the caller closed its handle');

eval { $third->eventfd_set(fileno STDIN) };
like($@, qr/eventfd_set/, 'eventfd_set of a non-eventfd croaks');
eval { $third->eventfd_set(999_999) };
like($@, qr/eventfd_set/, 'eventfd_set of a closed descriptor croaks');
is($third->fileno, $tfd, 'handle unchanged after failures');

# without notify_on_free, frees signal nothing
my $quiet = IPC::Shpool->new(undef, 1, 8);
$quiet->eventfd;
$quiet->free($quiet->alloc);
is($quiet->eventfd_consume, undef, 'no notify_on_free: frees do not signal');

# the drain loop a Data::Pool::Shared program writes ends
$quiet->notify for 1 .. 3;
my ($rounds, $sum) = (0, 0);
while (defined(my $n = $quiet->eventfd_consume)) {
	$sum += $n;
	last if ++$rounds > 2;
}
is("$rounds $sum", '1 3', 'while (defined eventfd_consume) drains once and ends');

done_testing;

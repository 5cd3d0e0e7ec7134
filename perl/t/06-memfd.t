# memfd pools: the descriptor passed to a child that execs a new perl.
use strict;
use warnings;
use Test::More;
use Fcntl qw(F_SETFD F_GETFD FD_CLOEXEC);
use lib 't/lib';
use ShpoolTest;
use IPC::Shpool;

my $p = IPC::Shpool::Str->new_memfd('jobs', 8, 64);
isa_ok($p, 'IPC::Shpool::Str');
my $fd = $p->memfd;
cmp_ok($fd, '>', 2, 'memfd');
is($p->path, undef, 'a memfd pool has no path');
eval { $p->unlink };
like($@, qr/unlink/, 'unlink of a memfd pool croaks');
my $i = $p->alloc_set("from the parent");

# an inheritable duplicate for the exec'd child
open(my $dup, '+<&', $fd) or die "dup: $!";
fcntl($dup, F_SETFD, 0) or die "fcntl: $!";
my $n = fileno $dup;
my @inc = map { "-I$_" } grep { !ref } @INC;
my $code = q{
	my ($fd, $i) = @ARGV;
	my $q = IPC::Shpool::Str->new_from_fd($fd);
	$q->get($i) eq "from the parent" or die "read: " . $q->get($i);
	my $j = $q->alloc_set("from the child");
	print "$j\n";
};
my $pid = open(my $kid, '-|');
die "fork: $!" unless defined $pid;
if (!$pid) {
	exec $^X, @inc, '-MIPC::Shpool', '-e', $code, $n, $i;
	die "exec: $!";
}
chomp(my $j = <$kid> // '');
close $kid;
is($?, 0, 'the exec\'d child attached the memfd by number');
like($j, qr/^\d+$/, 'child allocated a slot');
is($p->get($j), "from the child", 'parent reads the child\'s string');
is($p->owner($j), 0 + $pid, 'owned by the (dead) child') if $j =~ /^\d+$/;
is($p->recover_stale, 1, 'and recovers it');

# new_from_fd takes a filehandle too, and checks the kind
my $q = IPC::Shpool::Str->new_from_fd($dup);
is($q->get($i), "from the parent", 'new_from_fd with a filehandle');
close $dup;
is($q->get($i), "from the parent", 'the pool keeps its own descriptor');
eval { IPC::Shpool::I64->new_from_fd($fd) };
like($@, qr/new_from_fd|_open_fd/, 'wrong kind croaks');
eval { IPC::Shpool->new_from_fd(fileno STDIN) };
ok($@, 'not a pool croaks');

# the other kinds as memfd pools
my $m = IPC::Shpool::I64->new_memfd(undef, 4);
is($m->get($m->alloc_set(3)), 3, 'I64 memfd pool');
my $raw = IPC::Shpool->new_memfd('raw', 4, 16, { notify_on_free => 1 });
is($raw->elem_size, 16, 'raw memfd pool with options');

done_testing;

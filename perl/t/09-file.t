# File-backed pools: attach by path, geometry checks, mode, sync, unlink,
# racing creators; the manual's SYNOPSIS runs.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use ShpoolTest;
use IPC::Shpool;

my $path = tmp_path();
my $p = IPC::Shpool->new($path, 8, 32, { mode => 0640 });
is($p->path, $path, 'path');
ok(-e $path, 'the file exists');
is((stat $path)[2] & 07777, 0640, 'mode option');
my $i = $p->alloc_set("persist");
ok($p->sync, 'sync');

my $again = IPC::Shpool->new($path, 8, 32);
is(substr($again->get($i), 0, 7), "persist", 'new attaches the existing pool');
my $opened = IPC::Shpool->open($path);
is($opened->capacity, 8, 'open takes the geometry from the file');
is($opened->elem_size, 32, '... elem_size');
eval { IPC::Shpool->new($path, 16, 32) };
like($@, qr/^IPC::Shpool->new: .*capacity mismatch.* at \S+09-file\.t line/,
     'capacity mismatch croaks with the detail, from the caller\'s line');
eval { IPC::Shpool::I64->open($path) };
like($@, qr/IPC::Shpool::I64->open: /, 'wrong kind croaks');

# racing creators end with one pool
my $race = tmp_path();
my @pids = map { child { my $q = IPC::Shpool::I64->new($race, 4); $q->alloc_set($$) ; 1 } } 1 .. 4;
is(reap($_), 0, 'racing creator') for @pids;
my $r = IPC::Shpool::I64->open($race);
is($r->used, 4, 'all four creators used the same pool');
ok($r->unlink, 'unlink');
ok(!-e $race, 'the file is gone');
is($r->used, 4, 'the mapping lives on');

ok($p->unlink, 'unlink');
ok(!-e $path, 'gone');
eval { $p->unlink };
like($@, qr/unlink: /, 'a second unlink croaks');

# the SYNOPSIS of the manual, run as written
open(my $pm, '<', $INC{'IPC/Shpool.pm'}) or die "open: $!";
my $pod = do { local $/; <$pm> };
my ($synopsis) = $pod =~ /^=head1 SYNOPSIS\n(.*?)^=head1/ms;
ok($synopsis, 'found the SYNOPSIS');
my $out = '';
{
	local *STDOUT;
	open(STDOUT, '>', \$out) or die;
	eval "no strict; no warnings; package Synopsis; $synopsis; 1" or diag($@);
}
is($out, "job for pid $$\n4000\n", 'the SYNOPSIS runs and prints what it says');

done_testing;

# Guards across fork: a child's copy never frees the parent's slot; a
# guard made in the child frees in the child.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use ShpoolTest;
use IPC::Shpool;

my $p = IPC::Shpool->new(undef, 4, 8);

{
	my ($i, $g) = $p->alloc_guard;
	my $pid = child {
		undef $g;   # the child's copy of the parent's guard
		1;
	};
	is(reap($pid), 0, 'child dropped its copy of the guard');
	ok($p->is_allocated($i), "the parent's slot is still allocated");
	my $pid2 = child { 1 };   # exits with the guard in scope (global destruction)
	is(reap($pid2), 0, 'child exited with the guard alive');
	ok($p->is_allocated($i), '... still allocated');
	my $pid3 = child { my $r = $g->release; !$r };
	is(reap($pid3), 0, 'release in the child is false (it frees nothing)');
	ok($p->is_allocated($i), '... still allocated');
	is($p->owner($i), $$, 'owner is the parent');
}
is($p->used, 0, 'the parent\'s guard freed at scope exit');

# a guard taken in the child frees in the child, the parent sees it
my $r, my $w;
pipe($r, $w) or die "pipe: $!";
my $pid = child {
	close $r;
	my ($i, $g) = $p->alloc_guard;
	syswrite $w, "$i\n";
	$p->is_allocated($i) or die "not allocated";
	undef $g;
	!$p->is_allocated($i);
};
close $w;
my $line = <$r>;
chomp $line;
is(reap($pid), 0, 'child with its own guard');
ok(!$p->is_allocated($line), 'child guard freed in the child');
is($p->used, 0, 'nothing held');

# a disarmed guard in a child keeps the slot after the child is gone
$pid = child {
	my ($i, $g) = $p->alloc_guard;
	defined $g->disarm;
};
is(reap($pid), 0, 'child disarmed');
is($p->used, 1, 'the disarmed slot stays allocated');
is($p->recover_stale, 1, '... until recover_stale (its owner is dead)');

done_testing;

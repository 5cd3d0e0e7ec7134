# The binding's inline fast paths (self, slot index, integer and timeout
# arguments) and the general code behind them must agree: every spelling
# of an argument that takes either path gives the same result, and what
# is not a pool still croaks.
use strict;
use warnings;
use Test::More;
use Scalar::Util qw(weaken);
use Time::HiRes qw(time);
use lib 't/lib';
use ShpoolTest;
use IPC::Shpool;

sub croaks {
	my ($code, $re, $name) = @_;
	local $@;
	my $ok = eval { $code->(); 1 };
	ok(!$ok && $@ =~ $re, $name) or diag("got: " . ($ok ? 'no croak' : $@));
}

# A scalar whose every read goes through get-magic (a tied scalar).
package Tied { sub TIESCALAR { bless [$_[1]], $_[0] } sub FETCH { $_[0][0] } }
sub tied_sv { tie my $v, 'Tied', $_[0]; \$v }

# ---- timeouts: each spelling, on a pool with room and on a full one ----
my $p = IPC::Shpool->new(undef, 2, 8);
my $t0_tied = tied_sv(0);
my $t02_tied = tied_sv(0.02);
my $half_int = do { my $t = 0.5; no warnings; my $x = $t | 0; $t };   # 0.5 with a private IV
# Each spelling is passed as it is (no copy: a tied scalar stays tied).
my %timeout = (
	'none' => sub { $p->alloc }, '0' => sub { $p->alloc(0) },
	'undef' => sub { no warnings 'uninitialized'; $p->alloc(undef) }, '-1' => sub { $p->alloc(-1) },
	'-0.5' => sub { $p->alloc(-0.5) }, '0.25' => sub { $p->alloc(0.25) },
	'"0"' => sub { $p->alloc('0') }, '"0.02"' => sub { $p->alloc('0.02') },
	'2 (IV)' => sub { $p->alloc(2) }, '0.5 with a private IV' => sub { $p->alloc($half_int) },
	'tied 0' => sub { $p->alloc($$t0_tied) }, '~0 (UV)' => sub { $p->alloc(~0) },
	'1e300' => sub { $p->alloc(1e300) },
);
for my $k (sort keys %timeout) {
	my $i = $timeout{$k}->();
	ok(defined $i && $i >= 0 && $i < 2, "alloc with timeout $k: a slot when there is room");
	ok($p->free($i), "... freed");
}
$p->alloc for 1 .. 2;
for my $k ('0', '"0"', 'tied 0', 'undef') {
	my $t0 = time;
	is($timeout{$k}->(), undef, "alloc($k) on a full pool: undef");
	cmp_ok(time - $t0, '<', 0.5, '... at once');
}
for my $k ('"0.02"', 'tied 0.02') {
	my $t0 = time;
	is($k eq '"0.02"' ? $p->alloc('0.02') : $p->alloc($$t02_tied), undef,
	   "alloc($k) on a full pool: undef");
	cmp_ok(time - $t0, '>=', 0.015, '... after waiting');
}
{
	my $t0 = time;
	is($p->alloc(0.02), undef, 'alloc(0.02) on a full pool: undef');
	cmp_ok(time - $t0, '>=', 0.015, '... after waiting');
	is($p->try_alloc, undef, 'try_alloc on a full pool: undef');
}
croaks(sub { $p->alloc('abc') }, qr/IPC::Shpool::alloc: timeout is not a number/, 'alloc("abc")');
croaks(sub { $p->alloc(9**9**9 - 9**9**9) }, qr/timeout is NaN/, 'alloc(NaN)');
croaks(sub { $p->alloc([]) }, qr/timeout is not a number/, 'alloc([])');
croaks(sub { $p->try_alloc(0) }, qr/Usage/, 'try_alloc takes no timeout');
$p->reset;

# ---- slot indices: IV, UV, string, NV, tied; and the refusals ---------
for my $name ('IV', 'string', 'NV', 'tied') {
	my $i = $p->alloc(0);
	my $tied = tied_sv($i);
	my $free = $name eq 'IV' ? sub { $p->free($i) } : $name eq 'string' ? sub { $p->free("$i") }
		 : $name eq 'NV' ? sub { $p->free($i + 0.0) } : sub { $p->free($$tied) };
	ok($free->(), "free with a slot index as $name");
	ok(!$free->(), "... twice: false (not allocated)");
}
croaks(sub { $p->free(-1) }, qr/IPC::Shpool::free: slot index -1 is negative/, 'free(-1)');
# a fraction is truncated toward zero, as Perl does for an array index
{
	my ($a0, $a1) = ($p->alloc(0), $p->alloc(0));
	ok($p->free($a1 + 0.75), 'free(1.75) frees slot 1');
	ok(!$p->is_allocated($a1) && $p->is_allocated($a0), '... slot 1, not 2, not 0');
	ok($p->free("0.5"), 'free("0.5") frees slot 0');
	ok(!$p->free(-0.5), 'free(-0.5) is slot 0 (free already: false)');
}
croaks(sub { $p->free(undef) }, qr/slot index is undef/, 'free(undef)');
croaks(sub { $p->free(~0) }, qr/IPC::Shpool::free: .+/, 'free(~0): the library refuses the range');
croaks(sub { $p->free(2) }, qr/IPC::Shpool::free: .+/, 'free(capacity): the library refuses the range');

# ---- integer arguments: i64 add and i32 ranges --------------------------
my $q = IPC::Shpool::I64->new(undef, 2);
my $c = $q->alloc_set(0);
is($q->add($c, 5), 5, 'add IV');
is($q->add($c, '5'), 10, 'add string');
is($q->add($c, 5.0), 15, 'add integer-valued NV');
my $five = tied_sv(5);
is($q->add($c, $$five), 20, 'add tied');
is($q->add($c, -20), 0, 'add negative');
# a fraction is truncated toward zero, as int() and Data::Pool::Shared do
is($q->add($c, 0.5), 0, 'add 0.5 adds 0');
is($q->add($c, 2.9), 2, 'add 2.9 adds 2');
is($q->add($c, -2.9), 0, 'add -2.9 adds -2');
is($q->add($c, '1.999'), 1, 'add "1.999" adds 1');
ok($q->set($c, 1796700000.123 * 1000), 'set(time * 1000): a number with a fraction');
is($q->get($c), 1796700000123, '... stored truncated');
ok($q->set($c, -7.5), 'set(-7.5)');
is($q->get($c), -7, '... stored as -7');
is($q->xchg($c, 3.3), -7, 'xchg(3.3)');
ok($q->cas($c, 3.99, 4.01), 'cas(3.99, 4.01) compares 3, stores 4');
is($q->get($c), 4, '... 4');
is($q->get($q->alloc_set(9.9)), 9, 'alloc_set(9.9)');
croaks(sub { $q->set($c, 2**63) }, qr/value 9.22337e\+18 is out of range/, 'set(2**63): out of range');
croaks(sub { $q->set($c, -2**63 - 2**11) }, qr/out of range/, 'set(-2**63 - 2048): out of range');
ok($q->set($c, -2**63), 'set(-2**63) as an NV: the bottom of the range');
is($q->get($c), -9223372036854775807 - 1, '... stored');
croaks(sub { $q->set($c, 9**9**9) }, qr/value inf is out of range/i, 'set(Inf)');
croaks(sub { $q->set($c, -9**9**9 + 9**9**9) }, qr/value is NaN/, 'set(NaN)');
$q->set($c, 0);
croaks(sub { $q->add($c, ~0) }, qr/delta \d+ is out of range/, 'add a UV beyond int64');
croaks(sub { $q->add($c, undef) }, qr/delta is undef/, 'add undef');
my $r = IPC::Shpool::I32->new(undef, 2);
my $d = $r->alloc_set(0);
is($r->add($d, 2**31 - 1), 2**31 - 1, 'i32 add at the top of the range');
croaks(sub { $r->add($d, 2**31) }, qr/IPC::Shpool::I32::add: delta 2147483648 is out of range/,
       'i32 add beyond the range');
croaks(sub { $r->add($d, -2**31 - 1) }, qr/is out of range/, 'i32 add below the range');
ok($r->set($d, 2147483647.9), 'i32 set(2**31 - 0.1)');
is($r->get($d), 2147483647, '... truncated to the top of the range');
croaks(sub { $r->set($d, 2147483648.5) }, qr/value 2.14748e\+09 is out of range/, 'i32 set(2**31 + 0.5)');
ok($r->set($d, -2147483648.9), 'i32 set(-2**31 - 0.9)');
is($r->get($d), -2147483648, '... truncated to the bottom of the range');

# ---- self: subclasses, reblessing, weakened references, impostors -------
@My::Pool::ISA = ('IPC::Shpool');
@My::Counters::ISA = ('IPC::Shpool::I64');
my $m = My::Pool->new(undef, 4, 8);
isa_ok($m, 'My::Pool');
my $mi = $m->alloc(0);
ok(defined $mi, 'a subclass allocates');
ok($m->free($mi), 'a subclass frees');
my $mc = My::Counters->new(undef, 2);
my $mci = $mc->alloc_set(1);
is($mc->add($mci, 2), 3, "a subclass of I64 adds");
bless $m, 'My::Other';
is(IPC::Shpool::capacity($m), 4, 'a reblessed pool is still a pool');
bless $m, 'My::Pool';
{
	# Back-reference magic goes in front of ours: the chain walk finds it.
	my $strong = IPC::Shpool->new(undef, 4, 8);
	my $weak = $strong;
	weaken($weak);
	my $wi = $weak->alloc(0);
	ok(defined $wi, 'alloc through a weakened reference');
	ok($strong->free($wi), 'free through the strong one');
	ok(!$weak->free($wi), 'a second free through the weak one: false');
}
my ($gi, $guard) = $p->alloc_guard(0);
my @impostors = (
	['a blessed scalar ref' => bless(\my $x, 'IPC::Shpool')],
	['a blessed number ref' => bless(\(my $y = 12345), 'IPC::Shpool')],
	['a blessed hash' => bless({}, 'IPC::Shpool')],
	['a guard object' => $guard],
	['a plain string' => 'IPC::Shpool'],
);
for my $imp (@impostors) {
	my ($name, $obj) = @$imp;
	croaks(sub { IPC::Shpool::alloc($obj, 0) }, qr/IPC::Shpool::alloc: not an IPC::Shpool object/,
	       "alloc on $name croaks");
	croaks(sub { IPC::Shpool::free($obj, 0) }, qr/IPC::Shpool::free: not an IPC::Shpool object/,
	       "free on $name croaks");
	croaks(sub { IPC::Shpool::I64::add($obj, 0, 1) },
	       qr/IPC::Shpool::I64::add: not an IPC::Shpool object/, "i64 add on $name croaks");
}
is($p->used, 1, 'only the guard holds a slot');
@impostors = ();
undef $guard;
is($p->used, 0, 'the guard freed it');

done_testing;

# The typed classes: values, atomics, and atomics raced by real processes.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use ShpoolTest;
use IPC::Shpool;

# ---- I64
my $q = IPC::Shpool::I64->new(undef, 4);
isa_ok($q, 'IPC::Shpool::I64');
is($q->elem_size, 8, 'I64 elem_size');
is($q->kind, IPC::Shpool::KIND_I64(), 'I64 kind');
my $i = $q->alloc;
is($q->get($i), 0, 'I64 starts at 0');
ok($q->set($i, 9_000_000_000_000_000_000 > 0 ? 9_223_372_036_854_775_807 : 0), 'set INT64_MAX');
is($q->get($i), 9_223_372_036_854_775_807, 'get INT64_MAX');
is($q->incr($i), -9_223_372_036_854_775_807 - 1, 'incr wraps around');
ok($q->set($i, -5), 'set negative');
is($q->add($i, 15), 10, 'add returns the new value');
is($q->add($i, -3), 7, 'add negative');
is($q->incr($i), 8, 'incr');
is($q->decr($i), 7, 'decr');
is($q->xchg($i, 100), 7, 'xchg returns the old value');
ok($q->cas($i, 100, 200), 'cas swaps');
ok(!$q->cas($i, 100, 300), 'cas fails on a wrong expected value');
is($q->get($i), 200, '... and leaves the value');
is($q->cmpxchg($i, 200, 250), 200, 'cmpxchg swaps: returns old');
is($q->cmpxchg($i, 1, 2), 250, 'cmpxchg fails: returns current');
is($q->get($i), 250, '... unchanged');
ok($q->set($i, "42"), 'a numeric string');
is($q->get($i), 42, '... stored as a number');
my $a = $q->alloc_set(-77);
is($q->get($a), -77, 'alloc_set');
my $b = $q->try_alloc_set(5);
is($q->get($b), 5, 'try_alloc_set');
is(length ${\ $q->slot_sv($b)}, 8, 'slot_sv of an I64 slot');
is(unpack('q', ${\ $q->slot_sv($b)}), 5, '... holds the native value');
ok(!$q->can('max_len'), 'I64 has no max_len');

# ---- I32
my $r = IPC::Shpool::I32->new(undef, 4);
is($r->elem_size, 4, 'I32 elem_size');
my $j = $r->alloc_set(2_147_483_647);
is($r->get($j), 2_147_483_647, 'I32 max');
is($r->incr($j), -2_147_483_648, 'I32 incr wraps');
is($r->decr($j), 2_147_483_647, 'I32 decr wraps');
ok($r->set($j, -1), 'I32 set');
is($r->add($j, 11), 10, 'I32 add');
is($r->xchg($j, 3), 10, 'I32 xchg');
ok($r->cas($j, 3, 4), 'I32 cas');
ok(!$r->cas($j, 3, 5), 'I32 cas fails');
is($r->cmpxchg($j, 4, 6), 4, 'I32 cmpxchg');
is($r->get($j), 6, 'I32 get');
eval { $r->set($j, 2_147_483_648) };
like($@, qr/I32::set: value 2147483648 is out of range/, 'I32 value out of range croaks');
eval { $r->add($j, -2_147_483_649) };
like($@, qr/out of range/, 'I32 delta out of range croaks');
is($r->get($j), 6, '... nothing changed');
is($r->get($r->try_alloc_set(-9)), -9, 'I32 try_alloc_set');
is($r->get($r->alloc_set(8, 0)), 8, 'I32 alloc_set');

# ---- F64
my $f = IPC::Shpool::F64->new(undef, 4);
is($f->elem_size, 8, 'F64 elem_size');
my $k = $f->alloc_set(3.25);
is($f->get($k), 3.25, 'F64 alloc_set/get');
ok($f->set($k, -0.5), 'F64 set');
is($f->get($k), -0.5, 'F64 get');
$f->set($k, 9**9**9);
is($f->get($k), 9**9**9, 'F64 infinity');
$f->set($k, 1e-300);
is($f->get($k), 1e-300, 'F64 tiny');
my $nan = 9**9**9 / 9**9**9;
$f->set($k, $nan);
my $got = $f->get($k);
ok($got != $got, 'F64 NaN');
is($f->get($f->try_alloc_set(2)), 2, 'F64 try_alloc_set');
ok(!$f->can('add'), 'F64 has no add');

# ---- Str
my $s = IPC::Shpool::Str->new(undef, 4, 10);
is($s->max_len, 10, 'max_len');
is($s->elem_size, 10, 'Str elem_size is max_len');
my $m = $s->alloc;
is($s->get($m), '', 'a new Str slot is empty');
ok($s->set($m, "hello"), 'Str set');
is($s->get($m), 'hello', 'Str get');
ok($s->set($m, "a\0b"), 'NUL bytes');
is($s->get($m), "a\0b", '... round-trip');
ok($s->set($m, "x" x 10), 'exactly max_len');
is($s->get($m), "x" x 10, '... stored');
eval { $s->set($m, "y" x 11) };
like($@, qr/Str::set: .*11 bytes exceeds max_len 10/, 'over-long set croaks');
is($s->get($m), "x" x 10, '... and writes nothing');
ok($s->set($m, ""), 'empty string');
is($s->get($m), '', '... stored');
is($s->get($s->alloc_set("abc", 1)), 'abc', 'Str alloc_set');
is($s->get($s->try_alloc_set("de")), 'de', 'Str try_alloc_set');
eval { $s->try_alloc_set("z" x 11) };
like($@, qr/exceeds max_len/, 'over-long alloc_set croaks');
is($s->used, 3, '... and allocates nothing');
# a character string (UTF-8 flag on) is stored as its UTF-8 encoding, as
# Data::Pool::Shared stores it; get returns the bytes
ok($s->set($m, "\x{263a}"), 'a wide character');
is($s->get($m), "\xe2\x98\xba", '... stored as its UTF-8 encoding');
my $cafe = "caf\xe9";
utf8::upgrade($cafe);
$s->set($m, $cafe);
is($s->get($m), "caf\xc3\xa9", 'a UTF-8 flagged string is stored as its UTF-8 bytes');
$s->set($m, "caf\xe9");
is($s->get($m), "caf\xe9", 'the same characters unflagged are stored as they are');
ok(!utf8::is_utf8($s->get($m)), 'get returns bytes');
eval { $s->set($m, "\x{263a}" x 4) };
like($@, qr/Str::set: .*12 bytes exceeds max_len 10/, 'the byte length is checked against max_len');
$s->set($m, "view");
is(${\ $s->slot_sv($m)}, 'view', 'Str slot_sv');

# ---- atomics across processes
my $n_procs = 4;
my $per = 2000;
my $c64 = IPC::Shpool::I64->new(undef, 2);
my $c32 = IPC::Shpool::I32->new(undef, 2);
my $x = $c64->alloc_set(0);
my $y = $c32->alloc_set(0);
my $cas_slot = $c64->alloc_set(0);
my @pids = map {
	child {
		for (1 .. $per) {
			$c64->incr($x);
			$c32->add($y, 2);
			$c32->decr($y);
			# a CAS loop: lost updates would show in the total
			my $v;
			do { $v = $c64->get($cas_slot) } until $c64->cas($cas_slot, $v, $v + 3);
		}
		1;
	}
} 1 .. $n_procs;
is(reap($_), 0, "child $_ exited 0") for @pids;
is($c64->get($x), $n_procs * $per, 'I64 incr from 4 processes: nothing lost');
is($c32->get($y), $n_procs * $per, 'I32 add/decr from 4 processes: nothing lost');
is($c64->get($cas_slot), 3 * $n_procs * $per, 'I64 cas loops from 4 processes');

# a value written in one process is read in another (file-backed pool)
my $path = tmp_path();
my $f1 = IPC::Shpool::F64->new($path, 2);
my $fi = $f1->alloc_set(1.5);
my $pid = child {
	my $f2 = IPC::Shpool::F64->open($path);
	$f2->get($fi) == 1.5 or die "read " . $f2->get($fi);
	$f2->set($fi, 2.75);
	1;
};
is(reap($pid), 0, 'child opened the F64 pool by path');
is($f1->get($fi), 2.75, 'parent sees the child\'s store');
$f1->unlink;

done_testing;

# Bad arguments to every method croak with a message naming the method;
# none crashes the process.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use ShpoolTest;
use IPC::Shpool;

my $p   = IPC::Shpool->new(undef, 4, 8);
my $q   = IPC::Shpool::I64->new(undef, 4);
my $r   = IPC::Shpool::I32->new(undef, 4);
my $f   = IPC::Shpool::F64->new(undef, 4);
my $s   = IPC::Shpool::Str->new(undef, 4, 4);
my %pool = (raw => $p, i64 => $q, i32 => $r, f64 => $f, str => $s);
my %slot = map { $_ => $pool{$_}->alloc } keys %pool;
my $free = 3;   # never allocated in any pool (alloc hands out 0 first)

sub croaks {
	my ($code, $re, $name) = @_;
	local $@;
	my $ok = eval { $code->(); 1 };
	ok(!$ok && $@ =~ $re, $name) or diag("got: " . ($ok ? 'no croak' : $@));
}

# (a fraction is no bad index: it is truncated toward zero, t/13-fastpath.t)
my @bad_idx = (
	[undef, qr/slot index is undef/], [-1, qr/negative: out of range/], ['abc', qr/not a number/],
	['', qr/not a number/], ['1x', qr/not a number/], [[], qr/not a number/],
	[4, qr/out of range/], [-1.5, qr/negative: out of range/], [2**64, qr/out of range/],
	['1e30', qr/out of range/], ['NaN', qr/slot index is NaN/],
);

# methods taking a slot index, per pool, with a good value where needed
my %idx_methods = (
	raw => { free => [], get => [], set => ['x'], ptr => [], slot_sv => [], is_allocated => [], owner => [] },
	i64 => { map({ $_ => [] } qw(get incr decr)), set => [1], add => [1], xchg => [1], cas => [1, 2], cmpxchg => [1, 2] },
	i32 => { map({ $_ => [] } qw(get incr decr)), set => [1], add => [1], xchg => [1], cas => [1, 2], cmpxchg => [1, 2] },
	f64 => { get => [], set => [1.5] },
	str => { get => [], set => ['ab'] },
);
for my $k (sort keys %idx_methods) {
	for my $m (sort keys %{ $idx_methods{$k} }) {
		my @rest = @{ $idx_methods{$k}{$m} };
		for my $b (@bad_idx) {
			my ($v, $re) = @$b;
			croaks(sub { $pool{$k}->$m($v, @rest) }, qr/::$m: .*$re/,
			       "$k $m(" . (defined $v ? $v : 'undef') . ")");
		}
	}
}

# a free slot: data access croaks (free/is_allocated/owner answer)
for my $k (sort keys %idx_methods) {
	for my $m (grep { !/^(free|is_allocated|owner|ptr)$/ } sort keys %{ $idx_methods{$k} }) {
		croaks(sub { $pool{$k}->$m($free, @{ $idx_methods{$k}{$m} }) }, qr/not allocated/,
		       "$k $m on a free slot");
	}
}

# values
for my $k (qw(i64 i32)) {
	my $P = $pool{$k};
	my $i = $slot{$k};
	# what Perl would warn about as a number croaks (a fraction does not:
	# t/13-fastpath.t), and so does anything beyond the range
	for my $v (undef, 'abc', '', '12abc', [], 2**70, 'NaN', 'Inf') {
		my $d = defined $v ? $v : 'undef';
		croaks(sub { $P->set($i, $v) }, qr/set: value/, "$k set($d)");
		croaks(sub { $P->add($i, $v) }, qr/add: delta/, "$k add($d)");
		croaks(sub { $P->xchg($i, $v) }, qr/xchg: value/, "$k xchg($d)");
		croaks(sub { $P->cas($i, $v, 1) }, qr/cas: expected/, "$k cas($d, 1)");
		croaks(sub { $P->cas($i, 1, $v) }, qr/cas: desired/, "$k cas(1, $d)");
		croaks(sub { $P->cmpxchg($i, $v, 1) }, qr/cmpxchg: expected/, "$k cmpxchg($d, 1)");
		croaks(sub { $P->alloc_set($v) }, qr/alloc_set: value/, "$k alloc_set($d)");
		croaks(sub { $P->try_alloc_set($v) }, qr/try_alloc_set: value/, "$k try_alloc_set($d)");
	}
	is($P->get($i), 0, "$k: the bad calls changed nothing");
}
croaks(sub { $q->set($slot{i64}, '9223372036854775808') }, qr/out of range/, 'i64 set(2**63)');
ok($q->set($slot{i64}, '-9223372036854775808'), 'i64 set(-2**63) is fine');
for my $v (undef, 'abc', []) {
	my $d = defined $v ? $v : 'undef';
	croaks(sub { $f->set($slot{f64}, $v) }, qr/F64::set: value/, "f64 set($d)");
	croaks(sub { $f->alloc_set($v) }, qr/F64::alloc_set: value/, "f64 alloc_set($d)");
}
for my $P ($p, $s) {
	my $k = $P == $p ? 'raw' : 'str';
	croaks(sub { $P->set($slot{$k}, undef) }, qr/set: value is undef/, "$k set(undef)");
	croaks(sub { $P->set($slot{$k}, []) }, qr/set: value is a reference/, "$k set([])");
	croaks(sub { $P->set($slot{$k}, "x" x 9) }, qr/set: .*(exceeds|larger)/, "$k set(too long)");
	croaks(sub { $P->alloc_set("x" x 9) }, qr/alloc_set: /, "$k alloc_set(too long)");
}

# timeouts
for my $m (qw(alloc alloc_guard)) {
	croaks(sub { $p->$m('soon') }, qr/$m: timeout is not a number/, "$m('soon')");
	croaks(sub { $p->$m([]) }, qr/$m: timeout is not a number/, "$m([])");
	croaks(sub { $p->$m(9**9**9 / 9**9**9) }, qr/$m: timeout is NaN/, "$m(NaN)");
}
croaks(sub { $p->alloc_n(1, 'x') }, qr/alloc_n: timeout/, 'alloc_n(1, x)');
croaks(sub { $p->alloc_set('a', 'x') }, qr/alloc_set: timeout/, 'alloc_set(a, x)');

# counts and lists
croaks(sub { $p->alloc_n(-1) }, qr/alloc_n: count/, 'alloc_n(-1)');
croaks(sub { $p->alloc_n(5) }, qr/alloc_n: count 5 is out of range/, 'alloc_n(capacity + 1)');
croaks(sub { $p->alloc_n(undef) }, qr/alloc_n: count is undef/, 'alloc_n(undef)');
croaks(sub { $p->free_n(1) }, qr/free_n: indices must be an array reference \(expected arrayref\)/,
       'free_n(1), in our words and the reference\'s');
croaks(sub { $p->free_n([0, undef]) }, qr/free_n: undef slot at index 1/, 'free_n([0, undef])');
croaks(sub { $p->free_n({}) }, qr/free_n: indices must be/, 'free_n({})');
croaks(sub { $p->free_n([0, -1]) }, qr/free_n: slot index -1 is negative/, 'free_n([0, -1])');
croaks(sub { $p->free_n([0, 99]) }, qr/free_n: .*out of range/, 'free_n([0, 99])');
ok($p->is_allocated($slot{raw}), '... free_n freed nothing on a bad list');
croaks(sub { $p->each_allocated('main::x') }, qr/each_allocated: callback must be a code reference/,
       'each_allocated(string)');
croaks(sub { $p->each_allocated() }, qr/Usage/, 'each_allocated()');

# descriptors
croaks(sub { $p->eventfd_set(-1) }, qr/eventfd_set: file descriptor -1 is out of range/, 'eventfd_set(-1)');
croaks(sub { $p->eventfd_set('x') }, qr/eventfd_set: file descriptor is not a number/, 'eventfd_set(x)');
no warnings 'once';
croaks(sub { $p->eventfd_set(\*NOSUCH) }, qr/eventfd_set: filehandle is not open/, 'eventfd_set(closed glob)');

croaks(sub { $p->eventfd_set([]) }, qr/eventfd_set: file descriptor is neither/, 'eventfd_set([])');

# wrong number of arguments
croaks(sub { $p->alloc(1, 2) }, qr/Usage: IPC::Shpool::alloc/, 'alloc(1, 2)');
croaks(sub { $p->free }, qr/Usage: IPC::Shpool::free/, 'free()');
croaks(sub { $q->cas(0, 1) }, qr/Usage: IPC::Shpool::I64::cas/, 'cas(0, 1)');
croaks(sub { $p->try_alloc(1) }, qr/Usage/, 'try_alloc(1)');

# not an object: every method of every class
my @methods = qw(alloc try_alloc free alloc_n free_n allocated_slots get set ptr data_ptr stride
	slot_sv is_allocated capacity elem_size used available owner recover_stale reset check
	alloc_guard try_alloc_guard alloc_set try_alloc_set each_allocated path memfd sync unlink
	stats eventfd eventfd_set fileno notify eventfd_consume kind);
my @forged = (undef, 'IPC::Shpool', 42, [], {}, bless(\my $x, 'IPC::Shpool'),
	      bless({}, 'IPC::Shpool::I64'), \*STDOUT);
for my $m (@methods) {
	my $code = IPC::Shpool->can($m) or die "no $m";
	for my $o (@forged) {
		local $@;
		eval { $code->($o, 0, 0) };
		$@ =~ /not an IPC::Shpool object|Usage|call it as/ or do { fail("$m on a non-object: $@"); next };
	}
	pass("$m: every non-object croaks");
}
for my $c (qw(I64 I32)) {
	for my $m (qw(get set cas cmpxchg xchg add incr decr alloc_set try_alloc_set)) {
		my $code = "IPC::Shpool::$c"->can($m);
		croaks(sub { $code->($p, 0, 1, 2) }, qr/./, "${c}::$m on a raw pool croaks");
	}
}
croaks(sub { IPC::Shpool::Str->can('max_len')->(bless \my $y, 'IPC::Shpool::Str') },
       qr/not an IPC::Shpool object/, 'max_len on a forged object');
croaks(sub { IPC::Shpool::Guard->can('release')->($p) }, qr/not an IPC::Shpool::Guard object/,
       'guard method on a pool');
croaks(sub { IPC::Shpool::Guard->can('idx')->(bless {}, 'IPC::Shpool::Guard') },
       qr/not an IPC::Shpool::Guard/, 'guard method on a forged guard');
IPC::Shpool::Guard::DESTROY(bless {}, 'IPC::Shpool::Guard');
pass('DESTROY of a forged guard is ignored');

# constructors
croaks(sub { IPC::Shpool->new }, qr/usage/, 'new()');
croaks(sub { IPC::Shpool->new(undef, 4) }, qr/new: elem_size is required/, 'raw new without elem_size');
croaks(sub { IPC::Shpool::Str->new(undef, 4) }, qr/new: max_len is required/, 'Str new without max_len');
croaks(sub { IPC::Shpool::I64->new(undef, 4, 8) }, qr/takes no elem_size/, 'I64 new with elem_size');
croaks(sub { IPC::Shpool->new(undef, 0, 8) }, qr/IPC::Shpool->new: capacity must be > 0/, 'capacity 0');
croaks(sub { IPC::Shpool->new(undef, 0.5, 8) }, qr/IPC::Shpool->new: capacity must be > 0/, 'capacity 0.5');
is(IPC::Shpool->new(undef, 2.9, 8)->capacity, 2, 'capacity 2.9 is 2');
croaks(sub { IPC::Shpool::Str->new(undef, 2, 0) }, qr/Str->new: max_len must be > 0/, 'max_len 0');
croaks(sub { IPC::Shpool->new(undef, -3, 8) }, qr/capacity -3/, 'capacity -3');
croaks(sub { IPC::Shpool->new(undef, 'lots', 8) }, qr/capacity is not a number/, 'capacity lots');
croaks(sub { IPC::Shpool->new(undef, 2**33, 8) }, qr/capacity .* out of range/, 'capacity 2**33');
croaks(sub { IPC::Shpool->new(undef, 4, 0) }, qr/new: elem_size must be > 0/, 'raw elem_size 0');
croaks(sub { IPC::Shpool->new(undef, 4, 2**31) }, qr/elem_size .* out of range/, 'elem_size 2**31');
croaks(sub { IPC::Shpool->new(undef, 4, 8, { colour => 1 }) }, qr/unknown option 'colour'/, 'unknown option');
croaks(sub { IPC::Shpool->new(undef, 4, 8, { mode => 'rw' }) }, qr/mode must be/, 'bad mode');
croaks(sub { IPC::Shpool->new("/nonexistent-dir/x/y", 4, 8) }, qr/IPC::Shpool->new: .*nonexistent/,
       'a path in a missing directory');
croaks(sub { IPC::Shpool->new("a\0b", 4, 8) }, qr/NUL/, 'a path with a NUL');
croaks(sub { IPC::Shpool->new_memfd('m', 0, 8) }, qr/new_memfd: capacity/, 'new_memfd capacity 0');
croaks(sub { IPC::Shpool->new_from_fd() }, qr/usage/, 'new_from_fd()');
croaks(sub { IPC::Shpool->new_from_fd(-1) }, qr/new_from_fd: file descriptor -1/, 'new_from_fd(-1)');
croaks(sub { IPC::Shpool->new_from_fd(999_999) }, qr/new_from_fd: /, 'new_from_fd(closed)');
croaks(sub { IPC::Shpool->open('/nonexistent-shpool') }, qr/IPC::Shpool->open: /, 'open(missing)');
croaks(sub { IPC::Shpool->open(undef) }, qr/open: path is undef/, 'open(undef)');
croaks(sub { IPC::Shpool::_create($p, 1, undef, 4, 8, 0, 0) }, qr/call it as a class method/,
       '_create on an object');
croaks(sub { IPC::Shpool::_create('IPC::Shpool', 99, undef, 4, 8, 0, 0) }, qr/unknown pool kind/,
       '_create with a bad kind');

# misuse that is the library's to refuse
croaks(sub { $p->unlink }, qr/unlink: /, 'unlink of an anonymous pool');

# after all that, every pool still works
for my $k (sort keys %pool) {
	is($pool{$k}->check, 0, "$k pool consistent");
	ok(defined $pool{$k}->try_alloc, "$k pool allocates");
}

done_testing;

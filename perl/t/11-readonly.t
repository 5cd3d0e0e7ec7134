# Read-only handles and attaching any kind (libshpool's shpool_attach).
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use ShpoolTest;
use IPC::Shpool;

my %made;
for my $c (['' => 'raw', 16], ['I64' => 'i64'], ['I32' => 'i32'], ['F64' => 'f64'], ['Str' => 'str', 16]) {
	my ($suffix, $name, @size) = @$c;
	my $class = $suffix ? "IPC::Shpool::$suffix" : 'IPC::Shpool';
	my $path = tmp_path();
	my $w = $class->new($path, 4, @size);
	my $any = IPC::Shpool->open($path);
	is(ref $any, $class, "IPC::Shpool->open of a $name pool gives a $class");
	is($any->kind_name, $name, "kind_name $name");
	ok(!$any->is_readonly, 'writable by default');
	$made{$name} = [$w, $path];
}

my ($w, $path) = @{ $made{i64} };
my $i = $w->alloc_set(41);
my $r = IPC::Shpool::I64->open($path, { readonly => 1 });
ok($r->is_readonly, 'readonly => 1');
is($r->get($i), 41, 'a read-only handle reads');
is(unpack('q', ${\ $r->slot_sv($i)}), 41, 'slot_sv on a read-only handle');
is($r->used, 1, 'used');
is_deeply($r->allocated_slots, [$i], 'allocated_slots');
is($r->stats->{used}, 1, 'stats');
is($r->owner($i), $$, 'owner');

# every call that would change the pool croaks with the library's EROFS detail
my %mutating = (
	alloc => [0], try_alloc => [], free => [$i], alloc_n => [1, 0], free_n => [[$i]],
	set => [$i, 1], cas => [$i, 41, 1], cmpxchg => [$i, 41, 1], xchg => [$i, 1],
	add => [$i, 1], incr => [$i], decr => [$i], alloc_set => [1, 0], try_alloc_set => [1],
	recover_stale => [], reset => [], alloc_guard => [0], try_alloc_guard => [],
);
for my $m (sort keys %mutating) {
	local $@;
	eval { $r->$m(@{ $mutating{$m} }) };
	like($@, qr/^IPC::Shpool::(I64::)?$m: .*read-only/, "$m on a read-only handle croaks");
}
is($r->get($i), 41, 'nothing changed');
is($w->used, 1, 'nothing allocated or freed');

# a writer in another process, seen through the read-only handle
my $pid = child { $w->add($i, 1) == 42 };
is(reap($pid), 0, 'a child adds through its writable handle');
is($r->get($i), 42, 'the read-only handle sees it');

# read-only by descriptor, and a subclass refusing another kind
my $m = IPC::Shpool::Str->new_memfd('ro', 2, 8);
my $s = $m->alloc_set("memfd");
my $rm = IPC::Shpool->new_from_fd($m->memfd, { readonly => 1 });
is(ref $rm, 'IPC::Shpool::Str', 'new_from_fd of any kind');
ok($rm->is_readonly, 'read-only by descriptor');
is($rm->get($s), "memfd", 'reads');
eval { $rm->set($s, "x") };
like($@, qr/read-only/, 'set croaks');
eval { IPC::Shpool::I32->open($path) };
like($@, qr/IPC::Shpool::I32->open: /, 'a subclass attaches its own kind only');
eval { IPC::Shpool->open($path, { writable => 1 }) };
like($@, qr/unknown option 'writable'/, 'unknown attach option');
eval { IPC::Shpool->open($path, 1) };
like($@, qr/usage/, 'open with too many arguments');

$_->[0]->unlink for values %made;
done_testing;

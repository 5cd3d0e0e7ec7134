# What a program written for Data::Pool::Shared meets here (see "MIGRATING
# FROM Data::Pool::Shared" and "Differences from Data::Pool::Shared" in the
# manual): the opt-in truncate => 1, the class-method unlink, ptr of a free
# slot, each_allocated's snapshot, an undef timeout, and error messages that
# keep the reference's key phrases.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use ShpoolTest;
use IPC::Shpool;

sub croaks {
	my ($code, $re, $name) = @_;
	local $@;
	my $ok = eval { $code->(); 1 };
	ok(!$ok && $@ =~ $re, $name) or diag("got: " . ($ok ? 'no croak' : $@));
}

# ---- truncate => 1: over-long values cut, per handle, raw and Str only ----
{
	my $path = tmp_path();
	my $s = IPC::Shpool::Str->new($path, 4, 4, { truncate => 1 });
	ok($s->truncates, 'Str: truncates');
	my $i = $s->alloc;
	ok($s->set($i, "abcdefgh"), 'an over-long set');
	is($s->get($i), 'abcd', '... stores the first max_len bytes');
	my $j = $s->alloc_set("wxyz12");
	is($s->get($j), 'wxyz', 'alloc_set is cut too');
	is($s->get($s->try_alloc_set("0123456789")), '0123', 'and try_alloc_set');
	ok($s->set($i, "ab"), 'a short value');
	is($s->get($i), 'ab', '... as it is');

	# the option is the handle's: another handle of the same pool croaks
	my $plain = IPC::Shpool::Str->open($path);
	ok(!$plain->truncates, 'a handle without the option');
	croaks(sub { $plain->set($i, "abcdefgh") }, qr/Str::set: .*exceeds max_len 4/,
	       '... croaks for the over-long value');
	is($s->get($i), 'ab', '... and writes nothing');
	my $cut = IPC::Shpool->open($path, { truncate => 1 });
	isa_ok($cut, 'IPC::Shpool::Str', 'open(truncate => 1) of any kind');
	ok($cut->truncates, '... truncates');
	$cut->set($i, "123456");
	is($s->get($i), '1234', '... and cuts');
	open(my $fh, '+<', $path) or die "open: $!";
	ok(IPC::Shpool::Str->new_from_fd($fh, { truncate => 1 })->truncates, 'new_from_fd(truncate => 1)');
	close $fh;
	open($fh, '<', $path) or die "open: $!";
	croaks(sub { IPC::Shpool::Str->new_from_fd($fh) }, qr/attach with readonly => 1 to only read/,
	       'a read-only fd: the advice names the option, not the C flag');
	close $fh;
	unlink $path;
}
{
	my $r = IPC::Shpool->new_memfd('t', 2, 4, { truncate => 1 });
	my $i = $r->alloc;
	ok($r->set($i, "abcdefgh"), 'raw: an over-long set');
	is($r->get($i), 'abcd', '... stores elem_size bytes');
	is($r->get($r->alloc_set("123456")), '1234', 'raw alloc_set is cut');
	my $plain = IPC::Shpool->new(undef, 2, 4);
	ok(!$plain->truncates, 'off by default');
	croaks(sub { $plain->set($plain->alloc, "abcdefgh") }, qr/::set: .*exceeds elem_size 4/,
	       'without it an over-long raw set croaks');
	croaks(sub { $plain->alloc_set("abcdefgh") }, qr/alloc_set: /, '... and alloc_set');
	is($plain->used, 1, '... allocating nothing');
}
for my $c (qw(I64 I32 F64)) {
	croaks(sub { "IPC::Shpool::$c"->new(undef, 2, { truncate => 1 }) },
	       qr/IPC::Shpool::$c: option 'truncate' is for raw and Str pools/, "$c refuses truncate");
}
croaks(sub { IPC::Shpool::Str->new(undef, 2, 4, { truncate => 'yes' }) },
       qr/option 'truncate' must be 1 or 0/, 'truncate => "yes" croaks');
ok(!IPC::Shpool::Str->new(undef, 2, 4, { truncate => 0 })->truncates, 'truncate => 0');

# ---- unlink: $pool->unlink and CLASS->unlink($path) ----------------------
{
	my $path = tmp_path();
	my $p = IPC::Shpool::I64->new($path, 2);
	ok(IPC::Shpool->unlink($path), 'IPC::Shpool->unlink($path)');
	ok(!-e $path, '... removed the file');
	is($p->get($p->alloc_set(7)), 7, '... the pool lives on while mapped');
	IPC::Shpool::I64->new($path, 2);
	ok(IPC::Shpool::I64->unlink($path), 'a subclass too');
	ok(!-e $path, '... removed');
	croaks(sub { IPC::Shpool->unlink($path) },
	       qr/^IPC::Shpool::unlink: cannot unlink: unlink\(\Q$path\E\): No such file/,
	       'a missing file: cannot unlink, with unlink(PATH): reason');
	croaks(sub { IPC::Shpool->unlink }, qr/Usage: IPC::Shpool::unlink/, 'CLASS->unlink()');
	croaks(sub { IPC::Shpool->unlink(undef) }, qr/unlink: path is undef/, 'CLASS->unlink(undef)');
	croaks(sub { IPC::Shpool->unlink("a\0b") }, qr/NUL/, 'a path with a NUL');
	croaks(sub { $p->unlink($path) }, qr/Usage/, '$pool->unlink($path) is ambiguous');
	my $q = IPC::Shpool::I64->new($path, 2);
	ok($q->unlink, '$pool->unlink');
	croaks(sub { $q->unlink }, qr/cannot unlink: unlink\(\Q$path\E\): No such file/,
	       'a second $pool->unlink');
	croaks(sub { IPC::Shpool->new_memfd('m', 2, 8)->unlink },
	       qr/cannot unlink anonymous or memfd object/, 'unlink of a memfd pool');
	croaks(sub { IPC::Shpool->new(undef, 2, 8)->unlink },
	       qr/cannot unlink anonymous or memfd object/, 'unlink of an anonymous pool');
}

# ---- ptr: only of an allocated slot ------------------------------------
{
	my $p = IPC::Shpool::I64->new(undef, 4);
	my $i = $p->alloc;
	is($p->ptr($i), $p->data_ptr + $i * $p->stride, 'ptr of an allocated slot');
	$p->free($i);
	croaks(sub { $p->ptr($i) }, qr/IPC::Shpool::ptr: slot $i is not allocated/,
	       'ptr of a freed slot croaks');
	croaks(sub { $p->ptr(4) }, qr/slot 4 out of range \(capacity 4\)/, 'ptr out of range');
}

# ---- each_allocated: a snapshot of the allocated slots ----------------
{
	my $p = IPC::Shpool::I64->new(undef, 8);
	my @held = map { $p->alloc } 1 .. 3;
	my @seen;
	$p->each_allocated(sub {
		push @seen, $_[0];
		return if @seen > 1;
		$p->free($_) for @held;   # the first call frees all three
		$p->alloc_set(1);         # and allocates one
	});
	is_deeply(\@seen, [sort { $a <=> $b } @held],
		  'each_allocated calls back for every slot allocated at the start');
	is($p->used, 1, '... whatever the callback freed or allocated');
}

# ---- an undef timeout: alloc and alloc_n do not wait, with a warning ----
{
	my $p = IPC::Shpool->new(undef, 1, 8);
	$p->alloc;
	my @w;
	local $SIG{__WARN__} = sub { push @w, $_[0] };
	is($p->alloc(undef), undef, 'alloc(undef) on a full pool: undef, at once');
	is($p->alloc_n(1, undef), undef, 'alloc_n(1, undef) on a full pool: undef, at once');
	is(scalar @w, 2, '... a warning each');
	like($w[0], qr/^IPC::Shpool::alloc: timeout is undef: not waiting/, '... naming the method');
	@w = ();
	{
		no warnings 'uninitialized';
		is($p->alloc(undef), undef, 'alloc(undef) under no warnings');
	}
	is(scalar @w, 0, '... is quiet');
}

# ---- error messages: the reference's key phrases beside ours ----------
{
	my $path = tmp_path();
	IPC::Shpool::I64->new($path, 2);
	croaks(sub { IPC::Shpool::I32->new($path, 2) },
	       qr/I32->new: .*kind mismatch.*\(invalid or incompatible pool file\)/,
	       'another kind: the detail, and "invalid or incompatible pool file"');
	open(my $fh, '+<', $path) or die "open: $!";
	print $fh "XXXXXXXX";
	close $fh;
	croaks(sub { IPC::Shpool::I64->new($path, 2) },
	       qr/bad magic.*\(invalid or incompatible pool file\)/, 'a damaged header');
	croaks(sub { IPC::Shpool::I64->open($path) },
	       qr/open: .*\(invalid or incompatible pool file\)/, '... through open');
	truncate($path, 100) or die "truncate: $!";
	open($fh, '<', $path) or die "open: $!";
	croaks(sub { IPC::Shpool::I64->new_from_fd($fh) },
	       qr/new_from_fd: .*\(invalid or incompatible pool\)/, '... through new_from_fd');
	close $fh;
	unlink $path;
	open($fh, '<', '/dev/null') or die;
	croaks(sub { IPC::Shpool::I64->new_from_fd($fh) },
	       qr/not a regular file \(invalid or incompatible pool\)/, '/dev/null');
	croaks(sub { IPC::Shpool->new("$path.d/x/y", 2, 8) },
	       qr/No such file or directory \(open failed\)/, 'a missing directory: "open failed"');
	croaks(sub { IPC::Shpool->open("$path.none") }, qr/\(open failed\)/, 'open of a missing file');
	croaks(sub { (bless \(my $z = 0), 'IPC::Shpool::I64')->alloc },
	       qr/not an IPC::Shpool object \(forged, or destroyed\)/, 'a forged object');
}

done_testing;

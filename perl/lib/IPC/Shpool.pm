package IPC::Shpool;

use 5.036;
use strict;
use warnings;
use Carp ();

# MAJOR.MINOR.PATCH of libshpool as MAJOR + MINOR/100 + PATCH/10000
# (libshpool 0.1.0 is 0.0100, 1.2.3 would be 1.0203); t/00-load.t fails
# when this and include/shpool.h disagree.
our $VERSION = '0.0100';

require XSLoader;
XSLoader::load('IPC::Shpool', $VERSION);

# Threads: a cloned handle would close the mapping twice. Objects are not
# cloned into new threads (they become undef there); open the pool again.
sub CLONE_SKIP { 1 }

my %OPTION = (mode => 1, no_zero => 1, notify_on_free => 1, huge_pages => 1, populate => 1,
	      truncate => 1);

# A yes/no option: false (undef, '', 0) or 1, nothing else, so that a
# misspelt value (populate => 'prefer') croaks instead of meaning "yes".
sub _bool_option {
	my ($class, $o, $k) = @_;
	my $v = $o->{$k};
	return 0 if !defined $v || (!ref $v && ($v eq '' || $v eq '0'));
	return 1 if !ref $v && $v eq '1';
	Carp::croak("${class}: option '$k' must be 1 or 0, not " . _shown($v));
}

sub _shown {
	my ($v) = @_;
	return ref $v ? 'a ' . ref($v) . ' reference' : "'$v'";
}

# huge_pages => 1 (huge pages or croak), 'prefer' (huge pages if they can
# be had, else normal ones) or false (normal pages).
sub _huge_flags {
	my ($class, $o) = @_;
	my $v = $o->{huge_pages};
	return 0 if !defined $v || (!ref $v && ($v eq '' || $v eq '0'));
	return HUGEPAGES()        if !ref $v && $v eq '1';
	return HUGEPAGES_PREFER() if !ref $v && $v eq 'prefer';
	Carp::croak("${class}: option 'huge_pages' must be 1, 'prefer' or 0, not " . _shown($v));
}

sub _options {
	my ($class, $args) = @_;
	my $o = (@$args && ref $args->[-1] eq 'HASH') ? pop @$args : {};
	for my $k (sort keys %$o) {
		Carp::croak("${class}: unknown option '$k'") unless $OPTION{$k};
	}
	$class->_truncate_option($o);
	my $flags = 0;
	$flags |= NO_ZERO()        if $o->{no_zero};
	$flags |= NOTIFY_ON_FREE() if $o->{notify_on_free};
	$flags |= $class->_huge_flags($o);
	$flags |= POPULATE()       if $class->_bool_option($o, 'populate');
	my $mode = $o->{mode} // 0;
	Carp::croak("${class}: mode must be a permission number like 0640")
		unless $mode =~ /^[0-9]+$/ && $mode <= 07777;
	return ($flags, $mode, $o);
}

# truncate => 1: this handle cuts an over-long raw or Str value to the
# slot's size instead of croaking (Data::Pool::Shared's behaviour, for
# programs that rely on it). A property of the handle, not of the pool.
sub _truncate_option {
	my ($class, $o) = @_;
	return 0 unless $class->_bool_option($o, 'truncate');
	my $kind = $class->_attach_kind;
	Carp::croak("${class}: option 'truncate' is for raw and Str pools (a value of "
		    . "this kind always fits its slot)")
		unless $kind == KIND_ANY() || $kind == KIND_RAW() || $kind == KIND_STR();
	return 1;
}

sub _with_options {
	my ($pool, $o) = @_;
	$pool->_set_truncate(1) if $o->{truncate};
	return $pool;
}

# The element size argument: required for raw and Str pools (elem_size,
# max_len), refused for the fixed-size kinds.
sub _elem_size {
	my ($class, $args, $what) = @_;
	my $kind = $class->_kind;
	if ($kind == KIND_RAW() || $kind == KIND_STR()) {
		my $n = $kind == KIND_RAW() ? 'elem_size' : 'max_len';
		Carp::croak("${class}->$what: $n is required") unless @$args >= 1;
		Carp::croak("${class}->$what: too many arguments") if @$args > 1;
		return $args->[0];
	}
	Carp::croak("${class}->$what: takes no elem_size (slots of this kind have a fixed size)")
		if @$args;
	return 0;
}

sub _kind { KIND_RAW() }

# Run an XS constructor; its croak is re-thrown from the caller's line,
# under the public method's name.
sub _call {
	my ($name, $xs, @args) = @_;
	my $pool = eval { $xs->(@args) };
	return $pool if $pool;
	my $err = $@;
	$err =~ s/ at \S+ line \d+\.\n\z//;
	$err =~ s/^IPC::Shpool::_\w+: //;
	# The library's detail names its C flags; say the option that sets
	# them here instead, so the advice can be followed as written.
	$err =~ s/\bSHPOOL_HUGEPAGES_PREFER\b/huge_pages => 'prefer'/g;
	$err =~ s/\bSHPOOL_HUGEPAGES\b/huge_pages => 1/g;
	$err =~ s/\bSHPOOL_POPULATE\b/populate => 1/g;
	$err =~ s/\bSHPOOL_RDONLY\b/readonly => 1/g;
	Carp::croak("$args[0]->$name: $err");
}

sub new {
	my $class = shift;
	Carp::croak("usage: ${class}->new(\$path, \$capacity, ...)") if @_ < 2;
	my ($path, $capacity, @rest) = @_;
	my ($flags, $mode, $o) = $class->_options(\@rest);
	my $esize = $class->_elem_size(\@rest, 'new');
	return _with_options(_call('new', \&_create, $class, $class->_kind, $path, $capacity,
				   $esize, $flags, $mode), $o);
}

sub new_memfd {
	my $class = shift;
	Carp::croak("usage: ${class}->new_memfd(\$name, \$capacity, ...)") if @_ < 2;
	my ($name, $capacity, @rest) = @_;
	my ($flags, undef, $o) = $class->_options(\@rest);
	my $esize = $class->_elem_size(\@rest, 'new_memfd');
	return _with_options(_call('new_memfd', \&_create_memfd, $class, $class->_kind, $name,
				   $capacity, $esize, $flags), $o);
}

# Attach options: readonly => 1 maps the pool read-only (every call that
# would change it croaks with EROFS); populate => 1 faults this process's
# mapping in now. huge_pages is refused by name: an attached pool is on
# huge pages when its file is, whatever the attacher asks.
sub _attach_flags {
	my ($class, $args) = @_;
	my $o = (@$args && ref $args->[-1] eq 'HASH') ? pop @$args : {};
	for my $k (sort keys %$o) {
		Carp::croak("${class}: option 'huge_pages' is for new and new_memfd only: an "
			    . "attached pool is on huge pages when its file or memfd is")
			if $k eq 'huge_pages';
		Carp::croak("${class}: unknown option '$k'")
			unless $k eq 'readonly' || $k eq 'populate' || $k eq 'truncate';
	}
	$class->_truncate_option($o);
	my $flags = $o->{readonly} ? RDONLY() : 0;
	$flags |= POPULATE() if $class->_bool_option($o, 'populate');
	return ($flags, $o);
}

# IPC::Shpool itself attaches a pool of any kind, blessed into its kind's
# class; a subclass attaches its own kind only.
sub _attach_kind {
	my ($class) = @_;
	return $class eq 'IPC::Shpool' ? KIND_ANY() : $class->_kind;
}

sub new_from_fd {
	my $class = shift;
	my ($flags, $o) = $class->_attach_flags(\@_);
	Carp::croak("usage: ${class}->new_from_fd(\$fd [, { readonly => 1, populate => 1 }])") if @_ != 1;
	return _with_options(_call('new_from_fd', \&_open_fd, $class, $class->_attach_kind, $_[0],
				   $flags), $o);
}

sub open {
	my $class = shift;
	my ($flags, $o) = $class->_attach_flags(\@_);
	Carp::croak("usage: ${class}->open(\$path [, { readonly => 1, populate => 1 }])") if @_ != 1;
	return _with_options(_call('open', \&_open, $class, $class->_attach_kind, $_[0], $flags), $o);
}

package IPC::Shpool::I64;
our @ISA = ('IPC::Shpool');
our $VERSION = $IPC::Shpool::VERSION;
sub _kind { IPC::Shpool::KIND_I64() }

package IPC::Shpool::I32;
our @ISA = ('IPC::Shpool');
our $VERSION = $IPC::Shpool::VERSION;
sub _kind { IPC::Shpool::KIND_I32() }

package IPC::Shpool::F64;
our @ISA = ('IPC::Shpool');
our $VERSION = $IPC::Shpool::VERSION;
sub _kind { IPC::Shpool::KIND_F64() }

package IPC::Shpool::Str;
our @ISA = ('IPC::Shpool');
our $VERSION = $IPC::Shpool::VERSION;
sub _kind { IPC::Shpool::KIND_STR() }

package IPC::Shpool::Guard;
our $VERSION = $IPC::Shpool::VERSION;
sub CLONE_SKIP { 1 }

1;
__END__

=head1 NAME

IPC::Shpool - a pool of fixed-size slots shared by many processes (libshpool)

=head1 SYNOPSIS

    use IPC::Shpool;

    # 64 raw slots of 256 bytes in a file; other processes open the same path
    my $pool = IPC::Shpool->new("/dev/shm/jobs-$$", 64, 256);
    my $idx = $pool->alloc(0.5);            # wait up to half a second
    if (defined $idx) {
        $pool->set($idx, "job for pid $$");
        print unpack("Z*", $pool->get($idx)), "\n";   # up to the first NUL
        $pool->free($idx);
    }
    $pool->unlink;

    # atomic counters shared with forked children
    my $counters = IPC::Shpool::I64->new(undef, 16);
    my $c = $counters->alloc_set(0);
    for (1 .. 4) {
        defined(my $pid = fork) or die "fork: $!";
        if (!$pid) { $counters->incr($c) for 1 .. 1000; exit 0 }
    }
    1 while wait != -1;
    print $counters->get($c), "\n";         # 4000

    # a slot that frees itself when $guard goes out of scope
    {
        my ($slot, $guard) = $pool->try_alloc_guard;
    }

=head1 DESCRIPTION

IPC::Shpool is the Perl binding of libshpool, a C library that gives many
processes one shared pool of fixed-size slots on Linux. Any process can
allocate a slot, use it in place and free it, lock-free and without a
system call on the fast path; when the pool is full, an allocation sleeps
on a futex until a slot comes free or its timeout passes. Slots held by a
process that died are given back by L</recover_stale>; an eventfd lets an
event loop wait for room.

A pool lives in a file (under F</dev/shm> for memory only), in an anonymous
mapping shared with the children forked after it was made, or in a memfd
that can be passed to an unrelated process.

The classes match those of L<Data::Pool::Shared> one to one, with the same
methods, arguments and results, so that a program written for it runs with
the class names changed (L</MIGRATING FROM Data::Pool::Shared>):

    Data::Pool::Shared       IPC::Shpool          raw bytes
    Data::Pool::Shared::I64  IPC::Shpool::I64     atomic 64-bit integers
    Data::Pool::Shared::I32  IPC::Shpool::I32     atomic 32-bit integers
    Data::Pool::Shared::F64  IPC::Shpool::F64     doubles
    Data::Pool::Shared::Str  IPC::Shpool::Str     strings of up to max_len bytes

The typed classes inherit every method of IPC::Shpool and add their own
L</get>, L</set>, L</alloc_set> and, for the integer kinds, the atomics.
A pool made by the C library, the C<shpool> tool or another binding is the
same pool: open it with the class of its kind.

=head2 Conventions

=over 4

=item Timeouts

are in seconds and may be fractional. Leaving the argument out, or a
negative number, waits for ever; C<0> does not wait; a positive timeout is
rounded up to the next millisecond. An explicit C<undef> waits for ever in
L</alloc_guard> and L</alloc_set>, and does not wait in L</alloc> and
L</alloc_n>, with a warning in the C<uninitialized> category: both as in
L<Data::Pool::Shared>, which reads it as 0 there. A string that is not a
number, a reference and NaN croak. While a call waits, Perl's deferred
signal handlers do not run (the wait resumes after a signal); a signal
without a Perl handler still ends the process as usual.

=item Results

An allocation that times out or finds the pool full returns C<undef> (an
empty list for the guard calls). Misuse - a slot index out of range, a
value that does not fit, a slot that is not allocated, a wrong argument
type - croaks with the library's explanation, prefixed by the method's
name, for example
C<IPC::Shpool::I64::add: slot 7 is not allocated>.

=item Numbers

Where an integer is expected (a slot index, an I64 or I32 value, a delta,
a count, a capacity), a number with a fraction is truncated toward zero,
as C<int()> and an array index do (and as L<Data::Pool::Shared> does):
C<< $counters->set($i, time * 1000) >> stores whole milliseconds. What Perl
would warn about as a number croaks instead of becoming 0 or a prefix:
C<undef>, C<''>, C<'12abc'>, a reference; so do NaN and a number outside
the range (an I32 value above 2**31 - 1, an I64 one above 2**63 - 1, a
negative index), never wrapped or clamped.

=item Slot indices

are integers from 0 to C<capacity - 1>, as above.

=item Values

Raw and Str slots take strings of bytes, as Perl holds them: a string with
the UTF-8 flag on (a character string: from C<decode>, or a literal under
C<use utf8>) is stored as its UTF-8 encoding, as L<Data::Pool::Shared>
stores it, and L</get> returns bytes either way: decode them to get
characters back. Encode the value yourself (C<Encode::encode('UTF-8', $s)>)
to not depend on the flag. The length checked against C<elem_size> or
C<max_len> is the length in bytes. I64 and I32 slots take integers, F64
slots take numbers (C<undef> and strings that are not numbers croak).

=back

=head1 CONSTRUCTORS

=head2 new

    my $pool = IPC::Shpool->new($path, $capacity, $elem_size, \%options);
    my $pool = IPC::Shpool::I64->new($path, $capacity, \%options);
    my $pool = IPC::Shpool::Str->new($path, $capacity, $max_len, \%options);

Creates the pool at C<$path>, or attaches the pool already there if its
kind, capacity and element size match (croaks otherwise). A new file is
only visible at C<$path> once it is complete, so processes racing to create
the same pool all end up with one. With C<$path> C<undef> the pool is an
anonymous mapping, shared with the processes forked after this call.

C<$elem_size> (raw) and C<$max_len> (Str) are required; the I64, I32 and
F64 classes take none. C<$capacity> is at least 1 and at most 2**32.

The optional hash reference (libshpool extensions) takes C<mode> (the new
file's permissions, default 0600), C<notify_on_free> (frees signal the
eventfd, see L</eventfd Integration>), C<no_zero> (do not zero a slot on
allocation), C<truncate> (below), and C<huge_pages> and C<populate> (see
L</HUGE PAGES AND PRE-FAULTING>):

    my $frames = IPC::Shpool->new(undef, 64, 1 << 20,
                                  { huge_pages => 1, populate => 1 });

=over 4

=item C<< huge_pages => 1 >>

back the pool with huge pages from the kernel's reserve, or croak: for
too few reserved, with the command that would reserve enough; for a
C<$path> that is not on a hugetlbfs mount; on a kernel without hugetlb.

=item C<< huge_pages => 'prefer' >>

huge pages where they can be had, normal pages otherwise (no croak);
L</page_size> tells which the pool got.

=item C<< populate => 1 >>

fault the whole mapping in now, so that no slot's first touch takes a page
fault later; croaks if the memory cannot be had.

=item C<< truncate => 1 >>

raw and Str pools: L</set> and L</alloc_set> through this handle cut an
over-long value to the slot's size (C<elem_size> bytes raw, C<max_len>
bytes Str) and store the rest, as L<Data::Pool::Shared> does, instead of
croaking. Off by default: a value cut silently is data lost, and a croak
says so where it happens. Turn it on for a program migrated from
L<Data::Pool::Shared> that relies on the cut. It belongs to the handle, not
to the pool (another process's handle of the same pool has its own), and
croaks for the I64, I32 and F64 classes, whose values always fit.
L</truncates> tells whether a handle has it.

=back

A false value (0, C<''>, C<undef>) is the same as leaving the key out. Any
other value, and any key not listed here, croaks: a misspelt option is
never silently ignored. Leaving the hash out keeps every default, so a
call written for L<Data::Pool::Shared> works unchanged.

=head2 new_memfd

    my $pool = IPC::Shpool->new_memfd($name, $capacity, $elem_size, \%options);

Creates the pool in a memfd, sealed against resizing; C<$name> (may be
C<undef>) only shows in F</proc/PID/fd>. Pass L</memfd> to another process
(inherited, or over a Unix socket) to share the pool. The options are those
of L</new> but C<mode>; with C<< huge_pages => 1 >> the memfd is made with
C<MFD_HUGETLB>, and every process that attaches it gets huge pages too.

=head2 new_from_fd

    my $pool = IPC::Shpool::I64->new_from_fd($fd);
    my $pool = IPC::Shpool->new_from_fd($fd, { readonly => 1 });

Attaches the pool in C<$fd> (a file descriptor number or a Perl
filehandle). A typed class checks that the pool is of its kind;
IPC::Shpool itself attaches a pool of any kind and returns an object of
that kind's class. The pool keeps its own duplicate: the caller may close
C<$fd>. For C<readonly>, C<populate> and C<truncate>, see L</open>.

=head2 open

    my $pool = IPC::Shpool::Str->open($path);
    my $pool = IPC::Shpool->open($path);                     # any kind
    my $pool = IPC::Shpool->open($path, { readonly => 1 });

Attaches the existing pool at C<$path>, its geometry read from the file (a
libshpool extension); croaks if there is none or, called on a typed class,
if it is of another kind. Called on IPC::Shpool itself it attaches a pool of
any kind and returns an object of that kind's class (IPC::Shpool::I64 for
an I64 pool, and so on).

With C<< readonly => 1 >> the file is opened read-only (read permission
is enough) and mapped read-only: every method that reads works, and every
method that would change the pool (allocation, free, set, the atomics,
recovery, reset) croaks with the library's "read-only" detail. Use it for
monitors that must never disturb the pool.

With C<< populate => 1 >> this process's mapping is faulted in before the
call returns (for reading only with C<readonly>), as for L</new>; with
C<< truncate => 1 >> this handle cuts over-long values, as for L</new>.
C<huge_pages> croaks here: an attached pool is on huge pages when its file
is (on hugetlbfs, or a huge-page memfd), whatever the attacher asks;
L</page_size> tells.

=head1 METHODS

=head2 Allocation

=over 4

=item alloc

    my $idx = $pool->alloc;             # wait until a slot is free
    my $idx = $pool->alloc($timeout);   # seconds; 0 does not wait

Returns the index of a newly allocated slot, zeroed (unless the pool was
made with C<no_zero>), or C<undef> on timeout or, with timeout 0, when the
pool is full.

=item try_alloc

    my $idx = $pool->try_alloc;

C<alloc(0)>.

=item free

    my $ok = $pool->free($idx);

Frees the slot: true, or false if it was not allocated (a double free).
Any process may free any slot. Croaks for an index out of range.

=back

=head2 Batch Operations

=over 4

=item alloc_n

    my $slots = $pool->alloc_n($n);            # array ref of $n indices
    my $slots = $pool->alloc_n($n, $timeout);

All or nothing under one deadline: an array reference of C<$n> indices, or
C<undef> on timeout (nothing allocated). C<$n> above the capacity croaks.

=item free_n

    my $freed = $pool->free_n(\@indices);

Frees every allocated slot of the list with one wake-up; returns how many
were freed (slots that were not allocated are skipped). Croaks, freeing
nothing, for anything but an array reference ("expected arrayref"), an
C<undef> element ("undef slot at index N") or an index out of range.

=item allocated_slots

    my $slots = $pool->allocated_slots;

An array reference of the allocated indices, ascending (a snapshot).

=back

=head2 Data Access

=over 4

=item get

    my $val = $pool->get($idx);

Reads an allocated slot: raw pools return all C<elem_size> bytes; I64 and
I32 an integer, F64 a number (single-copy atomic), Str the string. Croaks
if the slot is not allocated.

=item set

    $pool->set($idx, $val);

Writes an allocated slot; returns true. Raw: the value is the slot's new
content, padded with zero bytes to C<elem_size> (no byte of a previous,
longer value stays behind, so C<unpack 'Z*'> reads what was set). Str: up
to C<max_len> bytes. A longer value croaks and nothing is written, unless
the handle was made with C<< truncate => 1 >>, which stores the first
C<elem_size> (C<max_len>) bytes. To change part of a raw slot in place,
write through L</ptr> (FFI, XS).

=item cas

    my $ok = $pool->cas($idx, $expected, $desired);

I64 and I32: atomic compare-and-swap; true if the slot held C<$expected>
and now holds C<$desired>.

=item cmpxchg

    my $old = $pool->cmpxchg($idx, $expected, $desired);

I64 and I32: the same swap, returning the value the slot held (equal to
C<$expected> when it swapped).

=item xchg

    my $old = $pool->xchg($idx, $value);

I64 and I32: atomic exchange; returns the old value.

=item add

    my $new = $pool->add($idx, $delta);

I64 and I32: atomic add; returns the new value. Arithmetic wraps around.

=item incr

=item decr

    my $new = $pool->incr($idx);
    my $new = $pool->decr($idx);

I64 and I32: atomic increment and decrement; return the new value.

=item max_len

    my $max = $pool->max_len;

Str: the longest string a slot holds, in bytes.

=back

All the atomics are sequentially consistent across processes.

=head2 Raw Pointers

=over 4

=item ptr

    my $addr = $pool->ptr($idx);

The address of slot C<$idx>'s data as an integer, for FFI or XS code.
Croaks if the slot is not allocated (a use after free caught early) or out
of range; the address of any slot is C<< data_ptr + $idx * stride >>.

=item data_ptr

    my $base = $pool->data_ptr;

The address of the data region. Slot C<$i> is at
C<< $base + $i * $pool->stride >>.

=item stride

    my $bytes = $pool->stride;

The distance between two slots' data (a libshpool extension; see
L</Differences from Data::Pool::Shared>).

=back

Both addresses dangle once the pool object is destroyed.

=head2 Zero-Copy Access

=over 4

=item slot_sv

    my $ref = \$pool->slot_sv($idx);
    print length $$ref;

Returns a read-only scalar whose string is the slot's memory itself: reading
it copies nothing and always shows the slot's current bytes (also after the
slot was freed and allocated again). The scalar holds a reference to the
pool, so the mapping stays valid as long as the scalar lives. Raw, I64, I32
and F64 slots show C<elem_size> bytes; a Str slot shows its string as it was
when C<slot_sv> was called (the length is fixed then, the bytes are live).
Assigning the scalar (C<my $copy = $pool-E<gt>slot_sv($idx)>) copies the
bytes, as any Perl assignment does; keep a reference to it, as above, to
keep the zero-copy view. Use L</set> to write. Croaks if the slot is not
allocated.

=back

=head2 Status

=over 4

=item is_allocated

    my $yes = $pool->is_allocated($idx);

=item capacity

=item elem_size

C<elem_size> is the slot size as created: C<max_len> for Str, 8, 4 and 8
for I64, I32 and F64.

=item used

=item available

Allocated and free slots now (a snapshot).

=item owner

    my $pid = $pool->owner($idx);

The PID of the process that allocated the slot, 0 if it is free.

=item kind_name

C<"raw">, C<"i64">, C<"i32">, C<"f64"> or C<"str"> (an extension).

=item truncates

True for a handle made with C<< truncate => 1 >> (an extension).

=item is_readonly

True for a handle attached with C<< readonly => 1 >> (an extension).

=item page_size

    my $bytes = $pool->page_size;

The size of the pages under this process's mapping of the pool: the huge
page size (2097152 on most x86-64 machines, I<Hugepagesize> in
F</proc/meminfo>) when it is on huge pages, else the normal page size
(4096). It tells what C<< huge_pages => 'prefer' >> got. Transparent huge
pages are not counted (the kernel gives or takes them page by page). An
extension.

=item kind

The pool's kind as one of the constants C<IPC::Shpool::KIND_RAW>,
C<KIND_I64>, C<KIND_I32>, C<KIND_F64>, C<KIND_STR> (an extension; see
L</CONSTANTS>).

=back

=head2 Recovery

=over 4

=item recover_stale

    my $n = $pool->recover_stale;

Frees the slots held by processes that have died, and returns how many.
Safe at any time, from any process, while others allocate and free: a
slot's owner is recorded by PID and process start time, so a live process
never loses a slot, even to a recycled PID. A process that has exited but
not been reaped yet (a zombie) is dead: it can never free its slots, so
they are recovered.

=item reset

    $pool->reset;

Frees every slot and wakes every waiter. Only when nobody else uses the
pool.

=item check

    my $problems = $pool->check;

Cross-checks the pool's bookkeeping; returns the number of inconsistencies
(0 for a sound pool). An extension; C<shpool check PATH> prints them.

=back

=head2 Guards

=over 4

=item alloc_guard

    my ($idx, $guard) = $pool->alloc_guard;
    my ($idx, $guard) = $pool->alloc_guard($timeout);

Allocates like L</alloc> and returns the index and a guard object that
frees the slot when it is destroyed (goes out of scope), or an empty list on
timeout. A copy of the guard in a forked child never frees the parent's
slot: only the allocating process frees through it. The guard keeps the
pool alive. Its methods: C<< $guard->idx >> (undef once empty),
C<< $guard->release >> (free now; true if it freed, false if the guard
was empty, the slot was freed already, or this is a fork child's copy,
which never frees) and C<< $guard->disarm >> (keep the slot: returns the
index, which is then yours to free). In scalar context the guard alone is
returned, as in L<Data::Pool::Shared>.

=item try_alloc_guard

    my ($idx, $guard) = $pool->try_alloc_guard;

C<alloc_guard(0)>.

=back

=head2 Convenience

=over 4

=item alloc_set

    my $idx = $pool->alloc_set($val);
    my $idx = $pool->alloc_set($val, $timeout);

Allocates and stores C<$val> as L</set> would: the index, or, on timeout
or a full pool, C<undef> (the empty list in list context, as in
L<Data::Pool::Shared>). A value that does not fit croaks before anything
is allocated.

=item try_alloc_set

    my $idx = $pool->try_alloc_set($val);

C<alloc_set($val, 0)>.

=item each_allocated

    $pool->each_allocated(sub { my $idx = shift; ... });

Calls the code reference with each index that was allocated when the
call began, ascending: a snapshot (as L</allocated_slots>), so what the
code allocates or frees does not change the walk, and a slot it reaches
may have been freed since. An exception in it stops the walk and is passed
on.

=back

=head2 Common Methods

=over 4

=item path

The backing file, C<undef> for anonymous and memfd pools.

=item memfd

The pool's memfd, -1 if it is not memfd-backed. It belongs to the pool:
do not close it; dup it (C<< open(my $fh, '<&', $pool->memfd) >>) to keep
it beyond the pool.

=item sync

C<msync(2)> the mapping of a file-backed pool; true, or croaks.

=item unlink

    $pool->unlink;
    IPC::Shpool->unlink($path);    # any class

Removes the backing file (the pool lives on while mapped): the pool's own,
or, called on a class, the file at C<$path> (a plain C<unlink(2)>, as in
L<Data::Pool::Shared>: the file need not be a pool, nor be open). Returns
true; croaks with "cannot unlink" and the reason for anonymous and memfd
pools and when the file cannot be removed.

=item stats

    my $s = $pool->stats;

A hash reference with C<capacity>, C<elem_size>, C<used>, C<available>,
C<waiters> (processes blocked in an allocation now), C<mmap_size>,
C<page_size> (as L</page_size>), and the counters, which only rise and
are exact once the pool is quiet: C<allocs>, C<frees> (every slot freed:
by L</free>, L</free_n>, L</recover_stale> and L</reset>, so that
C<allocs - frees> is C<used>), C<waits> (allocations that had to block),
C<timeouts>, C<recoveries> (the slots of those frees that
L</recover_stale> freed) and C<reset_frees> (those that L</reset> freed).

=back

=head2 eventfd Integration

=over 4

=item eventfd

    my $fd = $pool->eventfd;

Creates this handle's eventfd if it has none (non-blocking, close-on-exec)
and returns its descriptor number. Poll it for readability (L<IO::Select>,
an event loop), then L</eventfd_consume> and L</try_alloc> until C<undef>.
With C<notify_on_free> in the pool's options, every free through this
handle (or through a handle in a forked child, which inherits the eventfd)
signals it.

=item eventfd_set

    my $fd = $pool->eventfd_set($fd_or_handle);

Adopts an eventfd (e.g. received from another process) as this handle's,
and returns the descriptor number now in use. The pool takes a duplicate;
the caller keeps and closes its own. If the handle already had an eventfd,
the new one takes over the old descriptor number; re-register it with your
event loop.

=item fileno

The handle's eventfd, -1 if none.

=item notify

Adds 1 to the eventfd counter (wakes a poller by hand); true, false if the
handle has no eventfd (nothing to signal) or the counter is at its
maximum.

=item eventfd_consume

    my $n = $pool->eventfd_consume;
    while (defined(my $n = $pool->eventfd_consume)) { ... }

Reads and resets the counter without blocking: the number of signals since
the last consume, C<undef> if there were none or the handle has no eventfd
(as in L<Data::Pool::Shared>).

=back

=head2 Versions

=over 4

=item library_version

C<IPC::Shpool::library_version()> is the version of the libshpool actually
loaded ("0.1.0"); C<IPC::Shpool::HEADER_VERSION> the one it was built
against. C<$IPC::Shpool::VERSION> is the library's MAJOR.MINOR.PATCH written
as the decimal MAJOR + MINOR/100 + PATCH/10000 (libshpool 0.1.0 is 0.0100);
the module's test suite fails when the two disagree, so a release of the
library is a release of the module.

=back

=head1 CONSTANTS

Functions of no arguments in the package IPC::Shpool (not exported):
C<IPC::Shpool::KIND_I64()>, C<< IPC::Shpool->KIND_I64 >>. The constructors
take options (L</new>), not these; they are the library's values, for
comparing with what the methods return and for code that hands them on to
C (FFI, XS) or prints them.

=over 4

=item KIND_RAW

=item KIND_I64

=item KIND_I32

=item KIND_F64

=item KIND_STR

What L</kind> returns for a pool of each kind (C<shpool_kind> in C).

=item KIND_ANY

The kind C<SHPOOL_ANY_KIND>: "whatever the pool is", the kind
C<< IPC::Shpool->open >> and C<< IPC::Shpool->new_from_fd >> attach with.
L</kind> never returns it.

=item NO_ZERO

=item NOTIFY_ON_FREE

The creation flags C<SHPOOL_NO_ZERO> and C<SHPOOL_NOTIFY_ON_FREE>, which
the options C<< no_zero => 1 >> and C<< notify_on_free => 1 >> of L</new>
and L</new_memfd> set; they are recorded in the pool, for every process.

=item HUGEPAGES

=item HUGEPAGES_PREFER

=item POPULATE

The flags C<SHPOOL_HUGEPAGES>, C<SHPOOL_HUGEPAGES_PREFER> and
C<SHPOOL_POPULATE>, which C<< huge_pages => 1 >>,
C<< huge_pages => 'prefer' >> and C<< populate => 1 >> set (see
L</HUGE PAGES AND PRE-FAULTING>); about this process's mapping only.

=item RDONLY

The attach flag C<SHPOOL_RDONLY>, which C<< readonly => 1 >> of L</open>
and L</new_from_fd> sets.

=item HEADER_VERSION

The libshpool version the module was built against, as a string
("0.1.0"); see L</library_version>.

=back

=head1 HUGE PAGES AND PRE-FAULTING

Huge pages pay off for big pools touched at random: a pool of millions of
slots, or of large buffers (video frames, tensors), spans more 4 KiB pages
than the processor's TLB holds, so a random slot access adds a page-table
walk (two of them in a virtual machine) to its cache miss, and the first
touch of every page is a page fault. A 2 MiB page covers 512 times as
much. Small pools, or pools walked in order, gain little: measure (the
library's benchmark compares C<pair_full_1m> with C<pair_full_1m_huge>).

They have to be reserved, as root, before a pool can have them; they come
out of the machine's memory whether a pool uses them or not, are never
swapped out, and a pool is rounded up to whole huge pages:

    echo 64 > /proc/sys/vm/nr_hugepages    # 64 pages of Hugepagesize
    grep HugePages_ /proc/meminfo          # the kernel may grant fewer

(or C<vm.nr_hugepages> in F</etc/sysctl.conf>, or C<hugepages=N> on the
kernel command line, where memory is not yet fragmented). The pages are
taken when the pool is made, so a shortage is a croak from L</new> or
L</new_memfd>, never a C<SIGBUS> later:

    IPC::Shpool->new: anonymous pool: not enough huge pages: 9 pages of
    2048 kB needed, 0 available (0 reserved in all); reserve more as root
    (echo 9 > /proc/sys/vm/nr_hugepages), or pass huge_pages => 'prefer'
    to fall back to normal pages

(the library's detail, with its C flag names given as the options that
set them here). Anonymous and memfd pools need nothing else; a pool in a
file needs the file on a hugetlbfs mount
(C<mount -t hugetlbfs none /dev/hugepages>). The pages stay taken until
the last process has closed the pool (for a file: and it is removed).

C<< populate => 1 >> is independent of huge pages: it costs the whole
pool's memory up front, in exchange for no page fault on the hot path.

Why options rather than constants: they are keys of the same optional
hash as C<no_zero> and C<notify_on_free>, so the constructors keep their
L<Data::Pool::Shared> signatures and a misspelt key croaks by name. The
library's flags are there too, as C<IPC::Shpool::HUGEPAGES>,
C<HUGEPAGES_PREFER> and C<POPULATE>, for code that wants to compare them;
no constructor takes them.

=head1 FORK, THREADS AND DESTRUCTION

A child forked after the pool was opened shares it, anonymous pools
included; its guards never free the parent's slots. The mapping is unmapped
when the last reference to the pool object (the object itself, a guard, a
L</slot_sv> scalar) is gone; there is no C<DESTROY> method to call. Pool
and guard objects are not cloned into new Perl threads (a thread sees a
reference to an unblessed undef in their place, so a method call there
croaks): open the pool again in the thread.

=head1 MIGRATING FROM Data::Pool::Shared

Rename the classes (C<Data::Pool::Shared> to C<IPC::Shpool>,
C<Data::Pool::Shared::I64> to C<IPC::Shpool::I64>, and so on); the methods,
their arguments and their results are the same. What a migrated program may
meet is listed below; most of it is misuse that the reference lets pass
quietly and that croaks here. Two things to check:

=over 4

=item *

A raw or Str value longer than its slot croaks here, where the reference
cuts it. If the program relies on the cut, make those pools with
C<< { truncate => 1 } >> as the last argument of the constructor (L</new>).

=item *

A value that is not a number (C<undef>, C<''>, C<'12abc'>) croaks here,
where the reference stores 0 or the number it starts with, with a warning.
A program that runs without "isn't numeric" and "uninitialized" warnings
under C<use warnings> does not do this.

=back

=head1 Differences from Data::Pool::Shared

Everything a side-by-side probe of the two modules shows to differ, apart
from the wording of error messages (ours gives the library's detail and
keeps the reference's key phrases: "out of range", "not allocated",
"invalid or incompatible pool", "cannot unlink", "undef slot",
"expected arrayref", "must be > 0", "destroyed"). The choices follow two
rules of libshpool: nothing is cut, wrapped or stored in place of a value
silently, and nothing is freed that a live process holds.

=head2 Kept, and why

=over 4

=item *

B<The pool's format is libshpool's.> A file or memfd made by
L<Data::Pool::Shared> is not a pool here (it croaks: "not a libshpool
segment (bad magic) (invalid or incompatible pool file)"), nor the other
way round, and code that reads the reference's header fields out of the
file finds other ones (F<doc/data-layout.md> in libshpool describes its
format). Migrate the programs that share a pool together, and make the
pool anew.

=item *

B<Over-long values croak.> A raw L</set> or L</alloc_set> of more than
C<elem_size> bytes, or a Str one of more than C<max_len>, croaks and
writes nothing (and allocates nothing); the reference stores the first
C<elem_size> (C<max_len>) bytes. A cut value is data lost where nobody
sees it. C<< truncate => 1 >> gives the reference's behaviour, per handle.

=item *

B<Values that are not numbers croak.> An I64, I32 or F64 value (or delta,
expected or desired value) of C<undef>, C<''>, C<'12abc'>, a reference, or
a raw or Str value of C<undef>, croaks; the reference stores 0, the leading
number, the reference's address or C<''>, with a warning under
C<use warnings> only. So do NaN (the reference stores 0 in an integer slot)
and a non-numeric timeout (the reference does not wait) and slot index
(the reference uses slot 0: C<free(undef)> frees slot 0 there). A counter
reset to 0 by a missing value is data lost, and the warning is off unless
warnings are on. A number with a fraction is no such mistake: it is
truncated toward zero, as there (L</Numbers>).

=item *

B<Integers out of range croak.> An I32 value outside -2**31 .. 2**31 - 1
croaks (the reference keeps its low 32 bits: 2**31 becomes -2**31), and so
does an I64 value outside the 64-bit range (the reference wraps: C<~0>
becomes -1, 2**63 becomes -2**63). The results of L</add>, L</incr> and
L</decr> wrap around in both.

=item *

B<new() on an existing file checks it.> L</new> attaches an existing pool
only if its kind, capacity and element size are those asked for, and
croaks otherwise ("capacity mismatch ..."); the reference attaches with
the file's capacity and element size, whatever the arguments say, so that
C<< $pool->capacity >> can differ from the capacity asked for. The
arguments are the caller's expectations; L</open> attaches a pool of any
geometry and L</capacity> tells it.

=item *

B<New files are 0600.> The reference creates them 0666 less the umask
(0644 under the usual umask 022), readable by every user of the machine.
A pool is writable shared memory (the reference's manual warns not to
share one with untrusted processes); give C<< mode => 0644 >> (or 0660
for a group) when others should read it.

=item *

B<L</eventfd_set> keeps the handle's descriptor number.> The pool takes a
duplicate of the descriptor passed (the caller keeps and closes its own);
if the handle had an eventfd, the new one is duplicated onto the old
number, which is what L</fileno> and the call return. The reference adopts
the caller's descriptor as it is and closes the old one, so its
L</fileno> is then the number passed: a free in another thread racing the
swap could write to a closed or reused number, and a Perl filehandle's
descriptor would be closed twice.

=item *

B<A guard's copy in a fork child never frees.> Only the allocating process
frees through a guard; a child that inherited one (and exits, or drops
it) leaves the parent's slot allocated, and C<< $guard->release >> there
returns false. The reference's guard frees the parent's slot when the
child's copy is destroyed.

=item *

B<L</recover_stale> recovers a zombie's slots,> and never a live
process's: an owner is a PID and its process's start time. The reference
checks the PID alone with C<kill(pid, 0)>, which succeeds for a zombie
(its slots stay until it is reaped) and for a process that took a dead
one's PID (which then keeps the dead one's slots).

=item *

B<Str slots: L</elem_size> is C<max_len>, and L</slot_sv> shows the
string.> The reference's C<elem_size> is C<max_len + 4> and its C<slot_sv>
the whole slot, its 4-byte length prefix first. Here the prefix is 8
bytes and not part of the value: C<slot_sv> of a Str slot is a read-only
view of the string's bytes (its length fixed when C<slot_sv> is called),
and C<elem_size> what a slot holds.

=item *

B<Slots are C<stride> bytes apart>, not always C<elem_size>: C<elem_size>
rounded up so that no typed value straddles a cache line. Slot C<$i> is at
C<< data_ptr + $i * stride >> (L</stride>); L</ptr> gives it directly.

=item *

B<L</alloc_n> of more than the capacity croaks> (it could never succeed;
the reference waits for ever holding every slot, or with a timeout returns
C<undef>), and
B<L</free_n> of a list with an index out of range croaks, freeing
nothing>; the reference skips that index and frees the rest.

=item *

B<L</stats>: C<frees> also counts the slots L</reset> freed>, so that
C<allocs - frees> is C<used> after a reset too; the reference counts the
slots of L</free>, L</free_n> and L</recover_stale> only. C<reset_frees>
(new) and C<recoveries> say how many of them reset and recovery freed.

=item *

B<Timeouts are rounded up to whole milliseconds>, the unit of the wait,
so that a positive timeout never becomes "do not wait".

=item *

B<Which free slot an allocation gets is unspecified> in both modules (the
reference starts from a 64-slot word picked by the process's PID, libshpool
from one that depends on the thread): a program must use the index returned.

=item *

B<Threads:> a pool object is not cloned into a new Perl thread (the
thread sees a reference to an unblessed undef; open the pool there). The
reference clones the handle and frees it twice when the threads end (the
process aborts: "double free detected").

=item *

B<No C<DESTROY> method>: the mapping goes when the last reference to the
pool does (the object, a guard, a L</slot_sv> scalar). The reference's
explicit C<< $pool->DESTROY >> unmaps the pool under its guards and
C<slot_sv> scalars.

=back

=head2 Behaving like the reference

Where the difference was a convention, IPC::Shpool follows
L<Data::Pool::Shared>: C<< IPC::Shpool->unlink($path) >> beside
C<< $pool->unlink >>; L</eventfd_consume> returns C<undef> when nothing
is pending or there is no eventfd, and L</notify> false without an
eventfd; numbers with a fraction are truncated toward zero; an explicit
C<undef> timeout does not wait in L</alloc> and L</alloc_n> (with a
warning) and waits for ever in L</alloc_guard> and L</alloc_set>; a raw
L</set> pads a shorter value with zero bytes; a character string is stored
as its UTF-8 bytes; L</ptr> croaks for a slot that is not allocated;
L</each_allocated> walks a snapshot; L</alloc_set> returns the empty list
in list context when the pool is full; C<stats> C<frees> includes the
slots recovery freed.

=head2 Extensions

The options hash of the constructors (C<mode>, C<no_zero>,
C<notify_on_free>, C<truncate>, huge pages and pre-faulting: see
L</HUGE PAGES AND PRE-FAULTING>), L</open>, read-only handles, attaching a
pool of any kind through IPC::Shpool itself (the reference's base class
refuses a typed pool), an C<undef> memfd name, frees that signal the
eventfd (C<notify_on_free>; the reference's frees never do), L</stride>,
L</kind>, L</kind_name>, L</is_readonly>, L</truncates>, L</page_size>,
L</check>, the C<page_size> and C<reset_frees> keys of L</stats>, the
guard's methods (the reference's guard has none), L</library_version> and
the L</CONSTANTS>. L</set>, L</reset>, L</sync> and L</unlink> return true
(the reference's return nothing).

=head1 SEE ALSO

The libshpool manual pages: L<shpool(7)> for the model (slots, ownership,
blocking, recovery, eventfd, security), L<shpool_alloc(3)> and the others
for each call; L<shpool(1)>, the command-line tool; L<Data::Pool::Shared>.

=head1 LICENSE

MIT, as libshpool; see the file COPYING of its source.

=cut

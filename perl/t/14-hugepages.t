# Huge pages and pre-faulting (issue 17): the huge_pages and populate
# options, page_size, with real processes.
#
# Huge pages must be reserved for the positive tests. As root this test
# reserves what it lacks and gives it back at the end (nr_hugepages is left
# as it was found); otherwise it skips when too few are reserved. It skips
# everything on a kernel without hugetlb support. While it runs it holds
# the lock tests/check_pages holds too (LOCK below), so that neither sees
# the other's pages come and go in its counts under make -j check.
use strict;
use warnings;
use Test::More;
use Fcntl qw(O_RDONLY O_CREAT :flock);
use POSIX ();
use lib 't/lib';
use ShpoolTest;
use IPC::Shpool;

use constant NEEDED => 8; # huge pages the positive tests hold at most at once
use constant LOCK   => '/tmp/libshpool-hugepages.lock';
use constant NR     => '/proc/sys/vm/nr_hugepages';

sub meminfo {
	my ($key) = @_;
	open(my $fh, '<', '/proc/meminfo') or return undef;
	while (<$fh>) {
		return $1 if /^\Q$key\E:\s+(\d+)/;
	}
	return undef;
}

sub read_num {
	my ($path) = @_;
	open(my $fh, '<', $path) or return undef;
	my $v = <$fh>;
	return defined $v && $v =~ /^(\d+)/ ? $1 : undef;
}

sub write_num {
	my ($path, $v) = @_;
	open(my $fh, '>', $path) or die "open $path: $!";
	print $fh "$v\n" or die "write $path: $!";
	close $fh or die "write $v to $path: $!";
}

# Huge pages a new pool can take: free and not promised to a mapping, plus
# those the kernel may add beyond the reserve (overcommit).
sub huge_available {
	my $over = read_num('/proc/sys/vm/nr_overcommit_hugepages') // 0;
	my $surp = meminfo('HugePages_Surp') // 0;
	return meminfo('HugePages_Free') - meminfo('HugePages_Rsvd') + ($over > $surp ? $over - $surp : 0);
}

sub huge_count { join '/', meminfo('HugePages_Free'), meminfo('HugePages_Rsvd') }

# The kernel's own view of the pages under an address (/proc/self/smaps),
# independent of what the library says.
sub kernel_page_size {
	my ($addr) = @_;
	no warnings 'portable'; # 64-bit addresses in hex
	open(my $fh, '<', '/proc/self/smaps') or die "smaps: $!";
	my $in;
	while (<$fh>) {
		if (/^([0-9a-f]+)-([0-9a-f]+) /) {
			$in = hex($1) <= $addr && $addr < hex($2);
		} elsif ($in && /^KernelPageSize:\s+(\d+) kB/) {
			return $1 * 1024;
		}
	}
	return 0;
}

my $hkb = meminfo('Hugepagesize');
plan skip_all => 'this kernel has no hugetlb support (no Hugepagesize in /proc/meminfo)'
	unless $hkb && -e NR;
my $hpage = $hkb * 1024;
my $small = POSIX::sysconf(POSIX::_SC_PAGESIZE());

sysopen(my $lock, LOCK, O_RDONLY | O_CREAT, 0666) or die "open ${\LOCK}: $!";
flock($lock, LOCK_EX) or die "flock ${\LOCK}: $!";

# Reserve what is lacking (root only); restored at the end, by this process
# only (never by a forked child).
my ($saved_nr, $parent) = (undef, $$);
END {
	if (defined $saved_nr && $$ == $parent) {
		eval { write_num(NR, $saved_nr); 1 } or diag "restoring nr_hugepages: $@";
	}
}
if (huge_available() < NEEDED) {
	if ($> == 0 && -w NR) {
		$saved_nr = read_num(NR);
		write_num(NR, $saved_nr + NEEDED - huge_available());
	} else {
		plan skip_all => sprintf('%d huge pages available, %d needed, and not root: reserve them '
					 . '(echo %d > %s)', huge_available(), NEEDED,
					 meminfo('HugePages_Total') + NEEDED - huge_available(), NR);
	}
}
cmp_ok(huge_available(), '>=', NEEDED, 'enough huge pages reserved for the tests')
	or BAIL_OUT('could not reserve ' . NEEDED . ' huge pages');

# ---- an anonymous pool, shared with a forked child --------------------------
{
	my $before = huge_count();
	my $p = IPC::Shpool::I64->new(undef, 1000, { huge_pages => 1 });
	is($p->page_size, $hpage, 'anonymous huge_pages => 1: page_size is Hugepagesize');
	is($p->stats->{page_size}, $hpage, 'and stats says so');
	is($p->stats->{mmap_size} % $hpage, 0, 'the mapping is whole huge pages');
	is(kernel_page_size($p->data_ptr), $hpage, 'the kernel agrees (smaps KernelPageSize)');

	my $c = $p->alloc_set(0);
	my @kids = map {
		child { $p->page_size == $hpage or die "child page_size " . $p->page_size;
			$p->incr($c) for 1 .. 1000; 1 }
	} 1 .. 2;
	is(reap($_), 0, 'child counted on the shared huge pages') for @kids;
	is($p->get($c), 2000, 'the parent sees both children\'s counts');

	# a child that dies holding slots: recovered
	my $k = child { defined $p->alloc(0) or die 'alloc'; defined $p->alloc(0) or die 'alloc'; 1 };
	is(reap($k), 0, 'a child allocated two slots and exited');
	is($p->used, 3, 'its slots are still held');
	is($p->recover_stale, 2, 'and are recovered');
	undef $p;
	is(huge_count(), $before, 'closed: every huge page back (HugePages_Free/Rsvd)');
}

# ---- a memfd pool, attached by a child through its descriptor --------------
{
	my $before = huge_count();
	my $p = IPC::Shpool::Str->new_memfd('huge', 64, 100, { huge_pages => 1, populate => 1 });
	is($p->page_size, $hpage, 'memfd huge_pages => 1, populate => 1: page_size is Hugepagesize');
	is(kernel_page_size($p->data_ptr), $hpage, 'the kernel agrees');
	my $fd = $p->memfd;
	my $i = $p->alloc_set('from the parent');
	my $k = child {
		my $q = IPC::Shpool::Str->new_from_fd($fd, { populate => 1 });
		$q->page_size == $hpage or die 'attached page_size ' . $q->page_size;
		$q->get($i) eq 'from the parent' or die 'read ' . $q->get($i);
		$q->set($i, 'from the child');
		1;
	};
	is(reap($k), 0, 'a child attached the memfd (populate => 1) and saw huge pages');
	is($p->get($i), 'from the child', 'the parent reads the child\'s write');
	my $r = IPC::Shpool->new_from_fd($fd, { readonly => 1, populate => 1 });
	isa_ok($r, 'IPC::Shpool::Str', 'readonly + populate attach');
	is($r->page_size, $hpage, 'an attached MFD_HUGETLB memfd is on huge pages');
	undef $r;
	undef $p;
	is(huge_count(), $before, 'closed: every huge page back');
}

# ---- a file on hugetlbfs, where one is mounted ---------------------------------
SKIP: {
	my $dir;
	if (open(my $m, '<', '/proc/self/mounts')) {
		while (<$m>) {
			my (undef, $d, $type) = split;
			next unless $type eq 'hugetlbfs' && -d $d && -w $d;
			my $f = "$d/.ipc-shpool-probe-$$";
			next unless CORE::open(my $t, '>', $f);
			close $t;
			unlink $f;
			$dir = $d;
			last;
		}
	}
	skip 'no writable hugetlbfs mounted (tests/check_pages covers file pools there)', 5 unless $dir;
	my $path = "$dir/ipc-shpool-test-$$";
	my $before = huge_count();
	my $p = eval { IPC::Shpool->new($path, 16, 4096, { huge_pages => 1, mode => 0600 }) };
	# a hugetlbfs of another page size than the default: not this test's
	skip "$dir: $@", 5 unless $p;
	is($p->page_size, $hpage, 'hugetlbfs file pool: page_size is Hugepagesize');
	my $q = IPC::Shpool->open($path, { populate => 1 });
	is($q->page_size, $hpage, 'attached by path: huge pages too');
	ok($p->unlink, 'unlinked');
	undef $_ for $p, $q;
	is(huge_count(), $before, 'closed and removed: every huge page back');
	ok(!-e $path, 'no file left');
}

# ---- a file off hugetlbfs ---------------------------------------------------------
{
	my $path = tmp_path();
	eval { IPC::Shpool->new($path, 16, 64, { huge_pages => 1 }) };
	like($@, qr/^IPC::Shpool->new: .*hugetlbfs.*huge_pages => 'prefer'/,
	     'huge_pages => 1 for a file off hugetlbfs croaks, naming the Perl option');
	ok(!-e $path, 'and leaves no file');
	my $p = IPC::Shpool->new($path, 16, 64, { huge_pages => 'prefer' });
	is($p->page_size, $small, "'prefer' falls back to normal pages there");
	$p->unlink;
}

# ---- too few huge pages: croak, or fall back with 'prefer' ----------------------
SKIP: {
	my $avail = huge_available();
	# One huge page more than can be had, in slots of 4 KiB. A kernel that
	# would overcommit more than a GiB of them: no shortage to be had here.
	skip "$avail huge pages can be had (overcommit): no shortage to provoke", 13
		if $avail * $hpage > (1 << 30);
	my $cap = ($avail + 1) * ($hpage / 4096);
	my $before = huge_count();
	for my $how ([new => sub { IPC::Shpool->new(undef, $cap, 4096, @_) }],
		     [new_memfd => sub { IPC::Shpool->new_memfd('short', $cap, 4096, @_) }]) {
		my ($name, $make) = @$how;
		eval { $make->({ huge_pages => 1 }) };
		like($@, qr/^IPC::Shpool->$name: .*not enough huge pages/, "$name: a shortage croaks");
		like($@, qr{echo \d+ > /proc/sys/vm/nr_hugepages},
		     "$name: with the command that would reserve enough");
		like($@, qr/huge_pages => 'prefer'/, "$name: and the option that would fall back");
		unlike($@, qr/SHPOOL_/, "$name: no C flag names in a Perl croak");
		my $p = $make->({ huge_pages => 'prefer' });
		is($p->page_size, $small, "$name: 'prefer' got normal pages");
		ok(defined $p->alloc(0), "$name: and the pool works");
	}
	is(huge_count(), $before, 'nothing held after the shortage');
}

# ---- populate on normal pages, and the constants --------------------------------
{
	my $p = IPC::Shpool->new(undef, 256, 4096, { populate => 1 });
	is($p->page_size, $small, 'populate => 1 alone: normal pages');
	ok(defined $p->alloc(0), 'a populated pool allocates');
	my $path = tmp_path();
	my $f = IPC::Shpool::F64->new($path, 16, { populate => 1, huge_pages => 0 });
	my $g = IPC::Shpool::F64->open($path, { populate => 1 });
	$f->set(my $i = $f->alloc, 2.5);
	is($g->get($i), 2.5, 'open with populate => 1');
	my $ro = IPC::Shpool->open($path, { readonly => 1, populate => 1 });
	ok($ro->is_readonly, 'readonly + populate by path');
	$f->unlink;
	for my $c (qw(HUGEPAGES HUGEPAGES_PREFER POPULATE)) {
		no strict 'refs';
		ok(&{"IPC::Shpool::$c"}() > 0, "IPC::Shpool::$c is a constant");
	}
}

# ---- bad values and unknown keys croak, before anything is made ---------------------
{
	my $before = huge_count();
	for my $bad (2, 'yes', 'Prefer', -1, [], {}) {
		my $shown = ref $bad ? ref($bad) . ' ref' : "'$bad'";
		eval { IPC::Shpool->new(undef, 4, 8, { huge_pages => $bad }) };
		like($@, qr/option 'huge_pages' must be 1, 'prefer' or 0/, "huge_pages => $shown croaks");
		eval { IPC::Shpool::I64->new_memfd(undef, 4, { populate => $bad }) };
		like($@, qr/option 'populate' must be 1 or 0/, "populate => $shown croaks");
		eval { IPC::Shpool->open('/nonexistent', { populate => $bad }) };
		like($@, qr/option 'populate' must be 1 or 0/, "open: populate => $shown croaks");
	}
	for my $key (qw(hugepages huge_page prefer prepopulate)) {
		eval { IPC::Shpool->new(undef, 4, 8, { $key => 1 }) };
		like($@, qr/unknown option '$key'/, "new: unknown option $key croaks");
		eval { IPC::Shpool->new_memfd(undef, 4, 8, { populate => 1, $key => 1 }) };
		like($@, qr/unknown option '$key'/, "new_memfd: unknown option $key beside populate croaks");
	}
	eval { IPC::Shpool->new_from_fd(0, { huge_pages => 1 }) };
	like($@, qr/option 'huge_pages' is for new and new_memfd only/, 'new_from_fd: huge_pages croaks');
	eval { IPC::Shpool->open('/nonexistent', { huge_pages => 'prefer' }) };
	like($@, qr/option 'huge_pages' is for new and new_memfd only/, 'open: huge_pages croaks');
	for my $ok (0, '', undef) {
		my $p = IPC::Shpool->new(undef, 4, 8, { huge_pages => $ok, populate => $ok });
		is($p->page_size, $small, 'a false huge_pages/populate means no: ' . ($ok // 'undef'));
	}
	is(huge_count(), $before, 'no huge page taken by any of them');
}

done_testing;

#!/usr/bin/env perl
# Side-by-side probes: each snippet below runs once against IPC::Shpool (a
# built blib) and once against Data::Pool::Shared (built from a checkout of
# it, as perl/xt-reference.pl does), each in a fresh perl; the outputs are
# compared after the class names, line numbers and temporary paths are
# normalised. Prints every probe whose results differ, both results beside
# each other, then the counts. Where both died and our message contains
# the reference's (its method prefix aside), the probe counts as agreeing
# in words ("ours adds"). A difference here is either a bug or one of those
# listed under "Differences from Data::Pool::Shared" in the manual.
#
#   perl perl/xt-probe.pl [--build DIR] [--all] [--only REGEX] REFERENCE_CHECKOUT
#
# --all prints the probes that agree too. Fetches nothing; copies nothing of
# the reference's into this tree.
use 5.010;
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use Getopt::Long qw(GetOptions);

my %o;
GetOptions(\%o, 'build=s', 'all', 'only=s')
	or die "usage: $0 [--build DIR] [--all] [--only REGEX] REFERENCE_CHECKOUT\n";
my $ref = shift or die "$0: give the path of a Data::Pool::Shared checkout\n";
-f "$ref/lib/Data/Pool/Shared.pm" or die "$0: $ref is not a Data::Pool::Shared checkout\n";
$ref = abs_path($ref);
my $here  = dirname(abs_path(__FILE__));
# the built binding: --build, else this directory once built (a copy of
# perl/, a CPAN distribution), else the libshpool tree's perl-build/
my $build = abs_path($o{build} // (-d "$here/blib/arch" ? $here : "$here/../perl-build"));
-d "$build/blib/arch" or die "$0: no built binding in $build\n";
my $libs = abs_path("$build/../.libs");
$ENV{LD_LIBRARY_PATH} = join ':', grep { defined && length } $libs, $ENV{LD_LIBRARY_PATH}
	if $libs && -e "$libs/libshpool.so";

my $scratch = tempdir('shpool-probe-XXXXXX', TMPDIR => 1, CLEANUP => 1);
system("cp -a '$ref' '$scratch/reference' && cd '$scratch/reference' && "
       . "{ [ -d blib/arch ] || { $^X Makefile.PL && make; }; } >'$scratch/build.log' 2>&1") == 0
	or die "$0: building the reference failed (see $scratch/build.log)\n";

my %side = (
	ours      => { class => 'IPC::Shpool',
		       inc => ["-I$build/blib/lib", "-I$build/blib/arch"] },
	reference => { class => 'Data::Pool::Shared',
		       inc => ["-I$scratch/reference/blib/lib", "-I$scratch/reference/blib/arch"] },
);

# Each probe: a name and code. In the code, C is the class (C::I64 and so
# on), P a fresh path, and show(...) prints its arguments (undef shown as
# such, references by type); an exception ends the probe and is shown.
my @probes = (
	# construction
	['new raw',              'my $p = C->new(undef, 4, 8); show($p->capacity, $p->elem_size, $p->used)'],
	['new capacity 0',       'C->new(undef, 0, 8)'],
	['new capacity 2.7',     'show(C->new(undef, 2.7, 8)->capacity)'],
	['new capacity "abc"',   'show(C->new(undef, "abc", 8)->capacity)'],
	['new elem_size 0',      'C->new(undef, 4, 0)'],
	['Str max_len 0',        'C::Str->new(undef, 4, 0)'],
	['Str elem_size',        'my $p = C::Str->new(undef, 4, 10); show($p->elem_size, $p->max_len)'],
	['I64/I32/F64 elem_size','show(C::I64->new(undef, 1)->elem_size, C::I32->new(undef, 1)->elem_size, C::F64->new(undef, 1)->elem_size)'],
	['new extra arg',        'C::I64->new(undef, 4, 8)'],
	['new twice, same',      'my $a = C::I64->new(P, 4); my $b = C::I64->new(P, 4); show($b->capacity)'],
	['new twice, other cap', 'my $a = C::I64->new(P, 4); my $b = C::I64->new(P, 8); show($b->capacity)'],
	['new twice, other kind','my $a = C::I64->new(P, 4); my $b = C::I32->new(P, 4); show($b->capacity)'],
	['file mode',            'umask 022; my $a = C::I64->new(P, 4); show(sprintf "%o", (stat P)[2] & 0777)'],
	['memfd name undef',     'show(C::I64->new_memfd(undef, 4)->capacity)'],
	['new_from_fd(-1)',      'C::I64->new_from_fd(-1)'],
	['new_from_fd kind',     'my $a = C->new_memfd("x", 4, 8); C::I64->new_from_fd($a->memfd)'],
	['new_from_fd base class on I64', 'my $a = C::I64->new_memfd("x", 4); my $b = C->new_from_fd($a->memfd); show(ref $b)'],
	['path',                 'show(C::I64->new(P, 4)->path eq P ? "same" : "other", C::I64->new(undef, 4)->path)'],
	['memfd',                'show(C::I64->new(undef, 4)->memfd, C::I64->new_memfd("m", 4)->memfd > 2)'],
	# allocation
	['alloc order',          'my $p = C::I64->new(undef, 130); show(map { $p->alloc } 1 .. 3)'],
	['alloc full, 0',        'my $p = C::I64->new(undef, 1); $p->alloc; show($p->alloc(0))'],
	['alloc(undef) full',    'my $p = C::I64->new(undef, 1); $p->alloc; no warnings; show($p->alloc(undef))'],
	['alloc("abc") full',    'my $p = C::I64->new(undef, 1); $p->alloc; no warnings; show($p->alloc("abc"))'],
	['alloc(0.001) full',    'my $p = C::I64->new(undef, 1); $p->alloc; show($p->alloc(0.001))'],
	['alloc(-1) room',       'my $p = C::I64->new(undef, 1); show($p->alloc(-1))'],
	['try_alloc full',       'my $p = C::I64->new(undef, 1); $p->alloc; show($p->try_alloc)'],
	['free',                 'my $p = C::I64->new(undef, 2); my $i = $p->alloc; show($p->free($i), $p->free($i))'],
	['free out of range',    'C::I64->new(undef, 2)->free(5)'],
	['free(-1)',             'C::I64->new(undef, 2)->free(-1)'],
	['free(1.5)',            'my $p = C::I64->new(undef, 2); $p->alloc; $p->alloc; show($p->free(1.5), $p->is_allocated(1))'],
	['free(undef)',          'my $p = C::I64->new(undef, 2); $p->alloc; no warnings; show($p->free(undef))'],
	['alloc_n',              'my $p = C::I64->new(undef, 4); show(scalar @{ $p->alloc_n(3) })'],
	['alloc_n(0)',           'my $p = C::I64->new(undef, 4); show(scalar @{ $p->alloc_n(0) })'],
	['alloc_n too many, 0',  'my $p = C::I64->new(undef, 4); $p->alloc; show($p->alloc_n(4, 0), $p->used)'],
	['alloc_n > capacity',   'my $p = C::I64->new(undef, 4); show($p->alloc_n(5, 0))'],
	['free_n',               'my $p = C::I64->new(undef, 4); my $s = $p->alloc_n(3); show($p->free_n($s), $p->used)'],
	['free_n double',        'my $p = C::I64->new(undef, 4); my $i = $p->alloc; show($p->free_n([$i, $i]))'],
	['free_n out of range',  'my $p = C::I64->new(undef, 4); my $i = $p->alloc; show($p->free_n([$i, 9]), $p->used)'],
	['free_n undef',         'C::I64->new(undef, 4)->free_n([undef])'],
	['free_n not array',     'C::I64->new(undef, 4)->free_n("x")'],
	['allocated_slots',      'my $p = C::I64->new(undef, 70); $p->alloc for 1 .. 3; show(@{ $p->allocated_slots })'],
	['each_allocated',       'my $p = C::I64->new(undef, 8); $p->alloc for 1 .. 3; my @s; $p->each_allocated(sub { push @s, $_[0]; $p->free($_[0] + 1) if $_[0] == 0 }); show(@s)'],
	['each_allocated die',   'my $p = C::I64->new(undef, 8); $p->alloc; $p->each_allocated(sub { die "stop\n" })'],
	# data
	['raw get length',       'my $p = C->new(undef, 2, 8); my $i = $p->alloc; show(length $p->get($i))'],
	['raw set shorter',      'my $p = C->new(undef, 2, 8); my $i = $p->alloc; $p->set($i, "abcdefgh"); $p->set($i, "xy"); show(unpack "H*", $p->get($i))'],
	['raw set longer',       'my $p = C->new(undef, 2, 4); my $i = $p->alloc; $p->set($i, "abcdefgh"); show($p->get($i))'],
	['raw set returns',      'my $p = C->new(undef, 2, 4); my $i = $p->alloc; show(scalar $p->set($i, "ab"))'],
	['raw set undef',        'my $p = C->new(undef, 2, 4); my $i = $p->alloc; no warnings; $p->set($i, undef); show(unpack "H*", $p->get($i))'],
	['raw set utf8',         'my $p = C->new(undef, 2, 8); my $i = $p->alloc; my $s = "caf\x{e9}"; utf8::upgrade($s); $p->set($i, $s); show(unpack "H*", $p->get($i))'],
	['raw set wide',         'my $p = C->new(undef, 2, 8); my $i = $p->alloc; $p->set($i, "\x{20ac}"); show(unpack "H*", $p->get($i))'],
	['get free slot',        'my $p = C->new(undef, 2, 4); $p->get(0)'],
	['get out of range',     'my $p = C->new(undef, 2, 4); $p->get(9)'],
	['Str set/get',          'my $p = C::Str->new(undef, 2, 8); my $i = $p->alloc; $p->set($i, "a\0b"); show(unpack "H*", $p->get($i))'],
	['Str set longer',       'my $p = C::Str->new(undef, 2, 4); my $i = $p->alloc; $p->set($i, "abcdefgh"); show($p->get($i))'],
	['Str set utf8',         'my $p = C::Str->new(undef, 2, 8); my $i = $p->alloc; my $s = "caf\x{e9}"; utf8::upgrade($s); $p->set($i, $s); show(unpack "H*", $p->get($i))'],
	['Str set wide',         'my $p = C::Str->new(undef, 2, 8); my $i = $p->alloc; $p->set($i, "\x{20ac}"); show(unpack "H*", $p->get($i))'],
	['Str set undef',        'my $p = C::Str->new(undef, 2, 8); my $i = $p->alloc; no warnings; $p->set($i, undef); show($p->get($i))'],
	['Str get utf8 flag',    'my $p = C::Str->new(undef, 2, 8); my $i = $p->alloc; $p->set($i, "x"); show(utf8::is_utf8($p->get($i)) ? 1 : 0)'],
	['Str fresh',            'my $p = C::Str->new(undef, 2, 8); my $i = $p->alloc; show($p->get($i))'],
	['I64 set/get',          'my $p = C::I64->new(undef, 2); my $i = $p->alloc; $p->set($i, -5); show($p->get($i))'],
	['I64 set 2.7',          'my $p = C::I64->new(undef, 2); my $i = $p->alloc; $p->set($i, 2.7); show($p->get($i))'],
	['I64 set -2.7',         'my $p = C::I64->new(undef, 2); my $i = $p->alloc; $p->set($i, -2.7); show($p->get($i))'],
	['I64 set "3.9"',        'my $p = C::I64->new(undef, 2); my $i = $p->alloc; $p->set($i, "3.9"); show($p->get($i))'],
	['I64 set time*1000',    'my $p = C::I64->new(undef, 2); my $i = $p->alloc; $p->set($i, 1796700000.123 * 1000); show($p->get($i))'],
	['I64 set "12abc"',      'my $p = C::I64->new(undef, 2); my $i = $p->alloc; no warnings; $p->set($i, "12abc"); show($p->get($i))'],
	['I64 set ""',           'my $p = C::I64->new(undef, 2); my $i = $p->alloc; no warnings; $p->set($i, ""); show($p->get($i))'],
	['I64 set undef',        'my $p = C::I64->new(undef, 2); my $i = $p->alloc; no warnings; $p->set($i, undef); show($p->get($i))'],
	['I64 set 2**63',        'my $p = C::I64->new(undef, 2); my $i = $p->alloc; $p->set($i, 2**63); show($p->get($i))'],
	['I64 set ~0',           'my $p = C::I64->new(undef, 2); my $i = $p->alloc; $p->set($i, ~0); show($p->get($i))'],
	['I64 set NaN',          'my $p = C::I64->new(undef, 2); my $i = $p->alloc; $p->set($i, "NaN" + 0); show($p->get($i))'],
	['I64 set "1e3"',        'my $p = C::I64->new(undef, 2); my $i = $p->alloc; $p->set($i, "1e3"); show($p->get($i))'],
	['I64 set " 12 "',       'my $p = C::I64->new(undef, 2); my $i = $p->alloc; $p->set($i, " 12 "); show($p->get($i))'],
	['I64 add 1.5',          'my $p = C::I64->new(undef, 2); my $i = $p->alloc; show($p->add($i, 1.5))'],
	['I64 atomics',          'my $p = C::I64->new(undef, 2); my $i = $p->alloc; show($p->incr($i), $p->decr($i), $p->add($i, 5), $p->cas($i, 5, 6), $p->cas($i, 5, 7), $p->cmpxchg($i, 6, 8), $p->xchg($i, 9), $p->get($i))'],
	['I64 add wraps',        'my $p = C::I64->new(undef, 2); my $i = $p->alloc; $p->set($i, 9223372036854775807); show($p->add($i, 1))'],
	['I64 set returns',      'my $p = C::I64->new(undef, 2); my $i = $p->alloc; show(scalar $p->set($i, 1))'],
	['I64 fresh',            'my $p = C::I64->new(undef, 2); my $i = $p->alloc; show($p->get($i))'],
	['I32 set 2**31',        'my $p = C::I32->new(undef, 2); my $i = $p->alloc; $p->set($i, 2**31); show($p->get($i))'],
	['I32 add 2**32',        'my $p = C::I32->new(undef, 2); my $i = $p->alloc; show($p->add($i, 2**32 + 1))'],
	['I32 add wraps',        'my $p = C::I32->new(undef, 2); my $i = $p->alloc; $p->set($i, 2147483647); show($p->add($i, 1))'],
	['I32 atomics',          'my $p = C::I32->new(undef, 2); my $i = $p->alloc; show($p->incr($i), $p->decr($i), $p->add($i, -5), $p->cas($i, -5, 6), $p->cmpxchg($i, 6, 8), $p->xchg($i, 9), $p->get($i))'],
	['F64 set/get',          'my $p = C::F64->new(undef, 2); my $i = $p->alloc; $p->set($i, 1.25); show($p->get($i))'],
	['F64 set "abc"',        'my $p = C::F64->new(undef, 2); my $i = $p->alloc; no warnings; $p->set($i, "abc"); show($p->get($i))'],
	['F64 set undef',        'my $p = C::F64->new(undef, 2); my $i = $p->alloc; no warnings; $p->set($i, undef); show($p->get($i))'],
	['F64 -0.0',             'my $p = C::F64->new(undef, 2); my $i = $p->alloc; $p->set($i, -0.0); show(sprintf "%g", $p->get($i))'],
	['F64 atomics absent',   'show(C::F64->can("add") ? 1 : 0, C::F64->can("cas") ? 1 : 0)'],
	['max_len on raw',       'show(C->can("max_len") ? 1 : 0)'],
	# pointers, zero copy
	['ptr allocated',        'my $p = C::I64->new(undef, 4); my $i = $p->alloc; show($p->ptr($i) == $p->data_ptr + $i * $p->elem_size ? "base+i*elem_size" : "other")'],
	['ptr free slot',        'my $p = C::I64->new(undef, 4); $p->ptr(1)'],
	['ptr out of range',     'my $p = C::I64->new(undef, 4); $p->ptr(9)'],
	['ptr raw 12 bytes',     'my $p = C->new(undef, 4, 12); $p->alloc; my $i = $p->alloc; show($p->ptr($i) - $p->data_ptr)'],
	['slot_sv I64',          'my $p = C::I64->new(undef, 4); my $i = $p->alloc; $p->set($i, 7); my $v = $p->slot_sv($i); show(length $v, unpack "q<", $v)'],
	['slot_sv Str',          'my $p = C::Str->new(undef, 4, 6); my $i = $p->alloc; $p->set($i, "ab"); my $v = $p->slot_sv($i); show(length $v, unpack "H*", $v)'],
	['slot_sv live',         'my $p = C::I64->new(undef, 4); my $i = $p->alloc; my $r = \\$p->slot_sv($i); $p->set($i, 9); show(unpack "q<", $$r)'],
	['slot_sv readonly',     'my $p = C::I64->new(undef, 4); my $i = $p->alloc; my $r = \\$p->slot_sv($i); $$r = "x"'],
	['slot_sv free slot',    'my $p = C::I64->new(undef, 4); $p->slot_sv(0)'],
	# status
	['is_allocated',         'my $p = C::I64->new(undef, 4); my $i = $p->alloc; show($p->is_allocated($i), $p->is_allocated($i + 1))'],
	['is_allocated range',   'C::I64->new(undef, 4)->is_allocated(4)'],
	['owner',                'my $p = C::I64->new(undef, 4); my $i = $p->alloc; show($p->owner($i) == $$ ? "me" : "other", $p->owner($i + 1))'],
	['owner range',          'C::I64->new(undef, 4)->owner(4)'],
	['used/available',       'my $p = C::I64->new(undef, 4); $p->alloc; show($p->used, $p->available)'],
	['stats keys',           'show(sort keys %{ C::I64->new(undef, 4)->stats })'],
	['stats counts',         'my $p = C::I64->new(undef, 4); my $i = $p->alloc; $p->free($i); $p->alloc(0) for 1 .. 5; my $s = $p->stats; show(@$s{qw(allocs frees used available waits timeouts recoveries waiters)})'],
	['stats after recovery', 'my $p = C::I64->new(undef, 4); if (!fork) { $p->alloc; require POSIX; POSIX::_exit(0) } wait; $p->recover_stale; my $s = $p->stats; show(@$s{qw(allocs frees recoveries used)})'],
	['stats after reset',    'my $p = C::I64->new(undef, 4); $p->alloc for 1 .. 3; $p->reset; my $s = $p->stats; show(@$s{qw(allocs frees used)})'],
	['stats mmap_size',      'show(C::I64->new(undef, 4)->stats->{mmap_size} > 0 ? "positive" : "zero")'],
	# recovery
	['recover_stale dead',   'my $p = C::I64->new(undef, 4); if (!fork) { $p->alloc; require POSIX; POSIX::_exit(0) } wait; show($p->recover_stale, $p->used)'],
	['recover_stale zombie', 'my $p = C::I64->new(undef, 4); my $pid = fork; if (!$pid) { $p->alloc; require POSIX; POSIX::_exit(0) } 1 until $p->used; select undef, undef, undef, 0.1; show($p->recover_stale, $p->used); waitpid $pid, 0'],
	['recover_stale live',   'my $p = C::I64->new(undef, 4); $p->alloc; show($p->recover_stale, $p->used)'],
	['reset',                'my $p = C::I64->new(undef, 4); $p->alloc for 1 .. 3; show(scalar $p->reset, $p->used)'],
	# guards
	['alloc_guard scope',    'my $p = C::I64->new(undef, 4); { my ($i, $g) = $p->alloc_guard; show($p->used) } show($p->used)'],
	['alloc_guard scalar',   'my $p = C::I64->new(undef, 4); my $g = $p->alloc_guard; show(ref $g ? "ref" : $g, $p->used)'],
	['alloc_guard full',     'my $p = C::I64->new(undef, 1); $p->alloc; my @r = $p->alloc_guard(0); show(scalar @r)'],
	['try_alloc_guard full', 'my $p = C::I64->new(undef, 1); $p->alloc; my @r = $p->try_alloc_guard; show(scalar @r)'],
	['guard after free',     'my $p = C::I64->new(undef, 4); { my ($i, $g) = $p->alloc_guard; $p->free($i); my $j = $p->alloc; show($j) } show($p->used)'],
	['guard in fork child',  'my $p = C::I64->new(undef, 4); my ($i, $g) = $p->alloc_guard; if (!fork) { undef $g; exit 0 } wait; show($p->is_allocated($i))'],
	['guard methods',        'my $p = C::I64->new(undef, 4); my ($i, $g) = $p->alloc_guard; show(ref $g, $g->can("release") ? 1 : 0)'],
	# convenience
	['alloc_set',            'my $p = C::I64->new(undef, 4); my $i = $p->alloc_set(5); show($i, $p->get($i))'],
	['alloc_set full',       'my $p = C::I64->new(undef, 1); $p->alloc; show($p->alloc_set(5, 0))'],
	['try_alloc_set full',   'my $p = C::I64->new(undef, 1); $p->alloc; show($p->try_alloc_set(5))'],
	['alloc_set bad value',  'my $p = C::I64->new(undef, 2); no warnings; my $i = $p->alloc_set("zz"); show($i, $p->used)'],
	['alloc_set Str long',   'my $p = C::Str->new(undef, 2, 2); my $i = $p->alloc_set("abcd"); show($p->get($i), $p->used)'],
	['alloc_set raw short',  'my $p = C->new(undef, 2, 4); my $i = $p->alloc_set("ab"); show(unpack "H*", $p->get($i))'],
	# files
	['sync',                 'my $p = C::I64->new(P, 4); show(scalar $p->sync)'],
	['sync anonymous',       'my $p = C::I64->new(undef, 4); show(scalar $p->sync)'],
	['unlink',               'my $p = C::I64->new(P, 4); show(scalar $p->unlink, -e P ? 1 : 0)'],
	['unlink class',         'my $p = C::I64->new(P, 4); C->unlink(P); show(-e P ? 1 : 0)'],
	['unlink class missing', 'C->unlink(P)'],
	['unlink anonymous',     'C::I64->new(undef, 4)->unlink'],
	['unlink twice',         'my $p = C::I64->new(P, 4); $p->unlink; $p->unlink'],
	# eventfd
	['fileno fresh',         'show(C::I64->new(undef, 4)->fileno)'],
	['eventfd twice',        'my $p = C::I64->new(undef, 4); my $a = $p->eventfd; show($p->eventfd == $a ? "same" : "new")'],
	['notify no eventfd',    'show(C::I64->new(undef, 4)->notify)'],
	['consume no eventfd',   'show(C::I64->new(undef, 4)->eventfd_consume)'],
	['consume empty',        'my $p = C::I64->new(undef, 4); $p->eventfd; show($p->eventfd_consume)'],
	['notify + consume',     'my $p = C::I64->new(undef, 4); $p->eventfd; $p->notify for 1 .. 3; show($p->eventfd_consume, $p->eventfd_consume)'],
	['free signals',         'my $p = C::I64->new(undef, 4); $p->eventfd; my $i = $p->alloc; $p->free($i); show($p->eventfd_consume)'],
	['eventfd_set fileno',   'my $p = C::I64->new(undef, 4); my $a = $p->eventfd; require POSIX; my $b = POSIX::dup($a); $p->eventfd_set($b); show($p->fileno == $b ? "adopted" : "kept")'],
	['eventfd_set first',    'my $q = C::I64->new(undef, 4); my $a = $q->eventfd; require POSIX; my $b = POSIX::dup($a); my $p = C::I64->new(undef, 4); $p->eventfd_set($b); show($p->fileno == $b ? "adopted" : "dup")'],
	# objects
	['forged object',        'my $f = bless \\(my $z = 0), "C::I64"; $f->alloc'],
	['wrong class',          'C::capacity(bless \\(my $z = 42), "Nope")'],
	['class method call',    'C::I64->capacity'],
	['DESTROY method',       'show(C->can("DESTROY") ? 1 : 0)'],
	['isa',                  'show(C::I64->isa("C") ? 1 : 0, C::Str->isa("C") ? 1 : 0)'],
	['VERSION format',       'show(C->VERSION =~ /^\d+\.\d+$/ ? "X.Y" : C->VERSION)'],
	['threads clone',        'require threads; my $p = C::I64->new(undef, 4); my $t = threads->create(sub { defined $p ? ref $p : "undef" }); show($t->join)'],
);

sub run_probe {
	my ($s, $code) = @_;
	my $path = "$scratch/p-" . $$ . '-' . int(rand 1e9);
	my $c = $s->{class};
	$code =~ s/\bC\b(?=::|->)/$c/g;
	$code =~ s/\bP\b/'$path'/g;
	my $prog = <<'PERL' . "use $c;\n" . "eval { $code; 1 } or print 'died: ', \$@;\n";
use strict; use warnings;
$SIG{__WARN__} = sub { print 'warn: ', $_[0] };
sub show { print join(', ', map { !defined $_ ? 'undef' : ref $_ ? ref($_) : $_ } @_), "\n" }
PERL
	open(my $fh, '-|', 'timeout', '5', $^X, @{ $s->{inc} }, '-e', $prog) or die "run: $!";
	my $out = do { local $/; <$fh> } // '';
	close $fh;
	$out .= "(timed out)\n" if $? >> 8 == 124;
	unlink $path;
	$out =~ s/\Q$path\E/PATH/g;
	$out =~ s/\Q$c\E/C/g;
	$out =~ s/ at -e line \d+\.?//g;
	$out =~ s/ at \S+ line \d+\.?//g;
	chomp $out;
	return $out;
}

# "died: C::get: shpool_get: slot 0 is not allocated" contains
# "died: slot 0 is not allocated": the same failure in more words.
sub contains_theirs {
	my ($ours, $theirs) = @_;
	my ($o) = $ours =~ /^died: (.*)\z/s or return 0;
	my ($t) = $theirs =~ /^died: (.*)\z/s or return 0;
	s/^(?:C(?:::\w+)*(?:::|->)\w+|\w+): // for $o, $t;
	return index($o, $t) >= 0;
}

my %count = (same => 0, 'ours adds' => 0, differs => 0);
my $n = 0;
for my $p (@probes) {
	my ($name, $code) = @$p;
	next if $o{only} && $name !~ /$o{only}/;
	$n++;
	my $a = run_probe($side{ours}, $code);
	my $b = run_probe($side{reference}, $code);
	my $how = $a eq $b ? 'same' : contains_theirs($a, $b) ? 'ours adds' : 'differs';
	$count{$how}++;
	next if $how ne 'differs' && !$o{all};
	say "== $name  ($how)";
	say "  ours:      $_" for split /\n/, $a;
	say "  reference: $_" for split /\n/, $b;
}
say "\n$n probes: $count{same} the same, $count{'ours adds'} the same failure in more words, "
    . "$count{differs} differ";

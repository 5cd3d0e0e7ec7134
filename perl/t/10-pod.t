# The manual: well-formed POD, and a section for every public method.
use strict;
use warnings;
use Test::More;
use Pod::Checker;
use IPC::Shpool;

my $file = $INC{'IPC/Shpool.pm'};
my $checker = Pod::Checker->new(-warnings => 1);
open(my $null, '>', '/dev/null') or die;
$checker->parse_from_file($file, $null);
is($checker->num_errors, 0, 'POD has no errors');
is($checker->num_warnings, 0, 'POD has no warnings');

open(my $fh, '<', $file) or die "open: $!";
my %documented = map { /^=(?:head2|item)\s+(\w+)/ ? ($1 => 1) : () } <$fh>;
my %skip = map { $_ => 1 } qw(CLONE_SKIP DESTROY import bootstrap);
for my $pkg (qw(IPC::Shpool IPC::Shpool::I64 IPC::Shpool::I32 IPC::Shpool::F64 IPC::Shpool::Str)) {
	no strict 'refs';
	# the constants (KIND_RAW, NO_ZERO, ...) too: each has its =item
	for my $sub (sort grep { defined &{"${pkg}::$_"} && !/^_/ && !$skip{$_} }
		     keys %{"${pkg}::"}) {
		ok($documented{$sub}, "${pkg}::$sub is documented");
	}
}
done_testing;

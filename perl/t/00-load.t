use strict;
use warnings;
use Test::More;

use_ok('IPC::Shpool');

# $VERSION is the library's MAJOR.MINOR.PATCH as MAJOR + MINOR/100 + PATCH/10000.
my ($maj, $min, $pat) = split /\./, IPC::Shpool::HEADER_VERSION();
is($IPC::Shpool::VERSION, sprintf('%d.%02d%02d', $maj, $min, $pat),
   '$VERSION follows include/shpool.h');
like(IPC::Shpool::library_version(), qr/^\d+\.\d+\.\d+$/, 'library_version');
for my $c (qw(I64 I32 F64 Str)) {
	my $class = "IPC::Shpool::$c";
	ok($class->isa('IPC::Shpool'), "$class isa IPC::Shpool");
	is($class->VERSION, $IPC::Shpool::VERSION, "$class VERSION");
}
isnt(IPC::Shpool::KIND_RAW(), IPC::Shpool::KIND_I64(), 'kind constants');
done_testing;

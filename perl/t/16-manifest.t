# MANIFEST (what `make dist` ships) and the files here agree: every file it
# lists exists, and every source file here is listed. In the libshpool
# tree this directory is a copy of perl_files (Makefile.am), so the check
# also keeps that list and MANIFEST together.
use strict;
use warnings;
use Test::More;
use File::Find qw(find);

open(my $fh, '<', 'MANIFEST') or plan skip_all => "no MANIFEST here: $!";
my %listed = map { /^(\S+)/ ? ($1 => 1) : () } grep { !/^\s*(#|$)/ } <$fh>;
close $fh;

ok(-f $_, "$_ (in MANIFEST) exists") for sort keys %listed;

my @here = grep { -f } qw(Makefile.PL MANIFEST Changes README typemap), glob('*.xs'), glob('*.pl');
find({ no_chdir => 1, wanted => sub { push @here, $File::Find::name if -f && /\.(pm|t)\z/ } },
     grep { -d } qw(lib t));
ok($listed{$_}, "$_ is in MANIFEST") for sort @here;

done_testing;

# Helpers shared by the tests: wait for a state (never a fixed sleep),
# fork a child that reports through its exit status.
package ShpoolTest;
use strict;
use warnings;
use Exporter 'import';
use Time::HiRes ();
use POSIX ();

our @EXPORT = qw(wait_until child reap tmp_path);

# Poll $cond every millisecond until it is true; false after $secs.
sub wait_until(&;$) {
	my ($cond, $secs) = @_;
	my $end = Time::HiRes::time() + ($secs // 10);
	while (Time::HiRes::time() < $end) {
		return 1 if $cond->();
		Time::HiRes::sleep(0.001);
	}
	return $cond->() ? 1 : 0;
}

# Fork; the child runs $code and exits 0 if it returned true, 1 if false,
# 2 if it died (the message on stderr). Returns the PID.
sub child(&) {
	my ($code) = @_;
	my $pid = fork;
	die "fork: $!" unless defined $pid;
	return $pid if $pid;
	my $ok = eval { $code->() };
	if ($@) { print STDERR "child $$: $@"; POSIX::_exit(2) }
	POSIX::_exit($ok ? 0 : 1);
}

# Wait for the child; its exit status (or 128 + signal).
sub reap {
	my ($pid) = @_;
	waitpid($pid, 0) == $pid or die "waitpid $pid: $!";
	return $? & 127 ? 128 + ($? & 127) : $? >> 8;
}

my $n = 0;
sub tmp_path {
	my $dir = -d '/dev/shm' && -w '/dev/shm' ? '/dev/shm' : ($ENV{TMPDIR} || '/tmp');
	return sprintf '%s/ipc-shpool-test-%d-%d-%d', $dir, $$, time, $n++;
}

1;

/* SPDX-License-Identifier: MIT */
/*
 * Preloaded into the test programs that .ci/steps/60-cross.sh runs under
 * qemu-user (qemu -E LD_PRELOAD=...), to undo two things qemu-user shows
 * through /proc that the kernel would not:
 *
 * 1. qemu answers a process's reads of its own /proc/PID/stat itself, with
 *    qemu's launch time as the start time (inherited across fork), while
 *    every other process reads the kernel's. libshpool names a slot's owner
 *    by PID and start time, so other processes would judge every live
 *    emulated owner dead. Our own stat is read through
 *    /proc/PID/task/PID/stat instead, which qemu leaves to the kernel.
 * 2. A process blocked in a futex under qemu is blocked in qemu's futex
 *    call: /proc/PID/syscall shows the host's number (HOST_SYS_FUTEX, from
 *    the step), never the target's SYS_futex that the tests wait for
 *    (test_await_futex_sleep()); the same for flock (check_file waits for
 *    a creator blocked in it). Both are translated.
 *
 * Only fopen() is wrapped: it is how libshpool and the tests read /proc.
 * LD_PRELOAD is dropped from the environment once loaded: a program that
 * execs a host program (check_tool runs the tool through a host shell
 * script that starts qemu) must not hand the host's loader a library of
 * the target, which it would complain about on stderr.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef HOST_SYS_FUTEX
#error "build with -DHOST_SYS_FUTEX=<the host's SYS_futex>"
#endif

typedef FILE *fopen_fn(const char *, const char *);

static FILE *wrapped(fopen_fn *real, const char *path, const char *mode)
{
	static char line[256]; /* fmemopen()'s buffer outlives this call */
	char alt[96];
	int pid, n = 0;

	if (sscanf(path, "/proc/%d/stat%n", &pid, &n) == 1 && path[n] == '\0' && pid == getpid()) {
		snprintf(alt, sizeof(alt), "/proc/%d/task/%d/stat", pid, pid);
		return real(alt, mode);
	}
	n = 0;
	if (sscanf(path, "/proc/%d/syscall%n", &pid, &n) == 1 && path[n] == '\0') {
		FILE *f = real(path, mode);
		char buf[200], *rest;
		long nr;

		if (!f)
			return NULL;
		if (!fgets(buf, sizeof(buf), f)) {
			fclose(f);
			return real(path, mode);
		}
		fclose(f);
		nr = strtol(buf, &rest, 10);
		if (rest != buf && nr == HOST_SYS_FUTEX)
			snprintf(line, sizeof(line), "%ld%s", (long)SYS_futex, rest);
		else if (rest != buf && nr == HOST_SYS_FLOCK)
			snprintf(line, sizeof(line), "%ld%s", (long)SYS_flock, rest);
		else
			snprintf(line, sizeof(line), "%s", buf);
		return fmemopen(line, strlen(line), "r");
	}
	return real(path, mode);
}

__attribute__((constructor)) static void drop_preload(void)
{
	unsetenv("LD_PRELOAD");
}

FILE *fopen(const char *path, const char *mode)
{
	return wrapped((fopen_fn *)dlsym(RTLD_NEXT, "fopen"), path, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
	return wrapped((fopen_fn *)dlsym(RTLD_NEXT, "fopen64"), path, mode);
}

/* SPDX-License-Identifier: MIT */
/* Test-only hooks, compiled into libshpool-test.la (never installed). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shpool-internal.h"

/* SHPOOL_CRASH_AT=name[:n] makes this process SIGKILL itself the n-th time
 * (default 1st) it reaches crash point `name`. Crash tests set it in a
 * forked child, so they can enumerate every step of every operation. */
void shpool_crash_point(const char *name)
{
	static _Thread_local unsigned hits;
	const char *want = getenv("SHPOOL_CRASH_AT");
	size_t len;
	unsigned long nth = 1;

	if (!want)
		return;
	len = strcspn(want, ":");
	if (strlen(name) != len || strncmp(name, want, len) != 0)
		return;
	if (want[len] == ':')
		nth = strtoul(want + len + 1, NULL, 10);
	if (++hits >= nth)
		kill(getpid(), SIGKILL);
}

/* SHPOOL_FAULT_AT=name[:errno] makes fault point `name` fail with -errno
 * (default EIO) every time it is reached, so a test can drive an error path
 * that correct input never takes (e.g. a store failing after its slot was
 * allocated). */
int shpool_fault_point(const char *name)
{
	const char *want = getenv("SHPOOL_FAULT_AT");
	size_t len;
	long err = EIO;

	if (!want)
		return 0;
	len = strcspn(want, ":");
	if (strlen(name) != len || strncmp(name, want, len) != 0)
		return 0;
	if (want[len] == ':')
		err = strtol(want + len + 1, NULL, 10);
	if (err <= 0 || err > 4095)
		err = EIO;
	return shpool_fail(-(int)err, "injected fault at %s", name);
}

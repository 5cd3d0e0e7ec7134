/* SPDX-License-Identifier: MIT */
/* Test-only hooks, compiled into libshpool-test.la (never installed). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shpool-internal.h"

/* SHPOOL_CRASH_AT=name[:n] makes this process SIGKILL itself the n-th time
 * (default 1st) it reaches crash point `name`. Crash tests set it in a
 * forked child, so they can enumerate every step of every operation.
 * SHPOOL_CRASH_AT=name:n:stop stops it (SIGSTOP) there instead, once, so
 * that the test can change the segment at exactly that step and let the
 * child go on (SIGCONT). */
void shpool_crash_point(const char *name)
{
	static _Thread_local unsigned hits;
	const char *want = getenv("SHPOOL_CRASH_AT");
	char *end = NULL;
	size_t len;
	unsigned long nth = 1;
	bool stop;

	if (!want)
		return;
	len = strcspn(want, ":");
	if (strlen(name) != len || strncmp(name, want, len) != 0)
		return;
	if (want[len] == ':')
		nth = strtoul(want + len + 1, &end, 10);
	stop = end && strcmp(end, ":stop") == 0;
	if (stop ? ++hits == nth : ++hits >= nth)
		kill(getpid(), stop ? SIGSTOP : SIGKILL);
}

/* Whether a counted fault point fires now: counts hits per spec string, and
 * starts again when a test sets a different spec (tests may run in one
 * process, CK_FORK=no). */
static bool fault_counted_fires(const char *spec, unsigned long count)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char last[128];
	static unsigned long hits;
	bool fire;

	pthread_mutex_lock(&lock);
	if (strncmp(last, spec, sizeof(last)) != 0) {
		snprintf(last, sizeof(last), "%s", spec);
		hits = 0;
	}
	fire = hits++ < count;
	pthread_mutex_unlock(&lock);
	return fire;
}

/* SHPOOL_FAULT_AT=name[:errno[:count]] makes fault point `name` fail with
 * -errno (default EIO), every time it is reached or only the first `count`
 * times, so a test can drive an error path that correct input never takes
 * (e.g. a store failing after its slot was allocated), or a transient one
 * that must be retried (a syscall interrupted by a signal). */
int shpool_fault_point(const char *name)
{
	const char *want = getenv("SHPOOL_FAULT_AT");
	char *end = NULL;
	size_t len;
	long err = EIO;

	if (!want)
		return 0;
	len = strcspn(want, ":");
	if (strlen(name) != len || strncmp(name, want, len) != 0)
		return 0;
	if (want[len] == ':')
		err = strtol(want + len + 1, &end, 10);
	if (err <= 0 || err > 4095)
		err = EIO;
	if (end && *end == ':' && !fault_counted_fires(want, strtoul(end + 1, NULL, 10)))
		return 0;
	return shpool_fail(-(int)err, "injected fault at %s", name);
}

/* SPDX-License-Identifier: MIT */
/* Test-only hooks, compiled into libshpool-test.la (never installed). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shpool-internal.h"

/* If environment variable `var` is "name" or "name:...", what follows the
 * name (an empty string or ":..."); else NULL. */
static const char *point_spec(const char *var, const char *name)
{
	const char *want = getenv(var);
	size_t len;

	if (!want)
		return NULL;
	len = strcspn(want, ":");
	if (strlen(name) != len || strncmp(name, want, len) != 0)
		return NULL;
	return want + len;
}

/* SHPOOL_DELAY_AT=name:ms makes every pass through crash point `name` sleep
 * ms milliseconds: a test widens a race window at exactly that step, so a
 * race that needs a rare interleaving happens every time (and a test that
 * waits for the wrong state fails every time). */
static void delay_point(const char *name)
{
	const char *rest = point_spec("SHPOOL_DELAY_AT", name);

	if (!rest || *rest != ':')
		return;
	unsigned long ms = strtoul(rest + 1, NULL, 10);
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* SHPOOL_CRASH_AT=name[:n] makes this process SIGKILL itself the n-th time
 * (default 1st) it reaches crash point `name`. Crash tests set it in a
 * forked child, so they can enumerate every step of every operation.
 * SHPOOL_CRASH_AT=name:n:stop stops it (SIGSTOP) there instead, once, so
 * that the test can change the segment at exactly that step and let the
 * child go on (SIGCONT). Several specs may be given, separated by commas
 * (e.g. two stops, to hold a child on both sides of one store); hits are
 * counted per spec and per thread. SHPOOL_DELAY_AT (above) may name a
 * point too. */
void shpool_crash_point(const char *name)
{
	static _Thread_local unsigned hits[8];
	const char *want = getenv("SHPOOL_CRASH_AT");
	size_t name_len = strlen(name);

	delay_point(name);
	for (unsigned k = 0; want && *want && k < 8; k++) {
		size_t len = strcspn(want, ",");
		const char *next = want[len] ? want + len + 1 : want + len;

		if (len > name_len && strncmp(want, name, name_len) == 0 &&
		    want[name_len] == ':') {
			char *end = NULL;
			unsigned long nth = strtoul(want + name_len + 1, &end, 10);
			bool stop = strncmp(end, ":stop", 5) == 0;

			if (stop ? ++hits[k] == nth : ++hits[k] >= nth)
				kill(getpid(), stop ? SIGSTOP : SIGKILL);
		} else if (len == name_len && strncmp(want, name, name_len) == 0) {
			kill(getpid(), SIGKILL); /* "name" alone: the first hit */
		}
		want = next;
	}
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
	const char *rest = point_spec("SHPOOL_FAULT_AT", name);
	char *end = NULL;
	long err = EIO;

	if (!rest)
		return 0;
	if (*rest == ':')
		err = strtol(rest + 1, &end, 10);
	if (err <= 0 || err > 4095)
		err = EIO;
	/* The whole spec string starts where the name does. */
	if (end && *end == ':' &&
	    !fault_counted_fires(rest - strlen(name), strtoul(end + 1, NULL, 10)))
		return 0;
	return shpool_fail(-(int)err, "injected fault at %s", name);
}

/* SPDX-License-Identifier: MIT */
/* shpool watch: sample the pool's occupancy at a fixed interval. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "tool.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* SIGINT and SIGTERM end the watch normally. No SA_RESTART: the sleep
 * returns EINTR at once. */
static int catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
		return -errno;
	return 0;
}

static void timespec_add_ms(struct timespec *ts, uint64_t ms)
{
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Sleep until the absolute CLOCK_MONOTONIC time `at` (so samples do not
 * drift by the time each takes), or until a stop signal. */
static void sleep_until(const struct timespec *at)
{
	while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, at, NULL) == EINTR)
		;
}

static void sample(const struct tool *t, const shpool_stats_t *st)
{
	struct timespec now;
	struct json j;
	char when[16];
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &now);
	if (t->json) {
		json_init(&j, stdout);
		json_open(&j, NULL, '{');
		/* Wall-clock milliseconds since the epoch: exact in JSON. */
		json_u64(&j, "time_ms", (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000);
		json_u64(&j, "used", st->used);
		json_u64(&j, "available", st->available);
		json_u64(&j, "waiters", st->waiters);
		json_u64(&j, "allocs", st->allocs);
		json_u64(&j, "frees", st->frees);
		json_u64(&j, "waits", st->waits);
		json_u64(&j, "timeouts", st->timeouts);
		json_u64(&j, "recoveries", st->recoveries);
		json_close(&j, '}');
		json_end(&j);
	} else {
		localtime_r(&now.tv_sec, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		printf("%-8s %12" PRIu64 " %12" PRIu64 " %8" PRIu64 "\n", when, st->used,
		       st->available, st->waiters);
	}
	/* Each sample must reach a pipe now, not when the buffer fills. */
	fflush(stdout);
}

int cmd_watch(const struct tool *t, shpool_t *p)
{
	struct timespec next;
	shpool_stats_t st;
	int rc;

	rc = catch_signals();
	if (rc < 0) {
		fprintf(stderr, "shpool: sigaction: %s\n", strerror(-rc));
		return EXIT_ERROR;
	}
	if (!t->json)
		printf("%-8s %12s %12s %8s\n", "TIME", "USED", "AVAILABLE", "WAITERS");
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (uint64_t n = 0; !stop && (t->count == 0 || n < t->count); n++) {
		if (n) {
			timespec_add_ms(&next, t->interval);
			sleep_until(&next);
			if (stop)
				break;
		}
		rc = shpool_stats(p, &st);
		if (rc < 0)
			return tool_fail(t, rc);
		sample(t, &st);
		if (ferror(stdout))
			break; /* main reports the write error */
	}
	return EXIT_OK;
}

/* SPDX-License-Identifier: MIT */
/* shpool watch: sample the pool's occupancy at a fixed interval, and the
 * rates of its counters between samples. */
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

/* A counter's rate per second between two samples dt seconds apart. The
 * counters never decrease (shpool_stats(3)); a step back, which would be a
 * library bug, counts as no change rather than a huge rate. */
static double rate(uint64_t now, uint64_t before, double dt)
{
	return now > before && dt > 0 ? (double)(now - before) / dt : 0.0;
}

/* The previous sample, for the rates: none before the first. */
struct previous {
	bool have;
	shpool_stats_t st;
	struct timespec at; /* CLOCK_MONOTONIC */
};

struct rates {
	bool have;
	double allocs, frees, waits;
};

static struct rates rates_since(struct previous *prev, const shpool_stats_t *st)
{
	struct rates r = { prev->have, 0, 0, 0 };
	struct timespec now;
	double dt;

	clock_gettime(CLOCK_MONOTONIC, &now);
	dt = (double)(now.tv_sec - prev->at.tv_sec) + (double)(now.tv_nsec - prev->at.tv_nsec) / 1e9;
	if (r.have) {
		r.allocs = rate(st->allocs, prev->st.allocs, dt);
		r.frees = rate(st->frees, prev->st.frees, dt);
		r.waits = rate(st->waits, prev->st.waits, dt);
	}
	prev->have = true;
	prev->st = *st;
	prev->at = now;
	return r;
}

static void json_rate(struct json *j, const char *key, bool have, double v)
{
	if (have)
		json_f64(j, key, v);
	else
		json_null(j, key);
}

static void sample(const struct tool *t, const shpool_stats_t *st, const struct rates *r)
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
		json_u64(&j, "reset_frees", st->reset_frees);
		json_rate(&j, "allocs_per_s", r->have, r->allocs);
		json_rate(&j, "frees_per_s", r->have, r->frees);
		json_rate(&j, "waits_per_s", r->have, r->waits);
		json_close(&j, '}');
		json_end(&j);
	} else {
		localtime_r(&now.tv_sec, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		printf("%-8s %12" PRIu64 " %12" PRIu64 " %8" PRIu64, when, st->used, st->available,
		       st->waiters);
		if (r->have)
			printf(" %10.1f %10.1f %10.1f\n", r->allocs, r->frees, r->waits);
		else
			printf(" %10s %10s %10s\n", "-", "-", "-");
	}
	/* Each sample must reach a pipe now, not when the buffer fills. */
	fflush(stdout);
}

int cmd_watch(const struct tool *t, shpool_t *p)
{
	struct previous prev = { .have = false };
	struct timespec next;
	shpool_stats_t st;
	struct rates r;
	int rc;

	rc = catch_signals();
	if (rc < 0) {
		fprintf(stderr, "shpool: sigaction: %s\n", strerror(-rc));
		return EXIT_ERROR;
	}
	if (!t->json)
		printf("%-8s %12s %12s %8s %10s %10s %10s\n", "TIME", "USED", "AVAILABLE", "WAITERS",
		       "ALLOCS/S", "FREES/S", "WAITS/S");
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
		r = rates_since(&prev, &st);
		sample(t, &st, &r);
		if (ferror(stdout))
			break; /* main reports the write error */
	}
	return EXIT_OK;
}

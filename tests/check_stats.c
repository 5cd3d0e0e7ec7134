/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/stats.c, the shpool_stats() counters: exact once the pool is
 * quiet, never decreasing for a reader, kept across deaths, across the
 * stripe table filling up and being taken over, and across fork(2).
 *
 * Real processes and threads; every wait is for a state (a counter in a
 * shared control block, the pool's own waiter count), never for a time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shpool-internal.h"
#include "testutil.h"

/* 16 threads: enough for the old hashed stripes (16 of them) to collide. */
#define NPROC 4
#define NTHR 4
#define NWORKERS (NPROC * NTHR)
#define KILLS 12
#define MAXW (NWORKERS + KILLS * NTHR) /* tallies: the dead keep theirs */
#define MAXHOLD 4
#define ITERS 40000
#define FULL_WAITS 10 /* blocking calls per thread on a full pool */

/* What one worker thread did, by its own count: written by it alone. */
struct tally {
	_Atomic uint64_t allocs, frees, timeouts, blocking;
};

struct ctl {
	_Atomic int stop;       /* the reader takes one last sample and exits */
	_Atomic int claimed;    /* the first failure writes `why`, */
	_Atomic int failed;     /* then sets this */
	_Atomic uint64_t samples;
	_Atomic unsigned holding; /* kill test: threads holding their slots */
	_Atomic int go_block;     /* kill test: the pool is full, block now */
	_Atomic int stop_workers; /* forever workers: stop now */
	char why[512];
	struct tally t[MAXW];
};

static struct ctl *ctl;
static shpool_t *pool;

static void __attribute__((format(printf, 1, 2))) note_failure(const char *fmt, ...)
{
	va_list ap;
	int expect = 0;

	if (!atomic_compare_exchange_strong(&ctl->claimed, &expect, 1))
		return;
	va_start(ap, fmt);
	vsnprintf(ctl->why, sizeof(ctl->why), fmt, ap);
	va_end(ap);
	atomic_store(&ctl->failed, 1);
}

static void setup(uint64_t capacity)
{
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(ctl, MAP_FAILED);
	ck_assert_int_eq(shpool_create(&pool, NULL, SHPOOL_RAW, capacity, 16, NULL), 0);
}

static void teardown(void)
{
	ck_assert_msg(!atomic_load(&ctl->failed), "%s", ctl->why);
	shpool_close(pool);
	munmap(ctl, sizeof(*ctl));
}

static void add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* ---- one process, quiet ---- */

START_TEST(stats_count)
{
	shpool_t *p = test_anon_pool(8, 8, 0);
	shpool_stats_t st;
	uint64_t idx[4];

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(shpool_free(p, (uint64_t)shpool_try_alloc(p)), 0);
	ck_assert_int_eq(shpool_alloc_n(p, idx, 4, 0), 0);
	ck_assert_int_eq(shpool_stats(p, &st), 0);
	ck_assert_uint_eq(st.capacity, 8);
	ck_assert_uint_eq(st.elem_size, 8);
	ck_assert_uint_eq(st.used, 4);
	ck_assert_uint_eq(st.available, 4);
	ck_assert_uint_eq(st.allocs, 7);
	ck_assert_uint_eq(st.frees, 3);
	ck_assert_uint_eq(st.waiters, 0);
	ck_assert_uint_ge(st.mmap_size, 8 * 8);
	ck_assert_int_eq(shpool_alloc(p, 0) >= 0, 1);
	ck_assert_fails(shpool_stats(p, NULL), -EINVAL, "NULL");
	shpool_close(p);
}
END_TEST

/* ---- the reader: samples continuously, every counter must never drop ---- */

#define NCOUNTERS 6
static void counters(const shpool_stats_t *st, uint64_t c[NCOUNTERS])
{
	c[0] = st->allocs;
	c[1] = st->frees;
	c[2] = st->waits;
	c[3] = st->timeouts;
	c[4] = st->recoveries;
	c[5] = st->reset_frees;
}
static const char *const counter_name[NCOUNTERS] = { "allocs", "frees", "waits", "timeouts",
						     "recoveries", "reset_frees" };

static int reader(void *arg)
{
	uint64_t prev[NCOUNTERS] = { 0 }, cur[NCOUNTERS];
	shpool_stats_t st;

	(void)arg;
	for (;;) {
		int last = atomic_load(&ctl->stop);

		if (shpool_stats(pool, &st) != 0) {
			note_failure("reader: shpool_stats failed: %s", shpool_last_error());
			return 1;
		}
		counters(&st, cur);
		for (int k = 0; k < NCOUNTERS; k++)
			if (cur[k] < prev[k]) {
				note_failure("reader: %s went down from %" PRIu64 " to %" PRIu64
				     " (sample %" PRIu64 ")", counter_name[k], prev[k], cur[k],
				     atomic_load(&ctl->samples));
				return 1;
			}
		memcpy(prev, cur, sizeof(prev));
		atomic_fetch_add(&ctl->samples, 1);
		if (last)
			return 0;
	}
}

/* Start the reader and wait for its first samples. */
static pid_t start_reader(void)
{
	pid_t r = test_fork(reader, NULL);

	while (atomic_load(&ctl->samples) < 10 && !atomic_load(&ctl->failed))
		sched_yield();
	return r;
}

static void stop_reader(pid_t r)
{
	uint64_t n = atomic_load(&ctl->samples);

	/* Not before it has sampled the last stretch of traffic. */
	while (atomic_load(&ctl->samples) < n + 10 && !atomic_load(&ctl->failed))
		sched_yield();
	atomic_store(&ctl->stop, 1);
	ck_assert_int_eq(test_wait(r), atomic_load(&ctl->failed) ? 1 : 0);
	ck_assert_msg(!atomic_load(&ctl->failed), "%s", ctl->why);
}

/* ---- the workers ---- */

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

struct worker {
	unsigned id;      /* index into ctl->t */
	unsigned iters;   /* of the mix */
	bool forever;     /* mix until stop_workers instead */
	unsigned hold;    /* kill test: slots to hold, then block forever */
	unsigned full_waits; /* blocking calls expected to time out */
};

static void drop(struct tally *t, uint64_t *held, unsigned *n)
{
	int64_t k = shpool_free_n(pool, held, *n);

	if (k != (int64_t)*n)
		note_failure("free_n of %u held returned %" PRId64 ": %s", *n, k, shpool_last_error());
	add(&t->frees, k > 0 ? (uint64_t)k : 0);
	*n = 0;
}

/* Every call of the API that changes a counter, mixed at random; each
 * result counted by the caller. */
static void mix(const struct worker *w, struct tally *t)
{
	uint64_t held[MAXHOLD], s = 0x9E3779B97F4A7C15ull * (w->id + 1) ^ (uint64_t)getpid();
	unsigned n = 0;

	for (unsigned i = 0; (w->forever ? !atomic_load(&ctl->stop_workers) : i < w->iters) &&
			     !atomic_load_explicit(&ctl->failed, memory_order_relaxed);
	     i++) {
		uint64_t r = xorshift(&s);
		int64_t rc;

		switch (r % 16) {
		case 0: case 1: case 2: case 3: case 4: case 5: {
			/* One slot; now and then waiting up to 1 ms. */
			int tmo = (r >> 8) % 16 == 0 ? 1 : 0;

			if (n == MAXHOLD)
				break;
			add(&t->blocking, tmo != 0);
			rc = shpool_alloc(pool, tmo);
			if (rc >= 0) {
				held[n++] = (uint64_t)rc;
				add(&t->allocs, 1);
			} else if (rc == -ETIMEDOUT && tmo) {
				add(&t->timeouts, 1);
			} else if (rc != -EAGAIN) {
				note_failure("alloc: %s", shpool_last_error());
			}
			break;
		}
		case 6: case 7: case 8: {
			unsigned k = 2 + (unsigned)((r >> 8) % 2);
			int tmo = (r >> 12) % 16 == 0 ? 1 : 0;

			if (n + k > MAXHOLD)
				break;
			add(&t->blocking, tmo != 0);
			rc = shpool_alloc_n(pool, held + n, k, tmo);
			if (rc == 0) {
				n += k;
				add(&t->allocs, k);
			} else if (rc == -ETIMEDOUT && tmo) {
				add(&t->timeouts, 1);
			} else if (rc != -EAGAIN) {
				note_failure("alloc_n: %s", shpool_last_error());
			}
			break;
		}
		case 9: case 10: case 11: case 12: case 13:
			if (n) {
				unsigned j = (unsigned)((r >> 8) % n);

				if (shpool_free(pool, held[j]) != 0)
					note_failure("free: %s", shpool_last_error());
				held[j] = held[--n];
				add(&t->frees, 1);
			}
			break;
		default:
			if (n)
				drop(t, held, &n);
			break;
		}
	}
	if (n)
		drop(t, held, &n);
}

static void *worker_thread(void *arg)
{
	const struct worker *w = arg;
	struct tally *t = &ctl->t[w->id];

	mix(w, t);
	for (unsigned i = 0; i < w->full_waits; i++) {
		int64_t rc = shpool_alloc(pool, 1);

		add(&t->blocking, 1);
		if (rc != -ETIMEDOUT)
			note_failure("alloc on a full pool returned %" PRId64, rc);
		else
			add(&t->timeouts, 1);
	}
	if (w->hold) {
		for (unsigned i = 0; i < w->hold; i++) {
			if (shpool_alloc(pool, -1) < 0)
				note_failure("alloc to hold: %s", shpool_last_error());
			add(&t->allocs, 1);
		}
		atomic_fetch_add(&ctl->holding, 1);
		while (!atomic_load(&ctl->go_block))
			sched_yield();
		/* Blocks forever: the pool is full. We are killed here. */
		shpool_alloc(pool, -1);
		note_failure("a killed worker's allocation returned");
	}
	return NULL;
}

static struct worker proto;

/* A worker process: NTHR threads, ids from *base. */
static int worker_proc(void *arg)
{
	unsigned base = *(unsigned *)arg;
	struct worker w[NTHR];
	pthread_t th[NTHR];

	for (unsigned i = 0; i < NTHR; i++) {
		w[i] = proto;
		w[i].id = base + i;
		if (pthread_create(&th[i], NULL, worker_thread, &w[i]) != 0) {
			note_failure("pthread_create");
			return 1;
		}
	}
	for (unsigned i = 0; i < NTHR; i++)
		pthread_join(th[i], NULL);
	return 0;
}

static void run_workers(pid_t pids[NPROC])
{
	for (unsigned i = 0; i < NPROC; i++) {
		unsigned base = i * NTHR;

		pids[i] = test_fork(worker_proc, &base);
	}
}

static void sum_tallies(struct tally *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (unsigned i = 0; i < MAXW; i++) {
		add(&sum->allocs, atomic_load(&ctl->t[i].allocs));
		add(&sum->frees, atomic_load(&ctl->t[i].frees));
		add(&sum->timeouts, atomic_load(&ctl->t[i].timeouts));
		add(&sum->blocking, atomic_load(&ctl->t[i].blocking));
	}
}

static void assert_identity(const shpool_stats_t *st)
{
	ck_assert_msg(st->allocs - st->frees - st->recoveries - st->reset_frees == st->used,
		      "allocs %" PRIu64 " - frees %" PRIu64 " - recoveries %" PRIu64
		      " - reset_frees %" PRIu64 " != used %" PRIu64, st->allocs, st->frees,
		      st->recoveries, st->reset_frees, st->used);
}

/* (a) NPROC processes x NTHR threads hammer a pool of 8 slots with every
 * counted call, while a reader process samples; then every counter is
 * exactly what the workers counted, on a full pool every blocking call is
 * one wait and one timeout, and a reset is counted too. */
START_TEST(exact_and_monotonic)
{
	shpool_stats_t st;
	struct tally sum;
	pid_t pids[NPROC], r;
	uint64_t held[8], waits_before, timeouts_before;

	setup(8);
	r = start_reader();
	proto = (struct worker){ .iters = ITERS };
	run_workers(pids);
	for (unsigned i = 0; i < NPROC; i++)
		ck_assert_int_eq(test_wait(pids[i]), 0);
	ck_assert_msg(!atomic_load(&ctl->failed), "%s", ctl->why);

	ck_assert_int_eq(shpool_stats(pool, &st), 0);
	sum_tallies(&sum);
	ck_assert_uint_eq(st.used, 0);
	ck_assert_uint_eq(st.allocs, sum.allocs);
	ck_assert_uint_eq(st.frees, sum.frees);
	ck_assert_uint_eq(st.timeouts, sum.timeouts);
	/* Whether a call had to wait is the pool's to know; it lies between
	 * the calls that gave up and those that could wait. */
	ck_assert_uint_ge(st.waits, sum.timeouts);
	ck_assert_uint_le(st.waits, sum.blocking);
	ck_assert_uint_eq(st.recoveries, 0);
	assert_identity(&st);

	/* A full pool: every blocking call waits, then times out. */
	ck_assert_int_eq(shpool_alloc_n(pool, held, 8, 0), 0);
	waits_before = st.waits;
	timeouts_before = st.timeouts;
	memset(ctl->t, 0, sizeof(ctl->t));
	proto = (struct worker){ .full_waits = FULL_WAITS };
	run_workers(pids);
	for (unsigned i = 0; i < NPROC; i++)
		ck_assert_int_eq(test_wait(pids[i]), 0);
	ck_assert_msg(!atomic_load(&ctl->failed), "%s", ctl->why);
	sum_tallies(&sum);
	ck_assert_uint_eq(sum.timeouts, NWORKERS * FULL_WAITS);
	ck_assert_int_eq(shpool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.waits - waits_before, NWORKERS * FULL_WAITS);
	ck_assert_uint_eq(st.timeouts - timeouts_before, NWORKERS * FULL_WAITS);
	ck_assert_uint_eq(st.used, 8);
	assert_identity(&st);

	/* A reset frees the 8 and says so. */
	ck_assert_int_eq(shpool_reset(pool), 0);
	ck_assert_int_eq(shpool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.reset_frees, 8);
	ck_assert_uint_eq(st.used, 0);
	assert_identity(&st);
	stop_reader(r);
	teardown();
}
END_TEST

/* (b) The same workers, each thread ending up holding slots and blocked in
 * an allocation, SIGKILLed: their counts stay exactly (before and after
 * recovery), recovery counts what it frees, no counter ever drops. */
START_TEST(kills_keep_counts)
{
	const unsigned hold = 2, cap = NWORKERS * hold + 4;
	uint64_t mine[64], nmine = 0;
	shpool_stats_t st;
	struct tally sum;
	pid_t pids[NPROC], r;
	int64_t rc;

	setup(cap);
	r = start_reader();
	proto = (struct worker){ .iters = ITERS / 2, .hold = hold };
	run_workers(pids);
	while (atomic_load(&ctl->holding) < NWORKERS && !atomic_load(&ctl->failed))
		sched_yield();
	ck_assert_msg(!atomic_load(&ctl->failed), "%s", ctl->why);
	/* Fill the rest, so that every worker blocks. */
	while ((rc = shpool_try_alloc(pool)) >= 0)
		mine[nmine++] = (uint64_t)rc;
	ck_assert_uint_eq(nmine, cap - NWORKERS * hold);
	atomic_store(&ctl->go_block, 1);
	test_await_waiters(pool, NWORKERS);
	for (unsigned i = 0; i < NPROC; i++) {
		kill(pids[i], SIGKILL);
		ck_assert_int_eq(test_wait(pids[i]), 128 + SIGKILL);
	}

	/* The dead's counts, before any recovery. */
	sum_tallies(&sum);
	ck_assert_int_eq(shpool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.allocs, sum.allocs + nmine);
	ck_assert_uint_eq(st.frees, sum.frees);
	ck_assert_uint_eq(st.timeouts, sum.timeouts);
	ck_assert_uint_ge(st.waits, sum.timeouts + NWORKERS);
	ck_assert_uint_eq(st.used, cap);
	assert_identity(&st);

	ck_assert_int_eq(shpool_free_n(pool, mine, nmine), (int64_t)nmine);
	ck_assert_int_eq(shpool_recover_stale(pool), NWORKERS * hold);
	ck_assert_int_eq(shpool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.allocs, sum.allocs + nmine);
	ck_assert_uint_eq(st.frees, sum.frees + nmine);
	ck_assert_uint_eq(st.recoveries, NWORKERS * hold);
	ck_assert_uint_eq(st.used, 0);
	ck_assert_uint_eq(st.waiters, 0);
	assert_identity(&st);
	stop_reader(r);
	teardown();
}
END_TEST

static uint64_t progress(unsigned base)
{
	uint64_t n = 0;

	for (unsigned i = base; i < base + NTHR; i++)
		n += atomic_load(&ctl->t[i].allocs) + atomic_load(&ctl->t[i].frees);
	return n;
}

/* (c) Workers SIGKILLed at any instruction, KILLS times, each replaced by
 * a new process, with recover_stale after each. No counter ever drops;
 * at the end every counter is
 * at least what the workers saw returned, and the identity is off by no
 * more than the slots of the calls the killed threads were in
 * (shpool_stats(3): what a thread killed mid-call did but had not yet
 * counted). */
START_TEST(random_kills_stay_monotonic)
{
	unsigned base[NPROC], next = NPROC * NTHR;
	shpool_stats_t st;
	struct tally sum;
	pid_t pids[NPROC], r;
	int64_t off;

	setup(8);
	r = start_reader();
	proto = (struct worker){ .forever = true };
	for (unsigned i = 0; i < NPROC; i++) {
		base[i] = i * NTHR;
		pids[i] = test_fork(worker_proc, &base[i]);
	}
	for (unsigned k = 0; k < KILLS; k++) {
		unsigned v = k % NPROC;
		/* Mid-run: after the victim has made some progress. */
		uint64_t p0 = progress(base[v]);

		while (progress(base[v]) < p0 + 2000 + 997 * k % 3000 && !atomic_load(&ctl->failed))
			sched_yield();
		kill(pids[v], SIGKILL);
		ck_assert_int_eq(test_wait(pids[v]), 128 + SIGKILL);
		/* During live traffic, as a supervisor would: without it the
		 * dead would soon hold all 8 slots. */
		ck_assert_int_ge(shpool_recover_stale(pool), 0);
		base[v] = next;
		next += NTHR;
		pids[v] = test_fork(worker_proc, &base[v]);
	}
	atomic_store(&ctl->stop_workers, 1);
	for (unsigned i = 0; i < NPROC; i++)
		ck_assert_int_eq(test_wait(pids[i]), 0);
	ck_assert_msg(!atomic_load(&ctl->failed), "%s", ctl->why);
	ck_assert_int_ge(shpool_recover_stale(pool), 0);
	ck_assert_int_eq(shpool_stats(pool, &st), 0);
	sum_tallies(&sum);
	ck_assert_uint_ge(st.allocs, sum.allocs);
	ck_assert_uint_le(st.allocs, sum.allocs + KILLS * NTHR * MAXHOLD);
	ck_assert_uint_ge(st.frees, sum.frees);
	ck_assert_uint_le(st.frees, sum.frees + KILLS * NTHR * MAXHOLD);
	ck_assert_uint_ge(st.timeouts, sum.timeouts);
	ck_assert_uint_le(st.timeouts, sum.timeouts + KILLS * NTHR);
	ck_assert_uint_eq(st.used, 0);
	off = (int64_t)(st.allocs - st.frees - st.recoveries - st.reset_frees - st.used);
	ck_assert_msg(off >= -(int64_t)(KILLS * NTHR * MAXHOLD) &&
		      off <= (int64_t)(KILLS * NTHR * MAXHOLD),
		      "allocs - frees - recoveries - used = %" PRId64, off);
	if (getenv("CHECK_STATS_VERBOSE"))
		fprintf(stderr, "random kills: identity off by %" PRId64 " (allocs %" PRIu64
			" vs returned %" PRIu64 ", frees %" PRIu64 " vs %" PRIu64
			", recoveries %" PRIu64 ")\n", off, st.allocs, sum.allocs, st.frees, sum.frees,
			st.recoveries);
	stop_reader(r);
	teardown();
}
END_TEST

/* ---- the stripe table (white-box) ---- */

#define MANY (SHPOOL_STRIPES + 16)
#define PAIRS 100

static pthread_barrier_t barrier;
static pid_t tids[MANY];

static void *pair_thread(void *arg)
{
	tids[(uintptr_t)arg] = gettid();
	/* Claim a stripe (or the overflow), then wait until every thread
	 * has one, so that MANY threads are alive at once. */
	if (shpool_alloc(pool, -1) < 0)
		note_failure("alloc: %s", shpool_last_error());
	pthread_barrier_wait(&barrier);
	for (int i = 0; i < PAIRS; i++) {
		int64_t idx = shpool_alloc(pool, -1);

		if (idx < 0 || shpool_free(pool, (uint64_t)idx) != 0)
			note_failure("pair: %s", shpool_last_error());
	}
	return NULL;
}

static unsigned claimed_stripes(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < SHPOOL_STRIPES; i++)
		n += atomic_load(&pool->st->stripe[i].who) != 0;
	return n;
}

/* Has the kernel let go of every thread of the last run_many()? */
static bool all_gone(void)
{
	char path[64];

	for (unsigned i = 0; i < MANY; i++) {
		snprintf(path, sizeof(path), "/proc/self/task/%d", (int)tids[i]);
		if (access(path, F_OK) == 0)
			return false;
	}
	return true;
}

static void run_many(void)
{
	pthread_t th[MANY];

	ck_assert_int_eq(pthread_barrier_init(&barrier, NULL, MANY), 0);
	for (unsigned i = 0; i < MANY; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, pair_thread, (void *)(uintptr_t)i), 0);
	for (unsigned i = 0; i < MANY; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&barrier);
	/* Joined is not yet gone from /proc: wait until it is. */
	while (!all_gone())
		sched_yield();
}

/* More live threads than stripes: the rest share the overflow stripe, all
 * exact. Then a new generation of threads takes the dead threads' stripes
 * over and adds to what they counted. */
START_TEST(table_full_then_taken_over)
{
	shpool_stats_t st;
	uint64_t over;

	setup(3 * MANY); /* each thread keeps its first slot */
	run_many();
	ck_assert_msg(!atomic_load(&ctl->failed), "%s", ctl->why);
	ck_assert_uint_eq(claimed_stripes(), SHPOOL_STRIPES);
	over = atomic_load(&pool->st->overflow.count[SHPOOL_STAT_ALLOCS]);
	ck_assert_uint_eq(over, (MANY - SHPOOL_STRIPES) * (PAIRS + 1));
	ck_assert_int_eq(shpool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.allocs, MANY * (PAIRS + 1));
	ck_assert_uint_eq(st.frees, MANY * PAIRS);

	/* Every first-generation thread is gone: the second takes over all
	 * 64 stripes, and only 16 of its threads overflow again. */
	run_many();
	ck_assert_msg(!atomic_load(&ctl->failed), "%s", ctl->why);
	ck_assert_uint_eq(claimed_stripes(), SHPOOL_STRIPES);
	ck_assert_uint_eq(atomic_load(&pool->st->overflow.count[SHPOOL_STAT_ALLOCS]), 2 * over);
	ck_assert_int_eq(shpool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.allocs, 2 * MANY * (PAIRS + 1));
	ck_assert_uint_eq(st.frees, 2 * MANY * PAIRS);
	ck_assert_uint_eq(st.used, 2 * MANY);
	teardown();
}
END_TEST

static int child_pairs(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++) {
		int64_t idx = shpool_alloc(pool, 0);

		if (idx < 0 || shpool_free(pool, (uint64_t)idx) != 0)
			return 1;
	}
	return 0;
}

/* A fork(2) child counts on a stripe of its own, never its parent's. */
START_TEST(fork_child_gets_own_stripe)
{
	shpool_stats_t st;
	pid_t c;

	setup(8);
	ck_assert_int_eq(shpool_free(pool, (uint64_t)shpool_alloc(pool, 0)), 0);
	ck_assert_uint_eq(claimed_stripes(), 1);
	c = test_fork(child_pairs, NULL);
	/* The parent counts on meanwhile, on its own stripe. */
	ck_assert_int_eq(child_pairs(NULL), 0);
	ck_assert_int_eq(test_wait(c), 0);
	ck_assert_uint_eq(claimed_stripes(), 2);
	ck_assert_int_eq(shpool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.allocs, 2001);
	ck_assert_uint_eq(st.frees, 2001);
	teardown();
}
END_TEST

/* One wait cut into slices (a binding that runs signal handlers between
 * them) is one wait and at most one timeout: SHPOOL_WAIT_SLICE keeps a
 * slice's timeout out of the count, SHPOOL_WAIT_RESUME the wait itself. */
static void expect_waits(uint64_t waits, uint64_t timeouts)
{
	shpool_stats_t st;

	ck_assert_int_eq(shpool_stats(pool, &st), 0);
	ck_assert_uint_eq(st.waits, waits);
	ck_assert_uint_eq(st.timeouts, timeouts);
}

static int child_free_slot0(void *arg)
{
	(void)arg;
	/* The parent's resumed slice must be asleep before the free. */
	test_await_waiters(pool, 1);
	return shpool_free(pool, 0) != 0;
}

START_TEST(sliced_wait_counts_once)
{
	uint64_t two[2];
	pid_t c;

	setup(2);
	ck_assert_int_eq(shpool_alloc(pool, 0), 0);
	ck_assert_int_eq(shpool_alloc(pool, 0), 1);
	/* A timed-out wait: first slice, two more, the last one unsliced. */
	ck_assert_int_eq(shpool_alloc_ex(pool, 5, SHPOOL_WAIT_SLICE), -ETIMEDOUT);
	expect_waits(1, 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(shpool_alloc_ex(pool, 5, SHPOOL_WAIT_SLICE | SHPOOL_WAIT_RESUME),
				 -ETIMEDOUT);
	expect_waits(1, 0);
	ck_assert_int_eq(shpool_alloc_ex(pool, 5, SHPOOL_WAIT_RESUME), -ETIMEDOUT);
	expect_waits(1, 1);
	/* The same for a batch. */
	ck_assert_int_eq(shpool_alloc_n_ex(pool, two, 2, 5, SHPOOL_WAIT_SLICE), -ETIMEDOUT);
	ck_assert_int_eq(shpool_alloc_n_ex(pool, two, 2, 5, SHPOOL_WAIT_RESUME), -ETIMEDOUT);
	expect_waits(2, 2);
	/* A resumed slice that a free in another process satisfies: no new
	 * wait, no timeout. */
	c = test_fork(child_free_slot0, NULL);
	ck_assert_int_eq(shpool_alloc_ex(pool, -1, SHPOOL_WAIT_RESUME), 0);
	ck_assert_int_eq(test_wait(c), 0);
	expect_waits(2, 2);
	/* Plain calls still count each wait and timeout. */
	ck_assert_int_eq(shpool_alloc(pool, 5), -ETIMEDOUT);
	expect_waits(3, 3);
	/* Unknown flags are refused before anything is counted or touched. */
	ck_assert_fails(shpool_alloc_ex(pool, 5, 1u << 7), -EINVAL, "unknown wait flags");
	ck_assert_fails(shpool_alloc_n_ex(pool, two, 2, 5, 1u << 7), -EINVAL, "unknown wait flags");
	ck_assert_fails(shpool_alloc_n_ex(NULL, two, 2, 5, 0), -EINVAL, "shpool_alloc_n_ex");
	expect_waits(3, 3);
	teardown();
}
END_TEST

static Suite *make_stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *exact = tcase_create("exact");
	TCase *table = tcase_create("table");

	/* Hang detectors, sized for a loaded 2-core machine. */
	tcase_set_timeout(exact, 60);
	tcase_add_test(exact, stats_count);
	tcase_add_test(exact, exact_and_monotonic);
	tcase_add_test(exact, kills_keep_counts);
	tcase_add_test(exact, random_kills_stay_monotonic);
	tcase_set_timeout(table, 60);
	tcase_add_test(table, table_full_then_taken_over);
	tcase_add_test(table, fork_child_gets_own_stripe);
	tcase_add_test(table, sliced_wait_counts_once);
	suite_add_tcase(s, exact);
	suite_add_tcase(s, table);
	return s;
}

int main(void)
{
	return test_run_suite(make_stats_suite());
}

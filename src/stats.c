/* SPDX-License-Identifier: MIT */
/*
 * Statistics: single-writer stripes (struct shpool_stripe in
 * shpool-internal.h).
 *
 * Each thread bumps counters on a stripe of its own, found on first use and
 * cached in a thread-local table keyed by the handle's serial. Being the
 * stripe's only writer, it can add with a plain relaxed load and store: no
 * increment is lost (unlike a shared stripe, where two threads' load+store
 * overwrite each other and a counter can go down), and no locked RMW sits
 * on the allocation fast path. Counts are never moved or reset: a thread
 * that takes over a dead thread's stripe goes on adding to its values, so
 * every counter of every stripe only rises and a dead thread's counts stay
 * counted, whether or not anyone recovers its slots.
 *
 * A stripe's owner is a thread, named in `who` by its kernel TID, its PID
 * and (19 bits of) its start time in clock ticks (identity.c), all in one 64-bit word so
 * that one CAS claims a stripe. A stripe whose owner thread is gone can be
 * taken over by CAS from that exact word; a new thread that happens to get
 * the same TID has another start time, so it is another owner (barring a
 * start time equal modulo 2^19 ticks, about 87 minutes at 100 Hz, in the
 * same process: then it may adopt the stripe as its own, which is still
 * one writer at a time since the old thread is gone).
 *
 * When every stripe has a live owner, a thread bumps the shared overflow
 * stripe with an atomic fetch_add: exact as well, only slower.
 *
 * Readers sum the stripes with relaxed loads. Each counter location only
 * rises in its modification order, and a thread's successive loads of one
 * location never go back in that order (read-read coherence), so each
 * reader's sums never decrease.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shpool-internal.h"

SHPOOL_FAST_TLS struct shpool_stat_cache shpool_stat_cache[SHPOOL_STAT_CACHE];
/* The second way of each set: the entry the fast path's one evicted last.
 * Looked at on a miss only (the fast path keeps its single compare), so
 * that two handles whose serials share a set take turns without a search
 * each time they alternate. Not initial-exec TLS: only the slow path reads
 * it, and a dlopen()ed library's initial-exec space is small. */
static _Thread_local struct shpool_stat_cache victim[SHPOOL_STAT_CACHE];
/* CLOCK_MONOTONIC_COARSE ns before which this thread does not search for a
 * stripe whose owner is gone again (PROBE_BACKOFF_NS, below); 0 in a new
 * thread and in a fork child. */
static _Thread_local uint64_t probe_after;

/* A cached entry for a thread bumping the overflow stripe. */
#define SHARED_KEY (UINT64_C(1) << 63)

uint64_t shpool_new_serial(void)
{
	static _Atomic uint64_t next = 1;

	/* relaxed: only needs distinct values. */
	return atomic_fetch_add_explicit(&next, 1, memory_order_relaxed) & ~SHARED_KEY;
}


/* ---- finding this thread's stripe ------------------------------------- */

/* How long a thread trusts its search that found every stripe owned by a
 * live thread before it asks /proc again. Each ask costs a kill(2) and a
 * /proc read per stripe (64 of each); asked on every miss of the stripe
 * cache, that was about 320 system calls a miss for a thread going round
 * handles, some of them between a free's stores and its wake-up. Within
 * this time the thread counts on the overflow stripe (exact as well); other
 * threads, a new one included, still ask on their first miss, so a stripe
 * freed by a thread's death is still taken over. */
#define PROBE_BACKOFF_NS 1000000000ull

static uint64_t coarse_now_ns(void)
{
	struct timespec ts;

	/* The coarse clock: read in the vDSO, never a system call. */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* This thread's stripe in p: one it owns already (the cache forgot it, or
 * another handle of the same segment), else a never-used one, else one
 * whose owner is gone (looked for at most once per PROBE_BACKOFF_NS per
 * thread); NULL when every stripe has a live owner. */
static struct shpool_stripe *stripe_claim(struct shpool *p)
{
	struct shpool_stripe *t = p->st->stripe;
	uint64_t me = shpool_thread_id();

	for (unsigned i = 0; i < SHPOOL_STRIPES; i++)
		/* relaxed: only our own earlier claim can match. */
		if (atomic_load_explicit(&t[i].who, memory_order_relaxed) == me)
			return &t[i];
	for (unsigned i = 0; i < SHPOOL_STRIPES; i++) {
		uint64_t expect = 0;
		/* seq_cst: one claimant wins a stripe. */
		if (atomic_load_explicit(&t[i].who, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_strong(&t[i].who, &expect, me))
			return &t[i];
	}
	if (probe_after && coarse_now_ns() < probe_after)
		return NULL;
	for (unsigned i = 0; i < SHPOOL_STRIPES; i++) {
		uint64_t old = atomic_load(&t[i].who);
		/* From the very owner found gone: a racing claimant that took
		 * it first makes the CAS fail. Its counts stay: we add to them.
		 * (The gone thread's last stores are visible: its death went
		 * through the kernel, which we asked through /proc.) */
		if (old != 0 && shpool_thread_gone(old) &&
		    atomic_compare_exchange_strong(&t[i].who, &old, me))
			return &t[i];
	}
	probe_after = coarse_now_ns() + PROBE_BACKOFF_NS;
	return NULL;
}

void shpool_stat_add_slow(struct shpool *p, enum shpool_stat k, uint64_t n)
{
	unsigned set = (unsigned)(p->serial % SHPOOL_STAT_CACHE);
	struct shpool_stat_cache *c = &shpool_stat_cache[set], *v = &victim[set];
	struct shpool_stripe *s;

	if (c->serial != (p->serial | SHARED_KEY) &&
	    (v->serial == p->serial || v->serial == (p->serial | SHARED_KEY))) {
		/* The other way has it: swap the two, so the fast path finds
		 * it next time. */
		struct shpool_stat_cache hit = *v;

		*v = *c;
		*c = hit;
		if (c->serial == p->serial) {
			shpool_stat_add(p, k, n);
			return;
		}
	} else if (c->serial != (p->serial | SHARED_KEY) && c->serial) {
		*v = *c; /* evicted below: keep it in the second way */
	}
	if (c->serial != (p->serial | SHARED_KEY)) {
		s = stripe_claim(p);
		if (s) {
			c->s = s;
			c->serial = p->serial;
			shpool_stat_add(p, k, n);
			return;
		}
		/* Every stripe has a live owner: share the overflow stripe.
		 * Cached as such, so that we do not search again each time. */
		c->s = &p->st->overflow;
		c->serial = p->serial | SHARED_KEY;
	}
	/* relaxed: a counter, ordered with nothing else. */
	atomic_fetch_add_explicit(&p->st->overflow.count[k], n, memory_order_relaxed);
}

void shpool_stats_sum(struct shpool *p, shpool_stats_t *out)
{
	uint64_t sum[SHPOOL_NSTATS] = { 0 };

	for (unsigned i = 0; i <= SHPOOL_STRIPES; i++) {
		struct shpool_stripe *s = i < SHPOOL_STRIPES ? &p->st->stripe[i] : &p->st->overflow;

		/* relaxed: see the top of this file. */
		for (unsigned k = 0; k < SHPOOL_NSTATS; k++)
			sum[k] += atomic_load_explicit(&s->count[k], memory_order_relaxed);
	}
	out->allocs = sum[SHPOOL_STAT_ALLOCS];
	out->frees = sum[SHPOOL_STAT_FREES];
	out->waits = sum[SHPOOL_STAT_WAITS];
	out->timeouts = sum[SHPOOL_STAT_TIMEOUTS];
	out->recoveries = sum[SHPOOL_STAT_RECOVERIES];
	out->reset_frees = sum[SHPOOL_STAT_RESET_FREES];
}

int shpool_stats(shpool_t *p, shpool_stats_t *out)
{
	SHPOOL_CHECK_HANDLE(p);
	if (!out)
		return shpool_fail(-EINVAL, "shpool_stats: out is NULL");
	memset(out, 0, sizeof(*out));
	out->capacity = p->g.capacity;
	out->elem_size = p->g.elem_size;
	out->used = shpool_used(p);
	out->available = p->g.capacity - out->used;
	out->waiters = atomic_load_explicit(&p->st->waiters, memory_order_relaxed);
	out->mmap_size = p->map_size;
	shpool_stats_sum(p, out);
	return 0;
}

/* A fork(2) child is another thread: it must not write its parent's
 * stripes. */
static void after_fork_child(void)
{
	memset(shpool_stat_cache, 0, sizeof(shpool_stat_cache));
	memset(victim, 0, sizeof(victim));
	probe_after = 0;
}

static void __attribute__((constructor)) register_fork_handler(void)
{
	pthread_atfork(NULL, NULL, after_fork_child);
}

/* SPDX-License-Identifier: MIT */
/*
 * Blocking: the futex word and the waiter registry.
 *
 * A blocked allocator registers in `waiters` (and its process in the waiter
 * registry), reads the futex word `wake_seq`, searches once more, then
 * sleeps on wake_seq (alloc.c, alloc_wait()). A free that sees waiters
 * bumps wake_seq and wakes as many as it freed: shpool_wake(), inline in
 * shpool-internal.h so that a free pays one load when nobody waits, says
 * why no wake-up is lost.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shpool-internal.h"

static void futex_wake(_Atomic uint32_t *addr, int n)
{
	/* Not FUTEX_PRIVATE_FLAG: waiters are in other processes. */
	syscall(SYS_futex, addr, FUTEX_WAKE, n, NULL, NULL, 0);
}

/* Sleep while *addr == val, until the absolute CLOCK_MONOTONIC deadline
 * (NULL: forever). 0 when woken, else -EAGAIN, -EINTR, -ETIMEDOUT. */
int shpool_futex_wait_until(_Atomic uint32_t *addr, uint32_t val, const struct timespec *deadline)
{
	long r = syscall(SYS_futex, addr, FUTEX_WAIT_BITSET, val, deadline, NULL,
			 FUTEX_BITSET_MATCH_ANY);

	return r < 0 ? -errno : 0;
}

unsigned shpool_wake_waiters(struct shpool *p, uint64_t n)
{
	/* Bump before waking: a waiter between its wake_seq read and its
	 * futex_wait() then fails the futex compare and searches again. */
	atomic_fetch_add(&p->st->wake_seq, 1);
	futex_wake(&p->st->wake_seq, n > INT_MAX ? INT_MAX : (int)n);
	return 1;
}

/* ---- the waiter registry (struct shpool_waitreg, shpool-internal.h) ---- */

/* A process's first claim of a registry entry is serialised: two of its
 * threads blocking together would otherwise each miss the other's entry and
 * claim one each, and the registry promises one entry per process (so that
 * shpool_check() and recovery name a dead process once). Process-local, held
 * for one scan of the table; reset in a fork(2) child (after_fork_child()),
 * which may have been forked while another thread held it. */
static pthread_mutex_t waitreg_claim_lock = PTHREAD_MUTEX_INITIALIZER;

static struct shpool_waitreg *waitreg_find(struct shpool *p, uint64_t self)
{
	struct shpool_waitreg *r = p->st->waitreg;

	for (unsigned i = 0; i < SHPOOL_WAITREG; i++)
		/* relaxed: only our own claim matters, and we made it (in
		 * this thread, or in another before the claim lock's release). */
		if (atomic_load_explicit(&r[i].who, memory_order_relaxed) == self)
			return &r[i];
	return NULL;
}

/* This process's entry in the waiter registry (shpool-internal.h): the one
 * it claimed earlier, else a free one claimed now; NULL if the table is
 * full. */
struct shpool_waitreg *shpool_waitreg_entry(struct shpool *p, uint64_t self)
{
	struct shpool_waitreg *r = p->st->waitreg, *mine = waitreg_find(p, self);

	if (mine)
		return mine;
	pthread_mutex_lock(&waitreg_claim_lock);
	mine = waitreg_find(p, self); /* claimed by another thread meanwhile? */
	SHPOOL_CRASH_POINT("waitreg.looked");
	for (unsigned i = 0; !mine && i < SHPOOL_WAITREG; i++) {
		uint64_t free_entry = 0;
		/* seq_cst: one process wins an entry. */
		if (atomic_compare_exchange_strong(&r[i].who, &free_entry, self))
			mine = &r[i];
	}
	pthread_mutex_unlock(&waitreg_claim_lock);
	return mine;
}

static void after_fork_child(void)
{
	pthread_mutex_init(&waitreg_claim_lock, NULL);
}

static void __attribute__((constructor)) register_fork_handler(void)
{
	pthread_atfork(NULL, NULL, after_fork_child);
}

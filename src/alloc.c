/* SPDX-License-Identifier: MIT */
/*
 * The allocator: claiming and freeing slots, and waiting for room.
 *
 * A slot is allocated when its bitmap bit is set (bitmap.c). Its owner
 * record (one 64-bit word per slot) is the claim token: an allocator first
 * CASes the record from 0 to itself, and only then sets the bit; a free
 * clears the bit first and the record last. So the record is never 0 while
 * the bit is set, and a process that dies between any two steps leaves a
 * record that names it (recovery.c reads these states).
 *
 * Search: each thread remembers the bitmap word it last allocated from or
 * freed into, in the pool it last used (its hint, seeded per thread so
 * processes start apart). When that word has no room, the summary tree
 * finds another (shpool_find_word()).
 *
 * Blocking: a waiter registers in `waiters`, reads the futex word
 * `wake_seq`, searches once more, then sleeps on wake_seq (alloc_wait()).
 * A free that sees waiters bumps wake_seq and wakes as many as it freed
 * (wake.c; shpool_wake() says why no wake-up is lost).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "shpool-internal.h"
#include "cas16.h"

/* This thread's search hint: the L0 word it last allocated from or freed
 * into, and the handle (its serial: never reused, never 0) it is a word of.
 * A handle other than the last one starts again at the thread's seed word:
 * threads and processes start apart, and a fresh pool's first allocations
 * do not depend on what the thread did with other pools (they did while the
 * word carried over from pool to pool). Emptied in a fork(2) child, which
 * gets a seed of its own (after_fork_child() below). One entry, not a table
 * keyed by handle: the fast path then costs one compare, as it did before. */
static SHPOOL_FAST_TLS struct {
	uint64_t serial;
	uint64_t word;
} hint;

static inline uint64_t hint_word(const struct shpool *p)
{
	if (__builtin_expect(hint.serial != p->serial, 0)) {
		hint.serial = p->serial;
		/* A division, on a change of pool only. */
		hint.word = shpool_thread_seed() % p->g.nwords[0];
	}
	return hint.word;
}

static inline void hint_set(const struct shpool *p, uint64_t w)
{
	hint.serial = p->serial;
	hint.word = w;
}

#ifdef SHPOOL_TESTING
/* Tests steer where this thread's next search starts, so that a race with
 * one word is not dodged by a search that happens to start there. */
void shpool_test_set_hint(struct shpool *p, uint64_t w)
{
	hint_set(p, w);
}
#endif

static inline __attribute__((always_inline)) void zero_slot(struct shpool *p, uint64_t idx)
{
	uint8_t *s = shpool_slot(p, idx);

	SHPOOL_COST_TOUCH(s);
	/* Constant sizes for the common strides: a store or two, not a call. */
	switch (p->g.stride) {
	case 8: memset(s, 0, 8); break;
	case 16: memset(s, 0, 16); break;
	case 32: memset(s, 0, 32); break;
	case 64: memset(s, 0, 64); break;
	default: memset(s, 0, p->g.stride); break;
	}
}

static inline uint64_t free_bits(struct shpool *p, uint64_t w, uint64_t bits);
static int64_t claim_damaged(struct shpool *p, uint64_t w, uint64_t self, uint64_t got,
			     uint64_t old);

/* Claim up to `want` free slots of L0 word w: owner records first (CAS
 * from 0), then one fetch_or for all their bits. Stores their indices in
 * out; returns how many, or -EUCLEAN on a damaged segment. *seen gets the
 * word as it was read. Inlined so the one-slot fast path is specialised. */
static inline __attribute__((always_inline)) int64_t
claim_in_word(struct shpool *p, uint64_t w, uint64_t self, uint64_t want, uint64_t *out,
	      uint64_t *seen)
{
	_Atomic uint64_t *word = shpool_l0(p, w);
	uint64_t mask = shpool_full_mask(p, 0, w);
	uint64_t v = atomic_load(word); /* seq_cst: see shpool_find_word() */
	uint64_t room = ~v & mask, got = 0, n = 0, old;

	*seen = v;
	while (room && n < want) {
		unsigned b = (unsigned)__builtin_ctzll(room);
		uint64_t idx = (w << p->g.word_shift) + b, expect = 0;

		/* The zeroing below must finish before the fetch_or can: start
		 * fetching the (in a big pool, cold) data line now. */
		if (!(p->g.flags & SHPOOL_NO_ZERO))
			__builtin_prefetch(shpool_slot(p, idx), 1);
		if (want - n >= 2 && ((room >> b) & 3) == 3 && shpool_claim_pair(p, idx, self)) {
			room &= ~(UINT64_C(3) << b);
			got |= UINT64_C(3) << b;
			out[n++] = idx;
			out[n++] = idx + 1;
			continue;
		}
		room &= room - 1;
		/* seq_cst (acquire needed): pairs with the release store of 0
		 * in free_bits(), so the previous owner's use of the slot
		 * happens-before ours. A failure means another allocator holds
		 * the claim (or a dead one does: recovery's job). */
		if (!atomic_compare_exchange_strong(&p->owner[idx], &expect, self))
			continue;
		got |= UINT64_C(1) << b;
		out[n++] = idx;
	}
	if (!got)
		return 0;
	SHPOOL_CRASH_POINT("alloc.owner_claimed");
	/* Zero while only we can reach the slots: once the bit is set, a
	 * walker (each_allocated, a typed reader) may look at them. */
	if (!(p->g.flags & SHPOOL_NO_ZERO))
		for (uint64_t i = 0; i < n; i++)
			zero_slot(p, out[i]);
	/* seq_cst: publishes the allocation to is_allocated()/used() and
	 * orders it before the summary update. */
	old = atomic_fetch_or(word, got);
	if (__builtin_expect(old & got, 0))
		return claim_damaged(p, w, self, got, old);
	SHPOOL_CRASH_POINT("alloc.bits_set");
	if (((old | got) & mask) == mask && p->g.nlevels > 1)
		shpool_summary_mark_full(p, 1, w);
	return (int64_t)n;
}

/* claim_in_word() found bits `old & got` already set although we hold
 * their owner records: only a scribbled segment does that (nobody else sets
 * the bit of a slot whose record names us). Give back the whole claim
 * before failing, or a live caller would keep slots it was never told
 * about and recover_stale() would never free (shpool_alloc_n() promises
 * that a failed batch holds nothing): clear the bits we set (free_bits()
 * also stores their records 0 and fixes the summary), and hand back the
 * records of the damaged bits, which stay set as found, for
 * shpool_check() to report. */
static int64_t claim_damaged(struct shpool *p, uint64_t w, uint64_t self, uint64_t got,
			     uint64_t old)
{
	uint64_t freed = free_bits(p, w, got & ~old), first = (w << p->g.word_shift);

	for (uint64_t f = got & ~freed; f; f &= f - 1) {
		uint64_t mine = self;
		/* seq_cst CAS, not a store: only our own record goes back to 0,
		 * never a claim someone made since. */
		atomic_compare_exchange_strong(&p->owner[first + (uint64_t)__builtin_ctzll(f)], &mine,
					       0);
	}
	return shpool_fail(-EUCLEAN, "slot %" PRIu64 ": bitmap bit set without an owner record "
			   "(segment damaged; run shpool_check)",
			   first + (uint64_t)__builtin_ctzll(old & got));
}

/* Claim up to `want` slots into out, from this thread's hint onward. Returns
 * how many (fewer only when a pass found no more room) or -EUCLEAN, with
 * *claimed always the number held. */
static int claim(struct shpool *p, uint64_t self, uint64_t *out, uint64_t want, uint64_t *claimed)
{
	uint64_t w = hint_word(p), n = 0, seen;
	/* Each round claims something or moves on to another word; the bound
	 * only stops a pathological segment (every free bit held by dead
	 * claimants) from being walked more than about twice. */
	uint64_t rounds = 2 * p->g.nwords[0] + 8 * p->g.nlevels + 16;
	int rc = 0;

	while (n < want && rounds--) {
		int64_t k = claim_in_word(p, w, self, want - n, out + n, &seen);

		if (k < 0) {
			rc = (int)k;
			break;
		}
		n += (uint64_t)k;
		if (n == want)
			break;
		/* Lost a slot to a racing claim: look at this word again if it
		 * changed since, rather than report a full pool. */
		if (k == 0 && (~seen & shpool_full_mask(p, 0, w)) &&
		    atomic_load(shpool_l0(p, w)) != seen)
			continue;
		if ((seen & shpool_full_mask(p, 0, w)) == shpool_full_mask(p, 0, w) &&
		    p->g.nlevels > 1)
			shpool_summary_mark_full(p, 1, w); /* repairs a stale "has room" */
		uint64_t next = shpool_find_word(p, w);
		if (next == SHPOOL_WORD_NONE)
			break;
		if (next != SHPOOL_WORD_RETRY)
			w = next;
	}
	hint_set(p, w);
	*claimed = n;
	return rc;
}

/* Free the slots `bits` of L0 word w, whose owner records name the caller:
 * bitmap first, then the records. Returns the bits that were allocated. */
static inline __attribute__((always_inline)) uint64_t free_bits(struct shpool *p, uint64_t w,
								 uint64_t bits)
{
	/* seq_cst: the bit clear is the free; ordered before shpool_wake()'s load of
	 * `waiters` and before the summary clear. */
	uint64_t old = atomic_fetch_and(shpool_l0(p, w), ~bits);
	uint64_t freed = old & bits, mask = shpool_full_mask(p, 0, w);

	if (!freed)
		return 0;
	SHPOOL_CRASH_POINT("free.bits_cleared");
	if (__builtin_expect(!(freed & (freed - 1)), 1)) {
		/* seq_cst: release would do for the next owner (everything done
		 * with the slot happens-before its claim CAS), but this store
		 * also makes the slot claimable, and shpool_wake() must load `waiters`
		 * only after it: the store-load order a blocked allocator relies
		 * on (see shpool_wake()). One xchg, no fence. */
		atomic_store(&p->owner[(w << p->g.word_shift) + (uint64_t)__builtin_ctzll(freed)], 0);
	} else {
		for (uint64_t f = freed; f; f &= f - 1) {
			uint64_t idx = (w << p->g.word_shift) + (uint64_t)__builtin_ctzll(f);
			/* release: as above, and the fence below orders them all
			 * before shpool_wake()'s load at once. */
			atomic_store_explicit(&p->owner[idx], 0, memory_order_release);
		}
		atomic_thread_fence(memory_order_seq_cst);
	}
	if ((old & mask) == mask && p->g.nlevels > 1)
		shpool_summary_mark_room(p, 1, w);
	/* This thread's next allocation looks here first (as sbitmap's hint,
	 * "last allocated or freed"): the word has room and its line is hot
	 * in our cache. The hint is per thread, so other threads still start
	 * apart. */
	hint_set(p, w);
	return freed;
}

bool shpool_bit_clear(struct shpool *p, uint64_t idx)
{
	return free_bits(p, idx >> p->g.word_shift, shpool_bit_of(p, idx)) != 0;
}

/* Free one slot. 0, or -ENOENT if it was not allocated. */
static inline __attribute__((always_inline)) int free_one(struct shpool *p, uint64_t idx,
							 uint64_t self)
{
	uint64_t w = idx >> p->g.word_shift, bit = shpool_bit_of(p, idx), rec;
	uint64_t tagged = self | SHPOOL_OWNER_FREEING;

	/* In a big pool both lines are likely cold: fetch the bitmap word
	 * while the record loads, rather than one miss after the other. And
	 * the slot's data, which the allocator zeroes: this thread's next
	 * claim starts in this word (free_bits() sets the hint), so in a
	 * full pool it takes this very slot back, and its miss is then
	 * already on the way, as in a LIFO free list's pop. */
	__builtin_prefetch(shpool_l0(p, w), 1);
	if (!(p->g.flags & SHPOOL_NO_ZERO))
		__builtin_prefetch(shpool_slot(p, idx), 1);
	/* acquire: read the record of the allocation whose bit we clear. */
	rec = atomic_load_explicit(&p->owner[idx], memory_order_acquire);

	if (rec == self)
		return free_bits(p, w, bit) ? 0 : -ENOENT;
	/* Another process's slot (handed over, or its owner died). Tag the
	 * record with us first: if we die before finishing, recovery sees a
	 * dead freer, not the owner (who may be alive), and finishes. */
	if (rec == 0 || (rec & SHPOOL_OWNER_TAG_MASK) || !(atomic_load(shpool_l0(p, w)) & bit))
		return -ENOENT;
	/* seq_cst: one of two racing frees wins the record. */
	if (!atomic_compare_exchange_strong(&p->owner[idx], &rec, tagged))
		return -ENOENT;
	SHPOOL_CRASH_POINT("free.owner_tagged");
	if (free_bits(p, w, bit))
		return 0;
	/* The bit was clear: the slot was freed and is being claimed again
	 * by its owner between our looks. Hand the record back. */
	atomic_compare_exchange_strong(&p->owner[idx], &tagged, rec);
	return -ENOENT;
}


/* Claim all n slots or none. 0, -EAGAIN, -EUCLEAN. *bumps counts the
 * wake_seq bumps our own rollback made. */
static int claim_all(struct shpool *p, uint64_t self, uint64_t *out, uint64_t n,
		     unsigned *bumps);
/* The same, when a count says the claim can succeed; else -EAGAIN. */
static int claim_all_if_room(struct shpool *p, uint64_t self, uint64_t *out, uint64_t n,
			     unsigned *bumps, bool waiting);

static bool past(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

static void deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* The slow path: sleep on the futex until n slots can be claimed or the
 * deadline passes. A signal runs its handler and the wait goes on to the
 * same absolute deadline, i.e. with the time that is left. */
static int alloc_wait(struct shpool *p, uint64_t self, uint64_t *out, uint64_t n, int timeout_ms,
		      unsigned flags)
{
	struct shpool_waitreg *reg = shpool_waitreg_entry(p, self);
	struct timespec deadline;
	int rc;

	if (timeout_ms > 0)
		deadline_after(&deadline, timeout_ms);
	if (!(flags & SHPOOL_WAIT_RESUME))
		shpool_stat_add(p, SHPOOL_STAT_WAITS, 1);
	for (;;) {
		unsigned bumps = 0;
		int wr = 0;

		/* seq_cst: registers us before our last look; pairs with the
		 * `waiters` load in shpool_wake(). */
		atomic_fetch_add(&p->st->waiters, 1);
		SHPOOL_CRASH_POINT("wait.counted");
		/* seq_cst: after `waiters`, so a death here over-counts. */
		if (reg)
			atomic_fetch_add(&reg->count, 1);
		uint32_t seq = atomic_load(&p->st->wake_seq);

		rc = claim_all_if_room(p, self, out, n, &bumps, true);
		/* Sleep only if nobody but our own rollback moved wake_seq:
		 * any other bump is a free we must look at first. */
		if (rc == -EAGAIN) {
			wr = shpool_futex_wait_until(&p->st->wake_seq, seq + bumps,
					      timeout_ms > 0 ? &deadline : NULL);
			SHPOOL_CRASH_POINT("wait.woken");
		}
		/* seq_cst: out of the registry before out of `waiters`, so a
		 * death in between over-counts, never under-counts. */
		if (reg)
			atomic_fetch_sub(&reg->count, 1);
		SHPOOL_CRASH_POINT("wait.uncounted");
		/* seq_cst, though relaxed would do on x86 and, by the C11 model,
		 * anywhere (we are awake; the next sleep registers again with a
		 * seq_cst RMW first): so that no reader of the protocol, nor the
		 * model in model/, has to argue it. A slow path; free on x86. */
		atomic_fetch_sub(&p->st->waiters, 1);
		if (rc != -EAGAIN)
			return rc;
		if (wr == -ETIMEDOUT || (timeout_ms > 0 && past(&deadline))) {
			/* A free that raced the deadline still counts. */
			rc = claim_all_if_room(p, self, out, n, &bumps, true);
			if (rc != -EAGAIN)
				return rc;
			if (!(flags & SHPOOL_WAIT_SLICE))
				shpool_stat_add(p, SHPOOL_STAT_TIMEOUTS, 1);
			return shpool_fail(-ETIMEDOUT, "no free slot within %d ms", timeout_ms);
		}
		if (wr != 0 && wr != -EAGAIN && wr != -EINTR)
			return shpool_fail(wr, "futex wait: %s", strerror(-wr));
	}
}

/* Give back slots this process just claimed (an incomplete batch); returns
 * how many were freed. */
static uint64_t release_own(struct shpool *p, const uint64_t *idx, uint64_t n)
{
	uint64_t freed = 0;

	for (uint64_t i = 0; i < n; i++)
		freed += shpool_bit_clear(p, idx[i]);
	return freed;
}

/* Are n slots free now? Counts clear bitmap bits, and with `claimable`
 * only those whose owner record is 0 too (not a claim in progress, nor one
 * a dead process left); stops at n, so it costs little while there is
 * room. seq_cst loads: a blocked batch's count is its last look, ordered
 * after its registration like shpool_find_word()'s (see shpool_wake()). */
static bool room_for(struct shpool *p, uint64_t n, bool claimable)
{
	uint64_t found = 0;

	for (uint64_t w = 0; w < p->g.nwords[0]; w++) {
		uint64_t room = ~atomic_load(shpool_l0(p, w)) & shpool_full_mask(p, 0, w);

		if (!claimable) {
			found += (uint64_t)__builtin_popcountll(room);
			if (found >= n)
				return true;
			continue;
		}
		for (; room; room &= room - 1) {
			uint64_t idx = (w << p->g.word_shift) + (uint64_t)__builtin_ctzll(room);

			if (atomic_load(&p->owner[idx]) == 0 && ++found == n)
				return true;
		}
	}
	return false;
}

static int claim_all(struct shpool *p, uint64_t self, uint64_t *out, uint64_t n,
		     unsigned *bumps)
{
	uint64_t got;
	int rc = claim(p, self, out, n, &got);

	if (rc == 0 && got == n)
		return 0;
	/* All or nothing, and never hold part of a batch while sleeping:
	 * two half-served batches would wait on each other forever. Others
	 * may have missed those slots while we held them: tell them. */
	uint64_t released = release_own(p, out, got);
	*bumps += shpool_wake(p, released);
	if (released && (p->g.flags & SHPOOL_NOTIFY_ON_FREE))
		shpool_notify_freed(p, released);
	return rc < 0 ? rc : -EAGAIN;
}


/* A batch claims only when a count says it can be served: otherwise its
 * claim, rollback and wake-up (claim_all()) would wake another unservable
 * batch, whose rollback wakes this one, and so on without end; and each
 * rollback hides slots from single allocators meanwhile. So a rollback
 * needs a claim lost to a racing allocation. A caller's first attempt
 * counts bitmap bits only (a load per 64 slots: the batch fast path);
 * a waiter counts claimable slots, so that slots a dead claimant left
 * cannot keep two waiters rolling back until recovery. */
static int claim_all_if_room(struct shpool *p, uint64_t self, uint64_t *out, uint64_t n,
			     unsigned *bumps, bool waiting)
{
	if (n > 1 && !room_for(p, n, waiting))
		return -EAGAIN;
	return claim_all(p, self, out, n, bumps);
}

static int alloc_slots(struct shpool *p, uint64_t self, uint64_t *out, uint64_t n,
		       int timeout_ms, unsigned flags)
{
	unsigned bumps = 0;
	int rc = claim_all_if_room(p, self, out, n, &bumps, false);

	if (rc == -EAGAIN && timeout_ms != 0)
		rc = alloc_wait(p, self, out, n, timeout_ms, flags);
	if (rc == -EAGAIN)
		return n == 1 ? shpool_fail(rc, "pool full (%" PRIu64 " slots)", p->g.capacity)
			      : shpool_fail(rc, "no room for %" PRIu64 " slots at once", n);
	if (rc < 0)
		return rc;
	shpool_stat_add(p, SHPOOL_STAT_ALLOCS, n);
	return 0;
}

#define WAIT_FLAGS (SHPOOL_WAIT_SLICE | SHPOOL_WAIT_RESUME)

static int bad_wait_flags(const char *fn, unsigned flags)
{
	return shpool_fail(-EINVAL, "%s: unknown wait flags 0x%x", fn, flags & ~WAIT_FLAGS);
}

static inline __attribute__((always_inline)) int64_t alloc_one(struct shpool *p, int timeout_ms,
							      unsigned flags, const char *fn)
{
	uint64_t idx, seen, self;
	int64_t k;
	int rc;

	if (!p)
		return shpool_fail(-EINVAL, "%s: NULL pool handle", fn);
	/* The one branch a read-only handle costs the fast path: its
	 * mapping cannot take the claim below. */
	if (shpool_readonly(p))
		return shpool_rdonly_error(fn);
	/* In alloc_n()'s order; for shpool_alloc() (flags 0) it folds away. */
	if (flags & ~WAIT_FLAGS)
		return bad_wait_flags(fn, flags);
	self = shpool_self();
	/* Fast path: the word this thread used last still has room. */
	k = claim_in_word(p, hint_word(p), self, 1, &idx, &seen);
	if (__builtin_expect(k == 1, 1)) {
		shpool_stat_add(p, SHPOOL_STAT_ALLOCS, 1);
		return (int64_t)idx;
	}
	if (k < 0)
		return k;
	rc = alloc_slots(p, self, &idx, 1, timeout_ms, flags);
	return rc < 0 ? rc : (int64_t)idx;
}

int64_t shpool_alloc(shpool_t *p, int timeout_ms)
{
	return alloc_one(p, timeout_ms, 0, __func__);
}

int64_t shpool_alloc_ex(shpool_t *p, int timeout_ms, unsigned int flags)
{
	return alloc_one(p, timeout_ms, flags, __func__);
}

int64_t shpool_try_alloc(shpool_t *p)
{
	return shpool_alloc(p, 0);
}

static int alloc_n(struct shpool *p, uint64_t *out, size_t n, int timeout_ms, unsigned flags,
		   const char *fn)
{
	if (!p)
		return shpool_fail(-EINVAL, "%s: NULL pool handle", fn);
	if (shpool_readonly(p))
		return shpool_rdonly_error(fn);
	if (flags & ~WAIT_FLAGS)
		return bad_wait_flags(fn, flags);
	if (n == 0)
		return 0;
	if (!out)
		return shpool_fail(-EINVAL, "%s: out is NULL", fn);
	if (n > p->g.capacity)
		return shpool_fail(-EINVAL, "%s: batch of %zu exceeds capacity %" PRIu64, fn, n,
				   p->g.capacity);
	return alloc_slots(p, shpool_self(), out, n, timeout_ms, flags);
}

int shpool_alloc_n(shpool_t *p, uint64_t *out, size_t n, int timeout_ms)
{
	return alloc_n(p, out, n, timeout_ms, 0, __func__);
}

int shpool_alloc_n_ex(shpool_t *p, uint64_t *out, size_t n, int timeout_ms, unsigned int flags)
{
	return alloc_n(p, out, n, timeout_ms, flags, __func__);
}

static inline __attribute__((always_inline)) void freed_n(struct shpool *p, uint64_t n)
{
	if (n == 0)
		return;
	SHPOOL_CRASH_POINT("free.done");
	/* Wake first: the counting may have to find this thread a stripe
	 * (stats.c), which must not stand between the free and its waiters. */
	shpool_wake(p, n);
	if (p->g.flags & SHPOOL_NOTIFY_ON_FREE)
		shpool_notify_freed(p, n);
	shpool_stat_add(p, SHPOOL_STAT_FREES, n);
}

int shpool_free(shpool_t *p, uint64_t idx)
{
	int rc;

	SHPOOL_CHECK_HANDLE(p);
	SHPOOL_CHECK_WRITABLE(p);
	rc = shpool_check_index(p, idx, __func__);
	if (rc < 0)
		return rc;
	rc = free_one(p, idx, shpool_self());
	if (rc < 0)
		return shpool_fail(rc, "shpool_free: slot %" PRIu64 " is not allocated", idx);
	freed_n(p, 1);
	return 0;
}

int64_t shpool_free_n(shpool_t *p, const uint64_t *idx, size_t n)
{
	uint64_t self, count = 0, skipped = 0;
	size_t i = 0;

	SHPOOL_CHECK_HANDLE(p);
	SHPOOL_CHECK_WRITABLE(p);
	if (n && !idx)
		return shpool_fail(-EINVAL, "shpool_free_n: idx is NULL");
	self = shpool_self();
	while (i < n) {
		uint64_t w, bits = 0;

		if (idx[i] >= p->g.capacity) {
			skipped++;
			i++;
			continue;
		}
		/* A run of our own slots in one word is freed with one RMW. */
		w = idx[i] >> p->g.word_shift;
		while (i < n && idx[i] < p->g.capacity && idx[i] >> p->g.word_shift == w &&
		       atomic_load_explicit(&p->owner[idx[i]], memory_order_relaxed) == self)
			bits |= shpool_bit_of(p, idx[i++]);
		if (bits)
			count += (uint64_t)__builtin_popcountll(free_bits(p, w, bits));
		else
			count += free_one(p, idx[i++], self) == 0;
	}
	if (count < n)
		shpool_fail(-ENOENT, "shpool_free_n: %zu of %zu were not allocated%s",
			    n - (size_t)count, n, skipped ? " or out of range" : "");
	freed_n(p, count);
	return (int64_t)count;
}

pid_t shpool_owner(shpool_t *p, uint64_t idx)
{
	uint64_t rec;
	int rc;

	SHPOOL_CHECK_HANDLE(p);
	rc = shpool_check_index(p, idx, __func__);
	if (rc < 0)
		return rc;
	if (shpool_is_allocated(p, idx) != 1)
		return 0;
	/* acquire: pairs with the owner claim CAS in claim_in_word(), so we
	 * read the record of the allocation whose bit we saw (or a later
	 * one). */
	rec = atomic_load_explicit(&p->owner[idx], memory_order_acquire);
	return shpool_owner_pid(rec);
}

static void after_fork_child(void)
{
	/* The child gets a seed of its own (identity.c): its searches must
	 * not start where its parent's do. */
	memset(&hint, 0, sizeof(hint));
}

static void __attribute__((constructor)) register_fork_handler(void)
{
	pthread_atfork(NULL, NULL, after_fork_child);
}

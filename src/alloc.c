/* SPDX-License-Identifier: MIT */
/*
 * The allocator: a lock-free bitmap with a summary tree, and futex blocking.
 *
 * A slot is allocated when its bitmap bit is set. Its owner record (one
 * 64-bit word per slot) is the claim token: an allocator first CASes the
 * record from 0 to itself, and only then sets the bit; a free clears the bit
 * first and the record last. So the record is never 0 while the bit is set,
 * and a process that dies between any two steps leaves a record that names
 * it (recovery.c reads these states).
 *
 * Search: each thread remembers, per pool, the bitmap word it last allocated
 * from or freed into (its hint, seeded per thread so processes start apart). When
 * that word has no room, the summary tree (one "full" bit per word, 64-ary, up to one top
 * word) finds another in O(log64 capacity) loads. Summary bits are hints:
 * whoever fills a word sets its bit and then re-checks the word; whoever
 * empties a full word clears the bit after emptying it. With both sides
 * seq_cst, a set can only survive if no free came after the re-check.
 * (Marking eagerly costs a thread that frees a slot of a full pool and
 * takes it back a round trip through the summary per pair; leaving the
 * mark to the next search would save it, but one search could then have to
 * repair every word of the pool: the bound on a search comes first.)
 *
 * Blocking: a waiter registers in `waiters`, reads the futex word
 * `wake_seq`, searches once more, then sleeps on wake_seq. A free that sees
 * waiters bumps wake_seq and wakes as many as it freed. See wake()
 * for why no wake-up is lost.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "shpool-internal.h"

#define NONE UINT64_MAX
#define RETRY (UINT64_MAX - 1)

/* This thread's search hint: the L0 word it last allocated from or freed
 * into, and the handle (its serial: never reused, never 0) it is a word of.
 * A handle other than the last one starts again at the thread's seed word:
 * threads and processes start apart, and a fresh pool's first allocations
 * do not depend on what the thread did with other pools (they did while the
 * word carried over from pool to pool). Emptied in a fork(2) child, which
 * gets a seed of its own (shpool_alloc_after_fork()). One entry, not a table
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

static inline _Atomic uint64_t *level_word(const struct shpool *p, unsigned l, uint64_t w)
{
	return l == 0 ? shpool_l0(p, w) : &p->level[l][w];
}

static bool word_full(const struct shpool *p, unsigned l, uint64_t w)
{
	uint64_t m = shpool_full_mask(p, l, w);

	/* seq_cst: this is the re-check of summary_mark_full(); it must come
	 * after that function's set in the single total order. */
	return (atomic_load(level_word(p, l, w)) & m) == m;
}

static inline unsigned wake(struct shpool *p, uint64_t n);

/* Word c of level l-1 has room again: clear its bit in level l, and go up
 * while a word stops being full. */
static void summary_mark_room(struct shpool *p, unsigned l, uint64_t c)
{
	for (; l < p->g.nlevels; l++) {
		uint64_t w = c >> 6, bit = UINT64_C(1) << (c & 63);
		/* seq_cst RMW: comes after the RMW that emptied the child; pairs
		 * with the set-then-recheck in summary_mark_full(). */
		uint64_t old = atomic_fetch_and(&p->level[l][w], ~bit);

		if (!(old & bit) || old != shpool_full_mask(p, l, w))
			return;
		c = w;
	}
}

/* Word c of level l-1 was seen full: set its bit in level l, re-check the
 * child, and go up while a word becomes full. */
static void summary_mark_full(struct shpool *p, unsigned l, uint64_t c)
{
	for (; l < p->g.nlevels; l++) {
		uint64_t w = c >> 6, bit = UINT64_C(1) << (c & 63);
		uint64_t m = shpool_full_mask(p, l, w), old;

		/* A plain look first: the bit is usually set already, and an RMW
		 * would bounce the line for nothing. */
		if (atomic_load_explicit(&p->level[l][w], memory_order_relaxed) & bit)
			return;
		/* seq_cst RMW: pairs with summary_mark_room(); see word_full(). */
		old = atomic_fetch_or(&p->level[l][w], bit);
		SHPOOL_CRASH_POINT("summary.marked");
		if (!word_full(p, l - 1, c)) {
			/* A free emptied the child after we saw it full, and may
			 * have missed our bit: undo. While our bit stood, a
			 * waiter's last look may have trusted it and skipped that
			 * free's room, after the free had looked for waiters and
			 * found none: nobody else will wake it, so we do (all of
			 * them: this race is rare, and those who find nothing
			 * sleep again). The fetch_and in summary_mark_room() is
			 * seq_cst and comes before wake()'s load of `waiters`. */
			summary_mark_room(p, l, c);
			wake(p, UINT64_MAX);
			return;
		}
		if ((old & bit) || (old | bit) != m)
			return;
		c = w;
	}
}

/* An L0 word that the summary says has room: the next one after `from` in
 * index order, wrapping at the top level. NONE when the summary says all
 * are full, RETRY after repairing a stale summary bit. */
static uint64_t find_word(struct shpool *p, uint64_t from)
{
	unsigned top = p->g.nlevels - 1, l;
	uint64_t c = from;

	if (top == 0)
		return NONE;
	/* Climb until a level has a not-full entry after our position. */
	for (l = 1;; l++) {
		uint64_t w = c >> 6, pos = c & 63;
		/* seq_cst loads here and below: a blocked allocator's last look
		 * must see every free ordered before its registration (see
		 * wake()); on x86 they are plain loads. */
		uint64_t room = ~atomic_load(&p->level[l][w]) & shpool_full_mask(p, l, w);
		uint64_t after = pos == 63 ? 0 : room & (~UINT64_C(0) << (pos + 1));

		if (after) {
			c = (w << 6) + (uint64_t)__builtin_ctzll(after);
			break;
		}
		if (l == top) {
			if (!room)
				return NONE;
			c = (w << 6) + (uint64_t)__builtin_ctzll(room);
			break;
		}
		c = w;
	}
	/* c is a word of level l-1 with room; descend to level 0. */
	for (; l > 1; l--) {
		uint64_t room = ~atomic_load(&p->level[l - 1][c]) & shpool_full_mask(p, l - 1, c);

		if (!room) {
			/* Stale hint (a crash between a fill and its mark, or a
			 * race we are about to lose): repair, then search again. */
			summary_mark_full(p, l, c);
			return RETRY;
		}
		c = (c << 6) + (uint64_t)__builtin_ctzll(room);
	}
	return c;
}

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

/* ThreadSanitizer cannot see into inline assembly, so it would miss the
 * acquire the pair claim performs and report the claimant's zeroing as a
 * race with the previous owner's use: its builds claim one by one. */
#if defined(__SANITIZE_THREAD__)
#define SHPOOL_NO_CAS16 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHPOOL_NO_CAS16 1
#endif
#endif

#if defined(__x86_64__) && !defined(SHPOOL_NO_CAS16)
/* x86-64's baseline does not promise cmpxchg16b (the first AMD64 CPUs lack
 * it): ask CPUID once. 1 yes, 0 no, -1 not asked yet; relaxed, as every
 * thread that asks gets the same answer. */
static _Atomic int have_cas16 = -1;

static bool cas16_supported(void)
{
	int v = atomic_load_explicit(&have_cas16, memory_order_relaxed);

	if (__builtin_expect(v < 0, 0)) {
		unsigned a, b, c, d;

		v = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_CMPXCHG16B);
		atomic_store_explicit(&have_cas16, v, memory_order_relaxed);
	}
	return v;
}
#endif

/* A batch claims two neighbouring slots' owner records with one 16-byte
 * CAS where the machine has one (x86-64's cmpxchg16b: one locked
 * instruction for two records, where two CASes cost two), when the pair is
 * 16-byte aligned. Both records go from 0 to self at once, or neither: the
 * same claim as two CASes, minus the state between them. false when not
 * both were 0 (the caller then claims them one by one) or when there is no
 * such instruction. seq_cst like the single CAS (a locked instruction). */
static inline bool claim_pair(struct shpool *p, uint64_t idx, uint64_t self)
{
#if defined(__x86_64__) && !defined(SHPOOL_NO_CAS16)
	_Atomic uint64_t *rec = &p->owner[idx];
	uint64_t lo = 0, hi = 0;
	bool ok;

	if (((uintptr_t)rec & 15) || !cas16_supported())
		return false;
	SHPOOL_COST_RMW(rec);
	__asm__ __volatile__("lock cmpxchg16b %1"
			     : "=@ccz"(ok), "+m"(*(unsigned __int128 *)(void *)rec), "+a"(lo),
			       "+d"(hi)
			     : "b"(self), "c"(self)
			     : "memory");
	return ok;
#else
	(void)p;
	(void)idx;
	(void)self;
	return false;
#endif
}

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
	uint64_t v = atomic_load(word); /* seq_cst: see find_word() */
	uint64_t room = ~v & mask, got = 0, n = 0, old;

	*seen = v;
	while (room && n < want) {
		unsigned b = (unsigned)__builtin_ctzll(room);
		uint64_t idx = (w << p->g.word_shift) + b, expect = 0;

		/* The zeroing below must finish before the fetch_or can: start
		 * fetching the (in a big pool, cold) data line now. */
		if (!(p->g.flags & SHPOOL_NO_ZERO))
			__builtin_prefetch(shpool_slot(p, idx), 1);
		if (want - n >= 2 && ((room >> b) & 3) == 3 && claim_pair(p, idx, self)) {
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
		summary_mark_full(p, 1, w);
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
			summary_mark_full(p, 1, w); /* repairs a stale "has room" */
		uint64_t next = find_word(p, w);
		if (next == NONE)
			break;
		if (next != RETRY)
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
	/* seq_cst: the bit clear is the free; ordered before wake()'s load of
	 * `waiters` and before the summary clear. */
	uint64_t old = atomic_fetch_and(shpool_l0(p, w), ~bits);
	uint64_t freed = old & bits, mask = shpool_full_mask(p, 0, w);

	if (!freed)
		return 0;
	SHPOOL_CRASH_POINT("free.bits_cleared");
	if (__builtin_expect(!(freed & (freed - 1)), 1)) {
		/* seq_cst: release would do for the next owner (everything done
		 * with the slot happens-before its claim CAS), but this store
		 * also makes the slot claimable, and wake() must load `waiters`
		 * only after it: the store-load order a blocked allocator relies
		 * on (see wake()). One xchg, no fence. */
		atomic_store(&p->owner[(w << p->g.word_shift) + (uint64_t)__builtin_ctzll(freed)], 0);
	} else {
		for (uint64_t f = freed; f; f &= f - 1) {
			uint64_t idx = (w << p->g.word_shift) + (uint64_t)__builtin_ctzll(f);
			/* release: as above, and the fence below orders them all
			 * before wake()'s load at once. */
			atomic_store_explicit(&p->owner[idx], 0, memory_order_release);
		}
		atomic_thread_fence(memory_order_seq_cst);
	}
	if ((old & mask) == mask && p->g.nlevels > 1)
		summary_mark_room(p, 1, w);
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

static void futex_wake(_Atomic uint32_t *addr, int n)
{
	/* Not FUTEX_PRIVATE_FLAG: waiters are in other processes. */
	syscall(SYS_futex, addr, FUTEX_WAKE, n, NULL, NULL, 0);
}

/* Sleep while *addr == val, until the absolute CLOCK_MONOTONIC deadline
 * (NULL: forever). 0 when woken, else -EAGAIN, -EINTR, -ETIMEDOUT. */
static int futex_wait_until(_Atomic uint32_t *addr, uint32_t val, const struct timespec *deadline)
{
	long r = syscall(SYS_futex, addr, FUTEX_WAIT_BITSET, val, deadline, NULL,
			 FUTEX_BITSET_MATCH_ANY);

	return r < 0 ? -errno : 0;
}

/* Returns 1 if it bumped wake_seq (there were waiters), else 0. */
static __attribute__((noinline)) unsigned wake_waiters(struct shpool *p, uint64_t n);

/* Inlined: a free pays one load here when nobody waits. */
static inline __attribute__((always_inline)) unsigned wake(struct shpool *p, uint64_t n)
{
	if (n == 0)
		return 0;
	/* seq_cst load, after the seq_cst stores that freed the slots (bit
	 * clear, owner record): pairs with the seq_cst fetch_add of `waiters`
	 * in alloc_wait(), which precedes the waiter's last search. In the
	 * single total order either that search sees our free, or this load
	 * sees the waiter. (A fence here would do too, but clang makes it an
	 * mfence.) */
	if (atomic_load(&p->st->waiters) == 0)
		return 0;
	return wake_waiters(p, n);
}

static unsigned wake_waiters(struct shpool *p, uint64_t n)
{
	/* Bump before waking: a waiter between its wake_seq read and its
	 * futex_wait() then fails the futex compare and searches again. */
	atomic_fetch_add(&p->st->wake_seq, 1);
	futex_wake(&p->st->wake_seq, n > INT_MAX ? INT_MAX : (int)n);
	return 1;
}

void shpool_wake(struct shpool *p, uint64_t n)
{
	wake(p, n);
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

/* A process's first claim of a registry entry is serialised: two of its
 * threads blocking together would otherwise each miss the other's entry and
 * claim one each, and the registry promises one entry per process (so that
 * shpool_check() and recovery name a dead process once). Process-local, held
 * for one scan of the table; reset in a fork(2) child (shpool_alloc_after_fork()),
 * which may have been forked while another thread held it. */
static pthread_mutex_t waitreg_claim_lock = PTHREAD_MUTEX_INITIALIZER;

void shpool_alloc_after_fork(void)
{
	pthread_mutex_init(&waitreg_claim_lock, NULL);
	memset(&hint, 0, sizeof(hint));
}

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
static struct shpool_waitreg *waitreg_entry(struct shpool *p, uint64_t self)
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

/* The slow path: sleep on the futex until n slots can be claimed or the
 * deadline passes. A signal runs its handler and the wait goes on to the
 * same absolute deadline, i.e. with the time that is left. */
static int alloc_wait(struct shpool *p, uint64_t self, uint64_t *out, uint64_t n, int timeout_ms,
		      unsigned flags)
{
	struct shpool_waitreg *reg = waitreg_entry(p, self);
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
		 * `waiters` load in wake(). */
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
			wr = futex_wait_until(&p->st->wake_seq, seq + bumps,
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
 * after its registration like find_word()'s (see wake()). */
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
	*bumps += wake(p, released);
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
	if (flags & ~WAIT_FLAGS)
		return bad_wait_flags(__func__, flags);
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
	wake(p, n);
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

/* ---- status ----------------------------------------------------------- */

int shpool_is_allocated(shpool_t *p, uint64_t idx)
{
	int rc;

	SHPOOL_CHECK_HANDLE(p);
	rc = shpool_check_index(p, idx, __func__);
	if (rc < 0)
		return rc;
	return shpool_slot_allocated(p, idx);
}

/* Derived from the bitmap, never kept as a counter: it cannot drift after a
 * crash, and costs one load per 64 slots (not a contended line per alloc). */
uint64_t shpool_used(shpool_t *p)
{
	uint64_t n = 0;

	if (!p)
		return 0;
	for (uint64_t w = 0; w < p->g.nwords[0]; w++)
		n += (uint64_t)__builtin_popcountll(
			atomic_load_explicit(shpool_l0(p, w), memory_order_relaxed) &
			shpool_full_mask(p, 0, w));
	return n;
}

uint64_t shpool_available(shpool_t *p)
{
	return p ? p->g.capacity - shpool_used(p) : 0;
}

/* Visit allocated slots ascending; stop at the first non-zero from fn. */
static int walk(struct shpool *p, int (*fn)(struct shpool *, uint64_t, void *), void *arg)
{
	for (uint64_t w = 0; w < p->g.nwords[0]; w++) {
		/* acquire: fn may read slots whose bit it sees. */
		uint64_t v = atomic_load_explicit(shpool_l0(p, w), memory_order_acquire) &
			     shpool_full_mask(p, 0, w);

		for (; v; v &= v - 1) {
			int r = fn(p, (w << p->g.word_shift) + (uint64_t)__builtin_ctzll(v), arg);
			if (r)
				return r;
		}
	}
	return 0;
}

struct collect {
	uint64_t *out;
	size_t max;
	uint64_t count;
};

static int collect_one(struct shpool *p, uint64_t idx, void *arg)
{
	struct collect *c = arg;

	(void)p;
	if (c->count < c->max)
		c->out[c->count] = idx;
	c->count++;
	return 0;
}

int64_t shpool_allocated_slots(shpool_t *p, uint64_t *out, size_t max)
{
	struct collect c = { out, max, 0 };

	SHPOOL_CHECK_HANDLE(p);
	if (max && !out)
		return shpool_fail(-EINVAL, "shpool_allocated_slots: out is NULL");
	walk(p, collect_one, &c);
	return (int64_t)c.count;
}

int shpool_each_allocated(shpool_t *p, int (*fn)(shpool_t *, uint64_t, void *), void *arg)
{
	SHPOOL_CHECK_HANDLE(p);
	if (!fn)
		return shpool_fail(-EINVAL, "shpool_each_allocated: fn is NULL");
	return walk(p, fn, arg);
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

/* ---- summary repair and audit (recovery.c) --------------------------- */

/* Walk every summary bit against its child, bottom up. With `fix`, make the
 * hints true (safe during live traffic: both helpers re-check); with `report`,
 * describe each wrong bit. Returns how many were wrong. */
static uint64_t summary_walk(struct shpool *p, bool fix, FILE *report)
{
	uint64_t wrong = 0;

	for (unsigned l = 1; l < p->g.nlevels; l++)
		for (uint64_t c = 0; c < p->g.nwords[l - 1]; c++) {
			uint64_t bit = UINT64_C(1) << (c & 63);
			bool marked = atomic_load(&p->level[l][c >> 6]) & bit;
			bool full = word_full(p, l - 1, c);

			if (marked == full)
				continue;
			wrong++;
			if (report)
				fprintf(report, "summary level %u: word %" PRIu64 " of level %u is %s "
					"but marked %s%s\n", l, c, l - 1, full ? "full" : "not full",
					marked ? "full" : "not full",
					marked ? " (its free slots are unreachable)" : " (harmless)");
			if (fix && full)
				summary_mark_full(p, l, c);
			else if (fix)
				summary_mark_room(p, l, c);
		}
	return wrong;
}

uint64_t shpool_summary_repair(struct shpool *p)
{
	return summary_walk(p, true, NULL);
}

uint64_t shpool_summary_audit(struct shpool *p, FILE *report)
{
	uint64_t wrong = 0;

	for (uint64_t w = 0; w < p->g.nwords[0]; w++) {
		uint64_t v = atomic_load(shpool_l0(p, w)), mask = shpool_full_mask(p, 0, w);

		if (v & ~mask) {
			wrong++;
			if (report)
				fprintf(report, "bitmap word %" PRIu64 ": bits set beyond the last "
					"slot (0x%" PRIx64 ")\n", w, v & ~mask);
		}
	}
	return wrong + summary_walk(p, false, report);
}

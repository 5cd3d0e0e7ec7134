/* SPDX-License-Identifier: MIT */
/*
 * The bitmap and its summary tree: which slots are allocated, and where a
 * search finds room.
 *
 * A slot is allocated when its bit in level 0 (L0) is set. Above L0, the
 * summary levels hold one "full" bit per word of the level below, 64-ary up
 * to one top word, so a search for room costs O(log64 capacity) loads.
 * Summary bits are hints: whoever fills a word sets its bit and then
 * re-checks the word; whoever empties a full word clears the bit after
 * emptying it. With both sides seq_cst, a set can only survive if no free
 * came after the re-check. (Marking eagerly costs a thread that frees a
 * slot of a full pool and takes it back a round trip through the summary
 * per pair; leaving the mark to the next search would save it, but one
 * search could then have to repair every word of the pool: the bound on a
 * search comes first.)
 *
 * This file reads and writes bits only: setting and clearing a slot's bit
 * together with its owner record is the allocator's (alloc.c).
 */
#include <inttypes.h>
#include <stdio.h>

#include "shpool-internal.h"

/* Word c of level l-1 has room again: clear its bit in level l, and go up
 * while a word stops being full. */
void shpool_summary_mark_room(struct shpool *p, unsigned l, uint64_t c)
{
	for (; l < p->g.nlevels; l++) {
		uint64_t w = c >> 6, bit = UINT64_C(1) << (c & 63);
		/* seq_cst RMW: comes after the RMW that emptied the child; pairs
		 * with the set-then-recheck in shpool_summary_mark_full(). */
		uint64_t old = atomic_fetch_and(&p->level[l][w], ~bit);

		if (!(old & bit) || old != shpool_full_mask(p, l, w))
			return;
		c = w;
	}
}

/* Word c of level l-1 was seen full: set its bit in level l, re-check the
 * child, and go up while a word becomes full. */
void shpool_summary_mark_full(struct shpool *p, unsigned l, uint64_t c)
{
	for (; l < p->g.nlevels; l++) {
		uint64_t w = c >> 6, bit = UINT64_C(1) << (c & 63);
		uint64_t m = shpool_full_mask(p, l, w), old;

		/* A plain look first: the bit is usually set already, and an RMW
		 * would bounce the line for nothing. */
		if (atomic_load_explicit(&p->level[l][w], memory_order_relaxed) & bit)
			return;
		/* seq_cst RMW: pairs with shpool_summary_mark_room(); see shpool_word_full(). */
		old = atomic_fetch_or(&p->level[l][w], bit);
		SHPOOL_CRASH_POINT("summary.marked");
		if (!shpool_word_full(p, l - 1, c)) {
			/* A free emptied the child after we saw it full, and may
			 * have missed our bit: undo. While our bit stood, a
			 * waiter's last look may have trusted it and skipped that
			 * free's room, after the free had looked for waiters and
			 * found none: nobody else will wake it, so we do (all of
			 * them: this race is rare, and those who find nothing
			 * sleep again). The fetch_and in shpool_summary_mark_room() is
			 * seq_cst and comes before shpool_wake()'s load of `waiters`. */
			shpool_summary_mark_room(p, l, c);
			shpool_wake(p, UINT64_MAX);
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
uint64_t shpool_find_word(struct shpool *p, uint64_t from)
{
	unsigned top = p->g.nlevels - 1, l;
	uint64_t c = from;

	if (top == 0)
		return SHPOOL_WORD_NONE;
	/* Climb until a level has a not-full entry after our position. */
	for (l = 1;; l++) {
		uint64_t w = c >> 6, pos = c & 63;
		/* seq_cst loads here and below: a blocked allocator's last look
		 * must see every free ordered before its registration (see
		 * shpool_wake()); on x86 they are plain loads. */
		uint64_t room = ~atomic_load(&p->level[l][w]) & shpool_full_mask(p, l, w);
		uint64_t after = pos == 63 ? 0 : room & (~UINT64_C(0) << (pos + 1));

		if (after) {
			c = (w << 6) + (uint64_t)__builtin_ctzll(after);
			break;
		}
		if (l == top) {
			if (!room)
				return SHPOOL_WORD_NONE;
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
			shpool_summary_mark_full(p, l, c);
			return SHPOOL_WORD_RETRY;
		}
		c = (c << 6) + (uint64_t)__builtin_ctzll(room);
	}
	return c;
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
int shpool_bitmap_walk(struct shpool *p, int (*fn)(struct shpool *, uint64_t, void *), void *arg)
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
	shpool_bitmap_walk(p, collect_one, &c);
	return (int64_t)c.count;
}

int shpool_each_allocated(shpool_t *p, int (*fn)(shpool_t *, uint64_t, void *), void *arg)
{
	SHPOOL_CHECK_HANDLE(p);
	if (!fn)
		return shpool_fail(-EINVAL, "shpool_each_allocated: fn is NULL");
	return shpool_bitmap_walk(p, fn, arg);
}

/* ---- reset, repair and audit ------------------------------------------- */

uint64_t shpool_bitmap_reset(struct shpool *p)
{
	uint64_t freed = 0;

	/* The caller guarantees nobody else allocates or frees now; relaxed
	 * exchanges and stores, ordered by the caller's fence (recovery.c). */
	for (uint64_t w = 0; w < p->g.nwords[0]; w++)
		freed += (uint64_t)__builtin_popcountll(
			atomic_exchange_explicit(shpool_l0(p, w), 0, memory_order_relaxed) &
			shpool_full_mask(p, 0, w));
	for (uint32_t l = 1; l < p->g.nlevels; l++)
		for (uint64_t w = 0; w < p->g.nwords[l]; w++)
			atomic_store_explicit(&p->level[l][w], 0, memory_order_relaxed);
	return freed;
}

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
			bool full = shpool_word_full(p, l - 1, c);

			if (marked == full)
				continue;
			wrong++;
			if (report)
				fprintf(report, "summary level %u: word %" PRIu64 " of level %u is %s "
					"but marked %s%s\n", l, c, l - 1, full ? "full" : "not full",
					marked ? "full" : "not full",
					marked ? " (its free slots are unreachable)" : " (harmless)");
			if (fix && full)
				shpool_summary_mark_full(p, l, c);
			else if (fix)
				shpool_summary_mark_room(p, l, c);
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

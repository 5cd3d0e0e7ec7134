/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/bitmap.c, the bitmap and its summary tree. White-box first:
 * the internal calls on a pool whose words the test sets by hand (finding a
 * word with room, wrapping, a stale summary bit repaired; marking words full
 * and having room again, up the levels; walking the allocated slots; reset;
 * audit and repair). Then through the public calls: the status calls, and a
 * nearly full pool whose one free slot an allocation must find.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shpool-internal.h"
#include "testutil.h"

/* ---- white-box: the summary tree ------------------------------------------ */

/* A pool with a summary of two levels over its bitmap: 128 words of 64
 * slots, two level-1 words, one level-2 word. */
#define TREE_CAP 8192u

static struct shpool *tree_pool(void)
{
	struct shpool *sp = test_anon_pool(TREE_CAP, 8, 0);

	ck_assert_uint_eq(sp->g.word_shift, 6);
	ck_assert_uint_eq(sp->g.nlevels, 3);
	ck_assert_uint_eq(sp->g.nwords[0], 128);
	ck_assert_uint_eq(sp->g.nwords[1], 2);
	ck_assert_uint_eq(sp->g.nwords[2], 1);
	return sp;
}

/* Set every bit of L0 word w by hand (no owner records: this is the
 * bitmap's view only), and report it full the way an allocator does. */
static void fill_word(struct shpool *sp, uint64_t w)
{
	atomic_store(shpool_l0(sp, w), shpool_full_mask(sp, 0, w));
	shpool_summary_mark_full(sp, 1, w);
}

static uint64_t summary(struct shpool *sp, unsigned l, uint64_t w)
{
	return atomic_load(&sp->level[l][w]);
}

/* A pool of one bitmap word has no summary: the search is the caller's. */
START_TEST(find_word_without_summary)
{
	struct shpool *sp = test_anon_pool(8, 8, 0);

	ck_assert_uint_eq(sp->g.nlevels, 1);
	ck_assert_uint_eq(shpool_find_word(sp, 0), SHPOOL_WORD_NONE);
	shpool_close(sp);
}
END_TEST

/* The next word with room after `from`, in index order: across level-1
 * words, wrapping past the last, skipping words marked full; none when
 * every word is. */
START_TEST(find_word_next_with_room)
{
	struct shpool *sp = tree_pool();

	ck_assert_uint_eq(shpool_find_word(sp, 0), 1);
	ck_assert_uint_eq(shpool_find_word(sp, 5), 6);
	ck_assert_uint_eq(shpool_find_word(sp, 63), 64);
	ck_assert_uint_eq(shpool_find_word(sp, 127), 0);
	for (uint64_t w = 6; w < 10; w++)
		fill_word(sp, w);
	ck_assert_uint_eq(shpool_find_word(sp, 5), 10);
	for (uint64_t w = 64; w < 128; w++)
		fill_word(sp, w);
	ck_assert_uint_eq(summary(sp, 2, 0), 2); /* level-1 word 1 is full */
	ck_assert_uint_eq(shpool_find_word(sp, 63), 0);
	ck_assert_uint_eq(shpool_find_word(sp, 70), 0);
	ck_assert_uint_eq(shpool_find_word(sp, 9), 10);
	for (uint64_t w = 0; w < 64; w++)
		if (w < 6 || w >= 10)
			fill_word(sp, w);
	ck_assert_uint_eq(summary(sp, 2, 0), 3);
	ck_assert_uint_eq(shpool_find_word(sp, 0), SHPOOL_WORD_NONE);
	ck_assert_uint_eq(shpool_find_word(sp, 127), SHPOOL_WORD_NONE);
	shpool_close(sp);
}
END_TEST

/* A level-1 word that is full while its level-2 bit says it has room (a
 * crash between a fill and its mark): the search repairs the bit and says
 * RETRY, and the next search goes where the room is. */
START_TEST(find_word_repairs_a_stale_summary)
{
	struct shpool *sp = tree_pool();

	for (uint64_t w = 0; w < 64; w++)
		atomic_store(shpool_l0(sp, w), shpool_full_mask(sp, 0, w));
	atomic_store(&sp->level[1][0], ~UINT64_C(0));
	ck_assert_uint_eq(summary(sp, 2, 0), 0);
	ck_assert_uint_eq(shpool_find_word(sp, 127), SHPOOL_WORD_RETRY);
	ck_assert_uint_eq(summary(sp, 2, 0), 1);
	ck_assert_uint_eq(shpool_find_word(sp, 127), 64);
	shpool_close(sp);
}
END_TEST

/* Marks go up the levels exactly when a word starts or stops being full,
 * and a "full" mark for a word that has room does not stay. */
START_TEST(marks_full_and_room_go_up)
{
	struct shpool *sp = tree_pool();

	for (uint64_t w = 0; w < 63; w++)
		fill_word(sp, w);
	ck_assert_uint_eq(summary(sp, 1, 0), ~UINT64_C(0) >> 1);
	ck_assert_uint_eq(summary(sp, 2, 0), 0);
	ck_assert(!shpool_word_full(sp, 1, 0));
	fill_word(sp, 63);
	ck_assert_uint_eq(summary(sp, 1, 0), ~UINT64_C(0));
	ck_assert(shpool_word_full(sp, 1, 0));
	ck_assert_uint_eq(summary(sp, 2, 0), 1);

	/* Word 100 has room: marking it full is undone at once. */
	ck_assert(!shpool_word_full(sp, 0, 100));
	shpool_summary_mark_full(sp, 1, 100);
	ck_assert_uint_eq(summary(sp, 1, 1), 0);
	ck_assert_uint_eq(summary(sp, 2, 0), 1);

	/* A free in word 5: room again on both levels above it. */
	atomic_fetch_and(shpool_l0(sp, 5), ~UINT64_C(1));
	ck_assert(!shpool_word_full(sp, 0, 5));
	shpool_summary_mark_room(sp, 1, 5);
	ck_assert_uint_eq(summary(sp, 1, 0), ~(UINT64_C(1) << 5));
	ck_assert_uint_eq(summary(sp, 2, 0), 0);
	/* Again: nothing more changes. */
	shpool_summary_mark_room(sp, 1, 5);
	ck_assert_uint_eq(summary(sp, 1, 0), ~(UINT64_C(1) << 5));
	ck_assert_uint_eq(summary(sp, 2, 0), 0);
	ck_assert_uint_eq(shpool_find_word(sp, 0), 5);
	shpool_close(sp);
}
END_TEST

/* ---- white-box: walking, reset, audit --------------------------------------- */

/* 100 slots: 13 words of 8, the last with 4 slots; one summary level. */
#define SMALL_CAP 100u

static struct shpool *small_pool(void)
{
	struct shpool *sp = test_anon_pool(SMALL_CAP, 8, 0);

	ck_assert_uint_eq(sp->g.word_shift, 3);
	ck_assert_uint_eq(sp->g.nwords[0], 13);
	ck_assert_uint_eq(sp->g.nlevels, 2);
	return sp;
}

static const uint64_t walk_slots[] = { 0, 7, 8, 50, 99 };
#define NWALK (sizeof(walk_slots) / sizeof(walk_slots[0]))

/* Set the bits of walk_slots, and one beyond the last slot (slot 100's
 * place in the last word), which no call may count or visit. */
static void set_walk_bits(struct shpool *sp)
{
	for (size_t i = 0; i < NWALK; i++)
		atomic_fetch_or(shpool_l0(sp, walk_slots[i] >> sp->g.word_shift),
				shpool_bit_of(sp, walk_slots[i]));
	atomic_fetch_or(shpool_l0(sp, 12), UINT64_C(1) << 4);
}

struct walk_log {
	uint64_t seen[16];
	unsigned n, stop_at;
};

static int log_slot(struct shpool *sp, uint64_t idx, void *arg)
{
	struct walk_log *log = arg;

	(void)sp;
	log->seen[log->n++] = idx;
	return log->n == log->stop_at ? 7 : 0;
}

/* The last word is full when its 4 slots are, whatever lies beyond. */
START_TEST(last_word_is_partial)
{
	struct shpool *sp = small_pool();

	atomic_store(shpool_l0(sp, 12), 0x7);
	ck_assert(!shpool_word_full(sp, 0, 12));
	atomic_store(shpool_l0(sp, 12), 0xf);
	ck_assert(shpool_word_full(sp, 0, 12));
	atomic_store(shpool_l0(sp, 0), 0x7f);
	ck_assert(!shpool_word_full(sp, 0, 0));
	atomic_store(shpool_l0(sp, 0), 0xff);
	ck_assert(shpool_word_full(sp, 0, 0));
	shpool_close(sp);
}
END_TEST

/* Every allocated slot, ascending, none beyond the last; stopped by the
 * first non-zero return, which the walk returns. */
START_TEST(walk_visits_allocated_slots)
{
	struct shpool *sp = small_pool();
	struct walk_log all = { .stop_at = 0 }, part = { .stop_at = 3 };

	set_walk_bits(sp);
	ck_assert_int_eq(shpool_bitmap_walk(sp, log_slot, &all), 0);
	ck_assert_uint_eq(all.n, NWALK);
	for (size_t i = 0; i < NWALK; i++)
		ck_assert_uint_eq(all.seen[i], walk_slots[i]);
	ck_assert_int_eq(shpool_bitmap_walk(sp, log_slot, &part), 7);
	ck_assert_uint_eq(part.n, 3);
	ck_assert_uint_eq(part.seen[2], 8);
	ck_assert_uint_eq(shpool_used(sp), NWALK);
	ck_assert_uint_eq(shpool_available(sp), SMALL_CAP - NWALK);
	shpool_close(sp);
}
END_TEST

/* Reset clears every bit and every summary word, and counts only slots. */
START_TEST(reset_clears_everything)
{
	struct shpool *sp = small_pool();

	set_walk_bits(sp);
	atomic_store(shpool_l0(sp, 3), shpool_full_mask(sp, 0, 3));
	shpool_summary_mark_full(sp, 1, 3);
	ck_assert_uint_eq(summary(sp, 1, 0), UINT64_C(1) << 3);
	ck_assert_uint_eq(shpool_bitmap_reset(sp), NWALK + 8);
	for (uint64_t w = 0; w < sp->g.nwords[0]; w++)
		ck_assert_uint_eq(atomic_load(shpool_l0(sp, w)), 0);
	ck_assert_uint_eq(summary(sp, 1, 0), 0);
	ck_assert_uint_eq(shpool_used(sp), 0);
	ck_assert_uint_eq(shpool_bitmap_reset(sp), 0);
	shpool_close(sp);
}
END_TEST

/* The audit names every summary bit that disagrees with its word (a "full"
 * mark over room hides free slots; a missing one is harmless) and bits
 * beyond the last slot; the repair fixes the summary, never the bitmap. */
START_TEST(audit_and_repair)
{
	struct shpool *sp = tree_pool(), *small = small_pool();
	char *text = NULL;
	size_t len = 0;
	FILE *report;

	atomic_fetch_or(&sp->level[1][0], UINT64_C(1) << 9); /* word 9 has room */
	atomic_store(shpool_l0(sp, 70), ~UINT64_C(0));        /* full, unmarked */
	report = open_memstream(&text, &len);
	ck_assert_uint_eq(shpool_summary_audit(sp, report), 2);
	fclose(report);
	ck_assert_msg(strstr(text, "summary level 1: word 9 of level 0 is not full but marked full"
			  " (its free slots are unreachable)"), "%s", text);
	ck_assert_msg(strstr(text, "summary level 1: word 70 of level 0 is full but marked not full"
			  " (harmless)"), "%s", text);
	free(text);
	ck_assert_uint_eq(shpool_summary_repair(sp), 2);
	ck_assert_uint_eq(summary(sp, 1, 0), 0);
	ck_assert_uint_eq(summary(sp, 1, 1), UINT64_C(1) << 6);
	ck_assert_uint_eq(shpool_summary_audit(sp, NULL), 0);
	ck_assert_uint_eq(shpool_summary_repair(sp), 0);

	set_walk_bits(small);
	text = NULL;
	report = open_memstream(&text, &len);
	ck_assert_uint_eq(shpool_summary_audit(small, report), 1);
	fclose(report);
	ck_assert_msg(strstr(text, "bitmap word 12: bits set beyond the last slot (0x10)"), "%s",
		      text);
	free(text);
	ck_assert_uint_eq(shpool_summary_repair(small), 0);
	ck_assert_uint_eq(shpool_summary_audit(small, NULL), 1);
	shpool_close(sp);
	shpool_close(small);
}
END_TEST

/* ---- through the public calls ------------------------------------------------- */

static int stop_at_third(shpool_t *p, uint64_t idx, void *arg)
{
	uint64_t *log = arg;

	(void)p;
	log[log[0] + 1] = idx;
	return ++log[0] == 3 ? 42 : 0;
}

START_TEST(status_calls)
{
	shpool_t *p = test_anon_pool(200, 8, 0);
	uint64_t got[200], out[8], log[8] = { 0 };
	int64_t n;

	for (int i = 0; i < 200; i++)
		got[i] = (uint64_t)shpool_try_alloc(p);
	/* Keep 5, 70, 71, 130, 199. */
	for (int i = 0; i < 200; i++)
		if (got[i] != 5 && got[i] != 70 && got[i] != 71 && got[i] != 130 && got[i] != 199)
			ck_assert_int_eq(shpool_free(p, got[i]), 0);
	ck_assert_uint_eq(shpool_used(p), 5);
	ck_assert_uint_eq(shpool_available(p), 195);
	ck_assert_int_eq(shpool_is_allocated(p, 70), 1);
	ck_assert_int_eq(shpool_is_allocated(p, 72), 0);
	ck_assert_int_eq(shpool_owner(p, 70), getpid());
	ck_assert_int_eq(shpool_owner(p, 72), 0);

	n = shpool_allocated_slots(p, out, 3);
	ck_assert_int_eq(n, 5);
	ck_assert_uint_eq(out[0], 5);
	ck_assert_uint_eq(out[1], 70);
	ck_assert_uint_eq(out[2], 71);
	ck_assert_int_eq(shpool_allocated_slots(p, NULL, 0), 5);
	ck_assert_fails(shpool_allocated_slots(p, NULL, 3), -EINVAL, "NULL");

	ck_assert_int_eq(shpool_each_allocated(p, stop_at_third, log), 42);
	ck_assert_uint_eq(log[0], 3);
	ck_assert_uint_eq(log[3], 71);
	ck_assert_fails(shpool_each_allocated(p, NULL, NULL), -EINVAL, "NULL");
	shpool_close(p);
}
END_TEST

START_TEST(nearly_full_finds_the_hole)
{
	const uint64_t cap = 1u << 20;
	shpool_t *p = test_anon_pool(cap, 8, SHPOOL_NO_ZERO);
	unsigned seed = 12345;

	for (uint64_t i = 0; i < cap; i++)
		ck_assert_int_ge(shpool_try_alloc(p), 0);
	ck_assert_int_eq(shpool_try_alloc(p), -EAGAIN);
	/* The only hole moves around; alloc must find exactly it. */
	for (int round = 0; round < 2000; round++) {
		uint64_t hole = (uint64_t)rand_r(&seed) % cap;

		ck_assert_int_eq(shpool_free(p, hole), 0);
		ck_assert_int_eq(shpool_try_alloc(p), (int64_t)hole);
		ck_assert_int_eq(shpool_try_alloc(p), -EAGAIN);
	}
	/* Two holes far apart: both are found. */
	ck_assert_int_eq(shpool_free(p, 3), 0);
	ck_assert_int_eq(shpool_free(p, cap - 1), 0);
	int64_t x = shpool_try_alloc(p), y = shpool_try_alloc(p);
	ck_assert_int_eq(x + y, (int64_t)(cap - 1 + 3));
	shpool_close(p);
}
END_TEST

/* A thread that frees a slot of a full pool and takes it back (a hand-off)
 * once in every bitmap word must leave the summary exact: were the filler
 * to leave its "full" mark to later searches, one search would have to
 * repair every word of the pool, and the search bound would be gone.
 * shpool_check() counts any summary bit that disagrees with its word. */
START_TEST(hand_offs_keep_the_summary_exact)
{
	const uint64_t cap = 1u << 16;
	shpool_t *p = test_anon_pool(cap, 8, SHPOOL_NO_ZERO);

	for (uint64_t i = 0; i < cap; i++)
		ck_assert_int_ge(shpool_try_alloc(p), 0);
	ck_assert_int_eq(shpool_try_alloc(p), -EAGAIN);
	for (uint64_t i = 0; i < cap; i += 64) {
		ck_assert_int_eq(shpool_free(p, i), 0);
		ck_assert_int_eq(shpool_try_alloc(p), (int64_t)i);
	}
	ck_assert_int_eq(shpool_check(p, NULL), 0);
	ck_assert_int_eq(shpool_free(p, cap / 2 + 5), 0);
	ck_assert_int_eq(shpool_try_alloc(p), (int64_t)(cap / 2 + 5));
	shpool_close(p);
}
END_TEST

static Suite *make_bitmap_suite(void)
{
	Suite *s = suite_create("bitmap");
	TCase *tree = tcase_create("summary_tree");
	TCase *walk = tcase_create("walk_reset_audit");
	TCase *status = tcase_create("status");
	TCase *full = tcase_create("nearly_full");

	tcase_set_timeout(tree, 10);
	tcase_add_test(tree, find_word_without_summary);
	tcase_add_test(tree, find_word_next_with_room);
	tcase_add_test(tree, find_word_repairs_a_stale_summary);
	tcase_add_test(tree, marks_full_and_room_go_up);
	suite_add_tcase(s, tree);
	tcase_set_timeout(walk, 10);
	tcase_add_test(walk, last_word_is_partial);
	tcase_add_test(walk, walk_visits_allocated_slots);
	tcase_add_test(walk, reset_clears_everything);
	tcase_add_test(walk, audit_and_repair);
	suite_add_tcase(s, walk);
	/* As in check_alloc's "basic" and "nearly_full" tcases, where these
	 * tests were. */
	tcase_set_timeout(status, 60);
	tcase_add_test(status, status_calls);
	suite_add_tcase(s, status);
	tcase_set_timeout(full, 120);
	tcase_add_test(full, nearly_full_finds_the_hole);
	tcase_add_test(full, hand_offs_keep_the_summary_exact);
	suite_add_tcase(s, full);
	return s;
}

int main(void)
{
	return test_run_suite(make_bitmap_suite());
}

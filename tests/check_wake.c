/* SPDX-License-Identifier: MIT */
/* Tests for src/wake.c, the futex word and the waiter registry, with the
 * waits of alloc.c: the blocking protocol loses no wake-up, one test for
 * each way it once did. Each forces its race deterministically (crash
 * points that stop or kill a process at one step, a search steered to start
 * at a chosen word, a waiter known to be asleep in futex(2)), with real
 * processes and real futexes. Before the fixes, the tests of lost wake-ups
 * hung at their last wait (a waiter asleep beside a free slot; the tcase
 * timeout reports it), and the batch tests failed their assertions.
 * White-box: steers the search and reads the futex word and the waiter
 * registry. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shpool-internal.h"
#include "testutil.h"
#include "whitebox.h"

/* Wait until pid has stopped itself (a `:stop` crash point, or SIGSTOP). */
static void await_stop(pid_t pid)
{
	int st;

	ck_assert_int_eq(waitpid(pid, &st, WUNTRACED), pid);
	ck_assert_msg(WIFSTOPPED(st), "child %d ended instead of stopping", (int)pid);
}

static void resume(pid_t pid)
{
	ck_assert_int_eq(kill(pid, SIGCONT), 0);
}

/* A child that arms crash points (SHPOOL_CRASH_AT=crash, if any), starts
 * its search at L0 word `word`, and allocates one slot, waiting `timeout`. */
struct taker {
	shpool_t *p;
	uint64_t word;
	const char *crash;
	int timeout;
};

static int take_one(void *arg)
{
	struct taker *t = arg;

	if (t->crash)
		setenv("SHPOOL_CRASH_AT", t->crash, 1);
	shpool_test_set_hint(t->p, t->word);
	return shpool_alloc(t->p, t->timeout) >= 0 ? 0 : 1;
}

/* ---- 1: a transient "full" mark hides a free slot ------------------- */

/* Allocator A fills word 0 and, before it marks the word full in the
 * summary, a free makes room there: the free finds no mark to clear and no
 * waiter to wake. A marks; a waiter's last look trusts the mark and it
 * sleeps; A's re-check sees the room and undoes the mark. Before the fix
 * nobody woke the waiter, which slept beside a free slot for good. */
START_TEST(room_hidden_by_a_full_mark_wakes_waiters)
{
	shpool_t *p = test_anon_pool(16, 8, 0);
	struct shpool *sp = p;
	struct taker filler = { p, 0, "alloc.bits_set:1:stop,summary.marked:1:stop", 0 };
	struct taker waiter = { p, 1, NULL, -1 };
	uint64_t held[16];
	pid_t a, w;

	/* Two words of 8 slots under one summary word. */
	ck_assert_uint_eq(sp->g.nwords[0], 2);
	ck_assert_uint_eq(sp->g.nlevels, 2);
	ck_assert_int_eq(shpool_alloc_n(p, held, 16, 0), 0);
	ck_assert_int_eq(shpool_free(p, 0), 0);
	a = test_fork(take_one, &filler);
	await_stop(a); /* slot 0 taken, word 0 full, not marked yet */
	ck_assert_int_eq(shpool_free(p, 1), 0);
	resume(a);
	await_stop(a); /* word 0 marked full, although slot 1 is free */
	w = test_fork(take_one, &waiter);
	test_await_futex_sleep(w);
	resume(a); /* re-check, undo the mark: and wake the waiter */
	ck_assert_int_eq(test_wait(a), 0);
	ck_assert_int_eq(test_wait(w), 0);
	ck_assert_uint_eq(shpool_used(p), 16);
	shpool_close(p);
}
END_TEST

/* ---- 2: a free killed after its stores, before its wake-up ----------- */

enum free_kind { FREE_OWN, FREE_N, FREE_FOREIGN };

struct freer {
	shpool_t *p;
	enum free_kind kind;
};

/* Takes the pool's only slot (unless freeing the parent's), stops until
 * the waiter sleeps, then frees it and is killed before waking anyone. */
static int free_then_die(void *arg)
{
	struct freer *f = arg;
	uint64_t idx = 0;

	if (f->kind != FREE_FOREIGN && shpool_alloc_n(f->p, &idx, 1, 0) != 0)
		return 2;
	raise(SIGSTOP);
	setenv("SHPOOL_CRASH_AT", "free.done:1", 1);
	if (f->kind == FREE_N)
		shpool_free_n(f->p, &idx, 1);
	else
		shpool_free(f->p, idx);
	return 3; /* the crash point was never reached */
}

START_TEST(free_killed_before_waking_is_woken_by_recovery)
{
	shpool_t *p = test_anon_pool(1, 8, 0);
	struct freer f = { p, (enum free_kind)_i };
	struct taker waiter = { p, 0, NULL, -1 };
	pid_t freer, w;

	if (f.kind == FREE_FOREIGN)
		ck_assert_int_eq(shpool_try_alloc(p), 0);
	freer = test_fork(free_then_die, &f);
	await_stop(freer);
	w = test_fork(take_one, &waiter);
	test_await_futex_sleep(w);
	resume(freer);
	ck_assert_int_eq(test_wait(freer), 128 + SIGKILL);
	/* Nothing left to free: the slot is free, its waiter asleep. */
	ck_assert_uint_eq(shpool_used(p), 0);
	ck_assert_int_eq(shpool_recover_stale(p), 0);
	ck_assert_int_eq(test_wait(w), 0);
	ck_assert_uint_eq(shpool_used(p), 1);
	shpool_close(p);
}
END_TEST

/* ---- 3: a waiter woken, then killed before it claims ----------------- */

/* A free wakes as many sleepers as it freed slots: one. If that one dies
 * before claiming, the wake-up dies with it; the other sleeper sleeps on
 * beside the free slot until recovery, which takes the dead waiter's
 * count out, wakes everybody. (futex(2) wakes in FIFO order among equal
 * priorities, so the first sleeper is the one woken.) */
START_TEST(waiter_killed_after_its_wake_up_is_replaced)
{
	shpool_t *p = test_anon_pool(1, 8, 0);
	struct taker doomed = { p, 0, "wait.woken:1", -1 };
	struct taker other = { p, 0, NULL, -1 };
	pid_t d, o;

	ck_assert_int_eq(shpool_try_alloc(p), 0);
	d = test_fork(take_one, &doomed);
	test_await_futex_sleep(d);
	o = test_fork(take_one, &other);
	test_await_futex_sleep(o);
	ck_assert_int_eq(shpool_free(p, 0), 0);
	ck_assert_int_eq(test_wait(d), 128 + SIGKILL);
	ck_assert_int_eq(shpool_recover_stale(p), 0);
	ck_assert_int_eq(test_wait(o), 0);
	ck_assert_uint_eq(shpool_used(p), 1);
	ck_assert_uint_eq(test_registered(p), 0);
	shpool_close(p);
}
END_TEST

/* ---- 4: batches that cannot be served -------------------------------- */

/* A batch of 12 that waits 300 ms in a pool with 10 free: 0 if it timed
 * out, as it must. */
static int batch_of_12(void *arg)
{
	uint64_t idx[12];

	return shpool_alloc_n(arg, idx, 12, 300) == -ETIMEDOUT ? 0 : 1;
}

/* Two such batches used to claim the 10, roll back, and wake each other
 * (every rollback is a free that bumps the futex word), some 50,000 times
 * a second. Now a batch claims only when it can be served: neither wakes
 * the other, and the futex word does not move. */
START_TEST(unservable_batches_do_not_wake_each_other)
{
	shpool_t *p = test_anon_pool(16, 8, 0);
	uint64_t held[6];
	uint32_t seq;
	pid_t b[2];

	ck_assert_int_eq(shpool_alloc_n(p, held, 6, 0), 0);
	seq = test_wake_seq(p);
	for (int i = 0; i < 2; i++)
		b[i] = test_fork(batch_of_12, p);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(test_wait(b[i]), 0);
	ck_assert_uint_eq(test_wake_seq(p), seq);
	ck_assert_uint_eq(shpool_used(p), 6);
	shpool_close(p);
}
END_TEST

struct bystander {
	shpool_t *p;
	_Atomic int *stop;
};

/* Allocates and frees one slot until told to stop; exits with the number
 * of allocations that failed (at most 255). */
static int bystander(void *arg)
{
	struct bystander *b = arg;
	unsigned failed = 0;

	while (!atomic_load(b->stop)) {
		int64_t s = shpool_try_alloc(b->p);

		if (s < 0)
			failed++;
		else if (shpool_free(b->p, (uint64_t)s) != 0)
			return 254;
	}
	return failed > 253 ? 253 : (int)failed;
}

/* While the two batches wait, a single allocator always finds one of the
 * 10 free slots: they no longer hold them for a moment at a time. */
START_TEST(unservable_batches_hide_no_slot)
{
	shpool_t *p = test_anon_pool(16, 8, 0);
	_Atomic int *stop = mmap(NULL, sizeof(*stop), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct bystander by = { p, stop };
	uint64_t held[6];
	pid_t b[2], other;

	ck_assert_ptr_ne(stop, MAP_FAILED);
	atomic_store(stop, 0);
	ck_assert_int_eq(shpool_alloc_n(p, held, 6, 0), 0);
	other = test_fork(bystander, &by);
	for (int i = 0; i < 2; i++)
		b[i] = test_fork(batch_of_12, p);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(test_wait(b[i]), 0);
	atomic_store(stop, 1);
	ck_assert_int_eq(test_wait(other), 0);
	munmap((void *)stop, sizeof(*stop));
	shpool_close(p);
}
END_TEST

static Suite *make_wake_suite(void)
{
	Suite *s = suite_create("wake");
	TCase *lost = tcase_create("lost_wakeups");
	TCase *batch = tcase_create("batches");

	/* Hang detectors: a lost wake-up shows as a waiter that never
	 * returns, which the timeout reports. */
	tcase_set_timeout(lost, 30);
	tcase_add_test(lost, room_hidden_by_a_full_mark_wakes_waiters);
	tcase_add_loop_test(lost, free_killed_before_waking_is_woken_by_recovery, FREE_OWN,
			    FREE_FOREIGN + 1);
	tcase_add_test(lost, waiter_killed_after_its_wake_up_is_replaced);
	suite_add_tcase(s, lost);
	tcase_set_timeout(batch, 30);
	tcase_add_test(batch, unservable_batches_do_not_wake_each_other);
	tcase_add_test(batch, unservable_batches_hide_no_slot);
	suite_add_tcase(s, batch);
	return s;
}

int main(void)
{
	return test_run_suite(make_wake_suite());
}

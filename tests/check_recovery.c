/* SPDX-License-Identifier: MIT */
/* Tests for src/recovery.c: recover_stale after a kill at every crash point,
 * chaos with SIGKILL, a claim a dead process left, waiters of dead
 * processes, reset, and the consistency checker. Who counts as alive is
 * check_identity's. White-box: sees the owner record format. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shpool-internal.h"
#include "testutil.h"
#include "whitebox.h"

/* ---- deterministic crash points ------------------------------------- */

enum op { OP_ALLOC, OP_ALLOC_N, OP_FREE_OWN, OP_FREE_N, OP_FREE_FOREIGN, OP_RECOVER };

struct crash_case {
	enum op op;
	const char *point;
	int nth;
};

static const struct crash_case crash_cases[] = {
	/* Allocation, at each step of the 1st, 2nd and 3rd slot. */
	{ OP_ALLOC, "alloc.owner_claimed", 1 },
	{ OP_ALLOC, "alloc.owner_claimed", 3 },
	{ OP_ALLOC, "alloc.bits_set", 1 },
	{ OP_ALLOC, "alloc.bits_set", 3 },
	/* A batch of 5 within one word: claims, then one bitmap update. */
	{ OP_ALLOC_N, "alloc.owner_claimed", 1 },
	{ OP_ALLOC_N, "alloc.bits_set", 1 },
	/* Freeing own slots one by one, and as a batch. */
	{ OP_FREE_OWN, "free.bits_cleared", 1 },
	{ OP_FREE_OWN, "free.bits_cleared", 3 },
	{ OP_FREE_N, "free.bits_cleared", 1 },
	/* Freeing a slot the parent (alive) handed over. */
	{ OP_FREE_FOREIGN, "free.owner_tagged", 1 },
	{ OP_FREE_FOREIGN, "free.bits_cleared", 1 },
	/* A recovery that dies half way is finished by the next. */
	{ OP_RECOVER, "recover.tagged", 1 },
	{ OP_RECOVER, "recover.tagged", 2 },
	{ OP_RECOVER, "free.bits_cleared", 1 },
};

struct crash_child {
	shpool_t *p;
	const struct crash_case *c;
	uint64_t handed; /* a parent slot, for OP_FREE_FOREIGN */
};

static int crash_child_run(void *arg)
{
	struct crash_child *cc = arg;
	const struct crash_case *c = cc->c;
	uint64_t idx[5];
	char spec[64];

	/* Set up without crash points armed, then arm and run the step. */
	if (c->op == OP_FREE_OWN || c->op == OP_FREE_N)
		if (shpool_alloc_n(cc->p, idx, 5, 0) != 0)
			return 2;
	if (c->op == OP_RECOVER && test_wait(test_fork_holder(cc->p, 3, SIGKILL)) != 128 + SIGKILL)
		return 2;
	snprintf(spec, sizeof(spec), "%s:%d", c->point, c->nth);
	setenv("SHPOOL_CRASH_AT", spec, 1);
	switch (c->op) {
	case OP_ALLOC:
		for (int i = 0; i < 5; i++)
			shpool_try_alloc(cc->p);
		break;
	case OP_ALLOC_N:
		shpool_alloc_n(cc->p, idx, 5, 0);
		break;
	case OP_FREE_OWN:
		for (int i = 0; i < 5; i++)
			shpool_free(cc->p, idx[i]);
		break;
	case OP_FREE_N:
		shpool_free_n(cc->p, idx, 5);
		break;
	case OP_FREE_FOREIGN:
		shpool_free(cc->p, cc->handed);
		break;
	case OP_RECOVER:
		shpool_recover_stale(cc->p);
		break;
	}
	return 3; /* the crash point was never reached */
}

START_TEST(every_crash_point_recovers)
{
	const struct crash_case *c = &crash_cases[_i];
	/* 64 slots in 8 words of 8: batches stay within one word. */
	shpool_t *p = test_anon_pool(64, 8, 0);
	uint64_t mine[4];
	struct crash_child cc = { p, c, 0 };
	int64_t recovered;

	/* The parent is a live owner throughout: its slots must survive. */
	ck_assert_int_eq(shpool_alloc_n(p, mine, 4, 0), 0);
	cc.handed = mine[3];
	ck_assert_int_eq(test_wait(test_fork(crash_child_run, &cc)), 128 + SIGKILL);

	/* used == what live processes hold: the parent's 4, less the one it
	 * handed over for freeing (that free had begun: it completes). */
	uint64_t live = c->op == OP_FREE_FOREIGN ? 3 : 4;
	uint64_t before = shpool_used(p);

	recovered = shpool_recover_stale(p);
	/* Exact accounting: every allocated slot of a dead process, no more. */
	ck_assert_int_eq(recovered, (int64_t)(before - live));
	test_assert_consistent(p);
	ck_assert_uint_eq(shpool_used(p), live);
	for (uint64_t i = 0; i < live; i++) {
		ck_assert_int_eq(shpool_is_allocated(p, mine[i]), 1);
		ck_assert_int_eq(shpool_owner(p, mine[i]), getpid());
	}
	/* Nothing lost: every other slot can be allocated again. */
	for (uint64_t i = live; i < 64; i++)
		ck_assert_int_ge(shpool_try_alloc(p), 0);
	ck_assert_int_eq(shpool_try_alloc(p), -EAGAIN);
	shpool_close(p);
}
END_TEST

/* A crash that leaves a summary bit saying "full" over a word with room
 * hides that room until recovery repairs the hint. */
START_TEST(recovery_repairs_summary)
{
	shpool_t *p = test_anon_pool(4096, 8, 0);
	struct shpool *sp = p;

	for (int i = 0; i < 4096; i++)
		ck_assert_int_ge(shpool_try_alloc(p), 0);
	/* What a free that died between its bit clear and its summary
	 * update leaves: word 0 has room, level 1 still says full. */
	ck_assert(shpool_bit_clear(sp, 7));
	atomic_fetch_or(&sp->level[1][0], 1);
	ck_assert_int_eq(shpool_check(p, NULL), 1);
	ck_assert_int_eq(shpool_recover_stale(p), 0);
	test_assert_consistent(p);
	ck_assert_int_eq(shpool_try_alloc(p), 7);
	shpool_close(p);
}
END_TEST

/* ---- a claim a dead process left ------------------------------------- */

/* A batch claims neighbouring owner records two at a time (one 16-byte
 * CAS on x86-64). A pair whose second record is taken (here: a claim a
 * dead process left, record without its bit) must still give the batch its
 * free first slot, and leave the taken record exactly as it was. */
START_TEST(batch_takes_half_of_a_claimed_pair)
{
	shpool_t *p = test_anon_pool(8, 8, 0);
	struct shpool *sp = p;
	uint64_t dead = test_record(getpid(), test_my_start() - 1), out[7], seen = 0;

	ck_assert_uint_eq(sp->g.nwords[0], 1);
	atomic_store(&sp->owner[1], dead);
	ck_assert_int_eq(shpool_alloc_n(p, out, 7, 0), 0);
	for (int i = 0; i < 7; i++)
		seen |= UINT64_C(1) << out[i];
	ck_assert_uint_eq(seen, 0xfd); /* every slot but 1 */
	ck_assert_uint_eq(atomic_load(&sp->owner[1]), dead);
	ck_assert_int_eq(shpool_is_allocated(p, 1), 0);
	/* The dead claim is recovery's: afterwards slot 1 is free. */
	ck_assert_int_eq(shpool_recover_stale(p), 0);
	ck_assert_uint_eq(atomic_load(&sp->owner[1]), 0);
	ck_assert_int_eq(shpool_try_alloc(p), 1);
	test_assert_consistent(p);
	shpool_close(p);
}
END_TEST

/* ---- chaos ------------------------------------------------------------ */

#define CHAOS_KILLS 1000
#define CHAOS_WORKERS 4
#define CHAOS_CAP 256

struct chaos {
	shpool_t *p;
	_Atomic int *stop;    /* ends the recoverer */
	_Atomic int *release; /* lets the holder check and free its slots */
};

static int chaos_worker(void *arg)
{
	struct chaos *c = arg;
	uint64_t held[64], batch[8];
	size_t n = 0;
	unsigned seed = (unsigned)getpid();

	/* Below the killer: it then runs as soon as its random delay ends
	 * rather than at the next time slice of 6 busy processes on 2 cores,
	 * which made each kill cost ~25 ms. Where the kills land is the
	 * same: anywhere in the workers' calls. */
	errno = 0;
	if (nice(10) == -1 && errno)
		return 1;
	for (;;) {
		unsigned r = (unsigned)rand_r(&seed) % 10;

		if (r < 4 && n < 64) {
			int64_t s = shpool_alloc(c->p, r == 0 ? 1 : 0);
			if (s >= 0)
				held[n++] = (uint64_t)s;
		} else if (r < 5 && n + 8 <= 64) {
			if (shpool_alloc_n(c->p, batch, 8, 0) == 0)
				for (int i = 0; i < 8; i++)
					held[n++] = batch[i];
		} else if (r < 8 && n) {
			shpool_free(c->p, held[--n]);
		} else if (n >= 4) {
			shpool_free_n(c->p, held + n - 4, 4);
			n -= 4;
		}
	}
	return 0;
}

static int chaos_recoverer(void *arg)
{
	struct chaos *c = arg;

	errno = 0; /* below the killer, as the workers */
	if (nice(10) == -1 && errno)
		return 1;
	while (!atomic_load(c->stop))
		if (shpool_recover_stale(c->p) < 0)
			return 1;
	return 0;
}

/* Holds a fixed set of slots through the whole storm. */
static int chaos_holder(void *arg)
{
	struct chaos *c = arg;
	uint64_t mine[16];

	if (shpool_alloc_n(c->p, mine, 16, -1) != 0)
		return 1;
	while (!atomic_load(c->release))
		sched_yield();
	for (int i = 0; i < 16; i++)
		if (shpool_is_allocated(c->p, mine[i]) != 1 || shpool_owner(c->p, mine[i]) != getpid())
			return 2;
	return shpool_free_n(c->p, mine, 16) == 16 ? 0 : 3;
}

START_TEST(chaos_kills_recover_exactly)
{
	shpool_t *p = test_anon_pool(CHAOS_CAP, 8, 0);
	_Atomic int *stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct chaos c = { p, &stop[0], &stop[1] };
	pid_t workers[CHAOS_WORKERS], recoverer, holder;
	unsigned seed = 42;
	shpool_stats_t st;

	holder = test_fork(chaos_holder, &c);
	while (shpool_used(p) < 16)
		sched_yield();
	recoverer = test_fork(chaos_recoverer, &c);
	for (int i = 0; i < CHAOS_WORKERS; i++)
		workers[i] = test_fork(chaos_worker, &c);
	for (int k = 0; k < CHAOS_KILLS; k++) {
		int w = rand_r(&seed) % CHAOS_WORKERS;
		struct timespec ts = { 0, (rand_r(&seed) % 500) * 1000L };

		/* A random moment, so kills land all over the code paths. */
		nanosleep(&ts, NULL);
		kill(workers[w], SIGKILL);
		ck_assert_int_eq(test_wait(workers[w]), 128 + SIGKILL);
		workers[w] = test_fork(chaos_worker, &c);
	}
	for (int i = 0; i < CHAOS_WORKERS; i++) {
		kill(workers[i], SIGKILL);
		test_wait(workers[i]);
	}
	atomic_store(stop, 1);
	ck_assert_int_eq(test_wait(recoverer), 0);
	/* Final accounting: only the holder's 16 are live. */
	ck_assert_int_ge(shpool_recover_stale(p), 0);
	test_assert_consistent(p);
	ck_assert_uint_eq(shpool_used(p), 16);
	atomic_store(c.release, 1);
	ck_assert_int_eq(test_wait(holder), 0);
	ck_assert_uint_eq(shpool_used(p), 0);
	ck_assert_int_eq(shpool_stats(p, &st), 0);
	ck_assert_uint_gt(st.recoveries, 0);
	for (int i = 0; i < CHAOS_CAP; i++)
		ck_assert_int_ge(shpool_try_alloc(p), 0);
	munmap((void *)stop, 4096);
	shpool_close(p);
}
END_TEST

/* ---- waiters of dead processes -------------------------------------- */

static unsigned registry_entries(shpool_t *p)
{
	struct shpool *sp = p;
	unsigned n = 0;

	for (unsigned i = 0; i < SHPOOL_WAITREG; i++)
		n += atomic_load(&sp->st->waitreg[i].who) != 0;
	return n;
}

/* SHPOOL_DELAY_AT for the blocking children of the next fork_blocked(), to
 * widen a race window (each test sets it; NULL: none). */
static const char *child_delay;

static void arm_child_delay(void)
{
	if (child_delay)
		setenv("SHPOOL_DELAY_AT", child_delay, 1);
}

static void *block_thread(void *arg)
{
	shpool_alloc(arg, 60000);
	return NULL;
}

/* Two threads block in the full pool, the second once the first is
 * counted; the process is then killed. */
static int two_blocked_threads(void *arg)
{
	pthread_t t[2];

	arm_child_delay();
	for (int i = 0; i < 2; i++) {
		if (pthread_create(&t[i], NULL, block_thread, arg) != 0)
			return 1;
		test_await_registered(arg, (uint64_t)i + 1);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	return 1; /* not reached: killed while they wait */
}

/* A child that waits (10 s at most) for a slot: 0 once it has one. */
static int block_until_room(void *arg)
{
	arm_child_delay();
	return shpool_alloc(arg, 10000) >= 0 ? 0 : 1;
}

/* Fork fn(p) and return once `n` of its waiters are in the registry. */
static pid_t fork_blocked(shpool_t *p, int (*fn)(void *), uint64_t n)
{
	pid_t pid = test_fork(fn, p);

	test_await_registered(p, n);
	return pid;
}

static void kill_and_reap(pid_t pid)
{
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(test_wait(pid), 128 + SIGKILL);
}

/* A child that arms a crash point (SHPOOL_CRASH_AT=spec), then allocates
 * (100 ms at most) or recovers. */
struct armed {
	shpool_t *p;
	const char *spec;
};

static int armed_alloc(void *arg)
{
	struct armed *a = arg;

	setenv("SHPOOL_CRASH_AT", a->spec, 1);
	shpool_alloc(a->p, 100);
	return 3; /* the crash point was never reached */
}

static int armed_recover(void *arg)
{
	struct armed *a = arg;

	setenv("SHPOOL_CRASH_AT", a->spec, 1);
	shpool_recover_stale(a->p);
	return 0;
}

/* Each dead_waiters test runs plainly and with its blocking children slowed
 * between `waiters` and the registry count (the window a kill used to hit
 * when the tests waited for `waiters`). */
static const char *const waiter_delays[] = { NULL, "wait.counted:50" };

START_TEST(dead_waiters_are_uncounted)
{
	shpool_t *p = test_anon_pool(2, 8, 0);
	pid_t dead, live;
	uint64_t held[2];

	child_delay = waiter_delays[_i];
	ck_assert_int_eq(shpool_alloc_n(p, held, 2, 0), 0);
	dead = fork_blocked(p, two_blocked_threads, 2);
	test_assert_consistent(p); /* live waiters are no problem */
	kill_and_reap(dead);
	/* Still counted: every free would now make a futex call. */
	ck_assert_uint_eq(test_waiters(p), 2);
	ck_assert_int_eq(shpool_check(p, NULL), 1);
	ck_assert_int_eq(shpool_recover_stale(p), 0); /* no slot was held */
	ck_assert_uint_eq(test_waiters(p), 0);
	ck_assert_uint_eq(registry_entries(p), 0);
	test_assert_consistent(p);

	/* A live waiter is left alone by recovery, and still woken. */
	live = fork_blocked(p, block_until_room, 1);
	ck_assert_int_eq(shpool_recover_stale(p), 0);
	test_await_registered(p, 1); /* woken by recovery, it sleeps again */
	ck_assert_uint_eq(test_waiters(p), 1);
	ck_assert_uint_eq(registry_entries(p), 1);
	test_assert_consistent(p);
	ck_assert_int_eq(shpool_free(p, held[0]), 0);
	ck_assert_int_eq(test_wait(live), 0);
	ck_assert_uint_eq(test_waiters(p), 0);
	/* The child took the slot and exited: recovery frees both. */
	ck_assert_int_eq(shpool_recover_stale(p), 1);
	ck_assert_uint_eq(registry_entries(p), 0);
	test_assert_consistent(p);
	shpool_close(p);
}
END_TEST

/* Two threads of one process that block at the same moment share one
 * registry entry: the process's first claim is serialised. The delay holds
 * the first claimant between its look and its claim, where (before the
 * claim lock) the second looked too, found nothing and claimed another. */

struct start_line {
	shpool_t *p;
	pthread_barrier_t go;
};

static void *block_thread_together(void *arg)
{
	struct start_line *sl = arg;

	pthread_barrier_wait(&sl->go);
	shpool_alloc(sl->p, 60000);
	return NULL;
}

static int two_threads_block_together(void *arg)
{
	struct start_line sl = { arg, { { 0 } } };
	pthread_t t[2];

	setenv("SHPOOL_DELAY_AT", "waitreg.looked:50", 1);
	pthread_barrier_init(&sl.go, NULL, 2);
	for (int i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, block_thread_together, &sl) != 0)
			return 1;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	return 1; /* not reached: killed while they wait */
}

START_TEST(one_registry_entry_per_process)
{
	shpool_t *p = test_anon_pool(1, 8, 0);
	char *text = NULL;
	size_t len = 0;
	FILE *report;

	ck_assert_int_ge(shpool_try_alloc(p), 0);
	kill_and_reap(fork_blocked(p, two_threads_block_together, 2));
	ck_assert_uint_eq(registry_entries(p), 1);
	/* The dead process is named once, with both of its waiters. */
	report = open_memstream(&text, &len);
	ck_assert_int_eq(shpool_check(p, report), 1);
	fclose(report);
	ck_assert_ptr_nonnull(strstr(text, "waiters: 2 counted for a dead process"));
	free(text);
	ck_assert_int_eq(shpool_recover_stale(p), 0);
	ck_assert_uint_eq(test_waiters(p), 0);
	ck_assert_uint_eq(registry_entries(p), 0);
	shpool_close(p);
}
END_TEST

/* A death between the two counts, on the way in and on the way out,
 * leaves `waiters` one too high (a spare wake-up per free), never too low
 * (a waiter nobody wakes): recovery cannot tell that one apart. */

START_TEST(death_between_counts_overcounts)
{
	/* wait.uncounted is reached once the 100 ms wait times out. */
	static const char *const specs[] = { "wait.counted:1", "wait.uncounted:1" };
	shpool_t *p = test_anon_pool(1, 8, 0);
	struct armed a = { p, specs[_i] };
	pid_t live;

	ck_assert_int_ge(shpool_try_alloc(p), 0);
	ck_assert_int_eq(test_wait(test_fork(armed_alloc, &a)), 128 + SIGKILL);
	ck_assert_int_eq(shpool_recover_stale(p), 0);
	ck_assert_uint_eq(test_waiters(p), 1);
	ck_assert_uint_eq(registry_entries(p), 0);
	/* A real waiter on top of the phantom one is still woken. */
	child_delay = NULL;
	live = fork_blocked(p, block_until_room, 1);
	ck_assert_uint_eq(test_waiters(p), 2);
	ck_assert_int_eq(shpool_free(p, 0), 0);
	ck_assert_int_eq(test_wait(live), 0);
	ck_assert_uint_eq(test_waiters(p), 1);
	shpool_close(p);
}
END_TEST

/* A recovery that dies after taking a dead process's count leaves it in
 * `waiters` (too high, again) and the entry to the next recovery. */

START_TEST(recovery_dying_in_waiters_overcounts)
{
	shpool_t *p = test_anon_pool(2, 8, 0);
	struct armed a = { p, "recover.waiters_taken:1" };
	uint64_t held[2];

	child_delay = waiter_delays[_i];
	ck_assert_int_eq(shpool_alloc_n(p, held, 2, 0), 0);
	kill_and_reap(fork_blocked(p, two_blocked_threads, 2));
	ck_assert_int_eq(test_wait(test_fork(armed_recover, &a)), 128 + SIGKILL);
	ck_assert_uint_eq(test_waiters(p), 2);
	ck_assert_uint_eq(registry_entries(p), 1);
	ck_assert_int_eq(shpool_recover_stale(p), 0);
	ck_assert_uint_eq(test_waiters(p), 2);
	ck_assert_uint_eq(registry_entries(p), 0);
	test_assert_consistent(p);
	shpool_close(p);
}
END_TEST

/* A recovery that saw a dead process's entry, then was overtaken (another
 * recovery freed the entry and a live waiter claimed it), must not take
 * the live waiter's count: that waiter would then never be woken. */

static uint32_t registry_count(shpool_t *p, unsigned i)
{
	struct shpool *sp = p;

	return atomic_load(&sp->st->waitreg[i].count);
}

START_TEST(recovery_never_takes_a_live_count)
{
	shpool_t *p = test_anon_pool(1, 8, 0);
	struct armed a = { p, "recover.waiter_seen:1:stop" };
	pid_t slow, live;
	int status;

	child_delay = waiter_delays[_i];
	ck_assert_int_ge(shpool_try_alloc(p), 0);
	kill_and_reap(fork_blocked(p, block_until_room, 1));
	/* One recovery stops having seen the dead entry; another does the
	 * work; a live waiter then claims the same (first free) entry. */
	slow = test_fork(armed_recover, &a);
	ck_assert_int_eq(waitpid(slow, &status, WUNTRACED), slow);
	ck_assert(WIFSTOPPED(status));
	ck_assert_int_eq(shpool_recover_stale(p), 0);
	ck_assert_uint_eq(test_waiters(p), 0);
	live = fork_blocked(p, block_until_room, 1);
	ck_assert_uint_eq(registry_count(p, 0), 1);
	ck_assert_int_eq(kill(slow, SIGCONT), 0);
	ck_assert_int_eq(test_wait(slow), 0);
	/* Recovery ends by waking every waiter: the live one searches,
	 * registers again and sleeps on the new futex value (a count taken by
	 * mistake would never return). Waiting for that sleep, not for the
	 * registry count, which still reads 1 before the woken waiter has
	 * taken its count out. */
	test_await_futex_sleep_on(live, test_wake_seq(p));
	ck_assert_uint_eq(test_waiters(p), 1);
	ck_assert_uint_eq(registry_count(p, 0), 1);
	ck_assert_int_eq(shpool_free(p, 0), 0);
	ck_assert_int_eq(test_wait(live), 0);
	shpool_close(p);
}
END_TEST

/* ---- reset and check ------------------------------------------------ */

START_TEST(reset_frees_all_and_wakes)
{
	shpool_t *p = test_anon_pool(8, 8, 0);
	pid_t w;

	child_delay = NULL;
	for (int i = 0; i < 8; i++)
		ck_assert_int_ge(shpool_try_alloc(p), 0);
	w = fork_blocked(p, block_until_room, 1);
	ck_assert_int_eq(shpool_reset(p), 0);
	ck_assert_int_eq(test_wait(w), 0);
	/* The woken child took a slot and exited with it: stale now. */
	ck_assert_uint_eq(shpool_used(p), 1);
	ck_assert_int_eq(shpool_recover_stale(p), 1);
	ck_assert_uint_eq(shpool_used(p), 0);
	test_assert_consistent(p);
	ck_assert_fails(shpool_reset(NULL), -EINVAL, "NULL pool");
	shpool_close(p);
}
END_TEST

START_TEST(check_reports_damage)
{
	shpool_t *p = test_anon_pool(100, 8, 0);
	struct shpool *sp = p;
	char *text = NULL;
	size_t len = 0;
	FILE *report;
	int64_t mine;

	test_assert_consistent(p);
	mine = shpool_try_alloc(p);
	ck_assert_int_ge(mine, 0);
	/* Damage: a bit without an owner (in a word other than our slot's,
	 * wherever this thread's hint put it), and a bit beyond the last slot. */
	atomic_fetch_or(shpool_l0(sp, ((uint64_t)mine >> sp->g.word_shift) == 1 ? 2 : 1), 1);
	atomic_fetch_or(shpool_l0(sp, sp->g.nwords[0] - 1), UINT64_C(1) << 63);
	report = open_memstream(&text, &len);
	ck_assert_int_eq(shpool_check(p, report), 2);
	fclose(report);
	ck_assert_ptr_nonnull(strstr(text, "no owner record"));
	ck_assert_ptr_nonnull(strstr(text, "beyond the last slot"));
	free(text);
	ck_assert_fails(shpool_check(NULL, NULL), -EINVAL, "NULL pool");
	ck_assert_fails(shpool_recover_stale(NULL), -EINVAL, "NULL pool");
	shpool_close(p);
}
END_TEST

static Suite *make_recovery_suite(void)
{
	Suite *s = suite_create("recovery");
	TCase *crash = tcase_create("crash_points");
	TCase *claims = tcase_create("claims");
	TCase *chaos = tcase_create("chaos");
	TCase *misc = tcase_create("reset_check");
	TCase *waiters = tcase_create("dead_waiters");

	/* Timeouts are hang detectors, sized for a loaded 2-core machine. */
	tcase_set_timeout(crash, 60);
	tcase_add_loop_test(crash, every_crash_point_recovers, 0,
			    (int)(sizeof(crash_cases) / sizeof(crash_cases[0])));
	tcase_add_test(crash, recovery_repairs_summary);
	tcase_set_timeout(claims, 30);
	tcase_add_test(claims, batch_takes_half_of_a_claimed_pair);
	tcase_set_timeout(chaos, 300);
	tcase_add_test(chaos, chaos_kills_recover_exactly);
	tcase_set_timeout(waiters, 30);
	tcase_add_loop_test(waiters, dead_waiters_are_uncounted, 0, 2);
	tcase_add_test(waiters, one_registry_entry_per_process);
	tcase_add_loop_test(waiters, death_between_counts_overcounts, 0, 2);
	tcase_add_loop_test(waiters, recovery_dying_in_waiters_overcounts, 0, 2);
	tcase_add_loop_test(waiters, recovery_never_takes_a_live_count, 0, 2);
	tcase_set_timeout(misc, 60);
	tcase_add_test(misc, reset_frees_all_and_wakes);
	tcase_add_test(misc, check_reports_damage);
	suite_add_tcase(s, crash);
	suite_add_tcase(s, claims);
	suite_add_tcase(s, chaos);
	suite_add_tcase(s, waiters);
	suite_add_tcase(s, misc);
	return s;
}

int main(void)
{
	return test_run_suite(make_recovery_suite());
}

/* SPDX-License-Identifier: MIT */
/* Tests for src/alloc.c: claiming and freeing slots one by one and in batches,
 * zeroing, ownership, blocking with timeouts and signals, and contention
 * between real processes and threads. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* ---- basics ---------------------------------------------------------- */

START_TEST(alloc_until_full)
{
	static const uint64_t caps[] = { 1, 4, 7, 63, 64, 65, 512, 4095, 4097, 262145 };
	uint64_t cap = caps[_i];
	shpool_t *p = test_anon_pool(cap, 8, 0);
	uint8_t *seen = calloc(cap, 1);

	for (uint64_t i = 0; i < cap; i++) {
		int64_t s = shpool_try_alloc(p);
		ck_assert_msg(s >= 0 && (uint64_t)s < cap, "alloc %llu of %llu: %lld",
			      (unsigned long long)i, (unsigned long long)cap, (long long)s);
		ck_assert_msg(!seen[s], "slot %lld handed out twice", (long long)s);
		seen[s] = 1;
	}
	ck_assert_uint_eq(shpool_used(p), cap);
	ck_assert_uint_eq(shpool_available(p), 0);
	ck_assert_fails(shpool_try_alloc(p), -EAGAIN, "pool full");
	ck_assert_fails(shpool_alloc(p, 0), -EAGAIN, "pool full");
	for (uint64_t i = 0; i < cap; i++)
		ck_assert_int_eq(shpool_free(p, i), 0);
	ck_assert_uint_eq(shpool_used(p), 0);
	/* And the whole pool is reachable again after emptying. */
	for (uint64_t i = 0; i < cap; i++)
		ck_assert_int_ge(shpool_try_alloc(p), 0);
	ck_assert_int_eq(shpool_try_alloc(p), -EAGAIN);
	free(seen);
	shpool_close(p);
}
END_TEST

START_TEST(free_errors)
{
	shpool_t *p = test_anon_pool(16, 8, 0);
	int64_t s = shpool_try_alloc(p);

	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(shpool_free(p, (uint64_t)s), 0);
	ck_assert_fails(shpool_free(p, (uint64_t)s), -ENOENT, "not allocated");
	ck_assert_fails(shpool_free(p, 16), -ERANGE, "out of range");
	ck_assert_fails(shpool_free(p, UINT64_MAX), -ERANGE, "out of range");
	ck_assert_fails(shpool_is_allocated(p, 16), -ERANGE, "out of range");
	ck_assert_uint_eq(shpool_used(p), 0);
	/* A double free left nothing corrupt: the pool still fills exactly. */
	for (int i = 0; i < 16; i++)
		ck_assert_int_ge(shpool_try_alloc(p), 0);
	ck_assert_int_eq(shpool_try_alloc(p), -EAGAIN);
	shpool_close(p);
}
END_TEST

START_TEST(zero_on_alloc)
{
	shpool_t *p = test_anon_pool(1, 64, 0), *nz = test_anon_pool(1, 64, SHPOOL_NO_ZERO);
	static const uint8_t zero[64];
	int64_t s;

	s = shpool_try_alloc(p);
	memset(shpool_ptr(p, (uint64_t)s), 0xAB, 64);
	ck_assert_int_eq(shpool_free(p, (uint64_t)s), 0);
	s = shpool_try_alloc(p);
	ck_assert_int_eq(s, 0);
	ck_assert_int_eq(memcmp(shpool_ptr(p, 0), zero, 64), 0);

	s = shpool_try_alloc(nz);
	memset(shpool_ptr(nz, (uint64_t)s), 0xAB, 64);
	ck_assert_int_eq(shpool_free(nz, (uint64_t)s), 0);
	s = shpool_try_alloc(nz);
	ck_assert_int_eq(((uint8_t *)shpool_ptr(nz, 0))[63], 0xAB);
	shpool_close(p);
	shpool_close(nz);
}
END_TEST

static int alloc_and_die_at_publish(void *arg)
{
	setenv("SHPOOL_CRASH_AT", "alloc.bits_set", 1);
	shpool_try_alloc(arg);
	return 3; /* not reached: the crash point kills us */
}

/* Anyone who sees the bit may read the slot, so it must already be zero
 * when the bit is set: stop a child right after it sets the bit. */
START_TEST(zeroed_before_published)
{
	shpool_t *p = test_anon_pool(1, 64, 0);
	static const uint8_t zero[64];

	ck_assert_int_eq(shpool_try_alloc(p), 0);
	memset(shpool_ptr(p, 0), 0xCD, 64);
	ck_assert_int_eq(shpool_free(p, 0), 0);
	ck_assert_int_eq(test_wait(test_fork(alloc_and_die_at_publish, p)), 128 + SIGKILL);
	ck_assert_int_eq(shpool_is_allocated(p, 0), 1);
	ck_assert_int_eq(memcmp(shpool_ptr(p, 0), zero, 64), 0);
	shpool_close(p);
}
END_TEST

/* ---- batches --------------------------------------------------------- */

START_TEST(batch_all_or_nothing)
{
	shpool_t *p = test_anon_pool(8, 8, 0);
	uint64_t a[8], b[8];

	ck_assert_int_eq(shpool_alloc_n(p, a, 5, 0), 0);
	ck_assert_fails(shpool_alloc_n(p, b, 4, 0), -EAGAIN, "no room for 4");
	ck_assert_uint_eq(shpool_used(p), 5);
	ck_assert_fails(shpool_alloc_n(p, b, 4, 30), -ETIMEDOUT, "no free slot");
	ck_assert_uint_eq(shpool_used(p), 5);
	ck_assert_int_eq(shpool_alloc_n(p, b, 3, 0), 0);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(shpool_is_allocated(p, i), 1);
	ck_assert_int_eq(shpool_alloc_n(p, b, 0, 0), 0);
	ck_assert_fails(shpool_alloc_n(p, b, 9, 0), -EINVAL, "exceeds capacity");
	ck_assert_fails(shpool_alloc_n(p, NULL, 1, 0), -EINVAL, "NULL");
	shpool_close(p);
}
END_TEST

START_TEST(batch_free_counts)
{
	shpool_t *p = test_anon_pool(300, 8, 0);
	uint64_t a[200], mixed[6];

	ck_assert_int_eq(shpool_alloc_n(p, a, 200, 0), 0);
	ck_assert_int_eq(shpool_free_n(p, a, 190), 190);
	ck_assert_uint_eq(shpool_used(p), 10);
	/* Allocated, duplicate, freed, out of range, allocated, allocated. */
	mixed[0] = a[190];
	mixed[1] = a[190];
	mixed[2] = a[0];
	mixed[3] = 300;
	mixed[4] = a[191];
	mixed[5] = a[199];
	ck_assert_int_eq(shpool_free_n(p, mixed, 6), 3);
	ck_assert_msg(strstr(shpool_last_error(), "were not allocated") != NULL, "%s",
		      shpool_last_error());
	ck_assert_uint_eq(shpool_used(p), 7);
	ck_assert_int_eq(shpool_free_n(p, NULL, 0), 0);
	ck_assert_fails(shpool_free_n(p, NULL, 1), -EINVAL, "NULL");
	shpool_close(p);
}
END_TEST

/* ---- blocking --------------------------------------------------------- */

START_TEST(timeout_honoured)
{
	shpool_t *p = test_anon_pool(1, 8, 0);
	int64_t t0;

	ck_assert_int_eq(shpool_try_alloc(p), 0);
	t0 = now_ms();
	ck_assert_fails(shpool_alloc(p, 120), -ETIMEDOUT, "within 120 ms");
	/* Never early; "not hung" is a generous bound, not a speed claim. */
	ck_assert_int_ge(now_ms() - t0, 120);
	ck_assert_int_lt(now_ms() - t0, 5000);
	shpool_close(p);
}
END_TEST

struct waiter_arg {
	shpool_t *p;
	int timeout_ms;
	int fd; /* where to write the result */
};

static int waiter_child(void *arg)
{
	struct waiter_arg *w = arg;
	int64_t s = shpool_alloc(w->p, w->timeout_ms);

	return write(w->fd, &s, sizeof(s)) == sizeof(s) ? 0 : 1;
}

static int64_t read_result(int fd)
{
	int64_t s;

	ck_assert_int_eq(read(fd, &s, sizeof(s)), sizeof(s));
	return s;
}

START_TEST(free_wakes_waiter)
{
	shpool_t *p = test_anon_pool(2, 8, 0);
	int fds[2];
	struct waiter_arg w;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_ge(shpool_try_alloc(p), 0);
	ck_assert_int_ge(shpool_try_alloc(p), 0);
	w = (struct waiter_arg){ p, _i ? 10000 : -1, fds[1] };
	pid = test_fork(waiter_child, &w);
	test_await_waiters(p, 1);
	ck_assert_int_eq(shpool_free(p, 1), 0);
	ck_assert_int_eq(read_result(fds[0]), 1);
	ck_assert_int_eq(test_wait(pid), 0);
	ck_assert_int_eq(shpool_owner(p, 1), pid);
	shpool_close(p);
}
END_TEST

START_TEST(free_n_wakes_all_it_freed)
{
	enum { N = 4 };
	shpool_t *p = test_anon_pool(N, 8, 0);
	uint64_t idx[N], got[N];
	struct waiter_arg w;
	pid_t pids[N];
	int fds[2];

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(shpool_alloc_n(p, idx, N, 0), 0);
	w = (struct waiter_arg){ p, -1, fds[1] };
	for (int i = 0; i < N; i++)
		pids[i] = test_fork(waiter_child, &w);
	test_await_waiters(p, N);
	ck_assert_int_eq(shpool_free_n(p, idx, N), N);
	for (int i = 0; i < N; i++) {
		got[i] = (uint64_t)read_result(fds[0]);
		ck_assert_uint_lt(got[i], N);
		for (int j = 0; j < i; j++)
			ck_assert_uint_ne(got[i], got[j]);
	}
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(test_wait(pids[i]), 0);
	ck_assert_uint_eq(shpool_used(p), N);
	shpool_close(p);
}
END_TEST

static atomic_int signals_seen;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&signals_seen, 1);
}

struct sig_arg {
	shpool_t *p;
	int64_t got;
	int64_t elapsed;
	atomic_int done;
};

static void *sig_waiter(void *arg)
{
	struct sig_arg *a = arg;
	int64_t t0 = now_ms();

	a->got = shpool_alloc(a->p, 1000);
	a->elapsed = now_ms() - t0;
	atomic_store(&a->done, 1);
	return NULL;
}

/* A signal runs its handler and the wait resumes with the time left: the
 * call neither returns early nor restarts its full timeout. Signals are
 * sent only while the waiter is registered as blocked; on a loaded machine
 * fewer than 5 may make it in before the deadline, but at least one must. */
START_TEST(signal_resumes_wait)
{
	struct sigaction sa = { .sa_handler = on_usr1 }; /* no SA_RESTART */
	shpool_t *p = test_anon_pool(1, 8, 0);
	struct sig_arg a = { p, 0, 0, 0 };
	shpool_stats_t st;
	pthread_t t;
	int sent = 0;

	sigaction(SIGUSR1, &sa, NULL);
	atomic_store(&signals_seen, 0);
	ck_assert_int_eq(shpool_try_alloc(p), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, sig_waiter, &a), 0);
	while (sent < 5 && !atomic_load(&a.done)) {
		ck_assert_int_eq(shpool_stats(p, &st), 0);
		if (st.waiters == 0) {
			sched_yield();
			continue;
		}
		pthread_kill(t, SIGUSR1);
		sent++;
		while (atomic_load(&signals_seen) < sent)
			sched_yield();
	}
	pthread_join(t, NULL);
	ck_assert_int_ge(sent, 1);
	ck_assert_int_eq(atomic_load(&signals_seen), sent);
	ck_assert_int_eq(a.got, -ETIMEDOUT);
	ck_assert_int_ge(a.elapsed, 1000);
	ck_assert_int_lt(a.elapsed, 10000);
	shpool_close(p);
}
END_TEST

static void *free_after_signal(void *arg)
{
	struct sig_arg *a = arg;

	a->got = shpool_alloc(a->p, -1);
	return NULL;
}

START_TEST(signal_does_not_lose_slot)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	shpool_t *p = test_anon_pool(1, 8, 0);
	struct sig_arg a = { p, -1, 0, 0 };
	pthread_t t;

	sigaction(SIGUSR1, &sa, NULL);
	ck_assert_int_eq(shpool_try_alloc(p), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, free_after_signal, &a), 0);
	test_await_waiters(p, 1);
	pthread_kill(t, SIGUSR1);
	ck_assert_int_eq(shpool_free(p, 0), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(a.got, 0);
	shpool_close(p);
}
END_TEST

/* ---- contention: exclusive ownership --------------------------------- */

#define HAMMER_PROCS 4
#define HAMMER_THREADS 2
#define HAMMER_ROUNDS 20000

struct hammer {
	shpool_t *p;
	uint64_t id;
	uint64_t bad;
};

/* Each owner stamps its id over the whole slot, spins a little, and checks
 * the stamp is still all its own: two owners at once would overwrite. */
static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	size_t words = shpool_elem_size(h->p) / 8;

	for (int r = 0; r < HAMMER_ROUNDS; r++) {
		uint64_t idx[3];
		size_t n = (r % 7 == 0) ? 3 : 1;

		if (n == 3 ? shpool_alloc_n(h->p, idx, 3, -1) != 0
			   : (int64_t)(idx[0] = (uint64_t)shpool_alloc(h->p, -1)) < 0) {
			h->bad++;
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			_Atomic uint64_t *s = shpool_ptr(h->p, idx[k]);
			for (size_t i = 0; i < words; i++)
				atomic_store_explicit(&s[i], h->id, memory_order_relaxed);
		}
		for (int spin = 0; spin < 20; spin++)
			__asm__ __volatile__("" ::: "memory");
		for (size_t k = 0; k < n; k++) {
			_Atomic uint64_t *s = shpool_ptr(h->p, idx[k]);
			for (size_t i = 0; i < words; i++)
				h->bad += atomic_load_explicit(&s[i], memory_order_relaxed) != h->id;
		}
		h->bad += n == 3 ? shpool_free_n(h->p, idx, 3) != 3 : shpool_free(h->p, idx[0]) != 0;
	}
	return NULL;
}

static int hammer_proc(void *arg)
{
	shpool_t *p = arg;
	struct hammer h[HAMMER_THREADS];
	pthread_t t[HAMMER_THREADS];
	uint64_t bad = 0;

	for (int i = 0; i < HAMMER_THREADS; i++) {
		h[i] = (struct hammer){ p, ((uint64_t)getpid() << 8) | (uint64_t)i, 0 };
		pthread_create(&t[i], NULL, hammer_thread, &h[i]);
	}
	for (int i = 0; i < HAMMER_THREADS; i++) {
		pthread_join(t[i], NULL);
		bad += h[i].bad;
	}
	return bad ? 1 : 0;
}

START_TEST(no_slot_has_two_owners)
{
	/* Fewer slots than threads, so allocation blocks and hands over. */
	static const uint64_t caps[] = { 5, 64, 1000 };
	shpool_t *p = test_anon_pool(caps[_i], 32, 0);
	shpool_stats_t st;
	pid_t pids[HAMMER_PROCS];

	for (int i = 0; i < HAMMER_PROCS; i++)
		pids[i] = test_fork(hammer_proc, p);
	for (int i = 0; i < HAMMER_PROCS; i++)
		ck_assert_int_eq(test_wait(pids[i]), 0);
	ck_assert_uint_eq(shpool_used(p), 0);
	ck_assert_int_eq(shpool_stats(p, &st), 0);
	ck_assert_uint_eq(st.waiters, 0);
	shpool_close(p);
}
END_TEST

/* ---- fairness: no waiter starves ------------------------------------ */

#define STARVE_WAITERS 3
#define STARVE_QUOTA 300

struct starve {
	shpool_t *p;
	_Atomic int *done; /* waiters finished, in shared memory */
};

/* Hogs allocate and free as fast as they can until every waiter is done. */
static int hog(void *arg)
{
	struct starve *s = arg;

	while (atomic_load(s->done) < STARVE_WAITERS) {
		int64_t i = shpool_alloc(s->p, -1);
		if (i < 0 || shpool_free(s->p, (uint64_t)i) != 0)
			return 1;
	}
	return 0;
}

/* A waiter only ever blocks without a deadline; it must still get its
 * quota while the hogs keep succeeding, or the test's timeout fails it. */
static int patient(void *arg)
{
	struct starve *s = arg;

	for (int i = 0; i < STARVE_QUOTA; i++) {
		int64_t x = shpool_alloc(s->p, -1);
		if (x < 0 || shpool_free(s->p, (uint64_t)x) != 0)
			return 1;
	}
	atomic_fetch_add(s->done, 1);
	return 0;
}

START_TEST(no_waiter_starves)
{
	shpool_t *p = test_anon_pool(2, 8, 0);
	_Atomic int *done = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct starve s = { p, done };
	pid_t pids[STARVE_WAITERS + 3];
	int n = 0;

	for (int i = 0; i < 3; i++)
		pids[n++] = test_fork(hog, &s);
	for (int i = 0; i < STARVE_WAITERS; i++)
		pids[n++] = test_fork(patient, &s);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(test_wait(pids[i]), 0);
	ck_assert_int_eq(atomic_load(done), STARVE_WAITERS);
	munmap((void *)done, 4096);
	shpool_close(p);
}
END_TEST

/* ---- identity after fork --------------------------------------------- */

static int alloc_in_child(void *arg)
{
	shpool_t *p = arg;
	int64_t s = shpool_try_alloc(p);

	return s >= 0 && shpool_owner(p, (uint64_t)s) == getpid() ? 0 : 1;
}

START_TEST(child_owns_its_slots)
{
	shpool_t *p = test_anon_pool(16, 8, 0);
	int64_t mine = shpool_try_alloc(p);
	pid_t pid;

	ck_assert_int_eq(shpool_owner(p, (uint64_t)mine), getpid());
	pid = test_fork(alloc_in_child, p);
	ck_assert_int_eq(test_wait(pid), 0);
	ck_assert_uint_eq(shpool_used(p), 2);
	for (uint64_t i = 0; i < 16; i++)
		if (i != (uint64_t)mine && shpool_is_allocated(p, i) == 1)
			ck_assert_int_eq(shpool_owner(p, i), pid);
	shpool_close(p);
}
END_TEST

/* Where a fresh pool's first allocation lands depends on the thread alone,
 * not on what it did with other pools (a migrated test suite replays a
 * workload and expects the same indices): the search hint is per pool. */
static int64_t first_of_fresh_pool(void)
{
	shpool_t *p;
	int64_t idx;

	ck_assert_int_eq(shpool_create(&p, NULL, SHPOOL_RAW, 256, 8, NULL), 0);
	idx = shpool_try_alloc(p);
	shpool_close(p);
	return idx;
}

START_TEST(fresh_pool_ignores_other_pools)
{
	int64_t first = first_of_fresh_pool();
	shpool_t *busy;

	ck_assert_int_ge(first, 0);
	/* Fill the word this thread starts in and move on, in another pool
	 * of the same geometry (4 words of 64 slots). */
	ck_assert_int_eq(shpool_create(&busy, NULL, SHPOOL_RAW, 256, 8, NULL), 0);
	for (int i = 0; i < 70; i++)
		ck_assert_int_ge(shpool_try_alloc(busy), 0);
	ck_assert_int_eq(first_of_fresh_pool(), first);
	ck_assert_int_eq(first_of_fresh_pool(), first);
	shpool_close(busy);
}
END_TEST

START_TEST(null_handle)
{
	uint64_t x;

	ck_assert_fails(shpool_alloc(NULL, 0), -EINVAL, "NULL pool");
	ck_assert_fails(shpool_try_alloc(NULL), -EINVAL, "NULL pool");
	ck_assert_fails(shpool_free(NULL, 0), -EINVAL, "NULL pool");
	ck_assert_fails(shpool_alloc_n(NULL, &x, 1, 0), -EINVAL, "NULL pool");
	ck_assert_fails(shpool_free_n(NULL, &x, 1), -EINVAL, "NULL pool");
	ck_assert_fails(shpool_is_allocated(NULL, 0), -EINVAL, "NULL pool");
	ck_assert_uint_eq(shpool_used(NULL), 0);
	ck_assert_uint_eq(shpool_available(NULL), 0);
}
END_TEST

static Suite *make_alloc_suite(void)
{
	Suite *s = suite_create("alloc");
	TCase *basic = tcase_create("basic");
	TCase *batch = tcase_create("batch");
	TCase *block = tcase_create("blocking");
	TCase *contend = tcase_create("contention");

	/* Timeouts are hang detectors, sized for a loaded 2-core machine. */
	tcase_set_timeout(basic, 60);
	tcase_set_timeout(batch, 30);
	tcase_add_loop_test(basic, alloc_until_full, 0, 10);
	tcase_add_test(basic, free_errors);
	tcase_add_test(basic, zero_on_alloc);
	tcase_add_test(basic, zeroed_before_published);
	tcase_add_test(basic, child_owns_its_slots);
	tcase_add_test(basic, null_handle);
	tcase_add_test(basic, fresh_pool_ignores_other_pools);
	tcase_add_test(batch, batch_all_or_nothing);
	tcase_add_test(batch, batch_free_counts);
	tcase_set_timeout(block, 60);
	tcase_add_test(block, timeout_honoured);
	tcase_add_loop_test(block, free_wakes_waiter, 0, 2);
	tcase_add_test(block, free_n_wakes_all_it_freed);
	tcase_add_test(block, signal_resumes_wait);
	tcase_add_test(block, signal_does_not_lose_slot);
	tcase_set_timeout(contend, 120);
	tcase_add_loop_test(contend, no_slot_has_two_owners, 0, 3);
	tcase_add_test(contend, no_waiter_starves);
	suite_add_tcase(s, basic);
	suite_add_tcase(s, batch);
	suite_add_tcase(s, block);
	suite_add_tcase(s, contend);
	return s;
}

int main(void)
{
	return test_run_suite(make_alloc_suite());
}

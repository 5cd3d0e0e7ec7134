/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/identity.c: who owns a slot, and whether that owner is alive.
 * An owner record names a process by PID and start time, so a recycled PID
 * is another process; a zombie is dead, a process whose main thread exited
 * is not; a live owner that exec'd keeps its slots but is reported; and the
 * start times read in another time namespace name the same processes.
 * Recovery (recover_stale, check) is what acts on the answers, so the tests
 * ask through it. White-box: writes owner records.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shpool-internal.h"
#include "testutil.h"
#include "whitebox.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* ---- liveness --------------------------------------------------------- */

START_TEST(pid_reuse_is_not_life)
{
	shpool_t *p = test_anon_pool(16, 8, 0);
	struct shpool *sp = p;
	int64_t a = shpool_try_alloc(p), b = shpool_try_alloc(p);

	ck_assert_uint_ne(test_my_start(), 0); /* /proc is there: full identity */
	/* Slot a: a record naming our PID with another start time, i.e. an
	 * earlier process whose PID we were given. It is dead: recovered. */
	atomic_store(&sp->owner[a], test_record(getpid(), test_my_start() - 1));
	ck_assert_int_eq(shpool_owner(p, (uint64_t)a), getpid());
	ck_assert_int_eq(shpool_check(p, NULL), 1);
	ck_assert_int_eq(shpool_recover_stale(p), 1);
	ck_assert_int_eq(shpool_is_allocated(p, (uint64_t)a), 0);
	/* Slot b: our own record is left alone. */
	ck_assert_int_eq(shpool_is_allocated(p, (uint64_t)b), 1);
	test_assert_consistent(p);
	shpool_close(p);
}
END_TEST

static int exit_now(void *arg)
{
	(void)arg;
	return 0;
}

START_TEST(live_process_keeps_slots)
{
	shpool_t *p = test_anon_pool(16, 8, 0);
	struct shpool *sp = p;
	pid_t parent = getppid(), dead = test_fork(exit_now, NULL);
	uint64_t parent_start = 0;
	int64_t a = shpool_try_alloc(p), b = shpool_try_alloc(p), c = shpool_try_alloc(p);
	char path[64], buf[1024], *q;
	FILE *f;

	ck_assert_int_eq(test_wait(dead), 0);
	/* The parent's real start time from /proc. */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)parent);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	buf[fread(buf, 1, sizeof(buf) - 1, f)] = 0;
	fclose(f);
	q = strrchr(buf, ')');
	for (int field = 3; field <= 22; field++)
		q = strchr(q + 1, ' ');
	parent_start = strtoull(q + 1, NULL, 10);

	/* a: another live process with its true start time: kept. */
	atomic_store(&sp->owner[a], test_record(parent, parent_start));
	/* b: that live PID but another start time: its slot was the dead
	 * predecessor's: freed. */
	atomic_store(&sp->owner[b], test_record(parent, parent_start + 1));
	/* c: a PID that has exited (and been reaped): freed. */
	atomic_store(&sp->owner[c], test_record(dead, 1));
	ck_assert_int_eq(shpool_recover_stale(p), 2);
	ck_assert_int_eq(shpool_is_allocated(p, (uint64_t)a), 1);
	ck_assert_int_eq(shpool_owner(p, (uint64_t)a), parent);
	ck_assert_int_eq(shpool_is_allocated(p, (uint64_t)b), 0);
	ck_assert_int_eq(shpool_is_allocated(p, (uint64_t)c), 0);
	/* The parent lives but has never mapped this pool: kept, and
	 * reported (see exec_keeps_slots_reported). */
	ck_assert_int_eq(shpool_check(p, NULL), 1);
	ck_assert_int_eq(shpool_free(p, (uint64_t)a), 0);
	test_assert_consistent(p);
	shpool_close(p);
}
END_TEST

/* execve(2) keeps PID and start time: a process that held slots and had a
 * thread blocked in the pool, then exec'd, still looks alive to recovery,
 * which leaves its slots alone (it cannot tell an exec from a process that
 * closed its handle after handing a slot on). shpool_check() says so: the
 * live owner no longer maps the pool. Once it exits, recovery frees all. */
static void *block_for_two(void *arg)
{
	uint64_t two[2];

	shpool_alloc_n(arg, two, 2, -1); /* never returns: the exec ends us */
	return NULL;
}

static int hold_block_exec(void *arg)
{
	shpool_t *p = arg;
	pthread_t t;

	for (int i = 0; i < 3; i++)
		if (shpool_try_alloc(p) < 0)
			return 1;
	if (pthread_create(&t, NULL, block_for_two, p) != 0)
		return 1;
	test_await_waiters(p, 1);
	execl("/bin/sleep", "sleep", "60", (char *)NULL);
	return 1;
}

START_TEST(exec_keeps_slots_reported)
{
	shpool_t *p = test_anon_pool(4, 8, 0);
	char *text = NULL, byte;
	size_t len = 0;
	FILE *report;
	int execd[2];
	pid_t c;

	/* The child's copy of the close-on-exec write end is its last one:
	 * the read returns 0 once the exec has replaced the child's mappings
	 * (or it died). Not /proc/PID/comm, which names valgrind, not sleep,
	 * when valgrind follows the exec. */
	ck_assert_int_eq(pipe2(execd, O_CLOEXEC), 0);
	c = test_fork(hold_block_exec, p);
	close(execd[1]);
	while (read(execd[0], &byte, 1) < 0)
		ck_assert_int_eq(errno, EINTR);
	close(execd[0]);
	ck_assert_uint_eq(shpool_used(p), 3);
	ck_assert_uint_eq(test_waiters(p), 1);
	ck_assert_int_eq(shpool_recover_stale(p), 0); /* a live owner, as far as it can tell */
	report = open_memstream(&text, &len);
	ck_assert_int_eq(shpool_check(p, report), 4);
	fclose(report);
	ck_assert_msg(strstr(text, "held by a live process that no longer maps this pool"), "%s",
		      text);
	ck_assert_msg(strstr(text, "waiters: 1 counted for a live process that no longer maps"),
		      "%s", text);
	free(text);
	ck_assert_int_eq(kill(c, SIGKILL), 0);
	ck_assert_int_eq(test_wait(c), 128 + SIGKILL);
	ck_assert_int_eq(shpool_recover_stale(p), 3);
	ck_assert_uint_eq(test_waiters(p), 0);
	test_assert_consistent(p);
	shpool_close(p);
}
END_TEST

/* A zombie (exited, not reaped) will never free: its slots are stale. */
static int hold_and_exit(void *arg)
{
	return shpool_try_alloc(arg) >= 0 ? 0 : 1;
}

START_TEST(zombie_owner_is_dead)
{
	shpool_t *p = test_anon_pool(16, 8, 0);
	pid_t z = test_fork(hold_and_exit, p);
	siginfo_t si;

	/* Wait for the exit without reaping it. */
	ck_assert_int_eq(waitid(P_PID, (id_t)z, &si, WEXITED | WNOWAIT), 0);
	ck_assert_uint_eq(shpool_used(p), 1);
	ck_assert_int_eq(shpool_recover_stale(p), 1);
	ck_assert_uint_eq(shpool_used(p), 0);
	ck_assert_int_eq(test_wait(z), 0);
	shpool_close(p);
}
END_TEST

/* A process whose main thread called pthread_exit() while another thread
 * goes on shows as a zombie in /proc/PID/stat: it is alive all the same. */
struct leader_exit {
	shpool_t *p;
	int ready;     /* write end: "slot taken" */
	int release;   /* read end: EOF ends the last thread */
	int release_w; /* the parent's end, closed in the child */
};

static void *hold_until_released(void *arg)
{
	struct leader_exit *le = arg;
	char c;

	if (shpool_try_alloc(le->p) < 0 || write(le->ready, "x", 1) != 1)
		_exit(2);
	while (read(le->release, &c, 1) > 0)
		;
	shpool_close(le->p); /* this process's copy; the leader's stack is gone */
	_exit(0);
}

static int leader_exits(void *arg)
{
	struct leader_exit *le = arg;
	pthread_t t;

	close(le->release_w);
	if (pthread_create(&t, NULL, hold_until_released, arg) != 0)
		return 2;
	pthread_exit(NULL);
}

/* Static: the holding thread reads it after the leader's stack is gone. */
static struct leader_exit le;

START_TEST(main_thread_exit_is_not_death)
{
	shpool_t *p = test_anon_pool(16, 8, 0);
	int ready[2], release[2];
	char path[64], state = 0, buf[512], *q;
	pid_t pid;
	FILE *f;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(release), 0);
	le = (struct leader_exit){ p, ready[1], release[0], release[1] };
	pid = test_fork(leader_exits, &le);
	close(release[0]);
	ck_assert_int_eq(read(ready[0], &state, 1), 1);
	/* Until /proc shows the leader as a zombie. */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	do {
		f = fopen(path, "r");
		ck_assert_ptr_nonnull(f);
		buf[fread(buf, 1, sizeof(buf) - 1, f)] = 0;
		fclose(f);
		q = strrchr(buf, ')');
		state = q ? q[2] : 0;
	} while (state != 'Z' && sched_yield() == 0);
	ck_assert_int_eq(shpool_recover_stale(p), 0);
	ck_assert_uint_eq(shpool_used(p), 1);
	ck_assert_int_eq(shpool_check(p, NULL), 0);
	/* Once the last thread is gone too, the slot is stale. */
	close(release[1]);
	ck_assert_int_eq(test_wait(pid), 0);
	ck_assert_int_eq(shpool_recover_stale(p), 1);
	shpool_close(p);
}
END_TEST

/* ---- time namespaces ------------------------------------------------ */

/* A process in a time namespace whose boottime is 100000 s ahead reads
 * every start time in /proc/PID/stat 100000 s later than the host does. */
static int enter_shifted_time_namespace(void)
{
	static const char offsets[] = "boottime 100000 0";
	int fd, ok;

	if (unshare(CLONE_NEWTIME) != 0)
		return -errno;
	fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ok = write(fd, offsets, strlen(offsets)) == (ssize_t)strlen(offsets);
	close(fd);
	return ok ? 0 : -EIO;
}

/* In the shifted namespace (a child of the unsharing process: only
 * children enter it): recover, then hold a slot and stop, so the parent's
 * recovery can judge a live holder from across the namespaces. */
static int recover_from_shifted_time(void *arg)
{
	shpool_t *p = arg;

	if (shpool_recover_stale(p) != 0)
		return 2; /* it freed the live parent's slots */
	if (shpool_try_alloc(p) < 0)
		return 3;
	raise(SIGSTOP);
	return 0;
}

static int unshare_then_recover(void *arg)
{
	if (enter_shifted_time_namespace() != 0)
		return 4;
	return test_wait(test_fork(recover_from_shifted_time, arg));
}

START_TEST(time_namespaces_do_not_change_identity)
{
	shpool_t *p = test_anon_pool(8, 8, 0);
	uint64_t held[4], all[5];
	pid_t mid;
	int st;

	ck_assert_int_eq(shpool_alloc_n(p, held, 4, 0), 0);
	mid = test_fork(unshare_then_recover, p);
	/* The grandchild stops holding one slot: the parent's 4 survived. */
	while (shpool_used(p) < 5) {
		ck_assert_int_eq(waitpid(mid, &st, WNOHANG), 0);
		sched_yield();
	}
	ck_assert_int_eq(shpool_recover_stale(p), 0); /* it is alive */
	ck_assert_uint_eq(shpool_used(p), 5);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(shpool_owner(p, held[i]), getpid());
	/* Dead across the namespaces is dead too. */
	ck_assert_int_eq(shpool_allocated_slots(p, all, 5), 5);
	for (int i = 0; i < 5; i++)
		if (shpool_owner(p, all[i]) != getpid())
			ck_assert_int_eq(kill(shpool_owner(p, all[i]), SIGKILL), 0);
	ck_assert_int_eq(test_wait(mid), 128 + SIGKILL);
	ck_assert_int_eq(shpool_recover_stale(p), 1);
	ck_assert_uint_eq(shpool_used(p), 4);
	shpool_close(p);
}
END_TEST

/* Can this process make time namespaces? (root or CAP_SYS_ADMIN, and a
 * kernel with CONFIG_TIME_NS.) Asked in a child: unshare changes it. */
static int probe_time_ns(void *arg)
{
	(void)arg;
	return enter_shifted_time_namespace() == 0 ? 0 : 1;
}

/* can_make_time_ns: asked before any suite exists, since the probe is a
 * forked child, and one that ends while Check's allocations are reachable
 * only from a local variable shows them to valgrind as leaked. */
static Suite *make_identity_suite(bool can_make_time_ns)
{
	Suite *s = suite_create("identity");
	TCase *live = tcase_create("liveness");

	/* Timeouts are hang detectors, sized for a loaded 2-core machine. */
	tcase_set_timeout(live, 30);
	tcase_add_test(live, pid_reuse_is_not_life);
	tcase_add_test(live, live_process_keeps_slots);
	tcase_add_test(live, exec_keeps_slots_reported);
	tcase_add_test(live, zombie_owner_is_dead);
	tcase_add_test(live, main_thread_exit_is_not_death);
	suite_add_tcase(s, live);
	if (can_make_time_ns) {
		TCase *timens = tcase_create("time_namespaces");

		tcase_set_timeout(timens, 30);
		tcase_add_test(timens, time_namespaces_do_not_change_identity);
		suite_add_tcase(s, timens);
	} else {
		printf("check_identity: time_namespaces NOT RUN: this process cannot make a time "
		       "namespace (needs CAP_SYS_ADMIN and CONFIG_TIME_NS)\n");
	}
	return s;
}

int main(void)
{
	bool can_make_time_ns = test_wait(test_fork(probe_time_ns, NULL)) == 0;

	return test_run_suite(make_identity_suite(can_make_time_ns));
}

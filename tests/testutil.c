/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static char dir[256];
static pid_t dir_owner;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_dir(void)
{
	/* Only the process that made it: forked test children share it. */
	if (dir[0] && getpid() == dir_owner)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *test_dir(void)
{
	if (!dir[0] || getpid() != dir_owner) {
		const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

		snprintf(dir, sizeof(dir), "%s/shpool-test-XXXXXX", base);
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			abort();
		}
		if (!dir_owner)
			atexit(rm_dir);
		dir_owner = getpid();
	}
	return dir;
}

char *test_path(const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", test_dir(), name) < 0)
		abort();
	return p;
}

pid_t test_fork(int (*fn)(void *arg), void *arg)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		abort();
	}
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

int test_wait(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			ck_abort_msg("waitpid(%d): %s", (int)pid, strerror(errno));
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

/* A static, not a local: a forked test child whose main thread ends with
 * pthread_exit() (check_recovery) would otherwise show the runner as
 * leaked under valgrind, its only reference gone with that stack. */
static SRunner *sr;

int test_run_suite(Suite *s)
{
	int failed;

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

uint64_t test_waiters(shpool_t *p)
{
	shpool_stats_t st;

	ck_assert_int_eq(shpool_stats(p, &st), 0);
	return st.waiters;
}

void test_await_waiters(shpool_t *p, uint64_t n)
{
	while (test_waiters(p) < n)
		sched_yield();
}

/* The syscall number process pid is blocked in, -1 if running, or -2 if
 * /proc cannot tell; with arg3, the syscall's third argument too (the
 * line reads "nr arg1 arg2 arg3 ...", arguments in hex). */
static long blocked_in_args(pid_t pid, unsigned long *arg3)
{
	char path[64], buf[256], *end;
	long nr = -2;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -2;
	if (fgets(buf, sizeof(buf), f)) {
		nr = strncmp(buf, "running", 7) == 0 ? -1 : strtol(buf, &end, 10);
		if (nr >= 0 && arg3) {
			for (int i = 0; i < 3; i++)
				*arg3 = strtoul(end, &end, 16);
		}
	}
	fclose(f);
	return nr;
}

static long blocked_in(pid_t pid)
{
	return blocked_in_args(pid, NULL);
}

void test_await_syscall(pid_t pid, long nr)
{
	long now;

	while ((now = blocked_in(pid)) != nr) {
		ck_assert_msg(now != -2, "/proc/%d/syscall is unreadable", (int)pid);
		sched_yield();
	}
}

void test_await_futex_sleep(pid_t pid)
{
	test_await_syscall(pid, SYS_futex);
}

void test_await_futex_sleep_on(pid_t pid, uint32_t val)
{
	unsigned long arg = 0;
	long now;

	while ((now = blocked_in_args(pid, &arg)) != SYS_futex || arg != val) {
		ck_assert_msg(now != -2, "/proc/%d/syscall is unreadable", (int)pid);
		sched_yield();
	}
}

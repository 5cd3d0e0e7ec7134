/* SPDX-License-Identifier: MIT */
/* Shared helpers for the Check test programs. */
#ifndef SHPOOL_TESTUTIL_H
#define SHPOOL_TESTUTIL_H

#include <check.h>
#include <stdbool.h>
#include <sys/types.h>

#include "shpool.h"

/* Run one suite; the process exit status says whether all passed. */
int test_run_suite(Suite *s);

/* A fresh private directory for this test process (removed at exit), and a
 * path inside it. */
const char *test_dir(void);
char *test_path(const char *name);

/* fork(2) a child that runs fn(arg) and _exit()s with its return value. */
pid_t test_fork(int (*fn)(void *arg), void *arg);
/* Wait for pid; returns its exit status, or 128+signal if killed. */
int test_wait(pid_t pid);

/* shpool_stats()'s waiters: allocators registered to sleep now. */
uint64_t test_waiters(shpool_t *p);
/* Poll (yielding, never sleeping) until at least n allocators are
 * registered to sleep: the synchronisation is the pool's own counter, not
 * a guess at timing. */
void test_await_waiters(shpool_t *p, uint64_t n);

/* Poll (yielding) until process pid's main thread is asleep in futex(2)
 * (/proc/PID/syscall): a blocked allocator that has made its last look. */
void test_await_futex_sleep(pid_t pid);
/* The same, until it sleeps in a futex wait for the value val (its third
 * argument): a sleep begun after the futex word became val, not an older
 * one that a wake-up has not ended yet. */
void test_await_futex_sleep_on(pid_t pid, uint32_t val);
/* The same for any system call number nr (SYS_flock, ...). */
void test_await_syscall(pid_t pid, long nr);

/* Assert that rc is the code `want` and that shpool_last_error() contains
 * `needle` (a clear message, not just a code). */
#define ck_assert_fails(rc, want, needle) \
	do { \
		long long rc_ = (long long)(rc); \
		ck_assert_msg(rc_ == (long long)(want), "%s returned %lld (%s), expected %s", #rc, \
			      rc_, shpool_strerror((int)rc_), #want); \
		ck_assert_msg(strstr(shpool_last_error(), (needle)) != NULL, \
			      "last error \"%s\" lacks \"%s\"", shpool_last_error(), (needle)); \
	} while (0)

#endif

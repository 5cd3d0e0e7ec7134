/* SPDX-License-Identifier: MIT */
/* Shared helpers for the Check test programs. */
#ifndef SHPOOL_TESTUTIL_H
#define SHPOOL_TESTUTIL_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "shpool.h"

/* Run one suite; the process exit status says whether all passed. */
int test_run_suite(Suite *s);
/* A test case named name, added to s, whose tests fail after timeout
 * seconds (a hang detector; Check scales it by CK_TIMEOUT_MULTIPLIER). */
TCase *test_tcase(Suite *s, const char *name, double timeout);

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

/* ---- pools ---- */

/* A new pool (path NULL: anonymous) with these parameters and option
 * flags; fails the test, with the library's detail, if it cannot be made. */
shpool_t *test_pool(const char *path, shpool_kind kind, uint64_t capacity, uint32_t elem_size,
		    unsigned flags);
/* The same for the most common case: an anonymous RAW pool. */
shpool_t *test_anon_pool(uint64_t capacity, uint32_t elem_size, unsigned flags);
/* A RAW pool file made and closed: what a later attacher finds on disk. */
void test_pool_file(const char *path, uint64_t capacity, uint32_t elem_size);
/* A pool file of 100 x 16-byte RAW slots in the test directory, whose size
 * (a whole number of pages, at least two) goes to *size. */
char *test_pristine_pool(off_t *size);
/* Allocate one slot (no wait); fails the test, with the detail, if none. */
uint64_t test_alloc1(shpool_t *p);
/* Check must be clean; on failure, it prints what it found. */
void test_assert_consistent(shpool_t *p);
/* fork(2) a child that allocates n slots of p (inherited) and ends holding
 * them: killed by signal sig, or exiting 0 when sig is 0. Either way a
 * crashed owner; a child whose allocation failed exits 1. */
pid_t test_fork_holder(shpool_t *p, unsigned n, int sig);

/* ---- files ---- */

/* The unprivileged user and group the tests drop to when run as root. */
#define TEST_NOBODY 65534
/* Drop every group and become TEST_NOBODY: 0, or -errno. */
int test_become_nobody(void);
/* Does something (a link, a file, ...) exist at path? */
bool test_exists(const char *path);
/* path's size (stat(2), following links). */
off_t test_file_size(const char *path);
/* Create path (it must not exist: O_EXCL), mode 0600, holding len bytes. */
void test_write_file(const char *path, const void *buf, size_t len);
/* The whole of path, NUL-terminated (malloc'd); its length in *len. */
char *test_slurp(const char *path, size_t *len);
/* The names in dir (not . and ..), space-separated into names; their count. */
int test_list_dir(const char *dir, char *names, size_t size);
/* A file's identity and bytes, to prove that a call left it alone. */
struct test_file {
	struct stat st; /* lstat(2) */
	char *data;
	size_t len;
};
struct test_file test_file_state(const char *path);
/* path is still the file *before was (same inode, size and bytes); frees
 * before's data. */
void test_assert_unchanged(const char *path, struct test_file *before);
/* The same, and not even its mode or modification time changed. */
void test_assert_untouched(const char *path, struct test_file *before);

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

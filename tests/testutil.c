/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
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
 * pthread_exit() (check_identity) would otherwise show the runner as
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

TCase *test_tcase(Suite *s, const char *name, double timeout)
{
	TCase *t = tcase_create(name);

	tcase_set_timeout(t, timeout);
	suite_add_tcase(s, t);
	return t;
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

/* ---- pools ---------------------------------------------------------------- */

shpool_t *test_pool(const char *path, shpool_kind kind, uint64_t capacity, uint32_t elem_size,
		    unsigned flags)
{
	shpool_options o = { .flags = flags };
	shpool_t *p = NULL;
	int rc = shpool_create(&p, path, kind, capacity, elem_size, &o);

	ck_assert_msg(rc == 0, "shpool_create(%s, kind %d, %" PRIu64 ", %" PRIu32 ", 0x%x): %d %s",
		      path ? path : "anonymous", (int)kind, capacity, elem_size, flags, rc,
		      shpool_last_error());
	ck_assert_ptr_nonnull(p);
	return p;
}

shpool_t *test_anon_pool(uint64_t capacity, uint32_t elem_size, unsigned flags)
{
	return test_pool(NULL, SHPOOL_RAW, capacity, elem_size, flags);
}

void test_pool_file(const char *path, uint64_t capacity, uint32_t elem_size)
{
	shpool_close(test_pool(path, SHPOOL_RAW, capacity, elem_size, 0));
}

char *test_pristine_pool(off_t *size)
{
	char *path = test_path("pristine");
	const off_t page = 4096;

	test_pool_file(path, 100, 16);
	*size = test_file_size(path);
	ck_assert_int_ge(*size, 2 * page);
	ck_assert_int_eq(*size % page, 0);
	return path;
}

uint64_t test_alloc1(shpool_t *p)
{
	int64_t idx = shpool_alloc(p, 0);

	ck_assert_msg(idx >= 0, "shpool_alloc: %s", shpool_last_error());
	return (uint64_t)idx;
}

void test_assert_consistent(shpool_t *p)
{
	int problems = shpool_check(p, NULL);

	if (problems != 0)
		shpool_check(p, stderr);
	ck_assert_int_eq(problems, 0);
}

struct holder {
	shpool_t *p;
	unsigned n;
	int sig;
};

static int hold_then_end(void *arg)
{
	const struct holder *h = arg;

	for (unsigned i = 0; i < h->n; i++)
		if (shpool_try_alloc(h->p) < 0)
			return 1;
	if (h->sig)
		raise(h->sig);
	return 0;
}

pid_t test_fork_holder(shpool_t *p, unsigned n, int sig)
{
	struct holder h = { p, n, sig };

	/* The child has its own copy of h. */
	return test_fork(hold_then_end, &h);
}

/* ---- files ------------------------------------------------------------------ */

int test_become_nobody(void)
{
	if (setgroups(0, NULL) != 0 || setgid(TEST_NOBODY) != 0 || setuid(TEST_NOBODY) != 0)
		return -errno;
	return 0;
}

bool test_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

off_t test_file_size(const char *path)
{
	struct stat st;

	ck_assert_msg(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
	return st.st_size;
}

void test_write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	ck_assert_msg(fd >= 0, "create %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

char *test_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t n = 0, cap = 0, got;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	do {
		if (n + 4096 + 1 > cap) {
			cap = cap ? 2 * cap : 8192;
			buf = realloc(buf, cap);
			ck_assert(buf != NULL);
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
	} while (got);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

int test_list_dir(const char *path, char *names, size_t size)
{
	DIR *d = opendir(path);
	struct dirent *e;
	size_t used = 0;
	int n = 0;

	ck_assert_msg(d != NULL, "opendir %s: %s", path, strerror(errno));
	names[0] = '\0';
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n++;
		if (used < size)
			used += (size_t)snprintf(names + used, size - used, "%s ", e->d_name);
	}
	closedir(d);
	return n;
}

struct test_file test_file_state(const char *path)
{
	struct test_file f;

	ck_assert_msg(lstat(path, &f.st) == 0, "lstat %s: %s", path, strerror(errno));
	f.data = test_slurp(path, &f.len);
	return f;
}

void test_assert_unchanged(const char *path, struct test_file *before)
{
	struct test_file now = test_file_state(path);

	ck_assert_msg(now.st.st_ino == before->st.st_ino, "%s was replaced by another file", path);
	ck_assert_msg(now.len == before->len && now.st.st_size == before->st.st_size,
		      "%s changed size: %zu -> %zu", path, before->len, now.len);
	ck_assert_msg(memcmp(now.data, before->data, now.len) == 0, "%s content was changed", path);
	free(now.data);
	free(before->data);
	before->data = NULL;
}

void test_assert_untouched(const char *path, struct test_file *before)
{
	struct stat st;

	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_int_eq(st.st_mode, before->st.st_mode);
	ck_assert_int_eq(st.st_mtim.tv_sec, before->st.st_mtim.tv_sec);
	ck_assert_int_eq(st.st_mtim.tv_nsec, before->st.st_mtim.tv_nsec);
	test_assert_unchanged(path, before);
}

/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/segment.c, handles and mappings: anonymous pools shared with
 * forked children, memfd pools and attaching by fd, read-only handles
 * (SHPOOL_RDONLY), and every call given a NULL handle or a NULL out pointer.
 * Every failing call is checked for its code AND for a detail in
 * shpool_last_error(). Child processes never call Check assertions: they
 * report a small number through their exit status, and the test process
 * asserts.
 *
 * A read-only handle maps the pool PROT_READ: a call that wrote to it anyway
 * would die of SIGSEGV, which Check reports as an error of that test. So
 * each "refused with -EROFS" below also proves "never faults".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define PAGE 4096u

/* ---- helpers ------------------------------------------------------------ */

static int count_open_fds(void)
{
	char names[8192];

	/* One of them is the directory stream itself; it cancels out. */
	return test_list_dir("/proc/self/fd", names, sizeof(names));
}

/* Put a known, unrelated detail in shpool_last_error(), so that a later
 * check cannot pass on a stale message. */
static void prime_last_error(void)
{
	shpool_t *p;

	ck_assert_int_eq(shpool_create(&p, NULL, (shpool_kind)77, 1, 1, NULL), -EINVAL);
	ck_assert_str_eq(shpool_last_error(), "unknown pool kind 77");
}

/* ---- anonymous pools --------------------------------------------------------- */

static int alloc_and_mark(void *arg)
{
	shpool_t *p = arg;
	int64_t idx = shpool_try_alloc(p);

	if (idx < 0 || idx > 100)
		return 200;
	memcpy(shpool_ptr(p, (uint64_t)idx), "from child", 11);
	return (int)idx;
}

START_TEST(anon_shared_with_fork)
{
	shpool_t *p = test_pool(NULL, SHPOOL_RAW, 64, 16, 0);
	pid_t pid = test_fork(alloc_and_mark, p);
	int idx = test_wait(pid);
	int64_t mine;

	ck_assert_msg(idx >= 0 && idx < 64, "child failed: exit %d", idx);
	ck_assert_int_eq(shpool_is_allocated(p, (uint64_t)idx), 1);
	ck_assert_uint_eq(shpool_used(p), 1);
	ck_assert_uint_eq(shpool_available(p), 63);
	ck_assert_str_eq(shpool_ptr(p, (uint64_t)idx), "from child");
	ck_assert_int_eq(shpool_owner(p, (uint64_t)idx), pid);
	mine = shpool_try_alloc(p);
	ck_assert_int_ge(mine, 0);
	ck_assert_int_ne(mine, idx);
	ck_assert_uint_eq(shpool_used(p), 2);
	shpool_close(p);
}
END_TEST

/* ---- bad input --------------------------------------------------------------- */

START_TEST(null_out)
{
	char *path = test_path("pool");

	ck_assert_fails(shpool_create(NULL, NULL, SHPOOL_RAW, 10, 8, NULL), -EINVAL, "out");
	ck_assert_fails(shpool_create(NULL, path, SHPOOL_RAW, 10, 8, NULL), -EINVAL, "out");
	ck_assert(!test_exists(path));
	test_pool_file(path, 10, 8);
	ck_assert_fails(shpool_open(NULL, path, SHPOOL_RAW), -EINVAL, "out");
	ck_assert_fails(shpool_create_memfd(NULL, "m", SHPOOL_RAW, 10, 8, NULL), -EINVAL, "out");
	ck_assert_fails(shpool_open_fd(NULL, 0, SHPOOL_RAW), -EINVAL, "out");
	free(path);
}
END_TEST

/* Every public call that takes a handle, called with NULL. */
enum null_want { W_EINVAL, W_NULLPTR, W_ZERO, W_NEG1, W_VOID };

struct null_call {
	const char *name;
	enum null_want want;
	long long (*call)(void);
};

static uint64_t nv_idx[4];
static int64_t nv_i64;
static int32_t nv_i32;
static double nv_f64;
static char nv_str[16];
static const char *nv_view;
static size_t nv_len;
static shpool_stats_t nv_stats;
static shpool_guard_t nv_guard;

static int nc_each(shpool_t *p, uint64_t idx, void *arg)
{
	(void)p;
	(void)idx;
	(void)arg;
	return 0;
}

#define NC(fn, expr) \
	static long long nc_##fn(void) \
	{ \
		return (long long)(expr); \
	}
#define NCP(fn, expr) \
	static long long nc_##fn(void) \
	{ \
		return (long long)(intptr_t)(expr); \
	}
#define NCV(fn, expr) \
	static long long nc_##fn(void) \
	{ \
		expr; \
		return 0; \
	}

/* segment.c */
NCV(close, shpool_close(NULL))
NCP(path, shpool_path(NULL))
NC(memfd, shpool_memfd(NULL))
NC(sync, shpool_sync(NULL))
NC(unlink, shpool_unlink(NULL))
NC(capacity, shpool_capacity(NULL))
NC(elem_size, shpool_elem_size(NULL))
NC(stride, shpool_stride(NULL))
NC(kind_of, shpool_kind_of(NULL))
NCP(data_ptr, shpool_data_ptr(NULL))
NCP(ptr, shpool_ptr(NULL, 0))
/* alloc.c */
NC(alloc, shpool_alloc(NULL, 0))
NC(alloc_forever, shpool_alloc(NULL, -1))
NC(try_alloc, shpool_try_alloc(NULL))
NC(free, shpool_free(NULL, 0))
NC(alloc_n, shpool_alloc_n(NULL, nv_idx, 1, 0))
NC(free_n, shpool_free_n(NULL, nv_idx, 1))
NC(allocated_slots, shpool_allocated_slots(NULL, nv_idx, 4))
NC(each_allocated, shpool_each_allocated(NULL, nc_each, NULL))
NC(is_allocated, shpool_is_allocated(NULL, 0))
NC(used, shpool_used(NULL))
NC(available, shpool_available(NULL))
NC(stats, shpool_stats(NULL, &nv_stats))
/* recovery.c */
NC(owner, shpool_owner(NULL, 0))
NC(recover_stale, shpool_recover_stale(NULL))
NC(reset, shpool_reset(NULL))
NC(check, shpool_check(NULL, NULL))
/* notify.c */
NC(eventfd, shpool_eventfd(NULL))
NC(eventfd_set, shpool_eventfd_set(NULL, -1))
NC(fileno, shpool_fileno(NULL))
NC(notify, shpool_notify(NULL))
NC(eventfd_consume, shpool_eventfd_consume(NULL))
/* typed.c */
NC(get, shpool_get(NULL, 0, nv_str, 1))
NC(set, shpool_set(NULL, 0, nv_str, 1))
NC(i64_get, shpool_i64_get(NULL, 0, &nv_i64))
NC(i64_set, shpool_i64_set(NULL, 0, 1))
NC(i64_cas, shpool_i64_cas(NULL, 0, 0, 1))
NC(i64_cmpxchg, shpool_i64_cmpxchg(NULL, 0, 0, 1, &nv_i64))
NC(i64_xchg, shpool_i64_xchg(NULL, 0, 1, &nv_i64))
NC(i64_add, shpool_i64_add(NULL, 0, 1, &nv_i64))
NC(i64_incr, shpool_i64_incr(NULL, 0, &nv_i64))
NC(i64_decr, shpool_i64_decr(NULL, 0, &nv_i64))
NC(i32_get, shpool_i32_get(NULL, 0, &nv_i32))
NC(i32_set, shpool_i32_set(NULL, 0, 1))
NC(i32_cas, shpool_i32_cas(NULL, 0, 0, 1))
NC(i32_cmpxchg, shpool_i32_cmpxchg(NULL, 0, 0, 1, &nv_i32))
NC(i32_xchg, shpool_i32_xchg(NULL, 0, 1, &nv_i32))
NC(i32_add, shpool_i32_add(NULL, 0, 1, &nv_i32))
NC(i32_incr, shpool_i32_incr(NULL, 0, &nv_i32))
NC(i32_decr, shpool_i32_decr(NULL, 0, &nv_i32))
NC(f64_get, shpool_f64_get(NULL, 0, &nv_f64))
NC(f64_set, shpool_f64_set(NULL, 0, 1.5))
NC(str_get, shpool_str_get(NULL, 0, nv_str, sizeof(nv_str), &nv_len))
NC(str_set, shpool_str_set(NULL, 0, "x", 1))
NC(str_view, shpool_str_view(NULL, 0, &nv_view, &nv_len))
NC(str_max_len, shpool_str_max_len(NULL))
NC(alloc_set, shpool_alloc_set(NULL, nv_str, 1, 0))
NC(alloc_set_i64, shpool_alloc_set_i64(NULL, 1, 0))
NC(alloc_set_i32, shpool_alloc_set_i32(NULL, 1, 0))
NC(alloc_set_f64, shpool_alloc_set_f64(NULL, 1.5, 0))
NC(alloc_set_str, shpool_alloc_set_str(NULL, "x", 1, 0))
NC(guard_alloc, (nv_guard = shpool_guard_alloc(NULL, 0)).idx)
NC(guard_release, shpool_guard_release(NULL))
NC(guard_disarm, shpool_guard_disarm(NULL))
NCV(guard_cleanup, shpool_guard_cleanup(NULL))

#define E(fn, want) { "shpool_" #fn, want, nc_##fn }

static const struct null_call core_calls[] = {
	E(close, W_VOID), E(path, W_NULLPTR), E(memfd, W_NEG1), E(sync, W_EINVAL),
	E(unlink, W_EINVAL), E(capacity, W_ZERO), E(elem_size, W_ZERO), E(stride, W_ZERO),
	E(kind_of, W_EINVAL), E(data_ptr, W_NULLPTR), E(ptr, W_NULLPTR),
	E(alloc, W_EINVAL), E(alloc_forever, W_EINVAL), E(try_alloc, W_EINVAL),
	E(free, W_EINVAL), E(alloc_n, W_EINVAL), E(free_n, W_EINVAL),
	E(allocated_slots, W_EINVAL), E(each_allocated, W_EINVAL), E(is_allocated, W_EINVAL),
	E(used, W_ZERO), E(available, W_ZERO), E(stats, W_EINVAL),
	E(owner, W_EINVAL), E(recover_stale, W_EINVAL), E(reset, W_EINVAL), E(check, W_EINVAL),
	/* shpool_fileno: "-1 if none", like shpool_memfd. */
	E(eventfd, W_EINVAL), E(eventfd_set, W_EINVAL), E(fileno, W_NEG1), E(notify, W_EINVAL),
	E(eventfd_consume, W_EINVAL),
};

static const struct null_call typed_calls[] = {
	E(get, W_EINVAL), E(set, W_EINVAL),
	E(i64_get, W_EINVAL), E(i64_set, W_EINVAL), E(i64_cas, W_EINVAL),
	E(i64_cmpxchg, W_EINVAL), E(i64_xchg, W_EINVAL), E(i64_add, W_EINVAL),
	E(i64_incr, W_EINVAL), E(i64_decr, W_EINVAL),
	E(i32_get, W_EINVAL), E(i32_set, W_EINVAL), E(i32_cas, W_EINVAL),
	E(i32_cmpxchg, W_EINVAL), E(i32_xchg, W_EINVAL), E(i32_add, W_EINVAL),
	E(i32_incr, W_EINVAL), E(i32_decr, W_EINVAL),
	E(f64_get, W_EINVAL), E(f64_set, W_EINVAL),
	E(str_get, W_EINVAL), E(str_set, W_EINVAL), E(str_view, W_EINVAL), E(str_max_len, W_ZERO),
	E(alloc_set, W_EINVAL), E(alloc_set_i64, W_EINVAL), E(alloc_set_i32, W_EINVAL),
	E(alloc_set_f64, W_EINVAL), E(alloc_set_str, W_EINVAL),
	E(guard_alloc, W_EINVAL), E(guard_release, W_EINVAL), E(guard_disarm, W_EINVAL),
	E(guard_cleanup, W_VOID),
};

/* Call each; collect every offender, so one run lists them all. */
static void check_null_calls(const struct null_call *calls, size_t n)
{
	char bad[4096] = "";
	size_t used = 0;

	for (size_t i = 0; i < n; i++) {
		const struct null_call *c = &calls[i];
		long long rc;
		bool ok;

		prime_last_error();
		rc = c->call();
		switch (c->want) {
		case W_EINVAL:
			ok = rc == -EINVAL && strstr(shpool_last_error(), "NULL") != NULL;
			break;
		case W_NULLPTR:
		case W_ZERO:
		case W_VOID:
			ok = rc == 0;
			break;
		case W_NEG1:
			ok = rc == -1;
			break;
		default:
			ok = false;
		}
		if (!ok && used < sizeof(bad))
			used += (size_t)snprintf(bad + used, sizeof(bad) - used,
						 "\n  %s(NULL) = %lld, last error \"%s\"", c->name,
						 rc, shpool_last_error());
	}
	ck_assert_msg(used == 0, "NULL handle mishandled:%s", bad);
}

START_TEST(null_handle_core)
{
	check_null_calls(core_calls, sizeof(core_calls) / sizeof(core_calls[0]));
}
END_TEST

START_TEST(null_handle_typed)
{
	check_null_calls(typed_calls, sizeof(typed_calls) / sizeof(typed_calls[0]));
}
END_TEST

/* ---- memfd and fd attach ----------------------------------------------------- */

static bool cloexec(int fd)
{
	int f = fcntl(fd, F_GETFD);

	ck_assert_int_ge(f, 0);
	return f & FD_CLOEXEC;
}

START_TEST(memfd_basic)
{
	shpool_t *p, *q;
	int fd, seals;
	struct stat st;

	ck_assert_int_eq(shpool_create_memfd(&p, "seg", SHPOOL_RAW, 100, 16, NULL), 0);
	fd = shpool_memfd(p);
	ck_assert_int_ge(fd, 0);
	ck_assert(cloexec(fd));
	ck_assert_ptr_null(shpool_path(p));
	ck_assert_uint_eq(shpool_capacity(p), 100);
	ck_assert_uint_eq(shpool_elem_size(p), 16);
	ck_assert_int_eq(shpool_kind_of(p), SHPOOL_RAW);
	ck_assert_uint_eq((uintptr_t)shpool_data_ptr(p) % PAGE, 0);

	seals = fcntl(fd, F_GET_SEALS);
	ck_assert_int_ge(seals, 0);
	ck_assert_int_eq(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
			 F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	ck_assert_int_eq(fstat(fd, &st), 0);
	errno = 0;
	ck_assert_int_eq(ftruncate(fd, st.st_size / 2), -1);
	ck_assert_int_eq(errno, EPERM);
	errno = 0;
	ck_assert_int_eq(ftruncate(fd, st.st_size + PAGE), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(ftruncate(fd, 0), -1);
	/* F_SEAL_SEAL: nobody can add or change seals later. */
	errno = 0;
	ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	ck_assert_int_eq(errno, EPERM);

	/* A NULL name is allowed. */
	ck_assert_int_eq(shpool_create_memfd(&q, NULL, SHPOOL_STR, 10, 100, NULL), 0);
	ck_assert_int_ge(shpool_memfd(q), 0);
	ck_assert_int_ne(shpool_memfd(q), fd);
	ck_assert_uint_eq(shpool_str_max_len(q), 100);
	shpool_close(q);
	shpool_close(p);
}
END_TEST

START_TEST(memfd_open_fd_shares)
{
	shpool_t *p, *q, *r;
	int fd, dupfd;
	int64_t a, b;

	ck_assert_int_eq(shpool_create_memfd(&p, "seg", SHPOOL_RAW, 100, 16, NULL), 0);
	fd = shpool_memfd(p);
	ck_assert_int_eq(shpool_open_fd(&q, fd, SHPOOL_RAW), 0);
	ck_assert_int_ge(shpool_memfd(q), 0);
	ck_assert_int_ne(shpool_memfd(q), fd);
	ck_assert(cloexec(shpool_memfd(q)));
	ck_assert_ptr_null(shpool_path(q));
	ck_assert_uint_eq(shpool_capacity(q), 100);
	ck_assert_uint_eq(shpool_elem_size(q), 16);
	ck_assert_uint_eq(shpool_stride(q), shpool_stride(p));

	a = shpool_try_alloc(p);
	ck_assert_int_ge(a, 0);
	memcpy(shpool_ptr(p, (uint64_t)a), "hello", 6);
	ck_assert_int_eq(shpool_is_allocated(q, (uint64_t)a), 1);
	ck_assert_str_eq(shpool_ptr(q, (uint64_t)a), "hello");
	b = shpool_try_alloc(q);
	ck_assert_int_ge(b, 0);
	ck_assert_int_ne(a, b);
	ck_assert_int_eq(shpool_is_allocated(p, (uint64_t)b), 1);
	ck_assert_uint_eq(shpool_used(p), 2);
	ck_assert_uint_eq(shpool_used(q), 2);

	/* Closing the attached handle leaves the caller's fd open. */
	shpool_close(q);
	ck_assert_int_ne(fcntl(fd, F_GETFD), -1);
	ck_assert_int_eq(shpool_is_allocated(p, (uint64_t)b), 1);

	/* The pool keeps its own duplicate: the caller may close its fd. */
	dupfd = dup(fd);
	ck_assert_int_ge(dupfd, 0);
	ck_assert_int_eq(shpool_open_fd(&r, dupfd, SHPOOL_RAW), 0);
	close(dupfd);
	ck_assert_uint_eq(shpool_used(r), 2);
	ck_assert_int_ge(shpool_try_alloc(r), 0);
	ck_assert_uint_eq(shpool_used(p), 3);
	ck_assert_fails(shpool_unlink(r), -EINVAL, "no file");
	shpool_close(r);
	shpool_close(p);
}
END_TEST

START_TEST(open_fd_bad)
{
	static unsigned char zeros[2 * PAGE];
	char *junk = test_path("junk"), *tiny = test_path("tiny"), *pool = test_path("pool");
	shpool_t *p = (shpool_t *)&p, *m;
	int fds_before, closed, pfd[2], fd;

	ck_assert_int_eq(shpool_create_memfd(&m, "seg", SHPOOL_RAW, 100, 16, NULL), 0);
	test_write_file(junk, zeros, sizeof(zeros));
	test_write_file(tiny, zeros, 10);
	test_pool_file(pool, 100, 16);
	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	closed = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(closed, 0);
	close(closed);
	fds_before = count_open_fds();

	ck_assert_fails(shpool_open_fd(&p, -1, SHPOOL_RAW), -EBADF, "bad fd -1");
	ck_assert_ptr_null(p);
	ck_assert_fails(shpool_open_fd(&p, closed, SHPOOL_RAW), -EBADF, "Bad file descriptor");
	ck_assert_fails(shpool_open_fd(&p, pfd[0], SHPOOL_RAW), -EINVAL, "not a regular file");
	ck_assert_fails(shpool_open_fd(&p, shpool_memfd(m), SHPOOL_I64), -EINVAL,
			"kind mismatch: segment has RAW, asked I64");

	fd = open(junk, O_RDWR | O_CLOEXEC);
	ck_assert_fails(shpool_open_fd(&p, fd, SHPOOL_RAW), -EBADMSG, "bad magic");
	close(fd);
	fd = open(tiny, O_RDWR | O_CLOEXEC);
	ck_assert_fails(shpool_open_fd(&p, fd, SHPOOL_RAW), -EBADMSG, "truncated");
	close(fd);
	/* A shared writable mapping needs a writable fd. */
	fd = open(pool, O_RDONLY | O_CLOEXEC);
	ck_assert_fails(shpool_open_fd(&p, fd, SHPOOL_RAW), -EACCES, "attach with SHPOOL_RDONLY");
	close(fd);
	ck_assert_ptr_null(p);
	/* No failure leaked its duplicate. */
	ck_assert_int_eq(count_open_fds(), fds_before);
	close(pfd[0]);
	close(pfd[1]);
	shpool_close(m);
	free(junk);
	free(tiny);
	free(pool);
}
END_TEST

START_TEST(open_fd_of_file)
{
	char *path = test_path("pool");
	shpool_t *p = test_pool(path, SHPOOL_I32, 50, 0, 0), *q;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int64_t a;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(shpool_open_fd(&q, fd, SHPOOL_I32), 0);
	close(fd);
	/* A plain file is not reported as a memfd, and has no path here. */
	ck_assert_int_eq(shpool_memfd(q), -1);
	ck_assert_ptr_null(shpool_path(q));
	ck_assert_uint_eq(shpool_capacity(q), 50);
	ck_assert_uint_eq(shpool_elem_size(q), 4);
	a = shpool_try_alloc(q);
	ck_assert_int_ge(a, 0);
	ck_assert_int_eq(shpool_is_allocated(p, (uint64_t)a), 1);
	ck_assert_fails(shpool_unlink(q), -EINVAL, "fd-backed");
	ck_assert(test_exists(path));
	shpool_close(q);
	shpool_close(p);
	free(path);
}
END_TEST

/* ---- read-only handles ------------------------------------------------------- */

static shpool_t *attach_ro(const char *path, shpool_kind kind)
{
	shpool_t *p = NULL;
	int rc = shpool_attach(&p, path, kind, SHPOOL_RDONLY);

	ck_assert_msg(rc == 0, "attach %s read-only: %d %s", path, rc, shpool_last_error());
	ck_assert_int_eq(shpool_is_readonly(p), 1);
	return p;
}

/* -EROFS and a detail naming the call and the flag. */
#define ck_assert_rofs(call, fn) \
	do { \
		ck_assert_fails((call), -EROFS, "pool opened read-only (SHPOOL_RDONLY): "); \
		ck_assert_msg(strstr(shpool_last_error(), fn " changes it"), \
			      "detail \"%s\" does not name %s", shpool_last_error(), fn); \
	} while (0)

struct seen {
	uint64_t n, sum;
};

static int visit(shpool_t *p, uint64_t idx, void *arg)
{
	struct seen *s = arg;

	(void)p;
	s->n++;
	s->sum += idx;
	return 0;
}

/* Everything that reads works on a read-only handle and sees what the
 * writer did. */
START_TEST(rdonly_reads)
{
	char *path = test_path("i64"), *spath = test_path("str");
	shpool_t *w = test_pool(path, SHPOOL_I64, 100, 0, 0);
	shpool_t *sw = test_pool(spath, SHPOOL_STR, 10, 32, 0);
	int64_t a = shpool_alloc_set_i64(w, -42, 0), b = shpool_alloc_set_i64(w, 7, 0);
	int64_t s = shpool_alloc_set_str(sw, "hello", 5, 0);
	shpool_t *r = attach_ro(path, SHPOOL_I64), *sr = attach_ro(spath, SHPOOL_ANY_KIND);
	shpool_stats_t st;
	struct seen seen = { 0, 0 };
	uint64_t idx[4];
	int64_t v = 0;
	char buf[16];
	const char *view;
	size_t len;

	ck_assert(a >= 0 && b >= 0 && s >= 0);
	ck_assert_int_eq(shpool_is_readonly(w), 0);
	ck_assert_int_eq(shpool_is_readonly(NULL), -EINVAL);
	ck_assert_int_eq(shpool_kind_of(r), SHPOOL_I64);
	ck_assert_int_eq(shpool_kind_of(sr), SHPOOL_STR);
	ck_assert_uint_eq(shpool_capacity(r), 100);
	ck_assert_uint_eq(shpool_used(r), 2);
	ck_assert_uint_eq(shpool_available(r), 98);
	ck_assert_int_eq(shpool_is_allocated(r, (uint64_t)a), 1);
	ck_assert_int_eq(shpool_owner(r, (uint64_t)b), getpid());
	ck_assert_int_eq(shpool_i64_get(r, (uint64_t)a, &v), 0);
	ck_assert_int_eq(v, -42);
	ck_assert_int_eq(shpool_get(r, (uint64_t)b, &v, sizeof(v)), 0);
	ck_assert_int_eq(v, 7);
	ck_assert_int_eq(shpool_allocated_slots(r, idx, 4), 2);
	ck_assert_int_eq(shpool_each_allocated(r, visit, &seen), 0);
	ck_assert_uint_eq(seen.n, 2);
	ck_assert_uint_eq(seen.sum, (uint64_t)(a + b));
	ck_assert_int_eq(shpool_stats(r, &st), 0);
	ck_assert_uint_eq(st.used, 2);
	ck_assert_uint_ge(st.allocs, 2);
	ck_assert_int_eq(shpool_check(r, NULL), 0);
	ck_assert_int_eq(shpool_str_get(sr, (uint64_t)s, buf, sizeof(buf), &len), 0);
	ck_assert_str_eq(buf, "hello");
	ck_assert_int_eq(shpool_str_view(sr, (uint64_t)s, &view, &len), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_int_eq(memcmp(view, "hello", 5), 0);
	/* Later writes show through: the same shared mapping, not a copy. */
	ck_assert_int_eq(shpool_i64_set(w, (uint64_t)a, 99), 0);
	ck_assert_int_eq(shpool_i64_get(r, (uint64_t)a, &v), 0);
	ck_assert_int_eq(v, 99);
	ck_assert_int_eq(shpool_sync(r), 0);
	shpool_close(r);
	shpool_close(sr);
	shpool_close(w);
	shpool_close(sw);
	free(path);
	free(spath);
}
END_TEST

/* Every call that would change the pool is refused with -EROFS, names
 * itself, faults nowhere, and changes nothing. */
START_TEST(rdonly_writes_refused)
{
	char *paths[5] = { test_path("raw"), test_path("i64"), test_path("i32"), test_path("f64"),
			   test_path("str") };
	const shpool_kind kinds[5] = { SHPOOL_RAW, SHPOOL_I64, SHPOOL_I32, SHPOOL_F64,
				       SHPOOL_STR };
	shpool_t *w[5], *r[5];
	int64_t held[5];
	uint64_t out[2];
	shpool_stats_t before, after;

	for (int k = 0; k < 5; k++) {
		w[k] = test_pool(paths[k], kinds[k], 64, kinds[k] == SHPOOL_RAW ? 16 :
						    kinds[k] == SHPOOL_STR ? 8 : 0, 0);
		held[k] = shpool_alloc(w[k], 0);
		ck_assert_int_ge(held[k], 0);
		r[k] = attach_ro(paths[k], kinds[k]);
	}
	ck_assert_int_eq(shpool_stats(r[1], &before), 0);

	for (int k = 0; k < 5; k++) {
		shpool_guard_t g = shpool_guard_alloc(r[k], 0);
		shpool_guard_t theirs = { r[k], held[k], getpid() };
		uint64_t h = (uint64_t)held[k];

		ck_assert_rofs(shpool_alloc(r[k], 0), "shpool_alloc");
		ck_assert_rofs(shpool_alloc(r[k], -1), "shpool_alloc"); /* never waits */
		ck_assert_rofs(shpool_try_alloc(r[k]), "shpool_alloc");
		ck_assert_rofs(shpool_alloc_n(r[k], out, 2, 0), "shpool_alloc_n");
		ck_assert_rofs(shpool_free(r[k], h), "shpool_free");
		ck_assert_rofs(shpool_free_n(r[k], &h, 1), "shpool_free_n");
		ck_assert_rofs(shpool_recover_stale(r[k]), "shpool_recover_stale");
		ck_assert_rofs(shpool_reset(r[k]), "shpool_reset");
		ck_assert_rofs(shpool_unlink(r[k]), "shpool_unlink");
		ck_assert_int_eq(g.idx, -EROFS);
		ck_assert_rofs(shpool_guard_release(&theirs), "shpool_free");
		if (kinds[k] != SHPOOL_STR) {
			char zero[16] = { 0 };
			ck_assert_rofs(shpool_set(r[k], h, zero, shpool_elem_size(r[k])),
				       "shpool_set");
			ck_assert_rofs(shpool_alloc_set(r[k], zero, shpool_elem_size(r[k]), 0),
				       "shpool_alloc_set");
		}
		ck_assert_int_eq(shpool_is_allocated(r[k], h), 1);
		ck_assert_uint_eq(shpool_used(r[k]), 1);
		ck_assert(access(paths[k], F_OK) == 0);
	}
	ck_assert_rofs(shpool_i64_set(r[1], (uint64_t)held[1], 1), "shpool_i64_set");
	ck_assert_rofs(shpool_i64_cas(r[1], (uint64_t)held[1], 0, 1), "shpool_i64_cas");
	ck_assert_rofs(shpool_i64_cmpxchg(r[1], (uint64_t)held[1], 0, 1, NULL), "shpool_i64_cmpxchg");
	ck_assert_rofs(shpool_i64_xchg(r[1], (uint64_t)held[1], 1, NULL), "shpool_i64_xchg");
	ck_assert_rofs(shpool_i64_add(r[1], (uint64_t)held[1], 1, NULL), "shpool_i64_add");
	ck_assert_rofs(shpool_i64_incr(r[1], (uint64_t)held[1], NULL), "shpool_i64_add");
	ck_assert_rofs(shpool_i64_decr(r[1], (uint64_t)held[1], NULL), "shpool_i64_add");
	ck_assert_rofs(shpool_alloc_set_i64(r[1], 1, 0), "shpool_alloc_set_i64");
	ck_assert_rofs(shpool_i32_set(r[2], (uint64_t)held[2], 1), "shpool_i32_set");
	ck_assert_rofs(shpool_i32_cas(r[2], (uint64_t)held[2], 0, 1), "shpool_i32_cas");
	ck_assert_rofs(shpool_i32_cmpxchg(r[2], (uint64_t)held[2], 0, 1, NULL), "shpool_i32_cmpxchg");
	ck_assert_rofs(shpool_i32_xchg(r[2], (uint64_t)held[2], 1, NULL), "shpool_i32_xchg");
	ck_assert_rofs(shpool_i32_add(r[2], (uint64_t)held[2], 1, NULL), "shpool_i32_add");
	ck_assert_rofs(shpool_i32_incr(r[2], (uint64_t)held[2], NULL), "shpool_i32_add");
	ck_assert_rofs(shpool_i32_decr(r[2], (uint64_t)held[2], NULL), "shpool_i32_add");
	ck_assert_rofs(shpool_alloc_set_i32(r[2], 1, 0), "shpool_alloc_set_i32");
	ck_assert_rofs(shpool_f64_set(r[3], (uint64_t)held[3], 1.5), "shpool_f64_set");
	ck_assert_rofs(shpool_alloc_set_f64(r[3], 1.5, 0), "shpool_alloc_set_f64");
	ck_assert_rofs(shpool_str_set(r[4], (uint64_t)held[4], "x", 1), "shpool_str_set");
	ck_assert_rofs(shpool_alloc_set_str(r[4], "x", 1, 0), "shpool_alloc_set_str");
	/* A wrong kind is still reported as that. */
	ck_assert_fails(shpool_i32_set(r[1], (uint64_t)held[1], 1), -EINVAL, "needs I32");

	/* Nothing moved: not a counter, not a value. */
	ck_assert_int_eq(shpool_stats(r[1], &after), 0);
	ck_assert_uint_eq(after.allocs, before.allocs);
	ck_assert_uint_eq(after.frees, before.frees);
	for (int k = 0; k < 5; k++) {
		int64_t v = -1;

		if (kinds[k] == SHPOOL_I64) {
			ck_assert_int_eq(shpool_i64_get(r[k], (uint64_t)held[k], &v), 0);
			ck_assert_int_eq(v, 0);
		}
		/* The writable handle still works beside the read-only one. */
		ck_assert_int_eq(shpool_free(w[k], (uint64_t)held[k]), 0);
		ck_assert_uint_eq(shpool_used(r[k]), 0);
		shpool_close(r[k]);
		shpool_close(w[k]);
		free(paths[k]);
	}
}
END_TEST

/* The reader's bounds hold against a writer that scribbles: a STR length
 * beyond max_len is refused, not followed. */
START_TEST(rdonly_hostile_writer)
{
	char *path = test_path("str");
	shpool_t *w = test_pool(path, SHPOOL_STR, 4, 8, 0);
	int64_t s = shpool_alloc_set_str(w, "ok", 2, 0);
	shpool_t *r = attach_ro(path, SHPOOL_STR);
	const char *view;
	char buf[64];
	size_t len;

	ck_assert_int_ge(s, 0);
	/* The length prefix is the slot's first 4 bytes (doc/data-layout.md). */
	*(uint32_t *)shpool_ptr(w, (uint64_t)s) = 1u << 30;
	ck_assert_fails(shpool_str_get(r, (uint64_t)s, buf, sizeof(buf), &len), -EUCLEAN,
			"exceeds max_len");
	ck_assert_fails(shpool_str_view(r, (uint64_t)s, &view, &len), -EUCLEAN, "exceeds max_len");
	ck_assert_fails(shpool_i64_get(r, 0, NULL), -EINVAL, "needs I64");
	shpool_close(r);
	shpool_close(w);
	free(path);
}
END_TEST

/* By fd: a read-only fd attaches with SHPOOL_RDONLY, and without it gets a
 * message that points there; memfd pools too. Bad flags are refused. */
START_TEST(rdonly_fd)
{
	char *path = test_path("pool");
	shpool_t *w = test_pool(path, SHPOOL_RAW, 8, 8, 0), *m = NULL, *r = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_fails(shpool_attach_fd(&r, fd, SHPOOL_RAW, 0), -EACCES,
			"attach with SHPOOL_RDONLY");
	ck_assert_int_eq(shpool_attach_fd(&r, fd, SHPOOL_ANY_KIND, SHPOOL_RDONLY), 0);
	ck_assert_int_eq(shpool_is_readonly(r), 1);
	ck_assert_int_eq(shpool_kind_of(r), SHPOOL_RAW);
	ck_assert_rofs(shpool_alloc(r, 0), "shpool_alloc");
	shpool_close(r);
	close(fd);

	ck_assert_int_eq(shpool_create_memfd(&m, "ro", SHPOOL_I32, 4, 0, NULL), 0);
	ck_assert_int_ge(shpool_alloc_set_i32(m, 5, 0), 0);
	ck_assert_int_eq(shpool_attach_fd(&r, shpool_memfd(m), SHPOOL_I32, SHPOOL_RDONLY), 0);
	ck_assert_uint_eq(shpool_used(r), 1);
	ck_assert_int_ge(shpool_memfd(r), 0);
	ck_assert_rofs(shpool_i32_set(r, 0, 1), "shpool_i32_set");
	shpool_close(r);

	ck_assert_fails(shpool_attach(&r, path, SHPOOL_RAW, 2), -EINVAL, "unknown flags 0x2");
	ck_assert_fails(shpool_attach_fd(&r, shpool_memfd(m), SHPOOL_I32, ~0u), -EINVAL,
			"unknown flags");
	ck_assert_ptr_null(r);
	shpool_close(m);
	shpool_close(w);
	free(path);
}
END_TEST

/* An unprivileged user who may only read the pool file: shpool_open says
 * to use SHPOOL_RDONLY, which then reads it all and changes nothing. As
 * root: a root-owned 0644 pool in a fresh 0755 directory, read by a child
 * that has dropped to nobody. Otherwise: a 0444 pool of our own (its owner
 * cannot open it for writing either). */
struct unpriv {
	const char *path;
	int64_t slot;
};

static int unpriv_child(void *arg)
{
	const struct unpriv *u = arg;
	shpool_t *p = NULL;
	int64_t v = 0;

	if (getuid() == 0 && test_become_nobody() != 0)
		return 10;
	if (shpool_open(&p, u->path, SHPOOL_I64) != -EACCES ||
	    !strstr(shpool_last_error(), "SHPOOL_RDONLY"))
		return 11;
	if (shpool_attach(&p, u->path, SHPOOL_ANY_KIND, SHPOOL_RDONLY) != 0)
		return 12;
	if (shpool_kind_of(p) != SHPOOL_I64 || shpool_used(p) != 1)
		return 13;
	if (shpool_i64_get(p, (uint64_t)u->slot, &v) != 0 || v != 1234)
		return 14;
	if (shpool_check(p, NULL) != 0)
		return 15;
	if (shpool_alloc(p, 0) != -EROFS || shpool_i64_set(p, (uint64_t)u->slot, 0) != -EROFS)
		return 16;
	shpool_close(p);
	return 0;
}

START_TEST(rdonly_unprivileged)
{
	char dir[] = "/tmp/shpool-ro-XXXXXX", path[64];
	struct unpriv u = { path, -1 };
	shpool_options o = { .mode = geteuid() == 0 ? 0644 : 0444 };
	shpool_t *p = NULL;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/pool", dir);
	ck_assert_int_eq(shpool_create(&p, path, SHPOOL_I64, 16, 0, &o), 0);
	u.slot = shpool_alloc_set_i64(p, 1234, 0);
	ck_assert_int_ge(u.slot, 0);
	ck_assert_int_eq(test_wait(test_fork(unpriv_child, &u)), 0);
	ck_assert_uint_eq(shpool_used(p), 1); /* nothing changed */
	shpool_close(p);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* ---- suite ------------------------------------------------------------------- */

static Suite *make_segment_suite(void)
{
	Suite *s = suite_create("segment");
	TCase *t;

	t = test_tcase(s, "anonymous", 10);
	tcase_add_test(t, anon_shared_with_fork);

	t = test_tcase(s, "bad_input", 10);
	tcase_add_test(t, null_out);
	tcase_add_test(t, null_handle_core);
	tcase_add_test(t, null_handle_typed);

	t = test_tcase(s, "memfd", 10);
	tcase_add_test(t, memfd_basic);
	tcase_add_test(t, memfd_open_fd_shares);
	tcase_add_test(t, open_fd_bad);
	tcase_add_test(t, open_fd_of_file);

	/* Check's default timeout, as these had in check_ops. */
	t = tcase_create("rdonly");
	tcase_add_test(t, rdonly_reads);
	tcase_add_test(t, rdonly_writes_refused);
	tcase_add_test(t, rdonly_hostile_writer);
	tcase_add_test(t, rdonly_fd);
	tcase_add_test(t, rdonly_unprivileged);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return test_run_suite(make_segment_suite());
}

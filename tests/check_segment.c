/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/segment.c (creating, attaching and validating segments:
 * anonymous, file, memfd, fd) and src/error.c (error detail, error text,
 * version). Every failing call is checked for its code AND for a detail in
 * shpool_last_error(). Child processes never call Check assertions: they
 * report (code, detail) through a pipe, or a small number through their
 * exit status, and the test process asserts.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
/* White-box: the on-disk header layout, to forge damaged segments. */
#include "../src/shpool-internal.h"

#define PAGE 4096u

/* ---- helpers ------------------------------------------------------------ */

static shpool_t *new_pool(const char *path, shpool_kind kind, uint64_t cap, uint32_t es)
{
	shpool_t *p = NULL;
	int rc = shpool_create(&p, path, kind, cap, es, NULL);

	ck_assert_msg(rc == 0, "shpool_create(%s, kind %d, %" PRIu64 ", %" PRIu32 "): %d %s",
		      path ? path : "anonymous", (int)kind, cap, es, rc, shpool_last_error());
	ck_assert_ptr_nonnull(p);
	return p;
}

/* A pool file made and closed: what a later attacher finds on disk. */
static void make_pool_file(const char *path, uint64_t cap, uint32_t es)
{
	shpool_close(new_pool(path, SHPOOL_RAW, cap, es));
}

static char *sub_dir(const char *name)
{
	char *d = test_path(name);

	ck_assert_msg(mkdir(d, 0700) == 0, "mkdir %s: %s", d, strerror(errno));
	return d;
}

static char *path_in(const char *dir, const char *name)
{
	char *p;

	ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
	return p;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static off_t file_size(const char *path)
{
	struct stat st;

	ck_assert_msg(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
	return st.st_size;
}

/* The names in dir (not . and ..), space-separated into names; their count. */
static int list_dir(const char *dir, char *names, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t used = 0;
	int n = 0;

	ck_assert_msg(d != NULL, "opendir %s: %s", dir, strerror(errno));
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

static int count_open_fds(void)
{
	char names[8192];

	/* One of them is the directory stream itself; it cancels out. */
	return list_dir("/proc/self/fd", names, sizeof(names));
}

/* A file's identity and bytes, to prove that a failed call left it alone. */
struct blob {
	unsigned char *data;
	size_t len;
	ino_t ino;
};

static struct blob slurp(const char *path)
{
	struct blob b;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(fstat(fd, &st), 0);
	b.len = (size_t)st.st_size;
	b.ino = st.st_ino;
	b.data = malloc(b.len ? b.len : 1);
	ck_assert_ptr_nonnull(b.data);
	ck_assert_int_eq(pread(fd, b.data, b.len, 0), (ssize_t)b.len);
	close(fd);
	return b;
}

static void assert_unchanged(const char *path, const struct blob *before)
{
	struct blob now = slurp(path);

	ck_assert_msg(now.ino == before->ino, "%s was replaced by another file", path);
	ck_assert_msg(now.len == before->len, "%s changed size: %zu -> %zu", path, before->len,
		      now.len);
	ck_assert_msg(memcmp(now.data, before->data, now.len) == 0, "%s content was changed",
		      path);
	free(now.data);
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	ck_assert_msg(fd >= 0, "create %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static void read_header(const char *path, struct shpool_header *h)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, h, sizeof(*h), 0), (ssize_t)sizeof(*h));
	close(fd);
}

static void write_header(const char *path, const struct shpool_header *h)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, h, sizeof(*h), 0), (ssize_t)sizeof(*h));
	close(fd);
}

/* Put a known, unrelated detail in shpool_last_error(), so that a later
 * check cannot pass on a stale message. */
static void prime_last_error(void)
{
	shpool_t *p;

	ck_assert_int_eq(shpool_create(&p, NULL, (shpool_kind)77, 1, 1, NULL), -EINVAL);
	ck_assert_str_eq(shpool_last_error(), "unknown pool kind 77");
}

/* What a forked child reports. One write(2) of less than PIPE_BUF bytes, so
 * reports from many children never interleave. */
struct report {
	int64_t rc;
	char msg[256];
};

static void send_msg(int fd, int64_t rc, const char *msg)
{
	struct report r;

	memset(&r, 0, sizeof(r));
	r.rc = rc;
	snprintf(r.msg, sizeof(r.msg), "%s", msg);
	if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(99);
}

static void send_report(int fd, int64_t rc)
{
	send_msg(fd, rc, shpool_last_error());
}

/* Read one report; false at EOF (a child died without reporting). */
static bool recv_report(int fd, struct report *r)
{
	size_t got = 0;

	while (got < sizeof(*r)) {
		ssize_t n = read(fd, (char *)r + got, sizeof(*r) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

#define ck_assert_report(r, want, needle) \
	do { \
		ck_assert_msg((r).rc == (int64_t)(want), "child got %lld (%s), expected %s", \
			      (long long)(r).rc, (r).msg, #want); \
		ck_assert_msg(strstr((r).msg, (needle)) != NULL, \
			      "child's last error \"%s\" lacks \"%s\"", (r).msg, (needle)); \
	} while (0)

static bool all_zero(const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* ---- geometry ----------------------------------------------------------- */

/* Slots of up to a cache line get a power-of-two stride (>= 8), so no slot
 * straddles a line; larger ones a whole number of lines (segment.c). */
static const struct geo {
	shpool_kind kind;
	uint32_t es_in, es, stride;
} geos[] = {
	{ SHPOOL_RAW, 1, 1, 8 },     { SHPOOL_RAW, 8, 8, 8 },
	{ SHPOOL_RAW, 9, 9, 16 },    { SHPOOL_RAW, 64, 64, 64 },
	{ SHPOOL_RAW, 65, 65, 128 }, { SHPOOL_RAW, 100, 100, 128 },
	{ SHPOOL_RAW, 4096, 4096, 4096 },
	{ SHPOOL_I64, 0, 8, 8 },     { SHPOOL_I64, 8, 8, 8 },
	{ SHPOOL_I32, 0, 4, 8 },     { SHPOOL_I32, 4, 4, 8 },
	{ SHPOOL_F64, 0, 8, 8 },     { SHPOOL_F64, 8, 8, 8 },
	/* STR slots carry an 8-byte length prefix. */
	{ SHPOOL_STR, 10, 10, 32 },  { SHPOOL_STR, 56, 56, 64 },
	{ SHPOOL_STR, 57, 57, 128 },
};
#define NGEOS ((int)(sizeof(geos) / sizeof(geos[0])))

START_TEST(anon_geometry)
{
	const struct geo *g = &geos[_i];
	const uint64_t cap = 1000;
	shpool_t *p = new_pool(NULL, g->kind, cap, g->es_in);
	uint8_t *data = shpool_data_ptr(p);

	ck_assert_uint_eq(shpool_capacity(p), cap);
	ck_assert_uint_eq(shpool_elem_size(p), g->es);
	ck_assert_int_eq(shpool_kind_of(p), g->kind);
	ck_assert_uint_eq(shpool_stride(p), g->stride);
	ck_assert_ptr_null(shpool_path(p));
	ck_assert_int_eq(shpool_memfd(p), -1);
	ck_assert_ptr_nonnull(data);
	ck_assert_uint_eq((uintptr_t)data % PAGE, 0);
	ck_assert_ptr_eq(shpool_ptr(p, 0), data);
	ck_assert_ptr_eq(shpool_ptr(p, cap - 1), data + (cap - 1) * g->stride);
	ck_assert_ptr_null(shpool_ptr(p, cap));
	ck_assert_ptr_null(shpool_ptr(p, UINT64_MAX));
	if (g->kind == SHPOOL_STR)
		ck_assert_uint_eq(shpool_str_max_len(p), g->es);
	ck_assert_uint_eq(shpool_used(p), 0);
	ck_assert_uint_eq(shpool_available(p), cap);
	/* The whole data region is mapped, zeroed and writable. */
	ck_assert_msg(all_zero(data, cap * g->stride), "fresh data region not zero");
	memset(data, 0xa5, cap * g->stride);
	shpool_close(p);
}
END_TEST

/* Tiny, word-sized and multi-level pools: all slots are addressable. */
START_TEST(anon_capacities)
{
	static const uint64_t caps[] = { 1, 2, 7, 8, 63, 64, 65, 511, 4097, 262145 };

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		shpool_t *p = new_pool(NULL, SHPOOL_RAW, caps[i], 8);
		uint8_t *last = shpool_ptr(p, caps[i] - 1);

		ck_assert_uint_eq(shpool_capacity(p), caps[i]);
		ck_assert_ptr_nonnull(last);
		memset(last, 0x5a, 8);
		ck_assert_int_eq(shpool_is_allocated(p, caps[i] - 1), 0);
		ck_assert_uint_eq(shpool_used(p), 0);
		ck_assert_uint_eq(shpool_available(p), caps[i]);
		shpool_close(p);
	}
}
END_TEST

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
	shpool_t *p = new_pool(NULL, SHPOOL_RAW, 64, 16);
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

/* ---- files -------------------------------------------------------------- */

static mode_t mode_of(const char *path)
{
	struct stat st;

	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_msg(S_ISREG(st.st_mode), "%s is not a regular file", path);
	return st.st_mode & 07777;
}

static void check_mode(unsigned opt_mode, mode_t mask, mode_t want)
{
	shpool_options o = { 0 };
	char name[64];
	char *path;
	shpool_t *p;

	snprintf(name, sizeof(name), "m%o-u%o", opt_mode, (unsigned)mask);
	path = test_path(name);
	o.mode = opt_mode;
	umask(mask);
	ck_assert_int_eq(shpool_create(&p, path, SHPOOL_RAW, 10, 8, &o), 0);
	umask(022);
	ck_assert_msg(mode_of(path) == want, "opts.mode 0%o umask 0%o: file mode 0%o, want 0%o",
		      opt_mode, (unsigned)mask, (unsigned)mode_of(path), (unsigned)want);
	shpool_close(p);
	free(path);
}

START_TEST(file_mode_default)
{
	check_mode(0, 0, 0600);
	check_mode(0, 077, 0600);
	check_mode(0, 0777, 0600);
}
END_TEST

START_TEST(file_mode_option)
{
	check_mode(0640, 0, 0640);
	check_mode(0640, 077, 0640);
	check_mode(0604, 022, 0604);
	check_mode(0666, 0777, 0666);
}
END_TEST

START_TEST(file_reattach)
{
	char *path = test_path("pool");
	shpool_options o = { .mode = 0644 };
	shpool_t *a = new_pool(path, SHPOOL_RAW, 100, 16), *b, *c;
	int64_t ia, ib, ic;

	ck_assert_int_eq(shpool_open(&b, path, SHPOOL_RAW), 0);
	/* Same geometry: create attaches (and a mode is ignored for an
	 * existing file). */
	ck_assert_int_eq(shpool_create(&c, path, SHPOOL_RAW, 100, 16, &o), 0);
	ck_assert_uint_eq(mode_of(path), 0600);
	ck_assert_uint_eq(shpool_capacity(b), 100);
	ck_assert_uint_eq(shpool_elem_size(b), 16);
	ck_assert_uint_eq(shpool_stride(b), shpool_stride(a));
	ck_assert_int_eq(shpool_kind_of(b), SHPOOL_RAW);

	ia = shpool_try_alloc(a);
	ck_assert_int_ge(ia, 0);
	memcpy(shpool_ptr(a, (uint64_t)ia), "via a", 6);
	ck_assert_int_eq(shpool_is_allocated(b, (uint64_t)ia), 1);
	ck_assert_int_eq(shpool_is_allocated(c, (uint64_t)ia), 1);
	ck_assert_str_eq(shpool_ptr(b, (uint64_t)ia), "via a");
	ib = shpool_try_alloc(b);
	ic = shpool_try_alloc(c);
	ck_assert_int_ge(ib, 0);
	ck_assert_int_ge(ic, 0);
	ck_assert_int_ne(ia, ib);
	ck_assert_int_ne(ib, ic);
	ck_assert_int_ne(ia, ic);
	ck_assert_uint_eq(shpool_used(a), 3);
	ck_assert_uint_eq(shpool_used(b), 3);
	ck_assert_uint_eq(shpool_used(c), 3);
	shpool_close(a);
	shpool_close(b);
	/* Slots outlive every handle: the file is the pool. */
	ck_assert_int_eq(shpool_is_allocated(c, (uint64_t)ia), 1);
	shpool_close(c);
	ck_assert_int_eq(shpool_open(&a, path, SHPOOL_RAW), 0);
	ck_assert_uint_eq(shpool_used(a), 3);
	ck_assert_str_eq(shpool_ptr(a, (uint64_t)ia), "via a");
	shpool_close(a);
	free(path);
}
END_TEST

START_TEST(file_path_sync_unlink)
{
	char *path = test_path("pool");
	char *copy = strdup(path);
	shpool_t *p, *q;
	char names[256];

	ck_assert_int_eq(shpool_create(&p, copy, SHPOOL_I64, 10, 0, NULL), 0);
	/* The handle keeps its own copy of the path. */
	memset(copy, 'x', strlen(copy));
	ck_assert_str_eq(shpool_path(p), path);
	ck_assert_int_eq(shpool_memfd(p), -1);
	ck_assert_int_eq(shpool_sync(p), 0);
	ck_assert_int_eq(shpool_open(&q, path, SHPOOL_I64), 0);
	ck_assert_str_eq(shpool_path(q), path);
	ck_assert_int_eq(shpool_unlink(p), 0);
	ck_assert(!exists(path));
	ck_assert_int_eq(list_dir(test_dir(), names, sizeof(names)), 0);
	/* Still mapped after unlink. */
	ck_assert_int_ge(shpool_try_alloc(p), 0);
	ck_assert_uint_eq(shpool_used(q), 1);
	ck_assert_fails(shpool_unlink(q), -ENOENT, path);
	shpool_close(p);
	shpool_close(q);
	free(path);
	free(copy);
}
END_TEST

START_TEST(file_relative_path)
{
	char *dir = sub_dir("rel");
	char names[256];
	shpool_t *p, *q;

	ck_assert_int_eq(chdir(dir), 0);
	ck_assert_int_eq(shpool_create(&p, "pool", SHPOOL_RAW, 10, 8, NULL), 0);
	ck_assert_str_eq(shpool_path(p), "pool");
	ck_assert_int_eq(shpool_open(&q, "./pool", SHPOOL_RAW), 0);
	ck_assert_int_ge(shpool_try_alloc(p), 0);
	ck_assert_uint_eq(shpool_used(q), 1);
	ck_assert_msg(list_dir(dir, names, sizeof(names)) == 1, "directory holds: %s", names);
	ck_assert_str_eq(names, "pool ");
	shpool_close(p);
	shpool_close(q);
	ck_assert_int_eq(chdir("/"), 0);
	free(dir);
}
END_TEST

START_TEST(file_create_leaves_only_the_pool)
{
	char *dir = sub_dir("d");
	char *path = path_in(dir, "pool");
	char names[256];

	make_pool_file(path, 1000, 64);
	ck_assert_msg(list_dir(dir, names, sizeof(names)) == 1, "directory holds: %s", names);
	ck_assert_str_eq(names, "pool ");
	free(path);
	free(dir);
}
END_TEST

START_TEST(file_unlink_needs_a_file)
{
	shpool_t *a = new_pool(NULL, SHPOOL_RAW, 10, 8), *m;

	ck_assert_fails(shpool_unlink(a), -EINVAL, "anonymous");
	ck_assert_int_eq(shpool_create_memfd(&m, "x", SHPOOL_RAW, 10, 8, NULL), 0);
	ck_assert_fails(shpool_unlink(m), -EINVAL, "no file");
	shpool_close(a);
	shpool_close(m);
}
END_TEST

START_TEST(attach_mismatch)
{
	char *path = test_path("pool");
	char *spath = test_path("strpool");
	shpool_t *p = (shpool_t *)&p;

	make_pool_file(path, 100, 16);
	ck_assert_fails(shpool_create(&p, path, SHPOOL_RAW, 200, 16, NULL), -EINVAL,
			"capacity mismatch: segment has 100, asked 200");
	ck_assert_ptr_null(p);
	ck_assert_fails(shpool_create(&p, path, SHPOOL_RAW, 100, 32, NULL), -EINVAL,
			"elem_size mismatch: segment has 16, asked 32");
	ck_assert_fails(shpool_create(&p, path, SHPOOL_I64, 100, 0, NULL), -EINVAL,
			"kind mismatch: segment has RAW, asked I64");
	ck_assert_fails(shpool_create(&p, path, SHPOOL_STR, 100, 16, NULL), -EINVAL,
			"kind mismatch: segment has RAW, asked STR");
	ck_assert_fails(shpool_open(&p, path, SHPOOL_STR), -EINVAL,
			"kind mismatch: segment has RAW, asked STR");
	ck_assert_fails(shpool_open(&p, path, SHPOOL_F64), -EINVAL,
			"kind mismatch: segment has RAW, asked F64");
	ck_assert_fails(shpool_open(&p, path, (shpool_kind)42), -EINVAL, "kind mismatch");
	ck_assert_ptr_null(p);
	/* The message names the file. */
	ck_assert_fails(shpool_open(&p, path, SHPOOL_I32), -EINVAL, path);

	shpool_close(new_pool(spath, SHPOOL_STR, 100, 16));
	ck_assert_fails(shpool_create(&p, spath, SHPOOL_STR, 100, 20, NULL), -EINVAL,
			"elem_size mismatch: segment has 16, asked 20");
	ck_assert_fails(shpool_create(&p, spath, SHPOOL_RAW, 100, 16, NULL), -EINVAL,
			"kind mismatch: segment has STR, asked RAW");
	/* Nothing above damaged the pools. */
	ck_assert_int_eq(shpool_open(&p, path, SHPOOL_RAW), 0);
	shpool_close(p);
	ck_assert_int_eq(shpool_open(&p, spath, SHPOOL_STR), 0);
	shpool_close(p);
	free(path);
	free(spath);
}
END_TEST

/* ---- bad input ---------------------------------------------------------- */

START_TEST(null_out)
{
	char *path = test_path("pool");

	ck_assert_fails(shpool_create(NULL, NULL, SHPOOL_RAW, 10, 8, NULL), -EINVAL, "out");
	ck_assert_fails(shpool_create(NULL, path, SHPOOL_RAW, 10, 8, NULL), -EINVAL, "out");
	ck_assert(!exists(path));
	make_pool_file(path, 10, 8);
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

/* Bad geometry is refused by every constructor, before anything is made. */
static void assert_rejected(shpool_kind kind, uint64_t cap, uint32_t es, unsigned flags,
			    int want, const char *needle)
{
	char *path = test_path("rejected");
	shpool_options o = { .flags = flags };
	shpool_t *p = (shpool_t *)&p;

	ck_assert_fails(shpool_create(&p, NULL, kind, cap, es, &o), want, needle);
	ck_assert_ptr_null(p);
	ck_assert_fails(shpool_create(&p, path, kind, cap, es, &o), want, needle);
	ck_assert_msg(!exists(path), "a refused create left %s", path);
	ck_assert_fails(shpool_create_memfd(&p, "m", kind, cap, es, &o), want, needle);
	ck_assert_ptr_null(p);
	free(path);
}

START_TEST(bad_capacity)
{
	assert_rejected(SHPOOL_RAW, 0, 8, 0, -EINVAL, "capacity 0 out of range");
	assert_rejected(SHPOOL_I64, 0, 0, 0, -EINVAL, "capacity 0 out of range");
	assert_rejected(SHPOOL_RAW, SHPOOL_MAX_CAPACITY + 1, 8, 0, -EINVAL,
			"capacity 4294967297 out of range");
	assert_rejected(SHPOOL_RAW, UINT64_MAX, 8, 0, -EINVAL, "out of range");
}
END_TEST

START_TEST(too_big_for_address_space)
{
	assert_rejected(SHPOOL_RAW, SHPOOL_MAX_CAPACITY, SHPOOL_MAX_ELEM_SIZE, 0, -ENOMEM,
			"larger than the address space");
	assert_rejected(SHPOOL_RAW, UINT64_C(1) << 20, SHPOOL_MAX_ELEM_SIZE, 0, -ENOMEM,
			"larger than the address space");
	assert_rejected(SHPOOL_STR, UINT64_C(1) << 24, 1u << 24, 0, -ENOMEM,
			"larger than the address space");
}
END_TEST

#if SIZE_MAX < UINT64_MAX
/* A 32-bit process (the cross step runs this under qemu-i386): 5 slots of
 * 1 GiB is a layout of 5 GiB, which its size_t cannot hold. It used to be
 * created, mapped 1 GiB + 8 KiB long, with slot 4 aliasing slot 0. */
START_TEST(beyond_size_t)
{
	shpool_t *p = NULL;

	ck_assert_fails(shpool_create(&p, NULL, SHPOOL_RAW, 5, SHPOOL_MAX_ELEM_SIZE, NULL), -ENOMEM,
			"a 32-bit process");
	ck_assert_ptr_null(p);
	ck_assert_fails(shpool_create(&p, test_path("big"), SHPOOL_RAW, 5, SHPOOL_MAX_ELEM_SIZE,
				      NULL),
			-ENOMEM, "larger than the address space allows");
	ck_assert_int_eq(access(test_path("big"), F_OK), -1); /* no file left behind */
	/* 3 GiB fits a 32-bit size_t: the layout is not refused (whether the
	 * mapping fits what is left of the address space is mmap's call). */
	int rc = shpool_create(&p, NULL, SHPOOL_RAW, 3, SHPOOL_MAX_ELEM_SIZE, NULL);

	ck_assert_msg(rc == 0 || (rc == -ENOMEM && !strstr(shpool_last_error(), "allows")),
		      "3 GiB: %d, %s", rc, shpool_last_error());
	if (rc == 0) {
		ck_assert_ptr_eq((char *)shpool_ptr(p, 2),
				 (char *)shpool_ptr(p, 0) + 2 * shpool_stride(p));
		shpool_close(p);
	}
}
END_TEST
#endif

START_TEST(bad_elem_size)
{
	assert_rejected(SHPOOL_RAW, 10, 0, 0, -EINVAL, "RAW: elem_size 0 out of range");
	assert_rejected(SHPOOL_STR, 10, 0, 0, -EINVAL, "STR: elem_size 0 out of range");
	assert_rejected(SHPOOL_RAW, 10, SHPOOL_MAX_ELEM_SIZE + 1, 0, -EINVAL,
			"elem_size 1073741825 out of range");
	assert_rejected(SHPOOL_STR, 10, UINT32_MAX, 0, -EINVAL, "out of range");
}
END_TEST

START_TEST(implied_elem_size)
{
	static const struct {
		shpool_kind kind;
		uint32_t natural, wrong[3];
	} t[] = {
		{ SHPOOL_I64, 8, { 4, 1, 16 } },
		{ SHPOOL_I32, 4, { 8, 1, 2 } },
		{ SHPOOL_F64, 8, { 4, 16, 7 } },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		shpool_t *p;

		for (int w = 0; w < 3; w++)
			assert_rejected(t[i].kind, 10, t[i].wrong[w], 0, -EINVAL, "implied");
		p = new_pool(NULL, t[i].kind, 10, 0);
		ck_assert_uint_eq(shpool_elem_size(p), t[i].natural);
		shpool_close(p);
		p = new_pool(NULL, t[i].kind, 10, t[i].natural);
		ck_assert_uint_eq(shpool_elem_size(p), t[i].natural);
		shpool_close(p);
	}
}
END_TEST

START_TEST(unknown_kind)
{
	assert_rejected((shpool_kind)0, 10, 8, 0, -EINVAL, "SHPOOL_ANY_KIND only attaches");
	assert_rejected((shpool_kind)6, 10, 8, 0, -EINVAL, "unknown pool kind 6");
	assert_rejected((shpool_kind)-1, 10, 8, 0, -EINVAL, "unknown pool kind -1");
}
END_TEST

START_TEST(unknown_flags)
{
	shpool_options o = { .flags = SHPOOL_NO_ZERO | SHPOOL_NOTIFY_ON_FREE };
	shpool_t *p;

	assert_rejected(SHPOOL_RAW, 10, 8, 1u << 5, -EINVAL, "unknown flags 0x20");
	assert_rejected(SHPOOL_RAW, 10, 8, 1u << 31 | SHPOOL_NO_ZERO, -EINVAL,
			"unknown flags 0x80000000");
	ck_assert_int_eq(shpool_create(&p, NULL, SHPOOL_RAW, 10, 8, &o), 0);
	shpool_close(p);
}
END_TEST

START_TEST(bad_mode)
{
	static const unsigned modes[] = { 01000, 04600, 02600, 0x10000, ~0u };
	char *path = test_path("pool");

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		shpool_options o = { .mode = modes[i] };
		shpool_t *p;

		ck_assert_fails(shpool_create(&p, path, SHPOOL_RAW, 10, 8, &o), -EINVAL,
				"beyond 0777");
		ck_assert(!exists(path));
	}
	free(path);
}
END_TEST

START_TEST(bad_paths)
{
	shpool_t *p = (shpool_t *)&p;

	ck_assert_fails(shpool_create(&p, "", SHPOOL_RAW, 10, 8, NULL), -EINVAL, "empty path");
	ck_assert_ptr_null(p);
	ck_assert_fails(shpool_open(&p, NULL, SHPOOL_RAW), -EINVAL, "needs a path");
	ck_assert_fails(shpool_open(&p, "", SHPOOL_RAW), -EINVAL, "needs a path");
	ck_assert_ptr_null(p);
}
END_TEST

/* ---- hostile and broken files --------------------------------------------- */

/* A pool file of 100 x 16-byte RAW slots; its size in *size. */
static char *pristine(off_t *size)
{
	char *path = test_path("pristine");

	make_pool_file(path, 100, 16);
	*size = file_size(path);
	ck_assert_int_ge(*size, 2 * PAGE);
	ck_assert_int_eq(*size % PAGE, 0);
	return path;
}

/* Both attach paths refuse path with (want, needle), and neither touches it. */
static void assert_refused_file(const char *path, int want, const char *needle)
{
	struct blob before = slurp(path);
	shpool_t *p = (shpool_t *)&p;

	ck_assert_fails(shpool_open(&p, path, SHPOOL_RAW), want, needle);
	ck_assert_ptr_null(p);
	ck_assert_fails(shpool_create(&p, path, SHPOOL_RAW, 100, 16, NULL), want, needle);
	ck_assert_ptr_null(p);
	assert_unchanged(path, &before);
	free(before.data);
}

START_TEST(truncated_file)
{
	off_t size;
	char *path = pristine(&size);
	shpool_t *p = (shpool_t *)&p;

	ck_assert_int_eq(truncate(path, size / 2), 0);
	assert_refused_file(path, -EBADMSG, "size mismatch");
	ck_assert_int_eq(truncate(path, 10), 0);
	assert_refused_file(path, -EBADMSG, "truncated");
	ck_assert_int_eq(truncate(path, (off_t)sizeof(struct shpool_header) - 1), 0);
	assert_refused_file(path, -EBADMSG, "truncated");
	/* Empty: refused by shpool_open; shpool_create makes a pool of an
	 * empty file of its caller's (check_ops: adopt_*). */
	ck_assert_int_eq(truncate(path, 0), 0);
	ck_assert_fails(shpool_open(&p, path, SHPOOL_RAW), -EBADMSG, "empty file, not a pool yet");
	ck_assert_ptr_null(p);
	free(path);
}
END_TEST

START_TEST(grown_file)
{
	off_t size;
	char *path = pristine(&size);

	ck_assert_int_eq(truncate(path, size + PAGE), 0);
	assert_refused_file(path, -EBADMSG, "size mismatch");
	ck_assert_int_eq(truncate(path, size + 1), 0);
	assert_refused_file(path, -EBADMSG, "size mismatch");
	free(path);
}
END_TEST

START_TEST(junk_file)
{
	static unsigned char buf[3 * PAGE];
	char *zero = test_path("zero"), *noise = test_path("noise");
	uint64_t x = 0x9e3779b97f4a7c15u;

	for (size_t i = 0; i < sizeof(buf); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (unsigned char)x;
	}
	write_file(noise, buf, sizeof(buf));
	memset(buf, 0, sizeof(buf));
	write_file(zero, buf, sizeof(buf));
	assert_refused_file(noise, -EBADMSG, "bad magic");
	assert_refused_file(zero, -EBADMSG, "bad magic");
	free(zero);
	free(noise);
}
END_TEST

START_TEST(bad_magic)
{
	off_t size;
	char *path = pristine(&size);
	struct shpool_header h;

	read_header(path, &h);
	h.magic[7] ^= 1;
	write_header(path, &h);
	assert_refused_file(path, -EBADMSG, "not a libshpool segment");
	free(path);
}
END_TEST

START_TEST(layout_version)
{
	off_t size;
	char *path = pristine(&size);
	struct shpool_header h;

	/* Newer, older (a segment of an earlier build), and never valid. */
	const uint32_t versions[] = { SHPOOL_LAYOUT_VERSION + 1, SHPOOL_LAYOUT_VERSION - 1, 0 };
	char want[64];

	read_header(path, &h);
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		h.version = versions[i];
		write_header(path, &h);
		snprintf(want, sizeof(want), "layout version %" PRIu32 ", this library reads "
			 "version %u", versions[i], SHPOOL_LAYOUT_VERSION);
		assert_refused_file(path, -EPROTONOSUPPORT, want);
	}
	free(path);
}
END_TEST

/* One header field altered: the rest of the header no longer agrees. */
static const struct corruption {
	const char *field;
	size_t off, width;
	bool set; /* else add */
	uint64_t v;
	shpool_kind as;
	const char *detail;
} corruptions[] = {
#define F(f) #f, offsetof(struct shpool_header, f), sizeof(((struct shpool_header *)0)->f)
	{ F(header_size), false, 1, SHPOOL_RAW, "" },
	{ F(elem_size), true, 17, SHPOOL_RAW, "" },
	{ F(elem_size), true, 0, SHPOOL_RAW, "elem_size 0 out of range" },
	{ F(capacity), true, 0, SHPOOL_RAW, "capacity 0 out of range" },
	{ F(capacity), true, 100000, SHPOOL_RAW, "" },
	{ F(capacity), true, UINT64_C(1) << 40, SHPOOL_RAW, "out of range" },
	{ F(flags), true, 0x80, SHPOOL_RAW, "unknown flags 0x80" },
	{ F(stride), true, 32, SHPOOL_RAW, "" },
	{ F(stride), true, 0, SHPOOL_RAW, "" },
	{ F(word_shift), false, 1, SHPOOL_RAW, "" },
	{ F(nlevels), false, 1, SHPOOL_RAW, "" },
	{ F(off_state), false, 64, SHPOOL_RAW, "" },
	{ F(off_level[0]), false, 64, SHPOOL_RAW, "" },
	{ F(off_level[SHPOOL_MAX_LEVELS - 1]), true, 4096, SHPOOL_RAW, "" },
	{ F(off_owner), false, 64, SHPOOL_RAW, "" },
	{ F(off_owner), true, UINT64_C(1) << 62, SHPOOL_RAW, "" },
	{ F(off_data), false, PAGE, SHPOOL_RAW, "" },
	{ F(total_size), false, PAGE, SHPOOL_RAW, "" },
	{ F(total_size), true, UINT64_C(1) << 60, SHPOOL_RAW, "" },
	{ F(kind), true, SHPOOL_I64, SHPOOL_I64, "implied" },
	{ F(kind), true, 99, (shpool_kind)99, "unknown pool kind 99" },
#undef F
};
#define NCORRUPTIONS ((int)(sizeof(corruptions) / sizeof(corruptions[0])))

START_TEST(corrupt_header)
{
	const struct corruption *c = &corruptions[_i];
	off_t size;
	char *path = pristine(&size);
	unsigned char raw[sizeof(struct shpool_header)];
	uint64_t v = 0;
	struct blob before;
	shpool_t *p = (shpool_t *)&p;

	read_header(path, (struct shpool_header *)raw);
	memcpy(&v, raw + c->off, c->width);
	v = c->set ? c->v : v + c->v;
	memcpy(raw + c->off, &v, c->width);
	write_header(path, (struct shpool_header *)raw);
	before = slurp(path);

	ck_assert_fails(shpool_open(&p, path, c->as), -EBADMSG, "corrupt header");
	ck_assert_msg(strstr(shpool_last_error(), c->detail), "%s: \"%s\" lacks \"%s\"", c->field,
		      shpool_last_error(), c->detail);
	ck_assert_ptr_null(p);
	if (c->as == SHPOOL_RAW)
		ck_assert_fails(shpool_create(&p, path, SHPOOL_RAW, 100, 16, NULL), -EBADMSG,
				"corrupt header");
	assert_unchanged(path, &before);
	free(before.data);
	free(path);
}
END_TEST

/* ---- paths ---------------------------------------------------------------- */

START_TEST(symlink_to_pool)
{
	off_t size;
	char *target = pristine(&size);
	char *link = test_path("link");
	struct blob before = slurp(target);
	shpool_t *p = (shpool_t *)&p;

	ck_assert_int_eq(symlink(target, link), 0);
	ck_assert_fails(shpool_open(&p, link, SHPOOL_RAW), -ELOOP, "symbolic link");
	ck_assert_ptr_null(p);
	ck_assert_fails(shpool_create(&p, link, SHPOOL_RAW, 100, 16, NULL), -ELOOP,
			"symbolic link");
	ck_assert_fails(shpool_create(&p, link, SHPOOL_RAW, 50, 8, NULL), -ELOOP,
			"symbolic link");
	assert_unchanged(target, &before);
	free(before.data);
	free(target);
	free(link);
}
END_TEST

START_TEST(symlink_dangling)
{
	char *target = test_path("nothere");
	char *link = test_path("link");
	shpool_t *p;

	ck_assert_int_eq(symlink(target, link), 0);
	ck_assert_fails(shpool_create(&p, link, SHPOOL_RAW, 100, 16, NULL), -ELOOP,
			"symbolic link");
	ck_assert_msg(!exists(target), "create through a symlink made %s", target);
	ck_assert_fails(shpool_open(&p, link, SHPOOL_RAW), -ELOOP, "symbolic link");
	ck_assert(!exists(target));
	free(target);
	free(link);
}
END_TEST

START_TEST(directory_at_path)
{
	char *dir = sub_dir("dir");
	char names[64];
	shpool_t *p;

	ck_assert_fails(shpool_open(&p, dir, SHPOOL_RAW), -EISDIR, "Is a directory");
	ck_assert_fails(shpool_create(&p, dir, SHPOOL_RAW, 10, 8, NULL), -EISDIR,
			"Is a directory");
	ck_assert_int_eq(list_dir(dir, names, sizeof(names)), 0);
	free(dir);
}
END_TEST

START_TEST(fifo_at_path)
{
	char *path = test_path("fifo");
	shpool_t *p;

	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_fails(shpool_open(&p, path, SHPOOL_RAW), -EINVAL, "not a regular file");
	ck_assert_fails(shpool_create(&p, path, SHPOOL_RAW, 10, 8, NULL), -EINVAL,
			"not a regular file");
	free(path);
}
END_TEST

struct unpriv {
	const char *path, *newpath;
	int out;
};

static int unpriv_child(void *arg)
{
	struct unpriv *u = arg;
	shpool_t *p = NULL;

	if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0) {
		send_msg(u->out, -errno, "dropping privileges failed");
		return 0;
	}
	send_report(u->out, shpool_open(&p, u->path, SHPOOL_RAW));
	shpool_close(p);
	p = NULL;
	send_report(u->out, shpool_create(&p, u->path, SHPOOL_RAW, 100, 16, NULL));
	shpool_close(p);
	p = NULL;
	/* Nor may nobody create a pool in root's directory. */
	send_report(u->out, shpool_create(&p, u->newpath, SHPOOL_RAW, 100, 16, NULL));
	shpool_close(p);
	return 0;
}

START_TEST(read_only_file)
{
	char *path = test_path("pool");
	shpool_t *p;

	make_pool_file(path, 100, 16);
	if (geteuid() == 0) {
		/* Mode bits don't stop root: try as nobody, who may read the
		 * file but not write it. */
		struct blob before = slurp(path);
		struct unpriv u = { path, test_path("new"), -1 };
		char names[64];
		struct report r;
		int fds[2];
		pid_t pid;

		ck_assert_int_eq(chmod(test_dir(), 0755), 0);
		ck_assert_int_eq(chmod(path, 0644), 0);
		ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
		u.out = fds[1];
		pid = test_fork(unpriv_child, &u);
		close(fds[1]);
		ck_assert_msg(recv_report(fds[0], &r), "child died");
		ck_assert_report(r, -EACCES, "Permission denied");
		ck_assert_report(r, -EACCES, path);
		ck_assert_msg(recv_report(fds[0], &r), "child died");
		ck_assert_report(r, -EACCES, "Permission denied");
		ck_assert_msg(recv_report(fds[0], &r), "child died");
		ck_assert_report(r, -EACCES, "cannot create");
		ck_assert_int_eq(test_wait(pid), 0);
		close(fds[0]);
		assert_unchanged(path, &before);
		ck_assert_msg(list_dir(test_dir(), names, sizeof(names)) == 1, "dir: %s", names);
		free(before.data);
		free((char *)u.newpath);
	} else {
		ck_assert_int_eq(chmod(path, 0400), 0);
		ck_assert_fails(shpool_open(&p, path, SHPOOL_RAW), -EACCES, "Permission denied");
		ck_assert_fails(shpool_create(&p, path, SHPOOL_RAW, 100, 16, NULL), -EACCES,
				"Permission denied");
	}
	free(path);
}
END_TEST

START_TEST(missing_directory)
{
	char *path = test_path("nodir/pool");
	char names[64];
	shpool_t *p;

	ck_assert_fails(shpool_open(&p, path, SHPOOL_RAW), -ENOENT, path);
	ck_assert_fails(shpool_create(&p, path, SHPOOL_RAW, 10, 8, NULL), -ENOENT,
			"cannot create");
	ck_assert_int_eq(list_dir(test_dir(), names, sizeof(names)), 0);
	free(path);
}
END_TEST

/* ---- creation: no half-made files, races ------------------------------------ */

struct fsize {
	const char *path;
	int out;
};

static int fsize_child(void *arg)
{
	struct fsize *f = arg;
	struct rlimit rl = { 64 * 1024, 64 * 1024 };
	shpool_t *p = NULL;

	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0) {
		send_msg(f->out, -errno, "setrlimit failed");
		return 0;
	}
	/* 64 slots of 4 KiB: well over the 64 KiB limit. */
	send_report(f->out, shpool_create(&p, f->path, SHPOOL_RAW, 64, 4096, NULL));
	shpool_close(p);
	return 0;
}

START_TEST(no_half_made_file)
{
	char *dir = sub_dir("d");
	struct fsize f = { path_in(dir, "pool"), -1 };
	char names[256];
	struct report r;
	int fds[2];
	pid_t pid;

	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	f.out = fds[1];
	pid = test_fork(fsize_child, &f);
	close(fds[1]);
	ck_assert_msg(recv_report(fds[0], &r), "child died");
	ck_assert_int_eq(test_wait(pid), 0);
	close(fds[0]);
	ck_assert_report(r, -EFBIG, "cannot size");
	ck_assert_msg(list_dir(dir, names, sizeof(names)) == 0, "left behind: %s", names);
	/* Without the limit the same call works. */
	make_pool_file(f.path, 64, 4096);
	free((char *)f.path);
	free(dir);
}
END_TEST

#define RACERS 8
#define RACE_ROUNDS 20
/* Big enough (~300 KiB) that creators overlap: a creator that replaced the
 * file instead of losing to it would split the racers over two pools. */
#define RACE_CAP 4096
#define RACE_ELEM 64

struct racer {
	const char *path;
	int gate, gate_w, out;
};

static int race_child(void *arg)
{
	struct racer *r = arg;
	shpool_t *p = NULL;
	int64_t rc;
	char c;

	/* Released all at once: read() returns 0 when the parent closes the
	 * last write end. */
	close(r->gate_w);
	while (read(r->gate, &c, 1) < 0 && errno == EINTR)
		;
	rc = shpool_create(&p, r->path, SHPOOL_RAW, RACE_CAP, RACE_ELEM, NULL);
	if (rc == 0)
		rc = shpool_try_alloc(p);
	send_report(r->out, rc);
	/* No free: the parent counts the slots. */
	shpool_close(p);
	return 0;
}

static void race_round(const char *dir, int round)
{
	char name[32];
	struct racer r;
	pid_t pids[RACERS];
	int64_t idx[RACERS];
	int gate[2], out[2];
	shpool_t *p;

	snprintf(name, sizeof(name), "pool-%d", round);
	r.path = path_in(dir, name);
	ck_assert_int_eq(pipe2(gate, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	r.gate = gate[0];
	r.gate_w = gate[1];
	r.out = out[1];
	for (int i = 0; i < RACERS; i++)
		pids[i] = test_fork(race_child, &r);
	close(out[1]);
	close(gate[0]);
	close(gate[1]); /* go */
	for (int i = 0; i < RACERS; i++) {
		struct report rep;

		ck_assert_msg(recv_report(out[0], &rep), "round %d: a racer died", round);
		ck_assert_msg(rep.rc >= 0 && rep.rc < RACE_CAP, "round %d: racer got %lld: %s",
			      round, (long long)rep.rc, rep.msg);
		idx[i] = rep.rc;
		for (int j = 0; j < i; j++)
			ck_assert_msg(idx[j] != idx[i],
				      "round %d: slot %lld handed out twice: two pools?", round,
				      (long long)idx[i]);
	}
	for (int i = 0; i < RACERS; i++)
		ck_assert_int_eq(test_wait(pids[i]), 0);
	close(out[0]);
	ck_assert_int_eq(shpool_open(&p, r.path, SHPOOL_RAW), 0);
	ck_assert_msg(shpool_used(p) == RACERS, "round %d: used %" PRIu64 ", want %d", round,
		      shpool_used(p), RACERS);
	for (int i = 0; i < RACERS; i++)
		ck_assert_int_eq(shpool_is_allocated(p, (uint64_t)idx[i]), 1);
	shpool_close(p);
	free((char *)r.path);
}

START_TEST(create_race)
{
	char *dir = sub_dir("race");
	char names[1024];

	for (int round = 0; round < RACE_ROUNDS; round++)
		race_round(dir, round);
	/* One file per round, and no temp file left by a loser. */
	ck_assert_msg(list_dir(dir, names, sizeof(names)) == RACE_ROUNDS, "directory holds: %s",
		      names);
	free(dir);
}
END_TEST

/* ---- memfd and fd attach ------------------------------------------------------ */

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
	write_file(junk, zeros, sizeof(zeros));
	write_file(tiny, zeros, 10);
	make_pool_file(pool, 100, 16);
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
	shpool_t *p = new_pool(path, SHPOOL_I32, 50, 0), *q;
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
	ck_assert(exists(path));
	shpool_close(q);
	shpool_close(p);
	free(path);
}
END_TEST

/* ---- errors and version -------------------------------------------------------- */

START_TEST(strerror_codes)
{
	static const int codes[] = { EINVAL, ERANGE, ENOENT, EAGAIN, ETIMEDOUT, E2BIG,
				     EBADMSG, EPROTONOSUPPORT, EUCLEAN, ENOSYS, ELOOP, EISDIR,
				     EACCES, ENOMEM, EBADF, ENOSPC, EFBIG, EEXIST };
	const size_t n = sizeof(codes) / sizeof(codes[0]);
	const char *unknown = shpool_strerror(123456);

	ck_assert_ptr_nonnull(unknown);
	ck_assert_ptr_nonnull(strstr(unknown, "unrecognised"));
	ck_assert_str_eq(shpool_strerror(-123456), unknown);
	ck_assert_str_eq(shpool_strerror(INT_MIN), unknown);
	ck_assert_str_eq(shpool_strerror(INT_MAX), unknown);
	for (size_t i = 0; i < n; i++) {
		const char *t = shpool_strerror(-codes[i]);

		ck_assert_msg(t && *t && !strstr(t, "unrecognised"), "code %d: \"%s\"", codes[i],
			      t ? t : "(null)");
		ck_assert_str_eq(shpool_strerror(codes[i]), t);
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcmp(t, shpool_strerror(-codes[j])) != 0,
				      "codes %d and %d share the text \"%s\"", codes[i], codes[j],
				      t);
	}
	ck_assert_str_ne(shpool_strerror(0), unknown);
	/* What the library means by the codes it returns (issue 28): -EROFS
	 * is mostly a read-only handle; -EOVERFLOW only ever a system call's,
	 * passed through (fstat of a large file in a 32-bit process). */
	ck_assert_ptr_nonnull(strstr(shpool_strerror(-EROFS), "SHPOOL_RDONLY"));
	ck_assert_ptr_null(strstr(shpool_strerror(-EOVERFLOW), "counter"));
	ck_assert_ptr_nonnull(strstr(shpool_strerror(-EOVERFLOW), "too large"));
}
END_TEST

static void *thread_fails(void *arg)
{
	shpool_t *p;
	char **seen = arg;

	/* A new thread starts with no detail, whatever the others did. */
	seen[0] = strdup(shpool_last_error());
	shpool_create(&p, NULL, SHPOOL_RAW, 0, 8, NULL);
	seen[1] = strdup(shpool_last_error());
	return NULL;
}

START_TEST(last_error_thread_local)
{
	pthread_t t;
	char *seen[2];
	char mine[512];

	ck_assert_int_eq(shpool_create(&(shpool_t *){ NULL }, NULL, (shpool_kind)9, 1, 1, NULL),
			 -EINVAL);
	snprintf(mine, sizeof(mine), "%s", shpool_last_error());
	ck_assert_str_eq(mine, "unknown pool kind 9");
	ck_assert_int_eq(pthread_create(&t, NULL, thread_fails, seen), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_str_eq(seen[0], "");
	ck_assert_ptr_nonnull(strstr(seen[1], "capacity 0 out of range"));
	/* The other thread's failure left this thread's detail alone. */
	ck_assert_str_eq(shpool_last_error(), mine);
	free(seen[0]);
	free(seen[1]);
}
END_TEST

START_TEST(last_error_long_path)
{
	char name[1200];
	char *path;
	shpool_t *p;
	size_t len;

	/* Components under NAME_MAX, the whole well over the detail buffer. */
	for (size_t i = 0; i < sizeof(name) - 1; i++)
		name[i] = i % 200 == 199 ? '/' : 'a';
	name[sizeof(name) - 1] = '\0';
	path = test_path(name);
	ck_assert_int_eq(shpool_open(&p, path, SHPOOL_RAW), -ENOENT);
	len = strlen(shpool_last_error());
	ck_assert_uint_gt(len, 100);
	ck_assert_uint_lt(len, 1024);
	ck_assert_int_eq(strncmp(shpool_last_error(), path, 50), 0);
	free(path);
}
END_TEST

START_TEST(version)
{
	char want[64];

	snprintf(want, sizeof(want), "%d.%d.%d", SHPOOL_VERSION_MAJOR, SHPOOL_VERSION_MINOR,
		 SHPOOL_VERSION_PATCH);
	ck_assert_str_eq(shpool_version(), want);
}
END_TEST

/* ---- suite -------------------------------------------------------------------- */

static TCase *tcase(Suite *s, const char *name, double timeout)
{
	TCase *t = tcase_create(name);

	tcase_set_timeout(t, timeout);
	suite_add_tcase(s, t);
	return t;
}

static Suite *make_segment_suite(void)
{
	Suite *s = suite_create("segment");
	TCase *t;

	t = tcase(s, "geometry", 10);
	tcase_add_loop_test(t, anon_geometry, 0, NGEOS);
	tcase_add_test(t, anon_capacities);
	tcase_add_test(t, anon_shared_with_fork);

	t = tcase(s, "files", 10);
	tcase_add_test(t, file_mode_default);
	tcase_add_test(t, file_mode_option);
	tcase_add_test(t, file_reattach);
	tcase_add_test(t, file_path_sync_unlink);
	tcase_add_test(t, file_relative_path);
	tcase_add_test(t, file_create_leaves_only_the_pool);
	tcase_add_test(t, file_unlink_needs_a_file);
	tcase_add_test(t, attach_mismatch);

	t = tcase(s, "bad_input", 10);
	tcase_add_test(t, null_out);
	tcase_add_test(t, null_handle_core);
	tcase_add_test(t, null_handle_typed);
	tcase_add_test(t, bad_capacity);
	tcase_add_test(t, too_big_for_address_space);
#if SIZE_MAX < UINT64_MAX
	tcase_add_test(t, beyond_size_t);
#endif
	tcase_add_test(t, bad_elem_size);
	tcase_add_test(t, implied_elem_size);
	tcase_add_test(t, unknown_kind);
	tcase_add_test(t, unknown_flags);
	tcase_add_test(t, bad_mode);
	tcase_add_test(t, bad_paths);

	t = tcase(s, "hostile", 10);
	tcase_add_test(t, truncated_file);
	tcase_add_test(t, grown_file);
	tcase_add_test(t, junk_file);
	tcase_add_test(t, bad_magic);
	tcase_add_test(t, layout_version);
	tcase_add_loop_test(t, corrupt_header, 0, NCORRUPTIONS);

	/* A FIFO at the path must be refused without blocking: the timeout
	 * turns a hang into a failure. */
	t = tcase(s, "paths", 5);
	tcase_add_test(t, symlink_to_pool);
	tcase_add_test(t, symlink_dangling);
	tcase_add_test(t, directory_at_path);
	tcase_add_test(t, fifo_at_path);
	tcase_add_test(t, read_only_file);
	tcase_add_test(t, missing_directory);

	t = tcase(s, "races", 20);
	tcase_add_test(t, no_half_made_file);
	tcase_add_test(t, create_race);

	t = tcase(s, "memfd", 10);
	tcase_add_test(t, memfd_basic);
	tcase_add_test(t, memfd_open_fd_shares);
	tcase_add_test(t, open_fd_bad);
	tcase_add_test(t, open_fd_of_file);

	t = tcase(s, "errors", 10);
	tcase_add_test(t, strerror_codes);
	tcase_add_test(t, last_error_thread_local);
	tcase_add_test(t, last_error_long_path);
	tcase_add_test(t, version);
	return s;
}

int main(void)
{
	return test_run_suite(make_segment_suite());
}

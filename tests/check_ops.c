/* SPDX-License-Identifier: MIT */
/*
 * Tests for operating pools in production (issue 14): read-only attach
 * (SHPOOL_RDONLY), attaching any kind (SHPOOL_ANY_KIND, shpool_kind_name),
 * shpool_create adopting an empty file, and the error detail of long paths.
 *
 * A read-only handle maps the pool PROT_READ: a call that wrote to it anyway
 * would die of SIGSEGV, which Check reports as an error of that test. So
 * each "refused with -EROFS" below also proves "never faults".
 * Races are staged with crash points (SHPOOL_CRASH_AT=name:n:stop): a
 * creator is stopped at one step of its initialisation and the test looks
 * at what others see then. Children report through their exit status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
/* White-box: the header layout, to forge a segment of an unknown kind. */
#include "../src/shpool-internal.h"

#define NOBODY 65534

/* ---- helpers ------------------------------------------------------------ */

static shpool_t *make(const char *path, shpool_kind kind, uint64_t cap, uint32_t es)
{
	shpool_t *p = NULL;
	int rc = shpool_create(&p, path, kind, cap, es, NULL);

	ck_assert_msg(rc == 0, "create %s: %d %s", path ? path : "anon", rc, shpool_last_error());
	return p;
}

static shpool_t *attach_ro(const char *path, shpool_kind kind)
{
	shpool_t *p = NULL;
	int rc = shpool_attach(&p, path, kind, SHPOOL_RDONLY);

	ck_assert_msg(rc == 0, "attach %s read-only: %d %s", path, rc, shpool_last_error());
	ck_assert_int_eq(shpool_is_readonly(p), 1);
	return p;
}

static off_t size_of(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

static void make_empty(const char *path, mode_t mode)
{
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);

	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

/* -EROFS and a detail naming the call and the flag. */
#define ck_assert_rofs(call, fn) \
	do { \
		ck_assert_fails((call), -EROFS, "pool opened read-only (SHPOOL_RDONLY): "); \
		ck_assert_msg(strstr(shpool_last_error(), fn " changes it"), \
			      "detail \"%s\" does not name %s", shpool_last_error(), fn); \
	} while (0)

/* ---- read-only attach --------------------------------------------------- */

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
	shpool_t *w = make(path, SHPOOL_I64, 100, 0), *sw = make(spath, SHPOOL_STR, 10, 32);
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
		w[k] = make(paths[k], kinds[k], 64, kinds[k] == SHPOOL_RAW ? 16 :
						    kinds[k] == SHPOOL_STR ? 8 : 0);
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
	shpool_t *w = make(path, SHPOOL_STR, 4, 8);
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
	shpool_t *w = make(path, SHPOOL_RAW, 8, 8), *m = NULL, *r = NULL;
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

	if (getuid() == 0 && (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 ||
			      setuid(NOBODY) != 0))
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

/* ---- any kind ------------------------------------------------------------ */

START_TEST(any_kind)
{
	const shpool_kind kinds[5] = { SHPOOL_RAW, SHPOOL_I64, SHPOOL_I32, SHPOOL_F64,
				       SHPOOL_STR };
	const char *names[5] = { "raw", "i64", "i32", "f64", "str" };
	char *path = test_path("any");
	shpool_t *p = NULL, *q = NULL;

	for (int k = 0; k < 5; k++) {
		int fd;

		ck_assert_str_eq(shpool_kind_name(kinds[k]), names[k]);
		p = make(path, kinds[k], 8, kinds[k] == SHPOOL_RAW || kinds[k] == SHPOOL_STR ? 8 : 0);
		ck_assert_int_eq(shpool_open(&q, path, SHPOOL_ANY_KIND), 0);
		ck_assert_int_eq(shpool_kind_of(q), kinds[k]);
		ck_assert_int_eq(shpool_is_readonly(q), 0);
		shpool_close(q);
		fd = open(path, O_RDWR | O_CLOEXEC);
		ck_assert_int_eq(shpool_open_fd(&q, fd, SHPOOL_ANY_KIND), 0);
		ck_assert_int_eq(shpool_kind_of(q), kinds[k]);
		shpool_close(q);
		close(fd);
		shpool_unlink(p);
		shpool_close(p);
	}
	ck_assert_ptr_null(shpool_kind_name(SHPOOL_ANY_KIND));
	ck_assert_ptr_null(shpool_kind_name((shpool_kind)6));
	ck_assert_ptr_null(shpool_kind_name((shpool_kind)-1));
	ck_assert_fails(shpool_create(&p, path, SHPOOL_ANY_KIND, 8, 8, NULL), -EINVAL,
			"SHPOOL_ANY_KIND only attaches");
	ck_assert_fails(shpool_create(&p, NULL, SHPOOL_ANY_KIND, 8, 8, NULL), -EINVAL,
			"SHPOOL_ANY_KIND only attaches");
	ck_assert_fails(shpool_create_memfd(&p, "x", SHPOOL_ANY_KIND, 8, 8, NULL), -EINVAL,
			"SHPOOL_ANY_KIND only attaches");
	ck_assert_int_eq(access(path, F_OK), -1);
	free(path);
}
END_TEST

/* A segment naming a kind this library does not know: SHPOOL_ANY_KIND
 * says so instead of guessing. */
START_TEST(any_kind_unknown)
{
	char *path = test_path("future");
	shpool_t *p = make(path, SHPOOL_RAW, 8, 8), *q = NULL;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	uint32_t kind = 9;

	shpool_close(p);
	ck_assert_int_eq(pwrite(fd, &kind, sizeof(kind), offsetof(struct shpool_header, kind)),
			 (ssize_t)sizeof(kind));
	close(fd);
	ck_assert_fails(shpool_open(&q, path, SHPOOL_ANY_KIND), -EBADMSG, "unknown kind 9");
	ck_assert_fails(shpool_attach(&q, path, SHPOOL_ANY_KIND, SHPOOL_RDONLY), -EBADMSG,
			"unknown kind 9");
	ck_assert_fails(shpool_open(&q, path, SHPOOL_RAW), -EINVAL, "segment has unknown");
	ck_assert_ptr_null(q);
	free(path);
}
END_TEST

/* ---- adopting an empty file --------------------------------------------- */

/* An empty file of ours becomes the pool, in place: same inode, its
 * mode kept (or the one asked for), usable by others. */
START_TEST(adopt_empty)
{
	char *path = test_path("empty");
	shpool_options o = { .mode = 0600 };
	shpool_t *p = NULL, *q = NULL;
	struct stat before, after;

	make_empty(path, 0640);
	ck_assert_int_eq(stat(path, &before), 0);
	ck_assert_int_eq(shpool_create(&p, path, SHPOOL_I64, 100, 0, NULL), 0);
	ck_assert_int_eq(stat(path, &after), 0);
	ck_assert_uint_eq(after.st_ino, before.st_ino);
	ck_assert_uint_eq(after.st_mode & 07777, 0640);
	ck_assert_uint_eq(after.st_nlink, 1);
	ck_assert_int_gt(after.st_size, 0);
	ck_assert_int_ge(shpool_alloc_set_i64(p, 5, 0), 0);
	ck_assert_int_eq(shpool_open(&q, path, SHPOOL_I64), 0);
	ck_assert_uint_eq(shpool_used(q), 1);
	ck_assert_int_eq(shpool_check(q, NULL), 0);
	shpool_close(q);
	/* A second create attaches: one pool. */
	ck_assert_int_eq(shpool_create(&q, path, SHPOOL_I64, 100, 0, NULL), 0);
	ck_assert_uint_eq(shpool_used(q), 1);
	shpool_close(q);
	shpool_close(p);

	ck_assert_int_eq(unlink(path), 0);
	make_empty(path, 0644);
	ck_assert_int_eq(shpool_create(&p, path, SHPOOL_RAW, 10, 10, &o), 0);
	ck_assert_int_eq(stat(path, &after), 0);
	ck_assert_uint_eq(after.st_mode & 07777, 0600);
	shpool_close(p);
	free(path);
}
END_TEST

/* What is not ours to take stays untouched and refused, as before. */
START_TEST(adopt_refusals)
{
	char *path = test_path("empty"), *other = test_path("other"), *sym = test_path("sym");
	char *junk = test_path("junk");
	shpool_t *p = NULL;
	int fd;

	make_empty(path, 0600);
	ck_assert_int_eq(link(path, other), 0);
	ck_assert_fails(shpool_create(&p, path, SHPOOL_RAW, 10, 8, NULL), -EMLINK, "hard links");
	ck_assert_int_eq(size_of(path), 0);
	ck_assert_int_eq(unlink(other), 0);

	ck_assert_int_eq(symlink(path, sym), 0);
	ck_assert_fails(shpool_create(&p, sym, SHPOOL_RAW, 10, 8, NULL), -ELOOP, "symbolic link");
	ck_assert_int_eq(size_of(path), 0);

	fd = open(junk, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	ck_assert_int_eq(write(fd, "not a pool", 10), 10);
	close(fd);
	ck_assert_fails(shpool_create(&p, junk, SHPOOL_RAW, 10, 8, NULL), -EBADMSG, "truncated");
	ck_assert_int_eq(size_of(junk), 10);

	if (geteuid() == 0) {
		ck_assert_int_eq(chown(path, NOBODY, NOBODY), 0);
		ck_assert_fails(shpool_create(&p, path, SHPOOL_RAW, 10, 8, NULL), -EPERM,
				"empty file owned by uid 65534");
		ck_assert_int_eq(size_of(path), 0);
	}
	ck_assert_ptr_null(p);
	free(path);
	free(other);
	free(sym);
	free(junk);
}
END_TEST

struct creator {
	const char *path;
	const char *crash_at; /* SHPOOL_CRASH_AT, or NULL */
	uint64_t capacity;
	bool hold;            /* allocate a slot and exit holding it */
};

static int creator_child(void *arg)
{
	const struct creator *c = arg;
	shpool_t *p = NULL;
	int rc = 0;

	if (c->crash_at)
		setenv("SHPOOL_CRASH_AT", c->crash_at, 1);
	if (shpool_create(&p, c->path, SHPOOL_I64, c->capacity, 0, NULL) != 0)
		return 20;
	if (c->hold && shpool_alloc_set_i64(p, 77, 0) < 0)
		rc = 21;
	else if (shpool_capacity(p) != c->capacity)
		rc = 22;
	/* Closed (a held slot stays held): valgrind reports a handle left
	 * open at exit as leaked, and fails the child. */
	shpool_close(p);
	return rc;
}

/* Fork a creator that stops at crash point `point`; returns once it has. */
static pid_t stopped_creator(struct creator *c)
{
	pid_t pid = test_fork(creator_child, c);
	int st;

	ck_assert_int_eq(waitpid(pid, &st, WUNTRACED), pid);
	ck_assert_msg(WIFSTOPPED(st), "creator did not stop at %s", c->crash_at);
	return pid;
}

/* An opener never maps a half-made pool: while a creator holds the file
 * (stopped before and after sizing it), opening by path is -EAGAIN with a
 * clear detail, by fd (no lock) -EBADMSG; once it is done, both attach. */
static void opener_during(const char *point, const char *name)
{
	char *path = test_path(name);
	struct creator c = { path, point, 50, false };
	shpool_t *q = NULL;
	pid_t pid;
	int fd;

	make_empty(path, 0600);
	pid = stopped_creator(&c);
	ck_assert_fails(shpool_open(&q, path, SHPOOL_I64), -EAGAIN,
			"another process is making a pool of this empty file");
	ck_assert_fails(shpool_attach(&q, path, SHPOOL_ANY_KIND, SHPOOL_RDONLY), -EAGAIN,
			"try again");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_lt(shpool_attach_fd(&q, fd, SHPOOL_I64, SHPOOL_RDONLY), 0);
	ck_assert_msg(strstr(shpool_last_error(), "empty file") ||
		      strstr(shpool_last_error(), "bad magic"), "by fd: %s", shpool_last_error());
	ck_assert_ptr_null(q);
	ck_assert_int_eq(kill(pid, SIGCONT), 0);
	ck_assert_int_eq(test_wait(pid), 0);
	ck_assert_int_eq(shpool_open(&q, path, SHPOOL_I64), 0);
	ck_assert_uint_eq(shpool_capacity(q), 50);
	shpool_close(q);
	ck_assert_int_eq(shpool_attach_fd(&q, fd, SHPOOL_I64, SHPOOL_RDONLY), 0);
	shpool_close(q);
	close(fd);
	free(path);
}

START_TEST(adopt_race_opener)
{
	opener_during("create.adopt_locked:1:stop", "locked");
	opener_during("create.adopt_sized:1:stop", "sized");
}
END_TEST

/* Two creators end with one pool: the second waits for the first's
 * initialisation (blocked in flock(2)), then attaches what it made. The
 * first stops before sizing the file (the second then wants to make a pool
 * of it too) and after (the second then wants to attach). */
static void creator_during(const char *point, const char *name)
{
	char *path = test_path(name);
	struct creator first = { path, point, 40, false };
	struct creator second = { path, NULL, 40, true };
	shpool_t *q = NULL;
	pid_t a, b;
	int64_t v = 0;
	uint64_t slot;

	make_empty(path, 0600);
	a = stopped_creator(&first);
	b = test_fork(creator_child, &second);
	test_await_syscall(b, SYS_flock);
	ck_assert_int_eq(kill(a, SIGCONT), 0);
	ck_assert_int_eq(test_wait(a), 0);
	ck_assert_int_eq(test_wait(b), 0);
	ck_assert_int_eq(shpool_open(&q, path, SHPOOL_I64), 0);
	/* The second creator's slot is in the first one's pool. */
	ck_assert_int_eq(shpool_allocated_slots(q, &slot, 1), 1);
	ck_assert_int_eq(shpool_i64_get(q, slot, &v), 0);
	ck_assert_int_eq(v, 77);
	ck_assert_int_eq(shpool_check(q, NULL), 1); /* held by the dead second */
	shpool_close(q);
	free(path);
}

START_TEST(adopt_race_creator)
{
	creator_during("create.adopt_locked:1:stop", "locked");
	creator_during("create.adopt_sized:1:stop", "sized");
}
END_TEST

/* A finished pool file is its users' to flock(2): a program holding LOCK_EX
 * on it for its own coordination must not stop others from attaching it
 * (they got -EAGAIN, "making a pool of this empty file") nor from
 * re-creating it (which blocked until the lock went). The lock is held
 * here through another open file description, as another process's
 * would be: flock(2) locks conflict between descriptions, not processes. */
START_TEST(flock_of_finished_pool)
{
	char *path = test_path("locked");
	shpool_t *p, *q;
	int lockfd, fd;

	ck_assert_int_eq(shpool_create(&p, path, SHPOOL_I64, 16, 0, NULL), 0);
	lockfd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(lockfd, 0);
	ck_assert_int_eq(flock(lockfd, LOCK_EX | LOCK_NB), 0);
	ck_assert_int_eq(shpool_open(&q, path, SHPOOL_I64), 0);
	shpool_close(q);
	ck_assert_int_eq(shpool_attach(&q, path, SHPOOL_ANY_KIND, SHPOOL_RDONLY), 0);
	shpool_close(q);
	/* Would block for good before (the tcase timeout turns that into a
	 * failure): the lock is ours and we are the only thread. */
	ck_assert_int_eq(shpool_create(&q, path, SHPOOL_I64, 16, 0, NULL), 0);
	shpool_close(q);
	/* And the lock is still the program's. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(flock(fd, LOCK_SH | LOCK_NB), -1);
	ck_assert_int_eq(errno, EWOULDBLOCK);
	close(fd);
	close(lockfd);
	shpool_close(p);
	free(path);
}
END_TEST

/* A failed initialisation gives the file back empty, ready for a retry. */
START_TEST(adopt_failure_gives_back)
{
	char *path = test_path("empty");
	shpool_t *p = NULL;
	struct stat st;

	make_empty(path, 0600);
	setenv("SHPOOL_FAULT_AT", "size.fallocate:28", 1);
	ck_assert_fails(shpool_create(&p, path, SHPOOL_RAW, 1000, 64, NULL), -ENOSPC,
			"cannot size");
	ck_assert_int_eq(size_of(path), 0);
	setenv("SHPOOL_FAULT_AT", "handle.alloc:12", 1);
	ck_assert_fails(shpool_create(&p, path, SHPOOL_RAW, 1000, 64, NULL), -ENOMEM,
			"out of memory for the pool handle");
	ck_assert_int_eq(size_of(path), 0);
	unsetenv("SHPOOL_FAULT_AT");
	ck_assert_ptr_null(p);
	ck_assert_int_eq(shpool_create(&p, path, SHPOOL_RAW, 1000, 64, NULL), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_gt(st.st_size, 0);
	shpool_close(p);
	free(path);
}
END_TEST

/* A creation that fails for want of memory for its handle leaves no pool
 * file behind: the handle is made before the file gets its name. */
START_TEST(create_nomem_leaves_nothing)
{
	char *path = test_path("new");
	shpool_t *p = NULL;

	setenv("SHPOOL_FAULT_AT", "handle.alloc:12", 1);
	ck_assert_fails(shpool_create(&p, path, SHPOOL_RAW, 10, 8, NULL), -ENOMEM,
			"out of memory for the pool handle");
	unsetenv("SHPOOL_FAULT_AT");
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_null(p);
	free(path);
}
END_TEST

/* ---- error detail ---------------------------------------------------------- */

static bool valid_utf8(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	while (*u) {
		int n = *u < 0x80 ? 0 : (*u & 0xE0) == 0xC0 ? 1 : (*u & 0xF0) == 0xE0 ? 2 :
			(*u & 0xF8) == 0xF0 ? 3 : -1;
		if (n < 0)
			return false;
		u++;
		for (; n > 0; n--, u++)
			if ((*u & 0xC0) != 0x80)
				return false;
	}
	return true;
}

/* A long path is shortened in its middle; the reason stays whole. */
START_TEST(long_path_keeps_reason)
{
	const size_t lens[] = { 600, 3000, 4000, 9000 };
	shpool_t *p = NULL;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		char *path = malloc(lens[i] + 1);
		const char *e;

		/* "/nonexistent/é.../tail": two-byte characters, so that a cut
		 * through one would show. */
		memset(path, 'x', lens[i]);
		memcpy(path, "/nonexistent/", 13);
		for (size_t j = 13; j + 1 < lens[i] - 8; j += 2)
			memcpy(path + j, "\xc3\xa9", 2);
		memcpy(path + lens[i] - 8, "/the-end", 8);
		path[lens[i]] = '\0';
		ck_assert_int_lt(shpool_open(&p, path, SHPOOL_RAW), 0);
		e = shpool_last_error();
		ck_assert_msg(strlen(e) < 512 && strstr(e, "...") && valid_utf8(e),
			      "detail: %s", e);
		ck_assert_msg(strncmp(e, "/nonexistent/", 13) == 0, "head lost: %.40s", e);
		ck_assert_msg(strstr(e, "/the-end: ") != NULL, "tail of the path lost: %s", e);
		ck_assert_msg(strstr(e, lens[i] > PATH_MAX ? strerror(ENAMETOOLONG)
							   : strerror(ENOENT)),
			      "reason lost: %s", e);
		free(path);
	}
	/* Short details are untouched. */
	ck_assert_int_lt(shpool_open(&p, "/nonexistent/x", SHPOOL_RAW), 0);
	ck_assert_str_eq(shpool_last_error(), "/nonexistent/x: No such file or directory");
}
END_TEST

static Suite *ops_suite(void)
{
	Suite *s = suite_create("ops");
	TCase *ro = tcase_create("rdonly"), *any = tcase_create("any_kind");
	TCase *adopt = tcase_create("adopt"), *err = tcase_create("errors");

	tcase_add_test(ro, rdonly_reads);
	tcase_add_test(ro, rdonly_writes_refused);
	tcase_add_test(ro, rdonly_hostile_writer);
	tcase_add_test(ro, rdonly_fd);
	tcase_add_test(ro, rdonly_unprivileged);
	tcase_add_test(any, any_kind);
	tcase_add_test(any, any_kind_unknown);
	tcase_add_test(adopt, adopt_empty);
	tcase_add_test(adopt, adopt_refusals);
	tcase_add_test(adopt, adopt_race_opener);
	tcase_add_test(adopt, adopt_race_creator);
	tcase_add_test(adopt, adopt_failure_gives_back);
	tcase_add_test(adopt, flock_of_finished_pool);
	tcase_add_test(adopt, create_nomem_leaves_nothing);
	tcase_add_test(err, long_path_keeps_reason);
	suite_add_tcase(s, ro);
	suite_add_tcase(s, any);
	suite_add_tcase(s, adopt);
	suite_add_tcase(s, err);
	return s;
}

int main(void)
{
	return test_run_suite(ops_suite());
}

/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/file.c, pools in files: creating one by path (its mode, no
 * half-made file ever visible, racing creators ending with one pool),
 * attaching it again by path, what is refused at the path (symbolic links,
 * directories, FIFOs, missing directories, files the caller may not write),
 * unlinking, and making a pool of an empty file in place (adopting it) under
 * the initialisation lock. Every failing call is checked for its code AND for
 * a detail in shpool_last_error(). Child processes never call Check
 * assertions: they report (code, detail) through a pipe, or a small number
 * through their exit status, and the test process asserts. Races are staged
 * with crash points (SHPOOL_CRASH_AT=name:n:stop): a creator is stopped at
 * one step of its initialisation and the test looks at what others see then.
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
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* ---- helpers ------------------------------------------------------------ */

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

static void make_empty(const char *path, mode_t mode)
{
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);

	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

/* ---- files ------------------------------------------------------------------- */

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
	shpool_t *a = test_pool(path, SHPOOL_RAW, 100, 16, 0), *b, *c;
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
	ck_assert(!test_exists(path));
	ck_assert_int_eq(test_list_dir(test_dir(), names, sizeof(names)), 0);
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
	ck_assert_msg(test_list_dir(dir, names, sizeof(names)) == 1, "directory holds: %s", names);
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

	test_pool_file(path, 1000, 64);
	ck_assert_msg(test_list_dir(dir, names, sizeof(names)) == 1, "directory holds: %s", names);
	ck_assert_str_eq(names, "pool ");
	free(path);
	free(dir);
}
END_TEST

START_TEST(file_unlink_needs_a_file)
{
	shpool_t *a = test_pool(NULL, SHPOOL_RAW, 10, 8, 0), *m;

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

	test_pool_file(path, 100, 16);
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

	shpool_close(test_pool(spath, SHPOOL_STR, 100, 16, 0));
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

/* ---- bad input --------------------------------------------------------------- */

START_TEST(bad_mode)
{
	static const unsigned modes[] = { 01000, 04600, 02600, 0x10000, ~0u };
	char *path = test_path("pool");

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		shpool_options o = { .mode = modes[i] };
		shpool_t *p;

		ck_assert_fails(shpool_create(&p, path, SHPOOL_RAW, 10, 8, &o), -EINVAL,
				"beyond 0777");
		ck_assert(!test_exists(path));
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

/* ---- paths ------------------------------------------------------------------- */

START_TEST(symlink_to_pool)
{
	off_t size;
	char *target = test_pristine_pool(&size);
	char *link = test_path("link");
	struct test_file before = test_file_state(target);
	shpool_t *p = (shpool_t *)&p;

	ck_assert_int_eq(symlink(target, link), 0);
	ck_assert_fails(shpool_open(&p, link, SHPOOL_RAW), -ELOOP, "symbolic link");
	ck_assert_ptr_null(p);
	ck_assert_fails(shpool_create(&p, link, SHPOOL_RAW, 100, 16, NULL), -ELOOP,
			"symbolic link");
	ck_assert_fails(shpool_create(&p, link, SHPOOL_RAW, 50, 8, NULL), -ELOOP,
			"symbolic link");
	test_assert_unchanged(target, &before);
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
	ck_assert_msg(!test_exists(target), "create through a symlink made %s", target);
	ck_assert_fails(shpool_open(&p, link, SHPOOL_RAW), -ELOOP, "symbolic link");
	ck_assert(!test_exists(target));
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
	ck_assert_int_eq(test_list_dir(dir, names, sizeof(names)), 0);
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
	int rc = test_become_nobody();

	if (rc < 0) {
		send_msg(u->out, rc, "dropping privileges failed");
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

	test_pool_file(path, 100, 16);
	if (geteuid() == 0) {
		/* Mode bits don't stop root: try as nobody, who may read the
		 * file but not write it. */
		struct test_file before = test_file_state(path);
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
		test_assert_unchanged(path, &before);
		ck_assert_msg(test_list_dir(test_dir(), names, sizeof(names)) == 1, "dir: %s",
			      names);
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
	ck_assert_int_eq(test_list_dir(test_dir(), names, sizeof(names)), 0);
	free(path);
}
END_TEST

/* ---- creation: no half-made files, races ------------------------------------- */

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
	ck_assert_msg(test_list_dir(dir, names, sizeof(names)) == 0, "left behind: %s", names);
	/* Without the limit the same call works. */
	test_pool_file(f.path, 64, 4096);
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
	ck_assert_msg(test_list_dir(dir, names, sizeof(names)) == RACE_ROUNDS,
		      "directory holds: %s", names);
	free(dir);
}
END_TEST

/* ---- adopting an empty file -------------------------------------------------- */

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
	ck_assert_int_eq(test_file_size(path), 0);
	ck_assert_int_eq(unlink(other), 0);

	ck_assert_int_eq(symlink(path, sym), 0);
	ck_assert_fails(shpool_create(&p, sym, SHPOOL_RAW, 10, 8, NULL), -ELOOP, "symbolic link");
	ck_assert_int_eq(test_file_size(path), 0);

	fd = open(junk, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	ck_assert_int_eq(write(fd, "not a pool", 10), 10);
	close(fd);
	ck_assert_fails(shpool_create(&p, junk, SHPOOL_RAW, 10, 8, NULL), -EBADMSG, "truncated");
	ck_assert_int_eq(test_file_size(junk), 10);

	if (geteuid() == 0) {
		ck_assert_int_eq(chown(path, TEST_NOBODY, TEST_NOBODY), 0);
		ck_assert_fails(shpool_create(&p, path, SHPOOL_RAW, 10, 8, NULL), -EPERM,
				"empty file owned by uid 65534");
		ck_assert_int_eq(test_file_size(path), 0);
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
	ck_assert_int_eq(test_file_size(path), 0);
	setenv("SHPOOL_FAULT_AT", "handle.alloc:12", 1);
	ck_assert_fails(shpool_create(&p, path, SHPOOL_RAW, 1000, 64, NULL), -ENOMEM,
			"out of memory for the pool handle");
	ck_assert_int_eq(test_file_size(path), 0);
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

/* ---- suite ------------------------------------------------------------------- */

static Suite *make_file_suite(void)
{
	Suite *s = suite_create("file");
	TCase *t;

	t = test_tcase(s, "files", 10);
	tcase_add_test(t, file_mode_default);
	tcase_add_test(t, file_mode_option);
	tcase_add_test(t, file_reattach);
	tcase_add_test(t, file_path_sync_unlink);
	tcase_add_test(t, file_relative_path);
	tcase_add_test(t, file_create_leaves_only_the_pool);
	tcase_add_test(t, file_unlink_needs_a_file);
	tcase_add_test(t, attach_mismatch);

	t = test_tcase(s, "bad_input", 10);
	tcase_add_test(t, bad_mode);
	tcase_add_test(t, bad_paths);

	/* A FIFO at the path must be refused without blocking: the timeout
	 * turns a hang into a failure. */
	t = test_tcase(s, "paths", 5);
	tcase_add_test(t, symlink_to_pool);
	tcase_add_test(t, symlink_dangling);
	tcase_add_test(t, directory_at_path);
	tcase_add_test(t, fifo_at_path);
	tcase_add_test(t, read_only_file);
	tcase_add_test(t, missing_directory);

	t = test_tcase(s, "races", 20);
	tcase_add_test(t, no_half_made_file);
	tcase_add_test(t, create_race);

	/* Check's default timeout, as these had in check_ops. */
	t = tcase_create("adopt");
	tcase_add_test(t, adopt_empty);
	tcase_add_test(t, adopt_refusals);
	tcase_add_test(t, adopt_race_opener);
	tcase_add_test(t, adopt_race_creator);
	tcase_add_test(t, adopt_failure_gives_back);
	tcase_add_test(t, flock_of_finished_pool);
	tcase_add_test(t, create_nomem_leaves_nothing);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return test_run_suite(make_file_suite());
}

/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/error.c: the text of every code (shpool_strerror), the
 * thread-local detail behind shpool_last_error() and how it shortens long
 * paths, and the library version.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ---- error texts ------------------------------------------------------------- */

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

/* ---- the detail -------------------------------------------------------------- */

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

/* ---- version ----------------------------------------------------------------- */

START_TEST(version)
{
	char want[64];

	snprintf(want, sizeof(want), "%d.%d.%d", SHPOOL_VERSION_MAJOR, SHPOOL_VERSION_MINOR,
		 SHPOOL_VERSION_PATCH);
	ck_assert_str_eq(shpool_version(), want);
}
END_TEST

/* ---- suite ------------------------------------------------------------------- */

static Suite *make_error_suite(void)
{
	Suite *s = suite_create("error");
	TCase *t = tcase_create("errors");

	tcase_set_timeout(t, 10);
	tcase_add_test(t, strerror_codes);
	tcase_add_test(t, last_error_thread_local);
	tcase_add_test(t, last_error_long_path);
	tcase_add_test(t, version);
	suite_add_tcase(s, t);
	/* Check's default timeout, as it had in check_ops. */
	t = tcase_create("long_paths");
	tcase_add_test(t, long_path_keeps_reason);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return test_run_suite(make_error_suite());
}

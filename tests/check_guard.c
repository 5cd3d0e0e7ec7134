/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/guard.c: a guard frees its slot when it leaves scope, holds
 * nothing after a failed allocation, can be released or disarmed by hand,
 * and never frees a parent's slot from a forked child's copy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

START_TEST(guard_scope_exit_frees)
{
	shpool_t *p = test_pool(NULL, SHPOOL_RAW, 2, 8, 0);
	int64_t seen;

	{
		SHPOOL_GUARD(g) = shpool_guard_alloc(p, 0);
		ck_assert_int_ge(g.idx, 0);
		ck_assert_ptr_eq(g.pool, p);
		ck_assert_int_eq(g.pid, getpid());
		ck_assert_int_eq(shpool_is_allocated(p, (uint64_t)g.idx), 1);
		seen = g.idx;
	}
	ck_assert_int_eq(shpool_is_allocated(p, (uint64_t)seen), 0);
	ck_assert_uint_eq(shpool_used(p), 0);

	/* Cleanup keeps errno. */
	{
		SHPOOL_GUARD(g) = shpool_guard_alloc(p, 0);
		ck_assert_int_ge(g.idx, 0);
		errno = 1234;
	}
	ck_assert_int_eq(errno, 1234);
	ck_assert_uint_eq(shpool_used(p), 0);
	shpool_close(p);
}
END_TEST

START_TEST(guard_failed_alloc)
{
	shpool_t *p = test_pool(NULL, SHPOOL_RAW, 1, 8, 0);
	uint64_t held = test_alloc1(p);

	{
		SHPOOL_GUARD(g) = shpool_guard_alloc(p, 0);
		ck_assert_int_eq(g.idx, -EAGAIN);
		ck_assert_fails(shpool_guard_release(&g), -ENOENT, "holds no slot");
		ck_assert_fails(shpool_guard_disarm(&g), -ENOENT, "holds no slot");
	}
	/* The failed guard's cleanup did not free the slot someone holds. */
	ck_assert_int_eq(shpool_is_allocated(p, held), 1);
	{
		SHPOOL_GUARD(g) = shpool_guard_alloc(NULL, 0);
		ck_assert_int_eq(g.idx, -EINVAL);
	}
	shpool_guard_cleanup(NULL);
	ck_assert_fails(shpool_guard_release(NULL), -EINVAL, "NULL guard");
	ck_assert_fails(shpool_guard_disarm(NULL), -EINVAL, "NULL guard");
	shpool_close(p);
}
END_TEST

START_TEST(guard_release_and_disarm)
{
	shpool_t *p = test_pool(NULL, SHPOOL_RAW, 2, 8, 0);
	int64_t kept, idx;

	{
		SHPOOL_GUARD(g) = shpool_guard_alloc(p, 0);
		idx = g.idx;
		ck_assert_int_ge(idx, 0);
		ck_assert_int_eq(shpool_guard_release(&g), 0);
		ck_assert_int_eq(g.idx, -ENOENT);
		ck_assert_int_eq(shpool_is_allocated(p, (uint64_t)idx), 0);
		ck_assert_fails(shpool_guard_release(&g), -ENOENT, "holds no slot");
		/* Someone else gets the slot; the emptied guard must not free it. */
		ck_assert_int_eq(shpool_alloc(p, 0) >= 0, 1);
		ck_assert_int_eq(shpool_alloc(p, 0) >= 0, 1);
	}
	ck_assert_uint_eq(shpool_used(p), 2);
	ck_assert_int_eq(shpool_free(p, 0), 0);
	ck_assert_int_eq(shpool_free(p, 1), 0);

	{
		SHPOOL_GUARD(g) = shpool_guard_alloc(p, 0);
		idx = g.idx;
		kept = shpool_guard_disarm(&g);
		ck_assert_int_eq(kept, idx);
		ck_assert_int_eq(g.idx, -ENOENT);
		ck_assert_fails(shpool_guard_disarm(&g), -ENOENT, "holds no slot");
	}
	ck_assert_int_eq(shpool_is_allocated(p, (uint64_t)kept), 1);
	ck_assert_int_eq(shpool_free(p, (uint64_t)kept), 0);

	/* Cleanup called by hand empties the guard; a second call is a no-op. */
	shpool_guard_t g2 = shpool_guard_alloc(p, 0);
	ck_assert_int_ge(g2.idx, 0);
	shpool_guard_cleanup(&g2);
	ck_assert_int_eq(g2.idx, -ENOENT);
	ck_assert_uint_eq(shpool_used(p), 0);
	ck_assert_int_eq(shpool_alloc(p, 0) >= 0, 1);
	shpool_guard_cleanup(&g2);
	ck_assert_uint_eq(shpool_used(p), 1);
	shpool_close(p);
}
END_TEST

struct guard_child {
	shpool_guard_t *g;
};

/* The child's copy goes out of scope (and is released by hand): neither
 * may free the parent's slot. */
static int guard_child(void *arg)
{
	struct guard_child *c = arg;
	int rc = 0;

	{
		SHPOOL_GUARD(copy) = *c->g;
		if (copy.idx < 0 || shpool_is_allocated(copy.pool, (uint64_t)copy.idx) != 1)
			rc = 1;
		if (shpool_guard_release(&copy) != -EPERM ||
		    !strstr(shpool_last_error(), "a fork child"))
			rc |= 2;
	}
	if (shpool_is_allocated(c->g->pool, (uint64_t)c->g->idx) != 1)
		rc |= 4;
	return rc;
}

START_TEST(guard_fork_child_never_frees)
{
	shpool_t *p = test_pool(NULL, SHPOOL_RAW, 4, 8, 0);
	SHPOOL_GUARD(g) = shpool_guard_alloc(p, 0);
	struct guard_child c = { &g };
	int64_t idx = g.idx;

	ck_assert_int_ge(idx, 0);
	ck_assert_int_eq(test_wait(test_fork(guard_child, &c)), 0);
	/* After the child exited, the parent's slot is still allocated. */
	ck_assert_int_eq(shpool_is_allocated(p, (uint64_t)idx), 1);
	ck_assert_int_eq(shpool_owner(p, (uint64_t)idx), getpid());
	ck_assert_int_eq(shpool_guard_release(&g), 0);
	ck_assert_int_eq(shpool_is_allocated(p, (uint64_t)idx), 0);
	shpool_close(p);
}
END_TEST

static Suite *make_guard_suite(void)
{
	Suite *s = suite_create("guard");
	TCase *g = tcase_create("guards");

	tcase_add_test(g, guard_scope_exit_frees);
	tcase_add_test(g, guard_failed_alloc);
	tcase_add_test(g, guard_release_and_disarm);
	tcase_add_test(g, guard_fork_child_never_frees);
	suite_add_tcase(s, g);
	return s;
}

int main(void)
{
	return test_run_suite(make_guard_suite());
}

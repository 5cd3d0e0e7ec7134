/* SPDX-License-Identifier: MIT */
/*
 * libshpool example: guards, slots freed when they go out of scope.
 *
 *	SHPOOL_GUARD(g) = shpool_guard_alloc(pool, timeout_ms);
 *
 * declares a guard that holds a slot (g.idx >= 0) or the allocation's error
 * (g.idx < 0). When g leaves its scope, by any return, break or goto, the
 * slot is freed (GCC and Clang's cleanup attribute). So a function with many
 * exits cannot leak a slot on one of them. Two ways out of the automatic
 * free: shpool_guard_release() frees early, shpool_guard_disarm() keeps the
 * slot and hands its index to the caller.
 *
 * A guard frees only in the process that allocated: a fork(2) child's copy
 * of a guard never frees its parent's slot.
 *
 * Every step checks shpool_used() against what it should be.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shpool.h>

#define SLOTS 2
#define SLOT_BYTES 64

static shpool_t *pool;
static int failures;

static void expect_used(uint64_t want, const char *when)
{
	uint64_t used = shpool_used(pool);

	printf("  %-44s used %llu\n", when, (unsigned long long)used);
	if (used != want) {
		fprintf(stderr, "guards: %s: %llu slots used, expected %llu\n", when,
			(unsigned long long)used, (unsigned long long)want);
		failures++;
	}
}

/* A job with several ways out; none of them leaks the slot. */
static int handle(const char *request)
{
	SHPOOL_GUARD(g) = shpool_guard_alloc(pool, 100);
	size_t len = strlen(request);

	if (g.idx < 0)
		return (int)g.idx; /* nothing to free: the guard holds the error */
	if (len >= SLOT_BYTES)
		return -E2BIG; /* early exit: the slot is freed */
	memcpy(shpool_ptr(pool, (uint64_t)g.idx), request, len + 1);
	expect_used(1, "inside handle(): the guard holds a slot");
	return 0; /* normal exit: freed as well */
}

/* Allocate, fill, and give the slot away (to a queue, another process):
 * disarm, so leaving the scope does not free it. */
static int64_t prepare(const char *text)
{
	SHPOOL_GUARD(g) = shpool_guard_alloc(pool, 0);

	if (g.idx < 0)
		return g.idx;
	snprintf(shpool_ptr(pool, (uint64_t)g.idx), SLOT_BYTES, "%s", text);
	/* Had this failed, returning here would have freed the slot. */
	return shpool_guard_disarm(&g);
}

/* A fork child inherits a copy of the parent's guard: its exit must not
 * free the parent's slot. */
static void guard_across_fork(void)
{
	SHPOOL_GUARD(g) = shpool_guard_alloc(pool, 0);
	pid_t pid;
	int status;

	if (g.idx < 0) {
		failures++;
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		/* Releasing the copy is refused: the slot is the parent's
		 * (and leaving the scope in the child would free nothing). */
		_exit(shpool_guard_release(&g) == -EPERM ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "guards: the child freed the parent's slot\n");
		failures++;
	}
	expect_used(1, "after the child's exit: still the parent's");
}

int main(void)
{
	char too_long[100];
	int64_t kept;

	if (shpool_create(&pool, NULL, SHPOOL_RAW, SLOTS, SLOT_BYTES, NULL) < 0) {
		fprintf(stderr, "guards: shpool_create: %s\n", shpool_last_error());
		return 1;
	}
	printf("guards: a pool of %d slots\n", SLOTS);

	if (handle("hello") != 0)
		failures++;
	expect_used(0, "after handle() returned");
	memset(too_long, 'x', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	if (handle(too_long) != -E2BIG)
		failures++;
	expect_used(0, "after handle() failed early");

	kept = prepare("for later");
	if (kept < 0)
		failures++;
	expect_used(1, "after prepare(): the disarmed slot is kept");

	/* A scope with a full pool: the guard holds -EAGAIN, frees nothing. */
	{
		SHPOOL_GUARD(a) = shpool_guard_alloc(pool, 0);
		SHPOOL_GUARD(b) = shpool_guard_alloc(pool, 0);

		if (a.idx < 0 || b.idx != -EAGAIN)
			failures++;
		expect_used(2, "a second guard on a full pool got -EAGAIN");
		/* Free early: the rest of the scope does not need it. */
		if (shpool_guard_release(&a) != 0)
			failures++;
		expect_used(1, "after shpool_guard_release()");
	}
	expect_used(1, "after the scope: released and failed guards");

	if (kept >= 0 && shpool_free(pool, (uint64_t)kept) != 0)
		failures++;
	guard_across_fork();
	expect_used(0, "after guard_across_fork() returned");

	shpool_close(pool);
	puts(failures ? "FAILED" : "ok");
	return failures != 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * libshpool example: statistics counters shared by many processes.
 *
 * An I64 pool holds one atomic 64-bit integer per slot. The parent
 * allocates a slot per counter, forks workers that all update the same
 * counters at once, and checks the totals are exact: every update is one
 * atomic read-modify-write on the shared memory, so none is lost, with no
 * lock and no system call.
 *
 * Three kinds of counter:
 *  - a sum ("requests", "bytes"): shpool_i64_incr() / shpool_i64_add();
 *  - a gauge going up and down ("in_flight"): incr, then decr;
 *  - a maximum ("max_latency"): a compare-and-swap loop, the usual way to
 *    keep the largest value seen when there is no atomic "max".
 *
 * The slot indices need no message: the children inherit them with the
 * rest of the parent's memory at fork(2). Unrelated processes would open
 * the pool by path and agree on the indices (or publish them in a slot).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shpool.h>

#define WORKERS 4
#define ROUNDS 20000

enum { REQUESTS, BYTES, IN_FLIGHT, MAX_LATENCY, NCOUNTERS };
static const char *const names[NCOUNTERS] = { "requests", "bytes", "in_flight",
					      "max_latency" };

static int fail(const char *what)
{
	fprintf(stderr, "counters: %s: %s\n", what, shpool_last_error());
	return 1;
}

/* Raise *max to value if it is larger: retry while another process
 * changed it between our read and our swap. */
static int update_max(shpool_t *pool, uint64_t slot, int64_t value)
{
	int64_t seen;
	int rc = shpool_i64_get(pool, slot, &seen);

	while (rc == 0 && value > seen) {
		/* On failure cmpxchg hands back the value that beat us. */
		rc = shpool_i64_cmpxchg(pool, slot, seen, value, &seen);
		if (rc == 1)
			return 0;
	}
	return rc < 0 ? rc : 0;
}

/* One worker: ROUNDS fake requests, each "request" of `id + 1` bytes
 * taking a made-up latency. */
static int worker(shpool_t *pool, const uint64_t *slot, int id)
{
	for (int i = 0; i < ROUNDS; i++) {
		int64_t latency = (i * 7919 + id * 104729) % 1000;

		if (shpool_i64_incr(pool, slot[IN_FLIGHT], NULL) < 0 ||
		    shpool_i64_incr(pool, slot[REQUESTS], NULL) < 0 ||
		    shpool_i64_add(pool, slot[BYTES], id + 1, NULL) < 0 ||
		    update_max(pool, slot[MAX_LATENCY], latency) < 0 ||
		    shpool_i64_decr(pool, slot[IN_FLIGHT], NULL) < 0)
			return fail("worker update");
	}
	return 0;
}

static int check(shpool_t *pool, const uint64_t *slot)
{
	/* Bytes: worker id adds id + 1 per round: ROUNDS * (1 + 2 + ... + W). */
	const int64_t want[NCOUNTERS] = { WORKERS * ROUNDS,
					  (int64_t)ROUNDS * WORKERS * (WORKERS + 1) / 2, 0, 999 };
	int rc = 0;

	for (int c = 0; c < NCOUNTERS; c++) {
		int64_t v;

		if (shpool_i64_get(pool, slot[c], &v) < 0)
			return fail("shpool_i64_get");
		printf("  %-12s %10lld (expected %lld)\n", names[c], (long long)v,
		       (long long)want[c]);
		rc |= v != want[c];
	}
	return rc;
}

int main(void)
{
	uint64_t slot[NCOUNTERS];
	shpool_t *pool;
	int rc = 0;

	/* Anonymous: shared with the children forked below. elem_size is
	 * implied (8) for I64. */
	if (shpool_create(&pool, NULL, SHPOOL_I64, 16, 0, NULL) < 0)
		return fail("shpool_create");
	/* One slot per counter; a new slot is zero-filled, i.e. 0. */
	if (shpool_alloc_n(pool, slot, NCOUNTERS, 0) < 0)
		return fail("shpool_alloc_n");
	printf("counters: %d processes x %d updates of %d shared counters\n", WORKERS, ROUNDS,
	       NCOUNTERS);
	fflush(stdout);
	for (int id = 0; id < WORKERS; id++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0)
			_exit(worker(pool, slot, id));
	}
	for (int i = 0; i < WORKERS; i++) {
		int status;

		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rc = 1;
	}
	if (rc)
		fprintf(stderr, "counters: a worker failed\n");
	rc |= check(pool, slot);
	if (shpool_free_n(pool, slot, NCOUNTERS) != NCOUNTERS)
		rc |= fail("shpool_free_n");
	shpool_close(pool);
	puts(rc ? "FAILED" : "ok");
	return rc;
}

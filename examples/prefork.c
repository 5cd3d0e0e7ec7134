/* SPDX-License-Identifier: MIT */
/*
 * libshpool example: a prefork worker pool.
 *
 * The parent forks WORKERS worker processes up front, then acts as the
 * acceptor of a server: for each incoming "connection" it takes a slot of a
 * shared pool, writes the connection's request into it, and puts the slot's
 * index on a pipe that every worker reads. Whichever worker is idle gets
 * the index, serves the request in place and frees the slot when the
 * connection is done.
 *
 * The pool has fewer slots (MAX_CONN) than there are workers and jobs: its
 * capacity is the server's limit on connections in progress. When it is
 * reached, the acceptor blocks in shpool_alloc() until a worker frees a
 * slot: back-pressure with no extra code.
 *
 * A second pool, of I64 counters, collects what the workers did: one
 * "served" counter per worker and the sum of all replies, added atomically.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shpool.h>

#define WORKERS 4
#define MAX_CONN 3
#define JOBS 60

/* A connection's state, in its slot. */
struct conn {
	uint64_t id;
	uint64_t request; /* what the client asked */
	pid_t acceptor;   /* who accepted it */
};

/* The counters pool: served[0..WORKERS-1], then the sum of replies. */
#define REPLY_SUM WORKERS

static int fail(const char *what)
{
	fprintf(stderr, "prefork: %s: %s\n", what, shpool_last_error());
	return 1;
}

/* The "work": any pure function of the request, so the parent can check. */
static int64_t serve(uint64_t request)
{
	return (int64_t)(request * request % 1000003);
}

static int worker(shpool_t *conns, shpool_t *stats, const uint64_t *counter, int id, int jobs)
{
	uint64_t idx;

	/* Each index was written with one 8-byte write(2), which a pipe keeps
	 * whole (< PIPE_BUF); each read(2) of 8 bytes takes exactly one. So
	 * every connection goes to exactly one worker. */
	while (read(jobs, &idx, sizeof(idx)) == (ssize_t)sizeof(idx)) {
		const struct conn *c = shpool_ptr(conns, idx);

		if (!c)
			return 1;
		if (shpool_i64_add(stats, counter[REPLY_SUM], serve(c->request), NULL) < 0 ||
		    shpool_i64_incr(stats, counter[id], NULL) < 0)
			return fail("counting");
		/* Connection closed: its slot goes back, and an acceptor
		 * waiting for room wakes up. */
		if (shpool_free(conns, idx) < 0)
			return fail("shpool_free");
	}
	return 0;
}

/* Accept JOBS connections, blocking while MAX_CONN are in progress. */
static int acceptor(shpool_t *conns, int jobs, int64_t *expected_sum)
{
	for (uint64_t id = 0; id < JOBS; id++) {
		int64_t idx = shpool_alloc(conns, 5000);
		struct conn *c;

		if (idx < 0)
			return fail("shpool_alloc");
		c = shpool_ptr(conns, (uint64_t)idx);
		c->id = id;
		c->request = id * 7919 + 1;
		c->acceptor = getpid();
		*expected_sum += serve(c->request);
		if (write(jobs, &idx, sizeof(idx)) != (ssize_t)sizeof(idx)) {
			perror("prefork: write");
			return 1;
		}
	}
	return 0;
}

static int check(shpool_t *conns, shpool_t *stats, const uint64_t *counter, int64_t expected)
{
	int64_t served, total = 0, sum;
	int rc = 0;

	for (int w = 0; w < WORKERS; w++) {
		if (shpool_i64_get(stats, counter[w], &served) < 0)
			return fail("shpool_i64_get");
		printf("  worker %d served %lld connections\n", w, (long long)served);
		total += served;
	}
	if (shpool_i64_get(stats, counter[REPLY_SUM], &sum) < 0)
		return fail("shpool_i64_get");
	if (total != JOBS || sum != expected) {
		fprintf(stderr, "prefork: %lld served (expected %d), reply sum %lld (expected "
			"%lld)\n", (long long)total, JOBS, (long long)sum, (long long)expected);
		rc = 1;
	}
	if (shpool_used(conns) != 0) {
		fprintf(stderr, "prefork: %llu connection slots not freed\n",
			(unsigned long long)shpool_used(conns));
		rc = 1;
	}
	return rc;
}

int main(void)
{
	uint64_t counter[WORKERS + 1];
	shpool_t *conns, *stats;
	int64_t expected = 0;
	int jobs[2], rc;

	/* Anonymous pools: shared with the workers forked below. */
	if (shpool_create(&conns, NULL, SHPOOL_RAW, MAX_CONN, sizeof(struct conn), NULL) < 0 ||
	    shpool_create(&stats, NULL, SHPOOL_I64, WORKERS + 1, 0, NULL) < 0)
		return fail("shpool_create");
	if (shpool_alloc_n(stats, counter, WORKERS + 1, 0) < 0)
		return fail("shpool_alloc_n");
	if (pipe(jobs) < 0) {
		perror("prefork: pipe");
		return 1;
	}
	printf("prefork: %d workers, %d connections, at most %d at once\n", WORKERS, JOBS,
	       MAX_CONN);
	fflush(stdout);
	for (int w = 0; w < WORKERS; w++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("prefork: fork");
			return 1;
		}
		if (pid == 0) {
			close(jobs[1]);
			_exit(worker(conns, stats, counter, w, jobs[0]));
		}
	}
	close(jobs[0]);
	rc = acceptor(conns, jobs[1], &expected);
	close(jobs[1]); /* shutdown: every worker's read() returns 0 */
	for (int w = 0; w < WORKERS; w++) {
		int status;

		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rc = 1;
	}
	rc |= check(conns, stats, counter, expected);
	shpool_close(conns);
	shpool_close(stats);
	puts(rc ? "FAILED" : "ok");
	return rc;
}

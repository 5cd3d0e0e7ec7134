/* SPDX-License-Identifier: MIT */
/*
 * Running one loop in several processes at once, for the multi-process
 * cases. Children are forked per run (each inherits the pools), warm up,
 * then wait at a barrier; each times its own loop with CLOCK_MONOTONIC. The
 * run's cost is the parallel section's wall time (first start to last end)
 * divided by the total number of operations of all children.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procs.h"

/* A child stuck this long (a lost wake-up, a wedged lock) is killed, which
 * fails the run instead of hanging `make bench`. */
#define CHILD_ALARM_S 60
/* Operations each child runs before the barrier: faults its pages in and
 * computes libshpool's per-process owner record. */
#define WARMUP_OPS 256

struct proc_out {
	_Alignas(64) uint64_t t_start;
	uint64_t t_end;
	uint64_t max_wait_ns;
};

static __attribute__((noreturn)) void child(struct bench_state *s, proc_body body, uint64_t ops,
					    int ready, int go, struct proc_out *out)
{
	uint64_t unused = 0;
	char c = 0;
	size_t got;

	alarm(CHILD_ALARM_S);
	body(s, WARMUP_OPS, &unused);
	if (write(ready, &c, 1) != 1)
		_exit(2);
	bench_read_all(go, &c, 1, &got);
	if (got != 1)
		_exit(3); /* the parent gave up: another child failed */
	bench_cost_proc_begin();
	out->t_start = bench_now_ns();
	body(s, ops, &out->max_wait_ns);
	out->t_end = bench_now_ns();
	bench_cost_proc_end();
	_exit(0);
}

/* Wait for every child; true when all exited 0. */
static bool reap(const pid_t *pids, int n)
{
	bool ok = true;

	for (int i = 0; i < n; i++) {
		int st;

		while (waitpid(pids[i], &st, 0) < 0)
			if (errno != EINTR)
				bench_die("waitpid: %s", strerror(errno));
		if (WIFSIGNALED(st)) {
			fprintf(stderr, "shpool_bench: child %d killed by signal %d%s\n",
				(int)pids[i], WTERMSIG(st),
				WTERMSIG(st) == SIGALRM ? " (stuck: timed out)" : "");
			ok = false;
		} else if (WEXITSTATUS(st) != 0) {
			ok = false;
		}
	}
	return ok;
}

double bench_run_procs(struct bench_state *s, int nproc, uint64_t iters, proc_body body)
{
	uint64_t per = (iters + (uint64_t)nproc - 1) / (uint64_t)nproc;
	uint64_t start = UINT64_MAX, end = 0;
	size_t size = (size_t)nproc * sizeof(struct proc_out), got;
	struct proc_out *out = bench_map_shared(size);
	int ready[2], go[2];
	char buf[64] = { 0 };
	pid_t pids[64];

	if (nproc < 1 || nproc > 64)
		bench_die("bench_run_procs: %d processes", nproc);
	if (pipe2(ready, O_CLOEXEC) || pipe2(go, O_CLOEXEC))
		bench_die("pipe: %s", strerror(errno));
	/* Nothing buffered may be written twice by the children. */
	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < nproc; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			bench_die("fork: %s", strerror(errno));
		if (pids[i] == 0) {
			close(ready[0]);
			close(go[1]);
			child(s, body, per, ready[1], go[0], &out[i]);
		}
	}
	close(ready[1]);
	close(go[0]);
	/* All ready (EOF early if a child died), then release them at once. */
	bench_read_all(ready[0], buf, (size_t)nproc, &got);
	if (got == (size_t)nproc && write(go[1], buf, (size_t)nproc) != nproc)
		bench_die("barrier write: %s", strerror(errno));
	close(go[1]);
	close(ready[0]);
	if (!reap(pids, nproc) || got != (size_t)nproc)
		bench_die("a child process failed (see above)");

	s->allocs = (per + WARMUP_OPS) * (uint64_t)nproc;
	s->max_wait_ns = 0;
	for (int i = 0; i < nproc; i++) {
		start = out[i].t_start < start ? out[i].t_start : start;
		end = out[i].t_end > end ? out[i].t_end : end;
		if (out[i].max_wait_ns > s->max_wait_ns)
			s->max_wait_ns = out[i].max_wait_ns;
	}
	munmap(out, size);
	return (double)(end - start) / (double)(per * (uint64_t)nproc);
}

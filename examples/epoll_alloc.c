/* SPDX-License-Identifier: MIT */
/*
 * libshpool example: allocate slots from a single-threaded epoll loop.
 *
 * The parent submits JOBS jobs, each needing a slot of a small pool. It never
 * blocks in shpool_alloc(): when the pool is full it waits in epoll_wait() on
 * the pool's eventfd. A forked worker takes each job (its slot index comes
 * through a pipe), works on it for a moment and frees the slot; the pool was
 * created with SHPOOL_NOTIFY_ON_FREE and the worker inherited the parent's
 * eventfd, so each free wakes the parent's loop.
 *
 * The loop's rule (doc/eventfd.md): drain the eventfd FIRST, then try_alloc
 * until -EAGAIN, then wait again. The counter counts frees, not free slots.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shpool.h>

#define SLOTS 3
#define JOBS 12

struct job {
	int number;
	char text[60];
};

static int fail(const char *what)
{
	fprintf(stderr, "epoll_alloc: %s: %s\n", what, shpool_last_error());
	return 1;
}

/* The worker: take slot indices from the pipe, "work", free the slot. */
static int worker(shpool_t *pool, int jobs_in)
{
	const struct timespec work = { 0, 20 * 1000 * 1000 }; /* pretend to work 20 ms */
	uint64_t idx;

	while (read(jobs_in, &idx, sizeof(idx)) == (ssize_t)sizeof(idx)) {
		struct job *j = shpool_ptr(pool, idx);

		if (!j)
			return 1;
		nanosleep(&work, NULL);
		printf("  worker: job %2d (%s) done, freeing slot %llu\n", j->number, j->text,
		       (unsigned long long)idx);
		fflush(stdout);
		/* Signals the eventfd this process inherited: the parent's. */
		if (shpool_free(pool, idx) < 0)
			return 1;
	}
	return 0;
}

/* Put a job in every slot we can get right now. Returns -1 on error. */
static int submit_while_room(shpool_t *pool, int jobs_out, int *submitted)
{
	while (*submitted < JOBS) {
		int64_t slot = shpool_try_alloc(pool);
		struct job *j;

		if (slot == -EAGAIN)
			return 0; /* full: back to epoll_wait */
		if (slot < 0)
			return -1;
		j = shpool_ptr(pool, (uint64_t)slot);
		j->number = ++*submitted;
		snprintf(j->text, sizeof(j->text), "payload #%d", j->number);
		printf("parent: job %2d -> slot %lld\n", j->number, (long long)slot);
		fflush(stdout);
		if (write(jobs_out, &slot, sizeof(slot)) != (ssize_t)sizeof(slot))
			return -1;
	}
	return 0;
}

/* The event loop: the eventfd is its only source here; a real program
 * would have sockets and timers in the same epoll set. */
static int run_loop(shpool_t *pool, int jobs_out)
{
	struct epoll_event ev = { .events = EPOLLIN }, got;
	int submitted = 0, wakeups = 0, ep = epoll_create1(EPOLL_CLOEXEC), rc = 0;

	ev.data.fd = shpool_fileno(pool);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0) {
		perror("epoll");
		return 1;
	}
	if (submit_while_room(pool, jobs_out, &submitted) < 0)
		rc = fail("submit");
	/* Loop until every job is submitted AND every slot is back. */
	while (rc == 0 && (submitted < JOBS || shpool_used(pool) > 0)) {
		int n = epoll_wait(ep, &got, 1, 5000);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "epoll_alloc: no wake-up within 5 s\n");
			rc = 1;
			break;
		}
		wakeups++;
		/* Drain first: a free landing after this read re-arms the fd,
		 * so the try_allocs below cannot miss it. */
		if (shpool_eventfd_consume(pool) < 0 ||
		    submit_while_room(pool, jobs_out, &submitted) < 0)
			rc = fail("loop");
	}
	printf("parent: %d jobs through %d slots, %d epoll wake-ups, never blocked in "
	       "shpool_alloc\n", submitted, SLOTS, wakeups);
	close(ep);
	return rc;
}

int main(void)
{
	shpool_options opts = { .flags = SHPOOL_NOTIFY_ON_FREE };
	shpool_t *pool;
	int pipefd[2], status, rc;
	pid_t pid;

	if (shpool_create(&pool, NULL, SHPOOL_RAW, SLOTS, sizeof(struct job), &opts) < 0)
		return fail("shpool_create");
	/* Before fork(): the worker must inherit this very eventfd. */
	if (shpool_eventfd(pool) < 0)
		return fail("shpool_eventfd");
	if (pipe(pipefd) < 0) {
		perror("pipe");
		return 1;
	}
	printf("epoll_alloc: %d jobs, a pool of %d slots, a worker process freeing them;\n"
	       "the parent waits for room in epoll on the pool's eventfd.\n", JOBS, SLOTS);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		close(pipefd[1]);
		_exit(worker(pool, pipefd[0]));
	}
	close(pipefd[0]);
	rc = run_loop(pool, pipefd[1]);
	close(pipefd[1]); /* the worker sees EOF and exits */
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		rc = 1;
	shpool_close(pool);
	puts(rc ? "FAILED" : "ok");
	return rc;
}

/* SPDX-License-Identifier: MIT */
/* libshpool demo: one pool, several processes: allocation under contention,
 * blocking hand-off, a worker killed while holding slots, and recovery. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shpool.h>

#define SLOTS 3
#define WORKERS 6
#define ROUNDS 20000
#define BATCH 2 /* slots a worker holds at once: 2 running workers need 4 > 3 */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what)
{
	fprintf(stderr, "demo: %s: %s\n", what, shpool_last_error());
	exit(1);
}

/* Each worker takes BATCH slots at once (all or nothing, so no worker
 * holds some while waiting for more), stamps its id into them and checks
 * the stamps are still there: two holders of one slot would overwrite. */
static int worker(shpool_t *pool, int id)
{
	for (int i = 0; i < ROUNDS; i++) {
		uint64_t slot[BATCH];

		if (shpool_alloc_n(pool, slot, BATCH, -1) < 0) /* blocks while full */
			return 1;
		for (int k = 0; k < BATCH; k++)
			*(volatile int *)shpool_ptr(pool, slot[k]) = id;
		for (int k = 0; k < BATCH; k++)
			if (*(volatile int *)shpool_ptr(pool, slot[k]) != id)
				return 2;
		if (shpool_free_n(pool, slot, BATCH) != BATCH)
			return 3;
	}
	return 0;
}

static void wait_all(int n)
{
	for (int i = 0; i < n; i++) {
		int status;

		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "demo: a worker failed\n");
			exit(1);
		}
	}
}

static void print_stats(shpool_t *pool)
{
	shpool_stats_t st;

	if (shpool_stats(pool, &st) < 0)
		die("shpool_stats");
	printf("   stats: used=%llu available=%llu allocs=%llu frees=%llu waits=%llu "
	       "recoveries=%llu\n", (unsigned long long)st.used,
	       (unsigned long long)st.available, (unsigned long long)st.allocs,
	       (unsigned long long)st.frees, (unsigned long long)st.waits,
	       (unsigned long long)st.recoveries);
}

int main(void)
{
	shpool_t *pool;
	uint64_t all[SLOTS];
	int fds[2];
	pid_t victim;
	char c;
	double t0;

	if (shpool_create(&pool, NULL, SHPOOL_RAW, SLOTS, 64, NULL) < 0)
		die("shpool_create");
	printf("libshpool %s: anonymous pool of %llu slots x %u bytes, shared with forked "
	       "children\n", shpool_version(), (unsigned long long)shpool_capacity(pool),
	       shpool_elem_size(pool));

	printf("1. %d processes x %d rounds of alloc_n(%d)/free_n on %d slots "
	       "(blocking when full)\n", WORKERS, ROUNDS, BATCH, SLOTS);
	fflush(stdout); /* children must not inherit unflushed output */
	t0 = now_ms();
	for (int i = 0; i < WORKERS; i++)
		if (fork() == 0)
			_exit(worker(pool, i));
	wait_all(WORKERS);
	printf("   done in %.0f ms, no slot ever had two holders\n", now_ms() - t0);
	print_stats(pool);

	printf("2. the parent takes every slot; a child blocks in shpool_alloc(-1)\n");
	if (shpool_alloc_n(pool, all, SLOTS, 0) < 0)
		die("shpool_alloc_n");
	fflush(stdout);
	if (fork() == 0) {
		double t = now_ms();
		int64_t s = shpool_alloc(pool, -1);

		printf("   child got slot %lld after %.1f ms\n", (long long)s, now_ms() - t);
		fflush(stdout);
		shpool_free(pool, (uint64_t)s);
		_exit(s < 0);
	}
	for (shpool_stats_t st; shpool_stats(pool, &st) == 0 && st.waiters == 0;)
		; /* until the child is really asleep on the futex */
	printf("   parent frees slot %llu\n", (unsigned long long)all[0]);
	fflush(stdout);
	shpool_free(pool, all[0]);
	wait_all(1);
	shpool_free_n(pool, all + 1, SLOTS - 1);

	printf("3. a worker takes 2 slots and is killed with SIGKILL\n");
	fflush(stdout);
	if (pipe(fds) < 0)
		die("pipe");
	victim = fork();
	if (victim == 0) {
		for (int i = 0; i < 2; i++)
			shpool_alloc(pool, 0);
		if (write(fds[1], "x", 1) != 1)
			_exit(1);
		pause();
	}
	if (read(fds[0], &c, 1) != 1)
		die("read");
	kill(victim, SIGKILL);
	waitpid(victim, NULL, 0);
	printf("   used=%llu, held by pid %d, which is dead\n",
	       (unsigned long long)shpool_used(pool), (int)victim);
	printf("   shpool_check finds %d problem(s)\n", shpool_check(pool, NULL));
	printf("   shpool_recover_stale frees %lld\n", (long long)shpool_recover_stale(pool));
	printf("   after recovery: used=%llu, shpool_check finds %d problem(s)\n",
	       (unsigned long long)shpool_used(pool), shpool_check(pool, NULL));
	print_stats(pool);
	shpool_close(pool);
	puts("ok");
	return 0;
}

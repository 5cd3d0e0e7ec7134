/* SPDX-License-Identifier: MIT */
/* libshpool demo: one pool, several processes. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shpool.h>

#define WORKERS 4
#define ROUNDS 10000

static int worker(shpool_t *pool, int id)
{
	for (int i = 0; i < ROUNDS; i++) {
		int64_t slot = shpool_alloc(pool, -1); /* blocks while all are taken */
		if (slot < 0) {
			fprintf(stderr, "worker %d: %s\n", id, shpool_last_error());
			return 1;
		}
		*(int *)shpool_ptr(pool, (uint64_t)slot) = id;
		if (*(int *)shpool_ptr(pool, (uint64_t)slot) != id || shpool_free(pool, (uint64_t)slot))
			return 1;
	}
	return 0;
}

int main(void)
{
	shpool_t *pool;
	shpool_stats_t st;
	int rc = shpool_create(&pool, NULL, SHPOOL_RAW, 3, 64, NULL);

	if (rc < 0) {
		fprintf(stderr, "shpool_create: %s\n", shpool_last_error());
		return 1;
	}
	printf("libshpool %s: anonymous pool, %llu slots of %u bytes (stride %zu)\n",
	       shpool_version(), (unsigned long long)shpool_capacity(pool),
	       shpool_elem_size(pool), shpool_stride(pool));
	printf("%d processes x %d alloc/free rounds on %llu slots...\n", WORKERS, ROUNDS,
	       (unsigned long long)shpool_capacity(pool));
	for (int i = 0; i < WORKERS; i++)
		if (fork() == 0)
			_exit(worker(pool, i));
	for (int i = 0; i < WORKERS; i++) {
		int status;
		wait(&status);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rc = 1;
	}
	shpool_stats(pool, &st);
	printf("allocs=%llu frees=%llu waits=%llu used=%llu (approximate counters)\n",
	       (unsigned long long)st.allocs, (unsigned long long)st.frees,
	       (unsigned long long)st.waits, (unsigned long long)st.used);
	shpool_close(pool);
	puts(rc ? "FAILED" : "ok");
	return rc ? 1 : 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Endurance: what a long-lived program does to a pool, many times over, with
 * nothing growing. Run by `make check-endurance` (CI), never by `make check`:
 * it takes a minute or more.
 *
 *  1. lifecycle: create and close 100,000 pools (anonymous, memfd, new
 *     file, attach by path and by fd, with and without an eventfd);
 *  2. traffic: 10,000,000 mixed calls from several processes on two shared
 *     pools (one of them too small, so allocations block and time out).
 *
 * Each process samples its open fds (/proc/self/fd), its mappings (lines of
 * /proc/self/maps) and its heap in use (mallinfo2) after a warm-up and at the
 * end: any growth fails the run. The pools must be consistent and empty at
 * the end. Exit 0 on success; a summary with timings goes to stdout.
 *
 * Usage: endurance [pools [calls [processes]]]  (defaults 100000 10000000 4)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shpool.h"


struct usage {
	long fds, maps;
	long long heap;
};

static long count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	long n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* opendir's own fd */
}

static long count_lines(const char *path)
{
	FILE *f = fopen(path, "re");
	long n = 0;
	int c;

	if (!f)
		return -1;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static struct usage usage_now(void)
{
	struct usage u = { count_dir("/proc/self/fd"), count_lines("/proc/self/maps"), -1 };

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
	u.heap = (long long)mallinfo2().uordblks;
#endif
	return u;
}

/* 0 if nothing grew from `before` to `after`; else says what. */
static int no_growth(const char *who, struct usage before, struct usage after)
{
	int bad = after.fds > before.fds || after.maps > before.maps || after.heap > before.heap;

	printf("%s: fds %ld -> %ld, mappings %ld -> %ld, heap in use %lld -> %lld bytes%s\n", who,
	       before.fds, after.fds, before.maps, after.maps, before.heap, after.heap,
	       bad ? "  GROWTH" : "");
	return bad;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

#define FAIL(...) \
	do { \
		fprintf(stderr, "endurance: " __VA_ARGS__); \
		fprintf(stderr, " (%s)\n", shpool_last_error()); \
		return 1; \
	} while (0)

/* ---- 1. lifecycle ---------------------------------------------------------- */

static int one_lifecycle(unsigned long i, const char *path)
{
	static const shpool_kind kinds[] = { SHPOOL_RAW, SHPOOL_I64, SHPOOL_I32, SHPOOL_F64,
					     SHPOOL_STR };
	shpool_kind kind = kinds[i % 5];
	uint32_t es = kind == SHPOOL_RAW || kind == SHPOOL_STR ? 24 : 0;
	shpool_options o = { .flags = i % 3 == 0 ? SHPOOL_NOTIFY_ON_FREE : 0 };
	shpool_t *p = NULL, *q = NULL;
	int64_t s;

	switch (i % 10) {
	case 0: case 1: case 2: case 3: /* anonymous */
		if (shpool_create(&p, NULL, kind, 64 + i % 200, es, &o) < 0)
			FAIL("anonymous pool %lu", i);
		break;
	case 4: case 5: case 6: /* memfd, attached again through its fd */
		if (shpool_create_memfd(&p, "endurance", kind, 64, es, &o) < 0)
			FAIL("memfd pool %lu", i);
		if (i % 10 == 6 && shpool_open_fd(&q, shpool_memfd(p), kind) < 0)
			FAIL("open_fd %lu", i);
		break;
	default: /* a new file, attached again by path, then removed */
		if (shpool_create(&p, path, kind, 64, es, &o) < 0)
			FAIL("file pool %lu", i);
		if (i % 10 == 8 && shpool_open(&q, path, kind) < 0)
			FAIL("open %lu", i);
		if (shpool_unlink(p) < 0)
			FAIL("unlink %lu", i);
	}
	if (i % 4 == 0 && shpool_eventfd(p) < 0)
		FAIL("eventfd %lu", i);
	s = shpool_alloc(q ? q : p, 0);
	if (s < 0 || shpool_free(p, (uint64_t)s) < 0)
		FAIL("alloc/free on pool %lu", i);
	shpool_close(q);
	shpool_close(p);
	return 0;
}

static int lifecycle(unsigned long pools)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	unsigned long warm = pools < 1000 ? pools / 10 : 1000;
	struct usage before = { 0 }, after;
	char path[256];
	double t0 = now_s();

	snprintf(path, sizeof(path), "%s/shpool-endurance-%d", dir, (int)getpid());
	for (unsigned long i = 0; i < pools; i++) {
		if (i == warm)
			before = usage_now();
		if (one_lifecycle(i, path))
			return 1;
	}
	/* Sampled before printing: stdout's buffer is allocated by the first
	 * printf. */
	after = usage_now();
	printf("lifecycle: %lu pools created and closed in %.1f s\n", pools, now_s() - t0);
	return no_growth("lifecycle", before, after);
}

/* ---- 2. traffic --------------------------------------------------------------- */

#define HOLD 48

struct worker {
	shpool_t *nums, *strs;
	unsigned long calls;
	int id;
};

/* One process: `calls` mixed calls on both pools; frees all it holds at the
 * end. */
static int worker_run(struct worker *w)
{
	uint64_t held[HOLD], sheld[HOLD], seed = UINT64_C(0x9e3779b97f4a7c15) * (uint64_t)(w->id + 1);
	size_t nh = 0, ns = 0;
	unsigned long warm = w->calls / 20;
	struct usage before = { 0 }, after;
	char buf[64], name[32];

	for (unsigned long k = 0; k < w->calls; k++) {
		uint64_t r = rnd(&seed), batch[4];
		int64_t s, v;

		if (k == warm)
			before = usage_now();
		switch (r % 16) {
		case 0: case 1: case 2: case 3:
			if (nh < HOLD && (s = shpool_alloc(w->nums, 0)) >= 0) {
				held[nh++] = (uint64_t)s;
				shpool_i64_set(w->nums, (uint64_t)s, (int64_t)k);
			}
			break;
		case 4: case 5: case 6:
			if (nh && shpool_free(w->nums, held[--nh]) < 0)
				FAIL("worker %d: free", w->id);
			break;
		case 7:
			if (nh + 4 <= HOLD && shpool_alloc_n(w->nums, batch, 4, 0) == 0)
				for (int i = 0; i < 4; i++)
					held[nh++] = batch[i];
			break;
		case 8:
			if (nh >= 4) {
				nh -= 4;
				if (shpool_free_n(w->nums, held + nh, 4) != 4)
					FAIL("worker %d: free_n", w->id);
			}
			break;
		case 9: case 10:
			if (nh && (shpool_i64_add(w->nums, held[r % nh], 1, &v) < 0 ||
				   shpool_i64_get(w->nums, held[r % nh], &v) < 0))
				FAIL("worker %d: i64 calls", w->id);
			break;
		case 11: /* the small pool: blocks, sometimes times out */
			if (ns < HOLD) {
				s = shpool_alloc_set_str(w->strs, "endurance", 9, 1);
				if (s >= 0)
					sheld[ns++] = (uint64_t)s;
				else if (s != -ETIMEDOUT)
					FAIL("worker %d: alloc_set_str %" PRId64, w->id, s);
			}
			break;
		case 12:
			if (ns && shpool_str_get(w->strs, sheld[r % ns], buf, sizeof(buf), NULL) < 0)
				FAIL("worker %d: str_get", w->id);
			if (ns && shpool_free(w->strs, sheld[--ns]) < 0)
				FAIL("worker %d: free str", w->id);
			break;
		case 13:
			if (shpool_used(w->nums) > shpool_capacity(w->nums))
				FAIL("worker %d: used", w->id);
			break;
		case 14: { /* the rarer calls: guards, eventfd, recovery, check */
			SHPOOL_GUARD(g) = shpool_guard_alloc(w->nums, 0);
			(void)g;
			if (r % 1024 == 14 && shpool_eventfd_consume(w->nums) < 0)
				FAIL("worker %d: consume", w->id);
			if (r % 65536 == 14 && shpool_recover_stale(w->nums) != 0)
				FAIL("worker %d: recover_stale freed a live slot", w->id);
			break;
		}
		default:
			if (shpool_last_error() == NULL || shpool_strerror(-(int)(r % 140)) == NULL)
				FAIL("worker %d: error text", w->id);
		}
	}
	if (shpool_free_n(w->nums, held, nh) != (int64_t)nh ||
	    shpool_free_n(w->strs, sheld, ns) != (int64_t)ns)
		FAIL("worker %d: final free_n", w->id);
	after = usage_now();
	snprintf(name, sizeof(name), "traffic worker %d", w->id);
	return no_growth(name, before, after);
}

static int traffic(unsigned long calls, int procs)
{
	shpool_options notify = { .flags = SHPOOL_NOTIFY_ON_FREE };
	shpool_t *nums, *strs;
	pid_t pid[64];
	double t0 = now_s();
	int bad = 0, st;

	if (shpool_create_memfd(&nums, "endurance-nums", SHPOOL_I64, 4096, 0, &notify) < 0 ||
	    shpool_create(&strs, NULL, SHPOOL_STR, 96, 32, NULL) < 0 || shpool_eventfd(nums) < 0)
		FAIL("traffic pools");
	for (int i = 0; i < procs; i++) {
		struct worker w = { nums, strs, calls / (unsigned long)procs, i };

		pid[i] = fork();
		if (pid[i] == 0)
			_exit(worker_run(&w));
		if (pid[i] < 0)
			FAIL("fork: %s", strerror(errno));
	}
	for (int i = 0; i < procs; i++) {
		while (waitpid(pid[i], &st, 0) < 0 && errno == EINTR)
			;
		bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	printf("traffic: %lu calls in %d processes in %.1f s\n", calls, procs, now_s() - t0);
	if (shpool_used(nums) != 0 || shpool_used(strs) != 0 || shpool_check(nums, NULL) != 0 ||
	    shpool_check(strs, NULL) != 0) {
		shpool_check(nums, stderr);
		shpool_check(strs, stderr);
		FAIL("traffic: pools not empty and consistent at the end");
	}
	shpool_close(nums);
	shpool_close(strs);
	return bad;
}

int main(int argc, char **argv)
{
	unsigned long pools = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	unsigned long calls = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000000;
	int procs = argc > 3 ? atoi(argv[3]) : 4;
	double t0 = now_s();
	int bad;

	if (procs < 1 || procs > 64)
		procs = 4;
	setvbuf(stdout, NULL, _IOLBF, 0);
	bad = lifecycle(pools);
	bad |= traffic(calls, procs);
	printf("endurance: %s in %.1f s\n", bad ? "FAILED" : "passed", now_s() - t0);
	return bad;
}

/* SPDX-License-Identifier: MIT */
/* Shared declarations of the benchmark program (see main.c). */
#ifndef SHPOOL_BENCH_BENCH_H
#define SHPOOL_BENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <shpool.h>

#include "baseline.h"

/* What one case keeps between its setup, its runs and its teardown. Each
 * implementation gets its own pool, so the two never share a cache line. */
struct bench_state {
	shpool_t *pool;
	struct mx_pool mx;
	uint64_t hole, mx_hole;    /* pair_full_1m: the one free slot of each side */
	uint32_t *rnd;             /* pair_full_1m: precomputed slots to free */
	uint64_t *batch;           /* batch_64: indices of one batch */
	uint64_t slot, mx_slot;    /* i64_add: the slot being added to */
	int64_t sp_total, mx_total; /* i64_add: what the slot must hold */
	uint64_t max_wait_ns;      /* block_8proc: longest single wait of the last run */
	uint64_t waits, allocs;    /* block_8proc: allocations that slept, of all, last run */
	bool hold_yield;           /* block_8proc_yield: sched_yield() while holding */
	shpool_t *handles[5];      /* pair_switch_overflow: handles of s->pool */
	int park[2];               /* pair_switch_overflow: the stripe holders' pipe */
	unsigned holders;          /* pair_switch_overflow: threads holding stripes */
	void *holder_threads;      /* pair_switch_overflow: their pthread_t[] */
	const char *unsupported;   /* set by setup: the libshpool side cannot run, and why */
};

/* One case. run_* perform `iters` operations of the case and return the cost
 * of one (in ns); any unexpected error ends the program. */
struct bench_case {
	const char *name;
	const char *about;
	/* The limit: how many uncontended atomic RMWs one operation is
	 * compared with. ratio_limit = ns_per_op / (rmws * rmw_ns). */
	double rmws;
	uint64_t iters;  /* operations per repetition at scale 1 */
	bool has_wait;   /* also report max_wait_ms */
	void (*setup)(struct bench_state *s);
	double (*run_shpool)(struct bench_state *s, uint64_t iters);
	double (*run_mutex)(struct bench_state *s, uint64_t iters);
	void (*teardown)(struct bench_state *s);
	/* If not 0: the bytes a case's operations touch at random, over which
	 * main.c also reports the cost of one dependent random load. */
	size_t footprint;
};

extern const struct bench_case bench_cases[];
extern const size_t bench_ncases;
/* Are case c's pools on huge pages (then so is its footprint's load)? */
bool bench_case_huge(const struct bench_case *c);

/* The limit: ns per plain uncontended atomic RMW on a shared mapping. */
double bench_rmw_ns(uint64_t iters);
/* ns per dependent load at random cache lines of a shared mapping of
 * `bytes`: the memory floor of a case that touches that much at random. */
double bench_chase_ns(size_t bytes, uint64_t loads);
/* The same on huge pages (MAP_HUGETLB); nan when too few are reserved. */
double bench_chase_huge_ns(size_t bytes, uint64_t loads);
/* The default huge page size, 0 without hugetlb support. */
size_t bench_huge_page(void);

/* The program's name, for messages: each program's main file defines it. */
extern const char bench_name[];

/* CLOCK_MONOTONIC in ns: comparable between the processes of one run. */
uint64_t bench_now_ns(void);
/* Read up to n bytes from fd into buf, until EOF or an error (EINTR is
 * retried); *got is how many were read. */
void bench_read_all(int fd, char *buf, size_t n, size_t *got);
/* A zeroed MAP_SHARED | MAP_ANONYMOUS region (children forked later see
 * the same pages); ends the program on failure. */
void *bench_map_shared(size_t size);

__attribute__((noreturn, format(printf, 1, 2))) void bench_die(const char *fmt, ...);
__attribute__((noreturn, cold)) void bench_sp_fail(int64_t rc, const char *what);
__attribute__((noreturn, cold)) void bench_mx_fail(int64_t rc, const char *what);

/* rc of a libshpool call: returned when >= 0, else the program ends with the
 * code and shpool_last_error(). */
static inline int64_t bench_sp(int64_t rc, const char *what)
{
	if (__builtin_expect(rc < 0, 0))
		bench_sp_fail(rc, what);
	return rc;
}

/* The same for a baseline (mx_*) call. */
static inline int64_t bench_mx(int64_t rc, const char *what)
{
	if (__builtin_expect(rc < 0, 0))
		bench_mx_fail(rc, what);
	return rc;
}

/* The cost model (cost.c): the libshpool loops of cases.c mark each
 * operation done (n at once for a batch), and the forked processes of
 * procs.c count from the end of their warm-up and hand their counts to the
 * parent. Nothing in the timed build. */
#ifdef BENCH_COST
void shpool_cost_rmw(const volatile void *addr);   /* src/cost-atomics.h */
void shpool_cost_touch(const volatile void *addr);
void bench_cost_op_done(uint64_t n);
void bench_cost_proc_begin(void);
void bench_cost_proc_end(void);
#define BENCH_OP_DONE(n) bench_cost_op_done(n)
#else
#define BENCH_OP_DONE(n) ((void)0)
#define bench_cost_proc_begin() ((void)0)
#define bench_cost_proc_end() ((void)0)
#endif

#endif

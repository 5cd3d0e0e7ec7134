/* SPDX-License-Identifier: MIT */
/*
 * The cases: each runs the same workload on libshpool and on the mutex
 * baseline (baseline.c). Pools are RAW with elem_size 8 unless the case says
 * otherwise, created with default options (slots zeroed on allocation; the
 * baseline zeroes too).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "procs.h"

#define ELEM 8
#define FULL_CAP (UINT64_C(1) << 20)
#define NRND (UINT32_C(1) << 18) /* power of two: indexed with a mask */
#define BATCH 64

/* ---- the limit ----------------------------------------------------------- */

double bench_rmw_ns(uint64_t iters)
{
	_Atomic uint64_t *w = bench_map_shared(4096);
	uint64_t t0, t1;

	t0 = bench_now_ns();
	for (uint64_t i = 0; i < iters; i++)
		/* seq_cst, like the library's RMWs: a lock-prefixed
		 * instruction on x86. */
		atomic_fetch_add(w, 1);
	t1 = bench_now_ns();
	if (atomic_load(w) != iters)
		bench_die("limit: counter is %llu, expected %llu",
			  (unsigned long long)atomic_load(w), (unsigned long long)iters);
	munmap((void *)w, 4096);
	return (double)(t1 - t0) / (double)iters;
}

/* ---- helpers --------------------------------------------------------------- */

static void make_pools(struct bench_state *s, shpool_kind kind, uint64_t cap)
{
	bench_sp(shpool_create(&s->pool, NULL, kind, cap, kind == SHPOOL_RAW ? ELEM : 0, NULL),
		 "shpool_create");
	bench_mx(mx_create(&s->mx, cap, ELEM), "mx_create");
}

static void free_pools(struct bench_state *s)
{
	shpool_close(s->pool);
	s->pool = NULL;
	mx_destroy(&s->mx);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p)
		bench_die("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

/* xorshift64*: fixed seed, so every run frees the same sequence of slots. */
static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * UINT64_C(0x2545F4914F6CDD1D);
}

/* ---- the memory floor ------------------------------------------------------ */

static double chase_in(uint64_t *mem, size_t bytes, uint64_t loads);

double bench_chase_ns(size_t bytes, uint64_t loads)
{
	uint64_t *mem = bench_map_shared(bytes);
	double ns = chase_in(mem, bytes, loads);

	munmap(mem, bytes);
	return ns;
}

size_t bench_huge_page(void)
{
	char line[128];
	size_t kb = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Hugepagesize: %zu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb << 10;
}

double bench_chase_huge_ns(size_t bytes, uint64_t loads)
{
	size_t hp = bench_huge_page(), len = hp ? (bytes + hp - 1) / hp * hp : 0;
	void *mem = hp ? mmap(NULL, len, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0)
		       : MAP_FAILED;
	double ns;

	if (mem == MAP_FAILED)
		return NAN;
	ns = chase_in(mem, bytes, loads);
	munmap(mem, len);
	return ns;
}

static double chase_in(uint64_t *mem, size_t bytes, uint64_t loads)
{
	/* One u64 per cache line, linked in a random cycle through all the
	 * lines: each load's address is the previous load's value, so no two
	 * overlap and none is prefetched. */
	size_t lines = bytes / 64, stride = 64 / sizeof(uint64_t);
	uint64_t x = UINT64_C(0x9E3779B97F4A7C15), at, t0, t1;
	uint32_t *order = xcalloc(lines, sizeof(*order));

	for (size_t i = 0; i < lines; i++)
		order[i] = (uint32_t)i;
	for (size_t i = lines - 1; i > 0; i--) { /* Fisher-Yates */
		size_t j = (size_t)(rng_next(&x) % (i + 1));
		uint32_t t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (size_t i = 0; i < lines; i++)
		mem[order[i] * stride] = order[(i + 1) % lines] * stride;
	at = order[0] * stride;
	free(order);
	t0 = bench_now_ns();
	for (uint64_t i = 0; i < loads; i++)
		at = *(volatile uint64_t *)&mem[at];
	t1 = bench_now_ns();
	return (double)(t1 - t0) / (double)loads;
}

/* ---- pair_empty: one process, alloc + free of one slot, 1024 slots --------- */

static void setup_1024(struct bench_state *s)
{
	make_pools(s, SHPOOL_RAW, 1024);
}

static double pair_sp(struct bench_state *s, uint64_t iters)
{
	uint64_t t0 = bench_now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		int64_t idx = bench_sp(shpool_alloc(s->pool, 0), "shpool_alloc");

		bench_sp(shpool_free(s->pool, (uint64_t)idx), "shpool_free");
		BENCH_OP_DONE(1);
	}
	return (double)(bench_now_ns() - t0) / (double)iters;
}

static double pair_mx(struct bench_state *s, uint64_t iters)
{
	uint64_t t0 = bench_now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		int64_t idx = bench_mx(mx_alloc(&s->mx, false), "mx_alloc");

		bench_mx(mx_free(&s->mx, (uint64_t)idx), "mx_free");
	}
	return (double)(bench_now_ns() - t0) / (double)iters;
}

/* ---- pair_switch_overflow: every stats stripe taken, 5 handles ------------- */

/* Issue 28: a thread that finds all 64 statistics stripes owned by live
 * threads counts on the shared overflow stripe; going round several handles
 * of the pool, two of which share a set of its stripe cache (5 handles, 4
 * sets), it used to search the stripes again on each switch and ask /proc
 * about every owner (about 320 system calls a miss). */
#define SWITCH_HANDLES 5
#define STRIPE_HOLDERS 64 /* SHPOOL_STRIPES */

static _Atomic unsigned holders_claimed;

static void *stripe_holder(void *arg)
{
	struct bench_state *s = arg;
	char c;

	bench_sp(shpool_free(s->pool, (uint64_t)bench_sp(shpool_alloc(s->pool, 0), "shpool_alloc")),
		 "shpool_free");
	atomic_fetch_add(&holders_claimed, 1);
	/* Parked until teardown closes the pipe's write end. */
	if (read(s->park[0], &c, 1) != 0)
		bench_die("pair_switch_overflow: the park pipe was written");
	return NULL;
}

static void setup_switch(struct bench_state *s)
{
	pthread_t *t = xcalloc(STRIPE_HOLDERS, sizeof(*t));
	int fd;

	bench_sp(shpool_create_memfd(&s->pool, "switch", SHPOOL_RAW, 1024, ELEM, NULL),
		 "shpool_create_memfd");
	bench_mx(mx_create(&s->mx, 1024, ELEM), "mx_create");
	fd = shpool_memfd(s->pool);
	for (int i = 0; i < SWITCH_HANDLES; i++)
		bench_sp(shpool_open_fd(&s->handles[i], fd, SHPOOL_RAW), "shpool_open_fd");
	if (pipe(s->park) != 0)
		bench_die("pipe: %s", strerror(errno));
	atomic_store(&holders_claimed, 0);
	for (unsigned i = 0; i < STRIPE_HOLDERS; i++)
		if (pthread_create(&t[i], NULL, stripe_holder, s) != 0)
			bench_die("pthread_create failed");
	while (atomic_load(&holders_claimed) < STRIPE_HOLDERS)
		sched_yield();
	s->holders = STRIPE_HOLDERS;
	s->holder_threads = t;
}

static double switch_sp(struct bench_state *s, uint64_t iters)
{
	uint64_t t0 = bench_now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		shpool_t *h = s->handles[i % SWITCH_HANDLES];
		int64_t idx = bench_sp(shpool_alloc(h, 0), "shpool_alloc");

		bench_sp(shpool_free(h, (uint64_t)idx), "shpool_free");
		BENCH_OP_DONE(1);
	}
	return (double)(bench_now_ns() - t0) / (double)iters;
}

static void teardown_switch(struct bench_state *s)
{
	pthread_t *t = s->holder_threads;

	close(s->park[1]);
	for (unsigned i = 0; i < s->holders; i++)
		pthread_join(t[i], NULL);
	close(s->park[0]);
	free(t);
	for (int i = 0; i < SWITCH_HANDLES; i++)
		shpool_close(s->handles[i]);
	free_pools(s);
}

/* ---- pair_full_1m: 2^20 slots, one free, free a random one then alloc ------ */

static void fill_full(struct bench_state *s);

static void setup_full(struct bench_state *s)
{
	make_pools(s, SHPOOL_RAW, FULL_CAP);
	fill_full(s);
}

/* pair_full_1m_huge: both pools on huge pages. Without enough reserved the
 * libshpool side reports nan and why; the baseline then runs on normal
 * pages only to keep the run going. */
static void setup_full_huge(struct bench_state *s)
{
	static char why[512];
	shpool_options o = { .flags = SHPOOL_HUGEPAGES };
	int rc = shpool_create(&s->pool, NULL, SHPOOL_RAW, FULL_CAP, ELEM, &o);

	if (rc < 0) {
		snprintf(why, sizeof(why), "no huge pages (%s)", shpool_last_error());
		s->unsupported = why;
		bench_sp(shpool_create(&s->pool, NULL, SHPOOL_RAW, FULL_CAP, ELEM, NULL),
			 "shpool_create");
		bench_mx(mx_create(&s->mx, FULL_CAP, ELEM), "mx_create");
	} else {
		rc = mx_create_on(&s->mx, FULL_CAP, ELEM, bench_huge_page());
		if (rc == -ENOMEM)
			bench_die("pair_full_1m_huge: too few huge pages for the baseline's "
				  "pool as well: reserve more (/proc/sys/vm/nr_hugepages)");
		bench_mx(rc, "mx_create_on (huge pages)");
	}
	fill_full(s);
}

static void fill_full(struct bench_state *s)
{
	uint64_t x = UINT64_C(0x9E3779B97F4A7C15);

	s->rnd = xcalloc(NRND, sizeof(*s->rnd));
	for (uint64_t i = 0; i < FULL_CAP; i++) {
		bench_sp(shpool_alloc(s->pool, 0), "shpool_alloc (fill)");
		bench_mx(mx_alloc(&s->mx, false), "mx_alloc (fill)");
	}
	/* Free one at a random place: the hole. Every other slot is held, so
	 * "a random allocated slot" is a random index other than the hole:
	 * no array of held indices, whose own cache misses would be timed. */
	s->hole = s->mx_hole = rng_next(&x) % FULL_CAP;
	bench_sp(shpool_free(s->pool, s->hole), "shpool_free (fill)");
	bench_mx(mx_free(&s->mx, s->mx_hole), "mx_free (fill)");
	if (shpool_available(s->pool) != 1)
		bench_die("pair_full_1m: %llu slots free after the fill, expected 1",
			  (unsigned long long)shpool_available(s->pool));
	/* The slots to free, drawn now so the RNG is not what we time. */
	for (uint32_t i = 0; i < NRND; i++)
		s->rnd[i] = (uint32_t)((rng_next(&x) >> 11) % FULL_CAP);
}

/* Free a random allocated slot (not the hole), then allocate: one of the
 * two free slots comes back and the other is the new hole. */
static uint64_t full_step(uint64_t hole, uint32_t r, uint64_t (*free_alloc)(void *, uint64_t),
			  void *impl)
{
	uint64_t victim = r == hole ? (r + 1) % FULL_CAP : r;
	uint64_t got = free_alloc(impl, victim);

	if (got != victim && got != hole)
		bench_die("pair_full_1m: allocated %llu, expected %llu or %llu",
			  (unsigned long long)got, (unsigned long long)victim,
			  (unsigned long long)hole);
	return got == victim ? hole : victim;
}

static uint64_t sp_free_alloc(void *impl, uint64_t victim)
{
	shpool_t *pool = impl;

	uint64_t got;

	bench_sp(shpool_free(pool, victim), "shpool_free");
	got = (uint64_t)bench_sp(shpool_alloc(pool, 0), "shpool_alloc");
	BENCH_OP_DONE(1);
	return got;
}

static uint64_t mx_free_alloc(void *impl, uint64_t victim)
{
	struct mx_pool *mx = impl;

	bench_mx(mx_free(mx, victim), "mx_free");
	return (uint64_t)bench_mx(mx_alloc(mx, false), "mx_alloc");
}

static double full_sp(struct bench_state *s, uint64_t iters)
{
	uint64_t t0 = bench_now_ns();

	for (uint64_t i = 0; i < iters; i++)
		s->hole = full_step(s->hole, s->rnd[i & (NRND - 1)], sp_free_alloc, s->pool);
	return (double)(bench_now_ns() - t0) / (double)iters;
}

static double full_mx(struct bench_state *s, uint64_t iters)
{
	uint64_t t0 = bench_now_ns();

	for (uint64_t i = 0; i < iters; i++)
		s->mx_hole = full_step(s->mx_hole, s->rnd[i & (NRND - 1)], mx_free_alloc, &s->mx);
	return (double)(bench_now_ns() - t0) / (double)iters;
}

static void teardown_full(struct bench_state *s)
{
	free(s->rnd);
	free_pools(s);
}

/* ---- pair_2proc: 2 processes, alloc + free each, 64 slots ------------------- */

static void setup_64(struct bench_state *s)
{
	make_pools(s, SHPOOL_RAW, 64);
}

/* Never blocks: two processes hold at most two of the 64 slots. */
static void pair_sp_body(struct bench_state *s, uint64_t ops, uint64_t *max_wait_ns)
{
	(void)max_wait_ns;
	for (uint64_t i = 0; i < ops; i++) {
		int64_t idx = bench_sp(shpool_alloc(s->pool, 0), "shpool_alloc");

		bench_sp(shpool_free(s->pool, (uint64_t)idx), "shpool_free");
		BENCH_OP_DONE(1);
	}
}

static void pair_mx_body(struct bench_state *s, uint64_t ops, uint64_t *max_wait_ns)
{
	(void)max_wait_ns;
	for (uint64_t i = 0; i < ops; i++) {
		int64_t idx = bench_mx(mx_alloc(&s->mx, false), "mx_alloc");

		bench_mx(mx_free(&s->mx, (uint64_t)idx), "mx_free");
	}
}

static double pair2_sp(struct bench_state *s, uint64_t iters)
{
	return bench_run_procs(s, 2, iters, pair_sp_body);
}

static double pair2_mx(struct bench_state *s, uint64_t iters)
{
	return bench_run_procs(s, 2, iters, pair_mx_body);
}

/* ---- block_8proc: 8 processes, 4 slots, blocking alloc + free --------------- */

#define BLOCK_PROCS 8

static void setup_4(struct bench_state *s)
{
	make_pools(s, SHPOOL_RAW, 4);
}

/* block_8proc_yield: the same, but each process yields the CPU while it
 * holds its slot. On a machine with fewer than 8 cores a process is rarely
 * preempted between its alloc and its free, so plain block_8proc seldom
 * finds the pool empty; yielding while holding makes the pool run dry and
 * sends allocations through the sleep/wake path (futex or condition
 * variable) most of the time. */
static void setup_4_yield(struct bench_state *s)
{
	setup_4(s);
	s->hold_yield = true;
}

/*
 * max_wait: one clock read per operation, taken when an allocation returns;
 * a "wait" is the gap since the process's previous allocation returned (or
 * since its loop started), i.e. the alloc's own wait plus one free (and the
 * yield, in the _yield case). An upper bound by a few hundred ns, and the
 * longest stretch a process went without getting a slot, which is what a
 * starvation check asks. Two reads per operation would cost about as much as
 * an uncontended alloc + free here. Both sides pay the same.
 */
static void block_sp_body(struct bench_state *s, uint64_t ops, uint64_t *max_wait_ns)
{
	uint64_t last = bench_now_ns();

	for (uint64_t i = 0; i < ops; i++) {
		int64_t idx = bench_sp(shpool_alloc(s->pool, -1), "shpool_alloc");
		uint64_t now = bench_now_ns();

		if (now - last > *max_wait_ns)
			*max_wait_ns = now - last;
		last = now;
		if (s->hold_yield)
			sched_yield();
		bench_sp(shpool_free(s->pool, (uint64_t)idx), "shpool_free");
		BENCH_OP_DONE(1);
	}
}

static void block_mx_body(struct bench_state *s, uint64_t ops, uint64_t *max_wait_ns)
{
	uint64_t last = bench_now_ns();

	for (uint64_t i = 0; i < ops; i++) {
		int64_t idx = bench_mx(mx_alloc(&s->mx, true), "mx_alloc");
		uint64_t now = bench_now_ns();

		if (now - last > *max_wait_ns)
			*max_wait_ns = now - last;
		last = now;
		if (s->hold_yield)
			sched_yield();
		bench_mx(mx_free(&s->mx, (uint64_t)idx), "mx_free");
	}
}

static double block_sp(struct bench_state *s, uint64_t iters)
{
	shpool_stats_t a, b;
	double ns;

	bench_sp(shpool_stats(s->pool, &a), "shpool_stats");
	ns = bench_run_procs(s, BLOCK_PROCS, iters, block_sp_body);
	bench_sp(shpool_stats(s->pool, &b), "shpool_stats");
	/* Approximate: the library's counters may drop concurrent bumps. */
	s->waits = b.waits - a.waits;
	if (shpool_used(s->pool) != 0)
		bench_die("block_8proc: %llu slots still allocated after the run",
			  (unsigned long long)shpool_used(s->pool));
	return ns;
}

static double block_mx(struct bench_state *s, uint64_t iters)
{
	uint64_t before = mx_waits(&s->mx);
	double ns = bench_run_procs(s, BLOCK_PROCS, iters, block_mx_body);

	s->waits = mx_waits(&s->mx) - before;
	return ns;
}

/* ---- batch_64: alloc_n(64) + free_n, per slot, 1024 slots ------------------ */

static void setup_batch(struct bench_state *s)
{
	setup_1024(s);
	s->batch = xcalloc(BATCH, sizeof(*s->batch));
}

static double batch_sp(struct bench_state *s, uint64_t iters)
{
	uint64_t t0 = bench_now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		bench_sp(shpool_alloc_n(s->pool, s->batch, BATCH, 0), "shpool_alloc_n");
		if (bench_sp(shpool_free_n(s->pool, s->batch, BATCH), "shpool_free_n") != BATCH)
			bench_die("shpool_free_n freed fewer than %d: %s", BATCH,
				  shpool_last_error());
		BENCH_OP_DONE(BATCH);
	}
	return (double)(bench_now_ns() - t0) / (double)(iters * BATCH);
}

static double batch_mx(struct bench_state *s, uint64_t iters)
{
	uint64_t t0 = bench_now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		bench_mx(mx_alloc_n(&s->mx, s->batch, BATCH, false), "mx_alloc_n");
		bench_mx(mx_free_n(&s->mx, s->batch, BATCH), "mx_free_n");
	}
	return (double)(bench_now_ns() - t0) / (double)(iters * BATCH);
}

static void teardown_batch(struct bench_state *s)
{
	free(s->batch);
	free_pools(s);
}

/* ---- i64_add: atomic add on one allocated slot of an I64 pool --------------- */

static void setup_i64(struct bench_state *s)
{
	int64_t v = 0;
	int rc;

	make_pools(s, SHPOOL_I64, 64);
	s->slot = (uint64_t)bench_sp(shpool_alloc(s->pool, 0), "shpool_alloc");
	s->mx_slot = (uint64_t)bench_mx(mx_alloc(&s->mx, false), "mx_alloc");
	rc = shpool_i64_add(s->pool, s->slot, 1, &v);
	if (rc == -ENOSYS) {
		s->unsupported = "shpool_i64_add returns -ENOSYS (typed slots not built yet)";
		return;
	}
	bench_sp(rc, "shpool_i64_add");
	s->sp_total = 1;
	if (v != 1)
		bench_die("shpool_i64_add: new value %lld, expected 1", (long long)v);
}

static double i64_sp(struct bench_state *s, uint64_t iters)
{
	uint64_t t0 = bench_now_ns();
	int64_t v = 0;

	for (uint64_t i = 0; i < iters; i++) {
		bench_sp(shpool_i64_add(s->pool, s->slot, 1, &v), "shpool_i64_add");
		BENCH_OP_DONE(1);
	}
	s->sp_total += (int64_t)iters;
	if (v != s->sp_total)
		bench_die("shpool_i64_add: new value %lld, expected %lld", (long long)v,
			  (long long)s->sp_total);
	return (double)(bench_now_ns() - t0) / (double)iters;
}

static double i64_mx(struct bench_state *s, uint64_t iters)
{
	uint64_t t0 = bench_now_ns();
	int64_t v = 0;

	for (uint64_t i = 0; i < iters; i++)
		bench_mx(mx_i64_add(&s->mx, s->mx_slot, 1, &v), "mx_i64_add");
	s->mx_total += (int64_t)iters;
	if (v != s->mx_total)
		bench_die("mx_i64_add: new value %lld, expected %lld", (long long)v,
			  (long long)s->mx_total);
	return (double)(bench_now_ns() - t0) / (double)iters;
}

/* ---- the table ---------------------------------------------------------------- */

/*
 * How each ratio_limit is computed (rmw_ns: one plain uncontended atomic
 * RMW, measured between the case's repetitions, main.c):
 *   pair_empty, pair_full_1m,
 *   pair_switch_overflow:      ns per alloc+free pair / (2 * rmw_ns)
 *   pair_2proc, block_8proc:   aggregate wall ns per pair (all processes)
 *                              / (2 * rmw_ns); the floor stays the
 *                              uncontended one, so contention shows up
 *   batch_64:                  ns per slot (alloc_n + free_n / 64)
 *                              / (2 * rmw_ns)
 *   block_8proc_yield:         as block_8proc (the yield is part of the op)
 *   i64_add:                   ns per add / (1 * rmw_ns)
 * Iteration counts aim at ~10-50 ms per repetition on a 2-core VM.
 */
const struct bench_case bench_cases[] = {
	{ "pair_empty", "1 process, 1024 slots empty: alloc + free of one slot",
	  2, 1000000, false, setup_1024, pair_sp, pair_mx, free_pools, 0 },
	{ "pair_switch_overflow", "pair_empty going round 5 handles, every stats stripe held "
	  "by a live thread", 2, 1000000, false, setup_switch, switch_sp, pair_mx, teardown_switch,
	  0 },
	{ "pair_full_1m", "1 process, 2^20 slots, 1 free: free a random one, alloc",
	  2, 200000, false, setup_full, full_sp, full_mx, teardown_full,
	  /* Each pair touches a random slot's owner record (8 bytes) and
	   * data (ELEM bytes): doc/data-layout.md. */
	  FULL_CAP * (8 + ELEM) },
	{ "pair_full_1m_huge", "pair_full_1m with both pools on huge pages (SHPOOL_HUGEPAGES)",
	  2, 200000, false, setup_full_huge, full_sp, full_mx, teardown_full,
	  FULL_CAP * (8 + ELEM) },
	{ "pair_2proc", "2 processes, 64 slots: alloc + free each (aggregate per pair)",
	  2, 600000, false, setup_64, pair2_sp, pair2_mx, free_pools, 0 },
	{ "block_8proc", "8 processes, 4 slots: blocking alloc + free (futex hand-off)",
	  2, 200000, true, setup_4, block_sp, block_mx, free_pools, 0 },
	{ "block_8proc_yield", "block_8proc, yielding the CPU while holding the slot",
	  2, 5000, true, setup_4_yield, block_sp, block_mx, free_pools, 0 },
	{ "batch_64", "1 process, 1024 slots: alloc_n(64) + free_n, per slot",
	  2, 40000, false, setup_batch, batch_sp, batch_mx, teardown_batch, 0 },
	{ "i64_add", "1 process: shpool_i64_add on one slot of an I64 pool",
	  1, 3000000, false, setup_i64, i64_sp, i64_mx, free_pools, 0 },
};
const size_t bench_ncases = sizeof(bench_cases) / sizeof(bench_cases[0]);

bool bench_case_huge(const struct bench_case *c)
{
	return c->setup == setup_full_huge;
}

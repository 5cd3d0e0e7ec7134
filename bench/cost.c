/* SPDX-License-Identifier: MIT */
/*
 * shpool_cost: the cost model of one bench case. It runs the case's
 * libshpool loop (cases.c, built with BENCH_COST) against the counting
 * build of the library (src/cost-atomics.h) and prints, per operation:
 *
 *   rmw=<atomic RMWs> lines=<distinct cache lines touched>
 *
 * An RMW is any atomic read-modify-write, a seq_cst store or a seq_cst
 * fence (each costs about one uncontended RMW on x86); a line is a 64-byte
 * line of a shared mapping (the pool's) that an atomic access or a slot's
 * zeroing touched, counted once per operation (process-local atomics, such
 * as the cached owner record, are not shared lines). Multi-process cases sum every process. shpool_bench runs this
 * for each case and prints the figures on the case's "#" line, so that a
 * change that adds an RMW or a line shows up as a number, not as noise.
 *
 * Usage: shpool_cost CASE [SCALE]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

const char bench_name[] = "shpool_cost";

/* Operations counted per case, at scale 1: enough for a stable average
 * (the multi-process cases vary a little with scheduling). */
#define COST_DIVISOR 20
#define MAX_LINES 512

/* What every process counted, summed (a shared mapping: the forked
 * processes of a multi-process case add theirs at exit). */
struct totals {
	_Atomic uint64_t rmws, lines, ops;
};

static struct totals *totals;
static bool counting;
/* This process's counts since its last hand-over. */
static uint64_t rmws, lines, ops;
/* The lines the current operation has touched so far. */
static uintptr_t op_lines[MAX_LINES];
static unsigned n_op_lines;
/* The shared mappings, read from /proc/self/maps when counting starts. */
#define MAX_MAPS 64
static struct {
	uintptr_t start, end;
} shared[MAX_MAPS];
static unsigned n_shared;

static void find_shared_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512], perms[8];
	unsigned long start, end;

	if (!f)
		bench_die("/proc/self/maps: %s", strerror(errno));
	n_shared = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) == 3 && perms[3] == 's' &&
		    n_shared < MAX_MAPS) {
			shared[n_shared].start = start;
			shared[n_shared++].end = end;
		}
	fclose(f);
}

static bool is_shared(uintptr_t addr)
{
	for (unsigned i = 0; i < n_shared; i++)
		if (addr >= shared[i].start && addr < shared[i].end)
			return true;
	return false;
}

void shpool_cost_touch(const volatile void *addr)
{
	uintptr_t line = (uintptr_t)addr / 64;

	if (!counting || !addr || !is_shared((uintptr_t)addr))
		return;
	for (unsigned i = 0; i < n_op_lines; i++)
		if (op_lines[i] == line)
			return;
	if (n_op_lines == MAX_LINES)
		bench_die("one operation touched more than %d lines", MAX_LINES);
	op_lines[n_op_lines++] = line;
}

void shpool_cost_rmw(const volatile void *addr)
{
	if (!counting)
		return;
	rmws++;
	shpool_cost_touch(addr);
}

void bench_cost_op_done(uint64_t n)
{
	if (!counting)
		return;
	lines += n_op_lines;
	n_op_lines = 0;
	ops += n;
}

static void forget_counts(void)
{
	rmws = lines = ops = 0;
	n_op_lines = 0;
}

static void hand_over(void)
{
	/* relaxed: read by the parent after waitpid(), or by this process. */
	atomic_fetch_add_explicit(&totals->rmws, rmws, memory_order_relaxed);
	atomic_fetch_add_explicit(&totals->lines, lines, memory_order_relaxed);
	atomic_fetch_add_explicit(&totals->ops, ops, memory_order_relaxed);
	forget_counts();
}

/* A forked process counts its timed loop, not its warm-up. */
void bench_cost_proc_begin(void)
{
	forget_counts();
	counting = true;
}

void bench_cost_proc_end(void)
{
	counting = false;
	hand_over();
}

int main(int argc, char **argv)
{
	const struct bench_case *c = NULL;
	struct bench_state s = { 0 };
	double scale = argc > 2 ? strtod(argv[2], NULL) : 1.0;
	uint64_t iters;

	if (argc < 2 || argc > 3 || !(scale > 0)) {
		fprintf(stderr, "usage: shpool_cost CASE [SCALE]\n");
		return 2;
	}
	for (size_t i = 0; i < bench_ncases; i++)
		if (!strcmp(bench_cases[i].name, argv[1]))
			c = &bench_cases[i];
	if (!c)
		bench_die("no case \"%s\"", argv[1]);
	iters = (uint64_t)((double)c->iters * scale / COST_DIVISOR) + 1;
	totals = bench_map_shared(sizeof(*totals));
	c->setup(&s);
	if (s.unsupported) {
		printf("rmw=nan lines=nan\n");
		return 0;
	}
	c->run_shpool(&s, iters / 8 + 1); /* as the bench does: warm up first */
	find_shared_maps();
	counting = true;
	c->run_shpool(&s, iters);
	counting = false;
	hand_over();
	c->teardown(&s);
	if (!totals->ops)
		bench_die("%s: no operation was counted", c->name);
	printf("rmw=%.2f lines=%.2f\n", (double)totals->rmws / (double)totals->ops,
	       (double)totals->lines / (double)totals->ops);
	return 0;
}

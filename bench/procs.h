/* SPDX-License-Identifier: MIT */
/* Running one loop in several processes at once (see procs.c). */
#ifndef SHPOOL_BENCH_PROCS_H
#define SHPOOL_BENCH_PROCS_H

#include "bench.h"

/* One process's loop: `ops` operations; may record its longest single wait
 * in *max_wait_ns. */
typedef void (*proc_body)(struct bench_state *s, uint64_t ops, uint64_t *max_wait_ns);

/* Run body in nproc forked processes started together, about iters
 * operations in all; returns wall ns per operation of the parallel section.
 * Sets s->max_wait_ns to the longest wait any process recorded and
 * s->allocs to the operations run, warm-up included. */
double bench_run_procs(struct bench_state *s, int nproc, uint64_t iters, proc_body body);

#endif

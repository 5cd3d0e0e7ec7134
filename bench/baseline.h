/* SPDX-License-Identifier: MIT */
/*
 * The mutex baseline: what users write by hand today for a pool of slots
 * shared by processes. A stack of free slot indices in a MAP_SHARED mapping,
 * guarded by a process-shared robust pthread mutex, with a process-shared
 * condition variable to sleep on while the stack is empty.
 *
 * Calls mirror libshpool's: they return >= 0 or -errno.
 */
#ifndef SHPOOL_BENCH_BASELINE_H
#define SHPOOL_BENCH_BASELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Process-local handle; a fork(2) child inherits it with the mapping. */
struct mx_pool {
	struct mx_shared *sh; /* the mapping: header, free stack, slot data */
	uint32_t *stack;      /* free slot indices; sh->nfree of them */
	unsigned char *data;  /* slot i at data + i * elem_size */
	uint64_t capacity;
	uint32_t elem_size;
	size_t map_size;
};

/* A pool of capacity slots of elem_size bytes (capacity < 2^32), all free.
 * 0 or -errno. */
int mx_create(struct mx_pool *m, uint64_t capacity, uint32_t elem_size);
/* The same on huge pages of huge_page bytes (MAP_HUGETLB; 0: normal pages),
 * for comparisons on equal pages: -ENOMEM when too few are reserved. */
int mx_create_on(struct mx_pool *m, uint64_t capacity, uint32_t elem_size, size_t huge_page);
void mx_destroy(struct mx_pool *m);

/* Pop a free slot (zeroed, like shpool_alloc): its index, or -EAGAIN when
 * empty and !block. block waits on the condition variable. */
int64_t mx_alloc(struct mx_pool *m, bool block);
/* Push slot idx back and wake one sleeper. 0, -ERANGE, -ENOSPC (more frees
 * than slots: a double free). */
int mx_free(struct mx_pool *m, uint64_t idx);
/* All n slots or none, under one lock hold. 0 or -EAGAIN / -errno. */
int mx_alloc_n(struct mx_pool *m, uint64_t *out, size_t n, bool block);
/* Push n slots under one lock hold, wake all sleepers. 0 or -errno. */
int mx_free_n(struct mx_pool *m, const uint64_t *idx, size_t n);
/* *(int64_t *)slot += delta under the lock; the new value in *new_value. */
int mx_i64_add(struct mx_pool *m, uint64_t idx, int64_t delta, int64_t *new_value);
/* How many allocations had to sleep (under the lock, exact). */
uint64_t mx_waits(struct mx_pool *m);

#endif

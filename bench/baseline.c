/* SPDX-License-Identifier: MIT */
/*
 * The mutex baseline (see baseline.h). Written the way a careful user would:
 * robust so that a holder's death does not wedge everyone, a condition
 * variable rather than polling, the lock held only around the stack update.
 * It keeps no owner record and cannot tell who holds a slot, so it does less
 * work than libshpool per call: it is a floor for a locked design, not a
 * straw man.
 */
#define _GNU_SOURCE /* MAP_HUGETLB */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "baseline.h"

struct mx_shared {
	pthread_mutex_t lock;     /* PROCESS_SHARED, ROBUST */
	pthread_cond_t nonempty;  /* PROCESS_SHARED; signalled by frees */
	uint64_t nfree;           /* entries on the stack; under lock */
	uint64_t waits;           /* allocations that slept; under lock */
};

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)

int mx_create(struct mx_pool *m, uint64_t capacity, uint32_t elem_size)
{
	return mx_create_on(m, capacity, elem_size, 0);
}

int mx_create_on(struct mx_pool *m, uint64_t capacity, uint32_t elem_size, size_t huge_page)
{
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	size_t stack_off = ALIGN64(sizeof(struct mx_shared));
	size_t data_off, size;
	void *base;
	int rc;

	if (capacity == 0 || capacity > UINT32_MAX || elem_size == 0)
		return -EINVAL;
	data_off = ALIGN64(stack_off + capacity * sizeof(uint32_t));
	size = data_off + capacity * elem_size;
	/* A hugetlb mapping is unmapped by whole huge pages. */
	if (huge_page)
		size = (size + huge_page - 1) / huge_page * huge_page;
	base = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS | (huge_page ? MAP_HUGETLB : 0), -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	memset(m, 0, sizeof(*m));
	m->sh = base;
	m->stack = (uint32_t *)((char *)base + stack_off);
	m->data = (unsigned char *)base + data_off;
	m->capacity = capacity;
	m->elem_size = elem_size;
	m->map_size = size;

	rc = pthread_mutexattr_init(&ma);
	if (!rc)
		rc = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	if (!rc)
		rc = pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	if (!rc)
		rc = pthread_mutex_init(&m->sh->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	if (!rc)
		rc = pthread_condattr_init(&ca);
	if (!rc) {
		rc = pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
		if (!rc)
			rc = pthread_cond_init(&m->sh->nonempty, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (rc) {
		munmap(base, size);
		return -rc;
	}
	/* Descending, so the first pops hand out 0, 1, 2... like a fresh
	 * bitmap would. */
	for (uint64_t i = 0; i < capacity; i++)
		m->stack[i] = (uint32_t)(capacity - 1 - i);
	m->sh->nfree = capacity;
	return 0;
}

void mx_destroy(struct mx_pool *m)
{
	if (!m->sh)
		return;
	pthread_cond_destroy(&m->sh->nonempty);
	pthread_mutex_destroy(&m->sh->lock);
	munmap(m->sh, m->map_size);
	m->sh = NULL;
}

/* After a lock (or a condition wait, which relocks): EOWNERDEAD means the
 * previous holder died inside a critical section. A production pool would
 * re-validate the stack here; every section below leaves it consistent
 * except between an entry store and the count update, and the bench never
 * kills a holder, so making the mutex consistent is all that is needed. */
static int mx_locked(struct mx_pool *m, int rc)
{
	if (rc == EOWNERDEAD)
		rc = pthread_mutex_consistent(&m->sh->lock);
	return -rc;
}

static int mx_lock(struct mx_pool *m)
{
	return mx_locked(m, pthread_mutex_lock(&m->sh->lock));
}

static void mx_unlock(struct mx_pool *m)
{
	pthread_mutex_unlock(&m->sh->lock);
}

/* With the lock held: wait until n slots are free (or fail at once if
 * !block). On error the lock is held unless the wait itself failed with
 * something other than EOWNERDEAD, which cannot happen with valid objects. */
static int mx_wait_for(struct mx_pool *m, uint64_t n, bool block)
{
	while (m->sh->nfree < n) {
		int rc;

		if (!block)
			return -EAGAIN;
		m->sh->waits++;
		rc = mx_locked(m, pthread_cond_wait(&m->sh->nonempty, &m->sh->lock));
		if (rc)
			return rc;
	}
	return 0;
}

int64_t mx_alloc(struct mx_pool *m, bool block)
{
	uint64_t idx;
	int rc = mx_lock(m);

	if (rc)
		return rc;
	rc = mx_wait_for(m, 1, block);
	if (rc) {
		mx_unlock(m);
		return rc;
	}
	idx = m->stack[--m->sh->nfree];
	mx_unlock(m);
	memset(m->data + idx * m->elem_size, 0, m->elem_size);
	return (int64_t)idx;
}

int mx_free(struct mx_pool *m, uint64_t idx)
{
	int rc;

	if (idx >= m->capacity)
		return -ERANGE;
	rc = mx_lock(m);
	if (rc)
		return rc;
	if (m->sh->nfree == m->capacity) {
		mx_unlock(m);
		return -ENOSPC;
	}
	m->stack[m->sh->nfree++] = (uint32_t)idx;
	mx_unlock(m);
	/* glibc's signal is a few loads and no syscall when nobody waits. */
	return -pthread_cond_signal(&m->sh->nonempty);
}

int mx_alloc_n(struct mx_pool *m, uint64_t *out, size_t n, bool block)
{
	int rc;

	if (n > m->capacity)
		return -EINVAL;
	rc = mx_lock(m);
	if (rc)
		return rc;
	rc = mx_wait_for(m, n, block);
	if (rc) {
		mx_unlock(m);
		return rc;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = m->stack[--m->sh->nfree];
	mx_unlock(m);
	for (size_t i = 0; i < n; i++)
		memset(m->data + out[i] * m->elem_size, 0, m->elem_size);
	return 0;
}

int mx_free_n(struct mx_pool *m, const uint64_t *idx, size_t n)
{
	int rc;

	for (size_t i = 0; i < n; i++)
		if (idx[i] >= m->capacity)
			return -ERANGE;
	rc = mx_lock(m);
	if (rc)
		return rc;
	if (m->capacity - m->sh->nfree < n) {
		mx_unlock(m);
		return -ENOSPC;
	}
	for (size_t i = 0; i < n; i++)
		m->stack[m->sh->nfree++] = (uint32_t)idx[i];
	mx_unlock(m);
	return -pthread_cond_broadcast(&m->sh->nonempty);
}

int mx_i64_add(struct mx_pool *m, uint64_t idx, int64_t delta, int64_t *new_value)
{
	int64_t *v;
	int rc;

	if (idx >= m->capacity || m->elem_size < sizeof(int64_t))
		return -ERANGE;
	v = (int64_t *)(void *)(m->data + idx * m->elem_size);
	rc = mx_lock(m);
	if (rc)
		return rc;
	*v += delta;
	if (new_value)
		*new_value = *v;
	mx_unlock(m);
	return 0;
}

uint64_t mx_waits(struct mx_pool *m)
{
	uint64_t w;

	if (mx_lock(m))
		return 0;
	w = m->sh->waits;
	mx_unlock(m);
	return w;
}

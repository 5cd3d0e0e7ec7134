/* SPDX-License-Identifier: MIT */
/* Slot ownership: who this process is, stale-owner recovery, reset. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shpool-internal.h"

/* ---- identity ---------------------------------------------------------
 *
 * An owner record names a process by PID *and* start time (clock ticks
 * since boot, field 22 of /proc/PID/stat), so a recycled PID is a different
 * owner. It is computed once per process (two syscalls and a read) and
 * cached; a fork(2) child drops the cache through pthread_atfork(), so the
 * allocation fast path never enters the kernel.
 */

#define START_BITS (64 - SHPOOL_OWNER_START_SHIFT)

static _Atomic uint64_t self_record; /* 0: not computed in this process */
static _Thread_local uint32_t thread_seed;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* Start time of pid in clock ticks, 0 if /proc cannot tell. */
static uint64_t proc_start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields resume after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* After ')' come fields 3..; start time is field 22. */
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &start) != 1)
		return 0;
	return (uint64_t)start & ((UINT64_C(1) << START_BITS) - 1);
}

static uint64_t make_record(pid_t pid, uint64_t start)
{
	return ((uint64_t)pid & SHPOOL_OWNER_PID_MASK) | (start << SHPOOL_OWNER_START_SHIFT);
}

static void after_fork_child(void)
{
	/* Runs in the child's only thread: its record and its search seed
	 * must differ from the parent's. */
	atomic_store_explicit(&self_record, 0, memory_order_relaxed);
	thread_seed = 0;
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, after_fork_child);
}

static uint64_t self_slow(void)
{
	pid_t pid;
	uint64_t rec;

	pthread_once(&atfork_once, register_atfork);
	pid = getpid();
	rec = make_record(pid, proc_start_time(pid));
	/* relaxed: the record is a self-contained value; threads racing here
	 * compute the same one. */
	atomic_store_explicit(&self_record, rec, memory_order_relaxed);
	return rec;
}

uint64_t shpool_self(void)
{
	/* relaxed: see self_slow(). */
	uint64_t rec = atomic_load_explicit(&self_record, memory_order_relaxed);

	return __builtin_expect(rec != 0, 1) ? rec : self_slow();
}

uint32_t shpool_thread_seed(void)
{
	static _Atomic uint32_t threads;
	uint32_t s = thread_seed;

	if (__builtin_expect(s != 0, 1))
		return s;
	/* relaxed: only needs distinct values, not ordering. */
	s = atomic_fetch_add_explicit(&threads, 1, memory_order_relaxed) * 0x9E3779B9u;
	s ^= (uint32_t)shpool_owner_pid(shpool_self()) * 0x85EBCA6Bu;
	s ^= s >> 15;
	thread_seed = s ? s : 1;
	return thread_seed;
}

pid_t shpool_owner(shpool_t *p, uint64_t idx)
{
	uint64_t rec;
	int rc;

	SHPOOL_CHECK_HANDLE(p);
	rc = shpool_check_index(p, idx, __func__);
	if (rc < 0)
		return rc;
	if (shpool_is_allocated(p, idx) != 1)
		return 0;
	/* acquire: pairs with the owner claim in alloc.c, so we read the
	 * record of the allocation whose bit we saw (or a later one). */
	rec = atomic_load_explicit(&p->owner[idx], memory_order_acquire);
	return shpool_owner_pid(rec);
}

int64_t shpool_recover_stale(shpool_t *p)
{
	SHPOOL_CHECK_HANDLE(p);
	return shpool_fail(-ENOSYS, "shpool_recover_stale: not implemented yet");
}

int shpool_reset(shpool_t *p)
{
	SHPOOL_CHECK_HANDLE(p);
	return shpool_fail(-ENOSYS, "shpool_reset: not implemented yet");
}

int shpool_check(shpool_t *p, FILE *report)
{
	(void)report;
	SHPOOL_CHECK_HANDLE(p);
	return shpool_fail(-ENOSYS, "shpool_check: not implemented yet");
}

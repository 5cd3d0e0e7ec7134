/* SPDX-License-Identifier: MIT */
#include <sched.h>
#include <stdatomic.h>

#include "shpool-internal.h"
#include "whitebox.h"

uint64_t test_registered(shpool_t *p)
{
	struct shpool *sp = p;
	uint64_t n = 0;

	for (unsigned i = 0; i < SHPOOL_WAITREG; i++)
		n += atomic_load(&sp->st->waitreg[i].count);
	return n;
}

void test_await_registered(shpool_t *p, uint64_t n)
{
	while (test_registered(p) < n)
		sched_yield();
}

uint32_t test_wake_seq(shpool_t *p)
{
	struct shpool *sp = p;

	return atomic_load(&sp->st->wake_seq);
}

uint64_t test_record(pid_t pid, uint64_t start)
{
	return (uint64_t)pid | (start << SHPOOL_OWNER_START_SHIFT);
}

uint64_t test_my_start(void)
{
	return shpool_self() >> SHPOOL_OWNER_START_SHIFT;
}

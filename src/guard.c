/* SPDX-License-Identifier: MIT */
/*
 * Guards: a slot freed when the guard leaves scope (SHPOOL_GUARD).
 *
 * A guard holds a slot while idx >= 0; "holds nothing" is idx == -ENOENT
 * after release/disarm/cleanup (or the allocation's -errno if it failed).
 * It frees only in the process that allocated: pid is this process's PID
 * from the cached identity (no syscall), which a fork child recomputes
 * (identity.c's fork handler), so a child's copy never frees the parent's
 * slot.
 */
#include <errno.h>
#include <inttypes.h>

#include "shpool-internal.h"

#define GUARD_EMPTY (-ENOENT)

static pid_t self_pid(void)
{
	return shpool_owner_pid(shpool_self());
}

shpool_guard_t shpool_guard_alloc(shpool_t *p, int timeout_ms)
{
	shpool_guard_t g = { .pool = p, .idx = shpool_alloc(p, timeout_ms), .pid = self_pid() };

	return g;
}

int shpool_guard_release(shpool_guard_t *g)
{
	int64_t idx;

	if (!g)
		return shpool_fail(-EINVAL, "%s: NULL guard", __func__);
	if (g->idx < 0)
		return shpool_fail(-ENOENT, "%s: the guard holds no slot", __func__);
	if (g->pid != self_pid())
		return shpool_fail(-EPERM, "%s: slot %" PRId64 " was allocated by pid %d, this is "
				   "pid %d (a fork child?): not freed", __func__, g->idx,
				   (int)g->pid, (int)self_pid());
	idx = g->idx;
	/* Empty first: whatever the free says, the guard must not try again. */
	g->idx = GUARD_EMPTY;
	return shpool_free(g->pool, (uint64_t)idx);
}

int64_t shpool_guard_disarm(shpool_guard_t *g)
{
	int64_t idx;

	if (!g)
		return shpool_fail(-EINVAL, "%s: NULL guard", __func__);
	if (g->idx < 0)
		return shpool_fail(-ENOENT, "%s: the guard holds no slot", __func__);
	idx = g->idx;
	g->idx = GUARD_EMPTY;
	return idx;
}

void shpool_guard_cleanup(shpool_guard_t *g)
{
	int saved_errno;

	if (!g || g->idx < 0)
		return;
	if (g->pid == self_pid()) {
		/* Runs at scope exit, between the user's statements: leave
		 * errno as it was. A failure (the slot was already freed by
		 * hand) has nobody to report to. */
		saved_errno = errno;
		shpool_free(g->pool, (uint64_t)g->idx);
		errno = saved_errno;
	}
	g->idx = GUARD_EMPTY;
}

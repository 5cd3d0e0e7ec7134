/* SPDX-License-Identifier: MIT */
/* eventfd integration. Placeholder: the eventfd issue replaces these. */
#include "shpool-internal.h"

void shpool_notify_freed(struct shpool *p, uint64_t n)
{
	(void)p;
	(void)n;
}

int shpool_eventfd(shpool_t *p)
{
	SHPOOL_CHECK_HANDLE(p);
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_eventfd_set(shpool_t *p, int fd)
{
	(void)fd;
	SHPOOL_CHECK_HANDLE(p);
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_fileno(shpool_t *p)
{
	return p ? atomic_load_explicit(&p->evfd, memory_order_relaxed) : -1;
}

int shpool_notify(shpool_t *p)
{
	SHPOOL_CHECK_HANDLE(p);
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int64_t shpool_eventfd_consume(shpool_t *p)
{
	SHPOOL_CHECK_HANDLE(p);
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

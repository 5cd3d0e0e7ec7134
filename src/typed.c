/* SPDX-License-Identifier: MIT */
/* Typed slots and data access. Placeholder: the typed-slots issue replaces these. */
#include "shpool-internal.h"

int shpool_get(shpool_t *p, uint64_t idx, void *buf, size_t len)
{
	(void)p;
	(void)idx;
	(void)buf;
	(void)len;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_set(shpool_t *p, uint64_t idx, const void *buf, size_t len)
{
	(void)p;
	(void)idx;
	(void)buf;
	(void)len;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_i64_get(shpool_t *p, uint64_t idx, int64_t *value)
{
	(void)p;
	(void)idx;
	(void)value;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_i64_set(shpool_t *p, uint64_t idx, int64_t value)
{
	(void)p;
	(void)idx;
	(void)value;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_i64_cas(shpool_t *p, uint64_t idx, int64_t expected, int64_t desired)
{
	(void)p;
	(void)idx;
	(void)expected;
	(void)desired;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_i64_cmpxchg(shpool_t *p, uint64_t idx, int64_t expected, int64_t desired, int64_t *old)
{
	(void)p;
	(void)idx;
	(void)expected;
	(void)desired;
	(void)old;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_i64_xchg(shpool_t *p, uint64_t idx, int64_t value, int64_t *old)
{
	(void)p;
	(void)idx;
	(void)value;
	(void)old;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_i64_add(shpool_t *p, uint64_t idx, int64_t delta, int64_t *new_value)
{
	(void)p;
	(void)idx;
	(void)delta;
	(void)new_value;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_i64_incr(shpool_t *p, uint64_t idx, int64_t *new_value)
{
	(void)p;
	(void)idx;
	(void)new_value;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_i64_decr(shpool_t *p, uint64_t idx, int64_t *new_value)
{
	(void)p;
	(void)idx;
	(void)new_value;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_i32_get(shpool_t *p, uint64_t idx, int32_t *value)
{
	(void)p;
	(void)idx;
	(void)value;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_i32_set(shpool_t *p, uint64_t idx, int32_t value)
{
	(void)p;
	(void)idx;
	(void)value;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_i32_cas(shpool_t *p, uint64_t idx, int32_t expected, int32_t desired)
{
	(void)p;
	(void)idx;
	(void)expected;
	(void)desired;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_i32_cmpxchg(shpool_t *p, uint64_t idx, int32_t expected, int32_t desired, int32_t *old)
{
	(void)p;
	(void)idx;
	(void)expected;
	(void)desired;
	(void)old;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_i32_xchg(shpool_t *p, uint64_t idx, int32_t value, int32_t *old)
{
	(void)p;
	(void)idx;
	(void)value;
	(void)old;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_i32_add(shpool_t *p, uint64_t idx, int32_t delta, int32_t *new_value)
{
	(void)p;
	(void)idx;
	(void)delta;
	(void)new_value;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_i32_incr(shpool_t *p, uint64_t idx, int32_t *new_value)
{
	(void)p;
	(void)idx;
	(void)new_value;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_i32_decr(shpool_t *p, uint64_t idx, int32_t *new_value)
{
	(void)p;
	(void)idx;
	(void)new_value;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_f64_get(shpool_t *p, uint64_t idx, double *value)
{
	(void)p;
	(void)idx;
	(void)value;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_f64_set(shpool_t *p, uint64_t idx, double value)
{
	(void)p;
	(void)idx;
	(void)value;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_str_get(shpool_t *p, uint64_t idx, char *buf, size_t buflen, size_t *len)
{
	(void)p;
	(void)idx;
	(void)buf;
	(void)buflen;
	(void)len;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_str_set(shpool_t *p, uint64_t idx, const char *s, size_t len)
{
	(void)p;
	(void)idx;
	(void)s;
	(void)len;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int shpool_str_view(shpool_t *p, uint64_t idx, const char **s, size_t *len)
{
	(void)p;
	(void)idx;
	(void)s;
	(void)len;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

size_t shpool_str_max_len(shpool_t *p)
{
	return p ? p->g.elem_size : 0;
}

int64_t shpool_alloc_set(shpool_t *p, const void *buf, size_t len, int timeout_ms)
{
	(void)p;
	(void)buf;
	(void)len;
	(void)timeout_ms;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int64_t shpool_alloc_set_i64(shpool_t *p, int64_t value, int timeout_ms)
{
	(void)p;
	(void)value;
	(void)timeout_ms;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int64_t shpool_alloc_set_i32(shpool_t *p, int32_t value, int timeout_ms)
{
	(void)p;
	(void)value;
	(void)timeout_ms;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int64_t shpool_alloc_set_f64(shpool_t *p, double value, int timeout_ms)
{
	(void)p;
	(void)value;
	(void)timeout_ms;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int64_t shpool_alloc_set_str(shpool_t *p, const char *s, size_t len, int timeout_ms)
{
	(void)p;
	(void)s;
	(void)len;
	(void)timeout_ms;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

shpool_guard_t shpool_guard_alloc(shpool_t *p, int timeout_ms)
{
	shpool_guard_t g = { p, shpool_fail(-ENOSYS, "%s: not implemented yet", __func__), 0 };
	(void)timeout_ms;
	return g;
}

int shpool_guard_release(shpool_guard_t *g)
{
	(void)g;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

int64_t shpool_guard_disarm(shpool_guard_t *g)
{
	(void)g;
	return shpool_fail(-ENOSYS, "%s: not implemented yet", __func__);
}

void shpool_guard_cleanup(shpool_guard_t *g)
{
	(void)g;
}

void *shpool_data_ptr(shpool_t *p)
{
	return p ? p->data : NULL;
}

void *shpool_ptr(shpool_t *p, uint64_t idx)
{
	if (!p || idx >= p->g.capacity)
		return NULL;
	return shpool_slot(p, idx);
}

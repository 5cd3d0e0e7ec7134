/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the input is a program of API calls against one small pool,
 * run next to a model of what the pool must hold. After every call the
 * result must be the one the contract gives for the model's state (a
 * double free is -ENOENT, a full pool -EAGAIN, a batch all or nothing, a
 * value reads back as stored, ...) and used() must equal the model's
 * count; at the end shpool_check() must find nothing. A broken promise
 * abort()s, which the fuzzer reports.
 *
 * Input: 4 bytes of pool parameters (kind, capacity, elem_size, flags and
 * backing), then one opcode byte per call followed by its arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "shpool.h"
#include "fuzz.h"

enum op {
	OP_ALLOC, OP_ALLOC_WAIT, OP_FREE, OP_ALLOC_N, OP_FREE_N, OP_SET, OP_GET, OP_INT,
	OP_F64, OP_STR_SET, OP_STR_GET, OP_STR_VIEW, OP_EACH, OP_SLOTS, OP_RECOVER, OP_CHECK,
	OP_STATUS, OP_ALLOC_SET, OP_GUARD, OP_RESET, OP_FILL, OP_NOPS
};

#define MAX_ELEM 64
#define BATCH 64

struct model {
	shpool_t *p;
	shpool_kind kind;
	uint64_t cap, count;
	uint32_t elem;          /* elem_size: max_len for STR, 8/4/8 typed */
	unsigned flags;
	uint8_t *alloc, *known; /* per slot: allocated; content known */
	uint8_t *bytes;         /* RAW and STR: MAX_ELEM bytes per slot */
	uint32_t *slen;         /* STR length */
	uint64_t *val;          /* I64/I32 value, F64 bits */
	unsigned waits;         /* blocking allocations so far */
};

#define REQ(cond, ...) FUZZ_REQUIRE(cond, __VA_ARGS__)
#define ULL(x) ((unsigned long long)(x))

/* The error an access to slot idx gets: -ERANGE, -ENOENT, or 0. */
static int slot_err(const struct model *m, uint64_t idx)
{
	if (idx >= m->cap)
		return -ERANGE;
	return m->alloc[idx] ? 0 : -ENOENT;
}

static uint64_t any_index(struct model *m, struct fuzz_in *in)
{
	uint8_t how = fuzz_u8(in);

	if (how == 0xff)
		return UINT64_MAX;
	return fuzz_u16(in) % (m->cap + 3);
}

/* Slot idx was just allocated; `plain`: by a call that stores nothing. */
static void taken(struct model *m, uint64_t idx, int plain)
{
	REQ(idx < m->cap, "allocation returned slot %llu of %llu", ULL(idx), ULL(m->cap));
	REQ(!m->alloc[idx], "slot %llu handed out twice", ULL(idx));
	m->alloc[idx] = 1;
	m->count++;
	/* Zero-filled on allocation unless SHPOOL_NO_ZERO. */
	m->known[idx] = !(m->flags & SHPOOL_NO_ZERO);
	memset(m->bytes + idx * MAX_ELEM, 0, MAX_ELEM);
	m->slen[idx] = 0;
	m->val[idx] = 0;
	if (plain && m->known[idx] && m->kind != SHPOOL_STR) {
		const uint8_t *d = shpool_ptr(m->p, idx);

		for (uint32_t i = 0; i < m->elem; i++)
			REQ(d[i] == 0, "slot %llu not zeroed on allocation", ULL(idx));
	}
}

static void released(struct model *m, uint64_t idx)
{
	m->alloc[idx] = 0;
	m->known[idx] = 0;
	m->count--;
}

/* An allocation's result against the model: a new slot, or full. */
static void alloc_result(struct model *m, int64_t got, int full_code, const char *call)
{
	int plain = strncmp(call, "alloc_set", 9) != 0;

	if (m->count == m->cap) {
		REQ(got == full_code, "%s on a full pool returned %lld", call, (long long)got);
		return;
	}
	REQ(got >= 0, "%s with %llu free returned %lld", call, ULL(m->cap - m->count),
	    (long long)got);
	taken(m, (uint64_t)got, plain);
}

static void op_alloc_n(struct model *m, struct fuzz_in *in)
{
	uint64_t out[BATCH];
	size_t n = fuzz_u8(in) % (BATCH + 1);
	int rc = shpool_alloc_n(m->p, out, n, 0);

	if (n == 0) {
		REQ(rc == 0, "alloc_n of 0: %d", rc);
	} else if (n > m->cap) {
		REQ(rc == -EINVAL, "alloc_n of %zu > capacity: %d", n, rc);
	} else if (n > m->cap - m->count) {
		/* All or nothing: used() is checked after every call. */
		REQ(rc == -EAGAIN, "alloc_n of %zu with %llu free: %d", n,
		    ULL(m->cap - m->count), rc);
	} else {
		REQ(rc == 0, "alloc_n of %zu with %llu free: %d", n, ULL(m->cap - m->count), rc);
		for (size_t i = 0; i < n; i++)
			taken(m, out[i], 1);
	}
}

static void op_free_n(struct model *m, struct fuzz_in *in)
{
	uint64_t idx[8] = { 0 };
	size_t n = fuzz_u8(in) % 9;
	int64_t want = 0, got;

	for (size_t i = 0; i < n; i++)
		idx[i] = any_index(m, in);
	got = shpool_free_n(m->p, idx, n);
	/* Each allocated one freed, in order; repeats and strangers skipped. */
	for (size_t i = 0; i < n; i++)
		if (slot_err(m, idx[i]) == 0) {
			released(m, idx[i]);
			want++;
		}
	REQ(got == want, "free_n of %zu freed %lld, expected %lld", n, (long long)got,
	    (long long)want);
}

/* The arguments of shpool_set/get/alloc_set: the code the contract gives,
 * 0 if none. */
static int bytes_args_err(const struct model *m, size_t len)
{
	if (m->kind == SHPOOL_STR)
		return -EINVAL;
	if (len > m->elem)
		return -E2BIG;
	if (m->kind != SHPOOL_RAW && len != 0 && len != m->elem)
		return -EINVAL;
	return 0;
}

static int bytes_err(const struct model *m, uint64_t idx, size_t len)
{
	int rc = bytes_args_err(m, len);

	return rc < 0 ? rc : slot_err(m, idx);
}

static uint64_t bits_of(const uint8_t *b, uint32_t len)
{
	uint64_t v = 0;

	memcpy(&v, b, len);
	if (len == 4) /* I32: the value sign-extended, as the model keeps it */
		v = (uint64_t)(int64_t)(int32_t)(uint32_t)v;
	return v;
}

static void op_set(struct model *m, struct fuzz_in *in)
{
	uint64_t idx = any_index(m, in);
	size_t len = fuzz_u8(in) % (m->elem + 2);
	uint8_t buf[MAX_ELEM + 2];
	int want, rc;

	for (size_t i = 0; i < len; i++)
		buf[i] = fuzz_u8(in);
	want = bytes_err(m, idx, len);
	rc = shpool_set(m->p, idx, buf, len);
	REQ(rc == want, "set(%llu, len %zu): %d, expected %d", ULL(idx), len, rc, want);
	if (rc < 0 || len == 0)
		return;
	if (m->kind == SHPOOL_RAW) {
		memcpy(m->bytes + idx * MAX_ELEM, buf, len);
		if (len < m->elem && !m->known[idx])
			return; /* the rest of the slot is still unknown */
	} else {
		m->val[idx] = bits_of(buf, m->elem);
	}
	m->known[idx] = 1;
}

static void op_get(struct model *m, struct fuzz_in *in)
{
	uint64_t idx = any_index(m, in);
	size_t len = fuzz_u8(in) % (m->elem + 2);
	uint8_t buf[MAX_ELEM + 2];
	int want = bytes_err(m, idx, len), rc = shpool_get(m->p, idx, buf, len);

	REQ(rc == want, "get(%llu, len %zu): %d, expected %d", ULL(idx), len, rc, want);
	if (rc < 0 || len == 0)
		return;
	if (m->kind == SHPOOL_RAW) {
		if (m->known[idx])
			REQ(memcmp(buf, m->bytes + idx * MAX_ELEM, len) == 0,
			    "get(%llu) read other bytes than were set", ULL(idx));
		return;
	}
	if (m->known[idx])
		REQ(bits_of(buf, m->elem) == m->val[idx], "get(%llu) of a %u-byte value: %llx, "
		    "expected %llx", ULL(idx), m->elem, ULL(bits_of(buf, m->elem)),
		    ULL(m->val[idx]));
	m->val[idx] = bits_of(buf, m->elem);
	m->known[idx] = 1;
}

/* The integer families: one sub-call on I64 or I32, checked against the
 * model's value; the other family (and any other kind) is -EINVAL. */
static void op_int(struct model *m, struct fuzz_in *in)
{
	uint8_t sub = fuzz_u8(in);
	int wide = sub & 0x80, rc, want;
	shpool_kind family = wide ? SHPOOL_I64 : SHPOOL_I32;
	uint64_t idx = any_index(m, in), arg = fuzz_u64(in), arg2 = fuzz_u64(in);
	int64_t v64 = 0, o64 = 0;
	int32_t v32 = 0, o32 = 0;
	uint64_t cur, next;

	want = m->kind != family ? -EINVAL : slot_err(m, idx);
	if (want == 0 && !m->known[idx]) {
		/* NO_ZERO: learn the value first. */
		rc = wide ? shpool_i64_get(m->p, idx, &v64) : shpool_i32_get(m->p, idx, &v32);
		REQ(rc == 0, "get: %d", rc);
		m->val[idx] = wide ? (uint64_t)v64 : (uint64_t)(int64_t)v32;
		m->known[idx] = 1;
	}
	cur = want == 0 ? m->val[idx] : 0;
	if (!wide) { /* I32: arguments and results live in 32 bits */
		arg = (uint64_t)(int64_t)(int32_t)arg;
		arg2 = (uint64_t)(int64_t)(int32_t)arg2;
	}
	/* cas and cmpxchg: expect the right value half the time. */
	if (((sub & 0x7f) % 8 == 2 || (sub & 0x7f) % 8 == 3) && (arg2 & 1))
		arg = cur;
	next = cur;
	switch ((sub & 0x7f) % 8) {
	case 0:
		rc = wide ? shpool_i64_get(m->p, idx, &v64) : shpool_i32_get(m->p, idx, &v32);
		REQ(rc != 0 || (wide ? (uint64_t)v64 : (uint64_t)(int64_t)v32) == cur, "get value");
		break;
	case 1:
		rc = wide ? shpool_i64_set(m->p, idx, (int64_t)arg)
			  : shpool_i32_set(m->p, idx, (int32_t)arg);
		next = arg;
		break;
	case 2:
		rc = wide ? shpool_i64_cas(m->p, idx, (int64_t)arg, (int64_t)arg2)
			  : shpool_i32_cas(m->p, idx, (int32_t)arg, (int32_t)arg2);
		if (want == 0) {
			REQ(rc == (arg == cur), "cas: %d with expected %s", rc,
			    arg == cur ? "equal" : "different");
			next = arg == cur ? arg2 : cur;
			rc = 0;
		}
		break;
	case 3:
		rc = wide ? shpool_i64_cmpxchg(m->p, idx, (int64_t)arg, (int64_t)arg2, &o64)
			  : shpool_i32_cmpxchg(m->p, idx, (int32_t)arg, (int32_t)arg2, &o32);
		if (want == 0) {
			REQ(rc == (arg == cur), "cmpxchg: %d", rc);
			REQ((wide ? (uint64_t)o64 : (uint64_t)(int64_t)o32) == cur, "cmpxchg old");
			next = arg == cur ? arg2 : cur;
			rc = 0;
		}
		break;
	case 4:
		rc = wide ? shpool_i64_xchg(m->p, idx, (int64_t)arg, &o64)
			  : shpool_i32_xchg(m->p, idx, (int32_t)arg, &o32);
		REQ(rc != 0 || (wide ? (uint64_t)o64 : (uint64_t)(int64_t)o32) == cur, "xchg old");
		next = arg;
		break;
	default: { /* add, incr, decr: wrap around, never undefined */
		int kind = (sub & 0x7f) % 8;
		uint64_t delta = kind == 5 ? arg : kind == 6 ? 1 : (uint64_t)-1;

		if (wide)
			rc = kind == 5 ? shpool_i64_add(m->p, idx, (int64_t)delta, &v64)
			   : kind == 6 ? shpool_i64_incr(m->p, idx, &v64)
				       : shpool_i64_decr(m->p, idx, &v64);
		else
			rc = kind == 5 ? shpool_i32_add(m->p, idx, (int32_t)delta, &v32)
			   : kind == 6 ? shpool_i32_incr(m->p, idx, &v32)
				       : shpool_i32_decr(m->p, idx, &v32);
		next = wide ? cur + delta : (uint64_t)(int64_t)(int32_t)(uint32_t)(cur + delta);
		REQ(rc != 0 || (wide ? (uint64_t)v64 : (uint64_t)(int64_t)v32) == next,
		    "add: new value");
	}
	}
	REQ(rc == want, "integer call %d on slot %llu: %d, expected %d", sub, ULL(idx), rc, want);
	if (want == 0)
		m->val[idx] = next;
}

static void op_f64(struct model *m, struct fuzz_in *in)
{
	uint64_t idx = any_index(m, in), bits = fuzz_u64(in), got;
	int want = m->kind != SHPOOL_F64 ? -EINVAL : slot_err(m, idx), rc;
	double d;

	memcpy(&d, &bits, sizeof(d));
	if (bits & 1) {
		rc = shpool_f64_set(m->p, idx, d);
		REQ(rc == want, "f64_set: %d, expected %d", rc, want);
		if (rc == 0) {
			m->val[idx] = bits;
			m->known[idx] = 1;
		}
		return;
	}
	rc = shpool_f64_get(m->p, idx, &d);
	REQ(rc == want, "f64_get: %d, expected %d", rc, want);
	if (rc < 0)
		return;
	memcpy(&got, &d, sizeof(got));
	/* Bit for bit: NaN payloads and -0.0 included. */
	REQ(!m->known[idx] || got == m->val[idx], "f64 read back %llx, stored %llx", ULL(got),
	    ULL(m->val[idx]));
	m->val[idx] = got;
	m->known[idx] = 1;
}

static void op_str_set(struct model *m, struct fuzz_in *in)
{
	uint64_t idx = any_index(m, in);
	size_t len = fuzz_u8(in) % (m->elem + 2);
	char s[MAX_ELEM + 2];
	int want, rc;

	for (size_t i = 0; i < len; i++)
		s[i] = (char)fuzz_u8(in);
	/* Kind, then slot, then the string: a wrong kind is reported as such
	 * whatever the length. */
	want = m->kind != SHPOOL_STR ? -EINVAL : slot_err(m, idx);
	if (want == 0 && len > m->elem)
		want = -E2BIG;
	rc = shpool_str_set(m->p, idx, s, len);
	REQ(rc == want, "str_set(%llu, %zu): %d, expected %d", ULL(idx), len, rc, want);
	if (rc == 0) {
		memcpy(m->bytes + idx * MAX_ELEM, s, len);
		m->slen[idx] = (uint32_t)len;
		m->known[idx] = 1;
	}
}

static void str_learned(struct model *m, uint64_t idx, const char *s, size_t len)
{
	REQ(len <= m->elem, "string of %zu > max_len %u", len, m->elem);
	if (m->known[idx])
		REQ(len == m->slen[idx] && memcmp(s, m->bytes + idx * MAX_ELEM, len) == 0,
		    "slot %llu: string of %zu bytes read back, %u stored", ULL(idx), len,
		    m->slen[idx]);
	memcpy(m->bytes + idx * MAX_ELEM, s, len);
	m->slen[idx] = (uint32_t)len;
	m->known[idx] = 1;
}

static void op_str_get(struct model *m, struct fuzz_in *in)
{
	uint64_t idx = any_index(m, in);
	size_t buflen = fuzz_u8(in) % (m->elem + 3), len = 12345;
	char buf[MAX_ELEM + 3];
	int want = m->kind != SHPOOL_STR ? -EINVAL : slot_err(m, idx);
	int rc = shpool_str_get(m->p, idx, buflen ? buf : NULL, buflen, &len);

	if (want == 0 && m->known[idx] && buflen <= m->slen[idx])
		want = -ENOSPC;
	REQ(rc == want || (want == 0 && rc == -ENOSPC && !m->known[idx]),
	    "str_get(%llu, buflen %zu): %d, expected %d", ULL(idx), buflen, rc, want);
	if (rc == -ENOSPC)
		REQ(len >= buflen && len <= m->elem, "str_get -ENOSPC length %zu", len);
	if (rc == 0) {
		REQ(buf[len] == '\0', "str_get: no NUL");
		str_learned(m, idx, buf, len);
	}
}

static void op_str_view(struct model *m, struct fuzz_in *in)
{
	uint64_t idx = any_index(m, in);
	int want = m->kind != SHPOOL_STR ? -EINVAL : slot_err(m, idx);
	const char *s = NULL;
	size_t len = 0;
	int rc = shpool_str_view(m->p, idx, &s, &len);

	REQ(rc == want, "str_view(%llu): %d, expected %d", ULL(idx), rc, want);
	if (rc == 0) {
		REQ(s == (const char *)shpool_ptr(m->p, idx) + 8, "str_view points off the slot");
		str_learned(m, idx, s, len);
	}
}

struct visit {
	const struct model *m;
	uint64_t next;    /* search the model from here */
	int seen, stop_at;
};

static int visit_one(shpool_t *p, uint64_t idx, void *arg)
{
	struct visit *v = arg;

	(void)p;
	while (v->next < v->m->cap && !v->m->alloc[v->next])
		v->next++;
	REQ(idx == v->next, "each_allocated visited %llu, the model's next is %llu", ULL(idx),
	    ULL(v->next));
	v->next++;
	return ++v->seen == v->stop_at ? 42 : 0;
}

static void op_each(struct model *m, struct fuzz_in *in)
{
	struct visit v = { m, 0, 0, fuzz_u8(in) % 12 };
	int rc = shpool_each_allocated(m->p, visit_one, &v);

	if (v.stop_at && (uint64_t)v.stop_at <= m->count)
		REQ(rc == 42 && v.seen == v.stop_at, "each_allocated did not stop: %d", rc);
	else
		REQ(rc == 0 && (uint64_t)v.seen == m->count, "each_allocated visited %d of %llu",
		    v.seen, ULL(m->count));
}

static void op_slots(struct model *m, struct fuzz_in *in)
{
	uint64_t out[24], next = 0;
	size_t max = fuzz_u8(in) % 25;
	int64_t n = shpool_allocated_slots(m->p, max ? out : NULL, max);

	REQ(n == (int64_t)m->count, "allocated_slots: %lld, the model has %llu", (long long)n,
	    ULL(m->count));
	for (size_t i = 0; i < max && i < (size_t)n; i++, next++) {
		while (!m->alloc[next])
			next++;
		REQ(out[i] == next, "allocated_slots[%zu] = %llu, expected %llu", i, ULL(out[i]),
		    ULL(next));
	}
}

static void op_status(struct model *m, struct fuzz_in *in)
{
	uint64_t idx = any_index(m, in);
	int want = idx >= m->cap ? -ERANGE : m->alloc[idx];
	shpool_stats_t st;
	pid_t o;

	REQ(shpool_is_allocated(m->p, idx) == want, "is_allocated(%llu)", ULL(idx));
	o = shpool_owner(m->p, idx);
	REQ(o == (idx >= m->cap ? -ERANGE : m->alloc[idx] ? getpid() : 0), "owner(%llu) = %d",
	    ULL(idx), (int)o);
	REQ((shpool_ptr(m->p, idx) == NULL) == (idx >= m->cap), "ptr(%llu)", ULL(idx));
	REQ(shpool_stats(m->p, &st) == 0 && st.used == m->count && st.capacity == m->cap &&
	    st.available == m->cap - m->count && st.elem_size == m->elem, "stats");
	REQ(shpool_kind_of(m->p) == (int)m->kind && shpool_capacity(m->p) == m->cap &&
	    shpool_elem_size(m->p) == m->elem && shpool_stride(m->p) >= m->elem, "geometry");
}

static void op_alloc_set(struct model *m, struct fuzz_in *in)
{
	uint8_t which = fuzz_u8(in) % 5;
	uint64_t bits = fuzz_u64(in);
	size_t len = fuzz_u8(in) % (m->elem + 2);
	uint8_t buf[MAX_ELEM + 2];
	int64_t got;
	double d;
	int want;

	memcpy(&d, &bits, sizeof(d));
	for (size_t i = 0; i < len; i++)
		buf[i] = fuzz_u8(in);
	switch (which) {
	case 0:
		want = bytes_args_err(m, len);
		got = shpool_alloc_set(m->p, buf, len, 0);
		break;
	case 1:
		want = m->kind == SHPOOL_I64 ? 0 : -EINVAL;
		got = shpool_alloc_set_i64(m->p, (int64_t)bits, 0);
		break;
	case 2:
		want = m->kind == SHPOOL_I32 ? 0 : -EINVAL;
		got = shpool_alloc_set_i32(m->p, (int32_t)bits, 0);
		bits = (uint64_t)(int64_t)(int32_t)bits;
		break;
	case 3:
		want = m->kind == SHPOOL_F64 ? 0 : -EINVAL;
		got = shpool_alloc_set_f64(m->p, d, 0);
		break;
	default:
		want = m->kind != SHPOOL_STR ? -EINVAL : len > m->elem ? -E2BIG : 0;
		got = shpool_alloc_set_str(m->p, (const char *)buf, len, 0);
	}
	if (want < 0) {
		REQ(got == want, "alloc_set variant %u: %lld, expected %d", which, (long long)got,
		    want);
		return;
	}
	alloc_result(m, got, -EAGAIN, "alloc_set");
	if (got < 0)
		return;
	if (which == 4) {
		memcpy(m->bytes + (uint64_t)got * MAX_ELEM, buf, len);
		m->slen[got] = (uint32_t)len;
		m->known[got] = 1;
	} else if (which == 0 && m->kind == SHPOOL_RAW) {
		memcpy(m->bytes + (uint64_t)got * MAX_ELEM, buf, len);
		m->known[got] |= len == m->elem;
	} else if (which == 0) {
		if (len)
			m->val[got] = bits_of(buf, m->elem);
		m->known[got] |= len != 0;
	} else {
		m->val[got] = bits;
		m->known[got] = 1;
	}
}

static void op_guard(struct model *m, struct fuzz_in *in)
{
	uint8_t how = fuzz_u8(in) % 3;
	int64_t idx;

	if (how == 0) {
		/* Freed at scope exit. */
		SHPOOL_GUARD(g) = shpool_guard_alloc(m->p, 0);
		alloc_result(m, g.idx, -EAGAIN, "guard_alloc");
		if (g.idx >= 0)
			released(m, (uint64_t)g.idx);
		return;
	}
	shpool_guard_t g = shpool_guard_alloc(m->p, 0);

	alloc_result(m, g.idx, -EAGAIN, "guard_alloc");
	if (g.idx < 0) {
		REQ(shpool_guard_release(&g) == -ENOENT, "release of an empty guard");
		return;
	}
	idx = g.idx;
	if (how == 1) {
		REQ(shpool_guard_release(&g) == 0, "guard_release");
		released(m, (uint64_t)idx);
	} else {
		REQ(shpool_guard_disarm(&g) == idx, "guard_disarm");
	}
	REQ(g.idx == -ENOENT, "an emptied guard holds %lld", (long long)g.idx);
	shpool_guard_cleanup(&g);
}

static void op_fill(struct model *m)
{
	while (m->count < m->cap)
		alloc_result(m, shpool_try_alloc(m->p), -EAGAIN, "try_alloc");
	REQ(shpool_try_alloc(m->p) == -EAGAIN, "try_alloc on a full pool");
}

static void step(struct model *m, struct fuzz_in *in)
{
	uint8_t op = fuzz_u8(in) % OP_NOPS;
	uint64_t idx;
	int rc, want;

	switch (op) {
	case OP_ALLOC:
		alloc_result(m, shpool_alloc(m->p, 0), -EAGAIN, "alloc");
		break;
	case OP_ALLOC_WAIT:
		/* Blocks (1 ms) only when full; once per input, for speed. */
		if (m->waits++ == 0)
			alloc_result(m, shpool_alloc(m->p, 1), -ETIMEDOUT, "alloc(1 ms)");
		break;
	case OP_FREE:
		idx = any_index(m, in);
		want = slot_err(m, idx);
		rc = shpool_free(m->p, idx);
		REQ(rc == want, "free(%llu): %d, expected %d", ULL(idx), rc, want);
		if (rc == 0)
			released(m, idx);
		break;
	case OP_ALLOC_N: op_alloc_n(m, in); break;
	case OP_FREE_N: op_free_n(m, in); break;
	case OP_SET: op_set(m, in); break;
	case OP_GET: op_get(m, in); break;
	case OP_INT: op_int(m, in); break;
	case OP_F64: op_f64(m, in); break;
	case OP_STR_SET: op_str_set(m, in); break;
	case OP_STR_GET: op_str_get(m, in); break;
	case OP_STR_VIEW: op_str_view(m, in); break;
	case OP_EACH: op_each(m, in); break;
	case OP_SLOTS: op_slots(m, in); break;
	case OP_RECOVER:
		REQ(shpool_recover_stale(m->p) == 0, "recover_stale freed a live process's slot");
		break;
	case OP_CHECK:
		REQ(shpool_check(m->p, NULL) == 0, "check found problems");
		break;
	case OP_STATUS: op_status(m, in); break;
	case OP_ALLOC_SET: op_alloc_set(m, in); break;
	case OP_GUARD: op_guard(m, in); break;
	case OP_RESET:
		if (fuzz_u8(in) % 4)
			break; /* rarely: it undoes everything */
		REQ(shpool_reset(m->p) == 0, "reset");
		for (uint64_t i = 0; i < m->cap; i++)
			if (m->alloc[i])
				released(m, i);
		break;
	case OP_FILL: op_fill(m); break;
	}
	REQ(shpool_used(m->p) == m->count, "used %llu, the model has %llu after op %u",
	    ULL(shpool_used(m->p)), ULL(m->count), op);
	REQ(shpool_available(m->p) == m->cap - m->count, "available");
}

static void model_free(struct model *m)
{
	free(m->alloc);
	free(m->known);
	free(m->bytes);
	free(m->slen);
	free(m->val);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size, 0 };
	shpool_options o = { 0 };
	struct model m = { 0 };
	uint8_t k = fuzz_u8(&in), c = fuzz_u8(&in), e = fuzz_u8(&in), f = fuzz_u8(&in);
	uint64_t *list;
	int rc;

	m.kind = (shpool_kind)(1 + k % 5);
	/* Mostly small pools (one or two levels); some of three levels. */
	m.cap = (k & 0x80) ? 4096 + (uint64_t)c * 37 : 1 + (uint64_t)(c % 200);
	m.elem = m.kind == SHPOOL_I32 ? 4 : m.kind == SHPOOL_I64 || m.kind == SHPOOL_F64 ? 8 :
		 1 + e % (MAX_ELEM - (m.kind == SHPOOL_STR ? 16 : 0));
	m.flags = o.flags = f & (SHPOOL_NO_ZERO | SHPOOL_NOTIFY_ON_FREE);
	rc = (f & 4) ? shpool_create_memfd(&m.p, "fuzz", m.kind, m.cap,
					   m.kind == SHPOOL_RAW || m.kind == SHPOOL_STR ? m.elem : 0, &o)
		     : shpool_create(&m.p, NULL, m.kind, m.cap,
				     m.kind == SHPOOL_RAW || m.kind == SHPOOL_STR ? m.elem : 0, &o);
	REQ(rc == 0, "create: %d", rc);
	if ((f & 8) && shpool_eventfd(m.p) < 0)
		abort();
	m.alloc = calloc(m.cap, 1);
	m.known = calloc(m.cap, 1);
	m.bytes = calloc(m.cap, MAX_ELEM);
	m.slen = calloc(m.cap, sizeof(*m.slen));
	m.val = calloc(m.cap, sizeof(*m.val));
	REQ(m.alloc && m.known && m.bytes && m.slen && m.val, "out of memory");

	while (!fuzz_done(&in))
		step(&m, &in);

	REQ(shpool_check(m.p, NULL) == 0, "check found problems at the end");
	list = calloc(m.cap, sizeof(*list));
	REQ(list && shpool_allocated_slots(m.p, list, m.cap) == (int64_t)m.count, "slots");
	REQ(shpool_free_n(m.p, list, m.count) == (int64_t)m.count, "free_n of every slot");
	REQ(shpool_used(m.p) == 0, "slots left after freeing all");
	free(list);
	shpool_close(m.p);
	model_free(&m);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* Typed slots and data access (typed.c): every call, every error code. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "testutil.h"

/* A slot index that is in range but not allocated. */
static uint64_t free_slot(shpool_t *p)
{
	for (uint64_t i = 0; i < shpool_capacity(p); i++)
		if (shpool_is_allocated(p, i) == 0)
			return i;
	ck_abort_msg("no free slot");
	return 0;
}

/* ---- pointers ----------------------------------------------------------- */

START_TEST(ptr_and_data_ptr)
{
	shpool_t *p = test_pool(NULL, SHPOOL_RAW, 10, 24, 0);
	uint8_t *base = shpool_data_ptr(p);

	ck_assert_ptr_nonnull(base);
	ck_assert_uint_eq((uintptr_t)base % 4096, 0);
	ck_assert_uint_eq(shpool_stride(p), 32);
	for (uint64_t i = 0; i < 10; i++)
		ck_assert_ptr_eq(shpool_ptr(p, i), base + i * shpool_stride(p));
	ck_assert_ptr_null(shpool_ptr(p, 10));
	ck_assert_ptr_null(shpool_ptr(p, UINT64_MAX));
	ck_assert_ptr_null(shpool_ptr(NULL, 0));
	ck_assert_ptr_null(shpool_data_ptr(NULL));
	shpool_close(p);
}
END_TEST

/* ---- get/set ------------------------------------------------------------ */

START_TEST(raw_get_set)
{
	shpool_t *p = test_pool(NULL, SHPOOL_RAW, 4, 20, 0);
	uint64_t i = test_alloc1(p);
	char in[20], out[20];

	for (int k = 0; k < 20; k++)
		in[k] = (char)('a' + k);
	ck_assert_int_eq(shpool_set(p, i, in, sizeof(in)), 0);
	memset(out, 0, sizeof(out));
	ck_assert_int_eq(shpool_get(p, i, out, sizeof(out)), 0);
	ck_assert_mem_eq(in, out, sizeof(in));
	ck_assert_mem_eq(shpool_ptr(p, i), in, sizeof(in));

	/* A shorter set leaves the rest of the slot alone. */
	ck_assert_int_eq(shpool_set(p, i, "XY", 2), 0);
	ck_assert_int_eq(shpool_get(p, i, out, sizeof(out)), 0);
	ck_assert_mem_eq(out, "XYcdefghij", 10);
	ck_assert_int_eq(shpool_get(p, i, out, 3), 0);
	ck_assert_mem_eq(out, "XYc", 3);

	/* len 0: checks only, NULL buf allowed. */
	ck_assert_int_eq(shpool_set(p, i, NULL, 0), 0);
	ck_assert_int_eq(shpool_get(p, i, NULL, 0), 0);
	ck_assert_fails(shpool_get(p, free_slot(p), NULL, 0), -ENOENT, "not allocated");

	/* Overlapping copies within the pool itself are fine. */
	ck_assert_int_eq(shpool_set(p, i, (char *)shpool_ptr(p, i) + 1, 19), 0);
	ck_assert_mem_eq(shpool_ptr(p, i), "Ycdefghijklmnopqrstt", 20);
	shpool_close(p);
}
END_TEST

START_TEST(raw_get_set_errors)
{
	shpool_t *p = test_pool(NULL, SHPOOL_RAW, 4, 16, 0);
	uint64_t i = test_alloc1(p);
	char big[17], out[16];

	memset(big, 'Z', sizeof(big));
	ck_assert_int_eq(shpool_set(p, i, "0123456789abcdef", 16), 0);

	/* E2BIG: nothing written, old content intact. */
	ck_assert_fails(shpool_set(p, i, big, 17), -E2BIG, "exceeds elem_size 16");
	ck_assert_mem_eq(shpool_ptr(p, i), "0123456789abcdef", 16);
	ck_assert_fails(shpool_get(p, i, big, 17), -E2BIG, "exceeds elem_size");
	ck_assert_fails(shpool_set(p, i, big, SIZE_MAX), -E2BIG, "exceeds elem_size");
	ck_assert_mem_eq(shpool_ptr(p, i), "0123456789abcdef", 16);

	ck_assert_fails(shpool_set(p, i, NULL, 1), -EINVAL, "buf is NULL");
	ck_assert_fails(shpool_get(p, i, NULL, 1), -EINVAL, "buf is NULL");
	ck_assert_fails(shpool_set(NULL, i, out, 1), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_get(NULL, i, out, 1), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_set(p, 4, out, 1), -ERANGE, "out of range");
	ck_assert_fails(shpool_get(p, UINT64_MAX, out, 1), -ERANGE, "out of range");
	ck_assert_fails(shpool_set(p, free_slot(p), out, 1), -ENOENT, "not allocated");
	ck_assert_fails(shpool_get(p, free_slot(p), out, 1), -ENOENT, "not allocated");

	/* Freed: no longer accessible. */
	ck_assert_int_eq(shpool_free(p, i), 0);
	ck_assert_fails(shpool_get(p, i, out, 16), -ENOENT, "not allocated");
	shpool_close(p);
}
END_TEST

START_TEST(get_set_on_typed_kinds)
{
	shpool_t *p64 = test_pool(NULL, SHPOOL_I64, 2, 0, 0);
	shpool_t *p32 = test_pool(NULL, SHPOOL_I32, 2, 0, 0);
	shpool_t *pf = test_pool(NULL, SHPOOL_F64, 2, 0, 0);
	shpool_t *ps = test_pool(NULL, SHPOOL_STR, 2, 8, 0);
	uint64_t a = test_alloc1(p64);
	uint64_t b = test_alloc1(p32), c = test_alloc1(pf), d = test_alloc1(ps);
	int64_t v64 = -1234567890123LL, r64 = 0;
	int32_t v32 = -7, r32 = 0;
	double vf = 2.5, rf = 0;
	char buf[8];

	/* Whole values, seen by the typed calls and back. */
	ck_assert_int_eq(shpool_set(p64, a, &v64, 8), 0);
	ck_assert_int_eq(shpool_i64_get(p64, a, &r64), 0);
	ck_assert_int_eq(r64, v64);
	ck_assert_int_eq(shpool_i64_set(p64, a, 99), 0);
	ck_assert_int_eq(shpool_get(p64, a, &r64, 8), 0);
	ck_assert_int_eq(r64, 99);
	ck_assert_int_eq(shpool_set(p32, b, &v32, 4), 0);
	ck_assert_int_eq(shpool_i32_get(p32, b, &r32), 0);
	ck_assert_int_eq(r32, -7);
	ck_assert_int_eq(shpool_set(pf, c, &vf, 8), 0);
	ck_assert_int_eq(shpool_f64_get(pf, c, &rf), 0);
	ck_assert(rf == 2.5);

	/* Partial values are refused, too large is E2BIG, nothing written. */
	ck_assert_fails(shpool_set(p64, a, buf, 4), -EINVAL, "len must be 8");
	ck_assert_fails(shpool_get(p32, b, buf, 2), -EINVAL, "len must be 4");
	ck_assert_fails(shpool_set(p32, b, &v64, 8), -E2BIG, "exceeds elem_size 4");
	ck_assert_int_eq(shpool_i32_get(p32, b, &r32), 0);
	ck_assert_int_eq(r32, -7);
	ck_assert_int_eq(shpool_set(p64, a, NULL, 0), 0);

	/* STR: refused, naming the kind; the string is untouched. */
	ck_assert_int_eq(shpool_str_set(ps, d, "abc", 3), 0);
	ck_assert_fails(shpool_set(ps, d, "xxxx", 4), -EINVAL, "pool kind is STR");
	ck_assert_fails(shpool_get(ps, d, buf, 4), -EINVAL, "pool kind is STR");
	ck_assert_int_eq(shpool_str_get(ps, d, buf, sizeof(buf), NULL), 0);
	ck_assert_str_eq(buf, "abc");
	shpool_close(p64);
	shpool_close(p32);
	shpool_close(pf);
	shpool_close(ps);
}
END_TEST

/* ---- I64 / I32 ---------------------------------------------------------- */

START_TEST(i64_ops)
{
	shpool_t *p = test_pool(NULL, SHPOOL_I64, 8, 0, 0);
	uint64_t i = test_alloc1(p);
	int64_t v = -1, old = -1;

	ck_assert_int_eq(shpool_i64_get(p, i, &v), 0);
	ck_assert_int_eq(v, 0); /* zeroed on allocation */
	ck_assert_int_eq(shpool_i64_set(p, i, INT64_C(1) << 40), 0);
	ck_assert_int_eq(shpool_i64_get(p, i, &v), 0);
	ck_assert_int_eq(v, INT64_C(1) << 40);

	ck_assert_int_eq(shpool_i64_cas(p, i, 5, 6), 0);
	ck_assert_int_eq(shpool_i64_cas(p, i, INT64_C(1) << 40, 6), 1);
	ck_assert_int_eq(shpool_i64_get(p, i, &v), 0);
	ck_assert_int_eq(v, 6);

	ck_assert_int_eq(shpool_i64_cmpxchg(p, i, 5, 7, &old), 0);
	ck_assert_int_eq(old, 6);
	ck_assert_int_eq(shpool_i64_cmpxchg(p, i, 6, 7, &old), 1);
	ck_assert_int_eq(old, 6);
	ck_assert_int_eq(shpool_i64_cmpxchg(p, i, 7, 8, NULL), 1);

	ck_assert_int_eq(shpool_i64_xchg(p, i, -3, &old), 0);
	ck_assert_int_eq(old, 8);
	ck_assert_int_eq(shpool_i64_xchg(p, i, -4, NULL), 0);

	ck_assert_int_eq(shpool_i64_add(p, i, 10, &v), 0);
	ck_assert_int_eq(v, 6);
	ck_assert_int_eq(shpool_i64_add(p, i, -20, NULL), 0);
	ck_assert_int_eq(shpool_i64_incr(p, i, &v), 0);
	ck_assert_int_eq(v, -13);
	ck_assert_int_eq(shpool_i64_decr(p, i, &v), 0);
	ck_assert_int_eq(v, -14);
	ck_assert_int_eq(shpool_i64_incr(p, i, NULL), 0);
	ck_assert_int_eq(shpool_i64_decr(p, i, NULL), 0);
	ck_assert_int_eq(shpool_i64_get(p, i, &v), 0);
	ck_assert_int_eq(v, -14);

	/* Wraps around, never traps. */
	ck_assert_int_eq(shpool_i64_set(p, i, INT64_MAX), 0);
	ck_assert_int_eq(shpool_i64_incr(p, i, &v), 0);
	ck_assert_int_eq(v, INT64_MIN);
	ck_assert_int_eq(shpool_i64_decr(p, i, &v), 0);
	ck_assert_int_eq(v, INT64_MAX);
	ck_assert_int_eq(shpool_i64_add(p, i, INT64_MIN, &v), 0);
	ck_assert_int_eq(v, -1);

	/* The value is the slot's first 8 bytes, native order. */
	memcpy(&v, shpool_ptr(p, i), 8);
	ck_assert_int_eq(v, -1);
	shpool_close(p);
}
END_TEST

START_TEST(i32_ops)
{
	shpool_t *p = test_pool(NULL, SHPOOL_I32, 8, 0, 0);
	uint64_t i = test_alloc1(p);
	int32_t v = -1, old = -1;

	ck_assert_uint_eq(shpool_stride(p), 8);
	ck_assert_int_eq(shpool_i32_get(p, i, &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(shpool_i32_set(p, i, 100), 0);
	ck_assert_int_eq(shpool_i32_cas(p, i, 99, 1), 0);
	ck_assert_int_eq(shpool_i32_cas(p, i, 100, 1), 1);
	ck_assert_int_eq(shpool_i32_cmpxchg(p, i, 2, 3, &old), 0);
	ck_assert_int_eq(old, 1);
	ck_assert_int_eq(shpool_i32_cmpxchg(p, i, 1, 3, &old), 1);
	ck_assert_int_eq(old, 1);
	ck_assert_int_eq(shpool_i32_xchg(p, i, 40, &old), 0);
	ck_assert_int_eq(old, 3);
	ck_assert_int_eq(shpool_i32_add(p, i, -50, &v), 0);
	ck_assert_int_eq(v, -10);
	ck_assert_int_eq(shpool_i32_incr(p, i, &v), 0);
	ck_assert_int_eq(v, -9);
	ck_assert_int_eq(shpool_i32_decr(p, i, &v), 0);
	ck_assert_int_eq(v, -10);
	ck_assert_int_eq(shpool_i32_set(p, i, INT32_MAX), 0);
	ck_assert_int_eq(shpool_i32_incr(p, i, &v), 0);
	ck_assert_int_eq(v, INT32_MIN);
	ck_assert_int_eq(shpool_i32_get(p, i, &v), 0);
	ck_assert_int_eq(v, INT32_MIN);
	/* Only the first 4 bytes of the 8-byte stride are the value. */
	ck_assert_int_eq(((uint32_t *)shpool_ptr(p, i))[1], 0);
	shpool_close(p);
}
END_TEST

/* Every typed call with each error: wrong kind (message names both kinds),
 * out of range, not allocated, NULL handle, NULL required out-pointer. */
START_TEST(int_errors)
{
	shpool_t *p64 = test_pool(NULL, SHPOOL_I64, 4, 0, 0);
	shpool_t *p32 = test_pool(NULL, SHPOOL_I32, 4, 0, 0);
	shpool_t *raw = test_pool(NULL, SHPOOL_RAW, 4, 8, 0);
	uint64_t a = test_alloc1(p64), b = test_alloc1(p32), r = test_alloc1(raw);
	uint64_t fa = free_slot(p64), fb = free_slot(p32);
	int64_t v64;
	int32_t v32;

	ck_assert_fails(shpool_i64_get(p32, b, &v64), -EINVAL,
			"pool kind is I32, this call needs I64");
	ck_assert_fails(shpool_i64_set(raw, r, 1), -EINVAL,
			"pool kind is RAW, this call needs I64");
	ck_assert_fails(shpool_i64_cas(p32, b, 0, 1), -EINVAL, "needs I64");
	ck_assert_fails(shpool_i64_cmpxchg(p32, b, 0, 1, &v64), -EINVAL, "needs I64");
	ck_assert_fails(shpool_i64_xchg(p32, b, 0, &v64), -EINVAL, "needs I64");
	ck_assert_fails(shpool_i64_add(p32, b, 1, &v64), -EINVAL, "needs I64");
	ck_assert_fails(shpool_i64_incr(p32, b, &v64), -EINVAL, "needs I64");
	ck_assert_fails(shpool_i64_decr(p32, b, &v64), -EINVAL, "needs I64");
	ck_assert_fails(shpool_i32_get(p64, a, &v32), -EINVAL,
			"pool kind is I64, this call needs I32");
	ck_assert_fails(shpool_i32_set(raw, r, 1), -EINVAL,
			"pool kind is RAW, this call needs I32");
	ck_assert_fails(shpool_i32_cas(p64, a, 0, 1), -EINVAL, "needs I32");
	ck_assert_fails(shpool_i32_cmpxchg(p64, a, 0, 1, &v32), -EINVAL, "needs I32");
	ck_assert_fails(shpool_i32_xchg(p64, a, 0, &v32), -EINVAL, "needs I32");
	ck_assert_fails(shpool_i32_add(p64, a, 1, &v32), -EINVAL, "needs I32");
	ck_assert_fails(shpool_i32_incr(p64, a, &v32), -EINVAL, "needs I32");
	ck_assert_fails(shpool_i32_decr(p64, a, &v32), -EINVAL, "needs I32");
	/* The wrong-kind slot was not touched. */
	ck_assert_int_eq(shpool_i32_get(p32, b, &v32), 0);
	ck_assert_int_eq(v32, 0);

	ck_assert_fails(shpool_i64_get(p64, 4, &v64), -ERANGE, "slot 4 out of range");
	ck_assert_fails(shpool_i64_set(p64, 4, 1), -ERANGE, "out of range");
	ck_assert_fails(shpool_i64_cas(p64, UINT64_MAX, 0, 1), -ERANGE, "out of range");
	ck_assert_fails(shpool_i64_cmpxchg(p64, 4, 0, 1, &v64), -ERANGE, "out of range");
	ck_assert_fails(shpool_i64_xchg(p64, 4, 0, &v64), -ERANGE, "out of range");
	ck_assert_fails(shpool_i64_add(p64, 4, 1, &v64), -ERANGE, "out of range");
	ck_assert_fails(shpool_i64_incr(p64, 4, &v64), -ERANGE, "out of range");
	ck_assert_fails(shpool_i64_decr(p64, 4, &v64), -ERANGE, "out of range");
	ck_assert_fails(shpool_i32_get(p32, 4, &v32), -ERANGE, "out of range");
	ck_assert_fails(shpool_i32_set(p32, 4, 1), -ERANGE, "out of range");
	ck_assert_fails(shpool_i32_cas(p32, 4, 0, 1), -ERANGE, "out of range");
	ck_assert_fails(shpool_i32_cmpxchg(p32, 4, 0, 1, &v32), -ERANGE, "out of range");
	ck_assert_fails(shpool_i32_xchg(p32, 4, 0, &v32), -ERANGE, "out of range");
	ck_assert_fails(shpool_i32_add(p32, 4, 1, &v32), -ERANGE, "out of range");
	ck_assert_fails(shpool_i32_incr(p32, 4, &v32), -ERANGE, "out of range");
	ck_assert_fails(shpool_i32_decr(p32, 4, &v32), -ERANGE, "out of range");

	ck_assert_fails(shpool_i64_get(p64, fa, &v64), -ENOENT, "not allocated");
	ck_assert_fails(shpool_i64_set(p64, fa, 1), -ENOENT, "not allocated");
	ck_assert_fails(shpool_i64_cas(p64, fa, 0, 1), -ENOENT, "not allocated");
	ck_assert_fails(shpool_i64_cmpxchg(p64, fa, 0, 1, &v64), -ENOENT, "not allocated");
	ck_assert_fails(shpool_i64_xchg(p64, fa, 0, &v64), -ENOENT, "not allocated");
	ck_assert_fails(shpool_i64_add(p64, fa, 1, &v64), -ENOENT, "not allocated");
	ck_assert_fails(shpool_i64_incr(p64, fa, &v64), -ENOENT, "not allocated");
	ck_assert_fails(shpool_i64_decr(p64, fa, &v64), -ENOENT, "not allocated");
	ck_assert_fails(shpool_i32_get(p32, fb, &v32), -ENOENT, "not allocated");
	ck_assert_fails(shpool_i32_set(p32, fb, 1), -ENOENT, "not allocated");
	ck_assert_fails(shpool_i32_cas(p32, fb, 0, 1), -ENOENT, "not allocated");
	ck_assert_fails(shpool_i32_cmpxchg(p32, fb, 0, 1, &v32), -ENOENT, "not allocated");
	ck_assert_fails(shpool_i32_xchg(p32, fb, 0, &v32), -ENOENT, "not allocated");
	ck_assert_fails(shpool_i32_add(p32, fb, 1, &v32), -ENOENT, "not allocated");
	ck_assert_fails(shpool_i32_incr(p32, fb, &v32), -ENOENT, "not allocated");
	ck_assert_fails(shpool_i32_decr(p32, fb, &v32), -ENOENT, "not allocated");
	/* Nothing was written into the free slots. */
	ck_assert_int_eq(*(int64_t *)shpool_ptr(p64, fa), 0);
	ck_assert_int_eq(*(int32_t *)shpool_ptr(p32, fb), 0);

	ck_assert_fails(shpool_i64_get(NULL, 0, &v64), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_i64_set(NULL, 0, 1), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_i64_cas(NULL, 0, 0, 1), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_i64_cmpxchg(NULL, 0, 0, 1, &v64), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_i64_xchg(NULL, 0, 0, &v64), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_i64_add(NULL, 0, 1, &v64), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_i64_incr(NULL, 0, &v64), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_i64_decr(NULL, 0, &v64), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_i32_get(NULL, 0, &v32), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_i32_set(NULL, 0, 1), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_i32_cas(NULL, 0, 0, 1), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_i32_cmpxchg(NULL, 0, 0, 1, &v32), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_i32_xchg(NULL, 0, 0, &v32), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_i32_add(NULL, 0, 1, &v32), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_i32_incr(NULL, 0, &v32), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_i32_decr(NULL, 0, &v32), -EINVAL, "NULL pool handle");

	ck_assert_fails(shpool_i64_get(p64, a, NULL), -EINVAL, "value is NULL");
	ck_assert_fails(shpool_i32_get(p32, b, NULL), -EINVAL, "value is NULL");
	shpool_close(p64);
	shpool_close(p32);
	shpool_close(raw);
}
END_TEST

/* ---- F64 ---------------------------------------------------------------- */

static uint64_t bits_of(double d)
{
	uint64_t b;

	memcpy(&b, &d, sizeof(b));
	return b;
}

static double from_bits(uint64_t b)
{
	double d;

	memcpy(&d, &b, sizeof(d));
	return d;
}

START_TEST(f64_round_trip)
{
	shpool_t *p = test_pool(NULL, SHPOOL_F64, 4, 0, 0);
	shpool_t *p64 = test_pool(NULL, SHPOOL_I64, 1, 0, 0);
	uint64_t i = test_alloc1(p), a = test_alloc1(p64);
	const double vals[] = {
		0.0, -0.0, 1.0, -1.5, 3.141592653589793, INFINITY, -INFINITY, NAN,
		from_bits(UINT64_C(0x7ff0000000000001)), /* signalling NaN */
		from_bits(UINT64_C(0xfff8dead0000beef)), /* negative quiet NaN, payload */
		from_bits(1),                            /* smallest subnormal */
		1.7976931348623157e308, 2.2250738585072014e-308,
	};
	double v;

	ck_assert_int_eq(shpool_f64_get(p, i, &v), 0);
	ck_assert_uint_eq(bits_of(v), 0);
	for (size_t k = 0; k < sizeof(vals) / sizeof(vals[0]); k++) {
		ck_assert_int_eq(shpool_f64_set(p, i, vals[k]), 0);
		ck_assert_int_eq(shpool_f64_get(p, i, &v), 0);
		ck_assert_msg(bits_of(v) == bits_of(vals[k]), "value %zu: bits %016llx != %016llx",
			      k, (unsigned long long)bits_of(v),
			      (unsigned long long)bits_of(vals[k]));
		/* Stored as the plain bits in the slot. */
		ck_assert_mem_eq(shpool_ptr(p, i), &vals[k], 8);
	}
	ck_assert_int_eq(shpool_f64_set(p, i, -0.0), 0);
	ck_assert_int_eq(shpool_f64_get(p, i, &v), 0);
	ck_assert(v == 0.0 && signbit(v));
	ck_assert_int_eq(shpool_f64_set(p, i, NAN), 0);
	ck_assert_int_eq(shpool_f64_get(p, i, &v), 0);
	ck_assert(isnan(v));

	ck_assert_fails(shpool_f64_get(p64, a, &v), -EINVAL,
			"pool kind is I64, this call needs F64");
	ck_assert_fails(shpool_f64_set(p64, a, 1.0), -EINVAL,
			"pool kind is I64, this call needs F64");
	ck_assert_fails(shpool_f64_get(p, 4, &v), -ERANGE, "out of range");
	ck_assert_fails(shpool_f64_set(p, 4, 1.0), -ERANGE, "out of range");
	ck_assert_fails(shpool_f64_get(p, free_slot(p), &v), -ENOENT, "not allocated");
	ck_assert_fails(shpool_f64_set(p, free_slot(p), 1.0), -ENOENT, "not allocated");
	ck_assert_fails(shpool_f64_get(NULL, i, &v), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_f64_set(NULL, i, 1.0), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_f64_get(p, i, NULL), -EINVAL, "value is NULL");
	shpool_close(p);
	shpool_close(p64);
}
END_TEST

/* ---- STR ---------------------------------------------------------------- */

START_TEST(str_ops)
{
	shpool_t *p = test_pool(NULL, SHPOOL_STR, 4, 10, 0);
	uint64_t i = test_alloc1(p);
	char buf[16];
	const char *s;
	size_t len = 99;

	ck_assert_uint_eq(shpool_str_max_len(p), 10);
	ck_assert_uint_eq(shpool_str_max_len(NULL), 0);
	ck_assert_uint_eq(shpool_stride(p), 32); /* 8-byte prefix + 10 */

	/* Fresh slot: the empty string. */
	ck_assert_int_eq(shpool_str_get(p, i, buf, sizeof(buf), &len), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_uint_eq(len, 0);

	ck_assert_int_eq(shpool_str_set(p, i, "hello", 5), 0);
	ck_assert_int_eq(shpool_str_get(p, i, buf, sizeof(buf), &len), 0);
	ck_assert_str_eq(buf, "hello");
	ck_assert_uint_eq(len, 5);
	ck_assert_int_eq(shpool_str_get(p, i, buf, 6, NULL), 0); /* exactly fits */
	ck_assert_str_eq(buf, "hello");
	ck_assert_int_eq(shpool_str_view(p, i, &s, &len), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_mem_eq(s, "hello", 5);
	ck_assert_ptr_eq(s, (char *)shpool_ptr(p, i) + 8);
	ck_assert_uint_eq(*(uint32_t *)shpool_ptr(p, i), 5); /* u32 length prefix */

	/* Exactly max_len, embedded NULs, then shorter. */
	ck_assert_int_eq(shpool_str_set(p, i, "0123456789", 10), 0);
	ck_assert_int_eq(shpool_str_get(p, i, buf, sizeof(buf), &len), 0);
	ck_assert_str_eq(buf, "0123456789");
	ck_assert_int_eq(shpool_str_set(p, i, "a\0b", 3), 0);
	ck_assert_int_eq(shpool_str_get(p, i, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(buf, "a\0b\0", 4);
	ck_assert_int_eq(shpool_str_set(p, i, NULL, 0), 0);
	ck_assert_int_eq(shpool_str_view(p, i, &s, &len), 0);
	ck_assert_uint_eq(len, 0);

	/* A view of the slot can be stored back into it (overlap). */
	ck_assert_int_eq(shpool_str_set(p, i, "abcdef", 6), 0);
	ck_assert_int_eq(shpool_str_view(p, i, &s, &len), 0);
	ck_assert_int_eq(shpool_str_set(p, i, s + 2, len - 2), 0);
	ck_assert_int_eq(shpool_str_get(p, i, buf, sizeof(buf), NULL), 0);
	ck_assert_str_eq(buf, "cdef");
	shpool_close(p);
}
END_TEST

START_TEST(str_errors)
{
	shpool_t *p = test_pool(NULL, SHPOOL_STR, 4, 10, 0);
	shpool_t *raw = test_pool(NULL, SHPOOL_RAW, 1, 16, 0);
	uint64_t i = test_alloc1(p), r = test_alloc1(raw), f = free_slot(p);
	char buf[16];
	const char *s = NULL;
	size_t len;

	ck_assert_int_eq(shpool_str_set(p, i, "hello", 5), 0);

	/* E2BIG: nothing written, the old string intact. */
	ck_assert_fails(shpool_str_set(p, i, "0123456789X", 11), -E2BIG, "exceeds max_len 10");
	ck_assert_fails(shpool_str_set(p, i, "x", SIZE_MAX), -E2BIG, "exceeds max_len");
	ck_assert_int_eq(shpool_str_get(p, i, buf, sizeof(buf), &len), 0);
	ck_assert_str_eq(buf, "hello");
	ck_assert_mem_eq((char *)shpool_ptr(p, i) + 8, "hello\0\0\0\0\0", 10);

	/* ENOSPC: nothing copied, but the needed length is reported. */
	memset(buf, '#', sizeof(buf));
	len = 0;
	ck_assert_fails(shpool_str_get(p, i, buf, 5, &len), -ENOSPC, "buffer of 5");
	ck_assert_uint_eq(len, 5);
	ck_assert_int_eq(buf[0], '#');
	ck_assert_int_eq(buf[4], '#');
	len = 0;
	ck_assert_fails(shpool_str_get(p, i, NULL, 0, &len), -ENOSPC, "holds 5 bytes");
	ck_assert_uint_eq(len, 5);
	ck_assert_fails(shpool_str_get(p, i, NULL, 6, &len), -EINVAL, "buf is NULL");
	ck_assert_fails(shpool_str_set(p, i, NULL, 1), -EINVAL, "s is NULL");
	ck_assert_fails(shpool_str_view(p, i, NULL, &len), -EINVAL, "s is NULL");
	ck_assert_fails(shpool_str_view(p, i, &s, NULL), -EINVAL, "len is NULL");

	ck_assert_fails(shpool_str_get(raw, r, buf, sizeof(buf), &len), -EINVAL,
			"pool kind is RAW, this call needs STR");
	ck_assert_fails(shpool_str_set(raw, r, "x", 1), -EINVAL,
			"pool kind is RAW, this call needs STR");
	ck_assert_fails(shpool_str_view(raw, r, &s, &len), -EINVAL, "needs STR");
	/* The kind is what is wrong, however long the string. */
	ck_assert_fails(shpool_str_set(raw, r, "0123456789abcdefg", 17), -EINVAL,
			"pool kind is RAW, this call needs STR");
	ck_assert_fails(shpool_str_get(p, 4, buf, sizeof(buf), &len), -ERANGE, "out of range");
	ck_assert_fails(shpool_str_set(p, 4, "x", 1), -ERANGE, "out of range");
	ck_assert_fails(shpool_str_view(p, 4, &s, &len), -ERANGE, "out of range");
	ck_assert_fails(shpool_str_get(p, f, buf, sizeof(buf), &len), -ENOENT, "not allocated");
	ck_assert_fails(shpool_str_set(p, f, "x", 1), -ENOENT, "not allocated");
	ck_assert_fails(shpool_str_view(p, f, &s, &len), -ENOENT, "not allocated");
	ck_assert_fails(shpool_str_get(NULL, i, buf, sizeof(buf), &len), -EINVAL, "NULL pool");
	ck_assert_fails(shpool_str_set(NULL, i, "x", 1), -EINVAL, "NULL pool");
	ck_assert_fails(shpool_str_view(NULL, i, &s, &len), -EINVAL, "NULL pool");
	ck_assert_int_eq(*(uint32_t *)shpool_ptr(p, f), 0);
	shpool_close(p);
	shpool_close(raw);
}
END_TEST

static int touch_slot1(void *arg)
{
	volatile const char *c = shpool_ptr(arg, 1);
	struct rlimit no_core = { 0, 0 };

	setrlimit(RLIMIT_CORE, &no_core); /* an expected crash, not a bug */
	signal(SIGSEGV, SIG_DFL);          /* die of it, even under a sanitizer */
	return *c == 42 ? 1 : 2; /* never returns: SIGSEGV */
}

/* A scribbled length prefix must fail the read, never read past the slot.
 * Slots are one page each (max_len 4088 + the 8-byte prefix) and slot 1's
 * page is made inaccessible, so reading past slot 0 would crash. */
START_TEST(str_hostile_prefix)
{
	const uint32_t max = 4096 - 8;
	const uint32_t bad[] = { max + 1, max + 8, 1u << 20, INT32_MAX, UINT32_MAX };
	shpool_t *p = test_pool(NULL, SHPOOL_STR, 2, max, 0);
	uint64_t got[2];
	uint8_t *slot;
	static char big[8192];
	char small[64];
	const char *s = (const char *)0x1;
	size_t len = 77;

	ck_assert_uint_eq(shpool_stride(p), 4096);
	ck_assert_int_eq(shpool_alloc_n(p, got, 2, 0), 0);
	slot = shpool_ptr(p, 0);
	ck_assert_int_eq(mprotect(shpool_ptr(p, 1), 4096, PROT_NONE), 0);
	/* The trap works: touching slot 1 kills a child. */
	ck_assert_int_eq(test_wait(test_fork(touch_slot1, p)), 128 + SIGSEGV);

	ck_assert_int_eq(shpool_str_set(p, 0, "ok", 2), 0);
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		memcpy(slot, &bad[k], 4);
		memset(small, '#', sizeof(small));
		memset(big, '#', sizeof(big));
		ck_assert_fails(shpool_str_get(p, 0, small, sizeof(small), &len), -EUCLEAN,
				"exceeds max_len 4088 (damaged)");
		ck_assert_fails(shpool_str_get(p, 0, big, sizeof(big), &len), -EUCLEAN,
				"slot 0: stored length");
		ck_assert_fails(shpool_str_get(p, 0, NULL, 0, &len), -EUCLEAN, "stored length");
		ck_assert_fails(shpool_str_view(p, 0, &s, &len), -EUCLEAN, "stored length");
		/* Nothing handed back, nothing copied. */
		ck_assert_uint_eq(len, 77);
		ck_assert_ptr_eq(s, (const char *)0x1);
		ck_assert_int_eq(small[0], '#');
		ck_assert_int_eq(big[0], '#');
		ck_assert_int_eq(big[sizeof(big) - 1], '#');
	}
	/* Exactly max_len is legitimate: read right up to the trap page. */
	memset(slot + 8, 'q', max);
	memcpy(slot, &max, 4);
	ck_assert_int_eq(shpool_str_get(p, 0, big, sizeof(big), &len), 0);
	ck_assert_uint_eq(len, max);
	ck_assert_int_eq(big[max - 1], 'q');
	ck_assert_int_eq(big[max], '\0');
	ck_assert_int_eq(shpool_str_view(p, 0, &s, &len), 0);
	ck_assert_uint_eq(len, max);
	/* set repairs the slot. */
	ck_assert_int_eq(shpool_str_set(p, 0, "fine", 4), 0);
	ck_assert_int_eq(shpool_str_get(p, 0, small, sizeof(small), &len), 0);
	ck_assert_str_eq(small, "fine");
	shpool_close(p);
}
END_TEST

/* ---- alloc_set ---------------------------------------------------------- */

START_TEST(alloc_set_variants)
{
	shpool_t *raw = test_pool(NULL, SHPOOL_RAW, 2, 12, 0);
	shpool_t *p64 = test_pool(NULL, SHPOOL_I64, 2, 0, 0);
	shpool_t *p32 = test_pool(NULL, SHPOOL_I32, 2, 0, 0);
	shpool_t *pf = test_pool(NULL, SHPOOL_F64, 2, 0, 0);
	shpool_t *ps = test_pool(NULL, SHPOOL_STR, 2, 6, 0);
	int64_t i, v64;
	int32_t v32;
	double vf;
	char buf[16];
	size_t len;

	i = shpool_alloc_set(raw, "abcdefghijkl", 12, 0);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(shpool_is_allocated(raw, (uint64_t)i), 1);
	ck_assert_int_eq(shpool_get(raw, (uint64_t)i, buf, 12), 0);
	ck_assert_mem_eq(buf, "abcdefghijkl", 12);
	i = shpool_alloc_set(raw, "xy", 2, 0); /* the rest is zero-filled */
	ck_assert_int_ge(i, 0);
	ck_assert_mem_eq(shpool_ptr(raw, (uint64_t)i), "xy\0\0\0\0\0\0\0\0\0\0", 12);

	i = shpool_alloc_set_i64(p64, INT64_MIN, 0);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(shpool_i64_get(p64, (uint64_t)i, &v64), 0);
	ck_assert_int_eq(v64, INT64_MIN);
	ck_assert_int_ge(shpool_alloc_set(p64, &v64, 8, 0), 0); /* whole value: allowed */

	i = shpool_alloc_set_i32(p32, -123456, 0);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(shpool_i32_get(p32, (uint64_t)i, &v32), 0);
	ck_assert_int_eq(v32, -123456);

	i = shpool_alloc_set_f64(pf, -0.0, 0);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(shpool_f64_get(pf, (uint64_t)i, &vf), 0);
	ck_assert_uint_eq(bits_of(vf), bits_of(-0.0));

	i = shpool_alloc_set_str(ps, "sixsix", 6, 0);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(shpool_str_get(ps, (uint64_t)i, buf, sizeof(buf), &len), 0);
	ck_assert_str_eq(buf, "sixsix");
	ck_assert_int_ge(shpool_alloc_set_str(ps, NULL, 0, 0), 0);
	ck_assert_uint_eq(shpool_used(ps), 2);

	shpool_close(raw);
	shpool_close(p64);
	shpool_close(p32);
	shpool_close(pf);
	shpool_close(ps);
}
END_TEST

/* Checked errors leave the pool untouched: its one free slot stays free. */
START_TEST(alloc_set_errors_touch_nothing)
{
	shpool_t *ps = test_pool(NULL, SHPOOL_STR, 2, 4, 0);
	shpool_t *raw = test_pool(NULL, SHPOOL_RAW, 2, 4, 0);
	shpool_t *p64 = test_pool(NULL, SHPOOL_I64, 2, 0, 0);
	shpool_stats_t st;
	uint64_t hold = test_alloc1(ps);

	(void)hold;
	ck_assert_uint_eq(shpool_available(ps), 1);
	ck_assert_fails(shpool_alloc_set_str(ps, "12345", 5, 0), -E2BIG, "exceeds max_len 4");
	ck_assert_fails(shpool_alloc_set_str(ps, NULL, 1, 0), -EINVAL, "s is NULL");
	ck_assert_fails(shpool_alloc_set_i64(ps, 1, 0), -EINVAL,
			"pool kind is STR, this call needs I64");
	ck_assert_fails(shpool_alloc_set_i32(ps, 1, 0), -EINVAL, "needs I32");
	ck_assert_fails(shpool_alloc_set_f64(ps, 1.0, 0), -EINVAL, "needs F64");
	ck_assert_fails(shpool_alloc_set(ps, "x", 1, 0), -EINVAL, "pool kind is STR");
	ck_assert_uint_eq(shpool_available(ps), 1);
	/* Not even allocated and given back: one alloc (ours), no free. */
	ck_assert_int_eq(shpool_stats(ps, &st), 0);
	ck_assert_uint_eq(st.allocs, 1);
	ck_assert_uint_eq(st.frees, 0);

	ck_assert_fails(shpool_alloc_set(raw, "12345", 5, 0), -E2BIG, "exceeds elem_size 4");
	ck_assert_fails(shpool_alloc_set(raw, NULL, 1, 0), -EINVAL, "buf is NULL");
	ck_assert_fails(shpool_alloc_set_str(raw, "x", 1, 0), -EINVAL, "pool kind is RAW");
	ck_assert_fails(shpool_alloc_set_str(raw, "0123456789abcdefg", 17, 0), -EINVAL,
			"pool kind is RAW");
	ck_assert_fails(shpool_alloc_set(p64, "1234", 4, 0), -EINVAL, "len must be 8");
	ck_assert_uint_eq(shpool_used(raw), 0);
	ck_assert_uint_eq(shpool_used(p64), 0);

	ck_assert_fails(shpool_alloc_set(NULL, "x", 1, 0), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_alloc_set_i64(NULL, 1, 0), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_alloc_set_i32(NULL, 1, 0), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_alloc_set_f64(NULL, 1, 0), -EINVAL, "NULL pool handle");
	ck_assert_fails(shpool_alloc_set_str(NULL, "x", 1, 0), -EINVAL, "NULL pool handle");

	/* The free slot is still allocatable. */
	ck_assert_int_ge(shpool_alloc_set_str(ps, "1234", 4, 0), 0);
	ck_assert_uint_eq(shpool_available(ps), 0);
	shpool_close(ps);
	shpool_close(raw);
	shpool_close(p64);
}
END_TEST

START_TEST(alloc_set_pool_full)
{
	shpool_t *p64 = test_pool(NULL, SHPOOL_I64, 1, 0, 0);
	shpool_t *ps = test_pool(NULL, SHPOOL_STR, 1, 4, 0);
	int64_t v;

	ck_assert_int_ge(shpool_alloc_set_i64(p64, 42, 0), 0);
	ck_assert_fails(shpool_alloc_set_i64(p64, 43, 0), -EAGAIN, "pool full");
	ck_assert_fails(shpool_alloc_set(p64, &v, 8, 0), -EAGAIN, "pool full");
	ck_assert_fails(shpool_alloc_set_i64(p64, 43, 20), -ETIMEDOUT, "within 20 ms");
	ck_assert_int_eq(shpool_i64_get(p64, 0, &v), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_ge(shpool_alloc_set_str(ps, "a", 1, 0), 0);
	ck_assert_fails(shpool_alloc_set_str(ps, "b", 1, 0), -EAGAIN, "pool full");
	shpool_close(p64);
	shpool_close(ps);
}
END_TEST

/* A store that fails after the allocation (injected: correct input never
 * does) frees the slot and returns the store's error. */
START_TEST(alloc_set_store_failure_frees)
{
	shpool_t *ps = test_pool(NULL, SHPOOL_STR, 1, 4, 0);
	shpool_t *p32 = test_pool(NULL, SHPOOL_I32, 1, 0, 0);

	ck_assert_int_eq(setenv("SHPOOL_FAULT_AT", "alloc_set.store:5", 1), 0); /* EIO */
	ck_assert_fails(shpool_alloc_set_str(ps, "abc", 3, 0), -EIO, "injected fault");
	ck_assert_uint_eq(shpool_used(ps), 0);
	ck_assert_fails(shpool_alloc_set_i32(p32, 7, 0), -EIO, "alloc_set.store");
	ck_assert_uint_eq(shpool_used(p32), 0);
	ck_assert_int_eq(unsetenv("SHPOOL_FAULT_AT"), 0);
	/* And the slot really is usable again. */
	ck_assert_int_eq(shpool_alloc_set_str(ps, "abc", 3, 0), 0);
	ck_assert_int_eq(shpool_alloc_set_i32(p32, 7, 0), 0);
	shpool_close(ps);
	shpool_close(p32);
}
END_TEST

/* ---- many processes on one slot ------------------------------------------ */

#define NPROC 4
#define NITER 100000

struct counter_arg {
	shpool_t *p;
	uint64_t idx;
	int id;
	int start[2]; /* a pipe: EOF (all write ends closed) is the start signal */
};

/* Without a common start, each child could finish before the next one is
 * even forked, and a non-atomic add would pass. */
static void wait_start(struct counter_arg *a)
{
	char c;

	close(a->start[1]);
	while (read(a->start[0], &c, 1) < 0 && errno == EINTR)
		;
}

static int incr_many(void *arg)
{
	struct counter_arg *a = arg;

	wait_start(a);
	for (int k = 0; k < NITER; k++)
		if (shpool_i64_incr(a->p, a->idx, NULL) != 0)
			return 1;
	return 0;
}

/* Even processes add +3, odd ones -1: the sum is known exactly. */
static int add_mixed(void *arg)
{
	struct counter_arg *a = arg;
	int32_t delta = a->id % 2 ? -1 : 3;

	wait_start(a);
	for (int k = 0; k < NITER; k++)
		if (shpool_i32_add(a->p, a->idx, delta, NULL) != 0)
			return 1;
	return 0;
}

START_TEST(multiprocess_counters)
{
	shpool_t *p64 = test_pool(NULL, SHPOOL_I64, 8, 0, 0);
	shpool_t *p32 = test_pool(NULL, SHPOOL_I32, 8, 0, 0);
	struct counter_arg a64[NPROC], a32[NPROC];
	pid_t pids[2 * NPROC];
	uint64_t i64 = test_alloc1(p64), i32 = test_alloc1(p32);
	int64_t v64;
	int32_t v32;
	int start[2];

	ck_assert_int_eq(pipe(start), 0);
	ck_assert_int_eq(shpool_i32_set(p32, i32, -1000), 0);
	for (int n = 0; n < NPROC; n++) {
		a64[n] = (struct counter_arg){ p64, i64, n, { start[0], start[1] } };
		a32[n] = (struct counter_arg){ p32, i32, n, { start[0], start[1] } };
		pids[2 * n] = test_fork(incr_many, &a64[n]);
		pids[2 * n + 1] = test_fork(add_mixed, &a32[n]);
	}
	close(start[1]);
	for (int n = 0; n < 2 * NPROC; n++)
		ck_assert_int_eq(test_wait(pids[n]), 0);
	ck_assert_int_eq(shpool_i64_get(p64, i64, &v64), 0);
	ck_assert_int_eq(v64, (int64_t)NPROC * NITER);
	ck_assert_int_eq(shpool_i32_get(p32, i32, &v32), 0);
	ck_assert_int_eq(v32, -1000 + (NPROC / 2) * NITER * 3 - (NPROC / 2) * NITER);
	shpool_close(p64);
	shpool_close(p32);
}
END_TEST

/* cas as a cross-process lock-free increment: exact too. */
static int cas_many(void *arg)
{
	struct counter_arg *a = arg;

	wait_start(a);
	for (int k = 0; k < NITER / 4; k++) {
		int64_t cur;

		do {
			if (shpool_i64_get(a->p, a->idx, &cur) != 0)
				return 1;
		} while (shpool_i64_cas(a->p, a->idx, cur, cur + 1) != 1);
	}
	return 0;
}

START_TEST(multiprocess_cas)
{
	shpool_t *p = test_pool(NULL, SHPOOL_I64, 1, 0, 0);
	struct counter_arg a = { p, test_alloc1(p), 0, { -1, -1 } };
	pid_t pids[NPROC];
	int64_t v;

	ck_assert_int_eq(pipe(a.start), 0);
	for (int n = 0; n < NPROC; n++)
		pids[n] = test_fork(cas_many, &a);
	close(a.start[1]);
	for (int n = 0; n < NPROC; n++)
		ck_assert_int_eq(test_wait(pids[n]), 0);
	ck_assert_int_eq(shpool_i64_get(p, a.idx, &v), 0);
	ck_assert_int_eq(v, (int64_t)NPROC * (NITER / 4));
	shpool_close(p);
}
END_TEST

static Suite *typed_suite(void)
{
	Suite *s = suite_create("typed");
	TCase *t = tcase_create("access");
	TCase *mp = tcase_create("multiprocess");

	tcase_add_test(t, ptr_and_data_ptr);
	tcase_add_test(t, raw_get_set);
	tcase_add_test(t, raw_get_set_errors);
	tcase_add_test(t, get_set_on_typed_kinds);
	tcase_add_test(t, i64_ops);
	tcase_add_test(t, i32_ops);
	tcase_add_test(t, int_errors);
	tcase_add_test(t, f64_round_trip);
	tcase_add_test(t, str_ops);
	tcase_add_test(t, str_errors);
	tcase_add_test(t, str_hostile_prefix);
	tcase_add_test(t, alloc_set_variants);
	tcase_add_test(t, alloc_set_errors_touch_nothing);
	tcase_add_test(t, alloc_set_pool_full);
	tcase_add_test(t, alloc_set_store_failure_frees);
	suite_add_tcase(s, t);


	tcase_set_timeout(mp, 60);
	tcase_add_test(mp, multiprocess_counters);
	tcase_add_test(mp, multiprocess_cas);
	suite_add_tcase(s, mp);
	return s;
}

int main(void)
{
	return test_run_suite(typed_suite());
}

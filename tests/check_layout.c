/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/layout.c, the segment format: the geometry a pool's
 * parameters give (strides, capacities) and what is refused before anything
 * is made; the header a pool carries and its validation at attach (truncated,
 * grown, junk and corrupted files, other layout versions); and the kinds
 * (SHPOOL_ANY_KIND attaches whatever kind a segment has, shpool_kind_name
 * names them, a kind this library does not know is refused). Every failing
 * call is checked for its code AND for a detail in shpool_last_error().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
/* White-box: the on-disk header layout, to forge damaged segments. */
#include "../src/shpool-internal.h"

#define PAGE 4096u

/* ---- helpers ------------------------------------------------------------ */

static void read_header(const char *path, struct shpool_header *h)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, h, sizeof(*h), 0), (ssize_t)sizeof(*h));
	close(fd);
}

static void write_header(const char *path, const struct shpool_header *h)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, h, sizeof(*h), 0), (ssize_t)sizeof(*h));
	close(fd);
}

static bool all_zero(const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* ---- geometry ---------------------------------------------------------------- */

/* Slots of up to a cache line get a power-of-two stride (>= 8), so no slot
 * straddles a line; larger ones a whole number of lines (segment.c). */
static const struct geo {
	shpool_kind kind;
	uint32_t es_in, es, stride;
} geos[] = {
	{ SHPOOL_RAW, 1, 1, 8 },     { SHPOOL_RAW, 8, 8, 8 },
	{ SHPOOL_RAW, 9, 9, 16 },    { SHPOOL_RAW, 64, 64, 64 },
	{ SHPOOL_RAW, 65, 65, 128 }, { SHPOOL_RAW, 100, 100, 128 },
	{ SHPOOL_RAW, 4096, 4096, 4096 },
	{ SHPOOL_I64, 0, 8, 8 },     { SHPOOL_I64, 8, 8, 8 },
	{ SHPOOL_I32, 0, 4, 8 },     { SHPOOL_I32, 4, 4, 8 },
	{ SHPOOL_F64, 0, 8, 8 },     { SHPOOL_F64, 8, 8, 8 },
	/* STR slots carry an 8-byte length prefix. */
	{ SHPOOL_STR, 10, 10, 32 },  { SHPOOL_STR, 56, 56, 64 },
	{ SHPOOL_STR, 57, 57, 128 },
};
#define NGEOS ((int)(sizeof(geos) / sizeof(geos[0])))

START_TEST(anon_geometry)
{
	const struct geo *g = &geos[_i];
	const uint64_t cap = 1000;
	shpool_t *p = test_pool(NULL, g->kind, cap, g->es_in, 0);
	uint8_t *data = shpool_data_ptr(p);

	ck_assert_uint_eq(shpool_capacity(p), cap);
	ck_assert_uint_eq(shpool_elem_size(p), g->es);
	ck_assert_int_eq(shpool_kind_of(p), g->kind);
	ck_assert_uint_eq(shpool_stride(p), g->stride);
	ck_assert_ptr_null(shpool_path(p));
	ck_assert_int_eq(shpool_memfd(p), -1);
	ck_assert_ptr_nonnull(data);
	ck_assert_uint_eq((uintptr_t)data % PAGE, 0);
	ck_assert_ptr_eq(shpool_ptr(p, 0), data);
	ck_assert_ptr_eq(shpool_ptr(p, cap - 1), data + (cap - 1) * g->stride);
	ck_assert_ptr_null(shpool_ptr(p, cap));
	ck_assert_ptr_null(shpool_ptr(p, UINT64_MAX));
	if (g->kind == SHPOOL_STR)
		ck_assert_uint_eq(shpool_str_max_len(p), g->es);
	ck_assert_uint_eq(shpool_used(p), 0);
	ck_assert_uint_eq(shpool_available(p), cap);
	/* The whole data region is mapped, zeroed and writable. */
	ck_assert_msg(all_zero(data, cap * g->stride), "fresh data region not zero");
	memset(data, 0xa5, cap * g->stride);
	shpool_close(p);
}
END_TEST

/* Tiny, word-sized and multi-level pools: all slots are addressable. */
START_TEST(anon_capacities)
{
	static const uint64_t caps[] = { 1, 2, 7, 8, 63, 64, 65, 511, 4097, 262145 };

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		shpool_t *p = test_pool(NULL, SHPOOL_RAW, caps[i], 8, 0);
		uint8_t *last = shpool_ptr(p, caps[i] - 1);

		ck_assert_uint_eq(shpool_capacity(p), caps[i]);
		ck_assert_ptr_nonnull(last);
		memset(last, 0x5a, 8);
		ck_assert_int_eq(shpool_is_allocated(p, caps[i] - 1), 0);
		ck_assert_uint_eq(shpool_used(p), 0);
		ck_assert_uint_eq(shpool_available(p), caps[i]);
		shpool_close(p);
	}
}
END_TEST

/* ---- parameters refused ------------------------------------------------------ */

/* Bad geometry is refused by every constructor, before anything is made. */
static void assert_rejected(shpool_kind kind, uint64_t cap, uint32_t es, unsigned flags,
			    int want, const char *needle)
{
	char *path = test_path("rejected");
	shpool_options o = { .flags = flags };
	shpool_t *p = (shpool_t *)&p;

	ck_assert_fails(shpool_create(&p, NULL, kind, cap, es, &o), want, needle);
	ck_assert_ptr_null(p);
	ck_assert_fails(shpool_create(&p, path, kind, cap, es, &o), want, needle);
	ck_assert_msg(!test_exists(path), "a refused create left %s", path);
	ck_assert_fails(shpool_create_memfd(&p, "m", kind, cap, es, &o), want, needle);
	ck_assert_ptr_null(p);
	free(path);
}

START_TEST(bad_capacity)
{
	assert_rejected(SHPOOL_RAW, 0, 8, 0, -EINVAL, "capacity 0 out of range");
	assert_rejected(SHPOOL_I64, 0, 0, 0, -EINVAL, "capacity 0 out of range");
	assert_rejected(SHPOOL_RAW, SHPOOL_MAX_CAPACITY + 1, 8, 0, -EINVAL,
			"capacity 4294967297 out of range");
	assert_rejected(SHPOOL_RAW, UINT64_MAX, 8, 0, -EINVAL, "out of range");
}
END_TEST

START_TEST(too_big_for_address_space)
{
	assert_rejected(SHPOOL_RAW, SHPOOL_MAX_CAPACITY, SHPOOL_MAX_ELEM_SIZE, 0, -ENOMEM,
			"larger than the address space");
	assert_rejected(SHPOOL_RAW, UINT64_C(1) << 20, SHPOOL_MAX_ELEM_SIZE, 0, -ENOMEM,
			"larger than the address space");
	assert_rejected(SHPOOL_STR, UINT64_C(1) << 24, 1u << 24, 0, -ENOMEM,
			"larger than the address space");
}
END_TEST

#if SIZE_MAX < UINT64_MAX
/* A 32-bit process (the cross step runs this under qemu-i386): 5 slots of
 * 1 GiB is a layout of 5 GiB, which its size_t cannot hold. It used to be
 * created, mapped 1 GiB + 8 KiB long, with slot 4 aliasing slot 0. */
START_TEST(beyond_size_t)
{
	shpool_t *p = NULL;

	ck_assert_fails(shpool_create(&p, NULL, SHPOOL_RAW, 5, SHPOOL_MAX_ELEM_SIZE, NULL), -ENOMEM,
			"a 32-bit process");
	ck_assert_ptr_null(p);
	ck_assert_fails(shpool_create(&p, test_path("big"), SHPOOL_RAW, 5, SHPOOL_MAX_ELEM_SIZE,
				      NULL),
			-ENOMEM, "larger than the address space allows");
	ck_assert_int_eq(access(test_path("big"), F_OK), -1); /* no file left behind */
	/* 3 GiB fits a 32-bit size_t: the layout is not refused (whether the
	 * mapping fits what is left of the address space is mmap's call). */
	int rc = shpool_create(&p, NULL, SHPOOL_RAW, 3, SHPOOL_MAX_ELEM_SIZE, NULL);

	ck_assert_msg(rc == 0 || (rc == -ENOMEM && !strstr(shpool_last_error(), "allows")),
		      "3 GiB: %d, %s", rc, shpool_last_error());
	if (rc == 0) {
		ck_assert_ptr_eq((char *)shpool_ptr(p, 2),
				 (char *)shpool_ptr(p, 0) + 2 * shpool_stride(p));
		shpool_close(p);
	}
}
END_TEST
#endif

START_TEST(bad_elem_size)
{
	assert_rejected(SHPOOL_RAW, 10, 0, 0, -EINVAL, "RAW: elem_size 0 out of range");
	assert_rejected(SHPOOL_STR, 10, 0, 0, -EINVAL, "STR: elem_size 0 out of range");
	assert_rejected(SHPOOL_RAW, 10, SHPOOL_MAX_ELEM_SIZE + 1, 0, -EINVAL,
			"elem_size 1073741825 out of range");
	assert_rejected(SHPOOL_STR, 10, UINT32_MAX, 0, -EINVAL, "out of range");
}
END_TEST

START_TEST(implied_elem_size)
{
	static const struct {
		shpool_kind kind;
		uint32_t natural, wrong[3];
	} t[] = {
		{ SHPOOL_I64, 8, { 4, 1, 16 } },
		{ SHPOOL_I32, 4, { 8, 1, 2 } },
		{ SHPOOL_F64, 8, { 4, 16, 7 } },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		shpool_t *p;

		for (int w = 0; w < 3; w++)
			assert_rejected(t[i].kind, 10, t[i].wrong[w], 0, -EINVAL, "implied");
		p = test_pool(NULL, t[i].kind, 10, 0, 0);
		ck_assert_uint_eq(shpool_elem_size(p), t[i].natural);
		shpool_close(p);
		p = test_pool(NULL, t[i].kind, 10, t[i].natural, 0);
		ck_assert_uint_eq(shpool_elem_size(p), t[i].natural);
		shpool_close(p);
	}
}
END_TEST

START_TEST(unknown_kind)
{
	assert_rejected((shpool_kind)0, 10, 8, 0, -EINVAL, "SHPOOL_ANY_KIND only attaches");
	assert_rejected((shpool_kind)6, 10, 8, 0, -EINVAL, "unknown pool kind 6");
	assert_rejected((shpool_kind)-1, 10, 8, 0, -EINVAL, "unknown pool kind -1");
}
END_TEST

START_TEST(unknown_flags)
{
	shpool_options o = { .flags = SHPOOL_NO_ZERO | SHPOOL_NOTIFY_ON_FREE };
	shpool_t *p;

	assert_rejected(SHPOOL_RAW, 10, 8, 1u << 5, -EINVAL, "unknown flags 0x20");
	assert_rejected(SHPOOL_RAW, 10, 8, 1u << 31 | SHPOOL_NO_ZERO, -EINVAL,
			"unknown flags 0x80000000");
	ck_assert_int_eq(shpool_create(&p, NULL, SHPOOL_RAW, 10, 8, &o), 0);
	shpool_close(p);
}
END_TEST

/* ---- broken headers ---------------------------------------------------------- */

/* Both attach paths refuse path with (want, needle), and neither touches it. */
static void assert_refused_file(const char *path, int want, const char *needle)
{
	struct test_file before = test_file_state(path);
	shpool_t *p = (shpool_t *)&p;

	ck_assert_fails(shpool_open(&p, path, SHPOOL_RAW), want, needle);
	ck_assert_ptr_null(p);
	ck_assert_fails(shpool_create(&p, path, SHPOOL_RAW, 100, 16, NULL), want, needle);
	ck_assert_ptr_null(p);
	test_assert_unchanged(path, &before);
}

START_TEST(truncated_file)
{
	off_t size;
	char *path = test_pristine_pool(&size);
	shpool_t *p = (shpool_t *)&p;

	ck_assert_int_eq(truncate(path, size / 2), 0);
	assert_refused_file(path, -EBADMSG, "size mismatch");
	ck_assert_int_eq(truncate(path, 10), 0);
	assert_refused_file(path, -EBADMSG, "truncated");
	ck_assert_int_eq(truncate(path, (off_t)sizeof(struct shpool_header) - 1), 0);
	assert_refused_file(path, -EBADMSG, "truncated");
	/* Empty: refused by shpool_open; shpool_create makes a pool of an
	 * empty file of its caller's (check_ops: adopt_*). */
	ck_assert_int_eq(truncate(path, 0), 0);
	ck_assert_fails(shpool_open(&p, path, SHPOOL_RAW), -EBADMSG, "empty file, not a pool yet");
	ck_assert_ptr_null(p);
	free(path);
}
END_TEST

START_TEST(grown_file)
{
	off_t size;
	char *path = test_pristine_pool(&size);

	ck_assert_int_eq(truncate(path, size + PAGE), 0);
	assert_refused_file(path, -EBADMSG, "size mismatch");
	ck_assert_int_eq(truncate(path, size + 1), 0);
	assert_refused_file(path, -EBADMSG, "size mismatch");
	free(path);
}
END_TEST

START_TEST(junk_file)
{
	static unsigned char buf[3 * PAGE];
	char *zero = test_path("zero"), *noise = test_path("noise");
	uint64_t x = 0x9e3779b97f4a7c15u;

	for (size_t i = 0; i < sizeof(buf); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (unsigned char)x;
	}
	test_write_file(noise, buf, sizeof(buf));
	memset(buf, 0, sizeof(buf));
	test_write_file(zero, buf, sizeof(buf));
	assert_refused_file(noise, -EBADMSG, "bad magic");
	assert_refused_file(zero, -EBADMSG, "bad magic");
	free(zero);
	free(noise);
}
END_TEST

START_TEST(bad_magic)
{
	off_t size;
	char *path = test_pristine_pool(&size);
	struct shpool_header h;

	read_header(path, &h);
	h.magic[7] ^= 1;
	write_header(path, &h);
	assert_refused_file(path, -EBADMSG, "not a libshpool segment");
	free(path);
}
END_TEST

START_TEST(layout_version)
{
	off_t size;
	char *path = test_pristine_pool(&size);
	struct shpool_header h;

	/* Newer, older (a segment of an earlier build), and never valid. */
	const uint32_t versions[] = { SHPOOL_LAYOUT_VERSION + 1, SHPOOL_LAYOUT_VERSION - 1, 0 };
	char want[64];

	read_header(path, &h);
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		h.version = versions[i];
		write_header(path, &h);
		snprintf(want, sizeof(want), "layout version %" PRIu32 ", this library reads "
			 "version %u", versions[i], SHPOOL_LAYOUT_VERSION);
		assert_refused_file(path, -EPROTONOSUPPORT, want);
	}
	free(path);
}
END_TEST

/* One header field altered: the rest of the header no longer agrees. */
static const struct corruption {
	const char *field;
	size_t off, width;
	bool set; /* else add */
	uint64_t v;
	shpool_kind as;
	const char *detail;
} corruptions[] = {
#define F(f) #f, offsetof(struct shpool_header, f), sizeof(((struct shpool_header *)0)->f)
	{ F(header_size), false, 1, SHPOOL_RAW, "" },
	{ F(elem_size), true, 17, SHPOOL_RAW, "" },
	{ F(elem_size), true, 0, SHPOOL_RAW, "elem_size 0 out of range" },
	{ F(capacity), true, 0, SHPOOL_RAW, "capacity 0 out of range" },
	{ F(capacity), true, 100000, SHPOOL_RAW, "" },
	{ F(capacity), true, UINT64_C(1) << 40, SHPOOL_RAW, "out of range" },
	{ F(flags), true, 0x80, SHPOOL_RAW, "unknown flags 0x80" },
	{ F(stride), true, 32, SHPOOL_RAW, "" },
	{ F(stride), true, 0, SHPOOL_RAW, "" },
	{ F(word_shift), false, 1, SHPOOL_RAW, "" },
	{ F(nlevels), false, 1, SHPOOL_RAW, "" },
	{ F(off_state), false, 64, SHPOOL_RAW, "" },
	{ F(off_level[0]), false, 64, SHPOOL_RAW, "" },
	{ F(off_level[SHPOOL_MAX_LEVELS - 1]), true, 4096, SHPOOL_RAW, "" },
	{ F(off_owner), false, 64, SHPOOL_RAW, "" },
	{ F(off_owner), true, UINT64_C(1) << 62, SHPOOL_RAW, "" },
	{ F(off_data), false, PAGE, SHPOOL_RAW, "" },
	{ F(total_size), false, PAGE, SHPOOL_RAW, "" },
	{ F(total_size), true, UINT64_C(1) << 60, SHPOOL_RAW, "" },
	{ F(kind), true, SHPOOL_I64, SHPOOL_I64, "implied" },
	{ F(kind), true, 99, (shpool_kind)99, "unknown pool kind 99" },
#undef F
};
#define NCORRUPTIONS ((int)(sizeof(corruptions) / sizeof(corruptions[0])))

START_TEST(corrupt_header)
{
	const struct corruption *c = &corruptions[_i];
	off_t size;
	char *path = test_pristine_pool(&size);
	unsigned char raw[sizeof(struct shpool_header)];
	uint64_t v = 0;
	struct test_file before;
	shpool_t *p = (shpool_t *)&p;

	read_header(path, (struct shpool_header *)raw);
	memcpy(&v, raw + c->off, c->width);
	v = c->set ? c->v : v + c->v;
	memcpy(raw + c->off, &v, c->width);
	write_header(path, (struct shpool_header *)raw);
	before = test_file_state(path);

	ck_assert_fails(shpool_open(&p, path, c->as), -EBADMSG, "corrupt header");
	ck_assert_msg(strstr(shpool_last_error(), c->detail), "%s: \"%s\" lacks \"%s\"", c->field,
		      shpool_last_error(), c->detail);
	ck_assert_ptr_null(p);
	if (c->as == SHPOOL_RAW)
		ck_assert_fails(shpool_create(&p, path, SHPOOL_RAW, 100, 16, NULL), -EBADMSG,
				"corrupt header");
	test_assert_unchanged(path, &before);
	free(path);
}
END_TEST

/* ---- kinds ------------------------------------------------------------------- */

START_TEST(any_kind)
{
	const shpool_kind kinds[5] = { SHPOOL_RAW, SHPOOL_I64, SHPOOL_I32, SHPOOL_F64,
				       SHPOOL_STR };
	const char *names[5] = { "raw", "i64", "i32", "f64", "str" };
	char *path = test_path("any");
	shpool_t *p = NULL, *q = NULL;

	for (int k = 0; k < 5; k++) {
		int fd;

		ck_assert_str_eq(shpool_kind_name(kinds[k]), names[k]);
		p = test_pool(path, kinds[k], 8,
			      kinds[k] == SHPOOL_RAW || kinds[k] == SHPOOL_STR ? 8 : 0, 0);
		ck_assert_int_eq(shpool_open(&q, path, SHPOOL_ANY_KIND), 0);
		ck_assert_int_eq(shpool_kind_of(q), kinds[k]);
		ck_assert_int_eq(shpool_is_readonly(q), 0);
		shpool_close(q);
		fd = open(path, O_RDWR | O_CLOEXEC);
		ck_assert_int_eq(shpool_open_fd(&q, fd, SHPOOL_ANY_KIND), 0);
		ck_assert_int_eq(shpool_kind_of(q), kinds[k]);
		shpool_close(q);
		close(fd);
		shpool_unlink(p);
		shpool_close(p);
	}
	ck_assert_ptr_null(shpool_kind_name(SHPOOL_ANY_KIND));
	ck_assert_ptr_null(shpool_kind_name((shpool_kind)6));
	ck_assert_ptr_null(shpool_kind_name((shpool_kind)-1));
	ck_assert_fails(shpool_create(&p, path, SHPOOL_ANY_KIND, 8, 8, NULL), -EINVAL,
			"SHPOOL_ANY_KIND only attaches");
	ck_assert_fails(shpool_create(&p, NULL, SHPOOL_ANY_KIND, 8, 8, NULL), -EINVAL,
			"SHPOOL_ANY_KIND only attaches");
	ck_assert_fails(shpool_create_memfd(&p, "x", SHPOOL_ANY_KIND, 8, 8, NULL), -EINVAL,
			"SHPOOL_ANY_KIND only attaches");
	ck_assert_int_eq(access(path, F_OK), -1);
	free(path);
}
END_TEST

/* A segment naming a kind this library does not know: SHPOOL_ANY_KIND
 * says so instead of guessing. */
START_TEST(any_kind_unknown)
{
	char *path = test_path("future");
	shpool_t *p = test_pool(path, SHPOOL_RAW, 8, 8, 0), *q = NULL;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	uint32_t kind = 9;

	shpool_close(p);
	ck_assert_int_eq(pwrite(fd, &kind, sizeof(kind), offsetof(struct shpool_header, kind)),
			 (ssize_t)sizeof(kind));
	close(fd);
	ck_assert_fails(shpool_open(&q, path, SHPOOL_ANY_KIND), -EBADMSG, "unknown kind 9");
	ck_assert_fails(shpool_attach(&q, path, SHPOOL_ANY_KIND, SHPOOL_RDONLY), -EBADMSG,
			"unknown kind 9");
	ck_assert_fails(shpool_open(&q, path, SHPOOL_RAW), -EINVAL, "segment has unknown");
	ck_assert_ptr_null(q);
	free(path);
}
END_TEST

/* ---- suite ------------------------------------------------------------------- */

static Suite *make_layout_suite(void)
{
	Suite *s = suite_create("layout");
	TCase *t;

	t = test_tcase(s, "geometry", 10);
	tcase_add_loop_test(t, anon_geometry, 0, NGEOS);
	tcase_add_test(t, anon_capacities);

	t = test_tcase(s, "parameters", 10);
	tcase_add_test(t, bad_capacity);
	tcase_add_test(t, too_big_for_address_space);
#if SIZE_MAX < UINT64_MAX
	tcase_add_test(t, beyond_size_t);
#endif
	tcase_add_test(t, bad_elem_size);
	tcase_add_test(t, implied_elem_size);
	tcase_add_test(t, unknown_kind);
	tcase_add_test(t, unknown_flags);

	t = test_tcase(s, "headers", 10);
	tcase_add_test(t, truncated_file);
	tcase_add_test(t, grown_file);
	tcase_add_test(t, junk_file);
	tcase_add_test(t, bad_magic);
	tcase_add_test(t, layout_version);
	tcase_add_loop_test(t, corrupt_header, 0, NCORRUPTIONS);

	/* No timeout of their own before, as check_ops tests: Check's default. */
	t = tcase_create("any_kind");
	tcase_add_test(t, any_kind);
	tcase_add_test(t, any_kind_unknown);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return test_run_suite(make_layout_suite());
}

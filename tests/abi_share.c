/* SPDX-License-Identifier: MIT */
/*
 * Two ABIs, one pool (issue 19). Built twice by .ci/steps/60-cross.sh, as a
 * 64-bit (amd64) and a 32-bit (i386) program, and run as
 *
 *   abi_share write DIR    create one pool of each kind in DIR, allocate
 *                          slots, store typed values, and exit holding
 *                          them (a dead owner)
 *   abi_share read DIR     attach to those pools (the header must
 *                          validate), check every value, the owners and
 *                          the counters, then recover the dead writer's
 *                          slots and use the pools again
 *
 * with the writer of one ABI and the reader of the other, both ways round.
 * Every field the two ABIs read in common (header, state, bitmap, owner
 * records, data) must be where the other put it. Prints one line per pool;
 * exits 0 on success, 1 with a message on the first mismatch.
 */
#include <shpool.h>

#include <inttypes.h>
#include <stdbool.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NSLOTS 5 /* slots written per pool, out of CAP */
#define CAP 100  /* two bitmap words for the 64-slot word kinds */

static const char *dir;
static const char *abi = sizeof(void *) == 8 ? "64-bit" : "32-bit";

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "abi_share (%s): ", abi);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " [last error: %s]\n", shpool_last_error());
	exit(1);
}

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) \
			die(__VA_ARGS__); \
	} while (0)

static char *pool_path(const char *name)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "%s/%s.pool", dir, name);
	return buf;
}

/* Slot i of every pool is slot 7 * i + 3: spread over both bitmap words. */
static uint64_t slot_of(int i)
{
	return (uint64_t)(7 * i + 3);
}

/* The values, chosen so that a 4-byte shift, a truncation to 32 bits or a
 * byte swap shows. */
static int64_t i64_of(int i)
{
	static const int64_t v[NSLOTS] = {INT64_MIN, INT64_MAX, -2, INT64_C(0x0123456789abcdef),
					  INT64_C(0x100000000)};
	return v[i];
}

static int32_t i32_of(int i)
{
	static const int32_t v[NSLOTS] = {INT32_MIN, INT32_MAX, -1, 0x01234567, 0x10000};
	return v[i];
}

static uint64_t f64_bits_of(int i)
{
	/* -0.0, a NaN with a payload, the smallest subnormal, pi, -inf */
	static const uint64_t v[NSLOTS] = {UINT64_C(0x8000000000000000),
					   UINT64_C(0x7ff80000deadbeef), UINT64_C(1),
					   UINT64_C(0x400921fb54442d18),
					   UINT64_C(0xfff0000000000000)};
	return v[i];
}

static double f64_of(int i)
{
	uint64_t b = f64_bits_of(i);
	double d;

	memcpy(&d, &b, sizeof(d));
	return d;
}

static void str_of(int i, char *buf, size_t *len)
{
	/* Lengths 0, 1, 5, 28 (and an embedded NUL), 40 (the max). */
	static const char *const s[NSLOTS] = {"", "x", "hello", "a string with\0 a NUL in it.",
					      "0123456789012345678901234567890123456789"};
	static const size_t n[NSLOTS] = {0, 1, 5, 28, 40};

	memcpy(buf, s[i], n[i]);
	*len = n[i];
}

static void raw_of(int i, unsigned char *buf)
{
	for (int k = 0; k < 24; k++)
		buf[k] = (unsigned char)(i * 37 + k * 11 + 1);
}

static const struct {
	const char *name;
	shpool_kind kind;
	uint32_t elem_size;
} pools[] = {
	{"i64", SHPOOL_I64, 0}, {"i32", SHPOOL_I32, 0}, {"f64", SHPOOL_F64, 0},
	{"str", SHPOOL_STR, 40}, {"raw", SHPOOL_RAW, 24},
};
#define NPOOLS (sizeof(pools) / sizeof(pools[0]))

/* Claim exactly slot_of(0..NSLOTS-1): allocate until each is ours, then
 * free the others. */
static void claim(shpool_t *p)
{
	uint64_t got[CAP];
	int n = 0, want = 0;

	while (want < NSLOTS) {
		int64_t s = shpool_try_alloc(p);

		CHECK(s >= 0, "try_alloc: %" PRId64, s);
		got[n++] = (uint64_t)s;
		for (int i = 0; i < NSLOTS; i++)
			want += (uint64_t)s == slot_of(i);
	}
	for (int k = 0; k < n; k++) {
		bool keep = false;

		for (int i = 0; i < NSLOTS; i++)
			keep |= got[k] == slot_of(i);
		if (!keep)
			CHECK(shpool_free(p, got[k]) == 0, "free %" PRIu64, got[k]);
	}
}

static void store(shpool_t *p, shpool_kind kind, int i)
{
	uint64_t s = slot_of(i);
	char str[64];
	unsigned char raw[24];
	size_t len;
	int rc = 0;

	switch (kind) {
	case SHPOOL_I64:
		rc = shpool_i64_set(p, s, i64_of(i));
		break;
	case SHPOOL_I32:
		rc = shpool_i32_set(p, s, i32_of(i));
		break;
	case SHPOOL_F64:
		rc = shpool_f64_set(p, s, f64_of(i));
		break;
	case SHPOOL_STR:
		str_of(i, str, &len);
		rc = shpool_str_set(p, s, str, len);
		break;
	case SHPOOL_RAW:
		raw_of(i, raw);
		rc = shpool_set(p, s, raw, sizeof(raw));
		break;
	case SHPOOL_ANY_KIND: /* an attach argument, never a pool's kind */
		rc = -1;
		break;
	}
	CHECK(rc == 0, "store slot %" PRIu64 ": %d", s, rc);
}

static void verify(shpool_t *p, shpool_kind kind, int i, const char *name)
{
	uint64_t s = slot_of(i);
	char want[64], got[64];
	unsigned char wraw[24], graw[24];
	size_t wlen, glen;
	int64_t v64;
	int32_t v32;
	double d;
	uint64_t bits;

	switch (kind) {
	case SHPOOL_I64:
		CHECK(shpool_i64_get(p, s, &v64) == 0 && v64 == i64_of(i),
		      "%s slot %" PRIu64 ": %" PRId64 ", want %" PRId64, name, s, v64, i64_of(i));
		break;
	case SHPOOL_I32:
		CHECK(shpool_i32_get(p, s, &v32) == 0 && v32 == i32_of(i),
		      "%s slot %" PRIu64 ": %" PRId32 ", want %" PRId32, name, s, v32, i32_of(i));
		break;
	case SHPOOL_F64:
		CHECK(shpool_f64_get(p, s, &d) == 0, "%s slot %" PRIu64, name, s);
		memcpy(&bits, &d, sizeof(bits));
		CHECK(bits == f64_bits_of(i), "%s slot %" PRIu64 ": bits %016" PRIx64 ", want %016" PRIx64,
		      name, s, bits, f64_bits_of(i));
		break;
	case SHPOOL_STR:
		str_of(i, want, &wlen);
		CHECK(shpool_str_get(p, s, got, sizeof(got), &glen) == 0 && glen == wlen &&
			      memcmp(got, want, wlen) == 0,
		      "%s slot %" PRIu64 ": length %zu, want %zu", name, s, glen, wlen);
		break;
	case SHPOOL_RAW:
		raw_of(i, wraw);
		CHECK(shpool_get(p, s, graw, sizeof(graw)) == 0 && memcmp(graw, wraw, sizeof(wraw)) == 0,
		      "%s slot %" PRIu64 ": bytes differ", name, s);
		break;
	case SHPOOL_ANY_KIND: /* an attach argument, never a pool's kind */
		CHECK(0, "%s slot %" PRIu64 ": no kind", name, s);
		break;
	}
}

static int do_write(void)
{
	char path[4096];
	FILE *f;

	for (size_t k = 0; k < NPOOLS; k++) {
		shpool_t *p;
		int rc = shpool_create(&p, pool_path(pools[k].name), pools[k].kind, CAP,
				       pools[k].elem_size, NULL);

		CHECK(rc == 0, "create %s: %d", pools[k].name, rc);
		claim(p);
		for (int i = 0; i < NSLOTS; i++)
			store(p, pools[k].kind, i);
		shpool_close(p); /* the slots stay ours until we are dead */
	}
	snprintf(path, sizeof(path), "%s/writer", dir);
	f = fopen(path, "w");
	CHECK(f && fprintf(f, "%d %s\n", (int)getpid(), abi) > 0 && fclose(f) == 0, "%s", path);
	printf("abi_share: %s writer (pid %d): %zu pools, %d typed slots each, exiting as their "
	       "owner\n", abi, (int)getpid(), NPOOLS, NSLOTS);
	return 0;
}

static int do_read(void)
{
	char path[4096], wabi[16] = "";
	int wpid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/writer", dir);
	f = fopen(path, "r");
	CHECK(f && fscanf(f, "%d %15s", &wpid, wabi) == 2, "%s", path);
	fclose(f);

	for (size_t k = 0; k < NPOOLS; k++) {
		const char *name = pools[k].name;
		shpool_kind kind = pools[k].kind;
		shpool_stats_t st;
		shpool_t *p;
		int64_t n, s;
		int rc = shpool_open(&p, pool_path(name), kind);

		CHECK(rc == 0, "open %s (made by the %s writer): %d", name, wabi, rc);
		CHECK(shpool_capacity(p) == CAP, "%s: capacity %" PRIu64, name, shpool_capacity(p));
		/* The audit reads every owner record: the writer's, and only
		 * those, are found held by a dead process. */
		CHECK(shpool_check(p, NULL) == NSLOTS, "%s: shpool_check finds %d problems, want %d",
		      name, shpool_check(p, stderr), NSLOTS);
		CHECK(shpool_used(p) == NSLOTS, "%s: %" PRIu64 " slots used", name, shpool_used(p));
		for (int i = 0; i < NSLOTS; i++) {
			CHECK(shpool_is_allocated(p, slot_of(i)) == 1, "%s: slot %" PRIu64 " free", name,
			      slot_of(i));
			CHECK(shpool_owner(p, slot_of(i)) == wpid, "%s: slot %" PRIu64 " owned by %d",
			      name, slot_of(i), (int)shpool_owner(p, slot_of(i)));
			verify(p, kind, i, name);
		}
		CHECK(shpool_stats(p, &st) == 0, "%s: stats", name);
		CHECK(st.allocs >= NSLOTS && st.allocs <= CAP + NSLOTS && st.frees <= CAP &&
			      st.waiters == 0 && st.waits == 0 && st.timeouts == 0 &&
			      st.recoveries == 0 && st.used == NSLOTS,
		      "%s: stats allocs %" PRIu64 " frees %" PRIu64 " waiters %" PRIu64 " waits %" PRIu64
		      " recoveries %" PRIu64,
		      name, st.allocs, st.frees, st.waiters, st.waits, st.recoveries);

		/* The writer is dead: its slots are recovered, and only those. */
		n = shpool_recover_stale(p);
		CHECK(n == NSLOTS, "%s: recover_stale freed %" PRId64 ", want %d", name, n, NSLOTS);
		CHECK(shpool_used(p) == 0 && shpool_check(p, NULL) == 0, "%s: after recovery",
		      name);
		CHECK(shpool_stats(p, &st) == 0 && st.recoveries == NSLOTS, "%s: %" PRIu64
		      " recoveries counted", name, st.recoveries);

		/* And the pool works for this ABI: a slot, a value, an RMW. */
		s = shpool_try_alloc(p);
		CHECK(s >= 0 && shpool_owner(p, (uint64_t)s) == getpid(), "%s: alloc %" PRId64,
		      name, s);
		if (kind == SHPOOL_I64) {
			int64_t v;

			CHECK(shpool_i64_set(p, (uint64_t)s, INT64_MAX - 1) == 0 &&
				      shpool_i64_incr(p, (uint64_t)s, &v) == 0 && v == INT64_MAX,
			      "%s: i64 incr", name);
		}
		CHECK(shpool_free(p, (uint64_t)s) == 0 && shpool_used(p) == 0, "%s: free", name);
		CHECK(shpool_unlink(p) == 0, "%s: unlink", name);
		shpool_close(p);
		printf("abi_share: %s reader: %s pool of the %s writer: header, %d values, owners, "
		       "counters agree; %" PRId64 " slots recovered\n",
		       abi, name, wabi, NSLOTS, n);
	}
	return 0;
}

/* A pool larger than a 32-bit size_t (issue 28): 5 slots of 1 GiB, made by
 * a 64-bit writer (SHPOOL_NO_ZERO: nothing touches the gigabytes between
 * the markers), holding slots 0 and 4 with a marker in each. */
#define BIG_SLOTS 5
static int do_write_big(void)
{
	shpool_options o = { .flags = SHPOOL_NO_ZERO };
	shpool_t *p;

	CHECK(sizeof(size_t) == 8, "write-big needs a 64-bit writer");
	CHECK(shpool_create(&p, pool_path("big"), SHPOOL_RAW, BIG_SLOTS, SHPOOL_MAX_ELEM_SIZE,
			    &o) == 0, "big: create");
	for (int i = 0; i < BIG_SLOTS; i++) {
		char mark[16];
		int64_t s = shpool_try_alloc(p);

		CHECK(s == i, "big: alloc %d gave %" PRId64, i, s);
		snprintf(mark, sizeof(mark), "slot %d", i);
		CHECK(shpool_set(p, (uint64_t)s, mark, sizeof(mark)) == 0, "big: set %d", i);
	}
	printf("abi_share: %s writer: a pool of %d slots of 1 GiB, each marked\n", abi,
	       BIG_SLOTS);
	return 0;
}

/* A 32-bit reader must refuse it before mapping (it used to map the 64-bit
 * size cut to 32 bits and read slot 0 as slot 4); a 64-bit one reads every
 * marker where the writer put it. */
static int do_read_big(void)
{
	shpool_t *p;
	int rc = shpool_open(&p, pool_path("big"), SHPOOL_RAW);

	if (sizeof(size_t) < 8) {
		CHECK(rc == -ENOMEM && strstr(shpool_last_error(), "address space"),
		      "big: a 32-bit open returned %d, not -ENOMEM for the address space", rc);
		printf("abi_share: %s reader: refused the 5 GiB pool: %s\n", abi,
		       shpool_last_error());
		return 0;
	}
	CHECK(rc == 0, "big: open %d", rc);
	for (int i = 0; i < BIG_SLOTS; i++) {
		char want[16], got[16];

		snprintf(want, sizeof(want), "slot %d", i);
		CHECK(shpool_get(p, (uint64_t)i, got, sizeof(got)) == 0 && strcmp(got, want) == 0,
		      "big: slot %d reads \"%.16s\"", i, got);
	}
	CHECK(shpool_unlink(p) == 0, "big: unlink");
	shpool_close(p);
	printf("abi_share: %s reader: all %d markers of the 5 GiB pool are where the writer put them\n", abi,
	       BIG_SLOTS);
	return 0;
}

#define USAGE "usage: abi_share write|read|write-big|read-big DIR\n"
int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, USAGE);
		return 2;
	}
	dir = argv[2];
	if (strcmp(argv[1], "write") == 0)
		return do_write();
	if (strcmp(argv[1], "read") == 0)
		return do_read();
	if (strcmp(argv[1], "write-big") == 0)
		return do_write_big();
	if (strcmp(argv[1], "read-big") == 0)
		return do_read_big();
	fprintf(stderr, USAGE);
	return 2;
}

/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: attach a segment made of arbitrary bytes, through an fd
 * (shpool_open_fd, and read-only with shpool_attach_fd) and through a path
 * (shpool_open, shpool_create), as every kind and as SHPOOL_ANY_KIND;
 * whenever an attach succeeds, use the pool. Nothing may crash, hang,
 * leak, or touch memory outside the mapping (ASan), and every call must
 * return one of its documented results.
 *
 * Input: byte 0 holds options, the rest is the file.
 *   bit 0: size the file to what its header claims (up to 16 MiB), so that
 *          a short input is a valid-looking segment whose mutable parts
 *          (state, bitmap, summary, owner records) are the input itself;
 *   bit 1: attach by path too; bit 2: shpool_create() with the geometry
 *          the header claims (the attach-existing path);
 *   bit 3: shpool_reset() the pool at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shpool-internal.h"
#include "fuzz.h"

#define MAX_CLAIMED_SIZE (UINT64_C(16) << 20)

static int memfd = -1;
static char path[256];
static FILE *devnull;

static void remove_file(void)
{
	unlink(path);
}

static void setup(void)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	memfd = memfd_create("fuzz_attach", MFD_CLOEXEC);
	snprintf(path, sizeof(path), "%s/shpool-fuzz-attach-%d", dir, (int)getpid());
	devnull = fopen("/dev/null", "we");
	FUZZ_REQUIRE(memfd >= 0 && devnull, "setup: %s", strerror(errno));
	atexit(remove_file);
}

/* fd's content becomes data[0, n), then grows (zeroes) to size. */
static void load(int fd, const uint8_t *data, size_t n, uint64_t size)
{
	size_t done = 0;

	FUZZ_REQUIRE(ftruncate(fd, 0) == 0, "ftruncate: %s", strerror(errno));
	while (done < n) {
		ssize_t w = pwrite(fd, data + done, n - done, (off_t)done);

		FUZZ_REQUIRE(w > 0 || errno == EINTR, "pwrite: %s", strerror(errno));
		done += w > 0 ? (size_t)w : 0;
	}
	if (size > n)
		FUZZ_REQUIRE(ftruncate(fd, (off_t)size) == 0, "ftruncate: %s", strerror(errno));
}

static uint64_t header_u64(const uint8_t *file, size_t n, size_t off)
{
	uint64_t v = 0;

	if (off + sizeof(v) <= n)
		memcpy(&v, file + off, sizeof(v));
	return v;
}

static uint32_t header_u32(const uint8_t *file, size_t n, size_t off)
{
	uint32_t v = 0;

	if (off + sizeof(v) <= n)
		memcpy(&v, file + off, sizeof(v));
	return v;
}

static int count_visit(shpool_t *p, uint64_t idx, void *arg)
{
	uint64_t *last = arg;

	FUZZ_REQUIRE(idx < shpool_capacity(p), "each_allocated visited %llu",
		     (unsigned long long)idx);
	FUZZ_REQUIRE(*last == UINT64_MAX || idx > *last, "each_allocated out of order");
	*last = idx;
	return 0;
}

static void read_slot(shpool_t *p, uint64_t idx)
{
	char buf[64];
	const char *view;
	size_t len;
	int64_t i64;
	int32_t i32;
	double d;
	int rc;

	switch (shpool_kind_of(p)) {
	case SHPOOL_I64: rc = shpool_i64_get(p, idx, &i64); break;
	case SHPOOL_I32: rc = shpool_i32_get(p, idx, &i32); break;
	case SHPOOL_F64: rc = shpool_f64_get(p, idx, &d); break;
	case SHPOOL_STR:
		rc = shpool_str_view(p, idx, &view, &len);
		FUZZ_REQUIRE(rc != 0 || len <= shpool_str_max_len(p), "str_view length %zu", len);
		if (rc == 0)
			rc = shpool_str_get(p, idx, buf, sizeof(buf), &len);
		FUZZ_REQUIRE(rc == 0 || rc == -ENOENT || rc == -EUCLEAN || rc == -ENOSPC,
			     "str read: %d", rc);
		return;
	default:
		rc = shpool_get(p, idx, buf, shpool_elem_size(p) < sizeof(buf) ?
				shpool_elem_size(p) : sizeof(buf));
	}
	FUZZ_REQUIRE(rc == 0 || rc == -ENOENT, "typed read of slot %llu: %d",
		     (unsigned long long)idx, rc);
}

/* Use a pool whose shared state is whatever the input made it. */
static void use(shpool_t *p, int reset)
{
	uint64_t cap = shpool_capacity(p), out[8], last = UINT64_MAX;
	int64_t got[4], n;
	shpool_stats_t st;

	FUZZ_REQUIRE(shpool_used(p) <= cap, "used %llu > capacity",
		     (unsigned long long)shpool_used(p));
	for (int i = 0; i < 4; i++) {
		got[i] = shpool_alloc(p, 0);
		FUZZ_REQUIRE((got[i] >= 0 && (uint64_t)got[i] < cap) || got[i] == -EAGAIN ||
			     got[i] == -EUCLEAN, "alloc: %lld", (long long)got[i]);
		if (got[i] >= 0)
			read_slot(p, (uint64_t)got[i]);
	}
	read_slot(p, cap - 1);
	n = shpool_allocated_slots(p, out, 8);
	FUZZ_REQUIRE(n >= 0 && (uint64_t)n <= cap, "allocated_slots: %lld", (long long)n);
	FUZZ_REQUIRE(shpool_each_allocated(p, count_visit, &last) == 0, "each_allocated");
	FUZZ_REQUIRE(shpool_check(p, devnull) >= 0, "check");
	n = shpool_recover_stale(p);
	FUZZ_REQUIRE(n >= 0 && (uint64_t)n <= cap, "recover_stale: %lld", (long long)n);
	FUZZ_REQUIRE(shpool_stats(p, &st) == 0 && st.used <= cap, "stats");
	for (int i = 0; i < 4; i++)
		if (got[i] >= 0) {
			int rc = shpool_free(p, (uint64_t)got[i]);

			FUZZ_REQUIRE(rc == 0 || rc == -ENOENT, "free: %d", rc);
		}
	n = shpool_alloc_n(p, out, cap < 3 ? cap : 3, 0);
	FUZZ_REQUIRE(n == 0 || n == -EAGAIN || n == -EUCLEAN, "alloc_n: %lld", (long long)n);
	if (n == 0)
		FUZZ_REQUIRE(shpool_free_n(p, out, cap < 3 ? cap : 3) >= 0, "free_n");
	FUZZ_REQUIRE(shpool_free(p, cap) == -ERANGE, "free out of range");
	if (reset) {
		FUZZ_REQUIRE(shpool_reset(p) == 0, "reset");
		FUZZ_REQUIRE(shpool_check(p, NULL) == 0, "check after reset");
	}
}

/* A read-only handle on the same bytes: every read as in use() keeps its
 * bounds; every change is refused before it touches the (PROT_READ)
 * mapping, where it would fault. */
static void use_readonly(shpool_t *p)
{
	uint64_t cap = shpool_capacity(p), out[8], last = UINT64_MAX;
	shpool_stats_t st;
	int64_t n;

	FUZZ_REQUIRE(shpool_is_readonly(p) == 1, "not read-only");
	FUZZ_REQUIRE(shpool_used(p) <= cap, "used %llu > capacity",
		     (unsigned long long)shpool_used(p));
	n = shpool_allocated_slots(p, out, 8);
	FUZZ_REQUIRE(n >= 0 && (uint64_t)n <= cap, "allocated_slots: %lld", (long long)n);
	for (int64_t i = 0; i < n && i < 8; i++)
		read_slot(p, out[i]);
	read_slot(p, cap - 1);
	FUZZ_REQUIRE(shpool_each_allocated(p, count_visit, &last) == 0, "each_allocated");
	FUZZ_REQUIRE(shpool_check(p, devnull) >= 0, "check");
	FUZZ_REQUIRE(shpool_stats(p, &st) == 0 && st.used <= cap, "stats");
	FUZZ_REQUIRE(shpool_alloc(p, 0) == -EROFS, "read-only alloc");
	FUZZ_REQUIRE(shpool_free(p, 0) == -EROFS, "read-only free");
	FUZZ_REQUIRE(shpool_recover_stale(p) == -EROFS, "read-only recover_stale");
	FUZZ_REQUIRE(shpool_reset(p) == -EROFS, "read-only reset");
}

/* One attach: 0 and a handle, or -errno, no handle and a detail. */
static void attached(int rc, shpool_t *p, int reset)
{
	FUZZ_REQUIRE(rc <= 0, "attach returned %d", rc);
	if (rc < 0) {
		FUZZ_REQUIRE(!p, "a failed attach left a handle");
		FUZZ_REQUIRE(shpool_last_error()[0] != '\0', "attach %d without a detail", rc);
		return;
	}
	FUZZ_REQUIRE(p, "attach succeeded without a handle");
	if (shpool_is_readonly(p))
		use_readonly(p);
	else
		use(p, reset);
	shpool_close(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned opts = size ? data[0] : 0;
	const uint8_t *file = size ? data + 1 : data;
	size_t n = size ? size - 1 : 0;
	uint64_t claimed = header_u64(file, n, offsetof(struct shpool_header, total_size));
	uint64_t want = (opts & 1) && claimed <= MAX_CLAIMED_SIZE ? claimed : 0;

	if (memfd < 0)
		setup();
	load(memfd, file, n, want);
	if (opts & 6) {
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		FUZZ_REQUIRE(fd >= 0, "%s: %s", path, strerror(errno));
		load(fd, file, n, want);
		close(fd);
	}
	/* Every kind, any kind (0), and one that is none; read-only first,
	 * while the input is still as it came. */
	for (int kind = 0; kind <= 6; kind++) {
		shpool_t *p = NULL;
		int rc = shpool_attach_fd(&p, memfd, (shpool_kind)kind, SHPOOL_RDONLY);

		attached(rc, p, 0);
		p = NULL;
		rc = shpool_open_fd(&p, memfd, (shpool_kind)kind);
		attached(rc, p, opts & 8);
		if (opts & 2) {
			p = NULL;
			rc = shpool_open(&p, path, (shpool_kind)kind);
			attached(rc, p, opts & 8);
		}
		if (opts & 4) {
			p = NULL;
			rc = shpool_create(&p, path, (shpool_kind)kind,
					   header_u64(file, n, offsetof(struct shpool_header, capacity)),
					   header_u32(file, n, offsetof(struct shpool_header, elem_size)),
					   NULL);
			attached(rc, p, opts & 8);
		}
	}
	return 0;
}

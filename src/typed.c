/* SPDX-License-Identifier: MIT */
/*
 * Typed slots and data access.
 *
 * Every call resolves (handle, kind, index) to a slot the same way: the kind
 * is the handle's copy of the one recorded in the segment, the index is
 * checked against the handle's capacity, and the slot must be allocated
 * (its bitmap bit set) when the call runs. Geometry comes only from the
 * handle, never from shared memory, so nothing another process writes into
 * the segment can move an access outside its slot. The one value read from a
 * slot that bounds an access, a STR length, is read once and validated.
 *
 * I64, I32 and F64 slots are touched only through C11 atomics on the slot's
 * first bytes. The data region is page-aligned and strides are powers of two
 * >= 8 up to a cache line (doc/data-layout.md), so each value is naturally
 * aligned and never straddles a line: a plain lock-free hardware atomic.
 *
 * Memory order: every typed load, store and RMW is seq_cst. Users build
 * cross-process flags and counters from these, and one global order is the
 * contract nobody has to think twice about; on x86-64 it costs nothing over
 * acquire/release except on plain stores (an xchg instead of a mov).
 */
#include <inttypes.h>
#include <string.h>

#include "shpool-internal.h"

_Static_assert(sizeof(_Atomic int64_t) == 8 && _Alignof(_Atomic int64_t) == 8,
	       "I64 slots hold a naturally aligned 8-byte atomic");
_Static_assert(sizeof(_Atomic int32_t) == 4 && _Alignof(_Atomic int32_t) == 4,
	       "I32 slots hold a naturally aligned 4-byte atomic");
_Static_assert(sizeof(double) == sizeof(uint64_t), "F64 slots store a double's bits as a u64");
_Static_assert(ATOMIC_LONG_LOCK_FREE == 2, "int64_t may be long: it must be lock-free too");
_Static_assert(SHPOOL_STR_PREFIX >= sizeof(_Atomic uint32_t) && SHPOOL_STR_PREFIX % 8 == 0,
	       "the STR length fits its prefix and the bytes stay 8-aligned");

/* ---- resolving a slot --------------------------------------------------- */

/* The checks below run on every typed call: inline, with the failures
 * out of line, so a valid call costs a few compares around its atomic. */
static __attribute__((cold, noinline)) int kind_error(const struct shpool *p, shpool_kind want,
						      const char *fn)
{
	return shpool_fail(-EINVAL, "%s: pool kind is %s, this call needs %s", fn,
			   shpool_kind_label(p->g.kind), shpool_kind_label(want));
}

static inline int need_kind(const struct shpool *p, shpool_kind want, const char *fn)
{
	return __builtin_expect(p->g.kind == want, 1) ? 0 : kind_error(p, want, fn);
}

static __attribute__((cold, noinline)) int null_handle_error(const char *fn)
{
	return shpool_fail(-EINVAL, "%s: NULL pool handle", fn);
}

static __attribute__((cold, noinline)) int unallocated_error(uint64_t idx, const char *fn)
{
	return shpool_fail(-ENOENT, "%s: slot %" PRIu64 " is not allocated", fn, idx);
}

/* Slot idx exists and is allocated now. A snapshot, not a lock: the check
 * catches misuse (a stale or foreign index); it cannot stop a concurrent
 * free, which is the user's to order. */
static inline int need_allocated(const struct shpool *p, uint64_t idx, const char *fn)
{
	int rc = shpool_check_index(p, idx, fn);

	if (rc < 0)
		return rc;
	return __builtin_expect(shpool_slot_allocated(p, idx), 1) ? 0 : unallocated_error(idx, fn);
}

/* Why typed_slot() refused (idx, kind): the checks again, in order, to
 * name the first that fails. A slot freed or allocated in between still
 * reports what the fast check saw: not allocated. */
static __attribute__((cold, noinline)) int typed_slot_error(const struct shpool *p,
							    shpool_kind kind, uint64_t idx,
							    bool write, const char *fn)
{
	int rc;

	if (!p)
		return null_handle_error(fn);
	rc = need_kind(p, kind, fn);
	if (rc == 0 && write && shpool_readonly(p))
		rc = shpool_rdonly_error(fn);
	if (rc == 0)
		rc = need_allocated(p, idx, fn);
	return rc < 0 ? rc : unallocated_error(idx, fn);
}

/* The address of slot idx of a `kind` pool, after every check. The checks
 * are one branch and every failure one tail call, so a valid call keeps
 * the handle, index and operands in scratch registers and saves none: the
 * typed calls are leaf functions around their one atomic. A call that
 * writes (`write`, a constant) compares the kind with the handle's wkind,
 * which a read-only handle has set to no kind: the same one compare
 * refuses it, and typed_slot_error() tells why. */
static inline __attribute__((always_inline)) int typed_slot(struct shpool *p, shpool_kind kind,
							    uint64_t idx, bool write,
							    const char *fn, uint8_t **slot)
{
	int rc;

	if (__builtin_expect(p && (write ? p->wkind : p->g.kind) == kind && idx < p->g.capacity &&
				     shpool_slot_allocated(p, idx),
			     1)) {
		/* kind is a constant at every (inlined) call: the choice folds
		 * away. */
		*slot = kind == SHPOOL_STR ? shpool_slot(p, idx) : shpool_numeric_slot(p, idx);
		return 0;
	}
	rc = typed_slot_error(p, kind, idx, write, fn);
	/* Always < 0: said here so the caller's error branch folds into the
	 * tail call above instead of keeping its operands alive across it. */
	if (rc >= 0)
		__builtin_unreachable();
	return rc;
}

static int null_arg(const char *fn, const char *what)
{
	return shpool_fail(-EINVAL, "%s: %s is NULL", fn, what);
}

/* ---- raw pointers ----------------------------------------------------- */

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

/* ---- get/set: bytes ----------------------------------------------------
 *
 * RAW: any len up to elem_size, a plain copy. I64/I32/F64: the value's
 * native bytes, whole (len == elem_size) or nothing (len == 0), moved with
 * one atomic load or store so they mix safely with the typed calls. STR is
 * refused: its slot begins with the length prefix, which a byte copy would
 * bypass.
 */

static int bytes_args(const struct shpool *p, const void *buf, size_t len, const char *fn)
{
	if (!p)
		return shpool_fail(-EINVAL, "%s: NULL pool handle", fn);
	if (p->g.kind == SHPOOL_STR)
		return shpool_fail(-EINVAL, "%s: pool kind is STR, this call needs RAW, I64, I32 "
				   "or F64 (use shpool_str_*: a STR slot starts with its length)",
				   fn);
	if (len && !buf)
		return shpool_fail(-EINVAL, "%s: buf is NULL with len %zu", fn, len);
	if (len > p->g.elem_size)
		return shpool_fail(-E2BIG, "%s: len %zu exceeds elem_size %" PRIu32, fn, len,
				   p->g.elem_size);
	if (p->g.kind != SHPOOL_RAW && len != 0 && len != p->g.elem_size)
		return shpool_fail(-EINVAL, "%s: %s values move whole: len must be %" PRIu32
				   " (or 0), not %zu", fn, shpool_kind_label(p->g.kind),
				   p->g.elem_size, len);
	return 0;
}

/* The slot of a get/set call: bytes_args() first, then index and bitmap. */
static int bytes_slot(struct shpool *p, uint64_t idx, const void *buf, size_t len,
		      const char *fn, uint8_t **slot)
{
	int rc = bytes_args(p, buf, len, fn);

	if (rc == 0)
		rc = need_allocated(p, idx, fn);
	if (rc < 0)
		return rc;
	*slot = shpool_slot(p, idx);
	return 0;
}

static void bytes_load(const struct shpool *p, uint8_t *slot, void *buf, size_t len)
{
	uint64_t v64;
	uint32_t v32;

	if (len == 0)
		return;
	switch (p->g.kind) {
	case SHPOOL_I64:
	case SHPOOL_F64:
		/* seq_cst: as every typed access (see the top of this file). */
		v64 = atomic_load((_Atomic uint64_t *)slot);
		memcpy(buf, &v64, sizeof(v64));
		break;
	case SHPOOL_I32:
		/* seq_cst: as every typed access. */
		v32 = atomic_load((_Atomic uint32_t *)slot);
		memcpy(buf, &v32, sizeof(v32));
		break;
	default:
		/* memmove: buf may point into the pool itself. */
		memmove(buf, slot, len);
	}
}

static int bytes_store(const struct shpool *p, uint8_t *slot, const void *buf, size_t len)
{
	uint64_t v64;
	uint32_t v32;

	if (len == 0)
		return 0;
	switch (p->g.kind) {
	case SHPOOL_I64:
	case SHPOOL_F64:
		memcpy(&v64, buf, sizeof(v64));
		/* seq_cst: as every typed access. */
		atomic_store((_Atomic uint64_t *)slot, v64);
		break;
	case SHPOOL_I32:
		memcpy(&v32, buf, sizeof(v32));
		/* seq_cst: as every typed access. */
		atomic_store((_Atomic uint32_t *)slot, v32);
		break;
	default:
		memmove(slot, buf, len);
	}
	return 0;
}

int shpool_get(shpool_t *p, uint64_t idx, void *buf, size_t len)
{
	uint8_t *slot = NULL;
	int rc = bytes_slot(p, idx, buf, len, __func__, &slot);

	if (rc < 0)
		return rc;
	bytes_load(p, slot, buf, len);
	return 0;
}

int shpool_set(shpool_t *p, uint64_t idx, const void *buf, size_t len)
{
	uint8_t *slot = NULL;
	int rc = bytes_slot(p, idx, buf, len, __func__, &slot);

	if (rc == 0 && shpool_readonly(p))
		rc = shpool_rdonly_error(__func__);
	if (rc < 0)
		return rc;
	return bytes_store(p, slot, buf, len);
}

/* ---- I64 and I32 ------------------------------------------------------- */

/*
 * One family per width. Arithmetic wraps (two's complement): the atomic
 * fetch_add is defined to, and the new value handed back is computed in the
 * unsigned type so it wraps the same way instead of overflowing.
 */
#define SHPOOL_INT_FAMILY(T, UT, name, KIND)                                                  \
SHPOOL_FAST_PATH int shpool_##name##_get(shpool_t *p, uint64_t idx, T *value)                 \
{                                                                                             \
	uint8_t *slot = NULL;                                                                 \
	int rc = typed_slot(p, KIND, idx, false, __func__, &slot);                            \
                                                                                              \
	if (rc < 0)                                                                           \
		return rc;                                                                    \
	if (!value)                                                                           \
		return null_arg(__func__, "value");                                           \
	/* seq_cst: as every typed access (top of file). */                                   \
	*value = atomic_load((_Atomic T *)slot);                                              \
	return 0;                                                                             \
}                                                                                             \
                                                                                              \
SHPOOL_FAST_PATH int shpool_##name##_set(shpool_t *p, uint64_t idx, T value)                  \
{                                                                                             \
	uint8_t *slot = NULL;                                                                 \
	int rc = typed_slot(p, KIND, idx, true, __func__, &slot);                             \
                                                                                              \
	if (rc < 0)                                                                           \
		return rc;                                                                    \
	/* seq_cst: as every typed access. */                                                 \
	atomic_store((_Atomic T *)slot, value);                                               \
	return 0;                                                                             \
}                                                                                             \
                                                                                              \
SHPOOL_FAST_PATH                                                                              \
int shpool_##name##_cmpxchg(shpool_t *p, uint64_t idx, T expected, T desired, T *old)         \
{                                                                                             \
	uint8_t *slot = NULL;                                                                 \
	int rc = typed_slot(p, KIND, idx, true, __func__, &slot);                             \
	bool swapped;                                                                         \
                                                                                              \
	if (rc < 0)                                                                           \
		return rc;                                                                    \
	/* seq_cst on success and failure: as every typed access; strong, so a                \
	 * 0 return means the value really differed. */                                       \
	swapped = atomic_compare_exchange_strong((_Atomic T *)slot, &expected, desired);      \
	if (old)                                                                              \
		*old = expected;                                                              \
	return swapped;                                                                       \
}                                                                                             \
                                                                                              \
SHPOOL_FAST_PATH int shpool_##name##_cas(shpool_t *p, uint64_t idx, T expected, T desired)    \
{                                                                                             \
	uint8_t *slot = NULL;                                                                 \
	int rc = typed_slot(p, KIND, idx, true, __func__, &slot);                             \
                                                                                              \
	if (rc < 0)                                                                           \
		return rc;                                                                    \
	/* seq_cst, strong: as cmpxchg. */                                                    \
	return atomic_compare_exchange_strong((_Atomic T *)slot, &expected, desired);         \
}                                                                                             \
                                                                                              \
SHPOOL_FAST_PATH int shpool_##name##_xchg(shpool_t *p, uint64_t idx, T value, T *old)         \
{                                                                                             \
	uint8_t *slot = NULL;                                                                 \
	int rc = typed_slot(p, KIND, idx, true, __func__, &slot);                             \
	T was;                                                                                \
                                                                                              \
	if (rc < 0)                                                                           \
		return rc;                                                                    \
	/* seq_cst: as every typed access. */                                                 \
	was = atomic_exchange((_Atomic T *)slot, value);                                      \
	if (old)                                                                              \
		*old = was;                                                                   \
	return 0;                                                                             \
}                                                                                             \
                                                                                              \
SHPOOL_FAST_PATH int shpool_##name##_add(shpool_t *p, uint64_t idx, T delta, T *new_value)    \
{                                                                                             \
	uint8_t *slot = NULL;                                                                 \
	int rc = typed_slot(p, KIND, idx, true, __func__, &slot);                             \
	T was;                                                                                \
                                                                                              \
	if (rc < 0)                                                                           \
		return rc;                                                                    \
	/* seq_cst: as every typed access; an RMW orders like a lock. */                      \
	was = atomic_fetch_add((_Atomic T *)slot, delta);                                     \
	if (new_value)                                                                        \
		*new_value = (T)((UT)was + (UT)delta);                                        \
	return 0;                                                                             \
}                                                                                             \
                                                                                              \
int shpool_##name##_incr(shpool_t *p, uint64_t idx, T *new_value)                             \
{                                                                                             \
	return shpool_##name##_add(p, idx, 1, new_value);                                     \
}                                                                                             \
                                                                                              \
int shpool_##name##_decr(shpool_t *p, uint64_t idx, T *new_value)                             \
{                                                                                             \
	return shpool_##name##_add(p, idx, -1, new_value);                                    \
}

SHPOOL_INT_FAMILY(int64_t, uint64_t, i64, SHPOOL_I64)
SHPOOL_INT_FAMILY(int32_t, uint32_t, i32, SHPOOL_I32)

/* ---- F64 --------------------------------------------------------------- */

/* A double's bits go through an atomic u64: single-copy atomic (never torn),
 * and exact: NaN payloads, -0.0 and infinities round-trip bit for bit. */

SHPOOL_FAST_PATH int shpool_f64_get(shpool_t *p, uint64_t idx, double *value)
{
	uint8_t *slot = NULL;
	uint64_t bits;
	int rc = typed_slot(p, SHPOOL_F64, idx, false, __func__, &slot);

	if (rc < 0)
		return rc;
	if (!value)
		return null_arg(__func__, "value");
	/* seq_cst: as every typed access. */
	bits = atomic_load((_Atomic uint64_t *)slot);
	memcpy(value, &bits, sizeof(*value));
	return 0;
}

static int f64_store(uint8_t *slot, double value)
{
	uint64_t bits;

	memcpy(&bits, &value, sizeof(bits));
	/* seq_cst: as every typed access. */
	atomic_store((_Atomic uint64_t *)slot, bits);
	return 0;
}

SHPOOL_FAST_PATH int shpool_f64_set(shpool_t *p, uint64_t idx, double value)
{
	uint8_t *slot = NULL;
	int rc = typed_slot(p, SHPOOL_F64, idx, true, __func__, &slot);

	return rc < 0 ? rc : f64_store(slot, value);
}

/* ---- STR ---------------------------------------------------------------
 *
 * Slot: an atomic u32 length, 4 bytes of padding, then max_len bytes (the
 * pool's elem_size). The length is stored after the bytes, with release,
 * and read once, with acquire, into a local that is checked against the
 * handle's max_len before it bounds anything: a torn or hostile prefix can
 * fail a call (-EUCLEAN) but never move a read past the slot. The bytes
 * themselves are not atomic: a read racing a writer of the same slot may see
 * a mix of old and new bytes (within the validated length); ordering writers
 * against readers of one slot is the user's job.
 */

static _Atomic uint32_t *str_len_word(uint8_t *slot)
{
	return (_Atomic uint32_t *)slot;
}

static int str_len_load(const struct shpool *p, uint8_t *slot, uint64_t idx, const char *fn,
			uint32_t *len)
{
	/* acquire: pairs with the release in str_store(), so the bytes stored
	 * before this length are visible (unless a later writer is at work). */
	uint32_t n = atomic_load_explicit(str_len_word(slot), memory_order_acquire);

	if (n > p->g.elem_size)
		return shpool_fail(-EUCLEAN, "%s: slot %" PRIu64 ": stored length %" PRIu32
				   " exceeds max_len %" PRIu32 " (damaged)", fn, idx, n,
				   p->g.elem_size);
	*len = n;
	return 0;
}

/* The string of a str_set/alloc_set_str call, once handle and kind are
 * known good (a wrong kind is the error to report, whatever the length). */
static int str_args(const struct shpool *p, const char *s, size_t len, const char *fn)
{
	if (len && !s)
		return shpool_fail(-EINVAL, "%s: s is NULL with len %zu", fn, len);
	if (len > p->g.elem_size)
		return shpool_fail(-E2BIG, "%s: string of %zu bytes exceeds max_len %" PRIu32, fn,
				   len, p->g.elem_size);
	return 0;
}

static int str_store(uint8_t *slot, const char *s, size_t len)
{
	/* memmove: s may be a view of this very slot. */
	if (len)
		memmove(slot + SHPOOL_STR_PREFIX, s, len);
	/* release: publishes the bytes to readers (str_len_load()). */
	atomic_store_explicit(str_len_word(slot), (uint32_t)len, memory_order_release);
	return 0;
}

int shpool_str_get(shpool_t *p, uint64_t idx, char *buf, size_t buflen, size_t *len)
{
	uint8_t *slot = NULL;
	uint32_t n = 0;
	int rc = typed_slot(p, SHPOOL_STR, idx, false, __func__, &slot);

	if (rc < 0)
		return rc;
	if (buflen && !buf)
		return shpool_fail(-EINVAL, "%s: buf is NULL with buflen %zu", __func__, buflen);
	rc = str_len_load(p, slot, idx, __func__, &n);
	if (rc < 0)
		return rc;
	if (len)
		*len = n;
	if (buflen <= n)
		return shpool_fail(-ENOSPC, "%s: slot %" PRIu64 " holds %" PRIu32 " bytes; a "
				   "buffer of %zu cannot take them and a NUL", __func__, idx, n,
				   buflen);
	memcpy(buf, slot + SHPOOL_STR_PREFIX, n);
	buf[n] = '\0';
	return 0;
}

int shpool_str_set(shpool_t *p, uint64_t idx, const char *s, size_t len)
{
	uint8_t *slot = NULL;
	int rc = typed_slot(p, SHPOOL_STR, idx, true, __func__, &slot);

	if (rc == 0)
		rc = str_args(p, s, len, __func__);
	return rc < 0 ? rc : str_store(slot, s, len);
}

int shpool_str_view(shpool_t *p, uint64_t idx, const char **s, size_t *len)
{
	uint8_t *slot = NULL;
	uint32_t n = 0;
	int rc = typed_slot(p, SHPOOL_STR, idx, false, __func__, &slot);

	if (rc < 0)
		return rc;
	if (!s || !len)
		return null_arg(__func__, !s ? "s" : "len");
	rc = str_len_load(p, slot, idx, __func__, &n);
	if (rc < 0)
		return rc;
	*s = (const char *)slot + SHPOOL_STR_PREFIX;
	*len = n;
	return 0;
}

size_t shpool_str_max_len(shpool_t *p)
{
	return p ? p->g.elem_size : 0;
}

/* ---- allocate and store ------------------------------------------------
 *
 * Every argument is checked before the allocation, so the common errors
 * never touch the pool. The store then goes straight to the slot just
 * claimed (no second bitmap check: a concurrent free of a slot we hold is
 * someone else's bug, and freeing "our" slot after it would free theirs).
 * Should the store still fail, the slot is freed before returning.
 */

struct store_arg {
	const void *buf;
	size_t len;
	union {
		int64_t i64;
		int32_t i32;
		double f64;
	} v;
};

typedef int store_fn(struct shpool *p, uint8_t *slot, const struct store_arg *a);

static int64_t alloc_store(struct shpool *p, int timeout_ms, store_fn *store,
			   const struct store_arg *a, const char *fn)
{
	int64_t idx;
	int rc;

	if (shpool_readonly(p))
		return shpool_rdonly_error(fn);
	idx = shpool_alloc(p, timeout_ms);
	if (idx < 0)
		return idx;
	rc = SHPOOL_FAULT_POINT("alloc_set.store");
	if (rc == 0)
		rc = store(p, shpool_slot(p, (uint64_t)idx), a);
	if (rc < 0) {
		/* Cannot fail: we hold the slot. (If it did, the store's
		 * error is still the one to report.) */
		shpool_free(p, (uint64_t)idx);
		return rc;
	}
	return idx;
}

static int store_bytes(struct shpool *p, uint8_t *slot, const struct store_arg *a)
{
	return bytes_store(p, slot, a->buf, a->len);
}

static int store_i64(struct shpool *p, uint8_t *slot, const struct store_arg *a)
{
	(void)p;
	/* seq_cst: as every typed access. */
	atomic_store((_Atomic int64_t *)slot, a->v.i64);
	return 0;
}

static int store_i32(struct shpool *p, uint8_t *slot, const struct store_arg *a)
{
	(void)p;
	/* seq_cst: as every typed access. */
	atomic_store((_Atomic int32_t *)slot, a->v.i32);
	return 0;
}

static int store_f64(struct shpool *p, uint8_t *slot, const struct store_arg *a)
{
	(void)p;
	return f64_store(slot, a->v.f64);
}

static int store_str(struct shpool *p, uint8_t *slot, const struct store_arg *a)
{
	(void)p;
	return str_store(slot, a->buf, a->len);
}

/* Handle and kind, for the typed alloc_set calls. */
static int alloc_kind(const struct shpool *p, shpool_kind kind, const char *fn)
{
	if (!p)
		return shpool_fail(-EINVAL, "%s: NULL pool handle", fn);
	return need_kind(p, kind, fn);
}

int64_t shpool_alloc_set(shpool_t *p, const void *buf, size_t len, int timeout_ms)
{
	struct store_arg a = { .buf = buf, .len = len };
	int rc = bytes_args(p, buf, len, __func__);

	return rc < 0 ? rc : alloc_store(p, timeout_ms, store_bytes, &a, __func__);
}

int64_t shpool_alloc_set_i64(shpool_t *p, int64_t value, int timeout_ms)
{
	struct store_arg a = { .v.i64 = value };
	int rc = alloc_kind(p, SHPOOL_I64, __func__);

	return rc < 0 ? rc : alloc_store(p, timeout_ms, store_i64, &a, __func__);
}

int64_t shpool_alloc_set_i32(shpool_t *p, int32_t value, int timeout_ms)
{
	struct store_arg a = { .v.i32 = value };
	int rc = alloc_kind(p, SHPOOL_I32, __func__);

	return rc < 0 ? rc : alloc_store(p, timeout_ms, store_i32, &a, __func__);
}

int64_t shpool_alloc_set_f64(shpool_t *p, double value, int timeout_ms)
{
	struct store_arg a = { .v.f64 = value };
	int rc = alloc_kind(p, SHPOOL_F64, __func__);

	return rc < 0 ? rc : alloc_store(p, timeout_ms, store_f64, &a, __func__);
}

int64_t shpool_alloc_set_str(shpool_t *p, const char *s, size_t len, int timeout_ms)
{
	struct store_arg a = { .buf = s, .len = len };
	int rc = alloc_kind(p, SHPOOL_STR, __func__);

	if (rc == 0)
		rc = str_args(p, s, len, __func__);
	return rc < 0 ? rc : alloc_store(p, timeout_ms, store_str, &a, __func__);
}


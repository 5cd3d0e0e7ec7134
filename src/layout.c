/* SPDX-License-Identifier: MIT */
/*
 * The segment format, in one place: the layout computed from a pool's
 * creation parameters, the header written and validated, and the pins that
 * fix every shared field's offset on every ABI (doc/data-layout.md).
 *
 * The header is never trusted: attach recomputes the whole layout from
 * (kind, capacity, elem_size, flags) and requires every stored field to
 * match, then uses only its own computed copy.
 */
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "shpool-internal.h"

/* ---- kinds ---------------------------------------------------------------- */

/* The one table of kind names: the public lower-case name
 * (shpool_kind_name()), and the upper-case label error messages use. */
static const struct {
	const char *name, *label;
} kind_names[] = {
	[SHPOOL_RAW] = { "raw", "RAW" },
	[SHPOOL_I64] = { "i64", "I64" },
	[SHPOOL_I32] = { "i32", "I32" },
	[SHPOOL_F64] = { "f64", "F64" },
	[SHPOOL_STR] = { "str", "STR" },
};

static bool kind_known(uint32_t kind)
{
	return kind < sizeof(kind_names) / sizeof(kind_names[0]) && kind_names[kind].name;
}

const char *shpool_kind_name(shpool_kind kind)
{
	return kind_known((uint32_t)kind) ? kind_names[kind].name : NULL;
}

const char *shpool_kind_label(uint32_t kind)
{
	return kind_known(kind) ? kind_names[kind].label : "unknown";
}

/* ---- the layout ----------------------------------------------------------- */

/* Typed kinds imply their element size; 0 or the natural size is accepted. */
static int kind_elem_size(shpool_kind kind, uint32_t elem_size, uint32_t *out)
{
	uint32_t natural;

	switch (kind) {
	case SHPOOL_RAW:
	case SHPOOL_STR:
		if (elem_size == 0 || elem_size > SHPOOL_MAX_ELEM_SIZE)
			return shpool_fail(-EINVAL, "%s: elem_size %" PRIu32
					   " out of range (1..%" PRIu32 ")",
					   shpool_kind_label(kind), elem_size, SHPOOL_MAX_ELEM_SIZE);
		*out = elem_size;
		return 0;
	case SHPOOL_I64:
	case SHPOOL_F64:
		natural = 8;
		break;
	case SHPOOL_I32:
		natural = 4;
		break;
	case SHPOOL_ANY_KIND:
		return shpool_fail(-EINVAL, "SHPOOL_ANY_KIND only attaches: a new pool needs "
				   "its kind (SHPOOL_RAW, SHPOOL_I64, ...)");
	default:
		return shpool_fail(-EINVAL, "unknown pool kind %d", (int)kind);
	}
	if (elem_size != 0 && elem_size != natural)
		return shpool_fail(-EINVAL, "%s: elem_size is implied (%" PRIu32
				   "); pass 0, not %" PRIu32, shpool_kind_label(kind), natural,
				   elem_size);
	*out = natural;
	return 0;
}

/* The n lowest bits set, 1 <= n <= 64. */
static uint64_t low_bits(uint64_t n)
{
	return n >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << n) - 1;
}

/* Slots of at most a cache line are a power of two (>= 8) so that no slot
 * straddles a line; larger ones are whole lines. */
static uint32_t stride_for(uint32_t slot_bytes)
{
	uint32_t s = 8;

	if (slot_bytes > SHPOOL_CACHELINE)
		return (uint32_t)shpool_round_up(slot_bytes, SHPOOL_CACHELINE);
	while (s < slot_bytes)
		s <<= 1;
	return s;
}

/* Small pools use narrower bitmap words so that their slots still spread
 * over several cache lines (at least 8 words when capacity allows). */
static uint32_t word_shift_for(uint64_t capacity)
{
	uint32_t shift = 3;

	while (shift < 6 && (capacity >> (shift + 1)) >= 8)
		shift++;
	return shift;
}

int shpool_layout_compute(struct shpool_layout *g, shpool_kind kind, uint64_t capacity,
			  uint32_t elem_size, uint32_t flags)
{
	uint64_t off, data_bytes, nw;
	uint32_t slot_bytes;
	int rc;

	memset(g, 0, sizeof(*g));
	rc = kind_elem_size(kind, elem_size, &g->elem_size);
	if (rc < 0)
		return rc;
	if (capacity == 0 || capacity > SHPOOL_MAX_CAPACITY)
		return shpool_fail(-EINVAL, "capacity %" PRIu64 " out of range (1..%" PRIu64 ")",
				   capacity, SHPOOL_MAX_CAPACITY);
	if (flags & ~(SHPOOL_NO_ZERO | SHPOOL_NOTIFY_ON_FREE))
		return shpool_fail(-EINVAL, "unknown flags 0x%x",
				   flags & ~(SHPOOL_NO_ZERO | SHPOOL_NOTIFY_ON_FREE));
	g->kind = kind;
	g->capacity = capacity;
	g->flags = flags;
	slot_bytes = g->elem_size + (kind == SHPOOL_STR ? SHPOOL_STR_PREFIX : 0);
	g->stride = stride_for(slot_bytes); /* 8 for every numeric kind */
	g->word_shift = word_shift_for(capacity);

	nw = (capacity + (UINT64_C(1) << g->word_shift) - 1) >> g->word_shift;
	g->nwords[0] = nw;
	g->nlevels = 1;
	while (nw > 1) {
		nw = (nw + 63) / 64;
		g->nwords[g->nlevels++] = nw;
	}
	g->word_mask = low_bits(UINT64_C(1) << g->word_shift);
	g->bit_index_mask = (UINT32_C(1) << g->word_shift) - 1;
	g->last_mask[0] = low_bits(capacity - ((g->nwords[0] - 1) << g->word_shift));
	for (uint32_t l = 1; l < g->nlevels; l++)
		g->last_mask[l] = low_bits(g->nwords[l - 1] - (g->nwords[l] - 1) * 64);

	off = 128;
	g->off_state = off;
	off += sizeof(struct shpool_state);
	g->l0_shift = g->nwords[0] <= SHPOOL_SPREAD_WORDS ? 3 : 0; /* 8 u64s: a line */
	g->off_level[0] = off;
	off += shpool_round_up((g->nwords[0] << g->l0_shift) * 8, SHPOOL_CACHELINE);
	for (uint32_t l = 1; l < g->nlevels; l++) {
		g->off_level[l] = off;
		off += shpool_round_up(g->nwords[l] * 8, SHPOOL_CACHELINE);
	}
	g->off_owner = off;
	off += shpool_round_up(capacity * 8, SHPOOL_CACHELINE);
	/* Page-aligned data, so zero-copy users get aligned buffers. */
	g->off_data = shpool_round_up(off, SHPOOL_PAGE);
	/* capacity <= 2^32 and stride <= 2^30 + 64, so this cannot overflow,
	 * but the check keeps it honest if the limits ever move. */
	if (__builtin_mul_overflow(capacity, (uint64_t)g->stride, &data_bytes) ||
	    __builtin_add_overflow(g->off_data, data_bytes, &g->total_size) ||
	    shpool_round_up(g->total_size, SHPOOL_PAGE) > SHPOOL_MAX_MAPPING)
		return shpool_fail(-ENOMEM, "pool of %" PRIu64 " slots of %" PRIu32
				   " bytes is larger than the address space allows (%s: at most "
				   "%" PRIu64 " bytes)", capacity, g->stride,
				   sizeof(size_t) < 8 ? "a 32-bit process" : "any mapping",
				   SHPOOL_MAX_MAPPING);
	g->total_size = shpool_round_up(g->total_size, SHPOOL_PAGE);
	return 0;
}


/* ---- the header ------------------------------------------------------------ */

static void header_fill(struct shpool_header *h, const struct shpool_layout *g)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, SHPOOL_MAGIC, sizeof(h->magic));
	h->version = SHPOOL_LAYOUT_VERSION;
	h->header_size = sizeof(*h);
	h->kind = g->kind;
	h->elem_size = g->elem_size;
	h->capacity = g->capacity;
	h->flags = g->flags;
	h->stride = g->stride;
	h->word_shift = g->word_shift;
	h->nlevels = g->nlevels;
	h->off_state = g->off_state;
	memcpy(h->off_level, g->off_level, sizeof(h->off_level));
	h->off_owner = g->off_owner;
	h->off_data = g->off_data;
	h->total_size = g->total_size;
}

/* Validate a header read from an untrusted segment of `size` bytes: every
 * field must equal what the layout computes from kind/capacity/elem_size. */
int shpool_header_validate(const struct shpool_header *h, uint64_t size, const char *name,
			   shpool_kind want_kind, uint64_t hpage, struct shpool_layout *g)
{
	struct shpool_header expect;
	int rc;

	if (memcmp(h->magic, SHPOOL_MAGIC, sizeof(h->magic)) != 0)
		return shpool_fail(-EBADMSG, "%s: not a libshpool segment (bad magic)", name);
	if (h->version != SHPOOL_LAYOUT_VERSION)
		return shpool_fail(-EPROTONOSUPPORT, "%s: segment layout version %" PRIu32
				   ", this library reads version %u", name, h->version,
				   SHPOOL_LAYOUT_VERSION);
	if (want_kind == SHPOOL_ANY_KIND && !kind_known(h->kind))
		return shpool_fail(-EBADMSG, "%s: segment has unknown kind %" PRIu32 " (a newer "
				   "library's pool, or a damaged header)", name, h->kind);
	if (want_kind != SHPOOL_ANY_KIND && h->kind != (uint32_t)want_kind)
		return shpool_fail(-EINVAL, "%s: kind mismatch: segment has %s, asked %s", name,
				   shpool_kind_label(h->kind), shpool_kind_label(want_kind));
	rc = shpool_layout_compute(g, (shpool_kind)h->kind, h->capacity, h->elem_size, h->flags);
	if (rc == -ENOMEM) /* a whole pool, too large for this process to map */
		return shpool_fail(rc, "%s: %s", name, shpool_last_error());
	if (rc < 0)
		return shpool_fail(-EBADMSG, "%s: corrupt header: %s", name, shpool_last_error());
	header_fill(&expect, g);
	if (memcmp(&expect, h, sizeof(expect)) != 0)
		return shpool_fail(-EBADMSG, "%s: corrupt header: stored layout does not match "
				   "its own geometry", name);
	/* On hugetlbfs a file is whole huge pages: the layout's size rounded
	 * up (the header keeps the layout's own size, the same everywhere). */
	if (size != (hpage ? shpool_round_up(g->total_size, hpage) : g->total_size))
		return shpool_fail(-EBADMSG, "%s: size mismatch: segment has %" PRIu64
				   " bytes, its header needs %" PRIu64 "%s (truncated?)",
				   name, size, g->total_size,
				   hpage ? " rounded up to whole huge pages" : "");
	return 0;
}

void shpool_header_write(uint8_t *base, const struct shpool_layout *g)
{
	struct shpool_header h;

	/* The rest of a fresh mapping is zero, which is the empty pool. The
	 * magic goes last: a reader that takes no initialisation lock (one
	 * attaching by fd) and finds it finds the whole header. */
	header_fill(&h, g);
	memcpy(base + sizeof(h.magic), (const uint8_t *)&h + sizeof(h.magic),
	       sizeof(h) - sizeof(h.magic));
	atomic_thread_fence(memory_order_release);
	memcpy(base, h.magic, sizeof(h.magic));
}


/* ---- layout pins ----------------------------------------------------------- */

/*
 * Layout pins: the byte offset and size of every field of every
 * structure that lives in the shared segment, checked at compile time on
 * every architecture the library is built for.
 *
 * A segment is shared by every process that maps it, and those processes
 * need not share an ABI: a 32-bit (i386) and a 64-bit (amd64) program on one
 * machine map the same pool (.ci/steps/60-cross.sh proves it). Their
 * compilers agree on where a field is only because every field here is
 * placed explicitly: fixed-width types, explicit padding, no tail padding,
 * nothing whose offset follows from the ABI's alignment rules. The rules do
 * differ: i386 aligns a plain uint64_t struct field to 4 bytes, and GCC
 * 11.1 changed the alignment of an _Atomic uint64_t field on i386 from 4 to
 * 8 bytes (its -Wpsabi note). Neither moves a field of today's layout, and
 * these pins make sure no later change or compiler does so silently: an
 * edit that moves a field fails the build here until the numbers below,
 * doc/data-layout.md ("The header and the shared state") and
 * SHPOOL_LAYOUT_VERSION are changed with it.
 *
 * The pins are only _Static_asserts: the numbers are the documented
 * layout, written out, never derived from the structs.
 */

/* Field F of struct S: at byte OFF, SIZE bytes long. */
#define PIN(S, F, OFF, SIZE)                                                       \
	_Static_assert(offsetof(struct S, F) == (OFF), #S "." #F " is at byte " #OFF); \
	_Static_assert(sizeof(((struct S *)0)->F) == (SIZE), #S "." #F " is " #SIZE " bytes")
/* Struct S: SIZE bytes, so an array of S or what follows S is where the
 * layout says. */
#define PIN_SIZE(S, SIZE) _Static_assert(sizeof(struct S) == (SIZE), "struct " #S " is " #SIZE " bytes")

/* ---- the words everything is made of ------------------------------------ */
_Static_assert(sizeof(uint64_t) == 8 && sizeof(uint32_t) == 4, "fixed-width words");
/* Only sizes: _Alignof(_Atomic uint64_t) is what GCC's i386 note is about
 * (an _Atomic uint64_t field is placed on 8 bytes, but a struct holding
 * one is only 4-aligned). The offsets below put every 64-bit word on a
 * multiple of 8 from a line-aligned start instead. */
_Static_assert(sizeof(_Atomic uint64_t) == 8, "a shared 64-bit word is 8 bytes");
_Static_assert(sizeof(_Atomic uint32_t) == 4 && _Alignof(_Atomic uint32_t) == 4,
	       "a shared 32-bit word is a naturally aligned 4-byte atomic");
_Static_assert(SHPOOL_CACHELINE == 64, "regions start on 64-byte lines");

/* ---- [0, 128): struct shpool_header ------------------------------------- */
PIN_SIZE(shpool_header, 128);
PIN(shpool_header, magic, 0, 8);
PIN(shpool_header, version, 8, 4);
PIN(shpool_header, header_size, 12, 4);
PIN(shpool_header, kind, 16, 4);
PIN(shpool_header, elem_size, 20, 4);
PIN(shpool_header, capacity, 24, 8);
PIN(shpool_header, flags, 32, 4);
PIN(shpool_header, stride, 36, 4);
PIN(shpool_header, word_shift, 40, 4);
PIN(shpool_header, nlevels, 44, 4);
PIN(shpool_header, off_state, 48, 8);
PIN(shpool_header, off_level, 56, 48);
PIN(shpool_header, off_owner, 104, 8);
PIN(shpool_header, off_data, 112, 8);
PIN(shpool_header, total_size, 120, 8);
_Static_assert(SHPOOL_MAX_LEVELS == 6, "off_level has 6 entries");
_Static_assert(sizeof(SHPOOL_MAGIC) - 1 == 8, "the magic fills its 8 bytes");

/* ---- off_state = 128: struct shpool_state, layout version 3 ------------- */
_Static_assert(SHPOOL_LAYOUT_VERSION == 3, "these pins describe layout version 3");
PIN_SIZE(shpool_state, 5248);
PIN(shpool_state, wake_seq, 0, 4); /* the futex word: 4 bytes on every ABI */
PIN(shpool_state, waiters, 4, 4);
PIN(shpool_state, pad, 8, 56);
PIN(shpool_state, stripe, 64, 4096);
PIN(shpool_state, overflow, 4160, 64);
PIN(shpool_state, waitreg, 4224, 1024);
_Static_assert(SHPOOL_STRIPES == 64 && SHPOOL_WAITREG == 64, "64 stripes, 64 registry entries");

/* Each stripe on a line of its own (the state starts on one, at 128). */
PIN_SIZE(shpool_stripe, 64);
PIN(shpool_stripe, count, 0, 48);
_Static_assert(SHPOOL_NSTATS == 6, "count[]: allocs, frees, waits, timeouts, recoveries, "
	       "reset_frees");
PIN(shpool_stripe, who, 48, 8);
PIN(shpool_stripe, pad, 56, 8);

PIN_SIZE(shpool_waitreg, 16);
PIN(shpool_waitreg, who, 0, 8);
PIN(shpool_waitreg, count, 8, 4);
PIN(shpool_waitreg, pad, 12, 4);

/* The state is whole lines, so the bitmap after it starts on a line; the
 * structs never need more alignment than the line they start on. */
_Static_assert(sizeof(struct shpool_state) % SHPOOL_CACHELINE == 0, "the state is whole lines");
_Static_assert(_Alignof(struct shpool_state) <= SHPOOL_CACHELINE &&
	       _Alignof(struct shpool_header) <= SHPOOL_CACHELINE, "no alignment beyond a line");

/* ---- bitmap, summary levels, owner records: arrays of 64-bit words ------ */
/* An owner record: pid in bits 0-21, a 2-bit tag in 22-23, start time in
 * 24-63 (identity.c). */
_Static_assert(SHPOOL_OWNER_PID_BITS == 22 && SHPOOL_OWNER_TAG_SHIFT == 22 &&
	       SHPOOL_OWNER_START_SHIFT == 24, "owner record bit fields");

/* ---- the data region (doc/data-layout.md) ------------------------------- */
_Static_assert(SHPOOL_NUMERIC_STRIDE == 8, "I64, I32 and F64 slots are 8 bytes apart");

/* A STR slot: u32 length (atomic), u32 padding, then the bytes. typed.c
 * works on the slot's bytes, not on a struct: this struct is the documented
 * picture, and its offsets must be what typed.c uses. */
struct shpool_str_slot {
	_Atomic uint32_t length;
	uint32_t pad;
	char bytes[];
};
PIN_SIZE(shpool_str_slot, 8);
PIN(shpool_str_slot, length, 0, 4);
PIN(shpool_str_slot, pad, 4, 4);
_Static_assert(offsetof(struct shpool_str_slot, bytes) == 8, "a string's bytes start at 8");
_Static_assert(SHPOOL_STR_PREFIX == offsetof(struct shpool_str_slot, bytes),
	       "SHPOOL_STR_PREFIX is the documented prefix");

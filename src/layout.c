/* SPDX-License-Identifier: MIT */
/*
 * Layout pins (issue 19): the byte offset and size of every field of every
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
 * This file has no code: only _Static_asserts. The numbers are the
 * documented layout, written out, never derived from the structs.
 */
#include <stddef.h>

#include "shpool-internal.h"

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
 * 24-63 (recovery.c). */
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

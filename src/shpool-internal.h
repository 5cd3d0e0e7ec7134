/* SPDX-License-Identifier: MIT */
/* What the .c files of libshpool share. Nothing here is exported. */
#ifndef SHPOOL_INTERNAL_H
#define SHPOOL_INTERNAL_H

#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "shpool.h"

#define SHPOOL_HIDDEN __attribute__((visibility("hidden")))
/* A call that is little more than one atomic: start it on a cache line, so
 * its few dozen bytes are fetched in as few 64-byte windows as possible
 * (measured on i64_add: 2.73 ns instead of 3.01 at the default 16-byte
 * alignment, which let it straddle three lines). */
#define SHPOOL_FAST_PATH __attribute__((aligned(64)))
/* Thread-locals on the fast path: initial-exec, so reaching them is one
 * instruction rather than a __tls_get_addr() call per access. Only a few
 * bytes, well within what glibc keeps for dlopen()ed libraries. */
#define SHPOOL_FAST_TLS _Thread_local __attribute__((tls_model("initial-exec")))

/* Every shared word must be a plain lock-free hardware atomic: the segment
 * is shared between processes, so a lock-based fallback would be wrong. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
_Static_assert(sizeof(_Atomic uint64_t) == 8, "atomic u64 must be 8 bytes");

#define SHPOOL_CACHELINE 64u

/*
 * ---- Segment layout, version 3 ----------------------------------------
 *
 * One mapping, every region starting on a cache-line boundary:
 *
 *   [0, 128)          struct shpool_header    immutable after creation
 *   off_state         struct shpool_state     futex word, waiters, one
 *                                             statistics stripe per thread
 *                                             and an overflow stripe, waiter
 *                                             registry
 *   off_level[0]      bitmap: word_bits slots per 64-bit word, bit set =
 *                     slot allocated; one word per cache line when the
 *                     pool has at most SHPOOL_SPREAD_WORDS words (threads
 *                     then never share a line), packed beyond that (fewer
 *                     threads meet, and a dense bitmap stays in cache)
 *   off_level[1..]    summary levels: bit j of level l set = word j of
 *                     level l-1 is full (a hint, repaired when stale);
 *                     packed 64 per word, the top level is one word
 *   off_owner         one 64-bit owner record per slot (see identity.c)
 *   off_data          capacity slots of `stride` bytes
 *
 * The header is never trusted: attach recomputes the whole layout from
 * (kind, capacity, elem_size, flags) and requires every stored field to
 * match, then uses only its own computed copy. Bump SHPOOL_LAYOUT_VERSION on
 * any change to this layout or to the meaning of a shared word.
 */
#define SHPOOL_MAGIC "SHPOOL\0\x01"
/* 2: the waiter registry; 3: single-writer statistics stripes */
#define SHPOOL_LAYOUT_VERSION 3u
#define SHPOOL_MAX_LEVELS 6
#define SHPOOL_STRIPES 64u
#define SHPOOL_STR_PREFIX 8u
#define SHPOOL_SPREAD_WORDS 256u /* STR slot: u32 length, u32 pad, bytes */

struct shpool_header {
	char magic[8];          /* SHPOOL_MAGIC */
	uint32_t version;       /* SHPOOL_LAYOUT_VERSION */
	uint32_t header_size;   /* sizeof(struct shpool_header) */
	uint32_t kind;          /* shpool_kind */
	uint32_t elem_size;     /* as created: max_len for STR */
	uint64_t capacity;      /* slots */
	uint32_t flags;         /* SHPOOL_NO_ZERO | SHPOOL_NOTIFY_ON_FREE */
	uint32_t stride;        /* bytes from one slot's data to the next */
	uint32_t word_shift;    /* log2(slots per bitmap word) */
	uint32_t nlevels;       /* bitmap + summary levels */
	uint64_t off_state;
	uint64_t off_level[SHPOOL_MAX_LEVELS];
	uint64_t off_owner;
	uint64_t off_data;
	uint64_t total_size;    /* the mapping (and file) size */
};
_Static_assert(sizeof(struct shpool_header) <= 128, "header fits its region");

/* The statistics counters, in the order of a stripe's count[]. */
enum shpool_stat {
	SHPOOL_STAT_ALLOCS,
	SHPOOL_STAT_FREES,
	SHPOOL_STAT_WAITS,
	SHPOOL_STAT_TIMEOUTS,
	SHPOOL_STAT_RECOVERIES,
	SHPOOL_STAT_RESET_FREES,
	SHPOOL_NSTATS
};

/* A stripe of statistics counters, one cache line, owned by one thread at
 * a time: the thread named by `who` is the only writer of its count[], so
 * a relaxed load + store (no locked RMW on the fast path) loses nothing,
 * and each counter only rises. A thread claims a stripe on first use (CAS
 * of `who` from 0, or from the identity of a thread that has died: see
 * stats.c) and keeps it for life; a new owner goes on adding to the counts
 * already there, which are never moved or reset, so a dead thread's counts
 * stay counted. shpool_stats() sums every stripe and the overflow stripe.
 * `who` packs the owning thread's identity (shpool_thread_id() in identity.c):
 * kernel TID, PID and the thread's start time, so a recycled TID or PID
 * is another owner. */
struct shpool_stripe {
	_Atomic uint64_t count[SHPOOL_NSTATS];
	_Atomic uint64_t who; /* owning thread, 0: never claimed */
	uint64_t pad;
};
_Static_assert(sizeof(struct shpool_stripe) == SHPOOL_CACHELINE, "one line");

/* Who is counted in `waiters`: one entry per process that has blocked in
 * this pool (its threads' first claims are serialised: wake.c), claimed for
 * good (until recovery finds the process dead) so
 * that no count can move to another process. A process counts itself in
 * `waiters` first and here second, and leaves in the other order: a death
 * in between leaves `waiters` one too high (a spare wake-up), never too
 * low (a lost one). recover_stale() takes a dead process's count back out
 * of `waiters` (recovery.c); while it does, `who` holds the recovering
 * process's record tagged SHPOOL_OWNER_FREEING. A process that finds the
 * table full is counted in `waiters` only, unrepaired if it dies waiting. */
#define SHPOOL_WAITREG 64u
struct shpool_waitreg {
	_Atomic uint64_t who;   /* owner record of the process, 0 free */
	_Atomic uint32_t count; /* its threads now counted in `waiters` */
	uint32_t pad;
};

struct shpool_state {
	/* Own line: written by blocking allocators only; a free only reads
	 * `waiters`, so the line stays shared-clean while nobody waits. */
	_Atomic uint32_t wake_seq; /* futex word: bumped by every waking free */
	_Atomic uint32_t waiters;  /* allocators registered to sleep */
	uint32_t pad[14];
	struct shpool_stripe stripe[SHPOOL_STRIPES];
	/* For threads that find every stripe owned by a live thread: shared,
	 * bumped with an atomic fetch_add; `who` unused. */
	struct shpool_stripe overflow;
	/* Written by blocking allocators and recovery only. */
	struct shpool_waitreg waitreg[SHPOOL_WAITREG];
};
_Static_assert(sizeof(struct shpool_state) % SHPOOL_CACHELINE == 0, "lines");

/* Where everything is, derived from the creation parameters alone. */
struct shpool_layout {
	shpool_kind kind;
	uint32_t elem_size;
	uint64_t capacity;
	uint32_t flags;
	uint32_t stride;
	uint32_t word_shift;
	uint32_t nlevels;
	uint32_t l0_shift;      /* log2(u64s from one L0 word to the next): 3 or 0 */
	uint32_t bit_index_mask; /* word_bits - 1: slot idx's bit is idx & this */
	uint64_t nwords[SHPOOL_MAX_LEVELS];
	uint64_t off_state;
	uint64_t off_level[SHPOOL_MAX_LEVELS];
	uint64_t off_owner;
	uint64_t off_data;
	uint64_t total_size;
	/* Derived, for the fast path: the valid bits of a whole L0 word, and
	 * of the last (maybe partial) word of each level. */
	uint64_t word_mask;
	uint64_t last_mask[SHPOOL_MAX_LEVELS];
};

/* The process-local handle. Geometry is copied here at attach and never
 * re-read from the segment. */
struct shpool {
	struct shpool_layout g;
	uint8_t *base;
	/* The mapping: g.total_size rounded up to whole huge pages on
	 * hugetlb (munmap() of a hugetlb mapping needs the whole length), and
	 * the size of the pages under it (pages.c). */
	uint64_t map_size;
	uint64_t page_size;
	struct shpool_state *st;
	_Atomic uint64_t *level[SHPOOL_MAX_LEVELS];
	_Atomic uint64_t *owner;
	uint8_t *data;
	/* The kind a call that writes needs: g.kind, or SHPOOL_ANY_KIND (0)
	 * on a read-only handle, so that the typed writers' kind compare
	 * also refuses read-only handles, at no extra cost.
	 * Beside `data`, which those calls load too. */
	shpool_kind wkind;
	char *path;       /* file-backed: the path; else NULL */
	int fd;           /* memfd or open_fd duplicate; -1 for file/anonymous */
	bool is_memfd;
	_Atomic int evfd; /* this handle's eventfd, -1 if none (notify.c) */
	/* Unique among every handle this process ever opens (never reused,
	 * unlike the handle's address): keys the thread-local stripe cache. */
	uint64_t serial;
};

static inline _Atomic uint64_t *shpool_l0(const struct shpool *p, uint64_t w)
{
	return p->level[0] + (w << p->g.l0_shift);
}

static inline uint64_t shpool_word_bits(const struct shpool *p)
{
	return UINT64_C(1) << p->g.word_shift;
}

/* Slot idx's bit within its L0 word. */
static inline uint64_t shpool_bit_of(const struct shpool *p, uint64_t idx)
{
	return UINT64_C(1) << (idx & p->g.bit_index_mask);
}

/* Is slot idx (< capacity) allocated now? A snapshot. acquire: pairs with
 * the seq_cst fetch_or that published the allocation (claim_in_word(),
 * alloc.c), so a caller that sees the bit may then use the slot. */
static inline bool shpool_slot_allocated(const struct shpool *p, uint64_t idx)
{
	return atomic_load_explicit(shpool_l0(p, idx >> p->g.word_shift), memory_order_acquire) &
	       shpool_bit_of(p, idx);
}

/* The mask of valid bits in word w of level l (the last word may be
 * partial). */
static inline uint64_t shpool_full_mask(const struct shpool *p, unsigned l, uint64_t w)
{
	if (__builtin_expect(w == p->g.nwords[l] - 1, 0))
		return p->g.last_mask[l];
	return l == 0 ? p->g.word_mask : ~UINT64_C(0);
}

static inline uint8_t *shpool_slot(const struct shpool *p, uint64_t idx)
{
	return p->data + idx * p->g.stride;
}

/* I64, I32 and F64 slots are always 8 bytes apart (stride_for() in
 * layout.c rounds up to 8): a shift rather than a multiply on the typed
 * fast path. */
#define SHPOOL_NUMERIC_STRIDE 8u
static inline uint8_t *shpool_numeric_slot(const struct shpool *p, uint64_t idx)
{
	return p->data + idx * SHPOOL_NUMERIC_STRIDE;
}

/*
 * ---- The modules, in the order they depend on each other ---------------
 *
 * Each section below declares what one file gives the others. A file calls
 * only into the files listed above it, so no two files call each other:
 *
 *   error.c     shpool_last_error()'s detail, error texts, common messages
 *   layout.c    the segment format: layout, header, field pins
 *   pages.c     huge pages and pre-faulting
 *   identity.c  owner records and thread identities; who is alive (/proc)
 *   wake.c      the futex word and the waiter registry
 *   bitmap.c    the bitmap and summary tree; the status calls
 *   stats.c     the statistics stripes and shpool_stats()
 *   notify.c    the per-handle eventfd
 *   segment.c   handles and mappings; anonymous, memfd and fd-attached pools
 *   file.c      file pools: by path, publishing, adopting empty files
 *   alloc.c     claiming and freeing slots; waiting for room
 *   recovery.c  recover_stale, reset, check
 *   typed.c     reading and writing slots (raw, typed, string)
 *   guard.c     guards
 *   testing.c   crash and fault points (the test build only)
 *
 * doc/internals.md draws the same picture, with where tests live.
 */

/* ---- error.c ---- */
/* Record a detail for shpool_last_error() and return err (a -errno). */
SHPOOL_HIDDEN int shpool_fail(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define SHPOOL_CHECK_HANDLE(p) \
	do { \
		if (!(p)) \
			return shpool_fail(-EINVAL, "%s: NULL pool handle", __func__); \
	} while (0)

/* -EROFS: fn would change a pool attached with SHPOOL_RDONLY. */
SHPOOL_HIDDEN int shpool_rdonly_error(const char *fn) __attribute__((cold, noinline));
static inline bool shpool_readonly(const struct shpool *p)
{
	return __builtin_expect(p->wkind == SHPOOL_ANY_KIND, 0);
}
#define SHPOOL_CHECK_WRITABLE(p) \
	do { \
		if (shpool_readonly(p)) \
			return shpool_rdonly_error(__func__); \
	} while (0)
/* Is idx a slot of p? Records -ERANGE detail when not. Inline: it sits on
 * every fast path; only the failure is out of line. */
SHPOOL_HIDDEN int shpool_range_error(const struct shpool *p, uint64_t idx, const char *fn)
	__attribute__((cold, noinline));
static inline int shpool_check_index(const struct shpool *p, uint64_t idx, const char *fn)
{
	return __builtin_expect(idx < p->g.capacity, 1) ? 0 : shpool_range_error(p, idx, fn);
}

/* ---- layout.c ---- */
#define SHPOOL_PAGE 4096u
/* No mapping larger than this: beyond any x86-64/arm64 user address space;
 * in a 32-bit process, whatever its size_t (the length mmap(2) takes) can
 * hold, in whole pages. A larger 64-bit size would reach mmap cut short. */
#define SHPOOL_MAX_MAPPING_64 (UINT64_C(1) << 46)
#define SHPOOL_MAX_MAPPING                                                    \
	((uint64_t)SIZE_MAX < SHPOOL_MAX_MAPPING_64 ? (uint64_t)SIZE_MAX - SHPOOL_PAGE + 1 \
						    : SHPOOL_MAX_MAPPING_64)
static inline uint64_t shpool_round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}
/* The layout of a pool with these creation parameters, or -EINVAL/-ENOMEM
 * with the detail set. */
SHPOOL_HIDDEN int shpool_layout_compute(struct shpool_layout *g, shpool_kind kind,
					uint64_t capacity, uint32_t elem_size,
					uint32_t flags);
/* "RAW", "I64", ... for messages; "unknown" for anything else. */
SHPOOL_HIDDEN const char *shpool_kind_label(uint32_t kind);
/* Validate a header read from an untrusted segment of `size` bytes (name:
 * for messages; hpage: its huge page size or 0): every field must equal what
 * the layout computes from kind/capacity/elem_size; *g gets that layout. */
SHPOOL_HIDDEN int shpool_header_validate(const struct shpool_header *h, uint64_t size,
					 const char *name, shpool_kind want_kind,
					 uint64_t hpage, struct shpool_layout *g);
/* Write g's header into a fresh (zeroed) mapping, the magic last. */
SHPOOL_HIDDEN void shpool_header_write(uint8_t *base, const struct shpool_layout *g);

/* ---- pages.c: huge pages and pre-faulting ---- */
/* Creation flags about this process's mapping, never recorded. */
#define SHPOOL_MAPPING_FLAGS (SHPOOL_HUGEPAGES | SHPOOL_HUGEPAGES_PREFER | SHPOOL_POPULATE)
#define SHPOOL_HUGE_FLAGS (SHPOOL_HUGEPAGES | SHPOOL_HUGEPAGES_PREFER)
/* The system page size. */
SHPOOL_HIDDEN uint64_t shpool_base_page(void);
/* The default huge page size; 0 when the kernel has no hugetlb support. */
SHPOOL_HIDDEN uint64_t shpool_huge_page_size(void);
/* *hpage: fd's huge page size if it lives on hugetlbfs (a MFD_HUGETLB memfd
 * included), else 0. 0 or -errno (fstatfs). */
SHPOOL_HIDDEN int shpool_fd_huge_page(int fd, uint64_t *hpage);
/* -ENOMEM: too few huge pages of hpage bytes for `bytes`; the detail
 * says how many are free and the command that would reserve enough. */
SHPOOL_HIDDEN int shpool_huge_nomem(const char *name, uint64_t bytes, uint64_t hpage);
/* -EOPNOTSUPP: no hugetlb in this kernel. */
SHPOOL_HIDDEN int shpool_huge_unsupported(const char *name);
/* MADV_HUGEPAGE on a shmem mapping where the kernel's setting acts on it. */
SHPOOL_HIDDEN void shpool_thp_advise(void *base, uint64_t size);
/* Fault every page of [base, base + size) in (SHPOOL_POPULATE): 0, or
 * -ENOMEM / -errno with the detail set. */
SHPOOL_HIDDEN int shpool_populate(uint8_t *base, uint64_t size, uint64_t page, bool rdonly,
				  const char *name);

/* ---- identity.c: who this process (or thread) is, and who is alive ---- */
/* An owner record: pid in bits 0-21, a 2-bit tag, start time in 24-63. */
#define SHPOOL_OWNER_PID_BITS 22
#define SHPOOL_OWNER_PID_MASK ((UINT64_C(1) << SHPOOL_OWNER_PID_BITS) - 1)
#define SHPOOL_OWNER_TAG_SHIFT 22
#define SHPOOL_OWNER_FREEING (UINT64_C(1) << SHPOOL_OWNER_TAG_SHIFT)
#define SHPOOL_OWNER_TAG_MASK (UINT64_C(3) << SHPOOL_OWNER_TAG_SHIFT)
#define SHPOOL_OWNER_START_SHIFT 24
/* This process's owner record: cached, dropped in a fork(2) child. */
SHPOOL_HIDDEN extern _Atomic uint64_t shpool_self_record;
SHPOOL_HIDDEN uint64_t shpool_self_slow(void);
static inline uint64_t shpool_self(void)
{
	/* relaxed: the record is a self-contained value; threads racing to
	 * compute it compute the same one. */
	uint64_t rec = atomic_load_explicit(&shpool_self_record, memory_order_relaxed);

	return __builtin_expect(rec != 0, 1) ? rec : shpool_self_slow();
}
static inline pid_t shpool_owner_pid(uint64_t rec)
{
	return (pid_t)(rec & SHPOOL_OWNER_PID_MASK);
}
/* A per-thread small random number: where this thread starts searching.
 * 0 until computed (again after fork). */
SHPOOL_HIDDEN extern SHPOOL_FAST_TLS uint32_t shpool_seed;
SHPOOL_HIDDEN uint32_t shpool_seed_slow(void);
static inline uint32_t shpool_thread_seed(void)
{
	uint32_t s = shpool_seed;

	return __builtin_expect(s != 0, 1) ? s : shpool_seed_slow();
}

/* Is the process an owner record names alive? A small cache for one pass
 * (many slots share few owners); zero-initialise it. This process is
 * always alive. When /proc cannot tell, yes. */
struct shpool_liveness {
	uint64_t rec[64];
	uint8_t alive[64];
};
SHPOOL_HIDDEN bool shpool_owner_alive(struct shpool_liveness *c, uint64_t rec);
/* Is the live process an owner record names one that maps no part of p
 * (it exec'd, or closed every handle)? Where /proc/PID/maps cannot tell,
 * no. A small cache for one pass; zero-initialise it. */
struct shpool_segment_id {
	unsigned long major, minor;
	unsigned long long ino;
};
#define SHPOOL_UNMAPPED_CACHE 256u
struct shpool_unmapped {
	int8_t known; /* 0 not looked yet, 1 seg is valid, -1 this mapping not found */
	struct shpool_segment_id seg;
	/* Open addressing on the full PID (0: empty): each distinct owner's
	 * maps file is read once per pass, however their PIDs collide. */
	pid_t pid[SHPOOL_UNMAPPED_CACHE];
	int8_t unmapped[SHPOOL_UNMAPPED_CACHE]; /* 1 unmapped, 0 maps it or cannot tell */
};
SHPOOL_HIDDEN bool shpool_owner_unmapped(const struct shpool *p, struct shpool_unmapped *c,
					 uint64_t rec);
/* This thread's identity for the statistics stripes (TID, PID, start time;
 * never 0), and whether the thread such an identity names is gone for good
 * (when /proc cannot tell, no). */
SHPOOL_HIDDEN uint64_t shpool_thread_id(void);
SHPOOL_HIDDEN bool shpool_thread_gone(uint64_t id);

/* ---- wake.c ---- */
SHPOOL_HIDDEN unsigned shpool_wake_waiters(struct shpool *p, uint64_t n);
/* Wake up to n blocked allocators; free paths call it after freeing.
 * Returns 1 if it bumped wake_seq (there were waiters), else 0. Inline: a
 * free pays one load here when nobody waits. */
static inline __attribute__((always_inline)) unsigned shpool_wake(struct shpool *p, uint64_t n)
{
	if (n == 0)
		return 0;
	/* seq_cst load, after the seq_cst stores that freed the slots (bit
	 * clear, owner record): pairs with the seq_cst fetch_add of `waiters`
	 * in alloc_wait() (alloc.c), which precedes the waiter's last search.
	 * In the single total order either that search sees our free, or this
	 * load sees the waiter. (A fence here would do too, but clang makes
	 * it an mfence.) */
	if (atomic_load(&p->st->waiters) == 0)
		return 0;
	return shpool_wake_waiters(p, n);
}
struct timespec;
/* Sleep while *addr == val, until the absolute CLOCK_MONOTONIC deadline
 * (NULL: forever). 0 when woken, else -EAGAIN, -EINTR, -ETIMEDOUT. */
SHPOOL_HIDDEN int shpool_futex_wait_until(_Atomic uint32_t *addr, uint32_t val,
					  const struct timespec *deadline);
/* This process's entry in the waiter registry: the one it claimed earlier,
 * else a free one claimed now; NULL if the table is full. */
SHPOOL_HIDDEN struct shpool_waitreg *shpool_waitreg_entry(struct shpool *p, uint64_t self);

/* ---- bitmap.c ---- */
static inline _Atomic uint64_t *shpool_level_word(const struct shpool *p, unsigned l, uint64_t w)
{
	return l == 0 ? shpool_l0(p, w) : &p->level[l][w];
}
/* Is word w of level l full? seq_cst: the re-check of
 * shpool_summary_mark_full(); it must come after that function's set in
 * the single total order. */
static inline bool shpool_word_full(const struct shpool *p, unsigned l, uint64_t w)
{
	uint64_t m = shpool_full_mask(p, l, w);

	return (atomic_load(shpool_level_word(p, l, w)) & m) == m;
}
/* Word c of level l-1 has room again / was seen full: fix its bit in level
 * l, and go up while a word stops or starts being full. */
SHPOOL_HIDDEN void shpool_summary_mark_room(struct shpool *p, unsigned l, uint64_t c);
SHPOOL_HIDDEN void shpool_summary_mark_full(struct shpool *p, unsigned l, uint64_t c);
/* An L0 word that the summary says has room, the next after `from` in index
 * order (wrapping); SHPOOL_WORD_NONE when the summary says all are full,
 * SHPOOL_WORD_RETRY after repairing a stale summary bit. */
#define SHPOOL_WORD_NONE UINT64_MAX
#define SHPOOL_WORD_RETRY (UINT64_MAX - 1)
SHPOOL_HIDDEN uint64_t shpool_find_word(struct shpool *p, uint64_t from);
/* Make every summary bit agree with its child; returns how many did not.
 * Safe during live traffic. */
SHPOOL_HIDDEN uint64_t shpool_summary_repair(struct shpool *p);
/* Report (without fixing) bitmap bits beyond capacity and summary bits that
 * disagree with their child; returns how many. */
SHPOOL_HIDDEN uint64_t shpool_summary_audit(struct shpool *p, FILE *report);
/* Clear every bit, summary levels included; returns how many slots were
 * allocated. Only when nobody else uses the pool (shpool_reset()). */
SHPOOL_HIDDEN uint64_t shpool_bitmap_reset(struct shpool *p);
/* Call fn for each allocated slot, ascending, until it returns non-zero. */
SHPOOL_HIDDEN int shpool_bitmap_walk(struct shpool *p,
				     int (*fn)(struct shpool *, uint64_t, void *), void *arg);

/* ---- stats.c ---- */
/* Which stripe this thread bumps, per handle: a small direct-mapped cache
 * keyed by the handle's serial (0: empty). Emptied in a fork(2) child,
 * which must not write its parent's stripe. */
#define SHPOOL_STAT_CACHE 4u
struct shpool_stat_cache {
	uint64_t serial;
	struct shpool_stripe *s;
};
SHPOOL_HIDDEN extern SHPOOL_FAST_TLS struct shpool_stat_cache shpool_stat_cache[SHPOOL_STAT_CACHE];
/* A serial for a new handle. */
SHPOOL_HIDDEN uint64_t shpool_new_serial(void);
SHPOOL_HIDDEN void shpool_stat_add_slow(struct shpool *p, enum shpool_stat k, uint64_t n);
/* Add n to counter k: a relaxed load + store on this thread's own stripe
 * (its only writer, so nothing is lost and the counter only rises). */
static inline void shpool_stat_add(struct shpool *p, enum shpool_stat k, uint64_t n)
{
	struct shpool_stat_cache *c = &shpool_stat_cache[p->serial % SHPOOL_STAT_CACHE];

	if (__builtin_expect(c->serial == p->serial, 1)) {
		_Atomic uint64_t *ctr = &c->s->count[k];
		atomic_store_explicit(ctr, atomic_load_explicit(ctr, memory_order_relaxed) + n,
				      memory_order_relaxed);
		return;
	}
	shpool_stat_add_slow(p, k, n);
}
/* Sum every stripe's counters into out. */
SHPOOL_HIDDEN void shpool_stats_sum(struct shpool *p, shpool_stats_t *out);

/* ---- notify.c ---- */
/* Called after free/free_n/recover_stale freed n slots. */
SHPOOL_HIDDEN void shpool_notify_freed(struct shpool *p, uint64_t n);

/* ---- segment.c ---- */
/* A mapping of a pool: where, how long, on pages of what size. */
struct shpool_map {
	uint8_t *base;
	uint64_t size;
	uint64_t page;
};
/* The mapping a layout needs on pages of hpage bytes (0: normal pages). */
SHPOOL_HIDDEN struct shpool_map shpool_map_plan(const struct shpool_layout *g, uint64_t hpage);
/* *hpage: the huge page size of fd's file system, 0 if not hugetlbfs;
 * refuses SHPOOL_HUGEPAGES (without _PREFER) on any other. */
SHPOOL_HIDDEN int shpool_fd_pages(int fd, const char *name, unsigned mflags, uint64_t *hpage);
/* Reserve m->size bytes of fd's file now (a shortage is an error here). */
SHPOOL_HIDDEN int shpool_size_fd(int fd, const struct shpool_map *m, const char *name);
/* mmap(2) fd as m says; then the pages mflags ask for. */
SHPOOL_HIDDEN int shpool_map_fd(int fd, struct shpool_map *m, bool rdonly, unsigned mflags,
				const char *name);
/* Validate the pool behind fd (against `want`, if given) and map it. */
SHPOOL_HIDDEN int shpool_map_attach(int fd, const char *name, shpool_kind kind,
				    const struct shpool_layout *want, bool by_path, bool rdonly,
				    unsigned mflags, struct shpool_layout *g, struct shpool_map *m);
/* Handles: allocated before a pool is published (nothing may fail after),
 * bound to a mapping, or made in one step (pool_new() releases m and fd on
 * failure). */
SHPOOL_HIDDEN struct shpool *shpool_handle_alloc(const char *path);
SHPOOL_HIDDEN int shpool_handle_nomem(void);
SHPOOL_HIDDEN void shpool_handle_bind(struct shpool *p, const struct shpool_layout *g,
				      const struct shpool_map *m, bool rdonly);
SHPOOL_HIDDEN int shpool_pool_new(shpool_t **out, const struct shpool_layout *g,
				  const struct shpool_map *m, const char *path, int fd,
				  bool is_memfd, bool rdonly);
/* Argument checks the creating and attaching calls share. */
SHPOOL_HIDDEN int shpool_check_out(shpool_t **out);
SHPOOL_HIDDEN int shpool_check_attach_flags(unsigned int flags, const char *fn);
SHPOOL_HIDDEN int shpool_create_layout(struct shpool_layout *g, shpool_kind kind,
				       uint64_t capacity, uint32_t elem_size,
				       const shpool_options *opts, unsigned *mflags);
SHPOOL_HIDDEN int shpool_create_anonymous(shpool_t **out, const struct shpool_layout *g,
					  unsigned mflags);

/* ---- alloc.c ---- */
/* Clear slot idx's bitmap bit and then its owner record (whose owner the
 * caller is, or acts for), fixing the summary; returns the old bit. */
SHPOOL_HIDDEN bool shpool_bit_clear(struct shpool *p, uint64_t idx);

/* ---- test-only crash and fault points ---- */
/* Where this thread's next allocation starts searching: defined in the
 * test build only (alloc.c). */
SHPOOL_HIDDEN void shpool_test_set_hint(struct shpool *p, uint64_t word);
#ifdef SHPOOL_TESTING
SHPOOL_HIDDEN void shpool_crash_point(const char *name);
/* -errno to inject at fault point `name` (recorded as the detail), else 0. */
SHPOOL_HIDDEN int shpool_fault_point(const char *name);
#define SHPOOL_CRASH_POINT(name) shpool_crash_point(name)
#define SHPOOL_FAULT_POINT(name) shpool_fault_point(name)
#else
#define SHPOOL_CRASH_POINT(name) ((void)0)
#define SHPOOL_FAULT_POINT(name) 0
#endif

/* The cost-model build (src/cost-atomics.h) counts the data lines a call
 * touches outside the atomics; elsewhere this is nothing... */
#ifndef SHPOOL_COST_TOUCH
#define SHPOOL_COST_TOUCH(addr) ((void)0)
#endif
/* ... and the RMWs an inline-assembly instruction performs. */
#ifndef SHPOOL_COST_RMW
#define SHPOOL_COST_RMW(addr) ((void)0)
#endif

#endif /* SHPOOL_INTERNAL_H */

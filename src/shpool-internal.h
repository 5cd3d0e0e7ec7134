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
 *   off_owner         one 64-bit owner record per slot (see recovery.c)
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
 * `who` packs the owning thread's identity (thread_id() in stats.c):
 * kernel TID, PID and the thread's start time, so a recycled TID or PID
 * is another owner. */
struct shpool_stripe {
	_Atomic uint64_t count[SHPOOL_NSTATS];
	_Atomic uint64_t who; /* owning thread, 0: never claimed */
	uint64_t pad;
};
_Static_assert(sizeof(struct shpool_stripe) == SHPOOL_CACHELINE, "one line");

/* Who is counted in `waiters`: one entry per process that has blocked in
 * this pool (its threads' first claims are serialised: alloc.c), claimed for good (until recovery finds the process dead) so
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
 * segment.c rounds up to 8): a shift rather than a multiply on the typed
 * fast path. */
#define SHPOOL_NUMERIC_STRIDE 8u
static inline uint8_t *shpool_numeric_slot(const struct shpool *p, uint64_t idx)
{
	return p->data + idx * SHPOOL_NUMERIC_STRIDE;
}

/* ---- errors (error.c) ---- */
/* Record a detail for shpool_last_error() and return err (a -errno). */
SHPOOL_HIDDEN int shpool_fail(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define SHPOOL_CHECK_HANDLE(p) \
	do { \
		if (!(p)) \
			return shpool_fail(-EINVAL, "%s: NULL pool handle", __func__); \
	} while (0)

/* ---- segment.c ---- */
SHPOOL_HIDDEN int shpool_layout_compute(struct shpool_layout *g, shpool_kind kind,
					uint64_t capacity, uint32_t elem_size,
					uint32_t flags);
/* "RAW", "I64", ... for messages; "unknown" for anything else. */
SHPOOL_HIDDEN const char *shpool_kind_label(uint32_t kind);
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

/* ---- identity (recovery.c): who this process is, beyond its PID ---- */
/* An owner record: pid in bits 0-21, a 2-bit tag, start time in 24-63. */
#define SHPOOL_OWNER_PID_BITS 22
#define SHPOOL_OWNER_PID_MASK ((UINT64_C(1) << SHPOOL_OWNER_PID_BITS) - 1)
#define SHPOOL_OWNER_TAG_SHIFT 22
#define SHPOOL_OWNER_FREEING (UINT64_C(1) << SHPOOL_OWNER_TAG_SHIFT)
#define SHPOOL_OWNER_TAG_MASK (UINT64_C(3) << SHPOOL_OWNER_TAG_SHIFT)
#define SHPOOL_OWNER_START_SHIFT 24
/* Read a /proc stat file (/proc/PID/stat, /proc/PID/task/TID/stat): the
 * state letter and the start time in clock ticks since boot, in the host's
 * time namespace (taken off this process's own boottime offset, so that
 * processes in different time namespaces agree). -errno if unreadable. */
SHPOOL_HIDDEN int shpool_proc_stat_at(const char *path, char *state, uint64_t *start);
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
/* Same process, ignoring the tag bits. */
static inline bool shpool_owner_same(uint64_t a, uint64_t b)
{
	return ((a ^ b) & ~SHPOOL_OWNER_TAG_MASK) == 0;
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

/* ---- alloc.c, shared with recovery.c ---- */
/* Clear slot idx's bitmap bit and fix the summary; returns the old bit. */
SHPOOL_HIDDEN bool shpool_bit_clear(struct shpool *p, uint64_t idx);
/* Wake up to n blocked allocators (free paths call it after freeing). */
SHPOOL_HIDDEN void shpool_wake(struct shpool *p, uint64_t n);
/* Reset process-local state in a fork(2) child (recovery.c's atfork). */
SHPOOL_HIDDEN void shpool_alloc_after_fork(void);
/* Make every summary bit agree with its child; returns how many did not.
 * Safe during live traffic. */
SHPOOL_HIDDEN uint64_t shpool_summary_repair(struct shpool *p);
/* Report (without fixing) bitmap bits beyond capacity and summary bits that
 * disagree with their child; returns how many. */
SHPOOL_HIDDEN uint64_t shpool_summary_audit(struct shpool *p, FILE *report);

/* ---- statistics (stats.c) ---- */
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
/* Forget this thread's stripes (the fork(2) child handler). */
SHPOOL_HIDDEN void shpool_stats_forget(void);

/* ---- notify.c ---- */
/* Called after free/free_n/recover_stale freed n slots. */
SHPOOL_HIDDEN void shpool_notify_freed(struct shpool *p, uint64_t n);

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

/* SPDX-License-Identifier: MIT */
/*
 * libshpool: a pool of fixed-size slots shared by many processes.
 *
 * Conventions (see shpool(7)):
 *  - Calls that can fail return int (int64_t where a slot index or a count is
 *    the result): >= 0 on success, -errno on failure. errno is never the
 *    channel. shpool_last_error() adds a thread-local detail for the last
 *    failure in this thread; it never replaces the code.
 *  - A NULL handle is -EINVAL (or NULL / 0 for calls that return pointers or
 *    sizes), never a crash.
 *  - timeout_ms is poll(2)-style: -1 waits forever, 0 does not wait, > 0 is a
 *    deadline in milliseconds (CLOCK_MONOTONIC). A signal runs its handler and
 *    the wait resumes with the time that is left.
 *  - Ordering: a successful allocation of a slot acquires everything the
 *    slot's previous shpool_free() released, so data written before a free is
 *    visible to the next owner.
 */
#ifndef SHPOOL_H
#define SHPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHPOOL_VERSION_MAJOR 0
#define SHPOOL_VERSION_MINOR 1
#define SHPOOL_VERSION_PATCH 0

#if defined(__GNUC__)
#define SHPOOL_API __attribute__((visibility("default")))
#else
#define SHPOOL_API
#endif

/* Opaque handle; safe to share between the threads of one process. */
typedef struct shpool shpool_t;

/* What a slot holds. Recorded in the segment; attaching with another kind
 * fails with -EINVAL. */
typedef enum shpool_kind {
	SHPOOL_ANY_KIND = 0, /* attach only: whatever kind the segment has
			      * (shpool_kind_of() tells); create refuses it */
	SHPOOL_RAW = 1, /* opaque bytes, any elem_size */
	SHPOOL_I64 = 2, /* int64_t, atomic operations */
	SHPOOL_I32 = 3, /* int32_t, atomic operations */
	SHPOOL_F64 = 4, /* double, single-copy atomic loads and stores */
	SHPOOL_STR = 5, /* length-prefixed string of up to max_len bytes */
} shpool_kind;

/* Creation flags (shpool_options.flags), recorded in the segment. */
#define SHPOOL_NO_ZERO        (1u << 0) /* do not zero a slot on allocation */
#define SHPOOL_NOTIFY_ON_FREE (1u << 1) /* free/free_n/recover_stale signal the
					 * freeing handle's eventfd (see below) */
/* Creation flags about the memory under this process's mapping; not recorded
 * in the segment (each process's mapping has its own; shpool_create(3)).
 * SHPOOL_HUGEPAGES: huge pages (hugetlb) or fail: an anonymous pool is
 * mapped MAP_HUGETLB, a memfd made MFD_HUGETLB, and a file pool must be on a
 * hugetlbfs mount (-EINVAL otherwise); the mapping is rounded up to whole
 * huge pages. Too few reserved: -ENOMEM, the detail says how to reserve
 * them; no hugetlb in the kernel: -EOPNOTSUPP.
 * SHPOOL_HUGEPAGES_PREFER: the same, but where huge pages cannot be had the
 * pool gets normal pages (advised MADV_HUGEPAGE where the shmem
 * transparent huge page setting acts on it). shpool_page_size() tells
 * which it got. Given with SHPOOL_HUGEPAGES, _PREFER decides.
 * SHPOOL_POPULATE: fault the whole mapping in now (-ENOMEM if it cannot
 * be), so that no first touch faults later. Also an attach flag. Before
 * Linux 5.14 it touches every page instead, where a shortage is a fault,
 * not -ENOMEM. */
#define SHPOOL_HUGEPAGES        (1u << 2)
#define SHPOOL_HUGEPAGES_PREFER (1u << 3)
#define SHPOOL_POPULATE         (1u << 4)

/* Zero-initialise ({0}) for defaults. Fields may be added in the reserved
 * space in later versions; zero keeps the old behaviour. */
typedef struct shpool_options {
	unsigned int mode;  /* file mode for a new file; 0 means 0600 */
	unsigned int flags; /* SHPOOL_NO_ZERO | SHPOOL_NOTIFY_ON_FREE */
	uint64_t reserved[6];
} shpool_options;

/* Largest capacity a pool may have. */
#define SHPOOL_MAX_CAPACITY (UINT64_C(1) << 32)
/* Largest elem_size (and STR max_len) in bytes. */
#define SHPOOL_MAX_ELEM_SIZE (UINT32_C(1) << 30)

/* ---- construction ------------------------------------------------------ */

/* Create a pool at path (NULL: anonymous, shared with children forked after
 * this call), or attach the existing one there if kind, capacity and
 * elem_size match (-EINVAL otherwise). A new file appears at path only when
 * fully initialised. For I64/I32/F64 pass elem_size 0; for STR elem_size is
 * max_len. opts may be NULL. */
SHPOOL_API int shpool_create(shpool_t **out, const char *path, shpool_kind kind,
			     uint64_t capacity, uint32_t elem_size,
			     const shpool_options *opts);
/* Attach an existing pool; geometry comes from its (validated) header. */
SHPOOL_API int shpool_open(shpool_t **out, const char *path, shpool_kind kind);
/* Attach flags (shpool_attach(), shpool_attach_fd()), and SHPOOL_POPULATE
 * (whose bit no attach flag uses). */
#define SHPOOL_RDONLY (1u << 0) /* map read-only: every call that would change
				 * the pool fails with -EROFS; reading works */
/* shpool_open()/shpool_open_fd() with flags. kind may be SHPOOL_ANY_KIND.
 * With SHPOOL_RDONLY the file is opened O_RDONLY (read permission is
 * enough) and mapped PROT_READ. */
SHPOOL_API int shpool_attach(shpool_t **out, const char *path, shpool_kind kind,
			     unsigned int flags);
SHPOOL_API int shpool_attach_fd(shpool_t **out, int fd, shpool_kind kind, unsigned int flags);
/* 1 if p was attached with SHPOOL_RDONLY, 0 if not, -EINVAL for NULL. */
SHPOOL_API int shpool_is_readonly(shpool_t *p);
/* Create a pool in a memfd, sealed against resizing. */
SHPOOL_API int shpool_create_memfd(shpool_t **out, const char *name,
				   shpool_kind kind, uint64_t capacity,
				   uint32_t elem_size, const shpool_options *opts);
/* Attach through an fd (memfd received over a socket, or inherited). The
 * caller keeps its fd; the pool holds its own duplicate. */
SHPOOL_API int shpool_open_fd(shpool_t **out, int fd, shpool_kind kind);
/* Unmap and close the pool's own fds. NULL is a no-op. */
SHPOOL_API void shpool_close(shpool_t *p);

/* ---- allocation -------------------------------------------------------- */

/* Allocate a slot: its index, or -EAGAIN (timeout 0 and full), -ETIMEDOUT,
 * -EINVAL (NULL pool), -EUCLEAN (damaged segment). */
SHPOOL_API int64_t shpool_alloc(shpool_t *p, int timeout_ms);
/* shpool_alloc(p, 0). */
SHPOOL_API int64_t shpool_try_alloc(shpool_t *p);
/* Free a slot: 0, -ENOENT if it is not allocated (double free), -ERANGE. */
SHPOOL_API int shpool_free(shpool_t *p, uint64_t idx);
/* Allocate n slots into out, all or nothing, under one deadline. */
SHPOOL_API int shpool_alloc_n(shpool_t *p, uint64_t *out, size_t n, int timeout_ms);
/* The same with wait flags, for a caller that cuts one wait into slices (to
 * run signal handlers or notice a close between them) and wants it counted
 * as one wait and at most one timeout in shpool_stats(). Unknown flags:
 * -EINVAL. */
#define SHPOOL_WAIT_SLICE  (1u << 0) /* timeout_ms is one slice, not the caller's
				      * deadline: -ETIMEDOUT is not counted */
#define SHPOOL_WAIT_RESUME (1u << 1) /* resumes a wait an earlier call counted:
				      * not counted again in waits */
SHPOOL_API int64_t shpool_alloc_ex(shpool_t *p, int timeout_ms, unsigned int flags);
SHPOOL_API int shpool_alloc_n_ex(shpool_t *p, uint64_t *out, size_t n, int timeout_ms,
				 unsigned int flags);
/* Free each allocated slot of idx[]; returns how many were freed. */
SHPOOL_API int64_t shpool_free_n(shpool_t *p, const uint64_t *idx, size_t n);
/* Fill up to max allocated indices, ascending; returns the allocated count. */
SHPOOL_API int64_t shpool_allocated_slots(shpool_t *p, uint64_t *out, size_t max);
/* Call fn for each allocated slot, ascending; stops at fn's first non-zero
 * return and returns it; 0 when all were visited. */
SHPOOL_API int shpool_each_allocated(shpool_t *p,
				     int (*fn)(shpool_t *p, uint64_t idx, void *arg),
				     void *arg);

/* ---- data access ------------------------------------------------------- */

/* Address of slot idx's data, NULL if out of range. Dangling after close. */
SHPOOL_API void *shpool_ptr(shpool_t *p, uint64_t idx);
/* Base of the data region; slot i is at base + i * shpool_stride(p). */
SHPOOL_API void *shpool_data_ptr(shpool_t *p);
/* Distance in bytes between consecutive slots (elem_size rounded up for
 * alignment). */
SHPOOL_API size_t shpool_stride(shpool_t *p);
/* Copy len bytes out of / into allocated slot idx, from its first byte.
 * RAW: any len up to elem_size (set leaves the rest of the slot as it was).
 * I64/I32/F64: the value's native bytes, whole: len must be elem_size (or 0),
 * moved with one seq_cst atomic load/store, so they mix safely with the
 * typed calls. STR pools are refused (-EINVAL): use shpool_str_*.
 * Errors: -EINVAL (NULL handle, STR pool, buf NULL with len > 0, a partial
 * typed value), -E2BIG (len > elem_size; nothing written), -ERANGE,
 * -ENOENT (slot not allocated). len 0 checks and does nothing. */
SHPOOL_API int shpool_get(shpool_t *p, uint64_t idx, void *buf, size_t len);
SHPOOL_API int shpool_set(shpool_t *p, uint64_t idx, const void *buf, size_t len);

/* Atomic integer slots: C11 atomics on the shared memory, all seq_cst, so
 * every process sees one order of them. The slot must be allocated (-ENOENT),
 * in range (-ERANGE), of this kind (-EINVAL, naming both kinds). cas and
 * cmpxchg return 1 swapped, 0 not (a strong compare: 0 means the value
 * differed); cmpxchg and xchg hand back the old value; add/incr/decr hand back
 * the new value. Every out-parameter of an RMW may be NULL; get's may not.
 * Arithmetic wraps around (two's complement), it is never undefined. */
SHPOOL_API int shpool_i64_get(shpool_t *p, uint64_t idx, int64_t *value);
SHPOOL_API int shpool_i64_set(shpool_t *p, uint64_t idx, int64_t value);
SHPOOL_API int shpool_i64_cas(shpool_t *p, uint64_t idx, int64_t expected, int64_t desired);
SHPOOL_API int shpool_i64_cmpxchg(shpool_t *p, uint64_t idx, int64_t expected,
				  int64_t desired, int64_t *old);
SHPOOL_API int shpool_i64_xchg(shpool_t *p, uint64_t idx, int64_t value, int64_t *old);
SHPOOL_API int shpool_i64_add(shpool_t *p, uint64_t idx, int64_t delta, int64_t *new_value);
SHPOOL_API int shpool_i64_incr(shpool_t *p, uint64_t idx, int64_t *new_value);
SHPOOL_API int shpool_i64_decr(shpool_t *p, uint64_t idx, int64_t *new_value);

SHPOOL_API int shpool_i32_get(shpool_t *p, uint64_t idx, int32_t *value);
SHPOOL_API int shpool_i32_set(shpool_t *p, uint64_t idx, int32_t value);
SHPOOL_API int shpool_i32_cas(shpool_t *p, uint64_t idx, int32_t expected, int32_t desired);
SHPOOL_API int shpool_i32_cmpxchg(shpool_t *p, uint64_t idx, int32_t expected,
				  int32_t desired, int32_t *old);
SHPOOL_API int shpool_i32_xchg(shpool_t *p, uint64_t idx, int32_t value, int32_t *old);
SHPOOL_API int shpool_i32_add(shpool_t *p, uint64_t idx, int32_t delta, int32_t *new_value);
SHPOOL_API int shpool_i32_incr(shpool_t *p, uint64_t idx, int32_t *new_value);
SHPOOL_API int shpool_i32_decr(shpool_t *p, uint64_t idx, int32_t *new_value);

/* Double slots: the bits go through one seq_cst atomic 64-bit load/store,
 * so a reader never sees a torn value; NaN payloads, -0.0 and infinities
 * round-trip exactly. */
SHPOOL_API int shpool_f64_get(shpool_t *p, uint64_t idx, double *value);
SHPOOL_API int shpool_f64_set(shpool_t *p, uint64_t idx, double value);

/* String slots: an atomic u32 length prefix and up to max_len bytes (any
 * bytes, NUL included). get copies the string plus a NUL: buflen must be at
 * least length + 1, else -ENOSPC and nothing copied; *len (may be NULL) gets
 * the length either way, so buf NULL, buflen 0 asks for it. set with len >
 * max_len is -E2BIG and writes nothing; s may be NULL only when len is 0.
 * view hands back a pointer into the slot (not NUL-terminated) and the
 * length; s and len must not be NULL.
 * Concurrency: the length is stored after the bytes (release) and read once
 * (acquire), so a reader sees the old or the new length, never a mix; the
 * bytes are not atomic, so a read racing a writer of the same slot may see
 * old and new bytes mixed (order writers and readers of a slot yourself).
 * A stored length above max_len (a damaged or hostile segment) is never
 * used: get and view fail with -EUCLEAN and read nothing past the slot. */
SHPOOL_API int shpool_str_get(shpool_t *p, uint64_t idx, char *buf, size_t buflen, size_t *len);
SHPOOL_API int shpool_str_set(shpool_t *p, uint64_t idx, const char *s, size_t len);
SHPOOL_API int shpool_str_view(shpool_t *p, uint64_t idx, const char **s, size_t *len);
SHPOOL_API size_t shpool_str_max_len(shpool_t *p);

/* Allocate and store in one call: the slot index, or -errno. Arguments and
 * kind are checked first (the same errors as set/str_set, before the pool is
 * touched); then the allocation's errors (-EAGAIN, -ETIMEDOUT); should the
 * store fail after that, the slot is freed and the store's error returned. */
SHPOOL_API int64_t shpool_alloc_set(shpool_t *p, const void *buf, size_t len, int timeout_ms);
SHPOOL_API int64_t shpool_alloc_set_i64(shpool_t *p, int64_t value, int timeout_ms);
SHPOOL_API int64_t shpool_alloc_set_i32(shpool_t *p, int32_t value, int timeout_ms);
SHPOOL_API int64_t shpool_alloc_set_f64(shpool_t *p, double value, int timeout_ms);
SHPOOL_API int64_t shpool_alloc_set_str(shpool_t *p, const char *s, size_t len, int timeout_ms);

/* ---- status ------------------------------------------------------------ */

/* 1 allocated, 0 free, -ERANGE, -EINVAL. */
SHPOOL_API int shpool_is_allocated(shpool_t *p, uint64_t idx);
SHPOOL_API uint64_t shpool_capacity(shpool_t *p);
/* elem_size as created (max_len for STR, 8/4/8 for I64/I32/F64). */
SHPOOL_API uint32_t shpool_elem_size(shpool_t *p);
/* The pool's kind, or -EINVAL for NULL. */
SHPOOL_API int shpool_kind_of(shpool_t *p);
/* "raw", "i64", "i32", "f64" or "str"; NULL for any other value. */
SHPOOL_API const char *shpool_kind_name(shpool_kind kind);
/* Allocated slots now (a snapshot under concurrency). */
SHPOOL_API uint64_t shpool_used(shpool_t *p);
SHPOOL_API uint64_t shpool_available(shpool_t *p);
/* PID of the process that owns slot idx; 0 when free; -ERANGE, -EINVAL. */
SHPOOL_API pid_t shpool_owner(shpool_t *p, uint64_t idx);

typedef struct shpool_stats {
	uint64_t capacity;
	uint64_t elem_size;
	uint64_t used;
	uint64_t available;
	uint64_t waiters;    /* processes/threads blocked in alloc now */
	uint64_t mmap_size;
	uint64_t allocs;     /* the counters below only rise, and are exact */
	uint64_t frees;      /* once the pool is quiet: see shpool_stats(3) */
	uint64_t waits;      /* allocations that had to block */
	uint64_t timeouts;
	uint64_t recoveries; /* slots freed by shpool_recover_stale */
	uint64_t reset_frees; /* slots freed by shpool_reset */
	uint64_t reserved[4];
} shpool_stats_t;
SHPOOL_API int shpool_stats(shpool_t *p, shpool_stats_t *out);
/* Size in bytes of the pages backing this process's mapping of the pool:
 * the huge page size (e.g. 2097152) when it is on huge pages (hugetlb),
 * else the system page size; 0 for NULL. */
SHPOOL_API size_t shpool_page_size(shpool_t *p);

/* ---- recovery ---------------------------------------------------------- */

/* Free slots whose owning process is dead; returns how many. Safe at any
 * time, from any process, during live traffic. */
SHPOOL_API int64_t shpool_recover_stale(shpool_t *p);
/* Free every slot; the caller guarantees nobody else uses the pool. Wakes
 * all waiters. */
SHPOOL_API int shpool_reset(shpool_t *p);
/* Cross-check bitmap, summary, owner records and counters; describe each
 * inconsistency on report (may be NULL). Returns the number found (0 when
 * consistent) or -errno. */
SHPOOL_API int shpool_check(shpool_t *p, FILE *report);

/* ---- guards: a slot freed when the guard leaves scope ------------------- */

/* A guard holds a slot while idx >= 0. Once it holds nothing (released,
 * disarmed, cleaned up) idx is -ENOENT; after a failed allocation it is that
 * allocation's -errno. Only the process that allocated frees through it: a
 * copy of the guard in a fork(2) child never frees the parent's slot. */
typedef struct shpool_guard {
	shpool_t *pool;
	int64_t idx;  /* slot index, or -errno: -ENOENT when emptied */
	pid_t pid;    /* the process that allocated */
} shpool_guard_t;
/* Allocate with shpool_alloc(p, timeout_ms) into a guard. */
SHPOOL_API shpool_guard_t shpool_guard_alloc(shpool_t *p, int timeout_ms);
/* Free the slot early and empty the guard: shpool_free()'s result;
 * -ENOENT if the guard holds nothing, -EPERM (guard unchanged, nothing
 * freed) in a process other than the allocating one, -EINVAL for NULL. */
SHPOOL_API int shpool_guard_release(shpool_guard_t *g);
/* Keep the slot: empty the guard and return the index, which the caller
 * now owns (also in a fork child); -ENOENT if empty, -EINVAL for NULL. */
SHPOOL_API int64_t shpool_guard_disarm(shpool_guard_t *g);
/* What SHPOOL_GUARD runs at scope exit: frees the slot if the guard holds
 * one and this is the allocating process, then empties the guard. Keeps
 * errno; NULL and empty guards are no-ops. */
SHPOOL_API void shpool_guard_cleanup(shpool_guard_t *g);
#if defined(__GNUC__)
#define SHPOOL_GUARD(name) \
	__attribute__((cleanup(shpool_guard_cleanup))) shpool_guard_t name
#endif

/* ---- common ------------------------------------------------------------ */

/* The file path, NULL for anonymous and memfd pools. */
SHPOOL_API const char *shpool_path(shpool_t *p);
/* The pool's own memfd, -1 if not memfd-backed. */
SHPOOL_API int shpool_memfd(shpool_t *p);
/* msync(2) the mapping (file-backed pools). */
SHPOOL_API int shpool_sync(shpool_t *p);
/* Remove the backing file; -EINVAL for anonymous and memfd pools. */
SHPOOL_API int shpool_unlink(shpool_t *p);

/* ---- eventfd integration ------------------------------------------------ */
/*
 * An eventfd lets an event loop wait for room without blocking a thread in
 * shpool_alloc(): poll it for readability, drain it with
 * shpool_eventfd_consume(), then call shpool_try_alloc() until -EAGAIN before
 * waiting again. doc/eventfd.md has the whole model; in short:
 *
 *  - The eventfd belongs to this process's handle, not to the segment. A
 *    free signals the eventfd of the handle it is called on. Another process
 *    frees into YOUR eventfd only if its handle holds the same eventfd:
 *    inherited over fork(2), or received with SCM_RIGHTS and adopted with
 *    shpool_eventfd_set().
 *  - With SHPOOL_NOTIFY_ON_FREE in the pool's creation flags, shpool_free()
 *    adds 1 and shpool_free_n() (and shpool_recover_stale()) add the number
 *    of slots they freed, in one write, when that number is not 0. Without
 *    the flag, or without an eventfd on the handle, frees signal nothing. A
 *    free never fails because of the eventfd.
 *  - The counter counts signalled frees, not free slots: other allocators
 *    may take the slots first, and frees through handles without the shared
 *    eventfd are not counted. Treat a readable eventfd as "look again".
 *  - The descriptor is O_NONBLOCK and FD_CLOEXEC. It is closed by
 *    shpool_close(). A fork(2) child inherits the handle and the same
 *    eventfd: frees in either process signal it, and a consume in either
 *    takes the pending count.
 */

/* Create this handle's eventfd (EFD_CLOEXEC | EFD_NONBLOCK) if it has none;
 * returns it. Idempotent and thread-safe: concurrent callers all get the
 * same descriptor and none is leaked.
 * Returns the fd, -EINVAL (NULL handle), or -EMFILE/-ENFILE/-ENOMEM from
 * eventfd(2). */
SHPOOL_API int shpool_eventfd(shpool_t *p);
/* Adopt fd, an eventfd (e.g. received over a Unix socket), as this handle's
 * eventfd. On success the pool owns fd and closes it in shpool_close(); do
 * not close it yourself, and to share one eventfd between two handles of
 * one process give each its own dup(2). fd is made O_NONBLOCK (a flag of
 * the open file description, so every holder sees it) and FD_CLOEXEC.
 * If the handle already has an eventfd, fd's eventfd replaces it under the
 * handle's existing descriptor number (dup3(2)): the old eventfd is closed,
 * fd itself is closed, and the number returned is the old one. This keeps
 * frees racing in other threads from writing to a closed or reused number.
 * Re-register the returned fd with your event loop after a replacement.
 * Passing the handle's own eventfd is a no-op.
 * Returns the descriptor now in use (== shpool_fileno(p)); -EBADF if fd is
 * not open; -EINVAL if p is NULL, fd is not an eventfd, is a semaphore-mode
 * (EFD_SEMAPHORE) eventfd, or /proc/self/fdinfo cannot tell. On failure fd
 * stays the caller's and the handle is unchanged. */
SHPOOL_API int shpool_eventfd_set(shpool_t *p, int fd);
/* This handle's eventfd, -1 if none (or p is NULL). */
SHPOOL_API int shpool_fileno(shpool_t *p);
/* Add 1 to the eventfd counter (wake the event loop by hand).
 * Returns 0; -EBADF if the handle has no eventfd; -EAGAIN if the counter
 * is at its maximum (2^64 - 2; the descriptor is readable anyway); -EINVAL
 * for a NULL handle. */
SHPOOL_API int shpool_notify(shpool_t *p);
/* Read and reset the counter without blocking: returns its value (capped
 * at INT64_MAX), 0 if nothing was pending; -EBADF if the handle has no
 * eventfd; -EINVAL for a NULL handle. */
SHPOOL_API int64_t shpool_eventfd_consume(shpool_t *p);

/* ---- errors and version -------------------------------------------------- */

/* Detail of this thread's last failure ("" if none). */
SHPOOL_API const char *shpool_last_error(void);
/* Text for a code returned by any call (negative or positive errno). */
SHPOOL_API const char *shpool_strerror(int err);
/* "MAJOR.MINOR.PATCH" of the library actually linked. */
SHPOOL_API const char *shpool_version(void);

#ifdef __cplusplus
}
#endif
#endif /* SHPOOL_H */

/* SPDX-License-Identifier: MIT */
/* Creating and attaching the shared mapping: file, anonymous, memfd, fd. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shpool-internal.h"

#define PAGE 4096u
/* No mapping larger than this: beyond any x86-64/arm64 user address space;
 * in a 32-bit process, whatever its size_t (the length mmap(2) takes) can
 * hold, in whole pages. A larger 64-bit size would reach mmap cut short. */
#define MAX_MAPPING_64 (UINT64_C(1) << 46)
#define MAX_MAPPING \
	((uint64_t)SIZE_MAX < MAX_MAPPING_64 ? (uint64_t)SIZE_MAX - PAGE + 1 : MAX_MAPPING_64)

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

int shpool_rdonly_error(const char *fn)
{
	return shpool_fail(-EROFS, "pool opened read-only (SHPOOL_RDONLY): %s changes it", fn);
}

static uint64_t round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

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
		return (uint32_t)round_up(slot_bytes, SHPOOL_CACHELINE);
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
	off += round_up((g->nwords[0] << g->l0_shift) * 8, SHPOOL_CACHELINE);
	for (uint32_t l = 1; l < g->nlevels; l++) {
		g->off_level[l] = off;
		off += round_up(g->nwords[l] * 8, SHPOOL_CACHELINE);
	}
	g->off_owner = off;
	off += round_up(capacity * 8, SHPOOL_CACHELINE);
	/* Page-aligned data, so zero-copy users get aligned buffers. */
	g->off_data = round_up(off, PAGE);
	/* capacity <= 2^32 and stride <= 2^30 + 64, so this cannot overflow,
	 * but the check keeps it honest if the limits ever move. */
	if (__builtin_mul_overflow(capacity, (uint64_t)g->stride, &data_bytes) ||
	    __builtin_add_overflow(g->off_data, data_bytes, &g->total_size) ||
	    round_up(g->total_size, PAGE) > MAX_MAPPING)
		return shpool_fail(-ENOMEM, "pool of %" PRIu64 " slots of %" PRIu32
				   " bytes is larger than the address space allows (%s: at most "
				   "%" PRIu64 " bytes)", capacity, g->stride,
				   sizeof(size_t) < 8 ? "a 32-bit process" : "any mapping",
				   MAX_MAPPING);
	g->total_size = round_up(g->total_size, PAGE);
	return 0;
}

int shpool_range_error(const struct shpool *p, uint64_t idx, const char *fn)
{
	return shpool_fail(-ERANGE, "%s: slot %" PRIu64 " out of range (capacity %" PRIu64 ")",
			   fn, idx, p->g.capacity);
}

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
static int header_validate(const struct shpool_header *h, uint64_t size, const char *name,
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
	if (size != (hpage ? round_up(g->total_size, hpage) : g->total_size))
		return shpool_fail(-EBADMSG, "%s: size mismatch: segment has %" PRIu64
				   " bytes, its header needs %" PRIu64 "%s (truncated?)",
				   name, size, g->total_size,
				   hpage ? " rounded up to whole huge pages" : "");
	return 0;
}

/* A mapping of a pool: where, how long, on pages of what size. */
struct shpool_map {
	uint8_t *base;
	uint64_t size;
	uint64_t page;
};

/* The mapping a layout needs on pages of hpage bytes (0: normal pages). */
static struct shpool_map map_plan(const struct shpool_layout *g, uint64_t hpage)
{
	struct shpool_map m = { NULL, g->total_size, shpool_base_page() };

	if (hpage) {
		m.size = round_up(g->total_size, hpage);
		m.page = hpage;
	}
	return m;
}

/* Refuse a mapping whose length this process's size_t cannot hold: the
 * layout fits (shpool_layout_compute()), but its rounding up to whole
 * huge pages may not. */
static int map_fits(const struct shpool_map *m, const char *name)
{
	if (m->size <= MAX_MAPPING)
		return 0;
	return shpool_fail(-ENOMEM, "%s: %" PRIu64 " bytes (whole huge pages of %" PRIu64
			   ") are larger than this process's address space allows", name,
			   m->size, m->page);
}

/* *hpage: the huge page size of the file system under fd, 0 if it is not
 * hugetlbfs. SHPOOL_HUGEPAGES (without _PREFER) refuses the latter: a file
 * pool gets huge pages only from hugetlbfs. */
static int fd_pages(int fd, const char *name, unsigned mflags, uint64_t *hpage)
{
	int rc = shpool_fd_huge_page(fd, hpage);

	if (rc < 0)
		return shpool_fail(rc, "%s: fstatfs: %s", name, strerror(-rc));
	if (*hpage || (mflags & SHPOOL_HUGE_FLAGS) != SHPOOL_HUGEPAGES)
		return 0;
	if (!shpool_huge_page_size())
		return shpool_huge_unsupported(name);
	return shpool_fail(-EINVAL, "%s: not on a hugetlbfs mount, so it cannot have huge pages "
			   "(SHPOOL_HUGEPAGES): put the pool under one (e.g. mount -t hugetlbfs "
			   "none /dev/hugepages), or pass SHPOOL_HUGEPAGES_PREFER", name);
}

/* A handle not yet bound to a mapping: allocated before a new pool file
 * is published, so that nothing can fail once the pool is visible. */
static struct shpool *handle_alloc(const char *path)
{
	struct shpool *p = SHPOOL_FAULT_POINT("handle.alloc") ? NULL : calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->path = path ? strdup(path) : NULL;
	if (path && !p->path) {
		free(p);
		return NULL;
	}
	p->fd = -1;
	atomic_init(&p->evfd, -1);
	p->serial = shpool_new_serial();
	return p;
}

static int handle_nomem(void)
{
	return shpool_fail(-ENOMEM, "out of memory for the pool handle");
}

/* Point h at an initialised mapping m of layout g. */
static void handle_bind(struct shpool *p, const struct shpool_layout *g,
			const struct shpool_map *m, bool rdonly)
{
	uint8_t *base = m->base;

	p->g = *g;
	p->base = base;
	p->map_size = m->size;
	p->page_size = m->page;
	p->st = (struct shpool_state *)(base + g->off_state);
	for (uint32_t l = 0; l < g->nlevels; l++)
		p->level[l] = (_Atomic uint64_t *)(base + g->off_level[l]);
	p->owner = (_Atomic uint64_t *)(base + g->off_owner);
	p->data = base + g->off_data;
	p->wkind = rdonly ? SHPOOL_ANY_KIND : g->kind;
}

/* A new pool owns an initialised mapping m (and fd, if >= 0): on failure
 * both are released. */
static int pool_new(shpool_t **out, const struct shpool_layout *g, const struct shpool_map *m,
		    const char *path, int fd, bool is_memfd, bool rdonly)
{
	struct shpool *p = handle_alloc(path);

	if (!p) {
		munmap(m->base, m->size);
		if (fd >= 0)
			close(fd);
		return handle_nomem();
	}
	handle_bind(p, g, m, rdonly);
	p->fd = fd;
	p->is_memfd = is_memfd;
	*out = p;
	return 0;
}

/* The mapping's pages as mflags ask: transparent huge pages advised where
 * huge ones were wanted but normal ones came; everything faulted in now
 * for SHPOOL_POPULATE (on failure the mapping is gone). */
static int map_pages(struct shpool_map *m, unsigned mflags, bool rdonly, const char *name)
{
	int rc;

	if ((mflags & SHPOOL_HUGE_FLAGS) && m->page == shpool_base_page())
		shpool_thp_advise(m->base, m->size);
	if (!(mflags & SHPOOL_POPULATE))
		return 0;
	rc = shpool_populate(m->base, m->size, m->page, rdonly, name);
	if (rc < 0)
		munmap(m->base, m->size);
	return rc;
}

static int map_fd(int fd, struct shpool_map *mp, bool rdonly, unsigned mflags, const char *name)
{
	int prot = rdonly ? PROT_READ : PROT_READ | PROT_WRITE;
	int rc = map_fits(mp, name);
	void *m;

	if (rc < 0)
		return rc;
	m = mmap(NULL, (size_t)mp->size, prot, MAP_SHARED, fd, 0);

	if (m == MAP_FAILED && errno == EACCES && !rdonly)
		return shpool_fail(-EACCES, "%s: cannot map it writable (opened read-only?); "
				   "attach with SHPOOL_RDONLY to only read it", name);
	if (m == MAP_FAILED)
		return shpool_fail(-errno, "%s: mmap of %" PRIu64 " bytes: %s", name, mp->size,
				   strerror(errno));
	mp->base = m;
	return map_pages(mp, mflags, rdonly, name);
}

/* posix_fallocate() of [off, off + len), retried on EINTR. tmpfs and memfd
 * (shmem_fallocate()) give up with EINTR when any caught signal is pending,
 * e.g. a periodic timer or SIGCHLD, on kernels before mid-2024 (Debian 12's
 * 6.1 among them; later ones stop only for fatal signals), and first undo
 * everything that call allocated. So allocate in steps that shrink on each
 * interruption: a retry redoes at most one step, and a steady stream of
 * signals cannot keep a large pool from ever being created. Returns 0 or
 * an errno. */
static int reserve(int fd, uint64_t off, uint64_t len)
{
	uint64_t step = UINT64_C(64) << 20;

	while (len > 0) {
		uint64_t n = len < step ? len : step;
		int rc = -SHPOOL_FAULT_POINT("size.fallocate");

		if (rc == 0)
			rc = posix_fallocate(fd, (off_t)off, (off_t)n);
		if (rc == EINTR) {
			step = step > 2 * PAGE ? step / 2 : PAGE;
			continue;
		}
		if (rc != 0)
			return rc;
		off += n;
		len -= n;
	}
	return 0;
}

/* Reserve the blocks now, so that a full disk or /dev/shm is an error here
 * and not a SIGBUS on first touch later. On hugetlbfs this takes the huge
 * pages themselves: a shortage shows here, as -ENOMEM. */
static int size_fd(int fd, const struct shpool_map *m, const char *name)
{
	uint64_t size = m->size;
	int rc = reserve(fd, 0, size);

	if ((rc == ENOSPC || rc == ENOMEM) && m->page != shpool_base_page())
		return shpool_huge_nomem(name, size, m->page);

	if (rc == EOPNOTSUPP || rc == EINVAL) {
		/* No fallocate here: a sparse file of the right size. */
		do
			rc = ftruncate(fd, (off_t)size) < 0 ? errno : 0;
		while (rc == EINTR);
	}
	if (rc != 0)
		return shpool_fail(-rc, "%s: cannot size to %" PRIu64 " bytes: %s", name, size,
				   strerror(rc));
	return 0;
}

/* Attach the pool behind fd (which the caller keeps). `want`, if given,
 * holds the geometry the caller asked for; `by_path` says fd was opened by
 * name. On success the mapping is made (read-only with `rdonly`). */
static int attach_fd(int fd, const char *name, shpool_kind kind, const struct shpool_layout *want,
		     bool by_path, bool rdonly, unsigned mflags, struct shpool_layout *g,
		     struct shpool_map *m)
{
	struct shpool_header h;
	struct stat st;
	uint64_t hpage;
	ssize_t n;
	int rc;

	if (fstat(fd, &st) < 0)
		return shpool_fail(-errno, "%s: fstat: %s", name, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return shpool_fail(-EINVAL, "%s: not a regular file", name);
	/* A second name is what a hard link planted at a pool's path looks
	 * like: someone who may write to the directory can point it at any
	 * file of ours, say another pool of the same geometry. Refused like a
	 * symbolic link (O_NOFOLLOW); creation never shows two names (see
	 * publish()). An fd is the caller's choice: not checked. */
	if (by_path && st.st_nlink > 1)
		return shpool_fail(-EMLINK, "%s: has %ju hard links; a pool file must have exactly "
				   "one name (refused)", name, (uintmax_t)st.st_nlink);
	if (st.st_size == 0)
		return shpool_fail(-EBADMSG, "%s: empty file, not a pool yet (shpool_create() "
				   "makes a pool of an empty file its caller owns)", name);
	if ((uint64_t)st.st_size < sizeof(h))
		return shpool_fail(-EBADMSG, "%s: truncated: %jd bytes, a pool header needs %zu",
				   name, (intmax_t)st.st_size, sizeof(h));
	do
		n = pread(fd, &h, sizeof(h), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(h))
		return shpool_fail(n < 0 ? -errno : -EBADMSG, "%s: cannot read header: %s", name,
				   n < 0 ? strerror(errno) : "short read");
	rc = fd_pages(fd, name, mflags, &hpage);
	if (rc < 0)
		return rc;
	rc = header_validate(&h, (uint64_t)st.st_size, name, kind, hpage, g);
	if (rc < 0)
		return rc;
	if (want && want->capacity != g->capacity)
		return shpool_fail(-EINVAL, "%s: capacity mismatch: segment has %" PRIu64
				   ", asked %" PRIu64, name, g->capacity, want->capacity);
	if (want && want->elem_size != g->elem_size)
		return shpool_fail(-EINVAL, "%s: elem_size mismatch: segment has %" PRIu32
				   ", asked %" PRIu32, name, g->elem_size, want->elem_size);
	*m = map_plan(g, hpage);
	return map_fd(fd, m, rdonly, mflags, name);
}

static int open_existing(const char *path, bool rdonly)
{
	int fd;

	/* O_NONBLOCK: a FIFO or device at the path must not hang us before
	 * the regular-file check in attach_fd(). */
	do
		fd = open(path, (rdonly ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
				O_NOCTTY);
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}

static int open_error(const char *path, int err, bool rdonly)
{
	if (err == -ELOOP)
		return shpool_fail(err, "%s: is a symbolic link (refused)", path);
	if (err == -EACCES && !rdonly)
		return shpool_fail(err, "%s: %s (to only read the pool, attach it with "
				   "SHPOOL_RDONLY)", path, strerror(-err));
	return shpool_fail(err, "%s: %s", path, strerror(-err));
}

/*
 * The initialisation lock. shpool_create() makes a pool of an empty file in
 * place (adopt() below), so that file is visible while it is half made.
 * The adopter holds an exclusive flock(2) on it from before it looks at
 * the size until the header is written; whoever attaches by path takes a
 * shared one around reading the header and mapping. Both unlock by hand
 * (init_unlock()): a mapping keeps the open file, and with it the lock,
 * alive after close(2). A creator waits for it; an opener does
 * not, and gets -EAGAIN: an initialisation is short, but one stopped or
 * stuck must not hang every reader. Pools made under a hidden name are
 * never locked; and a file that already has its magic is attached without
 * the lock (attach_path()): the lock is the library's only while a pool is
 * in the making, and a finished pool file's flock(2) is its users'.
 */
static int init_lock(int fd, const char *path, int how)
{
	int rc;

	do
		rc = flock(fd, how);
	while (rc < 0 && errno == EINTR);
	if (rc == 0)
		return 0;
	if (errno == EWOULDBLOCK)
		return shpool_fail(-EAGAIN, "%s: another process is making a pool of this empty "
				   "file right now; try again", path);
	/* A file system without flock (ENOLCK, EINVAL): go on unlocked; a
	 * half-made pool then fails the header checks (-EBADMSG). */
	if (errno == ENOLCK || errno == EINVAL || errno == EOPNOTSUPP)
		return 0;
	return shpool_fail(-errno, "%s: flock: %s", path, strerror(errno));
}

static void init_unlock(int fd)
{
	/* Fails only where init_lock() went on unlocked. */
	(void)flock(fd, LOCK_UN);
}

/* Does the file behind fd start with the magic? Written last of the header
 * (header_write()), so a pool that has it is whole and needs no
 * initialisation lock; one that lacks it may be in the making. */
static bool has_magic(int fd)
{
	char magic[sizeof(((struct shpool_header *)0)->magic)];
	ssize_t n;

	do
		n = pread(fd, magic, sizeof(magic), 0);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(magic) && memcmp(magic, SHPOOL_MAGIC, sizeof(magic)) == 0;
}

/* Attach the pool at path; `creator`: wait for an initialisation in
 * progress rather than fail with -EAGAIN. Only a file without the magic
 * yet (empty, or being made a pool in place) is read under the lock: a
 * finished pool is attached without it, so that a program's own flock(2)
 * of its pool file never stands in the way. */
static int attach_path(shpool_t **out, const char *path, shpool_kind kind,
		       const struct shpool_layout *want, bool rdonly, bool creator, unsigned mflags,
		       int fd)
{
	struct shpool_layout g;
	struct shpool_map m;
	bool whole = has_magic(fd);
	int rc = whole ? 0 : init_lock(fd, path, creator ? LOCK_SH : LOCK_SH | LOCK_NB);

	if (rc == 0) {
		rc = attach_fd(fd, path, kind, want, true, rdonly, mflags, &g, &m);
		if (!whole)
			init_unlock(fd);
	}
	close(fd);
	return rc < 0 ? rc : pool_new(out, &g, &m, path, -1, false, rdonly);
}

/* A nameless file in dir, or -errno (-EOPNOTSUPP: take the fallback). */
static int open_tmpfile(const char *dir)
{
	int fd = SHPOOL_FAULT_POINT("create.tmpfile");

	/* An O_TMPFILE is named through /proc/self/fd (see publish()). */
	if (fd == 0 && access("/proc/self/fd", X_OK) != 0)
		fd = -EOPNOTSUPP;
	if (fd < 0)
		return fd;
	/* EINTR: only where open can block (FUSE, NFS), but then retry. */
	do
		fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}

/* A file in path's directory that nobody else can see yet. With O_TMPFILE
 * it has no name at all; otherwise a hidden unique name in *tmpname. */
static int temp_in_dir(const char *path, char **tmpname)
{
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path) : 0;
	char *dir = NULL, *name;
	int fd;

	*tmpname = NULL;
	if (slash) {
		dir = strndup(path, dirlen ? dirlen : 1);
		if (!dir)
			return -ENOMEM;
	}
	/* Without /proc, or on a file system without O_TMPFILE, use a
	 * hidden unique name. */
	fd = open_tmpfile(dir ? dir : ".");
	if (fd >= 0 || (fd != -EOPNOTSUPP && fd != -EISDIR && fd != -EINVAL)) {
		free(dir);
		return fd;
	}
	if (asprintf(&name, "%s%s.shpool-XXXXXX", dir ? dir : "", dir && dirlen ? "/" : "") < 0) {
		free(dir);
		return -ENOMEM;
	}
	free(dir);
	do {
		/* A failed try may leave the template filled in: reset it. */
		memcpy(name + strlen(name) - 6, "XXXXXX", 6);
		fd = mkostemp(name, O_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		fd = -errno;
		free(name);
		return fd;
	}
	*tmpname = name;
	return fd;
}

/* Give the finished temp file its name, never replacing an existing file:
 * of two racing creators exactly one wins; the other gets -EEXIST and
 * attaches the winner's pool. The pool never shows two names at once
 * (attaching by path refuses a file with hard links): linkat() names the
 * nameless O_TMPFILE, and a hidden temp name is renamed with
 * RENAME_NOREPLACE. Only where neither works (no O_TMPFILE or /proc, and a
 * file system without RENAME_NOREPLACE) is it link() then unlink(), and an
 * attacher in between is refused with -EMLINK. *tmpname is freed and
 * cleared once that name is gone. */
static int publish(int fd, char **tmpname, const char *path)
{
	char proc[64];

	if (*tmpname) {
#ifdef HAVE_RENAMEAT2
		if (renameat2(AT_FDCWD, *tmpname, AT_FDCWD, path, RENAME_NOREPLACE) == 0) {
			free(*tmpname);
			*tmpname = NULL;
			return 0;
		}
		if (errno != EINVAL && errno != ENOSYS)
			return -errno;
#endif
		return link(*tmpname, path) < 0 ? -errno : 0;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
}

static void header_write(uint8_t *base, const struct shpool_layout *g)
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

/* Build a complete pool file and link it at path. -EEXIST: lost the race. */
static int create_file(shpool_t **out, const char *path, const struct shpool_layout *g,
		       unsigned mode, unsigned mflags)
{
	struct shpool *p = handle_alloc(path);
	struct shpool_map m;
	uint64_t hpage;
	char *tmpname;
	int fd, rc;

	/* The handle first: once the pool is published, nothing may fail
	 * (a caller would see an error and a new pool file). */
	if (!p)
		return handle_nomem();
	fd = temp_in_dir(path, &tmpname);
	if (fd < 0) {
		free(p->path);
		free(p);
		return shpool_fail(fd, "%s: cannot create: %s", path, strerror(-fd));
	}
	/* fchmod, not the open mode: the result must not depend on umask. */
	if (fchmod(fd, mode) < 0) {
		rc = shpool_fail(-errno, "%s: fchmod: %s", path, strerror(errno));
		goto out;
	}
	rc = fd_pages(fd, path, mflags, &hpage);
	if (rc < 0)
		goto out;
	m = map_plan(g, hpage);
	rc = size_fd(fd, &m, path);
	if (rc < 0)
		goto out;
	rc = map_fd(fd, &m, false, mflags, path);
	if (rc < 0)
		goto out;
	header_write(m.base, g);
	rc = publish(fd, &tmpname, path);
	if (rc < 0) {
		munmap(m.base, m.size);
		if (rc != -EEXIST)
			rc = shpool_fail(rc, "%s: cannot create: %s", path, strerror(-rc));
		goto out;
	}
	handle_bind(p, g, &m, false);
	*out = p;
	p = NULL;
out:
	if (p) {
		free(p->path);
		free(p);
	}
	/* The temporary name goes whether or not the pool got its real one. */
	if (tmpname)
		unlink(tmpname);
	free(tmpname);
	close(fd);
	return rc;
}

static int check_out(shpool_t **out)
{
	if (!out)
		return shpool_fail(-EINVAL, "out must not be NULL");
	*out = NULL;
	return 0;
}

/* The same options are valid for every kind of pool, even where a field
 * (mode) has no effect, so a program's mistake shows wherever it runs. */
static int check_options(const shpool_options *opts)
{
	if (opts && (opts->mode & ~0777u))
		return shpool_fail(-EINVAL, "mode 0%o has bits beyond 0777", opts->mode);
	for (size_t i = 0; opts && i < sizeof(opts->reserved) / sizeof(opts->reserved[0]); i++)
		if (opts->reserved[i])
			return shpool_fail(-EINVAL, "shpool_options.reserved[%zu] must be zero", i);
	return 0;
}

/* The layout from the creation parameters: the flags it records are those
 * that are not about this process's mapping (*mflags gets those). */
static int create_layout(struct shpool_layout *g, shpool_kind kind, uint64_t capacity,
			 uint32_t elem_size, const shpool_options *opts, unsigned *mflags)
{
	unsigned flags = opts ? opts->flags : 0;
	int rc = check_options(opts);

	if (rc < 0)
		return rc;
	*mflags = flags & SHPOOL_MAPPING_FLAGS;
	return shpool_layout_compute(g, kind, capacity, elem_size, flags & ~SHPOOL_MAPPING_FLAGS);
}

/* An anonymous mapping on huge pages: MAP_HUGETLB takes them from the
 * reserve when it maps (a shortage is ENOMEM here, not a SIGBUS later). */
static int map_anonymous_huge(const struct shpool_layout *g, struct shpool_map *m)
{
	uint64_t hpage = shpool_huge_page_size();
	void *b;

	if (!hpage)
		return shpool_huge_unsupported("anonymous pool");
	*m = map_plan(g, hpage);
	if (map_fits(m, "anonymous pool") < 0)
		return -ENOMEM;
	b = mmap(NULL, (size_t)m->size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (b == MAP_FAILED && errno == ENOMEM)
		return shpool_huge_nomem("anonymous pool", m->size, hpage);
	if (b == MAP_FAILED)
		return shpool_fail(-errno, "anonymous pool: MAP_HUGETLB mapping of %" PRIu64
				   " bytes: %s", m->size, strerror(errno));
	m->base = b;
	return 0;
}

static int create_anonymous(shpool_t **out, const struct shpool_layout *g, unsigned mflags)
{
	struct shpool_map m = map_plan(g, 0);
	int rc = -1;
	void *b;

	if (mflags & SHPOOL_HUGE_FLAGS) {
		rc = map_anonymous_huge(g, &m);
		if (rc < 0 && !(mflags & SHPOOL_HUGEPAGES_PREFER))
			return rc;
	}
	if (rc < 0) { /* normal pages: asked for, or the fallback */
		m = map_plan(g, 0);
		b = mmap(NULL, m.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (b == MAP_FAILED)
			return shpool_fail(-errno, "anonymous mapping of %" PRIu64 " bytes: %s",
					   m.size, strerror(errno));
		m.base = b;
	}
	rc = map_pages(&m, mflags, false, "anonymous pool");
	if (rc < 0)
		return rc;
	header_write(m.base, g);
	return pool_new(out, g, &m, NULL, -1, false, false);
}

/* Is the file st describes one shpool_create() may make a pool of: an
 * empty regular file with one name, owned by the caller? 1 yes, 0 not empty
 * (attach it), else -errno: an empty file that is not ours to take. */
static int adoptable(const char *path, const struct stat *st)
{
	if (!S_ISREG(st->st_mode) || st->st_size != 0)
		return 0; /* attach_fd() says what is wrong with it */
	if (st->st_nlink > 1)
		return shpool_fail(-EMLINK, "%s: has %ju hard links; a pool file must have exactly "
				   "one name (refused)", path, (uintmax_t)st->st_nlink);
	if (st->st_uid != geteuid())
		return shpool_fail(-EPERM, "%s: empty file owned by uid %ju, not by this process "
				   "(uid %ju): not made into a pool", path, (uintmax_t)st->st_uid,
				   (uintmax_t)geteuid());
	return 1;
}

/* Make a pool of the empty file behind fd, in place, under the exclusive
 * initialisation lock (see init_lock()). 0 and *out set; 1 when the file
 * is no longer empty once locked (another creator made it a pool: attach
 * it); else -errno, and a file we had sized is empty again. */
static int adopt_locked(shpool_t **out, int fd, const char *path, const struct shpool_layout *g,
			const shpool_options *opts, unsigned mflags)
{
	struct shpool_map m;
	struct shpool *p;
	struct stat st;
	uint64_t hpage;
	int rc;

	if (fstat(fd, &st) < 0)
		return shpool_fail(-errno, "%s: fstat: %s", path, strerror(errno));
	rc = adoptable(path, &st);
	if (rc <= 0)
		return rc < 0 ? rc : 1;
	rc = fd_pages(fd, path, mflags, &hpage);
	if (rc < 0)
		return rc;
	m = map_plan(g, hpage);
	p = handle_alloc(path); /* first: nothing may fail once the pool is whole */
	if (!p)
		return handle_nomem();
	rc = 0;
	SHPOOL_CRASH_POINT("create.adopt_locked");
	/* The file's mode is its maker's choice unless the caller gives one. */
	if (opts && opts->mode && fchmod(fd, opts->mode) < 0)
		rc = shpool_fail(-errno, "%s: fchmod: %s", path, strerror(errno));
	if (rc == 0)
		rc = size_fd(fd, &m, path);
	SHPOOL_CRASH_POINT("create.adopt_sized");
	if (rc == 0)
		rc = map_fd(fd, &m, false, mflags, path);
	if (rc < 0) {
		/* Give the file back as we found it: empty. */
		if (ftruncate(fd, 0) < 0) {
			/* Nothing more to do; the header checks refuse it. */
		}
		free(p->path);
		free(p);
		return rc;
	}
	header_write(m.base, g);
	handle_bind(p, g, &m, false);
	*out = p;
	return 0;
}

/* The file at path exists (fd, opened read-write): make a pool of it if it
 * is an empty file of ours, else attach it. Consumes fd. */
static int create_at(shpool_t **out, int fd, const char *path, const struct shpool_layout *g,
		     const shpool_options *opts, unsigned mflags)
{
	struct stat st;
	int rc;

	if (fstat(fd, &st) < 0) {
		rc = shpool_fail(-errno, "%s: fstat: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	rc = adoptable(path, &st);
	if (rc == 1) {
		rc = init_lock(fd, path, LOCK_EX);
		if (rc == 0) {
			rc = adopt_locked(out, fd, path, g, opts, mflags);
			init_unlock(fd);
		}
		if (rc != 1) {
			close(fd);
			return rc;
		}
		/* Made a pool by another creator meanwhile: attach it. */
	}
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return attach_path(out, path, g->kind, g, false, true, mflags, fd);
}

int shpool_create(shpool_t **out, const char *path, shpool_kind kind, uint64_t capacity,
		  uint32_t elem_size, const shpool_options *opts)
{
	struct shpool_layout g;
	unsigned mode = opts && opts->mode ? opts->mode : 0600, mflags = 0;
	int rc;

	rc = check_out(out);
	if (rc < 0)
		return rc;
	rc = create_layout(&g, kind, capacity, elem_size, opts, &mflags);
	if (rc < 0)
		return rc;
	if (!path)
		return create_anonymous(out, &g, mflags);
	if (!*path)
		return shpool_fail(-EINVAL, "empty path");

	/* Attach if it exists, else create; a lost creation race loops back
	 * to attach. Three rounds cover a file removed in between as well. */
	for (int round = 0; round < 3; round++) {
		int fd = open_existing(path, false);

		if (fd >= 0)
			return create_at(out, fd, path, &g, opts, mflags);
		if (fd != -ENOENT)
			return open_error(path, fd, false);
		rc = create_file(out, path, &g, mode, mflags);
		if (rc != -EEXIST)
			return rc;
	}
	return shpool_fail(-EAGAIN, "%s: appeared and vanished repeatedly while creating", path);
}

static int check_attach_flags(unsigned int flags, const char *fn)
{
	unsigned known = SHPOOL_RDONLY | SHPOOL_POPULATE;

	if (flags & ~known)
		return shpool_fail(-EINVAL, "%s: unknown flags 0x%x (only SHPOOL_RDONLY and "
				   "SHPOOL_POPULATE)", fn, flags & ~known);
	return 0;
}

int shpool_attach(shpool_t **out, const char *path, shpool_kind kind, unsigned int flags)
{
	bool rdonly = flags & SHPOOL_RDONLY;
	int fd, rc;

	rc = check_out(out);
	if (rc == 0)
		rc = check_attach_flags(flags, __func__);
	if (rc < 0)
		return rc;
	if (!path || !*path)
		return shpool_fail(-EINVAL, "%s needs a path", __func__);
	fd = open_existing(path, rdonly);
	if (fd < 0)
		return open_error(path, fd, rdonly);
	return attach_path(out, path, kind, NULL, rdonly, false, flags & SHPOOL_POPULATE, fd);
}

int shpool_open(shpool_t **out, const char *path, shpool_kind kind)
{
	return shpool_attach(out, path, kind, 0);
}

/* A memfd sized and mapped for layout g, on huge pages (MFD_HUGETLB: sizing
 * takes them, see size_fd()) if `huge`. On failure nothing stays open. */
static int memfd_build(const char *name, const struct shpool_layout *g, bool huge,
		       unsigned mflags, int *fdp, struct shpool_map *m)
{
	uint64_t hpage;
	int fd, rc;

	if (huge && !shpool_huge_page_size())
		return shpool_huge_unsupported(name);
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | (huge ? MFD_HUGETLB : 0));
	if (fd < 0)
		return shpool_fail(-errno, "memfd_create(%s%s): %s", name,
				   huge ? ", MFD_HUGETLB" : "", strerror(errno));
	rc = fd_pages(fd, name, 0, &hpage);
	if (rc == 0) {
		*m = map_plan(g, hpage);
		rc = size_fd(fd, m, name);
	}
	if (rc == 0)
		rc = map_fd(fd, m, false, mflags, name);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	*fdp = fd;
	return 0;
}

int shpool_create_memfd(shpool_t **out, const char *name, shpool_kind kind, uint64_t capacity,
			uint32_t elem_size, const shpool_options *opts)
{
	struct shpool_layout g;
	struct shpool_map m;
	unsigned mflags = 0;
	int fd = -1, rc;

	rc = check_out(out);
	if (rc == 0)
		rc = create_layout(&g, kind, capacity, elem_size, opts, &mflags);
	if (rc < 0)
		return rc;
	if (!name)
		name = "shpool";
	rc = -1;
	if (mflags & SHPOOL_HUGE_FLAGS) {
		rc = memfd_build(name, &g, true, mflags, &fd, &m);
		if (rc < 0 && !(mflags & SHPOOL_HUGEPAGES_PREFER))
			return rc;
	}
	if (rc < 0) { /* normal pages: asked for, or the fallback */
		rc = memfd_build(name, &g, false, mflags, &fd, &m);
		if (rc < 0)
			return rc;
	}
	header_write(m.base, &g);
	/* Sealed: no peer can shrink the file under our mapping (SIGBUS). */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		rc = shpool_fail(-errno, "%s: sealing the memfd: %s", name, strerror(errno));
		munmap(m.base, m.size);
		close(fd);
		return rc;
	}
	return pool_new(out, &g, &m, NULL, fd, true, false);
}

int shpool_attach_fd(shpool_t **out, int fd, shpool_kind kind, unsigned int flags)
{
	bool rdonly = flags & SHPOOL_RDONLY;
	struct shpool_layout g;
	struct shpool_map m;
	char name[32];
	int own, seals, rc;

	rc = check_out(out);
	if (rc == 0)
		rc = check_attach_flags(flags, __func__);
	if (rc < 0)
		return rc;
	if (fd < 0)
		return shpool_fail(-EBADF, "%s: bad fd %d", __func__, fd);
	snprintf(name, sizeof(name), "fd %d", fd);
	own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (own < 0)
		return shpool_fail(-errno, "%s: %s", name, strerror(errno));
	/* No initialisation lock: it would be taken on the caller's open file
	 * description, and could change a lock the caller holds there. A
	 * half-made pool shows a zero magic (header_write()): -EBADMSG. */
	rc = attach_fd(own, name, kind, NULL, false, rdonly, flags & SHPOOL_POPULATE, &g, &m);
	if (rc < 0) {
		close(own);
		return rc;
	}
	/* A memfd sealed against shrinking is the kind shpool_create_memfd()
	 * makes; anything else attached by fd is reported as not a memfd. */
	seals = fcntl(own, F_GET_SEALS);
	return pool_new(out, &g, &m, NULL, own, seals >= 0 && (seals & F_SEAL_SHRINK), rdonly);
}

int shpool_open_fd(shpool_t **out, int fd, shpool_kind kind)
{
	return shpool_attach_fd(out, fd, kind, 0);
}

int shpool_is_readonly(shpool_t *p)
{
	SHPOOL_CHECK_HANDLE(p);
	return shpool_readonly(p);
}

void shpool_close(shpool_t *p)
{
	int evfd;

	if (!p)
		return;
	evfd = atomic_load_explicit(&p->evfd, memory_order_relaxed);
	if (evfd >= 0)
		close(evfd);
	munmap(p->base, p->map_size);
	if (p->fd >= 0)
		close(p->fd);
	free(p->path);
	free(p);
}

const char *shpool_path(shpool_t *p)
{
	return p ? p->path : NULL;
}

int shpool_memfd(shpool_t *p)
{
	return p && p->is_memfd ? p->fd : -1;
}

int shpool_sync(shpool_t *p)
{
	SHPOOL_CHECK_HANDLE(p);
	if (msync(p->base, p->map_size, MS_SYNC) < 0)
		return shpool_fail(-errno, "msync: %s", strerror(errno));
	return 0;
}

int shpool_unlink(shpool_t *p)
{
	SHPOOL_CHECK_HANDLE(p);
	SHPOOL_CHECK_WRITABLE(p);
	if (!p->path)
		return shpool_fail(-EINVAL, "shpool_unlink: pool is %s, it has no file",
				   p->fd >= 0 ? "fd-backed" : "anonymous");
	if (unlink(p->path) < 0)
		return shpool_fail(-errno, "%s: unlink: %s", p->path, strerror(errno));
	return 0;
}

uint64_t shpool_capacity(shpool_t *p)
{
	return p ? p->g.capacity : 0;
}

uint32_t shpool_elem_size(shpool_t *p)
{
	return p ? p->g.elem_size : 0;
}

size_t shpool_stride(shpool_t *p)
{
	return p ? p->g.stride : 0;
}

size_t shpool_page_size(shpool_t *p)
{
	return p ? (size_t)p->page_size : 0;
}

int shpool_kind_of(shpool_t *p)
{
	SHPOOL_CHECK_HANDLE(p);
	return (int)p->g.kind;
}

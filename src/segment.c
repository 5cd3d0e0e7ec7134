/* SPDX-License-Identifier: MIT */
/*
 * Handles and mappings: mapping a segment (on the pages asked for, sized so
 * that a shortage is an error now and not a SIGBUS later), anonymous and
 * memfd pools, attaching by fd, closing, and the handle's accessors. File
 * pools (by path) are file.c's; the format is layout.c's.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shpool-internal.h"

/* The mapping a layout needs on pages of hpage bytes (0: normal pages). */
struct shpool_map shpool_map_plan(const struct shpool_layout *g, uint64_t hpage)
{
	struct shpool_map m = { NULL, g->total_size, shpool_base_page() };

	if (hpage) {
		m.size = shpool_round_up(g->total_size, hpage);
		m.page = hpage;
	}
	return m;
}

/* Refuse a mapping whose length this process's size_t cannot hold: the
 * layout fits (shpool_layout_compute()), but its rounding up to whole
 * huge pages may not. */
static int map_fits(const struct shpool_map *m, const char *name)
{
	if (m->size <= SHPOOL_MAX_MAPPING)
		return 0;
	return shpool_fail(-ENOMEM, "%s: %" PRIu64 " bytes (whole huge pages of %" PRIu64
			   ") are larger than this process's address space allows", name,
			   m->size, m->page);
}

/* *hpage: the huge page size of the file system under fd, 0 if it is not
 * hugetlbfs. SHPOOL_HUGEPAGES (without _PREFER) refuses the latter: a file
 * pool gets huge pages only from hugetlbfs. */
int shpool_fd_pages(int fd, const char *name, unsigned mflags, uint64_t *hpage)
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
struct shpool *shpool_handle_alloc(const char *path)
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

int shpool_handle_nomem(void)
{
	return shpool_fail(-ENOMEM, "out of memory for the pool handle");
}

/* Point h at an initialised mapping m of layout g. */
void shpool_handle_bind(struct shpool *p, const struct shpool_layout *g,
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
int shpool_pool_new(shpool_t **out, const struct shpool_layout *g, const struct shpool_map *m,
		    const char *path, int fd, bool is_memfd, bool rdonly)
{
	struct shpool *p = shpool_handle_alloc(path);

	if (!p) {
		munmap(m->base, m->size);
		if (fd >= 0)
			close(fd);
		return shpool_handle_nomem();
	}
	shpool_handle_bind(p, g, m, rdonly);
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

int shpool_map_fd(int fd, struct shpool_map *mp, bool rdonly, unsigned mflags, const char *name)
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
			step = step > 2 * SHPOOL_PAGE ? step / 2 : SHPOOL_PAGE;
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
int shpool_size_fd(int fd, const struct shpool_map *m, const char *name)
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
int shpool_map_attach(int fd, const char *name, shpool_kind kind, const struct shpool_layout *want,
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
	rc = shpool_fd_pages(fd, name, mflags, &hpage);
	if (rc < 0)
		return rc;
	rc = shpool_header_validate(&h, (uint64_t)st.st_size, name, kind, hpage, g);
	if (rc < 0)
		return rc;
	if (want && want->capacity != g->capacity)
		return shpool_fail(-EINVAL, "%s: capacity mismatch: segment has %" PRIu64
				   ", asked %" PRIu64, name, g->capacity, want->capacity);
	if (want && want->elem_size != g->elem_size)
		return shpool_fail(-EINVAL, "%s: elem_size mismatch: segment has %" PRIu32
				   ", asked %" PRIu32, name, g->elem_size, want->elem_size);
	*m = shpool_map_plan(g, hpage);
	return shpool_map_fd(fd, m, rdonly, mflags, name);
}

int shpool_check_out(shpool_t **out)
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
int shpool_create_layout(struct shpool_layout *g, shpool_kind kind, uint64_t capacity,
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
	*m = shpool_map_plan(g, hpage);
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

int shpool_create_anonymous(shpool_t **out, const struct shpool_layout *g, unsigned mflags)
{
	struct shpool_map m = shpool_map_plan(g, 0);
	int rc = -1;
	void *b;

	if (mflags & SHPOOL_HUGE_FLAGS) {
		rc = map_anonymous_huge(g, &m);
		if (rc < 0 && !(mflags & SHPOOL_HUGEPAGES_PREFER))
			return rc;
	}
	if (rc < 0) { /* normal pages: asked for, or the fallback */
		m = shpool_map_plan(g, 0);
		b = mmap(NULL, m.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (b == MAP_FAILED)
			return shpool_fail(-errno, "anonymous mapping of %" PRIu64 " bytes: %s",
					   m.size, strerror(errno));
		m.base = b;
	}
	rc = map_pages(&m, mflags, false, "anonymous pool");
	if (rc < 0)
		return rc;
	shpool_header_write(m.base, g);
	return shpool_pool_new(out, g, &m, NULL, -1, false, false);
}

int shpool_check_attach_flags(unsigned int flags, const char *fn)
{
	unsigned known = SHPOOL_RDONLY | SHPOOL_POPULATE;

	if (flags & ~known)
		return shpool_fail(-EINVAL, "%s: unknown flags 0x%x (only SHPOOL_RDONLY and "
				   "SHPOOL_POPULATE)", fn, flags & ~known);
	return 0;
}

/* A memfd sized and mapped for layout g, on huge pages (MFD_HUGETLB: sizing
 * takes them, see shpool_size_fd()) if `huge`. On failure nothing stays open. */
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
	rc = shpool_fd_pages(fd, name, 0, &hpage);
	if (rc == 0) {
		*m = shpool_map_plan(g, hpage);
		rc = shpool_size_fd(fd, m, name);
	}
	if (rc == 0)
		rc = shpool_map_fd(fd, m, false, mflags, name);
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

	rc = shpool_check_out(out);
	if (rc == 0)
		rc = shpool_create_layout(&g, kind, capacity, elem_size, opts, &mflags);
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
	shpool_header_write(m.base, &g);
	/* Sealed: no peer can shrink the file under our mapping (SIGBUS). */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		rc = shpool_fail(-errno, "%s: sealing the memfd: %s", name, strerror(errno));
		munmap(m.base, m.size);
		close(fd);
		return rc;
	}
	return shpool_pool_new(out, &g, &m, NULL, fd, true, false);
}

int shpool_attach_fd(shpool_t **out, int fd, shpool_kind kind, unsigned int flags)
{
	bool rdonly = flags & SHPOOL_RDONLY;
	struct shpool_layout g;
	struct shpool_map m;
	char name[32];
	int own, seals, rc;

	rc = shpool_check_out(out);
	if (rc == 0)
		rc = shpool_check_attach_flags(flags, __func__);
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
	 * half-made pool shows a zero magic (shpool_header_write()): -EBADMSG. */
	rc = shpool_map_attach(own, name, kind, NULL, false, rdonly, flags & SHPOOL_POPULATE, &g, &m);
	if (rc < 0) {
		close(own);
		return rc;
	}
	/* A memfd sealed against shrinking is the kind shpool_create_memfd()
	 * makes; anything else attached by fd is reported as not a memfd. */
	seals = fcntl(own, F_GET_SEALS);
	return shpool_pool_new(out, &g, &m, NULL, own, seals >= 0 && (seals & F_SEAL_SHRINK), rdonly);
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

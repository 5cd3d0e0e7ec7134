/* SPDX-License-Identifier: MIT */
/*
 * File pools: attaching one by path, creating one (built under no name or a
 * hidden one, then published with its final name in one step), making a
 * pool of an empty file in place, and the initialisation lock that keeps
 * attachers off a pool in the making. The mapping itself is segment.c's.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shpool-internal.h"

static int open_existing(const char *path, bool rdonly)
{
	int fd;

	/* O_NONBLOCK: a FIFO or device at the path must not hang us before
	 * the regular-file check in shpool_map_attach(). */
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
 * (shpool_header_write()), so a pool that has it is whole and needs no
 * initialisation lock; one that lacks it may be in the making. */
static bool has_magic(int fd)
{
	char magic[sizeof(((struct shpool_header *)0)->magic)];
	struct stat st;
	ssize_t n;

	/* Nothing but a regular file is read before shpool_map_attach()
	 * refuses it (a device's read may block or act). */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
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
		rc = shpool_map_attach(fd, path, kind, want, true, rdonly, mflags, &g, &m);
		if (!whole)
			init_unlock(fd);
	}
	close(fd);
	return rc < 0 ? rc : shpool_pool_new(out, &g, &m, path, -1, false, rdonly);
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

/* Build a complete pool file and link it at path. -EEXIST: lost the race. */
static int create_file(shpool_t **out, const char *path, const struct shpool_layout *g,
		       unsigned mode, unsigned mflags)
{
	struct shpool *p = shpool_handle_alloc(path);
	struct shpool_map m;
	uint64_t hpage;
	char *tmpname;
	int fd, rc;

	/* The handle first: once the pool is published, nothing may fail
	 * (a caller would see an error and a new pool file). */
	if (!p)
		return shpool_handle_nomem();
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
	rc = shpool_fd_pages(fd, path, mflags, &hpage);
	if (rc < 0)
		goto out;
	m = shpool_map_plan(g, hpage);
	rc = shpool_size_fd(fd, &m, path);
	if (rc < 0)
		goto out;
	rc = shpool_map_fd(fd, &m, false, mflags, path);
	if (rc < 0)
		goto out;
	shpool_header_write(m.base, g);
	rc = publish(fd, &tmpname, path);
	if (rc < 0) {
		munmap(m.base, m.size);
		if (rc != -EEXIST)
			rc = shpool_fail(rc, "%s: cannot create: %s", path, strerror(-rc));
		goto out;
	}
	shpool_handle_bind(p, g, &m, false);
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

/* Is the file st describes one shpool_create() may make a pool of: an
 * empty regular file with one name, owned by the caller? 1 yes, 0 not empty
 * (attach it), else -errno: an empty file that is not ours to take. */
static int adoptable(const char *path, const struct stat *st)
{
	if (!S_ISREG(st->st_mode) || st->st_size != 0)
		return 0; /* shpool_map_attach() says what is wrong with it */
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
	rc = shpool_fd_pages(fd, path, mflags, &hpage);
	if (rc < 0)
		return rc;
	m = shpool_map_plan(g, hpage);
	p = shpool_handle_alloc(path); /* first: nothing may fail once the pool is whole */
	if (!p)
		return shpool_handle_nomem();
	rc = 0;
	SHPOOL_CRASH_POINT("create.adopt_locked");
	/* The file's mode is its maker's choice unless the caller gives one. */
	if (opts && opts->mode && fchmod(fd, opts->mode) < 0)
		rc = shpool_fail(-errno, "%s: fchmod: %s", path, strerror(errno));
	if (rc == 0)
		rc = shpool_size_fd(fd, &m, path);
	SHPOOL_CRASH_POINT("create.adopt_sized");
	if (rc == 0)
		rc = shpool_map_fd(fd, &m, false, mflags, path);
	if (rc < 0) {
		/* Give the file back as we found it: empty. */
		if (ftruncate(fd, 0) < 0) {
			/* Nothing more to do; the header checks refuse it. */
		}
		free(p->path);
		free(p);
		return rc;
	}
	shpool_header_write(m.base, g);
	shpool_handle_bind(p, g, &m, false);
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

	rc = shpool_check_out(out);
	if (rc < 0)
		return rc;
	rc = shpool_create_layout(&g, kind, capacity, elem_size, opts, &mflags);
	if (rc < 0)
		return rc;
	if (!path)
		return shpool_create_anonymous(out, &g, mflags);
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

int shpool_attach(shpool_t **out, const char *path, shpool_kind kind, unsigned int flags)
{
	bool rdonly = flags & SHPOOL_RDONLY;
	int fd, rc;

	rc = shpool_check_out(out);
	if (rc == 0)
		rc = shpool_check_attach_flags(flags, __func__);
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


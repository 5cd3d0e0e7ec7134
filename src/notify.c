/* SPDX-License-Identifier: MIT */
/*
 * eventfd integration: a descriptor an event loop (epoll, poll, libuv, libev)
 * can wait on for "a slot may have come free", instead of blocking a thread
 * in shpool_alloc(). See doc/eventfd.md for the model.
 *
 * The eventfd belongs to the process-local handle, never to the segment: a
 * free signals the eventfd of the handle it was called on. Processes hear
 * each other only by sharing one eventfd (fork(2), or SCM_RIGHTS followed by
 * shpool_eventfd_set()).
 *
 * p->evfd goes from -1 to a descriptor number once (a CAS) and keeps that
 * number until shpool_close(). Replacing the eventfd of a handle that has
 * one moves the new eventfd onto the same number with dup3(2), which swaps
 * the file in the fd table atomically. So a free racing in another thread
 * writes to the old eventfd or to the new one, never to a closed number or
 * to an unrelated file that reused it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "shpool-internal.h"

static int evfd_get(struct shpool *p)
{
	/* acquire: pairs with the release CAS in evfd_publish(). The number
	 * is the whole message (the kernel installed the descriptor before
	 * it was published), so this is belt and braces; free on x86. */
	return atomic_load_explicit(&p->evfd, memory_order_acquire);
}

/* Make fd p's eventfd if p has none. Returns fd, or the descriptor another
 * thread installed first (fd is then still the caller's). */
static int evfd_publish(struct shpool *p, int fd)
{
	int cur = -1;

	/* acq_rel: release publishes fd to evfd_get(); on failure, acquire
	 * reads the winner's number, which we hand back. */
	if (atomic_compare_exchange_strong_explicit(&p->evfd, &cur, fd, memory_order_acq_rel,
						    memory_order_acquire))
		return fd;
	return cur;
}

static int no_eventfd(const char *fn)
{
	return shpool_fail(-EBADF, "%s: this handle has no eventfd (call shpool_eventfd() or "
			   "shpool_eventfd_set() first)", fn);
}

/* Add n to the counter. 0, or -errno (-EAGAIN: it would pass the maximum,
 * 2^64 - 2; the descriptor is readable then anyway). */
static int evfd_add(int fd, uint64_t n)
{
	ssize_t r;

	do
		r = write(fd, &n, sizeof(n));
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r == (ssize_t)sizeof(n) ? 0 : -EIO;
}

void shpool_notify_freed(struct shpool *p, uint64_t n)
{
	int fd;

	if (n == 0 || !(p->g.flags & SHPOOL_NOTIFY_ON_FREE))
		return;
	fd = evfd_get(p);
	if (fd < 0)
		return;
	/* Never fails the free, and records no error detail (free_n may have
	 * set one for the caller). -EAGAIN means the counter is at its
	 * maximum: the descriptor is readable, which is all a waiter needs. */
	(void)evfd_add(fd, n);
}

int shpool_eventfd(shpool_t *p)
{
	int fd, cur;

	SHPOOL_CHECK_HANDLE(p);
	cur = evfd_get(p);
	if (cur >= 0)
		return cur;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return shpool_fail(-errno, "shpool_eventfd: eventfd: %s", strerror(errno));
	cur = evfd_publish(p, fd);
	if (cur != fd)
		close(fd); /* another thread won: one eventfd per handle */
	return cur;
}

/* Is fd an eventfd we can use? 0, -EBADF (not open), -EINVAL (not an
 * eventfd, a semaphore-mode one, or /proc cannot tell). */
static int check_eventfd(int fd)
{
	char path[64], buf[1024], *sem;
	size_t len = 0;
	ssize_t r;
	int info;

	if (fd < 0 || fcntl(fd, F_GETFD) < 0)
		return shpool_fail(-EBADF, "shpool_eventfd_set: fd %d is not an open descriptor", fd);
	/* fdinfo of an eventfd has an "eventfd-count:" line; no other file
	 * type does. */
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	do
		info = open(path, O_RDONLY | O_CLOEXEC);
	while (info < 0 && errno == EINTR);
	if (info < 0)
		return shpool_fail(-EINVAL, "shpool_eventfd_set: cannot verify that fd %d is an "
				   "eventfd: %s: %s (is /proc mounted?)", fd, path, strerror(errno));
	while (len < sizeof(buf) - 1) {
		r = read(info, buf + len, sizeof(buf) - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(info);
	buf[len] = '\0';
	if (!strstr(buf, "\neventfd-count:"))
		return shpool_fail(-EINVAL, "shpool_eventfd_set: fd %d is not an eventfd", fd);
	/* A semaphore-mode eventfd reads 1 at a time, so consume could not
	 * drain it in one read. (Older kernels do not show the mode.) */
	sem = strstr(buf, "\neventfd-semaphore:");
	if (sem && strtol(sem + strlen("\neventfd-semaphore:"), NULL, 10) != 0)
		return shpool_fail(-EINVAL, "shpool_eventfd_set: fd %d is a semaphore-mode eventfd "
				   "(EFD_SEMAPHORE); create it without", fd);
	return 0;
}

/* O_NONBLOCK so consume never blocks (a file status flag: every holder of
 * this open file description sees it); FD_CLOEXEC on our number. */
static int make_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
		return shpool_fail(-errno, "shpool_eventfd_set: fd %d: setting O_NONBLOCK: %s", fd,
				   strerror(errno));
	fl = fcntl(fd, F_GETFD);
	if (fl < 0 || (!(fl & FD_CLOEXEC) && fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0))
		return shpool_fail(-errno, "shpool_eventfd_set: fd %d: setting FD_CLOEXEC: %s", fd,
				   strerror(errno));
	return 0;
}

int shpool_eventfd_set(shpool_t *p, int fd)
{
	int cur, rc;

	SHPOOL_CHECK_HANDLE(p);
	rc = check_eventfd(fd);
	if (rc == 0)
		rc = make_nonblock_cloexec(fd);
	if (rc < 0)
		return rc;
	cur = evfd_publish(p, fd);
	if (cur == fd)
		return fd; /* adopted (or it was ours already) */
	/* Replace: the new eventfd takes over the handle's number, so frees
	 * in other threads never see a closed or reused one (top comment).
	 * dup3 closes the old eventfd. EBUSY: racing an open() in another
	 * thread (Linux dup2 quirk); try again. */
	do
		rc = dup3(fd, cur, O_CLOEXEC);
	while (rc < 0 && (errno == EINTR || errno == EBUSY));
	if (rc < 0)
		return shpool_fail(-errno, "shpool_eventfd_set: dup3(%d, %d): %s", fd, cur,
				   strerror(errno));
	close(fd);
	return cur;
}

int shpool_fileno(shpool_t *p)
{
	return p ? evfd_get(p) : -1;
}

int shpool_notify(shpool_t *p)
{
	int fd, rc;

	SHPOOL_CHECK_HANDLE(p);
	fd = evfd_get(p);
	if (fd < 0)
		return no_eventfd(__func__);
	rc = evfd_add(fd, 1);
	if (rc == -EAGAIN)
		return shpool_fail(rc, "shpool_notify: eventfd counter at its maximum (nobody "
				   "consumes it); the descriptor is readable anyway");
	if (rc < 0)
		return shpool_fail(rc, "shpool_notify: write to eventfd %d: %s", fd, strerror(-rc));
	return 0;
}

int64_t shpool_eventfd_consume(shpool_t *p)
{
	uint64_t v;
	ssize_t r;
	int fd;

	SHPOOL_CHECK_HANDLE(p);
	fd = evfd_get(p);
	if (fd < 0)
		return no_eventfd(__func__);
	/* One read takes the whole counter and resets it to 0. */
	do
		r = read(fd, &v, sizeof(v));
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0; /* nothing pending */
	if (r < 0)
		return shpool_fail(-errno, "shpool_eventfd_consume: read from eventfd %d: %s", fd,
				   strerror(errno));
	if (r != (ssize_t)sizeof(v))
		return shpool_fail(-EIO, "shpool_eventfd_consume: short read (%zd bytes) from "
				   "eventfd %d", r, fd);
	return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

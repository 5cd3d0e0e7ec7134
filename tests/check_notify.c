/* SPDX-License-Identifier: MIT */
/* Tests for src/notify.c, the eventfd: counting, adoption, notify-on-free
 * within and across processes, fd passing over a Unix socket, errors. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

/* Generous: poll() is the synchronisation, this only bounds a failure. */
#define POLL_MS 10000

/* Pending count of an eventfd we hold directly (nonblocking read). */
static int64_t read_counter(int fd)
{
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof(v));

	if (r < 0 && errno == EAGAIN)
		return 0;
	ck_assert_int_eq(r, sizeof(v));
	return (int64_t)v;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}

static void wait_readable(int fd);

/* Does this kernel show an eventfd's mode in fdinfo (Linux >= 6.x)? */
static bool fdinfo_shows_semaphore(int fd)
{
	char path[64], buf[1024];
	ssize_t n;
	int info;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	info = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(info, 0);
	n = read(info, buf, sizeof(buf) - 1);
	close(info);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, "eventfd-semaphore:") != NULL;
}

/* How many eventfds this process has open. */
static int count_eventfds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[300], link[64];
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len > 0) {
			link[len] = '\0';
			n += strcmp(link, "anon_inode:[eventfd]") == 0;
		}
	}
	closedir(d);
	return n;
}

/* ---- the counter ----------------------------------------------------- */

START_TEST(counts_and_drains)
{
	shpool_t *p = test_anon_pool(8, 64, 0);

	ck_assert_int_ge(shpool_eventfd(p), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(shpool_notify(p), 0);
	ck_assert_int_eq(shpool_eventfd_consume(p), 3);
	ck_assert_int_eq(shpool_eventfd_consume(p), 0); /* drained, and did not block */
	ck_assert_int_eq(shpool_notify(p), 0);
	ck_assert_int_eq(shpool_eventfd_consume(p), 1);
	shpool_close(p);
}
END_TEST

START_TEST(idempotent)
{
	shpool_t *p = test_anon_pool(8, 64, 0);
	int fd;

	ck_assert_int_eq(shpool_fileno(p), -1);
	fd = shpool_eventfd(p);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(shpool_eventfd(p), fd);
	ck_assert_int_eq(shpool_fileno(p), fd);
	shpool_close(p);
}
END_TEST

START_TEST(created_nonblock_cloexec)
{
	shpool_t *p = test_anon_pool(8, 64, 0);
	int fd = shpool_eventfd(p);

	ck_assert_int_ge(fd, 0);
	ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	shpool_close(p);
}
END_TEST

#define RACERS 8
#define RACE_ROUNDS 200

struct race {
	shpool_t *p;
	pthread_barrier_t go, done;
	int got[RACERS];
};

static struct race race;

/* Each round, all racers call shpool_eventfd() on a fresh handle at once. */
static void *racer(void *arg)
{
	int i = (int)(intptr_t)arg;

	for (int r = 0; r < RACE_ROUNDS; r++) {
		pthread_barrier_wait(&race.go);
		race.got[i] = shpool_eventfd(race.p);
		pthread_barrier_wait(&race.done);
	}
	return NULL;
}

START_TEST(racing_threads_get_one_fd)
{
	pthread_t t[RACERS];
	int before = count_eventfds();

	pthread_barrier_init(&race.go, NULL, RACERS + 1);
	pthread_barrier_init(&race.done, NULL, RACERS + 1);
	for (int i = 0; i < RACERS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, racer, (void *)(intptr_t)i), 0);
	for (int r = 0; r < RACE_ROUNDS; r++) {
		race.p = test_anon_pool(8, 64, 0);
		pthread_barrier_wait(&race.go);
		pthread_barrier_wait(&race.done);
		ck_assert_int_ge(race.got[0], 0);
		for (int i = 1; i < RACERS; i++)
			ck_assert_int_eq(race.got[i], race.got[0]);
		ck_assert_int_eq(shpool_fileno(race.p), race.got[0]);
		/* Exactly one more eventfd: the losers closed theirs. */
		ck_assert_int_eq(count_eventfds(), before + 1);
		shpool_close(race.p);
		ck_assert_int_eq(count_eventfds(), before);
	}
	for (int i = 0; i < RACERS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&race.go);
	pthread_barrier_destroy(&race.done);
}
END_TEST

/* ---- adoption ------------------------------------------------------- */

START_TEST(set_adopts)
{
	shpool_t *p = test_anon_pool(8, 64, 0);
	int fd = eventfd(0, 0); /* blocking, inheritable: set must fix both */

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(shpool_eventfd_set(p, fd), fd);
	ck_assert_int_eq(shpool_fileno(p), fd);
	ck_assert_int_eq(shpool_eventfd(p), fd); /* no second one */
	ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ck_assert_int_eq(shpool_eventfd_consume(p), 0); /* would hang if still blocking */
	ck_assert_int_eq(shpool_notify(p), 0);
	ck_assert_int_eq(shpool_eventfd_consume(p), 1);
	/* Its own eventfd again: a no-op. */
	ck_assert_int_eq(shpool_eventfd_set(p, fd), fd);
	ck_assert_int_eq(shpool_fileno(p), fd);
	shpool_close(p);
	ck_assert(!fd_open(fd)); /* the pool owned it */
}
END_TEST

START_TEST(set_replaces_under_same_number)
{
	shpool_t *p = test_anon_pool(8, 64, 0);
	int old = shpool_eventfd(p);
	int old_view = dup(old); /* still reaches the old eventfd */
	int fresh = eventfd(0, EFD_CLOEXEC);
	int fresh_view = dup(fresh);

	ck_assert_int_ge(old_view, 0);
	ck_assert_int_ge(fresh_view, 0);
	ck_assert_int_eq(shpool_eventfd_set(p, fresh), old);
	ck_assert_int_eq(shpool_fileno(p), old);
	ck_assert(!fd_open(fresh)); /* taken over, then closed */
	ck_assert_int_eq(shpool_notify(p), 0);
	/* The signal went to the new eventfd, not the old one. */
	ck_assert_int_eq(read_counter(old_view), 0);
	ck_assert_int_eq(read_counter(fresh_view), 1);
	shpool_close(p);
	close(old_view);
	close(fresh_view);
}
END_TEST

struct churn {
	shpool_t *p;
	atomic_bool stop;
	int errors;
};

/* Frees as fast as it can, each free writing the handle's eventfd. */
static void *churn_frees(void *arg)
{
	struct churn *c = arg;

	while (!atomic_load(&c->stop)) {
		int64_t s = shpool_alloc(c->p, 0);

		if (s < 0 || shpool_free(c->p, (uint64_t)s) < 0)
			c->errors++;
	}
	return NULL;
}

/* Replacing the eventfd while another thread frees: the number stays, so
 * a racing free can never write into a file that reused a closed number.
 * The pipe opened right after each replacement (it would get a just-closed
 * number) is a best-effort detector of such a stray write; the number
 * assertion is the deterministic part. */
START_TEST(replace_while_freeing)
{
	struct churn c = { .p = test_anon_pool(8, 64, SHPOOL_NOTIFY_ON_FREE) };
	int num = shpool_eventfd(c.p);
	pthread_t t;

	ck_assert_int_ge(num, 0);
	ck_assert_int_eq(pthread_create(&t, NULL, churn_frees, &c), 0);
	for (int i = 0; i < 2000; i++) {
		int fresh = eventfd(0, EFD_CLOEXEC), pp[2];
		char b[8];

		ck_assert_int_ge(fresh, 0);
		ck_assert_int_eq(shpool_eventfd_set(c.p, fresh), num);
		ck_assert_int_eq(pipe2(pp, O_NONBLOCK | O_CLOEXEC), 0);
		for (int k = 0; k < 50; k++)
			ck_assert_int_eq(read(pp[0], b, sizeof(b)), -1); /* nothing stray */
		close(pp[0]);
		close(pp[1]);
	}
	/* The frees reach the eventfd installed last. */
	ck_assert_int_ge(shpool_eventfd_consume(c.p), 0);
	wait_readable(num);
	atomic_store(&c.stop, true);
	pthread_join(t, NULL);
	ck_assert_int_eq(c.errors, 0);
	shpool_close(c.p);
}
END_TEST

START_TEST(set_refuses_non_eventfds)
{
	shpool_t *p = test_anon_pool(8, 64, 0);
	char *path = test_path("plain");
	int pipefd[2], file, closed, sem;

	ck_assert_int_eq(pipe(pipefd), 0);
	ck_assert_fails(shpool_eventfd_set(p, pipefd[0]), -EINVAL, "not an eventfd");
	ck_assert(fd_open(pipefd[0])); /* refused: still the caller's */
	file = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(file, 0);
	ck_assert_fails(shpool_eventfd_set(p, file), -EINVAL, "not an eventfd");
	sem = eventfd(0, EFD_SEMAPHORE);
	ck_assert_int_ge(sem, 0);
	if (fdinfo_shows_semaphore(sem))
		ck_assert_fails(shpool_eventfd_set(p, sem), -EINVAL, "semaphore");
	closed = dup(pipefd[1]);
	close(closed);
	ck_assert_fails(shpool_eventfd_set(p, closed), -EBADF, "not an open descriptor");
	ck_assert_fails(shpool_eventfd_set(p, -1), -EBADF, "not an open descriptor");
	ck_assert_int_eq(shpool_fileno(p), -1); /* nothing adopted */
	close(pipefd[0]);
	close(pipefd[1]);
	close(file);
	close(sem);
	shpool_close(p);
	free(path);
}
END_TEST

START_TEST(close_closes_eventfd)
{
	/* Single-threaded on purpose: nothing can reuse the number between
	 * shpool_close() and the check. */
	shpool_t *p = test_anon_pool(8, 64, 0);
	int fd = shpool_eventfd(p);

	ck_assert_int_ge(fd, 0);
	shpool_close(p);
	errno = 0;
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
}
END_TEST

/* ---- notify on free, one process -------------------------------------- */

START_TEST(free_signals)
{
	shpool_t *p = test_anon_pool(8, 64, SHPOOL_NOTIFY_ON_FREE);
	uint64_t idx[5];

	ck_assert_int_ge(shpool_eventfd(p), 0);
	ck_assert_int_eq(shpool_alloc_n(p, idx, 5, 0), 0);
	ck_assert_int_eq(shpool_eventfd_consume(p), 0); /* allocating signals nothing */
	ck_assert_int_eq(shpool_free(p, idx[0]), 0);
	ck_assert_int_eq(shpool_eventfd_consume(p), 1);
	/* free_n adds the number it freed, in one write. */
	ck_assert_int_eq(shpool_free_n(p, idx + 1, 3), 3);
	ck_assert_int_eq(shpool_eventfd_consume(p), 3);
	/* A failed free signals nothing; a partial free_n adds what it freed. */
	ck_assert_int_eq(shpool_free(p, idx[0]), -ENOENT);
	ck_assert_int_eq(shpool_eventfd_consume(p), 0);
	uint64_t again[3] = { idx[4], idx[0], 1000 };
	ck_assert_int_eq(shpool_free_n(p, again, 3), 1);
	ck_assert_int_eq(shpool_eventfd_consume(p), 1);
	ck_assert_int_eq(shpool_free_n(p, again, 3), 0);
	ck_assert_int_eq(shpool_eventfd_consume(p), 0);
	shpool_close(p);
}
END_TEST

START_TEST(no_flag_no_signal)
{
	shpool_t *p = test_anon_pool(8, 64, 0);
	uint64_t idx[3];
	int64_t s;

	ck_assert_int_ge(shpool_eventfd(p), 0);
	s = shpool_alloc(p, 0);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(shpool_free(p, (uint64_t)s), 0);
	ck_assert_int_eq(shpool_alloc_n(p, idx, 3, 0), 0);
	ck_assert_int_eq(shpool_free_n(p, idx, 3), 3);
	ck_assert_int_eq(shpool_eventfd_consume(p), 0);
	shpool_close(p);
}
END_TEST

START_TEST(flag_without_eventfd_frees)
{
	shpool_t *p = test_anon_pool(8, 64, SHPOOL_NOTIFY_ON_FREE);
	int64_t s = shpool_alloc(p, 0);

	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(shpool_free(p, (uint64_t)s), 0);
	ck_assert_int_eq(shpool_used(p), 0);
	ck_assert_int_eq(shpool_fileno(p), -1);
	shpool_close(p);
}
END_TEST

START_TEST(full_counter_never_fails_a_free)
{
	shpool_t *p = test_anon_pool(8, 64, SHPOOL_NOTIFY_ON_FREE);
	uint64_t max = UINT64_C(0xfffffffffffffffe), one = 1;
	int fd = shpool_eventfd(p);
	int64_t s = shpool_alloc(p, 0);

	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(write(fd, &max, sizeof(max)), sizeof(max));
	ck_assert_fails(shpool_notify(p), -EAGAIN, "maximum");
	ck_assert_int_eq(shpool_free(p, (uint64_t)s), 0);
	ck_assert_int_eq(shpool_is_allocated(p, (uint64_t)s), 0);
	ck_assert_int_eq(shpool_eventfd_consume(p), INT64_MAX); /* capped */
	ck_assert_int_eq(write(fd, &one, sizeof(one)), sizeof(one));
	ck_assert_int_eq(shpool_eventfd_consume(p), 1);
	shpool_close(p);
}
END_TEST

/* ---- across processes ------------------------------------------------- */

struct child_arg {
	shpool_t *p;
	uint64_t slot;
	int evfd;
	int sock;
	char *path;
};

/* The child frees the parent's slot through its inherited handle; it
 * never consumes, so whatever the parent reads is the child's signal. */
static int child_frees(void *arg)
{
	struct child_arg *a = arg;

	if (shpool_fileno(a->p) != a->evfd || shpool_eventfd(a->p) != a->evfd)
		return 10; /* the handle and its eventfd came along */
	return shpool_free(a->p, a->slot) == 0 ? 0 : 11;
}

static void wait_readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int r;

	do
		r = poll(&pfd, 1, POLL_MS);
	while (r < 0 && errno == EINTR);
	ck_assert_msg(r == 1 && (pfd.revents & POLLIN), "eventfd not readable (poll %d)", r);
}

START_TEST(fork_child_free_signals_parent)
{
	shpool_t *p = test_anon_pool(4, 64, SHPOOL_NOTIFY_ON_FREE);
	struct child_arg a = { .p = p };
	pid_t pid;
	int64_t s = shpool_alloc(p, 0);

	ck_assert_int_ge(s, 0);
	a.slot = (uint64_t)s;
	a.evfd = shpool_eventfd(p);
	ck_assert_int_ge(a.evfd, 0);
	pid = test_fork(child_frees, &a);
	wait_readable(a.evfd);
	ck_assert_int_eq(shpool_eventfd_consume(p), 1);
	ck_assert_int_eq(test_wait(pid), 0);
	ck_assert_int_eq(shpool_is_allocated(p, (uint64_t)s), 0);
	shpool_close(p);
}
END_TEST

/* A separately opened handle (own mapping, no eventfd) signals the parent
 * only after adopting the inherited eventfd. */
static int child_opens_and_frees(void *arg)
{
	struct child_arg *a = arg;
	shpool_t *q;
	uint64_t slots[2];

	if (shpool_open(&q, a->path, SHPOOL_RAW) < 0)
		return 20;
	if (shpool_fileno(q) != -1)
		return 21;
	/* Without the eventfd: this free reaches nobody. */
	if (shpool_alloc_n(q, slots, 2, 0) < 0 || shpool_free(q, slots[0]) < 0)
		return 22;
	if (shpool_eventfd_set(q, dup(a->evfd)) < 0)
		return 23;
	if (shpool_free(q, slots[1]) < 0 || shpool_free(q, a->slot) < 0)
		return 24;
	shpool_close(q);
	return 0;
}

START_TEST(opened_handle_signals_after_adopting)
{
	char *path = test_path("pool");
	shpool_options o = { .flags = SHPOOL_NOTIFY_ON_FREE };
	struct child_arg a = { .path = path };
	shpool_t *p;
	pid_t pid;
	int64_t s;

	ck_assert_int_eq(shpool_create(&p, path, SHPOOL_RAW, 8, 64, &o), 0);
	s = shpool_alloc(p, 0);
	ck_assert_int_ge(s, 0);
	a.slot = (uint64_t)s;
	a.evfd = shpool_eventfd(p);
	pid = test_fork(child_opens_and_frees, &a);
	ck_assert_int_eq(test_wait(pid), 0);
	/* Two frees after adoption, one before it. */
	ck_assert_int_eq(shpool_eventfd_consume(p), 2);
	ck_assert_int_eq(shpool_used(p), 0);
	shpool_close(p);
	free(path);
}
END_TEST

#define MSG "hello from the receiver"

static int send_fds(int sock, const int *fds, int n, const void *data, size_t len)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			    .msg_controllen = CMSG_SPACE(n * sizeof(int)) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	memset(u.buf, 0, sizeof(u.buf));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	return sendmsg(sock, &m, 0) == (ssize_t)len ? 0 : -1;
}

/* Receive exactly two fds and `len` bytes; 0 or -1. */
static int recv_fds(int sock, int *fds, void *data, size_t len)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = data, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;

	if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) != (ssize_t)len)
		return -1;
	c = CMSG_FIRSTHDR(&m);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(2 * sizeof(int)))
		return -1;
	memcpy(fds, CMSG_DATA(c), 2 * sizeof(int));
	return 0;
}

/* Gets the pool and the eventfd only over the socket: its inherited copies
 * are closed first, so nothing but the passed descriptors can work. */
static int receiver(void *arg)
{
	struct child_arg *a = arg;
	int memfd = shpool_memfd(a->p), fds[2];
	uint64_t parent_slot;
	shpool_t *q;
	int64_t s;

	shpool_close(a->p);
	if (fd_open(memfd) || fd_open(a->evfd))
		return 30;
	if (recv_fds(a->sock, fds, &parent_slot, sizeof(parent_slot)) < 0)
		return 31;
	if (shpool_open_fd(&q, fds[0], SHPOOL_RAW) < 0)
		return 32;
	close(fds[0]); /* shpool_open_fd keeps its own duplicate */
	if (shpool_eventfd_set(q, fds[1]) != fds[1])
		return 33;
	s = shpool_alloc(q, 0);
	if (s < 0)
		return 34;
	memcpy(shpool_ptr(q, (uint64_t)s), MSG, sizeof(MSG)); /* in place: zero-copy */
	if (write(a->sock, &s, sizeof(s)) != sizeof(s))
		return 35;
	/* Frees the parent's slot: signals the shared eventfd. */
	if (shpool_free(q, parent_slot) < 0)
		return 36;
	shpool_close(q);
	return 0;
}

START_TEST(pass_memfd_and_eventfd)
{
	shpool_options o = { .flags = SHPOOL_NOTIFY_ON_FREE };
	struct child_arg a;
	int sv[2], fds[2];
	shpool_t *p;
	uint64_t mine;
	int64_t s, theirs;
	pid_t pid;

	ck_assert_int_eq(shpool_create_memfd(&p, "notify-test", SHPOOL_RAW, 4, 64, &o), 0);
	s = shpool_alloc(p, 0);
	ck_assert_int_ge(s, 0);
	mine = (uint64_t)s;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	a = (struct child_arg){ .p = p, .evfd = shpool_eventfd(p), .sock = sv[1] };
	ck_assert_int_ge(a.evfd, 0);
	pid = test_fork(receiver, &a);
	close(sv[1]);
	fds[0] = shpool_memfd(p);
	fds[1] = a.evfd;
	ck_assert_int_eq(send_fds(sv[0], fds, 2, &mine, sizeof(mine)), 0);
	ck_assert_msg(read(sv[0], &theirs, sizeof(theirs)) == sizeof(theirs),
		      "receiver failed: exit %d", test_wait(pid));
	wait_readable(a.evfd);
	ck_assert_int_eq(shpool_eventfd_consume(p), 1);
	ck_assert_int_eq(test_wait(pid), 0);
	/* The receiver's slot is in our mapping, with its message. */
	ck_assert_int_ge(theirs, 0);
	ck_assert_int_eq(shpool_is_allocated(p, (uint64_t)theirs), 1);
	ck_assert_int_eq(shpool_owner(p, (uint64_t)theirs), pid);
	ck_assert_str_eq(shpool_ptr(p, (uint64_t)theirs), MSG);
	ck_assert_int_eq(shpool_is_allocated(p, mine), 0);
	close(sv[0]);
	shpool_close(p);
}
END_TEST

/* ---- errors ------------------------------------------------------------ */

START_TEST(no_eventfd_errors)
{
	shpool_t *p = test_anon_pool(8, 64, 0);

	ck_assert_fails(shpool_notify(p), -EBADF, "no eventfd");
	ck_assert_fails(shpool_eventfd_consume(p), -EBADF, "no eventfd");
	ck_assert_int_eq(shpool_fileno(p), -1);
	shpool_close(p);
}
END_TEST

START_TEST(null_handle)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	ck_assert_fails(shpool_eventfd(NULL), -EINVAL, "NULL");
	ck_assert_fails(shpool_eventfd_set(NULL, fd), -EINVAL, "NULL");
	ck_assert(fd_open(fd)); /* not taken */
	ck_assert_fails(shpool_notify(NULL), -EINVAL, "NULL");
	ck_assert_fails(shpool_eventfd_consume(NULL), -EINVAL, "NULL");
	ck_assert_int_eq(shpool_fileno(NULL), -1);
	close(fd);
}
END_TEST

static Suite *make_notify_suite(void)
{
	Suite *s = suite_create("notify");
	TCase *t;

	t = tcase_create("eventfd");
	tcase_add_test(t, counts_and_drains);
	tcase_add_test(t, idempotent);
	tcase_add_test(t, created_nonblock_cloexec);
	tcase_add_test(t, racing_threads_get_one_fd);
	tcase_add_test(t, close_closes_eventfd);
	suite_add_tcase(s, t);

	t = tcase_create("set");
	tcase_set_timeout(t, 10); /* a blocking consume would hang */
	tcase_add_test(t, set_adopts);
	tcase_add_test(t, set_replaces_under_same_number);
	tcase_add_test(t, replace_while_freeing);
	tcase_add_test(t, set_refuses_non_eventfds);
	suite_add_tcase(s, t);

	t = tcase_create("on_free");
	tcase_add_test(t, free_signals);
	tcase_add_test(t, no_flag_no_signal);
	tcase_add_test(t, flag_without_eventfd_frees);
	tcase_add_test(t, full_counter_never_fails_a_free);
	suite_add_tcase(s, t);

	t = tcase_create("processes");
	tcase_set_timeout(t, 20);
	tcase_add_test(t, fork_child_free_signals_parent);
	tcase_add_test(t, opened_handle_signals_after_adopting);
	tcase_add_test(t, pass_memfd_and_eventfd);
	suite_add_tcase(s, t);

	t = tcase_create("errors");
	tcase_add_test(t, no_eventfd_errors);
	tcase_add_test(t, null_handle);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return test_run_suite(make_notify_suite());
}

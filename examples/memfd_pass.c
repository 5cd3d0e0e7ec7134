/* SPDX-License-Identifier: MIT */
/*
 * libshpool example: hand a memfd pool and its eventfd to another program
 * over a Unix socket.
 *
 * The sender creates a pool in a sealed memfd (with SHPOOL_NOTIFY_ON_FREE)
 * and an eventfd, then starts a receiver by fork + exec of this same binary
 * with "--receiver <socket fd>". Both descriptors are close-on-exec, so the
 * receiver starts with nothing but the socket: the only way it can reach the
 * pool is the one SCM_RIGHTS message that carries both descriptors.
 *
 * The receiver attaches with shpool_open_fd(), adopts the eventfd with
 * shpool_eventfd_set(), allocates a slot, writes a message into it and sends
 * back the slot's index. The sender reads the message in place and frees
 * the slot; because both handles now hold the same eventfd, that free wakes
 * the receiver's poll().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shpool.h>

#define SLOT_BYTES 128
#define HELLO "shpool\0" /* 8 bytes: stream sockets need data with the fds */

static int fail(const char *who, const char *what)
{
	fprintf(stderr, "memfd_pass %s: %s: %s\n", who, what, shpool_last_error());
	return 1;
}

/* Send the memfd and the eventfd together, in one message. */
static int send_pool(int sock, int memfd, int evfd)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = HELLO, .iov_len = sizeof(HELLO) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	int fds[2] = { memfd, evfd };

	memset(u.buf, 0, sizeof(u.buf));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	return sendmsg(sock, &m, MSG_NOSIGNAL) == (ssize_t)sizeof(HELLO) ? 0 : -1;
}

/* Receive them; MSG_CMSG_CLOEXEC so they do not leak into our own execs. */
static int recv_pool(int sock, int *memfd, int *evfd)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	char hello[sizeof(HELLO)];
	struct iovec iov = { .iov_base = hello, .iov_len = sizeof(hello) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	int fds[2];

	if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof(hello) ||
	    memcmp(hello, HELLO, sizeof(hello)) != 0 || (m.msg_flags & MSG_CTRUNC))
		return -1;
	c = CMSG_FIRSTHDR(&m);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(fds)))
		return -1;
	memcpy(fds, CMSG_DATA(c), sizeof(fds));
	*memfd = fds[0];
	*evfd = fds[1];
	return 0;
}

/* Proof that the exec left us nothing: no memfd or eventfd is open yet. */
static int holds_pool_fds(void)
{
	char path[64], link[64];
	int found = 0;

	for (int fd = 0; fd < 1024; fd++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		found |= strncmp(link, "/memfd:", 7) == 0 || strcmp(link, "anon_inode:[eventfd]") == 0;
	}
	return found;
}

static int receiver(int sock)
{
	struct pollfd pfd = { .events = POLLIN };
	shpool_t *pool;
	int memfd, evfd, r;
	int64_t slot;

	if (holds_pool_fds()) {
		fprintf(stderr, "memfd_pass receiver: inherited a memfd or eventfd over exec\n");
		return 1;
	}
	if (recv_pool(sock, &memfd, &evfd) < 0) {
		fprintf(stderr, "memfd_pass receiver: no pool on the socket\n");
		return 1;
	}
	if (shpool_open_fd(&pool, memfd, SHPOOL_RAW) < 0)
		return fail("receiver", "shpool_open_fd");
	close(memfd); /* the pool keeps its own duplicate */
	if (shpool_eventfd_set(pool, evfd) < 0) /* the pool owns evfd now */
		return fail("receiver", "shpool_eventfd_set");
	printf("receiver (pid %d, a fresh exec): attached %llu slots of %u bytes by fd\n",
	       (int)getpid(), (unsigned long long)shpool_capacity(pool), shpool_elem_size(pool));
	slot = shpool_try_alloc(pool);
	if (slot < 0)
		return fail("receiver", "shpool_try_alloc");
	snprintf(shpool_ptr(pool, (uint64_t)slot), SLOT_BYTES,
		 "hello from pid %d, written in slot %lld", (int)getpid(), (long long)slot);
	fflush(stdout);
	if (write(sock, &slot, sizeof(slot)) != (ssize_t)sizeof(slot))
		return 1;
	/* The sender frees our slot; its free signals the eventfd we share. */
	pfd.fd = shpool_fileno(pool);
	do
		r = poll(&pfd, 1, 5000);
	while (r < 0 && errno == EINTR);
	if (r != 1) {
		fprintf(stderr, "memfd_pass receiver: no wake-up from the sender's free\n");
		return 1;
	}
	printf("receiver: eventfd woke us (count %lld); slot %lld is %s\n",
	       (long long)shpool_eventfd_consume(pool), (long long)slot,
	       shpool_is_allocated(pool, (uint64_t)slot) ? "still allocated?!" : "free again");
	r = shpool_is_allocated(pool, (uint64_t)slot) == 0 ? 0 : 1;
	shpool_close(pool);
	return r;
}

/* Start this program again as the receiver; only `sock` survives the exec. */
static pid_t spawn_receiver(const char *argv0, int sock)
{
	char arg[16];
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	snprintf(arg, sizeof(arg), "%d", sock);
	if (fcntl(sock, F_SETFD, 0) == 0)
		execl("/proc/self/exe", argv0, "--receiver", arg, (char *)NULL);
	perror("memfd_pass: exec");
	_exit(127);
}

static int sender(const char *argv0)
{
	shpool_options opts = { .flags = SHPOOL_NOTIFY_ON_FREE };
	shpool_t *pool;
	int sv[2], status, rc = 0;
	int64_t slot;
	pid_t pid;

	if (shpool_create_memfd(&pool, "memfd_pass", SHPOOL_RAW, 4, SLOT_BYTES, &opts) < 0)
		return fail("sender", "shpool_create_memfd");
	if (shpool_eventfd(pool) < 0)
		return fail("sender", "shpool_eventfd");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("socketpair");
		return 1;
	}
	printf("sender (pid %d): memfd pool %d and eventfd %d, passing both over a Unix "
	       "socket to a new process\n", (int)getpid(), shpool_memfd(pool), shpool_fileno(pool));
	fflush(stdout);
	pid = spawn_receiver(argv0, sv[1]);
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	close(sv[1]);
	if (send_pool(sv[0], shpool_memfd(pool), shpool_fileno(pool)) < 0 ||
	    read(sv[0], &slot, sizeof(slot)) != (ssize_t)sizeof(slot) || slot < 0 ||
	    shpool_is_allocated(pool, (uint64_t)slot) != 1) {
		fprintf(stderr, "memfd_pass sender: the receiver did not hand back a slot\n");
		rc = 1;
	} else {
		printf("sender: slot %lld (owner pid %d) says: \"%s\"\n", (long long)slot,
		       (int)shpool_owner(pool, (uint64_t)slot),
		       (const char *)shpool_ptr(pool, (uint64_t)slot));
		fflush(stdout);
		if (shpool_free(pool, (uint64_t)slot) < 0)
			rc = fail("sender", "shpool_free");
	}
	close(sv[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		rc = 1;
	shpool_close(pool);
	puts(rc ? "FAILED" : "ok");
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--receiver") == 0)
		return receiver(atoi(argv[2]));
	if (argc != 1) {
		fprintf(stderr, "usage: %s\n", argv[0]);
		return 2;
	}
	return sender(argv[0]);
}

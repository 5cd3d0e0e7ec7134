/* SPDX-License-Identifier: MIT */
/*
 * libshpool example: zero-copy hand-off of buffers between two processes.
 *
 * A producer and a consumer share a file-backed pool of 4 KiB buffers. For
 * each message the producer allocates a slot, writes the payload straight
 * into it, and sends only the slot's index (8 bytes) over a pipe. The
 * consumer reads the payload where it lies and frees the slot. The payload
 * is never copied, and the pool bounds the memory in flight: with every
 * slot out, the producer blocks in shpool_alloc() until the consumer frees
 * one (back-pressure, without another channel).
 *
 * The consumer frees slots it did not allocate: a cross-process free. That
 * is allowed for any allocated slot; a double free is reported (-ENOENT),
 * never corrupts the pool.
 *
 * Visibility: the producer's writes to the slot come before its write(2)
 * to the pipe, and the consumer's read(2) of the index before it looks, so
 * the pipe orders them. The other way, the library guarantees that an
 * allocation sees everything done to the slot before its last free.
 *
 * The consumer is a separate process that attaches by path, as an
 * unrelated program would (here a fork(2) child, to keep the example in one
 * file).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shpool.h>

#define SLOTS 4
#define SLOT_BYTES 4096
#define MESSAGES 200

/* What the producer lays out in a slot. */
struct message {
	uint64_t seq;
	uint32_t len;      /* bytes of data */
	uint32_t checksum; /* of data, so the consumer can tell it is intact */
	unsigned char data[SLOT_BYTES - 16];
};
_Static_assert(sizeof(struct message) == SLOT_BYTES, "a message fills a slot");

static int fail(const char *who, const char *what)
{
	fprintf(stderr, "handoff %s: %s: %s\n", who, what, shpool_last_error());
	return 1;
}

static uint32_t checksum(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static int consumer(const char *path, int in)
{
	uint64_t idx, expect = 0;
	shpool_t *pool;
	ssize_t n;

	if (shpool_open(&pool, path, SHPOOL_RAW) < 0)
		return fail("consumer", "shpool_open");
	while ((n = read(in, &idx, sizeof(idx))) == (ssize_t)sizeof(idx)) {
		/* In place: a pointer into the shared mapping, no copy. */
		const struct message *m = shpool_ptr(pool, idx);

		if (!m || m->seq != expect || m->len > sizeof(m->data) ||
		    checksum(m->data, m->len) != m->checksum) {
			fprintf(stderr, "handoff consumer: slot %llu: bad message\n",
				(unsigned long long)idx);
			return 1;
		}
		expect++;
		/* Done with it: the slot goes back to the pool, and a
		 * producer blocked in shpool_alloc() wakes up. */
		if (shpool_free(pool, idx) < 0)
			return fail("consumer", "shpool_free");
	}
	shpool_close(pool);
	if (n != 0 || expect != MESSAGES) {
		fprintf(stderr, "handoff consumer: got %llu of %d messages\n",
			(unsigned long long)expect, MESSAGES);
		return 1;
	}
	printf("consumer: %d messages read in place and freed\n", MESSAGES);
	fflush(stdout); /* the caller leaves with _exit(), which does not */
	return 0;
}

static int producer(shpool_t *pool, int out)
{
	for (uint64_t seq = 0; seq < MESSAGES; seq++) {
		/* Blocks (up to 5 s) while all SLOTS buffers are in flight. */
		int64_t idx = shpool_alloc(pool, 5000);
		struct message *m;

		if (idx < 0)
			return fail("producer", "shpool_alloc");
		m = shpool_ptr(pool, (uint64_t)idx);
		m->seq = seq;
		m->len = (uint32_t)(seq * 37 % sizeof(m->data));
		for (uint32_t i = 0; i < m->len; i++)
			m->data[i] = (unsigned char)(seq + i * 13);
		m->checksum = checksum(m->data, m->len);
		/* Only the index travels. */
		if (write(out, &idx, sizeof(idx)) != (ssize_t)sizeof(idx)) {
			perror("handoff producer: write");
			return 1;
		}
	}
	return 0;
}

int main(void)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char dir[256], path[300];
	shpool_t *pool;
	int pipefd[2], status, rc = 1;
	pid_t pid;

	/* A private directory: the pool file is the only thing in it. */
	snprintf(dir, sizeof(dir), "%s/shpool-handoff-XXXXXX", tmp);
	if (!mkdtemp(dir)) {
		perror("handoff: mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/buffers", dir);
	if (shpool_create(&pool, path, SHPOOL_RAW, SLOTS, SLOT_BYTES, NULL) < 0) {
		rmdir(dir);
		return fail("producer", "shpool_create");
	}
	printf("handoff: %d messages through %d buffers of %d bytes in %s\n", MESSAGES, SLOTS,
	       SLOT_BYTES, path);
	fflush(stdout);
	if (pipe(pipefd) < 0 || (pid = fork()) < 0) {
		perror("handoff: pipe/fork");
		goto out;
	}
	if (pid == 0) {
		close(pipefd[1]);
		/* Drop the inherited handle: attach by path like a stranger. */
		shpool_close(pool);
		_exit(consumer(path, pipefd[0]));
	}
	close(pipefd[0]);
	/* Should the consumer die, write() fails with EPIPE instead of
	 * killing us before we clean up. */
	signal(SIGPIPE, SIG_IGN);
	rc = producer(pool, pipefd[1]);
	close(pipefd[1]); /* end of stream: the consumer sees EOF */
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		rc = 1;
	/* Every buffer came back. */
	if (shpool_used(pool) != 0) {
		fprintf(stderr, "handoff: %llu buffers not returned\n",
			(unsigned long long)shpool_used(pool));
		rc = 1;
	}
out:
	shpool_unlink(pool);
	shpool_close(pool);
	rmdir(dir);
	puts(rc ? "FAILED" : "ok");
	return rc;
}

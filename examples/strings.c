/* SPDX-License-Identifier: MIT */
/*
 * libshpool example: string slots (STR), a status board shared by processes.
 *
 * Each worker posts a line of status text into a slot of a STR pool and
 * exits. The parent then reads the board: it walks the allocated slots,
 * looks at each string in place (shpool_str_view(), no copy) or copies it
 * out (shpool_str_get()), and takes the posts down (shpool_free() of a slot
 * another process allocated).
 *
 * A STR slot holds a length and up to max_len bytes, any bytes (a NUL
 * included). What does not fit is refused, never cut: a too-long string is
 * -E2BIG and writes nothing; a too-small buffer is -ENOSPC and copies
 * nothing, but tells the length needed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shpool.h>

#define MAX_LEN 48 /* bytes of text per slot */
#define WORKERS 5

static int fail(const char *what)
{
	fprintf(stderr, "strings: %s: %s\n", what, shpool_last_error());
	return 1;
}

/* A worker: post one status line, and check a too-long one is refused. */
static int worker(shpool_t *board, int id)
{
	char text[2 * MAX_LEN];
	int n = snprintf(text, sizeof(text), "worker %d (pid %d): ready", id, (int)getpid());
	int64_t slot;

	/* Allocate and store in one call: no half-written slot is ever
	 * visible, and on a failed store the slot is freed again. */
	slot = shpool_alloc_set_str(board, text, (size_t)n, 0);
	if (slot < 0)
		return fail("shpool_alloc_set_str");
	/* Longer than max_len: refused whole, the posted text unchanged. */
	memset(text, '!', sizeof(text));
	if (shpool_str_set(board, (uint64_t)slot, text, sizeof(text)) != -E2BIG) {
		fprintf(stderr, "strings: an over-long string was not refused\n");
		return 1;
	}
	/* Exit without freeing: the parent takes the post down. */
	return 0;
}

/* Called for each allocated slot: show it, then take it down. */
static int read_post(shpool_t *board, uint64_t slot, void *arg)
{
	int *count = arg;
	char small[8], copy[MAX_LEN + 1];
	const char *view;
	size_t len, need;

	/* Zero-copy: a pointer into the slot and its length (no NUL). */
	if (shpool_str_view(board, slot, &view, &len) < 0)
		return fail("shpool_str_view");
	printf("  slot %2llu: %.*s\n", (unsigned long long)slot, (int)len, view);
	/* A copy needs room for the text and a NUL; too small tells how much. */
	if (shpool_str_get(board, slot, small, sizeof(small), &need) != -ENOSPC || need != len)
		return fail("shpool_str_get into a small buffer");
	if (shpool_str_get(board, slot, copy, sizeof(copy), NULL) < 0 ||
	    strlen(copy) != len || strncmp(copy, "worker ", 7) != 0)
		return fail("shpool_str_get");
	/* Freeing a dead worker's slot: any process may free any slot. */
	if (shpool_free(board, slot) < 0)
		return fail("shpool_free");
	++*count;
	return 0;
}

int main(void)
{
	shpool_t *board;
	const char *view;
	size_t len;
	int64_t slot;
	int count = 0, rc = 0;

	/* For STR, elem_size is max_len. */
	if (shpool_create(&board, NULL, SHPOOL_STR, 16, MAX_LEN, NULL) < 0)
		return fail("shpool_create");
	printf("strings: %d workers post to a board of %zu-byte string slots\n", WORKERS,
	       shpool_str_max_len(board));
	fflush(stdout);
	for (int id = 0; id < WORKERS; id++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0)
			_exit(worker(board, id));
	}
	for (int i = 0; i < WORKERS; i++) {
		int status;

		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rc = 1;
	}
	/* Strings are bytes: an embedded NUL is kept, the length says where
	 * the string ends. */
	slot = shpool_alloc_set_str(board, "two\0parts", 9, 0);
	if (slot < 0 || shpool_str_view(board, (uint64_t)slot, &view, &len) < 0 || len != 9 ||
	    memcmp(view, "two\0parts", 9) != 0)
		rc |= fail("a string with a NUL");
	if (slot >= 0)
		shpool_free(board, (uint64_t)slot);
	/* The board: every post, ascending by slot. */
	if (shpool_each_allocated(board, read_post, &count) != 0)
		rc = 1;
	if (count != WORKERS || shpool_used(board) != 0) {
		fprintf(stderr, "strings: read %d posts, %llu slots still used\n", count,
			(unsigned long long)shpool_used(board));
		rc = 1;
	}
	shpool_close(board);
	puts(rc ? "FAILED" : "ok");
	return rc;
}

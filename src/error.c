/* SPDX-License-Identifier: MIT */
/* Errors: the detail behind shpool_last_error(), the text of each code, the
 * common messages, and the library version. */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shpool-internal.h"

/* Thread-local: a failure in one thread never overwrites another's detail. */
static _Thread_local char last_error[512];

/* Keep text whole if it fits last_error; else cut its middle: details
 * start with a path and end with the reason, and a long path must not
 * push the reason out. The cuts are moved off UTF-8 continuation bytes. */
static void keep_ends(const char *text, size_t len)
{
	const size_t cap = sizeof(last_error) - 1, head_max = 96;
	size_t head = head_max, tail = cap - head_max - 3;

	if (len <= cap) {
		memcpy(last_error, text, len + 1);
		return;
	}
	while (head > 0 && ((unsigned char)text[head] & 0xC0) == 0x80)
		head--;
	while (tail > 0 && ((unsigned char)text[len - tail] & 0xC0) == 0x80)
		tail--;
	memcpy(last_error, text, head);
	memcpy(last_error + head, "...", 3);
	memcpy(last_error + head + 3, text + len - tail, tail + 1);
}

int shpool_fail(int err, const char *fmt, ...)
{
	int saved = errno;
	/* Room for a PATH_MAX path and a reason; longer ones are formatted on
	 * the heap. A copy, not last_error itself: callers may pass
	 * shpool_last_error() as an argument, to wrap an inner detail. */
	char buf[PATH_MAX + 1024], *text = buf;
	va_list ap, again;
	int n;

	va_start(ap, fmt);
	va_copy(again, ap);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n >= (int)sizeof(buf)) {
		char *big = malloc((size_t)n + 1);

		if (big) {
			vsnprintf(big, (size_t)n + 1, fmt, again);
			text = big;
		} else {
			n = (int)sizeof(buf) - 1; /* the tail is lost */
		}
	}
	va_end(again);
	va_end(ap);
	keep_ends(text, n < 0 ? 0 : (size_t)n);
	if (n < 0)
		last_error[0] = '\0';
	if (text != buf)
		free(text);
	errno = saved;
	return err;
}

/* The messages of errors raised on many paths, out of line (cold). */
int shpool_rdonly_error(const char *fn)
{
	return shpool_fail(-EROFS, "pool opened read-only (SHPOOL_RDONLY): %s changes it", fn);
}

int shpool_range_error(const struct shpool *p, uint64_t idx, const char *fn)
{
	return shpool_fail(-ERANGE, "%s: slot %" PRIu64 " out of range (capacity %" PRIu64 ")",
			   fn, idx, p->g.capacity);
}

const char *shpool_last_error(void)
{
	return last_error;
}

const char *shpool_strerror(int err)
{
	/* INT_MIN has no positive counterpart: it is no errno either. */
	switch (err == INT_MIN ? -1 : err < 0 ? -err : err) {
	case 0: return "success";
	case EINVAL: return "invalid argument, handle or pool kind";
	case ERANGE: return "slot index out of range";
	case ENOENT: return "slot not allocated, or no such file";
	case EAGAIN: return "pool is full (or busy: try again)";
	case ETIMEDOUT: return "timed out waiting for a free slot";
	case E2BIG: return "value larger than the slot";
	case ENOSPC: return "buffer too small for the value";
	case ENOMEM: return "out of memory or address space";
	case EACCES: return "permission denied";
	case EPERM: return "operation not permitted";
	case ELOOP: return "path is a symbolic link";
	case EMLINK: return "pool file has more than one name (hard link)";
	case EISDIR: return "path is a directory";
	case ENOTDIR: return "a path component is not a directory";
	case ENAMETOOLONG: return "path too long";
	case EROFS: return "pool is read-only (SHPOOL_RDONLY handle or read-only file system)";
	case EBADMSG: return "not a valid pool segment (corrupt or truncated)";
	case EPROTONOSUPPORT: return "unsupported segment layout version";
	case EUCLEAN: return "pool state inconsistent (segment damaged)";
	case EBADF: return "bad file descriptor";
	case EEXIST: return "already exists";
	case EMFILE: return "too many open files in this process";
	case ENFILE: return "too many open files in the system";
	case EFBIG: return "file too large";
	case ENOSYS: return "not implemented";
	case EINTR: return "interrupted by a signal";
	case EOVERFLOW: return "value too large for its type (from a system call)";
	}
	return "unrecognised error code";
}

const char *shpool_version(void)
{
	return PACKAGE_VERSION;
}

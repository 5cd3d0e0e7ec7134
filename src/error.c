/* SPDX-License-Identifier: MIT */
/* Error detail, error text and the library version. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

#include "shpool-internal.h"

/* Thread-local: a failure in one thread never overwrites another's detail. */
static _Thread_local char last_error[512];

int shpool_fail(int err, const char *fmt, ...)
{
	int saved = errno;
	char buf[sizeof(last_error)];
	va_list ap;

	/* Format into a copy: callers may pass shpool_last_error() itself as
	 * an argument, to wrap an inner detail. */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	snprintf(last_error, sizeof(last_error), "%s", buf);
	errno = saved;
	return err;
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
	case EROFS: return "read-only file system";
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
	case EOVERFLOW: return "counter overflow";
	}
	return "unrecognised error code";
}

const char *shpool_version(void)
{
	return PACKAGE_VERSION;
}

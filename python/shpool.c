/* SPDX-License-Identifier: MIT */
/*
 * shpool: the Python binding of libshpool (CPython C API, no run-time
 * dependency beyond the standard library and libshpool itself).
 *
 * Conventions, as the rest of Python rather than as C:
 *  - Timeouts are seconds (float); None waits forever, 0 does not wait.
 *    An allocation that finds no slot in time returns None (like
 *    threading.Lock.acquire returns False); only guards, which cannot
 *    return None, raise TimeoutError.
 *  - Failures raise: ValueError for bad arguments, a wrong kind of pool or
 *    a slot that is not allocated; IndexError for a slot out of range;
 *    OSError (its errno subclass: FileNotFoundError, PermissionError, ...)
 *    for the rest. Every exception raised for a library error carries
 *    .errno and the library's detail (shpool_last_error()) as its message.
 *  - Blocking waits release the GIL and run in slices of WAIT_SLICE_MS, so
 *    that signal handlers (Ctrl-C) run between slices: the library itself
 *    resumes a futex wait after a signal, so one long wait would not return.
 *
 * Lifetime: a Pool is unmapped by close() or when it is garbage. close()
 * refuses (BufferError) while memoryviews of it exist, as mmap.close()
 * does, and is deferred to the last thread that leaves a blocking wait on
 * it, so that no thread ever touches an unmapped pool.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <shpool.h>

/* Longest single futex wait before signals are looked at again. Each slice
 * is one library-level wait (it shows in stats()["waits"]). */
#define WAIT_SLICE_MS 100

/* Returned by the wait loop when a Python exception is set. */
#define PYERR INT64_MIN

static PyTypeObject PoolType;
static PyTypeObject GuardType;
static PyObject *alloc_async_impl; /* Python coroutine function, see bottom */

typedef struct {
	PyObject_HEAD
	shpool_t *pool;
	int kind;
	int closing;             /* close() called while threads were waiting */
	Py_ssize_t exports;      /* live buffer exports (memoryviews) */
	Py_ssize_t inflight;     /* threads waiting without the GIL */
	PyObject *async_waiters; /* futures of alloc_async, or NULL */
	PyObject *weakreflist;
} PoolObject;

typedef struct {
	PyObject_HEAD
	PoolObject *pool;
	PyObject *timeout;
	int64_t idx; /* -1: holds nothing */
	pid_t pid;   /* the process that allocated */
} GuardObject;

/* ---- kinds ----------------------------------------------------------------- */

static const struct {
	const char *name;
	shpool_kind kind;
} kinds[] = {
	{ "raw", SHPOOL_RAW }, { "i64", SHPOOL_I64 }, { "i32", SHPOOL_I32 },
	{ "f64", SHPOOL_F64 }, { "str", SHPOOL_STR },
};
#define NKINDS ((int)(sizeof(kinds) / sizeof(kinds[0])))

static const char *kind_name(int kind)
{
	for (int i = 0; i < NKINDS; i++)
		if ((int)kinds[i].kind == kind)
			return kinds[i].name;
	return "unknown";
}

/* kind: a name (any case); None gives 0 (any kind) when allow_none. */
static int conv_kind(PyObject *o, int allow_none, int *out)
{
	if (o == Py_None && allow_none) {
		*out = 0;
		return 0;
	}
	if (!PyUnicode_Check(o)) {
		PyErr_Format(PyExc_TypeError, "kind must be a str ('raw', 'i64', 'i32', 'f64' or "
			     "'str')%s, not %.100s", allow_none ? " or None" : "",
			     Py_TYPE(o)->tp_name);
		return -1;
	}
	const char *s = PyUnicode_AsUTF8(o);
	if (!s)
		return -1;
	for (int i = 0; i < NKINDS; i++) {
		if (strcasecmp(s, kinds[i].name) == 0) {
			*out = kinds[i].kind;
			return 0;
		}
	}
	PyErr_Format(PyExc_ValueError,
		     "unknown kind %R: expected 'raw', 'i64', 'i32', 'f64' or 'str'", o);
	return -1;
}

/* ---- errors ----------------------------------------------------------------- */

/* Raise exc_type(text) with .errno set. */
static void raise_errno_text(PyObject *exc_type, int err, PyObject *text)
{
	PyObject *exc = PyObject_CallFunctionObjArgs(exc_type, text, NULL);
	if (!exc)
		return;
	PyObject *e = PyLong_FromLong(err);
	if (!e || PyObject_SetAttrString(exc, "errno", e) < 0) {
		Py_XDECREF(e);
		Py_DECREF(exc);
		return;
	}
	Py_DECREF(e);
	PyErr_SetObject(exc_type, exc);
	Py_DECREF(exc);
}

/* Raise exc_type(detail) with .errno set. */
static void raise_with_errno(PyObject *exc_type, int err, const char *detail)
{
	PyObject *text = PyUnicode_FromString(detail);
	if (text) {
		raise_errno_text(exc_type, err, text);
		Py_DECREF(text);
	}
}

/* The library's detail as a str. Its advice names C flags; the one a
 * Python caller can act on is spelled here as the keyword it is. */
static PyObject *detail_text(const char *detail)
{
	PyObject *text = PyUnicode_DecodeUTF8(detail, (Py_ssize_t)strlen(detail), "replace");
	if (text && strstr(detail, "SHPOOL_HUGEPAGES_PREFER")) {
		PyObject *c_name = PyUnicode_FromString("SHPOOL_HUGEPAGES_PREFER");
		PyObject *py_name = PyUnicode_FromString("huge_pages='prefer'");
		PyObject *t = c_name && py_name ? PyUnicode_Replace(text, c_name, py_name, -1)
						: NULL;
		Py_XDECREF(c_name);
		Py_XDECREF(py_name);
		Py_SETREF(text, t);
	}
	return text;
}

/* Raise the exception for a library result rc < 0. on_slot: the call was
 * about a slot, so -ENOENT means "not allocated" (ValueError), not a
 * missing file. Returns NULL for convenience. */
static PyObject *raise_rc(int64_t rc, int on_slot)
{
	int err = rc < -INT_MAX ? EINVAL : (int)-rc;
	const char *detail = shpool_last_error();
	PyObject *exc_type = NULL, *text;

	if (!detail || !*detail)
		detail = shpool_strerror(err);
	text = detail_text(detail);
	if (!text)
		return NULL;
	switch (err) {
	case ERANGE:
		exc_type = PyExc_IndexError;
		break;
	case EINVAL:
	case E2BIG:
	case ENOSPC:
		exc_type = PyExc_ValueError;
		break;
	case ENOENT:
		if (on_slot)
			exc_type = PyExc_ValueError;
		break;
	}
	if (exc_type) {
		raise_errno_text(exc_type, err, text);
		Py_DECREF(text);
		return NULL;
	}
	/* OSError(errno, text) is constructed as its errno's subclass. ENOMEM
	 * (no huge pages, nothing to populate with) stays OSError, as the os
	 * module raises it: MemoryError is this process's heap running out. */
	PyObject *exc = PyObject_CallFunction(PyExc_OSError, "iO", err, text);
	Py_DECREF(text);
	if (exc) {
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
		Py_DECREF(exc);
	}
	return NULL;
}

/* ---- argument conversion -------------------------------------------------- */

/* A slot index: an int in [0, 2**64); out of range (negative included) is
 * IndexError, not an int TypeError. */
static int conv_index(PyObject *o, uint64_t *out)
{
	if (!PyIndex_Check(o)) {
		PyErr_Format(PyExc_TypeError, "slot index must be an integer, not %.100s",
			     Py_TYPE(o)->tp_name);
		return -1;
	}
	PyObject *v = PyNumber_Index(o);
	if (!v)
		return -1;
	int overflow = 0;
	long long s = PyLong_AsLongLongAndOverflow(v, &overflow);
	if (s == -1 && PyErr_Occurred()) {
		Py_DECREF(v);
		return -1;
	}
	if (overflow < 0 || (overflow == 0 && s < 0)) {
		Py_DECREF(v);
		PyErr_Format(PyExc_IndexError, "slot index %R out of range (negative)", o);
		return -1;
	}
	unsigned long long u = PyLong_AsUnsignedLongLong(v);
	Py_DECREF(v);
	if (u == (unsigned long long)-1 && PyErr_Occurred()) {
		PyErr_Clear();
		PyErr_Format(PyExc_IndexError, "slot index %R out of range", o);
		return -1;
	}
	*out = u;
	return 0;
}

/* A non-negative integer argument no larger than max; ValueError outside. */
static int conv_size(PyObject *o, const char *what, uint64_t max, uint64_t *out)
{
	if (!PyIndex_Check(o)) {
		PyErr_Format(PyExc_TypeError, "%s must be an integer, not %.100s", what,
			     Py_TYPE(o)->tp_name);
		return -1;
	}
	PyObject *v = PyNumber_Index(o);
	if (!v)
		return -1;
	int overflow = 0;
	long long s = PyLong_AsLongLongAndOverflow(v, &overflow);
	if (s == -1 && PyErr_Occurred()) {
		Py_DECREF(v);
		return -1;
	}
	unsigned long long u = 0;
	if (overflow == 0 && s >= 0)
		u = (unsigned long long)s;
	else if (overflow > 0) {
		u = PyLong_AsUnsignedLongLong(v);
		if (PyErr_Occurred()) {
			PyErr_Clear();
			overflow = 2;
		}
	}
	Py_DECREF(v);
	if (overflow < 0 || s < 0 || overflow == 2 || u > max) {
		PyErr_Format(PyExc_ValueError, "%s %R out of range (0 to %llu)", what, o,
			     (unsigned long long)max);
		return -1;
	}
	*out = u;
	return 0;
}

/* A timeout in seconds: None (or +inf) is forever (*forever = 1); negative
 * or NaN is ValueError. */
static int conv_timeout(PyObject *o, double *secs, int *forever)
{
	*forever = 0;
	*secs = 0;
	if (o == NULL || o == Py_None) {
		*forever = 1;
		return 0;
	}
	if (!PyFloat_Check(o) && !PyIndex_Check(o) && !PyNumber_Check(o)) {
		PyErr_Format(PyExc_TypeError, "timeout must be a number or None, not %.100s",
			     Py_TYPE(o)->tp_name);
		return -1;
	}
	double d = PyFloat_AsDouble(o);
	if (d == -1.0 && PyErr_Occurred())
		return -1;
	if (isnan(d) || d < 0) {
		PyErr_Format(PyExc_ValueError, "timeout must be a non-negative number or None, "
			     "not %R", o);
		return -1;
	}
	if (isinf(d))
		*forever = 1;
	*secs = d;
	return 0;
}

static int conv_i64(PyObject *o, int64_t *out)
{
	if (!PyIndex_Check(o)) {
		PyErr_Format(PyExc_TypeError, "value must be an integer, not %.100s",
			     Py_TYPE(o)->tp_name);
		return -1;
	}
	long long v = PyLong_AsLongLong(o);
	if (v == -1 && PyErr_Occurred())
		return -1; /* OverflowError, as for any C integer */
	*out = v;
	return 0;
}

static int conv_i32(PyObject *o, int32_t *out)
{
	int64_t v;
	if (conv_i64(o, &v) < 0)
		return -1;
	if (v < INT32_MIN || v > INT32_MAX) {
		PyErr_Format(PyExc_OverflowError, "%R does not fit an i32 slot", o);
		return -1;
	}
	*out = (int32_t)v;
	return 0;
}

static int conv_f64(PyObject *o, double *out)
{
	if (!PyFloat_Check(o) && !PyIndex_Check(o)) {
		PyErr_Format(PyExc_TypeError, "value must be a float, not %.100s",
			     Py_TYPE(o)->tp_name);
		return -1;
	}
	double d = PyFloat_AsDouble(o);
	if (d == -1.0 && PyErr_Occurred())
		return -1;
	*out = d;
	return 0;
}

/* ---- the Pool object -------------------------------------------------------- */

static int pool_check_open(PoolObject *self)
{
	if (!self->pool || self->closing) {
		PyErr_SetString(PyExc_ValueError, "operation on a closed pool");
		return -1;
	}
	return 0;
}

#define CHECK_OPEN(self)                          \
	do {                                      \
		if (pool_check_open(self) < 0)    \
			return NULL;              \
	} while (0)

static void pool_really_close(PoolObject *self)
{
	shpool_t *p = self->pool;
	self->pool = NULL;
	if (p)
		shpool_close(p);
}

static PoolObject *pool_wrap(PyTypeObject *type, shpool_t *p)
{
	PoolObject *self = (PoolObject *)type->tp_alloc(type, 0);
	if (!self) {
		shpool_close(p);
		return NULL;
	}
	self->pool = p;
	self->kind = shpool_kind_of(p);
	return self;
}

/* Attach by path (fd < 0) or fd, of the given kind or (kind 0) of the kind
 * the pool has. A libshpool with shpool_attach() (SHPOOL_RDONLY) does both
 * itself. An older one has no call reading the kind, so each kind is tried
 * in turn: it checks the file, magic and layout before the kind and names a
 * wrong kind "kind mismatch", so any other failure is final. */
#ifndef SHPOOL_RDONLY
static int kind_mismatch(int rc)
{
	return rc == -EINVAL && strstr(shpool_last_error(), "kind mismatch") != NULL;
}
#endif

static int attach(shpool_t **out, const char *path, int fd, int kind, int readonly,
		  int populate)
{
#ifdef SHPOOL_RDONLY
	unsigned flags = readonly ? SHPOOL_RDONLY : 0;
#ifdef SHPOOL_POPULATE
	flags |= populate ? SHPOOL_POPULATE : 0;
#else
	(void)populate; /* refused by the callers: see populate_unsupported() */
#endif
	if (fd < 0)
		return shpool_attach(out, path, (shpool_kind)kind, flags);
	return shpool_attach_fd(out, fd, (shpool_kind)kind, flags);
#else
	int rc = -EINVAL;

	(void)readonly; /* refused by the callers: see readonly_unsupported() */
	(void)populate; /* and populate_unsupported() */
	if (kind != 0)
		return fd < 0 ? shpool_open(out, path, (shpool_kind)kind)
			      : shpool_open_fd(out, fd, (shpool_kind)kind);
	for (int i = 0; i < NKINDS; i++) {
		rc = fd < 0 ? shpool_open(out, path, kinds[i].kind)
			    : shpool_open_fd(out, fd, kinds[i].kind);
		if (!kind_mismatch(rc))
			return rc;
	}
	return rc;
#endif
}

/* Read-only attach needs shpool_attach() (SHPOOL_RDONLY), which this
 * libshpool may not have yet. */
static int readonly_unsupported(int readonly)
{
#ifdef SHPOOL_RDONLY
	(void)readonly;
	return 0;
#else
	if (!readonly)
		return 0;
	PyErr_SetString(PyExc_NotImplementedError,
			"readonly=True needs a libshpool with read-only attach (shpool_attach)");
	return -1;
#endif
}

/* Huge pages and pre-faulting (SHPOOL_HUGEPAGES, _PREFER, SHPOOL_POPULATE)
 * need a libshpool that has them; an older one refuses to be asked. */
static int populate_unsupported(int populate)
{
#ifdef SHPOOL_POPULATE
	(void)populate;
	return 0;
#else
	if (!populate)
		return 0;
	PyErr_SetString(PyExc_NotImplementedError,
			"populate=True needs a libshpool with SHPOOL_POPULATE");
	return -1;
#endif
}

/* huge_pages=: False (normal pages), True (huge pages or fail) or 'prefer'
 * (any case: huge pages where they can be had). A bool, not any truthy
 * value: huge_pages=1 or ='yes' is more likely a slip than a wish. *huge
 * gets 0, 1 or 2 ('prefer'). */
static int conv_huge(PyObject *o, int *huge)
{
	if (o == NULL || o == Py_False) {
		*huge = 0;
		return 0;
	}
	if (o == Py_True) {
		*huge = 1;
		return 0;
	}
	if (!PyUnicode_Check(o)) {
		PyErr_Format(PyExc_TypeError, "huge_pages must be True, False or 'prefer', "
			     "not %.100s", Py_TYPE(o)->tp_name);
		return -1;
	}
	const char *s = PyUnicode_AsUTF8(o);
	if (!s)
		return -1;
	if (strcasecmp(s, "prefer") != 0) {
		PyErr_Format(PyExc_ValueError,
			     "unknown huge_pages %R: expected True, False or 'prefer'", o);
		return -1;
	}
	*huge = 2;
	return 0;
}

static int fill_options(shpool_options *o, uint64_t mode, int zero, int notify, int huge,
			int populate)
{
	memset(o, 0, sizeof(*o));
	o->mode = (unsigned)mode;
	o->flags = (zero ? 0 : SHPOOL_NO_ZERO) | (notify ? SHPOOL_NOTIFY_ON_FREE : 0);
#ifdef SHPOOL_HUGEPAGES
	o->flags |= (huge == 1 ? SHPOOL_HUGEPAGES : 0) | (huge == 2 ? SHPOOL_HUGEPAGES_PREFER : 0) |
		    (populate ? SHPOOL_POPULATE : 0);
#else
	if (huge) {
		PyErr_SetString(PyExc_NotImplementedError,
				"huge_pages needs a libshpool with SHPOOL_HUGEPAGES");
		return -1;
	}
	if (populate_unsupported(populate) < 0)
		return -1;
#endif
	return 0;
}

/* Geometry arguments of Pool() and Pool.memfd(). */
static int conv_geometry(PyObject *kind_o, PyObject *cap_o, PyObject *elem_o, const char *fn,
			 int *kind, uint64_t *cap, uint32_t *elem)
{
	uint64_t e = 0;

	if (conv_kind(kind_o, 0, kind) < 0)
		return -1;
	if (!cap_o || cap_o == Py_None) {
		PyErr_Format(PyExc_TypeError, "%s() missing required argument 'capacity'", fn);
		return -1;
	}
	if (conv_size(cap_o, "capacity", UINT64_MAX, cap) < 0)
		return -1;
	if (elem_o && elem_o != Py_None) {
		if (conv_size(elem_o, "elem_size", UINT32_MAX, &e) < 0)
			return -1;
	} else if (*kind == SHPOOL_RAW || *kind == SHPOOL_STR) {
		PyErr_Format(PyExc_TypeError, "%s() of kind '%s' needs elem_size", fn,
			     kind_name(*kind));
		return -1;
	}
	*elem = (uint32_t)e;
	return 0;
}

static PyObject *Pool_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "path", "kind", "capacity", "elem_size", "mode", "zero",
				  "notify_on_free", "huge_pages", "populate", NULL };
	PyObject *path_o = Py_None, *kind_o = NULL, *cap_o = NULL, *elem_o = NULL;
	PyObject *path_b = NULL, *mode_o = NULL, *huge_o = NULL;
	uint64_t mode = 0600;
	int zero = 1, notify = 0, huge, populate = 0, kind, rc;
	uint64_t cap;
	uint32_t elem;
	shpool_options opts;
	shpool_t *p = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOOO$OppOp:Pool", kwlist, &path_o, &kind_o,
					 &cap_o, &elem_o, &mode_o, &zero, &notify, &huge_o,
					 &populate))
		return NULL;
	if (mode_o && conv_size(mode_o, "mode", 07777, &mode) < 0)
		return NULL;
	if (conv_huge(huge_o, &huge) < 0)
		return NULL;
	if (!kind_o)
		kind_o = PyUnicode_FromString("raw");
	else
		Py_INCREF(kind_o);
	if (!kind_o)
		return NULL;
	rc = conv_geometry(kind_o, cap_o, elem_o, "Pool", &kind, &cap, &elem);
	Py_DECREF(kind_o);
	if (rc < 0 || fill_options(&opts, mode, zero, notify, huge, populate) < 0)
		return NULL;
	if (path_o != Py_None && !PyUnicode_FSConverter(path_o, &path_b))
		return NULL;
	const char *path = path_b ? PyBytes_AS_STRING(path_b) : NULL;
	if (path && strlen(path) != (size_t)PyBytes_GET_SIZE(path_b)) {
		Py_DECREF(path_b);
		PyErr_SetString(PyExc_ValueError, "embedded null byte in path");
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	rc = shpool_create(&p, path, (shpool_kind)kind, cap, elem, &opts);
	Py_END_ALLOW_THREADS
	Py_XDECREF(path_b);
	if (rc < 0)
		return raise_rc(rc, 0);
	return (PyObject *)pool_wrap(type, p);
}

static PyObject *Pool_open(PyObject *cls, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "path", "kind", "readonly", "populate", NULL };
	PyObject *path_o, *path_b = NULL, *kind_o = Py_None;
	int kind, readonly = 0, populate = 0, rc;
	shpool_t *p = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O$pp:open", kwlist, &path_o, &kind_o,
					 &readonly, &populate))
		return NULL;
	if (conv_kind(kind_o, 1, &kind) < 0 || readonly_unsupported(readonly) < 0 ||
	    populate_unsupported(populate) < 0)
		return NULL;
	if (!PyUnicode_FSConverter(path_o, &path_b))
		return NULL;
	const char *path = PyBytes_AS_STRING(path_b);
	if (strlen(path) != (size_t)PyBytes_GET_SIZE(path_b)) {
		Py_DECREF(path_b);
		PyErr_SetString(PyExc_ValueError, "embedded null byte in path");
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	rc = attach(&p, path, -1, kind, readonly, populate);
	Py_END_ALLOW_THREADS
	Py_DECREF(path_b);
	if (rc < 0)
		return raise_rc(rc, 0);
	return (PyObject *)pool_wrap((PyTypeObject *)cls, p);
}

static PyObject *Pool_from_fd(PyObject *cls, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "fd", "kind", "readonly", "populate", NULL };
	PyObject *fd_o, *kind_o = Py_None;
	int kind, readonly = 0, populate = 0, rc, fd;
	shpool_t *p = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O$pp:from_fd", kwlist, &fd_o, &kind_o,
					 &readonly, &populate))
		return NULL;
	if (conv_kind(kind_o, 1, &kind) < 0 || readonly_unsupported(readonly) < 0 ||
	    populate_unsupported(populate) < 0)
		return NULL;
	fd = PyObject_AsFileDescriptor(fd_o); /* an int, or an object's fileno() */
	if (fd < 0)
		return NULL;
	/* Without the GIL: populate faults the whole mapping in. The fd is
	 * only read by the library, which duplicates it. */
	Py_BEGIN_ALLOW_THREADS
	rc = attach(&p, NULL, fd, kind, readonly, populate);
	Py_END_ALLOW_THREADS
	if (rc < 0)
		return raise_rc(rc, 0);
	return (PyObject *)pool_wrap((PyTypeObject *)cls, p);
}

static PyObject *Pool_memfd(PyObject *cls, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "name", "kind", "capacity", "elem_size", "zero",
				  "notify_on_free", "huge_pages", "populate", NULL };
	const char *name = "shpool";
	PyObject *kind_o = NULL, *cap_o = NULL, *elem_o = NULL, *huge_o = NULL;
	int zero = 1, notify = 0, huge, populate = 0, kind, rc;
	uint64_t cap;
	uint32_t elem;
	shpool_options opts;
	shpool_t *p = NULL;
	Py_ssize_t name_len = 0;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|z#OOO$ppOp:memfd", kwlist, &name,
					 &name_len, &kind_o, &cap_o, &elem_o, &zero, &notify,
					 &huge_o, &populate))
		return NULL;
	if (conv_huge(huge_o, &huge) < 0)
		return NULL;
	if (!name)
		name = "shpool";
	if (strlen(name) != (size_t)name_len && name_len) {
		PyErr_SetString(PyExc_ValueError, "embedded null byte in name");
		return NULL;
	}
	if (!kind_o)
		kind_o = PyUnicode_FromString("raw");
	else
		Py_INCREF(kind_o);
	if (!kind_o)
		return NULL;
	rc = conv_geometry(kind_o, cap_o, elem_o, "memfd", &kind, &cap, &elem);
	Py_DECREF(kind_o);
	if (rc < 0 || fill_options(&opts, 0, zero, notify, huge, populate) < 0)
		return NULL;
	/* name points into the str argument, which the call keeps alive. */
	Py_BEGIN_ALLOW_THREADS
	rc = shpool_create_memfd(&p, name, (shpool_kind)kind, cap, elem, &opts);
	Py_END_ALLOW_THREADS
	if (rc < 0)
		return raise_rc(rc, 0);
	return (PyObject *)pool_wrap((PyTypeObject *)cls, p);
}

static void Pool_dealloc(PoolObject *self)
{
	PyObject_GC_UnTrack(self);
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *)self);
	Py_CLEAR(self->async_waiters);
	pool_really_close(self);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Pool_traverse(PoolObject *self, visitproc visit, void *arg)
{
	Py_VISIT(self->async_waiters);
	return 0;
}

static int Pool_clear(PoolObject *self)
{
	Py_CLEAR(self->async_waiters);
	return 0;
}

static PyObject *Pool_close(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	if (!self->pool || self->closing)
		Py_RETURN_NONE;
	if (self->exports > 0) {
		PyErr_Format(PyExc_BufferError, "cannot close a pool while %zd memoryview%s of "
			     "it exist%s (release them first)", self->exports,
			     self->exports == 1 ? "" : "s", self->exports == 1 ? "s" : "");
		return NULL;
	}
	if (self->inflight > 0)
		self->closing = 1; /* the last waiter closes it */
	else
		pool_really_close(self);
	Py_RETURN_NONE;
}

static PyObject *Pool_enter(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	CHECK_OPEN(self);
	Py_INCREF(self);
	return (PyObject *)self;
}

static PyObject *Pool_exit(PoolObject *self, PyObject *Py_UNUSED(args))
{
	PyObject *r = Pool_close(self, NULL);
	if (!r)
		return NULL;
	Py_DECREF(r);
	Py_RETURN_FALSE;
}

/* ---- blocking waits ----------------------------------------------------------- */

static double monotonic_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One allocating operation, run with timeout_ms by the wait loop. */
struct wait_op {
	int64_t (*run)(shpool_t *p, struct wait_op *op, int timeout_ms);
	void (*undo)(shpool_t *p, struct wait_op *op, int64_t rc);
	uint64_t *out;
	size_t n;
	union {
		int64_t i64;
		int32_t i32;
		double f64;
		struct {
			const char *s;
			size_t len;
		} buf;
	} v;
	int kind;
};

static int64_t run_alloc(shpool_t *p, struct wait_op *op, int ms)
{
	(void)op;
	return ms == 0 ? shpool_try_alloc(p) : shpool_alloc(p, ms);
}

static void undo_one(shpool_t *p, struct wait_op *op, int64_t rc)
{
	(void)op;
	shpool_free(p, (uint64_t)rc);
}

static int64_t run_alloc_n(shpool_t *p, struct wait_op *op, int ms)
{
	return shpool_alloc_n(p, op->out, op->n, ms);
}

static void undo_n(shpool_t *p, struct wait_op *op, int64_t rc)
{
	(void)rc;
	shpool_free_n(p, op->out, op->n);
}

static int64_t run_alloc_set(shpool_t *p, struct wait_op *op, int ms)
{
	switch (op->kind) {
	case SHPOOL_I64: return shpool_alloc_set_i64(p, op->v.i64, ms);
	case SHPOOL_I32: return shpool_alloc_set_i32(p, op->v.i32, ms);
	case SHPOOL_F64: return shpool_alloc_set_f64(p, op->v.f64, ms);
	case SHPOOL_STR: return shpool_alloc_set_str(p, op->v.buf.s, op->v.buf.len, ms);
	default: return shpool_alloc_set(p, op->v.buf.s, op->v.buf.len, ms);
	}
}

/* Run op until it succeeds, fails otherwise than by a timeout, or the
 * deadline passes (-ETIMEDOUT; -EAGAIN when timeout is 0). A first attempt
 * that does not wait keeps the GIL (the fast path); then the GIL is
 * released for each slice of at most WAIT_SLICE_MS, and between slices
 * signal handlers run: an exception from one (KeyboardInterrupt) ends the
 * wait holding no slot (PYERR). The GIL-less part must not touch Python
 * objects: op's buffers belong to the caller, who keeps them alive. */
static int64_t pool_wait(PoolObject *self, struct wait_op *op, double timeout, int forever)
{
	int64_t rc = op->run(self->pool, op, 0);
	double deadline;

	if (rc != -EAGAIN || (!forever && timeout <= 0))
		return rc;
	deadline = forever ? 0 : monotonic_now() + timeout;
	for (;;) {
		int ms = WAIT_SLICE_MS;
		if (!forever) {
			double left = deadline - monotonic_now();
			if (left <= 0)
				return -ETIMEDOUT;
			double lms = ceil(left * 1000.0);
			if (lms < ms)
				ms = (int)lms;
		}
		shpool_t *p = self->pool;
		self->inflight++;
		Py_BEGIN_ALLOW_THREADS
		rc = op->run(p, op, ms);
		Py_END_ALLOW_THREADS
		self->inflight--;
		if (self->closing) {
			/* close() came while we waited: give back what we got,
			 * and the last one out unmaps. */
			if (rc >= 0 && op->undo)
				op->undo(p, op, rc);
			if (self->inflight == 0)
				pool_really_close(self);
			PyErr_SetString(PyExc_ValueError, "pool closed during the wait");
			return PYERR;
		}
		if (rc != -ETIMEDOUT && rc != -EAGAIN)
			return rc;
		if (PyErr_CheckSignals() < 0)
			return PYERR;
	}
}

/* The result of an allocation: index, None on timeout or full, or raise. */
static PyObject *alloc_result(int64_t rc)
{
	if (rc >= 0)
		return PyLong_FromLongLong(rc);
	if (rc == PYERR)
		return NULL;
	if (rc == -ETIMEDOUT || rc == -EAGAIN)
		Py_RETURN_NONE;
	return raise_rc(rc, 0);
}

static PyObject *Pool_alloc(PoolObject *self, PyObject *const *args, Py_ssize_t nargs,
			    PyObject *kwnames)
{
	static const char *const names[] = { "timeout" };
	PyObject *timeout_o = Py_None;
	double t;
	int forever;

	CHECK_OPEN(self);
	if (nargs > 1 || (kwnames && PyTuple_GET_SIZE(kwnames) + nargs > 1)) {
		PyErr_SetString(PyExc_TypeError, "alloc() takes at most 1 argument (timeout)");
		return NULL;
	}
	if (nargs == 1)
		timeout_o = args[0];
	else if (kwnames && PyTuple_GET_SIZE(kwnames) == 1) {
		if (!PyUnicode_Check(PyTuple_GET_ITEM(kwnames, 0)) ||
		    PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), names[0]) != 0) {
			PyErr_Format(PyExc_TypeError, "alloc() got an unexpected keyword argument %R",
				     PyTuple_GET_ITEM(kwnames, 0));
			return NULL;
		}
		timeout_o = args[0];
	}
	if (conv_timeout(timeout_o, &t, &forever) < 0)
		return NULL;
	struct wait_op op = { .run = run_alloc, .undo = undo_one };
	return alloc_result(pool_wait(self, &op, t, forever));
}

static PyObject *Pool_try_alloc(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	CHECK_OPEN(self);
	return alloc_result(shpool_try_alloc(self->pool));
}

static PyObject *Pool_free(PoolObject *self, PyObject *arg)
{
	uint64_t idx;
	int rc;

	CHECK_OPEN(self);
	if (conv_index(arg, &idx) < 0)
		return NULL;
	rc = shpool_free(self->pool, idx);
	if (rc < 0)
		return raise_rc(rc, 1);
	Py_RETURN_NONE;
}

static PyObject *Pool_alloc_n(PoolObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "n", "timeout", NULL };
	PyObject *n_o, *timeout_o = Py_None, *list;
	uint64_t n;
	double t;
	int forever;

	CHECK_OPEN(self);
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:alloc_n", kwlist, &n_o, &timeout_o))
		return NULL;
	if (conv_size(n_o, "n", shpool_capacity(self->pool), &n) < 0 ||
	    conv_timeout(timeout_o, &t, &forever) < 0)
		return NULL;
	if (n == 0)
		return PyList_New(0);
	uint64_t *out = PyMem_Malloc(n * sizeof(*out));
	if (!out)
		return PyErr_NoMemory();
	struct wait_op op = { .run = run_alloc_n, .undo = undo_n, .out = out, .n = n };
	int64_t rc = pool_wait(self, &op, t, forever);
	if (rc < 0) {
		PyMem_Free(out);
		return alloc_result(rc);
	}
	list = PyList_New((Py_ssize_t)n);
	for (uint64_t i = 0; list && i < n; i++) {
		PyObject *v = PyLong_FromUnsignedLongLong(out[i]);
		if (!v) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, v);
	}
	if (!list) /* out of memory: do not keep slots nobody can name */
		shpool_free_n(self->pool, out, n);
	PyMem_Free(out);
	return list;
}

static PyObject *Pool_free_n(PoolObject *self, PyObject *arg)
{
	PyObject *seq;
	Py_ssize_t n;
	uint64_t *idx;
	int64_t rc;

	CHECK_OPEN(self);
	seq = PySequence_Fast(arg, "free_n() needs an iterable of slot indices");
	if (!seq)
		return NULL;
	n = PySequence_Fast_GET_SIZE(seq);
	idx = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(*idx));
	if (!idx) {
		Py_DECREF(seq);
		return PyErr_NoMemory();
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		if (conv_index(PySequence_Fast_GET_ITEM(seq, i), &idx[i]) < 0) {
			PyMem_Free(idx);
			Py_DECREF(seq);
			return NULL;
		}
	}
	Py_DECREF(seq);
	rc = n ? shpool_free_n(self->pool, idx, (size_t)n) : 0;
	PyMem_Free(idx);
	if (rc < 0)
		return raise_rc(rc, 1);
	return PyLong_FromLongLong(rc);
}

static int collect_slot(shpool_t *p, uint64_t idx, void *arg)
{
	(void)p;
	PyObject *v = PyLong_FromUnsignedLongLong(idx);
	int rc = v ? PyList_Append((PyObject *)arg, v) : -1;
	Py_XDECREF(v);
	return rc < 0 ? 1 : 0;
}

static PyObject *Pool_allocated_slots(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	CHECK_OPEN(self);
	PyObject *list = PyList_New(0);
	if (!list)
		return NULL;
	int rc = shpool_each_allocated(self->pool, collect_slot, list);
	if (rc != 0) {
		Py_DECREF(list);
		if (rc < 0)
			return raise_rc(rc, 0);
		return NULL; /* the callback's exception */
	}
	return list;
}

static PyObject *Pool_is_allocated(PoolObject *self, PyObject *arg)
{
	uint64_t idx;
	CHECK_OPEN(self);
	if (conv_index(arg, &idx) < 0)
		return NULL;
	int rc = shpool_is_allocated(self->pool, idx);
	if (rc < 0)
		return raise_rc(rc, 1);
	return PyBool_FromLong(rc);
}

static PyObject *Pool_owner(PoolObject *self, PyObject *arg)
{
	uint64_t idx;
	CHECK_OPEN(self);
	if (conv_index(arg, &idx) < 0)
		return NULL;
	pid_t pid = shpool_owner(self->pool, idx);
	if (pid < 0)
		return raise_rc(pid, 1);
	if (pid == 0)
		Py_RETURN_NONE;
	return PyLong_FromLong(pid);
}

/* The size of the pages under this process's mapping: shpool_page_size(),
 * or the system's with a libshpool that has no huge pages. */
static size_t pool_page_size(PoolObject *self)
{
#ifdef SHPOOL_HUGEPAGES
	return shpool_page_size(self->pool);
#else
	(void)self;
	return (size_t)sysconf(_SC_PAGESIZE);
#endif
}

static PyObject *Pool_stats(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	shpool_stats_t s;
	CHECK_OPEN(self);
	int rc = shpool_stats(self->pool, &s);
	if (rc < 0)
		return raise_rc(rc, 0);
	return Py_BuildValue("{sKsKsKsKsKsKsKsKsKsKsKsn}", "capacity", (unsigned long long)s.capacity,
			     "elem_size", (unsigned long long)s.elem_size, "used",
			     (unsigned long long)s.used, "available", (unsigned long long)s.available,
			     "waiters", (unsigned long long)s.waiters, "mmap_size",
			     (unsigned long long)s.mmap_size, "allocs", (unsigned long long)s.allocs,
			     "frees", (unsigned long long)s.frees, "waits", (unsigned long long)s.waits,
			     "timeouts", (unsigned long long)s.timeouts, "recoveries",
			     (unsigned long long)s.recoveries, "page_size",
			     (Py_ssize_t)pool_page_size(self));
}

static PyObject *Pool_recover_stale(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	CHECK_OPEN(self);
	int64_t rc = shpool_recover_stale(self->pool);
	if (rc < 0)
		return raise_rc(rc, 0);
	return PyLong_FromLongLong(rc);
}

static PyObject *Pool_reset(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	CHECK_OPEN(self);
	int rc = shpool_reset(self->pool);
	if (rc < 0)
		return raise_rc(rc, 0);
	Py_RETURN_NONE;
}

static PyObject *Pool_check(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	CHECK_OPEN(self);
	f = open_memstream(&text, &len);
	if (!f)
		return PyErr_SetFromErrno(PyExc_OSError);
	rc = shpool_check(self->pool, f);
	fclose(f);
	if (rc < 0) {
		free(text);
		return raise_rc(rc, 0);
	}
	/* One line per problem, then a summary line, which is left out. */
	PyObject *list = PyList_New(0);
	char *line = text;
	for (int i = 0; list && line && *line && i < rc; i++) {
		char *nl = strchr(line, '\n');
		size_t l = nl ? (size_t)(nl - line) : strlen(line);
		PyObject *s = PyUnicode_DecodeUTF8(line, (Py_ssize_t)l, "replace");
		if (!s || PyList_Append(list, s) < 0)
			Py_CLEAR(list);
		Py_XDECREF(s);
		line = nl ? nl + 1 : NULL;
	}
	free(text);
	return list;
}

/* ---- data: copies ------------------------------------------------------------ */

static PyObject *Pool_get(PoolObject *self, PyObject *arg)
{
	uint64_t idx;
	int rc;

	CHECK_OPEN(self);
	if (conv_index(arg, &idx) < 0)
		return NULL;
	switch (self->kind) {
	case SHPOOL_I64: {
		int64_t v;
		rc = shpool_i64_get(self->pool, idx, &v);
		return rc < 0 ? raise_rc(rc, 1) : PyLong_FromLongLong(v);
	}
	case SHPOOL_I32: {
		int32_t v;
		rc = shpool_i32_get(self->pool, idx, &v);
		return rc < 0 ? raise_rc(rc, 1) : PyLong_FromLong(v);
	}
	case SHPOOL_F64: {
		double v;
		rc = shpool_f64_get(self->pool, idx, &v);
		return rc < 0 ? raise_rc(rc, 1) : PyFloat_FromDouble(v);
	}
	case SHPOOL_STR: {
		const char *s;
		size_t len;
		rc = shpool_str_view(self->pool, idx, &s, &len);
		if (rc < 0)
			return raise_rc(rc, 1);
		return PyUnicode_DecodeUTF8(s, (Py_ssize_t)len, "surrogateescape");
	}
	default: {
		size_t n = shpool_elem_size(self->pool);
		PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n);
		if (!b)
			return NULL;
		rc = shpool_get(self->pool, idx, PyBytes_AS_STRING(b), n);
		if (rc < 0) {
			Py_DECREF(b);
			return raise_rc(rc, 1);
		}
		return b;
	}
	}
}

static PyObject *Pool_get_bytes(PoolObject *self, PyObject *arg)
{
	uint64_t idx;
	int rc;

	CHECK_OPEN(self);
	if (conv_index(arg, &idx) < 0)
		return NULL;
	if (self->kind == SHPOOL_STR) {
		const char *s;
		size_t len;
		rc = shpool_str_view(self->pool, idx, &s, &len);
		if (rc < 0)
			return raise_rc(rc, 1);
		return PyBytes_FromStringAndSize(s, (Py_ssize_t)len);
	}
	size_t n = shpool_elem_size(self->pool);
	PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n);
	if (!b)
		return NULL;
	rc = shpool_get(self->pool, idx, PyBytes_AS_STRING(b), n);
	if (rc < 0) {
		Py_DECREF(b);
		return raise_rc(rc, 1);
	}
	return b;
}

/* The bytes of a str (UTF-8, surrogateescape so that get() round-trips
 * any bytes) or of a bytes-like object; *keep holds what must stay alive. */
static int value_bytes(PyObject *v, int allow_str, Py_buffer *view, PyObject **keep,
		       const char **s, size_t *len)
{
	*keep = NULL;
	view->obj = NULL;
	if (PyUnicode_Check(v)) {
		if (!allow_str) {
			PyErr_SetString(PyExc_TypeError, "a RAW slot takes a bytes-like object, "
					"not str (encode it first)");
			return -1;
		}
		*keep = PyUnicode_AsEncodedString(v, "utf-8", "surrogateescape");
		if (!*keep)
			return -1;
		*s = PyBytes_AS_STRING(*keep);
		*len = (size_t)PyBytes_GET_SIZE(*keep);
		return 0;
	}
	if (PyObject_GetBuffer(v, view, PyBUF_SIMPLE) < 0) {
		PyErr_Clear();
		PyErr_Format(PyExc_TypeError, "value must be %sa bytes-like object, not %.100s",
			     allow_str ? "str or " : "", Py_TYPE(v)->tp_name);
		return -1;
	}
	*s = view->buf;
	*len = (size_t)view->len;
	return 0;
}

static void value_release(Py_buffer *view, PyObject *keep)
{
	if (view->obj)
		PyBuffer_Release(view);
	Py_XDECREF(keep);
}

static PyObject *Pool_set(PoolObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	uint64_t idx;
	int rc;

	CHECK_OPEN(self);
	if (nargs != 2) {
		PyErr_Format(PyExc_TypeError, "set() takes 2 arguments (index, value), %zd given",
			     nargs);
		return NULL;
	}
	if (conv_index(args[0], &idx) < 0)
		return NULL;
	switch (self->kind) {
	case SHPOOL_I64: {
		int64_t v;
		if (conv_i64(args[1], &v) < 0)
			return NULL;
		rc = shpool_i64_set(self->pool, idx, v);
		break;
	}
	case SHPOOL_I32: {
		int32_t v;
		if (conv_i32(args[1], &v) < 0)
			return NULL;
		rc = shpool_i32_set(self->pool, idx, v);
		break;
	}
	case SHPOOL_F64: {
		double v;
		if (conv_f64(args[1], &v) < 0)
			return NULL;
		rc = shpool_f64_set(self->pool, idx, v);
		break;
	}
	default: {
		Py_buffer view;
		PyObject *keep;
		const char *s;
		size_t len;
		if (value_bytes(args[1], self->kind == SHPOOL_STR, &view, &keep, &s, &len) < 0)
			return NULL;
		rc = self->kind == SHPOOL_STR ? shpool_str_set(self->pool, idx, s, len)
					      : shpool_set(self->pool, idx, s, len);
		value_release(&view, keep);
		break;
	}
	}
	if (rc < 0)
		return raise_rc(rc, 1);
	Py_RETURN_NONE;
}

/* ---- data: atomic integers ---------------------------------------------------- */

enum rmw { RMW_CAS, RMW_CMPXCHG, RMW_XCHG, RMW_ADD, RMW_INCR, RMW_DECR };

static PyObject *int_rmw(PoolObject *self, enum rmw op, const char *name, PyObject *const *args,
			 Py_ssize_t nargs, Py_ssize_t want)
{
	uint64_t idx;
	int64_t a = 0, b = 0, r = 0;
	int rc;

	CHECK_OPEN(self);
	if (nargs != want) {
		PyErr_Format(PyExc_TypeError, "%s() takes %zd argument%s, %zd given", name, want,
			     want == 1 ? "" : "s", nargs);
		return NULL;
	}
	if (conv_index(args[0], &idx) < 0)
		return NULL;
	if (self->kind == SHPOOL_I32) {
		int32_t a32 = 0, b32 = 0, r32 = 0;
		if ((want > 1 && conv_i32(args[1], &a32) < 0) ||
		    (want > 2 && conv_i32(args[2], &b32) < 0))
			return NULL;
		switch (op) {
		case RMW_CAS: rc = shpool_i32_cas(self->pool, idx, a32, b32); break;
		case RMW_CMPXCHG: rc = shpool_i32_cmpxchg(self->pool, idx, a32, b32, &r32); break;
		case RMW_XCHG: rc = shpool_i32_xchg(self->pool, idx, a32, &r32); break;
		case RMW_ADD: rc = shpool_i32_add(self->pool, idx, a32, &r32); break;
		case RMW_INCR: rc = shpool_i32_incr(self->pool, idx, &r32); break;
		default: rc = shpool_i32_decr(self->pool, idx, &r32); break;
		}
		r = r32;
	} else {
		/* I64, or another kind, which the library refuses by name. */
		if ((want > 1 && conv_i64(args[1], &a) < 0) ||
		    (want > 2 && conv_i64(args[2], &b) < 0))
			return NULL;
		switch (op) {
		case RMW_CAS: rc = shpool_i64_cas(self->pool, idx, a, b); break;
		case RMW_CMPXCHG: rc = shpool_i64_cmpxchg(self->pool, idx, a, b, &r); break;
		case RMW_XCHG: rc = shpool_i64_xchg(self->pool, idx, a, &r); break;
		case RMW_ADD: rc = shpool_i64_add(self->pool, idx, a, &r); break;
		case RMW_INCR: rc = shpool_i64_incr(self->pool, idx, &r); break;
		default: rc = shpool_i64_decr(self->pool, idx, &r); break;
		}
	}
	if (rc < 0)
		return raise_rc(rc, 1);
	if (op == RMW_CAS)
		return PyBool_FromLong(rc);
	return PyLong_FromLongLong(r);
}

#define RMW_METHOD(fn, op, name, want)                                                  \
	static PyObject *fn(PoolObject *self, PyObject *const *args, Py_ssize_t nargs) \
	{                                                                               \
		return int_rmw(self, op, name, args, nargs, want);                      \
	}
RMW_METHOD(Pool_cas, RMW_CAS, "cas", 3)
RMW_METHOD(Pool_cmpxchg, RMW_CMPXCHG, "cmpxchg", 3)
RMW_METHOD(Pool_xchg, RMW_XCHG, "xchg", 2)
RMW_METHOD(Pool_add, RMW_ADD, "add", 2)
RMW_METHOD(Pool_incr, RMW_INCR, "incr", 1)
RMW_METHOD(Pool_decr, RMW_DECR, "decr", 1)

static PyObject *Pool_alloc_set(PoolObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "value", "timeout", NULL };
	PyObject *value, *timeout_o = Py_None, *keep = NULL;
	Py_buffer view = { 0 };
	struct wait_op op = { .run = run_alloc_set, .undo = undo_one };
	double t;
	int forever;
	int64_t rc;

	CHECK_OPEN(self);
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:alloc_set", kwlist, &value, &timeout_o))
		return NULL;
	if (conv_timeout(timeout_o, &t, &forever) < 0)
		return NULL;
	op.kind = self->kind;
	switch (self->kind) {
	case SHPOOL_I64:
		if (conv_i64(value, &op.v.i64) < 0)
			return NULL;
		break;
	case SHPOOL_I32:
		if (conv_i32(value, &op.v.i32) < 0)
			return NULL;
		break;
	case SHPOOL_F64:
		if (conv_f64(value, &op.v.f64) < 0)
			return NULL;
		break;
	default:
		if (value_bytes(value, self->kind == SHPOOL_STR, &view, &keep, &op.v.buf.s,
				&op.v.buf.len) < 0)
			return NULL;
		/* A value too long fails before anything is allocated. */
		if (op.v.buf.len > shpool_elem_size(self->pool)) {
			value_release(&view, keep);
			PyErr_Format(PyExc_ValueError, "value of %zu bytes does not fit a slot of %u",
				     op.v.buf.len, (unsigned)shpool_elem_size(self->pool));
			return NULL;
		}
		break;
	}
	rc = pool_wait(self, &op, t, forever);
	value_release(&view, keep);
	return alloc_result(rc);
}

/* ---- data: zero copy ------------------------------------------------------------ */

static int Pool_getbuffer(PoolObject *self, Py_buffer *view, int flags)
{
	if (pool_check_open(self) < 0) {
		view->obj = NULL;
		return -1;
	}
	size_t len = (size_t)shpool_capacity(self->pool) * shpool_stride(self->pool);
	int readonly = 0;
#ifdef SHPOOL_RDONLY
	readonly = shpool_is_readonly(self->pool) > 0; /* mapped PROT_READ */
#endif
	if (PyBuffer_FillInfo(view, (PyObject *)self, shpool_data_ptr(self->pool),
			      (Py_ssize_t)len, readonly, flags) < 0)
		return -1;
	self->exports++;
	return 0;
}

static void Pool_releasebuffer(PoolObject *self, Py_buffer *view)
{
	(void)view;
	self->exports--;
}

static PyBufferProcs Pool_as_buffer = {
	(getbufferproc)Pool_getbuffer,
	(releasebufferproc)Pool_releasebuffer,
};

static PyObject *Pool_get_buffer(PoolObject *self, void *Py_UNUSED(closure))
{
	CHECK_OPEN(self);
	return PyMemoryView_FromObject((PyObject *)self);
}

static PyObject *Pool_slot(PoolObject *self, PyObject *arg)
{
	uint64_t idx;
	const char *fmt;

	CHECK_OPEN(self);
	if (conv_index(arg, &idx) < 0)
		return NULL;
	uint64_t cap = shpool_capacity(self->pool);
	if (idx >= cap) {
		PyErr_Format(PyExc_IndexError, "slot %llu out of range (capacity %llu)",
			     (unsigned long long)idx, (unsigned long long)cap);
		return NULL;
	}
	switch (self->kind) {
	case SHPOOL_I64: fmt = "q"; break;
	case SHPOOL_I32: fmt = "i"; break;
	case SHPOOL_F64: fmt = "d"; break;
	case SHPOOL_STR:
		PyErr_SetString(PyExc_ValueError, "slot(): STR slots hold a length and bytes; "
				"use get(), get_bytes() and set()");
		return NULL;
	default: fmt = NULL; break;
	}
	size_t start = (size_t)idx * shpool_stride(self->pool);
	size_t len = shpool_elem_size(self->pool);
	PyObject *mv = PyMemoryView_FromObject((PyObject *)self);
	if (!mv)
		return NULL;
	/* A slice shares mv's export of the pool, which keeps it open. */
	PyObject *part = PySequence_GetSlice(mv, (Py_ssize_t)start, (Py_ssize_t)(start + len));
	Py_DECREF(mv);
	if (part && fmt) {
		PyObject *cast = PyObject_CallMethod(part, "cast", "s", fmt);
		PyObject *r = PyObject_CallMethod(part, "release", NULL);
		Py_XDECREF(r);
		Py_DECREF(part);
		part = cast;
	}
	return part;
}

/* ---- eventfd ------------------------------------------------------------------------ */

static PyObject *Pool_eventfd(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	CHECK_OPEN(self);
	int fd = shpool_eventfd(self->pool);
	if (fd < 0)
		return raise_rc(fd, 0);
	return PyLong_FromLong(fd);
}

static PyObject *Pool_consume(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	CHECK_OPEN(self);
	int64_t rc = shpool_eventfd_consume(self->pool);
	if (rc < 0)
		return raise_rc(rc, 0);
	return PyLong_FromLongLong(rc);
}

static PyObject *Pool_notify(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	CHECK_OPEN(self);
	int rc = shpool_notify(self->pool);
	if (rc < 0)
		return raise_rc(rc, 0);
	Py_RETURN_NONE;
}

static PyObject *Pool_set_eventfd(PoolObject *self, PyObject *arg)
{
	CHECK_OPEN(self);
	int fd = PyObject_AsFileDescriptor(arg);
	if (fd < 0)
		return NULL;
	int rc = shpool_eventfd_set(self->pool, fd);
	if (rc < 0)
		return raise_rc(rc, 0);
	return PyLong_FromLong(rc);
}

static PyObject *Pool_alloc_async(PoolObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "timeout", NULL };
	PyObject *timeout_o = Py_None;
	double t;
	int forever;

	CHECK_OPEN(self);
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:alloc_async", kwlist, &timeout_o))
		return NULL;
	if (conv_timeout(timeout_o, &t, &forever) < 0)
		return NULL;
	return PyObject_CallFunction(alloc_async_impl, "OO", self,
				     forever ? Py_None : timeout_o);
}

/* ---- misc ---------------------------------------------------------------------------- */

static PyObject *Pool_sync(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	CHECK_OPEN(self);
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = shpool_sync(self->pool);
	Py_END_ALLOW_THREADS
	if (rc < 0)
		return raise_rc(rc, 0);
	Py_RETURN_NONE;
}

static PyObject *Pool_unlink(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	CHECK_OPEN(self);
	int rc = shpool_unlink(self->pool);
	if (rc < 0)
		return raise_rc(rc, 0);
	Py_RETURN_NONE;
}

static PyObject *Pool_slot_guard(PoolObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "timeout", NULL };
	PyObject *timeout_o = Py_None;
	double t;
	int forever;

	CHECK_OPEN(self);
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:slot_guard", kwlist, &timeout_o))
		return NULL;
	if (conv_timeout(timeout_o, &t, &forever) < 0)
		return NULL;
	GuardObject *g = PyObject_GC_New(GuardObject, &GuardType);
	if (!g)
		return NULL;
	Py_INCREF(self);
	g->pool = self;
	Py_INCREF(timeout_o);
	g->timeout = timeout_o;
	g->idx = -1;
	g->pid = 0;
	PyObject_GC_Track(g);
	return (PyObject *)g;
}

static PyObject *Pool_repr(PoolObject *self)
{
	if (!self->pool)
		return PyUnicode_FromFormat("<%s closed>", Py_TYPE(self)->tp_name);
	const char *path = shpool_path(self->pool);
	int memfd = shpool_memfd(self->pool);
	return PyUnicode_FromFormat("<%s %s kind='%s' capacity=%llu elem_size=%u used=%llu>",
				    Py_TYPE(self)->tp_name,
				    path ? path : memfd >= 0 ? "memfd" : "anonymous",
				    kind_name(self->kind),
				    (unsigned long long)shpool_capacity(self->pool),
				    (unsigned)shpool_elem_size(self->pool),
				    (unsigned long long)shpool_used(self->pool));
}

/* ---- properties ------------------------------------------------------------------------ */

#define GETTER(fn, expr)                                                  \
	static PyObject *fn(PoolObject *self, void *Py_UNUSED(closure))   \
	{                                                                 \
		CHECK_OPEN(self);                                         \
		return expr;                                              \
	}
GETTER(Pool_get_capacity, PyLong_FromUnsignedLongLong(shpool_capacity(self->pool)))
GETTER(Pool_get_elem_size, PyLong_FromUnsignedLong(shpool_elem_size(self->pool)))
GETTER(Pool_get_stride, PyLong_FromSize_t(shpool_stride(self->pool)))
GETTER(Pool_get_used, PyLong_FromUnsignedLongLong(shpool_used(self->pool)))
GETTER(Pool_get_available, PyLong_FromUnsignedLongLong(shpool_available(self->pool)))
GETTER(Pool_get_kind, PyUnicode_FromString(kind_name(self->kind)))
GETTER(Pool_get_page_size, PyLong_FromSize_t(pool_page_size(self)))

static PyObject *Pool_get_path(PoolObject *self, void *Py_UNUSED(closure))
{
	CHECK_OPEN(self);
	const char *path = shpool_path(self->pool);
	if (!path)
		Py_RETURN_NONE;
	return PyUnicode_DecodeFSDefault(path);
}

static PyObject *Pool_get_memfd(PoolObject *self, void *Py_UNUSED(closure))
{
	CHECK_OPEN(self);
	int fd = shpool_memfd(self->pool);
	if (fd < 0)
		Py_RETURN_NONE;
	return PyLong_FromLong(fd);
}

static PyObject *Pool_get_closed(PoolObject *self, void *Py_UNUSED(closure))
{
	return PyBool_FromLong(!self->pool || self->closing);
}

static PyObject *Pool_get_readonly(PoolObject *self, void *Py_UNUSED(closure))
{
	CHECK_OPEN(self);
#ifdef SHPOOL_RDONLY
	return PyBool_FromLong(shpool_is_readonly(self->pool) > 0);
#else
	Py_RETURN_FALSE;
#endif
}

/* ---- docstrings -------------------------------------------------------------------------- */

PyDoc_STRVAR(Pool_doc,
"Pool(path=None, kind='raw', capacity=None, elem_size=None, *, mode=0o600,\n"
"     zero=True, notify_on_free=False, huge_pages=False, populate=False)\n"
"--\n"
"\n"
"A pool of fixed-size slots shared by many processes (libshpool).\n"
"\n"
"Creates the pool at path, or attaches the existing pool there if its kind,\n"
"capacity and elem_size match (ValueError otherwise). path None makes an\n"
"anonymous pool, shared with the children forked after this call.\n"
"\n"
"  kind       'raw' (bytes), 'i64', 'i32' (atomic integers), 'f64' (double)\n"
"             or 'str' (length-prefixed string of up to elem_size bytes)\n"
"  capacity   number of slots (required)\n"
"  elem_size  bytes per slot for 'raw', max_len for 'str'; leave it out for\n"
"             the numeric kinds\n"
"  mode       file mode of a new pool file\n"
"  zero       zero a slot when it is allocated\n"
"  notify_on_free  frees signal this handle's eventfd (see eventfd())\n"
"  huge_pages False (normal pages), True (huge pages or fail) or 'prefer'\n"
"             (huge pages where they can be had, else normal ones); see\n"
"             Huge pages below\n"
"  populate   fault the whole mapping in now, so that no first touch of a\n"
"             slot takes a page fault later (OSError ENOMEM now if the\n"
"             memory is not there, rather than a fault or the OOM killer on\n"
"             the hot path)\n"
"\n"
"Also Pool.open(path), Pool.memfd(name, ...) and Pool.from_fd(fd). A Pool is\n"
"a context manager (with Pool(...) as p: ... closes it) and exports its data\n"
"region through the buffer protocol (buffer, slot()). Slot indices are ints\n"
"from 0 to capacity - 1. Timeouts are seconds: None waits forever, 0 does\n"
"not wait. Errors raise ValueError (bad argument, wrong kind, slot not\n"
"allocated), IndexError (slot out of range) or OSError subclasses, each with\n"
"errno and the library's detail.\n"
"\n"
"Huge pages pay off for big pools touched at random: a million slots, or\n"
"many MiB-sized frames. With 4 KiB pages every slot touched far from the\n"
"last is a TLB miss (worse on a VM); one 2 MiB page covers 512 of them.\n"
"They come from the kernel's hugetlb reserve, which root must fill first\n"
"(echo N > /proc/sys/vm/nr_hugepages; Hugepagesize in /proc/meminfo gives\n"
"their size), and they stay reserved memory, never swapped. The mapping is\n"
"rounded up to whole huge pages. huge_pages=True takes them when the pool\n"
"is made, or raises OSError (errno ENOMEM) whose message says how many to\n"
"reserve; OSError (EOPNOTSUPP) on a kernel without hugetlb; ValueError for\n"
"a file pool whose path is not on a hugetlbfs mount. huge_pages='prefer'\n"
"falls back to normal pages instead: page_size tells which it got. Neither\n"
"flag nor populate is recorded in the pool: open() and from_fd() get huge\n"
"pages when the pool's file is on them (a memfd made with huge_pages, a\n"
"hugetlbfs file), and take populate for their own mapping.\n"
"\n"
"Handing slots to another process needs no pipe: a second pool with one\n"
"token per slot is the ready channel. The consumer takes every token\n"
"(alloc_n); the producer fills slot i and frees token i; the consumer's\n"
"alloc() on the tokens returns i, sleeping only while none is ready, and\n"
"it frees slot i when done. The free releases what was written before it\n"
"and the alloc acquires it. Ready slots come back lowest index first, not\n"
"in the order they were filled (the README's Python example).");

PyDoc_STRVAR(Pool_open_doc,
"open($type, /, path, kind=None, *, readonly=False, populate=False)\n--\n\n"
"Attach the existing pool at path.\n\n"
"kind None accepts the pool's own kind; a kind name insists on it\n"
"(ValueError if the pool has another). FileNotFoundError if there is no\n"
"pool, PermissionError without access, OSError(EBADMSG) for a file that is\n"
"not a pool. readonly=True maps the pool read-only (calls that would write\n"
"raise OSError(EROFS)); NotImplementedError with a libshpool that has no\n"
"read-only attach (shpool_attach). populate=True faults this process's whole\n"
"mapping in now (for reading only with readonly), so no first touch faults\n"
"later; OSError (ENOMEM) if it cannot be. The mapping is on huge pages when\n"
"the pool's file is (page_size tells).");
PyDoc_STRVAR(Pool_from_fd_doc,
"from_fd($type, /, fd, kind=None, *, readonly=False, populate=False)\n--\n\n"
"Attach the pool in file descriptor fd (an int or an object with fileno()):\n"
"a memfd received over a Unix socket, or inherited. The pool keeps its own\n"
"duplicate; the caller still owns fd. kind, readonly and populate as for\n"
"open(); a memfd made with huge_pages is mapped on huge pages here too.");
PyDoc_STRVAR(Pool_memfd_doc,
"memfd($type, /, name='shpool', kind='raw', capacity=None, elem_size=None, *,\n"
"      zero=True, notify_on_free=False, huge_pages=False, populate=False)\n--\n\n"
"Create a pool in a memfd sealed against resizing. The fd property gives\n"
"its descriptor, to pass to another process (socket.send_fds, or\n"
"inheritance) which attaches it with Pool.from_fd(). Keywords as for\n"
"Pool(); huge_pages makes the memfd MFD_HUGETLB, so every process that\n"
"attaches it maps huge pages.");
PyDoc_STRVAR(Pool_close_doc,
"close($self, /)\n--\n\n"
"Unmap the pool and close its descriptors. Slots stay allocated in the shared\n"
"pool. BufferError while memoryviews of the pool exist (release them first).\n"
"With threads waiting in alloc(), they return with ValueError and the last\n"
"one unmaps. Closing twice is allowed.");
PyDoc_STRVAR(Pool_enter_doc, "__enter__($self, /)\n--\n\nReturn self.");
PyDoc_STRVAR(Pool_exit_doc, "__exit__($self, /, *exc_info)\n--\n\nClose the pool.");
PyDoc_STRVAR(Pool_alloc_doc,
"alloc($self, /, timeout=None)\n--\n\n"
"Allocate a slot and return its index, or None if none came free in time.\n\n"
"timeout is in seconds: None waits forever, 0 does not wait. While waiting\n"
"the GIL is released; signal handlers run every 100 ms (Ctrl-C raises\n"
"KeyboardInterrupt, and no slot is taken).");
PyDoc_STRVAR(Pool_try_alloc_doc,
"try_alloc($self, /)\n--\n\nAllocate a slot without waiting: its index, or None if the pool is full.");
PyDoc_STRVAR(Pool_free_doc,
"free($self, index, /)\n--\n\n"
"Free slot index; any process may free any allocated slot. ValueError\n"
"(errno ENOENT) if it is not allocated (a double free), IndexError if out\n"
"of range.");
PyDoc_STRVAR(Pool_alloc_n_doc,
"alloc_n($self, /, n, timeout=None)\n--\n\n"
"Allocate n slots, all or nothing, under one deadline: a list of indices in\n"
"ascending order, or None on timeout. n may not exceed the capacity.");
PyDoc_STRVAR(Pool_free_n_doc,
"free_n($self, indices, /)\n--\n\n"
"Free each allocated slot of the iterable indices; return how many were\n"
"freed (slots not allocated or out of range are skipped).");
PyDoc_STRVAR(Pool_allocated_slots_doc,
"allocated_slots($self, /)\n--\n\nThe indices of the allocated slots, ascending (a snapshot).");
PyDoc_STRVAR(Pool_is_allocated_doc,
"is_allocated($self, index, /)\n--\n\nTrue if slot index is allocated.");
PyDoc_STRVAR(Pool_owner_doc,
"owner($self, index, /)\n--\n\nPID of the process that holds slot index, None if it is free.");
PyDoc_STRVAR(Pool_stats_doc,
"stats($self, /)\n--\n\n"
"A dict of capacity, elem_size, used, available, waiters, mmap_size,\n"
"page_size (this process's mapping: see the page_size property) and the\n"
"approximate counters allocs, frees, waits, timeouts, recoveries. (A wait\n"
"from Python counts once per 100 ms slice in waits and timeouts.)");
PyDoc_STRVAR(Pool_recover_stale_doc,
"recover_stale($self, /)\n--\n\n"
"Free the slots held by dead processes; return how many. Safe at any time,\n"
"from any process, during live traffic: a live process's slot is never freed.");
PyDoc_STRVAR(Pool_reset_doc,
"reset($self, /)\n--\n\nFree every slot and wake all waiters. Only when nobody else uses the pool.");
PyDoc_STRVAR(Pool_check_doc,
"check($self, /)\n--\n\n"
"Cross-check bitmap, summary, owner records and counters: a list with one\n"
"description per inconsistency, empty when the pool is consistent.");
PyDoc_STRVAR(Pool_get_doc,
"get($self, index, /)\n--\n\n"
"Copy slot index's value out: int (i64, i32), float (f64), str (str: UTF-8,\n"
"undecodable bytes as surrogates) or bytes of elem_size (raw). The slot\n"
"must be allocated.");
PyDoc_STRVAR(Pool_get_bytes_doc,
"get_bytes($self, index, /)\n--\n\n"
"Copy slot index out as bytes: a str slot's string, a raw slot's elem_size\n"
"bytes, a numeric slot's native bytes.");
PyDoc_STRVAR(Pool_set_doc,
"set($self, index, value, /)\n--\n\n"
"Store value in allocated slot index: an int (i64, i32: OverflowError if it\n"
"does not fit), a float (f64), a str or bytes-like object (str; ValueError\n"
"if longer than elem_size), or a bytes-like object of at most elem_size\n"
"bytes (raw; the rest of the slot is left as it was).");
PyDoc_STRVAR(Pool_cas_doc,
"cas($self, index, expected, desired, /)\n--\n\n"
"Atomically set slot index to desired if it holds expected; True if it did.\n"
"i64 and i32 pools; all the integer calls are seq_cst and wrap around.");
PyDoc_STRVAR(Pool_cmpxchg_doc,
"cmpxchg($self, index, expected, desired, /)\n--\n\n"
"Like cas() but return the value found (the swap happened iff it equals\n"
"expected).");
PyDoc_STRVAR(Pool_xchg_doc,
"xchg($self, index, value, /)\n--\n\nAtomically store value; return the old value.");
PyDoc_STRVAR(Pool_add_doc,
"add($self, index, delta, /)\n--\n\nAtomically add delta; return the new value.");
PyDoc_STRVAR(Pool_incr_doc, "incr($self, index, /)\n--\n\nAtomically add 1; return the new value.");
PyDoc_STRVAR(Pool_decr_doc, "decr($self, index, /)\n--\n\nAtomically subtract 1; return the new value.");
PyDoc_STRVAR(Pool_alloc_set_doc,
"alloc_set($self, /, value, timeout=None)\n--\n\n"
"Allocate a slot and store value in it (as set()); its index, or None on\n"
"timeout. A value that cannot be stored raises before anything is allocated.");
PyDoc_STRVAR(Pool_slot_doc,
"slot($self, index, /)\n--\n\n"
"A writable memoryview of slot index, in place (zero copy): elem_size bytes\n"
"for raw pools, one item of format 'q', 'i' or 'd' for i64, i32, f64. The\n"
"pool cannot be closed while the view exists (release() it, or use it in a\n"
"with block). Whether the slot is allocated is not checked.");
PyDoc_STRVAR(Pool_eventfd_doc,
"eventfd($self, /)\n--\n\n"
"This handle's eventfd (created on first use; non-blocking, close-on-exec,\n"
"closed by close()). With notify_on_free, frees through this handle, or a\n"
"fork child's copy of it, make it readable: wait for it in selectors or\n"
"asyncio, then consume() and try_alloc() until None.");
PyDoc_STRVAR(Pool_fileno_doc,
"fileno($self, /)\n--\n\nThe eventfd (see eventfd()), so that a Pool can be given to select/selectors.");
PyDoc_STRVAR(Pool_consume_doc,
"consume($self, /)\n--\n\nRead and reset the eventfd counter without blocking; 0 if nothing was pending.");
PyDoc_STRVAR(Pool_notify_doc,
"notify($self, /)\n--\n\nAdd 1 to the eventfd counter (wake an event loop by hand).");
PyDoc_STRVAR(Pool_set_eventfd_doc,
"set_eventfd($self, fd, /)\n--\n\n"
"Adopt fd, an eventfd received from another process, as this handle's\n"
"eventfd; the pool owns it from then on. Returns the descriptor in use.");
PyDoc_STRVAR(Pool_alloc_async_doc,
"alloc_async($self, /, timeout=None)\n--\n\n"
"Coroutine: allocate a slot without blocking the event loop; its index, or\n"
"None on timeout. Waits on the eventfd with loop.add_reader(), so the pool\n"
"needs notify_on_free and the freeing processes must share this handle's\n"
"eventfd (call eventfd() before forking them). One event loop per Pool.");
PyDoc_STRVAR(Pool_sync_doc, "sync($self, /)\n--\n\nmsync(2) the mapping (file-backed pools).");
PyDoc_STRVAR(Pool_unlink_doc,
"unlink($self, /)\n--\n\nRemove the pool's file; the pool lives on while attached. ValueError for anonymous and memfd pools.");
PyDoc_STRVAR(Pool_slot_guard_doc,
"slot_guard($self, /, timeout=None)\n--\n\n"
"A context manager holding one slot: `with p.slot_guard(1.0) as i:`\n"
"allocates on entry (TimeoutError if no slot came free in time) and frees\n"
"on exit, but never in a forked child that merely inherited the guard.");

static PyMethodDef Pool_methods[] = {
	{ "open", (PyCFunction)(void (*)(void))Pool_open, METH_VARARGS | METH_KEYWORDS | METH_CLASS,
	  Pool_open_doc },
	{ "from_fd", (PyCFunction)(void (*)(void))Pool_from_fd,
	  METH_VARARGS | METH_KEYWORDS | METH_CLASS, Pool_from_fd_doc },
	{ "memfd", (PyCFunction)(void (*)(void))Pool_memfd, METH_VARARGS | METH_KEYWORDS | METH_CLASS,
	  Pool_memfd_doc },
	{ "close", (PyCFunction)Pool_close, METH_NOARGS, Pool_close_doc },
	{ "__enter__", (PyCFunction)Pool_enter, METH_NOARGS, Pool_enter_doc },
	{ "__exit__", (PyCFunction)Pool_exit, METH_VARARGS, Pool_exit_doc },
	{ "alloc", (PyCFunction)(void (*)(void))Pool_alloc, METH_FASTCALL | METH_KEYWORDS,
	  Pool_alloc_doc },
	{ "try_alloc", (PyCFunction)Pool_try_alloc, METH_NOARGS, Pool_try_alloc_doc },
	{ "free", (PyCFunction)Pool_free, METH_O, Pool_free_doc },
	{ "alloc_n", (PyCFunction)(void (*)(void))Pool_alloc_n, METH_VARARGS | METH_KEYWORDS,
	  Pool_alloc_n_doc },
	{ "free_n", (PyCFunction)Pool_free_n, METH_O, Pool_free_n_doc },
	{ "allocated_slots", (PyCFunction)Pool_allocated_slots, METH_NOARGS,
	  Pool_allocated_slots_doc },
	{ "is_allocated", (PyCFunction)Pool_is_allocated, METH_O, Pool_is_allocated_doc },
	{ "owner", (PyCFunction)Pool_owner, METH_O, Pool_owner_doc },
	{ "stats", (PyCFunction)Pool_stats, METH_NOARGS, Pool_stats_doc },
	{ "recover_stale", (PyCFunction)Pool_recover_stale, METH_NOARGS, Pool_recover_stale_doc },
	{ "reset", (PyCFunction)Pool_reset, METH_NOARGS, Pool_reset_doc },
	{ "check", (PyCFunction)Pool_check, METH_NOARGS, Pool_check_doc },
	{ "get", (PyCFunction)Pool_get, METH_O, Pool_get_doc },
	{ "get_bytes", (PyCFunction)Pool_get_bytes, METH_O, Pool_get_bytes_doc },
	{ "set", (PyCFunction)(void (*)(void))Pool_set, METH_FASTCALL, Pool_set_doc },
	{ "cas", (PyCFunction)(void (*)(void))Pool_cas, METH_FASTCALL, Pool_cas_doc },
	{ "cmpxchg", (PyCFunction)(void (*)(void))Pool_cmpxchg, METH_FASTCALL, Pool_cmpxchg_doc },
	{ "xchg", (PyCFunction)(void (*)(void))Pool_xchg, METH_FASTCALL, Pool_xchg_doc },
	{ "add", (PyCFunction)(void (*)(void))Pool_add, METH_FASTCALL, Pool_add_doc },
	{ "incr", (PyCFunction)(void (*)(void))Pool_incr, METH_FASTCALL, Pool_incr_doc },
	{ "decr", (PyCFunction)(void (*)(void))Pool_decr, METH_FASTCALL, Pool_decr_doc },
	{ "alloc_set", (PyCFunction)(void (*)(void))Pool_alloc_set, METH_VARARGS | METH_KEYWORDS,
	  Pool_alloc_set_doc },
	{ "slot", (PyCFunction)Pool_slot, METH_O, Pool_slot_doc },
	{ "slot_guard", (PyCFunction)(void (*)(void))Pool_slot_guard, METH_VARARGS | METH_KEYWORDS,
	  Pool_slot_guard_doc },
	{ "eventfd", (PyCFunction)Pool_eventfd, METH_NOARGS, Pool_eventfd_doc },
	{ "fileno", (PyCFunction)Pool_eventfd, METH_NOARGS, Pool_fileno_doc },
	{ "consume", (PyCFunction)Pool_consume, METH_NOARGS, Pool_consume_doc },
	{ "notify", (PyCFunction)Pool_notify, METH_NOARGS, Pool_notify_doc },
	{ "set_eventfd", (PyCFunction)Pool_set_eventfd, METH_O, Pool_set_eventfd_doc },
	{ "alloc_async", (PyCFunction)(void (*)(void))Pool_alloc_async,
	  METH_VARARGS | METH_KEYWORDS, Pool_alloc_async_doc },
	{ "sync", (PyCFunction)Pool_sync, METH_NOARGS, Pool_sync_doc },
	{ "unlink", (PyCFunction)Pool_unlink, METH_NOARGS, Pool_unlink_doc },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef Pool_getset[] = {
	{ "capacity", (getter)Pool_get_capacity, NULL, "Number of slots.", NULL },
	{ "elem_size", (getter)Pool_get_elem_size, NULL,
	  "Bytes per slot (max_len for str pools; 8, 4, 8 for i64, i32, f64).", NULL },
	{ "stride", (getter)Pool_get_stride, NULL,
	  "Distance in bytes between slots in buffer: slot i starts at i * stride.", NULL },
	{ "used", (getter)Pool_get_used, NULL, "Slots allocated now (a snapshot).", NULL },
	{ "available", (getter)Pool_get_available, NULL, "Slots free now (a snapshot).", NULL },
	{ "kind", (getter)Pool_get_kind, NULL, "'raw', 'i64', 'i32', 'f64' or 'str'.", NULL },
	{ "path", (getter)Pool_get_path, NULL, "The pool file, None for anonymous and memfd pools.",
	  NULL },
	{ "fd", (getter)Pool_get_memfd, NULL,
	  "The pool's memfd (to pass to another process), None if not memfd-backed.", NULL },
	{ "closed", (getter)Pool_get_closed, NULL, "True once close() was called.", NULL },
	{ "readonly", (getter)Pool_get_readonly, NULL, "True if attached read-only.", NULL },
	{ "page_size", (getter)Pool_get_page_size, NULL,
	  "Bytes per page under this process's mapping of the pool: the huge page\n"
	  "size (2097152 on most x86-64) when it is on huge pages, else the system\n"
	  "page size (os.sysconf('SC_PAGE_SIZE')). Tells what huge_pages='prefer'\n"
	  "got; an attached pool is on huge pages when its file is (a hugetlbfs file,\n"
	  "or a memfd made with huge_pages). Transparent huge pages are not counted.",
	  NULL },
	{ "buffer", (getter)Pool_get_buffer, NULL,
	  "A writable memoryview (bytes) of the whole data region, capacity * stride\n"
	  "bytes, live: numpy.frombuffer(p.buffer, dtype=numpy.int64) views an i64 pool.",
	  NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyMemberDef Pool_members[] = {
	{ "_async_waiters", T_OBJECT, offsetof(PoolObject, async_waiters), 0,
	  "Futures of alloc_async() calls waiting (internal)." },
	{ NULL, 0, 0, 0, NULL },
};

static PyTypeObject PoolType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "shpool.Pool",
	.tp_basicsize = sizeof(PoolObject),
	.tp_dealloc = (destructor)Pool_dealloc,
	.tp_repr = (reprfunc)Pool_repr,
	.tp_as_buffer = &Pool_as_buffer,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
	.tp_doc = Pool_doc,
	.tp_traverse = (traverseproc)Pool_traverse,
	.tp_clear = (inquiry)Pool_clear,
	.tp_weaklistoffset = offsetof(PoolObject, weakreflist),
	.tp_methods = Pool_methods,
	.tp_members = Pool_members,
	.tp_getset = Pool_getset,
	.tp_new = Pool_new,
};

/* ---- guards -------------------------------------------------------------------------------- */

static PyObject *Guard_enter(GuardObject *self, PyObject *Py_UNUSED(ignored))
{
	double t;
	int forever;

	if (self->idx >= 0) {
		PyErr_SetString(PyExc_RuntimeError, "slot guard already holds a slot");
		return NULL;
	}
	CHECK_OPEN(self->pool);
	if (conv_timeout(self->timeout, &t, &forever) < 0)
		return NULL;
	struct wait_op op = { .run = run_alloc, .undo = undo_one };
	int64_t rc = pool_wait(self->pool, &op, t, forever);
	if (rc == PYERR)
		return NULL;
	if (rc == -ETIMEDOUT || rc == -EAGAIN) {
		PyObject *exc = PyObject_CallFunction(PyExc_TimeoutError, "is", (int)-rc,
						      "no free slot within the timeout");
		if (exc) {
			PyErr_SetObject(PyExc_TimeoutError, exc);
			Py_DECREF(exc);
		}
		return NULL;
	}
	if (rc < 0)
		return raise_rc(rc, 0);
	self->idx = rc;
	self->pid = getpid();
	return PyLong_FromLongLong(rc);
}

/* Free the slot if this is the process that allocated it. */
static int guard_release(GuardObject *self, int report)
{
	int64_t idx = self->idx;
	if (idx < 0) {
		if (report)
			raise_with_errno(PyExc_ValueError, ENOENT, "slot guard holds no slot");
		return -1;
	}
	if (getpid() != self->pid) {
		if (report)
			raise_with_errno(PyExc_PermissionError, EPERM,
					 "slot guard belongs to the parent process");
		return -1;
	}
	self->idx = -1;
	if (!self->pool->pool || self->pool->closing)
		return 0; /* closed: nothing can be freed through it */
	int rc = shpool_free(self->pool->pool, (uint64_t)idx);
	if (rc < 0 && report) {
		raise_rc(rc, 1);
		return -1;
	}
	return 0;
}

static PyObject *Guard_exit(GuardObject *self, PyObject *Py_UNUSED(args))
{
	if (self->idx >= 0 && getpid() == self->pid)
		guard_release(self, 0);
	Py_RETURN_FALSE;
}

static PyObject *Guard_release(GuardObject *self, PyObject *Py_UNUSED(ignored))
{
	if (guard_release(self, 1) < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *Guard_disarm(GuardObject *self, PyObject *Py_UNUSED(ignored))
{
	int64_t idx = self->idx;
	if (idx < 0) {
		raise_with_errno(PyExc_ValueError, ENOENT, "slot guard holds no slot");
		return NULL;
	}
	self->idx = -1;
	return PyLong_FromLongLong(idx);
}

static PyObject *Guard_get_index(GuardObject *self, void *Py_UNUSED(closure))
{
	if (self->idx < 0)
		Py_RETURN_NONE;
	return PyLong_FromLongLong(self->idx);
}

static void Guard_dealloc(GuardObject *self)
{
	PyObject_GC_UnTrack(self);
	/* A guard dropped without leaving its with block frees like __exit__. */
	if (self->idx >= 0 && getpid() == self->pid)
		guard_release(self, 0);
	Py_CLEAR(self->pool);
	Py_CLEAR(self->timeout);
	PyObject_GC_Del(self);
}

static int Guard_traverse(GuardObject *self, visitproc visit, void *arg)
{
	Py_VISIT(self->pool);
	Py_VISIT(self->timeout);
	return 0;
}

static PyMethodDef Guard_methods[] = {
	{ "__enter__", (PyCFunction)Guard_enter, METH_NOARGS,
	  "__enter__($self, /)\n--\n\nAllocate the slot; return its index. TimeoutError if none came free in time." },
	{ "__exit__", (PyCFunction)Guard_exit, METH_VARARGS,
	  "__exit__($self, /, *exc_info)\n--\n\nFree the slot, unless released or disarmed, or this is a forked child." },
	{ "release", (PyCFunction)Guard_release, METH_NOARGS,
	  "release($self, /)\n--\n\nFree the slot now. ValueError if the guard holds none, PermissionError in a forked child." },
	{ "disarm", (PyCFunction)Guard_disarm, METH_NOARGS,
	  "disarm($self, /)\n--\n\nKeep the slot: the guard lets go of it and returns its index, which the caller now owns." },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef Guard_getset[] = {
	{ "index", (getter)Guard_get_index, NULL, "The slot held, None if none.", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyTypeObject GuardType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "shpool.SlotGuard",
	.tp_basicsize = sizeof(GuardObject),
	.tp_dealloc = (destructor)Guard_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_doc = "A slot held for the length of a with block; made by Pool.slot_guard().",
	.tp_traverse = (traverseproc)Guard_traverse,
	.tp_methods = Guard_methods,
	.tp_getset = Guard_getset,
};

/* ---- alloc_async ------------------------------------------------------------------------------ */

/* The coroutine behind Pool.alloc_async(), in Python: it only strings
 * together the Pool's own calls and asyncio's. All waiters of one pool
 * share one reader on the eventfd (a second add_reader on a descriptor
 * would replace the first); each wake-up drains the counter and lets every
 * waiter look again. A waiter registers before its last try_alloc(), so a
 * free between that look and the wait still makes the eventfd readable. */
static const char alloc_async_src[] =
"import asyncio\n"
"def _wake(pool):\n"
"    pool.consume()\n"
"    for fut in list(pool._async_waiters or ()):\n"
"        if not fut.done():\n"
"            fut.set_result(None)\n"
"async def alloc_async(pool, timeout):\n"
"    loop = asyncio.get_running_loop()\n"
"    slot = pool.try_alloc()\n"
"    if slot is not None or timeout == 0:\n"
"        return slot\n"
"    fd = pool.eventfd()\n"
"    deadline = None if timeout is None else loop.time() + timeout\n"
"    while True:\n"
"        fut = loop.create_future()\n"
"        if pool._async_waiters is None:\n"
"            pool._async_waiters = set()\n"
"        if not pool._async_waiters:\n"
"            loop.add_reader(fd, _wake, pool)\n"
"        pool._async_waiters.add(fut)\n"
"        try:\n"
"            slot = pool.try_alloc()\n"
"            if slot is not None:\n"
"                return slot\n"
"            if deadline is None:\n"
"                await fut\n"
"            else:\n"
"                left = deadline - loop.time()\n"
"                if left <= 0:\n"
"                    return None\n"
"                try:\n"
"                    await asyncio.wait_for(fut, left)\n"
"                except asyncio.TimeoutError:\n"
"                    return None if pool.closed else pool.try_alloc()\n"
"        finally:\n"
"            waiters = pool._async_waiters\n"
"            if waiters is not None:\n"
"                waiters.discard(fut)\n"
"                if not waiters:\n"
"                    loop.remove_reader(fd)\n";

static int load_alloc_async(void)
{
	PyObject *code, *globals, *r;

	globals = PyDict_New();
	if (!globals)
		return -1;
	if (PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) < 0 ||
	    PyDict_SetItemString(globals, "__name__", PyUnicode_FromString("shpool")) < 0) {
		Py_DECREF(globals);
		return -1;
	}
	code = Py_CompileString(alloc_async_src, "<shpool.alloc_async>", Py_file_input);
	if (!code) {
		Py_DECREF(globals);
		return -1;
	}
	r = PyEval_EvalCode(code, globals, globals);
	Py_DECREF(code);
	if (!r) {
		Py_DECREF(globals);
		return -1;
	}
	Py_DECREF(r);
	alloc_async_impl = PyDict_GetItemString(globals, "alloc_async");
	Py_XINCREF(alloc_async_impl);
	Py_DECREF(globals);
	return alloc_async_impl ? 0 : -1;
}

/* ---- module ------------------------------------------------------------------------------------ */

static PyObject *mod_version(PyObject *m, PyObject *Py_UNUSED(ignored))
{
	(void)m;
	return PyUnicode_FromString(shpool_version());
}

static PyMethodDef module_methods[] = {
	{ "library_version", (PyCFunction)mod_version, METH_NOARGS,
	  "library_version()\n--\n\nThe version of the libshpool actually loaded (\"MAJOR.MINOR.PATCH\")." },
	{ NULL, NULL, 0, NULL },
};

PyDoc_STRVAR(module_doc,
"One pool of fixed-size slots shared by many processes (libshpool).\n"
"\n"
"    import shpool\n"
"    with shpool.Pool('/dev/shm/frames', 'raw', capacity=8, elem_size=1 << 20) as p:\n"
"        i = p.alloc(timeout=1.0)      # index, or None on timeout\n"
"        p.slot(i)[:5] = b'hello'      # in place, zero copy\n"
"        p.free(i)                     # any process may free it\n"
"\n"
"Any process may allocate, use and free slots: lock-free, no system call\n"
"unless the pool is full, then a futex wait with a timeout. Slots held by\n"
"dead processes come back with recover_stale(). See help(shpool.Pool).");

static struct PyModuleDef shpool_module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "shpool",
	.m_doc = module_doc,
	.m_size = -1,
	.m_methods = module_methods,
};

PyMODINIT_FUNC PyInit_shpool(void);
PyMODINIT_FUNC PyInit_shpool(void)
{
	PyObject *m;

	if (PyType_Ready(&PoolType) < 0 || PyType_Ready(&GuardType) < 0)
		return NULL;
	if (!alloc_async_impl && load_alloc_async() < 0)
		return NULL;
	m = PyModule_Create(&shpool_module);
	if (!m)
		return NULL;
	Py_INCREF(&PoolType);
	if (PyModule_AddObject(m, "Pool", (PyObject *)&PoolType) < 0)
		goto fail;
	Py_INCREF(&GuardType);
	if (PyModule_AddObject(m, "SlotGuard", (PyObject *)&GuardType) < 0)
		goto fail;
	if (PyModule_AddStringConstant(m, "__version__", SHPOOL_PY_VERSION) < 0 ||
	    PyModule_AddObject(m, "MAX_CAPACITY",
			       PyLong_FromUnsignedLongLong(SHPOOL_MAX_CAPACITY)) < 0 ||
	    PyModule_AddObject(m, "MAX_ELEM_SIZE",
			       PyLong_FromUnsignedLong(SHPOOL_MAX_ELEM_SIZE)) < 0)
		goto fail;
	/* shpool.RAW == 'raw', ...: the kind names as constants. */
	static const char *const upper[NKINDS] = { "RAW", "I64", "I32", "F64", "STR" };
	for (int i = 0; i < NKINDS; i++)
		if (PyModule_AddStringConstant(m, upper[i], kinds[i].name) < 0)
			goto fail;
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}

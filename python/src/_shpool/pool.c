/* SPDX-License-Identifier: MIT */
/*
 * The Pool type: making and attaching pools, closing them, their
 * properties and introspection, pickling. Allocation and waiting are in
 * wait.c, data access in data.c; the type's method table is assembled
 * from theirs at module initialisation.
 *
 * Lifetime: a Pool is unmapped by close() or when it is garbage. close()
 * marks it closed at once (every call then raises ValueError) but unmaps
 * only once nothing needs the mapping: the last buffer export (memoryview,
 * numpy array) released, the last thread out of a blocking wait. So no
 * view ever points at an unmapped pool, and close() itself never raises,
 * so a with block's __exit__ never replaces the exception that left it.
 */
#include "module.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int shpool_py_check_open(PoolObject *self)
{
	if (!self->pool || self->closing) {
		PyErr_SetString(PyExc_ValueError, "operation on a closed pool");
		return -1;
	}
	return 0;
}

static void pool_unmap(PoolObject *self)
{
	shpool_t *p = self->pool;
	self->pool = NULL;
	if (p)
		shpool_close(p);
}

void shpool_py_maybe_unmap(PoolObject *self)
{
	if (self->closing && self->exports == 0 && self->inflight == 0)
		pool_unmap(self);
}

static PyObject *pool_wrap(PyTypeObject *type, shpool_t *p)
{
	PoolObject *self = (PoolObject *)type->tp_alloc(type, 0);
	if (!self) {
		shpool_close(p);
		return NULL;
	}
	self->pool = p;
	self->kind = shpool_kind_of(p);
	/* Typed kinds export one item per slot, stride bytes apart; raw
	 * and str pools export their bytes (data.c). */
	self->shape[0] = (Py_ssize_t)shpool_capacity(p);
	self->strides[0] = (Py_ssize_t)shpool_stride(p);
	return (PyObject *)self;
}

/* Attach by path (fd < 0) or fd, of the given kind or (kind 0) of the kind
 * the pool has. */
static int attach(shpool_t **out, const char *path, int fd, int kind, int readonly,
		  int populate)
{
	unsigned flags = (readonly ? SHPOOL_RDONLY : 0) | (populate ? SHPOOL_POPULATE : 0);

	if (fd < 0)
		return shpool_attach(out, path, (shpool_kind)kind, flags);
	return shpool_attach_fd(out, fd, (shpool_kind)kind, flags);
}

static void fill_options(shpool_options *o, uint64_t mode, int zero, int notify, int huge,
			 int populate)
{
	memset(o, 0, sizeof(*o));
	o->mode = (unsigned)mode;
	o->flags = (zero ? 0 : SHPOOL_NO_ZERO) | (notify ? SHPOOL_NOTIFY_ON_FREE : 0) |
		   (huge == 1 ? SHPOOL_HUGEPAGES : 0) | (huge == 2 ? SHPOOL_HUGEPAGES_PREFER : 0) |
		   (populate ? SHPOOL_POPULATE : 0);
}

/* Geometry arguments of Pool() and Pool.memfd(); kind_o NULL is 'raw'. */
static int conv_geometry(PyObject *kind_o, PyObject *cap_o, PyObject *elem_o, const char *fn,
			 int *kind, uint64_t *cap, uint32_t *elem)
{
	uint64_t e = 0;

	if (!kind_o)
		*kind = SHPOOL_RAW;
	else if (shpool_py_conv_kind(kind_o, 0, kind) < 0)
		return -1;
	if (!cap_o || cap_o == Py_None) {
		PyErr_Format(PyExc_TypeError, "%s() missing required argument 'capacity'", fn);
		return -1;
	}
	if (shpool_py_conv_size(cap_o, "capacity", UINT64_MAX, cap) < 0)
		return -1;
	if (elem_o && elem_o != Py_None) {
		if (shpool_py_conv_size(elem_o, "elem_size", UINT32_MAX, &e) < 0)
			return -1;
	} else if (*kind == SHPOOL_RAW || *kind == SHPOOL_STR) {
		PyErr_Format(PyExc_TypeError, "%s() of kind '%s' needs elem_size", fn,
			     shpool_py_kind_name(*kind));
		return -1;
	}
	*elem = (uint32_t)e;
	return 0;
}

/* A path argument as bytes (str, bytes or os.PathLike); NULL on error. */
static PyObject *conv_path(PyObject *path_o)
{
	PyObject *b = NULL;
	if (!PyUnicode_FSConverter(path_o, &b))
		return NULL;
	if (strlen(PyBytes_AS_STRING(b)) != (size_t)PyBytes_GET_SIZE(b)) {
		Py_DECREF(b);
		PyErr_SetString(PyExc_ValueError, "embedded null byte in path");
		return NULL;
	}
	return b;
}

/* ---- making and attaching ------------------------------------------------------ */

/* The signature's mode=DEFAULT_MODE names shpool.DEFAULT_MODE (0o600, an
 * int that shows itself in octal), so that help() says 0o600, not 384. */
PyDoc_STRVAR(pool__doc__,
"Pool(path=None, kind='raw', capacity=None, elem_size=None, *,\n"
"     mode=DEFAULT_MODE, zero=True, notify_on_free=False, huge_pages=False,\n"
"     populate=False)\n"
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
"  mode       file mode of a new pool file (0o600)\n"
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
"region through the buffer protocol (buffer, slot(); numpy.asarray(p) is a\n"
"live array of an i64, i32 or f64 pool's values). Slot indices are ints\n"
"from 0 to capacity - 1. Timeouts are seconds: None waits forever, 0 does\n"
"not wait. Errors raise ValueError (bad argument, wrong kind, slot not\n"
"allocated), IndexError (slot out of range) or OSError subclasses, each with\n"
"errno and the library's detail.\n"
"\n"
"A Pool pickles (multiprocessing's spawn and forkserver, a Queue, a\n"
"ProcessPoolExecutor): a file pool as its path, reopened by the receiver;\n"
"a memfd pool with its descriptors, which multiprocessing passes on. An\n"
"anonymous pool cannot be pickled: only forked children share it.\n"
"\n"
"SIGBUS: the pool is memory mapped. If a process that can write a pool\n"
"file truncates it, every process touching a slot past the new end gets\n"
"SIGBUS, and the interpreter dies (no exception can be raised for it).\n"
"Keep pool files 0600 (the default) or in a directory only trusted users\n"
"can write, or use memfd pools, which are sealed against resizing.\n"
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

static PyObject *pool_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "path", "kind", "capacity", "elem_size", "mode", "zero",
				  "notify_on_free", "huge_pages", "populate", NULL };
	PyObject *path_o = Py_None, *kind_o = NULL, *cap_o = NULL, *elem_o = NULL;
	PyObject *path_b = NULL, *mode_o = NULL, *huge_o = NULL;
	uint64_t mode = 0600, cap;
	uint32_t elem;
	int zero = 1, notify = 0, huge, populate = 0, kind, rc;
	shpool_options opts;
	shpool_t *p = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOOO$OppOp:Pool", kwlist, &path_o, &kind_o,
					 &cap_o, &elem_o, &mode_o, &zero, &notify, &huge_o,
					 &populate))
		return NULL;
	if (mode_o && shpool_py_conv_size(mode_o, "mode", 07777, &mode) < 0)
		return NULL;
	if (shpool_py_conv_huge(huge_o, &huge) < 0 ||
	    conv_geometry(kind_o, cap_o, elem_o, "Pool", &kind, &cap, &elem) < 0)
		return NULL;
	fill_options(&opts, mode, zero, notify, huge, populate);
	if (path_o != Py_None && !(path_b = conv_path(path_o)))
		return NULL;
	const char *path = path_b ? PyBytes_AS_STRING(path_b) : NULL;
	Py_BEGIN_ALLOW_THREADS
	rc = shpool_create(&p, path, (shpool_kind)kind, cap, elem, &opts);
	Py_END_ALLOW_THREADS
	Py_XDECREF(path_b);
	if (rc < 0)
		return shpool_py_raise_rc(rc, 0);
	return pool_wrap(type, p);
}

PyDoc_STRVAR(pool_open__doc__,
"open($type, /, path, kind=None, *, readonly=False, populate=False)\n"
"--\n"
"\n"
"Attach the existing pool at path.\n"
"\n"
"kind None accepts the pool's own kind; a kind name insists on it\n"
"(ValueError if the pool has another). FileNotFoundError if there is no\n"
"pool, PermissionError without access, OSError(EBADMSG) for a file that is\n"
"not a pool. readonly=True maps the pool read-only (calls that would write\n"
"raise OSError(EROFS)). populate=True faults this process's whole mapping\n"
"in now (for reading only with readonly), so no first touch faults later;\n"
"OSError (ENOMEM) if it cannot be. The mapping is on huge pages when the\n"
"pool's file is (page_size tells).");

static PyObject *pool_open(PyObject *cls, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "path", "kind", "readonly", "populate", NULL };
	PyObject *path_o, *path_b, *kind_o = Py_None;
	int kind, readonly = 0, populate = 0, rc;
	shpool_t *p = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O$pp:open", kwlist, &path_o, &kind_o,
					 &readonly, &populate))
		return NULL;
	if (shpool_py_conv_kind(kind_o, 1, &kind) < 0 || !(path_b = conv_path(path_o)))
		return NULL;
	const char *path = PyBytes_AS_STRING(path_b);
	Py_BEGIN_ALLOW_THREADS
	rc = attach(&p, path, -1, kind, readonly, populate);
	Py_END_ALLOW_THREADS
	Py_DECREF(path_b);
	if (rc < 0)
		return shpool_py_raise_rc(rc, 0);
	return pool_wrap((PyTypeObject *)cls, p);
}

PyDoc_STRVAR(pool_from_fd__doc__,
"from_fd($type, /, fd, kind=None, *, readonly=False, populate=False)\n"
"--\n"
"\n"
"Attach the pool in file descriptor fd (an int or an object with fileno()).\n"
"\n"
"fd is a memfd received over a Unix socket, or inherited. The pool keeps\n"
"its own duplicate; the caller still owns fd. kind, readonly and populate\n"
"as for open(); a memfd made with huge_pages is mapped on huge pages here\n"
"too.");

static PyObject *pool_from_fd(PyObject *cls, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "fd", "kind", "readonly", "populate", NULL };
	PyObject *fd_o, *kind_o = Py_None;
	int kind, readonly = 0, populate = 0, rc, fd;
	shpool_t *p = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O$pp:from_fd", kwlist, &fd_o, &kind_o,
					 &readonly, &populate))
		return NULL;
	if (shpool_py_conv_kind(kind_o, 1, &kind) < 0)
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
		return shpool_py_raise_rc(rc, 0);
	return pool_wrap((PyTypeObject *)cls, p);
}

PyDoc_STRVAR(pool_memfd__doc__,
"memfd($type, /, name='shpool', kind='raw', capacity=None, elem_size=None,\n"
"      *, zero=True, notify_on_free=False, huge_pages=False, populate=False)\n"
"--\n"
"\n"
"Create a pool in a memfd sealed against resizing.\n"
"\n"
"The fd property gives its descriptor, to pass to another process\n"
"(pickling the Pool for multiprocessing, socket.send_fds, or inheritance)\n"
"which attaches it with Pool.from_fd(). Keywords as for Pool(); huge_pages\n"
"makes the memfd MFD_HUGETLB, so every process that attaches it maps huge\n"
"pages.");

static PyObject *pool_memfd(PyObject *cls, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "name", "kind", "capacity", "elem_size", "zero",
				  "notify_on_free", "huge_pages", "populate", NULL };
	const char *name = NULL;
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
	if (!name)
		name = "shpool";
	else if (strlen(name) != (size_t)name_len) {
		PyErr_SetString(PyExc_ValueError, "embedded null byte in name");
		return NULL;
	}
	if (shpool_py_conv_huge(huge_o, &huge) < 0 ||
	    conv_geometry(kind_o, cap_o, elem_o, "memfd", &kind, &cap, &elem) < 0)
		return NULL;
	fill_options(&opts, 0, zero, notify, huge, populate);
	/* name points into the str argument, which the call keeps alive. */
	Py_BEGIN_ALLOW_THREADS
	rc = shpool_create_memfd(&p, name, (shpool_kind)kind, cap, elem, &opts);
	Py_END_ALLOW_THREADS
	if (rc < 0)
		return shpool_py_raise_rc(rc, 0);
	return pool_wrap((PyTypeObject *)cls, p);
}

/* ---- lifetime ---------------------------------------------------------------------- */

static int pool_traverse(PoolObject *self, visitproc visit, void *arg)
{
	Py_VISIT(Py_TYPE(self));
	Py_VISIT(self->async_waiters);
	return 0;
}

static int pool_clear(PoolObject *self)
{
	Py_CLEAR(self->async_waiters);
	return 0;
}

static void pool_dealloc(PoolObject *self)
{
	PyTypeObject *tp = Py_TYPE(self);

	/* No export and no waiting thread can outlive the object: both
	 * hold a reference to it. */
	PyObject_GC_UnTrack(self);
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *)self);
	pool_clear(self);
	pool_unmap(self);
	tp->tp_free((PyObject *)self);
	Py_DECREF(tp);
}

PyDoc_STRVAR(pool_close__doc__,
"close($self, /)\n"
"--\n"
"\n"
"Close the pool: every call on it raises ValueError from now on.\n"
"\n"
"The pool is unmapped, and its descriptors closed, as soon as nothing needs\n"
"the mapping: at once, or when the last memoryview or array of it (buffer,\n"
"slot(), numpy) is released, or when the last thread waiting in alloc()\n"
"leaves (it returns with ValueError). Slots stay allocated in the shared\n"
"pool. Never raises; closing twice is allowed.");

static PyObject *pool_close(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	if (self->pool && !self->closing) {
		self->closing = 1;
		shpool_py_maybe_unmap(self);
	}
	Py_RETURN_NONE;
}

PyDoc_STRVAR(pool_enter__doc__,
"__enter__($self, /)\n"
"--\n"
"\n"
"Return self.");

static PyObject *pool_enter(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	SHPOOL_PY_CHECK_OPEN(self);
	return Py_NewRef(self);
}

PyDoc_STRVAR(pool_exit__doc__,
"__exit__($self, exc_type, exc, tb, /)\n"
"--\n"
"\n"
"Close the pool (see close()); the exception that left the block, if any,\n"
"goes on.");

static PyObject *pool_exit(PoolObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	(void)args;
	if (nargs != 3) {
		PyErr_Format(PyExc_TypeError, "__exit__ expected 3 arguments, got %zd", nargs);
		return NULL;
	}
	Py_DECREF(pool_close(self, NULL));
	Py_RETURN_FALSE;
}

/* ---- introspection --------------------------------------------------------------------- */

static int collect_slot(shpool_t *p, uint64_t idx, void *arg)
{
	(void)p;
	PyObject *v = PyLong_FromUnsignedLongLong(idx);
	int rc = v ? PyList_Append((PyObject *)arg, v) : -1;
	Py_XDECREF(v);
	return rc < 0 ? 1 : 0;
}

PyDoc_STRVAR(pool_allocated_slots__doc__,
"allocated_slots($self, /)\n"
"--\n"
"\n"
"The indices of the allocated slots, ascending (a snapshot).");

static PyObject *pool_allocated_slots(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	SHPOOL_PY_CHECK_OPEN(self);
	PyObject *list = PyList_New(0);
	if (!list)
		return NULL;
	int rc = shpool_each_allocated(self->pool, collect_slot, list);
	if (rc != 0) {
		Py_DECREF(list);
		if (rc < 0)
			return shpool_py_raise_rc(rc, 0);
		return NULL; /* the callback's exception */
	}
	return list;
}

PyDoc_STRVAR(pool_is_allocated__doc__,
"is_allocated($self, index, /)\n"
"--\n"
"\n"
"True if slot index is allocated.");

static PyObject *pool_is_allocated(PoolObject *self, PyObject *arg)
{
	uint64_t idx;
	SHPOOL_PY_CHECK_OPEN(self);
	if (shpool_py_conv_index(arg, &idx) < 0)
		return NULL;
	int rc = shpool_is_allocated(self->pool, idx);
	if (rc < 0)
		return shpool_py_raise_rc(rc, 1);
	return PyBool_FromLong(rc);
}

PyDoc_STRVAR(pool_owner__doc__,
"owner($self, index, /)\n"
"--\n"
"\n"
"PID of the process that holds slot index, None if it is free.");

static PyObject *pool_owner(PoolObject *self, PyObject *arg)
{
	uint64_t idx;
	SHPOOL_PY_CHECK_OPEN(self);
	if (shpool_py_conv_index(arg, &idx) < 0)
		return NULL;
	pid_t pid = shpool_owner(self->pool, idx);
	if (pid < 0)
		return shpool_py_raise_rc(pid, 1);
	if (pid == 0)
		Py_RETURN_NONE;
	return PyLong_FromLong(pid);
}

PyDoc_STRVAR(pool_stats__doc__,
"stats($self, /)\n"
"--\n"
"\n"
"The pool's statistics, a dict.\n"
"\n"
"capacity, elem_size, used, available, waiters, mmap_size, page_size (this\n"
"process's mapping: see the page_size property) and the counters allocs,\n"
"frees, waits (allocations that had to block), timeouts, recoveries (slots\n"
"freed by recover_stale) and reset_frees (slots freed by reset), which\n"
"only rise and are exact once the pool is quiet: allocs - frees -\n"
"recoveries - reset_frees == used. A blocking call counts as one wait and\n"
"at most one timeout, however long it waits.");

static PyObject *pool_stats(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	shpool_stats_t s;
	SHPOOL_PY_CHECK_OPEN(self);
	int rc = shpool_stats(self->pool, &s);
	if (rc < 0)
		return shpool_py_raise_rc(rc, 0);
	return Py_BuildValue("{sKsKsKsKsKsKsKsKsKsKsKsKsn}",
			     "capacity", (unsigned long long)s.capacity,
			     "elem_size", (unsigned long long)s.elem_size,
			     "used", (unsigned long long)s.used,
			     "available", (unsigned long long)s.available,
			     "waiters", (unsigned long long)s.waiters,
			     "mmap_size", (unsigned long long)s.mmap_size,
			     "allocs", (unsigned long long)s.allocs,
			     "frees", (unsigned long long)s.frees,
			     "waits", (unsigned long long)s.waits,
			     "timeouts", (unsigned long long)s.timeouts,
			     "recoveries", (unsigned long long)s.recoveries,
			     "reset_frees", (unsigned long long)s.reset_frees,
			     "page_size", (Py_ssize_t)shpool_page_size(self->pool));
}

PyDoc_STRVAR(pool_recover_stale__doc__,
"recover_stale($self, /)\n"
"--\n"
"\n"
"Free the slots held by dead processes; return how many.\n"
"\n"
"Safe at any time, from any process, during live traffic: a live process's\n"
"slot is never freed.");

static PyObject *pool_recover_stale(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	SHPOOL_PY_CHECK_OPEN(self);
	int64_t rc = shpool_recover_stale(self->pool);
	if (rc < 0)
		return shpool_py_raise_rc(rc, 0);
	return PyLong_FromLongLong(rc);
}

PyDoc_STRVAR(pool_reset__doc__,
"reset($self, /)\n"
"--\n"
"\n"
"Free every slot and wake all waiters. Only when nobody else uses the pool.");

static PyObject *pool_reset(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	SHPOOL_PY_CHECK_OPEN(self);
	int rc = shpool_reset(self->pool);
	if (rc < 0)
		return shpool_py_raise_rc(rc, 0);
	Py_RETURN_NONE;
}

PyDoc_STRVAR(pool_check__doc__,
"check($self, /)\n"
"--\n"
"\n"
"Cross-check bitmap, summary, owner records and counters.\n"
"\n"
"A list with one description per inconsistency, empty when the pool is\n"
"consistent.");

static PyObject *pool_check(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	SHPOOL_PY_CHECK_OPEN(self);
	f = open_memstream(&text, &len);
	if (!f)
		return PyErr_SetFromErrno(PyExc_OSError);
	rc = shpool_check(self->pool, f);
	fclose(f);
	if (rc < 0) {
		free(text);
		return shpool_py_raise_rc(rc, 0);
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

PyDoc_STRVAR(pool_sync__doc__,
"sync($self, /)\n"
"--\n"
"\n"
"msync(2) the mapping (file-backed pools).");

static PyObject *pool_sync(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	SHPOOL_PY_CHECK_OPEN(self);
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = shpool_sync(self->pool);
	Py_END_ALLOW_THREADS
	if (rc < 0)
		return shpool_py_raise_rc(rc, 0);
	Py_RETURN_NONE;
}

PyDoc_STRVAR(pool_unlink__doc__,
"unlink($self, /)\n"
"--\n"
"\n"
"Remove the pool's file; the pool lives on while attached.\n"
"\n"
"ValueError for anonymous and memfd pools.");

static PyObject *pool_unlink(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	SHPOOL_PY_CHECK_OPEN(self);
	int rc = shpool_unlink(self->pool);
	if (rc < 0)
		return shpool_py_raise_rc(rc, 0);
	Py_RETURN_NONE;
}

/* ---- pickling -------------------------------------------------------------------------- */

PyDoc_STRVAR(pool_reduce__doc__,
"__reduce__($self, /)\n"
"--\n"
"\n"
"Pickle support: a file pool travels as its path, a memfd pool as its\n"
"descriptors (multiprocessing passes them on); TypeError for an anonymous\n"
"pool. See shpool._mp.");

static PyObject *pool_reduce(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	SHPOOL_PY_CHECK_OPEN(self);
	shpool_state *st = shpool_py_state(Py_TYPE(self));
	PyObject *fn = st ? shpool_py_lazy(&st->reduce_pool, "shpool._mp", "reduce_pool") : NULL;
	return fn ? PyObject_CallOneArg(fn, (PyObject *)self) : NULL;
}

/* ---- repr and properties ------------------------------------------------------------- */

static PyObject *pool_repr(PoolObject *self)
{
	if (!self->pool || self->closing)
		return PyUnicode_FromFormat("<%s closed>", Py_TYPE(self)->tp_name);
	const char *path = shpool_path(self->pool);
	int memfd = shpool_memfd(self->pool);
	return PyUnicode_FromFormat("<%s %s kind='%s' capacity=%llu elem_size=%u used=%llu>",
				    Py_TYPE(self)->tp_name,
				    path ? path : memfd >= 0 ? "memfd" : "anonymous",
				    shpool_py_kind_name(self->kind),
				    (unsigned long long)shpool_capacity(self->pool),
				    (unsigned)shpool_elem_size(self->pool),
				    (unsigned long long)shpool_used(self->pool));
}

#define GETTER(fn, expr)                                                  \
	static PyObject *fn(PoolObject *self, void *Py_UNUSED(closure))   \
	{                                                                 \
		SHPOOL_PY_CHECK_OPEN(self);                               \
		return expr;                                              \
	}
GETTER(get_capacity, PyLong_FromUnsignedLongLong(shpool_capacity(self->pool)))
GETTER(get_elem_size, PyLong_FromUnsignedLong(shpool_elem_size(self->pool)))
GETTER(get_stride, PyLong_FromSize_t(shpool_stride(self->pool)))
GETTER(get_used, PyLong_FromUnsignedLongLong(shpool_used(self->pool)))
GETTER(get_available, PyLong_FromUnsignedLongLong(shpool_available(self->pool)))
GETTER(get_kind, PyUnicode_FromString(shpool_py_kind_name(self->kind)))
GETTER(get_page_size, PyLong_FromSize_t(shpool_page_size(self->pool)))
GETTER(get_readonly, PyBool_FromLong(shpool_is_readonly(self->pool) > 0))
GETTER(get_buffer, PyMemoryView_FromObject((PyObject *)self))

static PyObject *get_path(PoolObject *self, void *Py_UNUSED(closure))
{
	SHPOOL_PY_CHECK_OPEN(self);
	const char *path = shpool_path(self->pool);
	if (!path)
		Py_RETURN_NONE;
	return PyUnicode_DecodeFSDefault(path);
}

static PyObject *fd_or_none(int fd)
{
	if (fd < 0)
		Py_RETURN_NONE;
	return PyLong_FromLong(fd);
}

static PyObject *get_memfd(PoolObject *self, void *Py_UNUSED(closure))
{
	SHPOOL_PY_CHECK_OPEN(self);
	return fd_or_none(shpool_memfd(self->pool));
}

/* The eventfd if the handle has one, without making one (pickling). */
static PyObject *get_event_fd(PoolObject *self, void *Py_UNUSED(closure))
{
	SHPOOL_PY_CHECK_OPEN(self);
	return fd_or_none(shpool_fileno(self->pool));
}

static PyObject *get_closed(PoolObject *self, void *Py_UNUSED(closure))
{
	return PyBool_FromLong(!self->pool || self->closing);
}

static PyGetSetDef pool_getset[] = {
	{ "capacity", (getter)get_capacity, NULL, "Number of slots.", NULL },
	{ "elem_size", (getter)get_elem_size, NULL,
	  "Bytes per slot (max_len for str pools; 8, 4, 8 for i64, i32, f64).", NULL },
	{ "stride", (getter)get_stride, NULL,
	  "Distance in bytes between slots in buffer: slot i starts at i * stride.", NULL },
	{ "used", (getter)get_used, NULL, "Slots allocated now (a snapshot).", NULL },
	{ "available", (getter)get_available, NULL, "Slots free now (a snapshot).", NULL },
	{ "kind", (getter)get_kind, NULL, "'raw', 'i64', 'i32', 'f64' or 'str'.", NULL },
	{ "path", (getter)get_path, NULL, "The pool file, None for anonymous and memfd pools.",
	  NULL },
	{ "fd", (getter)get_memfd, NULL,
	  "The pool's memfd (to pass to another process), None if not memfd-backed.", NULL },
	{ "_event_fd", (getter)get_event_fd, NULL,
	  "The handle's eventfd, None if it has none yet (internal: eventfd() makes one).",
	  NULL },
	{ "closed", (getter)get_closed, NULL, "True once close() was called.", NULL },
	{ "readonly", (getter)get_readonly, NULL, "True if attached read-only.", NULL },
	{ "page_size", (getter)get_page_size, NULL,
	  "Bytes per page under this process's mapping of the pool.\n"
	  "\n"
	  "The huge page size (2097152 on most x86-64) when it is on huge pages, else\n"
	  "the system page size (os.sysconf('SC_PAGE_SIZE')). Tells what\n"
	  "huge_pages='prefer' got; an attached pool is on huge pages when its file\n"
	  "is (a hugetlbfs file, or a memfd made with huge_pages). Transparent huge\n"
	  "pages are not counted.",
	  NULL },
	{ "buffer", (getter)get_buffer, NULL,
	  "A live memoryview of the whole data region (memoryview(p) is the same).\n"
	  "\n"
	  "Typed pools export their values: format 'q', 'i' or 'd' (i64, i32, f64),\n"
	  "one item per slot, stride bytes apart, so numpy.asarray(p) is a live\n"
	  "array of capacity values (an i32 pool's is strided: its slots are 8\n"
	  "bytes apart). Raw and str pools export capacity * stride bytes (format\n"
	  "'B'). Read-only for a pool attached readonly. The pool stays mapped while\n"
	  "the view, or any array made from it, is alive, even after close().",
	  NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyMemberDef pool_members[] = {
	{ "_async_waiters", T_OBJECT, offsetof(PoolObject, async_waiters), 0,
	  "Futures of alloc_async() calls waiting (internal: shpool._async)." },
	{ "__weaklistoffset__", T_PYSSIZET, offsetof(PoolObject, weakreflist), READONLY, NULL },
	{ NULL, 0, 0, 0, NULL },
};

/* ---- the type ------------------------------------------------------------------------- */

static PyMethodDef pool_own_methods[] = {
	{ "open", (PyCFunction)(void (*)(void))pool_open, METH_VARARGS | METH_KEYWORDS | METH_CLASS,
	  pool_open__doc__ },
	{ "from_fd", (PyCFunction)(void (*)(void))pool_from_fd,
	  METH_VARARGS | METH_KEYWORDS | METH_CLASS, pool_from_fd__doc__ },
	{ "memfd", (PyCFunction)(void (*)(void))pool_memfd,
	  METH_VARARGS | METH_KEYWORDS | METH_CLASS, pool_memfd__doc__ },
	{ "close", (PyCFunction)pool_close, METH_NOARGS, pool_close__doc__ },
	{ "__enter__", (PyCFunction)pool_enter, METH_NOARGS, pool_enter__doc__ },
	{ "__exit__", (PyCFunction)(void (*)(void))pool_exit, METH_FASTCALL, pool_exit__doc__ },
	{ "allocated_slots", (PyCFunction)pool_allocated_slots, METH_NOARGS,
	  pool_allocated_slots__doc__ },
	{ "is_allocated", (PyCFunction)pool_is_allocated, METH_O, pool_is_allocated__doc__ },
	{ "owner", (PyCFunction)pool_owner, METH_O, pool_owner__doc__ },
	{ "stats", (PyCFunction)pool_stats, METH_NOARGS, pool_stats__doc__ },
	{ "recover_stale", (PyCFunction)pool_recover_stale, METH_NOARGS,
	  pool_recover_stale__doc__ },
	{ "reset", (PyCFunction)pool_reset, METH_NOARGS, pool_reset__doc__ },
	{ "check", (PyCFunction)pool_check, METH_NOARGS, pool_check__doc__ },
	{ "sync", (PyCFunction)pool_sync, METH_NOARGS, pool_sync__doc__ },
	{ "unlink", (PyCFunction)pool_unlink, METH_NOARGS, pool_unlink__doc__ },
	{ "__reduce__", (PyCFunction)pool_reduce, METH_NOARGS, pool_reduce__doc__ },
	{ "__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS,
	  "Pool[int] and the like, for type annotations (PEP 585)." },
	{ NULL, NULL, 0, NULL },
};

/* Room for every method of every file; the type keeps pointing at it. */
static PyMethodDef pool_methods[64];

static int add_methods(size_t *n, const PyMethodDef *defs)
{
	for (; defs->ml_name; defs++) {
		if (*n + 1 >= sizeof(pool_methods) / sizeof(pool_methods[0])) {
			PyErr_SetString(PyExc_SystemError, "shpool: pool_methods[] is too small");
			return -1;
		}
		pool_methods[(*n)++] = *defs;
	}
	return 0;
}

static PyType_Slot pool_slots[] = {
	{ Py_tp_doc, (void *)pool__doc__ },
	{ Py_tp_new, (void *)pool_new },
	{ Py_tp_dealloc, (void *)pool_dealloc },
	{ Py_tp_traverse, (void *)pool_traverse },
	{ Py_tp_clear, (void *)pool_clear },
	{ Py_tp_repr, (void *)pool_repr },
	{ Py_tp_methods, (void *)pool_methods },
	{ Py_tp_getset, (void *)pool_getset },
	{ Py_tp_members, (void *)pool_members },
	{ Py_bf_getbuffer, (void *)shpool_py_getbuffer },
	{ Py_bf_releasebuffer, (void *)shpool_py_releasebuffer },
	{ 0, NULL },
};

static PyType_Spec pool_spec = {
	.name = "shpool.Pool",
	.basicsize = sizeof(PoolObject),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC
#ifdef Py_TPFLAGS_IMMUTABLETYPE
		 | Py_TPFLAGS_IMMUTABLETYPE
#endif
	,
	.slots = pool_slots,
};

int shpool_py_pool_type_init(PyObject *module, shpool_state *st)
{
	if (!pool_methods[0].ml_name) {
		size_t n = 0;
		if (add_methods(&n, pool_own_methods) < 0 ||
		    add_methods(&n, shpool_py_wait_methods) < 0 ||
		    add_methods(&n, shpool_py_data_methods) < 0 ||
		    add_methods(&n, shpool_py_guard_methods) < 0)
			return -1;
	}
	st->pool_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &pool_spec, NULL);
	if (!st->pool_type)
		return -1;
	return PyModule_AddType(module, st->pool_type);
}

/* SPDX-License-Identifier: MIT */
/*
 * Allocation and waiting: alloc, try_alloc, free, alloc_n, free_n,
 * alloc_set, the wait behind slot guards (guard.c), and the eventfd calls
 * alloc_async (shpool/_async.py) waits on.
 *
 * A blocking wait releases the GIL and runs in slices of at most
 * SHPOOL_PY_SLICE_MS, so that signal handlers (Ctrl-C) run and close()
 * is noticed between them: the library resumes a futex wait after a signal
 * itself, so one long wait would never return for Ctrl-C. The slices are
 * shpool_alloc_ex()/shpool_alloc_n_ex() calls with SHPOOL_WAIT_SLICE and
 * SHPOOL_WAIT_RESUME, so one blocking call counts as one wait and at most
 * one timeout in stats(), as the same call from C does.
 */
#include "module.h"

#include <errno.h>
#include <math.h>
#include <time.h>

static double monotonic_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Run op until it succeeds, fails otherwise than by a timeout, or the
 * deadline passes (-ETIMEDOUT; -EAGAIN when timeout is 0). The first
 * attempt does not wait and keeps the GIL (the fast path; the library
 * counts no wait for it). Then the GIL is released for each slice: every
 * slice but the first resumes the wait (SHPOOL_WAIT_RESUME: not counted
 * again in waits), every slice but the last, which ends at the caller's
 * deadline, is SHPOOL_WAIT_SLICE (its timeout is not counted). A slice
 * that overran the deadline is followed by a last one of 1 ms, so that a
 * timed-out call always ends with its one counted timeout. Between slices
 * signal handlers run: an exception from one (KeyboardInterrupt) ends the
 * wait holding no slot (SHPOOL_PY_PYERR). The GIL-less part must not touch
 * Python objects: op's buffers belong to the caller, who keeps them alive. */
int64_t shpool_py_wait(PoolObject *self, struct shpool_py_wait_op *op, double timeout,
		       int forever)
{
	int64_t rc = op->run(self->pool, op, 0, 0);
	unsigned resume = 0;
	double deadline;

	if (rc != -EAGAIN || (!forever && timeout <= 0))
		return rc;
	deadline = forever ? 0 : monotonic_now() + timeout;
	for (;;) {
		int ms = SHPOOL_PY_SLICE_MS;
		unsigned flags = resume | SHPOOL_WAIT_SLICE;

		if (!forever) {
			double left_ms = ceil((deadline - monotonic_now()) * 1000.0);
			if (left_ms <= ms) {
				ms = left_ms < 1 ? 1 : (int)left_ms;
				flags = resume;
			}
		}
		shpool_t *p = self->pool;
		self->inflight++;
		Py_BEGIN_ALLOW_THREADS
		rc = op->run(p, op, ms, flags);
		Py_END_ALLOW_THREADS
		self->inflight--;
		resume = SHPOOL_WAIT_RESUME;
		if (self->closing) {
			/* close() came while we waited: give back what we got;
			 * the last one out unmaps (unless views still hold
			 * the mapping). */
			if (rc >= 0 && op->undo)
				op->undo(p, op, rc);
			shpool_py_maybe_unmap(self);
			PyErr_SetString(PyExc_ValueError, "pool closed during the wait");
			return SHPOOL_PY_PYERR;
		}
		if (rc != -ETIMEDOUT || !(flags & SHPOOL_WAIT_SLICE))
			return rc;
		if (PyErr_CheckSignals() < 0)
			return SHPOOL_PY_PYERR;
	}
}

static int64_t run_alloc(shpool_t *p, struct shpool_py_wait_op *op, int ms, unsigned flags)
{
	(void)op;
	return shpool_alloc_ex(p, ms, flags);
}

static void undo_one(shpool_t *p, struct shpool_py_wait_op *op, int64_t rc)
{
	(void)op;
	shpool_free(p, (uint64_t)rc);
}

const struct shpool_py_wait_op shpool_py_alloc_op = { .run = run_alloc, .undo = undo_one };

static int64_t run_alloc_n(shpool_t *p, struct shpool_py_wait_op *op, int ms, unsigned flags)
{
	return shpool_alloc_n_ex(p, op->out, op->n, ms, flags);
}

static void undo_n(shpool_t *p, struct shpool_py_wait_op *op, int64_t rc)
{
	(void)rc;
	shpool_free_n(p, op->out, op->n);
}

/* Store op's value in slot idx, which this call just allocated. */
static int store_value(shpool_t *p, struct shpool_py_wait_op *op, uint64_t idx)
{
	switch (op->kind) {
	case SHPOOL_I64: return shpool_i64_set(p, idx, op->v.i64);
	case SHPOOL_I32: return shpool_i32_set(p, idx, op->v.i32);
	case SHPOOL_F64: return shpool_f64_set(p, idx, op->v.f64);
	case SHPOOL_STR: return shpool_str_set(p, idx, op->v.buf.s, op->v.buf.len);
	default: return shpool_set(p, idx, op->v.buf.s, op->v.buf.len);
	}
}

/* The first attempt is the library's alloc_set, which checks the value
 * before it allocates anything. The library's blocking alloc_set has no
 * wait flags, so the slices allocate with shpool_alloc_ex() and store here,
 * freeing the slot again should the store fail (as alloc_set does). */
static int64_t run_alloc_set(shpool_t *p, struct shpool_py_wait_op *op, int ms, unsigned flags)
{
	if (ms == 0) {
		switch (op->kind) {
		case SHPOOL_I64: return shpool_alloc_set_i64(p, op->v.i64, 0);
		case SHPOOL_I32: return shpool_alloc_set_i32(p, op->v.i32, 0);
		case SHPOOL_F64: return shpool_alloc_set_f64(p, op->v.f64, 0);
		case SHPOOL_STR: return shpool_alloc_set_str(p, op->v.buf.s, op->v.buf.len, 0);
		default: return shpool_alloc_set(p, op->v.buf.s, op->v.buf.len, 0);
		}
	}
	int64_t idx = shpool_alloc_ex(p, ms, flags);
	if (idx < 0)
		return idx;
	int rc = store_value(p, op, (uint64_t)idx);
	if (rc < 0) {
		shpool_free(p, (uint64_t)idx);
		return rc;
	}
	return idx;
}

/* The result of an allocation: index, None on timeout or full, or raise. */
static PyObject *alloc_result(int64_t rc)
{
	if (rc >= 0)
		return PyLong_FromLongLong(rc);
	if (rc == SHPOOL_PY_PYERR)
		return NULL;
	if (rc == -ETIMEDOUT || rc == -EAGAIN)
		Py_RETURN_NONE;
	return shpool_py_raise_rc(rc, 0);
}

PyDoc_STRVAR(pool_alloc__doc__,
"alloc($self, /, timeout=None)\n"
"--\n"
"\n"
"Allocate a slot and return its index, or None if none came free in time.\n"
"\n"
"timeout is in seconds: None waits forever, 0 does not wait. While waiting\n"
"the GIL is released; signal handlers run every 100 ms (Ctrl-C raises\n"
"KeyboardInterrupt, and no slot is taken). The call counts as one wait and\n"
"at most one timeout in stats().");

/* Parsed by hand: the allocation without arguments is the hot path. */
static PyObject *pool_alloc(PoolObject *self, PyObject *const *args, Py_ssize_t nargs,
			    PyObject *kwnames)
{
	PyObject *timeout_o = Py_None;
	Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
	double t;
	int forever;

	SHPOOL_PY_CHECK_OPEN(self);
	if (nargs + nkw > 1) {
		PyErr_SetString(PyExc_TypeError, "alloc() takes at most 1 argument (timeout)");
		return NULL;
	}
	if (nargs == 1)
		timeout_o = args[0];
	else if (nkw == 1) {
		PyObject *name = PyTuple_GET_ITEM(kwnames, 0);
		if (!PyUnicode_Check(name) || PyUnicode_CompareWithASCIIString(name, "timeout")) {
			PyErr_Format(PyExc_TypeError, "alloc() got an unexpected keyword argument %R",
				     name);
			return NULL;
		}
		timeout_o = args[0];
	}
	if (shpool_py_conv_timeout(timeout_o, &t, &forever) < 0)
		return NULL;
	struct shpool_py_wait_op op = shpool_py_alloc_op;
	return alloc_result(shpool_py_wait(self, &op, t, forever));
}

PyDoc_STRVAR(pool_try_alloc__doc__,
"try_alloc($self, /)\n"
"--\n"
"\n"
"Allocate a slot without waiting: its index, or None if the pool is full.");

static PyObject *pool_try_alloc(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	SHPOOL_PY_CHECK_OPEN(self);
	return alloc_result(shpool_try_alloc(self->pool));
}

PyDoc_STRVAR(pool_free__doc__,
"free($self, index, /)\n"
"--\n"
"\n"
"Free slot index; any process may free any allocated slot.\n"
"\n"
"ValueError (errno ENOENT) if it is not allocated (a double free),\n"
"IndexError if out of range.");

static PyObject *pool_free(PoolObject *self, PyObject *arg)
{
	uint64_t idx;

	SHPOOL_PY_CHECK_OPEN(self);
	if (shpool_py_conv_index(arg, &idx) < 0)
		return NULL;
	int rc = shpool_free(self->pool, idx);
	if (rc < 0)
		return shpool_py_raise_rc(rc, 1);
	Py_RETURN_NONE;
}

PyDoc_STRVAR(pool_alloc_n__doc__,
"alloc_n($self, /, n, timeout=None)\n"
"--\n"
"\n"
"Allocate n slots, all or nothing, under one deadline.\n"
"\n"
"A list of indices in ascending order, or None on timeout. n may not\n"
"exceed the capacity. Waits as alloc() does, counted as one wait.");

static PyObject *pool_alloc_n(PoolObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "n", "timeout", NULL };
	PyObject *n_o, *timeout_o = Py_None, *list;
	uint64_t n;
	double t;
	int forever;

	SHPOOL_PY_CHECK_OPEN(self);
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:alloc_n", kwlist, &n_o, &timeout_o))
		return NULL;
	if (shpool_py_conv_size(n_o, "n", shpool_capacity(self->pool), &n) < 0 ||
	    shpool_py_conv_timeout(timeout_o, &t, &forever) < 0)
		return NULL;
	if (n == 0)
		return PyList_New(0);
	uint64_t *out = PyMem_Malloc(n * sizeof(*out));
	if (!out)
		return PyErr_NoMemory();
	struct shpool_py_wait_op op = { .run = run_alloc_n, .undo = undo_n, .out = out, .n = n };
	int64_t rc = shpool_py_wait(self, &op, t, forever);
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

PyDoc_STRVAR(pool_free_n__doc__,
"free_n($self, indices, /)\n"
"--\n"
"\n"
"Free the allocated slots among indices (an iterable); return how many.\n"
"\n"
"Entries naming no allocated slot are skipped: a slot that is not allocated,\n"
"one given twice, one at or beyond capacity. An entry that is no slot index\n"
"at all raises before anything is freed: TypeError for a non-integer,\n"
"IndexError for a negative one.");

static PyObject *pool_free_n(PoolObject *self, PyObject *arg)
{
	PyObject *seq;
	Py_ssize_t n;
	uint64_t *idx;
	int64_t rc;

	SHPOOL_PY_CHECK_OPEN(self);
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
		if (shpool_py_conv_index(PySequence_Fast_GET_ITEM(seq, i), &idx[i]) < 0) {
			PyMem_Free(idx);
			Py_DECREF(seq);
			return NULL;
		}
	}
	Py_DECREF(seq);
	rc = n ? shpool_free_n(self->pool, idx, (size_t)n) : 0;
	PyMem_Free(idx);
	if (rc < 0)
		return shpool_py_raise_rc(rc, 1);
	return PyLong_FromLongLong(rc);
}

PyDoc_STRVAR(pool_alloc_set__doc__,
"alloc_set($self, /, value, timeout=None)\n"
"--\n"
"\n"
"Allocate a slot and store value in it (as set()).\n"
"\n"
"Its index, or None on timeout. A value that cannot be stored raises before\n"
"anything is allocated. Waits as alloc() does, counted as one wait.");

static PyObject *pool_alloc_set(PoolObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "value", "timeout", NULL };
	PyObject *value, *timeout_o = Py_None, *keep = NULL;
	Py_buffer view = { 0 };
	struct shpool_py_wait_op op = { .run = run_alloc_set, .undo = undo_one };
	double t;
	int forever;
	int64_t rc;

	SHPOOL_PY_CHECK_OPEN(self);
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:alloc_set", kwlist, &value, &timeout_o))
		return NULL;
	if (shpool_py_conv_timeout(timeout_o, &t, &forever) < 0)
		return NULL;
	op.kind = self->kind;
	switch (self->kind) {
	case SHPOOL_I64:
		if (shpool_py_conv_i64(value, &op.v.i64) < 0)
			return NULL;
		break;
	case SHPOOL_I32:
		if (shpool_py_conv_i32(value, &op.v.i32) < 0)
			return NULL;
		break;
	case SHPOOL_F64:
		if (shpool_py_conv_f64(value, &op.v.f64) < 0)
			return NULL;
		break;
	default:
		if (shpool_py_value_bytes(value, self->kind == SHPOOL_STR, &view, &keep,
					  &op.v.buf.s, &op.v.buf.len) < 0)
			return NULL;
		/* A value too long fails before anything is allocated. */
		if (op.v.buf.len > shpool_elem_size(self->pool)) {
			shpool_py_value_release(&view, keep);
			PyErr_Format(PyExc_ValueError, "value of %zu bytes does not fit a slot of %u",
				     op.v.buf.len, (unsigned)shpool_elem_size(self->pool));
			return NULL;
		}
		break;
	}
	rc = shpool_py_wait(self, &op, t, forever);
	shpool_py_value_release(&view, keep);
	return alloc_result(rc);
}

/* ---- eventfd and asyncio --------------------------------------------------------------- */

PyDoc_STRVAR(pool_eventfd__doc__,
"eventfd($self, /)\n"
"--\n"
"\n"
"This handle's eventfd (created on first use; non-blocking, close-on-exec,\n"
"closed when the pool is unmapped).\n"
"\n"
"With notify_on_free, frees through this handle, or a fork child's copy of\n"
"it, or a handle it was pickled to (memfd pools), make it readable: wait\n"
"for it in selectors or asyncio, then consume() and try_alloc() until None.");

static PyObject *pool_eventfd(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	SHPOOL_PY_CHECK_OPEN(self);
	int fd = shpool_eventfd(self->pool);
	if (fd < 0)
		return shpool_py_raise_rc(fd, 0);
	return PyLong_FromLong(fd);
}

PyDoc_STRVAR(pool_fileno__doc__,
"fileno($self, /)\n"
"--\n"
"\n"
"The eventfd (see eventfd()), so that a Pool can be given to select/selectors.");

PyDoc_STRVAR(pool_consume__doc__,
"consume($self, /)\n"
"--\n"
"\n"
"Read and reset the eventfd counter without blocking; 0 if nothing was pending.");

static PyObject *pool_consume(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	SHPOOL_PY_CHECK_OPEN(self);
	int64_t rc = shpool_eventfd_consume(self->pool);
	if (rc < 0)
		return shpool_py_raise_rc(rc, 0);
	return PyLong_FromLongLong(rc);
}

PyDoc_STRVAR(pool_notify__doc__,
"notify($self, /)\n"
"--\n"
"\n"
"Add 1 to the eventfd counter (wake an event loop by hand).");

static PyObject *pool_notify(PoolObject *self, PyObject *Py_UNUSED(ignored))
{
	SHPOOL_PY_CHECK_OPEN(self);
	int rc = shpool_notify(self->pool);
	if (rc < 0)
		return shpool_py_raise_rc(rc, 0);
	Py_RETURN_NONE;
}

PyDoc_STRVAR(pool_set_eventfd__doc__,
"set_eventfd($self, fd, /)\n"
"--\n"
"\n"
"Adopt fd, an eventfd received from another process, as this handle's\n"
"eventfd.\n"
"\n"
"The pool owns it from then on. Returns the descriptor in use.");

static PyObject *pool_set_eventfd(PoolObject *self, PyObject *arg)
{
	SHPOOL_PY_CHECK_OPEN(self);
	int fd = PyObject_AsFileDescriptor(arg);
	if (fd < 0)
		return NULL;
	int rc = shpool_eventfd_set(self->pool, fd);
	if (rc < 0)
		return shpool_py_raise_rc(rc, 0);
	return PyLong_FromLong(rc);
}

PyDoc_STRVAR(pool_alloc_async__doc__,
"alloc_async($self, /, timeout=None)\n"
"--\n"
"\n"
"Coroutine: allocate a slot without blocking the event loop.\n"
"\n"
"Its index, or None on timeout. Waits on the eventfd with\n"
"loop.add_reader(), so the pool needs notify_on_free and the freeing\n"
"processes must share this handle's eventfd (call eventfd() before forking\n"
"them, or pickle a memfd pool to them). One event loop per Pool. See\n"
"shpool._async.");

static PyObject *pool_alloc_async(PoolObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "timeout", NULL };
	PyObject *timeout_o = Py_None;
	double t;
	int forever;

	SHPOOL_PY_CHECK_OPEN(self);
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:alloc_async", kwlist, &timeout_o))
		return NULL;
	if (shpool_py_conv_timeout(timeout_o, &t, &forever) < 0)
		return NULL;
	shpool_state *st = shpool_py_state(Py_TYPE(self));
	PyObject *fn = st ? shpool_py_lazy(&st->alloc_async, "shpool._async", "alloc_async")
			  : NULL;
	if (!fn)
		return NULL;
	PyObject *t_o = forever ? Py_None : PyFloat_FromDouble(t);
	if (!t_o)
		return NULL;
	PyObject *coro = PyObject_CallFunctionObjArgs(fn, (PyObject *)self, t_o, NULL);
	if (!forever)
		Py_DECREF(t_o);
	return coro;
}

PyMethodDef shpool_py_wait_methods[] = {
	{ "alloc", (PyCFunction)(void (*)(void))pool_alloc, METH_FASTCALL | METH_KEYWORDS,
	  pool_alloc__doc__ },
	{ "try_alloc", (PyCFunction)pool_try_alloc, METH_NOARGS, pool_try_alloc__doc__ },
	{ "free", (PyCFunction)pool_free, METH_O, pool_free__doc__ },
	{ "alloc_n", (PyCFunction)(void (*)(void))pool_alloc_n, METH_VARARGS | METH_KEYWORDS,
	  pool_alloc_n__doc__ },
	{ "free_n", (PyCFunction)pool_free_n, METH_O, pool_free_n__doc__ },
	{ "alloc_set", (PyCFunction)(void (*)(void))pool_alloc_set, METH_VARARGS | METH_KEYWORDS,
	  pool_alloc_set__doc__ },
	{ "eventfd", (PyCFunction)pool_eventfd, METH_NOARGS, pool_eventfd__doc__ },
	{ "fileno", (PyCFunction)pool_eventfd, METH_NOARGS, pool_fileno__doc__ },
	{ "consume", (PyCFunction)pool_consume, METH_NOARGS, pool_consume__doc__ },
	{ "notify", (PyCFunction)pool_notify, METH_NOARGS, pool_notify__doc__ },
	{ "set_eventfd", (PyCFunction)pool_set_eventfd, METH_O, pool_set_eventfd__doc__ },
	{ "alloc_async", (PyCFunction)(void (*)(void))pool_alloc_async,
	  METH_VARARGS | METH_KEYWORDS, pool_alloc_async__doc__ },
	{ NULL, NULL, 0, NULL },
};

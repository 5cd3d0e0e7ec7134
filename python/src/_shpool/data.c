/* SPDX-License-Identifier: MIT */
/*
 * Data access: copies in and out (get, get_bytes, set), the atomic integer
 * calls, and zero copy through the buffer protocol (Pool.buffer,
 * memoryview(p), numpy.asarray(p), slot()).
 *
 * The buffer a pool exports has the shape of its data: an i64, i32 or f64
 * pool exports capacity items of format 'q', 'i' or 'd', stride bytes
 * apart (an i32 pool's 4-byte values sit in 8-byte slots, so its buffer is
 * strided and only consumers that take strides get it); a raw or str pool
 * exports its capacity * stride bytes. Each export keeps the pool mapped,
 * also past close() (pool.c).
 */
#include "module.h"

#include <string.h>

/* A raw or numeric slot's elem_size bytes, copied out as bytes. */
static PyObject *slot_bytes(PoolObject *self, uint64_t idx)
{
	size_t n = shpool_elem_size(self->pool);
	PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n);
	int rc;

	if (!b)
		return NULL;
	rc = shpool_get(self->pool, idx, PyBytes_AS_STRING(b), n);
	if (rc < 0) {
		Py_DECREF(b);
		return shpool_py_raise_rc(rc, 1);
	}
	return b;
}

PyDoc_STRVAR(pool_get__doc__,
"get($self, index, /)\n"
"--\n"
"\n"
"Copy slot index's value out.\n"
"\n"
"An int (i64, i32), a float (f64), a str (str: UTF-8, undecodable bytes as\n"
"surrogates) or bytes of elem_size (raw). The slot must be allocated.");

static PyObject *pool_get(PoolObject *self, PyObject *arg)
{
	uint64_t idx;
	int rc;

	SHPOOL_PY_CHECK_OPEN(self);
	if (shpool_py_conv_index(arg, &idx) < 0)
		return NULL;
	switch (self->kind) {
	case SHPOOL_I64: {
		int64_t v;
		rc = shpool_i64_get(self->pool, idx, &v);
		return rc < 0 ? shpool_py_raise_rc(rc, 1) : PyLong_FromLongLong(v);
	}
	case SHPOOL_I32: {
		int32_t v;
		rc = shpool_i32_get(self->pool, idx, &v);
		return rc < 0 ? shpool_py_raise_rc(rc, 1) : PyLong_FromLong(v);
	}
	case SHPOOL_F64: {
		double v;
		rc = shpool_f64_get(self->pool, idx, &v);
		return rc < 0 ? shpool_py_raise_rc(rc, 1) : PyFloat_FromDouble(v);
	}
	case SHPOOL_STR: {
		const char *s;
		size_t len;
		rc = shpool_str_view(self->pool, idx, &s, &len);
		if (rc < 0)
			return shpool_py_raise_rc(rc, 1);
		return PyUnicode_DecodeUTF8(s, (Py_ssize_t)len, "surrogateescape");
	}
	default:
		break;
	}
	return slot_bytes(self, idx);
}

PyDoc_STRVAR(pool_get_bytes__doc__,
"get_bytes($self, index, /)\n"
"--\n"
"\n"
"Copy slot index out as bytes.\n"
"\n"
"A str slot's string, a raw slot's elem_size bytes, a numeric slot's native\n"
"bytes.");

static PyObject *pool_get_bytes(PoolObject *self, PyObject *arg)
{
	uint64_t idx;
	int rc;

	SHPOOL_PY_CHECK_OPEN(self);
	if (shpool_py_conv_index(arg, &idx) < 0)
		return NULL;
	if (self->kind == SHPOOL_STR) {
		const char *s;
		size_t len;
		rc = shpool_str_view(self->pool, idx, &s, &len);
		if (rc < 0)
			return shpool_py_raise_rc(rc, 1);
		return PyBytes_FromStringAndSize(s, (Py_ssize_t)len);
	}
	return slot_bytes(self, idx);
}

PyDoc_STRVAR(pool_set__doc__,
"set($self, index, value, /)\n"
"--\n"
"\n"
"Store value in allocated slot index.\n"
"\n"
"An int (i64, i32: OverflowError if it does not fit), a float (f64), a str\n"
"or bytes-like object (str; ValueError if longer than elem_size), or a\n"
"bytes-like object of at most elem_size bytes (raw; the rest of the slot is\n"
"left as it was).");

static PyObject *pool_set(PoolObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	uint64_t idx;
	int rc;

	SHPOOL_PY_CHECK_OPEN(self);
	if (nargs != 2) {
		PyErr_Format(PyExc_TypeError, "set() takes 2 arguments (index, value), %zd given",
			     nargs);
		return NULL;
	}
	if (shpool_py_conv_index(args[0], &idx) < 0)
		return NULL;
	switch (self->kind) {
	case SHPOOL_I64: {
		int64_t v;
		if (shpool_py_conv_i64(args[1], &v) < 0)
			return NULL;
		rc = shpool_i64_set(self->pool, idx, v);
		break;
	}
	case SHPOOL_I32: {
		int32_t v;
		if (shpool_py_conv_i32(args[1], &v) < 0)
			return NULL;
		rc = shpool_i32_set(self->pool, idx, v);
		break;
	}
	case SHPOOL_F64: {
		double v;
		if (shpool_py_conv_f64(args[1], &v) < 0)
			return NULL;
		rc = shpool_f64_set(self->pool, idx, v);
		break;
	}
	default: {
		Py_buffer view;
		PyObject *keep;
		const char *s;
		size_t len;
		if (shpool_py_value_bytes(args[1], self->kind == SHPOOL_STR, &view, &keep, &s,
					  &len) < 0)
			return NULL;
		rc = self->kind == SHPOOL_STR ? shpool_str_set(self->pool, idx, s, len)
					      : shpool_set(self->pool, idx, s, len);
		shpool_py_value_release(&view, keep);
		break;
	}
	}
	if (rc < 0)
		return shpool_py_raise_rc(rc, 1);
	Py_RETURN_NONE;
}

/* ---- atomic integers ----------------------------------------------------------------- */

enum rmw { RMW_CAS, RMW_CMPXCHG, RMW_XCHG, RMW_ADD, RMW_INCR, RMW_DECR };

static PyObject *int_rmw(PoolObject *self, enum rmw op, const char *name, PyObject *const *args,
			 Py_ssize_t nargs, Py_ssize_t want)
{
	uint64_t idx;
	int64_t a = 0, b = 0, r = 0;
	int rc;

	SHPOOL_PY_CHECK_OPEN(self);
	if (nargs != want) {
		PyErr_Format(PyExc_TypeError, "%s() takes %zd argument%s, %zd given", name, want,
			     want == 1 ? "" : "s", nargs);
		return NULL;
	}
	if (shpool_py_conv_index(args[0], &idx) < 0)
		return NULL;
	if (self->kind == SHPOOL_I32) {
		int32_t a32 = 0, b32 = 0, r32 = 0;
		if ((want > 1 && shpool_py_conv_i32(args[1], &a32) < 0) ||
		    (want > 2 && shpool_py_conv_i32(args[2], &b32) < 0))
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
		if ((want > 1 && shpool_py_conv_i64(args[1], &a) < 0) ||
		    (want > 2 && shpool_py_conv_i64(args[2], &b) < 0))
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
		return shpool_py_raise_rc(rc, 1);
	if (op == RMW_CAS)
		return PyBool_FromLong(rc);
	return PyLong_FromLongLong(r);
}

#define RMW_METHOD(fn, op, name, want)                                                  \
	static PyObject *fn(PoolObject *self, PyObject *const *args, Py_ssize_t nargs) \
	{                                                                               \
		return int_rmw(self, op, name, args, nargs, want);                      \
	}
RMW_METHOD(pool_cas, RMW_CAS, "cas", 3)
RMW_METHOD(pool_cmpxchg, RMW_CMPXCHG, "cmpxchg", 3)
RMW_METHOD(pool_xchg, RMW_XCHG, "xchg", 2)
RMW_METHOD(pool_add, RMW_ADD, "add", 2)
RMW_METHOD(pool_incr, RMW_INCR, "incr", 1)
RMW_METHOD(pool_decr, RMW_DECR, "decr", 1)

PyDoc_STRVAR(pool_cas__doc__,
"cas($self, index, expected, desired, /)\n"
"--\n"
"\n"
"Atomically set slot index to desired if it holds expected; True if it did.\n"
"\n"
"i64 and i32 pools; all the integer calls are seq_cst and wrap around.");
PyDoc_STRVAR(pool_cmpxchg__doc__,
"cmpxchg($self, index, expected, desired, /)\n"
"--\n"
"\n"
"Like cas() but return the value found (the swap happened iff it equals\n"
"expected).");
PyDoc_STRVAR(pool_xchg__doc__,
"xchg($self, index, value, /)\n"
"--\n"
"\n"
"Atomically store value; return the old value.");
PyDoc_STRVAR(pool_add__doc__,
"add($self, index, delta, /)\n"
"--\n"
"\n"
"Atomically add delta; return the new value.");
PyDoc_STRVAR(pool_incr__doc__,
"incr($self, index, /)\n"
"--\n"
"\n"
"Atomically add 1; return the new value.");
PyDoc_STRVAR(pool_decr__doc__,
"decr($self, index, /)\n"
"--\n"
"\n"
"Atomically subtract 1; return the new value.");

/* ---- zero copy ---------------------------------------------------------------------- */

/* The item format of a typed kind, NULL for raw and str (bytes). */
static const char *kind_format(int kind, Py_ssize_t *itemsize)
{
	switch (kind) {
	case SHPOOL_I64: *itemsize = 8; return "q";
	case SHPOOL_I32: *itemsize = 4; return "i";
	case SHPOOL_F64: *itemsize = 8; return "d";
	default: *itemsize = 1; return NULL;
	}
}

static int buffer_error(const char *msg)
{
	PyErr_SetString(PyExc_BufferError, msg);
	return -1;
}

int shpool_py_getbuffer(PyObject *obj, Py_buffer *view, int flags)
{
	PoolObject *self = (PoolObject *)obj;
	Py_ssize_t itemsize;

	view->obj = NULL;
	if (shpool_py_check_open(self) < 0)
		return -1;
	int readonly = shpool_is_readonly(self->pool) > 0; /* mapped PROT_READ */
	void *data = shpool_data_ptr(self->pool);
	const char *fmt = kind_format(self->kind, &itemsize);

	if (!fmt) {
		size_t len = (size_t)shpool_capacity(self->pool) * shpool_stride(self->pool);
		if (PyBuffer_FillInfo(view, obj, data, (Py_ssize_t)len, readonly, flags) < 0)
			return -1;
		self->exports++;
		return 0;
	}
	if ((flags & PyBUF_WRITABLE) && readonly)
		return buffer_error("the pool is attached read-only");
	if (self->strides[0] != itemsize) {
		/* Strided: a consumer that cannot take strides, or insists on
		 * contiguity, would read the padding between the values. */
		if ((flags & PyBUF_STRIDES) != PyBUF_STRIDES)
			return buffer_error("an i32 pool's buffer is strided (its 4-byte values "
					    "are 8 bytes apart): ask for strides, as memoryview(p) "
					    "and numpy.asarray(p) do");
		if (flags & (PyBUF_C_CONTIGUOUS | PyBUF_F_CONTIGUOUS | PyBUF_ANY_CONTIGUOUS) &
		    ~PyBUF_STRIDES)
			return buffer_error("an i32 pool's buffer is not contiguous (its 4-byte "
					    "values are 8 bytes apart)");
	}
	view->buf = data;
	view->obj = Py_NewRef(obj);
	view->len = self->shape[0] * itemsize;
	view->readonly = readonly;
	view->itemsize = itemsize;
	view->format = (flags & PyBUF_FORMAT) ? (char *)fmt : NULL;
	view->ndim = 1;
	view->shape = (flags & PyBUF_ND) == PyBUF_ND ? self->shape : NULL;
	view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? self->strides : NULL;
	view->suboffsets = NULL;
	view->internal = NULL;
	self->exports++;
	return 0;
}

void shpool_py_releasebuffer(PyObject *obj, Py_buffer *view)
{
	PoolObject *self = (PoolObject *)obj;
	(void)view;
	self->exports--;
	shpool_py_maybe_unmap(self); /* the last view of a closed pool */
}

PyDoc_STRVAR(pool_slot__doc__,
"slot($self, index, /)\n"
"--\n"
"\n"
"A memoryview of slot index, in place (zero copy).\n"
"\n"
"elem_size bytes for raw pools, one item of format 'q', 'i' or 'd' for\n"
"i64, i32, f64; writable unless the pool is attached readonly. The view\n"
"keeps the pool mapped, also after close(), until it is released\n"
"(release(), a with block, or garbage). Whether the slot is allocated is\n"
"not checked.");

static PyObject *pool_slot(PoolObject *self, PyObject *arg)
{
	uint64_t idx;
	Py_ssize_t start, len;

	SHPOOL_PY_CHECK_OPEN(self);
	if (shpool_py_conv_index(arg, &idx) < 0)
		return NULL;
	uint64_t cap = shpool_capacity(self->pool);
	if (idx >= cap) {
		PyErr_Format(PyExc_IndexError, "slot %llu out of range (capacity %llu)",
			     (unsigned long long)idx, (unsigned long long)cap);
		return NULL;
	}
	switch (self->kind) {
	case SHPOOL_STR:
		PyErr_SetString(PyExc_ValueError, "slot(): STR slots hold a length and bytes; "
				"use get(), get_bytes() and set()");
		return NULL;
	case SHPOOL_RAW:
		start = (Py_ssize_t)(idx * shpool_stride(self->pool));
		len = (Py_ssize_t)shpool_elem_size(self->pool);
		break;
	default: /* one item of the typed buffer */
		start = (Py_ssize_t)idx;
		len = 1;
		break;
	}
	PyObject *mv = PyMemoryView_FromObject((PyObject *)self);
	if (!mv)
		return NULL;
	/* A slice shares mv's export of the pool, which keeps it mapped. */
	PyObject *part = PySequence_GetSlice(mv, start, start + len);
	Py_DECREF(mv);
	return part;
}

PyMethodDef shpool_py_data_methods[] = {
	{ "get", (PyCFunction)pool_get, METH_O, pool_get__doc__ },
	{ "get_bytes", (PyCFunction)pool_get_bytes, METH_O, pool_get_bytes__doc__ },
	{ "set", (PyCFunction)(void (*)(void))pool_set, METH_FASTCALL, pool_set__doc__ },
	{ "cas", (PyCFunction)(void (*)(void))pool_cas, METH_FASTCALL, pool_cas__doc__ },
	{ "cmpxchg", (PyCFunction)(void (*)(void))pool_cmpxchg, METH_FASTCALL,
	  pool_cmpxchg__doc__ },
	{ "xchg", (PyCFunction)(void (*)(void))pool_xchg, METH_FASTCALL, pool_xchg__doc__ },
	{ "add", (PyCFunction)(void (*)(void))pool_add, METH_FASTCALL, pool_add__doc__ },
	{ "incr", (PyCFunction)(void (*)(void))pool_incr, METH_FASTCALL, pool_incr__doc__ },
	{ "decr", (PyCFunction)(void (*)(void))pool_decr, METH_FASTCALL, pool_decr__doc__ },
	{ "slot", (PyCFunction)pool_slot, METH_O, pool_slot__doc__ },
	{ NULL, NULL, 0, NULL },
};

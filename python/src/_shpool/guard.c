/* SPDX-License-Identifier: MIT */
/*
 * The SlotGuard type, made by Pool.slot_guard(): a context manager holding
 * one slot for the length of a with block. It allocates on entry (the
 * wait of wait.c, counted as one wait) and frees on exit, but never in a
 * forked child that merely inherited the guard: the slot is the parent's.
 * Final (not subclassable) and not instantiable from Python.
 */
#include "module.h"

#include <errno.h>
#include <unistd.h>

PyDoc_STRVAR(guard_enter__doc__,
"__enter__($self, /)\n"
"--\n"
"\n"
"Allocate the slot; return its index. TimeoutError if none came free in time.");

static PyObject *guard_enter(GuardObject *self, PyObject *Py_UNUSED(ignored))
{
	double t;
	int forever;

	if (self->idx >= 0) {
		PyErr_SetString(PyExc_RuntimeError, "slot guard already holds a slot");
		return NULL;
	}
	SHPOOL_PY_CHECK_OPEN(self->pool);
	if (shpool_py_conv_timeout(self->timeout, &t, &forever) < 0)
		return NULL;
	struct shpool_py_wait_op op = shpool_py_alloc_op;
	int64_t rc = shpool_py_wait(self->pool, &op, t, forever);
	if (rc == SHPOOL_PY_PYERR)
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
		return shpool_py_raise_rc(rc, 0);
	self->idx = rc;
	self->pid = getpid();
	return PyLong_FromLongLong(rc);
}

/* Free the slot if this is the process that allocated it. */
static int guard_free(GuardObject *self, int report)
{
	int64_t idx = self->idx;
	if (idx < 0) {
		if (report)
			shpool_py_raise_errno(PyExc_ValueError, ENOENT, "slot guard holds no slot");
		return -1;
	}
	if (getpid() != self->pid) {
		if (report)
			shpool_py_raise_errno(PyExc_PermissionError, EPERM,
					      "slot guard belongs to the parent process");
		return -1;
	}
	self->idx = -1;
	if (!self->pool || !self->pool->pool || self->pool->closing)
		return 0; /* closed: nothing can be freed through it */
	int rc = shpool_free(self->pool->pool, (uint64_t)idx);
	if (rc < 0 && report) {
		shpool_py_raise_rc(rc, 1);
		return -1;
	}
	return 0;
}

PyDoc_STRVAR(guard_exit__doc__,
"__exit__($self, exc_type, exc, tb, /)\n"
"--\n"
"\n"
"Free the slot, unless released or disarmed, or this is a forked child.\n"
"\n"
"Never raises: the exception that left the block, if any, goes on.");

static PyObject *guard_exit(GuardObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	(void)args;
	if (nargs != 3) {
		PyErr_Format(PyExc_TypeError, "__exit__ expected 3 arguments, got %zd", nargs);
		return NULL;
	}
	if (self->idx >= 0 && getpid() == self->pid)
		guard_free(self, 0);
	Py_RETURN_FALSE;
}

PyDoc_STRVAR(guard_release__doc__,
"release($self, /)\n"
"--\n"
"\n"
"Free the slot now.\n"
"\n"
"ValueError if the guard holds none, PermissionError in a forked child.");

static PyObject *guard_release(GuardObject *self, PyObject *Py_UNUSED(ignored))
{
	if (guard_free(self, 1) < 0)
		return NULL;
	Py_RETURN_NONE;
}

PyDoc_STRVAR(guard_disarm__doc__,
"disarm($self, /)\n"
"--\n"
"\n"
"Keep the slot: the guard lets go of it and returns its index, which the\n"
"caller now owns.");

static PyObject *guard_disarm(GuardObject *self, PyObject *Py_UNUSED(ignored))
{
	int64_t idx = self->idx;
	if (idx < 0) {
		shpool_py_raise_errno(PyExc_ValueError, ENOENT, "slot guard holds no slot");
		return NULL;
	}
	self->idx = -1;
	return PyLong_FromLongLong(idx);
}

static PyObject *guard_get_index(GuardObject *self, void *Py_UNUSED(closure))
{
	if (self->idx < 0)
		Py_RETURN_NONE;
	return PyLong_FromLongLong(self->idx);
}

static int guard_traverse(GuardObject *self, visitproc visit, void *arg)
{
	Py_VISIT(Py_TYPE(self));
	Py_VISIT(self->pool);
	Py_VISIT(self->timeout);
	return 0;
}

static int guard_clear(GuardObject *self)
{
	Py_CLEAR(self->pool);
	Py_CLEAR(self->timeout);
	return 0;
}

static void guard_dealloc(GuardObject *self)
{
	PyTypeObject *tp = Py_TYPE(self);

	PyObject_GC_UnTrack(self);
	/* A guard dropped without leaving its with block frees like __exit__
	 * (unless the GC cleared its pool first: then the slot stays). */
	if (self->idx >= 0 && self->pool && getpid() == self->pid)
		guard_free(self, 0);
	guard_clear(self);
	tp->tp_free((PyObject *)self);
	Py_DECREF(tp);
}

static PyMethodDef guard_methods[] = {
	{ "__enter__", (PyCFunction)guard_enter, METH_NOARGS, guard_enter__doc__ },
	{ "__exit__", (PyCFunction)(void (*)(void))guard_exit, METH_FASTCALL, guard_exit__doc__ },
	{ "release", (PyCFunction)guard_release, METH_NOARGS, guard_release__doc__ },
	{ "disarm", (PyCFunction)guard_disarm, METH_NOARGS, guard_disarm__doc__ },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef guard_getset[] = {
	{ "index", (getter)guard_get_index, NULL, "The slot held, None if none.", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyType_Slot guard_slots[] = {
	{ Py_tp_doc, (void *)"A slot held for the length of a with block; made by "
			     "Pool.slot_guard()." },
	{ Py_tp_dealloc, (void *)guard_dealloc },
	{ Py_tp_traverse, (void *)guard_traverse },
	{ Py_tp_clear, (void *)guard_clear },
	{ Py_tp_methods, (void *)guard_methods },
	{ Py_tp_getset, (void *)guard_getset },
	{ 0, NULL },
};

static PyType_Spec guard_spec = {
	.name = "shpool.SlotGuard",
	.basicsize = sizeof(GuardObject),
	.flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
#ifdef Py_TPFLAGS_IMMUTABLETYPE
		 | Py_TPFLAGS_IMMUTABLETYPE
#endif
#ifdef Py_TPFLAGS_DISALLOW_INSTANTIATION
		 | Py_TPFLAGS_DISALLOW_INSTANTIATION
#endif
	,
	.slots = guard_slots,
};

int shpool_py_guard_type_init(PyObject *module, shpool_state *st)
{
	st->guard_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &guard_spec, NULL);
	if (!st->guard_type)
		return -1;
#ifndef Py_TPFLAGS_DISALLOW_INSTANTIATION
	st->guard_type->tp_new = NULL; /* Python 3.9: the way to refuse SlotGuard() */
#endif
	return PyModule_AddType(module, st->guard_type);
}

/* ---- Pool.slot_guard ------------------------------------------------------------------- */

PyDoc_STRVAR(pool_slot_guard__doc__,
"slot_guard($self, /, timeout=None)\n"
"--\n"
"\n"
"A context manager holding one slot: `with p.slot_guard(1.0) as i:`.\n"
"\n"
"It allocates on entry (TimeoutError if no slot came free in time; the wait\n"
"is alloc()'s) and frees on exit, but never in a forked child that merely\n"
"inherited the guard.");

static PyObject *pool_slot_guard(PoolObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "timeout", NULL };
	PyObject *timeout_o = Py_None;
	double t;
	int forever;

	SHPOOL_PY_CHECK_OPEN(self);
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:slot_guard", kwlist, &timeout_o))
		return NULL;
	if (shpool_py_conv_timeout(timeout_o, &t, &forever) < 0)
		return NULL;
	shpool_state *st = shpool_py_state(Py_TYPE(self));
	if (!st)
		return NULL;
	GuardObject *g = PyObject_GC_New(GuardObject, st->guard_type);
	if (!g)
		return NULL;
	g->pool = (PoolObject *)Py_NewRef(self);
	g->timeout = Py_NewRef(timeout_o);
	g->idx = -1;
	g->pid = 0;
	PyObject_GC_Track(g);
	return (PyObject *)g;
}

PyMethodDef shpool_py_guard_methods[] = {
	{ "slot_guard", (PyCFunction)(void (*)(void))pool_slot_guard, METH_VARARGS | METH_KEYWORDS,
	  pool_slot_guard__doc__ },
	{ NULL, NULL, 0, NULL },
};

/* SPDX-License-Identifier: MIT */
/*
 * The module shpool._shpool: its state, its initialisation (multi-phase,
 * PEP 489) and the module-level function. The package shpool re-exports
 * everything public from here; see module.h for the map of the files.
 */
#include "module.h"

#ifndef SHPOOL_WAIT_SLICE
#error "the Python binding needs a libshpool with shpool_alloc_ex() (SHPOOL_WAIT_SLICE)"
#endif

#ifndef SHPOOL_PY_VERSION
#error "SHPOOL_PY_VERSION (the version of the libshpool built against) is not defined"
#endif

shpool_state *shpool_py_state(PyTypeObject *tp)
{
#if PY_VERSION_HEX >= 0x030B0000
	PyObject *m = PyType_GetModuleByDef(tp, &shpool_py_module);
	return m ? (shpool_state *)PyModule_GetState(m) : NULL;
#else
	PyObject *mro = tp->tp_mro;
	Py_ssize_t n = mro ? PyTuple_GET_SIZE(mro) : 0;
	for (Py_ssize_t i = 0; i < n; i++) {
		PyTypeObject *t = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
		if (!(t->tp_flags & Py_TPFLAGS_HEAPTYPE))
			continue;
		PyObject *m = ((PyHeapTypeObject *)t)->ht_module;
		if (m && PyModule_GetDef(m) == &shpool_py_module)
			return (shpool_state *)PyModule_GetState(m);
	}
	PyErr_Format(PyExc_TypeError, "%.100s is not a shpool type", tp->tp_name);
	return NULL;
#endif
}

PyObject *shpool_py_lazy(PyObject **slot, const char *module, const char *name)
{
	if (*slot)
		return *slot;
	PyObject *m = PyImport_ImportModule(module);
	if (!m)
		return NULL;
	*slot = PyObject_GetAttrString(m, name);
	Py_DECREF(m);
	return *slot;
}

PyDoc_STRVAR(library_version__doc__,
"library_version($module, /)\n"
"--\n"
"\n"
"The version of the libshpool actually loaded (\"MAJOR.MINOR.PATCH\").\n"
"\n"
"__version__ is the version the module was built against.");

static PyObject *library_version(PyObject *module, PyObject *Py_UNUSED(ignored))
{
	(void)module;
	return PyUnicode_FromString(shpool_version());
}

static PyMethodDef module_methods[] = {
	{ "library_version", library_version, METH_NOARGS, library_version__doc__ },
	{ NULL, NULL, 0, NULL },
};

static int module_exec(PyObject *m)
{
	shpool_state *st = PyModule_GetState(m);

	if (shpool_py_pool_type_init(m, st) < 0 || shpool_py_guard_type_init(m, st) < 0)
		return -1;
	if (PyModule_AddStringConstant(m, "__version__", SHPOOL_PY_VERSION) < 0)
		return -1;
	PyObject *v = PyLong_FromUnsignedLongLong(SHPOOL_MAX_CAPACITY);
	if (!v || PyModule_AddObject(m, "MAX_CAPACITY", v) < 0) {
		Py_XDECREF(v);
		return -1;
	}
	v = PyLong_FromUnsignedLong(SHPOOL_MAX_ELEM_SIZE);
	if (!v || PyModule_AddObject(m, "MAX_ELEM_SIZE", v) < 0) {
		Py_XDECREF(v);
		return -1;
	}
	/* shpool.RAW == 'raw', ...: the kind names as constants. */
	for (int i = 0; i < SHPOOL_PY_NKINDS; i++)
		if (PyModule_AddStringConstant(m, shpool_py_kinds[i].upper,
					       shpool_py_kinds[i].name) < 0)
			return -1;
	return 0;
}

static int module_traverse(PyObject *m, visitproc visit, void *arg)
{
	shpool_state *st = PyModule_GetState(m);
	if (st) {
		Py_VISIT(st->pool_type);
		Py_VISIT(st->guard_type);
		Py_VISIT(st->alloc_async);
		Py_VISIT(st->reduce_pool);
	}
	return 0;
}

static int module_clear(PyObject *m)
{
	shpool_state *st = PyModule_GetState(m);
	if (st) {
		Py_CLEAR(st->pool_type);
		Py_CLEAR(st->guard_type);
		Py_CLEAR(st->alloc_async);
		Py_CLEAR(st->reduce_pool);
	}
	return 0;
}

static void module_free(void *m)
{
	module_clear((PyObject *)m);
}

static PyModuleDef_Slot module_slots[] = {
	{ Py_mod_exec, (void *)module_exec },
	{ 0, NULL },
};

PyDoc_STRVAR(module__doc__,
"The C half of the shpool package: import shpool, not this.");

struct PyModuleDef shpool_py_module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "shpool._shpool",
	.m_doc = module__doc__,
	.m_size = sizeof(shpool_state),
	.m_methods = module_methods,
	.m_slots = module_slots,
	.m_traverse = module_traverse,
	.m_clear = module_clear,
	.m_free = module_free,
};

PyMODINIT_FUNC PyInit__shpool(void);
PyMODINIT_FUNC PyInit__shpool(void)
{
	return PyModuleDef_Init(&shpool_py_module);
}

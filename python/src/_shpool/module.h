/* SPDX-License-Identifier: MIT */
/*
 * shpool._shpool, the C part of the Python binding of libshpool: what the
 * files share. One file per concern, as CPython's Modules/_sqlite does it:
 *
 *   module.c  the module: state, initialisation, library_version()
 *   util.c    kinds, exceptions from library errors, argument conversion
 *   pool.c    the Pool type: making, attaching, closing, properties, pickling
 *   wait.c    blocking waits: alloc, alloc_n, alloc_set, the guards' wait
 *   data.c    data access: get/set, atomic integers, the buffer protocol
 *   guard.c   the SlotGuard type
 *
 * Both types are heap types made from specs (PyType_FromModuleAndSpec) and
 * the module keeps what it needs in its state, so that nothing is a C
 * global. The Python half of the package (python/src/shpool/: __init__.py,
 * _async.py, _mp.py) is the public face; this module is shpool._shpool.
 */
#ifndef SHPOOL_PY_MODULE_H
#define SHPOOL_PY_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <stdint.h>
#include <sys/types.h>

#include <shpool.h>

#if PY_VERSION_HEX < 0x03090000
#error "shpool needs Python 3.9 or later (PyType_FromModuleAndSpec)"
#endif
#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *shpool_py_newref(PyObject *o)
{
	Py_INCREF(o);
	return o;
}
#define Py_NewRef(o) shpool_py_newref((PyObject *)(o))
#endif

/* Functions visible to the other files of the module only: the extension
 * exports nothing but PyInit__shpool (-fvisibility=hidden under make; the
 * names are prefixed all the same). */

/* ---- module state (module.c) ------------------------------------------ */

typedef struct {
	PyTypeObject *pool_type;
	PyTypeObject *guard_type;
	/* Imported on first use (importing asyncio or multiprocessing costs
	 * more than importing shpool): */
	PyObject *alloc_async; /* shpool._async.alloc_async */
	PyObject *reduce_pool; /* shpool._mp.reduce_pool */
} shpool_state;

extern struct PyModuleDef shpool_py_module;

/* The state of the module that defined tp or one of its bases (a Pool
 * subclass made in Python has no module of its own). NULL with an
 * exception set if there is none. */
shpool_state *shpool_py_state(PyTypeObject *tp);

/* An attribute of a submodule of the package, imported on first use and
 * kept in *slot. A borrowed reference, or NULL with an exception set. */
PyObject *shpool_py_lazy(PyObject **slot, const char *module, const char *name);

/* ---- objects ----------------------------------------------------------- */

typedef struct {
	PyObject_HEAD
	shpool_t *pool;          /* NULL once unmapped */
	int kind;
	int closing;             /* close() was called: the pool is closed for
				  * every call, and unmapped as soon as no view
				  * and no waiting thread needs the mapping */
	Py_ssize_t exports;      /* live buffer exports (memoryviews, arrays) */
	Py_ssize_t inflight;     /* threads waiting without the GIL */
	Py_ssize_t shape[1];     /* the buffer's shape and strides: typed */
	Py_ssize_t strides[1];   /* kinds export one item per slot */
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

/* ---- util.c ------------------------------------------------------------ */

#define SHPOOL_PY_NKINDS 5
extern const struct shpool_py_kind {
	const char *name;
	const char *upper;
	shpool_kind kind;
} shpool_py_kinds[SHPOOL_PY_NKINDS];

const char *shpool_py_kind_name(int kind);
/* kind: a name (any case); None gives 0 (any kind) when allow_none. */
int shpool_py_conv_kind(PyObject *o, int allow_none, int *out);

/* Raise exc_type(detail) with .errno set. */
void shpool_py_raise_errno(PyObject *exc_type, int err, const char *detail);
/* Raise the exception for a library result rc < 0; on_slot: the call was
 * about a slot, so -ENOENT is "not allocated" (ValueError). NULL. */
PyObject *shpool_py_raise_rc(int64_t rc, int on_slot);

int shpool_py_conv_index(PyObject *o, uint64_t *out);
int shpool_py_conv_size(PyObject *o, const char *what, uint64_t max, uint64_t *out);
/* A timeout in seconds: None, +inf or a number too large for a double
 * (10**400) is forever (*forever = 1); negative or NaN is ValueError. */
int shpool_py_conv_timeout(PyObject *o, double *secs, int *forever);
int shpool_py_conv_i64(PyObject *o, int64_t *out);
int shpool_py_conv_i32(PyObject *o, int32_t *out);
int shpool_py_conv_f64(PyObject *o, double *out);
int shpool_py_conv_huge(PyObject *o, int *huge);

/* The bytes of a str (UTF-8, surrogateescape) or of a bytes-like object;
 * *keep and view hold what must stay alive until value_release(). */
int shpool_py_value_bytes(PyObject *v, int allow_str, Py_buffer *view, PyObject **keep,
			  const char **s, size_t *len);
void shpool_py_value_release(Py_buffer *view, PyObject *keep);

/* ---- pool.c ------------------------------------------------------------ */

/* 0, or -1 with ValueError("operation on a closed pool"). */
int shpool_py_check_open(PoolObject *self);
#define SHPOOL_PY_CHECK_OPEN(self)                     \
	do {                                           \
		if (shpool_py_check_open(self) < 0)    \
			return NULL;                   \
	} while (0)
/* Unmap a closed pool once nothing needs the mapping any more. */
void shpool_py_maybe_unmap(PoolObject *self);
int shpool_py_pool_type_init(PyObject *module, shpool_state *st);

/* ---- wait.c ------------------------------------------------------------ */

/* The longest futex wait before signal handlers (Ctrl-C) and close() are
 * looked at: the library resumes a wait after a signal itself. */
#define SHPOOL_PY_SLICE_MS 100
/* A wait's result when a Python exception is set. */
#define SHPOOL_PY_PYERR INT64_MIN

/* One allocating operation, run by the wait loop: ms 0 is the first,
 * non-waiting attempt; flags are SHPOOL_WAIT_SLICE/RESUME. */
struct shpool_py_wait_op {
	int64_t (*run)(shpool_t *p, struct shpool_py_wait_op *op, int ms, unsigned flags);
	void (*undo)(shpool_t *p, struct shpool_py_wait_op *op, int64_t rc);
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

extern const struct shpool_py_wait_op shpool_py_alloc_op;
int64_t shpool_py_wait(PoolObject *self, struct shpool_py_wait_op *op, double timeout,
		       int forever);
extern PyMethodDef shpool_py_wait_methods[];

/* ---- data.c ------------------------------------------------------------ */

int shpool_py_getbuffer(PyObject *self, Py_buffer *view, int flags);
void shpool_py_releasebuffer(PyObject *self, Py_buffer *view);
extern PyMethodDef shpool_py_data_methods[];

/* ---- guard.c ----------------------------------------------------------- */

int shpool_py_guard_type_init(PyObject *module, shpool_state *st);
extern PyMethodDef shpool_py_guard_methods[]; /* Pool.slot_guard */

#endif

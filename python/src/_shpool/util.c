/* SPDX-License-Identifier: MIT */
/*
 * Kinds, exceptions from library errors, and argument conversion.
 *
 * Conventions, as the rest of Python rather than as C: ValueError for a bad
 * argument, a wrong kind of pool or a slot that is not allocated;
 * IndexError for a slot out of range; OSError (its errno subclass:
 * FileNotFoundError, PermissionError, ...) for the rest. Every exception
 * raised for a library error carries .errno and the library's detail
 * (shpool_last_error()) as its message.
 */
#include "module.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <strings.h>

/* ---- kinds ----------------------------------------------------------------- */

const struct shpool_py_kind shpool_py_kinds[SHPOOL_PY_NKINDS] = {
	{ "raw", "RAW", SHPOOL_RAW }, { "i64", "I64", SHPOOL_I64 }, { "i32", "I32", SHPOOL_I32 },
	{ "f64", "F64", SHPOOL_F64 }, { "str", "STR", SHPOOL_STR },
};

const char *shpool_py_kind_name(int kind)
{
	for (int i = 0; i < SHPOOL_PY_NKINDS; i++)
		if ((int)shpool_py_kinds[i].kind == kind)
			return shpool_py_kinds[i].name;
	return "unknown";
}

int shpool_py_conv_kind(PyObject *o, int allow_none, int *out)
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
	for (int i = 0; i < SHPOOL_PY_NKINDS; i++) {
		if (strcasecmp(s, shpool_py_kinds[i].name) == 0) {
			*out = shpool_py_kinds[i].kind;
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
	PyObject *exc = PyObject_CallOneArg(exc_type, text);
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

void shpool_py_raise_errno(PyObject *exc_type, int err, const char *detail)
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

PyObject *shpool_py_raise_rc(int64_t rc, int on_slot)
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
int shpool_py_conv_index(PyObject *o, uint64_t *out)
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
int shpool_py_conv_size(PyObject *o, const char *what, uint64_t max, uint64_t *out)
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

static int timeout_value_error(PyObject *o)
{
	PyErr_Format(PyExc_ValueError, "timeout must be a non-negative number or None, not %R", o);
	return -1;
}

int shpool_py_conv_timeout(PyObject *o, double *secs, int *forever)
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
	if (d == -1.0 && PyErr_Occurred()) {
		/* A number too large for a double (10**400, a huge Decimal):
		 * forever if positive, which any such wait is in practice. */
		if (!PyErr_ExceptionMatches(PyExc_OverflowError))
			return -1;
		PyErr_Clear();
		PyObject *zero = PyLong_FromLong(0);
		if (!zero)
			return -1;
		int positive = PyObject_RichCompareBool(o, zero, Py_GT);
		Py_DECREF(zero);
		if (positive < 0)
			return -1;
		if (!positive)
			return timeout_value_error(o);
		*forever = 1;
		*secs = INFINITY;
		return 0;
	}
	if (isnan(d) || d < 0)
		return timeout_value_error(o);
	if (isinf(d))
		*forever = 1;
	*secs = d;
	return 0;
}

int shpool_py_conv_i64(PyObject *o, int64_t *out)
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

int shpool_py_conv_i32(PyObject *o, int32_t *out)
{
	int64_t v;
	if (shpool_py_conv_i64(o, &v) < 0)
		return -1;
	if (v < INT32_MIN || v > INT32_MAX) {
		PyErr_Format(PyExc_OverflowError, "%R does not fit an i32 slot", o);
		return -1;
	}
	*out = (int32_t)v;
	return 0;
}

int shpool_py_conv_f64(PyObject *o, double *out)
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

/* huge_pages=: False (normal pages), True (huge pages or fail) or 'prefer'
 * (any case: huge pages where they can be had). A bool, not any truthy
 * value: huge_pages=1 or ='yes' is more likely a slip than a wish. *huge
 * gets 0, 1 or 2 ('prefer'). */
int shpool_py_conv_huge(PyObject *o, int *huge)
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

int shpool_py_value_bytes(PyObject *v, int allow_str, Py_buffer *view, PyObject **keep,
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
		view->obj = NULL;
		PyErr_Format(PyExc_TypeError, "value must be %sa bytes-like object, not %.100s",
			     allow_str ? "str or " : "", Py_TYPE(v)->tp_name);
		return -1;
	}
	*s = view->buf;
	*len = (size_t)view->len;
	return 0;
}

void shpool_py_value_release(Py_buffer *view, PyObject *keep)
{
	if (view->obj)
		PyBuffer_Release(view);
	Py_XDECREF(keep);
}

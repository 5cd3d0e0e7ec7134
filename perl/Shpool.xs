/* SPDX-License-Identifier: MIT */
/*
 * IPC::Shpool: the Perl binding of libshpool (see lib/IPC/Shpool.pm for the
 * manual). One XSUB per method; each checks its arguments itself and
 * croaks with the library's detail (shpool_last_error()) on misuse, so no
 * Perl value can crash the process.
 *
 * Objects: a pool is a blessed reference to a PVMG that carries ext magic
 * (pool_vtbl) whose mg_ptr is the shpool_t handle. The magic's free hook
 * closes the handle, so the handle lives exactly as long as the PVMG: a
 * guard or a slot_sv scalar that holds a reference count on the PVMG keeps
 * the mapping alive. Looking the magic up by its vtable address makes a
 * forged object (bless \my $x, 'IPC::Shpool') a croak, not a crash.
 */
#define PERL_NO_GET_CONTEXT
#include "EXTERN.h"
#include "perl.h"
#include "XSUB.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <shpool.h>

/* ---- objects ------------------------------------------------------------ */

static int pool_free(pTHX_ SV *sv, MAGIC *mg)
{
	PERL_UNUSED_ARG(sv);
	if (mg->mg_ptr) {
		shpool_close((shpool_t *)mg->mg_ptr);
		mg->mg_ptr = NULL;
	}
	return 0;
}

static MGVTBL pool_vtbl = { NULL, NULL, NULL, NULL, pool_free, NULL, NULL, NULL };

/* A guard: the C guard plus a counted reference to the pool's PVMG. */
typedef struct {
	shpool_guard_t g;
	SV *pool_obj;
} plguard;

static int guard_free(pTHX_ SV *sv, MAGIC *mg)
{
	plguard *pg = (plguard *)mg->mg_ptr;
	PERL_UNUSED_ARG(sv);
	if (pg) {
		/* DESTROY normally emptied it already; this covers objects
		 * freed without DESTROY (never in a fork child: the guard
		 * checks the PID itself). */
		shpool_guard_cleanup(&pg->g);
		SvREFCNT_dec(pg->pool_obj);
		Safefree(pg);
		mg->mg_ptr = NULL;
	}
	return 0;
}

static MGVTBL guard_vtbl = { NULL, NULL, NULL, NULL, guard_free, NULL, NULL, NULL };

/* slot_sv scalars: the magic only holds the pool's PVMG (mg_obj). */
static MGVTBL slotsv_vtbl = { NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL };

static MAGIC *find_magic(SV *obj, const MGVTBL *vtbl)
{
	MAGIC *mg;

	if (SvTYPE(obj) < SVt_PVMG)
		return NULL;
	for (mg = SvMAGIC(obj); mg; mg = mg->mg_moremagic)
		if (mg->mg_type == PERL_MAGIC_ext && mg->mg_virtual == vtbl)
			return mg;
	return NULL;
}

/* "IPC::Shpool::I64::add" for messages: the running XSUB's full name. */
#define SUBNAME(cv) \
	HvNAME(GvSTASH(CvGV(cv))), GvNAME(CvGV(cv))

static void croak_rc(pTHX_ CV *cv, int64_t rc) __attribute__((noreturn));
static void croak_rc(pTHX_ CV *cv, int64_t rc)
{
	const char *detail = shpool_last_error();

	if (!detail || !*detail)
		detail = shpool_strerror((int)rc);
	croak("%s::%s: %s", SUBNAME(cv), detail);
}

/* A constructor's failure: the library's detail and, where
 * Data::Pool::Shared words the same failure with a phrase that programs
 * match ("invalid or incompatible pool", "open"), that phrase after it. */
static void croak_ctor(pTHX_ CV *cv, int rc, int by_path) __attribute__((noreturn));
static void croak_ctor(pTHX_ CV *cv, int rc, int by_path)
{
	const char *detail = shpool_last_error();
	const char *also = NULL;

	if (!detail || !*detail)
		detail = shpool_strerror(rc);
	switch (-rc) {
	case EBADMSG:         /* bad magic, corrupt or truncated header */
	case EPROTONOSUPPORT: /* another layout version */
		also = by_path ? "invalid or incompatible pool file" : "invalid or incompatible pool";
		break;
	case EINVAL:          /* another kind or geometry, not a regular file */
		if (strstr(detail, "mismatch") || strstr(detail, "not a regular file"))
			also = by_path ? "invalid or incompatible pool file"
				       : "invalid or incompatible pool";
		break;
	case ENOENT: case EACCES: case ENOTDIR: case ENAMETOOLONG: case EROFS: case EISDIR:
		/* the path could not be opened or created (not a mapping) */
		if (by_path && !strstr(detail, "map"))
			also = "open failed";
		break;
	}
	if (also)
		croak("%s::%s: %s (%s)", SUBNAME(cv), detail, also);
	croak("%s::%s: %s", SUBNAME(cv), detail);
}

#define CROAK(...) croak_fmt(aTHX_ cv, __VA_ARGS__)
static void croak_fmt(pTHX_ CV *cv, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));
static void croak_fmt(pTHX_ CV *cv, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	croak("%s::%s: %s", SUBNAME(cv), buf);
}

/* The message for a self that is not a live pool. A pool is never freed
 * while an object refers to it, so a "destroyed" one is a forged object:
 * the words say both, for code that matches Data::Pool::Shared's
 * "destroyed object". */
#define NOT_A_POOL "not an IPC::Shpool object (forged, or destroyed)"

static SV *pool_obj_of(pTHX_ SV *self, CV *cv)
{
	if (self && SvROK(self) && find_magic(SvRV(self), &pool_vtbl))
		return SvRV(self);
	CROAK(NOT_A_POOL);
}

static MAGIC *pool_magic_slow(pTHX_ SV *self, CV *cv) __attribute__((noinline));
static MAGIC *pool_magic_slow(pTHX_ SV *self, CV *cv)
{
	if (SvROK(self)) {
		MAGIC *mg = find_magic(SvRV(self), &pool_vtbl);
		if (mg && mg->mg_ptr)
			return mg;
	}
	CROAK(NOT_A_POOL);
}

/* Every method's self (the typemap's T_SHPOOL). The hot path is a few
 * loads and one pointer compare: wrap_pool() gives the object one magic,
 * ours, so it is first in the chain unless something was added later (a
 * weakened reference's back-reference magic goes in front); then the
 * whole chain is searched. No class check: the vtable address is the
 * proof, so subclasses and reblessed objects work and a forged object
 * croaks. */
static inline MAGIC *pool_magic(pTHX_ SV *self, CV *cv)
{
	if (LIKELY(SvROK(self))) {
		SV *obj = SvRV(self);
		if (LIKELY(SvTYPE(obj) == SVt_PVMG)) {
			MAGIC *mg = SvMAGIC(obj);
			if (LIKELY(mg && mg->mg_virtual == &pool_vtbl && mg->mg_ptr &&
				   mg->mg_type == PERL_MAGIC_ext))
				return mg;
		}
	}
	return pool_magic_slow(aTHX_ self, cv);
}

static inline shpool_t *pool_arg(pTHX_ SV *self, CV *cv)
{
	return (shpool_t *)pool_magic(aTHX_ self, cv)->mg_ptr;
}

/* Per-handle options, in the pool magic's mg_private (not in the pool:
 * another process's handle of the same pool has its own). */
#define PL_TRUNCATE 1 /* truncate => 1: an over-long raw/Str value is cut */

static plguard *guard_arg(pTHX_ SV *self, CV *cv)
{
	if (SvROK(self)) {
		MAGIC *mg = find_magic(SvRV(self), &guard_vtbl);
		if (mg && mg->mg_ptr)
			return (plguard *)mg->mg_ptr;
	}
	CROAK("not an IPC::Shpool::Guard object");
}

/* ---- arguments ---------------------------------------------------------- */

/* Numbers, the way Perl makes integers of them without a warning: a
 * number with a fraction is truncated toward zero (as int() and an array
 * index do, and as Data::Pool::Shared does); what Perl would warn about
 * (undef, '', '12abc', a reference) croaks, and so do NaN and numbers
 * beyond the range, never wrapped or clamped. */

/* A slot index: a non-negative integer. The range is the library's to
 * check. */
static uint64_t idx_arg_slow(pTHX_ SV *sv, CV *cv) __attribute__((noinline));
static uint64_t idx_arg_slow(pTHX_ SV *sv, CV *cv)
{
	NV n;

	SvGETMAGIC(sv);
	if (SvIOK(sv)) {
		if (SvIsUV(sv))
			return SvUVX(sv);
		if (SvIVX(sv) >= 0)
			return (uint64_t)SvIVX(sv);
		CROAK("slot index %" IVdf " is negative: out of range", SvIVX(sv));
	}
	if (!SvOK(sv))
		CROAK("slot index is undef");
	if (SvROK(sv) || !looks_like_number(sv))
		CROAK("slot index is not a number");
	n = SvNV_nomg(sv);
	if (Perl_isnan(n))
		CROAK("slot index is NaN");
	n = trunc(n);
	if (!(n >= 0))
		CROAK("slot index %" NVgf " is negative: out of range", n);
	if (n >= 18446744073709551616.0)
		CROAK("slot index %" NVgf " is out of range", n);
	return (uint64_t)n;
}

/* The hot path: a plain non-negative IV (no get-magic, not a UV). */
static inline uint64_t idx_arg(pTHX_ SV *sv, CV *cv)
{
	if (LIKELY((SvFLAGS(sv) & (SVf_IOK | SVs_GMG | SVf_IVisUV)) == SVf_IOK && SvIVX(sv) >= 0))
		return (uint64_t)SvIVX(sv);
	return idx_arg_slow(aTHX_ sv, cv);
}

/* An integer value in [lo, hi] (int64 or int32 slots, counts, sizes). */
static int64_t int_arg_slow(pTHX_ SV *sv, CV *cv, const char *what, int64_t lo, int64_t hi)
	__attribute__((noinline));
static int64_t int_arg_slow(pTHX_ SV *sv, CV *cv, const char *what, int64_t lo, int64_t hi)
{
	int64_t v;

	SvGETMAGIC(sv);
	if (!SvIOK(sv)) {
		NV n, t;
		if (!SvOK(sv))
			CROAK("%s is undef", what);
		if (SvROK(sv) || !looks_like_number(sv))
			CROAK("%s is not a number", what);
		/* Sets IOK when the number is an exact integer. */
		(void)SvIV_please_nomg(sv);
		if (!SvIOK(sv)) {
			n = SvNV_nomg(sv);
			if (Perl_isnan(n))
				CROAK("%s is NaN", what);
			t = trunc(n);
			/* [-2**63, 2**63): both bounds exact in a double */
			if (!(t >= -9223372036854775808.0 && t < 9223372036854775808.0) ||
			    (int64_t)t < lo || (int64_t)t > hi)
				CROAK("%s %" NVgf " is out of range [%" IVdf ", %" IVdf "]", what, n,
				      (IV)lo, (IV)hi);
			return (int64_t)t;
		}
	}
	if (SvIsUV(sv)) {
		if (SvUVX(sv) > (UV)hi)
			CROAK("%s %" UVuf " is out of range [%" IVdf ", %" IVdf "]", what,
			      SvUVX(sv), (IV)lo, (IV)hi);
		return (int64_t)SvUVX(sv);
	}
	v = SvIVX(sv);
	if (v < lo || v > hi)
		CROAK("%s %" IVdf " is out of range [%" IVdf ", %" IVdf "]", what,
		      (IV)v, (IV)lo, (IV)hi);
	return v;
}

/* The hot path: a plain IV (no get-magic, not a UV) within range. */
static inline int64_t int_arg(pTHX_ SV *sv, CV *cv, const char *what, int64_t lo, int64_t hi)
{
	if (LIKELY((SvFLAGS(sv) & (SVf_IOK | SVs_GMG | SVf_IVisUV)) == SVf_IOK &&
		   SvIVX(sv) >= lo && SvIVX(sv) <= hi))
		return SvIVX(sv);
	return int_arg_slow(aTHX_ sv, cv, what, lo, hi);
}

static NV num_arg(pTHX_ SV *sv, CV *cv, const char *what)
{
	SvGETMAGIC(sv);
	if (SvNOK(sv) || SvIOK(sv))
		return SvNV_nomg(sv);
	if (!SvOK(sv))
		CROAK("%s is undef", what);
	if (SvROK(sv) || !looks_like_number(sv))
		CROAK("%s is not a number", what);
	return SvNV_nomg(sv);
}

/* Seconds (fractional) to poll(2)-style milliseconds: undef or negative
 * waits forever, 0 does not wait, anything else waits at least that long
 * (rounded up to a whole millisecond; longer than INT_MAX ms, or +Inf,
 * waits forever). */
static int ms_of_iv(IV iv)
{
	return iv < 0 ? -1 : iv == 0 ? 0 : iv >= INT_MAX / 1000 ? -1 : (int)iv * 1000;
}

/* An explicit undef: waits for ever (UNDEF_WAITS), or, for alloc and
 * alloc_n, does not wait (UNDEF_NO_WAIT) with a warning in the
 * "uninitialized" category: Data::Pool::Shared reads undef there as 0, and
 * a migrated program must not start to hang where it used to return. */
enum { UNDEF_WAITS, UNDEF_NO_WAIT };

static int timeout_arg_slow(pTHX_ SV *sv, CV *cv, int undef_means) __attribute__((noinline));
static int timeout_arg_slow(pTHX_ SV *sv, CV *cv, int undef_means)
{
	NV s, ms;

	SvGETMAGIC(sv);
	if (SvIOK(sv) && !SvIsUV(sv)) /* a tied or magic integer */
		return ms_of_iv(SvIVX(sv));
	if (!SvOK(sv)) {
		if (undef_means == UNDEF_WAITS)
			return -1;
		if (ckWARN(WARN_UNINITIALIZED))
			Perl_warner(aTHX_ packWARN(WARN_UNINITIALIZED),
				    "%s::%s: timeout is undef: not waiting, as in Data::Pool::Shared "
				    "(leave it out, or pass -1, to wait for ever)", SUBNAME(cv));
		return 0;
	}
	s = num_arg(aTHX_ sv, cv, "timeout");
	if (s != s)
		CROAK("timeout is NaN");
	if (s < 0)
		return -1;
	if (s == 0)
		return 0;
	ms = ceil(s * 1000.0);
	if (ms >= (NV)INT_MAX)
		return -1;
	return (int)ms;
}

/* The hot path: no timeout, or a plain IV (alloc(0), alloc(5)), without
 * a function call or any NV arithmetic; fractions, strings, undef and
 * magic go to timeout_arg_slow(). */
static inline int timeout_arg(pTHX_ SV *sv, CV *cv, int undef_means)
{
	if (!sv)
		return -1;
	if (LIKELY((SvFLAGS(sv) & (SVf_IOK | SVs_GMG | SVf_IVisUV)) == SVf_IOK))
		return ms_of_iv(SvIVX(sv));
	return timeout_arg_slow(aTHX_ sv, cv, undef_means);
}

/* A file descriptor: an integer or a Perl filehandle (its fileno). */
static int fd_arg(pTHX_ SV *sv, CV *cv)
{
	SV *h = sv;
	IO *io = NULL;

	SvGETMAGIC(sv);
	if (SvROK(sv))
		h = SvRV(sv);
	if (isGV_with_GP(h))
		io = GvIO((GV *)h);
	else if (SvTYPE(h) == SVt_PVIO)
		io = (IO *)h;
	else if (SvROK(sv))
		CROAK("file descriptor is neither a number nor a filehandle");
	else
		return (int)int_arg(aTHX_ sv, cv, "file descriptor", 0, INT_MAX);
	if (!io || !IoIFP(io))
		CROAK("filehandle is not open");
	return PerlIO_fileno(IoIFP(io));
}

/* A raw or Str value: the string's bytes as Perl holds them, so a string
 * with the UTF-8 flag on is stored as its UTF-8 encoding, as
 * Data::Pool::Shared stores it (get returns bytes either way). */
static const char *bytes_arg(pTHX_ SV *sv, CV *cv, STRLEN *len)
{
	SvGETMAGIC(sv);
	if (!SvOK(sv))
		CROAK("value is undef");
	if (SvROK(sv) && !SvAMAGIC(sv))
		CROAK("value is a reference");
	return SvPV_nomg(sv, *len);
}

/* A raw value as the slot's new content: shorter values are padded with
 * zero bytes to elem_size (no byte of the previous value stays behind, as
 * in Data::Pool::Shared); longer ones are cut to elem_size with the handle's
 * truncate option, else passed on whole for the library to refuse (-E2BIG,
 * nothing written). Returns the bytes to write, *len updated: s itself,
 * or a padded copy in small (RAW_SMALL bytes) or in a mortal buffer. */
#define RAW_SMALL 256
static const char *raw_value(pTHX_ shpool_t *p, U16 opts, const char *s, STRLEN *len,
			     char *small)
{
	size_t esz = shpool_elem_size(p);
	char *buf;

	if (*len > esz) {
		if (opts & PL_TRUNCATE)
			*len = esz;
		return s;
	}
	if (*len == esz)
		return s;
	buf = esz <= RAW_SMALL ? small : SvPVX(sv_2mortal(newSV(esz)));
	memcpy(buf, s, *len);
	memset(buf + *len, 0, esz - *len);
	*len = esz;
	return buf;
}

/* A Str value: cut to max_len with the truncate option. */
static STRLEN str_len(shpool_t *p, U16 opts, STRLEN len)
{
	size_t max = shpool_str_max_len(p);

	return (opts & PL_TRUNCATE) && len > max ? max : len;
}

/* ---- construction ------------------------------------------------------- */

static SV *wrap_pool(pTHX_ shpool_t *p, SV *class_sv)
{
	SV *obj = newSV_type(SVt_PVMG);
	SV *rv;
	const char *class = SvPV_nolen(class_sv);

	sv_magicext(obj, NULL, PERL_MAGIC_ext, &pool_vtbl, (const char *)p, 0);
	rv = newRV_noinc(obj);
	sv_bless(rv, gv_stashpv(class, GV_ADD));
	return rv;
}

static const char *class_arg(pTHX_ SV *sv, CV *cv)
{
	if (SvROK(sv) || !SvOK(sv))
		CROAK("call it as a class method");
	return SvPV_nolen(sv);
}

/* capacity and elem_size (max_len for Str; 0 for the fixed-size kinds):
 * zero is refused here in Data::Pool::Shared's words, the rest of the
 * range by int_arg() and the library. */
static int is_zero(pTHX_ SV *sv)
{
	SvGETMAGIC(sv);
	if (!SvOK(sv) || SvROK(sv) || !looks_like_number(sv))
		return 0;
	return SvIOK(sv) ? SvIVX(sv) == 0 : trunc(SvNV_nomg(sv)) == 0;
}

static uint64_t size_args(pTHX_ CV *cv, int kind, SV *capacity, SV *elem_size, int64_t *esize)
{
	uint64_t cap;
	int sized = kind == SHPOOL_RAW || kind == SHPOOL_STR;
	const char *what = kind == SHPOOL_STR ? "max_len" : "elem_size";

	if (is_zero(aTHX_ capacity))
		CROAK("capacity must be > 0");
	cap = (uint64_t)int_arg(aTHX_ capacity, cv, "capacity", 1, (int64_t)SHPOOL_MAX_CAPACITY);
	if (sized && is_zero(aTHX_ elem_size))
		CROAK("%s must be > 0", what);
	*esize = int_arg(aTHX_ elem_size, cv, what, sized ? 1 : 0, SHPOOL_MAX_ELEM_SIZE);
	return cap;
}

/* Each kind's class: a pool object is blessed into it. */
static void check_kind(pTHX_ CV *cv, int kind)
{
	if (kind < SHPOOL_RAW || kind > SHPOOL_STR)
		CROAK("unknown pool kind %d", kind);
}

/* The class of a pool attached as SHPOOL_ANY_KIND. */
static SV *class_of_kind(pTHX_ int kind)
{
	static const char *const name[] = {
		[SHPOOL_RAW] = "IPC::Shpool", [SHPOOL_I64] = "IPC::Shpool::I64",
		[SHPOOL_I32] = "IPC::Shpool::I32", [SHPOOL_F64] = "IPC::Shpool::F64",
		[SHPOOL_STR] = "IPC::Shpool::Str",
	};
	return sv_2mortal(newSVpv(kind >= SHPOOL_RAW && kind <= SHPOOL_STR ? name[kind]
				  : "IPC::Shpool", 0));
}

/* Attach flags from the Perl side: SHPOOL_RDONLY and SHPOOL_POPULATE. */
static unsigned attach_flags(pTHX_ CV *cv, unsigned flags)
{
	if (flags & ~(unsigned)(SHPOOL_RDONLY | SHPOOL_POPULATE))
		CROAK("unknown attach flags 0x%x", flags);
	return flags;
}

static int each_cb(shpool_t *p, uint64_t idx, void *arg)
{
	dTHX;
	SV **cb = (SV **)arg;
	PERL_UNUSED_ARG(p);
	av_push((AV *)cb[1], newSVuv(idx));
	return 0;
}

/* callback->(arg), its result discarded; its exception passed on. */
static void call_with(pTHX_ SV *callback, SV *arg)
{
	dSP;
	ENTER;
	SAVETMPS;
	PUSHMARK(SP);
	XPUSHs(arg);
	PUTBACK;
	call_sv(callback, G_DISCARD);
	FREETMPS;
	LEAVE;
}

/* Guard allocation shared by alloc_guard and try_alloc_guard. Returns the
 * number of values pushed: (idx, guard), or () on timeout/full. */
static int make_guard(pTHX_ CV *cv, SV *self, int timeout_ms, SV **out_idx, SV **out_guard)
{
	SV *pobj = pool_obj_of(aTHX_ self, cv);
	shpool_t *p = pool_arg(aTHX_ self, cv);
	plguard *pg;
	SV *obj, *rv;
	shpool_guard_t g = shpool_guard_alloc(p, timeout_ms);

	if (g.idx < 0) {
		if (g.idx == -EAGAIN || g.idx == -ETIMEDOUT)
			return 0;
		croak_rc(aTHX_ cv, g.idx);
	}
	Newxz(pg, 1, plguard);
	pg->g = g;
	pg->pool_obj = SvREFCNT_inc_simple_NN(pobj);
	obj = newSV_type(SVt_PVMG);
	sv_magicext(obj, NULL, PERL_MAGIC_ext, &guard_vtbl, (const char *)pg, 0);
	rv = newRV_noinc(obj);
	sv_bless(rv, gv_stashpv("IPC::Shpool::Guard", GV_ADD));
	*out_idx = sv_2mortal(newSVuv((UV)g.idx));
	*out_guard = sv_2mortal(rv);
	return 2;
}

/* alloc_set's result: true for an index (to push), false for a timeout
 * or a full pool (nothing pushed: undef in scalar context, the empty list
 * in list context, as Data::Pool::Shared's "return;"); croaks otherwise. */
static int alloc_set_ok(pTHX_ CV *cv, int64_t rc)
{
	if (rc >= 0)
		return 1;
	if (rc == -EAGAIN || rc == -ETIMEDOUT)
		return 0;
	croak_rc(aTHX_ cv, rc);
}

/* ---- I64 and I32 -------------------------------------------------------- */

/* One XSUB serves both kinds (ALIAS): ix's IX_I32 bit picks the 32-bit
 * library call and the 32-bit range of the arguments; the other bits pick
 * the variant (cmpxchg of cas, decr of incr, try_alloc_set of alloc_set).
 * Values travel as int64_t; an I32 argument was range-checked first. */
#define IX_I32  4
#define IX_OLD  1
#define IX_DECR 1
#define IX_TRY  1
/* ALIAS takes one token per name */
#define IX_I32_OLD  (IX_I32 | IX_OLD)
#define IX_I32_DECR (IX_I32 | IX_DECR)
#define IX_I32_TRY  (IX_I32 | IX_TRY)
#define ILO(ix) ((ix) & IX_I32 ? (int64_t)INT32_MIN : INT64_MIN)
#define IHI(ix) ((ix) & IX_I32 ? (int64_t)INT32_MAX : INT64_MAX)

static inline int int_get(shpool_t *p, I32 ix, uint64_t i, int64_t *v)
{
	int32_t w;
	int rc;

	if (!(ix & IX_I32))
		return shpool_i64_get(p, i, v);
	rc = shpool_i32_get(p, i, &w);
	*v = w;
	return rc;
}

static inline int int_set(shpool_t *p, I32 ix, uint64_t i, int64_t v)
{
	return ix & IX_I32 ? shpool_i32_set(p, i, (int32_t)v) : shpool_i64_set(p, i, v);
}

static int int_cmpxchg(shpool_t *p, I32 ix, uint64_t i, int64_t e, int64_t d, int64_t *old)
{
	int32_t w = 0;
	int rc;

	if (!(ix & IX_I32))
		return shpool_i64_cmpxchg(p, i, e, d, old);
	rc = shpool_i32_cmpxchg(p, i, (int32_t)e, (int32_t)d, &w);
	*old = w;
	return rc;
}

static int int_xchg(shpool_t *p, I32 ix, uint64_t i, int64_t v, int64_t *old)
{
	int32_t w = 0;
	int rc;

	if (!(ix & IX_I32))
		return shpool_i64_xchg(p, i, v, old);
	rc = shpool_i32_xchg(p, i, (int32_t)v, &w);
	*old = w;
	return rc;
}

static int int_add(shpool_t *p, I32 ix, uint64_t i, int64_t d, int64_t *v)
{
	int32_t w = 0;
	int rc;

	if (!(ix & IX_I32))
		return shpool_i64_add(p, i, d, v);
	rc = shpool_i32_add(p, i, (int32_t)d, &w);
	*v = w;
	return rc;
}

/* incr (ix without IX_DECR) and decr. */
static inline int int_step(shpool_t *p, I32 ix, uint64_t i, int64_t *v)
{
	int32_t w = 0;
	int rc;

	switch (ix) {
	case 0:
		return shpool_i64_incr(p, i, v);
	case IX_DECR:
		return shpool_i64_decr(p, i, v);
	case IX_I32:
		rc = shpool_i32_incr(p, i, &w);
		break;
	default: /* IX_I32_DECR */
		rc = shpool_i32_decr(p, i, &w);
		break;
	}
	*v = w;
	return rc;
}

typedef shpool_t *IPC_Shpool;

MODULE = IPC::Shpool		PACKAGE = IPC::Shpool

PROTOTYPES: DISABLE

BOOT:
{
	HV *stash = gv_stashpv("IPC::Shpool", GV_ADD);
	newCONSTSUB(stash, "KIND_ANY", newSViv(SHPOOL_ANY_KIND));
	newCONSTSUB(stash, "RDONLY", newSVuv(SHPOOL_RDONLY));
	newCONSTSUB(stash, "KIND_RAW", newSViv(SHPOOL_RAW));
	newCONSTSUB(stash, "KIND_I64", newSViv(SHPOOL_I64));
	newCONSTSUB(stash, "KIND_I32", newSViv(SHPOOL_I32));
	newCONSTSUB(stash, "KIND_F64", newSViv(SHPOOL_F64));
	newCONSTSUB(stash, "KIND_STR", newSViv(SHPOOL_STR));
	newCONSTSUB(stash, "NO_ZERO", newSVuv(SHPOOL_NO_ZERO));
	newCONSTSUB(stash, "NOTIFY_ON_FREE", newSVuv(SHPOOL_NOTIFY_ON_FREE));
	newCONSTSUB(stash, "HUGEPAGES", newSVuv(SHPOOL_HUGEPAGES));
	newCONSTSUB(stash, "HUGEPAGES_PREFER", newSVuv(SHPOOL_HUGEPAGES_PREFER));
	newCONSTSUB(stash, "POPULATE", newSVuv(SHPOOL_POPULATE));
	newCONSTSUB(stash, "HEADER_VERSION",
		    newSVpvf("%d.%d.%d", SHPOOL_VERSION_MAJOR, SHPOOL_VERSION_MINOR,
			     SHPOOL_VERSION_PATCH));
}

const char *
library_version()
    CODE:
	RETVAL = shpool_version();
    OUTPUT:
	RETVAL

SV *
_create(class, kind, path, capacity, elem_size, flags, mode)
	SV *class
	int kind
	SV *path
	SV *capacity
	SV *elem_size
	unsigned flags
	unsigned mode
    PREINIT:
	shpool_t *p = NULL;
	shpool_options o;
	uint64_t cap;
	int64_t esize;
	int rc;
    CODE:
	class_arg(aTHX_ class, cv);
	check_kind(aTHX_ cv, kind);
	cap = size_args(aTHX_ cv, kind, capacity, elem_size, &esize);
	memset(&o, 0, sizeof(o));
	o.flags = flags;
	o.mode = mode;
	if (SvOK(path)) {
		const char *s = SvPV_nolen(path);
		if (strlen(s) != SvCUR(path))
			CROAK("path contains a NUL byte");
		rc = shpool_create(&p, s, kind, cap, (uint32_t)esize, &o);
	} else {
		rc = shpool_create(&p, NULL, kind, cap, (uint32_t)esize, &o);
	}
	if (rc < 0)
		croak_ctor(aTHX_ cv, rc, SvOK(path));
	RETVAL = wrap_pool(aTHX_ p, class);
    OUTPUT:
	RETVAL

SV *
_create_memfd(class, kind, name, capacity, elem_size, flags)
	SV *class
	int kind
	SV *name
	SV *capacity
	SV *elem_size
	unsigned flags
    PREINIT:
	shpool_t *p = NULL;
	shpool_options o;
	uint64_t cap;
	int64_t esize;
	int rc;
	const char *s = "shpool";
    CODE:
	class_arg(aTHX_ class, cv);
	check_kind(aTHX_ cv, kind);
	cap = size_args(aTHX_ cv, kind, capacity, elem_size, &esize);
	memset(&o, 0, sizeof(o));
	o.flags = flags;
	if (SvOK(name)) {
		s = SvPV_nolen(name);
		if (strlen(s) != SvCUR(name))
			CROAK("name contains a NUL byte");
	}
	rc = shpool_create_memfd(&p, s, kind, cap, (uint32_t)esize, &o);
	if (rc < 0)
		croak_ctor(aTHX_ cv, rc, 0);
	RETVAL = wrap_pool(aTHX_ p, class);
    OUTPUT:
	RETVAL

SV *
_open_fd(class, kind, fd, flags = 0)
	SV *class
	int kind
	SV *fd
	unsigned flags
    PREINIT:
	shpool_t *p = NULL;
	int rc, n;
    CODE:
	class_arg(aTHX_ class, cv);
	if (kind != SHPOOL_ANY_KIND)
		check_kind(aTHX_ cv, kind);
	n = fd_arg(aTHX_ fd, cv);
	rc = shpool_attach_fd(&p, n, kind, attach_flags(aTHX_ cv, flags));
	if (rc < 0)
		croak_ctor(aTHX_ cv, rc, 0);
	RETVAL = wrap_pool(aTHX_ p, kind == SHPOOL_ANY_KIND
			   ? class_of_kind(aTHX_ shpool_kind_of(p)) : class);
    OUTPUT:
	RETVAL

SV *
_open(class, kind, path, flags = 0)
	SV *class
	int kind
	SV *path
	unsigned flags
    PREINIT:
	shpool_t *p = NULL;
	int rc;
	const char *s;
    CODE:
	class_arg(aTHX_ class, cv);
	if (kind != SHPOOL_ANY_KIND)
		check_kind(aTHX_ cv, kind);
	if (!SvOK(path))
		CROAK("path is undef");
	s = SvPV_nolen(path);
	if (strlen(s) != SvCUR(path))
		CROAK("path contains a NUL byte");
	rc = shpool_attach(&p, s, kind, attach_flags(aTHX_ cv, flags));
	if (rc < 0)
		croak_ctor(aTHX_ cv, rc, 1);
	RETVAL = wrap_pool(aTHX_ p, kind == SHPOOL_ANY_KIND
			   ? class_of_kind(aTHX_ shpool_kind_of(p)) : class);
    OUTPUT:
	RETVAL

int
kind(self)
	IPC_Shpool self
    CODE:
	RETVAL = shpool_kind_of(self);
    OUTPUT:
	RETVAL

const char *
kind_name(self)
	IPC_Shpool self
    CODE:
	RETVAL = shpool_kind_name((shpool_kind)shpool_kind_of(self));
    OUTPUT:
	RETVAL

bool
is_readonly(self)
	IPC_Shpool self
    CODE:
	RETVAL = shpool_is_readonly(self) == 1;
    OUTPUT:
	RETVAL

void
_set_truncate(self, on)
	SV *self
	bool on
    PREINIT:
	U16 *opts;
    CODE:
	/* The constructors' truncate => 1 (lib/IPC/Shpool.pm). */
	opts = &pool_magic(aTHX_ self, cv)->mg_private;
	*opts = on ? (*opts | PL_TRUNCATE) : (*opts & ~PL_TRUNCATE);

bool
truncates(self)
	SV *self
    CODE:
	RETVAL = (pool_magic(aTHX_ self, cv)->mg_private & PL_TRUNCATE) != 0;
    OUTPUT:
	RETVAL

UV
page_size(self)
	IPC_Shpool self
    CODE:
	RETVAL = shpool_page_size(self);
    OUTPUT:
	RETVAL

void
_empty(self, ...)
	SV *self
    CODE:
	/* bench.pl's yardstick: an XS method call that does nothing. */
	PERL_UNUSED_VAR(self);

void
_empty_iv(self, ...)
	SV *self
    PPCODE:
	/* bench.pl's `shape' case: an XS method that does nothing but
	 * return 0 in its TARG, as alloc returns an index, so that
	 * $pool->_empty($pool->_empty_iv(0)) is a pair's Perl side alone
	 * (two calls, and the copy Perl makes of a TARG passed on as an
	 * argument) without the binding's checks or the library. */
	PERL_UNUSED_VAR(self);
	{
		dXSTARG;
		PUSHu(0);
	}

void
_bench_pairs(self, n)
	IPC_Shpool self
	IV n
    CODE:
	/* bench.pl: n alloc+free pairs from C, the library's share of a
	 * pair made from Perl. */
	while (n-- > 0) {
		int64_t x = shpool_alloc(self, 0);
		if (x < 0)
			croak_rc(aTHX_ cv, x);
		shpool_free(self, (uint64_t)x);
	}

void
alloc(self, timeout = NULL)
	IPC_Shpool self
	SV *timeout
    ALIAS:
	try_alloc = 1
    PREINIT:
	int64_t rc;
    PPCODE:
	/* The index goes back in the XSUB's TARG: no new SV per call. */
	if (ix && timeout)
		croak_xs_usage(cv, "self");
	rc = shpool_alloc(self, ix ? 0 : timeout_arg(aTHX_ timeout, cv, UNDEF_NO_WAIT));
	if (rc >= 0) {
		dXSTARG;
		PUSHu((UV)rc);
	} else if (rc == -EAGAIN || rc == -ETIMEDOUT) {
		PUSHs(&PL_sv_undef);
	} else {
		croak_rc(aTHX_ cv, rc);
	}

bool
free(self, idx)
	IPC_Shpool self
	SV *idx
    PREINIT:
	int rc;
    CODE:
	rc = shpool_free(self, idx_arg(aTHX_ idx, cv));
	if (rc < 0 && rc != -ENOENT)
		croak_rc(aTHX_ cv, rc);
	RETVAL = rc == 0;
    OUTPUT:
	RETVAL

SV *
alloc_n(self, n, timeout = NULL)
	IPC_Shpool self
	SV *n
	SV *timeout
    PREINIT:
	int64_t count;
	int ms, rc;
	uint64_t *out;
	AV *av;
	int64_t i;
    CODE:
	count = int_arg(aTHX_ n, cv, "count", 0, (int64_t)shpool_capacity(self));
	ms = timeout_arg(aTHX_ timeout, cv, UNDEF_NO_WAIT);
	Newx(out, count ? count : 1, uint64_t);
	SAVEFREEPV(out);
	rc = shpool_alloc_n(self, out, (size_t)count, ms);
	if (rc == -EAGAIN || rc == -ETIMEDOUT) {
		RETVAL = &PL_sv_undef;
	} else if (rc < 0) {
		croak_rc(aTHX_ cv, rc);
	} else {
		av = newAV();
		av_extend(av, count);
		for (i = 0; i < count; i++)
			av_push(av, newSVuv(out[i]));
		RETVAL = newRV_noinc((SV *)av);
	}
    OUTPUT:
	RETVAL

IV
free_n(self, indices)
	IPC_Shpool self
	SV *indices
    PREINIT:
	AV *av;
	SSize_t n, i;
	uint64_t *idx;
	int64_t rc;
    CODE:
	SvGETMAGIC(indices);
	if (!SvROK(indices) || SvTYPE(SvRV(indices)) != SVt_PVAV)
		CROAK("indices must be an array reference (expected arrayref)");
	av = (AV *)SvRV(indices);
	n = av_len(av) + 1;
	Newx(idx, n ? n : 1, uint64_t);
	SAVEFREEPV(idx);
	for (i = 0; i < n; i++) {
		SV **e = av_fetch(av, i, 0);
		if (!e || (SvGETMAGIC(*e), !SvOK(*e)))
			CROAK("undef slot at index %ld of the list", (long)i);
		idx[i] = idx_arg(aTHX_ *e, cv);
		/* The library skips an index out of range; a list with one is
		 * a mistake, refused before anything is freed. */
		if (idx[i] >= shpool_capacity(self))
			CROAK("slot %" UVuf " out of range (capacity %" UVuf ")", (UV)idx[i],
			      (UV)shpool_capacity(self));
	}
	rc = shpool_free_n(self, idx, (size_t)n);
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	RETVAL = (IV)rc;
    OUTPUT:
	RETVAL

SV *
allocated_slots(self)
	IPC_Shpool self
    PREINIT:
	SV *ctx[2];
	AV *av;
	int rc;
    CODE:
	av = newAV();
	RETVAL = newRV_noinc((SV *)av);
	sv_2mortal(RETVAL);
	ctx[0] = NULL;
	ctx[1] = (SV *)av;
	rc = shpool_each_allocated(self, each_cb, ctx);
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	SvREFCNT_inc_simple_void_NN(RETVAL);
    OUTPUT:
	RETVAL

void
each_allocated(self, callback)
	IPC_Shpool self
	SV *callback
    PREINIT:
	SV *ctx[2];
	AV *av;
	SSize_t i, n;
	int rc;
    CODE:
	SvGETMAGIC(callback);
	if (!SvROK(callback) || SvTYPE(SvRV(callback)) != SVt_PVCV)
		CROAK("callback must be a code reference");
	/* The allocated indices first, then the calls: what the callback
	 * allocates or frees does not change the walk (a snapshot, as in
	 * Data::Pool::Shared). An exception in it is passed on. */
	av = (AV *)sv_2mortal((SV *)newAV());
	ctx[0] = NULL;
	ctx[1] = (SV *)av;
	rc = shpool_each_allocated(self, each_cb, ctx);
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	n = av_len(av) + 1;
	for (i = 0; i < n; i++)
		call_with(aTHX_ callback, *av_fetch(av, i, 0));

UV
ptr(self, idx)
	IPC_Shpool self
	SV *idx
    PREINIT:
	uint64_t i;
	void *q;
    CODE:
	i = idx_arg(aTHX_ idx, cv);
	q = shpool_ptr(self, i);
	if (!q)
		CROAK("slot %" UVuf " out of range (capacity %" UVuf ")", (UV)i,
		      (UV)shpool_capacity(self));
	/* Only of an allocated slot (a use-after-free caught early); the
	 * address of any slot is data_ptr + idx * stride. */
	if (shpool_is_allocated(self, i) != 1)
		CROAK("slot %" UVuf " is not allocated", (UV)i);
	RETVAL = PTR2UV(q);
    OUTPUT:
	RETVAL

UV
data_ptr(self)
	IPC_Shpool self
    CODE:
	RETVAL = PTR2UV(shpool_data_ptr(self));
    OUTPUT:
	RETVAL

UV
stride(self)
	IPC_Shpool self
    CODE:
	RETVAL = shpool_stride(self);
    OUTPUT:
	RETVAL

SV *
slot_sv(self, idx)
	SV *self
	SV *idx
    PREINIT:
	shpool_t *p;
	uint64_t i;
	const char *q;
	size_t len;
	int rc;
	SV *sv;
    CODE:
	p = pool_arg(aTHX_ self, cv);
	i = idx_arg(aTHX_ idx, cv);
	rc = shpool_is_allocated(p, i);
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	if (rc == 0)
		CROAK("slot %" UVuf " is not allocated", (UV)i);
	if (shpool_kind_of(p) == SHPOOL_STR) {
		rc = shpool_str_view(p, i, &q, &len);
		if (rc < 0)
			croak_rc(aTHX_ cv, rc);
	} else {
		q = shpool_ptr(p, i);
		len = shpool_elem_size(p);
	}
	sv = newSV_type(SVt_PVMG);
	SvPV_set(sv, (char *)q);
	SvLEN_set(sv, 0); /* not ours: Perl never frees or grows it */
	SvCUR_set(sv, len);
	SvPOK_only(sv);
	sv_magicext(sv, SvRV(self), PERL_MAGIC_ext, &slotsv_vtbl, NULL, 0);
	SvREADONLY_on(sv);
	RETVAL = sv;
    OUTPUT:
	RETVAL

SV *
is_allocated(self, idx)
	IPC_Shpool self
	SV *idx
    PREINIT:
	int rc;
    CODE:
	rc = shpool_is_allocated(self, idx_arg(aTHX_ idx, cv));
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	RETVAL = boolSV(rc);
    OUTPUT:
	RETVAL

UV
capacity(self)
	IPC_Shpool self
    CODE:
	RETVAL = shpool_capacity(self);
    OUTPUT:
	RETVAL

UV
elem_size(self)
	IPC_Shpool self
    CODE:
	RETVAL = shpool_elem_size(self);
    OUTPUT:
	RETVAL

UV
used(self)
	IPC_Shpool self
    CODE:
	RETVAL = shpool_used(self);
    OUTPUT:
	RETVAL

UV
available(self)
	IPC_Shpool self
    CODE:
	RETVAL = shpool_available(self);
    OUTPUT:
	RETVAL

IV
owner(self, idx)
	IPC_Shpool self
	SV *idx
    PREINIT:
	pid_t rc;
    CODE:
	rc = shpool_owner(self, idx_arg(aTHX_ idx, cv));
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	RETVAL = rc;
    OUTPUT:
	RETVAL

IV
recover_stale(self)
	IPC_Shpool self
    PREINIT:
	int64_t rc;
    CODE:
	rc = shpool_recover_stale(self);
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	RETVAL = (IV)rc;
    OUTPUT:
	RETVAL

bool
reset(self)
	IPC_Shpool self
    PREINIT:
	int rc;
    CODE:
	rc = shpool_reset(self);
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	RETVAL = 1;
    OUTPUT:
	RETVAL

IV
check(self)
	IPC_Shpool self
    PREINIT:
	int rc;
    CODE:
	rc = shpool_check(self, NULL);
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	RETVAL = rc;
    OUTPUT:
	RETVAL

void
alloc_guard(self, timeout = NULL)
	SV *self
	SV *timeout
    PREINIT:
	SV *i, *g;
	int ms;
    PPCODE:
	ms = timeout_arg(aTHX_ timeout, cv, UNDEF_WAITS);
	if (make_guard(aTHX_ cv, self, ms, &i, &g)) {
		EXTEND(SP, 2);
		PUSHs(i);
		PUSHs(g);
	}

void
try_alloc_guard(self)
	SV *self
    PREINIT:
	SV *i, *g;
    PPCODE:
	if (make_guard(aTHX_ cv, self, 0, &i, &g)) {
		EXTEND(SP, 2);
		PUSHs(i);
		PUSHs(g);
	}

SV *
path(self)
	IPC_Shpool self
    PREINIT:
	const char *s;
    CODE:
	s = shpool_path(self);
	RETVAL = s ? newSVpv(s, 0) : &PL_sv_undef;
    OUTPUT:
	RETVAL

int
memfd(self)
	IPC_Shpool self
    CODE:
	RETVAL = shpool_memfd(self);
    OUTPUT:
	RETVAL

bool
sync(self)
	IPC_Shpool self
    PREINIT:
	int rc;
    CODE:
	rc = shpool_sync(self);
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	RETVAL = 1;
    OUTPUT:
	RETVAL

bool
unlink(self, ...)
	SV *self
    PREINIT:
	int rc;
	const char *s;
    CODE:
	/* $pool->unlink, or IPC::Shpool->unlink($path) (any class; as in
	 * Data::Pool::Shared, a plain unlink(2) of the path). */
	if (SvROK(self)) {
		shpool_t *p = pool_arg(aTHX_ self, cv);
		if (items != 1)
			croak_xs_usage(cv, "$pool (or CLASS, $path)");
		s = shpool_path(p);
		if (!s)
			CROAK("cannot unlink anonymous or memfd object (%s)", shpool_last_error());
		rc = shpool_unlink(p);
		if (rc < 0)
			CROAK("cannot unlink: unlink(%s): %s", s, strerror(-rc));
	} else {
		if (items != 2)
			croak_xs_usage(cv, "$pool (or CLASS, $path)");
		class_arg(aTHX_ self, cv);
		if (!SvOK(ST(1)))
			CROAK("path is undef");
		s = SvPV_nolen(ST(1));
		if (strlen(s) != SvCUR(ST(1)))
			CROAK("path contains a NUL byte");
		if (unlink(s) < 0)
			CROAK("cannot unlink: unlink(%s): %s", s, strerror(errno));
	}
	RETVAL = 1;
    OUTPUT:
	RETVAL

SV *
stats(self)
	IPC_Shpool self
    PREINIT:
	shpool_stats_t st;
	HV *hv;
	int rc;
    CODE:
	rc = shpool_stats(self, &st);
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	hv = newHV();
#define STAT(k) (void)hv_stores(hv, #k, newSVuv((UV)st.k))
	STAT(capacity);
	STAT(elem_size);
	STAT(used);
	STAT(available);
	STAT(waiters);
	STAT(mmap_size);
	STAT(allocs);
	STAT(waits);
	STAT(timeouts);
	STAT(recoveries);
	STAT(reset_frees);
#undef STAT
	/* frees counts every slot freed, by free, free_n, recover_stale or
	 * reset (Data::Pool::Shared: "including stale recovery"), so that
	 * allocs - frees = used once the pool is quiet; the library keeps
	 * the three apart, and recoveries and reset_frees say how many of
	 * them recovery and reset freed. */
	(void)hv_stores(hv, "frees", newSVuv((UV)(st.frees + st.recoveries + st.reset_frees)));
	/* Not in shpool_stats_t: the pages under this process's mapping. */
	(void)hv_stores(hv, "page_size", newSVuv((UV)shpool_page_size(self)));
	RETVAL = newRV_noinc((SV *)hv);
    OUTPUT:
	RETVAL

int
eventfd(self)
	IPC_Shpool self
    PREINIT:
	int rc;
    CODE:
	rc = shpool_eventfd(self);
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	RETVAL = rc;
    OUTPUT:
	RETVAL

int
eventfd_set(self, fd)
	IPC_Shpool self
	SV *fd
    PREINIT:
	int n, dupfd, rc;
    CODE:
	n = fd_arg(aTHX_ fd, cv);
	/* The pool takes its own duplicate: the caller's descriptor (often
	 * a Perl filehandle's) stays the caller's to close. */
	dupfd = fcntl(n, F_DUPFD_CLOEXEC, 0);
	if (dupfd < 0)
		CROAK("fd %d: %s", n, strerror(errno));
	rc = shpool_eventfd_set(self, dupfd);
	if (rc < 0) {
		close(dupfd);
		croak_rc(aTHX_ cv, rc);
	}
	RETVAL = rc;
    OUTPUT:
	RETVAL

int
fileno(self)
	IPC_Shpool self
    CODE:
	RETVAL = shpool_fileno(self);
    OUTPUT:
	RETVAL

bool
notify(self)
	IPC_Shpool self
    PREINIT:
	int rc;
    CODE:
	/* No eventfd: nothing to signal, false (as Data::Pool::Shared). */
	if (shpool_fileno(self) < 0)
		XSRETURN_NO;
	rc = shpool_notify(self);
	if (rc < 0 && rc != -EAGAIN)
		croak_rc(aTHX_ cv, rc);
	RETVAL = rc == 0;
    OUTPUT:
	RETVAL

SV *
eventfd_consume(self)
	IPC_Shpool self
    PREINIT:
	int64_t rc;
    CODE:
	/* undef when nothing is pending, or the handle has no eventfd (as
	 * Data::Pool::Shared): while (defined $p->eventfd_consume) ends. */
	if (shpool_fileno(self) < 0)
		XSRETURN_UNDEF;
	rc = shpool_eventfd_consume(self);
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	RETVAL = rc > 0 ? newSViv((IV)rc) : &PL_sv_undef;
    OUTPUT:
	RETVAL

SV *
get(self, idx)
	IPC_Shpool self
	SV *idx
    PREINIT:
	uint64_t i;
	uint32_t esz;
	int rc;
	SV *sv;
    CODE:
	i = idx_arg(aTHX_ idx, cv);
	esz = shpool_elem_size(self);
	sv = newSV(esz ? esz : 1);
	RETVAL = sv_2mortal(sv);
	rc = shpool_get(self, i, SvPVX(sv), esz);
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	SvCUR_set(sv, esz);
	*SvEND(sv) = '\0';
	SvPOK_only(sv);
	SvREFCNT_inc_simple_void_NN(sv);
    OUTPUT:
	RETVAL

bool
set(self, idx, value)
	SV *self
	SV *idx
	SV *value
    PREINIT:
	shpool_t *p;
	MAGIC *mg;
	uint64_t i;
	const char *s;
	STRLEN len;
	char small[RAW_SMALL];
	int rc;
    CODE:
	mg = pool_magic(aTHX_ self, cv);
	p = (shpool_t *)mg->mg_ptr;
	i = idx_arg(aTHX_ idx, cv);
	s = bytes_arg(aTHX_ value, cv, &len);
	s = raw_value(aTHX_ p, mg->mg_private, s, &len, small);
	rc = shpool_set(p, i, s, len);
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	RETVAL = 1;
    OUTPUT:
	RETVAL

void
alloc_set(self, value, timeout = NULL)
	SV *self
	SV *value
	SV *timeout
    ALIAS:
	try_alloc_set = 1
    PREINIT:
	int64_t rc;
	shpool_t *p;
	MAGIC *mg;
	const char *s;
	STRLEN len;
	char small[RAW_SMALL];
	int ms;
    PPCODE:
	if (ix && timeout)
		croak_xs_usage(cv, "self, value");
	mg = pool_magic(aTHX_ self, cv);
	p = (shpool_t *)mg->mg_ptr;
	s = bytes_arg(aTHX_ value, cv, &len);
	s = raw_value(aTHX_ p, mg->mg_private, s, &len, small);
	ms = ix ? 0 : timeout_arg(aTHX_ timeout, cv, UNDEF_WAITS);
	rc = shpool_alloc_set(p, s, len, ms);
	if (alloc_set_ok(aTHX_ cv, rc))
		mXPUSHu((UV)rc);

MODULE = IPC::Shpool		PACKAGE = IPC::Shpool::I64

# Each XSUB here is IPC::Shpool::I64's and, through ALIAS with IX_I32 set,
# IPC::Shpool::I32's: one body, the width picked by ix (see int_get()).

IV
get(self, idx)
	IPC_Shpool self
	SV *idx
    ALIAS:
	IPC::Shpool::I32::get = IX_I32
    PREINIT:
	int64_t v;
	int rc;
    CODE:
	rc = int_get(self, ix, idx_arg(aTHX_ idx, cv), &v);
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	RETVAL = (IV)v;
    OUTPUT:
	RETVAL

bool
set(self, idx, value)
	IPC_Shpool self
	SV *idx
	SV *value
    ALIAS:
	IPC::Shpool::I32::set = IX_I32
    PREINIT:
	uint64_t i;
	int rc;
    CODE:
	i = idx_arg(aTHX_ idx, cv);
	rc = int_set(self, ix, i, int_arg(aTHX_ value, cv, "value", ILO(ix), IHI(ix)));
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	RETVAL = 1;
    OUTPUT:
	RETVAL

SV *
cas(self, idx, expected, desired)
	IPC_Shpool self
	SV *idx
	SV *expected
	SV *desired
    ALIAS:
	cmpxchg = IX_OLD
	IPC::Shpool::I32::cas = IX_I32
	IPC::Shpool::I32::cmpxchg = IX_I32_OLD
    PREINIT:
	uint64_t i;
	int64_t e, d, old;
	int rc;
    CODE:
	/* cas: true if it swapped; cmpxchg: the value the slot held. */
	i = idx_arg(aTHX_ idx, cv);
	e = int_arg(aTHX_ expected, cv, "expected", ILO(ix), IHI(ix));
	d = int_arg(aTHX_ desired, cv, "desired", ILO(ix), IHI(ix));
	rc = int_cmpxchg(self, ix, i, e, d, &old);
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	RETVAL = ix & IX_OLD ? newSViv((IV)old) : boolSV(rc == 1);
    OUTPUT:
	RETVAL

IV
xchg(self, idx, value)
	IPC_Shpool self
	SV *idx
	SV *value
    ALIAS:
	IPC::Shpool::I32::xchg = IX_I32
    PREINIT:
	uint64_t i;
	int64_t old;
	int rc;
    CODE:
	i = idx_arg(aTHX_ idx, cv);
	rc = int_xchg(self, ix, i, int_arg(aTHX_ value, cv, "value", ILO(ix), IHI(ix)), &old);
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	RETVAL = (IV)old;
    OUTPUT:
	RETVAL

IV
add(self, idx, delta)
	IPC_Shpool self
	SV *idx
	SV *delta
    ALIAS:
	IPC::Shpool::I32::add = IX_I32
    PREINIT:
	uint64_t i;
	int64_t v;
	int rc;
    CODE:
	i = idx_arg(aTHX_ idx, cv);
	rc = int_add(self, ix, i, int_arg(aTHX_ delta, cv, "delta", ILO(ix), IHI(ix)), &v);
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	RETVAL = (IV)v;
    OUTPUT:
	RETVAL

IV
incr(self, idx)
	IPC_Shpool self
	SV *idx
    ALIAS:
	decr = IX_DECR
	IPC::Shpool::I32::incr = IX_I32
	IPC::Shpool::I32::decr = IX_I32_DECR
    PREINIT:
	int64_t v;
	int rc;
    CODE:
	rc = int_step(self, ix, idx_arg(aTHX_ idx, cv), &v);
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	RETVAL = (IV)v;
    OUTPUT:
	RETVAL

void
alloc_set(self, value, timeout = NULL)
	IPC_Shpool self
	SV *value
	SV *timeout
    ALIAS:
	try_alloc_set = IX_TRY
	IPC::Shpool::I32::alloc_set = IX_I32
	IPC::Shpool::I32::try_alloc_set = IX_I32_TRY
    PREINIT:
	int64_t rc;
	int64_t v;
	int ms;
    PPCODE:
	if ((ix & IX_TRY) && timeout)
		croak_xs_usage(cv, "self, value");
	v = int_arg(aTHX_ value, cv, "value", ILO(ix), IHI(ix));
	ms = ix & IX_TRY ? 0 : timeout_arg(aTHX_ timeout, cv, UNDEF_WAITS);
	rc = ix & IX_I32 ? shpool_alloc_set_i32(self, (int32_t)v, ms)
						    : shpool_alloc_set_i64(self, v, ms);
	if (alloc_set_ok(aTHX_ cv, rc))
		mXPUSHu((UV)rc);

MODULE = IPC::Shpool		PACKAGE = IPC::Shpool::F64

NV
get(self, idx)
	IPC_Shpool self
	SV *idx
    PREINIT:
	double v;
	int rc;
    CODE:
	rc = shpool_f64_get(self, idx_arg(aTHX_ idx, cv), &v);
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	RETVAL = v;
    OUTPUT:
	RETVAL

bool
set(self, idx, value)
	IPC_Shpool self
	SV *idx
	SV *value
    PREINIT:
	uint64_t i;
	int rc;
    CODE:
	i = idx_arg(aTHX_ idx, cv);
	rc = shpool_f64_set(self, i, num_arg(aTHX_ value, cv, "value"));
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	RETVAL = 1;
    OUTPUT:
	RETVAL

void
alloc_set(self, value, timeout = NULL)
	IPC_Shpool self
	SV *value
	SV *timeout
    ALIAS:
	try_alloc_set = IX_TRY
    PREINIT:
	int64_t rc;
	double v;
	int ms;
    PPCODE:
	if (ix && timeout)
		croak_xs_usage(cv, "self, value");
	v = num_arg(aTHX_ value, cv, "value");
	ms = ix ? 0 : timeout_arg(aTHX_ timeout, cv, UNDEF_WAITS);
	rc = shpool_alloc_set_f64(self, v, ms);
	if (alloc_set_ok(aTHX_ cv, rc))
		mXPUSHu((UV)rc);

MODULE = IPC::Shpool		PACKAGE = IPC::Shpool::Str

SV *
get(self, idx)
	IPC_Shpool self
	SV *idx
    PREINIT:
	uint64_t i;
	const char *s;
	size_t len;
	int rc;
    CODE:
	i = idx_arg(aTHX_ idx, cv);
	/* view + copy: the length is read once (acquire), the bytes after. */
	rc = shpool_str_view(self, i, &s, &len);
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	RETVAL = newSVpvn(s, len);
    OUTPUT:
	RETVAL

bool
set(self, idx, value)
	SV *self
	SV *idx
	SV *value
    PREINIT:
	shpool_t *p;
	MAGIC *mg;
	uint64_t i;
	const char *s;
	STRLEN len;
	int rc;
    CODE:
	mg = pool_magic(aTHX_ self, cv);
	p = (shpool_t *)mg->mg_ptr;
	i = idx_arg(aTHX_ idx, cv);
	s = bytes_arg(aTHX_ value, cv, &len);
	rc = shpool_str_set(p, i, s, str_len(p, mg->mg_private, len));
	if (rc < 0)
		croak_rc(aTHX_ cv, rc);
	RETVAL = 1;
    OUTPUT:
	RETVAL

UV
max_len(self)
	IPC_Shpool self
    CODE:
	RETVAL = shpool_str_max_len(self);
    OUTPUT:
	RETVAL

void
alloc_set(self, value, timeout = NULL)
	SV *self
	SV *value
	SV *timeout
    ALIAS:
	try_alloc_set = 1
    PREINIT:
	int64_t rc;
	shpool_t *p;
	MAGIC *mg;
	const char *s;
	STRLEN len;
	int ms;
    PPCODE:
	if (ix && timeout)
		croak_xs_usage(cv, "self, value");
	mg = pool_magic(aTHX_ self, cv);
	p = (shpool_t *)mg->mg_ptr;
	s = bytes_arg(aTHX_ value, cv, &len);
	len = str_len(p, mg->mg_private, len);
	ms = ix ? 0 : timeout_arg(aTHX_ timeout, cv, UNDEF_WAITS);
	rc = shpool_alloc_set_str(p, s, len, ms);
	if (alloc_set_ok(aTHX_ cv, rc))
		mXPUSHu((UV)rc);

MODULE = IPC::Shpool		PACKAGE = IPC::Shpool::Guard

SV *
idx(self)
	SV *self
    PREINIT:
	plguard *pg;
    CODE:
	pg = guard_arg(aTHX_ self, cv);
	RETVAL = pg->g.idx >= 0 ? newSVuv((UV)pg->g.idx) : &PL_sv_undef;
    OUTPUT:
	RETVAL

bool
release(self)
	SV *self
    PREINIT:
	plguard *pg;
	int rc;
    CODE:
	pg = guard_arg(aTHX_ self, cv);
	rc = shpool_guard_release(&pg->g);
	/* -ENOENT: empty, or the slot was freed already; -EPERM: a copy in
	 * a fork child, which never frees the parent's slot. */
	if (rc < 0 && rc != -ENOENT && rc != -EPERM)
		croak_rc(aTHX_ cv, rc);
	RETVAL = rc == 0;
    OUTPUT:
	RETVAL

SV *
disarm(self)
	SV *self
    PREINIT:
	plguard *pg;
	int64_t rc;
    CODE:
	pg = guard_arg(aTHX_ self, cv);
	rc = shpool_guard_disarm(&pg->g);
	RETVAL = rc >= 0 ? newSVuv((UV)rc) : &PL_sv_undef;
    OUTPUT:
	RETVAL

void
DESTROY(self)
	SV *self
    PREINIT:
	MAGIC *mg;
    CODE:
	/* Never croak in DESTROY: a foreign object is ignored. */
	if (SvROK(self) && (mg = find_magic(SvRV(self), &guard_vtbl)) && mg->mg_ptr)
		shpool_guard_cleanup(&((plguard *)mg->mg_ptr)->g);

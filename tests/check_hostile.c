/* SPDX-License-Identifier: MIT */
/*
 * Hostile peers and hostile paths.
 *
 * scribble: a process writes random bytes over the segment's mutable parts
 * (state and stripes, bitmap, summary levels, owner records, and the STR
 * length prefixes, the one value the library reads from the data region)
 * while victim processes run every kind of call. A victim must never crash
 * (a SIGSEGV or SIGBUS kills it and fails the test), never hang (an alarm
 * kills a call that does not return in time, and the report names the
 * call), and only ever get a result its call documents. Afterwards
 * shpool_check() reports the damage and shpool_reset() repairs it.
 *
 * damage: a claim that meets a bitmap bit set under it (set while the
 * claiming child is stopped at a crash point) gives everything back before
 * it fails with -EUCLEAN.
 *
 * files: hard links at the pool path, the creation path without O_TMPFILE,
 * and interrupted or failing fallocate.
 *
 * White-box: writes the segment through the private header.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shpool-internal.h"
#include "testutil.h"

/* ---- helpers -------------------------------------------------------------- */

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64*: small, seedable, good enough to pick offsets. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

/* Slow builds (sanitizers, valgrind) scale the timeouts as Check does. */
static unsigned slow_factor(void)
{
	const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
	unsigned f = m ? (unsigned)strtoul(m, NULL, 10) : 1;

	return f ? f : 1;
}

/* ---- scribble: the shared arena --------------------------------------------- */

#define VICTIMS 3
#define VICTIM_OPS 2500
#define HELD_MAX 32
#define HANG_SECONDS 20

enum vop {
	V_ALLOC, V_ALLOC_N, V_FREE_HELD, V_FREE_ANY, V_FREE_N, V_TYPED, V_EACH, V_SLOTS,
	V_RECOVER, V_CHECK, V_STATUS, V_ALLOC_SET, V_GUARD, V_NOPS
};

static const char *const vop_name[V_NOPS] = {
	"alloc", "alloc_n", "free (held)", "free (any)", "free_n", "typed access",
	"each_allocated", "allocated_slots", "recover_stale", "check", "status calls",
	"alloc_set", "guard",
};

struct victim_report {
	_Atomic int pid;
	_Atomic int op;              /* the call in progress: a hang names it */
	_Atomic uint64_t calls;
	_Atomic uint64_t euclean;    /* calls that reported damage */
	_Atomic uint64_t lost;       /* frees of held slots that found them gone */
	char fail[256];
};

/* In a MAP_SHARED page of its own, outside the pool. */
struct arena {
	_Atomic int stop;
	_Atomic uint64_t scribbles;
	struct victim_report v[VICTIMS];
};

struct pool_cfg {
	shpool_kind kind;
	uint64_t capacity;
	uint32_t elem_size;
	unsigned flags;
};

/* A single-word pool (no summary), two levels, three levels; each kind. */
static const struct pool_cfg scribble_cfgs[] = {
	{ SHPOOL_RAW, 5, 24, SHPOOL_NO_ZERO },
	{ SHPOOL_I64, 100, 0, SHPOOL_NOTIFY_ON_FREE },
	{ SHPOOL_STR, 5000, 20, 0 },
	{ SHPOOL_I32, 700, 0, 0 },
	{ SHPOOL_F64, 64, 0, 0 },
};

static void *shared_page(size_t size)
{
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(m, MAP_FAILED);
	return m;
}

/* ---- the scribbler ------------------------------------------------------------ */

/* An owner record naming some process that is none of the victims: random,
 * dead (a PID above pid_max), PID 1 with no start time (alive forever), or
 * with the freeing tag. */
static uint64_t hostile_record(struct arena *a, uint64_t *s)
{
	uint64_t r = rnd(s);
	pid_t pid = (pid_t)(r & SHPOOL_OWNER_PID_MASK);

	switch (rnd(s) % 4) {
	case 0:
		r = 1; /* PID 1, start 0: a PID-only owner that never dies */
		break;
	case 1:
		r = (r & ~SHPOOL_OWNER_PID_MASK) | SHPOOL_OWNER_PID_MASK; /* no such PID */
		break;
	case 2:
		r |= SHPOOL_OWNER_FREEING;
		break;
	}
	for (int i = 0; i < VICTIMS; i++)
		if (shpool_owner_pid(r) == atomic_load(&a->v[i].pid) && pid)
			r ^= 1; /* never impersonate a victim */
	return r;
}

/* A slot to damage: half the time one that is allocated now (a hostile
 * peer aims at live slots), else any. */
static uint64_t target(struct shpool *sp, uint64_t *s)
{
	for (int tries = 0; tries < 8 && rnd(s) % 2; tries++) {
		uint64_t w = rnd(s) % sp->g.nwords[0];
		uint64_t v = atomic_load(shpool_l0(sp, w)) & shpool_full_mask(sp, 0, w);

		if (v) {
			unsigned skip = (unsigned)(rnd(s) % (uint64_t)__builtin_popcountll(v));

			while (skip--)
				v &= v - 1;
			return (w << sp->g.word_shift) + (uint64_t)__builtin_ctzll(v);
		}
	}
	return rnd(s) % sp->g.capacity;
}

static void scribble_once(struct shpool *sp, struct arena *a, uint64_t *s)
{
	const struct shpool_layout *g = &sp->g;
	uint64_t r = rnd(s), idx = target(sp, s);
	unsigned l = g->nlevels > 1 ? 1 + (unsigned)(rnd(s) % (g->nlevels - 1)) : 0;
	uint64_t w0 = rnd(s) % 2 ? idx >> g->word_shift : rnd(s) % g->nwords[0];

	switch (rnd(s) % 16) {
	case 0: /* bitmap: bits appear without owner records */
		atomic_fetch_or(shpool_l0(sp, w0), r & rnd(s) & rnd(s));
		break;
	case 1: /* bitmap: allocated slots' bits vanish */
		atomic_fetch_and(shpool_l0(sp, w0), ~(r & rnd(s)));
		break;
	case 2: /* bitmap: garbage, bits beyond the last slot included */
		atomic_store(shpool_l0(sp, w0), r);
		break;
	case 3: /* summary: words marked full that are not, and the reverse */
		if (l)
			atomic_store(&sp->level[l][rnd(s) % g->nwords[l]],
				     rnd(s) % 3 == 0 ? ~UINT64_C(0) : r);
		break;
	case 4:
	case 5:
	case 6: /* owner records: strangers, the dead, 0 under a set bit */
		atomic_store(&sp->owner[idx], rnd(s) % 4 == 0 ? 0 : hostile_record(a, s));
		break;
	case 7: /* owner records of a whole bitmap word wiped */
		for (uint64_t i = w0 << g->word_shift;
		     i < ((w0 + 1) << g->word_shift) && i < g->capacity; i++)
			atomic_store(&sp->owner[i], 0);
		break;
	case 8: /* waiters: none (lost wake-ups), or very many */
		atomic_store(&sp->st->waiters, r % 2 ? 0 : (uint32_t)r);
		break;
	case 9: /* the futex word */
		atomic_fetch_add(&sp->st->wake_seq, (uint32_t)r);
		break;
	case 10: /* a statistics counter */
		atomic_store(&sp->st->stripe[r % SHPOOL_STRIPES].count[rnd(s) % SHPOOL_NSTATS],
			     rnd(s));
		break;
	case 11: /* STR length prefixes: too long, or any length */
		if (g->kind == SHPOOL_STR)
			atomic_store((_Atomic uint32_t *)shpool_slot(sp, idx),
				     r % 2 ? (uint32_t)r : (uint32_t)(r % (g->elem_size + 1)));
		break;
	default: { /* any byte of the mutable regions */
		uint64_t off = g->off_state + rnd(s) % (g->off_data - g->off_state);

		((_Atomic uint8_t *)sp->base)[off] = (uint8_t)r;
		break;
	}
	}
	atomic_fetch_add_explicit(&a->scribbles, 1, memory_order_relaxed);
}

/* The last damage, made after every victim is done, so it is there for
 * shpool_check() to find: records naming a PID above any pid_max (dead for
 * sure), a bitmap word, a summary word. */
static void scribble_final(struct shpool *sp, uint64_t *s)
{
	for (int i = 0; i < 4; i++)
		atomic_store(&sp->owner[rnd(s) % sp->g.capacity],
			     SHPOOL_OWNER_PID_MASK | (rnd(s) << SHPOOL_OWNER_START_SHIFT));
	atomic_store(shpool_l0(sp, rnd(s) % sp->g.nwords[0]), rnd(s));
	if (sp->g.nlevels > 1)
		atomic_store(&sp->level[1][0], ~UINT64_C(0));
}

struct scribbler {
	struct shpool *sp;
	struct arena *a;
	uint64_t seed;
};

static int scribbler_run(void *arg)
{
	struct scribbler *c = arg;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	while (!atomic_load(&c->a->stop)) {
		scribble_once(c->sp, c->a, &c->seed);
		/* Let the victims run between writes (2 cores, 4 processes). */
		if (c->seed % 4 == 0)
			sched_yield();
	}
	scribble_final(c->sp, &c->seed);
	return 0;
}

/* ---- the victims ------------------------------------------------------------- */

struct victim {
	shpool_t *p;
	struct arena *a;
	struct victim_report *r;
	uint64_t cap, seed;
	uint64_t held[HELD_MAX];
	size_t nheld;
	FILE *devnull;
	uint64_t last; /* each_allocated: the previous index visited */
	int visits, stop_after;
};

#define FAIL(v, ...) \
	do { \
		snprintf((v)->r->fail, sizeof((v)->r->fail), __VA_ARGS__); \
		return false; \
	} while (0)

/* rc is 0 or one of the listed -errno codes (a 0-terminated list). */
static bool allowed(struct victim *v, const char *call, long long rc, const int *codes)
{
	if (rc == 0)
		return true;
	for (; *codes; codes++)
		if (rc == *codes) {
			if (rc == -EUCLEAN)
				atomic_fetch_add(&v->r->euclean, 1);
			return true;
		}
	FAIL(v, "%s returned %lld (%s): %s", call, rc, shpool_strerror((int)rc),
	     shpool_last_error());
}

#define CODES(...) ((const int[]){ __VA_ARGS__, 0 })

static uint64_t pick(struct victim *v)
{
	/* Mostly slots we hold (their typed calls succeed), else any slot. */
	if (v->nheld && rnd(&v->seed) % 4)
		return v->held[rnd(&v->seed) % v->nheld];
	return rnd(&v->seed) % v->cap;
}

static void drop(struct victim *v, size_t i)
{
	v->held[i] = v->held[--v->nheld];
}

static bool forget(struct victim *v, uint64_t idx)
{
	for (size_t i = 0; i < v->nheld; i++)
		if (v->held[i] == idx) {
			drop(v, i);
			return true;
		}
	return false;
}

static bool release(struct victim *v, size_t i)
{
	int rc = shpool_free(v->p, v->held[i]);

	/* -ENOENT: a stranger freed it, or its bit or record was scribbled. */
	if (rc == -ENOENT)
		atomic_fetch_add(&v->r->lost, 1);
	drop(v, i);
	return allowed(v, "free", rc, CODES(-ENOENT));
}

static bool hold(struct victim *v, int64_t idx, const char *call)
{
	if (idx < 0 || (uint64_t)idx >= v->cap)
		FAIL(v, "%s returned slot %lld of %" PRIu64, call, (long long)idx, v->cap);
	if (v->nheld == HELD_MAX && !release(v, 0))
		return false;
	v->held[v->nheld++] = (uint64_t)idx;
	return true;
}

static bool v_alloc(struct victim *v)
{
	int timeout = (int)(rnd(&v->seed) % 3) * 2;
	int64_t s = shpool_alloc(v->p, timeout);

	if (s >= 0)
		return hold(v, s, "alloc");
	return allowed(v, "alloc", s, timeout ? CODES(-ETIMEDOUT, -EUCLEAN) : CODES(-EAGAIN, -EUCLEAN));
}

static bool v_alloc_n(struct victim *v)
{
	uint64_t out[4];
	size_t n = 1 + rnd(&v->seed) % 4;
	int timeout = (int)(rnd(&v->seed) % 2) * 3;
	int rc = shpool_alloc_n(v->p, out, n, timeout);

	if (n > v->cap)
		return rc == -EINVAL ? true : allowed(v, "alloc_n beyond capacity", rc, CODES(-EINVAL));
	if (rc < 0)
		return allowed(v, "alloc_n", rc,
			       timeout ? CODES(-ETIMEDOUT, -EUCLEAN) : CODES(-EAGAIN, -EUCLEAN));
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (out[i] == out[j])
				FAIL(v, "alloc_n handed out slot %" PRIu64 " twice", out[i]);
	for (size_t i = 0; i < n; i++)
		if (!hold(v, (int64_t)out[i], "alloc_n"))
			return false;
	return true;
}

static bool v_free_any(struct victim *v)
{
	uint64_t idx = rnd(&v->seed) % (v->cap + 2);
	int rc = shpool_free(v->p, idx);

	if (idx >= v->cap)
		return rc == -ERANGE ? true : allowed(v, "free out of range", rc, CODES(-ERANGE));
	if (rc == 0)
		forget(v, idx);
	return allowed(v, "free", rc, CODES(-ENOENT));
}

static bool v_free_n(struct victim *v)
{
	uint64_t idx[5];
	size_t n = 0;
	int64_t freed;

	while (n < 4 && v->nheld) {
		idx[n++] = v->held[v->nheld - 1];
		v->nheld--;
	}
	if (rnd(&v->seed) % 2)
		idx[n++] = rnd(&v->seed) % (v->cap + 2);
	freed = shpool_free_n(v->p, idx, n);
	if (freed < 0 || (size_t)freed > n)
		FAIL(v, "free_n of %zu returned %" PRId64 ": %s", n, freed, shpool_last_error());
	return true;
}

static bool v_typed(struct victim *v)
{
	uint64_t idx = pick(v), r = rnd(&v->seed);
	shpool_t *p = v->p;
	char buf[64] = { 0 };
	const char *view;
	size_t len = 0;
	/* Zeroed: a call that fails (-ENOENT) leaves them unwritten, and the
	 * next call still passes them on. */
	int64_t i64 = 0;
	int32_t i32 = 0;
	double d = 0;

	switch (shpool_kind_of(p)) {
	case SHPOOL_I64: {
		int rc;

		if (!allowed(v, "i64_add", shpool_i64_add(p, idx, (int64_t)r, &i64), CODES(-ENOENT)))
			return false;
		rc = shpool_i64_cas(p, idx, i64, 1);
		return allowed(v, "i64_cas", rc == 1 ? 0 : rc, CODES(-ENOENT));
	}
	case SHPOOL_I32:
		if (!allowed(v, "i32_xchg", shpool_i32_xchg(p, idx, (int32_t)r, &i32), CODES(-ENOENT)))
			return false;
		return allowed(v, "i32_get", shpool_i32_get(p, idx, &i32), CODES(-ENOENT));
	case SHPOOL_F64:
		if (!allowed(v, "f64_set", shpool_f64_set(p, idx, (double)r), CODES(-ENOENT)))
			return false;
		return allowed(v, "f64_get", shpool_f64_get(p, idx, &d), CODES(-ENOENT));
	case SHPOOL_STR: {
		size_t max = shpool_str_max_len(p), n = r % (max + 1);
		int rc;

		memset(buf, 'a' + (int)(r % 26), sizeof(buf));
		if (!allowed(v, "str_set", shpool_str_set(p, idx, buf, n), CODES(-ENOENT)))
			return false;
		rc = shpool_str_get(p, idx, buf, max + 1, &len);
		if (rc == 0 && (len > max || buf[len] != '\0'))
			FAIL(v, "str_get: length %zu of max %zu, or no NUL", len, max);
		if (!allowed(v, "str_get", rc, CODES(-ENOENT, -EUCLEAN)))
			return false;
		rc = shpool_str_view(p, idx, &view, &len);
		if (rc == 0 && (len > max || view != (char *)shpool_ptr(p, idx) + SHPOOL_STR_PREFIX))
			FAIL(v, "str_view: length %zu of max %zu, or a pointer off the slot", len,
			     max);
		return allowed(v, "str_view", rc, CODES(-ENOENT, -EUCLEAN));
	}
	default: {
		size_t n = r % (shpool_elem_size(p) + 1);

		if (!allowed(v, "set", shpool_set(p, idx, buf, n), CODES(-ENOENT)))
			return false;
		return allowed(v, "get", shpool_get(p, idx, buf, n), CODES(-ENOENT));
	}
	}
}

static int visit(shpool_t *p, uint64_t idx, void *arg)
{
	struct victim *v = arg;

	(void)p;
	if (idx >= v->cap || (v->visits && idx <= v->last))
		return -1;
	v->last = idx;
	return ++v->visits == v->stop_after ? 7 : 0;
}

static bool v_each(struct victim *v)
{
	int rc;

	v->visits = 0;
	v->stop_after = 1 + (int)(rnd(&v->seed) % 8);
	rc = shpool_each_allocated(v->p, visit, v);
	if (rc != 0 && rc != 7)
		FAIL(v, "each_allocated returned %d: an index out of range or out of order", rc);
	return true;
}

static bool v_slots(struct victim *v)
{
	uint64_t out[16];
	int64_t n = shpool_allocated_slots(v->p, out, 16);

	if (n < 0 || (uint64_t)n > v->cap)
		FAIL(v, "allocated_slots returned %" PRId64, n);
	for (int64_t i = 0; i < n && i < 16; i++)
		if (out[i] >= v->cap || (i && out[i] <= out[i - 1]))
			FAIL(v, "allocated_slots: entry %" PRId64 " is %" PRIu64, i, out[i]);
	return true;
}

static bool v_status(struct victim *v)
{
	uint64_t idx = rnd(&v->seed) % v->cap, used = shpool_used(v->p);
	int a = shpool_is_allocated(v->p, idx);
	pid_t o = shpool_owner(v->p, idx);
	shpool_stats_t st;

	if (used > v->cap || shpool_available(v->p) > v->cap)
		FAIL(v, "used %" PRIu64 " of capacity %" PRIu64, used, v->cap);
	if (a != 0 && a != 1)
		FAIL(v, "is_allocated returned %d", a);
	if (o < 0)
		FAIL(v, "owner returned %d", (int)o);
	if (shpool_stats(v->p, &st) != 0 || st.used > v->cap || st.capacity != v->cap)
		FAIL(v, "stats: used %" PRIu64 ", capacity %" PRIu64, st.used, st.capacity);
	if (shpool_fileno(v->p) >= 0 && shpool_eventfd_consume(v->p) < 0)
		FAIL(v, "eventfd_consume: %s", shpool_last_error());
	return true;
}

static bool v_alloc_set(struct victim *v)
{
	uint64_t r = rnd(&v->seed);
	char buf[32] = "hostile";
	int64_t s;

	switch (shpool_kind_of(v->p)) {
	case SHPOOL_I64: s = shpool_alloc_set_i64(v->p, (int64_t)r, 0); break;
	case SHPOOL_I32: s = shpool_alloc_set_i32(v->p, (int32_t)r, 0); break;
	case SHPOOL_F64: s = shpool_alloc_set_f64(v->p, (double)r, 0); break;
	case SHPOOL_STR: s = shpool_alloc_set_str(v->p, buf, 7, 0); break;
	default: s = shpool_alloc_set(v->p, buf, shpool_elem_size(v->p), 0); break;
	}
	if (s >= 0)
		return hold(v, s, "alloc_set");
	return allowed(v, "alloc_set", s, CODES(-EAGAIN, -EUCLEAN));
}

static bool v_guard(struct victim *v)
{
	SHPOOL_GUARD(g) = shpool_guard_alloc(v->p, 0);

	if (g.idx >= 0 && (uint64_t)g.idx >= v->cap)
		FAIL(v, "guard_alloc returned slot %" PRId64, g.idx);
	if (g.idx < 0)
		return allowed(v, "guard_alloc", g.idx, CODES(-EAGAIN, -EUCLEAN));
	/* Half released by hand, half at scope exit. */
	if (rnd(&v->seed) % 2)
		return allowed(v, "guard_release", shpool_guard_release(&g), CODES(-ENOENT));
	return true;
}

static bool victim_call(struct victim *v, enum vop op)
{
	int64_t n;

	switch (op) {
	case V_ALLOC: return v_alloc(v);
	case V_ALLOC_N: return v_alloc_n(v);
	case V_FREE_HELD: return v->nheld ? release(v, rnd(&v->seed) % v->nheld) : true;
	case V_FREE_ANY: return v_free_any(v);
	case V_FREE_N: return v_free_n(v);
	case V_TYPED: return v_typed(v);
	case V_EACH: return v_each(v);
	case V_SLOTS: return v_slots(v);
	case V_RECOVER:
		n = shpool_recover_stale(v->p);
		if (n < 0 || (uint64_t)n > v->cap)
			FAIL(v, "recover_stale returned %" PRId64 ": %s", n, shpool_last_error());
		return true;
	case V_CHECK:
		n = shpool_check(v->p, rnd(&v->seed) % 2 ? v->devnull : NULL);
		if (n < 0)
			FAIL(v, "check returned %" PRId64 ": %s", n, shpool_last_error());
		return true;
	case V_STATUS: return v_status(v);
	case V_ALLOC_SET: return v_alloc_set(v);
	case V_GUARD: return v_guard(v);
	case V_NOPS: break;
	}
	return true;
}

static int victim_run(void *arg)
{
	struct victim *v = arg;
	unsigned hang = HANG_SECONDS * slow_factor();

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGALRM, SIG_DFL);
	atomic_store(&v->r->pid, getpid());
	v->devnull = fopen("/dev/null", "we");
	if (!v->devnull || (shpool_kind_of(v->p) == SHPOOL_I64 && shpool_eventfd(v->p) < 0))
		return 3;
	for (int k = 0; k < VICTIM_OPS; k++) {
		enum vop op = (enum vop)(rnd(&v->seed) % V_NOPS);
		uint64_t seen = atomic_load(&v->a->scribbles);

		/* Every call meets fresh damage: wait for the next scribble. */
		while (atomic_load(&v->a->scribbles) == seen)
			sched_yield();

		atomic_store(&v->r->op, op);
		/* A call that does not return in time dies of SIGALRM: the
		 * parent reports it as a hang in this call. */
		alarm(hang);
		if (!victim_call(v, op))
			return 1;
		atomic_fetch_add_explicit(&v->r->calls, 1, memory_order_relaxed);
	}
	alarm(0);
	fclose(v->devnull);
	return 0;
}

START_TEST(scribble_while_victims_run)
{
	const struct pool_cfg *cfg = &scribble_cfgs[_i];
	shpool_t *p = test_pool(NULL, cfg->kind, cfg->capacity, cfg->elem_size, cfg->flags);
	struct arena *a = shared_page(sizeof(*a));
	struct scribbler sc = { p, a, UINT64_C(0x5eed) + (uint64_t)_i };
	struct victim v[VICTIMS];
	pid_t scribbler, pids[VICTIMS];
	uint64_t calls = 0, euclean = 0, lost = 0;
	char *text = NULL;
	size_t len = 0;
	FILE *report;
	int problems;

	for (int i = 0; i < VICTIMS; i++)
		atomic_store(&a->v[i].op, -1);
	scribbler = test_fork(scribbler_run, &sc);
	for (int i = 0; i < VICTIMS; i++) {
		v[i] = (struct victim){ .p = p, .a = a, .r = &a->v[i], .cap = cfg->capacity,
					.seed = UINT64_C(0x9e3779b97f4a7c15) * (uint64_t)(i + 1) + (uint64_t)_i };
		pids[i] = test_fork(victim_run, &v[i]);
	}
	for (int i = 0; i < VICTIMS; i++) {
		int st = test_wait(pids[i]);
		int op = atomic_load(&a->v[i].op);
		const char *call = op >= 0 && op < V_NOPS ? vop_name[op] : "setup";

		ck_assert_msg(st != 128 + SIGALRM, "victim %d hung in %s (no return within %u s)", i,
			      call, HANG_SECONDS * slow_factor());
		ck_assert_msg(st < 128, "victim %d died of signal %d in %s", i, st - 128, call);
		ck_assert_msg(st == 0, "victim %d (exit %d) in %s: %s", i, st, call, a->v[i].fail);
		calls += atomic_load(&a->v[i].calls);
		euclean += atomic_load(&a->v[i].euclean);
		lost += atomic_load(&a->v[i].lost);
	}
	atomic_store(&a->stop, 1);
	ck_assert_int_eq(test_wait(scribbler), 0);

	/* The damage is reported... */
	report = open_memstream(&text, &len);
	problems = shpool_check(p, report);
	fclose(report);
	ck_assert_msg(problems > 0, "shpool_check found no damage after %" PRIu64 " scribbles",
		      atomic_load(&a->scribbles));
	printf("scribble %s cap %" PRIu64 ": %" PRIu64 " scribbles, %" PRIu64 " victim calls, "
	       "%" PRIu64 " -EUCLEAN, %" PRIu64 " held slots lost; check then found %d problems, "
	       "e.g. %.*s", shpool_kind_name(cfg->kind), cfg->capacity, atomic_load(&a->scribbles),
	       calls, euclean, lost, problems, (int)strcspn(text, "\n") + 1, text);
	free(text);

	/* ...and repaired by a reset: the whole capacity is usable again. */
	ck_assert_int_ge(shpool_recover_stale(p), 0);
	ck_assert_int_eq(shpool_reset(p), 0);
	test_assert_consistent(p);
	for (uint64_t i = 0; i < cfg->capacity; i++)
		ck_assert_int_ge(shpool_try_alloc(p), 0);
	ck_assert_uint_eq(shpool_used(p), cfg->capacity);
	ck_assert_int_eq(shpool_try_alloc(p), -EAGAIN);
	ck_assert_int_eq(shpool_reset(p), 0);
	test_assert_consistent(p);
	munmap(a, sizeof(*a));
	shpool_close(p);
}
END_TEST

/* ---- damage met by a claim -------------------------------------------------- */

struct damaged_claim {
	shpool_t *p;
	size_t n;
};

/* Claim n slots in a fresh pool, stopping (crash point with :stop) after
 * the owner CASes, before the bitmap update. Exit 0 if the claim failed
 * with -EUCLEAN and a detail. */
static int claim_and_report(void *arg)
{
	struct damaged_claim *c = arg;
	uint64_t out[4];
	int rc;

	setenv("SHPOOL_CRASH_AT", "alloc.owner_claimed:1:stop", 1);
	rc = c->n == 1 ? (int)shpool_try_alloc(c->p) : shpool_alloc_n(c->p, out, c->n, 0);
	return rc == -EUCLEAN && strstr(shpool_last_error(), "segment damaged") ? 0 : 1;
}

/* A claim that finds a bit set under it (the segment damaged between its
 * owner CASes and its bitmap update) fails with -EUCLEAN and keeps
 * nothing: every record is 0 again, and only the damaged bit stays set, for
 * shpool_check() to report. */
START_TEST(damaged_claim_gives_back)
{
	static const size_t batch[] = { 1, 3 };
	struct damaged_claim c = { NULL, batch[_i] };
	unsigned damaged = c.n == 1 ? 0 : 1;
	struct shpool *sp;
	char *text = NULL;
	size_t len = 0;
	FILE *report;
	pid_t pid;
	int st;

	ck_assert_int_eq(shpool_create(&c.p, NULL, SHPOOL_RAW, 4, 8, NULL), 0);
	sp = c.p;
	pid = test_fork(claim_and_report, &c);
	while (waitpid(pid, &st, WUNTRACED) < 0)
		ck_assert_int_eq(errno, EINTR);
	ck_assert_msg(WIFSTOPPED(st), "the claim did not stop at its crash point");
	/* Stopped with its records claimed (slots 0 .. n-1), bits not yet set. */
	for (uint64_t i = 0; i < c.n; i++)
		ck_assert_uint_ne(atomic_load(&sp->owner[i]), 0);
	ck_assert_uint_eq(atomic_load(shpool_l0(sp, 0)), 0);
	atomic_fetch_or(shpool_l0(sp, 0), UINT64_C(1) << damaged);
	ck_assert_int_eq(kill(pid, SIGCONT), 0);
	ck_assert_int_eq(test_wait(pid), 0);

	for (uint64_t i = 0; i < 4; i++)
		ck_assert_msg(atomic_load(&sp->owner[i]) == 0, "slot %" PRIu64 " kept record %#" PRIx64,
			      i, (uint64_t)atomic_load(&sp->owner[i]));
	ck_assert_uint_eq(atomic_load(shpool_l0(sp, 0)), UINT64_C(1) << damaged);
	report = open_memstream(&text, &len);
	ck_assert_int_eq(shpool_check(c.p, report), 1);
	fclose(report);
	ck_assert_ptr_nonnull(strstr(text, "no owner record"));
	free(text);
	shpool_close(c.p);
}
END_TEST

/* ---- files: hard links ---------------------------------------------------- */

/* A hard link at the pool path to a file that is no pool (a database, an
 * empty file someone hopes we will initialise): refused, target untouched. */
START_TEST(hardlink_to_other_file)
{
	static const char secret[] = "not a pool: precious bytes that must survive\n";
	const char *contents[] = { secret, "" };
	char *target = test_path("precious"), *path = test_path("pool");
	shpool_t *p = NULL;

	for (int k = 0; k < 2; k++) {
		struct test_file before;

		test_write_file(target, contents[k], strlen(contents[k]));
		ck_assert_int_eq(link(target, path), 0);
		before = test_file_state(target);
		ck_assert_fails(shpool_open(&p, path, SHPOOL_RAW), -EMLINK, "hard links");
		ck_assert_fails(shpool_create(&p, path, SHPOOL_RAW, 10, 8, NULL), -EMLINK,
				"exactly one name");
		ck_assert_fails(shpool_create(&p, path, SHPOOL_I64, 1, 0, NULL), -EMLINK, path);
		ck_assert_ptr_null(p);
		test_assert_untouched(target, &before);
		ck_assert_int_eq(unlink(path), 0);
		ck_assert_int_eq(unlink(target), 0);
	}
	free(target);
	free(path);
}
END_TEST

/* A pool with a second name is refused by either name (another program's
 * pool of the same geometry would otherwise be attached by mistake), and
 * usable again once the extra name is gone. An fd is the caller's choice. */
START_TEST(hardlink_to_pool)
{
	char *path = test_path("pool"), *other = test_path("other");
	struct test_file before;
	shpool_t *p = NULL;
	int fd;

	ck_assert_int_eq(shpool_create(&p, path, SHPOOL_RAW, 100, 16, NULL), 0);
	ck_assert_int_ge(shpool_alloc(p, 0), 0);
	shpool_close(p);
	p = NULL;
	ck_assert_int_eq(link(path, other), 0);
	before = test_file_state(path);
	ck_assert_fails(shpool_open(&p, path, SHPOOL_RAW), -EMLINK, "has 2 hard links");
	ck_assert_fails(shpool_open(&p, other, SHPOOL_RAW), -EMLINK, other);
	ck_assert_fails(shpool_create(&p, other, SHPOOL_RAW, 100, 16, NULL), -EMLINK, "refused");
	ck_assert_str_eq(shpool_strerror(-EMLINK), "pool file has more than one name (hard link)");
	test_assert_untouched(path, &before);

	fd = open(other, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(shpool_open_fd(&p, fd, SHPOOL_RAW), 0);
	ck_assert_uint_eq(shpool_used(p), 1);
	shpool_close(p);
	close(fd);

	ck_assert_int_eq(unlink(other), 0);
	ck_assert_int_eq(shpool_open(&p, path, SHPOOL_RAW), 0);
	ck_assert_uint_eq(shpool_used(p), 1);
	shpool_close(p);
	ck_assert_int_eq(unlink(path), 0);
	free(path);
	free(other);
}
END_TEST

/* ---- files: creation without O_TMPFILE -------------------------------------- */

/* Names in dir, "." and ".." aside. */
static int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

#define CREATORS 4
#define ROUNDS 20

struct creator {
	const char *path;
	int start[2];
};

/* Create (or attach) once after the start signal; exit 0 on success, else
 * the error number. */
static int creator_run(void *arg)
{
	struct creator *c = arg;
	shpool_t *p = NULL;
	char ch;
	int rc;

	close(c->start[1]);
	while (read(c->start[0], &ch, 1) < 0 && errno == EINTR)
		;
	rc = shpool_create(&p, c->path, SHPOOL_RAW, 100, 16, NULL);
	if (rc == 0 && shpool_capacity(p) != 100)
		rc = -EBADMSG;
	shpool_close(p);
	return -rc;
}

/* The hidden-temp-name fallback (no /proc or O_TMPFILE): the pool appears
 * under one name only, even to racing creators, and no temp name stays. */
START_TEST(create_without_tmpfile)
{
	char *path = test_path("pool");
	struct stat st;
	shpool_t *p = NULL;

	/* EOPNOTSUPP: as a file system without O_TMPFILE answers. */
	ck_assert_int_eq(setenv("SHPOOL_FAULT_AT", "create.tmpfile:95", 1), 0);
	ck_assert_int_eq(shpool_create(&p, path, SHPOOL_RAW, 100, 16, NULL), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 1);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(dir_entries(test_dir()), 1);
	shpool_close(p);
	ck_assert_int_eq(unlink(path), 0);

#ifdef HAVE_RENAMEAT2
	for (int round = 0; round < ROUNDS; round++) {
		struct creator c = { path, { -1, -1 } };
		pid_t pids[CREATORS];

		ck_assert_int_eq(pipe2(c.start, O_CLOEXEC), 0);
		for (int i = 0; i < CREATORS; i++)
			pids[i] = test_fork(creator_run, &c);
		close(c.start[1]);
		for (int i = 0; i < CREATORS; i++) {
			int st_child = test_wait(pids[i]);

			ck_assert_msg(st_child == 0, "round %d: creator %d failed: %s", round, i,
				      strerror(st_child));
		}
		close(c.start[0]);
		ck_assert_int_eq(dir_entries(test_dir()), 1);
		ck_assert_int_eq(unlink(path), 0);
	}
#endif
	ck_assert_int_eq(unsetenv("SHPOOL_FAULT_AT"), 0);
	free(path);
}
END_TEST

/* ---- files: fallocate interrupted or failing -------------------------------- */

START_TEST(fallocate_interrupted)
{
	char *path = test_path("pool");
	shpool_t *p = NULL;

	/* Interrupted three times: retried, and the pool is whole. */
	ck_assert_int_eq(setenv("SHPOOL_FAULT_AT", "size.fallocate:4:3", 1), 0);
	ck_assert_int_eq(shpool_create_memfd(&p, "eintr", SHPOOL_RAW, 1000, 4096, NULL), 0);
	ck_assert_int_ge(shpool_alloc(p, 0), 0);
	shpool_close(p);
	ck_assert_int_eq(setenv("SHPOOL_FAULT_AT", "size.fallocate:4:2", 1), 0);
	ck_assert_int_eq(shpool_create(&p, path, SHPOOL_RAW, 1000, 4096, NULL), 0);
	ck_assert_int_eq(shpool_check(p, NULL), 0);
	shpool_close(p);
	ck_assert_int_eq(unlink(path), 0);

	/* No space: a clear error, and no file left behind. */
	ck_assert_int_eq(setenv("SHPOOL_FAULT_AT", "size.fallocate:28", 1), 0);
	ck_assert_fails(shpool_create(&p, path, SHPOOL_RAW, 10, 8, NULL), -ENOSPC, "cannot size");
	ck_assert_int_eq(dir_entries(test_dir()), 0);
	ck_assert_fails(shpool_create_memfd(&p, "full", SHPOOL_RAW, 10, 8, NULL), -ENOSPC,
			"cannot size");

	/* No fallocate on this file system: sized by ftruncate instead. */
	ck_assert_int_eq(setenv("SHPOOL_FAULT_AT", "size.fallocate:95", 1), 0);
	ck_assert_int_eq(shpool_create(&p, path, SHPOOL_RAW, 10, 8, NULL), 0);
	ck_assert_int_eq(shpool_check(p, NULL), 0);
	shpool_close(p);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(unsetenv("SHPOOL_FAULT_AT"), 0);
	free(path);
}
END_TEST

static _Atomic unsigned ticks;

static void on_tick(int sig)
{
	(void)sig;
	atomic_fetch_add(&ticks, 1);
}

/* Real signals during large creations: a periodic timer (with SA_RESTART,
 * as most programs install handlers). On kernels whose tmpfs fallocate
 * stops for any signal, an unretried EINTR fails the creation. */
START_TEST(create_under_timer_signals)
{
	struct sigaction sa = { .sa_handler = on_tick, .sa_flags = SA_RESTART };
	struct itimerval it = { { 0, 200 }, { 0, 200 } }, off = { { 0, 0 }, { 0, 0 } };
	char *path = test_path("big");

	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	for (int i = 0; i < 3; i++) {
		shpool_t *p = NULL;

		/* 64 MiB of data: long enough for ticks to land inside. */
		ck_assert_msg(shpool_create_memfd(&p, "big", SHPOOL_RAW, 16384, 4096, NULL) == 0,
			      "memfd: %s", shpool_last_error());
		shpool_close(p);
		ck_assert_msg(shpool_create(&p, path, SHPOOL_RAW, 16384, 4096, NULL) == 0,
			      "file: %s", shpool_last_error());
		shpool_close(p);
		ck_assert_int_eq(unlink(path), 0);
	}
	ck_assert_int_eq(setitimer(ITIMER_REAL, &off, NULL), 0);
	ck_assert_uint_gt(atomic_load(&ticks), 0);
	free(path);
}
END_TEST

/* ---- suite ---------------------------------------------------------------------- */

static Suite *make_hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *scribble = tcase_create("scribble");
	TCase *damage = tcase_create("damage");
	TCase *files = tcase_create("files");

	/* Hang detectors, sized for a loaded 2-core machine; Check scales
	 * them by CK_TIMEOUT_MULTIPLIER, the victims' alarms likewise. */
	tcase_set_timeout(scribble, 120);
	tcase_add_loop_test(scribble, scribble_while_victims_run, 0,
			    (int)(sizeof(scribble_cfgs) / sizeof(scribble_cfgs[0])));
	tcase_set_timeout(damage, 60);
	tcase_add_loop_test(damage, damaged_claim_gives_back, 0, 2);
	tcase_set_timeout(files, 60);
	tcase_add_test(files, hardlink_to_other_file);
	tcase_add_test(files, hardlink_to_pool);
	tcase_add_test(files, create_without_tmpfile);
	tcase_add_test(files, fallocate_interrupted);
	tcase_add_test(files, create_under_timer_signals);
	suite_add_tcase(s, scribble);
	suite_add_tcase(s, damage);
	suite_add_tcase(s, files);
	return s;
}

int main(void)
{
	return test_run_suite(make_hostile_suite());
}

/* SPDX-License-Identifier: MIT */
/* Slot ownership: who this process is, stale-owner recovery, reset. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shpool-internal.h"

/* ---- identity ---------------------------------------------------------
 *
 * An owner record names a process by PID *and* start time (clock ticks
 * since boot, field 22 of /proc/PID/stat), so a recycled PID is a different
 * owner. It is computed once per process (two syscalls and a read) and
 * cached; a fork(2) child drops the cache through pthread_atfork(), so the
 * allocation fast path never enters the kernel.
 */

#define START_BITS (64 - SHPOOL_OWNER_START_SHIFT)

_Atomic uint64_t shpool_self_record; /* 0: not computed in this process */
SHPOOL_FAST_TLS uint32_t shpool_seed;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* ---- time namespaces ---------------------------------------------------
 *
 * The kernel shows a start time in /proc/PID/stat shifted by the *reader's*
 * time-namespace boottime offset (timens_add_boottime_ns()), so two
 * processes in namespaces with different offsets read different start times
 * for the same process, and a recoverer would judge a live owner dead.
 * Every start time is therefore taken off the reader's own offset, read
 * from /proc/self/timens_offsets (absent without CONFIG_TIME_NS: offset 0),
 * which makes it the host's. Cached per process and dropped in a fork(2)
 * child: a child of unshare(CLONE_NEWTIME) lives in another namespace than
 * its parent. Exact when the offset is a whole number of clock ticks (as
 * unshare(1) and clock_settime-free setups make it: seconds); a fraction of
 * a tick can round the shifted value one tick off (shpool(7)).
 */

#define TIMENS_UNKNOWN INT64_MIN
static _Atomic int64_t boottime_offset_ticks = TIMENS_UNKNOWN;

static int64_t read_boottime_offset(void)
{
	char line[128];
	long long sec, nsec;
	int64_t ticks = 0;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/self/timens_offsets", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "boottime %lld %lld", &sec, &nsec) == 2 && hz > 0) {
			/* Nearest tick, as the kernel's nsec_to_clock_t()
			 * truncates the sum of start and offset. */
			ticks = (int64_t)sec * hz + ((int64_t)nsec * hz + 500000000) / 1000000000;
			break;
		}
	fclose(f);
	return ticks;
}

static int64_t boottime_offset(void)
{
	/* relaxed: a self-contained value; racing threads compute the same. */
	int64_t off = atomic_load_explicit(&boottime_offset_ticks, memory_order_relaxed);

	if (off == TIMENS_UNKNOWN) {
		off = read_boottime_offset();
		atomic_store_explicit(&boottime_offset_ticks, off, memory_order_relaxed);
	}
	return off;
}

int shpool_proc_stat_at(const char *path, char *state, uint64_t *start)
{
	char buf[1024], *p;
	unsigned long long st;
	FILE *f;
	size_t n;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields resume after the last
	 * ')'. Each space after it starts the next field, from field 3 (the
	 * state) on; stop at the one before field 22, the start time. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c", state) != 1)
		return -EINVAL;
	for (int field = 3; field <= 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &st) != 1)
		return -EINVAL;
	*start = (uint64_t)st - (uint64_t)boottime_offset();
	return 0;
}

/* /proc/PID/stat: the state letter and the start time, masked to the
 * record's width. -errno if unreadable. */
static int proc_stat(pid_t pid, char *state, uint64_t *start)
{
	char path[64];
	int rc;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	rc = shpool_proc_stat_at(path, state, start);
	*start &= (UINT64_C(1) << START_BITS) - 1;
	return rc;
}

static uint64_t make_record(pid_t pid, uint64_t start)
{
	return ((uint64_t)pid & SHPOOL_OWNER_PID_MASK) | (start << SHPOOL_OWNER_START_SHIFT);
}

static void after_fork_child(void)
{
	/* Runs in the child's only thread: its record and its search seed
	 * must differ from the parent's, and it must not write the parent's
	 * statistics stripes. */
	atomic_store_explicit(&shpool_self_record, 0, memory_order_relaxed);
	shpool_seed = 0;
	atomic_store_explicit(&boottime_offset_ticks, TIMENS_UNKNOWN, memory_order_relaxed);
	shpool_alloc_after_fork();
	shpool_stats_forget();
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, after_fork_child);
}

uint64_t shpool_self_slow(void)
{
	uint64_t rec, start = 0;
	char state;
	pid_t pid;

	pthread_once(&atfork_once, register_atfork);
	pid = getpid();
	if (proc_stat(pid, &state, &start) < 0)
		start = 0; /* no /proc: PID-only identity, see proc_liveness() */
	rec = make_record(pid, start);
	/* relaxed: see shpool_self(). */
	atomic_store_explicit(&shpool_self_record, rec, memory_order_relaxed);
	return rec;
}

uint32_t shpool_seed_slow(void)
{
	static _Atomic uint32_t threads;
	uint32_t s;

	/* relaxed: only needs distinct values, not ordering. */
	s = atomic_fetch_add_explicit(&threads, 1, memory_order_relaxed) * 0x9E3779B9u;
	s ^= (uint32_t)shpool_owner_pid(shpool_self()) * 0x85EBCA6Bu;
	s ^= s >> 15;
	shpool_seed = s ? s : 1;
	return shpool_seed;
}

pid_t shpool_owner(shpool_t *p, uint64_t idx)
{
	uint64_t rec;
	int rc;

	SHPOOL_CHECK_HANDLE(p);
	rc = shpool_check_index(p, idx, __func__);
	if (rc < 0)
		return rc;
	if (shpool_is_allocated(p, idx) != 1)
		return 0;
	/* acquire: pairs with the owner claim in alloc.c, so we read the
	 * record of the allocation whose bit we saw (or a later one). */
	rec = atomic_load_explicit(&p->owner[idx], memory_order_acquire);
	return shpool_owner_pid(rec);
}

/* ---- liveness ---------------------------------------------------------
 *
 * An owner is alive when a process with its PID exists, is not a zombie,
 * and (if the record carries one) has its start time. When /proc cannot
 * tell (hidepid, no /proc), an existing PID counts as alive: recovery may
 * then leave a slot held, but never frees a live process's slot.
 */

enum { DEAD, ALIVE };

/* How many threads /proc/PID/status counts; 0 if it cannot tell. */
static long proc_threads(pid_t pid)
{
	char path[64], line[256];
	long threads = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %ld", &threads) == 1)
			break;
	fclose(f);
	return threads;
}

static int proc_liveness(pid_t pid, uint64_t start)
{
	uint64_t st;
	char state;
	int rc;

	if (pid <= 0)
		return DEAD; /* no process has PID 0: a damaged record */
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return DEAD;
	rc = proc_stat(pid, &state, &st);
	if (rc == -ENOENT)
		return kill(pid, 0) < 0 && errno == ESRCH ? DEAD : ALIVE;
	if (rc < 0)
		return ALIVE;
	/* Exited but not yet reaped: it will never free. Unless only its
	 * main thread ended (pthread_exit()) and others go on: /proc shows
	 * the leader as a zombie then too. */
	if ((state == 'Z' || state == 'X') && proc_threads(pid) <= 1)
		return DEAD;
	/* A record made without /proc has start 0: PID-only identity. */
	return start == 0 || st == start ? ALIVE : DEAD;
}

/* A small cache for one recovery pass: many slots share few owners. */
struct liveness_cache {
	uint64_t rec[64];
	uint8_t alive[64];
};

static bool owner_alive(struct liveness_cache *c, uint64_t rec)
{
	uint64_t id = rec & ~SHPOOL_OWNER_TAG_MASK;
	unsigned h = (unsigned)((id * 0x9E3779B97F4A7C15ull) >> 58);

	if (id == (shpool_self() & ~SHPOOL_OWNER_TAG_MASK))
		return true;
	if (c->rec[h] != id) {
		c->rec[h] = id;
		c->alive[h] = proc_liveness(shpool_owner_pid(id),
					    id >> SHPOOL_OWNER_START_SHIFT) == ALIVE;
	}
	return c->alive[h];
}

/* Finish whatever a dead process left in slot idx's record. Returns 1 if an
 * allocated slot was freed, 0 if only a stuck claim was released, -1 if the
 * record changed under us (a live process acted first: leave it). */
static int recover_slot(struct shpool *p, uint64_t idx, uint64_t rec)
{
	uint64_t mine = shpool_self() | SHPOOL_OWNER_FREEING;

	/* seq_cst: take the record over, tagged with us, so a racing
	 * shpool_free() or recovery acts at most once, and a recovery that
	 * dies here is itself finished by the next. */
	if (!atomic_compare_exchange_strong(&p->owner[idx], &rec, mine))
		return -1;
	SHPOOL_CRASH_POINT("recover.tagged");
	/* Clears the bit if set, then the record (release). */
	if (shpool_bit_clear(p, idx))
		return 1;
	/* Bit already clear: a claim that never set it, or a free that died
	 * before clearing the record. seq_cst: as in free_bits(). */
	atomic_store(&p->owner[idx], 0);
	return 0;
}

/* Take dead processes' counts back out of `waiters` and free their
 * registry entries (the registry is described in shpool-internal.h). */
static void recover_waiters(struct shpool *p, struct liveness_cache *cache)
{
	struct shpool_waitreg *r = p->st->waitreg;
	uint64_t mine = shpool_self() | SHPOOL_OWNER_FREEING;

	for (unsigned i = 0; i < SHPOOL_WAITREG; i++) {
		/* A dead process's entry, or one a dead recovery had tagged. */
		uint64_t who = atomic_load(&r[i].who);
		uint32_t n, w;

		if (who == 0 || owner_alive(cache, who))
			continue;
		SHPOOL_CRASH_POINT("recover.waiter_seen");
		/* seq_cst: take the entry over, tagged with us, before its
		 * count: otherwise a racing recovery could free it and a live
		 * process claim it between our look and our exchange, and we
		 * would take the live count. Tagged, it matches no process,
		 * and a recovery that dies is finished by the next. */
		if (!atomic_compare_exchange_strong(&r[i].who, &who, mine))
			continue;
		n = atomic_exchange(&r[i].count, 0);
		/* A death here leaves `waiters` too high: spare wake-ups. */
		SHPOOL_CRASH_POINT("recover.waiters_taken");
		/* Never below 0: a scribbled count must not take live
		 * waiters out as well (wake() would then skip them). */
		w = atomic_load(&p->st->waiters);
		while (n && !atomic_compare_exchange_weak(&p->st->waiters, &w, w - (n < w ? n : w)))
			;
		/* seq_cst: the entry is free for another process. */
		atomic_store(&r[i].who, 0);
	}
}

int64_t shpool_recover_stale(shpool_t *p)
{
	struct liveness_cache cache = { { 0 }, { 0 } };
	uint64_t freed = 0, released = 0;

	SHPOOL_CHECK_HANDLE(p);
	SHPOOL_CHECK_WRITABLE(p);
	for (uint64_t idx = 0; idx < p->g.capacity; idx++) {
		/* acquire: pairs with the claim CAS, so we act on the record
		 * of the state we then change. */
		uint64_t rec = atomic_load_explicit(&p->owner[idx], memory_order_acquire);
		int r;

		if (rec == 0 || owner_alive(&cache, rec))
			continue;
		r = recover_slot(p, idx, rec);
		freed += r == 1;
		released += r == 0;
	}
	/* A death between filling or emptying a word and its summary bit
	 * leaves a wrong hint; this is where it gets fixed. */
	shpool_summary_repair(p);
	recover_waiters(p, &cache);
	/* Wake every blocked allocator, whatever we freed: a process killed
	 * after its free's stores but before its wake-up, or woken by a free
	 * and killed before it claimed, left room that only a wake-up from
	 * here can show the others. Those who find nothing sleep again. The
	 * seq_cst stores and RMWs above come before wake()'s load of
	 * `waiters`, as on the free path. */
	shpool_wake(p, UINT64_MAX);
	if (freed + released)
		shpool_notify_freed(p, freed + released);
	/* Counted after the wake-up, as on the free path (alloc.c). */
	if (freed)
		shpool_stat_add(p, SHPOOL_STAT_RECOVERIES, freed);
	return (int64_t)freed;
}

int shpool_reset(shpool_t *p)
{
	uint64_t freed = 0;

	SHPOOL_CHECK_HANDLE(p);
	SHPOOL_CHECK_WRITABLE(p);
	/* The caller guarantees nobody else allocates or frees now; relaxed
	 * stores, ordered by the fence below. The slots freed are counted
	 * (reset_frees), so that allocs - frees - recoveries - reset_frees
	 * stays equal to used. */
	for (uint64_t w = 0; w < p->g.nwords[0]; w++)
		freed += (uint64_t)__builtin_popcountll(
			atomic_exchange_explicit(shpool_l0(p, w), 0, memory_order_relaxed) &
			shpool_full_mask(p, 0, w));
	for (uint32_t l = 1; l < p->g.nlevels; l++)
		for (uint64_t w = 0; w < p->g.nwords[l]; w++)
			atomic_store_explicit(&p->level[l][w], 0, memory_order_relaxed);
	for (uint64_t i = 0; i < p->g.capacity; i++)
		atomic_store_explicit(&p->owner[i], 0, memory_order_relaxed);
	/* seq_cst fence: the stores above come before wake()'s load of
	 * `waiters`, the store-load order a blocked allocator relies on (as
	 * the free path's seq_cst stores give it; see wake() in alloc.c). */
	atomic_thread_fence(memory_order_seq_cst);
	/* Every blocked allocator, not capacity many: each searches again and
	 * those that find no room sleep again. */
	shpool_wake(p, UINT64_MAX);
	shpool_notify_freed(p, p->g.capacity);
	shpool_stat_add(p, SHPOOL_STAT_RESET_FREES, freed);
	return 0;
}

/* ---- processes that live on without the pool ---------------------------
 *
 * execve(2) keeps a process's PID and start time, so its owner records and
 * its waiter registry entry still name a live process, whose new image knows
 * nothing of them: recovery rightly leaves a live owner's slots alone (it
 * cannot tell an exec from a process that closed its handle and will free
 * by another, or has handed the slot on), so they stay held until that
 * process exits. shpool_check() reports them, where /proc lets it see the
 * process's mappings: an owner that maps no part of this segment.
 */

/* The segment's identity in /proc/PID/maps: device and inode of the file,
 * memfd or shared anonymous object behind it. */
struct segment_id {
	unsigned long major, minor;
	unsigned long long ino;
};

/* Read one maps line's start address, device and inode. */
static bool maps_line(const char *line, uintptr_t *start, struct segment_id *id)
{
	unsigned long long lo, off;

	return sscanf(line, "%llx-%*x %*4s %llx %lx:%lx %llu", &lo, &off, &id->major,
		      &id->minor, &id->ino) == 5 &&
	       (*start = (uintptr_t)lo, true);
}

/* This process's mapping of p: its segment identity. false if unknown. */
static bool segment_of(const struct shpool *p, struct segment_id *id)
{
	char line[512];
	uintptr_t start;
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = maps_line(line, &start, id) && start == (uintptr_t)p->base && id->ino;
	fclose(f);
	return found;
}

/* Does process pid map the segment? 1 yes, 0 no, -1 cannot tell. */
static int maps_segment(pid_t pid, const struct segment_id *seg)
{
	char path[64], line[512];
	struct segment_id id;
	uintptr_t start;
	bool any = false;
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f)) {
		any = true;
		found = maps_line(line, &start, &id) && id.ino == seg->ino &&
			id.major == seg->major && id.minor == seg->minor;
	}
	/* A line longer than the buffer is read on as another "line": its
	 * tail does not parse as a mapping, so it cannot match. */
	fclose(f);
	/* Empty: the file of a process whose main thread has exited while
	 * others go on (it reads the leader's address space, which is gone),
	 * or of a kernel thread. It cannot tell. */
	return found ? 1 : any ? 0 : -1;
}

/* A small per-call cache: is this live owner without a mapping of p? */
struct unmapped_cache {
	bool known;            /* seg is valid */
	struct segment_id seg;
	pid_t pid[16];
	int8_t unmapped[16];   /* 1 unmapped, 0 maps it or cannot tell */
};

static bool owner_unmapped(const struct shpool *p, struct unmapped_cache *c, uint64_t rec)
{
	pid_t pid = shpool_owner_pid(rec);
	unsigned h = (unsigned)pid % 16;

	if (pid == shpool_owner_pid(shpool_self()))
		return false;
	if (!c->known) {
		if (!segment_of(p, &c->seg))
			return false;
		c->known = true;
	}
	if (c->pid[h] != pid) {
		c->pid[h] = pid;
		c->unmapped[h] = maps_segment(pid, &c->seg) == 0;
	}
	return c->unmapped[h];
}

/* ---- consistency check ------------------------------------------------ */

int shpool_check(shpool_t *p, FILE *report)
{
	struct liveness_cache cache = { { 0 }, { 0 } };
	struct unmapped_cache unmapped = { 0 };
	uint64_t problems, bits = 0;

	SHPOOL_CHECK_HANDLE(p);
	problems = shpool_summary_audit(p, report);
	for (uint64_t idx = 0; idx < p->g.capacity; idx++) {
		/* The bit first, then the record: an allocation sets them in the
		 * other order, so one that lands between our loads cannot look
		 * like a bit without a record. (The check is exact on a quiet
		 * pool; under traffic it may report steps in progress.) */
		bool bit = atomic_load(shpool_l0(p, idx >> p->g.word_shift)) &
			   shpool_bit_of(p, idx);
		uint64_t rec = atomic_load(&p->owner[idx]);
		const char *what = NULL;

		bits += bit;
		if (bit && rec == 0)
			what = "allocated but has no owner record";
		else if (rec && !owner_alive(&cache, rec))
			what = (rec & SHPOOL_OWNER_FREEING) ? "being freed by a dead process"
			       : bit ? "held by a dead process" : "claimed by a dead process";
		else if (rec && !bit && !(rec & SHPOOL_OWNER_FREEING))
			what = "claim in progress (owner record without its bit)";
		else if (rec && owner_unmapped(p, &unmapped, rec))
			what = "held by a live process that no longer maps this pool (it exec'd, "
			       "or closed every handle: recovery leaves it until that process exits)";
		if (!what)
			continue;
		problems++;
		if (report)
			fprintf(report, "slot %" PRIu64 ": %s (owner record pid %d%s)\n", idx, what,
				(int)shpool_owner_pid(rec),
				(rec & SHPOOL_OWNER_FREEING) ? ", freeing" : "");
	}
	for (unsigned i = 0; i < SHPOOL_WAITREG; i++) {
		uint64_t who = atomic_load(&p->st->waitreg[i].who);
		uint32_t n = atomic_load(&p->st->waitreg[i].count);

		bool dead;

		if (who == 0 || n == 0)
			continue;
		dead = !owner_alive(&cache, who);
		if (!dead && !owner_unmapped(p, &unmapped, who))
			continue;
		problems++;
		if (report)
			fprintf(report, "waiters: %" PRIu32 " counted for %s (pid %d)%s\n", n,
				dead ? "a dead process" : "a live process that no longer maps this pool",
				(int)shpool_owner_pid(who),
				dead ? "" : " (it exec'd while waiting: every free pays a wake-up until "
				"that process exits)");
	}
	if (report)
		fprintf(report, "%" PRIu64 " of %" PRIu64 " slots allocated, %" PRIu64
			" problem%s%s\n", bits, p->g.capacity, problems, problems == 1 ? "" : "s",
			problems ? " (shpool_recover_stale repairs those left by dead processes)" : "");
	return problems > INT_MAX ? INT_MAX : (int)problems;
}

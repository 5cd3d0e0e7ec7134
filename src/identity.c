/* SPDX-License-Identifier: MIT */
/*
 * Who is who: owner records (this process's identity), the statistics
 * stripes' thread identities, and whether the process or thread a record
 * names is alive, read from /proc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

static int proc_stat_at(const char *path, char *state, uint64_t *start)
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
	rc = proc_stat_at(path, state, start);
	*start &= (UINT64_C(1) << START_BITS) - 1;
	return rc;
}

static uint64_t make_record(pid_t pid, uint64_t start)
{
	return ((uint64_t)pid & SHPOOL_OWNER_PID_MASK) | (start << SHPOOL_OWNER_START_SHIFT);
}

uint64_t shpool_self_slow(void)
{
	uint64_t rec, start = 0;
	char state;
	pid_t pid;

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

bool shpool_owner_alive(struct shpool_liveness *c, uint64_t rec)
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

/* ---- thread identity -------------------------------------------------- */

#define ID_PID_BITS 22 /* pid_max is at most 2^22 */
#define ID_MASK ((UINT64_C(1) << ID_PID_BITS) - 1)
#define ID_START_SHIFT (2 * ID_PID_BITS)
#define ID_START_BITS 19
#define ID_START_KNOWN (UINT64_C(1) << 63)

/* /proc/PID/task/TID/stat: the thread's state letter and start time (as
 * the owner records', namespace-proof). -errno if unreadable. */
static int task_stat(pid_t pid, pid_t tid, char *state, uint64_t *start)
{
	char path[96];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	return proc_stat_at(path, state, start);
}

static uint64_t make_id(pid_t pid, pid_t tid, int have_start, uint64_t start)
{
	uint64_t id = ((uint64_t)tid & ID_MASK) | (((uint64_t)pid & ID_MASK) << ID_PID_BITS);

	if (have_start)
		id |= ID_START_KNOWN |
		      ((start & ((UINT64_C(1) << ID_START_BITS) - 1)) << ID_START_SHIFT);
	return id;
}

static uint64_t thread_id_now(void)
{
	pid_t pid = shpool_owner_pid(shpool_self()), tid = (pid_t)syscall(SYS_gettid);
	uint64_t start = 0;
	char state;
	int have_start = task_stat(pid, tid, &state, &start) == 0;

	return make_id(pid, tid, have_start, start);
}

/* This thread's identity: never 0 (a TID is never 0). Computed once per
 * thread, not at each miss of the stripe cache (it reads /proc). 0 until
 * computed (again in a fork child). */
static _Thread_local uint64_t my_id;

uint64_t shpool_thread_id(void)
{
	if (!my_id)
		my_id = thread_id_now();
	return my_id;
}

/* Is the owner of stripe identity `id` gone for good? When /proc cannot
 * tell, no: a stripe is then never taken from a live thread (it may stay
 * claimed by a dead one, and later threads use the overflow stripe). */
bool shpool_thread_gone(uint64_t id)
{
	pid_t tid = (pid_t)(id & ID_MASK), pid = (pid_t)((id >> ID_PID_BITS) & ID_MASK);
	uint64_t start;
	char path[64], state;
	struct stat sb;
	int rc;

	if (pid <= 0 || tid <= 0)
		return true; /* no thread has TID 0: a damaged word */
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true; /* its whole process is gone */
	rc = task_stat(pid, tid, &state, &start);
	if (rc == -ENOENT) {
		/* Gone from a process we can see (and not hidden by hidepid,
		 * which hides /proc/PID as a whole). */
		snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
		return stat(path, &sb) == 0;
	}
	if (rc < 0)
		return false;
	/* A zombie thread (an exited leader, or a dead process not yet
	 * reaped) never runs again. */
	if (state == 'Z' || state == 'X')
		return true;
	if (!(id & ID_START_KNOWN))
		return false;
	/* Another thread with a recycled TID (or PID). */
	return ((start ^ (id >> ID_START_SHIFT)) & ((UINT64_C(1) << ID_START_BITS) - 1)) != 0;
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

/* Read one maps line's start address, device and inode. */
static bool maps_line(const char *line, uintptr_t *start, struct shpool_segment_id *id)
{
	unsigned long long lo, off;

	return sscanf(line, "%llx-%*x %*4s %llx %lx:%lx %llu", &lo, &off, &id->major,
		      &id->minor, &id->ino) == 5 &&
	       (*start = (uintptr_t)lo, true);
}

/* This process's mapping of p: its segment identity. false if unknown. */
static bool segment_of(const struct shpool *p, struct shpool_segment_id *id)
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
static int maps_segment(pid_t pid, const struct shpool_segment_id *seg)
{
	char path[64], line[512];
	struct shpool_segment_id id;
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

bool shpool_owner_unmapped(const struct shpool *p, struct shpool_unmapped *c, uint64_t rec)
{
	pid_t pid = shpool_owner_pid(rec);
	unsigned h = (unsigned)pid % SHPOOL_UNMAPPED_CACHE;

	if (pid <= 0 || pid == shpool_owner_pid(shpool_self()))
		return false;
	if (c->known == 0)
		c->known = segment_of(p, &c->seg) ? 1 : -1;
	if (c->known < 0)
		return false;
	for (unsigned i = 0; i < SHPOOL_UNMAPPED_CACHE; i++, h = (h + 1) % SHPOOL_UNMAPPED_CACHE) {
		if (c->pid[h] == pid)
			return c->unmapped[h];
		if (c->pid[h] == 0) {
			c->pid[h] = pid;
			c->unmapped[h] = maps_segment(pid, &c->seg) == 0;
			return c->unmapped[h];
		}
	}
	/* More distinct live owners than the table holds: ask, uncached. */
	return maps_segment(pid, &c->seg) == 0;
}

static void after_fork_child(void)
{
	/* Runs in the child's only thread: its record, its thread identity
	 * and its search seed must differ from the parent's, and it may live
	 * in another time namespace (a child of unshare(CLONE_NEWTIME)). */
	atomic_store_explicit(&shpool_self_record, 0, memory_order_relaxed);
	shpool_seed = 0;
	my_id = 0;
	atomic_store_explicit(&boottime_offset_ticks, TIMENS_UNKNOWN, memory_order_relaxed);
}

static void __attribute__((constructor)) register_fork_handler(void)
{
	pthread_atfork(NULL, NULL, after_fork_child);
}

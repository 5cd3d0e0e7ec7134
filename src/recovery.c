/* SPDX-License-Identifier: MIT */
/* Recovery: freeing what dead processes left (recover_stale), starting
 * over (reset), and the consistency check. Who is alive is identity.c's
 * to say. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shpool-internal.h"

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
static void recover_waiters(struct shpool *p, struct shpool_liveness *cache)
{
	struct shpool_waitreg *r = p->st->waitreg;
	uint64_t mine = shpool_self() | SHPOOL_OWNER_FREEING;

	for (unsigned i = 0; i < SHPOOL_WAITREG; i++) {
		/* A dead process's entry, or one a dead recovery had tagged. */
		uint64_t who = atomic_load(&r[i].who);
		uint32_t n, w;

		if (who == 0 || shpool_owner_alive(cache, who))
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
		 * waiters out as well (shpool_wake() would then skip them). */
		w = atomic_load(&p->st->waiters);
		while (n && !atomic_compare_exchange_weak(&p->st->waiters, &w, w - (n < w ? n : w)))
			;
		/* seq_cst: the entry is free for another process. */
		atomic_store(&r[i].who, 0);
	}
}

int64_t shpool_recover_stale(shpool_t *p)
{
	struct shpool_liveness cache = { { 0 }, { 0 } };
	uint64_t freed = 0, released = 0;

	SHPOOL_CHECK_HANDLE(p);
	SHPOOL_CHECK_WRITABLE(p);
	for (uint64_t idx = 0; idx < p->g.capacity; idx++) {
		/* acquire: pairs with the claim CAS, so we act on the record
		 * of the state we then change. */
		uint64_t rec = atomic_load_explicit(&p->owner[idx], memory_order_acquire);
		int r;

		if (rec == 0 || shpool_owner_alive(&cache, rec))
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
	 * seq_cst stores and RMWs above come before shpool_wake()'s load of
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
	/* The caller guarantees nobody else allocates or frees now: relaxed
	 * stores, ordered by the fence below. The slots freed are counted
	 * (reset_frees), so that allocs - frees - recoveries - reset_frees
	 * stays equal to used. */
	freed = shpool_bitmap_reset(p);
	for (uint64_t i = 0; i < p->g.capacity; i++)
		atomic_store_explicit(&p->owner[i], 0, memory_order_relaxed);
	/* seq_cst fence: the stores above come before shpool_wake()'s load
	 * of `waiters`, the store-load order a blocked allocator relies on (as
	 * the free path's seq_cst stores give it). */
	atomic_thread_fence(memory_order_seq_cst);
	/* Every blocked allocator, not capacity many: each searches again and
	 * those that find no room sleep again. */
	shpool_wake(p, UINT64_MAX);
	shpool_notify_freed(p, p->g.capacity);
	shpool_stat_add(p, SHPOOL_STAT_RESET_FREES, freed);
	return 0;
}

/* ---- consistency check ------------------------------------------------ */

int shpool_check(shpool_t *p, FILE *report)
{
	struct shpool_liveness cache = { { 0 }, { 0 } };
	struct shpool_unmapped unmapped = { 0 };
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
		else if (rec && !shpool_owner_alive(&cache, rec))
			what = (rec & SHPOOL_OWNER_FREEING) ? "being freed by a dead process"
			       : bit ? "held by a dead process" : "claimed by a dead process";
		else if (rec && !bit && !(rec & SHPOOL_OWNER_FREEING))
			what = "claim in progress (owner record without its bit)";
		else if (rec && shpool_owner_unmapped(p, &unmapped, rec) &&
			 /* still held: not freed while we read /proc */
			 atomic_load(&p->owner[idx]) == rec)
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
		dead = !shpool_owner_alive(&cache, who);
		if (!dead && !shpool_owner_unmapped(p, &unmapped, who))
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

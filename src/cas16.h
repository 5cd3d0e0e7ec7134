/* SPDX-License-Identifier: MIT */
/* Two owner records claimed with one 16-byte CAS (alloc.c's batches). A
 * private header: one instruction, inlined where it is used. */
#ifndef SHPOOL_CAS16_H
#define SHPOOL_CAS16_H

#include "shpool-internal.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

/* ThreadSanitizer cannot see into inline assembly, so it would miss the
 * acquire the pair claim performs and report the claimant's zeroing as a
 * race with the previous owner's use: its builds claim one by one. */
#if defined(__SANITIZE_THREAD__)
#define SHPOOL_NO_CAS16 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHPOOL_NO_CAS16 1
#endif
#endif

#if defined(__x86_64__) && !defined(SHPOOL_NO_CAS16)
/* x86-64's baseline does not promise cmpxchg16b (the first AMD64 CPUs lack
 * it): ask CPUID once. 1 yes, 0 no, -1 not asked yet; relaxed, as every
 * thread that asks gets the same answer. */
static _Atomic int have_cas16 = -1; /* one per file that includes this: alloc.c */

static bool cas16_supported(void)
{
	int v = atomic_load_explicit(&have_cas16, memory_order_relaxed);

	if (__builtin_expect(v < 0, 0)) {
		unsigned a, b, c, d;

		v = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_CMPXCHG16B);
		atomic_store_explicit(&have_cas16, v, memory_order_relaxed);
	}
	return v;
}
#endif

/* A batch claims two neighbouring slots' owner records with one 16-byte
 * CAS where the machine has one (x86-64's cmpxchg16b: one locked
 * instruction for two records, where two CASes cost two), when the pair is
 * 16-byte aligned. Both records go from 0 to self at once, or neither: the
 * same claim as two CASes, minus the state between them. false when not
 * both were 0 (the caller then claims them one by one) or when there is no
 * such instruction. seq_cst like the single CAS (a locked instruction). */
static inline bool shpool_claim_pair(struct shpool *p, uint64_t idx, uint64_t self)
{
#if defined(__x86_64__) && !defined(SHPOOL_NO_CAS16)
	_Atomic uint64_t *rec = &p->owner[idx];
	uint64_t lo = 0, hi = 0;
	bool ok;

	if (((uintptr_t)rec & 15) || !cas16_supported())
		return false;
	SHPOOL_COST_RMW(rec);
	__asm__ __volatile__("lock cmpxchg16b %1"
			     : "=@ccz"(ok), "+m"(*(unsigned __int128 *)(void *)rec), "+a"(lo),
			       "+d"(hi)
			     : "b"(self), "c"(self)
			     : "memory");
	return ok;
#else
	(void)p;
	(void)idx;
	(void)self;
	return false;
#endif
}

#endif /* SHPOOL_CAS16_H */

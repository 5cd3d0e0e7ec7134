/* SPDX-License-Identifier: MIT */
/*
 * The cost-model build (bench/cost.c, `make bench`): force-included before
 * every library source, it re-defines <stdatomic.h>'s operations so that
 * each one also reports itself. An atomic read-modify-write, a seq_cst
 * store (an xchg on x86) and a seq_cst fence (an mfence) count as one RMW
 * each; every atomic access, and every slot a slot-zeroing touches, names
 * its cache line. The bench turns these into "atomic RMWs and distinct
 * shared cache lines per operation", so that a change that adds either
 * shows up as a number, not as noise. Never part of the installed library.
 */
#ifndef SHPOOL_COST_ATOMICS_H
#define SHPOOL_COST_ATOMICS_H

/* Force-included before the source's own first line: its _GNU_SOURCE would
 * come too late for the libc headers that clang's <stdatomic.h> pulls in.
 * Defined empty, as the sources define it, so theirs is no redefinition. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdatomic.h>

void shpool_cost_rmw(const volatile void *addr);
void shpool_cost_touch(const volatile void *addr);

#define COST_RMW_(p) shpool_cost_rmw((const volatile void *)(p))
#define COST_TOUCH_(p) shpool_cost_touch((const volatile void *)(p))
#define COST_ORDERED_(p, mo) \
	((mo) == memory_order_seq_cst ? COST_RMW_(p) : COST_TOUCH_(p))

/* gcc's __atomic builtins take _Atomic objects; clang wants its own. */
#ifdef __clang__
#define COST_FETCH_(op, p, v, mo) __c11_atomic_fetch_##op(p, v, mo)
#define COST_XCHG_(p, v, mo) __c11_atomic_exchange(p, v, mo)
#define COST_CAS_(p, e, d, s, f) __c11_atomic_compare_exchange_strong(p, e, d, s, f)
#define COST_LOAD_(p, mo) __c11_atomic_load(p, mo)
#define COST_STORE_(p, v, mo) __c11_atomic_store(p, v, mo)
#else
#define COST_FETCH_(op, p, v, mo) __atomic_fetch_##op(p, v, mo)
#define COST_XCHG_(p, v, mo) __atomic_exchange_n(p, v, mo)
#define COST_CAS_(p, e, d, s, f) __atomic_compare_exchange_n(p, e, d, 0, s, f)
#define COST_LOAD_(p, mo) __atomic_load_n(p, mo)
#define COST_STORE_(p, v, mo) __atomic_store_n(p, v, mo)
#endif

#define COST_RMW_OP_(op, p, v, mo) \
	__extension__({ __auto_type p_ = (p); COST_RMW_(p_); COST_FETCH_(op, p_, v, mo); })

#undef atomic_fetch_add
#undef atomic_fetch_add_explicit
#undef atomic_fetch_sub
#undef atomic_fetch_sub_explicit
#undef atomic_fetch_and
#undef atomic_fetch_and_explicit
#undef atomic_fetch_or
#undef atomic_fetch_or_explicit
#undef atomic_exchange
#undef atomic_exchange_explicit
#undef atomic_compare_exchange_strong
#undef atomic_compare_exchange_strong_explicit
#undef atomic_compare_exchange_weak
#undef atomic_compare_exchange_weak_explicit
#undef atomic_load
#undef atomic_load_explicit
#undef atomic_store
#undef atomic_store_explicit
#undef atomic_thread_fence

#define atomic_fetch_add_explicit(p, v, mo) COST_RMW_OP_(add, p, v, mo)
#define atomic_fetch_sub_explicit(p, v, mo) COST_RMW_OP_(sub, p, v, mo)
#define atomic_fetch_and_explicit(p, v, mo) COST_RMW_OP_(and, p, v, mo)
#define atomic_fetch_or_explicit(p, v, mo) COST_RMW_OP_(or, p, v, mo)
#define atomic_exchange_explicit(p, v, mo) \
	__extension__({ __auto_type p_ = (p); COST_RMW_(p_); COST_XCHG_(p_, v, mo); })
#define atomic_fetch_add(p, v) atomic_fetch_add_explicit(p, v, memory_order_seq_cst)
#define atomic_fetch_sub(p, v) atomic_fetch_sub_explicit(p, v, memory_order_seq_cst)
#define atomic_fetch_and(p, v) atomic_fetch_and_explicit(p, v, memory_order_seq_cst)
#define atomic_fetch_or(p, v) atomic_fetch_or_explicit(p, v, memory_order_seq_cst)
#define atomic_exchange(p, v) atomic_exchange_explicit(p, v, memory_order_seq_cst)

/* A weak CAS is counted and performed as a strong one: the model counts
 * RMWs, and a spurious failure would only add one. */
#define atomic_compare_exchange_strong_explicit(p, e, d, s, f) \
	__extension__({ __auto_type p_ = (p); COST_RMW_(p_); COST_CAS_(p_, e, d, s, f); })
#define atomic_compare_exchange_weak_explicit atomic_compare_exchange_strong_explicit
#define atomic_compare_exchange_strong(p, e, d) \
	atomic_compare_exchange_strong_explicit(p, e, d, memory_order_seq_cst, memory_order_seq_cst)
#define atomic_compare_exchange_weak atomic_compare_exchange_strong

#define atomic_load_explicit(p, mo) \
	__extension__({ __auto_type p_ = (p); COST_TOUCH_(p_); COST_LOAD_(p_, mo); })
#define atomic_load(p) atomic_load_explicit(p, memory_order_seq_cst)
#define atomic_store_explicit(p, v, mo) \
	__extension__({ __auto_type p_ = (p); COST_ORDERED_(p_, mo); COST_STORE_(p_, v, mo); })
#define atomic_store(p, v) atomic_store_explicit(p, v, memory_order_seq_cst)

/* Only a seq_cst fence costs an RMW's price (mfence); the others are free
 * on x86. Its cache line is nobody's: NULL. */
#define atomic_thread_fence(mo) \
	__extension__({ if ((mo) == memory_order_seq_cst) COST_RMW_(0); __atomic_thread_fence(mo); })

/* A slot's data line, when the allocator zeroes it (alloc.c), and an RMW
 * written in assembly (alloc.c's 16-byte CAS). */
#define SHPOOL_COST_TOUCH(addr) COST_TOUCH_(addr)
#define SHPOOL_COST_RMW(addr) COST_RMW_(addr)

#endif

/* SPDX-License-Identifier: MIT */
/*
 * A Promela model of libshpool's allocation / wake-up protocol (the
 * allocator and the recovery code in src/) for the Spin model checker. See
 * model/README for what is modelled, what is abstracted, the bounds and how
 * to run it; model/check.sh runs every (scenario, variant, property)
 * combination.
 *
 * Citations: a step names the C function it stands for, written with its
 * parentheses, and the crash point of the C code at the same place
 * (SHPOOL_CRASH_POINT) in double quotes; never a file or a line number.
 * model/check-refs.pl, which model/check.sh runs first, fails when a cited
 * function or crash point no longer exists in src/.
 *
 * Compile-time switches (spin -a -DNAME shpool.pml):
 *   scenario:  SCEN_FULL | SCEN_RECOV | SCEN_WOKEN | SCEN_BATCH | SCEN_MIX
 *              | SCEN_STALE | SCEN_PAIR
 *   property:  LIVE adds the LTL liveness claim (run pan -a);
 *              without it: safety (asserts, run pan), or with pan -l
 *              (compiled -DNP) the non-progress-cycle check.
 *   variant:   none = the FIXED protocol; each OLD_* reverts one fix:
 *              OLD_MARK_FULL      shpool_summary_mark_full() undo does not wake
 *              OLD_RECOVERY_WAKE  shpool_recover_stale() wakes only
 *                                 freed+released
 *              OLD_BATCH_WAKE     a batch claims without counting first
 *              and one that the code never had (this model, before issue
 *              28, counted so), showing why a waiter counts claimable slots:
 *              WAIT_COUNTS_BITS   a waiting batch's room_for() counts clear
 *                                 bits, not bits clear with owner record 0
 *
 * Granularity: every statement that touches shared state is one atomic step
 * and corresponds to one atomic instruction (load, store, CAS, RMW) or one
 * FUTEX_WAIT / FUTEX_WAKE system call of the C code; purely local
 * computation is folded into that step. A SIGKILL can fall before any such
 * step of a client, while it sleeps, or after it finished (KP below: an
 * explicit choice at each step, not an `unless' escape, which would defeat
 * Spin's partial order reduction).
 *
 * Bounds: 2 L0 words of 2 slots each (capacity 4), one summary word with 2
 * bits (nlevels = 2, so shpool_find_word() is one load of the top word), 2 or 3
 * client processes, at most one SIGKILL, one recoverer. Why this suffices
 * for the defects is argued per scenario below and in model/README.
 */

/* ---- geometry ------------------------------------------------------- */
#define NW      2               /* L0 bitmap words */
#define WB      2               /* slots per word */
#define NS      4               /* capacity */
#define FULLW   3               /* shpool_full_mask() of an L0 word */
#define FULLS   3               /* shpool_full_mask() of the summary word */
#define NC      3               /* client slots in the arrays */
#define RID     3               /* the recoverer's process id */
#define FREEING 8               /* SHPOOL_OWNER_FREEING tag */
#define NOSLOT  255
#define NONE    255             /* shpool_find_word(): the summary says all full */
#define ALL     255             /* shpool_wake() of UINT64_MAX */
#define EAGAIN  1
#ifndef MAXROUNDS
#define MAXROUNDS 3             /* claim() in C: 2*nwords[0] + 8*nlevels + 16; see README */
#endif
#ifndef CRASH
#define CRASH   7               /* clients that may be SIGKILLed (bit mask) */
#endif
#ifndef SEQMAX
#define SEQMAX  16              /* wake_seq bound, see bump_seq */
#endif

#define LOW2(x)   (((x) & 1) -> 0 : 1)
#define LOW4(x)   (((x) & 1) -> 0 : (((x) & 2) -> 1 : (((x) & 4) -> 2 : 3)))
#define POP2(x)   (((x) & 1) + (((x) >> 1) & 1))
#define BIT(s)    ((l0[(s) / WB] >> ((s) % WB)) & 1)
/* A slot anyone could claim now: bit clear and owner record 0. */
#define CLAIMABLE(s) (BIT(s) == 0 && owner[s] == 0)
#define NFREE     (CLAIMABLE(0) + CLAIMABLE(1) + CLAIMABLE(2) + CLAIMABLE(3))

/* ---- shared state (struct shpool_state, the bitmap, owner records) --- */
byte l0[NW];            /* level 0: bit set = slot allocated */
byte summ;              /* level 1: bit w set = L0 word w full (a hint) */
byte owner[NS];         /* 0 free; p+1 claimed by client p; |FREEING tagged */
byte waiters;           /* st->waiters */
byte wake_seq;          /* st->wake_seq, the futex word */
byte reg[NC];           /* waitreg[]: entry of client p, its count */
/* the kernel's futex queue on wake_seq: asleep[p] = p is enqueued */
bool asleep[NC];
bool dead[NC];          /* SIGKILLed */
byte ncrash;            /* kills so far (at most one) */

/* ---- ghost state, only for the properties ----------------------------- */
byte holder[NS];        /* p+1: slot's bit was set by p's claim, not cleared */
byte want[NC];          /* what client p is allocating (0: not allocating) */
byte ftmp;              /* scratch, used only inside atomic steps */

/* A live client sleeps in FUTEX_WAIT while as many slots as it wants can be
 * claimed: must not last forever (the liveness claim). */
#define STUCK(p)  (asleep[p] && want[p] > 0 && NFREE >= want[p])
#define LOST      (STUCK(0) || STUCK(1) || STUCK(2))

#ifdef LIVE
ltl live { []<> !LOST }
#endif

/* ---- SIGKILL --------------------------------------------------------- */

/* KP: the option "a SIGKILL arrives here", just before the shared-memory
 * step it stands beside. At most one client dies per run; the recoverer
 * (me == RID) never does. */
#define KP :: atomic { ncrash == 0 && me < NC && ((CRASH >> me) & 1) -> ncrash++; goto killed }
/* Only steps that change shared state (and the futex sleep, and the end of
 * the client) carry a KP: a kill just before a load leaves the same shared
 * state as a kill just after it (the dead process's locals are gone), so
 * "killed before any instruction" is covered exactly. In particular every
 * crash point of the C code is a KP here; the comments name them. */

/* ---- futex ------------------------------------------------------------ */

/* shpool_wake_waiters(): the seq_cst fetch_add of wake_seq. The fixed protocol bumps
 * it a bounded number of times in every scenario (the assert proves it),
 * so the model never wraps it and FUTEX_WAIT cannot be fooled by ABA.
 * OLD_BATCH_WAKE, WAIT_COUNTS_BITS and the PAIR scenario bump without
 * bound: there it wraps (a wrap can only make a compare succeed and a
 * waiter sleep, i.e. end a wake-up cycle, never create one). */
inline bump_seq()
{
	if
	:: atomic {
#if defined(OLD_BATCH_WAKE) || defined(WAIT_COUNTS_BITS) || defined(SCEN_PAIR)
		wake_seq = (wake_seq + 1) % SEQMAX
#else
		assert(wake_seq < SEQMAX - 1);
		wake_seq++
#endif
	   }
	KP
	fi
}

/* futex_wake(): FUTEX_WAKE of up to cnt of the enqueued sleepers, any of
 * them (the kernel's order is not ours to rely on). One step: the kernel
 * does it under the futex hash-bucket lock. */
inline futex_wake(cnt)
{
	if
	:: atomic {
		ftmp = cnt;
		do
		:: ftmp > 0 && asleep[0] -> asleep[0] = false; ftmp--
		:: ftmp > 0 && asleep[1] -> asleep[1] = false; ftmp--
		:: ftmp > 0 && asleep[2] -> asleep[2] = false; ftmp--
		:: else -> break
		od;
		ftmp = 0
	   }
	KP
	fi
}

/* shpool_wake(), then shpool_wake_waiters(); ret = 1 if it bumped wake_seq. */
inline wake(cnt, ret)
{
	if
	:: cnt == 0 -> ret = 0
	:: else ->
		if
		:: waiters == 0 -> ret = 0              /* shpool_wake(): seq_cst load of waiters */
		:: waiters != 0 ->
			bump_seq();                     /* shpool_wake_waiters(): bump wake_seq */
			futex_wake(cnt);                /* shpool_wake_waiters(): then wake */
			ret = 1
		fi
	fi
}

/* ---- summary (level 1) ------------------------------------------------ */

/* shpool_summary_mark_room(), one level: the fetch_and of the bit; there is no
 * level above to go on to. */
inline summary_mark_room(c)
{
	if
	:: summ = summ & ~(1 << c)
	KP
	fi
}

/* shpool_summary_mark_full(), one level. */
inline summary_mark_full(c)
{
	if
	:: (summ >> c) & 1 -> skip                      /* the relaxed look first */
	:: ((summ >> c) & 1) == 0 ->
		if
		:: summ = summ | (1 << c)               /* fetch_or */
		KP
		fi;
		/* a kill from here on: crash point "summary.marked" */
		if
		:: l0[c] != FULLW ->                    /* shpool_word_full(): the re-check */
			summary_mark_room(c);           /* the undo */
#ifndef OLD_MARK_FULL
			/* FIX 1: a free that came before our bit may have been
			 * hidden from a waiter by it: wake them all. */
			wake(ALL, wret);
			wret = 0
#endif
		:: l0[c] == FULLW
		fi
	fi
}

/* shpool_find_word() with nlevels == 2: one seq_cst load of the top summary word
 * (the climb ends at once); the next word after `from' with room, else
 * wrapping to the first with room, else NONE. A set bit is trusted (the
 * descent loop, the only place that returns RETRY, is empty with one
 * summary level). */
inline find_word(from)
{
	atomic {
		room = ~summ & FULLS;
		if
		:: from == 0 && (room & 2) -> fw = 1
		:: else ->
			if
			:: room == 0 -> fw = NONE
			:: else -> fw = LOW2(room)
			fi
		fi;
		room = 0
	}
}

/* ---- claiming ----------------------------------------------------------- */

/* claim_in_word(): an owner CAS per free bit, then one fetch_or for all of
 * them. k = how many, seen = the word as read. shpool_claim_pair()'s 16-byte CAS
 * of two neighbouring records is two CASes here (it only removes the state
 * between them, which the model's kill points include). */
inline claim_in_word(w, wk)
{
	atomic { seen = l0[w]; room = ~seen & FULLW; got = 0; k = 0 }    /* seq_cst load */
	do
	:: room != 0 && k < wk ->
		atomic { b = LOW2(room); room = room & (room - 1); idx = w * WB + b };
		if
		:: atomic {                             /* owner CAS 0 -> self */
			if
			:: owner[idx] == 0 ->
				owner[idx] = me + 1;
				got = got | (1 << b);
				outmask = outmask | (1 << idx);
				k++
			:: else
			fi;
			b = 0; idx = 0
		   }
		KP
		fi
	:: else -> break
	od;
	room = 0;
	if
	:: got != 0 ->
		if
		:: atomic {                             /* fetch_or of the bits */
			old = l0[w];
			l0[w] = old | got;
			/* no slot has two owners: the bit was not already set
			 * (claim_damaged() is for scribbled segments only) */
			assert((old & got) == 0);
			assert(!((got & 1) && holder[w * WB] != 0));
			assert(!((got & 2) && holder[w * WB + 1] != 0));
			if :: got & 1 -> holder[w * WB] = me + 1 :: else fi;
			if :: got & 2 -> holder[w * WB + 1] = me + 1 :: else fi;
			old = ((old | got) & FULLW) == FULLW;  /* we filled it */
			got = 0
		   }
		KP              /* before the fetch_or: crash point "alloc.owner_claimed" */
		fi;
		/* a kill from here on: crash point "alloc.bits_set" */
		if
		:: old -> old = 0; summary_mark_full(w)
		:: else
		fi
	:: else
	fi
}

/* claim(): up to `wn' slots from the hint word on; n = how many. The hint
 * ends where the search ended. */
inline claim(wn)
{
	hw = hint;                                      /* hint_word() */
	n = 0;
	rounds = MAXROUNDS;
	do
	:: n < wn && rounds > 0 ->
		rounds--;
		claim_in_word(hw, wn - n);
		n = n + k;
		if
		:: n == wn -> k = 0; seen = 0; break
		:: else
		fi;
		/* lost a race in a word that changed since we read it: look at
		 * it again */
		if
		:: k == 0 && (~seen & FULLW) != 0 ->
			cont = (l0[hw] != seen)
		:: else
		fi;
		k = 0;
		if
		:: cont -> cont = 0; seen = 0
		:: else ->
			if
			:: seen == FULLW -> seen = 0; summary_mark_full(hw) /* stale "has room" */
			:: else -> seen = 0
			fi;
			find_word(hw);
			if
			:: fw == NONE -> fw = 0; break
			:: else -> hw = fw; fw = 0
			fi
		fi
	:: else -> break
	od;
	hint = hw;                                      /* the thread's hint */
	k = 0; seen = 0; rounds = 0; hw = 0
}

/* free_bits() for one slot s (every free in the model is of one slot:
 * shpool_free(), a rollback's or recovery's shpool_bit_clear()). fr = 1 if
 * the bit was set. */
inline free_bits(s, fr)
{
	if
	:: atomic {                                     /* fetch_and of the bit */
		old = l0[s / WB];
		l0[s / WB] = old & ~(1 << (s % WB));
		fr = (old >> (s % WB)) & 1;
		if :: fr -> holder[s] = 0 :: else fi;
		old = (old == FULLW)                    /* the word was full */
	   }
	KP
	fi;
	if
	:: fr ->
		hint = s / WB;                          /* the thread's hint */
		if
		:: owner[s] = 0                         /* seq_cst store of the record */
		KP                                      /* crash point "free.bits_cleared" */
		fi;
		if
		:: old -> old = 0; summary_mark_room(s / WB)
		:: else
		fi
	:: else -> old = 0
	fi
}

/* release_own(): give back an incomplete batch. */
inline release_own()
{
	released = 0;
	do
	:: outmask != 0 ->
		atomic { s = LOW4(outmask); outmask = outmask & ~(1 << s) };
		free_bits(s, r);                        /* shpool_bit_clear() */
		released = released + r;
		s = 0; r = 0
	:: else -> break
	od
}

/* claim_all(): all `wn' slots or none. rc = 0 or EAGAIN. */
inline claim_all(wn)
{
	claim(wn);
	if
	:: n == wn -> n = 0; held = held | outmask; outmask = 0
	:: else ->
		n = 0;
		release_own();
		wake(released, wret);
		bumps = bumps + wret;
		wret = 0; released = 0;
		rc = EAGAIN
	fi
}

#ifdef WAIT_COUNTS_BITS
#define COUNT_CLAIMABLE(waiting) false
#else
#define COUNT_CLAIMABLE(waiting) (waiting)
#endif

/* room_for(): are wn slots free? rc = EAGAIN if not. One seq_cst load per
 * L0 word, from word 0 on; a first attempt (waiting false) adds the word's
 * clear bits, a waiter (waiting true) loads the owner record of each clear
 * bit and counts those that are 0 (claimable: not a claim in progress, nor
 * one a dead claimant left, nor a free that has not cleared its record
 * yet). Stops as soon as it found wn. */
inline room_for(wn, waiting)
{
	do
	:: cw < NW && nfree < wn ->
		atomic {                                /* the word's seq_cst load */
			room = ~l0[cw] & FULLW;
			if
			:: COUNT_CLAIMABLE(waiting) -> skip
			:: else -> nfree = nfree + POP2(room); room = 0
			fi
		}
		do
		:: room != 0 && nfree < wn ->
			atomic {                        /* a record's seq_cst load */
				b = LOW2(room);
				room = room & (room - 1);
				if
				:: owner[cw * WB + b] == 0 -> nfree++
				:: else
				fi;
				b = 0
			}
		:: else -> room = 0; break
		od;
		cw++
	:: else -> break
	od;
	if
	:: nfree < wn -> rc = EAGAIN
	:: else
	fi;
	nfree = 0; cw = 0
}

/* claim_all_if_room(): a batch claims only if room_for() (after the
 * caller read wake_seq) says it can be served. */
inline claim_all_if_room(wn, waiting)
{
	rc = 0;
#ifndef OLD_BATCH_WAKE
	/* FIX 4: a batch first counts, and claims nothing if too few are
	 * free. */
	if
	:: wn > 1 -> room_for(wn, waiting)
	:: else
	fi;
#endif
	if
	:: rc == 0 -> claim_all(wn)
	:: else
	fi
}

/* alloc_wait(), no deadline (so no timeout path and its last
 * claim_all_if_room()). */
inline alloc_wait(wn)
{
	do
	::
		bumps = 0; wr = 0;
		if
		:: waiters++                            /* seq_cst fetch_add */
		KP
		fi;
		if
		:: reg[me]++                            /* the entry's count */
		KP                                      /* crash point "wait.counted" */
		fi;
		seq = wake_seq;                         /* seq_cst load */
		claim_all_if_room(wn, true);
		if
		:: rc == EAGAIN ->
			if
			:: atomic {                     /* shpool_futex_wait_until(), no deadline */
				if
				:: wake_seq == seq + bumps -> asleep[me] = true
				:: else -> wr = EAGAIN
				fi;
				seq = 0; bumps = 0
			   }
			KP
			fi;
			if
			:: wr == 0 ->
endsleep:			if
				:: !asleep[me]          /* woken by futex_wake() */
				KP                      /* killed asleep */
				fi
			:: else -> wr = 0
			fi
		:: else -> seq = 0; bumps = 0
		fi;
		if
		:: reg[me]--                            /* out of the registry */
		KP                      /* after a sleep: crash point "wait.woken" */
		fi;
		if
		:: waiters--                            /* then out of waiters */
		KP                                      /* crash point "wait.uncounted" */
		fi;
		if
		:: rc != EAGAIN -> break
		:: else -> rc = 0
		fi
	od
}

/* alloc_slots() */
inline alloc_slots(wn)
{
	bumps = 0;
	claim_all_if_room(wn, false);
	bumps = 0;
	if
	:: rc == EAGAIN -> rc = 0; alloc_wait(wn)
	:: else
	fi
}

/* The client's allocation: shpool_alloc() (its fast path claim_in_word()
 * on the hint word, then alloc_slots()) for one slot, shpool_alloc_n() for
 * more. */
inline client_alloc(wn)
{
	if
	:: wn == 1 ->
		claim_in_word(hint, 1);                 /* the fast path */
		seen = 0;
		if
		:: k == 1 -> k = 0; held = held | outmask; outmask = 0
		:: else -> k = 0; alloc_slots(1)
		fi
	:: else -> alloc_slots(wn)
	fi
}

/* shpool_free() of an own slot: free_one() finds its own record (its load
 * is not a step: our own record), free_bits(), then freed_n(), whose crash
 * point "free.done" is a kill before shpool_wake(). */
inline client_free(s)
{
	held = held & ~(1 << s);
	free_bits(s, r);
	assert(r);
	wake(r, wret);
	r = 0; wret = 0
}

/* ---- processes -------------------------------------------------------- */

/* A client: frees slot `f' (if any), allocates `wn' slots (if any), then
 * frees what it got if `giveback'. It starts holding `held0'. */
proctype Client(byte me; byte f; byte wn; bool giveback; byte held0)
{
	byte hint, hw, seen, room, got, k, b, idx, old, n, fw, rounds, cont;
	byte outmask, held = held0, nfree, cw, released, s, r, wret;
	byte rc, bumps, seq, wr;

	/* the thread's hint: seeded per thread (hint_word()), so any word */
	if :: hint = 0 :: hint = 1 fi;
	if
	:: f != NOSLOT -> client_free(f)
	:: else
	fi;
	if
	:: wn > 0 ->
		client_alloc(wn);
progress_got:	want[me] = 0;
		if
		:: giveback ->
			do
			:: held & ~held0 -> atomic { s = LOW4(held & ~held0) }; client_free(s); s = 0
			:: else -> break
			od
		:: else
		fi
	:: else
	fi;
	/* its locals are dead now: zero them so that finished states
	 * collapse (held is what it keeps; holder[] and owner[] say it) */
	atomic {
		hint = 0; hw = 0; seen = 0; room = 0; got = 0; k = 0; b = 0; idx = 0;
		old = 0; n = 0; fw = 0; rounds = 0; cont = 0; outmask = 0; held = 0;
		nfree = 0; cw = 0; released = 0; s = 0; r = 0; wret = 0; rc = 0;
		bumps = 0; seq = 0; wr = 0
	}
	/* it may die after its work, still holding slots */
	if
	:: skip
	KP
	fi;
	goto out;
killed:
	/* SIGKILL: the kernel takes it off the futex queue; its locals are
	 * gone (zeroed here so that dead states collapse). */
	atomic {
		dead[me] = true; asleep[me] = false;
		hw = 0; seen = 0; room = 0; got = 0; k = 0; b = 0; idx = 0; old = 0;
		n = 0; fw = 0; rounds = 0; hint = 0; cont = 0; outmask = 0; held = 0;
		nfree = 0; cw = 0; released = 0; s = 0; r = 0; wret = 0; rc = 0;
		bumps = 0; seq = 0; wr = 0
	}
out:
	skip
}

/* shpool_owner_alive(): a record's process is alive. */
#define ALIVE(rec)  (((rec) & 7) - 1 == RID || !dead[((rec) & 7) - 1])

/* shpool_recover_stale(), run by a process that does not die, once a
 * client has died (the liveness claims assume that someone runs recovery
 * after a crash; nothing else would free the dead's slots). */
proctype Recoverer()
{
	byte me = RID;
	byte idx, rec, fr, freed, released, c, old, wret, room, nn, hint;

end_idle:
	dead[0] || dead[1] || dead[2];
	/* every slot whose record names a dead process */
	/* The record's load in shpool_recover_stale() and recover_slot()'s
	 * CAS are one step here: a record naming a dead client is written by
	 * nobody but the recoverer (clients free only their own slots in the
	 * model), so the CAS cannot fail and nothing can see the state in
	 * between; a load of a live or 0 record changes nothing. */
	do
	:: idx < NS ->
		atomic {
			rec = owner[idx];
			if
			:: rec != 0 && !ALIVE(rec) ->           /* shpool_owner_alive() */
				owner[idx] = FREEING | (RID + 1)  /* recover_slot(): CAS */
			:: else -> rec = 0
			fi
		}
		if
		:: rec != 0 ->
			/* recover_slot() */
			free_bits(idx, fr);                     /* shpool_bit_clear() */
			if
			:: fr -> freed++
			:: else ->
				owner[idx] = 0;                 /* a stuck claim's record */
				released++
			fi;
			fr = 0
		:: else
		fi;
		rec = 0;
		idx++
	:: else -> idx = 0; break
	od;
	/* shpool_summary_repair(), i.e. summary_walk() with fix */
	do
	:: c < NW ->
		old = (summ >> c) & 1;                  /* the summary bit's load */
		if
		:: (l0[c] == FULLW) != old ->           /* shpool_word_full() */
			if
			:: old -> old = 0; summary_mark_room(c)
			:: else -> summary_mark_full(c)
			fi
		:: else -> old = 0
		fi;
		c++
	:: else -> c = 0; break
	od;
	/* recover_waiters(): dead clients' registry counts out of `waiters'
	 * (the CAS on the entry's `who' is not modelled: one recoverer, and
	 * entry i belongs to client i) */
	do
	:: c < NC ->
		if
		:: dead[c] ->
			atomic { nn = reg[c]; reg[c] = 0 }      /* the count's exchange */
			atomic {                                /* the waiters CAS loop */
				waiters = waiters - ((nn < waiters) -> nn : waiters);
				nn = 0
			}
		:: else
		fi;
		c++
	:: else -> c = 0; break
	od;
#ifdef OLD_RECOVERY_WAKE
	wake(freed + released, wret);
#else
	/* FIX 2+3: whatever it freed, wake every waiter: a free killed
	 * before its shpool_wake(), or a waiter killed after swallowing one, left
	 * sleepers beside free slots. */
	wake(ALL, wret);
#endif
	freed = 0; released = 0; wret = 0;
	goto out;
killed:
	assert(false);
out:
	skip
}
/* STALE starts with a dead claimant's record on slot 2 and runs no
 * recovery: that record stays. */
#ifdef SCEN_STALE
#define STALE_REC(s) ((s) == 2 && owner[2] == 3 && holder[2] == 0)
#else
#define STALE_REC(s) false
#endif

/* When nothing can move any more (every client finished or asleep, the
 * recovery done): the segment agrees with what the live clients hold. */
proctype Quiet()
{
	byte s;

end_idle:
	timeout ->
	atomic {
		do
		:: s < NS ->
			/* used == what live processes hold */
			assert(BIT(s) == (holder[s] != 0));
			assert(holder[s] == 0 || !dead[holder[s] - 1]);
			/* no stuck record: held <=> record names the holder */
			assert(owner[s] == holder[s] || STALE_REC(s));
			s++
		:: else -> break
		od;
		/* no "full" hint on a word with room (hides its slots) */
		assert(!((summ & 1) && l0[0] != FULLW));
		assert(!((summ & 2) && l0[1] != FULLW));
		/* `waiters' never under-counts the sleepers (a death between
		 * its two counts may leave it one too high) */
		assert(waiters >= asleep[0] + asleep[1] + asleep[2]);
		assert(waiters <= asleep[0] + asleep[1] + asleep[2] + 1)
	}
}

/* ---- scenarios -------------------------------------------------------- */

/* Give client p slot s at the start. */
inline hold(p, s)
{
	owner[s] = p + 1;
	holder[s] = p + 1;
	l0[s / WB] = l0[s / WB] | (1 << (s % WB))
}

init {
	atomic {
#if defined(SCEN_FULL)
		/* Defect 1. Word 0 = {F's slot 0, free slot 1}; word 1 full
		 * (W's slots 2, 3). A fills word 0, F frees slot 0, W waits
		 * with its hint on word 1 (so it must trust the summary).
		 * Needs 3 clients and 2 words: one to be filled, one full
		 * beside it for the waiter to look past. */
		hold(1, 0); hold(2, 2); hold(2, 3);
		summ = 2;
		want[0] = 1; want[2] = 1;
		run Client(0, NOSLOT, 1, false, 0);          /* A */
		run Client(1, 0, 0, false, 1);               /* F */
		run Client(2, NOSLOT, 1, false, 12);         /* W */
#elif defined(SCEN_RECOV)
		/* Defect 2. Full pool; F holds slot 0 only (so a recovery
		 * after its death frees nothing), W holds the rest and waits
		 * for one more. F frees slot 0 and may die before shpool_wake(). */
		hold(0, 0); hold(1, 1); hold(1, 2); hold(1, 3);
		summ = 3;
		want[1] = 1;
		run Client(0, 0, 0, false, 1);               /* F */
		run Client(1, NOSLOT, 1, false, 14);         /* W */
#elif defined(SCEN_WOKEN)
		/* Defect 3. Full pool; F frees slot 0, W1 (holds nothing)
		 * and W2 (holds 1..3) wait; futex_wake(1) may pick W1, which
		 * may die before it claims. */
		hold(0, 0); hold(2, 1); hold(2, 2); hold(2, 3);
		summ = 3;
		want[1] = 1; want[2] = 1;
		run Client(0, 0, 0, false, 1);               /* F */
		run Client(1, NOSLOT, 1, false, 0);          /* W1 */
		run Client(2, NOSLOT, 1, false, 14);         /* W2 */
#elif defined(SCEN_BATCH)
		/* Defect 4. B1 holds slot 0, B2 slot 2; each wants 3 more
		 * with 2 free: neither can be served, ever. */
		hold(0, 0); hold(1, 2);
		want[0] = 3; want[1] = 3;
		run Client(0, NOSLOT, 3, false, 1);          /* B1 */
		run Client(1, NOSLOT, 3, false, 4);          /* B2 */
#elif defined(SCEN_MIX)
		/* Traffic that makes fix 4's rollback happen: B allocates 2
		 * and gives them back, T allocates 1 and gives it back, U
		 * holds slots 0 and 3 and frees slot 0. */
		hold(2, 0); hold(2, 3);
		want[0] = 2; want[1] = 1;
		run Client(0, NOSLOT, 2, true, 0);           /* B */
		run Client(1, NOSLOT, 1, true, 0);           /* T */
		run Client(2, 0, 0, false, 9);               /* U */
#elif defined(SCEN_STALE)
		/* Why a waiter counts claimable slots. A process (client
		 * number 2, dead from the start, so nobody else dies) was
		 * killed between its owner CAS on slot 2 and its fetch_or,
		 * and no recovery runs. B1 holds slot 0, B2 slot 1, each
		 * wants 2 more: 2 bits are clear, 1 slot is claimable. */
		hold(0, 0); hold(1, 1);
		owner[2] = 3; dead[2] = true; ncrash = 1;
		summ = 1;
		want[0] = 2; want[1] = 2;
		run Client(0, NOSLOT, 2, false, 1);          /* B1 */
		run Client(1, NOSLOT, 2, false, 2);          /* B2 */
#elif defined(SCEN_PAIR)
		/* A limit of the protocol (see README): B1 holds slot 0, B2
		 * slot 1, each wants both free slots; each fits, not both. */
		hold(0, 0); hold(1, 1);
		summ = 1;
		want[0] = 2; want[1] = 2;
		run Client(0, NOSLOT, 2, false, 1);          /* B1 */
		run Client(1, NOSLOT, 2, false, 2);          /* B2 */
#else
#error "define a scenario: SCEN_FULL, SCEN_RECOV, SCEN_WOKEN, SCEN_BATCH, SCEN_MIX, SCEN_STALE or SCEN_PAIR"
#endif
#ifndef SCEN_STALE
		run Recoverer();
#endif
		run Quiet()
	}
}

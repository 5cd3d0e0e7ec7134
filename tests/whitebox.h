/* SPDX-License-Identifier: MIT */
/* Helpers for the white-box tests: they read the segment's private state
 * (src/shpool-internal.h) to wait for exactly the state they assert. */
#ifndef SHPOOL_WHITEBOX_H
#define SHPOOL_WHITEBOX_H

#include <stdint.h>
#include <sys/types.h>

#include "shpool.h"

/* Waiters counted in the waiter registry: what recovery can take back. */
uint64_t test_registered(shpool_t *p);
/* Poll (yielding, never sleeping) until n waiters are in the registry.
 * Not `waiters`: a waiter is counted there first, and a kill between the
 * two counts is the (separately tested) over-count, not a dead waiter. */
void test_await_registered(shpool_t *p, uint64_t n);
/* The futex word every waking free bumps. */
uint32_t test_wake_seq(shpool_t *p);
/* An owner record naming process pid with start time start (identity.c's
 * format), and this process's own start time as its record holds it. */
uint64_t test_record(pid_t pid, uint64_t start);
uint64_t test_my_start(void);

#endif

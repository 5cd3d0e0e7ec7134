#!/usr/bin/env bash
# The fast path makes no system call: N uncontended alloc+free pairs must
# make exactly as many system calls for N = 1,000,000 as for N = 1,000
# (strace -c -f counts them), in two settings:
#   pairs     one handle, the plain fast path;
#   switch    issue 28: every statistics stripe owned by a live thread (64
#             threads, parked), and the main thread going round 5 handles
#             of one pool, two of which share a set of its stripe cache
#             (5 handles, 4 sets). Before the fix each switch searched the
#             stripes again and asked /proc about all 64 owners (about 320
#             system calls a miss), between a free's stores and its
#             wake-up.
set -euo pipefail
command -v strace >/dev/null || { { apt-get update -qq || true; } && apt-get install -y -qq strace >/dev/null; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/pairs.c" <<'C'
#include <shpool.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HANDLES 5
#define HOLDERS 64 /* SHPOOL_STRIPES */

static shpool_t *pool;
static _Atomic int claimed;
static int park[2]; /* a pipe nobody writes: read(2) blocks, one call each */

static int pair(shpool_t *p)
{
	int64_t s = shpool_alloc(p, 0);
	return s < 0 || shpool_free(p, (uint64_t)s) < 0;
}

/* Owns a stripe (its first counted call claims one), then stays alive,
 * parked in one read(2), until the process exits. (No barrier or join:
 * how many futex calls those make varies from run to run.) */
static void *holder(void *arg)
{
	char c;

	(void)arg;
	if (pair(pool))
		exit(1);
	atomic_fetch_add(&claimed, 1);
	if (read(park[0], &c, 1) != 0)
		exit(1);
	return NULL;
}

int main(int argc, char **argv)
{
	long n = atol(argv[2]);
	shpool_t *h[HANDLES];
	pthread_t t[HOLDERS];
	int fd;

	if (strcmp(argv[1], "pairs") == 0) {
		if (shpool_create(&pool, NULL, SHPOOL_RAW, 1024, 64, NULL) < 0)
			return 1;
		for (long i = 0; i < n; i++)
			if (pair(pool))
				return 1;
		shpool_close(pool);
		return 0;
	}
	if (shpool_create_memfd(&pool, "switch", SHPOOL_RAW, 1024, 64, NULL) < 0)
		return 1;
	fd = shpool_memfd(pool);
	for (int i = 0; i < HANDLES; i++)
		if (shpool_open_fd(&h[i], fd, SHPOOL_RAW) < 0)
			return 1;
	if (pipe(park) != 0)
		return 1;
	/* One at a time, so that the process's identity is computed once
	 * (by the first) rather than by however many race to it. */
	for (int i = 0; i < HOLDERS; i++) {
		if (pthread_create(&t[i], NULL, holder, NULL) != 0)
			return 1;
		while (atomic_load(&claimed) <= i)
			; /* spin: a yield would be a system call */
	}
	for (long i = 0; i < n; i++)
		if (pair(h[i % HANDLES]))
			return 1;
	_exit(0); /* the holders go with the process */
}
C
cc -O2 -Iinclude -o "$dir/pairs" "$dir/pairs.c" .libs/libshpool.a -pthread
# One malloc arena: a thread's first malloc (fopen of /proc) would make it
# an arena of its own, with a number of munmap calls (trimming to alignment)
# that varies from run to run.
calls() { # MODE N
	MALLOC_ARENA_MAX=1 strace -f -c -o "$dir/trace.$1.$2" "$dir/pairs" "$1" "$2" >/dev/null
	awk '$NF == "total" { print $4 }' "$dir/trace.$1.$2"
}
fail=0
for mode in pairs switch; do
	few=$(calls "$mode" 1000)
	many=$(calls "$mode" 1000000)
	echo "$mode: system calls for 1,000 pairs: $few; for 1,000,000 pairs: $many"
	if [ "$few" != "$many" ]; then
		echo "FAIL ($mode): the alloc/free fast path makes system calls"
		cat "$dir/trace.$mode.1000000"
		fail=1
	fi
done
[ $fail -eq 0 ] || exit 1
echo "OK: no system call on the fast path"

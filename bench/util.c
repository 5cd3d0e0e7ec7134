/* SPDX-License-Identifier: MIT */
/* Helpers shared by the benchmark (main.c) and its cost model (cost.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void *bench_map_shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		bench_die("mmap of %zu bytes: %s", size, strerror(errno));
	return p;
}

void bench_read_all(int fd, char *buf, size_t n, size_t *got)
{
	*got = 0;
	while (*got < n) {
		ssize_t r = read(fd, buf + *got, n - *got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		*got += (size_t)r;
	}
}

void bench_die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", bench_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_FAILURE);
}

void bench_sp_fail(int64_t rc, const char *what)
{
	const char *detail = shpool_last_error();

	bench_die("%s: unexpected %lld, %s (%s)", what, (long long)rc, shpool_strerror((int)rc),
		  *detail ? detail : "no detail");
}

void bench_mx_fail(int64_t rc, const char *what)
{
	bench_die("baseline %s: unexpected %s", what, strerror((int)-rc));
}


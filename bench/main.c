/* SPDX-License-Identifier: MIT */
/*
 * shpool_bench: libshpool against the physical floor and against a mutex
 * baseline (doc/benchmarks.md). Built and run by `make bench`.
 *
 * Output, one line per case (other lines never start with "case="):
 *   case=<name> ns_per_op=<float> ratio_limit=<float> ratio_mutex=<float>
 * block_8proc (and block_8proc_yield) append " max_wait_ms=<float>": the
 * longest single allocation wait seen in any process over all repetitions,
 * a starvation check (measured as the gap between a process's consecutive
 * allocations, so it includes one free; see cases.c).
 * Lines starting with "#" are diagnostics: the limit, the baseline's own
 * ns/op, for the blocking cases how many allocations actually slept, and
 * for a case that touches a big pool at random (pair_full_1m, and
 * pair_full_1m_huge on huge pages, whose load is on huge pages too) the cost
 * of one dependent random load over the bytes it touches: its memory floor,
 * and for every case its cost model, "rmw=R lines=L": the atomic RMWs and
 * the distinct shared cache lines one libshpool operation performs and
 * touches, counted by bench/shpool_cost (cost.c) on the same loop.
 *
 *   ns_per_op    median over the repetitions of libshpool's cost per op
 *   ratio_limit  ns_per_op / (RMWs per op * ns of one uncontended atomic
 *                RMW: the median of a measurement taken after each of the
 *                case's repetitions, in the same run); cases.c lists the
 *                RMWs per op of each case. The "# ... limit" line at the
 *                top is one measurement at start-up, for reference.
 *   ratio_mutex  ns_per_op / the median of the same workload on the robust
 *                mutex free-list of baseline.c, run interleaved with
 *                libshpool's repetitions
 * A case whose libshpool call is not implemented yet (-ENOSYS) prints nan
 * and a note on stderr; any other error ends the program non-zero.
 *
 * Usage: shpool_bench [-c CASE[,CASE...]] [-r REPS] [-s SCALE] [-l]
 *   -c, SHPOOL_BENCH_CASE   run only these cases (default: all)
 *   -r, SHPOOL_BENCH_REPS   repetitions per case, median taken (default 7)
 *   -s, SHPOOL_BENCH_SCALE  multiply every iteration count (default 1.0)
 *   -l                      list the cases and exit
 * Options override the environment. `make bench BENCH_FLAGS="-c i64_add"`
 * passes options through make.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define DEFAULT_REPS 7
#define MAX_REPS 1000
#define RMW_ITERS 10000000
#define CHASE_LOADS 2000000

const char bench_name[] = "shpool_bench";

struct opts {
	const char *cases; /* comma-separated names, NULL for all */
	int reps;
	double scale;
};

/* ---- options ------------------------------------------------------------------ */

static __attribute__((noreturn)) void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: shpool_bench [-c CASE[,CASE...]] [-r REPS] [-s SCALE] [-l]\n"
		"environment: SHPOOL_BENCH_CASE, SHPOOL_BENCH_REPS, SHPOOL_BENCH_SCALE\n");
	exit(status);
}

static int parse_reps(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 1 || v > MAX_REPS)
		bench_die("repetitions: \"%s\" is not a number in 1..%d", s, MAX_REPS);
	return (int)v;
}

static double parse_scale(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (*s == '\0' || *end != '\0' || !(v > 0) || v > 1000)
		bench_die("scale: \"%s\" is not a number in (0, 1000]", s);
	return v;
}

static const struct bench_case *find_case(const char *name, size_t len)
{
	for (size_t i = 0; i < bench_ncases; i++)
		if (strlen(bench_cases[i].name) == len && !strncmp(bench_cases[i].name, name, len))
			return &bench_cases[i];
	return NULL;
}

/* Is c selected by the comma-separated list (NULL: all)? Unknown names were
 * rejected by check_cases(). */
static bool selected(const char *list, const struct bench_case *c)
{
	for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (find_case(p, strcspn(p, ",")) == c)
			return true;
	return list == NULL;
}

static void check_cases(const char *list)
{
	for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		size_t len = strcspn(p, ",");

		if (!find_case(p, len))
			bench_die("no case \"%.*s\" (-l lists them)", (int)len, p);
	}
}

static __attribute__((noreturn)) void list_cases(void)
{
	for (size_t i = 0; i < bench_ncases; i++)
		printf("%-18s %s\n", bench_cases[i].name, bench_cases[i].about);
	exit(EXIT_SUCCESS);
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	const char *env;
	int c;

	o->cases = getenv("SHPOOL_BENCH_CASE");
	o->reps = DEFAULT_REPS;
	o->scale = 1.0;
	if ((env = getenv("SHPOOL_BENCH_REPS")) && *env)
		o->reps = parse_reps(env);
	if ((env = getenv("SHPOOL_BENCH_SCALE")) && *env)
		o->scale = parse_scale(env);
	while ((c = getopt(argc, argv, "c:r:s:lh")) != -1) {
		switch (c) {
		case 'c': o->cases = optarg; break;
		case 'r': o->reps = parse_reps(optarg); break;
		case 's': o->scale = parse_scale(optarg); break;
		case 'l': list_cases();
		case 'h': usage(EXIT_SUCCESS);
		default: usage(2);
		}
	}
	if (optind < argc)
		usage(2);
	if (o->cases && !*o->cases)
		o->cases = NULL;
	check_cases(o->cases);
}

/* ---- measuring ------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of v[0..n); sorts v. nan if any is nan. */
static double median(double *v, int n)
{
	for (int i = 0; i < n; i++)
		if (isnan(v[i]))
			return NAN;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint64_t scaled(uint64_t iters, double scale)
{
	double n = (double)iters * scale;

	return n < 1 ? 1 : (uint64_t)n;
}

static double measure_limit(const struct opts *o)
{
	uint64_t iters = scaled(RMW_ITERS, o->scale);
	double v[MAX_REPS];

	bench_rmw_ns(iters / 8 + 1); /* warm-up */
	for (int r = 0; r < o->reps; r++)
		v[r] = bench_rmw_ns(iters);
	return median(v, o->reps);
}

/* The case's cost model, from the counting build (cost.c) named by
 * SHPOOL_BENCH_COST (`make bench` sets it): "rmw=R lines=L", per op. */
static void cost_model(const struct bench_case *c, const struct opts *o, char *out, size_t size)
{
	const char *prog = getenv("SHPOOL_BENCH_COST");
	char scale[32];
	int fd[2], st;
	size_t got;
	pid_t pid;

	snprintf(out, size, "not measured (SHPOOL_BENCH_COST is not set)");
	if (!prog || !*prog)
		return;
	snprintf(scale, sizeof(scale), "%g", o->scale);
	if (pipe(fd))
		bench_die("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(fd[1], STDOUT_FILENO);
		close(fd[0]);
		close(fd[1]);
		execl(prog, prog, c->name, scale, (char *)NULL);
		fprintf(stderr, "shpool_bench: %s: %s\n", prog, strerror(errno));
		_exit(127);
	}
	close(fd[1]);
	bench_read_all(fd[0], out, size - 1, &got);
	out[got] = '\0';
	out[strcspn(out, "\n")] = '\0';
	close(fd[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			bench_die("waitpid: %s", strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		bench_die("%s %s failed (see above)", prog, c->name);
}

/* Run one case: warm both sides up, then alternate their repetitions with
 * the baseline's and the limit's, so that a noisy neighbour or a change of
 * clock speed hits all three alike. */
static void run_case(const struct bench_case *c, const struct opts *o)
{
	struct bench_state s = { 0 };
	uint64_t iters = scaled(c->iters, o->scale), rmw_iters = scaled(RMW_ITERS, o->scale);
	uint64_t sp_wait = 0, mx_wait = 0, sp_waits = 0, mx_waits = 0, allocs = 0;
	double sp[MAX_REPS], mx[MAX_REPS], lim[MAX_REPS], ns, mx_ns, rmw_ns;
	char cost[128];

	cost_model(c, o, cost, sizeof(cost));
	c->setup(&s);
	if (s.unsupported)
		fprintf(stderr, "shpool_bench: %s: %s; reporting nan\n", c->name, s.unsupported);
	else
		c->run_shpool(&s, iters / 8 + 1);
	c->run_mutex(&s, iters / 8 + 1);
	for (int r = 0; r < o->reps; r++) {
		sp[r] = NAN;
		if (!s.unsupported) {
			sp[r] = c->run_shpool(&s, iters);
			sp_wait = s.max_wait_ns > sp_wait ? s.max_wait_ns : sp_wait;
			sp_waits += s.waits;
			allocs += s.allocs;
		}
		mx[r] = c->run_mutex(&s, iters);
		mx_wait = s.max_wait_ns > mx_wait ? s.max_wait_ns : mx_wait;
		mx_waits += s.waits;
		lim[r] = bench_rmw_ns(rmw_iters);
	}
	c->teardown(&s);
	ns = median(sp, o->reps);
	mx_ns = median(mx, o->reps);
	rmw_ns = median(lim, o->reps);

	printf("case=%s ns_per_op=%.2f ratio_limit=%.3f ratio_mutex=%.3f", c->name, ns,
	       ns / (c->rmws * rmw_ns), ns / mx_ns);
	if (c->has_wait)
		printf(" max_wait_ms=%.3f", s.unsupported ? NAN : (double)sp_wait / 1e6);
	printf("\n#   %s: limit %.2f ns, mutex baseline %.2f ns/op", c->name, rmw_ns, mx_ns);
	if (c->has_wait)
		printf(", max_wait_ms=%.3f; allocations that slept: shpool ~%llu, mutex %llu"
		       " (of %llu each)", (double)mx_wait / 1e6, (unsigned long long)sp_waits,
		       (unsigned long long)mx_waits, (unsigned long long)allocs);
	if (c->footprint)
		printf("; one dependent random load over its %zu MiB%s: %.1f ns", c->footprint >> 20,
		       bench_case_huge(c) ? " of huge pages" : "",
		       (bench_case_huge(c) ? bench_chase_huge_ns : bench_chase_ns)(
			       c->footprint, scaled(CHASE_LOADS, o->scale)));
	printf("; cost model per op: %s\n", cost);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct opts o;
	parse_opts(argc, argv, &o);
	/* A failed child shows up in waitpid(), not as a SIGPIPE on the
	 * barrier write. */
	signal(SIGPIPE, SIG_IGN);
	printf("# shpool_bench %s: %d repetitions, scale %g; limit: one uncontended atomic "
	       "RMW = %.2f ns\n", shpool_version(), o.reps, o.scale, measure_limit(&o));
	fflush(stdout);
	for (size_t i = 0; i < bench_ncases; i++)
		if (selected(o.cases, &bench_cases[i]))
			run_case(&bench_cases[i], &o);
	return EXIT_SUCCESS;
}

/* SPDX-License-Identifier: MIT */
/* shpool(1): look inside a libshpool pool. Command line and dispatch. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

/* Options each command accepts, by their getopt value. */
enum { OPT_JSON = 'j', OPT_DATA = 'd', OPT_BYTES = 'b', OPT_FORCE = 'f', OPT_COUNT = 'c',
       OPT_INTERVAL = 'i', OPT_FORMAT = 'F', OPT_HELP = 'h' };

struct command {
	const char *name;
	int (*run)(const struct tool *t, shpool_t *p);
	const char *opts;  /* the OPT_* letters it takes besides --json, --help */
	bool writes;       /* changes the pool: attached read-write */
	bool many;         /* takes several PATHs */
	const char *usage;   /* after "shpool NAME" */
	const char *summary; /* one line for the command list */
	const char *help;
};

static const struct command commands[] = {
	{ "info", cmd_info, "", false, false, "[--json] PATH",
	  "kind, geometry, mapping size and page size",
	  "Show the pool's kind and geometry: capacity, elem_size (and max_len for STR),\n"
	  "stride (bytes from one slot to the next), the size of its mapping, the size\n"
	  "of the pages backing the mapping (\"(huge pages)\" when they are hugetlb\n"
	  "pages), and the version of the library the tool runs with. Creation flags\n"
	  "(SHPOOL_NO_ZERO, SHPOOL_NOTIFY_ON_FREE) are not shown: the library does not\n"
	  "report them.\n" },
	{ "stats", cmd_stats, "F", false, true, "[--json | --format=FORMAT] PATH...",
	  "occupancy and counters (Prometheus format too)",
	  "Show shpool_stats(): capacity, elem_size, used, available, waiters (callers\n"
	  "blocked in an allocation now), mmap_size, and the counters allocs, frees,\n"
	  "waits, timeouts, recoveries and reset_frees (counted since the pool was\n"
	  "created; they only rise), for each PATH in turn (JSON: one object per line).\n"
	  "\n"
	  "  --format=text         the default\n"
	  "  --format=json         the same as --json\n"
	  "  --format=prometheus   every pool in one Prometheus text exposition (format\n"
	  "                        0.0.4: node_exporter's textfile collector, a scrape):\n"
	  "                        a gauge per occupancy figure, a counter (_total) per\n"
	  "                        counter, a pool=\"PATH\" label, shpool_up 0 for a\n"
	  "                        pool that could not be read (exit status 2 then)\n"
	  "  --format=openmetrics  the same in OpenMetrics 1.0 (counter families named\n"
	  "                        without _total, # UNIT lines, # EOF at the end)\n" },
	{ "ls", cmd_ls, "db", false, false, "[--json] [--data] [--bytes N] PATH",
	  "allocated slots, their owners (and values)",
	  "List the allocated slots, ascending, with the PID of each slot's owner and\n"
	  "its state: alive, dead, or zombie (exited, not yet reaped), as kill(2) and\n"
	  "/proc tell it now. A PID-only test: shpool check and shpool recover also\n"
	  "compare the owner's start time, so they are not fooled by a recycled PID.\n"
	  "\n"
	  "  --data      show each slot's value: the number for I64, I32 and F64 pools,\n"
	  "              the string for STR, the first bytes in hex for RAW\n"
	  "  --bytes N   show at most N bytes of RAW and STR data (default 16 for RAW,\n"
	  "              64 for STR; 0: all of it). Implies --data.\n" },
	{ "check", cmd_check, "", false, false, "[--json] PATH",
	  "cross-check the pool; exit 1 on problems",
	  "Cross-check the bitmap, summary, owner records and counters with\n"
	  "shpool_check() and print its report. Exit status 0 when consistent, 1 when\n"
	  "problems were found, 2 on error. On a pool in use, an allocation or free in\n"
	  "progress can show as a passing problem: check again on a quiet pool.\n" },
	{ "recover", cmd_recover, "", true, false, "[--json] PATH",
	  "free the slots of dead processes",
	  "Free the slots whose owning process is dead (shpool_recover_stale()) and\n"
	  "print how many. Safe at any time, also while the pool is in use. Exit\n"
	  "status 0 whether or not there was anything to recover.\n" },
	{ "reset", cmd_reset, "f", true, false, "--force [--json] PATH",
	  "free every slot (the pool must be idle)",
	  "Free every slot and wake every waiter (shpool_reset()). Refused without\n"
	  "--force. Only for a pool nobody uses: YOU must make sure that no process\n"
	  "holds, allocates or frees a slot meanwhile, or their slots will be handed out\n"
	  "twice. Prints how many slots were allocated before the reset.\n" },
	{ "watch", cmd_watch, "ci", false, false, "[--json] [--count N] [--interval MS] PATH",
	  "used/available/waiters and rates, once a second",
	  "Print used, available and waiters once a second, and beside them the rates\n"
	  "since the sample before: allocations, frees and blocking waits per second\n"
	  "(with --json: one object per line, with the counters and the rates\n"
	  "allocs_per_s, frees_per_s, waits_per_s, null in the first sample) until\n"
	  "interrupted (SIGINT or SIGTERM: exit status 0).\n"
	  "\n"
	  "  --count N       stop after N samples\n"
	  "  --interval MS   milliseconds between samples (default 1000)\n" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char *prog = "shpool";

static void usage_global(FILE *f)
{
	fprintf(f, "Usage: %s [--json] COMMAND [OPTIONS] PATH\n"
		   "       %s --help | --version\n"
		   "Look inside a libshpool pool file.\n\n"
		   "Commands:\n",
		prog, prog);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %s%s\n", commands[i].name, commands[i].summary,
			commands[i].writes ? " [changes the pool]" : "");
	fprintf(f,
		"\n"
		"Options (every command):\n"
		"  --json      machine-readable output on stdout: one JSON object\n"
		"              (watch: one object per line); errors stay on stderr\n"
		"  -h, --help  help; '%s COMMAND --help' for a command\n"
		"  --version   the tool's and the library's versions\n"
		"\n"
		"The pool's kind need not be given: the tool attaches any kind. Every command\n"
		"but recover and reset only reads the pool: it attaches it read-only\n"
		"(SHPOOL_RDONLY), so read permission on the file is enough, and it cannot\n"
		"change the pool. recover and reset need write permission.\n"
		"\n"
		"Exit status: 0 success; 1 check found problems; 2 usage or runtime error\n"
		"(message on stderr).\n",
		prog);
}

static void usage_command(FILE *f, const struct command *c)
{
	fprintf(f, "Usage: %s %s %s\n\n%s\n%s\n", prog, c->name, c->usage, c->help,
		c->writes ? "Changes the pool: needs write permission on the file."
			  : "Read-only: attaches the pool read-only; read permission is enough.");
}

/* A usage mistake: message, a pointer to the help, exit status 2. */
static int usage_error(const struct command *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int usage_error(const struct command *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	if (c)
		fprintf(stderr, "%s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s%s%s --help'.\n", prog, c ? " " : "", c ? c->name : "");
	return EXIT_ERROR;
}

int tool_fail(const struct tool *t, int rc)
{
	const char *detail = shpool_last_error();
	size_t n = strlen(t->path);

	if (!*detail)
		detail = shpool_strerror(rc);
	/* Most details name the path already: do not say it twice. */
	if (strncmp(detail, t->path, n) == 0 && detail[n] == ':')
		fprintf(stderr, "%s: %s\n", prog, detail);
	else
		fprintf(stderr, "%s: %s: %s\n", prog, t->path, detail);
	return EXIT_ERROR;
}

/* A decimal number in [min, max]; no sign, no trailing junk. */
static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static const struct option long_opts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "data", no_argument, NULL, OPT_DATA },
	{ "bytes", required_argument, NULL, OPT_BYTES },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Apply one parsed option; returns -1 to go on, else an exit status. */
static int apply_option(struct tool *t, const struct command *c, int opt, const char *arg)
{
	if (opt == OPT_HELP) {
		usage_command(stdout, c);
		return EXIT_OK;
	}
	if (opt != OPT_JSON && !strchr(c->opts, opt)) {
		/* Known to getopt, but not this command's. */
		for (const struct option *o = long_opts; o->name; o++)
			if (o->val == opt)
				return usage_error(c, "--%s does not apply to this command",
						   o->name);
	}
	switch (opt) {
	case OPT_JSON: t->json = true; break;
	case OPT_FORMAT:
		if (strcmp(arg, "text") == 0)
			t->format = FORMAT_TEXT;
		else if (strcmp(arg, "json") == 0)
			t->format = FORMAT_JSON;
		else if (strcmp(arg, "prometheus") == 0)
			t->format = FORMAT_PROMETHEUS;
		else if (strcmp(arg, "openmetrics") == 0)
			t->format = FORMAT_OPENMETRICS;
		else
			return usage_error(c, "--format: '%s' is not text, json, prometheus or "
					   "openmetrics", arg);
		break;
	case OPT_DATA: t->data = true; break;
	case OPT_FORCE: t->force = true; break;
	case OPT_BYTES:
		if (!parse_u64(arg, 0, UINT32_MAX, &t->bytes))
			return usage_error(c, "--bytes: '%s' is not a number of bytes", arg);
		t->bytes_set = t->data = true;
		break;
	case OPT_COUNT:
		if (!parse_u64(arg, 1, UINT64_MAX, &t->count))
			return usage_error(c, "--count: '%s' is not a positive number", arg);
		break;
	case OPT_INTERVAL:
		if (!parse_u64(arg, 1, 86400000, &t->interval))
			return usage_error(c, "--interval: '%s' is not a number of milliseconds "
					   "from 1 to 86400000", arg);
		break;
	}
	return -1;
}

/* Parse argv (from the command name on) into t; -1 to go on. */
static int parse_command(struct tool *t, const struct command *c, int argc, char **argv)
{
	int opt, rc;

	opterr = 0; /* our own messages, which name the command */
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		/* getopt has moved past the offending argument. */
		if (opt == '?' && strncmp(argv[optind - 1], "--", 2) == 0 &&
		    strchr(argv[optind - 1], '=') && optopt)
			return usage_error(c, "option '%s' takes no value", argv[optind - 1]);
		if (opt == '?')
			return usage_error(c, "unknown option '%s'", argv[optind - 1]);
		if (opt == ':')
			return usage_error(c, "option '%s' needs a value", argv[optind - 1]);
		rc = apply_option(t, c, opt, optarg);
		if (rc >= 0)
			return rc;
	}
	if (optind == argc)
		return usage_error(c, "missing PATH (the pool file)");
	if (argc - optind > 1 && !c->many)
		return usage_error(c, "unexpected argument '%s'", argv[optind + 1]);
	if (t->json && (t->format == FORMAT_PROMETHEUS || t->format == FORMAT_OPENMETRICS))
		return usage_error(c, "--json and --format=%s do not go together",
				   t->format == FORMAT_PROMETHEUS ? "prometheus" : "openmetrics");
	if (t->format == FORMAT_JSON)
		t->json = true;
	t->paths = argv + optind;
	t->npaths = (size_t)(argc - optind);
	t->path = t->paths[0];
	if (c->run == cmd_reset && !t->force)
		return usage_error(c, "refusing to reset without --force (it frees every slot; "
				   "no process may use the pool meanwhile)");
	return -1;
}

/* Everything that may come before the command: --help, --version, --json. */
static int parse_global(struct tool *t, int argc, char **argv, int *next)
{
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage_global(stdout);
			return EXIT_OK;
		}
		if (strcmp(a, "--version") == 0) {
			printf("%s %s (libshpool %s)\n", prog, PACKAGE_VERSION, shpool_version());
			return EXIT_OK;
		}
		if (strcmp(a, "--json") != 0)
			return usage_error(NULL, "unknown option '%s'", a);
		t->json = true;
	}
	if (i == argc)
		return usage_error(NULL, "missing COMMAND");
	*next = i;
	return -1;
}

/* Everything written must have reached stdout: a full disk or a closed
 * pipe is an error, not a silent success. */
static int finish_output(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: writing output: %s\n", prog, strerror(errno));
		return EXIT_ERROR;
	}
	return status;
}

/* Run c on each PATH in turn; the exit status is the worst of them. */
static int run_each(struct tool *t, const struct command *c)
{
	int status = EXIT_OK;

	for (size_t i = 0; i < t->npaths; i++) {
		shpool_t *p;
		int rc;

		t->path = t->paths[i];
		rc = tool_open(t, c->writes, &p);
		if (rc == EXIT_OK) {
			rc = c->run(t, p);
			shpool_close(p);
		}
		if (rc > status)
			status = rc;
	}
	return status;
}

int main(int argc, char **argv)
{
	struct tool t = { .interval = 1000 };
	const struct command *c;
	int rc, first = 1;

	rc = parse_global(&t, argc, argv, &first);
	if (rc >= 0)
		return finish_output(rc);
	if (strcmp(argv[first], "help") == 0) {
		if (first + 1 == argc) {
			usage_global(stdout);
			return finish_output(EXIT_OK);
		}
		c = find_command(argv[first + 1]);
		if (!c)
			return usage_error(NULL, "unknown command '%s'", argv[first + 1]);
		usage_command(stdout, c);
		return finish_output(EXIT_OK);
	}
	c = find_command(argv[first]);
	if (!c)
		return usage_error(NULL, "unknown command '%s'", argv[first]);
	t.cmd = c->name;
	rc = parse_command(&t, c, argc - first, argv + first);
	if (rc >= 0)
		return finish_output(rc);
	if (t.format == FORMAT_PROMETHEUS || t.format == FORMAT_OPENMETRICS)
		return finish_output(cmd_exposition(&t));
	return finish_output(run_each(&t, c));
}

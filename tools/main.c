/* SPDX-License-Identifier: MIT */
/* shpool(1): create, inspect, repair and remove libshpool pools. Command
 * line and dispatch. */
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
       OPT_INTERVAL = 'i', OPT_FORMAT = 'F', OPT_HELP = 'h', OPT_KIND = 'k',
       OPT_CAPACITY = 'n', OPT_ELEM_SIZE = 's', OPT_MODE = 'm', OPT_HUGE = 'H',
       OPT_POPULATE = 'P', OPT_NOTIFY = 'N', OPT_NO_ZERO = 'Z' };

struct command {
	const char *name;
	int (*run)(const struct tool *t, shpool_t *p); /* on the attached pool */
	int (*run_path)(const struct tool *t);         /* or on the path (create, rm) */
	const char *opts;  /* the OPT_* letters it takes besides --json, --help */
	bool writes;       /* changes the pool: attached read-write */
	bool many;         /* takes several PATHs */
	const char *usage;   /* after "shpool NAME" */
	const char *summary; /* one line for the command list */
	const char *help;
	const char *access;  /* the permissions it needs, when not the pool's own */
};

static const struct command commands[] = {
	{ "create", NULL, cmd_create, "knsmHPNZ", true, false,
	  "--kind KIND --capacity N [--elem-size S] [--mode MODE]\n"
	  "              [--huge-pages[=prefer]] [--populate] [--notify-on-free] [--no-zero]\n"
	  "              [--json] PATH",
	  "make a pool file, or find it made (idempotent)",
	  "Create a pool file at PATH (shpool_create()). If a pool of that kind,\n"
	  "capacity and elem_size is there already, succeed and leave it as it is, so\n"
	  "that it can run before every start of a service (systemd ExecStartPre=); a\n"
	  "pool of another geometry there is refused (exit status 2), and so is a file\n"
	  "that is not a pool. Prints whether the pool was created or found.\n"
	  "\n"
	  "  --kind KIND        raw, i64, i32, f64 or str\n"
	  "  --capacity N       number of slots, 1 to 4294967296\n"
	  "  --elem-size S      bytes per slot (raw), longest string (str); needed for\n"
	  "                     those, implied for i64, i32, f64 (8, 4, 8)\n"
	  "  --mode MODE        file mode in octal, e.g. 0640 (default 0600; not\n"
	  "                     changed by the umask)\n"
	  "  --huge-pages       on huge pages (PATH on a hugetlbfs mount) or fail;\n"
	  "                     =prefer: normal pages where huge ones cannot be had\n"
	  "  --populate         fault the whole pool in now (fails if memory is short)\n"
	  "  --notify-on-free   SHPOOL_NOTIFY_ON_FREE: frees signal the eventfd\n"
	  "  --no-zero          SHPOOL_NO_ZERO: slots are not zeroed on allocation\n"
	  "\n"
	  "A pool found in place keeps its mode and its creation flags: they are not\n"
	  "compared (the library does not report the flags).\n",
	  "Creates the file: needs write permission on its directory." },
	{ "rm", NULL, cmd_rm, "f", true, false, "[--force] [--json] PATH",
	  "remove a pool file no live process holds slots in",
	  "Remove the pool file at PATH, after checking that it is a pool and that no\n"
	  "live process holds a slot in it (the owner of each allocated slot, by its\n"
	  "PID, as shpool ls tells it: the slots of dead processes do not count).\n"
	  "Refused otherwise (exit status 2), with the PIDs of the holders.\n"
	  "\n"
	  "  --force   remove it even though live processes hold slots\n"
	  "\n"
	  "Processes that have the pool attached keep using it after the removal (their\n"
	  "mapping stays), but no one can attach it any more, and a pool created at\n"
	  "PATH afterwards is a different one. Processes attached without holding a\n"
	  "slot cannot be seen.\n",
	  "Removes the file: needs write permission on its directory, and read\n"
	  "permission on the file (it is attached read-only to look for holders)." },
	{ "info", cmd_info, NULL, "", false, false, "[--json] PATH",
	  "kind, geometry, mapping size and page size",
	  "Show the pool's kind and geometry: capacity, elem_size (and max_len for STR),\n"
	  "stride (bytes from one slot to the next), the size of its mapping, the size\n"
	  "of the pages backing the mapping (\"(huge pages)\" when they are hugetlb\n"
	  "pages), and the version of the library the tool runs with. Creation flags\n"
	  "(SHPOOL_NO_ZERO, SHPOOL_NOTIFY_ON_FREE) are not shown: the library does not\n"
	  "report them.\n", NULL },
	{ "stats", cmd_stats, NULL, "F", false, true, "[--json | --format=FORMAT] PATH...",
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
	  "                        without _total, # UNIT lines, # EOF at the end)\n", NULL },
	{ "ls", cmd_ls, NULL, "db", false, false, "[--json] [--data] [--bytes N] PATH",
	  "allocated slots, their owners (and values)",
	  "List the allocated slots, ascending, with the PID of each slot's owner and\n"
	  "its state: alive, dead, or zombie (exited, not yet reaped), as kill(2) and\n"
	  "/proc tell it now. A PID-only test: shpool check and shpool recover also\n"
	  "compare the owner's start time, so they are not fooled by a recycled PID.\n"
	  "\n"
	  "  --data      show each slot's value: the number for I64, I32 and F64 pools,\n"
	  "              the string for STR, the first bytes in hex for RAW\n"
	  "  --bytes N   show at most N bytes of RAW and STR data (default 16 for RAW,\n"
	  "              64 for STR; 0: all of it). Implies --data.\n", NULL },
	{ "check", cmd_check, NULL, "", false, false, "[--json] PATH",
	  "cross-check the pool; exit 1 on problems",
	  "Cross-check the bitmap, summary, owner records and counters with\n"
	  "shpool_check() and print its report. Exit status 0 when consistent, 1 when\n"
	  "problems were found, 2 on error. On a pool in use, an allocation or free in\n"
	  "progress can show as a passing problem: check again on a quiet pool.\n", NULL },
	{ "recover", cmd_recover, NULL, "", true, false, "[--json] PATH",
	  "free the slots of dead processes",
	  "Free the slots whose owning process is dead (shpool_recover_stale()) and\n"
	  "print how many. Safe at any time, also while the pool is in use. Exit\n"
	  "status 0 whether or not there was anything to recover.\n", NULL },
	{ "reset", cmd_reset, NULL, "f", true, false, "--force [--json] PATH",
	  "free every slot (the pool must be idle)",
	  "Free every slot and wake every waiter (shpool_reset()). Refused without\n"
	  "--force. Only for a pool nobody uses: YOU must make sure that no process\n"
	  "holds, allocates or frees a slot meanwhile, or their slots will be handed out\n"
	  "twice. Prints how many slots were allocated before the reset.\n", NULL },
	{ "watch", cmd_watch, NULL, "ci", false, false, "[--json] [--count N] [--interval MS] PATH",
	  "used/available/waiters and rates, once a second",
	  "Print used, available and waiters once a second, and beside them the rates\n"
	  "since the sample before: allocations, frees and blocking waits per second\n"
	  "(with --json: one object per line, with the counters and the rates\n"
	  "allocs_per_s, frees_per_s, waits_per_s, null in the first sample) until\n"
	  "interrupted (SIGINT or SIGTERM: exit status 0).\n"
	  "\n"
	  "  --count N       stop after N samples\n"
	  "  --interval MS   milliseconds between samples (default 1000)\n", NULL },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char *prog = "shpool";

static void usage_global(FILE *f)
{
	fprintf(f, "Usage: %s [--json] COMMAND [OPTIONS] PATH\n"
		   "       %s --help | --version\n"
		   "Create, inspect, repair and remove libshpool pool files.\n\n"
		   "Commands:\n",
		prog, prog);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %s%s\n", commands[i].name, commands[i].summary,
			commands[i].writes && !commands[i].run_path ? " [changes the pool]" : "");
	fprintf(f,
		"\n"
		"Options (every command):\n"
		"  --json      machine-readable output on stdout: one JSON object\n"
		"              (watch: one object per line); errors stay on stderr\n"
		"  -h, --help  help; '%s COMMAND --help' for a command\n"
		"  --version   the tool's and the library's versions\n"
		"\n"
		"The pool's kind need not be given: the tool attaches any kind. info, stats,\n"
		"ls, check and watch only read the pool: they attach it read-only\n"
		"(SHPOOL_RDONLY), so read permission on the file is enough, and they cannot\n"
		"change the pool. recover and reset need write permission on the file,\n"
		"create and rm on its directory.\n"
		"\n"
		"Exit status: 0 success; 1 check found problems; 2 usage or runtime error\n"
		"(message on stderr).\n",
		prog);
}

static void usage_command(FILE *f, const struct command *c)
{
	fprintf(f, "Usage: %s %s %s\n\n%s\n%s\n", prog, c->name, c->usage, c->help,
		c->access   ? c->access
		: c->writes ? "Changes the pool: needs write permission on the file."
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

/* An octal mode from 1 to 0777 (the library's 0 means its default). */
static bool parse_mode(const char *s, unsigned *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '7')
		return false;
	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || *end || v == 0 || v > 0777)
		return false;
	*out = (unsigned)v;
	return true;
}

/* A kind by its shpool_kind_name(); SHPOOL_ANY_KIND for none. */
static shpool_kind parse_kind(const char *s)
{
	for (int k = SHPOOL_RAW; shpool_kind_name((shpool_kind)k); k++)
		if (strcmp(shpool_kind_name((shpool_kind)k), s) == 0)
			return (shpool_kind)k;
	return SHPOOL_ANY_KIND;
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
	{ "kind", required_argument, NULL, OPT_KIND },
	{ "capacity", required_argument, NULL, OPT_CAPACITY },
	{ "elem-size", required_argument, NULL, OPT_ELEM_SIZE },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "huge-pages", optional_argument, NULL, OPT_HUGE },
	{ "populate", no_argument, NULL, OPT_POPULATE },
	{ "notify-on-free", no_argument, NULL, OPT_NOTIFY },
	{ "no-zero", no_argument, NULL, OPT_NO_ZERO },
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
	case OPT_KIND:
		t->kind = parse_kind(arg);
		if (t->kind == SHPOOL_ANY_KIND)
			return usage_error(c, "--kind: '%s' is not raw, i64, i32, f64 or str", arg);
		break;
	case OPT_CAPACITY:
		if (!parse_u64(arg, 1, UINT64_MAX, &t->capacity))
			return usage_error(c, "--capacity: '%s' is not a positive number", arg);
		break;
	case OPT_ELEM_SIZE:
		if (!parse_u64(arg, 0, UINT32_MAX, &t->elem_size))
			return usage_error(c, "--elem-size: '%s' is not a number of bytes", arg);
		t->elem_size_set = true;
		break;
	case OPT_MODE:
		if (!parse_mode(arg, &t->mode))
			return usage_error(c, "--mode: '%s' is not an octal file mode from 1 to 0777 "
					   "(e.g. 0640)", arg);
		break;
	case OPT_HUGE:
		/* The last one given decides, as SHPOOL_HUGEPAGES_PREFER would. */
		t->flags &= ~(SHPOOL_HUGEPAGES | SHPOOL_HUGEPAGES_PREFER);
		if (!arg)
			t->flags |= SHPOOL_HUGEPAGES;
		else if (strcmp(arg, "prefer") == 0)
			t->flags |= SHPOOL_HUGEPAGES_PREFER;
		else
			return usage_error(c, "--huge-pages: '%s' is not 'prefer' (--huge-pages "
					   "alone: huge pages or fail)", arg);
		break;
	case OPT_POPULATE: t->flags |= SHPOOL_POPULATE; break;
	case OPT_NOTIFY: t->flags |= SHPOOL_NOTIFY_ON_FREE; break;
	case OPT_NO_ZERO: t->flags |= SHPOOL_NO_ZERO; break;
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
	if (c->run_path == cmd_create) {
		if (t->kind == SHPOOL_ANY_KIND)
			return usage_error(c, "missing --kind (raw, i64, i32, f64 or str)");
		if (!t->capacity)
			return usage_error(c, "missing --capacity (the number of slots)");
		if ((t->kind == SHPOOL_RAW || t->kind == SHPOOL_STR) && !t->elem_size_set)
			return usage_error(c, "--kind %s needs --elem-size (%s)",
					   shpool_kind_name(t->kind),
					   t->kind == SHPOOL_RAW ? "bytes per slot"
								 : "the longest string, in bytes");
	}
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
	if (c->run_path)
		return finish_output(c->run_path(&t));
	if (t.format == FORMAT_PROMETHEUS || t.format == FORMAT_OPENMETRICS)
		return finish_output(cmd_exposition(&t));
	return finish_output(run_each(&t, c));
}

/* SPDX-License-Identifier: MIT */
/*
 * shpool stats --format=openmetrics PATH...: the pools' statistics in the
 * OpenMetrics text exposition (which Prometheus scrapes), for a node
 * exporter's textfile collector or a scrape script. One metric family per
 * statistic, its # HELP and # TYPE said once, one sample per pool told
 * apart by a pool="PATH" label; counters end in _total; # EOF ends it.
 * A pool that cannot be read is left out of the others' families and has
 * shpool_up 0, so a scrape still parses and says which one failed.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

/* What one pool gave: its statistics, or nothing (up == false). */
struct pool_sample {
	const char *path;
	bool up;
	shpool_stats_t st;
};

enum family_type { GAUGE, COUNTER };

struct family {
	const char *name; /* without _total */
	enum family_type type;
	const char *unit; /* NULL, or the name's unit suffix */
	const char *help;
	size_t offset;    /* of the value in shpool_stats_t */
};

#define STAT(field) offsetof(shpool_stats_t, field)

static const struct family families[] = {
	{ "shpool_capacity", GAUGE, NULL, "Slots in the pool.", STAT(capacity) },
	{ "shpool_elem_size_bytes", GAUGE, "bytes", "Size of a slot's value as created.",
	  STAT(elem_size) },
	{ "shpool_used", GAUGE, NULL, "Slots allocated now.", STAT(used) },
	{ "shpool_available", GAUGE, NULL, "Slots free now.", STAT(available) },
	{ "shpool_waiters", GAUGE, NULL, "Allocations blocked waiting for a slot now.",
	  STAT(waiters) },
	{ "shpool_mmap_size_bytes", GAUGE, "bytes", "Size of the pool's shared mapping.",
	  STAT(mmap_size) },
	{ "shpool_allocs", COUNTER, NULL, "Slots allocated (approximate).", STAT(allocs) },
	{ "shpool_frees", COUNTER, NULL, "Slots freed (approximate).", STAT(frees) },
	{ "shpool_waits", COUNTER, NULL, "Allocations that had to block (approximate).",
	  STAT(waits) },
	{ "shpool_timeouts", COUNTER, NULL, "Allocations that timed out (approximate).",
	  STAT(timeouts) },
	{ "shpool_recoveries", COUNTER, NULL,
	  "Slots of dead processes freed by recovery (approximate).", STAT(recoveries) },
};

#define NFAMILIES (sizeof(families) / sizeof(families[0]))

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if there is none. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 && s[0] >= 0xC2 ? 2 :
		   (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 && s[0] <= 0xF4 ? 4 : 0;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

/* A label value: UTF-8 with \\, \" and \n escaped, as the format wants.
 * A path is bytes, not text: a byte that is not UTF-8 becomes U+FFFD. */
static void label_value(FILE *f, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	while (*u) {
		size_t n = utf8_len(u);

		if (*u == '\\' || *u == '"')
			fprintf(f, "\\%c", *u);
		else if (*u == '\n')
			fputs("\\n", f);
		else if (n == 0)
			fputs("\xEF\xBF\xBD", f);
		else
			fwrite(u, 1, n, f);
		u += n ? n : 1;
	}
}

static void family_header(FILE *f, const char *name, const char *type, const char *unit,
			  const char *help)
{
	fprintf(f, "# TYPE %s %s\n", name, type);
	if (unit)
		fprintf(f, "# UNIT %s %s\n", name, unit);
	fprintf(f, "# HELP %s %s\n", name, help);
}

static void sample_line(FILE *f, const char *name, const char *suffix, const char *path,
			uint64_t v)
{
	fprintf(f, "%s%s{pool=\"", name, suffix);
	label_value(f, path);
	fprintf(f, "\"} %" PRIu64 "\n", v);
}

static void expose(FILE *f, const struct pool_sample *s, size_t n)
{
	family_header(f, "shpool_up", "gauge", NULL,
		      "1 if the pool could be read, 0 if not (the tool said why on stderr).");
	for (size_t i = 0; i < n; i++)
		sample_line(f, "shpool_up", "", s[i].path, s[i].up);
	for (size_t k = 0; k < NFAMILIES; k++) {
		const struct family *fam = &families[k];

		family_header(f, fam->name, fam->type == COUNTER ? "counter" : "gauge", fam->unit,
			      fam->help);
		for (size_t i = 0; i < n; i++) {
			uint64_t v;

			if (!s[i].up)
				continue;
			memcpy(&v, (const char *)&s[i].st + fam->offset, sizeof(v));
			sample_line(f, fam->name, fam->type == COUNTER ? "_total" : "", s[i].path, v);
		}
	}
	fputs("# EOF\n", f);
}

/* The same path twice would repeat a label set, which the format forbids. */
static bool seen_before(const struct tool *t, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(t->paths[j], t->paths[i]) == 0)
			return true;
	return false;
}

static bool read_pool(const struct tool *t, const char *path, shpool_stats_t *st)
{
	struct tool one = *t;
	shpool_t *p;
	int rc;

	one.path = path;
	if (tool_open(&one, false, &p) != EXIT_OK)
		return false;
	rc = shpool_stats(p, st);
	shpool_close(p);
	if (rc < 0)
		tool_fail(&one, rc);
	return rc == 0;
}

int cmd_openmetrics(const struct tool *t)
{
	struct pool_sample *s = calloc(t->npaths, sizeof(*s));
	size_t n = 0;
	int status = EXIT_OK;

	if (!s) {
		fprintf(stderr, "shpool: out of memory\n");
		return EXIT_ERROR;
	}
	for (size_t i = 0; i < t->npaths; i++) {
		if (seen_before(t, i))
			continue;
		s[n].path = t->paths[i];
		s[n].up = read_pool(t, t->paths[i], &s[n].st);
		if (!s[n].up)
			status = EXIT_ERROR;
		n++;
	}
	expose(stdout, s, n);
	free(s);
	return status;
}

/* SPDX-License-Identifier: MIT */
/*
 * shpool stats --format=prometheus|openmetrics PATH...: the pools'
 * statistics as a text exposition, for node_exporter's textfile collector
 * or a scrape script. One metric family per statistic, its # HELP and
 * # TYPE said once, one sample per pool told apart by a pool="PATH" label;
 * counters' samples end in _total. A pool that cannot be read is left out
 * of the others' families and has shpool_up 0, so a scrape still parses
 * and says which one failed.
 *
 * The two formats name a counter family differently, and a reader of one
 * format given the other loses the counters' types:
 *  - prometheus: the Prometheus text format 0.0.4, what node_exporter's
 *    textfile collector and Prometheus's own scrapes read. # HELP and
 *    # TYPE name the family by the name its samples carry:
 *    "# TYPE shpool_allocs_total counter" above shpool_allocs_total{...}.
 *  - openmetrics: OpenMetrics 1.0. The family is named without the suffix
 *    ("# TYPE shpool_allocs counter" above shpool_allocs_total{...}), a
 *    # UNIT line follows # TYPE where the name has a unit, # EOF ends it.
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
	/* The counters count from the pool's creation, never decrease, and are
	 * exact once no call is in progress (shpool_stats(3)). */
	{ "shpool_allocs", COUNTER, NULL, "Slots allocated since the pool was created.",
	  STAT(allocs) },
	{ "shpool_frees", COUNTER, NULL, "Slots freed by their holders (shpool_free).",
	  STAT(frees) },
	{ "shpool_waits", COUNTER, NULL, "Allocations that had to block for a slot.",
	  STAT(waits) },
	{ "shpool_timeouts", COUNTER, NULL, "Allocations that timed out.", STAT(timeouts) },
	{ "shpool_recoveries", COUNTER, NULL,
	  "Slots of dead processes freed by recovery (shpool recover).", STAT(recoveries) },
	{ "shpool_reset_frees", COUNTER, NULL,
	  "Slots found allocated and freed by a reset (shpool reset).", STAT(reset_frees) },
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

/* # HELP and # TYPE (and # UNIT) of one family. name is the family's base
 * name; a Prometheus counter family is named as its samples, with _total. */
static void family_header(FILE *f, enum tool_format format, const char *name,
			  enum family_type type, const char *unit, const char *help)
{
	const char *type_name = type == COUNTER ? "counter" : "gauge";

	if (format == FORMAT_PROMETHEUS) {
		const char *suffix = type == COUNTER ? "_total" : "";

		fprintf(f, "# HELP %s%s %s\n", name, suffix, help);
		fprintf(f, "# TYPE %s%s %s\n", name, suffix, type_name);
		return;
	}
	fprintf(f, "# TYPE %s %s\n", name, type_name);
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

static void expose(FILE *f, enum tool_format format, const struct pool_sample *s, size_t n)
{
	family_header(f, format, "shpool_up", GAUGE, NULL,
		      "1 if the pool could be read, 0 if not (the tool said why on stderr).");
	for (size_t i = 0; i < n; i++)
		sample_line(f, "shpool_up", "", s[i].path, s[i].up);
	for (size_t k = 0; k < NFAMILIES; k++) {
		const struct family *fam = &families[k];

		family_header(f, format, fam->name, fam->type, fam->unit, fam->help);
		for (size_t i = 0; i < n; i++) {
			uint64_t v;

			if (!s[i].up)
				continue;
			memcpy(&v, (const char *)&s[i].st + fam->offset, sizeof(v));
			sample_line(f, fam->name, fam->type == COUNTER ? "_total" : "", s[i].path, v);
		}
	}
	if (format == FORMAT_OPENMETRICS)
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

int cmd_exposition(const struct tool *t)
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
	expose(stdout, t->format, s, n);
	free(s);
	return status;
}

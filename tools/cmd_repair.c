/* SPDX-License-Identifier: MIT */
/* shpool check, recover, reset: find and repair what crashed processes left. */
#define _GNU_SOURCE /* open_memstream */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

/* The report as an array of its lines. */
static void json_lines(struct json *j, const char *key, const char *text, size_t len)
{
	json_open(j, key, '[');
	while (len) {
		const char *nl = memchr(text, '\n', len);
		size_t n = nl ? (size_t)(nl - text) : len;

		json_strn(j, NULL, text, n);
		n += nl != NULL;
		text += n;
		len -= n;
	}
	json_close(j, ']');
}

int cmd_check(const struct tool *t, shpool_t *p)
{
	char *report = NULL;
	size_t len = 0;
	struct json j;
	FILE *f;
	int rc;

	if (!t->json) {
		rc = shpool_check(p, stdout);
		if (rc < 0)
			return tool_fail(t, rc);
		return rc ? EXIT_PROBLEMS : EXIT_OK;
	}
	f = open_memstream(&report, &len);
	if (!f) {
		fprintf(stderr, "shpool: out of memory\n");
		return EXIT_ERROR;
	}
	rc = shpool_check(p, f);
	if (fclose(f) != 0) {
		free(report);
		fprintf(stderr, "shpool: out of memory\n");
		return EXIT_ERROR;
	}
	if (rc < 0) {
		free(report);
		return tool_fail(t, rc);
	}
	json_init(&j, stdout);
	json_open(&j, NULL, '{');
	json_str(&j, "path", t->path);
	json_u64(&j, "problems", (uint64_t)rc);
	json_lines(&j, "report", report, len);
	json_close(&j, '}');
	json_end(&j);
	free(report);
	return rc ? EXIT_PROBLEMS : EXIT_OK;
}

int cmd_recover(const struct tool *t, shpool_t *p)
{
	int64_t n = shpool_recover_stale(p);
	struct json j;

	if (n < 0)
		return tool_fail(t, (int)n);
	if (t->json) {
		json_init(&j, stdout);
		json_open(&j, NULL, '{');
		json_str(&j, "path", t->path);
		json_i64(&j, "recovered", n);
		json_close(&j, '}');
		json_end(&j);
	} else {
		printf("%s: recovered %" PRId64 " slot%s\n", t->path, n, n == 1 ? "" : "s");
	}
	return EXIT_OK;
}

int cmd_reset(const struct tool *t, shpool_t *p)
{
	/* Exclusive use is the caller's promise (--force), so this count is
	 * exact: nobody allocates or frees meanwhile. */
	uint64_t used = shpool_used(p);
	struct json j;
	int rc;

	rc = shpool_reset(p);
	if (rc < 0)
		return tool_fail(t, rc);
	if (t->json) {
		json_init(&j, stdout);
		json_open(&j, NULL, '{');
		json_str(&j, "path", t->path);
		json_u64(&j, "freed", used);
		json_close(&j, '}');
		json_end(&j);
	} else {
		printf("%s: reset, %" PRIu64 " slot%s freed\n", t->path, used, used == 1 ? "" : "s");
	}
	return EXIT_OK;
}

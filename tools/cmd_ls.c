/* SPDX-License-Identifier: MIT */
/* shpool ls: the allocated slots, their owners, optionally their data. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define RAW_DEFAULT_BYTES 16
#define STR_DEFAULT_BYTES 64

struct ls {
	const struct tool *t;
	struct json j;
	int kind;
	uint64_t count;
	pid_t last_pid; /* slots come in runs of one owner: remember its state */
	const char *last_state;
	unsigned char *buf; /* RAW --data: the bytes shown */
	size_t buflen;
};

/* tool_pid_state(), remembered across a run of one owner's slots. */
static const char *owner_state(struct ls *l, pid_t pid)
{
	if (pid <= 0)
		return "none";
	if (pid != l->last_pid) {
		l->last_pid = pid;
		l->last_state = tool_pid_state(pid);
	}
	return l->last_state;
}

static size_t shown_bytes(const struct tool *t, int kind, size_t have)
{
	size_t limit = t->bytes_set ? t->bytes : kind == SHPOOL_STR ? STR_DEFAULT_BYTES
								     : RAW_DEFAULT_BYTES;

	return limit == 0 || limit > have ? have : limit;
}

/* A slot freed between the listing and this read: no value, not an error. */
static void show_gone(struct ls *l, int rc)
{
	if (l->t->json) {
		json_null(&l->j, "value");
		json_str(&l->j, "error", shpool_last_error());
	} else {
		printf("(%s)", rc == -ENOENT ? "freed meanwhile" : shpool_last_error());
	}
}

static void show_str(struct ls *l, shpool_t *p, uint64_t idx)
{
	const char *s;
	size_t len, n;
	int rc = shpool_str_view(p, idx, &s, &len);

	if (rc < 0) {
		show_gone(l, rc);
		return;
	}
	n = shown_bytes(l->t, SHPOOL_STR, len);
	if (l->t->json) {
		json_strn(&l->j, "value", s, n);
		json_u64(&l->j, "length", len);
		json_bool(&l->j, "truncated", n < len);
		return;
	}
	print_quoted(stdout, s, n);
	if (n < len)
		printf("... (%zu bytes)", len);
}

static void show_raw(struct ls *l, shpool_t *p, uint64_t idx)
{
	size_t n = shown_bytes(l->t, SHPOOL_RAW, shpool_elem_size(p));
	char hex[3];
	int rc;

	/* A copy, not shpool_ptr(): the slot must still be allocated. */
	rc = shpool_get(p, idx, l->buf, n);
	if (rc < 0) {
		show_gone(l, rc);
		return;
	}
	if (l->t->json) {
		char *s = malloc(2 * n + 1);

		if (!s) {
			json_null(&l->j, "hex");
			return;
		}
		for (size_t i = 0; i < n; i++)
			snprintf(s + 2 * i, 3, "%02x", l->buf[i]);
		s[2 * n] = '\0';
		json_str(&l->j, "hex", s);
		json_bool(&l->j, "truncated", n < shpool_elem_size(p));
		free(s);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(hex, sizeof(hex), "%02x", l->buf[i]);
		printf("%s%s", i && i % 4 == 0 ? " " : "", hex);
	}
	if (n < shpool_elem_size(p))
		printf(" ...");
}

static void show_number(struct ls *l, shpool_t *p, uint64_t idx)
{
	int64_t i64 = 0;
	int32_t i32 = 0;
	double f64 = 0;
	int rc;

	switch (l->kind) {
	case SHPOOL_I64: rc = shpool_i64_get(p, idx, &i64); break;
	case SHPOOL_I32: rc = shpool_i32_get(p, idx, &i32); i64 = i32; break;
	default: rc = shpool_f64_get(p, idx, &f64); break;
	}
	if (rc < 0)
		show_gone(l, rc);
	else if (l->kind == SHPOOL_F64 && l->t->json)
		json_f64(&l->j, "value", f64);
	else if (l->kind == SHPOOL_F64)
		printf("%.17g", f64);
	else if (l->t->json)
		json_i64(&l->j, "value", i64);
	else
		printf("%" PRId64, i64);
}

static void show_data(struct ls *l, shpool_t *p, uint64_t idx)
{
	if (l->kind == SHPOOL_STR)
		show_str(l, p, idx);
	else if (l->kind == SHPOOL_RAW)
		show_raw(l, p, idx);
	else
		show_number(l, p, idx);
}

static int ls_one(shpool_t *p, uint64_t idx, void *arg)
{
	struct ls *l = arg;
	pid_t pid = shpool_owner(p, idx);
	const char *state = owner_state(l, pid);
	char owner[16] = "-";

	l->count++;
	if (l->t->json) {
		json_open(&l->j, NULL, '{');
		json_u64(&l->j, "slot", idx);
		if (pid > 0)
			json_i64(&l->j, "owner", pid);
		else
			json_null(&l->j, "owner");
		json_str(&l->j, "state", state);
		if (l->t->data)
			show_data(l, p, idx);
		json_close(&l->j, '}');
		return 0;
	}
	if (pid > 0)
		snprintf(owner, sizeof(owner), "%d", (int)pid);
	/* No padding after the last column: no trailing blanks. */
	printf("%-10" PRIu64 " %-8s %-*s", idx, owner, l->t->data ? 7 : 0, state);
	if (l->t->data) {
		printf(" ");
		show_data(l, p, idx);
	}
	printf("\n");
	return 0;
}

int cmd_ls(const struct tool *t, shpool_t *p)
{
	struct ls l = { .t = t, .kind = shpool_kind_of(p) };
	int rc;

	if (t->data && l.kind == SHPOOL_RAW) {
		l.buflen = shown_bytes(t, SHPOOL_RAW, shpool_elem_size(p));
		l.buf = malloc(l.buflen ? l.buflen : 1);
		if (!l.buf) {
			fprintf(stderr, "shpool: out of memory\n");
			return EXIT_ERROR;
		}
	}
	if (t->json) {
		json_init(&l.j, stdout);
		json_open(&l.j, NULL, '{');
		json_str(&l.j, "path", t->path);
		json_str(&l.j, "kind", tool_kind_name(p));
		json_u64(&l.j, "capacity", shpool_capacity(p));
		json_open(&l.j, "slots", '[');
	} else {
		printf("%-10s %-8s %-*s%s\n", "SLOT", "OWNER", t->data ? 7 : 0, "STATE",
		       t->data ? " DATA" : "");
	}
	rc = shpool_each_allocated(p, ls_one, &l);
	free(l.buf);
	if (rc < 0)
		return tool_fail(t, rc);
	if (t->json) {
		json_close(&l.j, ']');
		json_u64(&l.j, "count", l.count);
		json_close(&l.j, '}');
		json_end(&l.j);
	} else {
		printf("%" PRIu64 " of %" PRIu64 " slots allocated\n", l.count, shpool_capacity(p));
	}
	return EXIT_OK;
}

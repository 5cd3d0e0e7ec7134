/* SPDX-License-Identifier: MIT */
/* The shpool command-line tool: what its source files share. */
#ifndef SHPOOL_TOOL_H
#define SHPOOL_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <shpool.h>

/* Exit statuses (documented in --help and shpool(1)). */
#define EXIT_OK 0
#define EXIT_PROBLEMS 1 /* check found inconsistencies */
#define EXIT_ERROR 2    /* usage or runtime error; a message is on stderr */

/* stats --format */
enum tool_format { FORMAT_TEXT, FORMAT_JSON, FORMAT_PROMETHEUS, FORMAT_OPENMETRICS };

/* What the command line asked for. */
struct tool {
	const char *cmd;     /* "info", "ls", ... */
	const char *path;    /* the pool file (the one being worked on) */
	char **paths;        /* every PATH given (stats takes several) */
	size_t npaths;
	bool json;           /* --json: one JSON object (watch: one per line) */
	enum tool_format format; /* stats --format; --json is FORMAT_JSON */
	bool data;           /* ls --data */
	uint64_t bytes;      /* ls --bytes: 0 means the whole slot */
	bool bytes_set;      /* --bytes was given (else the per-kind default) */
	bool force;          /* reset --force, rm --force */
	uint64_t count;      /* watch --count: 0 means until interrupted */
	uint64_t interval;   /* watch --interval, milliseconds */
	/* create: the geometry and the shpool_options */
	shpool_kind kind;    /* --kind; SHPOOL_ANY_KIND when not given */
	uint64_t capacity;   /* --capacity; 0 when not given */
	uint64_t elem_size;  /* --elem-size */
	bool elem_size_set;
	unsigned mode;       /* --mode; 0: the library's default, 0600 */
	unsigned flags;      /* SHPOOL_NO_ZERO, _NOTIFY_ON_FREE, _HUGEPAGES[_PREFER], _POPULATE */
};

/* ---- main.c ---- */
/* "shpool: PATH: <detail>" on stderr for a library failure rc; returns
 * EXIT_ERROR. */
int tool_fail(const struct tool *t, int rc);

/* ---- open.c ---- */
/* Attach the pool at t->path whatever its kind, read-only unless the
 * command `writes`. EXIT_OK, or EXIT_ERROR with the reason on stderr. */
int tool_open(const struct tool *t, bool writes, shpool_t **out);
/* shpool_kind_name() of p's kind: "raw", "i64", ... */
const char *tool_kind_name(shpool_t *p);
/* "alive", "dead" or "zombie" (exited, not yet reaped): pid as kill(2) and
 * /proc see it now, in this PID namespace. A test of the PID alone: a
 * recycled PID looks alive. pid > 0. */
const char *tool_pid_state(pid_t pid);

/* ---- json.c: a small JSON writer (one line, no pretty printing) ---- */
struct json {
	FILE *f;
	unsigned depth;
	bool comma[16]; /* a value was written at this depth: next needs ',' */
};
void json_init(struct json *j, FILE *f);
/* key is NULL inside arrays. */
void json_open(struct json *j, const char *key, char bracket);
void json_close(struct json *j, char bracket);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
/* A finite double as a number; NaN and infinities as the strings "nan",
 * "inf" and "-inf" (JSON has no literal for them). */
void json_f64(struct json *j, const char *key, double v);
void json_bool(struct json *j, const char *key, bool v);
void json_null(struct json *j, const char *key);
void json_str(struct json *j, const char *key, const char *s);
/* len bytes of s, which may hold NULs and bytes that are not UTF-8. */
void json_strn(struct json *j, const char *key, const char *s, size_t len);
/* End the top-level value with a newline. */
void json_end(struct json *j);

/* Human output: s[0..len) in double quotes, C-escaped where not printable. */
void print_quoted(FILE *f, const char *s, size_t len);

/* ---- commands: each returns an exit status ---- */
int cmd_info(const struct tool *t, shpool_t *p);
int cmd_stats(const struct tool *t, shpool_t *p);
int cmd_ls(const struct tool *t, shpool_t *p);
int cmd_check(const struct tool *t, shpool_t *p);
int cmd_recover(const struct tool *t, shpool_t *p);
int cmd_reset(const struct tool *t, shpool_t *p);
int cmd_watch(const struct tool *t, shpool_t *p);
/* Commands that work on the path, not on an attached pool. */
int cmd_create(const struct tool *t);
int cmd_rm(const struct tool *t);
/* stats --format=prometheus or openmetrics: every pool of t->paths in one
 * exposition of t->format. */
int cmd_exposition(const struct tool *t);

#endif

/* SPDX-License-Identifier: MIT */
/* The shpool(1) tool, run as a program against real pool files: output,
 * --json validity, exit statuses, and errors. White-box only to damage a
 * header (an unknown kind). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shpool-internal.h"
#include "testutil.h"

#ifndef SHPOOL_TOOL
#error "SHPOOL_TOOL must name the built tool"
#endif

/* ---- running the tool ------------------------------------------------- */

struct run {
	int status; /* exit status, 128+signal if killed */
	char *out;  /* all of stdout, NUL-terminated */
	char *err;  /* all of stderr */
	size_t out_len;
};

/* Set: run_argv's child drops to nobody (when root) before exec. */
static bool as_nobody;
/* The tool tool() runs: SHPOOL_TOOL, or a copy nobody can reach. */
static const char *tool_path = SHPOOL_TOOL;
static bool tool_copied;

static void copy_file(const char *from, const char *to, mode_t mode)
{
	size_t len;
	char *data = test_slurp(from, &len);
	FILE *f = fopen(to, "we");

	ck_assert_msg(data && f, "copy %s to %s", from, to);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(to, mode), 0);
	free(data);
}

/* Make the tool reachable by nobody: the build tree may sit below a
 * directory only root can enter (a 0700 mktemp -d, as CI's and the package
 * build's are). Copies it and the library it was linked with (.libs beside
 * tests/) into dir, where LD_LIBRARY_PATH finds the library (searched before
 * the copy's RUNPATH into the tree). */
static void tool_reachable_in(const char *dir)
{
	char from[4096], to[4096];
	const char *tests = strrchr(SHPOOL_TOOL, '/');

	snprintf(to, sizeof(to), "%s/shpool", dir);
	copy_file(SHPOOL_TOOL, to, 0755);
	tool_path = strdup(to);
	tool_copied = true;
	snprintf(from, sizeof(from), "%.*s/../.libs/libshpool.so.1", (int)(tests - SHPOOL_TOOL),
		 SHPOOL_TOOL);
	snprintf(to, sizeof(to), "%s/libshpool.so.1", dir);
	copy_file(from, to, 0644);
	ck_assert_int_eq(setenv("LD_LIBRARY_PATH", dir, 1), 0);
}

/* Run argv[0] with argv, stdin from in (or /dev/null); capture everything. */
static struct run run_argv(char **argv, const char *in)
{
	char *out = test_path("stdout"), *err = test_path("stderr");
	struct run r;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int i = open(in ? in : "/dev/null", O_RDONLY);
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (i < 0 || o < 0 || e < 0 || dup2(i, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(126);
		if (as_nobody && getuid() == 0 && test_become_nobody() != 0)
			_exit(125);
		execvp(argv[0], argv);
		_exit(127);
	}
	r.status = test_wait(pid);
	r.out = test_slurp(out, &r.out_len);
	r.err = test_slurp(err, NULL);
	free(out);
	free(err);
	return r;
}

/* shpool ARGS... (NULL-terminated). */
static struct run tool(const char *arg, ...)
{
	char *argv[16] = { (char *)tool_path };
	int n = 1;
	va_list ap;

	va_start(ap, arg);
	for (const char *a = arg; a; a = va_arg(ap, const char *)) {
		ck_assert_int_lt(n, 15);
		argv[n++] = (char *)a;
	}
	va_end(ap);
	argv[n] = NULL;
	return run_argv(argv, NULL);
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

#define assert_has(hay, needle) \
	ck_assert_msg(strstr((hay), (needle)) != NULL, "\"%s\" lacks \"%s\"", (hay), (needle))
#define assert_lacks(hay, needle) \
	ck_assert_msg(strstr((hay), (needle)) == NULL, "\"%s\" has \"%s\"", (hay), (needle))

/* A failure: exit status 2, nothing on stdout, `msg` on stderr. */
#define assert_error(r, msg) \
	do { \
		ck_assert_msg((r).status == 2, "exit %d, stderr: %s", (r).status, (r).err); \
		ck_assert_str_eq((r).out, ""); \
		assert_has((r).err, "shpool: "); \
		assert_has((r).err, (msg)); \
	} while (0)

#define assert_ok(r) \
	ck_assert_msg((r).status == 0, "exit %d, stderr: %s", (r).status, (r).err)

/* ---- JSON: a strict syntax check, and python3 when there is one ------- */

static const char *js_ws(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	return s;
}

static const char *js_value(const char *s, int depth);

static const char *js_string(const char *s)
{
	if (*s++ != '"')
		return NULL;
	for (; *s != '"'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20)
			return NULL; /* unescaped control character (or the end) */
		if (c != '\\')
			continue;
		s++;
		if (*s == 'u') {
			for (int i = 1; i <= 4; i++)
				if (!strchr("0123456789abcdefABCDEF", s[i]) || !s[i])
					return NULL;
			s += 4;
		} else if (!*s || !strchr("\"\\/bfnrt", *s)) {
			return NULL;
		}
	}
	return s + 1;
}

static const char *js_number(const char *s)
{
	const char *start = s;

	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return NULL;
	if (*s == '.') {
		if (*++s < '0' || *s > '9')
			return NULL;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (*s < '0' || *s > '9')
			return NULL;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return s > start ? s : NULL;
}

/* Members of an object or elements of an array, up to `close`. */
static const char *js_items(const char *s, int depth, bool object, char close)
{
	s = js_ws(s);
	if (*s == close)
		return s + 1;
	for (;;) {
		if (object) {
			s = js_string(js_ws(s));
			if (!s || *(s = js_ws(s)) != ':')
				return NULL;
			s++;
		}
		s = js_value(s, depth + 1);
		if (!s)
			return NULL;
		s = js_ws(s);
		if (*s == close)
			return s + 1;
		if (*s++ != ',')
			return NULL;
	}
}

static const char *js_value(const char *s, int depth)
{
	s = js_ws(s);
	if (depth > 32)
		return NULL;
	switch (*s) {
	case '{': return js_items(s + 1, depth, true, '}');
	case '[': return js_items(s + 1, depth, false, ']');
	case '"': return js_string(s);
	case 't': return strncmp(s, "true", 4) ? NULL : s + 4;
	case 'f': return strncmp(s, "false", 5) ? NULL : s + 5;
	case 'n': return strncmp(s, "null", 4) ? NULL : s + 4;
	}
	return js_number(s);
}

/* Each line of text is one JSON object, and there are `lines` of them. */
static void assert_json_lines(const char *text, int lines)
{
	int n = 0;

	for (const char *s = text; *s; n++) {
		const char *end;

		ck_assert_msg(*s == '{', "not an object: %s", s);
		end = js_value(s, 0);
		ck_assert_msg(end && *end == '\n', "invalid JSON: %s", s);
		s = end + 1;
	}
	ck_assert_int_eq(n, lines);
}

static int python_state = -1; /* -1 unknown, 0 absent, 1 present */

/* Parse every line of `json` with python3's json module into `docs` (and
 * `d`, the first), then run `code` (may be "") with sys.argv[1:] = the
 * extra arguments. Returns its exit status, or -1 when there is no python3:
 * then nothing is checked beyond assert_json_lines(). One python per
 * output, as each start costs a noticeable fraction of a second. */
static int python(const char *json, const char *code, ...)
{
	char *argv[16] = { "python3", "-c", NULL };
	char *in = test_path("py-in"), *prog;
	struct run r;
	FILE *f;
	va_list ap;
	int n = 3;

	if (python_state == 0)
		return -1;
	f = fopen(in, "we");
	ck_assert(f != NULL);
	fputs(json, f);
	fclose(f);
	ck_assert_int_ge(asprintf(&prog, "import json, sys\n"
					 "docs = [json.loads(line) for line in sys.stdin]\n"
					 "assert docs and all(isinstance(x, dict) for x in docs)\n"
					 "d = docs[0]\n"
					 "%s\n",
				  code),
			 0);
	argv[2] = prog;
	va_start(ap, code);
	for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	r = run_argv(argv, in);
	free(in);
	free(prog);
	if (r.status == 127) {
		python_state = 0;
		run_free(&r);
		return -1;
	}
	python_state = 1;
	if (r.status != 0)
		fprintf(stderr, "python3 on %s: %s%s", json, r.out, r.err);
	run_free(&r);
	return r.status;
}

/* python() must accept it (or be absent). */
#define assert_python(json, ...) \
	ck_assert_msg(python((json), __VA_ARGS__, NULL) <= 0, "python3 rejects: %s", (json))

/* ---- pools ------------------------------------------------------------- */

/* A child that allocates 2 slots of the (inherited) pool and exits
 * without freeing them: a crashed owner. */
static void make_dead_owner(shpool_t *p)
{
	ck_assert_int_eq(test_wait(test_fork_holder(p, 2, 0)), 0);
}

/* ---- version, help, usage ---------------------------------------------- */

START_TEST(version_and_help)
{
	struct run r = tool("--version", NULL);
	char want[64];

	assert_ok(r);
	snprintf(want, sizeof(want), "(libshpool %s)", shpool_version());
	assert_has(r.out, want);
	run_free(&r);

	r = tool("--help", NULL);
	assert_ok(r);
	ck_assert_str_eq(r.err, "");
	for (const char *c = "create\0rm\0info\0stats\0ls\0check\0recover\0reset\0watch\0"; *c;
	     c += strlen(c) + 1)
		assert_has(r.out, c);
	assert_has(r.out, "Exit status");
	run_free(&r);

	r = tool("ls", "--help", NULL);
	assert_ok(r);
	assert_has(r.out, "Usage: shpool ls");
	assert_has(r.out, "--data");
	run_free(&r);

	r = tool("help", "watch", NULL);
	assert_ok(r);
	assert_has(r.out, "--interval MS");
	run_free(&r);
}
END_TEST

START_TEST(usage_errors)
{
	char *path = test_path("pool");
	shpool_t *p = test_pool(path, SHPOOL_RAW, 8, 16, 0);
	struct run r;

	ck_assert_int_ge(shpool_alloc(p, 0), 0);
	r = tool(NULL);
	assert_error(r, "missing COMMAND");
	run_free(&r);
	r = tool("frobnicate", path, NULL);
	assert_error(r, "unknown command 'frobnicate'");
	run_free(&r);
	r = tool("--bogus", NULL);
	assert_error(r, "unknown option '--bogus'");
	run_free(&r);
	r = tool("ls", NULL);
	assert_error(r, "ls: missing PATH");
	assert_has(r.err, "Try 'shpool ls --help'");
	run_free(&r);
	r = tool("ls", path, path, NULL);
	assert_error(r, "unexpected argument");
	run_free(&r);
	r = tool("ls", "--bogus", path, NULL);
	assert_error(r, "unknown option '--bogus'");
	run_free(&r);
	r = tool("ls", "--json=yes", path, NULL);
	assert_error(r, "option '--json=yes' takes no value");
	run_free(&r);
	r = tool("info", "--force", path, NULL);
	assert_error(r, "--force does not apply");
	run_free(&r);
	r = tool("watch", "--count", "0", path, NULL);
	assert_error(r, "--count: '0'");
	run_free(&r);
	r = tool("watch", "--interval", "-5", path, NULL);
	assert_error(r, "--interval: '-5'");
	run_free(&r);
	r = tool("watch", path, "--count", NULL);
	assert_error(r, "needs a value");
	run_free(&r);
	r = tool("ls", "--bytes", "lots", path, NULL);
	assert_error(r, "--bytes: 'lots'");
	run_free(&r);

	/* reset without --force touches nothing. */
	r = tool("reset", path, NULL);
	assert_error(r, "refusing to reset without --force");
	run_free(&r);
	ck_assert_uint_eq(shpool_used(p), 1);
	shpool_close(p);
	free(path);
}
END_TEST

/* ---- errors attaching --------------------------------------------------- */

START_TEST(attach_errors)
{
	char *missing = test_path("missing"), *text = test_path("text"), *tiny = test_path("tiny");
	char *odd = test_path("odd-kind"), want[512];
	char junk[512];
	shpool_t *p;
	struct run r;
	uint32_t kind = 77;
	int fd;

	r = tool("info", missing, NULL);
	assert_error(r, "No such file or directory");
	/* The path is said once, not twice. */
	snprintf(want, sizeof(want), "shpool: %s: No such file or directory\n", missing);
	ck_assert_str_eq(r.err, want);
	run_free(&r);

	memset(junk, 'x', sizeof(junk));
	test_write_file(text, junk, sizeof(junk));
	r = tool("stats", text, NULL);
	assert_error(r, "not a libshpool segment");
	run_free(&r);

	test_write_file(tiny, "SHPOOL", 6);
	r = tool("ls", tiny, NULL);
	assert_error(r, "truncated");
	run_free(&r);

	r = tool("check", test_dir(), NULL);
	assert_error(r, "not a regular file");
	run_free(&r);

	/* With --json too, the error is text on stderr, not JSON on stdout. */
	r = tool("info", "--json", missing, NULL);
	assert_error(r, "No such file or directory");
	run_free(&r);

	/* A pool whose header names a kind this library does not know: that
	 * is what the message says. */
	p = test_pool(odd, SHPOOL_I32, 8, 0, 0);
	shpool_close(p);
	fd = open(odd, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, &kind, sizeof(kind), offsetof(struct shpool_header, kind)),
			 (ssize_t)sizeof(kind));
	close(fd);
	r = tool("info", odd, NULL);
	assert_error(r, "segment has unknown kind 77 (a newer library's pool");
	run_free(&r);

	free(missing);
	free(text);
	free(tiny);
	free(odd);
}
END_TEST

/* ---- info, stats --------------------------------------------------------- */

static const struct {
	shpool_kind kind;
	const char *name;
	uint32_t elem_size;
	const char *elem_line;
} kinds[] = {
	{ SHPOOL_RAW, "raw", 24, "elem_size  24\n" },
	{ SHPOOL_I64, "i64", 0, "elem_size  8\n" },
	{ SHPOOL_I32, "i32", 0, "elem_size  4\n" },
	{ SHPOOL_F64, "f64", 0, "elem_size  8\n" },
	{ SHPOOL_STR, "str", 40, "max_len    40\n" },
};

/* Each kind is found without being told. */
START_TEST(info_every_kind)
{
	char *path = test_path("pool"), want[256];
	shpool_t *p = test_pool(path, kinds[_i].kind, 100, kinds[_i].elem_size, 0);
	shpool_stats_t st;
	struct run r;

	ck_assert_int_eq(shpool_stats(p, &st), 0);
	r = tool("info", path, NULL);
	assert_ok(r);
	snprintf(want, sizeof(want), "path       %s\nkind       %s\ncapacity   100\n", path,
		 kinds[_i].name);
	assert_has(r.out, want);
	assert_has(r.out, kinds[_i].elem_line);
	snprintf(want, sizeof(want),
		 "stride     %zu\nmmap_size  %llu\npage_size  %zu\nlibrary    %s\n",
		 shpool_stride(p), (unsigned long long)st.mmap_size, shpool_page_size(p),
		 shpool_version());
	assert_has(r.out, want);
	run_free(&r);

	r = tool("--json", "info", path, NULL);
	assert_ok(r);
	assert_json_lines(r.out, 1);
	if (kinds[_i].kind == SHPOOL_STR) /* one is enough: python is slow to start */
		assert_python(r.out, "assert d['kind'] == 'str' and d['max_len'] == 40");
	snprintf(want, sizeof(want), "\"kind\":\"%s\",\"capacity\":100,", kinds[_i].name);
	assert_has(r.out, want);
	if (kinds[_i].kind == SHPOOL_STR)
		assert_has(r.out, "\"max_len\":40");
	else
		assert_lacks(r.out, "max_len");
	run_free(&r);
	shpool_close(p);
	free(path);
}
END_TEST

START_TEST(stats_counts)
{
	char *path = test_path("pool");
	shpool_t *p = test_pool(path, SHPOOL_I64, 10, 0, 0);
	struct run r;
	int64_t s;

	for (int i = 0; i < 4; i++)
		ck_assert_int_ge(shpool_alloc(p, 0), 0);
	s = shpool_alloc(p, 0);
	ck_assert_int_eq(shpool_free(p, (uint64_t)s), 0);

	r = tool("stats", path, NULL);
	assert_ok(r);
	assert_has(r.out, "capacity    10\n");
	assert_has(r.out, "used        4\n");
	assert_has(r.out, "available   6\n");
	assert_has(r.out, "waiters     0\n");
	assert_has(r.out, "allocs      5\n");
	assert_has(r.out, "frees       1\n");
	run_free(&r);

	r = tool("stats", path, "--json", NULL);
	assert_ok(r);
	assert_json_lines(r.out, 1);
	assert_has(r.out, "\"used\":4,\"available\":6,\"waiters\":0,");
	assert_has(r.out, "\"recoveries\":0,\"reset_frees\":0}");
	assert_python(r.out, "assert d['used'] + d['available'] == d['capacity'] == 10");
	run_free(&r);
	shpool_close(p);
	free(path);
}
END_TEST

/* ---- ls ------------------------------------------------------------------ */

START_TEST(ls_owners)
{
	char *path = test_path("pool"), want[128];
	shpool_t *p = test_pool(path, SHPOOL_RAW, 64, 8, 0);
	siginfo_t si;
	struct run r;
	uint64_t mine;
	pid_t zombie;

	mine = (uint64_t)shpool_alloc(p, 0);
	make_dead_owner(p);
	/* A child that exits holding slots but is not reaped yet. */
	zombie = test_fork_holder(p, 2, 0);
	ck_assert_int_eq(waitid(P_PID, (id_t)zombie, &si, WEXITED | WNOWAIT), 0);

	r = tool("ls", path, NULL);
	assert_ok(r);
	assert_has(r.out, "SLOT       OWNER    STATE\n");
	snprintf(want, sizeof(want), "%-10llu %-8d alive", (unsigned long long)mine, (int)getpid());
	assert_has(r.out, want);
	assert_has(r.out, " dead");
	snprintf(want, sizeof(want), "%-8d zombie", (int)zombie);
	assert_has(r.out, want);
	assert_has(r.out, "5 of 64 slots allocated\n");
	run_free(&r);

	r = tool("ls", "--json", path, NULL);
	assert_ok(r);
	assert_json_lines(r.out, 1);
	snprintf(want, sizeof(want), "{\"slot\":%llu,\"owner\":%d,\"state\":\"alive\"}",
		 (unsigned long long)mine, (int)getpid());
	assert_has(r.out, want);
	assert_has(r.out, "\"count\":5}");
	assert_python(r.out, "states = sorted(s['state'] for s in d['slots'])\n"
			     "assert states == ['alive'] + ['dead'] * 2 + ['zombie'] * 2\n"
			     "slots = [s['slot'] for s in d['slots']]\n"
			     "assert slots == sorted(slots)");
	run_free(&r);
	ck_assert_int_eq(test_wait(zombie), 0);
	shpool_close(p);
	free(path);
}
END_TEST

START_TEST(ls_data_typed)
{
	char *dir = test_path(""), path[512];
	shpool_t *p;
	struct run r;

	snprintf(path, sizeof(path), "%si64", dir);
	p = test_pool(path, SHPOOL_I64, 8, 0, 0);
	ck_assert_int_ge(shpool_alloc_set_i64(p, INT64_MIN, 0), 0);
	r = tool("ls", "--data", path, NULL);
	assert_ok(r);
	assert_has(r.out, "STATE   DATA\n");
	assert_has(r.out, " -9223372036854775808\n");
	run_free(&r);
	shpool_close(p);

	snprintf(path, sizeof(path), "%si32", dir);
	p = test_pool(path, SHPOOL_I32, 8, 0, 0);
	ck_assert_int_ge(shpool_alloc_set_i32(p, -42, 0), 0);
	r = tool("ls", "--data", "--json", path, NULL);
	assert_ok(r);
	assert_json_lines(r.out, 1);
	assert_has(r.out, "\"value\":-42}");
	run_free(&r);
	shpool_close(p);

	snprintf(path, sizeof(path), "%sf64", dir);
	p = test_pool(path, SHPOOL_F64, 8, 0, 0);
	ck_assert_int_ge(shpool_alloc_set_f64(p, 0.1, 0), 0);
	ck_assert_int_ge(shpool_alloc_set_f64(p, NAN, 0), 0);
	ck_assert_int_ge(shpool_alloc_set_f64(p, -INFINITY, 0), 0);
	r = tool("ls", "--data", "--json", path, NULL);
	assert_ok(r);
	assert_json_lines(r.out, 1);
	assert_python(r.out, "v = [s['value'] for s in d['slots']]\n"
			     "assert 0.1 in v and 'nan' in v and '-inf' in v");
	assert_has(r.out, "\"value\":0.10000000000000001}");
	assert_has(r.out, "\"value\":\"nan\"}");
	assert_has(r.out, "\"value\":\"-inf\"}");
	run_free(&r);
	shpool_close(p);
	free(dir);
}
END_TEST

START_TEST(ls_data_bytes)
{
	char *dir = test_path(""), path[512];
	unsigned char bytes[24];
	shpool_t *p;
	struct run r;

	snprintf(path, sizeof(path), "%sraw", dir);
	p = test_pool(path, SHPOOL_RAW, 8, sizeof(bytes), 0);
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (unsigned char)(0xa0 + i);
	ck_assert_int_ge(shpool_alloc_set(p, bytes, sizeof(bytes), 0), 0);
	r = tool("ls", "--data", path, NULL);
	assert_ok(r);
	/* 16 bytes by default, and a mark that there is more. */
	assert_has(r.out, " a0a1a2a3 a4a5a6a7 a8a9aaab acadaeaf ...\n");
	run_free(&r);
	r = tool("ls", "--bytes", "0", "--json", path, NULL);
	assert_ok(r);
	assert_json_lines(r.out, 1);
	assert_has(r.out, "\"hex\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7\","
			  "\"truncated\":false}");
	run_free(&r);
	shpool_close(p);

	/* STR: quoted and escaped for people; JSON escapes, with U+FFFD for
	 * a byte that is not UTF-8, and says when it cut the string. */
	snprintf(path, sizeof(path), "%sstr", dir);
	p = test_pool(path, SHPOOL_STR, 8, 32, 0);
	ck_assert_int_ge(shpool_alloc_set_str(p, "a\"b\\c\n\x01\xff z", 10, 0), 0);
	r = tool("ls", "--data", path, NULL);
	assert_ok(r);
	assert_has(r.out, " \"a\\\"b\\\\c\\n\\x01\\xff z\"\n");
	run_free(&r);
	r = tool("ls", "--json", "--data", path, NULL);
	assert_ok(r);
	assert_json_lines(r.out, 1);
	assert_has(r.out, "\"value\":\"a\\\"b\\\\c\\n\\u0001\\ufffd z\",\"length\":10,"
			  "\"truncated\":false}");
	assert_python(r.out, "assert d['slots'][0]['value'] == 'a\"b\\\\c\\n\\x01\\ufffd z'");
	run_free(&r);
	r = tool("ls", "--bytes", "3", path, NULL);
	assert_ok(r);
	assert_has(r.out, " \"a\\\"b\"... (10 bytes)\n");
	run_free(&r);
	shpool_close(p);
	free(dir);
}
END_TEST

/* A path with every character JSON must escape round-trips. */
START_TEST(json_escapes_path)
{
	char *path = test_path("we\"ird\\na\tme\nx\x1f");
	shpool_t *p = test_pool(path, SHPOOL_RAW, 4, 8, 0);
	struct run r = tool("info", "--json", path, NULL);

	assert_ok(r);
	assert_json_lines(r.out, 1);
	assert_has(r.out, "we\\\"ird\\\\na\\tme\\nx\\u001f\"");
	assert_python(r.out, "assert d['path'] == sys.argv[1]", path);
	run_free(&r);
	shpool_close(p);
	free(path);
}
END_TEST

/* ---- check, recover, reset ---------------------------------------------- */

START_TEST(check_and_recover_dead_owner)
{
	char *path = test_path("pool");
	shpool_t *p = test_pool(path, SHPOOL_RAW, 32, 8, 0);
	struct run r;

	ck_assert_int_ge(shpool_alloc(p, 0), 0); /* a live owner: us */
	r = tool("check", path, NULL);
	assert_ok(r);
	assert_has(r.out, "1 of 32 slots allocated, 0 problems\n");
	run_free(&r);

	make_dead_owner(p);
	r = tool("check", path, NULL);
	ck_assert_int_eq(r.status, 1);
	assert_has(r.out, "held by a dead process");
	assert_has(r.out, "3 of 32 slots allocated, 2 problems");
	run_free(&r);

	r = tool("check", "--json", path, NULL);
	ck_assert_int_eq(r.status, 1);
	assert_json_lines(r.out, 1);
	assert_has(r.out, "\"problems\":2,\"report\":[\"slot ");
	assert_python(r.out, "assert d['problems'] == 2 and len(d['report']) == 3");
	run_free(&r);

	r = tool("recover", path, NULL);
	assert_ok(r);
	assert_has(r.out, ": recovered 2 slots\n");
	run_free(&r);
	ck_assert_uint_eq(shpool_used(p), 1); /* ours stays */

	r = tool("check", path, NULL);
	assert_ok(r);
	run_free(&r);
	/* Nothing left to do is still success. */
	r = tool("recover", "--json", path, NULL);
	assert_ok(r);
	assert_json_lines(r.out, 1);
	assert_has(r.out, "\"recovered\":0}");
	run_free(&r);
	shpool_close(p);
	free(path);
}
END_TEST

START_TEST(reset_forced)
{
	char *path = test_path("pool");
	shpool_t *p = test_pool(path, SHPOOL_I32, 16, 0, 0);
	struct run r;

	for (int i = 0; i < 3; i++)
		ck_assert_int_ge(shpool_alloc(p, 0), 0);
	r = tool("reset", "--force", path, NULL);
	assert_ok(r);
	assert_has(r.out, ": reset, 3 slots freed\n");
	run_free(&r);
	ck_assert_uint_eq(shpool_used(p), 0);

	ck_assert_int_ge(shpool_alloc(p, 0), 0);
	r = tool("reset", "--json", "--force", path, NULL);
	assert_ok(r);
	assert_json_lines(r.out, 1);
	assert_has(r.out, "\"freed\":1}");
	run_free(&r);
	ck_assert_uint_eq(shpool_used(p), 0);
	shpool_close(p);
	free(path);
}
END_TEST

/* ---- create, rm ------------------------------------------------------------ */

/* The creation flags recorded in the pool's header (the library reports
 * them nowhere else). */
static uint32_t header_flags(const char *path)
{
	uint32_t flags = 0;
	int fd = open(path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &flags, sizeof(flags), offsetof(struct shpool_header, flags)),
			 (ssize_t)sizeof(flags));
	close(fd);
	return flags;
}

static unsigned file_mode(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return (unsigned)(st.st_mode & 07777);
}

/* create, info, an idempotent re-create, refused geometries: the pool and
 * its contents come through all of it unchanged. */
START_TEST(create_round_trip)
{
	char *path = test_path("pool"), want[512];
	const char *s;
	shpool_t *p;
	struct run r;
	size_t len;
	int64_t idx;

	r = tool("create", path, "--kind", "str", "--capacity", "7", "--elem-size", "24", "--mode",
		 "0640", NULL);
	assert_ok(r);
	snprintf(want, sizeof(want), "%s: created: str, capacity 7, elem_size 24, mmap_size ", path);
	assert_has(r.out, want);
	assert_has(r.out, ", mode 0640\n");
	run_free(&r);
	ck_assert_uint_eq(file_mode(path), 0640);
	ck_assert_uint_eq(header_flags(path), 0);

	r = tool("info", "--json", path, NULL);
	assert_ok(r);
	assert_has(r.out, "\"kind\":\"str\",\"capacity\":7,\"elem_size\":24,\"max_len\":24,");
	run_free(&r);

	/* Something in it, to see that a re-create leaves it alone. */
	ck_assert_int_eq(shpool_open(&p, path, SHPOOL_STR), 0);
	idx = shpool_alloc_set_str(p, "kept", 4, 0);
	ck_assert_int_ge(idx, 0);

	/* The same geometry: found, success, nothing changed (not the mode
	 * either, though another is asked). */
	r = tool("create", "--json", "--kind=str", "--capacity=7", "--elem-size=24",
		 "--mode=0600", path, NULL);
	assert_ok(r);
	assert_json_lines(r.out, 1);
	snprintf(want, sizeof(want),
		 "\"created\":false,\"kind\":\"str\",\"capacity\":7,\"elem_size\":24,");
	assert_has(r.out, want);
	assert_has(r.out, "\"mode\":\"0640\"}");
	assert_python(r.out, "assert d['created'] is False and d['huge_pages'] is False");
	run_free(&r);
	r = tool("create", "--kind=str", "--capacity=7", "--elem-size=24", path, NULL);
	assert_ok(r);
	snprintf(want, sizeof(want), "%s: exists with this geometry, unchanged: str, capacity 7, ",
		 path);
	assert_has(r.out, want);
	run_free(&r);
	ck_assert_uint_eq(file_mode(path), 0640);
	ck_assert_uint_eq(shpool_used(p), 1);
	ck_assert_int_eq(shpool_str_view(p, (uint64_t)idx, &s, &len), 0);
	ck_assert_uint_eq(len, 4);
	ck_assert_int_eq(memcmp(s, "kept", 4), 0);

	/* Another geometry: refused with the library's message, which says
	 * what differs; the pool stays as it was. */
	r = tool("create", "--kind=str", "--capacity=8", "--elem-size=24", path, NULL);
	assert_error(r, "capacity mismatch: segment has 7, asked 8");
	run_free(&r);
	r = tool("create", "--kind=str", "--capacity=7", "--elem-size=25", path, NULL);
	assert_error(r, "elem_size mismatch: segment has 24, asked 25");
	run_free(&r);
	r = tool("create", "--kind=i64", "--capacity=7", path, NULL);
	assert_error(r, "kind mismatch: segment has STR, asked I64");
	run_free(&r);
	ck_assert_uint_eq(shpool_used(p), 1);
	ck_assert_int_eq(shpool_str_view(p, (uint64_t)idx, &s, &len), 0);
	ck_assert_int_eq(memcmp(s, "kept", 4), 0);
	ck_assert_int_eq(shpool_free(p, (uint64_t)idx), 0);
	shpool_close(p);

	r = tool("info", path, NULL);
	assert_ok(r);
	assert_has(r.out, "kind       str\ncapacity   7\n");
	run_free(&r);
	r = tool("rm", path, NULL);
	assert_ok(r);
	snprintf(want, sizeof(want), "%s: removed\n", path);
	ck_assert_str_eq(r.out, want);
	run_free(&r);
	ck_assert_int_eq(access(path, F_OK), -1);
	/* Gone: info and rm say so. */
	r = tool("info", path, NULL);
	assert_error(r, "No such file or directory");
	run_free(&r);
	r = tool("rm", path, NULL);
	assert_error(r, "No such file or directory");
	run_free(&r);
	r = tool("rm", "--force", path, NULL);
	assert_error(r, "No such file or directory");
	run_free(&r);
	free(path);
}
END_TEST

/* Every kind and option reaches the library: the geometry shows in info,
 * the recorded flags in the header, the mode on the file. */
START_TEST(create_options)
{
	char *path = test_path("pool"), *huge = test_path("huge");
	struct run r;

	r = tool("create", "--kind=raw", "--capacity=100", "--elem-size=16", "--no-zero",
		 "--notify-on-free", "--populate", path, NULL);
	assert_ok(r);
	run_free(&r);
	ck_assert_uint_eq(header_flags(path), SHPOOL_NO_ZERO | SHPOOL_NOTIFY_ON_FREE);
	ck_assert_uint_eq(file_mode(path), 0600);
	ck_assert_int_eq(unlink(path), 0);

	r = tool("create", "--kind=f64", "--capacity=3", "--no-zero", path, NULL);
	assert_ok(r);
	run_free(&r);
	ck_assert_uint_eq(header_flags(path), SHPOOL_NO_ZERO);
	r = tool("info", path, NULL);
	assert_has(r.out, "kind       f64\ncapacity   3\nelem_size  8\n");
	run_free(&r);
	ck_assert_int_eq(unlink(path), 0);

	/* The implied size may be given; another is refused by the library. */
	r = tool("create", "--kind=i32", "--capacity=3", "--elem-size=4", path, NULL);
	assert_ok(r);
	run_free(&r);
	ck_assert_int_eq(unlink(path), 0);
	r = tool("create", "--kind=i64", "--capacity=3", "--elem-size=4", path, NULL);
	assert_error(r, "elem_size is implied (8)");
	run_free(&r);
	r = tool("create", "--kind=i64", "--capacity=4294967297", path, NULL);
	assert_error(r, "capacity 4294967297 out of range (1..4294967296)");
	run_free(&r);
	r = tool("create", "--kind=raw", "--capacity=4", "--elem-size=0", path, NULL);
	assert_error(r, "elem_size 0 out of range");
	run_free(&r);
	ck_assert_int_eq(access(path, F_OK), -1);

	/* Huge pages or fail, in a directory that is no hugetlbfs mount; or
	 * preferred, and then normal pages. */
	r = tool("create", "--kind=i64", "--capacity=4", "--huge-pages", huge, NULL);
	assert_error(r, "SHPOOL_HUGEPAGES");
	run_free(&r);
	ck_assert_int_eq(access(huge, F_OK), -1);
	r = tool("create", "--json", "--kind=i64", "--capacity=4", "--huge-pages=prefer", huge,
		 NULL);
	assert_ok(r);
	assert_has(r.out, "\"created\":true,");
	assert_has(r.out, "\"huge_pages\":false,");
	run_free(&r);
	free(path);
	free(huge);
}
END_TEST

START_TEST(create_rm_usage_errors)
{
	char *path = test_path("pool");
	struct run r;

	r = tool("create", path, NULL);
	assert_error(r, "create: missing --kind (raw, i64, i32, f64 or str)");
	run_free(&r);
	r = tool("create", "--kind=i64", path, NULL);
	assert_error(r, "missing --capacity");
	run_free(&r);
	r = tool("create", "--kind=raw", "--capacity=4", path, NULL);
	assert_error(r, "--kind raw needs --elem-size (bytes per slot)");
	run_free(&r);
	r = tool("create", "--kind=str", "--capacity=4", path, NULL);
	assert_error(r, "--kind str needs --elem-size (the longest string, in bytes)");
	run_free(&r);
	r = tool("create", "--kind=u8", "--capacity=4", path, NULL);
	assert_error(r, "--kind: 'u8' is not raw, i64, i32, f64 or str");
	run_free(&r);
	r = tool("create", "--kind=i64", "--capacity=0", path, NULL);
	assert_error(r, "--capacity: '0' is not a positive number");
	run_free(&r);
	r = tool("create", "--kind=raw", "--capacity=1", "--elem-size=-1", path, NULL);
	assert_error(r, "--elem-size: '-1' is not a number of bytes");
	run_free(&r);
	static const char *const modes[] = { "0", "0800", "01000", "rw", "640x", "" };
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char want[128];

		r = tool("create", "--kind=i64", "--capacity=4", "--mode", modes[i], path, NULL);
		snprintf(want, sizeof(want), "--mode: '%s' is not an octal file mode", modes[i]);
		assert_error(r, want);
		run_free(&r);
	}
	r = tool("create", "--kind=i64", "--capacity=4", "--huge-pages=always", path, NULL);
	assert_error(r, "--huge-pages: 'always' is not 'prefer'");
	run_free(&r);
	r = tool("create", "--kind=i64", "--capacity=4", "--force", path, NULL);
	assert_error(r, "--force does not apply to this command");
	run_free(&r);
	r = tool("create", "--kind=i64", "--capacity=4", path, path, NULL);
	assert_error(r, "unexpected argument");
	run_free(&r);
	r = tool("rm", "--kind=i64", path, NULL);
	assert_error(r, "--kind does not apply to this command");
	run_free(&r);
	r = tool("info", "--capacity=4", path, NULL);
	assert_error(r, "--capacity does not apply to this command");
	run_free(&r);
	r = tool("rm", NULL);
	assert_error(r, "rm: missing PATH");
	run_free(&r);
	/* None of it made a file. */
	ck_assert_int_eq(access(path, F_OK), -1);
	free(path);
}
END_TEST

/* A child that attaches the pool by its path (an unrelated process, not a
 * fork of our handle), takes a slot, says so on `ready` and waits for a
 * byte on `go`: then it writes its slot and reads it back, through its
 * mapping, whether or not the file still has a name. */
struct holder {
	const char *path;
	int ready, go;
};

static int hold_slot(void *arg)
{
	struct holder *h = arg;
	uint64_t v = 0x5eed, back = 0;
	shpool_t *p;
	int64_t idx;
	char c;

	if (shpool_open(&p, h->path, SHPOOL_RAW) < 0 || (idx = shpool_alloc(p, 0)) < 0)
		return 1;
	if (write(h->ready, "r", 1) != 1 || read(h->go, &c, 1) != 1)
		return 2;
	if (shpool_set(p, (uint64_t)idx, &v, sizeof(v)) < 0 ||
	    shpool_get(p, (uint64_t)idx, &back, sizeof(back)) < 0 || back != v)
		return 3;
	return shpool_free(p, (uint64_t)idx) == 0 ? 0 : 4;
}

/* rm refuses while a live process holds a slot, naming it, whatever dead
 * processes hold; --force removes it, and the holder goes on using its
 * slot. */
START_TEST(rm_live_holder)
{
	char *path = test_path("pool"), want[256];
	int ready[2], go[2];
	struct holder h;
	shpool_t *p;
	struct run r;
	pid_t pid;
	char c;

	r = tool("create", "--kind=raw", "--capacity=16", "--elem-size=8", path, NULL);
	assert_ok(r);
	run_free(&r);
	ck_assert_int_eq(shpool_open(&p, path, SHPOOL_RAW), 0);
	make_dead_owner(p); /* 2 slots of a dead process */
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	h = (struct holder){ .path = path, .ready = ready[1], .go = go[0] };
	pid = test_fork(hold_slot, &h);
	ck_assert_int_eq(read(ready[0], &c, 1), 1); /* it holds its slot */

	r = tool("rm", path, NULL);
	snprintf(want, sizeof(want), "shpool: %s: 1 slot held by live process (PID %d): not "
		 "removed (--force removes it anyway)\n", path, (int)pid);
	assert_error(r, want);
	ck_assert_str_eq(r.err, want); /* the dead one is not named */
	run_free(&r);
	r = tool("rm", "--json", path, NULL);
	assert_error(r, "not removed");
	run_free(&r);
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_uint_eq(shpool_used(p), 3);

	/* We hold one too: two live processes. */
	ck_assert_int_ge(shpool_alloc(p, 0), 0);
	r = tool("rm", path, NULL);
	assert_error(r, "2 slots held by live processes (PID ");
	run_free(&r);

	r = tool("rm", "--force", "--json", path, NULL);
	assert_ok(r);
	assert_json_lines(r.out, 1);
	assert_has(r.out, "\"removed\":true,\"live_slots\":2,\"live_pids\":[");
	assert_has(r.out, "\"live_pids_truncated\":false,\"dead_slots\":2}");
	snprintf(want, sizeof(want), "import os\nassert sorted(d['live_pids']) == sorted([%d, %d])",
		 (int)pid, (int)getpid());
	assert_python(r.out, want);
	run_free(&r);
	ck_assert_int_eq(access(path, F_OK), -1);

	/* The holder's mapping outlives the name. */
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	ck_assert_int_eq(test_wait(pid), 0);
	shpool_close(p);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	free(path);
}
END_TEST

/* Slots of dead and zombie processes do not keep a pool; a file that is no
 * pool, or a symbolic link, is never removed. */
START_TEST(rm_dead_holders)
{
	char *path = test_path("pool"), *text = test_path("text"), *link = test_path("link");
	char want[256], junk[512];
	shpool_t *p = test_pool(path, SHPOOL_RAW, 16, 8, 0);
	siginfo_t si;
	struct run r;
	pid_t zombie;

	make_dead_owner(p);
	zombie = test_fork_holder(p, 2, 0);
	ck_assert_int_eq(waitid(P_PID, (id_t)zombie, &si, WEXITED | WNOWAIT), 0);
	ck_assert_int_eq(symlink(path, link), 0);
	r = tool("rm", link, NULL);
	assert_error(r, "is a symbolic link (refused)");
	run_free(&r);
	ck_assert_int_eq(access(path, F_OK), 0);

	r = tool("rm", path, NULL);
	assert_ok(r);
	snprintf(want, sizeof(want), "%s: removed (4 slots held by dead processes)\n", path);
	ck_assert_str_eq(r.out, want);
	run_free(&r);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(test_wait(zombie), 0);
	shpool_close(p);

	memset(junk, 'x', sizeof(junk)); /* longer than a header, but no pool */
	test_write_file(text, junk, sizeof(junk));
	r = tool("rm", "--force", text, NULL);
	assert_error(r, "not a libshpool segment");
	run_free(&r);
	ck_assert_int_eq(access(text, F_OK), 0);
	r = tool("rm", test_dir(), NULL);
	assert_error(r, "not a regular file");
	run_free(&r);
	free(path);
	free(text);
	free(link);
}
END_TEST

/* ---- watch ---------------------------------------------------------------- */

START_TEST(watch_counted)
{
	char *path = test_path("pool");
	shpool_t *p = test_pool(path, SHPOOL_RAW, 12, 8, 0);
	struct run r;
	char *nl;
	int lines = 0;

	for (int i = 0; i < 5; i++)
		ck_assert_int_ge(shpool_alloc(p, 0), 0);
	r = tool("watch", "--count", "3", "--interval", "5", path, NULL);
	assert_ok(r);
	for (nl = r.out; (nl = strchr(nl, '\n')); nl++)
		lines++;
	ck_assert_int_eq(lines, 4); /* the heading and 3 samples */
	assert_has(r.out, "USED    AVAILABLE  WAITERS   ALLOCS/S    FREES/S    WAITS/S\n");
	/* No rates before there are two samples; then none moved. */
	assert_has(r.out, "            5            7        0          -          -          -\n");
	assert_has(r.out, "            5            7        0        0.0        0.0        0.0\n");
	run_free(&r);

	r = tool("watch", "--json", "--count=2", "--interval=5", path, NULL);
	assert_ok(r);
	assert_json_lines(r.out, 2);
	assert_python(r.out, "assert len(docs) == 2 and all(x['used'] == 5 for x in docs)");
	assert_has(r.out, "\"used\":5,\"available\":7,\"waiters\":0,");
	assert_has(r.out, "\"allocs_per_s\":null,\"frees_per_s\":null,\"waits_per_s\":null}\n");
	assert_has(r.out, "\"allocs_per_s\":0,\"frees_per_s\":0,\"waits_per_s\":0}\n");
	run_free(&r);
	shpool_close(p);
	free(path);
}
END_TEST

/* The rates are the counters' differences over the time between two
 * samples: 300 allocations and frees made between the first and second
 * sample (read from the pipe: no guess at timing) show as 300 per that
 * interval. */
/* Start `shpool watch --json ARGS... path` with its stdout on a pipe, which
 * *f reads; returns its pid. */
static pid_t spawn_watch(FILE **f, const char *path, const char *const *args)
{
	char *argv[12] = { SHPOOL_TOOL, "watch", "--json" };
	int out[2], n = 3;
	pid_t pid;

	for (; *args; args++)
		argv[n++] = (char *)*args;
	argv[n++] = (char *)path;
	argv[n] = NULL;
	ck_assert_int_eq(pipe(out), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		execv(SHPOOL_TOOL, argv);
		_exit(127);
	}
	close(out[1]);
	*f = fdopen(out[0], "r");
	ck_assert(*f != NULL);
	return pid;
}

START_TEST(watch_rates)
{
	char *path = test_path("pool");
	shpool_t *p = test_pool(path, SHPOOL_RAW, 4, 8, 0);
	static const char *const args[] = { "--count", "2", "--interval", "200", NULL };
	char first[512], second[512];
	FILE *f;
	pid_t pid = spawn_watch(&f, path, args);

	ck_assert(fgets(first, sizeof(first), f) != NULL);
	for (int i = 0; i < 300; i++)
		ck_assert_int_eq(shpool_free(p, (uint64_t)shpool_alloc(p, 0)), 0);
	ck_assert(fgets(second, sizeof(second), f) != NULL);
	ck_assert_int_eq(test_wait(pid), 0);
	fclose(f);
	assert_has(first, "\"allocs_per_s\":null");
	assert_has(second, "\"allocs\":300,\"frees\":300,\"waits\":0,");
	assert_has(second, "\"waits_per_s\":0}");
	/* 300 over the time between the samples (time_ms: the wall clock,
	 * the rates: the monotonic one; they agree within a few ms). */
	{
		char both[1100];

		snprintf(both, sizeof(both), "%s%s", first, second);
		assert_python(both, "t0 = docs[0]['time_ms']; d = docs[1]\n"
				    "rate = 300 * 1000 / (d['time_ms'] - t0)\n"
				    "assert abs(d['allocs_per_s'] - rate) < 0.1 * rate, (d, rate)\n"
				    "assert d['frees_per_s'] == d['allocs_per_s']");
	}
	shpool_close(p);
	free(path);
}
END_TEST

/* Several pools at once: each in turn, the worst exit status. */
START_TEST(stats_many)
{
	char *a = test_path("a"), *b = test_path("b"), *missing = test_path("missing");
	shpool_t *pa = test_pool(a, SHPOOL_RAW, 10, 8, 0), *pb = test_pool(b, SHPOOL_I64, 20, 0, 0);
	char want[512];
	struct run r;

	ck_assert_int_ge(shpool_alloc(pb, 0), 0);
	r = tool("stats", a, b, NULL);
	assert_ok(r);
	snprintf(want, sizeof(want), "path        %s\ncapacity    10\n", a);
	assert_has(r.out, want);
	snprintf(want, sizeof(want), "\npath        %s\ncapacity    20\n", b);
	assert_has(r.out, want);
	run_free(&r);

	r = tool("stats", "--format=json", a, b, NULL);
	assert_ok(r);
	assert_json_lines(r.out, 2);
	assert_python(r.out, "assert [x['used'] for x in docs] == [0, 1]");
	run_free(&r);

	r = tool("stats", "--json", a, missing, b, NULL);
	ck_assert_int_eq(r.status, 2);
	assert_json_lines(r.out, 2);
	assert_has(r.err, "No such file or directory");
	run_free(&r);

	r = tool("info", a, b, NULL);
	assert_error(r, "unexpected argument");
	run_free(&r);
	r = tool("stats", "--format=xml", a, NULL);
	assert_error(r, "--format: 'xml' is not text, json, prometheus or openmetrics");
	run_free(&r);
	r = tool("stats", "--json", "--format=openmetrics", a, NULL);
	assert_error(r, "--json and --format=openmetrics do not go together");
	run_free(&r);
	r = tool("stats", "--format=prometheus", "--json", a, NULL);
	assert_error(r, "--json and --format=prometheus do not go together");
	run_free(&r);
	r = tool("info", "--format=json", a, NULL);
	assert_error(r, "--format does not apply to this command");
	run_free(&r);
	shpool_close(pa);
	shpool_close(pb);
	free(a);
	free(b);
	free(missing);
}
END_TEST

/* Help says which commands change the pool. */
START_TEST(help_says_readonly)
{
	struct run r = tool("--help", NULL);

	assert_ok(r);
	assert_has(r.out, "free the slots of dead processes [changes the pool]\n");
	assert_has(r.out, "free every slot (the pool must be idle) [changes the pool]\n");
	assert_lacks(r.out, "cross-check the pool; exit 1 on problems [changes");
	assert_has(r.out, "(SHPOOL_RDONLY), so read permission on the file is enough");
	run_free(&r);
	r = tool("info", "--help", NULL);
	assert_has(r.out, "Read-only: attaches the pool read-only");
	run_free(&r);
	r = tool("recover", "--help", NULL);
	assert_has(r.out, "Changes the pool: needs write permission");
	run_free(&r);
	r = tool("create", "--help", NULL);
	assert_has(r.out, "Creates the file: needs write permission on its directory");
	run_free(&r);
	r = tool("rm", "--help", NULL);
	assert_has(r.out, "Removes the file: needs write permission on its directory");
	run_free(&r);
}
END_TEST

/* Without --count it runs until SIGINT, which is a normal end (exit 0). */
START_TEST(watch_until_sigint)
{
	char *path = test_path("pool");
	shpool_t *p = test_pool(path, SHPOOL_RAW, 4, 8, 0);
	static const char *const args[] = { "--interval", "20", NULL };
	char buf[256];
	FILE *f;
	pid_t pid = spawn_watch(&f, path, args);

	/* Two samples read: it is running and looping. */
	ck_assert(fgets(buf, sizeof(buf), f) != NULL);
	assert_has(buf, "\"used\":0,");
	ck_assert(fgets(buf, sizeof(buf), f) != NULL);
	ck_assert_int_eq(kill(pid, SIGINT), 0);
	ck_assert_int_eq(test_wait(pid), 0);
	fclose(f);
	shpool_close(p);
	free(path);
}
END_TEST

/* A user who may only read the pool (as root: nobody, on a root-owned
 * 0644 pool in a 0755 directory; else: us, on a 0444 pool) runs every
 * read-only command, and is refused only by those that change the pool. */
START_TEST(unprivileged_reader)
{
	char dir[] = "/tmp/shpool-tool-XXXXXX", path[64];
	shpool_options o = { .mode = geteuid() == 0 ? 0644 : 0444 };
	const char *readers[][3] = { { "info", NULL }, { "stats", NULL }, { "ls", "--data" },
				     { "check", NULL }, { "watch", "--count=1" },
				     { "stats", "--format=openmetrics" },
				     { "stats", "--format=prometheus" } };
	shpool_t *p;
	struct run r;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/pool", dir);
	ck_assert_int_eq(shpool_create(&p, path, SHPOOL_I64, 16, 0, &o), 0);
	ck_assert_int_ge(shpool_alloc_set_i64(p, 4321, 0), 0);
	if (geteuid() == 0)
		tool_reachable_in(dir);
	as_nobody = true;
	for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++) {
		r = readers[i][1] ? tool(readers[i][0], readers[i][1], path, NULL)
				  : tool(readers[i][0], path, NULL);
		ck_assert_msg(r.status == 0, "%s as a reader: exit %d: %s", readers[i][0], r.status,
			      r.err);
		run_free(&r);
	}
	r = tool("ls", "--data", path, NULL);
	assert_has(r.out, "4321");
	run_free(&r);
	r = tool("recover", path, NULL);
	assert_error(r, "Permission denied: recover changes the pool and needs write permission");
	run_free(&r);
	r = tool("reset", "--force", path, NULL);
	assert_error(r, "Permission denied: reset changes the pool and needs write permission");
	run_free(&r);
	/* As root, the reader is nobody in root's 0755 directory: it may
	 * neither make a pool there nor remove one (unlink needs the
	 * directory's write permission, which it lacks). */
	if (geteuid() == 0) {
		char other[80];

		r = tool("rm", "--force", path, NULL); /* we hold a slot */
		assert_error(r, "unlink: Permission denied");
		run_free(&r);
		snprintf(other, sizeof(other), "%s/other", dir);
		r = tool("create", "--kind=i64", "--capacity=4", other, NULL);
		assert_error(r, "Permission denied");
		run_free(&r);
		ck_assert_int_eq(access(other, F_OK), -1);
	}
	as_nobody = false;
	ck_assert_uint_eq(shpool_used(p), 1);
	shpool_close(p);
	unlink(path);
	if (tool_copied) {
		unlink(tool_path);
		snprintf(path, sizeof(path), "%s/libshpool.so.1", dir);
		unlink(path);
		unsetenv("LD_LIBRARY_PATH");
		free((char *)tool_path);
		tool_path = SHPOOL_TOOL;
		tool_copied = false;
	}
	rmdir(dir);
}
END_TEST

static Suite *tool_suite(void)
{
	Suite *s = suite_create("tool");
	TCase *cli = tcase_create("cli");
	TCase *cmds = tcase_create("commands");

	tcase_add_test(cli, version_and_help);
	tcase_add_test(cli, usage_errors);
	tcase_add_test(cli, attach_errors);
	tcase_add_loop_test(cmds, info_every_kind, 0, sizeof(kinds) / sizeof(kinds[0]));
	tcase_add_test(cmds, stats_counts);
	tcase_add_test(cmds, ls_owners);
	tcase_add_test(cmds, ls_data_typed);
	tcase_add_test(cmds, ls_data_bytes);
	tcase_add_test(cmds, json_escapes_path);
	tcase_add_test(cmds, check_and_recover_dead_owner);
	tcase_add_test(cmds, reset_forced);
	tcase_add_test(cmds, create_round_trip);
	tcase_add_test(cmds, create_options);
	tcase_add_test(cli, create_rm_usage_errors);
	tcase_add_test(cmds, rm_live_holder);
	tcase_add_test(cmds, rm_dead_holders);
	tcase_add_test(cmds, watch_counted);
	tcase_add_test(cmds, watch_until_sigint);
	tcase_add_test(cmds, watch_rates);
	tcase_add_test(cmds, stats_many);
	tcase_add_test(cli, help_says_readonly);
	tcase_add_test(cmds, unprivileged_reader);
	tcase_set_timeout(cli, 30);
	tcase_set_timeout(cmds, 60);
	suite_add_tcase(s, cli);
	suite_add_tcase(s, cmds);
	return s;
}

int main(void)
{
	return test_run_suite(tool_suite());
}

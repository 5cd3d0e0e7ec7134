/* SPDX-License-Identifier: MIT */
/* JSON output (one line per object) and quoting for human output. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "tool.h"

void json_init(struct json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

static void write_string(FILE *f, const char *s, size_t len);

/* The separator and "key": before a value at the current depth. */
static void json_key(struct json *j, const char *key)
{
	if (j->comma[j->depth])
		fputc(',', j->f);
	j->comma[j->depth] = true;
	if (key) {
		write_string(j->f, key, strlen(key));
		fputc(':', j->f);
	}
}

void json_open(struct json *j, const char *key, char bracket)
{
	json_key(j, key);
	fputc(bracket, j->f);
	/* Our objects nest three deep at most; the bound only keeps a
	 * mistake from writing past the array. */
	if (j->depth + 1 < sizeof(j->comma) / sizeof(j->comma[0]))
		j->depth++;
	j->comma[j->depth] = false;
}

void json_close(struct json *j, char bracket)
{
	fputc(bracket, j->f);
	if (j->depth)
		j->depth--;
}

void json_u64(struct json *j, const char *key, uint64_t v)
{
	json_key(j, key);
	fprintf(j->f, "%" PRIu64, v);
}

void json_i64(struct json *j, const char *key, int64_t v)
{
	json_key(j, key);
	fprintf(j->f, "%" PRId64, v);
}

void json_f64(struct json *j, const char *key, double v)
{
	if (isnan(v) || isinf(v)) {
		const char *s = isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";

		json_key(j, key);
		fprintf(j->f, "\"%s\"", s);
		return;
	}
	json_key(j, key);
	/* 17 significant digits: the double round-trips exactly. */
	fprintf(j->f, "%.17g", v);
}

void json_bool(struct json *j, const char *key, bool v)
{
	json_key(j, key);
	fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j, const char *key)
{
	json_key(j, key);
	fputs("null", j->f);
}

void json_str(struct json *j, const char *key, const char *s)
{
	json_strn(j, key, s, strlen(s));
}

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp, min;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, cp = s[0] & 0x1f, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, cp = s[0] & 0x0f, min = 0x800;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, cp = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* JSON text must be UTF-8: well-formed sequences pass through, control
 * characters are escaped, and a byte that is not UTF-8 becomes U+FFFD
 * (paths and STR slots are bytes; JSON cannot carry those exactly). */
static void write_string(FILE *f, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	fputc('"', f);
	for (size_t i = 0; i < len;) {
		size_t n = utf8_len(u + i, len - i);

		if (n == 0) {
			fputs("\\ufffd", f);
			i++;
			continue;
		}
		if (n > 1) {
			fwrite(u + i, 1, n, f);
			i += n;
			continue;
		}
		switch (u[i]) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (u[i] < 0x20)
				fprintf(f, "\\u%04x", u[i]);
			else
				fputc(u[i], f);
		}
		i++;
	}
	fputc('"', f);
}

void json_strn(struct json *j, const char *key, const char *s, size_t len)
{
	json_key(j, key);
	write_string(j->f, s, len);
}

void json_end(struct json *j)
{
	fputc('\n', j->f);
	j->depth = 0;
	j->comma[0] = false;
}

void print_quoted(FILE *f, const char *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* SPDX-License-Identifier: MIT */
/*
 * Runs a fuzz target over files, without libFuzzer: over the arguments, or
 * with none over its seed corpus, $srcdir/tests/fuzz/FUZZ_CORPUS/ (how
 * `make check` runs it, with any compiler). A broken promise abort()s.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rbe");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	do {
		if (len == cap) {
			cap = cap ? 2 * cap : 4096;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	const char *srcdir = getenv("srcdir") ? getenv("srcdir") : ".";
	char dir[4096], path[8192];
	struct dirent *e;
	int files = 0, bad = 0;
	DIR *d;

	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			bad |= run_file(argv[i]);
		return bad;
	}
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/%s", srcdir, FUZZ_CORPUS);
	d = opendir(dir);
	if (!d) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return 1;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		bad |= run_file(path);
		files++;
	}
	closedir(d);
	printf("%s: %d inputs replayed\n", FUZZ_CORPUS, files);
	return bad || files == 0;
}

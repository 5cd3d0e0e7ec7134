/* SPDX-License-Identifier: MIT */
/*
 * mkpool PATH KIND CAPACITY ELEM_SIZE NALLOC NFREE: make a pool for a script
 * test (KIND by its shpool_kind_name), allocate NALLOC slots, free NFREE of
 * them and exit holding the rest, as a process that died would. Prints
 * nothing; exit status 0, or 1 with the library's detail on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shpool.h"

static int kind_by_name(const char *name)
{
	for (int k = 1; shpool_kind_name((shpool_kind)k); k++)
		if (strcmp(shpool_kind_name((shpool_kind)k), name) == 0)
			return k;
	return -1;
}

static int fail(const char *what)
{
	fprintf(stderr, "mkpool: %s: %s\n", what, shpool_last_error());
	return 1;
}

int main(int argc, char **argv)
{
	shpool_t *p;
	int kind;
	unsigned long n, nfree;

	if (argc != 7 || (kind = kind_by_name(argv[2])) < 0) {
		fprintf(stderr, "usage: mkpool PATH KIND CAPACITY ELEM_SIZE NALLOC NFREE\n");
		return 2;
	}
	if (shpool_create(&p, argv[1], (shpool_kind)kind, strtoull(argv[3], NULL, 10),
			  (uint32_t)strtoul(argv[4], NULL, 10), NULL) < 0)
		return fail("create");
	n = strtoul(argv[5], NULL, 10);
	nfree = strtoul(argv[6], NULL, 10);
	for (unsigned long i = 0; i < n; i++) {
		int64_t slot = shpool_alloc(p, 0);

		if (slot < 0)
			return fail("alloc");
		if (i < nfree && shpool_free(p, (uint64_t)slot) < 0)
			return fail("free");
	}
	shpool_close(p);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Attaching a pool whose kind the tool does not know in advance:
 * SHPOOL_ANY_KIND takes whatever kind the segment records, and the library
 * says what is wrong when it cannot (not a pool, a kind it does not know).
 * Commands that only look attach read-only (SHPOOL_RDONLY), so read
 * permission on the file is enough for them, and a slip in the tool can
 * never change a pool it was asked to inspect.
 */
#include "tool.h"

int tool_open(const struct tool *t, bool writes, shpool_t **out)
{
	int rc = shpool_attach(out, t->path, SHPOOL_ANY_KIND, writes ? 0 : SHPOOL_RDONLY);

	return rc < 0 ? tool_fail(t, rc) : EXIT_OK;
}

const char *tool_kind_name(shpool_t *p)
{
	const char *name = shpool_kind_name((shpool_kind)shpool_kind_of(p));

	return name ? name : "unknown";
}

/* SPDX-License-Identifier: MIT */
/*
 * Attaching a pool whose kind the tool does not know in advance.
 *
 * shpool_open() needs the kind, and the public API has no call that reads
 * it from the segment. So try each kind in turn. The library checks the
 * file, the magic and the layout version before the kind, and refuses a
 * wrong kind with -EINVAL and a "kind mismatch" detail; any other failure
 * (no such file, permission, not a pool, corrupt header) is the same for
 * every kind, or concerns the right kind, and is reported as itself at once.
 */
#include <errno.h>
#include <string.h>

#include "tool.h"

static const shpool_kind kinds[] = { SHPOOL_RAW, SHPOOL_I64, SHPOOL_I32, SHPOOL_F64, SHPOOL_STR };

const char *tool_kind_name(int kind)
{
	switch (kind) {
	case SHPOOL_RAW: return "RAW";
	case SHPOOL_I64: return "I64";
	case SHPOOL_I32: return "I32";
	case SHPOOL_F64: return "F64";
	case SHPOOL_STR: return "STR";
	}
	return "unknown";
}

static bool kind_mismatch(int rc)
{
	return rc == -EINVAL && strstr(shpool_last_error(), "kind mismatch") != NULL;
}

int tool_open(const struct tool *t, shpool_t **out)
{
	int rc = -EINVAL;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		rc = shpool_open(out, t->path, kinds[i]);
		if (rc == 0)
			return EXIT_OK;
		if (!kind_mismatch(rc))
			return tool_fail(t, rc);
	}
	/* Every kind this library knows was refused: the segment names
	 * another one (a newer library's pool, or a damaged header). */
	fprintf(stderr, "shpool: %s: a pool of a kind that libshpool %s does not know "
		"(newer library, or damaged header)\n", t->path, shpool_version());
	return EXIT_ERROR;
}

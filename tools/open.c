/* SPDX-License-Identifier: MIT */
/*
 * Attaching a pool whose kind the tool does not know in advance:
 * SHPOOL_ANY_KIND takes whatever kind the segment records, and the library
 * says what is wrong when it cannot (not a pool, a kind it does not know).
 * Commands that only look attach read-only (SHPOOL_RDONLY), so read
 * permission on the file is enough for them, and a slip in the tool can
 * never change a pool it was asked to inspect.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "tool.h"

int tool_open(const struct tool *t, bool writes, shpool_t **out)
{
	int rc = shpool_attach(out, t->path, SHPOOL_ANY_KIND, writes ? 0 : SHPOOL_RDONLY);

	/* The library's hint (SHPOOL_RDONLY) is for programs; a user of the
	 * tool needs to hear that this command writes. */
	if (rc == -EACCES && writes) {
		fprintf(stderr, "shpool: %s: Permission denied: %s changes the pool and needs "
			"write permission on the file\n", t->path, t->cmd);
		return EXIT_ERROR;
	}
	return rc < 0 ? tool_fail(t, rc) : EXIT_OK;
}

const char *tool_kind_name(shpool_t *p)
{
	const char *name = shpool_kind_name((shpool_kind)shpool_kind_of(p));

	return name ? name : "unknown";
}

/* The state letter of /proc/PID/stat, or 0 if unreadable. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p, state = 0;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold ')': the state follows the last one. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c", &state) != 1)
		return 0;
	return state;
}

const char *tool_pid_state(pid_t pid)
{
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return "dead";
	if (proc_state(pid) == 'Z')
		return "zombie";
	return "alive"; /* exists (EPERM: someone else's, but it exists) */
}

/* SPDX-License-Identifier: MIT */
/*
 * shpool create, shpool rm: make a pool file from the shell, and remove one
 * that nobody alive holds slots in.
 *
 * create is shpool_create(), which already attaches a pool of the asked
 * geometry found at the path and refuses any other (with the library's
 * message, which names what differs): so it can run before every start of
 * a service. Whether the pool was made or found is told by the file: one
 * with content before the call and the same inode after was found.
 *
 * rm attaches read-only, so read permission is enough to look for holders,
 * and removes with unlink(2) (which needs the directory's permission, not
 * the file's). The holders are the owners of the allocated slots, judged
 * alive or dead by their PID as `shpool ls` does: a recycled PID looks
 * alive, which refuses a removal that was safe, never the other way. The
 * file removed is the one checked unless it is replaced in the instant
 * between the last lstat(2) and unlink(2): a name cannot be unlinked by
 * inode.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"

/* The pool's kind, geometry, mapping and file mode, as JSON members or
 * as text after "PATH: created" / "PATH: found". */
static void describe(const struct tool *t, shpool_t *p, const struct stat *st, bool created)
{
	size_t page = shpool_page_size(p);
	bool huge = page > (size_t)sysconf(_SC_PAGESIZE);
	shpool_stats_t s;
	char mode[8];
	struct json j;

	if (shpool_stats(p, &s) < 0)
		s.mmap_size = 0; /* cannot fail on a pool just attached */
	snprintf(mode, sizeof(mode), "%04o", (unsigned)(st->st_mode & 07777));
	if (t->json) {
		json_init(&j, stdout);
		json_open(&j, NULL, '{');
		json_str(&j, "path", t->path);
		json_bool(&j, "created", created);
		json_str(&j, "kind", tool_kind_name(p));
		json_u64(&j, "capacity", shpool_capacity(p));
		json_u64(&j, "elem_size", shpool_elem_size(p));
		json_u64(&j, "mmap_size", s.mmap_size);
		json_u64(&j, "page_size", page);
		json_bool(&j, "huge_pages", huge);
		json_str(&j, "mode", mode);
		json_close(&j, '}');
		json_end(&j);
		return;
	}
	printf("%s: %s: %s, capacity %" PRIu64 ", elem_size %" PRIu32 ", mmap_size %" PRIu64
	       ", mode %s%s\n",
	       t->path, created ? "created" : "exists with this geometry, unchanged",
	       tool_kind_name(p), shpool_capacity(p), shpool_elem_size(p), s.mmap_size, mode,
	       huge ? ", huge pages" : "");
}

int cmd_create(const struct tool *t)
{
	shpool_options opts = { .mode = t->mode, .flags = t->flags };
	struct stat before, after;
	bool had_pool;
	shpool_t *p;
	int rc;

	/* A non-empty file there may be a pool of this geometry: found, if
	 * shpool_create() attaches that very file. (An empty one is made a
	 * pool in place: created.) */
	had_pool = stat(t->path, &before) == 0 && S_ISREG(before.st_mode) && before.st_size > 0;
	rc = shpool_create(&p, t->path, t->kind, t->capacity, (uint32_t)t->elem_size, &opts);
	if (rc < 0)
		return tool_fail(t, rc);
	if (stat(t->path, &after) < 0) {
		fprintf(stderr, "shpool: %s: stat after creating: %s\n", t->path, strerror(errno));
		shpool_close(p);
		return EXIT_ERROR;
	}
	describe(t, p, &after,
		 !(had_pool && before.st_dev == after.st_dev && before.st_ino == after.st_ino));
	shpool_close(p);
	return EXIT_OK;
}

/* The live processes holding slots: up to MAX_PIDS distinct PIDs shown. */
#define MAX_PIDS 16

struct holders {
	uint64_t slots;      /* allocated slots whose owner is alive */
	uint64_t dead_slots; /* ... whose owner is dead (or a zombie) */
	pid_t pids[MAX_PIDS];
	size_t npids;
	bool more_pids;      /* more than MAX_PIDS of them: not all in pids */
	pid_t last_pid;      /* slots come in runs of one owner */
	bool last_alive;
};

static int count_holder(shpool_t *p, uint64_t idx, void *arg)
{
	struct holders *h = arg;
	pid_t pid = shpool_owner(p, idx);
	size_t i;

	/* 0: freed meanwhile, or an owner record being rewritten by a free
	 * in progress; no holder to name. */
	if (pid <= 0)
		return 0;
	if (pid != h->last_pid) {
		h->last_pid = pid;
		h->last_alive = strcmp(tool_pid_state(pid), "alive") == 0;
	}
	if (!h->last_alive) {
		h->dead_slots++;
		return 0;
	}
	h->slots++;
	for (i = 0; i < h->npids && h->pids[i] != pid; i++)
		;
	if (i == h->npids) {
		if (h->npids < MAX_PIDS)
			h->pids[h->npids++] = pid;
		else
			h->more_pids = true;
	}
	return 0;
}

static void print_pids(FILE *f, const struct holders *h)
{
	for (size_t i = 0; i < h->npids; i++)
		fprintf(f, "%s%d", i ? ", " : "", (int)h->pids[i]);
	if (h->more_pids)
		fputs(", ...", f);
}

int cmd_rm(const struct tool *t)
{
	struct holders h = { .last_pid = -1 };
	struct stat checked = { 0 }, named; /* st_ino 0: no file (it appeared since) */
	struct json j;
	shpool_t *p;
	int rc;

	/* The library refuses a symbolic link; so does the lstat() below. */
	if (lstat(t->path, &checked) < 0 && errno != ENOENT) {
		fprintf(stderr, "shpool: %s: %s\n", t->path, strerror(errno));
		return EXIT_ERROR;
	}
	rc = tool_open(t, false, &p); /* says ENOENT, and why it is no pool */
	if (rc != EXIT_OK)
		return rc;
	rc = shpool_each_allocated(p, count_holder, &h);
	if (rc < 0) {
		rc = tool_fail(t, rc);
		shpool_close(p);
		return rc;
	}
	if (h.slots && !t->force) {
		fprintf(stderr, "shpool: %s: %" PRIu64 " slot%s held by live process%s (PID ",
			t->path, h.slots, h.slots == 1 ? "" : "s", h.npids == 1 ? "" : "es");
		print_pids(stderr, &h);
		fprintf(stderr, "): not removed (--force removes it anyway)\n");
		shpool_close(p);
		return EXIT_ERROR;
	}
	shpool_close(p);
	/* Remove the file that was checked, not one put at its name since. */
	if (lstat(t->path, &named) < 0 || checked.st_dev != named.st_dev ||
	    checked.st_ino != named.st_ino) {
		fprintf(stderr, "shpool: %s: replaced while it was being checked: not removed\n",
			t->path);
		return EXIT_ERROR;
	}
	if (unlink(t->path) < 0) {
		fprintf(stderr, "shpool: %s: unlink: %s\n", t->path, strerror(errno));
		return EXIT_ERROR;
	}
	if (t->json) {
		json_init(&j, stdout);
		json_open(&j, NULL, '{');
		json_str(&j, "path", t->path);
		json_bool(&j, "removed", true);
		json_u64(&j, "live_slots", h.slots);
		json_open(&j, "live_pids", '[');
		for (size_t i = 0; i < h.npids; i++)
			json_i64(&j, NULL, h.pids[i]);
		json_close(&j, ']');
		json_bool(&j, "live_pids_truncated", h.more_pids);
		json_u64(&j, "dead_slots", h.dead_slots);
		json_close(&j, '}');
		json_end(&j);
		return EXIT_OK;
	}
	printf("%s: removed", t->path);
	if (h.slots) {
		printf(" (forced: %" PRIu64 " slot%s held by live PID ", h.slots,
		       h.slots == 1 ? "" : "s");
		print_pids(stdout, &h);
		putchar(')');
	}
	if (h.dead_slots)
		printf(" (%" PRIu64 " slot%s held by dead processes)", h.dead_slots,
		       h.dead_slots == 1 ? "" : "s");
	putchar('\n');
	return EXIT_OK;
}

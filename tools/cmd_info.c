/* SPDX-License-Identifier: MIT */
/* shpool info, shpool stats: what the pool is, and how full (the
 * Prometheus and OpenMetrics forms of stats are in cmd_metrics.c). */
#include <inttypes.h>
#include <unistd.h>

#include "tool.h"

int cmd_info(const struct tool *t, shpool_t *p)
{
	int kind = shpool_kind_of(p);
	/* Pages larger than the system's are huge pages (hugetlb): the
	 * library reports no others (shpool_page_size(3)). */
	size_t page = shpool_page_size(p);
	bool huge = page > (size_t)sysconf(_SC_PAGESIZE);
	shpool_stats_t st;
	struct json j;
	int rc;

	rc = shpool_stats(p, &st);
	if (rc < 0)
		return tool_fail(t, rc);
	if (t->json) {
		json_init(&j, stdout);
		json_open(&j, NULL, '{');
		json_str(&j, "path", t->path);
		json_str(&j, "kind", tool_kind_name(p));
		json_u64(&j, "capacity", shpool_capacity(p));
		json_u64(&j, "elem_size", shpool_elem_size(p));
		if (kind == SHPOOL_STR)
			json_u64(&j, "max_len", shpool_str_max_len(p));
		json_u64(&j, "stride", shpool_stride(p));
		json_u64(&j, "mmap_size", st.mmap_size);
		json_u64(&j, "page_size", page);
		json_bool(&j, "huge_pages", huge);
		json_str(&j, "library_version", shpool_version());
		json_close(&j, '}');
		json_end(&j);
		return EXIT_OK;
	}
	printf("path       %s\n", t->path);
	printf("kind       %s\n", tool_kind_name(p));
	printf("capacity   %" PRIu64 "\n", shpool_capacity(p));
	printf("elem_size  %" PRIu32 "\n", shpool_elem_size(p));
	if (kind == SHPOOL_STR)
		printf("max_len    %zu\n", shpool_str_max_len(p));
	printf("stride     %zu\n", shpool_stride(p));
	printf("mmap_size  %" PRIu64 "\n", st.mmap_size);
	printf("page_size  %zu%s\n", page, huge ? " (huge pages)" : "");
	printf("library    %s\n", shpool_version());
	return EXIT_OK;
}

int cmd_stats(const struct tool *t, shpool_t *p)
{
	shpool_stats_t st;
	struct json j;
	int rc;

	rc = shpool_stats(p, &st);
	if (rc < 0)
		return tool_fail(t, rc);
	const struct {
		const char *name;
		uint64_t v;
	} f[] = {
		{ "capacity", st.capacity }, { "elem_size", st.elem_size },
		{ "used", st.used },	     { "available", st.available },
		{ "waiters", st.waiters },   { "mmap_size", st.mmap_size },
		{ "allocs", st.allocs },     { "frees", st.frees },
		{ "waits", st.waits },	     { "timeouts", st.timeouts },
		{ "recoveries", st.recoveries }, { "reset_frees", st.reset_frees },
	};
	size_t n = sizeof(f) / sizeof(f[0]);

	if (t->json) {
		json_init(&j, stdout);
		json_open(&j, NULL, '{');
		json_str(&j, "path", t->path);
		for (size_t i = 0; i < n; i++)
			json_u64(&j, f[i].name, f[i].v);
		json_close(&j, '}');
		json_end(&j);
		return EXIT_OK;
	}
	/* Several pools: say whose numbers follow, a blank line between. */
	if (t->npaths > 1)
		printf("%s%-11s %s\n", t->path == t->paths[0] ? "" : "\n", "path", t->path);
	for (size_t i = 0; i < n; i++)
		printf("%-11s %" PRIu64 "\n", f[i].name, f[i].v);
	return EXIT_OK;
}

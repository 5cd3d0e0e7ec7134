/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/pages.c, huge pages and pre-faulting: SHPOOL_HUGEPAGES,
 * _PREFER and SHPOOL_POPULATE, with real processes.
 *
 * Pools on huge pages of every backing (anonymous, memfd, a file on
 * hugetlbfs) allocate, are shared with a child, recover a killed child's
 * slots and give every huge page back when closed. A shortage is -ENOMEM
 * with the command that would end it; _PREFER then falls back. A populated
 * mapping takes no page fault on first touch.
 *
 * Huge pages must be reserved for the positive tests: as root this program
 * reserves what it lacks (and gives it back at exit); otherwise reserve
 * them first (CI does, .ci/run). It exits 77 only on a kernel without
 * hugetlb support. The hugetlbfs file tests use a mounted hugetlbfs, or
 * (root) one mounted here; where neither can be had they are left out,
 * and the program says so.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define HUGE_NEEDED 16 /* pages the positive tests hold at most at once */
#define NKILLED 5      /* slots a killed child holds */

static uint64_t hpage;    /* the default huge page size */
static char *hugefs;      /* a writable hugetlbfs directory, or NULL */

enum backing { ANON, MEMFD, FILEPOOL };
static const char *const backing_name[] = { "anonymous", "memfd", "hugetlbfs file" };

/* ---- the kernel's counters ------------------------------------------------ */

static int64_t meminfo(const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	int64_t v = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':')
			v = strtoll(line + klen + 1, NULL, 10);
	fclose(f);
	return v;
}

static int64_t read_num(const char *path)
{
	int64_t v = -1;
	FILE *f = fopen(path, "re");

	if (f) {
		if (fscanf(f, "%" SCNd64, &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static void write_num(const char *path, int64_t v)
{
	FILE *f = fopen(path, "we");

	if (!f || fprintf(f, "%" PRId64 "\n", v) < 0 || fclose(f) != 0) {
		fprintf(stderr, "check_pages: cannot write %" PRId64 " to %s: %s\n", v, path,
			strerror(errno));
		exit(EXIT_FAILURE);
	}
}

/* Huge pages nobody holds or has reserved: what a new pool can take,
 * counting those the kernel may add beyond the reserve (overcommit). */
static int64_t huge_available(void)
{
	int64_t over = read_num("/proc/sys/vm/nr_overcommit_hugepages");
	int64_t surp = meminfo("HugePages_Surp");

	return meminfo("HugePages_Free") - meminfo("HugePages_Rsvd") +
	       (over > surp ? over - surp : 0);
}

/* The size of the pages under address a, from /proc/self/smaps: the
 * kernel's own view, independent of what the library says. */
static uint64_t kernel_page_size(const void *a)
{
	uintptr_t at = (uintptr_t)a, lo, hi;
	bool in = false;
	char line[512];
	uint64_t kb = 0;
	FILE *f = fopen("/proc/self/smaps", "re");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		/* A mapping's first line; "Key: value" lines never parse so. */
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2)
			in = lo <= at && at < hi;
		else if (in && sscanf(line, "KernelPageSize: %" SCNu64 " kB", &kb) == 1)
			break;
	}
	fclose(f);
	ck_assert_msg(kb, "no KernelPageSize for %p in /proc/self/smaps", a);
	return kb << 10;
}

/* The huge page counters that must come back once a pool is closed. */
struct huge_count {
	int64_t free, rsvd;
};

static struct huge_count huge_count(void)
{
	return (struct huge_count){ meminfo("HugePages_Free"), meminfo("HugePages_Rsvd") };
}

static void assert_huge_back(struct huge_count before, const char *what)
{
	struct huge_count now = huge_count();

	ck_assert_msg(now.free == before.free && now.rsvd == before.rsvd,
		      "%s: HugePages_Free %" PRId64 " and _Rsvd %" PRId64 " after, %" PRId64
		      " and %" PRId64 " before: huge pages leaked", what, now.free, now.rsvd,
		      before.free, before.rsvd);
}

/* ---- making pools ------------------------------------------------------------ */

static char *pool_path(enum backing b)
{
	char *path;

	if (b != FILEPOOL)
		return NULL;
	ck_assert_int_ge(asprintf(&path, "%s/pool-%d", hugefs, (int)getpid()), 0);
	return path;
}

static int make(shpool_t **p, enum backing b, const char *path, uint64_t cap, uint32_t es,
		unsigned flags)
{
	shpool_options o = { .flags = flags };

	if (b == MEMFD)
		return shpool_create_memfd(p, "huge", SHPOOL_RAW, cap, es, &o);
	return shpool_create(p, path, SHPOOL_RAW, cap, es, &o);
}

/* The pool's own attach in a child: a fresh mapping for file and memfd
 * pools, the inherited one for an anonymous pool. */
static shpool_t *child_view(enum backing b, shpool_t *p, const char *path)
{
	shpool_t *c = p;

	if (b == FILEPOOL && shpool_open(&c, path, SHPOOL_RAW) < 0)
		_exit(10);
	if (b == MEMFD && shpool_open_fd(&c, shpool_memfd(p), SHPOOL_RAW) < 0)
		_exit(11);
	return c;
}

/* ---- huge pools of every backing ----------------------------------------------- */

START_TEST(every_backing)
{
	enum backing b = (enum backing)_i;
	struct huge_count before = huge_count();
	char *path = pool_path(b);
	uint64_t cap = 16384, s[2];
	shpool_stats_t st;
	shpool_t *p;
	pid_t pid;
	int rc;

	/* 4 MiB of data: three huge pages, whose borders slots straddle. */
	rc = make(&p, b, path, cap, 256, SHPOOL_HUGEPAGES);
	ck_assert_msg(rc == 0, "%s pool on huge pages: %s (%s)", backing_name[b],
		      shpool_strerror(rc), shpool_last_error());
	ck_assert_uint_eq(shpool_page_size(p), hpage);
	ck_assert_uint_eq(kernel_page_size(shpool_data_ptr(p)), hpage);
	ck_assert_uint_eq(kernel_page_size(shpool_ptr(p, cap - 1)), hpage);
	ck_assert_int_eq(shpool_stats(p, &st), 0);
	ck_assert_uint_eq(st.mmap_size % hpage, 0);
	ck_assert_uint_ge(st.mmap_size, cap * 256);

	/* Allocate; the slots are the pool's, the data where it belongs. */
	for (int i = 0; i < 2; i++) {
		s[i] = (uint64_t)shpool_alloc(p, 0);
		ck_assert_int_lt((int64_t)s[i], (int64_t)cap);
	}
	memset(shpool_ptr(p, s[0]), 0xab, 256);

	/* A child sees the parent's bytes, writes its own into the parent's
	 * second slot, takes NKILLED slots and is killed holding them. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		shpool_t *c = child_view(b, p, path);

		if (shpool_page_size(c) != hpage)
			_exit(12);
		if (((unsigned char *)shpool_ptr(c, s[0]))[255] != 0xab)
			_exit(13);
		memset(shpool_ptr(c, s[1]), 0xcd, 256);
		for (int i = 0; i < NKILLED; i++)
			if (shpool_alloc(c, 0) < 0)
				_exit(14);
		raise(SIGKILL);
		_exit(15);
	}
	ck_assert_int_eq(test_wait(pid), 128 + SIGKILL);
	ck_assert_uint_eq(((unsigned char *)shpool_ptr(p, s[1]))[0], 0xcd);
	ck_assert_uint_eq(shpool_used(p), 2 + NKILLED);
	ck_assert_int_eq(shpool_recover_stale(p), NKILLED);
	ck_assert_uint_eq(shpool_used(p), 2);
	ck_assert_int_eq(shpool_check(p, NULL), 0);
	ck_assert_int_eq(shpool_free(p, s[0]), 0);
	ck_assert_int_eq(shpool_free(p, s[1]), 0);

	if (b == FILEPOOL)
		ck_assert_int_eq(shpool_unlink(p), 0);
	shpool_close(p);
	assert_huge_back(before, backing_name[b]);
	free(path);
}
END_TEST

/* shpool info shows what the pool is backed by, as the tool maps it. */
START_TEST(info_shows_huge_pages)
{
	char *path = pool_path(FILEPOOL), *cmd, out[4096] = "", want[64];
	shpool_t *p;
	FILE *f;
	size_t n;

	ck_assert_int_eq(make(&p, FILEPOOL, path, 64, 8, SHPOOL_HUGEPAGES), 0);
	ck_assert_int_ge(asprintf(&cmd, "'%s' info '%s'", SHPOOL_TOOL, path), 0);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	ck_assert_int_eq(pclose(f), 0);
	snprintf(want, sizeof(want), "page_size  %" PRIu64 " (huge pages)\n", hpage);
	ck_assert_msg(strstr(out, want), "shpool info lacks \"%s\":\n%s", want, out);
	ck_assert_int_eq(shpool_unlink(p), 0);
	shpool_close(p);
	free(cmd);
	free(path);
}
END_TEST

/* ---- when there are too few -------------------------------------------------------- */

START_TEST(shortage)
{
	enum backing b = (enum backing)_i;
	struct huge_count before = huge_count();
	char *path = pool_path(b);
	int64_t avail = huge_available();
	/* One huge page more than can be had: slots of a page each. */
	uint64_t cap = (uint64_t)(avail + 1) * (hpage / 4096);
	shpool_t *p = NULL;
	struct stat sb;

	ck_assert_int_ge(avail, 0);
	ck_assert_fails(make(&p, b, path, cap, 4096, SHPOOL_HUGEPAGES), -ENOMEM,
			"nr_hugepages");
	ck_assert_msg(strstr(shpool_last_error(), "SHPOOL_HUGEPAGES_PREFER"),
		      "no word of the fallback in \"%s\"", shpool_last_error());
	ck_assert_ptr_null(p);
	if (path)
		ck_assert_msg(stat(path, &sb) < 0 && errno == ENOENT,
			      "a refused pool left %s", path);
	assert_huge_back(before, backing_name[b]);
	if (b == FILEPOOL) { /* a file on hugetlbfs has no other pages to fall back to */
		ck_assert_fails(make(&p, b, path, cap, 4096, SHPOOL_HUGEPAGES_PREFER), -ENOMEM,
				"nr_hugepages");
		free(path);
		return;
	}
	/* _PREFER: normal pages, and it says so. */
	ck_assert_int_eq(make(&p, b, path, cap, 4096, SHPOOL_HUGEPAGES_PREFER), 0);
	ck_assert_uint_eq(shpool_page_size(p), (uint64_t)sysconf(_SC_PAGESIZE));
	ck_assert_uint_eq(kernel_page_size(shpool_data_ptr(p)), (uint64_t)sysconf(_SC_PAGESIZE));
	ck_assert_int_ge(shpool_alloc(p, 0), 0);
	shpool_close(p);
	assert_huge_back(before, backing_name[b]);
}
END_TEST

/* A file pool off hugetlbfs cannot have huge pages: refused before any file
 * appears; _PREFER takes normal pages. */
START_TEST(file_not_on_hugetlbfs)
{
	char *path = test_path("tmpfs-pool");
	shpool_t *p = NULL;
	struct stat sb;

	ck_assert_fails(make(&p, ANON, path, 64, 8, SHPOOL_HUGEPAGES), -EINVAL, "hugetlbfs");
	ck_assert_ptr_null(p);
	ck_assert_msg(stat(path, &sb) < 0 && errno == ENOENT, "a refused pool left %s", path);
	ck_assert_int_eq(make(&p, ANON, path, 64, 8, SHPOOL_HUGEPAGES_PREFER), 0);
	ck_assert_uint_eq(shpool_page_size(p), (uint64_t)sysconf(_SC_PAGESIZE));
	shpool_close(p);
	/* The existing pool, attached by a strict creator: refused as well. */
	ck_assert_fails(make(&p, ANON, path, 64, 8, SHPOOL_HUGEPAGES), -EINVAL, "hugetlbfs");
	free(path);
}
END_TEST

/* ---- SHPOOL_POPULATE ------------------------------------------------------------- */

static long minflt(void)
{
	struct rusage ru;

	ck_assert_int_eq(getrusage(RUSAGE_THREAD, &ru), 0);
	return ru.ru_minflt;
}

/* Page faults taken by writing (or reading) one byte of every page of the
 * pool's data region. Not instrumented by AddressSanitizer: its check of
 * each access reads shadow memory, whose first reads fault too and would
 * be counted as the pool's. */
__attribute__((no_sanitize_address)) static long touch_faults(shpool_t *p, bool write)
{
	volatile unsigned char *d = shpool_data_ptr(p);
	size_t len = shpool_capacity(p) * shpool_stride(p), step = 4096;
	long before;
	unsigned sum = 0;

	minflt(); /* the call itself faults nothing new the second time */
	before = minflt();
	for (size_t off = 0; off < len; off += step) {
		if (write)
			d[off] = 1;
		else
			sum += d[off];
	}
	(void)sum;
	return minflt() - before;
}

/* Pages of the pool's data region that this process's page table does not
 * map (/proc/self/pagemap, bit 63 "present"): those a first touch would
 * fault in. Exact whoever else takes faults in the process. */
static long pages_absent(shpool_t *p)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)shpool_data_ptr(p) & ~(page - 1);
	uintptr_t end = (uintptr_t)shpool_data_ptr(p) + shpool_capacity(p) * shpool_stride(p);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	long absent = 0;

	ck_assert_msg(fd >= 0, "/proc/self/pagemap: %s", strerror(errno));
	for (uintptr_t a = start; a < end; a += page) {
		uint64_t e;

		ck_assert_int_eq(pread(fd, &e, sizeof(e), (off_t)(a / page * sizeof(e))),
				 (ssize_t)sizeof(e));
		absent += !(e >> 63);
	}
	close(fd);
	return absent;
}

/* Under valgrind and the sanitizers the fault count is the tool's too
 * (memcheck's shadow memory, ASan's runtime): there the page table is
 * asked instead, and the touch still runs; natively both must hold. */
static bool tool_takes_faults(void)
{
	const char *pre = getenv("LD_PRELOAD");

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
	return true;
#endif
#endif
	return pre && strstr(pre, "/vgpreload_");
}

static void assert_no_faults(shpool_t *p, bool write, const char *what)
{
	long absent = pages_absent(p), n;

	ck_assert_msg(absent == 0, "%s: %ld pages not mapped after SHPOOL_POPULATE", what, absent);
	n = touch_faults(p, write);
	ck_assert_msg(n == 0 || tool_takes_faults(), "%s: %ld page faults on first touch", what, n);
}

#define POP_CAP 2048  /* slots of a page: 8 MiB */
#define POP_ES 4096

START_TEST(populate_faults_nothing)
{
	shpool_options pop = { .flags = SHPOOL_POPULATE };
	char *path = test_path("pop");
	shpool_t *p, *a;

	/* Without it every page is unmapped and faults on first touch: both
	 * measures work. */
	ck_assert_int_eq(shpool_create(&p, NULL, SHPOOL_RAW, POP_CAP, POP_ES, NULL), 0);
	ck_assert_int_ge(pages_absent(p), POP_CAP);
	ck_assert_int_ge(touch_faults(p, true), POP_CAP);
	ck_assert_int_eq(pages_absent(p), 0);
	shpool_close(p);

	ck_assert_int_eq(shpool_create(&p, NULL, SHPOOL_RAW, POP_CAP, POP_ES, &pop), 0);
	assert_no_faults(p, true, "anonymous, populated");
	shpool_close(p);

	ck_assert_int_eq(shpool_create_memfd(&p, "pop", SHPOOL_RAW, POP_CAP, POP_ES, &pop), 0);
	assert_no_faults(p, true, "memfd, populated");
	/* Attaching populates this process's new mapping too, writable or
	 * read-only. */
	ck_assert_int_eq(shpool_attach_fd(&a, shpool_memfd(p), SHPOOL_RAW, SHPOOL_POPULATE), 0);
	assert_no_faults(a, true, "memfd attached with SHPOOL_POPULATE");
	shpool_close(a);
	ck_assert_int_eq(shpool_attach_fd(&a, shpool_memfd(p), SHPOOL_RAW,
					  SHPOOL_POPULATE | SHPOOL_RDONLY), 0);
	assert_no_faults(a, false, "memfd attached read-only with SHPOOL_POPULATE");
	shpool_close(a);
	shpool_close(p);

	ck_assert_int_eq(shpool_create(&p, path, SHPOOL_RAW, POP_CAP, POP_ES, &pop), 0);
	assert_no_faults(p, true, "file, populated");
	ck_assert_int_eq(shpool_attach(&a, path, SHPOOL_RAW, SHPOOL_POPULATE), 0);
	assert_no_faults(a, true, "file attached with SHPOOL_POPULATE");
	shpool_close(a);
	shpool_close(p);
	free(path);
}
END_TEST

/* Huge pages populated: no fault either (one per huge page otherwise). */
START_TEST(populate_huge)
{
	shpool_options o = { .flags = SHPOOL_HUGEPAGES | SHPOOL_POPULATE };
	struct huge_count before = huge_count();
	shpool_t *p;
	int rc;

	rc = shpool_create(&p, NULL, SHPOOL_RAW, POP_CAP, POP_ES, &o);
	ck_assert_msg(rc == 0, "populated huge pool: %s", shpool_last_error());
	ck_assert_uint_eq(shpool_page_size(p), hpage);
	assert_no_faults(p, true, "anonymous on huge pages, populated");
	shpool_close(p);
	assert_huge_back(before, "populated anonymous");
}
END_TEST

/* Pre-faulting that fails is -ENOMEM, and nothing is left behind. */
START_TEST(populate_nomem)
{
	shpool_options pop = { .flags = SHPOOL_POPULATE };
	char *path = test_path("pop-fail");
	shpool_t *p = NULL, *ok;
	struct stat sb;

	ck_assert_int_eq(shpool_create_memfd(&ok, "ok", SHPOOL_RAW, 64, 8, NULL), 0);
	setenv("SHPOOL_FAULT_AT", "populate:12", 1);
	ck_assert_fails(shpool_create(&p, NULL, SHPOOL_RAW, 64, 8, &pop), -ENOMEM,
			"SHPOOL_POPULATE");
	ck_assert_fails(shpool_create_memfd(&p, "x", SHPOOL_RAW, 64, 8, &pop), -ENOMEM,
			"SHPOOL_POPULATE");
	ck_assert_fails(shpool_create(&p, path, SHPOOL_RAW, 64, 8, &pop), -ENOMEM,
			"SHPOOL_POPULATE");
	ck_assert_msg(stat(path, &sb) < 0 && errno == ENOENT, "a failed create left %s", path);
	ck_assert_fails(shpool_attach_fd(&p, shpool_memfd(ok), SHPOOL_RAW, SHPOOL_POPULATE),
			-ENOMEM, "SHPOOL_POPULATE");
	ck_assert_ptr_null(p);
	/* Without the fault the same calls work: it was the pre-faulting. */
	unsetenv("SHPOOL_FAULT_AT");
	ck_assert_int_eq(shpool_attach_fd(&p, shpool_memfd(ok), SHPOOL_RAW, SHPOOL_POPULATE), 0);
	shpool_close(p);
	shpool_close(ok);
	free(path);
}
END_TEST

START_TEST(flags_checked)
{
	shpool_t *p = NULL;

	/* POPULATE is an attach flag too; the bits around it are not. */
	ck_assert_fails(shpool_attach_fd(&p, 0, SHPOOL_RAW, 1u << 3), -EINVAL, "unknown flags 0x8");
	ck_assert_fails(shpool_attach(&p, "/nonexistent", SHPOOL_RAW, 1u << 5), -EINVAL,
			"unknown flags 0x20");
	ck_assert_ptr_null(p);
}
END_TEST

/* ---- set-up: reservations and a hugetlbfs ------------------------------------------- */

static int64_t saved_nr = -1;  /* nr_hugepages to restore at exit, -1: untouched */
static char *mounted;          /* the hugetlbfs this program mounted */

/* A writable hugetlbfs of the default page size already mounted. */
static char *find_hugetlbfs(void)
{
	char dev[256], dir[512], type[64], opts[512], *found = NULL;
	FILE *f = fopen("/proc/self/mounts", "re");

	while (f && !found &&
	       fscanf(f, "%255s %511s %63s %511s %*d %*d", dev, dir, type, opts) == 4) {
		char probe[600];
		int fd;

		struct statfs sf;

		/* Of the default huge page size: the one the tests reserve. */
		if (strcmp(type, "hugetlbfs") || statfs(dir, &sf) < 0 ||
		    (uint64_t)sf.f_bsize != hpage)
			continue;
		snprintf(probe, sizeof(probe), "%s/.shpool-probe-XXXXXX", dir);
		fd = mkstemp(probe);
		if (fd >= 0) {
			close(fd);
			unlink(probe);
			found = strdup(dir);
		}
	}
	if (f)
		fclose(f);
	return found;
}

static void set_up(void)
{
	int64_t avail = huge_available();

	if (avail < HUGE_NEEDED && geteuid() == 0) {
		saved_nr = read_num("/proc/sys/vm/nr_hugepages");
		write_num("/proc/sys/vm/nr_hugepages", saved_nr + HUGE_NEEDED - avail);
		avail = huge_available();
	}
	if (avail < HUGE_NEEDED)
		fprintf(stderr, "check_pages: %" PRId64 " huge pages available, the tests need %d: "
			"reserve them (as root: echo %" PRId64 " > /proc/sys/vm/nr_hugepages); "
			"the huge page tests will fail\n", avail, HUGE_NEEDED,
			meminfo("HugePages_Total") + HUGE_NEEDED - avail);
	hugefs = find_hugetlbfs();
	if (!hugefs && geteuid() == 0) {
		char tmpl[] = "/tmp/shpool-hugetlbfs.XXXXXX";

		if (mkdtemp(tmpl) && mount("none", tmpl, "hugetlbfs", 0, NULL) == 0)
			hugefs = mounted = strdup(tmpl);
		else
			fprintf(stderr, "check_pages: mounting hugetlbfs at %s: %s\n", tmpl,
				strerror(errno));
		if (!mounted)
			rmdir(tmpl);
	}
	if (!hugefs)
		fprintf(stderr, "check_pages: no writable hugetlbfs mount%s: file pools on huge "
			"pages NOT tested\n", geteuid() ? " and not root" : " could be made");
}

static void tear_down(void)
{
	if (mounted) {
		if (umount(mounted) == 0)
			rmdir(mounted);
		else
			fprintf(stderr, "check_pages: umount %s: %s\n", mounted, strerror(errno));
	}
	if (saved_nr >= 0)
		write_num("/proc/sys/vm/nr_hugepages", saved_nr);
}

static Suite *make_pages_suite(void)
{
	Suite *s = suite_create("pages");
	TCase *t = tcase_create("hugepages");

	tcase_set_timeout(t, 60);
	/* File pools only where a hugetlbfs could be had (said at start-up):
	 * a test that did not run is not counted as passed. */
	tcase_add_loop_test(t, every_backing, ANON, hugefs ? FILEPOOL + 1 : FILEPOOL);
	tcase_add_loop_test(t, shortage, ANON, hugefs ? FILEPOOL + 1 : FILEPOOL);
	tcase_add_test(t, file_not_on_hugetlbfs);
	if (hugefs)
		tcase_add_test(t, info_shows_huge_pages);
	suite_add_tcase(s, t);

	t = tcase_create("populate");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, populate_faults_nothing);
	tcase_add_test(t, populate_huge);
	tcase_add_test(t, populate_nomem);
	tcase_add_test(t, flags_checked);
	suite_add_tcase(s, t);
	return s;
}

/* The huge page counters are the whole system's: hold the lock
 * perl/t/14-hugepages.t holds too, so that under make -j check (the C tests
 * and the Perl ones run side by side) neither sees the other's pages come
 * and go in its leak checks. Held until exit. */
#define HUGE_LOCK "/tmp/libshpool-hugepages.lock"

static void lock_huge_pages(void)
{
	/* Never closed: the lock goes with the process. */
	int fd = open(HUGE_LOCK, O_RDONLY | O_CREAT | O_CLOEXEC, 0666);

	if (fd < 0 || flock(fd, LOCK_EX) < 0)
		fprintf(stderr, "check_pages: cannot lock %s (%s): running without it\n", HUGE_LOCK,
			strerror(errno));
}

int main(void)
{
	int rc;

	hpage = (uint64_t)(meminfo("Hugepagesize") > 0 ? meminfo("Hugepagesize") : 0) << 10;
	if (!hpage) {
		fprintf(stderr, "check_pages: this kernel has no hugetlb support: skipped\n");
		return 77;
	}
	lock_huge_pages();
	set_up();
	rc = test_run_suite(make_pages_suite());
	tear_down();
	return rc;
}

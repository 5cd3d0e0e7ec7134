/* SPDX-License-Identifier: MIT */
/*
 * The pages under a pool's mapping (issue 17): huge pages (hugetlb), how
 * many of them the kernel has in reserve, and pre-faulting. segment.c
 * decides where each is used; this file only asks the kernel.
 *
 * Huge pages come from a pool the administrator reserves
 * (/proc/sys/vm/nr_hugepages, or the per-size files under
 * /sys/kernel/mm/hugepages/): they are never swapped and never taken by
 * anyone else once a mapping or a hugetlbfs file holds them. Nothing here
 * changes that reservation; a shortage is reported with the command that
 * would end it.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "shpool-internal.h"

/* <linux/magic.h>, which not every libc's headers bring along. */
#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

uint64_t shpool_base_page(void)
{
	long v = sysconf(_SC_PAGESIZE);

	return v > 0 ? (uint64_t)v : 4096;
}

/* The value of "key: N" in a file of such lines (/proc/meminfo), or -1. */
static int64_t read_keyed(const char *path, const char *key)
{
	size_t klen = strlen(key);
	char line[256];
	int64_t v = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			if (sscanf(line + klen + 1, "%" SCNd64, &v) != 1)
				v = -1;
			break;
		}
	fclose(f);
	return v;
}

/* One number in a file of its own (sysfs), or -1. */
static int64_t read_number(const char *path)
{
	int64_t v = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	if (fscanf(f, "%" SCNd64, &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

uint64_t shpool_huge_page_size(void)
{
	/* Present exactly when the kernel has hugetlb support; in kB. */
	int64_t kb = read_keyed("/proc/meminfo", "Hugepagesize");

	return kb > 0 ? (uint64_t)kb << 10 : 0;
}

int shpool_fd_huge_page(int fd, uint64_t *hpage)
{
	struct statfs sf;
	int rc;

	do
		rc = fstatfs(fd, &sf);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	/* hugetlbfs (a memfd made with MFD_HUGETLB is one too) gives its
	 * page size as the block size. */
	*hpage = (unsigned long)sf.f_type == (unsigned long)HUGETLBFS_MAGIC && sf.f_bsize > 0
			 ? (uint64_t)sf.f_bsize
			 : 0;
	return 0;
}

int shpool_huge_nomem(const char *name, uint64_t bytes, uint64_t hpage)
{
	uint64_t need = (bytes + hpage - 1) / hpage, kb = hpage >> 10;
	bool dflt = hpage == shpool_huge_page_size();
	char dir[96], file[128], cmd[160];
	int64_t total, free_, resv, avail;

	/* The per-size counters; for the default size they are also
	 * HugePages_Total/Free/Rsvd in /proc/meminfo. */
	snprintf(dir, sizeof(dir), "/sys/kernel/mm/hugepages/hugepages-%" PRIu64 "kB", kb);
	snprintf(file, sizeof(file), "%s/nr_hugepages", dir);
	total = read_number(file);
	snprintf(file, sizeof(file), "%s/free_hugepages", dir);
	free_ = read_number(file);
	snprintf(file, sizeof(file), "%s/resv_hugepages", dir);
	resv = read_number(file);
	avail = free_ < 0 ? 0 : free_ - (resv > 0 ? resv : 0);
	if (avail < 0)
		avail = 0;
	/* Enough to cover this pool on top of what others hold now. */
	snprintf(cmd, sizeof(cmd), "echo %" PRIu64 " > %s%s",
		 (uint64_t)(total > 0 ? total : 0) +
			 (need > (uint64_t)avail ? need - (uint64_t)avail : need),
		 dflt ? "/proc/sys/vm" : dir, "/nr_hugepages");
	return shpool_fail(-ENOMEM, "%s: not enough huge pages: %" PRIu64 " pages of %" PRIu64
			   " kB needed, %" PRId64 " available (%" PRId64 " reserved in all); "
			   "reserve more as root (%s), or pass SHPOOL_HUGEPAGES_PREFER to fall "
			   "back to normal pages", name, need, kb, avail, total > 0 ? total : 0,
			   cmd);
}

int shpool_huge_unsupported(const char *name)
{
	return shpool_fail(-EOPNOTSUPP, "%s: this kernel has no huge page (hugetlb) support; "
			   "pass SHPOOL_HUGEPAGES_PREFER to use normal pages where huge ones "
			   "cannot be had", name);
}

void shpool_thp_advise(void *base, uint64_t size)
{
	char mode[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "re");

	/* The bracketed word is the setting. Only "advise" and "within_size"
	 * act on MADV_HUGEPAGE; "always" needs no advice and "never"/"deny"
	 * ignore it. Shared anonymous memory, memfds and tmpfs files are all
	 * shmem. Advice only: nothing to report if the kernel declines. */
	if (f) {
		if (!fgets(mode, sizeof(mode), f))
			mode[0] = '\0';
		fclose(f);
	}
	if (strstr(mode, "[advise]") || strstr(mode, "[within_size]"))
		(void)madvise(base, size, MADV_HUGEPAGE);
}

/* Kernels before 5.14 have no MADV_POPULATE_*: touch one byte of every page
 * instead. A read fault installs a writable entry in a shared shmem mapping
 * but not in a file mapping that tracks dirty pages, so a writable mapping
 * is written: an atomic OR of 0 changes no byte, even one another process
 * is writing at the same moment. */
static void touch_pages(uint8_t *base, uint64_t size, uint64_t page, bool rdonly)
{
	for (uint64_t off = 0; off < size; off += page) {
		if (rdonly)
			(void)*(volatile uint8_t *)(base + off);
		else
			__atomic_fetch_or(base + off, (uint8_t)0, __ATOMIC_RELAXED);
	}
}

int shpool_populate(uint8_t *base, uint64_t size, uint64_t page, bool rdonly, const char *name)
{
	int rc = SHPOOL_FAULT_POINT("populate");

	if (rc == 0 && madvise(base, size, rdonly ? MADV_POPULATE_READ : MADV_POPULATE_WRITE) < 0)
		rc = -errno;
	if (rc == -EINVAL) {
		/* An older kernel (the mapping itself is valid). */
		touch_pages(base, size, page, rdonly);
		return 0;
	}
	if (rc == -ENOMEM)
		return shpool_fail(-ENOMEM, "%s: pre-faulting %" PRIu64 " bytes (SHPOOL_POPULATE): "
				   "out of memory", name, size);
	/* EFAULT: a page that would have been a SIGBUS, e.g. of a file that
	 * could not be given its blocks (a full file system). */
	if (rc == -EFAULT)
		return shpool_fail(-ENOMEM, "%s: pre-faulting %" PRIu64 " bytes (SHPOOL_POPULATE): "
				   "a page could not be faulted in (file system full?)", name,
				   size);
	if (rc < 0)
		return shpool_fail(rc, "%s: pre-faulting %" PRIu64 " bytes (SHPOOL_POPULATE): %s",
				   name, size, strerror(-rc));
	return 0;
}

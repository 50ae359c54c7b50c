/*
 * memstat.c - the simulator's own heap use, from jemalloc's statistics,
 * and its peak resident set, from getrusage().
 *
 * vmmu links jemalloc as its allocator; stats.allocated is the number of
 * bytes the program holds in live allocations. The sanitizer build runs on
 * the system allocator (ASan replaces malloc) and reports 0.
 */
#include "memstat.h"

#include <sys/resource.h>

uint64_t memstat_peak_rss_bytes(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (uint64_t)ru.ru_maxrss * 1024; /* Linux reports KiB */
}

#ifndef VMMU_NO_JEMALLOC
#include <jemalloc/jemalloc.h>

uint64_t memstat_heap_bytes(void)
{
	uint64_t epoch = 1;
	size_t sz = sizeof(epoch);
	/* Statistics are snapshots: advance the epoch to refresh them. */
	if (mallctl("epoch", &epoch, &sz, &epoch, sz) != 0)
		return 0;
	size_t allocated = 0;
	sz = sizeof(allocated);
	if (mallctl("stats.allocated", &allocated, &sz, NULL, 0) != 0)
		return 0;
	return allocated;
}

bool memstat_available(void)
{
	return true;
}
#else
uint64_t memstat_heap_bytes(void)
{
	return 0;
}

bool memstat_available(void)
{
	return false;
}
#endif

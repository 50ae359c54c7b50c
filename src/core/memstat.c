/*
 * memstat.c - the simulator's own heap use, from jemalloc's statistics,
 * and its resident set, from /proc/self/status (getrusage() as fallback).
 *
 * vmmu links jemalloc as its allocator; stats.allocated is the number of
 * bytes the program holds in live allocations. The sanitizer build runs on
 * the system allocator (ASan replaces malloc) and reports 0.
 */
#include "memstat.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

/* The value of a "Name:   N kB" line of /proc/self/status, in bytes; 0
 * when the file or the line is missing. */
static uint64_t status_kb(const char *name)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	size_t n = strlen(name);
	uint64_t v = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			unsigned long long kb = 0;
			if (sscanf(line + n + 1, "%llu", &kb) == 1)
				v = (uint64_t)kb * 1024;
			break;
		}
	fclose(f);
	return v;
}

uint64_t memstat_peak_rss_bytes(void)
{
	uint64_t hwm = status_kb("VmHWM");
	if (hwm)
		return hwm;
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (uint64_t)ru.ru_maxrss * 1024; /* Linux reports KiB */
}

uint64_t memstat_rss_bytes(void)
{
	return status_kb("VmRSS");
}

bool memstat_peak_rss_reset(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	if (!f)
		return false;
	bool ok = fputs("5", f) >= 0;
	return fclose(f) == 0 && ok;
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

/*
 * memstat.h - memory statistics of the simulator itself: its heap
 * (jemalloc) and the peak resident set of the process (getrusage).
 */
#ifndef VMMU_MEMSTAT_H
#define VMMU_MEMSTAT_H

#include "types.h"

/* Bytes in live allocations, or 0 when the allocator gives no statistics. */
uint64_t memstat_heap_bytes(void);
bool memstat_available(void);
/* Peak resident set size of this process, in bytes: since the start, or
 * since the last memstat_peak_rss_reset() (VmHWM of /proc/self/status;
 * ru_maxrss where that file cannot be read). */
uint64_t memstat_peak_rss_bytes(void);
/* Resident set size now, in bytes (VmRSS), or 0 when unknown. */
uint64_t memstat_rss_bytes(void);
/* Start a new peak: the peak becomes the resident set now (Linux 4.0 and
 * later: "5" written to /proc/self/clear_refs). Returns false when the
 * kernel refuses; the peak then stays the process's. */
bool memstat_peak_rss_reset(void);

#endif

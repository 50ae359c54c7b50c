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
/* Peak resident set size of this process so far, in bytes (ru_maxrss). */
uint64_t memstat_peak_rss_bytes(void);

#endif

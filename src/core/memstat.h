/*
 * memstat.h - heap statistics of the simulator itself (jemalloc).
 */
#ifndef VMMU_MEMSTAT_H
#define VMMU_MEMSTAT_H

#include "types.h"

/* Bytes in live allocations, or 0 when the allocator gives no statistics. */
uint64_t memstat_heap_bytes(void);
bool memstat_available(void);

#endif

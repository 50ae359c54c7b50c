/*
 * trace.h - the one hook through which mechanism code reports what it does.
 *
 * Walkers, fault handlers, exits and flushes fill a struct trace_event and
 * call TRACE(vm, &ev). Consumers (the explainer, tests, debug output) set
 * vm->trace_fn. When it is NULL, which is the default, TRACE costs one
 * predictable branch and builds nothing: the event is built inside the
 * branch. Mechanism code never prints.
 */
#ifndef VMMU_TRACE_H
#define VMMU_TRACE_H

#include "types.h"

enum trace_kind {
	TR_WALK_REF,    /* one reference of a hardware or software walk */
	TR_WALK_DONE,   /* a walk finished: fill or fault */
	TR_TLB_MISS,    /* a TLB lookup missed */
	TR_TLB_FILL,    /* an entry was inserted */
	TR_TLB_FLUSH,   /* a flush was applied */
	TR_GUEST_FAULT, /* #PF delivered to the guest kernel */
	TR_GUEST_OP,    /* guest kernel action: pte write, cr3 load, invlpg, zero, copy */
	TR_VM_EXIT,     /* VM exit with a reason */
	TR_VMM_OP,      /* VMM action: spte install, zap, resync, unshadow, ept fill */
};

/* Which table a walk reference reads. */
enum trace_dim {
	DIM_NATIVE, /* guest table read by the native walker (gPA == hPA) */
	DIM_GUEST,  /* guest table entry (nested 2D walk, or VMM software walk) */
	DIM_HOST,   /* EPT entry */
	DIM_SHADOW, /* shadow table entry */
};

/* Where a walk reference was served. */
enum trace_served {
	SERVED_MEMORY,   /* went to the memory hierarchy (see cache_level) */
	SERVED_PSC,      /* skipped thanks to a 1D paging-structure cache */
	SERVED_PWC,      /* 2D page-walk cache hit */
	SERVED_NTLB,     /* nested TLB hit */
};

struct trace_event {
	enum trace_kind kind;
	enum trace_dim dim;
	enum trace_served served;
	int level;           /* table level, 1..5 */
	int host_level;      /* nested: level of the EPT entry, 0 otherwise */
	int guest_level;     /* nested: guest level this EPT walk serves (0 = final data gPA) */
	int cache_level;     /* 1 = L1, 2 = L2, 3 = LLC, 4 = DRAM, 0 = not modelled */
	int step;            /* reference number within the walk, from 1 */
	bool user;           /* user-mode access */
	enum access_kind access;
	uint64_t gva;        /* linear address being translated */
	uint64_t addr;       /* gpa or hpa, per event */
	uint64_t table_addr; /* table base (gPA for DIM_GUEST/NATIVE, hPA otherwise) */
	uint64_t index;      /* index in the table */
	uint64_t entry_addr; /* table_addr + 8 * index */
	uint64_t entry;      /* raw entry value read */
	uint64_t result;     /* e.g. translated address, error code, exit reason */
	uint64_t cycles;     /* cost-model cycles charged for this event */
	const char *what;    /* short static description */
};

struct vm;
typedef void (*trace_fn_t)(void *ctx, const struct trace_event *ev);

#define TRACE_ON(vm) unlikely((vm)->trace_fn != NULL)
#define TRACE(vm, ...)                                                    \
	do {                                                                  \
		if (TRACE_ON(vm)) {                                               \
			struct trace_event ev__ = { __VA_ARGS__ };                    \
			(vm)->trace_fn((vm)->trace_ctx, &ev__);                       \
		}                                                                 \
	} while (0)

#endif

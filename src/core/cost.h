/*
 * cost.h - the cycle-cost model: one table of per-event costs, and a small
 * cache model of page-table lines that gives each walk reference a latency.
 *
 * Every default in cost_defaults() is cited in docs/cost-model.md. Costs
 * are charged at the moment the event happens, into one of the stats cyc_*
 * parts, except cyc_access (accesses x access), which vm_sync_stats()
 * derives to keep the TLB-hit path short; est_cycles is their sum.
 *
 * The page-table cache model holds 64-byte lines of host-physical addresses
 * that walks have read, in three set-associative LRU levels (L1, L2, LLC).
 * Data accesses do not go through it: they are charged a flat cost per
 * access (the model is about translation, not the data cache).
 */
#ifndef VMMU_COST_H
#define VMMU_COST_H

#include "types.h"

struct cost_model {
	uint32_t access;        /* one data access that hits the TLB */
	uint32_t ref_pwc;       /* walk reference served by a walk cache */
	uint32_t ref_l1, ref_l2, ref_llc, ref_dram; /* walk reference by cache level */
	uint32_t pf_delivery;   /* guest #PF: exception entry and IRET */
	uint32_t pf_handler;    /* guest kernel fault-handler software, excl. zero/copy */
	uint32_t page_zero;     /* zero one 4 KiB page */
	uint32_t page_copy;     /* copy one 4 KiB page */
	uint32_t vmexit;        /* VM exit + VM entry round trip, trivial handler */
	uint32_t vmm_hidden_fault; /* shadow: handler work to build an spte (walk refs extra) */
	uint32_t vmm_pt_write;  /* shadow: emulate a guest table store and update sptes */
	uint32_t vmm_cr3;       /* shadow: switch or build a root */
	uint32_t vmm_invlpg;    /* shadow: INVLPG handler */
	uint32_t vmm_dirty;     /* shadow: dirty-bit exit handler */
	uint32_t vmm_inject;    /* shadow: inject a #PF */
	uint32_t vmm_resync;    /* shadow: resync one unsync page (per spte examined: vmm_spte) */
	uint32_t vmm_spte;      /* shadow: examine or write one spte */
	uint32_t vmm_ept_violation; /* nested: allocate and map a frame */
	uint32_t tlb_flush;     /* a full or per-PCID flush instruction */
	uint32_t invlpg;        /* an INVLPG instruction */
	uint32_t cr3_load;      /* a MOV to CR3 */
	/* pv (docs/cost-model.md, "Paravirtual MMU") */
	uint32_t pv_hypercall;  /* guest -> hypervisor -> guest transition of one hypercall */
	uint32_t pv_update;     /* validate and write one mmu_update entry */
	uint32_t pv_validate;   /* examine one entry while typing or untyping a table */
	uint32_t pv_mmuext;     /* handler of one mmuext op (flush/CR3 instructions extra) */
};

/* Page-table line cache: sets x ways per level, 64-byte lines. */
struct ptc_level {
	uint64_t *tag; /* sets * ways line numbers + 1; 0 = empty */
	uint32_t *stamp;
	uint32_t sets, ways;
};
struct ptcache {
	struct ptc_level lvl[3]; /* L1, L2, LLC */
	uint32_t clock;
	uint64_t hits[4]; /* L1, L2, LLC, DRAM */
};

void cost_defaults(struct cost_model *c);
int ptcache_init(struct ptcache *p);
void ptcache_destroy(struct ptcache *p);
/* Look up the line of hpa; fill it into all levels; return 1..4 (DRAM = 4). */
int ptcache_access(struct ptcache *p, uint64_t hpa);
/* Latency of a reference served at cache level 1..4. */
uint32_t cost_ref_latency(const struct cost_model *c, int level);

#endif

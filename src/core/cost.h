/*
 * cost.h - the cycle-cost model: one table of per-event costs.
 *
 * Every default is cited in docs/cost-model.md; the machine profiles
 * (machine.c) hold one full table each, and cost_defaults() gives the
 * default profile's. Costs are charged at the moment the event happens,
 * into one of the stats cyc_* parts; est_cycles is their sum.
 *
 * A memory reference (a data access, a walk reference that no walk cache
 * served, a VMM software-walk reference) costs the latency of the cache
 * level that served it in the cache model (cache.h): ref_l1 .. ref_dram.
 * With --cache-model off every such reference is served by L1.
 */
#ifndef VMMU_COST_H
#define VMMU_COST_H

#include "types.h"

struct cost_model {
	uint32_t access;        /* one access the cache model does not see: fetch, bulk page op */
	uint32_t ref_pwc;       /* walk reference served by a walk cache */
	uint32_t ref_l1, ref_l2, ref_llc, ref_dram; /* walk reference by cache level */
	uint32_t ref_remote;    /* walk reference served by another NUMA node's DRAM (numa.h) */
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
	/* IOMMU and device assignment (docs/cost-model.md, "DMA and the IOMMU") */
	uint32_t iommu_pin;     /* VMM: pin one 4 KiB guest page for DMA */
	uint32_t viommu_inv;    /* VMM: decode one vIOMMU register exit (work per entry extra) */
	/* several vCPUs (docs/cost-model.md, "IPIs and shootdowns") */
	uint32_t ipi;           /* one TLB-flush IPI: send, deliver, handler entry/exit, ack */
	uint32_t vmm_ipi;       /* VMM handler of one IPI exit (ICR write, kick, EOI) */
	/* nested virtualization (docs/cost-model.md, "Nested virtualization") */
	uint32_t nv_reflect;    /* L0: reflect an L2 exit to L1 (nested_vmx_vmexit()) */
	uint32_t nv_vmresume;   /* L0: emulate L1's VMRESUME (nested_vmx_run()) */
	uint32_t nv_vmread;     /* L0: emulate one VMREAD of L1 (handle_vmread()) */
	uint32_t nv_invept;     /* L0: L1's INVEPT, before vmm_spte per EPT02 page dropped */
	uint32_t pvm_switch;    /* pvm: one switcher round trip L2 -> L1 -> L2, trivial handler */
};

/*
 * The common defaults: fill every field from the figures of the default
 * machine profile (machine.c). A profile's costs are in its table entry.
 */
void cost_defaults(struct cost_model *c);

/* Latency of a reference served at cache level 1..4 (cache.h's CACHE_L1 ..
 * CACHE_DRAM). Inline: it runs for every data access. */
static inline uint32_t cost_ref_latency(const struct cost_model *c, int level)
{
	if (likely(level == 1))
		return c->ref_l1;
	return level == 2 ? c->ref_l2 : level == 3 ? c->ref_llc : c->ref_dram;
}

#endif

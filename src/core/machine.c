/*
 * machine.c - the machine profiles and the names of the cost fields.
 *
 * A profile is one real microarchitecture: its TLBs, its paging-structure
 * and 2D walk caches, its cache hierarchy (the share one core has) and the
 * cycle cost of every event. docs/cost-model.md ("Machine profiles") gives
 * the source of every value and grades it primary, secondary or derived; the
 * comments below name the source briefly and show every derivation.
 *
 * No constant here is chosen to make one MMU mode win.
 *
 * Sections: shared figures and derivations, the profiles, API.
 */
#include <stddef.h>
#include <string.h>

#include "machine.h"

/* ---- shared figures and derivations ------------------------------------ */

/*
 * Guest-side and instruction costs that no profile has a measurement of its
 * own for. The figures and their sources are in cost.c's history and in
 * docs/cost-model.md:
 *   pf_delivery 440 + 270  Y. Shan, ring-switch overhead, Xeon E5 v3 (secondary)
 *   pf_handler  2,500      3,241 measured median minus delivery (derived)
 *   page_zero   4096 / 4   one core's write bandwidth, 4 B/cycle (derived)
 *   page_copy   8192 / 4   read and write 4 KiB at the same rate (derived)
 *   tlb_flush, cr3_load 251 and invlpg 237   I. Molnar, linux-mm 2015 (primary, Intel)
 *   vmm_spte    50         two L1 loads, one L2 load and ~28 cycles of work (derived)
 *   vmm_resync  10 x 50    ten spte-sized steps of bookkeeping (derived)
 */
#define PF_DELIVERY (440 + 270)
#define PF_HANDLER 2500
#define MEM_BYTES_PER_CYCLE 4
#define PAGE_ZERO (4096 / MEM_BYTES_PER_CYCLE)
#define PAGE_COPY (2 * 4096 / MEM_BYTES_PER_CYCLE)
#define TLB_FLUSH 251
#define CR3_LOAD 251
#define INVLPG 237
#define VMM_SPTE 50 /* one "spte-sized step" of VMM work */
#define VMM_RESYNC (10 * VMM_SPTE)

/*
 * Per-handler costs, derived from each handler's work (docs/cost-model.md,
 * "Shadow and EPT handler costs"). Every KVM exit for a #PF (shadow) or an
 * EPT violation runs one common path P: kvm_mmu_page_fault() and the mode's
 * page-fault handler with its set-up (mmu_topup_memory_caches(),
 * kvm_faultin_pfn(), the mmu_lock). What a handler does beyond P, in
 * spte-sized steps of VMM_SPTE (assumptions, stated in the doc):
 *   inject      +0   the walk fails; kvm_inject_emulated_page_fault()
 *                    replaces the pfn lookup it skips
 *   hidden     +10   child shadow-page lookups by (gfn, role), rmap_add(),
 *                    accounting
 *   dirty       +4   FNAME(update_accessed_dirty_bits)(): a cmpxchg of the
 *                    guest PTE, mark_page_dirty()
 *   pt_write   +40   x86_emulate_instruction(): fetch and decode the
 *                    faulting instruction, emulate the store,
 *                    kvm_mmu_track_write()
 * The software walk references, the sptes written and the exits are charged
 * separately by the model. P is the one unknown; it is fixed by Wang et al.'s
 * published total (VEE'11, 4.3): a typical shadow guest fault (inject,
 * pt_write, hidden, dirty: 4 exits, 9 sptes) costs 10 us = 30,000 cycles at
 * 3.0 GHz more than under HAP. So
 *   P = (30,000 - 4 x vmexit - 9 x VMM_SPTE - (0 + 10 + 4 + 40) x VMM_SPTE) / 4
 * which depends on the profile's exit cost.
 *
 * MOV to CR3 and INVLPG exits do not take the #PF path. Each is the exit
 * dispatch and instruction decode (handle_cr(), handle_invlpg(): 20 steps)
 * plus its work (10 steps): kvm_mmu_new_pgd() with the previous-root lookup
 * and the flush request, or kvm_mmu_invlpg() walking the shadow entries of
 * one address. The EPT-violation handler is P: kvm_tdp_page_fault() shares
 * the path and needs no guest walk, rmap or prefetch.
 */
#define WANG_SP_EXTRA_PER_FAULT 30000 /* 10 us at 3.0 GHz */
#define SHADOW_EXITS_PER_FAULT 4
#define SHADOW_SPTES_PER_FAULT 9
#define STEPS_INJECT 0
#define STEPS_HIDDEN 10
#define STEPS_DIRTY 4
#define STEPS_PT_WRITE 40
#define STEPS_DISPATCH 20
#define STEPS_CR3_WORK 10
#define STEPS_INVLPG_WORK 10
#define PF_PATH(vmexit)                                                              \
	((WANG_SP_EXTRA_PER_FAULT - (SHADOW_EXITS_PER_FAULT * (vmexit)) -            \
	  SHADOW_SPTES_PER_FAULT * VMM_SPTE -                                        \
	  (STEPS_INJECT + STEPS_HIDDEN + STEPS_DIRTY + STEPS_PT_WRITE) * VMM_SPTE) / \
	 SHADOW_EXITS_PER_FAULT)

/*
 * Nested virtualization (docs/cost-model.md, "Nested virtualization"): the
 * handlers of the exits that nesting multiplies (Turtles, OSDI'10), each
 * the exit dispatch and decode (STEPS_DISPATCH) plus its own work, in
 * spte-sized steps (assumptions, stated in the doc):
 *   reflect   +40  nested_vmx_vmexit(): sync_vmcs02_to_vmcs12(), load L1's state
 *   vmresume  +40  nested_vmx_run(): the entry checks, prepare_vmcs02()
 *   vmread     +2  handle_vmread(): look up and copy one vmcs12 field
 *   invept    +10  handle_invept(): find the roots of the EPTP
 */
#define STEPS_NV_REFLECT 40
#define STEPS_NV_VMRESUME 40
#define STEPS_NV_VMREAD 2
#define STEPS_NV_INVEPT 10
#define NVIRT_COSTS                                                     \
	.nv_reflect = (STEPS_DISPATCH + STEPS_NV_REFLECT) * VMM_SPTE,   \
	.nv_vmresume = (STEPS_DISPATCH + STEPS_NV_VMRESUME) * VMM_SPTE, \
	.nv_vmread = (STEPS_DISPATCH + STEPS_NV_VMREAD) * VMM_SPTE,     \
	.nv_invept = (STEPS_DISPATCH + STEPS_NV_INVEPT) * VMM_SPTE

/*
 * PVM's switcher round trip (docs/cost-model.md, "PVM"): the PVM paper
 * (Huang et al., SOSP'23) measured a null hypercall round trip of 0.48 us
 * under PVM against 0.46 us under single-level KVM on the same machine.
 * The profile's trivial VM exit round trip scaled by that ratio (derived).
 */
#define PVM_SWITCH(vmexit_) (((vmexit_)*48 + 23) / 46)

#define HANDLER_COSTS(vmexit_)                                                         \
	.vmexit = (vmexit_), .vmm_inject = PF_PATH(vmexit_) + STEPS_INJECT * VMM_SPTE, \
	.vmm_hidden_fault = PF_PATH(vmexit_) + STEPS_HIDDEN * VMM_SPTE,                \
	.vmm_dirty = PF_PATH(vmexit_) + STEPS_DIRTY * VMM_SPTE,                        \
	.vmm_pt_write = PF_PATH(vmexit_) + STEPS_PT_WRITE * VMM_SPTE,                  \
	.vmm_cr3 = (STEPS_DISPATCH + STEPS_CR3_WORK) * VMM_SPTE,                       \
	.vmm_invlpg = (STEPS_DISPATCH + STEPS_INVLPG_WORK) * VMM_SPTE,                 \
	.vmm_ept_violation = PF_PATH(vmexit_), NVIRT_COSTS, .pvm_switch = PVM_SWITCH(vmexit_)

#define COMMON_COSTS                                                                  \
	.pf_delivery = PF_DELIVERY, .pf_handler = PF_HANDLER, .page_zero = PAGE_ZERO, \
	.page_copy = PAGE_COPY, .vmm_resync = VMM_RESYNC, .vmm_spte = VMM_SPTE,       \
	.tlb_flush = TLB_FLUSH, .invlpg = INVLPG, .cr3_load = CR3_LOAD, PV_COSTS, IOMMU_COSTS, \
	SMP_COSTS

/*
 * Paravirtual MMU (pv), derived in docs/cost-model.md, "Paravirtual MMU":
 * a hypercall is the same ring crossing as a #PF delivery, there and back;
 * an mmu_update entry is checked and written like one spte; validating an
 * entry while typing a table is an L1-hit load, a test and a branch; an
 * mmuext op is decode, look-up, type, act and return, five spte-sized steps.
 */
#define PV_COSTS                                                            \
	.pv_hypercall = PF_DELIVERY, .pv_update = VMM_SPTE, .pv_validate = 10, \
	.pv_mmuext = 5 * VMM_SPTE

/*
 * IOMMU and device assignment, derived in docs/cost-model.md, "DMA and the
 * IOMMU": pinning one 4 KiB page is 0.4 s for 16 GiB of 4 KiB pages on a
 * 2.6 GHz Xeon E5 (Linux commit 356e88ebe447, the per-page pinning path of
 * vfio_pin_pages_remote() before it learned to skip raw PFN maps):
 * 0.4 s x 2.6e9 / 4,194,304 = 248 cycles (derived, secondary). A vIOMMU
 * register exit is decoded like an INVLPG exit (dispatch and decode, 20
 * steps, plus 10 of work: the invalidation descriptor and the IOTLB flush);
 * each entry it syncs is one vmm_spte step more, charged by the model.
 */
#define IOMMU_PIN_PAGE 248
#define IOMMU_COSTS \
	.iommu_pin = IOMMU_PIN_PAGE, .viommu_inv = (STEPS_DISPATCH + STEPS_INVLPG_WORK) * VMM_SPTE

/*
 * IPIs (docs/cost-model.md, "IPIs and shootdowns"): a TLB-flush IPI's
 * round trip, from the sender's ICR write to the target's acknowledgement,
 * is at least 1,000 cycles (secondary, a lower bound); the VMM's handler of
 * an IPI exit is decode, find the target, set the IRR bit, kick, return:
 * five spte-sized steps, as an mmuext op.
 */
#define SMP_COSTS .ipi = 1000, .vmm_ipi = 5 * VMM_SPTE, .ref_remote = REF_REMOTE

/*
 * A walk reference served by another node's DRAM (docs/cost-model.md,
 * "NUMA"): ref_dram x 139 / 89, the remote-to-local DRAM latency ratio of a
 * two-socket Xeon SP (89 ns local, 139 ns remote; qdpma.com, "The Case for
 * Single Processor"), applied to the model's 200-cycle DRAM reference.
 */
#define REF_REMOTE 312
_Static_assert(REF_REMOTE == 200 * 139 / 89, "remote DRAM derivation changed: update docs");

/*
 * VM exit + entry round trips.
 * Intel: kvm-unit-tests vmexit.flat tscdeadline_immed on a Skylake-SP
 * server, 2,495-3,029 cycles (Linux commit 26efe2fd92e5, the tscdeadline
 * timer-emulation fast path). That path still emulates the timer MSR write,
 * so its lower end is an upper bound of a trivial exit: 2,495.
 * AMD: LKML, December 2020, KVM SVM thread: VMRUN-to-exit segments of
 * 1,344-1,376 cycles; the middle of 1,300-1,400: 1,350.
 */
#define VMEXIT_SKX 2495
#define VMEXIT_AMD 1350

_Static_assert(PF_PATH(VMEXIT_SKX) == 4217, "Skylake-SP handler derivation changed: update docs");
_Static_assert(PF_PATH(VMEXIT_AMD) == 5362, "Zen 2 handler derivation changed: update docs");
_Static_assert((STEPS_DISPATCH + STEPS_NV_REFLECT) * VMM_SPTE == 3000 &&
		   (STEPS_DISPATCH + STEPS_NV_VMRESUME) * VMM_SPTE == 3000 &&
		   (STEPS_DISPATCH + STEPS_NV_VMREAD) * VMM_SPTE == 1100 &&
		   (STEPS_DISPATCH + STEPS_NV_INVEPT) * VMM_SPTE == 1500,
	       "nested handler derivation changed: update docs");
_Static_assert(PVM_SWITCH(VMEXIT_SKX) == 2603 && PVM_SWITCH(VMEXIT_AMD) == 1409,
	       "PVM switcher derivation changed: update docs");
_Static_assert(PAGE_ZERO == 1024 && PAGE_COPY == 2048, "page derivation changed: update docs");

/* ---- the profiles --------------------------------------------------------- */

static const struct machine_profile profiles[] = {
    {
	.name = "skylake-sp",
	.summary = "Intel Xeon Scalable 1st gen (Skylake-SP): 1.375 MiB LLC per core, "
		   "exit 2,495 cycles",
	/* Intel Optimization Reference Manual, Skylake (client and server share
	 * the core's TLBs): L1 DTLB 64 x 4-way (4K), 32 x 4-way (2M/1G);
	 * L1 ITLB 128 x 8-way; STLB 1,536 x 12-way. */
	.l1d = {16, 4},
	.l1d_large = {8, 4},
	.l1i = {16, 8},
	.l2 = {128, 12},
	/* Not published: assumptions (docs/cost-model.md). */
	.psc_entries = {0, 0, 32, 4, 2, 2},
	.pwc_entries = 32,
	.ntlb_entries = 32,
	/* Intel's Skylake-SP cache figures as AnandTech tabulates them ("The
	 * Intel Skylake-X Review", June 2017, "I Keep My Cache Private"): L1D
	 * 32 KiB 8-way 4 cycles; L2 1 MiB 16-way 11-13 cycles; L3 1.375 MiB
	 * per core 11-way non-inclusive, 77 cycles. 64-byte lines. */
	.cache = {{64, 8}, {1024, 16}, {2048, 11}},
	.cost =
	    {
		.access = 4,
		.ref_pwc = 1,
		.ref_l1 = 4,
		.ref_l2 = 12, /* the middle of 11-13 */
		.ref_llc = 77,
		.ref_dram = 200, /* SagePTE artifact (secondary) */
		HANDLER_COSTS(VMEXIT_SKX),
		COMMON_COSTS,
	    },
    },
    {
	.name = "zen2",
	.summary = "AMD EPYC 7002 / Ryzen 3000 (Zen 2): 4 MiB L3 per core, exit 1,350 cycles",
	/* AMD Software Optimization Guide, family 17h model 30h, and 7-cpu.com
	 * Zen2: L1 DTLB 64 entries fully associative, every page size (the
	 * model's two L1 arrays get 64 each); L1 ITLB 64 fully associative;
	 * L2 DTLB 2,048 entries (the model's unified L2: 128 x 16, ways
	 * assumed). */
	.l1d = {1, 64},
	.l1d_large = {1, 64},
	.l1i = {1, 64},
	.l2 = {128, 16},
	.psc_entries = {0, 0, 32, 4, 2, 2},
	.pwc_entries = 32,
	.ntlb_entries = 32,
	/* 7-cpu.com Zen2: L1D 32 KiB 8-way, L2 512 KiB 8-way, L3 16 MiB per
	 * 4-core CCX, 16-way: 4 MiB per core. */
	.cache = {{64, 8}, {1024, 8}, {4096, 16}},
	.cost =
	    {
		.access = 4,
		.ref_pwc = 1,
		.ref_l1 = 4,	 /* 7-cpu Zen2 (secondary) */
		.ref_l2 = 12,	 /* 7-cpu Zen2 (secondary) */
		.ref_llc = 38,	 /* 7-cpu Zen2 (secondary) */
		.ref_dram = 200, /* SagePTE artifact (secondary): no Zen 2 figure in cycles */
		HANDLER_COSTS(VMEXIT_AMD),
		COMMON_COSTS,
	    },
    },
};

#define NPROFILES (sizeof(profiles) / sizeof(profiles[0]))

#define CF(f, h)                                                             \
	{                                                                    \
		.name = #f, .off = offsetof(struct cost_model, f), .help = h \
	}
static const struct cost_field fields[] = {
    CF(access, "an access the cache model does not see (fetch, bulk page op)"),
    CF(ref_pwc, "walk reference served by a walk cache"),
    CF(ref_l1, "memory reference served by L1"),
    CF(ref_l2, "memory reference served by L2"),
    CF(ref_llc, "memory reference served by the LLC"),
    CF(ref_dram, "memory reference served by DRAM"),
    CF(ref_remote, "walk reference served by another NUMA node's DRAM (--host-nodes)"),
    CF(pf_delivery, "guest #PF delivery and return"),
    CF(pf_handler, "guest fault-handler software"),
    CF(page_zero, "zero one 4 KiB page"),
    CF(page_copy, "copy one 4 KiB page"),
    CF(vmexit, "VM exit + entry round trip"),
    CF(vmm_hidden_fault, "shadow: hidden-fault handler"),
    CF(vmm_pt_write, "shadow: guest table store emulation handler"),
    CF(vmm_cr3, "shadow: MOV to CR3 handler"),
    CF(vmm_invlpg, "shadow: INVLPG handler"),
    CF(vmm_dirty, "shadow: dirty-bit (A/D emulation) handler"),
    CF(vmm_inject, "shadow: #PF injection handler"),
    CF(vmm_resync, "shadow: resync bookkeeping per page"),
    CF(vmm_spte, "shadow: one spte examined or written"),
    CF(vmm_ept_violation, "nested: EPT-violation handler"),
    CF(tlb_flush, "guest TLB flush instruction"),
    CF(invlpg, "guest INVLPG instruction"),
    CF(cr3_load, "guest MOV to CR3"),
    CF(pv_hypercall, "pv: one hypercall's transition, there and back"),
    CF(pv_update, "pv: validate and write one mmu_update entry"),
    CF(pv_validate, "pv: examine one entry while typing a table"),
    CF(pv_mmuext, "pv: one mmuext op's handler"),
    CF(iommu_pin, "iommu: pin one 4 KiB guest page for DMA"),
    CF(viommu_inv, "viommu: decode one vIOMMU register exit"),
    CF(ipi, "one TLB-flush IPI: send, deliver, handler entry and exit, ack"),
    CF(vmm_ipi, "VMM handler of one IPI exit (ICR write, kick or EOI)"),
    CF(nv_reflect, "nested virt: L0 reflects an L2 exit to L1 (nested_vmx_vmexit)"),
    CF(nv_vmresume, "nested virt: L0 emulates L1's VMRESUME (nested_vmx_run)"),
    CF(nv_vmread, "nested virt: L0 emulates one VMREAD of L1 (handle_vmread)"),
    CF(nv_invept, "nested virt: L0's INVEPT handler, before the per-page work"),
    CF(pvm_switch, "pvm: one switcher round trip between L2 and L1"),
};
#undef CF

_Static_assert(sizeof(fields) / sizeof(fields[0]) * sizeof(uint32_t) == sizeof(struct cost_model),
	       "every cost field is named");
_Static_assert(sizeof(fields) / sizeof(fields[0]) <= 64, "cost_overridden has 64 bits");

/* ---- API ------------------------------------------------------------------- */

const struct machine_profile *machine_profiles(size_t *n)
{
	*n = NPROFILES;
	return profiles;
}

const struct machine_profile *machine_find(const char *name)
{
	for (size_t k = 0; k < NPROFILES; k++)
		if (strcmp(profiles[k].name, name) == 0)
			return &profiles[k];
	return NULL;
}

void machine_apply(struct vm_config *c, const struct machine_profile *m)
{
	uint32_t o = c->overridden;

	c->machine = m->name;
	if (!(o & MACH_TLB)) {
		c->l1d = m->l1d;
		c->l2 = m->l2;
	}
	if (!(o & MACH_TLB_LARGE))
		c->l1d_large = m->l1d_large;
	if (!(o & MACH_ITLB))
		c->l1i = m->l1i;
	if (!(o & MACH_PSC))
		memcpy(c->psc_entries, m->psc_entries, sizeof(c->psc_entries));
	if (!(o & MACH_PWC))
		c->pwc_entries = m->pwc_entries;
	if (!(o & MACH_NTLB))
		c->ntlb_entries = m->ntlb_entries;
	if (!(o & MACH_CACHE))
		memcpy(c->cache, m->cache, sizeof(c->cache));
	for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
		if (c->cost_overridden & (UINT64_C(1) << k))
			continue;
		memcpy((char *)&c->cost + fields[k].off, (const char *)&m->cost + fields[k].off,
		       sizeof(uint32_t));
	}
}

const struct cost_field *cost_fields(size_t *n)
{
	*n = sizeof(fields) / sizeof(fields[0]);
	return fields;
}

int cost_field_find(const char *name)
{
	if (strncmp(name, "cost.", 5) == 0)
		name += 5;
	for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
		if (strcmp(fields[k].name, name) == 0)
			return (int)k;
	return -1;
}

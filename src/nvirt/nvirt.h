/*
 * nvirt.h - private interface of nested virtualization: an L2 guest under
 * an L1 hypervisor under L0 (the simulator's VMM). Core reaches these
 * modes only through their mmu_ops; tests and the folder's own files
 * include this header.
 *
 * Three address spaces, each with its own page number:
 *   L2 gPA  what the guest kernel (guest-mm) and the workloads see;
 *   L1 gPA  the guest-physical memory of the L1 hypervisor;
 *   hPA     host memory.
 * L1 gives L2 its RAM as one memslot at the same addresses: L1 gfn ==
 * L2 gfn for L2's RAM (a model choice: a real L1 places the memslot where
 * its QEMU mapped it). L1's own memory (its kernel, its EPT12 tables)
 * lies above L2's RAM, in the VMM region of host memory, where L0 maps it
 * one to one (L1 gPA == hPA) and backed from L1's boot. L0's EPT01 maps
 * L2's RAM through the shared p2m policy, so EPT01 ∘ EPT12 gives every L2
 * frame the host frame the p2m gives it, and the guest digest is the same
 * as native's.
 *
 * nept (KVM's nested EPT): L1 builds EPT12 (L2 gPA -> L1 gPA) in its own
 * memory with the real EPT entry format, lazily, on EPT violations L0
 * reflects to it. L0 builds EPT02 (L2 gPA -> hPA) in nested paging's EPT,
 * lazily, on EPT02 violations, from EPT12 ∘ EPT01 (paging_tmpl.h with
 * PTTYPE_EPT: ept_page_fault(), ept_walk_addr(), ept_fetch()); the hardware
 * walks L2's tables over EPT02 only. L0 write-protects each EPT12 table
 * that EPT02 was built from (account_shadowed()), so L1's stores to them
 * trap, and L0 zaps what they change (kvm_mmu_track_write()); L1's INVEPT
 * exits and L0 drops EPT02 (handle_invept(), kvm_mmu_free_roots()).
 *
 * Invariants (nvirt_audit()):
 *   - every present EPT02 leaf lies inside a present EPT12 leaf: EPT02 is
 *     never wider than EPT12 ∘ EPT01 (nested paging's own audit checks
 *     EPT02 against the p2m, which is EPT01 ∘ EPT12);
 *   - every EPT12 table on the path of a present EPT02 leaf is
 *     write-protected by L0;
 *   - ept12_pages counts the EPT12 tables reachable from its root, and the
 *     write-protected set holds only such tables.
 */
#ifndef VMMU_NVIRT_H
#define VMMU_NVIRT_H

#include "../core/vm.h"
#include "../nested/api.h"

/*
 * The handler work of the nested-virtualization exits is in the cost
 * model's own fields (cost.nv_reflect, nv_vmresume, nv_vmread, nv_invept;
 * docs/cost-model.md, "Nested virtualization"), each derived there from
 * the KVM function it mirrors.
 */

/*
 * The vmcs12 fields L1's EPT-violation handler reads: the exit reason
 * (vmx_vcpu_run()), the exit qualification and the guest-physical address
 * (handle_ept_violation()). Without VMCS shadowing each VMREAD exits to L0.
 * A real L1 reads more (RIP, interruption information): a lower bound.
 */
#define NV_L1_VMREADS_EPT 3

struct nvirt {
	struct nested_state *ns; /* EPT02: nested paging's EPT */
	int levels;		 /* EPT12 walk length (cfg.ept_levels) */
	enum page_size l1_page;	 /* L1's EPT12 leaf size (cfg.host_page) */
	uint64_t ept12_root;	 /* hPA (== L1 gPA) of EPT12's root table */
	uint64_t eptp12;	 /* the EPTP L1 wrote into vmcs12 */
	/* One byte per frame of the VMM region (index hfn - guest_frames):
	 * bit 0 an EPT12 table, bit 1 write-protected by L0. */
	uint8_t *tab;
	uint64_t tab_len;
	uint64_t ept12_pages, ept12_pages_peak, ept12_wp_pages;
	uint64_t ept12_leaves;
	uint64_t l0_walks;   /* L0's software walks of EPT12 */
	uint64_t l1_invepts; /* INVEPTs L1 executed */
	gfn_t last_gfn;	     /* the gfn the last exit was about (audit_exit) */
};

#define NV_TAB_EPT12 1u
#define NV_TAB_WP 2u

static inline struct nvirt *nvirt_of(struct vm *vm)
{
	return vm->mode_state;
}

/* ---- ept12.c: L1's EPT12 and L0's view of it ---- */

int nv_ept12_init(struct vm *vm, struct nvirt *nv);
void nv_ept12_destroy(struct vm *vm, struct nvirt *nv);

/* What L0's software walk of EPT12 found. */
struct nv_ept12_walk {
	int leaf;			/* level of the leaf, 0 when not mapped */
	int stop;			/* level where the walk stopped */
	uint64_t table[MAX_LEVELS + 1]; /* hPA of the table read at each level */
	gpa_t l1_gpa;			/* the L1 gPA the L2 gPA maps to */
};

/*
 * L0's walk of EPT12 for an L2 gPA (ept_walk_addr()), each reference
 * charged as a VMM software-walk reference (vmm_walk_refs). Returns the
 * leaf level, 0 when EPT12 does not map it.
 */
int nv_ept12_walk(struct vm *vm, struct nvirt *nv, gpa_t gpa, struct nv_ept12_walk *w);

/*
 * L1's EPT-violation handler's stores: map gfn in EPT12 (tables allocated
 * in L1's memory as needed, the leaf as large as l1_page allows). A store
 * to a write-protected table is an exit to L0 (counted in exits_l1), which
 * emulates it and zaps the EPT02 entries it changes. Returns the leaf
 * level.
 */
int nv_ept12_map(struct vcpu *v, struct nvirt *nv, gfn_t gfn);

/*
 * L1 takes an L2 frame back (a balloon, a host-side munmap in L1): clear
 * the EPT12 leaf that maps gfn (a store, trapped when write-protected).
 * Returns the level of the leaf cleared, 0 when none maps it. L1 then owes
 * an INVEPT (nept_l1_invept()).
 */
int nv_ept12_unmap(struct vcpu *v, struct nvirt *nv, gfn_t gfn);

/* Write-protect the EPT12 tables of a walk (account_shadowed()). */
void nv_ept12_protect(struct vm *vm, struct nvirt *nv, const struct nv_ept12_walk *w);
/* Drop every write protection (the EPT02 built from the tables is gone). */
void nv_ept12_unprotect_all(struct vm *vm, struct nvirt *nv);

/* EPT12's invariants (nvirt.h); NULL or the violated one's name. */
const char *nv_ept12_audit(struct vm *vm, struct nvirt *nv, char *detail, size_t len);
/* EPT02 against EPT12 for one gfn; NULL or the violated invariant's name. */
const char *nv_audit_gfn(struct vm *vm, struct nvirt *nv, gfn_t gfn, char *detail, size_t len);

/* ---- nept.c ---- */

/* L1 executes INVEPT single-context of its EPTP: an exit to L0, which
 * drops EPT02 (handle_invept()). */
void nept_l1_invept(struct vcpu *v);

/* ---- l1call.c: L1's shadow MMU, called on L2's behalf ---- */

/*
 * shadow-on-ept, pvm and shadow-on-shadow run the shadow MMU (src/shadow,
 * through its api.h) as L1's. Each call into it is one of these: the hook
 * and its arguments, and translate()'s result. The calling mode puts the
 * shadow MMU's state in vm->mode_state and runs nv_shadow_call_run() under
 * vm_call_guarded() (src/core/guard.h), so that an abort inside leaves its
 * own state there again.
 */
enum nv_shadow_hook { NV_SH_TRANSLATE, NV_SH_CR3, NV_SH_INVLPG, NV_SH_FLUSH, NV_SH_CTL };

struct nv_shadow_call {
	enum nv_shadow_hook hook;
	struct vcpu *v;
	uint64_t arg;		/* CR3: the old CR3; INVLPG: the gva */
	bool all;		/* FLUSH: every PCID, globals too */
	struct mem_access *a;	/* TRANSLATE */
	struct xlate *out;	/* TRANSLATE */
	enum xlate_result r;	/* TRANSLATE: what translate() returned */
};

/* Make call c (a struct nv_shadow_call *, as vm_call_guarded() passes it):
 * shadow_mmu_ops's hook c->hook with c's arguments. */
void nv_shadow_call_run(void *c);

/* ---- soe.c: shadow on EPT ---- */

/*
 * shadow-on-ept: L1 runs shadow paging for L2. The shadow MMU (src/shadow,
 * through its api.h) is L1's: its p2m stands for L1's (L2 gfn -> L1 gfn),
 * its sptes form SPT12 (L2 gVA -> L1 gPA) in L1's memory, and its handler
 * work is L1's. L0 keeps EPT01 (L1 gPA -> hPA), an identity EPT in nested
 * paging's state (L1 gPA == hPA, nested_ept_set_identity()). The hardware
 * walks SPT12 over EPT01 from the shadow root (struct nested_start).
 */
struct soe {
	void *sh;		  /* the shadow MMU's state: L1's */
	struct nested_state *ns;  /* EPT01 */
	uint64_t ept01_l1_faults; /* EPT01 leaves built for L1's own frames */
	/* pvm (the PVM variant, soe.c): L1 runs without VMX and L2 enters it
	 * through the switcher, so the shadow MMU's exits are switcher round
	 * trips, not L2 exits reflected by L0. */
	bool pv;
	const struct mmu_ops *self; /* &shadow_on_ept_mmu_ops or &pvm_mmu_ops */
};

/* L1's own exit to L0 for an instruction L0 emulates in 'handler' cycles
 * (counted in exits_l1). */
static inline void nv_l1_exit(struct vcpu *v, enum exit_reason r, uint32_t handler,
			      const char *what)
{
	struct vm *vm = v->vm;
	TRACE(vm, .kind = TR_VMM_OP, .result = (uint64_t)r, .cycles = handler, .what = what);
	vm_exit(v, r, &vm->st.exits_l1, handler);
}

/* L1's VMREADs of the exit fields (handle_vmread()): each an exit to L0,
 * none with VMCS shadowing (the CPU serves them from the shadow VMCS L0
 * filled, copy_vmcs12_to_shadow()). */
static inline void nv_l1_vmreads(struct vcpu *v)
{
	if (v->vm->cfg.vmcs_shadow)
		return;
	for (int i = 0; i < NV_L1_VMREADS_EPT; i++)
		nv_l1_exit(v, EXIT_VMREAD, v->vm->cost.nv_vmread,
			   "L1: VMREAD of a vmcs12 field (exits to L0: handle_vmread)");
}

/* L1's VMRESUME, an exit to L0 (nested_vmx_run(), prepare_vmcs02()). */
static inline void nv_l1_vmresume(struct vcpu *v)
{
	nv_l1_exit(v, EXIT_VMRESUME, v->vm->cost.nv_vmresume,
		   "L1: VMRESUME (exits to L0: nested_vmx_run, prepare_vmcs02)");
}

/* L0 reflects to L1 an L2 exit that L1 intercepts (nested_vmx_vmexit()):
 * under the shadow designs, every exit L1's shadow MMU took. */
static inline void nv_reflect_l1_exit(struct vm *vm)
{
	vm->st.l2_exits++;
	vm->st.reflected_exits++;
	vm->st.cyc_vmm += vm->cost.nv_reflect;
	TRACE(vm, .kind = TR_VMM_OP, .cycles = vm->cost.nv_reflect,
	      .what = "L0: exit L1 intercepts: reflect it to L1 (nested_vmx_vmexit)");
}

/* Charge L1's own handler work (cyc_vmm and l1_cycles). */
static inline void nv_l1_work(struct vm *vm, uint64_t cycles)
{
	vm->st.cyc_vmm += cycles;
	vm->st.l1_cycles += cycles;
}

#endif

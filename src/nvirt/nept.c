/*
 * nept.c - nested EPT ("EPT on EPT"), KVM's nested virtualization of an L2
 * guest's memory: the mmu_ops instance nept_mmu_ops.
 *
 * The hardware walks L2's page tables over EPT02, one 2D walk (nested
 * paging's walker: 24 references for 4-level over 4-level, no cache). L0
 * builds EPT02 lazily from EPT12 ∘ EPT01 (nvirt.h). One EPT02 violation
 * is handled as KVM does (ept_page_fault() in paging_tmpl.h, PTTYPE_EPT):
 *
 *   L2 -> L0  EPT-violation exit (l2_exits)
 *   L0        walks EPT12 in software (ept_walk_addr(): up to 4 references)
 *   EPT12 maps the gPA:
 *     L0      backs the L1 frame through EPT01 (the shared p2m), installs
 *             the EPT02 leaf (no larger than the EPT12 leaf), write-protects
 *             the EPT12 tables it read (account_shadowed()), enters L2
 *   EPT12 does not map it:
 *     L0      reflects the exit to L1 (nested_ept_inject_page_fault() ->
 *             nested_vmx_vmexit()): reflected_exits
 *     L1      reads the exit reason, qualification and gPA: VMREADs, each
 *             an exit to L0 without VMCS shadowing (exits_l1)
 *     L1      maps the gPA in EPT12: each store to a write-protected EPT12
 *             table exits to L0, which emulates it (exits_l1)
 *     L1      VMRESUME: an exit to L0, which enters L2 (exits_l1)
 *     L2      retries: a second EPT02 violation, now served by L0 alone
 *
 * L2's page faults, page-table stores, MOV to CR3 and INVLPG do not exit:
 * L0 and L1 both run L2 with EPT. L1's INVEPT exits to L0, which drops
 * EPT02 and the write protection built with it (handle_invept(),
 * kvm_mmu_free_roots()); EPT02 is then rebuilt lazily.
 */
#include <stdio.h>
#include <stdlib.h>

#include "nvirt.h"

/* ---- exits ---- */

/* The L2 -> L0 exit, once L0's handler is done. */
static void nv_l2_exit(struct vcpu *v, uint32_t handler)
{
	struct vm *vm = v->vm;
	vm->st.l2_exits++;
	vm_exit(v, EXIT_EPT_VIOLATION, &vm->st.exits_ept_violation, handler);
}

/* L1's handling of a reflected EPT violation at gfn, up to its VMRESUME. */
static void nept_l1_ept_violation(struct vcpu *v, struct nvirt *nv, gfn_t gfn)
{
	struct vm *vm = v->vm;
	nv_l1_vmreads(v);
	/* L1's own EPT-violation path: its KVM's kvm_tdp_page_fault(), the
	 * same work as L0's (cost.vmm_ept_violation); its stores extra. */
	nv_l1_work(vm, vm->cost.vmm_ept_violation);
	TRACE(vm, .kind = TR_VMM_OP, .addr = gfn_to_gpa(gfn).v,
	      .cycles = vm->cost.vmm_ept_violation,
	      .what = "L1: EPT-violation handler maps the L2 gPA in EPT12");
	nv_ept12_map(v, nv, gfn);
	nv->last_gfn = gfn;
	nv_l1_vmresume(v);
}

/* An EPT02 violation at viol->gpa: see the file comment. */
static void nept_ept02_violation(struct vcpu *v, struct nvirt *nv,
				 const struct nested_violation *viol)
{
	struct vm *vm = v->vm;
	gfn_t gfn = gpa_to_gfn(viol->gpa);
	if (gfn >= vm->p2m.nframes)
		vm_abort(vm,
			 "EPT violation at L2 gPA %#" PRIx64 " (gva %#" PRIx64
			 "): outside the guest's %" PRIu64 " bytes of memory",
			 viol->gpa.v, viol->gva, vm->cfg.guest_mem);
	struct nv_ept12_walk w;
	nv->last_gfn = gfn;
	if (nv_ept12_walk(vm, nv, viol->gpa, &w)) {
		nested_ept_map(vm, nv->ns, gpa_to_gfn(w.l1_gpa), level_page_size(w.leaf));
		nv_ept12_protect(vm, nv, &w);
		TRACE(vm, .kind = TR_VMM_OP, .dim = DIM_HOST, .addr = viol->gpa.v, .gva = viol->gva,
		      .guest_level = viol->guest_level, .result = w.l1_gpa.v,
		      .cycles = vm->cost.vmm_ept_violation,
		      .what = "L0: EPT02 leaf built from EPT12 and EPT01 (ept_page_fault)");
		nv_l2_exit(v, vm->cost.vmm_ept_violation);
		return;
	}
	vm->st.reflected_exits++;
	uint32_t reflect = vm->cost.nv_reflect;
	TRACE(vm, .kind = TR_VMM_OP, .dim = DIM_HOST, .addr = viol->gpa.v, .gva = viol->gva,
	      .guest_level = viol->guest_level, .cycles = reflect,
	      .what = "L0: EPT12 does not map it: reflect the EPT violation to L1 "
		      "(nested_ept_inject_page_fault)");
	nv_l2_exit(v, reflect);
	nept_l1_ept_violation(v, nv, gfn);
}

void nept_l1_invept(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct nvirt *nv = nvirt_of(vm);
	nv->l1_invepts++;
	uint64_t pages = nested_ept_reset(v, nv->ns);
	nv_ept12_unprotect_all(vm, nv);
	/* handle_invept(): find the roots, then drop one shadow page each. */
	uint64_t w = vm->cost.nv_invept + pages * vm->cost.vmm_spte;
	uint32_t work = w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
	TRACE(vm, .kind = TR_VMM_OP, .result = pages, .cycles = work,
	      .what = "L1: INVEPT single-context (exits to L0: handle_invept drops EPT02)");
	vm_exit(v, EXIT_INVEPT, &vm->st.exits_l1, work);
}

/* ---- mmu_ops ---- */

static void nept_destroy(struct vm *vm);

static int nept_init(struct vm *vm)
{
	struct nvirt *nv = calloc(1, sizeof(*nv));
	if (!nv) {
		snprintf(vm->err, sizeof(vm->err),
			 "out of memory for the nested-virtualization state");
		return -1;
	}
	vm->mode_state = NULL;
	if (nested_mmu_ops.init(vm) != 0) {
		if (vm->mode_state)
			nested_mmu_ops.destroy(vm);
		free(nv);
		return -1;
	}
	nv->ns = vm->mode_state;
	vm->mode_state = nv;
	if (nv_ept12_init(vm, nv) != 0) {
		nept_destroy(vm);
		return -1;
	}
	return 0;
}

static void nept_destroy(struct vm *vm)
{
	struct nvirt *nv = nvirt_of(vm);
	if (!nv)
		return;
	nv_ept12_destroy(vm, nv);
	vm->mode_state = nv->ns;
	nested_mmu_ops.destroy(vm);
	free(nv);
	vm->mode_state = NULL;
}

static enum xlate_result nept_translate(struct vcpu *v, struct mem_access *a, struct xlate *out)
{
	struct nvirt *nv = nvirt_of(v->vm);
	struct nested_violation viol;
	enum xlate_result r = nested_translate_noexit(v, nv->ns, a, out, &viol);
	if (r == XLATE_RETRY)
		nept_ept02_violation(v, nv, &viol);
	return r;
}

/* Run one of nested paging's hooks on its own state. */
#define NV_NESTED_HOOK(v, call)                      \
	do {                                         \
		struct vm *vm__ = (v)->vm;           \
		struct nvirt *nv__ = nvirt_of(vm__); \
		vm__->mode_state = nv__->ns;         \
		call;                                \
		vm__->mode_state = nv__;             \
	} while (0)

static void nept_on_cr3_load(struct vcpu *v, uint64_t old_cr3)
{
	NV_NESTED_HOOK(v, nested_mmu_ops.on_cr3_load(v, old_cr3));
}

static void nept_on_invlpg(struct vcpu *v, gva_t gva)
{
	NV_NESTED_HOOK(v, nested_mmu_ops.on_invlpg(v, gva));
}

static void nept_on_tlb_flush(struct vcpu *v, bool all)
{
	NV_NESTED_HOOK(v, nested_mmu_ops.on_tlb_flush(v, all));
}

static void nept_on_world_switch(struct vcpu *v)
{
	NV_NESTED_HOOK(v, nested_mmu_ops.on_world_switch(v));
}

static const char *nept_audit(struct vm *vm, char *detail, size_t len)
{
	struct nvirt *nv = nvirt_of(vm);
	vm->mode_state = nv->ns;
	const char *bad = nested_mmu_ops.audit(vm, detail, len);
	vm->mode_state = nv;
	if (bad)
		return bad;
	bad = nv_ept12_audit(vm, nv, detail, len);
	if (bad)
		return bad;
	for (gfn_t g = 1; g < vm->p2m.nframes; g++) {
		bad = nv_audit_gfn(vm, nv, g, detail, len);
		if (bad)
			return bad;
	}
	return NULL;
}

static const char *nept_audit_exit(struct vm *vm, char *detail, size_t len)
{
	struct nvirt *nv = nvirt_of(vm);
	return nv_audit_gfn(vm, nv, nv->last_gfn, detail, len);
}

static void nept_stats(struct vm *vm, struct stats *s)
{
	struct nvirt *nv = nvirt_of(vm);
	vm->mode_state = nv->ns;
	nested_mmu_ops.stats(vm, s);
	vm->mode_state = nv;
}

const struct mmu_ops nept_mmu_ops = {
    .name = "nept",
    .two_dim = true,
    .host_table = "EPT02",
    .guest_table = "L2's guest tables",
    .host_table_note = "the guest tables are L2's own (built by the L2 kernel); EPT02 is built "
		       "by L0 from L1's EPT12 and L0's EPT01",
    .desc = "nested virtualization, EPT on EPT: L2 over EPT02 built by L0 from L1's EPT12 "
	    "and EPT01",
    .init = nept_init,
    .destroy = nept_destroy,
    .translate = nept_translate,
    .on_cr3_load = nept_on_cr3_load,
    .on_invlpg = nept_on_invlpg,
    .on_tlb_flush = nept_on_tlb_flush,
    .on_world_switch = nept_on_world_switch,
    .audit = nept_audit,
    .audit_exit = nept_audit_exit,
    .stats = nept_stats,
};

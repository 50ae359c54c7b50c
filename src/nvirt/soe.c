/*
 * soe.c - shadow on EPT: the L1 hypervisor runs shadow paging for its L2
 * guest, L0 keeps EPT01. Two mmu_ops instances share the code:
 * shadow_on_ept_mmu_ops (L1 runs L2 with VMX, nested under L0) and
 * pvm_mmu_ops (the PVM variant: L1 runs L2 without VMX, behind its
 * switcher; see "pvm" below).
 *
 * The model (nvirt.h, struct soe): the shadow MMU of src/shadow, reached
 * through its api.h, is L1's. Its p2m stands for L1's (L2 gfn -> L1 gfn),
 * so its sptes are SPT12 (L2 gVA -> L1 gPA), in L1's memory, and its
 * handler work is L1's (l1_cycles). L0's EPT01 maps L1 gPA -> hPA one to
 * one (nested paging's state with nested_ept_set_identity()), built lazily.
 * The hardware runs L2 on CR3 = the shadow root and EPT01, and walks SPT12
 * over EPT01 with nested paging's 2D walker from the shadow root
 * (nested_translate_noexit_from()): 24 references for 4-level over 4-level
 * with the walk caches off.
 *
 * What the hardware's walk can meet, and who handles it:
 *   the walk completes          nothing: a TLB fill;
 *   EPT01 misses an L2 RAM      L2 -> L0 exit (48), L0 alone builds the
 *   frame                       EPT01 leaf (l2_exits, not reflected: L1
 *                               runs L2 without EPT, so KVM's
 *                               nested_vmx_l0_wants_exit() keeps it);
 *   EPT01 misses an SPT12 table L1's own first touch of that frame (48,
 *                               exits_l1): L0 builds the EPT01 leaf;
 *   an SPT12 entry fails        the #PF L1 intercepts: L2 -> L0 exit, L0
 *                               reflects it to L1 (nested_vmx_vmexit()),
 *                               L1's VMREADs exit to L0 (without VMCS
 *                               shadowing), L1's shadow MMU handles it
 *                               (hidden fault, emulated or unsynced store
 *                               to a write-protected L2 table, injected
 *                               guest fault), L1's VMRESUME exits to L0.
 * L2's MOV to CR3, INVLPG and CR writes are intercepted by L1 (it runs
 * shadow paging) and take the same reflected path. Every exit the shadow
 * MMU takes is therefore an L2 exit to L0 plus a reflection; the
 * reflection, VMREADs and VMRESUME are added after the delegated call
 * (soe_reflect()), in that order in the trace.
 *
 * Each L1 change of an spte may leave the 2D walker's cached guest entries
 * (its PWC) stale, so a reflected exit drops the guest dimension of the 2D
 * PWC (nested_flush_guest_walks()); EPT01 never changes a present entry.
 *
 * pvm (Huang et al., "PVM: Efficient Shadow Paging for Deploying Secure
 * Containers in Cloud-native Environment", SOSP'23; the KVM PVM patch
 * series, arch/x86/kvm/pvm/): L1 is an ordinary VM of L0 and uses no VMX.
 * L2, kernel and user, runs in L1's hardware user mode (CPL 3), and every
 * event of L2 that L1 must see (a #PF, the hypercalls that replace MOV to
 * CR3 and INVLPG: PVM_HC_LOAD_PGTBL, PVM_HC_TLB_INVLPG, PVM_HC_TLB_FLUSH)
 * lands in L1's kernel through L1's own entry code, the switcher
 * (entry_64_switcher.S, switcher_enter_guest() / pvm_vcpu_run(), then
 * pvm_handle_exit()), without a VM exit: L0 never learns of it. So under
 * pvm every exit the shadow MMU takes is a switcher round trip
 * (pvm_switches, cost.pvm_switch in cyc_exit; vm->exit_redirect), with
 * L1's shadow-paging handler work as under shadow-on-ept and no
 * reflection, VMREAD or VMRESUME. EPT01 is still L0's: its violations (an
 * L2 RAM frame, an SPT12 table's first touch) are VM exits to L0 exactly
 * as under shadow-on-ept, and the hardware still walks SPT12 over EPT01.
 * The switcher keeps L2's and L1's address spaces apart by PCID (the
 * paper's PCID mapping), so a switch flushes no TLB entry, VPID or not.
 *
 * Delegation: while a shadow hook runs, vm->mode_state is the shadow state
 * and vm->mmu is &shadow_mmu_ops (shadow's api.h duty), and under pvm
 * vm->exit_redirect is the switcher; nested paging's functions used here
 * read no vm->mode_state.
 */
#include <stdio.h>
#include <stdlib.h>

#include "nvirt.h"
#include "../core/guard.h"
#include "../shadow/api.h"

extern const struct mmu_ops shadow_on_ept_mmu_ops;
extern const struct mmu_ops pvm_mmu_ops;

static inline struct soe *soe_of(struct vm *vm)
{
	return vm->mode_state;
}

/*
 * pvm: an exit the shadow MMU takes is L2's entry into L1 through the
 * switcher and L1's return to L2 (PVM's "VM exit" and "VM entry", both
 * inside L1's VM). One round trip; the handler's cycles are L1's work.
 */
static void pvm_switcher_round_trip(struct vcpu *v, enum exit_reason r, uint32_t handler)
{
	struct vm *vm = v->vm;
	vm->st.pvm_switches++;
	vm->st.cyc_exit += vm->cost.pvm_switch;
	vm->st.cyc_vmm += handler;
	TRACE(vm, .kind = TR_VMM_OP, .result = (uint64_t)r, .cycles = vm->cost.pvm_switch + handler,
	      .what = "PVM switcher: L2 -> L1's kernel -> L2, no VM exit (pvm_vcpu_run, "
		      "pvm_handle_exit)");
}

/* What a delegated call changed. */
struct soe_mark {
	uint64_t exits, cyc_vmm;
};

/* L2's entries into L1 so far: reflected exits, or switcher round trips. */
static uint64_t soe_l1_entries(const struct vm *vm, const struct soe *s)
{
	return s->pv ? vm->st.pvm_switches : vm->st.vm_exits;
}

static struct soe_mark soe_enter(struct vm *vm, struct soe *s)
{
	vm->mode_state = s->sh;
	vm->mmu = &shadow_mmu_ops;
	vm->exit_redirect = s->pv ? pvm_switcher_round_trip : NULL;
	return (struct soe_mark){.exits = soe_l1_entries(vm, s), .cyc_vmm = vm->st.cyc_vmm};
}

/* Back to this mode's own state (after a delegated call or its abort). */
static void soe_restore(struct vm *vm, struct soe *s)
{
	vm->mode_state = s;
	vm->mmu = s->self;
	vm->exit_redirect = NULL;
}

/*
 * Back from a shadow hook: each exit it took was an L2 exit that L0
 * reflected to L1 (shadow-on-ept) or a switcher round trip (pvm, already
 * charged). The shadow handler's cycles are L1's work; under
 * shadow-on-ept L0 adds the reflection, and L1 its VMREADs and its
 * VMRESUME.
 */
static void soe_leave(struct vcpu *v, struct soe *s, struct soe_mark m)
{
	struct vm *vm = v->vm;
	soe_restore(vm, s);
	uint64_t exits = soe_l1_entries(vm, s) - m.exits;
	if (!exits)
		return;
	vm->st.l1_cycles += vm->st.cyc_vmm - m.cyc_vmm;
	nested_flush_guest_walks(v, s->ns);
	if (s->pv)
		return;
	for (uint64_t i = 0; i < exits; i++) {
		nv_reflect_l1_exit(vm);
		nv_l1_vmreads(v);
		nv_l1_vmresume(v);
	}
}

/*
 * One delegated call. A failed allocation inside it aborts the run through
 * vm->abort_jmp; the call interposes its own landing point
 * (vm_call_guarded()), so that the abort leaves vm->mode_state and vm->mmu
 * this mode's again and no exit redirect set (vm_destroy() then frees both
 * halves).
 */
static void soe_guarded(struct vm *vm, struct soe *s, struct nv_shadow_call *c)
{
	vm_call_guarded(vm, s, s->self, nv_shadow_call_run, c);
}

/* nested_mmu_ops's world switch, as vm_call_guarded() calls it. */
static void soe_world_switch_fn(void *v)
{
	nested_mmu_ops.on_world_switch(v);
}

/* An EPT01 violation of the hardware's walk: see the file comment. */
static void soe_ept01_violation(struct vcpu *v, struct soe *s, const struct nested_violation *viol)
{
	struct vm *vm = v->vm;
	uint64_t f = viol->gpa.v >> PAGE_SHIFT;
	if (!nested_ept_map(vm, s->ns, f, vm->cfg.host_page))
		vm_abort(vm, "EPT01 violation at L1 gPA %#" PRIx64 ": outside host memory",
			 viol->gpa.v);
	if (f >= vm->hm.guest_frames) {
		s->ept01_l1_faults++;
		TRACE(vm, .kind = TR_VMM_OP, .dim = DIM_HOST, .addr = viol->gpa.v,
		      .cycles = vm->cost.vmm_ept_violation,
		      .what = "L0: EPT01 leaf for L1's own frame (an SPT12 table)");
		vm_exit(v, EXIT_EPT_VIOLATION, &vm->st.exits_l1, vm->cost.vmm_ept_violation);
		return;
	}
	TRACE(vm, .kind = TR_VMM_OP, .dim = DIM_HOST, .addr = viol->gpa.v, .gva = viol->gva,
	      .cycles = vm->cost.vmm_ept_violation,
	      .what = "L0: EPT01 leaf for an L2 frame (L0's own exit: L1 uses no EPT)");
	vm->st.l2_exits++;
	vm_exit(v, EXIT_EPT_VIOLATION, &vm->st.exits_ept_violation, vm->cost.vmm_ept_violation);
}

/* Bound on the walk-and-fix rounds of one translation (a model bug
 * otherwise: the shadow MMU and the 2D walker disagree on an spte). */
#define SOE_MAX_ROUNDS 16

static enum xlate_result soe_translate(struct vcpu *v, struct mem_access *a, struct xlate *out)
{
	struct vm *vm = v->vm;
	struct soe *s = soe_of(vm);
	/* Each round either completes the walk or lets L1 or L0 fix what
	 * stopped it; the shadow MMU's own walk and the hardware's agree, so
	 * a few rounds always suffice. */
	for (int round = 0;; round++) {
		if (round == SOE_MAX_ROUNDS)
			vm_abort(vm,
				 "shadow-on-ept: the hardware's walk of SPT12 for gva %#" PRIx64
				 " still fails after %d rounds of L1's shadow MMU and L0",
				 a->gva, SOE_MAX_ROUNDS);
		struct soe_mark m = soe_enter(vm, s);
		uint64_t root = shadow_root_hpa(v);
		if (!root) {
			/* No shadow root for this CR3 yet: L1 builds it on the
			 * #PF the hardware takes (the root has no entries). */
			struct nv_shadow_call c = {.hook = NV_SH_TRANSLATE, .v = v, .a = a, .out = out};
			soe_guarded(vm, s, &c);
			enum xlate_result r = c.r;
			soe_leave(v, s, m);
			if (r != XLATE_OK)
				return r;
			continue;
		}
		soe_leave(v, s, m);
		struct nested_start from = {.level = vm->cfg.levels,
					    .table_gpa = root,
					    .perms = (uint8_t)(TLBF_W | TLBF_U),
					    .hw_rights = true};
		struct nested_violation viol;
		enum xlate_result r = nested_translate_noexit_from(v, s->ns, a, out, &from, &viol);
		if (r == XLATE_OK)
			return r;
		if (r == XLATE_RETRY) {
			soe_ept01_violation(v, s, &viol);
			if (viol.gpa.v >> PAGE_SHIFT >= vm->hm.guest_frames)
				continue; /* L1's store to the table came first */
			return XLATE_RETRY;
		}
		/* An SPT12 entry stopped the walk: the #PF L1 intercepts. */
		uint32_t refs = out->refs;
		m = soe_enter(vm, s);
		struct nv_shadow_call c = {.hook = NV_SH_TRANSLATE, .v = v, .a = a, .out = out};
		soe_guarded(vm, s, &c);
		r = c.r;
		soe_leave(v, s, m);
		out->refs = refs;
		if (r != XLATE_OK)
			return r;
	}
}

/* ---- hooks: L1 intercepts them, so each is reflected ---- */

static void soe_on_cr3_load(struct vcpu *v, uint64_t old_cr3)
{
	struct soe *s = soe_of(v->vm);
	struct soe_mark m = soe_enter(v->vm, s);
	soe_guarded(v->vm, s, &(struct nv_shadow_call){.hook = NV_SH_CR3, .v = v, .arg = old_cr3});
	soe_leave(v, s, m);
}

static void soe_on_invlpg(struct vcpu *v, gva_t gva)
{
	struct soe *s = soe_of(v->vm);
	struct soe_mark m = soe_enter(v->vm, s);
	soe_guarded(v->vm, s, &(struct nv_shadow_call){.hook = NV_SH_INVLPG, .v = v, .arg = gva});
	soe_leave(v, s, m);
}

static void soe_on_tlb_flush(struct vcpu *v, bool all)
{
	struct soe *s = soe_of(v->vm);
	struct soe_mark m = soe_enter(v->vm, s);
	soe_guarded(v->vm, s, &(struct nv_shadow_call){.hook = NV_SH_FLUSH, .v = v, .all = all});
	soe_leave(v, s, m);
}

static void soe_on_ctl_change(struct vcpu *v)
{
	struct soe *s = soe_of(v->vm);
	struct soe_mark m = soe_enter(v->vm, s);
	soe_guarded(v->vm, s, &(struct nv_shadow_call){.hook = NV_SH_CTL, .v = v});
	soe_leave(v, s, m);
}

static void soe_on_world_switch(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct soe *s = soe_of(vm);
	vm->mode_state = s->ns;
	vm->mmu = &nested_mmu_ops;
	vm_call_guarded(vm, s, s->self, soe_world_switch_fn, v);
	soe_restore(vm, s);
}

/* ---- life cycle, audit, stats ---- */

static void soe_destroy(struct vm *vm);

static int soe_init_as(struct vm *vm, const struct mmu_ops *self, bool pv)
{
	struct soe *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(vm->err, sizeof(vm->err), "out of memory for the %s state", self->name);
		return -1;
	}
	s->pv = pv;
	s->self = self;
	vm->mode_state = NULL;
	if (shadow_mmu_ops.init(vm) != 0) {
		free(s);
		return -1;
	}
	s->sh = vm->mode_state;
	vm->mode_state = NULL;
	if (nested_mmu_ops.init(vm) != 0) {
		if (vm->mode_state)
			nested_mmu_ops.destroy(vm);
		vm->mode_state = s->sh;
		shadow_mmu_ops.destroy(vm);
		free(s);
		return -1;
	}
	s->ns = vm->mode_state;
	nested_ept_set_identity(s->ns);
	vm->mode_state = s;
	return 0;
}

static int soe_init(struct vm *vm)
{
	return soe_init_as(vm, &shadow_on_ept_mmu_ops, false);
}

static int pvm_init(struct vm *vm)
{
	return soe_init_as(vm, &pvm_mmu_ops, true);
}

static void soe_destroy(struct vm *vm)
{
	struct soe *s = soe_of(vm);
	if (!s)
		return;
	vm->mode_state = s->ns;
	nested_mmu_ops.destroy(vm);
	vm->mode_state = s->sh;
	shadow_mmu_ops.destroy(vm);
	free(s);
	vm->mode_state = NULL;
}

static const char *soe_audit(struct vm *vm, char *detail, size_t len)
{
	struct soe *s = soe_of(vm);
	const struct mmu_ops *me = vm->mmu;
	vm->mode_state = s->sh;
	vm->mmu = &shadow_mmu_ops;
	const char *bad = shadow_mmu_ops.audit(vm, detail, len);
	if (!bad) {
		vm->mode_state = s->ns;
		vm->mmu = &nested_mmu_ops;
		bad = nested_mmu_ops.audit(vm, detail, len);
	}
	vm->mode_state = s;
	vm->mmu = me;
	return bad;
}

/* After an exit: the shadow MMU's entries the exit touched. EPT01 only
 * ever gains identity leaves, which the end-of-run audit checks. */
static const char *soe_audit_exit(struct vm *vm, char *detail, size_t len)
{
	struct soe *s = soe_of(vm);
	const struct mmu_ops *me = vm->mmu;
	vm->mode_state = s->sh;
	vm->mmu = &shadow_mmu_ops;
	const char *bad = shadow_mmu_ops.audit_exit(vm, detail, len);
	vm->mode_state = s;
	vm->mmu = me;
	return bad;
}

static void soe_stats(struct vm *vm, struct stats *st)
{
	struct soe *s = soe_of(vm);
	vm->mode_state = s->ns;
	nested_mmu_ops.stats(vm, st);
	vm->mode_state = s->sh;
	shadow_mmu_ops.stats(vm, st);
	vm->mode_state = s;
}

const struct mmu_ops shadow_on_ept_mmu_ops = {
    .name = "shadow-on-ept",
    .two_dim = true,
    .forces_wp_nx = true,
    .host_table = "EPT01",
    .guest_table = "SPT12",
    .host_table_note = "the guest-dimension table is L1's SPT12 (built by L1's shadow MMU); "
		       "EPT01 is L0's, one to one over L1's memory",
    .desc = "nested virtualization, shadow on EPT: L1's shadow tables (SPT12) over L0's "
	    "EPT01; L2's page-table stores reflected to L1",
    .init = soe_init,
    .destroy = soe_destroy,
    .translate = soe_translate,
    .on_cr3_load = soe_on_cr3_load,
    .on_invlpg = soe_on_invlpg,
    .on_tlb_flush = soe_on_tlb_flush,
    .on_ctl_change = soe_on_ctl_change,
    .on_world_switch = soe_on_world_switch,
    .audit = soe_audit,
    .audit_exit = soe_audit_exit,
    .stats = soe_stats,
};

/* The PVM variant: the same hooks; only init (s->pv) and the names differ. */
const struct mmu_ops pvm_mmu_ops = {
    .name = "pvm",
    .two_dim = true,
    .forces_wp_nx = true,
    .host_table = "EPT01",
    .guest_table = "SPT12",
    .host_table_note = "the guest-dimension table is L1's SPT12 (built by L1's shadow MMU, "
		       "entered through the PVM switcher); EPT01 is L0's, one to one over L1's "
		       "memory",
    .desc = "nested virtualization, PVM: shadow on EPT with L1 running without VMX; L2's "
	    "faults, page-table stores, CR3 loads and INVLPGs reach L1 through its switcher, "
	    "no exit to L0",
    .init = pvm_init,
    .destroy = soe_destroy,
    .translate = soe_translate,
    .on_cr3_load = soe_on_cr3_load,
    .on_invlpg = soe_on_invlpg,
    .on_tlb_flush = soe_on_tlb_flush,
    .on_ctl_change = soe_on_ctl_change,
    .on_world_switch = soe_on_world_switch,
    .audit = soe_audit,
    .audit_exit = soe_audit_exit,
    .stats = soe_stats,
};

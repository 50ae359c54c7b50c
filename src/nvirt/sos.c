/*
 * sos.c - shadow on shadow: the L1 hypervisor runs shadow paging for its
 * L2 guest on an L0 that has no EPT (KVM with ept=0 at L0). The mmu_ops
 * instance shadow_on_shadow_mmu_ops.
 *
 * The model (sos.h): L1's shadow MMU (src/shadow, through its api.h)
 * keeps SPT12 (L2 gVA -> L1 gPA), as under shadow-on-ept. L0 shadows
 * SPT12 in turn into SPT02 (L2 gVA -> hPA, spt02.c), lazily, and the
 * hardware walks SPT02 alone: one 1D walk (walk1d(), 4 references for
 * 4-level with the walk caches off). Every L2 exit goes to L0 first:
 *
 *   SPT02 walk completes     nothing: a TLB fill;
 *   SPT02 walk fails, and    a hidden fault at L0 (exit 0, l2_exits,
 *   SPT12 allows the access  exits_hidden_fault): L0 walks SPT12 in
 *                            software and builds SPT02 from it
 *                            (FNAME(page_fault), FNAME(fetch)); the L2
 *                            frame's host frame is L1's, which L0 backs
 *                            here (no EPT violation exists without EPT);
 *   SPT12 does not allow it  the #PF L1 intercepts: L0 reflects it to L1
 *                            (nested_vmx_vmexit(), reflected_exits); L1's
 *                            VMREADs exit (without --vmcs-shadow); L1's
 *                            shadow MMU handles it (hidden fault,
 *                            emulated or unsynced L2 page-table store,
 *                            injected guest fault); each of its stores to
 *                            SPT12 may exit to L0 (below); L1's VMRESUME
 *                            exits.
 * L2's MOV to CR3, INVLPG, TLB flushes and CR writes are intercepted by
 * L1 (it runs shadow paging) and take the reflected path, as under
 * shadow-on-ept.
 *
 * L1's stores to SPT12 (the shadow MMU's store hook, spt02_l1_store()):
 * L0 runs L1 on shadow paging too (its SPT01, not materialised), so
 *   - L1's first store to a frame of its own is a #PF of L1 that L0 fixes
 *     alone (exit 0, exits_l1): the SPT01 leaf of L1's direct map;
 *   - a store to an SPT12 table L0 write-protects (it built SPT02 pages
 *     from it, account_shadowed()) is a #PF of L1 that L0 emulates (exit
 *     0, exits_l1, spt12_traps), zapping the SPT02 entry it changes
 *     (kvm_mmu_track_write() -> mmu_page_zap_pte()).
 * They happen while L1's handler runs, inside the delegated call; the
 * store hook does L0's work at once and queues the exits, which this file
 * accounts after the shadow MMU's exit returns: the L2 exit (the shadow
 * MMU's own, counted when its handler ends), L0's reflection, L1's
 * VMREADs, L1's store exits in the order they happened, L1's VMRESUME.
 *
 * Delegation: while a shadow hook runs, vm->mode_state is the shadow state
 * and vm->mmu is &shadow_mmu_ops (shadow's api.h duty), under a landing
 * point (vm_call_guarded(), src/core/guard.h). L1's handler reads SPT12
 * with the shadow MMU's own walk (walk1d() over SPT12 inside its
 * translate): that walk is L1's software work, not L2's hardware walk, so
 * it runs with the walk caches off (the paging-structure caches hold
 * SPT02's tables) and its cycles are not charged as walk cycles.
 */
#include <stdio.h>
#include <stdlib.h>

#include "nvirt.h"
#include "sos.h"
#include "../core/guard.h"
#include "../core/walk.h"
#include "../shadow/api.h"

extern const struct mmu_ops shadow_on_shadow_mmu_ops;

static inline struct sos *sos_of(struct vm *vm)
{
	return vm->mode_state;
}

/* ---- delegation to L1's shadow MMU ---- */

/* One call into L1's shadow MMU. L1's translate() is its own reading of
 * SPT12 in software, not L2's hardware walk: no walk cache serves it and
 * its walk cycles are not L2's. */
static void sos_dispatch(void *arg)
{
	struct nv_shadow_call *c = arg;
	struct vm *vm = c->v->vm;

	if (c->hook != NV_SH_TRANSLATE) {
		nv_shadow_call_run(c);
		return;
	}
	bool caches = vm->cfg.walk_caches;
	uint64_t cyc_walk = vm->st.cyc_walk;
	vm->cfg.walk_caches = false;
	nv_shadow_call_run(c);
	vm->cfg.walk_caches = caches;
	vm->st.cyc_walk = cyc_walk;
}

/* The shadow MMU's store hook: L1 stored to SPT12. */
static void sos_store_hook(void *ctx, uint64_t spte_hpa, uint64_t old, uint64_t val)
{
	struct sos *s = ctx;
	(void)old;
	(void)val;
	if (!s->delegating)
		vmmu_bug("sos-delegated", "an SPT12 store outside L1's handler");
	spt02_l1_store(s->v, &s->l0, spte_hpa);
}

/* L1's store exits of reflected exit 'seg' (all remaining ones when
 * last), in the order they happened. */
static void sos_replay_stores(struct vcpu *v, struct sos *s, size_t *k, uint64_t seg, bool last)
{
	struct spt02 *t = &s->l0;
	for (; *k < t->npend && (last || t->pend[*k].seg <= seg); (*k)++) {
		const struct sos_l1_exit *e = &t->pend[*k];
		TRACE(v->vm, .kind = TR_VMM_OP, .entry_addr = e->addr, .cycles = e->cycles,
		      .what =
			  e->kind == SOS_L1_FIRST
			      ? "L1: first touch of its frame: a #PF L0 fixes alone (SPT01 leaf)"
			      : "L1: store to a write-protected SPT12 table: a #PF L0 emulates, "
				"zapping the SPT02 entry (kvm_mmu_track_write)");
		vm_exit(v, EXIT_EXCEPTION, &v->vm->st.exits_l1, e->cycles);
	}
}

/*
 * Run one delegated call of L1's shadow MMU, then account what it did:
 * each exit it took was an L2 exit that L0 reflected to L1; the shadow
 * handler's cycles are L1's work; L0 adds the reflection, L1 its VMREADs,
 * its stores' exits and its VMRESUME.
 */
static void sos_delegate(struct vcpu *v, struct sos *s, struct nv_shadow_call *c)
{
	struct vm *vm = v->vm;
	uint64_t exits0 = vm->st.vm_exits, cyc0 = vm->st.cyc_vmm;
	s->l0.npend = 0;
	s->l0.seg_base = exits0;
	s->v = v;
	s->delegating = true;
	vm->mode_state = s->sh;
	vm->mmu = &shadow_mmu_ops;
	vm_call_guarded(vm, s, &shadow_on_shadow_mmu_ops, sos_dispatch, c);
	vm->mode_state = s;
	vm->mmu = &shadow_on_shadow_mmu_ops;
	s->delegating = false;
	uint64_t exits = vm->st.vm_exits - exits0;
	vm->st.l1_cycles += vm->st.cyc_vmm - cyc0;
	size_t k = 0;
	for (uint64_t i = 0; i < exits; i++) {
		nv_reflect_l1_exit(vm);
		nv_l1_vmreads(v);
		sos_replay_stores(v, s, &k, i, i + 1 == exits);
		nv_l1_vmresume(v);
	}
	sos_replay_stores(v, s, &k, 0, true); /* stores of a call that took no exit */
	s->l0.npend = 0;
}

/* L1's SPT12 root for L2's CR3, 0 when it has none yet. */
static uint64_t sos_root12(struct vcpu *v, struct sos *s)
{
	struct vm *vm = v->vm;
	vm->mode_state = s->sh;
	vm->mmu = &shadow_mmu_ops;
	uint64_t r = shadow_root_hpa(v);
	vm->mode_state = s;
	vm->mmu = &shadow_on_shadow_mmu_ops;
	return r;
}

/* Bound on the walk-and-fix rounds of one translation (a model bug
 * otherwise: L0's walk of SPT12 and L1's disagree). */
#define SOS_MAX_ROUNDS 16

static enum xlate_result sos_reflect_pf(struct vcpu *v, struct sos *s, struct mem_access *a,
					struct xlate *out)
{
	struct nv_shadow_call c = {.hook = NV_SH_TRANSLATE, .v = v, .a = a, .out = out};
	sos_delegate(v, s, &c);
	return c.r;
}

static enum xlate_result sos_translate(struct vcpu *v, struct mem_access *a, struct xlate *out)
{
	struct vm *vm = v->vm;
	struct sos *s = sos_of(vm);
	for (int round = 0;; round++) {
		if (round == SOS_MAX_ROUNDS)
			vm_abort(vm,
				 "shadow-on-shadow: the hardware's walk of SPT02 for gva %#" PRIx64
				 " still fails after %d rounds of L0 and L1's shadow MMU",
				 a->gva, SOS_MAX_ROUNDS);
		uint64_t root12 = sos_root12(v, s);
		if (!root12) {
			/* L1 has no shadow root for this CR3 yet: it builds it
			 * on the #PF the hardware takes (the root is empty). */
			enum xlate_result r = sos_reflect_pf(v, s, a, out);
			out->refs = 0;
			if (r != XLATE_OK)
				return r;
			continue;
		}
		struct sp02 *root = spt02_root(v, &s->l0, root12);
		struct walk1d w;
		if (walk1d(v, root->hfn << PAGE_SHIFT, a, DIM_SHADOW, true, &w)) {
			out->fill = w.fill;
			out->refs = w.refs;
			return XLATE_OK;
		}
		/* The #PF exits to L0, which looks at SPT12 first. */
		uint32_t cycles;
		if (spt02_fault(v, &s->l0, a, &cycles)) {
			vm->st.l2_exits++;
			vm_exit(v, EXIT_EXCEPTION, &vm->st.exits_hidden_fault, cycles);
			out->refs = w.refs;
			return XLATE_RETRY;
		}
		enum xlate_result r = sos_reflect_pf(v, s, a, out);
		out->refs = w.refs;
		if (r != XLATE_OK)
			return r;
	}
}

/* ---- hooks: L1 intercepts them, so each is reflected ---- */

static void sos_on_cr3_load(struct vcpu *v, uint64_t old_cr3)
{
	sos_delegate(v, sos_of(v->vm), &(struct nv_shadow_call){.hook = NV_SH_CR3, .v = v, .arg = old_cr3});
}

static void sos_on_invlpg(struct vcpu *v, gva_t gva)
{
	sos_delegate(v, sos_of(v->vm), &(struct nv_shadow_call){.hook = NV_SH_INVLPG, .v = v, .arg = gva});
}

static void sos_on_tlb_flush(struct vcpu *v, bool all)
{
	sos_delegate(v, sos_of(v->vm), &(struct nv_shadow_call){.hook = NV_SH_FLUSH, .v = v, .all = all});
}

static void sos_on_ctl_change(struct vcpu *v)
{
	sos_delegate(v, sos_of(v->vm), &(struct nv_shadow_call){.hook = NV_SH_CTL, .v = v});
}

/* ---- life cycle, audit, stats ---- */

static int sos_init(struct vm *vm)
{
	struct sos *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(vm->err, sizeof(vm->err), "out of memory for the shadow-on-shadow state");
		return -1;
	}
	vm->mode_state = NULL;
	if (shadow_mmu_ops.init(vm) != 0) {
		free(s);
		return -1;
	}
	s->sh = vm->mode_state;
	if (spt02_init(vm, &s->l0) != 0) {
		spt02_destroy(vm, &s->l0);
		shadow_mmu_ops.destroy(vm);
		free(s);
		return -1;
	}
	shadow_set_store_hook(vm, sos_store_hook, s);
	vm->mode_state = s;
	return 0;
}

static void sos_destroy(struct vm *vm)
{
	struct sos *s = sos_of(vm);
	if (!s)
		return;
	vm->mode_state = s->sh;
	shadow_set_store_hook(vm, NULL, NULL);
	shadow_mmu_ops.destroy(vm);
	spt02_destroy(vm, &s->l0);
	free(s);
	vm->mode_state = NULL;
}

static const char *sos_audit_by(struct vm *vm, bool full, char *detail, size_t len)
{
	struct sos *s = sos_of(vm);
	const struct mmu_ops *me = vm->mmu;
	vm->mode_state = s->sh;
	vm->mmu = &shadow_mmu_ops;
	const char *bad = full ? shadow_mmu_ops.audit(vm, detail, len)
			       : shadow_mmu_ops.audit_exit(vm, detail, len);
	vm->mode_state = s;
	vm->mmu = me;
	if (!bad)
		bad = spt02_audit(vm, &s->l0, full, detail, len);
	return bad;
}

static const char *sos_audit(struct vm *vm, char *detail, size_t len)
{
	return sos_audit_by(vm, true, detail, len);
}

/* After an exit: the shadow MMU's entries and the SPT02 pages it touched. */
static const char *sos_audit_exit(struct vm *vm, char *detail, size_t len)
{
	return sos_audit_by(vm, false, detail, len);
}

static void sos_stats(struct vm *vm, struct stats *st)
{
	struct sos *s = sos_of(vm);
	vm->mode_state = s->sh;
	shadow_mmu_ops.stats(vm, st);
	vm->mode_state = s;
	st->spt02_pages_peak = s->l0.pages_peak;
}

const struct mmu_ops shadow_on_shadow_mmu_ops = {
    .name = "shadow-on-shadow",
    .forces_wp_nx = true,
    .desc = "nested virtualization, shadow on shadow: L1's shadow tables (SPT12) shadowed by "
	    "L0 into SPT02, which the hardware walks (L0 has no EPT)",
    .init = sos_init,
    .destroy = sos_destroy,
    .translate = sos_translate,
    .on_cr3_load = sos_on_cr3_load,
    .on_invlpg = sos_on_invlpg,
    .on_tlb_flush = sos_on_tlb_flush,
    .on_ctl_change = sos_on_ctl_change,
    .audit = sos_audit,
    .audit_exit = sos_audit_exit,
    .stats = sos_stats,
};

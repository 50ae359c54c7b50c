/*
 * nested.c - the nested paging mode (Intel EPT, AMD NPT) as core sees it:
 * one const struct mmu_ops, nested_mmu_ops.
 *
 * The hardware walks the guest's own tables, in guest-physical memory, and
 * translates every guest-table address and the final data address through
 * the EPT (walk2d.c). The VMM's only job is to fill the EPT lazily: the first
 * touch of a guest frame raises an EPT violation, whose handler backs the
 * frame through the shared p2m and installs the EPT leaf (ept.c). Nothing
 * else exits: guest page faults go straight to the guest kernel, and guest
 * page-table stores, MOV to CR3 and INVLPG run without the VMM (SDM Vol. 3C
 * §29.3; APM Vol. 2 §15.25). Those instructions still drop the cached
 * guest-dimension state the SDM says they drop (invept.c).
 *
 * Invariants: those of nested.h; plus, after every EPT-violation exit, the
 * faulting gPA is mapped, so the retried access makes progress.
 */
#include <stdio.h>
#include <stdlib.h>

#include "nested.h"

/* ---- exits ---- */

static void nested_handle_violation(struct vcpu *v, struct nested_state *ns,
				    const struct ept_violation *viol)
{
	struct vm *vm = v->vm;
	ns->last_violation = *viol;
	if (viol->final)
		ns->violations_final++;
	else
		ns->violations_table++;
	if (!viol->not_present)
		vmmu_bug("ept-rights-rwx",
			 "EPT violation on a present entry for gPA %#" PRIx64
			 " (qualification %#" PRIx64 "): the VMM grants RWX everywhere",
			 viol->gpa.v, viol->qual);
	int leaf = ept_map_gfn(vm, ns, gpa_to_gfn(viol->gpa));
	TRACE(vm, .kind = TR_VMM_OP, .dim = DIM_HOST, .level = viol->ept_level,
	      .host_level = viol->ept_level, .guest_level = viol->guest_level, .gva = viol->gva,
	      .addr = viol->gpa.v, .result = viol->qual,
	      .what = viol->final ? "EPT violation handled (final gPA)"
				  : "EPT violation handled (guest page-table access)");
	vm_exit(v, EXIT_EPT_VIOLATION, &vm->st.exits_ept_violation, vm->cost.vmm_ept_violation);
	if (!leaf)
		vm_abort(vm,
			 "EPT violation at gPA %#" PRIx64 " (gva %#" PRIx64
			 "): outside the guest's %" PRIu64 " bytes of memory",
			 viol->gpa.v, viol->gva, vm->cfg.guest_mem);
}

static _Noreturn void nested_handle_misconfig(struct vcpu *v, struct nested_state *ns,
					      const struct ept_misconfig *m)
{
	struct vm *vm = v->vm;
	ns->last_misconfig = *m;
	ns->misconfig_pending = true;
	vm_exit(v, EXIT_EPT_MISCONFIG, &vm->st.exits_ept_misconfig, 0);
	vm_abort(vm,
		 "EPT misconfiguration (exit reason 49) translating gPA %#" PRIx64
		 ": level-%d EPT entry %#" PRIx64 " at hPA %#" PRIx64 ": %s",
		 m->gpa.v, m->ept_level, m->entry, m->entry_addr.v, m->why);
}

/* ---- several vCPUs ---- */

/* Make v's 2D PWC and nested TLB the live ones. */
static void nested_vcpu_enter(struct nested_state *ns, const struct vcpu *v)
{
	if (!ns->vpwc || v->id == ns->owner)
		return;
	ns->vpwc[ns->owner] = ns->pwc;
	ns->vntlb[ns->owner] = ns->ntlb;
	ns->pwc = ns->vpwc[v->id];
	ns->ntlb = ns->vntlb[v->id];
	ns->owner = v->id;
}

static int nested_smp_init(struct vm *vm, struct nested_state *ns)
{
	const struct vm_config *cfg = &vm->cfg;
	if (vm->nr_vcpus < 2)
		return 0;
	ns->vpwc = calloc(vm->nr_vcpus, sizeof(*ns->vpwc));
	ns->vntlb = calloc(vm->nr_vcpus, sizeof(*ns->vntlb));
	if (!ns->vpwc || !ns->vntlb)
		return -1;
	for (unsigned i = 1; i < vm->nr_vcpus; i++)
		if (pwc2d_init(&ns->vpwc[i], ns->use_pwc ? cfg->pwc_entries : 0) ||
		    ntlb_init(&ns->vntlb[i], ns->use_ntlb ? cfg->ntlb_entries : 0))
			return -1;
	return 0;
}

static void nested_smp_destroy(struct vm *vm, struct nested_state *ns)
{
	for (unsigned i = 0; ns->vpwc && ns->vntlb && i < vm->nr_vcpus; i++) {
		if (i == ns->owner)
			continue;
		pwc2d_destroy(&ns->vpwc[i]);
		ntlb_destroy(&ns->vntlb[i]);
	}
	free(ns->vpwc);
	free(ns->vntlb);
}

/* ---- mmu_ops ---- */

static int nested_init(struct vm *vm)
{
	struct nested_state *ns = calloc(1, sizeof(*ns));
	if (!ns) {
		snprintf(vm->err, sizeof(vm->err), "out of memory for the nested-paging state");
		return -1;
	}
	const struct vm_config *cfg = &vm->cfg;
	/* EPT depth is the VMM's choice, independent of the guest's paging
	 * depth: KVM picks it in kvm_mmu_get_tdp_level() (config.c). */
	ns->levels = cfg->ept_levels;
	ns->ept_ad = cfg->ept_ad;
	ns->use_pwc = cfg->walk_caches && cfg->pwc && cfg->pwc_entries > 0;
	ns->use_ntlb = cfg->walk_caches && cfg->ntlb && cfg->ntlb_entries > 0;
	vm->mode_state = ns;
	if (pwc2d_init(&ns->pwc, ns->use_pwc ? cfg->pwc_entries : 0) ||
	    ntlb_init(&ns->ntlb, ns->use_ntlb ? cfg->ntlb_entries : 0) ||
	    nested_smp_init(vm, ns)) {
		snprintf(vm->err, sizeof(vm->err), "out of memory for the 2D walk caches");
		return -1;
	}
	return ept_init(vm, ns);
}

static void nested_destroy(struct vm *vm)
{
	struct nested_state *ns = nested_of(vm);
	if (!ns)
		return;
	ept_destroy(vm, ns);
	nested_smp_destroy(vm, ns);
	pwc2d_destroy(&ns->pwc);
	ntlb_destroy(&ns->ntlb);
	free(ns);
	vm->mode_state = NULL;
}

static enum xlate_result nested_translate(struct vcpu *v, struct mem_access *a, struct xlate *out)
{
	nested_vcpu_enter(nested_of(v->vm), v);
	return nested_translate_from(v, nested_of(v->vm), a, out, NULL, NULL, NULL);
}

/* The translation behind nested_translate_from() and
 * nested_translate_noexit(): viol == NULL handles an EPT violation here,
 * else hands it to the caller. */
static enum xlate_result nested_xlate(struct vcpu *v, struct nested_state *ns, struct mem_access *a,
				      struct xlate *out, const struct nested_start *from,
				      gpa_t *data_gpa, int *guest_leaf,
				      struct nested_violation *viol)
{
	struct vm *vm = v->vm;
	struct walk2d w;
	enum walk2d_outcome o = walk2d_from(v, ns, a, &w, from);
	out->refs = w.refs;
	switch (o) {
	case W2D_OK:
		vm->st.walk_refs_guest += w.guest_refs;
		vm->st.walk_refs_host += w.host_refs;
		out->fill = w.fill;
		if (data_gpa)
			*data_gpa = w.data_gpa;
		if (guest_leaf)
			*guest_leaf = w.guest_leaf_level;
		return XLATE_OK;
	case W2D_FAULT:
		out->fault = w.fault;
		return XLATE_FAULT;
	case W2D_VIOLATION:
		if (viol) {
			ns->last_violation = w.viol;
			*viol = (struct nested_violation){.gpa = w.viol.gpa,
							  .gva = w.viol.gva,
							  .final = w.viol.final,
							  .guest_level = w.viol.guest_level};
			return XLATE_RETRY;
		}
		nested_handle_violation(v, ns, &w.viol);
		return XLATE_RETRY;
	case W2D_MISCONFIG:
		nested_handle_misconfig(v, ns, &w.misconfig);
	}
	vmmu_bug("walk2d-outcome", "unknown 2D walk outcome %d", (int)o);
}

enum xlate_result nested_translate_from(struct vcpu *v, struct nested_state *ns,
					struct mem_access *a, struct xlate *out,
					const struct nested_start *from, gpa_t *data_gpa,
					int *guest_leaf)
{
	return nested_xlate(v, ns, a, out, from, data_gpa, guest_leaf, NULL);
}

enum xlate_result nested_translate_noexit(struct vcpu *v, struct nested_state *ns,
					  struct mem_access *a, struct xlate *out,
					  struct nested_violation *viol)
{
	return nested_xlate(v, ns, a, out, NULL, NULL, NULL, viol);
}

enum xlate_result nested_translate_noexit_from(struct vcpu *v, struct nested_state *ns,
					       struct mem_access *a, struct xlate *out,
					       const struct nested_start *from,
					       struct nested_violation *viol)
{
	return nested_xlate(v, ns, a, out, from, NULL, NULL, viol);
}

static void nested_on_cr3_load(struct vcpu *v, uint64_t old_cr3)
{
	(void)old_cr3; /* no exit: MOV to CR3 is not intercepted under EPT */
	nested_vcpu_enter(nested_of(v->vm), v);
	nested_flush_on_cr3(v);
}

static void nested_on_invlpg(struct vcpu *v, gva_t gva)
{
	nested_vcpu_enter(nested_of(v->vm), v);
	nested_flush_on_invlpg(v, gva); /* no exit: INVLPG is not intercepted */
}

static void nested_on_tlb_flush(struct vcpu *v, bool all)
{
	nested_vcpu_enter(nested_of(v->vm), v);
	nested_flush_on_guest_flush(v, all);
}

static void nested_on_world_switch(struct vcpu *v)
{
	nested_vcpu_enter(nested_of(v->vm), v);
	nested_flush_on_world_switch(v);
}

static const char *nested_audit(struct vm *vm, char *detail, size_t len)
{
	struct nested_state *ns = nested_of(vm);
	if (ns->misconfig_pending)
		return NULL; /* the run is being aborted with a clearer message */
	return ept_audit(vm, ns, detail, len);
}

static void nested_stats(struct vm *vm, struct stats *s)
{
	const struct nested_state *ns = nested_of(vm);
	s->ept_pages_peak = ns->ept_pages_peak;
	s->ept_bytes_peak = ns->ept_pages_peak * PAGE_SIZE;
}

const struct mmu_ops nested_mmu_ops = {
    .name = "nested",
    .has_pke = true,
    .two_dim = true,
    .desc = "hardware-assisted paging (EPT/NPT): 2D walks, lazy EPT fill, PWC and nested TLB",
    .init = nested_init,
    .destroy = nested_destroy,
    .translate = nested_translate,
    .on_cr3_load = nested_on_cr3_load,
    .on_invlpg = nested_on_invlpg,
    .on_tlb_flush = nested_on_tlb_flush,
    .on_world_switch = nested_on_world_switch,
    .audit = nested_audit,
    .stats = nested_stats,
    .smp = true,
};

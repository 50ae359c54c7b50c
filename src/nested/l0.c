/*
 * l0.c - the EPT operations a nested hypervisor's L0 needs (api.h): the
 * walk that hands EPT violations back instead of handling them lives in
 * nested.c; here are installing, looking up and clearing one EPT leaf, and
 * dropping the whole EPT.
 *
 * src/nvirt keeps EPT02 in nested paging's EPT: L0 installs an EPT02 leaf
 * only where EPT12 ∘ EPT01 maps the gPA, and clears it when L1 changes
 * EPT12 or executes INVEPT (KVM's nested EPT, paging_tmpl.h with
 * PTTYPE_EPT). A cleared entry breaks nested.h's invariant that the VMM
 * never changes a present EPT entry, so every function here that clears
 * drops all cached guest-physical and combined mappings at once, as an
 * INVEPT single-context of the EPTP does: nothing cached is then stale.
 */
#include "nested.h"

/* INVEPT single-context of ns's EPTP: the TLB, the 2D PWC, the nested TLB. */
static void l0_flush(struct vcpu *v, struct nested_state *ns, const char *what)
{
	struct vm *vm = v->vm;
	uint64_t n = tlb_flush_all(&v->tlb);
	/* One VM, one EPTP: every guest-physical and combined entry in the
	 * walk caches derives from it (also from its old root after a reset). */
	pwc2d_flush_all(&ns->pwc);
	ntlb_flush_all(&ns->ntlb);
	vm->st.tlb_flushes++;
	vm->st.tlb_entries_flushed += n;
	vm->st.cyc_flush += vm->cost.tlb_flush;
	TRACE(vm, .kind = TR_TLB_FLUSH, .result = n, .cycles = vm->cost.tlb_flush, .what = what);
}

int nested_ept_map(struct vm *vm, struct nested_state *ns, gfn_t gfn, enum page_size max)
{
	return ept_map_gfn_max(vm, ns, gfn, max);
}

int nested_ept_level(struct vm *vm, const struct nested_state *ns, gpa_t gpa)
{
	hpa_t h;
	return ept_lookup(vm, ns, gpa, &h);
}

int nested_ept_unmap(struct vcpu *v, struct nested_state *ns, gfn_t gfn)
{
	struct vm *vm = v->vm;
	gpa_t gpa = gfn_to_gpa(gfn);
	hpa_t h;
	int l = ept_lookup(vm, ns, gpa, &h);
	if (!l)
		return 0;
	hpa_t ea = ept_entry_addr(vm, ns, gpa, l);
	hpa_write64(vm, ea, 0);
	ns->ept_leaves[level_page_size(l)]--;
	TRACE(vm, .kind = TR_VMM_OP, .dim = DIM_HOST, .level = l, .host_level = l,
	      .addr = gpa.v & ~(page_bytes(level_page_size(l)) - 1), .entry_addr = ea.v,
	      .what = "EPT leaf cleared");
	l0_flush(v, ns, "INVEPT single-context (EPT leaf cleared)");
	return l;
}

uint64_t nested_ept_reset(struct vcpu *v, struct nested_state *ns)
{
	struct vm *vm = v->vm;
	uint64_t pages = ns->ept_pages;
	ept_destroy(vm, ns);
	for (int s = 0; s < PG_NR; s++)
		ns->ept_leaves[s] = 0;
	if (ept_init(vm, ns) != 0)
		vmmu_bug("ept-reset", "EPT re-initialisation failed: %s", vm->err);
	l0_flush(v, ns, "INVEPT single-context (EPT dropped)");
	return pages;
}

void nested_ept_set_identity(struct nested_state *ns)
{
	ns->identity = true;
}

void nested_flush_guest_walks(struct vcpu *v, struct nested_state *ns)
{
	pwc2d_flush_guest_vpid(&ns->pwc, v->vpid);
}

/*
 * gwalk.c - the VMM's software walk of the guest page tables (KVM's
 * FNAME(walk_addr)), run on every exit of a failed shadow walk.
 *
 * The walk starts at the guest CR3, reads one gpte per level through the
 * p2m (the guest's tables live in guest-physical memory) and stops at a
 * leaf, a non-present entry or a denied access. Each read is charged with
 * vm_vmm_walk_ref(): the same page-table line cache as hardware walks, but
 * counted in vmm_walk_refs and cyc_vmm, not walk_refs.
 *
 * Accessed/dirty bits follow the hardware walker (core/walk.c) exactly:
 * a walk that completes with the access permitted sets A on every entry and
 * D on the leaf of a write; a walk that faults sets nothing. The VMM only
 * walks on the way to completing an access (install an spte, emulate a
 * store), so the guest image ends up as it would natively: A on an entry
 * once some access has used it, D on a leaf once some store has.
 *
 * Fault data follows walk1d() too: error code from walk_access_pfec(), P set
 * for a protection fault, P and RSVD for a reserved bit (bit 63 without
 * EFER.NXE), RSVD for a non-canonical address; level = where the walk
 * stopped. Rights are the guest's (v->guest_rights: its CR0.WP, CR4.SMEP,
 * CR4.SMAP with EFLAGS.AC, EFER.NXE), as in KVM's FNAME(walk_addr_generic)
 * with permission_fault().
 */
#include <string.h>

#include "shadow.h"
#include "api.h"
#include "../core/walk.h"

bool gwalk_run(struct vcpu *v, const struct mem_access *a, struct gwalk *w)
{
	struct vm *vm = v->vm;
	const int top = vm->cfg.levels;
	const struct paging_rights *r = &v->guest_rights;
	memset(w, 0, sizeof(*w));
	w->top = top;
	if (!va_canonical(a->gva, top)) {
		w->fault = (struct guest_fault){
		    .gva = a->gva, .error_code = walk_access_pfec(r, a) | PFEC_RSVD, .level = top};
		return false;
	}
	uint64_t table = pte_frame(v->cr3);
	uint8_t acc = SP_ACC_ALL;
	int level;
	for (level = top;; level--) {
		w->acc[level] = acc;
		unsigned idx = pt_index(a->gva, level);
		gpa_t ea = GPA(table + 8u * idx);
		hfn_t h = p2m_ensure(vm, gpa_to_gfn(ea));
		uint64_t e = 0;
		if (h != INVALID_HFN) {
			hpa_t ha = HPA((h << PAGE_SHIFT) + 8u * idx);
			int cl;
			e = hpa_read64(vm, ha);
			uint32_t cyc = vm_vmm_walk_ref(vm, ha, &cl);
			TRACE(vm, .kind = TR_WALK_REF, .dim = DIM_GUEST, .served = SERVED_MEMORY,
			      .level = level, .cache_level = cl, .step = top - level + 1,
			      .user = a->user, .access = a->kind, .gva = a->gva, .addr = ha.v,
			      .table_addr = table, .index = idx, .entry_addr = ea.v, .entry = e,
			      .cycles = cyc, .what = "VMM software walk of the guest table");
		}
		w->gpte[level] = e;
		w->addr[level] = ea;
		if (!gpte_present(e)) {
			w->fault = (struct guest_fault){
			    .gva = a->gva, .error_code = walk_access_pfec(r, a), .level = level};
			return false;
		}
		if (gpte_rsvd(r, e)) {
			w->fault = (struct guest_fault){
			    .gva = a->gva,
			    .error_code = PFEC_P | PFEC_RSVD | walk_access_pfec(r, a),
			    .level = level};
			return false;
		}
		acc &= gpte_access(e);
		if (level == LVL_PT || gpte_large(e, level))
			break;
		table = pte_frame(e);
	}
	w->leaf = level;
	w->pte_access = acc;
	uint32_t ec = walk_check_perms(r, sp_acc_perms(acc), a);
	if (ec) {
		w->fault = (struct guest_fault){.gva = a->gva, .error_code = ec, .level = level};
		return false;
	}
	uint64_t off = a->gva & (page_bytes(level_page_size(level)) - 1);
	w->gfn = (gpte_leaf_frame(w->gpte[level], level) + off) >> PAGE_SHIFT;

	/* Completed and permitted: A on every entry, D on a write's leaf. */
	for (int l = top; l >= level; l--) {
		uint64_t n = w->gpte[l] | GPTE_A;
		if (l == level && a->kind == ACC_WRITE) {
			w->set_d = !(w->gpte[l] & GPTE_D);
			n |= GPTE_D;
		}
		if (n != w->gpte[l]) {
			gpa_write64(vm, w->addr[l], n);
			TRACE(vm, .kind = TR_VMM_OP, .dim = DIM_GUEST, .level = l, .gva = a->gva,
			      .entry_addr = w->addr[l].v, .entry = n, .result = w->gpte[l],
			      .what = "VMM sets guest A/D bits");
			w->gpte[l] = n;
		}
	}
	return true;
}

/* ---- api.h ---- */

bool shadow_guest_walk(struct vcpu *v, const struct mem_access *a, struct shadow_gwalk *w)
{
	struct gwalk g;
	bool ok = gwalk_run(v, a, &g);
	memset(w, 0, sizeof(*w));
	w->leaf = g.leaf;
	memcpy(w->gpte, g.gpte, sizeof(w->gpte));
	memcpy(w->addr, g.addr, sizeof(w->addr));
	w->perms = sp_acc_perms(g.pte_access);
	w->gfn = g.gfn;
	w->set_d = g.set_d;
	w->fault = g.fault;
	return ok;
}

/*
 * walk.c - the hardware 1D page walker (native tables, shadow tables).
 *
 * Reference order and counts: with walk caches off a walk of an n-level
 * table reads one entry per level until it meets a leaf, so a 4K page costs
 * n references, a 2M page n-1 and a 1G page n-2. With walk caches on, the
 * lowest cached non-leaf level is looked up first and the walk resumes
 * below it; each skipped level counts as one psc_hits.
 *
 * Accessed/dirty semantics (the rule every mode follows, so that the guest
 * image is the same under all of them): A is set on every entry of a walk
 * that completes with the access permitted, D on its leaf when the access
 * is a write. A walk that faults sets nothing. Paging-structure cache
 * entries are filled only from completed walks, so a cached entry always
 * has A set. Real processors may set A on the upper entries of a walk that
 * faults lower down; docs/cost-model.md lists this departure. (KVM's own
 * guest walker, FNAME(walk_addr_generic), likewise checks permissions
 * before it updates any A/D bit.)
 *
 * Rights: the hardware's (v->hw_rights), which are the guest's controls
 * except that shadow paging runs with CR0.WP = 1 and EFER.NXE = 1. A
 * present entry with a reserved bit (bit 63 without NXE) ends the walk with
 * PFEC_P | PFEC_RSVD at its level, before any deeper entry is read.
 */
#include "walk.h"

void paging_rights_compute(const struct paging_ctl *c, bool ac, struct paging_rights *r)
{
	for (int k = ACC_READ; k <= ACC_FETCH; k++) {
		for (int u = 0; u < 2; u++) {
			uint8_t bits = 0;
			for (unsigned i = 0; i < 8; i++)
				if (rights_allow(c, ac, (uint8_t)(i << 1), (enum access_kind)k, u))
					bits |= (uint8_t)(1u << i);
			r->ok[k][u] = bits;
		}
	}
	r->rsvd = c->nxe ? 0 : GPTE_NX;
	r->fetch_pfec = c->nxe || c->smep;
	/* [write][user]: AD (bit 0) denies every data access; WD (bit 1) a
	 * write at CPL 3, or at CPL 0 with CR0.WP = 1. */
	for (int wr = 0; wr < 2; wr++)
		for (int u = 0; u < 2; u++)
			r->pk_mask[wr][u] =
			    (uint8_t)(c->pke ? 1u | ((wr && (u || c->wp)) ? 2u : 0u) : 0u);
}

bool walk1d(struct vcpu *v, uint64_t root, const struct mem_access *a, enum trace_dim dim,
	    bool set_ad, struct walk1d *w)
{
	struct vm *vm = v->vm;
	const int top = vm->cfg.levels;
	const uint16_t pcid = vcpu_pcid(v);
	const bool caches = vm->cfg.walk_caches;
	const struct paging_rights *r = &v->hw_rights;
	uint64_t table = root & PTE_FRAME_MASK;
	uint8_t perms = TLBF_W | TLBF_U;
	uint8_t start_perms = perms; /* rights above the first level read */
	int level = top;

	w->nsteps = 0;
	w->refs = 0;
	w->ok = false;
	if (!va_canonical(a->gva, top)) {
		w->fault = (struct guest_fault){ .gva = a->gva,
						 .error_code = walk_access_pfec(r, a) | PFEC_RSVD,
						 .level = top };
		return false;
	}
	if (caches) {
		uint64_t t;
		uint8_t p;
		int hit = psc_lookup(&v->psc, a->gva, top, v->vpid, pcid, &t, &p);
		vm->st.cyc_walk += vm->cost.ref_pwc;
		if (hit) {
			vm->st.psc_hits += (uint64_t)(top - hit + 1);
			TRACE(vm, .kind = TR_WALK_REF, .dim = dim, .served = SERVED_PSC, .level = hit,
			      .user = a->user, .access = a->kind, .gva = a->gva, .table_addr = t,
			      .cycles = vm->cost.ref_pwc, .what = "paging-structure cache hit");
			table = t;
			perms = start_perms = p;
			level = hit - 1;
		}
	}
	for (;; level--) {
		unsigned idx = pt_index(a->gva, level);
		uint64_t ea = table + 8u * idx;
		uint64_t e = hpa_read64(vm, HPA(ea));
		int cl;
		uint32_t cyc = vm_walk_ref(vm, HPA(ea), &cl);
		struct walk_step *s = &w->step[w->nsteps++];
		*s = (struct walk_step){ .level = level, .table = table, .index = idx,
					 .entry_addr = ea, .entry = e };
		w->refs++;
		TRACE(vm, .kind = TR_WALK_REF, .dim = dim, .served = SERVED_MEMORY, .level = level,
		      .cache_level = cl, .step = (int)w->refs, .user = a->user, .access = a->kind,
		      .gva = a->gva, .table_addr = table, .index = idx, .entry_addr = ea, .entry = e,
		      .cycles = cyc);
		if (!gpte_present(e)) {
			w->fault = (struct guest_fault){ .gva = a->gva,
							 .error_code = walk_access_pfec(r, a),
							 .level = level };
			return false;
		}
		if (gpte_rsvd(r, e)) {
			w->fault = (struct guest_fault){
				.gva = a->gva,
				.error_code = PFEC_P | PFEC_RSVD | walk_access_pfec(r, a),
				.level = level };
			return false;
		}
		perms = perms_combine(perms, gpte_perms(e));
		if (level == LVL_PT || gpte_large(e, level))
			break;
		table = pte_frame(e);
	}

	uint32_t ec = walk_check_access(r, v->pkru, perms, w->step[w->nsteps - 1].entry, a);
	if (ec) {
		w->fault = (struct guest_fault){ .gva = a->gva, .error_code = ec, .level = level };
		return false;
	}

	/* Completed and permitted: set A (and D on a write's leaf), fill the walk caches. */
	struct walk_step *leaf = &w->step[w->nsteps - 1];
	if (set_ad) {
		for (int i = 0; i < w->nsteps; i++) {
			struct walk_step *s = &w->step[i];
			uint64_t n = s->entry | GPTE_A;
			if (s == leaf && a->kind == ACC_WRITE)
				n |= GPTE_D;
			if (n != s->entry)
				hpa_write64(vm, HPA(s->entry_addr), n);
		}
	}
	uint64_t leaf_e = hpa_read64(vm, HPA(leaf->entry_addr));
	if (caches) {
		uint8_t acc = start_perms;
		for (int i = 0; i < w->nsteps - 1; i++) {
			struct walk_step *s = &w->step[i];
			acc = perms_combine(acc, gpte_perms(s->entry));
			psc_insert(&v->psc, a->gva, s->level, v->vpid, pcid, pte_frame(s->entry), acc);
		}
	}
	enum page_size ps = level_page_size(level);
	w->fill = (struct tlb_fill){
		.va = a->gva,
		.hpa = HPA(gpte_leaf_frame(leaf_e, level)),
		.size = ps,
		.flags = (uint8_t)(TLBF_VALID | perms | ((leaf_e & GPTE_G) ? TLBF_G : 0) |
				   ((leaf_e & GPTE_D) ? TLBF_D : 0)),
		.pkey = gpte_pkey(leaf_e),
	};
	w->ok = true;
	TRACE(vm, .kind = TR_WALK_DONE, .dim = dim, .level = level, .user = a->user,
	      .access = a->kind, .gva = a->gva, .result = w->fill.hpa.v, .what = "walk complete");
	return true;
}

/*
 * walk2d.c - the two-dimensional hardware page walk of nested paging.
 *
 * Order (Intel SDM Vol. 3C §29.3.2; AMD APM Vol. 2 §15.25.5; Bhargava et
 * al., ASPLOS'08, figure 2). With n guest levels and m EPT levels, guest
 * CR3 holds a gPA; every guest table is reached through a nested walk:
 *
 *   for guest level L = n .. leaf:
 *       nested walk of gPA(entry L)       m references (EPT, DIM_HOST)
 *       read guest entry L                1 reference  (guest, DIM_GUEST)
 *   nested walk of the data gPA           m references
 *
 * so a 4K page over 4K host pages costs n + (n + 1) m = (n + 1)(m + 1) - 1
 * references: 24 for 4/4, 35 for 5/5, 29 for a 5-level guest over a 4-level
 * EPT (KVM's default, kvm_mmu_get_tdp_level()) and for 4 over 5. A large EPT leaf shortens each nested
 * walk (m = 3 over 2M host pages: 19; m = 2 over 1G: 14); a large guest leaf
 * drops guest levels and their nested walks (2M over 2M: 3 + 4 * 3 = 15).
 * Each reference is one cell of the grid that docs/nested.md draws; cells
 * are numbered 1.. in this order (the trace's step).
 *
 * Walk caches (cfg.walk_caches with cfg.pwc / cfg.ntlb):
 *   - the nested TLB is consulted before each nested walk; a usable hit
 *     skips every EPT reference of that walk (each skipped cell is traced as
 *     SERVED_NTLB and counted in ntlb_refs_skipped, the hit in ntlb_hits);
 *   - the 2D PWC is consulted for every entry, tagged by the host-physical
 *     address of the entry; a hit serves the cell (SERVED_PWC, pwc_hits).
 *   Guest entries are cached when they are not leaves, EPT entries at every
 *   level; the nested TLB caches the result of every completed EPT walk.
 *   Hence, for every walk: refs + pwc_hits + ntlb_refs_skipped = the grid's
 *   cell count.
 *
 * Accessed and dirty flags:
 *   - guest: exactly as the native walker (src/core/walk.c): A on every
 *     guest entry read from memory by a walk that completes with the access
 *     permitted, D on the leaf of a write, nothing on a fault or an EPT
 *     exit. Entries served by the PWC already carry A (only completed walks
 *     fill it), as native paging-structure-cache hits do. The guest image is
 *     therefore the same under native and nested paging.
 *   - EPT, when the EPTP enables A/D (SDM Vol. 3C §29.3.5): A on every EPT
 *     entry used, as it is used; D on the leaf of a write; and reads of guest
 *     paging structures count as writes, so the EPT leaves that map guest
 *     tables get D too.
 *
 * Faults:
 *   - guest rights follow the guest's CR0.WP, CR4.SMEP, CR4.SMAP with
 *     EFLAGS.AC and EFER.NXE (v->guest_rights, core/walk.h), as hardware
 *     does under EPT; a present guest entry with a reserved bit (bit 63
 *     without NXE) is a guest fault with PFEC_P | PFEC_RSVD;
 *   - a guest fault (not present, rights, non-canonical address) is a result
 *     for the guest kernel: no exit;
 *   - an EPT entry that is not present, or that does not grant the access,
 *     is an EPT violation; qualification bit 8 tells a fault on the final gPA
 *     (set) from one on a guest-table access (clear);
 *   - a present EPT entry with a reserved bit, write without read, or a
 *     reserved memory type is an EPT misconfiguration; it is never walked.
 */
#include "nested.h"
#include "../core/walk.h"

/* ---- private helpers ---- */

struct w2d_ctx {
	struct vm *vm;
	struct nested_state *ns;
	const struct mem_access *a;
	struct walk2d *w;
	uint16_t vpid, pcid;
	bool pwc, ntlb;
	int step; /* last cell number used */
	/* EPT rights a nested walk needs, [0] for the data gPA and [1] for a
	 * guest-table gPA (w2d_rights_needed() of w2d_access_qual()), and
	 * whether it must set the leaf's D flag (EPT A/D on and W needed). */
	uint8_t need[2];
	bool need_dirty[2];
};

/*
 * Charge one reference of either dimension to the entry at 'at': a 2D
 * page-walk cache hit costs ref_pwc and leaves *e as the cache gave it;
 * otherwise the entry is read from memory into *e and priced by the cache
 * model (*cl gets the level). dim_refs is the walk's counter of that
 * dimension. Returns the cycles charged.
 */
static inline __attribute__((always_inline)) uint32_t w2d_charge(struct vm *vm, struct walk2d *w,
								 bool hit, hpa_t at, uint64_t *e,
								 int *cl, uint32_t *dim_refs)
{
	if (hit) {
		vm->st.cyc_walk += vm->cost.ref_pwc;
		vm->st.pwc_hits++;
		w->pwc_hits++;
		return vm->cost.ref_pwc;
	}
	*e = hpa_read64(vm, at);
	w->refs++;
	(*dim_refs)++;
	return vm_walk_ref(vm, at, cl);
}

/* What the nested walk of one gPA produced. */
struct w2d_nested_out {
	hpa_t hpa;	/* host-physical address of gpa itself */
	int leaf_level; /* EPT leaf level (1 = 4K) */
	uint8_t rights; /* EPTE_R | EPTE_W | EPTE_X over every level */
	bool dirty;	/* the leaf's D flag is set (or EPT A/D is off) */
};

/*
 * Count one cell of the grid (the next step number). The cell is not stored:
 * the trace event the caller emits is the record of it.
 */
static inline void w2d_cell(struct w2d_ctx *c)
{
	c->step++;
}

/* Access-type bits of the qualification (and the EPT rights needed). */
static uint64_t w2d_access_qual(const struct w2d_ctx *c, int guest_level)
{
	if (guest_level > 0)
		/* Guest-table reads; with EPT A/D they count as writes, and the
		 * processor reports both bits (SDM Vol. 3C §29.3.3.2). */
		return EPTQ_READ | (c->ns->ept_ad ? EPTQ_WRITE : 0);
	switch (c->a->kind) {
	case ACC_WRITE:
		return EPTQ_WRITE;
	case ACC_FETCH:
		return EPTQ_FETCH;
	default:
		return EPTQ_READ;
	}
}

static uint8_t w2d_rights_needed(uint64_t access_qual)
{
	uint8_t need = 0;
	if (access_qual & EPTQ_READ)
		need |= EPTE_R;
	if (access_qual & EPTQ_WRITE)
		need |= EPTE_W;
	if (access_qual & EPTQ_FETCH)
		need |= EPTE_X;
	return need;
}

static void w2d_violation(struct w2d_ctx *c, gpa_t gpa, int guest_level, int ept_level,
			  uint8_t rights, bool not_present)
{
	struct walk2d *w = c->w;
	bool final = guest_level == 0;
	uint64_t q = w2d_access_qual(c, guest_level) | EPTQ_GLA_VALID | (final ? EPTQ_FINAL : 0);
	if (rights & EPTE_R)
		q |= EPTQ_R;
	if (rights & EPTE_W)
		q |= EPTQ_W;
	if (rights & EPTE_X)
		q |= EPTQ_X;
	/* AMD reports the same fault in #PF error-code form, every access
	 * through the nested table counting as a user access (APM §15.25.6). */
	uint64_t npf =
	    PFEC_U | (not_present ? 0 : PFEC_P) | (final ? NPF_INFO_FINAL : NPF_INFO_TABLE);
	if (q & EPTQ_WRITE)
		npf |= PFEC_W;
	if (q & EPTQ_FETCH)
		npf |= PFEC_I;
	w->outcome = W2D_VIOLATION;
	w->viol = (struct ept_violation){.gpa = gpa,
					 .gva = c->a->gva,
					 .qual = q,
					 .npf_info = npf,
					 .guest_level = guest_level,
					 .ept_level = ept_level,
					 .final = final,
					 .not_present = not_present};
	TRACE(c->vm, .kind = TR_WALK_DONE, .dim = DIM_HOST, .level = ept_level,
	      .host_level = ept_level, .guest_level = guest_level, .user = c->a->user,
	      .access = c->a->kind, .gva = c->a->gva, .addr = gpa.v, .result = q,
	      .what = final ? "EPT violation on the final guest-physical address"
			    : "EPT violation on a guest page-table access");
}

static void w2d_misconfig(struct w2d_ctx *c, gpa_t gpa, int guest_level, int ept_level, uint64_t ea,
			  uint64_t e, const char *why)
{
	struct walk2d *w = c->w;
	w->outcome = W2D_MISCONFIG;
	w->misconfig = (struct ept_misconfig){
	    .gpa = gpa, .entry_addr = HPA(ea), .entry = e, .ept_level = ept_level, .why = why};
	TRACE(c->vm, .kind = TR_WALK_DONE, .dim = DIM_HOST, .level = ept_level,
	      .host_level = ept_level, .guest_level = guest_level, .user = c->a->user,
	      .access = c->a->kind, .gva = c->a->gva, .addr = gpa.v, .entry_addr = ea, .entry = e,
	      .what = why);
}

/* Trace the EPT cells a nested TLB hit skipped (w2d_ntlb_cells()). */
static __attribute__((noinline)) void w2d_ntlb_trace(struct w2d_ctx *c, gpa_t gpa,
						     int guest_level, int leaf_level)
{
	struct vm *vm = c->vm;
	for (int l = c->ns->levels; l >= leaf_level; l--) {
		w2d_cell(c);
		TRACE(vm, .kind = TR_WALK_REF, .dim = DIM_HOST, .served = SERVED_NTLB, .level = l,
		      .host_level = l, .guest_level = guest_level, .step = c->step,
		      .user = c->a->user, .access = c->a->kind, .gva = c->a->gva, .addr = gpa.v,
		      .index = pt_index(gpa.v, l),
		      .cycles = l == c->ns->levels ? vm->cost.ref_pwc : 0,
		      .what = "skipped: nested TLB hit");
	}
}

/* The nested TLB served this gPA: count the EPT cells it skipped (and trace
 * them when tracing is on). Inline: about 3.5 of them a 2D walk. */
static inline __attribute__((always_inline)) void w2d_ntlb_cells(struct w2d_ctx *c, gpa_t gpa,
								  int guest_level, int leaf_level)
{
	struct vm *vm = c->vm;
	uint32_t skipped = (uint32_t)(c->ns->levels - leaf_level + 1);
	vm->st.cyc_walk += vm->cost.ref_pwc;
	vm->st.ntlb_hits++;
	c->w->ntlb_hits++;
	c->w->ntlb_skipped += skipped;
	c->ns->ntlb_refs_skipped += skipped;
	if (!TRACE_ON(vm))
		c->step += (int)skipped;
	else
		w2d_ntlb_trace(c, gpa, guest_level, leaf_level);
}

/*
 * The nested walk of gpa, for the guest entry of guest_level (0 = the data
 * gPA). Returns true with *o, or false with the violation or
 * misconfiguration recorded in c->w.
 */
static inline __attribute__((always_inline)) bool
w2d_nested(struct w2d_ctx *c, gpa_t gpa, int guest_level, struct w2d_nested_out *o)
{
	struct vm *vm = c->vm;
	struct nested_state *ns = c->ns;
	struct walk2d *w = c->w;
	const uint8_t need = c->need[guest_level > 0];
	const bool need_dirty = c->need_dirty[guest_level > 0];

	/* The nested TLB's and the PWC's slots for this gPA and for the EPT
	 * leaf: nothing else changes either cache before the fills below, so
	 * the fills take the slots instead of finding the entries again. */
	int tslot = -1, pslot = -1;
	if (c->ntlb) {
		tslot = ntlb_lookup_slot(&ns->ntlb, gpa, ns->ep4ta);
		const struct ntlb_entry *t = tslot < 0 ? NULL : &ns->ntlb.e[tslot];
		if (t && (t->rights & need) == need && (!need_dirty || t->dirty)) {
			o->leaf_level = (int)t->size + 1;
			o->hpa =
			    HPA(t->hpa.v + (gpa.v & (page_bytes((enum page_size)t->size) - 1)));
			o->rights = t->rights;
			o->dirty = t->dirty;
			w2d_ntlb_cells(c, gpa, guest_level, o->leaf_level);
			return true;
		}
	}

	uint64_t table = ns->ep4ta;
	uint8_t rights = EPTE_RWX;
	uint64_t ea, e;
	int l;
	for (l = ns->levels;; l--) {
		unsigned idx = pt_index(gpa.v, l);
		ea = table + 8u * idx;
		bool hit = false;
		if (c->pwc) {
			pslot = pwc2d_lookup_slot(&ns->pwc, PWC_HOST, HPA(ea), 0, 0, ns->ep4ta, &e);
			/* A clean leaf that must become dirty goes to memory: the
			 * processor has to write D there. */
			hit = pslot >= 0 && !(need_dirty && epte_leaf(e, l) && !(e & EPTE_D));
		}
		int cl = 0;
		uint32_t cyc = w2d_charge(vm, w, hit, HPA(ea), &e, &cl, &w->host_refs);
		w2d_cell(c);
		TRACE(vm, .kind = TR_WALK_REF, .dim = DIM_HOST,
		      .served = hit ? SERVED_PWC : SERVED_MEMORY, .level = l, .host_level = l,
		      .guest_level = guest_level, .cache_level = cl, .step = c->step,
		      .user = c->a->user, .access = c->a->kind, .gva = c->a->gva, .addr = gpa.v,
		      .table_addr = table, .index = idx, .entry_addr = ea, .entry = e,
		      .cycles = cyc);
		if (!epte_present(e)) {
			w2d_violation(c, gpa, guest_level, l, 0, true);
			return false;
		}
		/* A PWC hit gives an entry that passed this check before it was
		 * cached (A and D, set since, are not checked bits). */
		const char *why = hit ? NULL : ept_entry_misconfig(ns, e, l);
		if (why) {
			w2d_misconfig(c, gpa, guest_level, l, ea, e, why);
			return false;
		}
		rights &= (uint8_t)(e & EPTE_RWX);
		if (ns->ept_ad && !(e & EPTE_A)) {
			e |= EPTE_A;
			hpa_write64(vm, HPA(ea), e);
		}
		if (epte_leaf(e, l))
			break;
		/* A non-leaf that was not a hit was not cached (only a leaf
		 * hit is ever refused). */
		if (c->pwc && !hit)
			pwc2d_fill(&ns->pwc, -1, PWC_HOST, HPA(ea), l, 0, 0, ns->ep4ta, e);
		table = pte_frame(e);
	}
	if ((rights & need) != need) {
		w2d_violation(c, gpa, guest_level, l, rights, false);
		return false;
	}
	if (need_dirty && !(e & EPTE_D)) {
		e |= EPTE_D;
		hpa_write64(vm, HPA(ea), e);
	}
	if (c->pwc)
		pwc2d_fill(&ns->pwc, pslot, PWC_HOST, HPA(ea), l, 0, 0, ns->ep4ta, e);
	enum page_size ps = level_page_size(l);
	uint64_t base = epte_leaf_frame(e, l);
	o->leaf_level = l;
	o->hpa = HPA(base + (gpa.v & (page_bytes(ps) - 1)));
	o->rights = rights;
	o->dirty = !ns->ept_ad || (e & EPTE_D);
	if (c->ntlb)
		ntlb_fill(&ns->ntlb, tslot, gpa, HPA(base), ps, ns->ep4ta, rights, o->dirty);
	return true;
}

static enum walk2d_outcome w2d_guest_fault(struct w2d_ctx *c, uint32_t ec, int level)
{
	struct walk2d *w = c->w;
	w->outcome = W2D_FAULT;
	w->fault = (struct guest_fault){.gva = c->a->gva, .error_code = ec, .level = level};
	TRACE(c->vm, .kind = TR_WALK_DONE, .dim = DIM_GUEST, .level = level, .user = c->a->user,
	      .access = c->a->kind, .gva = c->a->gva, .result = ec,
	      .what = "guest page fault (no exit: delivered to the guest kernel)");
	return W2D_FAULT;
}

/* ---- API ---- */

enum walk2d_outcome walk2d(struct vcpu *v, struct nested_state *ns, const struct mem_access *a,
			   struct walk2d *w)
{
	return walk2d_from(v, ns, a, w, NULL);
}

enum walk2d_outcome walk2d_from(struct vcpu *v, struct nested_state *ns,
				const struct mem_access *a, struct walk2d *w,
				const struct nested_start *from)
{
	struct vm *vm = v->vm;
	const int n = from ? from->level : vm->cfg.levels;
	const struct paging_rights *r =
	    from && from->hw_rights ? &v->hw_rights : &v->guest_rights;
	struct w2d_ctx c = {.vm = vm,
			    .ns = ns,
			    .a = a,
			    .w = w,
			    .vpid = v->vpid,
			    .pcid = vcpu_pcid(v),
			    .pwc = ns->use_pwc,
			    .ntlb = ns->use_ntlb,
			    .step = from ? from->step0 : 0};
	c.need[0] = w2d_rights_needed(w2d_access_qual(&c, 0));
	c.need[1] = w2d_rights_needed(w2d_access_qual(&c, 1));
	c.need_dirty[0] = ns->ept_ad && (c.need[0] & EPTE_W);
	c.need_dirty[1] = ns->ept_ad && (c.need[1] & EPTE_W);
	/* Guest entries read, for the A/D update and the PWC fill. */
	struct {
		uint64_t hpa, entry;
		bool from_memory;
	} g[MAX_LEVELS];
	int ng = 0;

	w->ncells = 0;
	w->refs = w->guest_refs = w->host_refs = 0;
	w->pwc_hits = w->ntlb_hits = w->ntlb_skipped = 0;

	if (!va_canonical(a->gva, vm->cfg.levels))
		return w2d_guest_fault(&c, walk_access_pfec(r, a) | PFEC_RSVD, vm->cfg.levels);

	/* Guest CR3 holds a gPA; a start point gives a lower table, maybe with
	 * its host-physical address already known. */
	uint64_t table = from ? from->table_gpa : v->cr3 & PTE_FRAME_MASK;
	uint8_t perms = from ? from->perms : (uint8_t)(TLBF_W | TLBF_U);
	struct w2d_nested_out no;
	int level;
	for (level = n;; level--) {
		unsigned idx = pt_index(a->gva, level);
		gpa_t egpa = GPA(table + 8u * idx);
		if (from && from->table_hpa && level == n)
			no.hpa = HPA(from->table_hpa + 8u * idx);
		else if (!w2d_nested(&c, egpa, level, &no))
			return w->outcome;
		uint64_t eh = no.hpa.v, e;
		bool hit = c.pwc &&
			   pwc2d_lookup(&ns->pwc, PWC_GUEST, no.hpa, c.vpid, c.pcid, ns->ep4ta, &e);
		int cl = 0;
		uint32_t cyc = w2d_charge(vm, w, hit, no.hpa, &e, &cl, &w->guest_refs);
		w2d_cell(&c);
		TRACE(vm, .kind = TR_WALK_REF, .dim = DIM_GUEST,
		      .served = hit ? SERVED_PWC : SERVED_MEMORY, .level = level,
		      .guest_level = level, .cache_level = cl, .step = c.step, .user = a->user,
		      .access = a->kind, .gva = a->gva, .addr = eh, .table_addr = table,
		      .index = idx, .entry_addr = egpa.v, .entry = e, .cycles = cyc);
		g[ng].hpa = eh;
		g[ng].entry = e;
		g[ng].from_memory = !hit;
		ng++;
		if (!gpte_present(e))
			return w2d_guest_fault(&c, walk_access_pfec(r, a), level);
		if (gpte_rsvd(r, e))
			return w2d_guest_fault(&c, PFEC_P | PFEC_RSVD | walk_access_pfec(r, a),
					       level);
		perms = perms_combine(perms, gpte_perms(e));
		if (level == LVL_PT || gpte_large(e, level))
			break;
		table = pte_frame(e);
	}
	uint32_t ec = walk_check_access(r, v->pkru, perms, g[ng - 1].entry, a);
	if (ec)
		return w2d_guest_fault(&c, ec, level);

	enum page_size gps = level_page_size(level);
	uint64_t leaf = g[ng - 1].entry;
	gpa_t data = GPA(gpte_leaf_frame(leaf, level) | (a->gva & (page_bytes(gps) - 1)));
	if (!w2d_nested(&c, data, 0, &no))
		return w->outcome;

	/* Completed and permitted: guest A (D on a write's leaf), then the PWC. */
	for (int i = 0; i < ng; i++) {
		if (!g[i].from_memory)
			continue;
		uint64_t nv = g[i].entry | GPTE_A;
		if (i == ng - 1 && a->kind == ACC_WRITE)
			nv |= GPTE_D;
		if (nv != g[i].entry)
			hpa_write64(vm, HPA(g[i].hpa), nv);
		if (!c.pwc || i == ng - 1)
			continue;
		/* Its lookup missed, and since then only this loop has filled
		 * guest entries: it is not cached, unless an upper level of
		 * this walk read the same entry (a table that maps itself). */
		bool again = false;
		for (int j = 0; j < i; j++)
			again |= g[j].from_memory && g[j].hpa == g[i].hpa;
		if (again)
			pwc2d_insert(&ns->pwc, PWC_GUEST, HPA(g[i].hpa), n - i, c.vpid, c.pcid,
				     ns->ep4ta, nv);
		else
			pwc2d_fill(&ns->pwc, -1, PWC_GUEST, HPA(g[i].hpa), n - i, c.vpid, c.pcid,
				   ns->ep4ta, nv);
	}
	leaf = hpa_read64(vm, HPA(g[ng - 1].hpa));

	/* Splintering: the TLB entry is the smaller of the two page sizes. */
	enum page_size hps = level_page_size(no.leaf_level);
	enum page_size fs = gps < hps ? gps : hps;
	uint8_t flags = (uint8_t)(TLBF_VALID | perms);
	/* EPT withholds W: no store may complete through this entry, even a
	 * supervisor store under the guest's CR0.WP = 0 (which ignores TLBF_W),
	 * so D is left clear too and every store walks into the violation. */
	if (!(no.rights & EPTE_W))
		flags &= (uint8_t)~(TLBF_W | TLBF_D);
	if (!(no.rights & EPTE_X))
		flags |= TLBF_NX;
	if (leaf & GPTE_G)
		flags |= TLBF_G;
	if ((leaf & GPTE_D) && no.dirty && (no.rights & EPTE_W))
		flags |= TLBF_D;
	w->ncells = c.step - (from ? from->step0 : 0);
	if (unlikely(w->ncells > WALK2D_MAX_REFS))
		vmmu_bug("walk2d-cells", "a 2D walk of gva %#" PRIx64 " went through %d cells",
			 a->gva, w->ncells);
	w->outcome = W2D_OK;
	w->guest_leaf_level = level;
	w->host_leaf_level = no.leaf_level;
	w->data_gpa = data;
	w->fill = (struct tlb_fill){
	    .va = a->gva,
	    .hpa = HPA(no.hpa.v & ~(page_bytes(fs) - 1)),
	    .size = fs,
	    .flags = flags,
	    .pkey = gpte_pkey(leaf)};
	TRACE(vm, .kind = TR_WALK_DONE, .dim = DIM_GUEST, .level = level,
	      .host_level = no.leaf_level, .user = a->user, .access = a->kind, .gva = a->gva,
	      .addr = data.v, .result = w->fill.hpa.v, .step = c.step, .what = "2D walk complete");
	return W2D_OK;
}

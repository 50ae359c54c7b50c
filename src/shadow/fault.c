/*
 * fault.c - what the VMM does when the hardware walk of the shadow tables
 * fails: the #PF exit (VMX exit reason 0) of shadow paging.
 *
 * The handler walks the guest tables in software (gwalk.c) and classifies:
 *
 *   true guest fault    the gpte path does not allow the access: inject the
 *                       #PF with the walk's error code (XLATE_FAULT);
 *                       exits_fault_inject, injected_faults, vmm_inject;
 *   store to a write-   the access is a store to a frame that holds an in-sync
 *   protected table     shadowed table. Eager: map the frame read-only,
 *                       emulate the store into guest memory, update or zap
 *                       the sptes of every shadow page of the frame
 *                       (XLATE_DONE). Unsync policy, 4K leaf tables only: the
 *                       pages go out of sync and the mapping becomes writable
 *                       (XLATE_RETRY). exits_pt_write, vmm_pt_write;
 *   first write to a    the leaf spte was present but read-only because the
 *   clean page          gpte D bit was clear: set D (done by the walk), make
 *                       the spte writable (XLATE_RETRY). exits_dirty,
 *                       vmm_dirty;
 *   hidden fault        everything else: the sptes were missing or narrower
 *                       than the gptes allow; install them, plus up to
 *                       cfg.prefetch_num neighbours (XLATE_RETRY).
 *                       exits_hidden_fault, vmm_hidden_fault.
 *
 * Installing (KVM's FNAME(fetch)) walks the shadow from the current root
 * along the guest path, creating the shadow page of each guest table as
 * needed, keyed by (table gfn, role). A guest large page becomes one large
 * spte when the p2m backs it with pages at least as large and no
 * write-protected frame lies inside it; otherwise it is split into direct
 * shadow pages of smaller sptes (KVM's disallow_lpage).
 *
 * CR0.WP = 0: a supervisor write that the guest's rules allow only because
 * WP is clear gets a writable, supervisor-only spte (sp_acc_wp0(), KVM's
 * FNAME(page_fault)); a later user access faults and reinstalls the gpte's
 * rights. A gpte with a reserved bit (bit 63 without EFER.NXE) is never
 * mapped: the software walk injects the guest's RSVD fault.
 *
 * A/D emulation: a leaf spte is writable only when the gpte D bit is set,
 * so the first store to a clean page exits and sets D; every installed
 * spte has a gpte with A set, so the guest never reaches memory through an
 * entry whose A bit the VMM has not set.
 */
#include "shadow.h"
#include "../core/cpu.h"
#include "../core/walk.h"

/* ---- private helpers ---- */

/* May a large spte of 'level' map the guest range that starts at gfn? */
static bool large_ok(struct vcpu *v, gfn_t gfn, int level)
{
	struct vm *vm = v->vm;
	if (p2m_chunk_size(vm) < level_page_size(level))
		return false;
	if (gfn + level_frames(level) > vm->p2m.nframes)
		return false;
	return !lpage_disallowed(shadow_of(vm), gfn, level);
}

static uint64_t spte_leaf_bits(hfn_t h, int level, uint8_t acc, bool global)
{
	uint64_t s = (h << PAGE_SHIFT) | GPTE_P | GPTE_A;
	if (level > LVL_PT)
		s |= GPTE_PS;
	if (acc & SP_ACC_U)
		s |= GPTE_US;
	if (!(acc & SP_ACC_X))
		s |= GPTE_NX;
	if (global)
		s |= GPTE_G;
	return s;
}

/* Role of the direct page that splits guest large leaf 'gpte' whose path
 * grants 'acc' (KVM: a clean large page gets a read-only direct page). */
static struct sp_role direct_role(uint64_t gpte, int level, uint8_t acc, uint8_t ctl)
{
	if (!(gpte & GPTE_D))
		acc &= (uint8_t)~SP_ACC_W;
	return (struct sp_role){.level = (uint8_t)(level - 1),
				.access = acc,
				.ctl = ctl,
				.direct = true,
				.global = (gpte & GPTE_G) != 0};
}

/*
 * Make entry idx of sp a link to the page (gfn, want), creating it when
 * needed, and return that page, pinned and marked as used.
 */
static struct shadow_page *link_child(struct vcpu *v, struct shadow_page *sp, unsigned idx,
				      gfn_t gfn, struct sp_role want, gva_t gva)
{
	struct vm *vm = v->vm;
	struct shadow *sh = shadow_of(vm);
	uint64_t s = spte_get(vm, sp, idx);
	struct shadow_page *child = NULL;
	if (gpte_present(s) && !spte_leaf(s, sp->role.level)) {
		struct shadow_page *c = sp_of_hfn(sh, hpa_to_hfn(HPA(pte_frame(s))));
		if (c->gfn == gfn && sp_role_eq(c->role, want))
			child = c;
	}
	if (!child) {
		if (gpte_present(s))
			spte_set(v, sp, idx, 0);
		child = sp_get(v, gfn, want, gva);
		spte_set(v, sp, idx, (child->hfn << PAGE_SHIFT) | SPTE_NONLEAF);
	}
	child->pin = sh->pin_gen;
	child->flood = 0;
	return child;
}

/* Install entry i of a level-1 page by prefetch; false when the entry is
 * unusable (KVM's FNAME(prefetch_gpte) failing: gpte not present or A
 * clear, or a frame the guest has not backed yet). */
static bool prefetch_one(struct vcpu *v, struct shadow_page *sp, unsigned i)
{
	struct vm *vm = v->vm;
	uint64_t s;
	sh_charge_sptes(shadow_of(vm), 1);
	if (sp->role.direct) {
		s = spte_direct(v, sp, i, true);
	} else {
		uint64_t gpte = gpa_read64(vm, GPA((sp->gfn << PAGE_SHIFT) + 8u * i));
		if (!gpte_present(gpte) || !(gpte & GPTE_A))
			return false;
		if (p2m_lookup(vm, gpa_to_gfn(GPA(pte_frame(gpte)))) == INVALID_HFN)
			return false;
		s = spte_from_gpte(v, gpte, LVL_PT, sp->role.access);
	}
	if (!s)
		return false;
	spte_set(v, sp, i, s);
	vm->st.shadow_prefetches++;
	TRACE(vm, .kind = TR_VMM_OP, .level = 1, .gva = sp_entry_gva(vm, sp, i), .entry = s,
	      .what = "spte prefetched");
	return true;
}

/*
 * Prefetch: the aligned group of prefetch_num entries around idx in a
 * level-1 page, skipping entries whose spte is already present.
 *   indirect page (KVM's FNAME(pte_prefetch)): the scan stops at the first
 *     unusable guest entry;
 *   direct page (KVM's __direct_pte_prefetch()): each run of missing
 *     entries is filled up to its first frame the guest has not backed
 *     (a partial gfn_to_page_many_atomic()); a run whose first frame is
 *     not backed stops the prefetch.
 * A prefetch never sets an A or D bit.
 */
static void prefetch(struct vcpu *v, struct shadow_page *sp, unsigned idx)
{
	struct vm *vm = v->vm;
	uint32_t n = vm->cfg.prefetch_num;
	if (!vm->cfg.shadow_prefetch || n <= 1 || sp->role.level != LVL_PT)
		return;
	if (n > SPTE_PER_PAGE)
		n = SPTE_PER_PAGE;
	unsigned start = idx - idx % n;
	unsigned end = start + n < SPTE_PER_PAGE ? start + n : SPTE_PER_PAGE;
	bool run_started = false; /* direct: inside a run of missing entries */
	bool run_dead = false;	  /* direct: this run met an unbacked frame */
	for (unsigned i = start; i < end; i++) {
		if (i == idx || gpte_present(spte_get(vm, sp, i))) {
			run_started = run_dead = false;
			continue;
		}
		if (!sp->role.direct) {
			if (!prefetch_one(v, sp, i))
				return;
			continue;
		}
		if (run_dead)
			continue;
		bool first = !run_started;
		run_started = true;
		if (!prefetch_one(v, sp, i)) {
			if (first)
				return;
			run_dead = true;
		}
	}
}

/*
 * Install the sptes for the completed guest walk gw of gva (KVM's
 * FNAME(fetch)). Every page on the path is pinned against eviction while
 * the path is built and counted as used (its write-flood count restarts).
 * leaf_acc is the rights the leaf spte gets: the path's (gw->pte_access),
 * or their CR0.WP = 0 conversion (sp_acc_wp0()).
 */
static void shadow_fetch(struct vcpu *v, const struct gwalk *gw, gva_t gva, uint8_t leaf_acc)
{
	struct vm *vm = v->vm;
	struct shadow *sh = shadow_of(vm);
	struct shadow_page *sp = sh->cur.sp;
	sh->pin_gen++;
	sp->pin = sh->pin_gen;
	sp->flood = 0;
	for (int l = gw->top; l > gw->leaf; l--) {
		struct sp_role want = {
		    .level = (uint8_t)(l - 1), .access = gw->acc[l - 1], .ctl = sp->role.ctl};
		gfn_t cg = gpa_to_gfn(GPA(pte_frame(gw->gpte[l])));
		sp = link_child(v, sp, pt_index(gva, l), cg, want, gva);
	}
	int l = gw->leaf;
	unsigned idx = pt_index(gva, l);
	uint64_t gpte = gw->gpte[l];
	uint64_t s = spte_make(v, gpte, l, leaf_acc);
	if (l > LVL_PT) {
		/* A guest large page: one large spte, or direct pages below. */
		struct sp_role dr = direct_role(gpte, l, leaf_acc, sp->role.ctl);
		while (!s && l > LVL_PT) {
			gfn_t base = gw->gfn & ~(level_frames(l) - 1);
			sp = link_child(v, sp, idx, base, dr, gva);
			l--;
			dr.level = (uint8_t)(l - 1);
			idx = pt_index(gva, l);
			s = spte_direct(v, sp, idx, false);
		}
	}
	if (!s)
		vm_abort(vm,
			 "shadow: no host frame for guest frame %#" PRIx64 " at %#" PRIx64
			 " (outside guest memory)",
			 gw->gfn, gva);
	spte_set(v, sp, idx, s);
	sh_charge_sptes(sh, 1);
	prefetch(v, sp, idx);
	sh->pin_gen++; /* unpin the path */
}

/* Rights of the leaf spte for access a whose guest walk gw allowed it: the
 * path's, or, for a supervisor write that only the guest's CR0.WP = 0
 * allows, their conversion (KVM's FNAME(page_fault): ACC_WRITE_MASK added,
 * ACC_USER_MASK removed, ACC_EXEC_MASK too under SMEP). */
static uint8_t leaf_access(const struct vcpu *v, const struct mem_access *a,
			   const struct gwalk *gw)
{
	uint8_t acc = gw->pte_access;
	if (a->kind == ACC_WRITE && !a->user && !(acc & SP_ACC_W) && !v->ctl.wp) {
		TRACE(v->vm, .kind = TR_VMM_OP, .gva = a->gva, .result = acc,
		      .what = "CR0.WP=0: supervisor write mapped writable, not user");
		return sp_acc_wp0(acc, sp_ctl_of(&v->ctl));
	}
	return acc;
}

/* Perform the guest's store into guest memory, as the VMM's emulator does. */
static void emulate_store(struct vcpu *v, const struct gwalk *gw, const struct mem_access *a)
{
	struct vm *vm = v->vm;
	hfn_t h = p2m_ensure(vm, gw->gfn);
	unsigned off = (unsigned)(a->gva & (PAGE_SIZE - 1));
	cpu_store_sized(hpa_ptr(vm, HPA((h << PAGE_SHIFT) + off)), a->size, a->value);
	vm_emulated_access(vm, HPA((h << PAGE_SHIFT) + off)); /* the store's cache reference */
	TRACE(vm, .kind = TR_VMM_OP, .gva = a->gva, .addr = gfn_to_gpa(gw->gfn).v + off,
	      .entry = a->value, .result = a->size, .what = "guest table store emulated");
	sync_pte_written(v, gw->gfn, off, a->size);
}

/* ---- API ---- */

uint64_t spte_from_gpte(struct vcpu *v, uint64_t gpte, int level, uint8_t acc)
{
	return spte_make(v, gpte, level, acc & gpte_access(gpte));
}

uint64_t spte_make(struct vcpu *v, uint64_t gpte, int level, uint8_t acc)
{
	struct vm *vm = v->vm;
	/* A gpte with a reserved bit is never mapped (KVM's
	 * FNAME(prefetch_invalid_gpte)): the guest must see its fault. */
	if (!gpte_present(gpte) || !(gpte & GPTE_A) || gpte_rsvd(&v->guest_rights, gpte))
		return 0;
	bool large = level > LVL_PT;
	if (large && !gpte_large(gpte, level))
		return 0;
	gfn_t gfn = gpa_to_gfn(GPA(gpte_leaf_frame(gpte, level)));
	if (large && !large_ok(v, gfn, level))
		return 0;
	hfn_t h = p2m_ensure(vm, gfn);
	if (h == INVALID_HFN)
		return 0;
	uint64_t s = spte_leaf_bits(h, level, acc, (gpte & GPTE_G) != 0);
	bool wp = !large && gfn_write_protected(shadow_of(vm), gfn);
	if ((acc & SP_ACC_W) && (gpte & GPTE_D) && !wp)
		s |= GPTE_RW | GPTE_D;
	return s;
}

uint64_t spte_direct(struct vcpu *v, const struct shadow_page *sp, unsigned idx, bool backed_only)
{
	struct vm *vm = v->vm;
	int level = sp->role.level;
	gfn_t gfn = sp->gfn + idx * level_frames(level);
	if (level > LVL_PT && !large_ok(v, gfn, level))
		return 0;
	hfn_t h = backed_only ? p2m_lookup(vm, gfn) : p2m_ensure(vm, gfn);
	if (h == INVALID_HFN)
		return 0;
	uint64_t s = spte_leaf_bits(h, level, sp->role.access, sp->role.global);
	bool wp = level == LVL_PT && gfn_write_protected(shadow_of(vm), gfn);
	if ((sp->role.access & SP_ACC_W) && !wp)
		s |= GPTE_RW | GPTE_D;
	return s;
}

bool sp_link_matches(const struct shadow_page *parent, unsigned idx, uint64_t gpte,
		     const struct shadow_page *child)
{
	int level = parent->role.level;
	if (parent->role.direct) {
		struct sp_role want = parent->role;
		want.level = (uint8_t)(level - 1);
		return child->role.direct && sp_role_eq(child->role, want) &&
		       child->gfn == parent->gfn + idx * level_frames(level);
	}
	if (!gpte_present(gpte) || !(gpte & GPTE_A) || level == LVL_PT ||
	    (!(parent->role.ctl & SP_CTL_NX) && (gpte & GPTE_NX)))
		return false;
	uint8_t acc = parent->role.access & gpte_access(gpte);
	uint8_t ctl = parent->role.ctl;
	if (gpte_large(gpte, level)) {
		gfn_t base = gpa_to_gfn(GPA(gpte_leaf_frame(gpte, level)));
		if (child->gfn != base)
			return false;
		/* Under CR0.WP = 0 the direct page may hold the converted
		 * rights of a supervisor write (sp_acc_wp0()). */
		return sp_role_eq(child->role, direct_role(gpte, level, acc, ctl)) ||
		       (!(ctl & SP_CTL_WP) &&
			sp_role_eq(child->role, direct_role(gpte, level, sp_acc_wp0(acc, ctl), ctl)));
	}
	struct sp_role want = {.level = (uint8_t)(level - 1), .access = acc, .ctl = ctl};
	return sp_role_eq(child->role, want) && child->gfn == gpa_to_gfn(GPA(pte_frame(gpte)));
}

enum xlate_result shadow_page_fault(struct vcpu *v, struct mem_access *a, const struct walk1d *hw,
				    struct xlate *out)
{
	struct vm *vm = v->vm;
	struct shadow *sh = shadow_of(vm);
	struct gwalk gw;
	if (!gwalk_run(v, a, &gw)) {
		out->fault = gw.fault;
		vm->st.injected_faults++;
		TRACE(vm, .kind = TR_VMM_OP, .gva = a->gva, .level = gw.fault.level,
		      .result = gw.fault.error_code, .what = "#PF injected into the guest");
		shadow_exit(v, EXIT_EXCEPTION, &vm->st.exits_fault_inject, vm->cost.vmm_inject);
		return XLATE_FAULT;
	}
	if (a->kind == ACC_WRITE && gfn_write_protected(sh, gw.gfn)) {
		if (vm->cfg.shadow_sync == SYNC_UNSYNC && sync_can_unsync(sh, gw.gfn)) {
			sync_unsync_gfn(v, gw.gfn);
			shadow_fetch(v, &gw, a->gva, leaf_access(v, a, &gw));
			shadow_exit(v, EXIT_EXCEPTION, &vm->st.exits_pt_write,
				    vm->cost.vmm_pt_write);
			return XLATE_RETRY;
		}
		shadow_fetch(v, &gw, a->gva, leaf_access(v, a, &gw));
		emulate_store(v, &gw, a);
		shadow_exit(v, EXIT_EXCEPTION, &vm->st.exits_pt_write, vm->cost.vmm_pt_write);
		return XLATE_DONE;
	}
	/* The hardware met a present leaf that denied a store whose gpte
	 * allows it, and this walk set D: the A/D-emulation exit. */
	bool dirty = a->kind == ACC_WRITE && gw.set_d && (hw->fault.error_code & PFEC_P);
	shadow_fetch(v, &gw, a->gva, leaf_access(v, a, &gw));
	if (dirty)
		shadow_exit(v, EXIT_EXCEPTION, &vm->st.exits_dirty, vm->cost.vmm_dirty);
	else
		shadow_exit(v, EXIT_EXCEPTION, &vm->st.exits_hidden_fault,
			    vm->cost.vmm_hidden_fault);
	return XLATE_RETRY;
}

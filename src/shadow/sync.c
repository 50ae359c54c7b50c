/*
 * sync.c - keeping shadow pages in step with the guest tables they shadow:
 * emulated table stores, write-flood detection (unshadowing), and the
 * unsync policy with its resyncs.
 *
 * Eager policy (cfg.shadow_sync == SYNC_EAGER): every shadowed guest table
 * is write-protected. A store to one exits, is emulated, and the entries it
 * touched are recomputed in every shadow page of that frame
 * (sync_pte_written): updated when the new gpte can be mapped without the
 * VMM's help (present, A set), zapped otherwise.
 *
 * Write flooding (KVM's detect_write_flooding): each emulated store to a
 * frame counts against every shadow page of the frame; a page that reaches
 * cfg.flood_threshold stores without being used by a fault in between is
 * no longer a page table in practice (fork, exit and page reuse rewrite
 * whole tables this way) and is zapped: an unshadow. The frame stops being
 * write-protected when its last shadow page goes. The current root is never
 * unshadowed. A threshold of 0 disables the detection.
 *
 * Unsync policy (SYNC_UNSYNC): the first store to a frame whose shadow pages
 * are all level-1 (KVM: mmu_try_to_unsync_pages) marks them unsync and
 * leaves the mapping writable, so later stores do not trap. Their sptes may
 * then be stale, which is allowed until the guest invalidates:
 *   - INVLPG re-reads the one gpte of that address (KVM's FNAME(invlpg));
 *   - a guest TLB flush, and a CR3 load without the no-flush bit, resync
 *     every unsync page (sync_resync_all) and write-protect them again.
 * A resync recomputes each present spte from its gpte, so a gpte without A
 * is never mapped. Non-leaf tables never go unsync.
 */
#include "shadow.h"

/* ---- private helpers ---- */

static void unsync_link(struct shadow *sh, struct shadow_page *sp)
{
	sp->unsync = true;
	sp->unsync_prev = NULL;
	sp->unsync_next = sh->unsync_head;
	if (sh->unsync_head)
		sh->unsync_head->unsync_prev = sp;
	sh->unsync_head = sp;
	sh->nunsync++;
}

static void unsync_unlink(struct shadow *sh, struct shadow_page *sp)
{
	if (sp->unsync_prev)
		sp->unsync_prev->unsync_next = sp->unsync_next;
	else
		sh->unsync_head = sp->unsync_next;
	if (sp->unsync_next)
		sp->unsync_next->unsync_prev = sp->unsync_prev;
	sp->unsync_prev = sp->unsync_next = NULL;
	sp->unsync = false;
	sh->nunsync--;
}

/* ---- API ---- */

void sync_entry(struct vcpu *v, struct shadow_page *sp, unsigned idx)
{
	struct vm *vm = v->vm;
	struct shadow *sh = shadow_of(vm);
	int level = sp->role.level;
	uint64_t gpte = gpa_read64(vm, GPA((sp->gfn << PAGE_SHIFT) + 8u * idx));
	uint64_t s = spte_get(vm, sp, idx);
	sh_charge_sptes(sh, 1);
	if (gpte_present(s) && !spte_leaf(s, level)) {
		struct shadow_page *child = sp_of_hfn(sh, hpa_to_hfn(HPA(pte_frame(s))));
		if (sp_link_matches(sp, idx, gpte, child))
			return; /* still the same table below, with the same rights */
		spte_set(v, sp, idx, 0);
		s = 0;
	}
	/* Leaves are rebuilt from the gpte; non-leaf entries are linked lazily,
	 * on the next fault through them. */
	uint64_t n = spte_from_gpte(v, gpte, level, sp->role.access);
	if (n != s)
		spte_set(v, sp, idx, n);
}

void sync_pte_written(struct vcpu *v, gfn_t gfn, unsigned off, unsigned size)
{
	struct vm *vm = v->vm;
	struct shadow *sh = shadow_of(vm);
	struct shadow_page *list[SP_MAX_PER_GFN];
	unsigned n = gfn_pages(sh, gfn, list, SP_MAX_PER_GFN);
	unsigned first = off / 8, last = (off + size - 1) / 8;
	uint32_t threshold = vm->cfg.flood_threshold;
	for (unsigned i = 0; i < n; i++) {
		struct shadow_page *sp = list[i];
		if (threshold && ++sp->flood >= threshold && sp != sh->cur.sp) {
			TRACE(vm, .kind = TR_VMM_OP, .level = sp->role.level,
			      .addr = gfn_to_gpa(gfn).v, .table_addr = sp_hpa(sp).v,
			      .result = sp->flood, .what = "unshadow (write flood)");
			vm->st.unshadows++;
			sp_zap(v, sp);
			continue;
		}
		for (unsigned idx = first; idx <= last && idx < SPTE_PER_PAGE; idx++)
			sync_entry(v, sp, idx);
	}
}

bool sync_can_unsync(const struct shadow *sh, gfn_t gfn)
{
	struct shadow_page *list[SP_MAX_PER_GFN];
	unsigned n = gfn_pages(sh, gfn, list, SP_MAX_PER_GFN);
	if (n == 0)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (list[i]->role.level != LVL_PT || list[i]->root_count)
			return false;
	return true;
}

void sync_unsync_gfn(struct vcpu *v, gfn_t gfn)
{
	struct vm *vm = v->vm;
	struct shadow *sh = shadow_of(vm);
	struct shadow_page *list[SP_MAX_PER_GFN];
	unsigned n = gfn_pages(sh, gfn, list, SP_MAX_PER_GFN);
	for (unsigned i = 0; i < n; i++) {
		if (list[i]->unsync)
			continue;
		unsync_link(sh, list[i]);
		TRACE(vm, .kind = TR_VMM_OP, .level = LVL_PT, .addr = gfn_to_gpa(gfn).v,
		      .table_addr = sp_hpa(list[i]).v, .what = "shadow page goes out of sync");
	}
}

void sync_refresh_page(struct vcpu *v, struct shadow_page *sp)
{
	struct vm *vm = v->vm;
	for (unsigned idx = 0; idx < SPTE_PER_PAGE; idx++)
		if (gpte_present(spte_get(vm, sp, idx)))
			sync_entry(v, sp, idx);
	shadow_of(vm)->cyc += vm->cost.vmm_resync;
	vm->st.resyncs++;
	TRACE(vm, .kind = TR_VMM_OP, .level = sp->role.level, .addr = gfn_to_gpa(sp->gfn).v,
	      .table_addr = sp_hpa(sp).v, .what = "resync of an unsync page linked again");
}

void sync_resync_page(struct vcpu *v, struct shadow_page *sp)
{
	struct vm *vm = v->vm;
	struct shadow *sh = shadow_of(vm);
	for (unsigned idx = 0; idx < SPTE_PER_PAGE; idx++)
		if (gpte_present(spte_get(vm, sp, idx)))
			sync_entry(v, sp, idx);
	unsync_unlink(sh, sp);
	sh->cyc += vm->cost.vmm_resync;
	vm->st.resyncs++;
	TRACE(vm, .kind = TR_VMM_OP, .level = sp->role.level, .addr = gfn_to_gpa(sp->gfn).v,
	      .table_addr = sp_hpa(sp).v, .what = "resync (page back in sync)");
	gfn_write_protect(v, sp->gfn);
}

void sync_resync_all(struct vcpu *v)
{
	struct shadow *sh = shadow_of(v->vm);
	while (sh->unsync_head)
		sync_resync_page(v, sh->unsync_head);
}

void sync_invlpg(struct vcpu *v, gva_t gva)
{
	struct vm *vm = v->vm;
	struct shadow *sh = shadow_of(vm);
	struct shadow_page *sp = sh->cur.sp;
	if (!sp || !va_canonical(gva, vm->cfg.levels))
		return;
	for (int l = sp->role.level; l > LVL_PT; l--) {
		uint64_t s = spte_get(vm, sp, pt_index(gva, l));
		if (!gpte_present(s) || spte_leaf(s, l))
			return;
		sp = sp_of_hfn(sh, hpa_to_hfn(HPA(pte_frame(s))));
	}
	unsigned idx = pt_index(gva, LVL_PT);
	if (!sp->unsync || !gpte_present(spte_get(vm, sp, idx)))
		return;
	sync_entry(v, sp, idx);
	vm->st.resyncs++;
	TRACE(vm, .kind = TR_VMM_OP, .level = LVL_PT, .gva = gva, .addr = gfn_to_gpa(sp->gfn).v,
	      .table_addr = sp_hpa(sp).v, .index = idx,
	      .what = "resync of one entry (INVLPG in an unsync page)");
}

/*
 * sync.c - keeping shadow pages in step with the guest tables they shadow:
 * emulated table stores, write-flood detection (unshadowing), and the
 * unsync policy with its resyncs.
 *
 * Eager policy (cfg.shadow_sync == SYNC_EAGER; Xen with out-of-sync off):
 * every shadowed guest table is write-protected. A store to one exits, is
 * emulated, and the entries it touched are recomputed in every shadow page
 * of that frame (sync_pte_written): updated when the new gpte can be mapped
 * without the VMM's help (present, A set), zapped otherwise.
 *
 * Write flooding (KVM's detect_write_flooding()): each emulated store to a
 * frame counts against every shadow page of the frame; a page that reaches
 * cfg.flood_threshold stores without being used by a fault in between is
 * no longer a page table in practice (fork, exit and page reuse rewrite
 * whole tables this way) and is zapped: an unshadow. Under the unsync
 * policy 4K leaf tables are skipped, as KVM skips them, because they go
 * unsync instead of trapping; under eager they are counted (Xen's early
 * unshadow of L1s). The frame stops being write-protected when its last
 * shadow page goes. The current root is never unshadowed. A threshold of 0
 * disables the detection.
 *
 * Unsync policy (SYNC_UNSYNC, the default; KVM's only policy): the first
 * store to a frame whose shadow pages are all level-1 (KVM's
 * mmu_try_to_unsync_pages() from make_spte()) marks them unsync and leaves
 * the mapping writable, so later stores do not trap. Their sptes may then
 * be stale, which is allowed until the guest invalidates:
 *   - INVLPG re-reads the one gpte of that address in every cached root
 *     (KVM's kvm_mmu_invlpg() -> __kvm_mmu_invalidate_addr());
 *   - a guest flush, and a CR3 load that flushes or misses the root cache,
 *     resync the unsync pages reachable from the root (sync_root(), KVM's
 *     mmu_sync_children()) and write-protect them again.
 * Unsync pages that no root reaches (tables the guest freed) stay as they
 * are until they are linked again (kvm_sync_page() on lookup), evicted, or
 * their frame becomes an upper-level table (zapped, as in KVM's
 * kvm_mmu_find_shadow_page()). A resync recomputes each present spte from
 * its gpte, so a gpte without A is never mapped. Non-leaf tables never go
 * unsync.
 */
#include "shadow.h"

/* ---- private helpers ---- */

static void unsync_link(struct shadow *sh, struct shadow_page *sp)
{
	if (sh->track)
		sh_touch_page(sh, sp);
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
	if (sh->track)
		sh_touch_page(sh, sp);
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
	if (sh->track) /* re-derived from a gpte that may have changed */
		sh_touch_spte(sh, spte_addr(sp, idx).v);
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
	/* KVM's detect_write_flooding() skips 4K leaf tables: they can go
	 * unsync. Eager keeps them write-protected, so they are counted. */
	bool skip_leaf = vm->cfg.shadow_sync == SYNC_UNSYNC;
	for (unsigned i = 0; i < n; i++) {
		struct shadow_page *sp = list[i];
		bool counted = threshold && !(skip_leaf && sp->role.level == LVL_PT);
		if (counted && ++sp->flood >= threshold && sp != sh->cur.sp &&
		    !sh_other_root(sh, sp)) {
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

/* Is sp linked from root through present non-leaf sptes? Walks the parent
 * lists upwards; parents are one level higher, so there are no cycles. The
 * answer is memoised for the pass (reach_gen). */
static bool sp_reaches(struct shadow *sh, struct shadow_page *sp, const struct shadow_page *root)
{
	if (sp == root)
		return true;
	if (sp->reach_gen == sh->reach_gen)
		return sp->reach;
	bool r = false;
	for (uint32_t i = 0; i < sp->nparents && !r; i++)
		r = sp_reaches(sh, sp_of_hfn(sh, sp->parents[i] >> PAGE_SHIFT), root);
	sp->reach_gen = sh->reach_gen;
	sp->reach = r;
	return r;
}

void sync_root(struct vcpu *v, struct shadow_page *root)
{
	struct shadow *sh = shadow_of(v->vm);
	if (!root)
		return;
	sh->reach_gen++;
	struct shadow_page *sp = sh->unsync_head;
	while (sp) {
		/* A resync unlinks only sp from the unsync list and zaps no
		 * shadow page (a 4K page has no links), so next stays valid. */
		struct shadow_page *next = sp->unsync_next;
		if (sp_reaches(sh, sp, root))
			sync_resync_page(v, sp);
		sp = next;
	}
}

void sync_invlpg(struct vcpu *v, struct shadow_page *root, gva_t gva)
{
	struct vm *vm = v->vm;
	struct shadow *sh = shadow_of(vm);
	struct shadow_page *sp = root;
	if (!sp || !va_canonical(gva, vm->cfg.levels))
		return;
	for (int l = sp->role.level; l > LVL_PT; l--) {
		uint64_t s = spte_get(vm, sp, pt_index(gva, l));
		sh_charge_sptes(sh, 1);
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

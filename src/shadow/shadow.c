/*
 * shadow.c - the shadow MMU mode (KVM and Xen style): its mmu_ops, the
 * shadow roots with the previous-root cache, and the CR3, INVLPG and TLB
 * flush exits.
 *
 * Every guest instruction that the VMM must see exits, through vm_exit()
 * with its own counter and handler cost (cost.vmm_*, plus cost.vmm_spte per
 * spte examined or written and cost.vmm_resync per page resynced):
 *   #PF of a failed shadow walk   EXIT_EXCEPTION  (fault.c classifies it)
 *   MOV to CR3                    EXIT_CR_ACCESS  exits_cr3
 *   guest TLB flush               EXIT_CR_ACCESS  exits_cr3 (a CR3 reload
 *                                 or a CR4.PGE toggle: the guest has no
 *                                 INVPCID in this model)
 *   INVLPG                        EXIT_INVLPG     exits_invlpg
 *   CR0.WP, CR4.SMEP/SMAP, EFER   EXIT_CR_ACCESS  exits_cr3 (the roots are
 *   .NXE written                  reset: every role holds the controls)
 * With VPID off, vm_exit() applies the world-switch flush on each of them.
 *
 * Roots: hardware CR3 points at the shadow page of (CR3 frame, level =
 * cfg.levels, all rights). The current root and up to cfg.shadow_roots
 * previous ones (KVM: 3, mmu->prev_roots) are kept in a most-recent-first
 * cache keyed by frame and PCID, as KVM keys prev_roots by the whole pgd;
 * a CR3 load that finds its CR3 there switches without a lookup
 * (root_cache_hits; KVM's fast_pgd_switch()). A miss drops the least
 * recent one, which stays in the hash as an ordinary, evictable page, then
 * finds or creates the root.
 *
 * What a CR3 load does besides switching follows KVM's kvm_set_cr3(),
 * kvm_mmu_new_pgd() and kvm_invalidate_pcid() under shadow paging:
 *   - a load that flushes (no bit 63) syncs the unsync pages reachable
 *     from the new root, flushes the whole vCPU context, all PCIDs
 *     (vmx_flush_tlb_current() -> vpid_sync_context()), and, with PCIDs on,
 *     drops the cached previous roots of the same PCID;
 *   - a no-flush load served by the cache does neither;
 *   - a no-flush load that misses the cache goes through kvm_mmu_load():
 *     sync of the new root and the same whole-context flush.
 * A guest TLB flush of the current PCID is a CR3 reload of the same value
 * (kvm_invalidate_pcid() again); a flush of everything is a CR4.PGE toggle,
 * which syncs the current and every cached root (kvm_vcpu_flush_tlb_guest()).
 * INVLPG re-reads the gpte of its address in every cached root
 * (kvm_mmu_invlpg()).
 *
 * Shadow memory: pages are counted (shadow_pages_peak; shadow_bytes_peak at
 * 4 KiB each) and capped at cfg.shadow_cap, or by default guest pages / 50
 * (KVM: 20 per mille of the memslot pages), with FIFO eviction of pages
 * that are not roots (spt.c).
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "shadow.h"
#include "api.h"
#include "../core/walk.h"
#include "../core/smp.h"

/* Below this the install path could evict the pages it is building. */
#define SHADOW_MIN_CAP(levels) (UINT64_C(4) * (uint64_t)(levels) + 4)

/* ---- private helpers ---- */

static struct sp_role root_role(const struct vcpu *v)
{
	return (struct sp_role){
	    .level = (uint8_t)v->vm->cfg.levels, .access = SP_ACC_ALL, .ctl = sp_ctl_of(&v->ctl)};
}

/* Load the root for the guest CR3 in v->cr3 through the root cache.
 * Returns true when the cache served it. */
static bool root_switch(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct shadow *sh = shadow_of(vm);
	gfn_t gfn = gpa_to_gfn(GPA(pte_frame(v->cr3)));
	uint16_t pcid = vcpu_pcid(v);
	if (sh->cur.sp && sh->cur.gfn == gfn && sh->cur.pcid == pcid)
		return true;
	/* Roots of other controls were dropped by shadow_on_ctl_change(). */
	for (uint32_t i = 0; i < sh->nprev; i++) {
		if (!sh->prev[i].sp || sh->prev[i].gfn != gfn || sh->prev[i].pcid != pcid)
			continue;
		struct root_slot hit = sh->prev[i];
		for (uint32_t j = i; j > 0; j--)
			sh->prev[j] = sh->prev[j - 1];
		sh->prev[0] = sh->cur;
		sh->cur = hit;
		return true;
	}
	/* Miss: the least recent root leaves the cache (its page stays). */
	if (sh->nprev) {
		struct root_slot *last = &sh->prev[sh->nprev - 1];
		if (last->sp)
			last->sp->root_count--;
		for (uint32_t j = sh->nprev - 1; j > 0; j--)
			sh->prev[j] = sh->prev[j - 1];
		sh->prev[0] = sh->cur;
	} else if (sh->cur.sp) {
		sh->cur.sp->root_count--;
	}
	sh->cur = (struct root_slot){.gfn = gfn, .pcid = pcid, .sp = NULL};
	struct shadow_page *r = sp_get(v, gfn, root_role(v), 0);
	r->root_count++;
	sh->cur.sp = r;
	return false;
}

/* Flush the whole vCPU context, every PCID and the paging-structure
 * caches: INVVPID single-context, KVM's vpid_sync_context() from
 * vmx_flush_tlb_current(). With VPID off it is a no-op, as in KVM: the
 * exit's world switch flushes everything anyway. */
static void flush_context(struct vcpu *v)
{
	struct vm *vm = v->vm;
	if (!vm->cfg.vpid)
		return;
	uint64_t n = tlb_flush_vpid(&v->tlb, v->vpid);
	psc_flush_vpid(&v->psc, v->vpid);
	shadow_of(vm)->cyc += vm->cost.tlb_flush;
	vm->st.tlb_flushes++;
	vm->st.tlb_entries_flushed += n;
	TRACE(vm, .kind = TR_TLB_FLUSH, .result = n,
	      .what = "VMM flush of the whole vCPU context (all PCIDs)");
}

/* A flush of the current PCID (KVM's kvm_invalidate_pcid()): sync the
 * current root, flush the whole context and, with PCIDs on, drop the
 * cached previous roots of that PCID (kvm_mmu_free_roots()). */
static void invalidate_pcid(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct shadow *sh = shadow_of(vm);
	uint16_t pcid = vcpu_pcid(v);
	sync_root(v, sh->cur.sp);
	flush_context(v);
	if (!vm->cfg.pcid)
		return;
	for (uint32_t i = 0; i < sh->nprev; i++) {
		struct root_slot *r = &sh->prev[i];
		if (!r->sp || r->pcid != pcid)
			continue;
		TRACE(vm, .kind = TR_VMM_OP, .addr = gfn_to_gpa(r->gfn).v,
		      .table_addr = sp_hpa(r->sp).v, .result = pcid,
		      .what = "cached root of the flushed PCID dropped");
		r->sp->root_count--;
		r->sp = NULL;
	}
}

/* ---- several vCPUs ---- */

void sh_vcpu_enter(struct shadow *sh, const struct vcpu *v)
{
	if (!sh->vroot || v->id == sh->owner)
		return;
	sh->vroot[sh->owner] = sh->cur;
	memcpy(&sh->vprev[(size_t)sh->owner * sh->nprev], sh->prev, sh->nprev * sizeof(*sh->prev));
	sh->cur = sh->vroot[v->id];
	memcpy(sh->prev, &sh->vprev[(size_t)v->id * sh->nprev], sh->nprev * sizeof(*sh->prev));
	sh->owner = v->id;
}

bool sh_other_root(const struct shadow *sh, const struct shadow_page *sp)
{
	for (unsigned n = 0; sh->vroot && n < sh->vm->nr_vcpus; n++)
		if (n != sh->owner && sh->vroot[n].sp == sp)
			return true;
	return false;
}

void sh_forget_root(struct shadow *sh, const struct shadow_page *sp)
{
	for (unsigned n = 0; sh->vroot && n < sh->vm->nr_vcpus; n++) {
		if (n == sh->owner)
			continue;
		struct root_slot *r = &sh->vroot[n];
		if (r->sp == sp) {
			r->sp->root_count--;
			*r = (struct root_slot){0};
		}
		for (uint32_t i = 0; i < sh->nprev; i++) {
			r = &sh->vprev[(size_t)n * sh->nprev + i];
			if (r->sp == sp) {
				r->sp->root_count--;
				r->sp = NULL;
			}
		}
	}
}

/* ---- mmu_ops ---- */

static int shadow_init(struct vm *vm)
{
	struct shadow *sh = calloc(1, sizeof(*sh));
	if (!sh) {
		snprintf(vm->err, sizeof(vm->err), "out of memory for the shadow MMU");
		return -1;
	}
	sh->vm = vm;
	sh->nprev = vm->cfg.shadow_roots;
	sh->prev = calloc(sh->nprev ? sh->nprev : 1, sizeof(*sh->prev));
	if (!sh->prev || spt_init(sh) != 0) {
		spt_destroy(sh);
		free(sh->prev);
		free(sh);
		snprintf(vm->err, sizeof(vm->err), "out of memory for the shadow MMU");
		return -1;
	}
	if (vm->nr_vcpus > 1) {
		sh->vroot = calloc(vm->nr_vcpus, sizeof(*sh->vroot));
		sh->vprev = calloc((size_t)vm->nr_vcpus * (sh->nprev ? sh->nprev : 1),
				   sizeof(*sh->vprev));
		if (!sh->vroot || !sh->vprev) {
			free(sh->vroot);
			free(sh->vprev);
			spt_destroy(sh);
			free(sh->prev);
			free(sh);
			snprintf(vm->err, sizeof(vm->err), "out of memory for the shadow MMU");
			return -1;
		}
	}
	sh->track = vm->cfg.audit;
	sh->cap = vm->cfg.shadow_cap ? vm->cfg.shadow_cap : (vm->cfg.guest_mem >> PAGE_SHIFT) / 50;
	if (sh->cap < SHADOW_MIN_CAP(vm->cfg.levels))
		sh->cap = SHADOW_MIN_CAP(vm->cfg.levels);
	vm->mode_state = sh;
	return 0;
}

static void shadow_destroy(struct vm *vm)
{
	struct shadow *sh = shadow_of(vm);
	if (!sh)
		return;
	spt_destroy(sh);
	shadow_audit_free(sh);
	free(sh->vroot);
	free(sh->vprev);
	free(sh->prev);
	free(sh);
	vm->mode_state = NULL;
}

static enum xlate_result shadow_translate(struct vcpu *v, struct mem_access *a, struct xlate *out)
{
	struct shadow *sh = shadow_of(v->vm);
	sh_vcpu_enter(sh, v);
	if (unlikely(!sh->cur.sp || sh->cur.gfn != gpa_to_gfn(GPA(pte_frame(v->cr3)))))
		(void)root_switch(v); /* paging enabled without a CR3 exit seen */
	struct walk1d w;
	bool ok = walk1d(v, sp_hpa(sh->cur.sp).v, a, DIM_SHADOW, true, &w);
	out->refs = w.refs;
	if (ok) {
		out->fill = w.fill;
		return XLATE_OK;
	}
	return shadow_page_fault(v, a, &w, out);
}

static void shadow_on_cr3_load(struct vcpu *v, uint64_t old_cr3)
{
	struct vm *vm = v->vm;
	struct shadow *sh = shadow_of(vm);
	sh_vcpu_enter(sh, v);
	(void)old_cr3;
	bool hit = root_switch(v);
	/* kvm_mmu_new_pgd() and the root lookup both clear the new root's
	 * write-flooding count. */
	sh->cur.sp->flood = 0;
	if (hit) {
		vm->st.root_cache_hits++;
		TRACE(vm, .kind = TR_VMM_OP, .addr = pte_frame(v->cr3),
		      .table_addr = sp_hpa(sh->cur.sp).v,
		      .what = "CR3 load served by the previous-root cache");
	} else {
		TRACE(vm, .kind = TR_VMM_OP, .addr = pte_frame(v->cr3),
		      .table_addr = sp_hpa(sh->cur.sp).v,
		      .what = "CR3 load: shadow root looked up or built");
	}
	if (!v->cr3_noflush) {
		/* kvm_set_cr3() -> kvm_invalidate_pcid(): sync, flush all
		 * PCIDs, drop the cached roots of this PCID. */
		invalidate_pcid(v);
	} else if (!hit) {
		/* kvm_mmu_load(): a root not in the cache is synced and the
		 * whole context flushed, no-flush bit or not. */
		sync_root(v, sh->cur.sp);
		flush_context(v);
	}
	shadow_exit(v, EXIT_CR_ACCESS, &vm->st.exits_cr3, vm->cost.vmm_cr3);
}

static void shadow_on_invlpg(struct vcpu *v, gva_t gva)
{
	struct vm *vm = v->vm;
	struct shadow *sh = shadow_of(vm);
	sh_vcpu_enter(sh, v);
	/* kvm_mmu_invlpg(): every cached root, since INVLPG also drops global
	 * mappings of other PCIDs. Eager pages are never out of sync. */
	if (vm->cfg.shadow_sync == SYNC_UNSYNC) {
		sync_invlpg(v, sh->cur.sp, gva);
		for (uint32_t i = 0; i < sh->nprev; i++)
			sync_invlpg(v, sh->prev[i].sp, gva);
	}
	shadow_exit(v, EXIT_INVLPG, &vm->st.exits_invlpg, vm->cost.vmm_invlpg);
}

static void shadow_on_tlb_flush(struct vcpu *v, bool all)
{
	struct vm *vm = v->vm;
	struct shadow *sh = shadow_of(vm);
	sh_vcpu_enter(sh, v);
	if (all) {
		/* A CR4.PGE toggle: kvm_vcpu_flush_tlb_guest() syncs the
		 * current and every cached root; core flushed all PCIDs. */
		sync_root(v, sh->cur.sp);
		for (uint32_t i = 0; i < sh->nprev; i++)
			sync_root(v, sh->prev[i].sp);
	} else {
		/* A CR3 reload of the same value: kvm_invalidate_pcid(). */
		invalidate_pcid(v);
	}
	shadow_exit(v, EXIT_CR_ACCESS, &vm->st.exits_cr3, vm->cost.vmm_cr3);
}

/*
 * The guest wrote CR0.WP, CR4.SMEP, CR4.SMAP or EFER.NXE: those are in
 * every shadow page's role, so the current and cached roots are dropped and
 * a root for the new controls is found or built (KVM's
 * kvm_mmu_reset_context() -> kvm_mmu_unload(); the next translation loads
 * a root for the new controls, as kvm_mmu_load() does on the next entry).
 * Pages of the old controls stay in the hash, evictable, and
 * are found again if the guest returns to those controls. Core has already
 * flushed the TLB and walk caches.
 */
static void shadow_on_ctl_change(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct shadow *sh = shadow_of(vm);
	sh_vcpu_enter(sh, v);
	if (sh->cur.sp)
		sh->cur.sp->root_count--;
	sh->cur = (struct root_slot){.sp = NULL};
	for (uint32_t i = 0; i < sh->nprev; i++) {
		if (sh->prev[i].sp)
			sh->prev[i].sp->root_count--;
		sh->prev[i].sp = NULL;
	}
	TRACE(vm, .kind = TR_VMM_OP, .addr = pte_frame(v->cr3), .result = sp_ctl_of(&v->ctl),
	      .what = "paging controls changed: shadow roots dropped");
	shadow_exit(v, EXIT_CR_ACCESS, &vm->st.exits_cr3, vm->cost.vmm_cr3);
}

static void shadow_stats(struct vm *vm, struct stats *s)
{
	const struct shadow *sh = shadow_of(vm);
	s->shadow_pages_peak = sh->pages_peak;
	s->shadow_bytes_peak = sh->pages_peak * PAGE_SIZE;
}

/* ---- API ---- */

void shadow_exit(struct vcpu *v, enum exit_reason reason, uint64_t *counter, uint32_t base_cycles)
{
	struct shadow *sh = shadow_of(v->vm);
	if (sh->psc_stale) {
		psc_flush_vpid(&v->psc, v->vpid);
		sh->psc_stale = false;
		sh->remote_flush = true; /* the other vCPUs' walk caches too */
	}
	if (sh->remote_flush) {
		/* kvm_flush_remote_tlbs(): once per exit, before re-entry. */
		sh->remote_flush = false;
		vm_flush_remote_tlbs(v);
	}
	uint64_t cyc = (uint64_t)base_cycles + sh->cyc;
	sh->cyc = 0;
	vm_exit(v, reason, counter, cyc > UINT32_MAX ? UINT32_MAX : (uint32_t)cyc);
}

/* ---- api.h ---- */

uint64_t shadow_drop_all(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct shadow *sh = shadow_of(vm);
	uint64_t before = sh->pages;
	if (sh->cur.sp)
		sh->cur.sp->root_count--;
	sh->cur = (struct root_slot){0};
	for (uint32_t i = 0; i < sh->nprev; i++) {
		if (sh->prev[i].sp)
			sh->prev[i].sp->root_count--;
		sh->prev[i] = (struct root_slot){0};
	}
	while (sh->fifo_head)
		sp_zap(v, sh->fifo_head);
	psc_flush_vpid(&v->psc, v->vpid);
	sh->psc_stale = false;
	vm->st.cyc_vmm += sh->cyc;
	sh->cyc = 0;
	TRACE(vm, .kind = TR_VMM_OP, .result = before,
	      .what = "every shadow page dropped, roots included");
	return before - sh->pages;
}

uint64_t shadow_root_hpa(struct vcpu *v)
{
	struct shadow *sh = shadow_of(v->vm);
	sh_vcpu_enter(sh, v);
	if (!sh->cur.sp || sh->cur.gfn != gpa_to_gfn(GPA(pte_frame(v->cr3))) ||
	    sh->cur.pcid != vcpu_pcid(v))
		return 0;
	return sp_hpa(sh->cur.sp).v;
}

void shadow_set_store_hook(struct vm *vm, shadow_store_fn fn, void *ctx)
{
	struct shadow *sh = shadow_of(vm);
	sh->store_fn = fn;
	sh->store_ctx = ctx;
}

const struct mmu_ops shadow_mmu_ops = {
    .name = "shadow",
    .desc = "shadow paging (KVM/Xen style): write-protected guest tables, hidden faults, "
	    "unsync/resync, root cache",
    .init = shadow_init,
    .destroy = shadow_destroy,
    .translate = shadow_translate,
    .on_cr3_load = shadow_on_cr3_load,
    .on_invlpg = shadow_on_invlpg,
    .on_tlb_flush = shadow_on_tlb_flush,
    .on_ctl_change = shadow_on_ctl_change,
    .forces_wp_nx = true,
    .audit = shadow_audit,
    .audit_exit = shadow_audit_exit,
    .stats = shadow_stats,
    .smp = true,
};

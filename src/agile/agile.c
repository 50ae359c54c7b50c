/*
 * agile.c - agile paging (Gandhi, Hill and Swift, ISCA'16) as core sees
 * it: one const struct mmu_ops, agile_mmu_ops. agile.h describes the
 * hardware and the VMM; this file holds the hardware walk and the exits.
 *
 * The walk (ISCA'16's hardware): from the shadow root, one reference per level
 * (DIM_SHADOW in the trace). An spte with AGILE_SPTE_SWITCH hands the walk
 * to the 2D walker of nested paging (src/nested/api.h,
 * nested_translate_from()), which reads the guest table at the host
 * address the spte gives and goes on in two dimensions (DIM_GUEST and
 * DIM_HOST, steps numbered on from the shadow part). A guest root in
 * nested mode makes the whole walk 2D. The 2D part's EPT violations and
 * guest faults are nested paging's: a violation exits, a guest fault goes
 * straight to the guest.
 *
 * Write protection in the nested part: the VMM keeps the EPT leaf of a
 * frame that holds a shadowed table read-only for walks that end in the
 * nested part. The model applies it to the walk's result: a read gets a TLB
 * entry without W, a store exits and is emulated like a store caught by a
 * read-only spte (the EPT itself is left RWX, so nested paging's own
 * invariants stand). A writable 2D fill is always 4K, so that protection
 * is per 4K frame.
 *
 * Exits, as shadow paging's (VMX exit reason 0 unless said):
 *   hidden fault    spte missing or narrower than the gptes allow: the VMM
 *                   walks the guest tables (shadow_guest_walk(), from
 *                   src/shadow/api.h) and builds the path; a guest table
 *                   in nested mode gets a switching entry instead of a
 *                   shadow page; exits_hidden_fault (exits_dirty when the
 *                   walk set D);
 *   table store     a store to a frame that holds a shadowed table: emulate
 *                   it, zap the sptes of the entry, count it for the
 *                   policy (agile.h); exits_pt_write;
 *   true fault      the guest tables deny the access: inject the #PF;
 *                   exits_fault_inject;
 *   MOV to CR3      switch the shadow root through the previous-root cache
 *                   (exits_cr3; root_cache_hits when the cache serves it);
 *   controls        a write of CR0.WP, CR4.SMEP/SMAP or EFER.NXE zaps
 *                   every shadow page (exits_cr3);
 *   WP = 0 store    a supervisor store through an entry without W in the
 *                   nested part, which only the guest's CR0.WP = 0 allows:
 *                   the hardware runs with WP = 1, so it faults and the
 *                   VMM emulates it (exits_hidden_fault; exits_pt_write
 *                   when the frame holds a shadowed table).
 * INVLPG and guest TLB flushes do not exit: with every shadowed table
 * write-protected (sync is eager), no spte is ever stale, so the VMM has
 * nothing to do; they drop what nested paging's walk caches hold.
 */
#include <stdio.h>
#include <stdlib.h>

#include "agile.h"
#include "../core/cpu.h"
#include "../core/walk.h"

/* ---- private helpers ---- */

/* Flush what an spte that went away may have left cached. */
static void ag_flush(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	if (!ag->flush_pending)
		return;
	ag->flush_pending = false;
	uint64_t n = tlb_flush_vpid(&v->tlb, v->vpid);
	psc_flush_vpid(&v->psc, v->vpid);
	ag->cyc += vm->cost.tlb_flush;
	vm->st.tlb_flushes++;
	vm->st.tlb_entries_flushed += n;
	TRACE(vm, .kind = TR_TLB_FLUSH, .result = n,
	      .what = "agile: VMM flush after an spte change");
}

/* End of a VMM handler: flush, then account the exit. */
static void ag_exit(struct vcpu *v, enum exit_reason reason, uint64_t *counter, uint32_t base)
{
	struct agile *ag = agile_of(v->vm);
	ag_flush(v);
	uint64_t cyc = (uint64_t)base + ag->cyc;
	ag->cyc = 0;
	vm_exit(v, reason, counter, cyc > UINT32_MAX ? UINT32_MAX : (uint32_t)cyc);
}

/* VMM work outside an exit it counts (the policy's timer): charge it. */
static void ag_charge(struct vcpu *v)
{
	struct agile *ag = agile_of(v->vm);
	ag_flush(v);
	v->vm->st.cyc_vmm += ag->cyc;
	ag->cyc = 0;
}

/* Run one of nested paging's hooks on its state. They never exit. */
static void ag_nested_hook(struct vcpu *v, void (*fn)(struct vcpu *, uint64_t), uint64_t arg)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	vm->mode_state = ag->ns;
	fn(v, arg);
	vm->mode_state = ag;
}

static void hook_cr3(struct vcpu *v, uint64_t old)
{
	nested_mmu_ops.on_cr3_load(v, old);
}
static void hook_invlpg(struct vcpu *v, uint64_t gva)
{
	nested_mmu_ops.on_invlpg(v, gva);
}
static void hook_flush(struct vcpu *v, uint64_t all)
{
	nested_mmu_ops.on_tlb_flush(v, all != 0);
}
static void hook_world(struct vcpu *v, uint64_t unused)
{
	(void)unused;
	nested_mmu_ops.on_world_switch(v);
}

/* The current root leaves: it goes to the front of the previous-root cache
 * (KVM's mmu->prev_roots, cfg.shadow_roots entries); the least recent one
 * falls out and becomes an ordinary, evictable page. */
static void ag_root_push(struct agile *ag, struct ag_page *old)
{
	if (!old || !ag->nprev)
		return;
	struct ag_page *last = ag->prev[ag->nprev - 1];
	if (last)
		last->root_count--;
	for (uint32_t i = ag->nprev - 1; i > 0; i--)
		ag->prev[i] = ag->prev[i - 1];
	ag->prev[0] = old;
	old->root_count++;
}

/* Make the shadow root of guest table rg current: from the previous-root
 * cache when it is there (root_cache_hits; KVM's fast_pgd_switch()), else
 * through the hash, built when missing. */
static void ag_root_switch(struct vcpu *v, gfn_t rg)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	struct ag_page *old = ag->root, *hit = NULL;
	for (uint32_t i = 0; i < ag->nprev; i++) {
		if (ag->prev[i] && ag->prev[i]->gfn == rg) {
			hit = ag->prev[i];
			for (uint32_t j = i; j + 1 < ag->nprev; j++)
				ag->prev[j] = ag->prev[j + 1];
			ag->prev[ag->nprev - 1] = NULL;
			hit->root_count--;
			break;
		}
	}
	ag_root_push(ag, old);
	if (hit) {
		vm->st.root_cache_hits++;
		ag->root = hit;
		return;
	}
	ag->root = NULL; /* not evictable while it is being found or built */
	ag->root = ag_get(v, rg, vm->cfg.levels, false, false);
}

/* The shadow root for guest CR3, built when missing; NULL when the guest
 * root is in nested mode. */
static struct ag_page *ag_root(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	gfn_t rg = pte_frame(v->cr3) >> PAGE_SHIFT;
	if (ag->is_nested[rg]) {
		ag_root_push(ag, ag->root);
		ag->root = NULL;
		ag->root_gfn = rg;
		return NULL;
	}
	if (!ag->root || ag->root_gfn != rg) {
		ag->root_gfn = rg;
		ag_root_switch(v, rg);
	}
	return ag->root;
}

/* The leaf spte for 4K guest frame gfn with rights 'gpte' (its RW, US,
 * NX, G and D bits) at the end of a path. */
static uint64_t ag_leaf_spte(struct vcpu *v, gfn_t gfn, uint64_t gpte, bool backed_only)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	hfn_t h = backed_only ? p2m_lookup(vm, gfn) : p2m_ensure(vm, gfn);
	if (h == INVALID_HFN)
		return 0;
	uint64_t s = (h << PAGE_SHIFT) | GPTE_P | GPTE_A | (gpte & (GPTE_US | GPTE_NX | GPTE_G));
	if ((gpte & GPTE_RW) && (gpte & GPTE_D) && !ag->prot[gfn])
		s |= GPTE_RW | GPTE_D;
	return s;
}

/* The direct page that maps [base, base + 512^level) in 4K pieces below a
 * guest large page; a new level-1 page is filled whole from the p2m. */
static struct ag_page *ag_direct(struct vcpu *v, gfn_t base, int level, bool dirty)
{
	struct agile *ag = agile_of(v->vm);
	struct ag_page *p = ag_lookup(ag, base, level, true, dirty);
	if (p) {
		p->pin = ag->pin_gen; /* on the path being built */
		return p;
	}
	p = ag_get(v, base, level, true, dirty);
	if (level == LVL_PT) {
		uint64_t rights = GPTE_RW | GPTE_US | (dirty ? GPTE_D : 0);
		for (unsigned i = 0; i < 512; i++) {
			if (base + i >= ag->nframes)
				break;
			uint64_t s = ag_leaf_spte(v, base + i, rights, true);
			if (s)
				ag_spte_set(v, p, i, s);
		}
	}
	return p;
}

static void ag_set_if(struct vcpu *v, struct ag_page *p, unsigned idx, uint64_t want)
{
	if (ag_spte_get(v->vm, p, idx) != want)
		ag_spte_set(v, p, idx, want);
}

/*
 * Prefetch around the leaf spte idx just installed in the shadow page of
 * leaf table p (KVM's FNAME(pte_prefetch), as src/shadow does): the other
 * missing entries of the aligned group of cfg.prefetch_num (--prefetch,
 * --prefetch-num; KVM's PTE_PREFETCH_NUM = 8), in order, each from its
 * gpte with the gpte's own rights (read-only while clean: A/D emulation);
 * the first gpte that is not present, has A clear, has a reserved bit or
 * names a frame the guest has not backed ends the scan
 * (FNAME(prefetch_gpte) failing). Each spte examined costs cost.vmm_spte;
 * each installed counts in shadow_prefetches. Direct pages need none:
 * they are filled whole when built.
 */
static void ag_prefetch(struct vcpu *v, struct ag_page *p, unsigned idx)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	uint32_t n = vm->cfg.prefetch_num;
	if (!vm->cfg.shadow_prefetch || n <= 1 || p->direct || p->level != LVL_PT)
		return;
	if (n > 512)
		n = 512;
	unsigned start = idx - idx % n;
	unsigned end = start + n < 512 ? start + n : 512;
	for (unsigned i = start; i < end; i++) {
		if (i == idx || gpte_present(ag_spte_get(vm, p, i)))
			continue;
		ag->cyc += vm->cost.vmm_spte;
		uint64_t gpte = gpa_read64(vm, GPA((p->gfn << PAGE_SHIFT) + 8u * i));
		if (!gpte_present(gpte) || !(gpte & GPTE_A) || gpte_rsvd(&v->guest_rights, gpte))
			return;
		gfn_t g = pte_frame(gpte) >> PAGE_SHIFT;
		if (g >= ag->nframes || p2m_lookup(vm, g) == INVALID_HFN)
			return;
		uint64_t s = ag_leaf_spte(v, g, gpte, true);
		if (!s)
			return;
		ag_spte_set(v, p, i, s);
		vm->st.shadow_prefetches++;
		TRACE(vm, .kind = TR_VMM_OP, .level = 1, .entry = s,
		      .what = "agile: spte prefetched");
	}
}

/* Build the shadow path of gw (KVM's FNAME(fetch), with agile's switching
 * entries): shadow pages down to the leaf, or down to the first guest table
 * in nested mode, whose entry above becomes a switching entry. */
static void ag_fetch_path(struct vcpu *v, const struct mem_access *a, const struct shadow_gwalk *gw,
			  struct ag_page *p);

static void ag_fetch(struct vcpu *v, const struct mem_access *a, const struct shadow_gwalk *gw)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	ag->pin_gen++; /* pages found or built from here on are pinned */
	struct ag_page *p = ag_root(v);
	if (!p)
		return; /* the root is nested: nothing to build */
	ag_fetch_path(v, a, gw, p);
	ag->pin_gen++; /* unpin the path */
}

static void ag_fetch_path(struct vcpu *v, const struct mem_access *a, const struct shadow_gwalk *gw,
			  struct ag_page *p)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	/* A supervisor write that only the guest's CR0.WP = 0 allows. */
	const bool wp0 = a->kind == ACC_WRITE && !a->user && !v->ctl.wp && !(gw->perms & TLBF_W);
	const bool smep = v->ctl.smep;
	if (wp0)
		TRACE(vm, .kind = TR_VMM_OP, .gva = a->gva, .result = gw->perms,
		      .what = "agile: CR0.WP=0: supervisor write mapped writable, not user");
	for (int level = vm->cfg.levels;; level--) {
		unsigned idx = pt_index(a->gva, level);
		uint64_t gpte = gw->gpte[level];
		if (level == gw->leaf && level == LVL_PT) {
			uint64_t g = (gpte & ~AGILE_SPTE_RIGHTS) | ag_spte_rights(gpte, wp0, smep);
			ag_set_if(v, p, idx, ag_leaf_spte(v, gw->gfn, g, false));
			ag_prefetch(v, p, idx);
			return;
		}
		if (level == gw->leaf) {
			/* A guest large page: direct pages down to 4K. */
			bool dirty = (gpte & GPTE_D) != 0;
			for (int l = level; l > LVL_PT; l--) {
				gfn_t base = gw->gfn & ~((UINT64_C(1) << (9 * (l - 1))) - 1);
				struct ag_page *d = ag_direct(v, base, l - 1, dirty);
				uint64_t rights = l == level ? ag_spte_rights(gpte, wp0, smep)
							     : GPTE_RW | GPTE_US;
				ag_set_if(v, p, pt_index(a->gva, l),
					  (d->hfn << PAGE_SHIFT) | GPTE_P | GPTE_A | rights);
				p = d;
			}
			uint64_t rights = GPTE_RW | GPTE_US | (dirty ? GPTE_D : 0);
			ag_set_if(v, p, pt_index(a->gva, LVL_PT),
				  ag_leaf_spte(v, gw->gfn, rights, false));
			return;
		}
		gfn_t child = pte_frame(gpte) >> PAGE_SHIFT;
		if (ag->is_nested[child]) {
			hfn_t h = p2m_ensure(vm, child);
			ag_set_if(v, p, idx,
				  (h << PAGE_SHIFT) | GPTE_P | GPTE_A | AGILE_SPTE_SWITCH |
				      (gpte & AGILE_SPTE_RIGHTS));
			return;
		}
		struct ag_page *c = ag_get(v, child, level - 1, false, false);
		ag_set_if(v, p, idx,
			  (c->hfn << PAGE_SHIFT) | GPTE_P | GPTE_A | (gpte & AGILE_SPTE_RIGHTS));
		p = c;
	}
}

/* A store to a frame that holds a shadowed table: emulate it, drop the
 * sptes of the entry it changed, and tell the policy. */
static void ag_emulate_store(struct vcpu *v, const struct mem_access *a, gfn_t gfn)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	hfn_t h = p2m_ensure(vm, gfn);
	unsigned off = (unsigned)(a->gva & (PAGE_SIZE - 1));
	cpu_store_sized(hpa_ptr(vm, HPA((h << PAGE_SHIFT) + off)), a->size, a->value);
	TRACE(vm, .kind = TR_VMM_OP, .gva = a->gva, .addr = gfn_to_gpa(gfn).v + off,
	      .entry = a->value, .result = a->size, .what = "agile: guest table store emulated");
	for (int l = 1; l <= vm->cfg.levels; l++) {
		struct ag_page *p = ag_lookup(ag, gfn, l, false, false);
		if (p && gpte_present(ag_spte_get(vm, p, off / 8)))
			ag_spte_set(v, p, off / 8, 0);
	}
	ag_policy_write(v, gfn);
}

/* A supervisor write that only the guest's CR0.WP = 0 allows, with an
 * entry above the leaf that withholds W. */
static bool ag_wp0_upper(const struct vcpu *v, const struct mem_access *a,
			 const struct shadow_gwalk *gw)
{
	if (a->kind != ACC_WRITE || a->user || v->ctl.wp || (gw->perms & TLBF_W))
		return false;
	for (int l = v->vm->cfg.levels; l > gw->leaf; l--)
		if (!(gw->gpte[l] & GPTE_RW))
			return true;
	return false;
}

/* The hardware walk failed in the shadow part: the VMM's #PF handler. */
static enum xlate_result ag_page_fault(struct vcpu *v, struct mem_access *a, struct xlate *out)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	struct shadow_gwalk gw;
	if (!shadow_guest_walk(v, a, &gw)) {
		vm->st.injected_faults++;
		out->fault = gw.fault;
		ag_exit(v, EXIT_EXCEPTION, &vm->st.exits_fault_inject, vm->cost.vmm_inject);
		return XLATE_FAULT;
	}
	if (a->kind == ACC_WRITE && ag->prot[gw.gfn]) {
		ag_emulate_store(v, a, gw.gfn);
		ag_exit(v, EXIT_EXCEPTION, &vm->st.exits_pt_write, vm->cost.vmm_pt_write);
		return XLATE_DONE;
	}
	if (ag_wp0_upper(v, a, &gw)) {
		/* CR0.WP = 0 and a table entry above the leaf withholds W:
		 * the conversion would widen a link that other walks share,
		 * some of them switching into the 2D part below it, where
		 * the hardware applies the link's rights and a fault goes
		 * straight to the guest. The VMM emulates the store instead,
		 * as it does in the nested part. */
		hfn_t h = p2m_ensure(vm, gw.gfn);
		uint64_t hpa = (h << PAGE_SHIFT) + (a->gva & (PAGE_SIZE - 1));
		cpu_store_sized(hpa_ptr(vm, HPA(hpa)), a->size, a->value);
		vm_emulated_access(vm, HPA(hpa));
		TRACE(vm, .kind = TR_VMM_OP, .gva = a->gva, .addr = hpa, .entry = a->value,
		      .result = a->size,
		      .what = "agile: CR0.WP=0: supervisor store under a read-only table emulated");
		ag_exit(v, EXIT_EXCEPTION, &vm->st.exits_hidden_fault, vm->cost.vmm_hidden_fault);
		return XLATE_DONE;
	}
	ag_fetch(v, a, &gw);
	if (gw.set_d)
		ag_exit(v, EXIT_EXCEPTION, &vm->st.exits_dirty, vm->cost.vmm_dirty);
	else
		ag_exit(v, EXIT_EXCEPTION, &vm->st.exits_hidden_fault, vm->cost.vmm_hidden_fault);
	return XLATE_RETRY;
}

/* The 2D part, from 'from' (NULL: guest CR3), with the nested part's
 * write protection of shadowed tables. */
static enum xlate_result ag_walk_nested(struct vcpu *v, struct mem_access *a, struct xlate *out,
					const struct nested_start *from)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	gpa_t data;
	int gleaf;
	uint32_t refs = out->refs;
	enum xlate_result r = nested_translate_from(v, ag->ns, a, out, from, &data, &gleaf);
	out->refs += refs;
	if (r != XLATE_OK)
		return r;
	gfn_t gfn = gpa_to_gfn(data);
	if (a->kind == ACC_WRITE && !(out->fill.flags & TLBF_W)) {
		/*
		 * A supervisor store that the guest's CR0.WP = 0 allows
		 * through an entry without W: the hardware, at CR0.WP = 1,
		 * faults, and the VMM (which intercepts exactly those #PFs,
		 * VMX's page-fault error-code mask and match) emulates it.
		 * The 2D walk has set A and D as the guest expects.
		 */
		if (ag->prot[gfn]) {
			ag_emulate_store(v, a, gfn);
			ag_exit(v, EXIT_EXCEPTION, &vm->st.exits_pt_write, vm->cost.vmm_pt_write);
			return XLATE_DONE;
		}
		uint64_t hpa = out->fill.hpa.v + (a->gva & (page_bytes(out->fill.size) - 1));
		cpu_store_sized(hpa_ptr(vm, HPA(hpa)), a->size, a->value);
		vm_emulated_access(vm, HPA(hpa));
		TRACE(vm, .kind = TR_VMM_OP, .gva = a->gva, .addr = hpa, .entry = a->value,
		      .result = a->size,
		      .what =
			  "agile: CR0.WP=0: supervisor store through a read-only entry emulated");
		ag_exit(v, EXIT_EXCEPTION, &vm->st.exits_hidden_fault, vm->cost.vmm_hidden_fault);
		return XLATE_DONE;
	}
	if (!(out->fill.flags & TLBF_W))
		return r;
	if (ag->prot[gfn]) {
		if (a->kind == ACC_WRITE) {
			/* The read-only EPT leaf of a shadowed table: an exit. */
			ag_emulate_store(v, a, gfn);
			ag_exit(v, EXIT_EXCEPTION, &vm->st.exits_pt_write, vm->cost.vmm_pt_write);
			return XLATE_DONE;
		}
		out->fill.flags &= (uint8_t) ~(TLBF_W | TLBF_D);
	} else {
		ag->w2d_writable[gfn] = 1;
	}
	/* Writable 2D fills are 4K: protection is per 4K frame. */
	if (out->fill.size != PG_4K) {
		uint64_t off =
		    a->gva & (page_bytes(out->fill.size) - 1) & ~(uint64_t)(PAGE_SIZE - 1);
		out->fill.hpa = HPA(out->fill.hpa.v + off);
		out->fill.size = PG_4K;
	}
	return r;
}

/* ---- mmu_ops ---- */

static void agile_destroy(struct vm *vm);

static int agile_init(struct vm *vm)
{
	struct agile *ag = calloc(1, sizeof(*ag));
	if (!ag) {
		snprintf(vm->err, sizeof(vm->err), "out of memory for agile paging");
		return -1;
	}
	ag->vm = vm;
	vm->mode_state = NULL;
	if (nested_mmu_ops.init(vm) != 0) {
		if (vm->mode_state)
			nested_mmu_ops.destroy(vm);
		free(ag);
		return -1;
	}
	ag->ns = vm->mode_state;
	vm->mode_state = ag;
	if (ag_spt_init(ag) != 0) {
		agile_destroy(vm);
		snprintf(vm->err, sizeof(vm->err), "out of memory for agile paging");
		return -1;
	}
	/* The cap and the root cache of shadow paging (docs/agile.md). */
	ag->cap = vm->cfg.shadow_cap ? vm->cfg.shadow_cap : (vm->cfg.guest_mem >> PAGE_SHIFT) / 50;
	if (ag->cap < AG_MIN_CAP(vm->cfg.levels))
		ag->cap = AG_MIN_CAP(vm->cfg.levels);
	ag->nprev = vm->cfg.shadow_roots;
	ag->prev = calloc(ag->nprev ? ag->nprev : 1, sizeof(*ag->prev));
	if (!ag->prev) {
		agile_destroy(vm);
		snprintf(vm->err, sizeof(vm->err), "out of memory for agile paging");
		return -1;
	}
	ag->pin_gen = 1;
	return 0;
}

/*
 * The guest wrote CR0.WP, CR4.SMEP, CR4.SMAP or EFER.NXE. The VMM
 * intercepts those writes (the hardware keeps CR0.WP = 1 and EFER.NXE = 1)
 * and, as KVM's kvm_mmu_reset_context() does, stops using every shadow
 * page built under the old controls: agile's pages are not keyed by the
 * controls (KVM's role.cr0_wp, smep_andnot_wp, smap_andnot_wp, efer_nx),
 * so they are all zapped and built again on demand; an spte of the old
 * controls may carry a cr0.wp = 0 conversion (ag_spte_rights()) or an NX
 * bit that the new NXE makes reserved. Tables in nested mode stay so. Core
 * has already flushed the TLB and the walk caches. Counted as exits_cr3,
 * like shadow paging's.
 */
static void agile_on_ctl_change(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	uint64_t n = 0;
	while (ag->all) {
		ag_zap(v, ag->all);
		n++;
	}
	ag->root = NULL;
	TRACE(vm, .kind = TR_VMM_OP, .addr = pte_frame(v->cr3), .result = n,
	      .what = "agile: paging controls changed, every shadow page zapped");
	ag_exit(v, EXIT_CR_ACCESS, &vm->st.exits_cr3, vm->cost.vmm_cr3);
}

static void agile_destroy(struct vm *vm)
{
	struct agile *ag = agile_of(vm);
	if (!ag)
		return;
	ag_spt_destroy(ag);
	vm->mode_state = ag->ns;
	nested_mmu_ops.destroy(vm);
	free(ag);
	vm->mode_state = NULL;
}

/*
 * Fill the shadow part's paging-structure cache from a completed walk: one
 * entry per link it read, levels top .. low (links[l]: the hPA of the
 * shadow table the link at level l points at; perms[l]: the rights
 * accumulated down to it).
 * Switching entries are never cached: the cache holds the address of the
 * next shadow table, as the SDM's PML4E/PDPTE/PDE caches do, and has no
 * room for the switch to the 2D walk, so a walk that resumes below a
 * cached link reads the switching entry again (one reference). The 2D part
 * keeps its own walk caches (nested paging's 2D PWC and nested TLB). The
 * cache is flushed with the TLB whenever the VMM changes a present spte
 * (ag_flush()), and by core on CR3 loads, INVLPG and guest flushes.
 */
static void ag_psc_fill(struct vcpu *v, const struct mem_access *a, int top, int low,
			const uint64_t *links, const uint8_t *perms)
{
	const uint16_t pcid = vcpu_pcid(v);
	for (int l = top; l >= low; l--)
		psc_insert(&v->psc, a->gva, l, v->vpid, pcid, links[l], perms[l]);
}

static enum xlate_result agile_translate(struct vcpu *v, struct mem_access *a, struct xlate *out)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	const int n = vm->cfg.levels;
	ag_policy_tick(v);
	struct ag_page *root = ag_root(v);
	ag_charge(v); /* a root built without a CR3 exit (at boot) */
	if (!root) {
		enum xlate_result r = ag_walk_nested(v, a, out, NULL);
		if (r == XLATE_OK) {
			vm->st.agile_walks_nested++;
			ag->walks_switch[n]++;
		}
		return r;
	}
	if (!va_canonical(a->gva, n))
		return ag_page_fault(v, a, out);
	uint64_t table = hfn_to_hpa(root->hfn).v;
	uint8_t perms = TLBF_W | TLBF_U;
	uint64_t e = 0;
	int level = n;
	out->refs = 0;
	/* The shadow part's paging-structure cache (agile.h): resume below
	 * the lowest cached link, as walk1d() does for shadow paging. */
	const uint16_t pcid = vcpu_pcid(v);
	const bool caches = vm->cfg.walk_caches;
	uint64_t links[MAX_LEVELS + 1]; /* table each link of this walk points at */
	uint8_t lperms[MAX_LEVELS + 1]; /* rights accumulated down to it */
	int top = n;			/* first level this walk reads */
	if (caches) {
		uint64_t t;
		uint8_t p;
		int hit = psc_lookup(&v->psc, a->gva, n, v->vpid, pcid, &t, &p);
		vm->st.cyc_walk += vm->cost.ref_pwc;
		if (hit) {
			vm->st.psc_hits += (uint64_t)(n - hit + 1);
			TRACE(vm, .kind = TR_WALK_REF, .dim = DIM_SHADOW, .served = SERVED_PSC,
			      .level = hit, .user = a->user, .access = a->kind, .gva = a->gva,
			      .table_addr = t, .cycles = vm->cost.ref_pwc,
			      .what = "agile: paging-structure cache hit in the shadow part");
			table = t;
			perms = p;
			top = level = hit - 1;
		}
	}
	for (;; level--) {
		unsigned idx = pt_index(a->gva, level);
		uint64_t ea = table + 8u * idx;
		int cl = 0;
		e = hpa_read64(vm, HPA(ea));
		out->refs++;
		uint32_t cyc = vm_walk_ref(vm, HPA(ea), &cl);
		TRACE(vm, .kind = TR_WALK_REF, .dim = DIM_SHADOW, .served = SERVED_MEMORY,
		      .level = level, .cache_level = cl, .step = (int)out->refs, .user = a->user,
		      .access = a->kind, .gva = a->gva, .addr = ea, .table_addr = table,
		      .index = idx, .entry_addr = ea, .entry = e, .cycles = cyc,
		      .what = (e & AGILE_SPTE_SWITCH) ? "agile: switching entry, the walk goes 2D"
						      : NULL);
		if (!gpte_present(e))
			return ag_page_fault(v, a, out);
		perms = perms_combine(perms, gpte_perms(e));
		if (e & AGILE_SPTE_SWITCH) {
			/* The guest table's gPA labels the trace only: the
			 * hardware needs its host address alone. */
			struct ag_page *sp = ag_page_of_hfn(ag, table >> PAGE_SHIFT);
			uint64_t gpte = gpa_read64(vm, GPA((sp->gfn << PAGE_SHIFT) + 8u * idx));
			struct nested_start from = {.level = level - 1,
						    .table_gpa = pte_frame(gpte),
						    .table_hpa = pte_frame(e),
						    .perms = perms,
						    .step0 = (int)out->refs};
			enum xlate_result r = ag_walk_nested(v, a, out, &from);
			if (r == XLATE_OK) {
				if (caches)
					ag_psc_fill(v, a, top, level + 1, links, lperms);
				ag->walks_switch[level - 1]++;
				switch (level - 1) {
				case 1:
					vm->st.agile_walks_l1++;
					break;
				case 2:
					vm->st.agile_walks_l2++;
					break;
				case 3:
					vm->st.agile_walks_l3++;
					break;
				default:
					vm->st.agile_walks_l4++;
					break;
				}
			}
			return r;
		}
		if (level == LVL_PT)
			break;
		table = pte_frame(e);
		links[level] = table;
		lperms[level] = perms;
	}
	if (walk_check_perms(&v->hw_rights, perms, a) || (a->kind == ACC_WRITE && !(e & GPTE_D)))
		return ag_page_fault(v, a, out);
	uint8_t flags = (uint8_t)(TLBF_VALID | perms);
	if (perms & TLBF_W)
		flags |= TLBF_D;
	if (e & GPTE_G)
		flags |= TLBF_G;
	out->fill = (struct tlb_fill){
	    .va = a->gva, .hpa = HPA(pte_frame(e)), .size = PG_4K, .flags = flags};
	if (caches)
		ag_psc_fill(v, a, top, LVL_PT + 1, links, lperms);
	vm->st.agile_walks_shadow++;
	ag->walks_switch[0]++;
	TRACE(vm, .kind = TR_WALK_DONE, .dim = DIM_SHADOW, .level = LVL_PT, .user = a->user,
	      .access = a->kind, .gva = a->gva, .result = out->fill.hpa.v, .step = n,
	      .what = "agile: walk complete in the shadow table");
	return XLATE_OK;
}

static void agile_on_cr3_load(struct vcpu *v, uint64_t old_cr3)
{
	struct vm *vm = v->vm;
	ag_policy_tick(v);
	(void)ag_root(v);
	ag_nested_hook(v, hook_cr3, old_cr3);
	TRACE(vm, .kind = TR_VMM_OP, .addr = pte_frame(v->cr3),
	      .what = agile_of(vm)->root ? "agile: CR3 load, shadow root switched"
					 : "agile: CR3 load, the root is in nested mode");
	ag_exit(v, EXIT_CR_ACCESS, &vm->st.exits_cr3, vm->cost.vmm_cr3);
}

static void agile_on_invlpg(struct vcpu *v, gva_t gva)
{
	ag_nested_hook(v, hook_invlpg, gva);
}

static void agile_on_tlb_flush(struct vcpu *v, bool all)
{
	ag_nested_hook(v, hook_flush, all);
}

static void agile_on_world_switch(struct vcpu *v)
{
	ag_nested_hook(v, hook_world, 0);
}

static void agile_stats(struct vm *vm, struct stats *s)
{
	struct agile *ag = agile_of(vm);
	s->shadow_pages_peak = ag->pages_peak;
	s->shadow_bytes_peak = ag->pages_peak * PAGE_SIZE;
	vm->mode_state = ag->ns;
	nested_mmu_ops.stats(vm, s);
	vm->mode_state = ag;
}

const struct mmu_ops agile_mmu_ops = {
    .name = "agile",
    .desc = "agile paging (Gandhi et al., ISCA'16): shadow above, nested below a switching "
	    "entry, per guest table",
    .init = agile_init,
    .destroy = agile_destroy,
    .translate = agile_translate,
    .on_cr3_load = agile_on_cr3_load,
    .on_invlpg = agile_on_invlpg,
    .on_tlb_flush = agile_on_tlb_flush,
    .on_ctl_change = agile_on_ctl_change,
    .on_world_switch = agile_on_world_switch,
    .forces_wp_nx = true,
    .audit = agile_audit,
    .stats = agile_stats,
};

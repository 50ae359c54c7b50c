/*
 * spt02.c - L0's SPT02 under shadow on shadow: the shadow of L1's shadow
 * tables (SPT12) that the hardware walks (sos.h).
 *
 * L0 is KVM's shadow MMU with SPT12 in the place of guest page tables:
 *   - an SPT02 page per (SPT12 table, level), found through its frame
 *     (kvm_mmu_get_shadow_page()); a new one write-protects the SPT12
 *     frame (account_shadowed(): the frame's write-track count);
 *   - L0's #PF handler walks SPT12 in software (FNAME(walk_addr)) and,
 *     when SPT12 allows the access, builds the SPT02 path and leaf
 *     (FNAME(fetch)), then prefetches the neighbours of a 4K leaf
 *     (FNAME(pte_prefetch), cfg.prefetch_num, the knob of L1's shadow MMU
 *     too: both levels run KVM);
 *   - an L1 store to a write-protected SPT12 frame is emulated and zaps
 *     the SPT02 entry it changes in every SPT02 page of the frame, with
 *     one TLB flush when one was present (kvm_mmu_track_write() ->
 *     mmu_page_zap_pte(), kvm_mmu_remote_flush_or_zap()). Modern KVM zaps
 *     rather than updates; the next #PF rebuilds the entry.
 * Not modelled at L0 (README, "Not built yet"): unsync of SPT02 leaf pages
 * (mmu_try_to_unsync_pages()), write-flood detection
 * (detect_write_flooding()), the previous-root cache and a cap on SPT02
 * pages. An SPT02 page lives until the run ends, or until L0 takes its
 * SPT12 frame for a table of its own after L1 freed it (the model's one
 * host allocator serves both levels; a real L0 never gets L1's frames):
 * its pages are then zapped first.
 *
 * SPT12's entries come from the shadow MMU (src/shadow): a non-leaf spte
 * grants every right and has A set, a leaf has A set and is writable only
 * with D set. L0's walk therefore never has to set A or D in SPT12, and an
 * SPT02 leaf is SPT12's with the path's rights, writable only with D
 * (FNAME(protect_clean_gpte)).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sos.h"
#include "../core/walk.h"

/* Bits of a non-leaf SPT02 entry, as a shadow MMU's: every right, A set. */
#define SPT02_NONLEAF (GPTE_P | GPTE_RW | GPTE_US | GPTE_A)

/* ---- private helpers ---- */

static bool e_nonleaf(uint64_t e, int level)
{
	return gpte_present(e) && level > LVL_PT && !(e & GPTE_PS);
}

static hpa_t sp02_entry(const struct sp02 *sp, unsigned idx)
{
	return HPA((sp->hfn << PAGE_SHIFT) + 8u * idx);
}

static void sp02_touch(struct spt02 *t, struct sp02 *sp)
{
	if (sp->audit_gen == t->audit_gen)
		return;
	sp->audit_gen = t->audit_gen;
	if (t->ntouched < sizeof(t->touched) / sizeof(t->touched[0]))
		t->touched[t->ntouched++] = sp;
	else
		t->touched_overflow = true;
}

static struct sp02 *sp02_of_entry(const struct spt02 *t, uint64_t e)
{
	hfn_t f = pte_frame(e) >> PAGE_SHIFT;
	return sos_vmm_frame(t, f) ? t->by02[sos_vmm_idx(t, f)] : NULL;
}

static void parent_add(struct vm *vm, struct sp02 *sp, uint64_t a)
{
	if (sp->nparents == sp->parents_cap) {
		uint32_t cap = sp->parents_cap ? 2 * sp->parents_cap : 2;
		uint64_t *n = realloc(sp->parents, cap * sizeof(*n));
		if (!n)
			vm_abort(vm, "simulator out of memory (L0's SPT02)");
		sp->parents = n;
		sp->parents_cap = cap;
	}
	sp->parents[sp->nparents++] = a;
}

static void parent_del(struct sp02 *sp, uint64_t a)
{
	for (uint32_t i = 0; i < sp->nparents; i++) {
		if (sp->parents[i] == a) {
			sp->parents[i] = sp->parents[--sp->nparents];
			return;
		}
	}
	vmmu_bug("spt02-link", "SPT02 entry %#" PRIx64 " is not a parent of its child", a);
}

/* Write one SPT02 entry, keeping the parent lists and counts in step. */
static void sp02_set(struct vm *vm, struct spt02 *t, struct sp02 *sp, unsigned idx, uint64_t val)
{
	hpa_t a = sp02_entry(sp, idx);
	uint64_t old = hpa_read64(vm, a);
	if (old == val)
		return;
	if (e_nonleaf(old, sp->level))
		parent_del(sp02_of_entry(t, old), a.v);
	hpa_write64(vm, a, val);
	sp->npresent += (uint32_t)gpte_present(val) - (uint32_t)gpte_present(old);
	if (e_nonleaf(val, sp->level))
		parent_add(vm, sp02_of_entry(t, val), a.v);
	sp02_touch(t, sp);
	TRACE(vm, .kind = TR_VMM_OP, .level = sp->level, .table_addr = sp->hfn << PAGE_SHIFT,
	      .index = idx, .entry_addr = a.v, .entry = val, .result = old,
	      .what = gpte_present(val) ? (e_nonleaf(val, sp->level) ? "L0: SPT02 link"
								     : "L0: SPT02 leaf install")
					: "L0: SPT02 entry zapped");
}

/* kvm_flush_remote_tlbs() of L2's context: the TLB and the walk caches. */
static uint32_t spt02_flush(struct vcpu *v)
{
	struct vm *vm = v->vm;
	uint64_t n = tlb_flush_vpid(&v->tlb, v->vpid);
	psc_flush_vpid(&v->psc, v->vpid);
	vm->st.tlb_flushes++;
	vm->st.tlb_entries_flushed += n;
	TRACE(vm, .kind = TR_TLB_FLUSH, .result = n,
	      .what = "L0: flush of L2's context (an SPT02 entry went away)");
	return vm->cost.tlb_flush;
}

static void sp02_free(struct vm *vm, struct spt02 *t, struct sp02 *sp)
{
	struct sp02 **pp = &t->by12[sos_vmm_idx(t, sp->t12)];
	while (*pp != sp)
		pp = &(*pp)->next12;
	*pp = sp->next12;
	t->by02[sos_vmm_idx(t, sp->hfn)] = NULL;
	t->wtrack[sos_vmm_idx(t, sp->t12)]--;
	hostmem_free_frame(vm, sp->hfn);
	t->pages--;
	if (sp->audit_gen == t->audit_gen)
		t->touched_overflow = true; /* it may sit in touched[] */
	free(sp->parents);
	free(sp);
}

/* Zap an SPT02 page: unlink it, drop its entries, free it
 * (kvm_mmu_prepare_zap_page()). */
static void sp02_zap(struct vm *vm, struct spt02 *t, struct sp02 *sp)
{
	while (sp->nparents) {
		uint64_t pa = sp->parents[sp->nparents - 1];
		struct sp02 *p = t->by02[sos_vmm_idx(t, pa >> PAGE_SHIFT)];
		sp02_set(vm, t, p, (unsigned)((pa & (PAGE_SIZE - 1)) / 8), 0);
	}
	for (unsigned i = 0; sp->npresent && i < 512; i++)
		sp02_set(vm, t, sp, i, 0);
	if (sp == t->root) {
		t->root = NULL;
		t->root12 = 0;
	}
	TRACE(vm, .kind = TR_VMM_OP, .level = sp->level, .addr = sp->t12 << PAGE_SHIFT,
	      .table_addr = sp->hfn << PAGE_SHIFT, .what = "L0: SPT02 page zapped");
	sp02_free(vm, t, sp);
}

/*
 * A host frame for an SPT02 page. The model's one allocator may hand L0 a
 * frame L1 freed; SPT02 pages that still shadow it are zapped (its SPT12
 * table is gone: L1 unlinked it with stores L0 saw, so they are orphans).
 */
static hfn_t spt02_alloc_frame(struct vcpu *v, struct spt02 *t)
{
	struct vm *vm = v->vm;
	hfn_t f = hostmem_alloc_frame(vm);
	uint64_t i = sos_vmm_idx(t, f);
	bool flush = false;
	while (t->by12[i]) {
		flush = true;
		sp02_zap(vm, t, t->by12[i]);
	}
	if (flush)
		vm->st.cyc_vmm += spt02_flush(v);
	t->l1map[i] = 0;
	return f;
}

/* The SPT02 page of SPT12 table t12 at level, found or built. */
static struct sp02 *sp02_get(struct vcpu *v, struct spt02 *t, hfn_t t12, int level)
{
	struct vm *vm = v->vm;
	if (!sos_vmm_frame(t, t12))
		vmmu_bug("spt12-in-l1-memory",
			 "SPT12 table at frame %#" PRIx64 " outside L1's memory", t12);
	uint64_t i = sos_vmm_idx(t, t12);
	for (struct sp02 *sp = t->by12[i]; sp; sp = sp->next12)
		if (sp->level == level)
			return sp;
	/* The frame first: a failed allocation aborts the run, and a frame
	 * is freed with host memory, where a struct not yet linked would
	 * leak. */
	hfn_t f = spt02_alloc_frame(v, t);
	struct sp02 *sp = calloc(1, sizeof(*sp));
	if (!sp) {
		hostmem_free_frame(vm, f);
		vm_abort(vm, "simulator out of memory (L0's SPT02)");
	}
	sp->t12 = t12;
	sp->hfn = f;
	sp->level = level;
	sp->next12 = t->by12[i];
	t->by12[i] = sp;
	t->by02[sos_vmm_idx(t, f)] = sp;
	t->wtrack[i]++; /* account_shadowed() */
	if (++t->pages > t->pages_peak)
		t->pages_peak = t->pages;
	sp02_touch(t, sp);
	TRACE(vm, .kind = TR_VMM_OP, .level = level, .addr = t12 << PAGE_SHIFT,
	      .table_addr = f << PAGE_SHIFT,
	      .what = "L0: SPT02 page created (its SPT12 table write-protected)");
	return sp;
}

/* The SPT02 leaf for SPT12 leaf e12 at level under path rights perms. */
static uint64_t spt02_leaf(uint64_t e12, int level, uint8_t perms)
{
	uint64_t s = gpte_leaf_frame(e12, level) | GPTE_P | GPTE_A | (e12 & GPTE_G);
	if (level > LVL_PT)
		s |= GPTE_PS;
	if (perms & TLBF_U)
		s |= GPTE_US;
	if (perms & TLBF_NX)
		s |= GPTE_NX;
	if ((perms & TLBF_W) && (e12 & GPTE_D))
		s |= GPTE_RW | GPTE_D;
	return s;
}

/* ---- API ---- */

int spt02_init(struct vm *vm, struct spt02 *t)
{
	t->base = vm->hm.guest_frames;
	t->n = vm->hm.nframes - vm->hm.guest_frames;
	t->by12 = calloc(t->n, sizeof(*t->by12));
	t->by02 = calloc(t->n, sizeof(*t->by02));
	t->wtrack = calloc(t->n, sizeof(*t->wtrack));
	t->l1map = calloc(t->n, sizeof(*t->l1map));
	t->audit_gen = 1;
	if (!t->by12 || !t->by02 || !t->wtrack || !t->l1map) {
		snprintf(vm->err, sizeof(vm->err), "out of memory for L0's SPT02");
		return -1;
	}
	return 0;
}

void spt02_destroy(struct vm *vm, struct spt02 *t)
{
	for (uint64_t i = 0; t->by02 && i < t->n; i++) {
		struct sp02 *sp = t->by02[i];
		if (!sp)
			continue;
		hostmem_free_frame(vm, sp->hfn);
		free(sp->parents);
		free(sp);
	}
	free(t->by12);
	free(t->by02);
	free(t->wtrack);
	free(t->l1map);
	free(t->pend);
	memset(t, 0, sizeof(*t));
}

struct sp02 *spt02_root(struct vcpu *v, struct spt02 *t, uint64_t root12)
{
	struct vm *vm = v->vm;
	if (t->root && t->root12 == root12)
		return t->root;
	bool had = t->root != NULL;
	t->root = NULL;
	t->root12 = 0;
	struct sp02 *r = sp02_get(v, t, root12 >> PAGE_SHIFT, vm->cfg.levels);
	t->root = r;
	t->root12 = root12;
	TRACE(vm, .kind = TR_VMM_OP, .addr = root12, .table_addr = r->hfn << PAGE_SHIFT,
	      .what = "L0: SPT02 root for L1's SPT12 root (kvm_mmu_load)");
	if (had)
		vm->st.cyc_vmm += spt02_flush(v);
	return r;
}

/* L0's walk of SPT12 for a (FNAME(walk_addr)): true when SPT12 allows it. */
static bool spt12_walk(struct vcpu *v, const struct spt02 *t, const struct mem_access *a,
		       struct spt12_walk *w)
{
	struct vm *vm = v->vm;
	const struct paging_rights *r = &v->hw_rights;
	uint64_t table = t->root12;
	uint8_t perms = TLBF_W | TLBF_U;
	w->leaf = 0;
	for (int level = vm->cfg.levels; level >= LVL_PT; level--) {
		uint64_t ea = table + 8u * pt_index(a->gva, level);
		uint64_t e = hpa_read64(vm, HPA(ea));
		int cl;
		uint32_t cyc = vm_vmm_walk_ref(vm, HPA(ea), &cl);
		TRACE(vm, .kind = TR_VMM_OP, .level = level, .cache_level = cl, .gva = a->gva,
		      .table_addr = table, .index = pt_index(a->gva, level), .entry_addr = ea,
		      .entry = e, .cycles = cyc,
		      .what = "L0: software walk of SPT12 (FNAME(walk_addr))");
		w->stop = level;
		w->table[level] = table;
		w->entry[level] = e;
		if (!gpte_present(e) || gpte_rsvd(r, e))
			return false;
		perms = perms_combine(perms, gpte_perms(e));
		if (level == LVL_PT || gpte_large(e, level)) {
			w->perms = perms;
			if (walk_check_access(r, v->pkru, perms, e, a))
				return false;
			w->leaf = level;
			return true;
		}
		table = pte_frame(e);
	}
	return false;
}

bool spt02_fault(struct vcpu *v, struct spt02 *t, const struct mem_access *a, uint32_t *cycles)
{
	struct vm *vm = v->vm;
	struct spt12_walk w;
	if (!t->root || !spt12_walk(v, t, a, &w))
		return false;
	uint64_t steps = 0;
	struct sp02 *sp = t->root;
	uint8_t above = TLBF_W | TLBF_U; /* rights of the SPT12 path above the leaf */
	for (int level = vm->cfg.levels; level > w.leaf; level--) {
		unsigned idx = pt_index(a->gva, level);
		uint64_t e02 = hpa_read64(vm, sp02_entry(sp, idx));
		above = perms_combine(above, gpte_perms(w.entry[level]));
		struct sp02 *child;
		if (e_nonleaf(e02, level)) {
			child = sp02_of_entry(t, e02);
		} else {
			child = sp02_get(v, t, pte_frame(w.entry[level]) >> PAGE_SHIFT, level - 1);
			sp02_set(vm, t, sp, idx, (child->hfn << PAGE_SHIFT) | SPT02_NONLEAF);
			steps++;
		}
		sp = child;
	}
	unsigned idx = pt_index(a->gva, w.leaf);
	sp02_set(vm, t, sp, idx, spt02_leaf(w.entry[w.leaf], w.leaf, w.perms));
	steps++;
	/* FNAME(pte_prefetch): the 4K leaves of the aligned group around it
	 * that SPT12 maps and SPT02 does not yet. */
	if (w.leaf == LVL_PT && vm->cfg.shadow_prefetch && vm->cfg.prefetch_num > 1) {
		unsigned n = vm->cfg.prefetch_num < 512 ? vm->cfg.prefetch_num : 512;
		unsigned first = idx - idx % n;
		for (unsigned i = first; i < first + n && i < 512; i++) {
			if (i == idx || gpte_present(hpa_read64(vm, sp02_entry(sp, i))))
				continue;
			uint64_t e12 = hpa_read64(vm, HPA(w.table[LVL_PT] + 8u * i));
			steps++;
			/* The first entry that cannot be prefetched ends it. */
			if (!gpte_present(e12) || !(e12 & GPTE_A) || gpte_rsvd(&v->hw_rights, e12))
				break;
			sp02_set(vm, t, sp, i,
				 spt02_leaf(e12, LVL_PT, perms_combine(above, gpte_perms(e12))));
		}
	}
	uint64_t c = vm->cost.vmm_hidden_fault + steps * vm->cost.vmm_spte;
	*cycles = c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
	TRACE(vm, .kind = TR_VMM_OP, .gva = a->gva, .level = w.leaf, .cycles = *cycles,
	      .what = "L0: hidden fault: SPT12 maps it, SPT02 built from it (FNAME(fetch))");
	return true;
}

static void pend_add(struct vcpu *v, struct spt02 *t, enum sos_l1_kind k, uint32_t cycles,
		     uint64_t addr)
{
	struct vm *vm = v->vm;
	if (t->npend == t->pend_cap) {
		size_t cap = t->pend_cap ? 2 * t->pend_cap : 64;
		struct sos_l1_exit *n = realloc(t->pend, cap * sizeof(*n));
		if (!n)
			vm_abort(vm, "simulator out of memory (L0's record of L1's exits)");
		t->pend = n;
		t->pend_cap = cap;
	}
	uint64_t seg = vm->st.vm_exits - t->seg_base;
	t->pend[t->npend++] = (struct sos_l1_exit){
	    .kind = (uint8_t)k, .seg = (uint32_t)seg, .cycles = cycles, .addr = addr};
}

void spt02_l1_store(struct vcpu *v, struct spt02 *t, uint64_t spte_hpa)
{
	struct vm *vm = v->vm;
	hfn_t f = spte_hpa >> PAGE_SHIFT;
	if (!sos_vmm_frame(t, f))
		vmmu_bug("spt12-in-l1-memory", "an SPT12 store at %#" PRIx64 " outside L1's memory",
			 spte_hpa);
	uint64_t i = sos_vmm_idx(t, f);
	if (!t->l1map[i]) {
		/* L1's first touch of its frame: a #PF of L1 that L0 fixes
		 * alone, building the SPT01 leaf of L1's direct map (a leaf as
		 * large as --host-page allows: L1's direct map uses large
		 * pages, and L0 backs them with host pages of that size). */
		uint64_t chunk = page_bytes(vm->cfg.host_page) >> PAGE_SHIFT;
		uint64_t lo = f & ~(chunk - 1), hi = lo + chunk;
		for (uint64_t g = lo < t->base ? t->base : lo; g < hi && sos_vmm_frame(t, g); g++)
			t->l1map[sos_vmm_idx(t, g)] = 1;
		pend_add(v, t, SOS_L1_FIRST, vm->cost.vmm_hidden_fault, spte_hpa);
	}
	if (!t->wtrack[i])
		return;
	/* kvm_mmu_track_write(): the emulated store zaps the entry it
	 * changed in every SPT02 page of the frame (mmu_page_zap_pte()). */
	vm->st.spt12_traps++;
	unsigned slot = (unsigned)((spte_hpa & (PAGE_SIZE - 1)) / 8);
	uint64_t work = vm->cost.vmm_pt_write;
	bool flush = false;
	for (struct sp02 *sp = t->by12[i]; sp; sp = sp->next12) {
		work += vm->cost.vmm_spte;
		if (gpte_present(hpa_read64(vm, sp02_entry(sp, slot)))) {
			sp02_set(vm, t, sp, slot, 0);
			flush = true;
		}
	}
	if (flush)
		work += spt02_flush(v); /* kvm_mmu_remote_flush_or_zap() */
	pend_add(v, t, SOS_L1_TRAP, work > UINT32_MAX ? UINT32_MAX : (uint32_t)work, spte_hpa);
}

/* ---- audit ---- */

static const char *audit_page(struct vm *vm, struct spt02 *t, struct sp02 *sp, char *d, size_t len)
{
	uint64_t i12 = sos_vmm_idx(t, sp->t12);
	if (t->by02[sos_vmm_idx(t, sp->hfn)] != sp) {
		snprintf(d, len, "SPT02 page at frame %#" PRIx64 " not found by its frame",
			 sp->hfn);
		return "spt02-link";
	}
	if (!t->wtrack[i12]) {
		snprintf(d, len,
			 "SPT12 table %#" PRIx64 " has an SPT02 page but is not "
			 "write-protected",
			 sp->t12);
		return "spt12-write-protected";
	}
	uint32_t present = 0;
	for (unsigned i = 0; i < 512; i++) {
		uint64_t e = hpa_read64(vm, sp02_entry(sp, i));
		if (!gpte_present(e))
			continue;
		present++;
		uint64_t e12 = hpa_read64(vm, HPA((sp->t12 << PAGE_SHIFT) + 8u * i));
		if (!gpte_present(e12)) {
			snprintf(d, len,
				 "SPT02 entry %u of the level-%d page of SPT12 table %#" PRIx64
				 " is present, SPT12's is not",
				 i, sp->level, sp->t12);
			return "spt02-within-spt12";
		}
		if (e_nonleaf(e, sp->level)) {
			struct sp02 *c = sp02_of_entry(t, e);
			bool listed = false;
			for (uint32_t k = 0; c && k < c->nparents; k++)
				listed |= c->parents[k] == sp02_entry(sp, i).v;
			if (!e_nonleaf(e12, sp->level) || !c || c->level != sp->level - 1 ||
			    c->t12 != pte_frame(e12) >> PAGE_SHIFT || !listed) {
				snprintf(d, len,
					 "SPT02 link %u of the level-%d page of SPT12 table "
					 "%#" PRIx64 " (%#" PRIx64
					 ") does not follow SPT12 (%#" PRIx64 ")",
					 i, sp->level, sp->t12, e, e12);
				return "spt02-link";
			}
			continue;
		}
		bool wider = e_nonleaf(e12, sp->level) || (e & GPTE_PS) != (e12 & GPTE_PS) ||
			     gpte_leaf_frame(e, sp->level) != gpte_leaf_frame(e12, sp->level) ||
			     ((e & GPTE_RW) && !((e12 & GPTE_RW) && (e12 & GPTE_D))) ||
			     ((e & GPTE_US) && !(e12 & GPTE_US)) ||
			     (!(e & GPTE_NX) && (e12 & GPTE_NX));
		if (wider) {
			snprintf(d, len,
				 "SPT02 leaf %u of the level-%d page of SPT12 table %#" PRIx64
				 " is %#" PRIx64 ", wider than SPT12's %#" PRIx64,
				 i, sp->level, sp->t12, e, e12);
			return "spt02-within-spt12";
		}
	}
	if (present != sp->npresent) {
		snprintf(d, len,
			 "SPT02 page of SPT12 table %#" PRIx64 ": %u present entries, "
			 "counted %u",
			 sp->t12, present, sp->npresent);
		return "spt02-count";
	}
	for (uint32_t k = 0; k < sp->nparents; k++) {
		uint64_t e = hpa_read64(vm, HPA(sp->parents[k]));
		if (!gpte_present(e) || pte_frame(e) != sp->hfn << PAGE_SHIFT) {
			snprintf(d, len,
				 "parent %#" PRIx64 " of the SPT02 page of SPT12 table "
				 "%#" PRIx64 " does not point at it",
				 sp->parents[k], sp->t12);
			return "spt02-link";
		}
	}
	return NULL;
}

const char *spt02_audit(struct vm *vm, struct spt02 *t, bool full, char *d, size_t len)
{
	const char *bad = NULL;
	if (full || t->touched_overflow) {
		uint64_t pages = 0;
		for (uint64_t i = 0; !bad && i < t->n; i++) {
			uint32_t n12 = 0;
			for (struct sp02 *sp = t->by12[i]; sp; sp = sp->next12)
				n12++;
			if (n12 != t->wtrack[i]) {
				snprintf(d, len,
					 "frame %#" PRIx64 ": write-track count %u, %u SPT02 "
					 "pages",
					 t->base + i, t->wtrack[i], n12);
				bad = "spt12-write-protected";
			}
			if (!bad && t->by02[i]) {
				pages++;
				bad = audit_page(vm, t, t->by02[i], d, len);
			}
		}
		if (!bad && pages != t->pages) {
			snprintf(d, len, "%" PRIu64 " SPT02 pages, counted %" PRIu64, pages,
				 t->pages);
			bad = "spt02-count";
		}
	} else {
		for (unsigned k = 0; !bad && k < t->ntouched; k++)
			bad = audit_page(vm, t, t->touched[k], d, len);
	}
	t->ntouched = 0;
	t->touched_overflow = false;
	t->audit_gen++;
	return bad;
}

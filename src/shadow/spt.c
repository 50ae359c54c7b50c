/*
 * spt.c - shadow pages: allocation and the (gfn, role) hash, the reverse
 * map from host frames to the sptes that map them, parent links, zapping,
 * FIFO eviction under the memory cap, and write protection of guest frames
 * that hold shadowed tables.
 *
 * Every spte change goes through spte_set(), which keeps three things in
 * step with the entry itself:
 *   - the rmap: one node per present leaf spte, keyed by the host frame
 *     (4K), 2M chunk or 1G chunk it maps (KVM keeps one rmap per level);
 *   - the parent list of the shadow page a non-leaf spte points at
 *     (KVM's parent_ptes), so that zapping a page can unlink it;
 *   - the TLB: a leaf spte that loses its write right or its frame while it
 *     was writable is flushed by address, so that a stale writable TLB
 *     entry can never bypass write protection (KVM flushes remote TLBs for
 *     the same reason).
 * Unlinking or freeing a shadow table marks the paging-structure caches
 * stale; the exit path flushes them before re-entry.
 *
 * Invariants: those of shadow.h, plus
 *   - by_hfn[hfn - guest_frames] is the page held in host frame hfn;
 *   - a page is in the hash, the FIFO list and by_hfn exactly while it is
 *     alive; lpage_block counts the live indirect pages of each region.
 */
#include <stdlib.h>
#include <string.h>

#include "shadow.h"

/* ---- private helpers ---- */

static unsigned hash_gfn(gfn_t gfn)
{
	return (unsigned)((gfn * UINT64_C(0x9e3779b97f4a7c15)) >> (64 - SHADOW_HASH_BITS));
}

static void *xcalloc(struct vm *vm, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		vm_abort(vm, "simulator out of memory (shadow MMU)");
	return p;
}

static void *xrealloc(struct vm *vm, void *p, size_t size)
{
	void *q = realloc(p, size);
	if (!q)
		vm_abort(vm, "simulator out of memory (shadow MMU)");
	return q;
}

/* Key of host frame hfn in the rmap of 'level'. */
static uint64_t rmap_key(hfn_t hfn, int level)
{
	return hfn >> (9 * (level - 1));
}

static uint32_t *rmap_slot(struct shadow *sh, hfn_t hfn, int level)
{
	uint64_t k = rmap_key(hfn, level);
	if (level < 1 || level > 3 || k >= sh->rmap_len[level])
		vmmu_bug("rmap-range",
			 "leaf spte of level %d maps host frame %#" PRIx64
			 " outside the guest region",
			 level, hfn);
	return &sh->rmap_head[level][k];
}

static void rmap_add(struct shadow *sh, hfn_t hfn, int level, uint64_t spte_hpa)
{
	uint32_t *head = rmap_slot(sh, hfn, level);
	uint32_t n = sh->rnode_free;
	if (n) {
		sh->rnode_free = sh->rnode[n].next;
	} else {
		if (sh->rnode_len == sh->rnode_cap) {
			uint32_t cap = sh->rnode_cap ? sh->rnode_cap * 2 : 4096;
			sh->rnode = xrealloc(sh->vm, sh->rnode, (size_t)cap * sizeof(*sh->rnode));
			sh->rnode_cap = cap;
		}
		n = sh->rnode_len++;
	}
	sh->rnode[n] = (struct rmap_node){.spte = spte_hpa, .next = *head};
	*head = n;
	sh->rnodes_used++;
}

static void rmap_del(struct shadow *sh, hfn_t hfn, int level, uint64_t spte_hpa)
{
	uint32_t *link = rmap_slot(sh, hfn, level);
	while (*link) {
		uint32_t n = *link;
		if (sh->rnode[n].spte == spte_hpa) {
			*link = sh->rnode[n].next;
			sh->rnode[n].next = sh->rnode_free;
			sh->rnode_free = n;
			sh->rnodes_used--;
			return;
		}
		link = &sh->rnode[n].next;
	}
	vmmu_bug("rmap-complete",
		 "leaf spte at %#" PRIx64 " is missing from the rmap of frame %#" PRIx64, spte_hpa,
		 hfn);
}

static void parent_add(struct vm *vm, struct shadow_page *sp, uint64_t spte_hpa)
{
	if (sp->nparents == sp->parents_cap) {
		uint32_t cap = sp->parents_cap ? sp->parents_cap * 2 : 2;
		sp->parents = xrealloc(vm, sp->parents, cap * sizeof(*sp->parents));
		sp->parents_cap = cap;
	}
	sp->parents[sp->nparents++] = spte_hpa;
}

static void parent_del(struct shadow_page *sp, uint64_t spte_hpa)
{
	for (uint32_t i = 0; i < sp->nparents; i++) {
		if (sp->parents[i] == spte_hpa) {
			sp->parents[i] = sp->parents[--sp->nparents];
			return;
		}
	}
	vmmu_bug("sp-parents", "spte at %#" PRIx64 " is not a parent of shadow page %#" PRIx64,
		 spte_hpa, sp->hfn);
}

static void by_hfn_set(struct shadow *sh, hfn_t hfn, struct shadow_page *sp)
{
	uint64_t i = hfn - sh->vm->hm.guest_frames;
	if (i >= sh->by_hfn_len) {
		uint64_t len = sh->by_hfn_len ? sh->by_hfn_len : 1024;
		while (len <= i)
			len *= 2;
		sh->by_hfn = xrealloc(sh->vm, sh->by_hfn, len * sizeof(*sh->by_hfn));
		memset(sh->by_hfn + sh->by_hfn_len, 0,
		       (len - sh->by_hfn_len) * sizeof(*sh->by_hfn));
		sh->by_hfn_len = len;
	}
	sh->by_hfn[i] = sp;
}

static void fifo_append(struct shadow *sh, struct shadow_page *sp)
{
	sp->fifo_prev = sh->fifo_tail;
	sp->fifo_next = NULL;
	if (sh->fifo_tail)
		sh->fifo_tail->fifo_next = sp;
	else
		sh->fifo_head = sp;
	sh->fifo_tail = sp;
}

static void fifo_remove(struct shadow *sh, struct shadow_page *sp)
{
	if (sp->fifo_prev)
		sp->fifo_prev->fifo_next = sp->fifo_next;
	else
		sh->fifo_head = sp->fifo_next;
	if (sp->fifo_next)
		sp->fifo_next->fifo_prev = sp->fifo_prev;
	else
		sh->fifo_tail = sp->fifo_prev;
}

static void hash_remove(struct shadow *sh, struct shadow_page *sp)
{
	struct shadow_page **pp = &sh->hash[hash_gfn(sp->gfn)];
	while (*pp && *pp != sp)
		pp = &(*pp)->hash_next;
	if (!*pp)
		vmmu_bug("sp-hashed", "shadow page of gfn %#" PRIx64 " is not in the hash",
			 sp->gfn);
	*pp = sp->hash_next;
}

static void lpage_account(struct shadow *sh, gfn_t gfn, int delta)
{
	for (int l = 2; l <= 3; l++) {
		uint64_t k = gfn >> (9 * (l - 1));
		if (k < sh->lpage_len[l])
			sh->lpage_block[l][k] = (uint32_t)((int64_t)sh->lpage_block[l][k] + delta);
	}
}

static int va_bits(const struct vm *vm)
{
	return vm->cfg.levels == 5 ? 57 : 48;
}

/* Base of the range a page at 'level' maps around gva, sign bits cleared. */
static gva_t sp_base(const struct vm *vm, int level, gva_t gva)
{
	unsigned span = level_shift(level) + 9;
	uint64_t low = (UINT64_C(1) << va_bits(vm)) - 1;
	uint64_t mask = span >= 64 ? 0 : ~((UINT64_C(1) << span) - 1);
	return gva & mask & low;
}

/* Evict the oldest pages that are neither roots nor on the path being
 * built until there is room for one more (KVM's
 * kvm_mmu_zap_oldest_mmu_pages). Overshoots when nothing is evictable. */
static void make_room(struct vcpu *v)
{
	struct shadow *sh = shadow_of(v->vm);
	while (sh->pages >= sh->cap) {
		struct shadow_page *victim = sh->fifo_head;
		while (victim && (victim->root_count || victim->pin == sh->pin_gen))
			victim = victim->fifo_next;
		if (!victim)
			return;
		TRACE(v->vm, .kind = TR_VMM_OP, .level = victim->role.level,
		      .addr = gfn_to_gpa(victim->gfn).v, .table_addr = sp_hpa(victim).v,
		      .what = "shadow page evicted (memory cap)");
		v->vm->st.shadow_evictions++;
		sp_zap(v, victim);
	}
}

/* ---- API ---- */

int spt_init(struct shadow *sh)
{
	struct vm *vm = sh->vm;
	uint64_t gframes = vm->hm.guest_frames;
	uint64_t nframes = vm->p2m.nframes;
	for (int l = 1; l <= 3; l++) {
		sh->rmap_len[l] = (gframes >> (9 * (l - 1))) + 1;
		sh->rmap_head[l] = calloc(sh->rmap_len[l], sizeof(uint32_t));
		if (!sh->rmap_head[l])
			return -1;
	}
	for (int l = 2; l <= 3; l++) {
		sh->lpage_len[l] = (nframes >> (9 * (l - 1))) + 1;
		sh->lpage_block[l] = calloc(sh->lpage_len[l], sizeof(uint32_t));
		if (!sh->lpage_block[l])
			return -1;
	}
	sh->rnode_len = 1; /* node 0 is the list terminator */
	sh->rnode_cap = 4096;
	sh->rnode = calloc(sh->rnode_cap, sizeof(*sh->rnode));
	if (!sh->rnode)
		return -1;
	sh->pin_gen = 1;
	return 0;
}

void spt_destroy(struct shadow *sh)
{
	struct shadow_page *sp = sh->fifo_head;
	while (sp) {
		struct shadow_page *n = sp->fifo_next;
		free(sp->parents);
		free(sp);
		sp = n;
	}
	sh->fifo_head = sh->fifo_tail = NULL;
	for (int l = 1; l <= 3; l++)
		free(sh->rmap_head[l]);
	for (int l = 2; l <= 3; l++)
		free(sh->lpage_block[l]);
	free(sh->rnode);
	free(sh->by_hfn);
}

struct shadow_page *sp_lookup(struct shadow *sh, gfn_t gfn, struct sp_role role)
{
	for (struct shadow_page *sp = sh->hash[hash_gfn(gfn)]; sp; sp = sp->hash_next)
		if (sp->gfn == gfn && sp_role_eq(sp->role, role))
			return sp;
	return NULL;
}

struct shadow_page *sp_of_hfn(const struct shadow *sh, hfn_t hfn)
{
	uint64_t i = hfn - sh->vm->hm.guest_frames;
	if (hfn < sh->vm->hm.guest_frames || i >= sh->by_hfn_len || !sh->by_hfn[i])
		vmmu_bug("spte-link",
			 "non-leaf spte points at host frame %#" PRIx64
			 " that holds no shadow page",
			 hfn);
	return sh->by_hfn[i];
}

void sp_note_gva(struct vcpu *v, struct shadow_page *sp, gva_t gva)
{
	gva_t base = sp_base(v->vm, sp->role.level, gva);
	if (base != sp->gva)
		sp->gva_multi = true;
}

gva_t sp_entry_gva(const struct vm *vm, const struct shadow_page *sp, unsigned idx)
{
	int bits = va_bits(vm);
	uint64_t va = sp->gva | ((uint64_t)idx << level_shift(sp->role.level));
	return (uint64_t)((int64_t)(va << (64 - bits)) >> (64 - bits));
}

struct shadow_page *sp_get(struct vcpu *v, gfn_t gfn, struct sp_role role, gva_t gva)
{
	struct vm *vm = v->vm;
	struct shadow *sh = shadow_of(vm);
	struct shadow_page *sp = sp_lookup(sh, gfn, role);
	if (sp) {
		/* An unsync page may have missed the guest's invalidations while
		 * it was not linked: bring its entries up to date before it is
		 * linked again (KVM's kvm_sync_page() on lookup). */
		if (sp->unsync)
			sync_refresh_page(v, sp);
		sp_note_gva(v, sp, gva);
		return sp;
	}
	make_room(v);
	/* The frame first: a failed allocation aborts the run, and a frame
	 * lives in host memory, freed with the VM, where a struct not yet
	 * linked anywhere would leak. */
	hfn_t hfn = hostmem_alloc_frame(vm);
	sp = xcalloc(vm, 1, sizeof(*sp));
	sp->gfn = gfn;
	sp->role = role;
	sp->hfn = hfn;
	sp->gva = sp_base(vm, role.level, gva);
	unsigned b = hash_gfn(gfn);
	sp->hash_next = sh->hash[b];
	sh->hash[b] = sp;
	fifo_append(sh, sp);
	by_hfn_set(sh, sp->hfn, sp);
	if (++sh->pages > sh->pages_peak)
		sh->pages_peak = sh->pages;
	if (sh->track)
		sh_touch_page(sh, sp);
	sh_charge_sptes(sh, 1);
	TRACE(vm, .kind = TR_VMM_OP, .level = role.level, .gva = gva, .addr = gfn_to_gpa(gfn).v,
	      .table_addr = sp_hpa(sp).v, .result = role.access,
	      .what = role.direct ? "direct shadow page created (guest large page split)"
				  : "shadow page created (guest table write-protected)");
	if (!role.direct) {
		/* A frame that becomes an upper-level table is no longer the
		 * leaf table its unsync pages shadow (a freed table reused):
		 * they are zapped, as KVM's kvm_mmu_find_shadow_page() does.
		 * Unsync pages of another role stay unsync next to a new leaf
		 * page. Then account_shadowed(): every mapping of the frame
		 * loses its write right and large pages over it are split. */
		for (struct shadow_page *u = sh->hash[hash_gfn(gfn)]; role.level > LVL_PT && u;) {
			struct shadow_page *next = u->hash_next;
			if (u->gfn == gfn && u->unsync) {
				TRACE(vm, .kind = TR_VMM_OP, .level = u->role.level,
				      .addr = gfn_to_gpa(gfn).v, .table_addr = sp_hpa(u).v,
				      .what =
					  "unsync page zapped (its frame is now an upper table)");
				sp_zap(v, u);
				u = sh->hash[hash_gfn(gfn)]; /* the chain changed */
				continue;
			}
			u = next;
		}
		lpage_account(sh, gfn, +1);
		gfn_write_protect(v, gfn);
	}
	return sp;
}

void sp_flush_entry(struct vcpu *v, const struct shadow_page *sp, unsigned idx)
{
	struct vm *vm = v->vm;
	uint64_t n;
	if (!sp->gva_multi) {
		/* Every PCID: the hardware reaches a shadow page under any PCID
		 * that loads a root above it (the guest's PCID for an address
		 * space changes with Linux's dynamic ASIDs, and with KPTI the
		 * kernel half of each PCID holds the direct map), not only under
		 * those it was looked up with (INVVPID type 0 semantics). */
		gva_t va = sp_entry_gva(vm, sp, idx);
		n = tlb_flush_addr_vpid(&v->tlb, v->vpid, va);
		shadow_of(vm)->cyc += vm->cost.invlpg;
		TRACE(vm, .kind = TR_TLB_FLUSH, .gva = va, .result = n,
		      .what = "VMM flush of a write-protected mapping (by address)");
	} else {
		n = tlb_flush_vpid(&v->tlb, v->vpid);
		shadow_of(vm)->cyc += vm->cost.tlb_flush;
		TRACE(vm, .kind = TR_TLB_FLUSH, .result = n,
		      .what = "VMM flush of a write-protected mapping (whole VPID)");
	}
	vm->st.tlb_flushes++;
	vm->st.tlb_entries_flushed += n;
	/* The other vCPUs may cache the same spte: kvm_flush_remote_tlbs()
	 * before this vCPU re-enters (shadow_exit()). */
	shadow_of(vm)->remote_flush = true;
}

void spte_set(struct vcpu *v, struct shadow_page *sp, unsigned idx, uint64_t val)
{
	struct vm *vm = v->vm;
	struct shadow *sh = shadow_of(vm);
	hpa_t a = spte_addr(sp, idx);
	uint64_t old = hpa_read64(vm, a);
	if (old == val)
		return;
	int level = sp->role.level;
	hpa_write64(vm, a, val);
	sh_stored(sh, a.v, old, val);
	sp->npresent += (uint32_t)gpte_present(val) - (uint32_t)gpte_present(old);
	bool new_leaf = gpte_present(val) && spte_leaf(val, level);
	bool old_leaf = gpte_present(old) && spte_leaf(old, level);
	sh->nleaves += (uint64_t)new_leaf - (uint64_t)old_leaf;
	if (sh->track) {
		sh_touch_spte(sh, a.v);
		sh_touch_page(sh, sp);
		if (gpte_present(old) && !old_leaf)
			sh_touch_page(sh, sp_of_hfn(sh, hpa_to_hfn(HPA(pte_frame(old)))));
		if (gpte_present(val) && !new_leaf)
			sh_touch_page(sh, sp_of_hfn(sh, hpa_to_hfn(HPA(pte_frame(val)))));
	}
	if (gpte_present(old)) {
		if (spte_leaf(old, level)) {
			/* need_remote_flush(): the other vCPUs may cache the old
			 * translation when it went away, moved or lost a right. */
			if (!new_leaf || pte_frame(val) != pte_frame(old) ||
			    ((old & GPTE_RW) && !(val & GPTE_RW)) ||
			    ((old & GPTE_US) && !(val & GPTE_US)) ||
			    (!(old & GPTE_NX) && (val & GPTE_NX)))
				sh->remote_flush = true;
			rmap_del(sh, hpa_to_hfn(HPA(pte_frame(old))), level, a.v);
			bool still_writable =
			    new_leaf && (val & GPTE_RW) && pte_frame(val) == pte_frame(old);
			if ((old & GPTE_RW) && !still_writable)
				sp_flush_entry(v, sp, idx);
		} else {
			struct shadow_page *child = sp_of_hfn(sh, hpa_to_hfn(HPA(pte_frame(old))));
			parent_del(child, a.v);
			sh->psc_stale = true;
			if (child->role.direct && child->nparents == 0 && !child->root_count &&
			    !child->zapping)
				sp_zap(v, child);
		}
	}
	if (gpte_present(val)) {
		if (new_leaf)
			rmap_add(sh, hpa_to_hfn(HPA(pte_frame(val))), level, a.v);
		else
			parent_add(vm, sp_of_hfn(sh, hpa_to_hfn(HPA(pte_frame(val)))), a.v);
	}
	TRACE(vm, .kind = TR_VMM_OP, .level = level, .gva = sp_entry_gva(vm, sp, idx),
	      .table_addr = sp_hpa(sp).v, .index = idx, .entry_addr = a.v, .entry = val,
	      .result = old,
	      .what = gpte_present(val) ? (new_leaf ? "spte install" : "spte link") : "spte zap");
}

void sp_zap(struct vcpu *v, struct shadow_page *sp)
{
	struct vm *vm = v->vm;
	struct shadow *sh = shadow_of(vm);
	if (sp == sh->cur.sp)
		vmmu_bug("root-alive", "zapping the current shadow root (gfn %#" PRIx64 ")",
			 sp->gfn);
	sp->zapping = true;
	TRACE(vm, .kind = TR_VMM_OP, .level = sp->role.level, .addr = gfn_to_gpa(sp->gfn).v,
	      .table_addr = sp_hpa(sp).v, .what = "shadow page zapped");
	sh_forget_root(sh, sp);
	for (uint32_t i = 0; i < sh->nprev; i++) {
		if (sh->prev[i].sp == sp) {
			sh->prev[i].sp = NULL;
			sp->root_count--;
		}
	}
	while (sp->nparents) {
		uint64_t pa = sp->parents[sp->nparents - 1];
		struct shadow_page *p = sp_of_hfn(sh, pa >> PAGE_SHIFT);
		spte_set(v, p, (unsigned)((pa & (PAGE_SIZE - 1)) / 8), 0);
	}
	uint64_t present = 0;
	for (unsigned i = 0; i < SPTE_PER_PAGE; i++) {
		if (gpte_present(spte_get(vm, sp, i))) {
			spte_set(v, sp, i, 0);
			present++;
		}
	}
	sh_charge_sptes(sh, present + 1);
	hash_remove(sh, sp);
	if (!sp->role.direct)
		lpage_account(sh, sp->gfn, -1);
	if (sp->unsync) {
		if (sp->unsync_prev)
			sp->unsync_prev->unsync_next = sp->unsync_next;
		else
			sh->unsync_head = sp->unsync_next;
		if (sp->unsync_next)
			sp->unsync_next->unsync_prev = sp->unsync_prev;
		sh->nunsync--;
	}
	fifo_remove(sh, sp);
	by_hfn_set(sh, sp->hfn, NULL);
	hostmem_free_frame(vm, sp->hfn);
	sh->pages--;
	sh->psc_stale = true;
	vm->st.shadow_zaps++;
	free(sp->parents);
	free(sp);
}

unsigned gfn_pages(const struct shadow *sh, gfn_t gfn, struct shadow_page **out, unsigned max)
{
	unsigned n = 0;
	for (struct shadow_page *sp = sh->hash[hash_gfn(gfn)]; sp && n < max; sp = sp->hash_next)
		if (sp->gfn == gfn && !sp->role.direct)
			out[n++] = sp;
	return n;
}

bool gfn_write_protected(const struct shadow *sh, gfn_t gfn)
{
	for (struct shadow_page *sp = sh->hash[hash_gfn(gfn)]; sp; sp = sp->hash_next)
		if (sp->gfn == gfn && !sp->role.direct && !sp->unsync)
			return true;
	return false;
}

bool gfn_shadowed(const struct shadow *sh, gfn_t gfn)
{
	for (struct shadow_page *sp = sh->hash[hash_gfn(gfn)]; sp; sp = sp->hash_next)
		if (sp->gfn == gfn && !sp->role.direct)
			return true;
	return false;
}

bool lpage_disallowed(const struct shadow *sh, gfn_t gfn, int level)
{
	if (level < 2 || level > 3)
		return false;
	uint64_t k = gfn >> (9 * (level - 1));
	return k >= sh->lpage_len[level] || sh->lpage_block[level][k] != 0;
}

void gfn_write_protect(struct vcpu *v, gfn_t gfn)
{
	struct vm *vm = v->vm;
	struct shadow *sh = shadow_of(vm);
	hfn_t hfn = p2m_lookup(vm, gfn);
	if (hfn == INVALID_HFN)
		return; /* never backed, so never mapped */
	/* 4K mappings: clear RW (and the spte's own D) in place; the rmap does
	 * not change. */
	for (uint32_t n = *rmap_slot(sh, hfn, 1); n; n = sh->rnode[n].next) {
		uint64_t a = sh->rnode[n].spte;
		uint64_t s = hpa_read64(vm, HPA(a));
		sh_charge_sptes(sh, 1);
		if (!(s & GPTE_RW))
			continue;
		hpa_write64(vm, HPA(a), s & ~(GPTE_RW | GPTE_D));
		sh_stored(sh, a, s, s & ~(GPTE_RW | GPTE_D));
		if (sh->track)
			sh_touch_spte(sh, a);
		struct shadow_page *sp = sp_of_hfn(sh, a >> PAGE_SHIFT);
		unsigned idx = (unsigned)((a & (PAGE_SIZE - 1)) / 8);
		TRACE(vm, .kind = TR_VMM_OP, .level = 1, .gva = sp_entry_gva(vm, sp, idx),
		      .addr = gfn_to_gpa(gfn).v, .entry_addr = a, .entry = s & ~(GPTE_RW | GPTE_D),
		      .result = s, .what = "spte write-protected (guest table frame)");
		sp_flush_entry(v, sp, idx);
	}
	/* Large mappings over the frame are zapped; the next fault splits them. */
	for (int l = 2; l <= 3; l++) {
		uint32_t n;
		while ((n = *rmap_slot(sh, hfn, l)) != 0) {
			uint64_t a = sh->rnode[n].spte;
			struct shadow_page *sp = sp_of_hfn(sh, a >> PAGE_SHIFT);
			sh_charge_sptes(sh, 1);
			spte_set(v, sp, (unsigned)((a & (PAGE_SIZE - 1)) / 8), 0);
		}
	}
}

/*
 * spt.c - agile paging's shadow pages: the hash of pages by (gfn, level),
 * the reverse maps (guest frame -> leaf sptes that map it, guest table ->
 * switching entries that point at it), parent lists, zaps and write
 * protection. The two reverse maps are keyed by host frame (of the guest
 * region), which the spte itself names.
 *
 * Write protection: a guest frame that holds a shadowed table (prot > 0)
 * is never mapped writable, neither by a leaf spte nor by a TLB entry that
 * a 2D walk filled (the VMM makes the EPT leaf of such a frame read-only
 * for walks that end in the nested part; agile.c strips W from those fills
 * and emulates the stores). When a frame becomes protected, every leaf
 * spte of its rmap loses W and, if a 2D walk ever filled it writable, the
 * vCPU's TLB is flushed.
 *
 * An spte that could be cached by the TLB or the PSCs and goes away sets
 * flush_pending; the exit that ends the handler flushes (agile.c).
 */
#include <stdlib.h>
#include <string.h>

#include "agile.h"

/* ---- private helpers ---- */

static unsigned ag_hash(gfn_t gfn, int level)
{
	return (unsigned)((gfn * 0x9e3779b97f4a7c15ull + (uint64_t)level) >> 52) % AG_HASH_BUCKETS;
}

static void *ag_xrealloc(struct vm *vm, void *p, size_t size)
{
	void *q = realloc(p, size);
	if (!q)
		vm_abort(vm, "out of memory for agile paging's shadow pages");
	return q;
}

static uint32_t rnode_alloc(struct agile *ag, uint64_t spte)
{
	uint32_t i;
	if (ag->rnode_free) {
		i = ag->rnode_free;
		ag->rnode_free = ag->rnode[i].next;
	} else {
		if (ag->rnode_len == ag->rnode_cap) {
			ag->rnode_cap *= 2;
			ag->rnode =
			    ag_xrealloc(ag->vm, ag->rnode, ag->rnode_cap * sizeof(*ag->rnode));
		}
		i = ag->rnode_len++;
	}
	ag->rnode[i] = (struct ag_rnode){.spte = spte, .next = 0};
	return i;
}

static void list_add(struct agile *ag, uint32_t *head, uint64_t spte)
{
	uint32_t i = rnode_alloc(ag, spte);
	ag->rnode[i].next = *head;
	*head = i;
}

static void list_del(struct agile *ag, uint32_t *head, uint64_t spte)
{
	for (uint32_t *pp = head; *pp; pp = &ag->rnode[*pp].next) {
		uint32_t i = *pp;
		if (ag->rnode[i].spte != spte)
			continue;
		*pp = ag->rnode[i].next;
		ag->rnode[i].next = ag->rnode_free;
		ag->rnode_free = i;
		return;
	}
	vmmu_bug("agile-rmap", "spte at hPA %#" PRIx64 " missing from its reverse map", spte);
}

static void parent_add(struct vm *vm, struct ag_page *p, uint64_t spte_hpa)
{
	if (p->nparents == p->parents_cap) {
		p->parents_cap = p->parents_cap ? 2 * p->parents_cap : 4;
		p->parents = ag_xrealloc(vm, p->parents, p->parents_cap * sizeof(*p->parents));
	}
	p->parents[p->nparents++] = spte_hpa;
}

static void parent_del(struct ag_page *p, uint64_t spte_hpa)
{
	for (uint32_t i = 0; i < p->nparents; i++) {
		if (p->parents[i] == spte_hpa) {
			p->parents[i] = p->parents[--p->nparents];
			return;
		}
	}
	vmmu_bug("agile-parents", "link at hPA %#" PRIx64 " missing from its child's parents",
		 spte_hpa);
}

static void by_hfn_set(struct agile *ag, hfn_t hfn, struct ag_page *p)
{
	uint64_t i = hfn - ag->vm->hm.guest_frames;
	if (i >= ag->by_hfn_len) {
		uint64_t n = ag->by_hfn_len ? ag->by_hfn_len : 1024;
		while (n <= i)
			n *= 2;
		ag->by_hfn = ag_xrealloc(ag->vm, ag->by_hfn, n * sizeof(*ag->by_hfn));
		memset(ag->by_hfn + ag->by_hfn_len, 0, (n - ag->by_hfn_len) * sizeof(*ag->by_hfn));
		ag->by_hfn_len = n;
	}
	ag->by_hfn[i] = p;
}

/* Is e a link to a shadow page (present, not a leaf, not a switch)? */
static bool spte_is_link(uint64_t e, int level)
{
	return gpte_present(e) && level > LVL_PT && !(e & AGILE_SPTE_SWITCH);
}

/* The host frame an spte points at: the key of the rmap and switch map
 * (a store to the gpte may already have changed the guest's view). */
static hfn_t spte_hfn(uint64_t e)
{
	return pte_frame(e) >> PAGE_SHIFT;
}

/* A frame starts holding a shadowed table: no writable mapping of it may
 * remain, in sptes or in the TLB. */
static void write_protect(struct vcpu *v, gfn_t gfn)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	hfn_t h = p2m_lookup(vm, gfn);
	for (uint32_t i = h == INVALID_HFN ? 0 : ag->rmap[h]; i; i = ag->rnode[i].next) {
		hpa_t a = HPA(ag->rnode[i].spte);
		uint64_t e = hpa_read64(vm, a);
		ag->cyc += vm->cost.vmm_spte;
		if (e & GPTE_RW) {
			hpa_write64(vm, a, e & ~GPTE_RW);
			ag->flush_pending = true;
		}
	}
	if (ag->w2d_writable[gfn]) {
		ag->w2d_writable[gfn] = 0;
		ag->flush_pending = true;
	}
}

/* ---- API ---- */

int ag_spt_init(struct agile *ag)
{
	uint64_t n = ag->vm->p2m.nframes;
	ag->nframes = n;
	ag->prot = calloc(n, 1);
	ag->is_nested = calloc(n, 1);
	ag->w2d_writable = calloc(n, 1);
	ag->writes = calloc(n, sizeof(*ag->writes));
	ag->rmap = calloc(ag->vm->hm.guest_frames + 1, sizeof(*ag->rmap));
	ag->smap = calloc(ag->vm->hm.guest_frames + 1, sizeof(*ag->smap));
	ag->rnode_cap = 4096;
	ag->rnode_len = 1; /* node 0 ends a list */
	ag->rnode = calloc(ag->rnode_cap, sizeof(*ag->rnode));
	if (!ag->prot || !ag->is_nested || !ag->w2d_writable || !ag->writes || !ag->rmap ||
	    !ag->smap || !ag->rnode)
		return -1;
	return 0;
}

void ag_spt_destroy(struct agile *ag)
{
	struct ag_page *p = ag->all;
	while (p) {
		struct ag_page *n = p->all_next;
		free(p->parents);
		free(p);
		p = n;
	}
	ag->all = NULL;
	free(ag->prot);
	free(ag->is_nested);
	free(ag->w2d_writable);
	free(ag->writes);
	free(ag->rmap);
	free(ag->smap);
	free(ag->rnode);
	free(ag->by_hfn);
	free(ag->nested);
	free(ag->prev);
}

struct ag_page *ag_lookup(struct agile *ag, gfn_t gfn, int level, bool direct, bool dirty)
{
	for (struct ag_page *p = ag->hash[ag_hash(gfn, level)]; p; p = p->hash_next)
		if (p->gfn == gfn && p->level == level && p->direct == direct &&
		    (!direct || p->dirty == dirty))
			return p;
	return NULL;
}

struct ag_page *ag_page_of_hfn(const struct agile *ag, hfn_t hfn)
{
	uint64_t i = hfn - ag->vm->hm.guest_frames;
	return i < ag->by_hfn_len ? ag->by_hfn[i] : NULL;
}

struct ag_page *ag_get(struct vcpu *v, gfn_t gfn, int level, bool direct, bool dirty)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	struct ag_page *p = ag_lookup(ag, gfn, level, direct, dirty);
	if (p) {
		p->pin = ag->pin_gen;
		return p;
	}
	ag_make_room(v);
	p = calloc(1, sizeof(*p));
	if (!p)
		vm_abort(vm, "out of memory for agile paging's shadow pages");
	p->gfn = gfn;
	p->level = (uint8_t)level;
	p->direct = direct;
	p->dirty = direct && dirty;
	p->hfn = hostmem_alloc_frame(vm);
	unsigned b = ag_hash(gfn, level);
	p->hash_next = ag->hash[b];
	ag->hash[b] = p;
	p->all_next = ag->all;
	if (ag->all)
		ag->all->all_prev = p;
	else
		ag->all_tail = p;
	ag->all = p;
	p->pin = ag->pin_gen;
	by_hfn_set(ag, p->hfn, p);
	if (++ag->pages > ag->pages_peak)
		ag->pages_peak = ag->pages;
	ag->cyc += vm->cost.vmm_spte;
	TRACE(vm, .kind = TR_VMM_OP, .dim = DIM_SHADOW, .level = level, .addr = gfn_to_gpa(gfn).v,
	      .table_addr = hfn_to_hpa(p->hfn).v,
	      .what = direct ? "agile: direct shadow page built" : "agile: shadow page built");
	if (!direct) {
		if (ag->prot[gfn]++ == 0)
			write_protect(v, gfn);
		ag->writes[gfn] = 0;
	}
	return p;
}

void ag_spte_set(struct vcpu *v, struct ag_page *p, unsigned idx, uint64_t val)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	hpa_t a = ag_spte_addr(p, idx);
	uint64_t old = hpa_read64(vm, a);
	ag->cyc += vm->cost.vmm_spte;
	if (gpte_present(old)) {
		ag->flush_pending = true;
		if (p->level == LVL_PT)
			list_del(ag, &ag->rmap[spte_hfn(old)], a.v);
		else if (old & AGILE_SPTE_SWITCH)
			list_del(ag, &ag->smap[spte_hfn(old)], a.v);
	}
	hpa_write64(vm, a, val);
	if (gpte_present(val)) {
		if (p->level == LVL_PT)
			list_add(ag, &ag->rmap[spte_hfn(val)], a.v);
		else if (val & AGILE_SPTE_SWITCH)
			list_add(ag, &ag->smap[spte_hfn(val)], a.v);
		else
			parent_add(vm, ag_page_of_hfn(ag, pte_frame(val) >> PAGE_SHIFT), a.v);
	}
	if (spte_is_link(old, p->level)) {
		struct ag_page *c = ag_page_of_hfn(ag, pte_frame(old) >> PAGE_SHIFT);
		parent_del(c, a.v);
		/* An orphan goes, unless it is a root or on the path being
		 * built (which links it next). */
		if (!c->nparents && c != ag->root && !c->root_count && !c->zapping &&
		    c->pin != ag->pin_gen)
			ag_zap(v, c);
	}
}

void ag_zap(struct vcpu *v, struct ag_page *p)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	p->zapping = true;
	TRACE(vm, .kind = TR_VMM_OP, .dim = DIM_SHADOW, .level = p->level,
	      .addr = gfn_to_gpa(p->gfn).v, .table_addr = hfn_to_hpa(p->hfn).v,
	      .what = "agile: shadow page zapped");
	while (p->nparents) {
		uint64_t pa = p->parents[p->nparents - 1];
		struct ag_page *q = ag_page_of_hfn(ag, pa >> PAGE_SHIFT);
		ag_spte_set(v, q, (unsigned)((pa & (PAGE_SIZE - 1)) / 8), 0);
	}
	for (unsigned i = 0; i < 512; i++)
		if (gpte_present(ag_spte_get(vm, p, i)))
			ag_spte_set(v, p, i, 0);
	struct ag_page **pp = &ag->hash[ag_hash(p->gfn, p->level)];
	while (*pp != p)
		pp = &(*pp)->hash_next;
	*pp = p->hash_next;
	if (p->all_prev)
		p->all_prev->all_next = p->all_next;
	else
		ag->all = p->all_next;
	if (p->all_next)
		p->all_next->all_prev = p->all_prev;
	else
		ag->all_tail = p->all_prev;
	if (p->root_count) {
		/* A cached previous root went (its table moved to nested
		 * mode, or the controls changed): drop it from the cache. */
		uint32_t j = 0;
		for (uint32_t i = 0; i < ag->nprev; i++)
			if (ag->prev[i] != p)
				ag->prev[j++] = ag->prev[i];
		for (; j < ag->nprev; j++)
			ag->prev[j] = NULL;
	}
	if (!p->direct)
		ag->prot[p->gfn]--;
	if (p == ag->root)
		ag->root = NULL;
	by_hfn_set(ag, p->hfn, NULL);
	hostmem_free_frame(vm, p->hfn);
	ag->pages--;
	ag->flush_pending = true;
	vm->st.shadow_zaps++;
	free(p->parents);
	free(p);
}

void ag_make_room(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	struct ag_page *p = ag->all_tail;
	while (ag->pages >= ag->cap && p) {
		struct ag_page *prev = p->all_prev;
		if (p != ag->root && !p->root_count && p->pin != ag->pin_gen && !p->zapping) {
			TRACE(vm, .kind = TR_VMM_OP, .dim = DIM_SHADOW, .level = p->level,
			      .addr = gfn_to_gpa(p->gfn).v,
			      .what = "agile: shadow page evicted (cap)");
			vm->st.shadow_evictions++;
			ag_zap(v, p);
			/* The zap may have taken orphans with it, prev among
			 * them: start again from the oldest. */
			p = ag->all_tail;
			continue;
		}
		p = prev;
	}
}

unsigned ag_zap_gfn(struct vcpu *v, gfn_t gfn)
{
	struct agile *ag = agile_of(v->vm);
	unsigned n = 0;
	for (int l = 1; l <= MAX_LEVELS; l++) {
		struct ag_page *p = ag_lookup(ag, gfn, l, false, false);
		if (p) {
			ag_zap(v, p);
			n++;
		}
	}
	return n;
}

void ag_drop_switches(struct vcpu *v, gfn_t gfn)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	hfn_t h = p2m_lookup(vm, gfn);
	if (h == INVALID_HFN)
		return;
	while (ag->smap[h]) {
		uint64_t pa = ag->rnode[ag->smap[h]].spte;
		struct ag_page *q = ag_page_of_hfn(ag, pa >> PAGE_SHIFT);
		ag_spte_set(v, q, (unsigned)((pa & (PAGE_SIZE - 1)) / 8), 0);
	}
}

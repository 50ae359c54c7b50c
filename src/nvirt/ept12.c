/*
 * ept12.c - the L1 hypervisor's EPT12 (L2 gPA -> L1 gPA), and L0's view of
 * it: its software walk, its write protection.
 *
 * EPT12 lives in L1's own memory (nvirt.h: L1 gPA == hPA there) and has
 * the real EPT entry format:
 *   non-leaf  L1 gPA of the next table | R W X
 *   leaf      L1 gPA of the page      | R W X | WB | ignore-PAT | PS (2M, 1G)
 * L1 writes it as its own KVM's tdp MMU would on an EPT violation, with
 * leaves as large as its host page size allows (L1's THP: cfg.host_page).
 * L0 reads it in software (ept_walk_addr()) and write-protects the tables
 * it built EPT02 from (account_shadowed()): a store by L1 to one of them is
 * an EPT violation on EPT01, an exit that L0 emulates (kvm_mmu_track_write()
 * zaps the EPT02 entries the store changes). KVM may unsync a 4K shadow
 * page instead of write-protecting it (mmu_try_to_unsync_pages()); this
 * model keeps every EPT12 table write-protected.
 *
 * Sections: private helpers, API, audit.
 */
#include <stdio.h>
#include <stdlib.h>

#include "nvirt.h"

/* ---- private helpers ---- */

static uint8_t *nv_tab(struct vm *vm, struct nvirt *nv, uint64_t table_hpa)
{
	uint64_t i = (table_hpa >> PAGE_SHIFT) - vm->hm.guest_frames;
	if (i >= nv->tab_len) {
		uint64_t n = nv->tab_len ? nv->tab_len : 64;
		while (n <= i)
			n *= 2;
		uint8_t *t = realloc(nv->tab, n);
		if (!t)
			vm_abort(vm, "out of memory for the EPT12 bookkeeping");
		for (uint64_t k = nv->tab_len; k < n; k++)
			t[k] = 0;
		nv->tab = t;
		nv->tab_len = n;
	}
	return &nv->tab[i];
}

static uint64_t nv_alloc_table(struct vm *vm, struct nvirt *nv)
{
	uint64_t t = hfn_to_hpa(hostmem_alloc_frame(vm)).v;
	*nv_tab(vm, nv, t) = NV_TAB_EPT12;
	if (++nv->ept12_pages > nv->ept12_pages_peak)
		nv->ept12_pages_peak = nv->ept12_pages;
	return t;
}

static bool nv_leaf(uint64_t e, int level)
{
	return level == LVL_PT || ((level == LVL_PD || level == LVL_PDPT) && (e & EPTE_PS));
}

/* The largest EPT12 leaf, at most l1_page, whose aligned range around gfn
 * lies inside L2's RAM. */
static enum page_size nv_leaf_size(const struct vm *vm, const struct nvirt *nv, gfn_t gfn)
{
	for (enum page_size s = nv->l1_page; s > PG_4K; s--) {
		uint64_t n = page_bytes(s) >> PAGE_SHIFT;
		if ((gfn & ~(n - 1)) + n <= vm->p2m.nframes)
			return s;
	}
	return PG_4K;
}

/*
 * One store by L1 to an EPT12 entry. When L0 write-protects the table, the
 * store exits: L0 emulates it and, when it changes a present entry, zaps
 * the EPT02 entries built from it (kvm_mmu_track_write()).
 */
static void nv_ept12_store(struct vcpu *v, struct nvirt *nv, uint64_t table, int level,
			   unsigned idx, uint64_t e, gfn_t gfn)
{
	struct vm *vm = v->vm;
	hpa_t ea = HPA(table + 8u * idx);
	uint64_t old = hpa_read64(vm, ea);
	hpa_write64(vm, ea, e);
	vm->st.ept12_writes++;
	nv_l1_work(vm, vm->cost.vmm_spte);
	bool wp = *nv_tab(vm, nv, table) & NV_TAB_WP;
	TRACE(vm, .kind = TR_VMM_OP, .dim = DIM_HOST, .entry_addr = ea.v, .entry = e,
	      .addr = gfn_to_gpa(gfn).v, .cycles = vm->cost.vmm_spte,
	      .what = wp ? "L1: EPT12 store to a write-protected table (exits to L0)"
			 : "L1: EPT12 store");
	if (!wp)
		return;
	if (epte_present(old)) {
		/* The store changes a mapping EPT02 may hold: zap every EPT02
		 * leaf inside the range the entry covers. */
		uint64_t n = page_bytes(level_page_size(level)) >> PAGE_SHIFT;
		for (gfn_t g = gfn & ~(n - 1); g < (gfn & ~(n - 1)) + n;) {
			int l = nested_ept_unmap(v, nv->ns, g);
			g += l ? page_bytes(level_page_size(l)) >> PAGE_SHIFT : 1;
		}
	}
	nv->last_gfn = gfn;
	vm_exit(v, EXIT_EPT_VIOLATION, &vm->st.exits_l1, vm->cost.vmm_pt_write);
}

static void nv_free_table(struct vm *vm, struct nvirt *nv, uint64_t table, int level)
{
	if (level > LVL_PT) {
		for (unsigned i = 0; i < 512; i++) {
			uint64_t e = hpa_read64(vm, HPA(table + 8u * i));
			if (epte_present(e) && !nv_leaf(e, level))
				nv_free_table(vm, nv, pte_frame(e), level - 1);
		}
	}
	*nv_tab(vm, nv, table) = 0;
	hostmem_free_frame(vm, hpa_to_hfn(HPA(table)));
}

/* ---- API ---- */

int nv_ept12_init(struct vm *vm, struct nvirt *nv)
{
	nv->levels = vm->cfg.ept_levels;
	nv->l1_page = vm->cfg.host_page;
	nv->ept12_root = nv_alloc_table(vm, nv);
	nv->eptp12 = nv->ept12_root | EPTP_MT_WB | ((uint64_t)(nv->levels - 1) << EPTP_WALK_SHIFT);
	return 0;
}

void nv_ept12_destroy(struct vm *vm, struct nvirt *nv)
{
	if (nv->ept12_root)
		nv_free_table(vm, nv, nv->ept12_root, nv->levels);
	nv->ept12_root = 0;
	free(nv->tab);
	nv->tab = NULL;
	nv->tab_len = 0;
}

int nv_ept12_walk(struct vm *vm, struct nvirt *nv, gpa_t gpa, struct nv_ept12_walk *w)
{
	uint64_t table = nv->ept12_root;
	nv->l0_walks++;
	w->leaf = 0;
	for (int l = nv->levels; l >= LVL_PT; l--) {
		hpa_t ea = HPA(table + 8u * pt_index(gpa.v, l));
		int cl;
		vm_vmm_walk_ref(vm, ea, &cl);
		uint64_t e = hpa_read64(vm, ea);
		w->table[l] = table;
		w->stop = l;
		TRACE(vm, .kind = TR_VMM_OP, .dim = DIM_HOST, .level = l, .host_level = l,
		      .addr = gpa.v, .table_addr = table, .index = pt_index(gpa.v, l),
		      .entry_addr = ea.v, .entry = e, .cache_level = cl,
		      .what = "L0: software walk of EPT12 (ept_walk_addr)");
		if (!epte_present(e))
			return 0;
		if (nv_leaf(e, l)) {
			uint64_t off = gpa.v & (page_bytes(level_page_size(l)) - 1);
			w->l1_gpa =
			    GPA((e & PTE_FRAME_MASK & ~(page_bytes(level_page_size(l)) - 1)) + off);
			w->leaf = l;
			return l;
		}
		table = pte_frame(e);
	}
	return 0;
}

int nv_ept12_map(struct vcpu *v, struct nvirt *nv, gfn_t gfn)
{
	struct vm *vm = v->vm;
	enum page_size size = nv_leaf_size(vm, nv, gfn);
	int leaf_level = (int)size + 1;
	uint64_t gpa = gfn_to_gpa(gfn).v;
	uint64_t table = nv->ept12_root;
	for (int l = nv->levels; l > leaf_level; l--) {
		unsigned idx = pt_index(gpa, l);
		uint64_t e = hpa_read64(vm, HPA(table + 8u * idx));
		if (!epte_present(e)) {
			uint64_t t = nv_alloc_table(vm, nv);
			e = t | EPTE_RWX;
			nv_ept12_store(v, nv, table, l, idx, e, gfn);
		} else if (nv_leaf(e, l)) {
			vmmu_bug("ept12-leaf-size",
				 "L2 gPA %#" PRIx64 " needs a level-%d EPT12 leaf "
				 "but a level-%d leaf covers it",
				 gpa, leaf_level, l);
		}
		table = pte_frame(e);
	}
	unsigned idx = pt_index(gpa, leaf_level);
	if (epte_present(hpa_read64(vm, HPA(table + 8u * idx))))
		return leaf_level;
	/* L2's RAM is one memslot at the same L1 addresses (nvirt.h). */
	uint64_t base = gpa & ~(page_bytes(size) - 1);
	uint64_t leaf =
	    base | EPTE_RWX | EPTE_MT_WB | EPTE_IPAT | (leaf_level > LVL_PT ? EPTE_PS : 0);
	nv_ept12_store(v, nv, table, leaf_level, idx, leaf, gfn);
	nv->ept12_leaves++;
	return leaf_level;
}

int nv_ept12_unmap(struct vcpu *v, struct nvirt *nv, gfn_t gfn)
{
	struct vm *vm = v->vm;
	uint64_t gpa = gfn_to_gpa(gfn).v;
	uint64_t table = nv->ept12_root;
	for (int l = nv->levels; l >= LVL_PT; l--) {
		unsigned idx = pt_index(gpa, l);
		uint64_t e = hpa_read64(vm, HPA(table + 8u * idx));
		if (!epte_present(e))
			return 0;
		if (nv_leaf(e, l)) {
			nv_ept12_store(v, nv, table, l, idx, 0, gfn);
			nv->ept12_leaves--;
			return l;
		}
		table = pte_frame(e);
	}
	return 0;
}

void nv_ept12_protect(struct vm *vm, struct nvirt *nv, const struct nv_ept12_walk *w)
{
	for (int l = nv->levels; l >= w->leaf; l--) {
		uint8_t *t = nv_tab(vm, nv, w->table[l]);
		if (!(*t & NV_TAB_WP)) {
			*t |= NV_TAB_WP;
			nv->ept12_wp_pages++;
		}
	}
}

void nv_ept12_unprotect_all(struct vm *vm, struct nvirt *nv)
{
	(void)vm;
	for (uint64_t i = 0; i < nv->tab_len; i++)
		nv->tab[i] &= (uint8_t)~NV_TAB_WP;
	nv->ept12_wp_pages = 0;
}

/* ---- audit ---- */

struct nv_audit_ctx {
	struct vm *vm;
	struct nvirt *nv;
	uint64_t pages, leaves;
	char *detail;
	size_t len;
};

static const char *nv_audit_table(struct nv_audit_ctx *c, uint64_t table, int level)
{
	struct vm *vm = c->vm;
	c->pages++;
	uint64_t i0 = (table >> PAGE_SHIFT) - vm->hm.guest_frames;
	if (table >> PAGE_SHIFT < vm->hm.guest_frames || i0 >= c->nv->tab_len ||
	    !(c->nv->tab[i0] & NV_TAB_EPT12)) {
		snprintf(c->detail, c->len,
			 "EPT12 table at %#" PRIx64 " is not in L1's memory "
			 "or not recorded as an EPT12 table",
			 table);
		return "ept12-table-recorded";
	}
	for (unsigned i = 0; i < 512; i++) {
		uint64_t e = hpa_read64(vm, HPA(table + 8u * i));
		if (!epte_present(e))
			continue;
		if (nv_leaf(e, level)) {
			c->leaves++;
			continue;
		}
		const char *bad = nv_audit_table(c, pte_frame(e), level - 1);
		if (bad)
			return bad;
	}
	return NULL;
}

const char *nv_ept12_audit(struct vm *vm, struct nvirt *nv, char *detail, size_t len)
{
	struct nv_audit_ctx c = {.vm = vm, .nv = nv, .detail = detail, .len = len};
	const char *bad = nv_audit_table(&c, nv->ept12_root, nv->levels);
	if (bad)
		return bad;
	uint64_t tables = 0, wp = 0;
	for (uint64_t i = 0; i < nv->tab_len; i++) {
		tables += (nv->tab[i] & NV_TAB_EPT12) != 0;
		wp += (nv->tab[i] & NV_TAB_WP) != 0;
		if ((nv->tab[i] & NV_TAB_WP) && !(nv->tab[i] & NV_TAB_EPT12)) {
			snprintf(detail, len,
				 "VMM frame %#" PRIx64 " write-protected but not an "
				 "EPT12 table",
				 vm->hm.guest_frames + i);
			return "ept12-wp-only-tables";
		}
	}
	if (c.pages != nv->ept12_pages || tables != nv->ept12_pages) {
		snprintf(detail, len,
			 "%" PRIu64 " EPT12 tables reachable, %" PRIu64 " recorded, %" PRIu64
			 " counted",
			 c.pages, tables, nv->ept12_pages);
		return "ept12-pages-counted";
	}
	if (c.leaves != nv->ept12_leaves || wp != nv->ept12_wp_pages) {
		snprintf(detail, len,
			 "%" PRIu64 " EPT12 leaves (%" PRIu64 " counted), %" PRIu64
			 " write-protected tables (%" PRIu64 " counted)",
			 c.leaves, nv->ept12_leaves, wp, nv->ept12_wp_pages);
		return "ept12-leaves-counted";
	}
	return NULL;
}

const char *nv_audit_gfn(struct vm *vm, struct nvirt *nv, gfn_t gfn, char *detail, size_t len)
{
	gpa_t gpa = gfn_to_gpa(gfn);
	int l02 = nested_ept_level(vm, nv->ns, gpa);
	if (!l02)
		return NULL;
	/* A walk without charges: an audit changes nothing. */
	uint64_t table = nv->ept12_root;
	for (int l = nv->levels; l >= LVL_PT; l--) {
		uint64_t e = hpa_read64(vm, HPA(table + 8u * pt_index(gpa.v, l)));
		uint64_t i = (table >> PAGE_SHIFT) - vm->hm.guest_frames;
		if (i >= nv->tab_len || !(nv->tab[i] & NV_TAB_WP)) {
			snprintf(detail, len,
				 "EPT02 maps L2 gfn %#" PRIx64 " but the level-%d EPT12 "
				 "table on its path (%#" PRIx64 ") is not write-protected",
				 gfn, l, table);
			return "ept12-path-write-protected";
		}
		if (!epte_present(e))
			break;
		if (nv_leaf(e, l)) {
			if (l < l02) {
				snprintf(detail, len,
					 "EPT02 maps L2 gfn %#" PRIx64 " with a level-%d "
					 "leaf, EPT12 with a level-%d one",
					 gfn, l02, l);
				return "ept02-within-ept12";
			}
			if ((e & PTE_FRAME_MASK & ~(page_bytes(level_page_size(l)) - 1)) !=
			    (gpa.v & ~(page_bytes(level_page_size(l)) - 1))) {
				snprintf(detail, len,
					 "EPT12 maps L2 gfn %#" PRIx64 " away from its "
					 "memslot address",
					 gfn);
				return "ept12-memslot";
			}
			return NULL;
		}
		table = pte_frame(e);
	}
	snprintf(detail, len, "EPT02 maps L2 gfn %#" PRIx64 " (level %d) but EPT12 does not", gfn,
		 l02);
	return "ept02-within-ept12";
}

/*
 * ept.c - the EPT tables: built by the VMM in host memory, in the real
 * entry format, filled lazily when the 2D walker raises an EPT violation.
 *
 * A guest-physical address through a 4-level EPT (5-level adds bits 56:48):
 *
 *   63    48 47   39 38   30 29   21 20   12 11         0
 *  +--------+-------+-------+-------+-------+------------+
 *  |   0    | PML4  | PDPT  |  PD   |  PT   |   offset   |
 *  +--------+-------+-------+-------+-------+------------+
 *                           ^ 1G leaf ^ 2M leaf ^ 4K leaf
 *
 * Entries the VMM writes (SDM Vol. 3C §29.3.2, tables 29-1 to 29-6):
 *   non-leaf  table frame | R W X
 *   leaf      page frame  | R W X | memory type WB (6) | ignore-PAT | PS (2M, 1G)
 * A and D start clear; the walker sets them when the EPTP enables them.
 *
 * Host page size: a leaf is as large as the p2m chunk that backs it is
 * contiguous and aligned, and at most cfg.host_page. The shared p2m policy
 * backs whole host-page chunks contiguously and aligned, so in practice
 * every leaf has the configured size; the check keeps that an observed fact
 * rather than an assumption.
 *
 * Sections: private helpers, API, audit.
 */
#include <stdio.h>

#include "nested.h"

/* ---- private helpers ---- */

static void ept_count_page(struct nested_state *ns)
{
	if (++ns->ept_pages > ns->ept_pages_peak)
		ns->ept_pages_peak = ns->ept_pages;
}

/* The largest leaf size, at most the p2m chunk, whose gPA range around gfn
 * the p2m backs with one contiguous, aligned run of host frames. */
static enum page_size ept_leaf_size(const struct vm *vm, gfn_t gfn)
{
	enum page_size top = p2m_chunk_size(vm);
	if (top > vm->cfg.host_page)
		top = vm->cfg.host_page;
	for (enum page_size s = top; s > PG_4K; s--) {
		uint64_t n = page_bytes(s) >> PAGE_SHIFT;
		gfn_t g0 = gfn & ~(n - 1);
		if (g0 + n > vm->p2m.nframes)
			continue;
		hfn_t h0 = p2m_lookup(vm, g0);
		if (h0 == INVALID_HFN || (h0 & (n - 1)))
			continue;
		uint64_t i;
		for (i = 1; i < n; i++)
			if (p2m_lookup(vm, g0 + i) != h0 + i)
				break;
		if (i == n)
			return s;
	}
	return PG_4K;
}

static void ept_free_table(struct vm *vm, uint64_t table, int level)
{
	if (level > LVL_PT) {
		for (unsigned i = 0; i < 512; i++) {
			uint64_t e = hpa_read64(vm, HPA(table + 8u * i));
			if (epte_present(e) && !epte_leaf(e, level))
				ept_free_table(vm, pte_frame(e), level - 1);
		}
	}
	hostmem_free_frame(vm, hpa_to_hfn(HPA(table)));
}

/* ---- API ---- */

int ept_init(struct vm *vm, struct nested_state *ns)
{
	if (ns->levels != 4 && ns->levels != 5) {
		snprintf(vm->err, sizeof(vm->err), "EPT walk length must be 4 or 5, not %d",
			 ns->levels);
		return -1;
	}
	hfn_t root = hostmem_alloc_frame(vm);
	ept_count_page(ns);
	ns->ep4ta = hfn_to_hpa(root).v;
	ns->eptp = ns->ep4ta | EPTP_MT_WB | ((uint64_t)(ns->levels - 1) << EPTP_WALK_SHIFT) |
		   (ns->ept_ad ? EPTP_AD : 0);
	return 0;
}

void ept_destroy(struct vm *vm, struct nested_state *ns)
{
	if (!ns->ep4ta)
		return;
	ept_free_table(vm, ns->ep4ta, ns->levels);
	ns->ep4ta = 0;
	ns->ept_pages = 0;
}

int ept_map_gfn(struct vm *vm, struct nested_state *ns, gfn_t gfn)
{
	return ept_map_gfn_max(vm, ns, gfn, PG_1G);
}

int ept_map_gfn_max(struct vm *vm, struct nested_state *ns, gfn_t gfn, enum page_size max)
{
	enum page_size size = PG_4K;
	if (ns->identity) {
		if (gfn >= vm->hm.nframes)
			return 0;
		/* The largest aligned run inside host memory, at most max
		 * and the host page size. */
		size = max < vm->cfg.host_page ? max : vm->cfg.host_page;
		while (size > PG_4K &&
		       (gfn | ((page_bytes(size) >> PAGE_SHIFT) - 1)) >= vm->hm.nframes)
			size--;
	} else {
		if (p2m_ensure(vm, gfn) == INVALID_HFN)
			return 0;
		size = ept_leaf_size(vm, gfn);
		if (size > max)
			size = max;
	}
	int leaf_level = (int)size + 1;
	uint64_t gpa = gfn_to_gpa(gfn).v;
	uint64_t table = ns->ep4ta;
	for (int l = ns->levels; l > leaf_level; l--) {
		hpa_t ea = HPA(table + 8u * pt_index(gpa, l));
		uint64_t e = hpa_read64(vm, ea);
		if (!epte_present(e)) {
			hfn_t t = hostmem_alloc_frame(vm);
			ept_count_page(ns);
			e = hfn_to_hpa(t).v | EPTE_RWX;
			hpa_write64(vm, ea, e);
		} else if (epte_leaf(e, l)) {
			vmmu_bug("ept-leaf-size",
				 "gPA %#" PRIx64
				 " needs a level-%d leaf but a level-%d leaf covers it",
				 gpa, leaf_level, l);
		}
		table = pte_frame(e);
	}
	hpa_t ea = HPA(table + 8u * pt_index(gpa, leaf_level));
	if (epte_present(hpa_read64(vm, ea)))
		return leaf_level; /* already mapped: nothing to do */
	uint64_t n = page_bytes(size) >> PAGE_SHIFT;
	hfn_t base = ns->identity ? gfn & ~(n - 1) : p2m_lookup(vm, gfn & ~(n - 1));
	uint64_t leaf = hfn_to_hpa(base).v | EPTE_RWX | EPTE_MT_WB | EPTE_IPAT |
			(leaf_level > LVL_PT ? EPTE_PS : 0);
	hpa_write64(vm, ea, leaf);
	ns->ept_leaves[size]++;
	TRACE(vm, .kind = TR_VMM_OP, .dim = DIM_HOST, .level = leaf_level, .host_level = leaf_level,
	      .addr = gpa & ~(page_bytes(size) - 1), .entry_addr = ea.v, .entry = leaf,
	      .result = hfn_to_hpa(base).v, .what = "EPT leaf installed");
	return leaf_level;
}

int ept_lookup(struct vm *vm, const struct nested_state *ns, gpa_t gpa, hpa_t *hpa)
{
	uint64_t table = ns->ep4ta;
	for (int l = ns->levels; l >= LVL_PT; l--) {
		uint64_t e = hpa_read64(vm, HPA(table + 8u * pt_index(gpa.v, l)));
		if (!epte_present(e))
			return 0;
		if (epte_leaf(e, l)) {
			uint64_t off = gpa.v & (page_bytes(level_page_size(l)) - 1);
			*hpa = HPA(epte_leaf_frame(e, l) + off);
			return l;
		}
		table = pte_frame(e);
	}
	return 0;
}

hpa_t ept_entry_addr(struct vm *vm, const struct nested_state *ns, gpa_t gpa, int level)
{
	uint64_t table = ns->ep4ta;
	for (int l = ns->levels; l > level; l--) {
		uint64_t e = hpa_read64(vm, HPA(table + 8u * pt_index(gpa.v, l)));
		if (!epte_present(e) || epte_leaf(e, l))
			return HPA(0);
		table = pte_frame(e);
	}
	return HPA(table + 8u * pt_index(gpa.v, level));
}

/* ---- audit ---- */

struct ept_audit_ctx {
	struct vm *vm;
	const struct nested_state *ns;
	uint64_t pages;
	uint64_t leaves[PG_NR];
	char *detail;
	size_t len;
};

static const char *ept_audit_table(struct ept_audit_ctx *c, uint64_t table, int level,
				   uint64_t gpa_base)
{
	struct vm *vm = c->vm;
	c->pages++;
	for (unsigned i = 0; i < 512; i++) {
		uint64_t ea = table + 8u * i;
		uint64_t e = hpa_read64(vm, HPA(ea));
		if (!epte_present(e))
			continue;
		uint64_t gpa = gpa_base + ((uint64_t)i << level_shift(level));
		const char *why = ept_entry_misconfig(c->ns, e, level);
		if (why) {
			snprintf(c->detail, c->len,
				 "EPT level-%d entry %#" PRIx64 " at hPA %#" PRIx64 ": %s", level,
				 e, ea, why);
			return "ept-entry-well-formed";
		}
		if ((e & EPTE_RWX) != EPTE_RWX) {
			snprintf(c->detail, c->len,
				 "EPT level-%d entry %#" PRIx64 " for gPA %#" PRIx64
				 " does not grant RWX",
				 level, e, gpa);
			return "ept-rights-rwx";
		}
		if (!epte_leaf(e, level)) {
			uint64_t f = pte_frame(e) >> PAGE_SHIFT;
			if (f < vm->hm.guest_frames || f >= vm->hm.nframes) {
				snprintf(c->detail, c->len,
					 "EPT table frame %#" PRIx64 " outside the VMM region", f);
				return "ept-table-in-vmm-region";
			}
			const char *bad = ept_audit_table(c, pte_frame(e), level - 1, gpa);
			if (bad)
				return bad;
			continue;
		}
		enum page_size ps = level_page_size(level);
		uint64_t n = page_bytes(ps) >> PAGE_SHIFT;
		gfn_t g0 = gpa >> PAGE_SHIFT;
		hfn_t h0 = epte_leaf_frame(e, level) >> PAGE_SHIFT;
		c->leaves[ps]++;
		if (epte_memtype(e) != 6 || !(e & EPTE_IPAT)) {
			snprintf(c->detail, c->len,
				 "EPT leaf %#" PRIx64 " for gPA %#" PRIx64
				 " is not WB with ignore-PAT",
				 e, gpa);
			return "ept-leaf-wb";
		}
		if (c->ns->identity) {
			if (h0 != g0 || g0 + n > vm->hm.nframes) {
				snprintf(c->detail, c->len,
					 "identity EPT maps gfn %#" PRIx64 " to hfn %#" PRIx64
					 " with a %s leaf",
					 g0, h0, page_size_name(ps));
				return "ept-identity";
			}
			continue;
		}
		if (g0 + n > vm->p2m.nframes) {
			snprintf(c->detail, c->len,
				 "EPT leaf for gPA %#" PRIx64 " (%s) runs past guest memory", gpa,
				 page_size_name(ps));
			return "ept-leaf-in-guest-memory";
		}
		for (uint64_t k = 0; k < n; k++) {
			if (p2m_lookup(vm, g0 + k) != h0 + k) {
				snprintf(c->detail, c->len,
					 "EPT maps gfn %#" PRIx64 " to hfn %#" PRIx64
					 " but the p2m says %#" PRIx64,
					 g0 + k, h0 + k, p2m_lookup(vm, g0 + k));
				return "ept-agrees-with-p2m";
			}
		}
	}
	return NULL;
}

const char *ept_audit(struct vm *vm, struct nested_state *ns, char *detail, size_t len)
{
	struct ept_audit_ctx c = {.vm = vm, .ns = ns, .detail = detail, .len = len};
	const char *bad = ept_audit_table(&c, ns->ep4ta, ns->levels, 0);
	if (bad)
		return bad;
	if (c.pages != ns->ept_pages) {
		snprintf(detail, len, "%" PRIu64 " EPT table pages reachable, %" PRIu64 " counted",
			 c.pages, ns->ept_pages);
		return "ept-pages-counted";
	}
	for (int s = 0; s < PG_NR; s++) {
		if (c.leaves[s] != ns->ept_leaves[s]) {
			snprintf(detail, len,
				 "%" PRIu64 " %s EPT leaves present, %" PRIu64 " counted",
				 c.leaves[s], page_size_name((enum page_size)s), ns->ept_leaves[s]);
			return "ept-leaves-counted";
		}
	}
	/* Cached guest-physical state agrees with the tables. */
	for (uint32_t i = 0; i < ns->ntlb.n; i++) {
		if (!ns->ntlb.key[i])
			continue;
		const struct ntlb_entry *t = &ns->ntlb.e[i];
		hpa_t h;
		int l = ept_lookup(vm, ns, t->gpa, &h);
		if (t->ep4ta == ns->ep4ta &&
		    (l == 0 || h.v != t->hpa.v || level_page_size(l) != (enum page_size)t->size)) {
			snprintf(detail, len,
				 "nested TLB maps gPA %#" PRIx64 " to %#" PRIx64
				 ", the EPT to %#" PRIx64 " (level %d)",
				 t->gpa.v, t->hpa.v, h.v, l);
			return "ntlb-coherent";
		}
	}
	for (uint32_t i = 0; i < ns->pwc.n; i++) {
		if (!ns->pwc.key[i] || ns->pwc.e[i].dim != PWC_HOST)
			continue;
		uint64_t ea = ns->pwc.key[i] & ~UINT64_C(7);
		uint64_t m = hpa_read64(vm, HPA(ea));
		if ((m ^ ns->pwc.e[i].value) & ~(EPTE_A | EPTE_D)) {
			snprintf(detail, len,
				 "2D PWC holds %#" PRIx64 " for the EPT entry at %#" PRIx64
				 ", memory %#" PRIx64,
				 ns->pwc.e[i].value, ea, m);
			return "pwc-host-coherent";
		}
	}
	return NULL;
}

/*
 * pgtable.c - the guest kernel's page tables: entries read and written
 * through the vCPU, table allocation, range walks and table freeing.
 *
 * Every access to a table entry after boot is an 8-byte kernel-mode
 * cpu_load to the entry's direct-map address, or a store through the
 * paravirt seam (pvops.c): natively a cpu_store to that address, so the MMU
 * mode sees it exactly as it would see a kernel's store (shadow mode
 * write-protects guest tables and traps these stores); paravirtualized an
 * mmu_update hypercall (xen.c). Leaf-table loops run in lazy-MMU mode, as
 * Linux's copy_pte_range(), zap_pte_range() and change_pte_range() do. The previous
 * privilege is saved and restored around each access: the fault handler
 * runs in the middle of a user access.
 *
 * Levels are numbered PT = 1, PD = 2, PDPT = 3, PML4 = 4, PML5 = 5; the top
 * table of a process is at level cfg.levels. pt_index(va, level) picks the
 * 9-bit field of va for a level:
 *
 *   63    57 56  48 47  39 38  30 29  21 20  12 11       0
 *  +--------+------+------+------+------+------+----------+
 *  | sign   | PML5 | PML4 | PDPT |  PD  |  PT  |  offset  |
 *  +--------+------+------+------+------+------+----------+
 *
 * Invariants:
 *   - a user table's parent entry is P|RW|US (A set only by the walker);
 *     permissions are restricted at the leaf alone, except that with KPTI
 *     a kernel PGD's user-half entries also carry NX (kpti.c);
 *   - every mapped user leaf lies inside a VMA of its process, and every
 *     user table below the top one covers part of some VMA (munmap frees
 *     the tables whose span it empties), so walking the VMA ranges reaches
 *     every user table.
 */
#include <errno.h>

#include "gmm-internal.h"
#include "../core/cpu.h"

/* ---- entry access ---- */

uint64_t gmm_pte_read(struct gmm *g, gpa_t entry)
{
	struct vcpu *v = g->vm->cur;
	bool user = v->user;
	cpu_set_user(v, false);
	uint64_t e = cpu_load(v, gmm_kva(g->vm, entry), 8);
	cpu_set_user(v, user);
	return g->pv->pte_val ? g->pv->pte_val(g, e, 0) : e;
}

void gmm_pte_write(struct gmm *g, gpa_t entry, uint64_t val, int level)
{
	struct vm *vm = g->vm;
	struct vcpu *v = vm->cur;
	bool user = v->user;
	if (gmm_kpti_user_top_slot(g, entry, level))
		val = gmm_kpti_set_user_pgtbl(g, entry, val);
	TRACE(vm, .kind = TR_GUEST_OP, .level = level, .addr = entry.v, .entry_addr = entry.v,
	      .entry = val, .what = "guest pte write");
	cpu_set_user(v, false);
	g->pv->set_pte(g, entry, val, level);
	cpu_set_user(v, user);
	/* A replicated table (--pt-place replicate): the guest kernel writes
	 * the other nodes' copies too (numa.h). */
	numa_replica_store(vm, true);
}

void gmm_zero_frame(struct gmm *g, gfn_t gfn)
{
	struct vcpu *v = g->vm->cur;
	bool user = v->user;
	cpu_set_user(v, false);
	cpu_zero_page(v, gmm_kva(g->vm, gfn_to_gpa(gfn)));
	cpu_set_user(v, user);
}

void gmm_copy_frame(struct gmm *g, gfn_t dst, gfn_t src)
{
	struct vcpu *v = g->vm->cur;
	bool user = v->user;
	cpu_set_user(v, false);
	cpu_copy_page(v, gmm_kva(g->vm, gfn_to_gpa(dst)), gmm_kva(g->vm, gfn_to_gpa(src)));
	cpu_set_user(v, user);
}

bool gmm_table_alloc(struct gmm *g, gfn_t *out)
{
	if (!gmm_alloc_frame(g, GF_TABLE, out))
		return false;
	gmm_zero_frame(g, *out);
	return true;
}

/* ---- lookup ---- */

bool gmm_pt_slot(struct gmm *g, struct gproc *p, gva_t va, int level, bool alloc, gpa_t *slot)
{
	gpa_t table = p->top;
	for (int l = g->levels; l > level; l--) {
		gpa_t s = gmm_slot(table, pt_index(va, l));
		uint64_t e = gmm_pte_read(g, s);
		if (!gpte_present(e)) {
			gfn_t t;
			if (e)
				vmmu_bug("gmm-upper-entry",
					 "pid %d: non-present upper entry %#" PRIx64
					 " at level %d for va %#" PRIx64,
					 p->pid, e, l, va);
			if (!alloc)
				return false;
			if (!gmm_table_alloc(g, &t)) {
				g->err = ENOMEM;
				return false;
			}
			e = gfn_to_gpa(t).v | GMM_UPPER_USER;
			gmm_pte_write(g, s, e, l);
		} else if (gpte_large(e, l)) {
			vmmu_bug("gmm-leaf-level",
				 "pid %d: va %#" PRIx64 " is mapped by a level-%d leaf,"
				 " wanted level %d",
				 p->pid, va, l, level);
		}
		table = GPA(pte_frame(e));
	}
	*slot = gmm_slot(table, pt_index(va, level));
	return true;
}

/* ---- range walks ---- */

void gmm_pt_zap_leaf(struct gmm *g, struct gproc *p, gva_t va, int level, gpa_t slot, uint64_t e,
		     void *ctx)
{
	(void)p;
	gmm_pte_write(g, slot, 0, level);
	if (ctx && gpte_present(e))
		gmm_inv_add(g, va);
	gmm_frame_put(g, gpa_to_gfn(GPA(gpte_leaf_frame(e, level))));
}

static void visit_table(struct gmm *g, struct gproc *p, gpa_t table, int level, gva_t start,
			gva_t end, gmm_leaf_fn fn, void *ctx)
{
	uint64_t span = UINT64_C(1) << level_shift(level);
	gva_t s = start & ~(span - 1);
	if (level == LVL_PT)
		gmm_lazy_enter(g);
	for (; s < end; s += span) {
		gpa_t slot = gmm_slot(table, pt_index(s, level));
		uint64_t e = gmm_pte_read(g, slot);
		if (!gmm_pte_mapped(e))
			continue;
		gva_t lo = s > start ? s : start;
		gva_t hi = s + span < end ? s + span : end;
		if (gmm_pte_leaf(e, level))
			fn(g, p, s, level, slot, e, ctx);
		else
			visit_table(g, p, GPA(pte_frame(e)), level - 1, lo, hi, fn, ctx);
	}
	if (level == LVL_PT)
		gmm_lazy_leave(g);
}

void gmm_pt_visit(struct gmm *g, struct gproc *p, gva_t start, gva_t end, gmm_leaf_fn fn, void *ctx)
{
	if (start < end)
		visit_table(g, p, p->top, g->levels, start, end, fn, ctx);
}

static void free_below(struct gmm *g, struct gproc *p, gpa_t table, int level, gva_t start,
		       gva_t end, bool inv)
{
	uint64_t span = UINT64_C(1) << level_shift(level);
	gva_t s = start & ~(span - 1);
	for (; s < end; s += span) {
		gpa_t slot = gmm_slot(table, pt_index(s, level));
		uint64_t e = gmm_pte_read(g, slot);
		if (!gpte_present(e) || gmm_pte_leaf(e, level))
			continue;
		gva_t lo = s > start ? s : start;
		gva_t hi = s + span < end ? s + span : end;
		gpa_t child = GPA(pte_frame(e));
		if (level - 1 > LVL_PT)
			free_below(g, p, child, level - 1, lo, hi, inv);
		if (gmm_vma_overlaps(p, s, s + span))
			continue;
		gmm_pte_write(g, slot, 0, level);
		gmm_free_table_frame(g, gpa_to_gfn(child));
		if (inv)
			gmm_inv_add_span(g, s, span);
	}
}

void gmm_pt_free_range(struct gmm *g, struct gproc *p, gva_t start, gva_t end, bool inv)
{
	if (start < end)
		free_below(g, p, p->top, g->levels, start, end, inv);
}

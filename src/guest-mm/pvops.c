/*
 * pvops.c - the guest kernel's paravirt seam (Linux's pv_ops.mmu) and its
 * native hooks.
 *
 * After boot every page-table store, CR3 load, INVLPG and TLB flush of
 * guest-mm goes through g->pv, the table picked at boot by
 * gmm_pv_select(): the paravirtual hooks (xen.c) when the MMU mode says the
 * guest runs paravirtualized (vm->mmu->paravirt), the native hooks
 * otherwise. guest-mm never names a mode.
 *
 * The native hooks do exactly what guest-mm did before the seam existed:
 * an 8-byte kernel store through the direct map for a table entry, MOV to
 * CR3, INVLPG and the flush instruction, no conversion of entries and no
 * batching. So every count of every non-paravirtual mode is unchanged.
 *
 * Invariants:
 *   - g->pv is set once, at boot, before the first table access;
 *   - the wrappers below run the hook in kernel mode and restore the
 *     caller's privilege.
 */
#include "gmm-internal.h"
#include "../core/cpu.h"

/* ---- the native hooks ---- */

static void native_set_pte(struct gmm *g, gpa_t entry, uint64_t val, int level)
{
	(void)level;
	cpu_store(g->vm->cur, gmm_kva(g->vm, entry), 8, val);
}

static void native_write_cr3(struct gmm *g, uint64_t cr3)
{
	cpu_write_cr3(g->vm->cur, cr3);
}

static void native_flush_tlb_one_user(struct gmm *g, gva_t va)
{
	cpu_invlpg(g->vm->cur, va);
}

static void native_flush_tlb(struct gmm *g, bool all)
{
	cpu_flush_tlb(g->vm->cur, all);
}

/* make_pte, pte_val, the lazy-MMU pair and pin/unpin are no-ops natively:
 * NULL, and the wrappers skip them. */
const struct gmm_pv_ops gmm_native_pv_ops = {
    .name = "native",
    .set_pte = native_set_pte,
    .write_cr3 = native_write_cr3,
    .flush_tlb_one_user = native_flush_tlb_one_user,
    .flush_tlb = native_flush_tlb,
};

/* ---- API ---- */

void gmm_pv_select(struct gmm *g)
{
	g->pv = g->vm->mmu->paravirt ? &gmm_xen_pv_ops : &gmm_native_pv_ops;
}

uint64_t gmm_pv_make(struct gmm *g, uint64_t val, int level)
{
	return g->pv->make_pte ? g->pv->make_pte(g, val, level) : val;
}

uint64_t gmm_pv_val(struct gmm *g, uint64_t raw, int level)
{
	return g->pv->pte_val ? g->pv->pte_val(g, raw, level) : raw;
}

void gmm_lazy_enter(struct gmm *g)
{
	if (g->pv->enter_lazy_mmu)
		g->pv->enter_lazy_mmu(g);
	if (g->lazy)
		TRACE(g->vm, .kind = TR_GUEST_OP, .what = "lazy mmu enter");
}

void gmm_lazy_leave(struct gmm *g)
{
	if (g->lazy)
		TRACE(g->vm, .kind = TR_GUEST_OP, .result = g->nmc, .what = "lazy mmu leave");
	if (g->pv->leave_lazy_mmu)
		g->pv->leave_lazy_mmu(g);
}

void gmm_invlpg(struct gmm *g, gva_t va)
{
	struct vcpu *v = g->vm->cur;
	bool user = v->user;
	cpu_set_user(v, false);
	g->pv->flush_tlb_one_user(g, va);
	cpu_set_user(v, user);
}

void gmm_flush_tlb(struct gmm *g, bool all)
{
	struct vcpu *v = g->vm->cur;
	bool user = v->user;
	cpu_set_user(v, false);
	g->pv->flush_tlb(g, all);
	cpu_set_user(v, user);
}

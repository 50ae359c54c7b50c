/*
 * mmap.c - mmap, munmap and mprotect of the current process, and the TLB
 * invalidation they need.
 *
 * Mappings are anonymous and private. Pages are not populated by mmap: the
 * first access faults them in (fault.c). munmap and mprotect change leaves
 * through the vCPU, then invalidate: one INVLPG per changed page (a 2 MiB
 * page counts as one) when their number is at most cfg.invlpg_threshold,
 * else one flush of the current PCID, as Linux's flush_tlb_mm_range does
 * with tlb_single_page_flush_ceiling (33).
 *
 * Invariants:
 *   - a leaf is invalidated after the store that changed it and before the
 *     call returns;
 *   - a freed page table has at least one invalidated address inside its
 *     span, which drops the paging-structure-cache entries that point to it;
 *   - on an error return nothing has changed (errors are found before the
 *     first store), except that a failed VMA split may leave VMAs split at
 *     a boundary, which is harmless.
 */
#include <errno.h>
#include <stdlib.h>

#include "gmm-internal.h"
#include "../core/cpu.h"

/* ---- invalidation list ---- */

void gmm_inv_reset(struct gmm *g)
{
	g->ninv = 0;
	g->inv_overflow = false;
	g->inv_freed = false;
}

void gmm_inv_add(struct gmm *g, gva_t va)
{
	if (g->inv_overflow)
		return;
	if (g->ninv >= g->vm->cfg.invlpg_threshold) {
		g->inv_overflow = true;
		return;
	}
	if (g->ninv == g->inv_cap) {
		g->inv_cap = g->inv_cap ? g->inv_cap * 2 : 64;
		g->inv = gmm_xrealloc(g, g->inv, g->inv_cap * sizeof(*g->inv));
	}
	g->inv[g->ninv++] = va;
}

void gmm_inv_add_span(struct gmm *g, gva_t s, uint64_t span)
{
	g->inv_freed = true; /* a table of this span was freed */
	if (g->inv_overflow)
		return;
	for (size_t i = 0; i < g->ninv; i++)
		if (g->inv[i] >= s && g->inv[i] - s < span)
			return;
	gmm_inv_add(g, s);
}

void gmm_inv_flush(struct gmm *g)
{
	bool flushed = g->inv_overflow || g->ninv > 0;
	if (g->inv_overflow) {
		gmm_flush_tlb(g, false);
	} else {
		for (size_t i = 0; i < g->ninv; i++)
			gmm_invlpg(g, g->inv[i]);
	}
	/* flush_tlb_mm_range(): the mm's tlb_gen moves on; with KPTI the user
	 * PCID is flushed at the return to user space (invalidate_user_asid());
	 * the other CPUs in mm_cpumask get the same flush (smp.c). */
	if (flushed) {
		gmm_pcid_flushed(g, g->current);
		gmm_smp_shootdown(g, g->current);
	}
	gmm_inv_reset(g);
}

/* ---- private helpers ---- */

static uint64_t round_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static void fail(struct gmm *g, int err)
{
	g->err = err;
}

/* mprotect's new rights, and pkey_mprotect's key (-1: keep each leaf's). */
struct prot_key {
	int prot;
	int pkey;
};

/* The leaf that maps the frame of e with the rights of prot and key pkey
 * (-1: e's own). */
static uint64_t leaf_for_prot(struct gmm *g, uint64_t e, int level, int prot, int pkey)
{
	uint64_t frame = gpte_leaf_frame(e, level);
	uint64_t key = pkey < 0 ? e & GPTE_PKEY_MASK : (uint64_t)pkey << GPTE_PKEY_SHIFT;
	uint64_t n = frame | (e & (GPTE_A | GPTE_D | GPTE_PS)) | GPTE_US | key;
	if (!prot)
		return n | GMM_PTE_PROTNONE;
	n |= GPTE_P;
	if ((prot & GPROT_WRITE) && g->ref[gpa_to_gfn(GPA(frame))] == 1)
		n |= GPTE_RW;
	if (!(prot & GPROT_EXEC))
		n |= g->nx;
	return n;
}

static void protect_leaf(struct gmm *g, struct gproc *p, gva_t va, int level, gpa_t slot,
			 uint64_t e, void *ctx)
{
	(void)p;
	const struct prot_key *pk = ctx;
	uint64_t n = leaf_for_prot(g, e, level, pk->prot, pk->pkey);
	if (n == e)
		return;
	gmm_pte_write(g, slot, n, level);
	if (gpte_present(e))
		gmm_inv_add(g, va);
}

/* Visit the leaves of [start, end) that lie in VMAs, VMA by VMA. */
static void visit_vmas(struct gmm *g, struct gproc *p, gva_t start, gva_t end, gmm_leaf_fn fn,
		       void *ctx)
{
	for (size_t i = gmm_vma_first_after(p, start); i < p->nvma && p->vma[i].start < end; i++) {
		gva_t lo = p->vma[i].start > start ? p->vma[i].start : start;
		gva_t hi = p->vma[i].end < end ? p->vma[i].end : end;
		gmm_pt_visit(g, p, lo, hi, fn, ctx);
	}
}

/* EINVAL when addr falls strictly inside a huge VMA off a 2 MiB boundary. */
static bool splits_huge(struct gproc *p, gva_t addr)
{
	struct gvma *v = gmm_vma_find(p, addr);
	return v && (v->flags & GMAP_HUGE) && v->start < addr && (addr & (GMM_HUGE_SIZE - 1));
}

/* Unmap [start, end) of p (p current): VMAs split at both ends already. */
static void unmap_range(struct gmm *g, struct gproc *p, gva_t start, gva_t end)
{
	gmm_inv_reset(g);
	visit_vmas(g, p, start, end, gmm_pt_zap_leaf, g);
	gmm_vma_remove(p, start, end);
	gmm_pt_free_range(g, p, start, end, true);
	gmm_inv_flush(g);
}

/* Check a page-aligned range of the user half; returns 0 or an errno. */
static int check_range(const struct gmm *g, gva_t addr, uint64_t len, uint64_t *end)
{
	if (addr & (PAGE_SIZE - 1) || len == 0)
		return EINVAL;
	if (len > g->user_top)
		return EINVAL;
	len = round_up(len, PAGE_SIZE);
	if (addr > g->user_top - len)
		return EINVAL;
	*end = addr + len;
	return 0;
}

/* First free, aligned range of len bytes in [from, limit), or 0. */
static gva_t find_free(const struct gproc *p, gva_t from, gva_t limit, uint64_t len, uint64_t align)
{
	gva_t va = round_up(from, align);
	while (va <= limit && limit - va >= len) {
		size_t i = gmm_vma_first_after(p, va);
		if (i == p->nvma || p->vma[i].start >= va + len)
			return va;
		va = round_up(p->vma[i].end, align);
	}
	return 0;
}

/* ---- API ---- */

static gva_t do_mmap(struct vm *vm, gva_t addr, uint64_t len, int prot, int flags);
static int do_munmap(struct vm *vm, gva_t addr, uint64_t len);
static int do_mprotect(struct vm *vm, gva_t addr, uint64_t len, int prot, int pkey);

/* Each call is one kernel entry (kpti.c). */
gva_t gmm_mmap(struct vm *vm, gva_t addr, uint64_t len, int prot, int flags)
{
	gmm_kernel_enter(vm);
	gva_t va = do_mmap(vm, addr, len, prot, flags);
	gmm_kernel_exit(vm);
	return va;
}

int gmm_munmap(struct vm *vm, gva_t addr, uint64_t len)
{
	gmm_kernel_enter(vm);
	int rc = do_munmap(vm, addr, len);
	gmm_kernel_exit(vm);
	return rc;
}

int gmm_mprotect(struct vm *vm, gva_t addr, uint64_t len, int prot)
{
	gmm_kernel_enter(vm);
	int rc = do_mprotect(vm, addr, len, prot, -1);
	gmm_kernel_exit(vm);
	return rc;
}

int gmm_pkey_mprotect(struct vm *vm, gva_t addr, uint64_t len, int prot, int pkey)
{
	gmm_kernel_enter(vm);
	int rc = do_mprotect(vm, addr, len, prot, pkey);
	gmm_kernel_exit(vm);
	return rc;
}

static gva_t do_mmap(struct vm *vm, gva_t addr, uint64_t len, int prot, int flags)
{
	struct gmm *g = gmm_of(vm);
	struct gproc *p = g->current;
	if (!p || (prot & ~(GPROT_READ | GPROT_WRITE | GPROT_EXEC)) ||
	    (flags & ~(GMAP_HUGE | GMAP_FIXED)) || len == 0) {
		fail(g, EINVAL);
		return 0;
	}
	bool fixed = flags & GMAP_FIXED;
	bool huge = flags & GMAP_HUGE;
	uint64_t align = huge ? GMM_HUGE_SIZE : PAGE_SIZE;
	if (len > g->user_top) {
		fail(g, ENOMEM);
		return 0;
	}
	len = round_up(len, align);
	if (len / PAGE_SIZE > g->usable) {
		fail(g,
		     ENOMEM); /* more than the guest's memory: refuse, as Linux's heuristic does */
		return 0;
	}
	gva_t va = 0;
	if (fixed) {
		if (addr % align || addr < PAGE_SIZE) {
			fail(g, EINVAL);
			return 0;
		}
		if (addr > g->user_top - len) {
			fail(g, ENOMEM);
			return 0;
		}
		if (gmm_vma_overlaps(p, addr, addr + len) && do_munmap(vm, addr, len))
			return 0;
		va = addr;
	} else {
		if (addr && addr % align == 0 && addr >= PAGE_SIZE && addr <= g->user_top - len &&
		    !gmm_vma_overlaps(p, addr, addr + len))
			va = addr;
		if (!va) {
			va = find_free(p, p->mmap_cursor, GMM_STACK_TOP, len, align);
			if (!va)
				va = find_free(p, GMM_MMAP_BASE, GMM_STACK_TOP, len, align);
			if (!va) {
				fail(g, ENOMEM);
				return 0;
			}
			p->mmap_cursor = va + len;
		}
	}
	if (gmm_vma_insert(g, p, va, va + len, prot, huge ? GMAP_HUGE : 0))
		return 0;
	return va;
}

static int do_munmap(struct vm *vm, gva_t addr, uint64_t len)
{
	struct gmm *g = gmm_of(vm);
	struct gproc *p = g->current;
	gva_t end;
	int err = p ? check_range(g, addr, len, &end) : EINVAL;
	if (!err && (splits_huge(p, addr) || splits_huge(p, end)))
		err = EINVAL;
	if (err) {
		fail(g, err);
		return -1;
	}
	if (gmm_vma_split_at(g, p, addr, end))
		return -1;
	unmap_range(g, p, addr, end);
	return 0;
}

static int do_mprotect(struct vm *vm, gva_t addr, uint64_t len, int prot, int pkey)
{
	struct gmm *g = gmm_of(vm);
	struct gproc *p = g->current;
	if (!p || (prot & ~(GPROT_READ | GPROT_WRITE | GPROT_EXEC)) || addr & (PAGE_SIZE - 1) ||
	    pkey < -1 || pkey > 15) {
		fail(g, EINVAL);
		return -1;
	}
	if (len == 0)
		return 0;
	gva_t end;
	int err = check_range(g, addr, len, &end);
	if (!err) {
		/* Every page of the range must be mapped. */
		gva_t at = addr;
		for (size_t i = gmm_vma_first_after(p, addr); i < p->nvma && at < end; i++) {
			if (p->vma[i].start > at)
				break;
			at = p->vma[i].end;
		}
		if (at < end)
			err = ENOMEM;
	}
	if (!err && (splits_huge(p, addr) || splits_huge(p, end)))
		err = EINVAL;
	if (err) {
		fail(g, err);
		return -1;
	}
	if (gmm_vma_split_at(g, p, addr, end))
		return -1;
	for (size_t i = gmm_vma_first_after(p, addr); i < p->nvma && p->vma[i].start < end; i++) {
		p->vma[i].prot = prot;
		if (pkey >= 0)
			p->vma[i].pkey = pkey;
	}
	gmm_inv_reset(g);
	struct prot_key pk = {.prot = prot, .pkey = pkey};
	gmm_pt_visit(g, p, addr, end, protect_leaf, &pk);
	gmm_vma_merge(p, addr, end);
	gmm_inv_flush(g);
	return 0;
}

/*
 * pcid.c - the PCID of each guest address space, and the CR3 value of a
 * context switch.
 *
 * Two policies (cfg.pcid_policy), used when the guest has PCIDs (cfg.pcid):
 *
 *   linux        Linux's dynamic ASIDs (arch/x86/mm/tlb.c). Each CPU has
 *                TLB_NR_DYN_ASIDS = 6 slots; a slot remembers the mm
 *                (ctx_id) whose translations its PCID holds and the mm's
 *                tlb_gen they are valid for. choose_new_asid(): an mm found
 *                in a slot takes that slot, and flushes only when its
 *                tlb_gen has moved on (its tables changed while it was not
 *                current); an mm in no slot takes slot next_asid, round
 *                robin (6 wraps to 0, next_asid to 1), and flushes it. ASID
 *                a runs with PCID kern_pcid(a) = a + 1. Boot leaves the
 *                kernel's own mm (init_mm, the kernel top table) in slot 0
 *                and next_asid at 1, as initialize_tlbstate_and_flush()
 *                does. So with more than 6 address spaces taking turns,
 *                every switch flushes.
 *   per-process  every process holds one PCID, 1..4095 (1..2047 with KPTI,
 *                whose user PCIDs set bit 11), for its lifetime; the next
 *                free one after the last handed out, so a PCID is reused
 *                only after the counter wraps. The first load after
 *                allocation flushes (the PCID may hold an exited process's
 *                entries); later loads set the no-flush bit unless the
 *                process's tables changed while it was not current. The
 *                kernel top table uses PCID 0 and flushes.
 *
 * Without PCIDs every CR3 write uses PCID 0 and flushes (choose_new_asid()
 * returns ASID 0 with need_flush when X86_FEATURE_PCID is absent).
 *
 * With KPTI a flushing switch also marks the user PCID for flushing at the
 * next return to user space (load_new_mm_cr3() calls invalidate_user_asid()).
 *
 * Invariants:
 *   - g->kpcid is the PCID of the address space whose top table CR3 holds
 *     (its kernel half with KPTI);
 *   - linux policy: at most one slot holds a given ctx_id, and a slot whose
 *     ctx_id is the current mm's is the slot whose PCID is in CR3;
 *   - per-process policy: pcid_used[x] is set exactly when a live process
 *     holds PCID x (x > 0).
 */
#include "gmm-internal.h"

/* The kernel's own mm (init_mm); processes get ctx_ids from 2. */
#define GMM_KERNEL_CTX_ID 1

static bool pcid_linux(const struct gmm *g)
{
	return g->vm->cfg.pcid && g->vm->cfg.pcid_policy == PCID_LINUX;
}

/* Largest per-process PCID: bit 11 is the KPTI user bit. */
static uint16_t pcid_max(const struct gmm *g)
{
	return g->kpti ? (uint16_t)(GMM_PCID_USER - 1) : 4095;
}

/* choose_new_asid(): the slot for (ctx_id, tlb_gen) and whether to flush it. */
static unsigned choose_new_asid(struct gmm *g, uint64_t ctx_id, uint64_t tlb_gen, bool *flush)
{
	for (unsigned a = 0; a < GMM_NR_DYN_ASIDS; a++) {
		if (g->asid[a].ctx_id != ctx_id)
			continue;
		*flush = g->asid[a].tlb_gen < tlb_gen;
		return a;
	}
	unsigned a = g->next_asid++;
	if (a >= GMM_NR_DYN_ASIDS) {
		a = 0;
		g->next_asid = 1;
	}
	*flush = true;
	return a;
}

void gmm_pcid_init(struct gmm *g)
{
	/* Every slot empty (ctx_id 0 is no mm's) and next_asid 0: boot's CR3
	 * load of the kernel top table takes slot 0 and flushes it, leaving
	 * next_asid at 1, the state initialize_tlbstate_and_flush() leaves. */
	for (unsigned a = 0; a < GMM_NR_DYN_ASIDS; a++)
		g->asid[a] = (struct gmm_asid){0, 0};
	g->next_asid = 0;
	g->next_ctx_id = GMM_KERNEL_CTX_ID + 1;
	g->next_pcid = 1;
}

uint64_t gmm_pcid_new_ctx(struct gmm *g)
{
	return g->next_ctx_id++;
}

uint16_t gmm_pcid_alloc(struct gmm *g, bool *exhausted)
{
	*exhausted = false;
	if (!g->vm->cfg.pcid || pcid_linux(g))
		return 0;
	uint16_t max = pcid_max(g);
	for (unsigned n = 0; n < max; n++) {
		uint16_t x = g->next_pcid;
		g->next_pcid = x >= max ? 1 : (uint16_t)(x + 1);
		if (!g->pcid_used[x]) {
			g->pcid_used[x] = 1;
			return x;
		}
	}
	*exhausted = true;
	return 0;
}

void gmm_pcid_free(struct gmm *g, struct gproc *p)
{
	if (p->pcid)
		g->pcid_used[p->pcid] = 0;
}

uint64_t gmm_pcid_switch(struct gmm *g, struct gproc *p, bool *flush)
{
	gpa_t top = p ? p->top : g->kernel_top;
	uint16_t pcid = 0;
	*flush = true;
	if (pcid_linux(g)) {
		uint64_t ctx = p ? p->ctx_id : GMM_KERNEL_CTX_ID;
		uint64_t gen = p ? p->tlb_gen : 0;
		unsigned a = choose_new_asid(g, ctx, gen, flush);
		if (*flush)
			g->asid[a] = (struct gmm_asid){ctx, gen};
		pcid = (uint16_t)(a + 1); /* kern_pcid() */
	} else if (g->vm->cfg.pcid && p) {
		uint64_t me = UINT64_C(1) << g->vm->cur->id;
		*flush = !(p->pcid_loaded & me) || (p->tlb_stale & me);
		p->pcid_loaded |= me;
		p->tlb_stale &= ~me;
		pcid = p->pcid;
	}
	if (*flush && g->kpti)
		g->user_flush[pcid] = 1; /* invalidate_user_asid() */
	g->kpcid = pcid;
	uint64_t cr3 = top.v | pcid;
	if (!*flush && g->vm->cfg.pcid)
		cr3 |= CR3_NOFLUSH;
	return cr3;
}

void gmm_pcid_flushed(struct gmm *g, struct gproc *p)
{
	if (!p)
		return;
	p->tlb_gen++; /* inc_mm_tlb_gen() */
	/* Per-process PCIDs: every CPU that does not run p now must flush at
	 * its next load (those that run it are flushed by the shootdown). */
	p->tlb_stale |= ~p->cpumask;
	if (p != g->current) {
		p->tlb_stale = ~UINT64_C(0);
		return;
	}
	gmm_pcid_synced(g, p);
}

void gmm_pcid_synced(struct gmm *g, struct gproc *p)
{
	/* The flush ran on this CPU: the slot is up to date (flush_tlb_func()),
	 * but with KPTI the user PCID still holds the old entries. */
	if (pcid_linux(g) && g->kpcid >= 1 && g->kpcid <= GMM_NR_DYN_ASIDS)
		g->asid[g->kpcid - 1].tlb_gen = p->tlb_gen;
	if (g->kpti)
		g->user_flush[g->kpcid] = 1; /* invalidate_user_asid() */
}

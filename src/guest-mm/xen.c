/*
 * xen.c - the guest kernel's paravirtual hooks, after Linux's
 * arch/x86/xen/mmu_pv.c and multicalls.c: the tables hold machine frames,
 * and every table store, CR3 load, INVLPG and flush is a hypercall.
 *
 *   make_pte / pte_val   convert a present entry's frame with the p2m table
 *                        the hypervisor gave the guest (vm->p2m) and back
 *                        with its machine-to-physical table (vm->p2m.m2p)
 *                        (xen_make_pte(), xen_pte_val(): non-present entries,
 *                        PROT_NONE leaves included, keep their frame as is);
 *   set_pte              one mmu_update (xen_set_pte()), or one more entry in
 *                        the lazy-MMU batch (xen_batched_set_pte());
 *   write_cr3            mmuext MMUEXT_NEW_BASEPTR (xen_write_cr3());
 *   flush_tlb_one_user   mmuext MMUEXT_INVLPG_LOCAL (xen_flush_tlb_one_user());
 *   flush_tlb            mmuext MMUEXT_TLB_FLUSH_LOCAL (xen_flush_tlb());
 *   pgd_pin / unpin      mmuext MMUEXT_PIN_L4_TABLE / MMUEXT_UNPIN_TABLE
 *                        (xen_pgd_pin(), xen_pgd_unpin());
 *   lazy-MMU mode        operations queue in a buffer of GMM_MC_BATCH calls
 *                        and go to the hypervisor when the section ends or
 *                        the buffer is full (xen_mc_flush()): consecutive
 *                        calls of one kind form one multicall entry, and a
 *                        batch of one entry is issued as that call alone
 *                        (Linux's singleton bypass). --pv-batch off turns
 *                        lazy mode off: every operation is its own call.
 *
 * A refused call is a guest kernel bug (Linux BUG()s in xen_mc_flush()):
 * the run ends with the hypervisor's error.
 */
#include "gmm-internal.h"
#include "../core/cpu.h"
#include "../core/hypercall.h"

/* ---- frame conversion ---- */

/* Replace the frame of present entry e with conv(frame). A large leaf
 * keeps its PAT bit (bit 12). */
static uint64_t xen_conv(const struct vm *vm, uint64_t e, bool to_machine)
{
	if (!gpte_present(e))
		return e;
	uint64_t f = e & PTE_FRAME_MASK;
	uint64_t pat = (e & GPTE_PS) ? (f & PAGE_SIZE) : 0;
	f &= ~pat;
	uint64_t n;
	if (to_machine) {
		hfn_t h = p2m_lookup(vm, f >> PAGE_SHIFT);
		if (h == INVALID_HFN)
			vmmu_bug("pv-p2m", "guest frame %#" PRIx64 " has no machine frame",
				 f >> PAGE_SHIFT);
		n = h << PAGE_SHIFT;
	} else {
		n = vm->p2m.m2p[f >> PAGE_SHIFT] << PAGE_SHIFT;
	}
	return (e & ~PTE_FRAME_MASK) | n | pat;
}

static uint64_t xen_make_pte(struct gmm *g, uint64_t val, int level)
{
	(void)level;
	return xen_conv(g->vm, val, true);
}

static uint64_t xen_pte_val(struct gmm *g, uint64_t raw, int level)
{
	(void)level;
	return xen_conv(g->vm, raw, false);
}

/* Machine address of a guest-physical address (virt_to_machine()). */
static uint64_t xen_maddr(const struct vm *vm, gpa_t gpa)
{
	return (p2m_lookup(vm, gpa_to_gfn(gpa)) << PAGE_SHIFT) | (gpa.v & (PAGE_SIZE - 1));
}

/* ---- calls and the multicall buffer ---- */

static void xen_check(struct gmm *g, long r, const char *what)
{
	if (r < 0)
		vm_abort(g->vm, "pv: the hypervisor refused the guest kernel's %s (error -%ld)",
			 what, -r);
}

static const char *xen_op_name(unsigned op)
{
	return op == HYPERVISOR_mmu_update ? "mmu_update" : "mmuext_op";
}

/* Issue the queued operations (xen_mc_flush()). */
static void xen_mc_flush(struct gmm *g)
{
	if (!g->nmc)
		return;
	struct vm *vm = g->vm;
	struct mmu_update upd[GMM_MC_BATCH];
	struct mmuext_op ext[GMM_MC_BATCH];
	struct multicall_entry ent[GMM_MC_BATCH];
	unsigned nent = 0;
	for (unsigned i = 0; i < g->nmc; i++) {
		const struct gmm_mc_op *o = &g->mc[i];
		bool extend = nent && ent[nent - 1].op == o->op;
		if (!extend) {
			ent[nent] = (struct multicall_entry){
			    .op = o->op,
			    .args =
				o->op == HYPERVISOR_mmu_update ? (void *)&upd[i] : (void *)&ext[i],
			};
			nent++;
		}
		if (o->op == HYPERVISOR_mmu_update)
			upd[i] = (struct mmu_update){.ptr = o->a, .val = o->b};
		else
			ext[i] =
			    (struct mmuext_op){.cmd = (unsigned)o->a, .arg = o->b, .arg2 = o->c};
		ent[nent - 1].count++;
	}
	g->nmc = 0;
	vm->st.pv_batches++;
	struct vcpu *v = vm->cur;
	if (nent == 1) {
		xen_check(g, cpu_hypercall(v, ent[0].op, ent[0].args, ent[0].count),
			  xen_op_name(ent[0].op));
		return;
	}
	xen_check(g, cpu_hypercall(v, HYPERVISOR_multicall, ent, nent), "multicall");
	for (unsigned i = 0; i < nent; i++)
		xen_check(g, ent[i].result, xen_op_name(ent[i].op));
}

/* One operation: queued in lazy-MMU mode, issued at once otherwise. */
static void xen_call(struct gmm *g, unsigned op, uint64_t a, uint64_t b, uint64_t c)
{
	if (g->lazy) {
		if (g->nmc == GMM_MC_BATCH)
			xen_mc_flush(g);
		g->mc[g->nmc++] = (struct gmm_mc_op){.op = op, .a = a, .b = b, .c = c};
		return;
	}
	struct vcpu *v = g->vm->cur;
	if (op == HYPERVISOR_mmu_update) {
		struct mmu_update u = {.ptr = a, .val = b};
		xen_check(g, cpu_hypercall(v, op, &u, 1), "mmu_update");
	} else {
		struct mmuext_op x = {.cmd = (unsigned)a, .arg = b, .arg2 = c};
		xen_check(g, cpu_hypercall(v, op, &x, 1), "mmuext_op");
	}
}

/* ---- the hooks ---- */

static void xen_set_pte(struct gmm *g, gpa_t entry, uint64_t val, int level)
{
	(void)level;
	xen_call(g, HYPERVISOR_mmu_update, xen_maddr(g->vm, entry) | MMU_NORMAL_PT_UPDATE,
		 xen_conv(g->vm, val, true), 0);
}

static void xen_write_cr3(struct gmm *g, uint64_t cr3)
{
	uint64_t mfn = p2m_lookup(g->vm, (cr3 & PTE_FRAME_MASK) >> PAGE_SHIFT);
	xen_call(g, HYPERVISOR_mmuext_op, MMUEXT_NEW_BASEPTR, mfn,
		 cr3 & (CR3_PCID_MASK | CR3_NOFLUSH));
}

static void xen_flush_tlb_one_user(struct gmm *g, gva_t va)
{
	xen_call(g, HYPERVISOR_mmuext_op, MMUEXT_INVLPG_LOCAL, va, 0);
}

static void xen_flush_tlb(struct gmm *g, bool all)
{
	xen_call(g, HYPERVISOR_mmuext_op, MMUEXT_TLB_FLUSH_LOCAL, 0, all);
}

static void xen_enter_lazy_mmu(struct gmm *g)
{
	if (g->vm->cfg.pv_batch)
		g->lazy = true;
}

static void xen_leave_lazy_mmu(struct gmm *g)
{
	xen_mc_flush(g);
	g->lazy = false;
}

static void xen_pgd_pin(struct gmm *g, gfn_t top)
{
	unsigned cmd = g->levels == 5 ? MMUEXT_PIN_L5_TABLE : MMUEXT_PIN_L4_TABLE;
	xen_call(g, HYPERVISOR_mmuext_op, cmd, p2m_lookup(g->vm, top), 0);
}

static void xen_pgd_unpin(struct gmm *g, gfn_t top)
{
	xen_call(g, HYPERVISOR_mmuext_op, MMUEXT_UNPIN_TABLE, p2m_lookup(g->vm, top), 0);
}

const struct gmm_pv_ops gmm_xen_pv_ops = {
    .name = "xen",
    .make_pte = xen_make_pte,
    .pte_val = xen_pte_val,
    .set_pte = xen_set_pte,
    .write_cr3 = xen_write_cr3,
    .flush_tlb_one_user = xen_flush_tlb_one_user,
    .flush_tlb = xen_flush_tlb,
    .enter_lazy_mmu = xen_enter_lazy_mmu,
    .leave_lazy_mmu = xen_leave_lazy_mmu,
    .pgd_pin = xen_pgd_pin,
    .pgd_unpin = xen_pgd_unpin,
};

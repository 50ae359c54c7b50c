/*
 * fault.c - the guest kernel's page-fault handler: demand zero and
 * copy-on-write, or a segfault.
 *
 * Core calls gmm_handle_fault() with the fault as data (address, #PF error
 * code, level) and retries the access when it returns. The handler:
 *   1. finds the VMA of the address; none, or a right the VMA does not
 *      give, is a segfault (vm_abort);
 *   2. not present: allocates the missing tables, a zeroed frame (or a
 *      zeroed, aligned 2 MiB block for a GMAP_HUGE VMA) and writes the leaf
 *      frame|P|US|(RW if the VMA is writable)|(NX unless it is executable);
 *   3. a write to a present read-only leaf of a writable VMA: copy-on-write.
 *      A frame mapped once is made writable in place; otherwise it is
 *      copied to a new frame, the old reference dropped, the leaf rewritten
 *      and the stale read-only translation invalidated with INVLPG;
 *   4. anything else is spurious (the tables already allow the access, e.g.
 *      a stale TLB entry): nothing to do, the retry succeeds.
 *
 * Invariants:
 *   - the handler changes nothing before it has decided that the access is
 *     legal, so a segfault leaves the address space intact;
 *   - a new leaf is written only after its frame's contents are final
 *     (zeroed or copied).
 */
#include "gmm-internal.h"
#include "../core/cpu.h"

/* ---- private helpers ---- */

static const char *access_name(uint32_t ec)
{
	if (ec & PFEC_W)
		return "write";
	if (ec & PFEC_I)
		return "instruction fetch";
	return "read";
}

static _Noreturn void segfault(struct vm *vm, const struct gproc *p, const struct guest_fault *f,
			       const char *why)
{
	vm_abort(vm, "segfault: pid %d: %s %s at 0x%" PRIx64 " (#PF error code %#x): %s", p->pid,
		 f->error_code & PFEC_U ? "user" : "kernel", access_name(f->error_code), f->gva,
		 f->error_code, why);
}

static _Noreturn void out_of_memory(struct vm *vm, const struct gproc *p, gva_t va,
				    const char *what)
{
	const struct gmm *g = gmm_of(vm);
	vm_abort(vm,
		 "guest out of memory: pid %d: no free guest frame for %s at 0x%" PRIx64
		 " (%" PRIu64 " of %" PRIu64 " frames free)",
		 p->pid, what, va, g->usable - g->used, g->usable);
}

/* The leaf for a fresh frame in vma. */
static uint64_t new_leaf(const struct gmm *g, const struct gvma *vma, gfn_t gfn, bool huge)
{
	uint64_t e = gfn_to_gpa(gfn).v | GPTE_P | GPTE_US |
		     ((uint64_t)vma->pkey << GPTE_PKEY_SHIFT);
	if (vma->prot & GPROT_WRITE)
		e |= GPTE_RW;
	if (!(vma->prot & GPROT_EXEC))
		e |= g->nx;
	if (huge)
		e |= GPTE_PS;
	return e;
}

static void demand_zero(struct gmm *g, struct gproc *p, const struct gvma *vma, gva_t va, int level,
			gpa_t slot)
{
	struct vm *vm = g->vm;
	bool huge = level == LVL_PD;
	gfn_t f;
	if (huge) {
		if (!gmm_alloc_huge(g, &f))
			out_of_memory(vm, p, va, "a demand-zero 2 MiB page");
		for (gfn_t i = 0; i < GMM_HUGE_FRAMES; i++)
			gmm_zero_frame(g, f + i);
	} else {
		if (!gmm_alloc_frame(g, GF_DATA, &f))
			out_of_memory(vm, p, va, "a demand-zero page");
		gmm_zero_frame(g, f);
	}
	gmm_pte_write(g, slot, new_leaf(g, vma, f, huge), level);
	vm->st.demand_faults++;
	TRACE(vm, .kind = TR_GUEST_OP, .level = level, .gva = va, .addr = gfn_to_gpa(f).v,
	      .entry_addr = slot.v, .what = "demand-zero fault resolved");
}

static void copy_on_write(struct gmm *g, struct gproc *p, const struct gvma *vma, gva_t va,
			  int level, gpa_t slot, uint64_t e)
{
	struct vm *vm = g->vm;
	bool huge = level == LVL_PD;
	gfn_t old = gpa_to_gfn(GPA(gpte_leaf_frame(e, level)));
	vm->st.cow_faults++;
	if (g->ref[old] == 1) {
		/* The last mapping: reuse the frame. The stale read-only TLB entry
		 * needs no flush: a write through it faults and walks again. */
		gmm_pte_write(g, slot, e | GPTE_RW, level);
		TRACE(vm, .kind = TR_GUEST_OP, .level = level, .gva = va, .addr = gfn_to_gpa(old).v,
		      .entry_addr = slot.v, .what = "copy-on-write fault: frame reused");
		return;
	}
	gfn_t f;
	if (huge) {
		if (!gmm_alloc_huge(g, &f))
			out_of_memory(vm, p, va, "a copy-on-write 2 MiB page");
		for (gfn_t i = 0; i < GMM_HUGE_FRAMES; i++)
			gmm_copy_frame(g, f + i, old + i);
	} else {
		if (!gmm_alloc_frame(g, GF_DATA, &f))
			out_of_memory(vm, p, va, "a copy-on-write page");
		gmm_copy_frame(g, f, old);
	}
	gmm_frame_put(g, old);
	gmm_pte_write(g, slot, new_leaf(g, vma, f, huge), level);
	gmm_invlpg(g, va);
	gmm_pcid_flushed(g, p); /* flush_tlb_page(): and the user PCID with KPTI */
	gmm_smp_shootdown_page(g, p, va);
	TRACE(vm, .kind = TR_GUEST_OP, .level = level, .gva = va, .addr = gfn_to_gpa(f).v,
	      .entry_addr = slot.v, .what = "copy-on-write fault: frame copied");
}

/* ---- API ---- */

static void handle_fault(struct vm *vm, const struct guest_fault *f);

/* The exception entry (with KPTI: CR3 to the kernel PGD), the handler, and
 * the return (CR3 back to the user PGD). */
void gmm_handle_fault(struct vm *vm, const struct guest_fault *f)
{
	gmm_kernel_enter(vm);
	handle_fault(vm, f);
	gmm_kernel_exit(vm);
}

static void handle_fault(struct vm *vm, const struct guest_fault *f)
{
	struct gmm *g = gmm_of(vm);
	if (!g || !g->current)
		vm_abort(vm,
			 "guest page fault at 0x%" PRIx64 " (#PF error code %#x) with no process",
			 f->gva, f->error_code);
	struct gproc *p = g->current;
	uint32_t ec = f->error_code;
	if (!va_canonical(f->gva, g->levels))
		segfault(vm, p, f, "non-canonical address (a #GP on real hardware)");
	if (ec & PFEC_RSVD)
		vm_abort(vm,
			 "guest kernel bug: pid %d: reserved bit set in a page-table entry for"
			 " 0x%" PRIx64 " (#PF error code %#x)",
			 p->pid, f->gva, ec);
	struct gvma *vma = gmm_vma_find(p, f->gva);
	if (!vma)
		segfault(vm, p, f, "no mapping at this address");
	/* Linux: a key violation is SIGSEGV with SEGV_PKUERR
	 * (bad_area_access_error()), whatever else the fault says. */
	if (ec & PFEC_PK)
		segfault(vm, p, f, "the protection key denies it (PKRU)");
	if (ec & PFEC_W) {
		if (!(vma->prot & GPROT_WRITE))
			segfault(vm, p, f, "the mapping is not writable");
	} else if (ec & PFEC_I) {
		if (!(vma->prot & GPROT_EXEC))
			segfault(vm, p, f, "the mapping is not executable");
	} else if (!vma->prot) {
		segfault(vm, p, f, "the mapping is PROT_NONE");
	}

	bool huge = vma->flags & GMAP_HUGE;
	int level = huge ? LVL_PD : LVL_PT;
	gva_t va = f->gva & ~(page_bytes(level_page_size(level)) - 1);
	gpa_t slot;
	if (!gmm_pt_slot(g, p, va, level, true, &slot))
		out_of_memory(vm, p, va, "a page table");
	uint64_t e = gmm_pte_read(g, slot);
	if (!gpte_present(e)) {
		if (e & GMM_PTE_PROTNONE)
			vmmu_bug("gmm-protnone",
				 "pid %d: PROT_NONE leaf %#" PRIx64 " at 0x%" PRIx64
				 " in a VMA with prot %d",
				 p->pid, e, va, vma->prot);
		if (e)
			vmmu_bug("gmm-leaf", "pid %d: non-present leaf %#" PRIx64 " at 0x%" PRIx64,
				 p->pid, e, va);
		demand_zero(g, p, vma, va, level, slot);
		return;
	}
	if (huge && !(e & GPTE_PS))
		vmmu_bug("gmm-huge-leaf", "pid %d: 2 MiB VMA at 0x%" PRIx64 " has a page table",
			 p->pid, va);
	if ((ec & PFEC_W) && !(e & GPTE_RW)) {
		copy_on_write(g, p, vma, va, level, slot, e);
		return;
	}
	/* Spurious: the entry already allows the access. */
}

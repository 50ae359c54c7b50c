/*
 * kpti.c - kernel page-table isolation (Linux's PTI, arch/x86/mm/pti.c and
 * the CR3 switches of arch/x86/entry/calling.h), and the kernel entry and
 * exit that every guest kernel call goes through.
 *
 * KPTI is Linux's answer to Meltdown: on affected CPUs (Intel cores before
 * the hardware fix, e.g. Skylake and early Cascade Lake steppings) user
 * space runs on a page table that does not map the kernel. With cfg.kpti:
 *
 *   - each process has two top tables (PGDs), allocated as an aligned pair:
 *     the kernel PGD, which maps everything, and the user PGD, the next
 *     4 KiB page (CR3 bit 12, PTI_USER_PGTABLE_BIT), which maps the user
 *     half and the entry trampoline only (pti_clone_user_shared() and
 *     pti_clone_entry_text(): here one page at the CPU entry area);
 *   - a store to a user-half entry of the kernel PGD is made to the user
 *     PGD first, and the kernel's copy gets NX when it maps user memory
 *     (__pti_set_user_pgtbl());
 *   - the kernel's own mappings are not global, so they live in the
 *     kernel PCID (proc.c drops G from the direct map);
 *   - the kernel half runs with PCID kern_pcid(asid), the user half with
 *     that PCID | bit 11 (user_pcid(), X86_CR3_PTI_PCID_USER_BIT);
 *   - every kernel entry writes CR3 to the kernel PGD with the no-flush bit
 *     (SWITCH_TO_KERNEL_CR3, ADJUST_KERNEL_CR3), and every return to user
 *     space writes CR3 to the user PGD (SWITCH_TO_USER_CR3), with the
 *     no-flush bit unless the kernel asked for the user PCID to be flushed
 *     (invalidate_user_asid(), the user_pcid_flush_mask). The guest CPU
 *     model has no INVPCID, so a user-PCID flush always waits for that
 *     return, as it does in Linux without X86_FEATURE_INVPCID.
 *
 * Every guest kernel call (a page fault, mmap, munmap, mprotect, fork,
 * exit, process creation, a context switch) is one kernel entry; the
 * outermost one is counted in kernel_entries, with or without KPTI. Under
 * shadow paging each KPTI CR3 write is a VM exit; under nested paging none
 * is.
 *
 * Invariants:
 *   - g->user_cr3 is true exactly when CR3 holds the current process's user
 *     PGD, which happens only between kernel calls (g->kdepth == 0);
 *   - the user PGD's user-half entries equal the kernel PGD's, without the
 *     NX that the kernel's copy adds and without accessed bits; its only
 *     other entry is the trampoline's (gmm_check()).
 */
#include "gmm-internal.h"
#include "../core/cpu.h"

int gmm_kpti_boot(struct gmm *g)
{
	struct vm *vm = g->vm;
	gfn_t page;
	if (!gmm_alloc_frame(g, GF_KERNEL, &page))
		return -1;
	gpa_t table = g->kernel_top;
	for (int l = g->levels; l > LVL_PT; l--) {
		gpa_t s = gmm_slot(table, pt_index(GMM_ENTRY_AREA, l));
		uint64_t e = gpa_read64(vm, s);
		if (!gpte_present(e)) {
			gfn_t t;
			if (!gmm_alloc_frame(g, GF_KERNEL, &t))
				return -1;
			for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
				gpa_write64(vm, gmm_slot(gfn_to_gpa(t), i), 0);
			e = gfn_to_gpa(t).v | GMM_UPPER_KERNEL;
			gpa_write64(vm, s, e);
		}
		table = GPA(pte_frame(e));
	}
	gpa_write64(vm, gmm_slot(table, pt_index(GMM_ENTRY_AREA, LVL_PT)),
		    gfn_to_gpa(page).v | GMM_ENTRY_LEAF);
	g->entry_index = pt_index(GMM_ENTRY_AREA, g->levels);
	return 0;
}

void gmm_kpti_proc_init(struct gmm *g, gpa_t top)
{
	gpa_t user = GPA(top.v + GMM_PTI_USER_PGTABLE);
	gmm_zero_frame(g, gpa_to_gfn(user));
	uint64_t e = gmm_pte_read(g, gmm_slot(g->kernel_top, g->entry_index));
	gmm_pte_write(g, gmm_slot(top, g->entry_index), e, g->levels);
	gmm_pte_write(g, gmm_slot(user, g->entry_index), e, g->levels);
}

bool gmm_kpti_user_top_slot(const struct gmm *g, gpa_t entry, int level)
{
	return g->kpti && level == g->levels && (entry.v & (PAGE_SIZE - 1)) / 8 < 256 &&
	       (entry.v & PAGE_MASK) != g->kernel_top.v;
}

uint64_t gmm_kpti_set_user_pgtbl(struct gmm *g, gpa_t entry, uint64_t val)
{
	struct vcpu *v = g->vm->cur;
	bool user = v->user;
	TRACE(g->vm, .kind = TR_GUEST_OP, .level = g->levels,
	      .addr = entry.v + GMM_PTI_USER_PGTABLE, .entry_addr = entry.v + GMM_PTI_USER_PGTABLE,
	      .entry = val, .what = "guest pte write (KPTI user PGD copy)");
	cpu_set_user(v, false);
	g->pv->set_pte(g, GPA(entry.v + GMM_PTI_USER_PGTABLE), val, g->levels);
	cpu_set_user(v, user);
	/* __pti_set_user_pgtbl(): the kernel copy of a user entry is NX, when
	 * the CPU has NX (EFER.NXE; without it bit 63 is reserved). */
	if ((val & (GPTE_P | GPTE_US)) == (GPTE_P | GPTE_US))
		val |= g->nx;
	return val;
}

/* ---- kernel entry and exit ---- */

void gmm_kernel_enter(struct vm *vm)
{
	struct gmm *g = gmm_of(vm);
	if (g->kdepth++)
		return;
	vm->st.kernel_entries++;
	if (!g->user_cr3)
		return;
	/* SWITCH_TO_KERNEL_CR3: clear the PGD and PCID user bits, keep the TLB. */
	uint64_t cr3 = g->current->top.v | g->kpcid;
	if (vm->cfg.pcid)
		cr3 |= CR3_NOFLUSH;
	g->user_cr3 = false;
	gmm_write_cr3(g, cr3);
}

void gmm_kernel_exit(struct vm *vm)
{
	struct gmm *g = gmm_of(vm);
	if (g->kdepth == 0)
		vmmu_bug("gmm-kernel-depth", "kernel exit without a kernel entry");
	if (--g->kdepth || !g->kpti || !g->current)
		return;
	/* SWITCH_TO_USER_CR3: the user PGD, and with PCIDs the user PCID, flushed
	 * only when invalidate_user_asid() asked for it. */
	uint64_t cr3 = g->current->top.v | GMM_PTI_USER_PGTABLE;
	if (vm->cfg.pcid) {
		cr3 |= g->kpcid | GMM_PCID_USER;
		if (!g->user_flush[g->kpcid])
			cr3 |= CR3_NOFLUSH;
		g->user_flush[g->kpcid] = 0;
	}
	g->user_cr3 = true;
	gmm_write_cr3(g, cr3);
}

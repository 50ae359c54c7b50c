/*
 * smp.c - the guest kernel on several vCPUs: per-CPU state, secondary
 * boot, mm_cpumask, lazy TLB mode and TLB shootdowns, as Linux's
 * arch/x86/mm/tlb.c does them.
 *
 * Per-CPU state. The kernel's per-CPU fields (the current mm, the dynamic
 * ASID slots, the PCID in CR3, the kernel-entry depth, the KPTI user-flush
 * marks, the lazy flag) live in struct gmm for the CPU that runs (vm->cur)
 * and in g->pcpu[n] for the others; core calls gmm_smp_cpu_switch() when it
 * hands the machine to another vCPU, as a CPU's GS base selects its per-CPU
 * area.
 *
 * mm_cpumask. switch_mm_irqs_off() clears this CPU's bit in the previous
 * mm's mask and sets it in the next one's (the kernel's init_mm has none).
 * A CPU whose task ended stays in lazy TLB mode (enter_lazy_tlb()): its
 * last mm stays loaded and in the mask.
 *
 * Shootdown. flush_tlb_mm_range() bumps the mm's tlb_gen, flushes locally
 * (mmap.c: INVLPG per page up to tlb_single_page_flush_ceiling, else the
 * whole PCID), then, when another CPU is in mm_cpumask, calls
 * flush_tlb_multi() on the mask without this CPU:
 *   - native_flush_tlb_multi() sends the flush IPI (smp_call_function_many(),
 *     CALL_FUNCTION_VECTOR) to every CPU in the mask, except lazy ones when
 *     no page table was freed (on_each_cpu_cond_mask() with
 *     tlb_is_not_lazy()); a lazy CPU that was skipped flushes when it runs
 *     the mm again. With freed tables the lazy CPUs are sent the IPI too,
 *     and leave the mm (switch to init_mm), since their paging-structure
 *     caches may point at the freed tables;
 *   - with --pv-tlb-flush in a VMM mode, kvm_flush_tlb_multi() first takes
 *     every preempted vCPU out of the mask and sets KVM_VCPU_FLUSH_TLB in its
 *     steal-time area instead: the host flushes it when it runs again
 *     (core smp.c). The rest go through native_flush_tlb_multi().
 * The sender waits for every IPI (core smp.c runs each handler at once).
 * On the target, flush_tlb_func() flushes the same addresses, or its whole
 * PCID, and records the mm's tlb_gen in its ASID slot.
 *
 * The audit (cfg.audit): after each shootdown, no vCPU in the mask may
 * still hold a translation of an address that was flushed because its
 * leaf was removed (core's vm_stale_tlb()).
 *
 * Invariants:
 *   - bit n of p->cpumask is set exactly when vCPU n has p loaded (its
 *     current, lazily or not);
 *   - with one vCPU nothing here sends an IPI, and pcpu is NULL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gmm-internal.h"
#include "../core/cpu.h"
#include "../core/smp.h"

/* What flush_tlb_multi() hands to each target (Linux's flush_tlb_info). */
struct gmm_flush_info {
	struct gproc *mm;
	const gva_t *addr; /* the addresses, when !full */
	size_t n;
	bool full;	   /* flush the whole PCID */
	bool freed_tables; /* page tables were freed: lazy CPUs too */
};

/* ---- per-CPU state ---- */

static void percpu_save(const struct gmm *g, struct gmm_percpu *c)
{
	c->current = g->current;
	memcpy(c->asid, g->asid, sizeof(c->asid));
	c->next_asid = g->next_asid;
	c->kpcid = g->kpcid;
	c->kdepth = g->kdepth;
	c->user_cr3 = g->user_cr3;
	c->lazy_tlb = g->lazy_tlb;
	c->lazy_stale = g->lazy_stale;
	if (g->kpti)
		memcpy(c->user_flush, g->user_flush, sizeof(c->user_flush));
}

static void percpu_load(struct gmm *g, const struct gmm_percpu *c)
{
	g->current = c->current;
	memcpy(g->asid, c->asid, sizeof(g->asid));
	g->next_asid = c->next_asid;
	g->kpcid = c->kpcid;
	g->kdepth = c->kdepth;
	g->user_cr3 = c->user_cr3;
	g->lazy_tlb = c->lazy_tlb;
	g->lazy_stale = c->lazy_stale;
	if (g->kpti)
		memcpy(g->user_flush, c->user_flush, sizeof(g->user_flush));
}

static void gmm_smp_cpu_switch(struct vm *vm, struct vcpu *from, struct vcpu *to)
{
	struct gmm *g = gmm_of(vm);
	percpu_save(g, &g->pcpu[from->id]);
	percpu_load(g, &g->pcpu[to->id]);
}

/* ---- the flush IPI's handler ---- */

/* flush_tlb_func() on the target CPU (this one). */
static void flush_tlb_func(struct vcpu *v, const void *info, void *ctx)
{
	struct gmm *g = ctx;
	const struct gmm_flush_info *f = info;
	struct vm *vm = v->vm;
	vm->st.ipi_flushes++;
	if (g->current != f->mm)
		return; /* switched away meanwhile: nothing of f->mm is loaded */
	gmm_kernel_enter(vm);
	if (g->lazy_tlb) {
		/* A lazy CPU leaves the mm (switch_mm_irqs_off(NULL, &init_mm)). */
		gmm_load_mm(g, NULL);
		g->lazy_stale = false;
	} else {
		if (f->full) {
			gmm_flush_tlb(g, false);
		} else {
			for (size_t i = 0; i < f->n; i++)
				gmm_invlpg(g, f->addr[i]);
		}
		gmm_pcid_synced(g, f->mm);
		f->mm->tlb_stale &= ~(UINT64_C(1) << v->id);
	}
	gmm_kernel_exit(vm);
}

/* ---- the stale-TLB audit ---- */

/* Does p still map va (a present or PROT_NONE leaf)? Reads the tables as
 * the VMM would (gpa_read64(): nothing counted). */
static bool leaf_mapped(struct gmm *g, const struct gproc *p, gva_t va)
{
	gpa_t table = p->top;
	for (int l = g->levels; l >= LVL_PT; l--) {
		uint64_t e = gmm_pv_val(g, gpa_read64(g->vm, gmm_slot(table, pt_index(va, l))), l);
		if (!gmm_pte_mapped(e))
			return false;
		if (gmm_pte_leaf(e, l))
			return true;
		table = GPA(pte_frame(e));
	}
	return false;
}

static void audit_stale(struct gmm *g, const struct gmm_flush_info *f, uint64_t mask)
{
	struct vm *vm = g->vm;
	uint16_t pcid[VMMU_MAX_VCPUS] = {0};
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		pcid[i] = vm->cur->id == i ? g->kpcid : g->pcpu[i].kpcid;
	for (size_t k = 0; k < f->n; k++) {
		/* Only an address whose leaf is gone must be absent everywhere
		 * (mprotect keeps leaves with new rights). */
		if (leaf_mapped(g, f->mm, f->addr[k]))
			continue;
		int bad = vm_stale_tlb(vm, mask, pcid, f->addr[k]);
		if (bad >= 0)
			vm_abort(vm,
				 "audit failed: invariant 'no-stale-tlb' violated: vCPU %d still "
				 "translates 0x%" PRIx64 " after its unmap was shot down",
				 bad, f->addr[k]);
	}
}

/* ---- API ---- */

int gmm_smp_boot(struct gmm *g)
{
	struct vm *vm = g->vm;
	if (vm->nr_vcpus < 2)
		return 0;
	g->pcpu = calloc(vm->nr_vcpus, sizeof(*g->pcpu));
	if (!g->pcpu) {
		snprintf(vm->err, sizeof(vm->err), "guest kernel: simulator out of memory");
		return -1;
	}
	vm->guest_cpu_switch = gmm_smp_cpu_switch;
	struct vcpu *boot = vm->cur;
	cpu_set_vector(boot, VEC_CALL_FUNCTION, flush_tlb_func, g);
	/* start_secondary(): each CPU fills its IDT, sets its paging controls
	 * as the boot CPU did and runs on the kernel's page tables. */
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = vm->cpu[i];
		if (v == boot)
			continue;
		vm_switch_cpu(vm, v);
		cpu_set_vector(v, VEC_PF, boot->idt[VEC_PF].fn, boot->idt[VEC_PF].ctx);
		cpu_set_vector(v, VEC_CALL_FUNCTION, flush_tlb_func, g);
		cpu_set_paging_ctl(v, &boot->ctl);
		gmm_load_mm(g, NULL);
	}
	vm_switch_cpu(vm, boot);
	return 0;
}

void gmm_smp_shutdown(struct gmm *g)
{
	struct vm *vm = g->vm;
	if (!g->pcpu)
		return;
	if (vm->cur != &vm->vcpu)
		vm_switch_cpu(vm, &vm->vcpu);
	vm->guest_cpu_switch = NULL;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		cpu_set_vector(vm->cpu[i], VEC_CALL_FUNCTION, NULL, NULL);
		if (i > 0)
			cpu_set_vector(vm->cpu[i], VEC_PF, NULL, NULL);
	}
	free(g->pcpu);
	g->pcpu = NULL;
}

void gmm_smp_switch_mm(struct gmm *g, struct gproc *prev, struct gproc *next)
{
	uint64_t me = UINT64_C(1) << g->vm->cur->id;
	if (prev)
		prev->cpumask &= ~me;
	if (next)
		next->cpumask |= me;
}

/* flush_tlb_multi() of f to the other CPUs in f->mm's mask. */
static void flush_others(struct gmm *g, const struct gmm_flush_info *f)
{
	struct vm *vm = g->vm;
	struct vcpu *self = vm->cur;
	uint64_t others = f->mm ? f->mm->cpumask & ~(UINT64_C(1) << self->id) : 0;
	if (!others)
		return;
	vm->st.shootdowns++;
	bool pv = vm->cfg.pv_tlb_flush && !vm->mmu->identity_p2m;
	uint64_t sent = 0;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		if (!(others >> i & 1))
			continue;
		struct vcpu *t = vm->cpu[i];
		if (pv && vcpu_preempted(vm, t)) {
			/* kvm_flush_tlb_multi(): KVM_VCPU_FLUSH_TLB, no IPI. */
			cpu_defer_flush(self, t);
			continue;
		}
		if (!f->freed_tables && g->pcpu[i].lazy_tlb) {
			/* tlb_is_not_lazy() is false: no IPI; it flushes when it
			 * runs the mm again. */
			g->pcpu[i].lazy_stale = true;
			continue;
		}
		cpu_send_ipi(self, t, VEC_CALL_FUNCTION, f);
		sent |= UINT64_C(1) << i;
	}
	if (vm->cfg.audit && !f->full)
		audit_stale(g, f, sent | (UINT64_C(1) << self->id));
}

void gmm_smp_shootdown(struct gmm *g, struct gproc *p)
{
	if (!g->pcpu)
		return;
	struct gmm_flush_info f = {.mm = p,
				   .addr = g->inv,
				   .n = g->ninv,
				   .full = g->inv_overflow,
				   .freed_tables = g->inv_freed};
	flush_others(g, &f);
}

void gmm_smp_shootdown_page(struct gmm *g, struct gproc *p, gva_t va)
{
	if (!g->pcpu)
		return;
	struct gmm_flush_info f = {.mm = p, .addr = &va, .n = 1};
	flush_others(g, &f);
}

void gmm_smp_shootdown_mm(struct gmm *g, struct gproc *p)
{
	if (!g->pcpu)
		return;
	struct gmm_flush_info f = {.mm = p, .full = true};
	flush_others(g, &f);
}

void gmm_smp_release(struct gmm *g, struct gproc *p)
{
	if (!g->pcpu)
		return;
	struct vm *vm = g->vm;
	uint64_t others = p->cpumask & ~(UINT64_C(1) << vm->cur->id);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		if ((others >> i & 1) && !g->pcpu[i].lazy_tlb)
			vm_abort(vm, "pid %d exits while one of its threads runs on vCPU %u",
				 p->pid, i);
	}
	/* exit_mmap() -> tlb_finish_mmu(): a flush with freed tables reaches
	 * the lazy CPUs, which leave the mm. */
	struct gmm_flush_info f = {.mm = p, .full = true, .freed_tables = true};
	flush_others(g, &f);
}

void gmm_cpu_idle(struct vm *vm)
{
	struct gmm *g = gmm_of(vm);
	/* enter_lazy_tlb(): keep the mm loaded, take no flush IPIs for it. */
	if (g && g->current)
		g->lazy_tlb = true;
}

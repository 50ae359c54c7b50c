/*
 * smp.c - several vCPUs: the running vCPU, IPIs, host preemption, remote
 * flushes and the stale-TLB check (smp.h states the rules and costs).
 */
#include "smp.h"
#include "cpu.h"

/* ---- private helpers ---- */

static unsigned host_cpu_of(const struct vm *vm, const struct vcpu *v)
{
	unsigned n = vm->cfg.host_cpus;
	return n ? v->id % n : v->id;
}

/* A VM exit that an IPI causes on v (ICR write, kick or EOI). */
static void ipi_exit(struct vcpu *v, enum exit_reason reason)
{
	struct vm *vm = v->vm;
	vm_exit(v, reason, &vm->st.exits_ipi, vm->cost.vmm_ipi);
}

/* KVM_VCPU_FLUSH_TLB found at entry: flush the vCPU's whole context. */
static void apply_deferred_flush(struct vcpu *v)
{
	struct vm *vm = v->vm;
	v->flush_pending = false;
	uint64_t n = tlb_flush_vpid(&v->tlb, v->vpid);
	psc_flush_vpid(&v->psc, v->vpid);
	v->n.deferred_flushes++;
	vm->st.tlb_flushes++;
	vm->st.tlb_entries_flushed += n;
	vm->st.cyc_flush += vm->cost.tlb_flush;
	TRACE(vm, .kind = TR_TLB_FLUSH, .result = n, .cycles = vm->cost.tlb_flush,
	      .what = "KVM_VCPU_FLUSH_TLB applied at entry (paravirtual TLB flush)");
}

/* ---- API ---- */

void vm_switch_cpu(struct vm *vm, struct vcpu *to)
{
	struct vcpu *from = vm->cur;
	unsigned h = host_cpu_of(vm, to);
	if (vm->host_last[h] != to->id) {
		/* Preempted until now: the host schedules it back in. */
		vm->host_last[h] = to->id;
		if (to->flush_pending)
			apply_deferred_flush(to);
	}
	if (from == to)
		return;
	if (vm->guest_cpu_switch)
		vm->guest_cpu_switch(vm, from, to);
	vm->cur = to;
}

bool vcpu_preempted(const struct vm *vm, const struct vcpu *v)
{
	return vm->host_last[host_cpu_of(vm, v)] != v->id;
}

void cpu_send_ipi(struct vcpu *from, struct vcpu *to, unsigned vec, const void *info)
{
	struct vm *vm = from->vm;
	bool exits = !vm->mmu->identity_p2m && !vm->cfg.posted_ipi;
	bool preempted = vcpu_preempted(vm, to);
	vm->st.ipis_sent++;
	vm->st.cyc_flush += vm->cost.ipi;
	vm->st.ipis_to_preempted += preempted;
	TRACE(vm, .kind = TR_GUEST_OP, .result = to->id, .cycles = vm->cost.ipi,
	      .what = "IPI sent (x2APIC ICR write)");
	if (exits)
		ipi_exit(from, EXIT_MSR_WRITE); /* the ICR write */
	const struct idt_entry *h = &to->idt[vec < VEC_NR ? vec : 0];
	if (vec >= VEC_NR || h->fn == NULL)
		vmmu_bug("ipi-handler", "IPI vector %u to vCPU %u has no handler", vec, to->id);
	vm_switch_cpu(vm, to);
	if (exits && !preempted)
		ipi_exit(to, EXIT_EXTERNAL_INTERRUPT); /* kicked to take the interrupt */
	to->n.ipis++;
	bool user = to->user;
	to->user = false;
	h->fn(to, info, h->ctx);
	to->user = user;
	if (exits)
		ipi_exit(to, EXIT_MSR_WRITE); /* the EOI write */
	vm_switch_cpu(vm, from);
}

void cpu_defer_flush(struct vcpu *from, struct vcpu *to)
{
	struct vm *vm = from->vm;
	to->flush_pending = true;
	vm->st.pv_flushes_deferred++;
	TRACE(vm, .kind = TR_GUEST_OP, .result = to->id,
	      .what = "preempted vCPU marked KVM_VCPU_FLUSH_TLB (no IPI)");
}

void vm_flush_remote_tlbs(struct vcpu *v)
{
	struct vm *vm = v->vm;
	if (vm->nr_vcpus < 2)
		return;
	vm->st.remote_tlb_flushes++;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *u = vm->cpu[i];
		if (u == v)
			continue;
		uint64_t n = tlb_flush_vpid(&u->tlb, u->vpid);
		psc_flush_vpid(&u->psc, u->vpid);
		u->n.remote_flushes++;
		vm->st.tlb_flushes++;
		vm->st.tlb_entries_flushed += n;
		vm->st.cyc_vmm += vm->cost.tlb_flush;
		TRACE(vm, .kind = TR_TLB_FLUSH, .result = n,
		      .what = "remote TLB flush (KVM_REQ_TLB_FLUSH)");
		if (!vcpu_preempted(vm, u)) {
			/* kvm_make_all_cpus_request() kicks a vCPU in guest mode. */
			vm->st.remote_flush_kicks++;
			vm->st.exits_ipi++;
			vm->st.vm_exits++;
			vm->st.cyc_exit += vm->cost.vmexit;
			vm->st.cyc_vmm += vm->cost.vmm_ipi;
		}
	}
}

/* Does array a hold a valid entry that maps gva for (vpid, pcid)? */
static bool array_maps(const struct tlb_array *a, gva_t gva, uint16_t vpid, uint16_t pcid)
{
	if (!a->e)
		return false;
	for (uint64_t i = 0; i < (uint64_t)a->sets * a->ways; i++) {
		const struct tlb_entry *e = &a->e[i];
		if (!(e->flags & TLBF_VALID) || e->vpid != vpid)
			continue;
		if (e->pcid != pcid && !(e->flags & TLBF_G))
			continue;
		unsigned shift = PAGE_SHIFT + 9 * (unsigned)e->size;
		if (e->vpn == ((gva & TLB_VA_MASK) >> shift))
			return true;
	}
	return false;
}

int vm_stale_tlb(struct vm *vm, uint64_t mask, const uint16_t *pcid, gva_t gva)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		if (!(mask >> i & 1))
			continue;
		const struct tlb *t = &vm->cpu[i]->tlb;
		uint16_t vpid = vm->cpu[i]->vpid;
		if (array_maps(&t->l1d, gva, vpid, pcid[i]) ||
		    array_maps(&t->l1d_large, gva, vpid, pcid[i]) ||
		    array_maps(&t->l1i, gva, vpid, pcid[i]) ||
		    array_maps(&t->l2, gva, vpid, pcid[i]))
			return (int)i;
	}
	return -1;
}

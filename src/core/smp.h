/*
 * smp.h - several vCPUs: which one runs, the IPIs the guest kernel sends
 * between them, host preemption, and the VMM's remote TLB flushes.
 *
 * The simulator runs in one host thread. The vCPUs take turns: the vCPU in
 * vm->cur executes; vm_switch_cpu() hands the machine to another one (the
 * threaded workloads' round robin, and the delivery of an IPI, whose
 * handler runs on its target). Every switch is a function of the run's
 * inputs, so a run stays a pure function of its seed and flags.
 *
 * Host CPUs (--host-cpus N, 0 = one per vCPU): vCPU i runs on host CPU
 * i mod N. On a shared host CPU the vCPU that ran last is running; the
 * others are preempted, as KVM marks a vCPU whose thread the host
 * scheduler took off the CPU (kvm_sched_out() sets vcpu->preempted and
 * kvm_steal_time_set_preempted() publishes it to the guest).
 *
 * IPIs (cpu_send_ipi()), as x2APIC in physical destination mode sends them
 * (one ICR write per target):
 *   - native: the IPI costs cost.ipi (send, deliver, handler entry and
 *     exit, acknowledgement), charged to cyc_flush with the flushes;
 *   - a VMM mode without --posted-ipi: the sender's ICR write exits
 *     (WRMSR), a running target is kicked out of guest mode to take the
 *     interrupt (an external-interrupt exit), and the target's EOI write
 *     exits (WRMSR): three exits per IPI to a running target, two to a
 *     preempted one (it takes the interrupt at its next entry), each
 *     charged cost.vmexit + cost.vmm_ipi;
 *   - a VMM mode with --posted-ipi: APICv posted-interrupt processing,
 *     virtual-interrupt delivery and IPI virtualization (Intel IPIv): no
 *     exit; the IPI costs cost.ipi as natively.
 * The handler then runs on the target (vm_switch_cpu() there and back).
 * The sender waits for it; the wait for a preempted target (the rest of
 * the host's time slice) is counted in ipis_to_preempted but not costed
 * (no cited figure; docs/smp.md).
 *
 * Invariants:
 *   - vm->cur is one of vm->cpu[0 .. nr_vcpus);
 *   - with one vCPU nothing here runs: vm->cur == &vm->vcpu always, and no
 *     counter of this file moves.
 */
#ifndef VMMU_SMP_H
#define VMMU_SMP_H

#include "vm.h"

/* Linux's CALL_FUNCTION_VECTOR: flush_tlb_multi() reaches its targets
 * through smp_call_function_many(), which sends this vector. */
#define VEC_CALL_FUNCTION 0xfc

/* Make 'to' the running vCPU: the guest kernel's per-CPU state moves with
 * it (vm->guest_cpu_switch). A vCPU that was preempted is scheduled back on
 * its host CPU; a KVM_VCPU_FLUSH_TLB left for it is applied first, as KVM's
 * record_steal_time() does at entry (kvm_vcpu_flush_tlb_guest()). */
void vm_switch_cpu(struct vm *vm, struct vcpu *to);

/* Is v preempted by the host (not the last vCPU to run on its host CPU)? */
bool vcpu_preempted(const struct vm *vm, const struct vcpu *v);

/* Send IPI 'vec' from 'from' to 'to' and run its handler there (see the
 * file comment for counts and costs). Caller's duty: from == vm->cur,
 * to != from, a handler is installed for vec on 'to'. */
void cpu_send_ipi(struct vcpu *from, struct vcpu *to, unsigned vec, const void *info);

/* KVM's paravirtual TLB flush for a preempted target (kvm_flush_tlb_multi()
 * sets KVM_VCPU_FLUSH_TLB in its steal-time area): no IPI; the flush is
 * applied when the vCPU runs again. */
void cpu_defer_flush(struct vcpu *from, struct vcpu *to);

/* kvm_flush_remote_tlbs() from v: every other vCPU gets KVM_REQ_TLB_FLUSH
 * and flushes its whole context (TLB and walk caches of its VPID) before it
 * enters the guest again; a running one is kicked out of guest mode (an
 * exit, charged cost.vmexit + cost.vmm_ipi). Nothing with one vCPU. */
void vm_flush_remote_tlbs(struct vcpu *v);

/*
 * The stale-TLB check: with gva's leaf removed from the tables of the
 * address space whose PCID is 'pcid' on each vCPU in 'mask' (its bit n for
 * vm->cpu[n]; pcid[] indexed the same), and the removal flushed, no vCPU's
 * TLB may still hold a translation of gva under that PCID. Returns the
 * index of the first vCPU that does, or -1. Reads the TLBs without
 * touching their state or counters.
 */
int vm_stale_tlb(struct vm *vm, uint64_t mask, const uint16_t *pcid, gva_t gva);

#endif

/*
 * threads.c - threads of one process on several vCPUs, in deterministic
 * round robin (workload.h, wl_threads_run()).
 *
 * The guest kernel's scheduler is modelled by what it decides here: thread
 * t runs on vCPU t mod N (one runqueue per CPU, no migration), the threads
 * of a vCPU take turns, and each turn lasts cfg.quantum user accesses,
 * ending at the first step boundary past it. A vCPU's first turn loads the
 * process there (switch_mm: CR3 and mm_cpumask); a vCPU whose threads have
 * all finished goes idle in lazy TLB mode (gmm_cpu_idle()).
 *
 * Invariants:
 *   - the order of steps is a function of n, the quantum and the user
 *     accesses each step makes: the same under every MMU mode;
 *   - with one vCPU and one thread, the steps run back to back on vCPU 0
 *     with no switch at all.
 */
#include "workload.h"
#include "../src/core/smp.h"

#define WL_MAX_THREADS VMMU_MAX_VCPUS

unsigned wl_nthreads(const struct wl_ctx *c)
{
	return c->vm->nr_vcpus;
}

void wl_threads_run(struct wl_ctx *c, unsigned n, wl_thread_step step, void *arg)
{
	struct vm *vm = c->vm;
	struct gproc *proc = gmm_current(vm);
	uint64_t quantum = vm->cfg.quantum ? vm->cfg.quantum : 1;
	bool done[WL_MAX_THREADS] = {false};
	unsigned left_on[VMMU_MAX_VCPUS] = {0};
	if (n == 0 || n > WL_MAX_THREADS)
		vmmu_bug("wl-threads", "%u threads (1..%u)", n, WL_MAX_THREADS);
	for (unsigned t = 0; t < n; t++)
		left_on[t % vm->nr_vcpus]++;
	unsigned left = n;
	while (left) {
		for (unsigned t = 0; t < n; t++) {
			if (done[t])
				continue;
			struct vcpu *v = vm->cpu[t % vm->nr_vcpus];
			if (vm->cur != v) {
				vm_switch_cpu(vm, v);
				wl_switch(c, proc); /* no-op when it runs proc already */
			}
			uint64_t start = vm_user_accesses(vm);
			while (vm_user_accesses(vm) - start < quantum) {
				if (!step(c, t, arg)) {
					done[t] = true;
					left--;
					if (--left_on[v->id] == 0)
						gmm_cpu_idle(vm);
					break;
				}
			}
		}
	}
	if (vm->cur != vm->cpu[0])
		vm_switch_cpu(vm, vm->cpu[0]);
	wl_switch(c, proc);
}

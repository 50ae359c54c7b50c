/*
 * test_smp.c - several vCPUs: one munmap in a 4-vCPU process, with exact
 * counts of the shootdown under native, nested and shadow paging, posted
 * IPIs off and on, the paravirtual TLB flush of a preempted vCPU, the
 * stale-TLB check, and the refusal of modes that run one vCPU.
 *
 * The scene (every test): a 4-vCPU guest, 64 MiB, default machine. One
 * process maps 4 pages at GMM_MMAP_BASE (one page table covers them). Its
 * threads run on vCPUs 0, 1 and 2, each loading word 0 of all 4 pages, so
 * each of those TLBs holds the 4 translations; vCPU 3 never runs the
 * process (it stays on the kernel's page tables), so it is not in the
 * process's mm_cpumask. Then counters are reset and vCPU 0 unmaps page 1:
 *
 *   0x10000000  page 0   mapped, in every TLB of vCPUs 0-2
 *   0x10001000  page 1   unmapped by vCPU 0: one INVLPG there, then a
 *                        flush IPI to vCPUs 1 and 2 (not 3), one INVLPG
 *                        on each
 *   0x10002000  page 2   mapped
 *   0x10003000  page 3   mapped
 *
 * No page table is freed (the VMA keeps pages 0, 2 and 3), so this is a
 * flush without freed tables. Per vCPU: INVLPGs 1, 1, 1, 0; IPIs received
 * 0, 1, 1, 0. Exits of the two IPIs: 3 each without posted interrupts
 * (ICR write, kick, EOI), none with them. Shadow adds one INVLPG exit per
 * vCPU in the mask, the trapped store of 0, and one remote flush that
 * kicks the three other vCPUs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/core/cpu.h"
#include "../src/core/smp.h"
#include "../src/guest-mm/gmm.h"
#include "../src/cli/registry.h"
#include "../src/lib/run.h"
#include "support/wl_cases.h"

#define PG PAGE_SIZE
#define NPAGES 4
#define VICTIM (GMM_MMAP_BASE + PG)

struct scene {
	const char *mode;
	bool posted_ipi, pv_tlb_flush;
	unsigned host_cpus;
	bool audit;
};

static struct vm *scene_boot(const struct scene *s)
{
	struct vm_config c;
	config_defaults(&c);
	c.mode = s->mode;
	c.guest_mem = UINT64_C(64) << 20;
	c.vcpus = 4;
	c.posted_ipi = s->posted_ipi;
	c.pv_tlb_flush = s->pv_tlb_flush;
	c.host_cpus = s->host_cpus;
	c.audit = s->audit;
	char err[256] = "";
	struct vm *vm = vm_create(&c, err, sizeof(err));
	if (!vm)
		fail_msg("vm_create: %s", err);
	assert_int_equal(gmm_boot(vm), 0);
	return vm;
}

/* The process, its 4 pages, and its threads' loads on vCPUs 0, 1, 2;
 * then every counter reset. Returns with vCPU 0 running. */
static void scene_setup(struct vm *vm)
{
	struct gproc *p = gmm_proc_create(vm);
	assert_non_null(p);
	gva_t va = gmm_mmap(vm, 0, NPAGES * PG, GPROT_READ | GPROT_WRITE, 0);
	assert_int_equal(va, GMM_MMAP_BASE);
	cpu_set_user(vm->cur, true);
	for (unsigned i = 0; i < NPAGES; i++)
		cpu_store(vm->cur, va + i * PG, 8, 0x5a00 + i);
	for (unsigned c = 0; c < 3; c++) {
		vm_switch_cpu(vm, vm->cpu[c]);
		gmm_switch_to(vm, p);
		cpu_set_user(vm->cur, true);
		for (unsigned i = 0; i < NPAGES; i++)
			assert_int_equal(cpu_load(vm->cur, va + i * PG, 8), 0x5a00 + i);
	}
	vm_switch_cpu(vm, vm->cpu[0]);
	memset(&vm->st, 0, sizeof(vm->st));
	for (unsigned c = 0; c < vm->nr_vcpus; c++)
		memset(&vm->cpu[c]->n, 0, sizeof(vm->cpu[c]->n));
}

static struct vm *scene_munmap(const struct scene *s)
{
	struct vm *vm = scene_boot(s);
	scene_setup(vm);
	assert_int_equal(gmm_munmap(vm, VICTIM, PG), 0);
	return vm;
}

/* Per-vCPU INVLPG and IPI counts of the scene: 1, 1, 1, 0 and 0, 1, 1, 0. */
static void assert_per_vcpu(const struct vm *vm)
{
	const uint64_t invlpgs[4] = {1, 1, 1, 0}, ipis[4] = {0, 1, 1, 0};
	for (unsigned c = 0; c < 4; c++) {
		assert_int_equal(vm->cpu[c]->n.invlpgs, invlpgs[c]);
		assert_int_equal(vm->cpu[c]->n.ipis, ipis[c]);
		assert_int_equal(vm->cpu[c]->n.guest_flushes, 0);
	}
}

/* No vCPU still translates the unmapped page afterwards; with 'kept', the
 * pages still mapped are still in the TLBs of the vCPUs that loaded them
 * (native and nested: nothing else flushed them; shadow's remote flushes
 * empty the other vCPUs' TLBs). */
static void assert_no_stale(struct vm *vm, bool kept)
{
	uint16_t pcid[VMMU_MAX_VCPUS] = {0};
	for (unsigned c = 0; c < 4; c++)
		pcid[c] = vcpu_pcid(vm->cpu[c]);
	assert_int_equal(vm_stale_tlb(vm, 0xf, pcid, VICTIM), -1);
	if (!kept)
		return;
	/* ... while the pages still mapped are in every TLB that loaded them. */
	assert_int_equal(vm_stale_tlb(vm, 0x1, pcid, GMM_MMAP_BASE), 0);
	assert_int_equal(vm_stale_tlb(vm, 0x2, pcid, GMM_MMAP_BASE), 1);
	assert_int_equal(vm_stale_tlb(vm, 0x4, pcid, GMM_MMAP_BASE), 2);
	assert_int_equal(vm_stale_tlb(vm, 0x8, pcid, GMM_MMAP_BASE), -1);
}

/* ---- native ---- */

static void test_native_munmap(void **state)
{
	(void)state;
	struct vm *vm = scene_munmap(&(struct scene){.mode = "native"});
	assert_int_equal(vm->st.shootdowns, 1);
	assert_int_equal(vm->st.ipis_sent, 2); /* vCPUs 1 and 2: the mask, less the sender */
	assert_int_equal(vm->st.ipi_flushes, 2);
	assert_int_equal(vm->st.invlpgs, 3);
	assert_int_equal(vm->st.vm_exits, 0);
	assert_int_equal(vm->st.cyc_flush, 3 * vm->cost.invlpg + 2 * vm->cost.ipi);
	assert_per_vcpu(vm);
	assert_no_stale(vm, true);
	vm_destroy(vm);
}

/* ---- nested: no exit but the IPIs' ---- */

static void test_nested_munmap(void **state)
{
	(void)state;
	struct vm *vm = scene_munmap(&(struct scene){.mode = "nested"});
	assert_int_equal(vm->st.ipis_sent, 2);
	/* Each IPI: the ICR write, the kick of the running target, its EOI. */
	assert_int_equal(vm->st.exits_ipi, 6);
	assert_int_equal(vm->st.vm_exits, 6);
	assert_int_equal(vm->st.invlpgs, 3);
	assert_per_vcpu(vm);
	assert_no_stale(vm, true);
	vm_destroy(vm);
}

static void test_nested_munmap_posted(void **state)
{
	(void)state;
	struct vm *vm = scene_munmap(&(struct scene){.mode = "nested", .posted_ipi = true});
	assert_int_equal(vm->st.ipis_sent, 2);
	assert_int_equal(vm->st.exits_ipi, 0);
	assert_int_equal(vm->st.vm_exits, 0);
	assert_per_vcpu(vm);
	assert_no_stale(vm, true);
	vm_destroy(vm);
}

/* ---- shadow: INVLPG exits on every vCPU, and one remote flush ---- */

static void test_shadow_munmap(void **state)
{
	(void)state;
	struct vm *vm = scene_munmap(&(struct scene){.mode = "shadow", .audit = true});
	assert_int_equal(vm->st.ipis_sent, 2);
	assert_int_equal(vm->st.exits_invlpg, 3); /* one on each vCPU in the mask */
	/* The leaf table is in sync: vCPUs 1 and 2 loaded CR3 after vCPU 0's
	 * stores, which synced it and write-protected it again (KVM's
	 * kvm_mmu_sync_roots() on kvm_set_cr3()). So the store of 0 traps;
	 * the VMM zaps the spte of page 1 and, before vCPU 0 re-enters, calls
	 * kvm_flush_remote_tlbs() once, which kicks vCPUs 1, 2 and 3 (all in
	 * guest mode). The INVLPGs change no spte: no further remote flush. */
	assert_int_equal(vm->st.exits_pt_write, 1);
	assert_int_equal(vm->st.remote_tlb_flushes, 1);
	assert_int_equal(vm->st.remote_flush_kicks, 3);
	assert_int_equal(vm->st.exits_ipi, 6 + 3);
	assert_int_equal(vm->st.vm_exits, 1 + 3 + 9);
	for (unsigned c = 1; c < 4; c++)
		assert_int_equal(vm->cpu[c]->n.remote_flushes, 1);
	assert_int_equal(vm->cpu[0]->n.remote_flushes, 0);
	assert_per_vcpu(vm);
	assert_no_stale(vm, false);
	vm_destroy(vm);
}

static void test_shadow_munmap_posted(void **state)
{
	(void)state;
	struct vm *vm = scene_munmap(&(struct scene){.mode = "shadow", .posted_ipi = true});
	assert_int_equal(vm->st.ipis_sent, 2);
	assert_int_equal(vm->st.exits_invlpg, 3);
	/* Posted IPIs remove the IPIs' exits, not the remote flush's kicks. */
	assert_int_equal(vm->st.remote_tlb_flushes, 1);
	assert_int_equal(vm->st.exits_ipi, 3);
	assert_int_equal(vm->st.vm_exits, 1 + 3 + 3);
	assert_per_vcpu(vm);
	vm_destroy(vm);
}

/* ---- preempted targets: 2 host CPUs for 4 vCPUs ---- */

/* vCPUs 0 and 2 share host CPU 0, 1 and 3 host CPU 1. After the set-up
 * vCPU 0 ran last on host CPU 0 (vCPU 2 is preempted) and vCPU 1 on host
 * CPU 1 (running). */
static void test_nested_preempted_ipi(void **state)
{
	(void)state;
	struct vm *vm = scene_munmap(&(struct scene){.mode = "nested", .host_cpus = 2});
	assert_int_equal(vm->st.ipis_sent, 2);
	assert_int_equal(vm->st.ipis_to_preempted, 1);
	/* vCPU 1: ICR, kick, EOI; vCPU 2 takes it at its next entry: ICR, EOI. */
	assert_int_equal(vm->st.exits_ipi, 3 + 2);
	assert_int_equal(vm->st.pv_flushes_deferred, 0);
	assert_per_vcpu(vm);
	vm_destroy(vm);
}

static void test_nested_pv_tlb_flush(void **state)
{
	(void)state;
	struct vm *vm =
	    scene_munmap(&(struct scene){.mode = "nested", .host_cpus = 2, .pv_tlb_flush = true});
	/* kvm_flush_tlb_multi(): vCPU 2 is preempted, marked
	 * KVM_VCPU_FLUSH_TLB, sent nothing; vCPU 1 gets the IPI. */
	assert_int_equal(vm->st.pv_flushes_deferred, 1);
	assert_int_equal(vm->st.ipis_sent, 1);
	assert_int_equal(vm->st.exits_ipi, 3);
	assert_int_equal(vm->cpu[1]->n.ipis, 1);
	assert_int_equal(vm->cpu[2]->n.ipis, 0);
	assert_int_equal(vm->cpu[2]->n.invlpgs, 0);
	assert_true(vm->cpu[2]->flush_pending);
	/* Until it runs, vCPU 2's TLB still holds the page ... */
	uint16_t pcid[VMMU_MAX_VCPUS] = {0};
	for (unsigned c = 0; c < 4; c++)
		pcid[c] = vcpu_pcid(vm->cpu[c]);
	assert_int_equal(vm_stale_tlb(vm, 0x4, pcid, VICTIM), 2);
	/* ... and the host flushes it when it schedules vCPU 2 back in. */
	vm_switch_cpu(vm, vm->cpu[2]);
	assert_false(vm->cpu[2]->flush_pending);
	assert_int_equal(vm->cpu[2]->n.deferred_flushes, 1);
	assert_int_equal(vm_stale_tlb(vm, 0xf, pcid, VICTIM), -1);
	assert_int_equal(vm_stale_tlb(vm, 0x4, pcid, GMM_MMAP_BASE), -1);
	vm_switch_cpu(vm, vm->cpu[0]);
	vm_destroy(vm);
}

/* ---- lazy TLB: an idle vCPU is skipped, then flushes on return ---- */

static void test_lazy_vcpu_skipped(void **state)
{
	(void)state;
	struct vm *vm = scene_boot(&(struct scene){.mode = "native"});
	scene_setup(vm);
	struct gproc *p = gmm_current(vm);
	vm_switch_cpu(vm, vm->cpu[2]);
	gmm_cpu_idle(vm); /* vCPU 2's thread ends: lazy, still in the mask */
	vm_switch_cpu(vm, vm->cpu[0]);
	assert_int_equal(gmm_munmap(vm, VICTIM, PG), 0);
	assert_int_equal(vm->st.ipis_sent, 1); /* tlb_is_not_lazy(): vCPU 1 only */
	assert_int_equal(vm->cpu[2]->n.ipis, 0);
	/* Back to the process on vCPU 2: its stale PCID is flushed. */
	vm_switch_cpu(vm, vm->cpu[2]);
	gmm_switch_to(vm, p);
	assert_int_equal(vm->cpu[2]->n.guest_flushes, 1);
	uint16_t pcid[VMMU_MAX_VCPUS] = {0};
	pcid[2] = vcpu_pcid(vm->cpu[2]);
	assert_int_equal(vm_stale_tlb(vm, 0x4, pcid, VICTIM), -1);
	vm_switch_cpu(vm, vm->cpu[0]);
	vm_destroy(vm);
}

/* ---- the stale-TLB check can fail ---- */

static void test_stale_tlb_detected(void **state)
{
	(void)state;
	struct vm *vm = scene_boot(&(struct scene){.mode = "native"});
	scene_setup(vm);
	/* Remove page 1's leaf behind every vCPU's back: no INVLPG, no IPI. */
	uint64_t pt = 0;
	gpa_t table = GPA(pte_frame(vm->cpu[0]->cr3));
	for (int l = 4; l > 1; l--)
		table = GPA(pte_frame(gpa_read64(vm, GPA(table.v + 8 * pt_index(VICTIM, l)))));
	pt = table.v + 8 * pt_index(VICTIM, 1);
	gpa_write64(vm, GPA(pt), 0);
	uint16_t pcid[VMMU_MAX_VCPUS] = {0};
	for (unsigned c = 0; c < 4; c++)
		pcid[c] = vcpu_pcid(vm->cpu[c]);
	assert_int_equal(vm_stale_tlb(vm, 0xe, pcid, VICTIM), 1);
	vm_destroy(vm);
}

/* ---- equivalence, and modes that run one vCPU ---- */

/* Every workload at --vcpus 4: shadow and nested give native's checksum
 * and guest digest, with the audit on (the stale-TLB check after every
 * shootdown included). The threaded ones really interleave: their checksum
 * differs from the same run on one vCPU. */
static void test_equivalence_4_vcpus(void **state)
{
	(void)state;
	size_t n = 0;
	for (const struct workload *const *w = workloads; *w; w++, n++) {
		const struct wl_case *wc = wl_case_find((*w)->name);
		if (!wc)
			fail_msg("workload %s has no case in tests/support/wl_cases.c", (*w)->name);
		struct wl_params p = wc->p;
		/* More steps than the shared case, so that munmaps meet threads
		 * on several vCPUs. */
		if (strcmp(wc->name, "mmap-churn-mt") == 0)
			p.ops = 400;
		p.seed = 7;
		struct run_result ref = {0}, one;
		const char *modes[] = {"native", "shadow", "nested"};
		for (unsigned m = 0; m < 3; m++) {
			struct vm_config c;
			config_defaults(&c);
			c.mode = modes[m];
			c.guest_mem = UINT64_C(64) << 20;
			c.vcpus = 4;
			c.quantum = 100;
			c.audit = true;
			struct run_result r;
			if (run_workload(&c, *w, &p, NULL, &r) != 0)
				fail_msg("%s under %s with 4 vCPUs: %s", (*w)->name, modes[m],
					 r.err);
			if (m == 0) {
				ref = r;
				c.vcpus = 1;
				assert_int_equal(run_workload(&c, *w, &p, NULL, &one), 0);
				bool threaded = strstr((*w)->name, "-mt") != NULL;
				assert_int_equal(one.checksum != r.checksum, threaded);
				continue;
			}
			if (r.checksum != ref.checksum || r.guest_digest != ref.guest_digest)
				fail_msg("%s: %s differs from native with 4 vCPUs", (*w)->name,
					 modes[m]);
		}
	}
	assert_int_equal(n, wl_ncases);
}

static void test_refused_modes(void **state)
{
	(void)state;
	const char *modes[] = {"agile", "switching", "pv"};
	for (unsigned i = 0; i < 3; i++) {
		struct vm_config c;
		config_defaults(&c);
		c.mode = modes[i];
		c.guest_mem = UINT64_C(64) << 20;
		c.vcpus = 2;
		char err[256] = "";
		assert_null(vm_create(&c, err, sizeof(err)));
		assert_non_null(strstr(err, "--vcpus 2"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_native_munmap),
	    cmocka_unit_test(test_nested_munmap),
	    cmocka_unit_test(test_nested_munmap_posted),
	    cmocka_unit_test(test_shadow_munmap),
	    cmocka_unit_test(test_shadow_munmap_posted),
	    cmocka_unit_test(test_nested_preempted_ipi),
	    cmocka_unit_test(test_nested_pv_tlb_flush),
	    cmocka_unit_test(test_lazy_vcpu_skipped),
	    cmocka_unit_test(test_stale_tlb_detected),
	    cmocka_unit_test(test_refused_modes),
	    cmocka_unit_test(test_equivalence_4_vcpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

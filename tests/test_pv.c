/*
 * test_pv.c - the paravirtual MMU (src/pv/) and the guest kernel's
 * paravirtual hooks (src/guest-mm/xen.c): exact hypercall counts of a fork
 * and of a munmap with and without lazy-MMU batching, the hypervisor's
 * refusals of unsafe updates (Popek-Goldberg isolation), and the machine
 * frames in the guest's tables.
 *
 * Memory map of the fixture (4-level guest, 64 MiB):
 *   0x10000000   the test's mapping: N pages, in one leaf table
 *   direct map   GMM_DIRECT_BASE_4L + gpa, 2 MiB supervisor leaves
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/core/cpu.h"
#include "../src/core/hypercall.h"
#include "../src/guest-mm/gmm.h"
#include "../src/cli/registry.h"

#define PG PAGE_SIZE

static struct vm *boot_pv_dm(bool batch, enum page_size direct_map)
{
	struct vm_config c;
	config_defaults(&c);
	c.mode = "pv";
	c.guest_mem = UINT64_C(64) << 20;
	c.pv_batch = batch;
	c.direct_map_page = direct_map;
	char err[256] = "";
	struct vm *vm = vm_create(&c, err, sizeof(err));
	if (!vm)
		fail_msg("vm_create: %s", err);
	assert_int_equal(gmm_boot(vm), 0);
	memset(&vm->st, 0, sizeof(vm->st));
	return vm;
}

static struct vm *boot_pv(bool batch)
{
	return boot_pv_dm(batch, PG_2M);
}

/* A process with n written pages at the mmap base. */
static gva_t map_and_touch(struct vm *vm, uint64_t n)
{
	assert_non_null(gmm_proc_create(vm));
	gva_t a = gmm_mmap(vm, 0, n * PG, GPROT_READ | GPROT_WRITE, 0);
	assert_int_equal(a, GMM_MMAP_BASE);
	cpu_set_user(&vm->vcpu, true);
	for (uint64_t i = 0; i < n; i++)
		cpu_store(&vm->vcpu, a + i * PG, 8, i + 1);
	cpu_set_user(&vm->vcpu, false);
	return a;
}

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

/*
 * fork of a process with n pages in one leaf table. The child's top table
 * is pinned (1 mmuext), gets the kernel's top-level entry (1 mmu_update),
 * and three new tables linked below it (3 mmu_updates, one per level);
 * in the leaf table each page costs two updates (the parent's entry made
 * read-only, the child's written); then the parent's PCID is flushed
 * (1 mmuext). Batched, the 2n leaf updates go in ceil(2n / 32) calls;
 * unbatched each is a call: 6 + ceil(2n/32) against 6 + 2n.
 */
static void test_fork_hypercalls(void **state)
{
	(void)state;
	static const uint64_t sizes[] = {1, 16, 40};
	for (size_t i = 0; i < 3; i++) {
		uint64_t n = sizes[i];
		for (int batch = 0; batch < 2; batch++) {
			struct vm *vm = boot_pv(batch);
			map_and_touch(vm, n);
			memset(&vm->st, 0, sizeof(vm->st));
			assert_non_null(gmm_fork(vm, gmm_current(vm)));
			uint64_t want = 6 + (batch ? div_up(2 * n, 32) : 2 * n);
			if (vm->st.hypercalls != want)
				fail_msg("fork of %" PRIu64 " pages, batch %d: %" PRIu64
					 " hypercalls, expected %" PRIu64,
					 n, batch, vm->st.hypercalls, want);
			assert_int_equal(vm->st.pv_pt_updates, 4 + 2 * n);
			assert_int_equal(vm->st.pv_mmuext_ops, 2);
			assert_int_equal(vm->st.pv_batches, batch ? div_up(2 * n, 32) : 0);
			assert_int_equal(vm->st.pv_refused, 0);
			assert_int_equal(vm->st.vm_exits, 0);
			vm_audit(vm);
			vm_destroy(vm);
		}
	}
}

/*
 * munmap of the whole n-page mapping (n <= 33, the INVLPG threshold): n
 * leaf entries cleared (in the lazy section of zap_pte_range()), then the
 * three tables the mapping emptied unlinked (3 mmu_updates, outside any
 * lazy section, as Linux's free_pgtables()), then one INVLPG per page
 * (n mmuext calls). Batched: ceil(n/32) + 3 + n; unbatched: 2n + 3.
 */
static void test_munmap_hypercalls(void **state)
{
	(void)state;
	static const uint64_t sizes[] = {1, 8, 33};
	for (size_t i = 0; i < 3; i++) {
		uint64_t n = sizes[i];
		for (int batch = 0; batch < 2; batch++) {
			struct vm *vm = boot_pv(batch);
			gva_t a = map_and_touch(vm, n);
			memset(&vm->st, 0, sizeof(vm->st));
			assert_int_equal(gmm_munmap(vm, a, n * PG), 0);
			uint64_t want = (batch ? div_up(n, 32) : n) + 3 + n;
			if (vm->st.hypercalls != want)
				fail_msg("munmap of %" PRIu64 " pages, batch %d: %" PRIu64
					 " hypercalls, expected %" PRIu64,
					 n, batch, vm->st.hypercalls, want);
			assert_int_equal(vm->st.pv_pt_updates, n + 3);
			assert_int_equal(vm->st.invlpgs, n);
			vm_audit(vm);
			vm_destroy(vm);
		}
	}
}

/* The guest's leaf holds the machine frame of its guest frame. */
static void test_tables_hold_machine_frames(void **state)
{
	(void)state;
	struct vm *vm = boot_pv(true);
	gva_t a = map_and_touch(vm, 1);
	/* Walk the tables from the machine root in CR3. */
	uint64_t t = vm->vcpu.cr3 & PTE_FRAME_MASK, e = 0;
	for (int l = 4; l >= 1; l--) {
		e = hpa_read64(vm, HPA(t + 8 * pt_index(a, l)));
		assert_true(gpte_present(e));
		t = pte_frame(e);
	}
	hfn_t mfn = pte_frame(e) >> PAGE_SHIFT;
	gfn_t pfn = vm->p2m.m2p[mfn];
	assert_int_equal(p2m_lookup(vm, pfn), mfn);
	assert_true(pfn != mfn); /* machine and guest frames visibly differ */
	vm_destroy(vm);
}

/* The machine address of the leaf entry that maps va, and its value. */
static uint64_t leaf_slot(struct vm *vm, gva_t va, uint64_t *entry)
{
	uint64_t t = vm->vcpu.cr3 & PTE_FRAME_MASK, slot = 0;
	for (int l = 4; l >= 1; l--) {
		slot = t + 8 * pt_index(va, l);
		*entry = hpa_read64(vm, HPA(slot));
		t = pte_frame(*entry);
	}
	return slot;
}

/*
 * Each unsafe update is refused with an error code, and nothing changes:
 *   - a writable mapping of a page table (the leaf table itself): -EINVAL;
 *   - a mapping of a frame that is not the guest's (a VMM frame): -EPERM;
 *   - a store to a frame that is not a page table: -EINVAL;
 *   - a new base that is not a pinned top-level table: -EINVAL;
 *   - a direct write through the kernel's direct map to a page table
 *     faults (the hypervisor never lets the TLB hold it writable).
 * A read-only mapping of the same table is accepted (Xen allows it).
 */
static void test_refusals(void **state)
{
	(void)state;
	struct vm *vm = boot_pv(true);
	struct vcpu *v = &vm->vcpu;
	gva_t a = map_and_touch(vm, 2);
	uint64_t e;
	uint64_t slot = leaf_slot(vm, a, &e);
	uint64_t table = slot & PAGE_MASK; /* machine frame of the leaf table */
	uint64_t before = hpa_read64(vm, HPA(slot + 8));
	memset(&vm->st, 0, sizeof(vm->st));

	struct mmu_update u = {.ptr = slot + 8,
			       .val = table | GPTE_P | GPTE_RW | GPTE_US | GPTE_A | GPTE_D};
	assert_int_equal(cpu_hypercall(v, HYPERVISOR_mmu_update, &u, 1), -PV_EINVAL);
	assert_int_equal(hpa_read64(vm, HPA(slot + 8)), before);

	hfn_t foreign = hostmem_alloc_frame(vm);
	u.val = (foreign << PAGE_SHIFT) | GPTE_P | GPTE_US;
	assert_int_equal(cpu_hypercall(v, HYPERVISOR_mmu_update, &u, 1), -PV_EPERM);
	assert_int_equal(hpa_read64(vm, HPA(slot + 8)), before);

	uint64_t data = pte_frame(e);
	u = (struct mmu_update){.ptr = data, .val = 0};
	assert_int_equal(cpu_hypercall(v, HYPERVISOR_mmu_update, &u, 1), -PV_EINVAL);

	struct mmuext_op x = {.cmd = MMUEXT_NEW_BASEPTR, .arg = table >> PAGE_SHIFT};
	assert_int_equal(cpu_hypercall(v, HYPERVISOR_mmuext_op, &x, 1), -PV_EINVAL);
	assert_int_equal(vm->st.pv_refused, 4);
	assert_int_equal(vm->st.pv_pt_updates, 0);
	assert_int_equal(vm->st.cr3_loads, 0);

	/* Read-only: accepted. */
	u = (struct mmu_update){.ptr = slot + 8, .val = table | GPTE_P | GPTE_US | GPTE_A};
	assert_int_equal(cpu_hypercall(v, HYPERVISOR_mmu_update, &u, 1), 0);
	assert_int_equal(vm->st.pv_pt_updates, 1);
	vm_audit(vm);

	/* A kernel store to the table through the direct map faults: with
	 * no handler for kernel addresses the run aborts. */
	gfn_t tpfn = vm->p2m.m2p[table >> PAGE_SHIFT];
	jmp_buf jb;
	vm->abort_jmp = &jb;
	if (setjmp(jb) == 0) {
		cpu_store(v, gmm_kva(vm, gfn_to_gpa(tpfn)), 8, 0);
		fail_msg("a store to a page table through the direct map went through");
	}
	vm->abort_jmp = NULL;
	assert_int_equal(hpa_read64(vm, HPA(slot)), e);
	vm_destroy(vm);
}

/*
 * A guest smaller than its one 1 GiB direct-map page. The domain builder
 * hands out one 1 GiB machine extent; the guest's 64 MiB fill the head of
 * it and the direct map's 1 GiB leaf covers all of it. The tail is the
 * domain's (owned) but holds no guest frame (no m2p entry). Validating that
 * leaf once refused the boot with -EPERM (ownership was read from the m2p).
 * Now it boots, fork and munmap make the same calls as with 2 MiB pages,
 * and a frame outside the extent is still refused.
 *
 *   machine: [ extent base ... +64 MiB: guest frames | ... +1 GiB: owned,
 *              no gfn ] [ VMM frames: not the guest's ]
 */
static void test_1g_direct_map_small_guest(void **state)
{
	(void)state;
	struct vm *vm = boot_pv_dm(true, PG_1G);
	struct vcpu *v = &vm->vcpu;
	/* The kernel's direct-map leaf: one 1 GiB entry in the PDPT. */
	gva_t kva = gmm_kva(vm, GPA(0));
	uint64_t t = vm->vcpu.cr3 & PTE_FRAME_MASK, e = 0;
	for (int l = 4; l >= LVL_PDPT; l--) {
		e = hpa_read64(vm, HPA(t + 8 * pt_index(kva, l)));
		assert_true(gpte_present(e));
		t = pte_frame(e);
	}
	assert_true(gpte_large(e, LVL_PDPT));
	hfn_t base = gpte_leaf_frame(e, LVL_PDPT) >> PAGE_SHIFT;
	uint64_t guest_frames = (UINT64_C(64) << 20) >> PAGE_SHIFT;
	assert_int_equal(vm->p2m.m2p[base], 0);
	assert_int_equal(vm->p2m.m2p[base + guest_frames - 1], guest_frames - 1);
	assert_int_equal(vm->p2m.m2p[base + guest_frames], INVALID_HFN);
	vm_audit(vm);

	gva_t a = map_and_touch(vm, 16);
	memset(&vm->st, 0, sizeof(vm->st));
	assert_non_null(gmm_fork(vm, gmm_current(vm)));
	assert_int_equal(vm->st.hypercalls, 6 + 1);
	assert_int_equal(vm->st.pv_refused, 0);
	memset(&vm->st, 0, sizeof(vm->st));
	assert_int_equal(gmm_munmap(vm, a, 8 * PG), 0);
	assert_int_equal(vm->st.pv_refused, 0);

	uint64_t slot = leaf_slot(vm, a + 8 * PG, &e);
	uint64_t before = hpa_read64(vm, HPA(slot));
	hfn_t foreign = hostmem_alloc_frame(vm);
	struct mmu_update u = {.ptr = slot, .val = (foreign << PAGE_SHIFT) | GPTE_P | GPTE_US};
	assert_int_equal(cpu_hypercall(v, HYPERVISOR_mmu_update, &u, 1), -PV_EPERM);
	assert_int_equal(hpa_read64(vm, HPA(slot)), before);
	assert_int_equal(vm->st.pv_refused, 1);
	vm_audit(vm);
	vm_destroy(vm);
}

/* A mode without a hypercall hook answers -ENOSYS. */
static void test_native_has_no_hypercalls(void **state)
{
	(void)state;
	struct vm_config c;
	config_defaults(&c);
	c.guest_mem = UINT64_C(64) << 20;
	char err[256];
	struct vm *vm = vm_create(&c, err, sizeof(err));
	assert_non_null(vm);
	struct mmu_update u = {0};
	assert_int_equal(cpu_hypercall(&vm->vcpu, HYPERVISOR_mmu_update, &u, 1), -PV_ENOSYS);
	vm_destroy(vm);
}

/* KPTI is refused with a message that names the flag. */
static void test_kpti_refused(void **state)
{
	(void)state;
	struct vm_config c;
	config_defaults(&c);
	c.mode = "pv";
	c.kpti = true;
	c.guest_mem = UINT64_C(64) << 20;
	char err[256] = "";
	assert_null(vm_create(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "--kpti"));
}

/*
 * CR0.WP = 0 is refused: at creation, with a message that names the flag,
 * and when the guest clears WP later, with a guest-level error (Xen's
 * write_cr() refuses CR0 changes other than TS for a PV guest).
 */
static void test_wp0_refused(void **state)
{
	(void)state;
	assert_true(pv_mmu_ops.refuses_wp0);
	struct vm_config c;
	config_defaults(&c);
	c.mode = "pv";
	c.cr0_wp = false;
	c.guest_mem = UINT64_C(64) << 20;
	char err[256] = "";
	assert_null(vm_create(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "--wp off"));
	assert_non_null(strstr(err, "write_cr()"));

	struct vm *vm = boot_pv(true);
	jmp_buf jb;
	vm->abort_jmp = &jb;
	if (setjmp(jb) == 0) {
		struct paging_ctl ctl = vm->vcpu.ctl;
		ctl.wp = false;
		cpu_set_paging_ctl(&vm->vcpu, &ctl);
		fail_msg("pv let the guest clear CR0.WP");
	}
	assert_non_null(strstr(vm->err, "CR0.WP"));
	vm_destroy(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fork_hypercalls),
	    cmocka_unit_test(test_munmap_hypercalls),
	    cmocka_unit_test(test_tables_hold_machine_frames),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_1g_direct_map_small_guest),
	    cmocka_unit_test(test_native_has_no_hypercalls),
	    cmocka_unit_test(test_kpti_refused),
	    cmocka_unit_test(test_wp0_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

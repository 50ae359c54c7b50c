/*
 * test_numa.c - the simulated NUMA host (src/core/numa.c): where page
 * tables live under each --pt-place policy, and the exact local and remote
 * walk references of one TLB miss under native, nested and shadow paging.
 *
 * The scene: 2 vCPUs on 2 nodes (vCPU 0 on node 0, vCPU 1 on node 1),
 * walk caches off, 64 MiB. A process maps one page at GMM_MMAP_BASE and
 * stores to it on vCPU 0, so vCPU 0 allocates every table of the walk
 * (the guest's tables, and under shadow and nested the shadow pages and
 * EPT tables). Then vCPU 1 runs the process and loads the page: one TLB
 * miss, one walk, counted from a fresh start:
 *
 *   mode     references   first-touch      remote          replicate
 *   native        4        4 remote         4 local         4 local
 *   shadow        4        4 remote         4 local         4 local
 *   nested       24       24 remote        24 local        24 local
 *
 * (remote places every table on the node after its allocator's, so the
 * tables vCPU 0 made are on vCPU 1's node.)
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

static struct vm *scene(const char *mode, enum pt_place place, unsigned nodes)
{
	struct vm_config c;
	config_defaults(&c);
	c.mode = mode;
	c.guest_mem = UINT64_C(64) << 20;
	c.vcpus = 2;
	c.host_nodes = nodes;
	c.pt_place = place;
	c.walk_caches = false;
	char err[256] = "";
	struct vm *vm = vm_create(&c, err, sizeof(err));
	if (!vm)
		fail_msg("vm_create: %s", err);
	assert_int_equal(gmm_boot(vm), 0);
	struct gproc *p = gmm_proc_create(vm);
	assert_non_null(p);
	assert_int_equal(gmm_mmap(vm, 0, PAGE_SIZE, GPROT_READ | GPROT_WRITE, 0), GMM_MMAP_BASE);
	cpu_set_user(vm->cur, true);
	cpu_store(vm->cur, GMM_MMAP_BASE, 8, 0x5a5a);
	vm_switch_cpu(vm, vm->cpu[1]);
	gmm_switch_to(vm, p);
	cpu_set_user(vm->cur, true);
	memset(&vm->st, 0, sizeof(vm->st));
	assert_int_equal(cpu_load(vm->cur, GMM_MMAP_BASE, 8), 0x5a5a);
	return vm;
}

static void check(const char *mode, enum pt_place place, uint64_t local, uint64_t remote)
{
	struct vm *vm = scene(mode, place, 2);
	assert_int_equal(vm->st.tlb_misses, 1);
	assert_int_equal(vm->st.walks, 1);
	assert_int_equal(vm->st.walk_refs_local, local);
	assert_int_equal(vm->st.walk_refs_remote, remote);
	assert_int_equal(vm->st.walk_refs, local + remote);
	vm_switch_cpu(vm, vm->cpu[0]);
	vm_destroy(vm);
}

static void test_native(void **state)
{
	(void)state;
	check("native", PT_FIRST_TOUCH, 0, 4);
	check("native", PT_REMOTE, 4, 0);
	check("native", PT_REPLICATE, 4, 0);
}

static void test_shadow(void **state)
{
	(void)state;
	check("shadow", PT_FIRST_TOUCH, 0, 4);
	check("shadow", PT_REMOTE, 4, 0);
	check("shadow", PT_REPLICATE, 4, 0);
}

static void test_nested(void **state)
{
	(void)state;
	check("nested", PT_FIRST_TOUCH, 0, 24);
	check("nested", PT_REMOTE, 24, 0);
	check("nested", PT_REPLICATE, 24, 0);
}

/* Interleave: a table's node is its frame number mod 2, so the walk's
 * local references are those to odd frames (vCPU 1 is on node 1). */
static void test_native_interleave(void **state)
{
	(void)state;
	struct vm *vm = scene("native", PT_INTERLEAVE, 2);
	uint64_t odd = 0;
	gpa_t table = GPA(pte_frame(vm->cpu[1]->cr3));
	for (int l = 4; l >= 1; l--) {
		odd += gpa_to_gfn(table) & 1;
		table = GPA(pte_frame(gpa_read64(vm, GPA(table.v + 8 * pt_index(GMM_MMAP_BASE, l)))));
	}
	assert_int_equal(vm->st.walk_refs_local, odd);
	assert_int_equal(vm->st.walk_refs_remote, 4 - odd);
	vm_switch_cpu(vm, vm->cpu[0]);
	vm_destroy(vm);
}

/* A remote reference costs ref_remote when DRAM serves it, and its cache
 * level's latency otherwise; a local one always the latter. vCPU 1 runs;
 * the process's top table is on node 0 (first touch by vCPU 0). */
static void test_remote_latency(void **state)
{
	(void)state;
	struct vm *vm = scene("native", PT_FIRST_TOUCH, 2);
	uint64_t top = pte_frame(vm->cpu[1]->cr3);
	const struct cost_model *c = &vm->cost;
	assert_int_equal(numa_walk_ref(vm, top, CACHE_DRAM, c->ref_dram), c->ref_remote);
	assert_int_equal(numa_walk_ref(vm, top, CACHE_LLC, c->ref_llc), c->ref_llc);
	assert_int_equal(vm->st.walk_refs_remote, 4 + 2);
	vm_switch_cpu(vm, vm->cpu[0]);
	assert_int_equal(numa_walk_ref(vm, top, CACHE_DRAM, c->ref_dram), c->ref_dram);
	assert_int_equal(vm->st.walk_refs_local, 1);
	assert_int_equal(c->ref_remote, 312); /* 200 x 139 / 89 (docs/cost-model.md) */
	vm_destroy(vm);
}

/* Replicate: every store to a guest table is made on the other node's copy
 * too. An munmap of the scene's page clears its leaf and frees the PT, PD
 * and PDPT (4 stores), each with one replica store. */
static void test_replica_stores(void **state)
{
	(void)state;
	struct vm *vm = scene("native", PT_REPLICATE, 2);
	vm_switch_cpu(vm, vm->cpu[0]);
	memset(&vm->st, 0, sizeof(vm->st));
	assert_int_equal(gmm_munmap(vm, GMM_MMAP_BASE, PAGE_SIZE), 0);
	assert_int_equal(vm->st.pt_replica_stores, 4);
	assert_int_equal(vm->st.cyc_guest, 4 * (uint64_t)vm->cost.ref_remote);
	vm_destroy(vm);
}

/* One node: nothing is counted, whatever the policy. */
static void test_one_node(void **state)
{
	(void)state;
	struct vm *vm = scene("nested", PT_REMOTE, 1);
	assert_int_equal(vm->st.walk_refs, 24);
	assert_int_equal(vm->st.walk_refs_local + vm->st.walk_refs_remote, 0);
	vm_switch_cpu(vm, vm->cpu[0]);
	vm_destroy(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_native),
	    cmocka_unit_test(test_shadow),
	    cmocka_unit_test(test_nested),
	    cmocka_unit_test(test_native_interleave),
	    cmocka_unit_test(test_remote_latency),
	    cmocka_unit_test(test_replica_stores),
	    cmocka_unit_test(test_one_node),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

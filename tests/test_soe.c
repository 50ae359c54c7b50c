/*
 * test_soe.c - shadow on EPT (src/nvirt/soe.c): L1 runs shadow paging for
 * L2 over L0's identity EPT01. The exits at each level in their exact
 * order for one L2 first touch and one L2 page-table store, the reference
 * counts of the hardware's one 2D walk (SPT12 over EPT01), the PVM-free
 * accounting of L1's work, and equivalence with native paging.
 *
 * The hand-built L2 guest is tests/support/l2_guest.h's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/core/cpu.h"
#include "../src/lib/run.h"
#include "../src/nvirt/nvirt.h"
#include "../src/cli/registry.h"
#include "support/l2_guest.h"

static void test_soe_first_touch(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg("shadow-on-ept", PG_4K);
	struct l2_seq s;
	struct vm *vm = l2_first_touch(&c, &s, NULL);
	static const int want[] = {
	    VIOL,				  /* EPT01: the SPT12 root, L1's frame */
	    PF,	  VMREAD, VMREAD, VMREAD, RESUME, /* reflected: L1 builds SPT12 */
	    VIOL, VIOL,	  VIOL,			  /* EPT01: the SPT12 PDPT, PD, PT (L1's frames) */
	    VIOL,				  /* EPT01: the data frame, L0's own */
	};
	l2_seq_expect(&s, want, NELEM(want));
	assert_int_equal(vm->st.l2_exits, 2);
	assert_int_equal(vm->st.reflected_exits, 1);
	assert_int_equal(vm->st.exits_hidden_fault, 1);
	assert_int_equal(vm->st.exits_ept_violation, 1);
	assert_int_equal(vm->st.exits_l1, 4 + 3 + 1);
	assert_int_equal(vm->st.vm_exits, 10);
	assert_true(vm->st.l1_cycles > 0);
	/* The one completed walk: SPT12 (4 levels) over EPT01 (4 levels). */
	assert_int_equal(vm->st.walks, 1);
	assert_int_equal(vm->st.walk_refs, 24);
	assert_int_equal(vm->st.walk_refs_guest, 4);
	assert_int_equal(vm->st.walk_refs_host, 20);
	assert_int_equal(gpa_read64(vm, GPA(TBL(0x100))), SENTINEL);
	char detail[256];
	assert_null(vm->mmu->audit(vm, detail, sizeof(detail)));
	/* Again after the TLB drops it (no exit: a hardware-only flush): one
	 * 24-reference walk, no exit. */
	tlb_flush_vpid(&vm->vcpu.tlb, vm->vcpu.vpid);
	uint64_t exits = vm->st.vm_exits, refs = vm->st.walk_refs;
	assert_int_equal(cpu_load(&vm->vcpu, PG(0), 8), SENTINEL);
	assert_int_equal(vm->st.vm_exits, exits);
	assert_int_equal(vm->st.walk_refs - refs, 24);
	vm_destroy(vm);
}

/* 2M EPT01 leaves: one covers the SPT12 tables L1 allocates side by
 * side, one the data frame; the walk is 4 over 3 levels: 19 references. */
static void test_soe_first_touch_2m(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg("shadow-on-ept", PG_4K);
	c.host_page = PG_2M;
	struct l2_seq s;
	struct vm *vm = l2_first_touch(&c, &s, NULL);
	static const int want[] = {VIOL, PF, VMREAD, VMREAD, VMREAD, RESUME, VIOL};
	l2_seq_expect(&s, want, NELEM(want));
	assert_int_equal(vm->st.walk_refs, 19);
	assert_int_equal(vm->st.walk_refs_guest, 4);
	assert_int_equal(vm->st.walk_refs_host, 15);
	char detail[256];
	assert_null(vm->mmu->audit(vm, detail, sizeof(detail)));
	vm_destroy(vm);
}

static void test_soe_pt_write(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg("shadow-on-ept", PG_4K);
	struct vm *vm = l2_mk(&c);
	l2_build_tables(vm);
	cpu_store(&vm->vcpu, PG(0), 8, SENTINEL);
	(void)cpu_load(&vm->vcpu, PG(15), 8);
	memset(&vm->st, 0, sizeof(vm->st));
	struct l2_seq s = {0};
	l2_seq_attach(vm, &s);
	cpu_store(&vm->vcpu, PG(15) + 8 * pt_index(PG(1), 1), 8, TBL(0x120) | UP);
	vm->trace_fn = NULL;
	/* The store faults on the read-only spte L1 keeps for its shadowed
	 * table: the #PF L1 intercepts, reflected; L1 emulates the store. */
	static const int want[] = {PF, VMREAD, VMREAD, VMREAD, RESUME};
	l2_seq_expect(&s, want, NELEM(want));
	assert_int_equal(vm->st.exits_pt_write, 1);
	assert_int_equal(vm->st.l2_exits, 1);
	assert_int_equal(vm->st.reflected_exits, 1);
	assert_int_equal(vm->st.exits_l1, 4);
	assert_int_equal(vm->st.vm_exits, 5);
	assert_int_equal(gpa_read64(vm, GPA(TBL(0x14) + 8 * pt_index(PG(1), 1))), TBL(0x120) | UP);
	/* With VMCS shadowing L1's VMREADs do not exit. */
	vm_destroy(vm);
	c.vmcs_shadow = true;
	vm = l2_mk(&c);
	l2_build_tables(vm);
	cpu_store(&vm->vcpu, PG(0), 8, SENTINEL);
	(void)cpu_load(&vm->vcpu, PG(15), 8);
	s.n = 0;
	l2_seq_attach(vm, &s);
	cpu_store(&vm->vcpu, PG(15) + 8 * pt_index(PG(1), 1), 8, TBL(0x120) | UP);
	vm->trace_fn = NULL;
	static const int want2[] = {PF, RESUME};
	l2_seq_expect(&s, want2, NELEM(want2));
	char detail[256];
	assert_null(vm->mmu->audit(vm, detail, sizeof(detail)));
	vm_destroy(vm);
}

/*
 * Against single-level shadow paging: L1's shadow MMU sees the same events,
 * so every exit shadow takes is one L2 exit reflected to L1, with 3 VMREADs
 * and a VMRESUME; the other exits are EPT01's first touches (L2 frames:
 * L2 exits L0 handles alone; SPT12 frames: L1's). Checksum and digest
 * equal native's.
 */
static void test_soe_workloads(void **state)
{
	(void)state;
	static const char *const wls[] = {"faults", "mmap-churn"};
	for (size_t i = 0; i < sizeof(wls) / sizeof(wls[0]); i++) {
		struct run_result rl, rs, rv;
		struct vm_config c = l2_cfg("shadow-on-ept", PG_4K);
		c.walk_caches = true;
		c.audit = false;
		c.mode = "native";
		l2_run(&c, wls[i], NULL, &rl);
		c.mode = "shadow";
		l2_run(&c, wls[i], NULL, &rs);
		c.mode = "shadow-on-ept";
		c.audit = i == 0;
		l2_run(&c, wls[i], NULL, &rv);
		assert_int_equal(rv.checksum, rl.checksum);
		assert_int_equal(rv.guest_digest, rl.guest_digest);
		assert_int_equal(rv.whole.guest_faults, rs.whole.guest_faults);
		assert_int_equal(rv.whole.reflected_exits, rs.whole.vm_exits);
		assert_int_equal(rv.whole.exits_hidden_fault, rs.whole.exits_hidden_fault);
		assert_int_equal(rv.whole.exits_pt_write, rs.whole.exits_pt_write);
		assert_int_equal(rv.whole.l2_exits,
				 rv.whole.reflected_exits + rv.whole.exits_ept_violation);
		assert_true(rv.whole.exits_l1 >=
			    (NV_L1_VMREADS_EPT + 1) * rv.whole.reflected_exits);
		assert_int_equal(rv.whole.vm_exits, rv.whole.l2_exits + rv.whole.exits_l1);
		assert_true(rv.whole.walk_refs > rs.whole.walk_refs);
		assert_true(rv.est_cycles > rs.est_cycles);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_soe_first_touch),
	    cmocka_unit_test(test_soe_first_touch_2m),
	    cmocka_unit_test(test_soe_pt_write),
	    cmocka_unit_test(test_soe_workloads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

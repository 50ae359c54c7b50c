/*
 * test_pvm.c - the PVM variant of shadow on EPT (src/nvirt/soe.c, mode
 * pvm): L1 runs without VMX and L2 enters it through the switcher. The
 * exact sequence of VM exits and switcher round trips for one L2 first
 * touch, one L2 page-table store, one INVLPG and one CR3 load; the
 * reference counts of the hardware's one 2D walk (SPT12 over EPT01); L1's
 * cycles; the cost of each part; whole runs against shadow-on-ept (pvm is
 * shadow-on-ept without the reflection) and equivalence with native paging;
 * bad input.
 *
 * The hand-built L2 guest is tests/support/l2_guest.h's:
 *
 *   gfn 0x11 PML4 -> 0x12 PDPT -> 0x13 PD -> 0x14 PT
 *   PG(i) -> gfn 0x100 + i (i < 15), PG(15) -> gfn 0x14 (the PT itself)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/core/cpu.h"
#include "../src/core/machine.h"
#include "../src/lib/run.h"
#include "../src/nvirt/nvirt.h"
#include "../src/cli/registry.h"
#include "support/l2_guest.h"
#include "support/wl_cases.h"

/* A switcher round trip in a recorded sequence (VM exits are >= 0). */
#define SW (-1)

static const char *argv0; /* the test binary: build/vmmu is beside it */

/* Record VM exits (their reasons) and switcher round trips (SW), in order. */
static void seq_fn(void *ctx, const struct trace_event *ev)
{
	struct l2_seq *s = ctx;
	if (s->n >= L2_SEQ_MAX)
		return;
	if (ev->kind == TR_VM_EXIT)
		s->reason[s->n++] = (int)ev->result;
	else if (ev->kind == TR_VMM_OP && ev->what && strncmp(ev->what, "PVM switcher", 12) == 0)
		s->reason[s->n++] = SW;
}

static void seq_attach(struct vm *vm, struct l2_seq *s)
{
	s->n = 0;
	vm->trace_fn = seq_fn;
	vm->trace_ctx = s;
}

/*
 * One L2 first touch. Under shadow-on-ept (test_soe.c):
 *   48  0 23 23 23 24  48 48 48  48
 * Under pvm the reflected #PF (0, three VMREADs, VMRESUME) is one switcher
 * round trip; the EPT01 violations stay exits to L0.
 */
static void test_pvm_first_touch(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg("pvm", PG_4K);
	struct l2_seq s;
	struct vm *vm = l2_first_touch(&c, &s, seq_attach);
	static const int want[] = {
	    VIOL,	      /* EPT01: the SPT12 root, L1's frame (an exit to L0) */
	    SW,		      /* the hidden fault: L2 -> L1 through the switcher */
	    VIOL, VIOL, VIOL, /* EPT01: the SPT12 PDPT, PD, PT (L1's frames) */
	    VIOL,	      /* EPT01: the data frame, L0's own */
	};
	l2_seq_expect(&s, want, NELEM(want));
	assert_int_equal(vm->st.pvm_switches, 1);
	assert_int_equal(vm->st.vm_exits, 5);
	assert_int_equal(vm->st.l2_exits, 1);
	assert_int_equal(vm->st.reflected_exits, 0);
	assert_int_equal(vm->st.exits_ept_violation, 1);
	assert_int_equal(vm->st.exits_l1, 4);
	/* Not a VM exit: no exit counter of the shadow MMU moves. */
	assert_int_equal(vm->st.exits_hidden_fault, 0);
	/* The exit part: 5 VM exits and one switcher round trip, exactly. */
	assert_int_equal(vm->st.cyc_exit, 5 * (uint64_t)vm->cost.vmexit + vm->cost.pvm_switch);
	assert_true(vm->st.l1_cycles >= vm->cost.vmm_hidden_fault);
	/* The one completed walk: SPT12 (4 levels) over EPT01 (4 levels). */
	assert_int_equal(vm->st.walks, 1);
	assert_int_equal(vm->st.walk_refs, 24);
	assert_int_equal(vm->st.walk_refs_guest, 4);
	assert_int_equal(vm->st.walk_refs_host, 20);
	assert_int_equal(gpa_read64(vm, GPA(TBL(0x100))), SENTINEL);
	l2_audit_clean(vm);
	uint64_t l1 = vm->st.l1_cycles;
	vm_destroy(vm);

	/* L1's work is the same as under shadow-on-ept: only the way in
	 * differs. */
	c.mode = "shadow-on-ept";
	vm = l2_mk(&c);
	l2_build_tables(vm);
	cpu_store(&vm->vcpu, PG(0), 8, SENTINEL);
	assert_int_equal(vm->st.l1_cycles, l1);
	assert_int_equal(vm->st.walk_refs, 24);
	vm_destroy(vm);
}

/* 2M EPT01 leaves: one covers the SPT12 tables, one the data frame; the
 * walk is 4 over 3 levels: 19 references. */
static void test_pvm_first_touch_2m(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg("pvm", PG_2M);
	struct l2_seq s;
	struct vm *vm = l2_first_touch(&c, &s, seq_attach);
	static const int want[] = {VIOL, SW, VIOL};
	l2_seq_expect(&s, want, NELEM(want));
	assert_int_equal(vm->st.pvm_switches, 1);
	assert_int_equal(vm->st.vm_exits, 2);
	assert_int_equal(vm->st.walk_refs, 19);
	assert_int_equal(vm->st.walk_refs_guest, 4);
	assert_int_equal(vm->st.walk_refs_host, 15);
	l2_audit_clean(vm);
	vm_destroy(vm);
}

/* Warm the hand-built guest: PG(0) and the PT's own page PG(15) mapped. */
static struct vm *pvm_warm(struct vm_config *c)
{
	struct vm *vm = l2_mk(c);
	l2_build_tables(vm);
	cpu_store(&vm->vcpu, PG(0), 8, SENTINEL);
	(void)cpu_load(&vm->vcpu, PG(15), 8);
	memset(&vm->st, 0, sizeof(vm->st));
	return vm;
}

/*
 * One L2 page-table store: under shadow-on-ept 0 23 23 23 24 (the #PF L1
 * intercepts, reflected); under pvm one switcher round trip, and L0 sees
 * nothing at all.
 */
static void test_pvm_pt_write(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg("pvm", PG_4K);
	struct vm *vm = pvm_warm(&c);
	struct l2_seq s;
	seq_attach(vm, &s);
	cpu_store(&vm->vcpu, PG(15) + 8 * pt_index(PG(1), 1), 8, TBL(0x120) | UP);
	vm->trace_fn = NULL;
	static const int want[] = {SW};
	l2_seq_expect(&s, want, NELEM(want));
	assert_int_equal(vm->st.pvm_switches, 1);
	assert_int_equal(vm->st.vm_exits, 0);
	assert_int_equal(vm->st.l2_exits, 0);
	assert_int_equal(vm->st.exits_l1, 0);
	assert_int_equal(vm->st.exits_pt_write, 0);
	assert_int_equal(vm->st.cyc_exit, vm->cost.pvm_switch);
	assert_true(vm->st.l1_cycles >= vm->cost.vmm_pt_write);
	assert_int_equal(vm->st.l1_cycles, vm->st.cyc_vmm);
	assert_int_equal(gpa_read64(vm, GPA(TBL(0x14) + 8 * pt_index(PG(1), 1))), TBL(0x120) | UP);
	l2_audit_clean(vm);
	uint64_t l1 = vm->st.l1_cycles;
	vm_destroy(vm);

	/* The same store under shadow-on-ept: the same L1 work, reached by a
	 * reflected exit with 3 VMREADs and a VMRESUME. */
	c.mode = "shadow-on-ept";
	vm = pvm_warm(&c);
	cpu_store(&vm->vcpu, PG(15) + 8 * pt_index(PG(1), 1), 8, TBL(0x120) | UP);
	assert_int_equal(vm->st.l1_cycles, l1);
	assert_int_equal(vm->st.vm_exits, 5);
	assert_int_equal(vm->st.cyc_exit, 5 * (uint64_t)vm->cost.vmexit);
	assert_int_equal(vm->st.cyc_vmm - vm->st.l1_cycles, (uint64_t)vm->cost.nv_reflect +
								3 * (uint64_t)vm->cost.nv_vmread +
								vm->cost.nv_vmresume);
	vm_destroy(vm);
}

/* INVLPG and MOV to CR3 are PVM hypercalls (PVM_HC_TLB_INVLPG,
 * PVM_HC_LOAD_PGTBL): one switcher round trip each, no VM exit. */
static void test_pvm_invlpg_cr3(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg("pvm", PG_4K);
	struct vm *vm = pvm_warm(&c);
	struct l2_seq s;
	seq_attach(vm, &s);
	cpu_invlpg(&vm->vcpu, PG(0));
	cpu_write_cr3(&vm->vcpu, TBL(0x11));
	vm->trace_fn = NULL;
	static const int want[] = {SW, SW};
	l2_seq_expect(&s, want, NELEM(want));
	assert_int_equal(vm->st.pvm_switches, 2);
	assert_int_equal(vm->st.vm_exits, 0);
	assert_int_equal(vm->st.cyc_exit, 2 * (uint64_t)vm->cost.pvm_switch);
	assert_int_equal(cpu_load(&vm->vcpu, PG(0), 8), SENTINEL);
	l2_audit_clean(vm);
	vm_destroy(vm);
}

/* --cost pvm_switch is the switcher's price, and nothing else's. */
static void test_pvm_cost_field(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg("pvm", PG_4K);
	struct vm *vm = pvm_warm(&c);
	cpu_invlpg(&vm->vcpu, PG(0));
	uint64_t base = vm->st.cyc_exit;
	vm_destroy(vm);
	int k = cost_field_find("pvm_switch");
	assert_true(k >= 0);
	c.cost.pvm_switch = 7;
	c.cost_overridden |= UINT64_C(1) << k;
	vm = pvm_warm(&c);
	cpu_invlpg(&vm->vcpu, PG(0));
	assert_int_equal(vm->st.cyc_exit, 7);
	assert_true(base > 7);
	vm_destroy(vm);
}

/*
 * Whole runs. pvm is shadow-on-ept without the reflection: the same
 * walks, the same L1 work, the same EPT01 exits; each reflected exit of
 * shadow-on-ept (with its 3 VMREADs and VMRESUME) is one switcher round
 * trip, and the round trips are single-level shadow's exits one for one.
 * Checksum and digest equal native's.
 */
static void test_pvm_workloads(void **state)
{
	(void)state;
	static const char *const wls[] = {"faults", "mmap-churn", "fork", "ctxswitch", "kv"};
	for (size_t i = 0; i < sizeof(wls) / sizeof(wls[0]); i++) {
		struct run_result rl, rs, ro, rp;
		const struct wl_case *k = wl_case_find(wls[i]);
		assert_non_null(k);
		struct vm_config c = l2_cfg("native", PG_4K);
		c.walk_caches = true;
		c.audit = false;
		l2_run(&c, wls[i], &k->p, &rl);
		c.mode = "shadow";
		l2_run(&c, wls[i], &k->p, &rs);
		c.mode = "shadow-on-ept";
		l2_run(&c, wls[i], &k->p, &ro);
		c.mode = "pvm";
		c.audit = i < 2; /* after every exit and switch */
		l2_run(&c, wls[i], &k->p, &rp);
		const struct stats *p = &rp.whole, *o = &ro.whole;
		assert_int_equal(rp.checksum, rl.checksum);
		assert_int_equal(rp.guest_digest, rl.guest_digest);
		assert_int_equal(p->guest_faults, rs.whole.guest_faults);
		assert_int_equal(p->pvm_switches, rs.whole.vm_exits);
		assert_int_equal(p->pvm_switches, o->reflected_exits);
		assert_int_equal(p->reflected_exits, 0);
		assert_int_equal(p->exits_hidden_fault + p->exits_pt_write + p->exits_cr3 +
				     p->exits_invlpg + p->exits_fault_inject,
				 0);
		assert_int_equal(p->l2_exits, p->exits_ept_violation);
		assert_int_equal(p->exits_ept_violation, o->exits_ept_violation);
		assert_int_equal(p->exits_l1,
				 o->exits_l1 - (NV_L1_VMREADS_EPT + 1) * o->reflected_exits);
		assert_int_equal(p->vm_exits, p->exits_ept_violation + p->exits_l1);
		assert_int_equal(p->walk_refs, o->walk_refs);
		assert_int_equal(p->l1_cycles, o->l1_cycles);
		/* Whole runs: kv measures a region that holds no switch. */
		assert_true(stats_est_cycles(p) < stats_est_cycles(o));
	}
}

/* Bad input: pvm runs one vCPU; the CLI exits 2 naming the flag. */
static void test_pvm_bad_input(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg("pvm", PG_4K);
	c.vcpus = 2;
	char err[256] = "";
	struct vm *vm = vm_create(&c, err, sizeof(err));
	assert_null(vm);
	assert_non_null(strstr(err, "--vcpus 2"));
	assert_non_null(strstr(err, "pvm"));
	static const char *const vcpus[] = {"run",    "--workload", "faults", "--mode",
					    "pvm",    "--vcpus",    "2",      NULL};
	assert_int_equal(l2_cli(argv0, vcpus, err, sizeof(err)), 2);
	assert_non_null(strstr(err, "--vcpus 2"));
	static const char *const cost[] = {"run",  "--workload", "faults",	       "--mode",
					   "pvm",  "--cost",	 "pvm_switch=-1", NULL};
	assert_int_equal(l2_cli(argv0, cost, err, sizeof(err)), 2);
	assert_non_null(strstr(err, "pvm_switch"));
}

int main(int argc, char **argv)
{
	(void)argc;
	argv0 = argv[0];
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pvm_first_touch), cmocka_unit_test(test_pvm_first_touch_2m),
	    cmocka_unit_test(test_pvm_pt_write),    cmocka_unit_test(test_pvm_invlpg_cr3),
	    cmocka_unit_test(test_pvm_cost_field),  cmocka_unit_test(test_pvm_workloads),
	    cmocka_unit_test(test_pvm_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

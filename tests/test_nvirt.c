/*
 * test_nvirt.c - nested virtualization (src/nvirt): the L1 hypervisor's
 * EPT12, L0's EPT02 built from EPT12 and EPT01, the exits at each level in
 * their exact order, the 2D reference counts of the one table the hardware
 * walks, write protection of EPT12 and L1's INVEPT, and equivalence with
 * native paging and with single-level nested paging.
 *
 * The hand-built L2 guest is tests/support/l2_guest.h's: every gfn of it
 * lies in EPT12's first PT (gfns 0..511) and in one 2M chunk.
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
#include "../src/teach/scenario.h"
#include "support/l2_guest.h"

/* ---- nept: one L2 first touch, exact ---- */

/*
 * 4K pages everywhere. The first store to PG(0) walks L2's tables over an
 * empty EPT02 and takes one EPT02 violation per frame, in walk order: the
 * PML4, PDPT, PD, PT frames, then the data frame. Each is unknown to EPT12,
 * so each is reflected to L1:
 *   first frame   L2 exit, 3 VMREADs, 4 EPT12 stores (none trapped: no
 *                 EPT12 table is write-protected yet), VMRESUME, L2 exit
 *   each later    L2 exit, 3 VMREADs, 1 EPT12 store to the now
 *                 write-protected PT (trapped), VMRESUME, L2 exit
 */
static void test_nept_first_touch_4k(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg("nept", PG_4K);
	struct l2_seq s;
	struct vm *vm = l2_first_touch(&c, &s, NULL);
	static const int want[] = {
	    VIOL, VMREAD, VMREAD, VMREAD, RESUME, VIOL,		/* gfn 0x11 */
	    VIOL, VMREAD, VMREAD, VMREAD, VIOL,	  RESUME, VIOL, /* gfn 0x12 */
	    VIOL, VMREAD, VMREAD, VMREAD, VIOL,	  RESUME, VIOL, /* gfn 0x13 */
	    VIOL, VMREAD, VMREAD, VMREAD, VIOL,	  RESUME, VIOL, /* gfn 0x14 */
	    VIOL, VMREAD, VMREAD, VMREAD, VIOL,	  RESUME, VIOL, /* gfn 0x100 */
	};
	l2_seq_expect(&s, want, NELEM(want));
	assert_int_equal(vm->st.l2_exits, 10);
	assert_int_equal(vm->st.reflected_exits, 5);
	assert_int_equal(vm->st.exits_ept_violation, 10);
	assert_int_equal(vm->st.exits_l1, 5 * 4 + 4);
	assert_int_equal(vm->st.vm_exits, 10 + 24);
	assert_int_equal(vm->st.ept12_writes, 4 + 4);
	/* L0's software walks of EPT12: the first stops at the empty root
	 * (1 reference), then 4; every later frame 4 (stops at the PT) and 4. */
	assert_int_equal(vm->st.vmm_walk_refs, 1 + 4 + 4 * (4 + 4));
	/* The one completed walk: 4-level L2 tables over 4-level EPT02. */
	assert_int_equal(vm->st.walks, 1);
	assert_int_equal(vm->st.walk_refs, 24);
	assert_int_equal(vm->st.walk_refs_guest, 4);
	assert_int_equal(vm->st.walk_refs_host, 20);
	struct nvirt *nv = nvirt_of(vm);
	assert_int_equal(nv->ept12_pages, 4);
	assert_int_equal(nv->ept12_leaves, 5);
	assert_int_equal(nv->ept12_wp_pages, 4);
	assert_int_equal(gpa_read64(vm, GPA(TBL(0x100))), SENTINEL);
	char detail[256];
	assert_null(vm->mmu->audit(vm, detail, sizeof(detail)));
	/* Touched again after a TLB flush: one 24-reference walk, no exit. */
	cpu_flush_tlb(&vm->vcpu, true);
	uint64_t exits = vm->st.vm_exits, refs = vm->st.walk_refs;
	assert_int_equal(cpu_load(&vm->vcpu, PG(0), 8), SENTINEL);
	assert_int_equal(vm->st.vm_exits, exits);
	assert_int_equal(vm->st.walk_refs - refs, 24);
	vm_destroy(vm);
}

/* 2M pages in EPT12 and EPT01: one 2M EPT02 leaf covers every frame, so the
 * first touch is one reflected violation (EPT12: PML4E, PDPTE, 2M PDE, none
 * trapped) and one L0-only one; the walk is 4 over 3 levels: 19 refs. */
static void test_nept_first_touch_2m(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg("nept", PG_2M);
	struct vm *vm = l2_mk(&c);
	l2_build_tables(vm);
	struct l2_seq s = {0};
	l2_seq_attach(vm, &s);
	cpu_store(&vm->vcpu, PG(0), 8, SENTINEL);
	cpu_store(&vm->vcpu, PG(7), 8, SENTINEL);
	vm->trace_fn = NULL;
	static const int want[] = {VIOL, VMREAD, VMREAD, VMREAD, RESUME, VIOL};
	l2_seq_expect(&s, want, 6);
	assert_int_equal(vm->st.ept12_writes, 3);
	assert_int_equal(vm->st.vmm_walk_refs, 1 + 3);
	assert_int_equal(vm->st.walk_refs, 19 + 19);
	assert_int_equal(vm->st.walk_refs_host, 15 + 15);
	vm_destroy(vm);
}

/* With VMCS shadowing L1 reads the exit fields without exiting: each
 * reflected frame costs VMRESUME (and the trapped store) alone. */
static void test_nept_vmcs_shadow(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg("nept", PG_4K);
	c.vmcs_shadow = true;
	struct l2_seq s;
	struct vm *vm = l2_first_touch(&c, &s, NULL);
	static const int want[] = {
	    VIOL, RESUME, VIOL,		/* gfn 0x11 */
	    VIOL, VIOL,	  RESUME, VIOL, /* gfn 0x12 */
	    VIOL, VIOL,	  RESUME, VIOL, /* gfn 0x13 */
	    VIOL, VIOL,	  RESUME, VIOL, /* gfn 0x14 */
	    VIOL, VIOL,	  RESUME, VIOL, /* gfn 0x100 */
	};
	l2_seq_expect(&s, want, NELEM(want));
	assert_int_equal(vm->st.exits_l1, 5 + 4);
	assert_int_equal(vm->st.reflected_exits, 5);
	vm_destroy(vm);
}

/* ---- nept: an L2 page-table write does not exit ---- */

static void test_nept_pt_write(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg("nept", PG_4K);
	struct vm *vm = l2_mk(&c);
	l2_build_tables(vm);
	cpu_store(&vm->vcpu, PG(0), 8, 1);
	(void)cpu_load(&vm->vcpu, PG(15), 8); /* maps the PT: EPT02 has it */
	uint64_t exits = vm->st.vm_exits;
	struct l2_seq s = {0};
	l2_seq_attach(vm, &s);
	/* L2's kernel writes a PTE of its own table: entry 1 -> gfn 0x100. */
	cpu_store(&vm->vcpu, PG(15) + 8 * pt_index(PG(1), 1), 8, TBL(0x100) | UP);
	cpu_invlpg(&vm->vcpu, PG(1));
	assert_int_equal(cpu_load(&vm->vcpu, PG(1), 8), 1);
	vm->trace_fn = NULL;
	assert_int_equal(s.n, 0);
	assert_int_equal(vm->st.vm_exits, exits);
	vm_destroy(vm);
}

/* ---- nept: L1 changes EPT12 and executes INVEPT ---- */

static void test_nept_invept(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg("nept", PG_4K);
	struct vm *vm = l2_mk(&c);
	l2_build_tables(vm);
	cpu_store(&vm->vcpu, PG(0), 8, SENTINEL);
	struct nvirt *nv = nvirt_of(vm);
	struct l2_seq s = {0};
	l2_seq_attach(vm, &s);
	/* L1 takes gfn 0x100 back: its store to the write-protected PT exits,
	 * and L0 zaps the EPT02 leaf; then INVEPT exits and L0 drops EPT02. */
	assert_int_equal(nv_ept12_unmap(&vm->vcpu, nv, 0x100), 1);
	assert_int_equal(nested_ept_level(vm, nv->ns, GPA(TBL(0x100))), 0);
	assert_int_not_equal(nested_ept_level(vm, nv->ns, GPA(TBL(0x14))), 0);
	nept_l1_invept(&vm->vcpu);
	assert_int_equal(nested_ept_level(vm, nv->ns, GPA(TBL(0x14))), 0);
	assert_int_equal(nv->ept12_wp_pages, 0);
	/* The next access rebuilds EPT02 from EPT12 without L1 for the four
	 * table frames, and reflects the data frame, which EPT12 lost. */
	assert_int_equal(cpu_load(&vm->vcpu, PG(0), 8), SENTINEL);
	vm->trace_fn = NULL;
	static const int want[] = {
	    VIOL, INVEPT,				      /* L1's trapped store, INVEPT */
	    VIOL, VIOL,	  VIOL,	  VIOL,			      /* L0 alone: 0x11 .. 0x14 */
	    VIOL, VMREAD, VMREAD, VMREAD, VIOL, RESUME, VIOL, /* 0x100 via L1 */
	};
	l2_seq_expect(&s, want, NELEM(want));
	assert_int_equal(nv->l1_invepts, 1);
	char detail[256];
	assert_null(vm->mmu->audit(vm, detail, sizeof(detail)));
	vm_destroy(vm);
}

/* The audit catches an EPT02 leaf that EPT12 does not back. */
static void test_nept_audit_catches(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg("nept", PG_4K);
	c.audit = false;
	struct vm *vm = l2_mk(&c);
	l2_build_tables(vm);
	cpu_store(&vm->vcpu, PG(0), 8, 1);
	struct nvirt *nv = nvirt_of(vm);
	/* Map a frame in EPT02 behind L1's back. */
	assert_int_equal(nested_ept_map(vm, nv->ns, 0x300, PG_4K), 1);
	char detail[256];
	const char *bad = vm->mmu->audit(vm, detail, sizeof(detail));
	assert_non_null(bad);
	assert_string_equal(bad, "ept02-within-ept12");
	vm_destroy(vm);
}

/* ---- the guest kernel's first touch and page-table stores ---- */

struct scn_exits {
	int n;
	int reason[32];
	char counter[32][24];
};

static void scn_event(void *ctx, struct vm *vm, const struct trace_event *ev, const char *ec)
{
	(void)vm;
	struct scn_exits *s = ctx;
	if (ev->kind != TR_VM_EXIT || s->n >= 32)
		return;
	s->reason[s->n] = (int)ev->result;
	snprintf(s->counter[s->n], sizeof(s->counter[0]), "%s", ec ? ec : "?");
	s->n++;
}

/*
 * `vmmu explain --scenario first-touch --mode nept`: the user store faults
 * into the L2 kernel with no exit; the kernel's zeroing store touches a
 * fresh frame: one L2 exit reflected to L1, L1's three VMREADs, its trapped
 * EPT12 store, its VMRESUME, and a second L2 exit served by L0 alone.
 */
static void test_nept_scenario_first_touch(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg("nept", PG_4K);
	c.guest_mem = SCENARIO_GUEST_MEM;
	c.walk_caches = true;
	struct scn_exits e = {0};
	struct scenario_observer obs = {.event = scn_event, .ctx = &e};
	struct stats total;
	char err[256];
	if (scenario_run("first-touch", &c, &obs, &total, err, sizeof(err)) != 0)
		fail_msg("first-touch: %s", err);
	static const int want[] = {VIOL, VMREAD, VMREAD, VMREAD, VIOL, RESUME, VIOL};
	static const char *const ctr[] = {
	    "exits_ept_violation", "exits_l1", "exits_l1", "exits_l1", "exits_l1", "exits_l1",
	    "exits_ept_violation"};
	assert_int_equal(e.n, 7);
	for (int i = 0; i < 7; i++) {
		assert_int_equal(e.reason[i], want[i]);
		assert_string_equal(e.counter[i], ctr[i]);
	}
	assert_int_equal(total.guest_faults, 1);
	assert_int_equal(total.l2_exits, 2);
	assert_int_equal(total.reflected_exits, 1);
	assert_int_equal(total.exits_l1, 5);
	assert_int_equal(total.ept12_writes, 1);
	assert_int_equal(total.vmm_walk_refs, 8);
}

/* `--scenario pt-write`: mprotect's PTE stores, INVLPGs, loads and stores
 * of L2 run without a single exit under nept. */
static void test_nept_scenario_pt_write(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg("nept", PG_4K);
	c.guest_mem = SCENARIO_GUEST_MEM;
	struct scn_exits e = {0};
	struct scenario_observer obs = {.event = scn_event, .ctx = &e};
	struct stats total;
	char err[256];
	if (scenario_run("pt-write", &c, &obs, &total, err, sizeof(err)) != 0)
		fail_msg("pt-write: %s", err);
	assert_int_equal(e.n, 0);
	assert_int_equal(total.vm_exits, 0);
	assert_true(total.invlpgs > 0);
}

/* ---- whole workloads ---- */

/*
 * Against single-level nested paging with 4K pages: nested takes one EPT
 * violation per frame first touched; nept reflects exactly those to L1 and
 * takes two L2 exits for each, with 3 VMREADs and a VMRESUME per reflected
 * exit plus one exit per trapped EPT12 store. Checksum and digest equal
 * native's.
 */
static void test_nept_workloads(void **state)
{
	(void)state;
	static const char *const wls[] = {"faults", "fork", "mmap-churn", "ctxswitch", "seq"};
	for (size_t i = 0; i < sizeof(wls) / sizeof(wls[0]); i++) {
		if (!workload_find(wls[i]))
			continue;
		struct run_result rn, rv, rl;
		struct vm_config c = l2_cfg("native", PG_4K);
		c.audit = false;
		l2_run(&c, wls[i], NULL, &rl);
		c.mode = "nested";
		l2_run(&c, wls[i], NULL, &rn);
		c.mode = "nept";
		c.audit = i == 0;
		l2_run(&c, wls[i], NULL, &rv);
		assert_int_equal(rv.checksum, rl.checksum);
		assert_int_equal(rv.guest_digest, rl.guest_digest);
		assert_int_equal(rv.whole.reflected_exits, rn.whole.exits_ept_violation);
		assert_int_equal(rv.whole.l2_exits, 2 * rn.whole.exits_ept_violation);
		assert_int_equal(rv.whole.exits_ept_violation, rv.whole.l2_exits);
		uint64_t trapped =
		    rv.whole.exits_l1 - (NV_L1_VMREADS_EPT + 1) * rv.whole.reflected_exits;
		assert_true(trapped <= rv.whole.ept12_writes);
		assert_int_equal(rv.whole.vm_exits, rv.whole.l2_exits + rv.whole.exits_l1);
		/* The same L2 walks as nested, reference for reference. */
		assert_int_equal(rv.whole.walk_refs, rn.whole.walk_refs);
		assert_int_equal(rv.whole.guest_faults, rn.whole.guest_faults);
		/* The whole run costs more (its first touches exit more); a
		 * measured region after warm-up may cost the same. */
		uint64_t cv = stats_est_cycles(&rv.whole), cn = stats_est_cycles(&rn.whole);
		if (cv <= cn)
			fail_msg("%s: nept %" PRIu64 " cycles, nested %" PRIu64, wls[i], cv, cn);
	}
}

/* 2M pages ease first touch: fewer reflected exits than with 4K. */
static void test_nept_2m_eases(void **state)
{
	(void)state;
	struct run_result r4, r2;
	struct vm_config c = l2_cfg("nept", PG_4K);
	c.audit = false;
	l2_run(&c, "faults", NULL, &r4);
	c.host_page = PG_2M;
	l2_run(&c, "faults", NULL, &r2);
	assert_int_equal(r4.checksum, r2.checksum);
	assert_true(r2.whole.reflected_exits * 10 < r4.whole.reflected_exits);
	assert_true(r2.est_cycles < r4.est_cycles);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nept_first_touch_4k),
	    cmocka_unit_test(test_nept_first_touch_2m),
	    cmocka_unit_test(test_nept_vmcs_shadow),
	    cmocka_unit_test(test_nept_pt_write),
	    cmocka_unit_test(test_nept_invept),
	    cmocka_unit_test(test_nept_audit_catches),
	    cmocka_unit_test(test_nept_scenario_first_touch),
	    cmocka_unit_test(test_nept_scenario_pt_write),
	    cmocka_unit_test(test_nept_workloads),
	    cmocka_unit_test(test_nept_2m_eases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

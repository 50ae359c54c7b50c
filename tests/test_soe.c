/*
 * test_soe.c - shadow on EPT (src/nvirt/soe.c): L1 runs shadow paging for
 * L2 over L0's identity EPT01. The exits at each level in their exact
 * order for one L2 first touch and one L2 page-table store, the reference
 * counts of the hardware's one 2D walk (SPT12 over EPT01), the PVM-free
 * accounting of L1's work, and equivalence with native paging.
 *
 * Hand-built L2 layout, as test_nvirt.c (the VMM's view, written with
 * gpa_write64(): the frames are backed by the p2m, no shadow page and no
 * EPT01 leaf exists yet):
 *
 *   gfn 0x11  PML4   gfn 0x12  PDPT   gfn 0x13  PD   gfn 0x14  PT
 *   VA_4K + i pages -> gfn 0x100 + i  P|RW|US, i < 15
 *   VA_4K + 15 pages -> gfn 0x14 (the PT itself), P|RW|US
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

#define VA_4K UINT64_C(0x0000555500000000)
#define PG(i) (VA_4K + (uint64_t)(i)*PAGE_SIZE)
#define TBL(g) ((uint64_t)(g) << PAGE_SHIFT)
#define UP (GPTE_P | GPTE_RW | GPTE_US)
#define SENTINEL UINT64_C(0x5a5aa5a5c3c33c3c)

enum {
	PF = EXIT_EXCEPTION,
	VIOL = EXIT_EPT_VIOLATION,
	VMREAD = EXIT_VMREAD,
	RESUME = EXIT_VMRESUME
};

static struct vm_config cfg_of(void)
{
	struct vm_config c;
	config_defaults(&c);
	c.mode = "shadow-on-ept";
	c.guest_mem = UINT64_C(64) << 20;
	c.walk_caches = false;
	c.audit = true;
	return c;
}

static struct vm *mk(const struct vm_config *c)
{
	char err[256] = "";
	struct vm *vm = vm_create(c, err, sizeof(err));
	if (!vm)
		fail_msg("vm_create: %s", err);
	return vm;
}

static void build_tables(struct vm *vm)
{
	gpa_write64(vm, GPA(TBL(0x11) + 8 * pt_index(VA_4K, 4)), TBL(0x12) | UP);
	gpa_write64(vm, GPA(TBL(0x12) + 8 * pt_index(VA_4K, 3)), TBL(0x13) | UP);
	gpa_write64(vm, GPA(TBL(0x13) + 8 * pt_index(VA_4K, 2)), TBL(0x14) | UP);
	for (unsigned i = 0; i < 16; i++)
		gpa_write64(vm, GPA(TBL(0x14) + 8 * pt_index(PG(i), 1)),
			    (i == 15 ? TBL(0x14) : TBL(0x100 + i)) | UP);
	cpu_write_cr3(&vm->vcpu, TBL(0x11));
	memset(&vm->st, 0, sizeof(vm->st));
	cpu_set_user(&vm->vcpu, true);
}

struct seq {
	int n;
	int reason[64];
};

static void seq_fn(void *ctx, const struct trace_event *ev)
{
	struct seq *s = ctx;
	if (ev->kind == TR_VM_EXIT && s->n < 64)
		s->reason[s->n++] = (int)ev->result;
}

static void seq_expect(const struct seq *s, const int *want, int n)
{
	char buf[512] = "";
	for (int i = 0; i < s->n && i < 64; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " %d", s->reason[i]);
	if (s->n != n)
		fail_msg("%d exits, want %d:%s", s->n, n, buf);
	for (int i = 0; i < n; i++)
		if (s->reason[i] != want[i])
			fail_msg("exit %d: reason %d, want %d:%s", i, s->reason[i], want[i], buf);
}

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void test_soe_first_touch(void **state)
{
	(void)state;
	struct vm_config c = cfg_of();
	struct vm *vm = mk(&c);
	build_tables(vm);
	struct seq s = {0};
	vm->trace_fn = seq_fn;
	vm->trace_ctx = &s;
	cpu_store(&vm->vcpu, PG(0), 8, SENTINEL);
	vm->trace_fn = NULL;
	static const int want[] = {
	    VIOL,				  /* EPT01: the SPT12 root, L1's frame */
	    PF,	  VMREAD, VMREAD, VMREAD, RESUME, /* reflected: L1 builds SPT12 */
	    VIOL, VIOL,	  VIOL,			  /* EPT01: the SPT12 PDPT, PD, PT (L1's frames) */
	    VIOL,				  /* EPT01: the data frame, L0's own */
	};
	seq_expect(&s, want, NELEM(want));
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
	struct vm_config c = cfg_of();
	c.host_page = PG_2M;
	struct vm *vm = mk(&c);
	build_tables(vm);
	struct seq s = {0};
	vm->trace_fn = seq_fn;
	vm->trace_ctx = &s;
	cpu_store(&vm->vcpu, PG(0), 8, SENTINEL);
	vm->trace_fn = NULL;
	static const int want[] = {VIOL, PF, VMREAD, VMREAD, VMREAD, RESUME, VIOL};
	seq_expect(&s, want, NELEM(want));
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
	struct vm_config c = cfg_of();
	struct vm *vm = mk(&c);
	build_tables(vm);
	cpu_store(&vm->vcpu, PG(0), 8, SENTINEL);
	(void)cpu_load(&vm->vcpu, PG(15), 8);
	memset(&vm->st, 0, sizeof(vm->st));
	struct seq s = {0};
	vm->trace_fn = seq_fn;
	vm->trace_ctx = &s;
	cpu_store(&vm->vcpu, PG(15) + 8 * pt_index(PG(1), 1), 8, TBL(0x120) | UP);
	vm->trace_fn = NULL;
	/* The store faults on the read-only spte L1 keeps for its shadowed
	 * table: the #PF L1 intercepts, reflected; L1 emulates the store. */
	static const int want[] = {PF, VMREAD, VMREAD, VMREAD, RESUME};
	seq_expect(&s, want, NELEM(want));
	assert_int_equal(vm->st.exits_pt_write, 1);
	assert_int_equal(vm->st.l2_exits, 1);
	assert_int_equal(vm->st.reflected_exits, 1);
	assert_int_equal(vm->st.exits_l1, 4);
	assert_int_equal(vm->st.vm_exits, 5);
	assert_int_equal(gpa_read64(vm, GPA(TBL(0x14) + 8 * pt_index(PG(1), 1))), TBL(0x120) | UP);
	/* With VMCS shadowing L1's VMREADs do not exit. */
	vm_destroy(vm);
	c.vmcs_shadow = true;
	vm = mk(&c);
	build_tables(vm);
	cpu_store(&vm->vcpu, PG(0), 8, SENTINEL);
	(void)cpu_load(&vm->vcpu, PG(15), 8);
	s.n = 0;
	vm->trace_fn = seq_fn;
	vm->trace_ctx = &s;
	cpu_store(&vm->vcpu, PG(15) + 8 * pt_index(PG(1), 1), 8, TBL(0x120) | UP);
	vm->trace_fn = NULL;
	static const int want2[] = {PF, RESUME};
	seq_expect(&s, want2, NELEM(want2));
	char detail[256];
	assert_null(vm->mmu->audit(vm, detail, sizeof(detail)));
	vm_destroy(vm);
}

static void run_or_fail(const struct vm_config *c, const char *wl, struct run_result *r)
{
	const struct workload *w = workload_find(wl);
	assert_non_null(w);
	struct wl_params p = {0};
	if (run_workload(c, w, &p, NULL, r) != 0)
		fail_msg("%s under %s: %s", wl, c->mode, r->err);
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
		struct vm_config c = cfg_of();
		c.walk_caches = true;
		c.audit = false;
		c.mode = "native";
		run_or_fail(&c, wls[i], &rl);
		c.mode = "shadow";
		run_or_fail(&c, wls[i], &rs);
		c.mode = "shadow-on-ept";
		c.audit = i == 0;
		run_or_fail(&c, wls[i], &rv);
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

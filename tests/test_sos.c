/*
 * test_sos.c - shadow on shadow (src/nvirt/sos.c, spt02.c): L1 runs
 * shadow paging for L2 (SPT12), L0 has no EPT and shadows SPT12 into
 * SPT02, which the hardware walks alone. The exits at each level in their
 * exact order for one L2 first touch and for L2 page-table stores, the 1D
 * walk's reference count, L0's write protection of SPT12 and its zaps,
 * the audit (and that it catches a bad SPT02 entry), an abort inside a
 * delegated call, equivalence with native paging on every workload, and
 * the mode's refusals of bad input.
 *
 * The hand-built L2 guest is tests/support/l2_guest.h's:
 *
 *   L2 CR3 -> PML4 0x11 -> PDPT 0x12 -> PD 0x13 -> PT 0x14
 *   PG(i) -> gfn 0x100 + i (i < 15), PG(15) -> the PT 0x14 itself
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/core/cpu.h"
#include "../src/core/walk.h"
#include "../src/lib/run.h"
#include "../src/nvirt/nvirt.h"
#include "../src/nvirt/sos.h"
#include "../src/cli/registry.h"
#include "support/l2_guest.h"
#include "support/wl_cases.h"

#define MODE "shadow-on-shadow"

static const char *argv0;

/* The SPT02 entry the hardware reads last for gva (its leaf, or where the
 * walk stops), found without touching A/D. */
static uint64_t spt02_leaf_addr(struct vm *vm, gva_t gva)
{
	struct sos *s = vm->mode_state;
	uint64_t table = s->l0.root->hfn << PAGE_SHIFT, ea = 0;
	for (int l = vm->cfg.levels; l >= 1; l--) {
		ea = table + 8u * pt_index(gva, l);
		uint64_t e = hpa_read64(vm, HPA(ea));
		if (!gpte_present(e) || l == 1 || (e & GPTE_PS))
			break;
		table = pte_frame(e);
	}
	return ea;
}

/*
 * One L2 first touch. L1 already holds an empty SPT12 root (from L2's CR3
 * load); nothing else exists. The store's SPT02 walk fails at the root:
 *   0           L2 #PF, to L0; SPT12 does not map it: reflected to L1
 *   23 23 23    L1 reads the exit fields (VMREAD exits)
 *   0           L1's shadow MMU links its PDPT into its root: L1's first
 *               touch of the root frame, a #PF L0 fixes alone (SPT01)
 *   0           the same store, to the root L0 write-protects since it
 *               built the SPT02 root from it: emulated
 *   0 0 0       L1's first touches of its new PDPT, PD and PT frames
 *   24          L1's VMRESUME
 *   0           L2 retries: SPT02 still misses, SPT12 maps it: a hidden
 *               fault L0 fixes alone, building SPT02's PDPT, PD, PT, leaf
 */
static void test_sos_first_touch(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg(MODE, PG_4K);
	struct l2_seq s;
	struct vm *vm = l2_first_touch(&c, &s, NULL);
	static const int want[] = {
	    PF,	    VMREAD, VMREAD, VMREAD, /* reflected to L1 */
	    PF,	    PF,			    /* L1's root: first touch, then the trapped store */
	    PF,	    PF,	    PF,		    /* L1's first touches of its PDPT, PD, PT */
	    RESUME,			    /* L1's VMRESUME */
	    PF,				    /* L0 alone: SPT02 built from SPT12 */
	};
	l2_seq_expect(&s, want, NELEM(want));
	assert_int_equal(vm->st.l2_exits, 2);
	assert_int_equal(vm->st.reflected_exits, 1);
	assert_int_equal(vm->st.exits_hidden_fault, 2); /* L1's, then L0's */
	assert_int_equal(vm->st.exits_l1, 3 + 5 + 1);
	assert_int_equal(vm->st.spt12_traps, 1);
	assert_int_equal(vm->st.exits_ept_violation, 0);
	assert_int_equal(vm->st.vm_exits, 11);
	assert_true(vm->st.l1_cycles > 0);
	/* The one completed walk: SPT02, 1D, 4 levels. */
	assert_int_equal(vm->st.walks, 1);
	assert_int_equal(vm->st.walk_refs, 4);
	assert_int_equal(gpa_read64(vm, GPA(TBL(0x100))), SENTINEL);
	struct sos *so = vm->mode_state;
	assert_int_equal(so->l0.pages, 4); /* root, PDPT, PD, PT */
	char detail[256];
	assert_null(vm->mmu->audit(vm, detail, sizeof(detail)));
	/* Again after the TLB and the walk caches drop it: one 4-reference
	 * walk of SPT02, no exit. */
	tlb_flush_vpid(&vm->vcpu.tlb, vm->vcpu.vpid);
	uint64_t exits = vm->st.vm_exits, refs = vm->st.walk_refs;
	assert_int_equal(cpu_load(&vm->vcpu, PG(0), 8), SENTINEL);
	assert_int_equal(vm->st.vm_exits, exits);
	assert_int_equal(vm->st.walk_refs - refs, 4);
	/* L2 reloads its CR3: L1 intercepts it (28, reflected); its root
	 * stays, so L0's SPT02 does too, and the next load walks it with no
	 * exit. */
	struct l2_seq s2 = {0};
	l2_seq_attach(vm, &s2);
	cpu_write_cr3(&vm->vcpu, TBL(0x11));
	static const int want2[] = {EXIT_CR_ACCESS, VMREAD, VMREAD, VMREAD, RESUME};
	l2_seq_expect(&s2, want2, NELEM(want2));
	s2.n = 0;
	refs = vm->st.walk_refs;
	assert_int_equal(cpu_load(&vm->vcpu, PG(0), 8), SENTINEL);
	assert_int_equal(s2.n, 0);
	assert_int_equal(vm->st.walk_refs - refs, 4);
	vm->trace_fn = NULL;
	assert_int_equal(vm->st.reflected_exits, 2);
	vm_destroy(vm);
}

/* With VMCS shadowing L1's VMREADs do not exit; the rest is the same. */
static void test_sos_first_touch_vmcs_shadow(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg(MODE, PG_4K);
	c.vmcs_shadow = true;
	struct l2_seq s;
	struct vm *vm = l2_first_touch(&c, &s, NULL);
	static const int want[] = {PF, PF, PF, PF, PF, PF, RESUME, PF};
	l2_seq_expect(&s, want, NELEM(want));
	assert_int_equal(vm->st.exits_l1, 5 + 1);
	vm_destroy(vm);
}

/* With 2M host pages L0 backs L1's memory in 2M pages: one SPT01 leaf
 * covers the four SPT12 frames L1 allocates side by side, so L1's first
 * touches are one exit. The hardware's walk is still 4 references: a 1D
 * walk of 4K SPT02 leaves (the guest maps 4K pages). */
static void test_sos_first_touch_2m(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg(MODE, PG_4K);
	c.host_page = PG_2M;
	struct l2_seq s;
	struct vm *vm = l2_first_touch(&c, &s, NULL);
	static const int want[] = {PF, VMREAD, VMREAD, VMREAD, PF, PF, RESUME, PF};
	l2_seq_expect(&s, want, NELEM(want));
	assert_int_equal(vm->st.walk_refs, 4);
	char detail[256];
	assert_null(vm->mmu->audit(vm, detail, sizeof(detail)));
	vm_destroy(vm);
}

/* Touch PG(0) and load PG(15) (the PT through L2's own mapping), then
 * zero the counters. */
static struct vm *pt_setup(struct vm_config *c)
{
	struct vm *vm = l2_mk(c);
	l2_build_tables(vm);
	cpu_store(&vm->vcpu, PG(0), 8, SENTINEL);
	(void)cpu_load(&vm->vcpu, PG(15), 8);
	memset(&vm->st, 0, sizeof(vm->st));
	return vm;
}

/*
 * An L2 page-table store to an entry SPT12 does not map (PG(1)'s PTE),
 * under L1's default unsync policy: SPT12 maps the PT read-only (L1
 * write-protects it), so does SPT02; the #PF is reflected; L1 lets the PT
 * go out of sync and makes its SPT12 leaf for PG(15) writable, a store to
 * the SPT12 PT L0 write-protects:
 *   0 23 23 23  reflected, VMREADs
 *   0           L1's store to the SPT12 PT, emulated by L0, which zaps the
 *               SPT02 leaf of PG(15) (mmu_page_zap_pte)
 *   24          VMRESUME
 *   0           L2 retries: SPT12 now allows the store, SPT02 does not: L0
 *               alone rebuilds the leaf, writable
 * L2's next store to its now unsync PT (PG(0)'s PTE) exits nowhere; its
 * INVLPG of PG(0) is reflected, and L1's resync of its SPT12 leaf traps:
 *   14 23 23 23 0 24
 * and the load that follows is a hidden fault of L0 alone (0).
 */
static void test_sos_pt_write(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg(MODE, PG_4K);
	struct vm *vm = pt_setup(&c);
	uint64_t leaf15 = spt02_leaf_addr(vm, PG(15));
	struct l2_seq s = {0};
	l2_seq_attach(vm, &s);
	cpu_store(&vm->vcpu, PG(15) + 8 * pt_index(PG(1), 1), 8, TBL(0x120) | UP);
	vm->trace_fn = NULL;
	static const int want[] = {PF, VMREAD, VMREAD, VMREAD, PF, RESUME, PF};
	l2_seq_expect(&s, want, NELEM(want));
	assert_int_equal(vm->st.exits_pt_write, 1);
	assert_int_equal(vm->st.l2_exits, 2);
	assert_int_equal(vm->st.reflected_exits, 1);
	assert_int_equal(vm->st.exits_l1, 5);
	assert_int_equal(vm->st.spt12_traps, 1);
	assert_int_equal(vm->st.vm_exits, 7);
	assert_true(hpa_read64(vm, HPA(leaf15)) & GPTE_RW);
	assert_int_equal(gpa_read64(vm, GPA(TBL(0x14) + 8 * pt_index(PG(1), 1))), TBL(0x120) | UP);
	char detail[256];
	assert_null(vm->mmu->audit(vm, detail, sizeof(detail)));

	uint64_t leaf0 = spt02_leaf_addr(vm, PG(0));
	s.n = 0;
	l2_seq_attach(vm, &s);
	cpu_store(&vm->vcpu, PG(15) + 8 * pt_index(PG(0), 1), 8, TBL(0x121) | UP | GPTE_A);
	assert_int_equal(s.n, 0);
	assert_true(gpte_present(hpa_read64(vm, HPA(leaf0)))); /* stale until INVLPG */
	cpu_invlpg(&vm->vcpu, PG(0));
	static const int want2[] = {EXIT_INVLPG, VMREAD, VMREAD, VMREAD, PF, RESUME};
	l2_seq_expect(&s, want2, NELEM(want2));
	assert_false(gpte_present(hpa_read64(vm, HPA(leaf0))));
	assert_int_equal(vm->st.spt12_traps, 2);
	s.n = 0;
	assert_int_equal(cpu_load(&vm->vcpu, PG(0), 8), 0);
	vm->trace_fn = NULL;
	static const int want3[] = {PF};
	l2_seq_expect(&s, want3, NELEM(want3));
	assert_int_equal(vm->st.l2_exits, 4);
	assert_int_equal(vm->st.reflected_exits, 2);
	assert_int_equal(pte_frame(hpa_read64(vm, HPA(leaf0))), p2m_lookup(vm, 0x121)
								    << PAGE_SHIFT);
	assert_null(vm->mmu->audit(vm, detail, sizeof(detail)));
	vm_destroy(vm);
}

/*
 * The same stores under L1's eager policy (--shadow-sync eager): L1
 * emulates each one. To an entry SPT12 does not map (PG(1)'s PTE): no
 * spte changes, 0 23 23 23 24. To PG(0)'s PTE, which SPT12 and SPT02 map:
 * L1's emulation changes its SPT12 leaf, a store to the SPT12 PT L0
 * write-protects, which zaps the SPT02 leaf: 0 23 23 23 0 24. L2's next
 * load of PG(0) is a hidden fault of L0 alone (0): SPT12 maps the new
 * gpte.
 */
static void test_sos_pt_write_eager(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg(MODE, PG_4K);
	c.shadow_sync = SYNC_EAGER;
	struct vm *vm = pt_setup(&c);
	struct l2_seq s = {0};
	l2_seq_attach(vm, &s);
	cpu_store(&vm->vcpu, PG(15) + 8 * pt_index(PG(1), 1), 8, TBL(0x120) | UP);
	static const int want[] = {PF, VMREAD, VMREAD, VMREAD, RESUME};
	l2_seq_expect(&s, want, NELEM(want));
	assert_int_equal(vm->st.exits_pt_write, 1);
	assert_int_equal(vm->st.l2_exits, 1);
	assert_int_equal(vm->st.reflected_exits, 1);
	assert_int_equal(vm->st.exits_l1, 4);
	assert_int_equal(vm->st.spt12_traps, 0);
	assert_int_equal(vm->st.vm_exits, 5);

	uint64_t leaf0 = spt02_leaf_addr(vm, PG(0));
	assert_true(gpte_present(hpa_read64(vm, HPA(leaf0))));
	s.n = 0;
	cpu_store(&vm->vcpu, PG(15) + 8 * pt_index(PG(0), 1), 8, TBL(0x121) | UP | GPTE_A);
	static const int want2[] = {PF, VMREAD, VMREAD, VMREAD, PF, RESUME};
	l2_seq_expect(&s, want2, NELEM(want2));
	assert_int_equal(vm->st.exits_pt_write, 2);
	assert_int_equal(vm->st.spt12_traps, 1);
	assert_false(gpte_present(hpa_read64(vm, HPA(leaf0))));
	char detail[256];
	assert_null(vm->mmu->audit(vm, detail, sizeof(detail)));
	s.n = 0;
	assert_int_equal(cpu_load(&vm->vcpu, PG(0), 8), 0);
	vm->trace_fn = NULL;
	static const int want3[] = {PF};
	l2_seq_expect(&s, want3, NELEM(want3));
	assert_int_equal(vm->st.l2_exits, 3);
	assert_int_equal(vm->st.reflected_exits, 2);
	assert_int_equal(pte_frame(hpa_read64(vm, HPA(leaf0))), p2m_lookup(vm, 0x121)
								    << PAGE_SHIFT);
	assert_null(vm->mmu->audit(vm, detail, sizeof(detail)));
	vm_destroy(vm);
}

/* The audit catches an SPT02 leaf wider than its SPT12 leaf and an SPT12
 * table that SPT02 was built from but L0 no longer write-protects. */
static void test_sos_audit_catches(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg(MODE, PG_4K);
	struct vm *vm = pt_setup(&c);
	char detail[256];
	assert_null(vm->mmu->audit(vm, detail, sizeof(detail)));
	/* PG(15) maps L2's PT: read-only in SPT12 and SPT02. */
	uint64_t a = spt02_leaf_addr(vm, PG(15));
	uint64_t e = hpa_read64(vm, HPA(a));
	assert_true(gpte_present(e) && !(e & GPTE_RW));
	*(uint64_t *)hpa_ptr(vm, HPA(a)) = e | GPTE_RW | GPTE_D;
	assert_string_equal(vm->mmu->audit(vm, detail, sizeof(detail)), "spt02-within-spt12");
	*(uint64_t *)hpa_ptr(vm, HPA(a)) = e;
	assert_null(vm->mmu->audit(vm, detail, sizeof(detail)));
	struct sos *s = vm->mode_state;
	uint64_t i = sos_vmm_idx(&s->l0, s->l0.root->t12);
	s->l0.wtrack[i]--;
	assert_string_equal(vm->mmu->audit(vm, detail, sizeof(detail)), "spt12-write-protected");
	s->l0.wtrack[i]++;
	assert_null(vm->mmu->audit(vm, detail, sizeof(detail)));
	vm_destroy(vm);
}

/*
 * A failed host allocation at every point of one first touch (inside L1's
 * delegated shadow handler, or in L0's SPT02): the abort lands with this
 * mode's state and ops in place, and vm_destroy() frees both levels (the
 * SANITIZE build's LeakSanitizer checks that nothing leaks).
 */
static void test_sos_abort_in_delegated_call(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg(MODE, PG_4K);
	struct vm *vm = l2_mk(&c);
	vm->cfg.fail_alloc_at = UINT64_MAX; /* count the allocations */
	l2_build_tables(vm);
	uint64_t base = vm->hm.allocs;
	cpu_store(&vm->vcpu, PG(0), 8, SENTINEL);
	uint64_t n = vm->hm.allocs - base;
	vm_destroy(vm);
	assert_true(n >= 8); /* 4 SPT12 tables, 4 SPT02 pages */
	unsigned inside = 0;
	for (uint64_t k = 1; k <= n; k++) {
		vm = l2_mk(&c);
		vm->cfg.fail_alloc_at = UINT64_MAX;
		l2_build_tables(vm);
		void *home = vm->mode_state;
		vm->cfg.fail_alloc_at = vm->hm.allocs + k;
		jmp_buf jb;
		vm->abort_jmp = &jb;
		if (setjmp(jb) == 0) {
			cpu_store(&vm->vcpu, PG(0), 8, SENTINEL);
			fail_msg("allocation %" PRIu64 " of the first touch did not fail", k);
		}
		assert_ptr_equal(vm->mode_state, home);
		/* Landed from inside L1's handler (the delegated call never
		 * returned), or from L0's own code. */
		inside += ((struct sos *)home)->delegating;
		assert_ptr_equal(vm->mmu, mmu_find(MODE));
		assert_ptr_equal(vm->abort_jmp, &jb);
		assert_non_null(strstr(vm->err, "injected"));
		vm->abort_jmp = NULL;
		vm_destroy(vm);
	}
	/* L1's PDPT, PD and PT frames (and the L2 frame's backing, which L1's
	 * memslot allocates) fail inside the delegated call. */
	assert_true(inside >= 3);
	assert_true(inside < n);
}

/*
 * A guest 2M page over 2M host pages: L1's SPT12 maps it with one 2M
 * leaf, and L0's SPT02 leaf is as large (it never exceeds SPT12's): the
 * hardware's 1D walk reads 3 entries.
 */
static void test_sos_large_leaf(void **state)
{
	(void)state;
	struct vm_config c = l2_cfg(MODE, PG_2M);
	struct vm *vm = l2_mk(&c);
	l2_build_tables(vm);
	gva_t va = VA_4K + (UINT64_C(1) << 21);
	gpa_write64(vm, GPA(TBL(0x13) + 8 * pt_index(va, 2)), TBL(0x200) | UP | GPTE_PS);
	memset(&vm->st, 0, sizeof(vm->st));
	cpu_store(&vm->vcpu, va + 0x1234 * 8, 8, SENTINEL);
	assert_int_equal(vm->st.walks, 1);
	assert_int_equal(vm->st.walk_refs, 3);
	uint64_t e = hpa_read64(vm, HPA(spt02_leaf_addr(vm, va)));
	assert_true(gpte_present(e) && (e & GPTE_PS));
	assert_int_equal(e & ~(UINT64_C(0x1fffff)) & PTE_FRAME_MASK, p2m_lookup(vm, 0x200)
									 << PAGE_SHIFT);
	assert_int_equal(gpa_read64(vm, GPA(TBL(0x200) + 0x1234 * 8)), SENTINEL);
	char detail[256];
	assert_null(vm->mmu->audit(vm, detail, sizeof(detail)));
	vm_destroy(vm);
}

/*
 * Every workload of wl_cases, with the audit on after every exit:
 * checksum and digest equal native's. Against single-level shadow paging,
 * L1's shadow MMU sees the same events: each exit shadow takes is one L2
 * exit reflected to L1 (3 VMREADs, a VMRESUME); the other L2 exits are
 * L0's own hidden faults.
 */
static void test_sos_workloads(void **state)
{
	(void)state;
	for (size_t k = 0; k < wl_ncases; k++) {
		const struct wl_case *wc = &wl_cases[k];
		struct run_result rl, rs, rv;
		struct vm_config c = l2_cfg(MODE, PG_4K);
		c.walk_caches = true;
		c.audit = false;
		c.mode = "native";
		l2_run(&c, wc->name, &wc->p, &rl);
		c.mode = "shadow";
		l2_run(&c, wc->name, &wc->p, &rs);
		c.mode = MODE;
		c.audit = true;
		l2_run(&c, wc->name, &wc->p, &rv);
		if (rv.checksum != rl.checksum || rv.guest_digest != rl.guest_digest)
			fail_msg("%s: checksum or digest under %s differs from native", wc->name,
				 MODE);
		const struct stats *v = &rv.whole, *sh = &rs.whole;
		assert_int_equal(v->guest_faults, sh->guest_faults);
		assert_int_equal(v->reflected_exits, sh->vm_exits);
		assert_int_equal(v->exits_pt_write, sh->exits_pt_write);
		assert_int_equal(v->exits_fault_inject, sh->exits_fault_inject);
		assert_int_equal(v->exits_cr3, sh->exits_cr3);
		assert_int_equal(v->exits_invlpg, sh->exits_invlpg);
		assert_int_equal(v->l2_exits - v->reflected_exits,
				 v->exits_hidden_fault - sh->exits_hidden_fault);
		assert_int_equal(v->vm_exits, v->l2_exits + v->exits_l1);
		assert_true(v->exits_l1 >=
			    (NV_L1_VMREADS_EPT + 1) * v->reflected_exits + v->spt12_traps);
		assert_int_equal(v->exits_ept_violation, 0);
		assert_true(v->spt02_pages_peak > 0);
	}
}

/*
 * L1 under a small cap on its shadow pages evicts SPT12 tables (their
 * frames freed, with every store L0 sees), and the model's one host
 * allocator may hand such a frame to L0 for an SPT02 page: L0 then zaps
 * the SPT02 pages that still shadowed it. With the audit on, the runs end
 * with native's checksum and digest.
 */
static void count_page_zaps(void *ctx, const struct trace_event *ev)
{
	if (ev->kind == TR_VMM_OP && ev->what && strcmp(ev->what, "L0: SPT02 page zapped") == 0)
		(*(uint64_t *)ctx)++;
}

static void test_sos_small_cap(void **state)
{
	(void)state;
	uint64_t zaps = 0;
	struct run_hooks hooks = {.trace_fn = count_page_zaps, .trace_ctx = &zaps};
	static const char *const wls[] = {"procs", "fork", "mmap-churn"};
	uint64_t evictions = 0;
	for (size_t k = 0; k < sizeof(wls) / sizeof(wls[0]); k++) {
		const struct wl_case *wc = wl_case_find(wls[k]);
		assert_non_null(wc);
		struct run_result rl, rv;
		struct vm_config c = l2_cfg("native", PG_4K);
		c.audit = false;
		l2_run(&c, wc->name, &wc->p, &rl);
		c.mode = MODE;
		c.audit = true;
		c.shadow_cap = 20;
		const struct workload *w = workload_find(wc->name);
		if (run_workload(&c, w, &wc->p, &hooks, &rv) != 0)
			fail_msg("%s under %s: %s", wc->name, MODE, rv.err);
		if (rv.checksum != rl.checksum || rv.guest_digest != rl.guest_digest)
			fail_msg("%s: checksum or digest under %s with a cap of 20 differs",
				 wc->name, MODE);
		evictions += rv.whole.shadow_evictions;
	}
	assert_true(evictions > 0);
	assert_true(zaps > 0); /* SPT02 pages of frames L1 freed and L0 took */
}

/* Bad input: the mode's refusals exit 2 with a message naming the flag. */
static void test_sos_bad_input(void **state)
{
	(void)state;
	char err[1024];
	static const char *const vcpus[] = {"run",    "--workload", "faults",  "--pages", "8",
					    "--mode", MODE,	    "--vcpus", "2",	  NULL};
	assert_int_equal(l2_cli(argv0, vcpus, err, sizeof(err)), 2);
	assert_non_null(strstr(err, "--vcpus 2"));
	static const char *const pke[] = {"run",    "--workload", "faults", "--pages", "8",
					  "--mode", MODE,	  "--pke",  "on",      NULL};
	assert_int_equal(l2_cli(argv0, pke, err, sizeof(err)), 2);
	assert_non_null(strstr(err, "--pke on"));
	static const char *const vmcs[] = {"run", "--workload",	   "faults", "--mode",
					   MODE,  "--vmcs-shadow", "maybe",  NULL};
	assert_int_equal(l2_cli(argv0, vmcs, err, sizeof(err)), 2);
	assert_non_null(strstr(err, "--vmcs-shadow"));
	assert_non_null(strstr(err, "maybe"));
}

int main(int argc, char **argv)
{
	(void)argc;
	argv0 = argv[0];
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sos_first_touch),
	    cmocka_unit_test(test_sos_first_touch_vmcs_shadow),
	    cmocka_unit_test(test_sos_first_touch_2m),
	    cmocka_unit_test(test_sos_large_leaf),
	    cmocka_unit_test(test_sos_pt_write),
	    cmocka_unit_test(test_sos_pt_write_eager),
	    cmocka_unit_test(test_sos_audit_catches),
	    cmocka_unit_test(test_sos_abort_in_delegated_call),
	    cmocka_unit_test(test_sos_workloads),
	    cmocka_unit_test(test_sos_small_cap),
	    cmocka_unit_test(test_sos_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

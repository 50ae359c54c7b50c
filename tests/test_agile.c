/*
 * test_agile.c - agile paging (Gandhi, Hill and Swift, ISCA'16): exact
 * reference counts of walks that switch from the shadow table to the 2D
 * walk at each level, the VMM policy moving a table between modes, and the
 * equivalence and audit oracles over every workload.
 *
 * Reference counts, 4K guest pages over 4K host pages, walk caches off.
 * With n guest levels and m EPT levels, a walk whose switching entry
 * points at the guest table of level L reads n - L shadow entries, the
 * guest entry at level L at the host address the switching entry gives
 * (1), then for each lower guest level a nested walk and the guest entry
 * (m + 1 each), then the nested walk of the data (m):
 *     refs = (n - L) + 1 + (L - 1)(m + 1) + m,
 * and a guest root in nested mode makes the whole walk 2D:
 *     refs = (n + 1)(m + 1) - 1.
 *
 *   n/m   none  L=1  L=2  L=3  L=4  root
 *   4/4     4    8   12   16    -    24
 *   5/5     5   10   15   20   25    35
 *   5/4     5    9   13   17   21    29   (KVM's default EPT depth)
 *
 * Hand-built guest tables (gPA frames), as in test_nested.c:
 *
 *   CR3 -> 0x10 (PML5, 5-level only) -> 0x11 (PML4) -> 0x12 (PDPT)
 *       -> 0x13 (PD) -> 0x14 (PT) -> data 0x100 + i for page i;
 *   page 15 maps the PT frame 0x14 itself (the guest's view of its table).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/agile/agile.h"
#include "../src/core/cpu.h"
#include "../src/lib/run.h"
#include "../src/cli/registry.h"
#include "../src/teach/scenario.h"

#define VA UINT64_C(0x0000555500000000)
#define PG(i) (VA + (uint64_t)(i)*PAGE_SIZE)
#define TBL(g) ((uint64_t)(g) << PAGE_SHIFT)
#define UP (GPTE_P | GPTE_RW | GPTE_US)

static struct vm *mk(int levels, int ept_levels)
{
	struct vm_config c;
	config_defaults(&c);
	c.mode = "agile";
	c.guest_mem = UINT64_C(1) << 30;
	c.walk_caches = false;
	c.levels = levels;
	c.ept_levels = ept_levels;
	c.audit = true;
	char err[256] = "";
	struct vm *vm = vm_create(&c, err, sizeof(err));
	if (!vm)
		fail_msg("vm_create: %s", err);
	return vm;
}

/* The guest table of 'level' on the path of VA (level == levels: root). */
static gfn_t table_of(int levels, int level)
{
	(void)levels;
	return (gfn_t)(0x14 - (level - 1));
}

static void build_tables(struct vm *vm)
{
	int n = vm->cfg.levels;
	for (int l = n; l > 1; l--)
		gpa_write64(vm, GPA(TBL(table_of(n, l)) + 8 * pt_index(VA, l)),
			    TBL(table_of(n, l - 1)) | UP);
	for (unsigned i = 0; i < 15; i++)
		gpa_write64(vm, GPA(TBL(0x14) + 8 * pt_index(PG(i), 1)), TBL(0x100 + i) | UP);
	gpa_write64(vm, GPA(TBL(0x14) + 8 * pt_index(PG(15), 1)), TBL(0x14) | UP);
	cpu_set_user(&vm->vcpu, true);
	cpu_write_cr3(&vm->vcpu, TBL(table_of(n, n)));
}

/* Trace: steps must run 1, 2, ... across the shadow and the 2D part. */
struct steps {
	int last, errors, shadow, guest, host, cached;
};

static void steps_fn(void *ctx, const struct trace_event *ev)
{
	struct steps *s = ctx;
	if (ev->kind != TR_WALK_REF)
		return;
	if (ev->served != SERVED_MEMORY) {
		s->cached++; /* a walk cache served it: no reference */
		return;
	}
	if (ev->step != s->last + 1)
		s->errors++;
	s->last = ev->step;
	if (ev->dim == DIM_SHADOW)
		s->shadow++;
	else if (ev->dim == DIM_GUEST)
		s->guest++;
	else if (ev->dim == DIM_HOST)
		s->host++;
}

/* One measured load of page 3 after a warm-up: returns its walk's refs. */
static uint64_t measure(struct vm *vm, struct steps *s)
{
	struct vcpu *v = &vm->vcpu;
	(void)cpu_load(v, PG(3), 8); /* warm: hidden faults, EPT violations */
	tlb_flush_all(&v->tlb);
	memset(&vm->st, 0, sizeof(vm->st));
	memset(s, 0, sizeof(*s));
	vm->trace_fn = steps_fn;
	vm->trace_ctx = s;
	(void)cpu_load(v, PG(3), 8);
	vm->trace_fn = NULL;
	assert_int_equal(vm->st.walks, 1);
	assert_int_equal(vm->st.vm_exits, 0);
	assert_int_equal(s->errors, 0);
	return vm->st.walk_refs;
}

struct row {
	int n, m;
	int refs[7]; /* [0] no switch, [L] switch into level L, [6] root nested */
};

static const struct row rows[] = {
    {4, 4, {4, 8, 12, 16, 0, 0, 24}},
    {5, 5, {5, 10, 15, 20, 25, 0, 35}},
    {5, 4, {5, 9, 13, 17, 21, 0, 29}},
};

static int refs_formula(int n, int m, int L)
{
	if (L == 0)
		return n;
	if (L == n)
		return (n + 1) * (m + 1) - 1;
	return (n - L) + 1 + (L - 1) * (m + 1) + m;
}

static void test_ref_counts(void **state)
{
	(void)state;
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		const struct row *row = &rows[r];
		for (int L = 0; L <= row->n; L++) {
			int want = L == row->n ? row->refs[6] : row->refs[L];
			assert_int_equal(want, refs_formula(row->n, row->m, L));
			struct vm *vm = mk(row->n, row->m);
			build_tables(vm);
			if (L > 0)
				ag_table_to_nested(&vm->vcpu, table_of(row->n, L));
			struct steps s;
			uint64_t refs = measure(vm, &s);
			if (refs != (uint64_t)want)
				fail_msg("%d/%d switch at level %d: %" PRIu64 " refs, want %d",
					 row->n, row->m, L, refs, want);
			/* The shadow part and the 2D part, exactly. */
			int shadow = L == row->n ? 0 : row->n - L;
			assert_int_equal(s.shadow, shadow);
			assert_int_equal(s.guest, L);
			assert_int_equal(s.host, L == row->n ? (row->n + 1) * row->m
						 : L == 0    ? 0
							     : L * row->m);
			assert_int_equal(vm->st.walk_refs_guest + vm->st.walk_refs_host,
					 (uint64_t)(want - shadow));
			uint64_t by_level[] = {vm->st.agile_walks_shadow, vm->st.agile_walks_l1,
					       vm->st.agile_walks_l2, vm->st.agile_walks_l3,
					       vm->st.agile_walks_l4};
			if (L == row->n)
				assert_int_equal(vm->st.agile_walks_nested, 1);
			else
				assert_int_equal(by_level[L], 1);
			assert_null(agile_mmu_ops.audit(vm, (char[256]){0}, 256));
			vm_destroy(vm);
		}
	}
}

/*
 * The policy, 4-level: two stores to the shadowed leaf table (through
 * page 15, which maps it) trap and are emulated; the second moves the table
 * to nested mode. A third store does not trap. After an interval of
 * accesses with the table unchanged, the scan takes it back to shadow mode,
 * and the next store traps again.
 */
static void test_policy(void **state)
{
	(void)state;
	struct vm *vm = mk(4, 4);
	vm->cfg.agile_interval = 64;
	build_tables(vm);
	struct vcpu *v = &vm->vcpu;
	struct agile *ag = agile_of(vm);
	(void)cpu_load(v, PG(0), 8); /* shadows the path, protects 0x14 */
	memset(&vm->st, 0, sizeof(vm->st));
	ag->scan_mark = 0;
	gva_t slot = PG(15) + 8 * pt_index(PG(20), 1);
	cpu_store(v, slot, 8, TBL(0x120) | UP);
	assert_int_equal(vm->st.exits_pt_write, 1);
	assert_false(ag->is_nested[0x14]);
	cpu_store(v, slot + 8, 8, TBL(0x121) | UP);
	assert_int_equal(vm->st.exits_pt_write, 2);
	assert_true(ag->is_nested[0x14]);
	assert_int_equal(vm->st.mode_switches, 1);
	assert_null(ag_lookup(ag, 0x14, 1, false, false));
	/* Nested mode: stores to the table no longer exit. */
	uint64_t exits = vm->st.vm_exits, viol = vm->st.exits_ept_violation;
	uint64_t hidden = vm->st.exits_hidden_fault;
	cpu_store(v, slot + 16, 8, TBL(0x122) | UP);
	assert_int_equal(vm->st.exits_pt_write, 2);
	/* Two exits, neither a table write: the hidden fault that puts the
	 * switching entry in the PD's shadow page (the zap dropped its link),
	 * and the EPT violation of the first 2D walk through frame 0x14 (the
	 * guest table and the data of page 15 alike). */
	assert_int_equal(vm->st.vm_exits - exits, 2);
	assert_int_equal(vm->st.exits_hidden_fault - hidden, 1);
	assert_int_equal(vm->st.exits_ept_violation - viol, 1);
	/* Walks through it now switch at the leaf table: that store's, and
	 * this load's. */
	tlb_flush_all(&v->tlb);
	(void)cpu_load(v, PG(4), 8);
	assert_int_equal(vm->st.agile_walks_l1, 2);
	/* The stores above changed it since the snapshot: the first scan
	 * keeps it nested and takes a new snapshot; the next one, the table
	 * quiet, takes it back. */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 70; i++)
			(void)cpu_load(v, PG(i % 8), 8);
		tlb_flush_all(&v->tlb);
		(void)cpu_load(v, PG(5), 8); /* a miss: the scan runs */
		if (round == 0)
			assert_true(ag->is_nested[0x14]);
	}
	assert_false(ag->is_nested[0x14]);
	assert_int_equal(vm->st.mode_switches, 2);
	tlb_flush_all(&v->tlb);
	(void)cpu_load(v, PG(6), 8); /* shadows 0x14 again */
	assert_non_null(ag_lookup(ag, 0x14, 1, false, false));
	cpu_store(v, slot + 24, 8, TBL(0x123) | UP);
	assert_int_equal(vm->st.exits_pt_write, 3);
	assert_null(agile_mmu_ops.audit(vm, (char[256]){0}, 256));
	vm_destroy(vm);
}

/* The audit catches a writable spte over a shadowed table. */
static void test_audit_catches(void **state)
{
	(void)state;
	struct vm *vm = mk(4, 4);
	vm->cfg.audit = false;
	build_tables(vm);
	struct vcpu *v = &vm->vcpu;
	(void)cpu_load(v, PG(15), 8); /* leaf spte of page 15 maps table 0x14, read-only */
	struct agile *ag = agile_of(vm);
	struct ag_page *pt = ag_lookup(ag, 0x14, 1, false, false);
	assert_non_null(pt);
	unsigned idx = pt_index(PG(15), 1);
	uint64_t e = ag_spte_get(vm, pt, idx);
	assert_true(gpte_present(e));
	assert_false(e & GPTE_RW);
	hpa_write64(vm, ag_spte_addr(pt, idx), e | GPTE_RW);
	char detail[256];
	assert_string_equal(agile_mmu_ops.audit(vm, detail, sizeof(detail)), "agile-write-protect");
	hpa_write64(vm, ag_spte_addr(pt, idx), e);
	assert_null(agile_mmu_ops.audit(vm, detail, sizeof(detail)));
	vm_destroy(vm);
}

/*
 * CR0.WP = 0 (KVM's cr0.wp = 0 rule, agile.h's ag_spte_rights()): the
 * hardware runs with WP = 1; page 3's PTE withholds W (P | US), the guest
 * clears WP and SMAP (page 3 is a user page), SMEP stays on.
 *   shadow part  a supervisor store: one exit (exits_dirty, the VMM's walk
 *                sets D), the leaf spte writable, not user, not executable;
 *                the store lands. A user load then: one hidden fault, the
 *                gpte's own rights back (user, read-only). The store again:
 *                one hidden fault, converted again.
 *   nested part  with table 0x14 in nested mode (two trapped stores), each
 *                supervisor store to page 3 faults at the hardware's WP = 1
 *                and is emulated: one exits_hidden_fault per store, no TLB
 *                fill, the value in memory.
 *   WP back on   every shadow page zapped, one exits_cr3 exit.
 */
static void test_wp0(void **state)
{
	(void)state;
	struct vm *vm = mk(4, 4);
	build_tables(vm);
	struct vcpu *v = &vm->vcpu;
	struct agile *ag = agile_of(vm);
	gpa_t pte3 = GPA(TBL(0x14) + 8 * pt_index(PG(3), 1));
	gpa_write64(vm, pte3, TBL(0x103) | GPTE_P | GPTE_US);
	struct paging_ctl ctl = v->ctl;
	ctl.wp = false;
	ctl.smep = true;
	ctl.smap = false; /* page 3 is a user page */
	memset(&vm->st, 0, sizeof(vm->st));
	cpu_set_paging_ctl(v, &ctl);
	assert_int_equal(vm->st.exits_cr3, 1);
	assert_int_equal(ag->pages, 0);
	assert_false(v->hw_rights.ok[ACC_WRITE][0] & 1); /* the hardware keeps WP = 1 */

	/* Shadow part. */
	cpu_set_user(v, false);
	memset(&vm->st, 0, sizeof(vm->st));
	cpu_store(v, PG(3), 8, UINT64_C(0x1111));
	assert_int_equal(vm->st.vm_exits, 1);
	assert_int_equal(vm->st.exits_dirty, 1);
	assert_int_equal(gpa_read64(vm, GPA(TBL(0x103))), 0x1111);
	assert_true(gpa_read64(vm, pte3) & GPTE_D);
	struct ag_page *pt = ag_lookup(ag, 0x14, 1, false, false);
	assert_non_null(pt);
	uint64_t e = ag_spte_get(vm, pt, pt_index(PG(3), 1));
	assert_true((e & GPTE_RW) && !(e & GPTE_US) && (e & GPTE_NX));
	cpu_set_user(v, true);
	assert_int_equal(cpu_load(v, PG(3), 8), 0x1111);
	assert_int_equal(vm->st.vm_exits, 2);
	assert_int_equal(vm->st.exits_hidden_fault, 1);
	e = ag_spte_get(vm, pt, pt_index(PG(3), 1));
	assert_true(!(e & GPTE_RW) && (e & GPTE_US) && !(e & GPTE_NX));
	cpu_set_user(v, false);
	cpu_store(v, PG(3), 8, UINT64_C(0x2222));
	assert_int_equal(vm->st.vm_exits, 3);
	assert_int_equal(vm->st.exits_hidden_fault, 2);
	assert_int_equal(gpa_read64(vm, GPA(TBL(0x103))), 0x2222);
	assert_null(agile_mmu_ops.audit(vm, (char[256]){0}, 256));

	/* Nested part: two trapped stores move table 0x14 to nested mode. */
	gva_t slot = PG(15) + 8 * pt_index(PG(20), 1);
	cpu_store(v, slot, 8, TBL(0x120) | UP);
	cpu_store(v, slot + 8, 8, TBL(0x121) | UP);
	assert_true(ag->is_nested[0x14]);
	(void)cpu_load(v, PG(3), 8); /* the switching entry, the EPT violation */
	tlb_flush_all(&v->tlb);
	memset(&vm->st, 0, sizeof(vm->st));
	for (int i = 0; i < 3; i++)
		cpu_store(v, PG(3), 8, UINT64_C(0x3333) + (uint64_t)i);
	assert_int_equal(vm->st.vm_exits, 3);
	assert_int_equal(vm->st.exits_hidden_fault, 3);
	assert_int_equal(vm->st.agile_walks_l1, 0); /* no walk ended in a fill */
	assert_int_equal(vm->st.fault_walk_refs, 3 * 8);
	assert_int_equal(gpa_read64(vm, GPA(TBL(0x103))), 0x3335);
	assert_null(agile_mmu_ops.audit(vm, (char[256]){0}, 256));

	/* WP back on: every shadow page goes. */
	assert_true(ag->pages > 0);
	ctl.wp = true;
	memset(&vm->st, 0, sizeof(vm->st));
	cpu_set_paging_ctl(v, &ctl);
	assert_int_equal(vm->st.exits_cr3, 1);
	assert_int_equal(ag->pages, 0);
	assert_int_equal(cpu_load(v, PG(3), 8), 0x3335);
	vm_destroy(vm);
}

/*
 * The shadow part's paging-structure cache (walk caches on, 4/4): after
 * pages 3 and 4 are warm and the TLB alone is flushed, a load of page 4
 *   no switch       hits the PDE cache and reads the leaf spte: 1 reference,
 *                   3 levels skipped (psc_hits);
 *   switch at L1    hits the PDPTE cache (the PD's entry is a switching
 *                   entry, which is never cached) and reads it: 1 shadow
 *                   reference, then the 2D part;
 *   switch at L2    hits the PML4E cache, reads the PDPT's switching entry.
 * The 2D part here has no walk cache (nested paging's state was built with
 * walk caches off; only the shadow part's cache is turned on), so it is
 * the formula's: 1 + (L - 1)(m + 1) + m. Hence 1, 1 + 1 + 4 = 6 and
 * 1 + 1 + 5 + 4 = 11 references. A change of a present spte flushes the
 * cache.
 */
static void test_psc(void **state)
{
	(void)state;
	static const struct {
		int L, shadow, guest, host, hits;
	} want[] = {{0, 1, 0, 0, 3}, {1, 1, 1, 4, 2}, {2, 1, 2, 8, 1}};
	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		struct vm *vm = mk(4, 4);
		vm->cfg.walk_caches = true;
		vm->cfg.agile_writes = 0; /* tables stay where the test puts them */
		build_tables(vm);
		struct vcpu *v = &vm->vcpu;
		if (want[k].L)
			ag_table_to_nested(v, table_of(4, want[k].L));
		(void)cpu_load(v, PG(3), 8);
		(void)cpu_load(v, PG(4), 8);
		tlb_flush_all(&v->tlb);
		memset(&vm->st, 0, sizeof(vm->st));
		struct steps s = {0};
		vm->trace_fn = steps_fn;
		vm->trace_ctx = &s;
		(void)cpu_load(v, PG(4), 8);
		vm->trace_fn = NULL;
		assert_int_equal(vm->st.walks, 1);
		assert_int_equal(vm->st.vm_exits, 0);
		assert_int_equal(s.shadow, want[k].shadow);
		assert_int_equal(s.guest, want[k].guest);
		assert_int_equal(s.host, want[k].host);
		assert_int_equal(vm->st.walk_refs, want[k].shadow + want[k].guest + want[k].host);
		assert_int_equal(vm->st.psc_hits, want[k].hits);
		if (want[k].L == 0) {
			/* A trapped store to page 4's own PTE zaps its spte,
			 * which flushes the cache: the load walks all 4
			 * levels after one hidden fault. (A store to an entry
			 * without an spte changes none and flushes nothing.) */
			cpu_store(v, PG(15) + 8 * pt_index(PG(20), 1), 8, TBL(0x120) | UP);
			tlb_flush_all(&v->tlb);
			uint64_t refs = vm->st.walk_refs;
			(void)cpu_load(v, PG(4), 8);
			assert_int_equal(vm->st.walk_refs - refs, 1);
			cpu_store(v, PG(15) + 8 * pt_index(PG(4), 1), 8, TBL(0x104) | UP);
			assert_int_equal(vm->st.exits_pt_write, 2);
			refs = vm->st.walk_refs;
			uint64_t hidden = vm->st.exits_hidden_fault;
			(void)cpu_load(v, PG(4), 8);
			assert_int_equal(vm->st.walk_refs - refs, 4);
			assert_int_equal(vm->st.exits_hidden_fault - hidden, 1);
		}
		assert_null(agile_mmu_ops.audit(vm, (char[256]){0}, 256));
		vm_destroy(vm);
	}
}

/*
 * Prefetch (KVM's FNAME(pte_prefetch), 8 entries): pages 0..7 have
 * accessed PTEs and backed frames. A load of page 3 takes one hidden
 * fault, which installs page 3's spte and prefetches the other 7 of its
 * aligned group, so the loads of pages 0..7 take no other exit. With
 * page 5's PTE not accessed, the scan stops there: pages 0, 1, 2 and 4
 * are prefetched; the load of page 5 takes its own hidden fault (the
 * VMM's walk sets A), whose scan prefetches 6 and 7: 6 prefetches, 2
 * exits. With --prefetch off, every page takes its own fault: 8 exits.
 */
static void test_prefetch(void **state)
{
	(void)state;
	static const struct {
		bool on;
		int clear_a; /* page whose PTE has A clear, or -1 */
		uint64_t prefetches, exits;
	} cases[] = {{true, -1, 7, 1}, {true, 5, 4 + 2, 2}, {false, -1, 0, 8}};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct vm *vm = mk(4, 4);
		vm->cfg.shadow_prefetch = cases[k].on;
		build_tables(vm);
		struct vcpu *v = &vm->vcpu;
		for (int i = 0; i < 8; i++) {
			uint64_t a = i == cases[k].clear_a ? 0 : GPTE_A;
			gpa_write64(vm, GPA(TBL(0x14) + 8 * pt_index(PG(i), 1)),
				    TBL(0x100 + i) | UP | a);
			(void)p2m_ensure(vm, 0x100 + (gfn_t)i);
		}
		(void)cpu_load(v, PG(15), 8); /* builds the path (other group) */
		memset(&vm->st, 0, sizeof(vm->st));
		(void)cpu_load(v, PG(3), 8);
		for (int i = 0; i < 8; i++)
			(void)cpu_load(v, PG(i), 8);
		assert_int_equal(vm->st.shadow_prefetches, cases[k].prefetches);
		assert_int_equal(vm->st.exits_hidden_fault, cases[k].exits);
		assert_int_equal(vm->st.vm_exits, cases[k].exits);
		assert_null(agile_mmu_ops.audit(vm, (char[256]){0}, 256));
		vm_destroy(vm);
	}
}

/*
 * The cap (cfg.shadow_cap, FIFO eviction as src/shadow): 24 leaf tables
 * under one PD (PD entries 168 + j -> PT frame 0x200 + j -> data
 * 0x300 + j). With the cap at its floor, 4 x 4 + 4 = 20 pages, the root,
 * the PDPT and the PD leave room for 17 leaf tables: loading one page
 * through each of the 24 builds 24 leaf tables and evicts the 7 oldest
 * (never the root, never a page on the path being built), and the peak is
 * the cap. A load through the first leaf table, evicted, faults again and
 * evicts one more.
 */
static void test_cap(void **state)
{
	(void)state;
	struct vm *vm = mk(4, 4);
	vm->cfg.audit = false;
	struct agile *ag = agile_of(vm);
	ag->cap = AG_MIN_CAP(4);
	assert_int_equal(ag->cap, 20);
	build_tables(vm);
	struct vcpu *v = &vm->vcpu;
	gva_t base = VA & ~((UINT64_C(1) << 30) - 1); /* PD index 0 of VA's PD */
	unsigned pd0 = pt_index(VA, 2);
	for (unsigned j = 0; j < 24; j++) {
		gva_t va = base + (gva_t)(pd0 + j) * (UINT64_C(1) << 21);
		gpa_write64(vm, GPA(TBL(0x13) + 8 * (pd0 + j)), TBL(0x200 + j) | UP);
		gpa_write64(vm, GPA(TBL(0x200 + j) + 8 * pt_index(va, 1)), TBL(0x300 + j) | UP);
	}
	memset(&vm->st, 0, sizeof(vm->st));
	for (unsigned j = 0; j < 24; j++)
		(void)cpu_load(v, base + (gva_t)(pd0 + j) * (UINT64_C(1) << 21), 8);
	assert_int_equal(vm->st.exits_hidden_fault, 24);
	assert_int_equal(vm->st.shadow_evictions, 7);
	assert_int_equal(ag->pages, 20);
	assert_int_equal(ag->pages_peak, 20);
	assert_null(ag_lookup(ag, 0x200, 1, false, false));
	assert_non_null(ag_lookup(ag, 0x207, 1, false, false));
	tlb_flush_all(&v->tlb);
	(void)cpu_load(v, base + (gva_t)pd0 * (UINT64_C(1) << 21), 8);
	assert_int_equal(vm->st.exits_hidden_fault, 25);
	assert_int_equal(vm->st.shadow_evictions, 8);
	assert_null(agile_mmu_ops.audit(vm, (char[256]){0}, 256));
	vm_destroy(vm);
}

/*
 * The previous-root cache (cfg.shadow_roots, KVM's prev_roots): two
 * address spaces, roots 0x11 and 0x31 (a copy of 0x11). CR3 loads A, B,
 * A, B: the first two build or find their roots, the last two are served
 * by the cache (2 root_cache_hits); with no cache (shadow_roots 0), none.
 * Every CR3 load exits either way (exits_cr3 4).
 */
static void test_root_cache(void **state)
{
	(void)state;
	for (uint32_t nroots = 0; nroots <= 3; nroots += 3) {
		struct vm *vm = mk(4, 4);
		struct agile *ag = agile_of(vm);
		ag->nprev = nroots;
		build_tables(vm);
		struct vcpu *v = &vm->vcpu;
		for (unsigned i = 0; i < 512; i++)
			gpa_write64(vm, GPA(TBL(0x31) + 8 * i),
				    gpa_read64(vm, GPA(TBL(0x11) + 8 * i)));
		memset(&vm->st, 0, sizeof(vm->st));
		for (int k = 0; k < 4; k++) {
			cpu_write_cr3(v, TBL(k % 2 ? 0x31 : 0x11));
			(void)cpu_load(v, PG(3), 8);
		}
		assert_int_equal(vm->st.exits_cr3, 4);
		assert_int_equal(vm->st.root_cache_hits, nroots ? 2 : 0);
		assert_null(agile_mmu_ops.audit(vm, (char[256]){0}, 256));
		vm_destroy(vm);
	}
}

/*
 * CR0.WP = 0 under a read-only PDE (the PTE grants W): the conversion would
 * widen the PD's link, which other walks share, so the VMM emulates each
 * supervisor store instead (exits_hidden_fault, no TLB fill): two stores
 * before any spte exists, 2 exits; a load builds the path with the
 * guest's rights (1 exit); a store then faults on the link's rights and is
 * emulated again (1 exit). The PTE gets D, the page the last value.
 */
static void test_wp0_upper(void **state)
{
	(void)state;
	struct vm *vm = mk(4, 4);
	build_tables(vm);
	struct vcpu *v = &vm->vcpu;
	gpa_t pde = GPA(TBL(0x13) + 8 * pt_index(VA, 2));
	gpa_write64(vm, pde, TBL(0x14) | GPTE_P | GPTE_US);
	struct paging_ctl ctl = v->ctl;
	ctl.wp = false;
	ctl.smap = false;
	cpu_set_paging_ctl(v, &ctl);
	cpu_set_user(v, false);
	memset(&vm->st, 0, sizeof(vm->st));
	cpu_store(v, PG(5), 8, 1);
	cpu_store(v, PG(5), 8, 2);
	assert_int_equal(vm->st.vm_exits, 2);
	assert_int_equal(vm->st.exits_hidden_fault, 2);
	assert_int_equal(vm->st.walks, 0);
	assert_int_equal(cpu_load(v, PG(5), 8), 2);
	assert_int_equal(vm->st.vm_exits, 3);
	cpu_store(v, PG(5), 8, 3);
	assert_int_equal(vm->st.vm_exits, 4);
	assert_int_equal(vm->st.exits_hidden_fault, 4);
	assert_int_equal(gpa_read64(vm, GPA(TBL(0x105))), 3);
	assert_true(gpa_read64(vm, GPA(TBL(0x14) + 8 * pt_index(PG(5), 1))) & GPTE_D);
	struct ag_page *pd = ag_lookup(agile_of(vm), 0x13, 2, false, false);
	assert_non_null(pd);
	uint64_t link = ag_spte_get(vm, pd, pt_index(VA, 2));
	assert_true(!(link & GPTE_RW) && (link & GPTE_US));
	assert_null(agile_mmu_ops.audit(vm, (char[256]){0}, 256));
	vm_destroy(vm);
}

/* Every workload, small, under --audit: the checksum and the guest digest
 * of native, for two seeds. */
static void test_equivalence_audit(void **state)
{
	(void)state;
	for (size_t k = 0; workloads[k]; k++) {
		for (uint64_t seed = 1; seed <= 2; seed++) {
			struct vm_config c;
			config_defaults(&c);
			c.guest_mem = UINT64_C(64) << 20;
			struct wl_params p = {.seed = seed, .pages = 256, .ops = 2};
			struct run_result nat, ag;
			c.mode = "native";
			assert_int_equal(run_workload(&c, workloads[k], &p, NULL, &nat), 0);
			c.mode = "agile";
			c.audit = true;
			c.agile_interval = 512;
			if (run_workload(&c, workloads[k], &p, NULL, &ag) != 0)
				fail_msg("%s seed %" PRIu64 " under agile: %s", workloads[k]->name,
					 seed, ag.err);
			assert_int_equal(ag.checksum, nat.checksum);
			assert_int_equal(ag.guest_digest, nat.guest_digest);
			assert_int_equal(ag.st.walks,
					 ag.st.agile_walks_shadow + ag.st.agile_walks_l1 +
					     ag.st.agile_walks_l2 + ag.st.agile_walks_l3 +
					     ag.st.agile_walks_l4 + ag.st.agile_walks_nested);
		}
	}
}

/* The hot-table scenario: the second trapped PTE store moves the leaf
 * table to nested mode (one mode change, two table-store exits), and the
 * last step's walk switches into the leaf table. Shadow paging traps all
 * three PTE stores; nested paging none. */
struct lastwalk {
	int step, shadow, guest;
};

static void lw_step(void *ctx, struct vm *vm, int n, const char *heading)
{
	(void)vm;
	(void)heading;
	struct lastwalk *l = ctx;
	l->step = n;
	l->shadow = l->guest = 0;
}

static void lw_event(void *ctx, struct vm *vm, const struct trace_event *ev, const char *exit)
{
	(void)vm;
	(void)exit;
	struct lastwalk *l = ctx;
	if (ev->kind == TR_WALK_REF && ev->dim == DIM_SHADOW)
		l->shadow++;
	/* Hardware guest references; the VMM's software walk names itself. */
	if (ev->kind == TR_WALK_REF && ev->dim == DIM_GUEST && ev->what == NULL)
		l->guest++;
}

static void test_scenario_hot_table(void **state)
{
	(void)state;
	struct vm_config c;
	config_defaults(&c);
	c.guest_mem = SCENARIO_GUEST_MEM;
	struct stats t;
	char err[256];
	c.mode = "agile";
	struct lastwalk l = {0};
	struct scenario_observer obs = {.step = lw_step, .event = lw_event, .ctx = &l};
	assert_int_equal(scenario_run("hot-table", &c, &obs, &t, err, sizeof(err)), 0);
	assert_int_equal(t.mode_switches, 1);
	assert_int_equal(t.exits_pt_write, 2);
	/* Walks that switch at the leaf table: step 2's store once the table
	 * went nested, step 3's store, step 4's load. */
	assert_int_equal(t.agile_walks_l1, 3);
	/* The last step's walk, as the hardware made it (twice: before and
	 * after its EPT violation): 3 shadow entries, then the guest's leaf
	 * entry read at the host address the switching entry gives. */
	assert_int_equal(l.step, 4);
	assert_int_equal(l.shadow, 2 * 3);
	assert_int_equal(l.guest, 2 * 1);
	c.mode = "shadow";
	assert_int_equal(scenario_run("hot-table", &c, NULL, &t, err, sizeof(err)), 0);
	assert_int_equal(t.mode_switches, 0);
	c.mode = "nested";
	assert_int_equal(scenario_run("hot-table", &c, NULL, &t, err, sizeof(err)), 0);
	assert_int_equal(t.exits_pt_write, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ref_counts),	       cmocka_unit_test(test_policy),
	    cmocka_unit_test(test_audit_catches),      cmocka_unit_test(test_equivalence_audit),
	    cmocka_unit_test(test_scenario_hot_table), cmocka_unit_test(test_wp0),
	    cmocka_unit_test(test_wp0_upper),	       cmocka_unit_test(test_psc),
	    cmocka_unit_test(test_prefetch),	       cmocka_unit_test(test_cap),
	    cmocka_unit_test(test_root_cache),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_shadow_rules.c - the KVM rules the shadow MMU follows by default,
 * one test per rule, each asserting the exact counts the rule implies:
 *
 *   1. leaf tables go unsync by default (mmu_try_to_unsync_pages());
 *   2. a flush resyncs only the unsync pages reachable from the root
 *      (kvm_mmu_sync_roots() -> mmu_sync_children()); shadow pages of freed
 *      tables stay unsync and unreached;
 *   3. a flushing CR3 write flushes every PCID and drops the cached roots
 *      of its PCID (kvm_invalidate_pcid(), vpid_sync_context()); a no-flush
 *      CR3 write that misses the root cache syncs and flushes
 *      (kvm_mmu_load());
 *   4. write-flood detection skips 4K leaf tables (detect_write_flooding());
 *   5. INVLPG syncs the entry under every cached root (kvm_mmu_invlpg());
 *   6. prefetch stops at the first unusable guest entry
 *      (FNAME(pte_prefetch), FNAME(prefetch_gpte));
 *   7. CR3 and INVLPG exits are charged their own fast-path handler costs.
 *
 * Like tests/test_shadow.c, the scenarios boot a real guest, build state
 * through guest-mm, reset the statistics and then perform the accesses
 * whose consequences the comment above each test predicts.
 *
 * Guest virtual layout (4-level paging): every process's first gmm_mmap()
 * is at GMM_MMAP_BASE (0x10000000); pages 0..511 of it share one guest leaf
 * table, and an address 2 MiB further on is in the next leaf table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../src/core/cpu.h"
#include "../src/cli/registry.h"
#include "../src/lib/run.h"
#include "../src/guest-mm/gmm.h"
#include "../src/shadow/shadow.h"
#include "../workloads/workload.h"

#define RW (GPROT_READ | GPROT_WRITE)
#define MIB2 (UINT64_C(2) << 20)

/* ---- helpers ---- */

static struct vm_config rules_config(void)
{
	struct vm_config c;
	config_defaults(&c);
	c.mode = "shadow";
	c.guest_mem = UINT64_C(256) << 20;
	c.audit = true;
	return c;
}

static struct vm *boot(const struct vm_config *c)
{
	char err[256];
	struct vm *vm = vm_create(c, err, sizeof(err));
	if (!vm)
		fail_msg("vm_create: %s", err);
	if (gmm_boot(vm) != 0)
		fail_msg("gmm_boot: %s", vm->err);
	return vm;
}

static void reset_stats(struct vm *vm)
{
	memset(&vm->st, 0, sizeof(vm->st));
}

static void user_store(struct vm *vm, gva_t va, uint64_t val)
{
	cpu_set_user(&vm->vcpu, true);
	cpu_store(&vm->vcpu, va, 8, val);
}

static uint64_t user_load(struct vm *vm, gva_t va)
{
	cpu_set_user(&vm->vcpu, true);
	return cpu_load(&vm->vcpu, va, 8);
}

/* A store by the guest kernel through its direct map. */
static void kernel_store(struct vm *vm, gpa_t pa, uint64_t val)
{
	cpu_set_user(&vm->vcpu, false);
	cpu_store(&vm->vcpu, gmm_kva(vm, pa), 8, val);
}

/* Guest-physical address of the guest leaf entry that maps va (4K pages). */
static gpa_t guest_pte_addr(struct vm *vm, gva_t va)
{
	uint64_t table = pte_frame(vm->vcpu.cr3);
	for (int l = vm->cfg.levels; l > LVL_PT; l--) {
		uint64_t e = gpa_read64(vm, GPA(table + 8u * pt_index(va, l)));
		assert_true(gpte_present(e));
		table = pte_frame(e);
	}
	return GPA(table + 8u * pt_index(va, LVL_PT));
}

/* The level-1 shadow page under root that maps va, or NULL. */
static struct shadow_page *leaf_page(struct vm *vm, struct shadow_page *root, gva_t va)
{
	struct shadow *sh = shadow_of(vm);
	struct shadow_page *sp = root;
	for (int l = vm->cfg.levels; l > LVL_PT; l--) {
		uint64_t s = spte_get(vm, sp, pt_index(va, l));
		if (!gpte_present(s) || spte_leaf(s, l))
			return NULL;
		sp = sp_of_hfn(sh, hpa_to_hfn(HPA(pte_frame(s))));
	}
	return sp;
}

static void assert_stats_ok(struct vm *vm)
{
	const char *bad = stats_check(&vm->st, false);
	if (bad)
		fail_msg("stats invariant %s", bad);
}

/* ---- rule 1: unsync by default ---- */

/*
 * The default policy is unsync. Setup: one process, 16 pages, page 0
 * written, then a flushing CR3 reload brings its leaf table back in sync
 * (write-protected). Then two kernel stores to the leaf table:
 *   - the first exits once (exits_pt_write 1) and takes the page out of
 *     sync without emulating: the frame becomes writable;
 *   - the second goes straight to memory: still 1 exit.
 */
static void test_rule1_unsync_default(void **state)
{
	(void)state;
	struct vm_config d;
	config_defaults(&d);
	assert_int_equal(d.shadow_sync, SYNC_UNSYNC);

	struct vm_config c = rules_config();
	struct vm *vm = boot(&c);
	assert_non_null(gmm_proc_create(vm));
	gva_t x = gmm_mmap(vm, 0, 16 * PAGE_SIZE, RW, 0);
	user_store(vm, x, 1);
	cpu_set_user(&vm->vcpu, false);
	cpu_write_cr3(&vm->vcpu, vm->vcpu.cr3);
	struct shadow_page *sp = leaf_page(vm, shadow_of(vm)->cur.sp, x);
	assert_non_null(sp);
	assert_false(sp->unsync);
	gpa_t pte = guest_pte_addr(vm, x);
	uint64_t old = gpa_read64(vm, pte);
	reset_stats(vm);

	kernel_store(vm, pte, old);
	assert_int_equal(vm->st.exits_pt_write, 1);
	assert_int_equal(vm->st.vm_exits, 1);
	assert_true(sp->unsync);
	assert_false(gfn_write_protected(shadow_of(vm), gpa_to_gfn(pte)));
	kernel_store(vm, pte, old);
	assert_int_equal(vm->st.vm_exits, 1);
	assert_int_equal(vm->st.resyncs, 0);
	assert_stats_ok(vm);
	vm_destroy(vm);
}

/* ---- rule 2: resync of reachable pages only ---- */

/*
 * Setup: one process with two 16-page regions in different leaf tables, LA
 * (at x) and LB (at x + 2 MiB), two pages of each written, which leaves
 * both tables unsync. A guest flush resyncs both (resyncs 2): both are
 * reachable. Then the guest unmaps region B:
 * its first PTE store takes LB out of sync, the table is freed and its PD
 * entry cleared (emulated), so LB's shadow page is unsync and no root
 * reaches it. A PTE store to LA takes LA out of sync. Then a guest flush
 * of the PCID:
 *   - resyncs 1: LA only; LB stays unsync and shadowed, as in KVM;
 *   - the same flush again: resyncs 1 still (nothing reachable is unsync).
 */
static void test_rule2_resync_reachable_only(void **state)
{
	(void)state;
	struct vm_config c = rules_config();
	struct vm *vm = boot(&c);
	struct vcpu *v = &vm->vcpu;
	struct shadow *sh = shadow_of(vm);
	assert_non_null(gmm_proc_create(vm));
	gva_t x = gmm_mmap(vm, 0, MIB2 + 16 * PAGE_SIZE, RW, 0);
	assert_true(gmm_munmap(vm, x + 16 * PAGE_SIZE, MIB2 - 16 * PAGE_SIZE) == 0);
	gva_t y = x + MIB2;
	/* Two pages in each table: the second demand fault's PTE store takes
	 * the table out of sync. */
	user_store(vm, x, 1);
	user_store(vm, x + PAGE_SIZE, 1);
	user_store(vm, y, 2);
	user_store(vm, y + PAGE_SIZE, 2);
	struct shadow_page *la = leaf_page(vm, sh->cur.sp, x);
	struct shadow_page *lb = leaf_page(vm, sh->cur.sp, y);
	assert_non_null(la);
	assert_non_null(lb);
	assert_ptr_not_equal(la, lb);
	gfn_t lb_gfn = lb->gfn;
	reset_stats(vm);
	cpu_set_user(v, false);
	cpu_flush_tlb(v, false);
	assert_int_equal(vm->st.resyncs, 2);
	assert_int_equal(sh->nunsync, 0);

	assert_int_equal(gmm_munmap(vm, y, 16 * PAGE_SIZE), 0);
	assert_true(lb->unsync);
	assert_int_equal(lb->nparents, 0);
	gpa_t pte = guest_pte_addr(vm, x);
	kernel_store(vm, pte, gpa_read64(vm, pte));
	assert_true(la->unsync);
	assert_int_equal(sh->nunsync, 2);
	reset_stats(vm);

	cpu_set_user(v, false);
	cpu_flush_tlb(v, false);
	assert_int_equal(vm->st.exits_cr3, 1);
	assert_int_equal(vm->st.resyncs, 1);
	assert_false(la->unsync);
	assert_true(lb->unsync);
	assert_true(gfn_shadowed(sh, lb_gfn));
	assert_int_equal(sh->nunsync, 1);
	cpu_flush_tlb(v, false);
	assert_int_equal(vm->st.resyncs, 1);
	assert_int_equal(user_load(vm, x), 1);
	assert_stats_ok(vm);
	vm_destroy(vm);
}

/* Counts of the two kinds of whole-page resync, and the unsync pages left
 * at the end of a run. */
struct resync_count {
	uint64_t at_flush;  /* "resync (page back in sync)": flush, CR3 load */
	uint64_t on_lookup; /* "resync of an unsync page linked again" */
	uint64_t unsync_left;
};

static void count_resyncs(void *ctx, const struct trace_event *ev)
{
	struct resync_count *n = ctx;
	if (ev->kind != TR_VMM_OP || !ev->what)
		return;
	if (strcmp(ev->what, "resync (page back in sync)") == 0)
		n->at_flush++;
	else if (strcmp(ev->what, "resync of an unsync page linked again") == 0)
		n->on_lookup++;
}

static void note_unsync_left(struct vm *vm, void *ctx)
{
	((struct resync_count *)ctx)->unsync_left = shadow_of(vm)->nunsync;
}

/*
 * Resyncs grow with reachable unsync pages, not with run length. Each
 * round of `faults` maps 1024 fresh pages (two leaf tables), touches them
 * and unmaps them with one flush of the PCID. The unmap frees the round's
 * leaf tables first, so at the flush no root reaches an unsync page:
 * no resync at any flush, for 64 rounds or 512 (the resync-everything rule
 * made 2,207 and 132,351 resyncs at 1 GiB). From the second round on, one
 * of the round's new leaf tables lands in a freed table frame whose shadow
 * page (same role) is still in the hash, unsync; it is synced on lookup
 * (KVM's kvm_sync_page() from kvm_mmu_find_shadow_page()): resyncs is
 * exactly ops - 1. The unsync pages of freed tables that are not reused
 * stay, unreached, and their number grows with the run.
 */
static void test_rule2_resyncs_per_round(void **state)
{
	(void)state;
	const struct workload *w = workload_find("faults");
	assert_non_null(w);
	uint64_t left[2];
	for (int i = 0; i < 2; i++) {
		uint64_t ops = i ? 512 : 64;
		struct wl_params p = {.seed = 1, .pages = w->def_pages, .ops = ops};
		struct vm_config c;
		config_defaults(&c);
		c.mode = "shadow";
		c.guest_mem = UINT64_C(256) << 20;
		struct resync_count n = {0};
		struct run_hooks h = {.trace_fn = count_resyncs,
				      .trace_ctx = &n,
				      .after_run = note_unsync_left,
				      .ctx = &n};
		struct run_result r;
		if (run_workload(&c, w, &p, &h, &r) != 0)
			fail_msg("faults: %s", r.err);
		assert_int_equal(r.st.guest_tlb_flushes, ops);
		assert_int_equal(n.at_flush, 0);
		assert_int_equal(n.on_lookup, ops - 1);
		assert_int_equal(r.st.resyncs, ops - 1);
		left[i] = n.unsync_left;
	}
	assert_true(left[0] > 0);
	assert_true(left[1] > left[0]);
}

/*
 * A flush of everything (a CR4.PGE toggle) syncs the current root and every
 * cached root (KVM's kvm_vcpu_flush_tlb_guest(): kvm_mmu_sync_roots() and
 * kvm_mmu_sync_prev_roots()); a flush of the PCID syncs the current root
 * only. Setup: processes A and B, two pages of each written (each leaf
 * table unsync), B current, A's root cached.
 *   - cpu_flush_tlb(pcid): resyncs 1 (B's table); A's stays unsync;
 *   - B's table unsync again, then cpu_flush_tlb(all): resyncs 2.
 */
static void test_rule2_flush_all_syncs_cached_roots(void **state)
{
	(void)state;
	struct vm_config c = rules_config();
	struct vm *vm = boot(&c);
	struct vcpu *v = &vm->vcpu;
	struct shadow *sh = shadow_of(vm);
	struct gproc *a = gmm_proc_create(vm);
	(void)a;
	gva_t x = gmm_mmap(vm, 0, 16 * PAGE_SIZE, RW, 0);
	user_store(vm, x, 1);
	user_store(vm, x + PAGE_SIZE, 2);
	struct gproc *b = gmm_proc_create(vm);
	gmm_switch_to(vm, b);
	assert_int_equal(gmm_mmap(vm, 0, 16 * PAGE_SIZE, RW, 0), x);
	user_store(vm, x, 3);
	user_store(vm, x + PAGE_SIZE, 4);
	struct shadow_page *lb = leaf_page(vm, sh->cur.sp, x);
	struct shadow_page *la = leaf_page(vm, sh->prev[0].sp, x);
	assert_non_null(la);
	assert_non_null(lb);
	assert_true(la->unsync);
	assert_true(lb->unsync);
	reset_stats(vm);

	cpu_set_user(v, false);
	cpu_flush_tlb(v, false);
	assert_int_equal(vm->st.exits_cr3, 1);
	assert_int_equal(vm->st.resyncs, 1);
	assert_true(la->unsync);
	assert_false(lb->unsync);
	gpa_t pte = guest_pte_addr(vm, x);
	kernel_store(vm, pte, gpa_read64(vm, pte));
	assert_true(lb->unsync);
	reset_stats(vm);

	cpu_set_user(v, false);
	cpu_flush_tlb(v, true);
	assert_int_equal(vm->st.exits_cr3, 1);
	assert_int_equal(vm->st.vm_exits, 1);
	assert_int_equal(vm->st.resyncs, 2);
	assert_false(la->unsync);
	assert_false(lb->unsync);
	assert_int_equal(sh->nunsync, 0);
	assert_stats_ok(vm);
	vm_destroy(vm);
}

/*
 * A freed leaf table's unsync shadow page, when its frame becomes a table
 * of another kind: a new level-2 page for the frame zaps it (KVM's
 * kvm_mmu_find_shadow_page() zaps unsync pages of a frame that gets an
 * upper-level page: shadow_zaps 1, no resync); a new level-1 page of
 * another role leaves it unsync (no zap, no resync).
 */
static void test_rule2_reused_frame(void **state)
{
	(void)state;
	for (int upper = 0; upper < 2; upper++) {
		struct vm_config c = rules_config();
		c.audit = false; /* the pages below shadow a frame no table uses */
		struct vm *vm = boot(&c);
		struct vcpu *v = &vm->vcpu;
		assert_non_null(gmm_proc_create(vm));
		gva_t x = gmm_mmap(vm, 0, 16 * PAGE_SIZE, RW, 0);
		user_store(vm, x, 1);
		gfn_t gfn = gpa_to_gfn(GPA(pte_frame(gpa_read64(vm, guest_pte_addr(vm, x)))));
		struct shadow_page *l1 =
		    sp_get(v, gfn, (struct sp_role){.level = 1, .access = SP_ACC_ALL}, x);
		sync_unsync_gfn(v, gfn);
		assert_true(l1->unsync);
		reset_stats(vm);
		struct sp_role other = {.level = (uint8_t)(upper ? 2 : 1), .access = SP_ACC_U};
		assert_non_null(sp_get(v, gfn, other, x));
		struct shadow_page *out[SP_MAX_PER_GFN];
		unsigned n = gfn_pages(shadow_of(vm), gfn, out, SP_MAX_PER_GFN);
		assert_int_equal(vm->st.resyncs, 0);
		assert_int_equal(vm->st.shadow_zaps, upper ? 1 : 0);
		assert_int_equal(n, upper ? 1 : 2);
		assert_int_equal(shadow_of(vm)->nunsync, upper ? 0 : 1);
		vm_destroy(vm);
	}
}

/* ---- rule 3: CR3 writes ---- */

/*
 * Setup: PCIDs on, processes A and B, each with its first region at
 * GMM_MMAP_BASE written, then A current again (a no-flush load served by
 * the cache). A's and B's pages are in the TLB under their own PCIDs.
 *   (a) A flushing CR3 write (A's CR3 without the no-flush bit): core
 *       flushes A's PCID; the VMM flushes the whole context, so B's entry
 *       is gone too: tlb_flushes 2, exits_cr3 1, root_cache_hits 1.
 *   (b) Then a flushing write of B's frame with A's PCID: the cache is
 *       keyed by frame and PCID, so it misses; the root is found in the
 *       hash (no page built); the cached root of A (PCID A) is dropped:
 *       A's root is no longer counted as a root.
 *   (c) Then a no-flush write of A's CR3: A is not in the cache any more,
 *       so the load goes through kvm_mmu_load(): it syncs A's unsync leaf
 *       table (resyncs 1; write-protecting it again flushes its writable
 *       direct-map entry) and flushes the whole context: tlb_flushes 2,
 *       and the TLB is empty.
 */
static void test_rule3_cr3_flush(void **state)
{
	(void)state;
	struct vm_config c = rules_config();
	struct vm *vm = boot(&c);
	struct vcpu *v = &vm->vcpu;
	struct shadow *sh = shadow_of(vm);
	struct gproc *a = gmm_proc_create(vm);
	gva_t x = gmm_mmap(vm, 0, 16 * PAGE_SIZE, RW, 0);
	user_store(vm, x, 0xa);
	uint64_t cr3_a = v->cr3;
	struct shadow_page *root_a = sh->cur.sp;
	struct gproc *b = gmm_proc_create(vm);
	gmm_switch_to(vm, b);
	assert_int_equal(gmm_mmap(vm, 0, 16 * PAGE_SIZE, RW, 0), x);
	user_store(vm, x, 0xb);
	uint64_t cr3_b = v->cr3;
	gmm_switch_to(vm, a);
	assert_true(v->cr3_noflush);
	assert_int_equal(user_load(vm, x), 0xa);
	assert_non_null(
	    tlb_lookup(&v->tlb, x, v->vpid, (uint16_t)(cr3_b & CR3_PCID_MASK), ACC_READ));
	reset_stats(vm);

	/* (a) */
	cpu_set_user(v, false);
	cpu_write_cr3(v, cr3_a);
	assert_int_equal(vm->st.exits_cr3, 1);
	assert_int_equal(vm->st.vm_exits, 1);
	assert_int_equal(vm->st.root_cache_hits, 1);
	assert_int_equal(vm->st.tlb_flushes, 2);
	assert_int_equal(tlb_count_valid(&v->tlb), 0);

	/* (b) */
	uint64_t pages = sh->pages;
	assert_int_equal(root_a->root_count, 1);
	cpu_write_cr3(v, (cr3_b & PTE_FRAME_MASK) | (cr3_a & CR3_PCID_MASK));
	assert_int_equal(vm->st.root_cache_hits, 1);
	assert_int_equal(sh->pages, pages);
	assert_int_equal(root_a->root_count, 0);
	for (uint32_t i = 0; i < sh->nprev; i++)
		assert_ptr_not_equal(sh->prev[i].sp, root_a);

	/* (c): take A's leaf table out of sync first, as A's kernel would. */
	cpu_write_cr3(v, cr3_a);
	gpa_t pte = guest_pte_addr(vm, x);
	kernel_store(vm, pte, gpa_read64(vm, pte));
	struct shadow_page *la = leaf_page(vm, sh->cur.sp, x);
	assert_true(la->unsync);
	cpu_write_cr3(v, cr3_b);
	/* A's root is cached under A's PCID now; push it out with a cache of
	 * three: load three other CR3s (B's frame under three new PCIDs). */
	for (uint16_t k = 1; k <= 3; k++)
		cpu_write_cr3(v, (cr3_b & PTE_FRAME_MASK) | (uint16_t)(100 + k) | CR3_NOFLUSH);
	for (uint32_t i = 0; i < sh->nprev; i++)
		assert_ptr_not_equal(sh->prev[i].sp, root_a);
	assert_true(la->unsync);
	reset_stats(vm);
	cpu_write_cr3(v, cr3_a | CR3_NOFLUSH);
	assert_true(v->cr3_noflush);
	assert_int_equal(vm->st.exits_cr3, 1);
	assert_int_equal(vm->st.root_cache_hits, 0);
	assert_int_equal(vm->st.resyncs, 1);
	/* the resync write-protects the table frame again, flushing its
	 * writable direct-map entry (1), then the whole context (1) */
	assert_int_equal(vm->st.tlb_flushes, 2);
	assert_int_equal(tlb_count_valid(&v->tlb), 0);
	assert_false(la->unsync);
	assert_int_equal(user_load(vm, x), 0xa);
	assert_stats_ok(vm);
	vm_destroy(vm);
}

/* ---- rule 4: write flooding skips 4K leaf tables ---- */

/*
 * A frame with a level-1 and a level-2 shadow page (a freed leaf table
 * reused as a page directory leaves both) gets three emulated stores
 * without a fault in between. Under unsync, only the level-2 page is
 * counted and unshadowed (unshadows 1); under eager both are (unshadows
 * 2), Xen's early unshadow of L1s.
 */
static void test_rule4_flood_skips_leaf(void **state)
{
	(void)state;
	for (int eager = 0; eager < 2; eager++) {
		struct vm_config c = rules_config();
		c.audit = false; /* the pages below shadow a frame no table uses */
		c.shadow_sync = eager ? SYNC_EAGER : SYNC_UNSYNC;
		struct vm *vm = boot(&c);
		struct vcpu *v = &vm->vcpu;
		assert_non_null(gmm_proc_create(vm));
		gva_t x = gmm_mmap(vm, 0, 16 * PAGE_SIZE, RW, 0);
		user_store(vm, x, 1);
		/* x's data frame: backed, holds 1 at offset 0 and zeros. */
		gfn_t gfn = gpa_to_gfn(GPA(pte_frame(gpa_read64(vm, guest_pte_addr(vm, x)))));
		struct shadow_page *l1 =
		    sp_get(v, gfn, (struct sp_role){.level = 1, .access = SP_ACC_ALL}, x);
		struct shadow_page *l2 =
		    sp_get(v, gfn, (struct sp_role){.level = 2, .access = SP_ACC_ALL}, x);
		assert_non_null(l1);
		assert_non_null(l2);
		reset_stats(vm);
		for (int i = 0; i < 3; i++)
			sync_pte_written(v, gfn, 8u * (unsigned)i, 8);
		struct shadow_page *out[SP_MAX_PER_GFN];
		unsigned n = gfn_pages(shadow_of(vm), gfn, out, SP_MAX_PER_GFN);
		if (eager) {
			assert_int_equal(vm->st.unshadows, 2);
			assert_int_equal(n, 0);
		} else {
			assert_int_equal(vm->st.unshadows, 1);
			assert_int_equal(n, 1);
			assert_ptr_equal(out[0], l1);
			assert_int_equal(l1->flood, 0);
		}
		vm_destroy(vm);
	}
}

/*
 * The same child exit as test_fork_flood_unshadow (tests/test_shadow.c),
 * under the default unsync policy: the first PTE store to the child's leaf
 * table takes it out of sync (1 exit) and the other 7 go to memory; the
 * PD, PDPT and top-level entries are one emulated store each. No page is
 * unshadowed: exits_pt_write 4, vm_exits 4, unshadows 0. The child's leaf
 * table stays shadowed, unsync, with no parent.
 */
static void test_rule4_child_exit(void **state)
{
	(void)state;
	struct vm_config c = rules_config();
	struct vm *vm = boot(&c);
	struct gproc *parent = gmm_proc_create(vm);
	gva_t base = gmm_mmap(vm, 0, 8 * PAGE_SIZE, RW, 0);
	for (int i = 0; i < 8; i++)
		user_store(vm, base + i * PAGE_SIZE, 300 + (uint64_t)i);
	struct gproc *child = gmm_fork(vm, parent);
	assert_non_null(child);
	gmm_switch_to(vm, child);
	for (int i = 0; i < 8; i++)
		assert_int_equal(user_load(vm, base + i * PAGE_SIZE), 300 + (uint64_t)i);
	gfn_t child_leaf = gpa_to_gfn(guest_pte_addr(vm, base));
	gmm_switch_to(vm, parent);
	reset_stats(vm);

	gmm_exit(vm, child, parent);
	assert_int_equal(vm->st.unshadows, 0);
	assert_int_equal(vm->st.exits_pt_write, 4);
	assert_int_equal(vm->st.vm_exits, 4);
	assert_true(gfn_shadowed(shadow_of(vm), child_leaf));
	assert_false(gfn_write_protected(shadow_of(vm), child_leaf));
	for (int i = 0; i < 8; i++)
		assert_int_equal(user_load(vm, base + i * PAGE_SIZE), 300 + (uint64_t)i);
	assert_stats_ok(vm);
	vm_destroy(vm);
}

/* ---- rule 5: INVLPG over every cached root ---- */

/*
 * Setup: processes A and B, each with page x (GMM_MMAP_BASE) and page
 * y = x + 4 KiB written, both leaf tables unsync, B current and A's root
 * in the cache. The guest kernel points A's PTE for x at A's frame of y
 * (A's table is unsync: no exit), then INVLPG x while B runs:
 *   - exits_invlpg 1;
 *   - resyncs 2: the entry of x in B's leaf table (current root) and in
 *     A's (cached root);
 *   - A's spte for x now maps A's frame of y, and switching back to A (a
 *     no-flush load served by the cache) syncs nothing more.
 */
static void test_rule5_invlpg_all_roots(void **state)
{
	(void)state;
	struct vm_config c = rules_config();
	struct vm *vm = boot(&c);
	struct vcpu *v = &vm->vcpu;
	struct gproc *a = gmm_proc_create(vm);
	gva_t x = gmm_mmap(vm, 0, 16 * PAGE_SIZE, RW, 0);
	gva_t y = x + PAGE_SIZE;
	user_store(vm, x, 0xa0);
	user_store(vm, y, 0xa1);
	gpa_t xpte = guest_pte_addr(vm, x);
	uint64_t yval = gpa_read64(vm, guest_pte_addr(vm, y));
	struct gproc *b = gmm_proc_create(vm);
	gmm_switch_to(vm, b);
	assert_int_equal(gmm_mmap(vm, 0, 16 * PAGE_SIZE, RW, 0), x);
	user_store(vm, x, 0xb0);
	user_store(vm, y, 0xb1);
	struct shadow *sh = shadow_of(vm);
	struct shadow_page *lb = leaf_page(vm, sh->cur.sp, x);
	struct shadow_page *la = leaf_page(vm, sh->prev[0].sp, x);
	assert_non_null(la);
	assert_non_null(lb);
	assert_true(la->unsync);
	assert_true(lb->unsync);
	kernel_store(vm, xpte, yval);
	reset_stats(vm);

	cpu_set_user(v, false);
	cpu_invlpg(v, x);
	assert_int_equal(vm->st.exits_invlpg, 1);
	assert_int_equal(vm->st.vm_exits, 1);
	assert_int_equal(vm->st.resyncs, 2);
	unsigned ix = pt_index(x, LVL_PT), iy = pt_index(y, LVL_PT);
	assert_int_equal(pte_frame(spte_get(vm, la, ix)), pte_frame(spte_get(vm, la, iy)));
	gmm_switch_to(vm, a);
	assert_int_equal(vm->st.root_cache_hits, 1);
	assert_int_equal(vm->st.resyncs, 2);
	assert_int_equal(vm->st.vm_exits, 2);
	assert_stats_ok(vm);
	vm_destroy(vm);
}

/* ---- rule 6: prefetch stops at the first unusable entry ---- */

/*
 * Setup: pages 0..7 of a region (one aligned prefetch group) mapped; pages
 * 1, 2, 4, 5 and 6 written (their gptes present with A set), page 3 and 7
 * never touched (gpte not present). The leaf shadow page is then zapped,
 * as eviction would. A load of page 0: one hidden fault rebuilds the leaf
 * page, installs page 0 and prefetches 1 and 2, then stops at page 3:
 * shadow_prefetches 2 (skipping page 3 would have given 5).
 */
static void test_rule6_prefetch_stops(void **state)
{
	(void)state;
	struct vm_config c = rules_config();
	struct vm *vm = boot(&c);
	struct shadow *sh = shadow_of(vm);
	assert_non_null(gmm_proc_create(vm));
	gva_t x = gmm_mmap(vm, 0, 16 * PAGE_SIZE, RW, 0);
	user_store(vm, x, 0x100);
	static const int touched[] = {1, 2, 4, 5, 6};
	for (size_t i = 0; i < sizeof(touched) / sizeof(touched[0]); i++)
		user_store(vm, x + (uint64_t)touched[i] * PAGE_SIZE, (uint64_t)touched[i]);
	struct shadow_page *leaf = leaf_page(vm, sh->cur.sp, x);
	assert_non_null(leaf);
	sp_zap(&vm->vcpu, leaf);
	tlb_flush_all(&vm->vcpu.tlb);
	psc_flush_vpid(&vm->vcpu.psc, vm->vcpu.vpid);
	reset_stats(vm);

	assert_int_equal(user_load(vm, x), 0x100);
	assert_int_equal(vm->st.exits_hidden_fault, 1);
	assert_int_equal(vm->st.vm_exits, 1);
	assert_int_equal(vm->st.shadow_prefetches, 2);
	leaf = leaf_page(vm, sh->cur.sp, x);
	assert_non_null(leaf);
	assert_int_equal(leaf->npresent, 3);
	assert_int_equal(user_load(vm, x + PAGE_SIZE), 1);
	assert_int_equal(user_load(vm, x + 2 * PAGE_SIZE), 2);
	assert_int_equal(vm->st.vm_exits, 1);
	assert_int_equal(user_load(vm, x + 4 * PAGE_SIZE), 4);
	assert_int_equal(vm->st.vm_exits, 2);
	assert_stats_ok(vm);
	vm_destroy(vm);
}

/* ---- rule 7: fast-path costs ---- */

/*
 * A no-flush CR3 load served by the cache does no sync and no flush: it
 * costs exactly one exit round trip and the CR3 handler,
 * vmexit + vmm_cr3 = 2,495 + 1,500 on the default profile. An INVLPG under
 * eager does no sync: vmexit + vmm_invlpg = 2,495 + 1,500 for the exit,
 * invlpg (237) for the instruction.
 */
static void test_rule7_fast_path_costs(void **state)
{
	(void)state;
	struct vm_config c = rules_config();
	c.shadow_sync = SYNC_EAGER;
	struct vm *vm = boot(&c);
	struct gproc *a = gmm_proc_create(vm);
	gva_t x = gmm_mmap(vm, 0, 16 * PAGE_SIZE, RW, 0);
	user_store(vm, x, 1);
	struct gproc *b = gmm_proc_create(vm);
	gmm_switch_to(vm, b);
	reset_stats(vm);
	gmm_switch_to(vm, a);
	assert_true(vm->vcpu.cr3_noflush);
	assert_int_equal(vm->st.root_cache_hits, 1);
	assert_int_equal(vm->cost.vmexit, 2495);
	assert_int_equal(vm->cost.vmm_cr3, 1500);
	assert_int_equal(vm->st.cyc_exit, vm->cost.vmexit);
	assert_int_equal(vm->st.cyc_vmm, vm->cost.vmm_cr3);
	reset_stats(vm);
	cpu_set_user(&vm->vcpu, false);
	cpu_invlpg(&vm->vcpu, x);
	assert_int_equal(vm->st.exits_invlpg, 1);
	assert_int_equal(vm->cost.vmm_invlpg, 1500);
	assert_int_equal(vm->st.cyc_exit, vm->cost.vmexit);
	assert_int_equal(vm->st.cyc_vmm, vm->cost.vmm_invlpg);
	assert_int_equal(vm->st.cyc_flush, 237);
	vm_destroy(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rule1_unsync_default),
	    cmocka_unit_test(test_rule2_resync_reachable_only),
	    cmocka_unit_test(test_rule2_resyncs_per_round),
	    cmocka_unit_test(test_rule2_flush_all_syncs_cached_roots),
	    cmocka_unit_test(test_rule2_reused_frame),
	    cmocka_unit_test(test_rule3_cr3_flush),
	    cmocka_unit_test(test_rule4_flood_skips_leaf),
	    cmocka_unit_test(test_rule4_child_exit),
	    cmocka_unit_test(test_rule5_invlpg_all_roots),
	    cmocka_unit_test(test_rule6_prefetch_stops),
	    cmocka_unit_test(test_rule7_fast_path_costs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

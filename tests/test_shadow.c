/*
 * test_shadow.c - the shadow MMU: equivalence with native paging for every
 * workload, exact exit counts for hand-made scenarios, the audit, and the
 * hardware walk's reference counts.
 *
 * Scenario tests boot a real guest (gmm_boot), create processes and mappings
 * through guest-mm, reset the statistics, then perform the accesses whose
 * consequences the comment above each test predicts, exit by exit. The
 * guest kernel reaches its page tables through the direct map, so every
 * page-table store below is a kernel store that the shadow MMU may trap.
 *
 * Guest virtual layout used by the scenarios (4-level paging):
 *
 *   0x0000000010000000  first gmm_mmap() of a process (GMM_MMAP_BASE),
 *                       pages 0..15 share one guest leaf table
 *   0xffff888000000000  the direct map, 2M guest pages, 4K host pages:
 *                       shadowed by direct shadow pages of 4K sptes
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../src/core/cpu.h"
#include "../src/lib/run.h"
#include "../src/guest-mm/gmm.h"
#include "../src/shadow/shadow.h"
#include "../workloads/workload.h"
#include "../src/cli/registry.h"

#define RW (GPROT_READ | GPROT_WRITE)

/* ---- helpers ---- */

static struct vm_config shadow_config(void)
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

static uint64_t shadow_pages(struct vm *vm)
{
	return shadow_of(vm)->pages;
}

/* Guest-physical address of the guest leaf entry that maps va (4K pages). */
static gpa_t guest_pte_addr(struct vm *vm, gva_t va)
{
	uint64_t table = pte_frame(vm->vcpu.cr3);
	for (int l = vm->cfg.levels; l > LVL_PT; l--) {
		uint64_t e = gpa_read64(vm, GPA(table + 8u * pt_index(va, l)));
		assert_true(gpte_present(e));
		assert_false(gpte_large(e, l));
		table = pte_frame(e);
	}
	return GPA(table + 8u * pt_index(va, LVL_PT));
}

/* Host address of the leaf spte that maps va in the current shadow root,
 * or 0 when the shadow has no leaf for it; *sp_out gets its page. */
static uint64_t shadow_leaf_addr(struct vm *vm, gva_t va, struct shadow_page **sp_out)
{
	struct shadow *sh = shadow_of(vm);
	struct shadow_page *sp = sh->cur.sp;
	for (int l = vm->cfg.levels;; l--) {
		uint64_t a = spte_addr(sp, pt_index(va, l)).v;
		uint64_t s = hpa_read64(vm, HPA(a));
		if (!gpte_present(s))
			return 0;
		if (spte_leaf(s, l)) {
			if (sp_out)
				*sp_out = sp;
			return a;
		}
		sp = sp_of_hfn(sh, hpa_to_hfn(HPA(pte_frame(s))));
	}
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

static void assert_stats_ok(struct vm *vm)
{
	const char *bad = stats_check(&vm->st, false);
	if (bad)
		fail_msg("stats invariant %s", bad);
}

/* ---- equivalence with native paging ---- */

/* Sizes small enough for an audit after every exit, large enough that
 * each workload still faults, forks, switches and unmaps. */
static struct wl_params small_params(const struct workload *w, uint64_t seed)
{
	struct wl_params p = {.seed = seed};
	p.pages = w->def_pages < 256 ? w->def_pages : 256;
	p.ops = w->def_ops >= 4096 ? w->def_ops / 256 : (w->def_ops < 8 ? w->def_ops : 8);
	p.procs = w->def_procs < 6 ? w->def_procs : 6;
	p.switch_every = w->def_switch_every < 500 ? w->def_switch_every : 500;
	return p;
}

static void run_one(const struct vm_config *c, const struct workload *w, const struct wl_params *p,
		    struct run_result *r)
{
	/* The counts checked here are the whole run's (set-up included), not
	 * the workload's region of interest. */
	struct vm_config whole = *c;
	whole.whole_run = true;
	if (run_workload(&whole, w, p, NULL, r) != 0)
		fail_msg("%s under %s (sync %d, vpid %d): %s", w->name, c->mode,
			 (int)c->shadow_sync, (int)c->vpid, r->err);
	const char *bad = stats_check(&r->st, false);
	if (bad)
		fail_msg("%s under %s: stats invariant %s", w->name, c->mode, bad);
}

/* Every workload, under shadow paging with both sync policies and with
 * VPID on and off, audited after every exit, gives the checksum and the
 * guest-memory digest (page tables and their A/D bits included) of native
 * paging for the same seed. */
static void equivalence(uint64_t seed, void (*tweak)(struct vm_config *))
{
	for (int i = 0; workloads[i]; i++) {
		const struct workload *w = workloads[i];
		struct wl_params p = small_params(w, seed);
		struct vm_config c;
		config_defaults(&c);
		c.guest_mem = UINT64_C(256) << 20;
		if (tweak)
			tweak(&c);
		struct run_result nat;
		run_one(&c, w, &p, &nat);
		for (int sync = 0; sync < 2; sync++) {
			for (int vpid = 0; vpid < 2; vpid++) {
				struct vm_config s = c;
				s.mode = "shadow";
				s.audit = true;
				s.shadow_sync = sync ? SYNC_UNSYNC : SYNC_EAGER;
				s.vpid = vpid;
				struct run_result r;
				run_one(&s, w, &p, &r);
				if (r.checksum != nat.checksum ||
				    r.guest_digest != nat.guest_digest)
					fail_msg("%s seed %" PRIu64
						 " sync %d vpid %d: checksum %#" PRIx64
						 " digest %#" PRIx64 ", native %#" PRIx64
						 " %#" PRIx64,
						 w->name, seed, sync, vpid, r.checksum,
						 r.guest_digest, nat.checksum, nat.guest_digest);
				if (r.st.vm_exits == 0 || r.st.shadow_pages_peak == 0)
					fail_msg("%s: shadow run made no exits or no shadow pages",
						 w->name);
			}
		}
	}
}

static void test_equivalence_defaults(void **state)
{
	(void)state;
	equivalence(1, NULL);
}

static void tweak_large(struct vm_config *c)
{
	c->guest_page = PG_2M;
	c->host_page = PG_2M;
	c->direct_map_page = PG_1G;
}

static void tweak_5level_nocache(struct vm_config *c)
{
	c->levels = 5;
	c->walk_caches = false;
	c->pcid = false;
}

static void tweak_small_cap(struct vm_config *c)
{
	c->shadow_cap = 24;
	c->shadow_roots = 1;
	c->prefetch_num = 32;
	c->guest_page = PG_2M;
}

/* The same with 2M guest and host pages and a 1G direct map. */
static void test_equivalence_large_pages(void **state)
{
	(void)state;
	equivalence(7, tweak_large);
}

/* The same with 5-level paging, no walk caches and no PCIDs. */
static void test_equivalence_5level(void **state)
{
	(void)state;
	equivalence(3, tweak_5level_nocache);
}

/* The same under memory pressure: a cap of 24 shadow pages (FIFO eviction),
 * one cached previous root, 2M guest pages split over 4K host pages. */
static void test_equivalence_small_cap(void **state)
{
	(void)state;
	equivalence(5, tweak_small_cap);
}

/* ---- exact counts ---- */

/*
 * First touch of a fresh page in a process whose tables are shadowed.
 * Setup: one process, 16 pages mapped, pages 0 and 1 written (their guest
 * and shadow tables exist). Then a user store to page 2:
 *   1. the shadow walk finds no spte; the VMM's walk finds no gpte either:
 *      #PF injected (exits_fault_inject 1, injected_faults 1);
 *   2. the guest kernel zeroes a fresh frame through the direct map; that
 *      frame was never touched, so its direct-map spte is missing: hidden
 *      fault (exits_hidden_fault 1);
 *   3. the guest stores the new PTE into its leaf table. Eager: the table
 *      is write-protected and the store is emulated (exits_pt_write 1); the
 *      new gpte has A clear, so no spte is built for it. Unsync (the
 *      default): the earlier faults' PTE stores already took the leaf
 *      table out of sync, so the store does not exit;
 *   4. the retried user store misses again; the VMM sets A and D in the
 *      gpte and installs a writable spte (exits_hidden_fault 2).
 * No CR3, INVLPG or dirty exit: 4 exits eager, 3 unsync. The same holds
 * with VPID off: the extra TLB misses find their sptes in place.
 */
static void test_first_touch(void **state)
{
	(void)state;
	for (int k = 0; k < 4; k++) {
		struct vm_config c = shadow_config();
		c.vpid = k & 1;
		bool eager = k & 2;
		c.shadow_sync = eager ? SYNC_EAGER : SYNC_UNSYNC;
		struct vm *vm = boot(&c);
		assert_non_null(gmm_proc_create(vm));
		gva_t base = gmm_mmap(vm, 0, 16 * PAGE_SIZE, RW, 0);
		assert_int_equal(base, GMM_MMAP_BASE);
		user_store(vm, base, 1);
		user_store(vm, base + PAGE_SIZE, 2);
		reset_stats(vm);

		user_store(vm, base + 2 * PAGE_SIZE, 3);
		assert_int_equal(vm->st.exits_fault_inject, 1);
		assert_int_equal(vm->st.injected_faults, 1);
		assert_int_equal(vm->st.guest_faults, 1);
		assert_int_equal(vm->st.exits_hidden_fault, 2);
		assert_int_equal(vm->st.exits_pt_write, eager ? 1 : 0);
		assert_int_equal(vm->st.exits_dirty, 0);
		assert_int_equal(vm->st.exits_cr3, 0);
		assert_int_equal(vm->st.exits_invlpg, 0);
		assert_int_equal(vm->st.vm_exits, eager ? 4 : 3);
		/* VMM walks: 4 (stops at the empty PTE) + 3 (direct map, 2M leaf)
		 * + 3 (the emulated PTE store's kva, eager only) + 4 (the user
		 * page). */
		assert_int_equal(vm->st.vmm_walk_refs, 4 + 3 + (eager ? 3 : 0) + 4);
		assert_int_equal(user_load(vm, base + 2 * PAGE_SIZE), 3);
		assert_int_equal(vm->st.vm_exits, eager ? 4 : 3);
		assert_stats_ok(vm);
		vm_destroy(vm);
	}
}

/*
 * A/D emulation. A page that is first read is mapped read-only even though
 * its gpte is writable (D clear); the first store to it exits once, sets D
 * and makes the spte writable; later stores do not exit.
 * Setup: page 0 written (tables shadowed), page 1 mapped and read once
 * (fault, zero, PTE store, hidden fault: the read leaves D clear).
 */
static void test_dirty_exit(void **state)
{
	(void)state;
	struct vm_config c = shadow_config();
	struct vm *vm = boot(&c);
	assert_non_null(gmm_proc_create(vm));
	gva_t base = gmm_mmap(vm, 0, 16 * PAGE_SIZE, RW, 0);
	user_store(vm, base, 1);
	assert_int_equal(user_load(vm, base + PAGE_SIZE), 0);
	gpa_t pte = guest_pte_addr(vm, base + PAGE_SIZE);
	assert_true(gpa_read64(vm, pte) & GPTE_A);
	assert_false(gpa_read64(vm, pte) & GPTE_D);
	reset_stats(vm);

	user_store(vm, base + PAGE_SIZE, 5);
	assert_int_equal(vm->st.exits_dirty, 1);
	assert_int_equal(vm->st.vm_exits, 1);
	assert_true(gpa_read64(vm, pte) & GPTE_D);
	user_store(vm, base + PAGE_SIZE + 8, 6);
	assert_int_equal(vm->st.vm_exits, 1);
	assert_int_equal(user_load(vm, base + PAGE_SIZE), 5);
	assert_int_equal(vm->st.vm_exits, 1);
	assert_stats_ok(vm);
	vm_destroy(vm);
}

/*
 * CR3 switch back to a cached root.
 * Setup: process A writes 4 pages; process B is created, switched to
 * (A's root goes to the previous-root cache) and writes 4 pages.
 * Then switching back to A:
 *   - one CR3 exit, served by the cache (root_cache_hits 1);
 *   - no shadow page is created or zapped: A's tables are still shadowed;
 *   - A's pages are read back without any further exit.
 * With no previous-root cache (shadow_roots 0) the same switch is not a
 * cache hit, but A's root is still found in the hash: no page is built.
 */
static void test_cr3_cached_root(void **state)
{
	(void)state;
	for (uint32_t roots = 0; roots <= 3; roots += 3) {
		struct vm_config c = shadow_config();
		c.shadow_roots = roots;
		struct vm *vm = boot(&c);
		struct gproc *a = gmm_proc_create(vm);
		gva_t abase = gmm_mmap(vm, 0, 4 * PAGE_SIZE, RW, 0);
		for (int i = 0; i < 4; i++)
			user_store(vm, abase + i * PAGE_SIZE, 100 + (uint64_t)i);
		struct gproc *b = gmm_proc_create(vm);
		gmm_switch_to(vm, b);
		gva_t bbase = gmm_mmap(vm, 0, 4 * PAGE_SIZE, RW, 0);
		for (int i = 0; i < 4; i++)
			user_store(vm, bbase + i * PAGE_SIZE, 200 + (uint64_t)i);
		uint64_t pages = shadow_pages(vm);
		reset_stats(vm);

		gmm_switch_to(vm, a);
		assert_int_equal(vm->st.exits_cr3, 1);
		assert_int_equal(vm->st.vm_exits, 1);
		assert_int_equal(vm->st.root_cache_hits, roots ? 1 : 0);
		assert_int_equal(shadow_pages(vm), pages);
		assert_int_equal(vm->st.shadow_zaps, 0);
		for (int i = 0; i < 4; i++)
			assert_int_equal(user_load(vm, abase + i * PAGE_SIZE), 100 + (uint64_t)i);
		assert_int_equal(vm->st.vm_exits, 1);
		assert_int_equal(shadow_pages(vm), pages);
		assert_stats_ok(vm);
		vm_destroy(vm);
	}
}

/*
 * Write flood on a forked child's table, ending in an unshadow (eager
 * policy; tests/test_shadow_rules.c has the unsync one).
 * Setup: the parent writes 8 pages (one leaf table), forks; the child runs
 * and reads the 8 pages (its 4 tables are shadowed: leaf, PD, PDPT, top);
 * the parent is current again. Then the child exits (gmm_exit):
 *   - the guest clears the child's 8 leaf PTEs. Stores 1 and 2 are
 *     emulated; store 3 is emulated and reaches the flood threshold (3
 *     writes, no fault used the table in between): the leaf table is
 *     unshadowed (unshadows 1). Store 4 meets the direct-map spte that is
 *     still read-only: one hidden fault makes it writable. Stores 5..8 go
 *     straight to memory;
 *   - the guest clears the child's PD, PDPT and top-level entries: one
 *     emulated store each (3 more exits_pt_write, no flood).
 * Total: exits_pt_write 6, exits_hidden_fault 1, vm_exits 7.
 */
static void test_fork_flood_unshadow(void **state)
{
	(void)state;
	struct vm_config c = shadow_config();
	c.shadow_sync = SYNC_EAGER;
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
	gpa_t child_pte = guest_pte_addr(vm, base);
	gfn_t child_leaf = gpa_to_gfn(child_pte);
	gmm_switch_to(vm, parent);
	assert_true(gfn_write_protected(shadow_of(vm), child_leaf));
	reset_stats(vm);

	gmm_exit(vm, child, parent);
	assert_int_equal(vm->st.unshadows, 1);
	assert_int_equal(vm->st.exits_pt_write, 6);
	assert_int_equal(vm->st.exits_hidden_fault, 1);
	assert_int_equal(vm->st.vm_exits, 7);
	assert_false(gfn_shadowed(shadow_of(vm), child_leaf));
	for (int i = 0; i < 8; i++)
		assert_int_equal(user_load(vm, base + i * PAGE_SIZE), 300 + (uint64_t)i);
	assert_stats_ok(vm);
	vm_destroy(vm);
}

/* Eager, with flood detection off (threshold 0), the same exit unshadows nothing:
 * every one of the 11 table stores is emulated. */
static void test_flood_off(void **state)
{
	(void)state;
	struct vm_config c = shadow_config();
	c.shadow_sync = SYNC_EAGER;
	c.flood_threshold = 0;
	struct vm *vm = boot(&c);
	struct gproc *parent = gmm_proc_create(vm);
	gva_t base = gmm_mmap(vm, 0, 8 * PAGE_SIZE, RW, 0);
	for (int i = 0; i < 8; i++)
		user_store(vm, base + i * PAGE_SIZE, (uint64_t)i);
	struct gproc *child = gmm_fork(vm, parent);
	gmm_switch_to(vm, child);
	for (int i = 0; i < 8; i++)
		user_load(vm, base + i * PAGE_SIZE);
	gmm_switch_to(vm, parent);
	reset_stats(vm);
	gmm_exit(vm, child, parent);
	assert_int_equal(vm->st.unshadows, 0);
	assert_int_equal(vm->st.exits_pt_write, 11);
	assert_int_equal(vm->st.exits_hidden_fault, 0);
	assert_int_equal(vm->st.vm_exits, 11);
	assert_stats_ok(vm);
	vm_destroy(vm);
}

/*
 * Unsync, then INVLPG, then a resync that picks up the change.
 * Setup (unsync policy): pages X and Y written with different values (the
 * demand faults' PTE stores take their leaf table out of sync), then a CR3
 * reload with a flush: the table is resynced and write-protected again.
 * Then, as the guest kernel:
 *   1. store Y's PTE value into X's PTE: the first store to the table
 *      exits once (exits_pt_write 1) and, the table being a 4K leaf table,
 *      the shadow page goes out of sync instead of emulating: the store is
 *      retried and lands directly. A second store to the table no longer
 *      exits;
 *   2. a user load of X still returns X's value: the TLB and the unsync
 *      spte are stale until the guest invalidates, as on real hardware;
 *   3. INVLPG X exits (exits_invlpg 1) and re-reads X's gpte in the unsync
 *      page (resyncs 1): the spte now maps Y's frame;
 *   4. a user load of X returns Y's value, with no exit.
 * Finally a CR3 reload without the no-flush bit resyncs the whole page and
 * write-protects it again (resyncs 2, the page back in sync).
 */
static void test_unsync_invlpg_resync(void **state)
{
	(void)state;
	struct vm_config c = shadow_config();
	c.shadow_sync = SYNC_UNSYNC;
	struct vm *vm = boot(&c);
	struct vcpu *v = &vm->vcpu;
	assert_non_null(gmm_proc_create(vm));
	gva_t x = gmm_mmap(vm, 0, 16 * PAGE_SIZE, RW, 0);
	gva_t y = x + PAGE_SIZE;
	user_store(vm, x, 0x1111);
	user_store(vm, y, 0x2222);
	gpa_t xpte = guest_pte_addr(vm, x), ypte = guest_pte_addr(vm, y);
	uint64_t xold = gpa_read64(vm, xpte), yval = gpa_read64(vm, ypte);
	gfn_t leaf = gpa_to_gfn(xpte);
	struct shadow_page *sp = NULL;
	assert_true(shadow_leaf_addr(vm, x, &sp) != 0);
	/* The demand faults above already took the table out of sync; a CR3
	 * reload with a flush brings it back in sync, write-protected. */
	assert_true(sp->unsync);
	cpu_set_user(v, false);
	cpu_write_cr3(v, v->cr3);
	assert_false(sp->unsync);
	assert_true(gfn_write_protected(shadow_of(vm), leaf));
	reset_stats(vm);

	cpu_set_user(v, false);
	cpu_store(v, gmm_kva(vm, xpte), 8, yval);
	assert_int_equal(vm->st.exits_pt_write, 1);
	assert_true(sp->unsync);
	assert_false(gfn_write_protected(shadow_of(vm), leaf));
	cpu_store(v, gmm_kva(vm, xpte), 8, yval);
	assert_int_equal(vm->st.vm_exits, 1);

	assert_int_equal(user_load(vm, x), 0x1111);

	cpu_set_user(v, false);
	cpu_invlpg(v, x);
	assert_int_equal(vm->st.exits_invlpg, 1);
	assert_int_equal(vm->st.resyncs, 1);
	assert_int_equal(user_load(vm, x), 0x2222);
	assert_int_equal(vm->st.vm_exits, 2);
	assert_true(sp->unsync);

	/* Put X back, then reload CR3 with a flush: full resync. */
	cpu_set_user(v, false);
	cpu_store(v, gmm_kva(vm, xpte), 8, xold);
	cpu_write_cr3(v, v->cr3);
	assert_int_equal(vm->st.exits_cr3, 1);
	assert_int_equal(vm->st.vm_exits, 3);
	assert_int_equal(vm->st.resyncs, 2);
	assert_false(sp->unsync);
	assert_true(gfn_write_protected(shadow_of(vm), leaf));
	assert_int_equal(user_load(vm, x), 0x1111);
	assert_stats_ok(vm);
	vm_destroy(vm);
}

/*
 * A CR3 load with the no-flush bit keeps unsync pages unsync (KVM skips the
 * sync); without it they are resynced. Setup: unsync policy, PCIDs on, two
 * processes; A's leaf table goes unsync by a PTE store; switch to B (first
 * load of B's PCID: flush, resync), touch the leaf table again from B's
 * side so that it is unsync, then switch back to A (no-flush bit set).
 */
static void test_noflush_skips_resync(void **state)
{
	(void)state;
	struct vm_config c = shadow_config();
	c.shadow_sync = SYNC_UNSYNC;
	struct vm *vm = boot(&c);
	struct vcpu *v = &vm->vcpu;
	struct gproc *a = gmm_proc_create(vm);
	gva_t x = gmm_mmap(vm, 0, 16 * PAGE_SIZE, RW, 0);
	user_store(vm, x, 1);
	struct gproc *b = gmm_proc_create(vm);
	gmm_switch_to(vm, b); /* first load of B's PCID: a flushing load */
	gmm_switch_to(vm, a); /* A's PCID was loaded before: no-flush */
	assert_true(v->cr3_noflush);
	gpa_t xpte = guest_pte_addr(vm, x);
	cpu_set_user(v, false);
	cpu_store(v, gmm_kva(vm, xpte), 8, gpa_read64(vm, xpte));
	struct shadow_page *sp = NULL;
	assert_true(shadow_leaf_addr(vm, x, &sp) != 0);
	assert_true(sp->unsync);
	reset_stats(vm);

	gmm_switch_to(vm, b);
	assert_true(v->cr3_noflush);
	gmm_switch_to(vm, a);
	assert_int_equal(vm->st.exits_cr3, 2);
	assert_int_equal(vm->st.vm_exits, 2);
	assert_int_equal(vm->st.resyncs, 0);
	assert_true(sp->unsync);
	cpu_set_user(v, false);
	cpu_flush_tlb(v, false);
	assert_int_equal(vm->st.exits_cr3, 3); /* a guest TLB flush is a CR exit */
	assert_int_equal(vm->st.vm_exits, 3);
	assert_int_equal(vm->st.resyncs, 1);
	assert_false(sp->unsync);
	assert_stats_ok(vm);
	vm_destroy(vm);
}

/*
 * A deliberately corrupted spte is caught by the audit, with the name of
 * the violated invariant, and vm_audit() turns it into a run failure.
 *   - a user leaf spte pointed at another host frame: spte-frame;
 *   - the direct-map spte of a shadowed guest table made writable:
 *     wp-writable;
 *   - a read-only (copy-on-write) user spte made writable: spte-rights;
 *   - a leaf spte cleared behind the rmap's back (its page's count kept
 *     right), which leaves a stale rmap node: rmap-exact.
 * Each corruption is undone before the next; the clean state passes.
 */
static void test_audit_catches_corruption(void **state)
{
	(void)state;
	struct vm_config c = shadow_config();
	c.shadow_sync = SYNC_EAGER; /* in-sync pages: every gpte check applies */
	c.audit = false;
	struct vm *vm = boot(&c);
	struct gproc *parent = gmm_proc_create(vm);
	gva_t base = gmm_mmap(vm, 0, 4 * PAGE_SIZE, RW, 0);
	user_store(vm, base, 7);
	user_store(vm, base + PAGE_SIZE, 8);
	char detail[200];
	assert_null(shadow_mmu_ops.audit(vm, detail, sizeof(detail)));

	/* 1. wrong frame */
	uint64_t a = shadow_leaf_addr(vm, base, NULL);
	assert_true(a != 0);
	uint64_t good = hpa_read64(vm, HPA(a));
	hpa_write64(vm, HPA(a), good ^ (UINT64_C(1) << PAGE_SHIFT));
	assert_string_equal(shadow_mmu_ops.audit(vm, detail, sizeof(detail)), "spte-frame");
	jmp_buf jb;
	vm->abort_jmp = &jb;
	if (setjmp(jb) == 0) {
		vm_audit(vm);
		fail_msg("vm_audit did not fail on a corrupted spte");
	}
	vm->abort_jmp = NULL;
	assert_non_null(strstr(vm->err, "spte-frame"));
	hpa_write64(vm, HPA(a), good);
	assert_null(shadow_mmu_ops.audit(vm, detail, sizeof(detail)));

	/* 2. writable mapping of a write-protected guest table */
	gpa_t pte = guest_pte_addr(vm, base);
	cpu_set_user(&vm->vcpu, false);
	(void)cpu_load(&vm->vcpu, gmm_kva(vm, pte), 8); /* map the table's kva */
	a = shadow_leaf_addr(vm, gmm_kva(vm, pte), NULL);
	assert_true(a != 0);
	good = hpa_read64(vm, HPA(a));
	assert_false(good & GPTE_RW);
	hpa_write64(vm, HPA(a), good | GPTE_RW | GPTE_D);
	assert_string_equal(shadow_mmu_ops.audit(vm, detail, sizeof(detail)), "wp-writable");
	hpa_write64(vm, HPA(a), good);
	assert_null(shadow_mmu_ops.audit(vm, detail, sizeof(detail)));

	/* 3. write right on a copy-on-write page */
	struct gproc *child = gmm_fork(vm, parent);
	assert_non_null(child);
	assert_int_equal(user_load(vm, base), 7);
	a = shadow_leaf_addr(vm, base, NULL);
	assert_true(a != 0);
	good = hpa_read64(vm, HPA(a));
	assert_false(good & GPTE_RW);
	hpa_write64(vm, HPA(a), good | GPTE_RW | GPTE_D);
	assert_string_equal(shadow_mmu_ops.audit(vm, detail, sizeof(detail)), "spte-rights");
	hpa_write64(vm, HPA(a), good);
	assert_null(shadow_mmu_ops.audit(vm, detail, sizeof(detail)));

	/* 4. stale rmap node */
	struct shadow_page *sp = NULL;
	assert_int_equal(shadow_leaf_addr(vm, base, &sp), a);
	hpa_write64(vm, HPA(a), 0);
	sp->npresent--;
	assert_string_equal(shadow_mmu_ops.audit(vm, detail, sizeof(detail)), "rmap-exact");
	hpa_write64(vm, HPA(a), good);
	sp->npresent++;
	assert_null(shadow_mmu_ops.audit(vm, detail, sizeof(detail)));
	vm_destroy(vm);
}

/* ---- hardware walk references ---- */

/*
 * With walk caches off, every completed hardware walk of the shadow tables
 * for a 4K user mapping reads one spte per level: walk_refs_user is exactly
 * 4 x walks_user (5 x with LA57), under both sync policies and VPID on and
 * off. The faults workload maps only 4K user pages.
 */
static void test_walk_refs_4k(void **state)
{
	(void)state;
	const struct workload *w = workload_find("faults");
	assert_non_null(w);
	struct wl_params p = {.seed = 1, .pages = 128, .ops = 4};
	for (int levels = 4; levels <= 5; levels++) {
		for (int k = 0; k < 4; k++) {
			struct vm_config c;
			config_defaults(&c);
			c.mode = "shadow";
			c.guest_mem = UINT64_C(256) << 20;
			c.levels = levels;
			c.walk_caches = false;
			c.shadow_sync = (k & 1) ? SYNC_UNSYNC : SYNC_EAGER;
			c.vpid = (k & 2) != 0;
			struct run_result r;
			run_one(&c, w, &p, &r);
			assert_true(r.st.walks_user > 0);
			assert_int_equal(r.st.walk_refs_user, (uint64_t)levels * r.st.walks_user);
			assert_true(r.st.exits_hidden_fault > 0);
			assert_true(r.st.exits_pt_write > 0);
			assert_int_equal(r.st.psc_hits, 0);
		}
	}
}

/*
 * Splintering. A guest 2M user page over 4K host pages is mapped by a
 * direct shadow page of 4K sptes: the TLB gets 4K entries and a walk reads
 * 4 sptes. Over 2M host pages with no guest table inside, one 2M spte maps
 * it: a walk reads 3 sptes and fills a 2M entry.
 */
static void test_large_page_split(void **state)
{
	(void)state;
	for (int host2m = 0; host2m < 2; host2m++) {
		struct vm_config c = shadow_config();
		c.walk_caches = false;
		c.host_page = host2m ? PG_2M : PG_4K;
		struct vm *vm = boot(&c);
		assert_non_null(gmm_proc_create(vm));
		gva_t base = gmm_mmap(vm, 0, UINT64_C(2) << 20, RW, GMAP_HUGE);
		assert_true(base != 0);
		user_store(vm, base, 1);
		user_store(vm, base + PAGE_SIZE, 2); /* ensure the mapping is built */
		tlb_flush_all(&vm->vcpu.tlb);
		reset_stats(vm);
		assert_int_equal(user_load(vm, base + 3 * PAGE_SIZE + 8), 0);
		assert_int_equal(user_load(vm, base), 1);
		struct shadow_page *sp = NULL;
		uint64_t a = shadow_leaf_addr(vm, base, &sp);
		assert_true(a != 0);
		if (host2m) {
			assert_int_equal(sp->role.level, LVL_PD);
			assert_true(hpa_read64(vm, HPA(a)) & GPTE_PS);
			/* one walk of 3 references; the second load hits the 2M entry */
			assert_int_equal(vm->st.walks_user, 1);
			assert_int_equal(vm->st.walk_refs_user, 3);
		} else {
			assert_int_equal(sp->role.level, LVL_PT);
			assert_true(sp->role.direct);
			/* two 4K walks of 4 references each (the first one's
			 * neighbour was prefetched, or installed by a hidden fault) */
			assert_int_equal(vm->st.walks_user, 2);
			assert_int_equal(vm->st.walk_refs_user, 8);
		}
		vm_destroy(vm);
	}
}

/*
 * Memory cap: with shadow_cap = 24 pages and a workload that needs more,
 * old pages are evicted in FIFO order (never the roots), the count never
 * passes the cap, and the guest still sees native's memory.
 */
static void test_cap_eviction(void **state)
{
	(void)state;
	const struct workload *w = workload_find("seq");
	struct wl_params p = {.seed = 2, .pages = 8192, .ops = 2};
	struct vm_config c;
	config_defaults(&c);
	c.guest_mem = UINT64_C(256) << 20;
	struct run_result nat, r;
	run_one(&c, w, &p, &nat);
	c.mode = "shadow";
	c.shadow_cap = 24;
	c.audit = true;
	run_one(&c, w, &p, &r);
	assert_true(r.st.shadow_evictions > 0);
	assert_true(r.st.shadow_pages_peak <= 24);
	assert_int_equal(r.st.shadow_bytes_peak, r.st.shadow_pages_peak * PAGE_SIZE);
	assert_int_equal(r.checksum, nat.checksum);
	assert_int_equal(r.guest_digest, nat.guest_digest);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_first_touch),
	    cmocka_unit_test(test_dirty_exit),
	    cmocka_unit_test(test_cr3_cached_root),
	    cmocka_unit_test(test_fork_flood_unshadow),
	    cmocka_unit_test(test_flood_off),
	    cmocka_unit_test(test_unsync_invlpg_resync),
	    cmocka_unit_test(test_noflush_skips_resync),
	    cmocka_unit_test(test_audit_catches_corruption),
	    cmocka_unit_test(test_walk_refs_4k),
	    cmocka_unit_test(test_large_page_split),
	    cmocka_unit_test(test_cap_eviction),
	    cmocka_unit_test(test_equivalence_defaults),
	    cmocka_unit_test(test_equivalence_large_pages),
	    cmocka_unit_test(test_equivalence_5level),
	    cmocka_unit_test(test_equivalence_small_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

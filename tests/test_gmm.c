/*
 * test_gmm.c - the guest kernel's memory manager (src/guest-mm/) under
 * native paging, with exact counts.
 *
 * Every test boots a fresh VM (config_defaults, mode "native", 64 MiB of
 * guest memory unless it says otherwise), resets vm->st after boot, and
 * checks gmm_check() in its teardown, so a test that leaves a bad refcount,
 * a leaked table or a writable CoW page fails even when its own assertions
 * pass.
 *
 * Guest virtual layout used by the tests (4-level):
 *
 *   0x0000000010000000  GMM_MMAP_BASE: first mmap of a process; one PT
 *                       covers [0x10000000, 0x10200000), so the first
 *                       touch of a process allocates PDPT, PD and PT
 *   0xffff888000000000  direct map (global, supervisor-only)
 *
 * Written values are non-zero sentinels (0x5a5a.. | page), so a zeroed or
 * misplaced page never passes for a written one.
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
#include "../src/guest-mm/gmm.h"
#include "../src/cli/registry.h"

#define PG PAGE_SIZE
#define MB2 (UINT64_C(2) << 20)
#define SENT(i) (UINT64_C(0x5a5a000000000000) | (uint64_t)(i))

/* ---- fixtures and helpers ---- */

struct fx {
	struct vm *vm;
	struct vcpu *v;
	jmp_buf jb;
};

static struct vm *boot_vm(void (*tweak)(struct vm_config *))
{
	struct vm_config c;
	config_defaults(&c);
	c.mode = "native";
	c.guest_mem = UINT64_C(64) << 20;
	if (tweak)
		tweak(&c);
	char err[256] = "";
	struct vm *vm = vm_create(&c, err, sizeof(err));
	if (!vm)
		fail_msg("vm_create: %s", err);
	assert_int_equal(gmm_boot(vm), 0);
	memset(&vm->st, 0, sizeof(vm->st));
	return vm;
}

static int setup_with(void **state, void (*tweak)(struct vm_config *))
{
	struct fx *f = calloc(1, sizeof(*f));
	f->vm = boot_vm(tweak);
	f->v = &f->vm->vcpu;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, NULL);
}

static void no_walk_caches(struct vm_config *c)
{
	c->walk_caches = false;
}
static void no_walk_caches_5l(struct vm_config *c)
{
	c->walk_caches = false;
	c->levels = 5;
}
static void no_pcid(struct vm_config *c)
{
	c->pcid = false;
}
static void tiny_guest(struct vm_config *c)
{
	c->guest_mem = UINT64_C(16) << 20;
}
static void per_process_pcids(struct vm_config *c)
{
	c->pcid_policy = PCID_PER_PROCESS;
}

static int setup_nocache(void **state)
{
	return setup_with(state, no_walk_caches);
}
static int setup_nocache_5l(void **state)
{
	return setup_with(state, no_walk_caches_5l);
}
static int setup_nopcid(void **state)
{
	return setup_with(state, no_pcid);
}
static int setup_tiny(void **state)
{
	return setup_with(state, tiny_guest);
}
static int setup_perproc(void **state)
{
	return setup_with(state, per_process_pcids);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char detail[256];
	const char *bad = gmm_check(f->vm, detail, sizeof(detail));
	if (bad)
		fail_msg("gmm_check: %s: %s", bad, detail);
	vm_destroy(f->vm);
	free(f);
	return 0;
}

static uint64_t uload(struct fx *f, gva_t va)
{
	cpu_set_user(f->v, true);
	return cpu_load(f->v, va, 8);
}

static void ustore(struct fx *f, gva_t va, uint64_t val)
{
	cpu_set_user(f->v, true);
	cpu_store(f->v, va, 8, val);
}

static void reset_stats(struct fx *f)
{
	memset(&f->vm->st, 0, sizeof(f->vm->st));
}

/* The leaf that maps va in the current tables, read as the VMM would
 * (nothing counted); *level gets its level, 0 when unmapped. */
static uint64_t leaf_of(struct vm *vm, gva_t va, int *level)
{
	uint64_t table = vm->vcpu.cr3 & PTE_FRAME_MASK;
	for (int l = vm->cfg.levels; l >= 1; l--) {
		uint64_t e = gpa_read64(vm, GPA(table + 8 * pt_index(va, l)));
		if (!gpte_present(e)) {
			*level = 0;
			return e;
		}
		if (l == 1 || gpte_large(e, l)) {
			*level = l;
			return e;
		}
		table = pte_frame(e);
	}
	*level = 0;
	return 0;
}

/* Let the next vm_abort() land in f->jb (only around an expected abort:
 * an unexpected one prints its message and exits). */
static void arm(struct fx *f)
{
	f->vm->abort_jmp = &f->jb;
}

static void expect_abort(struct fx *f, const char *what)
{
	f->vm->abort_jmp = NULL;
	if (!strstr(f->vm->err, what))
		fail_msg("vm_abort message '%s' does not mention '%s'", f->vm->err, what);
}

/* ---- boot and processes ---- */

/* Boot maps all guest memory in the direct map with 2M global supervisor
 * leaves, and the kernel reads any frame through it. */
static void test_boot_direct_map(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	assert_int_equal(gmm_nprocs(vm), 0);
	assert_null(gmm_current(vm));
	/* 64 MiB: top table, PDPT, PD = 3 kernel frames, frame 0 reserved. */
	assert_int_equal(gmm_free_frames(vm), (UINT64_C(64) << 20) / PG - 1 - 3);
	gpa_write64(vm, GPA(0x3456000), SENT(1));
	int level;
	uint64_t e = leaf_of(vm, gmm_kva(vm, GPA(0x3456000)), &level);
	assert_int_equal(level, 2);
	assert_int_equal(e & (GPTE_P | GPTE_RW | GPTE_US | GPTE_PS | GPTE_G | GPTE_NX),
			 GPTE_P | GPTE_RW | GPTE_PS | GPTE_G | GPTE_NX);
	cpu_set_user(f->v, false);
	assert_int_equal(cpu_load(f->v, gmm_kva(vm, GPA(0x3456000)), 8), SENT(1));
	/* The direct map is supervisor-only: a user load of it is a segfault. */
	struct gproc *p = gmm_proc_create(vm);
	assert_non_null(p);
	arm(f);
	if (setjmp(f->jb) == 0) {
		uload(f, gmm_kva(vm, GPA(0x3456000)));
		fail_msg("user load of the direct map did not fault");
	}
	expect_abort(f, "segfault");
}

/* The first process becomes current with a flushing CR3 load; a second
 * one does not load CR3. Linux's PCIDs: boot's kernel mm holds ASID 0
 * (PCID 1), so the first process takes ASID 1, PCID 2. */
static void test_proc_create(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	struct gproc *a = gmm_proc_create(vm);
	assert_non_null(a);
	assert_ptr_equal(gmm_current(vm), a);
	assert_int_equal(gmm_proc_pid(a), 1);
	assert_int_equal(vm->st.cr3_loads, 1);
	assert_int_equal(vm->st.tlb_flushes, 1);
	assert_int_equal(vcpu_pcid(f->v), 2);
	assert_int_equal(vm->st.ctx_switches, 1);
	assert_int_equal(vm->st.ctx_switch_flushes, 1);
	assert_int_equal(vm->st.kernel_entries, 1);
	struct gproc *b = gmm_proc_create(vm);
	assert_non_null(b);
	assert_int_equal(gmm_proc_pid(b), 2);
	assert_ptr_equal(gmm_current(vm), a);
	assert_int_equal(vm->st.cr3_loads, 1);
	assert_int_equal(gmm_nprocs(vm), 2);
	/* Each top table: one zeroed frame. */
	assert_int_equal(vm->st.pages_zeroed, 2);
}

/* Per-process PCIDs: the second load of a PCID keeps its entries (no-flush
 * bit); the first load of each PCID flushes. */
static void test_pcid_switch(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	struct gproc *a = gmm_proc_create(vm);
	struct gproc *b = gmm_proc_create(vm);
	gva_t va = gmm_mmap(vm, 0, PG, GPROT_READ | GPROT_WRITE, 0);
	ustore(f, va, SENT(7));
	reset_stats(f);

	gmm_switch_to(vm, b); /* first load of b's PCID: flush */
	assert_int_equal(vm->st.cr3_loads, 1);
	assert_int_equal(vm->st.tlb_flushes, 1);
	assert_false(f->v->cr3_noflush);
	assert_int_equal(vcpu_pcid(f->v), 2);

	gmm_switch_to(vm, a); /* a was loaded before: no flush */
	assert_int_equal(vm->st.cr3_loads, 2);
	assert_int_equal(vm->st.tlb_flushes, 1);
	assert_true(f->v->cr3_noflush);
	assert_int_equal(vcpu_pcid(f->v), 1);

	/* a's translation survived both switches. */
	uint64_t misses = vm->st.tlb_misses;
	assert_int_equal(uload(f, va), SENT(7));
	assert_int_equal(vm->st.tlb_misses, misses);

	gmm_switch_to(vm, b);
	gmm_switch_to(vm, b); /* already current: nothing */
	assert_int_equal(vm->st.cr3_loads, 3);
	assert_int_equal(vm->st.tlb_flushes, 1);
	assert_int_equal(vm->st.guest_tlb_flushes, 0);
}

/* Without PCIDs every process uses PCID 0 and every load flushes. */
static void test_nopcid_switch(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	struct gproc *a = gmm_proc_create(vm);
	struct gproc *b = gmm_proc_create(vm);
	gva_t va = gmm_mmap(vm, 0, PG, GPROT_READ | GPROT_WRITE, 0);
	ustore(f, va, SENT(8));
	reset_stats(f);
	for (int i = 0; i < 3; i++) {
		gmm_switch_to(vm, b);
		assert_int_equal(vcpu_pcid(f->v), 0);
		gmm_switch_to(vm, a);
	}
	assert_int_equal(vm->st.cr3_loads, 6);
	assert_int_equal(vm->st.tlb_flushes, 6);
	uint64_t misses = vm->st.tlb_misses;
	assert_int_equal(uload(f, va), SENT(8));
	assert_int_equal(vm->st.tlb_misses, misses + 1);
}

/* ---- demand paging ---- */

/* N fresh pages: exactly N faults, N demand faults, N + 3 zeroed pages
 * (PDPT, PD, PT on the first touch); a re-touch faults no more. */
static void test_demand_zero(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	const unsigned n = 24;
	assert_non_null(gmm_proc_create(vm));
	uint64_t free0 = gmm_free_frames(vm);
	gva_t va = gmm_mmap(vm, 0, n * PG, GPROT_READ | GPROT_WRITE, 0);
	assert_int_equal(va, GMM_MMAP_BASE);
	reset_stats(f);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(uload(f, va + i * PG + 8 * i), 0);
	assert_int_equal(vm->st.guest_faults, n);
	assert_int_equal(vm->st.demand_faults, n);
	assert_int_equal(vm->st.cow_faults, 0);
	assert_int_equal(vm->st.pages_zeroed, n + 3);
	assert_int_equal(gmm_free_frames(vm), free0 - n - 3);
	for (unsigned i = 0; i < n; i++)
		ustore(f, va + i * PG + 8 * i, SENT(i));
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(uload(f, va + i * PG + 8 * i), SENT(i));
	assert_int_equal(vm->st.guest_faults, n);
	int level;
	uint64_t e = leaf_of(vm, va, &level);
	assert_int_equal(level, 1);
	assert_true(e & GPTE_RW);
	assert_true(e & GPTE_NX);
	assert_true(e & GPTE_US);
	assert_true(e & GPTE_D);
}

/* A read-only mapping reads zeros; an executable one can be fetched. */
static void test_prot_bits(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	assert_non_null(gmm_proc_create(vm));
	gva_t ro = gmm_mmap(vm, 0, PG, GPROT_READ, 0);
	gva_t rx = gmm_mmap(vm, 0, PG, GPROT_READ | GPROT_EXEC, 0);
	assert_int_equal(uload(f, ro), 0);
	cpu_set_user(f->v, true);
	cpu_fetch(f->v, rx, 4);
	int level;
	uint64_t e = leaf_of(vm, ro, &level);
	assert_false(e & GPTE_RW);
	assert_true(e & GPTE_NX);
	e = leaf_of(vm, rx, &level);
	assert_false(e & GPTE_NX);
	assert_int_equal(vm->st.guest_faults, 2);
	/* Fetching from a non-executable mapping is a segfault. */
	arm(f);
	if (setjmp(f->jb) == 0) {
		cpu_set_user(f->v, true);
		cpu_fetch(f->v, ro, 4);
		fail_msg("fetch from a non-executable page did not fault");
	}
	expect_abort(f, "segfault");
	expect_abort(f, "instruction fetch");
}

/* ---- copy-on-write fork ---- */

/*
 * Parent writes pages 0..4 after the fork (5 copies), the child then
 * writes pages 3..9: pages 3 and 4 are mapped once by then, so the child
 * reuses them, and 5..9 are copied. 12 CoW faults, 10 copies, and each
 * side sees its own values.
 */
static void test_cow_fork(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	const unsigned n = 16;
	struct gproc *par = gmm_proc_create(vm);
	gva_t va = gmm_mmap(vm, 0, n * PG, GPROT_READ | GPROT_WRITE, 0);
	for (unsigned i = 0; i < n; i++)
		ustore(f, va + i * PG, SENT(i));
	uint64_t free0 = gmm_free_frames(vm);
	reset_stats(f);
	struct gproc *ch = gmm_fork(vm, par);
	assert_non_null(ch);
	assert_int_equal(vm->st.guest_tlb_flushes, 1);
	assert_int_equal(vm->st.cr3_loads, 0);
	/* Child: a top table, PDPT, PD and PT. */
	assert_int_equal(gmm_free_frames(vm), free0 - 4);
	reset_stats(f);

	for (unsigned i = 0; i <= 4; i++)
		ustore(f, va + i * PG, SENT(0x100 + i));
	gmm_switch_to(vm, ch);
	for (unsigned i = 3; i <= 9; i++)
		ustore(f, va + i * PG, SENT(0x200 + i));
	assert_int_equal(vm->st.cow_faults, 12);
	assert_int_equal(vm->st.guest_faults, 12);
	assert_int_equal(vm->st.demand_faults, 0);
	assert_int_equal(vm->st.pages_copied, 10);
	/* Each copy was followed by one INVLPG of the stale translation. */
	assert_int_equal(vm->st.invlpgs, 10);

	for (unsigned i = 0; i < n; i++) {
		uint64_t want = i >= 3 && i <= 9 ? SENT(0x200 + i) : SENT(i);
		assert_int_equal(uload(f, va + i * PG), want);
	}
	gmm_switch_to(vm, par);
	for (unsigned i = 0; i < n; i++) {
		uint64_t want = i <= 4 ? SENT(0x100 + i) : SENT(i);
		assert_int_equal(uload(f, va + i * PG), want);
	}
	assert_int_equal(vm->st.guest_faults, 12);
	/* Unwritten pages are still shared. */
	int level;
	uint64_t pe = leaf_of(vm, va + 12 * PG, &level);
	assert_false(pe & GPTE_RW);
	assert_int_equal(gmm_frame_refcount(vm, pte_frame(pe) >> PAGE_SHIFT), 2);

	/* The child exits: its frames go, the parent's shared pages are
	 * mapped once again, and a write reuses them without a copy. */
	gmm_exit(vm, ch, NULL);
	assert_int_equal(gmm_frame_refcount(vm, pte_frame(pe) >> PAGE_SHIFT), 1);
	reset_stats(f);
	ustore(f, va + 12 * PG, SENT(0x300));
	assert_int_equal(vm->st.cow_faults, 1);
	assert_int_equal(vm->st.pages_copied, 0);
	/* Pages 0..4 are copies, their originals went with the child. */
	assert_int_equal(gmm_free_frames(vm), free0);
}

/* A read-only mapping stays read-only and shared in both after a fork. */
static void test_fork_readonly(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	struct gproc *par = gmm_proc_create(vm);
	gva_t ro = gmm_mmap(vm, 0, 4 * PG, GPROT_READ, 0);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(uload(f, ro + i * PG), 0);
	struct gproc *ch = gmm_fork(vm, par);
	assert_non_null(ch);
	gmm_switch_to(vm, ch);
	reset_stats(f);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(uload(f, ro + i * PG), 0);
	assert_int_equal(vm->st.guest_faults, 0);
	arm(f);
	if (setjmp(f->jb) == 0) {
		ustore(f, ro, 1);
		fail_msg("write to a read-only mapping did not fault");
	}
	expect_abort(f, "segfault");
}

/* ---- munmap ---- */

/* A few pages: one INVLPG each, no flush; the PT stays (the VMA's rest
 * still uses it). */
static void test_munmap_few(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	assert_non_null(gmm_proc_create(vm));
	gva_t va = gmm_mmap(vm, 0, 8 * PG, GPROT_READ | GPROT_WRITE, 0);
	for (unsigned i = 0; i < 8; i++)
		ustore(f, va + i * PG, SENT(i));
	uint64_t free0 = gmm_free_frames(vm);
	int level;
	uint64_t frame5 = pte_frame(leaf_of(vm, va + 5 * PG, &level));
	reset_stats(f);
	assert_int_equal(gmm_munmap(vm, va + PG, 5 * PG), 0);
	assert_int_equal(vm->st.invlpgs, 5);
	assert_int_equal(vm->st.guest_tlb_flushes, 0);
	assert_int_equal(gmm_free_frames(vm), free0 + 5);
	assert_int_equal(uload(f, va), SENT(0));
	assert_int_equal(uload(f, va + 6 * PG), SENT(6));
	assert_int_equal(uload(f, va + 7 * PG), SENT(7));
	/* The freed frames come back last-in first-out: the next demand page
	 * gets the frame of the last page unmapped (va + 5 pages). */
	assert_int_equal(leaf_of(vm, va + 5 * PG, &level), 0);
	assert_int_equal(level, 0);
	gva_t again = gmm_mmap(vm, 0, PG, GPROT_READ | GPROT_WRITE, 0);
	assert_int_equal(again, va + 8 * PG);
	assert_int_equal(uload(f, again), 0);
	assert_int_equal(pte_frame(leaf_of(vm, again, &level)), frame5);
	assert_int_equal(gmm_free_frames(vm), free0 + 4);
}

/* Many pages: a single flush of the PCID and no INVLPG; the whole area
 * was the only mapping, so PT, PD and PDPT are freed too. */
static void test_munmap_many(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	const unsigned n = 64;
	assert_non_null(gmm_proc_create(vm));
	uint64_t free0 = gmm_free_frames(vm);
	gva_t va = gmm_mmap(vm, 0, n * PG, GPROT_READ | GPROT_WRITE, 0);
	for (unsigned i = 0; i < n; i++)
		ustore(f, va + i * PG, SENT(i));
	assert_int_equal(gmm_free_frames(vm), free0 - n - 3);
	reset_stats(f);
	assert_int_equal(gmm_munmap(vm, va, n * PG), 0);
	assert_int_equal(vm->st.invlpgs, 0);
	assert_int_equal(vm->st.guest_tlb_flushes, 1);
	assert_int_equal(gmm_free_frames(vm), free0);
	arm(f);
	if (setjmp(f->jb) == 0) {
		uload(f, va);
		fail_msg("load after munmap did not fault");
	}
	expect_abort(f, "segfault");
	char addr[32];
	snprintf(addr, sizeof(addr), "0x%" PRIx64, va);
	expect_abort(f, addr);
}

/* Unmapping all of a small area frees its tables; every freed table's span
 * holds an unmapped page, so the INVLPGs of the pages cover them. */
static void test_munmap_frees_tables(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	assert_non_null(gmm_proc_create(vm));
	uint64_t free0 = gmm_free_frames(vm);
	gva_t va = gmm_mmap(vm, 0, 4 * PG, GPROT_READ | GPROT_WRITE, 0);
	for (unsigned i = 0; i < 4; i++)
		ustore(f, va + i * PG, SENT(i));
	reset_stats(f);
	assert_int_equal(gmm_munmap(vm, va, 4 * PG), 0);
	assert_int_equal(vm->st.invlpgs, 4);
	assert_int_equal(vm->st.guest_tlb_flushes, 0);
	assert_int_equal(gmm_free_frames(vm), free0);
	/* Unmapping nothing: no invalidation at all. */
	reset_stats(f);
	assert_int_equal(gmm_munmap(vm, va, 4 * PG), 0);
	assert_int_equal(vm->st.invlpgs + vm->st.guest_tlb_flushes, 0);
}

/* ---- mprotect ---- */

static void test_mprotect(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	assert_non_null(gmm_proc_create(vm));
	gva_t va = gmm_mmap(vm, 0, 6 * PG, GPROT_READ | GPROT_WRITE, 0);
	for (unsigned i = 0; i < 4; i++)
		ustore(f, va + i * PG, SENT(i));
	reset_stats(f);
	/* 4 of the 6 pages are present: 4 INVLPGs. */
	assert_int_equal(gmm_mprotect(vm, va, 6 * PG, GPROT_READ), 0);
	assert_int_equal(vm->st.invlpgs, 4);
	assert_int_equal(uload(f, va + PG), SENT(1));
	/* Back to writable: the pages are mapped once, so RW comes back and a
	 * write does not fault. */
	assert_int_equal(gmm_mprotect(vm, va, 2 * PG, GPROT_READ | GPROT_WRITE), 0);
	uint64_t faults = vm->st.guest_faults;
	ustore(f, va, SENT(0x10));
	assert_int_equal(vm->st.guest_faults, faults);
	assert_int_equal(uload(f, va), SENT(0x10));
	/* PROT_NONE hides a page without losing it. */
	assert_int_equal(gmm_mprotect(vm, va + 3 * PG, PG, GPROT_NONE), 0);
	arm(f);
	if (setjmp(f->jb) == 0) {
		uload(f, va + 3 * PG);
		fail_msg("load of a PROT_NONE page did not fault");
	}
	expect_abort(f, "PROT_NONE");
	assert_int_equal(gmm_mprotect(vm, va + 3 * PG, PG, GPROT_READ), 0);
	assert_int_equal(uload(f, va + 3 * PG), SENT(3));
	/* The read-only part: a write is a segfault naming the address. */
	arm(f);
	if (setjmp(f->jb) == 0) {
		ustore(f, va + 2 * PG + 16, 1);
		fail_msg("write to a read-only page did not fault");
	}
	expect_abort(f, "segfault");
	expect_abort(f, "write");
	char addr[32];
	snprintf(addr, sizeof(addr), "0x%" PRIx64, va + 2 * PG + 16);
	expect_abort(f, addr);
}

/* After a fork, mprotect(RW) keeps shared pages read-only. */
static void test_mprotect_keeps_cow(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	struct gproc *par = gmm_proc_create(vm);
	gva_t va = gmm_mmap(vm, 0, 2 * PG, GPROT_READ | GPROT_WRITE, 0);
	ustore(f, va, SENT(1));
	ustore(f, va + PG, SENT(2));
	struct gproc *ch = gmm_fork(vm, par);
	assert_non_null(ch);
	assert_int_equal(gmm_mprotect(vm, va, 2 * PG, GPROT_READ), 0);
	assert_int_equal(gmm_mprotect(vm, va, 2 * PG, GPROT_READ | GPROT_WRITE), 0);
	int level;
	assert_false(leaf_of(vm, va, &level) & GPTE_RW);
	reset_stats(f);
	ustore(f, va, SENT(3));
	assert_int_equal(vm->st.cow_faults, 1);
	assert_int_equal(vm->st.pages_copied, 1);
	gmm_switch_to(vm, ch);
	assert_int_equal(uload(f, va), SENT(1));
}

/* ---- walks ---- */

/* Walk caches off: every completed user walk of a 4K page reads 4 entries
 * (5 with LA57), faults included. */
static void walk_refs_4k(struct fx *f, unsigned levels)
{
	struct vm *vm = f->vm;
	const unsigned n = 40;
	assert_non_null(gmm_proc_create(vm));
	gva_t va = gmm_mmap(vm, 0, n * PG, GPROT_READ | GPROT_WRITE, 0);
	reset_stats(f);
	for (unsigned i = 0; i < n; i++)
		ustore(f, va + i * PG, SENT(i));
	cpu_set_user(f->v, false);
	cpu_flush_tlb(f->v, false);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(uload(f, va + i * PG), SENT(i));
	assert_true(vm->st.walks_user >= 2 * n);
	assert_int_equal(vm->st.walk_refs_user, levels * vm->st.walks_user);
	assert_int_equal(vm->st.psc_hits, 0);
}

static void test_walk_refs_4k(void **state)
{
	walk_refs_4k(*state, 4);
}

static void test_walk_refs_4k_5l(void **state)
{
	walk_refs_4k(*state, 5);
}

/* A GMAP_HUGE mapping: 2M leaves in the PD, 3 references per walk, 512
 * pages zeroed per fault, and a 2M-aligned frame. */
static void test_huge_walk_refs(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	assert_non_null(gmm_proc_create(vm));
	gva_t va = gmm_mmap(vm, 0, 3 * MB2 - PG, GPROT_READ | GPROT_WRITE, GMAP_HUGE);
	assert_int_equal(va % MB2, 0);
	reset_stats(f);
	for (unsigned i = 0; i < 3; i++)
		ustore(f, va + i * MB2 + 0x1234 * 8, SENT(i));
	assert_int_equal(vm->st.guest_faults, 3);
	assert_int_equal(vm->st.demand_faults, 3);
	assert_int_equal(vm->st.pages_zeroed, 3 * 512 + 2); /* + PDPT and PD */
	cpu_set_user(f->v, false);
	cpu_flush_tlb(f->v, false);
	for (unsigned i = 0; i < 3; i++)
		for (unsigned j = 0; j < 4; j++)
			uload(f, va + i * MB2 + j * 0x40000);
	assert_int_equal(uload(f, va + MB2 + 0x1234 * 8), SENT(1));
	assert_true(vm->st.walks_user >= 6);
	assert_int_equal(vm->st.walk_refs_user, 3 * vm->st.walks_user);
	int level;
	uint64_t e = leaf_of(vm, va + MB2, &level);
	assert_int_equal(level, 2);
	assert_int_equal(pte_frame(e) % MB2, 0);
	/* munmap of part of a 2M page is refused; of a whole one, one INVLPG. */
	assert_int_equal(gmm_munmap(vm, va + PG, PG), -1);
	assert_int_equal(gmm_errno(vm), EINVAL);
	reset_stats(f);
	assert_int_equal(gmm_munmap(vm, va + MB2, MB2), 0);
	assert_int_equal(vm->st.invlpgs, 1);
	assert_int_equal(uload(f, va + 2 * MB2 + 0x1234 * 8), SENT(2));
}

/* Fork of a 2M page: one CoW fault copies its 512 pages. */
static void test_huge_cow(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	struct gproc *par = gmm_proc_create(vm);
	gva_t va = gmm_mmap(vm, 0, MB2, GPROT_READ | GPROT_WRITE, GMAP_HUGE);
	ustore(f, va + 0x100000, SENT(1));
	uint64_t free0 = gmm_free_frames(vm);
	struct gproc *ch = gmm_fork(vm, par);
	assert_non_null(ch);
	reset_stats(f);
	ustore(f, va + 0x100000, SENT(2));
	assert_int_equal(vm->st.cow_faults, 1);
	assert_int_equal(vm->st.pages_copied, 512);
	assert_int_equal(vm->st.invlpgs, 1);
	gmm_switch_to(vm, ch);
	assert_int_equal(uload(f, va + 0x100000), SENT(1));
	gmm_switch_to(vm, par);
	assert_int_equal(uload(f, va + 0x100000), SENT(2));
	gmm_exit(vm, ch, NULL);
	assert_int_equal(gmm_free_frames(vm), free0); /* the original went with the child */
}

/* ---- exit ---- */

static void test_exit_frees_everything(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	uint64_t free0 = gmm_free_frames(vm);
	struct gproc *a = gmm_proc_create(vm);
	gva_t va = gmm_mmap(vm, 0, 8 * PG, GPROT_READ | GPROT_WRITE, 0);
	gva_t far =
	    gmm_mmap(vm, UINT64_C(0x7f0000000000), PG, GPROT_READ | GPROT_WRITE, GMAP_FIXED);
	assert_int_equal(far, UINT64_C(0x7f0000000000));
	for (unsigned i = 0; i < 8; i++)
		ustore(f, va + i * PG, SENT(i));
	ustore(f, far, SENT(9));
	struct gproc *b = gmm_fork(vm, a);
	assert_non_null(b);
	gmm_switch_to(vm, b);
	ustore(f, va, SENT(0x20));
	uint64_t before_b_exit = gmm_free_frames(vm);
	reset_stats(f);
	/* b is current: switch to a first, then zap b's 9 leaves. */
	gmm_exit(vm, b, a);
	assert_ptr_equal(gmm_current(vm), a);
	assert_int_equal(vm->st.cr3_loads, 1);
	assert_true(f->v->cr3_noflush);
	/* b: top + 2 x (PDPT, PD, PT) tables, and its one private page. */
	assert_int_equal(gmm_free_frames(vm), before_b_exit + 7 + 1);
	assert_int_equal(uload(f, va), SENT(0));
	gmm_exit(vm, a, NULL);
	assert_null(gmm_current(vm));
	assert_int_equal(gmm_nprocs(vm), 0);
	assert_int_equal(gmm_free_frames(vm), free0);
	/* A new process after the last exit becomes current. */
	struct gproc *c = gmm_proc_create(vm);
	assert_ptr_equal(gmm_current(vm), c);
	assert_int_equal(gmm_proc_pid(c), 3);
}

/* A PCID is not reused until the counter wraps; its first load after
 * reallocation flushes. */
static void test_pcid_no_reuse(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	struct gproc *a = gmm_proc_create(vm);
	struct gproc *b = gmm_proc_create(vm);
	gmm_switch_to(vm, b);
	assert_int_equal(vcpu_pcid(f->v), 2);
	gmm_exit(vm, b, a);
	struct gproc *c = gmm_proc_create(vm);
	gmm_switch_to(vm, c);
	assert_int_equal(vcpu_pcid(f->v), 3);
	assert_false(f->v->cr3_noflush);
}

/* ---- errors ---- */

static void test_errors(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	assert_int_equal(gmm_mmap(vm, 0, PG, GPROT_READ, 0), 0); /* no process */
	assert_int_equal(gmm_errno(vm), EINVAL);
	assert_non_null(gmm_proc_create(vm));
	assert_int_equal(gmm_mmap(vm, 0, 0, GPROT_READ, 0), 0);
	assert_int_equal(gmm_errno(vm), EINVAL);
	assert_int_equal(gmm_mmap(vm, 0, PG, 8, 0), 0);
	assert_int_equal(gmm_errno(vm), EINVAL);
	assert_int_equal(gmm_mmap(vm, 0, PG, GPROT_READ, 0x40), 0);
	assert_int_equal(gmm_errno(vm), EINVAL);
	assert_int_equal(gmm_mmap(vm, 0x1234, PG, GPROT_READ, GMAP_FIXED), 0);
	assert_int_equal(gmm_errno(vm), EINVAL);
	assert_int_equal(gmm_mmap(vm, 0, UINT64_C(1) << 30, GPROT_READ, 0), 0);
	assert_int_equal(gmm_errno(vm), ENOMEM);
	assert_int_equal(gmm_mmap(vm, UINT64_C(0x7ffffffff000), 2 * PG, GPROT_READ, GMAP_FIXED), 0);
	assert_int_equal(gmm_errno(vm), ENOMEM);
	assert_int_equal(gmm_munmap(vm, 0x1001, PG), -1);
	assert_int_equal(gmm_errno(vm), EINVAL);
	assert_int_equal(gmm_munmap(vm, 0x1000, 0), -1);
	assert_int_equal(gmm_errno(vm), EINVAL);
	gva_t va = gmm_mmap(vm, 0, 2 * PG, GPROT_READ, 0);
	assert_int_equal(gmm_mprotect(vm, va, 3 * PG, GPROT_READ), -1);
	assert_int_equal(gmm_errno(vm), ENOMEM);
	assert_int_equal(gmm_mprotect(vm, va, PG, 16), -1);
	assert_int_equal(gmm_errno(vm), EINVAL);
	assert_null(gmm_fork(vm, NULL));
	/* A failed call changes nothing. */
	assert_int_equal(uload(f, va + PG), 0);
}

/* GMAP_FIXED over an existing mapping replaces it; hints are honoured. */
static void test_mmap_fixed(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	assert_non_null(gmm_proc_create(vm));
	gva_t va = gmm_mmap(vm, 0, 4 * PG, GPROT_READ | GPROT_WRITE, 0);
	for (unsigned i = 0; i < 4; i++)
		ustore(f, va + i * PG, SENT(i));
	assert_int_equal(gmm_mmap(vm, va + PG, 2 * PG, GPROT_READ | GPROT_WRITE, GMAP_FIXED),
			 va + PG);
	assert_int_equal(uload(f, va), SENT(0));
	assert_int_equal(uload(f, va + PG), 0);
	assert_int_equal(uload(f, va + 2 * PG), 0);
	assert_int_equal(uload(f, va + 3 * PG), SENT(3));
	gva_t next = gmm_mmap(vm, 0, PG, GPROT_READ, 0);
	assert_int_equal(next, va + 4 * PG);
	gva_t hint = gmm_mmap(vm, UINT64_C(0x40000000), PG, GPROT_READ, 0);
	assert_int_equal(hint, UINT64_C(0x40000000));
	/* A hint that overlaps is ignored. */
	gva_t other = gmm_mmap(vm, va, PG, GPROT_READ, 0);
	assert_int_equal(other, va + 5 * PG);
}

/* ---- out of memory ---- */

/* Frames that touching the first j pages of a fresh 2M-aligned area needs
 * once its PD exists: the pages and their PTs. */
static uint64_t frames_for(uint64_t j)
{
	return j + (j + 511) / 512;
}

/* 16 MiB of guest memory, two 12 MiB areas: touching both runs out, and
 * the guest gets a clean abort that names the faulting address. */
static void test_guest_oom(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	assert_non_null(gmm_proc_create(vm));
	const uint64_t n = (UINT64_C(12) << 20) / PG;
	gva_t a = gmm_mmap(vm, 0, n * PG, GPROT_READ | GPROT_WRITE, 0);
	gva_t b = gmm_mmap(vm, 0, n * PG, GPROT_READ | GPROT_WRITE, 0);
	assert_int_equal(b, a + n * PG);
	uint64_t avail = gmm_free_frames(vm);
	for (uint64_t i = 0; i < n; i++)
		ustore(f, a + i * PG, SENT(i));
	/* PDPT and PD, then a's pages and PTs. */
	assert_int_equal(gmm_free_frames(vm), avail - 2 - frames_for(n));
	uint64_t left = gmm_free_frames(vm);
	uint64_t want = 0;
	while (frames_for(want + 1) <= left)
		want++;
	volatile uint64_t j = 0;
	arm(f);
	if (setjmp(f->jb) == 0) {
		for (j = 0; j < n; j++)
			ustore(f, b + j * PG, SENT(j));
		fail_msg("touching 24 MiB in 16 MiB did not run out");
	}
	expect_abort(f, "guest out of memory");
	assert_int_equal(j, want);
	char addr[32];
	snprintf(addr, sizeof(addr), "0x%" PRIx64, b + j * PG);
	expect_abort(f, addr);
	assert_int_equal(gmm_free_frames(vm), 0);
	/* The guest kernel is still consistent: unmapping gives it all back. */
	assert_int_equal(gmm_munmap(vm, a, 2 * n * PG), 0);
	assert_int_equal(gmm_free_frames(vm), avail);
}

/* ---- allocator corners ---- */

/*
 * 16 MiB is 8 chunks of 2 MiB. 3400 touched 4K pages push the low region
 * into chunk 6, leaving chunk 7 for the first huge page. After they are
 * unmapped, further huge pages reclaim whole free chunks of the low region,
 * from the top down; chunk 0 holds frame 0 and the kernel tables and is
 * never reclaimed.
 */
static void test_frames_reclaim(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	assert_non_null(gmm_proc_create(vm));
	uint64_t free0 = gmm_free_frames(vm);
	const uint64_t n = 3400;
	gva_t va = gmm_mmap(vm, 0, n * PG, GPROT_READ | GPROT_WRITE, 0);
	for (uint64_t i = 0; i < n; i++)
		ustore(f, va + i * PG, SENT(i));
	assert_int_equal(gmm_munmap(vm, va, n * PG), 0);
	assert_int_equal(gmm_free_frames(vm), free0);
	gva_t h = gmm_mmap(vm, 0, 6 * MB2, GPROT_READ | GPROT_WRITE, GMAP_HUGE);
	assert_int_not_equal(h, 0);
	uint64_t want[] = {7, 6, 5, 4, 3, 2};
	for (unsigned i = 0; i < 6; i++) {
		ustore(f, h + i * MB2, SENT(i));
		int level;
		uint64_t e = leaf_of(vm, h + i * MB2, &level);
		assert_int_equal(level, 2);
		assert_int_equal(pte_frame(e) / MB2, want[i]);
	}
	char detail[256];
	const char *bad = gmm_check(vm, detail, sizeof(detail));
	if (bad)
		fail_msg("gmm_check: %s: %s", bad, detail);
	/* Chunk 1 is free too, chunk 0 is not: the eighth block fails. */
	gva_t h2 = gmm_mmap(vm, 0, 2 * MB2, GPROT_READ | GPROT_WRITE, GMAP_HUGE);
	ustore(f, h2, 1);
	arm(f);
	if (setjmp(f->jb) == 0) {
		ustore(f, h2 + MB2, 2);
		fail_msg("a ninth 2 MiB page in 16 MiB did not fail");
	}
	expect_abort(f, "guest out of memory");
	expect_abort(f, "2 MiB");
	/* Freed blocks are split for 4K use when nothing else is left. */
	assert_int_equal(gmm_munmap(vm, h, 6 * MB2), 0);
	gva_t small = gmm_mmap(vm, 0, 600 * PG, GPROT_READ | GPROT_WRITE, 0);
	for (uint64_t i = 0; i < 600; i++)
		ustore(f, small + i * PG, SENT(i));
	assert_int_equal(uload(f, small + 599 * PG), SENT(599));
}

/* A fork that runs out of memory for the child's tables rolls back: the
 * child is gone, the parent keeps working (its pages made read-only by the
 * partial copy become writable again on a write, without a copy). */
static void test_fork_oom_rollback(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	struct gproc *par = gmm_proc_create(vm);
	gva_t va = gmm_mmap(vm, 0, 4080 * PG, GPROT_READ | GPROT_WRITE, 0);
	/* Leave 4 frames: the child's top, PDPT, PD and first PT fit, its
	 * second PT does not, after 512 parent pages became read-only. */
	for (uint64_t i = 0; gmm_free_frames(vm) > 4; i++)
		ustore(f, va + i * PG, SENT(i));
	assert_int_equal(gmm_free_frames(vm), 4);
	reset_stats(f);
	assert_null(gmm_fork(vm, par));
	assert_int_equal(gmm_errno(vm), ENOMEM);
	assert_int_equal(gmm_nprocs(vm), 1);
	assert_int_equal(gmm_free_frames(vm), 4);
	assert_int_equal(vm->st.guest_tlb_flushes, 1);
	int level;
	assert_false(leaf_of(vm, va, &level) & GPTE_RW);
	reset_stats(f);
	ustore(f, va, SENT(0x77));
	assert_int_equal(vm->st.cow_faults, 1);
	assert_int_equal(vm->st.pages_copied, 0);
	assert_int_equal(uload(f, va + PG), SENT(1));
}

/* 4095 PCIDs: the next process fails with EAGAIN until one exits. */
static void test_pcid_exhaustion(void **state)
{
	struct fx *f = *state;
	struct vm *vm = f->vm;
	struct gproc *first = gmm_proc_create(vm);
	struct gproc *victim = NULL;
	for (int i = 2; i <= 4095; i++) {
		struct gproc *p = gmm_proc_create(vm);
		assert_non_null(p);
		if (i == 100)
			victim = p;
	}
	assert_null(gmm_proc_create(vm));
	assert_int_equal(gmm_errno(vm), EAGAIN);
	gmm_exit(vm, victim, first);
	struct gproc *p = gmm_proc_create(vm);
	assert_non_null(p);
	gmm_switch_to(vm, p);
	assert_int_equal(vcpu_pcid(f->v), 100);
	assert_false(f->v->cr3_noflush);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_boot_direct_map, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_proc_create, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pcid_switch, setup_perproc, teardown),
	    cmocka_unit_test_setup_teardown(test_nopcid_switch, setup_nopcid, teardown),
	    cmocka_unit_test_setup_teardown(test_demand_zero, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prot_bits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cow_fork, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fork_readonly, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_munmap_few, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_munmap_many, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_munmap_frees_tables, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mprotect, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mprotect_keeps_cow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_walk_refs_4k, setup_nocache, teardown),
	    cmocka_unit_test_setup_teardown(test_walk_refs_4k_5l, setup_nocache_5l, teardown),
	    cmocka_unit_test_setup_teardown(test_huge_walk_refs, setup_nocache, teardown),
	    cmocka_unit_test_setup_teardown(test_huge_cow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exit_frees_everything, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pcid_no_reuse, setup_perproc, teardown),
	    cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mmap_fixed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_guest_oom, setup_tiny, teardown),
	    cmocka_unit_test_setup_teardown(test_frames_reclaim, setup_tiny, teardown),
	    cmocka_unit_test_setup_teardown(test_fork_oom_rollback, setup_tiny, teardown),
	    cmocka_unit_test_setup_teardown(test_pcid_exhaustion, setup_perproc, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

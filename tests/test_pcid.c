/*
 * test_pcid.c - the guest kernel's PCID policies and KPTI
 * (src/guest-mm/pcid.c, kpti.c), with exact counts.
 *
 * Each test boots a fresh VM (64 MiB of guest memory), drives the guest
 * kernel through its API (gmm.h) and user-mode loads and stores, and runs
 * gmm_check() at the end. The counts it pins:
 *
 *   - Linux's 6 dynamic ASIDs (choose_new_asid()): 7 processes taking turns
 *     flush on every switch, 6 flush only on their first; one PCID per
 *     process flushes only on first loads;
 *   - an mm whose tables changed while it was not current flushes on its
 *     next switch, in the slot it already held (its tlb_gen moved on);
 *   - KPTI: 2 CR3 writes per kernel entry from user space (page fault or
 *     memory call) and 3 per context switch; under shadow paging each is a
 *     CR3 exit, under nested paging none is; the return to user space
 *     flushes the user PCID only after the kernel invalidated something.
 *
 * Guest layout (4-level): user data at GMM_MMAP_BASE (PML4 index 0), the
 * direct map at 0xffff888000000000 (index 273), the KPTI entry trampoline
 * at 0xfffffe0000000000 (index 508).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/core/cpu.h"
#include "../src/cli/registry.h"
#include "../src/lib/run.h"
#include "../src/guest-mm/gmm.h"

#define SENT(i) (UINT64_C(0x5a5a000000000000) | (uint64_t)(i))
#define USER_PCID_BIT (UINT64_C(1) << 11)

/* ---- fixtures ---- */

struct setting {
	const char *mode;
	enum pcid_policy policy;
	bool pcid, kpti;
};

static struct vm *boot(const struct setting *s)
{
	struct vm_config c;
	config_defaults(&c);
	c.mode = s->mode;
	c.guest_mem = UINT64_C(64) << 20;
	c.pcid_policy = s->policy;
	c.pcid = s->pcid;
	c.kpti = s->kpti;
	char err[256] = "";
	struct vm *vm = vm_create(&c, err, sizeof(err));
	if (!vm)
		fail_msg("vm_create: %s", err);
	assert_int_equal(gmm_boot(vm), 0);
	memset(&vm->st, 0, sizeof(vm->st));
	return vm;
}

static void finish(struct vm *vm)
{
	char detail[256];
	const char *bad = gmm_check(vm, detail, sizeof(detail));
	if (bad)
		fail_msg("gmm_check: %s: %s", bad, detail);
	vm_destroy(vm);
}

static void ustore(struct vm *vm, gva_t va, uint64_t val)
{
	cpu_set_user(&vm->vcpu, true);
	cpu_store(&vm->vcpu, va, 8, val);
}

static uint64_t uload(struct vm *vm, gva_t va)
{
	cpu_set_user(&vm->vcpu, true);
	return cpu_load(&vm->vcpu, va, 8);
}

/* ---- Linux's dynamic ASIDs against one PCID per process ---- */

/*
 * n processes, each with one page written; then 'rounds' rounds of
 * switches p2 .. pn, p1 (n switches a round), each followed by a load of
 * the process's page. Returns the VM with the statistics of the rounds.
 */
static struct vm *take_turns(const struct setting *s, unsigned n, unsigned rounds, uint16_t *pcids,
			     uint64_t *misses_last_round)
{
	struct vm *vm = boot(s);
	struct gproc *p[8];
	gva_t va[8];
	assert_true(n <= 8);
	for (unsigned i = 0; i < n; i++) {
		p[i] = gmm_proc_create(vm);
		assert_non_null(p[i]);
		gmm_switch_to(vm, p[i]);
		va[i] = gmm_mmap(vm, 0, PAGE_SIZE, GPROT_READ | GPROT_WRITE, 0);
		ustore(vm, va[i], SENT(i));
	}
	gmm_switch_to(vm, p[0]);
	memset(&vm->st, 0, sizeof(vm->st));
	unsigned k = 0;
	for (unsigned r = 0; r < rounds; r++) {
		uint64_t m0 = vm->st.tlb_misses;
		for (unsigned i = 1; i <= n; i++, k++) {
			gmm_switch_to(vm, p[i % n]);
			if (pcids)
				pcids[k] = vcpu_pcid(&vm->vcpu);
			assert_int_equal(uload(vm, va[i % n]), SENT(i % n));
		}
		*misses_last_round = vm->st.tlb_misses - m0;
	}
	return vm;
}

static void test_linux_seven_procs(void **state)
{
	(void)state;
	static const struct setting s = {"native", PCID_LINUX, true, false};
	uint16_t pcid[21];
	uint64_t misses;
	struct vm *vm = take_turns(&s, 7, 3, pcid, &misses);
	/* Seven address spaces over six slots: every switch takes a new slot
	 * and flushes it, so every load misses. */
	assert_int_equal(vm->st.ctx_switches, 21);
	assert_int_equal(vm->st.ctx_switch_flushes, 21);
	assert_int_equal(vm->st.cr3_loads, 21);
	assert_int_equal(vm->st.tlb_flushes, 21);
	assert_int_equal(misses, 7);
	/* The slots go round robin: the setup left p1 in ASID 2 (its third
	 * slot), so the rounds start at ASID 3 (PCID 4) and cycle through
	 * PCIDs 4, 5, 6, 1, 2, 3. */
	for (unsigned i = 0; i < 21; i++)
		assert_int_equal(pcid[i], (i + 3) % 6 + 1);
	finish(vm);
}

static void test_linux_six_procs(void **state)
{
	(void)state;
	static const struct setting s = {"native", PCID_LINUX, true, false};
	uint64_t misses;
	struct vm *vm = take_turns(&s, 6, 3, NULL, &misses);
	/* Six fit: p6 took slot 0 from the kernel's mm during the setup; no
	 * switch flushes and every translation survives. */
	assert_int_equal(vm->st.ctx_switches, 18);
	assert_int_equal(vm->st.ctx_switch_flushes, 0);
	assert_int_equal(vm->st.tlb_flushes, 0);
	assert_int_equal(misses, 0);
	finish(vm);
}

static void test_per_process_seven_procs(void **state)
{
	(void)state;
	static const struct setting s = {"native", PCID_PER_PROCESS, true, false};
	uint16_t pcid[21];
	uint64_t misses;
	struct vm *vm = take_turns(&s, 7, 3, pcid, &misses);
	/* One PCID each, all loaded during the setup: no switch flushes. */
	assert_int_equal(vm->st.ctx_switches, 21);
	assert_int_equal(vm->st.ctx_switch_flushes, 0);
	assert_int_equal(vm->st.tlb_flushes, 0);
	assert_int_equal(misses, 0);
	for (unsigned i = 0; i < 21; i++)
		assert_int_equal(pcid[i], (i + 1) % 7 + 1);
	finish(vm);
}

static void test_no_pcid_seven_procs(void **state)
{
	(void)state;
	static const struct setting s = {"native", PCID_LINUX, false, false};
	uint64_t misses;
	struct vm *vm = take_turns(&s, 7, 2, NULL, &misses);
	assert_int_equal(vm->st.ctx_switch_flushes, 14);
	assert_int_equal(misses, 7);
	assert_int_equal(vcpu_pcid(&vm->vcpu), 0);
	finish(vm);
}

/* An mm whose tables changed while it was not current (a fork of it from
 * another process) keeps its slot but flushes it: its tlb_gen moved on. */
static void test_linux_stale_slot(void **state)
{
	(void)state;
	static const struct setting s = {"native", PCID_LINUX, true, false};
	struct vm *vm = boot(&s);
	struct gproc *a = gmm_proc_create(vm);
	struct gproc *b = gmm_proc_create(vm);
	gva_t va = gmm_mmap(vm, 0, PAGE_SIZE, GPROT_READ | GPROT_WRITE, 0);
	ustore(vm, va, SENT(1));
	gmm_switch_to(vm, b);
	gmm_switch_to(vm, a);
	assert_true(vm->vcpu.cr3_noflush);
	assert_int_equal(vcpu_pcid(&vm->vcpu), 2);
	gmm_switch_to(vm, b);
	struct gproc *c = gmm_fork(vm, a);
	assert_non_null(c);
	memset(&vm->st, 0, sizeof(vm->st));
	gmm_switch_to(vm, a);
	assert_false(vm->vcpu.cr3_noflush);
	assert_int_equal(vcpu_pcid(&vm->vcpu), 2);
	assert_int_equal(vm->st.ctx_switch_flushes, 1);
	gmm_switch_to(vm, b);
	gmm_switch_to(vm, a);
	assert_true(vm->vcpu.cr3_noflush);
	assert_int_equal(vm->st.ctx_switch_flushes, 1);
	finish(vm);
}

/* ---- KPTI ---- */

/*
 * One process, 8 pages mapped; then 8 demand faults, one munmap, a second
 * process and a switch to it, counted in parts. Every kernel entry from
 * user space writes CR3 twice (kernel PGD in, user PGD out); a context
 * switch a third time (switch_mm). Under shadow paging every write exits,
 * under nested and native paging none does.
 */
struct kpti_counts {
	uint64_t entries, cr3, exits_cr3;
};

static void kpti_scenario(const struct setting *s, struct kpti_counts out[3])
{
	struct vm *vm = boot(s);
	struct vcpu *v = &vm->vcpu;
	struct gproc *a = gmm_proc_create(vm);
	gva_t va = gmm_mmap(vm, 0, 8 * PAGE_SIZE, GPROT_READ | GPROT_WRITE, 0);
	uint64_t user_pcid = s->kpti ? 2 | USER_PCID_BIT : 2;
	if (s->kpti) {
		/* Back in user space on the user PGD, the 4 KiB page after the
		 * kernel PGD, with the user PCID. */
		assert_int_equal(pte_frame(v->cr3) & PAGE_SIZE, PAGE_SIZE);
		assert_int_equal(vcpu_pcid(v), user_pcid);
	}

	struct kpti_counts *c = &out[0];
	memset(&vm->st, 0, sizeof(vm->st));
	for (unsigned i = 0; i < 8; i++) {
		ustore(vm, va + i * PAGE_SIZE, SENT(i));
		if (s->kpti)
			assert_true(v->cr3_noflush); /* nothing invalidated */
	}
	assert_int_equal(vm->st.guest_faults, 8);
	*c = (struct kpti_counts){vm->st.kernel_entries, vm->st.cr3_loads, vm->st.exits_cr3};

	c = &out[1];
	memset(&vm->st, 0, sizeof(vm->st));
	assert_int_equal(gmm_munmap(vm, va, 8 * PAGE_SIZE), 0);
	/* One per page; the freed PT, PD and PDPT spans hold the first page. */
	assert_int_equal(vm->st.invlpgs, 8);
	if (s->kpti) {
		/* The INVLPGs ran in the kernel PCID; the user PCID is flushed by
		 * the return to user space (invalidate_user_asid()). */
		assert_false(v->cr3_noflush);
		assert_int_equal(vcpu_pcid(v), user_pcid);
	}
	*c = (struct kpti_counts){vm->st.kernel_entries, vm->st.cr3_loads, vm->st.exits_cr3};

	struct gproc *b = gmm_proc_create(vm);
	c = &out[2];
	memset(&vm->st, 0, sizeof(vm->st));
	gmm_switch_to(vm, b);
	*c = (struct kpti_counts){vm->st.kernel_entries, vm->st.cr3_loads, vm->st.exits_cr3};
	if (s->kpti) {
		assert_int_equal(vcpu_pcid(v), 3 | USER_PCID_BIT);
		assert_int_equal(pte_frame(v->cr3) & PAGE_SIZE, PAGE_SIZE);
		assert_false(v->cr3_noflush); /* a new ASID: both PCIDs flushed */
	}
	(void)a;
	finish(vm);
}

static void test_kpti_cr3_writes(void **state)
{
	(void)state;
	static const char *const modes[] = {"native", "shadow", "nested"};
	for (int kpti = 0; kpti <= 1; kpti++) {
		for (int m = 0; m < 3; m++) {
			struct setting s = {modes[m], PCID_LINUX, true, kpti};
			struct kpti_counts c[3];
			kpti_scenario(&s, c);
			/* 8 faults, 1 munmap, 1 switch: one kernel entry each. */
			assert_int_equal(c[0].entries, 8);
			assert_int_equal(c[1].entries, 1);
			assert_int_equal(c[2].entries, 1);
			/* CR3 writes: 2 per entry with KPTI (+1 for switch_mm). */
			assert_int_equal(c[0].cr3, kpti ? 16 : 0);
			assert_int_equal(c[1].cr3, kpti ? 2 : 0);
			assert_int_equal(c[2].cr3, kpti ? 3 : 1);
			/* Each one exits under shadow paging only (the munmap's
			 * INVLPGs exit as INVLPG, not as CR3 exits). */
			bool shadow = m == 1;
			for (int k = 0; k < 3; k++)
				if (c[k].exits_cr3 != (shadow ? c[k].cr3 : 0))
					fail_msg("%s, kpti %d, part %d: %" PRIu64
						 " CR3 exits for %" PRIu64 " CR3 writes",
						 modes[m], kpti, k, c[k].exits_cr3, c[k].cr3);
		}
	}
}

/* KPTI's page tables: the user PGD beside the kernel PGD maps the user
 * half (without the kernel copy's NX) and the trampoline, never the direct
 * map; the kernel's mappings are not global. */
static void test_kpti_tables(void **state)
{
	(void)state;
	static const struct setting s = {"native", PCID_LINUX, true, true};
	struct vm *vm = boot(&s);
	struct gproc *a = gmm_proc_create(vm);
	(void)a;
	gva_t va = gmm_mmap(vm, 0, PAGE_SIZE, GPROT_READ | GPROT_WRITE, 0);
	ustore(vm, va, SENT(3));
	uint64_t user = pte_frame(vm->vcpu.cr3);
	uint64_t kern = user - PAGE_SIZE;
	assert_int_equal(kern & (2 * PAGE_SIZE - 1), 0);
	unsigned idx_user = pt_index(va, 4);
	unsigned idx_direct = pt_index(UINT64_C(0xffff888000000000), 4);
	unsigned idx_tramp = pt_index(UINT64_C(0xfffffe0000000000), 4);
	assert_int_equal(idx_tramp, 508);
	uint64_t ku = gpa_read64(vm, GPA(kern + 8 * idx_user));
	uint64_t uu = gpa_read64(vm, GPA(user + 8 * idx_user));
	assert_true(ku & GPTE_NX);
	assert_false(uu & GPTE_NX);
	assert_int_equal(pte_frame(ku), pte_frame(uu));
	assert_true(gpte_present(gpa_read64(vm, GPA(kern + 8 * idx_direct))));
	assert_int_equal(gpa_read64(vm, GPA(user + 8 * idx_direct)), 0);
	assert_int_equal(gpa_read64(vm, GPA(kern + 8 * idx_tramp)),
			 gpa_read64(vm, GPA(user + 8 * idx_tramp)));
	assert_true(gpte_present(gpa_read64(vm, GPA(user + 8 * idx_tramp))));
	/* Only the user half and the trampoline in the user PGD. */
	unsigned present = 0;
	for (unsigned i = 0; i < 512; i++)
		present += gpte_present(gpa_read64(vm, GPA(user + 8 * i)));
	assert_int_equal(present, 2);
	/* A kernel entry runs on the kernel PGD with the kernel PCID, and the
	 * direct map there is not global. */
	gmm_kernel_enter(vm);
	assert_int_equal(pte_frame(vm->vcpu.cr3), kern);
	assert_int_equal(vcpu_pcid(&vm->vcpu), 2);
	assert_true(vm->vcpu.cr3_noflush);
	cpu_set_user(&vm->vcpu, false);
	(void)cpu_load(&vm->vcpu, gmm_kva(vm, GPA(0x200000)), 8);
	uint64_t pd = pte_frame(gpa_read64(vm, GPA(kern + 8 * idx_direct)));
	uint64_t pdpte = gpa_read64(vm, GPA(pd + 8 * pt_index(UINT64_C(0xffff888000200000), 3)));
	uint64_t pde = gpa_read64(vm, GPA(pte_frame(pdpte) + 8 * 1));
	assert_true(pde & GPTE_PS);
	assert_false(pde & GPTE_G);
	gmm_kernel_exit(vm);
	assert_int_equal(pte_frame(vm->vcpu.cr3), user);
	assert_int_equal(uload(vm, va), SENT(3));
	finish(vm);
}

/* A copy-on-write fault invalidates the old translation: its return to user
 * space flushes the user PCID, a demand fault's does not. Without PCIDs
 * every KPTI CR3 write flushes. */
static void test_kpti_user_flush(void **state)
{
	(void)state;
	static const struct setting s = {"native", PCID_LINUX, true, true};
	struct vm *vm = boot(&s);
	struct gproc *a = gmm_proc_create(vm);
	gva_t va = gmm_mmap(vm, 0, PAGE_SIZE, GPROT_READ | GPROT_WRITE, 0);
	ustore(vm, va, SENT(1));
	assert_true(vm->vcpu.cr3_noflush);
	struct gproc *c = gmm_fork(vm, a);
	assert_non_null(c);
	assert_false(vm->vcpu.cr3_noflush); /* fork flushed the parent */
	ustore(vm, va, SENT(2));	    /* copy-on-write */
	assert_int_equal(vm->st.cow_faults, 1);
	assert_false(vm->vcpu.cr3_noflush);
	assert_int_equal(uload(vm, va), SENT(2));
	gmm_switch_to(vm, c);
	assert_int_equal(uload(vm, va), SENT(1));
	finish(vm);

	static const struct setting np = {"native", PCID_LINUX, false, true};
	vm = boot(&np);
	a = gmm_proc_create(vm);
	va = gmm_mmap(vm, 0, PAGE_SIZE, GPROT_READ | GPROT_WRITE, 0);
	memset(&vm->st, 0, sizeof(vm->st));
	ustore(vm, va, SENT(1));
	assert_int_equal(vm->st.cr3_loads, 2);
	assert_int_equal(vm->st.tlb_flushes, 2);
	assert_int_equal(vcpu_pcid(&vm->vcpu), 0);
	(void)a;
	finish(vm);
}

/*
 * The ctxswitch workload (4000 accesses, a switch every 100: 39 switches
 * round robin from p0), plus its setup (the first process's load, a switch
 * to each other process, one back to p0) and its read-back sweep p0 .. pN-1
 * in order. With Linux's 6 ASIDs: 6 processes flush only on each first
 * load; 8 flush on every switch; 7 flush on every switch but 5 of the
 * sweep's, whose processes still hold one of the 6 slots. One PCID per
 * process flushes only on first loads.
 */
static void test_ctxswitch_workload(void **state)
{
	(void)state;
	static const struct {
		enum pcid_policy policy;
		uint32_t procs;
		uint64_t switches, flushes;
	} rows[] = {{PCID_LINUX, 6, 52, 6},
		    {PCID_LINUX, 7, 54, 49},
		    {PCID_LINUX, 8, 56, 56},
		    {PCID_PER_PROCESS, 7, 54, 7},
		    {PCID_PER_PROCESS, 8, 56, 8}};
	const struct workload *w = workload_find("ctxswitch");
	assert_non_null(w);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct vm_config c;
		config_defaults(&c);
		c.guest_mem = UINT64_C(64) << 20;
		c.pcid_policy = rows[i].policy;
		c.whole_run = true; /* the counts below include the set-up's switches */
		struct wl_params p = {.seed = 1,
				      .pages = 4,
				      .ops = 4000,
				      .procs = rows[i].procs,
				      .switch_every = 100};
		struct run_result r;
		if (run_workload(&c, w, &p, NULL, &r) != 0)
			fail_msg("ctxswitch: %s", r.err);
		if (r.st.ctx_switches != rows[i].switches ||
		    r.st.ctx_switch_flushes != rows[i].flushes)
			fail_msg("%s, %u processes: %" PRIu64 " of %" PRIu64
				 " switches flushed, expected %" PRIu64 " of %" PRIu64,
				 rows[i].policy == PCID_LINUX ? "linux" : "per-process",
				 rows[i].procs, r.st.ctx_switch_flushes, r.st.ctx_switches,
				 rows[i].flushes, rows[i].switches);
		/* No KPTI: one CR3 write per switch, nothing else writes CR3. */
		assert_int_equal(r.st.cr3_loads, r.st.ctx_switches);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_linux_seven_procs),
	    cmocka_unit_test(test_linux_six_procs),
	    cmocka_unit_test(test_per_process_seven_procs),
	    cmocka_unit_test(test_no_pcid_seven_procs),
	    cmocka_unit_test(test_linux_stale_slot),
	    cmocka_unit_test(test_kpti_cr3_writes),
	    cmocka_unit_test(test_kpti_tables),
	    cmocka_unit_test(test_kpti_user_flush),
	    cmocka_unit_test(test_ctxswitch_workload),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

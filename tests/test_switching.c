/*
 * test_switching.c - dynamic shadow/nested switching (Wang et al.,
 * VEE'11): the phases workload makes it follow its phases, at a cost
 * below the worse static mode; every workload keeps native's checksum and
 * guest digest under --audit, with both modes' audits passing at every
 * exit.
 *
 * phases with 2048 pages and 6 phase pairs: each pair is a fault phase
 * (4 x 256 fresh pages) and a TLB phase (2048 x 8 random updates). The run
 * starts under nested paging, in a fault phase, so it switches to shadow
 * at every TLB phase and back at every fault phase after the first:
 * 2 x 6 - 1 = 11 switches, alternating, each to nested on an interval
 * with guest faults, each to shadow on an interval without.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/core/stats.h"
#include "../src/lib/run.h"
#include "../src/cli/registry.h"

struct swlog {
	int n, to_nested, to_shadow, bad_order, bad_reason;
	bool last_nested;
};

static void swlog_fn(void *ctx, const struct trace_event *ev)
{
	struct swlog *l = ctx;
	if (ev->kind != TR_VMM_OP || !ev->what || strncmp(ev->what, "mode switch", 11) != 0)
		return;
	bool to_nested = strstr(ev->what, "-> nested") != NULL;
	/* Starting under nested, the first switch goes to shadow. */
	if (to_nested == (l->n == 0 ? true : l->last_nested))
		l->bad_order++;
	/* .addr: the interval's guest faults, .result: its TLB misses. */
	if (to_nested ? ev->addr * 2500 <= ev->result : ev->addr * 2500 >= ev->result)
		l->bad_reason++;
	l->last_nested = to_nested;
	l->n++;
	if (to_nested)
		l->to_nested++;
	else
		l->to_shadow++;
}

static struct vm_config cfg_for(const char *mode)
{
	struct vm_config c;
	config_defaults(&c);
	c.mode = mode;
	c.guest_mem = UINT64_C(128) << 20;
	return c;
}

static void test_phases(void **state)
{
	(void)state;
	const struct workload *w = workload_find("phases");
	assert_non_null(w);
	struct wl_params p = {.seed = 1, .pages = 2048, .ops = 6};
	struct run_result sh, ne, sw;
	struct vm_config c = cfg_for("shadow");
	assert_int_equal(run_workload(&c, w, &p, NULL, &sh), 0);
	c = cfg_for("nested");
	assert_int_equal(run_workload(&c, w, &p, NULL, &ne), 0);
	c = cfg_for("switching");
	struct swlog log = {0};
	struct run_hooks hooks = {.trace_fn = swlog_fn, .trace_ctx = &log};
	assert_int_equal(run_workload(&c, w, &p, &hooks, &sw), 0);

	assert_int_equal(sw.checksum, sh.checksum);
	assert_int_equal(sw.guest_digest, sh.guest_digest);
	assert_int_equal(ne.checksum, sh.checksum);

	/* It follows the phases. */
	assert_int_equal(sw.st.mode_switches, 11);
	assert_int_equal(log.n, 11);
	assert_int_equal(log.to_shadow, 6);
	assert_int_equal(log.to_nested, 5);
	assert_int_equal(log.bad_order, 0);
	assert_int_equal(log.bad_reason, 0);
	assert_int_equal(sw.st.accesses_shadow + sw.st.accesses_nested, sw.st.accesses);
	assert_true(sw.st.accesses_shadow > 0 && sw.st.accesses_nested > 0);

	/* Cheaper than the worse static mode. */
	uint64_t worse = sh.est_cycles > ne.est_cycles ? sh.est_cycles : ne.est_cycles;
	if (sw.est_cycles >= worse)
		fail_msg("switching %" PRIu64 " cycles, shadow %" PRIu64 ", nested %" PRIu64,
			 sw.est_cycles, sh.est_cycles, ne.est_cycles);
	assert_null(stats_check(&sw.st, false));
}

/* seq over 512 pages: every interval either takes a guest fault (the
 * first pass) or misses nowhere in the TLB (the second pass fits in it),
 * so with a ratio no interval reaches (2^32 - 1 misses per fault) the run
 * never leaves nested paging; with an interval longer than the run, no
 * decision is ever taken. */
static void test_ratio_extremes(void **state)
{
	(void)state;
	const struct workload *w = workload_find("seq");
	struct wl_params p = {.seed = 3, .pages = 512, .ops = 2};
	struct run_result r;
	struct vm_config c = cfg_for("switching");
	c.switch_ratio = UINT32_MAX;
	assert_int_equal(run_workload(&c, w, &p, NULL, &r), 0);
	assert_int_equal(r.st.accesses_shadow, 0);
	assert_int_equal(r.st.accesses_nested, r.st.accesses);
	c.switch_interval = UINT64_MAX;
	assert_int_equal(run_workload(&c, w, &p, NULL, &r), 0);
	assert_int_equal(r.st.mode_switches, 0);
}

/* Every workload, small, two seeds, under --audit: native's checksum and
 * guest digest. */
static void test_equivalence_audit(void **state)
{
	(void)state;
	for (size_t k = 0; workloads[k]; k++) {
		for (uint64_t seed = 1; seed <= 2; seed++) {
			struct wl_params p = {.seed = seed, .pages = 256, .ops = 2};
			struct run_result nat, sw;
			struct vm_config c = cfg_for("native");
			c.guest_mem = UINT64_C(64) << 20;
			assert_int_equal(run_workload(&c, workloads[k], &p, NULL, &nat), 0);
			c.mode = "switching";
			c.audit = true;
			c.switch_interval = 1024;
			if (run_workload(&c, workloads[k], &p, NULL, &sw) != 0)
				fail_msg("%s seed %" PRIu64 " under switching: %s",
					 workloads[k]->name, seed, sw.err);
			assert_int_equal(sw.checksum, nat.checksum);
			assert_int_equal(sw.guest_digest, nat.guest_digest);
			assert_int_equal(sw.st.accesses_shadow + sw.st.accesses_nested,
					 sw.st.accesses);
		}
	}
}

/*
 * The guest's controls off (--wp off, --nxe off, both): shadow paging runs
 * the hardware with CR0.WP = 1 and EFER.NXE = 1 whatever the guest writes
 * (shadow_mmu_ops.forces_wp_nx), nested paging with the guest's own. While
 * switching runs shadow paging, the hardware's rights must be shadow
 * paging's: otherwise a supervisor store goes through the read-only sptes
 * of write-protected guest tables without an exit, and the shadow tables
 * go stale. Checked two ways:
 *   - at every VM exit taken inside a delegated call, v->hw_rights are the
 *     active mode's (a supervisor write through an entry without W is
 *     denied under shadow paging, allowed under nested paging with
 *     CR0.WP = 0; bit 63 is reserved only under nested paging with
 *     EFER.NXE = 0);
 *   - the guest kernel stores only through its read-write direct map, so
 *     the controls change nothing it does: phases (2048 pages, 6 phase
 *     pairs, 128 MiB) has native's checksum and digest and exactly the
 *     counts of the run with every control on, among them the 18 stores to
 *     write-protected guest tables that the shadow intervals trap.
 */
struct rights_check {
	struct vm *vm;
	bool wp, nxe; /* the guest's */
	int shadow_exits, nested_exits, bad;
};

static void rc_boot(struct vm *vm, void *ctx)
{
	((struct rights_check *)ctx)->vm = vm;
}

static void rc_trace(void *ctx, const struct trace_event *ev)
{
	struct rights_check *rc = ctx;
	if (ev->kind != TR_VM_EXIT || !rc->vm)
		return;
	const struct paging_rights *hw = &rc->vm->vcpu.hw_rights;
	bool shadow = rc->vm->mmu == mmu_find("shadow");
	if (!shadow && rc->vm->mmu != mmu_find("nested"))
		return; /* not inside a delegated call */
	bool want_wp = shadow || rc->wp, want_nxe = shadow || rc->nxe;
	/* Combined rights 0 (no W, no U, executable), supervisor write. */
	bool ro_write_ok = hw->ok[ACC_WRITE][0] & 1;
	bool bit63_rsvd = (hw->rsvd & (UINT64_C(1) << 63)) != 0;
	if (ro_write_ok == want_wp || bit63_rsvd == want_nxe)
		rc->bad++;
	if (shadow)
		rc->shadow_exits++;
	else
		rc->nested_exits++;
}

static void test_controls_off(void **state)
{
	(void)state;
	const struct workload *w = workload_find("phases");
	struct wl_params p = {.seed = 1, .pages = 2048, .ops = 6};
	struct run_result on;
	struct vm_config c = cfg_for("switching");
	assert_int_equal(run_workload(&c, w, &p, NULL, &on), 0);
	assert_int_equal(on.st.exits_pt_write, 18);
	static const struct {
		bool wp, nxe;
	} cases[] = {{false, true}, {true, false}, {false, false}};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct run_result nat, sw;
		c = cfg_for("native");
		c.cr0_wp = cases[k].wp;
		c.efer_nxe = cases[k].nxe;
		assert_int_equal(run_workload(&c, w, &p, NULL, &nat), 0);
		c.mode = "switching";
		c.audit = true;
		struct rights_check rc = {.wp = cases[k].wp, .nxe = cases[k].nxe};
		struct run_hooks hooks = {
		    .trace_fn = rc_trace, .trace_ctx = &rc, .after_boot = rc_boot, .ctx = &rc};
		if (run_workload(&c, w, &p, &hooks, &sw) != 0)
			fail_msg("wp %d nxe %d: %s", cases[k].wp, cases[k].nxe, sw.err);
		assert_int_equal(sw.checksum, nat.checksum);
		assert_int_equal(sw.guest_digest, nat.guest_digest);
		assert_int_equal(rc.bad, 0);
		assert_true(rc.shadow_exits > 0 && rc.nested_exits > 0);
		assert_int_equal(sw.st.mode_switches, on.st.mode_switches);
		assert_int_equal(sw.st.exits_pt_write, 18);
		assert_int_equal(sw.st.exits_hidden_fault, on.st.exits_hidden_fault);
		assert_int_equal(sw.st.exits_fault_inject, on.st.exits_fault_inject);
		assert_int_equal(sw.st.vm_exits, on.st.vm_exits);
		assert_int_equal(sw.st.tlb_misses, on.st.tlb_misses);
		assert_int_equal(sw.st.walk_refs, on.st.walk_refs);
		assert_int_equal(sw.st.accesses_shadow, on.st.accesses_shadow);
	}
}

/* A vm_abort() inside a delegated call (here: from a trace hook at the
 * first VM exit taken while shadow or nested paging runs on the switching
 * mode's behalf) lands in the caller's guard with the switching state
 * restored, so the run fails cleanly and vm_destroy() frees both modes'
 * states (the sanitizer build checks that nothing leaks). */
struct aborter {
	struct vm *vm;
	int exits_inside;
};

static void ab_boot(struct vm *vm, void *ctx)
{
	((struct aborter *)ctx)->vm = vm;
}

static void ab_trace(void *ctx, const struct trace_event *ev)
{
	struct aborter *a = ctx;
	if (ev->kind != TR_VM_EXIT || !a->vm || a->vm->mmu == mmu_find("switching"))
		return;
	a->exits_inside++;
	vm_abort(a->vm, "deliberate abort inside a delegated call");
}

static void test_abort_inside_delegation(void **state)
{
	(void)state;
	struct aborter a = {0};
	struct run_hooks hooks = {
	    .trace_fn = ab_trace, .trace_ctx = &a, .after_boot = ab_boot, .ctx = &a};
	struct vm_config c = cfg_for("switching");
	struct wl_params p = {.seed = 1, .pages = 256, .ops = 1};
	struct run_result r;
	assert_int_equal(run_workload(&c, workload_find("faults"), &p, &hooks, &r), -1);
	assert_int_equal(a.exits_inside, 1);
	assert_non_null(strstr(r.err, "deliberate abort"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_phases),
	    cmocka_unit_test(test_ratio_extremes),
	    cmocka_unit_test(test_equivalence_audit),
	    cmocka_unit_test(test_abort_inside_delegation),
	    cmocka_unit_test(test_controls_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

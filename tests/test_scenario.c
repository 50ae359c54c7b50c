/*
 * test_scenario.c - the narrated scenarios of `vmmu explain --scenario`:
 * the event sequence of every scenario in every mode, captured with a
 * trace collector (not by reading the narration's text).
 *
 * A collector records, for each narrated step, every trace event the
 * mechanism emits: its kind, its description, and for a VM exit the
 * exits_* counter it incremented. The tests assert the exact order of the
 * VM exits of each step, and exact counts of guest faults, guest
 * operations, VMM operations and flushes, as the mechanism makes them.
 * Each expected sequence is derived in the comment above its test.
 *
 * Guest layout of the scenarios (4-level paging, 64 MiB of guest memory):
 *
 *   0x0000000010000000  the first mmap of each process; pages 0..47 share
 *                       one guest leaf table
 *   0xffff888000000000  the direct map (2M guest pages); the guest kernel
 *                       zeroes, copies and edits page tables through it
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../src/report/csv.h"
#include "../src/cli/cli.h"
#include "../src/teach/scenario.h"
#include "../src/core/vm.h"

/* ---- the collector ---- */

#define MAX_EVENTS 8192
#define MAX_STEPS 8

struct rec {
	enum trace_kind kind;
	int step;
	int dim;
	const char *what;
	const char *exit; /* exits_* counter of a TR_VM_EXIT */
	uint64_t result;
	uint64_t addr;
};

struct coll {
	struct rec ev[MAX_EVENTS];
	int n;
	int step; /* current step, from 1 */
	int nsteps;
	struct stats delta[MAX_STEPS + 1];
	struct stats total;
};

static void c_step(void *ctx, struct vm *vm, int n, const char *heading)
{
	struct coll *c = ctx;
	(void)vm;
	assert_non_null(heading);
	assert_int_equal(n, c->step + 1);
	c->step = n;
	c->nsteps = n;
}

static void c_event(void *ctx, struct vm *vm, const struct trace_event *ev, const char *exit)
{
	struct coll *c = ctx;
	(void)vm;
	assert_true(c->step > 0); /* nothing outside the narrated steps */
	assert_true(c->n < MAX_EVENTS);
	assert_true((ev->kind == TR_VM_EXIT) == (exit != NULL));
	c->ev[c->n++] = (struct rec){.kind = ev->kind,
				     .step = c->step,
				     .dim = ev->dim,
				     .what = ev->what,
				     .exit = exit,
				     .result = ev->result,
				     .addr = ev->addr};
}

static void c_done(void *ctx, struct vm *vm, int n, const struct stats *d)
{
	struct coll *c = ctx;
	(void)vm;
	assert_true(n <= MAX_STEPS);
	c->delta[n] = *d;
}

static struct vm_config scn_config(const char *mode)
{
	struct vm_config c;
	config_defaults(&c);
	c.mode = mode;
	c.guest_mem = UINT64_C(64) << 20;
	c.audit = true; /* the mode's invariants hold after every exit */
	return c;
}

static struct coll *collect_cfg(const char *name, const struct vm_config *cfg)
{
	struct coll *c = calloc(1, sizeof(*c));
	struct scenario_observer obs = {
	    .step = c_step, .event = c_event, .step_done = c_done, .ctx = c};
	char err[256];

	assert_non_null(c);
	if (scenario_run(name, cfg, &obs, &c->total, err, sizeof(err)) != 0)
		fail_msg("scenario %s under %s: %s", name, cfg->mode, err);

	/* The step deltas add up to the totals, counter by counter (peaks and
	 * end-of-run values excepted), and the totals are consistent. */
	for (size_t k = 0; k < stat_nfields; k++) {
		const struct stat_field *f = &stat_fields[k];
		if (strstr(f->name, "_peak") || strcmp(f->name, "vmm_heap_bytes") == 0)
			continue;
		uint64_t sum = 0;
		for (int s = 1; s <= c->nsteps; s++)
			sum += stat_get(&c->delta[s], f);
		if (sum != stat_get(&c->total, f))
			fail_msg("%s/%s: step deltas of %s sum to %" PRIu64 ", total %" PRIu64,
				 name, cfg->mode, f->name, sum, stat_get(&c->total, f));
	}
	const char *bad = stats_check(&c->total, strcmp(cfg->mode, "nested") == 0);
	if (bad)
		fail_msg("%s/%s: stats invariant %s", name, cfg->mode, bad);
	return c;
}

static struct coll *collect(const char *name, const char *mode)
{
	struct vm_config cfg = scn_config(mode);
	return collect_cfg(name, &cfg);
}

/* Events of 'kind' in step 'step' (0 = every step) whose description
 * starts with 'what' (NULL = any). */
static int count(const struct coll *c, int step, enum trace_kind kind, const char *what)
{
	int n = 0;
	for (int i = 0; i < c->n; i++) {
		const struct rec *r = &c->ev[i];
		if (r->kind != kind || (step && r->step != step))
			continue;
		if (what && (!r->what || strncmp(r->what, what, strlen(what)) != 0))
			continue;
		n++;
	}
	return n;
}

/* The exits of step 'step' (0 = all), in order, must be exactly the
 * NULL-terminated list of exits_* names that follows. */
static void assert_exits(const struct coll *c, int step, ...)
{
	va_list ap;
	int i = 0;

	va_start(ap, step);
	for (const char *want = va_arg(ap, const char *); want; want = va_arg(ap, const char *)) {
		while (i < c->n &&
		       !(c->ev[i].kind == TR_VM_EXIT && (!step || c->ev[i].step == step)))
			i++;
		if (i == c->n)
			fail_msg("step %d: missing exit %s", step, want);
		if (strcmp(c->ev[i].exit, want) != 0)
			fail_msg("step %d: exit %s where %s was expected", step, c->ev[i].exit,
				 want);
		i++;
	}
	va_end(ap);
	for (; i < c->n; i++)
		if (c->ev[i].kind == TR_VM_EXIT && (!step || c->ev[i].step == step))
			fail_msg("step %d: unexpected exit %s", step, c->ev[i].exit);
}

/* The order of the kinds of the guest-visible events of one step: TLB
 * misses (M), guest faults (F), guest operations (Z zero, C copy, P PTE
 * write, D demand-zero done, W copy-on-write done, I INVLPG, R MOV CR3,
 * T TLB flush), VM exits (X) and TLB fills (L). */
static void assert_shape(const struct coll *c, int step, const char *want)
{
	char got[256];
	size_t o = 0;

	for (int i = 0; i < c->n && o + 1 < sizeof(got); i++) {
		const struct rec *r = &c->ev[i];
		char ch = 0;
		if (r->step != step)
			continue;
		switch (r->kind) {
		case TR_TLB_MISS:
			ch = 'M';
			break;
		case TR_GUEST_FAULT:
			ch = 'F';
			break;
		case TR_VM_EXIT:
			ch = 'X';
			break;
		case TR_TLB_FILL:
			ch = 'L';
			break;
		case TR_GUEST_OP:
			ch = !strcmp(r->what, "zero page")	      ? 'Z'
			     : !strcmp(r->what, "copy page")	      ? 'C'
			     : !strcmp(r->what, "guest pte write")    ? 'P'
			     : !strncmp(r->what, "demand-zero", 11)   ? 'D'
			     : !strncmp(r->what, "copy-on-write", 13) ? 'W'
			     : !strcmp(r->what, "invlpg")	      ? 'I'
			     : !strncmp(r->what, "mov cr3", 7)	      ? 'R'
			     : !strncmp(r->what, "tlb flush", 9)      ? 'T'
								      : '?';
			break;
		default:
			break;
		}
		if (ch)
			got[o++] = ch;
	}
	got[o] = '\0';
	if (strcmp(got, want) != 0)
		fail_msg("step %d: event shape '%s', expected '%s'", step, got, want);
}

/* ---- first-touch ---- */

/*
 * first-touch, native. Step 1, a user store to a mapped, never touched page
 * whose tables exist: TLB miss, the walk stops at the empty PTE, #PF to the
 * guest kernel (no VMM), which zeroes a frame (through its direct map, a
 * TLB hit), writes the PTE, and returns; the retried walk fills the TLB.
 * Shape "MFZPDL". Step 2, a load from the same page: no event at all.
 */
static void test_first_touch_native(void **state)
{
	(void)state;
	struct coll *c = collect("first-touch", "native");
	assert_int_equal(c->nsteps, 2);
	assert_int_equal(c->total.guest_faults, 1);
	assert_int_equal(c->total.demand_faults, 1);
	assert_int_equal(c->total.vm_exits, 0);
	assert_exits(c, 0, NULL);
	assert_shape(c, 1, "MFZPDL");
	assert_int_equal(count(c, 2, TR_TLB_MISS, NULL), 0);
	assert_shape(c, 2, "");
	free(c);
}

/*
 * first-touch, shadow. Step 1, in order (eager):
 *   1. the shadow walk misses; the VMM's walk finds no gpte either: a true
 *      fault, #PF injected (exits_fault_inject);
 *   2. the guest kernel reads its L4, L3 and L2 entries on the way to the
 *      PTE: three TLB misses, each filled without an exit (the direct map
 *      is shadowed with 4K sptes, one TLB entry per table page); then it
 *      zeroes a fresh frame through the direct map; that frame's spte is
 *      missing: hidden fault (exits_hidden_fault);
 *   3. the guest writes the PTE into its write-protected leaf table: the
 *      store is emulated (exits_pt_write);
 *   4. the retried user store: the VMM sets A/D in the gpte and installs
 *      the spte (exits_hidden_fault).
 * One guest fault, 4 exits; no CR3, INVLPG or dirty exit. Step 2: nothing.
 * Under unsync (the default) the same 4 exits happen, but the PTE store of
 * 3. takes the leaf table out of sync instead of being emulated: the store
 * is retried and lands in memory (one more TLB fill before the demand-zero
 * event).
 */
static void test_first_touch_shadow(void **state)
{
	(void)state;
	struct coll *c = collect("first-touch", "shadow");
	assert_exits(c, 1, "exits_fault_inject", "exits_hidden_fault", "exits_pt_write",
		     "exits_hidden_fault", NULL);
	assert_exits(c, 2, NULL);
	assert_int_equal(c->total.vm_exits, 4);
	assert_int_equal(count(c, 1, TR_VMM_OP, "guest table store emulated"), 0);
	assert_int_equal(count(c, 1, TR_VMM_OP, "shadow page goes out of sync"), 1);
	assert_shape(c, 1, "MXFMLMLMLMXLZPMXLDXL");
	free(c);

	struct vm_config cfg = scn_config("shadow");
	cfg.shadow_sync = SYNC_EAGER;
	c = collect_cfg("first-touch", &cfg);
	assert_exits(c, 1, "exits_fault_inject", "exits_hidden_fault", "exits_pt_write",
		     "exits_hidden_fault", NULL);
	assert_exits(c, 2, NULL);
	assert_int_equal(c->total.guest_faults, 1);
	assert_int_equal(c->total.injected_faults, 1);
	assert_int_equal(c->total.vm_exits, 4);
	assert_int_equal(count(c, 1, TR_VMM_OP, "#PF injected"), 1);
	assert_int_equal(count(c, 1, TR_VMM_OP, "guest table store emulated"), 1);
	assert_int_equal(count(c, 1, TR_VMM_OP, "VMM sets guest A/D"), 1);
	/* The fault is injected before the guest kernel sees it. */
	assert_shape(c, 1, "MXFMLMLMLMXLZPMXDXL");
	free(c);
}

/*
 * first-touch, nested. The only frame touched for the first time is the
 * fresh data frame, zeroed through the direct map: one EPT violation on
 * the final gPA (qualification bit 8 set), and no other exit. The guest
 * fault and the PTE store do not exit.
 */
static void test_first_touch_nested(void **state)
{
	(void)state;
	struct coll *c = collect("first-touch", "nested");
	assert_exits(c, 0, "exits_ept_violation", NULL);
	assert_int_equal(c->total.guest_faults, 1);
	assert_int_equal(c->total.exits_ept_violation, 1);
	assert_int_equal(count(c, 1, TR_VMM_OP, "EPT violation handled (final gPA)"), 1);
	assert_int_equal(count(c, 1, TR_VMM_OP, "EPT leaf installed"), 1);
	assert_shape(c, 1, "MFMXLZPDL");
	free(c);
}

/* ---- cow-write ---- */

/*
 * cow-write. Step 1, a load of the shared page: a walk, no fault. Step 2,
 * the store: one copy-on-write fault in every mode, handled by copy, PTE
 * write and INVLPG.
 *   native: no exit; shape "MFCPIWL";
 *   shadow: the read-only spte denies the store and the gpte does too:
 *           #PF injected; the copy's fresh destination frame: hidden fault;
 *           the PTE store: emulated; the INVLPG: exit; the retried store:
 *           hidden fault;
 *   nested: only the fresh frame exits (EPT violation, final gPA).
 * Step 3: nothing.
 */
static void test_cow_write(void **state)
{
	(void)state;
	const char *modes[] = {"native", "shadow", "nested"};
	for (int m = 0; m < 3; m++) {
		struct coll *c = collect("cow-write", modes[m]);
		assert_int_equal(c->nsteps, 3);
		assert_int_equal(c->total.guest_faults, 1);
		assert_int_equal(c->total.cow_faults, 1);
		assert_int_equal(c->delta[2].cow_faults, 1);
		assert_int_equal(c->delta[2].pages_copied, 1);
		assert_int_equal(count(c, 2, TR_GUEST_OP, "copy-on-write fault: frame copied"), 1);
		assert_int_equal(count(c, 2, TR_GUEST_OP, "invlpg"), 1);
		assert_int_equal(c->delta[1].guest_faults, 0);
		assert_int_equal(count(c, 3, TR_TLB_MISS, NULL), 0);
		assert_exits(c, 1, NULL);
		assert_exits(c, 3, NULL);
		if (m == 0) {
			assert_exits(c, 2, NULL);
			assert_shape(c, 2, "MFCPIWL");
		} else if (m == 1) {
			assert_exits(c, 2, "exits_fault_inject", "exits_hidden_fault",
				     "exits_pt_write", "exits_invlpg", "exits_hidden_fault", NULL);
		} else {
			assert_exits(c, 2, "exits_ept_violation", NULL);
			assert_int_equal(
			    count(c, 2, TR_VMM_OP, "EPT violation handled (final gPA)"), 1);
		}
		free(c);
	}
}

/* ---- cr3-switch ---- */

/*
 * cr3-switch, shadow. Steps: switch to process 1, load, switch back to
 * process 2, load. Each switch is one CR3 exit, served by the previous-root
 * cache (both roots are cached: root_cache_hits 2). With VPID on, process
 * 2's load hits the TLB (PCID-tagged entries survive the no-flush CR3 loads
 * and the exit), but process 1's misses once: the setup's first load of
 * process 2's PCID flushed, and a flushing CR3 write under shadow flushes
 * every PCID (KVM's vpid_sync_context()). With VPID off, each exit flushes the TLB (a world-switch flush
 * event right after the exit), so each load misses and walks the shadow
 * tables, without an exit: its sptes are in place.
 * With no root cache (--shadow-roots 0) the root is found in the hash:
 * no cache hit, no shadow page built.
 */
static void test_cr3_switch_shadow(void **state)
{
	(void)state;
	for (int vpid = 1; vpid >= 0; vpid--) {
		struct vm_config cfg = scn_config("shadow");
		cfg.vpid = vpid;
		struct coll *c = collect_cfg("cr3-switch", &cfg);
		assert_int_equal(c->nsteps, 4);
		assert_exits(c, 1, "exits_cr3", NULL);
		assert_exits(c, 2, NULL);
		assert_exits(c, 3, "exits_cr3", NULL);
		assert_exits(c, 4, NULL);
		assert_int_equal(c->total.root_cache_hits, 2);
		assert_int_equal(
		    count(c, 0, TR_VMM_OP, "CR3 load served by the previous-root cache"), 2);
		assert_int_equal(count(c, 0, TR_VMM_OP, "shadow page created"), 0);
		assert_int_equal(count(c, 0, TR_TLB_FLUSH, "world-switch flush"), vpid ? 0 : 2);
		assert_shape(c, 1, "RX");
		assert_shape(c, 2, "ML");
		assert_shape(c, 4, vpid ? "" : "ML");
		assert_int_equal(c->total.tlb_misses, vpid ? 1 : 2);
		free(c);
	}
	struct vm_config cfg = scn_config("shadow");
	cfg.shadow_roots = 0;
	struct coll *c = collect_cfg("cr3-switch", &cfg);
	assert_exits(c, 0, "exits_cr3", "exits_cr3", NULL);
	assert_int_equal(c->total.root_cache_hits, 0);
	assert_int_equal(count(c, 0, TR_VMM_OP, "CR3 load: shadow root looked up or built"), 2);
	assert_int_equal(count(c, 0, TR_VMM_OP, "shadow page created"), 0);
	free(c);
}

/*
 * cr3-switch, native and nested: MOV to CR3 does not exit, so no world
 * switch happens during the steps and nothing is flushed. The PCID
 * no-flush loads keep both processes' entries: no TLB miss, except in
 * nested mode with VPID off, where the EPT violations of the setup (the
 * first touches of process 2's frames) flushed the TLB after the pages
 * were written: one miss in each load step.
 */
static void test_cr3_switch_native_nested(void **state)
{
	(void)state;
	const char *modes[] = {"native", "nested"};
	for (int m = 0; m < 2; m++) {
		for (int vpid = 1; vpid >= 0; vpid--) {
			struct vm_config cfg = scn_config(modes[m]);
			cfg.vpid = vpid;
			struct coll *c = collect_cfg("cr3-switch", &cfg);
			assert_exits(c, 0, NULL);
			assert_int_equal(count(c, 0, TR_GUEST_OP, "mov cr3 (no flush)"), 2);
			assert_int_equal(count(c, 0, TR_TLB_FLUSH, NULL), 0);
			assert_int_equal(c->delta[2].tlb_misses, m == 1 && !vpid ? 1 : 0);
			assert_int_equal(c->delta[4].tlb_misses, m == 1 && !vpid ? 1 : 0);
			free(c);
		}
	}
}

/* ---- pt-write ---- */

/*
 * pt-write, shadow. Step 1 is mprotect of 2 pages to read-only: two PTE
 * stores, then two INVLPGs.
 *   eager:  each PTE store traps and is emulated (exits_pt_write 2), then
 *           two INVLPG exits;
 *   unsync: the first store traps once and the leaf table goes out of sync
 *           (exits_pt_write 1); the second store goes straight to memory;
 *           each INVLPG exit resyncs the one entry (2 resync events).
 * Step 3 makes the pages writable again: in eager, the third emulated
 * store without use floods the table and unshadows it, so the next store
 * meets the still read-only direct-map spte (hidden fault); in unsync, the
 * stores do not trap at all and each INVLPG resyncs one entry.
 */
static void test_pt_write_shadow(void **state)
{
	(void)state;
	struct vm_config cfg = scn_config("shadow");
	cfg.shadow_sync = SYNC_EAGER;
	struct coll *c = collect_cfg("pt-write", &cfg);
	assert_exits(c, 1, "exits_pt_write", "exits_pt_write", "exits_invlpg", "exits_invlpg",
		     NULL);
	assert_exits(c, 2, NULL);
	assert_exits(c, 3, "exits_pt_write", "exits_hidden_fault", "exits_invlpg", "exits_invlpg",
		     NULL);
	assert_int_equal(count(c, 3, TR_VMM_OP, "unshadow (write flood)"), 1);
	assert_int_equal(c->total.resyncs, 0);
	assert_true(c->total.exits_pt_write > 0);
	free(c);

	cfg.shadow_sync = SYNC_UNSYNC;
	c = collect_cfg("pt-write", &cfg);
	assert_exits(c, 1, "exits_pt_write", "exits_invlpg", "exits_invlpg", NULL);
	assert_int_equal(count(c, 1, TR_VMM_OP, "shadow page goes out of sync"), 1);
	assert_int_equal(count(c, 1, TR_GUEST_OP, "guest pte write"), 2);
	assert_int_equal(count(c, 1, TR_VMM_OP, "resync of one entry (INVLPG"), 2);
	assert_exits(c, 3, "exits_invlpg", "exits_invlpg", NULL);
	assert_int_equal(count(c, 3, TR_VMM_OP, "resync of one entry (INVLPG"), 2);
	assert_int_equal(c->total.resyncs, 4);
	assert_int_equal(c->total.exits_pt_write, 1);
	free(c);
}

/* pt-write, native and nested: the same four PTE stores and two INVLPGs
 * pairs happen, and nothing traps. */
static void test_pt_write_no_trap(void **state)
{
	(void)state;
	const char *modes[] = {"native", "nested"};
	for (int m = 0; m < 2; m++) {
		struct coll *c = collect("pt-write", modes[m]);
		assert_exits(c, 0, NULL);
		assert_int_equal(count(c, 0, TR_GUEST_OP, "guest pte write"), 4);
		assert_int_equal(count(c, 0, TR_GUEST_OP, "invlpg"), 4);
		assert_int_equal(count(c, 0, TR_VMM_OP, NULL), 0);
		free(c);
	}
}

/* ---- munmap ---- */

/*
 * munmap. Step 1 unmaps 2 pages: two PTE clears and two INVLPG events in
 * every mode. Only shadow paging intercepts INVLPG (exits_invlpg 2); native
 * and nested run it without an exit. Step 3 unmaps 34 pages, more than
 * --invlpg-threshold (33): the guest flushes its PCID once instead (in
 * shadow, a CR-access exit).
 *   shadow, unsync (default): the setup's demand faults left the leaf table
 *     unsync, so the PTE clears do not trap; each INVLPG resyncs its entry;
 *     the flush resyncs the table (reachable from the root) and
 *     write-protects it again;
 *   shadow, eager: the PTE clears of step 1 are emulated before the INVLPG
 *     exits; in step 3 the third emulated store floods the leaf table,
 *     then one hidden fault makes the direct-map spte of the table frame
 *     writable again.
 */
static void test_munmap(void **state)
{
	(void)state;
	const char *modes[] = {"native", "shadow", "nested"};
	for (int m = 0; m < 3; m++) {
		struct coll *c = collect("munmap", modes[m]);
		assert_int_equal(c->nsteps, 3);
		assert_int_equal(count(c, 1, TR_GUEST_OP, "invlpg"), 2);
		assert_int_equal(count(c, 1, TR_GUEST_OP, "guest pte write"), 2);
		assert_int_equal(count(c, 3, TR_GUEST_OP, "invlpg"), 0);
		assert_int_equal(count(c, 3, TR_GUEST_OP, "tlb flush (pcid)"), 1);
		assert_int_equal(count(c, 3, TR_GUEST_OP, "guest pte write"), 34);
		assert_int_equal(c->total.invlpgs, 2);
		if (m == 1) {
			assert_exits(c, 1, "exits_invlpg", "exits_invlpg", NULL);
			assert_exits(c, 2, NULL);
			assert_exits(c, 3, "exits_cr3", NULL);
			assert_int_equal(count(c, 1, TR_VMM_OP, "resync of one entry"), 2);
			assert_int_equal(count(c, 3, TR_VMM_OP, "resync (page back in sync)"), 1);
			assert_int_equal(c->total.resyncs, 3);
			assert_int_equal(c->total.exits_invlpg, 2);
			free(c);
			struct vm_config cfg = scn_config("shadow");
			cfg.shadow_sync = SYNC_EAGER;
			c = collect_cfg("munmap", &cfg);
			assert_exits(c, 1, "exits_pt_write", "exits_pt_write", "exits_invlpg",
				     "exits_invlpg", NULL);
			assert_exits(c, 2, NULL);
			assert_exits(c, 3, "exits_pt_write", "exits_hidden_fault", "exits_cr3",
				     NULL);
			assert_int_equal(c->total.exits_invlpg, 2);
		} else {
			assert_exits(c, 0, NULL);
			assert_int_equal(c->total.exits_invlpg, 0);
		}
		free(c);
	}
}

/* ---- fork ---- */

/*
 * fork of a process with 16 written pages in one leaf table, under each
 * mode. In every mode the guest kernel makes the same 36 page-table
 * stores in step 1: the child's top-level kernel entry, three links, and
 * 2 x 16 leaf entries (the parent's made read-only, the child's written).
 * What they cost differs:
 *   pv, batched: 7 hypercalls: pin the child's root (1 mmuext), 4 single
 *     mmu_updates, the 32 leaf updates in one call (one batch of one kind
 *     goes out as that call alone, Linux's singleton bypass), and the
 *     parent's PCID flush (1 mmuext); 4 tables validated (root + 3);
 *   pv, unbatched: 38 hypercalls (6 + 32), no lazy-MMU section;
 *   shadow, eager: the stores to the parent's shadowed leaf table trap:
 *     three emulated writes, then the table is unshadowed (flooding);
 *   shadow, unsync: the leaf table is already out of sync: no trap;
 *   nested: no store exits; the 4 exits are EPT violations of the 4 new
 *     table frames;
 *   native: nothing but the stores.
 * Step 2, the parent's copy-on-write store, is 2 hypercalls under pv (the
 * PTE, then the INVLPG).
 */
static void test_fork(void **state)
{
	(void)state;
	static const char *const modes[] = {"native", "shadow", "nested", "pv"};
	for (int m = 0; m < 4; m++) {
		struct coll *c = collect("fork", modes[m]);
		assert_int_equal(c->nsteps, 2);
		assert_int_equal(count(c, 1, TR_GUEST_OP, "guest pte write"), 36);
		if (m != 3)
			assert_int_equal(c->total.hypercalls, 0);
		if (m == 0)
			assert_exits(c, 0, NULL);
		if (m == 1) {
			assert_int_equal(c->delta[1].exits_pt_write, 0);
			assert_int_equal(c->delta[1].resyncs, 1);
		}
		if (m == 2) {
			assert_exits(c, 1, "exits_ept_violation", "exits_ept_violation",
				     "exits_ept_violation", "exits_ept_violation", NULL);
			assert_int_equal(c->total.vm_exits, c->total.exits_ept_violation);
		}
		if (m == 3) {
			assert_exits(c, 0, NULL);
			assert_int_equal(c->delta[1].hypercalls, 7);
			assert_int_equal(count(c, 1, TR_VMM_OP, "hypercall "), 7);
			assert_int_equal(count(c, 1, TR_VMM_OP, "hypercall multicall"), 0);
			assert_int_equal(count(c, 1, TR_VMM_OP, "mmu_update validated"), 36);
			assert_int_equal(count(c, 1, TR_VMM_OP, "table validated"), 4);
			assert_int_equal(count(c, 1, TR_GUEST_OP, "lazy mmu enter"), 1);
			assert_int_equal(count(c, 1, TR_GUEST_OP, "lazy mmu leave"), 1);
			assert_int_equal(c->delta[1].pv_batches, 1);
			assert_int_equal(c->delta[1].pv_pt_updates, 36);
			assert_int_equal(c->delta[1].pv_mmuext_ops, 2);
			assert_int_equal(c->delta[2].hypercalls, 2);
		}
		free(c);
	}
	struct vm_config cfg = scn_config("pv");
	cfg.pv_batch = false;
	struct coll *c = collect_cfg("fork", &cfg);
	assert_int_equal(c->delta[1].hypercalls, 38);
	assert_int_equal(c->delta[1].pv_batches, 0);
	assert_int_equal(count(c, 1, TR_GUEST_OP, "lazy mmu enter"), 0);
	free(c);
	cfg = scn_config("shadow");
	cfg.shadow_sync = SYNC_EAGER;
	c = collect_cfg("fork", &cfg);
	assert_exits(c, 1, "exits_hidden_fault", "exits_hidden_fault", "exits_hidden_fault",
		     "exits_hidden_fault", "exits_pt_write", "exits_pt_write", "exits_pt_write",
		     "exits_hidden_fault", "exits_cr3", NULL);
	assert_int_equal(c->delta[1].unshadows, 1);
	free(c);

	/* The narration tells the batch as one call. */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	struct stats t;
	char err[256];
	cfg = scn_config("pv");
	assert_int_equal(scenario_narrate(f, "fork", &cfg, 0, &t, err, sizeof(err)), 0);
	fclose(f);
	assert_non_null(strstr(text, "hypercall mmu_update: 32 updates in one trap"));
	assert_non_null(strstr(text, "queued in the lazy-MMU batch"));
	assert_non_null(strstr(text, "hypercalls       9 (37 page-table updates"));
	assert_null(strstr(text, "VM exit,"));
	free(text);
}

/* ---- ept-violation ---- */

/* EPT-violation qualification bit 8 (SDM Vol. 3C table 28-7). */
#define QUAL_FINAL (UINT64_C(1) << 8)

static int violations(const struct coll *c, int step, bool final)
{
	int n = 0;
	for (int i = 0; i < c->n; i++) {
		const struct rec *r = &c->ev[i];
		if (r->step == step && r->kind == TR_WALK_DONE && r->dim == DIM_HOST && r->what &&
		    strncmp(r->what, "EPT violation", 13) == 0 &&
		    ((r->result & QUAL_FINAL) != 0) == final)
			n++;
	}
	return n;
}

/*
 * ept-violation, nested. Right after boot the EPT is empty.
 * Step 1, creating process 1: the kernel zeroes the new top table through
 * the direct map. The 2D walk of that kva reads the kernel's top table,
 * PDPT and PD: each is a guest page-table access to an unmapped gPA
 * (3 violations with bit 8 clear); then the data gPA of the new frame
 * (1 violation, bit 8 set). Step 2, the first store to a fresh page: the
 * guest kernel zeroes a new PDPT, PD, PT and data frame, each a first
 * touch of its gPA through the direct map: 4 violations on the final gPA.
 * The page-table walks that follow find those frames mapped. Step 3: none.
 * Every exit is an EPT violation, and each is traced with its
 * qualification before the VMM's handler events.
 */
static void test_ept_violation_nested(void **state)
{
	(void)state;
	struct coll *c = collect("ept-violation", "nested");
	assert_int_equal(c->nsteps, 3);
	assert_int_equal(violations(c, 1, false), 3);
	assert_int_equal(violations(c, 1, true), 1);
	assert_exits(c, 1, "exits_ept_violation", "exits_ept_violation", "exits_ept_violation",
		     "exits_ept_violation", NULL);
	assert_int_equal(count(c, 1, TR_VMM_OP, "EPT violation handled (guest page-table access)"),
			 3);
	assert_int_equal(violations(c, 2, false), 0);
	assert_int_equal(violations(c, 2, true), 4);
	assert_exits(c, 2, "exits_ept_violation", "exits_ept_violation", "exits_ept_violation",
		     "exits_ept_violation", NULL);
	assert_exits(c, 3, NULL);
	assert_int_equal(c->total.vm_exits, c->total.exits_ept_violation);
	assert_int_equal(c->total.guest_faults, 1);
	free(c);
}

/* ept-violation, native and shadow: there is no EPT, so no violation; the
 * same first touches are plain (native) or hidden faults (shadow). */
static void test_ept_violation_other_modes(void **state)
{
	(void)state;
	struct coll *c = collect("ept-violation", "native");
	assert_exits(c, 0, NULL);
	assert_int_equal(violations(c, 1, false) + violations(c, 1, true), 0);
	free(c);
	c = collect("ept-violation", "shadow");
	assert_int_equal(c->total.exits_ept_violation, 0);
	assert_true(c->total.exits_hidden_fault > 0);
	assert_int_equal(violations(c, 1, false) + violations(c, 2, true), 0);
	free(c);
}

/* ---- the runner and the CLI ---- */

/* The same scenario twice gives the same events with the same values. */
static void test_deterministic(void **state)
{
	(void)state;
	for (size_t k = 0; k < scenario_count; k++) {
		struct coll *a = collect(scenario_list[k].name, "shadow");
		struct coll *b = collect(scenario_list[k].name, "shadow");
		assert_int_equal(a->n, b->n);
		for (int i = 0; i < a->n; i++) {
			assert_int_equal(a->ev[i].kind, b->ev[i].kind);
			assert_int_equal(a->ev[i].result, b->ev[i].result);
			assert_int_equal(a->ev[i].addr, b->ev[i].addr);
		}
		assert_int_equal(stats_est_cycles(&a->total), stats_est_cycles(&b->total));
		free(a);
		free(b);
	}
}

static void test_unknown(void **state)
{
	(void)state;
	struct vm_config cfg = scn_config("native");
	struct stats t;
	char err[256];
	assert_false(scenario_exists("no-such-thing"));
	assert_int_equal(scenario_run("no-such-thing", &cfg, NULL, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no-such-thing"));
	char *argv[] = {"explain", "--scenario", "no-such-thing", "--mode", "native", NULL};
	assert_int_equal(scenario_main(5, argv), 2);
	char *argv2[] = {"explain", "--scenario", "first-touch", "--mode", "bogus", NULL};
	assert_int_equal(scenario_main(5, argv2), 2);
	char *argv3[] = {"explain", "--scenario", "first-touch", "--bogus", NULL};
	assert_int_equal(scenario_main(4, argv3), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_first_touch_native),
	    cmocka_unit_test(test_first_touch_shadow),
	    cmocka_unit_test(test_first_touch_nested),
	    cmocka_unit_test(test_cow_write),
	    cmocka_unit_test(test_cr3_switch_shadow),
	    cmocka_unit_test(test_cr3_switch_native_nested),
	    cmocka_unit_test(test_pt_write_shadow),
	    cmocka_unit_test(test_pt_write_no_trap),
	    cmocka_unit_test(test_munmap),
	    cmocka_unit_test(test_fork),
	    cmocka_unit_test(test_ept_violation_nested),
	    cmocka_unit_test(test_ept_violation_other_modes),
	    cmocka_unit_test(test_deterministic),
	    cmocka_unit_test(test_unknown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

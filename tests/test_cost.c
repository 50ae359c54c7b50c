/*
 * test_cost.c - unit tests of the cost model (cost.c) and the statistics
 * helpers (stats.c).
 *
 * The page-table line cache tests compute their expectations from the
 * geometry, which the first test pins down exactly:
 *
 *   level  sets  ways  lines   bytes    set of line number n
 *   L1       64     4    256   16 KiB   n mod 64
 *   L2     1024     2   2048  128 KiB   n mod 1024
 *   LLC    2048     8  16384    1 MiB   n mod 2048
 *
 * Addresses are host-physical; line n is the 64 bytes at n * 64. Lines whose
 * numbers differ by a multiple of 1024 share an L1 set and an L2 set; by a
 * multiple of 2048, also an LLC set.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/core/cost.h"
#include "../src/core/stats.h"

#define LINE(n) ((uint64_t)(n)*64)

/* ---- fixtures ------------------------------------------------------------ */

static int ptc_setup(void **state)
{
	struct ptcache *p = malloc(sizeof(*p));

	if (p == NULL || ptcache_init(p) != 0) {
		free(p);
		return -1;
	}
	*state = p;
	return 0;
}

static int ptc_teardown(void **state)
{
	ptcache_destroy(*state);
	free(*state);
	return 0;
}

/* ---- cost model ---------------------------------------------------------- */

static void test_defaults_exact(void **state)
{
	struct cost_model c;

	(void)state;
	memset(&c, 0xa5, sizeof(c)); /* sentinel: every field must be written */
	cost_defaults(&c);
	assert_int_equal(c.access, 4);
	assert_int_equal(c.ref_pwc, 1);
	assert_int_equal(c.ref_l1, 4);
	assert_int_equal(c.ref_l2, 14);
	assert_int_equal(c.ref_llc, 54);
	assert_int_equal(c.ref_dram, 200);
	assert_int_equal(c.pf_delivery, 710);
	assert_int_equal(c.pf_handler, 2500);
	assert_int_equal(c.page_zero, 1024);
	assert_int_equal(c.page_copy, 2048);
	assert_int_equal(c.vmexit, 1350);
	assert_int_equal(c.vmm_hidden_fault, 6037);
	assert_int_equal(c.vmm_pt_write, 6037);
	assert_int_equal(c.vmm_cr3, 500);   /* fast path: 10 spte-sized steps */
	assert_int_equal(c.vmm_invlpg, 250); /* fast path: 5 spte-sized steps */
	assert_int_equal(c.vmm_dirty, 6037);
	assert_int_equal(c.vmm_inject, 6037);
	assert_int_equal(c.vmm_resync, 500);
	assert_int_equal(c.vmm_spte, 50);
	assert_int_equal(c.vmm_ept_violation, 6037);
	assert_int_equal(c.tlb_flush, 251);
	assert_int_equal(c.invlpg, 237);
	assert_int_equal(c.cr3_load, 251);
}

/* The calibration stated in docs/cost-model.md: a typical shadow guest
 * fault (4 exits, 9 sptes) costs Wang et al.'s 10 us at 3.0 GHz, less the
 * rounding of the integer division (at most 3 cycles). */
static void test_shadow_calibration(void **state)
{
	struct cost_model c;

	(void)state;
	cost_defaults(&c);
	uint32_t per_fault = c.vmexit + c.vmm_inject + c.vmexit + c.vmm_pt_write + c.vmexit +
			     c.vmm_hidden_fault + c.vmexit + c.vmm_dirty + 9 * c.vmm_spte;
	assert_int_equal(per_fault, 29998);
}

static void test_ref_latency(void **state)
{
	struct cost_model c;

	(void)state;
	cost_defaults(&c);
	assert_int_equal(cost_ref_latency(&c, 1), 4);
	assert_int_equal(cost_ref_latency(&c, 2), 14);
	assert_int_equal(cost_ref_latency(&c, 3), 54);
	assert_int_equal(cost_ref_latency(&c, 4), 200);
	/* It reads the model, not constants. */
	c.ref_l2 = 17;
	assert_int_equal(cost_ref_latency(&c, 2), 17);
}

/* ---- page-table line cache ----------------------------------------------- */

static void test_ptc_geometry(void **state)
{
	struct ptcache *p = *state;

	assert_int_equal(p->lvl[0].sets, 64);
	assert_int_equal(p->lvl[0].ways, 4);
	assert_int_equal(p->lvl[1].sets, 1024);
	assert_int_equal(p->lvl[1].ways, 2);
	assert_int_equal(p->lvl[2].sets, 2048);
	assert_int_equal(p->lvl[2].ways, 8);
	for (int i = 0; i < 4; i++)
		assert_int_equal(p->hits[i], 0);
}

static void test_ptc_first_touch_and_retouch(void **state)
{
	struct ptcache *p = *state;
	uint64_t a = UINT64_C(0x12345000) + 8 * 17; /* an entry inside some table */

	assert_int_equal(ptcache_access(p, a), 4); /* cold: DRAM */
	assert_int_equal(ptcache_access(p, a), 1); /* now in L1 */
	/* Same 64-byte line, other entries. */
	assert_int_equal(ptcache_access(p, a & ~UINT64_C(63)), 1);
	assert_int_equal(ptcache_access(p, (a & ~UINT64_C(63)) + 63), 1);
	/* The next line is a different line. */
	assert_int_equal(ptcache_access(p, (a & ~UINT64_C(63)) + 64), 4);
	assert_int_equal(p->hits[0], 3);
	assert_int_equal(p->hits[1], 0);
	assert_int_equal(p->hits[2], 0);
	assert_int_equal(p->hits[3], 2);
}

/* Fill 257 consecutive lines: L1 set 0 receives lines 0, 64, 128, 192, 256,
 * five lines for four ways, so line 0 (the oldest) leaves L1. L2 has 1024
 * sets, one line each here, so line 0 is still in L2. */
static void test_ptc_l1_eviction_hits_l2(void **state)
{
	struct ptcache *p = *state;
	uint32_t l1_lines = p->lvl[0].sets * p->lvl[0].ways;

	assert_int_equal(l1_lines, 256);
	for (uint32_t n = 0; n <= l1_lines; n++)
		assert_int_equal(ptcache_access(p, LINE(n)), 4);
	assert_int_equal(ptcache_access(p, LINE(0)), 2);
	assert_int_equal(ptcache_access(p, LINE(0)), 1); /* refilled into L1 */
	/* Line 64 was the next oldest in set 0 and was evicted by line 0's
	 * return; line 1 (set 1: lines 1, 65, 129, 193) never left L1. */
	assert_int_equal(ptcache_access(p, LINE(64)), 2);
	assert_int_equal(ptcache_access(p, LINE(1)), 1);
	assert_int_equal(p->hits[0], 2);
	assert_int_equal(p->hits[1], 2);
	assert_int_equal(p->hits[2], 0);
	assert_int_equal(p->hits[3], 257);
}

/* Replacement is LRU, not FIFO: touching the oldest line saves it. */
static void test_ptc_lru_not_fifo(void **state)
{
	struct ptcache *p = *state;

	/* L1 set 0, four ways: lines 0, 64, 128, 192. */
	for (uint32_t n = 0; n < 256; n += 64)
		assert_int_equal(ptcache_access(p, LINE(n)), 4);
	assert_int_equal(ptcache_access(p, LINE(0)), 1);   /* 0 becomes MRU */
	assert_int_equal(ptcache_access(p, LINE(256)), 4); /* evicts 64, the LRU */
	assert_int_equal(ptcache_access(p, LINE(0)), 1);
	assert_int_equal(ptcache_access(p, LINE(64)), 2); /* still in L2 */
}

/* Lines 0, 1024, 2048, 3072, 4096 share L1 set 0 (4 ways) and L2 set 0
 * (2 ways); in the LLC they alternate between sets 0 and 1024 (8 ways each).
 * After all five, line 0 has left L1 and L2 but not the LLC. */
static void test_ptc_llc_hit(void **state)
{
	struct ptcache *p = *state;

	for (uint32_t k = 0; k < 5; k++)
		assert_int_equal(ptcache_access(p, LINE(k * 1024)), 4);
	assert_int_equal(ptcache_access(p, LINE(0)), 3);
	assert_int_equal(ptcache_access(p, LINE(0)), 1);
	/* Line 1024 left L2 (which kept 3072 and 4096, then 0 evicted 3072)
	 * and L1 (0 evicted it): served by the LLC. */
	assert_int_equal(ptcache_access(p, LINE(1024)), 3);
	assert_int_equal(p->hits[2], 2);
}

/* Nine lines 2048 apart share a set in every level; the LLC set has 8 ways,
 * so line 0 leaves the whole hierarchy. */
static void test_ptc_llc_eviction_goes_to_dram(void **state)
{
	struct ptcache *p = *state;
	uint32_t llc_ways = p->lvl[2].ways;

	for (uint32_t k = 0; k <= llc_ways; k++)
		assert_int_equal(ptcache_access(p, LINE(k * 2048)), 4);
	assert_int_equal(ptcache_access(p, LINE(0)), 4);
	/* Line 2048 was evicted by line 0's return; line 8 * 2048 is the MRU
	 * line before that, still in L1. */
	assert_int_equal(ptcache_access(p, LINE(llc_ways * 2048)), 1);
	assert_int_equal(ptcache_access(p, LINE(2048)), 4);
}

/* The 32-bit clock wraps every 2^32 accesses; the stamps are renumbered
 * then, and replacement must not change. */
static void test_ptc_clock_wrap(void **state)
{
	struct ptcache *p = *state;

	p->clock = UINT32_MAX - 3;
	/* Lines 0, 64, 128 take the last three stamps; line 192 wraps the clock. */
	for (uint32_t n = 0; n < 256; n += 64)
		assert_int_equal(ptcache_access(p, LINE(n)), 4);
	assert_true(p->clock < 64);			   /* it wrapped and was renumbered */
	assert_int_equal(ptcache_access(p, LINE(0)), 1);   /* 0 becomes MRU */
	assert_int_equal(ptcache_access(p, LINE(256)), 4); /* evicts 64 */
	assert_int_equal(ptcache_access(p, LINE(0)), 1);
	assert_int_equal(ptcache_access(p, LINE(128)), 1);
	assert_int_equal(ptcache_access(p, LINE(64)), 2);
}

static void test_ptc_destroy_twice(void **state)
{
	struct ptcache p;

	(void)state;
	assert_int_equal(ptcache_init(&p), 0);
	assert_int_equal(ptcache_access(&p, 0), 4);
	ptcache_destroy(&p);
	assert_null(p.lvl[0].tag);
	assert_int_equal(p.hits[3], 0);
	ptcache_destroy(&p);
}

/* ---- statistics ---------------------------------------------------------- */

/* A consistent set of counters with non-zero sentinels everywhere. */
static void stats_consistent(struct stats *s)
{
	memset(s, 0, sizeof(*s));
	s->accesses = 1000003;
	s->user_accesses = 900001;
	s->tlb_hits = 990001;
	s->tlb_misses = 10002;
	s->l2_tlb_hits = 7001;
	s->walks = 10002;
	s->walk_refs = 240048;
	s->walks_user = 9001;
	s->walk_refs_user = 216024;
	s->exits_hidden_fault = 11;
	s->exits_pt_write = 13;
	s->exits_cr3 = 17;
	s->exits_invlpg = 19;
	s->exits_dirty = 23;
	s->exits_fault_inject = 29;
	s->exits_ept_violation = 31;
	s->exits_ept_misconfig = 37;
	s->vm_exits = 11 + 13 + 17 + 19 + 23 + 29 + 31 + 37;
	s->walk_refs_guest = 40008;
	s->walk_refs_host = 200040;
}

static void test_est_cycles_sums_parts(void **state)
{
	struct stats s;

	(void)state;
	stats_consistent(&s);
	s.cyc_access = 1;
	s.cyc_walk = 20;
	s.cyc_exit = 300;
	s.cyc_vmm = 4000;
	s.cyc_guest = 50000;
	s.cyc_flush = 600000;
	assert_int_equal(stats_est_cycles(&s), 654321);

	/* Nothing but the cyc_* parts counts. */
	memset(&s, 0xff, sizeof(s));
	s.cyc_access = s.cyc_walk = s.cyc_exit = s.cyc_vmm = s.cyc_guest = s.cyc_flush = 0;
	assert_int_equal(stats_est_cycles(&s), 0);

	/* 64-bit sums. */
	memset(&s, 0, sizeof(s));
	s.cyc_walk = UINT64_C(1) << 40;
	s.cyc_vmm = UINT64_C(3) << 40;
	assert_int_equal(stats_est_cycles(&s), UINT64_C(4) << 40);
}

static void test_check_passes_consistent(void **state)
{
	struct stats s;

	(void)state;
	stats_consistent(&s);
	assert_null(stats_check(&s, true));
	assert_null(stats_check(&s, false));
	memset(&s, 0, sizeof(s));
	assert_null(stats_check(&s, true));
}

static void test_check_catches_each_invariant(void **state)
{
	struct stats s;

	(void)state;
	stats_consistent(&s);
	s.user_accesses = s.accesses + 1;
	assert_string_equal(stats_check(&s, false), "user_accesses<=accesses");

	stats_consistent(&s);
	s.walks_user = s.walks + 1;
	assert_string_equal(stats_check(&s, false), "walks_user<=walks");

	stats_consistent(&s);
	s.walk_refs_user = s.walk_refs + 1;
	assert_string_equal(stats_check(&s, false), "walk_refs_user<=walk_refs");

	stats_consistent(&s);
	s.vm_exits++; /* an exit counted under no reason */
	assert_string_equal(stats_check(&s, false), "vm_exits==sum(exits_*)");

	stats_consistent(&s);
	s.exits_fault_inject++; /* an injecting exit not counted in vm_exits */
	assert_string_equal(stats_check(&s, true), "vm_exits==sum(exits_*)");

	/* Guest + host references only have to add up in nested mode. */
	stats_consistent(&s);
	s.walk_refs_host--;
	assert_string_equal(stats_check(&s, true), "walk_refs==walk_refs_guest+walk_refs_host");
	assert_null(stats_check(&s, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults_exact),
	    cmocka_unit_test(test_shadow_calibration),
	    cmocka_unit_test(test_ref_latency),
	    cmocka_unit_test_setup_teardown(test_ptc_geometry, ptc_setup, ptc_teardown),
	    cmocka_unit_test_setup_teardown(test_ptc_first_touch_and_retouch, ptc_setup,
					    ptc_teardown),
	    cmocka_unit_test_setup_teardown(test_ptc_l1_eviction_hits_l2, ptc_setup, ptc_teardown),
	    cmocka_unit_test_setup_teardown(test_ptc_lru_not_fifo, ptc_setup, ptc_teardown),
	    cmocka_unit_test_setup_teardown(test_ptc_llc_hit, ptc_setup, ptc_teardown),
	    cmocka_unit_test_setup_teardown(test_ptc_llc_eviction_goes_to_dram, ptc_setup,
					    ptc_teardown),
	    cmocka_unit_test_setup_teardown(test_ptc_clock_wrap, ptc_setup, ptc_teardown),
	    cmocka_unit_test(test_ptc_destroy_twice),
	    cmocka_unit_test(test_est_cycles_sums_parts),
	    cmocka_unit_test(test_check_passes_consistent),
	    cmocka_unit_test(test_check_catches_each_invariant),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

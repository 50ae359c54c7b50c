/*
 * test_psc.c - unit tests of the 1D paging-structure caches (src/tlb/psc.c).
 *
 * Each test builds a struct psc with psc_init() and asserts exact lookup
 * results (level, next table, permissions), exact counters and, through
 * count_valid(), the exact number of entries each flush leaves. The
 * teardown checks the invariants of psc.c by brute force.
 *
 * Fixture values are non-zero sentinels: next tables are 0x5a5aL000 where L
 * is the level of the cached entry, so a wrong level shows in the value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/tlb/psc.h"
#include "../src/core/mmu.h"

#define VA_MASK57 ((UINT64_C(1) << 57) - 1)
#define PERMS_ALL (TLBF_W | TLBF_U | TLBF_NX)

/* The next-table sentinel of an entry at 'level' (distinct per level). */
#define TABLE(level) (UINT64_C(0x5a5a0000) + (uint64_t)(level)*0x1000)

/* ---- fixtures ---- */

/* Every level enabled; level 2 has two entries so that LRU shows. */
static const uint32_t n_small[MAX_LEVELS + 1] = {0, 0, 2, 4, 2, 2};

static int setup_small(void **state)
{
	struct psc *p = calloc(1, sizeof(*p));

	if (!p || psc_init(p, n_small) != 0) {
		free(p);
		return -1;
	}
	*state = p;
	return 0;
}

/* Brute-force check of the invariants of psc.c; NULL or the one violated. */
static const char *psc_check(const struct psc *p)
{
	for (int l = 0; l <= MAX_LEVELS; l++) {
		if (l < 2 && (p->lvl[l] || p->n[l]))
			return "no cache below level 2";
		if ((p->n[l] == 0) != (p->lvl[l] == NULL))
			return "n[level] == 0 iff no array";
		for (uint32_t i = 0; i < p->n[l]; i++) {
			const struct psc_entry *x = &p->lvl[l][i];

			if (!x->valid)
				continue;
			if (x->perms & ~PERMS_ALL)
				return "perms hold W, U and NX only";
			if (x->stamp == 0 || x->stamp > p->clock)
				return "stamp within the clock";
			for (uint32_t j = i + 1; j < p->n[l]; j++) {
				const struct psc_entry *y = &p->lvl[l][j];

				if (!y->valid)
					continue;
				if (x->stamp == y->stamp)
					return "stamps distinct in a level";
				if (x->tag == y->tag && x->vpid == y->vpid && x->pcid == y->pcid)
					return "(tag, vpid, pcid) at most once per level";
			}
		}
	}
	return NULL;
}

static int teardown(void **state)
{
	struct psc *p = *state;
	const char *why = psc_check(p);

	psc_destroy(p);
	free(p);
	if (why)
		fail_msg("invariant violated at teardown: %s", why);
	return 0;
}

/* ---- helpers ---- */

static uint32_t count_valid(const struct psc *p, int level)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < p->n[level]; i++)
		n += p->lvl[level][i].valid;
	return n;
}

static uint32_t count_all(const struct psc *p)
{
	uint32_t n = 0;

	for (int l = 2; l <= MAX_LEVELS; l++)
		n += count_valid(p, l);
	return n;
}

/* psc_lookup() returning the level only; checks that a miss leaves the
 * outputs untouched. */
static int lookup(struct psc *p, gva_t va, int top, uint16_t vpid, uint16_t pcid)
{
	uint64_t table = 0x1;
	uint8_t perms = 0xff;
	int l = psc_lookup(p, va, top, vpid, pcid, &table, &perms);

	if (l == 0) {
		/* A miss leaves the outputs alone. */
		assert_int_equal(table, 0x1);
		assert_int_equal(perms, 0xff);
	}
	return l;
}

/* ---- tests ---- */

static void test_init_rejects_leaf_levels(void **state)
{
	(void)state;
	struct psc p;
	uint32_t n[MAX_LEVELS + 1] = {0, 4, 4, 4, 2, 2};

	memset(&p, 0x5a, sizeof(p));
	assert_int_equal(psc_init(&p, n), -1);
	for (int l = 0; l <= MAX_LEVELS; l++)
		assert_null(p.lvl[l]);
	psc_destroy(&p);

	n[1] = 0;
	n[0] = 1;
	assert_int_equal(psc_init(&p, n), -1);
	psc_destroy(&p);

	/* Every level disabled: a valid, empty cache. */
	const uint32_t none[MAX_LEVELS + 1] = {0};
	uint64_t table = 0;
	uint8_t perms = 0;

	assert_int_equal(psc_init(&p, none), 0);
	psc_insert(&p, 0x400000, 2, 1, 1, TABLE(2), TLBF_W);
	assert_int_equal(psc_lookup(&p, 0x400000, 4, 1, 1, &table, &perms), 0);
	assert_int_equal(p.fills, 0);
	assert_int_equal(p.misses, 1);
	psc_destroy(&p);
}

/*
 * One walk of 0x00007f1234567000 for (vpid 1, pcid 1) cached at levels 4,
 * 3 and 2 (PML4E, PDPTE, PDE). The lookup must return the lowest level.
 *   level  tag        next table   perms
 *   4      0xfe       0x5a5a4000   W U
 *   3      0x1fc48    0x5a5a3000   W U
 *   2      0x3f891a2  0x5a5a2000   W U NX
 */
static void test_lookup_returns_lowest_level(void **state)
{
	struct psc *p = *state;
	const gva_t va = UINT64_C(0x00007f1234567000);
	uint64_t table = 0;
	uint8_t perms = 0;

	psc_insert(p, va, 4, 1, 1, TABLE(4), TLBF_W | TLBF_U);
	assert_int_equal(psc_lookup(p, va, 4, 1, 1, &table, &perms), 4);
	assert_int_equal(table, TABLE(4));
	assert_int_equal(perms, TLBF_W | TLBF_U);
	/* The PML4E cache is above top = 3. */
	assert_int_equal(lookup(p, va, 3, 1, 1), 0);

	psc_insert(p, va, 3, 1, 1, TABLE(3), TLBF_W | TLBF_U);
	/* Bits beyond W, U and NX are not kept. */
	psc_insert(p, va, 2, 1, 1, TABLE(2), PERMS_ALL | TLBF_G | TLBF_VALID | TLBF_D);
	assert_int_equal(psc_lookup(p, va + 0x123, 4, 1, 1, &table, &perms), 2);
	assert_int_equal(table, TABLE(2));
	assert_int_equal(perms, PERMS_ALL);
	/* top beyond 5 is clamped, top below 2 always misses. */
	assert_int_equal(lookup(p, va, 9, 1, 1), 2);
	assert_int_equal(lookup(p, va, 9, 2, 2), 0);
	assert_int_equal(lookup(p, va, 1, 1, 1), 0);
	assert_int_equal(p->lvl[4][0].tag, 0xfe);
	assert_int_equal(p->lvl[3][0].tag, 0x1fc48);
	assert_int_equal(p->lvl[2][0].tag, 0x3f891a2);

	assert_int_equal(p->hits, 3);
	assert_int_equal(p->misses, 3);
	assert_int_equal(p->fills, 3);
}

/*
 * An entry at level L covers the linear range of its tag:
 *   level 2  0x40200000 .. 0x403fffff            (2M)
 *   level 3  0x40000000 .. 0x7fffffff            (1G)
 *   level 4  0x0000000000 .. 0x7fffffffff        (512G)
 *   level 5  0x000000000000 .. 0xffffffffffff      (256T, LA57)
 * Each is cached for a walk of 0x40312345, so the lowest covering level
 * answers.
 */
static void test_entries_cover_their_range(void **state)
{
	struct psc *p = *state;
	const gva_t va = 0x40312345;

	for (int l = 2; l <= 5; l++)
		psc_insert(p, va, l, 1, 1, TABLE(l), TLBF_W);
	assert_int_equal(lookup(p, 0x40200000, 5, 1, 1), 2);
	assert_int_equal(lookup(p, 0x403fffff, 5, 1, 1), 2);
	assert_int_equal(lookup(p, 0x401fffff, 5, 1, 1), 3);
	assert_int_equal(lookup(p, 0x40400000, 5, 1, 1), 3);
	assert_int_equal(lookup(p, 0x7fffffff, 5, 1, 1), 3);
	assert_int_equal(lookup(p, 0x3fffffff, 5, 1, 1), 4);
	assert_int_equal(lookup(p, 0x80000000, 5, 1, 1), 4);
	assert_int_equal(lookup(p, UINT64_C(0x7fffffffff), 5, 1, 1), 4);
	assert_int_equal(lookup(p, UINT64_C(0x8000000000), 5, 1, 1), 5);
	assert_int_equal(lookup(p, UINT64_C(0x0000ffffffffffff), 5, 1, 1), 5);
	/* With 4-level paging the PML5E cache is not consulted. */
	assert_int_equal(lookup(p, UINT64_C(0x8000000000), 4, 1, 1), 0);
	assert_int_equal(lookup(p, UINT64_C(0x0001000000000000), 5, 1, 1), 0);
	assert_int_equal(p->hits, 10);
	assert_int_equal(p->misses, 2);
}

/* The kernel half: tags use va[56:shift] only, the sign bits above do not
 * count. 0xffff888000000000 has the PML4E tag 0x3ff11. */
static void test_tag_is_canonical_bits(void **state)
{
	struct psc *p = *state;
	const gva_t k = UINT64_C(0xffff888000000000);

	psc_insert(p, k + 0x5000, 4, 0, 0, TABLE(4), TLBF_W);
	assert_int_equal(p->lvl[4][0].tag, 0x3ff11);
	assert_int_equal(p->lvl[4][0].tag, ((k & VA_MASK57) >> 39));
	assert_int_equal(lookup(p, k + UINT64_C(0x7fffffffff), 4, 0, 0), 4);
	assert_int_equal(lookup(p, k + UINT64_C(0x8000000000), 4, 0, 0), 0);
}

/* 0x00400000's PDE cached for (1, 1): (1, 2), (2, 1) and (0, 0) miss. */
static void test_vpid_pcid_isolation(void **state)
{
	struct psc *p = *state;

	psc_insert(p, 0x400000, 2, 1, 1, TABLE(2), TLBF_W);
	assert_int_equal(lookup(p, 0x400000, 4, 1, 2), 0);
	assert_int_equal(lookup(p, 0x400000, 4, 2, 1), 0);
	assert_int_equal(lookup(p, 0x400000, 4, 0, 0), 0);
	assert_int_equal(lookup(p, 0x400000, 4, 1, 1), 2);
	/* Another tag gets its own entry, with its own table. */
	psc_insert(p, 0x400000, 2, 1, 2, TABLE(2) + 0x100000, TLBF_W);
	uint64_t table = 0;
	uint8_t perms = 0;

	assert_int_equal(psc_lookup(p, 0x400000, 4, 1, 2, &table, &perms), 2);
	assert_int_equal(table, TABLE(2) + 0x100000);
	assert_int_equal(count_valid(p, 2), 2);
	assert_int_equal(p->hits, 2);
	assert_int_equal(p->misses, 3);
}

/*
 * Level 2 holds two entries. PDEs of A = 0x00200000, B = 0x00400000,
 * C = 0x00600000: fill A, fill B, hit A, fill C evicts B.
 */
static void lru_scenario(struct psc *p)
{
	psc_insert(p, 0x200000, 2, 1, 1, TABLE(2) + 0xa0000, TLBF_W);
	psc_insert(p, 0x400000, 2, 1, 1, TABLE(2) + 0xb0000, TLBF_W);
	assert_int_equal(lookup(p, 0x200000, 2, 1, 1), 2);
	psc_insert(p, 0x600000, 2, 1, 1, TABLE(2) + 0xc0000, TLBF_W);
	assert_int_equal(lookup(p, 0x400000, 2, 1, 1), 0);
	assert_int_equal(lookup(p, 0x200000, 2, 1, 1), 2);
	assert_int_equal(lookup(p, 0x600000, 2, 1, 1), 2);
	/* Now A is the LRU: D evicts it. */
	psc_insert(p, 0x800000, 2, 1, 1, TABLE(2) + 0xd0000, TLBF_W);
	assert_int_equal(lookup(p, 0x200000, 2, 1, 1), 0);
	assert_int_equal(lookup(p, 0x600000, 2, 1, 1), 2);
	assert_int_equal(count_valid(p, 2), 2);
	assert_int_equal(p->fills, 4);
	assert_int_equal(p->hits, 4);
	assert_int_equal(p->misses, 2);
}

static void test_lru_eviction_order(void **state)
{
	struct psc *p = *state;

	lru_scenario(p);
	assert_int_equal(p->clock, 8);
}

/* The same with the 32-bit clock wrapping after the first fill. */
static void test_lru_survives_clock_wrap(void **state)
{
	struct psc *p = *state;

	p->clock = UINT32_MAX - 1;
	lru_scenario(p);
	/* A renumbered to 1, then seven ticks. */
	assert_int_equal(p->clock, 8);
}

/* Re-filling the same (tag, vpid, pcid) overwrites it in place. */
static void test_insert_replaces_same_tag(void **state)
{
	struct psc *p = *state;
	uint64_t table = 0;
	uint8_t perms = 0;

	psc_insert(p, 0x400000, 3, 1, 1, TABLE(3), TLBF_W | TLBF_U);
	psc_insert(p, 0x3fffffff, 3, 1, 1, TABLE(3) + 0x10000, TLBF_U);
	assert_int_equal(count_valid(p, 3), 1);
	assert_int_equal(psc_lookup(p, 0x400000, 4, 1, 1, &table, &perms), 3);
	assert_int_equal(table, TABLE(3) + 0x10000);
	assert_int_equal(perms, TLBF_U);
	assert_int_equal(p->fills, 2);
}

/* Levels without a cache and leaf levels are never filled. */
static void test_insert_ignores_uncached_levels(void **state)
{
	(void)state;
	const uint32_t n[MAX_LEVELS + 1] = {0, 0, 2, 0, 2, 0};
	struct psc p;

	assert_int_equal(psc_init(&p, n), 0);
	psc_insert(&p, 0x400000, 1, 1, 1, 0x5a5a1000, TLBF_W);
	psc_insert(&p, 0x400000, 3, 1, 1, TABLE(3), TLBF_W);
	psc_insert(&p, 0x400000, 5, 1, 1, TABLE(5), TLBF_W);
	psc_insert(&p, 0x400000, 6, 1, 1, TABLE(5), TLBF_W);
	psc_insert(&p, 0x400000, 0, 1, 1, TABLE(5), TLBF_W);
	assert_int_equal(p.fills, 0);
	assert_int_equal(count_all(&p), 0);
	psc_insert(&p, 0x400000, 4, 1, 1, TABLE(4), TLBF_W);
	assert_int_equal(lookup(&p, 0x400000, 5, 1, 1), 4);
	assert_int_equal(p.fills, 1);
	assert_null(psc_check(&p));
	psc_destroy(&p);
}

/*
 * The flush scenario (every flush test starts from it), roomy geometry,
 * 8 entries, no evictions:
 *   name  VPID PCID level  va            covers
 *   P2    1    1    2      0x00400000    0x00400000..0x005fffff
 *   P3    1    1    3      0x00400000    0x00000000..0x3fffffff
 *   P4    1    1    4      0x00400000    0x0000000000..0x7fffffffff
 *   Q2    1    2    2      0x00400000    (another process, same range)
 *   R2    2    1    2      0x00400000    (another guest)
 *   S3    1    1    3      0x40000000    0x40000000..0x7fffffff
 *   S4    1    2    4      0x40000000    0x0000000000..0x7fffffffff
 *   T5    1    1    5      0x00400000    the lower 256T
 */
static const uint32_t n_roomy[MAX_LEVELS + 1] = {0, 0, 8, 8, 4, 2};

static int setup_roomy(void **state)
{
	struct psc *p = calloc(1, sizeof(*p));

	if (!p || psc_init(p, n_roomy) != 0) {
		free(p);
		return -1;
	}
	*state = p;
	return 0;
}

static void populate(struct psc *p)
{
	psc_insert(p, 0x400000, 2, 1, 1, TABLE(2), TLBF_W);
	psc_insert(p, 0x400000, 3, 1, 1, TABLE(3), TLBF_W);
	psc_insert(p, 0x400000, 4, 1, 1, TABLE(4), TLBF_W);
	psc_insert(p, 0x400000, 2, 1, 2, TABLE(2), TLBF_W);
	psc_insert(p, 0x400000, 2, 2, 1, TABLE(2), TLBF_W);
	psc_insert(p, 0x40000000, 3, 1, 1, TABLE(3), TLBF_W);
	psc_insert(p, 0x40000000, 4, 1, 2, TABLE(4), TLBF_W);
	psc_insert(p, 0x400000, 5, 1, 1, TABLE(5), TLBF_W);
	assert_int_equal(count_all(p), 8);
	assert_int_equal(p->fills, 8);
}

static void test_flush_all(void **state)
{
	struct psc *p = *state;

	populate(p);
	psc_flush_all(p);
	assert_int_equal(count_all(p), 0);
	assert_int_equal(lookup(p, 0x400000, 5, 1, 1), 0);
	assert_int_equal(p->flushes, 1);
}

static void test_flush_vpid(void **state)
{
	struct psc *p = *state;

	populate(p);
	psc_flush_vpid(p, 1);
	assert_int_equal(count_all(p), 1); /* R2 */
	assert_int_equal(lookup(p, 0x400000, 5, 2, 1), 2);
	assert_int_equal(lookup(p, 0x400000, 5, 1, 1), 0);
	psc_flush_vpid(p, 1);
	assert_int_equal(count_all(p), 1);
	assert_int_equal(p->flushes, 2);
}

static void test_flush_pcid(void **state)
{
	struct psc *p = *state;

	populate(p);
	psc_flush_pcid(p, 1, 1);
	assert_int_equal(count_all(p), 3); /* Q2, R2, S4 */
	assert_int_equal(count_valid(p, 2), 2);
	assert_int_equal(count_valid(p, 4), 1);
	assert_int_equal(lookup(p, 0x400000, 5, 1, 1), 0);
	assert_int_equal(lookup(p, 0x400000, 5, 1, 2), 2);
	assert_int_equal(lookup(p, 0x40000000, 5, 1, 2), 4);
	assert_int_equal(p->flushes, 1);
}

static void test_flush_addr(void **state)
{
	struct psc *p = *state;

	populate(p);
	/* Every entry of VPID 1 covering 0x00400123, any PCID: P2, P3, P4,
	 * Q2, S4 and T5. S3 covers another 1G, R2 is another guest. */
	psc_flush_addr(p, 1, 0x400123);
	assert_int_equal(count_all(p), 2);
	assert_int_equal(count_valid(p, 3), 1);
	assert_int_equal(lookup(p, 0x40000000, 5, 1, 1), 3);
	assert_int_equal(lookup(p, 0x400000, 5, 2, 1), 2);
	assert_int_equal(p->flushes, 1);
}

static void test_flush_addr_other_range(void **state)
{
	struct psc *p = *state;

	populate(p);
	/* 0x7fffffff: S3, and the 512G and 256T entries P4, S4, T5. */
	psc_flush_addr(p, 1, 0x7fffffff);
	assert_int_equal(count_all(p), 4); /* P2, P3, Q2, R2 */
	assert_int_equal(count_valid(p, 4), 0);
	assert_int_equal(count_valid(p, 5), 0);
	assert_int_equal(lookup(p, 0x400000, 5, 1, 1), 2);
	assert_int_equal(lookup(p, 0x40000000, 5, 1, 1), 0);
	/* A VPID with no entries: nothing moves. */
	psc_flush_addr(p, 3, 0x400000);
	assert_int_equal(count_all(p), 4);
	assert_int_equal(p->flushes, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_rejects_leaf_levels),
	    cmocka_unit_test_setup_teardown(test_lookup_returns_lowest_level, setup_small,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_entries_cover_their_range, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_tag_is_canonical_bits, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_vpid_pcid_isolation, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_lru_eviction_order, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_lru_survives_clock_wrap, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_insert_replaces_same_tag, setup_small, teardown),
	    cmocka_unit_test(test_insert_ignores_uncached_levels),
	    cmocka_unit_test_setup_teardown(test_flush_all, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_vpid, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_pcid, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_addr, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_addr_other_range, setup_roomy, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

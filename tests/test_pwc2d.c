/*
 * test_pwc2d.c - unit tests of the 2D page-walk cache (src/tlb/pwc2d.c).
 *
 * Each test builds a real cache with pwc2d_init() and asserts exact hit,
 * miss and drop counts. The tag rules under test:
 *   PWC_HOST   (hpa, ep4ta)              : VPID and PCID never matter;
 *   PWC_GUEST  (hpa, vpid, pcid, ep4ta)  : all four must match.
 * The last test runs a random op program against a flat reference (an
 * array of what each (dim, hpa, tag) should hold) and injects one stale
 * value to prove that the comparison notices.
 *
 * Fixture values are non-zero sentinels: a zeroed entry never passes for
 * a real one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/tlb/pwc2d.h"

#define EP4TA_A UINT64_C(0x5a5a5000)
#define EP4TA_B UINT64_C(0x7b7b7000)
#define VAL(n) (UINT64_C(0xa5a5000000000007) | ((uint64_t)(n) << 12))

static void test_disabled(void **state)
{
	(void)state;
	struct pwc2d c;
	assert_int_equal(pwc2d_init(&c, 0), 0);
	pwc2d_insert(&c, PWC_HOST, HPA(0x1000), 4, 0, 0, EP4TA_A, VAL(1));
	uint64_t v = 0;
	assert_false(pwc2d_lookup(&c, PWC_HOST, HPA(0x1000), 0, 0, EP4TA_A, &v));
	assert_int_equal(pwc2d_count(&c, PWC_HOST), 0);
	pwc2d_destroy(&c);
}

static void test_host_tags(void **state)
{
	(void)state;
	struct pwc2d c;
	uint64_t v = 0;
	assert_int_equal(pwc2d_init(&c, 4), 0);
	pwc2d_insert(&c, PWC_HOST, HPA(0x2008), 3, 7, 9, EP4TA_A, VAL(1));
	/* VPID and PCID are not part of a host entry's tag. */
	assert_true(pwc2d_lookup(&c, PWC_HOST, HPA(0x2008), 1, 2, EP4TA_A, &v));
	assert_int_equal(v, VAL(1));
	/* Other EP4TA, other address, other dimension: misses. */
	assert_false(pwc2d_lookup(&c, PWC_HOST, HPA(0x2008), 0, 0, EP4TA_B, &v));
	assert_false(pwc2d_lookup(&c, PWC_HOST, HPA(0x2010), 0, 0, EP4TA_A, &v));
	assert_false(pwc2d_lookup(&c, PWC_GUEST, HPA(0x2008), 0, 0, EP4TA_A, &v));
	assert_int_equal(c.hits, 1);
	assert_int_equal(c.misses, 3);
	/* Re-inserting refreshes, never duplicates. */
	pwc2d_insert(&c, PWC_HOST, HPA(0x2008), 3, 0, 0, EP4TA_A, VAL(2));
	assert_int_equal(pwc2d_count(&c, PWC_HOST), 1);
	assert_true(pwc2d_lookup(&c, PWC_HOST, HPA(0x2008), 0, 0, EP4TA_A, &v));
	assert_int_equal(v, VAL(2));
	pwc2d_destroy(&c);
}

static void test_guest_tags(void **state)
{
	(void)state;
	struct pwc2d c;
	uint64_t v = 0;
	assert_int_equal(pwc2d_init(&c, 4), 0);
	pwc2d_insert(&c, PWC_GUEST, HPA(0x3000), 4, 1, 5, EP4TA_A, VAL(3));
	assert_true(pwc2d_lookup(&c, PWC_GUEST, HPA(0x3000), 1, 5, EP4TA_A, &v));
	assert_int_equal(v, VAL(3));
	assert_false(pwc2d_lookup(&c, PWC_GUEST, HPA(0x3000), 2, 5, EP4TA_A, &v));
	assert_false(pwc2d_lookup(&c, PWC_GUEST, HPA(0x3000), 1, 6, EP4TA_A, &v));
	assert_false(pwc2d_lookup(&c, PWC_GUEST, HPA(0x3000), 1, 5, EP4TA_B, &v));
	/* The same hPA under another PCID is another entry. */
	pwc2d_insert(&c, PWC_GUEST, HPA(0x3000), 4, 1, 6, EP4TA_A, VAL(4));
	assert_int_equal(pwc2d_count(&c, PWC_GUEST), 2);
	assert_true(pwc2d_lookup(&c, PWC_GUEST, HPA(0x3000), 1, 6, EP4TA_A, &v));
	assert_int_equal(v, VAL(4));
	pwc2d_destroy(&c);
}

static void test_lru(void **state)
{
	(void)state;
	struct pwc2d c;
	uint64_t v;
	assert_int_equal(pwc2d_init(&c, 3), 0);
	for (int i = 1; i <= 3; i++)
		pwc2d_insert(&c, PWC_HOST, HPA(0x1000u * (unsigned)i), 2, 0, 0, EP4TA_A, VAL(i));
	/* Touch 1 and 3: 2 is the least recently used. */
	assert_true(pwc2d_lookup(&c, PWC_HOST, HPA(0x1000), 0, 0, EP4TA_A, &v));
	assert_true(pwc2d_lookup(&c, PWC_HOST, HPA(0x3000), 0, 0, EP4TA_A, &v));
	pwc2d_insert(&c, PWC_HOST, HPA(0x4000), 2, 0, 0, EP4TA_A, VAL(4));
	assert_false(pwc2d_lookup(&c, PWC_HOST, HPA(0x2000), 0, 0, EP4TA_A, &v));
	assert_true(pwc2d_lookup(&c, PWC_HOST, HPA(0x1000), 0, 0, EP4TA_A, &v));
	assert_true(pwc2d_lookup(&c, PWC_HOST, HPA(0x3000), 0, 0, EP4TA_A, &v));
	assert_true(pwc2d_lookup(&c, PWC_HOST, HPA(0x4000), 0, 0, EP4TA_A, &v));
	assert_int_equal(pwc2d_count(&c, PWC_HOST), 3);
	pwc2d_destroy(&c);
}

/* A mixed population: 2 host entries under A, 1 under B, and guest entries
 * (vpid, pcid) = (0,0), (1,1), (1,2), (2,1). */
static void populate(struct pwc2d *c)
{
	pwc2d_insert(c, PWC_HOST, HPA(0x1000), 4, 0, 0, EP4TA_A, VAL(1));
	pwc2d_insert(c, PWC_HOST, HPA(0x2000), 3, 0, 0, EP4TA_A, VAL(2));
	pwc2d_insert(c, PWC_HOST, HPA(0x3000), 4, 0, 0, EP4TA_B, VAL(3));
	pwc2d_insert(c, PWC_GUEST, HPA(0x4000), 4, 0, 0, EP4TA_A, VAL(4));
	pwc2d_insert(c, PWC_GUEST, HPA(0x5000), 4, 1, 1, EP4TA_A, VAL(5));
	pwc2d_insert(c, PWC_GUEST, HPA(0x6000), 3, 1, 2, EP4TA_A, VAL(6));
	pwc2d_insert(c, PWC_GUEST, HPA(0x7000), 4, 2, 1, EP4TA_B, VAL(7));
	assert_int_equal(pwc2d_count(c, PWC_HOST), 3);
	assert_int_equal(pwc2d_count(c, PWC_GUEST), 4);
}

static void test_flushes(void **state)
{
	(void)state;
	struct pwc2d c;
	uint64_t v;
	assert_int_equal(pwc2d_init(&c, 16), 0);

	populate(&c);
	assert_int_equal(pwc2d_flush_guest_pcid(&c, 1, 1), 1);
	assert_false(pwc2d_lookup(&c, PWC_GUEST, HPA(0x5000), 1, 1, EP4TA_A, &v));
	assert_true(pwc2d_lookup(&c, PWC_GUEST, HPA(0x6000), 1, 2, EP4TA_A, &v));
	assert_int_equal(pwc2d_count(&c, PWC_HOST), 3);

	pwc2d_flush_all(&c);
	populate(&c);
	assert_int_equal(pwc2d_flush_guest_vpid(&c, 1), 2);
	assert_int_equal(pwc2d_count(&c, PWC_GUEST), 2);
	assert_int_equal(pwc2d_count(&c, PWC_HOST), 3);

	pwc2d_flush_all(&c);
	populate(&c);
	assert_int_equal(pwc2d_flush_guest_nonzero(&c), 3);
	assert_true(pwc2d_lookup(&c, PWC_GUEST, HPA(0x4000), 0, 0, EP4TA_A, &v));
	assert_int_equal(pwc2d_count(&c, PWC_HOST), 3);

	pwc2d_flush_all(&c);
	populate(&c);
	/* INVEPT single-context of B: both dimensions, only B's entries. */
	assert_int_equal(pwc2d_flush_ep4ta(&c, EP4TA_B), 2);
	assert_int_equal(pwc2d_count(&c, PWC_HOST), 2);
	assert_int_equal(pwc2d_count(&c, PWC_GUEST), 3);

	assert_int_equal(pwc2d_flush_all(&c), 5);
	assert_int_equal(pwc2d_count(&c, PWC_HOST) + pwc2d_count(&c, PWC_GUEST), 0);
	pwc2d_destroy(&c);
}

/* ---- differential: random ops against a flat reference ---- */

#define REF_SLOTS 8 /* distinct hPAs */
struct ref_cell {
	bool valid;
	uint64_t value;
};
/* [dim][slot][vpid 0..1][pcid 0..1] */
static struct ref_cell ref[2][REF_SLOTS][2][2];

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Corrupt the cached value of (d, h, vpid, pcid) if it is cached: the
 * deliberate fault that the comparison must catch. */
static bool e_planted(struct pwc2d *c, enum pwc_dim d, hpa_t h, uint16_t vpid, uint16_t pcid)
{
	uint64_t key = h.v | ((uint64_t)d << 1) | 1;
	for (uint32_t i = 0; i < c->n; i++) {
		if (c->key[i] == key && c->e[i].vpid == vpid && c->e[i].pcid == pcid) {
			c->e[i].value ^= 0x1000;
			return true;
		}
	}
	return false;
}

/* A cache large enough never to evict (2 dims * 8 slots * 4 tags), so it
 * must agree exactly with the reference. Returns the number of
 * disagreements; 'stale' plants one wrong value first. */
static int run_program(bool stale)
{
	struct pwc2d c;
	uint64_t s = 0x9e3779b97f4a7c15u;
	int bad = 0;
	memset(ref, 0, sizeof(ref));
	assert_int_equal(pwc2d_init(&c, 2 * REF_SLOTS * 4), 0);
	for (int op = 0; op < 4000; op++) {
		uint64_t r = rng_next(&s);
		enum pwc_dim d = (enum pwc_dim)(r & 1);
		unsigned slot = (unsigned)(r >> 1) % REF_SLOTS;
		uint16_t vpid = (uint16_t)((r >> 8) & 1), pcid = (uint16_t)((r >> 9) & 1);
		if (d == PWC_HOST)
			vpid = pcid = 0;
		hpa_t h = HPA(0x10000 + 8u * slot);
		switch ((r >> 16) % 6) {
		case 0:
		case 1: {
			uint64_t val = VAL(op + 1);
			pwc2d_insert(&c, d, h, 2, vpid, pcid, EP4TA_A, val);
			ref[d][slot][vpid][pcid] = (struct ref_cell){true, val};
			break;
		}
		case 2:
			pwc2d_flush_guest_pcid(&c, vpid, pcid);
			for (unsigned k = 0; k < REF_SLOTS; k++)
				ref[PWC_GUEST][k][vpid][pcid].valid = false;
			break;
		case 3:
			if ((r >> 20) & 7)
				break;
			pwc2d_flush_guest_vpid(&c, vpid);
			for (unsigned k = 0; k < REF_SLOTS; k++)
				ref[PWC_GUEST][k][vpid][0].valid =
				    ref[PWC_GUEST][k][vpid][1].valid = false;
			break;
		default: {
			uint64_t v = 0;
			if (stale && op >= 2000 && e_planted(&c, d, h, vpid, pcid))
				stale = false; /* planted once, on an entry about to be checked */
			bool hit = pwc2d_lookup(&c, d, h, vpid, pcid, EP4TA_A, &v);
			struct ref_cell *e = &ref[d][slot][vpid][pcid];
			if (hit != e->valid || (hit && v != e->value))
				bad++;
			break;
		}
		}
	}
	pwc2d_destroy(&c);
	return bad;
}

static void test_differential(void **state)
{
	(void)state;
	assert_int_equal(run_program(false), 0);
	/* The planted stale value is looked up at once: it must be caught. */
	assert_true(run_program(true) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_disabled),   cmocka_unit_test(test_host_tags),
	    cmocka_unit_test(test_guest_tags), cmocka_unit_test(test_lru),
	    cmocka_unit_test(test_flushes),    cmocka_unit_test(test_differential),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

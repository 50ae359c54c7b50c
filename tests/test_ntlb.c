/*
 * test_ntlb.c - unit tests of the nested TLB (src/tlb/ntlb.c).
 *
 * The nested TLB caches gPA -> hPA results of EPT walks for 4K, 2M and 1G
 * EPT leaves, tagged by EP4TA. The tests check coverage by page size, the
 * offset arithmetic, tags, LRU replacement and both flushes, with exact
 * counter values. Fixture addresses are non-zero sentinels.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/core/pte.h"
#include "../src/tlb/ntlb.h"

#define EP4TA_A UINT64_C(0x5a5a5000)
#define EP4TA_B UINT64_C(0x7b7b7000)

static void test_disabled(void **state)
{
	(void)state;
	struct ntlb t;
	assert_int_equal(ntlb_init(&t, 0), 0);
	ntlb_insert(&t, GPA(0x1000), HPA(0x9000), PG_4K, EP4TA_A, EPTE_RWX, true);
	assert_null(ntlb_lookup(&t, GPA(0x1000), EP4TA_A));
	assert_int_equal(ntlb_count_valid(&t), 0);
	ntlb_destroy(&t);
}

static void test_sizes(void **state)
{
	(void)state;
	struct ntlb t;
	assert_int_equal(ntlb_init(&t, 4), 0);
	/* A 4K page, a 2M page and a 1G page, inserted from inner addresses. */
	ntlb_insert(&t, GPA(0x12345678), HPA(0xabcde000), PG_4K, EP4TA_A, EPTE_RWX, true);
	ntlb_insert(&t, GPA(0x40234567), HPA(0x80200000), PG_2M, EP4TA_A, EPTE_R, false);
	ntlb_insert(&t, GPA(0x1c0000000 + 0x1234), HPA(0x240000000), PG_1G, EP4TA_A, EPTE_RWX,
		    true);

	struct ntlb_entry *e = ntlb_lookup(&t, GPA(0x12345ff8), EP4TA_A);
	assert_non_null(e);
	assert_int_equal(e->gpa.v, 0x12345000);
	assert_int_equal(e->hpa.v, 0xabcde000);
	assert_null(ntlb_lookup(&t, GPA(0x12346000), EP4TA_A));

	e = ntlb_lookup(&t, GPA(0x403ffff8), EP4TA_A);
	assert_non_null(e);
	assert_int_equal(e->size, PG_2M);
	assert_int_equal(e->gpa.v, 0x40200000);
	assert_int_equal(e->rights, EPTE_R);
	assert_false(e->dirty);
	assert_null(ntlb_lookup(&t, GPA(0x40400000), EP4TA_A));

	e = ntlb_lookup(&t, GPA(0x1fffffff8), EP4TA_A);
	assert_non_null(e);
	assert_int_equal(e->hpa.v, 0x240000000);
	assert_null(ntlb_lookup(&t, GPA(0x1fffffff8), EP4TA_B));

	assert_int_equal(t.hits, 3);
	assert_int_equal(t.misses, 3);
	ntlb_destroy(&t);
}

static void test_replace_and_lru(void **state)
{
	(void)state;
	struct ntlb t;
	assert_int_equal(ntlb_init(&t, 2), 0);
	ntlb_insert(&t, GPA(0x1000), HPA(0x11000), PG_4K, EP4TA_A, EPTE_RWX, false);
	/* Same page again: refreshed in place (dirty now), not duplicated. */
	ntlb_insert(&t, GPA(0x1008), HPA(0x11000), PG_4K, EP4TA_A, EPTE_RWX, true);
	assert_int_equal(ntlb_count_valid(&t), 1);
	assert_true(ntlb_lookup(&t, GPA(0x1000), EP4TA_A)->dirty);
	ntlb_insert(&t, GPA(0x2000), HPA(0x12000), PG_4K, EP4TA_A, EPTE_RWX, true);
	assert_non_null(ntlb_lookup(&t, GPA(0x1000), EP4TA_A)); /* 0x2000 is now LRU */
	ntlb_insert(&t, GPA(0x3000), HPA(0x13000), PG_4K, EP4TA_A, EPTE_RWX, true);
	assert_null(ntlb_lookup(&t, GPA(0x2000), EP4TA_A));
	assert_non_null(ntlb_lookup(&t, GPA(0x1000), EP4TA_A));
	assert_non_null(ntlb_lookup(&t, GPA(0x3000), EP4TA_A));
	ntlb_destroy(&t);
}

static void test_flushes(void **state)
{
	(void)state;
	struct ntlb t;
	assert_int_equal(ntlb_init(&t, 8), 0);
	for (unsigned i = 1; i <= 3; i++)
		ntlb_insert(&t, GPA(0x1000u * i), HPA(0x100000u * i), PG_4K, EP4TA_A, EPTE_RWX,
			    true);
	for (unsigned i = 1; i <= 2; i++)
		ntlb_insert(&t, GPA(0x1000u * i), HPA(0x200000u * i), PG_4K, EP4TA_B, EPTE_RWX,
			    true);
	assert_int_equal(ntlb_count_valid(&t), 5);
	/* The same gPA under two EP4TAs are two translations. */
	assert_int_equal(ntlb_lookup(&t, GPA(0x1000), EP4TA_B)->hpa.v, 0x200000);
	assert_int_equal(ntlb_flush_ep4ta(&t, EP4TA_A), 3);
	assert_null(ntlb_lookup(&t, GPA(0x1000), EP4TA_A));
	assert_non_null(ntlb_lookup(&t, GPA(0x2000), EP4TA_B));
	assert_int_equal(ntlb_flush_all(&t), 2);
	assert_int_equal(ntlb_count_valid(&t), 0);
	assert_int_equal(t.dropped, 5);
	ntlb_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_disabled),
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_replace_and_lru),
	    cmocka_unit_test(test_flushes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_quiz_pv.c - `vmmu quiz --kind pv-munmap` (src/teach/quiz_pv.c): the
 * model's count of a munmap's hypercalls, with and without lazy-MMU
 * batching, equals the guest kernel's rules for every seed tried; a few
 * seeds' exact answers are pinned; the output is a function of the seed;
 * bad flags are refused with exit status 2.
 *
 * The rules (4-level guest, --invlpg-threshold 33, a queue of 32):
 *   batched   = ceil(k / 32) + U + T
 *   unbatched = k + U + T
 * for a munmap of k pages: U = 3 tables unlinked when the whole mapping
 * goes (PT, PD and PDPT emptied), else 0; T = k INVLPGs when k <= 33,
 * else 1 flush.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/cli/cli.h"
#include "../src/teach/explain.h"

static char *quiz_text(uint64_t seed, bool answers)
{
	struct vm_config c;
	config_defaults(&c);
	c.guest_mem = UINT64_C(64) << 20;
	char *text = NULL;
	size_t len = 0;
	char err[256] = "";
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	int rc = quiz_pv_munmap_print(f, &c, seed, answers, err, sizeof(err));
	fclose(f);
	if (rc != QUIZ_OK)
		fail_msg("seed %" PRIu64 ": %s", seed, err);
	return text;
}

/* The numbers of the question and its two answers. */
struct answer {
	unsigned pages, unmap;
	unsigned on, off;
	unsigned leaf, upper, tlb; /* from the unbatched rules line */
};

static struct answer parse(const char *t)
{
	struct answer a = {0};
	const char *p = strstr(t, "It has ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "It has %u pages", &a.pages), 1);
	p = strstr(t, "munmap(0x10000000, ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "munmap(0x10000000, %u pages", &a.unmap), 1);
	p = strstr(t, "Q1. batching on: ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "Q1. batching on: %u", &a.on), 1);
	p = strstr(t, "Q2. batching off: ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "Q2. batching off: %u", &a.off), 1);
	p = strstr(p, "by the rules: ");
	assert_non_null(p);
	unsigned sum;
	assert_int_equal(sscanf(p, "by the rules: %u leaf clears + %u unlinks + %u TLB", &a.leaf,
				&a.upper, &a.tlb),
			 3);
	p = strstr(p, " = ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, " = %u", &sum), 1);
	assert_int_equal(sum, a.off);
	return a;
}

/* Every seed: the count agrees with the rules. */
static void test_rules(void **state)
{
	(void)state;
	unsigned whole = 0, part = 0, flushes = 0;
	for (uint64_t seed = 1; seed <= 24; seed++) {
		char *t = quiz_text(seed, true);
		struct answer a = parse(t);
		unsigned k = a.unmap;
		unsigned u = k == a.pages ? 3 : 0;
		unsigned tl = k <= 33 ? k : 1;
		whole += u != 0;
		part += u == 0;
		flushes += k > 33;
		if (a.leaf != k || a.upper != u || a.tlb != tl || a.on != (k + 31) / 32 + u + tl ||
		    a.off != k + u + tl)
			fail_msg("seed %" PRIu64 ": munmap of %u of %u pages: %u and %u hypercalls,"
				 " %u leaf, %u unlinks, %u TLB calls",
				 seed, k, a.pages, a.on, a.off, a.leaf, a.upper, a.tlb);
		free(t);
	}
	/* The seeds cover whole and partial munmaps, INVLPGs and flushes. */
	assert_true(whole > 0 && part > 0 && flushes > 0);
}

/* Pinned: seed 1 is 37 of 37 pages (2 batches, a flush), seed 3 is 16 of
 * 16 (the example of docs/pv.md's munmap table, 1 + 3 + 16). */
static void test_pinned(void **state)
{
	(void)state;
	char *t = quiz_text(1, true);
	struct answer a = parse(t);
	assert_int_equal(a.pages, 37);
	assert_int_equal(a.unmap, 37);
	assert_int_equal(a.on, 6);
	assert_int_equal(a.off, 41);
	assert_non_null(strstr(t, "1 x mmu_update of 32 elements: 32 leaf entries cleared"));
	assert_non_null(strstr(t, "1 x mmu_update of 5 elements: 5 leaf entries cleared"));
	free(t);
	t = quiz_text(3, true);
	a = parse(t);
	assert_int_equal(a.unmap, 16);
	assert_int_equal(a.on, 20);
	assert_int_equal(a.off, 35);
	free(t);
}

/* Same seed, same text; without -c, no answer. */
static void test_deterministic(void **state)
{
	(void)state;
	char *a = quiz_text(7, true), *b = quiz_text(7, true), *q = quiz_text(7, false);
	assert_string_equal(a, b);
	assert_null(strstr(q, "Q1. batching on:"));
	assert_int_equal(strncmp(a, q, strlen("vmmu quiz --kind pv-munmap, seed 7")), 0);
	free(a);
	free(b);
	free(q);
}

static void test_bad_flags(void **state)
{
	(void)state;
	char *argv1[] = {"quiz", "--kind", "bogus", NULL};
	assert_int_equal(quiz_main(3, argv1), 2);
	char *argv2[] = {"quiz", "--kind", "pv-munmap", "--mode", "shadow", NULL};
	assert_int_equal(quiz_main(5, argv2), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rules),
	    cmocka_unit_test(test_pinned),
	    cmocka_unit_test(test_deterministic),
	    cmocka_unit_test(test_bad_flags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

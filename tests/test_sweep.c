/*
 * test_sweep.c - unit tests of the crossover finder (sweep.c) and of the
 * crossover's interval over seeds.
 *
 * Each case is a tiny synthetic sweep: two series a (say shadow) and b
 * (say nested) over a few points, with exact expectations for where the
 * cheaper one changes, which side wins before and after, and the linearly
 * interpolated crossing. The sign convention: before/after = -1 when a is
 * cheaper, +1 when b is.
 *
 *   value   1    2    4    8
 *   a      90   60   40   30     a - b = +30 +10 -10 -20
 *   b      60   50   50   50     -> one crossover in (2, 4), at x = 3
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <cmocka.h>

#include "../src/cli/sweep.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_one_crossover_numeric(void **state)
{
	const double x[] = {1, 2, 4, 8};
	const double a[] = {90, 60, 40, 30};
	const double b[] = {60, 50, 50, 50};
	struct sweep_xover o[4];

	(void)state;
	assert_int_equal(sweep_find_crossovers(x, a, b, N(x), o, 4), 1);
	assert_int_equal(o[0].lo, 1);
	assert_int_equal(o[0].hi, 2);
	assert_int_equal(o[0].before, 1); /* b (nested) wins first */
	assert_int_equal(o[0].after, -1); /* then a (shadow) */
	assert_true(fabs(o[0].x - 3.0) < 1e-9);
}

static void test_no_crossover(void **state)
{
	const double x[] = {1, 2, 3};
	const double a[] = {10, 20, 30};
	const double b[] = {11, 21, 31};
	struct sweep_xover o[2];

	(void)state;
	assert_int_equal(sweep_find_crossovers(x, a, b, N(x), o, 2), 0);
	/* One point, and no point at all. */
	assert_int_equal(sweep_find_crossovers(x, a, b, 1, o, 2), 0);
	assert_int_equal(sweep_find_crossovers(x, a, b, 0, o, 2), 0);
}

/* Categorical values: positions are the indices; the mark goes half-way
 * when the gaps are equal. */
static void test_categorical(void **state)
{
	const double a[] = {5, 7};
	const double b[] = {7, 5};
	struct sweep_xover o[1];

	(void)state;
	assert_int_equal(sweep_find_crossovers(NULL, a, b, 2, o, 1), 1);
	assert_int_equal(o[0].lo, 0);
	assert_int_equal(o[0].hi, 1);
	assert_int_equal(o[0].before, -1);
	assert_int_equal(o[0].after, 1);
	assert_true(fabs(o[0].x - 0.5) < 1e-9);
}

/* Two changes of winner, both found, in order; 'max' limits what is
 * written but not the count. */
static void test_two_crossovers_and_max(void **state)
{
	const double x[] = {10, 20, 30, 40};
	const double a[] = {1, 3, 3, 1};
	const double b[] = {2, 2, 2, 2};
	struct sweep_xover o[2] = {{0}, {0}};

	(void)state;
	assert_int_equal(sweep_find_crossovers(x, a, b, N(x), o, 2), 2);
	assert_int_equal(o[0].lo, 0);
	assert_int_equal(o[0].hi, 1);
	assert_int_equal(o[1].lo, 2);
	assert_int_equal(o[1].hi, 3);
	assert_true(fabs(o[0].x - 15.0) < 1e-9);
	assert_true(fabs(o[1].x - 35.0) < 1e-9);
	o[1].lo = 99;
	assert_int_equal(sweep_find_crossovers(x, a, b, N(x), o, 1), 2);
	assert_int_equal(o[1].lo, 99); /* not written past max */
}

/* A failed run (NAN) and a tie are skipped: the crossover brackets the
 * nearest points where both modes ran with different costs. */
static void test_missing_and_tie_skipped(void **state)
{
	const double x[] = {1, 2, 3, 4, 5};
	const double a[] = {1, NAN, 2, 2, 5};
	const double b[] = {2, 2, 2, NAN, 4};
	struct sweep_xover o[2];

	(void)state;
	assert_int_equal(sweep_find_crossovers(x, a, b, N(x), o, 2), 1);
	assert_int_equal(o[0].lo, 0);
	assert_int_equal(o[0].hi, 4);
	assert_int_equal(o[0].before, -1);
	assert_int_equal(o[0].after, 1);
	/* a - b: -1 at x = 1, +1 at x = 5: crossing at 3. */
	assert_true(fabs(o[0].x - 3.0) < 1e-9);
}

/* Ties everywhere: no winner, so nothing crosses. */
static void test_all_ties(void **state)
{
	const double a[] = {3, 3, 3};
	struct sweep_xover o[1];

	(void)state;
	assert_int_equal(sweep_find_crossovers(NULL, a, a, N(a), o, 1), 0);
}

/*
 * The crossover's interval, on the sweep above between x = 2 and 4, where
 * a - b goes from +10 to -10 (crossing at 3):
 *   h = ha + hb = 5 at both:   d + h = 15 .. -5 is 0 at 3.5, d - h = 5 .. -15
 *                              at 2.5: the interval is [2.5, 3.5];
 *   h = 0:                     the point 3;
 *   h = 20 (the intervals overlap at both ends): the whole bracket [2, 4].
 */
static void test_crossover_interval(void **state)
{
	const double x[] = {1, 2, 4, 8};
	const double a[] = {90, 60, 40, 30};
	const double b[] = {60, 50, 50, 50};
	const double h25[] = {2.5, 2.5, 2.5, 2.5}, h0[] = {0, 0, 0, 0}, h10[] = {10, 10, 10, 10};
	struct sweep_xover o[1];
	double lo, hi;

	(void)state;
	assert_int_equal(sweep_find_crossovers(x, a, b, N(x), o, 1), 1);
	sweep_xover_interval(x, a, b, h25, h25, &o[0], &lo, &hi);
	assert_true(fabs(lo - 2.5) < 1e-9 && fabs(hi - 3.5) < 1e-9);
	sweep_xover_interval(x, a, b, h0, h0, &o[0], &lo, &hi);
	assert_true(fabs(lo - 3.0) < 1e-9 && fabs(hi - 3.0) < 1e-9);
	sweep_xover_interval(x, a, b, h10, h10, &o[0], &lo, &hi);
	assert_true(fabs(lo - 2.0) < 1e-9 && fabs(hi - 4.0) < 1e-9);
	/* Only one side uncertain: h = 5 at x = 2 and 0 at x = 4. */
	const double hl[] = {0, 5, 0, 0};
	sweep_xover_interval(x, a, b, hl, h0, &o[0], &lo, &hi);
	/* d + h = 15 .. -10: 0 at 2 + 2 * 15/25 = 3.2; d - h = 5 .. -10: 0 at 2 + 2 * 5/15. */
	assert_true(fabs(hi - 3.2) < 1e-9);
	assert_true(fabs(lo - (2.0 + 2.0 * 5.0 / 15.0)) < 1e-9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_crossover_numeric),
	    cmocka_unit_test(test_no_crossover),
	    cmocka_unit_test(test_categorical),
	    cmocka_unit_test(test_two_crossovers_and_max),
	    cmocka_unit_test(test_missing_and_tie_skipped),
	    cmocka_unit_test(test_all_ties),
	    cmocka_unit_test(test_crossover_interval),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

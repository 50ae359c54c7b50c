/*
 * test_ci.c - unit tests of the repeated-run statistics (src/report/ci.c):
 * Student-t quantiles against published values, means and intervals of
 * small hand-checked samples, the overlap rule, and the mean run.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "../src/report/ci.h"
#include "../src/report/csv.h"

/* t(0.975, n - 1) for n = 2 .. 6 runs: 12.7062, 4.3027, 3.1824, 2.7764,
 * 2.5706 (any t table); and the large-df values 2.0003 (60), 1.9799 (120). */
static void test_t95_known_values(void **state)
{
	static const struct {
		unsigned df;
		double t;
	} known[] = {{1, 12.7062}, {2, 4.3027},	 {3, 3.1824},	{4, 2.7764},
		     {5, 2.5706},  {10, 2.2281}, {30, 2.0423},	{31, 2.0395},
		     {40, 2.0211}, {60, 2.0003}, {120, 1.9799}, {1000, 1.9623}};

	(void)state;
	for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
		if (fabs(ci_t95(known[k].df) - known[k].t) > 1e-4)
			fail_msg("t95(%u) = %.6f, want %.4f", known[k].df, ci_t95(known[k].df),
				 known[k].t);
	assert_true(isinf(ci_t95(0)));
	/* Decreasing towards the normal quantile. */
	for (unsigned df = 1; df < 200; df++)
		assert_true(ci_t95(df + 1) < ci_t95(df));
	assert_true(ci_t95(100000) > 1.95996 && ci_t95(100000) < 1.96000);
}

/* 1, 2, 3, 4, 5: mean 3, s = sqrt(2.5), half = 2.7764 * s / sqrt(5). */
static void test_ci_of_samples(void **state)
{
	const double x[5] = {1, 2, 3, 4, 5}, two[2] = {10, 12}, one[1] = {7.5};
	struct ci c;

	(void)state;
	ci_of(x, 5, &c);
	assert_int_equal(c.n, 5);
	assert_true(fabs(c.mean - 3.0) < 1e-12);
	assert_true(fabs(c.sd - sqrt(2.5)) < 1e-12);
	assert_true(fabs(c.half - 2.7764 * sqrt(2.5) / sqrt(5.0)) < 1e-12);
	assert_true(fabs(c.lo - (3.0 - c.half)) < 1e-12 && fabs(c.hi - (3.0 + c.half)) < 1e-12);

	/* Two runs: s = sqrt(2), half = 12.7062 * sqrt(2) / sqrt(2) = 12.7062. */
	ci_of(two, 2, &c);
	assert_true(fabs(c.mean - 11.0) < 1e-12);
	assert_true(fabs(c.half - 12.7062) < 1e-9);

	/* One run: the interval is the value itself. */
	ci_of(one, 1, &c);
	assert_true(c.mean == 7.5 && c.half == 0 && c.lo == 7.5 && c.hi == 7.5);

	ci_of(x, 0, &c);
	assert_true(isnan(c.mean));
}

static void test_ci_overlap(void **state)
{
	struct ci a = {.lo = 1, .hi = 2}, b = {.lo = 2, .hi = 3}, c = {.lo = 2.0001, .hi = 4};

	(void)state;
	assert_true(ci_overlap(&a, &b)); /* touching counts as overlap */
	assert_true(ci_overlap(&b, &a));
	assert_false(ci_overlap(&a, &c)); /* a clear gap */
	assert_false(ci_overlap(&c, &a));
	assert_true(ci_overlap(&b, &c));
}

static void test_mean_run(void **state)
{
	struct run_result r[3], m;
	const struct run_result *p[3] = {&r[0], &r[1], &r[2]};

	(void)state;
	memset(r, 0, sizeof(r));
	for (int i = 0; i < 3; i++) {
		r[i].st.accesses = 100 + (uint64_t)i;	   /* 100, 101, 102: mean 101 */
		r[i].st.cyc_walk = 10 * (uint64_t)(i + 1); /* 10, 20, 30: mean 20 */
		r[i].whole.accesses = 1000 + 3 * (uint64_t)i;
		r[i].wall_s = 1.0 + i;
		r[i].checksum = 0xc0 + (uint64_t)i;
		r[i].region = true;
	}
	ci_mean_run(p, 3, &m);
	assert_int_equal(m.st.accesses, 101);
	assert_int_equal(m.st.cyc_walk, 20);
	assert_int_equal(m.whole.accesses, 1003);
	assert_int_equal(m.est_cycles, 20);
	assert_true(fabs(m.wall_s - 2.0) < 1e-12);
	assert_int_equal(m.checksum, 0xc0);
	assert_true(m.region);

	/* One run comes back unchanged. */
	ci_mean_run(p + 2, 1, &m);
	assert_memory_equal(&m, &r[2], sizeof(m));
}

/* The tie rule: overlap, or means within 0.1% of each other. */
static void test_ci_tie(void **state)
{
	(void)state;
	/* Zero-width intervals 200 apart out of 1.6e9 (1.25e-7): a tie. */
	struct ci a = {.mean = 1.6e9, .lo = 1.6e9, .hi = 1.6e9};
	struct ci b = {.mean = 1.6e9 + 200, .lo = 1.6e9 + 200, .hi = 1.6e9 + 200};
	assert_false(ci_overlap(&a, &b));
	assert_true(ci_tie(&a, &b));
	assert_true(ci_tie(&b, &a));
	/* 0.099% apart: a tie; 0.101% apart: a difference. */
	struct ci c = {.mean = 100.099, .lo = 100.099, .hi = 100.099};
	struct ci d = {.mean = 100.0, .lo = 100.0, .hi = 100.0};
	struct ci e = {.mean = 100.102, .lo = 100.102, .hi = 100.102};
	assert_true(ci_tie(&c, &d));
	assert_false(ci_tie(&e, &d));
	assert_false(ci_tie(&d, &e));
	/* Overlapping intervals tie whatever the gap between the means. */
	struct ci f = {.mean = 10, .lo = 5, .hi = 15}, g = {.mean = 14, .lo = 13, .hi = 15};
	assert_true(ci_tie(&f, &g));
	/* Two means of 0 tie; 0 and 1 do not. */
	struct ci z = {0}, one = {.mean = 1, .lo = 1, .hi = 1};
	assert_true(ci_tie(&z, &z));
	assert_false(ci_tie(&z, &one));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_t95_known_values), cmocka_unit_test(test_ci_of_samples),
	    cmocka_unit_test(test_ci_overlap),	     cmocka_unit_test(test_ci_tie),
	    cmocka_unit_test(test_mean_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

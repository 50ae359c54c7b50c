/*
 * test_compare_summary.c - the written judgement of `vmmu compare` with one
 * seed (src/cli/compare_summary.c): who wins, the best virtualized mode,
 * shadow against nested, and the tie rule.
 *
 * With one seed, modes are ranked by the total estimated cycles of their
 * runs. Two totals that differ by less than 0.1% of the larger are a tie
 * (the rule --seeds applies to means): the winner column then says
 * "tie (A, B)", best virtualized "tie (A, B)", shadow vs nested "tie". The
 * cells here are made by hand: one workload, four modes, each run's total
 * in cyc_access over 1,000 accesses, so cycles per access = total / 1000.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/cli/compare.h"
#include "../src/cli/registry.h"

#define NM 4

struct fixture {
	struct compare c;
	struct job cell[NM];
	struct ci cpa[NM];
	const struct workload *wl[1];
};

/* totals[]: native, shadow, nested, pv. */
static char *summary_of(const uint64_t *totals)
{
	static struct fixture x;
	memset(&x, 0, sizeof(x));
	const struct mmu_ops *modes[NM] = {mmu_find("native"), mmu_find("shadow"),
					   mmu_find("nested"), mmu_find("pv")};
	x.wl[0] = workload_find("seq");
	assert_non_null(x.wl[0]);
	config_defaults(&x.c.cfg);
	x.c.p.seed = 1;
	x.c.jobs = 1;
	x.c.wl = x.wl;
	x.c.nwl = 1;
	x.c.nmodes = NM;
	x.c.nseeds = 1;
	x.c.njob = NM;
	x.c.cell = x.cell;
	x.c.job = x.cell;
	x.c.cpa = x.cpa;
	for (int m = 0; m < NM; m++) {
		assert_non_null(modes[m]);
		x.c.modes[m] = modes[m];
		x.cell[m].w = x.wl[0];
		x.cell[m].m = modes[m];
		x.cell[m].state = JOB_OK;
		x.cell[m].r.st.accesses = 1000;
		x.cell[m].r.st.cyc_access = totals[m];
		x.cell[m].r.region = true;
		x.cpa[m].mean = (double)totals[m] / 1000.0;
		x.cpa[m].half = -1.0;
	}
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(summary_fill(f, &x.c), 0);
	fclose(f);
	return text;
}

/* The overview row's last three cells: winner, best virtualized, shadow vs
 * nested. */
static void expect_row(const char *t, const char *winner, const char *best, const char *svn)
{
	char want[256];
	snprintf(want, sizeof(want), " | %s | %s | %s |\n", winner, best, svn);
	const char *p = strstr(t, "\n| seq | ");
	assert_non_null(p);
	const char *eol = strchr(p + 1, '\n');
	assert_non_null(eol);
	size_t n = strlen(want);
	if ((size_t)(eol + 1 - p) < n || strncmp(eol + 1 - n, want, n) != 0)
		fail_msg("row %.*s\nexpected to end with%s", (int)(eol - p), p + 1, want);
}

/*
 * native 1,000,000 and shadow 1,000,001 (one part per million): a tie, not
 * a native win; shadow and nested (1,000,500, 0.05% apart): a tie among
 * the virtualized modes and between shadow and nested. A tie names the
 * two lowest totals: with nested at 1,000,000 too, native and nested.
 */
static void test_tie(void **state)
{
	(void)state;
	static const uint64_t t[NM] = {1000000, 1000001, 1000500, 1200000};
	char *s = summary_of(t);
	expect_row(s, "tie (native, shadow)", "tie (shadow, nested)", "tie");
	assert_non_null(strstr(s, "| mode | cycles/access | est_cycles | ratio to native | gap to "
				  "lowest total |\n"));
	assert_non_null(strstr(s, "| native | 1000.00 | 1000000 | 1.00 | lowest total |\n"));
	assert_non_null(strstr(s, "\n**Tie**: the totals of native (lowest) and shadow differ by "
				  "less than 0.1%.\n"));
	assert_null(strstr(s, "\nWinner: "));
	assert_non_null(strstr(s, "Two totals within 0.1% of each other are a **tie**"));
	free(s);
	static const uint64_t u[NM] = {1000000, 1000700, 1000000, 1200000};
	s = summary_of(u);
	expect_row(s, "tie (native, nested)", "tie (nested, shadow)", "tie");
	free(s);
}

/*
 * Margins above 0.1%: native wins by 0.2%; shadow is 0.3% below pv (the
 * next virtualized mode, 1,005,000) and 0.79% below nested (1,010,000).
 * pv 1,003,000 would be 0.0997% above shadow: a tie.
 */
static void test_margins(void **state)
{
	(void)state;
	static const uint64_t t[NM] = {1000000, 1002000, 1010000, 1005000};
	char *s = summary_of(t);
	expect_row(s, "native", "shadow, 0.3% below pv", "shadow by 0.8%");
	assert_non_null(strstr(s, "\nWinner: **native** (1000.00 cycles/access).\n"));
	free(s);
	static const uint64_t u[NM] = {1000000, 1002000, 1010000, 1003000};
	s = summary_of(u);
	expect_row(s, "native", "tie (shadow, pv)", "shadow by 0.8%");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tie),
	    cmocka_unit_test(test_margins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

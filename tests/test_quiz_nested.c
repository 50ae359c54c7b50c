/*
 * test_quiz_nested.c - `vmmu quiz --kind nested` (src/teach/quiz_nested.c):
 * the lecture questions "can a VMM run in a VM?" and "which VMM handles an
 * exit first, and which in the end?", on a run of the l2-fault scenario.
 *
 * The answers must follow the handler rules of each design, for every
 * seed tried (4-level paging, 64M, 4K host pages, VMCS shadowing off; the
 * sequences are those test_l2fault.c derives):
 *   nept           7 exits: 1 L2 48 reflected, 2-4 L1 VMREAD, 5 L1 48
 *                  (the trapped EPT12 store), 6 L1 VMRESUME, 7 L2 48
 *                  handled by L0 alone;
 *   shadow-on-ept  21 exits: every L2 #PF exit (reason 0) is reflected to
 *                  L1, followed by 3 VMREADs and a VMRESUME of L1; the one
 *                  L2 EPT violation (exit 11) is L0's alone.
 * Every exit is handled first by L0; in the end by L1 exactly when it is
 * an L2 exit L0 reflected. A few seeds' picks are pinned; the output is a
 * function of the seed; bad flags are refused with exit status 2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/cli/cli.h"
#include "../src/cli/registry.h"
#include "../src/teach/explain.h"
#include "../src/teach/scenario.h"

static char *quiz_text(const char *design, uint64_t seed, unsigned n, bool answers)
{
	struct vm_config c;
	config_defaults(&c);
	c.guest_mem = SCENARIO_GUEST_MEM;
	char *text = NULL;
	size_t len = 0;
	char err[256] = "";
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	int rc = quiz_nested_print(f, &c, design, seed, n, answers, "", err, sizeof(err));
	fclose(f);
	if (rc != QUIZ_OK)
		fail_msg("seed %" PRIu64 ": %s", seed, err);
	return text;
}

struct asked {
	int n, total;
	int exit[QUIZ_MAX_N], level[QUIZ_MAX_N], reason[QUIZ_MAX_N];
	int final[QUIZ_MAX_N]; /* from the answers */
	int l0_end, l1_end;
};

static struct asked parse(const char *t)
{
	struct asked a = {0};
	const char *p = t;
	while ((p = strstr(p, "      exit ")) && a.n < QUIZ_MAX_N) {
		int k, tot, lvl, rsn;
		if (sscanf(p, "      exit %d of %d: taken while L%d runs, exit %d", &k, &tot, &lvl,
			   &rsn) != 4)
			break;
		a.exit[a.n] = k;
		a.level[a.n] = lvl;
		a.reason[a.n] = rsn;
		a.total = tot;
		a.n++;
		p++;
	}
	p = strstr(t, "Q2. L0 handles every exit first");
	assert_non_null(p);
	for (int i = 0; i < a.n; i++) {
		char pat[32];
		snprintf(pat, sizeof(pat), "      exit %2d (L%d, ", a.exit[i], a.level[i]);
		const char *q = strstr(p, pat);
		if (!q)
			fail_msg("no answer for exit %d", a.exit[i]);
		q = strstr(q, "first L0, in the end L");
		assert_non_null(q);
		assert_int_equal(sscanf(q, "first L0, in the end L%d", &a.final[i]), 1);
	}
	p = strstr(p, "    L0 handles ");
	assert_non_null(p);
	int tot;
	assert_int_equal(sscanf(p, "    L0 handles %d of the %d exits", &a.l0_end, &tot), 2);
	assert_int_equal(tot, a.total);
	p = strstr(p, "L1 handles ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "L1 handles %d", &a.l1_end), 1);
	return a;
}

/* The rule of each design: which level handles exit k in the end. */
static int expected_final(const char *design, int k, int level, int reason)
{
	if (level == 1)
		return 0;
	if (strcmp(design, "nept") == 0)
		return k == 1 ? 1 : 0;
	return reason == 0 ? 1 : 0; /* shadow-on-ept: #PF reflected, EPT violation kept */
}

static void check_design(const char *design, int total, int l0_end, int l1_end)
{
	for (uint64_t seed = 1; seed <= 20; seed++) {
		unsigned n = 1 + (unsigned)(seed % 6);
		char *t = quiz_text(design, seed, n, true);
		struct asked a = parse(t);
		assert_int_equal(a.total, total);
		assert_int_equal(a.n, (int)n < total ? (int)n : total);
		assert_int_equal(a.l0_end, l0_end);
		assert_int_equal(a.l1_end, l1_end);
		int lv[3] = {0};
		for (int i = 0; i < a.n; i++) {
			if (i)
				assert_true(a.exit[i] > a.exit[i - 1]);
			lv[a.level[i]]++;
			int want = expected_final(design, a.exit[i], a.level[i], a.reason[i]);
			if (a.final[i] != want)
				fail_msg("%s seed %" PRIu64 ": exit %d (L%d, reason %d) handled "
					 "in the end by L%d, expected L%d",
					 design, seed, a.exit[i], a.level[i], a.reason[i],
					 a.final[i], want);
		}
		/* Two or more questions ask about an exit of each level. */
		if (a.n >= 2)
			assert_true(lv[1] > 0 && lv[2] > 0);
		free(t);
	}
}

static void test_rules(void **state)
{
	(void)state;
	check_design("nept", 7, 6, 1);
	check_design("shadow-on-ept", 21, 17, 4);
	check_design("pvm", 1, 1, 0); /* L0's EPT01 violation alone */
	/* PVM's L1 runs without VMX: the answer counts its switcher trips. */
	char *t = quiz_text("pvm", 1, 1, true);
	assert_non_null(strstr(t, "L1's VM, which L0 does not intercept: 4 switcher round trips\n"
				  "    (pvm_switches), no exit."));
	free(t);
}

/* Pinned picks and the Q1 answers' counts of L1's intercepted actions. */
static void test_pinned(void **state)
{
	(void)state;
	char *t = quiz_text("nept", 2, 3, true);
	struct asked a = parse(t);
	assert_int_equal(a.n, 3);
	assert_int_equal(a.exit[0], 3);
	assert_int_equal(a.exit[1], 6);
	assert_int_equal(a.exit[2], 7);
	assert_non_null(strstr(t, "this fault L0 intercepted 5 of L1's actions (exits_l1 5):\n"));
	assert_non_null(strstr(t, "       3 x exit 23 VMREAD: L1's VMREAD of a vmcs12 field"));
	assert_non_null(strstr(t, "       1 x exit 48 EPT violation: L1's EPT12 store to a "
				  "write-protected table (exits to L0)\n"));
	assert_non_null(strstr(t, "and reflected 1 of L2's 2 exits to L1 (reflected_exits 1)"));
	assert_non_null(strstr(t, "software walk of EPT12 (ept_walk_addr) (8 events)\n"));
	assert_non_null(strstr(t, "`vmmu explain --scenario l2-fault --mode nept`"));
	free(t);
	t = quiz_text("shadow-on-ept", 1, 5, true);
	a = parse(t);
	assert_int_equal(a.n, 5);
	static const int want[] = {3, 7, 12, 20, 21};
	for (int i = 0; i < 5; i++)
		assert_int_equal(a.exit[i], want[i]);
	assert_int_equal(a.level[2], 2);
	assert_int_equal(a.final[2], 1);
	assert_non_null(strstr(t, "      12 x exit 23 VMREAD: "));
	assert_non_null(strstr(t, "       4 x exit 24 VMRESUME: "));
	assert_non_null(strstr(t, "and reflected 4 of L2's 5 exits to L1 (reflected_exits 4)"));
	free(t);
	/* -n beyond the sequence asks about every exit once. */
	t = quiz_text("nept", 9, QUIZ_MAX_N, true);
	a = parse(t);
	assert_int_equal(a.n, 7);
	for (int i = 0; i < 7; i++)
		assert_int_equal(a.exit[i], i + 1);
	free(t);
}

/* The seed picks a design the registry knows; same seed, same text. */
static void test_seeded(void **state)
{
	(void)state;
	bool seen_nept = false, seen_soe = false;
	for (uint64_t seed = 1; seed <= 40; seed++) {
		char *t = quiz_text(NULL, seed, 2, false);
		const char *p = strstr(t, "The nested design is ");
		assert_non_null(p);
		char name[32];
		assert_int_equal(sscanf(p, "The nested design is %31[^:]", name), 1);
		assert_true(l2f_is_design(name));
		assert_non_null(mmu_find(name));
		seen_nept |= strcmp(name, "nept") == 0;
		seen_soe |= strcmp(name, "shadow-on-ept") == 0;
		assert_null(strstr(t, "Q2. L0 handles every exit first"));
		assert_non_null(strstr(t, "(answers: the same command with -c)"));
		char *u = quiz_text(NULL, seed, 2, false);
		assert_string_equal(t, u);
		free(t);
		free(u);
	}
	assert_true(seen_nept && seen_soe);
}

/* With 2M host pages nept's fault takes no exit: Q2 asks why, and the
 * answer says that L0 intercepted none of L1's actions. */
static void test_no_exit(void **state)
{
	(void)state;
	struct vm_config c;
	config_defaults(&c);
	c.guest_mem = SCENARIO_GUEST_MEM;
	c.host_page = PG_2M;
	char *text = NULL, err[256] = "";
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(
	    quiz_nested_print(f, &c, "nept", 1, 5, true, " --host-page 2m", err, sizeof(err)),
	    QUIZ_OK);
	fclose(f);
	assert_non_null(strstr(text, "Q2. Under this design the fault takes no VM exit: why not?"));
	assert_non_null(
	    strstr(text, "this fault L0 intercepted 0 of L1's actions (exits_l1 0),\n"));
	assert_non_null(
	    strstr(text, "`vmmu explain --scenario l2-fault --mode nept --host-page 2m`"));
	assert_null(strstr(text, "      exit "));
	free(text);
}

static void test_bad_flags(void **state)
{
	(void)state;
	char *argv1[] = {"quiz", "--kind", "bogus", NULL};
	assert_int_equal(quiz_main(3, argv1), 2);
	char *argv2[] = {"quiz", "--kind", "nested", "--mode", "native", NULL};
	assert_int_equal(quiz_main(5, argv2), 2);
	char *argv3[] = {"quiz", "--kind", "nested", "-n", "0", NULL};
	assert_int_equal(quiz_main(5, argv3), 2);
	char *argv4[] = {"quiz", "--kind", "nested", "--seed", "x", NULL};
	assert_int_equal(quiz_main(5, argv4), 2);
	char *ok[] = {"quiz", "--kind", "nested", "--mode", "nept", "--seed", "4", "-n", "2", NULL};
	assert_int_equal(quiz_main(9, ok), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rules),     cmocka_unit_test(test_pinned),
	    cmocka_unit_test(test_seeded),    cmocka_unit_test(test_no_exit),
	    cmocka_unit_test(test_bad_flags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

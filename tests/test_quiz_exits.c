/*
 * test_quiz_exits.c - `vmmu quiz --kind exits` (src/teach/quiz_exits.c) and
 * `vmmu quiz -n N` (src/teach/quiz.c).
 *
 * The exits question's answers are the model's counts, so the test pins
 * one seed's answers exactly, and checks, over many seeds, the rules
 * those counts must follow whatever the seed (64 MiB guest, 4-level, 4 KiB
 * pages, KVM's unsync):
 *   - a first access to a page takes 1 guest fault, any later one 0;
 *   - an access without a guest fault exits under nested paging 0 times,
 *     and under shadow paging 0 times, except the first store to a page
 *     that was only loaded: 1 exit, the dirty bit;
 *   - the first access of all: shadow 8 exits (6 hidden faults, 1 table
 *     write, 1 #PF injected), nested 4 EPT violations (the new PDPT, PD
 *     and PT pages and the data page); a later first touch: nested 1.
 * And -n: fewer questions are the first of the default five, more keep
 * the five first; 0 and 21 are refused; the CLI exits 2 naming -n.
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

static void machine(struct vm_config *c)
{
	config_defaults(c);
	c->guest_mem = UINT64_C(64) << 20;
}

static char *exits_text(uint64_t seed, unsigned n, bool answers)
{
	struct vm_config c;
	machine(&c);
	char *text = NULL, err[256] = "";
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	int rc = quiz_exits_print(f, &c, seed, n, answers, err, sizeof(err));
	fclose(f);
	if (rc != QUIZ_OK)
		fail_msg("seed %" PRIu64 ": %s", seed, err);
	return text;
}

/* Seed 5, six accesses: the answers, exactly. */
static void test_exits_seed5_pinned(void **state)
{
	(void)state;
	char *t = exits_text(5, 6, true);
	const char *want = "   1. load  page 0   guest faults 1\n"
			   "      shadow exits 8 (6 hidden fault, 1 table write, 1 #PF injected)\n"
			   "      nested exits 4 (4 EPT violation)\n"
			   "   2. store page 0   guest faults 0\n"
			   "      shadow exits 1 (1 dirty bit)\n"
			   "      nested exits 0\n"
			   "   3. store page 0   guest faults 0\n"
			   "      shadow exits 0\n"
			   "      nested exits 0\n"
			   "   4. store page 1   guest faults 1\n"
			   "      shadow exits 4 (2 hidden fault, 1 table write, 1 #PF injected)\n"
			   "      nested exits 1 (1 EPT violation)\n"
			   "   5. load  page 1   guest faults 0\n"
			   "      shadow exits 0\n"
			   "      nested exits 0\n"
			   "   6. store page 0   guest faults 0\n"
			   "      shadow exits 0\n"
			   "      nested exits 0\n";
	if (!strstr(t, want))
		fail_msg("seed 5 answers changed:\n%s", t);
	assert_non_null(strstr(t, "   1. load  gVA 0x0000000010000"));
	free(t);
	/* Without -c: the questions, no answers. */
	t = exits_text(5, 6, false);
	assert_null(strstr(t, "shadow exits"));
	assert_non_null(strstr(t, "(answers: the same command with -c)"));
	free(t);
}

/* The rules above, over seeds 1..60 with 10 accesses each. */
static void test_exits_rules(void **state)
{
	(void)state;
	unsigned dirty = 0, ptw = 0, quiet = 0;
	for (uint64_t seed = 1; seed <= 60; seed++) {
		char *t = exits_text(seed, 10, true), *p = strstr(t, "Answers");
		bool touched[QUIZ_MAX_N] = {false}, stored[QUIZ_MAX_N] = {false};
		assert_non_null(p);
		for (unsigned k = 1; k <= 10; k++) {
			char head[32], op[8], sh[128] = "", ne[128] = "";
			unsigned page, faults, shx, nex;
			snprintf(head, sizeof(head), "\n  %2u. ", k);
			p = strstr(p, head);
			assert_non_null(p);
			assert_int_equal(
			    sscanf(p, " %*u. %7s page %u guest faults %u", op, &page, &faults), 3);
			p = strstr(p, "shadow exits ");
			assert_int_equal(sscanf(p, "shadow exits %u%127[^\n]", &shx, sh) >= 1, 1);
			p = strstr(p, "nested exits ");
			assert_int_equal(sscanf(p, "nested exits %u%127[^\n]", &nex, ne) >= 1, 1);
			bool store = strcmp(op, "store") == 0;
			assert_true(page < 10);
			assert_int_equal(faults, touched[page] ? 0 : 1);
			if (k == 1) {
				assert_int_equal(shx, 8);
				assert_string_equal(
				    sh, " (6 hidden fault, 1 table write, 1 #PF injected)");
				assert_int_equal(nex, 4);
			} else if (!touched[page]) {
				assert_int_equal(nex, 1);
				assert_string_equal(ne, " (1 EPT violation)");
				ptw += strstr(sh, "table write") != NULL;
			} else if (store && !stored[page]) {
				assert_int_equal(shx, 1);
				assert_string_equal(sh, " (1 dirty bit)");
				assert_int_equal(nex, 0);
				dirty++;
			} else {
				assert_int_equal(shx, 0);
				assert_int_equal(nex, 0);
				quiet++;
			}
			touched[page] = true;
			stored[page] |= store;
		}
		free(t);
	}
	/* Every case came up: dirty-bit exits, a later table write, quiet ones. */
	assert_true(dirty > 0 && ptw > 0 && quiet > 0);
}

static char *translate_text(uint64_t seed, unsigned n, int *rc)
{
	struct vm_config c;
	machine(&c);
	c.walk_caches = false;
	c.mode = "nested";
	char *text = NULL, err[256] = "";
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	*rc = quiz_print(f, &c, seed, n, true, "", err, sizeof(err));
	fclose(f);
	return text;
}

/* The question lines "  k. gVA 0x..." of a quiz, joined. */
static void questions(const char *t, char *buf, size_t len)
{
	size_t o = 0;
	const char *p = strstr(t, "\nTranslate these");
	assert_non_null(p);
	buf[0] = '\0';
	for (unsigned k = 1;; k++) {
		char head[16];
		snprintf(head, sizeof(head), "\n  %u. gVA ", k);
		const char *q = strstr(p, head);
		if (!q || strstr(p, "\nCheck one answer") < q)
			break;
		o += (size_t)snprintf(buf + o, len - o, "%.*s;", 18, q + strlen(head));
		p = q + 1;
	}
}

static void test_translate_n(void **state)
{
	(void)state;
	int rc;
	char q3[512], q5[512], q7[512];
	char *t3 = translate_text(2, 3, &rc);
	assert_int_equal(rc, QUIZ_OK);
	char *t5 = translate_text(2, QUIZ_DEFAULT_N, &rc);
	assert_int_equal(rc, QUIZ_OK);
	char *t7 = translate_text(2, 7, &rc);
	assert_int_equal(rc, QUIZ_OK);
	questions(t3, q3, sizeof(q3));
	questions(t5, q5, sizeof(q5));
	questions(t7, q7, sizeof(q7));
	assert_int_equal(strlen(q3), 3 * 19);
	assert_int_equal(strlen(q5), 5 * 19);
	assert_int_equal(strlen(q7), 7 * 19);
	assert_memory_equal(q3, q5, 3 * 19);
	assert_memory_equal(q5, q7, 5 * 19);
	/* Seed 2's questions, pinned (the default five, then two more). */
	assert_string_equal(q7, "0x00005690a5efff98;0x00005690a5f29b08;0x000056acf0d83d70;"
				"0x00005690a5e64bb8;0x0000568d65e640c8;0x00005690a5e64608;"
				"0x00005690a5eff588;");
	/* One worked answer per question, written to the stream given. */
	assert_non_null(strstr(t7, "==== answer 7: gVA 0x00005690a5eff588 ===="));
	assert_null(strstr(t7, "==== answer 8"));
	free(t3);
	free(t5);
	free(t7);
	free(translate_text(2, 0, &rc));
	assert_int_equal(rc, QUIZ_BAD_MACHINE);
	free(translate_text(2, QUIZ_MAX_N + 1, &rc));
	assert_int_equal(rc, QUIZ_BAD_MACHINE);
}

static int quiz_argv(const char *a1, const char *a2, const char *a3, const char *a4)
{
	char *argv[] = {"quiz", (char *)a1, (char *)a2, (char *)a3, (char *)a4, NULL};
	int argc = 1;
	while (argv[argc])
		argc++;
	return quiz_main(argc, argv);
}

static void test_cli_refusals(void **state)
{
	(void)state;
	assert_int_equal(quiz_argv("-n", "0", NULL, NULL), CLI_EXIT_USAGE);
	assert_int_equal(quiz_argv("-n", "21", NULL, NULL), CLI_EXIT_USAGE);
	assert_int_equal(quiz_argv("-n", "x", NULL, NULL), CLI_EXIT_USAGE);
	assert_int_equal(quiz_argv("-n", NULL, NULL, NULL), CLI_EXIT_USAGE);
	assert_int_equal(quiz_argv("--kind", "pv-munmap", "-n", "3"), CLI_EXIT_USAGE);
	assert_int_equal(quiz_argv("--kind", "exits", "--mode", "shadow"), CLI_EXIT_USAGE);
	assert_int_equal(quiz_argv("--kind", "nope", NULL, NULL), CLI_EXIT_USAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exits_seed5_pinned),
	    cmocka_unit_test(test_exits_rules),
	    cmocka_unit_test(test_translate_n),
	    cmocka_unit_test(test_cli_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

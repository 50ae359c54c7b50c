/*
 * test_l2fault.c - the l2-fault scenario (src/teach/l2fault.c): one L2
 * page fault told under each nested-virtualization design.
 *
 * The recorder's lines are checked as a compact shape, one token per
 * line, in the narration's order:
 *   F  the L2 kernel's #PF          V  the hardware's walk stops at an
 *   Z  the L2 kernel zeroes a page     EPT violation
 *   P  the L2 kernel writes a PTE   D  the demand-zero fault resolved
 *   2:R / 1:R   an exit of L2 / of L1 with VMX reason R, "r" appended
 *               when L0 reflected it to L1
 *   L0 / L1     a handler's work, "^" before it when it is the handling
 *               of the exit above, "*n" after it for n identical events
 * Every expected shape is derived in the comment above its test, from the
 * design's handler rules (docs/nvirt.md). The machine is the scenario's:
 * 4-level paging, 64M, 4K host pages, walk caches on, VMCS shadowing off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../src/cli/cli.h"
#include "../src/cli/registry.h"
#include "../src/teach/scenario.h"
#include "../src/core/vm.h"

static struct vm_config cfg_of(const char *mode)
{
	struct vm_config c;
	config_defaults(&c);
	c.mode = mode;
	c.guest_mem = SCENARIO_GUEST_MEM;
	c.audit = true;
	return c;
}

static struct l2f_run *record(const struct vm_config *c)
{
	struct l2f_run *r = malloc(sizeof(*r));
	char err[256];
	assert_non_null(r);
	if (l2f_record(c, r, err, sizeof(err)) != 0)
		fail_msg("l2-fault under %s: %s", c->mode, err);
	/* The exit lines are the run's exits, counted by level as the
	 * counters count them. */
	assert_int_equal(l2f_count(r, 2, -1, -1) + l2f_count(r, 1, -1, -1), r->total.vm_exits);
	assert_int_equal(r->nexits, r->total.vm_exits);
	assert_int_equal(l2f_count(r, 2, -1, -1), r->total.l2_exits);
	assert_int_equal(l2f_count(r, 2, -1, 1), r->total.reflected_exits);
	assert_int_equal(l2f_count(r, 1, -1, -1), r->total.exits_l1);
	return r;
}

static void shape(const struct l2f_run *r, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int i = 0; i < r->n; i++) {
		const struct l2f_line *l = &r->line[i];
		const char *w = l->what ? l->what : "";
		char tok[32];
		switch (l->kind) {
		case L2F_GUEST:
			snprintf(tok, sizeof(tok), "%s",
				 l->ev == TR_GUEST_FAULT	      ? "F"
				 : l->ev == TR_WALK_DONE	      ? "V"
				 : strcmp(w, "zero page") == 0	      ? "Z"
				 : strcmp(w, "guest pte write") == 0  ? "P"
				 : strncmp(w, "demand-zero", 11) == 0 ? "D"
								      : "?");
			break;
		case L2F_EXIT:
			snprintf(tok, sizeof(tok), "%d:%d%s", l->level, (int)l->reason,
				 l->reflected ? "r" : "");
			break;
		case L2F_WORK:
			if (l->repeat > 1)
				snprintf(tok, sizeof(tok), "%sL%d*%d", l->under_exit ? "^" : "",
					 l->level, l->repeat);
			else
				snprintf(tok, sizeof(tok), "%sL%d", l->under_exit ? "^" : "",
					 l->level);
			break;
		}
		o += (size_t)snprintf(buf + o, len > o ? len - o : 0, "%s%s", o ? " " : "", tok);
	}
}

static void expect_shape(const struct l2f_run *r, const char *want)
{
	char got[4096];
	shape(r, got, sizeof(got));
	if (strcmp(got, want) != 0)
		fail_msg("%s:\n  got  %s\n  want %s", r->mode, got, want);
}

/* The work line i of r must be 'what' at 'level'. */
static int find_work(const struct l2f_run *r, int from, int level, const char *what)
{
	for (int i = from; i < r->n; i++)
		if (r->line[i].kind == L2F_WORK && r->line[i].level == level && r->line[i].what &&
		    strncmp(r->line[i].what, what, strlen(what)) == 0)
			return i;
	fail_msg("%s: no L%d work '%s' after line %d", r->mode, level, what, from);
	return -1;
}

/*
 * nept. The user store's walk finds the L2 PTE not present: a #PF into the
 * L2 kernel, no exit (F). The kernel zeroes the new frame, gPA 0x9000,
 * which EPT02 does not map (V):
 *   1  2:48r  L0 walks EPT12 (4 references, ^L0*4), finds nothing and
 *             reflects the violation to L1 (^L0);
 *   2-4       L1's three VMREADs (23);
 *   L1        L1's EPT-violation handler maps the gPA in EPT12;
 *   5  1:48   its EPT12 store traps: the PT of EPT12 was write-protected
 *             when L0 built EPT02 for page 0 in the setup;
 *   6  1:24   VMRESUME;
 *   V, 7 2:48 L2 retries: L0 walks EPT12 (^L0*4), installs the EPT02 leaf
 *             (^L0, nested paging's "EPT leaf installed") and says so (^L0).
 * Then the kernel zeroes the page, writes the PTE, and the fault is done.
 */
static void test_nept(void **state)
{
	(void)state;
	struct vm_config c = cfg_of("nept");
	struct l2f_run *r = record(&c);
	expect_shape(r, "F V 2:48r ^L0*4 ^L0 1:23 1:23 1:23 L1 1:48 1:24 V 2:48 ^L0*4 ^L0 ^L0 "
			"Z P D");
	assert_int_equal(r->nexits, 7);
	assert_int_equal(r->total.guest_faults, 1);
	assert_int_equal(r->total.ept12_writes, 1);
	assert_int_equal(r->total.vmm_walk_refs, 8);
	/* Who handles each exit first (L0, always) and in the end. */
	assert_int_equal(l2f_final_handler(r, 1), 1);
	for (int k = 2; k <= 7; k++)
		assert_int_equal(l2f_final_handler(r, k), 0);
	assert_int_equal(l2f_final_handler(r, 8), -1);
	/* The L1 exits are told by L1's own description of what it did. */
	assert_string_equal(l2f_exit(r, 5)->what,
			    "EPT12 store to a write-protected table (exits to L0)");
	int i = find_work(r, 0, 0, "EPT12 does not map it: reflect");
	assert_true(i < find_work(r, i, 1, "EPT-violation handler maps the L2 gPA in EPT12"));
	free(r);

	/* VMCS shadowing: the three VMREADs are served by the CPU. */
	c.vmcs_shadow = true;
	r = record(&c);
	expect_shape(r, "F V 2:48r ^L0*4 ^L0 L1 1:48 1:24 V 2:48 ^L0*4 ^L0 ^L0 Z P D");
	free(r);

	/* 2M host pages: L1's EPT12 and L0's EPT02 map the page's 2M chunk
	 * since the setup touched page 0: the fault takes no exit at all. */
	c.vmcs_shadow = false;
	c.host_page = PG_2M;
	r = record(&c);
	expect_shape(r, "F Z P D");
	assert_int_equal(r->total.vm_exits, 0);
	free(r);
}

/*
 * shadow-on-ept. L1 shadows L2's tables; the hardware walks SPT12 over
 * EPT01. Each shadow-MMU exit is an L2 exit that L0 reflects to L1 (^L0
 * right below it), then L1's three VMREADs, L1's shadow work (L1 lines,
 * told before its VMRESUME), and the VMRESUME:
 *   1  2:0r  the user store: SPT12 has no entry and neither has L2's
 *            table: a true fault; L1 injects the #PF (L1); then F;
 *   6  2:0r  the kernel's zeroing store, through the direct map: a hidden
 *            fault; L1 installs the spte (L1);
 *   11 2:48  the new frame is not in EPT01: L0 alone maps it (V, ^L0 the
 *            leaf, ^L0 its own description); then Z and P;
 *   12 2:0r  the PTE store hit a shadowed table: L1 unsyncs it and maps
 *            the direct-map page writable (L1 L1); then D;
 *   17 2:0r  the retried user store: a hidden fault; L1 sets the L2
 *            entry's A and D bits and installs the spte (L1 L1).
 * 21 exits: 5 of L2 (4 reflected), 16 of L1 (12 VMREADs, 4 VMRESUMEs).
 */
static void test_shadow_on_ept(void **state)
{
	(void)state;
	static const char *const refl = "^L0 1:23 1:23 1:23";
	char want[1024];
	struct vm_config c = cfg_of("shadow-on-ept");
	struct l2f_run *r = record(&c);
	snprintf(want, sizeof(want),
		 "2:0r %s L1 1:24 F 2:0r %s L1 1:24 V 2:48 ^L0 ^L0 Z P 2:0r %s L1 L1 1:24 D "
		 "2:0r %s L1 L1 1:24",
		 refl, refl, refl, refl);
	expect_shape(r, want);
	assert_int_equal(r->nexits, 21);
	assert_int_equal(l2f_count(r, 2, -1, 1), 4);
	assert_int_equal(l2f_count(r, 2, EXIT_EPT_VIOLATION, 0), 1);
	assert_int_equal(l2f_count(r, 1, EXIT_VMREAD, -1), 12);
	assert_int_equal(l2f_count(r, 1, EXIT_VMRESUME, -1), 4);
	assert_string_equal(l2f_exit(r, 1)->counter, "exits_fault_inject");
	assert_string_equal(l2f_exit(r, 6)->counter, "exits_hidden_fault");
	assert_string_equal(l2f_exit(r, 12)->counter, "exits_pt_write");
	assert_string_equal(l2f_exit(r, 17)->counter, "exits_hidden_fault");
	assert_int_equal(l2f_final_handler(r, 1), 1);
	assert_int_equal(l2f_final_handler(r, 11), 0);
	assert_int_equal(l2f_final_handler(r, 21), 0);
	/* L1's injection is told after its VMREADs, before its VMRESUME. */
	int i = find_work(r, 0, 1, "#PF injected into the guest");
	assert_int_equal(r->line[i - 1].kind, L2F_EXIT);
	assert_int_equal(r->line[i - 1].exit_no, 4);
	assert_int_equal(r->line[i + 1].exit_no, 5);
	free(r);

	/* VMCS shadowing: each reflection costs L1 only its VMRESUME. */
	c.vmcs_shadow = true;
	r = record(&c);
	expect_shape(r, "2:0r ^L0 L1 1:24 F 2:0r ^L0 L1 1:24 V 2:48 ^L0 ^L0 Z P 2:0r ^L0 L1 L1 "
			"1:24 D 2:0r ^L0 L1 L1 1:24");
	assert_int_equal(r->nexits, 9);
	free(r);
}

/*
 * pvm. L1 runs without VMX, so L2's #PF and L1's shadow work take no exit:
 * each entry of L1 is a switcher round trip, its work told as L1's before
 * the switcher line (L1 L1). The one exit is L0's EPT01 violation for the
 * new data frame (V, 2:48 with L0's EPT leaf ^L0 ^L0), handled by L0
 * alone. Four round trips: the #PF L1 injects, the shadow fill for the
 * kernel's zeroing store, the guest PTE store (unsynced), the fill of the
 * user address.
 */
static void test_pvm_design(void **state)
{
	(void)state;
	struct vm_config c = cfg_of("pvm");
	struct l2f_run *r = record(&c);
	expect_shape(r, "L1 L1 F L1 L1 V 2:48 ^L0 ^L0 Z P L1 L1 L1 D L1 L1 L1");
	assert_int_equal(r->nexits, 1);
	assert_int_equal(l2f_count(r, 2, -1, -1), 1);
	assert_int_equal(l2f_count(r, 2, -1, 1), 0);
	assert_int_equal(l2f_count(r, 1, -1, -1), 0);
	assert_int_equal(r->total.pvm_switches, 4);
	assert_int_equal(r->total.vm_exits, 1);
	assert_int_equal(r->total.reflected_exits, 0);
	int i = find_work(r, 0, 1, "#PF injected into the guest");
	assert_int_equal(r->line[i].kind, L2F_WORK);
	find_work(r, i, 1, "PVM switcher");
	free(r);
}

/*
 * shadow-on-shadow. L0 has no EPT: every L2 #PF lands in L0, which walks
 * SPT12 (^L0*4) and either builds SPT02 from it alone (a hidden fault at
 * L0: ^L0 ^L0 after the walk) or, when SPT12 does not map the address,
 * reflects the fault to L1 (2:0r), whose VMREADs (1:23), trapped stores to
 * write-protected SPT12 tables (1:0) and VMRESUME (1:24) all exit to L0.
 * 29 exits: 10 of L2 (4 reflected, 6 fixed by L0 alone), 19 of L1 (12
 * VMREADs, 3 trapped SPT12 stores, 4 VMRESUMEs).
 */
static void test_sos_design(void **state)
{
	(void)state;
	struct vm_config c = cfg_of("shadow-on-shadow");
	struct l2f_run *r = record(&c);
	expect_shape(r, "2:0r ^L0*4 ^L0 1:23 1:23 1:23 L1 1:24 F "
			"2:0 ^L0*4 ^L0 ^L0 2:0 ^L0*4 ^L0 ^L0 2:0 ^L0*4 ^L0 ^L0 "
			"2:0r ^L0*4 ^L0 1:23 1:23 1:23 1:0 L1 1:24 2:0 ^L0*4 ^L0 ^L0 Z P "
			"2:0r ^L0*4 ^L0 ^L0 1:23 1:23 1:23 1:0 L1 L1 1:24 2:0 ^L0*4 ^L0 ^L0 D "
			"2:0r ^L0*4 ^L0 1:23 1:23 1:23 1:0 L1 L1 1:24 2:0 ^L0*4 ^L0 ^L0");
	assert_int_equal(r->nexits, 29);
	assert_int_equal(l2f_count(r, 2, -1, -1), 10);
	assert_int_equal(l2f_count(r, 2, -1, 1), 4);
	assert_int_equal(l2f_count(r, 1, -1, -1), 19);
	assert_int_equal(l2f_count(r, 1, EXIT_VMREAD, -1), 12);
	assert_int_equal(l2f_count(r, 1, EXIT_EXCEPTION, -1), 3);
	assert_int_equal(l2f_count(r, 1, EXIT_VMRESUME, -1), 4);
	assert_int_equal(r->total.vm_exits, 29);
	assert_int_equal(r->total.spt12_traps, 3);
	assert_int_equal(l2f_final_handler(r, 1), 1);
	assert_int_equal(l2f_final_handler(r, 6), 0);
	free(r);
}

static char *narration(const struct vm_config *c, const char *only, bool table_only)
{
	char *text = NULL, err[256];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	int rc = l2f_narrate(f, c, only, table_only, err, sizeof(err));
	fclose(f);
	if (rc != 0)
		fail_msg("l2f_narrate: %s", err);
	return text;
}

/* The table's first two value columns of the row 'label'. */
static void table_row(const char *t, const char *label, unsigned *a, unsigned *b)
{
	const char *p = strstr(t, "l2-fault side by side:");
	assert_non_null(p);
	p = strstr(p, label);
	if (!p)
		fail_msg("no row '%s'", label);
	assert_int_equal(sscanf(p + strlen(label), " %u %u", a, b), 2);
}

/*
 * The narration: every design the registry knows is told, in the order
 * of the design table, the others named as skipped; the table adds up
 * the exits told above it (nept's 7, shadow-on-ept's 21).
 */
static void test_narration(void **state)
{
	(void)state;
	struct vm_config c = cfg_of(NULL);
	char *t = narration(&c, NULL, false);
	const char *at = t;
	for (size_t k = 0; k < l2f_ndesigns; k++) {
		char head[64];
		snprintf(head, sizeof(head), "\n-- %s: ", l2f_designs[k]);
		if (mmu_find(l2f_designs[k])) {
			const char *p = strstr(t, head);
			if (!p || p < at)
				fail_msg("%s not told, or out of order", l2f_designs[k]);
			at = p;
		} else {
			assert_null(strstr(t, head));
			const char *s = strstr(t, "not built in this vmmu, skipped:");
			assert_non_null(s);
			assert_non_null(strstr(s, l2f_designs[k]));
		}
	}
	assert_non_null(strstr(t, "    1. L2 -> L0  exit 48 EPT violation, 5495 cycles "
				  "[exits_ept_violation]: the EPT the hardware walks does not map "
				  "the gPA; L0 reflects it to L1\n"));
	assert_non_null(strstr(t, "    6. L1 -> L0  exit 24 VMRESUME, 5495 cycles [exits_l1]: "
				  "L1's VMRESUME (exits to L0: nested_vmx_run, prepare_vmcs02)\n"));
	assert_non_null(strstr(t, "    L2  1 guest fault, handled by the L2 kernel; 2 exits to "
				  "L0 (l2_exits 2)\n"));
	unsigned a, b;
	table_row(t, "L2 -> L0 exits", &a, &b);
	assert_int_equal(a, 2);
	assert_int_equal(b, 5);
	table_row(t, "reflected to L1", &a, &b);
	assert_int_equal(a, 1);
	assert_int_equal(b, 4);
	table_row(t, "L1 -> L0 exits", &a, &b);
	assert_int_equal(a, 5);
	assert_int_equal(b, 16);
	table_row(t, "exits L0 takes (vm_exits)", &a, &b);
	assert_int_equal(a, 7);
	assert_int_equal(b, 21);
	free(t);

	/* One design, and the table alone. */
	t = narration(&c, "shadow-on-ept", false);
	assert_null(strstr(t, "\n-- nept: "));
	assert_non_null(strstr(t, "\n-- shadow-on-ept: "));
	free(t);
	t = narration(&c, NULL, true);
	assert_null(strstr(t, "\n-- nept: "));
	assert_non_null(strstr(t, "l2-fault side by side:"));
	free(t);
}

/* The design table and the command line. */
static void test_designs_and_cli(void **state)
{
	(void)state;
	assert_true(l2f_is_design("nept"));
	assert_true(l2f_is_design("shadow-on-ept"));
	assert_true(l2f_is_design("pvm"));
	assert_true(l2f_is_design("shadow-on-shadow"));
	assert_false(l2f_is_design("nested"));
	assert_true(scenario_exists("l2-fault"));
	/* Under a single-level mode the scenario is a plain first touch. */
	struct vm_config c = cfg_of("nested");
	struct stats t;
	char err[256];
	assert_int_equal(scenario_run("l2-fault", &c, NULL, &t, err, sizeof(err)), 0);
	assert_int_equal(t.guest_faults, 1);
	assert_int_equal(t.exits_ept_violation, 1);

	char *ok[] = {"explain", "--scenario", "l2-fault", "--mode", "nept", "--compare", NULL};
	assert_int_equal(scenario_main(6, ok), 0);
	char *bad[] = {"explain", "--scenario", "l2-fault", "--mode", "native", NULL};
	assert_int_equal(scenario_main(5, bad), 2);
	char *bogus[] = {"explain", "--scenario", "l2-fault", "--mode", "bogus", NULL};
	assert_int_equal(scenario_main(5, bogus), 2);
	assert_int_equal(l2f_narrate(stdout, &c, "nested", false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nested"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nept),
	    cmocka_unit_test(test_shadow_on_ept),
	    cmocka_unit_test(test_pvm_design),
	    cmocka_unit_test(test_sos_design),
	    cmocka_unit_test(test_narration),
	    cmocka_unit_test(test_designs_and_cli),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

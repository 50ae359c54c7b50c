/*
 * quiz_nested.c - `vmmu quiz --kind nested`: the two lecture questions on
 * recursive virtualization, asked about a real run of the l2-fault
 * scenario (one L2 page fault under a nested-virtualization design).
 *
 *   Q1 (can a VMM run in a VM?): L1 is a hypervisor written for bare
 *      hardware. Can it run in a VM, and what must the hardware or L0
 *      provide? Which of L1's actions in this fault does L0 intercept?
 *   Q2 (which VMM handles an exit first under recursive virtualization,
 *      and which in the end?): asked about a few exits of the fault's
 *      sequence, each given by its number, the level that was running and
 *      its exit reason; and how many exits L0 takes for the one fault.
 *
 * A seed picks the design (among the designs of l2fault.c's table that
 * the registry knows, unless --mode names one) and which exits Q2 asks
 * about (-n of them, at least one of L2 and one of L1 when the sequence
 * has both). The worked answers (-c) are read from the run: the exits'
 * levels, reasons, reflections and handlers' work, as
 * `vmmu explain --scenario l2-fault` tells them; the answers point there.
 *
 * Invariant: the output is a function of the seed, -n, the design and
 * the machine flags.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "scenario.h"
#include "../core/pte.h"
#include "../cli/registry.h"

static uint64_t qn_rand(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* The designs the registry knows, in the table's order. */
static int qn_designs(const char **out)
{
	int n = 0;
	for (size_t k = 0; k < l2f_ndesigns; k++)
		if (mmu_find(l2f_designs[k]))
			out[n++] = l2f_designs[k];
	return n;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/*
 * Pick n of the run's exits (1-based numbers, sorted) into ask[]; returns
 * how many. With n >= 2 the pick holds an exit of each level the run has.
 */
static int qn_pick(const struct l2f_run *r, uint64_t *s, unsigned n, int *ask)
{
	int total = r->nexits, order[L2F_MAX_LINES];
	if (total == 0)
		return 0;
	for (int i = 0; i < total; i++)
		order[i] = i + 1;
	for (int i = total - 1; i > 0; i--) {
		int j = (int)(qn_rand(s) % (uint64_t)(i + 1)), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	int m = (int)n < total ? (int)n : total;
	for (int lvl = 1; lvl <= 2 && m >= 2 && m < total; lvl++) {
		bool have = false;
		for (int i = 0; i < m; i++)
			have |= l2f_exit(r, order[i])->level == lvl;
		for (int i = m; i < total && !have; i++)
			if (l2f_exit(r, order[i])->level == lvl) {
				/* Replace the last pick of the other level. */
				for (int k = m - 1; k >= 0; k--)
					if (l2f_exit(r, order[k])->level != lvl) {
						order[k] = order[i];
						break;
					}
				have = true;
			}
	}
	memcpy(ask, order, (size_t)m * sizeof(int));
	qsort(ask, (size_t)m, sizeof(int), cmp_int);
	return m;
}

/* "exit 0 exception (#PF)" */
static void qn_exit_words(const struct l2f_line *e, char *buf, size_t len)
{
	snprintf(buf, len, "exit %" PRIu64 " %s", e->reason, xp_exit_name(e->reason));
}

/* The work lines that handle exit k: those under it, and L1's for a
 * reflected exit, up to L1's next VMRESUME. */
static void qn_print_handling(FILE *out, const struct l2f_run *r, int k)
{
	int i = 0;
	while (i < r->n && !(r->line[i].kind == L2F_EXIT && r->line[i].exit_no == k))
		i++;
	const struct l2f_line *e = &r->line[i];
	for (i++; i < r->n; i++) {
		const struct l2f_line *l = &r->line[i];
		if (l->kind == L2F_WORK && l->under_exit) {
			fprintf(out, "         L%d: %s", l->level, l->what ? l->what : "work");
			if (l->repeat > 1)
				fprintf(out, " (x%d)", l->repeat);
			fputc('\n', out);
			continue;
		}
		break;
	}
	if (!(e->level == 2 && e->reflected))
		return;
	/* L1's part: its own exits and work up to its VMRESUME. */
	for (; i < r->n; i++) {
		const struct l2f_line *l = &r->line[i];
		if (l->kind == L2F_GUEST || (l->kind == L2F_EXIT && l->level == 2))
			break;
		if (l->kind == L2F_WORK && l->level == 1)
			fprintf(out, "         L1: %s\n", l->what ? l->what : "work");
		else if (l->kind == L2F_EXIT)
			fprintf(out, "         L1 -> L0 (exit %d, %s): L0 emulates it\n",
				l->exit_no, xp_exit_name(l->reason));
		if (l->kind == L2F_EXIT && l->reason == EXIT_VMRESUME)
			break;
	}
}

/* L1's exits grouped by reason and description, in order of first use. */
static void qn_print_l1_actions(FILE *out, const struct l2f_run *r)
{
	int seen[L2F_MAX_LINES], ns = 0;
	for (int i = 0; i < r->n; i++) {
		const struct l2f_line *l = &r->line[i];
		if (l->kind != L2F_EXIT || l->level != 1)
			continue;
		bool dup = false;
		for (int k = 0; k < ns && !dup; k++) {
			const struct l2f_line *o = &r->line[seen[k]];
			dup = o->reason == l->reason &&
			      ((!o->what && !l->what) ||
			       (o->what && l->what && strcmp(o->what, l->what) == 0));
		}
		if (dup)
			continue;
		seen[ns++] = i;
		int c = 0;
		for (int j = i; j < r->n; j++) {
			const struct l2f_line *m = &r->line[j];
			if (m->kind == L2F_EXIT && m->level == 1 && m->reason == l->reason &&
			    ((!m->what && !l->what) ||
			     (m->what && l->what && strcmp(m->what, l->what) == 0)))
				c++;
		}
		char w[64];
		qn_exit_words(l, w, sizeof(w));
		fprintf(out, "      %2d x %s: L1's %s\n", c, w,
			l->what ? l->what : "exit, handled by L0");
	}
}

static bool qn_has_l0_work(const struct l2f_run *r)
{
	for (int i = 0; i < r->n; i++)
		if (r->line[i].kind == L2F_WORK && r->line[i].level == 0)
			return true;
	return false;
}

/* L0's work of the run, each description once with its count of events. */
static void qn_print_l0_work(FILE *out, const struct l2f_run *r)
{
	for (int i = 0; i < r->n; i++) {
		const struct l2f_line *l = &r->line[i];
		if (l->kind != L2F_WORK || l->level != 0 || !l->what)
			continue;
		bool dup = false;
		for (int k = 0; k < i && !dup; k++)
			dup = r->line[k].kind == L2F_WORK && r->line[k].level == 0 &&
			      r->line[k].what && strcmp(r->line[k].what, l->what) == 0;
		if (dup)
			continue;
		int c = 0;
		for (int j = i; j < r->n; j++)
			if (r->line[j].kind == L2F_WORK && r->line[j].level == 0 &&
			    r->line[j].what && strcmp(r->line[j].what, l->what) == 0)
				c += r->line[j].repeat;
		fprintf(out, "      %s (%d event%s)\n", l->what, c, c == 1 ? "" : "s");
	}
}

int quiz_nested_print(FILE *out, const struct vm_config *cfg, const char *design, uint64_t seed,
		      unsigned n, bool answers, const char *flags, char *err, size_t errlen)
{
	const char *designs[16];
	int nd = qn_designs(designs);
	uint64_t s = seed;

	if (n < 1 || n > QUIZ_MAX_N) {
		snprintf(err, errlen, "-n: expected 1..%d, got %u", QUIZ_MAX_N, n);
		return QUIZ_BAD_MACHINE;
	}
	if (nd == 0) {
		snprintf(err, errlen, "no nested-virtualization design in this vmmu");
		return QUIZ_FAILED;
	}
	uint64_t pick = qn_rand(&s);
	if (!design)
		design = designs[pick % (uint64_t)nd];
	const struct mmu_ops *m = mmu_find(design);
	if (!m || !l2f_is_design(design)) {
		snprintf(err, errlen, "--mode: '%s' is not a nested-virtualization design", design);
		return QUIZ_BAD_MACHINE;
	}
	struct l2f_run *r = malloc(sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return QUIZ_FAILED;
	}
	struct vm_config c = *cfg;
	c.mode = design;
	if (l2f_record(&c, r, err, errlen) != 0) {
		free(r);
		return QUIZ_BAD_MACHINE;
	}
	int ask[QUIZ_MAX_N];
	int na = qn_pick(r, &s, n, ask);

	fprintf(out, "vmmu quiz --kind nested, seed %" PRIu64 "\n\n", seed);
	fprintf(out,
		"An L2 guest runs under an L1 hypervisor, which runs in a VM of L0 (the\n"
		"machine's own hypervisor). The nested design is %s:\n  %s.\n"
		"(%d-level paging, host pages %s, VMCS shadowing %s.)\n\n",
		design, m->desc ? m->desc : "", cfg->levels, config_page_name(cfg->host_page),
		cfg->vmcs_shadow ? "on" : "off");
	fprintf(out, "A process of the L2 guest stores to a page it has mapped but never touched:\n"
		     "the L2 kernel takes a demand-zero fault, allocates and zeroes a frame, and\n"
		     "writes the PTE. The hardware has one level of VMX.\n\n");
	fprintf(out,
		"Q1. Can a VMM run in a VM? L1 is written for bare hardware: it reads exit\n"
		"    information with VMREAD, builds its guest's memory tables and resumes its\n"
		"    guest with VMRESUME. What must the hardware or L0 provide so that it runs\n"
		"    unchanged, and which of L1's actions in this fault does L0 intercept?\n\n");
	if (na == 0) {
		fprintf(out, "Q2. Under this design the fault takes no VM exit: why not? (Which "
			     "tables map\n    the new frame already?)\n");
	} else {
		fprintf(
		    out,
		    "Q2. Under recursive virtualization, which VMM handles an exit first, and\n"
		    "    which handles it in the end? The fault takes %d VM exits; for each of\n"
		    "    these, answer both:\n",
		    r->nexits);
		for (int k = 0; k < na; k++) {
			const struct l2f_line *e = l2f_exit(r, ask[k]);
			char w[64];
			qn_exit_words(e, w, sizeof(w));
			fprintf(out, "      exit %2d of %d: taken while L%d runs, %s\n", ask[k],
				r->nexits, e->level, w);
		}
		fprintf(out, "    And how many of the %d exits does L0 handle in the end?\n",
			r->nexits);
	}
	if (!answers) {
		fprintf(out, "\n(answers: the same command with -c)\n");
		free(r);
		return QUIZ_OK;
	}

	const struct stats *t = &r->total;
	int l2 = l2f_count(r, 2, -1, -1), l1 = l2f_count(r, 1, -1, -1);
	int refl = l2f_count(r, 2, -1, 1);
	fprintf(out,
		"\nAnswers, read from the run (`vmmu explain --scenario l2-fault --mode %s%s` "
		"tells it exit by exit):\n\n",
		design, flags ? flags : "");
	fprintf(out,
		"Q1. Yes, if L0 gives L1 what the hardware would. The hardware runs one level\n"
		"    of VMX, L0's, so L0 must trap what L1 does as a hypervisor and emulate it\n"
		"    on L1's virtual VMCS (vmcs12), and must hand L1 the exits of its guest that\n"
		"    L1 asked for, as the hardware would have (KVM: nested_vmx_vmexit()). In\n"
		"    this fault L0 intercepted %d of L1's actions (exits_l1 %" PRIu64 ")%s\n",
		l1, t->exits_l1, l1 ? ":" : ",");
	if (l1)
		qn_print_l1_actions(out, r);
	fprintf(out, "    and reflected %d of L2's %d exits to L1 (reflected_exits %" PRIu64 ").\n",
		refl, l2, t->reflected_exits);
	if (t->pvm_switches)
		fprintf(out,
			"    This design side-steps the question: L1 uses no VMX at all. It runs L2\n"
			"    in its own user mode behind a switcher (PVM, SOSP'23: pvm_vcpu_run()),\n"
			"    so L2's faults and page-table stores reach L1 as exceptions inside\n"
			"    L1's VM, which L0 does not intercept: %" PRIu64 " switcher round trip%s\n"
			"    (pvm_switches), no exit. L0 keeps only EPT01, L1's memory.\n",
			t->pvm_switches, t->pvm_switches == 1 ? "" : "s");
	if (qn_has_l0_work(r)) {
		fprintf(out, "    For L2's memory, L0's own work in this fault:\n");
		qn_print_l0_work(out, r);
	}
	fprintf(out,
		"    L1 cannot tell these from bare hardware: the L2 guest's memory and its\n"
		"    checksum equal native's under every design (the equivalence the tests\n"
		"    check). Hardware help shrinks L0's part: VMCS shadowing serves L1's\n"
		"    VMREADs without an exit (--vmcs-shadow %s here).\n\n",
		cfg->vmcs_shadow ? "on" : "off");
	if (na == 0) {
		fprintf(
		    out,
		    "Q2. No exit: the tables the hardware walks already map the new frame\n"
		    "    (with %s host pages, the leaf that maps the page the setup touched\n"
		    "    covers this one too), and the L2 kernel's own fault never leaves L2.\n",
		    config_page_name(cfg->host_page));
		free(r);
		return QUIZ_OK;
	}
	fprintf(out, "Q2. L0 handles every exit first: with one level of VMX in hardware, each\n"
		     "    exit of L2 and each exit of L1 lands in L0, the lowest VMM. Then:\n");
	for (int k = 0; k < na; k++) {
		const struct l2f_line *e = l2f_exit(r, ask[k]);
		char w[64];
		qn_exit_words(e, w, sizeof(w));
		int fin = l2f_final_handler(r, ask[k]);
		fprintf(out, "      exit %2d (L%d, %s): first L0, in the end L%d", ask[k], e->level,
			w, fin);
		if (e->level == 1)
			fprintf(out, ": L0 emulates what L1 did\n");
		else if (fin == 1)
			fprintf(out, ": L0 reflects it, L1 asked for it\n");
		else
			fprintf(out, ": L0's own business, L1 never learns of it\n");
		qn_print_handling(out, r, ask[k]);
	}
	fprintf(out,
		"    L0 handles %d of the %d exits in the end (%d of L2's alone, and all %d of\n"
		"    L1's); L1 handles %d. One L2 fault that L1 must see costs several exits to\n"
		"    L0: the Turtles project (OSDI'10) calls this exit multiplication.\n",
		r->nexits - refl, r->nexits, l2 - refl, l1, refl);
	free(r);
	return QUIZ_OK;
}

/*
 * l2fault.c - the l2-fault scenario: one L2 page fault told under each
 * nested-virtualization design (`vmmu explain --scenario l2-fault`).
 *
 * The guest step is scenario.c's (an L2 user store to a mapped page never
 * touched before); this file runs it under each design of l2f_designs[]
 * and tells, in the order they happened, the VM exits at each level and
 * what each handler did: an exit of L2 to L0, L0's work on it (its walk of
 * EPT12, its reflection to L1), L1's own exits to L0 (its VMREADs, its
 * trapped EPT12 stores, its VMRESUME), L1's handler work, and L2's side
 * (its kernel's #PF, the hardware's walk stopping at an EPT violation).
 * Then the counters per level, and a table that compares the designs.
 *
 * Everything told is a trace event of the run or a counter. The recorder
 * only assigns each event to a level and to an exit:
 *   - an exit counted in exits_l1 is L1's, any other exit is L2's (the
 *     hardware has one level of VMX: every exit lands in L0 first);
 *   - an L2 exit is reflected to L1 when reflected_exits moves at the
 *     exit or at the work traced next to it (nept counts the reflection
 *     before the exit, shadow-on-ept right after it);
 *   - work whose description starts "L0: " or "L1: " is that level's;
 *     other work (the shadow MMU's, nested paging's) is done by whoever
 *     handles its exit in the end: L1 for a reflected exit, else L0;
 *   - the mechanism traces a handler's work before the exit it belongs
 *     to (vm_exit() traces the exit once the handler is done); the
 *     narration prints the exit first, its handling below it, and L1's
 *     handling of a reflected exit where L1 runs it: after its VMREADs,
 *     before its VMRESUME.
 *
 * Invariant: the exit lines are the run's TR_VM_EXIT events, one each, in
 * the order taken; their count by level equals l2_exits and exits_l1
 * for the designs that count them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/pte.h"
#include "../core/vm.h"
#include "../report/csv.h"
#include "../cli/registry.h"
#include "explain.h"
#include "scenario.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The designs, in the order the scenario tells them: one mode name a
 * line. A design runs when the registry knows its mode.
 */
const char *const l2f_designs[] = {
    "nept",		/* KVM's nested EPT: L0 shadows EPT12 into EPT02 */
    "shadow-on-ept",	/* L1 runs shadow paging, L0 keeps EPT01 */
    "pvm",		/* shadow on EPT, PVM style: L1 without VMX */
    "shadow-on-shadow", /* L0 has no EPT either */
};
const size_t l2f_ndesigns = NELEMS(l2f_designs);

bool l2f_is_design(const char *mode)
{
	for (size_t k = 0; mode && k < l2f_ndesigns; k++)
		if (strcmp(l2f_designs[k], mode) == 0)
			return true;
	return false;
}

/* ---- the recorder ---- */

#define L2F_MAX_RAW 1024

struct l2f_raw {
	enum l2f_kind kind;
	int prefix;	  /* L2F_WORK: 0 "L0: ", 1 "L1: ", -1 neither */
	bool attach_prev; /* L2F_WORK: L0's reflection of the exit just before */
	struct l2f_line l;
};

struct l2f_rec {
	struct l2f_run *run;
	struct l2f_raw raw[L2F_MAX_RAW];
	int n;
	bool overflow;
	bool pending_reflect; /* reflected_exits moved before its L2 exit */
	uint64_t reflected;   /* reflected_exits at the last event */
};

static struct l2f_raw *rec_add(struct l2f_rec *r, enum l2f_kind kind, const struct trace_event *ev)
{
	if (r->n == L2F_MAX_RAW) {
		r->overflow = true;
		return NULL;
	}
	struct l2f_raw *x = &r->raw[r->n++];
	*x = (struct l2f_raw){.kind = kind,
			      .prefix = -1,
			      .l = {.kind = kind,
				    .ev = ev->kind,
				    .what = ev->what,
				    .repeat = 1,
				    .gva = ev->gva,
				    .addr = ev->addr,
				    .result = ev->result,
				    .cycles = ev->cycles}};
	return x;
}

static void rec_step(void *ctx, struct vm *vm, int n, const char *heading)
{
	struct l2f_rec *r = ctx;
	(void)vm;
	snprintf(r->run->heading, sizeof(r->run->heading), "step %d. %s", n, heading);
}

static void rec_event(void *ctx, struct vm *vm, const struct trace_event *ev, const char *ec)
{
	struct l2f_rec *r = ctx;
	const char *w = ev->what ? ev->what : "";
	bool moved = vm->st.reflected_exits != r->reflected;
	struct l2f_raw *prev = r->n ? &r->raw[r->n - 1] : NULL, *x = NULL;

	r->reflected = vm->st.reflected_exits;
	switch (ev->kind) {
	case TR_VM_EXIT:
		x = rec_add(r, L2F_EXIT, ev);
		if (!x)
			return;
		x->l.level = ec && strcmp(ec, "exits_l1") == 0 ? 1 : 2;
		x->l.reason = ev->result;
		x->l.counter = ec;
		x->l.what = NULL;
		if (x->l.level == 2 && (moved || r->pending_reflect)) {
			x->l.reflected = true;
			r->pending_reflect = false;
		}
		return;
	case TR_VMM_OP:
	case TR_TLB_FLUSH:
		if (ev->kind == TR_TLB_FLUSH && strncmp(w, "VMM", 3) != 0)
			return;
		x = rec_add(r, L2F_WORK, ev);
		if (!x)
			return;
		if (strncmp(w, "L0: ", 4) == 0 || strncmp(w, "L1: ", 4) == 0) {
			x->prefix = w[1] - '0';
			x->l.what = w + 4;
		}
		if (strncmp(w, "PVM switcher", 12) == 0) {
			/* PVM: the work since the last exit or guest line ran in
			 * L1, which the switcher entered without an exit. */
			for (int i = r->n - 1; i >= 0; i--) {
				struct l2f_raw *y = &r->raw[i];
				if (y->kind != L2F_WORK || y->attach_prev)
					break;
				if (y->prefix < 0)
					y->prefix = 1;
			}
		}
		if (moved) {
			if (prev && prev->kind == L2F_EXIT && prev->l.level == 2 &&
			    !prev->l.reflected) {
				prev->l.reflected = true;
				x->attach_prev = true;
			} else {
				r->pending_reflect = true;
			}
		}
		return;
	case TR_GUEST_FAULT:
	case TR_GUEST_OP:
		rec_add(r, L2F_GUEST, ev);
		return;
	case TR_WALK_DONE:
		if (ev->dim == DIM_HOST && strncmp(w, "EPT violation", 13) == 0)
			rec_add(r, L2F_GUEST, ev);
		return;
	default:
		return;
	}
}

/* Append line l to the run, told once with its neighbour when equal. */
static void run_put(struct l2f_run *run, const struct l2f_line *l, bool *overflow)
{
	if (l->kind == L2F_WORK && run->n) {
		struct l2f_line *p = &run->line[run->n - 1];
		if (p->kind == L2F_WORK && p->level == l->level && p->under_exit == l->under_exit &&
		    p->what && l->what && strcmp(p->what, l->what) == 0 && p->addr == l->addr &&
		    p->gva == l->gva) {
			p->repeat++;
			p->cycles += l->cycles;
			return;
		}
	}
	if (run->n == L2F_MAX_LINES) {
		*overflow = true;
		return;
	}
	run->line[run->n++] = *l;
}

static void put_work(struct l2f_run *run, const struct l2f_raw *x, int level, bool under,
		     bool *overflow)
{
	struct l2f_line l = x->l;
	l.level = level;
	l.under_exit = under;
	run_put(run, &l, overflow);
}

/* Turn the raw events into the narration's lines (see the file comment). */
static void rec_lines(struct l2f_rec *r, bool *overflow)
{
	struct l2f_run *run = r->run;
	int block[L2F_MAX_RAW], nb = 0;	   /* work since the last exit or guest line */
	int deferred[L2F_MAX_RAW], nd = 0; /* L1's handling of a reflected exit */

	for (int i = 0; i <= r->n; i++) {
		struct l2f_raw *x = i < r->n ? &r->raw[i] : NULL;
		if (x && x->kind == L2F_WORK) {
			if (x->attach_prev)
				put_work(run, x, x->prefix < 0 ? 0 : x->prefix, true, overflow);
			else
				block[nb++] = i;
			continue;
		}
		if (!x || x->kind == L2F_GUEST) {
			/* Work with no exit after it: told as it came. */
			for (int k = 0; k < nb; k++) {
				const struct l2f_raw *w = &r->raw[block[k]];
				put_work(run, w, w->prefix < 0 ? 0 : w->prefix, false, overflow);
			}
			nb = 0;
			if (!x) {
				for (int k = 0; k < nd; k++)
					put_work(run, &r->raw[deferred[k]], 1, false, overflow);
				break;
			}
			run_put(run, &x->l, overflow);
			continue;
		}
		/* An exit: L1's cause first, then the exit, then its handling. */
		int cause = -1;
		if (x->l.level == 1 && nb && r->raw[block[nb - 1]].prefix == 1)
			cause = block[nb - 1];
		if (x->l.level == 1 && x->l.reason == EXIT_VMRESUME) {
			for (int k = 0; k < nd; k++)
				put_work(run, &r->raw[deferred[k]], 1, false, overflow);
			nd = 0;
		}
		for (int k = 0; k < nb; k++) {
			const struct l2f_raw *w = &r->raw[block[k]];
			if (block[k] != cause && w->prefix == 1)
				put_work(run, w, 1, false, overflow);
		}
		struct l2f_line e = x->l;
		e.exit_no = ++run->nexits;
		if (cause >= 0) {
			e.what = r->raw[cause].l.what;
			e.cycles = x->l.cycles;
		}
		run_put(run, &e, overflow);
		for (int k = 0; k < nb; k++) {
			const struct l2f_raw *w = &r->raw[block[k]];
			if (block[k] == cause || w->prefix == 1)
				continue;
			if (w->prefix < 0 && x->l.level == 2 && x->l.reflected)
				deferred[nd++] = block[k];
			else
				put_work(run, w, w->prefix < 0 ? 0 : w->prefix, true, overflow);
		}
		nb = 0;
	}
}

int l2f_record(const struct vm_config *cfg, struct l2f_run *run, char *err, size_t errlen)
{
	struct l2f_rec *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(run, 0, sizeof(*run));
	run->mode = cfg->mode;
	r->run = run;
	struct scenario_observer obs = {.step = rec_step, .event = rec_event, .ctx = r};
	int rc = scenario_run("l2-fault", cfg, &obs, &run->total, err, errlen);
	if (rc == 0) {
		bool overflow = r->overflow;
		rec_lines(r, &overflow);
		if (overflow) {
			snprintf(err, errlen, "l2-fault under %s: more than %d events", cfg->mode,
				 L2F_MAX_RAW);
			rc = -1;
		}
	}
	free(r);
	return rc;
}

int l2f_count(const struct l2f_run *r, int level, int reason, int reflected)
{
	int n = 0;
	for (int i = 0; i < r->n; i++) {
		const struct l2f_line *l = &r->line[i];
		if (l->kind != L2F_EXIT || l->level != level)
			continue;
		if (reason >= 0 && l->reason != (uint64_t)reason)
			continue;
		if (reflected >= 0 && l->reflected != (reflected != 0))
			continue;
		n++;
	}
	return n;
}

const struct l2f_line *l2f_exit(const struct l2f_run *r, int k)
{
	for (int i = 0; i < r->n; i++)
		if (r->line[i].kind == L2F_EXIT && r->line[i].exit_no == k)
			return &r->line[i];
	return NULL;
}

int l2f_final_handler(const struct l2f_run *r, int k)
{
	const struct l2f_line *e = l2f_exit(r, k);
	if (!e)
		return -1;
	return e->level == 2 && e->reflected ? 1 : 0;
}

/* ---- the narrator ---- */

static const char *pfec_words(uint64_t ec, char *buf, size_t len)
{
	snprintf(buf, len, "%s, %s, %s", (ec & PFEC_P) ? "protection" : "not present",
		 (ec & PFEC_I)	 ? "fetch"
		 : (ec & PFEC_W) ? "write"
				 : "read",
		 (ec & PFEC_U) ? "user" : "kernel");
	return buf;
}

static void say_guest(FILE *f, const struct l2f_line *l, bool exits_before)
{
	const char *w = l->what ? l->what : "";
	char b[64];
	if (l->ev == TR_GUEST_FAULT)
		fprintf(f,
			"  L2   #PF at %#" PRIx64 ", error code %#" PRIx64
			" (%s): delivered to the L2 kernel%s\n",
			l->gva, l->result, pfec_words(l->result, b, sizeof(b)),
			exits_before ? "" : ", no exit");
	else if (l->ev == TR_WALK_DONE)
		fprintf(f,
			"  L2   the hardware's walk for %#" PRIx64 " stops: %s, gPA %#" PRIx64 "\n",
			l->gva, w, l->addr);
	else if (strcmp(w, "zero page") == 0)
		fprintf(f, "  L2   kernel zeroes the new page (kva %#" PRIx64 ")\n", l->gva);
	else if (strcmp(w, "guest pte write") == 0)
		fprintf(f, "  L2   kernel writes its PTE at gPA %#" PRIx64 "\n", l->addr);
	else if (strncmp(w, "demand-zero", 11) == 0)
		fprintf(f, "  L2   kernel: %s: %#" PRIx64 " -> gPA %#" PRIx64 "\n", w,
			l->gva & PAGE_MASK, l->addr);
	else
		fprintf(f, "  L2   kernel: %s\n", w);
}

static void say_work(FILE *f, const struct l2f_line *l)
{
	fprintf(f, "%s  L%d   %s", l->under_exit ? "         " : "       ", l->level,
		l->what ? l->what : "VMM work");
	if (l->gva)
		fprintf(f, ", for %#" PRIx64, l->gva);
	if (l->addr)
		fprintf(f, ", gPA %#" PRIx64, l->addr);
	if (l->repeat > 1)
		fprintf(f, " (x%d)", l->repeat);
	fputc('\n', f);
}

/* Why an L2 exit happened, by the counter it incremented. */
static const char *exit_why(const char *counter)
{
	static const struct {
		const char *name, *text;
	} t[] = {
	    {"exits_fault_inject", "a true L2 fault (the L2 entry is missing)"},
	    {"exits_hidden_fault",
	     "a hidden fault (the L2 entry allows it, the shadow's does not)"},
	    {"exits_pt_write", "a store to a write-protected L2 page table"},
	    {"exits_dirty", "a first store to a clean page"},
	    {"exits_cr3", "MOV to CR3"},
	    {"exits_invlpg", "INVLPG"},
	    {"exits_ept_violation", "the EPT the hardware walks does not map the gPA"},
	};
	for (size_t k = 0; counter && k < NELEMS(t); k++)
		if (strcmp(t[k].name, counter) == 0)
			return t[k].text;
	return NULL;
}

static void say_exit(FILE *f, const struct l2f_line *l)
{
	fprintf(f, "  %3d. L%d -> L0  exit %" PRIu64 " %s, %" PRIu64 " cycles [%s]: ", l->exit_no,
		l->level, l->reason, xp_exit_name(l->reason), l->cycles,
		l->counter ? l->counter : "?");
	if (l->level == 2) {
		const char *why = exit_why(l->counter);
		fprintf(f, "%s%sL0 %s\n", why ? why : "", why ? "; " : "",
			l->reflected ? "reflects it to L1" : "handles it alone");
	} else if (l->what) {
		fprintf(f, "L1's %s\n", l->what);
	} else {
		fprintf(f, "L0 handles it\n");
	}
}

/* The counters per level of one design. */
static void say_levels(FILE *f, const struct l2f_run *r)
{
	const struct stats *t = &r->total;
	int l2 = l2f_count(r, 2, -1, -1), l1 = l2f_count(r, 1, -1, -1);
	int refl = l2f_count(r, 2, -1, 1);
	uint64_t l0_cyc = t->cyc_vmm >= t->l1_cycles ? t->cyc_vmm - t->l1_cycles : 0;
	uint64_t reasons[] = {EXIT_VMREAD,	  EXIT_VMWRITE, EXIT_VMRESUME,
			      EXIT_EPT_VIOLATION, EXIT_INVEPT,	EXIT_EXCEPTION};
	fprintf(f, "  per level:\n");
	fprintf(f,
		"    L2  %" PRIu64 " guest fault%s, handled by the L2 kernel; %d exit%s to L0 "
		"(l2_exits %" PRIu64 ")\n",
		t->guest_faults, t->guest_faults == 1 ? "" : "s", l2, l2 == 1 ? "" : "s",
		t->l2_exits);
	fprintf(f,
		"    L0  takes all %d exits (vm_exits %" PRIu64 "): of L2's, %d handled alone and "
		"%d reflected to L1 (reflected_exits %" PRIu64 "); %d of L1 (exits_l1 %" PRIu64 "",
		l2 + l1, t->vm_exits, l2 - refl, refl, t->reflected_exits, l1, t->exits_l1);
	for (size_t k = 0; k < NELEMS(reasons); k++) {
		int c = l2f_count(r, 1, (int)reasons[k], -1);
		if (c)
			fprintf(f, ", %s %d", xp_exit_name(reasons[k]), c);
	}
	fprintf(f,
		"); handlers %" PRIu64 " cycles, exits and entries %" PRIu64
		" cycles, software walk refs %" PRIu64 "\n",
		l0_cyc, t->cyc_exit, t->vmm_walk_refs);
	fprintf(f, "    L1  handles the %d exit%s reflected to it; ", refl, refl == 1 ? "" : "s");
	if (t->pvm_switches)
		fprintf(f, "entered %" PRIu64 " time%s through its switcher, no exit (pvm_switches); ",
			t->pvm_switches, t->pvm_switches == 1 ? "" : "s");
	if (t->ept12_writes)
		fprintf(f, "%" PRIu64 " EPT12 store%s (ept12_writes); ", t->ept12_writes,
			t->ept12_writes == 1 ? "" : "s");
	fprintf(f, "handlers %" PRIu64 " cycles (l1_cycles)\n", t->l1_cycles);
	fprintf(f, "    est. cycles %" PRIu64 "\n", stats_est_cycles(t));
}

static void say_run(FILE *f, const struct l2f_run *r)
{
	const struct mmu_ops *m = mmu_find(r->mode);
	fprintf(f, "\n-- %s: %s\n", r->mode, m && m->desc ? m->desc : "");
	fprintf(f, "  %s\n", r->heading);
	bool exits_before = false;
	for (int i = 0; i < r->n; i++) {
		const struct l2f_line *l = &r->line[i];
		switch (l->kind) {
		case L2F_GUEST:
			say_guest(f, l, exits_before);
			break;
		case L2F_EXIT:
			exits_before = true;
			say_exit(f, l);
			break;
		case L2F_WORK:
			say_work(f, l);
			break;
		}
	}
	if (r->nexits == 0)
		fprintf(f, "  no VM exit\n");
	say_levels(f, r);
}

/* One row of the table: a label and a value per run. */
static void row(FILE *f, const char *label, const struct l2f_run *const *r, int n,
		uint64_t (*get)(const struct l2f_run *, const void *), const void *arg)
{
	fprintf(f, "  %-34s", label);
	for (int k = 0; k < n; k++)
		fprintf(f, " %16" PRIu64, get(r[k], arg));
	fputc('\n', f);
}

struct cnt_arg {
	int level, reason, reflected;
};

static uint64_t get_count(const struct l2f_run *r, const void *a)
{
	const struct cnt_arg *c = a;
	return (uint64_t)l2f_count(r, c->level, c->reason, c->reflected);
}

static uint64_t get_stat(const struct l2f_run *r, const void *a)
{
	const char *name = a;
	if (strcmp(name, "est_cycles") == 0)
		return stats_est_cycles(&r->total);
	if (strcmp(name, "l0_cycles") == 0)
		return r->total.cyc_vmm >= r->total.l1_cycles
			   ? r->total.cyc_vmm - r->total.l1_cycles
			   : 0;
	for (size_t k = 0; k < stat_nfields; k++)
		if (strcmp(stat_fields[k].name, name) == 0)
			return stat_get(&r->total, &stat_fields[k]);
	return 0;
}

/* Rows for each exit reason of 'level' that some run took. */
static void reason_rows(FILE *f, const struct l2f_run *const *r, int n, int level)
{
	bool seen[64] = {false};
	for (int k = 0; k < n; k++)
		for (int i = 0; i < r[k]->n; i++)
			if (r[k]->line[i].kind == L2F_EXIT && r[k]->line[i].level == level &&
			    r[k]->line[i].reason < NELEMS(seen))
				seen[r[k]->line[i].reason] = true;
	for (size_t reason = 0; reason < NELEMS(seen); reason++) {
		if (!seen[reason])
			continue;
		char label[64];
		snprintf(label, sizeof(label), "    %s (%zu)", xp_exit_name(reason), reason);
		struct cnt_arg a = {level, (int)reason, -1};
		row(f, label, r, n, get_count, &a);
	}
}

static void say_table(FILE *f, const struct l2f_run *const *r, int n)
{
	fprintf(f, "\nl2-fault side by side:\n");
	fprintf(f, "  %-34s", "counter");
	for (int k = 0; k < n; k++)
		fprintf(f, " %16s", r[k]->mode);
	fputc('\n', f);
	struct cnt_arg l2 = {2, -1, -1}, alone = {2, -1, 0}, refl = {2, -1, 1}, l1 = {1, -1, -1};
	row(f, "L2 guest faults (L2 kernel)", r, n, get_stat, "guest_faults");
	row(f, "L2 -> L0 exits", r, n, get_count, &l2);
	reason_rows(f, r, n, 2);
	row(f, "  handled by L0 alone", r, n, get_count, &alone);
	row(f, "  reflected to L1", r, n, get_count, &refl);
	row(f, "L1 -> L0 exits", r, n, get_count, &l1);
	reason_rows(f, r, n, 1);
	row(f, "exits L0 takes (vm_exits)", r, n, get_stat, "vm_exits");
	row(f, "EPT12 stores (ept12_writes)", r, n, get_stat, "ept12_writes");
	row(f, "L1 switcher trips (pvm_switches)", r, n, get_stat, "pvm_switches");
	row(f, "L0 handler cycles", r, n, get_stat, "l0_cycles");
	row(f, "L1 handler cycles (l1_cycles)", r, n, get_stat, "l1_cycles");
	row(f, "exit and entry cycles (cyc_exit)", r, n, get_stat, "cyc_exit");
	row(f, "est. cycles", r, n, get_stat, "est_cycles");
	if (n < 2)
		return;
	int fewest = 0, cheapest = 0;
	for (int k = 1; k < n; k++) {
		if (r[k]->total.vm_exits < r[fewest]->total.vm_exits)
			fewest = k;
		if (stats_est_cycles(&r[k]->total) < stats_est_cycles(&r[cheapest]->total))
			cheapest = k;
	}
	fprintf(f, "  fewest exits: %s (%" PRIu64 "); cheapest: %s (%" PRIu64 " cycles)\n",
		r[fewest]->mode, r[fewest]->total.vm_exits, r[cheapest]->mode,
		stats_est_cycles(&r[cheapest]->total));
}

int l2f_narrate(FILE *f, const struct vm_config *cfg, const char *only, bool table_only, char *err,
		size_t errlen)
{
	struct l2f_run *runs[NELEMS(l2f_designs)];
	const char *skipped[NELEMS(l2f_designs)];
	int n = 0, ns = 0, rc = 0;

	if (only && (!l2f_is_design(only) || !mmu_find(only))) {
		snprintf(err, errlen, "'%s' is not a nested-virtualization design of this vmmu",
			 only);
		return -1;
	}
	for (size_t k = 0; k < l2f_ndesigns; k++) {
		const char *mode = l2f_designs[k];
		if (only && strcmp(only, mode) != 0)
			continue;
		if (!mmu_find(mode)) {
			skipped[ns++] = mode;
			continue;
		}
		struct l2f_run *r = malloc(sizeof(*r));
		if (!r) {
			snprintf(err, errlen, "out of memory");
			rc = -1;
			break;
		}
		struct vm_config c = *cfg;
		c.mode = mode;
		if (l2f_record(&c, r, err, errlen) != 0) {
			free(r);
			rc = -1;
			break;
		}
		runs[n++] = r;
	}
	if (rc == 0) {
		const struct scenario_info *info = NULL;
		for (size_t k = 0; k < scenario_count; k++)
			if (strcmp(scenario_list[k].name, "l2-fault") == 0)
				info = &scenario_list[k];
		fprintf(f, "== scenario l2-fault: %s\n", info ? info->summary : "");
		struct vm_config c = *cfg;
		c.mode = NULL;
		scenario_describe_machine(f, &c);
		fprintf(f, "VMCS shadowing %s: L1's VMREADs %s\n", cfg->vmcs_shadow ? "on" : "off",
			cfg->vmcs_shadow ? "are served by the CPU, no exit"
					 : "each exit to L0 (--vmcs-shadow on to change)");
		fprintf(f, "setup (not narrated): %s; counters reset\n", info ? info->setup : "");
		if (ns) {
			fprintf(f, "not built in this vmmu, skipped:");
			for (int k = 0; k < ns; k++)
				fprintf(f, " %s", skipped[k]);
			fputc('\n', f);
		}
		if (!table_only)
			for (int k = 0; k < n; k++)
				say_run(f, runs[k]);
		say_table(f, (const struct l2f_run *const *)runs, n);
	}
	for (int k = 0; k < n; k++)
		free(runs[k]);
	return rc;
}

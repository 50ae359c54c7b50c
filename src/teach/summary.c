/*
 * summary.c - what `vmmu explain --scenario` prints after a run: the totals
 * of one mode (exits by reason, guest faults, walks, flushes, cycles), and
 * the side-by-side comparison of every mode.
 *
 * Invariant: every figure printed is a counter of the run's statistics.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../report/csv.h"
#include "scenario.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- summaries ---- */

static const char *const exit_counters[] = {
    "exits_fault_inject", "exits_hidden_fault", "exits_pt_write",      "exits_dirty",
    "exits_cr3",	  "exits_invlpg",	"exits_ept_violation", "exits_ept_misconfig",
    "exits_viommu",
};

static const struct stat_field *field(const char *name)
{
	for (size_t k = 0; k < stat_nfields; k++)
		if (strcmp(stat_fields[k].name, name) == 0)
			return &stat_fields[k];
	return NULL;
}

static uint64_t sget(const struct stats *s, const char *name)
{
	const struct stat_field *f = field(name);
	return f ? stat_get(s, f) : 0;
}

void scenario_print_summary(FILE *f, const char *scn, const char *mode, const struct stats *t)
{
	char line[512];
	size_t o = 0;

	fprintf(f, "\nsummary of %s under %s:\n", scn, mode);
	line[0] = '\0';
	for (size_t k = 0; k < NELEMS(exit_counters); k++) {
		uint64_t v = sget(t, exit_counters[k]);
		if (v)
			o += (size_t)snprintf(line + o, sizeof(line) - o, "%s%s %" PRIu64,
					      o ? ", " : "", exit_counters[k] + 6, v);
	}
	fprintf(f, "  VM exits         %" PRIu64 "%s%s%s\n", t->vm_exits, o ? " (" : "", line,
		o ? ")" : "");
	if (t->pvm_switches)
		fprintf(f, "  PVM switches     %" PRIu64 " (L2 -> L1 -> L2, no VM exit)\n",
			t->pvm_switches);
	fprintf(f,
		"  guest faults     %" PRIu64 " (demand-zero %" PRIu64 ", copy-on-write %" PRIu64
		")\n",
		t->guest_faults, t->demand_faults, t->cow_faults);
	fprintf(f, "  TLB misses       %" PRIu64 " of %" PRIu64 " accesses\n", t->tlb_misses,
		t->accesses);
	fprintf(f,
		"  walks            %" PRIu64 " completed, %" PRIu64 " reference%s (+%" PRIu64
		" in walks that faulted or exited)\n",
		t->walks, t->walk_refs, t->walk_refs == 1 ? "" : "s", t->fault_walk_refs);
	if (t->vmm_walk_refs)
		fprintf(f, "  VMM walk refs    %" PRIu64 "\n", t->vmm_walk_refs);
	if (t->hypercalls)
		fprintf(f,
			"  hypercalls       %" PRIu64 " (%" PRIu64 " page-table updates, %" PRIu64
			" mmuext ops, %" PRIu64 " lazy-MMU batches)\n",
			t->hypercalls, t->pv_pt_updates, t->pv_mmuext_ops, t->pv_batches);
	fprintf(f, "  TLB flushes      %" PRIu64 " (%" PRIu64 " entries dropped)\n", t->tlb_flushes,
		t->tlb_entries_flushed);
	o = 0;
	line[0] = '\0';
	for (size_t k = 0; k < stat_nfields; k++) {
		uint64_t v = stat_get(t, &stat_fields[k]);
		if (v && strncmp(stat_fields[k].name, "cyc_", 4) == 0)
			o += (size_t)snprintf(line + o, sizeof(line) - o, "%s%s %" PRIu64,
					      o ? ", " : "", stat_fields[k].name + 4, v);
	}
	fprintf(f, "  est. cycles      %" PRIu64 "%s%s%s\n", stats_est_cycles(t), o ? " (" : "",
		line, o ? ")" : "");
}

static const char *const compare_rows[] = {
    "accesses",	      "tlb_misses",    "walks",	    "walk_refs",	  "fault_walk_refs",
    "vmm_walk_refs",  "guest_faults",  "vm_exits",  "pvm_switches",
    "exits_fault_inject", "exits_hidden_fault",
    "exits_pt_write", "exits_dirty",   "exits_cr3", "exits_invlpg",	  "exits_ept_violation",
    "hypercalls",     "pv_pt_updates", "resyncs",   "unshadows",	  "root_cache_hits",
    "tlb_flushes",    "cyc_access",    "cyc_walk",  "cyc_exit",		  "cyc_vmm",
    "cyc_guest",      "cyc_flush",
};

/* The largest cost part by which a's cycles exceed b's; NULL when none. */
static const char *largest_extra(const struct stats *a, const struct stats *b, int64_t *by)
{
	const char *part = NULL;
	*by = 0;
	for (size_t k = 0; k < stat_nfields; k++) {
		if (strncmp(stat_fields[k].name, "cyc_", 4) != 0)
			continue;
		int64_t d =
		    (int64_t)stat_get(a, &stat_fields[k]) - (int64_t)stat_get(b, &stat_fields[k]);
		if (d > *by) {
			*by = d;
			part = stat_fields[k].name;
		}
	}
	return part;
}

void scenario_print_compare(FILE *f, const char *scn, const char *const *modes,
			    const struct stats *t, int nm)
{
	fprintf(f, "\n%s side by side:\n", scn);
	fprintf(f, "  %-20s", "counter");
	for (int m = 0; m < nm; m++)
		fprintf(f, " %12s", modes[m]);
	fputc('\n', f);
	for (size_t r = 0; r < NELEMS(compare_rows); r++) {
		bool any = false;
		for (int m = 0; m < nm; m++)
			any |= sget(&t[m], compare_rows[r]) != 0;
		if (!any && (strncmp(compare_rows[r], "exits_", 6) == 0 ||
			     strcmp(compare_rows[r], "hypercalls") == 0 ||
			     strcmp(compare_rows[r], "pv_pt_updates") == 0))
			continue;
		if (!any && strncmp(compare_rows[r], "cyc_", 4) == 0)
			continue;
		if (!any && (strcmp(compare_rows[r], "resyncs") == 0 ||
			     strcmp(compare_rows[r], "unshadows") == 0 ||
			     strcmp(compare_rows[r], "root_cache_hits") == 0 ||
			     strcmp(compare_rows[r], "vmm_walk_refs") == 0))
			continue;
		fprintf(f, "  %-20s", compare_rows[r]);
		for (int m = 0; m < nm; m++)
			fprintf(f, " %12" PRIu64, sget(&t[m], compare_rows[r]));
		fputc('\n', f);
	}
	fprintf(f, "  %-20s", "est_cycles");
	for (int m = 0; m < nm; m++)
		fprintf(f, " %12" PRIu64, stats_est_cycles(&t[m]));
	fputc('\n', f);

	/* Why: each mode against the cheapest, and shadow against nested, by
	 * the cost part that differs most. */
	int best = 0;
	for (int m = 1; m < nm; m++)
		if (stats_est_cycles(&t[m]) < stats_est_cycles(&t[best]))
			best = m;
	fprintf(f, "  cheapest: %s\n", modes[best]);
	for (int m = 0; m < nm; m++) {
		int64_t by;
		const char *part = largest_extra(&t[m], &t[best], &by);
		if (m == best)
			continue;
		fprintf(f, "  %s: +%" PRIu64 " cycles over %s", modes[m],
			stats_est_cycles(&t[m]) - stats_est_cycles(&t[best]), modes[best]);
		if (part)
			fprintf(f, ", mostly %s (+%" PRId64 ")", part, by);
		fputc('\n', f);
	}
	if (nm >= 3 && best == 0) { /* modes[1], modes[2]: shadow and nested */
		int lo = stats_est_cycles(&t[1]) <= stats_est_cycles(&t[2]) ? 1 : 2, hi = 3 - lo;
		int64_t by;
		const char *part = largest_extra(&t[hi], &t[lo], &by);
		fprintf(f, "  %s vs %s: %s is cheaper by %" PRIu64 " cycles", modes[1], modes[2],
			modes[lo], stats_est_cycles(&t[hi]) - stats_est_cycles(&t[lo]));
		if (part)
			fprintf(f, "; %s pays more in %s (+%" PRId64 ")", modes[hi], part, by);
		fputc('\n', f);
	}
}

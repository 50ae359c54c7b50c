/*
 * replay_summary.c - the replay paragraph of compare's summary.md (see
 * replay_summary.h).
 */
#include <inttypes.h>
#include <string.h>

#include "replay_summary.h"
#include "../core/stats.h"
#include "../../workloads/replay.h"

_Static_assert(2 * RSYS_NCALLS <= RUN_WL_COUNTS, "wl_counts holds calls and their exits");

void replay_summary_counts(const struct workload *w, struct run_result *r)
{
	const struct replay_input *in = replay_input_of(w);

	if (in == NULL)
		return;
	for (int k = 0; k < RSYS_NCALLS; k++) {
		r->wl_counts[k] = in->sys.call[k].calls;
		r->wl_counts[RSYS_NCALLS + k] = in->sys.call[k].pt_write_exits;
	}
}

static const struct job *run_of(const struct job *row, size_t n, const char *mode)
{
	for (size_t m = 0; m < n; m++)
		if (row[m].state == JOB_OK && strcmp(row[m].m->name, mode) == 0)
			return &row[m];
	return NULL;
}

void replay_summary_write(FILE *f, const struct workload *w, const struct job *row, size_t n)
{
	const struct job *any = NULL, *sh = run_of(row, n, "shadow"),
			 *ne = run_of(row, n, "nested");
	const struct stats *s;
	int first = 1;

	if (replay_input_of(w) == NULL)
		return;
	for (size_t m = 0; m < n && any == NULL; m++)
		if (row[m].state == JOB_OK)
			any = &row[m];
	if (any == NULL)
		return;
	fprintf(f, "\nMemory system calls replayed (page-table updates):");
	for (int k = 0; k < RSYS_NCALLS; k++)
		fprintf(f, "%s %s %" PRIu64, k ? "," : "", rsys_call_name(k), any->r.wl_counts[k]);
	fprintf(f,
		"; %" PRIu64 " guest faults (%" PRIu64 " copy-on-write), %" PRIu64
		" INVLPG, %" PRIu64 " guest TLB flushes.\n",
		any->r.st.guest_faults, any->r.st.cow_faults, any->r.st.invlpgs,
		any->r.st.guest_tlb_flushes);
	if (sh == NULL)
		return;
	s = &sh->r.st;
	fprintf(f,
		"\nShadow exits by reason: hidden fault %" PRIu64 ", page-table write %" PRIu64
		", CR3 %" PRIu64 ", INVLPG %" PRIu64 ", dirty %" PRIu64 ", fault injection %" PRIu64
		" (%" PRIu64 " in all).",
		s->exits_hidden_fault, s->exits_pt_write, s->exits_cr3, s->exits_invlpg,
		s->exits_dirty, s->exits_fault_inject, s->vm_exits);
	for (int k = 0; k < RSYS_NCALLS; k++) {
		uint64_t e = sh->r.wl_counts[RSYS_NCALLS + k];
		if (e == 0)
			continue;
		fprintf(f, "%s %s %" PRIu64,
			first ? " Page-table-write exits inside system calls:" : ",",
			rsys_call_name(k), e);
		first = 0;
	}
	fprintf(f, "%s\n", first ? "" : ".");
	if (ne != NULL) {
		double ps = sh->r.st.accesses ? (double)sh->r.st.accesses / 1000.0 : 1.0;
		double pn = ne->r.st.accesses ? (double)ne->r.st.accesses / 1000.0 : 1.0;
		fprintf(f,
			"\nShadow against nested, per 1000 accesses: %.2f exits against %.2f,"
			" %.2f walk references against %.2f, %.1f cycles in exits"
			" and the VMM against %.1f.\n",
			(double)sh->r.st.vm_exits / ps, (double)ne->r.st.vm_exits / pn,
			(double)sh->r.st.walk_refs / ps, (double)ne->r.st.walk_refs / pn,
			(double)(sh->r.st.cyc_exit + sh->r.st.cyc_vmm) / ps,
			(double)(ne->r.st.cyc_exit + ne->r.st.cyc_vmm) / pn);
		fprintf(f,
			"Between the two virtualized modes, **%s** wins (shadow %" PRIu64
			" estimated cycles, nested %" PRIu64 ").\n",
			stats_est_cycles(&sh->r.st) <= stats_est_cycles(&ne->r.st) ? "shadow"
										   : "nested",
			stats_est_cycles(&sh->r.st), stats_est_cycles(&ne->r.st));
	}
}

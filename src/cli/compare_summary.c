/*
 * compare_summary.c - what `vmmu compare` writes about its runs: the rows of
 * compare.csv and summary.md (the overview table, each workload's modes
 * with their ratio to native, the winner or "no clear winner" with seeds,
 * the gap to the winner by cost part, and shadow against nested).
 */
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "../report/ci.h"
#include "../report/csv.h"
#include "../report/manifest.h"
#include "../report/output.h"
#include "jobs.h"
#include "../core/mmu.h"
#include "../report/plot.h"
#include "../../workloads/replay.h"
#include "replay_summary.h"
#include "../lib/run.h"
#include "../core/stats.h"
#include "../core/vm.h"
#include "registry.h"

#define COMPARE_DEFAULT_JOBS 2
#define COMPARE_MAX_JOBS JOBS_MAX_PAR
#define COMPARE_MAX_MODES 16
#define COMPARE_MAX_SEEDS 1000
/* Lackey traces replayed by default (replay.h): the committed one, and
 * those `make traces` records. */
#define COMPARE_DEFAULT_TRACES "tests/data,workloads/traces"

#include "compare.h"

/* ---- output ---- */

int compare_csv_fill(FILE *f, void *ctx)
{
	const struct compare *c = ctx;

	if (csv_write_header(f) < 0)
		return -1;
	for (size_t k = 0; k < c->njob; k++) {
		const struct job *j = &c->job[k];

		if (j->state != JOB_OK)
			continue;
		if (csv_write_row(f, j->w->name, &j->cfg, &j->r) < 0)
			return -1;
	}
	return 0;
}

/*
 * A workload does the same work under every mode, so modes are compared on
 * the total estimated cycles of their runs: the ratio to native, the winner
 * and the gaps all use totals. Where the modes' access counts agree this is
 * the same as comparing cycles per access; where they differ (a mode that
 * counts extra kernel accesses), totals keep the comparison fair, and the
 * summary says so. Gaps are expressed per access of the winner's run.
 */
static uint64_t run_cycles(const struct job *j)
{
	return stats_est_cycles(&j->r.st);
}

/* "`cyc_exit` +20.10, `cyc_vmm` +7.50": the two cost parts of j that differ
 * most from the winner's, in cycles per access of the winner's run. */
static void gap_parts(const struct job *j, const struct job *win, char *buf, size_t len)
{
	size_t best[2] = {SIZE_MAX, SIZE_MAX};
	double diff[2] = {0, 0};
	double per = win->r.st.accesses ? (double)win->r.st.accesses : 1.0;

	for (size_t k = 0; k < stat_nfields; k++) {
		if (strncmp(stat_fields[k].name, "cyc_", 4) != 0)
			continue;
		double d = ((double)stat_get(&j->r.st, &stat_fields[k]) -
			    (double)stat_get(&win->r.st, &stat_fields[k])) /
			   per;
		if (best[0] == SIZE_MAX || fabs(d) > fabs(diff[0])) {
			best[1] = best[0];
			diff[1] = diff[0];
			best[0] = k;
			diff[0] = d;
		} else if (best[1] == SIZE_MAX || fabs(d) > fabs(diff[1])) {
			best[1] = k;
			diff[1] = d;
		}
	}
	buf[0] = '\0';
	for (int k = 0; k < 2; k++) {
		size_t used = strlen(buf);
		if (best[k] == SIZE_MAX)
			break;
		snprintf(buf + used, len - used, "%s`%s` %+.2f", k ? ", " : "",
			 stat_fields[best[k]].name, diff[k]);
	}
}

/* The successful run with the fewest estimated cycles; the first on a tie. */
static const struct job *best_run(const struct job *row, size_t n)
{
	const struct job *win = NULL;

	for (size_t m = 0; m < n; m++) {
		if (row[m].state != JOB_OK)
			continue;
		if (win == NULL || run_cycles(&row[m]) < run_cycles(win))
			win = &row[m];
	}
	return win;
}

/*
 * With one seed, two totals tie when they differ by less than CI_TIE_REL
 * (0.1%) of the larger: the rule --seeds applies to means (ci_tie()), so
 * that a margin of a few parts per million is not called a win.
 */
static bool total_tie(uint64_t a, uint64_t b)
{
	double big = (double)(a > b ? a : b);
	return a == b || fabs((double)a - (double)b) < CI_TIE_REL * big;
}

/*
 * With one seed: the run with the fewest estimated cycles, unless the
 * next-lowest total ties with it (total_tie()); then NULL, with *tie that
 * next-lowest run.
 */
static const struct job *one_winner(const struct job *row, size_t n, const struct job **tie)
{
	const struct job *best = best_run(row, n), *next = NULL;

	*tie = NULL;
	for (size_t m = 0; best && m < n; m++)
		if (&row[m] != best && row[m].state == JOB_OK &&
		    (next == NULL || run_cycles(&row[m]) < run_cycles(next)))
			next = &row[m];
	if (next && total_tie(run_cycles(next), run_cycles(best))) {
		*tie = next;
		return NULL;
	}
	return best;
}

/* Do the successful runs of a workload disagree on the access count? */
static bool accesses_differ(const struct job *row, size_t n)
{
	const struct job *first = NULL;

	for (size_t m = 0; m < n; m++) {
		if (row[m].state != JOB_OK)
			continue;
		if (first == NULL)
			first = &row[m];
		else if (row[m].r.st.accesses != first->r.st.accesses)
			return true;
	}
	return false;
}

/*
 * With several seeds, modes are compared on cycles per access, the metric
 * whose interval is known: the winner is the mode of the lowest mean, and
 * it is called only when it ties with no other mode (ci_tie(): the
 * intervals overlap, or the means differ by less than CI_TIE_REL, 0.1%).
 * Returns the winner or NULL; *tie gets the first mode that ties with the
 * lowest mean (NULL when there is a clear winner or no run).
 */
static const struct job *ci_winner(const struct compare *c, size_t w, const struct job **tie)
{
	const struct job *row = &c->cell[w * c->nmodes];
	const struct ci *ci = &c->cpa[w * c->nmodes];
	size_t best = SIZE_MAX;

	*tie = NULL;
	for (size_t m = 0; m < c->nmodes; m++)
		if (row[m].state == JOB_OK && (best == SIZE_MAX || ci[m].mean < ci[best].mean))
			best = m;
	if (best == SIZE_MAX)
		return NULL;
	for (size_t m = 0; m < c->nmodes; m++) {
		if (m == best || row[m].state != JOB_OK || !ci_tie(&ci[m], &ci[best]))
			continue;
		*tie = &row[m];
		return NULL;
	}
	return &row[best];
}

/*
 * The best virtualized mode of workload w (every mode but native) and its
 * margin over the next-best one: "nested, 12.3% below shadow". With
 * several seeds, on mean cycles per access, and "no clear winner (nested,
 * shadow)" when the two intervals overlap; with one seed, on total cycles,
 * as the winner column, and "tie (nested, shadow)" within 0.1%
 * (total_tie()).
 */
static void best_virtualized(const struct compare *c, size_t w, char *buf, size_t len)
{
	const struct job *row = &c->cell[w * c->nmodes];
	const struct ci *ci = &c->cpa[w * c->nmodes];
	size_t best = SIZE_MAX, next = SIZE_MAX;
	bool many = c->nseeds > 1;
	double vb, vn;

	for (size_t m = 0; m < c->nmodes; m++) {
		double v;
		if (row[m].state != JOB_OK || c->modes[m] == &native_mmu_ops)
			continue;
		v = many ? ci[m].mean : (double)run_cycles(&row[m]);
		if (best == SIZE_MAX || v < (many ? ci[best].mean : (double)run_cycles(&row[best]))) {
			next = best;
			best = m;
		} else if (next == SIZE_MAX ||
			   v < (many ? ci[next].mean : (double)run_cycles(&row[next]))) {
			next = m;
		}
	}
	if (best == SIZE_MAX) {
		snprintf(buf, len, "none");
		return;
	}
	if (next == SIZE_MAX) {
		snprintf(buf, len, "%s", c->modes[best]->name);
		return;
	}
	if (many && ci_tie(&ci[best], &ci[next])) {
		snprintf(buf, len, "no clear winner (%s, %s)", c->modes[best]->name,
			 c->modes[next]->name);
		return;
	}
	vb = many ? ci[best].mean : (double)run_cycles(&row[best]);
	vn = many ? ci[next].mean : (double)run_cycles(&row[next]);
	if (vb == vn || (!many && total_tie(run_cycles(&row[best]), run_cycles(&row[next])))) {
		snprintf(buf, len, "tie (%s, %s)", c->modes[best]->name, c->modes[next]->name);
		return;
	}
	/* Two significant digits below 1%, so a small margin is not shown as 0.0. */
	snprintf(buf, len, 100.0 * (vn - vb) / vn < 1 ? "%s, %.2g%% below %s" : "%s, %.1f%% below %s",
		 c->modes[best]->name, 100.0 * (vn - vb) / vn, c->modes[next]->name);
}

/* Cycles of translation per TLB miss: everything but the data accesses and
 * the guest kernel's own work, over the misses. */
static double per_miss(const struct run_result *r)
{
	const struct stats *st = &r->st;

	return st->tlb_misses ? (double)(stats_est_cycles(st) - st->cyc_access - st->cyc_guest) /
				    (double)st->tlb_misses
			      : NAN;
}

/*
 * For a workload whose measured part has stable page tables (no guest
 * fault in any mode) and that ran under shadow and nested: one line with
 * the model's cost per TLB miss of each, the winner those costs imply, and,
 * when the winner is another mode, why.
 */
static void compare_why(FILE *f, const struct compare *c, size_t w, const struct job *win)
{
	const struct job *row = &c->cell[w * c->nmodes], *sh = NULL, *ne = NULL;
	char gap[256];

	for (size_t m = 0; m < c->nmodes; m++) {
		if (row[m].state != JOB_OK)
			continue;
		if (row[m].r.st.guest_faults != 0)
			return;
		if (row[m].m == &shadow_mmu_ops)
			sh = &row[m];
		else if (row[m].m == &nested_mmu_ops)
			ne = &row[m];
	}
	if (sh == NULL || ne == NULL || isnan(per_miss(&sh->r)) || isnan(per_miss(&ne->r)))
		return;
	const struct job *cheap = per_miss(&sh->r) <= per_miss(&ne->r) ? sh : ne;
	const struct job *dear = cheap == sh ? ne : sh;
	fprintf(f,
		"\nStable tables (no guest fault in what was measured): the model charges %.1f "
		"cycles per TLB miss under shadow and %.1f under nested (walk, exit and VMM "
		"work), which favours **%s**",
		per_miss(&sh->r), per_miss(&ne->r), cheap->m->name);
	if (win == NULL || win == cheap || (win != sh && win != ne)) {
		fprintf(f, ".\n");
		return;
	}
	gap_parts(cheap, dear, gap, sizeof(gap));
	fprintf(f, "; %s wins anyway, because %s pays more outside the misses (%s per access).\n",
		dear->m->name, cheap->m->name, gap);
}

/* "the update loop" / "the whole run": what a workload's counters cover. */
static void measured_what(const struct compare *c, size_t w, char *buf, size_t len)
{
	const struct job *row = &c->cell[w * c->nmodes];
	bool region = false;

	for (size_t m = 0; m < c->nmodes; m++)
		region |= row[m].state == JOB_OK && row[m].r.region;
	if (region && c->wl[w]->roi != NULL)
		snprintf(buf, len, "region of interest: %s", c->wl[w]->roi);
	else if (region)
		snprintf(buf, len, "region of interest");
	else if (c->cfg.whole_run)
		snprintf(buf, len, "whole run (--whole-run)");
	else
		snprintf(buf, len, "whole run: the workload marks no region");
}

/* "12.34" or "12.34 ± 0.05" */
static void cpa_text(const struct compare *c, size_t k, char *buf, size_t len)
{
	if (c->nseeds > 1)
		snprintf(buf, len, "%.2f ± %.2f", c->cpa[k].mean, c->cpa[k].half);
	else
		snprintf(buf, len, "%.2f", csv_cycles_per_access(&c->cell[k].r));
}

/* "shadow by 57.1%", "no clear gap" (seeds), "tie" (one seed, within
 * 0.1%) or "" (one of the two did not run): the two virtualized modes side
 * by side, on cycles per access. */
static void shadow_vs_nested(const struct compare *c, size_t w, char *buf, size_t len)
{
	size_t sh = SIZE_MAX, ne = SIZE_MAX;

	buf[0] = '\0';
	for (size_t m = 0; m < c->nmodes; m++) {
		size_t k = w * c->nmodes + m;
		if (c->cell[k].state != JOB_OK)
			continue;
		if (c->modes[m] == &shadow_mmu_ops)
			sh = k;
		else if (c->modes[m] == &nested_mmu_ops)
			ne = k;
	}
	if (sh == SIZE_MAX || ne == SIZE_MAX)
		return;
	double a = c->cpa[sh].mean, b = c->cpa[ne].mean;
	if (a == b || (c->nseeds <= 1 && fabs(a - b) < CI_TIE_REL * fmax(a, b)))
		snprintf(buf, len, "tie");
	else if (c->nseeds > 1 && ci_tie(&c->cpa[sh], &c->cpa[ne]))
		snprintf(buf, len, "no clear gap");
	else
		snprintf(buf, len, "%s by %.1f%%", a < b ? "shadow" : "nested",
			 100.0 * fabs(a - b) / (a > b ? a : b));
}

int summary_fill(FILE *f, void *ctx)
{
	const struct compare *c = ctx;
	size_t failed = 0;
	bool many = c->nseeds > 1;

	fprintf(f, "# vmmu compare: %s\n\n",
		c->cfg.whole_run ? "whole runs (--whole-run)" : "regions of interest");
	if (many)
		fprintf(f,
			"Estimated cycles per access for each workload under each MMU mode, from\n"
			"the cost model in `docs/cost-model.md`: the mean over seeds %" PRIu64
			"..%" PRIu64
			"\n(%u runs per cell, %zu runs in all, %zu in parallel) and its "
			"95%% confidence\ninterval (Student t, `mean ± half-width`).",
			c->p.seed, c->p.seed + c->nseeds - 1, c->nseeds, c->njob, (size_t)c->jobs);
	else
		fprintf(f,
			"Estimated cycles per access for each workload under each MMU mode, from\n"
			"the cost model in `docs/cost-model.md` (seed %" PRIu64
			", %zu runs, %zu in\n"
			"parallel).",
			c->p.seed, c->njob, (size_t)c->jobs);
	fprintf(f,
		"%sThe machine and workload parameters of every run are the\n"
		"parameter columns of `compare.csv`; `docs/csv.md` describes each column.\n\n",
		many ? "" : " ");
	if (c->cfg.whole_run)
		fprintf(f, "Every count covers the **whole run** of each workload, set-up and\n"
			   "checks included (`--whole-run`).\n\n");
	else
		fprintf(
		    f,
		    "Every count covers each workload's **region of interest**: the part that\n"
		    "the benchmark it imitates times (the update loop of `random`, the chase of\n"
		    "`ptrchase`, the lookups of `kv`, ...; `docs/workloads.md`). The fault-heavy\n"
		    "workloads mark no region and are measured whole, because their faults are\n"
		    "the point. Each heading below says what was measured; the whole run's\n"
		    "cycles are in the `whole_*` columns of `compare.csv`, and `--whole-run`\n"
		    "measures whole runs instead.\n\n");
	if (many)
		fprintf(
		    f,
		    "Modes are compared on mean cycles per access. The *winner* has the lowest\n"
		    "mean and is named only when its interval overlaps no other mode's and its\n"
		    "mean is more than 0.1%% below every other; otherwise the workload has\n"
		    "**no clear winner** (VEE'11 found no noticeable\n"
		    "gap between the modes in more than half of its cases). *Ratio* is a mode's\n"
		    "mean over native's. *Gap to winner* (or to the lowest mean) names the two\n"
		    "cost parts (`cyc_*` columns) that differ most, in cycles per access.\n");
	else
		fprintf(
		    f,
		    "A workload does the same work under every mode, so modes are compared on\n"
		    "the total estimated cycles of their runs (`est_cycles`): *ratio* is a\n"
		    "mode's total over native's, and the *winner* has the smallest total. When\n"
		    "the modes count the same accesses, this equals comparing cycles per\n"
		    "access. *Gap to winner* names the two cost parts (`cyc_*` columns) that\n"
		    "differ most from the winner's, in cycles per access of the winner's run.\n"
		    "Two totals within 0.1%% of each other are a **tie**: the winner column\n"
		    "then says `tie` and names the two lowest, and so do the other columns.\n"
		    "`--seeds N` repeats every run with N seeds and gives confidence intervals.\n");
	if (c->skipped[0])
		fprintf(f, "\nModes not run: %s.\n", c->skipped);

	/* Overview: one line per workload, cycles per access by mode. */
	fprintf(f, "\n## Overview (cycles per access%s)\n\n| workload | measured |",
		many ? ", mean ± 95% interval" : "");
	for (size_t m = 0; m < c->nmodes; m++)
		fprintf(f, " %s |", c->modes[m]->name);
	fprintf(f, " winner | best virtualized | shadow vs nested |\n|---|---|");
	for (size_t m = 0; m < c->nmodes; m++)
		fprintf(f, "---:|");
	fprintf(f, "---|---|---|\n");
	for (size_t w = 0; w < c->nwl; w++) {
		const struct job *row = &c->cell[w * c->nmodes], *tie = NULL;
		const struct job *win = many ? ci_winner(c, w, &tie) : one_winner(row, c->nmodes, &tie);
		char what[128];

		measured_what(c, w, what, sizeof(what));
		fprintf(f, "| %s | %s |", c->wl[w]->name,
			strncmp(what, "region", 6) == 0 ? c->wl[w]->roi ? c->wl[w]->roi : "region"
							: "whole run");
		for (size_t m = 0; m < c->nmodes; m++) {
			char t[64];
			cpa_text(c, w * c->nmodes + m, t, sizeof(t));
			fprintf(f, row[m].state == JOB_OK ? " %s |" : " failed |", t);
		}
		if (!win && tie && !many)
			snprintf(what, sizeof(what), "tie (%s, %s)", best_run(row, c->nmodes)->m->name,
				 tie->m->name);
		fprintf(f, " %s |",
			win   ? win->m->name
			: tie ? many ? "no clear winner" : what
			      : "none");
		best_virtualized(c, w, what, sizeof(what));
		fprintf(f, " %s |", what);
		shadow_vs_nested(c, w, what, sizeof(what));
		fprintf(f, " %s |\n", what);
	}
	fprintf(f,
		"\n*Best virtualized* is the cheapest mode other than native, and how much\n"
		"cheaper it is than the next one%s.\n",
		c->nseeds > 1
		    ? " (\"no clear winner\" when their intervals overlap or their means are"
		      " within 0.1%)"
		    : " (\"tie\" when their totals are within 0.1%)");
	fprintf(f,
		"\n*Shadow vs nested* compares the two virtualized modes alone: the cheaper\n"
		"one and by how much, on cycles per access%s.\n",
		c->nseeds > 1 ? " (\"no clear gap\" when their intervals overlap or their means are"
				" within 0.1%)"
			      : " (\"tie\" within 0.1%)");

	for (size_t w = 0; w < c->nwl; w++) {
		const struct job *row = &c->cell[w * c->nmodes], *native = NULL, *tie = NULL;
		const struct job *win = many ? ci_winner(c, w, &tie) : one_winner(row, c->nmodes, &tie);
		const struct job *ref = win ? win : tie ? best_run(row, c->nmodes) : NULL;
		char what[128];

		if (many && tie != NULL) {
			/* The reference for gaps: the lowest mean. */
			for (size_t m = 0; m < c->nmodes; m++)
				if (row[m].state == JOB_OK &&
				    (ref == NULL || c->cpa[w * c->nmodes + m].mean <
							c->cpa[(size_t)(ref - c->cell)].mean))
					ref = &row[m];
		}
		for (size_t m = 0; m < c->nmodes; m++)
			if (row[m].state == JOB_OK && row[m].m == &native_mmu_ops)
				native = &row[m];
		measured_what(c, w, what, sizeof(what));
		fprintf(f, "\n## %s (%s)\n\n", c->wl[w]->name, what);
		fprintf(f,
			"| mode | cycles/access%s | est_cycles%s | ratio to native | gap to %s |\n",
			many ? " (mean ± 95%)" : "", many ? " (mean)" : "",
			win ? "winner" : many ? "lowest mean" : "lowest total");
		fprintf(f, "|---|---:|---:|---:|---|\n");
		for (size_t m = 0; m < c->nmodes; m++) {
			const struct job *j = &row[m];
			char ratio[32], gap[256], t[64];

			if (j->state != JOB_OK) {
				fprintf(f, "| %s | failed | | | %s |\n", j->m->name, j->err);
				failed++;
				continue;
			}
			if (native != NULL && run_cycles(native) > 0)
				snprintf(ratio, sizeof(ratio), "%.2f",
					 many ? c->cpa[w * c->nmodes + m].mean /
						    c->cpa[(size_t)(native - c->cell)].mean
					      : (double)run_cycles(j) / (double)run_cycles(native));
			else
				snprintf(ratio, sizeof(ratio), "n/a");
			if (j == win)
				snprintf(gap, sizeof(gap), "winner");
			else if (j == ref)
				snprintf(gap, sizeof(gap), many ? "lowest mean" : "lowest total");
			else if (ref != NULL)
				gap_parts(j, ref, gap, sizeof(gap));
			else
				gap[0] = '\0';
			cpa_text(c, w * c->nmodes + m, t, sizeof(t));
			fprintf(f, "| %s | %s | %" PRIu64 " | %s | %s |\n", j->m->name, t,
				run_cycles(j), ratio, gap);
		}
		if (win != NULL && many)
			fprintf(
			    f,
			    "\nWinner: **%s** (%.2f ± %.2f cycles/access; its interval overlaps "
			    "no other mode's).\n",
			    win->m->name, c->cpa[(size_t)(win - c->cell)].mean,
			    c->cpa[(size_t)(win - c->cell)].half);
		else if (win != NULL)
			fprintf(f, "\nWinner: **%s** (%.2f cycles/access).\n", win->m->name,
				csv_cycles_per_access(&win->r));
		else if (tie != NULL && !many)
			fprintf(f,
				"\n**Tie**: the totals of %s (lowest) and %s differ by less than "
				"0.1%%.\n",
				ref->m->name, tie->m->name);
		else if (tie != NULL)
			fprintf(
			    f,
			    "\n**No clear winner**: the 95%% intervals of %s (lowest mean) and %s "
			    "overlap.\n",
			    ref->m->name, tie->m->name);
		else
			fprintf(f, "\nNo run of this workload succeeded.\n");
		compare_why(f, c, w, win ? win : ref);
		replay_summary_write(f, c->wl[w], row, c->nmodes);
		if (accesses_differ(row, c->nmodes)) {
			fprintf(f, "\nThe modes counted different numbers of accesses (");
			for (size_t m = 0, n = 0; m < c->nmodes; m++)
				if (row[m].state == JOB_OK)
					fprintf(f, "%s%s %" PRIu64, n++ ? ", " : "", row[m].m->name,
						row[m].r.st.accesses);
			fprintf(f, "), so cycles per access and the ratio of totals differ.\n");
		}
	}
	compare_nvirt_section(f, c);
	compare_nvirt_designs(f, c);
	if (failed)
		fprintf(f,
			"\n%zu cell(s) failed; their runs that failed have no row in "
			"`compare.csv`.\n",
			failed);
	return ferror(f) ? -1 : 0;
}

/* With several seeds, the overview on stdout: mean ± half-width. */
void compare_print_means(const struct compare *c)
{
	printf("cycles per access, mean ± 95%% interval over %u seeds (%s):\n", c->nseeds,
	       c->cfg.whole_run ? "whole runs" : "regions of interest");
	printf("  %-24s", "workload");
	for (size_t m = 0; m < c->nmodes; m++)
		printf(" %22s", c->modes[m]->name);
	printf("  winner\n");
	for (size_t w = 0; w < c->nwl; w++) {
		const struct job *tie, *win = ci_winner(c, w, &tie);
		printf("  %-24.24s", c->wl[w]->name);
		for (size_t m = 0; m < c->nmodes; m++) {
			char t[64];
			if (c->cell[w * c->nmodes + m].state != JOB_OK)
				snprintf(t, sizeof(t), "failed");
			else
				cpa_text(c, w * c->nmodes + m, t, sizeof(t));
			printf(" %22s", t);
		}
		printf("  %s\n", win ? win->m->name : tie ? "no clear winner" : "none");
	}
}

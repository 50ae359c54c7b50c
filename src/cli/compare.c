/*
 * compare.c - `vmmu compare`: every workload under every mode, side by side.
 *
 * The runs are the cross product of the chosen workloads and the modes that
 * can run (a mode that vm_create() refuses, such as one not built yet, is
 * skipped with a note, or is an error when named with --modes). The runs
 * go through the shared job runner (jobs.c): each in its own forked child,
 * at most -j at a time, so a crash in one run costs that row alone; the
 * parent alone formats and writes files.
 *
 * Output, both written atomically:
 *   DIR/compare.csv  one header, then one row per successful run, in the
 *                    order workload (registry order) x mode (mmu_modes[]
 *                    order) x seed, whatever order the runs finished in;
 *   DIR/summary.md   per workload: each mode's cycles per access, its ratio
 *                    to native, the winner, and the two cost parts that
 *                    differ most from the winner (modes are ranked by total
 *                    estimated cycles: see summary_fill()); with --seeds N
 *                    > 1, the mean and 95% interval of each mode, and a
 *                    winner only where the intervals do not overlap;
 *   DIR/plots/       compare-cycles, compare-exits, compare-walkrefs: data,
 *                    gnuplot script, SVG and PNG (plot.h); without gnuplot,
 *                    the data and scripts only, and one message.
 *   DIR/compare.manifest  written last: each file of the set with its size.
 *                    It is removed before the first file is replaced, so a
 *                    set is whole exactly when its manifest is there and
 *                    every size matches; SIGINT and SIGTERM are held while
 *                    the set is written.
 * A failed run is reported on stderr and in the summary, has no CSV row,
 * and makes the exit status 1.
 *
 * Counters are those of each workload's region of interest (run.h), unless
 * --whole-run; the summary and the figures say which in their headings.
 * With --seeds N every cell (workload x mode) runs seeds seed .. seed+N-1
 * (--seed, default 1, so 1..N); a cell is summarised by the mean of its runs
 * (ci.h) and fails when any of its runs failed.
 * A SIGINT or SIGTERM while the runs go stops every worker, writes nothing
 * and exits 128 + the signal's number.
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

/* ---- types ---- */

struct compare {
	struct vm_config cfg;
	struct wl_params p;
	const char *out;
	unsigned jobs;
	const struct workload **wl;
	size_t nwl;
	const struct mmu_ops *modes[COMPARE_MAX_MODES];
	size_t nmodes;
	char skipped[1024]; /* modes left out, for the summary */
	unsigned nseeds;    /* --seeds: runs per cell */
	struct job *job;    /* workload, mode, seed: job[(w * nmodes + m) * nseeds + s] */
	size_t njob;
	struct job *cell;		/* one per (workload, mode): cell[w * nmodes + m], its
					 * runs' mean (ci_mean_run), failed if any run failed */
	struct ci *cpa;			/* cycles per access of each cell over its seeds */
	struct replay_workload *traces; /* replays, listed in wl after the suite */
};

/* ---- parsing ---- */

static void compare_help(FILE *f)
{
	fprintf(
	    f,
	    "usage: vmmu compare [--out DIR] [-j N] [--workloads a,b,...] [--modes a,b,...] "
	    "[--seeds N] [FLAGS]\n\n"
	    "Run every workload under every MMU mode that can run, each run in its own\n"
	    "process, and write DIR/compare.csv (one row per run), DIR/summary.md and\n"
	    "three figures DIR/plots/compare-{cycles,exits,walkrefs}.{svg,png}.\n"
	    "Workloads use their default sizes unless --pages/--ops/... are given.\n"
	    "Counters cover each workload's region of interest (docs/workloads.md) unless\n"
	    "--whole-run is given. Progress goes to stderr. Exit status 1 if any run\n"
	    "failed (the others are still written), 2 on bad usage (--out is checked\n"
	    "before any run), 130 on SIGINT and 143 on SIGTERM (every worker stopped,\n"
	    "nothing written). DIR/compare.manifest is written last: the set is whole\n"
	    "when it is there.\n\n"
	    "  --out DIR                        output directory, created if missing (not its\n"
	    "                                   parent; default: results)\n"
	    "  -j, --jobs N                     runs in parallel, 1..%d (default: %d)\n"
	    "  --workloads a,b,...              workloads to run (default: all, see `vmmu list`)\n"
	    "  --modes a,b,...                  modes to run (default: every mode that can run)\n"
	    "  --seeds N                        run every cell with seeds SEED .. SEED+N-1\n"
	    "                                   (SEED = --seed, default 1); the summary gives\n"
	    "                                   means and 95%% Student-t intervals (default: 1)\n"
	    "  --traces a,b,...|none            lackey traces (files, or directories of *.lackey)\n"
	    "                                   to replay too (default without --workloads:\n"
	    "                                   " COMPARE_DEFAULT_TRACES ", where present)\n"
	    "  -h, --help                       this help\n\n",
	    COMPARE_MAX_JOBS, COMPARE_DEFAULT_JOBS);
	cli_help_wl(f);
	fputc('\n', f);
	cli_help_machine(f);
}

/* Split a comma list; for each item call take(). Returns 0 or -1 (err set). */
static int split_list(const char *flag, const char *list,
		      int (*take)(struct compare *, const char *, char *, size_t),
		      struct compare *c, char *err, size_t errlen)
{
	char buf[1024];
	char *save = NULL;
	bool any = false;

	if (strlen(list) >= sizeof(buf)) {
		snprintf(err, errlen, "%s: list too long", flag);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (take(c, tok, err, errlen) < 0)
			return -1;
		any = true;
	}
	if (!any) {
		snprintf(err, errlen, "%s: expected a comma-separated list of names, got '%s'",
			 flag, list);
		return -1;
	}
	return 0;
}

static int take_workload(struct compare *c, const char *name, char *err, size_t errlen)
{
	const struct workload *w = workload_find(name);

	if (w == NULL) {
		snprintf(err, errlen, "--workloads: unknown workload '%s' (see `vmmu list`)", name);
		return -1;
	}
	for (size_t k = 0; k < c->nwl; k++)
		if (c->wl[k] == w)
			return 0;
	c->wl[c->nwl++] = w;
	return 0;
}

static int take_mode(struct compare *c, const char *name, char *err, size_t errlen)
{
	const struct mmu_ops *m = mmu_find(name);

	if (m == NULL) {
		snprintf(err, errlen, "--modes: unknown mode '%s' (see `vmmu list`)", name);
		return -1;
	}
	for (size_t k = 0; k < c->nmodes; k++)
		if (c->modes[k] == m)
			return 0;
	if (c->nmodes == COMPARE_MAX_MODES) {
		snprintf(err, errlen, "--modes: too many modes");
		return -1;
	}
	c->modes[c->nmodes++] = m;
	return 0;
}

/* Parse argv into c. Returns -1 to continue, else an exit status. */
static int compare_parse(struct compare *c, int argc, char **argv)
{
	const char *wlist = NULL, *mlist = NULL, *jobs = NULL, *tlist = NULL, *seeds = NULL;
	char err[512];
	size_t nall = 0;

	config_defaults(&c->cfg);
	c->p = (struct wl_params){.seed = CLI_DEFAULT_SEED};
	c->out = "results";
	c->jobs = COMPARE_DEFAULT_JOBS;
	c->nseeds = 1;
	for (int i = 1; i < argc;) {
		const char *a = argv[i];
		int rc;

		if (cli_is_help(a)) {
			compare_help(stdout);
			return CLI_EXIT_OK;
		}
		rc = cli_parse_machine(&c->cfg, argc, argv, &i, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_parse_wl(&c->p, argc, argv, &i, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--out", argc, argv, &i, &c->out, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("-j", argc, argv, &i, &jobs, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--jobs", argc, argv, &i, &jobs, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc =
			    cli_take_value("--workloads", argc, argv, &i, &wlist, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--modes", argc, argv, &i, &mlist, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--traces", argc, argv, &i, &tlist, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--seeds", argc, argv, &i, &seeds, err, sizeof(err));
		if (rc != CLI_MATCHED)
			return cli_reject_arg("compare", rc, a, err);
	}
	if (seeds != NULL) {
		uint64_t n;
		if (cli_parse_u64(seeds, &n, err, sizeof(err)) < 0 || n < 1 ||
		    n > COMPARE_MAX_SEEDS || c->p.seed > UINT64_MAX - (n - 1)) {
			cli_error("--seeds: expected an integer from 1 to %d, got '%s'",
				  COMPARE_MAX_SEEDS, seeds);
			return CLI_EXIT_USAGE;
		}
		c->nseeds = (unsigned)n;
	}
	if (jobs != NULL) {
		uint64_t n;
		if (cli_parse_u64(jobs, &n, err, sizeof(err)) < 0 || n < 1 ||
		    n > COMPARE_MAX_JOBS) {
			cli_error("-j: expected an integer from 1 to %d, got '%s'",
				  COMPARE_MAX_JOBS, jobs);
			return CLI_EXIT_USAGE;
		}
		c->jobs = (unsigned)n;
	}
	if (c->out[0] == '\0') {
		cli_error("--out: empty directory name");
		return CLI_EXIT_USAGE;
	}

	while (workloads[nall] != NULL)
		nall++;
	c->wl = calloc(nall + 1, sizeof(*c->wl));
	if (c->wl == NULL) {
		cli_error("compare: out of memory");
		return CLI_EXIT_FAIL;
	}
	if (wlist != NULL) {
		if (split_list("--workloads", wlist, take_workload, c, err, sizeof(err)) < 0) {
			cli_error("%s", err);
			return CLI_EXIT_USAGE;
		}
	} else {
		for (size_t k = 0; k < nall; k++)
			c->wl[c->nwl++] = workloads[k];
	}
	if (c->nwl == 0) {
		cli_error("compare: no workloads are registered");
		return CLI_EXIT_FAIL;
	}
	/* Trace replays, one workload each: named ones must exist; the default
	 * ones are skipped when absent, and left out when --workloads is given. */
	if (tlist != NULL || wlist == NULL) {
		long n = replay_find_traces(tlist ? tlist : COMPARE_DEFAULT_TRACES, tlist != NULL,
					    &c->traces, err, sizeof(err));
		const struct workload **wl;
		if (n < 0) {
			cli_error("%s", err);
			return CLI_EXIT_USAGE;
		}
		wl = realloc(c->wl, (c->nwl + (size_t)n + 1) * sizeof(*wl));
		if (wl == NULL) {
			cli_error("compare: out of memory");
			return CLI_EXIT_FAIL;
		}
		c->wl = wl;
		for (long k = 0; k < n; k++)
			c->wl[c->nwl++] = &c->traces[k].w;
	}

	/* Modes: the named ones must all run; by default, whichever can. */
	if (mlist != NULL) {
		if (split_list("--modes", mlist, take_mode, c, err, sizeof(err)) < 0) {
			cli_error("%s", err);
			return CLI_EXIT_USAGE;
		}
		for (size_t k = 0; k < c->nmodes; k++) {
			if (!jobs_mode_can_run(&c->cfg, c->modes[k], err, sizeof(err))) {
				cli_error("--modes: mode '%s' cannot run: %s", c->modes[k]->name,
					  err);
				return CLI_EXIT_USAGE;
			}
		}
	} else {
		char first_err[512] = "";
		for (size_t k = 0; mmu_modes[k] != NULL; k++) {
			const struct mmu_ops *m = mmu_modes[k];
			if (jobs_mode_can_run(&c->cfg, m, err, sizeof(err))) {
				if (c->nmodes < COMPARE_MAX_MODES)
					c->modes[c->nmodes++] = m;
				continue;
			}
			if (first_err[0] == '\0')
				snprintf(first_err, sizeof(first_err), "%s", err);
			size_t used = strlen(c->skipped);
			snprintf(c->skipped + used, sizeof(c->skipped) - used, "%s%s (%s)",
				 used ? "; " : "", m->name, err);
			fprintf(stderr, "vmmu compare: skipping mode %s: %s\n", m->name, err);
		}
		if (c->nmodes == 0) {
			cli_error("compare: no mode can run on this machine: %s", first_err);
			return CLI_EXIT_USAGE;
		}
	}
	return -1;
}

/* ---- output ---- */

static int compare_csv_fill(FILE *f, void *ctx)
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
 * it is called only when its interval overlaps no other mode's. Returns the
 * winner or NULL; *tie gets the first mode whose interval overlaps the
 * lowest mean's (NULL when there is a clear winner or no run).
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
		if (m == best || row[m].state != JOB_OK || !ci_overlap(&ci[m], &ci[best]))
			continue;
		*tie = &row[m];
		return NULL;
	}
	return &row[best];
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

/* "shadow by 57.1%", "no clear gap" or "" (one of the two did not run):
 * the two virtualized modes side by side, on cycles per access. */
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
	if (a == b)
		snprintf(buf, len, "tie");
	else if (c->nseeds > 1 && ci_overlap(&c->cpa[sh], &c->cpa[ne]))
		snprintf(buf, len, "no clear gap");
	else
		snprintf(buf, len, "%s by %.1f%%", a < b ? "shadow" : "nested",
			 100.0 * fabs(a - b) / (a > b ? a : b));
}

static int summary_fill(FILE *f, void *ctx)
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
		    "mean and is named only when its interval overlaps no other mode's;\n"
		    "otherwise the workload has **no clear winner** (VEE'11 found no noticeable\n"
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
		    "`--seeds N` repeats every run with N seeds and gives confidence intervals.\n");
	if (c->skipped[0])
		fprintf(f, "\nModes not run: %s.\n", c->skipped);

	/* Overview: one line per workload, cycles per access by mode. */
	fprintf(f, "\n## Overview (cycles per access%s)\n\n| workload | measured |",
		many ? ", mean ± 95% interval" : "");
	for (size_t m = 0; m < c->nmodes; m++)
		fprintf(f, " %s |", c->modes[m]->name);
	fprintf(f, " winner | shadow vs nested |\n|---|---|");
	for (size_t m = 0; m < c->nmodes; m++)
		fprintf(f, "---:|");
	fprintf(f, "---|---|\n");
	for (size_t w = 0; w < c->nwl; w++) {
		const struct job *row = &c->cell[w * c->nmodes], *tie = NULL;
		const struct job *win = many ? ci_winner(c, w, &tie) : best_run(row, c->nmodes);
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
		shadow_vs_nested(c, w, what, sizeof(what));
		fprintf(f, " %s | %s |\n",
			win   ? win->m->name
			: tie ? "no clear winner"
			      : "none",
			what);
	}
	fprintf(f,
		"\n*Shadow vs nested* compares the two virtualized modes alone: the cheaper\n"
		"one and by how much, on cycles per access%s.\n",
		c->nseeds > 1 ? " (\"no clear gap\" when their intervals overlap)" : "");

	for (size_t w = 0; w < c->nwl; w++) {
		const struct job *row = &c->cell[w * c->nmodes], *native = NULL, *tie = NULL;
		const struct job *win = many ? ci_winner(c, w, &tie) : best_run(row, c->nmodes);
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
			win || !many ? "winner" : "lowest mean");
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
				snprintf(gap, sizeof(gap), "lowest mean");
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
	if (failed)
		fprintf(f,
			"\n%zu cell(s) failed; their runs that failed have no row in "
			"`compare.csv`.\n",
			failed);
	return ferror(f) ? -1 : 0;
}

/* ---- plots ---- */

/*
 * The three figures of plot.h from the successful runs. Without gnuplot the
 * data and scripts are still written, with one message; that is not a
 * failure. Returns -1 when a file could not be written or gnuplot failed.
 */
static int compare_plots(const struct compare *c)
{
	size_t ncell = c->nwl * c->nmodes;
	struct plot_run *pr = calloc(ncell ? ncell : 1, sizeof(*pr));
	enum plot_status st;
	char msg[512];
	size_t n = 0;

	if (pr == NULL) {
		cli_error("compare: plots: out of memory");
		return -1;
	}
	for (size_t k = 0; k < ncell; k++) {
		const struct job *j = &c->cell[k];
		if (j->state == JOB_OK)
			pr[n++] = (struct plot_run){j->w->name, j->m->name, &j->r,
						    c->nseeds > 1 ? c->cpa[k].half : -1.0};
	}
	st = plot_compare(c->out, c->cfg.whole_run ? "whole run" : "region of interest", pr, n, msg,
			  sizeof(msg));
	free(pr);
	switch (st) {
	case PLOT_DRAWN:
		printf("wrote %s/plots/compare-{cycles,exits,walkrefs}.{svg,png}\n", c->out);
		return 0;
	case PLOT_NO_GNUPLOT:
		fprintf(stderr,
			"vmmu compare: %s: plots not drawn (their data and gnuplot scripts are in "
			"%s/plots; `make deps` installs gnuplot-nox)\n",
			msg, c->out);
		return 0;
	default:
		cli_error("compare: plots: %s", msg);
		return -1;
	}
}

/* ---- cells ---- */

/* One summary per (workload, mode): the mean of its runs over the seeds and
 * the interval of their cycles per access; failed when any run failed. */
static int compare_cells(struct compare *c)
{
	size_t ncell = c->nwl * c->nmodes;
	const struct run_result **runs = calloc(c->nseeds, sizeof(*runs));
	double *x = calloc(c->nseeds, sizeof(*x));

	c->cell = calloc(ncell ? ncell : 1, sizeof(*c->cell));
	c->cpa = calloc(ncell ? ncell : 1, sizeof(*c->cpa));
	if (runs == NULL || x == NULL || c->cell == NULL || c->cpa == NULL) {
		free(runs);
		free(x);
		cli_error("compare: out of memory");
		return -1;
	}
	for (size_t k = 0; k < ncell; k++) {
		const struct job *j = &c->job[k * c->nseeds];
		size_t n = 0;

		c->cell[k] = j[0];
		for (size_t s = 0; s < c->nseeds; s++) {
			if (j[s].state != JOB_OK) {
				c->cell[k] = j[s];
				n = 0;
				break;
			}
			runs[n] = &j[s].r;
			x[n++] = csv_cycles_per_access(&j[s].r);
		}
		ci_of(x, n, &c->cpa[k]);
		if (n > 0)
			ci_mean_run(runs, n, &c->cell[k].r);
	}
	free(runs);
	free(x);
	return 0;
}

/* With several seeds, the overview on stdout: mean ± half-width. */
static void compare_print_means(const struct compare *c)
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

/* ---- entry ---- */

/* The manifest first, then what it lists (paths under --out). */
#define COMPARE_MANIFEST "compare.manifest"
static const char *const compare_files[] = {
    COMPARE_MANIFEST,
    "compare.csv",
    "summary.md",
    "plots/compare-cycles.dat",
    "plots/compare-cycles.gp",
    "plots/compare-cycles.svg",
    "plots/compare-cycles.png",
    "plots/compare-exits.dat",
    "plots/compare-exits.gp",
    "plots/compare-exits.svg",
    "plots/compare-exits.png",
    "plots/compare-walkrefs.dat",
    "plots/compare-walkrefs.gp",
    "plots/compare-walkrefs.svg",
    "plots/compare-walkrefs.png",
};

int compare_main(int argc, char **argv)
{
	struct compare c;
	char err[512], path[4096];
	size_t ok = 0, failed = 0;
	sigset_t mask;
	bool write_failed = false;
	int rc;

	memset(&c, 0, sizeof(c));
	rc = compare_parse(&c, argc, argv);
	if (rc >= 0) {
		free(c.wl);
		free(c.traces);
		return rc;
	}
	/* Before any run: --out, and the files at its top (plots/ is checked
	 * as a folder). */
	if (out_check_set(c.out, compare_files, 3, err, sizeof(err)) < 0 ||
	    csv_make_dirs(c.out, err, sizeof(err)) < 0) {
		cli_error("--out: %s", err);
		free(c.wl);
		free(c.traces);
		return CLI_EXIT_USAGE;
	}
	c.njob = c.nwl * c.nmodes * c.nseeds;
	c.job = calloc(c.njob, sizeof(*c.job));
	if (c.job == NULL) {
		cli_error("compare: out of memory");
		free(c.wl);
		free(c.traces);
		return CLI_EXIT_FAIL;
	}
	for (size_t w = 0; w < c.nwl; w++) {
		for (size_t m = 0; m < c.nmodes; m++) {
			for (size_t s = 0; s < c.nseeds; s++) {
				struct job *j = &c.job[(w * c.nmodes + m) * c.nseeds + s];
				j->w = c.wl[w];
				j->m = c.modes[m];
				j->cfg = c.cfg;
				j->p = c.p;
				j->p.seed = c.p.seed + s;
				j->p.arg = replay_input_of(j->w); /* NULL for the suite */
				if (c.nseeds > 1)
					snprintf(j->tag, sizeof(j->tag), "seed=%" PRIu64,
						 j->p.seed);
			}
		}
	}
	if ((size_t)c.jobs > c.njob)
		c.jobs = (unsigned)c.njob;
	fprintf(stderr,
		"vmmu compare: %zu workloads x %zu modes x %u seeds = %zu runs, %u at a time\n",
		c.nwl, c.nmodes, c.nseeds, c.njob, c.jobs);
	rc = jobs_run("compare", c.job, c.njob, c.jobs);
	if (rc != 0) {
		/* Interrupted: the old set (if any) stays as it was. */
		cli_error("compare: interrupted by SIG%s; nothing written", sigabbrev_np(rc));
		free(c.job);
		free(c.cell);
		free(c.cpa);
		free(c.wl);
		free(c.traces);
		return 128 + rc;
	}
	if (compare_cells(&c) < 0) {
		free(c.job);
		free(c.cell);
		free(c.cpa);
		free(c.wl);
		free(c.traces);
		return CLI_EXIT_FAIL;
	}

	for (size_t k = 0; k < c.njob; k++) {
		if (c.job[k].state == JOB_OK)
			ok++;
		else
			failed++;
	}
	rc = failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;

	/* The set is whole only once its manifest is back: remove it first,
	 * write it last, and hold SIGINT/SIGTERM until then. */
	jobs_hold_signals(&mask);
	if (manifest_remove(c.out, COMPARE_MANIFEST, err, sizeof(err)) < 0) {
		cli_error("compare: %s", err);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/compare.csv", c.out);
	if (csv_write_atomic(path, compare_csv_fill, &c, err, sizeof(err)) < 0) {
		cli_error("compare: %s", err);
		rc = CLI_EXIT_FAIL;
		write_failed = true;
	} else {
		printf("wrote %s (%zu rows)\n", path, ok);
	}
	snprintf(path, sizeof(path), "%s/summary.md", c.out);
	if (csv_write_atomic(path, summary_fill, &c, err, sizeof(err)) < 0) {
		cli_error("compare: %s", err);
		rc = CLI_EXIT_FAIL;
		write_failed = true;
	} else {
		printf("wrote %s\n", path);
	}
	if (compare_plots(&c) < 0) {
		rc = CLI_EXIT_FAIL;
		write_failed = true;
	}
	if (rc != CLI_EXIT_FAIL || (failed && !write_failed)) {
		/* Every file of the set was written (failed runs are reported in it). */
		if (manifest_write(c.out, COMPARE_MANIFEST, compare_files + 1,
				   sizeof(compare_files) / sizeof(compare_files[0]) - 1, err,
				   sizeof(err)) < 0) {
			cli_error("compare: %s", err);
			rc = CLI_EXIT_FAIL;
		}
	}
	if (c.nseeds > 1)
		compare_print_means(&c);
out:
	jobs_release_signals(&mask);
	if (failed)
		cli_error("compare: %zu of %zu runs failed", failed, c.njob);
	free(c.cell);
	free(c.cpa);
	free(c.job);
	free(c.wl);
	free(c.traces);
	return rc;
}

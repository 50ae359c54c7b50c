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
#define COMPARE_MAX_SEEDS 1000
/* Lackey traces replayed by default (replay.h): the committed one, and
 * those `make traces` records. */
#define COMPARE_DEFAULT_TRACES "tests/data,workloads/traces"

#include "compare.h"
#include "json_out.h"

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
	    "                                   parent; default: out)\n"
	    "  -j, --jobs N                     runs in parallel, 1..%d (default: %d)\n"
	    "  --workloads a,b,...              workloads to run (default: all, see `vmmu list`)\n"
	    "  --modes a,b,...                  modes to run (default: every mode that can run)\n"
	    "  --seeds N                        run every cell with seeds SEED .. SEED+N-1\n"
	    "                                   (SEED = --seed, default 1); the summary gives\n"
	    "                                   means and 95%% Student-t intervals (default: 1)\n"
	    "  --traces a,b,...|none            lackey traces (files, or directories of *.lackey)\n"
	    "                                   to replay too (default without --workloads:\n"
	    "                                   " COMPARE_DEFAULT_TRACES ", where present)\n"
	    "  --warmup N                       every replayed trace warms the TLB, walk caches\n"
	    "                                   and VMM state with its first N records, which\n"
	    "                                   are not measured; a trace of N records or fewer\n"
	    "                                   is measured whole (default 0)\n"
	    "  -q, --quiet                      no progress and no list of files written (a\n"
	    "                                   failed run is still reported)\n"
	    "  --json                           print every run as a JSON array on stdout, one\n"
	    "                                   object per run with the CSV's columns as keys\n"
	    "                                   (the list of files goes to stderr)\n"
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
	const char *wlist = NULL, *mlist = NULL, *jobs = NULL, *tlist = NULL, *seeds = NULL,
		   *warmup = NULL;
	char err[512];
	size_t nall = 0;

	config_defaults(&c->cfg);
	c->p = (struct wl_params){.seed = CLI_DEFAULT_SEED};
	c->out = "out";
	c->jobs = COMPARE_DEFAULT_JOBS;
	c->nseeds = 1;
	for (int i = 1; i < argc;) {
		const char *a = argv[i];
		int rc;

		if (cli_is_help(a)) {
			compare_help(stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0 || strcmp(a, "--json") == 0) {
			if (a[2] == 'j')
				c->json = true;
			else
				c->quiet = true;
			i++;
			continue;
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
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--warmup", argc, argv, &i, &warmup, err, sizeof(err));
		if (rc != CLI_MATCHED)
			return cli_reject_arg("compare", rc, a, err);
	}
	if (warmup != NULL && cli_parse_u64(warmup, &c->warmup, err, sizeof(err)) < 0) {
		cli_error("--warmup: %s", err);
		return CLI_EXIT_USAGE;
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
		if (!c->quiet)
			fprintf(c->json ? stderr : stdout,
				"wrote %s/plots/compare-{headline,cycles,exits,exit-reasons,"
				"walkrefs}.{svg,png}\n",
				c->out);
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
    "plots/compare-headline.dat",
    "plots/compare-headline.gp",
    "plots/compare-headline.svg",
    "plots/compare-headline.png",
    "plots/compare-exit-reasons.dat",
    "plots/compare-exit-reasons.gp",
    "plots/compare-exit-reasons.svg",
    "plots/compare-exit-reasons.png",
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
				if (j->p.arg != NULL) {
					struct replay_input *in = j->p.arg;
					in->warmup = c.warmup;
					in->warmup_soft = true;
				}
				if (c.nseeds > 1)
					snprintf(j->tag, sizeof(j->tag), "seed=%" PRIu64,
						 j->p.seed);
			}
		}
	}
	if ((size_t)c.jobs > c.njob)
		c.jobs = (unsigned)c.njob;
	if (!c.quiet)
		fprintf(stderr,
			"vmmu compare: %zu workloads x %zu modes x %u seeds = %zu runs, %u at a "
			"time\n",
			c.nwl, c.nmodes, c.nseeds, c.njob, c.jobs);
	rc = jobs_run_quiet("compare", c.job, c.njob, c.jobs, c.quiet);
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
	} else if (!c.quiet) {
		fprintf(c.json ? stderr : stdout, "wrote %s (%zu rows)\n", path, ok);
	}
	snprintf(path, sizeof(path), "%s/summary.md", c.out);
	if (csv_write_atomic(path, summary_fill, &c, err, sizeof(err)) < 0) {
		cli_error("compare: %s", err);
		rc = CLI_EXIT_FAIL;
		write_failed = true;
	} else if (!c.quiet) {
		fprintf(c.json ? stderr : stdout, "wrote %s\n", path);
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
	if (c.nseeds > 1 && !c.quiet && !c.json)
		compare_print_means(&c);
	if (c.json) {
		/* Every successful run, in job order, as the CSV holds them. */
		bool first = true;
		fputs("[\n", stdout);
		for (size_t k = 0; k < c.njob; k++) {
			const struct job *j = &c.job[k];
			if (j->state != JOB_OK)
				continue;
			fputs(first ? "" : ",\n", stdout);
			first = false;
			if (json_out_run(stdout, j->w->name, &j->cfg, &j->r, 0) < 0) {
				cli_error("compare: --json: cannot write the runs' JSON");
				rc = CLI_EXIT_FAIL;
				break;
			}
		}
		fputs("\n]\n", stdout);
	}
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

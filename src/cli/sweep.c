/*
 * sweep.c - `vmmu sweep`: one workload, one parameter over a list of
 * values, every chosen mode at each value; the crossover between modes.
 *
 * The runs go through the shared job runner (jobs.c), value-major, then
 * mode, then seed: job[(v * nmodes + m) * nseeds + s]. With --seeds N each
 * (value, mode) point runs seeds SEED .. SEED+N-1 (SEED = --seed, default
 * 1) and is reported as their mean with a 95% Student-t interval (ci.h);
 * a point fails when any of its runs failed. Each value is applied with cli_set(), as
 * if its flag had been given, on top of the flags of the command line, so
 * any flag of `vmmu run` can be swept.
 *
 * Output (DIR = --out, default out; BASE = sweep-<workload>-<param>):
 *   DIR/BASE.csv           one row per successful run, the columns of
 *                          docs/csv.md, in job order;
 *   DIR/BASE.md            cycles per access per value and mode, the
 *                          winner at each value, and the crossovers;
 *   DIR/plots/BASE.*       a line plot of cycles per access against the
 *                          value, one line per mode, crossovers marked;
 *   DIR/BASE.manifest      written last (manifest.h): each file of the
 *                          set with its size. It is removed before the
 *                          first file is replaced, so the set is whole
 *                          exactly when its manifest is there and agrees.
 * With --emit-jobs parallel|slurm nothing runs but a pilot: DIR gets one
 * self-contained `vmmu run` command per job and a script that runs them
 * through GNU parallel or a Slurm array (sweep_emit.c), whose CSVs
 * `vmmu merge` combines (merge.c); --from MERGED.csv then draws the same
 * outputs from that CSV instead of running (sweep_from.c).
 *
 * The crossover is looked for between shadow and nested when both run,
 * otherwise between the first two modes other than native (or the first
 * two modes). Modes are compared on cycles per access at each value, where
 * they do the same work; with several seeds, on the means, and the
 * crossover comes with its interval (sweep_xover_interval()). Counters are
 * those of the workload's region of interest unless --whole-run.
 */
#include "sweep.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
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
#include "../lib/run.h"
#include "registry.h"

#include "sweep-int.h"

/* ---- the crossover finder ---- */

static int sign_of(double d)
{
	return d < 0 ? -1 : d > 0 ? 1 : 0;
}

size_t sweep_find_crossovers(const double *x, const double *a, const double *b, size_t n,
			     struct sweep_xover *out, size_t max)
{
	size_t count = 0, last = SIZE_MAX;
	int last_sign = 0;

	for (size_t i = 0; i < n; i++) {
		if (isnan(a[i]) || isnan(b[i]))
			continue;
		double d = a[i] - b[i];
		int s = sign_of(d);
		if (s == 0)
			continue;
		if (last != SIZE_MAX && s != last_sign) {
			if (count < max) {
				double x0 = x ? x[last] : (double)last;
				double x1 = x ? x[i] : (double)i;
				double d0 = a[last] - b[last];
				struct sweep_xover *o = &out[count];
				o->lo = last;
				o->hi = i;
				o->before = last_sign;
				o->after = s;
				o->x = x0 + (x1 - x0) * d0 / (d0 - d);
			}
			count++;
		}
		last = i;
		last_sign = s;
	}
	return count;
}

/* The t in [0, 1] where f0 + t (f1 - f0) is >= 0 (want_pos) or <= 0: an
 * interval [*t0, *t1], empty when *t0 > *t1. */
static void linear_side(double f0, double f1, bool want_pos, double *t0, double *t1)
{
	if (!want_pos) {
		f0 = -f0;
		f1 = -f1;
	}
	if (f0 >= 0 && f1 >= 0) {
		*t0 = 0;
		*t1 = 1;
	} else if (f0 < 0 && f1 < 0) {
		*t0 = 1;
		*t1 = 0;
	} else if (f0 >= 0) {
		*t0 = 0;
		*t1 = f0 / (f0 - f1);
	} else {
		*t0 = f0 / (f0 - f1);
		*t1 = 1;
	}
}

void sweep_xover_interval(const double *x, const double *a, const double *b, const double *ha,
			  const double *hb, const struct sweep_xover *o, double *xlo, double *xhi)
{
	double x0 = x ? x[o->lo] : (double)o->lo, x1 = x ? x[o->hi] : (double)o->hi;
	double d0 = a[o->lo] - b[o->lo], d1 = a[o->hi] - b[o->hi];
	double h0 = ha[o->lo] + hb[o->lo], h1 = ha[o->hi] + hb[o->hi];
	double u0, u1, l0, l1, t0, t1;

	/* Upper edge d + h >= 0 and lower edge d - h <= 0. */
	linear_side(d0 + h0, d1 + h1, true, &u0, &u1);
	linear_side(d0 - h0, d1 - h1, false, &l0, &l1);
	t0 = u0 > l0 ? u0 : l0;
	t1 = u1 < l1 ? u1 : l1;
	*xlo = x0 + (x1 - x0) * t0;
	*xhi = x0 + (x1 - x0) * t1;
	/* The band always holds the crossing of the means; keep it inside
	 * against rounding. */
	if (*xlo > o->x)
		*xlo = o->x;
	if (*xhi < o->x)
		*xhi = o->x;
}

/* ---- parsing ---- */

static void sweep_help(FILE *f)
{
	fprintf(
	    f,
	    "usage: vmmu sweep --workload W --param P --values a,b,... [--modes a,b,...] [-j N]\n"
	    "                  [--seeds N] [--out DIR] [--emit-jobs parallel|slurm [--resume]\n"
	    "                  [--pilot on|off] [--vmmu PATH]] [--from MERGED.csv] [-q] [FLAGS]\n\n"
	    "Run workload W once for each value of parameter P (any flag below, without its\n"
	    "dashes: pages, ops, procs, host-page, vpid, shadow-sync, tlb, levels, ...) under\n"
	    "each mode, and write DIR/sweep-W-P.csv, DIR/sweep-W-P.md and a line plot\n"
	    "DIR/plots/sweep-W-P.{svg,png} of cycles per access against P, one line per\n"
	    "mode, with the crossover between shadow and nested marked where the winner\n"
	    "changes; DIR/sweep-W-P.manifest, written last, lists the files of the set\n"
	    "with their sizes. The other flags apply to every run. Counters cover the workload's\n"
	    "region of interest (docs/workloads.md) unless --whole-run is given. Exit\n"
	    "status 1 if any run failed, 2 on bad usage.\n\n"
	    "  --workload W                     workload to run (required; see `vmmu list`)\n"
	    "  --param P                        parameter to vary (required)\n"
	    "  --values a,b,...                 its values, in plot order (required)\n"
	    "  --modes a,b,...                  modes to run (default: every mode that can run)\n"
	    "  -j, --jobs N                     runs in parallel, 1..%d (default: %d)\n"
	    "  --seeds N                        run every point with seeds SEED .. SEED+N-1\n"
	    "                                   (SEED = --seed, default 1): means, 95%% Student-t\n"
	    "                                   intervals, error bars (default: 1)\n"
	    "  --out DIR                        output directory, created if missing (not its\n"
	    "                                   parent; default: out)\n"
	    "  --emit-jobs parallel|slurm       run the pilot only; write DIR/sweep-W-P.jobs (one\n"
	    "                                   self-contained `vmmu run` per job), .todo (those\n"
	    "                                   still to run) and a script: .parallel.sh (GNU\n"
	    "                                   parallel) or .sbatch (a Slurm array); combine\n"
	    "                                   the CSVs with `vmmu merge` (docs/sweep.md)\n"
	    "  --resume                         with --emit-jobs: list only the jobs whose CSV\n"
	    "                                   is missing or incomplete\n"
	    "  --pilot on|off                   with --emit-jobs: run the last value's jobs here\n"
	    "                                   first, for Slurm's --time and --mem (default: on)\n"
	    "  --vmmu PATH                      the vmmu binary the emitted commands call\n"
	    "                                   (default: this one)\n"
	    "  --from MERGED.csv                run nothing; draw the summary, plot and\n"
	    "                                   crossover from the CSV `vmmu merge` made of\n"
	    "                                   this sweep's jobs\n"
	    "  -q, --quiet                      no progress, no list of files written and no\n"
	    "                                   crossover lines (the files say it; a failed\n"
	    "                                   run is still reported)\n"
	    "  -h, --help                       this help\n\n",
	    JOBS_MAX_PAR, SWEEP_DEFAULT_JOBS);
	cli_help_wl(f);
	fputc('\n', f);
	cli_help_machine(f);
}

static bool all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* Was the swept parameter also given as a flag? */
static bool flag_given(int argc, char **argv, const char *param)
{
	size_t n = strlen(param);

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] == '-' && a[1] == '-' && strncmp(a + 2, param, n) == 0 &&
		    (a[2 + n] == '\0' || a[2 + n] == '='))
			return true;
	}
	return false;
}

static int take_modes(struct sweep *s, const char *list)
{
	char buf[512], err[512], *save = NULL;

	if (strlen(list) >= sizeof(buf)) {
		cli_error("--modes: list too long");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		const struct mmu_ops *m = mmu_find(t);
		bool dup = false;
		if (m == NULL) {
			cli_error("--modes: unknown mode '%s' (see `vmmu list`)", t);
			return -1;
		}
		for (size_t k = 0; k < s->nmodes; k++)
			dup |= s->modes[k] == m;
		if (dup)
			continue;
		if (s->nmodes == SWEEP_MAX_MODES) {
			cli_error("--modes: too many modes");
			return -1;
		}
		if (!jobs_mode_can_run(&s->cfg, m, err, sizeof(err))) {
			cli_error("--modes: mode '%s' cannot run: %s", m->name, err);
			return -1;
		}
		s->modes[s->nmodes++] = m;
	}
	if (s->nmodes == 0) {
		cli_error("--modes: expected a comma-separated list of modes, got '%s'", list);
		return -1;
	}
	return 0;
}

static int default_modes(struct sweep *s)
{
	char err[512];

	for (size_t k = 0; mmu_modes[k] != NULL && s->nmodes < SWEEP_MAX_MODES; k++) {
		if (jobs_mode_can_run(&s->cfg, mmu_modes[k], err, sizeof(err)))
			s->modes[s->nmodes++] = mmu_modes[k];
		else
			fprintf(stderr, "vmmu sweep: skipping mode %s: %s\n", mmu_modes[k]->name,
				err);
	}
	if (s->nmodes == 0) {
		cli_error("sweep: no mode can run on this machine");
		return -1;
	}
	return 0;
}

/* Split and check --values: each one must be a valid value of the flag. */
static int take_values(struct sweep *s, const char *list)
{
	char *save = NULL, err[512];

	s->vbuf = strdup(list);
	if (s->vbuf == NULL) {
		cli_error("sweep: out of memory");
		return -1;
	}
	for (char *t = strtok_r(s->vbuf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		struct vm_config c = s->cfg;
		struct wl_params p = s->p;
		if (s->nval == SWEEP_MAX_VALUES) {
			cli_error("--values: more than %d values", SWEEP_MAX_VALUES);
			return -1;
		}
		for (size_t k = 0; k < s->nval; k++) {
			if (strcmp(s->values[k], t) == 0) {
				cli_error("--values: '%s' is given twice", t);
				return -1;
			}
		}
		if (cli_set(&c, &p, s->param, t, err, sizeof(err)) < 0) {
			cli_error("--values: %s", err);
			return -1;
		}
		s->values[s->nval++] = t;
	}
	if (s->nval == 0) {
		cli_error("--values: expected a comma-separated list of values, got '%s'", list);
		return -1;
	}
	/* Numbers (plain integers) are placed on a numeric axis; anything else
	 * (4k/2m/1g, on/off, 16x4:128x12) is categorical, in the given order. */
	s->numeric = true;
	for (size_t k = 0; k < s->nval; k++) {
		if (!all_digits(s->values[k])) {
			s->numeric = false;
			break;
		}
		s->x[k] = strtod(s->values[k], NULL);
		if (k > 0 && !(s->x[k] > s->x[k - 1])) {
			cli_error("--values: numeric values must increase, got '%s' after '%s'",
				  s->values[k], s->values[k - 1]);
			return -1;
		}
	}
	return 0;
}

/* Parse argv into s. Returns -1 to continue, else an exit status. */
static int sweep_parse(struct sweep *s, int argc, char **argv)
{
	const char *wname = NULL, *param = NULL, *vlist = NULL, *mlist = NULL, *jobs = NULL;
	const char *seeds = NULL, *pilot = NULL;
	char err[512];

	s->argc = argc;
	s->argv = argv;
	s->pilot = true;
	config_defaults(&s->cfg);
	s->p = (struct wl_params){.seed = CLI_DEFAULT_SEED};
	s->out = "out";
	s->jobs = SWEEP_DEFAULT_JOBS;
	s->nseeds = 1;
	for (int i = 1; i < argc;) {
		const char *a = argv[i];
		int rc;

		if (cli_is_help(a)) {
			sweep_help(stdout);
			return CLI_EXIT_OK;
		}
		rc = cli_parse_machine(&s->cfg, argc, argv, &i, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_parse_wl(&s->p, argc, argv, &i, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--workload", argc, argv, &i, &wname, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--param", argc, argv, &i, &param, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--values", argc, argv, &i, &vlist, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--modes", argc, argv, &i, &mlist, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("-j", argc, argv, &i, &jobs, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--jobs", argc, argv, &i, &jobs, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--out", argc, argv, &i, &s->out, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--emit-jobs", argc, argv, &i, &s->emit, err,
					    sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--vmmu", argc, argv, &i, &s->vmmu, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--seeds", argc, argv, &i, &seeds, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--pilot", argc, argv, &i, &pilot, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--from", argc, argv, &i, &s->from, err, sizeof(err));
		if (rc == CLI_NOMATCH && (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)) {
			s->quiet = true;
			i++;
			continue;
		}
		if (rc == CLI_NOMATCH && strcmp(a, "--resume") == 0) {
			s->resume = true;
			i++;
			continue;
		}
		if (rc != CLI_MATCHED)
			return cli_reject_arg("sweep", rc, a, err);
	}
	if (seeds != NULL) {
		uint64_t n;
		if (cli_parse_u64(seeds, &n, err, sizeof(err)) < 0 || n < 1 ||
		    n > SWEEP_MAX_SEEDS || s->p.seed > UINT64_MAX - (n - 1)) {
			cli_error("--seeds: expected an integer from 1 to %d, got '%s'",
				  SWEEP_MAX_SEEDS, seeds);
			return CLI_EXIT_USAGE;
		}
		s->nseeds = (unsigned)n;
	}
	if (wname == NULL || param == NULL || vlist == NULL) {
		cli_error("sweep: %s is required (see `vmmu sweep --help`)",
			  wname == NULL	  ? "--workload"
			  : param == NULL ? "--param"
					  : "--values");
		return CLI_EXIT_USAGE;
	}
	s->w = workload_find(wname);
	if (s->w == NULL) {
		cli_error("--workload: unknown workload '%s' (see `vmmu list`)", wname);
		return CLI_EXIT_USAGE;
	}
	if (param[0] == '-' && param[1] == '-')
		param += 2;
	if (strlen(param) >= sizeof(s->param) || param[0] == '\0') {
		cli_error("--param: bad parameter name '%s'", param);
		return CLI_EXIT_USAGE;
	}
	snprintf(s->param, sizeof(s->param), "%s", param);
	{
		/* Is it a flag at all? Try its current value spelled as help does:
		 * an unknown name is the only error that says "unknown parameter". */
		struct vm_config c = s->cfg;
		struct wl_params p = s->p;
		if (cli_set(&c, &p, s->param, "", err, sizeof(err)) < 0 &&
		    strncmp(err, "unknown parameter", 17) == 0) {
			cli_error("--param: unknown parameter '%s' (any flag of `vmmu run --help`, "
				  "without its dashes)",
				  s->param);
			return CLI_EXIT_USAGE;
		}
	}
	if (flag_given(argc, argv, s->param)) {
		cli_error("--param %s: the swept parameter cannot also be given as --%s", s->param,
			  s->param);
		return CLI_EXIT_USAGE;
	}
	if (take_values(s, vlist) < 0)
		return CLI_EXIT_USAGE;
	if (s->nseeds > 1 && strcmp(s->param, "seed") == 0) {
		cli_error("--seeds: each point already has its own seed when --param is seed");
		return CLI_EXIT_USAGE;
	}
	if (jobs != NULL) {
		uint64_t n;
		if (cli_parse_u64(jobs, &n, err, sizeof(err)) < 0 || n < 1 || n > JOBS_MAX_PAR) {
			cli_error("-j: expected an integer from 1 to %d, got '%s'", JOBS_MAX_PAR,
				  jobs);
			return CLI_EXIT_USAGE;
		}
		s->jobs = (unsigned)n;
	}
	if (s->out[0] == '\0') {
		cli_error("--out: empty directory name");
		return CLI_EXIT_USAGE;
	}
	if (s->emit != NULL && strcmp(s->emit, "parallel") != 0 && strcmp(s->emit, "slurm") != 0) {
		cli_error("--emit-jobs: expected parallel or slurm, got '%s' (the job list is now "
			  "written into --out DIR, as sweep-W-P.jobs)",
			  s->emit);
		return CLI_EXIT_USAGE;
	}
	if (pilot != NULL && cli_parse_onoff(pilot, &s->pilot, err, sizeof(err)) < 0) {
		cli_error("--pilot: expected on or off, got '%s'", pilot);
		return CLI_EXIT_USAGE;
	}
	if (s->emit == NULL && (s->vmmu != NULL || s->resume || pilot != NULL)) {
		cli_error("%s: only meaningful with --emit-jobs",
			  s->vmmu != NULL ? "--vmmu" : s->resume ? "--resume" : "--pilot");
		return CLI_EXIT_USAGE;
	}
	if (s->from != NULL && s->emit != NULL) {
		cli_error("--from: redraws a merged sweep; it cannot be combined with --emit-jobs");
		return CLI_EXIT_USAGE;
	}
	if (s->from != NULL && s->from[0] == '\0') {
		cli_error("--from: empty file name");
		return CLI_EXIT_USAGE;
	}
	if (mlist != NULL ? take_modes(s, mlist) < 0 : default_modes(s) < 0)
		return CLI_EXIT_USAGE;
	snprintf(s->base, sizeof(s->base), "sweep-%s-%s", s->w->name, s->param);
	return -1;
}

/* ---- jobs ---- */

static int make_jobs(struct sweep *s)
{
	char err[512];

	s->njob = s->nval * s->nmodes * s->nseeds;
	s->job = calloc(s->njob, sizeof(*s->job));
	if (s->job == NULL) {
		cli_error("sweep: out of memory");
		return -1;
	}
	for (size_t k = 0; k < s->njob; k++) {
		size_t v = k / (s->nmodes * s->nseeds), m = k / s->nseeds % s->nmodes;
		struct job *j = &s->job[k];
		j->w = s->w;
		j->m = s->modes[m];
		j->cfg = s->cfg;
		j->p = s->p;
		/* The seed first: the swept parameter may be the seed itself. */
		j->p.seed = s->p.seed + k % s->nseeds;
		if (cli_set(&j->cfg, &j->p, s->param, s->values[v], err, sizeof(err)) < 0) {
			cli_error("--values: %s", err); /* checked already */
			return -1;
		}
		j->cfg.mode = j->m->name;
		if (s->nseeds > 1)
			snprintf(j->tag, sizeof(j->tag), "%.24s=%.24s seed=%" PRIu64, s->param,
				 s->values[v], j->p.seed);
		else
			snprintf(j->tag, sizeof(j->tag), "%.24s=%.36s", s->param, s->values[v]);
	}
	return 0;
}
/* ---- analysis ---- */

static size_t mode_index(const struct sweep *s, const struct mmu_ops *m)
{
	for (size_t k = 0; k < s->nmodes; k++)
		if (s->modes[k] == m)
			return k;
	return SIZE_MAX;
}

static void sweep_analyse(struct sweep *s)
{
	size_t sh = mode_index(s, &shadow_mmu_ops), ne = mode_index(s, &nested_mmu_ops);

	double x[SWEEP_MAX_SEEDS];

	for (size_t m = 0; m < s->nmodes; m++)
		for (size_t v = 0; v < s->nval; v++) {
			const struct job *j = &s->job[(v * s->nmodes + m) * s->nseeds];
			struct ci ci;
			size_t n = 0;
			for (size_t k = 0; k < s->nseeds; k++) {
				if (j[k].state != JOB_OK) {
					n = 0;
					break;
				}
				x[n++] = s->from != NULL
					     ? s->rcpa[(v * s->nmodes + m) * s->nseeds + k]
					     : csv_cycles_per_access(&j[k].r);
			}
			ci_of(x, n, &ci);
			s->cpa[m * s->nval + v] = n ? ci.mean : NAN;
			s->cih[m * s->nval + v] = n ? ci.half : NAN;
		}
	s->pa = s->pb = SIZE_MAX;
	if (sh != SIZE_MAX && ne != SIZE_MAX) {
		s->pa = sh;
		s->pb = ne;
	} else {
		for (size_t m = 0; m < s->nmodes; m++) {
			if (s->modes[m] == &native_mmu_ops && s->nmodes > 2)
				continue;
			if (s->pa == SIZE_MAX)
				s->pa = m;
			else if (s->pb == SIZE_MAX)
				s->pb = m;
		}
	}
	s->nxo = 0;
	if (s->pa != SIZE_MAX && s->pb != SIZE_MAX) {
		s->nxo = sweep_find_crossovers(s->numeric ? s->x : NULL, &s->cpa[s->pa * s->nval],
					       &s->cpa[s->pb * s->nval], s->nval, s->xo,
					       SWEEP_MAX_XOVERS);
		if (s->nxo > SWEEP_MAX_XOVERS)
			s->nxo = SWEEP_MAX_XOVERS;
	}
}

static const char *pair_name(const struct sweep *s, int sign)
{
	return sign < 0 ? s->modes[s->pa]->name : s->modes[s->pb]->name;
}

/* "between ops 2000000 and 4000000 (about 3412000): nested -> shadow" */
static void xover_text(const struct sweep *s, const struct sweep_xover *o, char *buf, size_t len)
{
	double lo, hi;

	sweep_xover_interval(s->numeric ? s->x : NULL, &s->cpa[s->pa * s->nval],
			     &s->cpa[s->pb * s->nval], &s->cih[s->pa * s->nval],
			     &s->cih[s->pb * s->nval], o, &lo, &hi);
	if (s->numeric && s->nseeds > 1)
		snprintf(buf, len,
			 "between %s = %s and %s = %s (linear interpolation of the means: about "
			 "%.0f; 95%% interval %.0f .. %.0f), the winner changes from %s to %s",
			 s->param, s->values[o->lo], s->param, s->values[o->hi], o->x, lo, hi,
			 pair_name(s, o->before), pair_name(s, o->after));
	else if (s->numeric)
		snprintf(buf, len,
			 "between %s = %s and %s = %s (linear interpolation: about %.0f), the "
			 "winner changes from %s to %s",
			 s->param, s->values[o->lo], s->param, s->values[o->hi], o->x,
			 pair_name(s, o->before), pair_name(s, o->after));
	else
		snprintf(buf, len, "between %s = %s and %s = %s, the winner changes from %s to %s",
			 s->param, s->values[o->lo], s->param, s->values[o->hi],
			 pair_name(s, o->before), pair_name(s, o->after));
}

/* ---- output ---- */

static int sweep_csv_fill(FILE *f, void *ctx)
{
	const struct sweep *s = ctx;

	if (csv_write_header(f) < 0)
		return -1;
	for (size_t k = 0; k < s->njob; k++) {
		const struct job *j = &s->job[k];
		if (s->from != NULL) {
			if (s->rows[k] != NULL && fprintf(f, "%s\n", s->rows[k]) < 0)
				return -1;
			continue;
		}
		if (j->state == JOB_OK && csv_write_row(f, j->w->name, &j->cfg, &j->r) < 0)
			return -1;
	}
	return 0;
}

/* "region of interest: the update loop", "whole run". */
static const char *sweep_measured(const struct sweep *s)
{
	static const char *const what[] = {"region of interest", "whole run (--whole-run)",
					   "whole run"};
	return s->cfg.whole_run ? what[1] : s->w->roi != NULL ? what[0] : what[2];
}

/* Does the cheapest mode at value v have an interval that overlaps no other
 * mode's? (Always, with one seed.) */
static bool point_clear(const struct sweep *s, size_t v, size_t win)
{
	double wc = s->cpa[win * s->nval + v], wh = s->cih[win * s->nval + v];

	for (size_t m = 0; m < s->nmodes && s->nseeds > 1; m++) {
		double c = s->cpa[m * s->nval + v], h = s->cih[m * s->nval + v];
		if (m != win && !isnan(c) && c - h <= wc + wh)
			return false;
	}
	return true;
}

static int sweep_md_fill(FILE *f, void *ctx)
{
	const struct sweep *s = ctx;
	size_t failed = 0;

	fprintf(f, "# vmmu sweep: %s, %s (%s)\n\n", s->w->name, s->param, sweep_measured(s));
	fprintf(f, "Workload `%s` with `--%s` set to each of %zu values, under ", s->w->name,
		s->param, s->nval);
	for (size_t m = 0; m < s->nmodes; m++)
		fprintf(f, "%s%s", m ? (m + 1 == s->nmodes ? " and " : ", ") : "",
			s->modes[m]->name);
	fprintf(f,
		". Every other flag is the default or as given; each run's full\n"
		"configuration is in the parameter columns of `%s.csv` (`docs/csv.md`).\n"
		"Numbers are estimated cycles per access from the cost model\n"
		"(`docs/cost-model.md`); the *winner* is the cheapest mode at that value.\n"
		"Plot: `plots/%s.svg` (and `.png`).\n\n",
		s->base, s->base);
	if (s->cfg.whole_run)
		fprintf(f, "Every count covers the **whole run** (`--whole-run`).\n\n");
	else if (s->w->roi != NULL)
		fprintf(
		    f,
		    "Every count covers the workload's **region of interest**, %s, as the\n"
		    "benchmark it imitates times it (`docs/workloads.md`); the whole run is in\n"
		    "the `whole_*` columns, and `--whole-run` measures it instead.\n\n",
		    s->w->roi);
	else
		fprintf(f, "The workload marks no region of interest: every count covers the "
			   "whole run.\n\n");
	if (s->nseeds > 1)
		fprintf(
		    f,
		    "Each point ran seeds %" PRIu64 "..%" PRIu64 ": numbers are the mean and "
		    "the 95%% Student-t\ninterval (`mean ± half-width`); a winner is named "
		    "only where its interval\noverlaps no other mode's, and the crossover comes "
		    "with its interval (docs/sweep.md).\n\n",
		    s->p.seed, s->p.seed + s->nseeds - 1);
	fprintf(f, "| %s |", s->param);
	for (size_t m = 0; m < s->nmodes; m++)
		fprintf(f, " %s |", s->modes[m]->name);
	fprintf(f, " winner |");
	if (s->pa != SIZE_MAX && s->pb != SIZE_MAX)
		fprintf(f, " %s vs %s |", s->modes[s->pa]->name, s->modes[s->pb]->name);
	fprintf(f, "\n|---:|");
	for (size_t m = 0; m < s->nmodes; m++)
		fprintf(f, "---:|");
	fprintf(f, "---|%s\n", s->pa != SIZE_MAX && s->pb != SIZE_MAX ? "---|" : "");
	for (size_t v = 0; v < s->nval; v++) {
		size_t win = SIZE_MAX;
		fprintf(f, "| %s |", s->values[v]);
		for (size_t m = 0; m < s->nmodes; m++) {
			double c = s->cpa[m * s->nval + v];
			if (isnan(c)) {
				fprintf(f, s->from != NULL ? " missing |" : " failed |");
				failed++;
				continue;
			}
			if (s->nseeds > 1)
				fprintf(f, " %.2f ± %.2f |", c, s->cih[m * s->nval + v]);
			else
				fprintf(f, " %.2f |", c);
			if (win == SIZE_MAX || c < s->cpa[win * s->nval + v])
				win = m;
		}
		fprintf(f, " %s |",
			win == SIZE_MAX		 ? "none"
			: point_clear(s, v, win) ? s->modes[win]->name
						 : "no clear winner");
		if (s->pa != SIZE_MAX && s->pb != SIZE_MAX) {
			double a = s->cpa[s->pa * s->nval + v], b = s->cpa[s->pb * s->nval + v];
			if (isnan(a) || isnan(b))
				fprintf(f, " n/a |");
			else if (a == b)
				fprintf(f, " tie |");
			else if (s->nseeds > 1 && fabs(a - b) <= s->cih[s->pa * s->nval + v] +
								     s->cih[s->pb * s->nval + v])
				fprintf(f, " intervals overlap |");
			else
				fprintf(f, " %s by %.1f%% |",
					a < b ? s->modes[s->pa]->name : s->modes[s->pb]->name,
					100.0 * fabs(a - b) / (a > b ? a : b));
		}
		fputc('\n', f);
	}
	fprintf(f, "\n## Crossover\n\n");
	if (s->pa == SIZE_MAX || s->pb == SIZE_MAX) {
		fprintf(f, "Fewer than two modes ran: there is nothing to cross.\n");
	} else if (s->nxo == 0) {
		size_t v;
		for (v = 0; v < s->nval; v++)
			if (!isnan(s->cpa[s->pa * s->nval + v]) &&
			    !isnan(s->cpa[s->pb * s->nval + v]) &&
			    s->cpa[s->pa * s->nval + v] != s->cpa[s->pb * s->nval + v])
				break;
		if (v == s->nval)
			fprintf(f, "No crossover: %s and %s never both ran with different costs.\n",
				s->modes[s->pa]->name, s->modes[s->pb]->name);
		else
			fprintf(f,
				"No crossover between %s and %s over these values: %s wins at "
				"every value where both ran.\n",
				s->modes[s->pa]->name, s->modes[s->pb]->name,
				s->cpa[s->pa * s->nval + v] < s->cpa[s->pb * s->nval + v]
				    ? s->modes[s->pa]->name
				    : s->modes[s->pb]->name);
	} else {
		for (size_t k = 0; k < s->nxo; k++) {
			char t[512];
			xover_text(s, &s->xo[k], t, sizeof(t));
			fprintf(f, "- **Crossover %zu**: %s%s.\n", k + 1, t,
				s->numeric ? " (marked in the plot)" : "");
		}
		if (!s->numeric)
			fprintf(f, "\nThe values are categories, so the plot marks each crossover "
				   "half-way between the two values.\n");
	}
	if (failed && s->from != NULL)
		fprintf(f, "\n%zu point(s) have runs missing from `%s`.\n", failed, s->from);
	else if (failed)
		fprintf(f, "\n%zu point(s) failed; their failed runs have no row in `%s.csv`.\n",
			failed, s->base);
	return ferror(f) ? -1 : 0;
}

static int sweep_plot(const struct sweep *s)
{
	const char *series[SWEEP_MAX_MODES], *marks_l[SWEEP_MAX_XOVERS];
	char labels[SWEEP_MAX_XOVERS][64], title[256], xlabel[128], msg[512];
	double marks[SWEEP_MAX_XOVERS];
	double minx = s->x[0], maxx = s->x[s->nval - 1];
	struct plot_lines pl = {0};
	enum plot_status st;

	for (size_t m = 0; m < s->nmodes; m++)
		series[m] = s->modes[m]->name;
	for (size_t k = 0; k < s->nxo; k++) {
		marks[k] = s->xo[k].x;
		snprintf(labels[k], sizeof(labels[k]), "%s -> %s", pair_name(s, s->xo[k].before),
			 pair_name(s, s->xo[k].after));
		marks_l[k] = labels[k];
	}
	snprintf(title, sizeof(title), "%s: estimated cycles per access vs %s (%s%s)", s->w->name,
		 s->param, sweep_measured(s), s->nseeds > 1 ? "; bars: 95% interval" : "");
	snprintf(xlabel, sizeof(xlabel), "--%s", s->param);
	pl.name = s->base;
	pl.title = title;
	pl.xlabel = xlabel;
	pl.ylabel = "cycles per access";
	pl.nx = s->nval;
	pl.xlabels = s->values;
	pl.x = s->numeric ? s->x : NULL;
	pl.logx = s->numeric && minx > 0 && maxx / minx >= 16;
	pl.nseries = s->nmodes;
	pl.series = series;
	pl.y = s->cpa;
	pl.yerr = s->nseeds > 1 ? s->cih : NULL;
	pl.nmarks = s->nxo;
	pl.marks = marks;
	pl.mark_labels = marks_l;
	st = plot_lines(s->out, &pl, msg, sizeof(msg));
	if (st == PLOT_DRAWN) {
		if (!s->quiet)
			printf("wrote %s/plots/%s.{svg,png}\n", s->out, s->base);
		return 0;
	}
	if (st == PLOT_NO_GNUPLOT) {
		fprintf(stderr,
			"vmmu sweep: %s: plot not drawn (its data and gnuplot script are in "
			"%s/plots; `make deps` installs gnuplot-nox)\n",
			msg, s->out);
		return 0;
	}
	cli_error("sweep: plot: %s", msg);
	return -1;
}

/* ---- entry ---- */

/* The manifest, BASE.csv, BASE.md and the four files of the plot. */
#define SWEEP_SET_FILES 7

static void sweep_free(struct sweep *s)
{
	free(s->vbuf);
	free(s->job);
	free(s->cpa);
	free(s->cih);
	free(s->rcpa);
	free(s->rows);
	free(s->from_buf);
}

int sweep_main(int argc, char **argv)
{
	struct sweep s;
	char err[512], path[PATH_MAX];
	char files[SWEEP_SET_FILES][300];
	const char *names[SWEEP_SET_FILES];
	size_t failed = 0;
	bool write_failed = false;
	sigset_t mask;
	int rc;

	memset(&s, 0, sizeof(s));
	rc = sweep_parse(&s, argc, argv);
	if (rc < 0 && make_jobs(&s) < 0)
		rc = CLI_EXIT_FAIL;
	if (rc < 0 && sweep_check_outputs(&s) < 0)
		rc = CLI_EXIT_USAGE;
	if (rc < 0 && s.emit != NULL)
		rc = sweep_emit(&s);
	if (rc >= 0) {
		sweep_free(&s);
		return rc;
	}
	if (csv_make_dirs(s.out, err, sizeof(err)) < 0) {
		cli_error("--out: %s", err);
		sweep_free(&s);
		return CLI_EXIT_USAGE;
	}
	s.cpa = calloc(s.njob, sizeof(*s.cpa));
	s.cih = calloc(s.njob, sizeof(*s.cih));
	if (s.cpa == NULL || s.cih == NULL) {
		cli_error("sweep: out of memory");
		sweep_free(&s);
		return CLI_EXIT_FAIL;
	}
	if (s.from != NULL) {
		rc = sweep_load(&s);
		if (rc >= 0) {
			sweep_free(&s);
			return rc;
		}
		rc = 0;
	} else {
		if (!s.quiet)
			fprintf(stderr,
				"vmmu sweep: %s, %s over %zu values x %zu modes x %u seeds = %zu "
				"runs, %u at a time\n",
				s.w->name, s.param, s.nval, s.nmodes, s.nseeds, s.njob, s.jobs);
		rc = jobs_run_quiet("sweep", s.job, s.njob, s.jobs, s.quiet);
	}
	if (rc != 0) {
		cli_error("sweep: interrupted by SIG%s; nothing written", sigabbrev_np(rc));
		sweep_free(&s);
		return 128 + rc;
	}
	for (size_t k = 0; k < s.njob; k++)
		failed += s.job[k].state != JOB_OK;
	rc = failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	sweep_analyse(&s);

	/* As compare: the manifest goes first and comes back last, with
	 * SIGINT/SIGTERM held in between. */
	jobs_hold_signals(&mask);
	snprintf(files[0], sizeof(files[0]), "%s.manifest", s.base);
	snprintf(files[1], sizeof(files[1]), "%s.csv", s.base);
	snprintf(files[2], sizeof(files[2]), "%s.md", s.base);
	for (size_t k = 0; k < 4; k++)
		snprintf(files[3 + k], sizeof(files[3 + k]), "plots/%s.%s", s.base,
			 (const char *[]){"dat", "gp", "svg", "png"}[k]);
	for (size_t k = 0; k < SWEEP_SET_FILES; k++)
		names[k] = files[k];
	if (manifest_remove(s.out, files[0], err, sizeof(err)) < 0) {
		cli_error("sweep: %s", err);
		jobs_release_signals(&mask);
		sweep_free(&s);
		return CLI_EXIT_FAIL;
	}
	snprintf(path, sizeof(path), "%.3800s/%s.csv", s.out, s.base);
	if (csv_write_atomic(path, sweep_csv_fill, &s, err, sizeof(err)) < 0) {
		cli_error("sweep: %s", err);
		rc = CLI_EXIT_FAIL;
		write_failed = true;
	} else if (!s.quiet) {
		printf("wrote %s (%zu rows)\n", path, s.njob - failed);
	}
	snprintf(path, sizeof(path), "%.3800s/%s.md", s.out, s.base);
	if (csv_write_atomic(path, sweep_md_fill, &s, err, sizeof(err)) < 0) {
		cli_error("sweep: %s", err);
		rc = CLI_EXIT_FAIL;
		write_failed = true;
	} else if (!s.quiet) {
		printf("wrote %s\n", path);
	}
	if (sweep_plot(&s) < 0) {
		rc = CLI_EXIT_FAIL;
		write_failed = true;
	}
	/* Every file of the set was written (failed runs are reported in it). */
	if (!write_failed &&
	    manifest_write(s.out, files[0], names + 1, SWEEP_SET_FILES - 1, err, sizeof(err)) < 0) {
		cli_error("sweep: %s", err);
		rc = CLI_EXIT_FAIL;
	}
	jobs_release_signals(&mask);
	if (!s.quiet && s.pa != SIZE_MAX && s.pb != SIZE_MAX && s.nxo == 0)
		printf("no crossover between %s and %s over these values\n", s.modes[s.pa]->name,
		       s.modes[s.pb]->name);
	for (size_t k = 0; k < s.nxo && !s.quiet; k++) {
		char t[512];
		xover_text(&s, &s.xo[k], t, sizeof(t));
		printf("crossover: %s\n", t);
	}
	if (failed)
		cli_error("sweep: %zu of %zu runs %s", failed, s.njob,
			  s.from != NULL ? "have no row in the --from file" : "failed");
	sweep_free(&s);
	return rc;
}

/*
 * sweep_emit.c - `vmmu sweep --emit-jobs FILE`: one self-contained command
 * line per job, for GNU parallel or a cluster, whose CSVs `vmmu merge`
 * combines; and the check of a sweep's output paths before any run.
 */
#include "sweep-int.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "../report/ci.h"
#include "../report/csv.h"
#include "../report/output.h"
#include "jobs.h"
#include "../core/mmu.h"
#include "../report/plot.h"
#include "../lib/run.h"
#include "registry.h"

/* ---- --emit-jobs ---- */

/* A word for a POSIX shell: as is when it is safe, else single-quoted. */
static void put_word(FILE *f, const char *w)
{
	bool safe = *w != '\0';

	for (const char *p = w; *p; p++)
		if (!isalnum((unsigned char)*p) && strchr("_./:=,+-@%", *p) == NULL)
			safe = false;
	if (safe) {
		fputs(w, f);
		return;
	}
	fputc('\'', f);
	for (; *w; w++) {
		if (*w == '\'')
			fputs("'\\''", f);
		else
			fputc(*w, f);
	}
	fputc('\'', f);
}

static void put_flag(const char *name, const char *value, void *ctx)
{
	FILE *f = ctx;
	char buf[256];

	snprintf(buf, sizeof(buf), "%s=%s", name, value);
	fputc(' ', f);
	put_word(f, buf);
}

struct emit_ctx {
	const struct sweep *s;
	const char *vmmu;
	char dir[PATH_MAX];
};

static int emit_fill(FILE *f, void *ctx)
{
	const struct emit_ctx *e = ctx;
	const struct sweep *s = e->s;

	for (size_t k = 0; k < s->njob; k++) {
		const struct job *j = &s->job[k];
		struct wl_params p = run_params(j->w, &j->p);
		char csv[PATH_MAX + 64];

		if (s->nseeds > 1)
			snprintf(csv, sizeof(csv), "%s/%04zu-%s-seed%" PRIu64 ".csv", e->dir,
				 k / (s->nmodes * s->nseeds) + 1, j->m->name, j->p.seed);
		else
			snprintf(csv, sizeof(csv), "%s/%04zu-%s.csv", e->dir, k / s->nmodes + 1,
				 j->m->name);
		fputs("mkdir -p ", f);
		put_word(f, e->dir);
		fputs(" && ", f);
		put_word(f, e->vmmu);
		fputs(" run --workload ", f);
		put_word(f, j->w->name);
		fputs(" --mode ", f);
		put_word(f, j->m->name);
		cli_each_flag(&j->cfg, &p, put_flag, f);
		fputs(" --csv ", f);
		put_word(f, csv);
		fputc('\n', f);
	}
	return ferror(f) ? -1 : 0;
}

/* Before any job: can --emit-jobs, or --out and the files it will hold,
 * take the output? Prints why not and returns -1. */
int sweep_check_outputs(const struct sweep *s)
{
	char err[PATH_MAX + 128], csv[300], md[300];
	const char *names[2] = {csv, md};
	struct out_target t;

	if (s->emit != NULL) {
		if (out_resolve(s->emit, &t, err, sizeof(err)) < 0) {
			cli_error("--emit-jobs: %s", err);
			return -1;
		}
		return 0;
	}
	snprintf(csv, sizeof(csv), "%s.csv", s->base);
	snprintf(md, sizeof(md), "%s.md", s->base);
	if (out_check_set(s->out, names, 2, err, sizeof(err)) < 0) {
		cli_error("--out: %s", err);
		return -1;
	}
	return 0;
}

int sweep_emit(const struct sweep *s)
{
	struct emit_ctx e = {.s = s, .vmmu = s->vmmu};
	char self[PATH_MAX], err[512];

	if (e.vmmu == NULL) {
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0) {
			cli_error("--emit-jobs: cannot find this binary's path; give --vmmu PATH");
			return CLI_EXIT_USAGE;
		}
		self[n] = '\0';
		e.vmmu = self;
	}
	snprintf(e.dir, sizeof(e.dir), "%.3800s/%s-jobs", s->out, s->base);
	if (csv_write_atomic(s->emit, emit_fill, &e, err, sizeof(err)) < 0) {
		cli_error("--emit-jobs: %s", err);
		return CLI_EXIT_FAIL;
	}
	printf("wrote %s (%zu jobs: %zu values x %zu modes x %u seeds)\n"
	       "run them, e.g.:  parallel -j 8 < %s\n"
	       "   or in a Slurm array (--array=1-%zu):  sed -n \"${SLURM_ARRAY_TASK_ID}p\" %s | "
	       "sh\n"
	       "then merge:      %s merge %s/%s.csv %s --expect %s\n",
	       s->emit, s->njob, s->nval, s->nmodes, s->nseeds, s->emit, s->njob, s->emit, e.vmmu,
	       s->out, s->base, e.dir, s->emit);
	return CLI_EXIT_OK;
}

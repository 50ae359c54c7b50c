/*
 * sweep_emit.c - `vmmu sweep --emit-jobs parallel|slurm`: one self-contained
 * command line per job, for GNU parallel or a Slurm job array, whose CSVs
 * `vmmu merge` combines; and the check of a sweep's output paths before
 * any run.
 *
 * In DIR (--out), with BASE = sweep-<workload>-<param>:
 *   BASE.jobs         every job, one `vmmu run ... --csv` line each (the
 *                     file `vmmu merge --expect` reads);
 *   BASE.todo         the jobs still to run: all but those whose CSV under
 *                     BASE-jobs/ is complete (after the pilot; with
 *                     --resume, after the earlier runs);
 *   BASE.sbatch       a Slurm array script over BASE.todo, or
 *   BASE.parallel.sh  a GNU parallel command over BASE.todo.
 * The pilot runs the last value's jobs (every mode, the first seed) here
 * before the scripts are written; their CSVs are those jobs' own outputs,
 * and the Slurm --time and --mem hints come from the wall_s and rss_bytes
 * of every complete job CSV.
 *
 * Invariants:
 *   - a job CSV counts as done only when it holds this vmmu's header and
 *     exactly one row as wide, ended by a newline (runs write atomically,
 *     so a partial file is one another writer left);
 *   - BASE.todo is BASE.jobs without the done jobs, in the same order.
 */
#include "sweep-int.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	/* Room for the longest value (a --cost list of every field): a job
	 * line cut short would run with other costs than the sweep's. */
	char buf[8192];

	if ((size_t)snprintf(buf, sizeof(buf), "%s=%s", name, value) >= sizeof(buf)) {
		fprintf(stderr, "vmmu: internal error: %s does not fit a job line\n", name);
		abort();
	}
	fputc(' ', f);
	put_word(f, buf);
}

/* ---- the job lines ---- */

void sweep_job_csv(const struct sweep *s, size_t k, const char *dir, char *buf, size_t len)
{
	const struct job *j = &s->job[k];

	if (s->nseeds > 1)
		snprintf(buf, len, "%s/%04zu-%s-seed%" PRIu64 ".csv", dir,
			 k / (s->nmodes * s->nseeds) + 1, j->m->name, j->p.seed);
	else
		snprintf(buf, len, "%s/%04zu-%s.csv", dir, k / s->nmodes + 1, j->m->name);
}

struct emit_ctx {
	const struct sweep *s;
	const char *vmmu;
	char dir[PATH_MAX];
	const bool *skip; /* jobs left out of the list (done), or NULL */
	/* the submit script */
	const char *kind; /* "parallel" or "slurm" */
	char todo[PATH_MAX];
	size_t ntodo;
	unsigned time_min; /* Slurm --time in minutes, 0: no hint */
	unsigned mem_mib;  /* Slurm --mem in MiB, 0: no hint */
	char hint_from[160];
};

static void emit_line(FILE *f, const struct emit_ctx *e, size_t k)
{
	const struct sweep *s = e->s;
	const struct job *j = &s->job[k];
	struct wl_params p = run_params(j->w, &j->p);
	char csv[PATH_MAX + 64];

	sweep_job_csv(s, k, e->dir, csv, sizeof(csv));
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

static int emit_fill(FILE *f, void *ctx)
{
	const struct emit_ctx *e = ctx;

	for (size_t k = 0; k < e->s->njob; k++)
		if (e->skip == NULL || !e->skip[k])
			emit_line(f, e, k);
	return ferror(f) ? -1 : 0;
}

/* The redraw command: this command line without the emit flags, with
 * --from MERGED. */
static void put_redraw(FILE *f, const struct emit_ctx *e, const char *merged)
{
	const struct sweep *s = e->s;

	put_word(f, e->vmmu);
	for (int i = 0; i < s->argc; i++) { /* argv[0] is "sweep" */
		const char *a = s->argv[i];
		bool with_value = strcmp(a, "--emit-jobs") == 0 || strcmp(a, "--vmmu") == 0 ||
				  strcmp(a, "--pilot") == 0;
		if (with_value) {
			i++;
			continue;
		}
		if (strncmp(a, "--emit-jobs=", 12) == 0 || strncmp(a, "--vmmu=", 7) == 0 ||
		    strncmp(a, "--pilot=", 8) == 0 || strcmp(a, "--resume") == 0)
			continue;
		fputc(' ', f);
		put_word(f, a);
	}
	fputs(" --from ", f);
	put_word(f, merged);
}

static int script_fill(FILE *f, void *ctx)
{
	const struct emit_ctx *e = ctx;
	const struct sweep *s = e->s;
	char jobs[PATH_MAX + 300], merged[PATH_MAX + 300];

	snprintf(jobs, sizeof(jobs), "%.4000s/%s.jobs", s->out, s->base);
	snprintf(merged, sizeof(merged), "%.4000s/%s-merged.csv", s->out, s->base);
	fprintf(f, "#!/bin/sh\n");
	if (strcmp(e->kind, "slurm") == 0) {
		fprintf(f,
			"# %s: %zu of the sweep's %zu jobs as a Slurm job array, one array task\n"
			"# per line of %s. Submit from the directory the sweep was emitted in\n"
			"# (the paths are relative to it):  sbatch %s/%s.sbatch\n",
			s->base, e->ntodo, s->njob, e->todo, s->out, s->base);
		fprintf(f, "#SBATCH --job-name=vmmu-%s\n", s->base);
		if (e->ntodo > 0)
			fprintf(f, "#SBATCH --array=1-%zu\n", e->ntodo);
		fprintf(f, "#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=1\n");
		if (e->time_min > 0)
			fprintf(f,
				"# --time and --mem: 3x the slowest run and 2x the largest peak RSS\n"
				"# %s\n#SBATCH --time=%u\n#SBATCH --mem=%uM\n",
				e->hint_from, e->time_min, e->mem_mib);
		else
			fprintf(f, "# no --time or --mem hint: no run was measured (--pilot off)\n");
		fprintf(f, "#SBATCH --output=%s/slurm-%%A_%%a.out\n", e->dir);
		fprintf(f, "[ -n \"$SLURM_ARRAY_TASK_ID\" ] || { echo 'nothing to run' >&2; exit 0; "
			   "}\n");
		fprintf(f, "sed -n \"${SLURM_ARRAY_TASK_ID}p\" ");
		put_word(f, e->todo);
		fprintf(f, " | sh\n");
	} else {
		fprintf(f,
			"# %s: %zu of the sweep's %zu jobs through GNU parallel, one job per line\n"
			"# of %s. Run it from the directory the sweep was emitted in; its\n"
			"# arguments go to parallel (e.g. -j 16 --sshlogin node1,node2).\n",
			s->base, e->ntodo, s->njob, e->todo);
		fprintf(f, "exec parallel --will-cite --halt never --joblog ");
		put_word(f, e->dir);
		fprintf(f, "/parallel.log \"$@\" < ");
		put_word(f, e->todo);
		fputc('\n', f);
	}
	fprintf(f, "# When every job has finished, merge and redraw:\n#   ");
	put_word(f, e->vmmu);
	fprintf(f, " merge ");
	put_word(f, merged);
	fputc(' ', f);
	put_word(f, e->dir);
	fprintf(f, " --expect ");
	put_word(f, jobs);
	fprintf(f, "\n#   ");
	put_redraw(f, e, merged);
	fputc('\n', f);
	return ferror(f) ? -1 : 0;
}

/* ---- complete job CSVs ---- */

char *sweep_header(void)
{
	char *hdr = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&hdr, &len);

	if (f == NULL)
		return NULL;
	if (csv_write_header(f) < 0) {
		fclose(f);
		free(hdr);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(hdr);
		return NULL;
	}
	hdr[strcspn(hdr, "\n")] = '\0';
	return hdr;
}

const char *sweep_field(const char *line, size_t k, size_t *len)
{
	for (; k > 0; k--) {
		line = strchr(line, ',');
		if (line == NULL)
			return NULL;
		line++;
	}
	*len = strcspn(line, ",\n");
	return line;
}

size_t sweep_col(const char *header, const char *name)
{
	size_t n = strlen(name), len;
	const char *f;

	for (size_t k = 0; (f = sweep_field(header, k, &len)) != NULL; k++)
		if (len == n && strncmp(f, name, n) == 0)
			return k;
	return SIZE_MAX;
}

static size_t nfields(const char *line)
{
	size_t n = 1;

	for (; *line && *line != '\n'; line++)
		n += *line == ',';
	return n;
}

/* Is path a complete job CSV: this vmmu's header, one row as wide, and a
 * final newline? Then its wall_s and rss_bytes go to *wall, *rss. */
static bool job_csv_complete(const char *path, const char *hdr, double *wall, double *rss)
{
	char buf[16384];
	FILE *f = fopen(path, "r");
	size_t n, hl = strlen(hdr), len;
	const char *row, *v;

	if (f == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (n == sizeof(buf) - 1 || n < hl + 2 || strncmp(buf, hdr, hl) != 0 || buf[hl] != '\n')
		return false;
	row = buf + hl + 1;
	if (strchr(row, '\n') != buf + n - 1 || nfields(row) != nfields(hdr))
		return false;
	v = sweep_field(row, sweep_col(hdr, "wall_s"), &len);
	*wall = v ? strtod(v, NULL) : 0;
	v = sweep_field(row, sweep_col(hdr, "rss_bytes"), &len);
	*rss = v ? strtod(v, NULL) : 0;
	return true;
}

/* ---- the pilot ---- */

/* Run job k's line with /bin/sh, its output to /dev/null. 0 on success. */
static int run_line(const struct emit_ctx *e, size_t k)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc;

	if (f == NULL)
		return -1;
	fputs("exec >/dev/null; ", f);
	emit_line(f, e, k);
	if (fclose(f) != 0) {
		free(text);
		return -1;
	}
	fflush(NULL);
	rc = system(text);
	free(text);
	return rc == 0 ? 0 : -1;
}

/* ---- entry ---- */

/* Before any job: can --out hold the files the sweep will write (with
 * --emit-jobs: the job list, the list to run and the script)? Prints why
 * not and returns -1. */
int sweep_check_outputs(const struct sweep *s)
{
	char err[PATH_MAX + 128], a[300], b[300], c[300];
	const char *names[3] = {a, b, c};

	if (s->emit != NULL) {
		snprintf(a, sizeof(a), "%s.jobs", s->base);
		snprintf(b, sizeof(b), "%s.todo", s->base);
		snprintf(c, sizeof(c), "%s.%s", s->base,
			 strcmp(s->emit, "slurm") == 0 ? "sbatch" : "parallel.sh");
		if (out_check_set(s->out, names, 3, err, sizeof(err)) < 0) {
			cli_error("--out: %s", err);
			return -1;
		}
		return 0;
	}
	snprintf(a, sizeof(a), "%s.csv", s->base);
	snprintf(b, sizeof(b), "%s.md", s->base);
	if (out_check_set(s->out, names, 2, err, sizeof(err)) < 0) {
		cli_error("--out: %s", err);
		return -1;
	}
	return 0;
}

int sweep_emit(const struct sweep *s)
{
	struct emit_ctx e = {.s = s, .vmmu = s->vmmu, .kind = s->emit};
	char self[PATH_MAX], err[512], path[PATH_MAX + 64];
	bool *done = calloc(s->njob ? s->njob : 1, sizeof(*done));
	char *hdr = sweep_header();
	double wall_max = 0, rss_max = 0;
	size_t ndone = 0, npilot = 0;
	int rc = CLI_EXIT_OK;

	if (done == NULL || hdr == NULL) {
		cli_error("sweep: out of memory");
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	if (e.vmmu == NULL) {
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0) {
			cli_error("--emit-jobs: cannot find this binary's path; give --vmmu PATH");
			rc = CLI_EXIT_USAGE;
			goto out;
		}
		self[n] = '\0';
		e.vmmu = self;
	}
	snprintf(e.dir, sizeof(e.dir), "%.3800s/%s-jobs", s->out, s->base);
	snprintf(e.todo, sizeof(e.todo), "%.3800s/%s.todo", s->out, s->base);
	if (csv_make_dirs(s->out, err, sizeof(err)) < 0 ||
	    csv_make_dirs(e.dir, err, sizeof(err)) < 0) {
		cli_error("--out: %s", err);
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	/* Which jobs already have their complete CSV? */
	for (size_t k = 0; k < s->njob; k++) {
		double w, r;
		sweep_job_csv(s, k, e.dir, path, sizeof(path));
		if (job_csv_complete(path, hdr, &w, &r)) {
			done[k] = true;
			ndone++;
		} else if (access(path, F_OK) == 0 && !s->resume) {
			ndone++; /* an incomplete file: counted as a leftover too */
		}
	}
	if (!s->resume && ndone > 0) {
		cli_error("--emit-jobs: %s already holds CSVs of %zu of these jobs; --resume emits "
			  "only the jobs whose CSV is missing or incomplete (or remove the folder)",
			  e.dir, ndone);
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	if (!s->resume)
		ndone = 0;
	snprintf(path, sizeof(path), "%.3800s/%s.jobs", s->out, s->base);
	if (csv_write_atomic(path, emit_fill, &e, err, sizeof(err)) < 0) {
		cli_error("--emit-jobs: %s", err);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	/* The pilot: the last value's jobs (the largest, for numbers), first
	 * seed, every mode, run here; their CSVs are the jobs' own. */
	if (s->pilot && ndone == 0) {
		size_t v = s->nval - 1;
		for (size_t m = 0; m < s->nmodes; m++) {
			size_t k = (v * s->nmodes + m) * s->nseeds;
			if (!s->quiet)
				fprintf(stderr, "vmmu sweep: pilot: %s %s=%s\n", s->job[k].m->name,
					s->param, s->values[v]);
			if (run_line(&e, k) < 0) {
				cli_error("sweep: the pilot job %s %s=%s failed; the job list is in "
					  "%s, no script was written",
					  s->job[k].m->name, s->param, s->values[v], path);
				rc = CLI_EXIT_FAIL;
				goto out;
			}
			npilot++;
		}
	}
	ndone = 0;
	for (size_t k = 0; k < s->njob; k++) {
		double w, r;
		char p2[PATH_MAX + 64];
		sweep_job_csv(s, k, e.dir, p2, sizeof(p2));
		done[k] = job_csv_complete(p2, hdr, &w, &r);
		if (done[k]) {
			ndone++;
			wall_max = w > wall_max ? w : wall_max;
			rss_max = r > rss_max ? r : rss_max;
		}
	}
	e.ntodo = s->njob - ndone;
	if (ndone > 0) {
		e.time_min = (unsigned)ceil(3 * wall_max / 60);
		e.time_min = e.time_min < 1 ? 1 : e.time_min;
		e.mem_mib = (unsigned)ceil(2 * rss_max / (1024.0 * 1024.0));
		e.mem_mib = e.mem_mib < 64 ? 64 : e.mem_mib;
		snprintf(e.hint_from, sizeof(e.hint_from),
			 "measured on %zu run(s) here: slowest %.2f s, largest peak RSS %.1f MiB",
			 ndone, wall_max, rss_max / (1024.0 * 1024.0));
	}
	e.skip = done;
	if (csv_write_atomic(e.todo, emit_fill, &e, err, sizeof(err)) < 0) {
		cli_error("--emit-jobs: %s", err);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	snprintf(path, sizeof(path), "%.3800s/%s.%s", s->out, s->base,
		 strcmp(e.kind, "slurm") == 0 ? "sbatch" : "parallel.sh");
	if (csv_write_atomic(path, script_fill, &e, err, sizeof(err)) < 0) {
		cli_error("--emit-jobs: %s", err);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	if (chmod(path, 0755) < 0) {
		cli_error("--emit-jobs: %s: cannot make it executable", path);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	if (s->quiet)
		goto out;
	printf("wrote %s/%s.jobs (%zu jobs: %zu values x %zu modes x %u seeds)\n", s->out,
	       s->base, s->njob, s->nval, s->nmodes, s->nseeds);
	if (npilot)
		printf("pilot: ran %zu job(s) here (%s=%s); %s\n", npilot, s->param,
		       s->values[s->nval - 1], e.hint_from);
	else if (s->resume)
		printf("resume: %zu of %zu jobs have a complete CSV\n", ndone, s->njob);
	printf("wrote %s (%zu jobs to run) and %s\n", e.todo, e.ntodo, path);
	if (strcmp(e.kind, "slurm") == 0)
		printf("submit:  sbatch %s\n", path);
	else
		printf("run:     sh %s [-j N] [--sshlogin host,...]\n", path);
	printf("then:    %s merge %s/%s-merged.csv %s --expect %s/%s.jobs\n", e.vmmu, s->out,
	       s->base, e.dir, s->out, s->base);
	printf("redraw:  ");
	fflush(stdout);
	{
		char mg[PATH_MAX + 300];
		snprintf(mg, sizeof(mg), "%.4000s/%s-merged.csv", s->out, s->base);
		put_redraw(stdout, &e, mg);
		putchar('\n');
	}
out:
	free(done);
	free(hdr);
	return rc;
}

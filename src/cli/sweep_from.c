/*
 * sweep_from.c - `vmmu sweep --from MERGED.csv`: the summary, plot and
 * crossover of a sweep whose jobs ran elsewhere, from the CSV `vmmu merge`
 * made of their outputs.
 *
 * The command line is the sweep's own (workload, parameter, values, modes,
 * seeds and flags, as given to --emit-jobs), so the jobs are known; each
 * job is matched to its row by key, the rule of `vmmu merge`: workload,
 * mode, seed and every parameter column (the columns after
 * sim_accesses_per_s up to the first counter). A job's key is spelled by
 * writing its row through csv.c with the job's configuration, so the file
 * must carry this vmmu's header.
 *
 * Invariants:
 *   - each job gets at most one row; two rows with one job's key are an
 *     error (exit 2), as in merge;
 *   - a job without a row is a missing point (NAN), as a failed run is;
 *   - rows that belong to no job of this sweep are left out, and counted.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../report/csv.h"
#include "../lib/run.h"
#include "registry.h"
#include "sweep-int.h"

/* The key columns of header: workload, mode, seed, then the parameters. */
static size_t key_columns(const char *header, size_t *idx, size_t max)
{
	size_t n = 0, len, c, start = sweep_col(header, "sim_accesses_per_s");
	const char *f;

	if (start == SIZE_MAX || max < 3)
		return 0;
	idx[n++] = 0;
	idx[n++] = 1;
	idx[n++] = 2;
	for (c = start + 1; (f = sweep_field(header, c, &len)) != NULL && n < max; c++) {
		bool counter = false;
		for (size_t k = 0; k < stat_nfields && !counter; k++)
			counter = strlen(stat_fields[k].name) == len &&
				  strncmp(stat_fields[k].name, f, len) == 0;
		if (counter)
			break;
		idx[n++] = c;
	}
	return n;
}

/* Do lines a and b agree on every key column? */
static bool same_key(const char *a, const char *b, const size_t *idx, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		size_t la, lb;
		const char *fa = sweep_field(a, idx[k], &la), *fb = sweep_field(b, idx[k], &lb);
		if (fa == NULL || fb == NULL || la != lb || strncmp(fa, fb, la) != 0)
			return false;
	}
	return true;
}

/* Job k's row as csv.c would write it, counters zero (malloc'ed). */
static char *job_row(const struct sweep *s, size_t k)
{
	const struct job *j = &s->job[k];
	struct run_result r;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	memset(&r, 0, sizeof(r));
	r.params = run_params(j->w, &j->p);
	if (csv_write_row(f, j->w->name, &j->cfg, &r) < 0) {
		fclose(f);
		free(text);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return NULL;
	do {
		if (cap - len < 65536) {
			char *nb = realloc(buf, cap + 65536 + 1);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		errno = EIO;
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

int sweep_load(struct sweep *s)
{
	char *hdr = sweep_header(), **want = NULL, *save = NULL, *line;
	size_t idx[256], nkey, cpa_col, lineno = 1, stray = 0, missing = 0, nrows = 0;
	int rc = -1;

	s->rcpa = calloc(s->njob, sizeof(*s->rcpa));
	s->rows = calloc(s->njob, sizeof(*s->rows));
	want = calloc(s->njob, sizeof(*want));
	if (hdr == NULL || s->rcpa == NULL || s->rows == NULL || want == NULL) {
		cli_error("sweep: out of memory");
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	s->from_buf = read_all(s->from);
	if (s->from_buf == NULL) {
		cli_error("--from: cannot read '%s': %s", s->from, strerror(errno));
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	line = strtok_r(s->from_buf, "\n", &save);
	if (line == NULL || strcmp(line, hdr) != 0) {
		cli_error("--from: '%s': %s", s->from,
			  line == NULL ? "empty file, no header"
				       : "the header is not this vmmu's (redraw with the vmmu "
					 "that ran and merged the jobs)");
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	nkey = key_columns(hdr, idx, 256);
	cpa_col = sweep_col(hdr, "cycles_per_access");
	for (size_t k = 0; k < s->njob; k++) {
		s->rcpa[k] = NAN;
		want[k] = job_row(s, k);
		if (want[k] == NULL) {
			cli_error("sweep: out of memory");
			rc = CLI_EXIT_FAIL;
			goto out;
		}
	}
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		size_t k, len;
		const char *v;
		lineno++;
		if (*line == '\0')
			continue;
		nrows++;
		for (k = 0; k < s->njob; k++)
			if (same_key(line, want[k], idx, nkey))
				break;
		if (k == s->njob) {
			stray++;
			continue;
		}
		if (s->rows[k] != NULL) {
			cli_error("--from: '%s':%zu: a second row for job %s %s (%s)", s->from,
				  lineno, s->job[k].m->name, s->job[k].tag, "duplicate key");
			rc = CLI_EXIT_USAGE;
			goto out;
		}
		v = sweep_field(line, cpa_col, &len);
		if (v == NULL) {
			cli_error("--from: '%s':%zu: the row is shorter than the header", s->from,
				  lineno);
			rc = CLI_EXIT_USAGE;
			goto out;
		}
		s->rows[k] = line;
		s->rcpa[k] = strtod(v, NULL);
	}
	for (size_t k = 0; k < s->njob; k++) {
		s->job[k].state = s->rows[k] != NULL ? JOB_OK : JOB_FAILED;
		missing += s->rows[k] == NULL;
	}
	if (!s->quiet || stray) {
		fprintf(stderr, "vmmu sweep: %s: %zu rows, %zu of %zu jobs found", s->from, nrows,
			s->njob - missing, s->njob);
		if (stray)
			fprintf(stderr, "; %zu row(s) belong to no job of this sweep, left out",
				stray);
		fputc('\n', stderr);
	}
out:
	if (want != NULL)
		for (size_t k = 0; k < s->njob; k++)
			free(want[k]);
	free(want);
	free(hdr);
	return rc;
}

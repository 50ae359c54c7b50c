/*
 * merge.c - `vmmu merge OUT.csv IN... [--expect JOBS]`: combine the CSVs of
 * runs made elsewhere (the jobs of `vmmu sweep --emit-jobs`, or compares on
 * several machines) into one, and prove that nothing is missing or twice.
 *
 * A row's key is its workload, mode and seed, and every parameter column:
 * the columns between sim_accesses_per_s and the first counter of
 * STATS_COUNTERS (block 2 of docs/csv.md). Two rows with the same key are
 * the same run, so a duplicate is an error even when the counters agree.
 *
 * Checks, each an error that names the file (and line) at fault:
 *   - every input has a header, and all headers are identical;
 *   - the header holds every required leading column (csv.h's block 1,
 *     workload ... sim_accesses_per_s) in order;
 *   - every row has as many fields as the header, and every input ends with
 *     a newline (a last row without one was cut short);
 *   - no key occurs twice;
 *   - with --expect JOBS: each job line of JOBS (a `vmmu run ... --csv F`
 *     command) has exactly one row, and no row belongs to no job. The key of
 *     a job is computed by parsing its flags as `vmmu run` would and
 *     spelling them as csv.c does, so the header must be this vmmu's.
 * Line numbers in messages count every physical line, blank ones included
 * (blank lines are skipped). On any error nothing is written and the exit
 * status is 2. The output
 * keeps the inputs' order (files in the order given, a directory's *.csv
 * files sorted by name) and is written atomically.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "../report/csv.h"
#include "../report/output.h"
#include "../lib/run.h"
#include "registry.h"

#define MERGE_MAX_REPORT 10 /* problems listed before "and N more" */

/* ---- types ---- */

struct row {
	const char *line; /* NUL-terminated, no newline */
	const char *file;
	size_t lineno;
	char *key;
};

struct merge {
	const char *out;
	const char *expect;
	char **files; /* input files, in order */
	size_t nfiles, capfiles;
	char **bufs; /* file contents, one per file */
	const char *header;
	const char *header_file;
	size_t ncols;
	size_t *kidx; /* key column indices */
	size_t nkey;
	struct row *rows;
	size_t nrows, caprows;
	size_t problems;
	bool quiet; /* -q: no "wrote" line and no count of the jobs found */
};

/* ---- helpers ---- */

static void problem(struct merge *mg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct merge *mg, const char *fmt, ...)
{
	va_list ap;

	if (mg->problems++ >= MERGE_MAX_REPORT)
		return;
	va_start(ap, fmt);
	fputs("vmmu: merge: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static char *read_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (f == NULL) {
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap ? cap * 2 : 65536);
			if (nb == NULL) {
				snprintf(err, errlen, "out of memory reading '%s'", path);
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
			cap = cap ? cap * 2 : 65536;
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "'%s' is not a text file", path);
		free(buf);
		return NULL;
	}
	return buf;
}

static size_t count_fields(const char *line)
{
	size_t n = 1;

	for (; *line; line++)
		n += *line == ',';
	return n;
}

/* The span of field k of line. */
static const char *field(const char *line, size_t k, size_t *len)
{
	for (; k > 0; line++) {
		if (*line == '\0')
			return NULL;
		if (*line == ',')
			k--;
	}
	*len = strcspn(line, ",");
	return line;
}

static bool is_counter(const char *name, size_t len)
{
	for (size_t k = 0; k < stat_nfields; k++)
		if (strlen(stat_fields[k].name) == len &&
		    strncmp(stat_fields[k].name, name, len) == 0)
			return true;
	return false;
}

/* The key columns of a header: workload, mode, seed, and the parameters. */
static int key_columns(struct merge *mg, const char *header)
{
	size_t n = count_fields(header), start = SIZE_MAX, end = n, len;
	static const char *const lead[] = {"workload", "mode", "seed"};

	mg->ncols = n;
	mg->kidx = calloc(n, sizeof(*mg->kidx));
	if (mg->kidx == NULL)
		return -1;
	for (size_t c = 0; c < 3; c++) {
		const char *f = field(header, c, &len);
		if (f == NULL || strlen(lead[c]) != len || strncmp(f, lead[c], len) != 0)
			return -1;
		mg->kidx[mg->nkey++] = c;
	}
	for (size_t c = 3; c < n; c++) {
		const char *f = field(header, c, &len);
		if (start == SIZE_MAX) {
			if (len == 18 && strncmp(f, "sim_accesses_per_s", 18) == 0)
				start = c + 1;
			continue;
		}
		if (is_counter(f, len)) {
			end = c;
			break;
		}
	}
	if (start == SIZE_MAX)
		return -1;
	for (size_t c = start; c < end; c++)
		mg->kidx[mg->nkey++] = c;
	return 0;
}

/*
 * Does header hold every required leading column (csv.h's block 1, this
 * vmmu's names up to sim_accesses_per_s), in order? Reports the first one
 * missing and returns -1.
 */
static int missing_required(const struct merge *mg, const char *header)
{
	const char *names[64];
	size_t n = csv_columns(names, 64), len;

	for (size_t c = 0; c < n && c < 64; c++) {
		const char *f = field(header, c, &len);
		if (f == NULL || strlen(names[c]) != len || strncmp(f, names[c], len) != 0) {
			cli_error("merge: '%s': the header lacks the required column '%s' (column "
				  "%zu)",
				  mg->header_file, names[c], c + 1);
			return -1;
		}
		if (strcmp(names[c], "sim_accesses_per_s") == 0)
			break;
	}
	return 0;
}

/* "workload,mode,seed,pages,..." values of line's key columns. */
static char *row_key(const struct merge *mg, const char *line)
{
	size_t total = 1, len;
	char *k, *p;

	for (size_t i = 0; i < mg->nkey; i++) {
		if (field(line, mg->kidx[i], &len) == NULL)
			return NULL;
		total += len + 1;
	}
	k = malloc(total);
	if (k == NULL)
		return NULL;
	p = k;
	for (size_t i = 0; i < mg->nkey; i++) {
		const char *f = field(line, mg->kidx[i], &len);
		memcpy(p, f, len);
		p += len;
		*p++ = i + 1 < mg->nkey ? ',' : '\0';
	}
	return k;
}

/* "random/shadow seed 1" from a key, for messages. */
static void key_name(const char *key, char *buf, size_t len)
{
	size_t a = strcspn(key, ","), b = a + 1 + strcspn(key + a + 1, ",");
	const char *seed = key[b] ? key + b + 1 : "";

	snprintf(buf, len, "%.*s/%.*s seed %.*s", (int)a, key, (int)(b - a - 1), key + a + 1,
		 (int)strcspn(seed, ","), seed);
}

/* ---- inputs ---- */

static int add_file(struct merge *mg, const char *path)
{
	if (mg->nfiles == mg->capfiles) {
		size_t cap = mg->capfiles ? mg->capfiles * 2 : 16;
		char **nf = realloc(mg->files, cap * sizeof(*nf));
		if (nf == NULL)
			return -1;
		mg->files = nf;
		mg->capfiles = cap;
	}
	mg->files[mg->nfiles] = strdup(path);
	return mg->files[mg->nfiles++] ? 0 : -1;
}

static int csv_only(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 4 && d->d_name[0] != '.' && strcmp(d->d_name + n - 4, ".csv") == 0;
}

/* An input argument: a file, or a directory of *.csv files. */
static int add_input(struct merge *mg, const char *arg)
{
	struct stat sb;
	struct dirent **list;
	char outreal[PATH_MAX];
	bool have_out = realpath(mg->out, outreal) != NULL;
	int n;

	if (stat(arg, &sb) != 0) {
		cli_error("merge: input '%s': %s", arg, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		if (add_file(mg, arg) < 0) {
			cli_error("merge: out of memory");
			return -1;
		}
		return 0;
	}
	n = scandir(arg, &list, csv_only, alphasort);
	if (n < 0) {
		cli_error("merge: input '%s': %s", arg, strerror(errno));
		return -1;
	}
	if (n == 0)
		fprintf(stderr, "vmmu merge: note: directory '%s' holds no .csv file\n", arg);
	for (int k = 0; k < n; k++) {
		char path[PATH_MAX], real[PATH_MAX];
		int rc = 0;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", arg, list[k]->d_name) <
			sizeof(path) &&
		    !(have_out && realpath(path, real) != NULL && strcmp(real, outreal) == 0))
			rc = add_file(mg, path);
		free(list[k]);
		if (rc < 0) {
			cli_error("merge: out of memory");
			for (k++; k < n; k++)
				free(list[k]);
			free(list);
			return -1;
		}
	}
	free(list);
	return 0;
}

static int add_row(struct merge *mg, const char *line, const char *file, size_t lineno)
{
	if (mg->nrows == mg->caprows) {
		size_t cap = mg->caprows ? mg->caprows * 2 : 256;
		struct row *nr = realloc(mg->rows, cap * sizeof(*nr));
		if (nr == NULL)
			return -1;
		mg->rows = nr;
		mg->caprows = cap;
	}
	mg->rows[mg->nrows++] = (struct row){.line = line, .file = file, .lineno = lineno};
	return 0;
}

/* Read every input; check headers and field counts. Returns -1 on a fatal
 * error (reported); problems are counted in mg->problems. */
static int read_inputs(struct merge *mg)
{
	char err[512];

	mg->bufs = calloc(mg->nfiles ? mg->nfiles : 1, sizeof(*mg->bufs));
	if (mg->bufs == NULL)
		return -1;
	for (size_t f = 0; f < mg->nfiles; f++) {
		char *buf = read_file(mg->files[f], err, sizeof(err));
		char *save = NULL, *line;
		size_t lineno = 0, nonblank = 0;

		if (buf == NULL) {
			cli_error("merge: %s", err);
			return -1;
		}
		mg->bufs[f] = buf;
		/* Every physical line counts, blank ones too, so the numbers in
		 * messages are those an editor shows; blank lines are skipped. */
		for (line = buf; *line != '\0'; line = save) {
			char *nl = strchr(line, '\n');
			size_t n;

			lineno++;
			if (nl == NULL) {
				/* vmmu ends every row with a newline: a last line
				 * without one was cut short (a killed writer, a
				 * full disk), even if its field count is right. */
				problem(mg,
					"%s:%zu: the last line has no final newline (a truncated "
					"row?)",
					mg->files[f], lineno);
				break;
			}
			*nl = '\0';
			save = nl + 1;
			n = strlen(line);
			if (n > 0 && line[n - 1] == '\r')
				line[--n] = '\0';
			if (n == 0)
				continue;
			nonblank++;
			if (nonblank == 1) {
				if (mg->header == NULL) {
					mg->header = line;
					mg->header_file = mg->files[f];
					if (missing_required(mg, line) < 0)
						return -1;
					if (key_columns(mg, line) < 0) {
						cli_error(
						    "merge: '%s': the header is not a vmmu CSV "
						    "header (no workload,mode,seed,... "
						    "sim_accesses_per_s columns)",
						    mg->files[f]);
						return -1;
					}
				} else if (strcmp(line, mg->header) != 0) {
					size_t c = 0, la, lb;
					const char *a, *b;
					for (;; c++) {
						a = field(line, c, &la);
						b = field(mg->header, c, &lb);
						if (a == NULL || b == NULL || la != lb ||
						    strncmp(a, b, la) != 0)
							break;
					}
					problem(mg,
						"'%s': header differs from that of '%s' at column "
						"%zu ('%.*s' instead of '%.*s')",
						mg->files[f], mg->header_file, c + 1,
						a ? (int)la : 0, a ? a : "", b ? (int)lb : 0,
						b ? b : "");
					break; /* its rows cannot be read against the header */
				}
				continue;
			}
			if (count_fields(line) != mg->ncols) {
				problem(mg, "%s:%zu: %zu fields, the header has %zu", mg->files[f],
					lineno, count_fields(line), mg->ncols);
				continue;
			}
			if (add_row(mg, line, mg->files[f], lineno) < 0) {
				cli_error("merge: out of memory");
				return -1;
			}
		}
		if (nonblank == 0)
			problem(mg, "'%s': empty file, no header", mg->files[f]);
	}
	return 0;
}

/* ---- duplicates ---- */

static int cmp_rowp(const void *a, const void *b)
{
	const struct row *x = *(const struct row *const *)a, *y = *(const struct row *const *)b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x < y ? -1 : x > y;
}

static int check_duplicates(struct merge *mg)
{
	struct row **by = calloc(mg->nrows ? mg->nrows : 1, sizeof(*by));

	if (by == NULL)
		return -1;
	for (size_t k = 0; k < mg->nrows; k++) {
		mg->rows[k].key = row_key(mg, mg->rows[k].line);
		if (mg->rows[k].key == NULL) {
			free(by);
			return -1;
		}
		by[k] = &mg->rows[k];
	}
	qsort(by, mg->nrows, sizeof(*by), cmp_rowp);
	for (size_t k = 1; k < mg->nrows; k++) {
		if (strcmp(by[k]->key, by[k - 1]->key) == 0) {
			char name[256];
			key_name(by[k]->key, name, sizeof(name));
			problem(
			    mg,
			    "duplicate row: %s with the same parameters is in %s:%zu and %s:%zu",
			    name, by[k - 1]->file, by[k - 1]->lineno, by[k]->file, by[k]->lineno);
		}
	}
	free(by);
	return 0;
}

/* ---- --expect ---- */

/* Split a POSIX shell line into words (quotes and backslashes; no
 * expansion). Returns the count, or -1 on an unterminated quote. */
static int split_words(char *line, char **w, int max)
{
	int n = 0;
	char *src = line, *dst = line;

	while (*src) {
		while (*src == ' ' || *src == '\t')
			src++;
		if (*src == '\0')
			break;
		if (n == max)
			return -1;
		w[n++] = dst;
		while (*src && *src != ' ' && *src != '\t') {
			if (*src == '\'') {
				char *end = strchr(src + 1, '\'');
				if (end == NULL)
					return -1;
				memmove(dst, src + 1, (size_t)(end - src - 1));
				dst += end - src - 1;
				src = end + 1;
			} else if (*src == '"') {
				for (src++; *src && *src != '"'; src++) {
					if (*src == '\\' && src[1])
						src++;
					*dst++ = *src;
				}
				if (*src != '"')
					return -1;
				src++;
			} else {
				if (*src == '\\' && src[1])
					src++;
				*dst++ = *src++;
			}
		}
		if (*src)
			src++;
		*dst++ = '\0';
	}
	return n;
}

struct keyrow {
	const struct vm_config *cfg;
	const char *workload;
	struct run_result r;
};

static int keyrow_fill(FILE *f, void *ctx)
{
	const struct keyrow *k = ctx;

	return csv_write_row(f, k->workload, k->cfg, &k->r);
}

/* The key a job line's run will have. Returns NULL with err set. */
static char *job_key(const struct merge *mg, char *line, char *err, size_t errlen)
{
	char *w[512], buf[512];
	const char *wname = NULL, *mode = "native", *csv = NULL;
	struct vm_config cfg;
	struct wl_params p = {.seed = CLI_DEFAULT_SEED};
	const struct workload *wl;
	int n = split_words(line, w, 511), start = -1;
	struct keyrow kr;
	char *text = NULL, *key;
	size_t tlen = 0;
	FILE *f;

	if (n < 0) {
		snprintf(err, errlen, "unbalanced quotes or too many words");
		return NULL;
	}
	for (int i = 0; i < n; i++)
		if (strcmp(w[i], "run") == 0) {
			start = i;
			break;
		}
	if (start < 0) {
		snprintf(err, errlen, "not a `vmmu run` command");
		return NULL;
	}
	w[n] = NULL;
	config_defaults(&cfg);
	for (int i = 1; i < n - start;) {
		char **argv = w + start;
		int argc = n - start, rc;
		rc = cli_parse_machine(&cfg, argc, argv, &i, buf, sizeof(buf));
		if (rc == CLI_NOMATCH)
			rc = cli_parse_wl(&p, argc, argv, &i, buf, sizeof(buf));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--workload", argc, argv, &i, &wname, buf, sizeof(buf));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--mode", argc, argv, &i, &mode, buf, sizeof(buf));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--csv", argc, argv, &i, &csv, buf, sizeof(buf));
		if (rc == CLI_NOMATCH && strcmp(argv[i], "-v") == 0) {
			i++;
			continue;
		}
		if (rc == CLI_NOMATCH)
			snprintf(buf, sizeof(buf), "unexpected word '%s'", argv[i]);
		if (rc != CLI_MATCHED) {
			snprintf(err, errlen, "%s", buf);
			return NULL;
		}
	}
	(void)csv;
	wl = wname ? workload_find(wname) : NULL;
	if (wl == NULL) {
		snprintf(err, errlen, "%s", wname ? "unknown workload" : "no --workload");
		return NULL;
	}
	memset(&kr, 0, sizeof(kr));
	cfg.mode = mode;
	kr.cfg = &cfg;
	kr.workload = wl->name;
	kr.r.params = run_params(wl, &p);
	f = open_memstream(&text, &tlen);
	if (f == NULL || keyrow_fill(f, &kr) < 0 || fclose(f) != 0) {
		snprintf(err, errlen, "out of memory");
		free(text);
		return NULL;
	}
	text[strcspn(text, "\n")] = '\0';
	key = row_key(mg, text);
	free(text);
	if (key == NULL)
		snprintf(err, errlen, "out of memory");
	return key;
}

static int check_expect(struct merge *mg)
{
	char msg[512], *buf, *save = NULL, *line, *hdr = NULL;
	size_t lineno = 0, njobs = 0, hlen = 0, missing = 0;
	bool *seen = calloc(mg->nrows ? mg->nrows : 1, sizeof(*seen));
	FILE *f;

	buf = read_file(mg->expect, msg, sizeof(msg));
	if (buf == NULL || seen == NULL) {
		cli_error("--expect: %s", buf ? "out of memory" : msg);
		free(buf);
		free(seen);
		return -1;
	}
	/* Job keys are spelled by this vmmu's csv.c: the files must agree. */
	f = open_memstream(&hdr, &hlen);
	if (f == NULL || csv_write_header(f) < 0 || fclose(f) != 0) {
		cli_error("merge: out of memory");
		free(buf);
		free(seen);
		return -1;
	}
	hdr[strcspn(hdr, "\n")] = '\0';
	if (mg->header != NULL && strcmp(hdr, mg->header) != 0) {
		problem(mg,
			"--expect: the header of '%s' is not this vmmu's; merge with the vmmu that "
			"emitted the jobs",
			mg->header_file);
		free(hdr);
		free(buf);
		free(seen);
		return 0;
	}
	free(hdr);
	/* strsep, not strtok: a blank line is a line, so numbers stay right. */
	save = buf;
	while ((line = strsep(&save, "\n")) != NULL) {
		char *key;
		bool found = false;
		lineno++;
		line += strspn(line, " \t");
		if (*line == '\0' || *line == '#')
			continue;
		njobs++;
		key = job_key(mg, line, msg, sizeof(msg));
		if (key == NULL) {
			problem(mg, "%s:%zu: cannot read the job: %s", mg->expect, lineno, msg);
			continue;
		}
		for (size_t k = 0; k < mg->nrows; k++) {
			if (strcmp(mg->rows[k].key, key) == 0) {
				found = true;
				seen[k] = true;
			}
		}
		if (!found) {
			char name[256];
			key_name(key, name, sizeof(name));
			problem(mg, "missing row: job %s:%zu (%s) has no row", mg->expect, lineno,
				name);
			missing++;
		}
		free(key);
	}
	for (size_t k = 0; k < mg->nrows; k++) {
		if (!seen[k]) {
			char name[256];
			key_name(mg->rows[k].key, name, sizeof(name));
			problem(mg, "unexpected row: %s:%zu (%s) belongs to no job of %s",
				mg->rows[k].file, mg->rows[k].lineno, name, mg->expect);
		}
	}
	if (njobs == 0)
		problem(mg, "--expect: '%s' holds no job", mg->expect);
	else if (!mg->quiet || missing)
		fprintf(stderr, "vmmu merge: %zu jobs in %s, %zu rows found, %zu missing\n", njobs,
			mg->expect, njobs - missing, missing);
	free(buf);
	free(seen);
	return 0;
}

/* ---- output ---- */

static int merge_fill(FILE *f, void *ctx)
{
	const struct merge *mg = ctx;

	fprintf(f, "%s\n", mg->header);
	for (size_t k = 0; k < mg->nrows; k++)
		fprintf(f, "%s\n", mg->rows[k].line);
	return ferror(f) ? -1 : 0;
}

static void merge_help(FILE *f)
{
	fprintf(f, "usage: vmmu merge OUT.csv IN.csv|DIR ... [--expect JOBS] [-q]\n\n"
		   "Combine vmmu CSVs (for example the per-job files of `vmmu sweep --emit-jobs`)\n"
		   "into OUT.csv, written atomically. A directory stands for its *.csv files, in\n"
		   "name order. Every input must have the same header; no two rows may have the\n"
		   "same key (workload, mode, seed and every parameter column). With --expect,\n"
		   "every job of the jobs file must have exactly one row, and every row a job.\n"
		   "On any problem nothing is written and the exit status is 2.\n\n"
		   "  --expect JOBS    the file `vmmu sweep --emit-jobs` wrote\n"
		   "  -q, --quiet      print nothing on success (problems are still reported)\n"
		   "  -h, --help       this help\n");
}

static void merge_free(struct merge *mg)
{
	for (size_t k = 0; k < mg->nfiles; k++) {
		free(mg->files[k]);
		if (mg->bufs)
			free(mg->bufs[k]);
	}
	for (size_t k = 0; k < mg->nrows; k++)
		free(mg->rows[k].key);
	free(mg->files);
	free(mg->bufs);
	free(mg->rows);
	free(mg->kidx);
}

int merge_main(int argc, char **argv)
{
	struct merge mg;
	char err[512];
	int rc = CLI_EXIT_USAGE;

	memset(&mg, 0, sizeof(mg));
	for (int i = 1; i < argc;) {
		const char *v;
		int r;
		if (cli_is_help(argv[i])) {
			merge_help(stdout);
			merge_free(&mg);
			return CLI_EXIT_OK;
		}
		r = cli_take_value("--expect", argc, argv, &i, &mg.expect, err, sizeof(err));
		if (r == CLI_ERR) {
			cli_error("%s", err);
			goto out;
		}
		if (r == CLI_MATCHED)
			continue;
		if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
			mg.quiet = true;
			i++;
			continue;
		}
		v = argv[i++];
		if (v[0] == '-' && v[1] != '\0') {
			cli_error("merge: unknown flag '%s' (see `vmmu merge --help`)", v);
			goto out;
		}
		if (mg.out == NULL) {
			mg.out = v;
			continue;
		}
		/* Inputs are read after every flag is known; remember them. */
		if (add_file(&mg, v) < 0) {
			cli_error("merge: out of memory");
			goto out;
		}
	}
	if (mg.out == NULL || mg.nfiles == 0) {
		cli_error(
		    "merge: expected OUT.csv and at least one input (see `vmmu merge --help`)");
		goto out;
	}
	{
		struct out_target t;
		if (out_resolve(mg.out, &t, err, sizeof(err)) < 0) {
			cli_error("merge: OUT: %s", err);
			goto out;
		}
	}
	{
		/* Expand directories, now that OUT is known. */
		char **args = mg.files;
		size_t nargs = mg.nfiles;
		mg.files = NULL;
		mg.nfiles = mg.capfiles = 0;
		for (size_t k = 0; k < nargs; k++) {
			if (rc == CLI_EXIT_USAGE && add_input(&mg, args[k]) < 0)
				rc = -1;
			free(args[k]);
		}
		free(args);
		if (rc == -1) {
			rc = CLI_EXIT_USAGE;
			goto out;
		}
	}
	if (mg.nfiles == 0) {
		cli_error("merge: no input CSV file");
		goto out;
	}
	if (read_inputs(&mg) < 0)
		goto out;
	if (mg.header == NULL) {
		cli_error("merge: no input has a header");
		goto out;
	}
	if (check_duplicates(&mg) < 0) {
		cli_error("merge: out of memory");
		goto out;
	}
	if (mg.expect != NULL && check_expect(&mg) < 0)
		goto out;
	if (mg.problems > 0) {
		if (mg.problems > MERGE_MAX_REPORT)
			cli_error("merge: ... and %zu more", mg.problems - MERGE_MAX_REPORT);
		cli_error("merge: %zu problem(s); nothing written", mg.problems);
		goto out;
	}
	if (csv_write_atomic(mg.out, merge_fill, &mg, err, sizeof(err)) < 0) {
		cli_error("merge: %s", err);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	if (!mg.quiet)
		printf("wrote %s (%zu rows from %zu files)\n", mg.out, mg.nrows, mg.nfiles);
	rc = CLI_EXIT_OK;
out:
	merge_free(&mg);
	return rc;
}

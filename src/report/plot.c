/*
 * plot.c - gnuplot data files and scripts for compare and sweep, and the
 * call to gnuplot that draws them.
 *
 * Each figure's script draws both formats in one gnuplot process: all the
 * settings come first, then a loop over "svg png" sets the terminal and the
 * output and plots. A multiplot figure sets each panel up completely inside
 * the loop, so the second pass draws exactly what the first drew.
 *
 * Sections: text helpers, the compare figures, the line plot, drawing.
 */
#include "plot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "csv.h"
#include "../core/stats.h"

#define PLOT_MAX_NAMES 64

/* Colours of the series and parts, in order; the palette of the default
 * gnuplot terminals, readable on white. */
static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
				      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define NPAL (sizeof(palette) / sizeof(palette[0]))

/* ---- text helpers ---- */

/* snprintf for file names; a name too long comes out truncated and then
 * fails to open, with its name in the message. */
static void pathf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

struct text {
	char *buf;
	size_t len;
	FILE *f;
};

static int text_open(struct text *t)
{
	t->buf = NULL;
	t->len = 0;
	t->f = open_memstream(&t->buf, &t->len);
	return t->f ? 0 : -1;
}

static int fill_text(FILE *f, void *ctx)
{
	const struct text *t = ctx;

	return fwrite(t->buf, 1, t->len, f) == t->len ? 0 : -1;
}

/* Close t and write it atomically to DIR/plots/NAME.EXT. */
static int text_save(struct text *t, const char *dir, const char *name, const char *ext, char *msg,
		     size_t msglen)
{
	char path[PATH_MAX];
	int rc;

	if (fclose(t->f) != 0) {
		snprintf(msg, msglen, "out of memory building %s.%s", name, ext);
		free(t->buf);
		return -1;
	}
	pathf(path, sizeof(path), "%s/plots/%s.%s", dir, name, ext);
	rc = csv_write_atomic(path, fill_text, t, msg, msglen);
	free(t->buf);
	return rc;
}

/* Save a figure's data and script: DIR/plots/NAME.dat, then NAME.gp. Both
 * texts are released whatever happens. */
static int figure_save(struct text *dat, struct text *gp, const char *dir, const char *name,
		       char *msg, size_t msglen)
{
	if (text_save(dat, dir, name, "dat", msg, msglen) < 0) {
		fclose(gp->f);
		free(gp->buf);
		return -1;
	}
	return text_save(gp, dir, name, "gp", msg, msglen);
}

/* A number for a .dat file: "?" when missing. */
static void put_num(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fputs(" ?", f);
	else
		fprintf(f, " %.6g", v);
}

/* A string for a gnuplot double-quoted literal. */
static void put_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* A token for a whitespace-separated .dat file. */
static void put_token(FILE *f, const char *s)
{
	fputc(' ', f);
	if (*s == '\0')
		fputc('-', f);
	for (; *s; s++)
		fputc(*s == ' ' || *s == '\t' || *s == '"' ? '_' : *s, f);
}

static void script_head(FILE *f, const char *name, const char *what)
{
	fprintf(f,
		"# %s.gp - %s.\n"
		"# Written by vmmu; draw again with: gnuplot %s.gp (in this directory).\n"
		"# Reads %s.dat; writes %s.svg and %s.png.\n"
		"if (!exists(\"suffix\")) suffix = \"\"\n"
		"set datafile separator whitespace\n"
		"set datafile missing \"?\"\n",
		name, what, name, name, name, name);
}

/* Open the loop over the two formats. */
static void script_loop_open(FILE *f, const char *name, int w, int h)
{
	fprintf(f,
		"do for [fmt in \"svg png\"] {\n"
		"  if (fmt eq \"svg\") {\n"
		"    set terminal svg size %d,%d dynamic noenhanced font \"sans,10\" background "
		"\"#ffffff\"\n"
		"  } else {\n"
		"    if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
		"      set terminal pngcairo size %d,%d noenhanced font \"sans,10\" background "
		"\"#ffffff\"\n"
		"    } else {\n"
		"      set terminal png size %d,%d noenhanced\n"
		"    }\n"
		"  }\n"
		"  set output \"%s.\" . fmt . suffix\n",
		w, h, w, h, w, h, name);
}

static void script_loop_close(FILE *f)
{
	fputs("  set output\n}\n", f);
}

/* Distinct names in order of first appearance. */
static size_t uniq(const char **names, size_t *max_ok, const char *s)
{
	size_t k;

	for (k = 0; k < *max_ok && names[k] != NULL; k++)
		if (strcmp(names[k], s) == 0)
			return k;
	if (k < PLOT_MAX_NAMES) {
		names[k] = s;
		return k;
	}
	return SIZE_MAX;
}

/* ---- the compare figures ---- */

struct grid {
	const char *wl[PLOT_MAX_NAMES];
	const char *mode[PLOT_MAX_NAMES];
	size_t nwl, nmodes;
	/* run index of (workload, mode), SIZE_MAX when there is none */
	size_t at[PLOT_MAX_NAMES][PLOT_MAX_NAMES];
};

static void grid_build(struct grid *g, const struct plot_run *runs, size_t n)
{
	size_t cap = PLOT_MAX_NAMES;

	memset(g, 0, sizeof(*g));
	for (size_t a = 0; a < PLOT_MAX_NAMES; a++)
		for (size_t b = 0; b < PLOT_MAX_NAMES; b++)
			g->at[a][b] = SIZE_MAX;
	for (size_t k = 0; k < n; k++) {
		size_t w = uniq(g->wl, &cap, runs[k].workload);
		size_t m = uniq(g->mode, &cap, runs[k].mode);
		if (w == SIZE_MAX || m == SIZE_MAX)
			continue;
		if (w + 1 > g->nwl)
			g->nwl = w + 1;
		if (m + 1 > g->nmodes)
			g->nmodes = m + 1;
		g->at[w][m] = k;
	}
}

/* The stat fields whose name starts with prefix, into idx; returns how many. */
static size_t fields_with(const char *prefix, size_t *idx, size_t max)
{
	size_t n = 0, len = strlen(prefix);

	for (size_t k = 0; k < stat_nfields && n < max; k++)
		if (strncmp(stat_fields[k].name, prefix, len) == 0)
			idx[n++] = k;
	return n;
}

/*
 * A multiplot of stacked bars: one panel per workload, one bar per mode,
 * one stacked part per field with 'prefix', each scaled by 'scale' per
 * access; the last cell holds the legend.
 */
static int stacked_figure(const char *dir, const char *name, const char *title, const char *ylabel,
			  const char *prefix, double scale, bool errbars, const struct grid *g,
			  const struct plot_run *runs, char *msg, size_t msglen)
{
	size_t idx[32], nf = fields_with(prefix, idx, 32), plen = strlen(prefix);
	size_t cells = g->nwl + 1, cols = cells < 4 ? cells : 4, rows = (cells + cols - 1) / cols;
	struct text dat, gp;

	if (text_open(&dat) < 0 || text_open(&gp) < 0) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	fprintf(dat.f, "# %s: %s. One block per workload (gnuplot index), one row per mode.\n",
		name, title);
	fprintf(dat.f, "# mode");
	for (size_t k = 0; k < nf; k++)
		fprintf(dat.f, " %s", stat_fields[idx[k]].name);
	if (errbars)
		fprintf(dat.f, " total ci95_half");
	fputc('\n', dat.f);
	for (size_t w = 0; w < g->nwl; w++) {
		fprintf(dat.f, "%s# workload %s\n", w ? "\n\n" : "", g->wl[w]);
		for (size_t m = 0; m < g->nmodes; m++) {
			size_t at = g->at[w][m];
			put_token(dat.f, g->mode[m]);
			double total = 0;
			for (size_t k = 0; k < nf; k++) {
				double v = NAN;
				if (at != SIZE_MAX && runs[at].r->st.accesses > 0)
					v = (double)stat_get(&runs[at].r->st,
							     &stat_fields[idx[k]]) *
					    scale / (double)runs[at].r->st.accesses;
				put_num(dat.f, v);
				total += v;
			}
			if (errbars) {
				put_num(dat.f, total);
				put_num(dat.f, at != SIZE_MAX ? runs[at].half * scale : NAN);
			}
			fputc('\n', dat.f);
		}
	}

	script_head(gp.f, name, title);
	fputs("set style data histograms\n"
	      "set style histogram rowstacked\n"
	      "set style fill solid 0.85 border -1\n"
	      "set boxwidth 0.7\n",
	      gp.f);
	script_loop_open(gp.f, name, (int)(cols * 330), (int)(rows * 280 + 40));
	fprintf(gp.f, "  set multiplot layout %zu,%zu title ", rows, cols);
	put_quoted(gp.f, title);
	fputc('\n', gp.f);
	for (size_t w = 0; w < g->nwl; w++) {
		fprintf(gp.f,
			"  set border; set tics; set xtics nomirror; set grid ytics; unset key\n"
			"  set yrange [0:*]; set ylabel ");
		put_quoted(gp.f, w % cols == 0 ? ylabel : "");
		fprintf(gp.f, "; set title ");
		put_quoted(gp.f, g->wl[w]);
		fprintf(gp.f, "\n  plot ");
		for (size_t k = 0; k < nf; k++)
			fprintf(gp.f, "%s\"%s.dat\" index %zu using %zu%s notitle lc rgb \"%s\"",
				k ? ", \\\n       " : "", name, w, k + 2, k ? "" : ":xtic(1)",
				palette[k % NPAL]);
		/* The 95% interval of the total, at the top of each stack (a
		 * rowstacked histogram puts row i at x = i). */
		if (errbars)
			fprintf(gp.f,
				", \\\n       \"%s.dat\" index %zu using 0:%zu:%zu with yerrorbars "
				"notitle lc rgb \"#000000\" pt 7 ps 0 lw 1.5",
				name, w, nf + 2, nf + 3);
		fputc('\n', gp.f);
	}
	/* The legend cell. */
	fputs("  unset border; unset tics; unset title; unset grid; set ylabel \"\"\n"
	      "  set yrange [0:1]; set key center center box\n"
	      "  plot ",
	      gp.f);
	for (size_t k = 0; k < nf; k++) {
		fprintf(gp.f, "%sNaN with boxes title ", k ? ", " : "");
		put_quoted(gp.f, stat_fields[idx[k]].name + plen);
		fprintf(gp.f, " lc rgb \"%s\" fillstyle solid 0.85", palette[k % NPAL]);
	}
	fputs("\n  unset multiplot\n", gp.f);
	script_loop_close(gp.f);
	return figure_save(&dat, &gp, dir, name, msg, msglen);
}

static double per(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : NAN;
}

/* Walk references per TLB miss and per walk: two clustered-bar panels. */
static int walkrefs_figure(const char *dir, const char *name, const char *title,
			   const struct grid *g, const struct plot_run *runs, char *msg,
			   size_t msglen)
{
	static const char *const panel[2] = {
	    "walk references per TLB miss: (walk_refs + fault_walk_refs) / tlb_misses",
	    "walk references per completed walk: walk_refs / walks"};
	struct text dat, gp;
	size_t valid[2] = {0, 0}; /* defined values per panel */

	if (text_open(&dat) < 0 || text_open(&gp) < 0) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	fprintf(dat.f, "# %s: hardware page-walk references. One row per workload.\n# workload",
		name);
	for (int p = 0; p < 2; p++)
		for (size_t m = 0; m < g->nmodes; m++)
			fprintf(dat.f, " %s_%s", g->mode[m], p ? "per_walk" : "per_miss");
	fputc('\n', dat.f);
	for (size_t w = 0; w < g->nwl; w++) {
		put_token(dat.f, g->wl[w]);
		for (int p = 0; p < 2; p++) {
			for (size_t m = 0; m < g->nmodes; m++) {
				size_t at = g->at[w][m];
				double v = NAN;
				if (at != SIZE_MAX) {
					const struct stats *st = &runs[at].r->st;
					v = p ? per(st->walk_refs, st->walks)
					      : per(st->walk_refs + st->fault_walk_refs,
						    st->tlb_misses);
				}
				valid[p] += !isnan(v);
				put_num(dat.f, v);
			}
		}
		fputc('\n', dat.f);
	}

	script_head(gp.f, name, "hardware page-walk references per TLB miss and per walk");
	fputs("set style data histograms\n"
	      "set style histogram clustered gap 1\n"
	      "set style fill solid 0.85 border -1\n"
	      "set boxwidth 0.9\n"
	      "set grid ytics\n"
	      "set yrange [0:*]\n"
	      "set key top left\n"
	      "set xtics nomirror rotate by -25\n",
	      gp.f);
	script_loop_open(gp.f, name, (int)(200 + g->nwl * 90), 760);
	fputs("  set multiplot layout 2,1 title ", gp.f);
	put_quoted(gp.f, title);
	fputc('\n', gp.f);
	for (int p = 0; p < 2; p++) {
		fprintf(gp.f, "  set title ");
		put_quoted(gp.f, panel[p]);
		fprintf(gp.f, "\n  set ylabel \"references\"\n");
		if (valid[p] == 0) {
			/* No TLB miss (or no walk) in any run: gnuplot cannot
			 * scale an empty histogram, so the panel says so. */
			fprintf(gp.f, "  set label 1 \"no %s in the measured runs\" at graph 0.5, "
				      "graph 0.5 center\n  plot [0:1] [0:1] NaN notitle\n  unset label 1\n",
				p ? "completed walk" : "TLB miss");
			continue;
		}
		fprintf(gp.f, "  plot ");
		for (size_t m = 0; m < g->nmodes; m++) {
			fprintf(gp.f, "%s\"%s.dat\" using %zu%s title ", m ? ", \\\n       " : "",
				name, 2 + (size_t)p * g->nmodes + m, m ? "" : ":xtic(1)");
			put_quoted(gp.f, g->mode[m]);
			fprintf(gp.f, " lc rgb \"%s\"", palette[m % NPAL]);
		}
		fputc('\n', gp.f);
	}
	fputs("  unset multiplot\n", gp.f);
	script_loop_close(gp.f);
	return figure_save(&dat, &gp, dir, name, msg, msglen);
}

/*
 * One panel, one shared y axis: a cluster of bars per workload, one bar per
 * mode. which 0: cycles per access (the headline figure), with the 95%
 * interval as an error bar when errbars; which 1: VM exits per 1000
 * accesses, all reasons. logy puts the axis on a log scale; a value <= 0
 * cannot be drawn there and is written as missing ("?"), and the title says
 * so.
 */
static int shared_figure(const char *dir, const char *name, const char *title, const char *ylabel,
			 int which, bool errbars, bool logy, const struct grid *g,
			 const struct plot_run *runs, char *msg, size_t msglen)
{
	struct text dat, gp;
	size_t valid = 0;

	if (text_open(&dat) < 0 || text_open(&gp) < 0) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	fprintf(dat.f, "# %s: %s. One row per workload; per mode the value%s.\n# workload",
		name, title, errbars ? " and the half-width of its 95% interval" : "");
	for (size_t m = 0; m < g->nmodes; m++)
		fprintf(dat.f, errbars ? " %s %s_ci95_half" : " %s", g->mode[m], g->mode[m]);
	fputc('\n', dat.f);
	for (size_t w = 0; w < g->nwl; w++) {
		put_token(dat.f, g->wl[w]);
		for (size_t m = 0; m < g->nmodes; m++) {
			size_t at = g->at[w][m];
			double v = NAN, h = NAN;
			if (at != SIZE_MAX && runs[at].r->st.accesses > 0) {
				const struct stats *st = &runs[at].r->st;
				v = which == 0 ? (double)stats_est_cycles(st) / (double)st->accesses
					       : (double)st->vm_exits * 1000.0 / (double)st->accesses;
				h = runs[at].half;
			}
			if (logy && !(v > 0))
				v = NAN;
			valid += !isnan(v);
			put_num(dat.f, v);
			if (errbars)
				put_num(dat.f, h >= 0 ? h : NAN);
		}
		fputc('\n', dat.f);
	}

	script_head(gp.f, name, title);
	fprintf(gp.f,
		"set style data histograms\n"
		"set style histogram %s gap 1\n"
		"set style fill solid 0.85 border -1\n"
		"set boxwidth 0.9\n"
		"set grid ytics\n"
		"set key outside right top\n"
		"set xtics nomirror rotate by -30\n"
		"set title ",
		errbars ? "errorbars lw 1.2" : "clustered");
	put_quoted(gp.f, title);
	fprintf(gp.f, "\nset ylabel ");
	put_quoted(gp.f, ylabel);
	fputc('\n', gp.f);
	if (logy)
		fputs("set logscale y\nset yrange [*:*]\n", gp.f);
	else
		fputs("set yrange [0:*]\n", gp.f);
	script_loop_open(gp.f, name, (int)(260 + g->nwl * (40 + 14 * g->nmodes)), 560);
	if (valid == 0) {
		fputs("  set label 1 \"nothing to draw: no value above 0\" at graph 0.5, graph 0.5 "
		      "center\n  unset logscale y\n  plot [0:1] [0:1] NaN notitle\n  unset label 1\n",
		      gp.f);
	} else {
		fputs("  plot ", gp.f);
		for (size_t m = 0; m < g->nmodes; m++) {
			size_t col = errbars ? 2 + 2 * m : 2 + m;
			if (errbars)
				fprintf(gp.f, "%s\"%s.dat\" using %zu:%zu%s title ",
					m ? ", \\\n       " : "", name, col, col + 1,
					m ? "" : ":xtic(1)");
			else
				fprintf(gp.f, "%s\"%s.dat\" using %zu%s title ",
					m ? ", \\\n       " : "", name, col, m ? "" : ":xtic(1)");
			put_quoted(gp.f, g->mode[m]);
			fprintf(gp.f, " lc rgb \"%s\"", palette[m % NPAL]);
		}
		fputc('\n', gp.f);
	}
	script_loop_close(gp.f);
	return figure_save(&dat, &gp, dir, name, msg, msglen);
}

/* ---- drawing ---- */

/* Is gnuplot in PATH? */
static bool plot_have_gnuplot(void)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (path == NULL || *path == '\0')
		return false;
	while (*path) {
		const char *end = strchr(path, ':');
		size_t len = end ? (size_t)(end - path) : strlen(path);

		if (len == 0)
			pathf(buf, sizeof(buf), "./gnuplot");
		else
			pathf(buf, sizeof(buf), "%.*s/gnuplot", (int)len, path);
		if (access(buf, X_OK) == 0)
			return true;
		path += len;
		if (*path == ':')
			path++;
	}
	return false;
}

/* fsync and rename DIR/plots/NAME.EXT.tmp.PID into place. */
static int publish(const char *pdir, const char *name, const char *ext, long pid, char *msg,
		   size_t msglen)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	int fd;

	pathf(tmp, sizeof(tmp), "%s/%s.%s.tmp.%ld", pdir, name, ext, pid);
	pathf(dst, sizeof(dst), "%s/%s.%s", pdir, name, ext);
	fd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(msg, msglen, "gnuplot did not write '%s': %s", tmp, strerror(errno));
		return -1;
	}
	(void)fsync(fd);
	close(fd);
	if (rename(tmp, dst) != 0) {
		snprintf(msg, msglen, "cannot rename '%s' to '%s': %s", tmp, dst, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Run gnuplot on DIR/plots/NAME.gp; publish NAME.svg and NAME.png. */
static int draw(const char *dir, const char *name, char *msg, size_t msglen)
{
	static const char *const ext[2] = {"svg", "png"};
	char pdir[PATH_MAX], errf[PATH_MAX], script[PATH_MAX], suffix[64];
	long pid = (long)getpid();
	int status = 0, rc = 0;
	pid_t child;

	pathf(pdir, sizeof(pdir), "%s/plots", dir);
	pathf(errf, sizeof(errf), "%s/.%s.gnuplot-err.%ld", pdir, name, pid);
	snprintf(script, sizeof(script), "%s.gp", name);
	snprintf(suffix, sizeof(suffix), "suffix='.tmp.%ld'", pid);
	fflush(stdout);
	fflush(stderr);
	child = fork();
	if (child < 0) {
		snprintf(msg, msglen, "fork: %s", strerror(errno));
		return -1;
	}
	if (child == 0) {
		int fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0666);
		int nul = open("/dev/null", O_RDWR);
		if (fd >= 0)
			dup2(fd, STDERR_FILENO);
		if (nul >= 0) {
			dup2(nul, STDIN_FILENO);
			dup2(nul, STDOUT_FILENO);
		}
		if (chdir(pdir) != 0)
			_exit(126);
		execlp("gnuplot", "gnuplot", "-e", suffix, script, (char *)NULL);
		_exit(127);
	}
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR) {
			snprintf(msg, msglen, "waitpid: %s", strerror(errno));
			rc = -1;
			break;
		}
	if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		char line[200] = "";
		FILE *f = fopen(errf, "r");
		if (f != NULL) {
			/* The first line that says something. */
			while (fgets(line, sizeof(line), f) != NULL)
				if (strspn(line, " \t\n^") != strlen(line))
					break;
			fclose(f);
			line[strcspn(line, "\n")] = '\0';
		}
		snprintf(msg, msglen, "gnuplot failed on %s/%s (status %d)%s%s", pdir, script,
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1, line[0] ? ": " : "", line);
		rc = -1;
	}
	for (int k = 0; k < 2; k++) {
		if (rc == 0) {
			rc = publish(pdir, name, ext[k], pid, msg, msglen);
		} else {
			char tmp[PATH_MAX];
			pathf(tmp, sizeof(tmp), "%s/%s.%s.tmp.%ld", pdir, name, ext[k], pid);
			unlink(tmp);
		}
	}
	unlink(errf);
	return rc;
}

static int make_plot_dir(const char *dir, char *msg, size_t msglen)
{
	char pdir[PATH_MAX];

	pathf(pdir, sizeof(pdir), "%s/plots", dir);
	return csv_make_dirs(pdir, msg, msglen);
}

/* Draw the figures names[0..n-1] when gnuplot is there. */
static enum plot_status draw_all(const char *dir, const char *const *names, size_t n, char *msg,
				 size_t msglen)
{
	if (!plot_have_gnuplot()) {
		snprintf(msg, msglen, "gnuplot not found in PATH");
		return PLOT_NO_GNUPLOT;
	}
	for (size_t k = 0; k < n; k++)
		if (draw(dir, names[k], msg, msglen) < 0)
			return PLOT_FAILED;
	return PLOT_DRAWN;
}

enum plot_status plot_compare(const char *dir, const char *measured, const struct plot_run *runs,
			      size_t n, char *msg, size_t msglen)
{
	static const char *const names[] = {"compare-cycles", "compare-exits", "compare-walkrefs",
					    "compare-headline", "compare-exit-reasons"};
	struct grid *g = malloc(sizeof(*g));
	char t_cyc[160], t_exit[160], t_walk[160], t_head[200], t_reasons[160];
	bool errbars = false;
	int rc;

	for (size_t k = 0; k < n; k++)
		errbars |= runs[k].half >= 0;
	snprintf(t_cyc, sizeof(t_cyc), "Estimated cycles per access, stacked by cost part (%s%s)",
		 measured, errbars ? "; bars: 95% interval over seeds" : "");
	snprintf(t_exit, sizeof(t_exit),
		 "VM exits per 1000 accesses, log axis (%s; no bar: no exit)", measured);
	snprintf(t_reasons, sizeof(t_reasons), "VM exits per 1000 accesses, by reason (%s)",
		 measured);
	snprintf(t_head, sizeof(t_head),
		 "Estimated cycles per access, every workload and mode on one log axis (%s%s)",
		 measured, errbars ? "; bars: 95% interval over seeds" : "");
	snprintf(t_walk, sizeof(t_walk), "Hardware page-walk references (%s)", measured);

	if (g == NULL) {
		snprintf(msg, msglen, "out of memory");
		return PLOT_FAILED;
	}
	grid_build(g, runs, n);
	rc = make_plot_dir(dir, msg, msglen);
	if (rc == 0)
		rc = stacked_figure(dir, names[0], t_cyc, "cycles per access", "cyc_", 1.0, errbars,
				    g, runs, msg, msglen);
	if (rc == 0)
		rc = shared_figure(dir, names[1], t_exit, "exits per 1000 accesses", 1, false, true,
				   g, runs, msg, msglen);
	if (rc == 0)
		rc = walkrefs_figure(dir, names[2], t_walk, g, runs, msg, msglen);
	if (rc == 0)
		rc = shared_figure(dir, names[3], t_head, "cycles per access", 0, errbars, true, g,
				   runs, msg, msglen);
	if (rc == 0)
		rc = stacked_figure(dir, names[4], t_reasons, "exits per 1000 accesses", "exits_",
				    1000.0, false, g, runs, msg, msglen);
	free(g);
	if (rc < 0)
		return PLOT_FAILED;
	return draw_all(dir, names, 5, msg, msglen);
}

/* ---- the line plot ---- */

enum plot_status plot_lines(const char *dir, const struct plot_lines *pl, char *msg, size_t msglen)
{
	struct text dat, gp;

	if (make_plot_dir(dir, msg, msglen) < 0)
		return PLOT_FAILED;
	if (text_open(&dat) < 0 || text_open(&gp) < 0) {
		snprintf(msg, msglen, "out of memory");
		return PLOT_FAILED;
	}
	fprintf(dat.f, "# %s: %s\n# x label", pl->name, pl->title);
	for (size_t s = 0; s < pl->nseries; s++)
		fprintf(dat.f, " %s", pl->series[s]);
	for (size_t s = 0; pl->yerr != NULL && s < pl->nseries; s++)
		fprintf(dat.f, " %s_ci95_half", pl->series[s]);
	fputc('\n', dat.f);
	for (size_t i = 0; i < pl->nx; i++) {
		fprintf(dat.f, "%.10g", pl->x ? pl->x[i] : (double)i);
		put_token(dat.f, pl->xlabels[i]);
		for (size_t s = 0; s < pl->nseries; s++)
			put_num(dat.f, pl->y[s * pl->nx + i]);
		for (size_t s = 0; pl->yerr != NULL && s < pl->nseries; s++)
			put_num(dat.f, pl->yerr[s * pl->nx + i]);
		fputc('\n', dat.f);
	}

	script_head(gp.f, pl->name, pl->title);
	fprintf(gp.f, "set title ");
	put_quoted(gp.f, pl->title);
	fprintf(gp.f, "\nset xlabel ");
	put_quoted(gp.f, pl->xlabel);
	fprintf(gp.f, "\nset ylabel ");
	put_quoted(gp.f, pl->ylabel);
	fputs("\nset grid\nset key outside right top\nset yrange [0:*]\n", gp.f);
	if (pl->x == NULL) {
		fprintf(gp.f,
			"set xrange [-0.5:%zu.5]\nset style histogram %s gap 1\n"
			"set style fill solid 0.85 border -1\nset boxwidth 0.9\nset grid noxtics\n",
			pl->nx ? pl->nx - 1 : 0, pl->yerr != NULL ? "errorbars lw 1.2" : "clustered");
	} else {
		fputs("set xtics (", gp.f);
		for (size_t i = 0; i < pl->nx; i++) {
			fprintf(gp.f, "%s", i ? ", " : "");
			put_quoted(gp.f, pl->xlabels[i]);
			fprintf(gp.f, " %.10g", pl->x[i]);
		}
		fputs(")\nset offsets graph 0.03, graph 0.03, 0, 0\n", gp.f);
		if (pl->logx)
			fputs("set logscale x\n", gp.f);
	}
	for (size_t k = 0; k < pl->nmarks; k++) {
		fprintf(gp.f,
			"set arrow %zu from %.10g, graph 0 to %.10g, graph 1 nohead dt 2 lw 2 "
			"lc rgb \"#cc0000\"\n",
			k + 1, pl->marks[k], pl->marks[k]);
		fprintf(gp.f, "set label %zu ", k + 1);
		put_quoted(gp.f, pl->mark_labels[k]);
		fprintf(gp.f, " at %.10g, graph %.2f left offset 0.5,0 textcolor rgb \"#cc0000\"\n",
			pl->marks[k], 0.95 - 0.06 * (double)(k % 4));
	}
	script_loop_open(gp.f, pl->name, 900, 540);
	fputs("  plot ", gp.f);
	if (pl->x == NULL) {
		/* Categories: grouped bars, one group per value, one bar per
		 * series (a clustered histogram puts group i at x = i). */
		fprintf(gp.f, "\\\n    ");
		for (size_t s = 0; s < pl->nseries; s++) {
			if (pl->yerr != NULL)
				fprintf(gp.f, "%s\"%s.dat\" using %zu:%zu%s", s ? ", \\\n       " : "",
					pl->name, s + 3, s + 3 + pl->nseries, s ? "" : ":xtic(2)");
			else
				fprintf(gp.f, "%s\"%s.dat\" using %zu%s", s ? ", \\\n       " : "",
					pl->name, s + 3, s ? "" : ":xtic(2)");
			fprintf(gp.f, " with histograms lc rgb \"%s\" title ", palette[s % NPAL]);
			put_quoted(gp.f, pl->series[s]);
		}
		fputc('\n', gp.f);
		script_loop_close(gp.f);
		goto save;
	}

	for (size_t s = 0; s < pl->nseries; s++) {
		fprintf(gp.f,
			"%s\"%s.dat\" using 1:%zu with linespoints lw 2 pt 7 lc rgb \"%s\" title ",
			s ? ", \\\n       " : "", pl->name, s + 3, palette[s % NPAL]);
		put_quoted(gp.f, pl->series[s]);
		if (pl->yerr != NULL)
			fprintf(gp.f,
				", \\\n       \"%s.dat\" using 1:%zu:%zu with yerrorbars pt 7 ps 0 "
				"lw 1.5 "
				"lc rgb \"%s\" notitle",
				pl->name, s + 3, s + 3 + pl->nseries, palette[s % NPAL]);
	}
	fputc('\n', gp.f);
	script_loop_close(gp.f);
save:
	if (figure_save(&dat, &gp, dir, pl->name, msg, msglen) < 0)
		return PLOT_FAILED;
	return draw_all(dir, &pl->name, 1, msg, msglen);
}

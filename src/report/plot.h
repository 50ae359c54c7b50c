/*
 * plot.h - gnuplot figures for compare and sweep: data files, scripts, and
 * drawing them into SVG and PNG.
 *
 * For every figure NAME, the files live in DIR/plots/:
 *   NAME.dat  the numbers, whitespace-separated, one commented header line;
 *   NAME.gp   a gnuplot script that reads NAME.dat and writes NAME.svg and
 *             NAME.png; it can be run again by hand (cd DIR/plots &&
 *             gnuplot NAME.gp);
 *   NAME.svg, NAME.png  the figure.
 * The .dat and .gp files are always written (atomically), so that a machine
 * without gnuplot still gets everything needed to draw the figures later.
 * The images are drawn into NAME.{svg,png}.tmp.<pid> (the script takes the
 * suffix in its variable 'suffix') and renamed into place only when gnuplot
 * succeeded, so a figure on disk is always complete.
 *
 * Metrics (documented in results/README.md):
 *   cycles per access, by part  cyc_<part> / accesses;
 *   exits per 1000 accesses     exits_<reason> * 1000 / accesses;
 *   walk references per miss    (walk_refs + fault_walk_refs) / tlb_misses:
 *                               every hardware walk reference a TLB miss
 *                               caused, walks that ended in a fault or an
 *                               exit included;
 *   walk references per walk    walk_refs / walks: references of walks that
 *                               filled the TLB.
 */
#ifndef VMMU_PLOT_H
#define VMMU_PLOT_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/run.h"

enum plot_status {
	PLOT_DRAWN,	 /* every image written */
	PLOT_NO_GNUPLOT, /* data and scripts written; gnuplot is not in PATH */
	PLOT_FAILED,	 /* msg says what failed */
};

/* One cell of a compare: workload and mode names, its result (the mean of
 * its runs over seeds), and the half-width of the 95% interval of its
 * cycles per access (negative: one run, no interval). */
struct plot_run {
	const char *workload;
	const char *mode;
	const struct run_result *r;
	double half;
};

/*
 * The five compare figures, from runs in any order (workloads and modes
 * appear in the order they first occur): compare-cycles (a panel per
 * workload, stacked by cost part), compare-exits (total exits per 1000
 * accesses, every workload and mode on one log axis), compare-walkrefs,
 * compare-headline (cycles per access, every workload and mode on one log
 * axis, error bars with seeds) and compare-exit-reasons (a panel per
 * workload, stacked by reason). 'measured' ("region of interest", "whole run") goes into
 * every title. When the runs have intervals (half >= 0), compare-cycles
 * draws each as an error bar (yerrorbars) at the top of its stack. 'dir' must exist; DIR/plots is
 * created.
 */
enum plot_status plot_compare(const char *dir, const char *measured, const struct plot_run *runs,
			      size_t n, char *msg, size_t msglen);

/* A line plot: one line per series over nx points; categorical points
 * (x == NULL) are drawn as grouped bars, a group per point. */
struct plot_lines {
	const char *name;  /* figure name: files NAME.dat, NAME.gp, ... */
	const char *title; /* figure title */
	const char *xlabel, *ylabel;
	size_t nx;
	const char *const *xlabels; /* nx labels of the points */
	const double *x;	    /* nx positions, increasing; NULL = 0 .. nx-1 */
	bool logx;		    /* log scale on x (x must be > 0) */
	size_t nseries;
	const char *const *series; /* nseries names */
	const double *y;	   /* y[s * nx + i]; NAN = missing */
	const double *yerr;	   /* NULL, or half-widths like y: drawn as error bars */
	size_t nmarks;		   /* vertical marks, at x positions */
	const double *marks;
	const char *const *mark_labels;
};

enum plot_status plot_lines(const char *dir, const struct plot_lines *pl, char *msg, size_t msglen);

#endif

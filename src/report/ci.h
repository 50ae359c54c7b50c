/*
 * ci.h - repeated runs in brief: the mean and the 95% confidence interval
 * of a metric over seeds (Student's t), and the mean of whole run results.
 *
 * compare and sweep run every cell (workload x mode, or value x mode) with
 * several seeds. A cell is reported as the mean of its runs and, with two
 * runs or more, as mean +- t(0.975, n-1) * s / sqrt(n), s the sample
 * standard deviation. Two cells are told apart only when their intervals
 * do not overlap; otherwise there is no clear winner (Wang et al., VEE'11,
 * found no noticeable gap between shadow and nested paging in more than
 * half of their cases, so a tie must be sayable).
 *
 * Invariants:
 *   - with n == 1 the interval is the mean itself (half == 0), and
 *     ci_mean_run() of one run returns that run unchanged;
 *   - lo == mean - half, hi == mean + half, half >= 0.
 */
#ifndef VMMU_CI_H
#define VMMU_CI_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/run.h"

struct ci {
	size_t n;
	double mean;
	double sd;   /* sample standard deviation (n - 1 in the divisor); 0 when n < 2 */
	double half; /* half-width of the 95% interval; 0 when n < 2 */
	double lo, hi;
};

/*
 * The two-sided 95% quantile of Student's t with df degrees of freedom,
 * t(0.975, df): from the standard table for df 1..30 (4 decimals), from
 * the Cornish-Fisher expansion around the normal quantile 1.959964 above
 * (error under 1e-4 there). df 0 has no quantile: returns INFINITY.
 */
double ci_t95(unsigned df);

/* Mean and 95% interval of x[0..n-1]; n == 0 gives NAN mean and bounds. */
void ci_of(const double *x, size_t n, struct ci *out);

/* Do the closed intervals [lo, hi] of a and b share a point? */
bool ci_overlap(const struct ci *a, const struct ci *b);

/*
 * The smallest relative difference of two means that a summary calls a
 * difference: 0.1%. Below it, two modes tie whatever their intervals say:
 * a deterministic workload run over several seeds has zero-width intervals,
 * and 200 cycles out of 1.6e9 is no winner.
 */
#define CI_TIE_REL 1e-3

/*
 * Are a and b indistinguishable: do their intervals overlap, or do their
 * means differ by less than CI_TIE_REL of the larger magnitude?
 */
bool ci_tie(const struct ci *a, const struct ci *b);

/*
 * The mean of n completed runs, as one run result: every counter of st and
 * whole is the rounded mean of the runs' (est_cycles follows from st), wall
 * time is the mean, and checksum, digest, params and region are the first
 * run's. For summaries and plots that show one bar per cell; the CSV keeps
 * the runs themselves.
 */
void ci_mean_run(const struct run_result *const *runs, size_t n, struct run_result *out);

#endif

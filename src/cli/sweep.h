/*
 * sweep.h - `vmmu sweep` (vary one parameter, find the crossover) and
 * `vmmu merge` (combine the CSVs of jobs run elsewhere), and the pieces of
 * both that tests reach directly.
 *
 * A sweep runs one workload for each value of one parameter (any flag that
 * cli_set() accepts) under each chosen mode, and compares the modes at each
 * value on estimated cycles per access. A crossover is a pair of adjacent
 * values (among those where both modes ran) where the winner between two
 * modes changes. docs/sweep.md describes the commands and their files.
 *
 * Invariants:
 *   - a crossover's lo < hi, and the two modes win on opposite sides: the
 *     sign of a - b is non-zero and differs at lo and hi, and every point
 *     strictly between them is missing or a tie;
 *   - crossovers are returned in increasing order of lo.
 */
#ifndef VMMU_SWEEP_H
#define VMMU_SWEEP_H

#include <stddef.h>

/* One change of winner between series a and b. */
struct sweep_xover {
	size_t lo, hi; /* indices of the two points that bracket the change */
	int before;    /* sign of a - b at lo: -1 means a is cheaper (a wins), +1 b wins */
	int after;     /* sign at hi, the opposite of before */
	double x;      /* estimated crossing: linear interpolation of a - b between
			* x[lo] and x[hi] (positions 0 .. n-1 when x is NULL) */
};

/*
 * Find where the cheaper of a and b changes. x: n increasing positions, or
 * NULL for categorical points (positions 0 .. n-1). a, b: n values each; a
 * NAN (a failed or missing run) in either leaves the point out, and so does
 * a tie (a == b). Writes at most max crossovers into out and returns how
 * many there are in all.
 */
size_t sweep_find_crossovers(const double *x, const double *a, const double *b, size_t n,
			     struct sweep_xover *out, size_t max);

/*
 * The interval of a crossover o between series a and b, given the
 * half-widths ha, hb of their 95% intervals at each point (the means are a
 * and b). The gap d = a - b is known to within h = ha + hb at each point
 * (a conservative bound: the union of the two intervals); between lo and
 * hi both d - h and d + h are interpolated linearly, and the crossover lies
 * where the band [d - h, d + h] contains 0. *xlo <= o->x <= *xhi, both
 * within [x[lo], x[hi]] (positions 0 .. n-1 when x is NULL); with h == 0 at
 * both points the interval is the point o->x.
 */
void sweep_xover_interval(const double *x, const double *a, const double *b, const double *ha,
			  const double *hb, const struct sweep_xover *o, double *xlo, double *xhi);

#endif

/*
 * ci.c - means and Student-t confidence intervals over repeated runs
 * (see ci.h).
 */
#include "ci.h"

#include <math.h>
#include <string.h>

#include "csv.h"

/* t(0.975, df) for df = 1 .. 30, the standard table (e.g. NIST/SEMATECH
 * e-Handbook of Statistical Methods, table 1.3.6.7.2), 4 decimals. */
static const double t95_table[30] = {
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010,  2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796,  2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
};

double ci_t95(unsigned df)
{
	if (df == 0)
		return INFINITY;
	if (df <= 30)
		return t95_table[df - 1];
	/* Cornish-Fisher expansion of the t quantile in powers of 1/df
	 * (Abramowitz & Stegun 26.7.5), z = the normal 0.975 quantile. */
	const double z = 1.959963985, z2 = z * z, v = (double)df;
	double g1 = (z2 + 1) * z / 4;
	double g2 = ((5 * z2 + 16) * z2 + 3) * z / 96;
	double g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384;
	double g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160;
	return z + g1 / v + g2 / (v * v) + g3 / (v * v * v) + g4 / (v * v * v * v);
}

void ci_of(const double *x, size_t n, struct ci *out)
{
	double sum = 0, ss = 0;

	memset(out, 0, sizeof(*out));
	out->n = n;
	if (n == 0) {
		out->mean = out->lo = out->hi = NAN;
		return;
	}
	for (size_t i = 0; i < n; i++)
		sum += x[i];
	out->mean = sum / (double)n;
	if (n >= 2) {
		for (size_t i = 0; i < n; i++)
			ss += (x[i] - out->mean) * (x[i] - out->mean);
		out->sd = sqrt(ss / (double)(n - 1));
		out->half = ci_t95((unsigned)(n - 1)) * out->sd / sqrt((double)n);
	}
	out->lo = out->mean - out->half;
	out->hi = out->mean + out->half;
}

bool ci_overlap(const struct ci *a, const struct ci *b)
{
	return a->lo <= b->hi && b->lo <= a->hi;
}

bool ci_tie(const struct ci *a, const struct ci *b)
{
	double big = fmax(fabs(a->mean), fabs(b->mean));
	return ci_overlap(a, b) || fabs(a->mean - b->mean) < CI_TIE_REL * big;
}

static void mean_stats(const struct run_result *const *runs, size_t n, size_t off,
		       struct stats *out)
{
	for (size_t k = 0; k < stat_nfields; k++) {
		/* Sum in long double: n counters of up to 2^64 each. */
		long double sum = 0;
		for (size_t i = 0; i < n; i++)
			sum += stat_get(
			    (const struct stats *)(const void *)((const char *)runs[i] + off),
			    &stat_fields[k]);
		*(uint64_t *)(void *)((char *)out + stat_fields[k].off) =
		    (uint64_t)llroundl(sum / (long double)n);
	}
}

void ci_mean_run(const struct run_result *const *runs, size_t n, struct run_result *out)
{
	double wall = 0;

	*out = *runs[0];
	if (n <= 1)
		return;
	mean_stats(runs, n, offsetof(struct run_result, st), &out->st);
	mean_stats(runs, n, offsetof(struct run_result, whole), &out->whole);
	for (size_t i = 0; i < n; i++)
		wall += runs[i]->wall_s;
	out->wall_s = wall / (double)n;
	out->est_cycles = stats_est_cycles(&out->st);
}

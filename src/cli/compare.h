/*
 * compare.h - the state of one `vmmu compare`, shared by the command
 * (compare.c: flags, jobs, cells, plots, the result set) and its written
 * output (compare_summary.c: compare.csv and summary.md).
 */
#ifndef VMMU_COMPARE_H
#define VMMU_COMPARE_H

#include <stdio.h>

#include "jobs.h"
#include "../report/ci.h"
#include "../../workloads/replay.h"

#define COMPARE_MAX_MODES 16

struct compare {
	struct vm_config cfg;
	struct wl_params p;
	const char *out;
	unsigned jobs;
	const struct workload **wl;
	size_t nwl;
	const struct mmu_ops *modes[COMPARE_MAX_MODES];
	size_t nmodes;
	char skipped[1024]; /* modes left out, for the summary */
	unsigned nseeds;    /* --seeds: runs per cell */
	struct job *job;    /* workload, mode, seed: job[(w * nmodes + m) * nseeds + s] */
	size_t njob;
	struct job *cell;		/* one per (workload, mode): cell[w * nmodes + m], its
					 * runs' mean (ci_mean_run), failed if any run failed */
	struct ci *cpa;			/* cycles per access of each cell over its seeds */
	struct replay_workload *traces; /* replays, listed in wl after the suite */
	uint64_t warmup;		/* --warmup: records each replay warms up with */
	bool quiet;			/* -q: no progress and no "wrote" lines */
	bool json;			/* --json: every run's object on stdout */
};

/* csv_fill_fn callbacks (ctx: the struct compare): every run's row, and
 * the summary. */
int compare_csv_fill(FILE *f, void *ctx);
int summary_fill(FILE *f, void *ctx);
/* With several seeds, the overview on stdout: mean ± half-width. */
void compare_print_means(const struct compare *c);
/* summary.md's nested-virtualization section (compare_nvirt.c): nept
 * against nested, when both ran. */
void compare_nvirt_section(FILE *f, const struct compare *c);
/* The L2 designs side by side (compare_nvirt.c): when two or more ran. */
void compare_nvirt_designs(FILE *f, const struct compare *c);

#endif

/*
 * run.h - run one workload on one freshly built VM and collect its results.
 *
 * run_workload() creates the VM, boots the guest kernel, resets the
 * statistics (boot is not measured), runs the workload under a guard that
 * turns a vm_abort() into an error result, computes the guest-memory digest,
 * asks the mode for its final statistics, and destroys the VM. It never
 * prints.
 *
 * What is measured: the workload's region of interest (src/core/roi.h,
 * docs/workloads.md) when it marks one, else the whole run; cfg.whole_run
 * measures the whole run whatever the workload marks. r->st holds the
 * measured counters, r->whole the whole run's. A region still open when the
 * workload returns ends there.
 */
#ifndef VMMU_RUN_H
#define VMMU_RUN_H

#include "../core/config.h"
#include "../core/stats.h"
#include "../core/trace.h"
#include "../../workloads/workload.h"

#define RUN_WL_COUNTS 24

struct run_result {
	bool ok;
	char err[256];        /* when !ok */
	struct stats st;      /* the measured counters: the region, or the whole run */
	struct stats whole;   /* the whole run's counters (boot excluded) */
	bool region;          /* st is a marked region (false: st == whole) */
	uint64_t checksum;
	uint64_t guest_digest;
	uint64_t est_cycles;  /* of st */
	double wall_s;        /* wall time of the whole run: create, boot, workload,
			       * digest, destroy */
	double sim_s;         /* wall time of the workload alone */
	uint64_t rss_bytes;   /* peak resident set of the process at the end */
	uint64_t digest_frames; /* guest frames the digest read */
	struct wl_params params; /* with the workload's defaults applied */
	/* Counts a driver adds for its workload, 0 otherwise (compare: a
	 * replay's memory system calls, see src/cli/replay_summary.h). */
	uint64_t wl_counts[RUN_WL_COUNTS];
};

/* Optional observer: trace hook and a callback with the live VM after boot
 * (used by explain and tests). Both may be NULL. */
struct run_hooks {
	trace_fn_t trace_fn;
	void *trace_ctx;
	void (*after_boot)(struct vm *vm, void *ctx);
	void (*after_run)(struct vm *vm, void *ctx);
	void *ctx;
};

/* Returns 0 when the run completed; -1 with r->err otherwise (bad config,
 * guest error). */
int run_workload(const struct vm_config *cfg, const struct workload *w,
		 const struct wl_params *p, const struct run_hooks *hooks, struct run_result *r);

/* Apply the workload's defaults to zero fields of p. */
struct wl_params run_params(const struct workload *w, const struct wl_params *p);

#endif

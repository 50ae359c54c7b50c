/*
 * roi.h - the region of interest of a run: the part of it that is measured.
 *
 * A benchmark times its kernel, not its set-up: HPCC RandomAccess times the
 * update loop, Graph500 leaves graph construction out, gem5 brackets the
 * region with m5_work_begin/m5_work_end and Sniper with SimRoiStart/End.
 * vmmu does the same: a workload (or a library user, or replay after its
 * warm-up) calls vm_roi_begin() and vm_roi_end() once each, and the region's
 * counters are the difference of two full snapshots of struct stats.
 *
 * Nothing here is on the access path: a marker costs one snapshot (the
 * derived counters are brought up to date first, vm_sync_stats()), and the
 * engine never looks at the region while it runs.
 *
 * Invariants:
 *   - roi.state goes NONE -> OPEN -> CLOSED, never back: one region per run;
 *   - begin is a snapshot taken at vm_roi_begin(), end one taken at
 *     vm_roi_end() (valid only when CLOSED);
 *   - for every counter but the gauge vmm_heap_bytes,
 *     region = end - begin, so whole = begin + region + (whole - end)
 *     exactly (stats_delta(); tests/test_roi.c checks it counter by counter).
 */
#ifndef VMMU_ROI_H
#define VMMU_ROI_H

#include "stats.h"

struct vm;

enum roi_state { ROI_NONE = 0, ROI_OPEN, ROI_CLOSED };

struct vm_roi {
	enum roi_state state;
	struct stats begin, end;
};

/* Errors of the markers (negative, as the library returns them). */
#define ROI_ERR_BEGUN (-2)     /* vm_roi_begin() with a region already begun */
#define ROI_ERR_NOT_BEGUN (-3) /* vm_roi_end() with no region open */

/*
 * Every counter as of now, complete: the derived ones (vm_sync_stats()),
 * the L2 TLB hits, the mode's own (mmu_ops.stats), host frames at peak and
 * the simulator's heap. What a run reports at its end, and what a region
 * marker snapshots.
 */
void vm_read_stats(struct vm *vm, struct stats *out);

/* Open the region: snapshot now. Returns 0, or ROI_ERR_BEGUN when a region
 * was begun before (open or closed: one region per run). */
int vm_roi_begin(struct vm *vm);
/* Close the region: snapshot now. Returns 0, or ROI_ERR_NOT_BEGUN when no
 * region is open. */
int vm_roi_end(struct vm *vm);

/*
 * The region's counters, given the whole run's (a snapshot at the end of
 * the run): end - begin, where end is the whole run when the region is
 * still open at the end. Returns false, leaving *out alone, when no region
 * was begun.
 */
bool vm_roi_stats(const struct vm *vm, const struct stats *whole, struct stats *out);

#endif

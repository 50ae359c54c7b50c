/*
 * replay_summary.h - what `vmmu compare` says about a replayed real
 * program: the memory system calls that drove page-table updates, the
 * exits by reason under shadow (and which calls caused the page-table-write
 * exits), and where shadow and nested differ.
 *
 * A replay runs in a forked job, so its system-call counts travel back in
 * run_result.wl_counts: [0, RSYS_NCALLS) calls of each kind,
 * [RSYS_NCALLS, 2 * RSYS_NCALLS) shadow page-table-write exits they caused.
 */
#ifndef VMMU_REPLAY_SUMMARY_H
#define VMMU_REPLAY_SUMMARY_H

#include <stdio.h>

#include "jobs.h"
#include "../lib/run.h"

/* In the job's child, after the run: copy a replay's counts into r (no-op
 * for other workloads). */
void replay_summary_counts(const struct workload *w, struct run_result *r);
/* In summary.md, after a workload's table: the replay paragraph (no-op for
 * other workloads). row[0, n) are its runs, one per mode. */
void replay_summary_write(FILE *f, const struct workload *w, const struct job *row, size_t n);

#endif

/*
 * csv.h - the CSV that every subcommand writes, and atomic file output.
 *
 * One header row, then one row per run. The columns, in order:
 *   1. the required leading columns: workload, mode, seed, accesses,
 *      tlb_hits, tlb_misses, walks, walk_refs, walks_user, walk_refs_user,
 *      fault_walk_refs, guest_faults, vm_exits, tlb_flushes, est_cycles,
 *      cycles_per_access, checksum, guest_digest, wall_s,
 *      sim_accesses_per_s;
 *   2. the parameters of the run (workload sizes, then the machine);
 *   3. every other counter of STATS_COUNTERS, in the order of that list;
 *   4. roi ("region" or "whole": what the counters above cover),
 *      whole_accesses, whole_est_cycles, whole_cycles_per_access (the whole
 *      run, set-up included, whatever roi says);
 *   5. measurements of the simulator: sim_s, rss_bytes.
 * Blocks 1 and 3 hold the measured counters: the workload's region of
 * interest unless roi is "whole" (src/lib/run.h).
 * docs/csv.md describes every column.
 *
 * Invariants:
 *   - the header and the rows come from one function, so a row always has
 *     exactly as many fields as the header;
 *   - every STATS_COUNTERS name is a column exactly once;
 *   - no field contains a comma, a quote or a newline, so no field is quoted.
 */
#ifndef VMMU_CSV_H
#define VMMU_CSV_H

#include <stdio.h>

#include "../core/config.h"
#include "../lib/run.h"
#include "../core/stats.h"

/* One counter of STATS_COUNTERS, for code that iterates over them. */
struct stat_field {
	const char *name;
	const char *desc;
	size_t off; /* offset of the uint64_t in struct stats */
};

/* Every counter, in STATS_COUNTERS order. */
extern const struct stat_field stat_fields[];
extern const size_t stat_nfields;

static inline uint64_t stat_get(const struct stats *s, const struct stat_field *f)
{
	return *(const uint64_t *)(const void *)((const char *)s + f->off);
}

/* Derived columns, 0 when the denominator is 0. */
double csv_cycles_per_access(const struct run_result *r);
double csv_accesses_per_s(const struct run_result *r);

/* Write the header row. Returns 0, or -1 on a stream error. */
int csv_write_header(FILE *f);

/* Write one row for a completed run of 'workload' on the machine cfg
 * (cfg->mode names the mode; r->params holds the workload parameters with
 * defaults applied). Returns 0, or -1 on a stream error. */
int csv_write_row(FILE *f, const char *workload, const struct vm_config *cfg,
		  const struct run_result *r);

/* The column names in order. Fills names[0 .. max-1] and returns the total
 * number of columns (which may exceed max). */
size_t csv_columns(const char **names, size_t max);

/* The directory part of path into dir[len]: "." for a bare name, "/" for a
 * file at the root. Truncates (never overflows) a directory longer than len. */
void csv_dir_of(const char *path, char *dir, size_t len);

/*
 * Write a file atomically: fill() writes the whole content into a stream on
 * PATH.tmp.<pid> in the same directory; it is flushed, fsync()ed and renamed
 * over PATH. fill returns 0, or -1 (with errno set) to abandon the write.
 * On any error the temporary file is removed and err says what failed.
 * PATH is resolved by out_resolve() (output.h): "-", /dev/stdout and
 * /dev/fd/N write to that descriptor, a character device or a FIFO is
 * written in place, a symlink to a regular file replaces the file it names,
 * anything else that is not a regular file is refused, and no folder is
 * created. Returns 0 or -1.
 */
typedef int (*csv_fill_fn)(FILE *f, void *ctx);
int csv_write_atomic(const char *path, csv_fill_fn fill, void *ctx, char *err, size_t errlen);

/* Create the folder path if it is missing, never its parents (see
 * out_make_dir()). Returns 0, or -1 with err set (also when path exists and
 * is not a directory). */
int csv_make_dirs(const char *path, char *err, size_t errlen);

#endif

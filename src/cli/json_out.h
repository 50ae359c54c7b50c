/*
 * json_out.h - the JSON forms of `vmmu run --json`, `vmmu compare --json`
 * and `vmmu list --json`, written with libjansson.
 *
 * A run is one JSON object with exactly the CSV's columns (docs/csv.md), in
 * the CSV's order and under the same names: the object is built from the
 * row csv.c writes, so the two can never disagree. A field that is a
 * plain decimal integer becomes a JSON integer, one that is a decimal
 * fraction a JSON number, and anything else ("0x..." digests, "4k", "on",
 * the workload and mode names) a string; a non-finite number is null.
 *
 * Invariants:
 *   - the keys of a run's object are the CSV header's names, in order;
 *   - every value reads back as the CSV field (numbers to the CSV's
 *     precision).
 */
#ifndef VMMU_JSON_OUT_H
#define VMMU_JSON_OUT_H

#include <stdio.h>

#include "../core/config.h"
#include "../lib/run.h"

/* Write one run's object (and a newline when nl) to f. Returns 0, or -1. */
int json_out_run(FILE *f, const char *workload, const struct vm_config *cfg,
		 const struct run_result *r, int nl);

/* `vmmu list --json`: what ("modes", "workloads", "machines" or NULL for
 * all) as one JSON value on stdout. Returns 0, or -1. */
int json_out_list(const char *what);

#endif

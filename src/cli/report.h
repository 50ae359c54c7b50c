/*
 * report.h - what `vmmu run` and `vmmu replay` print for one finished run:
 * the human summary, and the one-row CSV file.
 *
 * Both commands publish a run the same way, so a replay's output reads
 * exactly like a run's: the same summary lines and the same CSV columns.
 * Computing the counters is run.c's job; this file only formats them.
 */
#ifndef VMMU_REPORT_H
#define VMMU_REPORT_H

#include <stdio.h>

#include "../core/config.h"
#include "../lib/run.h"

/*
 * Validate what run and replay share before any work: the mode must exist
 * and a VM of it must be creatable on cfg's machine (a mode listed but not
 * built, or a machine the engine refuses, is a usage error), and csv, when
 * given and not "-", must be writable. Sets cfg->mode. Prints the error and
 * returns -1 when not; 0 when all is well.
 */
int report_check_run(struct vm_config *cfg, const char *mode, const char *csv);

/* The stream the summary goes to: stderr when the CSV goes to stdout
 * (csv is "-"), stdout otherwise. */
FILE *report_stream(const char *csv);

/*
 * Publish a completed run: refuse it when its counters break their
 * invariants, else print the summary on report_stream(csv) and, when csv
 * is not NULL, write the CSV header and row to csv atomically. 'cmd' names
 * the command in error messages. Returns a CLI_EXIT_* status.
 */
int report_finish(const char *cmd, const char *wname, const struct vm_config *cfg,
		  const struct run_result *r, const char *csv);

/* The same, with options: REPORT_QUIET prints no summary; REPORT_JSON
 * prints the run as one JSON object (json_out.h) on stdout, and the
 * summary, unless quiet, on stderr. */
#define REPORT_QUIET 1u
#define REPORT_JSON 2u
int report_finish_opts(const char *cmd, const char *wname, const struct vm_config *cfg,
		       const struct run_result *r, const char *csv, unsigned opts);

#endif

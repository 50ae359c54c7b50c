/*
 * jobs.h - the job runner that every multi-run command shares (compare,
 * sweep), and the small helpers those commands have in common.
 *
 * A job is one workload run on one fully described machine (its own
 * struct vm_config, mode included, and its own struct wl_params). The
 * runner starts each job in a forked child, at most 'par' at a time, so a
 * crash in one run costs that job alone. The child sends its struct
 * run_result back through a pipe; the parent alone prints and writes files.
 *
 * Progress goes to stderr: a bar with the count done and the time left when
 * stderr is a terminal, one line per finished job otherwise. A failed job is
 * always reported with its reason.
 *
 * Invariants:
 *   - after jobs_run() returns, every job is JOB_OK or JOB_FAILED, no child
 *     is left running and no pipe is left open (also when interrupted);
 *   - no child outlives the runner: PR_SET_PDEATHSIG kills it;
 *   - a JOB_OK job holds a complete run_result whose counters passed
 *     stats_check().
 */
#ifndef VMMU_JOBS_H
#define VMMU_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <sys/types.h>

#include "../core/config.h"
#include "../core/mmu.h"
#include "../lib/run.h"

#define JOBS_MAX_PAR 256

enum job_state { JOB_PENDING, JOB_RUNNING, JOB_OK, JOB_FAILED };

struct job {
	/* Filled by the caller before jobs_run(). */
	const struct workload *w;
	const struct mmu_ops *m;
	struct vm_config cfg; /* the machine; jobs_run() sets cfg.mode = m->name */
	struct wl_params p;
	char tag[64]; /* extra label for progress lines ("ops=2000000"); may be empty */

	/* Filled by the runner. */
	enum job_state state;
	pid_t pid;
	int fd;	    /* read end of the result pipe while running */
	size_t got; /* bytes of r received */
	double t0;  /* start, monotonic seconds */
	struct run_result r;
	char err[320]; /* why it failed, when JOB_FAILED */
};

/*
 * Run every job, at most 'par' at a time (1..JOBS_MAX_PAR; clamped to
 * njob). 'who' prefixes the progress lines ("compare", "sweep").
 *
 * Each child dies with the runner (PR_SET_PDEATHSIG), even when the runner
 * is killed with SIGKILL. A SIGINT or SIGTERM sent to the runner stops it:
 * every running child gets SIGTERM and is reaped, every unfinished job is
 * JOB_FAILED ("interrupted by INT"), and the signal's number is returned
 * (the caller writes nothing and exits 128 + that number). Returns 0 when
 * every job ran.
 */
int jobs_run(const char *who, struct job *job, size_t njob, unsigned par);
/* The same; with quiet, no progress at all: only failures are reported. */
int jobs_run_quiet(const char *who, struct job *job, size_t njob, unsigned par, bool quiet);

/* Block SIGINT and SIGTERM (saving the old mask in *old) while a set of
 * files is written, so that a signal lands after the set is complete;
 * jobs_release_signals() restores the mask, and a pending signal then takes
 * its default action. */
void jobs_hold_signals(sigset_t *old);
void jobs_release_signals(const sigset_t *old);

/* Is mode m able to run on the machine cfg describes? On false, err says why. */
bool jobs_mode_can_run(const struct vm_config *cfg, const struct mmu_ops *m, char *err,
		       size_t errlen);


#endif

/*
 * sweep-int.h - the state of one `vmmu sweep`, shared by the command
 * (sweep.c) and its job-list writer (sweep_emit.c).
 */
#ifndef VMMU_SWEEP_INT_H
#define VMMU_SWEEP_INT_H

#include "cli.h"
#include "jobs.h"
#include "sweep.h"

#define SWEEP_DEFAULT_JOBS 2
#define SWEEP_MAX_VALUES 256
#define SWEEP_MAX_MODES 16
#define SWEEP_MAX_XOVERS 16
#define SWEEP_MAX_SEEDS 1000

struct sweep {
	struct vm_config cfg; /* the command line's machine, before the value */
	struct wl_params p;
	const struct workload *w;
	char param[64]; /* the flag name without its dashes */
	char *vbuf;	/* the --values list, split in place */
	const char *values[SWEEP_MAX_VALUES];
	size_t nval;
	bool numeric; /* every value is a number: x holds them */
	double x[SWEEP_MAX_VALUES];
	const struct mmu_ops *modes[SWEEP_MAX_MODES];
	size_t nmodes;
	const char *out;
	const char *emit; /* --emit-jobs parallel|slurm, or NULL */
	const char *vmmu; /* --vmmu PATH for emitted commands, or NULL */
	bool resume;	  /* --resume: emit only the jobs without a complete CSV */
	bool quiet;	  /* -q: no progress, no "wrote" lines, no crossover lines */
	bool pilot;	  /* --pilot on|off: run the last value's jobs first */
	const char *from; /* --from CSV: redraw from a merged CSV, run nothing */
	int argc;	  /* the command line, to spell the redraw command */
	char **argv;
	double *rcpa;	  /* --from: cycles per access of job k's row, NAN if none */
	char **rows;	  /* --from: job k's CSV row, or NULL */
	char *from_buf;	  /* --from: the file's text, rows point into it */
	unsigned jobs;
	unsigned nseeds; /* --seeds: runs per point */
	char base[256];	 /* sweep-<workload>-<param> */
	struct job *job;
	size_t njob;
	/* analysis */
	double *cpa;   /* cpa[m * nval + v], the mean over seeds; NAN when a run failed */
	double *cih;   /* the half-width of its 95% interval (0 with one seed) */
	size_t pa, pb; /* the pair of modes the crossover is looked for between */
	struct sweep_xover xo[SWEEP_MAX_XOVERS];
	size_t nxo;
};

/* --emit-jobs FILE: the output paths are checked first (0, or -1 with the
 * error printed); then one self-contained command line per job. */
int sweep_check_outputs(const struct sweep *s);
int sweep_emit(const struct sweep *s);

/* The CSV file job k writes under dir (the emitted command's --csv). */
void sweep_job_csv(const struct sweep *s, size_t k, const char *dir, char *buf, size_t len);

/* --from: read the merged CSV and give each job its row (rows, rcpa).
 * Returns -1 to go on, else an exit status (the error printed). */
int sweep_load(struct sweep *s);

/* This vmmu's CSV header line, without its newline (malloc'ed), or NULL. */
char *sweep_header(void);

/* The index of the column named name in a CSV line, or SIZE_MAX. */
size_t sweep_col(const char *header, const char *name);

/* A pointer to field k of line (len set), or NULL. */
const char *sweep_field(const char *line, size_t k, size_t *len);

#endif

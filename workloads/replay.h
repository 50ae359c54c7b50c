/*
 * replay.h - `vmmu replay`: a valgrind lackey trace of a real program,
 * replayed as one guest process under one MMU mode.
 *
 * The trace is what `valgrind --tool=lackey --trace-mem=yes --log-fd=1 PROG`
 * prints (docs/replay.md has the grammar):
 *
 *   ==1234== Lackey, an example Valgrind tool     banner: skipped
 *   I  0401ab70,3                                 instruction fetch
 *    L 1fff000708,8                               load
 *    S 1fff000700,8                               store
 *    M 0402c018,4                                 modify: load, then store
 *
 * The replay is a workload like the built-in ones (run through
 * run_workload(), p.arg = its struct replay_input): one process, whose
 * address space grows as the trace touches it. Before the first access to
 * a 2 MiB-aligned region, the region is mmap'ed (read, write, execute);
 * mmap creates the VMA only, so the first touch of each page takes one
 * demand-zero guest fault, and a replay raises exactly one guest fault per
 * distinct 4 KiB page touched (per distinct 2 MiB page with --guest-page 2m).
 *
 * A record is cut at page boundaries; a data part is replayed as 8, 4, 2
 * and 1-byte accesses covering it exactly, an instruction part as one
 * fetch. A store writes wl_mix(address, record position); a load folds
 * the value it reads into the checksum, so every mode must agree on it.
 *
 * Warm-up (--warmup N, as ChampSim's warm-up instructions): the first N
 * records warm the TLB, the walk caches and the VMM's state, and the
 * region of interest (src/core/roi.h) begins with record N + 1. A trace of
 * fewer than N records is bad input, found when the trace ends, unless
 * warmup_soft is set (`vmmu compare --warmup`): then it is measured whole.
 * N = 0 marks no region: the whole replay is measured.
 *
 * Streaming: the trace is read through one fixed buffer, so the replay's
 * own memory does not grow with the trace's length (only with the number
 * of distinct regions, one hash entry each, and the guest's own pages).
 *
 * Invariants:
 *   - no record is replayed from a line that does not parse completely:
 *     a malformed line stops the run before any of its accesses;
 *   - a replayed access never crosses a page and is 1, 2, 4 or 8 bytes
 *     (cpu.h's caller's duty);
 *   - every address replayed lies in [PAGE_SIZE, user top) of the guest.
 */
#ifndef VMMU_REPLAY_H
#define VMMU_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "replay_sys.h"
#include "workload.h"

struct tbin_reader;

/* Longest line accepted, newline excluded (lackey's are under 40 bytes). */
#define REPLAY_LINE_MAX 255
/* Longest system-call, banner or note line (a path, a command line). */
#define REPLAY_SYS_LINE_MAX 4095
/* Largest access size accepted: lackey's own limit (MAX_DSIZE in lk_main.c). */
#define REPLAY_MAX_SIZE 512
/* Addresses must lie below 2^57, the reach of 5-level paging. */
#define REPLAY_ADDR_BITS 57
/* The replay maps the guest's address space in aligned regions of this size. */
#define REPLAY_REGION_SHIFT 21

/* One parsed record. */
struct replay_rec {
	char kind; /* 'I', 'L', 'S' or 'M' */
	uint64_t addr;
	unsigned size; /* 1 .. REPLAY_MAX_SIZE */
};

/* What replay_parse_line() found. */
enum replay_line {
	REPLAY_LINE_ERROR = -1, /* malformed: 'why' says how */
	REPLAY_LINE_RECORD = 0, /* *rec filled */
	REPLAY_LINE_BANNER,	/* a ==PID== line: skipped */
	REPLAY_LINE_EMPTY,	/* an empty line (accepted at the end of input only) */
	REPLAY_LINE_SYSCALL,	/* "SYSCALL[PID,TID](NR) ...": replay_sys.h */
	REPLAY_LINE_SYSCONT,	/* " --> ...": the rest of a SYSCALL line */
	REPLAY_LINE_NOTE,	/* "--PID-- ...": a valgrind note, skipped */
};

/*
 * Parse one line (without its newline; it may contain NUL bytes). Pure: no
 * I/O, no state. On REPLAY_LINE_ERROR, 'why' gets the reason without the
 * line text, e.g. "bad hex digit 'g' in address" (docs/replay.md lists
 * them all).
 */
enum replay_line replay_parse_line(const char *line, size_t len, struct replay_rec *rec, char *why,
				   size_t whylen);

/* The longest line accepted whose first bytes are line[0, have):
 * REPLAY_SYS_LINE_MAX for SYSCALL, banner and note lines, else
 * REPLAY_LINE_MAX. */
size_t replay_line_max(const char *line, size_t have);

/* One trace to replay, and what its replay found. */
struct replay_input {
	const char *path; /* "-" = standard input */
	int fd;		  /* opened by the run; -1 before; see replay_input_close() */
	uint64_t warmup;  /* records replayed before the measured region (--warmup) */
	bool warmup_soft; /* compare --warmup: a trace of fewer than 'warmup'
			   * records is measured whole instead of refused */
	bool no_syscalls; /* --no-syscalls: one process, every touched region mapped */
	bool bad_input;	  /* the run stopped on the trace itself (exit status 2) */
	char err[512];	  /* why, when bad_input: "FILE:LINE: reason: 'text'" */
	/* Counts of a completed replay. */
	uint64_t lines;	  /* lines read, banners included */
	uint64_t records; /* records replayed */
	uint64_t fetches, loads, stores, modifies;
	uint64_t straddles; /* records that crossed a page boundary */
	uint64_t regions;   /* 2 MiB regions mapped (--no-syscalls) */

	bool binary;	       /* the trace was in the binary form */
	struct rsys_stats sys; /* system calls performed (replay_sys.h) */
	/* State of a run that stopped early (bad input): replay_input_close()
	 * frees it. NULL after a completed run. */
	struct rsys *sys_state;
	struct tbin_reader *bin_state;
};

/* A trace as a workload: w.name is "replay:<trace name>" and w.run the
 * replay; run it with p.arg = replay_input_of(&rw->w). */
struct replay_workload {
	struct workload w;
	struct replay_input in; /* in.path points to path[] below */
	char name[96];
	char path[1024];
};

/* Prepare rw for the trace at path ("-" = standard input). The workload
 * name is "replay:" and the file's base name without a ".lackey" suffix,
 * with characters other than [A-Za-z0-9._-] replaced by '_' (it is a CSV
 * field); "replay:stdin" for "-". Returns 0, or -1 when path is longer
 * than rw->path holds. Caller's duty: rw is not moved afterwards (in.path
 * points into it). */
int replay_workload_init(struct replay_workload *rw, const char *path);
/* The input of a replay workload; NULL for any other workload. */
struct replay_input *replay_input_of(const struct workload *w);
/* Print the system calls a replay performed: one line of counts, one per
 * call kind that changed the TLB (what it cost). */
void replay_print_sys(FILE *f, const struct replay_input *in);
/* Close the trace a run opened (not standard input) and free what a run
 * that stopped early left. Safe to call twice. */
void replay_input_close(struct replay_input *in);

/*
 * Every trace named by a comma-separated list of files and directories
 * (a directory contributes its *.lackey files, sorted by name). A missing
 * entry is an error when 'must_exist', skipped otherwise. Returns the
 * count and stores a malloc'ed array in *out (free() it; NULL when 0), or
 * -1 with err set.
 */
long replay_find_traces(const char *list, bool must_exist, struct replay_workload **out, char *err,
			size_t errlen);

#endif

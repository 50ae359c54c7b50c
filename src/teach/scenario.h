/*
 * scenario.h - narrated scenarios: short event sequences on a real small
 * guest, told one trace event at a time (`vmmu explain --scenario NAME`).
 *
 * A scenario boots a guest, sets up a little state (processes, mappings,
 * touched pages) without watching, resets the statistics, installs a trace
 * hook, and then performs a few guest steps: stores, loads, a fork, a
 * context switch, an mprotect, a munmap. Everything the narration says comes
 * from the trace events that the real mechanism emits during those steps
 * and from the statistics deltas of each step; the scenario itself only
 * knows what the guest does (the one-line heading of each step).
 *
 * Invariants:
 *   - a scenario is a function of its name and its machine config: the same
 *     inputs give the same events, in the same order, with the same values;
 *   - the events an observer sees are exactly those of the narrated steps
 *     (none from boot or setup), and the statistics passed to step_done()
 *     are that step's deltas, so the deltas of all steps sum to the totals.
 */
#ifndef VMMU_SCENARIO_H
#define VMMU_SCENARIO_H

#include <stdio.h>

#include "../core/config.h"
#include "../core/stats.h"
#include "../core/trace.h"

struct vm;

/*
 * What a consumer of a scenario sees. Every callback may be NULL.
 *   step       a guest step begins; heading says what the guest does;
 *   event      one trace event of the step. exit_counter is, for a
 *              TR_VM_EXIT event, the name of the exits_* counter that the
 *              exit incremented ("exits_hidden_fault", ...), else NULL;
 *   step_done  the step is over; delta holds its statistics deltas (with
 *              the derived counters brought up to date).
 */
struct scenario_observer {
	void (*step)(void *ctx, struct vm *vm, int n, const char *heading);
	void (*event)(void *ctx, struct vm *vm, const struct trace_event *ev,
		      const char *exit_counter);
	void (*step_done)(void *ctx, struct vm *vm, int n, const struct stats *delta);
	void *ctx;
};

/* The scenarios, in the order `--scenario list` shows them. */
struct scenario_info {
	const char *name;
	const char *summary;
	const char *setup; /* what the unnarrated setup does */
};

/* Guest memory of a scenario's machine unless a flag says otherwise. */
#define SCENARIO_GUEST_MEM (UINT64_C(64) << 20)
extern const struct scenario_info scenario_list[];
extern const size_t scenario_count;

/* True when 'name' is a scenario. */
bool scenario_exists(const char *name);

/*
 * Run scenario 'name' on a fresh VM built from cfg (cfg->mode names the
 * mode). *total gets the statistics of the narrated steps (boot and setup
 * excluded), with the mode's final statistics. Returns 0, or -1 with err
 * set (unknown scenario, a VM that cannot be built, a guest error).
 * Never prints.
 */
int scenario_run(const char *name, const struct vm_config *cfg, const struct scenario_observer *obs,
		 struct stats *total, char *err, size_t errlen);

/* The narrator (narrate.c). */
/* Run scenario scn under cfg->mode and narrate it to f, then its summary;
 * *total as scenario_run(). Returns 0, or -1 with err set. */
int scenario_narrate(FILE *f, const char *scn, const struct vm_config *cfg, int verbose,
		     struct stats *total, char *err, size_t errlen);
/* One line describing cfg's machine; cfg->mode NULL = every mode. */
void scenario_describe_machine(FILE *f, const struct vm_config *c);
/* The totals of one narrated run (summary.c). */
void scenario_print_summary(FILE *f, const char *scn, const char *mode, const struct stats *t);
/* The side-by-side summary of t[0..n) (one per mode in modes[]). */
void scenario_print_compare(FILE *f, const char *scn, const char *const *modes,
			    const struct stats *t, int n);

/*
 * The l2-fault scenario (l2fault.c): one L2 page fault told under each
 * nested-virtualization design, the exits at each level in order.
 *
 * l2f_designs[] is the table of designs, one mode name a line, in the
 * order the scenario tells them; a design runs when the registry knows
 * its mode, and is skipped otherwise.
 */
extern const char *const l2f_designs[];
extern const size_t l2f_ndesigns;
/* True when 'mode' is a row of l2f_designs[] (known to the registry or not). */
bool l2f_is_design(const char *mode);

/* One line of an l2-fault narration, in the order the events happened. */
enum l2f_kind {
	L2F_GUEST, /* L2's side: its kernel's #PF and actions, the hardware's
		    * walk stopping at an EPT violation */
	L2F_EXIT,  /* a VM exit, always taken by L0 */
	L2F_WORK,  /* a handler's work: L0's or L1's */
};

struct l2f_line {
	enum l2f_kind kind;
	/* L2F_EXIT: the level that exited (2: L2, 1: L1); L2F_WORK: the
	 * level that works (0: L0, 1: L1); L2F_GUEST: 2. */
	int level;
	int exit_no;	     /* L2F_EXIT: 1, 2, ... in the order taken */
	uint64_t reason;     /* L2F_EXIT: the VMX exit reason */
	const char *counter; /* L2F_EXIT: the exits_* counter it incremented */
	bool reflected;	     /* L2F_EXIT of L2: L0 reflected it to L1 */
	bool under_exit;     /* L2F_WORK: the handling of the exit above it */
	enum trace_kind ev;  /* the trace event's kind */
	const char *what;    /* the trace event's description, prefix dropped */
	int repeat;	     /* identical events in a row, told once */
	uint64_t gva, addr, result, cycles;
};

#define L2F_MAX_LINES 512

/* One design's run of the scenario, as the narration tells it. */
struct l2f_run {
	const char *mode;
	char heading[256]; /* the guest step, as the scenario names it */
	struct l2f_line line[L2F_MAX_LINES];
	int n;
	int nexits;
	struct stats total; /* the step's statistics, the mode's own included */
};

/*
 * Run l2-fault under cfg->mode and record it in *r (heap: it is large).
 * Returns 0, or -1 with err set.
 */
int l2f_record(const struct vm_config *cfg, struct l2f_run *r, char *err, size_t errlen);
/* Exits of run r by level (2 or 1), and, with reason >= 0, of that reason;
 * with reflected >= 0, only L2 exits L0 reflected (1) or kept (0). */
int l2f_count(const struct l2f_run *r, int level, int reason, int reflected);
/* The level that handles exit k (1-based) of r in the end: 1 for an L2
 * exit L0 reflected to L1, else 0. -1 when there is no exit k. */
int l2f_final_handler(const struct l2f_run *r, int k);
/* The exit line of exit k (1-based), or NULL. */
const struct l2f_line *l2f_exit(const struct l2f_run *r, int k);

/*
 * `vmmu explain --scenario l2-fault`: narrate the designs to f, each
 * followed by its counters per level, then the table that compares them.
 * only: one design (a mode name), or NULL for every design the registry
 * knows; table_only: the table alone. Returns 0, or -1 with err set.
 */
int l2f_narrate(FILE *f, const struct vm_config *cfg, const char *only, bool table_only,
		char *err, size_t errlen);

#endif

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

#endif

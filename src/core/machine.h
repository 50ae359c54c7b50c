/*
 * machine.h - machine profiles: one real microarchitecture's TLB and
 * walk-cache geometry, cache geometry and every cycle cost, set together by
 * --machine NAME.
 *
 * Every value of every profile names its source in docs/cost-model.md
 * ("Machine profiles"), graded primary, secondary or derived.
 *
 * Invariants:
 *   - machine_profiles() lists each name once; the first is the default,
 *     the profile config_defaults() applies;
 *   - machine_apply() writes exactly the fields a profile owns (the MACH_*
 *     groups of config.h and the cost model), and skips every field whose own
 *     flag was given (vm_config.overridden, .cost_overridden), so that
 *     the result does not depend on the order of --machine and those flags.
 */
#ifndef VMMU_MACHINE_H
#define VMMU_MACHINE_H

#include <stddef.h>

#include "config.h"

struct machine_profile {
	const char *name;    /* "skylake-sp" */
	const char *summary; /* one line for `vmmu list machines` */
	struct tlb_geom l1d, l1d_large, l1i, l2;
	uint32_t psc_entries[MAX_LEVELS + 1];
	uint32_t pwc_entries, ntlb_entries;
	struct cache_geom cache[3]; /* L1D, L2, LLC share of one core */
	struct cost_model cost;
};

/* The profiles, default first; *n gets their number. */
const struct machine_profile *machine_profiles(size_t *n);
/* The profile called name, or NULL. */
const struct machine_profile *machine_find(const char *name);
/* Apply m to c, leaving the fields set by their own flags (see above). */
void machine_apply(struct vm_config *c, const struct machine_profile *m);

/*
 * The cost fields by name, for --cost NAME=CYCLES and for listings: the
 * name as in struct cost_model, and the field's offset in it.
 */
struct cost_field {
	const char *name;
	size_t off;
	const char *help;
};
const struct cost_field *cost_fields(size_t *n);
/* Index of the cost field called name (with or without a "cost." prefix), or -1. */
int cost_field_find(const char *name);

#endif

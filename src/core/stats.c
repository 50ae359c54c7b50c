/*
 * stats.c - computed statistics over struct stats: the estimated cycles and
 * the run-time check of the counters' invariants.
 *
 * Formatting (CSV, summary) lives elsewhere; this file only computes.
 *
 * est_cycles is the sum of every counter whose name starts with "cyc_". The
 * list is generated from STATS_COUNTERS, so a new cost part added there is
 * summed without touching this file.
 *
 * What stats_check() can and cannot check:
 *   - tlb_hits + tlb_misses == lookups is not checked: the number of
 *     lookups that reached the TLB is not a counter (an access whose
 *     translation faults is looked up again after the fault, and bulk page
 *     operations look up without counting an access each time), so there is
 *     nothing to compare the sum with. For the same reason l2_tlb_hits <=
 *     tlb_hits, true by definition, is not checked: the two may be counted
 *     over different sets of lookups;
 *   - user_accesses <= accesses (the two are counted together), and, from
 *     stats.h, walks_user <= walks and walk_refs_user <= walk_refs;
 *   - vm_exits equals the sum of every per-reason exit counter, since every
 *     exit is counted in exactly one exits_* counter;
 *   - in nested mode, walk_refs == walk_refs_guest + walk_refs_host.
 */
#include <stddef.h>
#include <string.h>

#include "stats.h"

/* ---- Private helpers ------------------------------------------------------ */

/* Every counter, by name and offset, in STATS_COUNTERS order. */
static const struct {
	const char *name;
	size_t off;
} stats_fields[] = {
#define X(n, d) {#n, offsetof(struct stats, n)},
    STATS_COUNTERS(X)
#undef X
};

#define STATS_NFIELDS (sizeof(stats_fields) / sizeof(stats_fields[0]))

_Static_assert(sizeof(struct stats) == STATS_NFIELDS * sizeof(uint64_t),
	       "struct stats must be exactly its uint64_t counters");

static bool is_cost_part(const char *name)
{
	return name[0] == 'c' && name[1] == 'y' && name[2] == 'c' && name[3] == '_';
}

static uint64_t field(const struct stats *s, size_t i)
{
	return *(const uint64_t *)((const char *)s + stats_fields[i].off);
}

/* ---- API --------------------------------------------------------------- */

bool stats_is_gauge(const char *name)
{
	return strcmp(name, "vmm_heap_bytes") == 0;
}

void stats_delta(struct stats *out, const struct stats *end, const struct stats *begin)
{
	for (size_t i = 0; i < STATS_NFIELDS; i++) {
		uint64_t *o = (uint64_t *)((char *)out + stats_fields[i].off);
		uint64_t e = field(end, i);
		*o = stats_is_gauge(stats_fields[i].name) ? e : e - field(begin, i);
	}
}

uint64_t stats_est_cycles(const struct stats *s)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < STATS_NFIELDS; i++)
		if (is_cost_part(stats_fields[i].name))
			sum += field(s, i);
	return sum;
}

const char *stats_check(const struct stats *s, bool nested)
{
	if (s->user_accesses > s->accesses)
		return "user_accesses<=accesses";
	if (s->walks_user > s->walks)
		return "walks_user<=walks";
	if (s->walk_refs_user > s->walk_refs)
		return "walk_refs_user<=walk_refs";
	if (s->walk_cycles_user > s->cyc_walk)
		return "walk_cycles_user<=cyc_walk";

	uint64_t exits = s->exits_hidden_fault + s->exits_pt_write + s->exits_cr3 +
			 s->exits_invlpg + s->exits_dirty + s->exits_fault_inject +
			 s->exits_ept_violation + s->exits_ept_misconfig + s->exits_viommu +
			 s->exits_ipi + s->exits_l1;
	if (s->vm_exits != exits)
		return "vm_exits==sum(exits_*)";

	if (nested && s->walk_refs != s->walk_refs_guest + s->walk_refs_host)
		return "walk_refs==walk_refs_guest+walk_refs_host";
	return NULL;
}

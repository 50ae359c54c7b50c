/*
 * walk.h - the hardware 1D page walker, shared by native mode (walking the
 * guest's own tables, gPA == hPA) and shadow mode (walking shadow tables in
 * host memory).
 *
 * It records, as data, the table address, index, entry address and entry of
 * every level it reads, and either the leaf it found or the fault. It sets A
 * on every entry of a successful walk and D on the leaf of a write (with
 * cfg-independent x86 semantics: CR0.WP = 1, so a supervisor write to a
 * read-only page faults too). On a fault it sets no A/D bit.
 *
 * Each reference goes through the 1D paging-structure caches when
 * cfg.walk_caches is set, then through the cache model (cache.h) for
 * its latency, and is emitted through the trace hook.
 */
#ifndef VMMU_WALK_H
#define VMMU_WALK_H

#include "vm.h"

struct walk_step {
	int level;
	uint64_t table; /* physical address of the table */
	unsigned index;
	uint64_t entry_addr;
	uint64_t entry; /* value read (before A/D update) */
	bool from_psc;  /* skipped: the walk cache supplied the next table */
};

struct walk1d {
	int nsteps;
	struct walk_step step[MAX_LEVELS];
	uint32_t refs;      /* memory references made */
	bool ok;
	struct tlb_fill fill;      /* when ok */
	struct guest_fault fault;  /* when !ok */
};

/*
 * Walk the tables rooted at physical address 'root' (levels from
 * cfg.levels) for access a. Returns true and w->fill on success, false and
 * w->fault otherwise. 'dim' tags the trace events (DIM_NATIVE or
 * DIM_SHADOW). set_ad = false walks without touching A/D (for audits).
 */
bool walk1d(struct vcpu *v, uint64_t root, const struct mem_access *a, enum trace_dim dim,
	    bool set_ad, struct walk1d *w);

/* The rights an x86 entry grants, as TLBF_W | TLBF_U | TLBF_NX. */
static inline uint8_t gpte_perms(uint64_t e)
{
	uint8_t p = 0;
	if (e & GPTE_RW)
		p |= TLBF_W;
	if (e & GPTE_US)
		p |= TLBF_U;
	if (e & GPTE_NX)
		p |= TLBF_NX;
	return p;
}

/* Combine an upper level's rights with the next entry's: W and U must be
 * granted at every level, NX at any level forbids fetches. */
static inline uint8_t perms_combine(uint8_t acc, uint8_t e)
{
	return (uint8_t)((acc & e & (TLBF_W | TLBF_U)) | ((acc | e) & TLBF_NX));
}

/* Permissions check of a combined (W, U, NX) against an access; returns the
 * #PF error code (protection) or 0 when allowed. */
uint32_t walk_check_perms(uint8_t perms, const struct mem_access *a);
/* Error-code bits that describe the access itself (W, U, I). */
uint32_t walk_access_pfec(const struct mem_access *a);

#endif

/*
 * walk.h - the hardware 1D page walker, shared by native mode (walking the
 * guest's own tables, gPA == hPA) and shadow mode (walking shadow tables in
 * host memory).
 *
 * It records, as data, the table address, index, entry address and entry of
 * every level it reads, and either the leaf it found or the fault. It sets A
 * on every entry of a successful walk and D on the leaf of a write. On a
 * fault it sets no A/D bit.
 *
 * This header holds the one definition of access rights: what an entry
 * grants (gpte_perms), how levels combine (perms_combine), and which
 * combined rights allow an access under CR0.WP, CR4.SMEP, CR4.SMAP with
 * EFLAGS.AC and EFER.NXE (rights_allow, precomputed per vCPU by
 * paging_rights_compute). Every walker (walk1d, the shadow VMM's software
 * walk, nested's 2D walk) and the TLB-hit check use it.
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

/*
 * May an access of 'kind' at CPL 3 ('user') or CPL 0, with EFLAGS.AC = ac,
 * use a translation whose combined rights are 'perms' (TLBF_W | TLBF_U |
 * TLBF_NX), under controls c? SDM Vol. 3A §4.6.1. A user page is one with
 * U at every level.
 *   user access   only user pages; a write needs W; a fetch needs no NX;
 *   supervisor    read: a user page only without SMAP, or with AC set;
 *                 write: as a read, and W unless CR0.WP is clear;
 *                 fetch: no NX, and not a user page when SMEP is set.
 * TLBF_NX is honoured whatever NXE says: under NXE = 0 no guest entry may
 * carry bit 63 (it is reserved), so NX can only come from EPT (X clear) or
 * from a shadow page, which the hardware walks with NXE = 1.
 */
static inline bool rights_allow(const struct paging_ctl *c, bool ac, uint8_t perms,
				enum access_kind kind, bool user)
{
	bool upage = (perms & TLBF_U) != 0;
	if (user) {
		if (!upage)
			return false;
		if (kind == ACC_WRITE)
			return (perms & TLBF_W) != 0;
		return kind != ACC_FETCH || !(perms & TLBF_NX);
	}
	if (kind == ACC_FETCH)
		return !(perms & TLBF_NX) && !(upage && c->smep);
	if (upage && c->smap && !ac)
		return false;
	return kind != ACC_WRITE || !c->wp || (perms & TLBF_W);
}

/* Fill *r for controls c and EFLAGS.AC = ac. */
void paging_rights_compute(const struct paging_ctl *c, bool ac, struct paging_rights *r);

/* Permissions check of a combined (W, U, NX) against an access under
 * rights r; returns the #PF error code (protection) or 0 when allowed. */
static inline uint32_t walk_check_perms(const struct paging_rights *r, uint8_t perms,
					const struct mem_access *a);
/* Error-code bits that describe the access itself (W, U, and I when NXE or
 * SMEP is on, SDM Vol. 3A §4.7). */
static inline uint32_t walk_access_pfec(const struct paging_rights *r, const struct mem_access *a)
{
	uint32_t ec = 0;
	if (a->kind == ACC_WRITE)
		ec |= PFEC_W;
	if (a->user)
		ec |= PFEC_U;
	if (a->kind == ACC_FETCH && r->fetch_pfec)
		ec |= PFEC_I;
	return ec;
}
static inline uint32_t walk_check_perms(const struct paging_rights *r, uint8_t perms,
					const struct mem_access *a)
{
	if ((r->ok[a->kind][a->user] >> ((perms >> 1) & 7)) & 1)
		return 0;
	return PFEC_P | walk_access_pfec(r, a);
}
/*
 * Protection keys (SDM Vol. 3A §4.6.2, KVM's permission_fault()): with
 * CR4.PKE, a data access to a user-mode address (U at every level) with key
 * 'pkey' is denied when PKRU's AD bit of the key is set, or for a write when
 * its WD bit is set and the access is at CPL 3 or CR0.WP = 1 (r->pk_mask).
 * Fetches and supervisor-mode addresses are never checked. Returns PFEC_PK
 * or 0.
 */
static inline uint32_t walk_check_pk(const struct paging_rights *r, uint32_t pkru, uint8_t perms,
				     uint8_t pkey, const struct mem_access *a)
{
	if (a->kind == ACC_FETCH || !(perms & TLBF_U))
		return 0;
	unsigned bits = (pkru >> (2u * (pkey & 15u))) & 3u;
	return (bits & r->pk_mask[a->kind == ACC_WRITE][a->user]) ? PFEC_PK : 0;
}
/* The rights check of a walk that reached its leaf: walk_check_perms(), and
 * protection keys on top. A key violation sets PFEC_PK whether or not the
 * other rights deny the access too, as the SDM's §4.7 defines the PK bit. */
static inline uint32_t walk_check_access(const struct paging_rights *r, uint32_t pkru,
					 uint8_t perms, uint64_t leaf, const struct mem_access *a)
{
	uint32_t ec = walk_check_perms(r, perms, a);
	uint32_t pk = walk_check_pk(r, pkru, perms, gpte_pkey(leaf), a);
	if (pk)
		ec |= PFEC_P | walk_access_pfec(r, a) | pk;
	return ec;
}
/* A present entry with a reserved bit set (KVM's is_rsvd_bits_set()): the
 * walk stops there with PFEC_P | PFEC_RSVD. */
static inline bool gpte_rsvd(const struct paging_rights *r, uint64_t e)
{
	return (e & r->rsvd) != 0;
}

#endif

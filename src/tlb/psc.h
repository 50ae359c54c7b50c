/*
 * psc.h - paging-structure caches that shorten 1D walks (Intel SDM Vol. 3A
 * §4.10.3): a PML5E/PML4E/PDPTE/PDE cache, each small and fully associative.
 *
 * An entry at level L caches the non-leaf entry of a walk at table level L
 * for the linear-address bits above level L-1: its tag is
 * va[56:level_shift(L)]. It stores the physical address of the table at
 * level L-1 and the permissions accumulated down to it. A walk looks for the
 * lowest cached level and resumes below it, so a PDE-cache hit leaves one
 * reference (the PTE) for a 4K page.
 *
 * Used by the native walker and by the hardware walk of shadow tables. The
 * nested mode has its own 2D page-walk cache and nested TLB.
 *
 * Invariants:
 *   - entries are tagged with (vpid, pcid) and never match another tag;
 *   - an entry is never filled for a leaf (PS set or level 1).
 */
#ifndef VMMU_PSC_H
#define VMMU_PSC_H

#include "../core/types.h"

struct psc_entry {
	uint64_t tag;        /* va >> level_shift(level), 57 bits */
	uint64_t next_table; /* physical address of the table at level - 1 */
	uint32_t stamp;
	uint16_t vpid, pcid;
	uint8_t perms;       /* TLBF_W | TLBF_U | TLBF_NX accumulated */
	bool valid;
};

struct psc {
	struct psc_entry *lvl[MAX_LEVELS + 1]; /* index = level of the cached entry (2..5) */
	uint32_t n[MAX_LEVELS + 1];            /* 0 = no cache at that level */
	uint32_t clock;
	uint64_t hits, misses, fills, flushes;
};

/* n[level] entries for levels 2..5 (0 disables that level). Returns 0 or -1. */
int psc_init(struct psc *p, const uint32_t n[MAX_LEVELS + 1]);
void psc_destroy(struct psc *p);

/*
 * Find the lowest level L in [2, top] with a cached entry for va. On a hit,
 * *table gets the physical address of the level L-1 table, *perms the
 * accumulated permissions, and L is returned. Returns 0 on a miss.
 */
int psc_lookup(struct psc *p, gva_t va, int top, uint16_t vpid, uint16_t pcid,
	       uint64_t *table, uint8_t *perms);
void psc_insert(struct psc *p, gva_t va, int level, uint16_t vpid, uint16_t pcid,
		uint64_t next_table, uint8_t perms);

void psc_flush_all(struct psc *p);
void psc_flush_vpid(struct psc *p, uint16_t vpid);
void psc_flush_pcid(struct psc *p, uint16_t vpid, uint16_t pcid);
/* Drop every entry whose address range covers va (INVLPG). */
void psc_flush_addr(struct psc *p, uint16_t vpid, gva_t va);

#endif

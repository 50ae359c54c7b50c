/*
 * psc.c - the 1D paging-structure caches: one small, fully associative,
 * LRU array per table level 2..5 (PDE, PDPTE, PML4E and PML5E caches).
 *
 * An entry at level L is tagged by va[56:level_shift(L)] and by (vpid,
 * pcid); it covers every address whose bits from level_shift(L) up are
 * equal, that is 2M of linear space at level 2, 1G at level 3, 512G at
 * level 4 and 256T at level 5. A lookup tries the levels from 2 upward and
 * stops at the first hit, because the lowest cached level leaves the fewest
 * references to make.
 *
 * LRU: p->clock advances on every hit and fill and the entry touched takes
 * its value as stamp; a full level evicts its smallest stamp. When the
 * 32-bit clock is about to wrap, each level is renumbered 1..n in LRU order,
 * so the order stays exact however long the run.
 *
 * Counters: hits and misses count psc_lookup() calls; fills counts entries
 * written by psc_insert(); flushes counts flush calls of any kind.
 *
 * Invariants:
 *   - p->lvl[L] is NULL and p->n[L] is 0 for L < 2 and for disabled levels;
 *   - within one level, (tag, vpid, pcid) is present at most once;
 *   - an invalid entry matches nothing;
 *   - perms holds only TLBF_W, TLBF_U and TLBF_NX;
 *   - the stamps of valid entries are distinct within a level and never
 *     exceed p->clock.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "psc.h"
#include "../core/pte.h"

/* ---- private helpers ---- */

#define PSC_VA_BITS 57
#define PSC_VA_MASK ((UINT64_C(1) << PSC_VA_BITS) - 1)
#define PSC_MIN_LEVEL LVL_PD
#define PSC_PERMS (TLBF_W | TLBF_U | TLBF_NX)
/* Scratch bit in perms, used only while the clock is renumbered. */
#define PSC_MARK 0x80
static_assert((PSC_MARK & PSC_PERMS) == 0, "PSC_MARK must not collide with a permission");

static inline uint64_t psc_tag(gva_t va, int level)
{
	return (va & PSC_VA_MASK) >> level_shift(level);
}

static inline bool psc_match(const struct psc_entry *e, uint64_t tag, uint16_t vpid, uint16_t pcid)
{
	return e->valid && e->tag == tag && e->vpid == vpid && e->pcid == pcid;
}

/*
 * Give the valid entries of one level the stamps 1..k in LRU order (ties
 * broken by index; PSC_MARK tells the entries already ranked) and raise
 * *top to the largest stamp given.
 */
static void level_renumber(struct psc_entry *a, uint32_t n, uint32_t *top)
{
	for (uint32_t rank = 1;; rank++) {
		struct psc_entry *min = NULL;

		for (uint32_t i = 0; i < n; i++) {
			if (!a[i].valid || (a[i].perms & PSC_MARK))
				continue;
			if (!min || a[i].stamp < min->stamp)
				min = &a[i];
		}
		if (!min)
			break;
		min->stamp = rank;
		min->perms |= PSC_MARK;
		if (rank > *top)
			*top = rank;
	}
	for (uint32_t i = 0; i < n; i++)
		a[i].perms &= (uint8_t)~PSC_MARK;
}

/* The next LRU clock value: strictly greater than every stamp in use. */
static inline uint32_t psc_tick(struct psc *p)
{
	if (unlikely(p->clock == UINT32_MAX)) {
		uint32_t top = 0;

		for (int l = PSC_MIN_LEVEL; l <= MAX_LEVELS; l++)
			level_renumber(p->lvl[l], p->n[l], &top);
		p->clock = top;
	}
	return ++p->clock;
}

/* Which entries a flush drops. */
struct psc_filter {
	bool all;	 /* every entry */
	bool match_pcid; /* only entries of pcid (else any pcid of vpid) */
	bool match_addr; /* only entries whose range covers va */
	uint16_t vpid, pcid;
	gva_t va;
};

static void psc_flush_filter(struct psc *p, const struct psc_filter *f)
{
	p->flushes++;
	for (int l = PSC_MIN_LEVEL; l <= MAX_LEVELS; l++) {
		uint64_t tag = psc_tag(f->va, l);

		for (uint32_t i = 0; i < p->n[l]; i++) {
			struct psc_entry *e = &p->lvl[l][i];

			if (!e->valid)
				continue;
			if (!f->all) {
				if (e->vpid != f->vpid)
					continue;
				if (f->match_pcid && e->pcid != f->pcid)
					continue;
				if (f->match_addr && e->tag != tag)
					continue;
			}
			memset(e, 0, sizeof(*e));
		}
	}
}

/* ---- API ---- */

/*
 * Allocate n[L] entries for each level L in 2..5; n[L] = 0 disables that
 * level. n[0] and n[1] must be 0: level 1 entries are leaves, which belong
 * in the TLB. On failure nothing stays allocated and *p is zeroed.
 */
int psc_init(struct psc *p, const uint32_t n[MAX_LEVELS + 1])
{
	memset(p, 0, sizeof(*p));
	if (n[0] != 0 || n[1] != 0)
		return -1;
	for (int l = PSC_MIN_LEVEL; l <= MAX_LEVELS; l++) {
		if (n[l] == 0)
			continue;
		p->lvl[l] = calloc(n[l], sizeof(struct psc_entry));
		if (!p->lvl[l]) {
			psc_destroy(p);
			return -1;
		}
		p->n[l] = n[l];
	}
	return 0;
}

void psc_destroy(struct psc *p)
{
	for (int l = 0; l <= MAX_LEVELS; l++)
		free(p->lvl[l]);
	memset(p, 0, sizeof(*p));
}

/*
 * Levels above MAX_LEVELS are not searched; top < 2 always misses. Only an
 * entry of exactly (vpid, pcid) hits: the paging-structure caches have no
 * global entries.
 */
int psc_lookup(struct psc *p, gva_t va, int top, uint16_t vpid, uint16_t pcid, uint64_t *table,
	       uint8_t *perms)
{
	if (top > MAX_LEVELS)
		top = MAX_LEVELS;
	for (int l = PSC_MIN_LEVEL; l <= top; l++) {
		uint64_t tag = psc_tag(va, l);

		for (uint32_t i = 0; i < p->n[l]; i++) {
			struct psc_entry *e = &p->lvl[l][i];

			if (psc_match(e, tag, vpid, pcid)) {
				e->stamp = psc_tick(p);
				*table = e->next_table;
				*perms = e->perms;
				p->hits++;
				return l;
			}
		}
	}
	p->misses++;
	return 0;
}

/*
 * Cache the level 'level' entry of a walk of va: next_table is the physical
 * address of the level-1 table it points to, perms the TLBF_W/U/NX rights
 * accumulated from the top down to it (other bits are dropped). An entry for
 * the same (tag, vpid, pcid) is overwritten, else an empty slot is used, else
 * the least recently used one. A level without a cache (n = 0, or outside
 * 2..5) ignores the call. Caller's duty: the entry is not a leaf (PS clear).
 */
void psc_insert(struct psc *p, gva_t va, int level, uint16_t vpid, uint16_t pcid,
		uint64_t next_table, uint8_t perms)
{
	if (level < PSC_MIN_LEVEL || level > MAX_LEVELS || p->n[level] == 0)
		return;

	uint64_t tag = psc_tag(va, level);
	struct psc_entry *a = p->lvl[level];
	struct psc_entry *slot = NULL, *empty = NULL, *lru = NULL;

	for (uint32_t i = 0; i < p->n[level]; i++) {
		struct psc_entry *e = &a[i];

		if (psc_match(e, tag, vpid, pcid)) {
			slot = e;
			break;
		}
		if (!e->valid) {
			if (!empty)
				empty = e;
		} else if (!lru || e->stamp < lru->stamp) {
			lru = e;
		}
	}
	if (!slot)
		slot = empty ? empty : lru;
	*slot = (struct psc_entry){
	    .tag = tag,
	    .next_table = next_table,
	    .stamp = psc_tick(p),
	    .vpid = vpid,
	    .pcid = pcid,
	    .perms = (uint8_t)(perms & PSC_PERMS),
	    .valid = true,
	};
	p->fills++;
}

void psc_flush_all(struct psc *p)
{
	const struct psc_filter f = {.all = true};

	psc_flush_filter(p, &f);
}

void psc_flush_vpid(struct psc *p, uint16_t vpid)
{
	const struct psc_filter f = {.vpid = vpid};

	psc_flush_filter(p, &f);
}

void psc_flush_pcid(struct psc *p, uint16_t vpid, uint16_t pcid)
{
	const struct psc_filter f = {.vpid = vpid, .pcid = pcid, .match_pcid = true};

	psc_flush_filter(p, &f);
}

/* Any pcid of vpid: INVLPG drops the paging-structure entries of every PCID. */
void psc_flush_addr(struct psc *p, uint16_t vpid, gva_t va)
{
	const struct psc_filter f = {.vpid = vpid, .match_addr = true, .va = va};

	psc_flush_filter(p, &f);
}

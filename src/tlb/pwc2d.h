/*
 * pwc2d.h - the two-dimensional page-walk cache of nested paging.
 *
 * After Bhargava, Serebrin, Spadini and Manne, "Accelerating Two-Dimensional
 * Page Walks for Virtualized Systems" (ASPLOS'08): one small cache of the
 * page-table entries that a 2D walk reads, tagged by the host-physical
 * address of the entry. Because guest-table entries and EPT entries both
 * live at host-physical addresses, one cache serves both dimensions of the
 * walk. A hit gives the walker the entry's value, and the reference does not
 * go to memory.
 *
 * Entries belong to one of two dimensions, which the flushes treat apart
 * (Intel SDM Vol. 3C §29.4: guest-physical versus combined mappings):
 *   PWC_HOST   an EPT entry; tagged by (hpa, EP4TA). A guest-physical
 *              mapping: only INVEPT drops it.
 *   PWC_GUEST  a non-leaf guest-table entry; tagged by (hpa, VPID, PCID,
 *              EP4TA). A combined paging-structure entry: INVLPG, MOV to
 *              CR3, guest TLB flushes, INVVPID, INVEPT and, with VPID off,
 *              every VM entry and exit drop it.
 * The cache never walks and never reads memory; the walker decides what to
 * insert and when.
 *
 * Organisation: fully associative, n entries, LRU by a clock stamped on
 * every hit and fill. An index (faidx.h) hashes the keys and keeps the valid
 * entries in stamp order, so a lookup visits one hash chain and a fill finds
 * its victim (the lowest empty entry, else the smallest stamp) without a
 * scan; the result is that of a scan of the entries in index order.
 *
 * Invariants:
 *   - at most one valid entry per (dim, hpa, tag);
 *   - a valid entry's key is (hpa | dim << 1 | 1), an invalid one's is 0;
 *   - idx holds exactly the valid entries, each under its key, in the order
 *     of their stamps;
 *   - n == 0 disables the cache: every lookup misses, inserts do nothing;
 *   - the caller inserts only present entries, with the A flag the walker
 *     has already set in memory, so a hit never needs to write memory for A.
 */
#ifndef VMMU_PWC2D_H
#define VMMU_PWC2D_H

#include "../core/types.h"
#include "faidx.h"

enum pwc_dim { PWC_GUEST = 0, PWC_HOST = 1 };

struct pwc2d_entry {
	uint64_t value; /* the entry as the walker last saw it (A set) */
	uint64_t ep4ta; /* EPTP bits 51:12 the entry was cached under */
	uint64_t stamp; /* LRU clock at the last hit or fill */
	uint16_t vpid;	/* PWC_GUEST only */
	uint16_t pcid;	/* PWC_GUEST only */
	uint8_t level;	/* table level of the entry (1..5) */
	uint8_t dim;	/* enum pwc_dim */
};

struct pwc2d {
	uint64_t *key;	       /* n keys: hpa | dim << 1 | 1; 0 = empty */
	struct pwc2d_entry *e; /* n entries, parallel to key */
	uint32_t n;
	struct faidx idx; /* hash of the keys, LRU order, empty entries */
	uint64_t clock;	  /* 64 bits: never wraps in a run */
	uint64_t hits, misses, fills, flushes, dropped;
};

/* Allocate n entries (0 = disabled). Returns 0, or -1 when out of memory. */
int pwc2d_init(struct pwc2d *c, uint32_t n);
void pwc2d_destroy(struct pwc2d *c);

/* ---- lookups (inline: a 2D walk makes one at almost every reference) ---- */

static inline __attribute__((always_inline)) uint64_t pwc2d_key(enum pwc_dim dim, hpa_t hpa)
{
	return (hpa.v & ~UINT64_C(7)) | ((uint64_t)dim << 1) | 1;
}

static inline __attribute__((always_inline)) bool pwc2d_tag_match(const struct pwc2d_entry *e, enum pwc_dim dim, uint16_t vpid,
				   uint16_t pcid, uint64_t ep4ta)
{
	if (e->ep4ta != ep4ta)
		return false;
	return dim == PWC_HOST || (e->vpid == vpid && e->pcid == pcid);
}

/*
 * The slot of the valid entry for (dim, hpa) under the tag, or -1: what a
 * scan of the slots in index order finds. Counts nothing, changes nothing.
 */
static inline __attribute__((always_inline)) int pwc2d_find(const struct pwc2d *c, enum pwc_dim dim, hpa_t hpa, uint16_t vpid,
			     uint16_t pcid, uint64_t ep4ta)
{
	uint64_t k = pwc2d_key(dim, hpa);
	int found = -1;

	if (c->n == 0)
		return -1;
	/* At most one entry matches (see the invariants); the lowest index
	 * wins anyway, as in a scan. */
	for (uint32_t s = faidx_first(&c->idx, k); s; s = c->idx.chain[s - 1]) {
		uint32_t i = s - 1;
		if (c->key[i] == k && pwc2d_tag_match(&c->e[i], dim, vpid, pcid, ep4ta) &&
		    (found < 0 || i < (uint32_t)found))
			found = (int)i;
	}
	return found;
}

/*
 * Look up the entry at host-physical address hpa in dimension dim. For
 * PWC_GUEST the (vpid, pcid, ep4ta) tag must match; for PWC_HOST only
 * ep4ta. A hit counts in hits, becomes the most recently used entry, puts
 * the cached entry in *value and returns its slot; a miss counts in misses
 * and returns -1. The slot stays the entry's until the cache is next
 * changed (a fill or a flush), so that a fill of the same entry right after
 * can pass it to pwc2d_fill() instead of finding it again.
 */
static inline __attribute__((always_inline)) int pwc2d_lookup_slot(struct pwc2d *c, enum pwc_dim dim, hpa_t hpa, uint16_t vpid,
				    uint16_t pcid, uint64_t ep4ta, uint64_t *value)
{
	int i = pwc2d_find(c, dim, hpa, vpid, pcid, ep4ta);
	if (i < 0) {
		c->misses++;
		return -1;
	}
	c->hits++;
	c->e[i].stamp = ++c->clock;
	faidx_touch(&c->idx, (uint32_t)i);
	*value = c->e[i].value;
	return i;
}

/* The same, true on a hit. */
static inline __attribute__((always_inline)) bool pwc2d_lookup(struct pwc2d *c, enum pwc_dim dim, hpa_t hpa, uint16_t vpid,
				uint16_t pcid, uint64_t ep4ta, uint64_t *value)
{
	return pwc2d_lookup_slot(c, dim, hpa, vpid, pcid, ep4ta, value) >= 0;
}

/* Insert or refresh the entry at hpa. vpid and pcid are ignored for PWC_HOST. */
void pwc2d_insert(struct pwc2d *c, enum pwc_dim dim, hpa_t hpa, int level, uint16_t vpid,
		  uint16_t pcid, uint64_t ep4ta, uint64_t value);
/*
 * pwc2d_insert() when the caller already knows what pwc2d_find() returns
 * for the entry: 'slot' (-1 when there is none). Caller's duty: the cache
 * has not changed since the lookup that gave the slot, and for PWC_HOST
 * vpid and pcid are 0, as pwc2d_insert() makes them. Inline: the 2D walker
 * fills about three entries a walk, with constant dim, vpid and pcid.
 */
static inline __attribute__((always_inline)) void pwc2d_fill(struct pwc2d *c, int i, enum pwc_dim dim, hpa_t hpa, int level,
			      uint16_t vpid, uint16_t pcid, uint64_t ep4ta, uint64_t value)
{
	if (c->n == 0)
		return;
	if (i < 0) {
		/* The lowest empty entry, else the least recently used one. */
		uint32_t victim = faidx_victim(&c->idx);
		uint64_t k = pwc2d_key(dim, hpa);
		if (c->key[victim])
			faidx_replace(&c->idx, victim, k);
		else
			faidx_add(&c->idx, victim, k);
		i = (int)victim;
		c->key[i] = k;
	} else {
		faidx_touch(&c->idx, (uint32_t)i);
	}
	c->fills++;
	c->e[i] = (struct pwc2d_entry){.value = value,
				       .ep4ta = ep4ta,
				       .stamp = ++c->clock,
				       .vpid = vpid,
				       .pcid = pcid,
				       .level = (uint8_t)level,
				       .dim = (uint8_t)dim};
}

/* Flushes; each returns the number of valid entries it dropped. */
uint64_t pwc2d_flush_all(struct pwc2d *c);
/* Both dimensions, entries cached under ep4ta (INVEPT single-context). */
uint64_t pwc2d_flush_ep4ta(struct pwc2d *c, uint64_t ep4ta);
/* Guest dimension of one VPID, every PCID (INVVPID types 0, 1, 3;
 * INVPCID all-context; VPID-off world switch for VPID 0). */
uint64_t pwc2d_flush_guest_vpid(struct pwc2d *c, uint16_t vpid);
/* Guest dimension of (vpid, pcid) (MOV to CR3, INVLPG, per-PCID flush). */
uint64_t pwc2d_flush_guest_pcid(struct pwc2d *c, uint16_t vpid, uint16_t pcid);
/* Guest dimension of every VPID but 0 (INVVPID type 2). */
uint64_t pwc2d_flush_guest_nonzero(struct pwc2d *c);

/* Valid entries of a dimension (tests, explain). */
uint64_t pwc2d_count(const struct pwc2d *c, enum pwc_dim dim);

#endif

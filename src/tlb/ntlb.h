/*
 * ntlb.h - the nested TLB: a cache of guest-physical to host-physical
 * translations that lets the 2D walker skip a whole nested (EPT) walk.
 *
 * After Bhargava, Serebrin, Spadini and Manne (ASPLOS'08). Each entry holds
 * the result of one completed EPT walk: the gPA page, the hPA it maps to, the
 * size of the EPT leaf (4K, 2M or 1G), the rights granted by every level of
 * that walk and whether the leaf's EPT dirty flag was already set. In Intel
 * SDM terms (Vol. 3C §29.4.1) these are guest-physical mappings, tagged by
 * the EP4TA (EPTP bits 51:12): INVEPT drops them; INVVPID, INVLPG, MOV to
 * CR3 and VM entry or exit do not.
 *
 * The nested TLB is mechanism only: it never walks. The walker looks an
 * address up, and after a completed EPT walk inserts its result.
 *
 * Organisation: fully associative, n entries, LRU by a 64-bit clock. Keys
 * and masks sit in their own arrays. An index (faidx.h) hashes each valid
 * entry's key and keeps the valid entries in stamp order, so a lookup
 * visits one hash chain per page size in use and a fill finds its victim
 * (the lowest empty entry, else the smallest stamp) without a scan; the
 * result is that of a scan of the entries in index order.
 *
 * Invariants:
 *   - a valid entry's key is its gPA base | 1, an invalid one's is 0;
 *   - idx holds exactly the valid entries, each under its key, in the order
 *     of their stamps; nsize[s] counts the valid entries of size s, and
 *     bit s of sizes is set exactly when nsize[s] > 0;
 *   - an address is covered by at most one valid entry per EP4TA;
 *   - n == 0 disables the cache: every lookup misses, inserts do nothing;
 *   - a valid entry equals what a fresh EPT walk would return, unless an
 *     INVEPT is pending (the VMM's duty after it changes an EPT entry).
 */
#ifndef VMMU_NTLB_H
#define VMMU_NTLB_H

#include "../core/types.h"
#include "faidx.h"

struct ntlb_entry {
	gpa_t gpa;	/* base of the guest-physical page */
	hpa_t hpa;	/* base of the host-physical page */
	uint64_t ep4ta; /* EPTP bits 51:12 the entry was filled under */
	uint64_t stamp; /* LRU clock at the last hit or fill */
	uint8_t size;	/* enum page_size of the EPT leaf */
	uint8_t rights; /* EPTE_R | EPTE_W | EPTE_X granted by every level */
	bool dirty;	/* the EPT leaf's D flag was set (or EPT A/D is off) */
};

struct ntlb {
	uint64_t *key;	/* n keys: gpa base | 1; 0 = empty */
	uint64_t *mask; /* n masks: ~(page bytes - 1) of each entry */
	struct ntlb_entry *e;
	uint32_t n;
	struct faidx idx;	 /* hash of the keys, LRU order, empty entries */
	uint32_t nsize[PG_NR]; /* valid entries of each page size */
	unsigned sizes;	       /* bit s set: nsize[s] > 0 */
	uint64_t clock;
	uint64_t hits, misses, fills, flushes, dropped;
};

/* Allocate n entries (0 = disabled). Returns 0, or -1 when out of memory. */
int ntlb_init(struct ntlb *t, uint32_t n);
void ntlb_destroy(struct ntlb *t);

/* ---- lookups (inline: a 2D walk makes one per nested walk) ---- */

static inline __attribute__((always_inline)) uint64_t ntlb_mask(enum page_size size)
{
	return ~(page_bytes(size) - 1);
}

/* The lowest slot whose entry covers gpa under ep4ta, or -1: what a scan of
 * the entries in index order finds. Counts nothing, changes nothing. */
static inline __attribute__((always_inline)) int ntlb_find(const struct ntlb *t, gpa_t gpa, uint64_t ep4ta)
{
	int found = -1;

	for (unsigned bits = t->sizes; bits; bits &= bits - 1) {
		unsigned s = (unsigned)__builtin_ctz(bits);
		uint64_t m = ntlb_mask((enum page_size)s), k = (gpa.v & m) | 1;
		for (uint32_t c = faidx_first(&t->idx, k); c; c = t->idx.chain[c - 1]) {
			uint32_t i = c - 1;
			if (t->key[i] == k && t->mask[i] == m && t->e[i].ep4ta == ep4ta &&
			    (found < 0 || i < (uint32_t)found))
				found = (int)i;
		}
	}
	return found;
}

/*
 * The slot of the entry that translates gpa under ep4ta, or -1. Counts a
 * hit or miss and refreshes the entry's LRU stamp. Rights are the caller's
 * to check. The slot stays the entry's until the nested TLB next changes,
 * so that a fill for the same gpa right after can pass it to ntlb_fill().
 */
static inline __attribute__((always_inline)) int ntlb_lookup_slot(struct ntlb *t, gpa_t gpa, uint64_t ep4ta)
{
	int i = ntlb_find(t, gpa, ep4ta);
	if (i < 0) {
		t->misses++;
		return -1;
	}
	t->hits++;
	t->e[i].stamp = ++t->clock;
	faidx_touch(&t->idx, (uint32_t)i);
	return i;
}

/* The entry that translates gpa under ep4ta, or NULL (ntlb_lookup_slot()). */
static inline struct ntlb_entry *ntlb_lookup(struct ntlb *t, gpa_t gpa, uint64_t ep4ta)
{
	int i = ntlb_lookup_slot(t, gpa, ep4ta);
	return i < 0 ? NULL : &t->e[i];
}

/*
 * An entry of size 'from' (PG_NR: an empty one) becomes one of size 'to':
 * nsize[] and sizes follow. Most fills replace an entry of the same size,
 * which changes no count.
 */
static inline __attribute__((always_inline)) void ntlb_count_size(struct ntlb *t, unsigned from, unsigned to)
{
	if (from == to)
		return;
	if (from < PG_NR && --t->nsize[from] == 0)
		t->sizes &= ~(1u << from);
	if (to < PG_NR && t->nsize[to]++ == 0)
		t->sizes |= 1u << to;
}

/* Insert the translation of the page of 'size' that contains gpa; replaces
 * an entry for the same page. hpa is the host page's base. */
void ntlb_insert(struct ntlb *t, gpa_t gpa, hpa_t hpa, enum page_size size, uint64_t ep4ta,
		 uint8_t rights, bool dirty);
/* ntlb_insert() when the caller knows what ntlb_find(t, gpa, ep4ta) returns:
 * 'slot' (-1 for none). Caller's duty: the nested TLB has not changed since
 * the lookup of gpa that gave the slot. Inline: the 2D walker fills after
 * every nested walk it completes. */
static inline __attribute__((always_inline)) void ntlb_fill(struct ntlb *t, int i, gpa_t gpa, hpa_t hpa, enum page_size size,
			     uint64_t ep4ta, uint8_t rights, bool dirty)
{
	if (t->n == 0)
		return;
	uint64_t m = ntlb_mask(size);
	uint64_t k = (gpa.v & m) | 1;
	if (i < 0) {
		/* The lowest empty entry, else the least recently used one. */
		uint32_t victim = faidx_victim(&t->idx);
		if (t->key[victim]) {
			ntlb_count_size(t, t->e[victim].size, size);
			faidx_replace(&t->idx, victim, k);
		} else {
			ntlb_count_size(t, PG_NR, size);
			faidx_add(&t->idx, victim, k);
		}
		i = (int)victim;
	} else {
		/* The entry that covers gpa is replaced in place. */
		faidx_rekey(&t->idx, (uint32_t)i, k);
		faidx_touch(&t->idx, (uint32_t)i);
		ntlb_count_size(t, t->e[i].size, size);
	}
	t->fills++;
	t->key[i] = k;
	t->mask[i] = m;
	t->e[i] = (struct ntlb_entry){.gpa = GPA(gpa.v & m),
				      .hpa = HPA(hpa.v & m),
				      .ep4ta = ep4ta,
				      .stamp = ++t->clock,
				      .size = (uint8_t)size,
				      .rights = rights,
				      .dirty = dirty};
}

/* Flushes; each returns the number of valid entries dropped. */
uint64_t ntlb_flush_all(struct ntlb *t);
uint64_t ntlb_flush_ep4ta(struct ntlb *t, uint64_t ep4ta);

uint64_t ntlb_count_valid(const struct ntlb *t);

#endif

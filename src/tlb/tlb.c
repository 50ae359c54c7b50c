/*
 * tlb.c - the software TLB: four set-associative arrays (L1 data 4K, L1 data
 * 2M/1G, L1 instruction, unified L2), tagged with (VPID, PCID), LRU by a
 * per-TLB clock.
 *
 * The TLB is mechanism only: it stores what tlb_insert() gives it and drops
 * what the flush calls name. It never walks a table.
 *
 * Where an entry lives:
 *   l1d        data translations of 4K pages;
 *   l1d_large  data translations of 2M and 1G pages;
 *   l1i        fetch translations of every size (4K is probed first, so a
 *              code stream in 4K pages costs one set probe);
 *   l2         every translation, every size; an L2 hit copies the entry
 *              into the L1 array the lookup would have used.
 *
 * Set index. An entry of size s sits in set (vpn & set_mask) of its array,
 * where vpn = canonical va >> page_shift(s). The low VPN bits are the ones
 * that change between neighbouring pages, so a sequential or strided stream
 * spreads over every set, which is what the L1 DTLBs of current x86 cores
 * do. A hash would spread pathological strides (a multiple of sets pages)
 * better, but it would make the set of an address harder to predict in the
 * tests and in the explainer, and the workloads do not rely on such strides.
 * Because an entry can only be in the set of its own (vpn, size), a lookup
 * or an address flush probes one set per candidate size, never a whole
 * array.
 *
 * LRU. t->clock advances on every hit and fill and the entry touched takes
 * its value as stamp (except a hit on the entry stamped last, whose stamp
 * equals the clock: it already holds the largest stamp of its set, so the
 * order is the same without a new one); the victim of a full set is the
 * way with the smallest stamp. An L1 hit does not touch the L2 copy (the
 * L2 does not see L1 hits, as in hardware). The clock and the stamps are
 * 64 bits and never wrap (one tick per hit or fill: at 10^9 a second, 2^64
 * ticks take 584 years), so no renumbering is ever needed and a stamp
 * needs no check. A hit through the caller's L0 (tlb.h) stamps as the set
 * search's hit would; it may stamp the entry stamped last again, which
 * leaves every set's order as it was, so no victim changes.
 *
 * Invariants:
 *   - an entry with TLBF_VALID clear matches nothing and is counted nowhere;
 *   - nsize[s] of an array is the number of its valid entries of size s, so
 *     a lookup or an address flush skips the sizes an array holds none of;
 *   - a valid entry of size s sits in set (vpn & set_mask) of its array, and
 *     l1d holds only 4K entries, l1d_large only 2M and 1G entries;
 *   - within one set, at most one valid entry can match a lookup for a given
 *     (vpn, size, vpid, pcid), global entries included: tlb_insert() drops
 *     every entry that the new one would shadow or be shadowed by;
 *   - within one set, the stamps of valid entries are distinct, at least 1
 *     and at most t->clock; an empty entry is all zeroes, stamp 0 included
 *     (array_fill() finds its victim by the smallest stamp alone).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "tlb.h"

/* ---- private helpers ---- */

/* Linear addresses have at most 57 significant bits (LA57); the sign bits
 * above carry no information and are not part of the tag. */

static inline uint64_t va_vpn(gva_t va, unsigned size)
{
	return (va & TLB_VA_MASK) >> page_shift((enum page_size)size);
}

static inline struct tlb_entry *set_base(const struct tlb_array *a, uint64_t vpn)
{
	return a->e + (size_t)(vpn & a->set_mask) * a->ways;
}

static inline size_t array_len(const struct tlb_array *a)
{
	return (size_t)a->sets * a->ways;
}

/* True when a lookup for (vpn, size, vpid, pcid) may use e. */
static inline bool entry_match(const struct tlb_entry *e, uint64_t vpn, unsigned size,
			       uint16_t vpid, uint16_t pcid)
{
	return e->vpn == vpn && e->size == size && e->vpid == vpid && (e->flags & TLBF_VALID) &&
	       (e->pcid == pcid || (e->flags & TLBF_G));
}

/* Search 'ways' ways from e for (vpn, size, vpid, pcid). */
static inline __attribute__((always_inline)) struct tlb_entry *
set_find(struct tlb_entry *e, uint32_t ways, uint64_t vpn, unsigned size, uint16_t vpid,
	 uint16_t pcid)
{
#pragma GCC unroll 16
	for (uint32_t w = 0; w < ways; w++, e++)
		if (entry_match(e, vpn, size, vpid, pcid))
			return e;
	return NULL;
}

/* Probe the one set that can hold (vpn, size); unrolled for the default
 * 4-way L1 arrays and 12-way L2 (a miss compares every way's vpn). */
static inline struct tlb_entry *array_find(const struct tlb_array *a, uint64_t vpn, unsigned size,
					   uint16_t vpid, uint16_t pcid)
{
	struct tlb_entry *e = set_base(a, vpn);

	if (a->ways == 12)
		return set_find(e, 12, vpn, size, vpid, pcid);
	if (a->ways == 4)
		return set_find(e, 4, vpn, size, vpid, pcid);
	return set_find(e, a->ways, vpn, size, vpid, pcid);
}

/* Probe every page size, smallest first (arrays that hold several sizes). */
static inline struct tlb_entry *array_find_any(const struct tlb_array *a, gva_t va, uint16_t vpid,
					       uint16_t pcid, unsigned first)
{
	for (unsigned s = first; s < PG_NR; s++) {
		if (a->nsize[s] == 0)
			continue; /* no entry of this size: its set holds no match */
		struct tlb_entry *e = array_find(a, va_vpn(va, s), s, vpid, pcid);

		if (e)
			return e;
	}
	return NULL;
}

static inline void entry_clear(struct tlb_entry *e)
{
	memset(e, 0, sizeof(*e));
}

/* Drop a valid entry of a, keeping the per-size count. */
static inline void array_drop(struct tlb_array *a, struct tlb_entry *e)
{
	a->nsize[e->size]--;
	entry_clear(e);
}

/* The next LRU clock value: strictly greater than every stamp in use. */
static inline uint64_t tlb_tick(struct tlb *t)
{
	tlb_mru_forget(t); /* the stamp goes to another entry than the memo's */
	return ++t->clock;
}

/* Would e and the new entry n both match some lookup? (Same page, same
 * VPID, and the same PCID unless one of them is global.) */
static inline bool entry_conflicts(const struct tlb_entry *e, const struct tlb_entry *n)
{
	return (e->flags & TLBF_VALID) && e->vpn == n->vpn && e->size == n->size &&
	       e->vpid == n->vpid && (e->pcid == n->pcid || ((e->flags | n->flags) & TLBF_G));
}

/*
 * Put *n (stamp included) into 'set' of a: over the entry it conflicts
 * with, else into an empty way, else over the least recently used way
 * (counted as an eviction). Further conflicting entries are dropped so that
 * a lookup can match at most one entry. Returns the slot written. The full
 * scan, for a set where some way holds n's vpn (array_fill()).
 */
static struct tlb_entry *array_fill_scan(struct tlb *t, struct tlb_array *a,
					 struct tlb_entry *set, const struct tlb_entry *n)
{
	struct tlb_entry *slot = NULL, *empty = NULL, *lru = NULL;

	for (uint32_t w = 0; w < a->ways; w++) {
		struct tlb_entry *e = &set[w];

		if (entry_conflicts(e, n)) {
			if (slot) {
				tlb_l0_drop(t, e);
				array_drop(a, e);
			} else
				slot = e;
		} else if (!(e->flags & TLBF_VALID)) {
			if (!empty)
				empty = e;
		} else if (!lru || e->stamp < lru->stamp) {
			lru = e;
		}
	}
	if (!slot)
		slot = empty;
	if (!slot) {
		slot = lru;
		t->c.evictions++;
	}
	if (slot->flags & TLBF_VALID) {
		tlb_l0_drop(t, slot);
		a->nsize[slot->size]--;
	}
	*slot = *n;
	a->nsize[n->size]++;
	return slot;
}

/*
 * The way array_fill_scan() would choose in a set where no way holds vpn,
 * found with one compare of the vpn and one of the stamp per way; NULL when
 * some way holds vpn (it may conflict: the caller takes the full scan).
 * Why it is the same way: an empty way has stamp 0 (entry_clear() and
 * calloc() zero it) and a valid one a stamp >= 1 (the clock gives out 1
 * and up), distinct within the set. So the first
 * way of smallest stamp is the first empty way if there is one, else the
 * least recently used valid way; and with no way of vpn nothing conflicts.
 */
static inline __attribute__((always_inline)) struct tlb_entry *
set_victim(struct tlb_entry *set, uint32_t ways, uint64_t vpn)
{
	uint64_t min = set[0].stamp;
	uint32_t victim = 0;

	if (set[0].vpn == vpn)
		return NULL;
#pragma GCC unroll 16
	for (uint32_t w = 1; w < ways; w++) {
		if (unlikely(set[w].vpn == vpn))
			return NULL;
		if (set[w].stamp < min) {
			min = set[w].stamp;
			victim = w;
		}
	}
	return &set[victim];
}

/*
 * Put *n (stamp included) into its set of a: over the entry it conflicts
 * with, else into an empty way, else over the least recently used way
 * (counted as an eviction); see array_fill_scan(). A set with no way of the
 * same vpn (nearly every fill) takes set_victim(), unrolled for the default
 * 4-way L1 and 12-way L2.
 */
static struct tlb_entry *array_fill(struct tlb *t, struct tlb_array *a, const struct tlb_entry *n)
{
	struct tlb_entry *set = set_base(a, n->vpn);
	struct tlb_entry *slot;

	if (a->ways == 4)
		slot = set_victim(set, 4, n->vpn);
	else if (a->ways == 12)
		slot = set_victim(set, 12, n->vpn);
	else
		slot = set_victim(set, a->ways, n->vpn);
	if (unlikely(slot == NULL))
		return array_fill_scan(t, a, set, n);
	if (slot->flags & TLBF_VALID) {
		t->c.evictions++;
		tlb_l0_drop(t, slot);
		a->nsize[slot->size]--;
	}
	*slot = *n;
	a->nsize[n->size]++;
	return slot;
}

/* The L1 array that holds an entry of this size for this kind of access. */
static inline struct tlb_array *l1_for(struct tlb *t, enum access_kind kind, unsigned size)
{
	if (kind == ACC_FETCH)
		return &t->l1i;
	return size == PG_4K ? &t->l1d : &t->l1d_large;
}

/* Second half of tlb_lookup(): the L1 missed. */
static struct tlb_entry *tlb_lookup_l2(struct tlb *t, gva_t va, uint16_t vpid, uint16_t pcid,
				       enum access_kind kind)
{
	struct tlb_entry *e = array_find_any(&t->l2, va, vpid, pcid, PG_4K);

	if (!e) {
		t->c.misses++;
		return NULL;
	}
	t->c.hits++;
	t->c.l2_hits++;
	e->stamp = tlb_tick(t);
	return array_fill(t, l1_for(t, kind, e->size), e);
}

static int array_init(struct tlb_array *a, const struct tlb_geom *g)
{
	if (g->sets == 0 || (g->sets & (g->sets - 1)) != 0 || g->ways == 0)
		return -1;
	if ((uint64_t)g->sets * g->ways > SIZE_MAX / sizeof(struct tlb_entry))
		return -1;
	a->e = calloc((size_t)g->sets * g->ways, sizeof(struct tlb_entry));
	if (!a->e)
		return -1;
	a->sets = g->sets;
	a->ways = g->ways;
	a->set_mask = g->sets - 1;
	return 0;
}

static void array_destroy(struct tlb_array *a)
{
	free(a->e);
	memset(a, 0, sizeof(*a));
}

static uint64_t array_count_valid(const struct tlb_array *a)
{
	uint64_t n = 0;
	size_t len = array_len(a);

	for (size_t i = 0; i < len; i++)
		n += (a->e[i].flags & TLBF_VALID) != 0;
	return n;
}

/* Which entries a whole-array flush drops. */
struct flush_filter {
	bool all_vpids;	  /* ignore vpid */
	bool keep_vpid0;  /* all_vpids, except VPID 0 (the host) */
	bool match_pcid;  /* only entries of pcid */
	bool keep_global; /* spare TLBF_G entries */
	uint16_t vpid, pcid;
};

static inline bool filter_drops(const struct flush_filter *f, const struct tlb_entry *e)
{
	if (!(e->flags & TLBF_VALID))
		return false;
	if (f->all_vpids) {
		if (f->keep_vpid0 && e->vpid == 0)
			return false;
	} else if (e->vpid != f->vpid) {
		return false;
	}
	if (f->match_pcid && e->pcid != f->pcid)
		return false;
	if (f->keep_global && (e->flags & TLBF_G))
		return false;
	return true;
}

/*
 * Drop the entries f selects. The scan stops once it has seen every valid
 * entry (nsize[] counts them), and an array with none is not scanned: the
 * VMM's flushes often find a TLB that earlier flushes left nearly empty.
 */
static uint64_t array_flush(struct tlb_array *a, const struct flush_filter *f)
{
	uint64_t n = 0;
	uint64_t valid = 0;
	size_t len = array_len(a);

	for (int s = 0; s < PG_NR; s++)
		valid += a->nsize[s];
	for (size_t i = 0; valid && i < len; i++) {
		if (!(a->e[i].flags & TLBF_VALID))
			continue;
		valid--;
		if (filter_drops(f, &a->e[i])) {
			array_drop(a, &a->e[i]);
			n++;
		}
	}
	return n;
}

static uint64_t tlb_flush_filter(struct tlb *t, const struct flush_filter *f)
{
	uint64_t n = array_flush(&t->l1d, f) + array_flush(&t->l1d_large, f) +
		     array_flush(&t->l1i, f) + array_flush(&t->l2, f);

	tlb_mru_forget(t);
	tlb_l0_clear(t);

	t->c.entries_flushed += n;
	return n;
}

/* Drop the entries of sizes [first, last] in a that map va for (vpid, pcid). */
static uint64_t array_flush_addr(struct tlb_array *a, gva_t va, uint16_t vpid, uint16_t pcid,
				 bool any_pcid, unsigned first, unsigned last)
{
	uint64_t n = 0;

	for (unsigned s = first; s <= last; s++) {
		uint64_t vpn = va_vpn(va, s);
		struct tlb_entry *e = set_base(a, vpn);

		if (a->nsize[s] == 0)
			continue;
		for (uint32_t w = 0; w < a->ways; w++, e++) {
			if (entry_match(e, vpn, s, vpid, any_pcid ? e->pcid : pcid)) {
				array_drop(a, e);
				n++;
			}
		}
	}
	return n;
}

/* ---- API ---- */

/*
 * Allocate the four arrays from shape->l1d, l1d_large, l1i and l2. Each
 * geometry needs sets a non-zero power of two and ways >= 1. On failure
 * nothing stays allocated and *t is zeroed (tlb_destroy() is still safe).
 */
int tlb_init(struct tlb *t, const struct tlb_shape *shape)
{
	memset(t, 0, sizeof(*t));
	tlb_mru_forget(t);
	for (unsigned i = 0; i < TLB_L0_SLOTS; i++) {
		tlb_l0_empty(t, i);
		tlb_l0_fetch_empty(t, i);
	}
	if (array_init(&t->l1d, &shape->l1d) || array_init(&t->l1d_large, &shape->l1d_large) ||
	    array_init(&t->l1i, &shape->l1i) || array_init(&t->l2, &shape->l2)) {
		tlb_destroy(t);
		return -1;
	}
	return 0;
}

void tlb_destroy(struct tlb *t)
{
	array_destroy(&t->l1d);
	array_destroy(&t->l1d_large);
	array_destroy(&t->l1i);
	array_destroy(&t->l2);
	memset(t, 0, sizeof(*t));
}

/*
 * Hot path: one set probe for a 4K data or fetch hit, no allocation, no
 * indirect call. The returned entry stays valid until the next insert,
 * lookup or flush on t. Permissions are the caller's to check.
 */
struct tlb_entry *tlb_lookup_rest(struct tlb *t, gva_t va, uint16_t vpid, uint16_t pcid,
				  enum access_kind kind)
{
	struct tlb_entry *e;

	t->c.lookups++;
	if (kind == ACC_FETCH)
		e = array_find_any(&t->l1i, va, vpid, pcid, PG_4K);
	else
		e = array_find_any(&t->l1d_large, va, vpid, pcid, PG_2M);
	if (e) {
		t->c.hits++;
		t->c.l1_hits++;
		e->stamp = tlb_tick(t);
		return e;
	}
	return tlb_lookup_l2(t, va, vpid, pcid, kind);
}

/*
 * Fill the L1 array of (kind, f->size) and the L2 with f, tagged (vpid,
 * pcid). f->va may be any address in the page; the vpn and the page base of
 * f->hpa are derived from f->size. An existing entry for the same page (or
 * one a lookup could confuse with it, through TLBF_G) is replaced in place.
 */
void tlb_insert(struct tlb *t, const struct tlb_fill *f, uint16_t vpid, uint16_t pcid,
		enum access_kind kind)
{
	assert((unsigned)f->size < PG_NR);
	unsigned size = (unsigned)f->size;
	struct tlb_entry n = {
	    .vpn = va_vpn(f->va, size),
	    .hpa = f->hpa.v & ~(page_bytes(f->size) - 1),
	    .stamp = tlb_tick(t),
	    .vpid = vpid,
	    .pcid = pcid,
	    .size = (uint8_t)size,
	    .flags = (uint8_t)(f->flags | TLBF_VALID),
	    .pkey = f->pkey,
	};

	t->c.fills++;
	array_fill(t, l1_for(t, kind, size), &n);
	array_fill(t, &t->l2, &n);
}

uint64_t tlb_flush_all(struct tlb *t)
{
	const struct flush_filter f = {.all_vpids = true};

	t->c.flush_all++;
	return tlb_flush_filter(t, &f);
}

uint64_t tlb_flush_vpid(struct tlb *t, uint16_t vpid)
{
	const struct flush_filter f = {.vpid = vpid};

	t->c.flush_vpid++;
	return tlb_flush_filter(t, &f);
}

uint64_t tlb_flush_pcid(struct tlb *t, uint16_t vpid, uint16_t pcid)
{
	const struct flush_filter f = {
	    .vpid = vpid, .pcid = pcid, .match_pcid = true, .keep_global = true};

	t->c.flush_pcid++;
	return tlb_flush_filter(t, &f);
}

/*
 * Every size is probed in the arrays that can hold it, so an INVLPG of any
 * address inside a 2M or 1G page drops that page's entries.
 */
static uint64_t flush_addr(struct tlb *t, uint16_t vpid, uint16_t pcid, bool any, gva_t va)
{
	uint64_t n = array_flush_addr(&t->l1d, va, vpid, pcid, any, PG_4K, PG_4K) +
		     array_flush_addr(&t->l1d_large, va, vpid, pcid, any, PG_2M, PG_1G) +
		     array_flush_addr(&t->l1i, va, vpid, pcid, any, PG_4K, PG_1G) +
		     array_flush_addr(&t->l2, va, vpid, pcid, any, PG_4K, PG_1G);

	tlb_mru_forget(t);
	tlb_l0_clear(t);

	t->c.flush_addr++;
	t->c.entries_flushed += n;
	return n;
}

uint64_t tlb_flush_addr(struct tlb *t, uint16_t vpid, uint16_t pcid, gva_t va)
{
	return flush_addr(t, vpid, pcid, false, va);
}

uint64_t tlb_flush_addr_vpid(struct tlb *t, uint16_t vpid, gva_t va)
{
	return flush_addr(t, vpid, 0, true, va);
}

uint64_t tlb_flush_nonglobal(struct tlb *t, uint16_t vpid)
{
	const struct flush_filter f = {.vpid = vpid, .keep_global = true};

	t->c.flush_nonglobal++;
	return tlb_flush_filter(t, &f);
}

/* Counted with flush_vpid: it is the INVVPID all-contexts form. */
uint64_t tlb_flush_all_guests(struct tlb *t)
{
	const struct flush_filter f = {.all_vpids = true, .keep_vpid0 = true};

	t->c.flush_vpid++;
	return tlb_flush_filter(t, &f);
}

uint64_t tlb_count_valid(const struct tlb *t)
{
	return array_count_valid(&t->l1d) + array_count_valid(&t->l1d_large) +
	       array_count_valid(&t->l1i) + array_count_valid(&t->l2);
}

/*
 * tlb.h - the software TLB: tagged, set-associative, several page sizes,
 * a split L1 and a unified L2.
 *
 * The TLB is mechanism only. It never walks a table: on a miss the caller
 * (core's cpu_access) asks the MMU mode to translate, then inserts the
 * result with tlb_insert().
 *
 * Organisation (defaults in config.c, after Intel Skylake):
 *   l1d        4K data entries
 *   l1d_large  2M and 1G data entries
 *   l1i        4K instruction entries (fetches only)
 *   l2         unified, all sizes; a hit there refills the L1 array
 * Entries carry the VPID and PCID they were filled under. A global entry
 * (TLBF_G) matches any PCID of its VPID. Replacement is LRU by a per-TLB
 * 64-bit clock stamped on every hit and fill (it never wraps: at one tick
 * a nanosecond, 2^64 ticks take 584 years).
 *
 * Invariants:
 *   - a valid entry equals what a fresh walk would have returned when it was
 *     filled; keeping it coherent after table changes is the guest's (or the
 *     VMM's) job, through the flush calls below;
 *   - an address is present at most once per array for a given
 *     (vpid, pcid, size);
 *   - sets is a power of two;
 *   - stamps are given out by ++clock (a fill's L1 entry and its L2 copy
 *     share one), so an l1d entry whose stamp equals the clock is the l1d
 *     entry stamped last, the MRU of its set, and no other l1d entry's
 *     stamp equals the clock;
 *   - mru is NULL or a valid l1d entry; mru_vpn is TLB_NO_VPN or mru's
 *     vpn, and then a lookup of (mru_vpn, mru_ctx) finds mru;
 *   - an L0 slot i (struct tlb_l0) whose page[i] is not TLB_NO_VPN names a
 *     valid l1d entry e of that page, at host-physical page << 12 + delta,
 *     i is page mod TLB_L0_SLOTS and bit i of l0_used is set; both pairs
 *     x = 2i, 2i + 1 hold the same e, delta and host; every tag of the
 *     two pairs is TLB_NO_VPN or the page; a slot whose page is
 *     TLB_NO_VPN has every tag TLB_NO_VPN (tests/test_tlb.c checks these
 *     by brute force).
 */
#ifndef VMMU_TLB_H
#define VMMU_TLB_H

#include "../core/types.h"

struct tlb_entry {
	uint64_t vpn;   /* va >> page_shift(size), canonical bits only */
	uint64_t hpa;   /* host physical base of the page */
	uint64_t stamp; /* LRU clock value at last use */
	uint16_t vpid;
	uint16_t pcid;
	uint8_t size;   /* enum page_size */
	uint8_t flags;  /* TLBF_* ; TLBF_VALID clear = empty way */
	uint8_t pkey;   /* protection key of the leaf (CR4.PKE) */
};

struct tlb_array {
	struct tlb_entry *e; /* sets * ways entries, set-major */
	uint32_t sets, ways, set_mask;
	uint32_t nsize[PG_NR]; /* valid entries of each page size */
};

/*
 * The counters as kept. A data lookup that hits inline (the memo entry or
 * its l1d set, tlb_lookup_4k()) bumps l1d_hits alone; it is also a lookup,
 * a hit and an L1 hit, which tlb_counters() adds when the counts are read.
 * A hit through the caller's L0 (struct tlb_l0) bumps l0_hits[user] alone,
 * by the caller's privilege: it is an inline hit too, which tlb_counters()
 * adds as well; the caller derives its own counts of those accesses from
 * it, and may move it into l1d_hits when it does (vm_stats_fold()). A
 * fetch that hits the L0's fetch tags (ftag) bumps l0_fetch_hits[user]
 * alone, an L1 hit of l1i, which tlb_counters() adds the same way. Read
 * them through tlb_counters().
 */
struct tlb_counters {
	uint64_t lookups, hits, l1_hits, l2_hits, misses, fills, evictions;
	uint64_t flush_all, flush_vpid, flush_pcid, flush_addr, flush_nonglobal;
	uint64_t entries_flushed;
	uint64_t l1d_hits;
	uint64_t l0_hits[2];
	uint64_t l0_fetch_hits[2];
};

/* Slots of the L0 (a power of two): as many as the default l1d entries. */
#define TLB_L0_SLOTS 64

/* Pairs of the L0: one per slot and privilege, x = slot * 2 + user. */
#define TLB_L0_PAIRS (TLB_L0_SLOTS * 2)

/*
 * The L0, a direct-mapped array in front of the l1d that the caller fills
 * and reads (QEMU's CPUTLBEntry: one tag word per access kind), kept as
 * arrays indexed by pair, x = slot * 2 + user (tlb_l0_index()): a hit finds
 * its tag, its host offset and its entry with x alone, one address
 * computation each. tag[kind][x] == va >> PAGE_SHIFT says that a data
 * lookup of va under the caller's current (VPID, PCID) finds e[x] in l1d,
 * and that the caller's rights check passes on it for (user, kind); the
 * page is then at host-physical va + delta[x], and at va + host[x] in the
 * caller's address space (host = delta + the base the caller gave
 * tlb_l0_set(): where its host memory starts). The two pairs of a slot hold
 * the same e, delta and host. TLB_NO_VPN, which no va >> PAGE_SHIFT equals,
 * is an empty tag. The slot of va is (va >> PAGE_SHIFT) mod TLB_L0_SLOTS.
 * A hit through a tag is exactly the hit the lookup would make: counted in
 * l0_hits[user], and e stamped (tlb_l0_touch()).
 */
struct tlb_l0 {
	uint64_t tag[2][TLB_L0_PAIRS];
	uint64_t host[TLB_L0_PAIRS];
	uint64_t delta[TLB_L0_PAIRS];
	struct tlb_entry *e[TLB_L0_PAIRS];
	uint64_t page[TLB_L0_SLOTS]; /* va >> PAGE_SHIFT the tags are for, or TLB_NO_VPN */
	/* The fetch side, kept apart (fetches are looked up in l1i): ftag[x]
	 * == va >> PAGE_SHIFT says that a fetch lookup of va under the
	 * caller's current (VPID, PCID) finds the 4K l1i entry fe[x], with the
	 * caller's rights for a fetch at privilege x & 1. fpage[slot] is the
	 * page of the slot's fetch tags, or TLB_NO_VPN; both pairs of a slot
	 * hold the same fe. */
	uint64_t ftag[TLB_L0_PAIRS];
	struct tlb_entry *fe[TLB_L0_PAIRS];
	uint64_t fpage[TLB_L0_SLOTS];
};

struct tlb {
	struct tlb_array l1d, l1d_large, l1i, l2;
	/* The memo: the l1d entry the latest inline lookup (tlb_lookup_4k())
	 * hit, or NULL once an entry may have changed (fills and flushes
	 * forget it). */
	struct tlb_entry *mru;
	/* The key mru was found under: a data lookup of vpn mru_vpn under
	 * tlb_ctx(vpid, pcid) == mru_ctx is that hit again, found by two
	 * compares. No entry changes without the memo being forgotten first,
	 * so the key alone proves the hit; the hit needs a new stamp unless
	 * mru holds the latest (stamp == clock: it is the MRU of its set, and
	 * the LRU order of every set stays the same without one). mru_vpn is
	 * TLB_NO_VPN, which no address has, when mru is NULL. */
	uint64_t mru_vpn;
	uint32_t mru_ctx;
	/* The LRU clock: the latest stamp given out. */
	uint64_t clock;
	struct tlb_counters c;
	/* The L0 (struct tlb_l0): set by the caller with tlb_l0_set() after a
	 * hit of the inline probe, emptied by it with tlb_l0_clear() when its
	 * context or its rights change; the TLB empties the slot of an l1d
	 * entry it overwrites or drops, and every slot at a flush. Bit i of
	 * l0_used is set when slot i may hold a tag. */
	uint64_t l0_used;
	uint64_t l0_fetch_used; /* bit i: fetch slot i may hold a tag */
	struct tlb_l0 l0;
};

/* The geometry of the four arrays. */
struct tlb_shape {
	struct tlb_geom l1d, l1d_large, l1i, l2;
};

/* Allocate the arrays. Returns 0, or -1 on a bad geometry or no memory. */
int tlb_init(struct tlb *t, const struct tlb_shape *shape);
void tlb_destroy(struct tlb *t);

/* Linear-address bits a tag keeps (LA57), and their mask. */
#define TLB_VA_BITS 57
#define TLB_VA_MASK ((UINT64_C(1) << TLB_VA_BITS) - 1)

/* A vpn no canonical address has (vpns have TLB_VA_BITS - 12 bits). */
#define TLB_NO_VPN UINT64_MAX

/* The (vpid, pcid) tag of a lookup as one word. */
static inline uint32_t tlb_ctx(uint16_t vpid, uint16_t pcid)
{
	return (uint32_t)vpid << 16 | pcid;
}

/* The L0 pair of page vpn (va >> PAGE_SHIFT) for privilege 'user':
 * slot * 2 + user, from the page with one address computation and one
 * mask. */
static inline __attribute__((always_inline)) size_t tlb_l0_index(uint64_t vpn, size_t user)
{
	return (vpn * 2 + user) & (TLB_L0_PAIRS - 1);
}

/* The tag of va for (user, k) (tests, explain). */
static inline uint64_t tlb_l0_tag(const struct tlb *t, gva_t va, bool user, enum access_kind k)
{
	return t->l0.tag[k][tlb_l0_index(va >> PAGE_SHIFT, user)];
}

/* Empty one L0 slot (both its pairs). */
static inline void tlb_l0_empty(struct tlb *t, unsigned i)
{
	struct tlb_l0 *l = &t->l0;

	for (unsigned x = 2 * i; x < 2 * i + 2; x++) {
		l->tag[0][x] = l->tag[1][x] = TLB_NO_VPN;
		l->e[x] = NULL;
	}
	l->page[i] = TLB_NO_VPN;
	t->l0_used &= ~(UINT64_C(1) << i);
}

/* Empty one fetch slot of the L0 (both its pairs). */
static inline void tlb_l0_fetch_empty(struct tlb *t, unsigned i)
{
	struct tlb_l0 *l = &t->l0;

	for (unsigned x = 2 * i; x < 2 * i + 2; x++) {
		l->ftag[x] = TLB_NO_VPN;
		l->fe[x] = NULL;
	}
	l->fpage[i] = TLB_NO_VPN;
	t->l0_fetch_used &= ~(UINT64_C(1) << i);
}

/* Empty every L0 slot, data and fetch (the caller's context or rights
 * changed; a flush). */
static inline void tlb_l0_clear(struct tlb *t)
{
	while (t->l0_used)
		tlb_l0_empty(t, (unsigned)__builtin_ctzll(t->l0_used));
	while (t->l0_fetch_used)
		tlb_l0_fetch_empty(t, (unsigned)__builtin_ctzll(t->l0_fetch_used));
}

/* Empty the L0 slot that names l1d entry e, if one does (e is about to be
 * overwritten or dropped). Only the slot of e's page can: slots are indexed
 * by low page bits, which the vpn keeps. */
static inline void tlb_l0_drop(struct tlb *t, const struct tlb_entry *e)
{
	unsigned i = (unsigned)(e->vpn & (TLB_L0_SLOTS - 1));

	if (t->l0.e[2 * i] == e)
		tlb_l0_empty(t, i);
	if (t->l0.fe[2 * i] == e)
		tlb_l0_fetch_empty(t, i);
}

/*
 * Tag l1i entry e in the L0's fetch side for a fetch at va by a caller at
 * privilege 'user', whose rights check for the fetch passed on it.
 * Caller's duty: a fetch lookup of va (tlb_lookup(), ACC_FETCH) just
 * returned e, under the caller's current (VPID, PCID), and e is a 4K entry
 * (tlb_l0_drop() finds a slot by the entry's vpn, which for 4K entries is
 * the page the tag names).
 */
static inline void tlb_l0_fetch_set(struct tlb *t, bool user, gva_t va, struct tlb_entry *e)
{
	uint64_t page = va >> PAGE_SHIFT;
	unsigned i = (unsigned)(page & (TLB_L0_SLOTS - 1));
	struct tlb_l0 *l = &t->l0;

	if (l->fpage[i] != page) {
		for (unsigned x = 2 * i; x < 2 * i + 2; x++) {
			l->ftag[x] = TLB_NO_VPN;
			l->fe[x] = e;
		}
		l->fpage[i] = page;
		t->l0_fetch_used |= UINT64_C(1) << i;
	}
	l->ftag[2 * i + user] = page;
}

/* Forget the last-hit memo (before any entry other than the memo's is
 * stamped, and at a flush). */
static inline void tlb_mru_forget(struct tlb *t)
{
	t->mru = NULL;
	t->mru_vpn = TLB_NO_VPN;
}

/*
 * Tag l1d entry e in the L0 for a data access of kind k (ACC_READ or
 * ACC_WRITE) at va by a caller at privilege 'user', whose rights check
 * passed on it. Caller's duty: the inline lookup of va (tlb_lookup_4k_ctx())
 * just returned e, under the caller's current (VPID, PCID). A slot holds the tags of one
 * page: another page (or the same entry through other sign bits) replaces
 * them. base is where the caller's host memory starts, the same at every
 * call: the slot's host offset is delta + base.
 */
static inline void tlb_l0_set(struct tlb *t, bool user, enum access_kind k, gva_t va,
			      struct tlb_entry *e, uint64_t base)
{
	uint64_t page = va >> PAGE_SHIFT;
	unsigned i = (unsigned)(page & (TLB_L0_SLOTS - 1));
	struct tlb_l0 *l = &t->l0;

	if (l->page[i] != page) {
		uint64_t delta = e->hpa - (va & PAGE_MASK);

		for (unsigned x = 2 * i; x < 2 * i + 2; x++) {
			l->tag[0][x] = l->tag[1][x] = TLB_NO_VPN;
			l->e[x] = e;
			l->delta[x] = delta;
			l->host[x] = delta + base;
		}
		l->page[i] = page;
		t->l0_used |= UINT64_C(1) << i;
	}
	l->tag[k][2 * i + user] = page;
}

/*
 * An L0 hit through pair x: its entry takes a new stamp, as the set
 * search's hit (tlb_probe_4k()) would write it, at every hit. When the
 * entry held the latest stamp already (the same page as the last hit), the
 * new one keeps the LRU order of its set: it held the largest stamp of the
 * set and still does, so no victim changes. Skipping that store would take
 * a compare and a branch at every hit, which cost more than the store once
 * the page changes at more than one hit in two (see docs/speed.md). The
 * memo stays as it is (no entry changed): its next hit finds that it no
 * longer holds the latest stamp and stamps it, as the set search would.
 * The lookup is counted by the caller.
 */
static inline __attribute__((always_inline)) void tlb_l0_touch(struct tlb *t, size_t x)
{
	t->l0.e[x]->stamp = ++t->clock;
}

/* A fetch hit through the L0's fetch pair x: its l1i entry takes a new
 * stamp, as the l1i hit of the lookup gives one (tlb_l0_touch() for the
 * data side). The lookup is counted by the caller. */
static inline __attribute__((always_inline)) void tlb_l0_fetch_touch(struct tlb *t, size_t x)
{
	t->l0.fe[x]->stamp = ++t->clock;
}

/* A hit on e, as the set search stamps it: a new stamp unless e holds the
 * latest one (then e is the MRU of its set, and stays so). */
static inline __attribute__((always_inline)) void tlb_stamp_hit(struct tlb *t, struct tlb_entry *e)
{
	if (e->stamp != t->clock)
		e->stamp = ++t->clock;
}

/* The counters, inline and L0 hits folded into lookups, hits and l1_hits. */
static inline struct tlb_counters tlb_counters(const struct tlb *t)
{
	struct tlb_counters c = t->c;
	uint64_t n =
	    c.l1d_hits + c.l0_hits[0] + c.l0_hits[1] + c.l0_fetch_hits[0] + c.l0_fetch_hits[1];

	c.lookups += n;
	c.hits += n;
	c.l1_hits += n;
	c.l1d_hits = c.l0_hits[0] = c.l0_hits[1] = 0;
	c.l0_fetch_hits[0] = c.l0_fetch_hits[1] = 0;
	return c;
}

/* The rest of a lookup after the L1 4K data probe: fetches, the L1 large
 * array and the L2. Counts the lookup. Call tlb_lookup() instead. */
struct tlb_entry *tlb_lookup_rest(struct tlb *t, gva_t va, uint16_t vpid, uint16_t pcid,
				  enum access_kind kind);

/* The search of one l1d set (e, 'ways' ways) for (vpn, ctx), after the memo
 * missed: see tlb_lookup_4k(). */
static inline __attribute__((always_inline)) struct tlb_entry *
tlb_probe_4k(struct tlb *t, struct tlb_entry *e, uint32_t ways, uint64_t vpn, uint32_t ctx)
{
	uint16_t vpid = (uint16_t)(ctx >> 16), pcid = (uint16_t)ctx;

	/* l1d holds 4K entries only, so the size needs no compare. */
#pragma GCC unroll 4
	for (uint32_t w = 0; w < ways; w++, e++) {
		if (e->vpn == vpn && e->vpid == vpid && (e->flags & TLBF_VALID) &&
		    (e->pcid == pcid || (e->flags & TLBF_G))) {
			t->c.l1d_hits++;
			/* The entry stamped last found again (under another
			 * key: a global entry, another PCID; or after the
			 * memo was forgotten) needs no new stamp. */
			tlb_stamp_hit(t, e);
			t->mru = e;
			t->mru_vpn = vpn;
			t->mru_ctx = ctx;
			return e;
		}
	}
	return NULL;
}

/*
 * The inline half of a data lookup: the memo, then the one l1d set of va
 * (unrolled for 4 ways), for ctx == tlb_ctx(vpid, pcid), which the caller
 * may keep. Returns the 4K entry, counted as a lookup, a hit and an L1 hit,
 * or NULL with nothing counted (the caller goes on with tlb_lookup_rest()).
 * On a hit the entry is the memo (t->mru == the result) and holds the
 * latest stamp. A hit on the memo, under the key it was found under,
 * compares two words, and writes no stamp when the memo holds the latest:
 * a stream that stays in one page costs no set search and no LRU store.
 */
static inline __attribute__((always_inline)) struct tlb_entry *
tlb_lookup_4k_ctx(struct tlb *t, gva_t va, uint32_t ctx)
{
	uint64_t vpn = (va & TLB_VA_MASK) >> PAGE_SHIFT;
	if (likely(vpn == t->mru_vpn && ctx == t->mru_ctx)) {
		t->c.l1d_hits++;
		tlb_stamp_hit(t, t->mru);
		return t->mru;
	}
	struct tlb_entry *e = t->l1d.e + (size_t)(vpn & t->l1d.set_mask) * t->l1d.ways;
	if (likely(t->l1d.ways == 4))
		return tlb_probe_4k(t, e, 4, vpn, ctx);
	return tlb_probe_4k(t, e, t->l1d.ways, vpn, ctx);
}

/* tlb_lookup_4k_ctx() with the context computed. */
static inline __attribute__((always_inline)) struct tlb_entry *
tlb_lookup_4k(struct tlb *t, gva_t va, uint16_t vpid, uint16_t pcid)
{
	return tlb_lookup_4k_ctx(t, va, tlb_ctx(vpid, pcid));
}

/*
 * Look va up for (vpid, pcid). Fetches search l1i then l2, data searches
 * l1d, l1d_large then l2. Returns the entry, or NULL on a miss. Counts the
 * lookup. Does not check permissions: the caller does.
 *
 * The L1 4K data probe is inline (tlb_lookup_4k()): it is the simulator's
 * hot path (a TLB hit of an ordinary load or store), so it makes no call at
 * all.
 */
static inline __attribute__((always_inline)) struct tlb_entry *
tlb_lookup(struct tlb *t, gva_t va, uint16_t vpid, uint16_t pcid, enum access_kind kind)
{
	if (likely(kind != ACC_FETCH)) {
		struct tlb_entry *e = tlb_lookup_4k(t, va, vpid, pcid);
		if (likely(e != NULL))
			return e;
	}
	return tlb_lookup_rest(t, va, vpid, pcid, kind);
}

/* Insert a translation; replaces a stale entry for the same page. */
void tlb_insert(struct tlb *t, const struct tlb_fill *f, uint16_t vpid, uint16_t pcid,
		enum access_kind kind);

/* Flushes. Each returns the number of valid entries it dropped. */
uint64_t tlb_flush_all(struct tlb *t);
/* Everything of one VPID, global entries included (INVVPID type 1). */
uint64_t tlb_flush_vpid(struct tlb *t, uint16_t vpid);
/* Non-global entries of (vpid, pcid): MOV to CR3 without the no-flush bit. */
uint64_t tlb_flush_pcid(struct tlb *t, uint16_t vpid, uint16_t pcid);
/* Entries that map va for (vpid, pcid), and global entries that map va
 * for vpid: INVLPG, INVVPID type 0. */
uint64_t tlb_flush_addr(struct tlb *t, uint16_t vpid, uint16_t pcid, gva_t va);
/* Entries that map va for vpid, whatever their PCID: INVVPID type 0. */
uint64_t tlb_flush_addr_vpid(struct tlb *t, uint16_t vpid, gva_t va);
/* Every non-global entry of vpid, all PCIDs: INVPCID type 3 / INVVPID type 3. */
uint64_t tlb_flush_nonglobal(struct tlb *t, uint16_t vpid);
/* Every VPID except 0 (INVVPID type 2). */
uint64_t tlb_flush_all_guests(struct tlb *t);

/* Number of valid entries (tests, explain). */
uint64_t tlb_count_valid(const struct tlb *t);

#endif

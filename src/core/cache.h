/*
 * cache.h - one model of the core's cache hierarchy (L1D, L2, LLC) that
 * every memory reference of the simulated machine goes through: the guest's
 * data accesses (its stores to its own page tables included), the references
 * of hardware page walks, and the VMM's software walks and emulated stores.
 * A reference's cost is the latency of the level that served it.
 *
 * Organisation:
 *   - 64-byte lines of host-physical addresses, three set-associative levels
 *     with LRU replacement, geometry from the machine profile;
 *   - the L1 set is the line's address bits 11:6 (a virtually indexed,
 *     physically tagged L1 uses page-offset bits only, so a line's L1 set
 *     never depends on which frame holds it);
 *   - the L2 and LLC sets are a multiplicative hash of the whole line
 *     address, as real LLCs hash physical address bits into slices and sets:
 *     two tables at different frames fall into unrelated sets, so no frame
 *     placement lines tables up in a few sets;
 *   - a reference looks in L1, then L2, then LLC, and stops at the first
 *     level that holds the line; it becomes most recently used in every level
 *     it looked in, and is filled into each of them that missed (levels below
 *     the one that served it never see the reference, as in real hardware);
 *   - the most recent line is remembered: a reference to it again is an L1
 *     hit without a set search (it is the MRU line of its L1 set, because
 *     every reference passes through here). This is what keeps the TLB-hit
 *     path short for sequential data.
 *
 * How LRU is kept (two exact forms of the same order; the choice changes no
 * decision, only the work per reference):
 *   - the L1 and the LLC, up to 16 ways, keep per set their ways in LRU
 *     order in one word (order): nibble i is the way at recency position
 *     i, 0 the MRU. A miss finds its victim with one shift; a hit that is
 *     not already the MRU moves one group of nibbles. The references that
 *     reach an L1 set mostly miss it (the last-line memo takes the
 *     re-references), and those that reach the LLC mostly miss it too;
 *   - the L2, and any level of more than 16 ways, stamps each use with a
 *     clock: on the TLB-hit path the L2's references mostly hit, and a hit
 *     is one store; a miss takes the way of the smallest stamp. A stamp is
 *     the tick shifted left by CACHE_STAMP_WAY_BITS, or'd with the way
 *     number, so the minimum names its way (no second scan), and an empty
 *     way's stamp is its way number (tick 0), below every used one, so the
 *     lowest empty way is the first victim.
 * An empty set's order lists the ways from the highest (MRU end) to way 0
 * (LRU end), so the ways fill from way 0 up, as under stamps.
 *
 * How a hashed set (L2, LLC of at most 16 ways) is searched (every search
 * but the inline L2 line index's probe below): each way keeps
 * a one-byte signature of its line (hash bits that the set index does not
 * use) beside its tag; the 16 signature bytes of the set are compared with
 * the line's at once (SSE2, or a byte loop on hosts without it), and only
 * the ways whose signature matches have their tag compared. A signature is
 * a filter: the tag compare decides, so the way found is the one a compare
 * of every tag finds (tags are unique within a set).
 *
 * The L2's line index (where; allocated with the default geometry, whose L2
 * hit is inline): a direct-mapped array, indexed by the low bits of the
 * line number, of the position (set * ways + way) at which the L2 last
 * filled or found a line with those bits. It is a hint. The inline path
 * reads the one position where[line & where_mask] and compares the tag
 * there: equal, the line is in the L2 at that way (a line is only ever
 * filled into the set its hash names, and tags are unique within a set, so
 * it is the way a search of the set finds), and the hit is stamped as the
 * search's hit is. Any other tag there (another line with the same low
 * bits filled since, an evicted line, a cleared cache) sends the reference
 * on to the hashed search, which decides as it always did and rewrites the
 * entry. The index therefore changes no decision; an L2 hit that it finds
 * skips the hash and the set search. A page pass leaves the index alone
 * (cache.c, ref_line()).
 *
 * A page's 64 lines referenced in address order (the guest's clear_page and
 * copy_page) go through cache_ref_page(): the same 64 references, one call.
 *
 * With the model off (cache.on false) every reference is served by L1 and no
 * state is kept: the flat costs of --cache-model off.
 *
 * Invariants:
 *   - tag[i] == 0 means the way is empty, else tag[i] == line number + 1;
 *   - within one set no two ways hold the same tag;
 *   - order levels: a set's order word holds each of its ways once, in
 *     nibbles 0..ways-1, and 0 above; empty ways are the last positions;
 *   - stamp levels: stamp[w] & (CACHE_CLOCK_STEP - 1) == w; the ticks
 *     (stamp >> CACHE_STAMP_WAY_BITS) of a set's occupied ways are distinct
 *     and non-zero, an empty way's tick is 0, and clock (a multiple of
 *     CACHE_CLOCK_STEP, at most CACHE_CLOCK_LIMIT) is at least every
 *     stamp's tick part;
 *   - hashed levels of at most 16 ways (L2, LLC): sig[w] of an
 *     occupied way is cache_sig_of() of its line's hash (any value for an
 *     empty way, whose tag 0 no search matches);
 *   - where (when allocated): every entry is below sets * ways of its level,
 *     where_mask + 1 entries, a power of two;
 *   - last == CACHE_NO_LINE, or last is the most recently referenced line,
 *     which is the most recently used line of its L1 set;
 *   - sets is a power of two; ways is 1..CACHE_MAX_WAYS.
 */
#ifndef VMMU_CACHE_H
#define VMMU_CACHE_H

#include "config.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define CACHE_LINE_SHIFT 6 /* 64-byte lines */
#define CACHE_LEVELS 3
#define CACHE_MAX_WAYS 32u
#define CACHE_MAX_SETS (UINT32_C(1) << 20)
#define CACHE_NO_LINE UINT64_MAX /* c->last when no line was referenced */
#define CACHE_SIG_BYTES 16	 /* signature bytes per set (ways <= 16) */
#define CACHE_WHERE_PER_LINE 4	 /* L2 line index entries per L2 line (rounded up) */
/* A stamp is (tick << CACHE_STAMP_WAY_BITS) | way: clock advances by
 * CACHE_CLOCK_STEP per tick and stays at most CACHE_CLOCK_LIMIT, so every
 * stamp is below 2^31. */
#define CACHE_STAMP_WAY_BITS 5
#define CACHE_CLOCK_STEP (UINT32_C(1) << CACHE_STAMP_WAY_BITS)
#define CACHE_CLOCK_LIMIT (UINT32_C(0x80000000) - CACHE_CLOCK_STEP)

/* Level numbers a reference reports: served by L1 .. LLC, or DRAM. */
enum { CACHE_L1 = 1, CACHE_L2, CACHE_LLC, CACHE_DRAM };

struct cache_level {
	uint64_t *tag;	 /* sets * ways, set-major */
	uint8_t *sig;	 /* CACHE_SIG_BYTES per set: each way's signature (hashed order levels) */
	uint32_t *stamp; /* LRU tick of the last use and the way (stamp levels) */
	uint64_t *order; /* per set: the ways in LRU order (order levels) */
	uint32_t *where; /* line index (L2 of the inline path): see below */
	uint32_t sets, ways, mask;
	uint32_t where_mask; /* entries of where - 1 */
	bool hashed;	     /* set = hash of the line; else set = line & mask */
};

struct cache {
	struct cache_level lvl[CACHE_LEVELS];
	uint64_t last;	    /* line of the most recent reference, or CACHE_NO_LINE */
	uint32_t clock;	    /* LRU clock of the stamp levels */
	bool on;	    /* false: every reference is an L1 hit, no state */
	bool l1_order8;	    /* the L1 is an order level of 8 ways: searched inline */
	bool l2_ways16;	    /* and the L2 has 16 ways: an L2 hit is inline too */
	uint32_t l2_below;  /* CACHE_CLOCK_LIMIT if l2_ways16, else 0: the inline L2
			     * search runs while clock < l2_below (one compare) */
	uint64_t served[4]; /* references served by L1, L2, LLC, DRAM */
};

/*
 * Allocate the levels, empty. geom[0..2] are L1D, L2 and LLC. Returns 0, or
 * -1 on a bad geometry or no memory, with *c left so that cache_destroy() on
 * it is harmless. With on false nothing is allocated.
 */
int cache_init(struct cache *c, const struct cache_geom geom[CACHE_LEVELS], bool on);
void cache_destroy(struct cache *c);
/* Empty every level (the served counters are kept). */
void cache_clear(struct cache *c);

/* The rest of a reference after the last-line check. Call cache_ref(). */
int cache_ref_slow(struct cache *c, uint64_t tag);
/* The rest of a reference that missed an order-kept L1 (L2, LLC). Call
 * cache_ref(). */
int cache_ref_lower(struct cache *c, uint64_t tag);

/* The rest of a reference that missed an 8-way order-kept L1 and was not
 * found at its L2 line index entry: the hashed L2 search (a hit, or the
 * fill), then the LLC. Call cache_ref(). */
int cache_ref_l2_search(struct cache *c, uint64_t tag);

/*
 * The 64 lines of the 4 KiB page at pa (its offset ignored), referenced in
 * address order: exactly what 64 cache_ref() calls on them do (the same
 * levels serve them, the same lines are evicted, the same LRU order is
 * left, and the served counters and the last line end the same), in one
 * call. Caller's duty: as for cache_ref().
 */
void cache_ref_page(struct cache *c, uint64_t pa);

/*
 * Hash of the line number, whose low bits are the L2 and LLC set: multiply
 * by 2^64/phi, fold, multiply again and fold (the finaliser of a 64-bit
 * mixer). Every address bit above the line offset moves the set, arithmetic
 * sequences of frames spread like random ones, and the function is fixed,
 * so a run is deterministic. Real LLCs use XOR trees of physical address
 * bits whose exact form is undocumented; any hash that spreads frames evenly
 * serves here.
 */
#define CACHE_HASH_K1 UINT64_C(0x9e3779b97f4a7c15)
#define CACHE_HASH_K2 UINT64_C(0xff51afd7ed558ccd)

/* cache_line_hash() after its first multiply, of k = line * CACHE_HASH_K1. */
static inline uint64_t cache_hash_fold(uint64_t k)
{
	uint64_t x = k ^ (k >> 32);

	x *= CACHE_HASH_K2;
	return x ^ (x >> 29);
}

static inline uint64_t cache_line_hash(uint64_t line)
{
	return cache_hash_fold(line * CACHE_HASH_K1);
}

#define CACHE_NIBBLES_1 UINT64_C(0x1111111111111111)
#define CACHE_NIBBLES_8 UINT64_C(0x8888888888888888)

/* Positions 0..ways-1 of an order word. */
static inline uint64_t cache_order_full(uint32_t ways)
{
	return ways >= 16 ? ~UINT64_C(0) : (UINT64_C(1) << (4 * ways)) - 1;
}

/* The way of set t (of 'ways' ways) that holds tag, or -1. */
static inline __attribute__((always_inline)) int cache_way_find(const uint64_t *t, uint32_t ways,
								uint64_t tag)
{
#pragma GCC unroll 16
	for (uint32_t w = 0; w < ways; w++)
		if (t[w] == tag)
			return (int)w;
	return -1;
}

/* Signature of a line in a hashed level, from its hash h: the top byte,
 * far from the low bits that index the set. */
static inline uint8_t cache_sig_of(uint64_t h)
{
	return (uint8_t)(h >> 56);
}

#if defined(__SSE2__)
typedef __m128i cache_sigv; /* a signature in each of 16 bytes */

static inline cache_sigv cache_sig_splat(uint8_t s)
{
	return _mm_set1_epi8((char)s);
}

/* Bit w set for each way w of the set's signatures sig (16 bytes, 16-byte
 * aligned) equal to the signature in v. */
static inline uint32_t cache_sig_match(const uint8_t *sig, cache_sigv v)
{
	__m128i x = _mm_load_si128((const __m128i *)(const void *)sig);

	return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, v));
}
#else
typedef uint8_t cache_sigv;

static inline cache_sigv cache_sig_splat(uint8_t s)
{
	return s;
}

static inline uint32_t cache_sig_match(const uint8_t *sig, cache_sigv v)
{
	uint32_t m = 0;

	for (uint32_t w = 0; w < CACHE_SIG_BYTES; w++)
		m |= (uint32_t)(sig[w] == v) << w;
	return m;
}
#endif

/* The way of set t (of 'ways' <= 16 ways, signatures sig) that holds tag,
 * or -1: only the ways whose signature is in v have their tag compared. */
static inline __attribute__((always_inline)) int
cache_way_find_sig(const uint64_t *t, const uint8_t *sig, uint32_t ways, uint64_t tag, cache_sigv v)
{
	uint32_t m = cache_sig_match(sig, v) & ((UINT32_C(1) << ways) - 1);

	for (; m != 0; m &= m - 1) {
		unsigned w = (unsigned)__builtin_ctz(m);

		if (t[w] == tag)
			return (int)w;
	}
	return -1;
}

/*
 * Make way w the MRU of an order word of a set of 'ways' ways: w moves to
 * position 0 and the positions before it one down (nothing is written when
 * it already is the MRU).
 */
static inline __attribute__((always_inline)) void cache_order_use(uint64_t *order, uint32_t w,
								  uint32_t ways)
{
	uint64_t o = *order;

	if ((o & 15) == w)
		return; /* already the MRU */
	if (ways <= 8) {
		/* The same in 32 bits, where the word's nibbles all are (the
		 * constants fit in the instructions). For w at position 7 the
		 * mask of positions 0..7 is 2 << 31, which wraps to 0, minus
		 * 1: all 32 bits, as wanted. */
		uint32_t o32 = (uint32_t)o, x = o32 ^ (w * UINT32_C(0x11111111));
		uint32_t z = (x - UINT32_C(0x11111111)) & ~x & UINT32_C(0x88888888);
		unsigned p4 = (unsigned)__builtin_ctz(z) - 3;
		uint32_t below = o32 & ((UINT32_C(1) << p4) - 1);
		uint32_t through = (UINT32_C(2) << (p4 + 3)) - 1;

		*order = (o32 & ~through) | (below << 4) | w;
		return;
	}
	/* Position of w: the lowest zero nibble of o ^ w...w. */
	uint64_t x = o ^ (w * CACHE_NIBBLES_1);
	uint64_t z = (x - CACHE_NIBBLES_1) & ~x & CACHE_NIBBLES_8;
	unsigned p4 = (unsigned)__builtin_ctzll(z) - 3; /* 4 * position */
	uint64_t below = o & ((UINT64_C(1) << p4) - 1);
	uint64_t through = (UINT64_C(2) << (p4 + 3)) - 1;

	*order = (o & ~through) | (below << 4) | w;
}

/* A miss of an order-kept set: tag fills the way at position ways-1 (the
 * LRU, or the lowest empty way), which moves to position 0. Returns the
 * way. */
static inline __attribute__((always_inline)) uint32_t cache_order_fill(uint64_t *t, uint64_t *order,
								       uint32_t ways, uint64_t tag)
{
	uint64_t o = *order;
	uint32_t victim;

	if (ways == 8) {
		/* The word's 32 bits rotate left by one nibble: the LRU nibble
		 * becomes position 0 and the others move one down, as below
		 * (a rotate instruction, not two shifts, an or and a mask). */
		uint32_t r = (uint32_t)o << 4 | (uint32_t)o >> 28;

		victim = r & 15;
		*order = r;
	} else if (ways == 16) {
		o = o << 4 | o >> 60; /* the same, all 64 bits */
		victim = (uint32_t)o & 15;
		*order = o;
	} else {
		victim = (uint32_t)(o >> (4 * (ways - 1))) & 15;
		*order = ((o << 4) | victim) & cache_order_full(ways);
	}
	t[victim] = tag;
	return victim;
}

/*
 * Search one set of an order level (ways <= 16) for tag: a hit becomes the
 * MRU (cache_order_use()), a miss is filled (cache_order_fill()). Returns
 * true on a hit.
 */
static inline __attribute__((always_inline)) bool cache_order_touch(uint64_t *t, uint64_t *order,
								    uint32_t ways, uint64_t tag)
{
	int w = cache_way_find(t, ways, tag);

	if (w >= 0) {
		cache_order_use(order, (uint32_t)w, ways);
		return true;
	}
	(void)cache_order_fill(t, order, ways, tag);
	return false;
}

/* cache_order_touch() in a hashed set, whose signatures are sig; s is the
 * line's signature and v the same splat. */
static inline __attribute__((always_inline)) bool
cache_order_touch_sig(uint64_t *t, uint8_t *sig, uint64_t *order, uint32_t ways, uint64_t tag,
		      uint8_t s, cache_sigv v)
{
	int w = cache_way_find_sig(t, sig, ways, tag, v);

	if (w >= 0) {
		cache_order_use(order, (uint32_t)w, ways);
		return true;
	}
	sig[cache_order_fill(t, order, ways, tag)] = s;
	return false;
}

/*
 * The first step of cache_ref(): a reference to the last line (or any, with
 * the model off) is an L1 hit, counted; returns true then. Otherwise returns
 * false with nothing done: the caller goes on with cache_ref_rest().
 */
static inline __attribute__((always_inline)) bool cache_ref_last(struct cache *c, uint64_t pa)
{
	/* With the model off last stays CACHE_NO_LINE, which no line equals. */
	if (likely(pa >> CACHE_LINE_SHIFT == c->last || !c->on)) {
		c->served[0]++;
		return true;
	}
	return false;
}

/* The rest of cache_ref() after cache_ref_last() returned false. The search
 * of an 8-way order-kept L1 is inline: an L1 hit makes no call. */
static inline __attribute__((always_inline)) int cache_ref_rest(struct cache *c, uint64_t pa)
{
	uint64_t tag = (pa >> CACHE_LINE_SHIFT) + 1;

	if (likely(c->l1_order8)) {
		struct cache_level *l1 = &c->lvl[0];
		uint32_t set = (uint32_t)(tag - 1) & l1->mask;

		c->last = tag - 1;
		if (cache_order_touch(l1->tag + (size_t)set * 8, l1->order + set, 8, tag)) {
			c->served[0]++;
			return CACHE_L1;
		}
		if (likely(c->clock < c->l2_below)) { /* l2_ways16, no renumbering due */
			/* The L2 line index (above): the line at its entry's
			 * position is an L2 hit there, stamped as sig_touch()
			 * stamps a hit (cache.c); else the hashed search, out
			 * of line. */
			struct cache_level *l2 = &c->lvl[1];
			uint32_t p = l2->where[(tag - 1) & l2->where_mask];

			if (likely(l2->tag[p] == tag)) {
				c->clock += CACHE_CLOCK_STEP;
				l2->stamp[p] = c->clock | (p & 15); /* the way: 16 per set */
				c->served[1]++;
				return CACHE_L2;
			}
			return cache_ref_l2_search(c, tag);
		}
		return cache_ref_lower(c, tag);
	}
	return cache_ref_slow(c, tag);
}

/*
 * One reference to host-physical address pa: returns the level that served
 * it (CACHE_L1 .. CACHE_DRAM) and leaves the line cached as described above.
 * Caller's duty: c was set up by cache_init(). Allocates nothing, prints
 * nothing, calls nothing indirectly.
 */
static inline __attribute__((always_inline)) int cache_ref(struct cache *c, uint64_t pa)
{
	if (cache_ref_last(c, pa))
		return CACHE_L1;
	return cache_ref_rest(c, pa);
}

/* Set index of line tag-1 in level l (tests: placement and hashing). */
uint32_t cache_set_of(const struct cache *c, int level, uint64_t pa);

#endif

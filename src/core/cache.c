/*
 * cache.c - the cache hierarchy model (see cache.h for the organisation and
 * the invariants).
 *
 * Sections: private helpers (hashing, one level's lookup, clock renumbering),
 * API.
 */
#include <stdlib.h>
#include <string.h>

#include "cache.h"

/* ---- private helpers ---------------------------------------------------- */

/* The set hash of L2 and LLC is cache_line_hash() (cache.h). */
static inline uint64_t line_hash(uint64_t line)
{
	return cache_line_hash(line);
}

static inline uint32_t level_set(const struct cache_level *lv, uint64_t line)
{
	if (lv->hashed)
		return (uint32_t)line_hash(line) & lv->mask;
	return (uint32_t)line & lv->mask;
}

/*
 * Renumber the stamps of every set of the stamp levels to ticks 1..n in LRU
 * order (0 stays the empty ways' tick), so that the clock can restart small
 * without changing any replacement decision. The clock ticks once per
 * reference that looks in a stamp level: this runs at most once every 2^26
 * such references.
 */
static __attribute__((noinline, cold)) void cache_renumber(struct cache *c)
{
	uint32_t max_ways = 0;

	for (int l = 0; l < CACHE_LEVELS; l++) {
		struct cache_level *lv = &c->lvl[l];

		if (lv->stamp == NULL)
			continue; /* an order level has no stamps */
		for (uint32_t s = 0; s < lv->sets; s++) {
			uint64_t *tag = lv->tag + (size_t)s * lv->ways;
			uint32_t *stamp = lv->stamp + (size_t)s * lv->ways;
			uint32_t rank[CACHE_MAX_WAYS];

			for (uint32_t w = 0; w < lv->ways; w++) {
				rank[w] = 0;
				if (tag[w] == 0)
					continue;
				for (uint32_t v = 0; v < lv->ways; v++)
					if (tag[v] != 0 && stamp[v] <= stamp[w])
						rank[w]++;
			}
			for (uint32_t w = 0; w < lv->ways; w++)
				stamp[w] = rank[w] << CACHE_STAMP_WAY_BITS | w;
		}
		if (lv->ways > max_ways)
			max_ways = lv->ways;
	}
	c->clock = max_ways << CACHE_STAMP_WAY_BITS;
}

/* The tick of the next use in a stamp level: stamp it as now | way. */
static inline uint32_t cache_tick(struct cache *c)
{
	if (unlikely(c->clock >= CACHE_CLOCK_LIMIT))
		cache_renumber(c);
	return c->clock += CACHE_CLOCK_STEP;
}

/* Four stamps side by side (a GCC/Clang vector: SSE2 registers on x86-64,
 * plain code on hosts without vectors). */
typedef int32_t stamp_v4 __attribute__((vector_size(16)));

static inline stamp_v4 stamp_v4_min(stamp_v4 a, stamp_v4 b)
{
	stamp_v4 lt = a < b; /* -1 where a < b */

	return (a & lt) | (b & ~lt);
}

/* The victim of a stamp set: the way of the smallest stamp (the LRU way,
 * or the lowest empty one: cache.h). A min reduction over signed values
 * (every stamp is below 2^31), two lanes of doubles at a time on SSE2
 * hosts, else four lanes of integers, when the ways are a multiple of
 * four; the way is the stamp's low bits. */
static inline __attribute__((always_inline)) uint32_t stamp_victim(const uint32_t *stamp,
								   uint32_t ways)
{
	int32_t oldest;

#if defined(__SSE2__)
	if (ways % 4 == 0) {
		/* The stamps two at a time as doubles (cvtdq2pd: exact, every
		 * stamp is below 2^31), reduced with minpd, one instruction
		 * per pair where SSE2's 32-bit signed minimum takes four or
		 * five; two chains of pairs, joined at the end. The stamps of
		 * a set are distinct (their low bits are the way), so the
		 * minimum is the one stamp an integer reduction finds,
		 * and converting it back is exact. */
		__m128d a = _mm_cvtepi32_pd(_mm_loadl_epi64((const __m128i *)(const void *)stamp));
		__m128d b =
		    _mm_cvtepi32_pd(_mm_loadl_epi64((const __m128i *)(const void *)(stamp + 2)));

#pragma GCC unroll 8
		for (uint32_t w = 4; w < ways; w += 4) {
			a = _mm_min_pd(a, _mm_cvtepi32_pd(_mm_loadl_epi64(
					      (const __m128i *)(const void *)(stamp + w))));
			b = _mm_min_pd(b, _mm_cvtepi32_pd(_mm_loadl_epi64(
					      (const __m128i *)(const void *)(stamp + w + 2))));
		}
		a = _mm_min_pd(a, b);
		a = _mm_min_sd(a, _mm_unpackhi_pd(a, a));
		return (uint32_t)_mm_cvttsd_si32(a) & (CACHE_CLOCK_STEP - 1);
	}
#endif
	if (ways % 4 == 0) {
		stamp_v4 m, x;

		memcpy(&m, stamp, sizeof(m));
#pragma GCC unroll 8
		for (uint32_t w = 4; w < ways; w += 4) {
			memcpy(&x, stamp + w, sizeof(x));
			m = stamp_v4_min(m, x);
		}
		oldest = m[0] < m[1] ? m[0] : m[1];
		oldest = m[2] < oldest ? m[2] : oldest;
		oldest = m[3] < oldest ? m[3] : oldest;
	} else {
		oldest = (int32_t)stamp[0];
#pragma GCC unroll 16
		for (uint32_t w = 1; w < ways; w++)
			oldest = (int32_t)stamp[w] < oldest ? (int32_t)stamp[w] : oldest;
	}
	return (uint32_t)oldest & (CACHE_CLOCK_STEP - 1);
}

/*
 * Search one set of a stamp level without signatures (more than 16 ways)
 * for tag at tick now. A hit makes it MRU; a miss fills stamp_victim().
 * Returns true on a hit.
 */
static bool stamp_touch(struct cache_level *lv, uint32_t set, uint64_t tag, uint32_t now)
{
	size_t base = (size_t)set * lv->ways;
	uint64_t *t = lv->tag + base;
	uint32_t *stamp = lv->stamp + base;
	uint32_t victim;

	for (uint32_t w = 0; w < lv->ways; w++) {
		if (t[w] == tag) {
			stamp[w] = now | w;
			return true;
		}
	}
	victim = stamp_victim(stamp, lv->ways);
	t[victim] = tag;
	stamp[victim] = now | victim;
	return false;
}

/* The order word of an empty set of 'ways' ways: way ways-1-i at position
 * i, so way 0 is the LRU. */
static uint64_t order_empty(uint32_t ways)
{
	uint64_t o = 0;

	for (uint32_t i = 0; i < ways; i++)
		o |= (uint64_t)(ways - 1 - i) << (4 * i);
	return o;
}

/*
 * Look tag up in set 'set' of the L1, whichever LRU form it keeps
 * (cache_order_touch() or stamp_touch()). Returns true on a hit.
 */
static inline __attribute__((always_inline)) bool l1_touch(struct cache *c, struct cache_level *lv,
							   uint32_t set, uint64_t tag)
{
	if (likely(lv->order != NULL)) {
		uint64_t *t = lv->tag + (size_t)set * lv->ways, *o = lv->order + set;

		switch (lv->ways) {
		case 8:
			return cache_order_touch(t, o, 8, tag);
		default:
			return cache_order_touch(t, o, lv->ways, tag);
		}
	}
	return stamp_touch(lv, set, tag, cache_tick(c));
}

/* Note in lv's line index, if it has one, that line tag-1 is at position
 * pos (cache.h: a hint, checked by the tag compare at pos before use). */
static inline __attribute__((always_inline)) void where_note(struct cache_level *lv, uint64_t tag,
							     size_t pos)
{
	if (lv->where != NULL)
		lv->where[(tag - 1) & lv->where_mask] = (uint32_t)pos;
}

/*
 * Look tag up in set 'set' of a hashed level of 'ways' <= 16 ways, whose
 * tags are t and signatures sig; s is the line's signature, v its splat. A
 * hit becomes the MRU and a miss fills the LRU way, in the level's form of
 * LRU (order word or stamps). With note, the way is noted in the level's
 * line index, if it has one. Returns true on a hit.
 */
static inline __attribute__((always_inline)) bool
sig_touch(struct cache *c, struct cache_level *lv, uint32_t set, uint64_t *t, uint8_t *sig,
	  uint32_t ways, uint64_t tag, uint8_t s, cache_sigv v, bool note)
{
	if (lv->order != NULL)
		return cache_order_touch_sig(t, sig, lv->order + set, ways, tag, s, v);

	uint32_t *stamp = lv->stamp + (size_t)set * ways, now = cache_tick(c);
	int w = cache_way_find_sig(t, sig, ways, tag, v);

	if (w >= 0) {
		stamp[w] = now | (uint32_t)w;
		if (note)
			where_note(lv, tag, (size_t)set * ways + (uint32_t)w);
		return true;
	}
	uint32_t victim = stamp_victim(stamp, ways);

	t[victim] = tag;
	sig[victim] = s;
	stamp[victim] = now | victim;
	if (note)
		where_note(lv, tag, (size_t)set * ways + victim);
	return false;
}

/*
 * Look tag, whose line hashes to h, up in hashed level lv (L2 or LLC):
 * sig_touch() in a level of at most 16 ways, stamp_touch() above; note as
 * for sig_touch(). Returns true on a hit.
 */
static inline __attribute__((always_inline)) bool
hashed_touch(struct cache *c, struct cache_level *lv, uint64_t h, uint64_t tag, bool note)
{
	uint32_t set = (uint32_t)h & lv->mask;

	if (unlikely(lv->sig == NULL))
		return stamp_touch(lv, set, tag, cache_tick(c));

	uint8_t s = cache_sig_of(h);
	cache_sigv v = cache_sig_splat(s);
	uint8_t *sig = lv->sig + (size_t)set * CACHE_SIG_BYTES;
	uint32_t n = lv->ways;
	uint64_t *t = lv->tag + (size_t)set * n;

	switch (n) {
	case 8:
		return sig_touch(c, lv, set, t, sig, 8, tag, s, v, note);
	case 11: /* skylake-sp's LLC slice */
		return sig_touch(c, lv, set, t, sig, 11, tag, s, v, note);
	case 16:
		return sig_touch(c, lv, set, t, sig, 16, tag, s, v, note);
	default:
		return sig_touch(c, lv, set, t, sig, n, tag, s, v, note);
	}
}

/*
 * L2, then LLC, for a reference to tag that missed the L1, whose line
 * hashes to h (both levels are indexed by it); note: whether the L2 line
 * index notes where the line is (sig_touch()). Counts the level that
 * served it and returns it.
 */
static inline __attribute__((always_inline)) int ref_lower(struct cache *c, uint64_t tag,
							   uint64_t h, bool note)
{
	int served;

	if (hashed_touch(c, &c->lvl[1], h, tag, note))
		served = CACHE_L2;
	else if (hashed_touch(c, &c->lvl[2], h, tag, false))
		served = CACHE_LLC;
	else
		served = CACHE_DRAM;
	c->served[served - 1]++;
	return served;
}

/*
 * One whole reference to tag (line tag-1, which hashes to h) after the
 * last-line memo, the L1 indexed by line bits: the body of cache_ref() that
 * cache_ref_slow() and cache_ref_page() share. Leaves c->last alone,
 * and the L2 line index too: cache_ref_slow() runs only without one, and
 * the lines of a page pass (mostly a page the guest just zeroed, whose
 * later references miss the L1 only long after) would write entries that
 * are rarely read; an L2 hit on such a line is found by the hashed search,
 * which notes it then.
 */
static inline __attribute__((always_inline)) int ref_line(struct cache *c, uint64_t tag,
							  uint64_t h)
{
	struct cache_level *l1 = &c->lvl[0];

	if (l1_touch(c, l1, (uint32_t)(tag - 1) & l1->mask, tag)) {
		c->served[0]++;
		return CACHE_L1;
	}
	return ref_lower(c, tag, h, false);
}

/*
 * The lines first .. first+n-1 referenced in turn (cache_ref_page()). The
 * hash of line first+i is computed from the product of the one before: the
 * first multiply of cache_line_hash() is line * K, and (line + 1) * K =
 * line * K + K modulo 2^64, so the hash is the same. No line of the run can
 * be c->last (the caller checked the first, and each later line differs from
 * the one before it), so none could take the memo.
 */
static void ref_lines(struct cache *c, uint64_t first, uint32_t n)
{
	uint64_t k = first * CACHE_HASH_K1;

	for (uint32_t i = 0; i < n; i++, k += CACHE_HASH_K1)
		(void)ref_line(c, first + i + 1, cache_hash_fold(k));
}

/*
 * ref_lines() for the machine profiles' forms: an 8-way order-kept L1, an
 * L2 of w2 <= 16 ways kept by stamps with signatures, an LLC of w3 <= 16
 * ways kept by an order word with signatures (cache_init() gives every
 * level of at most 16 ways but the L2 an order word, and every hashed one
 * signatures), and no stamp renumbering due within the pass (the caller
 * checked: clock < CACHE_CLOCK_LIMIT - n * CACHE_CLOCK_STEP). Each line is
 * what ref_line() does to it, step for step: the same L1 search and fill,
 * the same L2 search, tick, victim and fill, the same LLC search, use or
 * fill; only where the state lives differs:
 *   - every field of *c the loop reads is copied into a local first, and
 *     the clock and the served counts are kept in locals and written back
 *     at the end. The loop stores only into the arrays the levels point to,
 *     never into *c, so the copies stay equal to the fields; without them
 *     each uint8_t signature store (which may alias any object) makes the
 *     compiler reload them from *c for every line;
 *   - the clock's renumbering check of cache_tick() is left out, since the
 *     caller proved it false for all n ticks (at most one per line);
 *   - a line's hash is folded only when it missed the L1 (ref_line()'s L2
 *     and LLC are the only users of it).
 */
static inline __attribute__((always_inline)) void
page_lines(struct cache *c, uint64_t first, uint32_t n, uint32_t w2, uint32_t w3)
{
	uint64_t *const t1 = c->lvl[0].tag, *const o1 = c->lvl[0].order;
	uint64_t *const t2 = c->lvl[1].tag, *const t3 = c->lvl[2].tag, *const o3 = c->lvl[2].order;
	uint8_t *const g2 = c->lvl[1].sig, *const g3 = c->lvl[2].sig;
	uint32_t *const st2 = c->lvl[1].stamp;
	const uint32_t m1 = c->lvl[0].mask, m2 = c->lvl[1].mask, m3 = c->lvl[2].mask;
	uint32_t clock = c->clock;
	uint64_t n1 = 0, n2 = 0, n3 = 0, n4 = 0; /* served by L1, L2, LLC, DRAM */
	uint64_t k = first * CACHE_HASH_K1;

	for (uint32_t i = 0; i < n; i++, k += CACHE_HASH_K1) {
		uint64_t tag = first + i + 1;
		uint32_t s1 = (uint32_t)(tag - 1) & m1;

		if (cache_order_touch(t1 + (size_t)s1 * 8, o1 + s1, 8, tag)) {
			n1++;
			continue;
		}
		uint64_t h = cache_hash_fold(k); /* ref_lines(): line_hash(tag - 1) */
		uint8_t s = cache_sig_of(h);
		cache_sigv v = cache_sig_splat(s);
		uint32_t s2 = (uint32_t)h & m2;
		uint64_t *t = t2 + (size_t)s2 * w2;
		uint8_t *sig = g2 + (size_t)s2 * CACHE_SIG_BYTES;
		uint32_t *stamp = st2 + (size_t)s2 * w2;
		int w;

		clock += CACHE_CLOCK_STEP; /* cache_tick(), no renumbering due */
		w = cache_way_find_sig(t, sig, w2, tag, v);
		if (w >= 0) { /* sig_touch()'s hit, the index left alone */
			stamp[w] = clock | (uint32_t)w;
			n2++;
			continue;
		}
		uint32_t victim = stamp_victim(stamp, w2);

		t[victim] = tag;
		sig[victim] = s;
		stamp[victim] = clock | victim;
		uint32_t s3 = (uint32_t)h & m3;

		if (cache_order_touch_sig(t3 + (size_t)s3 * w3, g3 + (size_t)s3 * CACHE_SIG_BYTES,
					  o3 + s3, w3, tag, s, v))
			n3++;
		else
			n4++;
	}
	c->clock = clock;
	c->served[0] += n1;
	c->served[1] += n2;
	c->served[2] += n3;
	c->served[3] += n4;
}

static int geom_ok(const struct cache_geom *g)
{
	return g->sets >= 1 && g->sets <= CACHE_MAX_SETS && (g->sets & (g->sets - 1)) == 0 &&
	       g->ways >= 1 && g->ways <= CACHE_MAX_WAYS;
}

/* ---- API ------------------------------------------------------------------ */

int cache_init(struct cache *c, const struct cache_geom geom[CACHE_LEVELS], bool on)
{
	memset(c, 0, sizeof(*c));
	c->last = CACHE_NO_LINE;
	c->on = on;
	for (int l = 0; l < CACHE_LEVELS; l++)
		if (!geom_ok(&geom[l]))
			return -1;
	if (!on)
		return 0;
	for (int l = 0; l < CACHE_LEVELS; l++) {
		struct cache_level *lv = &c->lvl[l];
		size_t n = (size_t)geom[l].sets * geom[l].ways;

		lv->sets = geom[l].sets;
		lv->ways = geom[l].ways;
		lv->mask = geom[l].sets - 1;
		lv->hashed = l > 0;
		lv->tag = calloc(n, sizeof(*lv->tag));
		/* The L2 stamps (its references mostly hit on the TLB-hit
		 * path, and a stamp hit is one store); L1 and LLC keep order
		 * words up to 16 ways (cache.h). */
		if (lv->ways <= 16 && l != 1)
			lv->order = calloc(lv->sets, sizeof(*lv->order));
		else
			lv->stamp = calloc(n, sizeof(*lv->stamp));
		if (lv->ways <= 16 && lv->hashed)
			lv->sig =
			    aligned_alloc(CACHE_SIG_BYTES, (size_t)lv->sets * CACHE_SIG_BYTES);
		if (lv->tag == NULL || (lv->order == NULL && lv->stamp == NULL) ||
		    (lv->ways <= 16 && lv->hashed && lv->sig == NULL)) {
			cache_destroy(c);
			return -1;
		}
	}
	c->l1_order8 = c->lvl[0].order != NULL && c->lvl[0].ways == 8;
	c->l2_ways16 = c->l1_order8 && c->lvl[1].ways == 16;
	if (c->l2_ways16) {
		/* The L2 line index of the inline path: CACHE_WHERE_PER_LINE
		 * entries per L2 line, rounded up to a power of two. Every
		 * entry starts at position 0, a valid position (cache.h). */
		struct cache_level *l2 = &c->lvl[1];
		size_t n = 1, want = (size_t)l2->sets * l2->ways * CACHE_WHERE_PER_LINE;

		while (n < want)
			n <<= 1;
		l2->where = calloc(n, sizeof(*l2->where));
		if (l2->where == NULL) {
			cache_destroy(c);
			return -1;
		}
		l2->where_mask = (uint32_t)(n - 1);
	}
	c->l2_below = c->l2_ways16 ? CACHE_CLOCK_LIMIT : 0;
	cache_clear(c);
	return 0;
}

void cache_destroy(struct cache *c)
{
	for (int l = 0; l < CACHE_LEVELS; l++) {
		free(c->lvl[l].tag);
		free(c->lvl[l].stamp);
		free(c->lvl[l].order);
		free(c->lvl[l].sig);
		free(c->lvl[l].where);
	}
	memset(c, 0, sizeof(*c));
}

void cache_clear(struct cache *c)
{
	for (int l = 0; l < CACHE_LEVELS; l++) {
		struct cache_level *lv = &c->lvl[l];
		size_t n = (size_t)lv->sets * lv->ways;

		if (lv->tag != NULL)
			memset(lv->tag, 0, n * sizeof(*lv->tag));
		for (size_t i = 0; lv->stamp != NULL && i < n; i++)
			lv->stamp[i] = (uint32_t)(i % lv->ways); /* tick 0: empty */
		if (lv->sig != NULL)
			memset(lv->sig, 0, (size_t)lv->sets * CACHE_SIG_BYTES);
		if (lv->order != NULL) {
			uint64_t o = order_empty(lv->ways);

			for (uint32_t i = 0; i < lv->sets; i++)
				lv->order[i] = o;
		}
	}
	/* The L2 line index is left as it is: its entries stay valid
	 * positions, and no tag compare matches an empty way (cache.h). */
	c->last = CACHE_NO_LINE;
	c->clock = 0;
}

/*
 * cache_ref_l2_search() with the LLC's ways w3 known (an order level with
 * signatures), or 0 for any LLC. It is ref_lower(c, tag, h, true) for an
 * L2 of 16 ways, step for step: the L2's signature search, tick, hit stamp
 * or victim and fill, and index note as sig_touch() makes them, then the
 * LLC as hashed_touch() looks it up. Two differences in form only:
 *   - the clock's renumbering check of cache_tick() is left out for the L2
 *     tick: cache_ref_rest() comes here only while clock < l2_below, which
 *     is CACHE_CLOCK_LIMIT when the L2 has this path, and cache_tick()
 *     renumbers only at clock >= CACHE_CLOCK_LIMIT;
 *   - the L2 fill's signature byte is stored after the other stores and
 *     the L2 field reads (a uint8_t store may alias any object, so the
 *     compiler would reload every field read after it).
 */
static inline __attribute__((always_inline)) int l2_search(struct cache *c, uint64_t tag,
							   uint32_t w3)
{
	struct cache_level *l2 = &c->lvl[1];
	uint64_t h = line_hash(tag - 1);
	uint32_t set = (uint32_t)h & l2->mask;
	size_t base = (size_t)set * 16;
	uint64_t *t = l2->tag + base;
	uint32_t *stamp = l2->stamp + base, *where = l2->where + ((tag - 1) & l2->where_mask);
	uint8_t *sig = l2->sig + (size_t)set * CACHE_SIG_BYTES, s = cache_sig_of(h);
	cache_sigv v = cache_sig_splat(s);
	uint32_t now = c->clock += CACHE_CLOCK_STEP;
	int w = cache_way_find_sig(t, sig, 16, tag, v);
	int served;

	if (w >= 0) {
		stamp[w] = now | (uint32_t)w;
		*where = (uint32_t)(base + (uint32_t)w);
		c->served[CACHE_L2 - 1]++;
		return CACHE_L2;
	}
	uint32_t victim = stamp_victim(stamp, 16);

	t[victim] = tag;
	stamp[victim] = now | victim;
	*where = (uint32_t)(base + victim);
	if (w3 != 0) {
		struct cache_level *llc = &c->lvl[2];
		uint32_t s3 = (uint32_t)h & llc->mask;
		uint64_t *t3 = llc->tag + (size_t)s3 * w3, *o3 = llc->order + s3;
		uint8_t *g3 = llc->sig + (size_t)s3 * CACHE_SIG_BYTES;

		sig[victim] = s;
		served = cache_order_touch_sig(t3, g3, o3, w3, tag, s, v) ? CACHE_LLC : CACHE_DRAM;
	} else {
		sig[victim] = s;
		served = hashed_touch(c, &c->lvl[2], h, tag, false) ? CACHE_LLC : CACHE_DRAM;
	}
	c->served[served - 1]++;
	return served;
}

/* l2_search() for any LLC, out of line: the machine profile's copy below
 * then keeps fewer registers live. */
static __attribute__((noinline)) int l2_search_any(struct cache *c, uint64_t tag)
{
	return l2_search(c, tag, 0);
}

int cache_ref_l2_search(struct cache *c, uint64_t tag)
{
	/* skylake-sp's LLC gets a copy whose LLC search is unrolled whole.
	 * An LLC of 11 ways is an order level with signatures: cache_init()
	 * gives every level of at most 16 ways but the L2 an order word, and
	 * every hashed one of at most 16 ways signatures. */
	if (c->lvl[2].ways == 11)
		return l2_search(c, tag, 11);
	return l2_search_any(c, tag);
}

int cache_ref_lower(struct cache *c, uint64_t tag)
{
	return ref_lower(c, tag, line_hash(tag - 1), true);
}

int cache_ref_slow(struct cache *c, uint64_t tag)
{
	c->last = tag - 1;
	/* The L1 is indexed by line bits, L2 and LLC by one hash (cache_init()). */
	return ref_line(c, tag, line_hash(tag - 1));
}

void cache_ref_page(struct cache *c, uint64_t pa)
{
	const uint32_t n = PAGE_SIZE >> CACHE_LINE_SHIFT;
	uint64_t first = (pa >> CACHE_LINE_SHIFT) & ~(uint64_t)(n - 1), end = first + n;

	if (!c->on) {
		c->served[0] += n; /* every reference an L1 hit (cache_ref_last()) */
		return;
	}
	if (first == c->last) {
		c->served[0]++; /* the memo takes the first line, as in cache_ref() */
		first++;
	}
	/* A later line that is c->last is the MRU of its L1 set: the full
	 * search hits it and changes no LRU order, as the memo would. The
	 * machine profiles' geometries get a copy whose searches are unrolled
	 * whole. */
	const struct cache_level *l2 = &c->lvl[1], *llc = &c->lvl[2];
	uint32_t m = (uint32_t)(end - first);

	/* page_lines() wants no renumbering within the pass: it ticks at most
	 * m times, and before each tick the clock is then below
	 * CACHE_CLOCK_LIMIT, so cache_tick() would not renumber either. */
	bool no_renumber = c->clock < CACHE_CLOCK_LIMIT - m * CACHE_CLOCK_STEP;

	if (c->l2_ways16 && llc->order != NULL && llc->ways == 11 && no_renumber)
		page_lines(c, first, m, 16, 11); /* skylake-sp */
	else if (c->l1_order8 && l2->ways == 8 && llc->order != NULL && llc->ways == 16 &&
		 no_renumber)
		page_lines(c, first, m, 8, 16); /* zen2 */
	else
		ref_lines(c, first, m);
	c->last = end - 1;
}

uint32_t cache_set_of(const struct cache *c, int level, uint64_t pa)
{
	return level_set(&c->lvl[level - 1], pa >> CACHE_LINE_SHIFT);
}

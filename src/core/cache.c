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
 * Renumber the stamps of every set of the stamp levels to 1..n in LRU order,
 * so that the clock can restart small without changing any replacement
 * decision. The clock ticks once per reference that looks in a stamp level
 * (every one that misses an order-kept L1): this runs at most once every
 * 2^32 references.
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
				stamp[w] = rank[w];
		}
		if (lv->ways > max_ways)
			max_ways = lv->ways;
	}
	c->clock = max_ways;
}

/*
 * Search one set of 'ways' ways for tag at time now. A hit makes it MRU; a
 * miss fills it over the first empty way, else the LRU way (an empty way's
 * stamp is 0, below every occupied one; ties go to the lowest way). Returns
 * true on a hit. The tag search runs first with nothing else in its loop
 * (most references that get here miss L1); only on a miss is the oldest
 * stamp found, then the lowest way that holds it.
 */
static inline __attribute__((always_inline)) bool
set_touch(uint64_t *t, uint32_t *stamp, uint32_t ways, uint64_t tag, uint32_t now)
{
#pragma GCC unroll 16
	for (uint32_t w = 0; w < ways; w++) {
		if (t[w] == tag) {
			stamp[w] = now;
			return true;
		}
	}
	uint32_t oldest = stamp[0];

#pragma GCC unroll 16
	for (uint32_t w = 1; w < ways; w++)
		oldest = stamp[w] < oldest ? stamp[w] : oldest;
	uint32_t victim = 0;

#pragma GCC unroll 16
	while (stamp[victim] != oldest)
		victim++;
	t[victim] = tag;
	stamp[victim] = now;
	return false;
}

/* Look tag up in a stamp level (set_touch() on its set), whose set is
 * 'set'. The common associativities get a copy whose loops the compiler
 * unrolls whole. */
static inline __attribute__((always_inline)) bool stamp_touch(struct cache_level *lv, uint32_t set,
							      uint64_t tag, uint32_t now)
{
	size_t base = (size_t)set * lv->ways;
	uint64_t *t = lv->tag + base;
	uint32_t *stamp = lv->stamp + base;

	switch (lv->ways) {
	case 8:
		return set_touch(t, stamp, 8, tag, now);
	case 11: /* skylake-sp's LLC slice */
		return set_touch(t, stamp, 11, tag, now);
	case 16:
		return set_touch(t, stamp, 16, tag, now);
	default:
		return set_touch(t, stamp, lv->ways, tag, now);
	}
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

/* Look tag up in an order level, in set 'set'. */
static inline __attribute__((always_inline)) bool order_touch(struct cache_level *lv, uint32_t set,
							      uint64_t tag)
{
	uint64_t *order = lv->order + set;

	switch (lv->ways) {
	case 8:
		return cache_order_touch(lv->tag + (size_t)set * 8, order, 8, tag);
	default:
		return cache_order_touch(lv->tag + (size_t)set * lv->ways, order, lv->ways, tag);
	}
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
		if (l == 0 && lv->ways <= 16)
			lv->order = calloc(lv->sets, sizeof(*lv->order));
		else
			lv->stamp = calloc(n, sizeof(*lv->stamp));
		if (lv->tag == NULL || (lv->order == NULL && lv->stamp == NULL)) {
			cache_destroy(c);
			return -1;
		}
	}
	c->l1_order8 = c->lvl[0].order != NULL && c->lvl[0].ways == 8;
	c->l2_ways16 = c->l1_order8 && c->lvl[1].ways == 16;
	cache_clear(c);
	return 0;
}

void cache_destroy(struct cache *c)
{
	for (int l = 0; l < CACHE_LEVELS; l++) {
		free(c->lvl[l].tag);
		free(c->lvl[l].stamp);
		free(c->lvl[l].order);
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
		if (lv->stamp != NULL)
			memset(lv->stamp, 0, n * sizeof(*lv->stamp));
		if (lv->order != NULL) {
			uint64_t o = order_empty(lv->ways);

			for (uint32_t i = 0; i < lv->sets; i++)
				lv->order[i] = o;
		}
	}
	c->last = CACHE_NO_LINE;
	c->clock = 0;
}

/* The next LRU clock value of the stamp levels. */
static inline uint32_t cache_tick(struct cache *c)
{
	if (unlikely(c->clock == UINT32_MAX))
		cache_renumber(c);
	return ++c->clock;
}

/* The LRU way of a 16-way stamp set, its victim (set_touch()'s miss half). */
static inline uint32_t stamp16_victim(const uint32_t *stamp)
{
	uint32_t oldest = stamp[0], victim = 0;

#pragma GCC unroll 16
	for (uint32_t w = 1; w < 16; w++)
		oldest = stamp[w] < oldest ? stamp[w] : oldest;
#pragma GCC unroll 16
	while (stamp[victim] != oldest)
		victim++;
	return victim;
}

int cache_ref_l2_miss(struct cache *c, uint64_t tag, uint64_t h)
{
	struct cache_level *l2 = &c->lvl[1];
	uint32_t now = cache_tick(c);
	size_t base = (size_t)((uint32_t)h & l2->mask) * 16;
	uint32_t victim = stamp16_victim(l2->stamp + base);
	int served = CACHE_DRAM;

	l2->tag[base + victim] = tag;
	l2->stamp[base + victim] = now;
	if (stamp_touch(&c->lvl[2], (uint32_t)h & c->lvl[2].mask, tag, now))
		served = CACHE_LLC;
	c->served[served - 1]++;
	return served;
}

/* L2, then LLC, for a reference that missed the L1; now is its tick. */
static inline __attribute__((always_inline)) int ref_lower(struct cache *c, uint64_t tag,
							   uint32_t now)
{
	uint64_t h = line_hash(tag - 1);
	int served;

	if (stamp_touch(&c->lvl[1], (uint32_t)h & c->lvl[1].mask, tag, now))
		served = CACHE_L2;
	else if (stamp_touch(&c->lvl[2], (uint32_t)h & c->lvl[2].mask, tag, now))
		served = CACHE_LLC;
	else
		served = CACHE_DRAM;
	c->served[served - 1]++;
	return served;
}

int cache_ref_lower(struct cache *c, uint64_t tag)
{
	return ref_lower(c, tag, cache_tick(c));
}

int cache_ref_slow(struct cache *c, uint64_t tag)
{
	struct cache_level *l1 = &c->lvl[0];
	uint32_t set = (uint32_t)(tag - 1) & l1->mask;

	c->last = tag - 1;
	/* The L1 is indexed by line bits, L2 and LLC by one hash (cache_init()). */
	if (l1->order != NULL) {
		if (order_touch(l1, set, tag)) {
			c->served[0]++;
			return CACHE_L1;
		}
		return ref_lower(c, tag, cache_tick(c));
	}
	uint32_t now = cache_tick(c);

	if (stamp_touch(l1, set, tag, now)) {
		c->served[0]++;
		return CACHE_L1;
	}
	return ref_lower(c, tag, now);
}

uint32_t cache_set_of(const struct cache *c, int level, uint64_t pa)
{
	return level_set(&c->lvl[level - 1], pa >> CACHE_LINE_SHIFT);
}

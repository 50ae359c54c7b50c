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

/*
 * Hash of the line number: multiply by 2^64/phi, fold, multiply again and
 * fold (the finaliser of a 64-bit mixer), then keep the low bits. Every
 * address bit above the line offset moves the set, arithmetic sequences of
 * frames spread like random ones, and the function is fixed, so a run is
 * deterministic. Real LLCs use XOR trees of physical address bits whose exact
 * form is undocumented; any hash that spreads frames evenly serves here.
 */
static inline uint64_t line_hash(uint64_t line)
{
	uint64_t x = line * UINT64_C(0x9e3779b97f4a7c15);

	x ^= x >> 32;
	x *= UINT64_C(0xff51afd7ed558ccd);
	return x ^ (x >> 29);
}

static inline uint32_t level_set(const struct cache_level *lv, uint64_t line)
{
	if (lv->hashed)
		return (uint32_t)line_hash(line) & lv->mask;
	return (uint32_t)line & lv->mask;
}

/*
 * Renumber the stamps of every set to 1..n in LRU order, so that the clock
 * can restart small without changing any replacement decision. Runs once
 * every 2^32 references.
 */
static __attribute__((noinline, cold)) void cache_renumber(struct cache *c)
{
	uint32_t max_ways = 0;

	for (int l = 0; l < CACHE_LEVELS; l++) {
		struct cache_level *lv = &c->lvl[l];

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

/* Look tag up in one level (set_touch() on its set). The common
 * associativities get a copy whose loops the compiler unrolls whole.
 * hashed is lv->hashed, given as a constant by the caller. */
static inline __attribute__((always_inline)) bool level_touch(struct cache_level *lv, bool hashed,
							      uint64_t tag, uint32_t now)
{
	uint64_t line = tag - 1;
	uint32_t set = (uint32_t)(hashed ? line_hash(line) : line) & lv->mask;
	size_t base = (size_t)set * lv->ways;
	uint64_t *t = lv->tag + base;
	uint32_t *stamp = lv->stamp + base;

	switch (lv->ways) {
	case 8:
		return set_touch(t, stamp, 8, tag, now);
	case 16:
		return set_touch(t, stamp, 16, tag, now);
	default:
		return set_touch(t, stamp, lv->ways, tag, now);
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
		lv->stamp = calloc(n, sizeof(*lv->stamp));
		if (lv->tag == NULL || lv->stamp == NULL) {
			cache_destroy(c);
			return -1;
		}
	}
	return 0;
}

void cache_destroy(struct cache *c)
{
	for (int l = 0; l < CACHE_LEVELS; l++) {
		free(c->lvl[l].tag);
		free(c->lvl[l].stamp);
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
	}
	c->last = 0;
	c->clock = 0;
}

int cache_ref_slow(struct cache *c, uint64_t tag)
{
	int served = CACHE_DRAM;

	c->last = tag;
	if (!c->on) {
		c->served[0]++;
		return CACHE_L1;
	}
	if (unlikely(c->clock == UINT32_MAX))
		cache_renumber(c);
	uint32_t now = ++c->clock;

	/* The L1 is indexed by line bits, L2 and LLC by hash (cache_init()). */
	if (level_touch(&c->lvl[0], false, tag, now))
		served = CACHE_L1;
	else if (level_touch(&c->lvl[1], true, tag, now))
		served = CACHE_L2;
	else if (level_touch(&c->lvl[2], true, tag, now))
		served = CACHE_LLC;
	c->served[served - 1]++;
	return served;
}

uint32_t cache_set_of(const struct cache *c, int level, uint64_t pa)
{
	return level_set(&c->lvl[level - 1], pa >> CACHE_LINE_SHIFT);
}

/*
 * test_cachefast.c - the cache model's fast paths (cache.h: the last-line
 * memo, the inline 8-way L1 search and its rotating fill, the L2 line index,
 * the signature searches, the page pass) against a reference model written
 * as plainly as the rules read.
 *
 * The reference keeps, for every set of every level, its lines in LRU order
 * in a plain list (most recent first, empty slots last). A reference looks
 * in L1, L2 and LLC in turn and stops at the first level that holds the
 * line; the line moves to the front of every list it was found or filled
 * in, and a full list drops its last (least recent) line. Set placement is
 * the model's definition (L1: the line's low bits; L2 and LLC: the line
 * hash, cache_line_hash()).
 *
 * A long pseudo-random stream mixes the patterns that take each path:
 * repeats of the last line, re-references of a small hot set, sequential
 * runs, random lines of a region a few times the L2, lines far apart, and
 * page passes (cache_ref_page()). It runs through the model and through the
 * reference: every single reference must be served by the same level, the
 * served counters must agree after every page pass, and at checkpoints and
 * at the end every set of every level must hold the same lines in the same
 * LRU order. The machine profiles' geometries are checked (skylake-sp's
 * takes the L2 line index; zen2's 8-way L2 does not), and a small one that
 * takes the index with many collisions. A second run overwrites entries of
 * the L2 line index with arbitrary positions along the way, which must change
 * nothing: the index is a hint that the tag compare checks. A third kind of
 * run keeps moving the stamp clock up close to its limit, so that the
 * stamps are renumbered again and again: in single references, in the
 * hashed L2 search, and in page passes (which take their general loop when
 * the pass might reach the limit).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/core/cache.h"

#define LINE(n) ((uint64_t)(n)*64)

/* ---- the reference model ------------------------------------------------- */

struct ref_level {
	uint32_t sets, ways;
	bool hashed;
	uint64_t *lru; /* sets * ways tags (line + 1), per set MRU first, 0 = empty */
};

struct ref_cache {
	struct ref_level lvl[CACHE_LEVELS];
	uint64_t served[4];
};

static void ref_init(struct ref_cache *r, const struct cache_geom g[CACHE_LEVELS])
{
	memset(r, 0, sizeof(*r));
	for (int l = 0; l < CACHE_LEVELS; l++) {
		r->lvl[l].sets = g[l].sets;
		r->lvl[l].ways = g[l].ways;
		r->lvl[l].hashed = l > 0;
		r->lvl[l].lru = calloc((size_t)g[l].sets * g[l].ways, sizeof(uint64_t));
		assert_non_null(r->lvl[l].lru);
	}
}

static void ref_destroy(struct ref_cache *r)
{
	for (int l = 0; l < CACHE_LEVELS; l++)
		free(r->lvl[l].lru);
}

static uint32_t ref_set(const struct ref_level *lv, uint64_t line)
{
	uint64_t x = lv->hashed ? cache_line_hash(line) : line;

	return (uint32_t)(x & (lv->sets - 1));
}

/* Move tag to the front of its set's list; true if it was there. */
static bool ref_touch(struct ref_level *lv, uint64_t line)
{
	uint64_t *t = lv->lru + (size_t)ref_set(lv, line) * lv->ways, tag = line + 1;
	uint32_t i = 0;

	while (i < lv->ways - 1 && t[i] != tag && t[i] != 0)
		i++; /* i: where tag is, else the first empty slot, else the last */
	bool hit = t[i] == tag;

	memmove(t + 1, t, i * sizeof(*t));
	t[0] = tag;
	return hit;
}

static int ref_ref(struct ref_cache *r, uint64_t pa)
{
	uint64_t line = pa >> CACHE_LINE_SHIFT;
	int served = CACHE_DRAM;

	for (int l = 0; l < CACHE_LEVELS; l++)
		if (ref_touch(&r->lvl[l], line)) {
			served = l + 1;
			break;
		}
	r->served[served - 1]++;
	return served;
}

/* ---- comparing the model with the reference ------------------------------ */

/* The tags of set s of model level lv, most recent first, empty ways last. */
static void model_lru(const struct cache_level *lv, uint32_t s, uint64_t *out)
{
	const uint64_t *t = lv->tag + (size_t)s * lv->ways;

	if (lv->order != NULL) {
		for (uint32_t i = 0; i < lv->ways; i++)
			out[i] = t[(lv->order[s] >> (4 * i)) & 15];
		return;
	}
	/* Stamps: occupied ways by decreasing stamp, then the empty ones. */
	const uint32_t *st = lv->stamp + (size_t)s * lv->ways;
	uint32_t n = 0;

	for (uint32_t w = 0; w < lv->ways; w++) {
		if (t[w] == 0)
			continue;
		uint32_t rank = 0; /* occupied ways stamped later than w */

		for (uint32_t v = 0; v < lv->ways; v++)
			rank += t[v] != 0 && st[v] > st[w];
		out[rank] = t[w];
		n++;
	}
	for (uint32_t i = n; i < lv->ways; i++)
		out[i] = 0;
}

static void assert_same_contents(const struct cache *c, const struct ref_cache *r)
{
	uint64_t got[CACHE_MAX_WAYS];

	assert_memory_equal(c->served, r->served, sizeof(r->served));
	for (int l = 0; l < CACHE_LEVELS; l++) {
		const struct cache_level *lv = &c->lvl[l];
		const struct ref_level *rl = &r->lvl[l];

		for (uint32_t s = 0; s < lv->sets; s++) {
			const uint64_t *want = rl->lru + (size_t)s * rl->ways;

			model_lru(lv, s, got);
			for (uint32_t i = 0; i < lv->ways; i++)
				if (got[i] != want[i])
					fail_msg(
					    "level %d set %u: LRU position %u holds tag %" PRIu64
					    ", reference %" PRIu64,
					    l + 1, s, i, got[i], want[i]);
		}
	}
}

/* ---- the stream ---------------------------------------------------------- */

static uint64_t rnd(uint64_t *x)
{
	*x = *x * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
	return *x >> 11;
}

/*
 * n steps of the mixed stream through c and r. region is the number of
 * lines of the working region (a few times the L2). scribble: every 64
 * steps, overwrite eight L2 line index entries with arbitrary positions.
 * push_clock: every 500 steps, move the stamp clock up to 0..199 ticks
 * below CACHE_CLOCK_LIMIT (raising it keeps every invariant: it stays at
 * least every stamp's tick), and count the renumberings that follow, those
 * within a page pass apart; both must happen.
 */
static void run_stream(struct cache *c, struct ref_cache *r, uint64_t seed, uint32_t n,
		       uint64_t region, bool scribble, bool push_clock)
{
	uint64_t x = seed, hot[256], prev = 0, run = 0;
	uint32_t run_left = 0, renumbered = 0, renumbered_in_pass = 0;

	for (int i = 0; i < 256; i++)
		hot[i] = rnd(&x) % region;
	for (uint32_t i = 1; i <= n; i++) {
		uint64_t k = rnd(&x) % 100, line;

		if (push_clock && i % 500 == 0) {
			uint32_t near = CACHE_CLOCK_LIMIT -
					(uint32_t)(rnd(&x) % 200) * CACHE_CLOCK_STEP;

			if (c->clock < near)
				c->clock = near;
		}
		uint32_t clock_before = c->clock;

		if (k < 2) { /* a page pass over a page of the region */
			uint64_t pa = (rnd(&x) % (region / 64)) << 12;

			cache_ref_page(c, pa + rnd(&x) % 4096);
			renumbered_in_pass += c->clock < clock_before;
			for (uint64_t off = 0; off < 4096; off += 64)
				(void)ref_ref(r, pa + off);
			assert_memory_equal(c->served, r->served, sizeof(r->served));
			prev = (pa >> CACHE_LINE_SHIFT) + 63;
			continue;
		}
		if (k < 12)
			line = prev; /* the last line again: the memo */
		else if (k < 40)
			line = hot[rnd(&x) % 256];
		else if (k < 65) {
			if (run_left == 0) {
				run = rnd(&x) % region;
				run_left = 64 + (uint32_t)(rnd(&x) % 448);
			}
			line = run++;
			run_left--;
		} else if (k < 92)
			line = rnd(&x) % region;
		else
			line = rnd(&x) % (UINT64_C(1) << 34); /* far apart */
		uint64_t pa = LINE(line) + rnd(&x) % 64;
		int want = ref_ref(r, pa), got = cache_ref(c, pa);

		if (got != want)
			fail_msg("reference %u (line %" PRIu64 "): served by %d, reference %d", i,
				 line, got, want);
		prev = line;
		renumbered += c->clock < clock_before;
		if (scribble && c->lvl[1].where != NULL && i % 64 == 0) {
			const struct cache_level *l2 = &c->lvl[1];

			for (int j = 0; j < 8; j++)
				l2->where[rnd(&x) & l2->where_mask] =
				    (uint32_t)(rnd(&x) % ((uint64_t)l2->sets * l2->ways));
		}
		if (i % 100000 == 0)
			assert_same_contents(c, r);
	}
	assert_same_contents(c, r);
	if (push_clock && (renumbered == 0 || renumbered_in_pass == 0))
		fail_msg("renumbered %u times, %u in page passes", renumbered, renumbered_in_pass);
}

static void check_geometry(const struct cache_geom g[CACHE_LEVELS], uint64_t seed, uint32_t n,
			   bool scribble, bool want_index, bool push_clock)
{
	struct cache c;
	struct ref_cache r;
	uint64_t region = (uint64_t)g[1].sets * g[1].ways * 4;

	assert_int_equal(cache_init(&c, g, true), 0);
	ref_init(&r, g);
	if (want_index) {
		assert_non_null(c.lvl[1].where);
		/* CACHE_WHERE_PER_LINE entries per L2 line, a power of two. */
		assert_int_equal((uint64_t)c.lvl[1].where_mask + 1,
				 (uint64_t)g[1].sets * g[1].ways * CACHE_WHERE_PER_LINE);
	} else {
		assert_null(c.lvl[1].where);
	}
	run_stream(&c, &r, seed, n, region, scribble, push_clock);
	/* Every level served a share, so every path ran. */
	for (int l = 0; l < 4; l++)
		if (c.served[l] < n / 100)
			fail_msg("level %d served only %" PRIu64 " of %u", l + 1, c.served[l], n);
	/* A clear empties the model (the index entries stay, harmless). */
	cache_clear(&c);
	ref_destroy(&r);
	ref_init(&r, g);
	memcpy(r.served, c.served, sizeof(r.served));
	run_stream(&c, &r, seed + 1, n / 4, region, scribble, push_clock);
	ref_destroy(&r);
	cache_destroy(&c);
}

static const struct cache_geom skylake_sp[3] = {{64, 8}, {1024, 16}, {2048, 11}};
static const struct cache_geom zen2[3] = {{64, 8}, {1024, 8}, {4096, 16}};
static const struct cache_geom small16[3] = {{16, 8}, {32, 16}, {64, 11}};

static void test_skylake_sp(void **state)
{
	(void)state;
	check_geometry(skylake_sp, 1, 1000000, false, true, false);
}

static void test_zen2(void **state)
{
	(void)state;
	check_geometry(zen2, 2, 1000000, false, false, false);
}

static void test_small_index(void **state)
{
	(void)state;
	check_geometry(small16, 3, 400000, false, true, false);
}

/* Arbitrary positions written into the L2 line index change no decision. */
static void test_index_is_a_hint(void **state)
{
	(void)state;
	check_geometry(skylake_sp, 4, 400000, true, true, false);
	check_geometry(small16, 5, 400000, true, true, false);
}

/*
 * Renumbering the stamps changes no decision, wherever it falls: in a
 * single reference, in the hashed L2 search (which ticks without the check:
 * the inline path sends it references only below the limit), in a page
 * pass (the profiles' pass ticks without the check when the pass cannot
 * reach the limit, and takes the general loop otherwise).
 */
static void test_clock_near_limit(void **state)
{
	(void)state;
	check_geometry(skylake_sp, 6, 400000, false, true, true);
	check_geometry(zen2, 7, 400000, false, false, true);
	check_geometry(small16, 8, 200000, true, true, true);
}

/*
 * The index at work: a line evicted from its L1 set and referenced again is
 * an L2 hit through the index entry that its fill wrote, and the hit
 * re-stamps it as the most recent way of its L2 set.
 */
static void test_index_entry_written_and_used(void **state)
{
	struct cache c;
	const struct cache_level *l2 = &c.lvl[1];

	(void)state;
	assert_int_equal(cache_init(&c, skylake_sp, true), 0);
	uint64_t a = 5; /* line 5, L1 set 5 */
	assert_int_equal(cache_ref(&c, LINE(a)), CACHE_DRAM);
	uint32_t pos = l2->where[a & l2->where_mask];
	uint32_t set = (uint32_t)cache_line_hash(a) & l2->mask;
	assert_int_equal(pos / 16, set);
	assert_int_equal(l2->tag[pos], a + 1);
	for (uint64_t k = 1; k <= 8; k++) /* eight lines of L1 set 5 evict it */
		assert_int_equal(cache_ref(&c, LINE(a + 64 * k)), CACHE_DRAM);
	uint32_t before = l2->stamp[pos];
	assert_int_equal(cache_ref(&c, LINE(a)), CACHE_L2);
	assert_true(l2->stamp[pos] > before);
	assert_int_equal(l2->stamp[pos] & (CACHE_CLOCK_STEP - 1), pos % 16);
	for (uint32_t w = 0; w < 16; w++)
		assert_true(l2->stamp[set * 16 + w] <= l2->stamp[pos]);
	/* An entry pointing elsewhere: the hashed search still finds the
	 * line, and rewrites the entry. */
	for (uint64_t k = 1; k <= 8; k++)
		assert_int_equal(cache_ref(&c, LINE(a + 64 * k)), CACHE_L2);
	l2->where[a & l2->where_mask] = (pos + 1) % (1024 * 16);
	assert_int_equal(cache_ref(&c, LINE(a)), CACHE_L2);
	assert_int_equal(l2->where[a & l2->where_mask], pos);
	cache_destroy(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_skylake_sp),
	    cmocka_unit_test(test_zen2),
	    cmocka_unit_test(test_small_index),
	    cmocka_unit_test(test_index_is_a_hint),
	    cmocka_unit_test(test_index_entry_written_and_used),
	    cmocka_unit_test(test_clock_near_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

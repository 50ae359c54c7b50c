/*
 * test_tlb.c - unit tests of the software TLB (src/tlb/tlb.c).
 *
 * Every test runs on a real struct tlb built by tlb_init() from a small
 * geometry chosen so that the set and the victim of each entry are known,
 * and asserts exact counter values and exact array contents. The teardown of
 * every test checks the TLB invariants (tlb_check() below), so a test that
 * leaves a duplicate or a misplaced entry fails even if its own assertions
 * pass. The last test runs a random op program against a flat reference
 * page table and injects one stale translation to prove that the comparison
 * catches it.
 *
 * Fixture values are non-zero sentinels (hpa 0x5a5a...): a zeroed entry can
 * never pass for a real one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/core/config.h"
#include "../src/tlb/tlb.h"

#define VA_MASK57 ((UINT64_C(1) << 57) - 1)
/* The caller's host-memory base the tests give tlb_l0_set(). */
#define TEST_L0_BASE UINT64_C(0x7f1234560000)

/* ---- fixtures ---- */

struct geom4 {
	struct tlb_geom l1d, l1d_large, l1i, l2;
};

/* Roomy enough that the flush scenario below never evicts. */
static const struct geom4 geom_roomy = {
    .l1d = {.sets = 4, .ways = 4},
    .l1d_large = {.sets = 2, .ways = 2},
    .l1i = {.sets = 4, .ways = 2},
    .l2 = {.sets = 16, .ways = 4},
};
/* One set of two ways everywhere: every fill after the second evicts. */
static const struct geom4 geom_tiny = {
    .l1d = {.sets = 1, .ways = 2},
    .l1d_large = {.sets = 1, .ways = 2},
    .l1i = {.sets = 1, .ways = 2},
    .l2 = {.sets = 1, .ways = 2},
};
/* One-entry L1 arrays in front of a roomy L2: shows L2 refills. */
static const struct geom4 geom_refill = {
    .l1d = {.sets = 1, .ways = 1},
    .l1d_large = {.sets = 1, .ways = 1},
    .l1i = {.sets = 1, .ways = 1},
    .l2 = {.sets = 4, .ways = 4},
};
/* The default ways (4-way L1 4K data, 12-way L2) in few sets: the
 * unrolled victim searches of tlb.c's array_fill(), for the random program. */
static const struct geom4 geom_busy12 = {
    .l1d = {.sets = 2, .ways = 4},
    .l1d_large = {.sets = 1, .ways = 4},
    .l1i = {.sets = 2, .ways = 8},
    .l2 = {.sets = 2, .ways = 12},
};
/* Small and busy, for the random program. */
static const struct geom4 geom_busy = {
    .l1d = {.sets = 2, .ways = 2},
    .l1d_large = {.sets = 1, .ways = 2},
    .l1i = {.sets = 2, .ways = 2},
    .l2 = {.sets = 4, .ways = 4},
};

static struct vm_config config_from(const struct geom4 *g)
{
	struct vm_config c;

	memset(&c, 0, sizeof(c));
	c.l1d = g->l1d;
	c.l1d_large = g->l1d_large;
	c.l1i = g->l1i;
	c.l2 = g->l2;
	return c;
}

static int tlb_init_cfg(struct tlb *t, const struct vm_config *c)
{
	struct tlb_shape shape = { .l1d = c->l1d, .l1d_large = c->l1d_large, .l1i = c->l1i, .l2 = c->l2 };
	return tlb_init(t, &shape);
}

static int setup_geom(void **state, const struct geom4 *g)
{
	struct tlb *t = calloc(1, sizeof(*t));
	struct vm_config c = config_from(g);

	if (!t || tlb_init_cfg(t, &c) != 0) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int setup_roomy(void **state)
{
	return setup_geom(state, &geom_roomy);
}
static int setup_tiny(void **state)
{
	return setup_geom(state, &geom_tiny);
}
static int setup_refill(void **state)
{
	return setup_geom(state, &geom_refill);
}
static int setup_busy(void **state)
{
	return setup_geom(state, &geom_busy);
}
static int setup_busy12(void **state)
{
	return setup_geom(state, &geom_busy12);
}

/* ---- helpers ---- */

static uint64_t vpn_of(gva_t va, enum page_size s)
{
	return (va & VA_MASK57) >> page_shift(s);
}

static void fill(struct tlb *t, gva_t va, uint64_t hpa, enum page_size size, uint8_t flags,
		 uint16_t vpid, uint16_t pcid, enum access_kind kind)
{
	const struct tlb_fill f = {.va = va, .hpa = HPA(hpa), .size = size, .flags = flags};

	tlb_insert(t, &f, vpid, pcid, kind);
}

/* Valid entries of exactly (page of va, size, vpid, pcid) in one array. */
static unsigned in_array(const struct tlb_array *a, gva_t va, enum page_size size, uint16_t vpid,
			 uint16_t pcid)
{
	uint64_t vpn = vpn_of(va, size);
	unsigned n = 0;

	for (size_t i = 0; i < (size_t)a->sets * a->ways; i++) {
		const struct tlb_entry *e = &a->e[i];

		n += (e->flags & TLBF_VALID) && e->vpn == vpn && e->size == size &&
		     e->vpid == vpid && e->pcid == pcid;
	}
	return n;
}

static bool entry_in(const struct tlb_array *a, const struct tlb_entry *e)
{
	return e >= a->e && e < a->e + (size_t)a->sets * a->ways;
}

/*
 * The invariants of tlb.h and tlb.c, checked by brute force. Returns NULL
 * or the name of the first one violated.
 */
static const char *array_check(const struct tlb_array *a, uint64_t clock, unsigned min_size,
			       unsigned max_size)
{
	for (uint32_t s = 0; s < a->sets; s++) {
		const struct tlb_entry *set = a->e + (size_t)s * a->ways;

		for (uint32_t i = 0; i < a->ways; i++) {
			const struct tlb_entry *x = &set[i];

			if (!(x->flags & TLBF_VALID))
				continue;
			if ((x->vpn & a->set_mask) != s)
				return "entry in the set of its vpn";
			if (x->size < min_size || x->size > max_size)
				return "page size allowed in this array";
			if (x->hpa & (page_bytes((enum page_size)x->size) - 1))
				return "hpa is the page base";
			if (x->stamp == 0 || x->stamp > clock)
				return "stamp within the clock";
			for (uint32_t j = i + 1; j < a->ways; j++) {
				const struct tlb_entry *y = &set[j];

				if (!(y->flags & TLBF_VALID))
					continue;
				if (x->stamp == y->stamp)
					return "stamps distinct in a set";
				if (x->vpn == y->vpn && x->size == y->size && x->vpid == y->vpid &&
				    (x->pcid == y->pcid || ((x->flags | y->flags) & TLBF_G)))
					return "one match per lookup";
			}
		}
	}
	return NULL;
}

static const char *tlb_check(const struct tlb *t)
{
	const char *why;

	if ((why = array_check(&t->l1d, t->clock, PG_4K, PG_4K)) ||
	    (why = array_check(&t->l1d_large, t->clock, PG_2M, PG_1G)) ||
	    (why = array_check(&t->l1i, t->clock, PG_4K, PG_1G)) ||
	    (why = array_check(&t->l2, t->clock, PG_4K, PG_1G)))
		return why;
	/* The entry stamped last, the memo entry and the caller's fast tags
	 * (tlb.h). */
	unsigned latest = 0;
	for (size_t i = 0; i < (size_t)t->l1d.sets * t->l1d.ways; i++)
		latest += (t->l1d.e[i].flags & TLBF_VALID) && t->l1d.e[i].stamp == t->clock;
	if (latest > 1)
		return "one l1d entry at most holds the latest stamp";
	if (t->mru != NULL) {
		if (!entry_in(&t->l1d, t->mru) || !(t->mru->flags & TLBF_VALID) ||
		    (t->mru_vpn != TLB_NO_VPN && t->mru->vpn != t->mru_vpn))
			return "the memo is a valid l1d entry of its key";
	} else if (t->mru_vpn != TLB_NO_VPN) {
		return "no memo, no memo key";
	}
	for (unsigned i = 0; i < TLB_L0_SLOTS; i++) {
		const struct tlb_l0 *l = &t->l0;
		uint64_t page = l->page[i];

		if (page == TLB_NO_VPN) {
			for (unsigned x = 2 * i; x < 2 * i + 2; x++)
				for (int k = 0; k < 2; k++)
					if (l->tag[k][x] != TLB_NO_VPN)
						return "an empty L0 slot has no tag";
			continue;
		}
		if ((page & (TLB_L0_SLOTS - 1)) != i || !(t->l0_used >> i & 1))
			return "an L0 slot is the slot of its page, marked used";
		for (unsigned x = 2 * i; x < 2 * i + 2; x++) {
			const struct tlb_entry *e = l->e[x];

			if (!entry_in(&t->l1d, e) || !(e->flags & TLBF_VALID) ||
			    e->vpn != ((page << PAGE_SHIFT) & TLB_VA_MASK) >> PAGE_SHIFT ||
			    (page << PAGE_SHIFT) + l->delta[x] != e->hpa)
				return "an L0 slot names a valid l1d entry of its page";
			if (e != l->e[2 * i] || l->delta[x] != l->delta[2 * i])
				return "both pairs of a slot name the same entry";
			if (l->host[x] != l->delta[x] + TEST_L0_BASE)
				return "an L0 pair's host offset is its delta plus the base";
		}
		for (unsigned x = 2 * i; x < 2 * i + 2; x++)
			for (int k = 0; k < 2; k++)
				if (l->tag[k][x] != TLB_NO_VPN && l->tag[k][x] != page)
					return "an L0 tag is its slot's page";
	}
	for (unsigned i = 0; i < TLB_L0_SLOTS; i++) {
		const struct tlb_l0 *l = &t->l0;
		uint64_t page = l->fpage[i];

		for (unsigned x = 2 * i; x < 2 * i + 2; x++)
			if (l->ftag[x] != TLB_NO_VPN && l->ftag[x] != page)
				return "a fetch tag is its slot's page";
		if (page == TLB_NO_VPN)
			continue;
		const struct tlb_entry *e = l->fe[2 * i];

		if ((page & (TLB_L0_SLOTS - 1)) != i || !(t->l0_fetch_used >> i & 1))
			return "a fetch slot is the slot of its page, marked used";
		if (l->fe[2 * i + 1] != e || !entry_in(&t->l1i, e) || !(e->flags & TLBF_VALID) ||
		    e->size != PG_4K ||
		    e->vpn != ((page << PAGE_SHIFT) & TLB_VA_MASK) >> PAGE_SHIFT)
			return "a fetch slot names a valid 4K l1i entry of its page";
	}
	if (tlb_counters(t).lookups != tlb_counters(t).hits + t->c.misses)
		return "lookups == hits + misses";
	if (tlb_counters(t).hits != tlb_counters(t).l1_hits + t->c.l2_hits)
		return "hits == l1_hits + l2_hits";
	return NULL;
}

static int teardown(void **state)
{
	struct tlb *t = *state;
	const char *why = tlb_check(t);

	tlb_destroy(t);
	free(t);
	if (why)
		fail_msg("invariant violated at teardown: %s", why);
	return 0;
}

/* ---- geometry ---- */

/* Each array in turn gets each bad geometry; the others stay valid. */
static void test_bad_geometry_rejected(void **state)
{
	(void)state;
	const struct tlb_geom bad[] = {
	    {.sets = 0, .ways = 4},
	    {.sets = 3, .ways = 4},
	    {.sets = 6, .ways = 4},
	    {.sets = 4, .ways = 0},
	    {.sets = 0x80000000u, .ways = 0xffffffffu},
	};

	for (unsigned arr = 0; arr < 4; arr++) {
		for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
			struct geom4 g = geom_roomy;
			struct tlb t;

			memset(&t, 0x5a, sizeof(t));
			struct tlb_geom *slot[] = {&g.l1d, &g.l1d_large, &g.l1i, &g.l2};
			*slot[arr] = bad[b];
			struct vm_config c = config_from(&g);

			assert_int_equal(tlb_init_cfg(&t, &c), -1);
			/* Rolled back: nothing allocated, safe to destroy. */
			assert_null(t.l1d.e);
			assert_null(t.l1d_large.e);
			assert_null(t.l1i.e);
			assert_null(t.l2.e);
			tlb_destroy(&t);
		}
	}

	struct vm_config c = config_from(&geom_tiny);
	struct tlb t;

	c.l1d = (struct tlb_geom){.sets = 1, .ways = 1};
	assert_int_equal(tlb_init_cfg(&t, &c), 0);
	assert_int_equal(t.l1d.set_mask, 0);
	assert_int_equal(t.l2.set_mask, 0);
	assert_int_equal(tlb_count_valid(&t), 0);
	tlb_destroy(&t);
	assert_null(t.l2.e);
}

/* ---- lookups ---- */

/* One 4K data page at 0x00400000 -> 0x5a5a1000, VPID 1, PCID 1. */
static void test_miss_fill_hit_counts(void **state)
{
	struct tlb *t = *state;

	assert_null(tlb_lookup(t, 0x400123, 1, 1, ACC_READ));
	fill(t, 0x400123, 0x5a5a1000, PG_4K, TLBF_W | TLBF_U, 1, 1, ACC_READ);

	struct tlb_entry *e = tlb_lookup(t, 0x400fff, 1, 1, ACC_WRITE);

	assert_non_null(e);
	assert_true(entry_in(&t->l1d, e));
	assert_int_equal(e->vpn, 0x400);
	assert_int_equal(e->hpa, 0x5a5a1000);
	assert_int_equal(e->size, PG_4K);
	assert_int_equal(e->flags, TLBF_VALID | TLBF_W | TLBF_U);
	assert_int_equal(e->vpid, 1);
	assert_int_equal(e->pcid, 1);
	assert_non_null(tlb_lookup(t, 0x400000, 1, 1, ACC_READ));
	assert_null(tlb_lookup(t, 0x401000, 1, 1, ACC_READ));
	assert_null(tlb_lookup(t, 0x3ff000, 1, 1, ACC_READ));
	/* A data entry is not an instruction entry in L1, but the L2 is unified. */
	e = tlb_lookup(t, 0x400010, 1, 1, ACC_FETCH);
	assert_non_null(e);
	assert_true(entry_in(&t->l1i, e));

	assert_int_equal(tlb_counters(t).lookups, 6);
	assert_int_equal(tlb_counters(t).hits, 3);
	assert_int_equal(tlb_counters(t).l1_hits, 2);
	assert_int_equal(t->c.l2_hits, 1);
	assert_int_equal(t->c.misses, 3);
	assert_int_equal(t->c.fills, 1);
	assert_int_equal(t->c.evictions, 0);
	/* l1d + l2 + the l1i refill */
	assert_int_equal(tlb_count_valid(t), 3);
}

/*
 * The last-hit memo: a repeat lookup under the same key returns the entry
 * stamped last and writes no stamp; a global entry looked up under another
 * PCID is found by the set search and, being the memo's entry, keeps its
 * stamp too; a flush forgets the memo, so a dropped entry is never hit.
 */
static void test_mru_memo(void **state)
{
	struct tlb *t = *state;

	fill(t, 0x7000, 0x5a5a7000, PG_4K, TLBF_W | TLBF_G, 1, 1, ACC_READ);
	assert_null(t->mru);
	assert_true(t->mru_vpn == TLB_NO_VPN);
	struct tlb_entry *e = tlb_lookup(t, 0x7008, 1, 1, ACC_READ);

	assert_non_null(e);
	assert_ptr_equal(t->mru, e);
	assert_int_equal(t->mru_vpn, 0x7);
	assert_int_equal(t->mru_ctx, tlb_ctx(1, 1));
	uint64_t stamp = e->stamp, clock = t->clock;

	assert_ptr_equal(tlb_lookup(t, 0x7ff8, 1, 1, ACC_WRITE), e);
	assert_ptr_equal(tlb_lookup(t, 0x7010, 1, 2, ACC_READ), e); /* global, PCID 2 */
	assert_int_equal(t->mru_ctx, tlb_ctx(1, 2));
	assert_int_equal(e->stamp, stamp);
	assert_int_equal(t->clock, clock);
	assert_null(tlb_lookup(t, 0x7010, 2, 2, ACC_READ)); /* another VPID */
	assert_int_equal(tlb_counters(t).l1_hits, 3);
	assert_int_equal(tlb_counters(t).hits, 3);
	assert_int_equal(tlb_counters(t).lookups, 4);

	assert_ptr_equal(tlb_lookup(t, 0x7000, 1, 1, ACC_READ), e);
	assert_int_equal(tlb_flush_vpid(t, 1), 2); /* l1d and l2 */
	assert_null(t->mru);
	assert_true(t->mru_vpn == TLB_NO_VPN);
	assert_null(tlb_lookup(t, 0x7000, 1, 1, ACC_READ));
	assert_int_equal(tlb_counters(t).l1_hits, 4);
}

/*
 * Geometry: L1 arrays of one entry, L2 of 4 sets x 4 ways.
 *   A  0x00001000 -> 0x5a5a1000  4K data
 *   B  0x00002000 -> 0x5a5a2000  4K data   (evicts A from l1d)
 *   X  0x00005000 -> 0x5a5a5000  4K fetch
 *   Y  0x00006000 -> 0x5a5a6000  4K fetch  (evicts X from l1i)
 *   P  0x40200000 -> 0x5a600000  2M data
 *   Q  0x80000000 -> 0x1c0000000 1G data   (evicts P from l1d_large)
 */
static void test_l2_hit_refills_l1(void **state)
{
	struct tlb *t = *state;
	struct tlb_entry *e;

	fill(t, 0x1000, 0x5a5a1000, PG_4K, TLBF_W, 1, 1, ACC_WRITE);
	fill(t, 0x2000, 0x5a5a2000, PG_4K, TLBF_W, 1, 1, ACC_READ);
	assert_int_equal(t->c.evictions, 1);
	assert_int_equal(in_array(&t->l1d, 0x1000, PG_4K, 1, 1), 0);
	assert_int_equal(in_array(&t->l2, 0x1000, PG_4K, 1, 1), 1);

	e = tlb_lookup(t, 0x1abc, 1, 1, ACC_READ);
	assert_non_null(e);
	assert_true(entry_in(&t->l1d, e));
	assert_int_equal(e->hpa, 0x5a5a1000);
	assert_int_equal(t->c.l2_hits, 1);
	assert_int_equal(tlb_counters(t).l1_hits, 0);
	assert_int_equal(t->c.evictions, 2); /* the refill pushed B out of l1d */
	assert_int_equal(in_array(&t->l1d, 0x2000, PG_4K, 1, 1), 0);

	e = tlb_lookup(t, 0x1000, 1, 1, ACC_READ);
	assert_true(entry_in(&t->l1d, e));
	assert_int_equal(tlb_counters(t).l1_hits, 1);
	assert_int_equal(t->c.l2_hits, 1);

	/* Fetch translations refill l1i, never l1d. */
	fill(t, 0x5000, 0x5a5a5000, PG_4K, 0, 1, 1, ACC_FETCH);
	fill(t, 0x6000, 0x5a5a6000, PG_4K, 0, 1, 1, ACC_FETCH);
	assert_int_equal(t->c.evictions, 3);
	e = tlb_lookup(t, 0x5000, 1, 1, ACC_FETCH);
	assert_true(entry_in(&t->l1i, e));
	assert_int_equal(e->hpa, 0x5a5a5000);
	assert_int_equal(in_array(&t->l1d, 0x1000, PG_4K, 1, 1), 1);
	assert_int_equal(t->c.l2_hits, 2);

	/* Large pages refill l1d_large. */
	fill(t, 0x40200000, 0x5a600000, PG_2M, TLBF_W, 1, 1, ACC_READ);
	fill(t, 0x80000000, 0x1c0000000, PG_1G, TLBF_W, 1, 1, ACC_READ);
	e = tlb_lookup(t, 0x40200000, 1, 1, ACC_READ);
	assert_true(entry_in(&t->l1d_large, e));
	assert_int_equal(e->size, PG_2M);
	assert_int_equal(in_array(&t->l1d_large, 0x80000000, PG_1G, 1, 1), 0);
	assert_int_equal(in_array(&t->l1d, 0x1000, PG_4K, 1, 1), 1);

	assert_int_equal(tlb_counters(t).lookups, 4);
	assert_int_equal(t->c.l2_hits, 3);
	assert_int_equal(t->c.misses, 0);
	assert_int_equal(t->c.fills, 6);
	assert_int_equal(t->c.evictions, 6);
}

/*
 * One set of two ways in every array.
 *   A 0x1000, B 0x2000, C 0x3000: 4K data pages, hpa 0x5a5a1000.. 0x5a5a3000.
 * After "fill A, fill B, hit A, fill C" the l1d evicts B (A was used last)
 * but the L2, which does not see L1 hits, evicts A.
 */
static void lru_scenario(struct tlb *t)
{
	fill(t, 0x1000, 0x5a5a1000, PG_4K, 0, 1, 1, ACC_READ);
	fill(t, 0x2000, 0x5a5a2000, PG_4K, 0, 1, 1, ACC_READ);
	assert_true(entry_in(&t->l1d, tlb_lookup(t, 0x1000, 1, 1, ACC_READ)));
	fill(t, 0x3000, 0x5a5a3000, PG_4K, 0, 1, 1, ACC_READ);

	assert_int_equal(t->c.evictions, 2);
	assert_int_equal(in_array(&t->l1d, 0x1000, PG_4K, 1, 1), 1);
	assert_int_equal(in_array(&t->l1d, 0x2000, PG_4K, 1, 1), 0);
	assert_int_equal(in_array(&t->l1d, 0x3000, PG_4K, 1, 1), 1);
	assert_int_equal(in_array(&t->l2, 0x1000, PG_4K, 1, 1), 0);
	assert_int_equal(in_array(&t->l2, 0x2000, PG_4K, 1, 1), 1);
	assert_int_equal(in_array(&t->l2, 0x3000, PG_4K, 1, 1), 1);

	/* B from L2 refills l1d over A, the l1d's LRU now. */
	struct tlb_entry *e = tlb_lookup(t, 0x2000, 1, 1, ACC_READ);

	assert_true(entry_in(&t->l1d, e));
	assert_int_equal(e->hpa, 0x5a5a2000);
	assert_int_equal(t->c.evictions, 3);
	assert_null(tlb_lookup(t, 0x1000, 1, 1, ACC_READ));
	assert_int_equal(tlb_counters(t).l1_hits, 1);
	assert_int_equal(t->c.l2_hits, 1);
	assert_int_equal(t->c.misses, 1);
	assert_int_equal(tlb_count_valid(t), 4);
}

static void test_lru_eviction_order(void **state)
{
	struct tlb *t = *state;

	lru_scenario(t);
	assert_int_equal(t->clock, 5);
}

/* The same scenario with the clock crossing 2^32 after the first fill:
 * stamps are 64 bits, nothing truncates them, nothing is renumbered, and
 * the LRU order is the same. */
static void test_lru_past_32_bit_clock(void **state)
{
	struct tlb *t = *state;

	t->clock = UINT32_MAX - 1;
	lru_scenario(t);
	assert_true(t->clock == (uint64_t)UINT32_MAX - 1 + 5);
}

/*
 * 2M page 0x40200000..0x403fffff -> 0x5a400000 (filled from an inner
 * address, with an unaligned hpa that the TLB rounds down), 1G page
 * 0x80000000..0xbfffffff -> 0x1c0000000.
 */
static void test_large_pages_cover_their_range(void **state)
{
	struct tlb *t = *state;
	const gva_t in2m[] = {0x40200000, 0x40200001, 0x40300000, 0x403ff000, 0x403fffff};
	const gva_t out2m[] = {0x401fffff, 0x40400000, 0x40000000};
	const gva_t in1g[] = {0x80000000, 0x9234a678, 0xbfffffff};
	const gva_t out1g[] = {0x7fffffff, 0xc0000000};

	fill(t, 0x40312345, 0x5a400777, PG_2M, TLBF_W, 1, 1, ACC_READ);
	fill(t, 0xa0000000, 0x1c0000000, PG_1G, TLBF_W | TLBF_G, 1, 1, ACC_READ);

	for (size_t i = 0; i < sizeof(in2m) / sizeof(in2m[0]); i++) {
		struct tlb_entry *e = tlb_lookup(t, in2m[i], 1, 1, ACC_READ);

		assert_non_null(e);
		assert_true(entry_in(&t->l1d_large, e));
		assert_int_equal(e->size, PG_2M);
		assert_int_equal(e->hpa, 0x5a400000);
		assert_int_equal(e->vpn, 0x201);
	}
	for (size_t i = 0; i < sizeof(out2m) / sizeof(out2m[0]); i++)
		assert_null(tlb_lookup(t, out2m[i], 1, 1, ACC_READ));
	for (size_t i = 0; i < sizeof(in1g) / sizeof(in1g[0]); i++) {
		struct tlb_entry *e = tlb_lookup(t, in1g[i], 1, 1, ACC_WRITE);

		assert_non_null(e);
		assert_int_equal(e->size, PG_1G);
		assert_int_equal(e->hpa, 0x1c0000000);
		assert_int_equal(e->vpn, 2);
	}
	for (size_t i = 0; i < sizeof(out1g) / sizeof(out1g[0]); i++)
		assert_null(tlb_lookup(t, out1g[i], 1, 1, ACC_READ));

	/* A 2M code page lives in l1i and covers its range for fetches. */
	fill(t, 0x00600000, 0x5a800000, PG_2M, 0, 1, 1, ACC_FETCH);
	struct tlb_entry *e = tlb_lookup(t, 0x007fffff, 1, 1, ACC_FETCH);

	assert_true(entry_in(&t->l1i, e));
	assert_int_equal(e->size, PG_2M);
	assert_int_equal(e->hpa, 0x5a800000);

	assert_int_equal(tlb_counters(t).hits, 9);
	assert_int_equal(tlb_counters(t).l1_hits, 9);
	assert_int_equal(t->c.misses, 5);
	assert_int_equal(tlb_count_valid(t), 6);
}

/* A kernel address: the sign bits are not part of the tag. */
static void test_vpn_is_canonical_bits(void **state)
{
	struct tlb *t = *state;
	const gva_t k = UINT64_C(0xffff888000123456);

	fill(t, k, 0x5a5a3000, PG_4K, TLBF_G, 0, 0, ACC_READ);
	struct tlb_entry *e = tlb_lookup(t, k | 0xfff, 0, 0, ACC_READ);

	assert_non_null(e);
	assert_int_equal(e->vpn, UINT64_C(0x01ff888000123));
	assert_null(tlb_lookup(t, UINT64_C(0xffff888000124000), 0, 0, ACC_READ));
}

/* 0x00400000 mapped differently in (vpid 1, pcid 1), (1, 2) and (2, 1). */
static void test_vpid_pcid_isolation(void **state)
{
	struct tlb *t = *state;

	fill(t, 0x400000, 0x5a5a1000, PG_4K, TLBF_W, 1, 1, ACC_READ);
	assert_null(tlb_lookup(t, 0x400000, 2, 1, ACC_READ));
	assert_null(tlb_lookup(t, 0x400000, 1, 2, ACC_READ));
	assert_null(tlb_lookup(t, 0x400000, 0, 0, ACC_READ));

	fill(t, 0x400000, 0x5a5a2000, PG_4K, TLBF_W, 1, 2, ACC_READ);
	fill(t, 0x400000, 0x5a5a3000, PG_4K, TLBF_W, 2, 1, ACC_READ);
	assert_int_equal(tlb_lookup(t, 0x400000, 1, 1, ACC_READ)->hpa, 0x5a5a1000);
	assert_int_equal(tlb_lookup(t, 0x400000, 1, 2, ACC_READ)->hpa, 0x5a5a2000);
	assert_int_equal(tlb_lookup(t, 0x400000, 2, 1, ACC_READ)->hpa, 0x5a5a3000);
	assert_int_equal(tlb_count_valid(t), 6);
	assert_int_equal(tlb_counters(t).hits, 3);
	assert_int_equal(t->c.misses, 3);
}

/* A global kernel page 0xffff800000002000 -> 0x5a5a3000 filled under
 * (vpid 1, pcid 1): any PCID of VPID 1 hits it, VPID 2 does not. */
static void test_global_matches_any_pcid(void **state)
{
	struct tlb *t = *state;
	const gva_t k = UINT64_C(0xffff800000002000);

	fill(t, k, 0x5a5a3000, PG_4K, TLBF_G | TLBF_W, 1, 1, ACC_READ);
	for (uint16_t pcid = 0; pcid < 4; pcid++) {
		struct tlb_entry *e = tlb_lookup(t, k + 8, 1, pcid, ACC_READ);

		assert_non_null(e);
		assert_int_equal(e->hpa, 0x5a5a3000);
		assert_int_equal(e->pcid, 1);
	}
	assert_null(tlb_lookup(t, k, 2, 1, ACC_READ));
	assert_int_equal(tlb_counters(t).hits, 4);
	assert_int_equal(t->c.misses, 1);
}

/*
 * Re-filling a page replaces its entry in place: a store that found a clean
 * entry refills it with TLBF_D, a remap refills it with a new hpa. Pages:
 *   0x00400000            4K, (1, 1), hpa 0x5a5a1000 then 0x5a5a9000
 *   0xffff800000002000    4K, global under (1, 1), then non-global (1, 2)
 *   0x00500000            4K, (1, 1) and (1, 2), then global under (1, 3)
 * A fill under one PCID replaces a global entry of the same page and a
 * global fill replaces the per-PCID entries, since a lookup could otherwise
 * match two entries.
 */
static void test_insert_replaces_same_page(void **state)
{
	struct tlb *t = *state;

	fill(t, 0x400000, 0x5a5a1000, PG_4K, TLBF_W, 1, 1, ACC_READ);
	fill(t, 0x400000, 0x5a5a1000, PG_4K, TLBF_W | TLBF_D, 1, 1, ACC_WRITE);
	assert_int_equal(tlb_count_valid(t), 2);
	assert_int_equal(tlb_lookup(t, 0x400000, 1, 1, ACC_WRITE)->flags,
			 TLBF_VALID | TLBF_W | TLBF_D);
	fill(t, 0x400000, 0x5a5a9000, PG_4K, TLBF_W, 1, 1, ACC_READ);
	assert_int_equal(tlb_lookup(t, 0x400000, 1, 1, ACC_READ)->hpa, 0x5a5a9000);
	assert_int_equal(tlb_count_valid(t), 2);

	const gva_t k = UINT64_C(0xffff800000002000);

	fill(t, k, 0x5a5a3000, PG_4K, TLBF_G, 1, 1, ACC_READ);
	fill(t, k, 0x5a5a4000, PG_4K, 0, 1, 2, ACC_READ);
	assert_int_equal(tlb_count_valid(t), 4);
	assert_int_equal(tlb_lookup(t, k, 1, 2, ACC_READ)->hpa, 0x5a5a4000);
	assert_null(tlb_lookup(t, k, 1, 1, ACC_READ));

	/* A global fill over two per-PCID entries of 0x00500000 keeps one slot
	 * per array and drops the other entry. */
	fill(t, 0x500000, 0x5a5a5000, PG_4K, 0, 1, 1, ACC_READ);
	fill(t, 0x500000, 0x5a5a6000, PG_4K, 0, 1, 2, ACC_READ);
	assert_int_equal(tlb_count_valid(t), 8);
	fill(t, 0x500000, 0x5a5a7000, PG_4K, TLBF_G, 1, 3, ACC_READ);
	assert_int_equal(tlb_count_valid(t), 6);
	for (uint16_t pcid = 1; pcid <= 3; pcid++)
		assert_int_equal(tlb_lookup(t, 0x500000, 1, pcid, ACC_READ)->hpa, 0x5a5a7000);

	assert_int_equal(t->c.fills, 8);
	assert_int_equal(t->c.evictions, 0);
}

/* ---- flushes ---- */

/*
 * The flush scenario, roomy geometry (no evictions). Each fill takes one L1
 * slot and one L2 slot: 9 fills, 18 valid entries.
 *
 *   name VPID PCID va                  size flags  hpa          L1 array
 *   H    0    0    0x0000000000001000  4K   -      0x5a5a1000   l1d   (host)
 *   A    1    1    0x0000000000400000  4K   W      0x5a5a2000   l1d
 *   B    1    1    0x0000000040200000  2M   W      0x5a600000   l1d_large
 *   K    1    1    0xffff800000002000  4K   G      0x5a5a3000   l1d
 *   C    1    2    0x0000000000400000  4K   W      0x5a5a4000   l1d
 *   X    1    1    0x0000000000403000  4K   fetch  0x5a5a5000   l1i
 *   D    2    1    0x0000000000400000  4K   W      0x5a5a6000   l1d
 *   E    2    1    0xffff800000002000  4K   G      0x5a5a7000   l1d
 *   K1   1    1    0x0000000080000000  1G   G      0x1c0000000  l1d_large
 */
#define VA_K UINT64_C(0xffff800000002000)

static void populate(struct tlb *t)
{
	fill(t, 0x1000, 0x5a5a1000, PG_4K, TLBF_W, 0, 0, ACC_READ);
	fill(t, 0x400000, 0x5a5a2000, PG_4K, TLBF_W, 1, 1, ACC_READ);
	fill(t, 0x40200000, 0x5a600000, PG_2M, TLBF_W, 1, 1, ACC_READ);
	fill(t, VA_K, 0x5a5a3000, PG_4K, TLBF_G, 1, 1, ACC_READ);
	fill(t, 0x400000, 0x5a5a4000, PG_4K, TLBF_W, 1, 2, ACC_READ);
	fill(t, 0x403000, 0x5a5a5000, PG_4K, 0, 1, 1, ACC_FETCH);
	fill(t, 0x400000, 0x5a5a6000, PG_4K, TLBF_W, 2, 1, ACC_READ);
	fill(t, VA_K, 0x5a5a7000, PG_4K, TLBF_G, 2, 1, ACC_READ);
	fill(t, 0x80000000, 0x1c0000000, PG_1G, TLBF_G, 1, 1, ACC_READ);
	assert_int_equal(tlb_count_valid(t), 18);
	assert_int_equal(t->c.evictions, 0);
}

/* Does (vpid, pcid) still translate va, in L1 or L2, to hpa? Uses a fetch
 * for X's page so that the l1i copy is seen. */
static bool maps(struct tlb *t, uint16_t vpid, uint16_t pcid, gva_t va, uint64_t hpa)
{
	enum access_kind k = (va & ~UINT64_C(0xfff)) == 0x403000 ? ACC_FETCH : ACC_READ;
	struct tlb_entry *e = tlb_lookup(t, va, vpid, pcid, k);

	return e && e->hpa == hpa;
}

static void test_flush_all(void **state)
{
	struct tlb *t = *state;

	populate(t);
	assert_int_equal(tlb_flush_all(t), 18);
	assert_int_equal(tlb_count_valid(t), 0);
	assert_int_equal(tlb_flush_all(t), 0);
	assert_int_equal(t->c.flush_all, 2);
	assert_int_equal(t->c.entries_flushed, 18);
}

static void test_flush_vpid(void **state)
{
	struct tlb *t = *state;

	populate(t);
	/* A, B, K, C, X, K1: all of VPID 1, globals included. */
	assert_int_equal(tlb_flush_vpid(t, 1), 12);
	assert_int_equal(tlb_count_valid(t), 6);
	assert_false(maps(t, 1, 1, VA_K, 0x5a5a3000));
	assert_true(maps(t, 0, 0, 0x1000, 0x5a5a1000));
	assert_true(maps(t, 2, 1, 0x400000, 0x5a5a6000));
	assert_true(maps(t, 2, 1, VA_K, 0x5a5a7000));
	assert_int_equal(t->c.flush_vpid, 1);
	assert_int_equal(t->c.entries_flushed, 12);
}

static void test_flush_pcid_keeps_globals(void **state)
{
	struct tlb *t = *state;

	populate(t);
	/* A, B, X; K and K1 are global, C is PCID 2, D is VPID 2. */
	assert_int_equal(tlb_flush_pcid(t, 1, 1), 6);
	assert_int_equal(tlb_count_valid(t), 12);
	assert_false(maps(t, 1, 1, 0x400000, 0x5a5a2000));
	assert_false(maps(t, 1, 1, 0x40200000, 0x5a600000));
	assert_false(maps(t, 1, 1, 0x403000, 0x5a5a5000));
	assert_true(maps(t, 1, 1, VA_K, 0x5a5a3000));
	assert_true(maps(t, 1, 1, 0x80000000, 0x1c0000000));
	assert_true(maps(t, 1, 2, 0x400000, 0x5a5a4000));
	assert_true(maps(t, 2, 1, 0x400000, 0x5a5a6000));
	assert_int_equal(tlb_flush_pcid(t, 1, 2), 2);
	assert_int_equal(t->c.flush_pcid, 2);
	assert_int_equal(t->c.entries_flushed, 8);
}

static void test_flush_addr(void **state)
{
	struct tlb *t = *state;

	populate(t);
	/* A only: C is another PCID, D another VPID. */
	assert_int_equal(tlb_flush_addr(t, 1, 1, 0x400abc), 2);
	assert_false(maps(t, 1, 1, 0x400000, 0x5a5a2000));
	assert_true(maps(t, 1, 2, 0x400000, 0x5a5a4000));
	assert_true(maps(t, 2, 1, 0x400000, 0x5a5a6000));
	/* Again: nothing left there for (1, 1). */
	assert_int_equal(tlb_flush_addr(t, 1, 1, 0x400000), 0);
	/* K is global: an INVLPG under PCID 7 drops it; E (VPID 2) stays. */
	assert_int_equal(tlb_flush_addr(t, 1, 7, VA_K + 0x123), 2);
	assert_false(maps(t, 1, 1, VA_K, 0x5a5a3000));
	assert_true(maps(t, 2, 1, VA_K, 0x5a5a7000));
	/* The last byte of B's 2M page drops B; the next page holds nothing. */
	assert_int_equal(tlb_flush_addr(t, 1, 1, 0x40400000), 0);
	assert_int_equal(tlb_flush_addr(t, 1, 1, 0x403fffff), 2);
	/* Any address of the global 1G page, any PCID. */
	assert_int_equal(tlb_flush_addr(t, 1, 3, 0xbfffffff), 2);
	/* X from l1i and L2. */
	assert_int_equal(tlb_flush_addr(t, 1, 1, 0x403800), 2);
	assert_false(maps(t, 1, 1, 0x403000, 0x5a5a5000));

	assert_int_equal(tlb_count_valid(t), 8);
	assert_int_equal(t->c.flush_addr, 7);
	assert_int_equal(t->c.entries_flushed, 10);
}

static void test_flush_nonglobal(void **state)
{
	struct tlb *t = *state;

	populate(t);
	/* A, B, C, X: every PCID of VPID 1; K and K1 stay. */
	assert_int_equal(tlb_flush_nonglobal(t, 1), 8);
	assert_true(maps(t, 1, 5, VA_K, 0x5a5a3000));
	assert_true(maps(t, 1, 5, 0x80000000, 0x1c0000000));
	assert_false(maps(t, 1, 2, 0x400000, 0x5a5a4000));
	assert_true(maps(t, 2, 1, 0x400000, 0x5a5a6000));
	assert_int_equal(tlb_count_valid(t), 10);
	assert_int_equal(t->c.flush_nonglobal, 1);
	assert_int_equal(t->c.entries_flushed, 8);
}

static void test_flush_all_guests_keeps_vpid0(void **state)
{
	struct tlb *t = *state;

	populate(t);
	assert_int_equal(tlb_flush_all_guests(t), 16);
	assert_int_equal(tlb_count_valid(t), 2);
	assert_true(maps(t, 0, 0, 0x1000, 0x5a5a1000));
	assert_false(maps(t, 2, 1, VA_K, 0x5a5a7000));
	assert_int_equal(t->c.flush_vpid, 1);
	assert_int_equal(t->c.flush_all, 0);
	assert_int_equal(t->c.entries_flushed, 16);
}

/* ---- differential test against a flat reference page table ---- */

/*
 * Address space of each (vpid, pcid), vpid in 1..2, pcid in 1..3:
 *   0x10000000 + i * 4K,  i < 16   user 4K pages, per (vpid, pcid)
 *   0x40000000 + j * 2M,  j < 4    user 2M pages, per (vpid, pcid)
 *   0xffff888000000000 + k * 4K, k < 8   kernel 4K pages, global, per vpid
 * The reference holds the current hpa of every page. The program accesses
 * pages (lookup; on a miss, fill from the reference), remaps pages followed
 * by the flush that the architecture requires, and flushes at random. Every
 * TLB hit must give the reference's translation. With inject set, one remap
 * skips its INVLPG and the next access must be caught as stale: exactly one
 * mismatch.
 */
#define REF_VPIDS 2
#define REF_PCIDS 3
#define REF_USER 16
#define REF_LARGE 4
#define REF_KERN 8
#define USER_BASE UINT64_C(0x10000000)
#define LARGE_BASE UINT64_C(0x40000000)
#define KERN_BASE UINT64_C(0xffff888000000000)

struct ref {
	uint64_t user[REF_VPIDS + 1][REF_PCIDS + 1][REF_USER];
	uint64_t large[REF_VPIDS + 1][REF_PCIDS + 1][REF_LARGE];
	uint64_t kern[REF_VPIDS + 1][REF_KERN];
	uint64_t next_frame;
};

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t ref_frame(struct ref *r, enum page_size s)
{
	uint64_t b = page_bytes(s);

	r->next_frame = (r->next_frame + b - 1) & ~(b - 1);
	uint64_t f = r->next_frame;

	r->next_frame += b;
	return f;
}

static void ref_remap_user(struct ref *r, uint16_t v, uint16_t p)
{
	for (int i = 0; i < REF_USER; i++)
		r->user[v][p][i] = ref_frame(r, PG_4K);
	for (int j = 0; j < REF_LARGE; j++)
		r->large[v][p][j] = ref_frame(r, PG_2M);
}

/* One page of the address space, drawn at random. */
struct page_pick {
	gva_t va;
	uint64_t *hpa;
	enum page_size size;
	uint8_t flags;
};

static struct page_pick pick_page(struct ref *r, uint64_t *rng, uint16_t v, uint16_t p)
{
	struct page_pick pk;
	unsigned region = (unsigned)(rng_next(rng) % 3);

	if (region == 0) {
		unsigned i = (unsigned)(rng_next(rng) % REF_USER);

		pk = (struct page_pick){USER_BASE + i * PAGE_SIZE, &r->user[v][p][i], PG_4K,
					TLBF_W | TLBF_U};
	} else if (region == 1) {
		unsigned j = (unsigned)(rng_next(rng) % REF_LARGE);

		pk = (struct page_pick){LARGE_BASE + j * page_bytes(PG_2M), &r->large[v][p][j],
					PG_2M, TLBF_W | TLBF_U};
	} else {
		unsigned k = (unsigned)(rng_next(rng) % REF_KERN);

		pk = (struct page_pick){KERN_BASE + k * PAGE_SIZE, &r->kern[v][k], PG_4K,
					TLBF_W | TLBF_G};
	}
	pk.va += rng_next(rng) & (page_bytes(pk.size) - 1);
	return pk;
}

/*
 * The fill rule of tlb.c's array_fill() written plainly, on a copy of one
 * set: the first way that conflicts with n takes it (further ones are
 * dropped), else the first empty way, else the valid way of smallest stamp
 * (an eviction). tlb.c finds the same way by a shorter route when no way
 * holds n's vpn; fill_checked() holds it to this one.
 */
static void ref_fill_set(struct tlb_entry *set, uint32_t ways, const struct tlb_entry *n,
			 uint64_t *evictions)
{
	struct tlb_entry *slot = NULL, *empty = NULL, *lru = NULL;

	for (uint32_t w = 0; w < ways; w++) {
		struct tlb_entry *e = &set[w];
		bool valid = e->flags & TLBF_VALID;

		if (valid && e->vpn == n->vpn && e->size == n->size && e->vpid == n->vpid &&
		    (e->pcid == n->pcid || ((e->flags | n->flags) & TLBF_G))) {
			if (slot)
				memset(e, 0, sizeof(*e));
			else
				slot = e;
		} else if (!valid) {
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
		(*evictions)++;
	}
	*slot = *n;
}

static bool entry_same(const struct tlb_entry *a, const struct tlb_entry *b)
{
	if (!(a->flags & TLBF_VALID) || !(b->flags & TLBF_VALID))
		return a->flags == b->flags && a->stamp == b->stamp;
	return a->vpn == b->vpn && a->hpa == b->hpa && a->stamp == b->stamp &&
	       a->vpid == b->vpid && a->pcid == b->pcid && a->size == b->size &&
	       a->flags == b->flags && a->pkey == b->pkey;
}

/* Compare one set of a with its reference copy. */
static void set_check(const struct tlb_array *a, const struct tlb_entry *copy, uint64_t vpn)
{
	const struct tlb_entry *set = a->e + (size_t)(vpn & a->set_mask) * a->ways;

	for (uint32_t w = 0; w < a->ways; w++)
		if (!entry_same(&set[w], &copy[w]))
			fail_msg("fill of vpn %#" PRIx64 ": way %u differs from the plain rule",
				 vpn, w);
}

/*
 * fill(), checked against ref_fill_set() in both arrays it writes: the same
 * victims, the same stamps, the same evictions.
 */
static void fill_checked(struct tlb *t, gva_t va, uint64_t hpa, enum page_size size,
			 uint8_t flags, uint16_t vpid, uint16_t pcid, enum access_kind kind)
{
	struct tlb_array *l1 = kind == ACC_FETCH ? &t->l1i
			       : size == PG_4K	 ? &t->l1d
						 : &t->l1d_large;
	uint64_t vpn = vpn_of(va, size);
	struct tlb_entry c1[64], c2[64];
	uint64_t clock0 = t->clock;
	uint64_t ev = t->c.evictions;

	assert_true(l1->ways <= 64 && t->l2.ways <= 64);
	memcpy(c1, l1->e + (size_t)(vpn & l1->set_mask) * l1->ways, l1->ways * sizeof(c1[0]));
	memcpy(c2, t->l2.e + (size_t)(vpn & t->l2.set_mask) * t->l2.ways,
	       t->l2.ways * sizeof(c2[0]));
	fill(t, va, hpa, size, flags, vpid, pcid, kind);
	assert_true(t->clock == clock0 + 1);
	const struct tlb_entry n = {.vpn = vpn,
				    .hpa = hpa & ~(page_bytes(size) - 1),
				    .stamp = t->clock,
				    .vpid = vpid,
				    .pcid = pcid,
				    .size = (uint8_t)size,
				    .flags = (uint8_t)(flags | TLBF_VALID)};
	ref_fill_set(c1, l1->ways, &n, &ev);
	ref_fill_set(c2, t->l2.ways, &n, &ev);
	set_check(l1, c1, vpn);
	set_check(&t->l2, c2, vpn);
	assert_int_equal(t->c.evictions, ev);
}

/* Access one page; returns 1 when a hit disagrees with the reference. */
static unsigned ref_access(struct tlb *t, uint16_t v, uint16_t p, const struct page_pick *pk,
			   enum access_kind kind)
{
	struct tlb_entry *e = tlb_lookup(t, pk->va, v, p, kind);
	uint64_t off = pk->va & (page_bytes(pk->size) - 1);

	if (!e) {
		fill_checked(t, pk->va, *pk->hpa, pk->size, pk->flags, v, p, kind);
		return 0;
	}
	return e->hpa + off != *pk->hpa + off || e->size != pk->size ||
	       e->flags != (pk->flags | TLBF_VALID);
}

static unsigned run_program(struct tlb *t, uint64_t seed, bool inject, unsigned steps)
{
	struct ref *r = calloc(1, sizeof(*r));
	uint64_t rng = seed;
	unsigned mismatches = 0;

	assert_non_null(r);
	r->next_frame = UINT64_C(0x5a5a000000);
	for (uint16_t v = 1; v <= REF_VPIDS; v++) {
		for (uint16_t p = 1; p <= REF_PCIDS; p++)
			ref_remap_user(r, v, p);
		for (int k = 0; k < REF_KERN; k++)
			r->kern[v][k] = ref_frame(r, PG_4K);
	}

	uint16_t v = 1, p = 1;

	for (unsigned step = 0; step < steps; step++) {
		unsigned op = (unsigned)(rng_next(&rng) % 1000);
		struct page_pick pk = pick_page(r, &rng, v, p);
		enum access_kind kind = (enum access_kind)(rng_next(&rng) % 3);

		if (inject && step == steps / 2) {
			/*
			 * Warm the page, remap it without INVLPG, access it again
			 * with the same kind: the L1 entry of the warm access is
			 * stale, and the comparison must say so.
			 */
			mismatches += ref_access(t, v, p, &pk, kind);
			*pk.hpa = ref_frame(r, pk.size);
			mismatches += ref_access(t, v, p, &pk, kind);
			tlb_flush_addr(t, v, p, pk.va);
		} else if (op < 20) {
			/* Switch to another process or guest; tags keep the TLB. */
			v = (uint16_t)(1 + rng_next(&rng) % REF_VPIDS);
			p = (uint16_t)(1 + rng_next(&rng) % REF_PCIDS);
		} else if (op < 900) {
			mismatches += ref_access(t, v, p, &pk, kind);
		} else if (op < 960) {
			/* Remap one page, then INVLPG some address inside it. */
			*pk.hpa = ref_frame(r, pk.size);
			gva_t inside = (pk.va & ~(page_bytes(pk.size) - 1)) +
				       (rng_next(&rng) & (page_bytes(pk.size) - 1));
			tlb_flush_addr(t, v, p, inside);
		} else if (op < 975) {
			/* New user address space for (v, p): MOV to CR3. */
			ref_remap_user(r, v, p);
			tlb_flush_pcid(t, v, p);
		} else if (op < 985) {
			/* Every process of v changes: all non-global entries. */
			for (uint16_t q = 1; q <= REF_PCIDS; q++)
				ref_remap_user(r, v, q);
			tlb_flush_nonglobal(t, v);
		} else if (op < 993) {
			/* The kernel of v changes its global pages: INVVPID v. */
			for (int k = 0; k < REF_KERN; k++)
				r->kern[v][k] = ref_frame(r, PG_4K);
			tlb_flush_vpid(t, v);
		} else if (op < 997) {
			tlb_flush_all_guests(t);
		} else {
			tlb_flush_all(t);
		}
		const char *why = tlb_check(t);

		if (why)
			fail_msg("step %u: invariant violated: %s", step, why);
	}
	free(r);
	return mismatches;
}

static void test_differential_clean(void **state)
{
	struct tlb *t = *state;

	assert_int_equal(run_program(t, 0x5eed, false, 20000), 0);
	/* The program must have exercised every path. */
	assert_true(tlb_counters(t).l1_hits > 1000);
	assert_true(t->c.l2_hits > 100);
	assert_true(t->c.misses > 1000);
	assert_true(t->c.evictions > 1000);
	assert_true(t->c.entries_flushed > 100);
}

/* The same program on the default ways: every fill chooses the victim the
 * plain rule chooses (fill_checked()), through the unrolled searches. */
static void test_differential_default_ways(void **state)
{
	struct tlb *t = *state;

	assert_int_equal(run_program(t, 0xfeed, false, 20000), 0);
	assert_true(t->c.misses > 1000);
	assert_true(t->c.evictions > 1000);
}

/*
 * The caller's path through the L0 (cpu.h's cpu_l0_hit() and
 * cpu_probe_hit(), every right granted): the L0 tag, else the inline probe
 * (whose hit sets the tag), else the rest of the lookup.
 */
static struct tlb_entry *l0_lookup(struct tlb *t, gva_t va, uint16_t v, uint16_t p,
				   enum access_kind k)
{
	size_t x = tlb_l0_index(va >> PAGE_SHIFT, 1);

	if (k == ACC_FETCH) { /* cpu.h's cpu_fetch() */
		if (t->l0.ftag[x] == va >> PAGE_SHIFT) {
			t->c.l0_fetch_hits[1]++;
			t->l0.fe[x]->stamp = ++t->clock;
			return t->l0.fe[x];
		}
		struct tlb_entry *e = tlb_lookup(t, va, v, p, ACC_FETCH);

		if (e && e->size == PG_4K)
			tlb_l0_fetch_set(t, true, va, e);
		return e;
	}
	if (t->l0.tag[k][x] == va >> PAGE_SHIFT) {
		t->c.l0_hits[1]++;
		tlb_l0_touch(t, x);
		return t->l0.e[x];
	}
	struct tlb_entry *e = tlb_lookup_4k(t, va, v, p);
	if (e) {
		tlb_l0_set(t, true, k, va, e, TEST_L0_BASE);
		return e;
	}
	return tlb_lookup_rest(t, va, v, p, k);
}

/* Which array holds e, and where: comparable across two TLBs of one shape. */
static long entry_pos(const struct tlb *t, const struct tlb_entry *e)
{
	const struct tlb_array *arr[] = {&t->l1d, &t->l1d_large, &t->l1i, &t->l2};

	for (int k = 0; k < 4; k++)
		if (entry_in(arr[k], e))
			return (long)k << 32 | (long)(e - arr[k]->e);
	return -1;
}

/* Rank of each valid entry's stamp within its set (the LRU order). */
static unsigned stamp_rank(const struct tlb_array *a, const struct tlb_entry *e)
{
	const struct tlb_entry *set = a->e + (size_t)((e - a->e) / a->ways) * a->ways;
	unsigned r = 0;

	for (uint32_t w = 0; w < a->ways; w++)
		r += (set[w].flags & TLBF_VALID) && set[w].stamp < e->stamp;
	return r;
}

/* Two TLBs hold the same entries in the same ways, in the same LRU order. */
static void arrays_agree(const struct tlb_array *a, const struct tlb_array *b)
{
	for (size_t i = 0; i < (size_t)a->sets * a->ways; i++) {
		const struct tlb_entry *x = &a->e[i], *y = &b->e[i];

		if ((x->flags & TLBF_VALID) != (y->flags & TLBF_VALID))
			fail_msg("entry %zu: valid in one TLB only", i);
		if (!(x->flags & TLBF_VALID))
			continue;
		if (x->vpn != y->vpn || x->hpa != y->hpa || x->pcid != y->pcid ||
		    x->flags != y->flags || stamp_rank(a, x) != stamp_rank(b, y))
			fail_msg("entry %zu differs (or its LRU rank does)", i);
	}
}

/*
 * The L0 changes no modelled result: one TLB looked up through the L0 and
 * one through tlb_lookup() alone, given the same accesses, fills and
 * flushes, return the same entries, count the same, and hold the same
 * entries in the same LRU order, so that every later victim is the same.
 * Global pages, two PCIDs, address flushes and PCID flushes included; one
 * access in three is a fetch, through the fetch side of the L0 and l1i.
 */
static void test_l0_changes_nothing(void **state)
{
	struct tlb *t = *state;
	struct tlb *ref = calloc(1, sizeof(*ref));
	const struct tlb_shape shape = {.l1d = {t->l1d.sets, t->l1d.ways},
					.l1d_large = {t->l1d_large.sets, t->l1d_large.ways},
					.l1i = {t->l1i.sets, t->l1i.ways},
					.l2 = {t->l2.sets, t->l2.ways}};
	uint64_t rng = 0x10;
	uint16_t p = 1;
	uint64_t l0_hits = 0, l0_fetch_hits = 0;

	assert_non_null(ref);
	assert_int_equal(tlb_init(ref, &shape), 0);
	for (unsigned step = 0; step < 200000; step++) {
		unsigned op = (unsigned)(rng_next(&rng) % 1000);
		/* 96 pages, more than the l1d and the L0 hold, the low 8 global;
		 * four accesses in five go to 6 hot pages (0, 1, 8 to 11), which
		 * the l1d holds. */
		static const uint64_t hot[] = {0, 1, 8, 9, 10, 11};
		uint64_t pg = rng_next(&rng) % 5 ? hot[rng_next(&rng) % 6] : rng_next(&rng) % 96;
		gva_t va = UINT64_C(0x7f0000000000) + pg * PAGE_SIZE + (rng_next(&rng) & 0xff8);
		enum access_kind k = (enum access_kind)(rng_next(&rng) % 3);
		uint8_t flags = (uint8_t)(TLBF_W | TLBF_U | TLBF_D | (pg < 8 ? TLBF_G : 0));
		uint64_t hpa = (UINT64_C(0x100000) + pg * 16 + (pg < 8 ? 0 : p)) << PAGE_SHIFT;

		if (op < 950) {
			size_t x = tlb_l0_index(va >> PAGE_SHIFT, 1);
			bool via_l0 =
			    (k == ACC_FETCH ? t->l0.ftag[x] : t->l0.tag[k][x]) == va >> PAGE_SHIFT;
			struct tlb_entry *a = l0_lookup(t, va, 1, p, k);
			struct tlb_entry *b = tlb_lookup(ref, va, 1, p, k);

			l0_hits += via_l0;
			l0_fetch_hits += via_l0 && k == ACC_FETCH;
			if ((a == NULL) != (b == NULL))
				fail_msg("step %u: a hit in one TLB only", step);
			if (a == NULL) {
				const struct tlb_fill f = {
				    .va = va, .hpa = HPA(hpa), .size = PG_4K, .flags = flags};
				tlb_insert(t, &f, 1, p, k);
				tlb_insert(ref, &f, 1, p, k);
			} else if (a->hpa != b->hpa || entry_pos(t, a) != entry_pos(ref, b)) {
				fail_msg("step %u: the hits differ", step);
			}
		} else if (op < 970) {
			/* Another process: the caller empties its L0. */
			p = (uint16_t)(1 + rng_next(&rng) % 2);
			tlb_l0_clear(t);
		} else if (op < 990) {
			tlb_flush_addr(t, 1, p, va);
			tlb_flush_addr(ref, 1, p, va);
		} else {
			tlb_flush_pcid(t, 1, p);
			tlb_flush_pcid(ref, 1, p);
		}
		const char *why = tlb_check(t);

		if (why)
			fail_msg("step %u: invariant violated: %s", step, why);
	}
	struct tlb_counters a = tlb_counters(t), b = tlb_counters(ref);

	assert_memory_equal(&a, &b, sizeof(a));
	arrays_agree(&t->l1d, &ref->l1d);
	arrays_agree(&t->l1i, &ref->l1i);
	arrays_agree(&t->l2, &ref->l2);
	/* Every path was taken. */
	assert_true(l0_hits > 50000);
	assert_true(l0_fetch_hits > 20000);
	assert_true(a.misses > 10000);
	assert_true(a.evictions > 1000);
	tlb_destroy(ref);
	free(ref);
}

static void test_differential_catches_stale_entry(void **state)
{
	struct tlb *t = *state;

	assert_int_equal(run_program(t, 0x5eed, true, 20000), 1);
}

/* The differential program with the clock crossing 2^32: no stamp is
 * truncated (victims compared with the reference rule at every fill). */
static void test_differential_past_32_bit_clock(void **state)
{
	struct tlb *t = *state;

	t->clock = UINT32_MAX - 5000;
	assert_int_equal(run_program(t, 0xc0ffee, false, 20000), 0);
	assert_true(t->clock > UINT32_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_geometry_rejected),
	    cmocka_unit_test_setup_teardown(test_miss_fill_hit_counts, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_mru_memo, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_l2_hit_refills_l1, setup_refill, teardown),
	    cmocka_unit_test_setup_teardown(test_lru_eviction_order, setup_tiny, teardown),
	    cmocka_unit_test_setup_teardown(test_lru_past_32_bit_clock, setup_tiny, teardown),
	    cmocka_unit_test_setup_teardown(test_large_pages_cover_their_range, setup_roomy,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_vpn_is_canonical_bits, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_vpid_pcid_isolation, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_global_matches_any_pcid, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_insert_replaces_same_page, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_all, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_vpid, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_pcid_keeps_globals, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_addr, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_nonglobal, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_all_guests_keeps_vpid0, setup_roomy,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_differential_clean, setup_busy, teardown),
	    cmocka_unit_test_setup_teardown(test_differential_default_ways, setup_busy12, teardown),
	    cmocka_unit_test_setup_teardown(test_l0_changes_nothing, setup_busy12, teardown),
	    cmocka_unit_test_setup_teardown(test_differential_catches_stale_entry, setup_busy,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_differential_past_32_bit_clock, setup_busy,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

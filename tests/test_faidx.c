/*
 * test_faidx.c - the indexed 2D page-walk cache and nested TLB against
 * reference scans (src/tlb/faidx.c, pwc2d.c, ntlb.c).
 *
 * The index must not change a single decision: which entry a lookup finds,
 * which slot a fill takes (the lowest empty slot, else the smallest stamp),
 * what a flush drops. The reference models below are the plain linear scans
 * over the same slot arrays; a random op program runs on both, small enough
 * that every slot is evicted many times over, and after every op the slot
 * arrays (keys, entries, stamps) and the results must be identical. One run
 * plants a wrong victim choice in the reference, which the comparison must
 * catch. The software TLB's per-size counts (src/tlb/tlb.c), which let a
 * lookup skip the sizes an array holds none of, are checked the same way
 * against a count of the valid entries. Fixture values are non-zero
 * sentinels.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/core/pte.h"
#include "../src/tlb/faidx.h"
#include "../src/tlb/ntlb.h"
#include "../src/tlb/pwc2d.h"
#include "../src/tlb/tlb.h"

#define N_SLOTS 8u
#define N_OPS 200000
#define EP4TA_A UINT64_C(0x5a5a5000)
#define EP4TA_B UINT64_C(0x7b7b7000)

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* ---- reference: the 2D page-walk cache as a scan ---- */

struct ref_pwc {
	uint64_t key[N_SLOTS];
	struct pwc2d_entry e[N_SLOTS];
	uint64_t clock;
	bool plant; /* take the highest empty slot: a deliberate fault */
};

static int ref_pwc_find(const struct ref_pwc *r, uint64_t k, enum pwc_dim dim, uint16_t vpid,
			uint16_t pcid, uint64_t ep4ta)
{
	for (uint32_t i = 0; i < N_SLOTS; i++)
		if (r->key[i] == k && r->e[i].ep4ta == ep4ta &&
		    (dim == PWC_HOST || (r->e[i].vpid == vpid && r->e[i].pcid == pcid)))
			return (int)i;
	return -1;
}

static void ref_pwc_insert(struct ref_pwc *r, uint64_t k, enum pwc_dim dim, int level,
			   uint16_t vpid, uint16_t pcid, uint64_t ep4ta, uint64_t value)
{
	if (dim == PWC_HOST)
		vpid = pcid = 0;
	int i = ref_pwc_find(r, k, dim, vpid, pcid, ep4ta);
	if (i < 0) {
		uint32_t victim = 0;
		for (uint32_t j = 0; j < N_SLOTS; j++) {
			if (!r->key[j]) {
				victim = j;
				if (!r->plant)
					break;
				continue;
			}
			if (r->key[victim] && r->e[j].stamp < r->e[victim].stamp)
				victim = j;
		}
		i = (int)victim;
		r->key[i] = k;
	}
	r->e[i] = (struct pwc2d_entry){.value = value,
				       .ep4ta = ep4ta,
				       .stamp = ++r->clock,
				       .vpid = vpid,
				       .pcid = pcid,
				       .level = (uint8_t)level,
				       .dim = (uint8_t)dim};
}

/* Compare the cache with the reference; returns the number of slots that
 * differ. */
static int pwc_diff(const struct pwc2d *c, const struct ref_pwc *r)
{
	int bad = 0;
	for (uint32_t i = 0; i < N_SLOTS; i++) {
		if (c->key[i] != r->key[i]) {
			bad++;
			continue;
		}
		if (c->key[i] && (c->e[i].value != r->e[i].value ||
				  c->e[i].stamp != r->e[i].stamp || c->e[i].vpid != r->e[i].vpid ||
				  c->e[i].pcid != r->e[i].pcid || c->e[i].ep4ta != r->e[i].ep4ta))
			bad++;
	}
	return bad;
}

static int run_pwc(bool plant, uint64_t seed)
{
	struct pwc2d c;
	struct ref_pwc r = {.plant = plant};
	uint64_t s = seed;
	int bad = 0;

	assert_int_equal(pwc2d_init(&c, N_SLOTS), 0);
	for (int op = 0; op < N_OPS && !bad; op++) {
		uint64_t x = rng(&s);
		enum pwc_dim dim = (enum pwc_dim)(x & 1);
		hpa_t h = HPA(UINT64_C(0x7000) + 8 * ((x >> 1) % 12));
		uint16_t vpid = (uint16_t)((x >> 8) % 3), pcid = (uint16_t)((x >> 12) % 3);
		uint64_t ep4ta = (x >> 16) & 1 ? EP4TA_B : EP4TA_A;
		uint64_t k = (h.v & ~UINT64_C(7)) | ((uint64_t)dim << 1) | 1;
		unsigned what = (unsigned)((x >> 20) % 100);

		if (what < 55) {
			uint64_t got = 0;
			bool hit = pwc2d_lookup(&c, dim, h, vpid, pcid, ep4ta, &got);
			uint16_t rv = dim == PWC_HOST ? 0 : vpid, rp = dim == PWC_HOST ? 0 : pcid;
			int i = ref_pwc_find(&r, k, dim, rv, rp, ep4ta);
			if (hit != (i >= 0) || (hit && got != r.e[i].value))
				bad++;
			if (i >= 0)
				r.e[i].stamp = ++r.clock;
		} else if (what < 97) {
			uint64_t value = (x >> 24) | 1;
			pwc2d_insert(&c, dim, h, 1 + (int)(x % 4), vpid, pcid, ep4ta, value);
			ref_pwc_insert(&r, k, dim, 1 + (int)(x % 4), vpid, pcid, ep4ta, value);
		} else {
			/* A flush of one kind: the same selection on the reference. */
			unsigned kind = (unsigned)((x >> 40) % 5);
			uint64_t n = 0, rn = 0;
			switch (kind) {
			case 0:
				n = pwc2d_flush_all(&c);
				break;
			case 1:
				n = pwc2d_flush_ep4ta(&c, ep4ta);
				break;
			case 2:
				n = pwc2d_flush_guest_vpid(&c, vpid);
				break;
			case 3:
				n = pwc2d_flush_guest_pcid(&c, vpid, pcid);
				break;
			default:
				n = pwc2d_flush_guest_nonzero(&c);
				break;
			}
			for (uint32_t i = 0; i < N_SLOTS; i++) {
				const struct pwc2d_entry *e = &r.e[i];
				bool g = e->dim == PWC_GUEST;
				bool drop =
				    kind == 0 || (kind == 1 && e->ep4ta == ep4ta) ||
				    (kind == 2 && g && e->vpid == vpid) ||
				    (kind == 3 && g && e->vpid == vpid && e->pcid == pcid) ||
				    (kind == 4 && g && e->vpid != 0);
				if (r.key[i] && drop) {
					r.key[i] = 0;
					rn++;
				}
			}
			if (n != rn)
				bad++;
		}
		bad += pwc_diff(&c, &r);
	}
	pwc2d_destroy(&c);
	return bad;
}

/* ---- reference: the nested TLB as a scan ---- */

struct ref_ntlb {
	uint64_t key[N_SLOTS], mask[N_SLOTS];
	struct ntlb_entry e[N_SLOTS];
	uint64_t clock;
	bool plant;
};

static int ref_ntlb_find(const struct ref_ntlb *r, gpa_t gpa, uint64_t ep4ta)
{
	for (uint32_t i = 0; i < N_SLOTS; i++)
		if (((gpa.v & r->mask[i]) | 1) == r->key[i] && r->e[i].ep4ta == ep4ta)
			return (int)i;
	return -1;
}

static void ref_ntlb_insert(struct ref_ntlb *r, gpa_t gpa, hpa_t hpa, enum page_size size,
			    uint64_t ep4ta)
{
	uint64_t m = ~(page_bytes(size) - 1);
	int i = ref_ntlb_find(r, gpa, ep4ta);
	if (i < 0) {
		uint32_t victim = 0;
		for (uint32_t j = 0; j < N_SLOTS; j++) {
			if (!r->key[j]) {
				victim = j;
				if (!r->plant)
					break;
				continue;
			}
			if (r->key[victim] && r->e[j].stamp < r->e[victim].stamp)
				victim = j;
		}
		i = (int)victim;
	}
	r->key[i] = (gpa.v & m) | 1;
	r->mask[i] = m;
	r->e[i] = (struct ntlb_entry){.gpa = GPA(gpa.v & m),
				      .hpa = HPA(hpa.v & m),
				      .ep4ta = ep4ta,
				      .stamp = ++r->clock,
				      .size = (uint8_t)size,
				      .rights = EPTE_RWX,
				      .dirty = true};
}

static int ntlb_diff(const struct ntlb *t, const struct ref_ntlb *r)
{
	int bad = 0;
	for (uint32_t i = 0; i < N_SLOTS; i++) {
		if (t->key[i] != r->key[i]) {
			bad++;
			continue;
		}
		if (t->key[i] && (t->mask[i] != r->mask[i] || t->e[i].hpa.v != r->e[i].hpa.v ||
				  t->e[i].stamp != r->e[i].stamp || t->e[i].size != r->e[i].size ||
				  t->e[i].ep4ta != r->e[i].ep4ta))
			bad++;
	}
	return bad;
}

static int run_ntlb(bool plant, uint64_t seed)
{
	struct ntlb t;
	struct ref_ntlb r = {.plant = plant};
	uint64_t s = seed;
	int bad = 0;

	assert_int_equal(ntlb_init(&t, N_SLOTS), 0);
	for (int op = 0; op < N_OPS && !bad; op++) {
		uint64_t x = rng(&s);
		/* 4K pages of the first 8 MiB and of the second 1 GiB: 2M and 1G
		 * entries overlap 4K ones, so several entries may cover one gPA. */
		uint64_t page = (x >> 4) % 48;
		gpa_t gpa = GPA(((x & 1) ? UINT64_C(0x40000000) : 0) + page * 0x2b000 + 0x18);
		uint64_t ep4ta = (x >> 2) & 1 ? EP4TA_B : EP4TA_A;
		unsigned what = (unsigned)((x >> 20) % 100);

		if (what < 55) {
			struct ntlb_entry *e = ntlb_lookup(&t, gpa, ep4ta);
			int i = ref_ntlb_find(&r, gpa, ep4ta);
			if ((e != NULL) != (i >= 0) || (e && e - t.e != i))
				bad++;
			if (i >= 0)
				r.e[i].stamp = ++r.clock;
		} else if (what < 98) {
			unsigned sz = (unsigned)((x >> 30) % 10);
			enum page_size size = sz < 7 ? PG_4K : sz < 9 ? PG_2M : PG_1G;
			hpa_t hpa =
			    HPA(UINT64_C(0x123400000000) + (x & ~UINT64_C(0xfff) & 0xffffffff));
			ntlb_insert(&t, gpa, hpa, size, ep4ta, EPTE_RWX, true);
			ref_ntlb_insert(&r, gpa, hpa, size, ep4ta);
		} else {
			bool all = (x >> 40) & 1;
			uint64_t n = all ? ntlb_flush_all(&t) : ntlb_flush_ep4ta(&t, ep4ta), rn = 0;
			for (uint32_t i = 0; i < N_SLOTS; i++) {
				if (r.key[i] && (all || r.e[i].ep4ta == ep4ta)) {
					r.key[i] = 0;
					rn++;
				}
			}
			if (n != rn)
				bad++;
		}
		bad += ntlb_diff(&t, &r);
	}
	assert_int_equal(ntlb_count_valid(&t), t.idx.used);
	ntlb_destroy(&t);
	return bad;
}

/* ---- the TLB's per-size counts ---- */

static int tlb_counts_bad(const struct tlb_array *a)
{
	uint32_t n[PG_NR] = {0};
	for (size_t i = 0; i < (size_t)a->sets * a->ways; i++)
		if (a->e[i].flags & TLBF_VALID)
			n[a->e[i].size]++;
	int bad = 0;
	for (int s = 0; s < PG_NR; s++)
		bad += n[s] != a->nsize[s];
	return bad;
}

/* Random fills of every size, lookups of every kind and every flush; after
 * each op the counts must equal the valid entries of each size, and an
 * address just filled must be found (a skipped size would lose it). */
static void test_tlb_size_counts(void **state)
{
	(void)state;
	const struct tlb_shape shape = {.l1d = {.sets = 4, .ways = 2},
					.l1d_large = {.sets = 2, .ways = 2},
					.l1i = {.sets = 2, .ways = 2},
					.l2 = {.sets = 4, .ways = 4}};
	struct tlb t;
	uint64_t s = UINT64_C(0x9e3779b97f4a7c15);
	int bad = 0, lost = 0;

	assert_int_equal(tlb_init(&t, &shape), 0);
	for (int op = 0; op < N_OPS; op++) {
		uint64_t x = rng(&s);
		gva_t va = ((x >> 8) % 64) * UINT64_C(0x1f3000) + 0x5a8;
		uint16_t vpid = (uint16_t)((x >> 16) % 2), pcid = (uint16_t)((x >> 20) % 2);
		enum access_kind kind = (x >> 24) % 4 == 0 ? ACC_FETCH : ACC_READ;
		unsigned what = (unsigned)((x >> 32) % 100);

		if (what < 45) {
			unsigned sz = (unsigned)((x >> 40) % 10);
			enum page_size size = sz < 6 ? PG_4K : sz < 9 ? PG_2M : PG_1G;
			struct tlb_fill f = {.va = va,
					     .hpa = HPA(UINT64_C(0x7b7b00000000)),
					     .size = size,
					     .flags =
						 (uint8_t)(TLBF_W | ((x >> 48) & 1 ? TLBF_G : 0))};
			tlb_insert(&t, &f, vpid, pcid, kind);
			lost += tlb_lookup(&t, va, vpid, pcid, kind) == NULL;
		} else if (what < 90) {
			(void)tlb_lookup(&t, va, vpid, pcid, kind);
		} else {
			switch ((x >> 40) % 6) {
			case 0:
				(void)tlb_flush_addr(&t, vpid, pcid, va);
				break;
			case 1:
				(void)tlb_flush_addr_vpid(&t, vpid, va);
				break;
			case 2:
				(void)tlb_flush_pcid(&t, vpid, pcid);
				break;
			case 3:
				(void)tlb_flush_nonglobal(&t, vpid);
				break;
			case 4:
				(void)tlb_flush_vpid(&t, vpid);
				break;
			default:
				(void)tlb_flush_all(&t);
				break;
			}
		}
		bad += tlb_counts_bad(&t.l1d) + tlb_counts_bad(&t.l1d_large) +
		       tlb_counts_bad(&t.l1i) + tlb_counts_bad(&t.l2);
	}
	assert_int_equal(bad, 0);
	assert_int_equal(lost, 0);
	assert_true(t.c.l2_hits > 0 && t.c.evictions > 0);
	tlb_destroy(&t);
}

/* ---- tests ---- */

static void test_pwc2d_matches_scan(void **state)
{
	(void)state;
	assert_int_equal(run_pwc(false, UINT64_C(0x9e3779b97f4a7c15)), 0);
	assert_int_equal(run_pwc(false, UINT64_C(0x2545f4914f6cdd1d)), 0);
}

static void test_ntlb_matches_scan(void **state)
{
	(void)state;
	assert_int_equal(run_ntlb(false, UINT64_C(0x9e3779b97f4a7c15)), 0);
	assert_int_equal(run_ntlb(false, UINT64_C(0x2545f4914f6cdd1d)), 0);
}

/* The deliberate fault: a reference that fills the highest empty slot
 * instead of the lowest must disagree, or the comparison proves nothing. */
static void test_planted_victim_is_caught(void **state)
{
	(void)state;
	assert_true(run_pwc(true, UINT64_C(0x9e3779b97f4a7c15)) > 0);
	assert_true(run_ntlb(true, UINT64_C(0x9e3779b97f4a7c15)) > 0);
}

/* The index alone: victims, LRU order and chains, with exact slots. */
static void test_index_victims(void **state)
{
	(void)state;
	struct faidx x;
	assert_int_equal(faidx_init(&x, 4), 0);
	assert_int_equal(x.nbuckets, 8);
	assert_int_equal(faidx_victim(&x), 0);
	faidx_add(&x, 0, 0x1001);
	faidx_add(&x, 1, 0x2001);
	faidx_add(&x, 2, 0x3001);
	assert_int_equal(faidx_victim(&x), 3);
	faidx_remove(&x, 1);
	assert_int_equal(faidx_victim(&x), 1); /* the lowest empty slot */
	faidx_add(&x, 1, 0x2001);
	faidx_add(&x, 3, 0x4001);
	/* Full: LRU order 0, 2, 1, 3. */
	assert_int_equal(faidx_victim(&x), 0);
	faidx_touch(&x, 0);
	assert_int_equal(faidx_victim(&x), 2);
	faidx_touch(&x, 3); /* already MRU: no change */
	faidx_touch(&x, 2);
	assert_int_equal(faidx_victim(&x), 1);
	faidx_rekey(&x, 1, 0x5001);
	uint32_t found = 0;
	for (uint32_t s = faidx_first(&x, 0x5001); s; s = x.chain[s - 1])
		found |= s == 2;
	assert_true(found);
	for (uint32_t s = faidx_first(&x, 0x2001); s; s = x.chain[s - 1])
		assert_int_not_equal(s, 2);
	faidx_reset(&x);
	assert_int_equal(x.used, 0);
	assert_int_equal(faidx_victim(&x), 0);
	faidx_destroy(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_index_victims),
	    cmocka_unit_test(test_pwc2d_matches_scan),
	    cmocka_unit_test(test_ntlb_matches_scan),
	    cmocka_unit_test(test_planted_victim_is_caught),
	    cmocka_unit_test(test_tlb_size_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

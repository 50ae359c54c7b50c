/*
 * ntlb.c - the nested TLB (see ntlb.h).
 *
 * Sizing: cfg.ntlb_entries (32 by default). The 2D walker looks the nested
 * TLB up for every guest-physical address it translates, so lookups and
 * fills go through the index of faidx.h rather than scans of every entry.
 * Entries of different sizes share the array; each carries its own mask and
 * is hashed under its own key, so a lookup probes the chain of each page
 * size that has valid entries, and the lowest matching index wins, as in a
 * scan. Flushes still visit every entry. Sections: private helpers, API,
 * flushes.
 */
#include <stdlib.h>

#include "ntlb.h"

/* ---- private helpers ---- */

static void ntlb_drop(struct ntlb *t, uint32_t i)
{
	faidx_remove(&t->idx, i);
	ntlb_count_size(t, t->e[i].size, PG_NR);
	t->key[i] = 0;
}

/* ---- API ---- */

int ntlb_init(struct ntlb *t, uint32_t n)
{
	*t = (struct ntlb){0};
	if (n == 0)
		return 0;
	t->key = calloc(n, sizeof(*t->key));
	t->mask = calloc(n, sizeof(*t->mask));
	t->e = calloc(n, sizeof(*t->e));
	if (!t->key || !t->mask || !t->e || faidx_init(&t->idx, n) != 0) {
		ntlb_destroy(t);
		return -1;
	}
	t->n = n;
	return 0;
}

void ntlb_destroy(struct ntlb *t)
{
	free(t->key);
	free(t->mask);
	free(t->e);
	faidx_destroy(&t->idx);
	*t = (struct ntlb){0};
}

void ntlb_insert(struct ntlb *t, gpa_t gpa, hpa_t hpa, enum page_size size, uint64_t ep4ta,
		 uint8_t rights, bool dirty)
{
	if (t->n == 0)
		return;
	ntlb_fill(t, ntlb_find(t, gpa, ep4ta), gpa, hpa, size, ep4ta, rights, dirty);
}

uint64_t ntlb_count_valid(const struct ntlb *t)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < t->n; i++)
		n += t->key[i] != 0;
	return n;
}

/* ---- flushes ---- */

uint64_t ntlb_flush_all(struct ntlb *t)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < t->n; i++) {
		if (t->key[i]) {
			ntlb_drop(t, i);
			n++;
		}
	}
	t->flushes++;
	t->dropped += n;
	return n;
}

uint64_t ntlb_flush_ep4ta(struct ntlb *t, uint64_t ep4ta)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < t->n; i++) {
		if (t->key[i] && t->e[i].ep4ta == ep4ta) {
			ntlb_drop(t, i);
			n++;
		}
	}
	t->flushes++;
	t->dropped += n;
	return n;
}

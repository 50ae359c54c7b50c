/*
 * ntlb.c - the nested TLB (see ntlb.h).
 *
 * Sizing: cfg.ntlb_entries (32 by default), small enough that a linear scan
 * of the key array beats any indexing. Entries of different sizes share the
 * array; each carries its own mask. Sections: private helpers, API, flushes.
 */
#include <stdlib.h>

#include "ntlb.h"

/* ---- private helpers ---- */

static inline uint64_t ntlb_mask(enum page_size size)
{
	return ~(page_bytes(size) - 1);
}

static int ntlb_find(const struct ntlb *t, gpa_t gpa, uint64_t ep4ta)
{
	for (uint32_t i = 0; i < t->n; i++)
		if (((gpa.v & t->mask[i]) | 1) == t->key[i] && t->e[i].ep4ta == ep4ta)
			return (int)i;
	return -1;
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
	if (!t->key || !t->mask || !t->e) {
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
	*t = (struct ntlb){0};
}

struct ntlb_entry *ntlb_lookup(struct ntlb *t, gpa_t gpa, uint64_t ep4ta)
{
	int i = ntlb_find(t, gpa, ep4ta);
	if (i < 0) {
		t->misses++;
		return NULL;
	}
	t->hits++;
	t->e[i].stamp = ++t->clock;
	return &t->e[i];
}

void ntlb_insert(struct ntlb *t, gpa_t gpa, hpa_t hpa, enum page_size size, uint64_t ep4ta,
		 uint8_t rights, bool dirty)
{
	if (t->n == 0)
		return;
	uint64_t m = ntlb_mask(size);
	int i = ntlb_find(t, gpa, ep4ta);
	if (i < 0) {
		uint32_t victim = 0;
		for (uint32_t j = 0; j < t->n; j++) {
			if (!t->key[j]) {
				victim = j;
				break;
			}
			if (t->e[j].stamp < t->e[victim].stamp)
				victim = j;
		}
		i = (int)victim;
	}
	t->fills++;
	t->key[i] = (gpa.v & m) | 1;
	t->mask[i] = m;
	t->e[i] = (struct ntlb_entry){.gpa = GPA(gpa.v & m),
				      .hpa = HPA(hpa.v & m),
				      .ep4ta = ep4ta,
				      .stamp = ++t->clock,
				      .size = (uint8_t)size,
				      .rights = rights,
				      .dirty = dirty};
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
		n += t->key[i] != 0;
		t->key[i] = 0;
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
			t->key[i] = 0;
			n++;
		}
	}
	t->flushes++;
	t->dropped += n;
	return n;
}

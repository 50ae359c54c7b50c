/*
 * pwc2d.c - the two-dimensional page-walk cache (see pwc2d.h).
 *
 * Sizing: the cache is small (cfg.pwc_entries, 32 by default), like the
 * page-walk caches Bhargava et al. evaluate, but a 2D walk looks it up at
 * almost every reference, so lookups and fills go through the index of
 * faidx.h (one hash chain, an LRU list) rather than scans of every entry.
 * Hits, misses and victims are those of the scan: see faidx.h. Flushes still
 * visit every entry. Sections: private helpers, API, flushes.
 */
#include <stdlib.h>

#include "pwc2d.h"

/* ---- private helpers ---- */

/* Drop every valid entry for which drop() is true. */
static uint64_t pwc2d_flush_if(struct pwc2d *c,
			       bool (*drop)(const struct pwc2d_entry *, const void *),
			       const void *arg)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < c->n; i++) {
		if (c->key[i] && drop(&c->e[i], arg)) {
			faidx_remove(&c->idx, i);
			c->key[i] = 0;
			n++;
		}
	}
	c->flushes++;
	c->dropped += n;
	return n;
}

struct pwc2d_sel {
	uint64_t ep4ta;
	uint16_t vpid, pcid;
};

static bool drop_any(const struct pwc2d_entry *e, const void *arg)
{
	(void)e;
	(void)arg;
	return true;
}

static bool drop_ep4ta(const struct pwc2d_entry *e, const void *arg)
{
	return e->ep4ta == ((const struct pwc2d_sel *)arg)->ep4ta;
}

static bool drop_guest_vpid(const struct pwc2d_entry *e, const void *arg)
{
	return e->dim == PWC_GUEST && e->vpid == ((const struct pwc2d_sel *)arg)->vpid;
}

static bool drop_guest_pcid(const struct pwc2d_entry *e, const void *arg)
{
	const struct pwc2d_sel *s = arg;
	return e->dim == PWC_GUEST && e->vpid == s->vpid && e->pcid == s->pcid;
}

static bool drop_guest_nonzero(const struct pwc2d_entry *e, const void *arg)
{
	(void)arg;
	return e->dim == PWC_GUEST && e->vpid != 0;
}

/* ---- API ---- */

int pwc2d_init(struct pwc2d *c, uint32_t n)
{
	*c = (struct pwc2d){0};
	if (n == 0)
		return 0;
	c->key = calloc(n, sizeof(*c->key));
	c->e = calloc(n, sizeof(*c->e));
	if (!c->key || !c->e || faidx_init(&c->idx, n) != 0) {
		pwc2d_destroy(c);
		return -1;
	}
	c->n = n;
	return 0;
}

void pwc2d_destroy(struct pwc2d *c)
{
	free(c->key);
	free(c->e);
	faidx_destroy(&c->idx);
	*c = (struct pwc2d){0};
}

void pwc2d_insert(struct pwc2d *c, enum pwc_dim dim, hpa_t hpa, int level, uint16_t vpid,
		  uint16_t pcid, uint64_t ep4ta, uint64_t value)
{
	if (c->n == 0)
		return;
	if (dim == PWC_HOST)
		vpid = pcid = 0;
	pwc2d_fill(c, pwc2d_find(c, dim, hpa, vpid, pcid, ep4ta), dim, hpa, level, vpid, pcid,
		   ep4ta, value);
}

uint64_t pwc2d_count(const struct pwc2d *c, enum pwc_dim dim)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < c->n; i++)
		n += c->key[i] && c->e[i].dim == dim;
	return n;
}

/* ---- flushes ---- */

uint64_t pwc2d_flush_all(struct pwc2d *c)
{
	return pwc2d_flush_if(c, drop_any, NULL);
}

uint64_t pwc2d_flush_ep4ta(struct pwc2d *c, uint64_t ep4ta)
{
	struct pwc2d_sel s = {.ep4ta = ep4ta};
	return pwc2d_flush_if(c, drop_ep4ta, &s);
}

uint64_t pwc2d_flush_guest_vpid(struct pwc2d *c, uint16_t vpid)
{
	struct pwc2d_sel s = {.vpid = vpid};
	return pwc2d_flush_if(c, drop_guest_vpid, &s);
}

uint64_t pwc2d_flush_guest_pcid(struct pwc2d *c, uint16_t vpid, uint16_t pcid)
{
	struct pwc2d_sel s = {.vpid = vpid, .pcid = pcid};
	return pwc2d_flush_if(c, drop_guest_pcid, &s);
}

uint64_t pwc2d_flush_guest_nonzero(struct pwc2d *c)
{
	return pwc2d_flush_if(c, drop_guest_nonzero, NULL);
}

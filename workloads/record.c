/*
 * record.c - the op stream recorder that the bench attaches to a workload.
 *
 * While a workload runs with p.rec set, every user load, store and fetch is
 * appended here. Each distinct (process, virtual page) gets a compact page
 * index at its first access, so that a replay can address a flat array as
 * flat[index * 4096 + offset] with no translation at all. Past max_pages,
 * new pages share indices (hash modulo max_pages): the replay stays within a
 * bounded array, and the bench reports how many pages were aliased.
 *
 * Recording is not the engine's hot path: it runs only in the bench's
 * recording pass, whose time is never reported.
 *
 * Invariants:
 *   - n <= limit, n <= cap; page[i] < max(npages, 1) for i < n;
 *   - map_cap is a power of two and at most half full.
 */
#include <stdlib.h>
#include <string.h>

#include "workload.h"

/* Key of a (pid, page): pid + 1 above the 45 bits of a 57-bit vpn, so that
 * no key is 0 (the empty slot). */
#define VPN_BITS 45
#define VPN_MASK ((UINT64_C(1) << VPN_BITS) - 1)

static uint64_t rec_key(int pid, gva_t va)
{
	return ((uint64_t)(pid + 1) << VPN_BITS) | ((va >> PAGE_SHIFT) & VPN_MASK);
}

static uint64_t rec_hash(uint64_t key)
{
	return wl_mix(key, UINT64_C(0x5bd1e995));
}

/* ---- private helpers ---- */

static int rec_grow_stream(struct wl_rec *r)
{
	uint64_t cap = r->cap ? r->cap * 2 : UINT64_C(1) << 16;
	if (cap > r->limit)
		cap = r->limit;
	uint64_t *op = realloc(r->op, cap * sizeof(*op));
	if (op == NULL)
		return -1;
	r->op = op;
	uint64_t *val = realloc(r->val, cap * sizeof(*val));
	if (val == NULL)
		return -1;
	r->val = val;
	uint32_t *page = realloc(r->page, cap * sizeof(*page));
	if (page == NULL)
		return -1;
	r->page = page;
	r->cap = cap;
	return 0;
}

static void rec_map_put(uint64_t *keys, uint32_t *idx, uint64_t cap, uint64_t key, uint32_t i)
{
	uint64_t mask = cap - 1;
	for (uint64_t h = rec_hash(key) & mask;; h = (h + 1) & mask) {
		if (keys[h] == 0) {
			keys[h] = key;
			idx[h] = i;
			return;
		}
	}
}

static int rec_grow_map(struct wl_rec *r)
{
	uint64_t cap = r->map_cap * 2;
	uint64_t *keys = calloc(cap, sizeof(*keys));
	uint32_t *idx = calloc(cap, sizeof(*idx));
	if (keys == NULL || idx == NULL) {
		free(keys);
		free(idx);
		return -1;
	}
	for (uint64_t i = 0; i < r->map_cap; i++)
		if (r->map_key[i])
			rec_map_put(keys, idx, cap, r->map_key[i], r->map_idx[i]);
	free(r->map_key);
	free(r->map_idx);
	r->map_key = keys;
	r->map_idx = idx;
	r->map_cap = cap;
	return 0;
}

/* Compact index of key, handing out a new one at its first use. Returns -1
 * when out of memory. */
static int64_t rec_page_index(struct wl_rec *r, uint64_t key)
{
	if (key == r->last_key)
		return r->last_idx;
	uint64_t mask = r->map_cap - 1;
	uint64_t h = rec_hash(key) & mask;
	for (; r->map_key[h] != 0; h = (h + 1) & mask) {
		if (r->map_key[h] == key) {
			r->last_key = key;
			r->last_idx = r->map_idx[h];
			return r->map_idx[h];
		}
	}
	uint32_t i;
	if (r->npages < r->max_pages) {
		i = r->npages++;
	} else {
		i = (uint32_t)(rec_hash(key) % r->max_pages);
		r->aliased++;
	}
	r->map_key[h] = key;
	r->map_idx[h] = i;
	uint64_t used = (uint64_t)r->npages + r->aliased;
	if (2 * used > r->map_cap && rec_grow_map(r) < 0)
		return -1;
	r->last_key = key;
	r->last_idx = i;
	return i;
}

/* ---- API ---- */

int wl_rec_init(struct wl_rec *r, uint64_t limit, uint32_t max_pages)
{
	memset(r, 0, sizeof(*r));
	r->limit = limit;
	r->max_pages = max_pages ? max_pages : 1;
	r->first_pid = -1;
	r->map_cap = UINT64_C(1) << 12;
	r->map_key = calloc(r->map_cap, sizeof(*r->map_key));
	r->map_idx = calloc(r->map_cap, sizeof(*r->map_idx));
	if (r->map_key == NULL || r->map_idx == NULL) {
		wl_rec_free(r);
		return -1;
	}
	return 0;
}

void wl_rec_free(struct wl_rec *r)
{
	free(r->op);
	free(r->val);
	free(r->page);
	free(r->map_key);
	free(r->map_idx);
	memset(r, 0, sizeof(*r));
}

void wl_rec_push(struct wl_rec *r, struct vm *vm, gva_t va, enum access_kind k, uint64_t v)
{
	if (r->failed || r->n >= r->limit) {
		r->dropped++;
		return;
	}
	if (r->n == r->cap && rec_grow_stream(r) < 0) {
		r->failed = true;
		r->dropped++;
		return;
	}
	int pid = gmm_proc_pid(gmm_current(vm));
	if (r->first_pid < 0)
		r->first_pid = pid;
	else if (pid != r->first_pid)
		r->multi_proc = true;
	int64_t idx = rec_page_index(r, rec_key(pid, va));
	if (idx < 0) {
		r->failed = true;
		r->dropped++;
		return;
	}
	if (k == ACC_FETCH)
		r->has_fetch = true;
	r->op[r->n] = (va & ~WL_REC_KIND_MASK) | (uint64_t)k;
	r->val[r->n] = v;
	r->page[r->n] = (uint32_t)idx;
	r->n++;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

uint64_t *wl_rec_vpns(const struct wl_rec *r, uint64_t *n)
{
	uint64_t cnt = 0;
	for (uint64_t i = 0; i < r->map_cap; i++)
		cnt += r->map_key[i] != 0;
	uint64_t *v = malloc((cnt ? cnt : 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	uint64_t j = 0;
	for (uint64_t i = 0; i < r->map_cap; i++)
		if (r->map_key[i])
			v[j++] = r->map_key[i] & VPN_MASK;
	qsort(v, cnt, sizeof(*v), cmp_u64);
	*n = cnt;
	return v;
}

/*
 * faidx.h - an index for the small fully associative caches of src/tlb (the
 * 2D page-walk cache and the nested TLB): find a key without scanning every
 * slot, and pick the victim without scanning every stamp.
 *
 * The caches keep their own slot arrays (keys, entries, LRU stamps); the
 * index only mirrors them:
 *   - a chained hash of each valid slot's key, so that a lookup visits only
 *     the slots whose key hashes alike (the caller compares the key and the
 *     tag of each); home[slot] remembers the bucket a slot is linked in, so
 *     that unlinking never hashes the old key again;
 *   - the valid slots in LRU order, a circular doubly linked list through a
 *     sentinel (index n): a hit or fill moves the slot to the MRU end with
 *     no test for an empty neighbour. Because the caches stamp every hit
 *     and fill with a fresh, strictly increasing clock value, this order is
 *     exactly the order of their stamps, and the oldest slot (the
 *     sentinel's newer neighbour) is the slot with the smallest stamp;
 *   - a bitmap of the empty slots.
 * faidx_victim() returns the lowest-numbered empty slot, else the least
 * recently used one: the choice a scan of the slots in index order makes
 * ("the first empty way, else the smallest stamp"), so the caches replace
 * exactly what they replaced with a linear scan.
 *
 * Chain links are slot + 1, 0 meaning none, so that a calloc'ed bucket
 * array is empty; LRU links are plain slot numbers, n being the sentinel.
 *
 * Invariants:
 *   - a slot is either in the free bitmap or in the LRU list and in exactly
 *     one hash chain (the one of bucket home[slot], the bucket of the key it
 *     was linked with), never both;
 *   - used == the number of slots in the LRU list; the list is circular:
 *     newer[older[s]] == s and older[newer[s]] == s for every listed s and
 *     for the sentinel;
 *   - nbuckets is a power of two, at least n.
 * Allocates only in faidx_init(); prints nothing; calls nothing indirectly.
 */
#ifndef VMMU_FAIDX_H
#define VMMU_FAIDX_H

#include "../core/types.h"

struct faidx {
	uint32_t *bucket; /* nbuckets chain heads, slot + 1 */
	uint32_t *chain;  /* n: next slot + 1 in the same bucket */
	uint32_t *home;	  /* n: the bucket a valid slot is chained in */
	uint32_t *older;  /* n + 1: LRU neighbour towards the oldest; [n] = MRU */
	uint32_t *newer;  /* n + 1: LRU neighbour towards the newest; [n] = LRU */
	uint64_t *free;	  /* (n + 63) / 64 words: bit set = slot empty */
	uint32_t n, used, nbuckets;
	unsigned bucket_shift; /* 64 - log2(nbuckets) */
};

/* Allocate an index of n slots (n >= 1), all empty. Returns 0 or -1. */
int faidx_init(struct faidx *x, uint32_t n);
void faidx_destroy(struct faidx *x);
/* Every slot empty again. */
void faidx_reset(struct faidx *x);

/* Bucket of key: multiplicative hash, top bits. */
static inline __attribute__((always_inline)) uint32_t faidx_bucket_of(const struct faidx *x, uint64_t key)
{
	return (uint32_t)((key * UINT64_C(0x9e3779b97f4a7c15)) >> x->bucket_shift);
}

/* First slot + 1 of key's chain (0 = none); next with x->chain[slot]. */
static inline __attribute__((always_inline)) uint32_t faidx_first(const struct faidx *x, uint64_t key)
{
	return x->bucket[faidx_bucket_of(x, key)];
}

/* The least recently used valid slot; x->n (the sentinel) when none. */
static inline __attribute__((always_inline)) uint32_t faidx_lru(const struct faidx *x)
{
	return x->newer[x->n];
}

/* The most recently used valid slot; x->n (the sentinel) when none. */
static inline uint32_t faidx_mru(const struct faidx *x)
{
	return x->older[x->n];
}

/* ---- changes (inline: the caches fill at most references of a 2D walk) ---- */

/* Link slot at the MRU end of the list (it is in no list). */
static inline __attribute__((always_inline)) void faidx_list_append(struct faidx *x, uint32_t slot)
{
	uint32_t s = x->n, m = x->older[s];

	x->older[slot] = m;
	x->newer[slot] = s;
	x->newer[m] = slot;
	x->older[s] = slot;
}

/* Take slot out of the list (the sentinel keeps the ends joined). */
static inline __attribute__((always_inline)) void faidx_list_unlink(struct faidx *x, uint32_t slot)
{
	uint32_t o = x->older[slot], nw = x->newer[slot];

	x->newer[o] = nw;
	x->older[nw] = o;
}

/* Make the valid slot the most recently used. No test for a slot that is
 * the MRU already: unlinking it and appending it again leaves the list as
 * it was, and a hit on the MRU slot is rare in the 2D walk's caches. */
static inline __attribute__((always_inline)) void faidx_touch(struct faidx *x, uint32_t slot)
{
	faidx_list_unlink(x, slot);
	faidx_list_append(x, slot);
}

static inline __attribute__((always_inline)) void faidx_chain_unlink(struct faidx *x, uint32_t slot)
{
	uint32_t *p = &x->bucket[x->home[slot]];

	while (*p != slot + 1)
		p = &x->chain[*p - 1];
	*p = x->chain[slot];
	x->chain[slot] = 0;
}

static inline __attribute__((always_inline)) void faidx_chain_link(struct faidx *x, uint32_t slot, uint32_t b)
{
	x->chain[slot] = x->bucket[b];
	x->bucket[b] = slot + 1;
	x->home[slot] = b;
}

/* An empty slot becomes valid under key, most recently used. */
static inline __attribute__((always_inline)) void faidx_add(struct faidx *x, uint32_t slot, uint64_t key)
{
	x->free[slot / 64] &= ~(UINT64_C(1) << (slot % 64));
	faidx_chain_link(x, slot, faidx_bucket_of(x, key));
	faidx_list_append(x, slot);
	x->used++;
}

/* A valid slot becomes empty. */
static inline void faidx_remove(struct faidx *x, uint32_t slot)
{
	faidx_chain_unlink(x, slot);
	faidx_list_unlink(x, slot);
	x->free[slot / 64] |= UINT64_C(1) << (slot % 64);
	x->used--;
}

/* A valid slot changes its key (stays where it is in the LRU order). */
static inline __attribute__((always_inline)) void faidx_rekey(struct faidx *x, uint32_t slot, uint64_t new_key)
{
	uint32_t b = faidx_bucket_of(x, new_key);

	if (x->home[slot] == b)
		return;
	faidx_chain_unlink(x, slot);
	faidx_chain_link(x, slot, b);
}

/*
 * A valid slot is refilled under a new key and becomes the most recently
 * used: faidx_remove() then faidx_add() of the same slot, in one step.
 * (The slot may sit elsewhere in its new chain than the two calls would put
 * it; the caches never depend on the order within a chain.)
 */
static inline __attribute__((always_inline)) void faidx_replace(struct faidx *x, uint32_t slot, uint64_t new_key)
{
	faidx_rekey(x, slot, new_key);
	faidx_touch(x, slot);
}

/* The slot a fill takes: the lowest empty slot, else the LRU slot. */
static inline __attribute__((always_inline)) uint32_t faidx_victim(const struct faidx *x)
{
	if (x->used < x->n)
		for (size_t w = 0;; w++)
			if (x->free[w])
				return (uint32_t)(w * 64) + (uint32_t)__builtin_ctzll(x->free[w]);
	return faidx_lru(x);
}

#endif

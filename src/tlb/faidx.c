/*
 * faidx.c - the hash and LRU index of the small fully associative caches
 * (see faidx.h for what it mirrors and why the replacement it gives is the
 * one of a linear scan).
 *
 * Sizing: nbuckets is the power of two at or above 2n, so that chains stay
 * about one slot long whatever the keys. Sections: private helpers, API.
 */
#include <stdlib.h>
#include <string.h>

#include "faidx.h"

/* ---- private helpers ---- */

static inline size_t free_words(uint32_t n)
{
	return ((size_t)n + 63) / 64;
}

/* ---- API ---- */

int faidx_init(struct faidx *x, uint32_t n)
{
	uint32_t nb = 1;
	unsigned bits = 0;

	memset(x, 0, sizeof(*x));
	if (n == 0)
		return -1;
	while (nb < 2 * n) {
		nb <<= 1;
		bits++;
	}
	x->bucket = calloc(nb, sizeof(*x->bucket));
	x->chain = calloc(n, sizeof(*x->chain));
	x->home = calloc(n, sizeof(*x->home));
	x->older = calloc((size_t)n + 1, sizeof(*x->older));
	x->newer = calloc((size_t)n + 1, sizeof(*x->newer));
	x->free = calloc(free_words(n), sizeof(*x->free));
	if (!x->bucket || !x->chain || !x->home || !x->older || !x->newer || !x->free) {
		faidx_destroy(x);
		return -1;
	}
	x->n = n;
	x->nbuckets = nb;
	x->bucket_shift = 64 - bits; /* n >= 1, so bits >= 1 */
	faidx_reset(x);
	return 0;
}

void faidx_destroy(struct faidx *x)
{
	free(x->bucket);
	free(x->chain);
	free(x->home);
	free(x->older);
	free(x->newer);
	free(x->free);
	memset(x, 0, sizeof(*x));
}

void faidx_reset(struct faidx *x)
{
	if (x->n == 0)
		return;
	memset(x->bucket, 0, (size_t)x->nbuckets * sizeof(*x->bucket));
	memset(x->chain, 0, (size_t)x->n * sizeof(*x->chain));
	memset(x->home, 0, (size_t)x->n * sizeof(*x->home));
	/* The empty list: the sentinel is its own neighbour both ways. */
	x->older[x->n] = x->newer[x->n] = x->n;
	for (size_t w = 0; w < free_words(x->n); w++) {
		uint32_t left = x->n - (uint32_t)(w * 64);
		x->free[w] = left >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << left) - 1;
	}
	x->used = 0;
}

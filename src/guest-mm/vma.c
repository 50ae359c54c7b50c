/*
 * vma.c - the virtual memory areas of a process: a sorted array of
 * disjoint [start, end) ranges with their protection and flags.
 *
 * Invariants:
 *   - p->vma[0 .. nvma) is sorted by start and the ranges are disjoint;
 *   - start < end, both page-aligned, and 2 MiB-aligned for GMAP_HUGE;
 *   - two adjacent VMAs with equal prot and flags are merged by the calls
 *     that create them (insert and mprotect);
 *   - nvma <= GMM_MAX_VMAS.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gmm-internal.h"

/* ---- private helpers ---- */

/* Room for 'extra' more VMAs; -1 with ENOMEM past the map-count limit. */
static int vma_reserve(struct gmm *g, struct gproc *p, size_t extra)
{
	if (p->nvma + extra > GMM_MAX_VMAS) {
		g->err = ENOMEM;
		return -1;
	}
	if (p->nvma + extra > p->vma_cap) {
		size_t cap = p->vma_cap ? p->vma_cap * 2 : 8;
		while (cap < p->nvma + extra)
			cap *= 2;
		p->vma = gmm_xrealloc(g, p->vma, cap * sizeof(*p->vma));
		p->vma_cap = cap;
	}
	return 0;
}

static void vma_delete(struct gproc *p, size_t i, size_t n)
{
	if (n == 0)
		return; /* p->vma may still be NULL: munmap of nothing, no VMA yet */
	memmove(&p->vma[i], &p->vma[i + n], (p->nvma - i - n) * sizeof(*p->vma));
	p->nvma -= n;
}

/* Split the VMA that contains addr strictly inside it. */
static int vma_split(struct gmm *g, struct gproc *p, gva_t addr)
{
	size_t i = gmm_vma_first_after(p, addr);
	if (i == p->nvma || p->vma[i].start >= addr)
		return 0;
	if (vma_reserve(g, p, 1))
		return -1;
	memmove(&p->vma[i + 1], &p->vma[i], (p->nvma - i) * sizeof(*p->vma));
	p->nvma++;
	p->vma[i].end = addr;
	p->vma[i + 1].start = addr;
	return 0;
}

/* ---- API ---- */

size_t gmm_vma_first_after(const struct gproc *p, gva_t va)
{
	size_t lo = 0, hi = p->nvma;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->vma[mid].end > va)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

struct gvma *gmm_vma_find(struct gproc *p, gva_t va)
{
	size_t i = gmm_vma_first_after(p, va);
	if (i < p->nvma && p->vma[i].start <= va)
		return &p->vma[i];
	return NULL;
}

bool gmm_vma_overlaps(const struct gproc *p, gva_t start, gva_t end)
{
	size_t i = gmm_vma_first_after(p, start);
	return i < p->nvma && p->vma[i].start < end;
}

int gmm_vma_insert(struct gmm *g, struct gproc *p, gva_t start, gva_t end, int prot, int flags)
{
	if (gmm_vma_overlaps(p, start, end))
		vmmu_bug("gmm-vma-disjoint",
			 "pid %d: new VMA [%#" PRIx64 ", %#" PRIx64 ") overlaps an existing one",
			 p->pid, start, end);
	if (vma_reserve(g, p, 1))
		return -1;
	size_t i = gmm_vma_first_after(p, start);
	memmove(&p->vma[i + 1], &p->vma[i], (p->nvma - i) * sizeof(*p->vma));
	p->nvma++;
	p->vma[i] = (struct gvma){.start = start, .end = end, .prot = prot, .flags = flags};
	gmm_vma_merge(p, start, end);
	return 0;
}

int gmm_vma_split_at(struct gmm *g, struct gproc *p, gva_t start, gva_t end)
{
	if (vma_split(g, p, start))
		return -1;
	if (vma_split(g, p, end)) {
		gmm_vma_merge(p, start, start);
		return -1;
	}
	return 0;
}

void gmm_vma_remove(struct gproc *p, gva_t start, gva_t end)
{
	size_t i = gmm_vma_first_after(p, start), j = i;
	while (j < p->nvma && p->vma[j].start < end) {
		if (p->vma[j].start < start || p->vma[j].end > end)
			vmmu_bug("gmm-vma-split",
				 "pid %d: VMA [%#" PRIx64 ", %#" PRIx64
				 ") straddles the removed range",
				 p->pid, p->vma[j].start, p->vma[j].end);
		j++;
	}
	vma_delete(p, i, j - i);
}

void gmm_vma_merge(struct gproc *p, gva_t start, gva_t end)
{
	size_t i = gmm_vma_first_after(p, start);
	if (i > 0)
		i--;
	while (i + 1 < p->nvma && p->vma[i].start <= end) {
		struct gvma *a = &p->vma[i], *b = &p->vma[i + 1];
		if (a->end == b->start && a->prot == b->prot && a->flags == b->flags &&
		    a->pkey == b->pkey) {
			a->end = b->end;
			vma_delete(p, i + 1, 1);
		} else {
			i++;
		}
	}
}

int gmm_vma_copy(struct gmm *g, struct gproc *dst, const struct gproc *src)
{
	if (src->nvma > dst->vma_cap) {
		dst->vma = gmm_xrealloc(g, dst->vma, src->nvma * sizeof(*dst->vma));
		dst->vma_cap = src->nvma;
	}
	if (src->nvma)
		memcpy(dst->vma, src->vma, src->nvma * sizeof(*dst->vma));
	dst->nvma = src->nvma;
	return 0;
}

int gmm_vma_next(const struct vm *vm, gva_t va, gva_t *start, gva_t *end, int *prot)
{
	const struct gproc *p = gmm_current(vm);
	size_t i;

	if (p == NULL)
		return -1;
	i = gmm_vma_first_after(p, va);
	if (i == p->nvma)
		return -1;
	*start = p->vma[i].start;
	*end = p->vma[i].end;
	*prot = p->vma[i].prot;
	return 0;
}

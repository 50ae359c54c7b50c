/*
 * frame.c - the guest kernel's physical frame allocator and refcounts.
 *
 * Guest-physical memory as the allocator sees it (nframes is a multiple of
 * 512, since guest memory is a multiple of 2 MiB):
 *
 *   frame 0   low_next                     high_next              nframes
 *   +-+------------+-------------------------+----------------------+
 *   |R| 4 KiB use ->|       never used        |<- 2 MiB blocks      |
 *   +-+------------+-------------------------+----------------------+
 *
 * 4 KiB frames (tables and data) are taken first from the LIFO stack of
 * freed frames, then by bumping low_next upward, then by splitting a freed
 * 2 MiB block. 2 MiB blocks are taken from the LIFO stack of freed blocks,
 * then by bumping high_next downward, then by reclaiming a 2 MiB-aligned
 * chunk of the low region whose frames are all free (lowest-address-last
 * scan from the top). Pairs of 4 KiB frames, even first (the KPTI PGD pair),
 * come from the same low region (gmm_alloc_pair()). Every choice depends
 * only on the sequence of calls, so runs are deterministic.
 *
 * Invariants:
 *   - frame 0 is never handed out (kind GF_RESERVED);
 *   - a frame on free4k, or the frames of a block on free2m, have kind
 *     GF_FREE, and every GF_FREE frame below low_next or at or above
 *     high_next is on exactly one of the two stacks;
 *   - used == number of frames whose kind is neither GF_FREE nor
 *     GF_RESERVED;
 *   - a GF_DATA or GF_HUGE frame has refcount >= 1; GF_TABLE and
 *     GF_KERNEL frames have refcount 1;
 *   - every frame ever handed out is in the p2m's used set (take() marks
 *     it), which is what lets vm_guest_digest() read those frames alone.
 *
 * Cost: ref[] and kind[] are calloc'd per frame (5 bytes a frame, zeroed
 * memory that costs RAM only where written); every loop here runs over
 * frames below low_next or over the free stacks, never over all of guest
 * memory, so a 64 GiB guest that touches 1 MiB costs what 1 MiB costs.
 */
#include <stdlib.h>
#include <string.h>

#include "gmm-internal.h"

/* ---- private helpers ---- */

static void push(struct gmm *g, gfn_t **stack, uint64_t *n, uint64_t *cap, gfn_t gfn)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		*stack = gmm_xrealloc(g, *stack, *cap * sizeof(**stack));
	}
	(*stack)[(*n)++] = gfn;
}

static void take(struct gmm *g, gfn_t gfn, enum gframe_kind kind)
{
	if (g->kind[gfn] != GF_FREE)
		vmmu_bug("gmm-frame-free", "frame %#" PRIx64 " handed out while in use (kind %u)",
			 gfn, g->kind[gfn]);
	g->kind[gfn] = (uint8_t)kind;
	g->ref[gfn] = 1;
	g->used++;
	if (g->vm) {
		p2m_mark_used(g->vm, gfn);
		if (kind == GF_TABLE || kind == GF_KERNEL)
			numa_place_guest_table(g->vm, gfn);
	}
}

static void release(struct gmm *g, gfn_t gfn)
{
	g->kind[gfn] = GF_FREE;
	g->ref[gfn] = 0;
	g->used--;
}

/* Reclaim a 2 MiB-aligned chunk of the low region whose frames are all free. */
static bool reclaim_chunk(struct gmm *g, gfn_t *out)
{
	gfn_t top = (g->low_next + GMM_HUGE_FRAMES - 1) / GMM_HUGE_FRAMES;
	for (gfn_t c = top; c-- > 0;) {
		gfn_t cs = c * GMM_HUGE_FRAMES;
		gfn_t lim = cs + GMM_HUGE_FRAMES < g->low_next ? cs + GMM_HUGE_FRAMES : g->low_next;
		gfn_t f;
		for (f = cs; f < lim; f++)
			if (g->kind[f] != GF_FREE)
				break;
		if (f < lim)
			continue;
		/* Drop the chunk's frames from the 4 KiB stack, keeping its order. */
		uint64_t k = 0;
		for (uint64_t i = 0; i < g->nfree4k; i++) {
			gfn_t x = g->free4k[i];
			if (x < cs || x >= cs + GMM_HUGE_FRAMES)
				g->free4k[k++] = x;
		}
		g->nfree4k = k;
		if (g->low_next < cs + GMM_HUGE_FRAMES)
			g->low_next = cs + GMM_HUGE_FRAMES;
		*out = cs;
		return true;
	}
	return false;
}

/* ---- API ---- */

int gmm_frames_init(struct gmm *g, uint64_t nframes)
{
	g->nframes = nframes;
	g->ref = calloc(nframes, sizeof(*g->ref));
	g->kind = calloc(nframes, sizeof(*g->kind));
	if (!g->ref || !g->kind)
		return -1;
	g->kind[0] = GF_RESERVED;
	g->high_next = nframes & ~(GMM_HUGE_FRAMES - 1);
	for (gfn_t f = g->high_next; f < nframes; f++)
		g->kind[f] = GF_RESERVED;
	g->low_next = 1;
	g->usable = g->high_next - 1;
	return 0;
}

void gmm_frames_destroy(struct gmm *g)
{
	free(g->ref);
	free(g->kind);
	free(g->free4k);
	free(g->free2m);
	g->ref = NULL;
	g->kind = NULL;
	g->free4k = g->free2m = NULL;
}

bool gmm_alloc_frame(struct gmm *g, enum gframe_kind kind, gfn_t *out)
{
	gfn_t f;
	if (g->nfree4k) {
		f = g->free4k[--g->nfree4k];
	} else if (g->low_next < g->high_next) {
		f = g->low_next++;
	} else if (g->nfree2m) {
		/* Split a freed block; its other frames are handed out lowest first. */
		f = g->free2m[--g->nfree2m];
		for (gfn_t i = GMM_HUGE_FRAMES - 1; i >= 1; i--)
			push(g, &g->free4k, &g->nfree4k, &g->cap4k, f + i);
	} else {
		return false;
	}
	take(g, f, kind);
	*out = f;
	return true;
}

bool gmm_alloc_huge(struct gmm *g, gfn_t *out)
{
	gfn_t f;
	if (g->nfree2m) {
		f = g->free2m[--g->nfree2m];
	} else if (g->high_next >= GMM_HUGE_FRAMES &&
		   g->high_next - GMM_HUGE_FRAMES >= g->low_next) {
		g->high_next -= GMM_HUGE_FRAMES;
		f = g->high_next;
	} else if (!reclaim_chunk(g, &f)) {
		return false;
	}
	take(g, f, GF_HUGE);
	for (gfn_t i = 1; i < GMM_HUGE_FRAMES; i++)
		take(g, f + i, GF_HUGE_TAIL);
	*out = f;
	return true;
}

/* Remove entry i of the 4 KiB stack, keeping the order of the others. */
static void free4k_remove(struct gmm *g, uint64_t i)
{
	memmove(&g->free4k[i], &g->free4k[i + 1], (g->nfree4k - i - 1) * sizeof(*g->free4k));
	g->nfree4k--;
}

/*
 * An even frame and its odd neighbour. Tried in order: an even frame on the
 * 4 KiB stack (newest first) whose neighbour is free too, either on the
 * stack or the next never-used frame; then the bump region (an odd
 * low_next is pushed on the stack first); then a freed 2 MiB block, split.
 * A free frame below low_next whose block is not on free2m is on free4k, so
 * the neighbour test needs only its kind.
 */
bool gmm_alloc_pair(struct gmm *g, enum gframe_kind kind, gfn_t *out)
{
	gfn_t f = 0;
	bool found = false;
	for (uint64_t i = g->nfree4k; i-- > 0 && !found;) {
		gfn_t x = g->free4k[i];
		if ((x & 1) || g->kind[x + 1] != GF_FREE)
			continue;
		if (x + 1 == g->low_next && g->low_next < g->high_next) {
			free4k_remove(g, i);
			g->low_next++;
		} else {
			uint64_t j = 0;
			while (j < g->nfree4k && g->free4k[j] != x + 1)
				j++;
			if (j == g->nfree4k)
				continue; /* part of a free 2 MiB block */
			free4k_remove(g, i > j ? i : j);
			free4k_remove(g, i > j ? j : i);
		}
		f = x;
		found = true;
	}
	if (!found && g->low_next + 2 + (g->low_next & 1) <= g->high_next) {
		if (g->low_next & 1)
			push(g, &g->free4k, &g->nfree4k, &g->cap4k, g->low_next++);
		f = g->low_next;
		g->low_next += 2;
		found = true;
	}
	if (!found && g->nfree2m) {
		f = g->free2m[--g->nfree2m];
		for (gfn_t i = GMM_HUGE_FRAMES - 1; i >= 2; i--)
			push(g, &g->free4k, &g->nfree4k, &g->cap4k, f + i);
		found = true;
	}
	if (!found)
		return false;
	take(g, f, kind);
	take(g, f + 1, kind);
	*out = f;
	return true;
}

void gmm_frame_get(struct gmm *g, gfn_t gfn)
{
	if (gfn >= g->nframes || (g->kind[gfn] != GF_DATA && g->kind[gfn] != GF_HUGE))
		vmmu_bug("gmm-refcount",
			 "reference taken to frame %#" PRIx64 " that is not a user page", gfn);
	g->ref[gfn]++;
}

bool gmm_frame_put(struct gmm *g, gfn_t gfn)
{
	if (gfn >= g->nframes || (g->kind[gfn] != GF_DATA && g->kind[gfn] != GF_HUGE) ||
	    g->ref[gfn] == 0)
		vmmu_bug("gmm-refcount",
			 "reference dropped on frame %#" PRIx64 " (kind %u, ref %u)", gfn,
			 gfn < g->nframes ? g->kind[gfn] : 0u, gfn < g->nframes ? g->ref[gfn] : 0u);
	if (--g->ref[gfn])
		return false;
	if (g->kind[gfn] == GF_HUGE) {
		for (gfn_t i = 0; i < GMM_HUGE_FRAMES; i++)
			release(g, gfn + i);
		push(g, &g->free2m, &g->nfree2m, &g->cap2m, gfn);
	} else {
		release(g, gfn);
		push(g, &g->free4k, &g->nfree4k, &g->cap4k, gfn);
	}
	return true;
}

void gmm_free_table_frame(struct gmm *g, gfn_t gfn)
{
	if (gfn >= g->nframes || g->kind[gfn] != GF_TABLE)
		vmmu_bug("gmm-table-owner", "freeing frame %#" PRIx64 " that is not a user table",
			 gfn);
	release(g, gfn);
	push(g, &g->free4k, &g->nfree4k, &g->cap4k, gfn);
}

uint64_t gmm_free_frames(const struct vm *vm)
{
	const struct gmm *g = gmm_of(vm);
	return g ? g->usable - g->used : 0;
}

uint32_t gmm_frame_refcount(const struct vm *vm, gfn_t gfn)
{
	const struct gmm *g = gmm_of(vm);
	return g && gfn < g->nframes ? g->ref[gfn] : 0;
}

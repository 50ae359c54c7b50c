/*
 * ptrchase.c - pointer chasing around a random cyclic linked list.
 *
 * Regime: TLB-heavy with stable page tables, and latency-bound: every load
 * gives the address of the next, so nothing can overlap. The list has one
 * 64-byte node per cache line of the region, linked in a random order that
 * forms a single cycle (a random permutation, closed at its end).
 *
 *   build   store next(node) into word 0 of every node, in address order
 *   chase   ops times: p = load p (folded; it must be a node address)
 *   check   every node still holds its successor: chasing N more steps
 *           from wherever the chase stopped returns to the same node
 *           (N = the number of nodes), capped at ops extra steps
 *
 * Region of interest: the chase, not the list build or the check (as
 * Graph500 leaves graph construction out of its timing).
 * Parameters: pages = region (default 8192 pages, 32 MiB, 524288 nodes);
 * ops = chase steps (default 524288). Accesses = pages * 64 + ops +
 * min(nodes, ops). Guest faults: pages (4K guest pages).
 */
#include "workload.h"

#define NODE_BYTES 64
#define NODES_PER_PAGE (PAGE_SIZE / NODE_BYTES)

static gva_t ptrchase_step(struct wl_ctx *c, gva_t p, gva_t base, uint64_t nodes)
{
	gva_t next = wl_load_fold(c, p);
	if (next < base || next >= base + nodes * NODE_BYTES || (next - base) % NODE_BYTES)
		vm_abort(c->vm, "ptrchase: node 0x%" PRIx64 " points outside the list: 0x%" PRIx64,
			 p, next);
	return next;
}

static void ptrchase_run(struct wl_ctx *c)
{
	wl_begin(c);
	wl_proc_create(c);
	uint64_t nodes = c->p.pages * NODES_PER_PAGE;
	if (nodes > UINT32_MAX)
		vm_abort(c->vm, "ptrchase: %" PRIu64 " nodes is more than the list supports",
			 nodes);
	gva_t base = wl_map_data(c, c->p.pages);

	/* A random order of the nodes (Fisher-Yates), then next[] closes it
	 * into one cycle: order[i] -> order[i + 1], the last -> order[0]. */
	uint32_t *order = wl_host_alloc(c, nodes, sizeof(*order));
	for (uint64_t i = 0; i < nodes; i++)
		order[i] = (uint32_t)i;
	for (uint64_t i = nodes - 1; i > 0; i--) {
		uint64_t j = wl_rand_below(c, i + 1);
		uint32_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	uint32_t *next = wl_host_alloc(c, nodes, sizeof(*next));
	for (uint64_t i = 0; i < nodes; i++)
		next[order[i]] = order[(i + 1) % nodes];
	gva_t p = base + (uint64_t)order[0] * NODE_BYTES;
	wl_host_free(c, order);

	for (uint64_t n = 0; n < nodes; n++)
		wl_store(c, base + n * NODE_BYTES, base + (uint64_t)next[n] * NODE_BYTES);
	wl_host_free(c, next);

	wl_roi_begin(c);
	for (uint64_t i = 0; i < c->p.ops; i++)
		p = ptrchase_step(c, p, base, nodes);
	wl_roi_end(c);

	/* Around the cycle once more: a single cycle of length 'nodes' comes
	 * back to p after exactly 'nodes' steps. */
	gva_t start = p;
	uint64_t more = nodes < c->p.ops ? nodes : c->p.ops;
	for (uint64_t i = 0; i < more; i++)
		p = ptrchase_step(c, p, base, nodes);
	if (more == nodes && p != start)
		vm_abort(c->vm, "ptrchase: the list is no longer one cycle of %" PRIu64 " nodes",
			 nodes);
}

const struct workload workload_ptrchase = {
    .name = "ptrchase",
    .desc = "dependent loads around a random cyclic linked list (TLB-heavy, latency-bound)",
    .roi = "the chase",
    .def_pages = 8192,
    .def_ops = 524288,
    .run = ptrchase_run,
};

/*
 * faults.c - demand-touch fresh mappings: mmap, touch every page, munmap,
 * round after round.
 *
 * Regime: page-fault-heavy. Every page of every round is touched for the
 * first time, by a store, so each round costs one demand-zero fault per
 * page (and its page-table updates, and the INVLPGs or flush of munmap).
 *
 *   ops rounds of:
 *     mmap   pages 4 KiB pages of fresh read-write memory
 *     touch  one store per page, at an offset that moves with the round
 *     check  load each stored word back (folded, and checked)
 *     munmap the whole region
 *
 * Exact counts (tests rely on them): with 4K guest pages, the run raises
 * exactly pages * ops guest faults, all demand-zero: the store is each
 * page's first touch, and the load that follows hits the page the fault
 * mapped. With 2M guest pages the region is rounded up to 2 MiB and the
 * count is ceil(pages / 512) * ops. Accesses = 2 * pages * ops.
 *
 * Parameters: pages = pages per round (default 1024, 4 MiB);
 * ops = rounds (default 128).
 */
#include "workload.h"

static void faults_run(struct wl_ctx *c)
{
	wl_begin(c);
	wl_proc_create(c);
	uint64_t pages = c->p.pages;
	uint64_t salt = wl_rand(c);
	uint64_t bytes = wl_data_bytes(c, pages);

	for (uint64_t round = 0; round < c->p.ops; round++) {
		gva_t base = wl_map_data(c, pages);
		uint64_t off = (round * 8) % PAGE_SIZE;
		for (uint64_t pg = 0; pg < pages; pg++)
			wl_store(c, base + pg * PAGE_SIZE + off, wl_mix(salt + round, pg));
		for (uint64_t pg = 0; pg < pages; pg++)
			wl_expect(c, base + pg * PAGE_SIZE + off, wl_mix(salt + round, pg),
				  "faults: touched page");
		wl_munmap(c, base, bytes);
	}
}

const struct workload workload_faults = {
    .name = "faults",
    .desc = "mmap fresh memory, touch every page once, munmap, repeat (fault-heavy)",
    .def_pages = 1024,
    .def_ops = 128,
    .run = faults_run,
};

/*
 * random.c - GUPS: random read-modify-write updates over a large table.
 *
 * Regime: TLB-heavy with stable page tables. By default the table (64 MiB)
 * is ten times the reach of the default TLB, so nearly every update misses
 * the TLB and walks; after the first phase there are no page faults.
 *
 *   init     store the page's tag t(page) into word 0 of every page
 *   update   ops times: a = random word; x = load a; store a, x ^ r
 *   undo     the same ops updates again: XOR is its own inverse, so the
 *            table returns to its initial state (HPCC RandomAccess checks
 *            its table the same way)
 *   check    load word 0 of every page and expect t(page)
 *
 * Region of interest: the update loop, as HPCC RandomAccess times it (the
 * table's initialisation, the undo and the check are not timed there
 * either). Every loaded value is folded. Parameters: pages = table size (default
 * 16384 pages, 64 MiB); ops = updates (default 524288).
 * Accesses = 2 * pages + 4 * ops. Guest faults: pages (4K guest pages).
 */
#include "workload.h"

#define WORDS_PER_PAGE (PAGE_SIZE / 8)

static void random_updates(struct wl_ctx *c, gva_t base, uint64_t words, uint64_t ops)
{
	for (uint64_t i = 0; i < ops; i++) {
		uint64_t r = wl_rand(c);
		gva_t va = base + (r % words) * 8;
		uint64_t x = wl_load_fold(c, va);
		wl_store(c, va, x ^ r);
	}
}

static void random_run(struct wl_ctx *c)
{
	wl_begin(c);
	wl_proc_create(c);
	uint64_t pages = c->p.pages;
	uint64_t words = pages * WORDS_PER_PAGE;
	uint64_t salt = wl_rand(c);
	gva_t base = wl_map_data(c, pages);

	for (uint64_t pg = 0; pg < pages; pg++)
		wl_store(c, base + pg * PAGE_SIZE, wl_mix(salt, pg));

	uint64_t start = c->rng;
	wl_roi_begin(c);
	random_updates(c, base, words, c->p.ops);
	wl_roi_end(c);
	c->rng = start;
	random_updates(c, base, words, c->p.ops);

	for (uint64_t pg = 0; pg < pages; pg++)
		wl_expect(c, base + pg * PAGE_SIZE, wl_mix(salt, pg), "random: table after undo");
}

const struct workload workload_random = {
    .name = "random",
    .desc = "GUPS random read-modify-write updates over a large table (TLB-heavy)",
    .roi = "the update loop",
    .def_pages = 16384,
    .def_ops = 524288,
    .run = random_run,
};

/*
 * phases.c - alternates a fault-heavy phase and a TLB-heavy phase.
 *
 * Regime: mixed, on purpose. The fault phase favours nested paging (guest
 * faults and page-table writes do not exit), the TLB phase favours shadow
 * paging (1D walks), so neither static mode is best over the whole run.
 *
 *   setup        a table of pages pages; 8 tracked words per page (one per
 *                512 bytes) get initial values
 *   ops times:
 *     fault phase   FAULT_ROUNDS times: mmap pages / 8 fresh pages, store
 *                   into each, load it back, munmap
 *     TLB phase     pages * 8 read-modify-write updates of random tracked
 *                   words of the table (each load checked against the host
 *                   model)
 *   check        every tracked word is read back
 *
 * Region of interest: the alternating phases, both kinds, since the mix is
 * the point; the table's set-up and the final check are left out.
 * Parameters: pages = table (default 8192 pages, 32 MiB); ops = phase
 * pairs (default 16). Per pair: pages / 2 demand faults (4K guest pages) and
 * 16 * pages accesses in the TLB phase.
 */
#include "workload.h"

#define TRACKED_PER_PAGE 8
#define TRACKED_STRIDE (PAGE_SIZE / TRACKED_PER_PAGE)
#define FAULT_ROUNDS 4

static gva_t tracked(gva_t base, uint64_t i)
{
	return base + (i / TRACKED_PER_PAGE) * PAGE_SIZE + (i % TRACKED_PER_PAGE) * TRACKED_STRIDE;
}

static void phases_run(struct wl_ctx *c)
{
	wl_begin(c);
	wl_proc_create(c);
	uint64_t pages = c->p.pages;
	uint64_t words = pages * TRACKED_PER_PAGE;
	uint64_t fpages = pages / 8 ? pages / 8 : 1;
	uint64_t fbytes = wl_data_bytes(c, fpages);
	uint64_t salt = wl_rand(c);
	gva_t table = wl_map_data(c, pages);
	uint64_t *model = wl_host_alloc(c, words, sizeof(*model));

	for (uint64_t i = 0; i < words; i++) {
		model[i] = wl_mix(salt, i);
		wl_store(c, tracked(table, i), model[i]);
	}

	wl_roi_begin(c);
	for (uint64_t ph = 0; ph < c->p.ops; ph++) {
		for (unsigned r = 0; r < FAULT_ROUNDS; r++) {
			gva_t fresh = wl_map_data(c, fpages);
			uint64_t tag = wl_mix(salt ^ ph, r);
			for (uint64_t pg = 0; pg < fpages; pg++)
				wl_store(c, fresh + pg * PAGE_SIZE, wl_mix(tag, pg));
			for (uint64_t pg = 0; pg < fpages; pg++)
				wl_expect(c, fresh + pg * PAGE_SIZE, wl_mix(tag, pg),
					  "phases: fresh page");
			wl_munmap(c, fresh, fbytes);
		}
		for (uint64_t u = 0; u < words; u++) {
			uint64_t i = wl_rand_below(c, words);
			gva_t va = tracked(table, i);
			wl_expect(c, va, model[i], "phases: table");
			model[i] = wl_mix(model[i], u);
			wl_store(c, va, model[i]);
		}
	}
	wl_roi_end(c);

	for (uint64_t i = 0; i < words; i++)
		wl_expect(c, tracked(table, i), model[i], "phases: final");
	wl_host_free(c, model);
}

const struct workload workload_phases = {
    .name = "phases",
    .desc = "alternating fault-heavy and TLB-heavy phases (mixed)",
    .roi = "the alternating phases",
    .def_pages = 8192,
    .def_ops = 16,
    .run = phases_run,
};

/*
 * seq.c - sequential sweep: several passes over one region, one 8-byte word
 * per 64-byte line.
 *
 * Regime: TLB-friendly streaming. Each page takes one TLB miss per pass
 * (the region is larger than the TLB's reach by default) and then 63 hits,
 * so the walk cost is amortised; page faults happen in the first pass only.
 *
 *   pass 0            store v(0, line) to every line
 *   pass 1 .. ops-1   load and check v(pass - 1, line), store v(pass, line)
 *   last              load and check v(ops - 1, line)
 *
 * Region of interest: passes 1 .. ops-1, the steady-state sweeps. The first
 * pass (which takes every page fault) and the final check are left out, as
 * STREAM initialises its arrays and validates them outside its timed loop.
 * Parameters: pages = region size (default 8192 pages, 32 MiB);
 * ops = passes (default 16). Accesses = pages * 64 * 2 * ops.
 * Guest faults: pages (4K guest pages) or pages / 512 rounded up (2M).
 */
#include "workload.h"

#define SEQ_LINE 64
#define SEQ_LINES_PER_PAGE (PAGE_SIZE / SEQ_LINE)

static void seq_run(struct wl_ctx *c)
{
	wl_begin(c);
	wl_proc_create(c);
	uint64_t lines = c->p.pages * SEQ_LINES_PER_PAGE;
	uint64_t passes = c->p.ops;
	uint64_t salt = wl_rand(c);
	gva_t base = wl_map_data(c, c->p.pages);

	for (uint64_t i = 0; i < lines; i++)
		wl_store(c, base + i * SEQ_LINE, wl_mix(salt, i));
	wl_roi_begin(c);
	for (uint64_t pass = 1; pass < passes; pass++) {
		uint64_t was = salt + pass - 1, now = salt + pass;
		for (uint64_t i = 0; i < lines; i++) {
			gva_t va = base + i * SEQ_LINE;
			wl_expect(c, va, wl_mix(was, i), "seq: sweep");
			wl_store(c, va, wl_mix(now, i));
		}
	}
	wl_roi_end(c);
	uint64_t last = salt + (passes ? passes - 1 : 0);
	for (uint64_t i = 0; i < lines; i++)
		wl_expect(c, base + i * SEQ_LINE, wl_mix(last, i), "seq: final pass");
}

const struct workload workload_seq = {
    .name = "seq",
    .desc = "sequential sweeps over one region, a word per cache line (TLB-friendly)",
    .roi = "the sweeps after the first",
    .def_pages = 8192,
    .def_ops = 16,
    .run = seq_run,
};

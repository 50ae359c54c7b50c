/*
 * ctxswitch.c - several processes take turns on small working sets.
 *
 * Regime: context-switch-heavy. Each switch is a MOV to CR3 (with the PCID
 * and the no-flush bit when PCIDs are on), which exits under shadow paging
 * and, with PCIDs or VPIDs off, flushes the TLB, so the working sets are
 * refetched after every switch. The working sets together fit in the TLB.
 *
 *   setup   procs processes, each maps pages pages and stores a value into
 *           every 64-byte line
 *   run     ops accesses, as read-modify-write pairs on random lines of the
 *           current process (the load is checked against the host model);
 *           after every switch_every accesses (rounded up to a pair) the
 *           next process, round robin, gets the vCPU
 *   check   every process reads all its lines back
 *
 * Region of interest: the run loop, switches included; the set-up (which
 * faults every working set in) and the check are left out, as lmbench's
 * lat_ctx touches its processes' data before it times the switches.
 * Parameters: procs (default 8); pages per process (default 16);
 * ops = accesses, rounded up to a pair (default 2097152); switch_every
 * (default 1000, so 2097 switches by default).
 */
#include "workload.h"

#define LINE 64
#define LINES_PER_PAGE (PAGE_SIZE / LINE)

static void ctxswitch_run(struct wl_ctx *c)
{
	wl_begin(c);
	uint64_t n = c->p.procs ? c->p.procs : 1;
	uint64_t lines = c->p.pages * LINES_PER_PAGE;
	uint64_t every = c->p.switch_every ? c->p.switch_every : 1;
	uint64_t salt = wl_rand(c);
	struct gproc **proc = wl_host_alloc(c, n, sizeof(*proc));
	gva_t *base = wl_host_alloc(c, n, sizeof(*base));
	uint64_t *model = wl_host_alloc(c, n * lines, sizeof(*model));

	for (uint64_t i = 0; i < n; i++) {
		proc[i] = wl_proc_create(c);
		if (i > 0)
			wl_switch(c, proc[i]);
		base[i] = wl_map_data(c, c->p.pages);
		for (uint64_t l = 0; l < lines; l++) {
			model[i * lines + l] = wl_mix(salt + i, l);
			wl_store(c, base[i] + l * LINE, model[i * lines + l]);
		}
	}

	uint64_t cur = 0, next_switch = every;
	wl_switch(c, proc[0]);
	wl_roi_begin(c);
	for (uint64_t done = 0; done < c->p.ops; done += 2) {
		if (done >= next_switch) {
			cur = (cur + 1) % n;
			wl_switch(c, proc[cur]);
			next_switch += every;
		}
		uint64_t l = wl_rand_below(c, lines);
		uint64_t *m = &model[cur * lines + l];
		gva_t va = base[cur] + l * LINE;
		wl_expect(c, va, *m, "ctxswitch: working set");
		*m = wl_mix(*m, done);
		wl_store(c, va, *m);
	}
	wl_roi_end(c);

	for (uint64_t i = 0; i < n; i++) {
		wl_switch(c, proc[i]);
		for (uint64_t l = 0; l < lines; l++)
			wl_expect(c, base[i] + l * LINE, model[i * lines + l], "ctxswitch: final");
	}
	wl_host_free(c, model);
	wl_host_free(c, base);
	wl_host_free(c, proc);
}

const struct workload workload_ctxswitch = {
    .name = "ctxswitch",
    .desc = "processes take turns on small working sets, switching every K accesses",
    .roi = "the switching loop",
    .def_pages = 16,
    .def_ops = 2097152,
    .def_procs = 8,
    .def_switch_every = 1000,
    .run = ctxswitch_run,
};

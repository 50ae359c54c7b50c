/*
 * fork.c - forkwait: a parent with a working set forks children, one after
 * another; each child writes part of the working set (copy-on-write),
 * reads it back and exits.
 *
 * Regime: page-fault-heavy, and heavy in page-table writes: fork marks
 * every writable parent PTE read-only and copies the tables, each side's
 * first write to a shared page is a CoW fault, and exit frees the tables.
 *
 * For child k (k = 0 .. procs-1), with P = pages, Wc = max(1, P / 4) and
 * Wp = max(1, P / 16) (Wp = 0 when P < 2), and a random start s:
 *   C  = pages s .. s+Wc-1 (mod P)         written by the child
 *   Pk = the Wp pages after C (mod P)      written by the parent
 * C and Pk never overlap.
 *   fork       the child shares every page read-only
 *   parent     stores into word 0 of each page of Pk (child alive)
 *   child      checks that Pk still shows the values from before the fork;
 *              then ops passes over C: load word 0 (checked against the
 *              parent's value in pass 0), store a value of its own;
 *              then reads C back
 *   exit       the child goes; the parent checks C still shows its own
 *              values and Pk its new ones
 * At the end the parent reads back word 0 of all P pages.
 *
 * Exact counts (tests rely on them), 4K guest pages: the parent's first
 * touch raises P demand faults before any fork; then every page of C and
 * Pk is written exactly once while it is shared by exactly two processes,
 * so cow_faults = procs * (Wc + Wp). Nobody writes a page after the child
 * that shared it has exited, so no CoW fault ever finds a page with one
 * owner left.
 *
 * Parameters: pages = P (default 2048, 8 MiB); procs = children
 * (default 64); ops = passes a child makes over C (default 2).
 */
#include "workload.h"

static uint64_t fork_value(uint64_t salt, uint64_t who, uint64_t pass, uint64_t pg)
{
	return wl_mix(wl_mix(salt, who), (pass << 32) ^ pg);
}

static void fork_run(struct wl_ctx *c)
{
	wl_begin(c);
	struct gproc *parent = wl_proc_create(c);
	uint64_t P = c->p.pages;
	uint64_t wc = P / 4 ? P / 4 : 1;
	uint64_t wp = P < 2 ? 0 : (P / 16 ? P / 16 : 1);
	uint64_t salt = wl_rand(c);
	gva_t base = wl_map_data(c, P);
	uint64_t *mine = wl_host_alloc(c, P, sizeof(*mine)); /* parent's word 0 of each page */
	uint64_t *before = wl_host_alloc(c, wp ? wp : 1, sizeof(*before));

	for (uint64_t pg = 0; pg < P; pg++) {
		mine[pg] = fork_value(salt, 0, 0, pg);
		wl_store(c, base + pg * PAGE_SIZE, mine[pg]);
	}

	for (uint64_t k = 0; k < c->p.procs; k++) {
		uint64_t s = wl_rand_below(c, P);
		uint64_t child_id = k + 1, parent_id = UINT64_C(1) << 40 | k;
		struct gproc *child = wl_fork(c);

		for (uint64_t i = 0; i < wp; i++) {
			uint64_t pg = (s + wc + i) % P;
			before[i] = mine[pg];
			mine[pg] = fork_value(salt, parent_id, 0, pg);
			wl_store(c, base + pg * PAGE_SIZE, mine[pg]);
		}

		wl_switch(c, child);
		for (uint64_t i = 0; i < wp; i++)
			wl_expect(c, base + ((s + wc + i) % P) * PAGE_SIZE, before[i],
				  "fork: child sees the parent's write");
		for (uint64_t pass = 0; pass < c->p.ops; pass++) {
			for (uint64_t i = 0; i < wc; i++) {
				uint64_t pg = (s + i) % P;
				gva_t va = base + pg * PAGE_SIZE;
				if (pass == 0)
					wl_expect(c, va, mine[pg],
						  "fork: child reads the parent's data");
				else
					wl_expect(c, va, fork_value(salt, child_id, pass - 1, pg),
						  "fork: child reads its own data");
				wl_store(c, va, fork_value(salt, child_id, pass, pg));
			}
		}
		for (uint64_t i = 0; c->p.ops && i < wc; i++) {
			uint64_t pg = (s + i) % P;
			wl_expect(c, base + pg * PAGE_SIZE,
				  fork_value(salt, child_id, c->p.ops - 1, pg),
				  "fork: child read-back");
		}
		wl_exit(c, child, parent);

		for (uint64_t i = 0; i < wc + wp; i++) {
			uint64_t pg = (s + i) % P;
			wl_expect(c, base + pg * PAGE_SIZE, mine[pg],
				  "fork: parent's data after the child");
		}
	}

	for (uint64_t pg = 0; pg < P; pg++)
		wl_expect(c, base + pg * PAGE_SIZE, mine[pg], "fork: parent's data at the end");
	wl_host_free(c, before);
	wl_host_free(c, mine);
}

const struct workload workload_fork = {
    .name = "fork",
    .desc = "forkwait: children write part of the parent's working set, CoW (fault-heavy)",
    .def_pages = 2048,
    .def_ops = 2,
    .def_procs = 64,
    .run = fork_run,
};

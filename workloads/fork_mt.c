/*
 * fork_mt.c - fork from a threaded parent: one thread per vCPU writes its
 * slice of a shared mapping twice; thread 0 forks between its two passes,
 * while the other threads still run.
 *
 * Regime: copy-on-write under several vCPUs. The fork write-protects the
 * parent's pages and flushes the parent's mm on every vCPU in its
 * mm_cpumask (flush_tlb_mm(): a flush IPI to each running thread's vCPU);
 * then every second-pass store to a page shared with the child takes a
 * copy-on-write fault whose flush_tlb_page() is shot down on the others.
 *
 *   pass 1   thread k stores v1(p) = mix(salt, p) into word 0 of each page
 *            p of its slice, one page per step
 *   fork     thread 0, after its pass 1: the child gets the parent's image
 *            as it is then (other threads may be mid-pass: the model keeps
 *            that snapshot)
 *   pass 2   thread k stores v2(p) = mix(salt2, p) into the same words
 *   child    (vCPU 0) reads every page and expects the snapshot, then exits
 *   parent   (vCPU 0) reads every page and expects v2
 *
 * Parameters: pages = pages of the mapping (default 256), split over the
 * threads (thread k: pages / n, the first pages mod n one more); ops is
 * unused (default 1).
 */
#include "workload.h"
#include "../src/core/smp.h"

struct fmt {
	gva_t base;
	uint64_t salt, salt2;
	uint64_t *now;	/* host: the parent's word 0 of each page */
	uint64_t *snap; /* host: the child's (at the fork) */
	struct gproc *child;
	uint64_t first[VMMU_MAX_VCPUS], count[VMMU_MAX_VCPUS], step[VMMU_MAX_VCPUS];
};

static bool fmt_step(struct wl_ctx *c, unsigned t, void *arg)
{
	struct fmt *s = arg;
	uint64_t i = s->step[t];
	if (i >= 2 * s->count[t])
		return false;
	if (t == 0 && i == s->count[0] && !s->child) {
		s->child = wl_fork(c);
		for (uint64_t p = 0; p < c->p.pages; p++)
			s->snap[p] = s->now[p];
	}
	s->step[t]++;
	bool second = i >= s->count[t];
	uint64_t p = s->first[t] + (second ? i - s->count[t] : i);
	uint64_t v = wl_mix(second ? s->salt2 : s->salt, p);
	wl_store(c, s->base + p * PAGE_SIZE, v);
	s->now[p] = v;
	return true;
}

static void fork_mt_run(struct wl_ctx *c)
{
	wl_begin(c);
	struct gproc *parent = wl_proc_create(c);
	unsigned n = wl_nthreads(c);
	uint64_t pages = c->p.pages;
	struct fmt s = {.salt = wl_rand(c), .salt2 = wl_rand(c)};
	s.base = wl_map_data(c, pages);
	s.now = wl_host_alloc(c, pages, sizeof(*s.now));
	s.snap = wl_host_alloc(c, pages, sizeof(*s.snap));
	for (unsigned t = 0, at = 0; t < n; t++) {
		s.count[t] = pages / n + (t < pages % n);
		s.first[t] = at;
		at += (unsigned)s.count[t];
	}
	if (s.count[0] == 0)
		vm_abort(c->vm, "fork-mt: %" PRIu64 " pages for %u threads", pages, n);
	wl_threads_run(c, n, fmt_step, &s);

	wl_switch(c, s.child);
	for (uint64_t p = 0; p < pages; p++)
		wl_expect(c, s.base + p * PAGE_SIZE, s.snap[p], "fork-mt: child after the fork");
	wl_exit(c, s.child, parent);
	for (uint64_t p = 0; p < pages; p++)
		wl_expect(c, s.base + p * PAGE_SIZE, s.now[p], "fork-mt: parent after pass 2");
	wl_host_free(c, s.snap);
	wl_host_free(c, s.now);
}

const struct workload workload_fork_mt = {
    .name = "fork-mt",
    .desc = "fork from a threaded parent: write-protect shot down, CoW faults on every vCPU",
    .def_pages = 256,
    .def_ops = 1,
    .run = fork_mt_run,
};

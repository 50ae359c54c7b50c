/*
 * random_mt.c - threaded GUPS: the random workload's updates split over one
 * thread per vCPU, all in one process and one shared table.
 *
 * Regime: TLB-heavy on every vCPU at once, stable page tables: each vCPU's
 * TLB and walk caches fill with the same table's translations, and no
 * shootdown happens after the first touch.
 *
 *   init     (vCPU 0) store t(page) into word 0 of every page
 *   update   thread k of n runs ops_k = ops / n updates (the first ops mod n
 *            threads one more), from its own generator seeded by (seed, k):
 *            a = random word; x = load a; store a, x ^ r
 *   undo     the same updates again, each thread from its own seed: XOR
 *            commutes, so the table returns to its initial state whatever
 *            the interleaving
 *   check    (vCPU 0) load word 0 of every page and expect t(page)
 *
 * The threads interleave in round robin (wl_threads_run(), --quantum), so
 * the checksum, which folds every loaded value in load order, is a
 * function of the seed, the number of vCPUs and the quantum. With one vCPU
 * the run is random's with a different generator per thread.
 * Region of interest: the update phase. Parameters as random's: pages =
 * table size (default 16384), ops = updates over all threads (default
 * 131072, a quarter of random's, to keep the suite's default-size runs
 * short). Accesses = 2 * pages + 4 * ops.
 */
#include "workload.h"

#define WORDS_PER_PAGE (PAGE_SIZE / 8)

struct rmt {
	gva_t base;
	uint64_t words;
	uint64_t left[VMMU_MAX_VCPUS];
	uint64_t rng[VMMU_MAX_VCPUS];
};

static bool rmt_step(struct wl_ctx *c, unsigned t, void *arg)
{
	struct rmt *s = arg;
	if (s->left[t] == 0)
		return false;
	s->left[t]--;
	/* The thread's own generator: wl_rand() on a private state. */
	uint64_t keep = c->rng;
	c->rng = s->rng[t];
	uint64_t r = wl_rand(c);
	s->rng[t] = c->rng;
	c->rng = keep;
	gva_t va = s->base + (r % s->words) * 8;
	uint64_t x = wl_load_fold(c, va);
	wl_store(c, va, x ^ r);
	return true;
}

static void rmt_phase(struct wl_ctx *c, struct rmt *s, unsigned n)
{
	for (unsigned t = 0; t < n; t++) {
		s->left[t] = c->p.ops / n + (t < c->p.ops % n);
		s->rng[t] = wl_mix(c->p.seed, UINT64_C(0x72616e64) + t);
	}
	wl_threads_run(c, n, rmt_step, s);
}

static void random_mt_run(struct wl_ctx *c)
{
	wl_begin(c);
	wl_proc_create(c);
	unsigned n = wl_nthreads(c);
	struct rmt s = {.words = c->p.pages * WORDS_PER_PAGE};
	uint64_t salt = wl_rand(c);
	s.base = wl_map_data(c, c->p.pages);

	for (uint64_t pg = 0; pg < c->p.pages; pg++)
		wl_store(c, s.base + pg * PAGE_SIZE, wl_mix(salt, pg));

	wl_roi_begin(c);
	rmt_phase(c, &s, n);
	wl_roi_end(c);
	rmt_phase(c, &s, n);

	for (uint64_t pg = 0; pg < c->p.pages; pg++)
		wl_expect(c, s.base + pg * PAGE_SIZE, wl_mix(salt, pg),
			  "random-mt: table after undo");
}

const struct workload workload_random_mt = {
    .name = "random-mt",
    .desc = "threaded GUPS: random updates by one thread per vCPU over one shared table",
    .roi = "the update phase",
    .def_pages = 16384,
    .def_ops = 131072,
    .run = random_mt_run,
};

/*
 * mmap_churn_mt.c - threaded allocator churn: one thread per vCPU, each
 * with its own mappings, all in one process, so that every munmap is shot
 * down on the other vCPUs that run the process.
 *
 * Regime: page-fault-heavy with table churn, as mmap-churn, plus TLB
 * shootdowns: each munmap clears leaves and frees tables on one vCPU, and
 * Linux's flush_tlb_mm_range() sends a flush IPI to every other vCPU in the
 * process's mm_cpumask, whether or not it ever touched the mapping.
 *
 * Thread k of n owns SLOTS slots and its own generator (seeded by
 * (seed, k)) and runs ops_k = ops / n steps (the first ops mod n threads one
 * more), each mmap-churn's step on one of its slots: a live slot is read
 * back, then its tail half (1/4 of the time, when it spans two units or
 * more) or all of it is unmapped; an empty slot gets a new mapping of s
 * pages, s = 2^k + rand(2^k) with k uniform in 0 .. log2(pages), and one
 * store in each page. When a thread has run its steps, it reads back and
 * unmaps its live mappings, one step each. The threads interleave in round
 * robin (wl_threads_run(), --quantum).
 *
 * Parameters: pages = largest mapping (default 64); ops = steps over all
 * threads (default 4096, a quarter of mmap-churn's).
 */
#include "workload.h"

#define SLOTS 16

struct cmt_map {
	gva_t base;
	uint64_t bytes, touched, tag;
};

struct cmt_thread {
	struct cmt_map slot[SLOTS];
	uint64_t left;
	uint64_t rng;
	unsigned drain; /* after the steps: next slot to read back and unmap */
};

struct cmt {
	uint64_t unit;
	struct cmt_thread th[VMMU_MAX_VCPUS];
};

static uint64_t cmt_rand(struct wl_ctx *c, struct cmt_thread *th, uint64_t below)
{
	uint64_t keep = c->rng;
	c->rng = th->rng;
	uint64_t r = below ? wl_rand_below(c, below) : wl_rand(c);
	th->rng = c->rng;
	c->rng = keep;
	return r;
}

static gva_t cmt_word(const struct cmt_map *m, uint64_t pg)
{
	return m->base + pg * PAGE_SIZE + (m->tag % (PAGE_SIZE / 8)) * 8;
}

static void cmt_check(struct wl_ctx *c, const struct cmt_map *m)
{
	for (uint64_t pg = 0; pg < m->touched; pg++)
		wl_expect(c, cmt_word(m, pg), wl_mix(m->tag, pg), "mmap-churn-mt: mapping");
}

static bool cmt_step(struct wl_ctx *c, unsigned t, void *arg)
{
	struct cmt *s = arg;
	struct cmt_thread *th = &s->th[t];
	if (th->left == 0) {
		while (th->drain < SLOTS && !th->slot[th->drain].bytes)
			th->drain++;
		if (th->drain == SLOTS)
			return false;
		struct cmt_map *m = &th->slot[th->drain++];
		cmt_check(c, m);
		wl_munmap(c, m->base, m->bytes);
		m->bytes = 0;
		return true;
	}
	th->left--;
	struct cmt_map *m = &th->slot[cmt_rand(c, th, SLOTS)];
	if (m->bytes) {
		cmt_check(c, m);
		uint64_t units = m->bytes / s->unit;
		if (units >= 2 && cmt_rand(c, th, 4) == 0) {
			uint64_t keep = units / 2 * s->unit;
			wl_munmap(c, m->base + keep, m->bytes - keep);
			m->bytes = keep;
			if (m->touched > keep / PAGE_SIZE)
				m->touched = keep / PAGE_SIZE;
			return true;
		}
		wl_munmap(c, m->base, m->bytes);
		m->bytes = 0;
	}
	unsigned classes = 1;
	while ((UINT64_C(1) << classes) <= c->p.pages)
		classes++;
	uint64_t pages = UINT64_C(1) << cmt_rand(c, th, classes);
	pages += cmt_rand(c, th, pages);
	if (pages > c->p.pages)
		pages = c->p.pages;
	m->base = wl_map_data(c, pages);
	m->bytes = wl_data_bytes(c, pages);
	m->touched = pages;
	m->tag = cmt_rand(c, th, 0);
	for (uint64_t pg = 0; pg < pages; pg++)
		wl_store(c, cmt_word(m, pg), wl_mix(m->tag, pg));
	return true;
}

static void mmap_churn_mt_run(struct wl_ctx *c)
{
	wl_begin(c);
	wl_proc_create(c);
	unsigned n = wl_nthreads(c);
	struct cmt *s = wl_host_alloc(c, 1, sizeof(*s));
	s->unit = c->vm->cfg.guest_page == PG_2M ? page_bytes(PG_2M) : PAGE_SIZE;
	for (unsigned t = 0; t < n; t++) {
		s->th[t].left = c->p.ops / n + (t < c->p.ops % n);
		s->th[t].rng = wl_mix(c->p.seed, UINT64_C(0x63687572) + t);
	}
	wl_threads_run(c, n, cmt_step, s);
	wl_host_free(c, s);
}

const struct workload workload_mmap_churn_mt = {
    .name = "mmap-churn-mt",
    .desc = "threaded mmap/munmap churn, one thread per vCPU: every munmap is shot down",
    .def_pages = 64,
    .def_ops = 4096,
    .run = mmap_churn_mt_run,
};

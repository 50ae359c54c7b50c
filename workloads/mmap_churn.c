/*
 * mmap_churn.c - allocator-like churn: many mmaps and munmaps of mixed
 * sizes, each mapping touched on every page.
 *
 * Regime: page-fault-heavy, with table churn: every mapping is fresh, so
 * every touched page faults once, and every munmap tears down PTEs (INVLPG
 * each, or a flush past cfg.invlpg_threshold pages). Some frees trim a
 * mapping's tail first, as an allocator returning part of a chunk does,
 * which splits the VMA.
 *
 * A table of SLOTS live mappings; each of ops steps picks a random slot:
 *   - a live slot is read back (every touched word checked); then with
 *     probability 1/4, when it spans two units or more (4 KiB, or 2 MiB
 *     with 2M guest pages), its tail half is unmapped and the head stays
 *     live; otherwise the whole mapping is unmapped;
 *   - an empty slot (or one just freed) gets a new mapping of s pages and
 *     one store in each: s = 2^k + rand(2^k) with k uniform in
 *     0 .. log2(pages), at most pages, so small and large sizes are equally
 *     likely by size class.
 * At the end every live mapping is read back and unmapped.
 *
 * Parameters: pages = largest mapping, in 4 KiB pages (default 64);
 * ops = steps (default 16384).
 */
#include "workload.h"

#define SLOTS 16

struct churn_map {
	gva_t base;
	uint64_t bytes;	  /* mapped length */
	uint64_t touched; /* pages stored into, from base */
	uint64_t tag;	  /* value seed of this mapping */
};

static uint64_t churn_size(struct wl_ctx *c, uint64_t max)
{
	unsigned classes = 1;
	while ((UINT64_C(1) << classes) <= max)
		classes++;
	uint64_t s = UINT64_C(1) << wl_rand_below(c, classes);
	s += wl_rand_below(c, s);
	return s < max ? s : max;
}

static gva_t churn_word(const struct churn_map *m, uint64_t pg)
{
	return m->base + pg * PAGE_SIZE + (m->tag % (PAGE_SIZE / 8)) * 8;
}

static void churn_check(struct wl_ctx *c, const struct churn_map *m)
{
	for (uint64_t pg = 0; pg < m->touched; pg++)
		wl_expect(c, churn_word(m, pg), wl_mix(m->tag, pg), "mmap-churn: mapping");
}

static void mmap_churn_run(struct wl_ctx *c)
{
	wl_begin(c);
	wl_proc_create(c);
	uint64_t unit = c->vm->cfg.guest_page == PG_2M ? page_bytes(PG_2M) : PAGE_SIZE;
	struct churn_map slot[SLOTS] = {{0}};

	for (uint64_t step = 0; step < c->p.ops; step++) {
		struct churn_map *m = &slot[wl_rand_below(c, SLOTS)];
		if (m->bytes) {
			churn_check(c, m);
			uint64_t units = m->bytes / unit;
			if (units >= 2 && wl_rand_below(c, 4) == 0) {
				uint64_t keep = units / 2 * unit;
				wl_munmap(c, m->base + keep, m->bytes - keep);
				m->bytes = keep;
				if (m->touched > keep / PAGE_SIZE)
					m->touched = keep / PAGE_SIZE;
				continue;
			}
			wl_munmap(c, m->base, m->bytes);
			m->bytes = 0;
		}
		uint64_t pages = churn_size(c, c->p.pages);
		m->base = wl_map_data(c, pages);
		m->bytes = wl_data_bytes(c, pages);
		m->touched = pages;
		m->tag = wl_rand(c);
		for (uint64_t pg = 0; pg < pages; pg++)
			wl_store(c, churn_word(m, pg), wl_mix(m->tag, pg));
	}

	for (unsigned i = 0; i < SLOTS; i++) {
		if (slot[i].bytes) {
			churn_check(c, &slot[i]);
			wl_munmap(c, slot[i].base, slot[i].bytes);
		}
	}
}

const struct workload workload_mmap_churn = {
    .name = "mmap-churn",
    .desc = "allocator-like mmap/munmap of mixed sizes, each page touched (fault-heavy)",
    .def_pages = 64,
    .def_ops = 16384,
    .run = mmap_churn_run,
};

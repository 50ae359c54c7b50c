/*
 * procs.c - compile-like process churn: many short-lived processes, a few
 * alive at a time, each with its own text, data, heap and stack.
 *
 * Regime: page-fault-heavy with many address spaces. Every job builds an
 * address space from nothing, faults in each page it uses, switches with
 * the others, and tears everything down at exit, as the jobs of a parallel
 * build do.
 *
 * A shell process stays alive and runs between jobs. Up to procs jobs are
 * alive at once; they run round robin, one slice each, until ops jobs
 * have finished. With F = pages (the footprint), a job has
 *   text   F/4 pages at GMM_TEXT_BASE, written while read-write (the
 *          loader's copy), then mprotect'ed to GPROT_READ | GPROT_EXEC
 *   data   F/8 pages, one initialised word per page
 *   heap   F/2 pages, grown in mmaps of up to 8 pages, like brk
 *   stack  F/8 pages just below GMM_STACK_TOP, grown from the top down
 * (at least one page each). A slice is SLICE steps; each step fetches one
 * 8-byte instruction word (the pc walks the text, with a jump every 16
 * words) and every other step makes one data access: a load of a text
 * constant, or a read-modify-write of word 0 of a random data, heap or
 * stack page, checked against the host model. A job runs F * 32 steps,
 * then reads back its data, heap and stack and exits to the shell.
 *
 * Parameters: ops = jobs (default 1024); procs = jobs alive at once
 * (default 4); pages = footprint of a job (default 64 pages).
 */
#include "workload.h"

#define SLICE 256
#define STEPS_PER_PAGE 32
#define HEAP_CHUNK 8
#define TEXT_WORDS_STORED 8 /* words the loader writes per text page */

struct job {
	struct gproc *p;
	uint64_t id, tag, steps, done, pc; /* tag: seeds the job's values */
	uint64_t *model;		   /* host: word 0 of each data, heap, stack page */
	gva_t data, stack;
	gva_t *heap; /* host: base of each heap chunk */
};

struct shape {
	uint64_t text, data, heap, stack, chunks;
};

static uint64_t at_least_one(uint64_t n)
{
	return n ? n : 1;
}

static uint64_t text_word(uint64_t id, uint64_t w)
{
	return wl_mix(id ^ UINT64_C(0x7e47), w);
}

/* Address of word 0 of the job's i-th writable page (data, heap, stack). */
static gva_t job_page(const struct job *j, const struct shape *s, uint64_t i)
{
	if (i < s->data)
		return j->data + i * PAGE_SIZE;
	i -= s->data;
	if (i < s->heap)
		return j->heap[i / HEAP_CHUNK] + (i % HEAP_CHUNK) * PAGE_SIZE;
	i -= s->heap;
	return j->stack + (s->stack - 1 - i) * PAGE_SIZE;
}

static void job_start(struct wl_ctx *c, struct job *j, const struct shape *s, uint64_t id,
		      uint64_t salt)
{
	uint64_t nw = s->data + s->heap + s->stack;
	j->id = id;
	j->tag = wl_mix(salt, id);
	j->steps = (s->text + nw) * STEPS_PER_PAGE;
	j->done = 0;
	j->pc = 0;
	j->p = wl_proc_create(c);
	wl_switch(c, j->p);

	/* exec: the loader writes the text, then makes it read-only. */
	uint64_t tbytes = s->text * PAGE_SIZE;
	wl_mmap_at(c, GMM_TEXT_BASE, tbytes, GPROT_READ | GPROT_WRITE, 0);
	for (uint64_t w = 0; w < s->text * TEXT_WORDS_STORED; w++)
		wl_store(c, GMM_TEXT_BASE + w * (PAGE_SIZE / TEXT_WORDS_STORED),
			 text_word(j->tag, w));
	wl_mprotect(c, GMM_TEXT_BASE, tbytes, GPROT_READ | GPROT_EXEC);

	j->data = wl_map_data(c, s->data);
	for (uint64_t i = 0; i < s->chunks; i++) {
		uint64_t left = s->heap - i * HEAP_CHUNK;
		j->heap[i] = wl_map_data(c, left < HEAP_CHUNK ? left : HEAP_CHUNK);
	}
	j->stack = wl_mmap_at(c, GMM_STACK_TOP - s->stack * PAGE_SIZE, s->stack * PAGE_SIZE,
			      GPROT_READ | GPROT_WRITE, 0);

	/* Initialise: data in order, heap as it is "malloc'ed", stack from the
	 * top down (job_page numbers stack pages from the top). */
	for (uint64_t i = 0; i < nw; i++) {
		j->model[i] = wl_mix(j->tag, i);
		wl_store(c, job_page(j, s, i), j->model[i]);
	}
}

static void job_slice(struct wl_ctx *c, struct job *j, const struct shape *s)
{
	uint64_t nw = s->data + s->heap + s->stack;
	uint64_t twords = s->text * (PAGE_SIZE / 8);
	for (uint64_t k = 0; k < SLICE && j->done < j->steps; k++, j->done++) {
		wl_fetch(c, GMM_TEXT_BASE + j->pc * 8);
		j->pc = (j->done % 16 == 15) ? wl_rand_below(c, twords) : (j->pc + 1) % twords;
		if (j->done & 1)
			continue;
		uint64_t r = wl_rand(c);
		if (r % 8 == 0) {
			uint64_t w = (r >> 8) % (s->text * TEXT_WORDS_STORED);
			wl_expect(c, GMM_TEXT_BASE + w * (PAGE_SIZE / TEXT_WORDS_STORED),
				  text_word(j->tag, w), "procs: text constant");
		} else {
			uint64_t i = (r >> 8) % nw;
			gva_t va = job_page(j, s, i);
			wl_expect(c, va, j->model[i], "procs: data");
			j->model[i] = wl_mix(j->model[i], j->done);
			wl_store(c, va, j->model[i]);
		}
	}
}

static void job_finish(struct wl_ctx *c, struct job *j, const struct shape *s, struct gproc *shell)
{
	uint64_t nw = s->data + s->heap + s->stack;
	for (uint64_t i = 0; i < nw; i++)
		wl_expect(c, job_page(j, s, i), j->model[i], "procs: read-back at exit");
	wl_exit(c, j->p, shell);
	j->p = NULL;
}

static void procs_run(struct wl_ctx *c)
{
	wl_begin(c);
	uint64_t F = c->p.pages;
	uint64_t salt = wl_rand(c);
	struct shape s = {
	    .text = at_least_one(F / 4),
	    .data = at_least_one(F / 8),
	    .heap = at_least_one(F / 2),
	    .stack = at_least_one(F / 8),
	};
	s.chunks = (s.heap + HEAP_CHUNK - 1) / HEAP_CHUNK;
	uint64_t nw = s.data + s.heap + s.stack;
	uint64_t alive = c->p.procs ? c->p.procs : 1;
	if (alive > c->p.ops)
		alive = c->p.ops;

	/* The shell keeps its job table in its own memory: one word per job. */
	struct gproc *shell = wl_proc_create(c);
	gva_t table = wl_map_data(c, (c->p.ops * 8 + PAGE_SIZE - 1) / PAGE_SIZE);

	struct job *jobs = wl_host_alloc(c, alive, sizeof(*jobs));
	uint64_t *models = wl_host_alloc(c, alive * nw, sizeof(*models));
	gva_t *heaps = wl_host_alloc(c, alive * s.chunks, sizeof(*heaps));
	uint64_t started = 0, finished = 0;
	for (uint64_t i = 0; i < alive; i++) {
		jobs[i].model = models + i * nw;
		jobs[i].heap = heaps + i * s.chunks;
		jobs[i].p = NULL;
	}

	while (finished < c->p.ops) {
		for (uint64_t i = 0; i < alive; i++) {
			struct job *j = &jobs[i];
			if (j->p == NULL) {
				if (started == c->p.ops)
					continue;
				wl_switch(c, shell);
				wl_store(c, table + started * 8, wl_mix(salt, started));
				job_start(c, j, &s, started++, salt);
			} else {
				wl_switch(c, j->p);
			}
			job_slice(c, j, &s);
			if (j->done == j->steps) {
				job_finish(c, j, &s, shell);
				wl_expect(c, table + j->id * 8, wl_mix(salt, j->id),
					  "procs: shell job table");
				finished++;
			}
		}
	}
	wl_host_free(c, heaps);
	wl_host_free(c, models);
	wl_host_free(c, jobs);
}

const struct workload workload_procs = {
    .name = "procs",
    .desc = "compile-like churn of short-lived processes with text, data, heap, stack",
    .def_pages = 64,
    .def_ops = 1024,
    .def_procs = 4,
    .run = procs_run,
};

/*
 * workload.h - the one small interface every workload implements.
 *
 * A workload is a guest program: it creates processes and maps memory
 * through guest-mm, then loads and stores through the vCPU in user mode.
 * It must be deterministic for a given seed and parameters, read back what
 * it wrote, and fold every value it reads into c->checksum with
 * wl_fold(). It reaches guest memory only through the vCPU, never through
 * host memory or the TLB; its only host memory is its own reference model
 * (wl_host_alloc).
 *
 * A guest-level error (guest out of memory, a segfault, data that did not
 * read back as written) vm_abort()s; the runner turns it into a clean error.
 *
 * The vCPU is in kernel mode after boot. The process and memory helpers
 * below (wl_proc_create, wl_mmap, wl_fork, ...) leave it in user mode, so a
 * workload that goes through them never sets the privilege itself.
 *
 * Data mappings honour cfg.guest_page: with 2M guest pages, wl_map_data()
 * rounds the length up to 2 MiB and maps it with GMAP_HUGE.
 *
 * Recording (bench): when p.rec is set, every wl_load/wl_store/wl_fetch is
 * also appended to that recorder as (page index, offset, kind, value), with
 * each distinct (process, virtual page) given a compact index. The bench
 * replays the stream against a flat array, with no translation at all, to
 * measure the engine's physical limit. Recording is off (NULL) in every
 * other use and then costs one predictable branch per access.
 *
 * Invariants:
 *   - every access a workload makes is 8 bytes and 8-byte aligned, so it
 *     never crosses a page and the recorder can keep the kind in the low
 *     bits of the address;
 *   - a workload's guest-visible behaviour depends only on p and the seed,
 *     never on the MMU mode or on whether it is being recorded.
 */
#ifndef VMMU_WORKLOAD_H
#define VMMU_WORKLOAD_H

#include "../src/core/cpu.h"
#include "../src/guest-mm/gmm.h"

struct wl_rec;

struct wl_params {
	uint64_t seed;
	uint64_t pages;	       /* working-set size in 4 KiB pages; 0 = workload default */
	uint64_t ops;	       /* operations; 0 = workload default */
	uint32_t procs;	       /* processes (ctxswitch, fork, procs); 0 = default */
	uint32_t switch_every; /* ctxswitch: accesses between switches; 0 = default */
	struct wl_rec *rec;    /* bench: record the user op stream here; NULL = off */
	void *arg;	       /* argument of a driver-defined workload; NULL in the suite */
};

/* Host-side buffers a workload may hold at once (its reference models). */
#define WL_HOST_BUFS 4

struct wl_ctx {
	struct vm *vm;
	struct wl_params p; /* defaults already applied */
	uint64_t checksum;
	uint64_t rng;
	void *host[WL_HOST_BUFS]; /* wl_host_alloc() buffers still held */
};

struct workload {
	const char *name;
	const char *desc; /* one line for `vmmu list` */
	const char *roi;  /* the region of interest it marks, in a few words, for
			   * headings ("the update loop"); NULL: none, measured whole */
	uint64_t def_pages, def_ops;
	uint32_t def_procs, def_switch_every;
	void (*run)(struct wl_ctx *c);
};

/* Each workload file exports one const struct workload workload_<name>;
 * the list of them, and lookup by name, is the registry's
 * (src/cli/registry.h). */

/* ---- deterministic numbers ---- */

/* Deterministic generator (splitmix64). */
static inline uint64_t wl_rand(struct wl_ctx *c)
{
	uint64_t z = (c->rng += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}
static inline uint64_t wl_rand_below(struct wl_ctx *c, uint64_t n)
{
	return n ? wl_rand(c) % n : 0;
}
/* A stateless mix of two words: the value a workload stores at a place,
 * so that it can recompute what it expects to read back. */
static inline uint64_t wl_mix(uint64_t a, uint64_t b)
{
	uint64_t z = a * UINT64_C(0x9e3779b97f4a7c15) + b;
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}
static inline void wl_fold(struct wl_ctx *c, uint64_t v)
{
	c->checksum = (c->checksum ^ v) * UINT64_C(0x100000001b3) + 0x9e37;
}

/* Start of every workload's run(): seed the generator from p.seed alone. */
static inline void wl_begin(struct wl_ctx *c)
{
	c->rng = wl_mix(c->p.seed, UINT64_C(0x766d6d75));
}

/* ---- the measured region (src/core/roi.h, docs/workloads.md) ---- */

/* Mark where the part the imitated benchmark times starts and ends. A
 * workload that marks nothing is measured whole. Marking twice is a bug in
 * the workload: it vm_abort()s. */
void wl_roi_begin(struct wl_ctx *c);
void wl_roi_end(struct wl_ctx *c);

/* ---- host-side reference models ---- */

/*
 * A zeroed host buffer for a workload's own reference model (what it
 * expects to read back); vm_abort()s when the host is out of memory.
 * wl_host_free() gives it back. A run that ends in vm_abort() leaves its
 * buffers in c->host. Runner's duty: call wl_ctx_release() after every run,
 * completed or aborted, so they are freed on that path too.
 */
void *wl_host_alloc(struct wl_ctx *c, uint64_t n, uint64_t size);
void wl_host_free(struct wl_ctx *c, void *buf);
void wl_ctx_release(struct wl_ctx *c);

/* ---- the op stream recorder (bench) ---- */

/* Kind tags kept in bits 1:0 of a recorded address (enum access_kind). */
#define WL_REC_KIND_MASK UINT64_C(3)

struct wl_rec {
	/* The stream: accesses [0, n), at most 'limit' (the rest are counted in
	 * 'dropped'). op[i] = gva | kind; page[i] = compact page index;
	 * val[i] = the stored value (stores only). */
	uint64_t *op;
	uint64_t *val;
	uint32_t *page;
	uint64_t n, cap, limit, dropped;
	/* (pid, virtual page) -> compact index, open addressing; key 0 = empty. */
	uint64_t *map_key;
	uint32_t *map_idx;
	uint64_t map_cap;
	uint32_t npages;    /* distinct compact pages handed out */
	uint32_t max_pages; /* beyond this, new pages share indices (aliasing) */
	uint64_t aliased;   /* distinct pages that got a shared index */
	uint64_t last_key;  /* one-entry cache of the last lookup */
	uint32_t last_idx;
	int first_pid;	 /* pid of the first recorded access, -1 before */
	bool multi_proc; /* accesses came from more than one process */
	bool has_fetch;
	bool failed; /* out of host memory: recording stopped */
};

/* Prepare an empty recorder keeping at most 'limit' accesses and
 * 'max_pages' distinct compact pages. Returns 0, or -1 when out of memory. */
int wl_rec_init(struct wl_rec *r, uint64_t limit, uint32_t max_pages);
void wl_rec_free(struct wl_rec *r);
/* Append one access of the current process. Caller's duty: va is 8-byte
 * aligned. */
void wl_rec_push(struct wl_rec *r, struct vm *vm, gva_t va, enum access_kind k, uint64_t v);
/* The distinct virtual pages (vpn) recorded, sorted; *n gets the count.
 * Meaningful for single-process streams. Returns a malloc'ed array (free()
 * it) or NULL when out of memory. */
uint64_t *wl_rec_vpns(const struct wl_rec *r, uint64_t *n);

/* ---- accesses ---- */

/* User-mode 8-byte load and store of the current process. */
static inline uint64_t wl_load(struct wl_ctx *c, gva_t va)
{
	if (unlikely(c->p.rec != NULL))
		wl_rec_push(c->p.rec, c->vm, va, ACC_READ, 0);
	return cpu_load(c->vm->cur, va, 8);
}
static inline void wl_store(struct wl_ctx *c, gva_t va, uint64_t v)
{
	if (unlikely(c->p.rec != NULL))
		wl_rec_push(c->p.rec, c->vm, va, ACC_WRITE, v);
	cpu_store(c->vm->cur, va, 8, v);
}
/* Instruction fetch of 8 bytes at va (the value is not architectural). */
static inline void wl_fetch(struct wl_ctx *c, gva_t va)
{
	if (unlikely(c->p.rec != NULL))
		wl_rec_push(c->p.rec, c->vm, va, ACC_FETCH, 0);
	cpu_fetch(c->vm->cur, va, 8);
}
/* Load and fold in one step: what every read-back does. */
static inline uint64_t wl_load_fold(struct wl_ctx *c, gva_t va)
{
	uint64_t v = wl_load(c, va);
	wl_fold(c, v);
	return v;
}

/* ---- processes and memory (all leave the vCPU in user mode) ---- */

static inline void wl_user(struct wl_ctx *c)
{
	cpu_set_user(c->vm->cur, true);
}

/* mmap that vm_abort()s on failure, naming the workload's request. */
gva_t wl_mmap(struct wl_ctx *c, uint64_t len, int prot, int flags);
/* mmap at exactly addr (GMAP_FIXED); vm_abort()s on failure. */
gva_t wl_mmap_at(struct wl_ctx *c, gva_t addr, uint64_t len, int prot, int flags);
/* munmap that vm_abort()s on failure. */
void wl_munmap(struct wl_ctx *c, gva_t addr, uint64_t len);
/* mprotect that vm_abort()s on failure. */
void wl_mprotect(struct wl_ctx *c, gva_t addr, uint64_t len, int prot);

/* Bytes that a data mapping of 'pages' 4 KiB pages takes: rounded up to
 * 2 MiB with 2M guest pages. */
uint64_t wl_data_bytes(const struct wl_ctx *c, uint64_t pages);
/* Map 'pages' 4 KiB pages of read-write data, huge when cfg.guest_page is
 * 2M; returns the base. Its length is wl_data_bytes(c, pages). */
gva_t wl_map_data(struct wl_ctx *c, uint64_t pages);

/* A new, empty process (current only if it is the first). */
struct gproc *wl_proc_create(struct wl_ctx *c);
/* Fork the current process copy-on-write; the child does not run yet. */
struct gproc *wl_fork(struct wl_ctx *c);
void wl_switch(struct wl_ctx *c, struct gproc *p);
/* Tear p down; when p is current, switch to next first. */
void wl_exit(struct wl_ctx *c, struct gproc *p, struct gproc *next);

/* ---- threads (threads.c) ---- */

/*
 * One step of thread t (a few accesses: one operation of the workload);
 * returns false when the thread has finished. The step runs on the
 * thread's vCPU, in user mode, in the current process.
 */
typedef bool (*wl_thread_step)(struct wl_ctx *c, unsigned t, void *arg);
/*
 * Run 'n' threads of the current process, thread t on vCPU t mod
 * cfg.vcpus, in deterministic round robin: a thread runs steps until it has
 * made cfg.quantum user accesses in its turn (counted at step boundaries)
 * or finished, then the next thread's vCPU runs. A vCPU whose last thread
 * finished goes idle in lazy TLB mode. Returns on vCPU 0, in the process,
 * in user mode. The interleaving depends only on the steps' user accesses,
 * never on the MMU mode, so the checksum stays mode-independent.
 */
void wl_threads_run(struct wl_ctx *c, unsigned n, wl_thread_step step, void *arg);
/* Threads a threaded workload runs: one per vCPU. */
unsigned wl_nthreads(const struct wl_ctx *c);

/* Read back one word and vm_abort() unless it holds 'want'; the value is
 * folded either way. 'what' names the check in the message. */
void wl_expect(struct wl_ctx *c, gva_t va, uint64_t want, const char *what);

#endif

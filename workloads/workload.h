/*
 * workload.h - the one small interface every workload implements.
 *
 * A workload is a guest program: it creates processes and maps memory
 * through guest-mm, then loads and stores through the vCPU in user mode.
 * It must be deterministic for a given seed and parameters, read back what
 * it wrote, and fold every value it reads into c->checksum with
 * wl_fold(). It never touches host memory or the TLB directly.
 *
 * A guest-level error (guest out of memory, a segfault) vm_abort()s; the
 * runner turns it into a clean error.
 */
#ifndef VMMU_WORKLOAD_H
#define VMMU_WORKLOAD_H

#include "../src/core/cpu.h"
#include "../src/guest-mm/gmm.h"

struct wl_params {
	uint64_t seed;
	uint64_t pages;  /* working-set size in 4 KiB pages; 0 = workload default */
	uint64_t ops;    /* operations; 0 = workload default */
	uint32_t procs;  /* processes (ctxswitch, fork, procs); 0 = default */
	uint32_t switch_every; /* ctxswitch: accesses between switches; 0 = default */
};

struct wl_ctx {
	struct vm *vm;
	struct wl_params p; /* defaults already applied */
	uint64_t checksum;
	uint64_t rng;
};

struct workload {
	const char *name;
	const char *desc; /* one line for `vmmu list` */
	uint64_t def_pages, def_ops;
	uint32_t def_procs, def_switch_every;
	void (*run)(struct wl_ctx *c);
};

extern const struct workload *const workloads[]; /* NULL-terminated */
const struct workload *workload_find(const char *name);

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
static inline void wl_fold(struct wl_ctx *c, uint64_t v)
{
	c->checksum = (c->checksum ^ v) * UINT64_C(0x100000001b3) + 0x9e37;
}
/* User-mode 8-byte load and store of the current process. */
static inline uint64_t wl_load(struct wl_ctx *c, gva_t va)
{
	return cpu_load(&c->vm->vcpu, va, 8);
}
static inline void wl_store(struct wl_ctx *c, gva_t va, uint64_t v)
{
	cpu_store(&c->vm->vcpu, va, 8, v);
}
/* mmap that vm_abort()s on failure, naming the workload's request. */
gva_t wl_mmap(struct wl_ctx *c, uint64_t len, int prot, int flags);

#endif

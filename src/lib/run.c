/*
 * run.c - one workload on one fresh VM, from boot to digest.
 *
 * Two clocks: wall_s spans the whole run (VM creation, boot, workload,
 * digest, teardown); sim_s spans the workload alone, the simulation that
 * sim_accesses_per_s divides by.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run.h"
#include "../core/memstat.h"
#include "../core/vm.h"
#include "../cli/registry.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct wl_params run_params(const struct workload *w, const struct wl_params *p)
{
	struct wl_params r = p ? *p : (struct wl_params){ 0 };
	if (!r.pages)
		r.pages = w->def_pages;
	if (!r.ops)
		r.ops = w->def_ops;
	if (!r.procs)
		r.procs = w->def_procs;
	if (!r.switch_every)
		r.switch_every = w->def_switch_every;
	return r;
}

/* The whole run's counters, and the measured ones: the region when the
 * workload marked one and the whole run was not asked for. */
static void run_finish_stats(struct vm *vm, struct run_result *r)
{
	vm_read_stats(vm, &r->whole);
	r->region = !vm->cfg.whole_run && vm_roi_stats(vm, &r->whole, &r->st);
	if (!r->region)
		r->st = r->whole;
}

/* The fault-injection hook of the tests: VMMU_FAIL_ALLOC_AT=N makes host
 * allocation N of the run fail (cfg.fail_alloc_at; see core/vm.c). */
static void run_fault_hook(struct vm_config *c)
{
	const char *s = getenv("VMMU_FAIL_ALLOC_AT");
	char *end;
	unsigned long long n;

	if (s == NULL || *s == '\0' || c->fail_alloc_at != 0)
		return;
	n = strtoull(s, &end, 10);
	if (*end == '\0')
		c->fail_alloc_at = n;
}

int run_workload(const struct vm_config *cfg, const struct workload *w, const struct wl_params *p,
		 const struct run_hooks *hooks, struct run_result *r)
{
	double t_start = now_s();
	memset(r, 0, sizeof(*r));
	r->params = run_params(w, p);
	struct vm_config c0 = *cfg;
	run_fault_hook(&c0);
	struct vm *vm = vm_create(&c0, r->err, sizeof(r->err));
	if (!vm)
		return -1;
	/* The workload context is set up before the setjmp so that the abort
	 * path frees its host-side buffers too; it is reached through a volatile
	 * pointer, which a longjmp cannot leave stale in a register. */
	struct wl_ctx ctx = { 0 };
	struct wl_ctx *volatile c = &ctx;
	jmp_buf jb;
	vm->abort_jmp = &jb;
	if (setjmp(jb) != 0) {
		snprintf(r->err, sizeof(r->err), "%s", vm->err);
		wl_ctx_release(c);
		vm_destroy(vm);
		return -1;
	}
	if (gmm_boot(vm) != 0) {
		snprintf(r->err, sizeof(r->err), "guest boot failed: %.200s", vm->err);
		vm_destroy(vm);
		return -1;
	}
	vm_stats_fold(vm); /* the boot's L0 hits, into the cache model's counts */
	memset(&vm->st, 0, sizeof(vm->st));
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		memset(&vm->cpu[i]->tlb.c, 0, sizeof(vm->cpu[i]->tlb.c));
	if (hooks) {
		vm->trace_fn = hooks->trace_fn;
		vm->trace_ctx = hooks->trace_ctx;
		if (hooks->after_boot)
			hooks->after_boot(vm, hooks->ctx);
	}
	c->vm = vm;
	c->p = r->params;
	c->rng = r->params.seed;
	double t0 = now_s();
	w->run(c);
	double t1 = now_s();
	if (vm->cfg.audit) {
		vm_audit(vm);
		char detail[200];
		const char *bad = iommu_audit(vm, detail, sizeof(detail));
		if (bad)
			vm_abort(vm, "audit failed: invariant '%s' violated: %s", bad, detail);
	}
	vm->trace_fn = NULL;
	run_finish_stats(vm, r);
	r->ok = true;
	r->checksum = c->checksum;
	r->guest_digest = vm_guest_digest(vm);
	r->digest_frames = vm->p2m.digest_frames;
	r->est_cycles = stats_est_cycles(&r->st);
	r->sim_s = t1 - t0;
	if (hooks && hooks->after_run)
		hooks->after_run(vm, hooks->ctx);
	wl_ctx_release(c);
	vm_destroy(vm);
	r->wall_s = now_s() - t_start;
	r->rss_bytes = memstat_peak_rss_bytes();
	return 0;
}

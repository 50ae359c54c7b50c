/*
 * api.c - the public C API (include/vmmu.h) over the engine.
 *
 * Each entry point that can reach guest code runs through guard_run(), which
 * catches a vm_abort() (segfault, guest out of memory): the call returns -1
 * and marks the machine dead instead of ending the caller's process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmmu.h"

#include "../cli/cli.h"
#include "../core/cpu.h"
#include "run.h"
#include "../core/vm.h"
#include "../guest-mm/gmm.h"
#include "../cli/registry.h"

struct vmmu_config {
	struct vm_config cfg;
	struct wl_params p;
};

struct vmmu_result {
	struct run_result r;
};

struct vmmu_machine {
	struct vm *vm;
	struct gproc **procs; /* index = pid slot */
	int nprocs, cap;
	bool dead;
	char err[256];
};

static const char *const stat_names[] = {
#define X(n, d) #n,
	STATS_COUNTERS(X)
#undef X
};
#define NSTATS (sizeof(stat_names) / sizeof(stat_names[0]))

static uint64_t stat_by_name(const struct stats *s, const char *name)
{
	const uint64_t *f = (const uint64_t *)s;
	for (size_t i = 0; i < NSTATS; i++)
		if (strcmp(stat_names[i], name) == 0)
			return f[i];
	return UINT64_MAX;
}

size_t vmmu_stat_count(void)
{
	return NSTATS;
}

const char *vmmu_stat_name(size_t i)
{
	return i < NSTATS ? stat_names[i] : NULL;
}

vmmu_config *vmmu_config_new(void)
{
	vmmu_config *c = calloc(1, sizeof(*c));
	if (c) {
		config_defaults(&c->cfg);
		c->p.seed = CLI_DEFAULT_SEED;
	}
	return c;
}

void vmmu_config_free(vmmu_config *c)
{
	free(c);
}

int vmmu_config_set(vmmu_config *c, const char *name, const char *value, char *err,
		    size_t errlen)
{
	if (strcmp(name, "mode") == 0) {
		const struct mmu_ops *m = mmu_find(value);
		if (!m) {
			snprintf(err, errlen, "mode: unknown mode '%s'", value);
			return -1;
		}
		c->cfg.mode = m->name; /* static storage, unlike the caller's string */
		return 0;
	}
	return cli_set(&c->cfg, &c->p, name, value, err, errlen);
}

vmmu_result *vmmu_run(const vmmu_config *c, const char *workload, char *err, size_t errlen)
{
	const struct workload *w = workload_find(workload);
	if (!w) {
		snprintf(err, errlen, "unknown workload '%s'", workload);
		return NULL;
	}
	vmmu_result *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (run_workload(&c->cfg, w, &c->p, NULL, &r->r) != 0) {
		snprintf(err, errlen, "%s", r->r.err);
		free(r);
		return NULL;
	}
	return r;
}

uint64_t vmmu_result_stat(const vmmu_result *r, const char *name)
{
	return stat_by_name(&r->r.st, name);
}
int vmmu_result_is_region(const vmmu_result *r)
{
	return r->r.region ? 1 : 0;
}
uint64_t vmmu_result_whole_stat(const vmmu_result *r, const char *name)
{
	return stat_by_name(&r->r.whole, name);
}
uint64_t vmmu_result_whole_est_cycles(const vmmu_result *r)
{
	return stats_est_cycles(&r->r.whole);
}
uint64_t vmmu_result_checksum(const vmmu_result *r)
{
	return r->r.checksum;
}
uint64_t vmmu_result_digest(const vmmu_result *r)
{
	return r->r.guest_digest;
}
uint64_t vmmu_result_est_cycles(const vmmu_result *r)
{
	return r->r.est_cycles;
}
void vmmu_result_free(vmmu_result *r)
{
	free(r);
}

/* ---- machines ---- */

/* Run fn(m, arg) with vm_abort() routed back here. Returns 0, or -1 with
 * the machine marked dead and its message kept. */
static int guard_run(vmmu_machine *m, void (*fn)(vmmu_machine *, void *), void *arg)
{
	vmmu_machine *volatile mv = m;
	if (mv->dead)
		return -1;
	jmp_buf jb;
	mv->vm->abort_jmp = &jb;
	if (setjmp(jb) != 0) {
		mv->dead = true;
		snprintf(mv->err, sizeof(mv->err), "%s", mv->vm->err);
		mv->vm->abort_jmp = NULL;
		return -1;
	}
	fn(mv, arg);
	mv->vm->abort_jmp = NULL;
	return 0;
}

/* Arguments and result of one guarded operation. */
struct op {
	struct gproc *p, *next;
	uint64_t a, b, val;
	int i;
	unsigned size;
	gva_t ret;
	int rc;
};

static void op_boot(vmmu_machine *m, void *arg)
{
	(void)arg;
	if (gmm_boot(m->vm) != 0)
		vm_abort(m->vm, "%.200s", m->vm->err);
}
static void op_proc_create(vmmu_machine *m, void *arg)
{
	((struct op *)arg)->p = gmm_proc_create(m->vm);
}
static void op_fork(vmmu_machine *m, void *arg)
{
	((struct op *)arg)->p = gmm_fork(m->vm, gmm_current(m->vm));
}
static void op_switch(vmmu_machine *m, void *arg)
{
	gmm_switch_to(m->vm, ((struct op *)arg)->p);
}
static void op_exit(vmmu_machine *m, void *arg)
{
	struct op *o = arg;
	gmm_exit(m->vm, o->p, o->next);
}
static void op_mmap(vmmu_machine *m, void *arg)
{
	struct op *o = arg;
	o->ret = gmm_mmap(m->vm, 0, o->a, o->i, (int)o->b);
}
static void op_munmap(vmmu_machine *m, void *arg)
{
	struct op *o = arg;
	o->rc = gmm_munmap(m->vm, o->a, o->b);
}
static void op_mprotect(vmmu_machine *m, void *arg)
{
	struct op *o = arg;
	o->rc = gmm_mprotect(m->vm, o->a, o->b, o->i);
}
static void op_load(vmmu_machine *m, void *arg)
{
	struct op *o = arg;
	o->val = cpu_load_any(&m->vm->vcpu, o->a, o->size);
}
static void op_store(vmmu_machine *m, void *arg)
{
	struct op *o = arg;
	cpu_store_any(&m->vm->vcpu, o->a, o->size, o->val);
}

vmmu_machine *vmmu_machine_new(const vmmu_config *c, char *err, size_t errlen)
{
	vmmu_machine *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->vm = vm_create(&c->cfg, err, errlen);
	if (!m->vm) {
		free(m);
		return NULL;
	}
	if (guard_run(m, op_boot, NULL) != 0) {
		snprintf(err, errlen, "guest boot failed: %.200s", m->err);
		vmmu_machine_free(m);
		return NULL;
	}
	vm_stats_fold(m->vm); /* the boot's L0 hits stay out of the counts */
	memset(&m->vm->st, 0, sizeof(m->vm->st));
	cpu_set_user(&m->vm->vcpu, true);
	return m;
}

void vmmu_machine_free(vmmu_machine *m)
{
	if (!m)
		return;
	vm_destroy(m->vm);
	free(m->procs);
	free(m);
}

const char *vmmu_error(const vmmu_machine *m)
{
	return m->dead ? m->err : "";
}

static int add_proc(vmmu_machine *m, struct gproc *p)
{
	if (!p)
		return -1;
	if (m->nprocs == m->cap) {
		int cap = m->cap ? m->cap * 2 : 16;
		struct gproc **n = realloc(m->procs, (size_t)cap * sizeof(*n));
		if (!n)
			return -1;
		m->procs = n;
		m->cap = cap;
	}
	m->procs[m->nprocs] = p;
	return m->nprocs++;
}

static struct gproc *proc_of(vmmu_machine *m, int pid)
{
	if (pid < 0 || pid >= m->nprocs || !m->procs[pid]) {
		snprintf(m->err, sizeof(m->err), "no process %d", pid);
		return NULL;
	}
	return m->procs[pid];
}

int vmmu_proc_new(vmmu_machine *m)
{
	struct op o = { 0 };
	if (guard_run(m, op_proc_create, &o) != 0)
		return -1;
	return add_proc(m, o.p);
}

int vmmu_fork(vmmu_machine *m)
{
	struct op o = { 0 };
	if (!gmm_current(m->vm) || guard_run(m, op_fork, &o) != 0)
		return -1;
	return add_proc(m, o.p);
}

int vmmu_switch(vmmu_machine *m, int pid)
{
	struct op o = { .p = proc_of(m, pid) };
	if (!o.p)
		return -1;
	return guard_run(m, op_switch, &o);
}

int vmmu_exit(vmmu_machine *m, int pid, int next_pid)
{
	struct op o = { .p = proc_of(m, pid) };
	o.next = next_pid >= 0 ? proc_of(m, next_pid) : NULL;
	if (!o.p || (o.p == gmm_current(m->vm) && !o.next))
		return -1;
	if (guard_run(m, op_exit, &o) != 0)
		return -1;
	m->procs[pid] = NULL;
	return 0;
}

uint64_t vmmu_mmap(vmmu_machine *m, uint64_t len, int prot, int flags)
{
	struct op o = { .a = len, .i = prot, .b = (flags & VMMU_MAP_HUGE) ? GMAP_HUGE : 0 };
	if (!gmm_current(m->vm) || guard_run(m, op_mmap, &o) != 0)
		return 0;
	return o.ret;
}

int vmmu_munmap(vmmu_machine *m, uint64_t addr, uint64_t len)
{
	struct op o = { .a = addr, .b = len, .rc = -1 };
	if (!gmm_current(m->vm) || guard_run(m, op_munmap, &o) != 0)
		return -1;
	return o.rc;
}

int vmmu_mprotect(vmmu_machine *m, uint64_t addr, uint64_t len, int prot)
{
	struct op o = { .a = addr, .b = len, .i = prot, .rc = -1 };
	if (!gmm_current(m->vm) || guard_run(m, op_mprotect, &o) != 0)
		return -1;
	return o.rc;
}

int vmmu_load(vmmu_machine *m, uint64_t addr, unsigned size, uint64_t *value)
{
	struct op o = { .a = addr, .size = size };
	if (size < 1 || size > 8 || !gmm_current(m->vm) || guard_run(m, op_load, &o) != 0)
		return -1;
	*value = o.val;
	return 0;
}

int vmmu_store(vmmu_machine *m, uint64_t addr, unsigned size, uint64_t value)
{
	struct op o = { .a = addr, .size = size, .val = value };
	if (size < 1 || size > 8 || !gmm_current(m->vm))
		return -1;
	return guard_run(m, op_store, &o);
}

uint64_t vmmu_stat(const vmmu_machine *m, const char *name)
{
	struct stats s;

	vm_read_stats(m->vm, &s);
	return stat_by_name(&s, name);
}

uint64_t vmmu_est_cycles(const vmmu_machine *m)
{
	struct stats s;

	vm_read_stats(m->vm, &s);
	return stats_est_cycles(&s);
}

/* ---- the measured region ---- */

_Static_assert(VMMU_ERR_REGION_BEGUN == ROI_ERR_BEGUN &&
		   VMMU_ERR_REGION_NOT_BEGUN == ROI_ERR_NOT_BEGUN,
	       "the public region error codes are core's");

int vmmu_region_begin(vmmu_machine *m)
{
	if (m->dead)
		return -1;
	return vm_roi_begin(m->vm);
}

int vmmu_region_end(vmmu_machine *m)
{
	if (m->dead)
		return -1;
	return vm_roi_end(m->vm);
}

/* The region's counters as of now; false when no region was begun. */
static bool region_now(const vmmu_machine *m, struct stats *out)
{
	struct stats whole;

	vm_read_stats(m->vm, &whole);
	return vm_roi_stats(m->vm, &whole, out);
}

uint64_t vmmu_region_stat(const vmmu_machine *m, const char *name)
{
	struct stats s;

	return region_now(m, &s) ? stat_by_name(&s, name) : UINT64_MAX;
}

uint64_t vmmu_region_est_cycles(const vmmu_machine *m)
{
	struct stats s;

	return region_now(m, &s) ? stats_est_cycles(&s) : UINT64_MAX;
}

uint64_t vmmu_guest_digest(vmmu_machine *m)
{
	return vm_guest_digest(m->vm);
}

const char *vmmu_version(void)
{
	return VMMU_VERSION;
}

/*
 * api.c - the public C API (include/vmmu.h) over the engine.
 *
 * Each entry point that can reach guest code runs under its own jmp_buf, so
 * a vm_abort() (segfault, guest out of memory) comes back as -1 and marks
 * the machine dead instead of ending the caller's process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmmu.h"

#include "cli.h"
#include "cpu.h"
#include "run.h"
#include "vm.h"
#include "../guest-mm/gmm.h"

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

/* Run 'body' under a guard; evaluates to 0 or -1 (machine now dead). */
#define GUARDED(m, body)                                                        \
	({                                                                      \
		int rc__ = -1;                                                  \
		if (!(m)->dead) {                                               \
			jmp_buf jb__;                                           \
			(m)->vm->abort_jmp = &jb__;                             \
			if (setjmp(jb__) == 0) {                                \
				body;                                           \
				rc__ = 0;                                       \
			} else {                                                \
				(m)->dead = true;                               \
				snprintf((m)->err, sizeof((m)->err), "%s",      \
					 (m)->vm->err);                         \
			}                                                       \
			(m)->vm->abort_jmp = NULL;                              \
		}                                                               \
		rc__;                                                           \
	})

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
	if (GUARDED(m, if (gmm_boot(m->vm) != 0) vm_abort(m->vm, "%s", m->vm->err)) != 0) {
		snprintf(err, errlen, "guest boot failed: %.200s", m->err);
		vmmu_machine_free(m);
		return NULL;
	}
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
	struct gproc *p = NULL;
	if (GUARDED(m, p = gmm_proc_create(m->vm)) != 0)
		return -1;
	return add_proc(m, p);
}

int vmmu_fork(vmmu_machine *m)
{
	struct gproc *p = NULL;
	if (GUARDED(m, p = gmm_fork(m->vm, gmm_current(m->vm))) != 0)
		return -1;
	return add_proc(m, p);
}

int vmmu_switch(vmmu_machine *m, int pid)
{
	struct gproc *p = proc_of(m, pid);
	if (!p)
		return -1;
	return GUARDED(m, gmm_switch_to(m->vm, p));
}

int vmmu_exit(vmmu_machine *m, int pid, int next_pid)
{
	struct gproc *p = proc_of(m, pid);
	struct gproc *next = next_pid >= 0 ? proc_of(m, next_pid) : NULL;
	if (!p || (p == gmm_current(m->vm) && !next))
		return -1;
	if (GUARDED(m, gmm_exit(m->vm, p, next)) != 0)
		return -1;
	m->procs[pid] = NULL;
	return 0;
}

uint64_t vmmu_mmap(vmmu_machine *m, uint64_t len, int prot, int flags)
{
	gva_t a = 0;
	int f = (flags & VMMU_MAP_HUGE) ? GMAP_HUGE : 0;
	if (GUARDED(m, a = gmm_mmap(m->vm, 0, len, prot, f)) != 0)
		return 0;
	return a;
}

int vmmu_munmap(vmmu_machine *m, uint64_t addr, uint64_t len)
{
	int r = -1;
	if (GUARDED(m, r = gmm_munmap(m->vm, addr, len)) != 0)
		return -1;
	return r;
}

int vmmu_mprotect(vmmu_machine *m, uint64_t addr, uint64_t len, int prot)
{
	int r = -1;
	if (GUARDED(m, r = gmm_mprotect(m->vm, addr, len, prot)) != 0)
		return -1;
	return r;
}

int vmmu_load(vmmu_machine *m, uint64_t addr, unsigned size, uint64_t *value)
{
	if (size < 1 || size > 8)
		return -1;
	uint64_t v = 0;
	if (GUARDED(m, v = cpu_load_any(&m->vm->vcpu, addr, size)) != 0)
		return -1;
	*value = v;
	return 0;
}

int vmmu_store(vmmu_machine *m, uint64_t addr, unsigned size, uint64_t value)
{
	if (size < 1 || size > 8)
		return -1;
	return GUARDED(m, cpu_store_any(&m->vm->vcpu, addr, size, value));
}

uint64_t vmmu_stat(const vmmu_machine *m, const char *name)
{
	return stat_by_name(&m->vm->st, name);
}

uint64_t vmmu_est_cycles(const vmmu_machine *m)
{
	return stats_est_cycles(&m->vm->st);
}

uint64_t vmmu_guest_digest(vmmu_machine *m)
{
	return vm_guest_digest(m->vm);
}

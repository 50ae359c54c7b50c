/*
 * scenario.c - the scenarios of `vmmu explain --scenario NAME` and their runner.
 *
 * Each scenario boots a small guest, builds a little state without
 * watching (processes, mappings, touched pages), resets the statistics and
 * then performs a few guest steps with a trace hook installed. The
 * narrator is a consumer of the trace events, as the statistics and the
 * CSV are: it says what each event means (a TLB miss, the references of a
 * walk, a guest fault, a VM exit and the VMM's work inside it, a table
 * entry written, a flush) and what it cost, then the statistics deltas of
 * each step and a summary. Nothing in the narration is scripted except the
 * one-line heading of each guest step.
 *
 * Sections: the scenarios (setup and steps), the runner (trace hook,
 * statistics deltas, abort guard). The narrator and the summaries are in
 * narrate.c; the command line in src/cli/cmd_scenario.c.
 *
 * Invariants:
 *   - the runner hands the observer the events of the narrated steps only,
 *     and step deltas that sum to the run's totals;
 *   - the exit counter named for a TR_VM_EXIT event is the one exits_*
 *     counter that changed since the previous exit event (vm_exit()
 *     increments it before it traces the exit);
 *   - the narrator prints nothing that is not in an event, a delta, the
 *     machine config or the step heading.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/cpu.h"
#include "../report/csv.h"
#include "explain.h"
#include "scenario.h"
#include "../guest-mm/gmm.h"
#include "../cli/registry.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define RW (GPROT_READ | GPROT_WRITE)

/* Guest memory of a scenario unless --guest-mem says otherwise: small, so
 * that boot is quick and the addresses are short. */

/* ---- the runner's state, shared by the scenarios ---- */

struct scn {
	struct vm *vm;
	const struct scenario_observer *obs;
	int nstep;		/* current step, 0 = none open */
	struct stats before;	/* statistics when the step began */
	struct stats exit_snap; /* exits_* values at the last exit event */
	struct gproc *p1, *p2;	/* scenario scratch */
	gva_t base;
};

static void scn_step_end(struct scn *s)
{
	struct vm *vm = s->vm;
	struct stats d;

	if (s->nstep == 0)
		return;
	vm_sync_stats(vm);
	for (size_t k = 0; k < stat_nfields; k++) {
		uint64_t *dst = (uint64_t *)(void *)((char *)&d + stat_fields[k].off);
		*dst = stat_get(&vm->st, &stat_fields[k]) - stat_get(&s->before, &stat_fields[k]);
	}
	if (s->obs->step_done)
		s->obs->step_done(s->obs->ctx, vm, s->nstep, &d);
}

static void scn_step(struct scn *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void scn_step(struct scn *s, const char *fmt, ...)
{
	char heading[256];
	va_list ap;

	scn_step_end(s);
	va_start(ap, fmt);
	vsnprintf(heading, sizeof(heading), fmt, ap);
	va_end(ap);
	s->nstep++;
	vm_sync_stats(s->vm);
	s->before = s->vm->st;
	if (s->obs->step)
		s->obs->step(s->obs->ctx, s->vm, s->nstep, heading);
}

static void user_store(struct vm *vm, gva_t va, uint64_t val)
{
	cpu_set_user(&vm->vcpu, true);
	cpu_store(&vm->vcpu, va, 8, val);
}

static uint64_t user_load(struct vm *vm, gva_t va)
{
	cpu_set_user(&vm->vcpu, true);
	return cpu_load(&vm->vcpu, va, 8);
}

/* A process with 'pages' pages mapped read-write at the mmap base, the
 * first 'touch' of them written. */
static struct gproc *proc_with_pages(struct scn *s, unsigned pages, unsigned touch)
{
	struct vm *vm = s->vm;
	struct gproc *p = gmm_proc_create(vm);
	if (!p)
		vm_abort(vm, "scenario setup: no process (errno %d)", gmm_errno(vm));
	if (gmm_current(vm) != p)
		gmm_switch_to(vm, p);
	gva_t b = gmm_mmap(vm, 0, (uint64_t)pages * PAGE_SIZE, RW, 0);
	if (!b)
		vm_abort(vm, "scenario setup: mmap failed (errno %d)", gmm_errno(vm));
	s->base = b;
	for (unsigned i = 0; i < touch; i++)
		user_store(vm, b + (uint64_t)i * PAGE_SIZE, 0x100 + i);
	return p;
}

/* ---- the scenarios ---- */

/*
 * first-touch: a demand fault. Setup: one process, 16 pages mapped, page 0
 * written, so the process's tables exist and the fault needs no new table.
 */
static void first_touch_setup(struct scn *s)
{
	s->p1 = proc_with_pages(s, 16, 1);
}

static void first_touch_run(struct scn *s)
{
	gva_t va = s->base + PAGE_SIZE;
	scn_step(s, "guest: user store to %#" PRIx64 ", a mapped page never touched before", va);
	user_store(s->vm, va, 0x2a);
	scn_step(s, "guest: user load from %#" PRIx64 ", the same page", va);
	(void)user_load(s->vm, va);
}

/*
 * cow-write: a write after fork. Setup: a process writes page 0 of 4, then
 * forks: page 0 is now read-only and shared by parent and child.
 */
static void cow_setup(struct scn *s)
{
	s->p1 = proc_with_pages(s, 4, 1);
	s->p2 = gmm_fork(s->vm, s->p1);
	if (!s->p2)
		vm_abort(s->vm, "scenario setup: fork failed (errno %d)", gmm_errno(s->vm));
}

static void cow_run(struct scn *s)
{
	gva_t va = s->base;
	scn_step(s, "guest: parent loads from %#" PRIx64 ", shared with the child since the fork",
		 va);
	(void)user_load(s->vm, va);
	scn_step(s, "guest: parent stores to %#" PRIx64 " (read-only: copy-on-write)", va);
	user_store(s->vm, va, 0xc0);
	scn_step(s, "guest: parent stores to %#" PRIx64 " again", va);
	user_store(s->vm, va + 8, 0xc1);
}

/*
 * cr3-switch: context switches. Setup: process 1 writes 4 pages; process 2
 * is created, switched to, and writes 4 pages of its own.
 */
static void cr3_setup(struct scn *s)
{
	s->p1 = proc_with_pages(s, 4, 4);
	s->p2 = proc_with_pages(s, 4, 4);
}

static void cr3_run(struct scn *s)
{
	scn_step(s, "guest: context switch to process %d (MOV to CR3)", gmm_proc_pid(s->p1));
	gmm_switch_to(s->vm, s->p1);
	scn_step(s, "guest: process %d loads from %#" PRIx64, gmm_proc_pid(s->p1), s->base);
	(void)user_load(s->vm, s->base);
	scn_step(s, "guest: context switch back to process %d (MOV to CR3)", gmm_proc_pid(s->p2));
	gmm_switch_to(s->vm, s->p2);
	scn_step(s, "guest: process %d loads from %#" PRIx64, gmm_proc_pid(s->p2), s->base);
	(void)user_load(s->vm, s->base);
}

/*
 * pt-write: the guest edits its page tables. Setup: 16 pages mapped, pages
 * 0..3 written (their leaf table is in use, and shadowed in shadow mode).
 */
static void ptw_setup(struct scn *s)
{
	s->p1 = proc_with_pages(s, 16, 4);
	cpu_flush_tlb(&s->vm->vcpu, false);
}

static void ptw_run(struct scn *s)
{
	gva_t va = s->base + PAGE_SIZE;
	scn_step(s,
		 "guest: mprotect(%#" PRIx64 ", 2 pages, PROT_READ): two PTE stores, then INVLPG",
		 va);
	if (gmm_mprotect(s->vm, va, 2 * PAGE_SIZE, GPROT_READ) != 0)
		vm_abort(s->vm, "mprotect failed (errno %d)", gmm_errno(s->vm));
	scn_step(s, "guest: user load from %#" PRIx64, va);
	(void)user_load(s->vm, va);
	scn_step(s,
		 "guest: mprotect(%#" PRIx64
		 ", 2 pages, PROT_READ|PROT_WRITE): two PTE stores, then INVLPG",
		 va);
	if (gmm_mprotect(s->vm, va, 2 * PAGE_SIZE, RW) != 0)
		vm_abort(s->vm, "mprotect failed (errno %d)", gmm_errno(s->vm));
	scn_step(s, "guest: user store to %#" PRIx64, va);
	user_store(s->vm, va, 0x77);
}

/*
 * munmap: unmapping and its TLB invalidation. Setup: 48 pages mapped, all
 * written. Two pages are unmapped with one INVLPG each; then more pages
 * than --invlpg-threshold, which the guest invalidates with one flush.
 */
static void munmap_setup(struct scn *s)
{
	s->p1 = proc_with_pages(s, 48, 48);
}

static void munmap_run(struct scn *s)
{
	struct vm *vm = s->vm;
	uint32_t big = vm->cfg.invlpg_threshold + 1;

	scn_step(s, "guest: munmap(%#" PRIx64 ", 2 pages): two PTE clears, then one INVLPG each",
		 s->base);
	if (gmm_munmap(vm, s->base, 2 * PAGE_SIZE) != 0)
		vm_abort(vm, "munmap failed (errno %d)", gmm_errno(vm));
	scn_step(s, "guest: user load from %#" PRIx64 ", still mapped", s->base + 2 * PAGE_SIZE);
	(void)user_load(vm, s->base + 2 * PAGE_SIZE);
	if (big > 46)
		return;
	scn_step(s,
		 "guest: munmap(%#" PRIx64 ", %u pages): more than --invlpg-threshold %u, so one "
		 "TLB flush",
		 s->base + 2 * PAGE_SIZE, big, vm->cfg.invlpg_threshold);
	if (gmm_munmap(vm, s->base + 2 * PAGE_SIZE, (uint64_t)big * PAGE_SIZE) != 0)
		vm_abort(vm, "munmap failed (errno %d)", gmm_errno(vm));
}

/*
 * ept-violation: the first guest-physical touches after boot. Setup: none
 * (boot only), so no guest frame except the boot tables is in the EPT yet.
 */
static void eptv_setup(struct scn *s)
{
	(void)s;
}

static void eptv_run(struct scn *s)
{
	struct vm *vm = s->vm;

	scn_step(s, "guest: create process 1 (the kernel zeroes its top table through the "
		    "direct map)");
	s->p1 = gmm_proc_create(vm);
	if (!s->p1)
		vm_abort(vm, "no process (errno %d)", gmm_errno(vm));
	s->base = gmm_mmap(vm, 0, PAGE_SIZE, RW, 0);
	if (!s->base)
		vm_abort(vm, "mmap failed (errno %d)", gmm_errno(vm));
	scn_step(s, "guest: user store to %#" PRIx64 ", a fresh page (new tables, new frame)",
		 s->base);
	user_store(vm, s->base, 0xe);
	scn_step(s, "guest: user store to %#" PRIx64 " again", s->base + 8);
	user_store(vm, s->base + 8, 0xf);
}

/*
 * hot-table: a page table the guest writes often (agile paging's policy,
 * ISCA'16). Setup: process 1, 16 pages mapped, page 0 written, so its leaf
 * table exists and (under shadow and agile paging) is shadowed. Two demand
 * faults write two PTEs into that table: under agile paging the second
 * trapped store moves it to nested mode; after that a walk through it
 * starts in the shadow table and switches to the 2D walk at the leaf table.
 */
static void hot_setup(struct scn *s)
{
	s->p1 = proc_with_pages(s, 16, 1);
	cpu_flush_tlb(&s->vm->vcpu, false);
}

static void hot_run(struct scn *s)
{
	struct vm *vm = s->vm;
	for (unsigned i = 1; i <= 2; i++) {
		gva_t va = s->base + (uint64_t)i * PAGE_SIZE;
		scn_step(s,
			 "guest: user store to %#" PRIx64 ", never touched: the guest writes "
			 "its PTE (store %u into the leaf table)",
			 va, i);
		user_store(vm, va, 0x40 + i);
	}
	scn_step(s, "guest: user store to %#" PRIx64 ", never touched (store 3 into the table)",
		 s->base + 3 * PAGE_SIZE);
	user_store(vm, s->base + 3 * PAGE_SIZE, 0x43);
	scn_step(s,
		 "guest: INVLPG %#" PRIx64 ", then a user load from it (a TLB miss: the walk "
		 "of a page in the hot table)",
		 s->base + PAGE_SIZE);
	cpu_invlpg(&vm->vcpu, s->base + PAGE_SIZE);
	(void)user_load(vm, s->base + PAGE_SIZE);
}

/*
 * fork: a fork, told under each mode. Setup: one process, 16 pages mapped
 * and written, in one leaf table. The fork copies the process's tables and
 * makes the parent's 16 entries read-only. Under pv the guest kernel asks
 * the hypervisor: it pins the child's top table, links three tables, and
 * sends the 32 leaf updates as one batch (or as 32 calls with --pv-batch
 * off). Under shadow the stores to the parent's shadowed leaf table trap.
 * Under nested nothing leaves the guest. Then the parent's first store is
 * a copy-on-write fault.
 */
static void fork_setup(struct scn *s)
{
	s->p1 = proc_with_pages(s, 16, 16);
}

static void fork_run(struct scn *s)
{
	struct vm *vm = s->vm;
	scn_step(s,
		 "guest: fork() of process %d: its tables are copied and its 16 written pages "
		 "made read-only in parent and child",
		 gmm_proc_pid(s->p1));
	s->p2 = gmm_fork(vm, s->p1);
	if (!s->p2)
		vm_abort(vm, "fork failed (errno %d)", gmm_errno(vm));
	scn_step(s,
		 "guest: parent stores to %#" PRIx64 " (read-only since the fork: copy-on-write)",
		 s->base);
	user_store(vm, s->base, 0xf0);
}

/*
 * l2-fault: one L2 page fault, for the nested-virtualization designs
 * (l2fault.c tells it design by design). Setup as first-touch's: the
 * process's tables exist, so the fault needs no new guest table; the one
 * step is the store. Under a single-level mode it is a plain first touch.
 */
static void l2f_setup(struct scn *s)
{
	s->p1 = proc_with_pages(s, 16, 1);
}

static void l2f_run(struct scn *s)
{
	gva_t va = s->base + PAGE_SIZE;
	scn_step(s, "L2 guest: user store to %#" PRIx64 ", a mapped page never touched before",
		 va);
	user_store(s->vm, va, 0x2a);
}

/*
 * dma-vmm and dma-vm: one DMA block read of one page, with the IOMMU
 * programmed by the VMM (no vIOMMU: it mapped and pinned all of guest
 * memory when the device was assigned) or by the VM (a vIOMMU: the guest
 * maps an IOVA in its own table and invalidates, each register write an
 * exit; the VMM syncs its shadow table, pinning page by page, or, with
 * --viommu on, the hardware walks both stages). Setup: one process with a
 * 1-page buffer; nothing of the device touched yet, so step 1 shows the
 * assignment and the driver's probe.
 */
static void dma_common_setup(struct scn *s)
{
	s->p1 = proc_with_pages(s, 1, 0);
}
static void dma_vmm_setup(struct scn *s)
{
	dma_common_setup(s);
}
static void dma_vm_setup(struct scn *s)
{
	dma_common_setup(s);
}

static void dma_common_run(struct scn *s, bool vm_programs)
{
	struct vm *vm = s->vm;
	scn_step(s,
		 vm_programs ? "guest: the driver probes the device and programs its vIOMMU (root "
			       "table, then maps the descriptor ring at an IOVA)"
			     : "guest: the driver probes the device; the VMM has assigned it and "
			       "mapped all of guest memory for it (VFIO pins every page)");
	if (gmm_dma_probe(vm) != 0)
		vm_abort(vm, "the device's probe failed (errno %d)", gmm_errno(vm));
	scn_step(s,
		 vm_programs ? "guest: one block read into %#" PRIx64
			       ": pin the page, map an IOVA for it (and invalidate, in Caching "
			       "Mode), doorbell, DMA, unmap and invalidate, unpin"
			     : "guest: one block read into %#" PRIx64
			       ": pin the page, hand its gPA to the device, doorbell, DMA, unpin",
		 s->base);
	if (gmm_dma_rw(vm, s->base, 1, 0, true, NULL) != 0)
		vm_abort(vm, "the block read failed (errno %d)", gmm_errno(vm));
	scn_step(s, "guest: the process reads what the device wrote at %#" PRIx64, s->base);
	(void)user_load(vm, s->base);
}
static void dma_vmm_run(struct scn *s)
{
	dma_common_run(s, false);
}
static void dma_vm_run(struct scn *s)
{
	dma_common_run(s, true);
}

/*
 * The table of scenarios: X(name, prefix of its setup and run functions,
 * summary for `--scenario list`, what the setup does). One line each, so
 * the public list and the functions cannot drift apart.
 */
#define SCENARIOS(X)                                                                           \
	X("first-touch", first_touch, "a demand fault: the first store to a mapped page",      \
	  "process 1, 16 pages mapped at the mmap base, page 0 written")                       \
	X("cow-write", cow, "a write after fork: copy-on-write",                               \
	  "process 1, 4 pages mapped, page 0 written, then fork() (child: process 2)")         \
	X("cr3-switch", cr3, "context switches: MOV to CR3, VPID, the shadow root cache",      \
	  "process 1 writes 4 pages; process 2 is created, switched to, and writes 4 pages")   \
	X("pt-write", ptw,                                                                     \
	  "the guest edits its page tables (mprotect): write protection, unsync, resync",      \
	  "process 1, 16 pages mapped, pages 0..3 written, then a guest TLB flush (which "     \
	  "brings unsync tables back in sync)")                                                \
	X("munmap", munmap, "munmap: INVLPG per page, or one flush past --invlpg-threshold",   \
	  "process 1, 48 pages mapped and written")                                            \
	X("fork", fork,                                                                        \
	  "a fork: pv's batched hypercalls, shadow's write protection, nested's plain stores", \
	  "process 1, 16 pages mapped and written (one leaf table)")                           \
	X("ept-violation", eptv, "the first guest-physical touches: EPT violations (nested)",  \
	  "boot only")                                                                         \
	X("hot-table", hot,                                                                    \
	  "a page table written often: agile paging moves it to nested mode, walks switch",    \
	  "process 1, 16 pages mapped, page 0 written (its leaf table shadowed), TLB flushed") \
	X("dma-vmm", dma_vmm, "VMM programs IOMMU: one DMA transfer, guest memory pinned up front", \
	  "process 1, a 1-page buffer mapped; the device untouched (--viommu off)")           \
	X("dma-vm", dma_vm,                                                                    \
	  "VM programs IOMMU: one DMA transfer through the guest's vIOMMU, exits each way",     \
	  "process 1, a 1-page buffer mapped; the device untouched (--viommu shadow unless "   \
	  "--viommu on)")                                                                      \
	X("l2-fault", l2f,                                                                    \
	  "one L2 page fault under each nested design: the exits at each level, in order",    \
	  "in each design: process 1 of the L2 guest, 16 pages mapped at the mmap base, page " \
	  "0 written")

struct scenario_def {
	void (*setup)(struct scn *s);
	void (*run)(struct scn *s);
	const char *setup_desc;
};

#define SCN_INFO(name, fn, summary, setup) {name, summary, setup},
const struct scenario_info scenario_list[] = {SCENARIOS(SCN_INFO)};
#undef SCN_INFO
const size_t scenario_count = NELEMS(scenario_list);

#define SCN_DEF(name, fn, summary, setup) {fn##_setup, fn##_run, setup},
static const struct scenario_def scenario_defs[] = {SCENARIOS(SCN_DEF)};
#undef SCN_DEF

static const struct scenario_def *scenario_find(const char *name)
{
	for (size_t k = 0; k < scenario_count; k++)
		if (strcmp(scenario_list[k].name, name) == 0)
			return &scenario_defs[k];
	return NULL;
}

bool scenario_exists(const char *name)
{
	return scenario_find(name) != NULL;
}

/* ---- the runner ---- */

/* The exits_* counter that changed since the last exit event. */
static const char *exit_counter(struct scn *s)
{
	const char *name = NULL;
	for (size_t k = 0; k < stat_nfields; k++) {
		const struct stat_field *f = &stat_fields[k];
		if (strncmp(f->name, "exits_", 6) != 0)
			continue;
		uint64_t now = stat_get(&s->vm->st, f), was = stat_get(&s->exit_snap, f);
		if (now != was && name == NULL)
			name = f->name;
	}
	s->exit_snap = s->vm->st;
	return name;
}

static void scn_trace(void *ctx, const struct trace_event *ev)
{
	struct scn *s = ctx;
	const char *ec = ev->kind == TR_VM_EXIT ? exit_counter(s) : NULL;
	if (s->obs->event)
		s->obs->event(s->obs->ctx, s->vm, ev, ec);
}

static int scenario_run_def(const char *name, const struct vm_config *cfg,
			    const struct scenario_observer *obs, struct stats *total, char *err,
			    size_t errlen)
{
	static const struct scenario_observer none;
	const struct scenario_def *d = scenario_find(name);
	struct scn s = {.obs = obs ? obs : &none};
	jmp_buf jb;

	memset(total, 0, sizeof(*total));
	if (!d) {
		snprintf(err, errlen, "unknown scenario '%s'", name);
		return -1;
	}
	struct vm *vm = vm_create(cfg, err, errlen);
	if (!vm)
		return -1;
	s.vm = vm;
	vm->abort_jmp = &jb;
	if (setjmp(jb) != 0) {
		snprintf(err, errlen, "scenario %s (%s): %s", name, cfg->mode, vm->err);
		vm->trace_fn = NULL;
		vm_destroy(vm);
		return -1;
	}
	if (gmm_boot(vm) != 0) {
		snprintf(err, errlen, "guest boot: %s", vm->err);
		vm_destroy(vm);
		return -1;
	}
	d->setup(&s);
	vm_stats_fold(vm); /* the set-up's L0 hits stay out of the steps */
	memset(&vm->st, 0, sizeof(vm->st));
	s.exit_snap = vm->st;
	vm->trace_fn = scn_trace;
	vm->trace_ctx = &s;
	d->run(&s);
	scn_step_end(&s);
	vm->trace_fn = NULL;
	vm_sync_stats(vm);
	*total = vm->st;
	if (vm->mmu->stats)
		vm->mmu->stats(vm, total);
	vm_destroy(vm);
	return 0;
}

int scenario_run(const char *name, const struct vm_config *cfg, const struct scenario_observer *obs,
		 struct stats *total, char *err, size_t errlen)
{
	/* The DMA scenarios fix who programs the IOMMU. */
	const struct scenario_def *d = scenario_find(name);
	struct vm_config c = *cfg;
	if (d && d->setup == dma_vmm_setup)
		c.viommu = VIOMMU_OFF;
	else if (d && d->setup == dma_vm_setup && c.viommu == VIOMMU_OFF)
		c.viommu = VIOMMU_SHADOW;
	return scenario_run_def(name, &c, obs, total, err, errlen);
}

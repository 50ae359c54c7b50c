/*
 * proc.c - boot of the guest kernel (frame allocator and direct map),
 * processes, PCIDs, context switch, fork, exit and shutdown.
 *
 * Boot builds the direct map of all guest memory with the VMM's
 * gpa_write64() (paging is not on yet; those writes are not counted), in a
 * kernel top table, and loads that table into CR3 (PCID 0). From then on the
 * kernel reaches every guest frame through the direct map, and every table
 * access goes through the vCPU. Each process's top table is zeroed and gets
 * a copy of the kernel's top-level entries, so the direct map's lower tables
 * are shared by every address space.
 *
 * PCIDs are chosen by pcid.c (Linux's dynamic ASIDs, or one per process);
 * with KPTI each process has a second, user top table beside the first
 * (kpti.c). Every call of the API below is one kernel entry
 * (gmm_kernel_enter()/gmm_kernel_exit()).
 *
 * Invariants:
 *   - g->current is the process whose top table CR3 holds (its kernel or,
 *     with KPTI between calls, its user PGD), or NULL when the kernel top
 *     table is loaded;
 *   - the kernel top-level entries of every process equal the kernel top
 *     table's entries at the time the process was created (they never
 *     change after boot).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gmm-internal.h"
#include "../core/cpu.h"

/* ---- private helpers ---- */

void *gmm_xrealloc(struct gmm *g, void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		vm_abort(g->vm, "simulator out of memory (guest kernel, %zu bytes)", n);
	return q;
}

static void boot_zero_table(struct vm *vm, gfn_t t)
{
	for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
		gpa_write64(vm, gmm_slot(gfn_to_gpa(t), i), 0);
}

/* Map one direct-map leaf at 'level' (2 or 3), building tables as needed. */
static int boot_map(struct gmm *g, gva_t va, uint64_t pa, int level)
{
	struct vm *vm = g->vm;
	gpa_t table = g->kernel_top;
	for (int l = g->levels; l > level; l--) {
		gpa_t s = gmm_slot(table, pt_index(va, l));
		uint64_t e = gmm_pv_val(g, gpa_read64(vm, s), l);
		if (!gpte_present(e)) {
			gfn_t t;
			if (!gmm_alloc_frame(g, GF_KERNEL, &t))
				return -1;
			boot_zero_table(vm, t);
			e = gfn_to_gpa(t).v | GMM_UPPER_KERNEL;
			gpa_write64(vm, s, gmm_pv_make(g, e, l));
		}
		table = GPA(pte_frame(e));
	}
	uint64_t leaf = pa | GMM_DIRECT_LEAF | g->nx;
	if (g->kpti)
		leaf &= ~GPTE_G; /* KPTI: __default_kernel_pte_mask without _PAGE_GLOBAL */
	gpa_write64(vm, gmm_slot(table, pt_index(va, level)), gmm_pv_make(g, leaf, level));
	return 0;
}

void gmm_write_cr3(struct gmm *g, uint64_t cr3)
{
	struct vcpu *v = g->vm->cur;
	bool user = v->user;
	cpu_set_user(v, false);
	g->pv->write_cr3(g, cr3);
	cpu_set_user(v, user);
}

/* Context switch to p, or to the kernel top table when p is NULL (Linux's
 * switch_mm_irqs_off(): the PCID and flush come from pcid.c). */
static void load_cr3(struct gmm *g, struct gproc *p)
{
	struct vm *vm = g->vm;
	bool flush;
	uint64_t cr3 = gmm_pcid_switch(g, p, &flush);
	gmm_smp_switch_mm(g, g->current, p);
	g->current = p;
	g->user_cr3 = false;
	vm->st.ctx_switches++;
	vm->st.ctx_switch_flushes += flush;
	gmm_write_cr3(g, cr3);
}

void gmm_load_mm(struct gmm *g, struct gproc *p)
{
	load_cr3(g, p);
}

/* A process with a PCID and a top table holding the kernel entries (with
 * KPTI, a pair: the kernel PGD and the user PGD after it). */
static struct gproc *proc_alloc(struct gmm *g)
{
	bool exhausted;
	uint16_t pcid = gmm_pcid_alloc(g, &exhausted);
	if (exhausted) {
		g->err = EAGAIN;
		return NULL;
	}
	gfn_t top;
	bool ok = g->kpti ? gmm_alloc_pair(g, GF_TABLE, &top) : gmm_alloc_frame(g, GF_TABLE, &top);
	if (!ok) {
		g->pcid_used[pcid] = 0;
		g->err = ENOMEM;
		return NULL;
	}
	gmm_zero_frame(g, top);
	if (g->pv->pgd_pin)
		g->pv->pgd_pin(g, top);
	for (unsigned i = g->ktop_first; i < g->ktop_first + g->ktop_count; i++) {
		uint64_t e = gmm_pte_read(g, gmm_slot(g->kernel_top, i));
		gmm_pte_write(g, gmm_slot(gfn_to_gpa(top), i), e, g->levels);
	}
	if (g->kpti)
		gmm_kpti_proc_init(g, gfn_to_gpa(top));
	struct gproc *p = gmm_xrealloc(g, NULL, sizeof(*p));
	*p = (struct gproc){
	    .pid = g->next_pid++,
	    .pcid = pcid,
	    .ctx_id = gmm_pcid_new_ctx(g),
	    .top = gfn_to_gpa(top),
	    .mmap_cursor = GMM_MMAP_BASE,
	};
	struct gproc **tail = &g->procs;
	while (*tail)
		tail = &(*tail)->next;
	*tail = p;
	return p;
}

/* Zap p's leaves, free its user tables and its top table. */
static void teardown(struct gmm *g, struct gproc *p)
{
	for (size_t i = 0; i < p->nvma; i++)
		gmm_pt_visit(g, p, p->vma[i].start, p->vma[i].end, gmm_pt_zap_leaf, NULL);
	/* Drop the VMAs one at a time, as munmap would, so that a table is
	 * freed only once no remaining VMA overlaps its span, and every table
	 * below it has been freed first. */
	while (p->nvma) {
		struct gvma v = p->vma[0];
		gmm_vma_remove(p, v.start, v.end);
		gmm_pt_free_range(g, p, v.start, v.end, false);
	}
	if (g->pv->pgd_unpin)
		g->pv->pgd_unpin(g, gpa_to_gfn(p->top));
	gmm_free_table_frame(g, gpa_to_gfn(p->top));
	if (g->kpti)
		gmm_free_table_frame(g, gpa_to_gfn(p->top) + 1);
}

static void proc_free(struct gmm *g, struct gproc *p)
{
	for (struct gproc **pp = &g->procs; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	gmm_pcid_free(g, p);
	free(p->vma);
	free(p);
}

/* Copy the leaves of [start, end) from parent table pt to child table ct. */
static bool copy_table(struct gmm *g, const struct gvma *vma, gpa_t pt, gpa_t ct, int level,
		       gva_t start, gva_t end)
{
	uint64_t span = UINT64_C(1) << level_shift(level);
	if (level == LVL_PT)
		gmm_lazy_enter(g); /* copy_pte_range() */
	for (gva_t s = start & ~(span - 1); s < end; s += span) {
		unsigned idx = pt_index(s, level);
		gpa_t ps = gmm_slot(pt, idx), cs = gmm_slot(ct, idx);
		uint64_t pe = gmm_pte_read(g, ps);
		if (!gmm_pte_mapped(pe))
			continue;
		if (gmm_pte_leaf(pe, level)) {
			if ((vma->prot & GPROT_WRITE) && (pe & GPTE_RW)) {
				pe &= ~GPTE_RW;
				gmm_pte_write(g, ps, pe, level);
			}
			gmm_pte_write(g, cs, pe, level);
			gmm_frame_get(g, gpa_to_gfn(GPA(gpte_leaf_frame(pe, level))));
			continue;
		}
		uint64_t ce = gmm_pte_read(g, cs);
		if (!gpte_present(ce)) {
			gfn_t t;
			if (!gmm_table_alloc(g, &t))
				return false;
			ce = gfn_to_gpa(t).v | GMM_UPPER_USER;
			gmm_pte_write(g, cs, ce, level);
		}
		gva_t lo = s > start ? s : start;
		gva_t hi = s + span < end ? s + span : end;
		if (!copy_table(g, vma, GPA(pte_frame(pe)), GPA(pte_frame(ce)), level - 1, lo, hi))
			return false;
	}
	if (level == LVL_PT)
		gmm_lazy_leave(g);
	return true;
}

/* ---- API ---- */

gva_t gmm_kva(const struct vm *vm, gpa_t gpa)
{
	return (vm->cfg.levels == 5 ? GMM_DIRECT_BASE_5L : GMM_DIRECT_BASE_4L) + gpa.v;
}

/* The #PF vector's entry: the fault comes as the vector's payload. */
static void pf_vector(struct vcpu *v, const void *info, void *ctx)
{
	(void)ctx;
	gmm_handle_fault(v->vm, (const struct guest_fault *)info);
}

int gmm_boot(struct vm *vm)
{
	const struct vm_config *c = &vm->cfg;
	if (vm->guest) {
		snprintf(vm->err, sizeof(vm->err), "guest kernel already booted");
		return -1;
	}
	if (c->levels != 4 && c->levels != 5) {
		snprintf(vm->err, sizeof(vm->err), "guest kernel: levels must be 4 or 5, not %d",
			 c->levels);
		return -1;
	}
	if (c->direct_map_page != PG_2M && c->direct_map_page != PG_1G) {
		snprintf(vm->err, sizeof(vm->err),
			 "guest kernel: direct-map page must be 2m or 1g");
		return -1;
	}
	struct gmm *g = calloc(1, sizeof(*g));
	if (!g || gmm_frames_init(g, c->guest_mem >> PAGE_SHIFT)) {
		if (g)
			gmm_frames_destroy(g);
		free(g);
		snprintf(vm->err, sizeof(vm->err), "guest kernel: simulator out of memory");
		return -1;
	}
	g->vm = vm;
	g->levels = c->levels;
	g->direct_base = c->levels == 5 ? GMM_DIRECT_BASE_5L : GMM_DIRECT_BASE_4L;
	g->user_top = (UINT64_C(1) << (c->levels == 5 ? 56 : 47)) - PAGE_SIZE;
	g->next_pid = 1;
	g->kpti = c->kpti;
	gmm_pv_select(g);
	gmm_pcid_init(g);
	g->nx = c->efer_nxe ? GPTE_NX : 0;
	/* Owned by the VM from here: a host allocation that fails while the
	 * direct map is built aborts the run, and vm_destroy() then frees g
	 * through the hook. */
	vm->guest = g;
	vm->guest_shutdown = gmm_shutdown;

	gfn_t top;
	int level = c->direct_map_page == PG_1G ? LVL_PDPT : LVL_PD;
	uint64_t step = page_bytes(c->direct_map_page);
	uint64_t size = (g->nframes * PAGE_SIZE + step - 1) / step * step;
	bool ok = gmm_alloc_frame(g, GF_KERNEL, &top);
	if (ok) {
		g->kernel_top = gfn_to_gpa(top);
		boot_zero_table(vm, top);
	}
	for (uint64_t off = 0; ok && off < size; off += step)
		ok = boot_map(g, g->direct_base + off, off, level) == 0;
	if (ok && g->kpti)
		ok = gmm_kpti_boot(g) == 0;
	if (!ok) {
		gmm_shutdown(vm);
		snprintf(vm->err, sizeof(vm->err),
			 "guest kernel: guest memory too small for the direct-map tables");
		return -1;
	}
	g->ktop_first = pt_index(g->direct_base, g->levels);
	g->ktop_count = pt_index(g->direct_base + size - 1, g->levels) - g->ktop_first + 1;
	/* Like a kernel filling its IDT: #PF goes to gmm_handle_fault(). */
	cpu_set_vector(&vm->vcpu, VEC_PF, pf_vector, NULL);
	/* As Linux does on processors that have them (cr4_set_bits() for
	 * SMEP and SMAP in setup_smep()/setup_smap(), CR0.WP set by the boot
	 * code, EFER.NX by the early boot path): the controls cfg asks for. The
	 * kernel never touches user memory through user addresses (every
	 * kernel access goes through the direct map), so it needs no STAC/CLAC
	 * and SMAP never blocks it. */
	struct paging_ctl ctl = {
	    .wp = c->cr0_wp,
	    .smep = c->cr4_smep,
	    .smap = c->cr4_smap,
	    .nxe = c->efer_nxe,
	    .pke = c->cr4_pke}; /* Linux's setup_pku() */
	cpu_set_paging_ctl(&vm->vcpu, &ctl);
	if (g->pv->pgd_pin)
		g->pv->pgd_pin(g, gpa_to_gfn(g->kernel_top));
	load_cr3(g, NULL);
	if (gmm_smp_boot(g) != 0) {
		gmm_shutdown(vm);
		return -1;
	}
	return 0;
}

void gmm_shutdown(struct vm *vm)
{
	struct gmm *g = gmm_of(vm);
	if (!g)
		return;
	while (g->procs) {
		struct gproc *p = g->procs;
		g->procs = p->next;
		free(p->vma);
		free(p);
	}
	gmm_smp_shutdown(g);
	gmm_frames_destroy(g);
	gmm_dma_shutdown(g);
	free(g->inv);
	free(g);
	vm->guest = NULL;
	vm->guest_shutdown = NULL;
	cpu_set_vector(&vm->vcpu, VEC_PF, NULL, NULL);
}

int gmm_errno(const struct vm *vm)
{
	const struct gmm *g = gmm_of(vm);
	return g ? g->err : 0;
}

struct gproc *gmm_proc_create(struct vm *vm)
{
	struct gmm *g = gmm_of(vm);
	gmm_kernel_enter(vm);
	struct gproc *p = proc_alloc(g);
	if (p && !g->current)
		load_cr3(g, p);
	gmm_kernel_exit(vm);
	return p;
}

void gmm_switch_to(struct vm *vm, struct gproc *p)
{
	struct gmm *g = gmm_of(vm);
	if (p == g->current && !g->lazy_tlb)
		return;
	gmm_kernel_enter(vm);
	if (g->lazy_tlb && p == g->current) {
		/* Back from lazy TLB mode to the mm it kept loaded: flush when a
		 * shootdown skipped it meanwhile (switch_mm_irqs_off() compares
		 * the CPU's tlb_gen with the mm's). */
		if (g->lazy_stale) {
			gmm_flush_tlb(g, false);
			gmm_pcid_synced(g, p);
		}
	} else {
		load_cr3(g, p);
	}
	g->lazy_tlb = false;
	g->lazy_stale = false;
	gmm_kernel_exit(vm);
}

static struct gproc *fork_mm(struct vm *vm, struct gproc *parent);

struct gproc *gmm_fork(struct vm *vm, struct gproc *parent)
{
	gmm_kernel_enter(vm);
	struct gproc *c = fork_mm(vm, parent);
	gmm_kernel_exit(vm);
	return c;
}

/* The copy-on-write copy of parent's address space (Linux's dup_mmap()). */
static struct gproc *fork_mm(struct vm *vm, struct gproc *parent)
{
	struct gmm *g = gmm_of(vm);
	if (!parent) {
		g->err = EINVAL;
		return NULL;
	}
	struct gproc *c = proc_alloc(g);
	if (!c)
		return NULL;
	gmm_vma_copy(g, c, parent);
	c->mmap_cursor = parent->mmap_cursor;
	bool ok = true;
	for (size_t i = 0; ok && i < parent->nvma; i++)
		ok = copy_table(g, &parent->vma[i], parent->top, c->top, g->levels,
				parent->vma[i].start, parent->vma[i].end);
	/* The parent's writable translations are now stale. */
	if (parent == g->current)
		gmm_flush_tlb(g, false);
	gmm_pcid_flushed(g, parent);
	gmm_smp_shootdown_mm(g, parent);
	if (!ok) {
		/* Roll back: the parent keeps its read-only entries, which a
		 * write turns back into writable ones (refcount 1). */
		teardown(g, c);
		proc_free(g, c);
		g->err = ENOMEM;
		return NULL;
	}
	return c;
}

void gmm_exit(struct vm *vm, struct gproc *p, struct gproc *next)
{
	struct gmm *g = gmm_of(vm);
	if (!p)
		return;
	gmm_kernel_enter(vm);
	if (p == g->current)
		load_cr3(g, next != p ? next : NULL);
	gmm_smp_release(g, p);
	teardown(g, p);
	proc_free(g, p);
	gmm_kernel_exit(vm);
}

struct gproc *gmm_current(const struct vm *vm)
{
	const struct gmm *g = gmm_of(vm);
	return g ? g->current : NULL;
}

int gmm_proc_pid(const struct gproc *p)
{
	return p ? p->pid : -1;
}

size_t gmm_nprocs(const struct vm *vm)
{
	const struct gmm *g = gmm_of(vm);
	size_t n = 0;
	for (const struct gproc *p = g ? g->procs : NULL; p; p = p->next)
		n++;
	return n;
}

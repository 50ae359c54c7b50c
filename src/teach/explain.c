/*
 * explain.c - `vmmu explain`: build a small guest, perform one load, record
 * the trace events of the real mechanism, and hand them to the printers.
 *
 * Sections: recording (the trace hook), annotation (walk and reference
 * numbers, the outcome), the guest and the access, the command line.
 *
 * The recorder copies every event it is given and interprets nothing while
 * the access runs. Afterwards the annotation pass groups the references of
 * the explained address into walks: consecutive references of one walker
 * (the hardware walk of native, shadow or nested paging, or the VMM's
 * software walk of the guest tables, whose events carry neither a guest
 * nor a host level) form one walk; any other event ends it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "../core/cpu.h"
#include "explain.h"
#include "../core/vm.h"
#include "../guest-mm/gmm.h"
#include "../cli/registry.h"

/* Bound on recorded events: an explained load makes a few dozen. */
#define XP_MAX_RECS 65536

/* ---- recording ---- */

static void xp_record(void *ctx, const struct trace_event *ev)
{
	struct xp_trace *t = ctx;
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 256;
		struct xp_rec *r = cap <= XP_MAX_RECS ? realloc(t->rec, cap * sizeof(*r)) : NULL;
		if (!r) {
			t->overflow = true;
			return;
		}
		t->rec = r;
		t->cap = cap;
	}
	t->rec[t->n++] = (struct xp_rec){.ev = *ev};
}

void xp_trace_free(struct xp_trace *t)
{
	free(t->rec);
	t->rec = NULL;
	t->n = t->cap = 0;
}

/* ---- annotation ---- */

/* Which walker a reference comes from: 0 hardware (native, nested), 1 the
 * hardware walk of a shadow table, 2 the VMM's software walk. */
static int xp_walker(const struct xp_rec *r)
{
	if (r->soft)
		return 2;
	return r->ev.dim == DIM_SHADOW ? 1 : 0;
}

static bool xp_is_leaf(uint64_t e, int level)
{
	return level == LVL_PT || gpte_large(e, level);
}

static void xp_annotate(struct xp_trace *t)
{
	int walk = 0, step = 0, prev = -1;
	for (size_t i = 0; i < t->n; i++) {
		struct xp_rec *r = &t->rec[i];
		const struct trace_event *ev = &r->ev;
		if (ev->kind != TR_WALK_REF || ev->gva != t->gva) {
			if (ev->kind == TR_WALK_REF)
				r->other = true;
			else if (ev->kind == TR_WALK_DONE && ev->gva == t->gva)
				r->walk = walk;
			prev = -1;
			continue;
		}
		/* The VMM's software walk is the only walker whose guest-table
		 * references carry no guest level. */
		r->soft = ev->dim == DIM_GUEST && ev->guest_level == 0 && ev->host_level == 0;
		int w = xp_walker(r);
		if (w != prev)
			walk++;
		prev = w;
		r->walk = walk;
		t->two_d |= ev->dim == DIM_HOST;
		r->nrefs = ev->served == SERVED_PSC ? t->levels - ev->level + 1 : 1;
		r->step = step + 1;
		step += r->nrefs;
	}
	t->walks = walk;
	t->refs = step;

	/* The outcome, from the last fill, 2D completion and guest leaf seen. */
	for (size_t i = 0; i < t->n; i++) {
		const struct xp_rec *r = &t->rec[i];
		const struct trace_event *ev = &r->ev;
		if (ev->gva != t->gva)
			continue;
		switch (ev->kind) {
		case TR_TLB_FILL:
			t->fill_size = (enum page_size)(ev->level - 1);
			t->hpa = ev->addr + (t->gva & (page_bytes(t->fill_size) - 1));
			break;
		case TR_WALK_DONE:
			if (ev->dim == DIM_GUEST && ev->host_level > 0) {
				t->gpa = ev->addr;
				t->gpa_known = true;
				t->guest_leaf = ev->level;
				t->host_leaf = ev->host_level;
			}
			break;
		case TR_WALK_REF:
			if (r->soft && gpte_present(ev->entry) &&
			    xp_is_leaf(ev->entry, ev->level)) {
				uint64_t ps = page_bytes(level_page_size(ev->level));
				t->gpa =
				    gpte_leaf_frame(ev->entry, ev->level) + (t->gva & (ps - 1));
				t->gpa_known = true;
				t->guest_leaf = ev->level;
			}
			break;
		case TR_GUEST_FAULT:
			t->faulted = true;
			t->fault_ec = ev->result;
			t->fault_level = ev->level;
			break;
		default:
			break;
		}
	}
}

/* ---- the guest and the access ---- */

struct vm *explain_guest_build(const struct vm_config *cfg, const struct xp_opts *o, char *err,
			       size_t errlen)
{
	struct vm *vm = vm_create(cfg, err, errlen);
	if (!vm)
		return NULL;
	struct vm *volatile vv = vm;
	jmp_buf jb;
	vm->abort_jmp = &jb;
	if (setjmp(jb) != 0) {
		snprintf(err, errlen, "guest error while building the guest: %.200s", vv->err);
		vm_destroy(vv);
		return NULL;
	}
	if (gmm_boot(vm) != 0) {
		snprintf(err, errlen, "guest boot failed: %.200s", vm->err);
		vm_destroy(vm);
		return NULL;
	}
	if (!gmm_proc_create(vm)) {
		snprintf(err, errlen, "cannot create the guest process (errno %d)", gmm_errno(vm));
		vm_destroy(vm);
		return NULL;
	}
	struct vcpu *v = &vm->vcpu;
	const bool huge = cfg->guest_page == PG_2M;
	const uint64_t ps = huge ? page_bytes(PG_2M) : PAGE_SIZE;
	for (size_t i = 0; i < o->nmap; i++) {
		gva_t base = o->map[i] & ~(ps - 1);
		bool seen = false;
		for (size_t j = 0; j < i; j++)
			seen |= (o->map[j] & ~(ps - 1)) == base;
		if (seen)
			continue;
		unsigned prot =
		    GPROT_READ | GPROT_WRITE | (o->access == ACC_FETCH ? GPROT_EXEC : 0);
		gva_t got = gmm_mmap(vm, base, ps, prot, GMAP_FIXED | (huge ? GMAP_HUGE : 0));
		if (got != base) {
			snprintf(err, errlen, "cannot map the page at 0x%" PRIx64 ": %s", base,
				 strerror(gmm_errno(vm)));
			vm_destroy(vm);
			return NULL;
		}
		/* Populate it through the guest kernel's demand-fault path, as
		 * MAP_POPULATE does: the page and its tables exist, and no user
		 * access has walked them yet. */
		struct guest_fault f = {.gva = base, .error_code = PFEC_U, .level = LVL_PT};
		cpu_set_user(v, false);
		gmm_handle_fault(vm, &f);
		if (o->first_touch) {
			cpu_set_user(v, true);
			(void)cpu_load(v, base, 8);
			cpu_set_user(v, false);
		}
	}
	vm->abort_jmp = NULL;
	return vm;
}

const char *xp_access_noun(enum access_kind a)
{
	return a == ACC_WRITE ? "store" : a == ACC_FETCH ? "fetch" : "load";
}

static void stats_sub(struct stats *d, const struct stats *a, const struct stats *b)
{
	uint64_t *dd = (uint64_t *)d;
	const uint64_t *aa = (const uint64_t *)a, *bb = (const uint64_t *)b;
	for (size_t i = 0; i < sizeof(*d) / sizeof(uint64_t); i++)
		dd[i] = aa[i] - bb[i];
}

/* p2m reverse lookup: the gfn that hfn backs, or UINT64_MAX. */
static uint64_t xp_p2m_reverse(const struct vm *vm, uint64_t hfn)
{
	for (uint64_t g = 0; g < vm->p2m.nframes; g++)
		if (p2m_lookup(vm, g) == hfn)
			return g;
	return UINT64_MAX;
}

int explain_access(struct vm *vm, uint64_t gva, const struct xp_opts *o, struct xp_trace *t)
{
	struct vcpu *v = &vm->vcpu;
	memset(t, 0, sizeof(*t));
	t->mode = vm->mmu->name;
	t->levels = vm->cfg.levels;
	t->ept_levels = vm->cfg.ept_levels;
	t->guest_page = vm->cfg.guest_page;
	t->host_page = vm->cfg.host_page;
	t->walk_caches = vm->cfg.walk_caches;
	t->warmed = o->warm;
	t->identity = vm->p2m.identity;
	t->machine = vm->mmu->paravirt;
	t->ept = vm->mmu->host_table ? vm->mmu->host_table : "EPT";
	t->ept_note = vm->mmu->host_table_note;
	t->gva = gva;
	t->user = xp_user_half(gva, vm->cfg.levels);
	t->access = o->access;
	/* A kernel address is loaded by kernel code, which runs on the kernel
	 * PGD when the guest has KPTI. */
	const bool kernel = !t->user;
	if (kernel)
		gmm_kernel_enter(vm);
	t->cr3 = v->cr3;
	t->cap = 256;
	t->rec = malloc(t->cap * sizeof(*t->rec));
	if (!t->rec)
		return -1;

	struct xp_trace *volatile tv = t;
	jmp_buf jb;
	vm->abort_jmp = &jb;
	if (setjmp(jb) != 0) {
		/* Before the hook, the guest error came from the warm-up load. */
		tv->warm_failed = vm->trace_fn == NULL;
		snprintf(tv->error, sizeof(tv->error), "%s", vm->err);
		tv->ok = false;
		goto out;
	}
	cpu_set_user(v, false);
	cpu_flush_tlb(v, true);
	if (o->warm) {
		cpu_set_user(v, xp_user_half(o->warm_gva, vm->cfg.levels));
		(void)cpu_load(v, o->warm_gva & ~UINT64_C(7), 8);
	}
	cpu_set_user(v, t->user);
	vm_sync_stats(vm);
	t->delta = vm->st; /* the statistics before the access, for now */
	vm->trace_fn = xp_record;
	vm->trace_ctx = t;
	/* 8 bytes when aligned, else one byte: the access never crosses a
	 * page. A fetch reads one byte (an instruction's first). */
	const unsigned size = (gva & 7) ? 1 : 8;
	switch (o->access) {
	case ACC_READ:
		t->value = cpu_load(v, gva, size);
		break;
	case ACC_WRITE:
		t->value = size == 8 ? XP_STORE_VALUE : (XP_STORE_VALUE & 0xff);
		cpu_store(v, gva, size, t->value);
		break;
	case ACC_FETCH:
		cpu_fetch(v, gva, 1);
		break;
	}
	t->ok = true;
out:
	vm->trace_fn = NULL;
	vm->trace_ctx = NULL;
	vm->abort_jmp = NULL;
	cpu_set_user(v, false);
	vm_sync_stats(vm);
	struct stats before = tv->delta;
	stats_sub(&tv->delta, &vm->st, &before);
	if (kernel && tv->ok)
		gmm_kernel_exit(vm); /* after the access's statistics */
	xp_annotate(tv);
	if (tv->ok && !tv->gpa_known) {
		if (vm->p2m.identity) {
			tv->gpa = tv->hpa;
			tv->gpa_known = true;
		} else {
			uint64_t g = xp_p2m_reverse(vm, tv->hpa >> PAGE_SHIFT);
			if (g != UINT64_MAX)
				tv->gpa = (g << PAGE_SHIFT) | (tv->hpa & (PAGE_SIZE - 1));
		}
	}
	if (tv->ok && tv->guest_leaf == 0 && vm->p2m.identity)
		tv->guest_leaf = (int)tv->fill_size + 1;
	return 0;
}

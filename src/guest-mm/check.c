/*
 * check.c - the guest memory manager's run-time invariant check.
 *
 * It reads every table with gpa_read64(), the VMM's view of guest memory,
 * so it counts nothing and sets no accessed bit: it is a test and audit
 * aid, not part of the guest kernel. It recomputes the refcount of every
 * user frame from the tables and compares it with the allocator's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "gmm-internal.h"

struct check {
	struct gmm *g;
	struct gproc *p;
	uint32_t *refs; /* references found in the tables, per frame */
	uint8_t *owned; /* table frames reached, per frame */
	char *detail;
	size_t len;
	const char *bad;
};

__attribute__((format(printf, 3, 4))) static bool fail(struct check *c, const char *name,
						       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (c->len)
		vsnprintf(c->detail, c->len, fmt, ap);
	va_end(ap);
	c->bad = name;
	return false;
}

static bool check_leaf(struct check *c, gva_t va, int level, uint64_t e)
{
	struct gmm *g = c->g;
	struct gproc *p = c->p;
	if (level > LVL_PD)
		return fail(c, "gmm-leaf-level", "pid %d: level-%d leaf at 0x%" PRIx64, p->pid,
			    level, va);
	struct gvma *v = gmm_vma_find(p, va);
	if (!v)
		return fail(c, "gmm-leaf-in-vma",
			    "pid %d: leaf %#" PRIx64 " at 0x%" PRIx64 " outside every VMA", p->pid,
			    e, va);
	bool huge = level == LVL_PD;
	if (huge != ((v->flags & GMAP_HUGE) != 0))
		return fail(c, "gmm-leaf-size",
			    "pid %d: level-%d leaf at 0x%" PRIx64 " in a VMA with flags %d", p->pid,
			    level, va, v->flags);
	gfn_t f = gpa_to_gfn(GPA(gpte_leaf_frame(e, level)));
	if (f >= g->nframes || g->kind[f] != (huge ? GF_HUGE : GF_DATA))
		return fail(c, "gmm-leaf-frame",
			    "pid %d: leaf at 0x%" PRIx64 " maps frame %#" PRIx64 " of kind %u",
			    p->pid, va, f, f < g->nframes ? g->kind[f] : 0u);
	c->refs[f]++;
	if (!v->prot) {
		if (gpte_present(e) || !(e & GMM_PTE_PROTNONE))
			return fail(c, "gmm-leaf-perms",
				    "pid %d: leaf %#" PRIx64 " at 0x%" PRIx64 " in a PROT_NONE VMA",
				    p->pid, e, va);
		return true;
	}
	if (!gpte_present(e) || !(e & GPTE_US) || (e & GMM_PTE_PROTNONE))
		return fail(c, "gmm-leaf-perms",
			    "pid %d: leaf %#" PRIx64 " at 0x%" PRIx64 " is not a present user leaf",
			    p->pid, e, va);
	if ((e & GPTE_RW) && !(v->prot & GPROT_WRITE))
		return fail(c, "gmm-leaf-perms",
			    "pid %d: writable leaf at 0x%" PRIx64 " in a read-only VMA", p->pid,
			    va);
	if ((e & GPTE_RW) && g->ref[f] != 1)
		return fail(c, "gmm-cow-readonly",
			    "pid %d: writable leaf at 0x%" PRIx64 " maps frame %#" PRIx64
			    " with refcount %u",
			    p->pid, va, f, g->ref[f]);
	if (gpte_pkey(e) != (unsigned)v->pkey)
		return fail(c, "gmm-leaf-pkey",
			    "pid %d: leaf %#" PRIx64 " at 0x%" PRIx64 " has key %u, its VMA %d",
			    p->pid, e, va, gpte_pkey(e), v->pkey);
	if (((e & GPTE_NX) != 0) != (g->nx && !(v->prot & GPROT_EXEC)))
		return fail(c, "gmm-leaf-perms",
			    "pid %d: leaf %#" PRIx64 " at 0x%" PRIx64
			    " disagrees with the VMA's exec right",
			    p->pid, e, va);
	return true;
}

static bool check_table(struct check *c, gpa_t table, int level, gva_t base, unsigned n)
{
	struct gmm *g = c->g;
	struct vm *vm = g->vm;
	uint64_t span = UINT64_C(1) << level_shift(level);
	for (unsigned i = 0; i < n; i++) {
		gva_t va = base + i * span;
		uint64_t e = gmm_pv_val(g, gpa_read64(vm, gmm_slot(table, i)), level);
		if (!e)
			continue;
		if (gmm_pte_mapped(e) && gmm_pte_leaf(e, level)) {
			if (!check_leaf(c, va, level, e))
				return false;
			continue;
		}
		if (!gpte_present(e))
			return fail(c, "gmm-entry",
				    "pid %d: stray non-present entry %#" PRIx64
				    " at level %d for 0x%" PRIx64,
				    c->p->pid, e, level, va);
		uint64_t extra = GPTE_A;
		if (g->kpti && level == g->levels)
			extra |= GPTE_NX; /* __pti_set_user_pgtbl() */
		if ((e & ~(PTE_FRAME_MASK | extra)) != GMM_UPPER_USER)
			return fail(c, "gmm-upper-entry",
				    "pid %d: upper entry %#" PRIx64 " at level %d for 0x%" PRIx64,
				    c->p->pid, e, level, va);
		gfn_t t = gpa_to_gfn(GPA(pte_frame(e)));
		if (t >= g->nframes || g->kind[t] != GF_TABLE || c->owned[t])
			return fail(c, "gmm-table-owner",
				    "pid %d: table frame %#" PRIx64
				    " at level %d is not a table owned once",
				    c->p->pid, t, level - 1);
		c->owned[t] = 1;
		if (!gmm_vma_overlaps(c->p, va, va + span))
			return fail(c, "gmm-table-in-vma",
				    "pid %d: table for [0x%" PRIx64 ", 0x%" PRIx64
				    ") covers no VMA",
				    c->p->pid, va, va + span);
		if (!check_table(c, GPA(pte_frame(e)), level - 1, va, 512))
			return false;
	}
	return true;
}

/* KPTI: the user PGD after p's top table mirrors its user half (without
 * the kernel copy's NX, and with accessed bits of its own) and maps the
 * entry trampoline, nothing else; both PGDs hold the trampoline entry. */
static bool check_user_pgd(struct check *c, struct gproc *p)
{
	struct gmm *g = c->g;
	struct vm *vm = g->vm;
	gfn_t top = gpa_to_gfn(p->top);
	gpa_t user = GPA(p->top.v + GMM_PTI_USER_PGTABLE);
	if (top & 1 || top + 1 >= g->nframes || g->kind[top + 1] != GF_TABLE || c->owned[top + 1])
		return fail(c, "gmm-kpti-pgd",
			    "pid %d: top table %#" PRIx64
			    " is not the even half of a pair with a user PGD",
			    p->pid, top);
	c->owned[top + 1] = 1;
	uint64_t tramp = gpa_read64(vm, gmm_slot(g->kernel_top, g->entry_index));
	for (unsigned i = 0; i < 512; i++) {
		uint64_t k = gpa_read64(vm, gmm_slot(p->top, i));
		uint64_t u = gpa_read64(vm, gmm_slot(user, i));
		uint64_t want = 0;
		if (i < 256)
			want = k & ~(GPTE_NX | GPTE_A);
		else if (i == g->entry_index)
			want = tramp;
		if (i == g->entry_index && k != tramp)
			return fail(c, "gmm-kpti-pgd",
				    "pid %d: kernel PGD entry %u is %#" PRIx64
				    ", the trampoline's is %#" PRIx64,
				    p->pid, i, k, tramp);
		if ((i < 256 ? u & ~GPTE_A : u) != want)
			return fail(c, "gmm-kpti-pgd",
				    "pid %d: user PGD entry %u is %#" PRIx64 ", expected %#" PRIx64,
				    p->pid, i, u, want);
		if (i < 256 && gpte_present(k) && !(k & GPTE_NX))
			return fail(c, "gmm-kpti-pgd",
				    "pid %d: kernel PGD user entry %u lacks NX: %#" PRIx64, p->pid,
				    i, k);
	}
	return true;
}

static bool check_proc(struct check *c, struct gproc *p)
{
	struct gmm *g = c->g;
	c->p = p;
	gfn_t top = gpa_to_gfn(p->top);
	if (top >= g->nframes || g->kind[top] != GF_TABLE || c->owned[top])
		return fail(c, "gmm-table-owner",
			    "pid %d: top table %#" PRIx64 " is not a table owned once", p->pid,
			    top);
	c->owned[top] = 1;
	for (unsigned i = g->ktop_first; i < g->ktop_first + g->ktop_count; i++) {
		uint64_t k = gpa_read64(g->vm, gmm_slot(g->kernel_top, i));
		uint64_t e = gpa_read64(g->vm, gmm_slot(p->top, i));
		if (k != e)
			return fail(c, "gmm-kernel-entries",
				    "pid %d: kernel top entry %u is %#" PRIx64
				    ", the kernel's is %#" PRIx64,
				    p->pid, i, e, k);
	}
	for (size_t i = 0; i < p->nvma; i++) {
		const struct gvma *v = &p->vma[i];
		uint64_t align = v->flags & GMAP_HUGE ? GMM_HUGE_SIZE : PAGE_SIZE;
		if (v->start >= v->end || v->start % align || v->end % align ||
		    (i && p->vma[i - 1].end > v->start))
			return fail(c, "gmm-vma",
				    "pid %d: VMA %zu [0x%" PRIx64 ", 0x%" PRIx64
				    ") is misaligned or out of order",
				    p->pid, i, v->start, v->end);
	}
	if (g->kpti && !check_user_pgd(c, p))
		return false;
	/* The user half: the lower 256 entries of the top table. */
	return check_table(c, p->top, g->levels, 0, 256);
}

const char *gmm_check(struct vm *vm, char *detail, size_t len)
{
	struct gmm *g = gmm_of(vm);
	if (!g)
		return NULL;
	struct check c = {.g = g, .detail = detail, .len = len};
	if (len)
		detail[0] = 0;
	c.refs = calloc(g->nframes, sizeof(*c.refs));
	c.owned = calloc(g->nframes, sizeof(*c.owned));
	if (!c.refs || !c.owned)
		vmmu_bug("gmm-heap", "simulator out of memory in gmm_check");
	bool ok = true;
	for (struct gproc *p = g->procs; ok && p; p = p->next)
		ok = check_proc(&c, p);
	uint64_t used = 0;
	for (gfn_t f = 0; ok && f < g->nframes; f++) {
		switch (g->kind[f]) {
		case GF_FREE:
		case GF_RESERVED:
			continue;
		case GF_DATA:
		case GF_HUGE:
			if (c.refs[f] != g->ref[f])
				ok = fail(&c, "gmm-refcount",
					  "frame %#" PRIx64 " has refcount %u but %u"
					  " mappings",
					  f, g->ref[f], c.refs[f]);
			break;
		case GF_TABLE:
			if (!c.owned[f])
				ok = fail(&c, "gmm-table-leak",
					  "table frame %#" PRIx64 " is reached by no process", f);
			break;
		default:
			break;
		}
		used++;
	}
	if (ok && used != g->used)
		ok = fail(&c, "gmm-used-count",
			  "%" PRIu64 " frames in use, allocator says %" PRIu64, used, g->used);
	for (uint64_t i = 0; ok && i < g->nfree4k; i++)
		if (g->kind[g->free4k[i]] != GF_FREE)
			ok = fail(&c, "gmm-free-list",
				  "frame %#" PRIx64 " on the free list is in use", g->free4k[i]);
	for (uint64_t i = 0; ok && i < g->nfree2m; i++)
		for (gfn_t f = g->free2m[i]; ok && f < g->free2m[i] + GMM_HUGE_FRAMES; f++)
			if (g->kind[f] != GF_FREE)
				ok = fail(&c, "gmm-free-list",
					  "frame %#" PRIx64 " of a free 2 MiB block is in use", f);
	free(c.refs);
	free(c.owned);
	return ok ? NULL : c.bad;
}

/*
 * pv.c - the paravirtual MMU (Xen direct paging, x86-64 PV guests).
 *
 * The guest kernel knows it is virtualized (mmu_ops.paravirt): its page
 * tables hold machine (host) frame numbers, which it computes with the
 * physical-to-machine table the hypervisor gave it, and the hardware walks
 * those tables directly, in one dimension: no shadow copy, no EPT. What keeps
 * the guest inside its memory is that it cannot write its tables: every
 * update is an mmu_update hypercall that the hypervisor validates (mm.c),
 * and CR3 loads and TLB flushes are mmuext_op hypercalls.
 *
 * Domain build (pv_init): the whole guest is given machine memory up front,
 * as Xen's domain builder populates a PV guest's physmap, through the shared
 * p2m policy (extents of the host page size, which vm_create_ops() raises
 * to the direct-map page size, handed out from the top down so that a
 * guest frame and its machine frame visibly differ); the machine-to-
 * physical table is filled beside it and published in vm->p2m.m2p.
 *
 * The walk (pv_translate): walk1d() over the machine root in CR3, the same
 * walker as native paging. One rule is added at the fill: the domain-built
 * direct map uses supervisor superpages, and a frame that is a page table
 * must never be writable through it. Where a direct-map extent holds a page
 * table the fill is split into the 4 KiB entry of the frame accessed, without
 * W when that frame is a table (what a 4 KiB direct map, as Linux builds it
 * under Xen, would give). A kernel write to a table through the direct map
 * faults.
 *
 * The digest (pv_digest_canon): a frame that holds or last held a page table
 * is hashed with each present entry's machine frame turned back into the
 * guest frame (Xen's canonicalize_pagetable() when it saves a PV guest), so
 * the guest digest equals native's.
 *
 * Invariants: those of pv.h; pv_audit() checks the type counts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pv.h"
#include "../core/walk.h"

static void pv_destroy(struct vm *vm)
{
	struct pv *pv = pv_of(vm);
	if (!pv)
		return;
	free(pv->m2p);
	free(pv->owned);
	free(pv->type);
	free(pv->last_table);
	free(pv->pinned);
	free(pv->initial);
	free(pv->count);
	free(pv->ext_tables);
	free(pv->ext_wstamp);
	free(pv->wstamp);
	free(pv);
	vm->mode_state = NULL;
	vm->p2m.m2p = NULL;
}

/*
 * CR0.WP = 0 cannot be had in a PV guest: Xen emulates the guest kernel's
 * CR0 writes (write_cr() in xen/arch/x86/pv/emul-priv-op.c) and refuses a
 * change of any bit but TS, and Linux's xen_write_cr0() passes TS alone.
 * With WP clear, the guest kernel could store through the read-only
 * mappings of its own page tables and bypass mmu_update's validation, so
 * the mode refuses the setting (mmu_ops.refuses_wp0) at creation, and a
 * guest that clears WP later ends the run with a guest-level error.
 */
static const char pv_wp0_msg[] =
    "--wp off: a Xen PV guest cannot clear CR0.WP (Xen's write_cr() refuses CR0 changes"
    " other than TS; with WP clear the guest could write its page tables without"
    " mmu_update)";

static void pv_on_ctl_change(struct vcpu *v)
{
	if (!v->ctl.wp)
		vm_abort(v->vm, "pv: %s", pv_wp0_msg);
}

static int pv_init(struct vm *vm)
{
	if (!vm->cfg.cr0_wp) {
		snprintf(vm->err, sizeof(vm->err), "%s", pv_wp0_msg);
		return -1;
	}
	if (vm->cfg.kpti) {
		snprintf(vm->err, sizeof(vm->err),
			 "--kpti on: the pv mode does not model KPTI in a paravirtual guest"
			 " (Xen isolates PV guests itself, with XPTI)");
		return -1;
	}
	struct pv *pv = calloc(1, sizeof(*pv));
	if (!pv)
		goto oom;
	vm->mode_state = pv;
	pv->nframes = vm->hm.guest_frames;
	pv->ext_shift =
	    (unsigned)(level_shift(vm->cfg.direct_map_page == PG_1G ? LVL_PDPT : LVL_PD) -
		       PAGE_SHIFT);
	uint64_t next = (pv->nframes >> pv->ext_shift) + 1;
	pv->m2p = malloc(pv->nframes * sizeof(*pv->m2p));
	pv->owned = calloc(pv->nframes, 1);
	pv->type = calloc(pv->nframes, 1);
	pv->last_table = calloc(pv->nframes, 1);
	pv->pinned = calloc(pv->nframes, 1);
	pv->initial = calloc(pv->nframes, 1);
	pv->count = calloc(pv->nframes, sizeof(*pv->count));
	pv->wstamp = calloc(pv->nframes, sizeof(*pv->wstamp));
	pv->ext_tables = calloc(next, sizeof(*pv->ext_tables));
	pv->ext_wstamp = calloc(next, sizeof(*pv->ext_wstamp));
	if (!pv->m2p || !pv->owned || !pv->type || !pv->last_table || !pv->pinned || !pv->initial ||
	    !pv->count || !pv->wstamp || !pv->ext_tables || !pv->ext_wstamp)
		goto oom;
	for (hfn_t h = 0; h < pv->nframes; h++)
		pv->m2p[h] = INVALID_HFN;
	/* Domain build: populate the whole physmap, extent by extent. The
	 * domain owns each extent whole, the tail of the last one included
	 * when the guest's memory ends inside it. */
	uint64_t chunk = page_bytes(vm->cfg.host_page) >> PAGE_SHIFT;
	for (gfn_t g = 0; g < vm->p2m.nframes; g += chunk) {
		hfn_t h = p2m_ensure(vm, g);
		for (uint64_t i = 0; i < chunk; i++) {
			pv->owned[h + i] = 1;
			if (g + i < vm->p2m.nframes)
				pv->m2p[h + i] = g + i;
		}
	}
	vm->p2m.m2p = pv->m2p;
	pv->clock = 1;
	pv->booting = true;
	return 0;
oom:
	snprintf(vm->err, sizeof(vm->err), "pv: out of memory for the page-type tables");
	return -1;
}

static enum xlate_result pv_translate(struct vcpu *v, struct mem_access *a, struct xlate *out)
{
	struct vm *vm = v->vm;
	struct pv *pv = pv_of(vm);
	struct walk1d w;
	bool ok = walk1d(v, v->cr3 & PTE_FRAME_MASK, a, DIM_NATIVE, true, &w);
	out->refs = w.refs;
	if (!ok) {
		out->fault = w.fault;
		return XLATE_FAULT;
	}
	struct tlb_fill fill = w.fill;
	if ((fill.flags & TLBF_W) && fill.size != PG_4K && !(fill.flags & TLBF_U) &&
	    pv->ext_tables[(fill.hpa.v >> PAGE_SHIFT) >> pv->ext_shift]) {
		/* The direct map over an extent that holds page tables: the 4 KiB
		 * entry of the frame accessed, read-only if it is a table. */
		uint64_t off = a->gva & (page_bytes(fill.size) - 1) & PAGE_MASK;
		fill.hpa = HPA(fill.hpa.v + off);
		fill.va = a->gva & PAGE_MASK;
		fill.size = PG_4K;
		hfn_t f = fill.hpa.v >> PAGE_SHIFT;
		if (pv_is_table_frame(pv, f)) {
			fill.flags &= (uint8_t)~TLBF_W;
			if (a->kind == ACC_WRITE) {
				out->fault = (struct guest_fault){
				    .gva = a->gva, .error_code = PFEC_P | PFEC_W, .level = LVL_PT};
				return XLATE_FAULT;
			}
		}
	}
	if (fill.flags & TLBF_W) {
		hfn_t f = fill.hpa.v >> PAGE_SHIFT;
		if (fill.size == PG_4K)
			pv->wstamp[f] = pv->clock;
		else
			pv->ext_wstamp[f >> pv->ext_shift] = pv->clock;
	}
	out->fill = fill;
	return XLATE_OK;
}

static void pv_on_tlb_flush(struct vcpu *v, bool all)
{
	if (all)
		pv_of(v->vm)->clock++;
}

/* Xen's canonicalize_pagetable(): machine frames back to guest frames. */
static void pv_digest_canon(struct vm *vm, hfn_t hfn, uint64_t *w)
{
	const struct pv *pv = pv_of(vm);
	if (hfn >= pv->nframes || !pv->last_table[hfn])
		return;
	for (unsigned i = 0; i < PAGE_SIZE / 8; i++) {
		uint64_t e = w[i];
		if (!gpte_present(e))
			continue;
		uint64_t f = e & PTE_FRAME_MASK;
		uint64_t pat = (e & GPTE_PS) ? (f & PAGE_SIZE) : 0;
		f &= ~pat;
		gfn_t g = (f >> PAGE_SHIFT) < pv->nframes ? pv->m2p[f >> PAGE_SHIFT] : INVALID_HFN;
		if (g == INVALID_HFN)
			continue;
		w[i] = (e & ~PTE_FRAME_MASK) | (g << PAGE_SHIFT) | pat;
	}
}

/*
 * The type counts, recomputed from the tables: every table-typed frame's
 * count equals the entries of table-typed frames that point at it plus its
 * pin, and every writable frame's count equals the writable leaves (outside
 * the domain-built direct map) that map it.
 */
static const char *pv_audit(struct vm *vm, char *detail, size_t len)
{
	struct pv *pv = pv_of(vm);
	uint32_t *want = calloc(pv->nframes, sizeof(*want));
	if (!want)
		return NULL;
	const char *bad = NULL;
	for (hfn_t f = 1; f < pv->nframes; f++) {
		if (!pv_is_table_frame(pv, f))
			continue;
		want[f] += pv->pinned[f];
		int level = pv->type[f] - PGT_l1 + 1;
		const uint64_t *w = hpa_ptr(vm, HPA(f << PAGE_SHIFT));
		for (unsigned i = 0; i < PAGE_SIZE / 8; i++) {
			uint64_t e = w[i];
			if (!gpte_present(e))
				continue;
			if (level != LVL_PT && !gpte_large(e, level)) {
				want[pte_frame(e) >> PAGE_SHIFT]++;
				continue;
			}
			if (!(e & GPTE_RW) || (pv->initial[f] && !(e & GPTE_US)))
				continue;
			hfn_t d = gpte_leaf_frame(e, level) >> PAGE_SHIFT;
			uint64_t n = page_bytes(level_page_size(level)) >> PAGE_SHIFT;
			for (uint64_t k = 0; k < n; k++)
				want[d + k]++;
		}
	}
	for (hfn_t f = 1; f < pv->nframes && !bad; f++) {
		if (want[f] != pv->count[f]) {
			bad = "pv-type-count";
			snprintf(detail, len,
				 "machine frame %#" PRIx64 " (type %u) has type count %u, its"
				 " references make %u",
				 f, pv->type[f], pv->count[f], want[f]);
		} else if (pv->type[f] == PGT_writable && pv->count[f] == 0) {
			bad = "pv-type-count";
			snprintf(detail, len,
				 "machine frame %#" PRIx64 " is writable with no count", f);
		}
	}
	free(want);
	return bad;
}

const struct mmu_ops pv_mmu_ops = {
    .name = "pv",
    .desc = "paravirtual (Xen direct paging): 1D walks of guest tables holding machine"
	    " frames, updates by validated hypercalls",
    .paravirt = true,
    .init = pv_init,
    .destroy = pv_destroy,
    .translate = pv_translate,
    .on_tlb_flush = pv_on_tlb_flush,
    .on_ctl_change = pv_on_ctl_change,
    .refuses_wp0 = true,
    .audit = pv_audit,
    .hypercall = pv_hypercall,
    .digest_canon = pv_digest_canon,
};

/*
 * iommu.c - the IOMMU hardware: the context cache, the IOTLB, the
 * second-level walk (gPA -> hPA) and the two-stage walk (IOVA -> gPA ->
 * hPA), and the fault records.
 *
 * Every DMA request is translated here, and every reference a translation
 * makes to memory is counted, as the CPU's walks are:
 *   context-cache miss   2 references (root entry, context entry);
 *   IOTLB miss, 1D       one reference per second-level level walked
 *                        (4 for a 4 KiB leaf of a 4-level table, 3 for 2 MiB);
 *   IOTLB miss, 2D       for each first-stage level, a second-level walk of
 *                        that table's gPA and then the first-stage entry,
 *                        then a second-level walk of the data gPA:
 *                        (n + 1)(m + 1) - 1 = 24 for 4 levels over 4,
 *                        as for the CPU's 2D walk (Bhargava et al.).
 * The model has no IOMMU paging-structure caches (VT-d has them; their
 * sizes are not published): a miss walks from the root.
 *
 * Walk references are counted, not priced: a device's translation does not
 * stall the vCPU, and est_cycles is the vCPU's time (docs/iommu.md).
 *
 * Invariants: those of iommu.h.
 */
#include <string.h>

#include "iommu.h"

/* ---- fault names ---- */

const char *iommu_fault_name(unsigned reason)
{
	switch (reason) {
	case IOMMU_FR_ROOT_NP:
		return "present bit in root entry is clear";
	case IOMMU_FR_CTX_NP:
		return "present bit in context entry is clear";
	case IOMMU_FR_AW:
		return "address beyond the domain's address width";
	case IOMMU_FR_WRITE:
		return "PTE write access is not set";
	case IOMMU_FR_READ:
		return "PTE read access is not set";
	default:
		return "no fault";
	}
}

/* ---- tables ---- */

hfn_t iommu_table_alloc(struct iommu *io)
{
	hfn_t f = hostmem_alloc_frame(io->vm);
	io->pt_pages++;
	if (io->pt_pages > io->vm->st.iommu_pt_pages_peak)
		io->vm->st.iommu_pt_pages_peak = io->pt_pages;
	return f;
}

/* ---- one reference ---- */

static uint64_t walk_read(struct iommu *io, struct iommu_walk *w, enum iommu_step_kind kind,
			  int level, int fs_level, uint64_t addr, uint64_t entry_hpa)
{
	uint64_t e = hpa_read64(io->vm, HPA(entry_hpa));
	if (!w)
		return e;
	w->refs++;
	io->vm->st.iommu_walk_refs++;
	if (kind == IOMMU_STEP_FS) {
		w->refs_fs++;
		io->vm->st.iommu_walk_refs_fs++;
	}
	if (w->nsteps < IOMMU_WALK_MAX)
		w->step[w->nsteps++] = (struct iommu_step){
		    .kind = kind,
		    .level = level,
		    .fs_level = fs_level,
		    .addr = addr,
		    .entry_addr = entry_hpa,
		    .entry = e,
		};
	return e;
}

int iommu_sl_walk(struct iommu *io, uint64_t root_hpa, int levels, uint64_t addr, uint64_t *hpa,
		  uint8_t *perm, enum page_size *size, struct iommu_walk *w, int fs_level)
{
	uint64_t table = root_hpa;
	uint8_t p = SLPTE_R | SLPTE_W;
	for (int l = levels; l >= LVL_PT; l--) {
		uint64_t ea = table + 8u * pt_index(addr, l);
		uint64_t e = walk_read(io, w, IOMMU_STEP_SL, l, fs_level, addr, ea);
		if (!slpte_present(e))
			return 0;
		p &= (uint8_t)(e & (SLPTE_R | SLPTE_W));
		if (slpte_leaf(e, l)) {
			enum page_size ps = level_page_size(l);
			uint64_t off = addr & (page_bytes(ps) - 1);
			*hpa = (e & SLPTE_ADDR & ~(page_bytes(ps) - 1)) + off;
			*perm = p;
			*size = ps;
			return l;
		}
		table = e & SLPTE_ADDR;
	}
	return 0;
}

/* ---- the context cache ---- */

void iommu_ctx_inv_all(struct iommu *io)
{
	memset(io->ctx, 0, sizeof(io->ctx));
}

/* The context of sid: from the cache, or read from the root and context
 * tables (2 references). Returns NULL with w->reason set. */
static struct ctx_entry_cache *ctx_lookup(struct iommu *io, uint16_t sid, struct iommu_walk *w)
{
	struct ctx_entry_cache *victim = &io->ctx[0];
	for (unsigned i = 0; i < IOMMU_CTX_ENTRIES; i++) {
		struct ctx_entry_cache *c = &io->ctx[i];
		if (c->valid && c->sid == sid) {
			c->lru = ++io->tick;
			w->ctx_hit = true;
			return c;
		}
		if (!c->valid || (victim->valid && c->lru < victim->lru))
			victim = c;
	}
	io->vm->st.iommu_ctx_misses++;
	if (!io->root_table) {
		w->reason = IOMMU_FR_ROOT_NP;
		return NULL;
	}
	uint64_t rt = hfn_to_hpa(io->root_table).v;
	uint64_t re = walk_read(io, w, IOMMU_STEP_ROOT, 0, 0, sid, rt + 16u * (sid >> 8));
	if (!(re & VTD_P)) {
		w->reason = IOMMU_FR_ROOT_NP;
		return NULL;
	}
	uint64_t ce_addr = (re & SLPTE_ADDR) + 16u * (sid & 0xff);
	uint64_t lo = walk_read(io, w, IOMMU_STEP_CTX, 0, 0, sid, ce_addr);
	uint64_t hi = hpa_read64(io->vm, HPA(ce_addr + 8)); /* same 16-byte entry: one reference */
	if (!(lo & VTD_P)) {
		w->reason = IOMMU_FR_CTX_NP;
		return NULL;
	}
	*victim = (struct ctx_entry_cache){
	    .valid = true,
	    .sid = sid,
	    .did = (uint16_t)((hi >> VTD_CTX_DID_SHIFT) & VTD_CTX_DID_MASK),
	    .sl_root = lo & SLPTE_ADDR,
	    .sl_levels = (hi & VTD_CTX_AW_MASK) == VTD_CTX_AW_57 ? 5 : 4,
	    .nested = (lo & VTD_CTX_NESTED) != 0,
	    .fs_root = hi & VTD_CTX_FS_ADDR,
	    .lru = ++io->tick,
	};
	return victim;
}

void iommu_ctx_program(struct iommu *io)
{
	struct vm *vm = io->vm;
	uint64_t ce = hfn_to_hpa(io->ctx_table).v + 16u * (IO_DMA_SOURCE_ID & 0xff);
	uint64_t lo = 0, hi = 0;
	bool nested = io->viommu == VIOMMU_NESTED && !vm->p2m.identity;
	uint64_t root = io->sl_root;
	if (io->viommu != VIOMMU_OFF && vm->p2m.identity)
		root = io->guest_root; /* native: the kernel programs the one stage itself */
	bool ready = root != 0 && (!nested || io->guest_root != 0);
	if (ready) {
		lo = (root & SLPTE_ADDR) | VTD_P | (nested ? VTD_CTX_NESTED : 0);
		hi = (io->sl_levels == 5 ? VTD_CTX_AW_57 : VTD_CTX_AW_48) |
		     ((uint64_t)IOMMU_DID << VTD_CTX_DID_SHIFT) |
		     (nested ? (io->guest_root & VTD_CTX_FS_ADDR) : 0);
	}
	hpa_write64(vm, HPA(ce), lo);
	hpa_write64(vm, HPA(ce + 8), hi);
	iommu_ctx_inv_all(io);
	iommu_iotlb_inv_all(io);
}

/* ---- the IOTLB ---- */

void iommu_iotlb_inv_all(struct iommu *io)
{
	for (uint32_t i = 0; i < io->niotlb; i++)
		io->iotlb[i].valid = false;
}

void iommu_iotlb_inv_range(struct iommu *io, uint64_t iova, uint64_t pages)
{
	uint64_t end = iova + pages * PAGE_SIZE;
	for (uint32_t i = 0; i < io->niotlb; i++) {
		struct iotlb_entry *e = &io->iotlb[i];
		if (!e->valid)
			continue;
		uint64_t s = e->tag << page_shift(e->size);
		if (s < end && s + page_bytes(e->size) > iova)
			e->valid = false;
	}
}

static struct iotlb_entry *iotlb_lookup(struct iommu *io, uint16_t did, uint64_t iova)
{
	for (uint32_t i = 0; i < io->niotlb; i++) {
		struct iotlb_entry *e = &io->iotlb[i];
		if (e->valid && e->did == did && e->tag == iova >> page_shift(e->size)) {
			e->lru = ++io->tick;
			return e;
		}
	}
	return NULL;
}

static void iotlb_fill(struct iommu *io, uint16_t did, uint64_t iova, uint64_t hpa,
		       enum page_size size, uint8_t perm)
{
	struct iotlb_entry *v = &io->iotlb[0];
	for (uint32_t i = 0; i < io->niotlb; i++) {
		struct iotlb_entry *e = &io->iotlb[i];
		if (!e->valid) {
			v = e;
			break;
		}
		if (e->lru < v->lru)
			v = e;
	}
	*v = (struct iotlb_entry){
	    .valid = true,
	    .did = did,
	    .size = size,
	    .tag = iova >> page_shift(size),
	    .hpa = hpa & ~(page_bytes(size) - 1),
	    .perm = perm,
	    .lru = ++io->tick,
	};
}

/* ---- translation ---- */

static int xlate_fault(struct iommu_walk *w, uint8_t reason, uint8_t stage)
{
	w->reason = reason;
	w->stage = stage;
	return reason;
}

/* The two-stage walk: the guest's first-stage table, each of its table
 * addresses and the final gPA translated by the second level. */
static int walk_two_stage(struct iommu *io, const struct ctx_entry_cache *c, struct iommu_walk *w,
			  uint64_t *hpa, uint8_t *perm, enum page_size *size)
{
	uint8_t fault = w->write ? IOMMU_FR_WRITE : IOMMU_FR_READ;
	uint64_t table_gpa = c->fs_root;
	uint8_t p = SLPTE_R | SLPTE_W;
	uint64_t gpa = 0;
	enum page_size fs_size = PG_4K;
	for (int l = 4; l >= LVL_PT; l--) {
		uint64_t th;
		uint8_t tp;
		enum page_size ts;
		if (!iommu_sl_walk(io, c->sl_root, c->sl_levels, table_gpa, &th, &tp, &ts, w, l))
			return xlate_fault(w, IOMMU_FR_READ, 2);
		uint64_t e =
		    walk_read(io, w, IOMMU_STEP_FS, l, 0, w->iova, th + 8u * pt_index(w->iova, l));
		if (!slpte_present(e))
			return xlate_fault(w, fault, 1);
		p &= (uint8_t)(e & (SLPTE_R | SLPTE_W));
		if (slpte_leaf(e, l)) {
			fs_size = level_page_size(l);
			gpa = (e & SLPTE_ADDR & ~(page_bytes(fs_size) - 1)) +
			      (w->iova & (page_bytes(fs_size) - 1));
			break;
		}
		table_gpa = e & SLPTE_ADDR;
	}
	if ((w->write && !(p & SLPTE_W)) || (!w->write && !(p & SLPTE_R)))
		return xlate_fault(w, fault, 1);
	w->gpa = gpa;
	uint8_t sp;
	enum page_size ss;
	if (!iommu_sl_walk(io, c->sl_root, c->sl_levels, gpa, hpa, &sp, &ss, w, 0))
		return xlate_fault(w, fault, 2);
	*perm = p & sp;
	*size = fs_size < ss ? fs_size : ss;
	return 0;
}

int iommu_translate(struct vm *vm, uint16_t sid, uint64_t iova, bool write, struct iommu_walk *w)
{
	struct iommu *io = iommu_of(vm);
	*w = (struct iommu_walk){.iova = iova, .write = write};
	vm->st.dma_xlates++;
	struct ctx_entry_cache *c = ctx_lookup(io, sid, w);
	if (!c)
		return xlate_fault(w, w->reason, 2);
	int aw_levels = c->nested ? 4 : c->sl_levels;
	if (iova >> (PAGE_SHIFT + 9u * (unsigned)aw_levels))
		return xlate_fault(w, IOMMU_FR_AW, io->viommu != VIOMMU_OFF ? 1 : 2);
	uint8_t need = write ? SLPTE_W : SLPTE_R;
	struct iotlb_entry *t = iotlb_lookup(io, c->did, iova);
	if (t && (t->perm & need)) {
		vm->st.iotlb_hits++;
		w->iotlb_hit = true;
		w->hpa = t->hpa + (iova & (page_bytes(t->size) - 1));
		return 0;
	}
	vm->st.iotlb_misses++;
	uint64_t hpa = 0;
	uint8_t perm = 0;
	enum page_size size = PG_4K;
	uint8_t fault = write ? IOMMU_FR_WRITE : IOMMU_FR_READ;
	if (c->nested) {
		int r = walk_two_stage(io, c, w, &hpa, &perm, &size);
		if (r)
			return r;
	} else if (!iommu_sl_walk(io, c->sl_root, c->sl_levels, iova, &hpa, &perm, &size, w, 0)) {
		return xlate_fault(w, fault, io->viommu != VIOMMU_OFF ? 1 : 2);
	}
	if (!(perm & need))
		return xlate_fault(w, fault, io->viommu != VIOMMU_OFF ? 1 : 2);
	iotlb_fill(io, c->did, iova, hpa, size, perm);
	w->hpa = hpa;
	return 0;
}

/* ---- DMA ---- */

static void fault_record(struct iommu *io, uint16_t sid, const struct iommu_walk *w)
{
	struct vm *vm = io->vm;
	vm->st.iommu_faults++;
	struct iommu_fault f = {
	    .sid = sid,
	    .addr = w->iova,
	    .write = w->write,
	    .reason = w->reason,
	    .stage = w->stage,
	};
	if (io->nfault < IOMMU_FAULT_LOG)
		io->fault[io->nfault++] = f;
	TRACE(vm, .kind = TR_VMM_OP, .addr = w->iova, .result = w->reason,
	      .access = w->write ? ACC_WRITE : ACC_READ, .what = "IOMMU fault reported to the VMM");
}

int iommu_dma(struct vm *vm, uint16_t sid, uint64_t bus, void *buf, uint32_t len, bool write,
	      struct iommu_walk *walk)
{
	struct iommu *io = iommu_of(vm);
	struct iommu_walk local;
	struct iommu_walk *w = walk ? walk : &local;
	if (len == 0 || len > PAGE_SIZE || (bus & (PAGE_SIZE - 1)) + len > PAGE_SIZE)
		vmmu_bug("dma-within-page", "DMA of %u bytes at %#" PRIx64 " crosses a page", len,
			 bus);
	int r = iommu_translate(vm, sid, bus, write, w);
	io->last = *w;
	if (r) {
		fault_record(io, sid, w);
		return r;
	}
	/* The containment the IOMMU exists for: a translated DMA lands in a
	 * frame that backs guest memory, or the tables are wrong. */
	hfn_t f = hpa_to_hfn(HPA(w->hpa));
	if (f == 0 || f >= vm->hm.guest_frames)
		vmmu_bug("iommu-containment",
			 "DMA at %#" PRIx64 " translated to hPA %#" PRIx64
			 " outside the guest region",
			 bus, w->hpa);
	uint8_t *p = vm->hm.base + w->hpa;
	if (write)
		memcpy(p, buf, len);
	else
		memcpy(buf, p, len);
	vm->st.dma_bytes += len;
	return 0;
}

void iommu_flush_caches(struct vm *vm)
{
	struct iommu *io = iommu_of(vm);
	iommu_ctx_inv_all(io);
	iommu_iotlb_inv_all(io);
}

const struct iommu_fault *iommu_faults(const struct vm *vm, unsigned *n)
{
	const struct iommu *io = iommu_of(vm);
	*n = io ? io->nfault : 0;
	return io ? io->fault : NULL;
}

bool iommu_assigned(const struct vm *vm)
{
	const struct iommu *io = iommu_of(vm);
	return io && io->assigned;
}

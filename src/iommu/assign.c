/*
 * assign.c - the VMM's side of device assignment and of the virtual IOMMU
 * (natively: the host kernel's side of its own IOMMU).
 *
 * Assignment happens when the driver first touches the device (a real VMM
 * does it when the VM is created; doing it at the driver's first register
 * access lets runs without a driver pay nothing). What it builds depends on
 * who programs the IOMMU:
 *
 *   "VMM programs IOMMU" (--viommu off), as VFIO does: the device's bus
 *   addresses are gPAs, and the VMM maps all of guest memory gPA -> hPA in
 *   the second-level table, pinning every page first (QEMU's
 *   vfio_listener_region_add() issues VFIO_IOMMU_MAP_DMA for guest RAM;
 *   the kernel's vfio_dma_do_map() -> vfio_pin_map_dma() ->
 *   vfio_pin_pages_remote() -> pin_user_pages_remote(), then iommu_map()).
 *   The lazy p2m fill of a VMM mode is thereby done up front: a device
 *   cannot take an EPT violation. With --iommu-share-ept (nested mode) the
 *   second-level table is the EPT itself (Xen's iommu_hap_pt_share): no
 *   table of its own, but every EPT leaf is installed up front, so the
 *   vCPU's later EPT violations disappear;
 *
 *   "VM programs IOMMU" (--viommu on|shadow): the guest maps IOVAs in its
 *   own table and invalidates through the vIOMMU's registers, each an exit
 *   to the VMM. With "on" the hardware walks both stages (the guest's table
 *   through the VMM's second level; iommufd's nesting parent, which again
 *   maps and pins all of RAM). With "shadow" the VMM sets VT-d's Caching
 *   Mode, so the guest invalidates after every map as well as every unmap,
 *   and at each invalidation it walks the guest's table in software and
 *   writes IOVA -> hPA into a shadow table, pinning and unpinning page by
 *   page (QEMU's vtd_iotlb_page_invalidate() -> vtd_address_space_sync()
 *   -> vfio_iommu_map_notify(); Amit et al.'s vIOMMU, ATC'11).
 *
 * Natively there is no VMM: the kernel maps its RAM identity in its own
 * domain (Linux's si_domain) without --viommu, and with it programs the one
 * stage itself; its register writes are plain MMIO, no exit.
 *
 * Costs: each pinned page costs cost.iommu_pin and each second-level or
 * shadow entry written cost.vmm_spte, in cyc_vmm; a vIOMMU register access
 * under a VMM is an exit (exits_viommu) whose handler costs
 * cost.viommu_inv plus the work above; the VMM's software walk of the
 * guest's table goes through vm_vmm_walk_ref().
 */
#include <stdio.h>
#include <string.h>

#include "iommu.h"
#include "../nested/api.h"

/* ---- second-level tables ---- */

/* The slot for addr at 'level' in the table rooted at root, allocating
 * missing tables. */
static uint64_t sl_slot(struct iommu *io, uint64_t root, int levels, uint64_t addr, int level)
{
	struct vm *vm = io->vm;
	uint64_t table = root;
	for (int l = levels; l > level; l--) {
		uint64_t ea = table + 8u * pt_index(addr, l);
		uint64_t e = hpa_read64(vm, HPA(ea));
		if (!slpte_present(e)) {
			e = hfn_to_hpa(iommu_table_alloc(io)).v | SLPTE_R | SLPTE_W;
			hpa_write64(vm, HPA(ea), e);
		}
		table = e & SLPTE_ADDR;
	}
	return table + 8u * pt_index(addr, level);
}

static void pin_pages(struct vm *vm, uint64_t n)
{
	vm->st.dma_pins += n;
	vm->st.cyc_vmm += n * vm->cost.iommu_pin;
}

/* The largest leaf for gfn: at most the p2m's contiguous chunk and 1 GiB,
 * aligned, and wholly inside guest memory. */
static enum page_size sl_leaf_size(const struct vm *vm, gfn_t gfn)
{
	enum page_size ps = p2m_chunk_size(vm);
	for (;; ps--) {
		uint64_t n = page_bytes(ps) >> PAGE_SHIFT;
		if (ps == PG_4K || ((gfn & (n - 1)) == 0 && gfn + n <= vm->p2m.nframes))
			return ps;
	}
}

/* Map all of guest memory gPA -> hPA in the VMM's own second-level table
 * (identity natively), pinning each page under a VMM. */
static void sl_map_ram(struct iommu *io)
{
	struct vm *vm = io->vm;
	bool vmm = !vm->p2m.identity;
	for (gfn_t g = 0; g < vm->p2m.nframes;) {
		enum page_size ps = sl_leaf_size(vm, g);
		uint64_t n = page_bytes(ps) >> PAGE_SHIFT;
		hfn_t h = p2m_ensure(vm, g);
		uint64_t slot =
		    sl_slot(io, io->sl_root, io->sl_levels, gfn_to_gpa(g).v, (int)ps + 1);
		hpa_write64(vm, HPA(slot),
			    hfn_to_hpa(h).v | SLPTE_R | SLPTE_W | (ps > PG_4K ? SLPTE_PS : 0));
		if (vmm) {
			pin_pages(vm, n);
			vm->st.cyc_vmm += vm->cost.vmm_spte;
		}
		g += n;
	}
}

/* --iommu-share-ept: install every EPT leaf now (the lazy fill done up
 * front) and pin what it maps. */
static void ept_prefill_ram(struct iommu *io)
{
	struct vm *vm = io->vm;
	for (gfn_t g = 0; g < vm->p2m.nframes;) {
		int level = nested_ept_prefill(vm, g);
		if (!level)
			vmmu_bug("iommu-ept-prefill", "gfn %#" PRIx64 " inside RAM has no EPT leaf",
				 g);
		uint64_t n = page_bytes(level_page_size(level)) >> PAGE_SHIFT;
		uint64_t step = n - (g & (n - 1));
		pin_pages(vm, step);
		vm->st.cyc_vmm += vm->cost.vmm_spte;
		g += step;
	}
}

void iommu_assign(struct vcpu *v, struct iommu *io)
{
	(void)v;
	if (io->assigned)
		return;
	struct vm *vm = io->vm;
	io->assigned = true;
	io->root_table = iommu_table_alloc(io);
	io->ctx_table = iommu_table_alloc(io);
	hpa_write64(vm, hfn_to_hpa(io->root_table), hfn_to_hpa(io->ctx_table).v | VTD_P);
	io->sl_levels = 4;
	if (vm->p2m.identity) {
		if (io->viommu == VIOMMU_OFF) {
			io->sl_identity = true;
			io->sl_root = hfn_to_hpa(iommu_table_alloc(io)).v;
			sl_map_ram(io);
		}
	} else if (io->viommu == VIOMMU_SHADOW) {
		io->shadow_root = hfn_to_hpa(iommu_table_alloc(io)).v;
		io->sl_root = io->shadow_root;
	} else if (io->sl_shared) {
		io->sl_root = nested_ept_root(vm, &io->sl_levels);
		ept_prefill_ram(io);
	} else {
		io->sl_root = hfn_to_hpa(iommu_table_alloc(io)).v;
		sl_map_ram(io);
	}
	iommu_ctx_program(io);
	TRACE(vm, .kind = TR_VMM_OP, .result = vm->st.dma_pins,
	      .what =
		  "device assigned: IOMMU context and tables built, guest memory pinned as needed");
}

/* ---- the shadow vIOMMU ---- */

/* The VMM's software walk of the guest's table for iova: the gPA it maps
 * and its rights, or false. Each entry read is a vm_vmm_walk_ref(). */
static bool guest_table_lookup(struct iommu *io, uint64_t iova, uint64_t *gpa, uint8_t *perm)
{
	struct vm *vm = io->vm;
	uint64_t table = io->guest_root;
	uint8_t p = SLPTE_R | SLPTE_W;
	for (int l = 4; l >= LVL_PT; l--) {
		gpa_t ea = GPA(table + 8u * pt_index(iova, l));
		hfn_t h = p2m_lookup(vm, gpa_to_gfn(ea));
		if (h == INVALID_HFN)
			return false; /* the guest points outside its memory */
		vm_vmm_walk_ref(vm, HPA((h << PAGE_SHIFT) | (ea.v & (PAGE_SIZE - 1))), NULL);
		uint64_t e = gpa_read64(vm, ea);
		if (!slpte_present(e))
			return false;
		p &= (uint8_t)(e & (SLPTE_R | SLPTE_W));
		if (slpte_leaf(e, l)) {
			uint64_t sz = page_bytes(level_page_size(l));
			*gpa = ((e & SLPTE_ADDR & ~(sz - 1)) + (iova & (sz - 1))) & PAGE_MASK;
			*perm = p;
			return true;
		}
		table = e & SLPTE_ADDR;
	}
	return false;
}

/* Bring the shadow entry of one IOVA page in line with the guest's table;
 * returns the entries written (0 or 1). */
static uint64_t shadow_sync_page(struct iommu *io, uint64_t iova)
{
	struct vm *vm = io->vm;
	uint64_t gpa = 0;
	uint8_t perm = 0;
	uint64_t want = 0;
	if (guest_table_lookup(io, iova, &gpa, &perm) && perm) {
		hfn_t h = p2m_ensure(vm, gpa_to_gfn(GPA(gpa)));
		if (h != INVALID_HFN) /* vfio_dma_do_map() refuses what is not guest RAM */
			want = hfn_to_hpa(h).v | perm;
	}
	uint64_t slot = sl_slot(io, io->shadow_root, 4, iova, LVL_PT);
	uint64_t old = hpa_read64(vm, HPA(slot));
	if (old == want)
		return 0;
	if (slpte_present(old)) {
		vm->st.dma_unpins++; /* vfio_unpin_pages_remote() */
	}
	if (slpte_present(want))
		pin_pages(vm, 1);
	hpa_write64(vm, HPA(slot), want);
	TRACE(vm, .kind = TR_VMM_OP, .gva = iova, .entry_addr = slot, .entry = want,
	      .what = slpte_present(want) ? "shadow IOMMU entry written, page pinned"
					  : "shadow IOMMU entry cleared, page unpinned");
	vm->st.viommu_syncs++;
	vm->st.cyc_vmm += vm->cost.vmm_spte;
	return 1;
}

/* ---- the vIOMMU's registers ---- */

/* Under a VMM every access to the emulated registers exits. */
static void viommu_exit(struct vcpu *v, uint32_t work)
{
	struct vm *vm = v->vm;
	if (vm->p2m.identity)
		return; /* native: a real register, no VMM */
	/* KVM meets MMIO to an emulated device as an EPT misconfiguration
	 * (handle_ept_misconfig()) under EPT, and as a #PF on a reserved-bit
	 * spte under shadow paging (handle_mmio_page_fault()). */
	vm_exit(v, vm->mmu->two_dim ? EXIT_EPT_MISCONFIG : EXIT_EXCEPTION, &vm->st.exits_viommu,
		vm->cost.viommu_inv + work);
}

uint64_t viommu_mmio_read(struct vcpu *v, struct iommu *io, unsigned reg)
{
	struct vm *vm = v->vm;
	uint64_t r = 0;
	if (reg == VIOMMU_REG_CAP && io->viommu == VIOMMU_SHADOW && !vm->p2m.identity)
		r = VIOMMU_CAP_CM;
	viommu_exit(v, 0);
	return r;
}

void viommu_mmio_write(struct vcpu *v, struct iommu *io, unsigned reg, uint64_t val)
{
	struct vm *vm = v->vm;
	if (io->viommu == VIOMMU_OFF)
		vm_abort(vm,
			 "guest driver bug: vIOMMU register %u written, but the VM has no vIOMMU "
			 "(--viommu off)",
			 reg);
	iommu_assign(v, io);
	switch (reg) {
	case VIOMMU_REG_ROOT:
		io->guest_root = val & SLPTE_ADDR;
		if (io->viommu == VIOMMU_NESTED || vm->p2m.identity)
			iommu_ctx_program(io);
		else
			iommu_iotlb_inv_all(io);
		viommu_exit(v, 0);
		break;
	case VIOMMU_REG_INV: {
		uint64_t iova = val & PAGE_MASK;
		uint64_t pages = UINT64_C(1) << (val & VIOMMU_INV_AM_MASK);
		uint64_t work = 0;
		vm->st.viommu_invalidations++;
		if (io->viommu == VIOMMU_SHADOW && !vm->p2m.identity)
			for (uint64_t i = 0; i < pages; i++)
				work += shadow_sync_page(io, iova + i * PAGE_SIZE);
		iommu_iotlb_inv_range(io, iova, pages);
		(void)work; /* its entries were charged as they were written */
		viommu_exit(v, 0);
		break;
	}
	default:
		vm_abort(vm, "guest driver bug: write to unknown vIOMMU register %u", reg);
	}
}

/* ---- audit ---- */

struct audit_ctx {
	struct iommu *io;
	char *detail;
	size_t len;
	const char *bad;
};

/* Visit the leaves of a table: fn(addr, leaf entry, size). */
static void sl_visit(struct iommu *io, uint64_t table, int level, uint64_t base,
		     void (*fn)(struct audit_ctx *, uint64_t, uint64_t, enum page_size),
		     struct audit_ctx *a)
{
	for (unsigned i = 0; i < 512 && !a->bad; i++) {
		uint64_t e = hpa_read64(io->vm, HPA(table + 8u * i));
		if (!slpte_present(e))
			continue;
		uint64_t addr = base + ((uint64_t)i << (PAGE_SHIFT + 9u * (unsigned)(level - 1)));
		if (slpte_leaf(e, level))
			fn(a, addr, e, level_page_size(level));
		else
			sl_visit(io, e & SLPTE_ADDR, level - 1, addr, fn, a);
	}
}

static void audit_own_leaf(struct audit_ctx *a, uint64_t gpa, uint64_t e, enum page_size ps)
{
	struct vm *vm = a->io->vm;
	gfn_t g = gpa_to_gfn(GPA(gpa));
	uint64_t n = page_bytes(ps) >> PAGE_SHIFT;
	if (g + n > vm->p2m.nframes) {
		a->bad = "iommu-sl-inside-ram";
		snprintf(a->detail, a->len,
			 "second-level leaf for gPA %#" PRIx64 " reaches past RAM", gpa);
		return;
	}
	if (p2m_lookup(vm, g) != hpa_to_hfn(HPA(e & SLPTE_ADDR))) {
		a->bad = "iommu-sl-follows-p2m";
		snprintf(a->detail, a->len,
			 "second-level leaf for gPA %#" PRIx64 " maps hPA %#" PRIx64
			 ", the p2m says frame %#" PRIx64,
			 gpa, e & SLPTE_ADDR, p2m_lookup(vm, g));
	}
}

static void audit_shadow_leaf(struct audit_ctx *a, uint64_t iova, uint64_t e, enum page_size ps)
{
	(void)ps;
	struct iommu *io = a->io;
	struct vm *vm = io->vm;
	/* A software walk without charging: read the guest table directly. */
	uint64_t table = io->guest_root, gpa = 0;
	bool ok = false;
	for (int l = 4; l >= LVL_PT && table; l--) {
		uint64_t ge = gpa_read64(vm, GPA(table + 8u * pt_index(iova, l)));
		if (!slpte_present(ge))
			break;
		if (slpte_leaf(ge, l)) {
			uint64_t sz = page_bytes(level_page_size(l));
			gpa = ((ge & SLPTE_ADDR & ~(sz - 1)) + (iova & (sz - 1))) & PAGE_MASK;
			ok = true;
			break;
		}
		table = ge & SLPTE_ADDR;
	}
	if (!ok || p2m_lookup(vm, gpa_to_gfn(GPA(gpa))) != hpa_to_hfn(HPA(e & SLPTE_ADDR))) {
		a->bad = "iommu-shadow-follows-guest";
		snprintf(a->detail, a->len,
			 "shadow entry for IOVA %#" PRIx64 " maps hPA %#" PRIx64
			 " but the guest's table %s",
			 iova, e & SLPTE_ADDR, ok ? "maps another page" : "does not map it");
	}
}

const char *iommu_audit_tables(struct iommu *io, char *detail, size_t len)
{
	struct audit_ctx a = {.io = io, .detail = detail, .len = len};
	if (!io->assigned)
		return NULL;
	if (io->viommu == VIOMMU_SHADOW && !io->vm->p2m.identity)
		sl_visit(io, io->shadow_root, 4, 0, audit_shadow_leaf, &a);
	else if (io->sl_root && !io->sl_shared)
		sl_visit(io, io->sl_root, io->sl_levels, 0, audit_own_leaf, &a);
	if (!a.bad && io->vm->st.dma_pins - io->vm->st.dma_unpins > io->vm->p2m.nframes) {
		a.bad = "iommu-pins-bounded";
		snprintf(detail, len, "%" PRIu64 " pages pinned, guest memory has %" PRIu64,
			 io->vm->st.dma_pins - io->vm->st.dma_unpins, io->vm->p2m.nframes);
	}
	return a.bad;
}

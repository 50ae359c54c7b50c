/*
 * dma.c - the guest kernel's driver for the DMA block device, and its use
 * of the (virtual) IOMMU through the DMA API.
 *
 * What it does, as Linux's block layer and DMA API would for direct I/O:
 *   probe      allocate the descriptor ring (a kernel frame), read the
 *              vIOMMU's capabilities and program its root (with --viommu),
 *              map the ring, give the ring to the device;
 *   rw         for each user page: pin it (pin_user_pages(): fault it in,
 *              for writing when the device will write it, and take a
 *              reference so that it cannot be freed under the DMA), map it
 *              for the device (dma_map_page(): with a vIOMMU, an IOVA entry
 *              in the guest's IOMMU table, and an invalidation when the
 *              IOMMU is in Caching Mode, as intel_iommu's
 *              __mapping_notify_one() does), fill a descriptor; one doorbell
 *              per batch; then read each status, unmap (clear the entry and
 *              invalidate at once: strict mode, iommu.strict=1) and unpin
 *              (unpin_user_page()).
 * Bus addresses are gPAs without a vIOMMU; with one, IOVAs: the ring at
 * GMM_DMA_IOVA_BASE and ring slot i's buffer at GMM_DMA_IOVA_BASE + (i + 1)
 * pages, so a batch's IOVAs are reused by the next batch.
 *
 * Every store to the ring and to the guest's IOMMU table is a kernel store
 * through the direct map (a counted access); register accesses go through
 * io_mmio_write()/io_mmio_read() (core/io.h).
 *
 * Invariants: a page is pinned exactly while a descriptor points at it;
 * with a vIOMMU, an IOVA entry is present exactly while its descriptor is
 * in flight (and the ring's, always).
 */
#include <errno.h>
#include <stdlib.h>

#include "gmm-internal.h"
#include "../core/cpu.h"
#include "../core/io.h"

/* The vIOMMU table's entry bits (VT-d second-level format, core/io.h's
 * device reads them as the IOMMU would). */
#define DMA_IOPTE_R UINT64_C(1)
#define DMA_IOPTE_W UINT64_C(2)
#define DMA_IOPTE_ADDR UINT64_C(0x000ffffffffff000)

struct gmm_dma {
	gfn_t ring;
	uint64_t ring_bus;
	uint64_t tail; /* descriptors handed to the device so far */
	bool viommu;
	bool cm; /* Caching Mode: invalidate after a map too */
	gfn_t iommu_root;
};

/* ---- kernel accesses ---- */

static uint64_t kload(struct vm *vm, gpa_t gpa)
{
	struct vcpu *v = vm->cur;
	bool user = v->user;
	cpu_set_user(v, false);
	uint64_t x = cpu_load(v, gmm_kva(vm, gpa), 8);
	cpu_set_user(v, user);
	return x;
}

static void kstore(struct vm *vm, gpa_t gpa, uint64_t val)
{
	struct vcpu *v = vm->cur;
	bool user = v->user;
	cpu_set_user(v, false);
	cpu_store(v, gmm_kva(vm, gpa), 8, val);
	cpu_set_user(v, user);
}

static bool kframe(struct gmm *g, gfn_t *out)
{
	if (!gmm_alloc_frame(g, GF_KERNEL, out)) {
		g->err = ENOMEM;
		return false;
	}
	gmm_zero_frame(g, *out);
	return true;
}

/* ---- the guest's IOMMU table ---- */

/* Write the leaf for iova (4 levels, 4 KiB leaves), allocating tables. */
static bool iommu_set(struct gmm *g, uint64_t iova, uint64_t leaf)
{
	struct vm *vm = g->vm;
	gpa_t table = gfn_to_gpa(g->dma->iommu_root);
	for (int l = 4; l > LVL_PT; l--) {
		gpa_t slot = GPA(table.v + 8u * pt_index(iova, l));
		uint64_t e = kload(vm, slot);
		if (!(e & (DMA_IOPTE_R | DMA_IOPTE_W))) {
			gfn_t t;
			if (!kframe(g, &t))
				return false;
			e = gfn_to_gpa(t).v | DMA_IOPTE_R | DMA_IOPTE_W;
			kstore(vm, slot, e);
		}
		table = GPA(e & DMA_IOPTE_ADDR);
	}
	kstore(vm, GPA(table.v + 8u * pt_index(iova, LVL_PT)), leaf);
	return true;
}

static void iommu_invalidate(struct vm *vm, uint64_t iova)
{
	io_mmio_write(vm->cur, IO_DEV_VIOMMU, VIOMMU_REG_INV, iova & PAGE_MASK); /* AM = 0 */
}

/* dma_map_page(): the bus address of gpa for slot i. */
static bool dma_map(struct gmm *g, unsigned i, gpa_t gpa, bool dev_writes, uint64_t *bus)
{
	struct gmm_dma *d = g->dma;
	if (!d->viommu) {
		*bus = gpa.v;
		return true;
	}
	uint64_t iova = GMM_DMA_IOVA_BASE + (uint64_t)(i + 1) * PAGE_SIZE;
	if (!iommu_set(g, iova, (gpa.v & PAGE_MASK) | DMA_IOPTE_R | (dev_writes ? DMA_IOPTE_W : 0)))
		return false;
	if (d->cm)
		iommu_invalidate(g->vm, iova);
	*bus = iova | (gpa.v & (PAGE_SIZE - 1));
	return true;
}

/* dma_unmap_page(), strict: clear the entry, invalidate now. */
static void dma_unmap(struct gmm *g, unsigned i)
{
	if (!g->dma->viommu)
		return;
	uint64_t iova = GMM_DMA_IOVA_BASE + (uint64_t)(i + 1) * PAGE_SIZE;
	iommu_set(g, iova, 0); /* tables exist: cannot fail */
	iommu_invalidate(g->vm, iova);
}

/* ---- pinning user pages ---- */

/* The guest frame behind user address va of the current process, faulted
 * in (for writing when 'write') as pin_user_pages() does through
 * handle_mm_fault(); its head frame gets one more reference. Returns
 * false with EFAULT when va is not mapped by a VMA that allows it. */
static bool pin_user_page(struct gmm *g, gva_t va, bool write, gfn_t *gfn)
{
	struct vm *vm = g->vm;
	struct gproc *p = g->current;
	struct gvma *vma = gmm_vma_find(p, va);
	if (!vma || (write && !(vma->prot & GPROT_WRITE)) || !(vma->prot & GPROT_READ)) {
		g->err = EFAULT;
		return false;
	}
	for (int tries = 0; tries < 2; tries++) {
		gpa_t table = p->top;
		for (int l = g->levels; l >= LVL_PT; l--) {
			uint64_t e = gmm_pte_read(g, gmm_slot(table, pt_index(va, l)));
			if (!gpte_present(e))
				break;
			if (l == LVL_PT || gpte_large(e, l)) {
				if (write && !(e & GPTE_RW))
					break; /* copy-on-write first */
				uint64_t sz = page_bytes(level_page_size(l));
				gfn_t head = gpa_to_gfn(GPA(gpte_leaf_frame(e, l)));
				*gfn = gpa_to_gfn(GPA(gpte_leaf_frame(e, l) + (va & (sz - 1))));
				gmm_frame_get(g, head);
				return true;
			}
			table = GPA(pte_frame(e));
		}
		struct guest_fault f = {
		    .gva = va, .error_code = PFEC_U | (write ? PFEC_W : 0), .level = 0};
		/* A present read-only leaf makes it a protection fault. */
		gpa_t t = p->top;
		for (int l = g->levels; l >= LVL_PT; l--) {
			uint64_t e = gmm_pte_read(g, gmm_slot(t, pt_index(va, l)));
			if (!gpte_present(e))
				break;
			if (l == LVL_PT || gpte_large(e, l)) {
				f.error_code |= PFEC_P;
				break;
			}
			t = GPA(pte_frame(e));
		}
		gmm_handle_fault(vm, &f);
	}
	vmmu_bug("gmm-pin", "va %#" PRIx64 " still not mapped after its fault", va);
}

/* unpin_user_page(): drop the reference pin_user_page() took. */
static void unpin_user_page(struct gmm *g, gfn_t gfn)
{
	/* The head of a 2 MiB page holds its count. */
	gfn_t head = g->kind[gfn] == GF_HUGE_TAIL ? gfn & ~(GMM_HUGE_FRAMES - 1) : gfn;
	gmm_frame_put(g, head);
}

/* ---- API ---- */

int gmm_dma_probe(struct vm *vm)
{
	struct gmm *g = gmm_of(vm);
	if (!g)
		return -1;
	if (g->dma)
		return 0;
	gmm_kernel_enter(vm);
	struct gmm_dma *d = calloc(1, sizeof(*d));
	if (!d) {
		g->err = ENOMEM;
		gmm_kernel_exit(vm);
		return -1;
	}
	g->dma = d;
	d->viommu = vm->cfg.viommu != VIOMMU_OFF;
	int rc = -1;
	if (!kframe(g, &d->ring))
		goto out;
	d->ring_bus = gfn_to_gpa(d->ring).v;
	if (d->viommu) {
		struct vcpu *v = vm->cur;
		d->cm = (io_mmio_read(v, IO_DEV_VIOMMU, VIOMMU_REG_CAP) & VIOMMU_CAP_CM) != 0;
		if (!kframe(g, &d->iommu_root))
			goto out;
		io_mmio_write(v, IO_DEV_VIOMMU, VIOMMU_REG_ROOT, gfn_to_gpa(d->iommu_root).v);
		if (!iommu_set(g, GMM_DMA_IOVA_BASE,
			       gfn_to_gpa(d->ring).v | DMA_IOPTE_R | DMA_IOPTE_W))
			goto out;
		if (d->cm)
			iommu_invalidate(vm, GMM_DMA_IOVA_BASE);
		d->ring_bus = GMM_DMA_IOVA_BASE;
	}
	io_mmio_write(vm->cur, IO_DEV_DMA, DMA_REG_RING_SIZE, IO_RING_MAX);
	io_mmio_write(vm->cur, IO_DEV_DMA, DMA_REG_RING, d->ring_bus);
	rc = 0;
out:
	gmm_kernel_exit(vm);
	return rc;
}

int gmm_dma_rw(struct vm *vm, gva_t va, unsigned npages, uint64_t block, bool to_mem,
	       uint64_t *sums)
{
	struct gmm *g = gmm_of(vm);
	if (!g || !g->dma || !g->current || npages == 0 || npages > GMM_DMA_BATCH ||
	    (va & (PAGE_SIZE - 1))) {
		if (g)
			g->err = EINVAL;
		return -1;
	}
	struct gmm_dma *d = g->dma;
	gmm_kernel_enter(vm);
	gfn_t gfn[GMM_DMA_BATCH];
	int rc = 0;
	unsigned pinned = 0;
	for (; pinned < npages; pinned++) {
		gva_t a = va + (uint64_t)pinned * PAGE_SIZE;
		if (!pin_user_page(g, a, to_mem, &gfn[pinned])) {
			rc = -1;
			goto unpin;
		}
	}
	uint64_t first = d->tail;
	for (unsigned i = 0; i < npages; i++) {
		uint64_t bus;
		if (!dma_map(g, i, gfn_to_gpa(gfn[i]), to_mem, &bus)) {
			for (unsigned k = 0; k < i; k++)
				dma_unmap(g, k);
			rc = -1;
			goto unpin;
		}
		gpa_t desc =
		    GPA(gfn_to_gpa(d->ring).v + ((first + i) & (IO_RING_MAX - 1)) * IO_DESC_BYTES);
		kstore(vm, desc, bus);
		kstore(vm, GPA(desc.v + 8), PAGE_SIZE | (to_mem ? IO_DESC_TO_MEM : 0));
		kstore(vm, GPA(desc.v + 16), block + i);
		kstore(vm, GPA(desc.v + 24), 0);
	}
	d->tail = first + npages;
	io_mmio_write(vm->cur, IO_DEV_DMA, DMA_REG_TAIL, d->tail);
	for (unsigned i = 0; i < npages; i++) {
		gpa_t desc =
		    GPA(gfn_to_gpa(d->ring).v + ((first + i) & (IO_RING_MAX - 1)) * IO_DESC_BYTES);
		uint64_t st = kload(vm, GPA(desc.v + 24));
		if (!(st & IO_DESC_DONE) || (st & IO_DESC_ERR))
			rc++;
		if (sums)
			sums[i] = st & IO_DESC_SUM_MASK;
		dma_unmap(g, i);
	}
unpin:
	for (unsigned i = 0; i < pinned; i++)
		unpin_user_page(g, gfn[i]);
	gmm_kernel_exit(vm);
	return rc;
}

void gmm_dma_shutdown(struct gmm *g)
{
	free(g->dma);
	g->dma = NULL;
}

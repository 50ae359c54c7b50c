/*
 * platform.c - the I/O platform as core sees it: the io_ops instance that
 * routes a driver's MMIO to the DMA device or to the vIOMMU, attach and
 * destroy, the audit, and the digest of host memory outside the guest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iommu.h"
#include "../nested/api.h"

static void platform_mmio_write(struct vcpu *v, unsigned dev, unsigned reg, uint64_t val)
{
	struct iommu *io = iommu_of(v->vm);
	if (dev == IO_DEV_DMA)
		dma_dev_mmio_write(v, io, reg, val);
	else if (dev == IO_DEV_VIOMMU)
		viommu_mmio_write(v, io, reg, val);
	else
		vm_abort(v->vm, "guest driver bug: MMIO write to unknown device %u", dev);
}

static uint64_t platform_mmio_read(struct vcpu *v, unsigned dev, unsigned reg)
{
	struct iommu *io = iommu_of(v->vm);
	if (dev == IO_DEV_DMA)
		return dma_dev_mmio_read(v, io, reg);
	if (dev == IO_DEV_VIOMMU)
		return viommu_mmio_read(v, io, reg);
	vm_abort(v->vm, "guest driver bug: MMIO read of unknown device %u", dev);
}

static void platform_destroy(struct vm *vm)
{
	struct iommu *io = iommu_of(vm);
	if (!io)
		return;
	free(io->iotlb);
	free(io);
	vm->io_state = NULL;
}

static const struct io_ops iommu_io_ops = {
    .mmio_write = platform_mmio_write,
    .mmio_read = platform_mmio_read,
    .destroy = platform_destroy,
};

int iommu_attach(struct vm *vm, char *err, size_t errlen)
{
	const struct vm_config *c = &vm->cfg;
	if (c->iommu_share_ept && vm->mmu != &nested_mmu_ops) {
		snprintf(err, errlen,
			 "--iommu-share-ept on: needs --mode nested (mode %s has no EPT of its own "
			 "to share with the IOMMU)",
			 vm->mmu->name);
		return -1;
	}
	if (c->iommu_share_ept && c->viommu == VIOMMU_SHADOW) {
		snprintf(
		    err, errlen,
		    "--iommu-share-ept on: not with --viommu shadow (the device then walks the "
		    "VMM's shadow table, not the EPT)");
		return -1;
	}
	if (c->iotlb_entries == 0 || c->iotlb_entries > 4096) {
		snprintf(err, errlen, "--iotlb-entries %" PRIu32 ": must be 1..4096",
			 c->iotlb_entries);
		return -1;
	}
	struct iommu *io = calloc(1, sizeof(*io));
	if (io)
		io->iotlb = calloc(c->iotlb_entries, sizeof(*io->iotlb));
	if (!io || !io->iotlb) {
		free(io);
		snprintf(err, errlen, "out of memory for the IOMMU");
		return -1;
	}
	io->vm = vm;
	io->niotlb = c->iotlb_entries;
	io->viommu = c->viommu;
	io->sl_shared = c->iommu_share_ept;
	vm->io = &iommu_io_ops;
	vm->io_state = io;
	return 0;
}

const char *iommu_audit(struct vm *vm, char *detail, size_t len)
{
	struct iommu *io = iommu_of(vm);
	if (len)
		detail[0] = 0;
	return io ? iommu_audit_tables(io, detail, len) : NULL;
}

/* ---- the host digest ---- */

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + UINT64_C(0x9e3779b97f4a7c15) + (h << 6) + (h >> 2);
	h *= UINT64_C(0xff51afd7ed558ccd);
	return h ^ (h >> 33);
}

uint64_t iommu_host_digest(struct vm *vm)
{
	const struct hostmem *hm = &vm->hm;
	uint8_t *backs = calloc(hm->nframes, 1);
	if (!backs)
		vmmu_bug("host-digest-heap", "simulator out of memory");
	for (gfn_t g = 0; g < vm->p2m.nframes; g++) {
		hfn_t h = p2m_lookup(vm, g);
		if (h != INVALID_HFN && h < hm->nframes)
			backs[h] = 1;
	}
	uint64_t d = UINT64_C(0xcbf29ce484222325);
	/* Only frames ever handed out can hold non-zero bytes; the rest of the
	 * reservation is read too (zero pages) so that nothing is assumed. */
	for (hfn_t f = 0; f < hm->nframes; f++) {
		if (backs[f])
			continue;
		const uint64_t *w = (const uint64_t *)(hm->base + (f << PAGE_SHIFT));
		uint64_t any = 0;
		for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
			any |= w[i];
		if (!any)
			continue;
		uint64_t ph = mix(0, f);
		for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
			ph = ph * UINT64_C(0x100000001b3) ^ w[i];
		d = mix(d, ph);
	}
	free(backs);
	return d;
}

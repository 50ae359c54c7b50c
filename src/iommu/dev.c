/*
 * dev.c - the DMA block device: a passed-through PCI function with a
 * descriptor ring in guest memory (core/io.h gives its registers and the
 * descriptor format).
 *
 * On a doorbell (a write of DMA_REG_TAIL) the device processes every
 * descriptor from its head up to the new tail, in order, synchronously:
 *   1. it reads the 32-byte descriptor from the ring (one DMA read);
 *   2. a block read (IO_DESC_TO_MEM) writes the block's words from its
 *      disk image (io_disk_word()) into the buffer; a block write reads
 *      the buffer and folds its words (io_fold()) (one DMA access each);
 *   3. it writes the status word back into the descriptor (one DMA write).
 * Every DMA access goes through iommu_dma(): a request the IOMMU blocks is
 * not performed; the descriptor then completes with IO_DESC_ERR (if its
 * status can still be written) and counts in DMA_REG_ERRORS.
 *
 * MMIO to the device's registers does not exit: an assigned device's BAR
 * is mapped into the guest (VFIO's mmap of the BAR, a KVM memslot).
 *
 * Invariants: head <= tail; the device never touches memory but through
 * iommu_dma().
 */
#include "iommu.h"

static void dev_process(struct iommu *io, uint64_t idx)
{
	struct vm *vm = io->vm;
	uint64_t d = io->dev.ring + (idx & (io->dev.ring_size - 1)) * IO_DESC_BYTES;
	uint64_t desc[4];
	if (iommu_dma(vm, IO_DMA_SOURCE_ID, d, desc, sizeof(desc), false, NULL)) {
		io->dev.errors++;
		return;
	}
	uint64_t bus = desc[0];
	uint32_t len = (uint32_t)(desc[1] & 0xffffffffu);
	bool to_mem = (desc[1] & IO_DESC_TO_MEM) != 0;
	uint64_t block = desc[2];
	uint64_t status = IO_DESC_DONE;
	if (len == 0 || len % 8 || len > PAGE_SIZE || (bus & (PAGE_SIZE - 1)) + len > PAGE_SIZE ||
	    bus & 7) {
		status |= IO_DESC_ERR;
	} else {
		uint64_t buf[PAGE_SIZE / 8];
		uint32_t n = len / 8;
		if (to_mem) {
			for (uint32_t i = 0; i < n; i++)
				buf[i] = io_disk_word(block, i);
			if (iommu_dma(vm, IO_DMA_SOURCE_ID, bus, buf, len, true, NULL))
				status |= IO_DESC_ERR;
		} else if (iommu_dma(vm, IO_DMA_SOURCE_ID, bus, buf, len, false, NULL)) {
			status |= IO_DESC_ERR;
		} else {
			uint64_t h = block & IO_DESC_SUM_MASK;
			for (uint32_t i = 0; i < n; i++)
				h = io_fold(h, buf[i]);
			status |= h;
		}
	}
	if (status & IO_DESC_ERR)
		io->dev.errors++;
	if (iommu_dma(vm, IO_DMA_SOURCE_ID, d + 24, &status, 8, true, NULL) &&
	    !(status & IO_DESC_ERR))
		io->dev.errors++;
}

void dma_dev_mmio_write(struct vcpu *v, struct iommu *io, unsigned reg, uint64_t val)
{
	struct vm *vm = v->vm;
	iommu_assign(v, io);
	switch (reg) {
	case DMA_REG_RING:
		io->dev.ring = val;
		io->dev.enabled = true;
		io->dev.head = io->dev.tail = 0;
		break;
	case DMA_REG_RING_SIZE:
		if (val == 0 || val > IO_RING_MAX || (val & (val - 1)))
			vm_abort(vm,
				 "guest driver bug: DMA ring size %" PRIu64
				 " (a power of two up to %" PRIu64 ")",
				 val, (uint64_t)IO_RING_MAX);
		io->dev.ring_size = val;
		break;
	case DMA_REG_TAIL:
		if (!io->dev.enabled || !io->dev.ring_size)
			vm_abort(vm, "guest driver bug: doorbell before the ring is set up");
		if (val < io->dev.head || val - io->dev.head > io->dev.ring_size)
			vm_abort(vm, "guest driver bug: doorbell %" PRIu64 " with head %" PRIu64,
				 val, io->dev.head);
		io->dev.tail = val;
		while (io->dev.head < io->dev.tail)
			dev_process(io, io->dev.head++);
		break;
	default:
		vm_abort(vm, "guest driver bug: write to unknown DMA device register %u", reg);
	}
}

uint64_t dma_dev_mmio_read(struct vcpu *v, struct iommu *io, unsigned reg)
{
	switch (reg) {
	case DMA_REG_HEAD:
		return io->dev.head;
	case DMA_REG_ERRORS:
		return io->dev.errors;
	default:
		vm_abort(v->vm, "guest driver bug: read of unknown DMA device register %u", reg);
	}
}

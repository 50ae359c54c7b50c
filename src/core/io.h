/*
 * io.h - the seam between the guest kernel's drivers and the I/O platform:
 * the register map of the DMA device and of the virtual IOMMU, the format
 * of a DMA descriptor, and the hook through which a driver's MMIO access
 * reaches the platform.
 *
 * The platform (src/iommu: the DMA device, the IOMMU that translates its
 * requests, and the VMM's side of device assignment) is opaque to core and
 * to the guest kernel, as the vCPU's vector table keeps the guest kernel
 * opaque to core: the registry attaches it when it creates the VM
 * (vm->io, vm->io_state), and a driver reaches it only through
 * io_mmio_write() and io_mmio_read(), as a kernel reaches a device through
 * its BAR. This header is the "hardware specification" both sides read.
 *
 * Invariants:
 *   - a descriptor is IO_DESC_BYTES long and IO_DESC_BYTES-aligned, so it
 *     never crosses a page and one DMA translation covers it;
 *   - the device's disk image is a function of (block, word) alone
 *     (io_disk_word()), so what a device read writes into memory is the
 *     same under every mode.
 */
#ifndef VMMU_IO_H
#define VMMU_IO_H

#include "types.h"

struct vm;
struct vcpu;

/* Devices on the platform (the index is the MMIO window a register lives in). */
enum io_dev {
	IO_DEV_DMA = 0,	   /* the DMA block device (a passed-through PCI function) */
	IO_DEV_VIOMMU = 1, /* the virtual IOMMU's registers (emulated by the VMM) */
	IO_DEV_NR
};

/* PCI source-id (requester id, bus << 8 | device << 3 | function) of the
 * DMA device: bus 0, device 3, function 0. */
#define IO_DMA_SOURCE_ID 0x0018u

/* DMA device registers. */
enum io_dma_reg {
	DMA_REG_RING = 0,      /* write: bus address of the descriptor ring; enables the device */
	DMA_REG_RING_SIZE = 1, /* write: descriptors in the ring (a power of two, <= IO_RING_MAX) */
	DMA_REG_TAIL = 2,      /* write: the doorbell: descriptors before this index are ready */
	DMA_REG_HEAD = 3,      /* read: descriptors before this index are done */
	DMA_REG_ERRORS = 4,    /* read: descriptors the device completed with an error */
};

/* vIOMMU registers (VT-d's root-table address and invalidation, reduced to
 * what the guest driver needs). */
enum io_viommu_reg {
	VIOMMU_REG_CAP = 0,  /* read: capabilities, VIOMMU_CAP_* */
	VIOMMU_REG_ROOT = 1, /* write: gPA of the guest's IOMMU table for the DMA device */
	VIOMMU_REG_INV = 2,  /* write: a page-selective IOTLB invalidation: bits 63:12
			      * the IOVA, bits 5:0 the address mask (2^AM pages), as in
			      * VT-d's IVA register */
};
#define VIOMMU_INV_AM_MASK UINT64_C(0x3f)
/* VT-d's Caching Mode (CAP_REG bit 7): the IOMMU may cache not-present
 * entries, so software must invalidate after a map too. An emulated IOMMU
 * that keeps a shadow table sets it, so that the VMM hears of every map
 * (Linux: cap_caching_mode(), checked in __mapping_notify_one()). */
#define VIOMMU_CAP_CM (UINT64_C(1) << 7)

/*
 * A DMA descriptor, 32 bytes in guest memory:
 *   word 0  bus address of the buffer (a gPA, or an IOVA with --viommu)
 *   word 1  bits 31:0 length in bytes (a multiple of 8, at most 4096, not
 *           crossing a page); bit 32 IO_DESC_TO_MEM: the device writes
 *           memory (a block read), else it reads it (a block write)
 *   word 2  block number on the device's disk
 *   word 3  written by the device: IO_DESC_DONE, IO_DESC_ERR on a DMA
 *           fault, and in bits 31:0 a fold of the data it read (block
 *           writes) so that the driver can return what the device saw
 */
#define IO_DESC_BYTES 32
#define IO_RING_MAX (PAGE_SIZE / IO_DESC_BYTES)
#define IO_DESC_TO_MEM (UINT64_C(1) << 32)
#define IO_DESC_DONE (UINT64_C(1) << 63)
#define IO_DESC_ERR (UINT64_C(1) << 62)
#define IO_DESC_SUM_MASK UINT64_C(0xffffffff)

/* The device's disk: word i of block b. */
static inline uint64_t io_disk_word(uint64_t block, uint64_t i)
{
	uint64_t z = block * UINT64_C(0x9e3779b97f4a7c15) + i + UINT64_C(0x6469736b);
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}
/* The fold the device returns for the words it read (block writes). */
static inline uint64_t io_fold(uint64_t h, uint64_t w)
{
	return ((h ^ w) * UINT64_C(0x100000001b3)) & IO_DESC_SUM_MASK;
}

/* The platform's hooks, set by whoever attached it. */
struct io_ops {
	/* A driver's 8-byte MMIO store to register reg of device dev. */
	void (*mmio_write)(struct vcpu *v, unsigned dev, unsigned reg, uint64_t val);
	uint64_t (*mmio_read)(struct vcpu *v, unsigned dev, unsigned reg);
	/* Free the platform's state (vm_destroy calls it). */
	void (*destroy)(struct vm *vm);
};

/* A driver's MMIO access; vm_abort()s when no platform is attached (the VM
 * was created without the registry). Defined in cpu.c. */
void io_mmio_write(struct vcpu *v, unsigned dev, unsigned reg, uint64_t val);
uint64_t io_mmio_read(struct vcpu *v, unsigned dev, unsigned reg);

#endif

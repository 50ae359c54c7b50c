/*
 * iommu.h - private interface of the I/O platform: a VT-d style IOMMU, the
 * DMA block device behind it, and the VMM's side of device assignment and
 * of the virtual IOMMU. Core reaches it only through vm->io (core/io.h);
 * the registry attaches it (api.h). Tests include this header.
 *
 * The pieces:
 *   iommu.c   the hardware: root and context tables in host memory, the
 *             context cache, the IOTLB, the second-level walk (gPA -> hPA)
 *             and the two-stage walk (IOVA -> gPA -> hPA), fault records;
 *   assign.c  the VMM (or, natively, the host kernel): building the tables
 *             when the device is assigned, pinning guest memory, the
 *             vIOMMU's registers, its invalidations and the shadow table;
 *   dev.c     the DMA block device: its registers and its descriptor ring;
 *   platform.c  the io_ops instance, attach and destroy, the host digest.
 *
 * Table formats (Intel VT-d specification, ch. 9):
 *   root entry (16 bytes, one per bus): bit 0 P, bits 63:12 the context
 *     table's host-physical address;
 *   context entry (16 bytes, one per device/function): low word bit 0 P,
 *     bits 3:2 translation type, bits 63:12 the second-level root; high
 *     word bits 2:0 address width (2 = 48-bit, 4 levels; 3 = 57-bit,
 *     5 levels), bits 23:8 the domain id. For the two-stage vIOMMU the
 *     model keeps the first-stage root (a gPA) in high-word bits 63:24's
 *     frame field: scalable mode's PASID-table entry, folded into the
 *     context entry (one reference, not two);
 *   second-level entry (8 bytes): bit 0 R, bit 1 W, bit 7 PS (a 2 MiB or
 *     1 GiB leaf), bits 51:12 the address. EPT keeps R, W and PS in the same
 *     bits, so the EPT can serve as the second-level table. The guest's
 *     vIOMMU table uses the same format (VT-d's legacy-mode tables).
 *
 * Invariants (iommu_audit()):
 *   - every present leaf of the VMM's own second-level table maps a gPA
 *     range inside guest memory onto the frames the p2m gives it;
 *   - every present leaf of the shadow table maps an IOVA to the frame the
 *     guest's table and the p2m give it, and that frame is pinned;
 *   - a valid IOTLB entry equals what a fresh walk would return, unless an
 *     invalidation the guest owes is pending;
 *   - no DMA reaches a host frame that does not back guest memory.
 */
#ifndef VMMU_IOMMU_H
#define VMMU_IOMMU_H

#include "../core/cpu.h"
#include "../core/io.h"
#include "../core/vm.h"
#include "api.h"

/* Second-level entry bits. */
#define SLPTE_BIT_R 0
#define SLPTE_BIT_W 1
#define SLPTE_BIT_PS 7
#define SLPTE_R (UINT64_C(1) << SLPTE_BIT_R)
#define SLPTE_W (UINT64_C(1) << SLPTE_BIT_W)
#define SLPTE_PS (UINT64_C(1) << SLPTE_BIT_PS)
#define SLPTE_ADDR UINT64_C(0x000ffffffffff000)

static inline bool slpte_present(uint64_t e)
{
	return (e & (SLPTE_R | SLPTE_W)) != 0;
}
static inline bool slpte_leaf(uint64_t e, int level)
{
	return level == LVL_PT || ((level == LVL_PD || level == LVL_PDPT) && (e & SLPTE_PS));
}

/* Root and context entry bits. */
#define VTD_P UINT64_C(1)
#define VTD_CTX_AW_48 UINT64_C(2)
#define VTD_CTX_AW_57 UINT64_C(3)
#define VTD_CTX_DID_SHIFT 8
#define VTD_CTX_AW_MASK UINT64_C(7)
#define VTD_CTX_DID_MASK UINT64_C(0xffff)
#define VTD_CTX_FS_ADDR UINT64_C(0x000ffffffffff000) /* high word: first-stage root gPA */
#define VTD_CTX_NESTED (UINT64_C(1) << 2)	     /* low word, bit 2: two-stage */

/* The domain id the VMM gives the assigned device. */
#define IOMMU_DID 1
#define IOMMU_CTX_ENTRIES 16
#define IOMMU_FAULT_LOG 64

struct iotlb_entry {
	bool valid;
	uint16_t did;
	enum page_size size;
	uint64_t tag; /* IOVA >> page_shift(size) */
	uint64_t hpa; /* host-physical base of the page */
	uint8_t perm; /* SLPTE_R | SLPTE_W, the combined rights */
	uint64_t lru;
};

struct ctx_entry_cache {
	bool valid;
	uint16_t sid;
	uint16_t did;
	uint64_t sl_root; /* host-physical */
	int sl_levels;
	bool nested;
	uint64_t fs_root; /* gPA, two-stage only */
	uint64_t lru;
};

struct iommu {
	struct vm *vm;
	/* VT-d tables, host frames of the VMM region; 0 before assignment. */
	hfn_t root_table, ctx_table;
	uint64_t sl_root; /* hPA of the second-level root: own table, EPT root or shadow */
	int sl_levels;
	bool sl_shared;	   /* sl_root is the EPT's (--iommu-share-ept) */
	bool sl_identity;  /* native: the host kernel's identity domain */
	uint64_t pt_pages; /* pages of the VMM's own tables */
	bool assigned;
	/* caches */
	struct iotlb_entry *iotlb;
	uint32_t niotlb;
	struct ctx_entry_cache ctx[IOMMU_CTX_ENTRIES];
	uint64_t tick;
	/* fault records (VT-d's fault recording registers, as the VMM reads them) */
	struct iommu_fault fault[IOMMU_FAULT_LOG];
	unsigned nfault;
	/* the vIOMMU */
	enum viommu_mode viommu;
	uint64_t guest_root;  /* gPA of the guest's table; 0 before the guest programs it */
	uint64_t shadow_root; /* hPA of the shadow table (VIOMMU_SHADOW) */
	/* the DMA device */
	struct {
		uint64_t ring, ring_size, head, tail, errors;
		bool enabled;
	} dev;
	/* the last DMA translation, for explain and tests */
	struct iommu_walk last;
};

static inline struct iommu *iommu_of(const struct vm *vm)
{
	return vm->io_state;
}

/* ---- iommu.c ---- */
/* Drop every IOTLB entry of the domain whose IOVA page lies in
 * [iova, iova + pages * 4 KiB), large ones included. */
void iommu_iotlb_inv_range(struct iommu *io, uint64_t iova, uint64_t pages);
void iommu_iotlb_inv_all(struct iommu *io);
void iommu_ctx_inv_all(struct iommu *io);
/* Program the context entry of the DMA device from io's state (sl_root,
 * sl_levels, viommu, guest_root) and drop the context cache. */
void iommu_ctx_program(struct iommu *io);
/* Walk a second-level table at root_hpa for addr, reading it as the
 * hardware does (counted in w). Returns the leaf's level and sets the
 * translated address, the combined rights and the leaf size, or returns 0
 * when an entry is not present. With w = NULL nothing is counted.
 * fs_level: in a two-stage walk, the first-stage level whose table this
 * walk translates (0: the final gPA). */
int iommu_sl_walk(struct iommu *io, uint64_t root_hpa, int levels, uint64_t addr, uint64_t *hpa,
		  uint8_t *perm, enum page_size *size, struct iommu_walk *w, int fs_level);
/* Allocate one zeroed VMM frame for an IOMMU table, counted. */
hfn_t iommu_table_alloc(struct iommu *io);

/* ---- assign.c ---- */
/* Assign the DMA device to the VM (first touch of its registers). */
void iommu_assign(struct vcpu *v, struct iommu *io);
void viommu_mmio_write(struct vcpu *v, struct iommu *io, unsigned reg, uint64_t val);
uint64_t viommu_mmio_read(struct vcpu *v, struct iommu *io, unsigned reg);
const char *iommu_audit_tables(struct iommu *io, char *detail, size_t len);

/* ---- dev.c ---- */
void dma_dev_mmio_write(struct vcpu *v, struct iommu *io, unsigned reg, uint64_t val);
uint64_t dma_dev_mmio_read(struct vcpu *v, struct iommu *io, unsigned reg);

#endif

/*
 * api.h - the public face of the I/O platform (src/iommu): what the
 * registry, the front ends and the tests may call.
 *
 * The platform is a VT-d style IOMMU with one DMA block device behind it.
 * The registry attaches it to every VM it creates (iommu_attach()); it
 * costs nothing until a driver touches the device's registers, when the
 * VMM assigns the device (docs/iommu.md).
 *
 * Invariants: every DMA access goes through iommu_dma(), which translates
 * it (context cache, IOTLB, walk) before it touches host memory; a request
 * the tables do not allow is blocked, recorded with its source-id,
 * address and VT-d fault reason, and never reaches memory.
 */
#ifndef VMMU_IOMMU_API_H
#define VMMU_IOMMU_API_H

#include <stddef.h>

#include "../core/types.h"

struct vm;

/* VT-d fault reasons (VT-d specification, "Non-recoverable fault
 * conditions"; Linux prints them from dma_remap_fault_reasons[]). */
enum iommu_fault_reason {
	IOMMU_FR_NONE = 0,
	IOMMU_FR_ROOT_NP = 0x1, /* present bit in root entry is clear */
	IOMMU_FR_CTX_NP = 0x2,	/* present bit in context entry is clear */
	IOMMU_FR_AW = 0x4,	/* address beyond the domain's address width */
	IOMMU_FR_WRITE = 0x5,	/* write to a page without W (or not present) */
	IOMMU_FR_READ = 0x6,	/* read of a page without R (or not present) */
};

/* One fault record: what the VMM reads from the fault-recording registers. */
struct iommu_fault {
	uint16_t sid;  /* source-id of the requester */
	uint64_t addr; /* the address the device asked for (bus address) */
	bool write;
	uint8_t reason; /* enum iommu_fault_reason */
	uint8_t stage;	/* 1: the guest's first-stage table, 2: the VMM's second-level one */
};

/* One reference of an IOMMU walk, for the explainer and tests. */
enum iommu_step_kind {
	IOMMU_STEP_ROOT, /* root entry (context-cache miss) */
	IOMMU_STEP_CTX,	 /* context entry */
	IOMMU_STEP_FS,	 /* the guest's first-stage entry (at a gPA) */
	IOMMU_STEP_SL,	 /* a second-level entry */
};
struct iommu_step {
	enum iommu_step_kind kind;
	int level;	     /* table level of the entry (1..5); 0 for root/context */
	int fs_level;	     /* SL steps of a two-stage walk: the first-stage level whose table
			      * (or, 0, the final gPA) this SL walk translates */
	uint64_t addr;	     /* the address being translated at this step */
	uint64_t entry_addr; /* host-physical address of the entry */
	uint64_t entry;	     /* the value read */
};
#define IOMMU_WALK_MAX 40
struct iommu_walk {
	uint64_t iova;
	bool write;
	bool ctx_hit, iotlb_hit;
	uint8_t reason; /* 0, or the fault */
	uint8_t stage;
	uint64_t gpa;	  /* two-stage: the intermediate gPA */
	uint64_t hpa;	  /* the result */
	uint32_t refs;	  /* references that went to memory */
	uint32_t refs_fs; /* of those, first-stage entries */
	int nsteps;
	struct iommu_step step[IOMMU_WALK_MAX];
};

/* Attach the platform to vm (vm->io). Returns 0, or -1 with err set (a
 * configuration the platform refuses, e.g. --iommu-share-ept outside nested
 * mode). */
int iommu_attach(struct vm *vm, char *err, size_t errlen);

/*
 * One DMA access of len bytes (1..4096, not crossing a page) at bus address
 * bus by the device with source-id sid: translated, then copied from buf
 * into host memory (write) or from host memory into buf. Returns 0, or the
 * fault reason (nothing copied, a fault record kept). Used by the DMA
 * device and by tests that play a misbehaving device. *walk, when not NULL,
 * gets the translation step by step.
 */
int iommu_dma(struct vm *vm, uint16_t sid, uint64_t bus, void *buf, uint32_t len, bool write,
	      struct iommu_walk *walk);
/* Translate bus address iova for sid as a DMA would, counting and caching
 * it, without touching memory (explain). Returns 0 or the fault reason. */
int iommu_translate(struct vm *vm, uint16_t sid, uint64_t iova, bool write, struct iommu_walk *w);
/* Drop the IOTLB and the context cache (explain starts from a cold walk). */
void iommu_flush_caches(struct vm *vm);
/* The fault records so far, oldest first (at most the log's size). */
const struct iommu_fault *iommu_faults(const struct vm *vm, unsigned *n);
/* Has the device been assigned (its driver touched it)? */
bool iommu_assigned(const struct vm *vm);
/*
 * A digest of every host frame that does not back guest memory: the VMM
 * region and the unused part of the guest region. A DMA that escaped the
 * guest would change it. O(host memory): tests only.
 */
uint64_t iommu_host_digest(struct vm *vm);
/* Check the invariants of iommu.h; NULL or the violated one's name. */
const char *iommu_audit(struct vm *vm, char *detail, size_t len);
/* The name of a fault reason. */
const char *iommu_fault_name(unsigned reason);

#endif

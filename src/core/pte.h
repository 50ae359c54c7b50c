/*
 * pte.h - the x86-64 page-table entry and EPT entry formats.
 *
 * These are architecture facts (Intel SDM Vol. 3A ch. 4, Vol. 3C ch. 29;
 * AMD APM Vol. 2 ch. 5), shared by the guest kernel, the walkers, the shadow
 * MMU and the explainer. Bit names come in two tiers: a bit index
 * (GPTE_BIT_RW) and a mask built from it (GPTE_RW).
 *
 * A 48-bit linear address with 4-level paging (LA57 adds PML5 at 56:48):
 *
 *   63    48 47   39 38   30 29   21 20   12 11         0
 *  +--------+-------+-------+-------+-------+------------+
 *  | sign   | PML4  | PDPT  |  PD   |  PT   |   offset   |
 *  +--------+-------+-------+-------+-------+------------+
 *
 * pt_index(va, level) takes the 9-bit field of a level (PT = 1 ... PML5 = 5).
 *
 * Invariants:
 *   - the frame field is bits 51:12 in both formats;
 *   - PS is bit 7 in both formats, meaningful at levels 2 and 3 only;
 *   - an entry that is not present (x86 P clear, or EPT R=W=X=0) carries no
 *     meaning in its other bits for the walker.
 */
#ifndef VMMU_PTE_H
#define VMMU_PTE_H

#include "types.h"

/* ---- x86-64 paging entries (guest tables, shadow tables) ---- */
#define GPTE_BIT_P 0
#define GPTE_BIT_RW 1
#define GPTE_BIT_US 2
#define GPTE_BIT_PWT 3
#define GPTE_BIT_PCD 4
#define GPTE_BIT_A 5
#define GPTE_BIT_D 6
#define GPTE_BIT_PS 7
#define GPTE_BIT_G 8
#define GPTE_BIT_NX 63

#define GPTE_P (UINT64_C(1) << GPTE_BIT_P)
#define GPTE_RW (UINT64_C(1) << GPTE_BIT_RW)
#define GPTE_US (UINT64_C(1) << GPTE_BIT_US)
#define GPTE_PWT (UINT64_C(1) << GPTE_BIT_PWT)
#define GPTE_PCD (UINT64_C(1) << GPTE_BIT_PCD)
#define GPTE_A (UINT64_C(1) << GPTE_BIT_A)
#define GPTE_D (UINT64_C(1) << GPTE_BIT_D)
#define GPTE_PS (UINT64_C(1) << GPTE_BIT_PS)
#define GPTE_G (UINT64_C(1) << GPTE_BIT_G)
#define GPTE_NX (UINT64_C(1) << GPTE_BIT_NX)

/* Frame field, bits 51:12, shared by x86 and EPT entries. */
#define PTE_FRAME_MASK UINT64_C(0x000ffffffffff000)

static inline uint64_t pte_frame(uint64_t e)
{
	return e & PTE_FRAME_MASK;
}
static inline bool gpte_present(uint64_t e)
{
	return (e & GPTE_P) != 0;
}
static inline bool gpte_large(uint64_t e, int level)
{
	return (level == LVL_PD || level == LVL_PDPT) && (e & GPTE_PS);
}
/* Frame of a leaf that maps a page of the size of 'level', without PAT bit. */
static inline uint64_t gpte_leaf_frame(uint64_t e, int level)
{
	uint64_t m = PTE_FRAME_MASK & ~(page_bytes(level_page_size(level)) - 1);
	return e & m;
}

/* The 9-bit index of 'va' at table 'level'. */
static inline unsigned pt_index(uint64_t va, int level)
{
	return (unsigned)((va >> (PAGE_SHIFT + 9 * (level - 1))) & 0x1ff);
}
/* Lowest address bit that the index at 'level' covers. */
static inline unsigned level_shift(int level)
{
	return PAGE_SHIFT + 9u * (unsigned)(level - 1);
}

/* True when va is canonical for the given number of levels (4 -> 48 bits). */
static inline bool va_canonical(uint64_t va, int levels)
{
	unsigned bits = levels == 5 ? 57 : 48;
	int64_t s = (int64_t)(va << (64 - bits)) >> (64 - bits);
	return (uint64_t)s == va;
}

/* #PF error code bits. */
#define PFEC_P (1u << 0)
#define PFEC_W (1u << 1)
#define PFEC_U (1u << 2)
#define PFEC_RSVD (1u << 3)
#define PFEC_I (1u << 4)
#define PFEC_PK (1u << 5)
/* The protection key of a leaf entry: bits 62:59 (CR4.PKE, SDM §4.6.2). */
#define GPTE_PKEY_SHIFT 59
#define GPTE_PKEY_MASK (UINT64_C(15) << GPTE_PKEY_SHIFT)
static inline uint8_t gpte_pkey(uint64_t e)
{
	return (uint8_t)((e >> GPTE_PKEY_SHIFT) & 15);
}

/* CR3 layout. */
#define CR3_PCID_MASK UINT64_C(0xfff)
#define CR3_NOFLUSH (UINT64_C(1) << 63)

/* ---- EPT entries ---- */
#define EPTE_BIT_R 0
#define EPTE_BIT_W 1
#define EPTE_BIT_X 2
#define EPTE_BIT_MT 3 /* bits 5:3 */
#define EPTE_BIT_IPAT 6
#define EPTE_BIT_PS 7
#define EPTE_BIT_A 8
#define EPTE_BIT_D 9
#define EPTE_BIT_XU 10
#define EPTE_BIT_SVE 63

#define EPTE_R (UINT64_C(1) << EPTE_BIT_R)
#define EPTE_W (UINT64_C(1) << EPTE_BIT_W)
#define EPTE_X (UINT64_C(1) << EPTE_BIT_X)
#define EPTE_RWX (EPTE_R | EPTE_W | EPTE_X)
#define EPTE_MT_MASK (UINT64_C(7) << EPTE_BIT_MT)
#define EPTE_MT_WB (UINT64_C(6) << EPTE_BIT_MT)
#define EPTE_IPAT (UINT64_C(1) << EPTE_BIT_IPAT)
#define EPTE_PS (UINT64_C(1) << EPTE_BIT_PS)
#define EPTE_A (UINT64_C(1) << EPTE_BIT_A)
#define EPTE_D (UINT64_C(1) << EPTE_BIT_D)
#define EPTE_XU (UINT64_C(1) << EPTE_BIT_XU)
#define EPTE_SVE (UINT64_C(1) << EPTE_BIT_SVE)

static inline bool epte_present(uint64_t e)
{
	return (e & EPTE_RWX) != 0;
}
/* Memory type field of a leaf (6 = WB). */
static inline unsigned epte_memtype(uint64_t e)
{
	return (unsigned)((e & EPTE_MT_MASK) >> EPTE_BIT_MT);
}

/* EPTP: bits 2:0 memory type, 5:3 walk length - 1, bit 6 A/D enable. */
#define EPTP_MT_WB UINT64_C(6)
#define EPTP_WALK_SHIFT 3
#define EPTP_AD (UINT64_C(1) << 6)

/* VMX exit reasons used by the model (SDM Vol. 3C, appendix C). */
enum exit_reason {
	EXIT_EXCEPTION = 0, /* #PF under shadow paging */
	EXIT_EXTERNAL_INTERRUPT = 1, /* a kick: the host interrupts a running vCPU */
	EXIT_INVLPG = 14,
	EXIT_CR_ACCESS = 28,
	EXIT_MSR_WRITE = 32, /* WRMSR: x2APIC ICR (send an IPI) or EOI */
	EXIT_EPT_VIOLATION = 48,
	EXIT_EPT_MISCONFIG = 49,
	EXIT_INVEPT = 50,   /* nested virtualization: L1's instructions */
	EXIT_VMREAD = 23,
	EXIT_VMRESUME = 24,
	EXIT_VMWRITE = 25,
};

#endif

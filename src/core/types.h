/*
 * types.h - address-space types shared by every module.
 *
 * vmmu keeps three address spaces apart:
 *   gva_t  guest virtual (linear) address, a plain integer;
 *   gpa_t  guest physical address, a one-field struct;
 *   hpa_t  host physical address, a one-field struct.
 * Wrapping gpa and hpa in structs makes mixing them a compile error.
 * Frame numbers (gfn_t, hfn_t) are addresses shifted right by 12.
 *
 * Invariants:
 *   - page sizes are 4 KiB, 2 MiB or 1 GiB, named by enum page_size;
 *   - table levels are numbered PT = 1, PD = 2, PDPT = 3, PML4 = 4, PML5 = 5
 *     everywhere in the project.
 */
#ifndef VMMU_TYPES_H
#define VMMU_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>

typedef uint64_t gva_t;
typedef uint64_t gfn_t;
typedef uint64_t hfn_t;
typedef struct {
	uint64_t v;
} gpa_t;
typedef struct {
	uint64_t v;
} hpa_t;

#define PAGE_SHIFT 12
#define PAGE_SIZE (UINT64_C(1) << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))

#define GPA(x) ((gpa_t){ .v = (x) })
#define HPA(x) ((hpa_t){ .v = (x) })
#define INVALID_HFN UINT64_MAX

static inline gpa_t gfn_to_gpa(gfn_t gfn)
{
	return GPA(gfn << PAGE_SHIFT);
}
static inline gfn_t gpa_to_gfn(gpa_t gpa)
{
	return gpa.v >> PAGE_SHIFT;
}
static inline hpa_t hfn_to_hpa(hfn_t hfn)
{
	return HPA(hfn << PAGE_SHIFT);
}
static inline hfn_t hpa_to_hfn(hpa_t hpa)
{
	return hpa.v >> PAGE_SHIFT;
}

/* Page sizes, smallest first; the value is also a shift index (12 + 9*n). */
enum page_size { PG_4K = 0, PG_2M = 1, PG_1G = 2, PG_NR };

static inline unsigned page_shift(enum page_size ps)
{
	return PAGE_SHIFT + 9u * (unsigned)ps;
}
static inline uint64_t page_bytes(enum page_size ps)
{
	return UINT64_C(1) << page_shift(ps);
}
/* The page size that a leaf at table level 'level' maps (1 -> 4K, 2 -> 2M, 3 -> 1G). */
static inline enum page_size level_page_size(int level)
{
	return (enum page_size)(level - 1);
}
const char *page_size_name(enum page_size ps);

/* Kind of a memory access. */
enum access_kind { ACC_READ = 0, ACC_WRITE = 1, ACC_FETCH = 2 };

/* TLB entry flags (also used in walk results). */
#define TLBF_VALID 0x01
#define TLBF_W 0x02  /* writable */
#define TLBF_U 0x04  /* user accessible */
#define TLBF_NX 0x08 /* not executable */
#define TLBF_G 0x10  /* global */
#define TLBF_D 0x20  /* dirty already set: a store needs no walk */

/* What a successful translation inserts into the TLB. */
struct tlb_fill {
	gva_t va;           /* any address within the page */
	hpa_t hpa;          /* host physical base of the page */
	enum page_size size; /* the smaller of guest and host page sizes */
	uint8_t flags;      /* TLBF_* */
	uint8_t pkey;       /* protection key of the leaf (bits 62:59) */
};

/* Geometry of one set-associative TLB array. */
struct tlb_geom {
	uint32_t sets; /* power of two */
	uint32_t ways;
};

/* Table levels. */
enum { LVL_PT = 1, LVL_PD = 2, LVL_PDPT = 3, LVL_PML4 = 4, LVL_PML5 = 5 };
#define MAX_LEVELS 5

#if defined(__GNUC__)
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#else
#define likely(x) (x)
#define unlikely(x) (x)
#endif

#endif

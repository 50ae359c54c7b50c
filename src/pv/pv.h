/*
 * pv.h - private state of the paravirtual MMU (Xen direct paging), shared
 * by the files of src/pv/ and by nothing else.
 *
 *   pv.c     the mode: domain build (the p2m and m2p tables), the 1D walk
 *            over machine frames, the direct map's write rule, the digest's
 *            canonical form, the audit
 *   mm.c     the hypervisor's page types and their validation (Xen's
 *            xen/arch/x86/mm.c), and the hypercalls: mmu_update, mmuext_op,
 *            multicall
 *
 * Page types, as Xen keeps them in page_info->u.inuse.type_info: every
 * machine frame of the guest has a type and a type count. PGT_writable
 * counts the guest's writable mappings of the frame; PGT_l1 ... PGT_l5 say
 * the frame is a validated page table of that level and count the entries
 * (and the pin) that reference it. A frame with a count of zero has no type
 * and may take any. get_page_type() refuses a type that differs from a
 * frame's current one while its count is not zero: a frame is a page table
 * or writable, never both.
 *
 * Ownership (pv->owned) is not the m2p: a frame is the domain's when the
 * domain builder allocated its extent to the domain, whether or not a guest
 * frame names it. The guest's direct map is rounded up to whole direct-map
 * pages; with a guest smaller than one 1 GiB page, its one leaf reaches
 * past the guest's memory into the owned tail of the extent, which holds
 * no guest frame and which nothing else ever gets.
 *
 * Invariants (pv_audit() checks them):
 *   - type_count[f] of a table-typed frame == (entries of table-typed
 *     frames that point at f) + pinned[f];
 *   - type_count[f] of a writable frame == writable user leaves that map f;
 *   - no table-typed frame is reachable through a writable TLB entry:
 *     translate() splits the direct map's superpage into 4 KiB entries
 *     without W over table frames, and a frame that takes a table type
 *     while a writable entry may still be cached flushes the TLB first
 *     (Xen's tlbflush_timestamp test in get_page_type()).
 */
#ifndef VMMU_PV_H
#define VMMU_PV_H

#include "../core/hypercall.h"
#include "../core/vm.h"

/* Type of a machine frame (Xen's PGT_*). */
enum pv_type {
	PGT_none = 0,
	PGT_writable = 1,
	PGT_l1 = 2, /* PGT_l1 + level - 1 for a table of 'level' */
	PGT_l2,
	PGT_l3,
	PGT_l4,
	PGT_l5,
};

static inline enum pv_type pv_table_type(int level)
{
	return (enum pv_type)(PGT_l1 + level - 1);
}

struct pv {
	uint64_t nframes; /* machine frames of the guest region */
	gfn_t *m2p;	  /* hfn -> gfn, INVALID_HFN outside the guest's physmap */
	/* The domain owns the frame (Xen's page_get_owner() == d): every frame
	 * of every extent the domain builder allocated to it. The last extent
	 * may reach past the guest's memory: those frames are owned but have
	 * no guest frame in the m2p (Xen's INVALID_M2P_ENTRY). */
	uint8_t *owned;
	uint8_t *type;	     /* enum pv_type per machine frame */
	uint8_t *last_table; /* level the frame last held as a table (digest), 0 none */
	uint8_t *pinned;
	uint8_t *initial; /* a table validated during domain build: fixed */
	bool booting;	  /* until the first MMUEXT_NEW_BASEPTR */
	uint32_t *count;  /* type count */
	/* Direct-map extents (cfg.direct_map_page): table frames in each, and
	 * the flush clock when a writable TLB entry over it was last filled. */
	unsigned ext_shift;
	uint32_t *ext_tables;
	uint32_t *ext_wstamp;
	uint32_t *wstamp; /* per frame: clock of its last writable 4 KiB fill */
	uint32_t clock;	  /* full TLB flushes, from 1 */
};

static inline struct pv *pv_of(const struct vm *vm)
{
	return (struct pv *)vm->mode_state;
}

static inline bool pv_is_table_frame(const struct pv *pv, hfn_t f)
{
	return pv->type[f] >= PGT_l1 && pv->count[f] > 0;
}

/* mm.c */
long pv_hypercall(struct vcpu *v, unsigned nr, void *args, unsigned count);
/* Flush the whole TLB and walk caches of the guest and advance the clock. */
void pv_flush_all(struct vcpu *v);

#endif

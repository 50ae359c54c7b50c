/*
 * sos.h - private interface of shadow on shadow (sos.c, spt02.c): an L2
 * guest under an L1 hypervisor that runs shadow paging for it, on an L0
 * that has no EPT and runs shadow paging too (KVM with ept=0 at L0).
 *
 * The tables:
 *   L2's tables  L2 gVA -> L2 gPA, the guest kernel's;
 *   SPT12        L2 gVA -> L1 gPA, L1's shadow tables: the shadow MMU of
 *                src/shadow (through its api.h), whose p2m stands for L1's
 *                memslot (as in shadow-on-ept), in L1's memory (the VMM
 *                region of host memory, where L1 gPA == hPA);
 *   SPT02        L2 gVA -> hPA, L0's shadow of SPT12 (this file's pages),
 *                built lazily on L2's #PFs; the hardware walks it alone, a
 *                1D walk (4 references, 4-level, walk caches off).
 * L0's p2m01 (L1 gPA -> hPA) is the identity: L0 backs an L1 frame when
 * it first maps it (for an L2 frame: when it builds the SPT02 leaf).
 *
 * To L0, SPT12 is what guest page tables are to a shadow MMU: L0 runs L2
 * on CR3 = SPT02's root, shadows each SPT12 table it walks into one SPT02
 * page keyed by (SPT12 frame, level) (kvm_mmu_get_shadow_page()),
 * write-protects that frame (account_shadowed(): a write-track count per
 * frame), and zaps the SPT02 entry an L1 store to it changes
 * (kvm_mmu_track_write() -> mmu_page_zap_pte()); the next L2 #PF through
 * it rebuilds it.
 *
 * Invariants (sos_spt02_audit()):
 *   - every present SPT02 leaf lies inside the SPT12 leaf at the same
 *     place: the same level and frame, no right SPT12 withholds
 *     ("spt02-within-spt12");
 *   - every present non-leaf SPT02 entry points at the SPT02 page of the
 *     SPT12 table that the SPT12 entry at the same place points at, one
 *     level down, and that page lists the entry among its parents
 *     ("spt02-link");
 *   - the write-track count of a frame equals the number of SPT02 pages
 *     that shadow it, so every SPT12 table SPT02 was built from is
 *     write-protected ("spt12-write-protected");
 *   - spt02.pages counts the SPT02 pages, npresent their present entries.
 */
#ifndef VMMU_NVIRT_SOS_H
#define VMMU_NVIRT_SOS_H

#include "../core/vm.h"

/* One SPT02 page: L0's shadow of one SPT12 table. */
struct sp02 {
	hfn_t t12;	     /* the SPT12 table it shadows (L1 gPA == hPA) */
	hfn_t hfn;	     /* the host frame of its 512 entries */
	int level;	     /* level of its entries */
	struct sp02 *next12; /* the other SPT02 pages of t12 (other levels) */
	uint64_t *parents;   /* hPAs of the SPT02 entries that point here */
	uint32_t nparents, parents_cap;
	uint32_t npresent;
	uint64_t audit_gen; /* == spt02.audit_gen: touched by this exit */
};

/* What one L1 store to SPT12 cost at L0, replayed as an exit when L1's
 * handler is done (see sos.c). */
enum sos_l1_kind {
	SOS_L1_FIRST, /* L1's first touch of its frame: L0 builds the SPT01 leaf */
	SOS_L1_TRAP,  /* a store to a write-protected SPT12 table: emulated */
};
struct sos_l1_exit {
	uint8_t kind;	 /* enum sos_l1_kind */
	uint32_t seg;	 /* the reflected exit of the delegated call it belongs to */
	uint32_t cycles; /* L0's handler work */
	uint64_t addr;	 /* the spte's hPA */
};

struct spt02 {
	uint64_t base;	    /* first frame of the VMM region (hm.guest_frames) */
	uint64_t n;	    /* frames of the VMM region */
	struct sp02 **by12; /* VMM frame -> the SPT02 pages shadowing it */
	struct sp02 **by02; /* VMM frame -> the SPT02 page that lives in it */
	uint16_t *wtrack;   /* VMM frame -> write-track count (L0 write-protects it) */
	uint8_t *l1map;	    /* VMM frame -> L0 maps it for L1 (an SPT01 leaf) */
	struct sp02 *root;  /* the root L2 runs on, shadowing root12 */
	uint64_t root12;    /* hPA of the SPT12 root it shadows, 0: none */
	uint64_t pages, pages_peak;
	/* The exits L1's stores took during a delegated call. */
	struct sos_l1_exit *pend;
	size_t npend, pend_cap;
	uint32_t seg_base; /* vm_exits when the delegated call began */
	/* Incremental audit: pages touched since the last exit's audit. */
	uint64_t audit_gen;
	struct sp02 *touched[32];
	unsigned ntouched;
	bool touched_overflow;
};

struct sos {
	void *sh;	 /* L1's shadow MMU: SPT12 */
	struct spt02 l0; /* L0's SPT02 */
	struct vcpu *v;	 /* the vCPU whose delegated call runs (store hook) */
	bool delegating; /* a delegated call of L1's shadow MMU runs */
};

static inline uint64_t sos_vmm_idx(const struct spt02 *t, hfn_t f)
{
	return f - t->base;
}

static inline bool sos_vmm_frame(const struct spt02 *t, hfn_t f)
{
	return f >= t->base && f - t->base < t->n;
}

/* ---- spt02.c ---- */

int spt02_init(struct vm *vm, struct spt02 *t);
void spt02_destroy(struct vm *vm, struct spt02 *t);

/*
 * The SPT02 root for the SPT12 root at root12 (kvm_mmu_load() on L2's
 * entry: the page is looked up or built, and write-protects root12). A
 * new root flushes the vCPU's TLB and paging-structure caches
 * (KVM_REQ_TLB_FLUSH_CURRENT of kvm_mmu_new_pgd()).
 */
struct sp02 *spt02_root(struct vcpu *v, struct spt02 *t, uint64_t root12);

/* What L0's software walk of SPT12 found (FNAME(walk_addr) at L0). */
struct spt12_walk {
	int leaf;			/* level of the leaf, 0 when the walk failed */
	int stop;			/* level where it stopped */
	uint64_t table[MAX_LEVELS + 1]; /* hPA of the SPT12 table at each level */
	uint64_t entry[MAX_LEVELS + 1]; /* its entry */
	uint8_t perms;			/* TLBF_W | TLBF_U | TLBF_NX of the path */
};

/*
 * L0's #PF handler for an L2 access a whose SPT02 walk failed
 * (FNAME(page_fault) at L0, with SPT12 as the guest's tables): walk SPT12
 * in software (vmm_walk_refs). When SPT12 allows the access, build the
 * SPT02 path and leaf (FNAME(fetch)), prefetch neighbours of a 4K leaf
 * (FNAME(pte_prefetch)) and return true with *cycles the handler's work;
 * otherwise return false: the #PF is L1's.
 */
bool spt02_fault(struct vcpu *v, struct spt02 *t, const struct mem_access *a, uint32_t *cycles);

/*
 * L1 stored val (was old) at SPT12 address spte_hpa (the shadow MMU's
 * store hook). L0's part: its first touch of an L1 frame (an SPT01 leaf),
 * and, when L0 write-protects the frame, the emulation that zaps the
 * SPT02 entries of every SPT02 page of the frame (kvm_mmu_track_write()
 * -> mmu_page_zap_pte()), with one TLB flush when one was present. The
 * exits are queued in t->pend (sos.c replays them).
 */
void spt02_l1_store(struct vcpu *v, struct spt02 *t, uint64_t spte_hpa);

/* The invariants of sos.h; full = every page, else the touched ones. */
const char *spt02_audit(struct vm *vm, struct spt02 *t, bool full, char *detail, size_t len);

#endif

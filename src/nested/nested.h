/*
 * nested.h - private interface of the nested paging mode (Intel EPT, AMD
 * NPT). Core never includes this header: it reaches the mode only through
 * nested_mmu_ops. Tests and the mode's own files do.
 *
 * The pieces:
 *   ept.c      the EPT tables, built by the VMM in host memory with the real
 *              entry format, filled lazily on EPT violations; the audit
 *              (the entry checks that detect an EPT misconfiguration,
 *              ept_entry_misconfig(), are inline below);
 *   walk2d.c   the two-dimensional hardware walker, reference by reference,
 *              with the 2D page-walk cache and the nested TLB;
 *   invept.c   INVEPT and INVVPID, and the flushes the guest's own
 *              instructions and world switches imply for the walk caches;
 *   nested.c   the mmu_ops instance that ties them together.
 *
 * EPTP layout (SDM Vol. 3C §25.6.11): bits 2:0 memory type (6 = WB), 5:3 walk
 * length - 1, bit 6 A/D enable, 51:12 the host-physical address of the EPT
 * root (the EP4TA, with which cached guest-physical and combined mappings
 * are tagged).
 *
 * Invariants (checked by nested_audit()):
 *   - every present EPT leaf maps a gPA range onto the frames the p2m gives
 *     it, contiguously, with the host page size chosen at install time;
 *   - every present EPT entry is well formed (no misconfiguration): RWX
 *     rights, WB memory type with ignore-PAT on leaves, no reserved bit;
 *   - ept_pages counts exactly the table pages reachable from the root;
 *   - no cached PWC_HOST entry or nested-TLB entry disagrees with memory
 *     (the VMM never changes a present EPT entry, so none is ever stale).
 */
#ifndef VMMU_NESTED_H
#define VMMU_NESTED_H

#include "../core/vm.h"
#include "api.h"
#include "../tlb/ntlb.h"
#include "../tlb/pwc2d.h"

/* ---- EPT entry checks: reserved bits (SDM Vol. 3C §29.3.3.1) ---- */

/*
 * The model's MAXPHYADDR. Host memory is far smaller than 2^46 bytes, so
 * address bits 51:46 of an EPT entry are reserved, as on processors that
 * report 46 physical-address bits.
 */
#define EPT_MAXPHYADDR 46
#define EPTE_ADDR_RSVD (PTE_FRAME_MASK & ~((UINT64_C(1) << EPT_MAXPHYADDR) - 1))
/* Bits 7:3 of a PML5E/PML4E, and of a PDPTE or PDE that references a table. */
#define EPTE_NONLEAF_RSVD (UINT64_C(0x1f) << 3)
/* Address bits below the page of a large leaf: 29:12 (1G), 20:12 (2M). */
#define EPTE_LEAF1G_RSVD (UINT64_C(0x3ffff) << 12)
#define EPTE_LEAF2M_RSVD (UINT64_C(0x1ff) << 12)

/* ---- EPT-violation exit qualification (SDM Vol. 3C table 28-7) ---- */
#define EPTQ_BIT_READ 0
#define EPTQ_BIT_WRITE 1
#define EPTQ_BIT_FETCH 2
#define EPTQ_BIT_R 3 /* the entry allowed reads (AND over levels) */
#define EPTQ_BIT_W 4
#define EPTQ_BIT_X 5
#define EPTQ_BIT_GLA_VALID 7
#define EPTQ_BIT_FINAL 8 /* set: final gPA; clear: a guest-table access */

#define EPTQ_READ (UINT64_C(1) << EPTQ_BIT_READ)
#define EPTQ_WRITE (UINT64_C(1) << EPTQ_BIT_WRITE)
#define EPTQ_FETCH (UINT64_C(1) << EPTQ_BIT_FETCH)
#define EPTQ_R (UINT64_C(1) << EPTQ_BIT_R)
#define EPTQ_W (UINT64_C(1) << EPTQ_BIT_W)
#define EPTQ_X (UINT64_C(1) << EPTQ_BIT_X)
#define EPTQ_GLA_VALID (UINT64_C(1) << EPTQ_BIT_GLA_VALID)
#define EPTQ_FINAL (UINT64_C(1) << EPTQ_BIT_FINAL)

/* AMD nested page fault, EXITINFO1 (APM Vol. 2 §15.25.6). */
#define NPF_INFO_FINAL (UINT64_C(1) << 32)
#define NPF_INFO_TABLE (UINT64_C(1) << 33)

/* One EPT violation, as data (the VMM's view of the exit). */
struct ept_violation {
	gpa_t gpa;	   /* the guest-physical address that faulted */
	gva_t gva;	   /* the linear address being translated (GLA valid) */
	uint64_t qual;	   /* exit qualification, EPTQ_* */
	uint64_t npf_info; /* the same fault as AMD's EXITINFO1 would report it */
	int guest_level;   /* guest table level being read; 0 = the final data gPA */
	int ept_level;	   /* EPT level whose entry stopped the walk */
	bool final;	   /* qualification bit 8 */
	bool not_present;  /* the EPT entry was not present (else: rights) */
};

/* What an EPT misconfiguration found. */
struct ept_misconfig {
	gpa_t gpa;
	hpa_t entry_addr;
	uint64_t entry;
	int ept_level;
	const char *why; /* static text */
};

/* ---- mode state ---- */

struct nested_state {
	uint64_t eptp;
	uint64_t ep4ta; /* eptp & PTE_FRAME_MASK: the root table */
	int levels;	/* EPT walk length, 4 or 5 */
	bool ept_ad;	/* EPTP bit 6 */
	bool use_pwc, use_ntlb;
	uint64_t ept_pages, ept_pages_peak;
	uint64_t ept_leaves[PG_NR]; /* present leaves by size */
	struct pwc2d pwc;
	struct ntlb ntlb;
	/* Several vCPUs: pwc and ntlb are vCPU 'owner''s; vpwc[n] and vntlb[n]
	 * keep vCPU n's while another runs (nested_vcpu_enter() swaps them):
	 * each logical processor has its own walk caches. NULL with one vCPU. */
	unsigned owner;
	struct pwc2d *vpwc;
	struct ntlb *vntlb;
	/* The last violation and misconfiguration (tests, explain). */
	struct ept_violation last_violation;
	struct ept_misconfig last_misconfig;
	uint64_t violations_final, violations_table;
	uint64_t ntlb_refs_skipped; /* EPT references the nested TLB saved */
	bool misconfig_pending;	    /* an abort is on its way: the audit stays quiet */
	/* An identity EPT (nested_ept_set_identity()): each leaf maps a frame
	 * onto the host frame of the same number, and the audit checks
	 * that instead of the p2m. */
	bool identity;
};

static inline struct nested_state *nested_of(struct vm *vm)
{
	return vm->mode_state;
}

/* ---- ept.c ---- */

/* Build an empty EPT (one root table) and the EPTP. Returns 0, or -1 with
 * vm->err set. */
int ept_init(struct vm *vm, struct nested_state *ns);
/* Free every EPT table page. */
void ept_destroy(struct vm *vm, struct nested_state *ns);

/*
 * Check a present EPT entry read at 'level'. Returns NULL when it is well
 * formed, else a static description of the misconfiguration.
 */
/* True when e is a leaf at 'level' (PS at levels 2 and 3, or level 1). */
static inline bool epte_leaf(uint64_t e, int level)
{
	return level == LVL_PT || ((level == LVL_PD || level == LVL_PDPT) && (e & EPTE_PS));
}

/* Inline: the 2D walker checks every EPT entry it reads from memory. */
static inline const char *ept_entry_misconfig(const struct nested_state *ns, uint64_t e, int level)
{
	(void)ns;
	/* SDM Vol. 3C §29.3.3.1: bits 2:0 = 010b or 110b (write without read). */
	if ((e & (EPTE_R | EPTE_W)) == EPTE_W)
		return "write permission without read permission";
	/* Execute-only (100b) is legal: the model reports execute-only support
	 * (IA32_VMX_EPT_VPID_CAP bit 0). */
	if (e & EPTE_ADDR_RSVD)
		return "reserved physical-address bit set (bits 51:46)";
	if (!epte_leaf(e, level)) {
		if (e & EPTE_NONLEAF_RSVD)
			return level >= LVL_PML4 && (e & EPTE_PS)
				   ? "page-size bit set in a PML4E/PML5E (reserved)"
				   : "reserved bit set in bits 7:3 of a non-leaf entry";
		return NULL;
	}
	unsigned mt = epte_memtype(e);
	if (mt == 2 || mt == 3 || mt == 7)
		return "reserved memory type (2, 3 or 7) in a leaf";
	if (level == LVL_PDPT && (e & EPTE_LEAF1G_RSVD))
		return "reserved bits 29:12 set in a 1 GiB leaf";
	if (level == LVL_PD && (e & EPTE_LEAF2M_RSVD))
		return "reserved bits 20:12 set in a 2 MiB leaf";
	return NULL;
}

/* Host-physical base of the page a leaf at 'level' maps. */
static inline uint64_t epte_leaf_frame(uint64_t e, int level)
{
	return e & PTE_FRAME_MASK & ~(page_bytes(level_page_size(level)) - 1);
}

/*
 * The EPT-violation handler's work: back gfn through the shared p2m and
 * install the EPT leaf that covers it, as large as the p2m chunk is
 * contiguous and aligned (at most cfg.host_page). Returns the level of the
 * leaf installed, or 0 when gfn is outside guest memory.
 */
int ept_map_gfn(struct vm *vm, struct nested_state *ns, gfn_t gfn);
/* The same, with the leaf at most 'max' large (a nested hypervisor's EPT02
 * leaf is no larger than its EPT12 leaf). */
int ept_map_gfn_max(struct vm *vm, struct nested_state *ns, gfn_t gfn, enum page_size max);

/*
 * A software walk of the EPT for gpa (no A/D, no cost, no trace). Returns
 * the leaf level and sets *hpa, or returns 0 when the gPA is not mapped.
 */
int ept_lookup(struct vm *vm, const struct nested_state *ns, gpa_t gpa, hpa_t *hpa);

/* Host-physical address of the EPT entry for gpa at 'level', or HPA(0) when
 * a table above it is missing (tests use it to corrupt an entry). */
hpa_t ept_entry_addr(struct vm *vm, const struct nested_state *ns, gpa_t gpa, int level);

/* The audit of the invariants above; NULL or the violated invariant's name. */
const char *ept_audit(struct vm *vm, struct nested_state *ns, char *detail, size_t len);

/* ---- walk2d.c ---- */

/* (n + 1)(m + 1) - 1 with n = m = 5, the longest walk. */
#define WALK2D_MAX_REFS 35

enum walk2d_outcome {
	W2D_OK,	       /* translated: w->fill */
	W2D_FAULT,     /* guest page fault: w->fault */
	W2D_VIOLATION, /* EPT violation: w->viol */
	W2D_MISCONFIG, /* EPT misconfiguration: w->misconfig */
};

struct walk2d {
	enum walk2d_outcome outcome;
	/* Cells of the grid the walk went through, skipped ones included
	 * (when OK). The cells themselves are not stored: each is emitted
	 * through the trace hook, which the explainer and the tests consume. */
	int ncells;
	uint32_t refs;			/* references that went to memory */
	uint32_t guest_refs, host_refs; /* refs split by dimension */
	uint32_t pwc_hits;		/* references served by the 2D PWC */
	uint32_t ntlb_hits;		/* nested walks skipped by the nested TLB */
	uint32_t ntlb_skipped;		/* EPT references those hits saved */
	int guest_leaf_level;		/* when OK */
	int host_leaf_level;		/* of the data gPA, when OK */
	gpa_t data_gpa;			/* when OK */
	struct tlb_fill fill;		/* W2D_OK */
	struct guest_fault fault;	/* W2D_FAULT */
	struct ept_violation viol;	/* W2D_VIOLATION */
	struct ept_misconfig misconfig; /* W2D_MISCONFIG */
};

/*
 * The hardware 2D walk for access a (SDM Vol. 3C §29.3.2; Bhargava et al.
 * figure 2): for each guest level, a nested walk of the gPA of that level's
 * entry, then the read of the guest entry; at the end a nested walk of the
 * data gPA. Sets guest A/D (and EPT A/D when enabled) exactly like hardware
 * does on the outcome, charges every reference through vm_walk_ref(), and
 * emits each one through TRACE. Counts pwc_hits and ntlb_hits in vm->st.
 */
enum walk2d_outcome walk2d(struct vcpu *v, struct nested_state *ns, const struct mem_access *a,
			   struct walk2d *w);
/* The same walk from a lower guest table (api.h, struct nested_start);
 * from == NULL is walk2d(). */
enum walk2d_outcome walk2d_from(struct vcpu *v, struct nested_state *ns,
				const struct mem_access *a, struct walk2d *w,
				const struct nested_start *from);

/* ---- invept.c ---- */

enum invept_type { INVEPT_SINGLE = 1, INVEPT_GLOBAL = 2 };
enum invvpid_type {
	INVVPID_ADDR = 0,
	INVVPID_SINGLE = 1,
	INVVPID_ALL = 2,
	INVVPID_SINGLE_KEEP_GLOBAL = 3,
};

/*
 * INVEPT (SDM Vol. 3C §29.4.3.1): drop guest-physical mappings (the nested
 * TLB, host entries of the PWC) and combined mappings (the TLB, guest
 * entries of the PWC) of one EP4TA (single-context) or of all (global).
 * Returns 0, or -1 (VMfail) for an unsupported type.
 */
int nested_invept(struct vcpu *v, enum invept_type type, uint64_t eptp);

/*
 * INVVPID (SDM Vol. 3C §29.4.3.3): drop linear and combined mappings (the
 * TLB, guest entries of the PWC) of one address, one VPID, all VPIDs but 0,
 * or one VPID keeping its global translations. Never touches guest-physical
 * mappings. Returns 0, or -1 (VMfail) for VPID 0 with types 0, 1 and 3, a
 * non-canonical address with type 0, or an unsupported type.
 */
int nested_invvpid(struct vcpu *v, enum invvpid_type type, uint16_t vpid, gva_t gva);

/* The guest-dimension flushes that the guest's own instructions and world
 * switches imply (the mmu_ops hooks call these). */
void nested_flush_on_cr3(struct vcpu *v);
void nested_flush_on_invlpg(struct vcpu *v, gva_t gva);
void nested_flush_on_guest_flush(struct vcpu *v, bool all);
void nested_flush_on_world_switch(struct vcpu *v);

#endif

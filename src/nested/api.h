/*
 * api.h - the public face of the nested paging mode: what a sibling mode
 * may call.
 *
 * A mode that reuses nested paging's mechanism (src/switching composes
 * shadow and nested paging) includes this header and nothing else of
 * src/nested (tests/check-layering.sh enforces it).
 *
 * Caller's duty, for every function below: while it runs, vm->mode_state
 * is the state that nested_mmu_ops.init put there, and vm->mmu is
 * &nested_mmu_ops.
 */
#ifndef VMMU_NESTED_API_H
#define VMMU_NESTED_API_H

#include "../core/mmu.h"

extern const struct mmu_ops nested_mmu_ops;

/* Nested paging's state, opaque to siblings: nested_mmu_ops.init() leaves
 * it in vm->mode_state. */
struct nested_state;

/*
 * Where a 2D walk starts when it does not start at guest CR3: the hardware
 * of agile paging (Gandhi et al., ISCA'16) walks the shadow table first
 * and hands the rest of the walk to the 2D walker at the guest table that
 * a switching spte points to.
 */
struct nested_start {
	int level;	    /* level of the guest table the walk starts in */
	uint64_t table_gpa; /* its guest-physical address */
	uint64_t table_hpa; /* its host-physical address, or 0: translate
			     * table_gpa through the EPT like any guest table */
	uint8_t perms;	    /* TLBF_W | TLBF_U | TLBF_NX granted above it */
	int step0;	    /* trace steps already used by the walk's first part */
	bool hw_rights;	    /* check the hardware's rights (v->hw_rights), not
			     * the guest's: the tables are a VMM's shadow
			     * tables, run with the controls the mode forces */
};

/*
 * Nested paging's translate() on an explicit state: the 2D walk of access
 * a from 'from' (NULL: from guest CR3, as nested_mmu_ops.translate), EPT
 * violations handled (an exit, XLATE_RETRY), guest faults returned as
 * XLATE_FAULT. On XLATE_OK, out->refs counts the walk's references (also
 * added to walk_refs_guest and walk_refs_host), *data_gpa (when not NULL)
 * gets the gPA of the access and *guest_leaf its guest leaf level.
 * Unlike the functions below, it reads no vm->mode_state: the caller may
 * keep its own state there.
 */
enum xlate_result nested_translate_from(struct vcpu *v, struct nested_state *ns,
					struct mem_access *a, struct xlate *out,
					const struct nested_start *from, gpa_t *data_gpa,
					int *guest_leaf);

/*
 * For a nested hypervisor's L0 (src/nvirt), whose EPT is EPT02, built
 * from its guest hypervisor's EPT12 and its own EPT01. None of these reads
 * vm->mode_state: the caller passes the state nested_mmu_ops.init made.
 */

/* An EPT violation, as the walk found it. */
struct nested_violation {
	gpa_t gpa;	 /* the guest-physical address that faulted */
	gva_t gva;	 /* the linear address being translated */
	bool final;	 /* the final gPA (else a guest page-table access) */
	int guest_level; /* guest table level being read; 0 = the data gPA */
};

/*
 * nested_translate_from(v, ns, a, out, NULL, NULL, NULL), except that an
 * EPT violation is not handled: XLATE_RETRY with *viol filled, no exit
 * counted and nothing installed. The caller handles it (installing the
 * EPT leaf with nested_ept_map() or not) and accounts the exit.
 */
enum xlate_result nested_translate_noexit(struct vcpu *v, struct nested_state *ns,
					  struct mem_access *a, struct xlate *out,
					  struct nested_violation *viol);

/*
 * nested_translate_noexit() for a walk that starts at 'from' (a nested
 * hypervisor's shadow root: shadow on EPT, where the hardware walks L1's
 * SPT12 over EPT01).
 */
enum xlate_result nested_translate_noexit_from(struct vcpu *v, struct nested_state *ns,
					       struct mem_access *a, struct xlate *out,
					       const struct nested_start *from,
					       struct nested_violation *viol);

/*
 * Make the (still empty) EPT of ns an identity EPT: nested_ept_map() then
 * maps frame gfn onto host frame gfn, for any frame of host memory, with
 * a leaf as large as 'max' and cfg.host_page allow inside host memory,
 * and the audit checks each leaf against that instead of the p2m. Shadow
 * on EPT's EPT01 over L1's memory, where L1 gPA == hPA.
 */
void nested_ept_set_identity(struct nested_state *ns);

/*
 * Drop the guest dimension of the 2D page-walk cache of v's VPID (the
 * cached guest table entries), the EPT dimension and the nested TLB kept:
 * for a caller that changed guest table entries behind the walker's back
 * (shadow on EPT: L1 changed an SPT12 entry). Counts nothing.
 */
void nested_flush_guest_walks(struct vcpu *v, struct nested_state *ns);

/*
 * Install the EPT leaf that maps gfn, backing gfn through the shared p2m
 * (the EPT-violation handler's work, without its exit), at most 'max'
 * large. Returns the leaf's level, 0 when gfn is outside guest memory.
 */
int nested_ept_map(struct vm *vm, struct nested_state *ns, gfn_t gfn, enum page_size max);

/* The level of the EPT leaf that maps gpa, 0 when none does. */
int nested_ept_level(struct vm *vm, const struct nested_state *ns, gpa_t gpa);

/*
 * Clear the EPT leaf that maps gfn, if one does, and drop every cached
 * guest-physical and combined mapping of the EPT (INVEPT single-context of
 * its EPTP). Returns the level of the leaf cleared, or 0.
 */
int nested_ept_unmap(struct vcpu *v, struct nested_state *ns, gfn_t gfn);

/*
 * Free every EPT table and start again from an empty root (KVM's
 * kvm_mmu_free_roots() of the shadow EPT), then drop every cached mapping
 * (INVEPT single-context). Returns the number of table pages freed.
 */
uint64_t nested_ept_reset(struct vcpu *v, struct nested_state *ns);

/*
 * INVEPT global (SDM Vol. 3C §29.4.3.1): drop every guest-physical and
 * combined mapping: the TLB, both halves of the 2D page-walk cache and the
 * nested TLB. The EPT itself stays: it only ever follows the p2m. Counted
 * as one TLB flush.
 */
void nested_flush_all(struct vcpu *v);

/*
 * The EPT as an IOMMU's second-level table (src/iommu, --iommu-share-ept):
 * nested_ept_root() gives the host-physical address of the EPT root and,
 * in *levels, the walk length; nested_ept_prefill() installs the EPT leaf
 * of gfn now, as an EPT violation would (the device cannot take one), and
 * returns the leaf's level, or 0 when gfn is outside guest memory. VT-d's
 * second-level entry keeps R, W and PS where EPT keeps them, which is what
 * lets one table serve both (Xen's iommu_hap_pt_share).
 */
uint64_t nested_ept_root(struct vm *vm, int *levels);
int nested_ept_prefill(struct vm *vm, gfn_t gfn);

#endif

/*
 * mmu.h - struct mmu_ops, the only seam between core and an MMU mode.
 *
 * Core calls a mode through these hooks and nothing else; core never includes
 * a mode's private header and never switches on a mode's name. native,
 * shadow and nested each export one const instance.
 *
 * Contract of translate(): core calls it after a TLB miss (or a TLB hit whose
 * permissions or dirty state do not allow the access). The mode walks its
 * tables, charges walk references through walk_ref_cost(), and returns
 *   XLATE_OK     with out->fill describing the TLB entry to insert; core
 *                inserts it and completes the access at out->fill.hpa;
 *   XLATE_FAULT  with out->fault: a guest #PF that the guest kernel must
 *                handle (native and nested: directly; shadow: injected);
 *                core delivers it to guest-mm and retries the access;
 *   XLATE_RETRY  the mode fixed something behind the guest's back (a hidden
 *                fault, an EPT violation, a dirty-bit exit): core retries;
 *   XLATE_DONE   the mode performed the access itself (shadow emulation of a
 *                store to a write-protected guest table); for a load the
 *                value is in a->value. Core does not touch memory.
 * Every hook runs with the vCPU's architectural state already updated by core
 * (e.g. on_cr3_load sees the new CR3 in v->cr3).
 */
#ifndef VMMU_MMU_H
#define VMMU_MMU_H

#include "types.h"

struct vm;
struct vcpu;
struct stats;
struct paging_ctl;

/* One memory access as the vCPU issues it. */
struct mem_access {
	gva_t gva;
	enum access_kind kind;
	uint8_t size;  /* 1, 2, 4 or 8; never crosses a page */
	bool user;     /* CPL 3 */
	uint64_t value; /* store: value to write; load: filled by XLATE_DONE */
};

/* A guest page fault, as data. */
struct guest_fault {
	gva_t gva;
	uint32_t error_code; /* PFEC_* */
	int level;           /* table level where the walk stopped */
};

enum xlate_result { XLATE_OK, XLATE_FAULT, XLATE_RETRY, XLATE_DONE };

struct xlate {
	struct tlb_fill fill;
	struct guest_fault fault;
	/* Hardware walk references this call made (shadow: of the shadow tables;
	 * nested: guest + host). Core adds them to walk_refs and walks on
	 * XLATE_OK, to fault_walk_refs otherwise. The VMM's software walks are
	 * not hardware references: count those in vmm_walk_refs. */
	uint32_t refs;
};

struct mmu_ops {
	const char *name;
	const char *desc; /* one line for `vmmu list` */
	/* No VMM: guest-physical is host-physical (the p2m is the identity). */
	bool identity_p2m;
	/* Walks are two-dimensional: walk_refs == walk_refs_guest + walk_refs_host
	 * (checked by stats_check()). */
	bool two_dim;
	/* The hardware runs with CR0.WP = 1 and EFER.NXE = 1 whatever the
	 * guest writes (shadow paging: KVM keeps X86_CR0_WP in
	 * KVM_VM_CR0_ALWAYS_ON without EPT, and EFER.NX on for its sptes); the
	 * mode implements the guest's CR0.WP = 0 and NXE = 0 in its tables. */
	bool forces_wp_nx;
	/* The run-time form of forces_wp_nx, for a mode whose forced controls
	 * change while it runs or are not both of them (switching: shadow
	 * paging's while shadow paging is active, none under nested paging;
	 * agile: CR0.WP only). *hw holds the guest's controls on entry; the
	 * hook sets the ones the hardware runs with. NULL: forces_wp_nx
	 * decides. A mode whose answer changes calls cpu_rights_update(). */
	void (*hw_ctl)(const struct vcpu *v, struct paging_ctl *hw);
	/* The mode cannot run a guest with CR0.WP = 0: its init refuses
	 * --wp off, and a guest that clears WP later ends the run with a
	 * guest-level error. Tests skip those cases for it. */
	bool refuses_wp0;
	/* The mode runs a guest with CR4.PKE (protection keys): its walks
	 * check PKRU (walk_check_access()). KVM exposes PKU to a guest only
	 * with TDP (kvm_set_cpu_caps()), Xen only to HVM guests; a mode
	 * without it refuses --pke on. */
	bool has_pke;
	/* The guest kernel runs paravirtualized: it picks its paravirtual hooks
	 * at boot (guest-mm reads this fact), keeps machine frames in its page
	 * tables and reaches the hypervisor through cpu_hypercall()
	 * (core/hypercall.h) instead of storing to its tables. */
	bool paravirt;
	/* The mode runs several vCPUs (--vcpus > 1): per-vCPU roots or walk
	 * caches, remote flushes (smp.h). A mode without it refuses --vcpus > 1. */
	bool smp;
	/* two_dim: what the explainer calls the host table the hardware walks,
	 * and who built it (nested virtualization: "EPT02"); NULL: "EPT". */
	const char *host_table;
	/* two_dim: what the narrator calls the table of the guest dimension
	 * when it is not the guest's own (shadow on EPT: "SPT12"); NULL: the
	 * guest's tables. */
	const char *guest_table;
	const char *host_table_note; /* one line for the explainer, or NULL */
	/* Allocate mode state into vm->mode_state. Returns 0, or -1 with vm->err set. */
	int (*init)(struct vm *vm);
	void (*destroy)(struct vm *vm);
	/* See the contract above. Called only on a TLB miss: never on a hit. */
	enum xlate_result (*translate)(struct vcpu *v, struct mem_access *a, struct xlate *out);
	/* The guest loaded CR3 (core already applied the architectural TLB flush). */
	void (*on_cr3_load)(struct vcpu *v, uint64_t old_cr3);
	/* The guest executed INVLPG gva (core already flushed the TLB entry). */
	void (*on_invlpg)(struct vcpu *v, gva_t gva);
	/* The guest flushed its TLB: all = true for everything, false for the current PCID. */
	void (*on_tlb_flush)(struct vcpu *v, bool all);
	/* The guest changed CR0.WP, CR4.SMEP, CR4.SMAP or EFER.NXE (core already
	 * recomputed the rights and flushed the TLB and walk caches). */
	void (*on_ctl_change)(struct vcpu *v);
	/* A VM exit and re-entry happened (core already applied the VPID-off flush). */
	void (*on_world_switch)(struct vcpu *v);
	/* Check the mode's invariants. Returns NULL or the violated invariant's name;
	 * 'detail' gets a human explanation. May be NULL (nothing to audit). */
	const char *(*audit)(struct vm *vm, char *detail, size_t len);
	/* The same invariants, checked only where the exit just handled may
	 * have broken them (the entries it touched), for --audit after every
	 * exit. May be NULL: the full audit runs instead. */
	const char *(*audit_exit)(struct vm *vm, char *detail, size_t len);
	/* paravirt: one hypercall from the guest kernel (core/hypercall.h).
	 * Returns 0 or a negative error. NULL: the mode takes none. */
	long (*hypercall)(struct vcpu *v, unsigned nr, void *args, unsigned count);
	/* The guest digest reads host frame 'hfn' (of guest frame gfn): rewrite
	 * the copy in 'words' into the form native paging would hold (a
	 * paravirtual mode turns machine frames in page tables back into
	 * guest-physical ones, as Xen's canonicalize_pagetable() does when it
	 * saves a PV guest). NULL: frames are hashed as they are. */
	void (*digest_canon)(struct vm *vm, hfn_t hfn, uint64_t *words);
	/* Copy mode-specific peaks and counters into *s at the end of a run. */
	void (*stats)(struct vm *vm, struct stats *s);
};

#endif

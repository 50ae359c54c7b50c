/*
 * api.h - the public face of the shadow MMU: what a sibling mode may call.
 *
 * A mode that reuses shadow paging's mechanism (src/switching composes
 * shadow and nested paging) includes this header and nothing else of
 * src/shadow (tests/check-layering.sh enforces it). Everything declared
 * here works on the shadow state in vm->mode_state.
 *
 * Caller's duty, for every function below: while it runs, vm->mode_state
 * is the state that shadow_mmu_ops.init put there, and vm->mmu is
 * &shadow_mmu_ops (so that exits taken inside reach shadow's own hooks).
 */
#ifndef VMMU_SHADOW_API_H
#define VMMU_SHADOW_API_H

#include "../core/mmu.h"

extern const struct mmu_ops shadow_mmu_ops;

/*
 * Drop every shadow page, the current root and the cached previous roots
 * included (KVM's kvm_mmu_zap_all() after kvm_mmu_unload()): afterwards no
 * guest frame is write-protected and the next translation builds the root
 * again, lazily, as after boot. Flushes the paging-structure caches of the
 * vCPU. The handler work (cost.vmm_spte per spte dropped) is charged to
 * cyc_vmm. Returns the number of shadow pages dropped.
 */
uint64_t shadow_drop_all(struct vcpu *v);

/*
 * The host-physical address of the shadow root the hardware runs on for
 * v's guest CR3, or 0 when none is loaded for it yet (the next
 * shadow_mmu_ops.translate() builds it). Shadow on EPT starts the
 * hardware's 2D walk there (struct nested_start).
 */
uint64_t shadow_root_hpa(struct vcpu *v);

/* What the VMM's software walk of the guest tables found. */
struct shadow_gwalk {
	int leaf;		       /* level of the leaf gpte */
	uint64_t gpte[MAX_LEVELS + 1]; /* entry at each level, after A/D update */
	gpa_t addr[MAX_LEVELS + 1];    /* its guest-physical address */
	uint8_t perms;		       /* TLBF_W | TLBF_U | TLBF_NX of the whole path */
	gfn_t gfn;		       /* the 4K guest frame the access lands in */
	bool set_d;		       /* this walk set D on the leaf */
	struct guest_fault fault;      /* when the walk failed */
};

/*
 * The VMM's software walk of the guest tables of v->cr3 for a (KVM's
 * FNAME(walk_addr)), through the p2m, each reference charged as
 * vmm_walk_refs: on success A on every entry and D on a write's leaf,
 * exactly as the hardware walker would, and true; on a fault nothing set,
 * false and w->fault. Reads no vm->mode_state: any mode may call it.
 */
bool shadow_guest_walk(struct vcpu *v, const struct mem_access *a, struct shadow_gwalk *w);

/*
 * A hypervisor below the shadow MMU's (shadow on shadow: L0 under an L1
 * whose shadow MMU this is) write-protects the shadow tables it shadows
 * in turn, so it sees every store to an spte: fn(ctx, spte_hpa, old, val)
 * is called after each, while the shadow MMU's handler runs (with its
 * state in vm->mode_state). fn must not call the shadow MMU. NULL: no
 * hook.
 */
typedef void (*shadow_store_fn)(void *ctx, uint64_t spte_hpa, uint64_t old, uint64_t val);
void shadow_set_store_hook(struct vm *vm, shadow_store_fn fn, void *ctx);

#endif

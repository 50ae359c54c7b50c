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

#endif

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

/*
 * INVEPT global (SDM Vol. 3C §29.4.3.1): drop every guest-physical and
 * combined mapping: the TLB, both halves of the 2D page-walk cache and the
 * nested TLB. The EPT itself stays: it only ever follows the p2m. Counted
 * as one TLB flush.
 */
void nested_flush_all(struct vcpu *v);

#endif

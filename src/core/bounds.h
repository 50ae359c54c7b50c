/*
 * bounds.h - how large a simulated machine may be, and whether its
 * bookkeeping fits in this host's memory.
 *
 * Every structure the user sizes is bounded by what real hardware has, times
 * a generous factor, so that a typo (--itlb 65536x1024) is an error rather
 * than gigabytes of allocation. The real figures:
 *
 *   TLB arrays    largest real: AMD Zen 4's L2 DTLB, 3072 entries, 24 ways
 *                 (128 sets); fully associative L1 DTLBs of 72-96 entries.
 *                 Bound: SETS a power of two <= 4096, WAYS <= 1024,
 *                 SETS x WAYS <= 65536 entries (21x Zen 4's L2 DTLB).
 *   PSC           Intel's paging-structure caches: 32 PDE entries at most.
 *                 Bound: 4096 entries per level (128x).
 *   2D PWC, nTLB  AMD's page-walk cache and nested TLB: tens of entries.
 *                 Bound: 4096 entries each (64x a 64-entry cache).
 *   shadow cap    KVM's default is 2% of guest pages (KVM_PERMILLE_MMU_PAGES
 *                 = 20 per mille, kvm_mmu_calculate_default_mmu_pages()).
 *                 Bound: one shadow page per guest page (50x the default).
 *   shadow roots  KVM keeps 3 previous roots (KVM_MMU_NUM_PREV_ROOTS).
 *                 Bound: 1024.
 *
 * Guest memory is not refused on its size alone: host memory is reserved
 * with MAP_NORESERVE and costs only what the guest touches. What does cost
 * memory up front is the per-frame bookkeeping (budget_per_frame() bytes for
 * each 4 KiB guest frame); config_check_budget() refuses a guest whose
 * bookkeeping alone exceeds the memory available.
 *
 * Invariants:
 *   - vm_create_ops() checks both, so the API and every command obey them;
 *   - a config that passes config_check_bounds() allocates at most a few
 *     MiB for its TLBs and walk caches, whatever the values.
 */
#ifndef VMMU_BOUNDS_H
#define VMMU_BOUNDS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define BOUND_TLB_SETS 4096u
#define BOUND_TLB_WAYS 1024u
#define BOUND_TLB_ENTRIES 65536u
#define BOUND_PSC_ENTRIES 4096u
#define BOUND_PWC_ENTRIES 4096u
#define BOUND_NTLB_ENTRIES 4096u
#define BOUND_SHADOW_ROOTS 1024u

/* 0 when every size of c is within the bounds above; else -1 with err
 * naming the flag, the value and the bound. */
int config_check_bounds(const struct vm_config *c, char *err, size_t errlen);

/* Bytes of bookkeeping kept for each 4 KiB guest frame, whatever the guest
 * touches: the p2m entry, the guest kernel's frame table (refcount and
 * kind) and a mode's reverse map (shadow). */
uint64_t budget_per_frame(void);

/* Bytes of memory this process may still use: /proc/meminfo's MemAvailable,
 * or RLIMIT_AS when lower; UINT64_MAX when neither is known. */
uint64_t budget_available(void);

/*
 * Does the bookkeeping of a guest of c->guest_mem bytes fit in 'avail'
 * bytes? Returns 0, or -1 with err giving both figures.
 */
int config_check_budget(const struct vm_config *c, uint64_t avail, char *err, size_t errlen);

#endif

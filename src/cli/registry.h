/*
 * registry.h - the one list of MMU modes and workloads, and lookup by name.
 *
 * Core never names a mode, and no mode names a sibling: a front end reaches
 * the modes through this registry alone. Adding a mode means writing its
 * folder (src/<mode>/, exporting one const struct mmu_ops named
 * <mode>_mmu_ops) and adding one X(<mode>) line to VMMU_MODES below; a
 * workload likewise exports workload_<name> and gets one X(<name>) line in
 * VMMU_WORKLOADS.
 *
 * Invariants:
 *   - mmu_modes[] and workloads[] are NULL-terminated, in the order of the
 *     lists below (which is the order of `vmmu list` and of compare's rows);
 *   - names are unique (test_workloads and test_cli check it).
 */
#ifndef VMMU_REGISTRY_H
#define VMMU_REGISTRY_H

#include <stddef.h>

#include "../core/mmu.h"
#include "../core/vm.h"
#include "../../workloads/workload.h"
#include "../iommu/api.h"

/* The modes, in listing order: one line each. */
#define VMMU_MODES(X) \
	X(native)     \
	X(shadow)     \
	X(nested)     \
	X(switching)  \
	X(agile)      \
	X(pv)         \
	X(nept)       \
	X(shadow_on_ept)  \
	X(pvm)           \
	X(shadow_on_shadow)

/* The workloads, in listing order: one line each. */
#define VMMU_WORKLOADS(X) \
	X(seq)            \
	X(random)         \
	X(ptrchase)       \
	X(kv)             \
	X(faults)         \
	X(fork)           \
	X(ctxswitch)      \
	X(mmap_churn)     \
	X(procs)          \
	X(phases)         \
	X(dma)            \
	X(random_mt)      \
	X(mmap_churn_mt)  \
	X(kv_mt)          \
	X(fork_mt)

#define VMMU_DECLARE_MODE(m) extern const struct mmu_ops m##_mmu_ops;
#define VMMU_DECLARE_WORKLOAD(w) extern const struct workload workload_##w;
VMMU_MODES(VMMU_DECLARE_MODE)
VMMU_WORKLOADS(VMMU_DECLARE_WORKLOAD)

/* All modes, for `vmmu list` and lookup by name. NULL-terminated. */
extern const struct mmu_ops *const mmu_modes[];
/* The mode called name, or NULL. */
const struct mmu_ops *mmu_find(const char *name);

/* All workloads (trace replay is not among them: it needs a trace).
 * NULL-terminated. */
extern const struct workload *const workloads[];
/* The workload called name, or NULL. */
const struct workload *workload_find(const char *name);

/* vm_create_ops() with the mode that cfg->mode names, and the I/O platform
 * (src/iommu/api.h) attached. Returns NULL with *err set, for an unknown
 * mode too. */
struct vm *vm_create(const struct vm_config *cfg, char *err, size_t errlen);

#endif

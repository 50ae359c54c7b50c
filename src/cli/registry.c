/*
 * registry.c - the lists of MMU modes and workloads (see registry.h) and
 * lookup by name.
 */
#include <stdio.h>
#include <string.h>

#include "registry.h"

#define VMMU_MODE_ENTRY(m) &m##_mmu_ops,
#define VMMU_WORKLOAD_ENTRY(w) &workload_##w,

const struct mmu_ops *const mmu_modes[] = {VMMU_MODES(VMMU_MODE_ENTRY) NULL};

const struct workload *const workloads[] = {VMMU_WORKLOADS(VMMU_WORKLOAD_ENTRY) NULL};

const struct mmu_ops *mmu_find(const char *name)
{
	for (int i = 0; mmu_modes[i]; i++)
		if (name && strcmp(mmu_modes[i]->name, name) == 0)
			return mmu_modes[i];
	return NULL;
}

const struct workload *workload_find(const char *name)
{
	for (const struct workload *const *w = workloads; *w; w++)
		if (name && strcmp((*w)->name, name) == 0)
			return *w;
	return NULL;
}

struct vm *vm_create(const struct vm_config *cfg, char *err, size_t errlen)
{
	const struct mmu_ops *mode = mmu_find(cfg->mode);
	if (!mode) {
		snprintf(err, errlen, "unknown mode '%s' (see 'vmmu list')", cfg->mode);
		return NULL;
	}
	struct vm *vm = vm_create_ops(cfg, mode, err, errlen);
	if (vm && iommu_attach(vm, err, errlen) != 0) {
		vm_destroy(vm);
		return NULL;
	}
	return vm;
}

/*
 * modes.c - the registry of MMU modes, for lookup by name and `vmmu list`.
 */
#include <string.h>

#include "../core/mmu.h"

const struct mmu_ops *const mmu_modes[] = {
	&native_mmu_ops,
	&shadow_mmu_ops,
	&nested_mmu_ops,
	NULL,
};

const struct mmu_ops *mmu_find(const char *name)
{
	for (int i = 0; mmu_modes[i]; i++)
		if (name && strcmp(mmu_modes[i]->name, name) == 0)
			return mmu_modes[i];
	return NULL;
}

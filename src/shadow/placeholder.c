/*
 * placeholder.c - stands in for the shadow mode until it is built: vm_create()
 * fails with "not built yet". Delete this file when shadow_mmu_ops is defined
 * by the real implementation.
 */
#include <stdio.h>

#include "../core/vm.h"

static int shadow_not_built(struct vm *vm)
{
	snprintf(vm->err, sizeof(vm->err), "mode 'shadow' is not built yet");
	return -1;
}

const struct mmu_ops shadow_mmu_ops = {
	.name = "shadow",
	.desc = "not built yet",
	.init = shadow_not_built,
};

/*
 * placeholder.c - stands in for the nested mode until it is built: vm_create()
 * fails with "not built yet". Delete this file when nested_mmu_ops is defined
 * by the real implementation.
 */
#include <stdio.h>

#include "../core/vm.h"

static int nested_not_built(struct vm *vm)
{
	snprintf(vm->err, sizeof(vm->err), "mode 'nested' is not built yet");
	return -1;
}

const struct mmu_ops nested_mmu_ops = {
	.name = "nested",
	.desc = "not built yet",
	.init = nested_not_built,
};

/*
 * numa.c - the simulated NUMA host (numa.h states the model).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numa.h"
#include "vm.h"

static bool numa_on(const struct vm *vm)
{
	return vm->numa.node != NULL;
}

int numa_init(struct vm *vm, char *err, size_t errlen)
{
	unsigned n = vm->cfg.host_nodes;
	if (n <= 1)
		return 0;
	if (n > NUMA_MAX_NODES) {
		snprintf(err, errlen, "host nodes must be 1..%u", NUMA_MAX_NODES);
		return -1;
	}
	vm->numa.node = malloc(vm->hm.nframes);
	vm->numa.gnode = malloc(vm->p2m.nframes);
	if (!vm->numa.node || !vm->numa.gnode) {
		numa_destroy(vm);
		snprintf(err, errlen, "out of memory for the NUMA node maps");
		return -1;
	}
	memset(vm->numa.node, NUMA_NONE, vm->hm.nframes);
	memset(vm->numa.gnode, NUMA_NONE, vm->p2m.nframes);
	return 0;
}

void numa_destroy(struct vm *vm)
{
	free(vm->numa.node);
	free(vm->numa.gnode);
	vm->numa.node = vm->numa.gnode = NULL;
}

unsigned numa_vcpu_node(const struct vm *vm, const struct vcpu *v)
{
	unsigned n = vm->cfg.host_nodes;
	return n > 1 ? v->id % n : 0;
}

/* The node a new table frame (numbered 'frame') gets under the policy. */
static uint8_t table_node(const struct vm *vm, uint64_t frame)
{
	unsigned n = vm->cfg.host_nodes, here = numa_vcpu_node(vm, vm->cur);
	switch (vm->cfg.pt_place) {
	case PT_INTERLEAVE:
		return (uint8_t)(frame % n);
	case PT_REMOTE:
		return (uint8_t)((here + 1) % n);
	case PT_FIRST_TOUCH:
	case PT_REPLICATE:
		break;
	}
	return (uint8_t)here;
}

void numa_place_vmm_table(struct vm *vm, hfn_t hfn)
{
	if (numa_on(vm) && hfn < vm->hm.nframes)
		vm->numa.node[hfn] = table_node(vm, hfn);
}

void numa_place_guest_table(struct vm *vm, gfn_t gfn)
{
	if (!numa_on(vm) || gfn >= vm->p2m.nframes)
		return;
	uint8_t n = table_node(vm, gfn);
	vm->numa.gnode[gfn] = n;
	hfn_t h = p2m_lookup(vm, gfn);
	if (h != INVALID_HFN && h < vm->hm.nframes)
		vm->numa.node[h] = n;
}

void numa_backed(struct vm *vm, gfn_t gfn, hfn_t hfn)
{
	if (numa_on(vm) && gfn < vm->p2m.nframes && hfn < vm->hm.nframes)
		vm->numa.node[hfn] = vm->numa.gnode[gfn];
}

uint32_t numa_walk_ref(struct vm *vm, uint64_t hpa, int level, uint32_t latency)
{
	if (!numa_on(vm))
		return latency;
	hfn_t h = hpa >> PAGE_SHIFT;
	uint8_t n = h < vm->hm.nframes ? vm->numa.node[h] : NUMA_NONE;
	bool local = vm->cfg.pt_place == PT_REPLICATE || n == NUMA_NONE ||
		     n == numa_vcpu_node(vm, vm->cur);
	if (local) {
		vm->st.walk_refs_local++;
		return latency;
	}
	vm->st.walk_refs_remote++;
	return level == CACHE_DRAM ? vm->cost.ref_remote : latency;
}

bool numa_replicating(const struct vm *vm)
{
	return numa_on(vm) && vm->cfg.pt_place == PT_REPLICATE;
}

void numa_replica_store(struct vm *vm, bool guest)
{
	if (!numa_replicating(vm))
		return;
	uint64_t copies = vm->cfg.host_nodes - 1;
	vm->st.pt_replica_stores += copies;
	if (guest)
		vm->st.cyc_guest += copies * vm->cost.ref_remote;
	else
		vm->st.cyc_vmm += copies * vm->cost.ref_remote;
}

/*
 * roi.c - region-of-interest markers and the full statistics snapshot
 * (see roi.h).
 */
#include "roi.h"

#include "memstat.h"
#include "vm.h"

void vm_read_stats(struct vm *vm, struct stats *out)
{
	struct stats *s = &vm->st;

	vm_sync_stats(vm);
	s->l2_tlb_hits = vm->vcpu.tlb.c.l2_hits;
	if (vm->mmu->stats)
		vm->mmu->stats(vm, s);
	if (!vm->p2m.identity)
		s->host_frames_peak = vm->hm.peak;
	s->vmm_heap_bytes = memstat_heap_bytes();
	*out = *s;
}

int vm_roi_begin(struct vm *vm)
{
	if (vm->roi.state != ROI_NONE)
		return ROI_ERR_BEGUN;
	vm_read_stats(vm, &vm->roi.begin);
	vm->roi.state = ROI_OPEN;
	return 0;
}

int vm_roi_end(struct vm *vm)
{
	if (vm->roi.state != ROI_OPEN)
		return ROI_ERR_NOT_BEGUN;
	vm_read_stats(vm, &vm->roi.end);
	vm->roi.state = ROI_CLOSED;
	return 0;
}

bool vm_roi_stats(const struct vm *vm, const struct stats *whole, struct stats *out)
{
	if (vm->roi.state == ROI_NONE)
		return false;
	stats_delta(out, vm->roi.state == ROI_CLOSED ? &vm->roi.end : whole, &vm->roi.begin);
	return true;
}

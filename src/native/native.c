/*
 * native.c - native paging: no VMM. Guest-physical is host-physical (the
 * p2m is the identity), the hardware walks the guest's own tables in one
 * dimension, and a guest #PF goes straight to the guest kernel. Nothing
 * exits.
 */
#include "../core/walk.h"

static enum xlate_result native_translate(struct vcpu *v, struct mem_access *a, struct xlate *out)
{
	struct walk1d w;
	bool ok = walk1d(v, v->cr3 & PTE_FRAME_MASK, a, DIM_NATIVE, true, &w);
	out->refs = w.refs;
	if (!ok) {
		out->fault = w.fault;
		return XLATE_FAULT;
	}
	out->fill = w.fill;
	return XLATE_OK;
}

const struct mmu_ops native_mmu_ops = {
	.name = "native",
	.desc = "no hypervisor: 1D walks of the guest tables, guest-physical = host-physical",
	.identity_p2m = true,
	.has_pke = true,
	.smp = true,
	.translate = native_translate,
};

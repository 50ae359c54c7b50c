/*
 * l1call.c - one call into L1's shadow MMU (struct nv_shadow_call): the
 * dispatch that shadow-on-ept, pvm and shadow-on-shadow share. Each of them
 * does what surrounds the call (whose state is in vm->mode_state, the
 * landing point, the exits and work the call stands for) in its own file.
 */
#include "nvirt.h"
#include "../shadow/api.h"

void nv_shadow_call_run(void *arg)
{
	struct nv_shadow_call *c = arg;

	switch (c->hook) {
	case NV_SH_TRANSLATE:
		c->r = shadow_mmu_ops.translate(c->v, c->a, c->out);
		break;
	case NV_SH_CR3:
		shadow_mmu_ops.on_cr3_load(c->v, c->arg);
		break;
	case NV_SH_INVLPG:
		shadow_mmu_ops.on_invlpg(c->v, (gva_t)c->arg);
		break;
	case NV_SH_FLUSH:
		shadow_mmu_ops.on_tlb_flush(c->v, c->all);
		break;
	case NV_SH_CTL:
		shadow_mmu_ops.on_ctl_change(c->v);
		break;
	}
}

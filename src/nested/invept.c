/*
 * invept.c - invalidation under nested paging: INVEPT, INVVPID, and what
 * the guest's own INVLPG, MOV to CR3 and TLB flushes, and VM entries and
 * exits with VPID off, do to the walk caches.
 *
 * The SDM (Vol. 3C §29.4.1) sorts cached translations into three kinds:
 *   linear mappings          (not used with EPT on: the model has none)
 *   guest-physical mappings  gPA -> hPA, tagged by EP4TA: the nested TLB
 *                            and the EPT entries of the 2D PWC (PWC_HOST)
 *   combined mappings        gVA -> hPA, tagged by EP4TA, VPID and PCID:
 *                            the TLB and the guest entries of the 2D PWC
 *                            (PWC_GUEST)
 * and says which operation drops which (§29.4.3):
 *   INVEPT single-context    guest-physical + combined, one EP4TA
 *   INVEPT global            guest-physical + combined, all EP4TAs
 *   INVVPID individual-addr  linear + combined for one address of one VPID
 *   INVVPID single-context   linear + combined of one VPID
 *   INVVPID all-context      linear + combined of every VPID but 0
 *   INVVPID single, globals  as single-context, keeping global translations
 *   VM entry / exit, VPID 0  linear + combined of VPID 0 (§29.4.3.1 note:
 *                            guest-physical mappings survive)
 * and for the guest's own instructions (Vol. 3A §4.10.4.1):
 *   INVLPG                   the page's TLB entries; every paging-structure
 *                            cache entry of the current PCID
 *   MOV to CR3               entries of the new PCID, unless bit 63 is set
 *   INVPCID all / one PCID   entries of every PCID / of the current one
 * Core applies the TLB side of the guest's instructions and of world
 * switches; this file applies the rest.
 *
 * The TLB has no EP4TA tag. One VM has one EPTP, so every combined
 * mapping in it derives from that EPTP, and an INVEPT of that EPTP drops the
 * whole TLB; an INVEPT of another EPTP drops nothing from it.
 */
#include "nested.h"
#include "api.h"

/* ---- private helpers ---- */

static void inv_count(struct vm *vm, uint64_t dropped, const char *what)
{
	vm->st.tlb_flushes++;
	vm->st.tlb_entries_flushed += dropped;
	vm->st.cyc_flush += vm->cost.tlb_flush;
	TRACE(vm, .kind = TR_TLB_FLUSH, .result = dropped, .cycles = vm->cost.tlb_flush,
	      .what = what);
}

/* ---- INVEPT, INVVPID ---- */

int nested_invept(struct vcpu *v, enum invept_type type, uint64_t eptp)
{
	struct vm *vm = v->vm;
	struct nested_state *ns = nested_of(vm);
	uint64_t n = 0;
	switch (type) {
	case INVEPT_SINGLE: {
		uint64_t ep4ta = eptp & PTE_FRAME_MASK;
		if (ep4ta == ns->ep4ta)
			n += tlb_flush_all(&v->tlb);
		pwc2d_flush_ep4ta(&ns->pwc, ep4ta);
		ntlb_flush_ep4ta(&ns->ntlb, ep4ta);
		inv_count(vm, n, "INVEPT single-context");
		return 0;
	}
	case INVEPT_GLOBAL:
		n += tlb_flush_all(&v->tlb);
		pwc2d_flush_all(&ns->pwc);
		ntlb_flush_all(&ns->ntlb);
		inv_count(vm, n, "INVEPT global");
		return 0;
	}
	return -1;
}

int nested_invvpid(struct vcpu *v, enum invvpid_type type, uint16_t vpid, gva_t gva)
{
	struct vm *vm = v->vm;
	struct nested_state *ns = nested_of(vm);
	uint64_t n = 0;
	if (type != INVVPID_ALL && vpid == 0)
		return -1; /* VMfailValid: VPID 0 is the host's */
	switch (type) {
	case INVVPID_ADDR:
		if (!va_canonical(gva, vm->cfg.levels))
			return -1;
		/* Every PCID of the VPID. */
		n = tlb_flush_addr_vpid(&v->tlb, vpid, gva);
		pwc2d_flush_guest_vpid(&ns->pwc, vpid);
		inv_count(vm, n, "INVVPID individual-address");
		return 0;
	case INVVPID_SINGLE:
		n = tlb_flush_vpid(&v->tlb, vpid);
		pwc2d_flush_guest_vpid(&ns->pwc, vpid);
		inv_count(vm, n, "INVVPID single-context");
		return 0;
	case INVVPID_ALL:
		n = tlb_flush_all_guests(&v->tlb);
		pwc2d_flush_guest_nonzero(&ns->pwc);
		inv_count(vm, n, "INVVPID all-context");
		return 0;
	case INVVPID_SINGLE_KEEP_GLOBAL:
		n = tlb_flush_nonglobal(&v->tlb, vpid);
		pwc2d_flush_guest_vpid(&ns->pwc, vpid);
		inv_count(vm, n, "INVVPID single-context, retaining globals");
		return 0;
	}
	return -1;
}

/* ---- the guest's own instructions, and world switches ---- */

void nested_flush_on_cr3(struct vcpu *v)
{
	if (!v->cr3_noflush)
		pwc2d_flush_guest_pcid(&nested_of(v->vm)->pwc, v->vpid, vcpu_pcid(v));
}

void nested_flush_on_invlpg(struct vcpu *v, gva_t gva)
{
	(void)gva; /* paging-structure caches: the whole PCID, whatever the address */
	pwc2d_flush_guest_pcid(&nested_of(v->vm)->pwc, v->vpid, vcpu_pcid(v));
}

void nested_flush_on_guest_flush(struct vcpu *v, bool all)
{
	struct nested_state *ns = nested_of(v->vm);
	if (all)
		pwc2d_flush_guest_vpid(&ns->pwc, v->vpid);
	else
		pwc2d_flush_guest_pcid(&ns->pwc, v->vpid, vcpu_pcid(v));
}

void nested_flush_on_world_switch(struct vcpu *v)
{
	if (!v->vm->cfg.vpid)
		pwc2d_flush_guest_vpid(&nested_of(v->vm)->pwc, 0);
}

/* ---- api.h ---- */

void nested_flush_all(struct vcpu *v)
{
	(void)nested_invept(v, INVEPT_GLOBAL, nested_of(v->vm)->eptp);
}

uint64_t nested_ept_root(struct vm *vm, int *levels)
{
	const struct nested_state *ns = nested_of(vm);
	*levels = ns->levels;
	return ns->ep4ta;
}

int nested_ept_prefill(struct vm *vm, gfn_t gfn)
{
	return ept_map_gfn(vm, nested_of(vm), gfn);
}

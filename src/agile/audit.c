/*
 * audit.c - agile paging's invariants (agile.h), checked after every VM
 * exit under --audit: the shadowed part agrees with gpte o p2m (spte is a
 * subset of what the guest entry and the p2m allow), the nested part
 * obeys the EPT invariants of nested paging, and write protection holds.
 */
#include <stdio.h>

#include "agile.h"

#define AUDIT_FAIL(name, ...)                       \
	do {                                        \
		snprintf(detail, len, __VA_ARGS__); \
		return name;                        \
	} while (0)

/* Rights of an entry (RW, US, and NX as "X denied") e may not exceed g's,
 * unless e is g's cr0.wp = 0 conversion (ag_spte_rights()) while the guest
 * runs with CR0.WP = 0. */
static bool rights_within(uint64_t e, uint64_t g, const struct paging_ctl *ctl)
{
	if (!ctl->wp && !(g & GPTE_RW) &&
	    (e & AGILE_SPTE_RIGHTS) == ag_spte_rights(g, true, ctl->smep))
		return true;
	if ((e & GPTE_RW) && !(g & GPTE_RW))
		return false;
	if ((e & GPTE_US) && !(g & GPTE_US))
		return false;
	if (!(e & GPTE_NX) && (g & GPTE_NX))
		return false;
	return true;
}

static const char *audit_entry(struct vm *vm, const struct agile *ag, const struct ag_page *p,
			       unsigned i, uint64_t e, char *detail, size_t len)
{
	const uint64_t at = (p->hfn << PAGE_SHIFT) + 8u * i;
	if (p->direct) {
		if (p->level == LVL_PT) {
			gfn_t g = p->gfn + i;
			if ((e & PTE_FRAME_MASK) != (p2m_lookup(vm, g) << PAGE_SHIFT))
				AUDIT_FAIL("agile-spte-p2m",
					   "direct spte at hPA %#" PRIx64 " maps %#" PRIx64
					   ", p2m gives gfn %#" PRIx64 " another frame",
					   at, pte_frame(e), g);
			if ((e & GPTE_RW) && (!p->dirty || ag->prot[g]))
				AUDIT_FAIL("agile-write-protect",
					   "direct spte at hPA %#" PRIx64
					   " is writable over gfn %#" PRIx64 " (clean or a table)",
					   at, g);
		}
		return NULL;
	}
	uint64_t g = gpa_read64(vm, GPA((p->gfn << PAGE_SHIFT) + 8u * i));
	if (!gpte_present(g) || !(g & GPTE_A))
		AUDIT_FAIL("agile-spte-gpte",
			   "spte at hPA %#" PRIx64 " is present, gpte %#" PRIx64
			   " (table gfn %#" PRIx64 " level %d) is not present with A",
			   at, g, p->gfn, p->level);
	if (!rights_within(e, g, &vm->vcpu.ctl))
		AUDIT_FAIL("agile-spte-rights",
			   "spte %#" PRIx64 " at hPA %#" PRIx64 " grants more than gpte %#" PRIx64,
			   e, at, g);
	gfn_t child = pte_frame(g) >> PAGE_SHIFT;
	if (e & AGILE_SPTE_SWITCH) {
		if (p->level == LVL_PT || gpte_large(g, p->level) || !ag->is_nested[child])
			AUDIT_FAIL("agile-switch",
				   "switching entry at hPA %#" PRIx64 " for a guest entry %#" PRIx64
				   " whose table is not in nested mode",
				   at, g);
		if (pte_frame(e) != (p2m_lookup(vm, child) << PAGE_SHIFT))
			AUDIT_FAIL("agile-switch-p2m",
				   "switching entry at hPA %#" PRIx64 " points at %#" PRIx64
				   ", the guest table gfn %#" PRIx64 " is elsewhere",
				   at, pte_frame(e), child);
		return NULL;
	}
	if (p->level == LVL_PT) {
		if (pte_frame(e) != (p2m_lookup(vm, child) << PAGE_SHIFT))
			AUDIT_FAIL("agile-spte-p2m",
				   "leaf spte at hPA %#" PRIx64 " maps %#" PRIx64 ", gpte %#" PRIx64
				   " and the p2m say otherwise",
				   at, pte_frame(e), g);
		if ((e & GPTE_RW) && (!(g & GPTE_D) || ag->prot[child]))
			AUDIT_FAIL("agile-write-protect",
				   "leaf spte at hPA %#" PRIx64 " is writable over gfn %#" PRIx64
				   " (clean, or holding a shadowed table)",
				   at, child);
		return NULL;
	}
	const struct ag_page *c = ag_page_of_hfn(ag, pte_frame(e) >> PAGE_SHIFT);
	if (!c)
		AUDIT_FAIL("agile-link", "link at hPA %#" PRIx64 " points at no shadow page", at);
	bool ok =
	    gpte_large(g, p->level)
		? c->direct && c->level == p->level - 1 && c->gfn == (pte_frame(g) >> PAGE_SHIFT)
		: !c->direct && c->level == p->level - 1 && c->gfn == child;
	if (!ok)
		AUDIT_FAIL("agile-link",
			   "link at hPA %#" PRIx64 " points at page (gfn %#" PRIx64
			   ", level %d) that does not stand for gpte %#" PRIx64,
			   at, c->gfn, c->level, g);
	return NULL;
}

const char *agile_audit(struct vm *vm, char *detail, size_t len)
{
	struct agile *ag = agile_of(vm);
	for (const struct ag_page *p = ag->all; p; p = p->all_next) {
		if (!p->direct && ag->is_nested[p->gfn])
			AUDIT_FAIL("agile-nested-unshadowed",
				   "table gfn %#" PRIx64 " is in nested mode and still shadowed",
				   p->gfn);
		for (unsigned i = 0; i < 512; i++) {
			uint64_t e = hpa_read64(vm, HPA((p->hfn << PAGE_SHIFT) + 8u * i));
			if (!gpte_present(e))
				continue;
			const char *bad = audit_entry(vm, ag, p, i, e, detail, len);
			if (bad)
				return bad;
		}
	}
	vm->mode_state = ag->ns;
	const char *bad = nested_mmu_ops.audit(vm, detail, len);
	vm->mode_state = ag;
	return bad;
}

/*
 * policy.c - agile paging's VMM policy: which guest tables are shadowed and
 * which are in nested mode (Gandhi, Hill and Swift, ISCA'16: the VMM policy).
 *
 *   shadow -> nested   guest tables start shadowed, write-protected. A
 *                      table that takes cfg.agile_writes trapped stores
 *                      (default 2: "more than one" modification, the
 *                      paper's rule) goes to nested mode: its shadow pages
 *                      are zapped, which drops its write protection and
 *                      unlinks it from the shadow tables above; the next
 *                      walk through it installs a switching entry there
 *                      (agile.c, ag_fetch()). The tables below it are then
 *                      reached in nested mode as well: a walk switches once.
 *   nested -> shadow   the paper's VMM scans, periodically, the EPT dirty
 *                      bits of the frames holding nested-mode tables and
 *                      takes back to shadow mode the tables not written
 *                      since the last scan. The model scans every
 *                      cfg.agile_interval accesses and tells "written" by
 *                      a hash of the table's 512 entries against the one
 *                      taken at the previous scan (a stand-in for the D
 *                      bit that is exact for every store that changes an
 *                      entry); each table scanned costs cost.vmm_spte, the
 *                      price of reading one EPT entry. A quiet table loses
 *                      its switching entries; the next walk through it
 *                      shadows it again and write-protects it.
 * Each change of mode counts once in mode_switches and emits a trace event
 * ("agile: table ... to nested/shadow mode").
 */
#include <stdlib.h>

#include "agile.h"

/* ---- private helpers ---- */

static uint64_t table_hash(struct vm *vm, gfn_t gfn)
{
	hfn_t h = p2m_lookup(vm, gfn);
	if (h == INVALID_HFN)
		return 0;
	uint64_t x = UINT64_C(0xcbf29ce484222325);
	for (unsigned i = 0; i < 512; i++) {
		x ^= hpa_read64(vm, HPA((h << PAGE_SHIFT) + 8u * i));
		x *= UINT64_C(0x100000001b3);
	}
	return x;
}

/* ---- API ---- */

void ag_table_to_nested(struct vcpu *v, gfn_t gfn)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	if (ag->is_nested[gfn])
		return;
	if (ag->nnested == ag->nested_cap) {
		ag->nested_cap = ag->nested_cap ? 2 * ag->nested_cap : 64;
		struct ag_nested *n = realloc(ag->nested, ag->nested_cap * sizeof(*n));
		if (!n)
			vm_abort(vm, "out of memory for agile paging's nested-mode tables");
		ag->nested = n;
	}
	ag->is_nested[gfn] = 1;
	ag->nested[ag->nnested++] = (struct ag_nested){.gfn = gfn, .hash = table_hash(vm, gfn)};
	ag->writes[gfn] = 0;
	unsigned zapped = ag_zap_gfn(v, gfn);
	vm->st.mode_switches++;
	TRACE(vm, .kind = TR_VMM_OP, .dim = DIM_HOST, .addr = gfn_to_gpa(gfn).v, .result = zapped,
	      .what = "agile: table to nested mode (written often)");
}

void ag_table_to_shadow(struct vcpu *v, gfn_t gfn)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	if (!ag->is_nested[gfn])
		return;
	for (uint32_t i = 0; i < ag->nnested; i++) {
		if (ag->nested[i].gfn == gfn) {
			ag->nested[i] = ag->nested[--ag->nnested];
			break;
		}
	}
	ag->is_nested[gfn] = 0;
	ag->writes[gfn] = 0;
	ag_drop_switches(v, gfn);
	vm->st.mode_switches++;
	TRACE(vm, .kind = TR_VMM_OP, .dim = DIM_SHADOW, .addr = gfn_to_gpa(gfn).v,
	      .what = "agile: table to shadow mode (quiet for an interval)");
}

void ag_policy_write(struct vcpu *v, gfn_t gfn)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	uint32_t limit = vm->cfg.agile_writes;
	if (!limit || ag->is_nested[gfn])
		return;
	if (ag->writes[gfn] < UINT16_MAX)
		ag->writes[gfn]++;
	if (ag->writes[gfn] >= limit)
		ag_table_to_nested(v, gfn);
}

void ag_policy_tick(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct agile *ag = agile_of(vm);
	vm_stats_fold(vm); /* accesses as of now */
	if (vm->st.accesses < ag->scan_mark)
		ag->scan_mark = vm->st.accesses; /* statistics reset after boot */
	if (!vm->cfg.agile_interval || vm->st.accesses - ag->scan_mark < vm->cfg.agile_interval)
		return;
	ag->scan_mark = vm->st.accesses;
	for (uint32_t i = 0; i < ag->nnested;) {
		struct ag_nested *t = &ag->nested[i];
		uint64_t h = table_hash(vm, t->gfn);
		ag->cyc += vm->cost.vmm_spte;
		if (h == t->hash) {
			ag_table_to_shadow(v, t->gfn); /* moves the last one into slot i */
			continue;
		}
		t->hash = h;
		i++;
	}
}

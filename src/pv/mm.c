/*
 * mm.c - the paravirtual hypervisor's memory management: page types and
 * their validation, and the hypercalls mmu_update, mmuext_op and
 * multicall. Each rule follows Xen's xen/arch/x86/mm.c (x86-64 PV guests):
 *
 *   get_page_type() / put_page_type()    a frame's type and type count; a
 *                                        table type is taken after the
 *                                        table validates (alloc_lN_table(),
 *                                        every entry examined) and dropped
 *                                        with its entries' references
 *                                        (free_lN_table());
 *   get_page_from_lNe() / put_page_from_lNe()
 *                                        an entry's reference on what it
 *                                        maps: a writable leaf takes
 *                                        PGT_writable on its frames, a
 *                                        non-leaf takes the next level's
 *                                        table type on its child; a frame
 *                                        outside the guest is refused;
 *   mod_lN_entry()                       one mmu_update: an entry whose
 *                                        frame and rights do not change is
 *                                        written without reference work
 *                                        (the l1e_has_changed() fast path);
 *                                        the new references are taken
 *                                        before the old ones are dropped;
 *   do_mmuext_op()                       pin (MMUEXT_PIN_Ln_TABLE takes the
 *                                        table type and holds it), unpin,
 *                                        MMUEXT_NEW_BASEPTR (the base must
 *                                        be a pinned top-level table),
 *                                        MMUEXT_TLB_FLUSH_LOCAL,
 *                                        MMUEXT_INVLPG_LOCAL;
 *   do_multicall()                       each entry's call in order, its
 *                                        result in the entry.
 *
 * Costs: each hypercall's transition is charged cost.pv_hypercall to
 * cyc_exit (a multicall once); each mmu_update entry cost.pv_update, each
 * entry examined to type or untype a table cost.pv_validate and each
 * mmuext op cost.pv_mmuext to cyc_vmm. The instructions an op executes
 * for the guest (MOV to CR3, INVLPG, a flush) are charged as the guest's
 * own would be (cpu_write_cr3() and friends).
 *
 * The domain-built direct map: the guest kernel's boot tables map all of
 * its memory with supervisor superpages (Linux maps it with 4 KiB pages
 * under Xen). Their leaves take no writable type; instead the write rule
 * is enforced on each 4 KiB frame when the walk fills the TLB (pv.c), and
 * the tables that hold them can never be updated.
 */
#include "pv.h"
#include "../core/cpu.h"

/* ---- helpers ---- */

/* The frame is the domain's (Xen: page_get_owner(page) == d in get_page()).
 * Ownership, not the m2p: the direct map's last superpage may cover the
 * owned tail of the last extent, where no guest frame lives (pv.h). */
static bool pv_owned(const struct pv *pv, hfn_t f)
{
	return f > 0 && f < pv->nframes && pv->owned[f];
}

static bool pv_is_table(enum pv_type t)
{
	return t >= PGT_l1;
}

static bool pv_leaf(uint64_t e, int level)
{
	return level == LVL_PT || gpte_large(e, level);
}

/* Leaves of the domain-built direct map: supervisor superpages in a table
 * that validated during boot (pv->initial). */
static bool pv_direct_leaf(const struct pv *pv, hfn_t table, uint64_t e, int level)
{
	return pv->initial[table] && gpte_large(e, level) && !(e & GPTE_US);
}

void pv_flush_all(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct pv *pv = pv_of(vm);
	uint64_t n = tlb_flush_vpid(&v->tlb, v->vpid);
	psc_flush_vpid(&v->psc, v->vpid);
	vm->st.tlb_flushes++;
	vm->st.tlb_entries_flushed += n;
	vm->st.pv_type_flushes++;
	vm->st.cyc_flush += vm->cost.tlb_flush;
	pv->clock++;
	TRACE(vm, .kind = TR_TLB_FLUSH, .result = n,
	      .what = "hypervisor flush before a frame becomes a page table");
}

static long get_entry_ref(struct vm *vm, hfn_t table, uint64_t e, int level);
static void put_entry_ref(struct vm *vm, hfn_t table, uint64_t e, int level);

/* Validate or release every entry of table f at 'level'. */
static long table_validate(struct vm *vm, hfn_t f, int level)
{
	uint64_t *w = hpa_ptr(vm, HPA(f << PAGE_SHIFT));
	for (unsigned i = 0; i < PAGE_SIZE / 8; i++) {
		vm->st.pv_validated++;
		vm->st.cyc_vmm += vm->cost.pv_validate;
		long r = get_entry_ref(vm, f, w[i], level);
		if (r < 0) {
			while (i-- > 0)
				put_entry_ref(vm, f, w[i], level);
			return r;
		}
	}
	return 0;
}

static void table_release(struct vm *vm, hfn_t f, int level)
{
	uint64_t *w = hpa_ptr(vm, HPA(f << PAGE_SHIFT));
	for (unsigned i = 0; i < PAGE_SIZE / 8; i++) {
		vm->st.pv_validated++;
		vm->st.cyc_vmm += vm->cost.pv_validate;
		put_entry_ref(vm, f, w[i], level);
	}
}

/* get_page_type(): take a reference of type t on frame f. */
static long get_page_type(struct vm *vm, hfn_t f, enum pv_type t)
{
	struct pv *pv = pv_of(vm);
	if (pv->count[f]) {
		if (pv->type[f] != t)
			return -PV_EINVAL; /* a table, or writable, never both */
		pv->count[f]++;
		return 0;
	}
	if (pv_is_table(t)) {
		/* A writable TLB entry may still map the frame: flush first
		 * (Xen: the page's tlbflush_timestamp against the CPU's). */
		if (pv->wstamp[f] == pv->clock || pv->ext_wstamp[f >> pv->ext_shift] == pv->clock)
			pv_flush_all(&vm->vcpu);
		pv->type[f] = (uint8_t)t; /* recursion sees it as in validation */
		pv->count[f] = 1;
		pv->initial[f] = pv->booting;
		long r = table_validate(vm, f, (int)(t - PGT_l1) + 1);
		if (r < 0) {
			pv->type[f] = PGT_none;
			pv->count[f] = 0;
			pv->initial[f] = 0;
			return r;
		}
		pv->last_table[f] = (uint8_t)(t - PGT_l1 + 1);
		pv->ext_tables[f >> pv->ext_shift]++;
		TRACE(vm, .kind = TR_VMM_OP, .level = (int)(t - PGT_l1) + 1,
		      .table_addr = f << PAGE_SHIFT, .result = PAGE_SIZE / 8,
		      .cycles = (PAGE_SIZE / 8) * vm->cost.pv_validate, .what = "table validated");
		return 0;
	}
	pv->type[f] = (uint8_t)t;
	pv->count[f] = 1;
	pv->last_table[f] = 0;
	return 0;
}

/* put_page_type(): drop one reference; at zero the frame loses its type. */
static void put_page_type(struct vm *vm, hfn_t f)
{
	struct pv *pv = pv_of(vm);
	if (pv->count[f] == 0)
		vmmu_bug("pv-type-count", "type reference dropped on frame %#" PRIx64 " at 0", f);
	if (--pv->count[f])
		return;
	enum pv_type t = (enum pv_type)pv->type[f];
	if (pv_is_table(t)) {
		table_release(vm, f, (int)(t - PGT_l1) + 1);
		TRACE(vm, .kind = TR_VMM_OP, .level = (int)(t - PGT_l1) + 1,
		      .table_addr = f << PAGE_SHIFT, .result = PAGE_SIZE / 8,
		      .cycles = (PAGE_SIZE / 8) * vm->cost.pv_validate, .what = "table released");
		pv->ext_tables[f >> pv->ext_shift]--;
		pv->initial[f] = 0;
	}
	pv->type[f] = PGT_none;
}

/* Frames a leaf at 'level' maps. */
static uint64_t leaf_frames(int level)
{
	return page_bytes(level_page_size(level)) >> PAGE_SHIFT;
}

/* get_page_from_lNe(): the reference entry e of table 'table' takes. */
static long get_entry_ref(struct vm *vm, hfn_t table, uint64_t e, int level)
{
	struct pv *pv = pv_of(vm);
	if (!gpte_present(e))
		return 0;
	bool leaf = pv_leaf(e, level);
	hfn_t f = (leaf ? gpte_leaf_frame(e, level) : pte_frame(e)) >> PAGE_SHIFT;
	uint64_t n = leaf ? leaf_frames(level) : 1;
	for (uint64_t i = 0; i < n; i++)
		if (!pv_owned(pv, f + i))
			return -PV_EPERM; /* not the guest's frame */
	if (!leaf)
		return get_page_type(vm, f, pv_table_type(level - 1));
	if (!(e & GPTE_RW) || pv_direct_leaf(pv, table, e, level))
		return 0;
	for (uint64_t i = 0; i < n; i++) {
		long r = get_page_type(vm, f + i, PGT_writable);
		if (r < 0) {
			while (i-- > 0)
				put_page_type(vm, f + i);
			return r;
		}
	}
	return 0;
}

/* put_page_from_lNe(). */
static void put_entry_ref(struct vm *vm, hfn_t table, uint64_t e, int level)
{
	struct pv *pv = pv_of(vm);
	if (!gpte_present(e))
		return;
	bool leaf = pv_leaf(e, level);
	hfn_t f = (leaf ? gpte_leaf_frame(e, level) : pte_frame(e)) >> PAGE_SHIFT;
	if (!leaf) {
		put_page_type(vm, f);
		return;
	}
	if (!(e & GPTE_RW) || pv_direct_leaf(pv, table, e, level))
		return;
	for (uint64_t i = 0; i < leaf_frames(level); i++)
		put_page_type(vm, f + i);
}

/* ---- the hypercalls ---- */

/* The bits whose change needs no reference work (l1e_has_changed()). */
#define PV_REF_BITS (PTE_FRAME_MASK | GPTE_P | GPTE_RW | GPTE_PS)

/* mod_lN_entry(): one update. */
static long pv_mmu_update_one(struct vm *vm, const struct mmu_update *u)
{
	struct pv *pv = pv_of(vm);
	hfn_t f = u->ptr >> PAGE_SHIFT;
	if ((u->ptr & 3) != MMU_NORMAL_PT_UPDATE || !pv_owned(pv, f))
		return -PV_EPERM;
	if (!pv_is_table((enum pv_type)pv->type[f]) || pv->initial[f])
		return -PV_EINVAL; /* not a page table the guest may update */
	int level = pv->type[f] - PGT_l1 + 1;
	hpa_t slot = HPA(u->ptr & ~UINT64_C(7));
	uint64_t old = hpa_read64(vm, slot);
	vm->st.cyc_vmm += vm->cost.pv_update;
	if (((old ^ u->val) & PV_REF_BITS) || !gpte_present(u->val)) {
		long r = get_entry_ref(vm, f, u->val, level);
		if (r < 0)
			return r;
		put_entry_ref(vm, f, old, level);
	}
	hpa_write64(vm, slot, u->val);
	vm->st.pv_pt_updates++;
	TRACE(vm, .kind = TR_VMM_OP, .level = level, .entry_addr = slot.v, .entry = u->val,
	      .cycles = vm->cost.pv_update, .what = "mmu_update validated");
	return 0;
}

static long pv_mmu_update(struct vcpu *v, struct mmu_update *u, unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		long r = pv_mmu_update_one(v->vm, &u[i]);
		if (r < 0) {
			v->vm->st.pv_refused++;
			return r;
		}
	}
	return 0;
}

static const char *pv_mmuext_name(unsigned cmd)
{
	switch (cmd) {
	case MMUEXT_UNPIN_TABLE:
		return "mmuext unpin table";
	case MMUEXT_NEW_BASEPTR:
		return "mmuext new baseptr";
	case MMUEXT_TLB_FLUSH_LOCAL:
		return "mmuext TLB flush";
	case MMUEXT_INVLPG_LOCAL:
		return "mmuext INVLPG";
	default:
		return "mmuext pin table";
	}
}

static long pv_mmuext_one(struct vcpu *v, const struct mmuext_op *op)
{
	struct vm *vm = v->vm;
	struct pv *pv = pv_of(vm);
	vm->st.pv_mmuext_ops++;
	vm->st.cyc_vmm += vm->cost.pv_mmuext;
	hfn_t f = op->arg;
	TRACE(vm, .kind = TR_VMM_OP, .result = op->cmd, .cycles = vm->cost.pv_mmuext,
	      .gva = op->cmd == MMUEXT_INVLPG_LOCAL ? op->arg : 0,
	      .table_addr = op->cmd <= MMUEXT_NEW_BASEPTR || op->cmd == MMUEXT_PIN_L5_TABLE
				? f << PAGE_SHIFT
				: 0,
	      .what = pv_mmuext_name(op->cmd));
	switch (op->cmd) {
	case MMUEXT_PIN_L1_TABLE:
	case MMUEXT_PIN_L2_TABLE:
	case MMUEXT_PIN_L3_TABLE:
	case MMUEXT_PIN_L4_TABLE:
	case MMUEXT_PIN_L5_TABLE: {
		int level = op->cmd == MMUEXT_PIN_L5_TABLE ? 5 : (int)op->cmd + 1;
		if (!pv_owned(pv, f))
			return -PV_EPERM;
		if (pv->pinned[f])
			return -PV_EINVAL;
		long r = get_page_type(vm, f, pv_table_type(level));
		if (r < 0)
			return r;
		pv->pinned[f] = 1;
		return 0;
	}
	case MMUEXT_UNPIN_TABLE:
		if (!pv_owned(pv, f))
			return -PV_EPERM;
		if (!pv->pinned[f])
			return -PV_EINVAL;
		pv->pinned[f] = 0;
		put_page_type(vm, f);
		return 0;
	case MMUEXT_NEW_BASEPTR:
		if (!pv_owned(pv, f))
			return -PV_EPERM;
		if (!pv->pinned[f] || pv->type[f] != pv_table_type(vm->cfg.levels))
			return -PV_EINVAL;
		pv->booting = false;
		cpu_write_cr3(v, (f << PAGE_SHIFT) | op->arg2);
		return 0;
	case MMUEXT_TLB_FLUSH_LOCAL:
		cpu_flush_tlb(v, op->arg2 != 0);
		return 0;
	case MMUEXT_INVLPG_LOCAL:
		cpu_invlpg(v, op->arg);
		return 0;
	default:
		return -PV_EINVAL;
	}
}

static long pv_mmuext(struct vcpu *v, struct mmuext_op *ops, unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		long r = pv_mmuext_one(v, &ops[i]);
		if (r < 0) {
			v->vm->st.pv_refused++;
			return r;
		}
	}
	return 0;
}

static long pv_dispatch(struct vcpu *v, unsigned nr, void *args, unsigned count)
{
	switch (nr) {
	case HYPERVISOR_mmu_update:
		return pv_mmu_update(v, args, count);
	case HYPERVISOR_mmuext_op:
		return pv_mmuext(v, args, count);
	default:
		return -PV_ENOSYS;
	}
}

long pv_hypercall(struct vcpu *v, unsigned nr, void *args, unsigned count)
{
	struct vm *vm = v->vm;
	vm->st.hypercalls++;
	vm->st.cyc_exit += vm->cost.pv_hypercall;
	TRACE(vm, .kind = TR_VMM_OP, .result = count, .cycles = vm->cost.pv_hypercall,
	      .what = nr == HYPERVISOR_multicall    ? "hypercall multicall"
		      : nr == HYPERVISOR_mmu_update ? "hypercall mmu_update"
						    : "hypercall mmuext_op");
	if (nr != HYPERVISOR_multicall)
		return pv_dispatch(v, nr, args, count);
	struct multicall_entry *ent = args; /* do_multicall() */
	for (unsigned i = 0; i < count; i++)
		ent[i].result = pv_dispatch(v, ent[i].op, ent[i].args, ent[i].count);
	return 0;
}

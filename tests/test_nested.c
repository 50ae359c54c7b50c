/*
 * test_nested.c - the nested paging mode (src/nested): exact 2D reference
 * counts, lazy EPT fill and its violations, misconfigurations, guest and EPT
 * A/D, splintering, the walk caches and their accounting, INVEPT/INVVPID
 * and the guest's own flushes, and equivalence with native paging.
 *
 * Two kinds of fixture:
 *   - hand-built guest tables written with gpa_write64() (the VMM's view:
 *     frames are backed by the p2m but the EPT is empty), so that every
 *     reference, violation and A/D bit is predictable;
 *   - whole workloads through run_workload(), for the issue's end-to-end
 *     counts and the native-equivalence oracle.
 *
 * Hand-built guest-physical layout:
 *
 *   gfn 0x10  PML5 (5-level only)     gfn 0x11  PML4
 *   gfn 0x12  PDPT                     gfn 0x13  PD
 *   gfn 0x14  PT
 *   VA_4K + i pages -> gfn 0x100 + i  P|RW|US, except
 *       i = 1   P|US          (user, read-only)
 *       i = 2   P|RW|G        (supervisor, global)
 *       i = 3   P|RW|US|NX
 *       i = 15  maps the PT itself (gfn 0x14), P|RW|US
 *       i = 16  not present
 *   VA_2M           -> gfn 0x200  2M leaf, P|RW|US|PS
 *
 * All of gfn 0x10..0x1ff lies in one 2M chunk: with 2M or 1G host pages the
 * first walk takes a single EPT violation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/core/cpu.h"
#include "../src/lib/run.h"
#include "../src/nested/nested.h"
#include "../src/cli/registry.h"

#define VA_4K UINT64_C(0x0000555500000000)
#define VA_2M (VA_4K + UINT64_C(0x200000))
#define PG(i) (VA_4K + (uint64_t)(i)*PAGE_SIZE)
#define TBL(g) ((uint64_t)(g) << PAGE_SHIFT)
#define UP (GPTE_P | GPTE_RW | GPTE_US)
#define SENTINEL UINT64_C(0x5a5aa5a5c3c33c3c)

/* ---- fixtures ---- */

static struct vm_config ncfg(void)
{
	struct vm_config c;
	config_defaults(&c);
	c.mode = "nested";
	c.guest_mem = UINT64_C(2) << 30;
	c.walk_caches = false;
	return c;
}

static struct vm *mk(const struct vm_config *c)
{
	char err[256] = "";
	struct vm *vm = vm_create(c, err, sizeof(err));
	if (!vm)
		fail_msg("vm_create: %s", err);
	return vm;
}

static void build_tables(struct vm *vm)
{
	int levels = vm->cfg.levels;
	uint64_t top = levels == 5 ? TBL(0x10) : TBL(0x11);
	if (levels == 5)
		gpa_write64(vm, GPA(TBL(0x10) + 8 * pt_index(VA_4K, 5)), TBL(0x11) | UP);
	gpa_write64(vm, GPA(TBL(0x11) + 8 * pt_index(VA_4K, 4)), TBL(0x12) | UP);
	gpa_write64(vm, GPA(TBL(0x12) + 8 * pt_index(VA_4K, 3)), TBL(0x13) | UP);
	gpa_write64(vm, GPA(TBL(0x13) + 8 * pt_index(VA_4K, 2)), TBL(0x14) | UP);
	for (unsigned i = 0; i < 16; i++) {
		uint64_t e = TBL(0x100 + i) | UP;
		if (i == 1)
			e = TBL(0x101) | GPTE_P | GPTE_US;
		else if (i == 2)
			e = TBL(0x102) | GPTE_P | GPTE_RW | GPTE_G;
		else if (i == 3)
			e |= GPTE_NX;
		else if (i == 15)
			e = TBL(0x14) | UP;
		gpa_write64(vm, GPA(TBL(0x14) + 8 * pt_index(PG(i), 1)), e);
	}
	gpa_write64(vm, GPA(TBL(0x13) + 8 * pt_index(VA_2M, 2)), TBL(0x200) | UP | GPTE_PS);
	cpu_write_cr3(&vm->vcpu, top);
	memset(&vm->st, 0, sizeof(vm->st));
	cpu_set_user(&vm->vcpu, true);
}

static uint64_t gpte(struct vm *vm, int level, gva_t va)
{
	static const gfn_t table[] = {0, 0x14, 0x13, 0x12, 0x11, 0x10};
	return gpa_read64(vm, GPA(TBL(table[level]) + 8 * pt_index(va, level)));
}

static uint64_t epte(struct vm *vm, gpa_t gpa, int level)
{
	hpa_t h = ept_entry_addr(vm, nested_of(vm), gpa, level);
	assert_true(h.v != 0);
	return hpa_read64(vm, h);
}

/* ---- trace consumer: per-walk cells, violations, frames ---- */

struct tally {
	/* the walk in progress */
	uint32_t cells, mem, guest_mem, host_mem, pwc, ntlb;
	/* completed user walks and their shapes */
	uint64_t ok_walks, ok_user_walks, bad_shape;
	int want_cells, want_guest, want_host; /* 0 = do not check */
	/* totals over every walk, completed or not */
	uint64_t all_cells, all_mem, all_pwc, all_ntlb;
	uint64_t step_errors;
	/* violations in order */
	int nviol;
	int viol_level[16];
	uint64_t viol_qual[16];
	/* frames touched by the hardware (NULL = not collected) */
	uint8_t *frames;
	uint64_t nframes;
	bool armed;
};

static void tally_mark(struct tally *t, uint64_t gpa)
{
	if (t->frames && t->armed && (gpa >> PAGE_SHIFT) < t->nframes)
		t->frames[gpa >> PAGE_SHIFT] = 1;
}

static void tally_fn(void *ctx, const struct trace_event *ev)
{
	struct tally *t = ctx;
	if (ev->kind == TR_WALK_REF && (ev->dim == DIM_GUEST || ev->dim == DIM_HOST)) {
		t->cells++;
		t->all_cells++;
		if (ev->step != (int)t->cells)
			t->step_errors++;
		switch (ev->served) {
		case SERVED_MEMORY:
			t->mem++;
			t->all_mem++;
			if (ev->dim == DIM_GUEST)
				t->guest_mem++;
			else
				t->host_mem++;
			break;
		case SERVED_PWC:
			t->pwc++;
			t->all_pwc++;
			break;
		case SERVED_NTLB:
			t->ntlb++;
			t->all_ntlb++;
			break;
		default:
			t->step_errors++;
		}
		if (ev->dim == DIM_GUEST)
			tally_mark(t, ev->entry_addr); /* a gPA for guest entries */
		return;
	}
	if (ev->kind == TR_WALK_DONE && (ev->dim == DIM_GUEST || ev->dim == DIM_HOST)) {
		if (ev->what && strcmp(ev->what, "2D walk complete") == 0) {
			t->ok_walks++;
			tally_mark(t, ev->addr);
			if (ev->user) {
				t->ok_user_walks++;
				if (t->want_cells &&
				    (t->cells != (uint32_t)t->want_cells ||
				     t->mem + t->pwc + t->ntlb != t->cells ||
				     (t->want_guest && t->guest_mem != (uint32_t)t->want_guest) ||
				     (t->want_host && t->host_mem != (uint32_t)t->want_host)))
					t->bad_shape++;
			}
		}
		t->cells = t->mem = t->guest_mem = t->host_mem = t->pwc = t->ntlb = 0;
		return;
	}
	if (ev->kind == TR_VMM_OP && ev->what &&
	    strncmp(ev->what, "EPT violation handled", 21) == 0) {
		if (t->nviol < 16) {
			t->viol_level[t->nviol] = ev->guest_level;
			t->viol_qual[t->nviol] = ev->result;
		}
		t->nviol++;
	}
}

static void tally_attach(struct vm *vm, struct tally *t)
{
	vm->trace_fn = tally_fn;
	vm->trace_ctx = t;
}

/* Run translate until it stops asking for a retry (each retry handled an
 * EPT violation), as core would, without delivering faults. */
static enum xlate_result translate_settled(struct vm *vm, gva_t va, enum access_kind k, bool user,
					   struct xlate *x)
{
	struct mem_access a = {.gva = va, .kind = k, .size = 8, .user = user, .value = 1};
	enum xlate_result r;
	int n = 0;
	do {
		memset(x, 0, sizeof(*x));
		r = nested_mmu_ops.translate(&vm->vcpu, &a, x);
		assert_true(++n < 16);
	} while (r == XLATE_RETRY);
	return r;
}

/* ---- exact reference counts, walk caches off ---- */

struct shape {
	const char *name;
	int levels, ept_levels;
	enum page_size host_page;
	bool huge_guest;
	int refs, guest, host;
};

/* The issue's table, plus two splintering rows and the EPT depths: a
 * 5-level guest over KVM's default 4-level EPT (kvm_mmu_get_tdp_level())
 * and a 4-level guest over a 5-level EPT both walk (5 + 1)(4 + 1) - 1 = 29. */
static const struct shape shapes[] = {
    {"4K guest over 4K host", 4, 4, PG_4K, false, 24, 4, 20},
    {"4K guest over 2M host", 4, 4, PG_2M, false, 19, 4, 15},
    {"4K guest over 1G host", 4, 4, PG_1G, false, 14, 4, 10},
    {"2M guest over 2M host", 4, 4, PG_2M, true, 15, 3, 12},
    {"5-level over 5-level", 5, 5, PG_4K, false, 35, 5, 30},
    {"5-level over 4-level EPT", 5, 4, PG_4K, false, 29, 5, 24},
    {"4-level over 5-level EPT", 4, 5, PG_4K, false, 29, 4, 25},
    {"5-level over 4-level EPT, 2M host", 5, 4, PG_2M, false, 23, 5, 18},
    {"2M guest over 4K host", 4, 4, PG_4K, true, 19, 3, 16},
    {"2M guest over 1G host", 4, 4, PG_1G, true, 11, 3, 8},
};

static void test_ref_counts(void **state)
{
	(void)state;
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		const struct shape *sh = &shapes[s];
		struct vm_config c = ncfg();
		c.levels = sh->levels;
		c.ept_levels = sh->ept_levels;
		c.host_page = sh->host_page;
		struct vm *vm = mk(&c);
		build_tables(vm);
		struct tally t = {
		    .want_cells = sh->refs, .want_guest = sh->guest, .want_host = sh->host};
		tally_attach(vm, &t);
		uint64_t walks = 0;
		if (sh->huge_guest) {
			/* Four 4K pieces of the 2M page: one walk each when the
			 * host page is smaller (splintered fills), else one. */
			for (unsigned i = 0; i < 4; i++)
				cpu_store(&vm->vcpu, VA_2M + i * PAGE_SIZE + 8, 8, SENTINEL + i);
			walks = sh->host_page == PG_4K ? 4 : 1;
		} else {
			static const unsigned pages[] = {0, 4, 5, 6, 7, 8, 9, 10};
			for (unsigned i = 0; i < 8; i++)
				cpu_store(&vm->vcpu, PG(pages[i]) + 16, 8, SENTINEL ^ i);
			walks = 8;
		}
		if (vm->st.walks_user != walks ||
		    vm->st.walk_refs_user != (uint64_t)sh->refs * walks)
			fail_msg("%s: %" PRIu64 " walks, %" PRIu64 " refs; want %" PRIu64 " x %d",
				 sh->name, vm->st.walks_user, vm->st.walk_refs_user, walks,
				 sh->refs);
		assert_int_equal(vm->st.walks, walks);
		assert_int_equal(vm->st.walk_refs_guest, (uint64_t)sh->guest * walks);
		assert_int_equal(vm->st.walk_refs_host, (uint64_t)sh->host * walks);
		assert_null(stats_check(&vm->st, true));
		assert_int_equal(t.ok_user_walks, walks);
		assert_int_equal(t.bad_shape, 0);
		assert_int_equal(t.step_errors, 0);
		assert_int_equal(vm->st.pwc_hits + vm->st.ntlb_hits, 0);
		vm->trace_fn = NULL;
		vm_destroy(vm);
	}
}

/*
 * The first walk over an empty EPT, 4-level, 4K host pages: five EPT
 * violations in hardware order (PML4, PDPT, PD, PT, then data), each
 * attempt walking one step further, then the 24-reference walk.
 * Attempt k stops at the nested walk of guest level 5-k: references
 * 1, 4+1+4, 2*5+4, 3*5+4, 4*5+4 = 1 + 9 + 14 + 19 + 24 = 67.
 */
static void test_first_walk_violations(void **state)
{
	(void)state;
	struct vm_config c = ncfg();
	struct vm *vm = mk(&c);
	build_tables(vm);
	struct tally t = {0};
	tally_attach(vm, &t);
	cpu_store(&vm->vcpu, PG(0), 8, SENTINEL);
	assert_int_equal(vm->st.exits_ept_violation, 5);
	assert_int_equal(vm->st.vm_exits, 5);
	assert_int_equal(vm->st.fault_walk_refs, 67);
	assert_int_equal(vm->st.walk_refs, 24);
	assert_int_equal(t.nviol, 5);
	static const int order[] = {4, 3, 2, 1, 0};
	for (int i = 0; i < 5; i++) {
		assert_int_equal(t.viol_level[i], order[i]);
		bool final = (t.viol_qual[i] & EPTQ_FINAL) != 0;
		assert_true(final == (order[i] == 0));
		assert_true(t.viol_qual[i] & EPTQ_GLA_VALID);
		/* Not present: no rights reported (bits 5:3 clear). */
		assert_int_equal(t.viol_qual[i] & (EPTQ_R | EPTQ_W | EPTQ_X), 0);
		if (order[i])
			/* Guest-table read with EPT A/D on: read and write bits. */
			assert_int_equal(t.viol_qual[i] & 7, EPTQ_READ | EPTQ_WRITE);
		else
			assert_int_equal(t.viol_qual[i] & 7, EPTQ_WRITE);
	}
	struct nested_state *ns = nested_of(vm);
	assert_true(ns->last_violation.final);
	assert_int_equal(ns->last_violation.gpa.v, TBL(0x100));
	assert_true(ns->last_violation.npf_info & NPF_INFO_FINAL);
	assert_false(ns->last_violation.npf_info & NPF_INFO_TABLE);
	assert_int_equal(ns->violations_table, 4);
	assert_int_equal(ns->violations_final, 1);
	/* 4K leaves only: one per frame touched; EPT: root + PDPT, PD, PT. */
	assert_int_equal(ns->ept_leaves[PG_4K], 5);
	assert_int_equal(ns->ept_pages, 4);
	assert_int_equal(gpa_read64(vm, GPA(TBL(0x100))), SENTINEL);
	char detail[200];
	assert_null(ept_audit(vm, ns, detail, sizeof(detail)));
	vm->trace_fn = NULL;
	vm_destroy(vm);
}

/* One violation per distinct guest frame: 5-level adds the PML5 frame;
 * 2M and 1G host pages cover every frame of the layout with one leaf. */
static void test_violations_per_frame(void **state)
{
	(void)state;
	static const struct {
		int levels;
		enum page_size host;
		uint64_t viol;
	} rows[] = {{5, PG_4K, 6}, {4, PG_2M, 1}, {4, PG_1G, 1}, {5, PG_1G, 1}};
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		struct vm_config c = ncfg();
		c.levels = rows[r].levels;
		c.host_page = rows[r].host;
		struct vm *vm = mk(&c);
		build_tables(vm);
		cpu_store(&vm->vcpu, PG(0), 8, SENTINEL);
		assert_int_equal(vm->st.exits_ept_violation, rows[r].viol);
		/* Touching more frames of the same chunk raises nothing new
		 * over large host pages; over 4K pages, one each. */
		cpu_store(&vm->vcpu, PG(4), 8, 1);
		cpu_store(&vm->vcpu, PG(5), 8, 2);
		assert_int_equal(vm->st.exits_ept_violation,
				 rows[r].viol + (rows[r].host == PG_4K ? 2 : 0));
		struct nested_state *ns = nested_of(vm);
		assert_int_equal(ns->ept_leaves[rows[r].host],
				 rows[r].host == PG_4K ? rows[r].viol + 2 : 1);
		/* The leaf has the host page size. */
		int leaf = (int)rows[r].host + 1;
		uint64_t e = epte(vm, GPA(TBL(0x100)), leaf);
		assert_true(epte_leaf(e, leaf));
		assert_int_equal(e & EPTE_RWX, EPTE_RWX);
		assert_int_equal(epte_memtype(e), 6);
		assert_true(e & EPTE_IPAT);
		char detail[200];
		assert_null(ept_audit(vm, ns, detail, sizeof(detail)));
		vm_destroy(vm);
	}
}

/* ---- guest and EPT accessed/dirty flags ---- */

static void test_guest_ad(void **state)
{
	(void)state;
	struct vm_config c = ncfg();
	struct vm *vm = mk(&c);
	build_tables(vm);
	/* A read: A on every level, no D. */
	(void)cpu_load(&vm->vcpu, PG(1), 8);
	for (int l = 4; l >= 1; l--)
		assert_true(gpte(vm, l, PG(1)) & GPTE_A);
	assert_false(gpte(vm, 1, PG(1)) & GPTE_D);
	assert_false(gpte(vm, 2, PG(1)) & GPTE_D);
	/* A write: D on the leaf only. */
	cpu_store(&vm->vcpu, PG(0), 8, 3);
	assert_true(gpte(vm, 1, PG(0)) & GPTE_D);
	assert_false(gpte(vm, 2, PG(0)) & GPTE_D);
	/* A read fill is clean; the first store re-walks to set D. */
	(void)cpu_load(&vm->vcpu, PG(4), 8);
	uint64_t walks = vm->st.walks;
	assert_false(gpte(vm, 1, PG(4)) & GPTE_D);
	cpu_store(&vm->vcpu, PG(4), 8, 4);
	assert_int_equal(vm->st.walks, walks + 1);
	assert_true(gpte(vm, 1, PG(4)) & GPTE_D);
	cpu_store(&vm->vcpu, PG(4), 8, 5);
	assert_int_equal(vm->st.walks, walks + 1);
	vm_destroy(vm);
}

/* A walk that faults sets no A/D bit anywhere in the guest tables. */
static void test_fault_sets_nothing(void **state)
{
	(void)state;
	struct vm_config c = ncfg();
	struct vm *vm = mk(&c);
	build_tables(vm);
	struct xlate x;
	/* Write to the read-only user page: a protection fault at the leaf. */
	assert_int_equal(translate_settled(vm, PG(1), ACC_WRITE, true, &x), XLATE_FAULT);
	assert_int_equal(x.fault.error_code, PFEC_P | PFEC_W | PFEC_U);
	assert_int_equal(x.fault.gva, PG(1));
	for (int l = 4; l >= 1; l--)
		assert_false(gpte(vm, l, PG(1)) & (GPTE_A | GPTE_D));
	/* User access to the supervisor page; fetch from the NX page. */
	assert_int_equal(translate_settled(vm, PG(2), ACC_READ, true, &x), XLATE_FAULT);
	assert_int_equal(x.fault.error_code, PFEC_P | PFEC_U);
	assert_int_equal(translate_settled(vm, PG(3), ACC_FETCH, true, &x), XLATE_FAULT);
	assert_int_equal(x.fault.error_code, PFEC_P | PFEC_U | PFEC_I);
	/* Not present at level 1: no P bit; the level is reported. */
	assert_int_equal(translate_settled(vm, PG(16), ACC_WRITE, true, &x), XLATE_FAULT);
	assert_int_equal(x.fault.error_code, PFEC_W | PFEC_U);
	assert_int_equal(x.fault.level, 1);
	/* Non-canonical: reserved-bit fault, no reference at all. */
	assert_int_equal(translate_settled(vm, UINT64_C(0x0000800000000000), ACC_READ, true, &x),
			 XLATE_FAULT);
	assert_true(x.fault.error_code & PFEC_RSVD);
	assert_int_equal(x.refs, 0);
	for (int l = 4; l >= 2; l--)
		assert_false(gpte(vm, l, PG(0)) & GPTE_A);
	/* No exit but EPT violations: a guest fault never exits. */
	assert_int_equal(vm->st.vm_exits, vm->st.exits_ept_violation);
	vm_destroy(vm);
}

/* EPT depth is independent of the guest's: by default 4 levels even for a
 * 5-level guest (kvm_mmu_get_tdp_level()), EPTP bits 5:3 = walk length - 1. */
static void test_ept_depth(void **state)
{
	(void)state;
	static const struct {
		int levels, ept_levels;
		bool set;
	} rows[] = {{4, 4, false}, {5, 4, false}, {5, 5, true}, {4, 5, true}};
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		struct vm_config c = ncfg();
		c.levels = rows[r].levels;
		if (rows[r].set)
			c.ept_levels = rows[r].ept_levels;
		assert_int_equal(c.ept_levels, rows[r].ept_levels);
		struct vm *vm = mk(&c);
		struct nested_state *ns = nested_of(vm);
		assert_int_equal(ns->levels, rows[r].ept_levels);
		assert_int_equal((ns->eptp >> EPTP_WALK_SHIFT) & 7,
				 (uint64_t)rows[r].ept_levels - 1);
		vm_destroy(vm);
	}
	/* Anything but 4 or 5 is refused by name. */
	struct vm_config c = ncfg();
	c.ept_levels = 3;
	char err[256] = "";
	assert_null(vm_create(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "EPT levels"));
}

static void test_ept_ad(void **state)
{
	(void)state;
	for (int ad = 0; ad <= 1; ad++) {
		struct vm_config c = ncfg();
		c.ept_ad = ad;
		struct vm *vm = mk(&c);
		build_tables(vm);
		struct nested_state *ns = nested_of(vm);
		assert_int_equal(!!(ns->eptp & EPTP_AD), ad);
		assert_int_equal((ns->eptp >> EPTP_WALK_SHIFT) & 7, 3);
		assert_int_equal(ns->eptp & 7, EPTP_MT_WB);
		cpu_store(&vm->vcpu, PG(0), 8, 1);
		(void)cpu_load(&vm->vcpu, PG(1), 8);
		uint64_t data_w = epte(vm, GPA(TBL(0x100)), 1);
		uint64_t data_r = epte(vm, GPA(TBL(0x101)), 1);
		uint64_t table = epte(vm, GPA(TBL(0x14)), 1);
		uint64_t upper = epte(vm, GPA(TBL(0x100)), 2);
		if (!ad) {
			assert_int_equal((data_w | data_r | table | upper) & (EPTE_A | EPTE_D), 0);
		} else {
			assert_int_equal(data_w & (EPTE_A | EPTE_D), EPTE_A | EPTE_D);
			assert_int_equal(data_r & (EPTE_A | EPTE_D), EPTE_A);
			/* Guest-table reads count as writes for EPT A/D. */
			assert_int_equal(table & (EPTE_A | EPTE_D), EPTE_A | EPTE_D);
			assert_int_equal(upper & (EPTE_A | EPTE_D), EPTE_A);
		}
		vm_destroy(vm);
	}
}

/* ---- splintering ---- */

static void test_splintering(void **state)
{
	(void)state;
	static const struct {
		enum page_size host;
		bool huge;
		enum page_size want;
	} rows[] = {
	    {PG_4K, false, PG_4K}, {PG_2M, false, PG_4K}, {PG_1G, false, PG_4K},
	    {PG_4K, true, PG_4K},  {PG_2M, true, PG_2M},  {PG_1G, true, PG_2M},
	};
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		struct vm_config c = ncfg();
		c.host_page = rows[r].host;
		struct vm *vm = mk(&c);
		build_tables(vm);
		gva_t va = rows[r].huge ? VA_2M + 0x12345 * 8 : PG(0) + 64;
		cpu_store(&vm->vcpu, va, 8, SENTINEL);
		struct tlb_entry *e =
		    tlb_lookup(&vm->vcpu.tlb, va, vm->vcpu.vpid, vcpu_pcid(&vm->vcpu), ACC_READ);
		assert_non_null(e);
		assert_int_equal(e->size, rows[r].want);
		/* The entry points at the right host bytes. */
		assert_int_equal(cpu_load_sized(cpu_hit_ptr(&vm->vcpu, e, va), 8), SENTINEL);
		gpa_t gpa = rows[r].huge ? GPA(TBL(0x200) + 0x12345 * 8) : GPA(TBL(0x100) + 64);
		assert_int_equal(gpa_read64(vm, gpa), SENTINEL);
		vm_destroy(vm);
	}
}

/* ---- misconfiguration ---- */

static void test_misconfig_checks(void **state)
{
	(void)state;
	struct nested_state ns = {.levels = 4, .ept_ad = true};
	uint64_t f = UINT64_C(0x123000);
	assert_null(ept_entry_misconfig(&ns, f | EPTE_RWX, 4));
	assert_null(ept_entry_misconfig(&ns, f | EPTE_RWX | EPTE_MT_WB | EPTE_IPAT, 1));
	assert_null(ept_entry_misconfig(&ns, f | EPTE_X, 4)); /* execute-only is legal */
	assert_non_null(ept_entry_misconfig(&ns, f | EPTE_W, 4));
	assert_non_null(ept_entry_misconfig(&ns, f | EPTE_W | EPTE_X, 3));
	assert_non_null(ept_entry_misconfig(&ns, f | EPTE_RWX | EPTE_PS, 4));
	assert_non_null(ept_entry_misconfig(&ns, f | EPTE_RWX | (UINT64_C(1) << 3), 3));
	assert_non_null(ept_entry_misconfig(&ns, f | EPTE_RWX | (UINT64_C(2) << 3), 1));
	assert_non_null(ept_entry_misconfig(&ns, f | EPTE_RWX | (UINT64_C(7) << 3), 1));
	assert_non_null(ept_entry_misconfig(&ns, (UINT64_C(1) << 47) | EPTE_RWX, 4));
	assert_non_null(ept_entry_misconfig(
	    &ns, UINT64_C(0x200000) | PAGE_SIZE | EPTE_RWX | EPTE_PS | EPTE_MT_WB, 2));
	assert_non_null(ept_entry_misconfig(
	    &ns, UINT64_C(0x40000000) | UINT64_C(0x200000) | EPTE_RWX | EPTE_PS | EPTE_MT_WB, 3));
	assert_null(
	    ept_entry_misconfig(&ns, UINT64_C(0x40000000) | EPTE_RWX | EPTE_PS | EPTE_MT_WB, 3));
}

/* A corrupted entry in a live EPT is reported as a misconfiguration (exit
 * reason 49) and the run aborts with that message: never walked through. */
struct misconfig_row {
	int level;
	uint64_t clear, set;
	const char *why;
};

static void misconfig_case(const struct misconfig_row *row)
{
	struct vm_config c = ncfg();
	struct vm *vm = mk(&c);
	build_tables(vm);
	cpu_store(&vm->vcpu, PG(0), 8, 1);
	hpa_t h = ept_entry_addr(vm, nested_of(vm), GPA(TBL(0x100)), row->level);
	uint64_t orig = hpa_read64(vm, h);
	hpa_write64(vm, h, (orig & ~row->clear) | row->set);
	/* The VMM's duty after changing an entry. */
	assert_int_equal(nested_invept(&vm->vcpu, INVEPT_GLOBAL, 0), 0);
	jmp_buf jb;
	vm->abort_jmp = &jb;
	if (setjmp(jb) == 0) {
		cpu_store(&vm->vcpu, PG(0), 8, 2);
		fail_msg("level %d: the misconfigured EPT was walked", row->level);
	}
	assert_int_equal(vm->st.exits_ept_misconfig, 1);
	assert_non_null(strstr(vm->err, "EPT misconfiguration"));
	if (!strstr(vm->err, row->why))
		fail_msg("message '%s' lacks '%s'", vm->err, row->why);
	assert_int_equal(nested_of(vm)->last_misconfig.ept_level, row->level);
	vm->abort_jmp = NULL;
	hpa_write64(vm, h, orig); /* so that teardown can walk the tables */
	vm_destroy(vm);
}

static void test_misconfig_aborts(void **state)
{
	(void)state;
	static const struct misconfig_row rows[] = {
	    {4, EPTE_R, 0, "write permission without read"},
	    {3, 0, UINT64_C(1) << 4, "reserved bit"},
	    {1, EPTE_MT_MASK, UINT64_C(3) << EPTE_BIT_MT, "memory type"},
	    {2, 0, UINT64_C(1) << 50, "physical-address"},
	};
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
		misconfig_case(&rows[r]);
}

/* A guest-table frame whose EPT leaf the VMM removed: the violation is on a
 * guest page-table access (qualification bit 8 clear, NPF bit 33); the
 * data frame's: on the final gPA (bit 8 set, NPF bit 32). */
static void test_violation_classes(void **state)
{
	(void)state;
	struct vm_config c = ncfg();
	struct vm *vm = mk(&c);
	build_tables(vm);
	struct nested_state *ns = nested_of(vm);
	cpu_store(&vm->vcpu, PG(0), 8, 1);
	static const struct {
		gfn_t gfn;
		int guest_level;
	} rows[] = {{0x14, 1}, {0x12, 3}, {0x100, 0}};
	for (size_t r = 0; r < 3; r++) {
		hpa_t h = ept_entry_addr(vm, ns, GPA(TBL(rows[r].gfn)), 1);
		hpa_write64(vm, h, 0);
		ns->ept_leaves[PG_4K]--;
		assert_int_equal(nested_invept(&vm->vcpu, INVEPT_SINGLE, ns->eptp), 0);
		uint64_t before = vm->st.exits_ept_violation;
		assert_int_equal(cpu_load(&vm->vcpu, PG(0), 8), 1);
		assert_int_equal(vm->st.exits_ept_violation, before + 1);
		const struct ept_violation *v = &ns->last_violation;
		assert_int_equal(v->gpa.v >> PAGE_SHIFT, rows[r].gfn);
		assert_int_equal(v->guest_level, rows[r].guest_level);
		assert_int_equal(v->ept_level, 1);
		assert_int_equal(v->gva, PG(0));
		bool final = rows[r].guest_level == 0;
		assert_int_equal(!!(v->qual & EPTQ_FINAL), final);
		assert_int_equal(!!(v->npf_info & NPF_INFO_FINAL), final);
		assert_int_equal(!!(v->npf_info & NPF_INFO_TABLE), !final);
		char detail[200];
		assert_null(ept_audit(vm, ns, detail, sizeof(detail)));
	}
	vm_destroy(vm);
}

/* ---- walk caches ---- */

static struct vm *warm_vm(bool pwc, bool ntlb, bool vpid)
{
	struct vm_config c = ncfg();
	c.walk_caches = true;
	c.pwc = pwc;
	c.ntlb = ntlb;
	c.vpid = vpid;
	struct vm *vm = mk(&c);
	build_tables(vm);
	static const unsigned pages[] = {0, 4, 5, 6, 7, 8, 9, 10};
	for (unsigned i = 0; i < 8; i++)
		cpu_store(&vm->vcpu, PG(pages[i]), 8, SENTINEL + i);
	return vm;
}

/*
 * After a warm-up pass, a second pass over the same eight pages with the
 * TLB alone flushed: every walk keeps all 24 cells, and
 *   PWC + nested TLB: 1 reference (the guest PTE), 3 PWC hits (guest PML4E,
 *                     PDPTE, PDE), 5 nested walks skipped (20 cells);
 *   PWC only:         1 reference, 23 PWC hits (every EPT entry too);
 *   nested TLB only:  4 guest references, 20 cells skipped.
 */
static void test_walk_cache_counts(void **state)
{
	(void)state;
	static const struct {
		bool pwc, ntlb;
		uint32_t mem, pwc_hits, ntlb_cells;
	} rows[] = {{true, true, 1, 3, 20}, {true, false, 1, 23, 0}, {false, true, 4, 0, 20}};
	for (size_t r = 0; r < 3; r++) {
		struct vm *vm = warm_vm(rows[r].pwc, rows[r].ntlb, true);
		tlb_flush_all(&vm->vcpu.tlb);
		memset(&vm->st, 0, sizeof(vm->st));
		struct tally t = {.want_cells = 24};
		tally_attach(vm, &t);
		static const unsigned pages[] = {0, 4, 5, 6, 7, 8, 9, 10};
		for (unsigned i = 0; i < 8; i++)
			assert_int_equal(cpu_load(&vm->vcpu, PG(pages[i]), 8), SENTINEL + i);
		assert_int_equal(vm->st.walks, 8);
		assert_int_equal(vm->st.vm_exits, 0);
		assert_int_equal(t.bad_shape, 0);
		assert_int_equal(t.ok_user_walks, 8);
		assert_int_equal(vm->st.walk_refs, 8 * rows[r].mem);
		assert_int_equal(vm->st.pwc_hits, 8 * rows[r].pwc_hits);
		assert_int_equal(t.all_ntlb, 8 * rows[r].ntlb_cells);
		assert_int_equal(vm->st.ntlb_hits, 8 * rows[r].ntlb_cells / 4);
		/* Each skipped reference is accounted for exactly. */
		assert_int_equal(vm->st.walk_refs + vm->st.pwc_hits + t.all_ntlb, 8 * 24);
		assert_null(stats_check(&vm->st, true));
		vm->trace_fn = NULL;
		vm_destroy(vm);
	}
}

/*
 * A guest table that maps itself: PDPT entry 5 points back to the PDPT, so
 * a walk of an address with PDPT and PD index 5 reads that one entry at
 * levels 3 and 2, then its PT entry 7 in the same page. Both reads miss the
 * PWC and both fill it; the second fill refreshes the entry the first made.
 *
 *   PML4 0x11 [170] -> PDPT 0x12 [5] -> 0x12 [5] -> 0x12 [7] = page 0x300
 */
static void test_pwc_self_map(void **state)
{
	(void)state;
	struct vm_config c = ncfg();
	c.walk_caches = true;
	struct vm *vm = mk(&c);
	build_tables(vm);
	const gva_t va = (UINT64_C(170) << 39) | (UINT64_C(5) << 30) | (UINT64_C(5) << 21) |
			 (UINT64_C(7) << 12) | 0x18;
	assert_int_equal(pt_index(va, 4), pt_index(VA_4K, 4));
	gpa_write64(vm, GPA(TBL(0x12) + 8 * 5), TBL(0x12) | UP);
	gpa_write64(vm, GPA(TBL(0x12) + 8 * 7), TBL(0x300) | UP);
	gpa_write64(vm, GPA(TBL(0x300) + 0x18), SENTINEL);
	struct nested_state *ns = nested_of(vm);
	assert_int_equal(cpu_load(&vm->vcpu, va, 8), SENTINEL);
	/* The PML4E and the self entry: one PWC entry each. */
	assert_int_equal(pwc2d_count(&ns->pwc, PWC_GUEST), 2);
	/* Again with the TLB flushed: the three upper cells are PWC hits. */
	tlb_flush_all(&vm->vcpu.tlb);
	memset(&vm->st, 0, sizeof(vm->st));
	assert_int_equal(cpu_load(&vm->vcpu, va, 8), SENTINEL);
	assert_int_equal(vm->st.walks, 1);
	assert_int_equal(vm->st.walk_refs_guest, 1);
	assert_int_equal(pwc2d_count(&ns->pwc, PWC_GUEST), 2);
	vm_destroy(vm);
}

/* ---- INVEPT, INVVPID, and the guest's own flushes ---- */

struct cache_census {
	uint64_t tlb, pwc_guest, pwc_host, ntlb;
};

static struct cache_census census(struct vm *vm)
{
	struct nested_state *ns = nested_of(vm);
	return (struct cache_census){.tlb = tlb_count_valid(&vm->vcpu.tlb),
				     .pwc_guest = pwc2d_count(&ns->pwc, PWC_GUEST),
				     .pwc_host = pwc2d_count(&ns->pwc, PWC_HOST),
				     .ntlb = ntlb_count_valid(&ns->ntlb)};
}

static bool tlb_has(struct vm *vm, gva_t va)
{
	struct vcpu *v = &vm->vcpu;
	return tlb_lookup(&v->tlb, va, v->vpid, vcpu_pcid(v), ACC_READ) != NULL;
}

/*
 * Warm caches plus one global supervisor entry (page 2). Nine pages share
 * one guest path, so the caches hold exactly:
 *   TLB         18: each page in its L1 array and in the L2;
 *   PWC guest    3: the guest PML4E, PDPTE and PDE of that path;
 *   PWC EPT     16: the EPT leaves of the 13 frames below, and the EPT
 *                   PML4E, PDPTE and PDE above them;
 *   nested TLB  13: the 4 guest table frames and the 9 data frames.
 */
static struct vm *warm_with_global(void)
{
	struct vm *vm = warm_vm(true, true, true);
	cpu_set_user(&vm->vcpu, false);
	(void)cpu_load(&vm->vcpu, PG(2), 8);
	cpu_set_user(&vm->vcpu, true);
	struct cache_census k = census(vm);
	assert_int_equal(k.tlb, 18);
	assert_int_equal(k.pwc_guest, 3);
	assert_int_equal(k.pwc_host, 16);
	assert_int_equal(k.ntlb, 13);
	return vm;
}

static void test_invvpid(void **state)
{
	(void)state;
	/* Type 0: one address; guest-physical state untouched. */
	struct vm *vm = warm_with_global();
	struct cache_census k0 = census(vm);
	assert_int_equal(nested_invvpid(&vm->vcpu, INVVPID_ADDR, 1, PG(4)), 0);
	struct cache_census k1 = census(vm);
	assert_false(tlb_has(vm, PG(4)));
	assert_true(tlb_has(vm, PG(5)));
	assert_true(tlb_has(vm, PG(2)));
	assert_int_equal(k1.tlb, k0.tlb - 2); /* page 4's L1 and L2 entries */
	assert_int_equal(k1.pwc_guest, 0);
	assert_int_equal(k1.pwc_host, k0.pwc_host);
	assert_int_equal(k1.ntlb, k0.ntlb);
	assert_int_equal(nested_invvpid(&vm->vcpu, INVVPID_ADDR, 1, UINT64_C(0x0000800000000000)),
			 -1);
	assert_int_equal(nested_invvpid(&vm->vcpu, INVVPID_ADDR, 0, PG(4)), -1);
	vm_destroy(vm);

	/* Type 3: everything of the VPID but its global translations. */
	vm = warm_with_global();
	k0 = census(vm);
	assert_int_equal(nested_invvpid(&vm->vcpu, INVVPID_SINGLE_KEEP_GLOBAL, 1, 0), 0);
	k1 = census(vm);
	assert_true(tlb_has(vm, PG(2)));
	assert_false(tlb_has(vm, PG(0)));
	assert_int_equal(k1.tlb, 2); /* the global page's L1 and L2 entries */
	assert_int_equal(k1.pwc_guest, 0);
	assert_int_equal(k1.pwc_host, k0.pwc_host);
	assert_int_equal(k1.ntlb, k0.ntlb);
	vm_destroy(vm);

	/* Types 1 and 2: the whole VPID, globals included; another VPID's
	 * single-context flush changes nothing. */
	for (int type = 1; type <= 2; type++) {
		vm = warm_with_global();
		k0 = census(vm);
		assert_int_equal(nested_invvpid(&vm->vcpu, INVVPID_SINGLE, 7, 0), 0);
		k1 = census(vm);
		assert_int_equal(k1.tlb, k0.tlb);
		assert_int_equal(k1.pwc_guest, k0.pwc_guest);
		assert_int_equal(nested_invvpid(&vm->vcpu, (enum invvpid_type)type, 1, 0), 0);
		k1 = census(vm);
		assert_int_equal(k1.tlb, 0);
		assert_int_equal(k1.pwc_guest, 0);
		assert_int_equal(k1.pwc_host, k0.pwc_host);
		assert_int_equal(k1.ntlb, k0.ntlb);
		assert_int_equal(nested_invvpid(&vm->vcpu, INVVPID_SINGLE, 0, 0), -1);
		vm_destroy(vm);
	}
}

static void test_invept(void **state)
{
	(void)state;
	struct vm *vm = warm_with_global();
	struct nested_state *ns = nested_of(vm);
	struct cache_census k0 = census(vm);
	/* Another EPTP: nothing of ours goes. */
	assert_int_equal(nested_invept(&vm->vcpu, INVEPT_SINGLE, ns->eptp + UINT64_C(0x1000000)),
			 0);
	struct cache_census k1 = census(vm);
	assert_memory_equal(&k0, &k1, sizeof(k0));
	/* Ours: guest-physical and combined mappings, all of them. */
	assert_int_equal(nested_invept(&vm->vcpu, INVEPT_SINGLE, ns->eptp), 0);
	k1 = census(vm);
	assert_int_equal(k1.tlb + k1.pwc_guest + k1.pwc_host + k1.ntlb, 0);
	assert_int_equal(nested_invept(&vm->vcpu, (enum invept_type)3, ns->eptp), -1);
	/* Refill, then global. */
	assert_int_equal(cpu_load(&vm->vcpu, PG(0), 8), SENTINEL);
	assert_int_equal(census(vm).ntlb, 5); /* 4 guest table frames, 1 data frame */
	assert_int_equal(nested_invept(&vm->vcpu, INVEPT_GLOBAL, 0), 0);
	k1 = census(vm);
	assert_int_equal(k1.tlb + k1.pwc_guest + k1.pwc_host + k1.ntlb, 0);
	/* Still translates correctly afterwards. */
	assert_int_equal(cpu_load(&vm->vcpu, PG(5), 8), SENTINEL + 2);
	vm_destroy(vm);
}

/* INVLPG, MOV to CR3 and guest TLB flushes drop guest-dimension walk-cache
 * state (all of the current PCID) and never exit; guest-physical state
 * survives. With VPID off, every world switch drops VPID 0's combined
 * state and keeps the guest-physical state. */
static void test_guest_flushes(void **state)
{
	(void)state;
	struct vm *vm = warm_with_global();
	struct vcpu *v = &vm->vcpu;
	uint64_t exits = vm->st.vm_exits, viol = vm->st.exits_ept_violation;
	struct cache_census k0 = census(vm);
	cpu_invlpg(v, PG(4));
	struct cache_census k1 = census(vm);
	assert_false(tlb_has(vm, PG(4)));
	assert_int_equal(k1.pwc_guest, 0);
	assert_int_equal(k1.pwc_host, k0.pwc_host);
	assert_int_equal(k1.ntlb, k0.ntlb);

	/* Refill, then MOV to CR3 with and without the no-flush bit. */
	(void)cpu_load(v, PG(4), 8);
	assert_int_equal(census(vm).pwc_guest, 3);
	uint64_t cr3 = v->cr3;
	cpu_write_cr3(v, cr3 | CR3_NOFLUSH);
	assert_int_equal(census(vm).pwc_guest, 3);
	assert_true(tlb_has(vm, PG(4)));
	cpu_write_cr3(v, cr3);
	assert_int_equal(census(vm).pwc_guest, 0);
	assert_true(tlb_has(vm, PG(2))); /* globals survive MOV to CR3 */

	(void)cpu_load(v, PG(4), 8);
	cpu_flush_tlb(v, false);
	assert_int_equal(census(vm).pwc_guest, 0);
	(void)cpu_load(v, PG(4), 8);
	cpu_flush_tlb(v, true);
	k1 = census(vm);
	assert_int_equal(k1.pwc_guest + k1.tlb, 0);
	assert_int_equal(k1.ntlb, k0.ntlb);
	assert_int_equal(k1.pwc_host, k0.pwc_host);

	/* A guest store to its own page table (page 15 maps the PT): no exit. */
	cpu_store(v, PG(15) + 8 * pt_index(PG(16), 1), 8, TBL(0x110) | UP);
	assert_int_equal(cpu_load(v, PG(16), 8), 0);
	assert_int_equal(vm->st.exits_ept_violation - viol, 1); /* the new data frame */
	assert_int_equal(vm->st.vm_exits - exits, 1);
	vm_destroy(vm);

	/* VPID off: a world switch flushes VPID 0's TLB and guest PWC entries. */
	vm = warm_vm(true, true, false);
	assert_int_equal(vm->vcpu.vpid, 0);
	k0 = census(vm);
	/* Each exit of the warm-up flushed VPID 0: only the last page's L1
	 * and L2 entries are left, and the guest path's 3 PWC entries. */
	assert_int_equal(k0.tlb, 2);
	assert_int_equal(k0.pwc_guest, 3);
	uint64_t dummy = 0;
	vm_exit(&vm->vcpu, EXIT_EPT_VIOLATION, &dummy, 0);
	k1 = census(vm);
	assert_int_equal(k1.tlb, 0);
	assert_int_equal(k1.pwc_guest, 0);
	assert_int_equal(k1.pwc_host, k0.pwc_host);
	assert_int_equal(k1.ntlb, k0.ntlb);
	vm_destroy(vm);
}

/* The same hand-built op sequence leaves the same guest image under native
 * and nested paging, with and without walk caches. */
static void test_hand_equivalence(void **state)
{
	(void)state;
	uint64_t digest[3];
	for (int m = 0; m < 3; m++) {
		struct vm_config c = ncfg();
		c.mode = m == 0 ? "native" : "nested";
		c.walk_caches = m == 2;
		struct vm *vm = mk(&c);
		build_tables(vm);
		for (unsigned i = 0; i < 40; i++) {
			unsigned p = (i * 7) % 11;
			if (p == 2)
				continue; /* supervisor-only */
			if (p == 1 || p == 3)
				(void)cpu_load(&vm->vcpu, PG(p), 8);
			else
				cpu_store(&vm->vcpu, PG(p) + 8 * i, 8, SENTINEL * i);
			if (i % 9 == 0)
				cpu_invlpg(&vm->vcpu, PG(p));
		}
		cpu_store(&vm->vcpu, VA_2M + 0x1000 * 3, 8, 99);
		digest[m] = vm_guest_digest(vm);
		vm_destroy(vm);
	}
	assert_int_equal(digest[0], digest[1]);
	assert_int_equal(digest[0], digest[2]);
}

/* ---- whole workloads ---- */

static void run_or_fail(const struct vm_config *c, const char *wl, const struct wl_params *p,
			const struct run_hooks *h, struct run_result *r)
{
	const struct workload *w = workload_find(wl);
	/* The counts pinned here are the whole run's (set-up included), not
	 * the workload's region of interest. */
	struct vm_config whole = *c;
	whole.whole_run = true;
	if (!w)
		fail_msg("no workload '%s'", wl);
	if (run_workload(&whole, w, p, h, r) != 0)
		fail_msg("%s under %s: %s", wl, c->mode, r->err);
}

/* The issue's "done when": random, walk caches off, is exactly
 * 24 (4K host), 19 (2M host), 14 (1G host), 29 (5-level guest over the
 * default 4-level EPT) or 35 (5 over 5) x walks_user. */
static void test_random_exact(void **state)
{
	(void)state;
	static const struct {
		int levels, ept_levels;
		enum page_size host;
		uint64_t k;
	} rows[] = {{4, 4, PG_4K, 24}, {4, 4, PG_2M, 19}, {4, 4, PG_1G, 14},
		    {5, 4, PG_4K, 29}, {5, 5, PG_4K, 35}, {4, 5, PG_4K, 29}};
	struct wl_params p = {.seed = 7, .pages = 4096, .ops = 20000};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct vm_config c = ncfg();
		c.guest_mem = UINT64_C(1) << 30;
		c.levels = rows[i].levels;
		c.ept_levels = rows[i].ept_levels;
		c.host_page = rows[i].host;
		struct tally t = {.want_cells = (int)rows[i].k,
				  .want_guest = rows[i].levels,
				  .want_host = (int)rows[i].k - rows[i].levels};
		struct run_hooks h = {.trace_fn = tally_fn, .trace_ctx = &t};
		struct run_result r;
		run_or_fail(&c, "random", &p, &h, &r);
		assert_true(r.st.walks_user > 1000);
		if (r.st.walk_refs_user != rows[i].k * r.st.walks_user)
			fail_msg("levels %d/%d host %s: walk_refs_user %" PRIu64 " != %" PRIu64
				 " x walks_user %" PRIu64,
				 rows[i].levels, rows[i].ept_levels, page_size_name(rows[i].host),
				 r.st.walk_refs_user, rows[i].k, r.st.walks_user);
		assert_int_equal(t.bad_shape, 0);
		assert_int_equal(t.ok_user_walks, r.st.walks_user);
		assert_null(stats_check(&r.st, true));
		assert_int_equal(r.st.vm_exits, r.st.exits_ept_violation);
		assert_true(r.st.ept_pages_peak > 0);
		assert_int_equal(r.st.ept_bytes_peak, r.st.ept_pages_peak * PAGE_SIZE);
	}
}

/* 2M guest pages (workload data) over 2M host pages: 15 per user walk. */
static void test_random_huge_guest(void **state)
{
	(void)state;
	struct vm_config c = ncfg();
	c.guest_mem = UINT64_C(1) << 30;
	c.guest_page = PG_2M;
	c.host_page = PG_2M;
	struct wl_params p = {.seed = 3, .pages = 8192, .ops = 20000};
	struct run_result r;
	run_or_fail(&c, "random", &p, NULL, &r);
	assert_true(r.st.walks_user > 0);
	assert_int_equal(r.st.walk_refs_user, 15 * r.st.walks_user);
}

struct frames_ctx {
	struct tally t;
	uint64_t premapped; /* frames with an EPT leaf at boot (none expected) */
	uint64_t leaves_at_boot;
	uint64_t leaves_at_end;
	uint8_t *pre;
};

static void frames_after_boot(struct vm *vm, void *ctx)
{
	struct frames_ctx *f = ctx;
	struct nested_state *ns = nested_of(vm);
	f->leaves_at_boot = ns->ept_leaves[PG_4K];
	f->t.nframes = vm->p2m.nframes;
	f->t.frames = calloc(vm->p2m.nframes, 1);
	f->pre = calloc(vm->p2m.nframes, 1);
	assert_non_null(f->t.frames);
	assert_non_null(f->pre);
	for (gfn_t g = 0; g < vm->p2m.nframes; g++) {
		hpa_t h;
		if (p2m_lookup(vm, g) != INVALID_HFN && ept_lookup(vm, ns, gfn_to_gpa(g), &h)) {
			f->pre[g] = 1;
			f->premapped++;
		}
	}
	f->t.armed = true;
}

static void frames_after_run(struct vm *vm, void *ctx)
{
	struct frames_ctx *f = ctx;
	f->leaves_at_end = nested_of(vm)->ept_leaves[PG_4K];
}

/* Host pages of 4K: exactly one EPT violation per distinct guest frame the
 * hardware touched after boot (guest tables and data alike). Every data
 * frame appears in a walk (fills are 4K); every table frame in a guest
 * reference. */
static void test_violations_exact(void **state)
{
	(void)state;
	static const char *const wls[] = {"faults", "fork", "mmap-churn", "ctxswitch"};
	for (size_t i = 0; i < sizeof(wls) / sizeof(wls[0]); i++) {
		const struct workload *w = workload_find(wls[i]);
		if (!w)
			continue;
		for (int caches = 0; caches <= 1; caches++) {
			struct vm_config c = ncfg();
			c.guest_mem = UINT64_C(256) << 20;
			c.walk_caches = caches;
			struct frames_ctx f = {0};
			struct run_hooks h = {.trace_fn = tally_fn,
					      .trace_ctx = &f.t,
					      .after_boot = frames_after_boot,
					      .after_run = frames_after_run,
					      .ctx = &f};
			struct run_result r;
			run_or_fail(&c, wls[i], NULL, &h, &r);
			uint64_t touched = 0;
			for (uint64_t g = 0; g < f.t.nframes; g++)
				touched += f.t.frames[g] && !f.pre[g];
			if (r.st.exits_ept_violation != touched)
				fail_msg("%s (caches %d): %" PRIu64 " EPT violations, %" PRIu64
					 " frames first touched",
					 wls[i], caches, r.st.exits_ept_violation, touched);
			assert_int_equal(f.leaves_at_end - f.leaves_at_boot,
					 r.st.exits_ept_violation);
			assert_int_equal(r.st.vm_exits, r.st.exits_ept_violation);
			free(f.t.frames);
			free(f.pre);
		}
	}
}

/* Walk caches on: fewer references per walk, and every skipped reference
 * is a PWC hit or a nested-TLB-skipped cell. */
static void test_random_caches(void **state)
{
	(void)state;
	struct wl_params p = {.seed = 11, .pages = 4096, .ops = 20000};
	struct vm_config c = ncfg();
	c.guest_mem = UINT64_C(1) << 30;
	c.walk_caches = true;
	struct tally t = {.want_cells = 24};
	struct run_hooks h = {.trace_fn = tally_fn, .trace_ctx = &t};
	struct run_result r;
	run_or_fail(&c, "random", &p, &h, &r);
	assert_true(r.st.walks_user > 1000);
	assert_true(r.st.walk_refs_user < 24 * r.st.walks_user);
	assert_true(r.st.pwc_hits > 0);
	assert_true(r.st.ntlb_hits > 0);
	assert_int_equal(t.bad_shape, 0);
	assert_int_equal(t.step_errors, 0);
	assert_int_equal(t.all_mem, r.st.walk_refs + r.st.fault_walk_refs);
	assert_int_equal(t.all_pwc, r.st.pwc_hits);
	assert_int_equal(t.all_cells,
			 r.st.walk_refs + r.st.fault_walk_refs + r.st.pwc_hits + t.all_ntlb);
	assert_null(stats_check(&r.st, true));
}

/* Every workload, under nested with 4K/2M/1G host pages and VPID on and
 * off, reads and leaves exactly what it does under native paging. */
static void test_equivalence(void **state)
{
	(void)state;
	static const enum page_size hosts[] = {PG_4K, PG_2M, PG_1G};
	for (int i = 0; workloads[i]; i++) {
		const struct workload *w = workloads[i];
		struct wl_params p = {.seed = 42};
		struct vm_config nc;
		config_defaults(&nc);
		struct run_result rn;
		if (run_workload(&nc, w, &p, NULL, &rn) != 0) {
			/* A workload that needs outside input (a trace file)
			 * cannot run without it under any mode. */
			continue;
		}
		for (int hp = 0; hp < 3; hp++) {
			for (int vpid = 0; vpid <= 1; vpid++) {
				struct vm_config c;
				config_defaults(&c);
				c.mode = "nested";
				c.host_page = hosts[hp];
				c.vpid = vpid;
				struct run_result r;
				if (run_workload(&c, w, &p, NULL, &r) != 0)
					fail_msg("%s, host %s, vpid %d: %s", w->name,
						 page_size_name(hosts[hp]), vpid, r.err);
				if (r.checksum != rn.checksum || r.guest_digest != rn.guest_digest)
					fail_msg(
					    "%s, host %s, vpid %d: checksum %#" PRIx64 "/%#" PRIx64
					    ", digest %#" PRIx64 "/%#" PRIx64 " (nested/native)",
					    w->name, page_size_name(hosts[hp]), vpid, r.checksum,
					    rn.checksum, r.guest_digest, rn.guest_digest);
				assert_int_equal(r.st.vm_exits, r.st.exits_ept_violation);
				assert_null(stats_check(&r.st, true));
			}
		}
	}
}

/* The audit holds after every exit of a small run (and at its end). */
static void test_audit_run(void **state)
{
	(void)state;
	static const enum page_size hosts[] = {PG_4K, PG_2M};
	for (int hp = 0; hp < 2; hp++) {
		struct vm_config c = ncfg();
		c.guest_mem = UINT64_C(64) << 20;
		c.host_page = hosts[hp];
		c.walk_caches = true;
		c.audit = true;
		struct wl_params p = {.seed = 5, .pages = 64, .ops = 4};
		struct run_result r;
		run_or_fail(&c, "fork", &p, NULL, &r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ref_counts),
	    cmocka_unit_test(test_ept_depth),
	    cmocka_unit_test(test_first_walk_violations),
	    cmocka_unit_test(test_violations_per_frame),
	    cmocka_unit_test(test_guest_ad),
	    cmocka_unit_test(test_fault_sets_nothing),
	    cmocka_unit_test(test_ept_ad),
	    cmocka_unit_test(test_splintering),
	    cmocka_unit_test(test_misconfig_checks),
	    cmocka_unit_test(test_misconfig_aborts),
	    cmocka_unit_test(test_violation_classes),
	    cmocka_unit_test(test_walk_cache_counts),
	    cmocka_unit_test(test_pwc_self_map),
	    cmocka_unit_test(test_invvpid),
	    cmocka_unit_test(test_invept),
	    cmocka_unit_test(test_guest_flushes),
	    cmocka_unit_test(test_hand_equivalence),
	    cmocka_unit_test(test_random_exact),
	    cmocka_unit_test(test_random_huge_guest),
	    cmocka_unit_test(test_violations_exact),
	    cmocka_unit_test(test_random_caches),
	    cmocka_unit_test(test_equivalence),
	    cmocka_unit_test(test_audit_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

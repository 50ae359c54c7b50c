/*
 * test_core.c - the engine core on hand-built page tables: the 1D walker's
 * exact reference counts, A/D updates, fault error codes, the paging-
 * structure caches, CR3/INVLPG/flush semantics, the VPID-off world-switch
 * flush, the p2m policy and the guest-memory digest.
 *
 * Guest-physical layout built by build_tables() (native: gPA == hPA):
 *
 *   gfn 0x10  PML5 (5-level only)      gfn 0x11  PML4
 *   gfn 0x12  PDPT                      gfn 0x13  PD
 *   gfn 0x14  PT
 *   VA_4K   = 0x00007f0000001000 -> gfn 0x100  (4K, P|RW|US)
 *   VA_4K+1 page                 -> gfn 0x101  (4K, P|US, read-only)
 *   VA_4K+2 pages                -> gfn 0x102  (4K, P|RW, supervisor)
 *   VA_4K+3 pages                -> gfn 0x103  (4K, P|RW|US|NX)
 *   VA_2M   = 0x00007f0000200000 -> gfn 0x200  (2M leaf in the PD)
 *   VA_1G   = 0x00007f0040000000 -> gfn 0x40000 (1G leaf in the PDPT)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/core/cpu.h"
#include "../src/core/walk.h"
#include "../src/cli/registry.h"

#define VA_4K UINT64_C(0x00007f0000001000)
#define VA_2M UINT64_C(0x00007f0000200000)
#define VA_1G UINT64_C(0x00007f0040000000)
#define TBL(g) ((uint64_t)(g) << PAGE_SHIFT)
#define UP (GPTE_P | GPTE_RW | GPTE_US)

static struct vm *make_vm(int levels, bool caches, bool vpid)
{
	struct vm_config c;
	config_defaults(&c);
	c.mode = "native";
	c.guest_mem = UINT64_C(2) << 30;
	c.levels = levels;
	c.walk_caches = caches;
	c.vpid = vpid;
	char err[256];
	struct vm *vm = vm_create(&c, err, sizeof(err));
	assert_non_null(vm);
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
	gpa_write64(vm, GPA(TBL(0x14) + 8 * pt_index(VA_4K, 1)), TBL(0x100) | UP);
	gpa_write64(vm, GPA(TBL(0x14) + 8 * pt_index(VA_4K + 0x1000, 1)),
		    TBL(0x101) | GPTE_P | GPTE_US);
	gpa_write64(vm, GPA(TBL(0x14) + 8 * pt_index(VA_4K + 0x2000, 1)),
		    TBL(0x102) | GPTE_P | GPTE_RW);
	gpa_write64(vm, GPA(TBL(0x14) + 8 * pt_index(VA_4K + 0x3000, 1)),
		    TBL(0x103) | UP | GPTE_NX);
	gpa_write64(vm, GPA(TBL(0x13) + 8 * pt_index(VA_2M, 2)), TBL(0x200) | UP | GPTE_PS);
	gpa_write64(vm, GPA(TBL(0x12) + 8 * pt_index(VA_1G, 3)), TBL(0x40000) | UP | GPTE_PS);
	cpu_write_cr3(&vm->vcpu, top);
	memset(&vm->st, 0, sizeof(vm->st));
	cpu_set_user(&vm->vcpu, true);
}

/* A completed 4K walk with caches off makes exactly 'levels' references,
 * sets A on every entry and D on the leaf of a write. */
static void test_walk_4k_refs(void **state)
{
	(void)state;
	for (int levels = 4; levels <= 5; levels++) {
		struct vm *vm = make_vm(levels, false, true);
		build_tables(vm);
		cpu_store(&vm->vcpu, VA_4K + 8, 8, UINT64_C(0xfeedface5a5a5a5a));
		assert_int_equal(vm->st.walks, 1);
		assert_int_equal(vm->st.walk_refs, (uint64_t)levels);
		assert_int_equal(vm->st.walks_user, 1);
		assert_int_equal(vm->st.walk_refs_user, (uint64_t)levels);
		assert_int_equal(gpa_read64(vm, GPA(TBL(0x100) + 8)), UINT64_C(0xfeedface5a5a5a5a));
		uint64_t pte = gpa_read64(vm, GPA(TBL(0x14) + 8 * pt_index(VA_4K, 1)));
		assert_true(pte & GPTE_A);
		assert_true(pte & GPTE_D);
		uint64_t pde = gpa_read64(vm, GPA(TBL(0x13) + 8 * pt_index(VA_4K, 2)));
		assert_true(pde & GPTE_A);
		assert_false(pde & GPTE_D);
		/* A second access to the same page hits the TLB. */
		assert_int_equal(cpu_load(&vm->vcpu, VA_4K + 8, 8), UINT64_C(0xfeedface5a5a5a5a));
		assert_int_equal(vm->st.walks, 1);
		assert_int_equal(vm->st.accesses, 2);
		assert_int_equal(vm->st.tlb_misses, 1);
		vm_destroy(vm);
	}
}

/* A read leaves D clear and fills a clean entry; the first write re-walks
 * to set D (one more walk, same reference count). */
static void test_dirty_rewalk(void **state)
{
	(void)state;
	struct vm *vm = make_vm(4, false, true);
	build_tables(vm);
	(void)cpu_load(&vm->vcpu, VA_4K, 8);
	uint64_t pte = gpa_read64(vm, GPA(TBL(0x14) + 8 * pt_index(VA_4K, 1)));
	assert_true(pte & GPTE_A);
	assert_false(pte & GPTE_D);
	cpu_store(&vm->vcpu, VA_4K, 8, 7);
	assert_int_equal(vm->st.walks, 2);
	assert_int_equal(vm->st.walk_refs, 8);
	pte = gpa_read64(vm, GPA(TBL(0x14) + 8 * pt_index(VA_4K, 1)));
	assert_true(pte & GPTE_D);
	cpu_store(&vm->vcpu, VA_4K, 8, 8);
	assert_int_equal(vm->st.walks, 2);
	vm_destroy(vm);
}

/* 2M pages take levels-1 references, 1G pages levels-2. */
static void test_walk_large_refs(void **state)
{
	(void)state;
	struct vm *vm = make_vm(4, false, true);
	build_tables(vm);
	cpu_store(&vm->vcpu, VA_2M + 0x12345 * 8, 8, 1);
	assert_int_equal(vm->st.walk_refs, 3);
	assert_int_equal(gpa_read64(vm, GPA(TBL(0x200) + 0x12345 * 8)), 1);
	cpu_store(&vm->vcpu, VA_1G + 0x3456789, 1, 0xab);
	assert_int_equal(vm->st.walks, 2);
	assert_int_equal(vm->st.walk_refs, 3 + 2);
	/* Every address of the 2M page hits the same TLB entry. */
	(void)cpu_load(&vm->vcpu, VA_2M + 0x1ff000, 8);
	assert_int_equal(vm->st.walks, 2);
	vm_destroy(vm);
}

static struct walk1d walk_of(struct vm *vm, gva_t va, enum access_kind k, bool user)
{
	struct mem_access a = { .gva = va, .kind = k, .size = 8, .user = user };
	struct walk1d w;
	walk1d(&vm->vcpu, vm->vcpu.cr3 & PTE_FRAME_MASK, &a, DIM_NATIVE, true, &w);
	return w;
}

/* Error codes of each kind of fault, and no A bit set by a faulting walk. */
static void test_fault_codes(void **state)
{
	(void)state;
	struct vm *vm = make_vm(4, false, true);
	build_tables(vm);
	struct walk1d w = walk_of(vm, VA_4K + 0x10000, ACC_WRITE, true); /* not present */
	assert_false(w.ok);
	assert_int_equal(w.fault.error_code, PFEC_W | PFEC_U);
	assert_int_equal(w.fault.level, 1);
	assert_int_equal(w.refs, 4);
	w = walk_of(vm, VA_4K + 0x1000, ACC_WRITE, true); /* read-only */
	assert_int_equal(w.fault.error_code, PFEC_P | PFEC_W | PFEC_U);
	w = walk_of(vm, VA_4K + 0x1000, ACC_WRITE, false); /* CR0.WP: kernel too */
	assert_int_equal(w.fault.error_code, PFEC_P | PFEC_W);
	w = walk_of(vm, VA_4K + 0x2000, ACC_READ, true); /* supervisor page */
	assert_int_equal(w.fault.error_code, PFEC_P | PFEC_U);
	w = walk_of(vm, VA_4K + 0x3000, ACC_FETCH, true); /* NX */
	assert_int_equal(w.fault.error_code, PFEC_P | PFEC_I | PFEC_U);
	w = walk_of(vm, UINT64_C(0x0000800000000000), ACC_READ, true); /* non-canonical */
	assert_false(w.ok);
	assert_true(w.fault.error_code & PFEC_RSVD);
	assert_int_equal(w.refs, 0);
	uint64_t pml4e = gpa_read64(vm, GPA(TBL(0x11) + 8 * pt_index(VA_4K, 4)));
	assert_false(pml4e & GPTE_A);
	w = walk_of(vm, VA_4K + 0x2000, ACC_READ, false); /* permitted for the kernel */
	assert_true(w.ok);
	pml4e = gpa_read64(vm, GPA(TBL(0x11) + 8 * pt_index(VA_4K, 4)));
	assert_true(pml4e & GPTE_A);
	vm_destroy(vm);
}

/* With walk caches on, a neighbour in the same PT needs one reference: the
 * PDE cache supplies the PT, and the three skipped levels count as hits. */
static void test_psc_shortens(void **state)
{
	(void)state;
	struct vm *vm = make_vm(4, true, true);
	build_tables(vm);
	(void)cpu_load(&vm->vcpu, VA_4K, 8);
	assert_int_equal(vm->st.walk_refs, 4);
	(void)cpu_load(&vm->vcpu, VA_4K + 0x1000, 8);
	assert_int_equal(vm->st.walks, 2);
	assert_int_equal(vm->st.walk_refs, 5);
	assert_int_equal(vm->st.psc_hits, 3);
	/* The 2M leaf sits in the cached PD: the PDPTE cache leaves one reference. */
	(void)cpu_load(&vm->vcpu, VA_2M, 8);
	assert_int_equal(vm->st.walk_refs, 6);
	assert_int_equal(vm->st.psc_hits, 5);
	/* INVLPG drops the TLB entry and the walk-cache entries covering it. */
	cpu_invlpg(&vm->vcpu, VA_4K);
	(void)cpu_load(&vm->vcpu, VA_4K, 8);
	assert_int_equal(vm->st.walk_refs, 10);
	vm_destroy(vm);
}

/* MOV to CR3: without the no-flush bit the PCID's non-global entries go;
 * with it they stay. */
static void test_cr3_flush(void **state)
{
	(void)state;
	struct vm *vm = make_vm(4, false, true);
	build_tables(vm);
	uint64_t cr3 = vm->vcpu.cr3;
	(void)cpu_load(&vm->vcpu, VA_4K, 8);
	assert_int_equal(vm->st.walks, 1);
	cpu_write_cr3(&vm->vcpu, cr3 | CR3_NOFLUSH);
	assert_true(vm->vcpu.cr3_noflush);
	(void)cpu_load(&vm->vcpu, VA_4K, 8);
	assert_int_equal(vm->st.walks, 1);
	cpu_write_cr3(&vm->vcpu, cr3);
	assert_int_equal(vm->st.cr3_loads, 2);
	(void)cpu_load(&vm->vcpu, VA_4K, 8);
	assert_int_equal(vm->st.walks, 2);
	/* A different PCID's entries are untouched by this PCID's flush. */
	cpu_write_cr3(&vm->vcpu, cr3 | 7);
	(void)cpu_load(&vm->vcpu, VA_4K, 8);
	assert_int_equal(vm->st.walks, 3);
	cpu_write_cr3(&vm->vcpu, cr3 | CR3_NOFLUSH);
	(void)cpu_load(&vm->vcpu, VA_4K, 8);
	assert_int_equal(vm->st.walks, 3);
	vm_destroy(vm);
}

/* A #PF handler for test_l0_tags_follow_context: STAC, as a kernel that
 * meant to touch user memory would, so that the access can complete. */
static void pf_set_ac(struct vcpu *v, const void *info, void *ctx)
{
	(void)info;
	(*(int *)ctx)++;
	cpu_set_ac(v, true);
}

/*
 * The L0 tags of the TLB-hit path (tlb.h) stand for a hit under the vCPU's
 * current PCID, privilege and rights: a hit of the inline probe sets the tag
 * of its kind, and a MOV to CR3 (even without a flush) or a change of the
 * rights empties the L0, so the next access is looked up (and walks or
 * faults) as the architecture says. The TLB's counters are the same
 * whichever path found the hit.
 */
static void test_l0_tags_follow_context(void **state)
{
	(void)state;
	struct vm *vm = make_vm(4, false, true);
	build_tables(vm);
	struct vcpu *v = &vm->vcpu;
	uint64_t cr3 = v->cr3;
	for (int i = 0; i < 5; i++)
		(void)cpu_load(v, VA_4K + 8 * (uint64_t)i, 8);
	assert_int_equal(vm->st.walks, 1);
	assert_int_equal(tlb_l0_tag(&v->tlb, VA_4K, true, ACC_READ), VA_4K >> PAGE_SHIFT);
	assert_int_equal(tlb_l0_tag(&v->tlb, VA_4K, true, ACC_WRITE), TLB_NO_VPN);
	assert_true(v->tlb.l0.e[tlb_l0_index(VA_4K >> PAGE_SHIFT, true)]->stamp == v->tlb.clock);
	assert_int_equal(tlb_counters(&v->tlb).lookups, 5);
	assert_int_equal(tlb_counters(&v->tlb).l1_hits, 4);
	assert_int_equal(tlb_counters(&v->tlb).misses, 1);

	/* Another PCID, no flush: the tag is gone and the page walks again. */
	cpu_write_cr3(v, cr3 | 7 | CR3_NOFLUSH);
	assert_int_equal(tlb_l0_tag(&v->tlb, VA_4K, true, ACC_READ), TLB_NO_VPN);
	assert_int_equal(v->tlb.l0_used, 0);
	(void)cpu_load(v, VA_4K, 8);
	assert_int_equal(vm->st.walks, 2);

	/* SMAP with EFLAGS.AC set: the kernel reads the user page, and its
	 * tag is set; CLAC takes it away, and the next read faults. */
	struct paging_ctl ctl = v->ctl;
	ctl.smap = true;
	cpu_set_paging_ctl(v, &ctl);
	cpu_set_ac(v, true);
	cpu_set_user(v, false);
	for (int i = 0; i < 3; i++)
		(void)cpu_load(v, VA_4K, 8);
	assert_int_equal(tlb_l0_tag(&v->tlb, VA_4K, false, ACC_READ), VA_4K >> PAGE_SHIFT);
	int faults = 0;
	cpu_set_vector(v, VEC_PF, pf_set_ac, &faults);
	cpu_set_ac(v, false);
	assert_int_equal(tlb_l0_tag(&v->tlb, VA_4K, false, ACC_READ), TLB_NO_VPN);
	uint64_t misses = vm->st.tlb_misses;
	(void)cpu_load(v, VA_4K, 8);
	assert_int_equal(faults, 1);
	assert_int_equal(vm->st.guest_faults, 1);
	assert_int_equal(vm->st.tlb_misses, misses + 1);
	vm_destroy(vm);
}

/*
 * An L0 hit counts itself once, in its TLB's l0_hits[user]; accesses,
 * user_accesses, the TLB's L1 hits and, with the cache model off, the
 * access's L1 reference and its cost.ref_l1 cycles are derived from it
 * (vm_stats_fold()). Read in the middle of a run, through vm_accesses(),
 * vm_user_accesses(), tlb_counters() or vm_sync_stats(), every one of
 * them is exact, and folding twice changes nothing.
 */
static void test_l0_hits_fold_exactly(void **state)
{
	(void)state;
	for (int on = 0; on < 2; on++) {
		struct vm_config c;
		config_defaults(&c);
		c.mode = "native";
		c.guest_mem = UINT64_C(2) << 30;
		c.levels = 4;
		c.cache_model = on;
		char err[256];
		struct vm *vm = vm_create(&c, err, sizeof(err));
		assert_non_null(vm);
		build_tables(vm);
		struct vcpu *v = &vm->vcpu;
		cpu_set_ac(v, true); /* the kernel may read the user page under SMAP */

		/* A store that misses, 6 user loads (the first tags the L0), 4
		 * kernel loads (the first tags the kernel's read tag), 3 user
		 * stores (the first tags the write tag). */
		cpu_set_user(v, true);
		cpu_store(v, VA_4K, 8, 7);
		vm_sync_stats(vm);
		uint64_t served0[4], cyc0 = vm->st.cyc_access;
		memcpy(served0, vm->cache.served, sizeof(served0));
		for (int i = 0; i < 6; i++)
			assert_int_equal(cpu_load(v, VA_4K + 8 * (uint64_t)i, 8), i ? 0 : 7);
		cpu_set_user(v, false);
		for (int i = 0; i < 4; i++) /* the flag given, as bench's replay does */
			(void)cpu_load_cm(v, VA_4K + 64, 8, on);
		cpu_set_user(v, true);
		for (int i = 0; i < 3; i++)
			cpu_store_cm(v, VA_4K + 128, 8, (uint64_t)i, on);
		/* 5 + 3 + 2 accesses took the L0: counted there alone. */
		assert_int_equal(v->tlb.c.l0_hits[1], 5 + 2);
		assert_int_equal(v->tlb.c.l0_hits[0], 3);
		assert_int_equal(vm->st.accesses, 14 - 10);

		assert_int_equal(tlb_counters(&v->tlb).l1_hits, 13);
		assert_int_equal(vm_accesses(vm), 14);
		assert_int_equal(vm_user_accesses(vm), 10);
		assert_int_equal(v->tlb.c.l0_hits[0] + v->tlb.c.l0_hits[1], 0);
		assert_int_equal(tlb_counters(&v->tlb).l1_hits, 13);
		assert_int_equal(tlb_counters(&v->tlb).lookups, 14);
		vm_sync_stats(vm);
		vm_sync_stats(vm);
		assert_int_equal(vm->st.accesses, 14);
		assert_int_equal(vm->st.tlb_hits, 13);
		assert_int_equal(vm->st.tlb_misses, 1);
		if (!on) {
			/* The 13 hits after the store: 13 L1 references of
			 * the model, ref_l1 cycles each. */
			assert_int_equal(vm->cache.served[0] - served0[0], 13);
			assert_int_equal(vm->st.cyc_access - cyc0, 13 * (uint64_t)vm->cost.ref_l1);
		} else {
			/* Two lines, the store's left in the L1: 13 L1 hits
			 * but the first of VA_4K + 64 and of VA_4K + 128 (the
			 * model saw each reference, and charged it the
			 * latency of the level that served it). */
			uint64_t lower = 0, cyc = 0;
			for (int l = 0; l < 4; l++) {
				uint64_t d = vm->cache.served[l] - served0[l];
				cyc += d * vm->ref_cycles[CACHE_L1 + l];
				lower += l ? d : 0;
			}
			assert_int_equal(vm->cache.served[0] - served0[0], 11);
			assert_int_equal(lower, 2);
			assert_int_equal(vm->st.cyc_access - cyc0, cyc);
		}

		/* Fetches: the first hits the L2 (the store's fill put the page
		 * there), refills l1i and tags the fetch side of the L0; four hit
		 * that tag: counted in l0_fetch_hits alone, each an access, an L1
		 * hit and cost.access cycles, with the cache model on or off. */
		uint64_t cyc1 = vm->st.cyc_access;
		for (int i = 0; i < 5; i++)
			cpu_fetch(v, VA_4K + 16 * (uint64_t)i, 4);
		assert_int_equal(v->tlb.c.l0_fetch_hits[1], 4);
		assert_int_equal(tlb_counters(&v->tlb).l2_hits, 1);
		assert_int_equal(tlb_counters(&v->tlb).l1_hits, 13 + 4);
		assert_int_equal(vm_accesses(vm), 14 + 5);
		assert_int_equal(vm_user_accesses(vm), 10 + 5);
		assert_int_equal(v->tlb.c.l0_fetch_hits[1], 0);
		vm_sync_stats(vm);
		assert_int_equal(vm->st.tlb_misses, 1);
		assert_int_equal(vm->st.tlb_hits, 13 + 5);
		assert_int_equal(vm->st.cyc_access - cyc1, 5 * (uint64_t)vm->cost.access);
		vm_destroy(vm);
	}
}

static uint64_t dummy_counter;

/* VPID off: every VM exit flushes the TLB. VPID on: entries survive. */
static void test_world_switch_flush(void **state)
{
	(void)state;
	for (int vpid = 0; vpid <= 1; vpid++) {
		struct vm *vm = make_vm(4, false, vpid);
		build_tables(vm);
		(void)cpu_load(&vm->vcpu, VA_4K, 8);
		assert_int_equal(tlb_count_valid(&vm->vcpu.tlb) > 0, 1);
		uint64_t before = tlb_count_valid(&vm->vcpu.tlb);
		vm_exit(&vm->vcpu, EXIT_CR_ACCESS, &dummy_counter, 100);
		assert_int_equal(vm->st.vm_exits, 1);
		assert_int_equal(vm->st.cyc_exit, vm->cost.vmexit);
		assert_int_equal(vm->st.cyc_vmm, 100);
		assert_int_equal(tlb_count_valid(&vm->vcpu.tlb), vpid ? before : 0);
		(void)cpu_load(&vm->vcpu, VA_4K, 8);
		assert_int_equal(vm->st.walks, vpid ? 1 : 2);
		vm_destroy(vm);
	}
}

/* VMM modes back guest frames lazily in host-page-size chunks that are
 * contiguous and aligned, from the top of the guest region down, and never
 * hand out chunk 0. */
static void test_p2m_chunks(void **state)
{
	(void)state;
	struct vm_config c;
	config_defaults(&c);
	c.mode = "native";
	c.guest_mem = UINT64_C(64) << 20;
	char err[256];
	struct vm *vm = vm_create(&c, err, sizeof(err));
	assert_non_null(vm);
	assert_int_equal(p2m_lookup(vm, 0x1234), 0x1234); /* identity */
	/* Emulate a VMM-mode p2m on the same VM. */
	vm->p2m.identity = false;
	vm->p2m.slot = calloc(vm->p2m.nframes, sizeof(*vm->p2m.slot)); /* nothing backed */
	assert_non_null(vm->p2m.slot);
	vm->cfg.host_page = PG_2M;
	vm->hm.guest_next = 2048; /* chunks are handed out downwards from here */
	hfn_t h = p2m_ensure(vm, 0x605);
	assert_int_equal(h % 512, 0x605 % 512);
	assert_int_equal(h, 1536 + 5);
	assert_int_equal(p2m_lookup(vm, 0x600), 1536);
	assert_int_equal(p2m_lookup(vm, 0x7ff), 1536 + 511);
	assert_int_equal(p2m_lookup(vm, 0x800), INVALID_HFN);
	assert_int_equal(p2m_ensure(vm, 0x800), 1024);
	assert_int_equal(p2m_ensure(vm, 0x1000), 512);
	assert_int_equal(p2m_ensure(vm, vm->p2m.nframes), INVALID_HFN);
	vm_destroy(vm);
}

/* The digest sees every byte of guest memory, and an all-zero frame reads
 * the same as an unbacked one. It reads the frames written, and only them,
 * and agrees with the reference scan of all guest memory. */
static void test_digest(void **state)
{
	(void)state;
	struct vm *a = make_vm(4, false, true), *b = make_vm(4, false, true);
	assert_int_equal(vm_guest_digest(a), vm_guest_digest(b));
	assert_int_equal(a->p2m.digest_frames, 0);
	gpa_write64(a, GPA(0x5000), 0x5a);
	gpa_write64(a, GPA(0x7ff8), 0x5b);
	gpa_write64(a, GPA(0x7ff8), 0);
	assert_int_equal(vm_guest_digest(a), vm_guest_digest_scan(a));
	assert_int_equal(a->p2m.digest_frames, 2);
	assert_int_not_equal(vm_guest_digest(a), vm_guest_digest(b));
	gpa_write64(b, GPA(0x5000), 0x5a);
	assert_int_equal(vm_guest_digest(a), vm_guest_digest(b));
	gpa_write64(b, GPA(0x5000), 0);
	gpa_write64(a, GPA(0x5000), 0);
	assert_int_equal(vm_guest_digest(a), vm_guest_digest(b));
	vm_destroy(a);
	vm_destroy(b);
}

static void test_bad_config(void **state)
{
	(void)state;
	struct vm_config c;
	char err[256];
	config_defaults(&c);
	c.levels = 3;
	assert_null(vm_create(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "levels"));
	config_defaults(&c);
	c.mode = "bogus";
	assert_null(vm_create(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "bogus"));
	config_defaults(&c);
	c.guest_mem = UINT64_C(3) << 20;
	assert_null(vm_create(&c, err, sizeof(err)));
	config_defaults(&c);
	c.host_mem = UINT64_C(1) << 20;
	assert_null(vm_create(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "--host-mem"));
}

/* Accesses that straddle a page are split into two. */
static void test_straddle(void **state)
{
	(void)state;
	struct vm *vm = make_vm(4, false, true);
	build_tables(vm);
	gpa_write64(vm, GPA(TBL(0x101)), 0); /* the next page is read-only: read only */
	cpu_store_any(&vm->vcpu, VA_4K + 0xffc, 4, 0x11223344);
	assert_int_equal(cpu_load_any(&vm->vcpu, VA_4K + 0xffc, 4), 0x11223344);
	uint64_t v = cpu_load_any(&vm->vcpu, VA_4K + 0xffe, 4);
	assert_int_equal(v, 0x1122);
	assert_int_equal(vm->st.walks, 2);
	vm_destroy(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk_4k_refs),   cmocka_unit_test(test_dirty_rewalk),
		cmocka_unit_test(test_walk_large_refs), cmocka_unit_test(test_fault_codes),
		cmocka_unit_test(test_psc_shortens),   cmocka_unit_test(test_cr3_flush),
		cmocka_unit_test(test_l0_tags_follow_context),
		cmocka_unit_test(test_l0_hits_fold_exactly),
		cmocka_unit_test(test_world_switch_flush), cmocka_unit_test(test_p2m_chunks),
		cmocka_unit_test(test_digest),         cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_straddle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

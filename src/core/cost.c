/*
 * cost.c - the default cycle costs of every event, and the cache model of
 * page-table lines that gives each walk reference its latency.
 *
 * Every default below names its source or shows its derivation; the table
 * in docs/cost-model.md repeats them with the full citations. No constant
 * is chosen to make one MMU mode win: the shadow handler costs are derived
 * from one published total (Wang et al., VEE'11) by stated arithmetic, and
 * the nested per-TLB-miss overhead is not a constant at all: it is the sum
 * of the latencies of the extra walk references that the 2D walk makes.
 *
 * Page-table line cache model
 * ---------------------------
 * Three set-associative LRU levels of 64-byte lines, looked up by the line
 * number of a host-physical address (set = line mod sets). Each access looks
 * the line up in every level, reports the highest level that held it (1 = L1
 * ... 3 = LLC, 4 = DRAM), and leaves it most recently used in all three
 * levels, filling it where it was missing.
 *
 * Invariants:
 *   - tag[i] == 0 means the way is empty, else tag[i] == line number + 1;
 *   - within one set, no two ways hold the same tag;
 *   - within one set, the stamps of occupied ways are distinct and non-zero,
 *     and an empty way's stamp is 0; so the smallest stamp of a set is an
 *     empty way if there is one, else the least recently used line;
 *   - p->clock is at least every stamp in the model.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "cost.h"

/* ---- Types and geometry ------------------------------------------------ */

#define PTC_LINE_SHIFT 6 /* 64-byte lines */

/*
 * Geometry. The model is based on a Skylake client core, the core whose TLB
 * geometry config.c uses (Intel 64 and IA-32 Architectures Optimization
 * Reference Manual, Skylake cache parameters): L1D 32 KiB 8-way, L2 256 KiB
 * 4-way, LLC up to 2 MiB per core, 16-way, inclusive. With 64-byte lines that
 * is 64 x 8, 1024 x 4 and 2048 x 16 (sets x ways).
 *
 * Page-table lines share those caches with data, but this model sees only
 * page-table lines, so it gives them a share of each level. Derivation: where
 * walk latency matters, most accesses miss the TLB; each such access brings
 * in one data line, and its walk reads about one page-table line that the
 * walk caches do not cover (the leaf-table line; upper levels are covered by
 * the paging-structure caches or stay hot). Under LRU, two streams inserting
 * lines at equal rates hold equal shares of each set. So page-table lines
 * get half of every level, as half the ways of every set (data competes
 * within each set, not for whole sets). The consequences are discussed in
 * docs/cost-model.md.
 */
#define PTC_SHARE_DIV 2u

static const struct {
	uint32_t sets, ways;
} ptc_geom[3] = {
    {64, 8 / PTC_SHARE_DIV},	/* L1: 16 KiB of page-table lines */
    {1024, 4 / PTC_SHARE_DIV},	/* L2: 128 KiB */
    {2048, 16 / PTC_SHARE_DIV}, /* LLC: 1 MiB */
};

/* ---- Cost defaults ------------------------------------------------------ */

/*
 * Walk-reference latencies, in cycles: SagePTE artifact (secondary).
 */
#define LAT_PWC 1
#define LAT_L1 4
#define LAT_L2 14
#define LAT_LLC 54
#define LAT_DRAM 200

/*
 * VM exit + entry round trip for a trivial exit: about 1,300-1,400 cycles
 * on AMD (LKML, December 2020, KVM SVM thread: VMRUN-to-exit segments of
 * 1,344-1,376 cycles). The middle of the range.
 */
#define VMEXIT_ROUND_TRIP 1350

/*
 * Guest #PF delivery and return: about 440 cycles user-to-kernel and 270
 * kernel-to-user on bare metal, Xeon E5 v3 (Y. Shan, "x86 Ring Switch
 * Overhead (Page Fault version)", 2019; secondary).
 */
#define PF_DELIVERY (440 + 270)

/*
 * Guest fault handler software: a minimal anonymous fault (no zeroing)
 * measured with a median of 3,241 cycles including delivery (secondary,
 * see docs/cost-model.md); minus PF_DELIVERY, about 2,500.
 */
#define PF_HANDLER 2500

/*
 * Page zero and copy: a freshly allocated frame is cache-cold, so zeroing
 * is bound by one core's write bandwidth to memory, assumed 4 bytes per
 * cycle (12 GB/s at 3 GHz; LKML, June 2025, "x86/mm: Add multi-page
 * clearing" reports 11.82 GB/s for page-at-a-time clearing). A copy moves
 * twice the bytes (read 4 KiB, write 4 KiB) at the same rate. Derived.
 */
#define MEM_BYTES_PER_CYCLE 4
#define PAGE_ZERO (4096 / MEM_BYTES_PER_CYCLE)
#define PAGE_COPY (2 * 4096 / MEM_BYTES_PER_CYCLE)

/*
 * TLB-control instructions, cache-hot, measured on an Intel system by
 * I. Molnar (linux-mm, 8 June 2015, "Re: [PATCH 0/3] TLB flush multiple
 * pages per IPI v5"): __flush_tlb() (CR3 reload) 251 cycles,
 * __flush_tlb_one() (INVLPG) 237 cycles.
 */
#define TLB_FLUSH 251
#define CR3_LOAD 251
#define INVLPG 237

/*
 * One spte examined or written: two loads that hit L1 and one that hits L2
 * (gpte, spte, p2m entry: 4 + 4 + 14 cycles at the latencies above) plus
 * about 28 cycles of compute, branch and store. Derived.
 */
#define VMM_SPTE 50

/*
 * Shadow handler cost per exit, calibrated to Wang et al. (VEE'11, 4.3):
 * shadow paging costs about 10 us more per guest page fault than HAP.
 *   T = 10 us x 3.0 GHz                            = 30,000 cycles
 * A typical guest page fault under shadow paging takes 4 exits: the #PF
 * exit that injects the fault, the guest's store of the new PTE into a
 * write-protected table, the retried access meeting a missing spte (hidden
 * fault), and a dirty-bit exit or a second table store. Subtract what the
 * model charges separately: 4 round trips and 9 sptes (8 prefetched, as KVM's
 * PTE_PREFETCH_NUM, plus the one written):
 *   H = (30,000 - 4 x 1,350 - 9 x 50) / 4          = 6,037 cycles per exit.
 * The split between handler kinds is not measured, so each gets H.
 */
#define WANG_SP_EXTRA_PER_FAULT 30000 /* 10 us at 3.0 GHz */
#define SHADOW_EXITS_PER_FAULT 4
#define SHADOW_SPTES_PER_FAULT 9
#define SHADOW_HANDLER                                                           \
	((WANG_SP_EXTRA_PER_FAULT - SHADOW_EXITS_PER_FAULT * VMEXIT_ROUND_TRIP - \
	  SHADOW_SPTES_PER_FAULT * VMM_SPTE) /                                   \
	 SHADOW_EXITS_PER_FAULT)

/*
 * Resync bookkeeping for one page, besides the per-spte work charged as
 * vmm_spte: hash lookup, re-write-protecting the guest page, list updates,
 * about ten spte-sized steps. Derived.
 */
#define VMM_RESYNC (10 * VMM_SPTE)

/*
 * CR3 and INVLPG exits are fast paths in KVM: no software walk of the guest
 * tables, no emulation, no fault injection. Their handler cost is the fixed
 * software of the path, counted in spte-sized steps (VMM_SPTE); the exit
 * round trip (vmexit), the sptes the handler reads or syncs (vmm_spte each),
 * the pages it resyncs (vmm_resync) and the flushes it issues (tlb_flush)
 * are charged on top, as they happen. Derived:
 *   MOV to CR3 (handle_cr -> kvm_set_cr3 -> kvm_mmu_new_pgd): decode the
 *   exit qualification and read the source register (2), the CR3 checks
 *   (1), compare the current and 3 cached roots and rotate them (4), load
 *   the shadow root into the VMCS and process the requests on re-entry (2),
 *   skip the instruction (1): 10 steps.
 *   INVLPG (handle_invlpg -> kvm_mmu_invlpg): decode the exit qualification
 *   (1), the canonical check and INVVPID by address (1; the instruction's
 *   own cost is charged as invlpg), loop over the cached roots (2), skip
 *   the instruction (1): 5 steps.
 */
#define VMM_CR3 (10 * VMM_SPTE)
#define VMM_INVLPG (5 * VMM_SPTE)

_Static_assert(VMM_CR3 == 500 && VMM_INVLPG == 250, "CR3/INVLPG derivation changed: update docs");
_Static_assert(SHADOW_HANDLER == 6037, "shadow handler derivation changed: update docs");
_Static_assert(PAGE_ZERO == 1024 && PAGE_COPY == 2048, "page derivation changed: update docs");

void cost_defaults(struct cost_model *c)
{
	*c = (struct cost_model){
	    .access = LAT_L1, /* a TLB hit is charged as an L1 data hit */
	    .ref_pwc = LAT_PWC,
	    .ref_l1 = LAT_L1,
	    .ref_l2 = LAT_L2,
	    .ref_llc = LAT_LLC,
	    .ref_dram = LAT_DRAM,
	    .pf_delivery = PF_DELIVERY,
	    .pf_handler = PF_HANDLER,
	    .page_zero = PAGE_ZERO,
	    .page_copy = PAGE_COPY,
	    .vmexit = VMEXIT_ROUND_TRIP,
	    .vmm_hidden_fault = SHADOW_HANDLER,
	    .vmm_pt_write = SHADOW_HANDLER,
	    .vmm_cr3 = VMM_CR3,
	    .vmm_invlpg = VMM_INVLPG,
	    .vmm_dirty = SHADOW_HANDLER,
	    .vmm_inject = SHADOW_HANDLER,
	    .vmm_resync = VMM_RESYNC,
	    .vmm_spte = VMM_SPTE,
	    /* Same class of work as a hidden fault (install the missing
	     * mapping of one frame), and no separate measurement: same cost. */
	    .vmm_ept_violation = SHADOW_HANDLER,
	    .tlb_flush = TLB_FLUSH,
	    .invlpg = INVLPG,
	    .cr3_load = CR3_LOAD,
	    /* pv: derived in docs/cost-model.md, "Paravirtual MMU". */
	    .pv_hypercall = PF_DELIVERY, /* the same ring crossing, there and back */
	    .pv_update = VMM_SPTE,       /* one entry checked and written */
	    .pv_validate = 10,           /* an L1-hit load, a test and a branch */
	    .pv_mmuext = 5 * VMM_SPTE,   /* decode, look up, type, act, return */
	};
}

uint32_t cost_ref_latency(const struct cost_model *c, int level)
{
	switch (level) {
	case 1:
		return c->ref_l1;
	case 2:
		return c->ref_l2;
	case 3:
		return c->ref_llc;
	case 4:
		return c->ref_dram;
	default:
		assert(!"cost_ref_latency: level must be 1..4");
		return c->ref_dram;
	}
}

/* ---- Page-table line cache: private helpers ----------------------------- */

/*
 * Renumber the stamps of every set to 1..n in LRU order, so that the clock
 * can restart small without changing any replacement decision. Runs once
 * every 2^32 accesses.
 */
static void ptc_renumber(struct ptcache *p)
{
	uint32_t max_ways = 0;

	for (int l = 0; l < 3; l++) {
		struct ptc_level *lv = &p->lvl[l];

		for (uint32_t s = 0; s < lv->sets; s++) {
			uint64_t *tag = lv->tag + (size_t)s * lv->ways;
			uint32_t *stamp = lv->stamp + (size_t)s * lv->ways;
			uint32_t rank[16];

			assert(lv->ways <= 16);
			for (uint32_t w = 0; w < lv->ways; w++) {
				rank[w] = 0;
				if (tag[w] == 0)
					continue;
				for (uint32_t v = 0; v < lv->ways; v++)
					if (tag[v] != 0 && stamp[v] <= stamp[w])
						rank[w]++;
			}
			for (uint32_t w = 0; w < lv->ways; w++)
				stamp[w] = rank[w];
		}
		if (lv->ways > max_ways)
			max_ways = lv->ways;
	}
	p->clock = max_ways;
}

/* Touch line tag t in one level at time now; returns true when it was there. */
static inline bool ptc_touch(struct ptc_level *lv, uint64_t line, uint64_t t, uint32_t now)
{
	size_t base = (size_t)(line & (lv->sets - 1)) * lv->ways;
	uint64_t *tag = lv->tag + base;
	uint32_t *stamp = lv->stamp + base;
	uint32_t victim = 0;

	for (uint32_t w = 0; w < lv->ways; w++) {
		if (tag[w] == t) {
			stamp[w] = now;
			return true;
		}
		if (stamp[w] < stamp[victim])
			victim = w;
	}
	tag[victim] = t;
	stamp[victim] = now;
	return false;
}

/* ---- Page-table line cache: API ------------------------------------------ */

/*
 * Allocate the three levels, empty. Returns 0, or -1 when out of memory, in
 * which case *p is left zeroed (ptcache_destroy() on it is harmless).
 */
int ptcache_init(struct ptcache *p)
{
	memset(p, 0, sizeof(*p));
	for (int l = 0; l < 3; l++) {
		struct ptc_level *lv = &p->lvl[l];
		size_t n = (size_t)ptc_geom[l].sets * ptc_geom[l].ways;

		lv->sets = ptc_geom[l].sets;
		lv->ways = ptc_geom[l].ways;
		lv->tag = calloc(n, sizeof(*lv->tag));
		lv->stamp = calloc(n, sizeof(*lv->stamp));
		if (lv->tag == NULL || lv->stamp == NULL) {
			ptcache_destroy(p);
			return -1;
		}
	}
	return 0;
}

void ptcache_destroy(struct ptcache *p)
{
	for (int l = 0; l < 3; l++) {
		free(p->lvl[l].tag);
		free(p->lvl[l].stamp);
	}
	memset(p, 0, sizeof(*p));
}

/*
 * Caller's duty: p was set up by ptcache_init(). No allocation here: this
 * runs for every walk reference.
 */
int ptcache_access(struct ptcache *p, uint64_t hpa)
{
	uint64_t line = hpa >> PTC_LINE_SHIFT;
	uint64_t t = line + 1;
	int served = 4;

	if (unlikely(p->clock == UINT32_MAX))
		ptc_renumber(p);
	uint32_t now = ++p->clock;

	/* Every level is touched, so the line ends up in all three. */
	if (ptc_touch(&p->lvl[2], line, t, now))
		served = 3;
	if (ptc_touch(&p->lvl[1], line, t, now))
		served = 2;
	if (ptc_touch(&p->lvl[0], line, t, now))
		served = 1;
	p->hits[served - 1]++;
	return served;
}

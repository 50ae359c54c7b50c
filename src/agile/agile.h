/*
 * agile.h - private interface of agile paging (Gandhi, Hill and Swift,
 * "Agile Paging: Exceeding the Best of Nested and Shadow Paging", ISCA'16).
 * Only src/agile and its unit test include it; core reaches the mode
 * through agile_mmu_ops alone.
 *
 * The hardware: hardware CR3 points at a shadow root (gVA -> hPA, built by
 * the VMM) and every walk starts there. A shadow entry with the switch bit
 * (AGILE_SPTE_SWITCH, an ignored bit of the x86 entry) holds the
 * host-physical address of the guest table below it instead of a shadow
 * table: the walk reads that guest table at once and goes on as a 2D walk
 * (each lower guest table, and the data, translated through the EPT). A
 * guest root that is itself in nested mode makes the whole walk 2D, from
 * guest CR3. With n guest and m EPT levels, 4K pages and no walk cache, a
 * walk that switches into the guest table of level L makes
 *     (n - L) + 1 + (L - 1)(m + 1) + m
 * references: n with no switch, 3 + 1 + 4 = 8 at the leaf table (n = m = 4),
 * and (n + 1)(m + 1) - 1 = 24 when the root is nested.
 *
 * The VMM (ISCA'16's policy): guest tables start shadowed, write-protected. A
 * table that takes cfg.agile_writes trapped stores goes to nested mode:
 * its shadow pages are dropped, its write protection goes, and the entry
 * above it becomes a switching entry; everything below it is reached in
 * nested mode too (a walk switches once). Every cfg.agile_interval
 * accesses the VMM compares each nested-mode table with its snapshot from
 * the last scan; a table that did not change goes back to shadow mode (its
 * switching entries are dropped, the next walk through it shadows it
 * again).
 *
 * Shadow pages here are simpler than src/shadow's: keyed by (gfn, level)
 * for a guest table, non-leaf sptes carry the guest entry's own rights (so
 * the hardware combines them along the path, as for the guest tables),
 * leaves are always 4K (a guest large page is split by a "direct" page,
 * filled whole when it is built), sync is eager (every store to a shadowed
 * table traps). Leaf sptes are prefetched around a hidden fault (KVM's
 * FNAME(pte_prefetch)); the walk's shadow part has a paging-structure
 * cache; the current root and cfg.shadow_roots previous roots are kept
 * (KVM's prev_roots); pages are capped at cfg.shadow_cap, by default guest
 * pages / 50 (KVM's KVM_PERMILLE_MMU_PAGES), the oldest page that is not a
 * root and not on the path being built evicted first (FIFO, as src/shadow).
 * There is no unsync.
 *
 * Paging controls: the hardware runs with CR0.WP = 1 and EFER.NXE = 1 in
 * both parts of the walk (forces_wp_nx, as KVM runs shadow paging); the
 * guest's controls are applied by the VMM's software walk in the shadow
 * part, with ag_spte_rights()'s cr0.wp = 0 conversion, and by the 2D
 * walker in the nested part (v->guest_rights); a supervisor store that
 * only the guest's CR0.WP = 0 allows through the nested part faults under
 * the hardware's WP = 1 and is emulated by the VMM (agile.c). A change of
 * the guest's controls zaps every shadow page (KVM's
 * kvm_mmu_reset_context(): agile's pages are not keyed by the controls).
 *
 * Invariants (checked by agile_audit()):
 *   - every present spte of a table's shadow page agrees with gpte o p2m:
 *     a link points at the shadow page of the gpte's table (or at the
 *     direct page of its large page), a switching entry at the host frame
 *     of a table in nested mode, a leaf at the frame the p2m gives the
 *     gpte's frame; rights never wider than the gpte's; a writable leaf
 *     needs the gpte's D bit;
 *   - no writable leaf spte maps a frame that holds a shadowed table, and
 *     no table in nested mode has a shadow page;
 *   - every leaf spte is in the rmap of its frame, every switching entry in
 *     the switch map of its table, every link in its child's parent list;
 *   - the EPT invariants of nested paging (nested_mmu_ops.audit).
 */
#ifndef VMMU_AGILE_H
#define VMMU_AGILE_H

#include "../core/vm.h"
#include "../nested/api.h"
#include "../shadow/api.h"

/* Bit 11 of an x86 entry is ignored by the hardware (software-available):
 * agile paging's "switch" bit. */
#define AGILE_SPTE_BIT_SWITCH 11
#define AGILE_SPTE_SWITCH (UINT64_C(1) << AGILE_SPTE_BIT_SWITCH)
/* Rights a non-leaf spte copies from its guest entry. */
#define AGILE_SPTE_RIGHTS (GPTE_RW | GPTE_US | GPTE_NX)

/*
 * The rights of the spte for the guest's leaf entry 'gpte' (a 4K PTE, or a
 * large entry whose direct page splits it) on the path of a supervisor
 * write that only the guest's CR0.WP = 0 allows ('wp0'): the hardware runs
 * with CR0.WP = 1 (agile_mmu_ops.forces_wp_nx), so the entry is made
 * writable and supervisor-only, and with SMEP also not executable, since
 * the page became a kernel page that SMEP would let the kernel execute.
 * This is KVM's FNAME(page_fault) rule for cr0.wp = 0
 * (Documentation/virt/kvm/x86/mmu.rst, "Handling of cr0.wp"), which
 * src/shadow applies to its leaf sptes (sp_acc_wp0()). It is applied only
 * when the entries above the leaf grant W: agile's links carry the guest
 * entry's own rights and are shared by other walks, some of which switch
 * into the 2D part below them, so they are never widened (agile.c
 * emulates such a store instead). A later user access or fetch faults and
 * gets the gpte's rights back.
 */
static inline uint64_t ag_spte_rights(uint64_t gpte, bool wp0, bool smep)
{
	uint64_t r = gpte & AGILE_SPTE_RIGHTS;
	if (wp0 && !(r & GPTE_RW)) {
		r = (r | GPTE_RW) & ~GPTE_US;
		if (smep)
			r |= GPTE_NX;
	}
	return r;
}

struct ag_page {
	gfn_t gfn;     /* guest table (indirect) or first frame of the range (direct) */
	uint8_t level; /* level of the entries */
	bool direct;   /* splits a guest large page into 4K sptes */
	bool dirty;    /* direct: the large gpte was dirty, leaves may be writable */
	hfn_t hfn;     /* host frame of the 512 sptes */
	struct ag_page *hash_next;
	struct ag_page *all_prev, *all_next;
	uint64_t *parents; /* hPAs of the link sptes that point here */
	uint32_t nparents, parents_cap;
	uint32_t root_count; /* the current root or a cached previous root */
	uint64_t pin;	     /* == agile.pin_gen: on the path being built */
	bool zapping;
};

/* Below this the path being built could need more pages than the cap. */
#define AG_MIN_CAP(levels) (UINT64_C(4) * (uint64_t)(levels) + 4)

#define AG_HASH_BUCKETS 4096u

/* One node of a reverse map: an spte (its hPA), next node index (0 = end). */
struct ag_rnode {
	uint64_t spte;
	uint32_t next;
};

/* A table in nested mode, with the snapshot of its content at the last scan. */
struct ag_nested {
	gfn_t gfn;
	uint64_t hash;
};

struct agile {
	struct vm *vm;
	struct nested_state *ns; /* the EPT and the 2D walker's caches */
	struct ag_page *hash[AG_HASH_BUCKETS];
	struct ag_page *all, *all_tail; /* newest first; the tail is the oldest */
	struct ag_page *root;		/* shadow root of guest CR3, NULL when the root is nested */
	gfn_t root_gfn;
	struct ag_page **by_hfn; /* host frame - guest_frames -> page */
	uint64_t by_hfn_len;
	uint64_t nframes;      /* guest frames */
	uint8_t *prot;	       /* per guest frame: shadow pages of tables in it */
	uint8_t *is_nested;    /* per guest frame: the table in it is in nested mode */
	uint16_t *writes;      /* per guest frame: trapped stores while shadowed */
	uint8_t *w2d_writable; /* per guest frame: a 2D walk filled it writable */
	uint32_t *rmap;	       /* per host frame of the guest region: leaf sptes mapping it */
	uint32_t *smap;	       /* per host frame: switching entries that point at it */
	struct ag_rnode *rnode;
	uint32_t rnode_len, rnode_cap, rnode_free;
	struct ag_nested *nested; /* tables in nested mode */
	uint32_t nnested, nested_cap;
	uint64_t pages, pages_peak, cap;
	uint64_t pin_gen;
	/* Previous roots, most recent first (KVM's mmu->prev_roots): kept from
	 * eviction, found again without a lookup on a CR3 load. */
	struct ag_page **prev; /* cfg.shadow_roots slots (KVM: 3) */
	uint32_t nprev;
	uint64_t cyc;	    /* handler cycles of the exit being handled */
	bool flush_pending; /* an spte that may be cached went away */
	uint64_t scan_mark; /* accesses at the last policy scan */
	/* Exact, for tests: walks by where they switched. */
	uint64_t walks_switch[MAX_LEVELS + 1]; /* [L]: into the guest table of level L */
};

static inline struct agile *agile_of(const struct vm *vm)
{
	return vm->mode_state;
}

/* ---- spt.c: shadow pages, rmaps, write protection ---- */

int ag_spt_init(struct agile *ag);
void ag_spt_destroy(struct agile *ag);
struct ag_page *ag_lookup(struct agile *ag, gfn_t gfn, int level, bool direct, bool dirty);
/* Find or create; a new table page write-protects its frame. */
struct ag_page *ag_get(struct vcpu *v, gfn_t gfn, int level, bool direct, bool dirty);
struct ag_page *ag_page_of_hfn(const struct agile *ag, hfn_t hfn);
/* Write one spte, keeping rmaps, switch maps and parent lists in step; a
 * link that leaves a page without parents zaps it (unless it is the root). */
void ag_spte_set(struct vcpu *v, struct ag_page *p, unsigned idx, uint64_t val);
void ag_zap(struct vcpu *v, struct ag_page *p);
static inline hpa_t ag_spte_addr(const struct ag_page *p, unsigned idx)
{
	return HPA((p->hfn << PAGE_SHIFT) + 8u * idx);
}
static inline uint64_t ag_spte_get(struct vm *vm, const struct ag_page *p, unsigned idx)
{
	return hpa_read64(vm, ag_spte_addr(p, idx));
}
/* Make room under the cap: evict the oldest pages that are neither roots
 * nor pinned (on the path being built) until pages < cap. */
void ag_make_room(struct vcpu *v);
/* Zap every table page of gfn (any level); returns how many. */
unsigned ag_zap_gfn(struct vcpu *v, gfn_t gfn);
/* Drop every switching entry that points at gfn. */
void ag_drop_switches(struct vcpu *v, gfn_t gfn);

/* ---- policy.c: the VMM's choice of mode per table ---- */

/* A trapped store hit table gfn: count it, move the table to nested mode
 * at cfg.agile_writes. */
void ag_policy_write(struct vcpu *v, gfn_t gfn);
/* Move table gfn to nested mode / back to shadow mode now. */
void ag_table_to_nested(struct vcpu *v, gfn_t gfn);
void ag_table_to_shadow(struct vcpu *v, gfn_t gfn);
/* The periodic scan, when cfg.agile_interval accesses have passed. */
void ag_policy_tick(struct vcpu *v);

/* ---- audit.c ---- */

const char *agile_audit(struct vm *vm, char *detail, size_t len);

#endif

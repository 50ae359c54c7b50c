/*
 * shadow.h - private state of the shadow MMU (KVM and Xen style). Only the
 * files of src/shadow and the shadow unit test include it; core reaches the
 * mode through shadow_mmu_ops alone.
 *
 * The hardware CR3 points at a shadow root: a table of real x86-64 entries
 * (sptes) in host memory that maps gVA straight to hPA. A shadow page
 * shadows one guest table, or maps one guest large page in smaller pieces:
 *
 *   indirect  (role.direct = false) shadows the guest table in frame 'gfn'
 *             at role.level; its entries follow the gptes of that table;
 *   direct    (role.direct = true) maps the guest-physical range that starts
 *             at 'gfn' (aligned to its span) with smaller pages than the guest
 *             large page above it, because the p2m is backed with smaller
 *             host pages or because a frame inside it is write-protected.
 *
 * Shadow pages are keyed by (gfn, role) in a hash of SHADOW_HASH_BUCKETS
 * buckets indexed by gfn, as KVM's mmu_page_hash. A guest frame that holds a
 * shadowed table is write-protected: every spte that maps it is read-only,
 * found through the reverse map (rmap) from host frame to sptes.
 *
 * Access rights travel down a walk as SP_ACC_* bits (KVM's ACC_*): an
 * indirect page's role.access is what the guest entries above its table
 * grant; non-leaf sptes grant everything and leaf sptes carry the combined
 * rights of the whole path.
 *
 * Invariants (checked by shadow_audit()):
 *   - every present spte of an in-sync page equals what gpte o p2m allows:
 *     the same frame, no wider rights, the gpte present with A set; a
 *     writable leaf spte also needs the gpte D bit (A/D emulation);
 *   - a non-leaf spte points at a shadow page whose (gfn, role) matches the
 *     gpte it stands for, and that page lists the spte among its parents;
 *   - no writable spte maps a frame that holds an in-sync shadowed table
 *     ("write-protected"), and no large spte covers such a frame;
 *   - only level-1 indirect pages are ever unsync; an unsync page is on the
 *     unsync list, and its sptes may be stale until the guest invalidates
 *     through a root that reaches it (or it is linked again);
 *   - the current root and the cached previous roots have root_count > 0
 *     and are never evicted;
 *   - every rmap node names a present leaf spte that maps its host frame,
 *     and every present leaf spte has exactly one rmap node.
 */
#ifndef VMMU_SHADOW_H
#define VMMU_SHADOW_H

#include "../core/walk.h"
#include "api.h"

/* ---- access rights (KVM's ACC_EXEC_MASK, ACC_WRITE_MASK, ACC_USER_MASK) ---- */
#define SP_ACC_X 1u
#define SP_ACC_W 2u
#define SP_ACC_U 4u
#define SP_ACC_ALL (SP_ACC_X | SP_ACC_W | SP_ACC_U)

/* Number of hash buckets: 4096, as KVM's KVM_NUM_MMU_PAGES. */
#define SHADOW_HASH_BITS 12
#define SHADOW_HASH_BUCKETS (1u << SHADOW_HASH_BITS)

/* Indirect shadow pages one guest frame can have: one per (level, access,
 * controls), 5 levels x 8 access combinations x 16 control combinations. */
#define SP_MAX_PER_GFN 640u

/* Entries in one table. */
#define SPTE_PER_PAGE 512u

_Static_assert(SPTE_PER_PAGE * sizeof(uint64_t) == PAGE_SIZE,
	       "a shadow page is one host frame of 8-byte sptes");
_Static_assert(SHADOW_HASH_BUCKETS == 4096, "KVM's mmu_page_hash has 4096 buckets");
_Static_assert(SP_ACC_ALL == 7, "access rights are three bits");

/* Bits of a non-leaf spte: present, writable, user, accessed. */
#define SPTE_NONLEAF (GPTE_P | GPTE_RW | GPTE_US | GPTE_A)

/*
 * The guest's paging controls a shadow page was built under, as KVM keeps
 * them in kvm_mmu_page_role (cr0_wp, smep_andnot_wp, smap_andnot_wp,
 * efer_nx): pages built under different controls are never shared, because
 * under CR0.WP = 0 a leaf spte may carry rights no gpte has (see
 * sp_acc_wp0() below).
 */
#define SP_CTL_WP 1u		 /* CR0.WP */
#define SP_CTL_SMEP_ANDNOT_WP 2u /* CR4.SMEP && !CR0.WP */
#define SP_CTL_SMAP_ANDNOT_WP 4u /* CR4.SMAP && !CR0.WP */
#define SP_CTL_NX 8u		 /* EFER.NXE */

static inline uint8_t sp_ctl_of(const struct paging_ctl *c)
{
	return (uint8_t)((c->wp ? SP_CTL_WP : 0) | (c->smep && !c->wp ? SP_CTL_SMEP_ANDNOT_WP : 0) |
			 (c->smap && !c->wp ? SP_CTL_SMAP_ANDNOT_WP : 0) | (c->nxe ? SP_CTL_NX : 0));
}

/*
 * CR0.WP = 0 under shadow paging (Documentation/virt/kvm/x86/mmu.rst,
 * "Handling of cr0.wp"; KVM's FNAME(page_fault)): the hardware keeps
 * CR0.WP = 1, so a guest supervisor write to a page whose gptes withhold W
 * is given an spte that is writable but not user, and, with SMEP, not
 * executable (the page became a kernel page, which SMEP would otherwise let
 * the kernel execute). A later user access or fetch faults and the VMM
 * installs the gpte's own rights again.
 */
static inline uint8_t sp_acc_wp0(uint8_t acc, uint8_t ctl)
{
	acc = (uint8_t)((acc | SP_ACC_W) & ~SP_ACC_U);
	if (ctl & SP_CTL_SMEP_ANDNOT_WP)
		acc &= (uint8_t)~SP_ACC_X;
	return acc;
}

/* What a shadow page shadows: its level and the rights granted above it. */
struct sp_role {
	uint8_t level;	/* level of the entries in the page, 1..5 */
	uint8_t access; /* SP_ACC_* */
	uint8_t ctl;	/* SP_CTL_*: the guest controls it was built under */
	bool direct;	/* maps a guest large page in pieces; shadows no table */
	bool global;	/* direct only: the guest large page is global (G) */
};

static inline bool sp_role_eq(struct sp_role a, struct sp_role b)
{
	return a.level == b.level && a.access == b.access && a.ctl == b.ctl &&
	       a.direct == b.direct && a.global == b.global;
}

struct shadow_page {
	gfn_t gfn;
	struct sp_role role;
	hfn_t hfn;				   /* host frame holding the 512 sptes */
	struct shadow_page *hash_next;		   /* bucket chain */
	struct shadow_page *fifo_prev, *fifo_next; /* creation order, oldest first */
	struct shadow_page *unsync_prev, *unsync_next;
	uint64_t *parents; /* hPAs of the non-leaf sptes that point here */
	uint32_t nparents, parents_cap;
	uint32_t root_count; /* current root or a cached previous root */
	uint32_t flood;	     /* emulated writes since last used by a fault */
	uint32_t npresent;   /* present sptes */
	uint64_t pin;	     /* == shadow.pin_gen: on the path being built */
	uint64_t reach_gen;  /* == shadow.reach_gen: 'reach' is valid for this pass */
	bool reach;	     /* linked (through present sptes) from the root of the pass */
	bool unsync;
	bool zapping; /* sp_zap() in progress: not an orphan to reap */
	/* Where the page sits in the address space, for targeted TLB flushes
	 * (by address, in every PCID): the base gva of the range it maps (sign
	 * bits cleared). */
	gva_t gva;
	bool gva_multi; /* linked for more than one range: flush everything */
};

/* One slot of the root cache: a guest CR3 (frame and PCID, as KVM's
 * prev_roots[i].pgd) and its shadow root. */
struct root_slot {
	gfn_t gfn;
	uint16_t pcid;
	struct shadow_page *sp; /* NULL = empty */
};

/* Reverse map node: one leaf spte that maps a host frame. */
struct rmap_node {
	uint64_t spte; /* hPA of the spte */
	uint32_t next; /* index of the next node, 0 = end */
};

struct shadow {
	struct vm *vm;
	struct shadow_page *hash[SHADOW_HASH_BUCKETS];
	struct shadow_page *fifo_head, *fifo_tail;
	struct shadow_page *unsync_head;
	uint64_t nunsync;

	/* host frame -> shadow page, for frames of the VMM region */
	struct shadow_page **by_hfn;
	uint64_t by_hfn_len;

	/* rmap: host frame (level 1), 2M chunk (level 2) or 1G chunk (level 3)
	 * of the guest region -> list of leaf sptes mapping it */
	uint32_t *rmap_head[4];
	uint64_t rmap_len[4];
	struct rmap_node *rnode;
	uint32_t rnode_len, rnode_cap, rnode_free;

	/* guest 2M / 1G regions holding at least one shadowed table frame:
	 * large sptes are not allowed over them (KVM's disallow_lpage) */
	uint32_t *lpage_block[4];
	uint64_t lpage_len[4];

	/* roots: cur, then the previous-root cache, most recent first */
	struct root_slot cur;
	struct root_slot *prev;
	uint32_t nprev;
	/* Several vCPUs: cur and prev are vCPU 'owner''s; vroot[n] and
	 * vprev[n * nprev ..] keep vCPU n's while another runs (sh_vcpu_enter()
	 * swaps them), as each KVM vCPU has its own mmu->root and prev_roots
	 * over the shared shadow pages. NULL with one vCPU. remote_flush: an
	 * spte this exit changed needs kvm_flush_remote_tlbs() before the vCPU
	 * re-enters (need_remote_flush(), or a table unlinked). */
	unsigned owner;
	struct root_slot *vroot, *vprev;
	bool remote_flush;

	uint64_t pages, pages_peak, cap;
	uint64_t pin_gen;
	uint64_t reach_gen; /* one per reachability pass of sync_root() */
	uint64_t cyc;	    /* handler cycles of the exit being handled */
	bool psc_stale;	    /* a shadow table was unlinked or freed: flush the PSCs */

	/* Incremental audit (cfg.audit): what the current exit touched. The
	 * sptes written or re-derived (by host-physical address) and the pages
	 * whose parents, presence count or sync state changed (by host frame);
	 * shadow_audit_exit() checks exactly these, then clears the lists.
	 * Counts kept for the O(1) rmap check: present leaf sptes and rmap
	 * nodes in use. */
	bool track;
	uint64_t *touched;
	size_t ntouched, touched_cap;
	hfn_t *touched_pages;
	size_t ntouched_pages, touched_pages_cap;
	bool touched_overflow; /* too many: the next audit is a full one */
	uint64_t nleaves, rnodes_used;

	/* A VMM below this one that shadows these tables in turn (shadow on
	 * shadow: L0 under an L1 whose shadow MMU this is) sees every store
	 * to an spte (shadow_set_store_hook()); NULL: none. */
	shadow_store_fn store_fn;
	void *store_ctx;
};

/* Every store to an spte goes through here after it is done. */
static inline void sh_stored(struct shadow *sh, uint64_t spte_hpa, uint64_t old, uint64_t val)
{
	if (sh->store_fn)
		sh->store_fn(sh->store_ctx, spte_hpa, old, val);
}

/* Several vCPUs: make v's root slots the current ones (shadow.c). */
void sh_vcpu_enter(struct shadow *sh, const struct vcpu *v);
/* Is sp the current root of a vCPU other than the owner? */
bool sh_other_root(const struct shadow *sh, const struct shadow_page *sp);
/* Drop sp from every other vCPU's saved root slots (sp is being zapped). */
void sh_forget_root(struct shadow *sh, const struct shadow_page *sp);

/* Record spte address a (an exit wrote it or re-derived it from its gpte). */
void sh_touch_spte(struct shadow *sh, uint64_t a);
/* Record page sp (its parents, presence count or sync state changed). */
void sh_touch_page(struct shadow *sh, const struct shadow_page *sp);

static inline struct shadow *shadow_of(const struct vm *vm)
{
	return (struct shadow *)vm->mode_state;
}

/* ---- small helpers ---- */

static inline hpa_t sp_hpa(const struct shadow_page *sp)
{
	return hfn_to_hpa(sp->hfn);
}
static inline hpa_t spte_addr(const struct shadow_page *sp, unsigned idx)
{
	return HPA((sp->hfn << PAGE_SHIFT) + 8u * idx);
}
static inline uint64_t spte_get(struct vm *vm, const struct shadow_page *sp, unsigned idx)
{
	return hpa_read64(vm, spte_addr(sp, idx));
}
static inline bool spte_leaf(uint64_t spte, int level)
{
	return level == LVL_PT || (spte & GPTE_PS);
}
/* Rights a guest entry grants, as SP_ACC_*. */
static inline uint8_t gpte_access(uint64_t gpte)
{
	uint8_t acc = 0;
	if (gpte & GPTE_RW)
		acc |= SP_ACC_W;
	if (gpte & GPTE_US)
		acc |= SP_ACC_U;
	if (!(gpte & GPTE_NX))
		acc |= SP_ACC_X;
	return acc;
}
/* SP_ACC_* as the TLBF_* permissions walk_check_perms() takes. */
static inline uint8_t sp_acc_perms(uint8_t acc)
{
	uint8_t p = 0;
	if (acc & SP_ACC_W)
		p |= TLBF_W;
	if (acc & SP_ACC_U)
		p |= TLBF_U;
	if (!(acc & SP_ACC_X))
		p |= TLBF_NX;
	return p;
}
/* Frames one entry at 'level' maps (1, 512, 512*512). */
static inline uint64_t level_frames(int level)
{
	return UINT64_C(1) << (9 * (level - 1));
}

/* ---- spt.c: shadow pages, hash, rmap, links, zaps, write protection ---- */

int spt_init(struct shadow *sh);
void spt_destroy(struct shadow *sh);
struct shadow_page *sp_lookup(struct shadow *sh, gfn_t gfn, struct sp_role role);
/* Find (gfn, role) or create it; a new indirect page write-protects gfn.
 * May evict old pages first (never pinned ones or roots). 'gva' is an
 * address inside the range the page will map. */
struct shadow_page *sp_get(struct vcpu *v, gfn_t gfn, struct sp_role role, gva_t gva);
struct shadow_page *sp_of_hfn(const struct shadow *sh, hfn_t hfn);
/* Note that 'sp' is linked for gva under the current PCID (flush targeting). */
void sp_note_gva(struct vcpu *v, struct shadow_page *sp, gva_t gva);
/* Write one spte, keeping the rmap and the parent lists in step; a removed
 * writable leaf is flushed from the TLB. */
void spte_set(struct vcpu *v, struct shadow_page *sp, unsigned idx, uint64_t val);
/* Zap a shadow page: unlink its parents, drop its sptes, free its frame. */
void sp_zap(struct vcpu *v, struct shadow_page *sp);
/* The linear address that entry idx of sp maps (canonical). */
gva_t sp_entry_gva(const struct vm *vm, const struct shadow_page *sp, unsigned idx);
/* Guest frame holds a shadowed table that is in sync: stores must trap. */
bool gfn_write_protected(const struct shadow *sh, gfn_t gfn);
/* Guest frame holds any shadowed table (sync or not). */
bool gfn_shadowed(const struct shadow *sh, gfn_t gfn);
/* Make every spte that maps gfn read-only (and zap large ones over it). */
void gfn_write_protect(struct vcpu *v, gfn_t gfn);
/* No large spte of 'level' may cover gfn's region. */
bool lpage_disallowed(const struct shadow *sh, gfn_t gfn, int level);
/* Collect the indirect pages of gfn into out[] (at most max); returns count. */
unsigned gfn_pages(const struct shadow *sh, gfn_t gfn, struct shadow_page **out, unsigned max);
/* Flush the TLB entries that entry idx of sp may have produced. */
void sp_flush_entry(struct vcpu *v, const struct shadow_page *sp, unsigned idx);
/* Account a handler step of 'n' sptes. */
static inline void sh_charge_sptes(struct shadow *sh, uint64_t n)
{
	sh->cyc += n * sh->vm->cost.vmm_spte;
}

/* ---- gwalk.c: the VMM's software walk of the guest tables ---- */

struct gwalk {
	int top;		       /* cfg.levels */
	int leaf;		       /* level of the leaf gpte */
	uint64_t gpte[MAX_LEVELS + 1]; /* entry at each level, after A/D update */
	gpa_t addr[MAX_LEVELS + 1];    /* its guest-physical address */
	uint8_t acc[MAX_LEVELS + 1];   /* rights granted above the table at level l */
	uint8_t pte_access;	       /* rights of the whole path */
	gfn_t gfn;		       /* the 4K guest frame the access lands in */
	bool set_d;		       /* this walk set D on the leaf */
	struct guest_fault fault;
};
/* Walk the guest tables of v->cr3 for a, through the p2m, charging each
 * reference as vmm_walk_refs. On success set A on every entry and D on the
 * leaf of a write, exactly as the hardware walker would, and return true.
 * On a fault set nothing and return false with w->fault. */
bool gwalk_run(struct vcpu *v, const struct mem_access *a, struct gwalk *w);

/* ---- fault.c: exits on a failed hardware walk of the shadow tables ---- */

enum xlate_result shadow_page_fault(struct vcpu *v, struct mem_access *a, const struct walk1d *hw,
				    struct xlate *out);
/* The leaf spte that guest leaf 'gpte' at 'level' allows under rights
 * 'acc' (role access of the page holding it), or 0 when none may be
 * installed without the VMM's help (not present, A clear, a large page
 * that must be split). */
uint64_t spte_from_gpte(struct vcpu *v, uint64_t gpte, int level, uint8_t acc);
/* The same with 'pte_acc', the rights of the whole path, given (a path's
 * rights, or sp_acc_wp0() of them); 0 on the same conditions. */
uint64_t spte_make(struct vcpu *v, uint64_t gpte, int level, uint8_t pte_acc);
/* The leaf spte of entry idx of direct page sp, or 0 when a smaller direct
 * page is needed below it. backed_only: 0 when the frame is not backed. */
uint64_t spte_direct(struct vcpu *v, const struct shadow_page *sp, unsigned idx, bool backed_only);

/* Does the non-leaf spte at idx of 'parent', pointing at 'child', stand
 * for guest entry 'gpte' (indirect parent) or for its place in the range
 * (direct parent)? */
bool sp_link_matches(const struct shadow_page *parent, unsigned idx, uint64_t gpte,
		     const struct shadow_page *child);

/* ---- shadow.c ---- */

/* End of a VMM handler: flush the walk caches if a shadow table went away,
 * then account the exit with base_cycles plus the work counted in sh->cyc. */
void shadow_exit(struct vcpu *v, enum exit_reason reason, uint64_t *counter, uint32_t base_cycles);

/* ---- sync.c: emulated table writes, write flooding, unsync and resync ---- */

/* The guest stored 'size' bytes at offset 'off' of write-protected frame
 * gfn (already done in guest memory): update or zap the sptes of every
 * shadow page of gfn, and unshadow pages that are flooded. */
void sync_pte_written(struct vcpu *v, gfn_t gfn, unsigned off, unsigned size);
/* Can the shadow pages of gfn go out of sync (all level-1 indirect)? */
bool sync_can_unsync(const struct shadow *sh, gfn_t gfn);
void sync_unsync_gfn(struct vcpu *v, gfn_t gfn);
/* Bring one unsync page back in sync and write-protect its frame again. */
void sync_resync_page(struct vcpu *v, struct shadow_page *sp);
/* Resync the unsync pages reachable from root through present links
 * (KVM's mmu_sync_children() from kvm_mmu_sync_roots()); unsync pages
 * that no link of root reaches are left as they are. */
void sync_root(struct vcpu *v, struct shadow_page *root);
/* Recompute every present spte of an unsync page from its gptes; the page
 * stays unsync (used when an unsync page is linked again). */
void sync_refresh_page(struct vcpu *v, struct shadow_page *sp);
/* INVLPG: re-read the gpte of gva in the unsync leaf page that maps it
 * under root (KVM's __kvm_mmu_invalidate_addr()). */
void sync_invlpg(struct vcpu *v, struct shadow_page *root, gva_t gva);
/* Recompute entry idx of an indirect page from its gpte. */
void sync_entry(struct vcpu *v, struct shadow_page *sp, unsigned idx);

/* ---- audit.c ---- */

const char *shadow_audit(struct vm *vm, char *detail, size_t len);
/* The incremental audit run after each exit with --audit: the same
 * invariants, over what the exit touched (see struct shadow). */
const char *shadow_audit_exit(struct vm *vm, char *detail, size_t len);
void shadow_audit_free(struct shadow *sh);

#endif

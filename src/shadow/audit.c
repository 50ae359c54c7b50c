/*
 * audit.c - the run-time check of the shadow MMU's invariants (shadow.h):
 * incrementally after every VM exit when cfg.audit is set (--audit), over
 * the sptes and pages the exit touched (shadow_audit_exit), and in full at
 * the end of a run and in tests (shadow_audit). It reads guest tables with gpa_read64(): nothing is
 * counted and no A/D bit changes.
 *
 * Checked, for every live shadow page and every present spte in it:
 *   spte-gpte        the gpte it stands for is present with A set, and a
 *                    leaf spte of level > 1 stands for a large gpte (in-sync
 *                    indirect pages; unsync pages may lag their gptes);
 *   spte-frame       a leaf maps p2m(gfn) of the gpte's frame (direct pages:
 *                    of its place in the range), aligned for a large page;
 *   spte-rights      a leaf grants no right the guest path withholds: W needs
 *                    W on the whole path and D on the gpte (or, under
 *                    CR0.WP = 0, a supervisor-only spte, not executable
 *                    under SMEP: KVM's cr0.wp=0 conversion), U needs U, and
 *                    execution needs no NX anywhere;
 *   wp-writable      no writable 4K spte maps a frame that holds an in-sync
 *                    shadowed table, no writable large spte covers one;
 *   spte-link        a non-leaf spte points at a live shadow page one level
 *                    down whose (gfn, role) matches the gpte;
 *   sp-parents       parent lists and non-leaf sptes agree both ways;
 *   rmap-complete    every present leaf spte is in the rmap of its frame;
 *   rmap-exact       the rmap holds as many nodes as there are present leaf
 *                    sptes: with rmap-complete, exactly one node each and no
 *                    stale node;
 *   unsync-leaf-only only level-1 indirect pages are unsync, and the unsync
 *                    list holds exactly them;
 *   sp-present-count each page counts its present sptes right;
 *   root-count       the current root and the cached roots are counted.
 */
#include <stdio.h>
#include <stdlib.h>

#include "shadow.h"

/* ---- private helpers ---- */

static struct shadow_page *page_at(const struct shadow *sh, hfn_t hfn)
{
	uint64_t i = hfn - sh->vm->hm.guest_frames;
	if (hfn < sh->vm->hm.guest_frames || i >= sh->by_hfn_len)
		return NULL;
	return sh->by_hfn[i];
}

static bool in_rmap(const struct shadow *sh, hfn_t hfn, int level, uint64_t spte_hpa)
{
	uint64_t k = hfn >> (9 * (level - 1));
	if (level > 3 || k >= sh->rmap_len[level])
		return false;
	for (uint32_t n = sh->rmap_head[level][k]; n; n = sh->rnode[n].next)
		if (sh->rnode[n].spte == spte_hpa)
			return true;
	return false;
}

static bool has_parent(const struct shadow_page *sp, uint64_t spte_hpa)
{
	for (uint32_t i = 0; i < sp->nparents; i++)
		if (sp->parents[i] == spte_hpa)
			return true;
	return false;
}

static const char *check_leaf(struct vm *vm, const struct shadow_page *sp, unsigned idx, uint64_t s,
			      char *detail, size_t len)
{
	const struct shadow *sh = shadow_of(vm);
	int level = sp->role.level;
	uint64_t a = spte_addr(sp, idx).v;
	gva_t va = sp_entry_gva(vm, sp, idx);
	gfn_t gfn;
	uint8_t acc;
	bool dirty;
	if (sp->role.direct) {
		gfn = sp->gfn + idx * level_frames(level);
		acc = sp->role.access;
		dirty = true; /* a direct page has W only under a dirty gpte */
	} else {
		if (sp->unsync) /* may lag its gptes until the next resync */
			return in_rmap(sh, hpa_to_hfn(HPA(pte_frame(s))), level, a)
				   ? NULL
				   : "rmap-complete";
		uint64_t g = gpa_read64(vm, GPA((sp->gfn << PAGE_SHIFT) + 8u * idx));
		if (!gpte_present(g) || !(g & GPTE_A) ||
		    (level > LVL_PT && !gpte_large(g, level))) {
			snprintf(detail, len,
				 "spte %#" PRIx64 " (gva %#" PRIx64 ", level %d) stands "
				 "for gpte %#" PRIx64 " at gfn %#" PRIx64 "[%u], which is not a "
				 "present accessed leaf",
				 s, va, level, g, sp->gfn, idx);
			return "spte-gpte";
		}
		gfn = gpa_to_gfn(GPA(gpte_leaf_frame(g, level)));
		acc = sp->role.access & gpte_access(g);
		dirty = (g & GPTE_D) != 0;
	}
	hfn_t h = p2m_lookup(vm, gfn);
	bool large = level > LVL_PT;
	if (h == INVALID_HFN || pte_frame(s) != (h << PAGE_SHIFT) ||
	    (large &&
	     ((h & (level_frames(level) - 1)) || p2m_chunk_size(vm) < level_page_size(level)))) {
		snprintf(detail, len,
			 "spte %#" PRIx64 " (gva %#" PRIx64 ", level %d) maps host "
			 "frame %#" PRIx64 ", but gfn %#" PRIx64 " is backed by %#" PRIx64,
			 s, va, level, pte_frame(s) >> PAGE_SHIFT, gfn, h);
		return "spte-frame";
	}
	/* Under CR0.WP = 0 a supervisor-only spte may be writable where the
	 * gptes withhold W (sp_acc_wp0()). */
	bool w_ok = (acc & SP_ACC_W) || (!(sp->role.ctl & SP_CTL_WP) && !(s & GPTE_US) &&
					 (!(sp->role.ctl & SP_CTL_SMEP_ANDNOT_WP) || (s & GPTE_NX)));
	if (((s & GPTE_RW) && !(w_ok && dirty)) ||
	    ((s & GPTE_US) && !(acc & SP_ACC_U)) || (!(s & GPTE_NX) && !(acc & SP_ACC_X))) {
		snprintf(detail, len,
			 "spte %#" PRIx64 " (gva %#" PRIx64 ", level %d) is wider than "
			 "the guest path allows (access %#x, gpte dirty %d)",
			 s, va, level, (unsigned)acc, (int)dirty);
		return "spte-rights";
	}
	if ((s & GPTE_RW) &&
	    (large ? lpage_disallowed(sh, gfn, level) : gfn_write_protected(sh, gfn))) {
		snprintf(detail, len,
			 "writable spte %#" PRIx64 " (gva %#" PRIx64 ", level %d) maps "
			 "gfn %#" PRIx64 ", which holds a write-protected guest table",
			 s, va, level, gfn);
		return "wp-writable";
	}
	if (!in_rmap(sh, hpa_to_hfn(HPA(pte_frame(s))), level, a)) {
		snprintf(detail, len,
			 "leaf spte %#" PRIx64 " at %#" PRIx64 " (gva %#" PRIx64
			 ") is not in the rmap",
			 s, a, va);
		return "rmap-complete";
	}
	return NULL;
}

static const char *check_link(struct vm *vm, const struct shadow_page *sp, unsigned idx, uint64_t s,
			      char *detail, size_t len)
{
	const struct shadow *sh = shadow_of(vm);
	uint64_t a = spte_addr(sp, idx).v;
	gva_t va = sp_entry_gva(vm, sp, idx);
	struct shadow_page *child = page_at(sh, hpa_to_hfn(HPA(pte_frame(s))));
	if (!child || child->role.level != sp->role.level - 1) {
		snprintf(detail, len,
			 "non-leaf spte %#" PRIx64 " at %#" PRIx64 " (gva %#" PRIx64
			 ", level %d) points at no shadow page of level %d",
			 s, a, va, sp->role.level, sp->role.level - 1);
		return "spte-link";
	}
	if (!has_parent(child, a)) {
		snprintf(detail, len,
			 "spte at %#" PRIx64 " links shadow page %#" PRIx64
			 " but is not in its parent list",
			 a, child->hfn);
		return "sp-parents";
	}
	uint64_t g = 0;
	if (!sp->role.direct) {
		if (sp->unsync)
			return NULL;
		g = gpa_read64(vm, GPA((sp->gfn << PAGE_SHIFT) + 8u * idx));
	}
	if (!sp_link_matches(sp, idx, g, child)) {
		snprintf(detail, len,
			 "spte %#" PRIx64 " (gva %#" PRIx64 ", level %d) links the "
			 "shadow of gfn %#" PRIx64
			 " (access %#x, direct %d), but the gpte is %#" PRIx64,
			 s, va, sp->role.level, child->gfn, (unsigned)child->role.access,
			 (int)child->role.direct, g);
		return "spte-link";
	}
	return NULL;
}

/* One present spte of sp: a leaf or a link. */
static const char *check_spte(struct vm *vm, const struct shadow_page *sp, unsigned idx, uint64_t s,
			      char *detail, size_t len)
{
	return spte_leaf(s, sp->role.level) ? check_leaf(vm, sp, idx, s, detail, len)
					    : check_link(vm, sp, idx, s, detail, len);
}

/* The page-wide invariants of sp: unsync only at level 1, parent list,
 * present count. */
static const char *check_page_meta(struct vm *vm, const struct shadow_page *sp, char *detail,
				   size_t len)
{
	const struct shadow *sh = shadow_of(vm);
	if (sp->unsync && (sp->role.direct || sp->role.level != LVL_PT)) {
		snprintf(detail, len, "shadow page of gfn %#" PRIx64 " at level %d is unsync",
			 sp->gfn, sp->role.level);
		return "unsync-leaf-only";
	}
	for (uint32_t i = 0; i < sp->nparents; i++) {
		uint64_t p = sp->parents[i];
		uint64_t s = hpa_read64(vm, HPA(p));
		struct shadow_page *ps = page_at(sh, p >> PAGE_SHIFT);
		if (!ps || !gpte_present(s) || spte_leaf(s, ps->role.level) ||
		    pte_frame(s) != sp_hpa(sp).v) {
			snprintf(detail, len,
				 "parent %#" PRIx64 " of shadow page %#" PRIx64 " holds %#" PRIx64,
				 p, sp->hfn, s);
			return "sp-parents";
		}
	}
	const uint64_t *e = hpa_ptr(vm, sp_hpa(sp));
	uint32_t present = 0;
	for (unsigned idx = 0; idx < SPTE_PER_PAGE; idx++)
		present += gpte_present(e[idx]);
	if (present != sp->npresent) {
		snprintf(detail, len, "shadow page %#" PRIx64 " has %u present sptes, counted %u",
			 sp->hfn, present, sp->npresent);
		return "sp-present-count";
	}
	return NULL;
}

/* Checks one page; adds its present leaf sptes to *leaves. */
static const char *check_page(struct vm *vm, const struct shadow_page *sp, uint64_t *leaves,
			      char *detail, size_t len)
{
	const char *bad = check_page_meta(vm, sp, detail, len);
	if (bad)
		return bad;
	const uint64_t *e = hpa_ptr(vm, sp_hpa(sp));
	for (unsigned idx = 0; idx < SPTE_PER_PAGE; idx++) {
		uint64_t s = e[idx];
		if (!gpte_present(s))
			continue;
		*leaves += spte_leaf(s, sp->role.level);
		bad = check_spte(vm, sp, idx, s, detail, len);
		if (bad)
			return bad;
	}
	return NULL;
}

static const char *check_roots(const struct shadow *sh, char *detail, size_t len)
{
	if (sh->cur.sp && sh->cur.sp->root_count == 0) {
		snprintf(detail, len, "the current root (gfn %#" PRIx64 ") is not counted",
			 sh->cur.gfn);
		return "root-count";
	}
	for (uint32_t i = 0; i < sh->nprev; i++) {
		if (sh->prev[i].sp && sh->prev[i].sp->root_count == 0) {
			snprintf(detail, len, "cached root %u (gfn %#" PRIx64 ") is not counted", i,
				 sh->prev[i].gfn);
			return "root-count";
		}
	}
	/* The saved roots of the other vCPUs (several vCPUs). */
	for (unsigned n = 0; sh->vroot && n < sh->vm->nr_vcpus; n++) {
		if (n != sh->owner && sh->vroot[n].sp && sh->vroot[n].sp->root_count == 0) {
			snprintf(detail, len, "vCPU %u's root (gfn %#" PRIx64 ") is not counted", n,
				 sh->vroot[n].gfn);
			return "root-count";
		}
	}
	return NULL;
}

static void touched_clear(struct shadow *sh)
{
	sh->ntouched = 0;
	sh->ntouched_pages = 0;
	sh->touched_overflow = false;
}

/* ---- API ---- */

/* Bound on the touched lists: an exit that touches more (a big zap, a
 * resync of many pages) gets a full audit instead. */
#define AUDIT_TOUCH_MAX (UINT64_C(1) << 16)

void sh_touch_spte(struct shadow *sh, uint64_t a)
{
	if (sh->ntouched == sh->touched_cap) {
		if (sh->touched_cap >= AUDIT_TOUCH_MAX) {
			sh->touched_overflow = true;
			return;
		}
		size_t cap = sh->touched_cap ? 2 * sh->touched_cap : 256;
		uint64_t *n = realloc(sh->touched, cap * sizeof(*n));
		if (!n) {
			sh->touched_overflow = true;
			return;
		}
		sh->touched = n;
		sh->touched_cap = cap;
	}
	sh->touched[sh->ntouched++] = a;
}

void sh_touch_page(struct shadow *sh, const struct shadow_page *sp)
{
	if (sh->ntouched_pages == sh->touched_pages_cap) {
		if (sh->touched_pages_cap >= AUDIT_TOUCH_MAX) {
			sh->touched_overflow = true;
			return;
		}
		size_t cap = sh->touched_pages_cap ? 2 * sh->touched_pages_cap : 64;
		hfn_t *n = realloc(sh->touched_pages, cap * sizeof(*n));
		if (!n) {
			sh->touched_overflow = true;
			return;
		}
		sh->touched_pages = n;
		sh->touched_pages_cap = cap;
	}
	/* Consecutive writes to one page are the common case: record it once. */
	if (sh->ntouched_pages && sh->touched_pages[sh->ntouched_pages - 1] == sp->hfn)
		return;
	sh->touched_pages[sh->ntouched_pages++] = sp->hfn;
}

void shadow_audit_free(struct shadow *sh)
{
	free(sh->touched);
	free(sh->touched_pages);
	sh->touched = NULL;
	sh->touched_pages = NULL;
}

/*
 * The incremental audit. What an exit can break, it must have written:
 * every spte write goes through spte_set() or gfn_write_protect(), every
 * re-derivation from a changed gpte through sync_entry(), and every change
 * of a page's parents, presence count or sync state through spte_set(),
 * sp_get() or the unsync list; each records what it touched (struct
 * shadow). So this checks those sptes (spte-gpte, spte-frame, spte-rights,
 * wp-writable, rmap-complete for leaves; spte-link, sp-parents for links),
 * those pages (unsync-leaf-only, sp-parents, sp-present-count), the roots,
 * and rmap-exact by the running counts. A page freed since is skipped. The
 * full audit (shadow_audit) still runs at the end of a run with --audit,
 * and catches what a write behind the VMM's back would break.
 */
const char *shadow_audit_exit(struct vm *vm, char *detail, size_t len)
{
	struct shadow *sh = shadow_of(vm);
	if (sh->touched_overflow) {
		touched_clear(sh);
		return shadow_audit(vm, detail, len);
	}
	const char *bad = check_roots(sh, detail, len);
	for (size_t i = 0; !bad && i < sh->ntouched_pages; i++) {
		const struct shadow_page *sp = page_at(sh, sh->touched_pages[i]);
		if (sp)
			bad = check_page_meta(vm, sp, detail, len);
	}
	for (size_t i = 0; !bad && i < sh->ntouched; i++) {
		uint64_t a = sh->touched[i];
		const struct shadow_page *sp = page_at(sh, a >> PAGE_SHIFT);
		uint64_t s = sp ? hpa_read64(vm, HPA(a)) : 0;
		if (gpte_present(s))
			bad = check_spte(vm, sp, (unsigned)((a & (PAGE_SIZE - 1)) / 8), s, detail,
					 len);
	}
	if (!bad && sh->rnodes_used != sh->nleaves) {
		snprintf(detail, len, "%" PRIu64 " rmap nodes for %" PRIu64 " present leaf sptes",
			 sh->rnodes_used, sh->nleaves);
		bad = "rmap-exact";
	}
	touched_clear(sh);
	return bad;
}

const char *shadow_audit(struct vm *vm, char *detail, size_t len)
{
	const struct shadow *sh = shadow_of(vm);
	const char *rbad = check_roots(sh, detail, len);
	if (rbad)
		return rbad;
	uint64_t unsync = 0, leaves = 0;
	for (const struct shadow_page *sp = sh->fifo_head; sp; sp = sp->fifo_next) {
		unsync += sp->unsync;
		const char *bad = check_page(vm, sp, &leaves, detail, len);
		if (bad)
			return bad;
	}
	/* Node 0 is the list terminator; the rest are in use or free. */
	uint64_t nodes = sh->rnode_len - 1;
	for (uint32_t n = sh->rnode_free; n; n = sh->rnode[n].next)
		nodes--;
	if (nodes != leaves) {
		snprintf(detail, len, "%" PRIu64 " rmap nodes for %" PRIu64 " present leaf sptes",
			 nodes, leaves);
		return "rmap-exact";
	}
	uint64_t listed = 0;
	for (const struct shadow_page *sp = sh->unsync_head; sp; sp = sp->unsync_next) {
		if (!sp->unsync) {
			snprintf(detail, len,
				 "in-sync shadow page of gfn %#" PRIx64 " is on the unsync list",
				 sp->gfn);
			return "unsync-leaf-only";
		}
		listed++;
	}
	if (listed != unsync || listed != sh->nunsync) {
		snprintf(detail, len,
			 "%" PRIu64 " unsync pages, %" PRIu64 " on the list, count %" PRIu64,
			 unsync, listed, sh->nunsync);
		return "unsync-leaf-only";
	}
	return NULL;
}

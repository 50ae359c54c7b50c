/*
 * narrate.c - the narrator of `vmmu explain --scenario`: a consumer of the
 * trace events and step deltas that the scenario runner (scenario.c)
 * hands it.
 *
 * It says what each event means (a TLB miss, the references of a walk, a
 * guest fault, a VM exit and the VMM's work inside it, a table entry
 * written, a flush) and what it cost, then the statistics deltas of each
 * step; the summaries after a run are in summary.c.
 *
 * Invariant: the narrator prints nothing that is not in an event, a delta,
 * the machine config or the step heading.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/pte.h"
#include "../report/csv.h"
#include "../core/vm.h"
#include "../guest-mm/gmm.h"
#include "explain.h"
#include "scenario.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the narrator ---- */

#define NARR_LINE 512
#define NARR_MAXBUF 4096 /* VMM lines buffered inside one exit */

struct nline {
	int depth;
	char key[48]; /* lines with the same non-empty key in a row collapse */
	char text[NARR_LINE];
};

struct narr {
	FILE *f;
	int verbose;
	bool shadow, nested;
	/* The mode's hardware walks are two-dimensional (mmu_ops.two_dim),
	 * and what the two tables are called (mmu_ops.guest_table and
	 * host_table; NULL: the guest's tables and "the EPT"). */
	bool two_dim;
	const char *guest_table, *host_table;
	char wname[96]; /* the walk's name, when it has to be composed */
	/* The guest runs paravirtualized (mmu_ops.paravirt): its kernel calls
	 * the hypervisor instead of exiting to it, so the VMM's work is told
	 * where it happens, under the hypercall that asked for it. */
	bool paravirt;
	bool in_hcall; /* the lines after a hypercall, until a guest event */
	bool in_lazy;  /* inside the guest's lazy-MMU section */
	int levels;    /* paging levels, for PSC hits */
	int depth;     /* nesting: 1 inside a guest fault handler */
	int nevents;   /* events in this step */

	/* one walk being accumulated */
	bool walk_open;
	bool walk_vmm; /* the VMM's software walk (shadow) */
	int walk_dim;  /* first dim of the walk */
	bool walk_2d;  /* a hardware walk with EPT references (or in a two_dim mode) */
	int wrefs, wpsc, wpwc, wntlb_cells, wntlb_hits;
	int wlevel;	 /* level of the last reference */
	uint64_t wentry; /* entry of the last reference */
	uint64_t wgva;
	enum access_kind wacc;
	bool wuser;
	uint64_t wcyc;
	char wtoks[NARR_LINE];

	/* VMM work of an exit in progress, printed under its exit */
	bool in_vmm;
	struct nline *vbuf;
	int nv;
	int vdropped;

	/* a VMM TLB flush, told with the spte change that caused it */
	bool vflush;
	uint64_t vflush_n;
	gva_t vflush_gva;
	const char *vflush_what;

	/* collapse of repeated lines: hold[0..1] the first held, hold[2] the last */
	struct nline hold[3], last;
	int nheld;
	bool have_last;
};

static void out_line(struct narr *n, const struct nline *l)
{
	fprintf(n->f, "%*s%s\n", 2 + 2 * l->depth, "", l->text);
}

static void flush_repeat(struct narr *n)
{
	if (n->nheld <= 3) {
		for (int k = 0; k < n->nheld; k++)
			out_line(n, &n->hold[k]);
	} else {
		fprintf(n->f, "%*s... %d more like this ...\n", 2 + 2 * n->hold[2].depth, "",
			n->nheld - 1);
		out_line(n, &n->hold[2]);
	}
	n->nheld = 0;
}

/* Print a line; of a run of four or more lines with the same key, print
 * the first and the last. */
static void put_line(struct narr *n, const struct nline *l)
{
	if (l->key[0] && n->have_last && strcmp(l->key, n->last.key) == 0 &&
	    l->depth == n->last.depth) {
		n->hold[n->nheld < 2 ? n->nheld : 2] = *l;
		n->nheld++;
		return;
	}
	flush_repeat(n);
	out_line(n, l);
	n->last = *l;
	n->have_last = true;
}

static void say_key(struct narr *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say_key(struct narr *n, const char *key, const char *fmt, ...)
{
	struct nline l = {.depth = n->depth};
	va_list ap;

	snprintf(l.key, sizeof(l.key), "%s", key ? key : "");
	va_start(ap, fmt);
	vsnprintf(l.text, sizeof(l.text), fmt, ap);
	va_end(ap);
	if (n->in_vmm) {
		if (n->nv < NARR_MAXBUF) {
			l.depth++;
			n->vbuf[n->nv++] = l;
		} else {
			n->vdropped++;
		}
		return;
	}
	put_line(n, &l);
}

#define say(n, ...) say_key(n, NULL, __VA_ARGS__)

static const char *cache_name(int cl)
{
	static const char *const names[] = {"?", "L1-cache", "L2-cache", "LLC", "DRAM"};
	return cl >= 0 && cl <= 4 ? names[cl] : "?";
}

/* Table level names, as the rest of the project numbers them (PT = 1). */
static const char *lvl(int level)
{
	static const char *const names[] = {"?", "PT", "PD", "PDPT", "PML4", "PML5"};
	return level >= 1 && level <= 5 ? names[level] : "?";
}

/* "P RW US A D PS G NX" for the bits that are set. */
static const char *gpte_bits(uint64_t e, char *buf, size_t len)
{
	static const struct {
		uint64_t bit;
		const char *name;
	} b[] = {{GPTE_P, "P"}, {GPTE_RW, "RW"}, {GPTE_US, "US"}, {GPTE_A, "A"},
		 {GPTE_D, "D"}, {GPTE_PS, "PS"}, {GPTE_G, "G"},	  {GPTE_NX, "NX"}};
	size_t o = 0;

	if (!(e & GPTE_P)) {
		snprintf(buf, len, "not present");
		return buf;
	}
	buf[0] = '\0';
	for (size_t k = 0; k < NELEMS(b); k++)
		if (e & b[k].bit)
			o += (size_t)snprintf(buf + o, len > o ? len - o : 0, "%s%s", o ? " " : "",
					      b[k].name);
	return buf;
}

static const char *tlbf_bits(uint64_t fl, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s", (fl & TLBF_W) ? "W" : "R", (fl & TLBF_U) ? " U" : " S",
		 (fl & TLBF_NX) ? " NX" : "", (fl & TLBF_G) ? " G" : "", (fl & TLBF_D) ? " D" : "");
	return buf;
}

/* #PF error code (SDM Vol. 3A §4.7). */
static const char *pfec_text(uint64_t ec, char *buf, size_t len)
{
	snprintf(buf, len, "%s, %s, %s%s", (ec & PFEC_P) ? "protection" : "not present",
		 (ec & PFEC_I)	 ? "fetch"
		 : (ec & PFEC_W) ? "write"
				 : "read",
		 (ec & PFEC_U) ? "user" : "kernel", (ec & PFEC_RSVD) ? ", reserved bit" : "");
	return buf;
}

/* EPT-violation exit qualification (SDM Vol. 3C table 28-7): bits 2:0 the
 * access, 5:3 the rights the entries granted, 7 GLA valid, 8 final gPA. */
static const char *eptq_text(uint64_t q, char *buf, size_t len)
{
	snprintf(buf, len, "access %s%s%s, entry rights %c%c%c%s, %s", (q & 1) ? "R" : "",
		 (q & 2) ? "W" : "", (q & 4) ? "X" : "", (q & 8) ? 'R' : '-', (q & 16) ? 'W' : '-',
		 (q & 32) ? 'X' : '-', (q & 128) ? ", linear address valid" : "",
		 (q & 256) ? "bit 8 set: on the final gPA"
			   : "bit 8 clear: on a guest page-table access");
	return buf;
}

/* What an exits_* counter means, in the narration's words. */
static const char *exit_counter_text(const char *c)
{
	static const struct {
		const char *name, *text;
	} t[] = {
	    {"exits_fault_inject", "a true guest fault: the VMM injects #PF"},
	    {"exits_hidden_fault", "hidden fault: the gpte allows it, the spte is missing"},
	    {"exits_pt_write", "store to a write-protected guest page table"},
	    {"exits_dirty", "first store to a clean page (A/D emulation)"},
	    {"exits_cr3", "MOV to CR3 or guest TLB flush"},
	    {"exits_invlpg", "INVLPG"},
	    {"exits_ept_violation", "EPT violation: the EPT does not map the gPA yet"},
	    {"exits_ept_misconfig", "EPT misconfiguration"},
	    {"exits_viommu", "the guest wrote a vIOMMU register (root or invalidation)"},
	    {"exits_l1", "nested virt: the L1 hypervisor's own exit to L0"},
	};
	for (size_t k = 0; c && k < NELEMS(t); k++)
		if (strcmp(t[k].name, c) == 0)
			return t[k].text;
	return "?";
}

static const char *dim_walk_name(struct narr *n, int dim, bool vmm)
{
	if (vmm)
		return "VMM software walk of the guest tables";
	if (n->walk_2d) {
		snprintf(n->wname, sizeof(n->wname), "2D hardware walk (%s through %s)",
			 n->guest_table ? n->guest_table : "guest tables",
			 n->host_table ? n->host_table : "the EPT");
		return n->wname;
	}
	if (dim == DIM_SHADOW)
		return "hardware walk of the shadow tables";
	return "hardware walk of the guest tables";
}

/* Print the walk accumulated so far, with its outcome. */
static void walk_flush(struct narr *n, const char *outcome)
{
	char oc[160];

	if (!n->walk_open)
		return;
	n->walk_open = false;
	if (!outcome) {
		const char *what = n->walk_vmm		       ? "gpte"
				   : n->walk_dim == DIM_SHADOW ? "spte"
							       : "entry";
		char b[64];
		if (!gpte_present(n->wentry))
			snprintf(oc, sizeof(oc), "the %s %s is not present", lvl(n->wlevel), what);
		else if (n->walk_vmm)
			snprintf(oc, sizeof(oc), "reads the %s gpte %#" PRIx64 " (%s)",
				 lvl(n->wlevel), n->wentry, gpte_bits(n->wentry, b, sizeof(b)));
		else
			snprintf(oc, sizeof(oc),
				 "fails at the %s entry: the %s deny the %s (last: %s)",
				 lvl(n->wlevel), n->walk_dim == DIM_SHADOW ? "sptes" : "entries",
				 xp_access_noun(n->wacc), gpte_bits(n->wentry, b, sizeof(b)));
		outcome = oc;
	}
	if (n->walk_2d && !n->walk_vmm) {
		say(n,
		    "%s for %#" PRIx64 ": %d memory reference%s, %d 2D-PWC hit%s, "
		    "%d nested-TLB hit%s (%d EPT references skipped), %" PRIu64 " cycles -> %s",
		    dim_walk_name(n, n->walk_dim, false), n->wgva, n->wrefs,
		    n->wrefs == 1 ? "" : "s", n->wpwc, n->wpwc == 1 ? "" : "s", n->wntlb_hits,
		    n->wntlb_hits == 1 ? "" : "s", n->wntlb_cells, n->wcyc, outcome);
		return;
	}
	say(n, "%s for %#" PRIx64 ": %s = %d memory reference%s, %" PRIu64 " cycles -> %s",
	    dim_walk_name(n, n->walk_dim, n->walk_vmm), n->wgva, n->wtoks, n->wrefs,
	    n->wrefs == 1 ? "" : "s", n->wcyc, outcome);
}

static void walk_ref(struct narr *n, const struct trace_event *ev, bool vmm)
{
	size_t o;

	if (!n->walk_open) {
		n->walk_open = true;
		n->walk_vmm = vmm;
		n->walk_dim = ev->dim;
		/* A 1D walk of shadow tables in a two_dim mode (shadow on EPT:
		 * L1's shadow MMU re-walking SPT12) stays one-dimensional. */
		n->walk_2d = !vmm && n->two_dim && ev->dim != DIM_SHADOW;
		n->wrefs = n->wpsc = n->wpwc = n->wntlb_cells = n->wntlb_hits = 0;
		n->wcyc = 0;
		n->wtoks[0] = '\0';
		n->wgva = ev->gva;
		n->wacc = ev->access;
		n->wuser = ev->user;
	}
	/* A walk that reaches the EPT is two-dimensional even in a mode that
	 * also walks in one dimension (switching under nested paging). */
	if (!vmm && ev->dim == DIM_HOST)
		n->walk_2d = true;
	n->wcyc += ev->cycles;
	o = strlen(n->wtoks);
	switch (ev->served) {
	case SERVED_PSC:
		n->wpsc++;
		snprintf(n->wtoks + o, sizeof(n->wtoks) - o, "%sPSC skips %s..%s %" PRIu64 "c",
			 o ? ", " : "", lvl(n->levels), lvl(ev->level), ev->cycles);
		if (n->verbose)
			say(n,
			    "  ref: paging-structure cache hit: the L%d entry is cached, next "
			    "table at %#" PRIx64 " (%" PRIu64 " cycles)",
			    ev->level, ev->table_addr, ev->cycles);
		return;
	case SERVED_NTLB:
		n->wntlb_cells++;
		if (ev->cycles)
			n->wntlb_hits++;
		if (n->verbose)
			say(n,
			    "  ref %2d: EPT L%d for gPA %#" PRIx64 " (%s%s): skipped, nested "
			    "TLB hit",
			    ev->step, ev->host_level, ev->addr,
			    ev->guest_level ? "guest " : "the data",
			    ev->guest_level ? lvl(ev->guest_level) : "");
		return;
	case SERVED_PWC:
		n->wpwc++;
		break;
	case SERVED_MEMORY:
		n->wrefs++;
		break;
	}
	n->wlevel = ev->level;
	n->wentry = ev->entry;
	if (n->walk_2d && !vmm) {
		if (!n->verbose)
			return;
		if (ev->dim == DIM_HOST)
			say(n,
			    "  ref %2d: EPT L%d entry %#" PRIx64 " for gPA %#" PRIx64
			    " (%s%s) = %#" PRIx64 ": %s, %" PRIu64 " cycles",
			    ev->step, ev->host_level, ev->entry_addr, ev->addr,
			    ev->guest_level ? "guest table " : "the data",
			    ev->guest_level ? lvl(ev->guest_level) : "", ev->entry,
			    ev->served == SERVED_PWC ? "2D PWC" : cache_name(ev->cache_level),
			    ev->cycles);
		else
			say(n,
			    "  ref %2d: guest L%d entry gPA %#" PRIx64 " (hPA %#" PRIx64
			    ") = %#" PRIx64 ": %s, %" PRIu64 " cycles",
			    ev->step, ev->level, ev->entry_addr, ev->addr, ev->entry,
			    ev->served == SERVED_PWC ? "2D PWC" : cache_name(ev->cache_level),
			    ev->cycles);
		return;
	}
	snprintf(n->wtoks + o, sizeof(n->wtoks) - o, "%s%s %s %" PRIu64 "c", o ? ", " : "",
		 lvl(ev->level), cache_name(ev->cache_level), ev->cycles);
	if (n->verbose) {
		char b[64];
		say(n,
		    "  ref: L%d table %#" PRIx64 " [%" PRIu64 "] entry %#" PRIx64 " = %#" PRIx64
		    " (%s): %s, %" PRIu64 " cycles",
		    ev->level, ev->table_addr, ev->index, ev->entry_addr, ev->entry,
		    gpte_bits(ev->entry, b, sizeof(b)), cache_name(ev->cache_level), ev->cycles);
	}
}

static void narr_guest_op(struct narr *n, struct vm *vm, const struct trace_event *ev)
{
	const char *w = ev->what ? ev->what : "";
	uint64_t kbase = gmm_kva(vm, GPA(0));
	char b[64];

	if (strcmp(w, "guest pte write") == 0 && n->paravirt) {
		say_key(n, w,
			"guest kernel sets its %s entry at gPA %#" PRIx64 " := %#" PRIx64
			" (%s) through pv_ops: %s",
			lvl(ev->level), ev->entry_addr, ev->entry,
			gpte_bits(ev->entry, b, sizeof(b)),
			n->in_lazy ? "queued in the lazy-MMU batch" : "an mmu_update hypercall");
	} else if (strcmp(w, "guest pte write") == 0) {
		say_key(n, w,
			"guest kernel writes its %s entry at gPA %#" PRIx64 " := %#" PRIx64 " (%s)",
			lvl(ev->level), ev->entry_addr, ev->entry,
			gpte_bits(ev->entry, b, sizeof(b)));
	} else if (strcmp(w, "lazy mmu enter") == 0) {
		n->in_lazy = true;
		say(n, "guest kernel enters lazy-MMU mode (arch_enter_lazy_mmu_mode()): its "
		       "page-table updates queue up");
	} else if (strcmp(w, "lazy mmu leave") == 0) {
		n->in_lazy = false;
		say(n,
		    "guest kernel leaves lazy-MMU mode: the %" PRIu64
		    " queued operation%s go to the hypervisor (xen_mc_flush())",
		    ev->result, ev->result == 1 ? "" : "s");
	} else if (strncmp(w, "mov cr3", 7) == 0) {
		say(n,
		    "guest %s: CR3 := %#" PRIx64 " (PCID %" PRIu64 "), %" PRIu64
		    " TLB entries dropped, %" PRIu64 " cycles",
		    w, ev->addr & PTE_FRAME_MASK, ev->addr & CR3_PCID_MASK, ev->result, ev->cycles);
	} else if (strcmp(w, "invlpg") == 0) {
		say_key(n, w,
			"guest INVLPG %#" PRIx64 ": %" PRIu64 " TLB entr%s dropped, %" PRIu64
			" cycles",
			ev->gva, ev->result, ev->result == 1 ? "y" : "ies", ev->cycles);
	} else if (strncmp(w, "tlb flush", 9) == 0) {
		say(n, "guest %s: %" PRIu64 " TLB entries dropped, %" PRIu64 " cycles", w,
		    ev->result, ev->cycles);
	} else if (strcmp(w, "zero page") == 0) {
		say(n,
		    "guest kernel zeroes the page at kva %#" PRIx64 " (gPA %#" PRIx64 "), %" PRIu64
		    " cycles",
		    ev->gva, ev->gva - kbase, ev->cycles);
	} else if (strcmp(w, "copy page") == 0) {
		say(n,
		    "guest kernel copies gPA %#" PRIx64 " to gPA %#" PRIx64 ", %" PRIu64 " cycles",
		    ev->addr - kbase, ev->gva - kbase, ev->cycles);
	} else if (strncmp(w, "demand-zero", 11) == 0 || strncmp(w, "copy-on-write", 13) == 0) {
		say(n,
		    "guest kernel: %s: %#" PRIx64 " -> gPA %#" PRIx64 " (%s entry at gPA %#" PRIx64
		    "); back to the faulting access",
		    w, ev->gva & PAGE_MASK, ev->addr, lvl(ev->level), ev->entry_addr);
		if (n->depth > 0)
			n->depth--;
	} else {
		say(n, "guest: %s", w);
	}
}

/* The paravirtual calls (Xen's names): a hypercall, and the hypervisor's
 * work inside it. Returns false for any other VMM event. */
static bool narr_hypercall(struct narr *n, const struct trace_event *ev)
{
	const char *w = ev->what ? ev->what : "";
	char b[64];

	if (strncmp(w, "hypercall ", 10) == 0) {
		n->in_hcall = false;
		const char *unit = strcmp(w, "hypercall multicall") == 0    ? "call"
				   : strcmp(w, "hypercall mmu_update") == 0 ? "update"
									    : "op";
		say_key(n, w,
			"%s: %" PRIu64 " %s%s in one trap to the hypervisor, %" PRIu64 " cycles", w,
			ev->result, unit, ev->result == 1 ? "" : "s", ev->cycles);
		n->in_hcall = true;
		return true;
	}
	int depth = n->depth;
	if (n->in_hcall)
		n->depth++;
	bool ours = true;
	if (strcmp(w, "mmu_update validated") == 0)
		say_key(n, w,
			"hypervisor: mmu_update of the %s entry at mPA %#" PRIx64 " := %#" PRIx64
			" (%s): checked, written, %" PRIu64 " cycles",
			lvl(ev->level), ev->entry_addr, ev->entry,
			gpte_bits(ev->entry, b, sizeof(b)), ev->cycles);
	else if (strcmp(w, "table validated") == 0 || strcmp(w, "table released") == 0)
		say_key(n, w,
			"hypervisor: %s table at mPA %#" PRIx64 " %s: %" PRIu64
			" entries examined, %" PRIu64 " cycles",
			lvl(ev->level), ev->table_addr,
			w[6] == 'v' ? "validated, now typed as a page table"
				    : "released, no longer a page table",
			ev->result, ev->cycles);
	else if (strcmp(w, "mmuext INVLPG") == 0)
		say_key(n, w, "hypervisor: %s %#" PRIx64 ", %" PRIu64 " cycles", w, ev->gva,
			ev->cycles);
	else if (strncmp(w, "mmuext ", 7) == 0 && ev->table_addr)
		say_key(n, w, "hypervisor: %s at mPA %#" PRIx64 ", %" PRIu64 " cycles", w,
			ev->table_addr, ev->cycles);
	else if (strncmp(w, "mmuext ", 7) == 0)
		say_key(n, w, "hypervisor: %s, %" PRIu64 " cycles", w, ev->cycles);
	else
		ours = false;
	n->depth = depth;
	return ours;
}

static void narr_vmm_op(struct narr *n, const struct trace_event *ev)
{
	const char *w = ev->what ? ev->what : "VMM work";
	char b[64], more[NARR_LINE];
	size_t o = 0;

	if (n->paravirt && narr_hypercall(n, ev))
		return;
	more[0] = '\0';
#define MORE(...) \
	(o += (size_t)snprintf(more + o, sizeof(more) > o ? sizeof(more) - o : 0, __VA_ARGS__))
	if (strncmp(w, "spte ", 5) == 0) {
		MORE(" (%s) for %#" PRIx64 ":", lvl(ev->level), ev->gva);
		if (ev->entry_addr)
			MORE(" spte at hPA %#" PRIx64, ev->entry_addr);
		MORE(" := %#" PRIx64 " (%s)", ev->entry, gpte_bits(ev->entry, b, sizeof(b)));
	} else if (strncmp(w, "EPT leaf", 8) == 0) {
		MORE(": EPT %s entry at hPA %#" PRIx64 " maps gPA %#" PRIx64 " -> hPA %#" PRIx64,
		     lvl(ev->level), ev->entry_addr, ev->addr, ev->result);
	} else if (strncmp(w, "EPT violation", 13) == 0) {
		MORE(": gPA %#" PRIx64, ev->addr);
	} else if (strncmp(w, "#PF injected", 12) == 0) {
		MORE(": error code %#" PRIx64 " (%s)", ev->result,
		     pfec_text(ev->result, b, sizeof(b)));
	} else if (strncmp(w, "VMM sets guest", 14) == 0) {
		MORE(": %s gpte at gPA %#" PRIx64 " := %#" PRIx64 " (%s)", lvl(ev->level),
		     ev->entry_addr, ev->entry, gpte_bits(ev->entry, b, sizeof(b)));
	} else {
		if (ev->level)
			MORE(" (%s)", lvl(ev->level));
		if (ev->gva)
			MORE(" for %#" PRIx64, ev->gva);
		if (ev->addr)
			MORE(" gPA %#" PRIx64, ev->addr);
		if (ev->table_addr)
			MORE(", shadow page at hPA %#" PRIx64, ev->table_addr);
		if (ev->entry_addr)
			MORE(", entry at %#" PRIx64, ev->entry_addr);
		if (ev->entry)
			MORE(" := %#" PRIx64, ev->entry);
	}
	if (n->vflush && strncmp(w, "spte ", 5) == 0 && ev->gva == n->vflush_gva) {
		MORE("; TLB flush %s: %" PRIu64 " entr%s dropped", n->vflush_what, n->vflush_n,
		     n->vflush_n == 1 ? "y" : "ies");
		n->vflush = false;
	}
#undef MORE
	say_key(n, w, "VMM: %s%s", w, more);
}

/* A VMM flush not followed by the spte change that caused it: say it alone. */
static void vflush_out(struct narr *n)
{
	if (!n->vflush)
		return;
	n->vflush = false;
	say_key(n, "VMM flush", "TLB flush: VMM flush %s: %" PRIu64 " entries dropped",
		n->vflush_what, n->vflush_n);
}

static void narr_event(void *ctx, struct vm *vm, const struct trace_event *ev, const char *ec)
{
	struct narr *n = ctx;
	char b[96], b2[96];
	/* The VMM's software walk of the guest tables (gwalk_run() says
	 * so in its events): under shadow paging every guest-dimension
	 * reference, under the nested designs L1's or L0's walks among the
	 * hardware's. */
	bool vmm_walk = ev->kind == TR_WALK_REF &&
			((n->shadow && ev->dim == DIM_GUEST) ||
			 (ev->what && strncmp(ev->what, "VMM software walk", 17) == 0));

	n->nevents++;
	bool vmm_flush =
	    ev->kind == TR_TLB_FLUSH && ev->what && strncmp(ev->what, "VMM flush", 9) == 0;
	if (n->vflush && !(ev->kind == TR_VMM_OP && ev->what &&
			   strncmp(ev->what, "spte ", 5) == 0 && ev->gva == n->vflush_gva))
		vflush_out(n);
	/* A reference that belongs to another walk, or any other event,
	 * ends the walk being accumulated. */
	if (n->walk_open &&
	    (ev->kind != TR_WALK_REF || vmm_walk != n->walk_vmm || (vmm_walk && ev->step == 1)))
		if (ev->kind != TR_WALK_DONE)
			walk_flush(n, NULL);
	if (n->in_hcall && ev->kind != TR_VMM_OP && ev->kind != TR_TLB_FLUSH)
		n->in_hcall = false;
	if (!n->in_vmm && !n->paravirt &&
	    (ev->kind == TR_VMM_OP || vmm_walk ||
	     (ev->kind == TR_TLB_FLUSH && ev->what && strncmp(ev->what, "VMM", 3) == 0))) {
		flush_repeat(n);
		n->have_last = false;
		n->in_vmm = true;
	}

	switch (ev->kind) {
	case TR_WALK_REF:
		walk_ref(n, ev, vmm_walk);
		break;
	case TR_WALK_DONE:
		if (ev->what && strcmp(ev->what, "walk complete") == 0) {
			snprintf(b, sizeof(b), "%s page at hPA %#" PRIx64,
				 page_size_name(level_page_size(ev->level)), ev->result);
			walk_flush(n, b);
		} else if (ev->what && strcmp(ev->what, "2D walk complete") == 0) {
			snprintf(b, sizeof(b),
				 "data gPA %#" PRIx64 " at hPA %#" PRIx64
				 " (guest %s leaf, EPT %s leaf)",
				 ev->addr, ev->result, lvl(ev->level), lvl(ev->host_level));
			walk_flush(n, b);
		} else if (ev->dim == DIM_HOST && ev->what &&
			   strncmp(ev->what, "EPT violation", 13) == 0) {
			snprintf(b, sizeof(b),
				 "EPT violation at the EPT %s entry for gPA %#" PRIx64,
				 lvl(ev->host_level), ev->addr);
			walk_flush(n, b);
			say(n, "EPT violation: qualification %#" PRIx64 " (%s)", ev->result,
			    eptq_text(ev->result, b2, sizeof(b2)));
		} else {
			walk_flush(n, ev->what ? ev->what : "done");
		}
		break;
	case TR_TLB_MISS:
		say(n, "TLB miss: %s %s %#" PRIx64, ev->user ? "user" : "kernel",
		    xp_access_noun(ev->access), ev->gva);
		break;
	case TR_TLB_FILL:
		say(n, "TLB fill: %#" PRIx64 " -> hPA %#" PRIx64 ", %s page, %s",
		    ev->gva & PAGE_MASK, ev->addr, page_size_name(level_page_size(ev->level)),
		    tlbf_bits(ev->result, b, sizeof(b)));
		break;
	case TR_TLB_FLUSH:
		if (vmm_flush) {
			/* "VMM flush of a write-protected mapping (by address)" */
			const char *p = strchr(ev->what, '(');
			vflush_out(n);
			n->vflush = true;
			n->vflush_n = ev->result;
			n->vflush_gva = ev->gva;
			n->vflush_what = p ? p : "";
			break;
		}
		if (ev->cycles)
			say_key(n, ev->what,
				"TLB flush: %s: %" PRIu64 " entries dropped, %" PRIu64 " cycles",
				ev->what ? ev->what : "", ev->result, ev->cycles);
		else
			say_key(n, ev->what, "TLB flush: %s: %" PRIu64 " entries dropped",
				ev->what ? ev->what : "", ev->result);
		break;
	case TR_GUEST_FAULT:
		say(n,
		    "guest #PF at %#" PRIx64 ": error code %#" PRIx64
		    " (%s), walk stopped at the %s entry; "
		    "delivered to the guest kernel, %" PRIu64 " cycles",
		    ev->gva, ev->result, pfec_text(ev->result, b, sizeof(b)), lvl(ev->level),
		    ev->cycles);
		n->depth++;
		break;
	case TR_GUEST_OP:
		narr_guest_op(n, vm, ev);
		break;
	case TR_VMM_OP:
		narr_vmm_op(n, ev);
		break;
	case TR_VM_EXIT: {
		uint32_t ex = vm->cost.vmexit;
		vflush_out(n);
		n->in_vmm = false;
		say(n,
		    "VM exit, reason %" PRIu64 " %s [%s]: %s; %u cycles exit and entry + %" PRIu64
		    " cycles handler",
		    ev->result, xp_exit_name(ev->result), ec ? ec : "?", exit_counter_text(ec), ex,
		    ev->cycles >= ex ? ev->cycles - ex : 0);
		for (int k = 0; k < n->nv; k++)
			put_line(n, &n->vbuf[k]);
		if (n->vdropped)
			say(n, "  (%d more VMM lines not shown)", n->vdropped);
		n->nv = 0;
		n->vdropped = 0;
		flush_repeat(n);
		n->have_last = false;
		break;
	}
	}
}

/* Counters left out of the per-step deltas: derived or end-of-run values. */
static bool delta_skip(const char *name)
{
	return strncmp(name, "cyc_", 4) == 0 || strcmp(name, "tlb_hits") == 0 ||
	       strstr(name, "_peak") != NULL || strcmp(name, "vmm_heap_bytes") == 0;
}

static void narr_step(void *ctx, struct vm *vm, int k, const char *heading)
{
	struct narr *n = ctx;
	n->paravirt = vm->mmu->paravirt;
	n->two_dim = vm->mmu->two_dim;
	n->guest_table = vm->mmu->guest_table;
	n->host_table = vm->mmu->host_table;
	fprintf(n->f, "\nstep %d. %s\n", k, heading);
	n->nevents = 0;
	n->depth = 0;
	n->have_last = false;
	n->nheld = 0;
}

static void narr_step_done(void *ctx, struct vm *vm, int k, const struct stats *d)
{
	struct narr *n = ctx;
	char line[1024];
	size_t o = 0;

	walk_flush(n, NULL);
	vflush_out(n);
	if (n->in_vmm) {
		/* VMM work with no exit after it (cannot happen today): show it. */
		n->in_vmm = false;
		for (int i = 0; i < n->nv; i++)
			put_line(n, &n->vbuf[i]);
		n->nv = 0;
	}
	flush_repeat(n);
	if (n->nevents == 0)
		fprintf(n->f, "  no event: %" PRIu64 " access%s, %s\n", d->accesses,
			d->accesses == 1 ? "" : "es",
			d->tlb_misses ? "with TLB misses"
				      : "all TLB hits: no walk, no fault, no exit");
	else if (d->vm_exits == 0 && strcmp(vm->mmu->name, "native") != 0)
		fprintf(n->f, "  no VM exit in this step\n");
	line[0] = '\0';
	for (size_t i = 0; i < stat_nfields; i++) {
		const struct stat_field *f = &stat_fields[i];
		uint64_t v = stat_get(d, f);
		if (v == 0 || delta_skip(f->name))
			continue;
		o += (size_t)snprintf(line + o, sizeof(line) > o ? sizeof(line) - o : 0,
				      "%s%s +%" PRIu64, o ? ", " : "", f->name, v);
	}
	if (o)
		fprintf(n->f, "  step %d counters: %s\n", k, line);
	o = 0;
	line[0] = '\0';
	for (size_t i = 0; i < stat_nfields; i++) {
		const struct stat_field *f = &stat_fields[i];
		uint64_t v = stat_get(d, f);
		if (v == 0 || strncmp(f->name, "cyc_", 4) != 0)
			continue;
		o += (size_t)snprintf(line + o, sizeof(line) > o ? sizeof(line) - o : 0,
				      "%s%s %" PRIu64, o ? ", " : "", f->name, v);
	}
	fprintf(n->f, "  step %d cycles: %" PRIu64 "%s%s%s\n", k, stats_est_cycles(d),
		o ? " (" : "", line, o ? ")" : "");
}

void scenario_describe_machine(FILE *f, const struct vm_config *c)
{
	bool each = c->mode == NULL;

	fprintf(f,
		"machine: %s%s%d levels, guest memory %" PRIu64 "M, host pages %s, "
		"VPID %s, PCID %s, walk caches %s",
		each ? "" : c->mode, each ? "" : " paging, ", c->levels, c->guest_mem >> 20,
		config_page_name(c->host_page), c->vpid ? "on" : "off", c->pcid ? "on" : "off",
		c->walk_caches ? "on" : "off");
	if (each || strcmp(c->mode, "shadow") == 0)
		fprintf(f, ", shadow sync %s, %u cached roots%s", config_sync_name(c->shadow_sync),
			c->shadow_roots, each ? " (shadow)" : "");
	fputc('\n', f);
}

int scenario_narrate(FILE *f, const char *scn, const struct vm_config *cfg, int verbose,
		     struct stats *total, char *err, size_t errlen)
{
	const struct scenario_info *d = NULL;
	for (size_t k = 0; k < scenario_count && !d; k++)
		if (strcmp(scenario_list[k].name, scn) == 0)
			d = &scenario_list[k];
	if (!d) {
		snprintf(err, errlen, "unknown scenario '%s'", scn);
		return -1;
	}
	struct narr n = {.f = f, .verbose = verbose};
	struct scenario_observer obs = {
	    .step = narr_step, .event = narr_event, .step_done = narr_step_done, .ctx = &n};
	int rc;

	n.levels = cfg->levels;
	n.shadow = strcmp(cfg->mode, "shadow") == 0;
	n.nested = strcmp(cfg->mode, "nested") == 0;
	n.vbuf = calloc(NARR_MAXBUF, sizeof(*n.vbuf));
	if (!n.vbuf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	fprintf(f, "== scenario %s under %s: %s\n", scn, cfg->mode, d->summary);
	scenario_describe_machine(f, cfg);
	fprintf(f, "setup (not narrated): %s; counters reset\n", d->setup);
	if (strcmp(scn, "fork") == 0 && n.shadow)
		fprintf(f,
			"note: shadow paging write-protects the guest tables it shadows; a leaf "
			"table already out of sync (--shadow-sync unsync, the default) takes "
			"stores without an exit until the next resync (try --shadow-sync eager)\n");
	if (strcmp(scn, "fork") == 0 && n.nested)
		fprintf(f,
			"note: under nested paging no page-table store leaves the guest; an exit "
			"here is an EPT violation, the first touch of a guest frame\n");
	if (strcmp(scn, "pt-write") == 0 && !n.shadow)
		fprintf(f, "note: only shadow paging write-protects guest page tables; here a "
			   "page-table store is a plain store\n");
	fflush(f);
	rc = scenario_run(scn, cfg, &obs, total, err, errlen);
	free(n.vbuf);
	if (rc != 0) {
		fflush(f);
		return -1;
	}
	/* Told after the run: the modes that walk an EPT (nested, switching
	 * under nested paging, the nested designs) take EPT violations here. */
	if (strcmp(scn, "ept-violation") == 0 && total->exits_ept_violation == 0)
		fprintf(f,
			"note: EPT violations exist only where the hardware walks an EPT; "
			"%s took none: the same first touches show what it does instead\n",
			cfg->mode);
	scenario_print_summary(f, scn, cfg->mode, total);
	return 0;
}

/*
 * explain.h - one translation, reference by reference, told from the trace
 * events of the real mechanism (`vmmu explain`), and the seeded exercises
 * built on it (`vmmu quiz`).
 *
 * The explainer never walks a table itself. It builds a small guest with the
 * real engine (boot, one process, mmap of the pages to explain, each page
 * populated by the guest kernel's own fault handler), flushes the TLB,
 * installs a trace hook, performs one ordinary load (or store, or
 * instruction fetch) through the vCPU, and
 * records every event the walkers, the VMM and the guest kernel emit. The
 * printers (text, JSON, SVG) consume only those records.
 *
 * Flow:
 *   explain_guest_build()   a VM with the pages of 'map' mapped;
 *   explain_access()        one load of gva, recorded into struct xp_trace;
 *   xp_print_text(), xp_print_json(), xp_write_svg()   presentation.
 *
 * Invariants:
 *   - a build is a function of its config and its map list: the same inputs
 *     give the same frames, tables and entries, so a quiz's answers equal
 *     `explain --map` of the same addresses;
 *   - the records of an access are exactly the events emitted between the
 *     hook's installation and the end of the load (or the guest error that
 *     ended it), in order;
 *   - reference numbers (xp_rec.step) count every cell of every walk of the
 *     explained address in order, cells served by a walk cache included.
 */
#ifndef VMMU_EXPLAIN_H
#define VMMU_EXPLAIN_H

#include <stdio.h>

#include "../core/config.h"
#include "../core/stats.h"
#include "../core/trace.h"

struct vm;

/* Most pages one build maps (a quiz uses a handful). */
#define XP_MAX_MAP 16

/* One recorded trace event, with its place in the explained access. */
struct xp_rec {
	struct trace_event ev;
	int walk;   /* TR_WALK_REF / TR_WALK_DONE of the explained address: walk number, from 1 */
	int step;   /* TR_WALK_REF: number of the first reference it stands for, from 1 */
	int nrefs;  /* references it stands for: 1, or the levels a 1D walk-cache hit skipped */
	bool other; /* a walk of another address (the guest kernel's own accesses) */
	bool soft;  /* a reference of the VMM's software walk of the guest tables */
};

/* What one explained access did. */
struct xp_trace {
	/* the machine */
	const char *mode; /* "native", "shadow", "nested" */
	int levels;	  /* guest paging levels */
	int ept_levels;	  /* EPT walk length (meaningful when two_d) */
	enum page_size guest_page, host_page;
	bool walk_caches, warmed;
	bool identity; /* guest-physical is host-physical: no VMM (native) */
	bool two_d;    /* the walks read EPT entries: two-dimensional (nested) */
	const char *ept;      /* the host table's name: "EPT", or the mode's host_table */
	const char *ept_note; /* who built the tables (mmu_ops.host_table_note), or NULL */
	bool machine;  /* the guest's tables hold machine frames, walked 1D (a
			* paravirtual mode, mmu_ops.paravirt): addresses are mPA */
	uint64_t cr3;  /* guest CR3 (frame and PCID) */
	/* the access */
	uint64_t gva;
	bool user;
	enum access_kind access; /* load, store or instruction fetch */
	/* the records */
	struct xp_rec *rec;
	size_t n, cap;
	bool overflow; /* more events than the recorder keeps */
	int walks;     /* walks of the explained address */
	int refs;      /* references (cells) over all those walks */
	/* the outcome */
	bool ok;	/* the load completed */
	bool gpa_known; /* gpa below was seen in the events (else from the p2m) */
	uint64_t gpa, hpa;
	enum page_size fill_size;  /* TLB entry size */
	int guest_leaf, host_leaf; /* leaf levels, 0 when unknown */
	uint64_t value;		   /* the value loaded */
	bool faulted;		   /* a page fault reached the guest kernel */
	uint64_t fault_ec;
	int fault_level;
	char error[256];    /* the guest error that ended the access (segfault ...) */
	bool warm_failed;   /* ... and it came from the warm-up load, before the hook */
	struct stats delta; /* statistics of the access alone */
};

/* Options of one explanation. */
struct xp_opts {
	const uint64_t *map; /* pages to map (user half), in order */
	size_t nmap;
	bool first_touch; /* a user load of each mapped page before the explained one */
	bool warm;	  /* warm the walk caches with warm_gva first */
	uint64_t warm_gva;
	/* The explained access: a load (the default), a store of XP_STORE_VALUE
	 * or an instruction fetch; a fetch maps the pages executable too. */
	enum access_kind access;
};

/* What an explained store writes. */
#define XP_STORE_VALUE UINT64_C(0x0123456789abcdef)

/* "load", "store" or "fetch". */
const char *xp_access_noun(enum access_kind a);

/*
 * Build a VM from cfg, boot the guest, create one process and map each
 * address of o->map: a page (a 2 MiB page with cfg->guest_page 2m) with
 * GMAP_FIXED, readable and writable, populated by the guest kernel's fault
 * handler, as MAP_POPULATE would. Returns the VM, or NULL with err set.
 */
struct vm *explain_guest_build(const struct vm_config *cfg, const struct xp_opts *o, char *err,
			       size_t errlen);

/*
 * Explain one access of gva on vm (o->access): flush the TLB, optionally
 * warm the walk caches, install the trace hook, load or store 8 bytes or
 * fetch one (user mode for a user-half address, kernel mode otherwise),
 * and fill *t. A guest error that ends the
 * load (a segfault) is part of the explanation: t->error says it, and the
 * VM must not be used again. Returns 0, or -1 when the recorder could not
 * allocate. Free t with xp_trace_free().
 */
int explain_access(struct vm *vm, uint64_t gva, const struct xp_opts *o, struct xp_trace *t);
void xp_trace_free(struct xp_trace *t);

/* Presentation: text, JSON (one array, one object per line), SVG. */
void xp_print_text(FILE *f, const struct xp_trace *t);
void xp_print_json(FILE *f, const struct xp_trace *t);
/* --brief: each walk as a compact grid, one cell per reference with where
 * it was served (explain_brief.c). */
void xp_print_brief(FILE *f, const struct xp_trace *t);
/* One reference's explanation, as the text printer gives it. */
void xp_print_ref(FILE *f, const struct xp_trace *t, const struct xp_rec *r);
/* --html: one self-contained page that steps through the references
 * (explain_html.c), written atomically. Returns 0, or -1 with err set. */
int xp_write_html(const char *path, const struct xp_trace *t, char *err, size_t errlen);
/* Write the walk grid to path atomically (path.tmp.<pid>, then rename).
 * Returns 0, or -1 with err set. */
int xp_write_svg(const char *path, const struct xp_trace *t, char *err, size_t errlen);

/* True when va lies in the user half of the address space. */
static inline bool xp_user_half(uint64_t va, int levels)
{
	return va < (UINT64_C(1) << (levels == 5 ? 56 : 47));
}

/* Helpers shared by the printers. */
const char *xp_level_name(int level); /* "PML4", "PT", ... */
/* A VMX exit reason in words: "INVLPG", "EPT violation", ...; "other" when unknown. */
const char *xp_exit_name(uint64_t reason);

/*
 * The quiz (quiz.c): print the seeded exercise for cfg (cfg->mode set) to
 * out, with the worked answers when 'answers'; 'flags' is appended to the
 * explain command line it suggests (the machine flags the user gave).
 * Returns QUIZ_OK; QUIZ_BAD_MACHINE when no guest can be built on cfg's
 * machine, or QUIZ_FAILED (out of memory), with err set.
 */
enum { QUIZ_OK = 0, QUIZ_BAD_MACHINE = -1, QUIZ_FAILED = -2 };
/* Questions per seed: -n, 1..QUIZ_MAX_N; QUIZ_DEFAULT_N when not given. */
#define QUIZ_DEFAULT_N 5
#define QUIZ_MAX_N 20
int quiz_print(FILE *out, const struct vm_config *cfg, uint64_t seed, unsigned n, bool answers,
	       const char *flags, char *err, size_t errlen);

/*
 * The exits question (quiz_exits.c): n seeded user loads and stores over a
 * fresh mapping; how many guest faults and VM exits each takes under
 * shadow and under nested paging, answered (when 'answers') by running
 * the sequence under both modes. cfg gives the machine (its mode is
 * ignored). Returns as quiz_print().
 */
int quiz_exits_print(FILE *out, const struct vm_config *cfg, uint64_t seed, unsigned n,
		     bool answers, char *err, size_t errlen);

/*
 * The pv munmap question (quiz_pv.c): how many hypercalls a seeded munmap
 * makes with and without lazy-MMU batching, answered (when 'answers') with
 * the model's own count of each call. cfg gives the machine (its mode and
 * --pv-batch are ignored: the munmap runs under pv, both ways). Returns as
 * quiz_print().
 */
int quiz_pv_munmap_print(FILE *out, const struct vm_config *cfg, uint64_t seed, bool answers,
			 char *err, size_t errlen);

/*
 * The nested-virtualization questions (quiz_nested.c): the lectures' "can a
 * VMM run in a VM?" and "which VMM handles an exit first, and which in the
 * end?", asked about a run of the l2-fault scenario under 'design' (a mode
 * of the scenario's design table; NULL: the seed picks one the registry
 * knows); n exits of the sequence asked about. 'flags' is appended to the
 * explain command the answers point at. Returns as quiz_print().
 */
int quiz_nested_print(FILE *out, const struct vm_config *cfg, const char *design, uint64_t seed,
		      unsigned n, bool answers, const char *flags, char *err, size_t errlen);

/*
 * explain --dma (explain_dma.c): build a guest with the DMA device probed
 * under cfg, then print the IOMMU's translation of one device read of iova
 * from cold caches, reference by reference. Returns 0, or -1 with err.
 */
int explain_dma(FILE *f, const struct vm_config *cfg, uint64_t iova, char *err, size_t errlen);

#endif

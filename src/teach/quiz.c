/*
 * quiz.c - the problems of `vmmu quiz`: seeded translation exercises in the style of the
 * OSTEP homework simulators, for native, shadow and nested paging.
 *
 * A seed picks a few user pages that share some of their tables, and a few
 * addresses to translate: some inside those pages, at least one whose leaf
 * entry is missing and one whose upper entry is missing. That is five
 * questions (the default); -n N takes the first N of them, or adds N - 5
 * addresses of those five kinds at new offsets. The guest is built
 * with the explainer's own builder (explain_guest_build), so the problem is
 * real guest memory: the table pages are dumped from it (only their
 * non-zero entries), with CR3, and, for nested paging, the EPTP and the EPT
 * pages; for shadow paging, the guest tables and the p2m entries of the
 * frames involved.
 *
 * The answers (-c) are explain's: each address is explained on a fresh
 * build of the same guest (explain_access, then xp_print_text), so an
 * answer is byte for byte what
 *   vmmu explain --mode M --map PAGES --walk-caches off [FLAGS] --gva ADDR
 * prints, and the dumps show memory before any of the walks set an A bit.
 * Which table pages are relevant is read from the answers' trace events
 * (the tables their references read), not from a walk of our own.
 *
 * Invariant: the output is a function of the mode, the seed and the flags.
 */
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "../core/pte.h"
#include "../core/vm.h"

#define QUIZ_NQ 5 /* the five kinds of address: A, B, C, F1, F2 */
#define QUIZ_NMAP 3
#define QUIZ_MAX_PAGES 128

/* ---- the problem ---- */

/* splitmix64: a small, well-mixed generator for the seed. */
static uint64_t quiz_rand(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static unsigned quiz_below(uint64_t *s, unsigned n)
{
	return (unsigned)(quiz_rand(s) % n);
}

/* An index at 'level' different from the ones in avoid[]. */
static unsigned quiz_other(uint64_t *s, const unsigned *avoid, int navoid, unsigned lo, unsigned n)
{
	for (;;) {
		unsigned v = lo + quiz_below(s, n);
		bool clash = false;
		for (int k = 0; k < navoid; k++)
			clash |= v == avoid[k];
		if (!clash)
			return v;
	}
}

/* The address with these indices (idx[level]) and offset. */
static uint64_t quiz_va(const unsigned *idx, int top, int leaf, uint64_t off)
{
	uint64_t va = off;
	for (int l = top; l >= leaf; l--)
		va |= (uint64_t)idx[l] << level_shift(l);
	return va;
}

struct quiz {
	int top, leaf;
	uint64_t map[QUIZ_NMAP];
	uint64_t q[QUIZ_MAX_N];
	unsigned n;
};

static void quiz_make(struct quiz *z, const struct vm_config *cfg, uint64_t seed, unsigned n)
{
	uint64_t s = seed;
	const int top = cfg->levels, leaf = cfg->guest_page == PG_2M ? LVL_PD : LVL_PT;
	const uint64_t ps = page_bytes(cfg->guest_page);
	unsigned a[MAX_LEVELS + 1], b[MAX_LEVELS + 1], c[MAX_LEVELS + 1];
	unsigned f1[MAX_LEVELS + 1], f2[MAX_LEVELS + 1];

	z->top = top;
	z->leaf = leaf;
	/* Page A: a user top-level slot (1..254: away from the null page and
	 * the guard page at the top of the user half) and random lower ones. */
	a[top] = 1 + quiz_below(&s, 254);
	for (int l = top - 1; l >= leaf; l--)
		a[l] = quiz_below(&s, 512);
	/* B shares every table with A: another leaf entry. */
	memcpy(b, a, sizeof(a));
	b[leaf] = quiz_other(&s, &a[leaf], 1, 0, 512);
	/* C shares the top entry only. */
	memcpy(c, a, sizeof(a));
	c[top - 1] = quiz_other(&s, &a[top - 1], 1, 0, 512);
	for (int l = top - 2; l >= leaf; l--)
		c[l] = quiz_below(&s, 512);
	/* F1: A's last table, an entry nothing maps: faults at the leaf. */
	memcpy(f1, a, sizeof(a));
	unsigned used[2] = {a[leaf], b[leaf]};
	f1[leaf] = quiz_other(&s, used, 2, 0, 512);
	/* F2: faults higher up: an empty top entry, or an empty entry of the
	 * table below the top one. */
	memcpy(f2, a, sizeof(a));
	if (quiz_below(&s, 2)) {
		f2[top] = quiz_other(&s, &a[top], 1, 1, 254);
	} else {
		unsigned u2[2] = {a[top - 1], c[top - 1]};
		f2[top - 1] = quiz_other(&s, u2, 2, 0, 512);
	}
	z->map[0] = quiz_va(a, top, leaf, 0);
	z->map[1] = quiz_va(b, top, leaf, 0);
	z->map[2] = quiz_va(c, top, leaf, 0);
	const unsigned *qs[QUIZ_NQ] = {a, b, c, f1, f2};
	for (int k = 0; k < QUIZ_NQ; k++)
		z->q[k] = quiz_va(qs[k], top, leaf, 8 * (quiz_rand(&s) % (ps / 8)));
	for (int k = QUIZ_NQ - 1; k > 0; k--) {
		int j = (int)quiz_below(&s, (unsigned)k + 1);
		uint64_t t = z->q[k];
		z->q[k] = z->q[j];
		z->q[j] = t;
	}
	/* -n: fewer questions take the first n of the five; more add addresses
	 * of a seeded kind at a new offset (drawn after the five, so the first
	 * five are those of the default). */
	z->n = n;
	for (unsigned k = QUIZ_NQ; k < n; k++)
		z->q[k] =
		    quiz_va(qs[quiz_below(&s, QUIZ_NQ)], top, leaf, 8 * (quiz_rand(&s) % (ps / 8)));
}

/* ---- relevant pages, from the answers' events ---- */

struct quiz_page {
	uint64_t addr;
	bool host; /* an EPT page (hPA); else a guest table (gPA) */
};

static void quiz_page_add(struct quiz_page *p, size_t *n, uint64_t addr, bool host)
{
	for (size_t k = 0; k < *n; k++)
		if (p[k].addr == addr && p[k].host == host)
			return;
	if (*n < QUIZ_MAX_PAGES)
		p[(*n)++] = (struct quiz_page){.addr = addr, .host = host};
}

static int quiz_page_cmp(const void *x, const void *y)
{
	const struct quiz_page *a = x, *b = y;
	if (a->host != b->host)
		return a->host ? 1 : -1;
	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

static size_t quiz_pages(const struct xp_trace *t, size_t nt, struct quiz_page *p)
{
	size_t n = 0;
	for (size_t k = 0; k < nt; k++)
		for (size_t i = 0; i < t[k].n; i++) {
			const struct xp_rec *r = &t[k].rec[i];
			if (r->ev.kind != TR_WALK_REF || r->other || r->ev.dim == DIM_SHADOW ||
			    r->ev.served == SERVED_PSC || r->ev.served == SERVED_NTLB)
				continue;
			quiz_page_add(p, &n, r->ev.table_addr, r->ev.dim == DIM_HOST);
		}
	qsort(p, n, sizeof(*p), quiz_page_cmp);
	return n;
}

/* ---- printing ---- */

static void quiz_dump_page(FILE *f, struct vm *vm, const struct quiz_page *p, const char *space)
{
	fprintf(f, "  page at %s 0x%016" PRIx64 "\n", space, p->addr);
	for (unsigned i = 0; i < 512; i++) {
		uint64_t ea = p->addr + 8u * i;
		uint64_t e = p->host ? hpa_read64(vm, HPA(ea)) : gpa_read64(vm, GPA(ea));
		if (e)
			fprintf(f, "    0x%016" PRIx64 ": 0x%016" PRIx64 "   [index 0x%03x]\n", ea,
				e, i);
	}
}

int quiz_print(FILE *out, const struct vm_config *cfg, uint64_t seed, unsigned n, bool answers,
	       const char *flags, char *err, size_t errlen)
{
	struct quiz z;
	if (n < 1 || n > QUIZ_MAX_N) {
		snprintf(err, errlen, "-n: expected 1..%d, got %u", QUIZ_MAX_N, n);
		return QUIZ_BAD_MACHINE;
	}
	quiz_make(&z, cfg, seed, n);
	struct xp_opts o = {.map = z.map, .nmap = QUIZ_NMAP};
	struct vm *vm = explain_guest_build(cfg, &o, err, errlen);
	if (!vm)
		return QUIZ_BAD_MACHINE;

	/* The answers, each on a fresh build of the same guest. */
	const int nq = (int)z.n;
	struct xp_trace t[QUIZ_MAX_N];
	memset(t, 0, sizeof(t));
	int rc = QUIZ_OK;
	for (int k = 0; k < nq && rc == QUIZ_OK; k++) {
		struct vm *qv = explain_guest_build(cfg, &o, err, errlen);
		if (!qv || explain_access(qv, z.q[k], &o, &t[k]) != 0) {
			if (qv)
				snprintf(err, errlen, "out of memory");
			rc = QUIZ_FAILED;
		}
		if (qv)
			vm_destroy(qv);
	}
	if (rc != QUIZ_OK) {
		for (int k = 0; k < nq; k++)
			xp_trace_free(&t[k]);
		vm_destroy(vm);
		return rc;
	}

	/* What to show follows from what the walks read: EPT pages when they
	 * read EPT entries, the p2m when a VMM stands between the spaces. */
	const bool identity = t[0].identity;
	bool nested = false;
	for (int k = 0; k < nq; k++)
		nested |= t[k].two_d;
	const bool shadow = !identity && !nested;
	fprintf(out, "vmmu quiz: %s paging, seed %" PRIu64 "\n", cfg->mode, seed);
	fprintf(
	    out, "machine: %d-level paging%s, guest page %s%s%s, walk caches %s\n\n", cfg->levels,
	    nested ? (cfg->ept_levels == 5 ? " over a 5-level EPT" : " over a 4-level EPT") : "",
	    page_size_name(cfg->guest_page), nested || shadow ? ", host page " : "",
	    nested || shadow ? page_size_name(cfg->host_page) : "",
	    cfg->walk_caches ? "on" : "off");
	fprintf(out,
		"Every table is a 4 KiB page of 512 eight-byte entries. The dumps list only\n"
		"the non-zero entries of each page, as 'address: value [index]'.\n"
		"x86-64 entry bits: P=0 RW=1 US=2 A=5 D=6 PS=7 G=8 NX=63; bits 51:12 hold the\n"
		"next table's frame (or the page's, in a leaf).\n");
	if (nested)
		fprintf(out,
			"EPT entry bits: R=0 W=1 X=2 memtype=5:3 IPAT=6 PS=7 A=8 D=9; bits 51:12\n"
			"as above. EPT tables are indexed by guest-physical address bits.\n");
	fprintf(out, "\n");
	const char *gspace = identity ? "PA" : "gPA";
	fprintf(out, "CR3  = 0x%016" PRIx64 " (top table at %s 0x%" PRIx64 ", PCID %" PRIu64 ")\n",
		t[0].cr3, gspace, pte_frame(t[0].cr3), t[0].cr3 & CR3_PCID_MASK);
	if (nested) {
		uint64_t ep4ta = 0;
		for (int k = 0; k < nq && !ep4ta; k++)
			for (size_t i = 0; i < t[k].n && !ep4ta; i++) {
				const struct xp_rec *r = &t[k].rec[i];
				if (r->ev.kind == TR_WALK_REF && r->ev.dim == DIM_HOST &&
				    r->ev.served == SERVED_MEMORY && r->ev.level == cfg->ept_levels)
					ep4ta = r->ev.table_addr;
			}
		uint64_t eptp = ep4ta | EPTP_MT_WB |
				((uint64_t)(cfg->ept_levels - 1) << EPTP_WALK_SHIFT) |
				(cfg->ept_ad ? EPTP_AD : 0);
		fprintf(out,
			"EPTP = 0x%016" PRIx64 " (EPT root at hPA 0x%" PRIx64
			", write-back, %d-level walk, A/D %s)\n",
			eptp, ep4ta, cfg->ept_levels, cfg->ept_ad ? "on" : "off");
	}

	struct quiz_page pages[QUIZ_MAX_PAGES];
	size_t np = quiz_pages(t, (size_t)nq, pages);
	fprintf(out, "\nGuest page tables (%s memory):\n",
		identity ? "physical" : "guest-physical");
	for (size_t k = 0; k < np; k++)
		if (!pages[k].host)
			quiz_dump_page(out, vm, &pages[k], gspace);
	if (nested) {
		fprintf(out, "\nEPT pages (host-physical memory):\n");
		for (size_t k = 0; k < np; k++)
			if (pages[k].host)
				quiz_dump_page(out, vm, &pages[k], "hPA");
	}
	if (shadow) {
		/* The p2m of every guest frame involved: the tables, and the data
		 * pages the mapped addresses land in. */
		uint64_t gfn[QUIZ_MAX_PAGES + QUIZ_MAX_N];
		size_t ng = 0;
		for (size_t k = 0; k < np; k++)
			gfn[ng++] = pages[k].addr >> PAGE_SHIFT;
		for (int k = 0; k < nq; k++)
			if (t[k].ok && t[k].gpa_known)
				gfn[ng++] = t[k].gpa >> PAGE_SHIFT;
		for (size_t a = 1; a < ng; a++)
			for (size_t b = a; b > 0 && gfn[b] < gfn[b - 1]; b--) {
				uint64_t x = gfn[b];
				gfn[b] = gfn[b - 1];
				gfn[b - 1] = x;
			}
		fprintf(out, "\nThe p2m (guest frame -> host frame) of the frames involved:\n");
		for (size_t k = 0; k < ng; k++) {
			if (k && gfn[k] == gfn[k - 1])
				continue;
			uint64_t h = p2m_lookup(vm, gfn[k]);
			if (h == INVALID_HFN)
				fprintf(out, "  gfn 0x%" PRIx64 " -> not backed\n", gfn[k]);
			else
				fprintf(out, "  gfn 0x%" PRIx64 " -> hfn 0x%" PRIx64 "\n", gfn[k],
					h);
		}
	}

	fprintf(out,
		"\nTranslate these user-mode 8-byte loads. For each, list the entries read\n"
		"and give the %s, or the level at which the walk faults:\n",
		identity ? "physical address"
			 : "guest-physical and "
			   "host-physical addresses");
	for (int k = 0; k < nq; k++)
		fprintf(out, "  %d. gVA 0x%016" PRIx64 "\n", k + 1, z.q[k]);
	fprintf(out,
		"\nCheck one answer with:\n  vmmu explain --mode %s --map 0x%" PRIx64 ",0x%" PRIx64
		",0x%" PRIx64 " --walk-caches off%s --gva ADDR\n",
		cfg->mode, z.map[0], z.map[1], z.map[2], flags);
	if (!answers)
		fprintf(out, "(Run again with -c for the worked answers.)\n");
	for (int k = 0; answers && k < nq; k++) {
		fprintf(out, "\n==== answer %d: gVA 0x%016" PRIx64 " ====\n", k + 1, z.q[k]);
		xp_print_text(out, &t[k]);
	}
	for (int k = 0; k < nq; k++)
		xp_trace_free(&t[k]);
	vm_destroy(vm);
	return QUIZ_OK;
}

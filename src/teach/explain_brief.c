/*
 * explain_brief.c - `vmmu explain --brief`: the walks of an explained
 * access as compact text grids, one cell per reference with where it was
 * served, in a dozen lines where the full explanation takes 169 for a cold
 * nested walk.
 *
 * The grid is the one of the SVG (explain_grid.h): for a two-dimensional
 * walk, guest levels down the rows (the last row the data page) and EPT
 * levels across, with the guest entry's read in the last column; a
 * one-dimensional walk is a single column. A cell is the reference's
 * number and a two-letter code of where it was served.
 */
#include <string.h>

#include "explain.h"
#include "explain_grid.h"

#define BRIEF_CELL 8 /* characters per cell */

static const char *brief_code(const struct xp_cell *c)
{
	switch (c->served) {
	case SERVED_PSC:
	case SERVED_PWC:
		return "WC";
	case SERVED_NTLB:
		return "NT";
	case SERVED_MEMORY:
		break;
	}
	switch (c->cache_level) {
	case 1:
		return "L1";
	case 2:
		return "L2";
	case 3:
		return "LC";
	case 4:
		return "DR";
	default:
		return "M";
	}
}

static void brief_grid(FILE *f, const struct xp_trace *t, const struct xp_grid *g)
{
	const int n = t->levels, m = t->ept_levels;
	char lab[32];

	snprintf(lab, sizeof(lab), "walk %d", g->walk);
	fprintf(f, "%s (%s)\n  %-14s", lab, g->title, "");
	for (int c = 0; c < g->cols; c++) {
		char head[16];
		if (g->twod && c < m)
			snprintf(head, sizeof(head), "nL%d", m - c);
		else
			snprintf(head, sizeof(head), "%s", g->twod ? "guest" : "entry");
		fprintf(f, "%*s", BRIEF_CELL, head);
	}
	fputc('\n', f);
	for (int r = 0; r < g->rows; r++) {
		if (g->twod && r == n)
			snprintf(lab, sizeof(lab), "data page");
		else
			snprintf(lab, sizeof(lab), "%s%d %s", g->twod ? "gL" : "L", n - r,
				 xp_level_name(n - r));
		fprintf(f, "  %-14s", lab);
		for (int c = 0; c < g->cols; c++) {
			const struct xp_cell *cell = NULL;
			char text[16];
			for (int k = 0; k < g->ncells; k++)
				if (g->cell[k].row == r && g->cell[k].col == c)
					cell = &g->cell[k];
			if (cell == NULL)
				snprintf(text, sizeof(text), ".");
			else
				snprintf(text, sizeof(text), "%d %s%s", cell->step,
					 brief_code(cell), cell->absent ? "!" : "");
			fprintf(f, "%*s", BRIEF_CELL, text);
		}
		fputc('\n', f);
	}
}

void xp_print_brief(FILE *f, const struct xp_trace *t)
{
	struct xp_grid g;
	int mem, cached;

	xp_grid_counts(t, &mem, &cached);
	fprintf(f, "gVA 0x%016" PRIx64 " under %s paging: %d-level guest", t->gva, t->mode,
		t->levels);
	if (t->two_d)
		fprintf(f, " over a %d-level EPT", t->ept_levels);
	fprintf(f, ", walk caches %s%s\n", t->walk_caches ? "on" : "off",
		t->warmed ? " (warmed)" : "");
	fprintf(f, "%d reference%s read from memory, %d served by walk caches, in %d walk%s\n\n",
		mem, mem == 1 ? "" : "s", cached, t->walks, t->walks == 1 ? "" : "s");
	for (int w = 1; w <= t->walks; w++) {
		xp_grid_build(t, w, &g);
		brief_grid(f, t, &g);
		fputc('\n', f);
	}
	fprintf(f, "served: L1 L2 LC DR memory (L1, L2, LLC, DRAM); WC walk cache; NT nested "
		   "TLB;\n        ! entry not present; . no reference\n");
	if (t->ok && t->identity)
		fprintf(f, "gVA 0x%" PRIx64 " -> PA 0x%" PRIx64 " (TLB fill: %s page)\n", t->gva,
			t->hpa, page_size_name(t->fill_size));
	else if (t->ok && t->machine)
		fprintf(f, "gVA 0x%" PRIx64 " -> mPA 0x%" PRIx64 " (TLB fill: %s page)\n", t->gva,
			t->hpa, page_size_name(t->fill_size));
	else if (t->ok)
		fprintf(f,
			"gVA 0x%" PRIx64 " -> gPA 0x%" PRIx64 " -> hPA 0x%" PRIx64
			" (TLB fill: %s page)\n",
			t->gva, t->gpa, t->hpa, page_size_name(t->fill_size));
	else
		fprintf(f, "the %s did not complete: %s\n", xp_access_noun(t->access),
			t->error[0]  ? t->error
			: t->faulted ? "page fault"
				     : "no translation");
}

/*
 * explain_svg.c - the walk of an explained access as an SVG picture.
 *
 * A two-dimensional walk is drawn as the grid of Bhargava et al. (ASPLOS'08,
 * figure 2): guest levels down the rows (the last row is the data page),
 * EPT levels across the columns, and a last column for the read of the
 * guest entry itself. A one-dimensional walk (native, the shadow table, the
 * VMM's software walk) is one column of levels in the same style. Every
 * walk of the access gets its own panel, left to right.
 *
 * Each cell is numbered in walk order (the reference's step) and shaded by
 * where it was served: a walk cache, the nested TLB, or memory by cache
 * level; an entry that is not present has a red border. Cells that large
 * pages delete are left as dashed outlines. The TLB fill closes the last
 * panel. Only the records of the trace are read.
 *
 * The file is written by csv_write_atomic(): PATH.tmp.<pid> renamed over a
 * regular PATH, a device or /dev/stdout written in place (report/output.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "explain.h"
#include "explain_grid.h"
#include "../core/pte.h"
#include "../report/csv.h"

#define CELL_W 70
#define CELL_H 60
#define LABEL_W 110
#define HEAD_H 84
#define NOTE_H 24 /* the line that says which level built each table */

/* Text content, with XML's three special characters escaped. */
static void svg_put_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else
			fputc(*s, f);
	}
}

/* Top of the grids: below the heading, and below the tables line when the
 * mode names who built its tables (nested virtualization). */
static int svg_head(const struct xp_trace *t)
{
	return HEAD_H + (t->ept_note ? NOTE_H : 0);
}
#define PANEL_GAP 40

static const char *svg_fill(enum trace_served s, int cache_level)
{
	switch (s) {
	case SERVED_PSC:
	case SERVED_PWC:
		return "#8fd694"; /* walk cache: green */
	case SERVED_NTLB:
		return "#8ab6f9"; /* nested TLB: blue */
	case SERVED_MEMORY:
		break;
	}
	switch (cache_level) {
	case 1:
		return "#fff3b0";
	case 2:
		return "#ffd97a";
	case 3:
		return "#ffb347";
	default:
		return "#f4845f"; /* DRAM */
	}
}

static void svg_add(struct xp_grid *p, int row, int col, int step, enum trace_served s, int cl,
		    bool absent, const struct xp_rec *rec)
{
	if (p->ncells >= (int)(sizeof(p->cell) / sizeof(p->cell[0])))
		return;
	p->cell[p->ncells++] = (struct xp_cell){.row = row,
						.col = col,
						.step = step,
						.served = s,
						.cache_level = cl,
						.absent = absent,
						.rec = rec};
}

/* Build the panel of walk w from the records. */
void xp_grid_build(const struct xp_trace *t, int w, struct xp_grid *p)
{
	memset(p, 0, sizeof(*p));
	p->walk = w;
	const int n = t->levels, m = t->ept_levels;
	for (size_t i = 0; i < t->n; i++) {
		const struct xp_rec *r = &t->rec[i];
		if (r->ev.kind != TR_WALK_REF || r->other || r->walk != w)
			continue;
		const struct trace_event *ev = &r->ev;
		if (ev->dim == DIM_HOST || (ev->dim == DIM_GUEST && !r->soft)) {
			p->twod = true;
			int row = ev->guest_level > 0 ? n - ev->guest_level : n;
			int col = ev->dim == DIM_HOST ? m - ev->host_level : m;
			bool absent = ev->served != SERVED_NTLB &&
				      (ev->dim == DIM_HOST ? !epte_present(ev->entry)
							   : !gpte_present(ev->entry));
			svg_add(p, row, col, r->step, ev->served, ev->cache_level, absent, r);
			continue;
		}
		if (ev->served == SERVED_PSC) {
			for (int k = 0; k < r->nrefs; k++)
				svg_add(p, k, 0, r->step + k, ev->served, 0, false, r);
			continue;
		}
		svg_add(p, n - ev->level, 0, r->step, ev->served, ev->cache_level,
			!gpte_present(ev->entry), r);
		p->title = r->soft		   ? "VMM, guest table"
			   : ev->dim == DIM_SHADOW ? "hardware, shadow table"
						   : "hardware, 1D";
	}
	if (p->twod) {
		p->rows = n + 1;
		p->cols = m + 1;
		p->title = "hardware, 2D";
	} else {
		p->rows = n;
		p->cols = 1;
		if (!p->title)
			p->title = "walk";
	}
}

void xp_grid_counts(const struct xp_trace *t, int *memory, int *cached)
{
	*memory = *cached = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct xp_rec *r = &t->rec[i];
		if (r->ev.kind != TR_WALK_REF || r->other)
			continue;
		if (r->ev.served == SERVED_MEMORY)
			(*memory)++;
		else
			*cached += r->nrefs > 0 ? r->nrefs : 1;
	}
}

static int svg_panel_width(const struct xp_grid *p)
{
	int w = LABEL_W + p->cols * CELL_W;
	return w < 230 ? 230 : w;
}

static void svg_panel_draw(FILE *f, const struct xp_trace *t, const struct xp_grid *p, bool last)
{
	const int n = t->levels, m = t->ept_levels;
	const int x0 = p->x + LABEL_W, y0 = svg_head(t);
	fprintf(f, "<g id=\"walk%d\">\n", p->walk);
	fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"h\">walk %d: %s</text>\n", p->x, y0 - 34,
		p->walk, p->title);
	/* column heads */
	for (int c = 0; c < p->cols; c++) {
		const char *lab = "entry";
		char buf[16];
		if (p->twod && c < m) {
			snprintf(buf, sizeof(buf), "nL%d", m - c);
			lab = buf;
		} else if (p->twod) {
			lab = "guest";
		}
		fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"c\">%s</text>\n",
			x0 + c * CELL_W + CELL_W / 2, y0 - 8, lab);
	}
	/* row labels and empty cells */
	for (int r = 0; r < p->rows; r++) {
		char lab[32];
		if (p->twod && r == n)
			snprintf(lab, sizeof(lab), "data page");
		else
			snprintf(lab, sizeof(lab), "%s%d %s", p->twod ? "gL" : "L", n - r,
				 xp_level_name(n - r));
		fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"l\">%s</text>\n", p->x + 4,
			y0 + r * CELL_H + CELL_H / 2 + 5, lab);
		for (int c = 0; c < p->cols; c++)
			fprintf(
			    f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"e\"/>\n",
			    x0 + c * CELL_W, y0 + r * CELL_H, CELL_W, CELL_H);
	}
	/* cells of the walk */
	for (int k = 0; k < p->ncells; k++) {
		const struct xp_cell *c = &p->cell[k];
		int x = x0 + c->col * CELL_W, y = y0 + c->row * CELL_H;
		fprintf(f,
			"<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" "
			"stroke=\"%s\" stroke-width=\"%d\"/>\n",
			x, y, CELL_W, CELL_H, svg_fill(c->served, c->cache_level),
			c->absent ? "#d00000" : "#333333", c->absent ? 3 : 1);
		fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"n\">%d</text>\n", x + CELL_W / 2,
			y + 18, c->step);
		/* Its cycles, and the address of the entry read (none when a
		 * cache stood in for the read). */
		fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"s\">%" PRIu64 " cyc</text>\n",
			x + CELL_W / 2, y + 34, c->rec->ev.cycles);
		if (c->served == SERVED_PSC || c->served == SERVED_NTLB)
			fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"a\">%s</text>\n",
				x + CELL_W / 2, y + 50, c->served == SERVED_PSC ? "PSC" : "nested TLB");
		else
			fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"a\">%s%" PRIx64 "</text>\n",
				x + CELL_W / 2, y + 50,
				c->rec->ev.dim == DIM_GUEST || c->rec->ev.dim == DIM_NATIVE ? "g:"
											  : "h:",
				c->rec->ev.entry_addr);
	}
	/* the TLB fill, after the last cell of the last walk */
	if (last && t->ok) {
		int r = p->twod ? n : p->rows - 1;
		int x = x0 + p->cols * CELL_W + 8, y = y0 + r * CELL_H;
		fprintf(f,
			"<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"fill\"/>\n"
			"<text x=\"%d\" y=\"%d\" class=\"c\">TLB fill</text>\n"
			"<text x=\"%d\" y=\"%d\" class=\"s\">%s</text>\n",
			x, y, CELL_W + 10, CELL_H, x + (CELL_W + 10) / 2, y + 18,
			x + (CELL_W + 10) / 2, y + 34, page_size_name(t->fill_size));
	} else if (last && !t->ok) {
		int x = x0 + p->cols * CELL_W + 8, y = y0 + (p->rows - 1) * CELL_H;
		fprintf(f,
			"<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"fault\"/>\n"
			"<text x=\"%d\" y=\"%d\" class=\"c\">#PF</text>\n",
			x, y, CELL_W + 10, CELL_H, x + (CELL_W + 10) / 2, y + 26);
	}
	fprintf(f, "</g>\n");
}

static void svg_legend(FILE *f, int y)
{
	static const struct {
		enum trace_served s;
		int cl;
		const char *what;
	} items[] = {
	    {SERVED_MEMORY, 1, "memory (L1)"},	{SERVED_MEMORY, 2, "memory (L2)"},
	    {SERVED_MEMORY, 3, "memory (LLC)"}, {SERVED_MEMORY, 4, "memory (DRAM)"},
	    {SERVED_PWC, 0, "walk cache"},	{SERVED_NTLB, 0, "nested TLB"},
	};
	int x = 10;
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		fprintf(f,
			"<rect x=\"%d\" y=\"%d\" width=\"16\" height=\"16\" fill=\"%s\" "
			"stroke=\"#333333\"/>\n<text x=\"%d\" y=\"%d\" class=\"l\">%s</text>\n",
			x, y, svg_fill(items[i].s, items[i].cl), x + 22, y + 13, items[i].what);
		x += 130;
	}
	fprintf(f,
		"<rect x=\"%d\" y=\"%d\" width=\"16\" height=\"16\" fill=\"#ffffff\" "
		"stroke=\"#d00000\" stroke-width=\"3\"/>\n<text x=\"%d\" y=\"%d\" "
		"class=\"l\">not present</text>\n",
		x, y, x + 22, y + 13);
}

static int svg_write(FILE *f, const struct xp_trace *t)
{
	int np = t->walks > 0 ? t->walks : 0;
	struct xp_grid *p = calloc(np ? (size_t)np : 1, sizeof(*p));
	if (!p)
		return -1;
	int x = 10, rows = 1;
	for (int w = 0; w < np; w++) {
		xp_grid_build(t, w + 1, &p[w]);
		p[w].x = x;
		x += svg_panel_width(&p[w]) + PANEL_GAP;
		if (p[w].rows > rows)
			rows = p[w].rows;
	}
	int width = x + CELL_W + 40, legend_y = svg_head(t) + rows * CELL_H + 30;
	if (width < 920)
		width = 920;
	/* The tables line, 12px monospace: about 7.3px a character. */
	if (t->ept_note && width < 40 + (int)(strlen(t->ept_note) + 8) * 15 / 2)
		width = 40 + (int)(strlen(t->ept_note) + 8) * 15 / 2;
	int height = legend_y + 40;
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" font-family=\"monospace\">\n",
		width, height, width, height);
	fprintf(f, "<title>vmmu explain: gVA 0x%" PRIx64 " under %s paging</title>\n", t->gva,
		t->mode);
	fprintf(f, "<style>\n"
		   ".h{font-size:14px;font-weight:bold}\n"
		   ".c{font-size:12px;text-anchor:middle}\n"
		   ".l{font-size:12px}\n"
		   ".s{font-size:11px;text-anchor:middle}\n"
		   ".n{font-size:16px;text-anchor:middle;font-weight:bold}\n"
		   ".a{font-size:9px;text-anchor:middle}\n"
		   ".e{fill:#ffffff;stroke:#bbbbbb;stroke-dasharray:4 3}\n"
		   ".fill{fill:#d8f3dc;stroke:#1b7f3b;stroke-width:2}\n"
		   ".fault{fill:#ffd6d6;stroke:#d00000;stroke-width:2}\n"
		   "</style>\n");
	int mem, cached;
	xp_grid_counts(t, &mem, &cached);
	fprintf(f,
		"<text x=\"10\" y=\"18\" class=\"h\">gVA 0x%016" PRIx64 " under %s paging, "
		"%d levels, walk caches %s: %d reference%s read from memory, %d served by walk "
		"caches, in %d walk%s</text>\n",
		t->gva, t->mode, t->levels, t->walk_caches ? "on" : "off", mem, mem == 1 ? "" : "s",
		cached, t->walks, t->walks == 1 ? "" : "s");
	fprintf(f,
		"<text x=\"10\" y=\"36\" class=\"l\">each cell: its reference number, its "
		"cycles, and the address of the entry read (g: gPA, h: hPA)</text>\n");
	if (t->ept_note) {
		fprintf(f, "<text x=\"10\" y=\"54\" class=\"l\">tables: ");
		svg_put_text(f, t->ept_note);
		fprintf(f, "</text>\n");
	}
	for (int w = 0; w < np; w++)
		svg_panel_draw(f, t, &p[w], w == np - 1);
	svg_legend(f, legend_y);
	fprintf(f, "</svg>\n");
	free(p);
	return 0;
}

static int svg_file_fill(FILE *f, void *ctx)
{
	return svg_write(f, ctx) != 0 || ferror(f) ? -1 : 0;
}

int xp_write_svg(const char *path, const struct xp_trace *t, char *err, size_t errlen)
{
	return csv_write_atomic(path, svg_file_fill, (void *)t, err, errlen);
}

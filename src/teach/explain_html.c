/*
 * explain_html.c - `vmmu explain --html FILE`: one self-contained page
 * (no network, no other file) that steps through the references of an
 * explained access one by one.
 *
 * The page shows each walk as its grid (explain_grid.h), the tables the
 * walks read (guest page tables, EPT tables, shadow tables: every entry
 * read, with its index, address and value), and the narration of the
 * current reference, the same text `vmmu explain` prints for it. Next and
 * Back (and the arrow keys) move one reference at a time; the current
 * cell, its table entry and its narration are highlighted. Step 0 is the
 * overview; steps 1..N are the references in walk order.
 *
 * The page's state is readable by a test: #pos says "reference K of N",
 * the current cell has class "cur" and data-step K, and #narration holds
 * the current text. Everything is HTML-escaped; the script holds only ids.
 *
 * Invariants:
 *   - step K's cell has data-step K, for K = 1..N, N = the number of grid
 *     cells of the explained address's walks;
 *   - an entry row exists for every reference read from memory or the 2D
 *     page-walk cache (a paging-structure-cache or nested-TLB hit reads no
 *     entry, and its step highlights none).
 */
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "explain_grid.h"
#include "../report/csv.h"

/* ---- private helpers ---- */

static void html_esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

/* Which table family an entry lives in: 0 guest (or native), 1 EPT,
 * 2 shadow. */
static int html_family(const struct xp_rec *r)
{
	return r->ev.dim == DIM_HOST ? 1 : r->ev.dim == DIM_SHADOW ? 2 : 0;
}

/* Does the reference read an entry (memory or the 2D PWC, which caches
 * the entry itself)? */
static bool html_reads_entry(const struct xp_rec *r)
{
	return r->ev.served == SERVED_MEMORY || r->ev.served == SERVED_PWC;
}

static void html_entry_id(char *buf, size_t len, const struct xp_rec *r)
{
	snprintf(buf, len, "e%d-%" PRIx64, html_family(r), r->ev.entry_addr);
}

static const char *html_served(const struct xp_cell *c)
{
	static const char *const mem[] = {"memory", "memory (L1)", "memory (L2)", "memory (LLC)",
					  "memory (DRAM)"};
	switch (c->served) {
	case SERVED_PSC:
		return "paging-structure cache";
	case SERVED_PWC:
		return "2D page-walk cache";
	case SERVED_NTLB:
		return "nested TLB";
	case SERVED_MEMORY:
		break;
	}
	return mem[c->cache_level >= 0 && c->cache_level <= 4 ? c->cache_level : 0];
}

static const char *html_class(const struct xp_cell *c)
{
	static const char *const mem[] = {"m1", "m1", "m2", "m3", "m4"};
	if (c->served == SERVED_PSC || c->served == SERVED_PWC)
		return "wc";
	if (c->served == SERVED_NTLB)
		return "nt";
	return mem[c->cache_level >= 0 && c->cache_level <= 4 ? c->cache_level : 0];
}

static void html_grid(FILE *f, const struct xp_trace *t, const struct xp_grid *g)
{
	const int n = t->levels, m = t->ept_levels;

	fprintf(f, "<div class=\"walk\"><h3>walk %d: %s</h3>\n<table class=\"grid\"><tr><th></th>",
		g->walk, g->title);
	for (int c = 0; c < g->cols; c++) {
		if (g->twod && c < m)
			fprintf(f, "<th>nL%d</th>", m - c);
		else
			fprintf(f, "<th>%s</th>", g->twod ? "guest" : "entry");
	}
	fputs("</tr>\n", f);
	for (int r = 0; r < g->rows; r++) {
		if (g->twod && r == n)
			fputs("<tr><th>data page</th>", f);
		else
			fprintf(f, "<tr><th>%s%d %s</th>", g->twod ? "gL" : "L", n - r,
				xp_level_name(n - r));
		for (int c = 0; c < g->cols; c++) {
			const struct xp_cell *cell = NULL;
			for (int k = 0; k < g->ncells; k++)
				if (g->cell[k].row == r && g->cell[k].col == c)
					cell = &g->cell[k];
			if (cell == NULL) {
				fputs("<td class=\"none\"></td>", f);
				continue;
			}
			fprintf(
			    f,
			    "<td id=\"c%d\" class=\"%s%s\" data-step=\"%d\" title=\"%s, %" PRIu64
			    " cycles\"><b>%d</b><br><small>%" PRIu64 " cyc</small></td>",
			    cell->step, html_class(cell), cell->absent ? " absent" : "", cell->step,
			    html_served(cell), cell->rec->ev.cycles, cell->step,
			    cell->rec->ev.cycles);
		}
		fputs("</tr>\n", f);
	}
	fputs("</table></div>\n", f);
}

/* The tables the walks read: one block per (family, table address), an
 * entry row per distinct entry read. */
static void html_tables(FILE *f, const struct xp_trace *t)
{
	static const char *const family[] = {"Guest page tables", "EPT tables", "Shadow tables"};

	fputs("<div id=\"tables\">\n", f);
	for (int fam = 0; fam < 3; fam++) {
		bool any = false;
		for (size_t i = 0; i < t->n; i++) {
			const struct xp_rec *r = &t->rec[i];
			bool first = true;
			if (r->ev.kind != TR_WALK_REF || r->other || !html_reads_entry(r) ||
			    html_family(r) != fam)
				continue;
			/* The first record of this table opens its block. */
			for (size_t j = 0; j < i && first; j++) {
				const struct xp_rec *q = &t->rec[j];
				first = !(q->ev.kind == TR_WALK_REF && !q->other &&
					  html_reads_entry(q) && html_family(q) == fam &&
					  q->ev.table_addr == r->ev.table_addr);
			}
			if (!first)
				continue;
			if (!any) {
				fprintf(f, "<h2>%s (%s)</h2>\n", family[fam],
					fam	      ? "hPA"
					: t->identity ? "PA"
					: t->machine  ? "mPA"
						      : "gPA");
				any = true;
			}
			fprintf(f,
				"<table class=\"pt\"><caption>%s table at 0x%" PRIx64
				"</caption><tr><th>index</th><th>entry "
				"address</th><th>value</th></tr>\n",
				xp_level_name(r->ev.level), r->ev.table_addr);
			for (size_t j = i; j < t->n; j++) {
				const struct xp_rec *q = &t->rec[j];
				char id[64];
				bool dup = false;
				if (q->ev.kind != TR_WALK_REF || q->other || !html_reads_entry(q) ||
				    html_family(q) != fam || q->ev.table_addr != r->ev.table_addr)
					continue;
				for (size_t k = i; k < j && !dup; k++) {
					const struct xp_rec *p = &t->rec[k];
					dup = p->ev.kind == TR_WALK_REF && !p->other &&
					      html_reads_entry(p) && html_family(p) == fam &&
					      p->ev.entry_addr == q->ev.entry_addr;
				}
				if (dup)
					continue;
				html_entry_id(id, sizeof(id), q);
				fprintf(f,
					"<tr id=\"%s\"><td>0x%03" PRIx64 "</td><td>0x%" PRIx64
					"</td><td>0x%016" PRIx64 "</td></tr>\n",
					id, q->ev.index, q->ev.entry_addr, q->ev.entry);
			}
			fputs("</table>\n", f);
		}
	}
	fputs("</div>\n", f);
}

static const char html_style[] =
    "body{font-family:sans-serif;margin:16px;color:#222}\n"
    "h1{font-size:18px}h2{font-size:15px;margin:14px 0 4px}h3{font-size:14px;margin:6px 0}\n"
    "#controls{margin:10px 0}#controls button{font-size:14px;padding:4px 14px}\n"
    "#pos{display:inline-block;min-width:190px;text-align:center;font-weight:bold}\n"
    ".walk{display:inline-block;vertical-align:top;margin-right:24px}\n"
    "table.grid{border-collapse:collapse}\n"
    "table.grid td,table.grid th{border:1px solid #999;width:64px;height:40px;"
    "text-align:center;font-size:12px}\n"
    "table.grid th{background:#f2f2f2;width:auto;padding:0 6px}\n"
    "td.none{border-style:dashed;background:#fff}\n"
    "td.m1{background:#fff3b0}td.m2{background:#ffd97a}td.m3{background:#ffb347}"
    "td.m4{background:#f4845f}td.wc{background:#8fd694}td.nt{background:#8ab6f9}\n"
    "td.absent{outline:3px solid #d00000}\n"
    "td.cur{outline:4px solid #0050d0;outline-offset:-4px;font-size:15px}\n"
    "td.done{opacity:0.55}\n"
    "#narration{white-space:pre;font-family:monospace;font-size:12px;background:#f7f7f7;"
    "border:1px solid #ccc;padding:8px;min-height:120px}\n"
    "#tables table{border-collapse:collapse;margin:4px 12px 8px 0;display:inline-table;"
    "vertical-align:top}\n"
    "#tables td,#tables th{border:1px solid #bbb;padding:1px 6px;font-family:monospace;"
    "font-size:11px}\n"
    "#tables caption{font-size:12px;text-align:left}\n"
    "#tables tr.cur td{background:#cfe0ff;font-weight:bold}\n"
    ".legend span{display:inline-block;padding:1px 6px;margin-right:6px;border:1px solid "
    "#999;font-size:12px}\n";

static const char html_script[] =
    "(function(){\n"
    "  var n = steps.length, k = 0;\n"
    "  function show(to){\n"
    "    if (to < 0 || to > n) return;\n"
    "    k = to;\n"
    "    var cur = document.querySelectorAll('.cur');\n"
    "    for (var i = 0; i < cur.length; i++) cur[i].classList.remove('cur');\n"
    "    var cells = document.querySelectorAll('td[data-step]');\n"
    "    for (var i = 0; i < cells.length; i++)\n"
    "      cells[i].classList.toggle('done', +cells[i].getAttribute('data-step') < k);\n"
    "    var text;\n"
    "    if (k === 0) {\n"
    "      text = document.getElementById('intro').textContent;\n"
    "      document.getElementById('pos').textContent = 'overview: ' + n + ' references';\n"
    "    } else {\n"
    "      var s = steps[k - 1];\n"
    "      document.getElementById('c' + k).classList.add('cur');\n"
    "      if (s[1]) document.getElementById(s[1]).classList.add('cur');\n"
    "      text = document.getElementById(s[0]).textContent;\n"
    "      document.getElementById('pos').textContent = 'reference ' + k + ' of ' + n;\n"
    "    }\n"
    "    document.getElementById('narration').textContent = text;\n"
    "    document.getElementById('back').disabled = k === 0;\n"
    "    document.getElementById('next').disabled = k === n;\n"
    "  }\n"
    "  document.getElementById('next').onclick = function(){ show(k + 1); };\n"
    "  document.getElementById('back').onclick = function(){ show(k - 1); };\n"
    "  document.addEventListener('keydown', function(e){\n"
    "    if (e.key === 'ArrowRight') show(k + 1);\n"
    "    else if (e.key === 'ArrowLeft') show(k - 1);\n"
    "  });\n"
    "  show(0);\n"
    "})();\n";

static int html_write(FILE *f, const struct xp_trace *t)
{
	struct xp_grid *g = calloc(t->walks > 0 ? (size_t)t->walks : 1, sizeof(*g));
	int mem, cached, nsteps = 0;
	char *text = NULL;
	size_t len = 0;

	if (g == NULL)
		return -1;
	xp_grid_counts(t, &mem, &cached);
	fprintf(f,
		"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		"<title>vmmu explain: gVA 0x%" PRIx64 " under %s paging</title>\n<style>\n%s"
		"</style></head><body>\n",
		t->gva, t->mode, html_style);
	fprintf(f, "<h1>gVA 0x%016" PRIx64 " under %s paging: %d-level guest", t->gva, t->mode,
		t->levels);
	if (t->two_d)
		fprintf(f, " over a %d-level EPT", t->ept_levels);
	fprintf(f, ", walk caches %s</h1>\n", t->walk_caches ? "on" : "off");
	fprintf(f,
		"<p id=\"summary\">%d reference%s read from memory, %d served by walk caches, in "
		"%d walk%s.</p>\n",
		mem, mem == 1 ? "" : "s", cached, t->walks, t->walks == 1 ? "" : "s");
	fputs("<div id=\"controls\"><button id=\"back\">&larr; Back</button> <span "
	      "id=\"pos\"></span> <button id=\"next\">Next &rarr;</button> <small>(or the arrow "
	      "keys)</small></div>\n",
	      f);
	fputs("<div class=\"legend\"><span style=\"background:#fff3b0\">L1</span><span "
	      "style=\"background:#ffd97a\">L2</span><span style=\"background:#ffb347\">LLC</span>"
	      "<span style=\"background:#f4845f\">DRAM</span><span "
	      "style=\"background:#8fd694\">walk cache</span><span "
	      "style=\"background:#8ab6f9\">nested TLB</span><span style=\"outline:3px solid "
	      "#d00000\">not present</span></div>\n",
	      f);
	fputs("<div id=\"grids\">\n", f);
	for (int w = 0; w < t->walks; w++) {
		xp_grid_build(t, w + 1, &g[w]);
		html_grid(f, t, &g[w]);
		nsteps += g[w].ncells;
	}
	fputs("</div>\n<h2>Narration</h2>\n<div id=\"narration\"></div>\n", f);
	html_tables(f, t);

	/* The narration of each step, hidden; and the overview. */
	fputs("<div hidden>\n<pre id=\"intro\">", f);
	{
		FILE *m = open_memstream(&text, &len);
		if (m == NULL) {
			free(g);
			return -1;
		}
		xp_print_brief(m, t);
		fclose(m);
		html_esc(f, text);
		free(text);
		text = NULL;
	}
	fputs("</pre>\n", f);
	for (int w = 0; w < t->walks; w++) {
		for (int k = 0; k < g[w].ncells; k++) {
			const struct xp_cell *c = &g[w].cell[k];
			FILE *m;
			if (k > 0 && g[w].cell[k - 1].rec == c->rec)
				continue; /* a cache hit that stands for several cells */
			m = open_memstream(&text, &len);
			if (m == NULL) {
				free(g);
				return -1;
			}
			xp_print_ref(m, t, c->rec);
			fclose(m);
			fprintf(f, "<pre id=\"n%d\">", c->step);
			html_esc(f, text);
			fputs("</pre>\n", f);
			free(text);
			text = NULL;
		}
	}
	fputs("</div>\n<script>\nvar steps = [", f);
	for (int w = 0, first = 1; w < t->walks; w++) {
		int lead = 0;
		for (int k = 0; k < g[w].ncells; k++) {
			const struct xp_cell *c = &g[w].cell[k];
			char id[64] = "";
			if (k == 0 || g[w].cell[k - 1].rec != c->rec)
				lead = c->step;
			if (html_reads_entry(c->rec))
				html_entry_id(id, sizeof(id), c->rec);
			fprintf(f, "%s\n  [\"n%d\", \"%s\"]", first ? "" : ",", lead, id);
			first = 0;
		}
	}
	fprintf(f, "\n];\n%s</script>\n</body></html>\n", html_script);
	free(g);
	(void)nsteps;
	return ferror(f) ? -1 : 0;
}

static int html_fill(FILE *f, void *ctx)
{
	return html_write(f, ctx);
}

int xp_write_html(const char *path, const struct xp_trace *t, char *err, size_t errlen)
{
	return csv_write_atomic(path, html_fill, (void *)t, err, errlen);
}

/*
 * explain_grid.h - the cells of one walk of an explained access, laid out
 * as the grid of Bhargava et al. (ASPLOS'08, figure 2), shared by the
 * pictures of explain: the SVG (explain_svg.c), the compact text grid of
 * --brief (explain_brief.c) and the interactive page of --html
 * (explain_html.c).
 *
 * A two-dimensional walk has guest levels down the rows (the last row is
 * the data page) and EPT levels across the columns, with a last column for
 * the read of the guest entry itself; a one-dimensional walk is one column
 * of levels. A cell stands for one reference (its step number), made or
 * served by a walk cache; cells no reference stands for (large pages) stay
 * empty.
 *
 * Invariants:
 *   - cells are in walk order (increasing step);
 *   - 0 <= row < rows and 0 <= col < cols for every cell;
 *   - rec is the record the cell comes from (a paging-structure-cache hit
 *     stands for several cells, all with the same rec).
 */
#ifndef VMMU_EXPLAIN_GRID_H
#define VMMU_EXPLAIN_GRID_H

#include "explain.h"

#define XP_GRID_MAX_CELLS 64

struct xp_cell {
	int row, col;
	int step;
	enum trace_served served;
	int cache_level;
	bool absent; /* the entry read was not present */
	const struct xp_rec *rec;
};

struct xp_grid {
	bool twod;
	int rows, cols;
	int walk;
	const char *title;
	struct xp_cell cell[XP_GRID_MAX_CELLS];
	int ncells;
	int x; /* left edge, for the SVG */
};

/* The grid of walk number w (from 1) of t. */
void xp_grid_build(const struct xp_trace *t, int w, struct xp_grid *g);

/* References of t read from memory, and served by a walk cache or the
 * nested TLB (cells of the explained address's walks). */
void xp_grid_counts(const struct xp_trace *t, int *memory, int *cached);

#endif

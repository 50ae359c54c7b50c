/*
 * compare_nvirt.c - the nested-virtualization section of compare's
 * summary.md: each workload under single-level nested paging and under
 * nept (an L2 guest, docs/nvirt.md), with the exits at each level.
 *
 * Written only when both modes were run. Counts are of the measured part
 * of each run (its region of interest, or the whole run), like every other
 * section, and the whole run's exits beside them: the first touches that
 * make nEPT dear often lie before a region.
 */
#include <inttypes.h>
#include <stdio.h>

#include "compare.h"
#include "jobs.h"
#include "registry.h"

static const struct job *cell_of(const struct compare *c, size_t w, const struct mmu_ops *m)
{
	for (size_t k = 0; k < c->nmodes; k++)
		if (c->modes[k] == m && c->cell[w * c->nmodes + k].state == JOB_OK)
			return &c->cell[w * c->nmodes + k];
	return NULL;
}

void compare_nvirt_section(FILE *f, const struct compare *c)
{
	bool have_nested = false, have_nept = false;
	for (size_t k = 0; k < c->nmodes; k++) {
		have_nested |= c->modes[k] == &nested_mmu_ops;
		have_nept |= c->modes[k] == &nept_mmu_ops;
	}
	if (!have_nested || !have_nept)
		return;
	fprintf(f,
		"\n## Nested virtualization: nept against nested\n\n"
		"`nept` runs the workload as an L2 guest under an L1 hypervisor (KVM's nested\n"
		"EPT, `docs/nvirt.md`); `nested` is the same guest one level down. *Ratio* is\n"
		"nept's estimated cycles over nested's (measured part). The exits are nept's\n"
		"in the whole run: L2 exits (all taken by L0 first), those reflected to L1,\n"
		"and L1's own exits to L0 (VMREAD, VMRESUME, INVEPT, trapped EPT12 stores).\n\n"
		"| workload | nested est_cycles | nept est_cycles | ratio | L2 exits | reflected "
		"| L1 exits |\n|---|---:|---:|---:|---:|---:|---:|\n");
	for (size_t w = 0; w < c->nwl; w++) {
		const struct job *n = cell_of(c, w, &nested_mmu_ops);
		const struct job *v = cell_of(c, w, &nept_mmu_ops);
		if (!n || !v)
			continue;
		uint64_t cn = stats_est_cycles(&n->r.st), cv = stats_est_cycles(&v->r.st);
		fprintf(f,
			"| %s | %" PRIu64 " | %" PRIu64 " | %.3f | %" PRIu64 " | %" PRIu64
			" | %" PRIu64 " |\n",
			c->wl[w]->name, cn, cv, cn ? (double)cv / (double)cn : 0.0,
			v->r.whole.l2_exits, v->r.whole.reflected_exits, v->r.whole.exits_l1);
	}
}

/*
 * compare_nvirt.c - the nested-virtualization sections of compare's
 * summary.md: each workload under single-level nested paging and under
 * nept (an L2 guest, docs/nvirt.md), with the exits at each level; and the
 * L2 designs (nept, shadow-on-ept, pvm, shadow-on-shadow) side by side.
 *
 * The first is written only when both modes were run, the second when two
 * designs or more were. Counts are of the measured part
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

/* The L2 designs of docs/nvirt.md, in the order the section lists them. */
static const struct mmu_ops *const l2_designs[] = {
    &nept_mmu_ops,
    &shadow_on_ept_mmu_ops,
    &pvm_mmu_ops,
    &shadow_on_shadow_mmu_ops,
};
#define N_L2_DESIGNS (sizeof(l2_designs) / sizeof(l2_designs[0]))

/*
 * The designs side by side: written when two or more of them were run.
 * Per workload, each design's estimated cycles (measured part) and, when
 * nested ran too, its ratio to nested's; the cheapest design, or a tie
 * within 0.1% (the summary's tie rule); then each design's exits at each
 * level over the whole run, and pvm's switcher round trips.
 */
void compare_nvirt_designs(FILE *f, const struct compare *c)
{
	const struct mmu_ops *d[N_L2_DESIGNS];
	size_t nd = 0;
	bool have_nested = false;
	for (size_t k = 0; k < c->nmodes; k++)
		have_nested |= c->modes[k] == &nested_mmu_ops;
	for (size_t i = 0; i < N_L2_DESIGNS; i++)
		for (size_t k = 0; k < c->nmodes; k++)
			if (c->modes[k] == l2_designs[i]) {
				d[nd++] = l2_designs[i];
				break;
			}
	if (nd < 2)
		return;
	fprintf(f,
		"\n## Nested virtualization: the L2 designs side by side\n\n"
		"Each design runs the workload as an L2 guest under an L1 hypervisor\n"
		"(`docs/nvirt.md`). The first table gives each design's estimated cycles\n"
		"(measured part) and names the cheapest design (a tie within 0.1%%).%s\n"
		"The second gives each design's exits in the whole run: L2 exits (all\n"
		"taken by L0 first), those reflected to L1, L1's own exits to L0, and\n"
		"pvm's switcher round trips into L1 (not VM exits).\n\n| workload |",
		have_nested ? "\nIn brackets: the ratio to single-level `nested`." : "");
	for (size_t i = 0; i < nd; i++)
		fprintf(f, " %s |", d[i]->name);
	fprintf(f, " cheapest |\n|---|");
	for (size_t i = 0; i <= nd; i++)
		fprintf(f, "---:|");
	fputc('\n', f);
	for (size_t w = 0; w < c->nwl; w++) {
		const struct job *n = cell_of(c, w, &nested_mmu_ops);
		const struct job *j[N_L2_DESIGNS];
		size_t got = 0, best = 0;
		for (size_t i = 0; i < nd; i++) {
			j[i] = cell_of(c, w, d[i]);
			if (!j[i])
				continue;
			if (!got || stats_est_cycles(&j[i]->r.st) < stats_est_cycles(&j[best]->r.st))
				best = i;
			got++;
		}
		if (!got)
			continue;
		fprintf(f, "| %s |", c->wl[w]->name);
		for (size_t i = 0; i < nd; i++) {
			if (!j[i]) {
				fprintf(f, " |");
				continue;
			}
			uint64_t cy = stats_est_cycles(&j[i]->r.st);
			uint64_t cn = n ? stats_est_cycles(&n->r.st) : 0;
			if (cn)
				fprintf(f, " %" PRIu64 " (%.2f) |", cy, (double)cy / (double)cn);
			else
				fprintf(f, " %" PRIu64 " |", cy);
		}
		/* The runner-up within 0.1% of the cheapest makes a tie. */
		uint64_t lo = stats_est_cycles(&j[best]->r.st);
		size_t second = nd;
		for (size_t i = 0; i < nd; i++)
			if (i != best && j[i] &&
			    (second == nd ||
			     stats_est_cycles(&j[i]->r.st) < stats_est_cycles(&j[second]->r.st)))
				second = i;
		if (second < nd && (double)(stats_est_cycles(&j[second]->r.st) - lo) <= 0.001 * (double)lo)
			fprintf(f, " tie (%s, %s) |\n", d[best]->name, d[second]->name);
		else
			fprintf(f, " %s |\n", d[best]->name);
	}
	fprintf(f, "\n| workload | design | L2 exits | reflected | L1 exits | pvm switches |\n"
		   "|---|---|---:|---:|---:|---:|\n");
	for (size_t w = 0; w < c->nwl; w++)
		for (size_t i = 0; i < nd; i++) {
			const struct job *j = cell_of(c, w, d[i]);
			if (!j)
				continue;
			fprintf(f,
				"| %s | %s | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64
				" |\n",
				c->wl[w]->name, d[i]->name, j->r.whole.l2_exits,
				j->r.whole.reflected_exits, j->r.whole.exits_l1,
				j->r.whole.pvm_switches);
		}
}

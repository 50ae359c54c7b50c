/*
 * explain_dma.c - `vmmu explain --dma IOVA`: one DMA translation, reference
 * by reference, in one stage or two.
 *
 * It builds a small guest with the real engine (boot, one process, the DMA
 * driver's probe: under a VMM the device's assignment and, with --viommu,
 * the guest programming its vIOMMU and mapping the ring), empties the
 * IOMMU's context cache and IOTLB, and asks the IOMMU to translate one
 * device read of IOVA. The printer shows what the walk recorded
 * (struct iommu_walk): the root and context entries, then every table
 * entry read, with the address being translated at that step, the entry's
 * host-physical address and its raw value, and the result or the fault.
 *
 * Which IOVAs are mapped: without a vIOMMU the bus address is a gPA and
 * the VMM mapped all of guest memory, so any gPA below --guest-mem
 * translates; with --viommu on|shadow only what the guest mapped does: the
 * descriptor ring, at GMM_DMA_IOVA_BASE (the driver maps a buffer only for
 * the time of its transfer).
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include "explain.h"
#include "../core/io.h"
#include "../guest-mm/gmm.h"
#include "../cli/registry.h"

static const char *step_name(const struct vm *vm, const struct iommu_step *s)
{
	switch (s->kind) {
	case IOMMU_STEP_ROOT:
		return "root entry";
	case IOMMU_STEP_CTX:
		return "context entry";
	case IOMMU_STEP_FS:
		return "first stage (guest's table)";
	default:
		if (vm->p2m.identity)
			return vm->cfg.viommu == VIOMMU_OFF ? "identity domain table"
							    : "the kernel's IOMMU table";
		return vm->cfg.viommu == VIOMMU_SHADOW ? "shadow table (VMM's)"
						       : "second level (VMM's table)";
	}
}

static void print_walk(FILE *f, const struct vm *vm, const struct iommu_walk *w, int rc)
{
	bool vmm = !vm->p2m.identity;
	const char *vi = config_viommu_name(vm->cfg.viommu);
	fprintf(f,
		"DMA read by device 00:03.0 (source-id %#06x) of bus address %#" PRIx64
		"\nmode %s, vIOMMU %s%s%s\n",
		IO_DMA_SOURCE_ID, w->iova, vm->mmu->name, vi,
		vm->cfg.viommu == VIOMMU_OFF
		    ? (vmm ? ": the VMM programs the IOMMU (bus address = gPA)"
			   : ": the kernel's identity domain (bus address = PA)")
		    : (!vmm ? ": the kernel programs its IOMMU (bus address = IOVA, one stage)"
		       : vm->cfg.viommu == VIOMMU_NESTED
			   ? ": the VM programs the IOMMU; the hardware walks both stages"
			   : ": the VM programs the IOMMU; the device walks the VMM's shadow"),
		vm->cfg.iommu_share_ept ? " (second level = the EPT)" : "");
	fprintf(f, "context cache %s, IOTLB %s\n", w->ctx_hit ? "hit" : "miss",
		w->iotlb_hit ? "hit" : "miss");
	for (int i = 0; i < w->nsteps; i++) {
		const struct iommu_step *s = &w->step[i];
		fprintf(f, "  %2d  %-28s", i + 1, step_name(vm, s));
		if (s->kind == IOMMU_STEP_ROOT)
			fprintf(f, " bus %u", (unsigned)(s->addr >> 8));
		else if (s->kind == IOMMU_STEP_CTX)
			fprintf(f, " devfn %#04x", (unsigned)(s->addr & 0xff));
		else if (s->kind == IOMMU_STEP_FS)
			fprintf(f, " L%d [%3u] of IOVA %#" PRIx64, s->level,
				(unsigned)pt_index(s->addr, s->level), s->addr);
		else
			fprintf(f, " L%d [%3u] of %s %#" PRIx64, s->level,
				(unsigned)pt_index(s->addr, s->level),
				w->refs_fs ? (s->fs_level ? "table gPA" : "data gPA")
					   : (vm->cfg.viommu == VIOMMU_OFF ? "gPA" : "IOVA"),
				s->addr);
		fprintf(f, "\n        entry at hPA %#" PRIx64 " = %#018" PRIx64 "\n", s->entry_addr,
			s->entry);
	}
	if (rc) {
		fprintf(f,
			"fault %#x (%s), stage %d: the request is blocked and reported to the %s\n",
			rc, iommu_fault_name((unsigned)rc), w->stage, vmm ? "VMM" : "kernel");
	} else {
		fprintf(f, "result: bus %#" PRIx64, w->iova);
		if (w->refs_fs)
			fprintf(f, " -> gPA %#" PRIx64, w->gpa);
		fprintf(f, " -> hPA %#" PRIx64 "\n", w->hpa);
	}
	fprintf(f, "%u memory references (%u context, %u first-stage, %u second-level)\n", w->refs,
		w->ctx_hit ? 0u : 2u, w->refs_fs, w->refs - w->refs_fs - (w->ctx_hit ? 0u : 2u));
}

int explain_dma(FILE *f, const struct vm_config *cfg, uint64_t iova, char *err, size_t errlen)
{
	struct vm *vm = vm_create(cfg, err, errlen);
	if (!vm)
		return -1;
	jmp_buf jb;
	vm->abort_jmp = &jb;
	if (setjmp(jb) != 0) {
		snprintf(err, errlen, "%s", vm->err);
		vm_destroy(vm);
		return -1;
	}
	if (gmm_boot(vm) != 0 || !gmm_proc_create(vm) || gmm_dma_probe(vm) != 0) {
		snprintf(err, errlen, "guest set-up failed: %s", vm->err[0] ? vm->err : "probe");
		vm_destroy(vm);
		return -1;
	}
	iommu_flush_caches(vm);
	struct iommu_walk w;
	int rc = iommu_translate(vm, IO_DMA_SOURCE_ID, iova, false, &w);
	print_walk(f, vm, &w, rc);
	vm_destroy(vm);
	return 0;
}

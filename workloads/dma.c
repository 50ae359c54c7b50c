/*
 * dma.c - block I/O by DMA while the CPU works on other memory.
 *
 * Regime: device assignment. A process owns a buffer of DMA_BUF_PAGES
 * pages and a working set of 'pages' pages. Each operation alternates:
 *   even ops  a block read: the device writes blocks op*B .. op*B+B-1 into
 *             the buffer by DMA (gmm_dma_rw(), to_mem); the CPU then checks
 *             eight words of every page against the disk image;
 *   odd ops   a block write: the CPU stores eight words of every buffer page,
 *             the device reads the pages by DMA and returns a fold of each,
 *             which the workload checks against the fold it expects (the
 *             rest of each page still holds the previous read's blocks);
 *   each op   the CPU makes DMA_TOUCHES read-modify-writes at random words
 *             of the working set.
 * The driver pins, maps (with --viommu, IOVA entries and invalidations),
 * rings one doorbell per batch, unmaps and unpins: every DMA request goes
 * through the IOMMU. What the device wrote is in the buffer pages, so the
 * guest digest covers it, and the checks fold it into the checksum.
 *
 * Region of interest: the operations; the device's probe (when the VMM
 * assigns it, pins and maps) and the first touch of the working set are
 * left out, as a VM's start is.
 * Parameters: pages = working set (default 2048 pages, 8 MiB), ops =
 * operations (default 64). B = DMA_BUF_PAGES = 16.
 */
#include "workload.h"
#include "../src/core/io.h"

#define DMA_BUF_PAGES 16
#define DMA_CHECKS 8 /* words checked or written per buffer page */
#define DMA_TOUCHES 512

static uint64_t dma_word_index(unsigned j)
{
	return (uint64_t)j * (PAGE_SIZE / 8 / DMA_CHECKS);
}

static void dma_run(struct wl_ctx *c)
{
	wl_begin(c);
	wl_proc_create(c);
	struct vm *vm = c->vm;
	uint64_t salt = wl_rand(c);
	gva_t buf = wl_mmap(c, DMA_BUF_PAGES * PAGE_SIZE, GPROT_READ | GPROT_WRITE, 0);
	gva_t ws = wl_map_data(c, c->p.pages);
	uint64_t words = c->p.pages * (PAGE_SIZE / 8);
	for (uint64_t pg = 0; pg < c->p.pages; pg++)
		wl_store(c, ws + pg * PAGE_SIZE, wl_mix(salt, pg * (PAGE_SIZE / 8)));
	if (gmm_dma_probe(vm) != 0)
		vm_abort(vm, "dma: the device's probe failed (errno %d)", gmm_errno(vm));
	wl_user(c);

	wl_roi_begin(c);
	for (uint64_t op = 0; op < c->p.ops; op++) {
		uint64_t block = op * DMA_BUF_PAGES;
		if (op % 2 == 0) {
			int bad = gmm_dma_rw(vm, buf, DMA_BUF_PAGES, block, true, NULL);
			wl_user(c);
			if (bad != 0)
				vm_abort(vm, "dma: block read of %d pages failed (%d, errno %d)",
					 DMA_BUF_PAGES, bad, gmm_errno(vm));
			for (unsigned pg = 0; pg < DMA_BUF_PAGES; pg++)
				for (unsigned j = 0; j < DMA_CHECKS; j++)
					wl_expect(c, buf + pg * PAGE_SIZE + 8 * dma_word_index(j),
						  io_disk_word(block + pg, dma_word_index(j)),
						  "dma: data the device wrote");
		} else {
			uint64_t sums[DMA_BUF_PAGES];
			uint64_t prev = block - DMA_BUF_PAGES;
			for (unsigned pg = 0; pg < DMA_BUF_PAGES; pg++)
				for (unsigned j = 0; j < DMA_CHECKS; j++)
					wl_store(c, buf + pg * PAGE_SIZE + 8 * dma_word_index(j),
						 wl_mix(salt + op, pg * DMA_CHECKS + j));
			int bad = gmm_dma_rw(vm, buf, DMA_BUF_PAGES, block, false, sums);
			wl_user(c);
			if (bad != 0)
				vm_abort(vm, "dma: block write of %d pages failed (%d, errno %d)",
					 DMA_BUF_PAGES, bad, gmm_errno(vm));
			for (unsigned pg = 0; pg < DMA_BUF_PAGES; pg++) {
				uint64_t h = (block + pg) & IO_DESC_SUM_MASK;
				for (uint64_t w = 0; w < PAGE_SIZE / 8; w++) {
					bool mine = w % (PAGE_SIZE / 8 / DMA_CHECKS) == 0;
					uint64_t x =
					    mine ? wl_mix(salt + op,
							  pg * DMA_CHECKS +
							      w / (PAGE_SIZE / 8 / DMA_CHECKS))
						 : io_disk_word(prev + pg, w);
					h = io_fold(h, x);
				}
				if (sums[pg] != h)
					vm_abort(vm,
						 "dma: the device read page %u as %#" PRIx64
						 ", the CPU wrote %#" PRIx64,
						 pg, sums[pg], h);
				wl_fold(c, sums[pg]);
			}
		}
		for (unsigned k = 0; k < DMA_TOUCHES; k++) {
			uint64_t w = wl_rand_below(c, words);
			gva_t va = ws + 8 * w;
			uint64_t x = wl_load_fold(c, va);
			wl_store(c, va, x + op + 1);
		}
	}
	wl_roi_end(c);
}

const struct workload workload_dma = {
    .name = "dma",
    .desc = "block reads and writes by DMA through the IOMMU while the CPU touches other memory",
    .roi = "the block operations",
    .def_pages = 2048,
    .def_ops = 64,
    .run = dma_run,
};

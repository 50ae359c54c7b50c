/*
 * test_iommu.c - the DMA device, the IOMMU, device assignment and the
 * virtual IOMMU, with exact counts (docs/iommu.md).
 *
 * Memory map of every fixture (64 MiB guest, one process):
 *
 *   gPA 0 ............................ 64 MiB | VMM region (IOMMU, EPT tables)
 *   [kernel: direct map, ring, vIOMMU table]   |
 *   user buffer at GMM_MMAP_BASE (4 pages)     |
 *   bus address 64 MiB and up: not guest RAM   |
 *
 * What is pinned down, per mode:
 *   - references of one DMA transfer (a descriptor, a buffer page and the
 *     status write): context miss 2, then one walk per page the IOTLB
 *     misses: 4 (4 KiB second level), 3 (2 MiB), 24 (two-stage 4 over 4),
 *     19 (two-stage 4 over 3);
 *   - IOTLB hits: the status write, and all three on a repeat;
 *   - pins: all of guest RAM at assignment without a shadow vIOMMU
 *     (16384 pages), one per map and unmap with it;
 *   - vIOMMU exits: the capability read and the root at probe; per page an
 *     unmap invalidation (two-stage), or a map and an unmap one (shadow);
 *   - isolation: five misbehaving DMAs blocked, their fault records, and
 *     the host and guest digests unchanged, under every mode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/core/cpu.h"
#include "../src/core/io.h"
#include "../src/guest-mm/gmm.h"
#include "../src/iommu/iommu.h"
#include "../src/cli/registry.h"
#include "../src/lib/run.h"
#include "../src/teach/explain.h"

#define PG PAGE_SIZE
#define GUEST_MEM (UINT64_C(64) << 20)
#define GUEST_FRAMES (GUEST_MEM / PG)

static const char *const all_modes[] = {"native", "shadow", "nested", "switching", "agile", "pv"};
#define NMODES (sizeof(all_modes) / sizeof(all_modes[0]))

static struct vm *boot(const char *mode, enum viommu_mode vi, bool share)
{
	struct vm_config c;
	config_defaults(&c);
	c.mode = mode;
	c.guest_mem = GUEST_MEM;
	c.viommu = vi;
	c.iommu_share_ept = share;
	char err[256] = "";
	struct vm *vm = vm_create(&c, err, sizeof(err));
	if (!vm)
		fail_msg("vm_create(%s): %s", mode, err);
	assert_int_equal(gmm_boot(vm), 0);
	memset(&vm->st, 0, sizeof(vm->st));
	return vm;
}

/* A process with an n-page buffer; the device probed. */
static gva_t setup(struct vm *vm, uint64_t n)
{
	assert_non_null(gmm_proc_create(vm));
	gva_t a = gmm_mmap(vm, 0, n * PG, GPROT_READ | GPROT_WRITE, 0);
	assert_int_equal(a, GMM_MMAP_BASE);
	assert_int_equal(gmm_dma_probe(vm), 0);
	return a;
}

/* Walk length of one second-level walk in the fixture: 2 MiB leaves for
 * native (identity domain of 64 MiB) and pv (its 2 MiB machine extents). */
static uint32_t sl_refs(const char *mode)
{
	return strcmp(mode, "native") == 0 || strcmp(mode, "pv") == 0 ? 3 : 4;
}

/* ---- one transfer, exact counts ---- */

static void test_refs_per_dma_no_viommu(void **state)
{
	(void)state;
	for (size_t m = 0; m < NMODES; m++) {
		const char *mode = all_modes[m];
		struct vm *vm = boot(mode, VIOMMU_OFF, false);
		gva_t buf = setup(vm, 4);
		bool vmm = strcmp(mode, "native") != 0;
		/* Assignment pinned all of guest RAM (VFIO), nothing natively. */
		assert_int_equal(vm->st.dma_pins, vmm ? GUEST_FRAMES : 0);
		assert_int_equal(vm->st.vm_exits - vm->st.exits_ept_violation -
				     vm->st.exits_hidden_fault - vm->st.exits_pt_write -
				     vm->st.exits_dirty - vm->st.exits_fault_inject -
				     vm->st.exits_cr3 - vm->st.exits_invlpg,
				 0);
		memset(&vm->st, 0, sizeof(vm->st));
		assert_int_equal(gmm_dma_rw(vm, buf, 1, 7, true, NULL), 0);
		assert_int_equal(vm->st.dma_xlates, 3);
		assert_int_equal(vm->st.iommu_ctx_misses, 1);
		uint32_t L = sl_refs(mode);
		/* Descriptor and buffer each miss, unless one large leaf holds both. */
		uint64_t misses = vm->st.iotlb_misses;
		assert_true(misses == 1 || misses == 2);
		if (L == 4)
			assert_int_equal(misses, 2);
		assert_int_equal(vm->st.iotlb_hits, 3 - misses);
		assert_int_equal(vm->st.iommu_walk_refs, 2 + misses * L);
		assert_int_equal(vm->st.iommu_walk_refs_fs, 0);
		assert_int_equal(vm->st.dma_bytes, 32 + PG + 8);
		assert_int_equal(vm->st.exits_viommu, 0);
		assert_int_equal(vm->st.iommu_faults, 0);
		/* The data arrived: read it back as the process. */
		cpu_set_user(&vm->vcpu, true);
		assert_true(cpu_load(&vm->vcpu, buf + 8 * 5, 8) == io_disk_word(7, 5));
		/* A repeat hits all three. */
		memset(&vm->st, 0, sizeof(vm->st));
		assert_int_equal(gmm_dma_rw(vm, buf, 1, 8, true, NULL), 0);
		assert_int_equal(vm->st.iotlb_hits, 3);
		assert_int_equal(vm->st.iotlb_misses, 0);
		assert_int_equal(vm->st.iommu_walk_refs, 0);
		char d[200];
		assert_null(iommu_audit(vm, d, sizeof(d)));
		vm_destroy(vm);
	}
}

static void test_refs_per_dma_two_stage(void **state)
{
	(void)state;
	for (size_t m = 0; m < NMODES; m++) {
		const char *mode = all_modes[m];
		bool vmm = strcmp(mode, "native") != 0;
		struct vm *vm = boot(mode, VIOMMU_NESTED, false);
		gva_t buf = setup(vm, 4);
		/* Probe: a capability read and the root, each an exit under a VMM;
		 * no Caching Mode, so mapping the ring needs no invalidation. */
		assert_int_equal(vm->st.exits_viommu, vmm ? 2 : 0);
		assert_int_equal(vm->st.viommu_invalidations, 0);
		assert_int_equal(vm->st.dma_pins, vmm ? GUEST_FRAMES : 0);
		memset(&vm->st, 0, sizeof(vm->st));
		assert_int_equal(gmm_dma_rw(vm, buf, 1, 7, true, NULL), 0);
		assert_int_equal(vm->st.iommu_ctx_misses, 1);
		assert_int_equal(vm->st.iotlb_misses, 2);
		assert_int_equal(vm->st.iotlb_hits, 1);
		uint32_t L = sl_refs(mode);
		/* Two stages: (4 + 1)(L + 1) - 1 per walk; natively one stage of 4. */
		uint32_t walk = vmm ? 5 * (L + 1) - 1 : 4;
		assert_int_equal(vm->st.iommu_walk_refs, 2 + 2 * walk);
		assert_int_equal(vm->st.iommu_walk_refs_fs, vmm ? 8 : 0);
		/* The unmap invalidates: one exit each way it is counted. */
		assert_int_equal(vm->st.viommu_invalidations, 1);
		assert_int_equal(vm->st.exits_viommu, vmm ? 1 : 0);
		assert_int_equal(vm->st.dma_pins, 0);
		cpu_set_user(&vm->vcpu, true);
		assert_true(cpu_load(&vm->vcpu, buf + 8 * 9, 8) == io_disk_word(7, 9));
		vm_destroy(vm);
	}
}

static void test_shadow_viommu_syncs_and_pins(void **state)
{
	(void)state;
	for (size_t m = 0; m < NMODES; m++) {
		const char *mode = all_modes[m];
		bool vmm = strcmp(mode, "native") != 0;
		struct vm *vm = boot(mode, VIOMMU_SHADOW, false);
		gva_t buf = setup(vm, 4);
		if (vmm) {
			/* CAP read, root, the ring's map invalidation (Caching Mode);
			 * only the ring is pinned. */
			assert_int_equal(vm->st.exits_viommu, 3);
			assert_int_equal(vm->st.dma_pins, 1);
			assert_int_equal(vm->st.viommu_syncs, 1);
		}
		memset(&vm->st, 0, sizeof(vm->st));
		uint64_t sums[2];
		cpu_set_user(&vm->vcpu, true);
		cpu_store(&vm->vcpu, buf, 8, 0x1234);
		cpu_store(&vm->vcpu, buf + PG, 8, 0x5678);
		memset(&vm->st, 0, sizeof(vm->st));
		assert_int_equal(gmm_dma_rw(vm, buf, 2, 40, false, sums), 0);
		if (vmm) {
			/* Two maps and two unmaps, each an invalidation exit. */
			assert_int_equal(vm->st.exits_viommu, 4);
			assert_int_equal(vm->st.viommu_invalidations, 4);
			assert_int_equal(vm->st.viommu_syncs, 4);
			assert_int_equal(vm->st.dma_pins, 2);
			assert_int_equal(vm->st.dma_unpins, 2);
			/* The VMM's software walk: 4 levels per invalidation. */
			assert_int_equal(vm->st.vmm_walk_refs, 16);
			/* The device walks the 1D shadow table: ring and two buffers. */
			assert_int_equal(vm->st.iommu_walk_refs, 2 + 3 * 4);
		} else {
			assert_int_equal(vm->st.exits_viommu, 0);
			assert_int_equal(vm->st.viommu_invalidations, 2);
			assert_int_equal(vm->st.iommu_walk_refs, 2 + 3 * 4);
		}
		/* The device saw what the CPU wrote. */
		uint64_t h = 40 & IO_DESC_SUM_MASK;
		h = io_fold(h, 0x1234);
		for (unsigned i = 1; i < PG / 8; i++)
			h = io_fold(h, 0);
		assert_int_equal(sums[0], h);
		char d[200];
		assert_null(iommu_audit(vm, d, sizeof(d)));
		vm_destroy(vm);
	}
}

/* A one-entry IOTLB: descriptor, buffer and status evict each other. */
static void test_iotlb_capacity(void **state)
{
	(void)state;
	struct vm_config c;
	config_defaults(&c);
	c.mode = "nested";
	c.guest_mem = GUEST_MEM;
	c.iotlb_entries = 1;
	char err[256] = "";
	struct vm *vm = vm_create(&c, err, sizeof(err));
	assert_non_null(vm);
	assert_int_equal(gmm_boot(vm), 0);
	gva_t buf = setup(vm, 1);
	memset(&vm->st, 0, sizeof(vm->st));
	assert_int_equal(gmm_dma_rw(vm, buf, 1, 2, true, NULL), 0);
	assert_int_equal(vm->st.iotlb_misses, 3);
	assert_int_equal(vm->st.iotlb_hits, 0);
	assert_int_equal(vm->st.iommu_walk_refs, 2 + 3 * 4);
	vm_destroy(vm);
}

/* The audit sees a second-level leaf and a shadow entry that lie. */
static void test_audit_catches_corruption(void **state)
{
	(void)state;
	char d[200];
	struct vm *vm = boot("nested", VIOMMU_OFF, false);
	setup(vm, 1);
	struct iommu *io = iommu_of(vm);
	/* The leaf of gPA 0x5000: PML4[0] -> PDPT[0] -> PD[0] -> PT[5]. */
	uint64_t t = io->sl_root;
	for (int l = 4; l > 1; l--)
		t = hpa_read64(vm, HPA(t)) & SLPTE_ADDR;
	uint64_t e = hpa_read64(vm, HPA(t + 8 * 5));
	hpa_write64(vm, HPA(t + 8 * 5), e + PG);
	assert_string_equal(iommu_audit(vm, d, sizeof(d)), "iommu-sl-follows-p2m");
	hpa_write64(vm, HPA(t + 8 * 5), e);
	assert_null(iommu_audit(vm, d, sizeof(d)));
	vm_destroy(vm);

	vm = boot("shadow", VIOMMU_SHADOW, false);
	setup(vm, 1);
	io = iommu_of(vm);
	/* The ring's shadow entry, at IOVA 0x80000000: PML4[0], PDPT[2], PD[0], PT[0]. */
	t = hpa_read64(vm, HPA(io->shadow_root)) & SLPTE_ADDR;
	t = hpa_read64(vm, HPA(t + 8 * 2)) & SLPTE_ADDR;
	t = hpa_read64(vm, HPA(t)) & SLPTE_ADDR;
	e = hpa_read64(vm, HPA(t));
	assert_true(slpte_present(e));
	hpa_write64(vm, HPA(t), e + PG);
	assert_string_equal(iommu_audit(vm, d, sizeof(d)), "iommu-shadow-follows-guest");
	hpa_write64(vm, HPA(t), e);
	assert_null(iommu_audit(vm, d, sizeof(d)));
	vm_destroy(vm);
}

/* ---- sharing the EPT ---- */

static void test_share_ept(void **state)
{
	(void)state;
	for (int share = 0; share < 2; share++) {
		struct vm *vm = boot("nested", VIOMMU_OFF, share);
		gva_t buf = setup(vm, 4);
		/* Own table: root, context, PML4, PDPT, PD and 32 PTs for 64 MiB of
		 * 4 KiB leaves. Shared: root and context only. */
		assert_int_equal(vm->st.iommu_pt_pages_peak, share ? 2 : 2 + 3 + 32);
		assert_int_equal(vm->st.dma_pins, GUEST_FRAMES);
		/* The lazy fill was done up front: touching new memory takes no
		 * EPT violation when the EPT is the IOMMU's table. */
		gva_t more = gmm_mmap(vm, 0, 8 * PG, GPROT_READ | GPROT_WRITE, 0);
		memset(&vm->st, 0, sizeof(vm->st));
		cpu_set_user(&vm->vcpu, true);
		for (int i = 0; i < 8; i++)
			cpu_store(&vm->vcpu, more + (uint64_t)i * PG, 8, (uint64_t)i);
		if (share)
			assert_int_equal(vm->st.exits_ept_violation, 0);
		else
			assert_true(vm->st.exits_ept_violation >= 8);
		memset(&vm->st, 0, sizeof(vm->st));
		assert_int_equal(gmm_dma_rw(vm, buf, 1, 3, true, NULL), 0);
		assert_int_equal(vm->st.iommu_walk_refs, 2 + 2 * 4);
		vm_destroy(vm);
	}
	/* Refused outside nested mode. */
	struct vm_config c;
	config_defaults(&c);
	c.mode = "shadow";
	c.guest_mem = GUEST_MEM;
	c.iommu_share_ept = true;
	char err[256] = "";
	assert_null(vm_create(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "--iommu-share-ept"));
}

/* ---- isolation ---- */

struct rogue {
	uint16_t sid;
	uint64_t bus;
	uint8_t reason;
	uint8_t stage;
};

static void test_isolation(void **state)
{
	(void)state;
	static const enum viommu_mode vis[] = {VIOMMU_OFF, VIOMMU_NESTED, VIOMMU_SHADOW};
	for (size_t m = 0; m < NMODES; m++) {
		for (size_t k = 0; k < 3; k++) {
			const char *mode = all_modes[m];
			struct vm *vm = boot(mode, vis[k], false);
			gva_t buf = setup(vm, 4);
			assert_int_equal(gmm_dma_rw(vm, buf, 1, 1, true, NULL), 0);
			bool vi = vis[k] != VIOMMU_OFF;
			uint8_t st = vi ? 1 : 2;
			/* A VMM frame's host-physical address, handed to the device as
			 * if it were a bus address: outside guest RAM. */
			uint64_t vmm_hpa = (vm->hm.guest_frames + 1) << PAGE_SHIFT;
			struct rogue r[6] = {
			    {IO_DMA_SOURCE_ID, GUEST_MEM, IOMMU_FR_WRITE, st},
			    {IO_DMA_SOURCE_ID, vmm_hpa, IOMMU_FR_WRITE, st},
			    {IO_DMA_SOURCE_ID, UINT64_C(1) << 48, IOMMU_FR_AW, st},
			    {0x0020, PG, IOMMU_FR_CTX_NP, 2},
			    /* Unmapped for the device: with a vIOMMU, an IOVA the guest
			     * never mapped, and the ring's gPA used as an IOVA. */
			    {IO_DMA_SOURCE_ID, GMM_DMA_IOVA_BASE + 100 * PG, IOMMU_FR_WRITE, 1},
			    {IO_DMA_SOURCE_ID, 2 * PG, IOMMU_FR_WRITE, 1},
			};
			size_t n = vi ? 6 : 4;
			if (vi && strcmp(mode, "native") == 0)
				r[0].stage = r[1].stage = r[2].stage = 1;
			uint64_t host0 = iommu_host_digest(vm);
			uint64_t guest0 = vm_guest_digest(vm);
			memset(&vm->st, 0, sizeof(vm->st));
			unsigned before;
			iommu_faults(vm, &before);
			uint64_t junk[8];
			memset(junk, 0xa5, sizeof(junk));
			for (size_t i = 0; i < n; i++) {
				int rc = iommu_dma(vm, r[i].sid, r[i].bus, junk, sizeof(junk), true,
						   NULL);
				if (rc != r[i].reason)
					fail_msg("%s viommu %d rogue %zu at %#" PRIx64
						 ": reason %d, want %d",
						 mode, (int)vis[k], i, r[i].bus, rc, r[i].reason);
			}
			assert_int_equal(vm->st.iommu_faults, n);
			assert_int_equal(vm->st.dma_bytes, 0);
			unsigned nf;
			const struct iommu_fault *f = iommu_faults(vm, &nf);
			assert_int_equal(nf, before + n);
			for (size_t i = 0; i < n; i++) {
				const struct iommu_fault *x = &f[before + i];
				assert_int_equal(x->sid, r[i].sid);
				assert_int_equal(x->addr, r[i].bus);
				assert_true(x->write);
				assert_int_equal(x->reason, r[i].reason);
				if (x->stage != r[i].stage)
					fail_msg("%s viommu %d rogue %zu: stage %d, want %d", mode,
						 (int)vis[k], i, x->stage, r[i].stage);
			}
			assert_int_equal(iommu_host_digest(vm), host0);
			assert_int_equal(vm_guest_digest(vm), guest0);
			/* The digest does see a changed host byte (the check can fail). */
			hpa_write64(vm, HPA((vm->hm.vmm_next << PAGE_SHIFT) + 8),
				    0x5a); /* an unused frame */
			assert_true(iommu_host_digest(vm) != host0);
			vm_destroy(vm);
		}
	}
}

/* A descriptor whose buffer the IOMMU blocks completes with an error. */
static void test_blocked_descriptor(void **state)
{
	(void)state;
	struct vm *vm = boot("nested", VIOMMU_NESTED, false);
	gva_t buf = setup(vm, 1);
	(void)buf;
	uint64_t ring = GMM_DMA_IOVA_BASE;
	/* Hand-write descriptor 0 as a buggy driver would: an unmapped IOVA. */
	uint64_t d[4] = {GMM_DMA_IOVA_BASE + 50 * PG, PG | IO_DESC_TO_MEM, 0, 0};
	assert_int_equal(iommu_dma(vm, IO_DMA_SOURCE_ID, ring, d, sizeof(d), true, NULL), 0);
	memset(&vm->st, 0, sizeof(vm->st));
	io_mmio_write(&vm->vcpu, IO_DEV_DMA, DMA_REG_TAIL, 1);
	assert_int_equal(io_mmio_read(&vm->vcpu, IO_DEV_DMA, DMA_REG_ERRORS), 1);
	assert_int_equal(vm->st.iommu_faults, 1);
	uint64_t status;
	assert_int_equal(iommu_dma(vm, IO_DMA_SOURCE_ID, ring + 24, &status, 8, false, NULL), 0);
	assert_true(status & IO_DESC_DONE);
	assert_true(status & IO_DESC_ERR);
	vm_destroy(vm);
}

/* The dma workload: same checksum and digest under every mode. */
static void test_dma_equivalence(void **state)
{
	(void)state;
	static const enum viommu_mode vis[] = {VIOMMU_OFF, VIOMMU_NESTED, VIOMMU_SHADOW};
	const struct workload *w = workload_find("dma");
	assert_non_null(w);
	for (size_t k = 0; k < 3; k++) {
		uint64_t sum0 = 0, dig0 = 0;
		for (size_t m = 0; m < NMODES; m++) {
			struct vm_config c;
			config_defaults(&c);
			c.mode = all_modes[m];
			c.guest_mem = GUEST_MEM;
			c.viommu = vis[k];
			struct wl_params p = {.seed = 3, .pages = 64, .ops = 6};
			struct run_result r;
			if (run_workload(&c, w, &p, NULL, &r) != 0)
				fail_msg("dma under %s: %s", c.mode, r.err);
			if (m == 0) {
				sum0 = r.checksum;
				dig0 = r.guest_digest;
			}
			assert_int_equal(r.checksum, sum0);
			assert_int_equal(r.guest_digest, dig0);
			assert_int_equal(r.whole.iommu_faults, 0);
		}
	}
}

/* explain --dma: the two-stage walk's references, as printed. */
static void test_explain_dma(void **state)
{
	(void)state;
	struct vm_config c;
	config_defaults(&c);
	c.mode = "nested";
	c.guest_mem = GUEST_MEM;
	c.viommu = VIOMMU_NESTED;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	char err[256] = "";
	assert_int_equal(explain_dma(f, &c, GMM_DMA_IOVA_BASE, err, sizeof(err)), 0);
	fclose(f);
	if (!strstr(buf, "26 memory references (2 context, 4 first-stage, 20 second-level)"))
		fail_msg("unexpected explanation:\n%s", buf);
	assert_non_null(strstr(buf, "result: bus 0x80000000 -> gPA"));
	free(buf);
	/* An IOVA the guest did not map ends in the fault. */
	buf = NULL;
	f = open_memstream(&buf, &len);
	assert_int_equal(explain_dma(f, &c, GMM_DMA_IOVA_BASE + 64 * PG, err, sizeof(err)), 0);
	fclose(f);
	assert_non_null(strstr(buf, "fault 0x6 (PTE read access is not set), stage 1"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refs_per_dma_no_viommu),
	    cmocka_unit_test(test_refs_per_dma_two_stage),
	    cmocka_unit_test(test_shadow_viommu_syncs_and_pins),
	    cmocka_unit_test(test_iotlb_capacity),
	    cmocka_unit_test(test_audit_catches_corruption),
	    cmocka_unit_test(test_share_ept),
	    cmocka_unit_test(test_isolation),
	    cmocka_unit_test(test_blocked_descriptor),
	    cmocka_unit_test(test_dma_equivalence),
	    cmocka_unit_test(test_explain_dma),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

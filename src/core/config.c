/*
 * config.c - defaults for every knob of struct vm_config.
 *
 * TLB geometry follows Intel Skylake client cores (Intel 64 and IA-32
 * Architectures Optimization Reference Manual, table 2-10): L1 DTLB 64
 * entries 4-way for 4K and 32 entries 4-way for 2M/1G, L1 ITLB 128 entries
 * 8-way, STLB 1536 entries 12-way. Paging-structure cache sizes are not
 * published by Intel; see docs/cost-model.md for the values used.
 *
 * EPT depth follows KVM's kvm_mmu_get_tdp_level(): a 5-level EPT only when
 * the guest's MAXPHYADDR exceeds 48 bits. The model's guest-physical space
 * is at most 1 TiB and its MAXPHYADDR is 46 (EPT_MAXPHYADDR), so the
 * default is a 4-level EPT whatever the guest's own paging depth; a
 * 5-level guest therefore walks (5 + 1)(4 + 1) - 1 = 29 references.
 *
 * The guest kernel assigns PCIDs as Linux does (6 dynamic ASIDs per CPU,
 * choose_new_asid()), and runs without KPTI, as Linux does on CPUs that are
 * not affected by Meltdown (AMD, and Intel cores with the hardware fix).
 *
 * The TLB, walk-cache and cache geometry and the costs are then set by the
 * default machine profile (machine.c), which is the Skylake-SP server core:
 * its TLBs are the client core's listed above.
 */
#include <stdio.h>

#include "config.h"
#include "machine.h"

void config_defaults(struct vm_config *c)
{
	*c = (struct vm_config){
		.mode = "native",
		.guest_mem = UINT64_C(1) << 30,
		.host_mem = 0,
		.levels = 4,
		.guest_page = PG_4K,
		.host_page = PG_4K,
		.direct_map_page = PG_2M,
		.walk_caches = true,
		.vpid = true,
		.vmcs_shadow = false,
		.pcid = true,
		.pcid_policy = PCID_LINUX,
		.kpti = false,
		.invlpg_threshold = 33,
		.l1d = { .sets = 16, .ways = 4 },
		.l1d_large = { .sets = 8, .ways = 4 },
		.l1i = { .sets = 16, .ways = 8 },
		.l2 = { .sets = 128, .ways = 12 },
		.psc_entries = { 0, 0, 32, 4, 2, 2 },
		.numa = NUMA_LOCAL,
		.numa_node = 0,
		.cr0_wp = true,
		.cr4_smep = true,
		.cr4_smap = true,
		.efer_nxe = true,
		.shadow_sync = SYNC_UNSYNC,
		.shadow_roots = 3,
		.shadow_cap = 0,
		.shadow_prefetch = true,
		.prefetch_num = 8,
		.flood_threshold = 3,
		.ept_levels = 4,
		.ept_ad = true,
		.pwc = true,
		.ntlb = true,
		.pwc_entries = 32,
		.ntlb_entries = 32,
		.cache_model = true,
		.overridden = 0,
		.cost_overridden = 0,
		/* VEE'11 §4.3: nested costs ~4 ns more per TLB miss, shadow
		 * ~10 us more per guest fault: break-even at 10 us / 4 ns =
		 * 2500 misses per fault (docs/switching.md). */
		.switch_interval = 8192,
		.switch_ratio = 2500,
		/* ISCA'16's policy: more than one write moves a table to nested
		 * mode; the scan period is the model's (docs/agile.md). */
		.agile_writes = 2,
		.agile_interval = 65536,
		.pv_batch = true,
		/* Intel publishes no IOTLB size; 64 entries is the model's
		 * choice, stated in docs/cost-model.md with the walk caches. */
		.viommu = VIOMMU_OFF,
		.iommu_share_ept = false,
		.iotlb_entries = 64,
		.vcpus = 1,
		.quantum = 1000,
		.posted_ipi = false,
		.pv_tlb_flush = false,
		.host_cpus = 0,
		.host_nodes = 1,
		.pt_place = PT_FIRST_TOUCH,
		.audit = false,
		.whole_run = false,
		.verbose = 0,
	};
	size_t n;
	machine_apply(c, &machine_profiles(&n)[0]);
}

/* ---- spellings ---- */

const char *config_page_name(enum page_size ps)
{
	static const char *const names[PG_NR] = {"4k", "2m", "1g"};
	return (unsigned)ps < PG_NR ? names[ps] : "?";
}

void config_numa_format(enum numa_policy pol, int node, char *buf, size_t len)
{
	switch (pol) {
	case NUMA_INTERLEAVE:
		snprintf(buf, len, "interleave");
		break;
	case NUMA_NODE:
		snprintf(buf, len, "node:%d", node);
		break;
	default:
		snprintf(buf, len, "local");
		break;
	}
}

void config_numa_name(const struct vm_config *c, char *buf, size_t len)
{
	config_numa_format(c->numa, c->numa_node, buf, len);
}

const char *config_sync_name(enum shadow_sync s)
{
	return s == SYNC_UNSYNC ? "unsync" : "eager";
}

const char *config_pt_place_name(enum pt_place p)
{
	static const char *const names[] = {"first-touch", "interleave", "remote", "replicate"};
	return (unsigned)p < 4 ? names[p] : "?";
}

const char *config_pcid_policy_name(enum pcid_policy p)
{
	return p == PCID_PER_PROCESS ? "per-process" : "linux";
}

const char *config_viommu_name(enum viommu_mode m)
{
	return m == VIOMMU_NESTED ? "on" : m == VIOMMU_SHADOW ? "shadow" : "off";
}

/*
 * config.c - defaults for every knob of struct vm_config.
 *
 * TLB geometry follows Intel Skylake client cores (Intel 64 and IA-32
 * Architectures Optimization Reference Manual, table 2-10): L1 DTLB 64
 * entries 4-way for 4K and 32 entries 4-way for 2M/1G, L1 ITLB 128 entries
 * 8-way, STLB 1536 entries 12-way. Paging-structure cache sizes are not
 * published by Intel; see docs/cost-model.md for the values used.
 *
 * The TLB, walk-cache and cache geometry and the costs are then set by the
 * default machine profile (machine.c), which is the Skylake-SP server core:
 * its TLBs are the client core's listed above.
 */
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
		.pcid = true,
		.invlpg_threshold = 33,
		.l1d = { .sets = 16, .ways = 4 },
		.l1d_large = { .sets = 8, .ways = 4 },
		.l1i = { .sets = 16, .ways = 8 },
		.l2 = { .sets = 128, .ways = 12 },
		.psc_entries = { 0, 0, 32, 4, 2, 2 },
		.numa = NUMA_LOCAL,
		.numa_node = 0,
		.shadow_sync = SYNC_EAGER,
		.shadow_roots = 3,
		.shadow_cap = 0,
		.shadow_prefetch = true,
		.prefetch_num = 8,
		.flood_threshold = 3,
		.ept_ad = true,
		.pwc = true,
		.ntlb = true,
		.pwc_entries = 32,
		.ntlb_entries = 32,
		.cache_model = true,
		.overridden = 0,
		.cost_overridden = 0,
		.audit = false,
		.verbose = 0,
	};
	size_t n;
	machine_apply(c, &machine_profiles(&n)[0]);
}

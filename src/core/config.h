/*
 * config.h - every knob of one simulated machine, with its default.
 *
 * A config is plain data. config_defaults() fills it; the CLI and the public
 * library then override fields. Nothing reads the command line but cli.c.
 */
#ifndef VMMU_CONFIG_H
#define VMMU_CONFIG_H

#include "cost.h"
#include "types.h"

/* Geometry of one set-associative TLB array. */
/* Geometry of one cache level: 64-byte lines, sets (a power of two) x ways. */
struct cache_geom {
	uint32_t sets;
	uint32_t ways;
};

/*
 * Fields a machine profile sets (struct machine_profile): --machine writes
 * every one of them except those whose own flag was given, whatever the
 * order of the flags. A flag marks its field in vm_config.overridden.
 */
enum {
	MACH_TLB = 1u << 0,	  /* l1d and l2 */
	MACH_TLB_LARGE = 1u << 1, /* l1d_large */
	MACH_ITLB = 1u << 2,	  /* l1i */
	MACH_PSC = 1u << 3,	  /* psc_entries */
	MACH_PWC = 1u << 4,	  /* pwc_entries */
	MACH_NTLB = 1u << 5,	  /* ntlb_entries */
	MACH_CACHE = 1u << 6,	  /* cache geometry */
};

/* vCPUs a VM may have: mm_cpumask and the IPI masks are one 64-bit word. */
#define VMMU_MAX_VCPUS 64

enum numa_policy { NUMA_LOCAL = 0, NUMA_INTERLEAVE, NUMA_NODE };
/* Where page tables live on a simulated NUMA host (numa.h). */
enum pt_place { PT_FIRST_TOUCH = 0, PT_INTERLEAVE, PT_REMOTE, PT_REPLICATE };
enum shadow_sync { SYNC_EAGER = 0, SYNC_UNSYNC };
/* The guest's virtual IOMMU (src/iommu, docs/iommu.md). */
enum viommu_mode {
	VIOMMU_OFF = 0,	 /* no vIOMMU: the device's bus addresses are gPAs; the VMM maps all of RAM */
	VIOMMU_NESTED,	 /* the hardware walks the guest's table, then the VMM's (two stages) */
	VIOMMU_SHADOW,	 /* the VMM keeps a shadow table, synced on the guest's invalidations */
};
/* How the guest kernel assigns PCIDs (src/guest-mm/pcid.c). */
enum pcid_policy {
	PCID_LINUX = 0,	  /* Linux: 6 dynamic ASIDs per CPU (TLB_NR_DYN_ASIDS) */
	PCID_PER_PROCESS, /* one PCID per process for its lifetime */
};

struct vm_config {
	const char *mode;         /* "native", "shadow", "nested" */
	uint64_t guest_mem;       /* bytes of guest-physical memory */
	uint64_t host_mem;        /* bytes of host memory; 0 = derived */
	int levels;               /* guest paging levels: 4 or 5 (LA57) */
	enum page_size guest_page;  /* page size for workload data: 4K or 2M */
	enum page_size host_page;   /* p2m / EPT leaf size: 4K, 2M or 1G */
	enum page_size direct_map_page; /* guest kernel direct map: 2M or 1G */
	bool walk_caches;         /* PSC (native/shadow), PWC + nested TLB (nested) */
	bool vpid;                /* tag TLB entries with a VPID; off = flush on exit/entry */
	bool vmcs_shadow;         /* nested virt: L1's VMREAD/VMWRITE of shadowed fields do not exit */
	bool pcid;                /* guest uses PCIDs and the CR3 no-flush bit */
	enum pcid_policy pcid_policy; /* with pcid: how the guest assigns them */
	bool kpti;                /* guest kernel page-table isolation (Meltdown) */
	uint32_t invlpg_threshold; /* munmap of more pages than this flushes the PCID */
	struct tlb_geom l1d;      /* L1 data TLB, 4K entries */
	struct tlb_geom l1d_large; /* L1 data TLB, 2M/1G entries */
	struct tlb_geom l1i;      /* L1 instruction TLB, 4K entries */
	struct tlb_geom l2;       /* unified second-level TLB */
	uint32_t psc_entries[MAX_LEVELS + 1]; /* 1D walk-cache entries per level (index = level of cached entry) */
	enum numa_policy numa;
	int numa_node;
	/* paging controls the guest kernel sets at boot, as Linux does on
	 * processors that have them: CR0.WP, CR4.SMEP, CR4.SMAP, EFER.NXE */
	bool cr0_wp;
	bool cr4_smep;
	bool cr4_smap;
	bool efer_nxe;
	/* CR4.PKE (protection keys), off by default: a mode without
	 * mmu_ops.has_pke refuses it */
	bool cr4_pke;
	/* shadow */
	enum shadow_sync shadow_sync;
	uint32_t shadow_roots;    /* previous-root cache size (KVM: 3) */
	uint64_t shadow_cap;      /* max shadow pages; 0 = guest pages / 50 */
	bool shadow_prefetch;     /* prefetch neighbouring sptes (KVM: 8) */
	uint32_t prefetch_num;
	uint32_t flood_threshold; /* writes without use before unshadow (KVM: 3) */
	/* nested */
	int ept_levels;           /* EPT walk length, 4 or 5 (see config_defaults) */
	bool ept_ad;              /* EPTP bit 6: EPT accessed/dirty flags */
	bool pwc;                 /* 2D page-walk cache (only when walk_caches) */
	bool ntlb;                /* nested TLB (only when walk_caches) */
	uint32_t pwc_entries;
	uint32_t ntlb_entries;
	/* machine profile and cost model */
	const char *machine;      /* name of the profile applied last (machine.c) */
	bool cache_model;         /* on: references go through the cache model; off: flat L1 */
	struct cache_geom cache[3]; /* L1D, L2, LLC (this core's share) */
	struct cost_model cost;   /* every cycle cost */
	uint32_t overridden;      /* MACH_* fields set by their own flag */
	uint64_t cost_overridden; /* bit n: cost field n (cost_field_names[]) set by --cost */
	/* switching (Wang et al., VEE'11) */
	uint64_t switch_interval; /* accesses between two decisions */
	uint32_t switch_ratio;    /* TLB misses per guest fault at break-even */
	/* agile paging (Gandhi et al., ISCA'16) */
	uint32_t agile_writes;    /* trapped stores that move a table to nested mode */
	uint64_t agile_interval;  /* accesses between scans for quiet nested tables */
	/* pv */
	bool pv_batch;            /* lazy-MMU batching of mmu_update into multicalls */
	/* DMA and the IOMMU (src/iommu) */
	enum viommu_mode viommu;  /* the guest's virtual IOMMU */
	bool iommu_share_ept;     /* nested: the IOMMU's second-level table is the EPT */
	uint32_t iotlb_entries;   /* IOTLB entries (fully associative, LRU) */
	/* several vCPUs (src/core/smp.c, docs/smp.md) */
	uint32_t vcpus;           /* 1..VMMU_MAX_VCPUS */
	uint32_t quantum;         /* user accesses a thread runs before the next vCPU's turn */
	bool posted_ipi;          /* APICv posted interrupts and IPI virtualization: IPIs do not exit */
	bool pv_tlb_flush;        /* KVM's paravirtual TLB flush (kvm_flush_tlb_multi()) */
	uint32_t host_cpus;       /* host CPUs the vCPUs share; 0 = one each (none preempted) */
	uint32_t host_nodes;      /* simulated NUMA nodes; 1 = none (numa.h) */
	enum pt_place pt_place;   /* where page tables live with host_nodes > 1 */
	/* checking and output */
	bool audit;               /* run the mode's audit after every VM exit */
	bool whole_run;           /* measure the whole run, not the workload's region (roi.h) */
	uint64_t fail_alloc_at;   /* test hook: host allocation N fails (0 = never);
				   * run_workload() takes it from VMMU_FAIL_ALLOC_AT */
	int verbose;
};

void config_defaults(struct vm_config *c);

/* Spellings of values as the flags take them and the CSV writes them. */
/* A page size: "4k", "2m", "1g". */
const char *config_page_name(enum page_size ps);
/* The NUMA policy: "local", "interleave", "node:N". */
void config_numa_format(enum numa_policy pol, int node, char *buf, size_t len);
void config_numa_name(const struct vm_config *c, char *buf, size_t len);
/* The shadow sync policy: "eager" or "unsync". */
const char *config_sync_name(enum shadow_sync s);
/* The page-table placement: "first-touch", "interleave", "remote", "replicate". */
const char *config_pt_place_name(enum pt_place p);
/* The guest PCID policy: "linux" or "per-process". */
const char *config_pcid_policy_name(enum pcid_policy p);
/* The vIOMMU: "off", "on" (two stages) or "shadow". */
const char *config_viommu_name(enum viommu_mode m);

#endif

/*
 * config.h - every knob of one simulated machine, with its default.
 *
 * A config is plain data. config_defaults() fills it; the CLI and the public
 * library then override fields. Nothing reads the command line but cli.c.
 */
#ifndef VMMU_CONFIG_H
#define VMMU_CONFIG_H

#include "types.h"

/* Geometry of one set-associative TLB array. */
enum numa_policy { NUMA_LOCAL = 0, NUMA_INTERLEAVE, NUMA_NODE };
enum shadow_sync { SYNC_EAGER = 0, SYNC_UNSYNC };

struct vm_config {
	const char *mode;         /* "native", "shadow", "nested" */
	uint64_t guest_mem;       /* bytes of guest-physical memory */
	uint64_t host_mem;        /* bytes of host memory; 0 = derived */
	int levels;               /* 4 or 5 (LA57); nested uses it for EPT too */
	enum page_size guest_page;  /* page size for workload data: 4K or 2M */
	enum page_size host_page;   /* p2m / EPT leaf size: 4K, 2M or 1G */
	enum page_size direct_map_page; /* guest kernel direct map: 2M or 1G */
	bool walk_caches;         /* PSC (native/shadow), PWC + nested TLB (nested) */
	bool vpid;                /* tag TLB entries with a VPID; off = flush on exit/entry */
	bool pcid;                /* guest uses PCIDs and the CR3 no-flush bit */
	uint32_t invlpg_threshold; /* munmap of more pages than this flushes the PCID */
	struct tlb_geom l1d;      /* L1 data TLB, 4K entries */
	struct tlb_geom l1d_large; /* L1 data TLB, 2M/1G entries */
	struct tlb_geom l1i;      /* L1 instruction TLB, 4K entries */
	struct tlb_geom l2;       /* unified second-level TLB */
	uint32_t psc_entries[MAX_LEVELS + 1]; /* 1D walk-cache entries per level (index = level of cached entry) */
	enum numa_policy numa;
	int numa_node;
	/* shadow */
	enum shadow_sync shadow_sync;
	uint32_t shadow_roots;    /* previous-root cache size (KVM: 3) */
	uint64_t shadow_cap;      /* max shadow pages; 0 = guest pages / 50 */
	bool shadow_prefetch;     /* prefetch neighbouring sptes (KVM: 8) */
	uint32_t prefetch_num;
	uint32_t flood_threshold; /* writes without use before unshadow (KVM: 3) */
	/* nested */
	bool ept_ad;              /* EPTP bit 6: EPT accessed/dirty flags */
	bool pwc;                 /* 2D page-walk cache (only when walk_caches) */
	bool ntlb;                /* nested TLB (only when walk_caches) */
	uint32_t pwc_entries;
	uint32_t ntlb_entries;
	/* checking and output */
	bool audit;               /* run the mode's audit after every VM exit */
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

#endif

/*
 * cli.c - flag tables, value parsers and help shared by every subcommand.
 *
 * Two const tables describe every flag that run, compare and bench share:
 * machine_opts[] writes into struct vm_config, wl_opts[] into struct
 * wl_params. An entry names the flag, the kind of its value, the offset of
 * the field it sets and the accepted range; one parser and one printer
 * interpret every kind. Adding a knob is one line in a table (and one column
 * in csv.c).
 *
 * Sections: types, value parsers, the tables, table-driven parsing, help.
 */
#include "cli.h"
#include "../core/cache.h"
#include "../core/machine.h"

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../core/bounds.h"
#include "cli-values.h"

/* ---- types ---- */

enum opt_kind {
	K_SIZE,	   /* uint64_t bytes, "4G" */
	K_U64,	   /* uint64_t */
	K_U32,	   /* uint32_t */
	K_BOOL,	   /* bool, on|off */
	K_FLAG,	   /* bool, set by the bare flag (or --flag=on|off) */
	K_LEVELS,  /* int, 4 or 5 */
	K_PAGE,	   /* enum page_size, limited to 'pages' */
	K_GEOM,	   /* struct tlb_geom */
	K_TLB,	   /* struct tlb_geom at off (L1 data) and at off2 (L2) */
	K_NUMA,	   /* enum numa_policy at off, int node at off2 */
	K_SYNC,	   /* enum shadow_sync */
	K_PCIDS,   /* enum pcid_policy */
	K_VIOMMU,  /* enum viommu_mode */
	K_PTPLACE, /* enum pt_place */
	K_PSC,	   /* uint32_t psc_entries[MAX_LEVELS + 1], levels 2..5 */
	K_MACHINE, /* a machine profile's name: applies the profile (machine.c) */
	K_CACHE,   /* struct cache_geom[3]: L1D:L2:LLC */
	K_COST,	   /* NAME=CYCLES[,NAME=CYCLES...] into struct cost_model */
};

struct opt {
	const char *name;    /* with its dashes: "--guest-mem" */
	const char *metavar; /* what help shows after the name; NULL for K_FLAG */
	enum opt_kind kind;
	size_t off, off2;  /* field offsets in the target struct */
	uint64_t min, max; /* K_SIZE, K_U64, K_U32 */
	uint64_t align;	   /* K_SIZE: the value must be a multiple of this (0 = any) */
	unsigned pages;	   /* K_PAGE: bit n allows enum page_size n */
	const char *zero;  /* what a value of 0 means, for help; NULL = plain 0 */
	const char *help;
	uint32_t prof; /* MACH_* field of a machine profile this flag overrides */
};

#define PGBIT(ps) (1u << (ps))

/* ---- the tables ---- */

#define VMC(f) offsetof(struct vm_config, f)
#define WLP(f) offsetof(struct wl_params, f)
#define U32MAX UINT64_C(0xffffffff)

/*
 * Entry makers, so that each table line reads as flag, value, field, help.
 * Numbers carry their accepted range; sizes also an alignment.
 */
#define SIZE_OPT(flag, field, lo, hi, al, z, h)                                                \
	{                                                                                      \
		.name = flag, .metavar = "SIZE", .kind = K_SIZE, .off = VMC(field), .min = lo, \
		.max = hi, .align = al, .zero = z, .help = h                                   \
	}
#define NUM_OPT(flag, kd, offset, lo, hi, z, h)                                                \
	{                                                                                      \
		.name = flag, .metavar = "N", .kind = kd, .off = offset, .min = lo, .max = hi, \
		.zero = z, .help = h                                                           \
	}
#define BOOL_OPT(flag, field, h)                                                                \
	{                                                                                       \
		.name = flag, .metavar = "on|off", .kind = K_BOOL, .off = VMC(field), .help = h \
	}
#define PAGE_OPT(flag, mv, field, allowed, h)                                                     \
	{                                                                                         \
		.name = flag, .metavar = mv, .kind = K_PAGE, .off = VMC(field), .pages = allowed, \
		.help = h                                                                         \
	}

static const struct opt machine_opts[] = {
    {.name = "--machine",
     .metavar = "NAME",
     .kind = K_MACHINE,
     .off = VMC(machine),
     .help = "machine profile: TLB, walk-cache and cache geometry and every cost "
	     "(`vmmu list machines`); the flags below override it in any order"},
    BOOL_OPT("--cache-model", cache_model,
	     "data and walk references through the L1D/L2/LLC model; off = every one an L1 hit"),
    {.name = "--cache",
     .metavar = "L1D:L2:LLC",
     .kind = K_CACHE,
     .off = VMC(cache),
     .prof = MACH_CACHE,
     .help = "cache geometry, SETSxWAYS each (64-byte lines)"},
    {.name = "--cost",
     .metavar = "NAME=CYCLES,...",
     .kind = K_COST,
     .off = VMC(cost),
     .help = "override cost fields of the profile (names: `vmmu list machines`)"},
    SIZE_OPT("--guest-mem", guest_mem, UINT64_C(16) << 20, UINT64_C(1) << 40, UINT64_C(2) << 20,
	     NULL, "guest-physical memory, a multiple of 2M"),
    SIZE_OPT("--host-mem", host_mem, 0, UINT64_C(1) << 41, PAGE_SIZE, "derived from --guest-mem",
	     "host memory"),
    {.name = "--levels",
     .metavar = "4|5",
     .kind = K_LEVELS,
     .off = VMC(levels),
     .help = "guest paging levels (5 = LA57)"},
    PAGE_OPT("--guest-page", "4k|2m", guest_page, PGBIT(PG_4K) | PGBIT(PG_2M),
	     "guest page size of workload data"),
    PAGE_OPT("--host-page", "4k|2m|1g", host_page, PGBIT(PG_4K) | PGBIT(PG_2M) | PGBIT(PG_1G),
	     "p2m and EPT leaf page size"),
    PAGE_OPT("--direct-map", "2m|1g", direct_map_page, PGBIT(PG_2M) | PGBIT(PG_1G),
	     "page size of the guest kernel's direct map"),
    BOOL_OPT("--walk-caches", walk_caches,
	     "paging-structure caches; in nested mode also the PWC and nested TLB"),
    BOOL_OPT("--vpid", vpid, "VPID-tagged TLB entries; off = TLB flush at every VM exit and entry"),
    BOOL_OPT("--vmcs-shadow", vmcs_shadow,
	     "nept, shadow-on-ept, shadow-on-shadow: VMCS shadowing; on = L1's VMREADs of the "
	     "exit fields do not exit to L0"),
    BOOL_OPT("--pcid", pcid, "guest uses PCIDs and the CR3 no-flush bit"),
    {.name = "--pcid-policy",
     .metavar = "linux|per-process",
     .kind = K_PCIDS,
     .off = VMC(pcid_policy),
     .help = "guest PCIDs: Linux's 6 dynamic ASIDs per CPU, or one per process"},
    BOOL_OPT("--kpti", kpti,
	     "guest kernel page-table isolation: CR3 writes at every kernel entry and exit"),
    BOOL_OPT("--wp", cr0_wp, "guest sets CR0.WP: supervisor writes honour read-only pages"),
    BOOL_OPT("--smep", cr4_smep, "guest sets CR4.SMEP: no supervisor fetch from user pages"),
    BOOL_OPT("--smap", cr4_smap,
	     "guest sets CR4.SMAP: no supervisor data access to user pages unless EFLAGS.AC"),
    BOOL_OPT("--nxe", efer_nxe, "guest sets EFER.NXE: bit 63 is execute-disable (off: reserved)"),
    BOOL_OPT("--pke", cr4_pke,
	     "guest sets CR4.PKE: protection keys (PKRU) on user pages (native, nested; default off)"),
    NUM_OPT("--invlpg-threshold", K_U32, VMC(invlpg_threshold), 0, U32MAX, NULL,
	    "munmap of more pages than this flushes the PCID instead of INVLPG"),
    {.name = "--tlb",
     .metavar = "L1:L2",
     .kind = K_TLB,
     .off = VMC(l1d),
     .off2 = VMC(l2),
     .prof = MACH_TLB,
     .help = "L1 4K data TLB and unified L2 TLB, SETSxWAYS each (every TLB: SETS <= 4096, "
	     "WAYS <= 1024, <= 65536 entries: 21x Zen 4's 3072-entry L2 DTLB)"},
    {.name = "--tlb-large",
     .metavar = "SETSxWAYS",
     .kind = K_GEOM,
     .off = VMC(l1d_large),
     .prof = MACH_TLB_LARGE,
     .help = "L1 data TLB for 2M and 1G pages"},
    {.name = "--itlb",
     .metavar = "SETSxWAYS",
     .kind = K_GEOM,
     .off = VMC(l1i),
     .prof = MACH_ITLB,
     .help = "L1 instruction TLB, 4K pages"},
    {.name = "--psc",
     .metavar = "PDE:PDPTE:PML4E:PML5E",
     .kind = K_PSC,
     .off = VMC(psc_entries),
     .prof = MACH_PSC,
     .help = "paging-structure cache entries per level (<= 4096: 128x Intel's 32)"},
    {.name = "--numa",
     .metavar = "local|interleave|node:N",
     .kind = K_NUMA,
     .off = VMC(numa),
     .off2 = VMC(numa_node),
     .help = "NUMA placement of host memory"},
    {.name = "--shadow-sync",
     .metavar = "eager|unsync",
     .kind = K_SYNC,
     .off = VMC(shadow_sync),
     .help =
	 "shadow: let leaf tables go unsync until the guest flushes (KVM), or keep them in sync"},
    NUM_OPT("--shadow-roots", K_U32, VMC(shadow_roots), 0, BOUND_SHADOW_ROOTS, NULL,
	    "shadow, agile: size of the previous-root cache"),
    NUM_OPT("--shadow-cap", K_U64, VMC(shadow_cap), 0, UINT64_MAX, "guest pages / 50",
	    "shadow, agile: most shadow pages before eviction (at most guest pages)"),
    BOOL_OPT("--prefetch", shadow_prefetch,
	     "shadow, agile: prefetch neighbouring sptes on a hidden fault"),
    NUM_OPT("--prefetch-num", K_U32, VMC(prefetch_num), 0, 512, NULL,
	    "shadow, agile: sptes examined per prefetch"),
    NUM_OPT("--flood-threshold", K_U32, VMC(flood_threshold), 0, U32MAX, NULL,
	    "shadow: writes without use before a guest table is unshadowed"),
    {.name = "--ept-levels",
     .metavar = "4|5",
     .kind = K_LEVELS,
     .off = VMC(ept_levels),
     .help = "nested: EPT walk length (KVM: 4 unless the guest's MAXPHYADDR exceeds 48)"},
    BOOL_OPT("--ept-ad", ept_ad, "nested: EPT accessed and dirty flags"),
    BOOL_OPT("--pv-batch", pv_batch,
	     "pv: batch page-table updates in lazy-MMU mode (one multicall per batch)"),
    BOOL_OPT("--pwc", pwc, "nested: 2D page-walk cache (with --walk-caches on)"),
    {.name = "--pwc-entries",
     .metavar = "N",
     .kind = K_U32,
     .off = VMC(pwc_entries),
     .max = BOUND_PWC_ENTRIES,
     .prof = MACH_PWC,
     .help = "nested: 2D page-walk cache entries (<= 4096: 64x a real 64-entry PWC)"},
    BOOL_OPT("--ntlb", ntlb, "nested: nested TLB (with --walk-caches on)"),
    {.name = "--ntlb-entries",
     .metavar = "N",
     .kind = K_U32,
     .off = VMC(ntlb_entries),
     .max = BOUND_NTLB_ENTRIES,
     .prof = MACH_NTLB,
     .help = "nested: nested TLB entries (<= 4096: 64x a real 64-entry nTLB)"},
    NUM_OPT("--switch-interval", K_U64, VMC(switch_interval), 1, UINT64_MAX, NULL,
	    "switching: accesses between two choices of shadow or nested paging"),
    NUM_OPT("--switch-ratio", K_U32, VMC(switch_ratio), 1, U32MAX, NULL,
	    "switching: TLB misses per guest fault above which shadow paging is chosen"),
    NUM_OPT("--agile-writes", K_U32, VMC(agile_writes), 0, U32MAX, NULL,
	    "agile: trapped stores that move a guest table to nested mode (0: never)"),
    NUM_OPT("--agile-interval", K_U64, VMC(agile_interval), 0, UINT64_MAX, NULL,
	    "agile: accesses between scans that return quiet tables to shadow mode (0: never)"),
    {.name = "--viommu",
     .metavar = "off|on|shadow",
     .kind = K_VIOMMU,
     .off = VMC(viommu),
     .help = "dma: a virtual IOMMU the guest programs; on: two-stage hardware walk, shadow: "
	     "the VMM syncs a shadow table on the guest's invalidations"},
    BOOL_OPT("--iommu-share-ept", iommu_share_ept,
	     "dma, nested: the IOMMU's second-level table is the EPT itself"),
    NUM_OPT("--iotlb-entries", K_U32, VMC(iotlb_entries), 1, 4096, NULL,
	    "dma: IOTLB entries, fully associative"),
    NUM_OPT("--vcpus", K_U32, VMC(vcpus), 1, VMMU_MAX_VCPUS, NULL,
	    "vCPUs of the guest (1..64); threaded workloads run one thread on each"),
    NUM_OPT("--quantum", K_U32, VMC(quantum), 1, U32MAX, NULL,
	    "user accesses a thread makes before the next vCPU runs (round robin)"),
    BOOL_OPT("--posted-ipi", posted_ipi,
	     "shadow/nested: posted interrupts and IPI virtualization: IPIs do not exit"),
    BOOL_OPT("--pv-tlb-flush", pv_tlb_flush,
	     "shadow/nested: KVM's paravirtual TLB flush: a preempted vCPU is flushed at its "
	     "next entry instead of being sent an IPI"),
    NUM_OPT("--host-cpus", K_U32, VMC(host_cpus), 0, VMMU_MAX_VCPUS, "one per vCPU",
	    "host CPUs the vCPUs share (vCPU i on CPU i mod N); a vCPU that is not the last "
	    "to run on its CPU is preempted"),
    NUM_OPT("--host-nodes", K_U32, VMC(host_nodes), 1, 8, NULL,
	    "simulated NUMA nodes (vCPU i on node i mod N); walk references to a table "
	    "on another node are remote"),
    {.name = "--pt-place",
     .metavar = "first-touch|interleave|remote|replicate",
     .kind = K_PTPLACE,
     .off = VMC(pt_place),
     .help = "with --host-nodes: where guest tables, shadow pages and EPT tables live"},
    {.name = "--audit",
     .kind = K_FLAG,
     .off = VMC(audit),
     .help = "run the mode's audit after every VM exit (shadow: the entries it touched), "
	     "and in full at the end"},
    {.name = "--whole-run",
     .kind = K_FLAG,
     .off = VMC(whole_run),
     .help = "measure the whole run, set-up and checks included, not the workload's "
	     "region of interest"},
};

static const struct opt wl_opts[] = {
    NUM_OPT("--seed", K_U64, WLP(seed), 0, UINT64_MAX, NULL, "workload random seed"),
    NUM_OPT("--pages", K_U64, WLP(pages), 0, UINT64_C(1) << 28, "the workload's",
	    "working set, 4 KiB pages"),
    NUM_OPT("--ops", K_U64, WLP(ops), 0, UINT64_MAX, "the workload's", "operations"),
    NUM_OPT("--procs", K_U32, WLP(procs), 0, 65536, "the workload's",
	    "processes (ctxswitch, fork, procs)"),
    NUM_OPT("--switch-every", K_U32, WLP(switch_every), 0, U32MAX, "the workload's",
	    "ctxswitch: accesses between context switches"),
};

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- table-driven parsing ---- */

static int parse_number(const struct opt *o, const char *v, uint64_t *out, char *msg, size_t len)
{
	uint64_t n;

	if (o->kind == K_SIZE) {
		if (cli_parse_size(v, &n, msg, len) < 0)
			return -1;
	} else if (cli_parse_u64(v, &n, msg, len) < 0) {
		return -1;
	}
	if (n < o->min || n > o->max) {
		char lo[32], hi[32];
		if (o->kind == K_SIZE) {
			cli_fmt_size(o->min, lo, sizeof(lo));
			cli_fmt_size(o->max, hi, sizeof(hi));
			snprintf(msg, len, "expected a size from %s to %s, got '%s'", lo, hi, v);
		} else {
			snprintf(msg, len,
				 "expected an integer from %" PRIu64 " to %" PRIu64 ", got '%s'",
				 o->min, o->max, v);
		}
		return -1;
	}
	if (o->kind == K_SIZE && o->align && n % o->align != 0) {
		char a[32];
		cli_fmt_size(o->align, a, sizeof(a));
		snprintf(msg, len, "expected a multiple of %s, got '%s'", a, v);
		return -1;
	}
	*out = n;
	return 0;
}

/* Parse v into the field(s) that o describes in *base. Returns 0, or -1 with
 * err = "<flag>: <what was expected>, got '<v>'". Nothing is written on error. */
static int opt_apply(const struct opt *o, void *base, const char *v, char *err, size_t errlen)
{
	char *f = (char *)base + o->off;
	char msg[192];
	int rc = 0;

	switch (o->kind) {
	case K_SIZE:
	case K_U64:
	case K_U32: {
		uint64_t n;
		rc = parse_number(o, v, &n, msg, sizeof(msg));
		if (rc == 0 && o->kind == K_U32)
			*(uint32_t *)(void *)f = (uint32_t)n;
		else if (rc == 0)
			*(uint64_t *)(void *)f = n;
		break;
	}
	case K_BOOL:
	case K_FLAG:
		rc = cli_parse_onoff(v, (bool *)(void *)f, msg, sizeof(msg));
		break;
	case K_LEVELS:
		if (strcmp(v, "4") == 0 || strcmp(v, "5") == 0) {
			*(int *)(void *)f = v[0] - '0';
		} else {
			snprintf(msg, sizeof(msg), "expected 4 or 5, got '%s'", v);
			rc = -1;
		}
		break;
	case K_PAGE:
		rc = cli_parse_page(v, o->pages, (enum page_size *)(void *)f, msg, sizeof(msg));
		break;
	case K_GEOM:
		rc = cli_parse_geom(v, (struct tlb_geom *)(void *)f, msg, sizeof(msg));
		break;
	case K_TLB:
		rc = cli_value_tlb_pair(v, (struct tlb_geom *)(void *)f,
					(struct tlb_geom *)(void *)((char *)base + o->off2), msg,
					sizeof(msg));
		break;
	case K_NUMA:
		rc = cli_value_numa(v, (enum numa_policy *)(void *)f,
				    (int *)(void *)((char *)base + o->off2), msg, sizeof(msg));
		break;
	case K_SYNC:
		if (strcmp(v, "eager") == 0) {
			*(enum shadow_sync *)(void *)f = SYNC_EAGER;
		} else if (strcmp(v, "unsync") == 0) {
			*(enum shadow_sync *)(void *)f = SYNC_UNSYNC;
		} else {
			snprintf(msg, sizeof(msg), "expected eager or unsync, got '%s'", v);
			rc = -1;
		}
		break;
	case K_PSC:
		rc = cli_value_psc(v, (uint32_t *)(void *)f, msg, sizeof(msg));
		break;
	case K_VIOMMU:
		if (strcmp(v, "off") == 0) {
			*(enum viommu_mode *)(void *)f = VIOMMU_OFF;
		} else if (strcmp(v, "on") == 0) {
			*(enum viommu_mode *)(void *)f = VIOMMU_NESTED;
		} else if (strcmp(v, "shadow") == 0) {
			*(enum viommu_mode *)(void *)f = VIOMMU_SHADOW;
		} else {
			snprintf(msg, sizeof(msg), "expected off, on or shadow, got '%s'", v);
			rc = -1;
		}
		break;
	case K_PCIDS:
		if (strcmp(v, "linux") == 0) {
			*(enum pcid_policy *)(void *)f = PCID_LINUX;
		} else if (strcmp(v, "per-process") == 0) {
			*(enum pcid_policy *)(void *)f = PCID_PER_PROCESS;
		} else {
			snprintf(msg, sizeof(msg), "expected linux or per-process, got '%s'", v);
			rc = -1;
		}
		break;
	case K_PTPLACE: {
		int k = 0;
		while (k < 4 && strcmp(v, config_pt_place_name((enum pt_place)k)) != 0)
			k++;
		if (k < 4) {
			*(enum pt_place *)(void *)f = (enum pt_place)k;
		} else {
			snprintf(msg, sizeof(msg),
				 "expected first-touch, interleave, remote or replicate, got '%s'", v);
			rc = -1;
		}
		break;
	}
	case K_MACHINE:
		rc = cli_value_machine(v, base, msg, sizeof(msg));
		break;
	case K_CACHE:
		rc = cli_value_cache(v, (struct cache_geom *)(void *)f, msg, sizeof(msg));
		break;
	case K_COST:
		rc = cli_value_cost(v, base, msg, sizeof(msg));
		break;
	}
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", o->name, msg);
	else if (o->prof)
		((struct vm_config *)base)->overridden |= o->prof; /* only machine_opts set prof */
	return rc;
}

bool cli_is_help(const char *s)
{
	return strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0;
}

int cli_take_value(const char *name, int argc, char **argv, int *i, const char **value, char *err,
		   size_t errlen)
{
	const char *a = argv[*i];
	size_t n = strlen(name);

	if (strncmp(a, name, n) != 0)
		return CLI_NOMATCH;
	if (a[n] == '=') {
		*value = a + n + 1;
		*i += 1;
		return CLI_MATCHED;
	}
	/* A short flag takes its value attached too: "-j4". */
	if (a[n] != '\0' && !(n == 2 && name[0] == '-' && name[1] != '-'))
		return CLI_NOMATCH;
	if (a[n] != '\0') {
		*value = a + n;
		*i += 1;
		return CLI_MATCHED;
	}
	if (*i + 1 >= argc || (argv[*i + 1][0] == '-' && argv[*i + 1][1] == '-')) {
		snprintf(err, errlen, "%s: missing value", name);
		return CLI_ERR;
	}
	*value = argv[*i + 1];
	*i += 2;
	return CLI_MATCHED;
}

static int parse_table(const struct opt *tab, size_t n, void *base, int argc, char **argv, int *i,
		       char *err, size_t errlen)
{
	const char *a = argv[*i];

	for (size_t k = 0; k < n; k++) {
		const struct opt *o = &tab[k];
		const char *v;
		int rc;

		if (o->kind == K_FLAG && strcmp(a, o->name) == 0) {
			*(bool *)(void *)((char *)base + o->off) = true;
			*i += 1;
			return CLI_MATCHED;
		}
		rc = cli_take_value(o->name, argc, argv, i, &v, err, errlen);
		if (rc == CLI_NOMATCH)
			continue;
		if (rc == CLI_ERR) {
			size_t used = strlen(err);
			snprintf(err + used, errlen - used, " (expected %s)", o->metavar);
			return CLI_ERR;
		}
		if (opt_apply(o, base, v, err, errlen) < 0)
			return CLI_ERR;
		return CLI_MATCHED;
	}
	return CLI_NOMATCH;
}

int cli_parse_machine(struct vm_config *c, int argc, char **argv, int *i, char *err, size_t errlen)
{
	return parse_table(machine_opts, NELEMS(machine_opts), c, argc, argv, i, err, errlen);
}

int cli_parse_wl(struct wl_params *p, int argc, char **argv, int *i, char *err, size_t errlen)
{
	return parse_table(wl_opts, NELEMS(wl_opts), p, argc, argv, i, err, errlen);
}

static const struct opt *find_opt(const struct opt *tab, size_t n, const char *name)
{
	if (name[0] == '-' && name[1] == '-')
		name += 2;
	for (size_t k = 0; k < n; k++)
		if (strcmp(tab[k].name + 2, name) == 0)
			return &tab[k];
	return NULL;
}

int cli_set(struct vm_config *c, struct wl_params *p, const char *name, const char *value,
	    char *err, size_t errlen)
{
	const struct opt *o = find_opt(machine_opts, NELEMS(machine_opts), name);

	if (o != NULL)
		return opt_apply(o, c, value, err, errlen);
	o = find_opt(wl_opts, NELEMS(wl_opts), name);
	if (o != NULL)
		return opt_apply(o, p, value, err, errlen);
	snprintf(err, errlen, "unknown parameter '%s'", name);
	return -1;
}

/* ---- help ---- */

/* The current value of o's field(s), spelled as the flag takes it. Kept out
 * of line: inlined into a loop over one table, it lets the optimizer follow
 * kinds that table never holds into fields its struct does not have. */
__attribute__((noinline)) static void opt_show(const struct opt *o, const void *base, bool raw,
					       char *buf, size_t len)
{
	const char *f = (const char *)base + o->off;

	switch (o->kind) {
	case K_SIZE:
	case K_U64:
	case K_U32: {
		uint64_t v = o->kind == K_U32 ? *(const uint32_t *)(const void *)f
					      : *(const uint64_t *)(const void *)f;
		if (v == 0 && o->zero != NULL && !raw)
			snprintf(buf, len, "%s", o->zero);
		else if (o->kind == K_SIZE && !raw)
			cli_fmt_size(v, buf, len);
		else
			snprintf(buf, len, "%" PRIu64, v);
		break;
	}
	case K_BOOL:
	case K_FLAG:
		snprintf(buf, len, "%s", *(const bool *)(const void *)f ? "on" : "off");
		break;
	case K_LEVELS:
		snprintf(buf, len, "%d", *(const int *)(const void *)f);
		break;
	case K_PAGE:
		snprintf(buf, len, "%s",
			 config_page_name(*(const enum page_size *)(const void *)f));
		break;
	case K_GEOM: {
		const struct tlb_geom *g = (const void *)f;
		snprintf(buf, len, "%" PRIu32 "x%" PRIu32, g->sets, g->ways);
		break;
	}
	case K_TLB: {
		const struct tlb_geom *a = (const void *)f;
		const struct tlb_geom *b = (const void *)((const char *)base + o->off2);
		snprintf(buf, len, "%" PRIu32 "x%" PRIu32 ":%" PRIu32 "x%" PRIu32, a->sets, a->ways,
			 b->sets, b->ways);
		break;
	}
	case K_NUMA:
		config_numa_format(*(const enum numa_policy *)(const void *)f,
				   *(const int *)(const void *)((const char *)base + o->off2), buf,
				   len);
		break;
	case K_SYNC:
		snprintf(buf, len, "%s",
			 config_sync_name(*(const enum shadow_sync *)(const void *)f));
		break;
	case K_PCIDS:
		snprintf(buf, len, "%s",
			 config_pcid_policy_name(*(const enum pcid_policy *)(const void *)f));
		break;
	case K_VIOMMU:
		snprintf(buf, len, "%s",
			 config_viommu_name(*(const enum viommu_mode *)(const void *)f));
		break;
	case K_PTPLACE:
		snprintf(buf, len, "%s", config_pt_place_name(*(const enum pt_place *)(const void *)f));
		break;
	case K_PSC: {
		const uint32_t *e = (const void *)f;
		snprintf(buf, len, "%" PRIu32 ":%" PRIu32 ":%" PRIu32 ":%" PRIu32,
			 e[cli_psc_levels[0]], e[cli_psc_levels[1]], e[cli_psc_levels[2]],
			 e[cli_psc_levels[3]]);
		break;
	}
	case K_MACHINE:
		snprintf(buf, len, "%s", *(const char *const *)(const void *)f);
		break;
	case K_CACHE: {
		const struct cache_geom *g = (const void *)f;
		snprintf(buf, len,
			 "%" PRIu32 "x%" PRIu32 ":%" PRIu32 "x%" PRIu32 ":%" PRIu32 "x%" PRIu32,
			 g[0].sets, g[0].ways, g[1].sets, g[1].ways, g[2].sets, g[2].ways);
		break;
	}
	case K_COST: {
		/* Help: where the values come from. Raw (a command line that
		 * reproduces the run): every field. */
		const struct cost_model *cm = (const void *)f;
		size_t n, used = 0;
		const struct cost_field *cf = cost_fields(&n);

		if (!raw) {
			snprintf(buf, len, "the machine's");
			break;
		}
		buf[0] = '\0';
		for (size_t k = 0; k < n && used < len; k++)
			used += (size_t)snprintf(
			    buf + used, len - used, "%s%s=%" PRIu32, k ? "," : "", cf[k].name,
			    *(const uint32_t *)(const void *)((const char *)cm + cf[k].off));
		break;
	}
	}
}

static void each_flag(const struct opt *tab, size_t n, const void *base,
		      void (*fn)(const char *name, const char *value, void *ctx), void *ctx)
{
	for (size_t k = 0; k < n; k++) {
		/* Room for every cost field (NAME=CYCLES, up to 32 bytes each):
		 * a value cut short here would give an emitted job other costs
		 * than the run it reproduces. */
		char v[4096];

		opt_show(&tab[k], base, true, v, sizeof(v));
		if (strlen(v) + 1 >= sizeof(v)) {
			fprintf(stderr, "vmmu: internal error: the value of %s does not fit %zu bytes\n",
				tab[k].name, sizeof(v));
			abort();
		}
		fn(tab[k].name, v, ctx);
	}
}

void cli_each_flag(const struct vm_config *c, const struct wl_params *p,
		   void (*fn)(const char *name, const char *value, void *ctx), void *ctx)
{
	each_flag(wl_opts, NELEMS(wl_opts), p, fn, ctx);
	each_flag(machine_opts, NELEMS(machine_opts), c, fn, ctx);
}

static void help_table(FILE *f, const struct opt *tab, size_t n, const void *defaults)
{
	for (size_t k = 0; k < n; k++) {
		const struct opt *o = &tab[k];
		char left[64], def[64];

		snprintf(left, sizeof(left), "%s%s%s", o->name, o->metavar ? " " : "",
			 o->metavar ? o->metavar : "");
		opt_show(o, defaults, false, def, sizeof(def));
		if (o->kind == K_FLAG)
			fprintf(f, "  %-32s %s\n", left, o->help);
		else
			fprintf(f, "  %-32s %s (default: %s)\n", left, o->help, def);
	}
}

void cli_help_machine(FILE *f)
{
	struct vm_config c;

	config_defaults(&c);
	fprintf(
	    f, "Machine flags (SIZE: bytes with optional K/M/G/T suffix; SETSxWAYS: e.g. 16x4):\n");
	help_table(f, machine_opts, NELEMS(machine_opts), &c);
}

void cli_help_wl(FILE *f)
{
	struct wl_params p = {.seed = CLI_DEFAULT_SEED};

	fprintf(f, "Workload flags (defaults per workload: see `vmmu list`):\n");
	help_table(f, wl_opts, NELEMS(wl_opts), &p);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("vmmu: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int cli_reject_arg(const char *cmd, int rc, const char *a, const char *err)
{
	if (rc == CLI_ERR)
		cli_error("%s", err);
	else
		cli_error("%s: %s '%s' (see `vmmu %s --help`)", cmd,
			  a[0] == '-' ? "unknown flag" : "unexpected argument", a, cmd);
	return CLI_EXIT_USAGE;
}

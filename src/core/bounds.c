/*
 * bounds.c - size bounds of a simulated machine, and the memory budget of
 * its bookkeeping (see bounds.h for the figures and their sources).
 */
#include "bounds.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "types.h"

static bool geom_ok(const struct tlb_geom *g)
{
	uint64_t n = (uint64_t)g->sets * g->ways;

	return g->sets != 0 && g->ways != 0 && g->sets <= BOUND_TLB_SETS &&
	       (g->sets & (g->sets - 1)) == 0 && g->ways <= BOUND_TLB_WAYS &&
	       n <= BOUND_TLB_ENTRIES;
}

int config_check_bounds(const struct vm_config *c, char *err, size_t errlen)
{
	const struct {
		const struct tlb_geom *g;
		const char *flag;
	} tlbs[] = {{&c->l1d, "--tlb (L1)"},
		    {&c->l2, "--tlb (L2)"},
		    {&c->l1d_large, "--tlb-large"},
		    {&c->l1i, "--itlb"}};
	uint64_t gpages = c->guest_mem >> PAGE_SHIFT;

	for (size_t k = 0; k < sizeof(tlbs) / sizeof(tlbs[0]); k++) {
		if (!geom_ok(tlbs[k].g)) {
			snprintf(err, errlen,
				 "%s: %" PRIu32 "x%" PRIu32 " is out of bounds (SETS a power of "
				 "two <= %u, WAYS <= %u, at most %u entries)",
				 tlbs[k].flag, tlbs[k].g->sets, tlbs[k].g->ways, BOUND_TLB_SETS,
				 BOUND_TLB_WAYS, BOUND_TLB_ENTRIES);
			return -1;
		}
	}
	for (int l = 0; l <= MAX_LEVELS; l++) {
		if (c->psc_entries[l] > BOUND_PSC_ENTRIES) {
			snprintf(err, errlen,
				 "--psc: %" PRIu32 " entries is more than %u per level",
				 c->psc_entries[l], BOUND_PSC_ENTRIES);
			return -1;
		}
	}
	if (c->pwc_entries > BOUND_PWC_ENTRIES) {
		snprintf(err, errlen, "--pwc-entries: %" PRIu32 " is more than %u", c->pwc_entries,
			 BOUND_PWC_ENTRIES);
		return -1;
	}
	if (c->ntlb_entries > BOUND_NTLB_ENTRIES) {
		snprintf(err, errlen, "--ntlb-entries: %" PRIu32 " is more than %u",
			 c->ntlb_entries, BOUND_NTLB_ENTRIES);
		return -1;
	}
	if (c->shadow_roots > BOUND_SHADOW_ROOTS) {
		snprintf(err, errlen, "--shadow-roots: %" PRIu32 " is more than %u",
			 c->shadow_roots, BOUND_SHADOW_ROOTS);
		return -1;
	}
	if (c->shadow_cap > gpages) {
		snprintf(err, errlen,
			 "--shadow-cap: %" PRIu64 " is more than one shadow page per guest page "
			 "(%" PRIu64 " with this --guest-mem)",
			 c->shadow_cap, gpages);
		return -1;
	}
	return 0;
}

uint64_t budget_per_frame(void)
{
	return sizeof(uint64_t)			    /* p2m: gfn -> hfn (core/vm.c) */
	       + sizeof(uint32_t) + sizeof(uint8_t) /* guest frame refcount and kind */
	       + sizeof(uint32_t);		    /* shadow rmap head (shadow/spt.c) */
}

uint64_t budget_available(void)
{
	uint64_t avail = UINT64_MAX;
	struct rlimit rl;
	char line[256];
	FILE *f = fopen("/proc/meminfo", "r");

	if (f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			uint64_t kb;
			if (sscanf(line, "MemAvailable: %" SCNu64 " kB", &kb) == 1) {
				avail = kb * 1024;
				break;
			}
		}
		fclose(f);
	}
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (uint64_t)rl.rlim_cur < avail)
		avail = (uint64_t)rl.rlim_cur;
	return avail;
}

static void fmt_bytes(uint64_t b, char *buf, size_t len)
{
	if (b >= (UINT64_C(1) << 30))
		snprintf(buf, len, "%.1f GiB", (double)b / (double)(UINT64_C(1) << 30));
	else
		snprintf(buf, len, "%.1f MiB", (double)b / (double)(UINT64_C(1) << 20));
}

int config_check_budget(const struct vm_config *c, uint64_t avail, char *err, size_t errlen)
{
	uint64_t frames = c->guest_mem >> PAGE_SHIFT;
	uint64_t need = frames * budget_per_frame();
	char a[32], n[32], g[32];

	if (need <= avail)
		return 0;
	fmt_bytes(need, n, sizeof(n));
	fmt_bytes(avail, a, sizeof(a));
	fmt_bytes(c->guest_mem, g, sizeof(g));
	snprintf(err, errlen,
		 "a guest of %s needs %s of bookkeeping alone (%" PRIu64
		 " bytes per 4 KiB frame x %" PRIu64 " frames), more than the %s of memory "
		 "available",
		 g, n, budget_per_frame(), frames, a);
	return -1;
}

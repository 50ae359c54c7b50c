/*
 * values.c - the value parsers of the flag tables: numbers, sizes, on|off,
 * SETSxWAYS geometries, page sizes, NUMA policies, PSC sizes, machine
 * profiles, cache geometries and cost overrides. Each returns 0, or -1 with
 * a message that describes the expected form and quotes the bad text.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "cli-values.h"
#include "../core/bounds.h"
#include "../core/cache.h"
#include "../core/machine.h"

#define PGBIT(ps) (1u << (ps))

/* ---- value parsers ---- */

/* Parse a run of decimal digits at *s; advance *s. Returns -1 on overflow or
 * when there is no digit. */
static int parse_digits(const char **s, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*s = p;
	*out = v;
	return 0;
}

int cli_parse_u64(const char *s, uint64_t *out, char *err, size_t errlen)
{
	const char *p = s;
	uint64_t v = 0;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && p[2] != '\0') {
		for (p += 2; *p; p++) {
			int d;
			if (!isxdigit((unsigned char)*p) || v >> 60)
				goto bad;
			d = isdigit((unsigned char)*p) ? *p - '0'
						       : tolower((unsigned char)*p) - 'a' + 10;
			v = (v << 4) | (uint64_t)d;
		}
		*out = v;
		return 0;
	}
	if (parse_digits(&p, &v) < 0 || *p != '\0')
		goto bad;
	*out = v;
	return 0;
bad:
	snprintf(err, errlen, "expected a non-negative integer, got '%s'", s);
	return -1;
}

/* "1G", "512M", "65536": the largest suffix that divides exactly. */
void cli_fmt_size(uint64_t v, char *buf, size_t len)
{
	static const char suffix[] = "KMGT";

	for (int k = 4; k >= 1; k--) {
		unsigned shift = 10u * (unsigned)k;
		if (v != 0 && (v & ((UINT64_C(1) << shift) - 1)) == 0) {
			snprintf(buf, len, "%" PRIu64 "%c", v >> shift, suffix[k - 1]);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu64, v);
}

int cli_parse_size(const char *s, uint64_t *out, char *err, size_t errlen)
{
	const char *p = s;
	uint64_t v;
	unsigned shift = 0;

	if (parse_digits(&p, &v) < 0)
		goto bad;
	switch (tolower((unsigned char)*p)) {
	case '\0':
		break;
	case 'k':
		shift = 10;
		break;
	case 'm':
		shift = 20;
		break;
	case 'g':
		shift = 30;
		break;
	case 't':
		shift = 40;
		break;
	default:
		goto bad;
	}
	if (shift) {
		p++;
		if (tolower((unsigned char)p[0]) == 'i' && tolower((unsigned char)p[1]) == 'b')
			p += 2;
		else if (tolower((unsigned char)p[0]) == 'b')
			p++;
	}
	if (*p != '\0' || (shift && v > (UINT64_MAX >> shift)))
		goto bad;
	*out = v << shift;
	return 0;
bad:
	snprintf(err, errlen, "expected a size such as 4G, 512M or 65536 (bytes), got '%s'", s);
	return -1;
}

int cli_parse_onoff(const char *s, bool *out, char *err, size_t errlen)
{
	static const char *const on[] = {"on", "1", "yes", "true"};
	static const char *const off[] = {"off", "0", "no", "false"};

	for (size_t k = 0; k < sizeof(on) / sizeof(on[0]); k++) {
		if (strcasecmp(s, on[k]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, off[k]) == 0) {
			*out = false;
			return 0;
		}
	}
	snprintf(err, errlen, "expected on or off, got '%s'", s);
	return -1;
}

/* Limits of one TLB array: real parts times a generous factor, small enough
 * that a typo does not allocate gigabytes (core/bounds.h gives the figures). */
#define GEOM_MAX_SETS BOUND_TLB_SETS
#define GEOM_MAX_WAYS BOUND_TLB_WAYS

/* Parse "SETSxWAYS" from the front of s, stopping at 'stop' or the end. */
static int parse_geom_at(const char **s, char stop, struct tlb_geom *g)
{
	const char *p = *s;
	uint64_t sets, ways;

	if (parse_digits(&p, &sets) < 0 || (*p != 'x' && *p != 'X'))
		return -1;
	p++;
	if (parse_digits(&p, &ways) < 0 || (*p != stop && *p != '\0'))
		return -1;
	if (sets == 0 || sets > GEOM_MAX_SETS || (sets & (sets - 1)) != 0)
		return -1;
	if (ways == 0 || ways > GEOM_MAX_WAYS || sets * ways > BOUND_TLB_ENTRIES)
		return -1;
	g->sets = (uint32_t)sets;
	g->ways = (uint32_t)ways;
	*s = p;
	return 0;
}

int cli_parse_geom(const char *s, struct tlb_geom *out, char *err, size_t errlen)
{
	const char *p = s;
	struct tlb_geom g;

	if (parse_geom_at(&p, '\0', &g) < 0 || *p != '\0') {
		snprintf(err, errlen,
			 "expected SETSxWAYS with SETS a power of two up to %u, WAYS 1..%u "
			 "and at most %u entries (e.g. 16x4), got '%s'",
			 GEOM_MAX_SETS, GEOM_MAX_WAYS, BOUND_TLB_ENTRIES, s);
		return -1;
	}
	*out = g;
	return 0;
}

int cli_value_tlb_pair(const char *s, struct tlb_geom *l1, struct tlb_geom *l2, char *err,
		       size_t errlen)
{
	const char *p = s;
	struct tlb_geom a, b;

	if (parse_geom_at(&p, ':', &a) < 0 || *p != ':')
		goto bad;
	p++;
	if (parse_geom_at(&p, '\0', &b) < 0 || *p != '\0')
		goto bad;
	*l1 = a;
	*l2 = b;
	return 0;
bad:
	snprintf(err, errlen,
		 "expected L1:L2 as SETSxWAYS:SETSxWAYS with SETS a power of two up to %u, "
		 "WAYS 1..%u and at most %u entries each (e.g. 16x4:128x12), got '%s'",
		 GEOM_MAX_SETS, GEOM_MAX_WAYS, BOUND_TLB_ENTRIES, s);
	return -1;
}

static const char *const page_names[PG_NR] = {"4k", "2m", "1g"};

/* "4k or 2m", "4k, 2m or 1g" for the allowed set. */
static void page_choices(unsigned allowed, char *buf, size_t len)
{
	unsigned n = 0, total = 0;

	for (unsigned k = 0; k < PG_NR; k++)
		total += (allowed >> k) & 1u;
	buf[0] = '\0';
	for (unsigned k = 0; k < PG_NR; k++) {
		if (!(allowed & PGBIT(k)))
			continue;
		size_t used = strlen(buf);
		const char *sep = n == 0 ? "" : (n + 1 == total ? " or " : ", ");
		snprintf(buf + used, len - used, "%s%s", sep, page_names[k]);
		n++;
	}
}

int cli_parse_page(const char *s, unsigned allowed, enum page_size *out, char *err, size_t errlen)
{
	char choices[32];

	for (unsigned k = 0; k < PG_NR; k++) {
		if (!(allowed & PGBIT(k)))
			continue;
		/* "4k", "4K", "4kb", "4KiB" */
		size_t n = strlen(page_names[k]);
		if (strncasecmp(s, page_names[k], n) == 0 &&
		    (s[n] == '\0' || strcasecmp(s + n, "b") == 0 || strcasecmp(s + n, "ib") == 0)) {
			*out = (enum page_size)k;
			return 0;
		}
	}
	page_choices(allowed, choices, sizeof(choices));
	snprintf(err, errlen, "expected %s, got '%s'", choices, s);
	return -1;
}

int cli_value_numa(const char *s, enum numa_policy *pol, int *node, char *err, size_t errlen)
{
	if (strcmp(s, "local") == 0) {
		*pol = NUMA_LOCAL;
		*node = 0;
		return 0;
	}
	if (strcmp(s, "interleave") == 0) {
		*pol = NUMA_INTERLEAVE;
		*node = 0;
		return 0;
	}
	if (strncmp(s, "node:", 5) == 0) {
		const char *p = s + 5;
		uint64_t n;
		if (parse_digits(&p, &n) == 0 && *p == '\0' && n < 1024) {
			*pol = NUMA_NODE;
			*node = (int)n;
			return 0;
		}
	}
	snprintf(err, errlen, "expected local, interleave or node:N, got '%s'", s);
	return -1;
}

/* Paging-structure cache levels that --psc sets, in the order it takes them. */
const int cli_psc_levels[] = {LVL_PD, LVL_PDPT, LVL_PML4, LVL_PML5};
#define PSC_NLEVELS (sizeof(cli_psc_levels) / sizeof(cli_psc_levels[0]))
#define PSC_MAX_ENTRIES BOUND_PSC_ENTRIES

int cli_value_psc(const char *s, uint32_t *entries, char *err, size_t errlen)
{
	const char *p = s;
	uint32_t v[PSC_NLEVELS];

	for (size_t k = 0; k < PSC_NLEVELS; k++) {
		uint64_t n;
		if (parse_digits(&p, &n) < 0 || n > PSC_MAX_ENTRIES)
			goto bad;
		v[k] = (uint32_t)n;
		if (k + 1 < PSC_NLEVELS) {
			if (*p != ':')
				goto bad;
			p++;
		}
	}
	if (*p != '\0')
		goto bad;
	for (size_t k = 0; k < PSC_NLEVELS; k++)
		entries[cli_psc_levels[k]] = v[k];
	return 0;
bad:
	snprintf(
	    err, errlen,
	    "expected PDE:PDPTE:PML4E:PML5E entry counts, each 0..%u (e.g. 32:4:2:2), got '%s'",
	    PSC_MAX_ENTRIES, s);
	return -1;
}

int cli_value_machine(const char *s, struct vm_config *c, char *err, size_t errlen)
{
	const struct machine_profile *m = machine_find(s);

	if (m == NULL) {
		size_t n, used;
		const struct machine_profile *all = machine_profiles(&n);

		used = (size_t)snprintf(err, errlen, "unknown machine '%s'; expected one of", s);
		for (size_t k = 0; k < n && used < errlen; k++)
			used += (size_t)snprintf(err + used, errlen - used, "%s %s",
						 k == 0 ? "" : ",", all[k].name);
		return -1;
	}
	machine_apply(c, m);
	return 0;
}

/* "64x8:1024x16:2048x11", each level SETSxWAYS as the cache model takes it. */
int cli_value_cache(const char *s, struct cache_geom *g, char *err, size_t errlen)
{
	const char *p = s;
	struct cache_geom v[3];

	for (int l = 0; l < 3; l++) {
		struct tlb_geom t;
		if (parse_geom_at(&p, l < 2 ? ':' : '\0', &t) < 0 || t.ways > CACHE_MAX_WAYS ||
		    t.sets > CACHE_MAX_SETS)
			goto bad;
		v[l] = (struct cache_geom){t.sets, t.ways};
		if (l < 2) {
			if (*p != ':')
				goto bad;
			p++;
		}
	}
	if (*p != '\0')
		goto bad;
	memcpy(g, v, sizeof(v));
	return 0;
bad:
	snprintf(err, errlen,
		 "expected L1D:L2:LLC as SETSxWAYS each, SETS a power of two up to %u and WAYS "
		 "1..%u (e.g. 64x8:1024x16:2048x11), got '%s'",
		 CACHE_MAX_SETS, CACHE_MAX_WAYS, s);
	return -1;
}

/* "vmexit=2000,ref_dram=300": each named cost field set and marked. */
int cli_value_cost(const char *s, struct vm_config *c, char *err, size_t errlen)
{
	struct cost_model cm = c->cost;
	uint64_t mark = 0;
	const char *p = s;

	while (*p != '\0') {
		char name[32];
		size_t n = strcspn(p, "=,");
		uint64_t v;
		int k;

		if (p[n] != '=' || n == 0 || n >= sizeof(name))
			goto bad;
		memcpy(name, p, n);
		name[n] = '\0';
		k = cost_field_find(name);
		if (k < 0) {
			snprintf(
			    err, errlen,
			    "unknown cost '%s' (the fields are listed by `vmmu list machines`)",
			    name);
			return -1;
		}
		p += n + 1;
		if (parse_digits(&p, &v) < 0 || v > UINT32_MAX || (*p != ',' && *p != '\0'))
			goto bad;
		size_t nf;
		const struct cost_field *f = cost_fields(&nf);
		*(uint32_t *)(void *)((char *)&cm + f[k].off) = (uint32_t)v;
		mark |= UINT64_C(1) << k;
		if (*p == ',' && *++p == '\0')
			goto bad; /* a trailing comma */
	}
	c->cost = cm;
	c->cost_overridden |= mark;
	return 0;
bad:
	snprintf(err, errlen, "expected NAME=CYCLES[,NAME=CYCLES...] (e.g. vmexit=2000), got '%s'",
		 s);
	return -1;
}

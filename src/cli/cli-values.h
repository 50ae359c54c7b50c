/*
 * cli-values.h - the value parsers that only the flag tables use
 * (values.c); the public ones are in cli.h.
 */
#ifndef VMMU_CLI_VALUES_H
#define VMMU_CLI_VALUES_H

#include "../core/config.h"

/* The table levels --psc sets, in the order it takes them (PD, PDPT,
 * PML4, PML5). */
extern const int cli_psc_levels[4];

int cli_value_tlb_pair(const char *s, struct tlb_geom *l1, struct tlb_geom *l2, char *err,
		       size_t errlen);
int cli_value_numa(const char *s, enum numa_policy *pol, int *node, char *err, size_t errlen);
int cli_value_psc(const char *s, uint32_t *entries, char *err, size_t errlen);
int cli_value_machine(const char *s, struct vm_config *c, char *err, size_t errlen);
int cli_value_cache(const char *s, struct cache_geom *g, char *err, size_t errlen);
int cli_value_cost(const char *s, struct vm_config *c, char *err, size_t errlen);
/* A size as the flags take it: "4G", "512M", or plain bytes. */
void cli_fmt_size(uint64_t v, char *buf, size_t len);

#endif

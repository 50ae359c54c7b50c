/*
 * sdm_oracle.h - an independent model of x86-64 access rights, written from
 * the Intel SDM (Vol. 3A §4.6 access rights, §4.7 the page-fault error
 * code, §4.8 accessed and dirty flags) for the conformance suite
 * (tests/test_conformance.c). It never calls the walkers or the engine's
 * rights helpers: it is the reference they are compared against.
 *
 * Scope: one 4-level walk to a 4 KiB page. Each entry's P, R/W, U/S and XD
 * bits count, and the PTE's protection key (bits 62:59) under CR4.PKE;
 * every other bit is ignored except bit 63 under EFER.NXE = 0 (reserved).
 * Large pages, implicit supervisor accesses and other reserved bits are
 * outside it (docs/conformance.md).
 */
#ifndef VMMU_SDM_ORACLE_H
#define VMMU_SDM_ORACLE_H

#include <stdbool.h>
#include <stdint.h>

struct sdm_case {
	uint64_t entry[5]; /* entry[4] = PML4E, 3 = PDPTE, 2 = PDE, 1 = PTE */
	bool cr0_wp, cr4_smep, cr4_smap, eflags_ac, efer_nxe;
	bool cr4_pke;  /* protection keys: the PTE's key (bits 62:59) against pkru */
	uint32_t pkru; /* PKRU: AD of key i is bit 2i, WD bit 2i + 1 */
	bool cpl3;  /* the access is made at CPL 3 */
	int access; /* 0 data read, 1 data write, 2 instruction fetch */
};

struct sdm_outcome {
	bool fault;
	uint32_t error_code; /* #PF error code when fault */
	uint64_t ad_set[5];  /* A (bit 5) and D (bit 6) bits the access sets per entry */
};

void sdm_oracle(const struct sdm_case *c, struct sdm_outcome *o);

#endif

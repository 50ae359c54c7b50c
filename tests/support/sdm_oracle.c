/*
 * sdm_oracle.c - access rights, #PF error code and A/D setting of one
 * 4-level translation, from the Intel SDM alone (see sdm_oracle.h). Bit
 * positions are spelled out here rather than taken from the engine's
 * headers, so that a wrong definition there cannot hide.
 *
 * Accessed and dirty flags: a translation that completes sets A in every
 * entry it used and, for a write, D in the PTE (§4.8). A translation that
 * faults sets nothing: the SDM allows a processor to set A in entries it
 * used before a fault, but the rule the engine follows (and KVM's guest
 * walker, FNAME(walk_addr_generic), which checks rights before it touches
 * A/D) is to set none, and docs/conformance.md says so.
 */
#include "sdm_oracle.h"

#define BIT_P (UINT64_C(1) << 0)
#define BIT_RW (UINT64_C(1) << 1)
#define BIT_US (UINT64_C(1) << 2)
#define BIT_A (UINT64_C(1) << 5)
#define BIT_D (UINT64_C(1) << 6)
#define BIT_XD (UINT64_C(1) << 63)

/* §4.7, the error code. */
#define EC_P 0x01u    /* a protection or reserved-bit violation, not "not present" */
#define EC_WR 0x02u   /* the access was a write */
#define EC_US 0x04u   /* the access was made at CPL 3 */
#define EC_RSVD 0x08u /* a reserved bit was set in some entry */
#define EC_ID 0x10u   /* instruction fetch, reported only with NXE or SMEP */
#define EC_PK 0x20u   /* a protection-key violation */

void sdm_oracle(const struct sdm_case *c, struct sdm_outcome *o)
{
	const bool read = c->access == 0, write = c->access == 1, fetch = c->access == 2;
	uint32_t ec = 0;
	if (write)
		ec |= EC_WR;
	if (c->cpl3)
		ec |= EC_US;
	/* §4.7: I/D is 1 for a fetch when SMEP = 1, or when PAE paging or
	 * 4-level paging is in use with IA32_EFER.NXE = 1. */
	if (fetch && (c->cr4_smep || c->efer_nxe))
		ec |= EC_ID;
	for (int l = 1; l <= 4; l++)
		o->ad_set[l] = 0;
	o->ad_set[0] = 0;

	/* The walk, PML4E first: a not-present entry ends it (P = 0 in the
	 * error code); a present entry with a reserved bit ends it too (P = 1,
	 * RSVD = 1). With NXE = 0, bit 63 is reserved (§4.5, table 4-15 ff.). */
	bool all_rw = true, all_us = true, any_xd = false;
	for (int l = 4; l >= 1; l--) {
		uint64_t e = c->entry[l];
		if (!(e & BIT_P)) {
			o->fault = true;
			o->error_code = ec;
			return;
		}
		if (!c->efer_nxe && (e & BIT_XD)) {
			o->fault = true;
			o->error_code = ec | EC_P | EC_RSVD;
			return;
		}
		all_rw = all_rw && (e & BIT_RW);
		all_us = all_us && (e & BIT_US);
		any_xd = any_xd || (c->efer_nxe && (e & BIT_XD));
	}

	/* §4.6.1. A "user-mode address" has U/S = 1 in every entry; any other
	 * is a supervisor-mode address. */
	bool ok;
	if (c->cpl3) {
		/* User-mode accesses reach user-mode addresses only: reads
		 * always, writes with R/W = 1 everywhere, fetches with XD = 0
		 * everywhere (when NXE = 1). */
		if (!all_us)
			ok = false;
		else if (read)
			ok = true;
		else if (write)
			ok = all_rw;
		else
			ok = !any_xd;
	} else if (fetch) {
		/* Supervisor fetches: from a user-mode address never with SMEP;
		 * otherwise allowed unless XD = 1 somewhere (NXE = 1). */
		ok = !(all_us && c->cr4_smep) && !any_xd;
	} else {
		/* Supervisor data accesses (explicit, as all of the model's are).
		 * To a user-mode address with SMAP = 1 they need EFLAGS.AC = 1.
		 * Writes need R/W = 1 everywhere when CR0.WP = 1; with WP = 0 any
		 * address is writable. */
		if (all_us && c->cr4_smap && !c->eflags_ac)
			ok = false;
		else if (write)
			ok = !c->cr0_wp || all_rw;
		else
			ok = true;
	}
	/* §4.6.2 protection keys, and §4.7's definition of the PK bit: with
	 * CR4.PKE = 1, a data access (not a fetch) to a user-mode address with
	 * key i violates the key when PKRU.ADi = 1, or when it is a write,
	 * PKRU.WDi = 1, and the access is in user mode or CR0.WP = 1. The PK
	 * bit is set on such a fault whatever else denies the access. */
	bool pk = false;
	if (c->cr4_pke && all_us && !fetch) {
		unsigned key = (unsigned)(c->entry[1] >> 59) & 15;
		bool ad = (c->pkru >> (2 * key)) & 1;
		bool wd = (c->pkru >> (2 * key + 1)) & 1;
		pk = ad || (write && wd && (c->cpl3 || c->cr0_wp));
	}
	if (!ok || pk) {
		o->fault = true;
		o->error_code = ec | EC_P | (pk ? EC_PK : 0);
		return;
	}
	o->fault = false;
	o->error_code = 0;
	for (int l = 4; l >= 1; l--) {
		uint64_t want = BIT_A | (l == 1 && write ? BIT_D : 0);
		o->ad_set[l] = want & ~c->entry[l];
	}
}

/*
 * test_conformance.c - the permission matrix: every combination of entry
 * rights in a 4-level walk x CR0.WP x CR4.SMEP x CR4.SMAP/EFLAGS.AC x
 * EFER.NXE x CPL x read/write/fetch, under every MMU mode of the registry,
 * each compared with the SDM oracle (tests/support/sdm_oracle.c): fault or
 * not, the #PF error code, and the A/D bits set in the guest entries.
 * This is the model's counterpart of kvm-unit-tests' x86/access.c.
 *
 * The matrix (docs/conformance.md):
 *   entries   P on at every level, R/W, U/S and XD free at each of the 4
 *             levels: 2^12 = 4096; plus one not-present level k with every
 *             R/W, U/S, XD combination above it: 512 + 64 + 8 + 1 = 585;
 *             4681 entry combinations;
 *   controls  CR0.WP x CR4.SMEP x EFER.NXE x (SMAP off | SMAP on, AC 0 |
 *             SMAP on, AC 1): 2 x 2 x 2 x 3 = 24;
 *   access    CPL 0 or 3 x read, write, fetch: 6;
 * so 4681 x 24 x 6 = 674,064 cases per mode, each from a flushed TLB with
 * A and D clear in all four entries. After each access that succeeds, the
 * five other (CPL, access) pairs run again without a flush, so that the
 * TLB-hit check (cpu_tlb_ok) is compared with the oracle too (fault and
 * error code; A/D are not compared on that pass).
 *
 * Set-up, per mode: boot the guest kernel (for its direct map), then build
 * a private address space in four free guest frames:
 *
 *   T4 (PML4, with the kernel's direct-map entries)  gfn CF_GFN
 *     [pt_index(CF_VA, 4)] -> T3  gfn CF_GFN + 1
 *       [pt_index(CF_VA, 3)] -> T2  gfn CF_GFN + 2
 *         [pt_index(CF_VA, 2)] -> T1  gfn CF_GFN + 3
 *           [pt_index(CF_VA, 1)] -> data gfn CF_GFN + 4
 *
 * Between cases the entries are rewritten as the guest kernel would: 8-byte
 * supervisor stores through the direct map (which shadow paging traps and
 * emulates), followed by a full guest TLB flush. Under a paravirtual mode
 * (pv) the tables hold machine frames and the kernel may not store to
 * them: T4 is pinned with MMUEXT_PIN_L4_TABLE (the hypervisor validates
 * and types T4 to T1) and loaded with MMUEXT_NEW_BASEPTR, each entry of a
 * linked table changes by HYPERVISOR_mmu_update, an entry of a table that
 * an upper not-present entry has unlinked (an untyped, writable frame
 * again) is written in place, and the flush is MMUEXT_TLB_FLUSH_LOCAL. One guest is built per
 * mode; the controls change with cpu_set_paging_ctl() and cpu_set_ac(). A
 * #PF is caught by the test's own vector and compared, never handled.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "../src/core/cpu.h"
#include "../src/core/hypercall.h"
#include "../src/guest-mm/gmm.h"
#include "../src/cli/registry.h"
#include "support/sdm_oracle.h"

#define CF_GFN UINT64_C(0x1400)
#define CF_VA                                                                                    \
	((UINT64_C(5) << 39) | (UINT64_C(6) << 30) | (UINT64_C(7) << 21) | (UINT64_C(8) << 12) | \
	 UINT64_C(0x18))
#define CF_COMBOS (4096 + 512 + 64 + 8 + 1)
#define CF_CTLS 24
#define RIGHTS (GPTE_RW | GPTE_US | GPTE_NX)
/* The protection-key matrix: the PTE carries key CF_PKEY; PKRU gives that
 * key each of its 4 AD/WD states, and every other key the opposite state,
 * so that reading the wrong key's bits cannot pass. */
#define CF_PKEY 5u
#define CF_PKRU_STATES 4u
#define CF_PK_CTLS (2 * 3) /* CR0.WP x (SMAP off | on, AC 0 | on, AC 1) */

static uint32_t conf_pkru(unsigned st)
{
	uint32_t pkru = 0;
	for (unsigned k = 0; k < 16; k++)
		pkru |= (k == CF_PKEY ? st : 3u - st) << (2 * k);
	return pkru;
}

struct conf {
	struct vm *vm;
	struct vcpu *v;
	jmp_buf jb;
	bool armed;
	struct guest_fault f;
	uint64_t cur[5]; /* entry values now in the tables */
	uint64_t cases, tlb_cases;
	bool pv; /* a paravirtual mode: tables hold machine frames and change
		  * only by hypercall (docs/conformance.md) */
};

static gpa_t entry_gpa(int level)
{
	return GPA(((CF_GFN + (uint64_t)(4 - level)) << PAGE_SHIFT) + 8u * pt_index(CF_VA, level));
}

/* The frame the tables name for guest frame g: g itself, or under a
 * paravirtual mode its machine frame (the p2m the hypervisor published). */
static uint64_t conf_frame(const struct conf *c, uint64_t g)
{
	return c->pv ? p2m_lookup(c->vm, g) : g;
}

/* Where the level's entry is, in the address space the tables use. */
static uint64_t entry_addr(const struct conf *c, int level)
{
	return (conf_frame(c, CF_GFN + (uint64_t)(4 - level)) << PAGE_SHIFT) +
	       8u * pt_index(CF_VA, level);
}

static uint64_t entry_target(const struct conf *c, int level)
{
	return conf_frame(c, CF_GFN + (uint64_t)(5 - level)) << PAGE_SHIFT;
}

/* The entry as it is in memory (the VMM's view: nothing counted). */
static uint64_t entry_read(struct conf *c, int level)
{
	return c->pv ? hpa_read64(c->vm, HPA(entry_addr(c, level)))
		     : gpa_read64(c->vm, entry_gpa(level));
}

static void conf_hypercall(struct conf *c, unsigned nr, void *args)
{
	cpu_set_user(c->v, false);
	long r = cpu_hypercall(c->v, nr, args, 1);
	if (r != 0)
		fail_msg("pv: hypercall %u refused: %ld", nr, r);
}

/* The flags of combination n at each level (P, R/W, U/S, XD only). */
static void combo_flags(unsigned n, uint64_t fl[5])
{
	static const uint64_t bits[8] = {
	    0,	     GPTE_RW,		GPTE_US,	   GPTE_RW | GPTE_US,
	    GPTE_NX, GPTE_NX | GPTE_RW, GPTE_NX | GPTE_US, GPTE_NX | GPTE_RW | GPTE_US};
	if (n < 4096) {
		for (int l = 1; l <= 4; l++)
			fl[l] = GPTE_P | bits[(n >> (3 * (l - 1))) & 7];
		return;
	}
	/* Not present at level k, every combination above it. */
	n -= 4096;
	int k = 1;
	unsigned above = 512;
	while (n >= above) {
		n -= above;
		k++;
		above /= 8;
	}
	for (int l = 1; l <= 4; l++) {
		if (l < k)
			fl[l] = GPTE_P | GPTE_RW | GPTE_US;
		else if (l == k)
			fl[l] = 0;
		else
			fl[l] = GPTE_P | bits[(n >> (3 * (l - k - 1))) & 7];
	}
}

static void conf_pf(struct vcpu *v, const void *info, void *ctx)
{
	(void)v;
	struct conf *c = ctx;
	if (!c->armed)
		fail_msg("unexpected #PF at %#" PRIx64 " (error code %#x) outside a case",
			 ((const struct guest_fault *)info)->gva,
			 ((const struct guest_fault *)info)->error_code);
	c->f = *(const struct guest_fault *)info;
	c->armed = false;
	longjmp(c->jb, 1);
}

/* The guest kernel's store of one table entry through its direct map. */
static void kstore(struct conf *c, gpa_t gpa, uint64_t val)
{
	cpu_set_user(c->v, false);
	cpu_store(c->v, gmm_kva(c->vm, gpa), 8, val);
}

/* One access; true when it completed, false with c->f when it faulted. */
static bool conf_access(struct conf *c, bool user, int kind_arg)
{
	/* Read after setjmp() returns twice: kept in memory, not in a register
	 * the inlined access paths may reuse. */
	volatile int kind = kind_arg;

	c->armed = true;
	if (setjmp(c->jb) != 0) {
		cpu_set_user(c->v, false);
		return false;
	}
	cpu_set_user(c->v, user);
	if (kind == ACC_READ)
		(void)cpu_load(c->v, CF_VA, 8);
	else if (kind == ACC_WRITE)
		cpu_store(c->v, CF_VA, 8, UINT64_C(0x5a5a5a5a5a5a5a5a));
	else
		cpu_fetch(c->v, CF_VA, 4);
	cpu_set_user(c->v, false);
	c->armed = false;
	return true;
}

static const char *kind_name(int k)
{
	return k == ACC_READ ? "read" : k == ACC_WRITE ? "write" : "fetch";
}

static void describe(char *buf, size_t len, const struct sdm_case *s)
{
	snprintf(buf, len,
		 "entries PML4E %#" PRIx64 " PDPTE %#" PRIx64 " PDE %#" PRIx64 " PTE %#" PRIx64
		 " (flags only), WP %d SMEP %d SMAP %d AC %d NXE %d PKE %d (PTE key %u, PKRU %#x),"
		 " CPL %d %s",
		 s->entry[4] & (RIGHTS | GPTE_P), s->entry[3] & (RIGHTS | GPTE_P),
		 s->entry[2] & (RIGHTS | GPTE_P), s->entry[1] & (RIGHTS | GPTE_P), s->cr0_wp,
		 s->cr4_smep, s->cr4_smap, s->eflags_ac, s->efer_nxe, s->cr4_pke,
		 (unsigned)(s->entry[1] >> 59) & 15, s->pkru, s->cpl3 ? 3 : 0,
		 kind_name(s->access));
}

/*
 * Write the entries of combination fl with A and D clear, then flush.
 * Paravirtual: the entry of a table that is typed as one (every entry
 * above it present, written first) changes by HYPERVISOR_mmu_update, which
 * the hypervisor validates; a table that is unlinked is an ordinary
 * writable frame again and is written in place. The flush is
 * MMUEXT_TLB_FLUSH_LOCAL.
 */
static void conf_set_entries(struct conf *c, const uint64_t fl[5])
{
	bool linked = true; /* every entry above level l is present */
	for (int l = 4; l >= 1; l--) {
		uint64_t e = fl[l] ? entry_target(c, l) | fl[l] : 0;
		uint64_t now = entry_read(c, l);
		if (now != e) {
			if (!c->pv) {
				kstore(c, entry_gpa(l), e);
			} else if (linked) {
				struct mmu_update u = {.ptr = entry_addr(c, l), .val = e};
				conf_hypercall(c, HYPERVISOR_mmu_update, &u);
			} else {
				hpa_write64(c->vm, HPA(entry_addr(c, l)), e);
			}
		}
		c->cur[l] = e;
		linked = linked && (e & GPTE_P);
	}
	cpu_set_user(c->v, false);
	if (c->pv) {
		struct mmuext_op op = {.cmd = MMUEXT_TLB_FLUSH_LOCAL, .arg2 = 1};
		conf_hypercall(c, HYPERVISOR_mmuext_op, &op);
	} else {
		cpu_flush_tlb(c->v, true);
	}
}

static void conf_case(struct conf *c, const char *mode, const uint64_t fl[5],
		      const struct paging_ctl *ctl, bool ac, bool user, int kind)
{
	conf_set_entries(c, fl);
	struct sdm_case s = {.cr0_wp = ctl->wp,
			     .cr4_smep = ctl->smep,
			     .cr4_smap = ctl->smap,
			     .eflags_ac = ac,
			     .efer_nxe = ctl->nxe,
			     .cr4_pke = ctl->pke,
			     .pkru = c->v->pkru,
			     .cpl3 = user,
			     .access = kind};
	for (int l = 1; l <= 4; l++)
		s.entry[l] = c->cur[l];
	struct sdm_outcome want;
	sdm_oracle(&s, &want);
	bool ok = conf_access(c, user, kind);
	c->cases++;
	char what[320];
	if (ok == want.fault || (!ok && c->f.error_code != want.error_code)) {
		describe(what, sizeof(what), &s);
		fail_msg("%s: %s: got %s (error code %#x), the SDM says %s (error code %#x)", mode,
			 what, ok ? "no fault" : "a fault", ok ? 0 : c->f.error_code,
			 want.fault ? "a fault" : "no fault", want.error_code);
	}
	for (int l = 1; l <= 4; l++) {
		uint64_t now = entry_read(c, l);
		uint64_t set = (now & ~c->cur[l]) & (GPTE_A | GPTE_D);
		if (set != want.ad_set[l] || (now & ~(GPTE_A | GPTE_D)) != c->cur[l]) {
			describe(what, sizeof(what), &s);
			fail_msg("%s: %s: level %d entry %#" PRIx64 " -> %#" PRIx64
				 ", the SDM sets %#" PRIx64,
				 mode, what, l, c->cur[l], now, want.ad_set[l]);
		}
	}
	if (!ok)
		return;
	/* The TLB now holds the translation: the other pairs go through the
	 * hit check first. */
	for (int u = 0; u < 2; u++) {
		for (int k = ACC_READ; k <= ACC_FETCH; k++) {
			if (u == user && k == kind)
				continue;
			struct sdm_case t = s;
			t.cpl3 = u;
			t.access = k;
			struct sdm_outcome w2;
			sdm_oracle(&t, &w2);
			bool ok2 = conf_access(c, u, k);
			c->tlb_cases++;
			if (ok2 == w2.fault || (!ok2 && c->f.error_code != w2.error_code)) {
				describe(what, sizeof(what), &t);
				fail_msg(
				    "%s: after a completed CPL %d %s: %s: got %s (error code %#x),"
				    " the SDM says %s (error code %#x)",
				    mode, user ? 3 : 0, kind_name(kind), what,
				    ok2 ? "no fault" : "a fault", ok2 ? 0 : c->f.error_code,
				    w2.fault ? "a fault" : "no fault", w2.error_code);
			}
		}
	}
	/* CR4.PKE: WRPKRU takes effect without a TLB flush. Each other PKRU
	 * value, then every (CPL, access) pair again through the TLB. */
	if (ctl->pke) {
		uint32_t pkru0 = c->v->pkru;
		for (unsigned st = 0; st < CF_PKRU_STATES; st++) {
			uint32_t pkru = conf_pkru(st);
			if (pkru == pkru0)
				continue;
			cpu_set_pkru(c->v, pkru);
			for (int u = 0; u < 2; u++) {
				for (int k = ACC_READ; k <= ACC_FETCH; k++) {
					struct sdm_case t = s;
					t.cpl3 = u;
					t.access = k;
					t.pkru = pkru;
					struct sdm_outcome w2;
					sdm_oracle(&t, &w2);
					bool ok2 = conf_access(c, u, k);
					c->tlb_cases++;
					if (ok2 == w2.fault ||
					    (!ok2 && c->f.error_code != w2.error_code)) {
						describe(what, sizeof(what), &t);
						fail_msg("%s: after WRPKRU %#x without a flush: %s: got "
							 "%s (error code %#x), the SDM says %s (error "
							 "code %#x)",
							 mode, pkru, what, ok2 ? "no fault" : "a fault",
							 ok2 ? 0 : c->f.error_code,
							 w2.fault ? "a fault" : "no fault",
							 w2.error_code);
					}
				}
			}
		}
		cpu_set_pkru(c->v, pkru0);
	}
	/* Entries that were set are rewritten by the next case. */
	for (int l = 1; l <= 4; l++)
		c->cur[l] = entry_read(c, l);
}

/* Build the guest and the private address space for one mode. */
static struct conf *conf_setup(const char *mode, bool pke, void (*tweak)(struct vm_config *))
{
	struct vm_config cfg;
	config_defaults(&cfg);
	cfg.mode = mode;
	cfg.cr4_pke = pke;
	if (tweak)
		tweak(&cfg);
	cfg.guest_mem = UINT64_C(32) << 20;
	/* Booted without NXE, so that the direct map carries no XD bit and
	 * stays usable when the matrix turns NXE off (bit 63 reserved). */
	cfg.efer_nxe = false;
	char err[256];
	struct vm *vm = vm_create(&cfg, err, sizeof(err));
	if (!vm)
		fail_msg("vm_create(%s): %s", mode, err);
	if (gmm_boot(vm))
		fail_msg("gmm_boot(%s): %s", mode, vm->err);
	struct conf *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	c->vm = vm;
	c->v = &vm->vcpu;
	c->pv = vm->mmu->paravirt;
	/* The private tables: T4 gets the kernel's top-level entries. Under a
	 * paravirtual mode CR3 and every entry hold machine frames, and the
	 * four frames are still untyped (writable), so they are filled in
	 * place, as a PV kernel fills a new table before it pins it. */
	uint64_t ktop = pte_frame(c->v->cr3);
	uint64_t t4 = conf_frame(c, CF_GFN) << PAGE_SHIFT;
	for (uint64_t g = CF_GFN; g <= CF_GFN + 4; g++)
		p2m_mark_used(vm, g);
	for (unsigned i = 0; i < 512; i++) {
		uint64_t e = c->pv ? hpa_read64(vm, HPA(ktop + 8u * i))
				   : gpa_read64(vm, GPA(ktop + 8u * i));
		if (e && c->pv)
			hpa_write64(vm, HPA(t4 + 8u * i), e);
		else if (e)
			gpa_write64(vm, GPA(t4 + 8u * i), e);
	}
	for (int l = 4; l >= 1; l--) {
		uint64_t e = entry_target(c, l) | GPTE_P | GPTE_RW | GPTE_US;
		if (c->pv)
			hpa_write64(vm, HPA(entry_addr(c, l)), e);
		else
			gpa_write64(vm, entry_gpa(l), e);
	}
	cpu_set_vector(c->v, VEC_PF, conf_pf, c);
	cpu_set_user(c->v, false);
	if (c->pv) {
		/* Pin T4 (the hypervisor validates T4 to T1 and types them),
		 * then load it: MMUEXT_PIN_L4_TABLE, MMUEXT_NEW_BASEPTR. */
		struct mmuext_op pin = {.cmd = MMUEXT_PIN_L4_TABLE, .arg = t4 >> PAGE_SHIFT};
		struct mmuext_op base = {.cmd = MMUEXT_NEW_BASEPTR, .arg = t4 >> PAGE_SHIFT};
		conf_hypercall(c, HYPERVISOR_mmuext_op, &pin);
		conf_hypercall(c, HYPERVISOR_mmuext_op, &base);
	} else {
		cpu_write_cr3(c->v, t4);
	}
	return c;
}

static void conf_mode(const char *mode, bool skip_wp0, uint64_t *cases, uint64_t *tlb_cases,
		      void (*tweak)(struct vm_config *), uint64_t *switches)
{
	struct conf *c = conf_setup(mode, false, tweak);
	jmp_buf jb;
	c->vm->abort_jmp = &jb;
	if (setjmp(jb) != 0)
		fail_msg("%s: the VM aborted: %s", mode, c->vm->err);
	for (unsigned x = 0; x < CF_CTLS; x++) {
		struct paging_ctl ctl = {.wp = x & 1, .smep = (x >> 1) & 1, .nxe = (x >> 2) & 1};
		if (skip_wp0 && !ctl.wp)
			continue; /* the mode refuses CR0.WP = 0 (mmu_ops.refuses_wp0) */
		unsigned smap_ac = x >> 3; /* 0 off, 1 on with AC 0, 2 on with AC 1 */
		ctl.smap = smap_ac != 0;
		bool ac = smap_ac == 2;
		cpu_set_user(c->v, false);
		cpu_set_paging_ctl(c->v, &ctl);
		cpu_set_ac(c->v, ac);
		for (unsigned n = 0; n < CF_COMBOS; n++) {
			uint64_t fl[5];
			combo_flags(n, fl);
			for (int user = 0; user < 2; user++)
				for (int kind = ACC_READ; kind <= ACC_FETCH; kind++)
					conf_case(c, mode, fl, &ctl, ac, user, kind);
		}
	}
	if (c->vm->mmu->audit)
		vm_audit(c->vm);
	if (c->pv) {
		/* Every table change went through the hypervisor, which
		 * refused none of them. */
		assert_int_equal(c->vm->st.pv_refused, 0);
		assert_true(c->vm->st.pv_pt_updates > 0);
		print_message("conformance %-7s %" PRIu64 " table entries changed by "
			      "HYPERVISOR_mmu_update, none refused\n",
			      mode, c->vm->st.pv_pt_updates);
	}
	c->vm->abort_jmp = NULL;
	*cases = c->cases;
	*tlb_cases = c->tlb_cases;
	if (switches)
		*switches = c->vm->st.mode_switches;
	vm_destroy(c->vm);
	free(c);
}

/*
 * The protection-key matrix of one mode: CR4.PKE on, SMEP and NXE on, every
 * entry combination (the PTE, when present, carries key CF_PKEY) x CR0.WP x
 * SMAP/AC x the 4 PKRU states of the key x CPL x access.
 */
static void conf_mode_pk(const char *mode, uint64_t *cases, uint64_t *tlb_cases)
{
	struct conf *c = conf_setup(mode, true, NULL);
	jmp_buf jb;
	c->vm->abort_jmp = &jb;
	if (setjmp(jb) != 0)
		fail_msg("%s: the VM aborted: %s", mode, c->vm->err);
	for (unsigned x = 0; x < CF_PK_CTLS * CF_PKRU_STATES; x++) {
		struct paging_ctl ctl = {.wp = x & 1, .smep = true, .nxe = true, .pke = true};
		unsigned smap_ac = (x >> 1) % 3;
		ctl.smap = smap_ac != 0;
		bool ac = smap_ac == 2;
		cpu_set_user(c->v, false);
		cpu_set_paging_ctl(c->v, &ctl);
		cpu_set_ac(c->v, ac);
		cpu_set_pkru(c->v, conf_pkru(x / CF_PK_CTLS));
		for (unsigned n = 0; n < CF_COMBOS; n++) {
			uint64_t fl[5];
			combo_flags(n, fl);
			if (fl[1] & GPTE_P)
				fl[1] |= (uint64_t)CF_PKEY << GPTE_PKEY_SHIFT;
			for (int user = 0; user < 2; user++)
				for (int kind = ACC_READ; kind <= ACC_FETCH; kind++)
					conf_case(c, mode, fl, &ctl, ac, user, kind);
		}
	}
	if (c->vm->mmu->audit)
		vm_audit(c->vm);
	c->vm->abort_jmp = NULL;
	*cases = c->cases;
	*tlb_cases = c->tlb_cases;
	vm_destroy(c->vm);
	free(c);
}

/* The oracle itself, on cases whose answer is written out by hand from the
 * SDM's tables, so that the oracle can fail too. */
static void test_oracle_spot_checks(void **state)
{
	(void)state;
	uint64_t u = GPTE_P | GPTE_RW | GPTE_US;
	struct sdm_case s = {.entry = {0, u, u, u, u},
			     .cr0_wp = true,
			     .cr4_smep = true,
			     .cr4_smap = true,
			     .efer_nxe = true};
	struct sdm_outcome o;
	/* Supervisor read of a user page under SMAP without AC: P, no W/U. */
	s.access = 0;
	sdm_oracle(&s, &o);
	assert_true(o.fault);
	assert_int_equal(o.error_code, 0x01);
	/* With AC: allowed, A everywhere, no D. */
	s.eflags_ac = true;
	sdm_oracle(&s, &o);
	assert_false(o.fault);
	assert_int_equal(o.ad_set[4], GPTE_A);
	assert_int_equal(o.ad_set[1], GPTE_A);
	/* Supervisor fetch from a user page under SMEP: P | I/D. */
	s.access = 2;
	sdm_oracle(&s, &o);
	assert_true(o.fault);
	assert_int_equal(o.error_code, 0x11);
	/* SMEP off, NXE off: the fetch fault of an XD entry is a reserved-bit
	 * fault, without I/D. */
	s.cr4_smep = false;
	s.efer_nxe = false;
	s.entry[3] |= GPTE_NX;
	sdm_oracle(&s, &o);
	assert_true(o.fault);
	assert_int_equal(o.error_code, 0x09);
	/* CR0.WP = 0: a supervisor write to a read-only supervisor page is
	 * allowed and sets D in the PTE only. */
	struct sdm_case w = {
	    .entry = {0, GPTE_P, GPTE_P | GPTE_RW, GPTE_P, GPTE_P}, .cr0_wp = false, .access = 1};
	sdm_oracle(&w, &o);
	assert_false(o.fault);
	assert_int_equal(o.ad_set[1], GPTE_A | GPTE_D);
	assert_int_equal(o.ad_set[2], GPTE_A);
	w.cr0_wp = true;
	sdm_oracle(&w, &o);
	assert_true(o.fault);
	assert_int_equal(o.error_code, 0x03);
	/* A user write to a not-present PDE: W | U, P clear. */
	w.entry[2] = 0;
	w.cpl3 = true;
	sdm_oracle(&w, &o);
	assert_true(o.fault);
	assert_int_equal(o.error_code, 0x06);
	/* Protection keys: a user page with key 3; PKRU.AD3 (bit 6) denies a
	 * user read with P | U | PK, but not a fetch. */
	struct sdm_case k = {.entry = {0, u | (UINT64_C(3) << 59), u, u, u},
			     .cr0_wp = true,
			     .efer_nxe = true,
			     .cr4_pke = true,
			     .pkru = 1u << 6,
			     .cpl3 = true};
	sdm_oracle(&k, &o);
	assert_true(o.fault);
	assert_int_equal(o.error_code, 0x25);
	k.access = 2;
	sdm_oracle(&k, &o);
	assert_false(o.fault);
	/* PKRU.WD3 (bit 7): a supervisor write faults with P | W | PK under
	 * CR0.WP = 1 and goes through with WP = 0; a user write faults either
	 * way, and a read does not. */
	k.pkru = 1u << 7;
	k.access = 1;
	k.cpl3 = false;
	sdm_oracle(&k, &o);
	assert_true(o.fault);
	assert_int_equal(o.error_code, 0x23);
	k.cr0_wp = false;
	sdm_oracle(&k, &o);
	assert_false(o.fault);
	k.cpl3 = true;
	sdm_oracle(&k, &o);
	assert_true(o.fault);
	assert_int_equal(o.error_code, 0x27);
	k.access = 0;
	sdm_oracle(&k, &o);
	assert_false(o.fault);
	/* A supervisor page (U clear in the PDE) is never checked: AD set,
	 * the user read faults for U/S alone, without PK. */
	k.entry[2] = GPTE_P | GPTE_RW;
	k.pkru = 1u << 6;
	sdm_oracle(&k, &o);
	assert_true(o.fault);
	assert_int_equal(o.error_code, 0x05);
	/* Key violation and another one at once: PK is set too. A user write
	 * to a user page read-only in its PTE, with WD: P | W | U | PK. */
	k.entry[2] = u;
	k.entry[1] = GPTE_P | GPTE_US | (UINT64_C(3) << 59);
	k.pkru = 1u << 7;
	k.access = 1;
	sdm_oracle(&k, &o);
	assert_true(o.fault);
	assert_int_equal(o.error_code, 0x27);
}

/*
 * switching, made to run the matrix under shadow paging: an interval of 16
 * accesses and a ratio of 1 TLB miss per guest fault, so that the first
 * interval (more misses than faults) moves it to shadow paging, where it
 * stays (no interval of the matrix faults more than it misses). The switch
 * recomputes the hardware's rights (CR0.WP = 1 and EFER.NXE = 1 under
 * shadow paging, the guest's under nested paging), and every control
 * change reaches shadow paging's on_ctl_change: the whole matrix, CR0.WP = 0
 * and EFER.NXE = 0 included, equals the SDM oracle. (Without the two, the
 * first WP = 0 case already differs.)
 */
static void sw_to_shadow(struct vm_config *c)
{
	c->switch_interval = 16;
	c->switch_ratio = 1;
}

static void test_matrix_switching_shadow(void **state)
{
	(void)state;
	if (!mmu_find("switching"))
		skip();
	uint64_t cases = 0, tlb_cases = 0, switches = 0;
	conf_mode("switching", false, &cases, &tlb_cases, sw_to_shadow, &switches);
	assert_int_equal(cases, (uint64_t)CF_COMBOS * CF_CTLS * 6);
	assert_int_equal(switches, 1);
	print_message("conformance switching under shadow paging (interval 16, ratio 1): %" PRIu64
		      " cases, %" PRIu64 " mode switch\n",
		      cases, switches);
}

static void test_matrix_every_mode(void **state)
{
	(void)state;
	uint64_t per_mode = (uint64_t)CF_COMBOS * CF_CTLS * 6;
	uint64_t total = 0, total_tlb = 0;
	char names[160] = "";
	int nmodes = 0;
	for (int i = 0; mmu_modes[i]; i++) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		uint64_t cases = 0, tlb_cases = 0;
		bool skip_wp0 = mmu_modes[i]->refuses_wp0;
		conf_mode(mmu_modes[i]->name, skip_wp0, &cases, &tlb_cases, NULL, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		/* A mode that refuses CR0.WP = 0 runs the half of the settings
		 * with WP set, and says so. */
		assert_int_equal(cases, skip_wp0 ? per_mode / 2 : per_mode);
		if (skip_wp0)
			print_message("conformance %-7s refuses CR0.WP = 0: those %" PRIu64
				      " cases are not run\n",
				      mmu_modes[i]->name, per_mode / 2);
		print_message("conformance %-7s %" PRIu64 " cases from a flushed TLB, %" PRIu64
			      " more through the TLB hit, %.1f s\n",
			      mmu_modes[i]->name, cases, tlb_cases,
			      (double)(t1.tv_sec - t0.tv_sec) +
				  1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
		total += cases;
		total_tlb += tlb_cases;
		snprintf(names + strlen(names), sizeof(names) - strlen(names), " %s",
			 mmu_modes[i]->name);
		nmodes++;
	}
	assert_true(nmodes >= 3);
	print_message("conformance: %u entry combinations x %u control settings x 6 accesses ="
		      " %" PRIu64 " cases per mode; %" PRIu64 " cases (+%" PRIu64
		      " TLB-hit cases) under%s: all equal the SDM oracle\n",
		      CF_COMBOS, CF_CTLS, per_mode, total, total_tlb, names);
}

/* Protection keys under every mode: a mode with mmu_ops.has_pke runs the PK
 * matrix; a mode without must refuse --pke on at vm_create(). */
static void test_pk_matrix_every_mode(void **state)
{
	(void)state;
	uint64_t per_mode = (uint64_t)CF_COMBOS * CF_PK_CTLS * CF_PKRU_STATES * 6;
	uint64_t total = 0, total_tlb = 0;
	int nrun = 0;
	for (int i = 0; mmu_modes[i]; i++) {
		const char *name = mmu_modes[i]->name;
		if (!mmu_modes[i]->has_pke) {
			struct vm_config cfg;
			char err[256];
			config_defaults(&cfg);
			cfg.mode = name;
			cfg.guest_mem = UINT64_C(32) << 20;
			cfg.cr4_pke = true;
			struct vm *vm = vm_create(&cfg, err, sizeof(err));
			if (vm != NULL)
				fail_msg("%s has no protection keys but accepted --pke on", name);
			assert_non_null(strstr(err, "--pke on (CR4.PKE) is not modelled"));
			print_message("conformance PK %-9s refuses --pke on: %" PRIu64
				      " cases not run\n",
				      name, per_mode);
			continue;
		}
		struct timespec t0, t1;
		uint64_t cases = 0, tlb_cases = 0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		conf_mode_pk(name, &cases, &tlb_cases);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		assert_int_equal(cases, per_mode);
		print_message("conformance PK %-9s %" PRIu64 " cases from a flushed TLB, %" PRIu64
			      " more through the TLB hit (after WRPKRU too), %.1f s\n",
			      name, cases, tlb_cases,
			      (double)(t1.tv_sec - t0.tv_sec) +
				  1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
		total += cases;
		total_tlb += tlb_cases;
		nrun++;
	}
	assert_true(nrun >= 2); /* native and nested */
	print_message("conformance PK: %u entry combinations x %u control settings x %u PKRU "
		      "states x 6 accesses = %" PRIu64 " cases per mode; %" PRIu64
		      " cases (+%" PRIu64 " TLB-hit cases): all equal the SDM oracle\n",
		      CF_COMBOS, CF_PK_CTLS, CF_PKRU_STATES, per_mode, total, total_tlb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_oracle_spot_checks),
	    cmocka_unit_test(test_matrix_every_mode),
	    cmocka_unit_test(test_matrix_switching_shadow),
	    cmocka_unit_test(test_pk_matrix_every_mode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

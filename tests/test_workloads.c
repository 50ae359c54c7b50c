/*
 * test_workloads.c - the workload suite (workloads/), run end to end through
 * run_workload().
 *
 * Every workload runs with small parameters from one table (wl_cases in
 * tests/support/wl_cases.c), which must cover the whole registry. The tests check:
 *   - determinism: the same seed gives the same checksum and guest digest,
 *     a different seed a different checksum;
 *   - exact counts where the workload makes them exact: faults raises one
 *     demand fault per first-touched page and no VM exit; fork raises one
 *     CoW fault per page written while shared, on either side;
 *   - equivalence: every mode that vm_create accepts gives the checksum and
 *     digest of native, for every workload (modes that are not built are
 *     skipped, with a note); and shadow and nested do so under every guest
 *     PCID policy, with and without KPTI and PCIDs, and every EPT depth;
 *   - 2M guest pages: every workload runs, and faults counts one fault per
 *     2 MiB page;
 *   - the bench recorder sees exactly the user accesses and does not change
 *     what the workload does;
 *   - a guest that runs out of memory is a clean error, not a crash;
 *   - the digest reads only the frames the guest touched: for every
 *     workload and mode it equals the reference that scans all of guest
 *     memory, and a seq run of N pages reads an exact number of frames,
 *     the same for a 64 MiB and a 64 GiB guest, growing by N per N pages.
 *
 * Guest memory is kept small (TEST_GUEST_MEM) so that the reference scan
 * stays cheap; the digest itself does not depend on it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/lib/run.h"
#include "support/wl_cases.h"
#include "../src/core/vm.h"
#include "../src/cli/registry.h"

#define TEST_GUEST_MEM (UINT64_C(64) << 20)
#define TEST_SEED UINT64_C(0x5eed0001)

/* ---- fixtures ---- */

#define NCASES wl_ncases

static struct vm_config machine(const char *mode)
{
	struct vm_config c;
	config_defaults(&c);
	c.mode = mode;
	c.guest_mem = TEST_GUEST_MEM;
	return c;
}

static struct wl_params params(const struct wl_case *wc, uint64_t seed)
{
	struct wl_params p = wc->p;
	p.seed = seed;
	return p;
}

/* Run one workload; fail the test with the run's error if it fails. */
static void run_ok(const struct vm_config *cfg, const char *name, const struct wl_params *p,
		   struct run_result *r)
{
	const struct workload *w = workload_find(name);
	assert_non_null(w);
	int rc = run_workload(cfg, w, p, NULL, r);
	if (rc != 0)
		fail_msg("%s under %s: %s", name, cfg->mode, r->err);
	assert_true(r->ok);
}

/* Can this mode run at all (is it built)? */
static bool mode_built(const char *mode, char *why, size_t len)
{
	struct vm_config c = machine(mode);
	struct vm *vm = vm_create(&c, why, len);
	if (vm == NULL)
		return false;
	vm_destroy(vm);
	return true;
}

/* ---- registry ---- */

static void test_registry(void **state)
{
	(void)state;
	size_t n = 0;
	for (const struct workload *const *w = workloads; *w; w++, n++) {
		assert_non_null((*w)->name);
		assert_non_null((*w)->desc);
		assert_non_null((*w)->run);
		assert_true((*w)->def_pages > 0);
		assert_true((*w)->def_ops > 0);
		assert_ptr_equal(workload_find((*w)->name), *w);
		bool covered = false;
		for (size_t k = 0; k < NCASES; k++)
			covered |= strcmp(wl_cases[k].name, (*w)->name) == 0;
		if (!covered)
			fail_msg("workload %s has no case in wl_cases", (*w)->name);
	}
	assert_int_equal(n, NCASES);
	assert_null(workload_find("no-such-workload"));
}

/* ---- determinism ---- */

static void test_deterministic(void **state)
{
	(void)state;
	struct vm_config cfg = machine("native");
	struct run_result a, b, d;
	for (size_t k = 0; k < NCASES; k++) {
		struct wl_params p = params(&wl_cases[k], TEST_SEED);
		struct wl_params q = params(&wl_cases[k], TEST_SEED + 1);
		run_ok(&cfg, wl_cases[k].name, &p, &a);
		run_ok(&cfg, wl_cases[k].name, &p, &b);
		run_ok(&cfg, wl_cases[k].name, &q, &d);
		if (a.checksum != b.checksum || a.guest_digest != b.guest_digest)
			fail_msg("%s: same seed, different result", wl_cases[k].name);
		if (a.st.accesses != b.st.accesses || a.st.tlb_misses != b.st.tlb_misses ||
		    a.st.walk_refs != b.st.walk_refs || a.st.guest_faults != b.st.guest_faults)
			fail_msg("%s: same seed, different counts", wl_cases[k].name);
		if (a.checksum == d.checksum)
			fail_msg("%s: seeds %" PRIu64 " and %" PRIu64 " give the same checksum",
				 wl_cases[k].name, p.seed, q.seed);
		assert_true(a.st.user_accesses > 0);
		assert_true(a.checksum != 0);
	}
}

/* ---- exact counts ---- */

/*
 * faults with 4K guest pages: each of ops rounds maps 'pages' fresh pages
 * and first-touches each with a store, so guest_faults = pages * ops, all
 * demand-zero, and native never exits. With the walk caches off, every
 * completed user walk reads exactly 4 entries.
 */
static void test_faults_exact(void **state)
{
	(void)state;
	static const struct {
		uint64_t pages, rounds;
	} shapes[] = {{24, 5}, {1, 7}, {100, 3}};
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		struct vm_config cfg = machine("native");
		struct wl_params p = {
		    .seed = TEST_SEED, .pages = shapes[i].pages, .ops = shapes[i].rounds};
		struct run_result r;
		cfg.walk_caches = false;
		run_ok(&cfg, "faults", &p, &r);
		uint64_t want = shapes[i].pages * shapes[i].rounds;
		assert_int_equal(r.st.guest_faults, want);
		assert_int_equal(r.st.demand_faults, want);
		assert_int_equal(r.st.cow_faults, 0);
		assert_int_equal(r.st.vm_exits, 0);
		assert_int_equal(r.st.user_accesses, 2 * want);
		assert_true(r.st.walks_user > 0);
		assert_int_equal(r.st.walk_refs_user, 4 * r.st.walks_user);
	}
}

/*
 * fork: child k writes Wc = max(1, P/4) pages and the parent Wp =
 * max(1, P/16) others (0 when P < 2) while both share them, so
 * cow_faults = procs * (Wc + Wp) exactly. The parent's first touch of its
 * P pages are demand faults, before any fork.
 */
static void test_fork_exact(void **state)
{
	(void)state;
	static const struct {
		uint64_t pages, passes;
		uint32_t children;
		uint64_t wc, wp;
	} shapes[] = {
	    {64, 2, 4, 16, 4},
	    {3, 1, 5, 1, 1},
	    {1, 3, 2, 1, 0},
	    {100, 1, 3, 25, 6},
	};
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		struct vm_config cfg = machine("native");
		struct wl_params p = {.seed = TEST_SEED,
				      .pages = shapes[i].pages,
				      .ops = shapes[i].passes,
				      .procs = shapes[i].children};
		struct run_result r;
		run_ok(&cfg, "fork", &p, &r);
		uint64_t want = shapes[i].children * (shapes[i].wc + shapes[i].wp);
		if (r.st.cow_faults != want)
			fail_msg("fork pages=%" PRIu64 " children=%u: cow_faults %" PRIu64
				 ", expected %" PRIu64,
				 shapes[i].pages, shapes[i].children, r.st.cow_faults, want);
		assert_true(r.st.demand_faults >= shapes[i].pages);
		assert_int_equal(r.st.vm_exits, 0);
	}
}

/* ---- equivalence ---- */

static void test_equivalence(void **state)
{
	(void)state;
	struct vm_config ncfg = machine("native");
	struct run_result ref, r;
	char why[256];
	for (size_t m = 0; mmu_modes[m]; m++) {
		const char *mode = mmu_modes[m]->name;
		if (strcmp(mode, "native") == 0)
			continue;
		if (!mode_built(mode, why, sizeof(why))) {
			print_message("equivalence: skipping mode %s: %s\n", mode, why);
			continue;
		}
		struct vm_config cfg = machine(mode);
		for (size_t k = 0; k < NCASES; k++) {
			struct wl_params p = params(&wl_cases[k], TEST_SEED);
			run_ok(&ncfg, wl_cases[k].name, &p, &ref);
			run_ok(&cfg, wl_cases[k].name, &p, &r);
			if (r.checksum != ref.checksum)
				fail_msg("%s: checksum under %s differs from native",
					 wl_cases[k].name, mode);
			if (r.guest_digest != ref.guest_digest)
				fail_msg("%s: guest digest under %s differs from native",
					 wl_cases[k].name, mode);
			assert_int_equal(r.st.user_accesses, ref.st.user_accesses);
			assert_int_equal(r.st.guest_faults, ref.st.guest_faults);
		}
	}
}

/*
 * Equivalence under every guest PCID, KPTI and EPT-depth setting: each mode
 * gives native's checksum and digest for the same setting, and the guest
 * does the same thing (faults, CR3 writes, kernel entries, flushing
 * switches) whatever the mode. Under shadow paging every CR3 write and
 * every guest TLB flush exits (exits_cr3); under nested paging none does.
 */
struct guest_setting {
	const char *name;
	enum pcid_policy policy;
	bool pcid, kpti;
	int levels, ept_levels;
};

static const struct guest_setting guest_settings[] = {
    {"linux PCIDs", PCID_LINUX, true, false, 4, 4},
    {"per-process PCIDs", PCID_PER_PROCESS, true, false, 4, 4},
    {"no PCIDs", PCID_LINUX, false, false, 4, 4},
    {"KPTI, linux PCIDs", PCID_LINUX, true, true, 4, 4},
    {"KPTI, per-process PCIDs", PCID_PER_PROCESS, true, true, 4, 4},
    {"KPTI, no PCIDs", PCID_LINUX, false, true, 4, 4},
    {"5-level guest, 4-level EPT", PCID_LINUX, true, false, 5, 4},
    {"5-level guest, 5-level EPT, KPTI", PCID_LINUX, true, true, 5, 5},
    {"4-level guest, 5-level EPT", PCID_LINUX, true, false, 4, 5},
};

static void test_equivalence_guest_settings(void **state)
{
	(void)state;
	static const char *const modes[] = {"shadow", "nested"};
	struct run_result ref, r;
	for (size_t g = 0; g < sizeof(guest_settings) / sizeof(guest_settings[0]); g++) {
		const struct guest_setting *gs = &guest_settings[g];
		struct vm_config ncfg = machine("native");
		ncfg.pcid_policy = gs->policy;
		ncfg.pcid = gs->pcid;
		ncfg.kpti = gs->kpti;
		ncfg.levels = gs->levels;
		ncfg.ept_levels = gs->ept_levels;
		for (size_t k = 0; k < NCASES; k++) {
			struct wl_params p = params(&wl_cases[k], TEST_SEED);
			run_ok(&ncfg, wl_cases[k].name, &p, &ref);
			assert_int_equal(ref.st.vm_exits, 0);
			for (size_t m = 0; m < 2; m++) {
				struct vm_config cfg = ncfg;
				cfg.mode = modes[m];
				run_ok(&cfg, wl_cases[k].name, &p, &r);
				const char *wl = wl_cases[k].name;
				if (r.checksum != ref.checksum ||
				    r.guest_digest != ref.guest_digest)
					fail_msg(
					    "%s, %s: checksum or guest digest under %s differs "
					    "from native",
					    wl, gs->name, modes[m]);
				if (r.st.guest_faults != ref.st.guest_faults ||
				    r.st.user_accesses != ref.st.user_accesses ||
				    r.st.cr3_loads != ref.st.cr3_loads ||
				    r.st.kernel_entries != ref.st.kernel_entries ||
				    r.st.ctx_switches != ref.st.ctx_switches ||
				    r.st.ctx_switch_flushes != ref.st.ctx_switch_flushes)
					fail_msg("%s, %s: the guest behaved differently under %s",
						 wl, gs->name, modes[m]);
				uint64_t cr3_exits =
				    m == 0 ? r.st.cr3_loads + r.st.guest_tlb_flushes : 0;
				if (r.st.exits_cr3 != cr3_exits)
					fail_msg("%s, %s, %s: %" PRIu64
						 " CR3 exits, expected %" PRIu64,
						 wl, gs->name, modes[m], r.st.exits_cr3, cr3_exits);
			}
			/* With KPTI every kernel entry from user space and every
			 * return to it writes CR3: at least two per fault. */
			if (gs->kpti)
				assert_true(ref.st.cr3_loads >= 2 * ref.st.guest_faults);
			else
				assert_int_equal(ref.st.cr3_loads, ref.st.ctx_switches);
		}
	}
}

/* Equivalence holds with the paging controls off too (CR0.WP, SMEP, SMAP,
 * NXE: no XD bit in the guest's tables), and SMEP and SMAP change no count:
 * the guest kernel never touches user memory through user addresses. */
static void test_equivalence_paging_controls(void **state)
{
	(void)state;
	struct run_result ref, r, on;
	for (size_t m = 0; mmu_modes[m]; m++) {
		const char *mode = mmu_modes[m]->name;
		struct vm_config off = machine(mode), noacc = machine(mode), dflt = machine(mode);
		off.cr0_wp = off.cr4_smep = off.cr4_smap = off.efer_nxe = false;
		/* A mode that refuses CR0.WP = 0 runs with the other three off. */
		off.cr0_wp = mmu_modes[m]->refuses_wp0;
		noacc.cr4_smep = noacc.cr4_smap = false;
		struct vm_config noff = machine("native");
		noff.cr0_wp = noff.cr4_smep = noff.cr4_smap = noff.efer_nxe = false;
		noff.cr0_wp = off.cr0_wp;
		for (size_t k = 0; k < NCASES; k++) {
			struct wl_params p = params(&wl_cases[k], TEST_SEED);
			run_ok(&noff, wl_cases[k].name, &p, &ref);
			run_ok(&off, wl_cases[k].name, &p, &r);
			if (r.checksum != ref.checksum || r.guest_digest != ref.guest_digest)
				fail_msg("%s: controls off: %s differs from native", wl_cases[k].name,
					 mode);
			run_ok(&dflt, wl_cases[k].name, &p, &on);
			run_ok(&noacc, wl_cases[k].name, &p, &r);
			if (r.checksum != on.checksum || r.guest_digest != on.guest_digest ||
			    r.st.tlb_misses != on.st.tlb_misses || r.st.vm_exits != on.st.vm_exits ||
			    r.st.guest_faults != on.st.guest_faults || r.st.walk_refs != on.st.walk_refs)
				fail_msg("%s under %s: SMEP and SMAP changed a count", wl_cases[k].name,
					 mode);
		}
	}
}

/* ---- 2M guest pages ---- */

static void test_huge_pages(void **state)
{
	(void)state;
	struct vm_config cfg = machine("native");
	struct run_result r;
	cfg.guest_page = PG_2M;
	cfg.guest_mem = UINT64_C(256) << 20;
	for (size_t k = 0; k < NCASES; k++) {
		struct wl_params p = params(&wl_cases[k], TEST_SEED);
		run_ok(&cfg, wl_cases[k].name, &p, &r);
	}
	/* 600 pages round up to two 2 MiB pages per round. */
	struct wl_params p = {.seed = TEST_SEED, .pages = 600, .ops = 3};
	run_ok(&cfg, "faults", &p, &r);
	assert_int_equal(r.st.guest_faults, 2 * 3);
	assert_int_equal(r.st.user_accesses, 2 * 600 * 3);
}

/* ---- the bench recorder ---- */

static void test_recorder(void **state)
{
	(void)state;
	struct vm_config cfg = machine("native");
	struct run_result plain, rec_run;
	struct wl_rec rec;

	/* seq: single process, every user access recorded, one compact page
	 * per page of the region. */
	struct wl_params p = params(&wl_cases[0], TEST_SEED);
	assert_string_equal(wl_cases[0].name, "seq");
	run_ok(&cfg, "seq", &p, &plain);
	assert_int_equal(wl_rec_init(&rec, UINT64_C(1) << 20, 1024), 0);
	p.rec = &rec;
	run_ok(&cfg, "seq", &p, &rec_run);
	assert_int_equal(rec_run.checksum, plain.checksum);
	assert_int_equal(rec_run.guest_digest, plain.guest_digest);
	assert_int_equal(rec.n, plain.whole.user_accesses);
	assert_int_equal(rec.dropped, 0);
	assert_int_equal(rec.npages, wl_cases[0].p.pages);
	assert_false(rec.multi_proc);
	assert_false(rec.has_fetch);
	uint64_t nv;
	uint64_t *vpn = wl_rec_vpns(&rec, &nv);
	assert_non_null(vpn);
	assert_int_equal(nv, wl_cases[0].p.pages);
	for (uint64_t i = 1; i < nv; i++)
		assert_int_equal(vpn[i], vpn[i - 1] + 1);
	free(vpn);
	wl_rec_free(&rec);

	/* procs: several processes, fetches, and a limit that drops the tail;
	 * past max_pages, pages share indices. */
	size_t k = 0;
	while (strcmp(wl_cases[k].name, "procs") != 0)
		k++;
	p = params(&wl_cases[k], TEST_SEED);
	run_ok(&cfg, "procs", &p, &plain);
	assert_int_equal(wl_rec_init(&rec, 1000, 8), 0);
	p.rec = &rec;
	run_ok(&cfg, "procs", &p, &rec_run);
	assert_int_equal(rec_run.checksum, plain.checksum);
	assert_int_equal(rec.n, 1000);
	assert_int_equal(rec.n + rec.dropped, plain.whole.user_accesses);
	assert_true(rec.multi_proc);
	assert_true(rec.has_fetch);
	assert_int_equal(rec.npages, 8);
	assert_true(rec.aliased > 0);
	for (uint64_t i = 0; i < rec.n; i++)
		assert_true(rec.page[i] < 8);
	wl_rec_free(&rec);
}

/* ---- guest errors ---- */

static void test_guest_oom_is_an_error(void **state)
{
	(void)state;
	struct vm_config cfg = machine("native");
	struct wl_params p = {.seed = TEST_SEED, .pages = 8192, .ops = 16};
	struct run_result r;
	cfg.guest_mem = UINT64_C(16) << 20; /* 32 MiB of table cannot fit */
	assert_int_equal(run_workload(&cfg, workload_find("random"), &p, NULL, &r), -1);
	assert_false(r.ok);
	assert_true(r.err[0] != '\0');
}

/* ---- the digest reads what was touched ---- */

struct digest_probe {
	uint64_t scan; /* vm_guest_digest_scan() at the end of the run */
	uint64_t used; /* frames in the p2m's used set */
};

static void probe_after_run(struct vm *vm, void *ctx)
{
	struct digest_probe *d = ctx;
	/* The reference reads every frame: only for the small guests. */
	d->scan = vm->cfg.guest_mem <= TEST_GUEST_MEM ? vm_guest_digest_scan(vm) : 0;
	d->used = vm->p2m.used_frames;
}

static void run_probe(const struct vm_config *cfg, const char *name, const struct wl_params *p,
		      struct run_result *r, struct digest_probe *d)
{
	struct run_hooks h = {.after_run = probe_after_run, .ctx = d};
	int rc = run_workload(cfg, workload_find(name), p, &h, r);
	if (rc != 0)
		fail_msg("%s under %s: %s", name, cfg->mode, r->err);
}

/* Every workload, every mode: the digest over the used set is the digest
 * over all of guest memory, so no non-zero frame is outside the set. */
static void test_digest_covers_all_writes(void **state)
{
	(void)state;
	char why[256];
	for (size_t m = 0; mmu_modes[m]; m++) {
		const char *mode = mmu_modes[m]->name;
		if (!mode_built(mode, why, sizeof(why)))
			continue;
		struct vm_config cfg = machine(mode);
		for (size_t k = 0; k < NCASES; k++) {
			struct wl_params p = params(&wl_cases[k], TEST_SEED);
			struct run_result r;
			struct digest_probe d;
			run_probe(&cfg, wl_cases[k].name, &p, &r, &d);
			if (r.guest_digest != d.scan)
				fail_msg("%s under %s: digest of the used set %#" PRIx64
					 " differs from the full scan %#" PRIx64,
					 wl_cases[k].name, mode, r.guest_digest, d.scan);
			assert_true(r.digest_frames <= d.used);
		}
	}
}

/*
 * seq over N pages touches N data frames, 4 user table frames (PML4, PDPT,
 * PD, one PT: the pages fit one PT at the 256 MiB-aligned mmap base) and
 * the kernel's frames: its PML4, one PDPT and one PD per GiB of guest
 * memory for the 2 MiB direct map. The digest reads exactly those frames,
 * in every mode, whatever the size of guest memory beyond its direct map.
 */
static void test_digest_reads_touched_frames(void **state)
{
	(void)state;
	static const char *const modes[] = {"native", "shadow", "nested"};
	static const uint64_t mems[] = {UINT64_C(64) << 20, UINT64_C(64) << 30};
	for (size_t m = 0; m < 3; m++) {
		for (size_t i = 0; i < 2; i++) {
			struct vm_config cfg = machine(modes[m]);
			cfg.guest_mem = mems[i];
			uint64_t pds = mems[i] >> 30 ? mems[i] >> 30 : 1;
			for (uint64_t n = 48; n <= 96; n += 48) {
				struct wl_params p = {.pages = n, .ops = 1, .seed = TEST_SEED};
				struct run_result r;
				struct digest_probe d;
				run_probe(&cfg, "seq", &p, &r, &d);
				assert_int_equal(r.digest_frames, n + 4 + 2 + pds);
				assert_int_equal(d.used, r.digest_frames);
				if (mems[i] <= TEST_GUEST_MEM)
					assert_int_equal(r.guest_digest, d.scan);
			}
		}
	}
	/* 55 frames for 48 pages in a 64 MiB guest, 118 in a 64 GiB guest. */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_registry),
	    cmocka_unit_test(test_deterministic),
	    cmocka_unit_test(test_faults_exact),
	    cmocka_unit_test(test_fork_exact),
	    cmocka_unit_test(test_equivalence),
	    cmocka_unit_test(test_equivalence_guest_settings),
	    cmocka_unit_test(test_equivalence_paging_controls),
	    cmocka_unit_test(test_huge_pages),
	    cmocka_unit_test(test_recorder),
	    cmocka_unit_test(test_guest_oom_is_an_error),
	    cmocka_unit_test(test_digest_covers_all_writes),
	    cmocka_unit_test(test_digest_reads_touched_frames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

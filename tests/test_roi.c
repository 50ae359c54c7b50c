/*
 * test_roi.c - unit tests of the region of interest (src/core/roi.c), the
 * run driver's choice of what to measure (src/lib/run.c), the workloads'
 * markers, replay's --warmup, and the library's region calls.
 *
 * The central check is exact arithmetic, counter by counter: a replay of a
 * trace with --warmup N measures a region whose counters, added to those of
 * a replay of the trace's first N records alone, give the whole run's. The
 * engine is deterministic and the first N records are the same in both
 * runs, so this holds exactly for every counter of STATS_COUNTERS but the
 * gauge vmm_heap_bytes (the simulator's own heap, kept as read at the end).
 *
 * The synthetic trace (REC records, addresses in hex):
 *
 *   record i  kind I, L, S or M by i % 4, at 0x10000000 + page(i) * 4096
 *             + (i % 64) * 8, page(i) = (i * 37) % PAGES
 *
 * touches PAGES distinct pages in a scattered order (37 and PAGES are
 * coprime, so records 0 .. PAGES-1 each fault a new page), so faults (and, under
 * shadow paging, exits) happen both before and after the warm-up ends.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmmu.h"
#include "../src/core/config.h"
#include "../src/core/roi.h"
#include "../src/core/stats.h"
#include "../src/lib/run.h"
#include "../src/cli/registry.h"
#include "../src/report/csv.h"
#include "../workloads/replay.h"

static const char *const modes[] = {"native", "shadow", "nested"};
#define NMODES (sizeof(modes) / sizeof(modes[0]))

#define REC 6000
#define PAGES 4000
#define WARMUP 2500

/* ---- helpers ---- */

static void small_machine(struct vm_config *cfg, const char *mode)
{
	config_defaults(cfg);
	cfg->mode = mode;
	cfg->guest_mem = UINT64_C(64) << 20;
}

/* The synthetic trace's first n records, in a fresh temporary file. */
static char *write_trace(unsigned n)
{
	static const char kinds[4] = {'I', 'L', 'S', 'M'};
	char *path = strdup("/tmp/test_roi.XXXXXX");
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fprintf(f, "==7== Lackey, an example Valgrind tool\n");
	for (unsigned i = 0; i < n; i++) {
		uint64_t a = UINT64_C(0x10000000) + (uint64_t)((i * 37) % PAGES) * 4096 +
			     (uint64_t)(i % 64) * 8;
		char k = kinds[i % 4];
		fprintf(f, k == 'I' ? "%c  %08" PRIx64 ",4\n" : " %c %08" PRIx64 ",8\n", k, a);
	}
	assert_int_equal(fclose(f), 0);
	return path;
}

static int replay(const char *path, const char *mode, uint64_t warmup, struct run_result *r,
		  bool *bad)
{
	struct vm_config cfg;
	struct replay_workload rw;
	struct wl_params p = {.seed = 1};
	int rc;

	small_machine(&cfg, mode);
	assert_int_equal(replay_workload_init(&rw, path), 0);
	rw.in.warmup = warmup;
	p.arg = replay_input_of(&rw.w);
	rc = run_workload(&cfg, &rw.w, &p, NULL, r);
	replay_input_close(&rw.in);
	*bad = rw.in.bad_input;
	return rc;
}

/* ---- stats_delta ---- */

/* Sentinels: begin holds 1000 + i in counter i, end holds 3 * i more. */
static void test_stats_delta_every_counter(void **state)
{
	struct stats b = {0}, e = {0}, d;

	(void)state;
	for (size_t i = 0; i < stat_nfields; i++) {
		*(uint64_t *)(void *)((char *)&b + stat_fields[i].off) = 1000 + i;
		*(uint64_t *)(void *)((char *)&e + stat_fields[i].off) = 1000 + i + 3 * i;
	}
	stats_delta(&d, &e, &b);
	for (size_t i = 0; i < stat_nfields; i++) {
		uint64_t want = stats_is_gauge(stat_fields[i].name) ? 1000 + 4 * i : 3 * i;
		if (stat_get(&d, &stat_fields[i]) != want)
			fail_msg("%s: %" PRIu64 ", want %" PRIu64, stat_fields[i].name,
				 stat_get(&d, &stat_fields[i]), want);
	}
	assert_true(stats_is_gauge("vmm_heap_bytes"));
	assert_false(stats_is_gauge("shadow_pages_peak"));
	assert_false(stats_is_gauge("accesses"));
}

/* ---- whole = warm-up + region, exactly ---- */

static void test_warmup_plus_region_is_whole(void **state)
{
	char *full = write_trace(REC), *head = write_trace(WARMUP);

	(void)state;
	for (size_t m = 0; m < NMODES; m++) {
		struct run_result w, h;
		bool bad;

		assert_int_equal(replay(full, modes[m], WARMUP, &w, &bad), 0);
		assert_int_equal(replay(head, modes[m], 0, &h, &bad), 0);
		assert_true(w.region);
		assert_false(h.region);
		for (size_t i = 0; i < stat_nfields; i++) {
			const struct stat_field *f = &stat_fields[i];
			uint64_t whole = stat_get(&w.whole, f), warm = stat_get(&h.whole, f);
			uint64_t region = stat_get(&w.st, f);
			if (stats_is_gauge(f->name))
				continue;
			if (whole - warm != region)
				fail_msg("%s %s: whole %" PRIu64 " - warm-up %" PRIu64
					 " != region %" PRIu64,
					 modes[m], f->name, whole, warm, region);
		}
		/* Not vacuous: the region has accesses and faults of its own, and
		 * the warm-up too. */
		assert_true(h.whole.guest_faults > 0);
		assert_true(w.st.guest_faults > 0);
		assert_int_equal(w.whole.guest_faults, PAGES);
		assert_int_equal(w.st.user_accesses + h.whole.user_accesses, w.whole.user_accesses);
		if (strcmp(modes[m], "shadow") == 0)
			assert_true(w.st.vm_exits > 0 && h.whole.vm_exits > 0);
		assert_int_equal(w.est_cycles, stats_est_cycles(&w.st));
	}
	unlink(full);
	unlink(head);
	free(full);
	free(head);
}

/* A warm-up as long as the trace leaves an empty region; longer is bad input. */
static void test_warmup_bounds(void **state)
{
	char *head = write_trace(WARMUP);
	struct run_result r;
	bool bad;

	(void)state;
	assert_int_equal(replay(head, "shadow", WARMUP, &r, &bad), 0);
	assert_true(r.region);
	assert_int_equal(r.st.accesses, 0);
	assert_int_equal(stats_est_cycles(&r.st), 0);
	assert_int_equal(replay(head, "shadow", WARMUP + 1, &r, &bad), -1);
	assert_true(bad);
	assert_non_null(strstr(r.err, "--warmup: 2501 is more than the 2500 accesses"));
	unlink(head);
	free(head);
}

/* ---- the workloads' regions ---- */

static int run_named(const char *wname, const char *mode, bool whole_run, uint64_t pages,
		     uint64_t ops, struct run_result *r)
{
	struct vm_config cfg;
	struct wl_params p = {.seed = 3, .pages = pages, .ops = ops};

	small_machine(&cfg, mode);
	cfg.whole_run = whole_run;
	return run_workload(&cfg, workload_find(wname), &p, NULL, r);
}

/* random: the region is the update loop: 2 accesses per update, no fault. */
static void test_random_region_is_the_update_loop(void **state)
{
	(void)state;
	for (size_t m = 0; m < NMODES; m++) {
		struct run_result r, w;

		assert_int_equal(run_named("random", modes[m], false, 512, 4096, &r), 0);
		assert_true(r.region);
		assert_int_equal(r.st.accesses, 2 * 4096);
		assert_int_equal(r.st.user_accesses, 2 * 4096);
		assert_int_equal(r.st.guest_faults, 0);
		assert_int_equal(r.st.exits_hidden_fault, 0);
		assert_int_equal(r.whole.user_accesses, 2 * 512 + 4 * 4096);
		assert_int_equal(r.whole.guest_faults, 512);
		assert_int_equal(r.est_cycles, stats_est_cycles(&r.st));

		/* --whole-run: the counters are the whole run's, the same run. */
		assert_int_equal(run_named("random", modes[m], true, 512, 4096, &w), 0);
		assert_false(w.region);
		assert_memory_equal(&w.st, &w.whole, offsetof(struct stats, vmm_heap_bytes));
		assert_int_equal(w.whole.accesses, r.whole.accesses);
		assert_int_equal(w.whole.walk_refs, r.whole.walk_refs);
		assert_int_equal(w.checksum, r.checksum);
	}
}

/* ptrchase: one access per step; kv: the lookups fault nothing. */
static void test_ptrchase_kv_regions(void **state)
{
	(void)state;
	for (size_t m = 0; m < NMODES; m++) {
		struct run_result r;

		assert_int_equal(run_named("ptrchase", modes[m], false, 64, 3000, &r), 0);
		assert_true(r.region);
		assert_int_equal(r.st.accesses, 3000);
		assert_int_equal(r.st.guest_faults, 0);
		assert_int_equal(r.whole.user_accesses, 64 * 64 + 3000 + 3000);

		assert_int_equal(run_named("kv", modes[m], false, 64, 2000, &r), 0);
		assert_true(r.region);
		assert_int_equal(r.st.guest_faults, 0);
		assert_true(r.st.accesses >= 2 * 2000);
		assert_true(r.whole.accesses > r.st.accesses);
	}
}

/* The fault-heavy workloads mark nothing: they are measured whole. */
static void test_fault_workloads_are_whole(void **state)
{
	static const char *const names[] = {"faults", "fork", "procs", "mmap-churn"};

	(void)state;
	for (size_t k = 0; k < 4; k++) {
		struct run_result r;
		assert_int_equal(run_named(names[k], "shadow", false, 32, 8, &r), 0);
		assert_false(r.region);
		assert_memory_equal(&r.st, &r.whole, sizeof(r.st));
	}
}

/* ---- the library's region calls ---- */

static void test_api_region_calls(void **state)
{
	char err[256];
	vmmu_config *c = vmmu_config_new();
	vmmu_machine *m;
	uint64_t a, v;

	(void)state;
	assert_int_equal(vmmu_config_set(c, "mode", "shadow", err, sizeof(err)), 0);
	assert_int_equal(vmmu_config_set(c, "guest-mem", "64M", err, sizeof(err)), 0);
	m = vmmu_machine_new(c, err, sizeof(err));
	assert_non_null(m);
	assert_true(vmmu_proc_new(m) >= 0);
	a = vmmu_mmap(m, 16 * 4096, VMMU_PROT_READ | VMMU_PROT_WRITE, 0);
	assert_true(a != 0);

	assert_int_equal(vmmu_region_end(m), VMMU_ERR_REGION_NOT_BEGUN);
	assert_int_equal(vmmu_region_stat(m, "accesses"), UINT64_MAX);
	for (unsigned i = 0; i < 16; i++) /* warm-up: every page faults in */
		assert_int_equal(vmmu_store(m, a + i * 4096, 8, i), 0);
	assert_int_equal(vmmu_region_begin(m), 0);
	assert_int_equal(vmmu_region_begin(m), VMMU_ERR_REGION_BEGUN);
	for (unsigned i = 0; i < 16; i++) {
		assert_int_equal(vmmu_load(m, a + i * 4096, 8, &v), 0);
		assert_int_equal(v, i);
	}
	/* Open: the region so far. */
	assert_int_equal(vmmu_region_stat(m, "accesses"), 16);
	assert_int_equal(vmmu_region_stat(m, "guest_faults"), 0);
	assert_int_equal(vmmu_region_end(m), 0);
	assert_int_equal(vmmu_region_end(m), VMMU_ERR_REGION_NOT_BEGUN);
	assert_int_equal(vmmu_region_begin(m), VMMU_ERR_REGION_BEGUN);
	/* After the end, more work changes the whole run only. */
	assert_int_equal(vmmu_load(m, a, 8, &v), 0);
	assert_int_equal(vmmu_region_stat(m, "accesses"), 16);
	assert_int_equal(vmmu_region_stat(m, "no_such_counter"), UINT64_MAX);
	assert_true(vmmu_stat(m, "accesses") > 17);
	assert_true(vmmu_region_est_cycles(m) < vmmu_est_cycles(m));
	vmmu_machine_free(m);

	/* vmmu_run: the region by default, the whole run on request. */
	assert_int_equal(vmmu_config_set(c, "pages", "256", err, sizeof(err)), 0);
	assert_int_equal(vmmu_config_set(c, "ops", "1000", err, sizeof(err)), 0);
	vmmu_result *r = vmmu_run(c, "random", err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(vmmu_result_is_region(r), 1);
	assert_int_equal(vmmu_result_stat(r, "accesses"), 2000);
	assert_int_equal(vmmu_result_whole_stat(r, "user_accesses"), 2 * 256 + 4 * 1000);
	assert_true(vmmu_result_whole_est_cycles(r) > vmmu_result_est_cycles(r));
	vmmu_result_free(r);
	assert_int_equal(vmmu_config_set(c, "whole-run", "on", err, sizeof(err)), 0);
	r = vmmu_run(c, "random", err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(vmmu_result_is_region(r), 0);
	assert_int_equal(vmmu_result_stat(r, "user_accesses"), 2 * 256 + 4 * 1000);
	vmmu_result_free(r);
	vmmu_config_free(c);
}

/* ---- the CSV says what the counters cover ---- */

static void test_csv_roi_columns(void **state)
{
	const char *names[512];
	size_t n = csv_columns(names, 512);

	(void)state;
	assert_true(n <= 512);
	/* The region block, then the simulator's own sim_s and rss_bytes last. */
	assert_string_equal(names[n - 6], "roi");
	assert_string_equal(names[n - 5], "whole_accesses");
	assert_string_equal(names[n - 4], "whole_est_cycles");
	assert_string_equal(names[n - 3], "whole_cycles_per_access");
	assert_string_equal(names[n - 2], "sim_s");
	assert_string_equal(names[n - 1], "rss_bytes");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stats_delta_every_counter),
	    cmocka_unit_test(test_warmup_plus_region_is_whole),
	    cmocka_unit_test(test_warmup_bounds),
	    cmocka_unit_test(test_random_region_is_the_update_loop),
	    cmocka_unit_test(test_ptrchase_kv_regions),
	    cmocka_unit_test(test_fault_workloads_are_whole),
	    cmocka_unit_test(test_api_region_calls),
	    cmocka_unit_test(test_csv_roi_columns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

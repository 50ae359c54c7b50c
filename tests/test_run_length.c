/*
 * test_run_length.c - shadow paging's cost per access does not grow with
 * run length on the fault-heavy workloads, and where its average moves,
 * the move is a one-time warm-up whose size the test pins.
 *
 * Default configuration (skylake-sp, 1 GiB guest, 4K host pages, unsync
 * leaf tables as KVM's mmu_try_to_unsync_pages() allows), seed 1, the
 * workloads' default page counts; docs/validation.md ("Run length") gives
 * the same figures.
 *
 *   - `faults`: each round maps, touches and unmaps 1024 fresh pages, so
 *     every round does the same work: cycles per access at 512 rounds are
 *     within 2% of 64 rounds.
 *   - `mmap-churn`: its average falls from 64 to 512 steps because of a
 *     fixed cost, not a growing one. Shadow takes exactly one hidden fault
 *     per guest fault (the retried access after the guest has filled its
 *     PTE), plus hidden faults for guest frames the run touches for the
 *     first time through the guest kernel's direct map (zeroing a new
 *     frame, writing a new table), each of which needs its spte once. The
 *     latter stop growing when the guest's frame allocator starts to
 *     reuse frames: 444 at 64 steps, 619 at 256 and at 512. Nested paging
 *     pays the same warm-up as EPT violations (445, 619, 619). Past the
 *     warm-up the cost of one more access (the difference of two runs'
 *     cycles over the difference of their accesses) is flat within 2%.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../src/cli/registry.h"
#include "../src/core/config.h"
#include "../src/lib/run.h"
#include "../workloads/workload.h"

static struct run_result run_len(const char *wl, const char *mode, uint64_t ops)
{
	const struct workload *w = workload_find(wl);
	assert_non_null(w);
	struct wl_params p = {.seed = 1, .pages = w->def_pages, .ops = ops};
	struct vm_config c;
	config_defaults(&c);
	c.mode = mode;
	struct run_result r;
	if (run_workload(&c, w, &p, NULL, &r) != 0)
		fail_msg("%s/%s ops %llu: %s", wl, mode, (unsigned long long)ops, r.err);
	return r;
}

static double per_access(const struct run_result *r)
{
	return (double)r->est_cycles / (double)r->st.accesses;
}

/* Cycles of one more access: from run a to the longer run b. */
static double marginal(const struct run_result *a, const struct run_result *b)
{
	return (double)(b->est_cycles - a->est_cycles) / (double)(b->st.accesses - a->st.accesses);
}

static void assert_within(double x, double y, double frac)
{
	double d = x > y ? x - y : y - x;
	if (d > frac * y)
		fail_msg("%.2f and %.2f differ by more than %.1f%%", x, y, 100 * frac);
}

static void test_faults_flat(void **state)
{
	(void)state;
	struct run_result a = run_len("faults", "shadow", 64);
	struct run_result b = run_len("faults", "shadow", 512);
	/* One guest fault per page per round: 1024 x rounds. */
	assert_int_equal(a.st.guest_faults, 64 * 1024);
	assert_int_equal(b.st.guest_faults, 512 * 1024);
	assert_within(per_access(&b), per_access(&a), 0.02);
}

static void test_mmap_churn_warmup(void **state)
{
	(void)state;
	static const uint64_t ops[4] = {64, 256, 512, 1024};
	static const uint64_t extra[3] = {444, 619, 619};
	static const uint64_t ept[3] = {445, 619, 619};
	struct run_result s[4];
	for (int i = 0; i < 4; i++)
		s[i] = run_len("mmap-churn", "shadow", ops[i]);
	for (int i = 0; i < 3; i++) {
		assert_true(s[i].st.exits_hidden_fault > s[i].st.guest_faults);
		assert_int_equal(s[i].st.exits_hidden_fault - s[i].st.guest_faults, extra[i]);
		assert_int_equal(s[i].st.exits_fault_inject, s[i].st.guest_faults);
		struct run_result n = run_len("mmap-churn", "nested", ops[i]);
		assert_int_equal(n.st.exits_ept_violation, ept[i]);
		assert_int_equal(n.st.guest_faults, s[i].st.guest_faults);
	}
	/* The average falls by more than 2% from 64 to 512 steps ... */
	assert_true(per_access(&s[0]) > 1.02 * per_access(&s[2]));
	/* ... but the cost of one more access past the warm-up does not. */
	assert_within(marginal(&s[2], &s[3]), marginal(&s[1], &s[2]), 0.02);
	/* And without the warm-up's frames the average is flat: each of its
	 * hidden faults costs at least the exit and the handler. */
	struct vm_config c;
	config_defaults(&c);
	uint64_t fixed = (uint64_t)c.cost.vmexit + c.cost.vmm_hidden_fault;
	double a0 = (double)(s[0].est_cycles - extra[0] * fixed) / (double)s[0].st.accesses;
	double a2 = (double)(s[2].est_cycles - extra[2] * fixed) / (double)s[2].st.accesses;
	assert_within(a2, a0, 0.02);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_faults_flat),
	    cmocka_unit_test(test_mmap_churn_warmup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

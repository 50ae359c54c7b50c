/*
 * test_faults.c - injected host allocation failures (cfg.fail_alloc_at, the
 * hook behind VMMU_FAIL_ALLOC_AT; src/core/vm.c).
 *
 * For each mode and a few workloads, a clean run counts its host
 * allocations (VMM frames and guest chunks), A; then the run is repeated
 * with allocation N failing, for every N in 1..A: each must end with
 * run_workload() returning -1 and the exact message naming N, wherever the
 * allocation happens (mode init inside vm_create(), guest boot, a shadow
 * page, an EPT table, a guest chunk). N = A + 1 never fires: the run
 * completes with the clean run's checksum and digest. Under
 * `make SANITIZE=1 test`, LeakSanitizer checks at exit that none of the
 * aborted runs leaked.
 *
 * Native paging has an identity p2m and no VMM: it allocates nothing from
 * host memory, so A = 0 there and the hook never fires.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/cli/registry.h"
#include "../src/core/config.h"
#include "../src/core/vm.h"
#include "../src/lib/run.h"

static void count_allocs(struct vm *vm, void *ctx)
{
	*(uint64_t *)ctx = vm->hm.allocs;
}

/* Every injection point of one workload under one mode. */
static void sweep_failures(const char *mode, const char *wname, uint64_t *total)
{
	const struct workload *w = workload_find(wname);
	struct wl_params p = {.seed = 7, .pages = 16, .ops = 200, .procs = 2};
	struct vm_config c;
	struct run_result clean, r;
	uint64_t allocs = 0;
	struct run_hooks hooks = {.after_run = count_allocs, .ctx = &allocs};
	char want[160];

	assert_non_null(w);
	config_defaults(&c);
	c.guest_mem = UINT64_C(16) << 20;
	c.mode = mode;
	c.fail_alloc_at = UINT64_MAX; /* counts, never fires */
	assert_int_equal(run_workload(&c, w, &p, &hooks, &clean), 0);
	*total = allocs;
	for (uint64_t n = 1; n <= allocs; n++) {
		c.fail_alloc_at = n;
		assert_int_equal(run_workload(&c, w, &p, NULL, &r), -1);
		snprintf(want, sizeof(want),
			 "host memory allocation %" PRIu64 " failed (injected: VMMU_FAIL_ALLOC_AT)",
			 n);
		assert_string_equal(r.err, want);
		assert_false(r.ok);
	}
	c.fail_alloc_at = allocs + 1;
	assert_int_equal(run_workload(&c, w, &p, NULL, &r), 0);
	assert_int_equal(r.checksum, clean.checksum);
	assert_int_equal(r.guest_digest, clean.guest_digest);
}

static void test_native_allocates_nothing(void **state)
{
	uint64_t total;

	(void)state;
	sweep_failures("native", "fork", &total);
	assert_int_equal(total, 0);
}

static void test_shadow_every_failure(void **state)
{
	uint64_t total;

	(void)state;
	sweep_failures("shadow", "fork", &total);
	assert_true(total > 10); /* shadow pages of two processes, at least */
	sweep_failures("shadow", "mmap-churn", &total);
	assert_true(total > 0);
}

static void test_nested_every_failure(void **state)
{
	uint64_t total;

	(void)state;
	sweep_failures("nested", "fork", &total);
	assert_true(total > 10); /* EPT tables and guest chunks */
	sweep_failures("nested", "ctxswitch", &total);
	assert_true(total > 0);
}

/* The first allocation of nested happens in mode init, inside vm_create():
 * it must come back as an error, not exit the process. */
static void test_failure_inside_vm_create(void **state)
{
	struct vm_config c;
	char err[256];

	(void)state;
	config_defaults(&c);
	c.guest_mem = UINT64_C(16) << 20;
	c.mode = "nested";
	c.fail_alloc_at = 1;
	assert_null(vm_create(&c, err, sizeof(err)));
	assert_string_equal(err, "host memory allocation 1 failed (injected: VMMU_FAIL_ALLOC_AT)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_native_allocates_nothing),
	    cmocka_unit_test(test_shadow_every_failure),
	    cmocka_unit_test(test_nested_every_failure),
	    cmocka_unit_test(test_failure_inside_vm_create),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

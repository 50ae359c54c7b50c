/*
 * test_api.c - the public C API (include/vmmu.h), used exactly as a program
 * outside the project would: only the public header, no internal types.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "vmmu.h"

static vmmu_config *config(const char *mode)
{
	char err[256];
	vmmu_config *c = vmmu_config_new();
	assert_non_null(c);
	assert_int_equal(vmmu_config_set(c, "mode", mode, err, sizeof(err)), 0);
	assert_int_equal(vmmu_config_set(c, "guest-mem", "64M", err, sizeof(err)), 0);
	return c;
}

/* Settings are named as flags; a bad name or value is refused with the
 * flag named in the message. */
static void test_config_errors(void **state)
{
	(void)state;
	char err[256] = "";
	vmmu_config *c = vmmu_config_new();
	assert_int_equal(vmmu_config_set(c, "levels", "7", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "levels"));
	assert_int_equal(vmmu_config_set(c, "mode", "bogus", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bogus"));
	assert_int_equal(vmmu_config_set(c, "no-such-flag", "1", err, sizeof(err)), -1);
	assert_null(vmmu_run(c, "no-such-workload", err, sizeof(err)));
	assert_non_null(strstr(err, "no-such-workload"));
	vmmu_config_free(c);
	assert_true(vmmu_stat_count() > 20);
	assert_string_equal(vmmu_stat_name(0), "accesses");
	assert_null(vmmu_stat_name(vmmu_stat_count()));
}

/* A built-in workload by name: faults raises one guest fault per page and
 * round, and the three modes agree on checksum and digest. */
static void test_run_workload(void **state)
{
	(void)state;
	const char *modes[] = { "native", "shadow", "nested" };
	uint64_t sum = 0, dig = 0;
	for (int i = 0; i < 3; i++) {
		char err[256];
		vmmu_config *c = config(modes[i]);
		assert_int_equal(vmmu_config_set(c, "pages", "64", err, sizeof(err)), 0);
		assert_int_equal(vmmu_config_set(c, "ops", "3", err, sizeof(err)), 0);
		vmmu_result *r = vmmu_run(c, "faults", err, sizeof(err));
		assert_non_null(r);
		assert_int_equal(vmmu_result_stat(r, "guest_faults"), 64 * 3);
		assert_int_equal(vmmu_result_stat(r, "no_such_counter"), UINT64_MAX);
		assert_true(vmmu_result_est_cycles(r) > 0);
		if (i == 0) {
			sum = vmmu_result_checksum(r);
			dig = vmmu_result_digest(r);
			assert_int_equal(vmmu_result_stat(r, "vm_exits"), 0);
		} else {
			assert_int_equal(vmmu_result_checksum(r), sum);
			assert_int_equal(vmmu_result_digest(r), dig);
			assert_true(vmmu_result_stat(r, "vm_exits") > 0);
		}
		vmmu_result_free(r);
		vmmu_config_free(c);
	}
}

/*
 * A guest driven by hand, in every mode: map, store, fork, write in the
 * child (copy-on-write), switch back, and check isolation and exact fault
 * counts: 2 demand faults (two pages) + 1 CoW fault in the child + 1 in the
 * parent when it writes its copy after the fork.
 */
static void test_machine(void **state)
{
	(void)state;
	const char *modes[] = { "native", "shadow", "nested" };
	uint64_t digest[3];
	for (int i = 0; i < 3; i++) {
		char err[256];
		vmmu_config *c = config(modes[i]);
		vmmu_machine *m = vmmu_machine_new(c, err, sizeof(err));
		assert_non_null(m);
		/* The counts start after the boot (its TLB-hit counts included). */
		assert_int_equal(vmmu_stat(m, "accesses"), 0);
		assert_int_equal(vmmu_load(m, 0x10000000, 8, &(uint64_t){ 0 }), -1); /* no process */
		int parent = vmmu_proc_new(m);
		assert_true(parent >= 0);
		uint64_t a = vmmu_mmap(m, 2 * 4096, VMMU_PROT_READ | VMMU_PROT_WRITE, 0);
		assert_true(a != 0);
		assert_int_equal(vmmu_store(m, a, 8, 0x1111), 0);
		assert_int_equal(vmmu_store(m, a + 4096 - 2, 4, 0xaabbccdd), 0); /* straddles */
		assert_int_equal(vmmu_stat(m, "guest_faults"), 2);
		/* 100 loads of a mapped page: 100 accesses, every one a user
		 * access and a TLB hit, however the hit path counted them. */
		uint64_t acc = vmmu_stat(m, "accesses"), uacc = vmmu_stat(m, "user_accesses");
		uint64_t hits = vmmu_stat(m, "tlb_hits");
		for (int k = 0; k < 100; k++)
			assert_int_equal(vmmu_load(m, a + 8 * (uint64_t)k, 8, &(uint64_t){ 0 }), 0);
		assert_int_equal(vmmu_stat(m, "accesses"), acc + 100);
		assert_int_equal(vmmu_stat(m, "user_accesses"), uacc + 100);
		assert_int_equal(vmmu_stat(m, "tlb_hits"), hits + 100);
		int child = vmmu_fork(m);
		assert_true(child > parent);
		assert_int_equal(vmmu_switch(m, child), 0);
		uint64_t v = 0;
		assert_int_equal(vmmu_load(m, a, 8, &v), 0);
		assert_int_equal(v, 0x1111);
		assert_int_equal(vmmu_store(m, a, 8, 0x2222), 0);
		assert_int_equal(vmmu_stat(m, "cow_faults"), 1);
		assert_int_equal(vmmu_switch(m, parent), 0);
		assert_int_equal(vmmu_load(m, a, 8, &v), 0);
		assert_int_equal(v, 0x1111);
		assert_int_equal(vmmu_load(m, a + 4096 - 2, 4, &v), 0);
		assert_int_equal(v, 0xaabbccdd);
		assert_int_equal(vmmu_store(m, a, 8, 0x3333), 0);
		assert_int_equal(vmmu_stat(m, "cow_faults"), 2);
		assert_int_equal(vmmu_exit(m, child, -1), 0);
		assert_int_equal(vmmu_exit(m, child, -1), -1); /* already gone */
		assert_int_equal(vmmu_munmap(m, a, 2 * 4096), 0);
		digest[i] = vmmu_guest_digest(m);
		/* A segfault makes the machine unusable, with the reason kept. */
		assert_int_equal(vmmu_load(m, a, 8, &v), -1);
		assert_non_null(strstr(vmmu_error(m), "segfault"));
		assert_int_equal(vmmu_store(m, 0x10000000, 8, 1), -1);
		vmmu_machine_free(m);
		vmmu_config_free(c);
	}
	assert_int_equal(digest[0], digest[1]);
	assert_int_equal(digest[0], digest[2]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_run_workload),
		cmocka_unit_test(test_machine),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

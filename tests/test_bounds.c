/*
 * test_bounds.c - unit tests of the machine-size bounds and the bookkeeping
 * budget (src/core/bounds.c), and of vm_create() refusing what they refuse.
 *
 * Each bound is tried at its value (accepted) and one past it (refused, with
 * a message that names the flag); the budget is tried against an injected
 * figure of available memory so the test does not depend on the host.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/core/bounds.h"
#include "../src/core/config.h"
#include "../src/core/vm.h"
#include "../src/cli/registry.h"

static void defaults(struct vm_config *c)
{
	config_defaults(c);
	c->guest_mem = UINT64_C(64) << 20;
}

static void test_defaults_in_bounds(void **state)
{
	char err[512];
	struct vm_config c;

	(void)state;
	defaults(&c);
	assert_int_equal(config_check_bounds(&c, err, sizeof(err)), 0);
}

static void test_tlb_bounds(void **state)
{
	char err[512];
	struct vm_config c;

	(void)state;
	defaults(&c);
	c.l2 = (struct tlb_geom){.sets = 4096, .ways = 16}; /* 65536 entries: the bound */
	assert_int_equal(config_check_bounds(&c, err, sizeof(err)), 0);
	c.l2 = (struct tlb_geom){.sets = 4096, .ways = 17};
	assert_int_equal(config_check_bounds(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--tlb (L2): 4096x17 is out of bounds"));
	defaults(&c);
	c.l1i = (struct tlb_geom){.sets = 8192, .ways = 1};
	assert_int_equal(config_check_bounds(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--itlb: 8192x1"));
	defaults(&c);
	c.l1d_large = (struct tlb_geom){.sets = 1, .ways = 1025};
	assert_int_equal(config_check_bounds(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--tlb-large"));
	defaults(&c);
	c.l1d = (struct tlb_geom){.sets = 48, .ways = 2}; /* not a power of two */
	assert_int_equal(config_check_bounds(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--tlb (L1)"));
	defaults(&c);
	c.l1d = (struct tlb_geom){.sets = 1, .ways = 1024};
	assert_int_equal(config_check_bounds(&c, err, sizeof(err)), 0);
}

static void test_cache_bounds(void **state)
{
	char err[512];
	struct vm_config c;

	(void)state;
	defaults(&c);
	c.psc_entries[LVL_PD] = BOUND_PSC_ENTRIES;
	c.pwc_entries = BOUND_PWC_ENTRIES;
	c.ntlb_entries = BOUND_NTLB_ENTRIES;
	c.shadow_roots = BOUND_SHADOW_ROOTS;
	c.shadow_cap = c.guest_mem >> 12;
	assert_int_equal(config_check_bounds(&c, err, sizeof(err)), 0);
	c.psc_entries[LVL_PD]++;
	assert_int_equal(config_check_bounds(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "--psc: 4097 entries is more than 4096 per level");
	c.psc_entries[LVL_PD]--;
	c.pwc_entries++;
	assert_int_equal(config_check_bounds(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "--pwc-entries: 4097 is more than 4096");
	c.pwc_entries--;
	c.ntlb_entries++;
	assert_int_equal(config_check_bounds(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "--ntlb-entries: 4097 is more than 4096");
	c.ntlb_entries--;
	c.shadow_roots++;
	assert_int_equal(config_check_bounds(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "--shadow-roots: 1025 is more than 1024");
	c.shadow_roots--;
	c.shadow_cap++;
	assert_int_equal(config_check_bounds(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "--shadow-cap: 16385 is more than one shadow page per guest "
				 "page (16384 with this --guest-mem)");
}

static void test_budget(void **state)
{
	char err[512];
	struct vm_config c;

	(void)state;
	defaults(&c);
	/* p2m 8 + frame refcount 4 + kind 1 + shadow rmap 4. */
	assert_int_equal(budget_per_frame(), 17);
	c.guest_mem = UINT64_C(1) << 40; /* 2^28 frames: 4.25 GiB of bookkeeping */
	assert_int_equal(config_check_budget(&c, UINT64_C(17) << 28, err, sizeof(err)), 0);
	assert_int_equal(config_check_budget(&c, (UINT64_C(17) << 28) - 1, err, sizeof(err)), -1);
	assert_string_equal(err, "a guest of 1024.0 GiB needs 4.2 GiB of bookkeeping alone (17 "
				 "bytes per 4 KiB frame x 268435456 frames), more than the 4.2 GiB "
				 "of memory available");
	assert_int_equal(config_check_budget(&c, UINT64_C(1) << 30, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than the 1.0 GiB of memory available"));
	assert_true(budget_available() > 0);
}

/* vm_create() applies the bounds: the API cannot bypass them. */
static void test_vm_create_refuses(void **state)
{
	char err[512];
	struct vm_config c;

	(void)state;
	defaults(&c);
	c.mode = "native";
	c.l1i = (struct tlb_geom){.sets = 65536, .ways = 1024};
	assert_null(vm_create(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "--itlb: 65536x1024 is out of bounds"));
	defaults(&c);
	c.mode = "native";
	struct vm *vm = vm_create(&c, err, sizeof(err));
	assert_non_null(vm);
	vm_destroy(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults_in_bounds), cmocka_unit_test(test_tlb_bounds),
	    cmocka_unit_test(test_cache_bounds),       cmocka_unit_test(test_budget),
	    cmocka_unit_test(test_vm_create_refuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_pkey.c - protection keys through the guest kernel: pkey_mprotect
 * (gmm_pkey_mprotect()), WRPKRU (cpu_set_pkru()) and CR4.PKE (--pke on),
 * under every mode that has them (mmu_ops.has_pke: native and nested).
 *
 * A process maps 4 pages and writes each (4 demand faults), then gives
 * pages 1 and 2 key 3:
 *
 *   page   0        1        2        3
 *   key    0        3        3        0
 *
 * PKRU.AD3 (bit 6) then denies a user read of page 1, a #PF with error
 * code P | U | PK = 0x25, which the guest kernel turns into a segfault
 * (Linux's SEGV_PKUERR); pages 0 and 3 stay readable. PKRU.WD3 (bit 7)
 * allows the read and denies a write to page 2 (0x27). WRPKRU flushes
 * nothing: a translation already in the TLB is denied at once. A forked
 * child inherits the keys. With --pke off the same PKRU denies nothing.
 * Every mode gives the same messages, the same sum of the loads that went
 * through, and the same fault counts (4 demand faults, 3 key violations).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/cli/registry.h"
#include "../src/core/config.h"
#include "../src/core/cpu.h"
#include "../src/core/vm.h"
#include "../src/guest-mm/gmm.h"

#define PG UINT64_C(4096)
#define AD3 (1u << 6)
#define WD3 (1u << 7)

struct pk_run {
	char msg[4][256]; /* the segfaults, in order */
	uint64_t sum;	  /* loads that went through */
	uint64_t guest_faults, demand_faults;
};

/* One user access that must fault (the message is kept) or not. */
static bool pk_try(struct vm *vm, gva_t va, bool write, char *msg, size_t len, uint64_t *sum)
{
	jmp_buf jb;
	vm->abort_jmp = &jb;
	if (setjmp(jb) != 0) {
		vm->abort_jmp = NULL;
		snprintf(msg, len, "%s", vm->err);
		return false;
	}
	cpu_set_user(&vm->vcpu, true);
	if (write)
		cpu_store(&vm->vcpu, va, 8, va);
	else
		*sum += cpu_load(&vm->vcpu, va, 8);
	cpu_set_user(&vm->vcpu, false);
	vm->abort_jmp = NULL;
	return true;
}

static void pk_scenario(const char *mode, bool pke, struct pk_run *out)
{
	struct vm_config cfg;
	char err[256], detail[256];
	config_defaults(&cfg);
	cfg.mode = mode;
	cfg.guest_mem = UINT64_C(32) << 20;
	cfg.cr4_pke = pke;
	struct vm *vm = vm_create(&cfg, err, sizeof(err));
	if (vm == NULL)
		fail_msg("vm_create(%s): %s", mode, err);
	assert_int_equal(gmm_boot(vm), 0);
	memset(&vm->st, 0, sizeof(vm->st));
	memset(out, 0, sizeof(*out));
	assert_non_null(gmm_proc_create(vm));
	gva_t b = gmm_mmap(vm, 0, 4 * PG, GPROT_READ | GPROT_WRITE, 0);
	assert_int_not_equal(b, 0);
	for (int i = 0; i < 4; i++)
		assert_true(pk_try(vm, b + i * PG, true, err, sizeof(err), &out->sum));
	assert_int_equal(gmm_pkey_mprotect(vm, b + PG, 2 * PG, GPROT_READ | GPROT_WRITE, 3), 0);
	assert_int_equal(gmm_pkey_mprotect(vm, b, PG, GPROT_READ, 16), -1); /* no key 16 */
	assert_null(gmm_check(vm, detail, sizeof(detail)));
	/* The translations of pages 1 and 2 are in the TLB: WRPKRU denies
	 * them at once. */
	assert_true(pk_try(vm, b + PG, false, err, sizeof(err), &out->sum));
	cpu_set_pkru(&vm->vcpu, AD3);
	bool ok0 = pk_try(vm, b, false, err, sizeof(err), &out->sum);
	bool ok3 = pk_try(vm, b + 3 * PG, false, err, sizeof(err), &out->sum);
	assert_true(ok0 && ok3);
	int n = 0;
	if (!pk_try(vm, b + PG, false, out->msg[n], sizeof(out->msg[n]), &out->sum))
		n++;
	cpu_set_pkru(&vm->vcpu, WD3);
	assert_true(pk_try(vm, b + 2 * PG, false, err, sizeof(err), &out->sum));
	if (!pk_try(vm, b + 2 * PG, true, out->msg[n], sizeof(out->msg[n]), &out->sum))
		n++;
	/* A forked child has the same keys. */
	cpu_set_pkru(&vm->vcpu, 0);
	struct gproc *child = gmm_fork(vm, gmm_current(vm));
	assert_non_null(child);
	gmm_switch_to(vm, child);
	cpu_set_pkru(&vm->vcpu, AD3);
	if (!pk_try(vm, b + 2 * PG, false, out->msg[n], sizeof(out->msg[n]), &out->sum))
		n++;
	assert_true(pk_try(vm, b + 3 * PG, false, err, sizeof(err), &out->sum));
	out->guest_faults = vm->st.guest_faults;
	out->demand_faults = vm->st.demand_faults;
	vm_destroy(vm);
}

static void test_pkey_every_mode(void **state)
{
	(void)state;
	struct pk_run ref, r;
	bool have_ref = false;
	int nmodes = 0;
	for (int i = 0; mmu_modes[i]; i++) {
		if (!mmu_modes[i]->has_pke)
			continue;
		pk_scenario(mmu_modes[i]->name, true, &r);
		assert_string_equal(r.msg[0], "segfault: pid 1: user read at 0x10001000 (#PF error "
					      "code 0x25): the protection key denies it (PKRU)");
		assert_string_equal(r.msg[1], "segfault: pid 1: user write at 0x10002000 (#PF "
					      "error code 0x27): the protection key denies it (PKRU)");
		assert_string_equal(r.msg[2], "segfault: pid 2: user read at 0x10002000 (#PF error "
					      "code 0x25): the protection key denies it (PKRU)");
		assert_int_equal(r.demand_faults, 4);
		/* 4 demand faults and the 3 key violations. */
		assert_int_equal(r.guest_faults, 7);
		if (have_ref)
			assert_int_equal(r.sum, ref.sum);
		ref = r;
		have_ref = true;
		nmodes++;
	}
	assert_true(nmodes >= 2);
}

/* Without CR4.PKE the keys are ignored bits: nothing is denied. */
static void test_pkey_off(void **state)
{
	(void)state;
	struct pk_run r;
	pk_scenario("native", false, &r);
	assert_string_equal(r.msg[0], "");
	assert_int_equal(r.guest_faults, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pkey_every_mode),
	    cmocka_unit_test(test_pkey_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_audit.c - the incremental shadow audit (--audit after every exit):
 * it checks what the exit touched, and that is enough to catch a corrupted
 * spte that the VMM wrote.
 *
 *   - a leaf spte that the VMM's own write path (spte_set) points at a
 *     wrong host frame, then any exit: the incremental audit fails the run
 *     with spte-frame;
 *   - the same with rights the gpte withholds (a writable copy-on-write
 *     mapping): spte-rights;
 *   - a corruption written behind the VMM's back (no spte_set) is not seen
 *     by the incremental audit, whose contract covers the VMM's writes; the
 *     full audit, which a run with --audit makes at its end, catches it;
 *   - a clean run with fork, exit, munmap and mmap passes the incremental
 *     audit at every exit and the full audit after every round.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/core/cpu.h"
#include "../src/guest-mm/gmm.h"
#include "../src/shadow/shadow.h"
#include "../src/cli/registry.h"

#define RW (GPROT_READ | GPROT_WRITE)

static struct vm *boot_shadow(bool audit)
{
	struct vm_config c;
	config_defaults(&c);
	c.mode = "shadow";
	c.guest_mem = UINT64_C(64) << 20;
	c.shadow_sync = SYNC_EAGER;
	c.audit = audit;
	char err[256];
	struct vm *vm = vm_create(&c, err, sizeof(err));
	if (!vm)
		fail_msg("vm_create: %s", err);
	if (gmm_boot(vm) != 0)
		fail_msg("gmm_boot: %s", vm->err);
	return vm;
}

static void user_store(struct vm *vm, gva_t va, uint64_t val)
{
	cpu_set_user(&vm->vcpu, true);
	cpu_store(&vm->vcpu, va, 8, val);
	cpu_set_user(&vm->vcpu, false);
}

/* The leaf spte of va under the current root, with its page and index. */
static uint64_t leaf_of(struct vm *vm, gva_t va, struct shadow_page **spo, unsigned *idx)
{
	struct shadow *sh = shadow_of(vm);
	struct shadow_page *sp = sh->cur.sp;
	for (int l = vm->cfg.levels;; l--) {
		unsigned i = pt_index(va, l);
		uint64_t s = spte_get(vm, sp, i);
		if (!gpte_present(s))
			return 0;
		if (spte_leaf(s, l)) {
			*spo = sp;
			*idx = i;
			return s;
		}
		sp = sp_of_hfn(sh, hpa_to_hfn(HPA(pte_frame(s))));
	}
}

/* Run an INVLPG (an exit) and return the abort message, or NULL. */
static const char *exit_audited(struct vm *vm, gva_t va)
{
	jmp_buf jb;
	vm->abort_jmp = &jb;
	if (setjmp(jb) != 0) {
		vm->abort_jmp = NULL;
		return vm->err;
	}
	cpu_set_user(&vm->vcpu, false);
	cpu_invlpg(&vm->vcpu, va + 64 * PAGE_SIZE);
	vm->abort_jmp = NULL;
	return NULL;
}

static void test_incremental_catches_vmm_write(void **state)
{
	(void)state;
	struct vm *vm = boot_shadow(true);
	gmm_proc_create(vm);
	gva_t base = gmm_mmap(vm, 0, 8 * PAGE_SIZE, RW, 0);
	for (int i = 0; i < 8; i++)
		user_store(vm, base + (uint64_t)i * PAGE_SIZE, (uint64_t)i + 1);
	assert_null(exit_audited(vm, base));

	struct shadow_page *sp;
	unsigned idx;
	uint64_t s = leaf_of(vm, base + 3 * PAGE_SIZE, &sp, &idx);
	assert_true(gpte_present(s));
	/* A buggy handler installs the wrong frame through the VMM's own path. */
	spte_set(&vm->vcpu, sp, idx, s ^ (UINT64_C(1) << PAGE_SHIFT));
	const char *err = exit_audited(vm, base);
	assert_non_null(err);
	assert_non_null(strstr(err, "spte-frame"));
	vm_destroy(vm);
}

static void test_incremental_catches_wide_rights(void **state)
{
	(void)state;
	struct vm *vm = boot_shadow(true);
	struct gproc *p = gmm_proc_create(vm);
	gva_t base = gmm_mmap(vm, 0, 2 * PAGE_SIZE, RW, 0);
	user_store(vm, base, 5);
	/* After fork the page is copy-on-write: read-only in the gpte. */
	struct gproc *child = gmm_fork(vm, p);
	assert_non_null(child);
	cpu_set_user(&vm->vcpu, true);
	(void)cpu_load(&vm->vcpu, base, 8);
	cpu_set_user(&vm->vcpu, false);
	struct shadow_page *sp;
	unsigned idx;
	uint64_t s = leaf_of(vm, base, &sp, &idx);
	assert_true(gpte_present(s));
	assert_false(s & GPTE_RW);
	spte_set(&vm->vcpu, sp, idx, s | GPTE_RW | GPTE_D);
	const char *err = exit_audited(vm, base);
	assert_non_null(err);
	assert_non_null(strstr(err, "spte-rights"));
	vm_destroy(vm);
}

static void test_full_audit_catches_write_behind_the_vmm(void **state)
{
	(void)state;
	struct vm *vm = boot_shadow(true);
	gmm_proc_create(vm);
	gva_t base = gmm_mmap(vm, 0, 4 * PAGE_SIZE, RW, 0);
	for (int i = 0; i < 4; i++)
		user_store(vm, base + (uint64_t)i * PAGE_SIZE, 9);
	struct shadow_page *sp;
	unsigned idx;
	uint64_t s = leaf_of(vm, base + PAGE_SIZE, &sp, &idx);
	assert_true(gpte_present(s));
	hpa_write64(vm, spte_addr(sp, idx), s ^ (UINT64_C(1) << PAGE_SHIFT));
	/* Not the VMM's write: the next exit's incremental audit does not look. */
	assert_null(exit_audited(vm, base));
	/* The full audit (end of a run with --audit) does. */
	char detail[200];
	assert_string_equal(shadow_mmu_ops.audit(vm, detail, sizeof(detail)), "spte-frame");
	hpa_write64(vm, spte_addr(sp, idx), s);
	assert_null(shadow_mmu_ops.audit(vm, detail, sizeof(detail)));
	vm_destroy(vm);
}

/* The same program under --audit agrees with the full audit at every
 * exit, and at the end. */
static void test_incremental_agrees_on_clean_run(void **state)
{
	(void)state;
	struct vm *vm = boot_shadow(true);
	struct gproc *p = gmm_proc_create(vm);
	gva_t base = gmm_mmap(vm, 0, 64 * PAGE_SIZE, RW, 0);
	jmp_buf jb;
	vm->abort_jmp = &jb;
	if (setjmp(jb) != 0)
		fail_msg("aborted: %s", vm->err);
	char detail[200];
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 64; i++)
			user_store(vm, base + (uint64_t)i * PAGE_SIZE, (uint64_t)(round * 64 + i));
		struct gproc *c = gmm_fork(vm, p);
		assert_non_null(c);
		gmm_switch_to(vm, c);
		for (int i = 0; i < 64; i += 3)
			user_store(vm, base + (uint64_t)i * PAGE_SIZE, 1);
		gmm_exit(vm, c, p);
		assert_int_equal(gmm_munmap(vm, base + 8 * PAGE_SIZE, 4 * PAGE_SIZE), 0);
		assert_non_null((void *)(uintptr_t)gmm_mmap(vm, base + 8 * PAGE_SIZE, 4 * PAGE_SIZE,
							    RW, GMAP_FIXED));
		assert_null(shadow_mmu_ops.audit(vm, detail, sizeof(detail)));
	}
	vm->abort_jmp = NULL;
	assert_true(vm->st.vm_exits > 100);
	vm_destroy(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_incremental_catches_vmm_write),
	    cmocka_unit_test(test_incremental_catches_wide_rights),
	    cmocka_unit_test(test_full_audit_catches_write_behind_the_vmm),
	    cmocka_unit_test(test_incremental_agrees_on_clean_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

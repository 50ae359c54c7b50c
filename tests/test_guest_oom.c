/*
 * test_guest_oom.c - a guest driven out of memory on purpose.
 *
 * A 16 MiB guest has 4096 frames: frame 0 is reserved, so 4095 can ever be
 * handed out (the message's "of 4095"). Boot takes 3 (the kernel's top
 * table, PDPT and PD of the direct map) and the process 1 (its top table).
 * A process maps 4090 pages at GMM_MMAP_BASE (0x10000000, PML4 slot 0)
 * and writes them in order. Each demand-zero fault takes one frame, plus
 * the page tables it first needs: a PDPT and a PD at the first touch, a PT
 * every 512 pages. After k pages, 3 + 1 + 2 + ceil(k / 512) + k frames are
 * used; with k = 4081 that is 4095, so page 4081 (at 0x10ff1000; its PT,
 * the 8th, is already there) finds no free frame:
 *
 *   frames  | 3 kernel | 1 top | PDPT PD | 8 PTs | 4081 data | = 4095
 *
 * The guest kernel's out-of-memory path then ends the run: on Linux, a
 * fault that cannot get a page ends in pagefault_out_of_memory() and the
 * OOM killer, which kills the only process there is; vmmu stops the run
 * there with "guest out of memory: pid P: no free guest frame for WHAT at
 * VA (0 of N frames free)", exit status 1. Exactly the same under every
 * mode of the registry: the message, the 4081 demand faults counted
 * before it, and no frame left.
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
#include "../src/lib/run.h"

#define OOM_MEM (UINT64_C(16) << 20)
#define OOM_PAGES 4090
#define OOM_TOUCHED 4081 /* pages written before the one that finds no frame */
#define OOM_MSG                                                                                   \
	"guest out of memory: pid 1: no free guest frame for a demand-zero page at 0x10ff1000 (0 " \
	"of 4095 frames free)"

/* The guest kernel's view, under one mode: write page after page until the
 * fault handler finds no frame. */
static void oom_by_hand(const char *mode)
{
	struct vm_config cfg;
	char err[256];
	jmp_buf jb;
	volatile uint64_t touched = 0;

	config_defaults(&cfg);
	cfg.mode = mode;
	cfg.guest_mem = OOM_MEM;
	struct vm *vm = vm_create(&cfg, err, sizeof(err));
	if (vm == NULL)
		fail_msg("vm_create(%s): %s", mode, err);
	assert_int_equal(gmm_boot(vm), 0);
	assert_int_equal(gmm_free_frames(vm), 4095 - 3);
	assert_non_null(gmm_proc_create(vm));
	assert_int_equal(gmm_free_frames(vm), 4095 - 4);
	gva_t base = gmm_mmap(vm, 0, (uint64_t)OOM_PAGES * 4096, GPROT_READ | GPROT_WRITE, 0);
	assert_int_equal(base, GMM_MMAP_BASE);
	memset(&vm->st, 0, sizeof(vm->st));
	vm->abort_jmp = &jb;
	if (setjmp(jb) == 0) {
		cpu_set_user(&vm->vcpu, true);
		for (uint64_t i = 0; i < OOM_PAGES; i++) {
			cpu_store(&vm->vcpu, base + i * 4096, 8, i + 1);
			touched = i + 1;
		}
		fail_msg("%s: %d pages written in a 16 MiB guest without running out", mode,
			 OOM_PAGES);
	}
	vm->abort_jmp = NULL;
	assert_string_equal(vm->err, OOM_MSG);
	assert_int_equal(touched, OOM_TOUCHED);
	assert_int_equal(vm->st.demand_faults, OOM_TOUCHED);
	/* Every write faulted once (demand zero), the last one too. */
	assert_int_equal(vm->st.guest_faults, OOM_TOUCHED + 1);
	assert_int_equal(gmm_free_frames(vm), 0);
	/* What was written before is there, and reads without a fault. */
	vm->abort_jmp = &jb;
	if (setjmp(jb) != 0)
		fail_msg("%s: a read after the out-of-memory fault aborted: %s", mode, vm->err);
	cpu_set_user(&vm->vcpu, true);
	for (uint64_t i = 0; i < OOM_TOUCHED; i += 511)
		assert_int_equal(cpu_load(&vm->vcpu, base + i * 4096, 8), i + 1);
	assert_int_equal(vm->st.guest_faults, OOM_TOUCHED + 1);
	vm->abort_jmp = NULL;
	vm_destroy(vm);
}

static void test_oom_by_hand_every_mode(void **state)
{
	(void)state;
	for (int i = 0; mmu_modes[i]; i++)
		oom_by_hand(mmu_modes[i]->name);
}

/* The same through run_workload() (what `vmmu run --workload seq
 * --guest-mem 16M --pages 4090` does): -1 and the same message under
 * every mode. seq maps its pages, then writes them in order (its first
 * pass). With 4081 pages it runs to the end, 4081 demand faults. */
static void test_oom_run_every_mode(void **state)
{
	const struct workload *w = workload_find("seq");
	struct wl_params p = {.seed = 1, .pages = OOM_PAGES, .ops = 2}; /* 2 passes */
	struct run_result r;
	struct vm_config c;

	(void)state;
	assert_non_null(w);
	for (int i = 0; mmu_modes[i]; i++) {
		config_defaults(&c);
		c.mode = mmu_modes[i]->name;
		c.guest_mem = OOM_MEM;
		assert_int_equal(run_workload(&c, w, &p, NULL, &r), -1);
		assert_false(r.ok);
		assert_string_equal(r.err, OOM_MSG);
	}
	/* One page fewer than the guest can hold runs to the end. */
	p.pages = OOM_TOUCHED;
	config_defaults(&c);
	c.mode = "native";
	c.guest_mem = OOM_MEM;
	assert_int_equal(run_workload(&c, w, &p, NULL, &r), 0);
	assert_int_equal(r.whole.demand_faults, OOM_TOUCHED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_oom_by_hand_every_mode),
	    cmocka_unit_test(test_oom_run_every_mode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * l2_guest.h - the hand-built L2 guest the nested-virtualization tests
 * share (test_nvirt.c, test_soe.c and the tests of every later nested
 * mode), and a recorder of the VM exits a step takes, in order.
 *
 * Layout (the VMM's view, written with gpa_write64(): the frames are
 * backed by the p2m; no shadow page, EPT12, EPT02 or EPT01 entry exists
 * yet):
 *
 *   gfn 0x11  PML4   gfn 0x12  PDPT   gfn 0x13  PD   gfn 0x14  PT
 *   VA_4K + i pages -> gfn 0x100 + i  P|RW|US, i < 15
 *   VA_4K + 15 pages -> gfn 0x14 (the PT itself), P|RW|US
 *
 * Every gfn lies in one 4K table of every EPT and in one 2M chunk.
 */
#ifndef VMMU_TEST_L2_GUEST_H
#define VMMU_TEST_L2_GUEST_H

#include <stdint.h>

#include "../../src/core/vm.h"
#include "../../src/lib/run.h"

#define VA_4K UINT64_C(0x0000555500000000)
#define PG(i) (VA_4K + (uint64_t)(i)*PAGE_SIZE)
#define TBL(g) ((uint64_t)(g) << PAGE_SHIFT)
#define UP (GPTE_P | GPTE_RW | GPTE_US)
#define SENTINEL UINT64_C(0x5a5aa5a5c3c33c3c)
#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Exit reasons as the trace reports them. */
enum {
	PF = EXIT_EXCEPTION,
	VIOL = EXIT_EPT_VIOLATION,
	VMREAD = EXIT_VMREAD,
	RESUME = EXIT_VMRESUME,
	INVEPT = EXIT_INVEPT
};

/* A small audited guest of MODE with walk caches off and HOST_PAGE
 * leaves in the host-side table. */
struct vm_config l2_cfg(const char *mode, enum page_size host_page);
/* vm_create() or fail the test with its message. */
struct vm *l2_mk(const struct vm_config *c);
/* Write the layout above, load its CR3, zero the counters, enter user
 * mode. */
void l2_build_tables(struct vm *vm);

/* The VM exits of a step, in order. */
#define L2_SEQ_MAX 64
struct l2_seq {
	int n;
	int reason[L2_SEQ_MAX];
};

/* Record vm's exits into s from now on (replaces vm's trace hook). */
void l2_seq_attach(struct vm *vm, struct l2_seq *s);
/* Fail the test unless s holds exactly want[0..n-1], in order. */
void l2_seq_expect(const struct l2_seq *s, const int *want, int n);

/* L2's first touch: a VM of c with the layout above (l2_mk(),
 * l2_build_tables()) stores SENTINEL to PG(0) while attach (NULL:
 * l2_seq_attach()) records its exits into s, emptied first; the recorder
 * is detached after. Returns the VM. */
struct vm *l2_first_touch(const struct vm_config *c, struct l2_seq *s,
			  void (*attach)(struct vm *vm, struct l2_seq *s));

/* Fail the test unless the mode's full audit passes, naming what failed. */
void l2_audit_clean(struct vm *vm);

/* Run workload wl under c (p: its parameters, NULL for the workload's
 * defaults) into r, or fail the test with the run's error. */
void l2_run(const struct vm_config *c, const char *wl, const struct wl_params *p,
	    struct run_result *r);

/* Run the vmmu binary built beside the test binary (argv0 is the test's
 * argv[0]) with args (NULL-terminated, without the program name); stdout
 * is discarded, stderr goes to err (len bytes, NUL-terminated). Returns
 * the exit status; fails the test when the binary is missing or ends by
 * a signal. */
int l2_cli(const char *argv0, const char *const *args, char *err, size_t len);

#endif

/*
 * hypercall.h - the paravirtual call interface between a guest kernel and a
 * paravirtual MMU mode: the argument formats of the calls (Xen's public
 * interface, xen/include/public/xen.h, names and numbers kept) and
 * cpu_hypercall(), the vCPU's trap into the hypervisor (a SYSCALL to Xen on
 * a 64-bit PV guest, a VMCALL on a hardware guest).
 *
 * A guest kernel that runs paravirtualized (vm->mmu->paravirt) never stores
 * to its page tables and never executes MOV to CR3, INVLPG or a TLB flush:
 * it asks the hypervisor with these calls. Core forwards a call to the
 * mode's hypercall hook and never interprets it.
 *
 * Invariants:
 *   - a call returns 0 or a negative error (-PV_E*); a multicall returns 0
 *     and leaves each entry's own result in its 'result' field;
 *   - machine addresses in the arguments are host-physical (the guest got
 *     them from the p2m table the hypervisor gave it, vm->p2m).
 */
#ifndef VMMU_HYPERCALL_H
#define VMMU_HYPERCALL_H

#include "types.h"

struct vcpu;

/* Hypercall numbers, as Xen numbers them (__HYPERVISOR_*). */
enum hypercall_nr {
	HYPERVISOR_mmu_update = 1,
	HYPERVISOR_multicall = 13,
	HYPERVISOR_mmuext_op = 26,
};

/* Errors (negative returns), Xen's errno values. */
#define PV_EPERM 1   /* the frame is not the guest's */
#define PV_EINVAL 22 /* the update breaks a type rule (e.g. a writable page table) */
#define PV_ENOSYS 38 /* the mode takes no hypercalls */

/* One page-table update: ptr is the machine address of the entry (low two
 * bits MMU_NORMAL_PT_UPDATE), val the new entry, holding machine frames. */
#define MMU_NORMAL_PT_UPDATE 0
struct mmu_update {
	uint64_t ptr;
	uint64_t val;
};

/* Extended MMU operations (struct mmuext_op). arg is a machine frame
 * number for pin, unpin and new base, a linear address for INVLPG. */
enum mmuext_cmd {
	MMUEXT_PIN_L1_TABLE = 0,
	MMUEXT_PIN_L2_TABLE = 1,
	MMUEXT_PIN_L3_TABLE = 2,
	MMUEXT_PIN_L4_TABLE = 3,
	MMUEXT_UNPIN_TABLE = 4,
	MMUEXT_NEW_BASEPTR = 5,
	MMUEXT_TLB_FLUSH_LOCAL = 6,
	MMUEXT_INVLPG_LOCAL = 7,
	/* vmmu's extension, not Xen's: Xen has no 5-level PV guests and no
	 * such command. It pins a 5-level guest's root with the L4 rules
	 * applied one level up; 32 is outside Xen's numbers (0 ... 20). */
	MMUEXT_PIN_L5_TABLE = 32,
};
struct mmuext_op {
	unsigned cmd;
	uint64_t arg;  /* mfn, or linear address */
	uint64_t arg2; /* NEW_BASEPTR: the CR3 low bits (PCID) and bit 63 (no flush);
			* TLB_FLUSH_LOCAL: 1 = all PCIDs and globals */
};

/* One call of a multicall (struct multicall_entry). */
struct multicall_entry {
	unsigned op;	/* HYPERVISOR_mmu_update or HYPERVISOR_mmuext_op */
	void *args;	/* array of struct mmu_update or struct mmuext_op */
	unsigned count; /* elements of args */
	long result;
};

/*
 * Trap into the hypervisor with call nr on 'count' elements of args.
 * Returns the mode's result, or -PV_ENOSYS when the mode takes no
 * hypercalls. Caller's duty: the vCPU is in kernel mode.
 */
long cpu_hypercall(struct vcpu *v, unsigned nr, void *args, unsigned count);

#endif
